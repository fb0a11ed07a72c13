//! A small test-and-test-and-set spin lock (Go's runtime `lock` also spins before it sleeps).
//!
//! Why not `std::sync::Mutex`: the critical sections it guards (a channel's state, a
//! registry shard, the shared race detector) are a few dozen to a few hundred instructions and
//! never block, and std's futex mutex pays an atomic swap on every unlock (to learn whether to
//! wake a sleeper); here unlock is a plain release store. A waiter spins with exponential
//! backoff and then yields its thread, so a holder preempted by the OS is waited out without a
//! futex.
//!
//! Invariants:
//! - `locked` is true exactly while one [`RawGuard`] (or [`SpinGuard`]) of the lock exists.
//! - [`SpinLock`]'s value is only reached through its guard.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_utils::Backoff;

/// A spin lock that guards data kept elsewhere (a channel keeps its state beside its lock).
#[derive(Default)]
pub struct RawSpinLock {
    /// True while held.
    locked: AtomicBool,
}

/// Proof that a [`RawSpinLock`] is held; releases it on drop (also when unwinding).
#[doc(hidden)]
pub struct RawGuard<'a> {
    lock: &'a RawSpinLock,
}

impl RawSpinLock {
    /// Take the lock.
    #[inline]
    pub(crate) fn lock(&self) -> RawGuard<'_> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        RawGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let backoff = Backoff::new();
        loop {
            // Test before test-and-set: spin on a shared read, not on the RMW.
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl Drop for RawGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

/// A spin lock and the value it guards.
#[derive(Default)]
pub(crate) struct SpinLock<T> {
    raw: RawSpinLock,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a `SpinGuard`, and `raw` admits one guard at a
// time, so sharing the lock shares the value with one thread at a time: `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Access to a [`SpinLock`]'s value while the lock is held.
pub(crate) struct SpinGuard<'a, T> {
    _held: RawGuard<'a>,
    value: &'a UnsafeCell<T>,
}

impl<T> SpinLock<T> {
    /// A new, unlocked lock holding `value`.
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            raw: RawSpinLock {
                locked: AtomicBool::new(false),
            },
            value: UnsafeCell::new(value),
        }
    }

    /// The value, reached without the lock, for an owner that knows nobody else can reach
    /// the lock any more (a join cell whose other owner let go of it, `gocell`).
    ///
    /// # Safety
    /// No guard of this lock exists, and no other thread can take one while the pointer is
    /// used; the last holder's writes happen before (an `Acquire` the caller did).
    #[inline]
    pub(crate) unsafe fn value_unlocked(&self) -> *mut T {
        self.value.get()
    }

    /// Take the lock.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        SpinGuard {
            _held: self.raw.lock(),
            value: &self.value,
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `_held` proves the lock is ours for the guard's life, so no other reference
        // to the value exists.
        unsafe { &*self.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.value.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_lock_serialises_increments() {
        let l = Arc::new(SpinLock::<u64>::default());
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        *l.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*l.lock(), 4000);
    }

    #[test]
    fn an_unwinding_holder_releases_the_lock() {
        let l = SpinLock::<u32>::default();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = l.lock();
            panic!("inside");
        }));
        assert!(r.is_err());
        *l.lock() = 7;
        assert_eq!(*l.lock(), 7);
    }
}
