//! The channel itself: Go's `hchan` and its three operations, `chansend`, `chanrecv` and
//! `closechan`, written once against the executor interface.
//!
//! Invariants (checked by every function below, as in Go's `runtime/chan.go`):
//! - `lock` guards every field of `State` and the recording's sequence number (`rec_seq`);
//!   `cap` and `id` never change.
//! - `buf.len() <= cap`, and `buf` is FIFO: values leave in the order they entered.
//! - At least one of `sendq` and `recvq` holds no live waiter (waiters of a select that
//!   already completed elsewhere are dead: they linger until someone unlinks them). The one
//!   exception is Go's: a single goroutine whose select both sends and receives on this
//!   channel.
//! - For a buffered channel, `buf.len() > 0` implies `recvq` holds no live waiter, and
//!   `buf.len() < cap` implies `sendq` holds no live waiter.
//! - `closed` is set once and never cleared; once set, neither queue holds a live waiter
//!   (`close` wakes them all), and sends fail.
//! - Nothing readies (unparks) a goroutine while holding `lock`: the steps below return the
//!   goroutine to wake, and the caller unparks it after unlocking (Go's rule; unparking under
//!   the lock would serialise the woken goroutine behind us, and could deadlock against the
//!   scheduler).
//! - No user code runs under `lock`: values are only moved, never dropped, while it is held.
//!
//! Blocking follows `gopark`: lock, queue a [`Waiter`] that lives on our stack, then
//! `park(reason, site, unlock)`, where `unlock` releases the lock after the switch. A waker
//! needs the lock to find the waiter, so it can only unpark us once we are really parked.
//!
//! The race detector's edges sit next to the steps they describe, marked `HB(..)`, as Go's
//! `racesync`/`racenotify` do (they cost nothing on the work-stealing executor unless it is
//! built with the `race` feature): a send happens before the receive that takes its value
//! completes; the k-th receive happens before the (k+C)-th send completes (C = capacity; for
//! C = 0 that is the hand-off itself); a close happens before every receive that observes it.
//! Edges hang on buffer slots (the k-th value passes through slot k mod C, tracked by
//! `sendx`/`recvx` as in Go), and a step that completes a blocked goroutine's operation does
//! that goroutine's half of the edge on its behalf.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::OnceLock;

use super::lock::{ChanGuard, ChanLock};
use super::waitq::{Sleeper, WaitQ, Waiter};
use super::{TryRecvError, TrySendError};
use crate::runtime::context;
use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor::{self, OUTSIDE_RUNTIME};
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb::{self, Key};
use crate::runtime::waiter::Waiter as Wakee;

/// The message of a send on a closed channel (Go's, exactly).
pub(crate) const SEND_ON_CLOSED: &str = "send on closed channel";
/// The message of closing a closed channel (Go's, exactly).
pub(crate) const CLOSE_OF_CLOSED: &str = "close of closed channel";

/// A channel. Shared by every `Chan`, `Sender` and `Receiver` handle through an `Arc`.
///
/// In declaration order (`repr(C)`): the state and the recording's number, then what never
/// changes, then the lock, as the compiler laid them out before. The recording's number sits
/// with the state the lock holder writes, not beside the lock word: there, every recorded
/// operation wrote the line that waiters spin on, and a recorded message of the 4x4 buffered
/// channel (`benches/record.rs`) took about 59 ns against 52 (idle machine).
#[repr(C)]
pub(crate) struct HChan<T> {
    /// Everything that changes; guarded by `lock`.
    state: std::cell::UnsafeCell<State<T>>,
    /// Operations on the channel logged by a recording run so far: its per-object order,
    /// numbered under the lock the operation takes anyway (no shared counter to contend on).
    /// Guarded by `lock`; beside the state the holder writes, not beside the lock word that
    /// waiters spin on.
    rec_seq: std::cell::Cell<u64>,
    /// Capacity of the buffer; 0 for an unbuffered (rendezvous) channel.
    cap: usize,
    /// The channel's identity in events.
    id: ObjId,
    /// Called (with no lock held) after each receive that took a value. Only a ticker's
    /// channel has one: a ticker whose last tick is still unreceived stops re-arming, and
    /// resumes here (see `time.rs`).
    recv_hook: OnceLock<RecvHook>,
    /// Guards `state` and `rec_seq`; its guard is what a parked goroutine hands to its
    /// unlock step.
    lock: ChanLock,
}

/// See [`HChan::recv_hook`].
pub(crate) type RecvHook = Box<dyn Fn() + Send + Sync>;

// SAFETY: every access to `state` holds `lock` (module invariants); the waiters it links are
// only touched under the lock too, and a value of `T` crosses goroutines, hence `T: Send`.
unsafe impl<T: Send> Send for HChan<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for HChan<T> {}

/// The fields guarded by the channel lock.
pub(crate) struct State<T> {
    /// Buffered values, oldest first.
    pub(crate) buf: VecDeque<T>,
    /// Set by `close`; never cleared.
    pub(crate) closed: bool,
    /// Goroutines blocked receiving (Go's `recvq`).
    pub(crate) recvq: WaitQ<T>,
    /// Goroutines blocked sending; each one's value waits in its waiter (Go's `sendq`).
    pub(crate) sendq: WaitQ<T>,
    /// The buffer slot the next send fills, `0..cap` (Go's `sendx`). Only the race detector
    /// needs slot numbers: its edges hang on slots.
    sendx: usize,
    /// The buffer slot the next receive empties (Go's `recvx`); equals `sendx` when the buffer
    /// is empty or full.
    recvx: usize,
    /// The capacity (a copy of `HChan::cap`, for the steps below).
    cap: usize,
    /// The channel's id (a copy of `HChan::id`), naming its race-detector keys.
    id: u64,
}

/// What a send can do right now.
pub(crate) enum SendNow<T> {
    /// Delivered (to a waiting receiver, which is returned to be unparked, or into the buffer).
    Done(Option<Wakee>),
    /// The channel is closed; the value is handed back.
    Closed(T),
    /// It would have to wait; the value is handed back.
    WouldBlock(T),
}

/// What a receive can do right now.
pub(crate) enum RecvNow<T> {
    /// A value (and a sender to unpark, if it came from a waiting sender).
    Value(T, Option<Wakee>),
    /// The channel is closed and drained.
    Closed,
    /// It would have to wait.
    WouldBlock,
}

/// The locked channel: the guard plus access to the guarded state.
pub(crate) struct Locked<'a, T> {
    chan: &'a HChan<T>,
    _guard: ChanGuard<'a>,
    /// The operation to log once the lock is released ([`HChan::lock_for`]). Declared after
    /// the guard, so that it drops after it: the number is taken under the lock, the entry
    /// written outside it, where it does not lengthen the critical section other workers
    /// wait on.
    pending: PendingLog,
}

/// An operation numbered under a channel's lock and not yet logged: `(op, channel, number)`.
/// Logged when dropped, by the goroutine that took the number (see [`Locked::flush_log`]
/// for a goroutine about to park).
pub(crate) struct PendingLog(Option<crate::record::Entry>);

impl Drop for PendingLog {
    #[inline]
    fn drop(&mut self) {
        // The log's fast path is inlined into `point_entry`, which is cold: the recording-off
        // path stays a test of the discriminant (inlining the fast path here, or a non-cold
        // call, made every unrecorded operation slower: the registers it needs).
        if let Some(e) = self.0.take() {
            crate::record::point_entry(e);
        }
    }
}

impl<T> Locked<'_, T> {
    /// Log the pending operation now, under the lock: for a goroutine about to park, whose
    /// lock is released after the switch, outside it.
    pub(crate) fn flush_log(&mut self) {
        drop(PendingLog(self.pending.0.take()));
    }
}

impl<T> Deref for Locked<'_, T> {
    type Target = State<T>;
    fn deref(&self) -> &State<T> {
        // SAFETY: we hold the lock.
        unsafe { &*self.chan.state.get() }
    }
}

impl<T> DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut State<T> {
        // SAFETY: we hold the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.chan.state.get() }
    }
}

impl<T> State<T> {
    /// The non-blocking part of Go's `chansend`.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn try_send(&mut self, v: T) -> SendNow<T> {
        if self.closed {
            // A send that finds the channel closed panics: no edge, the panic is no access.
            return SendNow::Closed(v);
        }
        // SAFETY: we hold the lock (caller's obligation).
        if let Some(r) = unsafe { self.recvq.dequeue() } {
            // A receiver is waiting: hand the value straight to it (Go's `send`, the sudog
            // hand-off), bypassing the buffer, which is empty.
            if self.cap == 0 {
                // HB(send -> recv): this send happens before the receive it completes returns.
                // HB(recv k -> send k completes), C = 0: the receive, begun before we came,
                // happens before this send completes. Both at once (Go's `racesync`).
                self.hand_off(r.gid());
            } else {
                // As if the value passed through the (empty) buffer's next slot (Go's
                // `racenotify` twice): HB(recv k-C -> send k) and HB(send -> recv).
                self.through_slot(Some(r.gid()));
            }
            // SAFETY: we hold the lock and just claimed `r`.
            unsafe { r.put(v) };
            r.set_success(true);
            return SendNow::Done(Some(r.take_g()));
        }
        if self.buf.len() < self.cap {
            // The k-th send fills slot k mod C. HB(recv k-C -> send k): acquire what the
            // receive that last emptied the slot left there; HB(send -> recv): leave our clock
            // for the receive that takes this value (Go's `racenotify`).
            if watched() {
                hb::release_acquire(self.slot(self.sendx));
            }
            self.sendx = (self.sendx + 1) % self.cap;
            self.buf.push_back(v);
            return SendNow::Done(None);
        }
        SendNow::WouldBlock(v)
    }

    /// The non-blocking part of Go's `chanrecv`.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn try_recv(&mut self) -> RecvNow<T> {
        // SAFETY: we hold the lock (caller's obligation).
        if let Some(s) = unsafe { self.sendq.dequeue() } {
            // A sender is waiting (Go's `recv`). Unbuffered: take its value directly. Buffered
            // (then the buffer is full): take the head of the buffer and move the sender's
            // value to the tail, so FIFO order holds.
            // SAFETY: we hold the lock and just claimed `s`.
            let sent = unsafe { s.take() }.expect("goweave: a blocked sender without a value");
            let v = if self.cap == 0 {
                // HB(send -> recv) and HB(recv k -> send k completes), as in `try_send`.
                self.hand_off(s.gid());
                sent
            } else {
                // HB(send -> recv) for the head value; HB(recv k -> send k+C completes): the
                // blocked sender now completes into the slot we empty, on its behalf.
                self.through_slot(Some(s.gid()));
                let head = self
                    .buf
                    .pop_front()
                    .expect("goweave: full channel without values");
                self.buf.push_back(sent);
                head
            };
            s.set_success(true);
            return RecvNow::Value(v, Some(s.take_g()));
        }
        if let Some(v) = self.buf.pop_front() {
            // The k-th receive empties slot k mod C. HB(send -> recv): acquire the clock the
            // send left there; HB(recv k -> send k+C): leave ours for the send that refills it.
            if watched() {
                hb::release_acquire(self.slot(self.recvx));
            }
            self.recvx = (self.recvx + 1) % self.cap;
            return RecvNow::Value(v, None);
        }
        if self.closed {
            // HB(close -> recv that observes it).
            if watched() {
                hb::acquire(self.close_key());
            }
            return RecvNow::Closed;
        }
        RecvNow::WouldBlock
    }

    /// Race-detector edges of an unbuffered hand-off between us and the blocked goroutine
    /// `other`, both ways (Go's `racesync`). The check is inline (forced: the compiler kept a
    /// plain `#[inline]` out of `try_recv`): where no edges are recorded (most runs of the
    /// work-stealing executor), every unbuffered message paid a call for nothing.
    #[inline(always)]
    fn hand_off(&self, other: u64) {
        if watched() {
            self.hand_off_edges(other);
        }
    }

    /// The edges of [`State::hand_off`].
    fn hand_off_edges(&self, other: u64) {
        let k = self.slot(0);
        hb::release(k);
        hb::acquire_as(other, k);
        hb::release_as(other, k);
        hb::acquire(k);
    }

    /// One value through the buffer's slot `recvx`, when sender and receiver meet while the
    /// buffer is empty (a receiver was waiting) or full (a sender was waiting): we and the
    /// blocked goroutine `other` each acquire and release the slot (Go's `racenotify` twice),
    /// and the slot indices advance together.
    fn through_slot(&mut self, other: Option<u64>) {
        if watched() {
            let k = self.slot(self.recvx);
            hb::release_acquire(k);
            if let Some(g) = other {
                hb::release_acquire_as(g, k);
            }
        }
        self.recvx = (self.recvx + 1) % self.cap;
        self.sendx = self.recvx;
    }

    /// The race-detector key of buffer slot `i` (slot 0 also stands for an unbuffered
    /// channel's hand-off, as `chanbuf(c, 0)` does in Go).
    fn slot(&self, i: usize) -> Key {
        Key::Part(self.id, i as u64)
    }

    /// The race-detector key that `close` releases and receivers observing it acquire.
    fn close_key(&self) -> Key {
        Key::Object(self.id)
    }

    /// True if a receive would complete now (used by `select!`). May unlink dead waiters.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn recv_ready(&mut self) -> bool {
        // SAFETY: we hold the lock (caller's obligation).
        !self.buf.is_empty() || self.closed || unsafe { self.sendq.has_live() }
    }

    /// True if a send would complete now, or panic because the channel is closed (used by
    /// `select!`). May unlink dead waiters.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn send_ready(&mut self) -> bool {
        // SAFETY: we hold the lock (caller's obligation).
        self.closed || self.buf.len() < self.cap || unsafe { self.recvq.has_live() }
    }
}

impl<T> HChan<T> {
    pub(crate) fn new(cap: usize) -> HChan<T> {
        let id = executor::new_object_id();
        HChan {
            lock: ChanLock::default(),
            rec_seq: std::cell::Cell::new(0),
            state: std::cell::UnsafeCell::new(State {
                // Preallocate up to a bound; a huge buffer grows as it fills.
                buf: VecDeque::with_capacity(cap.min(4096)),
                closed: false,
                recvq: WaitQ::default(),
                sendq: WaitQ::default(),
                sendx: 0,
                recvx: 0,
                cap,
                id: id.0,
            }),
            cap,
            id,
            recv_hook: OnceLock::new(),
        }
    }

    /// Install the receive hook (once).
    pub(crate) fn set_recv_hook(&self, hook: RecvHook) {
        if self.recv_hook.set(hook).is_err() {
            panic!("goweave: a channel's receive hook was set twice");
        }
    }

    /// Run the receive hook, if any, after a receive took a value (no lock held).
    #[inline]
    pub(crate) fn received(&self) {
        if let Some(h) = self.recv_hook.get() {
            h();
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    pub(crate) fn id(&self) -> ObjId {
        self.id
    }

    /// Take the lock.
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        Locked {
            chan: self,
            _guard: self.raw_lock(),
            pending: PendingLog(None),
        }
    }

    /// Take the lock for `op` (whose scheduling point was
    /// [`sched_point_unlogged`](executor::sched_point_unlogged)) and, in a recording run, log
    /// `op` with the channel's next sequence number. Recording off, this is one relaxed load
    /// and a branch more than [`lock`](Self::lock).
    #[inline]
    pub(crate) fn lock_for(&self, op: Op) -> Locked<'_, T> {
        let mut st = self.lock();
        if crate::record::on() {
            // SAFETY: we hold the lock.
            st.pending = PendingLog(Some(crate::record::Entry::numbered(op, self.id, unsafe {
                self.next_seq()
            })));
        }
        st
    }

    /// The bare guard, for `select!` (which holds several channels' locks at once).
    pub(crate) fn raw_lock(&self) -> ChanGuard<'_> {
        self.lock.lock()
    }

    /// The channel's next sequence number for a recorded operation.
    ///
    /// # Safety
    /// The caller holds the lock.
    #[inline]
    unsafe fn next_seq(&self) -> u64 {
        let n = self.rec_seq.get();
        self.rec_seq.set(n + 1);
        n
    }

    /// Log that the operation just logged also looked at this channel (a `select!` case, a
    /// timer's drain), with the channel's next sequence number. Only when `record::on()`.
    ///
    /// # Safety
    /// The caller holds the lock.
    #[inline]
    pub(crate) unsafe fn log_touch(&self) {
        // SAFETY: the caller holds the lock.
        crate::record::touch_inline(self.id, unsafe { self.next_seq() });
    }

    /// The guarded state, for a caller that holds the lock through [`raw_lock`](Self::raw_lock).
    ///
    /// # Safety
    /// The caller holds the lock and no other reference to the state is live.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn state_mut(&self) -> &mut State<T> {
        // SAFETY: the caller's obligation.
        unsafe { &mut *self.state.get() }
    }

    /// The lock's address: the order in which `select!` takes several locks.
    pub(crate) fn lock_addr(&self) -> usize {
        &self.lock as *const ChanLock as usize
    }

    /// Go's `racereadpc(c.raceaddr())` in `chansend` (and in `select` for each send case): a
    /// send is a watched read of the channel and `close` a watched write, so a send and a close
    /// that nothing orders are a data race, whichever comes first (if the close does, the send
    /// also panics). `len`, `cap` and receives are not annotated: in Go they do not race with
    /// `close` (`raceaddr` is chosen so that they cannot).
    #[inline]
    pub(crate) fn race_send(&self, site: &'static Location<'static>) {
        if watched() {
            hb::annotation_read(self.id, Some(RACE_NAME), site);
        }
    }

    /// Number of buffered values (Go's `len(ch)`).
    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    /// `ch <- v`: Go's `chansend` with `block = true`. (`#[track_caller]`: a panic names the
    /// user's line, as Go's does.)
    #[track_caller]
    pub(crate) fn send(&self, v: T, site: &'static Location<'static>) {
        executor::sched_point_unlogged_probe(Event::new(Op::ChanSend, self.id, site), &|| {
            // SAFETY: we hold the lock.
            !unsafe { self.lock().send_ready() }
        });
        self.race_send(site);
        let mut st = self.lock_for(Op::ChanSend);
        // SAFETY: we hold the lock.
        match unsafe { st.try_send(v) } {
            SendNow::Done(wake) => {
                drop(st);
                if let Some(g) = wake {
                    g.wake();
                }
            }
            SendNow::Closed(v) => {
                drop(st);
                drop(v);
                panic!("{SEND_ON_CLOSED}");
            }
            SendNow::WouldBlock(v) => self.block_send(st, v, site),
        }
    }

    /// Park until a receiver takes `v` (or the channel is closed: then panic).
    #[cold]
    #[track_caller]
    fn block_send(&self, mut st: Locked<'_, T>, v: T, site: &'static Location<'static>) {
        let Some(me) = context::current_gref() else {
            drop(st);
            panic!("goweave: {} {}", WaitReason::ChanSend, OUTSIDE_RUNTIME);
        };
        let sleeper = Sleeper::new(me, false);
        let w = Waiter::new(Some(v));
        w.bind(&sleeper, 0);
        // SAFETY: we hold the lock; `w` stays in this frame until it is unlinked (by the
        // receiver or closer that claims it, or by `unqueue` if we are torn down).
        unsafe { st.sendq.enqueue(&w) };
        let unqueue = Unqueue {
            chan: self,
            w: &w,
            send: true,
        };
        st.flush_log();
        executor::park(WaitReason::ChanSend, site, move || drop(st));
        unqueue.disarm();
        check_claimed(&sleeper);
        if !w.success() {
            // The channel was closed while we waited; our value is still in `w` and is
            // dropped with it.
            panic!("{SEND_ON_CLOSED}");
        }
    }

    /// Non-blocking send (`select` with a `default`, but a closed channel is an error, not a
    /// panic).
    pub(crate) fn try_send(
        &self,
        v: T,
        site: &'static Location<'static>,
    ) -> Result<(), TrySendError<T>> {
        executor::sched_point_unlogged(Event::new(Op::ChanSend, self.id, site));
        self.race_send(site);
        let r = self.send_nonblocking(v);
        if matches!(r, Err(TrySendError::Full(_))) {
            // Probably polling: let the controlled executor's strategy run someone else first.
            executor::yield_hint();
        }
        r
    }

    /// A non-blocking send with no scheduling point, for timer callbacks (which run outside
    /// every goroutine) and `try_send`.
    pub(crate) fn send_nonblocking(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut st = self.lock_for(Op::ChanSend);
        // SAFETY: we hold the lock.
        match unsafe { st.try_send(v) } {
            SendNow::Done(wake) => {
                drop(st);
                if let Some(g) = wake {
                    g.wake();
                }
                Ok(())
            }
            SendNow::Closed(v) => Err(TrySendError::Closed(v)),
            SendNow::WouldBlock(v) => Err(TrySendError::Full(v)),
        }
    }

    /// `v, ok := <-ch`: Go's `chanrecv` with `block = true`.
    pub(crate) fn recv(&self, site: &'static Location<'static>) -> Option<T> {
        executor::sched_point_unlogged_probe(Event::new(Op::ChanRecv, self.id, site), &|| {
            // SAFETY: we hold the lock.
            !unsafe { self.lock().recv_ready() }
        });
        let mut st = self.lock_for(Op::ChanRecv);
        // SAFETY: we hold the lock.
        match unsafe { st.try_recv() } {
            RecvNow::Value(v, wake) => {
                drop(st);
                if let Some(g) = wake {
                    g.wake();
                }
                self.received();
                Some(v)
            }
            RecvNow::Closed => None,
            RecvNow::WouldBlock => self.block_recv(st, site),
        }
    }

    /// Park until a sender hands us a value, or the channel is closed.
    #[cold]
    fn block_recv(&self, mut st: Locked<'_, T>, site: &'static Location<'static>) -> Option<T> {
        let Some(me) = context::current_gref() else {
            drop(st);
            panic!("goweave: {} {}", WaitReason::ChanReceive, OUTSIDE_RUNTIME);
        };
        let sleeper = Sleeper::new(me, false);
        let w = Waiter::new(None);
        w.bind(&sleeper, 0);
        // SAFETY: as in `block_send`.
        unsafe { st.recvq.enqueue(&w) };
        let unqueue = Unqueue {
            chan: self,
            w: &w,
            send: false,
        };
        st.flush_log();
        executor::park(WaitReason::ChanReceive, site, move || drop(st));
        unqueue.disarm();
        check_claimed(&sleeper);
        if w.success() {
            self.received();
            // SAFETY: `w` is no longer queued and this goroutine owns it.
            Some(unsafe { w.take() }.expect("goweave: woken receiver without a value"))
        } else {
            // Woken by close (which did the HB(close -> recv) edge on our behalf).
            None
        }
    }

    /// Non-blocking receive.
    pub(crate) fn try_recv(&self, site: &'static Location<'static>) -> Result<T, TryRecvError> {
        executor::sched_point_unlogged(Event::new(Op::ChanRecv, self.id, site));
        let mut st = self.lock_for(Op::ChanRecv);
        // SAFETY: we hold the lock.
        match unsafe { st.try_recv() } {
            RecvNow::Value(v, wake) => {
                drop(st);
                if let Some(g) = wake {
                    g.wake();
                }
                self.received();
                Ok(v)
            }
            RecvNow::Closed => Err(TryRecvError::Closed),
            RecvNow::WouldBlock => {
                drop(st);
                // Probably polling (see `try_send`).
                executor::yield_hint();
                Err(TryRecvError::Empty)
            }
        }
    }

    /// Drop every buffered value without a scheduling point (for `Timer::stop`/`reset`);
    /// true if there was one.
    pub(crate) fn drain_nonblocking(&self) -> bool {
        let drained: VecDeque<T> = {
            let mut st = self.lock();
            if crate::record::on() {
                // SAFETY: we hold the lock.
                unsafe { self.log_touch() };
            }
            st.recvx = st.sendx;
            std::mem::take(&mut st.buf)
        };
        !drained.is_empty()
    }

    /// `close(ch)`: Go's `closechan`.
    #[track_caller]
    pub(crate) fn close(&self, site: &'static Location<'static>) {
        executor::sched_point_unlogged(Event::new(Op::ChanClose, self.id, site));
        let mut st = self.lock_for(Op::ChanClose);
        if st.closed {
            drop(st);
            panic!("{CLOSE_OF_CLOSED}");
        }
        st.closed = true;
        if watched() {
            // Go's racewritepc in `closechan`: a close races with a send it is not ordered
            // with (`race_send`).
            hb::write(self.id, Some(RACE_NAME), site);
        }
        // HB(close -> recv that observes it): release our clock to the channel; receivers
        // that find it closed acquire it, and so does every goroutine woken below (Go's
        // `raceacquireg` in `closechan`).
        let watch = watched();
        if watch {
            hb::release(st.close_key());
        }
        let key = st.close_key();
        let mut wake: Vec<Wakee> = Vec::new();
        // SAFETY: we hold the lock; each claimed waiter is only touched before we unlock.
        unsafe {
            // Every blocked receiver gets "closed" (no value); every blocked sender will panic
            // (its value stays in its waiter).
            while let Some(w) = st.recvq.dequeue().or_else(|| st.sendq.dequeue()) {
                if watch {
                    hb::acquire_as(w.gid(), key);
                }
                w.set_success(false);
                wake.push(w.take_g());
            }
        }
        drop(st);
        for g in wake {
            g.wake();
        }
    }
}

/// Unlinks a parked goroutine's waiter if the goroutine is torn down (force-unwound) while
/// parked; disarmed on the normal path, where the waker already unlinked it.
struct Unqueue<'a, T> {
    chan: &'a HChan<T>,
    w: &'a Waiter<T>,
    send: bool,
}

impl<T> Unqueue<'_, T> {
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl<T> Drop for Unqueue<'_, T> {
    fn drop(&mut self) {
        let mut st = self.chan.lock();
        // SAFETY: we hold the lock; `w` was queued (if at all) in this queue.
        unsafe {
            if self.send {
                st.sendq.remove(self.w);
            } else {
                st.recvq.remove(self.w);
            }
        }
    }
}

/// A goroutine resumed from a channel wait must have been claimed by a waker; anything else is
/// a wake-up the channel did not send (a runtime bug), and continuing would misread the slot.
pub(crate) fn check_claimed(s: &Sleeper) {
    assert!(
        s.was_claimed(),
        "goweave: a goroutine blocked on a channel was woken without being claimed (spurious wake-up; runtime bug)"
    );
}

/// What a race report calls the channel in a send/close race.
const RACE_NAME: &str = "channel (a send and a close not ordered)";

/// True where race-detector edges are recorded: always on the controlled executor, and on the
/// work-stealing executor built with the `race` feature.
#[inline]
pub(super) fn watched() -> bool {
    cfg!(feature = "race") || executor::is_controlled()
}
