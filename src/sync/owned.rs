//! Guards that own their lock through an `Arc`, so they can move to another goroutine and be
//! dropped (unlocking) there: Go's "lock here, unlock in another goroutine" with the data
//! still behind the lock. Hand-over-hand locking across goroutines, or a critical section
//! handed to a worker, needs no `unsafe` with these.
//!
//! The borrowed guards ([`MutexGuard`](super::MutexGuard) and the `RwLock` ones) stay `!Send`
//! like std's; these are the sendable ones, as in tokio (`lock_owned`).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

use super::mutex::{self, Mutex};
use super::rwlock::RwLock;
use crate::runtime::goroutine::WaitReason;

impl<T: ?Sized> Mutex<T> {
    /// Lock, and return a guard that owns a reference to the mutex: it is `Send` (for
    /// `T: Send`), so another goroutine may drop it, which unlocks, as Go allows.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goweave::sync::Mutex;
    ///
    /// goweave::run(|| {
    ///     let m = Arc::new(Mutex::new(0));
    ///     let mut g = m.lock_owned();
    ///     *g += 1;
    ///     goweave::go(move || drop(g)); // unlocked by another goroutine
    ///     assert_eq!(*m.lock(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn lock_owned(self: &Arc<Self>) -> OwnedMutexGuard<T> {
        let site = Location::caller();
        self.raw
            .lock(WaitReason::MutexLock, site, &mutex::mutex_detail);
        OwnedMutexGuard {
            mutex: self.clone(),
            site,
            _not_sync: PhantomData,
        }
    }

    /// [`lock_owned`](Mutex::lock_owned) as a future (see [`Mutex::lock_async`]): its guard is
    /// `Send`, so a task may hold the lock across an `.await`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// goweave::run(|| {
    ///     let m = Arc::new(goweave::sync::Mutex::new(Vec::new()));
    ///     let m2 = m.clone();
    ///     goweave::task::spawn(async move {
    ///         let mut g = m2.lock_owned_async().await;
    ///         g.push(1);
    ///         goweave::task::yield_now().await; // still held
    ///         g.push(2);
    ///     })
    ///     .join();
    ///     assert_eq!(*m.lock(), vec![1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn lock_owned_async(
        self: &Arc<Self>,
    ) -> impl std::future::Future<Output = OwnedMutexGuard<T>> + Send + 'static
    where
        T: Send + 'static,
    {
        let site = Location::caller();
        let mutex = self.clone();
        async move {
            mutex.raw.lock_async(WaitReason::MutexLock, site).await;
            OwnedMutexGuard {
                mutex,
                site,
                _not_sync: PhantomData,
            }
        }
    }

    /// [`lock_owned`](Mutex::lock_owned) if nobody holds the lock (Go's `TryLock`).
    #[track_caller]
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedMutexGuard<T>> {
        let site = Location::caller();
        if !self.raw.try_lock(site) {
            crate::runtime::executor::yield_hint();
            return None;
        }
        Some(OwnedMutexGuard {
            mutex: self.clone(),
            site,
            _not_sync: PhantomData,
        })
    }
}

/// Proof of holding a [`Mutex`], owning a reference to it; unlocks when dropped, in whichever
/// goroutine drops it. From [`Mutex::lock_owned`].
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    /// Where it was locked (also the site of the unlock event).
    site: &'static Location<'static>,
    /// `Send` comes from the `Arc` (for `T: Send`); `Sync` is granted below only for
    /// `T: Sync`, since a shared guard hands out `&T`.
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: a shared guard only gives `&T`, which may be shared when `T: Sync`; the `Arc` inside
// is shareable when `T: Send`.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive ownership of the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive ownership of the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock(self.site);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Read-lock, and return a guard that owns a reference to the lock: it is `Send` (for
    /// `T: Send + Sync`), so another goroutine may drop it, which read-unlocks.
    #[track_caller]
    pub fn read_owned(self: &Arc<Self>) -> OwnedRwLockReadGuard<T> {
        let site = Location::caller();
        self.raw.read(site);
        OwnedRwLockReadGuard {
            lock: self.clone(),
            site,
        }
    }

    /// Write-lock, and return a guard that owns a reference to the lock: it is `Send` (for
    /// `T: Send + Sync`), so another goroutine may drop it, which unlocks.
    #[track_caller]
    pub fn write_owned(self: &Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        let site = Location::caller();
        self.raw.write(site);
        OwnedRwLockWriteGuard {
            lock: self.clone(),
            site,
        }
    }

    /// [`read_owned`](RwLock::read_owned) as a future (see [`RwLock::read_async`]): its guard
    /// is `Send`, so a task may hold the read lock across an `.await`.
    #[track_caller]
    pub fn read_owned_async(
        self: &Arc<Self>,
    ) -> impl std::future::Future<Output = OwnedRwLockReadGuard<T>> + Send + 'static
    where
        T: Send + Sync + 'static,
    {
        let site = Location::caller();
        let lock = self.clone();
        async move {
            lock.raw.read_async(site).await;
            OwnedRwLockReadGuard { lock, site }
        }
    }

    /// [`write_owned`](RwLock::write_owned) as a future (see [`RwLock::read_async`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// goweave::run(|| {
    ///     let l = Arc::new(goweave::sync::RwLock::new(0));
    ///     let w = l.clone();
    ///     goweave::task::spawn(async move {
    ///         let mut g = w.write_owned_async().await;
    ///         goweave::task::yield_now().await; // held across an await
    ///         *g += 1;
    ///     })
    ///     .join();
    ///     let r = l.clone();
    ///     assert_eq!(goweave::task::spawn(async move { *r.read_owned_async().await }).join(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn write_owned_async(
        self: &Arc<Self>,
    ) -> impl std::future::Future<Output = OwnedRwLockWriteGuard<T>> + Send + 'static
    where
        T: Send + Sync + 'static,
    {
        let site = Location::caller();
        let lock = self.clone();
        async move {
            lock.raw.write_async(site).await;
            OwnedRwLockWriteGuard { lock, site }
        }
    }
}

/// Proof of read-locking an [`RwLock`], owning a reference to it; read-unlocks when dropped,
/// in whichever goroutine drops it. From [`RwLock::read_owned`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    /// Where it was read-locked (also the site of the unlock event).
    site: &'static Location<'static>,
}

impl<T: ?Sized> Deref for OwnedRwLockReadGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while read-locked, nobody holds `&mut T`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.read_unlock(self.site);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Proof of write-locking an [`RwLock`], owning a reference to it; unlocks when dropped, in
/// whichever goroutine drops it. From [`RwLock::write_owned`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    /// Where it was write-locked (also the site of the unlock event).
    site: &'static Location<'static>,
}

impl<T: ?Sized> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write guard proves exclusive ownership.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard proves exclusive ownership.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.write_unlock(self.site);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
