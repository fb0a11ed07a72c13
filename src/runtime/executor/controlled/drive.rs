//! The scheduler loop, and the teardown of what is left when a run ends.
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{dump_all, Controlled, G, QUIESCE_WINDOW};
use crate::explore::Note;
use crate::runtime::context::CurrentGuard;
use crate::runtime::coroutine::{self, Exit, Request, Step};
use crate::runtime::goroutine::{self, Status};
use crate::verdict::Verdict;

impl Controlled {
    /// The scheduler loop: resume goroutines until main returns or the run fails.
    pub(super) fn drive(&self) {
        loop {
            // A pointer, not a new `GRef`: `all` keeps the goroutine alive until it finishes,
            // which saves two atomic reference-count updates per switch.
            let (next, notes): (Option<*const G>, bool) = {
                let mut st = self.st.borrow_mut();
                if (st.verdict.is_some() && Self::stops(&mut st))
                    || (st.main_done && st.quiesce.is_none())
                {
                    return;
                }
                if std::mem::take(&mut st.pass_time) {
                    drop(st);
                    self.let_time_pass();
                    continue;
                }
                let next = match st.switch_to.take() {
                    Some(g) => Some(g),
                    None => {
                        let time = self.time_option(&mut st);
                        match (st.runnable.len(), time) {
                            (0, _) => None,
                            (1, None) => Some(Arc::as_ptr(&st.runnable[0])),
                            _ => {
                                let current = st.interrupted;
                                match Self::decide(&mut st, current, false, false, time) {
                                    None => return,
                                    Some(i) if i == st.ids.len() => {
                                        drop(st);
                                        self.let_time_pass();
                                        continue;
                                    }
                                    Some(i) => Some(Arc::as_ptr(&st.runnable[i])),
                                }
                            }
                        }
                    }
                };
                st.interrupted = None;
                (next, st.notes)
            };
            let Some(gp) = next else {
                if self.let_time_pass() {
                    continue;
                }
                let mut st = self.st.borrow_mut();
                if st.main_done && st.live == 0 {
                    // The usual end of a run: nothing left to report.
                    return;
                }
                let dump = dump_all(&st);
                st.verdict = Some(if st.main_done {
                    // Everything left is blocked for good: leaked (a partial deadlock, or a
                    // goroutine nobody will ever wake).
                    if dump.is_empty() {
                        return;
                    }
                    Verdict::Leak(dump)
                } else {
                    Verdict::Deadlock(dump)
                });
                return;
            };
            // SAFETY: `gp` points at a goroutine in `all` (it is runnable), and the `Arc` made
            // here never drops its count; the goroutine leaves `all` only below, after which
            // `finished` keeps it alive to the end of this iteration.
            let g = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(gp) });
            let mut finished = None;
            g.set_status(Status::Running);
            self.monitor.note(&g, g.site());
            if notes {
                self.st.borrow_mut().strategy.note(Note::Run(g.id));
            }
            let step = {
                let _running = CurrentGuard::enter(&g);
                coroutine::resume_inline(&g)
            };
            self.monitor.current.store(0, Ordering::Relaxed);
            match step {
                Step::Suspended(req @ (Request::Park(_) | Request::ParkTask)) => {
                    {
                        let mut st = self.st.borrow_mut();
                        g.set_status(Status::Waiting);
                        st.hint = None;
                        if st.notes {
                            st.strategy.note(Note::Park(g.id));
                        }
                        Self::remove_runnable(&mut st, g.id);
                    }
                    match req {
                        // SAFETY: the closure lives on the parked goroutine's stack, which stays
                        // suspended (and so alive) until someone unparks it after this call.
                        Request::Park(unlock) => unsafe { (*unlock)() },
                        // (Tasks here run on stacks and park with `Park`; kept for symmetry.)
                        _ => crate::task::parked(&g),
                    }
                }
                // `gosched` decides in place (`yield_point`) and suspends with `Switch`.
                Step::Suspended(Request::Yield | Request::Switch) => g.set_status(Status::Runnable),
                Step::Finished(exit) => {
                    g.set_status(Status::Dead);
                    crate::runtime::hb::exited(g.id);
                    let mut st = self.st.borrow_mut();
                    st.hint = None;
                    if st.notes {
                        st.strategy.note(Note::Exit(g.id));
                    }
                    finished = st.all[g.id as usize].take();
                    st.live -= 1;
                    Self::remove_runnable(&mut st, g.id);
                    if g.id == 1 {
                        st.main_done = true;
                        if self.cfg.leak_check {
                            st.quiesce = Some((st.steps, st.now.saturating_add(QUIESCE_WINDOW)));
                        }
                    }
                    if let Exit::Panicked(report) = exit {
                        if st.verdict.is_none() {
                            st.verdict = Some(Verdict::Panic(report));
                        }
                    }
                }
            }
            // Last use of `g`'s record in this iteration.
            if let Some(done) = finished {
                goroutine::recycle(done);
            }
        }
    }

    /// `advance_time`, told to a strategy that follows the schedule (`Note::Time`) before
    /// the timers' callbacks run, so that what they wake belongs to the time step.
    fn let_time_pass(&self) -> bool {
        {
            let mut st = self.st.borrow_mut();
            if st.notes && st.timers.next_deadline().is_some() {
                st.strategy.note(Note::Time);
            }
        }
        self.advance_time()
    }

    /// Force-unwind every goroutine still alive, in id order.
    pub(super) fn tear_down_all(&self) {
        // A goroutine's unwinding cannot create goroutines with smaller ids than those left
        // (ids only grow), so one pass upwards meets every one: O(goroutines), where looking
        // for the first one left each time was quadratic (minutes for 100k leaked ones).
        let mut from = 0;
        loop {
            let next = {
                let mut st = self.st.borrow_mut();
                st.runnable.clear();
                st.ids.clear();
                st.switch_to = None;
                let first = st.all[from..].iter().position(Option::is_some);
                first.and_then(|i| {
                    from += i;
                    st.all[from].take()
                })
            };
            let Some(g) = next else { break };
            // Visible progress for the watchdog: tearing down many goroutines takes a while.
            self.monitor.progress.fetch_add(1, Ordering::Relaxed);
            let abandoned = {
                let _running = CurrentGuard::enter(&g);
                coroutine::tear_down(&g)
            };
            if let Some(report) = abandoned {
                self.st
                    .borrow_mut()
                    .verdict
                    .get_or_insert(Verdict::Panic(report));
            }
            g.set_status(Status::Dead);
            goroutine::recycle(g);
        }
        // Timers may hold channels that hold goroutines; drop them now. (A run that never
        // armed one has nothing to drop or reset: dropping the empty map still walks it.)
        let mut st = self.st.borrow_mut();
        if !st.timers.never_armed() {
            let timers = std::mem::take(&mut st.timers);
            drop(st);
            drop(timers);
        }
    }
}
