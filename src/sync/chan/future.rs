//! `send_async` and `recv_async`: the channel operations as futures, for tasks and any other
//! executor. They are the blocking operations' own steps (`State::try_send`/`try_recv`, the
//! same wait queues and the same hand-off), with the waiter living in the pinned future
//! instead of on a parked goroutine's stack, and holding the future's waker instead of the
//! goroutine.
//!
//! Invariants (on top of `waitq`'s):
//! - A future in state `Queued` has its waiter linked in its channel's queue, or claimed by a
//!   waker (`Sleeper::was_claimed`, read under the channel lock); it never leaves `Queued`
//!   except by finding the claim, or by its drop unlinking the waiter under the lock.
//! - The future is `!Unpin` (the queue points into it): once queued, it does not move until it
//!   is done or dropped.
//!
//! Cancellation: dropping a queued `recv_async` future gives up its place in the queue; one
//! dropped after a sender already handed it a value (the future was woken but not polled
//! again) drops that value, as a goroutine torn down in `recv` would. A dropped `send_async`
//! future that was not yet claimed sends nothing.

use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::hchan::{HChan, RecvNow, SendNow, SEND_ON_CLOSED};
use super::waitq::{Sleeper, Waiter};
use crate::runtime::event::{Event, Op};
use crate::runtime::executor;
use crate::runtime::goroutine::WaitReason;

/// Where an async channel operation is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// Not polled yet.
    Start,
    /// Waiting in the channel's queue (see the module invariants).
    Queued,
    /// Returned `Ready`.
    Done,
}

/// The future of [`Chan::recv_async`](super::Chan::recv_async): `Some(v)`, or `None` once the
/// channel is closed and drained.
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    chan: &'a HChan<T>,
    site: &'static Location<'static>,
    stage: Stage,
    /// Set when the future queues itself.
    sleeper: Option<Sleeper>,
    /// Linked in the channel's `recvq` while `Queued`; the sender fills its slot.
    w: Waiter<T>,
    _pinned: PhantomPinned,
}

/// The future of [`Chan::send_async`](super::Chan::send_async). Panics with `send on closed
/// channel` as `send` does.
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    chan: &'a HChan<T>,
    site: &'static Location<'static>,
    stage: Stage,
    /// The value until it is sent or queued (then it waits in `w`).
    value: Option<T>,
    sleeper: Option<Sleeper>,
    /// Linked in the channel's `sendq` while `Queued`, holding the value.
    w: Waiter<T>,
    _pinned: PhantomPinned,
}

// SAFETY: the waiter and sleeper inside are only touched by the future's owner while not
// queued, and under the channel lock while queued (module invariants), wherever the future
// is; the values crossing are `T: Send`, and the waker is `Send`.
unsafe impl<T: Send> Send for RecvFuture<'_, T> {}
// SAFETY: `&RecvFuture` gives access to nothing.
unsafe impl<T: Send> Sync for RecvFuture<'_, T> {}
// SAFETY: as for `RecvFuture`.
unsafe impl<T: Send> Send for SendFuture<'_, T> {}
// SAFETY: `&SendFuture` gives access to nothing.
unsafe impl<T: Send> Sync for SendFuture<'_, T> {}

impl<'a, T> RecvFuture<'a, T> {
    pub(super) fn new(chan: &'a HChan<T>, site: &'static Location<'static>) -> Self {
        RecvFuture {
            chan,
            site,
            stage: Stage::Start,
            sleeper: None,
            w: Waiter::new(None),
            _pinned: PhantomPinned,
        }
    }
}

impl<'a, T> SendFuture<'a, T> {
    pub(super) fn new(chan: &'a HChan<T>, v: T, site: &'static Location<'static>) -> Self {
        SendFuture {
            chan,
            site,
            stage: Stage::Start,
            value: Some(v),
            sleeper: None,
            w: Waiter::new(None),
            _pinned: PhantomPinned,
        }
    }
}

impl<T> RecvFuture<'_, T> {
    /// Make a completed future new again, to receive once more (a stream reuses one future).
    #[cfg(feature = "stream")]
    pub(super) fn rearm(self: Pin<&mut Self>) {
        // SAFETY: the future is done, so its waiter is in no queue: nothing points into it.
        let this = unsafe { self.get_unchecked_mut() };
        debug_assert!(this.stage == Stage::Done);
        this.stage = Stage::Start;
        this.sleeper = None;
        this.w = Waiter::new(None);
    }
}

impl<T> SendFuture<'_, T> {
    /// Make a completed future new again, to send `v` (a sink reuses one future).
    #[cfg(feature = "stream")]
    pub(super) fn rearm(self: Pin<&mut Self>, v: T) {
        // SAFETY: as in `RecvFuture::rearm`.
        let this = unsafe { self.get_unchecked_mut() };
        debug_assert!(this.stage == Stage::Done);
        this.stage = Stage::Start;
        this.value = Some(v);
        this.sleeper = None;
        this.w = Waiter::new(None);
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: nothing is moved out of the pinned future; the waiter stays in place.
        let this = unsafe { self.get_unchecked_mut() };
        match this.stage {
            Stage::Start => {
                executor::sched_point_unlogged(Event::new(Op::ChanRecv, this.chan.id(), this.site));
                let mut st = this.chan.lock_for(Op::ChanRecv);
                // SAFETY: we hold the lock.
                match unsafe { st.try_recv() } {
                    RecvNow::Value(v, wake) => {
                        drop(st);
                        if let Some(g) = wake {
                            g.wake();
                        }
                        this.chan.received();
                        this.stage = Stage::Done;
                        Poll::Ready(Some(v))
                    }
                    RecvNow::Closed => {
                        this.stage = Stage::Done;
                        Poll::Ready(None)
                    }
                    RecvNow::WouldBlock => {
                        let sleeper = this.sleeper.insert(Sleeper::with_waker(
                            cx.waker().clone(),
                            crate::runtime::id(),
                            false,
                        ));
                        this.w.bind(sleeper, 0);
                        // SAFETY: we hold the lock; the waiter is pinned with the future and
                        // unlinked by its claimer or by the future's drop.
                        unsafe { st.recvq.enqueue(&this.w) };
                        this.stage = Stage::Queued;
                        drop(st);
                        crate::task::awaiting(WaitReason::ChanReceive, this.site);
                        Poll::Pending
                    }
                }
            }
            Stage::Queued => {
                let st = this.chan.lock();
                let sleeper = this.sleeper.as_ref().expect("queued with a sleeper");
                if !sleeper.was_claimed() {
                    sleeper.set_waker(cx.waker());
                    drop(st);
                    crate::task::awaiting(WaitReason::ChanReceive, this.site);
                    return Poll::Pending;
                }
                drop(st);
                this.stage = Stage::Done;
                if this.w.success() {
                    this.chan.received();
                    // SAFETY: the waiter is unlinked (claimed) and ours.
                    let v = unsafe { this.w.take() };
                    Poll::Ready(Some(v.expect("goweave: woken receiver without a value")))
                } else {
                    Poll::Ready(None)
                }
            }
            Stage::Done => panic!(
                "goweave: recv_async future (created at {}) polled after it completed",
                this.site
            ),
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = ();

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: as in `RecvFuture::poll`.
        let this = unsafe { self.get_unchecked_mut() };
        match this.stage {
            Stage::Start => {
                executor::sched_point_unlogged(Event::new(Op::ChanSend, this.chan.id(), this.site));
                this.chan.race_send(this.site);
                let v = this.value.take().expect("a value until sent");
                let mut st = this.chan.lock_for(Op::ChanSend);
                // SAFETY: we hold the lock.
                match unsafe { st.try_send(v) } {
                    SendNow::Done(wake) => {
                        drop(st);
                        if let Some(g) = wake {
                            g.wake();
                        }
                        this.stage = Stage::Done;
                        Poll::Ready(())
                    }
                    SendNow::Closed(v) => {
                        drop(st);
                        drop(v);
                        this.stage = Stage::Done;
                        panic!("{SEND_ON_CLOSED}");
                    }
                    SendNow::WouldBlock(v) => {
                        // SAFETY: the waiter is not queued and is ours.
                        unsafe { this.w.put(v) };
                        let sleeper = this.sleeper.insert(Sleeper::with_waker(
                            cx.waker().clone(),
                            crate::runtime::id(),
                            false,
                        ));
                        this.w.bind(sleeper, 0);
                        // SAFETY: as in `RecvFuture::poll`.
                        unsafe { st.sendq.enqueue(&this.w) };
                        this.stage = Stage::Queued;
                        drop(st);
                        crate::task::awaiting(WaitReason::ChanSend, this.site);
                        Poll::Pending
                    }
                }
            }
            Stage::Queued => {
                let st = this.chan.lock();
                let sleeper = this.sleeper.as_ref().expect("queued with a sleeper");
                if !sleeper.was_claimed() {
                    sleeper.set_waker(cx.waker());
                    drop(st);
                    crate::task::awaiting(WaitReason::ChanSend, this.site);
                    return Poll::Pending;
                }
                drop(st);
                this.stage = Stage::Done;
                if this.w.success() {
                    Poll::Ready(())
                } else {
                    // Closed while we waited; the value is still in the waiter, dropped
                    // with it.
                    panic!("{SEND_ON_CLOSED}");
                }
            }
            Stage::Done => panic!(
                "goweave: send_async future (created at {}) polled after it completed",
                this.site
            ),
        }
    }
}

/// Leave the queue if still in it.
fn unqueue<T>(chan: &HChan<T>, w: &Waiter<T>, send: bool) {
    let mut st = chan.lock();
    // SAFETY: we hold the lock; `w` was queued (if at all) in this queue.
    unsafe {
        if send {
            st.sendq.remove(w);
        } else {
            st.recvq.remove(w);
        }
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if self.stage == Stage::Queued {
            unqueue(self.chan, &self.w, false);
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if self.stage == Stage::Queued {
            unqueue(self.chan, &self.w, true);
        }
    }
}

impl<T> std::fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFuture")
            .field("chan", &self.chan.id())
            .field("stage", &self.stage)
            .finish()
    }
}

impl<T> std::fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture")
            .field("chan", &self.chan.id())
            .field("stage", &self.stage)
            .finish()
    }
}
