//! `Stream` and `Sink` over a channel (feature `stream`): [`RecvStream`] and [`SendSink`], each
//! owning a channel handle and reusing one boxed `recv_async`/`send_async` future, so they are
//! `Unpin` and allocate once.
//!
//! Invariant: the boxed future borrows the channel the same struct owns; it is declared first,
//! so it is dropped first, and the channel (behind an `Arc`) never moves.

use std::convert::Infallible;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;

use super::future::{RecvFuture, SendFuture};
use super::hchan::HChan;
use super::{Chan, Receiver, Sender};

/// The channel behind `chan`, for as long as the caller keeps `chan` alive.
///
/// # Safety
/// The caller keeps `chan` (and so the `Arc` holding the channel) alive, unmoved or not (the
/// channel itself is on the heap), for as long as it uses the reference.
unsafe fn extend<T: 'static>(chan: &Chan<T>) -> &'static HChan<T> {
    // SAFETY: the caller's contract.
    unsafe { &*std::sync::Arc::as_ptr(&chan.inner) }
}

/// A channel's receiving side as a [`Stream`]: yields every value, and ends once the channel
/// is closed and drained. From [`Chan::into_stream`] or [`Receiver::into_stream`].
pub struct RecvStream<T: 'static> {
    /// Declared first: dropped before `chan` (see the module invariant).
    fut: Option<Pin<Box<RecvFuture<'static, T>>>>,
    chan: Chan<T>,
    site: &'static Location<'static>,
    ended: bool,
}

/// A channel's sending side as a [`Sink`]: each item is sent as `send` would (panicking on a
/// closed channel); `close` closes the channel. From [`Chan::into_sink`] or
/// [`Sender::into_sink`].
pub struct SendSink<T: 'static> {
    /// Declared first: dropped before `chan` (see the module invariant).
    fut: Option<Pin<Box<SendFuture<'static, T>>>>,
    chan: Chan<T>,
    site: &'static Location<'static>,
    /// A send started and not yet completed.
    in_flight: bool,
    closed: bool,
}

impl<T: 'static> Chan<T> {
    /// This handle as a [`Stream`] of received values (feature `stream`).
    #[track_caller]
    pub fn into_stream(self) -> RecvStream<T> {
        RecvStream {
            fut: None,
            chan: self,
            site: Location::caller(),
            ended: false,
        }
    }

    /// This handle as a [`Sink`] of values to send (feature `stream`).
    #[track_caller]
    pub fn into_sink(self) -> SendSink<T> {
        SendSink {
            fut: None,
            chan: self,
            site: Location::caller(),
            in_flight: false,
            closed: false,
        }
    }
}

impl<T: 'static> Receiver<T> {
    /// See [`Chan::into_stream`].
    #[track_caller]
    pub fn into_stream(self) -> RecvStream<T> {
        self.0.into_stream()
    }
}

impl<T: 'static> Sender<T> {
    /// See [`Chan::into_sink`].
    #[track_caller]
    pub fn into_sink(self) -> SendSink<T> {
        self.0.into_sink()
    }
}

impl<T: 'static> Stream for RecvStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let (chan, site) = (&this.chan, this.site);
        let fut = this.fut.get_or_insert_with(|| {
            // SAFETY: `this.chan` outlives the future (module invariant).
            Box::pin(RecvFuture::new(unsafe { extend(chan) }, site))
        });
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(v) => {
                fut.as_mut().rearm();
                this.ended = v.is_none();
                Poll::Ready(v)
            }
        }
    }
}

impl<T: 'static> SendSink<T> {
    /// Drive the send in flight, if any.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.in_flight {
            return Poll::Ready(());
        }
        let fut = self.fut.as_mut().expect("a send in flight has a future");
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.in_flight = false;
                Poll::Ready(())
            }
        }
    }
}

impl<T: 'static> Sink<T> for SendSink<T> {
    type Error = Infallible;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.get_mut().drive(cx).map(Ok)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Infallible> {
        let this = self.get_mut();
        assert!(
            !this.in_flight,
            "goweave: Sink::start_send without poll_ready returning Ready first"
        );
        match &mut this.fut {
            Some(f) => f.as_mut().rearm(item),
            None => {
                // SAFETY: `this.chan` outlives the future (module invariant).
                let chan = unsafe { extend(&this.chan) };
                this.fut = Some(Box::pin(SendFuture::new(chan, item, this.site)));
            }
        }
        this.in_flight = true;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.get_mut().drive(cx).map(Ok)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        let this = self.get_mut();
        if this.drive(cx).is_pending() {
            return Poll::Pending;
        }
        if !this.closed {
            this.closed = true;
            this.chan.close();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: 'static> std::fmt::Debug for RecvStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvStream")
            .field("chan", &self.chan)
            .field("ended", &self.ended)
            .finish()
    }
}

impl<T: 'static> std::fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendSink")
            .field("chan", &self.chan)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}
