//! `Semaphore`: a weighted semaphore, like Go's `golang.org/x/sync/semaphore.Weighted`.
//!
//! Invariants (all under `state`'s lock):
//! - `cur <= size`: the weight currently held.
//! - Waiters are served first-in first-out: a large request at the head is not overtaken by
//!   smaller ones behind it (so it cannot starve), and a newcomer never skips a non-empty
//!   queue. On the controlled executor, which waiter is granted next is a choice of the
//!   strategy (a waiter choice, see `explore::ValueDecision`) among the head waiters that fit,
//!   so schedules where a later one goes first are explored too; a request is still never
//!   overtaken by a smaller one, nor by one behind a request that does not fit.
//! - A waiter leaves the queue only by being granted its weight (`cur` already includes it when
//!   it is woken), or by its goroutine being torn down.

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;

use super::obj::{lock_queue, watched, Obj};
use crate::runtime::event::Op;
use crate::runtime::executor;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;
use crate::runtime::waiter::{self, Sleeper, Waiter};

struct State {
    /// Total weight.
    size: u64,
    /// Weight held now.
    cur: u64,
    /// Goroutines waiting, with the weight each asks for; head first.
    waiters: VecDeque<(u64, Waiter)>,
}

impl State {
    /// Grant waiters from the head while their weight fits (x/sync's `notifyWaiters`); on the
    /// controlled executor, each grant goes to the waiter the strategy picks among the head
    /// ones that fit.
    fn grant(&mut self) -> Vec<Waiter> {
        let mut woken = Vec::new();
        let controlled = self.waiters.len() >= 2 && executor::is_controlled();
        while let Some(&(head, _)) = self.waiters.front() {
            let free = self.size - self.cur;
            if free < head {
                break;
            }
            let i = if controlled { self.choose(free) } else { 0 };
            let (n, w) = self.waiters.remove(i).expect("a fitting waiter");
            self.cur += n;
            woken.push(w);
        }
        woken
    }

    /// The queue index of the waiter the strategy picks to grant next, among the candidates:
    /// the waiters of the head run that fit in `free` units, each no smaller than any waiter
    /// ahead of it (so a request is never overtaken by a smaller one, nor by one behind a
    /// request that does not fit).
    #[cold]
    fn choose(&self, free: u64) -> usize {
        let mut at = Vec::new();
        let mut largest = 0;
        for (i, &(n, _)) in self.waiters.iter().enumerate() {
            if n > free {
                break;
            }
            if n >= largest {
                at.push(i);
            }
            largest = largest.max(n);
        }
        at[waiter::pick(at.iter().map(|&i| &self.waiters[i].1), super::grant::owner)]
    }
}

/// A weighted semaphore: at most `size` units are held at once. Like Go's
/// `x/sync/semaphore.Weighted`, waiters are served in FIFO order. The tester also explores
/// a later waiter being served first, except where that would let a smaller request overtake
/// a larger one.
///
/// ```
/// use std::sync::Arc;
/// use goweave::sync::{Semaphore, WaitGroup};
///
/// goweave::run(|| {
///     let sem = Arc::new(Semaphore::new(2)); // at most 2 workers at once
///     let wg = WaitGroup::new();
///     for _ in 0..6 {
///         let sem = sem.clone();
///         wg.go(move || {
///             sem.acquire(1);
///             // ... work ...
///             sem.release(1);
///         });
///     }
///     wg.wait();
/// });
/// ```
pub struct Semaphore {
    state: std::sync::Mutex<State>,
    /// Identity in events.
    obj: Obj,
}

impl Semaphore {
    /// A semaphore with `size` units, none held.
    pub const fn new(size: u64) -> Semaphore {
        Semaphore {
            state: std::sync::Mutex::new(State {
                size,
                cur: 0,
                waiters: VecDeque::new(),
            }),
            obj: Obj::new(),
        }
    }

    /// Acquire `n` units, waiting (wait reason `semacquire`) until they are available and
    /// every earlier waiter is served. As in Go, asking for more than the size blocks forever
    /// (the tester reports it as a deadlock).
    #[track_caller]
    pub fn acquire(&self, n: u64) {
        let site = Location::caller();
        let controlled = self.obj.point_probe(Op::Semaphore, site, &|| {
            let st = lock_queue(&self.state);
            !(st.size - st.cur >= n && st.waiters.is_empty())
        });
        let mut st = lock_queue(&self.state);
        if st.size - st.cur >= n && st.waiters.is_empty() {
            st.cur += n;
            drop(st);
            self.acquired(controlled);
            return;
        }
        let (w, sleeper) = Waiter::current();
        if n > st.size {
            // Doomed: do not make everyone behind wait for it (x/sync does the same).
            drop(w);
            sleeper.sleep(WaitReason::SemaphoreAcquire, site, st);
            unreachable!("a semaphore acquire larger than the size was woken");
        }
        st.waiters.push_back((n, w));
        let queued = Queued {
            sem: self,
            sleeper: &sleeper,
            n,
        };
        sleeper.sleep(WaitReason::SemaphoreAcquire, site, st);
        // Woken by `grant`: the weight is ours.
        std::mem::forget(queued);
        self.acquired(controlled);
    }

    /// The race detector's edge: every release happens before a later acquire.
    fn acquired(&self, controlled: bool) {
        if watched(controlled) {
            hb::acquire(self.obj.key());
        }
    }

    /// Acquire `n` units if that needs no waiting (and nobody waits before us).
    #[track_caller]
    pub fn try_acquire(&self, n: u64) -> bool {
        let controlled = self.obj.point(Op::Semaphore, Location::caller());
        let mut st = lock_queue(&self.state);
        let ok = st.size - st.cur >= n && st.waiters.is_empty();
        if ok {
            st.cur += n;
        }
        drop(st);
        if ok {
            self.acquired(controlled);
        } else {
            // Polling: give way (see `executor::yield_hint`).
            crate::runtime::executor::yield_hint();
        }
        ok
    }

    /// Release `n` units and wake the waiters that now fit, in order.
    ///
    /// Panics with `semaphore: released more than held` if `n` exceeds the weight held.
    #[track_caller]
    pub fn release(&self, n: u64) {
        // It never blocks, and says so: a strategy then knows it for a release that completes
        // waiters, not a `try_acquire` that merely sees them (both are `Op::Semaphore`).
        if watched(
            self.obj
                .point_probe(Op::Semaphore, Location::caller(), &|| false),
        ) {
            hb::release_merge(self.obj.key());
        }
        let woken = {
            let mut st = lock_queue(&self.state);
            if n > st.cur {
                drop(st);
                panic!("semaphore: released more than held");
            }
            st.cur -= n;
            st.grant()
        };
        for w in woken {
            w.wake();
        }
    }

    /// The total weight.
    pub fn size(&self) -> u64 {
        lock_queue(&self.state).size
    }

    /// The weight held right now (a snapshot).
    pub fn held(&self) -> u64 {
        lock_queue(&self.state).cur
    }
}

/// Takes a waiter out of the queue if its goroutine is torn down while it waits; gives the
/// weight back if it had been granted already.
struct Queued<'a> {
    sem: &'a Semaphore,
    sleeper: &'a Sleeper,
    n: u64,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let woken = {
            let mut st = lock_queue(&self.sem.state);
            match st.waiters.iter().position(|(_, w)| w.is(self.sleeper)) {
                Some(i) => {
                    st.waiters.remove(i);
                }
                None => st.cur -= self.n,
            }
            // Leaving may unblock the waiters behind us.
            st.grant()
        };
        for w in woken {
            w.wake();
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock_queue(&self.state);
        f.debug_struct("Semaphore")
            .field("size", &st.size)
            .field("held", &st.cur)
            .field("waiters", &st.waiters.len())
            .finish()
    }
}

// The future form of `acquire`, in a file of its own (it reads the private state above).
#[path = "semaphore_async.rs"]
mod async_acquire;
pub use async_acquire::Acquire as SemaphoreAcquire;
