//! Go's runtime semaphore (`runtime/sema.go`): the parking primitive under `Mutex`, `RwLock`
//! and `WaitGroup`, plus the two small helpers every primitive here shares: [`Waiter`] (a
//! goroutine, or a plain thread, that can be put to sleep and woken) and [`Obj`] (the lazily
//! numbered object behind scheduling-point events).
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
//! - Nobody is woken while the queue lock is held (Go: "do not ready a G while holding the
//!   lock"); wake-ups happen after the guard drops.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::runtime::context;
use crate::runtime::dump::WaitDetail;
use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor;
use crate::runtime::goroutine::{GRef, WaitReason};
use crate::runtime::hb::Key;

/// Lock a std mutex that guards a wait queue. Those locks are never held while user code runs,
/// so poisoning cannot leave them inconsistent: it is ignored.
pub(crate) fn lock_queue<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ------------------------------------------------------------------------------------ Obj

/// The identity of a primitive in scheduling-point events, assigned on first use by the
/// controlled executor (so that constructors stay `const` and the work-stealing executor never
/// pays for it).
#[derive(Default)]
pub(crate) struct Obj {
    /// The object id, 0 until assigned.
    id: AtomicU64,
}

impl Obj {
    pub(crate) const fn new() -> Obj {
        Obj {
            id: AtomicU64::new(0),
        }
    }

    /// A scheduling point before `op` on this object. Returns true on the controlled executor
    /// (where callers also keep the bookkeeping that reports need).
    #[inline]
    pub(crate) fn point(&self, op: Op, site: &'static Location<'static>) -> bool {
        if !is_controlled() {
            return false;
        }
        self.point_controlled(Event::new(op, self.id(), site));
        true
    }

    /// A scheduling point before an atomic `op` with `ordering`.
    #[inline]
    pub(crate) fn atomic_point(
        &self,
        op: Op,
        ordering: Ordering,
        site: &'static Location<'static>,
    ) -> bool {
        if !is_controlled() {
            return false;
        }
        self.point_controlled(Event::atomic(op, self.id(), ordering, site));
        true
    }

    #[cold]
    fn point_controlled(&self, ev: Event) {
        executor::sched_point(ev);
    }

    /// The race detector's key for the whole object.
    #[inline]
    pub(crate) fn key(&self) -> Key {
        Key::Object(self.id().0)
    }

    /// The race detector's key for part `n` of the object (a lock's reader or writer side).
    pub(crate) fn part(&self, n: u64) -> Key {
        Key::Part(self.id().0, n)
    }

    /// The object id (assigning one if needed).
    #[inline]
    pub(crate) fn id(&self) -> ObjId {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return ObjId(id);
        }
        let fresh = executor::new_object_id().0;
        match self
            .id
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => ObjId(fresh),
            Err(won) => ObjId(won),
        }
    }
}

/// True on the controlled executor's thread: one thread-local load, inlined into every fast
/// path (the work-stealing executor pays nothing else for scheduling points).
#[inline(always)]
pub(crate) fn is_controlled() -> bool {
    matches!(context::exec(), context::ExecPtr::Controlled(_))
}

/// True where the race detector may be watching, so happens-before edges must be reported:
/// the controlled executor (`controlled`, as returned by [`Obj::point`]), and the
/// work-stealing executor built with the `race` feature. Elsewhere the edge hooks are skipped
/// before they cost anything.
#[inline(always)]
pub(crate) fn watched(controlled: bool) -> bool {
    controlled || cfg!(feature = "race")
}

/// The id of the running goroutine (0 outside one).
#[inline]
pub(crate) fn current_id() -> u64 {
    context::with_current(|g| g.map_or(0, |g| g.id))
}

// --------------------------------------------------------------------------------- Waiter

/// A sleeper in some wait queue: a goroutine, or a plain thread outside any runtime.
pub(crate) enum Waiter {
    /// A parked goroutine.
    Goroutine(GRef),
    /// A thread blocked in `std::thread::park`.
    Thread(Arc<ThreadSignal>),
}

/// How a thread waiter learns it was woken (`thread::park` may return spuriously).
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
    pub(crate) fn sleep<T>(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        queue: MutexGuard<'_, T>,
    ) {
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

/// Keeps a wait detail attached to the current goroutine until dropped (also when the goroutine
/// is torn down while parked). Details only exist on the controlled executor.
/// Keeps a wait detail attached to the current goroutine while it is parked; removes it on
/// wake-up and on unwind.
pub(crate) struct DetailGuard(*const crate::runtime::goroutine::G);

impl DetailGuard {
    pub(crate) fn attach(detail: WaitDetail) -> Option<DetailGuard> {
        let g = context::current_ptr();
        if g.is_null() {
            return None;
        }
        // SAFETY: the running goroutine's record outlives the call it is running, which
        // outlives this guard (the guard lives on its stack).
        unsafe { &*g }.set_wait_detail(Some(detail));
        Some(DetailGuard(g))
    }
}

impl Drop for DetailGuard {
    fn drop(&mut self) {
        // SAFETY: as in `attach`: dropped on the same goroutine's stack, before it finishes.
        unsafe { &*self.0 }.set_wait_detail(None);
    }
}

// ----------------------------------------------------------------------------------- Sema

/// Go's runtime semaphore, with hand-off (see the module docs).
pub(crate) struct Sema {
    /// Banked permits (Go's `*addr`).
    count: AtomicU32,
    /// Acquirers between registering and leaving (Go's `root.nwait`); read without the lock by
    /// `release` to skip the queue when nobody sleeps.
    nwait: AtomicU32,
    /// Sleepers, head first.
    queue: Mutex<VecDeque<Waiter>>,
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

    /// Return a permit: hand it to the head sleeper if there is one, else bank it.
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
        let w = q.pop_front().expect("checked non-empty");
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
