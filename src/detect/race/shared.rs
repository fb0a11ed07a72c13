//! The detector of the work-stealing runtime (`race` feature): one [`Detector`] shared by every
//! worker behind a spin lock.

use super::Detector;

/// The detector of a work-stealing runtime (`race` feature), shared by its workers.
///
/// A spin lock rather than a `std::sync::Mutex`: every happens-before hook takes it, and
/// holds it for a few hundred nanoseconds at most without ever blocking, so a waiter spins
/// (yielding its thread after a while), and unlocking is a plain store, where the futex mutex
/// pays a second atomic read-modify-write to look for sleepers.
#[derive(Default)]
pub(crate) struct SharedDetector {
    /// Held while `detector` is borrowed.
    locked: std::sync::atomic::AtomicBool,
    /// Guarded by `locked`.
    detector: std::cell::UnsafeCell<Detector>,
}

// SAFETY: `detector` is only reached through a `DetectorGuard`, of which `locked` admits one at
// a time; a `Detector` may move between threads (it holds plain data and `&'static`
// locations).
unsafe impl Sync for SharedDetector {}

impl SharedDetector {
    /// Take the lock.
    #[inline]
    pub(crate) fn lock(&self) -> DetectorGuard<'_> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        DetectorGuard(self)
    }

    #[cold]
    fn lock_contended(&self) {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let mut spins = 0u32;
        loop {
            while self.locked.load(Relaxed) {
                if spins < 100 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    // The holder may have been preempted: let it run.
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// The locked detector of a work-stealing runtime.
pub(crate) struct DetectorGuard<'a>(&'a SharedDetector);

impl std::ops::Deref for DetectorGuard<'_> {
    type Target = Detector;
    fn deref(&self) -> &Detector {
        // SAFETY: we hold the lock.
        unsafe { &*self.0.detector.get() }
    }
}

impl std::ops::DerefMut for DetectorGuard<'_> {
    fn deref_mut(&mut self) -> &mut Detector {
        // SAFETY: we hold the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.0.detector.get() }
    }
}

impl Drop for DetectorGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0
            .locked
            .store(false, std::sync::atomic::Ordering::Release);
    }
}
