//! Stamps that order operations on different objects of a recorded run: a cheap,
//! machine-wide, roughly real-time counter. Operations on one object are ordered exactly by
//! the object's own sequence numbers; stamps only break ties between unrelated objects (which
//! goroutine reached its operation first), so a little skew between cores is harmless.

/// The current stamp.
#[inline]
pub(crate) fn stamp() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` exists on every x86_64 processor and has no preconditions; it only
        // reads the time-stamp counter (invariant and synchronised across cores on the
        // processors of the last fifteen years).
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        crate::runtime::executor::steal::real_now().as_nanos() as u64
    }
}
