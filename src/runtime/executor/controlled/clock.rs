//! Virtual time: timers, and when the clock may move (see `explore`'s "Time as a choice").
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Controlled, State};
use crate::explore::TimerMode;
use crate::runtime::context;
use crate::runtime::timer::{TimerFn, TimerId};
use crate::verdict::{Event, ObjId, Op, Stall, TraceEntry, Verdict};

impl Controlled {
    /// The deadline time may pass to at a decision now, if letting it pass is an option: a
    /// timer is pending (within the quiesce window, once main has returned), the mode is not
    /// `WhenBlocked`, and under `MaxStall` no goroutine would then have waited longer than the
    /// bound.
    ///
    /// Always inlined, with the rest out of line: it runs at every scheduling point, and with
    /// no timer armed (most points of most programs) the empty heap is the whole answer. Left
    /// to the compiler's choice it was sometimes a call, about 23 instructions a point.
    #[inline(always)]
    pub(super) fn time_option(&self, st: &mut State) -> Option<Duration> {
        if st.timers.none_pending() {
            return None;
        }
        self.time_option_armed(st)
    }

    /// [`time_option`](Self::time_option) with deadlines in the heap.
    #[inline(never)]
    fn time_option_armed(&self, st: &mut State) -> Option<Duration> {
        let deadline = st.timers.next_deadline()?;
        let bound = match self.cfg.timers {
            TimerMode::WhenBlocked => return None,
            TimerMode::AnyTime => None,
            TimerMode::MaxStall(b) => Some(b),
        };
        match st.quiesce {
            Some((_, until)) if deadline > until => return None,
            _ => {}
        }
        match bound {
            Some(b) if st.stall.stall_at(deadline) > b => None,
            _ => Some(deadline),
        }
    }

    /// Note the stall of time passing to `deadline` now, if it is the largest of the run (with
    /// the trace on: which goroutine waited, and where the first timer due was armed).
    fn note_stall(&self, st: &mut State, deadline: Duration) {
        let duration = st.stall.stall_at(deadline);
        if duration.is_zero() || st.stall.worst.is_some_and(|w| w.duration >= duration) {
            return;
        }
        let (goroutine, timer) = if self.cfg.trace {
            (
                st.stall.longest_waiting(&st.ids).unwrap_or(0),
                st.timer_sites.values().next().copied(),
            )
        } else {
            (0, None)
        };
        st.stall.worst = Some(Stall {
            duration,
            goroutine,
            timer,
            at: deadline,
        });
    }

    /// After a livelock: if a timer is pending that `MaxStall` kept from firing, the stall that
    /// letting it fire would have taken. (A goroutine that works without ever blocking or
    /// polling holds the clock back for good.)
    pub(super) fn held_back(&self) -> Option<Stall> {
        let mut st = self.st.borrow_mut();
        let TimerMode::MaxStall(bound) = self.cfg.timers else {
            return None;
        };
        if !matches!(st.verdict, Some(Verdict::Livelock { .. })) {
            return None;
        }
        let deadline = st.timers.next_deadline()?;
        let duration = st.stall.stall_at(deadline);
        (duration > bound).then(|| Stall {
            duration,
            goroutine: st.stall.longest_waiting(&st.ids).unwrap_or(0),
            timer: st.timer_sites.values().next().copied(),
            at: deadline,
        })
    }

    pub(crate) fn now(&self) -> Duration {
        self.st.borrow().now
    }

    pub(crate) fn add_timer(&self, deadline: Duration, f: TimerFn) -> TimerId {
        let mut st = self.st.borrow_mut();
        let now = st.now;
        let State { stall, ids, .. } = &mut *st;
        stall.activate(ids, now);
        let id = st.timers.add(deadline, f);
        if self.cfg.trace {
            // The arming goroutine's latest scheduling point is the timer operation itself. A
            // sleep arms its timer in its unlock step, on the scheduler's stack, right after
            // the goroutine parked: the monitor still holds where that goroutine last was.
            let site = context::with_current(|g| g.map(|g| g.site()))
                .or(st.firing)
                .or_else(|| self.monitor.last_site());
            if let Some(site) = site {
                st.timer_sites.insert((deadline, id.0), site);
            }
        }
        id
    }

    pub(crate) fn cancel_timer(&self, id: TimerId) -> bool {
        let mut st = self.st.borrow_mut();
        let armed = st.timers.cancel(id);
        if armed && self.cfg.trace {
            st.timer_sites.retain(|&(_, seq), _| seq != id.0);
        }
        armed
    }

    /// Move virtual time to the earliest timer and fire everything due then (on the scheduler's
    /// stack). False if no timer is pending (while quiescing: none within the window). Counts
    /// as a step: the run may end as a livelock here.
    pub(super) fn advance_time(&self) -> bool {
        let due = {
            let mut st = self.st.borrow_mut();
            let Some(deadline) = st.timers.next_deadline() else {
                return false;
            };
            if st.quiesce.is_some_and(|(_, until)| deadline > until) {
                return false;
            }
            self.time_step(&mut st);
            self.note_stall(&mut st, deadline);
            st.now = st.now.max(deadline);
            let now = st.now;
            let due = st.timers.pop_due(now);
            let sites = if self.cfg.trace {
                let later = st.timer_sites.split_off(&(now, u64::MAX));
                let fired = std::mem::replace(&mut st.timer_sites, later);
                for &site in fired.values() {
                    let step = st.trace.len() as u64 + 1;
                    st.trace.push(TraceEntry {
                        step,
                        goroutine: 0,
                        event: Event::new(Op::TimerFire, ObjId(0), site),
                        preempted: None,
                        task: false,
                    });
                }
                fired.into_values().collect()
            } else {
                Vec::new()
            };
            (due, sites)
        };
        let (due, sites) = due;
        if sites.is_empty() || sites.len() != due.len() {
            due.into_iter().for_each(|f| f());
            return true;
        }
        for (f, site) in due.into_iter().zip(sites) {
            self.st.borrow_mut().firing = Some(site);
            f();
        }
        self.st.borrow_mut().firing = None;
        true
    }

    /// Count a move of the clock as a step; flag a livelock (or, while quiescing, a leak) past
    /// the bound.
    pub(super) fn time_step(&self, st: &mut State) {
        st.steps += 1;
        let p = self.monitor.progress.load(Ordering::Relaxed);
        self.monitor
            .progress
            .store(p.wrapping_add(1), Ordering::Relaxed);
        if st.verdict.is_none() && (st.quiesce.is_some() || st.steps > self.cfg.max_steps) {
            self.check_bounds(st);
        }
    }
}
