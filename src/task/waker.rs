//! Wakers of goroutine records: a task's, or a goroutine's in `block_on`.
//!
//! The waker's data pointer is the record (an `Arc<G>`): a clone holds a strong reference, so
//! a record is never recycled while a waker of it lives. Waking sets the record's `notified`
//! flag *before* the executor's `unpark`; the park that follows a poll checks the flag after
//! the record is marked waiting (`poll::parked`), so a wake that lands during the poll (when
//! `unpark` finds the record running and does nothing) is never lost.
//!
//! Invariants:
//! - `G::wakers` counts the clones alive (the waker lent to `poll` is not one, and is never
//!   dropped); a clone increments it before it exists and decrements it after it woke.
//! - `notified` is set before the count goes down, so a record read with no wakers and not
//!   notified has no wake on its way.

use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::runtime::executor;
use crate::runtime::goroutine::{GRef, G};
use crate::runtime::hb::{self, Key};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// The synchronisation key of wakes of record `g` (a release by the waker, an acquire by the
/// next poll): the race detector sees what the waker did before waking.
pub(super) fn wake_key(g: u64) -> Key {
    /// Sub-key of `Key::Part` no primitive uses (they number their parts from 0).
    const WAKE_PART: u64 = u64::MAX - 0x7a;
    Key::Part(g, WAKE_PART)
}

/// The waker lent to `poll`: not counted, never dropped. Valid while `g` is alive, which the
/// caller guarantees for the duration of the poll.
pub(super) fn lent(g: &GRef) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(Arc::as_ptr(g).cast(), &VTABLE);
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for a pointer obtained
    // from `Arc::as_ptr` of a live `Arc<G>` (each clone owns one strong count).
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

/// The id of the record (task, or goroutine in `block_on`) that `w` wakes, if `w` is one of
/// these wakers; `None` for any other executor's waker.
pub(crate) fn record_id(w: &Waker) -> Option<u64> {
    if !std::ptr::eq(w.vtable(), &VTABLE) {
        return None;
    }
    // SAFETY: a waker with this vtable has a live record as its data pointer (each waker
    // holds a strong count of it, and the lent one is only used while its record lives).
    Some(unsafe { (*w.data().cast::<G>()).id })
}

/// Mark `g` notified and make it runnable (it may be running: see the module docs).
fn notify(g: &G) {
    hb::release_merge(wake_key(g.id));
    g.notified.store(true, Ordering::SeqCst);
}

unsafe fn clone(p: *const ()) -> RawWaker {
    let g = p.cast::<G>();
    // SAFETY: `p` is a live record (the waker being cloned keeps it alive).
    unsafe {
        (*g).wakers.fetch_add(1, Ordering::SeqCst);
        Arc::increment_strong_count(g);
    }
    RawWaker::new(p, &VTABLE)
}

unsafe fn wake(p: *const ()) {
    // SAFETY: a cloned waker owns one strong count of the record, handed to `unpark` here.
    let g = unsafe { Arc::from_raw(p.cast::<G>()) };
    notify(&g);
    g.wakers.fetch_sub(1, Ordering::SeqCst);
    executor::unpark(g);
}

unsafe fn wake_by_ref(p: *const ()) {
    let g = p.cast::<G>();
    // SAFETY: the waker keeps the record alive; the new count is handed to `unpark`.
    let g = unsafe {
        Arc::increment_strong_count(g);
        Arc::from_raw(g)
    };
    notify(&g);
    executor::unpark(g);
}

unsafe fn drop_waker(p: *const ()) {
    let g = p.cast::<G>();
    // SAFETY: a cloned waker owns one strong count of the record.
    unsafe {
        (*g).wakers.fetch_sub(1, Ordering::SeqCst);
        Arc::decrement_strong_count(g);
    }
}
