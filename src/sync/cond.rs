//! `Cond`: Go's `sync.Cond`, used with this crate's [`MutexGuard`].
//!
//! The wait list is Go's `notifyList` (`runtime/sema.go`): every waiter takes a ticket before
//! it unlocks the mutex, and a signal notifies the lowest ticket not yet notified. A signal that
//! comes between the unlock and the moment the waiter actually sleeps is therefore not lost: the
//! waiter sees its ticket already notified and does not sleep.
//!
//! Invariants (all under `list`'s lock):
//! - `notify <= wait`; tickets `notify..wait` belong to waiters not yet notified.
//! - `sleepers` holds exactly the waiters that are asleep, each with a ticket `>= notify`;
//!   a notified sleeper is removed before it is woken.

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;

use super::locker::Locker;
use super::mutex::MutexGuard;
use super::obj::{lock_queue, watched, Obj};
use crate::runtime::event::Op;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;
use crate::runtime::waiter::{Sleeper, Waiter};

#[derive(Default)]
struct NotifyList {
    /// The next ticket to hand out.
    wait: u64,
    /// The next ticket to notify.
    notify: u64,
    /// Waiters asleep, with their tickets.
    sleepers: VecDeque<(u64, Waiter)>,
}

/// A condition variable: Go's `sync.Cond`. Goroutines wait for a condition, guarded by a
/// [`Mutex`](super::Mutex), to become true; [`signal`](Cond::signal) wakes one,
/// [`broadcast`](Cond::broadcast) wakes all.
///
/// A wait nobody signals blocks forever: the tester reports it as a deadlock with wait reason
/// `sync.Cond.Wait`.
///
/// ```
/// use std::sync::Arc;
/// use goweave::sync::{Cond, Mutex};
///
/// goweave::run(|| {
///     let state = Arc::new((Mutex::new(false), Cond::new()));
///     let s = state.clone();
///     goweave::go(move || {
///         *s.0.lock() = true;
///         s.1.signal();
///     });
///     let (m, c) = &*state;
///     let mut ready = m.lock();
///     while !*ready {
///         ready = c.wait(ready);
///     }
/// });
/// ```
pub struct Cond {
    /// Tickets and sleepers.
    list: std::sync::Mutex<NotifyList>,
    /// Identity in events.
    obj: Obj,
}

impl Default for Cond {
    fn default() -> Cond {
        Cond::new()
    }
}

impl Cond {
    /// A condition variable (usable in a `static`).
    pub const fn new() -> Cond {
        Cond {
            list: std::sync::Mutex::new(NotifyList {
                wait: 0,
                notify: 0,
                sleepers: VecDeque::new(),
            }),
            obj: Obj::new(),
        }
    }

    /// Unlock the guard's mutex, sleep (wait reason `sync.Cond.Wait`) until signalled, then
    /// lock the mutex again and return its guard (Go's `Wait`). As in Go, wake-ups can be
    /// spurious with respect to the condition: check it in a loop (or use
    /// [`wait_while`](Cond::wait_while)).
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_at(guard, Location::caller())
    }

    fn wait_at<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        site: &'static Location<'static>,
    ) -> MutexGuard<'a, T> {
        let controlled = self.obj.point(Op::Cond, site);
        let ticket = {
            let mut l = lock_queue(&self.list);
            l.wait += 1;
            l.wait - 1
        };
        let mutex = guard.mutex();
        guard.unlock_at(site);
        self.sleep(ticket, site);
        if watched(controlled) {
            // A signal happens before the wait it ends.
            hb::acquire(self.obj.key());
        }
        mutex.lock_at(site)
    }

    /// Go's `c.Wait()` where `c.L` is any [`Locker`] (a [`RawMutex`](super::RawMutex), a
    /// [`RawRwLock`](super::RawRwLock), or its [`rlocker`](super::RawRwLock::rlocker)):
    /// unlock `l`, sleep (wait reason `sync.Cond.Wait`) until signalled, then lock `l` again.
    /// The caller must hold `l`; as with [`wait`](Cond::wait), check the condition in a loop.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use goweave::sync::{Cond, RawRwLock};
    ///
    /// goweave::run(|| {
    ///     let s = Arc::new((RawRwLock::new(), Cond::new(), AtomicBool::new(false)));
    ///     let s2 = s.clone();
    ///     goweave::go(move || {
    ///         s2.0.lock();
    ///         s2.2.store(true, Ordering::Relaxed);
    ///         s2.0.unlock();
    ///         s2.1.broadcast();
    ///     });
    ///     let (rw, cond, ready) = &*s;
    ///     let reader = rw.rlocker();
    ///     rw.rlock();
    ///     while !ready.load(Ordering::Relaxed) {
    ///         cond.wait_locker(&reader);
    ///     }
    ///     rw.runlock();
    /// });
    /// ```
    #[track_caller]
    pub fn wait_locker<L: Locker + ?Sized>(&self, l: &L) {
        let site = Location::caller();
        let controlled = self.obj.point(Op::Cond, site);
        let ticket = {
            let mut list = lock_queue(&self.list);
            list.wait += 1;
            list.wait - 1
        };
        l.unlock();
        self.sleep(ticket, site);
        if watched(controlled) {
            hb::acquire(self.obj.key());
        }
        l.lock();
    }

    /// Wait while `condition` holds, re-checking it after every wake-up.
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        let site = Location::caller();
        while condition(&mut *guard) {
            guard = self.wait_at(guard, site);
        }
        guard
    }

    /// Sleep until `ticket` is notified (Go's `notifyListWait`).
    fn sleep(&self, ticket: u64, site: &'static Location<'static>) {
        let mut l = lock_queue(&self.list);
        if ticket < l.notify {
            return; // Signalled between the unlock and now.
        }
        let (w, sleeper) = Waiter::current();
        l.sleepers.push_back((ticket, w));
        let asleep = Asleep {
            cond: self,
            sleeper: &sleeper,
        };
        sleeper.sleep(WaitReason::CondWait, site, l);
        std::mem::forget(asleep);
    }

    /// Wake one waiting goroutine, if any (Go's `Signal`).
    #[track_caller]
    pub fn signal(&self) {
        if watched(self.obj.point(Op::Cond, Location::caller())) {
            hb::release_merge(self.obj.key());
        }
        let woken = {
            let mut l = lock_queue(&self.list);
            if l.wait == l.notify {
                return;
            }
            let t = l.notify;
            l.notify += 1;
            // The ticket's owner may not be asleep yet; then it sees `notify` and returns.
            let i = l.sleepers.iter().position(|(s, _)| *s == t);
            i.and_then(|i| l.sleepers.remove(i))
        };
        if let Some((_, w)) = woken {
            w.wake();
        }
    }

    /// Wake every waiting goroutine (Go's `Broadcast`).
    #[track_caller]
    pub fn broadcast(&self) {
        if watched(self.obj.point(Op::Cond, Location::caller())) {
            hb::release_merge(self.obj.key());
        }
        let woken = {
            let mut l = lock_queue(&self.list);
            l.notify = l.wait;
            std::mem::take(&mut l.sleepers)
        };
        for (_, w) in woken {
            w.wake();
        }
    }
}

/// Removes a sleeper from the list if its goroutine is torn down while asleep.
struct Asleep<'a> {
    cond: &'a Cond,
    sleeper: &'a Sleeper,
}

impl Drop for Asleep<'_> {
    fn drop(&mut self) {
        let mut l = lock_queue(&self.cond.list);
        l.sleepers.retain(|(_, w)| !w.is(self.sleeper));
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = lock_queue(&self.list);
        f.debug_struct("Cond")
            .field("waiters", &(l.wait - l.notify))
            .finish()
    }
}

// The future form of `wait`, in a file of its own (it reads the private list above).
#[path = "cond_async.rs"]
mod async_wait;
