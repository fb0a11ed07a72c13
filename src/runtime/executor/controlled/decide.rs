//! Scheduling points: counting steps, asking the strategy, recording its answer, committing
//! events to the trace.
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::CANCEL_CHECK_STEPS;
use super::{bad_index, dump_all, Controlled, State, QUIESCE_STEPS};
use crate::explore::{Decision, Note, Pending, ValueDecision};
use crate::runtime::context;
use crate::runtime::coroutine::{self, Request};
use crate::runtime::goroutine::G;
use crate::schedule::{fingerprint_step, Choice, FINGERPRINT_EVENTS};
use crate::verdict::probe::{Probe, WouldBlock};
use crate::verdict::{Event, ObjId, Op, TraceEntry, Verdict};

impl Controlled {
    /// Ask the strategy to choose among `st.runnable` and, if `time` is set, letting time pass
    /// (two or more options), and record the answer: an index into `runnable`, or
    /// `runnable.len()` for time. `None` if the strategy aborted the run (the verdict is then
    /// set). `running`: `current` is known to be runnable (it is the goroutine deciding at its
    /// own scheduling point). (Always inlined: as a call it spent a fifth of a by-count decision saving and
    /// restoring registers.)
    #[inline(always)]
    pub(super) fn decide(
        st: &mut State,
        current: Option<u64>,
        running: bool,
        yielded: bool,
        time: Option<Duration>,
    ) -> Option<usize> {
        let i = if st.by_count {
            // Nothing but the count is read: no `Decision` to build, and no abort to check.
            st.woken.clear();
            st.strategy
                .pick_by_count(st.ids.len() + time.is_some() as usize)
        } else {
            let d = Decision::full(
                &st.ids,
                current,
                st.steps,
                yielded,
                st.schedule.len() as u64,
                &st.pending,
                &st.probes,
                time.map(|t| (t, st.stall.stall_at(t))),
                &st.woken,
            );
            let i = st.strategy.pick_goroutine(&d);
            let aborted = d.take_abort();
            st.woken.clear();
            if let Some(reason) = aborted {
                Self::abort(st, reason);
                return None;
            }
            i
        };
        if i == st.ids.len() && time.is_some() {
            st.schedule.push(Choice::Time);
            return Some(i);
        }
        if i >= st.ids.len() {
            bad_index(i, st.ids.len() + time.is_some() as usize);
        }
        let chosen = st.ids[i];
        // A preemption: the goroutine at the scheduling point could have gone on. (At a
        // goroutine's own scheduling point it is running, so it is in `ids`: no search.)
        if let (Some(c), false) = (current, yielded) {
            if c != chosen && (running || st.ids.binary_search(&c).is_ok()) {
                st.preemptions += 1;
                st.preempted = current;
            }
        }
        st.schedule.push(Choice::Goroutine(chosen));
        Some(i)
    }

    /// The strategy ended the run (kept out of line: the decision path stays small).
    #[cold]
    #[inline(never)]
    pub(super) fn abort(st: &mut State, reason: String) {
        let step = st.steps;
        st.verdict
            .get_or_insert(Verdict::Nondeterminism { step, reason });
    }

    /// Past the step bound: a livelock, or while quiescing after main returned, a leak (the
    /// others spin forever). Called with no verdict yet, past `max_steps` or while quiescing
    /// (so out of line: the hot path is the comparison in front of the call).
    #[cold]
    pub(super) fn check_bounds(&self, st: &mut State) {
        if let Some((since, _)) = st.quiesce {
            if st.steps - since > QUIESCE_STEPS {
                st.verdict = Some(Verdict::Leak(dump_all(st)));
            }
        } else if st.steps > self.cfg.max_steps {
            st.verdict = Some(Verdict::Livelock {
                max_steps: self.cfg.max_steps,
                goroutines: dump_all(st),
            });
        }
    }

    /// Count an announced scheduling point; flag a livelock past the bound. True if the run
    /// has a verdict (it stops, unless `stops` sets a race aside).
    #[inline(always)]
    pub(super) fn step(&self, st: &mut State, g: &G, ev: Event) -> bool {
        st.steps += 1;
        self.monitor.note(g, ev.site);
        if st.steps.is_multiple_of(CANCEL_CHECK_STEPS) {
            self.check_cancel(st);
        }
        if st.verdict.is_none() && (st.quiesce.is_some() || st.steps > self.cfg.max_steps) {
            self.check_bounds(st);
        }
        st.verdict.is_some()
    }

    /// End the run if its deadline has passed or the checker is stopping.
    #[cold]
    #[inline(never)]
    fn check_cancel(&self, st: &mut State) {
        if st.verdict.is_some() {
            return;
        }
        let why = if self.monitor.stopping() {
            "the checker was stopped"
        } else if self.cfg.deadline.is_some_and(|d| Instant::now() >= d) {
            "its time ran out"
        } else {
            return;
        };
        st.cancelled = true;
        let step = st.steps;
        st.verdict = Some(Verdict::Nondeterminism {
            step,
            reason: format!("cancelled: {why}"),
        });
    }

    /// `g` goes on to perform `ev` now: fingerprint it and trace it.
    #[inline]
    pub(super) fn commit(&self, st: &mut State, g: &G, ev: Event) {
        st.commits += 1;
        if st.commits <= FINGERPRINT_EVENTS {
            st.fingerprint = fingerprint_step(st.fingerprint, ev.op as u8, g.id);
        }
        let preempted = st.preempted.take();
        // The operation happens now: its probe's frame may go away from here on. (A strategy
        // that picks by count is never shown one: every probe stays `None`.)
        if !st.by_count {
            st.probes[g.id as usize] = None;
        }
        if st.notes {
            st.strategy.note(Note::Commit(g.id, ev));
        }
        if self.cfg.trace {
            st.trace.push(TraceEntry {
                step: st.trace.len() as u64 + 1,
                goroutine: g.id,
                event: ev,
                preempted,
                task: g.task,
            });
        }
    }

    pub(crate) fn sched_point(&self, ev: Event, probe: Option<&dyn WouldBlock>) {
        let gp = context::current_ptr();
        if gp.is_null() {
            return;
        }
        // SAFETY: the running goroutine is kept alive by `State::all` while it runs.
        let g = unsafe { &*gp };
        if g.torn_down.load(Ordering::Acquire) {
            return;
        }
        if crate::runtime::unwind::unwinding(g) {
            // Never switched out mid-unwind (see `runtime::unwind`): counted and traced only.
            let mut st = self.st.borrow_mut();
            self.step(&mut st, g, ev);
            return self.commit(&mut st, g, ev);
        }
        // Loading the same atomic where the previous scheduling point was: a spin.
        let same_site = ev.op == Op::AtomicLoad && std::ptr::eq(g.site(), ev.site);
        g.set_site(ev.site);
        let switch = {
            let mut st = self.st.borrow_mut();
            let spin = same_site && st.last_load == (g.id, ev.obj.0);
            if ev.op == Op::AtomicLoad {
                st.last_load = (g.id, ev.obj.0);
            }
            let hinted = st.hint.take().is_some();
            let yielded = spin || hinted;
            let now = st.now;
            st.stall.decided(g.id, yielded, now);
            if self.step(&mut st, g, ev) && Self::stops(&mut st) {
                true
            } else {
                let time = self.time_option(&mut st);
                let switch = if st.ids.len() > 1 || time.is_some() {
                    // Only a `Decision` shows them: a strategy that picks by count never sees
                    // one, so they are left as they are (every probe stays `None`).
                    if !st.by_count {
                        let since = st.steps;
                        st.pending[g.id as usize] = Pending { event: ev, since };
                        // `probe` lives in this goroutine's frame, below this call, suspended
                        // until `commit` (here or after the switch) drops it; a goroutine torn
                        // down while suspended here never runs again, so its stale probe is
                        // never asked.
                        st.probes[g.id as usize] = probe.map(|p| {
                            // SAFETY: the probe outlives its uses, as above (see
                            // `verdict::probe`).
                            unsafe { Probe::new(p) }
                        });
                    }
                    Self::decide_at(&mut st, g, yielded, time)
                } else {
                    false
                };
                if !switch {
                    self.commit(&mut st, g, ev);
                }
                switch
            }
        };
        if switch {
            coroutine::suspend(g, Request::Switch);
            // Resumed by the strategy's choice: the announced event happens now.
            let mut st = self.st.borrow_mut();
            self.commit(&mut st, g, ev);
        }
    }

    /// `gosched` by the running goroutine `g`: the strategy decides right here, on `g`'s
    /// stack, with the decision marked as a yield. True if `g` must suspend (another goroutine,
    /// or time, goes next, or the run is over); when the strategy lets `g` go on, it does so
    /// without a switch. (Deciding in the scheduler loop instead gives the same decision and
    /// record, but costs two stack switches per `gosched`.)
    pub(crate) fn yield_point(&self, g: &G) -> bool {
        let mut st = self.st.borrow_mut();
        st.hint = None;
        st.stall.blocked(g.id);
        let ev = Event::new(Op::Yield, ObjId(0), g.site());
        if self.step(&mut st, g, ev) && Self::stops(&mut st) {
            return true;
        }
        let since = st.steps;
        st.pending[g.id as usize] = Pending { event: ev, since };
        self.commit(&mut st, g, ev);
        let time = self.time_option(&mut st);
        if st.ids.len() <= 1 && time.is_none() {
            return false;
        }
        Self::decide_at(&mut st, g, true, time)
    }

    /// The strategy decides at the scheduling point of `g`, the running goroutine, and the
    /// decision is set up: true if `g` must switch out (to the chosen goroutine, or to the
    /// scheduler to let time pass, or because the run is over), false if `g` goes on.
    /// (Always inlined: as a call, saving and restoring registers cost a third of it.)
    #[inline(always)]
    pub(super) fn decide_at(st: &mut State, g: &G, yielded: bool, time: Option<Duration>) -> bool {
        match Self::decide(st, Some(g.id), true, yielded, time) {
            None => true,
            Some(i) if i == st.ids.len() => {
                // Timers fire on the scheduler's stack: switch there first. A goroutine that
                // could have gone on stays the one at this point for the decision that follows.
                st.pass_time = true;
                st.interrupted = (!yielded).then_some(g.id);
                true
            }
            Some(i) if st.ids[i] != g.id => {
                st.switch_to = Some(Arc::as_ptr(&st.runnable[i]));
                true
            }
            Some(_) => false,
        }
    }

    /// The running goroutine's non-blocking operation failed: it is polling, so its next
    /// decision counts as a yield.
    pub(crate) fn yield_hint(&self) {
        if let Some(id) = context::with_current(|g| g.map(|g| g.id)) {
            self.st.borrow_mut().hint = Some(id);
        }
    }

    pub(crate) fn random_below(&self, n: u64) -> u64 {
        let gid = context::with_current(|g| g.map_or(0, |g| g.id));
        let aborted = {
            let mut st = self.st.borrow_mut();
            if st.by_count && n >= 2 && usize::try_from(n).is_ok() {
                let v = st.strategy.pick_by_count(n as usize) as u64;
                assert!(v < n, "goweave: strategy chose value {v} of {n}");
                st.schedule.push(Choice::Value(v));
                return v;
            }
            let d = ValueDecision::new(n, gid, st.steps, st.schedule.len() as u64);
            let v = st.strategy.pick_value(&d);
            match d.take_abort() {
                None => {
                    assert!(v < n, "goweave: strategy chose value {v} of {n}");
                    st.schedule.push(Choice::Value(v));
                    return v;
                }
                Some(reason) => {
                    let step = st.steps;
                    st.verdict
                        .get_or_insert(Verdict::Nondeterminism { step, reason });
                    true
                }
            }
        };
        let gp = context::current_ptr();
        if aborted && !gp.is_null() {
            // SAFETY: as in `sched_point`. The run is over: the scheduler tears us down.
            coroutine::suspend(unsafe { &*gp }, Request::Switch);
        }
        0
    }
}
