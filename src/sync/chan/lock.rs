//! The channel lock: a small test-and-test-and-set spin lock (Go's runtime `lock` also spins
//! before it sleeps).
//!
//! Why not `std::sync::Mutex`: a channel's critical sections are a few dozen instructions, and
//! std's futex mutex pays an atomic swap on every unlock (to learn whether to wake a sleeper);
//! here unlock is a plain release store. A waiter spins with exponential backoff and then
//! yields its thread, so a lock holder preempted by the OS is waited out without a futex.
//!
//! Invariants:
//! - `locked` is true exactly while one [`ChanGuard`] exists for this lock.
//! - The lock is never held across a goroutine switch except by `park`'s unlock step, which
//!   releases it on the scheduler's stack right after the switch; so on the controlled
//!   executor (one thread) it is never contended.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_utils::Backoff;

/// A spin lock guarding a channel's state.
#[derive(Default)]
pub(crate) struct ChanLock {
    /// True while held.
    locked: AtomicBool,
}

/// Proof that the lock is held; releases it on drop.
#[doc(hidden)]
pub struct ChanGuard<'a> {
    lock: &'a ChanLock,
}

impl ChanLock {
    /// Take the lock.
    #[inline]
    pub(crate) fn lock(&self) -> ChanGuard<'_> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        ChanGuard { lock: self }
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

impl Drop for ChanGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
