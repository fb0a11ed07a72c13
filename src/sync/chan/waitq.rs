//! Wait queues of blocked goroutines: Go's `waitq` of `sudog`s.
//!
//! A [`Waiter`] is one goroutine blocked on one channel, the way Go's `sudog` is. It lives on
//! the blocked goroutine's own stack (a goroutine is stackful, and its stack stays put while it
//! is parked), so blocking allocates nothing. A [`WaitQ`] links waiters intrusively, in FIFO
//! order, so a select can unlink its waiter from the middle of a queue in O(1).
//!
//! A [`Sleeper`] is the goroutine behind one or more waiters: a plain send or receive has one
//! waiter, a `select!` one per enabled case. Its `done` flag is Go's `g.selectDone`: the first
//! channel operation to claim it (a compare-and-swap) completes that case, and every other
//! channel that finds one of its waiters afterwards drops it unclaimed. That is how a goroutine
//! parked in a select is woken by exactly one case.
//!
//! Invariants:
//! - A waiter is linked in at most one queue, that of its channel, and `queued` says whether it
//!   is. Every field of a linked waiter is guarded by that channel's lock.
//! - Whoever unlinks a waiter and claims its sleeper owns the hand-off: it fills `slot`, sets
//!   `success`, takes the sleeper's goroutine and unparks it *after* releasing the channel lock.
//!   After that unpark it never touches the waiter again, because the waiter's goroutine may
//!   have returned and its stack frame may be gone.
//! - A waiter's goroutine does not leave the frame that holds the waiter before the waiter is
//!   unlinked: it was unlinked by its waker, or the goroutine unlinks it itself under the lock
//!   (after a select, or when it is torn down while parked).

use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::runtime::goroutine::GRef;
use crate::runtime::waiter::Waiter as Wakee;

/// One blocked goroutine, as the wait queues see it: Go's `g` plus its `selectDone` word.
///
/// Lives on the blocked goroutine's stack for the duration of one blocking operation.
#[doc(hidden)]
pub struct Sleeper {
    /// The goroutine, or the awaiting future's waker (`send_async`/`recv_async`), to wake.
    /// Taken by whoever claims the sleeper (exactly one party).
    g: Cell<Option<Wakee>>,
    /// That goroutine's id (for race-detector edges made on its behalf).
    gid: u64,
    /// True for a `select!`: claiming then needs the compare-and-swap on `done`.
    select: bool,
    /// Set once a waker has claimed this sleeper (Go's `selectDone`); for a select, only the
    /// compare-and-swap that sets it may complete a case.
    done: AtomicBool,
    /// The case index of the waiter that was claimed (select only; 0 otherwise). Written by
    /// the claimer before it unparks, read by the woken goroutine.
    winner: Cell<usize>,
}

impl Sleeper {
    /// A sleeper for goroutine `g`; `select` if it will wait on several queues.
    pub(crate) fn new(g: GRef, select: bool) -> Sleeper {
        Sleeper {
            gid: g.id,
            g: Cell::new(Some(Wakee::Goroutine(g))),
            select,
            done: AtomicBool::new(false),
            winner: Cell::new(usize::MAX),
        }
    }

    /// A sleeper for an awaiting future (`send_async`, `recv_async`) polled by record `gid`
    /// (a task, a goroutine in `block_on`; 0 on a thread outside the runtime): claiming it
    /// wakes `waker`.
    pub(crate) fn with_waker(waker: std::task::Waker, gid: u64, select: bool) -> Sleeper {
        Sleeper {
            gid,
            g: Cell::new(Some(Wakee::Task(waker))),
            select,
            done: AtomicBool::new(false),
            winner: Cell::new(usize::MAX),
        }
    }

    /// Claim this sleeper for case `case`. A plain waiter is claimed by whoever unlinks it (the
    /// channel lock makes that unique); a select is claimed by the first compare-and-swap.
    fn claim(&self, case: usize) -> bool {
        if self.select {
            if self
                .done
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return false;
            }
        } else {
            self.done.store(true, Ordering::Release);
        }
        self.winner.set(case);
        true
    }

    /// True once some case of this select has been claimed: its other waiters are dead.
    fn is_done(&self) -> bool {
        self.select && self.done.load(Ordering::Acquire)
    }

    /// Whether a waker claimed this sleeper; checked by the goroutine once it is woken.
    pub(crate) fn was_claimed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The case index that was claimed (select).
    pub(crate) fn winner(&self) -> usize {
        self.winner.get()
    }

    /// Replace the waker of an awaiting future still queued (it was polled again, perhaps by
    /// another task). The caller holds the lock of the channel it is queued on.
    pub(crate) fn set_waker(&self, waker: &std::task::Waker) {
        if let Some(Wakee::Task(w)) = self.g.take() {
            if w.will_wake(waker) {
                self.g.set(Some(Wakee::Task(w)));
                return;
            }
        }
        self.g.set(Some(Wakee::Task(waker.clone())));
    }

    /// Take the goroutine to unpark. Only the claimer calls this, once.
    fn take_g(&self) -> Wakee {
        self.g
            .take()
            .expect("goweave: a channel waiter was claimed twice (runtime bug)")
    }
}

/// One goroutine blocked on one channel (Go's `sudog`). See the module invariants.
pub(crate) struct Waiter<T> {
    /// The goroutine this waiter belongs to; set before the waiter is queued.
    sleeper: Cell<*const Sleeper>,
    /// Which case of the sleeper's select this is (0 for a plain operation).
    case: Cell<usize>,
    /// A blocked sender's value, taken by the receiver; or a blocked receiver's destination,
    /// filled by the sender. Guarded by the channel lock while queued.
    slot: UnsafeCell<Option<T>>,
    /// Set by the waker: true if a value was handed over, false if the channel was closed
    /// (Go's `sudog.success`).
    success: Cell<bool>,
    /// True while linked in a queue.
    queued: Cell<bool>,
    /// The previous waiter in the queue, or null.
    prev: Cell<*const Waiter<T>>,
    /// The next waiter in the queue, or null.
    next: Cell<*const Waiter<T>>,
}

impl<T> Waiter<T> {
    /// A waiter holding `value` (a sender's) or nothing (a receiver's).
    pub(crate) fn new(value: Option<T>) -> Waiter<T> {
        Waiter {
            sleeper: Cell::new(ptr::null()),
            case: Cell::new(0),
            slot: UnsafeCell::new(value),
            success: Cell::new(false),
            queued: Cell::new(false),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
        }
    }

    /// Attach the waiter to `sleeper` as case `case`, before queueing it.
    pub(crate) fn bind(&self, sleeper: &Sleeper, case: usize) {
        self.sleeper.set(sleeper);
        self.case.set(case);
    }

    /// Whether the operation handed over a value (false: woken by close).
    pub(crate) fn success(&self) -> bool {
        self.success.get()
    }

    pub(crate) fn set_success(&self, ok: bool) {
        self.success.set(ok);
    }

    /// Take the value out of the slot.
    ///
    /// # Safety
    /// The caller holds the channel lock, or owns the waiter (it is not queued and its
    /// goroutine is the caller).
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: exclusive access is the caller's obligation (see above).
        unsafe { (*self.slot.get()).take() }
    }

    /// Put a value into the slot.
    ///
    /// # Safety
    /// As for [`take`](Waiter::take).
    pub(crate) unsafe fn put(&self, v: T) {
        // SAFETY: exclusive access is the caller's obligation (see above).
        unsafe { *self.slot.get() = Some(v) };
    }

    /// The sleeper this waiter belongs to.
    fn sleeper(&self) -> &Sleeper {
        // SAFETY: a waiter is bound to its sleeper before it is queued, and both live in the
        // same parked frame until the waiter is unlinked (module invariants).
        unsafe { &*self.sleeper.get() }
    }

    /// The id of the waiter's goroutine.
    pub(crate) fn gid(&self) -> u64 {
        self.sleeper().gid
    }

    /// Take the goroutine to unpark; only after this waiter was claimed by [`WaitQ::dequeue`].
    pub(crate) fn take_g(&self) -> Wakee {
        self.sleeper().take_g()
    }
}

/// A FIFO of waiters, linked through the waiters themselves (Go's `waitq`).
pub(crate) struct WaitQ<T> {
    first: *const Waiter<T>,
    last: *const Waiter<T>,
}

impl<T> Default for WaitQ<T> {
    fn default() -> Self {
        WaitQ {
            first: ptr::null(),
            last: ptr::null(),
        }
    }
}

impl<T> WaitQ<T> {
    /// Link `w` at the tail.
    ///
    /// # Safety
    /// The caller holds the channel lock; `w` is bound to a sleeper, not queued, and stays at
    /// its address until it is unlinked again.
    pub(crate) unsafe fn enqueue(&mut self, w: &Waiter<T>) {
        debug_assert!(!w.queued.get() && !w.sleeper.get().is_null());
        w.queued.set(true);
        w.next.set(ptr::null());
        w.prev.set(self.last);
        if self.last.is_null() {
            self.first = w;
        } else {
            // SAFETY: a queued waiter is alive (module invariants).
            unsafe { &*self.last }.next.set(w);
        }
        self.last = w;
    }

    /// Unlink `w` if it is queued here.
    ///
    /// # Safety
    /// The caller holds the channel lock; `w` was queued (if at all) in this queue.
    pub(crate) unsafe fn remove(&mut self, w: &Waiter<T>) {
        if !w.queued.get() {
            return;
        }
        let (prev, next) = (w.prev.get(), w.next.get());
        if prev.is_null() {
            self.first = next;
        } else {
            // SAFETY: neighbours of a queued waiter are queued, hence alive.
            unsafe { &*prev }.next.set(next);
        }
        if next.is_null() {
            self.last = prev;
        } else {
            // SAFETY: as above.
            unsafe { &*next }.prev.set(prev);
        }
        w.prev.set(ptr::null());
        w.next.set(ptr::null());
        w.queued.set(false);
    }

    /// Unlink and claim the first waiter that can still be woken (Go's `dequeue`). Waiters of
    /// a select that another case already won are unlinked and skipped.
    ///
    /// The returned reference is valid until the caller releases the channel lock (after
    /// which the waiter's goroutine may run and return).
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn dequeue<'a>(&mut self) -> Option<&'a Waiter<T>> {
        loop {
            if self.first.is_null() {
                return None;
            }
            // SAFETY: a queued waiter is alive until it is unlinked and its goroutine woken.
            let w: &'a Waiter<T> = unsafe { &*self.first };
            // SAFETY: the caller holds the lock; `w` is queued here.
            unsafe { self.remove(w) };
            if w.sleeper().claim(w.case.get()) {
                return Some(w);
            }
        }
    }

    /// True if no waiter, live or dead, is linked here (for tests of the unqueue steps).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_null() && self.last.is_null()
    }

    /// True if a waiter that can still be woken is queued. Dead select waiters found at the
    /// head are unlinked on the way. (Another channel may still claim the head's select right
    /// after this returns: a later [`dequeue`](WaitQ::dequeue) can then come back empty.)
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn has_live(&mut self) -> bool {
        while !self.first.is_null() {
            // SAFETY: as in `dequeue`.
            let w = unsafe { &*self.first };
            if !w.sleeper().is_done() {
                return true;
            }
            // SAFETY: the caller holds the lock; `w` is queued here.
            unsafe { self.remove(w) };
        }
        false
    }
}
