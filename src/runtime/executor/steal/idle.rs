//! Which workers are asleep, and the protocol that wakes them without ever losing a wake-up.
//!
//! A worker going to sleep: `prepare_sleep` (mark itself sleeping, SeqCst fence), re-check every
//! queue, then `sleep` (blocks on its `Parker` unless a token is already there), then
//! `finish_sleep`.
//!
//! A waker: push the work, SeqCst fence, then `wake_worker(i)` (a goroutine woken onto its home
//! worker) or `notify_one` (new stealable work). The two fences order the waker's push against
//! the sleeper's re-check: either the sleeper sees the work, or the waker sees the sleeper and
//! hands it a token (`Parker` keeps a token given before `park`, so the order of `unpark` and
//! `park` does not matter). This protocol is model-checked with loom below.
//!
//! The count of sleeping workers shares one word with a *wake generation* that every
//! `finish_sleep` bumps (one atomic add does both), so the last worker to fall asleep can tell,
//! after a grace period, that nobody has woken in the meantime: see `verify_quiet` and the
//! deadlock check (`deadlock.rs`). The models below also cover that check.

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The low half of `Idle::state`: how many workers are asleep.
const ASLEEP_MASK: u64 = (1 << 32) - 1;
/// Added to `Idle::state` by `finish_sleep`: one sleeper fewer, one wake generation more (the
/// low half is at least 1 there, so nothing borrows from the high half; the generation wraps).
const WAKE: u64 = (1 << 32) - 1;

/// The number of sleeping workers in a `state` word.
fn asleep_in(word: u64) -> usize {
    (word & ASLEEP_MASK) as usize
}

/// A one-token parker (like `std::thread::park`), built on a mutex and a condvar so that loom
/// can model it.
pub(crate) struct Parker {
    /// True while a wake-up token is waiting to be consumed.
    token: Mutex<bool>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            token: Mutex::new(false),
            cvar: Condvar::new(),
        }
    }

    /// Block until a token is available, then consume it.
    pub(crate) fn park(&self) {
        let mut t = self.token.lock().unwrap();
        while !*t {
            t = self.cvar.wait(t).unwrap();
        }
        *t = false;
    }

    /// Block until a token is available (then consume it and return true) or until `timeout`
    /// has passed (false). Under loom, time is not modelled: the timeout may expire at once,
    /// which loom explores against every interleaving of the other threads.
    pub(crate) fn park_timeout(&self, timeout: Duration) -> bool {
        let mut t = self.token.lock().unwrap();
        #[cfg(not(loom))]
        {
            let deadline = std::time::Instant::now() + timeout;
            while !*t {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return false;
                }
                t = self.cvar.wait_timeout(t, deadline - now).unwrap().0;
            }
        }
        #[cfg(loom)]
        {
            let _ = timeout;
            if !*t {
                return false;
            }
        }
        *t = false;
        true
    }

    /// Leave a token, waking the parked thread if there is one.
    pub(crate) fn unpark(&self) {
        let mut t = self.token.lock().unwrap();
        if !*t {
            *t = true;
            drop(t);
            self.cvar.notify_one();
        }
    }
}

/// One worker's sleep state.
pub(crate) struct Sleeper {
    /// True from `prepare_sleep` to `finish_sleep`.
    sleeping: AtomicBool,
    parker: Parker,
}

/// What the last sleeper found when it looked again after a grace period (`verify_quiet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quiet {
    /// Everything stayed asleep, nothing is queued and no timer is pending.
    Deadlock,
    /// Everything stayed asleep and nothing is queued, but a timer is pending: look again later.
    TimersPending,
    /// A worker woke up, or work is on its way to one: it will check when it is the last to
    /// fall asleep again.
    Activity,
}

/// The sleep state of every worker.
pub(crate) struct Idle {
    sleepers: Box<[Sleeper]>,
    /// Low half: how many workers are between `prepare_sleep` and `finish_sleep`. High half:
    /// how many `finish_sleep` calls there have been (wrapping), so that equal words a while
    /// apart mean that no worker woke in between.
    state: AtomicU64,
    /// How many workers are spinning in search of work (they need no wake-up).
    searching: AtomicUsize,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Idle {
        Idle {
            sleepers: (0..workers)
                .map(|_| Sleeper {
                    sleeping: AtomicBool::new(false),
                    parker: Parker::new(),
                })
                .collect(),
            state: AtomicU64::new(0),
            searching: AtomicUsize::new(0),
        }
    }

    /// Worker `i` starts spinning for work.
    pub(crate) fn start_search(&self) {
        self.searching.fetch_add(1, Ordering::SeqCst);
    }

    /// Worker `i` stops spinning (it found work or will sleep).
    pub(crate) fn end_search(&self) {
        self.searching.fetch_sub(1, Ordering::SeqCst);
    }

    /// Worker `i` announces it is about to sleep. It must re-check its queues afterwards.
    /// Returns true if it is the last worker to fall asleep (every other one sleeps already).
    pub(crate) fn prepare_sleep(&self, i: usize) -> bool {
        self.sleepers[i].sleeping.store(true, Ordering::SeqCst);
        let before = self.state.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        asleep_in(before) + 1 == self.sleepers.len()
    }

    /// Worker `i` blocks until woken.
    pub(crate) fn sleep(&self, i: usize) {
        self.sleepers[i].parker.park();
    }

    /// Worker `i` blocks until woken (true) or until `timeout` has passed (false).
    pub(crate) fn sleep_timeout(&self, i: usize, timeout: Duration) -> bool {
        self.sleepers[i].parker.park_timeout(timeout)
    }

    /// Worker `i` is awake again.
    pub(crate) fn finish_sleep(&self, i: usize) {
        self.sleepers[i].sleeping.store(false, Ordering::SeqCst);
        self.state.fetch_add(WAKE, Ordering::SeqCst);
    }

    /// The sleep state now, to compare with a later one in `verify_quiet`.
    pub(crate) fn snapshot(&self) -> u64 {
        self.state.load(Ordering::SeqCst)
    }

    /// Called by a sleeping worker some time after `snapshot` returned `snap`: is the runtime
    /// still quiet? `Deadlock` means that every worker has been asleep all along (none woke
    /// since `snap`), that no timer is pending or firing (`timers_idle`), and that no queue
    /// holds work (`queues_empty`).
    ///
    /// The order of the checks is what makes a `Deadlock` verdict sound. `timers_idle` comes
    /// first: it takes the timer lock, which a firing timer holds again only after its callbacks
    /// pushed their goroutines, so those pushes are visible to `queues_empty`. The word is read
    /// again last: a worker that took such work off a queue called `finish_sleep` before, so the
    /// word has changed.
    pub(crate) fn verify_quiet(
        &self,
        snap: u64,
        timers_idle: impl FnOnce() -> bool,
        queues_empty: impl FnOnce() -> bool,
    ) -> Quiet {
        let all_asleep = |w: u64| w == snap && asleep_in(w) == self.sleepers.len();
        if !all_asleep(self.state.load(Ordering::SeqCst)) {
            return Quiet::Activity;
        }
        if !timers_idle() {
            return Quiet::TimersPending;
        }
        if !queues_empty() {
            return Quiet::Activity;
        }
        fence(Ordering::SeqCst);
        if !all_asleep(self.state.load(Ordering::SeqCst)) {
            return Quiet::Activity;
        }
        Quiet::Deadlock
    }

    /// Work was pushed for worker `i` specifically: wake it if it sleeps.
    pub(crate) fn wake_worker(&self, i: usize) {
        fence(Ordering::SeqCst);
        if self.sleepers[i].sleeping.load(Ordering::SeqCst) {
            self.sleepers[i].parker.unpark();
        }
    }

    /// Stealable work was pushed: make sure some worker will look for it.
    pub(crate) fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::SeqCst) > 0
            || asleep_in(self.state.load(Ordering::SeqCst)) == 0
        {
            return;
        }
        for s in self.sleepers.iter() {
            if s.sleeping.load(Ordering::SeqCst) {
                s.parker.unpark();
                return;
            }
        }
    }

    /// Wake everyone (shutdown).
    pub(crate) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        for s in self.sleepers.iter() {
            s.parker.unpark();
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" cargo test --release --lib idle::loom_tests`
    use super::*;
    use loom::sync::atomic::AtomicUsize as LAtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// A goroutine woken onto a worker's inbox is never lost while that worker goes to sleep.
    #[test]
    fn targeted_wake_is_never_lost() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(1));
            let inbox = Arc::new(LAtomicUsize::new(0));
            let (i2, q2) = (idle.clone(), inbox.clone());
            let waker = thread::spawn(move || {
                q2.fetch_add(1, Ordering::Relaxed);
                i2.wake_worker(0);
            });
            // The worker: run until it has consumed the one item.
            loop {
                if inbox.load(Ordering::Relaxed) == 1 {
                    break;
                }
                idle.prepare_sleep(0);
                if inbox.load(Ordering::Relaxed) == 1 {
                    idle.finish_sleep(0);
                    break;
                }
                idle.sleep(0);
                idle.finish_sleep(0);
            }
            waker.join().unwrap();
        });
    }

    /// New stealable work is never stranded: with one worker spinning-then-sleeping and a
    /// spawner that skips the wake-up while someone searches, the work is still found.
    #[test]
    fn notify_one_never_strands_work() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(1));
            let queue = Arc::new(LAtomicUsize::new(0));
            let (i2, q2) = (idle.clone(), queue.clone());
            idle.start_search();
            let spawner = thread::spawn(move || {
                q2.fetch_add(1, Ordering::Relaxed);
                i2.notify_one();
            });
            loop {
                if queue.load(Ordering::Relaxed) == 1 {
                    idle.end_search();
                    break;
                }
                idle.prepare_sleep(0);
                idle.end_search();
                fence(Ordering::SeqCst);
                if queue.load(Ordering::Relaxed) == 1 {
                    idle.finish_sleep(0);
                    break;
                }
                idle.sleep(0);
                idle.finish_sleep(0);
                idle.start_search();
            }
            spawner.join().unwrap();
        });
    }

    /// The deadlock check never mistakes a timer's wake-up in flight for a deadlock. Worker 0
    /// falls asleep and, after its (unmodelled, so possibly instant) grace period, checks once;
    /// a third thread (a worker firing another worker's timer) fires a pending timer that wakes a
    /// goroutine onto worker 1, which takes it and then releases worker 0. Whatever the interleaving (the timer firing before,
    /// during or after the check; worker 1 draining its inbox between the check's reads),
    /// `verify_quiet` must not answer `Deadlock`. (Each check is independent of the previous
    /// ones, given its snapshot, so one check is the whole story.)
    #[test]
    fn a_timer_wake_in_flight_is_never_a_deadlock() {
        // Three threads: bound the preemptions, or the model takes 12 minutes (it passes
        // unbounded too). A bound of 2 already catches checks in the wrong order, or without
        // the final re-read of the word.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let idle = Arc::new(Idle::new(2));
            // (pending, firing), behind the timer lock.
            let timers = Arc::new(Mutex::new((true, false)));
            let inbox1 = Arc::new(LAtomicUsize::new(0));

            let (i2, t2, q2) = (idle.clone(), timers.clone(), inbox1.clone());
            let timer = thread::spawn(move || {
                *t2.lock().unwrap() = (false, true);
                q2.store(1, Ordering::SeqCst);
                i2.wake_worker(1);
                t2.lock().unwrap().1 = false;
            });

            let (i3, q3) = (idle.clone(), inbox1.clone());
            let worker1 = thread::spawn(move || {
                i3.prepare_sleep(1);
                if q3.load(Ordering::SeqCst) == 0 {
                    i3.sleep(1);
                }
                i3.finish_sleep(1);
                // Run the goroutine, then let worker 0 go (the model ends here).
                assert_eq!(q3.swap(0, Ordering::SeqCst), 1);
                i3.wake_all();
            });

            // Worker 0, watching.
            idle.prepare_sleep(0);
            let snap = idle.snapshot();
            if !idle.sleep_timeout(0, Duration::from_secs(1)) {
                let verdict = idle.verify_quiet(
                    snap,
                    || *timers.lock().unwrap() == (false, false),
                    || inbox1.load(Ordering::SeqCst) == 0,
                );
                assert_ne!(
                    verdict,
                    Quiet::Deadlock,
                    "a timer wake-up in flight was taken for a deadlock"
                );
                idle.sleep(0);
            }
            idle.finish_sleep(0);
            timer.join().unwrap();
            worker1.join().unwrap();
        });
    }

    /// With nothing left to do, the last sleeper does find the deadlock: it is never told
    /// `Activity` (after which it would sleep for good and report nothing).
    #[test]
    fn a_real_deadlock_is_found_by_the_last_sleeper() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(2));
            let i2 = idle.clone();
            let worker1 = thread::spawn(move || i2.prepare_sleep(1));
            let last0 = idle.prepare_sleep(0);
            let last1 = worker1.join().unwrap();
            assert!(
                last0 ^ last1,
                "exactly one worker is the last to fall asleep"
            );
            let snap = idle.snapshot();
            assert!(!idle.sleep_timeout(0, Duration::from_secs(1)));
            assert_eq!(idle.verify_quiet(snap, || true, || true), Quiet::Deadlock);
        });
    }
}
