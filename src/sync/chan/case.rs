//! The channel side of `select!`: one receive or send case, implementing [`SelectHandle`] over a
//! channel, and the traits that say what a case accepts ([`AsRecv`], [`AsSend`]).
//!
//! Invariants:
//! - A case owns one [`Waiter`], inline. The case lives in the `select!` expansion's frame and
//!   is not moved while the select runs, so the waiter stays at one address while queued.
//! - Every `unsafe` hook runs with the channel lock held by `select` (see [`SelectHandle`]).
//! - A case with no channel (Go's nil channel) is disabled: `lock_key` is `None`, and `select`
//!   calls none of the other hooks except `nil_reason`.

use std::cell::Cell;
use std::panic::Location;

use super::hchan::{HChan, RecvNow, SendNow};
use super::lock::ChanGuard;
use super::select::{SelectHandle, Wake};
use super::waitq::{Sleeper, Waiter};
use super::{Chan, Receiver, Sender};
use crate::runtime::goroutine::WaitReason;

/// What a `recv(..)` case of [`select!`](crate::select) accepts: a channel or a receive view,
/// by value or reference, or an `Option` of one, where `None` is Go's nil channel (the case is
/// disabled).
pub trait AsRecv {
    /// The element type.
    type Item;
    /// The channel to receive from, or `None` for a disabled case.
    fn as_recv(&self) -> Option<&Chan<Self::Item>>;
}

/// What a `send(..)` case of [`select!`](crate::select) accepts: a channel or a send view, by
/// value or reference, or an `Option` of one, where `None` is Go's nil channel (the case is
/// disabled).
pub trait AsSend {
    /// The element type.
    type Item;
    /// The channel to send on, or `None` for a disabled case.
    fn as_send(&self) -> Option<&Chan<Self::Item>>;
}

impl<T> AsRecv for Chan<T> {
    type Item = T;
    fn as_recv(&self) -> Option<&Chan<T>> {
        Some(self)
    }
}

impl<T> AsRecv for Receiver<T> {
    type Item = T;
    fn as_recv(&self) -> Option<&Chan<T>> {
        Some(&self.0)
    }
}

impl<C: AsRecv + ?Sized> AsRecv for &C {
    type Item = C::Item;
    fn as_recv(&self) -> Option<&Chan<C::Item>> {
        (**self).as_recv()
    }
}

impl<C: AsRecv> AsRecv for Option<C> {
    type Item = C::Item;
    fn as_recv(&self) -> Option<&Chan<C::Item>> {
        self.as_ref().and_then(|c| c.as_recv())
    }
}

impl<T> AsSend for Chan<T> {
    type Item = T;
    fn as_send(&self) -> Option<&Chan<T>> {
        Some(self)
    }
}

impl<T> AsSend for Sender<T> {
    type Item = T;
    fn as_send(&self) -> Option<&Chan<T>> {
        Some(&self.0)
    }
}

impl<C: AsSend + ?Sized> AsSend for &C {
    type Item = C::Item;
    fn as_send(&self) -> Option<&Chan<C::Item>> {
        (**self).as_send()
    }
}

impl<C: AsSend> AsSend for Option<C> {
    type Item = C::Item;
    fn as_send(&self) -> Option<&Chan<C::Item>> {
        self.as_ref().and_then(|c| c.as_send())
    }
}

/// A `recv(ch) -> v` case.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    /// The channel; `None` disables the case.
    chan: Option<&'a HChan<T>>,
    /// Where the received value lands, whether it came now or while we were parked.
    w: Waiter<T>,
    /// Set when this case is the one the select completed.
    fired: Cell<bool>,
}

/// A `send(ch, v) ` case.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    /// The channel; `None` disables the case.
    chan: Option<&'a HChan<T>>,
    /// Holds the value until a receiver takes it.
    w: Waiter<T>,
    /// Set when this case is the one the select completed.
    fired: Cell<bool>,
}

// SAFETY: a case's waiter is only touched under its channel's lock while queued, and
// otherwise only by the select that owns the case (`fired` too); so a case may move to
// another thread between the polls of a `select_async!`, and a shared reference to it (held
// by the select's future) gives nothing another thread could race on. Values are `T: Send`.
unsafe impl<T: Send> Send for RecvCase<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for RecvCase<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SendCase<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SendCase<'_, T> {}

/// Build a receive case (used by the `select!` expansion).
#[doc(hidden)]
pub fn recv_case<C: AsRecv + ?Sized>(c: &C) -> RecvCase<'_, C::Item> {
    RecvCase {
        chan: c.as_recv().map(|c| &*c.inner),
        w: Waiter::new(None),
        fired: Cell::new(false),
    }
}

/// Build a send case holding `v` (used by the `select!` expansion).
#[doc(hidden)]
pub fn send_case<C: AsSend + ?Sized>(c: &C, v: C::Item) -> SendCase<'_, C::Item> {
    SendCase {
        chan: c.as_send().map(|c| &*c.inner),
        w: Waiter::new(Some(v)),
        fired: Cell::new(false),
    }
}

impl<T> RecvCase<'_, T> {
    /// True if the select completed this case.
    pub fn fired(&self) -> bool {
        self.fired.get()
    }

    /// The outcome of the completed case: `Some(v)`, or `None` if the channel was closed.
    pub fn take(&self) -> Option<T> {
        if self.w.success() {
            // SAFETY: the select is over, so the waiter is not queued: we own it.
            unsafe { self.w.take() }
        } else {
            None
        }
    }

    fn chan(&self) -> &HChan<T> {
        self.chan
            .expect("goweave: select used a disabled case (runtime bug)")
    }
}

impl<T> SendCase<'_, T> {
    /// True if the select completed this case.
    pub fn fired(&self) -> bool {
        self.fired.get()
    }

    /// A send case has no value to bind.
    pub fn take(&self) {}

    fn chan(&self) -> &HChan<T> {
        self.chan
            .expect("goweave: select used a disabled case (runtime bug)")
    }
}

impl<T> SelectHandle for RecvCase<'_, T> {
    fn lock_key(&self) -> Option<usize> {
        self.chan.map(HChan::lock_addr)
    }

    fn obj(&self) -> u64 {
        self.chan.map_or(0, |c| c.id().0)
    }

    fn lock(&self) -> ChanGuard<'_> {
        self.chan().raw_lock()
    }

    unsafe fn is_ready(&self) -> bool {
        // SAFETY: `select` holds the lock (trait contract).
        unsafe { self.chan().state_mut().recv_ready() }
    }

    unsafe fn try_complete(&self, wake: &mut Wake) -> bool {
        let c = self.chan();
        // SAFETY: `select` holds the lock (trait contract); our waiter is not queued.
        match unsafe { c.state_mut().try_recv() } {
            RecvNow::Value(v, g) => {
                // SAFETY: the waiter is not queued; this goroutine owns it.
                unsafe { self.w.put(v) };
                self.w.set_success(true);
                wake.0 = g;
                true
            }
            RecvNow::Closed => {
                self.w.set_success(false);
                true
            }
            RecvNow::WouldBlock => false,
        }
    }

    unsafe fn enqueue(&self, sleeper: &Sleeper, case: usize) {
        self.w.bind(sleeper, case);
        // SAFETY: `select` holds the lock, and the case (with its waiter) stays put until
        // `unqueue` (trait contract, module invariants).
        unsafe { self.chan().state_mut().recvq.enqueue(&self.w) };
    }

    unsafe fn unqueue(&self) {
        // SAFETY: `select` holds the lock (trait contract).
        unsafe { self.chan().state_mut().recvq.remove(&self.w) };
    }

    fn finish(&self) -> bool {
        self.fired.set(true);
        if self.w.success() {
            self.chan().received();
        }
        true
    }

    fn nil_reason(&self) -> WaitReason {
        WaitReason::ChanReceiveNil
    }

    unsafe fn log_touch(&self) {
        // SAFETY: `select` holds the lock (trait contract).
        unsafe { self.chan().log_touch() }
    }
}

impl<T> SelectHandle for SendCase<'_, T> {
    fn lock_key(&self) -> Option<usize> {
        self.chan.map(HChan::lock_addr)
    }

    fn obj(&self) -> u64 {
        self.chan.map_or(0, |c| c.id().0)
    }

    fn lock(&self) -> ChanGuard<'_> {
        self.chan().raw_lock()
    }

    unsafe fn is_ready(&self) -> bool {
        let c = self.chan();
        // SAFETY: `select` holds the lock (trait contract).
        unsafe { c.state_mut().send_ready() }
    }

    unsafe fn try_complete(&self, wake: &mut Wake) -> bool {
        let c = self.chan();
        // SAFETY: the waiter is not queued; this goroutine owns it.
        let v = unsafe { self.w.take() }.expect("goweave: send case without a value");
        // SAFETY: `select` holds the lock (trait contract).
        match unsafe { c.state_mut().try_send(v) } {
            SendNow::Done(g) => {
                self.w.set_success(true);
                wake.0 = g;
                true
            }
            SendNow::Closed(v) => {
                // The select panics once it has unlocked; the value is dropped with the case.
                // SAFETY: as above.
                unsafe { self.w.put(v) };
                self.w.set_success(false);
                true
            }
            SendNow::WouldBlock(v) => {
                // SAFETY: as above.
                unsafe { self.w.put(v) };
                false
            }
        }
    }

    unsafe fn enqueue(&self, sleeper: &Sleeper, case: usize) {
        self.w.bind(sleeper, case);
        // SAFETY: as in `RecvCase::enqueue`.
        unsafe { self.chan().state_mut().sendq.enqueue(&self.w) };
    }

    unsafe fn unqueue(&self) {
        // SAFETY: `select` holds the lock (trait contract).
        unsafe { self.chan().state_mut().sendq.remove(&self.w) };
    }

    unsafe fn log_touch(&self) {
        // SAFETY: `select` holds the lock (trait contract).
        unsafe { self.chan().log_touch() }
    }

    fn finish(&self) -> bool {
        self.fired.set(true);
        self.w.success()
    }

    fn nil_reason(&self) -> WaitReason {
        WaitReason::ChanSendNil
    }

    fn race_announce(&self, site: &'static Location<'static>) {
        self.chan().race_send(site);
    }
}
