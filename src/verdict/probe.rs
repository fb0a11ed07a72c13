//! Probes: how a strategy learns, at a decision, whether the operation a goroutine announced
//! would block if that goroutine ran now.
//!
//! A blocking primitive (a channel send or receive, a `select!` without `default`,
//! `WaitGroup::wait`, `Semaphore::acquire`, `Once`) announces its operation together with a
//! [`WouldBlock`]: a closure over its own state, living in the announcing goroutine's frame.
//! The controlled executor keeps it, as a [`Probe`], beside the goroutine's pending event, and
//! a [`Decision`](crate::explore::Decision) answers `would_block` by calling it. The answer is
//! exact (it reads the primitive's real state at the decision) and costs nothing unless a
//! strategy asks.
//!
//! Invariants:
//! - A `Probe` is used only while the goroutine that announced it is suspended at that
//!   scheduling point (or is deciding there itself): the controlled executor drops it when the
//!   goroutine commits the event, before the primitive's frame can go away.
//! - A probe never blocks, never switches goroutines and never reaches the executor's state:
//!   it only looks at its primitive, under the primitive's own lock (which nobody holds at a
//!   decision on the controlled executor's single thread).

use std::ptr::NonNull;

/// "Would the announced operation block now?"
pub(crate) trait WouldBlock {
    /// True if the operation would park its goroutine if it ran now.
    fn would_block(&self) -> bool;

    /// The objects the operation may touch, if its event cannot name them (a `select!`: the
    /// ids of the channels its enabled cases name), into `out`.
    fn objects(&self, _out: &mut Vec<u64>) {}
}

impl<F: Fn() -> bool> WouldBlock for F {
    fn would_block(&self) -> bool {
        self()
    }
}

/// A [`WouldBlock`] borrowed from a suspended goroutine's frame (see the module invariants).
#[derive(Clone, Copy)]
pub(crate) struct Probe(NonNull<dyn WouldBlock>);

impl Probe {
    /// Keep `p` past its borrow.
    ///
    /// # Safety
    /// The caller keeps the referent alive and in place for as long as the probe may be
    /// asked ([`Probe::ask`]).
    pub(crate) unsafe fn new(p: &dyn WouldBlock) -> Probe {
        let short: NonNull<dyn WouldBlock + '_> = NonNull::from(p);
        // SAFETY: only the trait object's lifetime bound changes (same layout); the caller
        // promises the referent outlives every use.
        Probe(unsafe {
            std::mem::transmute::<NonNull<dyn WouldBlock + '_>, NonNull<dyn WouldBlock>>(short)
        })
    }

    /// Ask the probe.
    ///
    /// # Safety
    /// The referent passed to [`Probe::new`] is still alive.
    pub(crate) unsafe fn ask(self) -> bool {
        // SAFETY: alive (the caller's obligation); only shared access is ever made.
        unsafe { self.0.as_ref() }.would_block()
    }

    /// Ask the probe for the objects of its operation ([`WouldBlock::objects`]).
    ///
    /// # Safety
    /// As for [`Probe::ask`].
    pub(crate) unsafe fn objects(self, out: &mut Vec<u64>) {
        // SAFETY: alive (the caller's obligation); only shared access is ever made.
        unsafe { self.0.as_ref() }.objects(out)
    }
}
