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

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex};

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

/// The sleep state of every worker.
pub(crate) struct Idle {
    sleepers: Box<[Sleeper]>,
    /// How many workers are between `prepare_sleep` and `finish_sleep`.
    asleep: AtomicUsize,
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
            asleep: AtomicUsize::new(0),
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
    pub(crate) fn prepare_sleep(&self, i: usize) {
        self.sleepers[i].sleeping.store(true, Ordering::SeqCst);
        self.asleep.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Worker `i` blocks until woken.
    pub(crate) fn sleep(&self, i: usize) {
        self.sleepers[i].parker.park();
    }

    /// Worker `i` is awake again.
    pub(crate) fn finish_sleep(&self, i: usize) {
        self.sleepers[i].sleeping.store(false, Ordering::SeqCst);
        self.asleep.fetch_sub(1, Ordering::SeqCst);
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
        if self.searching.load(Ordering::SeqCst) > 0 || self.asleep.load(Ordering::SeqCst) == 0 {
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
}
