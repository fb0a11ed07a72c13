//! Go's runtime semaphore (`runtime/sema.go`): the parking primitive under `Mutex`, `RwLock`
//! and `WaitGroup`.
//!
//! A [`Sema`] is a count of permits and a queue of sleepers. Permits are *handed off*: a release
//! that finds a sleeper gives its permit straight to the sleeper at the head of the queue and
//! wakes it, so a woken sleeper always owns a permit and there are no spurious wake-ups.
//!
//! Invariants:
//! - `queue` is guarded by its own lock. An acquirer increments `nwait` and re-checks `count`
//!   while holding that lock, and stays counted in `nwait` until it is dequeued or leaves with
//!   a permit; so `nwait >= queue.len()`.
//! - A releaser increments `count` *before* reading `nwait`, and an acquirer increments `nwait`
//!   *before* re-reading `count` (both `SeqCst`): one of them always sees the other, so a
//!   permit is never left banked while a sleeper waits for it.
//! - Which sleeper a release wakes: the head (FIFO), except for a sema made with
//!   [`Sema::choosing`] (a mutex's) on the controlled executor, where the strategy picks any
//!   of two or more sleepers (Go promises no order among a mutex's waiters; see
//!   `explore::ValueDecision`'s "Waiter choices"). Sleepers that are all woken anyway (a
//!   WaitGroup's, a read-write lock's readers) stay FIFO: choosing their order only repeats
//!   schedules.
//! - Nobody is woken while the queue lock is held (Go: "do not ready a G while holding the
//!   lock"); wake-ups happen after the guard drops.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::obj::lock_queue;
use crate::runtime::dump::{DetailGuard, WaitDetail};
use crate::runtime::goroutine::WaitReason;
use crate::runtime::waiter::{self, Sleeper, Waiter};

/// Go's runtime semaphore, with hand-off (see the module docs).
pub(crate) struct Sema {
    /// Banked permits (Go's `*addr`).
    count: AtomicU32,
    /// Acquirers between registering and leaving (Go's `root.nwait`); read without the lock by
    /// `release` to skip the queue when nobody sleeps.
    nwait: AtomicU32,
    /// Sleepers, head first.
    queue: Mutex<VecDeque<Waiter>>,
    /// On the controlled executor, the strategy picks which sleeper a release wakes.
    choose: bool,
}

impl Default for Sema {
    fn default() -> Sema {
        Sema::new()
    }
}

impl Sema {
    pub(crate) const fn new() -> Sema {
        Sema {
            count: AtomicU32::new(0),
            nwait: AtomicU32::new(0),
            queue: Mutex::new(VecDeque::new()),
            choose: false,
        }
    }

    /// A sema whose release, on the controlled executor, wakes the sleeper the strategy picks
    /// (see the module docs).
    pub(crate) const fn choosing() -> Sema {
        Sema {
            count: AtomicU32::new(0),
            nwait: AtomicU32::new(0),
            queue: Mutex::new(VecDeque::new()),
            choose: true,
        }
    }

    /// Take a banked permit if there is one (Go's `cansemacquire`).
    fn try_take(&self) -> bool {
        let mut v = self.count.load(Ordering::SeqCst);
        while v > 0 {
            match self
                .count
                .compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    /// Wait for a permit. `lifo` queues at the head (a sleeper that was woken and lost the race
    /// goes back to the front, as in Go's mutex). `detail`, when given, describes the wait in
    /// deadlock reports.
    pub(crate) fn acquire(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        lifo: bool,
        detail: Option<WaitDetail>,
    ) {
        if self.try_take() {
            return;
        }
        let mut q = lock_queue(&self.queue);
        self.nwait.fetch_add(1, Ordering::SeqCst);
        if self.try_take() {
            self.nwait.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let (w, sleeper) = Waiter::current();
        if lifo {
            q.push_front(w);
        } else {
            q.push_back(w);
        }
        let _detail = detail.and_then(DetailGuard::attach);
        let queued = Queued {
            sema: self,
            sleeper: &sleeper,
        };
        sleeper.sleep(reason, site, q);
        // Woken by `release`, which dequeued us and handed us its permit.
        std::mem::forget(queued);
    }

    /// Return a permit: hand it to a sleeper if there is one (the head, or the one the strategy
    /// picks, see the module docs), else bank it.
    pub(crate) fn release(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        if self.nwait.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut q = lock_queue(&self.queue);
        if q.is_empty() || !self.try_take() {
            // Nobody sleeps yet (they will find the permit), or a running acquirer took it.
            return;
        }
        let i = if self.choose {
            waiter::pick(q.iter(), super::grant::owner)
        } else {
            0
        };
        // (`remove(0)` goes through the general ring-buffer shuffle: `pop_front` is the head.)
        let w = if i == 0 { q.pop_front() } else { q.remove(i) }.expect("a queued sleeper");
        self.nwait.fetch_sub(1, Ordering::SeqCst);
        drop(q);
        w.wake();
    }
}

/// Removes a sleeper from the queue if it unwinds while parked (its goroutine is torn down), so
/// that a primitive outliving the run does not hand a permit to a dead goroutine.
struct Queued<'a> {
    sema: &'a Sema,
    sleeper: &'a Sleeper,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut q = lock_queue(&self.sema.queue);
        if let Some(i) = q.iter().position(|w| w.is(self.sleeper)) {
            q.remove(i);
            self.sema.nwait.fetch_sub(1, Ordering::SeqCst);
        } else {
            // Dequeued with a permit we will never use: pass it on.
            drop(q);
            self.sema.release();
        }
    }
}

// The future form of `acquire`, in a file of its own (it reads the private fields above).
#[path = "sema_async.rs"]
mod async_acquire;
