//! `Mutex<T>`: Go's `sync.Mutex` with a Rust guard.
//!
//! The algorithm is Go's (`sync/mutex.go`): one atomic state word, a lock-free fast path, brief
//! spinning on the work-stealing executor, then a FIFO queue of parked goroutines ([`Sema`]).
//! On the controlled executor, which of two or more parked goroutines an unlock wakes is a
//! choice of the strategy (Go promises no order), so schedules where a later waiter wins are
//! explored too.
//!
//! - **Normal mode**: a woken waiter competes with newly arriving goroutines (which are already
//!   on a CPU, so they usually win; that is what makes a busy mutex fast). A waiter that loses
//!   goes back to the *front* of the queue.
//! - **Starvation mode**: a waiter that has waited more than 1 ms (executor clock) switches the
//!   mutex to starvation mode. Unlock then hands ownership straight to the head waiter;
//!   newcomers neither spin nor try to grab it, they queue at the tail. The mode ends when the
//!   last waiter takes over, or one waited less than 1 ms.
//!
//! Invariants (of `state`):
//! - `LOCKED` is set exactly while someone owns the mutex, except during a starvation hand-off,
//!   where the woken waiter owns it before it sets `LOCKED` again.
//! - `WOKEN` is set while a woken (or spinning) goroutine is about to retry: unlock then wakes
//!   nobody else.
//! - `state >> WAITER_SHIFT` counts goroutines that registered to sleep on `sema` and have not
//!   been woken; unlock wakes one only if that count is non-zero.
//!
//! A goroutine that locks a mutex it already holds deadlocks, as in Go. On the controlled
//! executor the holder and where it locked are kept (`holder`), and the deadlock report shows
//! them under the blocked goroutine.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::obj::{watched, Obj};
use super::sema::Sema;
use crate::runtime::dump::WaitDetail;
use crate::runtime::event::Op;
use crate::runtime::executor;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;
use crate::runtime::id as current_id;

const LOCKED: u32 = 1;
const WOKEN: u32 = 1 << 1;
const STARVING: u32 = 1 << 2;
const WAITER_SHIFT: u32 = 3;

/// A waiter that has waited this long switches the mutex to starvation mode (Go's 1 ms).
const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Who holds a lock and where they locked it (kept on the controlled executor only, for
/// reports).
pub(crate) struct Holder {
    /// Goroutine id of the holder, 0 if none.
    gid: AtomicU64,
    /// Where the holder locked, null if none.
    site: AtomicPtr<Location<'static>>,
}

impl Holder {
    pub(crate) const fn new() -> Holder {
        Holder {
            gid: AtomicU64::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    #[inline]
    pub(crate) fn set(&self, site: &'static Location<'static>) {
        self.gid.store(current_id(), Ordering::Relaxed);
        self.site
            .store(site as *const _ as *mut _, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn clear(&self) {
        self.gid.store(0, Ordering::Relaxed);
        self.site.store(std::ptr::null_mut(), Ordering::Relaxed);
    }

    /// `(goroutine, site)` of the holder, if known.
    pub(crate) fn get(&self) -> Option<(u64, &'static Location<'static>)> {
        let p = self.site.load(Ordering::Relaxed);
        // SAFETY: only `&'static Location` values (or null) are stored in `site`.
        (!p.is_null()).then(|| (self.gid.load(Ordering::Relaxed), unsafe { &*p }))
    }
}

/// `"sync.Mutex held by goroutine 1, locked at file:line:col"`, from the waiter's point of
/// view; `how` says what the holder did at its site ("locked at").
pub(crate) fn describe_holder(
    what: &str,
    how: &str,
    holder: Option<(u64, &Location<'static>)>,
    waiter: u64,
) -> String {
    match holder {
        Some((g, site)) if g == waiter => {
            format!("{what} is already held by this goroutine (goroutine {g}), {how} {site}")
        }
        Some((g, site)) => format!("{what} held by goroutine {g}, {how} {site}"),
        None => format!("{what} is not held (a wake-up is in flight)"),
    }
}

/// The lock without the data: Go's `sync.Mutex`, also used inside `RwLock` and `Once`.
pub(crate) struct RawMutex {
    /// `LOCKED | WOKEN | STARVING | waiters << WAITER_SHIFT`; see the module invariants.
    state: AtomicU32,
    /// Where waiters sleep.
    sema: Sema,
    /// The current holder (controlled executor only).
    pub(crate) holder: Holder,
    /// Identity in events.
    pub(crate) obj: Obj,
}

/// The locals of one slow lock (Go's in `lockSlow`), kept across the semaphore wait by the
/// blocking and the async form alike.
struct Slow {
    /// When it first queued on the semaphore.
    wait_start: Option<Duration>,
    /// It has waited longer than `STARVATION_THRESHOLD`.
    starving: bool,
    /// It was woken (or set `WOKEN` itself), so it must clear `WOKEN`.
    awoke: bool,
    /// Spin rounds since it last woke.
    iter: u32,
    /// The state word last read.
    old: u32,
}

impl Slow {
    fn new(m: &RawMutex) -> Slow {
        Slow {
            wait_start: None,
            starving: false,
            awoke: false,
            iter: 0,
            old: m.state.load(Ordering::Relaxed),
        }
    }
}

impl RawMutex {
    pub(crate) const fn new() -> RawMutex {
        RawMutex {
            state: AtomicU32::new(0),
            sema: Sema::choosing(),
            holder: Holder::new(),
            obj: Obj::new(),
        }
    }

    /// Lock (Go's `Lock`): a scheduling point, then [`acquire`](Self::acquire).
    ///
    /// The work-stealing fast path (one compare-exchange) is all that is inlined into the
    /// caller; the controlled executor's bookkeeping stays out of line, so that the caller's
    /// loop does not pay for its register pressure.
    #[inline]
    pub(crate) fn lock(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        detail: &dyn Fn(&RawMutex) -> WaitDetail,
    ) {
        if executor::is_controlled() {
            return self.lock_controlled(reason, site, detail);
        }
        self.acquire(reason, site, false, detail);
        if crate::record::on() {
            // Logged once held: a recording's lock order is the order of acquisition.
            self.obj.record(Op::Lock);
        }
        if watched(false) {
            // Go's raceAcquire: everything before the previous unlock happens before us.
            hb::acquire(self.obj.key());
        }
    }

    #[inline(never)]
    fn lock_controlled(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        detail: &dyn Fn(&RawMutex) -> WaitDetail,
    ) {
        self.obj.point_controlled_known(Op::Lock, site);
        self.acquire(reason, site, true, detail);
        self.holder.set(site);
        hb::acquire(self.obj.key());
    }

    /// [`lock`](Self::lock) as a future (`Mutex::lock_async`).
    pub(crate) async fn lock_async(&self, reason: WaitReason, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::Lock, site);
        self.acquire_async(reason, site, controlled).await;
        if controlled {
            self.holder.set(site);
        }
        if watched(controlled) {
            hb::acquire(self.obj.key());
        }
    }

    /// Take the lock without an event of its own (for primitives built on this one). `reason`
    /// is the wait reason shown if it blocks; `detail` (evaluated on the controlled executor
    /// only) describes the wait in reports.
    #[inline]
    pub(crate) fn acquire(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        controlled: bool,
        detail: &dyn Fn(&RawMutex) -> WaitDetail,
    ) {
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow(reason, site, controlled, detail);
        }
    }

    /// Lock if that needs no waiting (Go's `TryLock`).
    #[inline]
    pub(crate) fn try_lock(&self, site: &'static Location<'static>) -> bool {
        let controlled = self.obj.point(Op::TryLock, site);
        let ok = self.try_acquire();
        if ok && controlled {
            self.holder.set(site);
        }
        if ok && watched(controlled) {
            hb::acquire(self.obj.key());
        }
        ok
    }

    /// [`try_lock`](Self::try_lock) without an event of its own.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        let old = self.state.load(Ordering::Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(old, old | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Spinning is worth it only with other workers running (so the holder may be releasing
    /// right now), and never on the single-threaded controlled executor.
    fn can_spin(iter: u32, controlled: bool) -> bool {
        iter < 4 && !controlled && crate::runtime::gomaxprocs() > 1
    }

    #[cold]
    fn lock_slow(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        controlled: bool,
        detail: &dyn Fn(&RawMutex) -> WaitDetail,
    ) {
        let mut s = Slow::new(self);
        while let Some(lifo) = self.slow_step(&mut s, controlled) {
            let d = controlled.then(|| detail(self));
            self.sema.acquire(reason, site, lifo, d);
            if self.slow_woken(&mut s) {
                return;
            }
        }
    }

    /// [`acquire`](Self::acquire) as a future (`Mutex::lock_async`): the same steps, with the
    /// semaphore awaited instead of parked on.
    pub(crate) async fn acquire_async(
        &self,
        reason: WaitReason,
        site: &'static Location<'static>,
        controlled: bool,
    ) {
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        let mut s = Slow::new(self);
        while let Some(lifo) = self.slow_step(&mut s, controlled) {
            self.sema.acquire_async(reason, site, lifo).await;
            if self.slow_woken(&mut s) {
                return;
            }
        }
    }

    /// Go's `lockSlow` up to the semaphore: `None` once locked, `Some(lifo)` when the caller
    /// must wait on the semaphore (at the front of its queue if `lifo`) and then call
    /// [`slow_woken`](Self::slow_woken).
    fn slow_step(&self, s: &mut Slow, controlled: bool) -> Option<bool> {
        loop {
            let old = s.old;
            // Spin while locked in normal mode (in starvation mode ownership is handed off, so
            // spinning cannot win).
            if old & (LOCKED | STARVING) == LOCKED && Self::can_spin(s.iter, controlled) {
                // Tell unlock not to wake anyone else: we are about to take it.
                if !s.awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    s.awoke = true;
                }
                for _ in 0..30 {
                    std::hint::spin_loop();
                }
                s.iter += 1;
                s.old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // Newcomers do not take a starving mutex: they queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += 1 << WAITER_SHIFT;
            }
            // Switch to starvation mode, unless it was just unlocked (unlock expects a
            // starving mutex to have waiters).
            if s.starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if s.awoke {
                assert!(new & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            match self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        return None; // Locked it.
                    }
                    // A waiter that lost the race goes back to the front.
                    let lifo = s.wait_start.is_some();
                    s.wait_start.get_or_insert_with(executor::now);
                    return Some(lifo);
                }
                Err(now) => s.old = now,
            }
        }
    }

    /// Go's `lockSlow` after the semaphore: true if ownership was handed to us (locked),
    /// false to go round [`slow_step`](Self::slow_step) again.
    fn slow_woken(&self, s: &mut Slow) -> bool {
        let started = s.wait_start.expect("waited");
        s.starving = s.starving || executor::now() - started > STARVATION_THRESHOLD;
        let old = self.state.load(Ordering::Relaxed);
        s.old = old;
        if old & STARVING != 0 {
            // Ownership was handed to us; we still count as a waiter and LOCKED is clear. Fix
            // both, and leave starvation mode if we are the last waiter or did not wait long.
            assert!(
                old & (LOCKED | WOKEN) == 0 && old >> WAITER_SHIFT != 0,
                "sync: inconsistent mutex state"
            );
            let mut delta = LOCKED.wrapping_sub(1 << WAITER_SHIFT);
            if !s.starving || old >> WAITER_SHIFT == 1 {
                delta = delta.wrapping_sub(STARVING);
            }
            self.state.fetch_add(delta, Ordering::Acquire);
            return true;
        }
        s.awoke = true;
        s.iter = 0;
        false
    }

    /// Unlock (from any goroutine, as in Go): a scheduling point, then
    /// [`release`](Self::release). As for [`lock`](Self::lock), only the work-stealing fast
    /// path is inlined.
    #[inline]
    pub(crate) fn unlock(&self, site: &'static Location<'static>) {
        if executor::is_controlled() {
            return self.unlock_controlled(site);
        }
        if crate::record::on() {
            self.obj.record(Op::Unlock);
        }
        if watched(false) {
            // Go's raceRelease, before the lock can change hands.
            hb::release(self.obj.key());
        }
        self.release(site);
    }

    #[inline(never)]
    fn unlock_controlled(&self, site: &'static Location<'static>) {
        self.obj.point_controlled_known(Op::Unlock, site);
        self.holder.clear();
        hb::release(self.obj.key());
        self.release(site);
    }

    /// Give the lock up without an event of its own.
    #[inline]
    pub(crate) fn release(&self, site: &'static Location<'static>) {
        let new = self
            .state
            .fetch_sub(LOCKED, Ordering::Release)
            .wrapping_sub(LOCKED);
        if new != 0 {
            self.unlock_slow(new, site);
        }
    }

    #[cold]
    fn unlock_slow(&self, new: u32, site: &'static Location<'static>) {
        if new.wrapping_add(LOCKED) & LOCKED == 0 {
            // Undo the subtraction first: the panic can be recovered (in Go it is fatal), and
            // the mutex must stay usable (still unlocked) after it.
            self.state.fetch_add(LOCKED, Ordering::Relaxed);
            panic!("fatal error: sync: unlock of unlocked mutex");
        }
        if new & STARVING == 0 {
            let mut old = new;
            loop {
                // Nobody to wake, or someone woken/spinning/owning will take care of it.
                if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                    return;
                }
                // Take the right to wake one waiter.
                let new = (old - (1 << WAITER_SHIFT)) | WOKEN;
                match self
                    .state
                    .compare_exchange(old, new, Ordering::Release, Ordering::Relaxed)
                {
                    Ok(_) => {
                        self.sema.release();
                        return;
                    }
                    Err(now) => old = now,
                }
            }
        } else {
            // Starvation mode: hand ownership to the head waiter and let it run right away.
            self.sema.release();
            if !executor::is_controlled() && crate::runtime::context::current_gref().is_some() {
                executor::yield_now(site);
            }
        }
    }

    /// True if locked right now (a snapshot, for tests and debugging).
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }
}

/// The report line of a goroutine waiting for a `sync::Mutex`.
pub(super) fn mutex_detail(m: &RawMutex) -> WaitDetail {
    /// # Safety
    /// `m` points at a live `RawMutex` (`WaitDetail::new`'s contract).
    unsafe fn describe(m: *const (), waiter: u64) -> String {
        // SAFETY: the caller's contract.
        let m = unsafe { &*(m as *const RawMutex) };
        describe_holder("sync.Mutex", "locked at", m.holder.get(), waiter)
    }
    // SAFETY: the detail is attached only while the waiter is parked inside `lock(&self)` (a
    // guard removes it on wake-up and on unwind), so the mutex is borrowed, hence alive,
    // whenever a dump evaluates it.
    unsafe { WaitDetail::new(m, current_id(), describe) }
}

/// A mutual-exclusion lock protecting a `T`: Go's `sync.Mutex`, with a guard.
///
/// - Locking a mutex the goroutine already holds deadlocks, as in Go. The tester reports it:
///   `goroutine 1 [sync.Mutex.Lock]`, where it blocked, and where the mutex was locked.
/// - There is no poisoning (as in Go): a panic while holding the guard unlocks the mutex.
/// - Uncontended lock/unlock is two atomic operations; contended goroutines spin briefly, then
///   park in FIFO order (with Go's starvation mode). Go promises no order among waiters, and
///   the tester explores every one: which waiter an unlock wakes is a scheduling choice.
///
/// ```
/// use std::sync::Arc;
/// use goweave::sync::{Mutex, WaitGroup};
///
/// let n = goweave::run(|| {
///     let counter = Arc::new(Mutex::new(0));
///     let wg = WaitGroup::new();
///     for _ in 0..10 {
///         let c = counter.clone();
///         wg.go(move || *c.lock() += 1);
///     }
///     wg.wait();
///     let n = *counter.lock();
///     n
/// });
/// assert_eq!(n, 10);
/// ```
pub struct Mutex<T: ?Sized> {
    pub(super) raw: RawMutex,
    pub(super) data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `data` to one holder at a time.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; `&Mutex<T>` only gives `&mut T` through the lock.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex (usable in a `static`).
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// The protected value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Lock, parking the goroutine (wait reason `sync.Mutex.Lock`) while another holds it.
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.lock_at(Location::caller())
    }

    #[inline]
    pub(crate) fn lock_at(&self, site: &'static Location<'static>) -> MutexGuard<'_, T> {
        self.raw.lock(WaitReason::MutexLock, site, &mutex_detail);
        MutexGuard {
            mutex: self,
            site,
            _not_send: PhantomData,
        }
    }

    /// [`lock`](Mutex::lock) as a future, for tasks (`goweave::task`) and any other executor:
    /// the same lock and wait queue (Go's algorithm, starvation mode included), with the
    /// future's waker queued instead of a parked goroutine.
    ///
    /// The guard is the `!Send` [`MutexGuard`], fine between two awaits; to hold the lock
    /// across an `.await` in a task (whose future must be `Send`), use
    /// [`lock_owned_async`](Mutex::lock_owned_async).
    ///
    /// ```
    /// use std::sync::Arc;
    /// goweave::run(|| {
    ///     let m = Arc::new(goweave::sync::Mutex::new(0));
    ///     let hs: Vec<_> = (0..4)
    ///         .map(|_| {
    ///             let m = m.clone();
    ///             goweave::task::spawn(async move { *m.lock_async().await += 1 })
    ///         })
    ///         .collect();
    ///     hs.into_iter().for_each(|h| h.join());
    ///     assert_eq!(*m.lock(), 4);
    /// });
    /// ```
    #[track_caller]
    pub fn lock_async(&self) -> impl std::future::Future<Output = MutexGuard<'_, T>> + Send
    where
        T: Send,
    {
        let site = Location::caller();
        async move {
            self.raw.lock_async(WaitReason::MutexLock, site).await;
            MutexGuard {
                mutex: self,
                site,
                _not_send: PhantomData,
            }
        }
    }

    /// Lock if nobody holds it (Go's `TryLock`).
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let site = Location::caller();
        let g = self.raw.try_lock(site).then(|| MutexGuard {
            mutex: self,
            site,
            _not_send: PhantomData,
        });
        if g.is_none() {
            // Polling: give way (see `executor::yield_hint`).
            crate::runtime::executor::yield_hint();
        }
        g
    }

    /// Mutable access without locking: `&mut self` proves nobody else can hold it.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// True if some goroutine holds the lock right now (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Mutex<T> {
        Mutex::new(v)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &self.is_locked())
            .finish_non_exhaustive()
    }
}

/// Proof of holding a [`Mutex`]; unlocks when dropped.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(crate) mutex: &'a Mutex<T>,
    /// Where it was locked (also the site of the unlock event).
    site: &'static Location<'static>,
    /// Like std's guard, it stays on the goroutine that locked.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Cond::wait`).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }

    /// Unlock now, with the unlock event at `site` (for `Cond::wait`).
    pub(crate) fn unlock_at(self, site: &'static Location<'static>) {
        let m = self.mutex;
        std::mem::forget(self);
        m.raw.unlock(site);
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive ownership of the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive ownership of the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock(self.site);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
