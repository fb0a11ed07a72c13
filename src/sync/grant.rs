//! The queue entry of a future waiting in a hand-off queue (`Sema`, `Semaphore`): a waker
//! that records the grant before waking the future's latest waker. A hand-off queue's rule, a
//! woken waiter owns what it waited for, then holds for futures too, which may be polled (and
//! so woken) for other reasons at any time.
//!
//! Invariant: `granted` is set only by the queue's releaser, after it dequeued the entry and
//! handed it its share; the future then owns the share whether or not it polls again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

use super::obj::lock_queue;
use crate::runtime::waiter::Waiter;

/// See the module docs.
pub(crate) struct Grant {
    granted: AtomicBool,
    /// The waker of the latest poll.
    waker: Mutex<Waker>,
}

/// The entry's waker functions, written out (rather than `std::task::Wake`) so that an entry
/// is recognised by its vtable: a waiter choice asks which record it wakes ([`owner`]).
static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_entry);

unsafe fn clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` came from `Arc::into_raw` of an `Arc<Grant>`, and the waker being cloned
    // owns one strong count of it, so it is live; the clone owns the count added here.
    unsafe { Arc::increment_strong_count(p.cast::<Grant>()) };
    RawWaker::new(p, &VTABLE)
}

unsafe fn wake(p: *const ()) {
    // SAFETY: as in `clone`; waking by value consumes the waker's strong count.
    let g = unsafe { Arc::from_raw(p.cast::<Grant>()) };
    g.grant();
}

unsafe fn wake_by_ref(p: *const ()) {
    // SAFETY: as in `clone`: the grant lives at least as long as the waker.
    unsafe { &*p.cast::<Grant>() }.grant();
}

unsafe fn drop_entry(p: *const ()) {
    // SAFETY: as in `clone`; dropping the waker releases its strong count.
    drop(unsafe { Arc::from_raw(p.cast::<Grant>()) });
}

/// The goroutine or task record a queued future's waker `w` wakes (a grant entry's: the
/// future's latest waker), for a waiter choice; `None` for a future outside the runtime.
pub(crate) fn owner(w: &Waker) -> Option<u64> {
    if !std::ptr::eq(w.vtable(), &VTABLE) {
        return crate::task::waker_record_id(w);
    }
    // SAFETY: a waker with this vtable was made by `Grant::new` from a live `Arc<Grant>`, and
    // holds a strong count of it while `w` lives.
    let g = unsafe { &*w.data().cast::<Grant>() };
    let latest = lock_queue(&g.waker);
    crate::task::waker_record_id(&latest)
}

impl Grant {
    /// Record the grant, then wake the future's latest waker.
    fn grant(&self) {
        self.granted.store(true, Ordering::SeqCst);
        let w = lock_queue(&self.waker).clone();
        w.wake();
    }

    /// A grant for the future polled with `cx`, and the entry to queue for it.
    pub(crate) fn new(cx: &Context<'_>) -> (Arc<Grant>, Waker) {
        let g = Arc::new(Grant {
            granted: AtomicBool::new(false),
            waker: Mutex::new(cx.waker().clone()),
        });
        let raw = RawWaker::new(Arc::into_raw(g.clone()).cast(), &VTABLE);
        // SAFETY: the vtable's functions keep the `RawWaker` contract for a pointer from
        // `Arc::into_raw` of an `Arc<Grant>` (each waker owns one strong count).
        let entry = unsafe { Waker::from_raw(raw) };
        (g, entry)
    }

    /// True once granted; otherwise the latest waker is recorded (and the grant checked again,
    /// since one that landed meanwhile woke the previous waker).
    pub(crate) fn poll(&self, cx: &Context<'_>) -> bool {
        if self.granted.load(Ordering::SeqCst) {
            return true;
        }
        *lock_queue(&self.waker) = cx.waker().clone();
        self.granted.load(Ordering::SeqCst)
    }

    /// True if the queued waiter `w` is the entry `entry`.
    pub(crate) fn is_entry(w: &Waiter, entry: &Waker) -> bool {
        matches!(w, Waiter::Task(k) if k.will_wake(entry))
    }
}
