//! Locks without data, for Go code that unlocks in another goroutine than the one that locked:
//! [`RawMutex`] (Go's `sync.Mutex`), [`RawRwLock`] (Go's `sync.RWMutex`), the [`Locker`]
//! trait (Go's `sync.Locker`) and [`RLocker`] (Go's `RWMutex.RLocker()`).
//!
//! "A locked Mutex is not associated with a particular goroutine. It is allowed for one
//! goroutine to lock a Mutex and then arrange for another goroutine to unlock it" (Go's `sync`
//! documentation). A lock that guards data cannot offer that safely in Rust: an unlock by
//! someone who does not hold the lock would let two goroutines reach the data at once. So
//! these locks guard nothing: they order code, as Go's do, and data shared under them lives
//! in atomics, channels or [`RaceCell`](crate::cell::RaceCell)s (whose accesses the race
//! detector checks against these locks' happens-before edges). For a lock with data whose
//! guard moves to another goroutine, see [`Mutex::lock_owned`](super::Mutex::lock_owned).
//!
//! Unlocking a lock that is not locked panics with Go's message (`fatal error: sync: unlock of
//! unlocked mutex`, `... RUnlock of unlocked RWMutex`, `... Unlock of unlocked RWMutex`) and
//! leaves the lock as it was. In Go this is a fatal error; here it is a panic, so that the
//! tester reports it (with its replay token) like any other.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use super::mutex::{self, RawMutex as Inner};
use super::rwlock::RawRwLock as InnerRw;
use crate::runtime::goroutine::WaitReason;

/// Go's `sync.Locker`: something that can be locked and unlocked, by any goroutine.
///
/// Implemented by [`RawMutex`], [`RawRwLock`] (its write lock) and [`RLocker`] (a
/// `RawRwLock`'s read lock), for code written against "a lock":
///
/// ```
/// use goweave::sync::{Locker, RawMutex, RawRwLock};
///
/// fn critical(l: &dyn Locker, f: impl FnOnce()) {
///     l.lock();
///     f();
///     l.unlock();
/// }
///
/// goweave::run(|| {
///     let (m, rw) = (RawMutex::new(), RawRwLock::new());
///     critical(&m, || {});
///     critical(&rw, || {});
///     critical(&rw.rlocker(), || {});
/// });
/// ```
pub trait Locker {
    /// Lock, parking the goroutine while the lock is not available.
    #[track_caller]
    fn lock(&self);
    /// Unlock; panics (Go's fatal error) if the lock is not locked.
    #[track_caller]
    fn unlock(&self);
}

/// Go's `sync.Mutex`: a mutual-exclusion lock with no data, which any goroutine may unlock.
///
/// The same lock as [`Mutex`](super::Mutex) (Go's algorithm, starvation mode, the tester's
/// `[sync.Mutex.Lock]` reports with the holder, race-detector edges from unlock to the next
/// lock), with Go's `Lock`/`Unlock` instead of a guard.
///
/// ```
/// use std::sync::Arc;
/// use goweave::sync::RawMutex;
///
/// goweave::run(|| {
///     let m = Arc::new(RawMutex::new());
///     m.lock();
///     let m2 = m.clone();
///     goweave::go(move || m2.unlock()); // another goroutine unlocks, as Go allows
///     m.lock(); // waits for that unlock
///     m.unlock();
/// });
/// ```
pub struct RawMutex {
    inner: Inner,
}

impl RawMutex {
    /// A new, unlocked mutex (usable in a `static`).
    pub const fn new() -> RawMutex {
        RawMutex {
            inner: Inner::new(),
        }
    }

    /// Lock (Go's `Lock`), parking (wait reason `sync.Mutex.Lock`) while it is locked.
    #[track_caller]
    #[inline]
    pub fn lock(&self) {
        self.inner.lock(
            WaitReason::MutexLock,
            Location::caller(),
            &mutex::mutex_detail,
        );
    }

    /// Lock if it is not locked (Go's `TryLock`).
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> bool {
        let ok = self.inner.try_lock(Location::caller());
        if !ok {
            // Polling: give way (see `executor::yield_hint`).
            crate::runtime::executor::yield_hint();
        }
        ok
    }

    /// Unlock (Go's `Unlock`), from any goroutine. Panics with `fatal error: sync: unlock of
    /// unlocked mutex` if it is not locked.
    #[track_caller]
    #[inline]
    pub fn unlock(&self) {
        self.inner.unlock(Location::caller());
    }

    /// True if locked right now (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl Default for RawMutex {
    fn default() -> RawMutex {
        RawMutex::new()
    }
}

impl fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMutex")
            .field("locked", &self.is_locked())
            .finish()
    }
}

impl Locker for RawMutex {
    #[track_caller]
    fn lock(&self) {
        RawMutex::lock(self)
    }
    #[track_caller]
    fn unlock(&self) {
        RawMutex::unlock(self)
    }
}

/// Go's `sync.RWMutex`: a writer-preferring reader/writer lock with no data, which any
/// goroutine may unlock.
///
/// The same lock as [`RwLock`](super::RwLock) (Go's algorithm and race-detector edges), with
/// Go's `Lock`/`Unlock`/`RLock`/`RUnlock`, and [`rlocker`](RawRwLock::rlocker).
pub struct RawRwLock {
    inner: InnerRw,
}

impl RawRwLock {
    /// A new, unlocked lock (usable in a `static`).
    pub const fn new() -> RawRwLock {
        RawRwLock {
            inner: InnerRw::new(),
        }
    }

    /// Write-lock (Go's `Lock`), parking (wait reason `sync.RWMutex.Lock`) while readers or a
    /// writer hold it.
    #[track_caller]
    #[inline]
    pub fn lock(&self) {
        self.inner.write(Location::caller());
    }

    /// Write-lock if that needs no waiting (Go's `TryLock`).
    #[track_caller]
    pub fn try_lock(&self) -> bool {
        self.inner.try_write(Location::caller())
    }

    /// Write-unlock (Go's `Unlock`), from any goroutine. Panics with `fatal error: sync:
    /// Unlock of unlocked RWMutex` if it is not write-locked.
    #[track_caller]
    #[inline]
    pub fn unlock(&self) {
        self.inner.write_unlock(Location::caller());
    }

    /// Read-lock (Go's `RLock`), parking (wait reason `sync.RWMutex.RLock`) while a writer
    /// holds or waits for it.
    #[track_caller]
    #[inline]
    pub fn rlock(&self) {
        self.inner.read(Location::caller());
    }

    /// Read-lock if that needs no waiting (Go's `TryRLock`).
    #[track_caller]
    pub fn try_rlock(&self) -> bool {
        self.inner.try_read(Location::caller())
    }

    /// Read-unlock (Go's `RUnlock`), from any goroutine. Panics with `fatal error: sync:
    /// RUnlock of unlocked RWMutex` if it is not read-locked.
    #[track_caller]
    #[inline]
    pub fn runlock(&self) {
        self.inner.read_unlock(Location::caller());
    }

    /// A [`Locker`] whose `lock`/`unlock` are this lock's `rlock`/`runlock` (Go's
    /// `RLocker()`), for code that takes "a lock", such as
    /// [`Cond::wait_locker`](super::Cond::wait_locker).
    pub fn rlocker(&self) -> RLocker<'_> {
        RLocker { rw: self }
    }
}

impl Default for RawRwLock {
    fn default() -> RawRwLock {
        RawRwLock::new()
    }
}

impl fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRwLock").finish_non_exhaustive()
    }
}

impl Locker for RawRwLock {
    #[track_caller]
    fn lock(&self) {
        RawRwLock::lock(self)
    }
    #[track_caller]
    fn unlock(&self) {
        RawRwLock::unlock(self)
    }
}

/// The read side of a [`RawRwLock`] as a [`Locker`] (Go's `RWMutex.RLocker()`).
#[derive(Clone, Copy, Debug)]
pub struct RLocker<'a> {
    rw: &'a RawRwLock,
}

impl Locker for RLocker<'_> {
    #[track_caller]
    fn lock(&self) {
        self.rw.rlock()
    }
    #[track_caller]
    fn unlock(&self) {
        self.rw.runlock()
    }
}

impl<L: Locker + ?Sized> Locker for &L {
    #[track_caller]
    fn lock(&self) {
        (**self).lock()
    }
    #[track_caller]
    fn unlock(&self) {
        (**self).unlock()
    }
}

impl<L: Locker + ?Sized> Locker for Arc<L> {
    #[track_caller]
    fn lock(&self) {
        (**self).lock()
    }
    #[track_caller]
    fn unlock(&self) {
        (**self).unlock()
    }
}
