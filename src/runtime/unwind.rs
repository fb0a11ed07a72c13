//! Goroutines in the middle of an unwind, and why they must not be suspended there.
//!
//! Rust keeps its count of panics in progress per OS thread, and every goroutine of a thread
//! shares it. A goroutine that suspends while unwinding leaves the count raised for the
//! goroutines that run after it (`std::thread::panicking()` turns true for them, and a std
//! `MutexGuard` they drop poisons its mutex); and tearing it down later would start a second
//! unwind through the destructor it stopped in, which Rust answers by aborting the process.
//!
//! So:
//! - a goroutine that is unwinding is never switched out at a scheduling point or a `gosched`
//!   (the controlled executor still counts and traces the event): the unwind of a panic in a
//!   critical section, which releases the lock at a scheduling point, runs to its end;
//! - only a destructor that blocks (parks) can suspend an unwind. The goroutine is marked
//!   `parked_unwinding` while it is parked, and a teardown leaves it where it is (its stack is
//!   abandoned) and reports its panic instead of force-unwinding it.
//!
//! Invariant: `PARKED` counts the goroutines of this thread suspended mid-unwind (parked, or
//! abandoned by a teardown). While it is 0, the thread's panic count is the running
//! goroutine's own, so `std::thread::panicking()` answers for that goroutine alone; otherwise
//! the goroutine must also have raised a panic nobody caught yet (the panic hook's record).

use std::cell::Cell;
use std::sync::atomic::Ordering;

use super::goroutine::G;
use super::panic;

thread_local! {
    /// Goroutines of this thread suspended in the middle of an unwind (see the invariant).
    static PARKED: Cell<usize> = const { Cell::new(0) };
}

/// True if `g`, the goroutine running on this thread, is unwinding a panic. Costs one relaxed
/// load of std's global panic count when no panic is in progress anywhere.
#[inline]
pub(crate) fn unwinding(g: &G) -> bool {
    std::thread::panicking() && (PARKED.with(Cell::get) == 0 || panic::has_raised(g.id))
}

/// `g` is about to park; true if it is unwinding (then it is marked, and [`resumed`] must be
/// called with `true` when it runs again). Inline: every park asks, and nearly every answer is
/// no (one load of std's panic count).
#[inline]
pub(crate) fn parking(g: &G) -> bool {
    let unwinding = unwinding(g);
    if unwinding {
        mark_parked(g);
    }
    unwinding
}

/// The rare half of [`parking`]: `g` parks in the middle of an unwind.
#[cold]
fn mark_parked(g: &G) {
    g.parked_unwinding.store(true, Ordering::Release);
    PARKED.with(|p| p.set(p.get() + 1));
}

/// `g` runs again after [`parking`] said it was unwinding.
pub(crate) fn resumed(g: &G) {
    g.parked_unwinding.store(false, Ordering::Release);
    PARKED.with(|p| p.set(p.get() - 1));
}
