//! Channels with Go's semantics, and [`select!`](crate::select).
//!
//! ```
//! use goweave::{chan, go};
//! goweave::run(|| {
//!     let ch = chan::make::<u32>(0); // unbuffered: every send waits for its receiver
//!     let tx = ch.sender();
//!     go(move || {
//!         for i in 0..3 {
//!             tx.send(i);
//!         }
//!         tx.close();
//!     });
//!     let got: Vec<u32> = ch.receiver().into_iter().collect();
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```
//!
//! - [`make`]`(cap)`: capacity 0 is a rendezvous (a send completes only when a receiver takes
//!   the value, handed over directly); a buffered channel is FIFO.
//! - [`Chan::recv`] returns `None` once the channel is closed and drained (Go's `v, ok := <-ch`).
//! - [`Chan::send`] on a closed channel panics with `send on closed channel`, also for a sender
//!   that was blocked when the channel was closed; [`Chan::close`] of a closed channel panics
//!   with `close of closed channel`. Closing wakes every blocked receiver.
//! - [`Chan`] is a cloneable handle; [`Sender`] and [`Receiver`] are its directional views
//!   (`chan<- T`, `<-chan T`). Dropping handles never closes a channel, as in Go.
//! - A blocked operation parks the goroutine with Go's wait reason (`chan send`,
//!   `chan receive`, `select`, ...), which deadlock and leak reports print.
//!
//! Where things are: `hchan.rs` is the channel (Go's `hchan`, `chansend`, `chanrecv`,
//! `closechan`), `waitq.rs` the queues of blocked goroutines (Go's `sudog` and `waitq`),
//! `select.rs` the select algorithm and macro, `case.rs` the channel side of a select.

mod case;
mod future;
mod hchan;
mod lock;
mod select;
mod select_async;
#[cfg(feature = "stream")]
mod stream;
mod waitq;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::sync::{Arc, Weak};

pub use case::{AsRecv, AsSend};
pub use future::{RecvFuture, SendFuture};
pub(crate) use hchan::HChan;
#[cfg(feature = "stream")]
pub use stream::{RecvStream, SendSink};

/// What the `select!` expansion uses; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::case::{recv_case, send_case, RecvCase, SendCase};
    pub use super::lock::ChanGuard;
    pub use super::select::{select, SelectHandle, Wake};
    pub use super::select_async::{select_async, SelectFuture};
    pub use super::waitq::Sleeper;
}

/// Make a channel of capacity `cap` (Go's `make(chan T, cap)`); 0 makes an unbuffered
/// (rendezvous) channel.
pub fn make<T>(cap: usize) -> Chan<T> {
    Chan {
        inner: Arc::new(HChan::new(cap)),
    }
}

/// A channel handle. Cloning it gives another handle to the same channel; handles compare
/// equal when they refer to the same channel (as Go's channel values do).
pub struct Chan<T> {
    inner: Arc<HChan<T>>,
}

/// The sending view of a channel (Go's `chan<- T`).
pub struct Sender<T>(Chan<T>);

/// The receiving view of a channel (Go's `<-chan T`).
pub struct Receiver<T>(Chan<T>);

/// Why [`Chan::try_send`] did not send; the value is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full (or, unbuffered, no receiver is waiting).
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Why [`Chan::try_recv`] did not receive.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing is buffered and no sender is waiting.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

impl<T> Chan<T> {
    /// Send `v` (Go's `ch <- v`): wait until a receiver takes it (unbuffered) or there is room
    /// in the buffer.
    ///
    /// Panics with `send on closed channel` if the channel is closed, or gets closed while
    /// this send waits.
    #[track_caller]
    pub fn send(&self, v: T) {
        self.inner.send(v, Location::caller())
    }

    /// Receive a value (Go's `v, ok := <-ch`): wait until there is one. `None` means the
    /// channel is closed and every buffered value has been received.
    #[track_caller]
    pub fn recv(&self) -> Option<T> {
        self.inner.recv(Location::caller())
    }

    /// [`send`](Chan::send) as a future, for tasks (`goweave::task`) and any other executor:
    /// the same queue and hand-off, with the waiting future's waker in the queue instead of a
    /// parked goroutine. Panics as `send` does.
    #[track_caller]
    pub fn send_async(&self, v: T) -> SendFuture<'_, T> {
        SendFuture::new(&self.inner, v, Location::caller())
    }

    /// [`recv`](Chan::recv) as a future (see [`send_async`](Chan::send_async)). Dropping it
    /// while it waits leaves the queue; see [`RecvFuture`] for a value handed over just
    /// before the drop.
    #[track_caller]
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture::new(&self.inner, Location::caller())
    }

    /// Close the channel (Go's `close(ch)`): blocked receivers wake with `None` once the buffer
    /// is drained, blocked senders panic.
    ///
    /// Panics with `close of closed channel` if it is already closed.
    #[track_caller]
    pub fn close(&self) {
        self.inner.close(Location::caller())
    }

    /// Send without waiting (Go's `select` with a `default`). Unlike Go's select, a closed
    /// channel is reported as [`TrySendError::Closed`], not a panic.
    #[track_caller]
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(v, Location::caller())
    }

    /// Receive without waiting.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.inner.try_recv(Location::caller())
    }

    /// The number of buffered values (Go's `len(ch)`); a snapshot that may be stale at once.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True if nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer capacity (Go's `cap(ch)`).
    pub fn cap(&self) -> usize {
        self.inner.cap()
    }

    /// A send-only view of this channel.
    pub fn sender(&self) -> Sender<T> {
        Sender(self.clone())
    }

    /// A receive-only view of this channel.
    pub fn receiver(&self) -> Receiver<T> {
        Receiver(self.clone())
    }

    /// An iterator that receives until the channel is closed and drained (Go's
    /// `for v := range ch`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { chan: self }
    }

    /// Install the receive hook (for tickers; see `time.rs`).
    pub(crate) fn set_recv_hook(&self, hook: hchan::RecvHook) {
        self.inner.set_recv_hook(hook)
    }

    /// A handle that does not keep the channel alive (for timer callbacks).
    pub(crate) fn downgrade(&self) -> Weak<HChan<T>> {
        Arc::downgrade(&self.inner)
    }
}

/// A non-blocking send with no scheduling point, through a weak handle; for timer callbacks.
pub(crate) fn send_from_timer<T>(chan: &Weak<HChan<T>>, v: T) {
    if let Some(c) = chan.upgrade() {
        let _ = c.send_nonblocking(v);
    }
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan {
            inner: self.inner.clone(),
        }
    }
}

impl<T> PartialEq for Chan<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Eq for Chan<T> {}

impl<T> Hash for Chan<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.inner) as usize).hash(state)
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chan")
            .field("id", &self.inner.id())
            .field("len", &self.len())
            .field("cap", &self.cap())
            .finish()
    }
}

impl<T> Sender<T> {
    /// See [`Chan::send`].
    #[track_caller]
    pub fn send(&self, v: T) {
        self.0.inner.send(v, Location::caller())
    }

    /// See [`Chan::send_async`].
    #[track_caller]
    pub fn send_async(&self, v: T) -> SendFuture<'_, T> {
        SendFuture::new(&self.0.inner, v, Location::caller())
    }

    /// See [`Chan::try_send`].
    #[track_caller]
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.0.inner.try_send(v, Location::caller())
    }

    /// See [`Chan::close`].
    #[track_caller]
    pub fn close(&self) {
        self.0.inner.close(Location::caller())
    }

    /// See [`Chan::len`].
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// See [`Chan::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// See [`Chan::cap`].
    pub fn cap(&self) -> usize {
        self.0.cap()
    }
}

impl<T> Receiver<T> {
    /// See [`Chan::recv`].
    #[track_caller]
    pub fn recv(&self) -> Option<T> {
        self.0.inner.recv(Location::caller())
    }

    /// See [`Chan::recv_async`].
    #[track_caller]
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture::new(&self.0.inner, Location::caller())
    }

    /// See [`Chan::try_recv`].
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.inner.try_recv(Location::caller())
    }

    /// See [`Chan::len`].
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// See [`Chan::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// See [`Chan::cap`].
    pub fn cap(&self) -> usize {
        self.0.cap()
    }

    /// See [`Chan::iter`].
    pub fn iter(&self) -> Iter<'_, T> {
        self.0.iter()
    }
}

macro_rules! view_traits {
    ($view:ident) => {
        impl<T> Clone for $view<T> {
            fn clone(&self) -> Self {
                $view(self.0.clone())
            }
        }

        impl<T> PartialEq for $view<T> {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }

        impl<T> Eq for $view<T> {}

        impl<T> Hash for $view<T> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }

        impl<T> fmt::Debug for $view<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($view)).field(&self.0).finish()
            }
        }

        impl<T> From<Chan<T>> for $view<T> {
            fn from(c: Chan<T>) -> Self {
                $view(c)
            }
        }
    };
}

view_traits!(Sender);
view_traits!(Receiver);

/// Receives until the channel is closed and drained; see [`Chan::iter`].
pub struct Iter<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.chan.inner.recv(Location::caller())
    }
}

/// Receives until the channel is closed and drained, owning its handle.
pub struct IntoIter<T> {
    chan: Chan<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.chan.inner.recv(Location::caller())
    }
}

impl<'a, T> IntoIterator for &'a Chan<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Chan<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { chan: self }
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { chan: self.0 }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// True for [`TrySendError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`TrySendError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed channel"),
        }
    }
}

impl std::error::Error for TryRecvError {}
