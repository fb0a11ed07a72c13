//! Go's `checkdead` for the work-stealing runtime: when every goroutine is blocked for good,
//! end the run with `all goroutines are asleep - deadlock!` and a goroutine dump, instead of
//! hanging silently.
//!
//! **When.** The run is deadlocked when every worker is asleep (none runs a goroutine, none
//! searches for work), no goroutine is queued, no timer is armed or firing, and main has not
//! returned. That state must moreover *last* for a grace period ([`GRACE`]): threads outside the
//! runtime can wake goroutines (a `std::thread` sending on a goweave channel or unlocking a
//! goweave mutex), and the runtime cannot see them coming.
//!
//! **Where.** The check lives in the sleep path, so that it costs nothing on the hot paths
//! (spawn, park/unpark, the worker loop): `Idle` keeps the number of sleeping workers and a
//! wake generation in one word, which `prepare_sleep`/`finish_sleep` already update with one
//! atomic add each. The worker whose `prepare_sleep` makes everyone asleep (the last to fall
//! asleep) sleeps with a timeout of [`GRACE`] instead of indefinitely, then asks
//! `Idle::verify_quiet` whether the word is still the one it saw (nobody woke since), no timer
//! is pending and no queue holds work:
//! - yes: report (below);
//! - a timer is pending: sleep another grace period and look again (a timer that fires without
//!   waking anything, such as an unread `time::after`, is no reason to wait for ever);
//! - something woke or is about to: sleep without a timeout. Whichever worker falls asleep last
//!   next time takes over the watch.
//!
//! An idle runtime therefore burns no CPU: with no timer pending it is either deadlocked
//! (reported after one grace period) or waiting for an outside thread (the watch is off, see
//! below); with a timer pending, one worker wakes once per grace period until the timer fires.
//!
//! **Outside threads.** A wake-up that comes from outside the runtime's own threads (its
//! workers, which also fire its timers), that is, `unpark` from a `std::thread` or from another runtime's
//! worker, or a timer armed from outside, turns the check off for the rest of the run: such a
//! program may legitimately wait on an outside thread for any time. Before the first such
//! wake-up nothing tells the runtime that an outside thread holds a handle, so an outside
//! thread that first wakes a goroutine more than [`GRACE`] after every goroutine blocked is
//! taken for a deadlock; programs built that way turn the check off with
//! [`Builder::deadlock_check(false)`](crate::runtime::Builder::deadlock_check).
//!
//! **Report.** The watcher claims the run (a compare-and-swap that an outside wake-up racing
//! with it may win instead), takes the goroutine dump while every goroutine is still parked,
//! renders it exactly like the controlled executor's deadlock verdict (`report.rs`), and shuts
//! the runtime down like an unrecovered panic does: every worker tears its goroutines down,
//! then `block_on` panics with the report.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::idle::Quiet;
use super::Shared;
use crate::runtime::executor::controlled::Verdict;

/// How long every goroutine must stay blocked, with nothing pending, before the run is declared
/// deadlocked.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// The check is on and nothing has been reported.
const ARMED: u8 = 0;
/// The check is off: by the builder, or after a wake-up from outside the runtime.
const OFF: u8 = 1;
/// A deadlock was reported; the runtime is shutting down.
const REPORTED: u8 = 2;

/// The deadlock check's state for one run.
pub(crate) struct Watch {
    state: AtomicU8,
    /// The report, for `block_on` to panic with.
    report: Mutex<Option<String>>,
}

impl Watch {
    pub(crate) fn new(enabled: bool) -> Watch {
        Watch {
            state: AtomicU8::new(if enabled { ARMED } else { OFF }),
            report: Mutex::new(None),
        }
    }

    /// True while the check is on.
    pub(crate) fn armed(&self) -> bool {
        self.state.load(Ordering::Relaxed) == ARMED
    }

    /// A goroutine is being woken from outside the runtime's threads: turn the check off for
    /// good, before the wake-up is visible (unless a report already won).
    pub(crate) fn outside_wake(&self) {
        if self.armed() {
            let _ = self
                .state
                .compare_exchange(ARMED, OFF, Ordering::SeqCst, Ordering::Relaxed);
        }
    }

    /// Claim the right to report; false if the check was turned off (or claimed) meanwhile.
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(ARMED, REPORTED, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    }

    /// The deadlock report, if one was made.
    pub(crate) fn take_report(&self) -> Option<String> {
        self.report.lock().unwrap().take()
    }
}

impl Shared {
    /// Worker `i`, the last to fall asleep, sleeps while watching for a deadlock. Returns when
    /// it is woken (by work or shutdown), when `timer` (the deadline it watches for the timers,
    /// ns) comes, or after it reported a deadlock (which shut down the runtime).
    pub(crate) fn sleep_watching(&self, i: usize, timer: Option<u64>) {
        loop {
            let snap = self.idle.snapshot();
            let mut timeout = GRACE;
            if let Some(deadline) = timer {
                let now = super::timers::as_ns(super::real_now());
                if deadline <= now {
                    // This worker watches the timers too: fire the due one.
                    return;
                }
                timeout = timeout.min(Duration::from_nanos(deadline - now));
            }
            if self.idle.sleep_timeout(i, timeout) {
                return;
            }
            if !self.watch.armed() || self.is_shutdown() {
                break;
            }
            let verdict =
                self.idle
                    .verify_quiet(snap, || self.timers.is_idle(), || self.queues_empty());
            match verdict {
                Quiet::TimersPending => continue,
                Quiet::Activity => break,
                Quiet::Deadlock => {
                    if self.watch.claim() {
                        self.report_deadlock();
                        return;
                    }
                    break;
                }
            }
        }
        match timer {
            Some(deadline) => {
                let now = super::timers::as_ns(super::real_now());
                if deadline > now {
                    self.idle
                        .sleep_timeout(i, Duration::from_nanos(deadline - now));
                }
            }
            None => self.idle.sleep(i),
        }
    }

    /// True if no queue holds a goroutine. Every worker is asleep, so their private queues
    /// (`run_next`, `ready`, `joiners`) are empty: a worker only sleeps once it found them
    /// empty.
    fn queues_empty(&self) -> bool {
        self.injector.is_empty()
            && self
                .remotes
                .iter()
                .all(|r| r.inbox.is_empty() && r.stealer.is_empty() && !r.slot.is_occupied())
    }

    /// Dump every goroutine, keep the report for `block_on`, and shut the runtime down.
    fn report_deadlock(&self) {
        let (_, text) = crate::report::verdict_report(&Verdict::Deadlock(self.goroutines()));
        *self.watch.report.lock().unwrap() = Some(text.trim_end().to_string());
        self.begin_shutdown();
    }
}
