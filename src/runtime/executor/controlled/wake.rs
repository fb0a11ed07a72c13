//! Waiter choices: which of several goroutines waiting on a lock, semaphore or condition
//! variable a release wakes (see `explore::ValueDecision`'s "Waiter choices").
//!
//! The choice is asked inside the primitive's release, with its queue lock held, so it must
//! never switch goroutines: a strategy that aborts here sets the verdict and gets the FIFO
//! answer, and the run ends at the releasing goroutine's next scheduling point.

use super::{Controlled, State};
use crate::explore::ValueDecision;
use crate::runtime::context;
use crate::schedule::Choice;
use crate::verdict::Verdict;

impl Controlled {
    /// The index into `waiters` (goroutine ids, oldest first, two or more) of the one to wake.
    /// FIFO (0) where no choice may be recorded: the run is over, the releasing goroutine is
    /// unwinding (teardown), or the scheduler itself is busy (a release from a timer callback
    /// while it holds the state).
    pub(crate) fn pick_waiter(&self, waiters: &[u64]) -> usize {
        debug_assert!(waiters.len() >= 2);
        match self.waiter_choice() {
            Some((mut st, gid)) => Self::ask_waiter(&mut st, waiters, gid),
            None => 0,
        }
    }

    /// True if the strategy picks from the number of options alone: a waiter choice then needs
    /// only the count ([`pick_waiter_by_count`](Self::pick_waiter_by_count)).
    #[inline]
    pub(crate) fn picks_by_count(&self) -> bool {
        self.by_count
    }

    /// [`pick_waiter`](Self::pick_waiter) among `n` waiters (two or more) for a strategy that
    /// picks by count: the same answer and record, without listing the waiters' ids.
    pub(crate) fn pick_waiter_by_count(&self, n: usize) -> usize {
        debug_assert!(n >= 2 && self.by_count);
        let Some((mut st, _)) = self.waiter_choice() else {
            return 0;
        };
        let v = st.strategy.pick_by_count(n);
        assert!(v < n, "goweave: strategy chose waiter {v} of {n}");
        st.schedule.push(Choice::Value(v as u64));
        v
    }

    /// The state, and the releasing goroutine's id (0: the scheduler), if a waiter choice may
    /// be recorded now (see [`pick_waiter`](Self::pick_waiter)).
    #[inline]
    fn waiter_choice(&self) -> Option<(std::cell::RefMut<'_, State>, u64)> {
        let st = self.st.try_borrow_mut().ok()?;
        let gp = context::current_ptr();
        let gid = if gp.is_null() {
            0
        } else {
            // SAFETY: the running goroutine is kept alive by `State::all` while it runs.
            let g = unsafe { &*gp };
            if crate::runtime::unwind::unwinding(g) {
                return None;
            }
            g.id
        };
        if st.verdict.is_some() {
            return None;
        }
        Some((st, gid))
    }

    fn ask_waiter(st: &mut State, waiters: &[u64], gid: u64) -> usize {
        let n = waiters.len() as u64;
        if st.by_count {
            // The count is all it reads: no candidates to copy, no decision to build.
            let v = st.strategy.pick_by_count(waiters.len());
            assert!(
                v < waiters.len(),
                "goweave: strategy chose waiter {v} of {n}"
            );
            st.schedule.push(Choice::Value(v as u64));
            return v;
        }
        let mut buf = std::mem::take(&mut st.waiter_buf);
        buf.clear();
        buf.extend_from_slice(waiters);
        let d = ValueDecision::waiter(buf, gid, st.steps, st.schedule.len() as u64);
        let v = st.strategy.pick_value(&d);
        let aborted = d.take_abort();
        st.waiter_buf = d.into_waiters();
        match aborted {
            None => {
                assert!(v < n, "goweave: strategy chose waiter {v} of {n}");
                st.schedule.push(Choice::Value(v));
                v as usize
            }
            Some(reason) => {
                let step = st.steps;
                st.verdict
                    .get_or_insert(Verdict::Nondeterminism { step, reason });
                0
            }
        }
    }
}
