//! The queue entry of a future waiting in a hand-off queue (`Sema`, `Semaphore`): a waker
//! that records the grant before waking the future's latest waker. A hand-off queue's rule, a
//! woken waiter owns what it waited for, then holds for futures too, which may be polled (and
//! so woken) for other reasons at any time.
//!
//! Invariant: `granted` is set only by the queue's releaser, after it dequeued the entry and
//! handed it its share; the future then owns the share whether or not it polls again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use super::obj::lock_queue;
use crate::runtime::waiter::Waiter;

/// See the module docs.
pub(crate) struct Grant {
    granted: AtomicBool,
    /// The waker of the latest poll.
    waker: Mutex<Waker>,
}

impl Wake for Grant {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.granted.store(true, Ordering::SeqCst);
        let w = lock_queue(&self.waker).clone();
        w.wake();
    }
}

impl Grant {
    /// A grant for the future polled with `cx`, and the entry to queue for it.
    pub(crate) fn new(cx: &Context<'_>) -> (Arc<Grant>, Waker) {
        let g = Arc::new(Grant {
            granted: AtomicBool::new(false),
            waker: Mutex::new(cx.waker().clone()),
        });
        let entry = Waker::from(g.clone());
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
