//! A sleeper in some wait queue: a goroutine (parked), or a plain thread outside any runtime
//! (blocked in `std::thread::park`). Every blocking primitive queues a [`Waiter`] and sleeps on
//! the matching [`Sleeper`].

use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::context;
use super::executor;
use super::goroutine::{GRef, WaitReason};

/// A sleeper in some wait queue: a goroutine, or a plain thread outside any runtime.
pub(crate) enum Waiter {
    /// A parked goroutine.
    Goroutine(GRef),
    /// A thread blocked in `std::thread::park`.
    Thread(Arc<ThreadSignal>),
    /// An awaiting future (a task, `task::block_on`, or any other executor's): its waker.
    /// (Which record awaits is read from the waker when needed, see [`pick`], so that the
    /// entry, and with it a goroutine record, stays small.)
    Task(std::task::Waker),
}

/// How a thread waiter learns it was woken (`thread::park` may return spuriously).
/// A [`Waiter`] in two words, for a goroutine's join cell (`gocell.rs`), where every byte is
/// paid a million times over by a spawner that keeps its handles: a task's waker (two words
/// itself) is boxed, an allocation that only an await of a goroutine's handle pays.
pub(crate) enum ThinWaiter {
    /// A parked goroutine.
    Goroutine(GRef),
    /// A thread blocked in `std::thread::park`.
    Thread(Arc<ThreadSignal>),
    /// An awaiting future's waker.
    Task(Box<std::task::Waker>),
}

impl From<Waiter> for ThinWaiter {
    #[inline]
    fn from(w: Waiter) -> ThinWaiter {
        match w {
            Waiter::Goroutine(g) => ThinWaiter::Goroutine(g),
            Waiter::Thread(s) => ThinWaiter::Thread(s),
            Waiter::Task(k) => ThinWaiter::Task(Box::new(k)),
        }
    }
}

impl ThinWaiter {
    /// Wake the sleeper (see [`Waiter::wake`]).
    #[inline]
    pub(crate) fn wake(self) {
        match self {
            ThinWaiter::Goroutine(g) => Waiter::Goroutine(g).wake(),
            ThinWaiter::Thread(s) => Waiter::Thread(s).wake(),
            ThinWaiter::Task(k) => k.wake(),
        }
    }
}

pub(crate) struct ThreadSignal {
    thread: std::thread::Thread,
    /// Set (then the thread unparked) by the waker.
    woken: AtomicBool,
}

/// The sleeping side of a [`Waiter`]: the caller keeps it and blocks on it.
pub(crate) enum Sleeper {
    Goroutine(u64),
    Thread(Arc<ThreadSignal>),
}

impl Waiter {
    /// A waiter for the caller, and the handle it sleeps on.
    #[inline]
    pub(crate) fn current() -> (Waiter, Sleeper) {
        match context::current_gref() {
            Some(g) => {
                let id = g.id;
                (Waiter::Goroutine(g), Sleeper::Goroutine(id))
            }
            None => {
                let s = Arc::new(ThreadSignal {
                    thread: std::thread::current(),
                    woken: AtomicBool::new(false),
                });
                (Waiter::Thread(s.clone()), Sleeper::Thread(s))
            }
        }
    }

    /// Wake the sleeper. Call it without holding the queue lock.
    #[inline]
    pub(crate) fn wake(self) {
        match self {
            Waiter::Goroutine(g) => executor::unpark(g),
            Waiter::Thread(s) => {
                let t = s.thread.clone();
                s.woken.store(true, Ordering::Release);
                t.unpark();
            }
            Waiter::Task(w) => w.wake(),
        }
    }

    /// True if this waiter is `s`.
    pub(crate) fn is(&self, s: &Sleeper) -> bool {
        match (self, s) {
            (Waiter::Goroutine(g), Sleeper::Goroutine(id)) => g.id == *id,
            (Waiter::Thread(a), Sleeper::Thread(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Sleeper {
    /// Sleep until the matching [`Waiter`] is woken. `queue` is the guard of the lock that
    /// protects the queue holding the waiter; it is released only once the sleeper can no
    /// longer miss its wake-up (for a goroutine: after it is parked, as in Go's
    /// `goparkunlock`).
    #[inline]
    pub(crate) fn sleep<Q>(&self, reason: WaitReason, site: &'static Location<'static>, queue: Q) {
        match self {
            Sleeper::Goroutine(_) => executor::park(reason, site, move || drop(queue)),
            Sleeper::Thread(s) => {
                drop(queue);
                while !s.woken.load(Ordering::Acquire) {
                    std::thread::park();
                }
            }
        }
    }
}

/// Which of `candidates` (queued waiters, oldest first) a release wakes, as an index: on the
/// controlled executor with two or more goroutines to choose from, the strategy's choice (a
/// recorded waiter choice, see `explore::ValueDecision`); otherwise 0, the oldest (Go's FIFO
/// hand-off), at the cost of one length test on the work-stealing executor. `owner` names the
/// goroutine or task record a queued future's waker wakes (`None`: a future outside the
/// schedule, which keeps the FIFO order).
#[inline]
pub(crate) fn pick<'a, I>(candidates: I, owner: fn(&std::task::Waker) -> Option<u64>) -> usize
where
    I: ExactSizeIterator<Item = &'a Waiter>,
{
    if candidates.len() < 2 || !executor::is_controlled() {
        return 0;
    }
    pick_controlled(candidates, owner)
}

#[cold]
fn pick_controlled<'a>(
    candidates: impl Iterator<Item = &'a Waiter>,
    owner: fn(&std::task::Waker) -> Option<u64>,
) -> usize {
    let context::Exec::Controlled(c) = context::exec_ref() else {
        return 0;
    };
    if c.picks_by_count() {
        // The strategy reads the count alone: check that every waiter is scheduled, and count.
        let mut n = 0;
        for w in candidates {
            match w {
                Waiter::Goroutine(_) => {}
                Waiter::Task(k) if owner(k).is_some() => {}
                _ => return 0,
            }
            n += 1;
        }
        return c.pick_waiter_by_count(n);
    }
    // Ids on the stack for the usual few waiters: this runs at every contended release.
    let mut few = [0u64; 16];
    let mut many = Vec::new();
    let mut n = 0;
    for w in candidates {
        let id = match w {
            Waiter::Goroutine(g) => g.id,
            // A future polled by a goroutine or task of this executor is scheduled like one.
            Waiter::Task(k) => match owner(k) {
                Some(id) => id,
                None => return 0,
            },
            // A plain thread waits outside the schedule: keep the FIFO order.
            Waiter::Thread(_) => return 0,
        };
        if n < few.len() {
            few[n] = id;
        } else {
            if many.is_empty() {
                many.extend_from_slice(&few);
            }
            many.push(id);
        }
        n += 1;
    }
    c.pick_waiter(if many.is_empty() { &few[..n] } else { &many })
}
