//! Time, as Go's `time` package: [`sleep`], [`after`], [`after_func`], [`tick`], [`Timer`],
//! [`Ticker`], and [`now`] / [`Instant`] on the executor's clock.
//!
//! Durations too large to add are "never", as in Go: every deadline saturates at the end of
//! the clock, and a timer there never fires (a `sleep(Duration::MAX)` does not return, a
//! `with_timeout(&ctx, Duration::MAX)` never expires, and neither keeps a deadlock from being
//! reported: the controlled executor's virtual clock does not jump to the end of time). An
//! [`Instant`] may lie before the clock's epoch: `now() - d` always works.
//!
//! ```
//! use goweave::time::{self, Duration};
//! use goweave::{chan, select};
//! goweave::run(|| {
//!     let never = chan::make::<()>(0);
//!     let start = time::now();
//!     let timed_out = select! {
//!         recv(never) => false,
//!         recv(time::after(Duration::from_millis(5))) => true,
//!     };
//!     assert!(timed_out && start.elapsed() >= Duration::from_millis(5));
//! });
//! ```
//!
//! On the work-stealing executor the clock is the real (monotonic) clock, and every timer lives
//! in the heap of the worker that armed it, fired from that worker's scheduling loop (Go's
//! per-P timers; there is no timer thread). On the controlled executor the clock is
//! **virtual**: it starts at zero and jumps to the next timer's deadline, so a test that sleeps
//! for an hour finishes at once, and timing is part of the replayable schedule. When every
//! goroutine is blocked, time passes to the next deadline (Go's `testing/synctest` rule).
//!
//! # Time in the checker: the stall model
//!
//! Time may also pass while goroutines could still run, as a choice of the strategy, so that a
//! timeout can fire while the work it guards is still going on: that is how a `select!`
//! against [`after`] leaks its sender. Doing so *stalls* the goroutines that could run: a
//! goroutine waits from the moment it becomes runnable (it is created or woken, or it stops
//! polling) until it blocks, finishes or polls, and since goroutine operations take no virtual
//! time, all the virtual time that passes while it waits is time it was kept from running.
//! A real scheduler does stall goroutines, under load, but not for ever; so by default
//! (`TimerMode::MaxStall`, bound [`DEFAULT_MAX_STALL`](crate::explore::DEFAULT_MAX_STALL) =
//! 250 ms) time passes ahead of runnable goroutines only if none of them has then waited longer
//! than the bound:
//!
//! - a timeout of a second or more used as a guard (`recv(after(5s)) -> _ => panic!(...)`, a
//!   1000-hour [`context::with_timeout`](crate::context::with_timeout), a bound on taking a
//!   lock) never fires ahead of work that does not itself wait on time;
//! - a timeout of up to the bound races the work it guards, and a failure that needed it
//!   carries the stall it assumed: the report says `this failure needs goroutine 3 to stall for
//!   200ms while the timer created at x.rs:12:5 fires`, `Failure::stall` gives it as data, and
//!   the shrinker makes it as small as it can after the preemptions;
//! - a goroutine that polls (`gosched`, `select!` with `default`, a failed `try_` operation, a
//!   repeated atomic load) waits for something rather than works, so time may pass while it
//!   polls, and a poller waiting for a timer gets there. A goroutine that loops without ever
//!   blocking or polling holds the clock back for good (it would hang synctest too); the
//!   livelock that follows names it and the timer it held back.
//!
//! `Checker::max_stall(d)` sets the bound; `TimerMode::AnyTime` lifts it (any pending timer may
//! fire at any scheduling point); `TimerMode::WhenBlocked` lets time pass only when everything
//! is blocked.
//!
//! Timer channels follow Go 1.23: once [`Timer::stop`] or [`Timer::reset`] returns, no value
//! prepared before the call is received (a value already buffered is discarded).
//!
//! Invariants:
//! - A timer callback runs on a scheduler stack (a worker's, or the controlled executor's),
//!   never in a goroutine, so it never blocks: it sends with a non-blocking send and drops the
//!   value if the one-slot buffer is full (a ticker drops ticks for a slow receiver, as in Go).
//! - `TimerShared::state` guards the armed timer and its generation. A callback delivers only
//!   if its generation is still current, checked under that lock; `stop` and `reset` bump the
//!   generation under it, so a callback that was already running cannot deliver a stale value.
//! - A ticker is armed in the executor's heap unless it is stopped, or dormant: a tick found
//!   the previous one still unreceived (so it was dropped), and the ticker waits for a receive
//!   from its channel (the channel's receive hook) before it re-arms, at the next multiple of
//!   its period. Seen from the receiver this is Go's behaviour (ticks are dropped while nobody
//!   receives); it also means a ticker nobody listens to does not keep the controlled
//!   executor's virtual clock running, so a deadlock next to it is still reported.
//! - Lock order: a timer's `state`, then the executor's timer heap or the channel's lock. The
//!   receive hook runs with no channel lock held.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

pub use std::time::Duration;

use crate::chan::{self, Chan, Receiver};

// The future form of `sleep`, in a file of its own.
#[path = "time_async.rs"]
mod sleep_future;
use crate::runtime::context;
use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor::{self, Timers, OUTSIDE_RUNTIME};
use crate::runtime::goroutine::WaitReason;
use crate::runtime::timer::TimerId;
pub use sleep_future::{sleep_async, Sleep};

/// A point on the executor's clock (virtual on the controlled executor). Instants from
/// different runtimes are not comparable.
///
/// Like Go's `time.Time`, an instant can be moved any way: `now() - d` works for any
/// duration, also right after the clock's epoch (the start of the process's clock, or zero on
/// the controlled executor's virtual clock), and gives an instant before it; a deadline there
/// has simply passed. Arithmetic saturates at [`Duration::MAX`] either side of the epoch, so
/// `now() + Duration::MAX` is "never" rather than an overflow panic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i128);

/// `Duration::MAX` in nanoseconds: the bound of an [`Instant`] either side of the epoch.
const MAX_NANOS: i128 = u64::MAX as i128 * 1_000_000_000 + 999_999_999;

/// The nanoseconds of `d` (always representable: `d` is at most [`MAX_NANOS`]).
fn nanos(d: Duration) -> i128 {
    d.as_nanos() as i128
}

/// The duration of `n` nanoseconds, for `0 <= n <= MAX_NANOS`.
fn duration(n: i128) -> Duration {
    debug_assert!((0..=MAX_NANOS).contains(&n));
    let n = n.clamp(0, MAX_NANOS);
    Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
}

/// The executor's current time (Go's `time.Now`).
pub fn now() -> Instant {
    Instant::from_clock(executor::now())
}

/// The time elapsed since `t` (Go's `time.Since`).
pub fn since(t: Instant) -> Duration {
    t.elapsed()
}

/// The time until `t`, zero if it has passed (Go's `time.Until`).
pub fn until(t: Instant) -> Duration {
    t.duration_since(now())
}

impl Instant {
    /// The instant at `d` on the executor's clock (time since its epoch).
    pub(crate) fn from_clock(d: Duration) -> Instant {
        Instant(nanos(d))
    }

    /// This instant as a timer deadline on the executor's clock: an instant before the epoch
    /// is due at once (deadline zero).
    pub(crate) fn deadline(&self) -> Duration {
        duration(self.0.max(0))
    }

    /// Time since this instant (zero if it is in the future).
    pub fn elapsed(&self) -> Duration {
        now().duration_since(*self)
    }

    /// `self - earlier`, or zero if `earlier` is later (saturating at [`Duration::MAX`]).
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.checked_duration_since(earlier).unwrap_or_default()
    }

    /// `self - earlier`, or `None` if `earlier` is later (or the difference exceeds
    /// [`Duration::MAX`]).
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        let d = self.0 - earlier.0;
        (0..=MAX_NANOS).contains(&d).then(|| duration(d))
    }

    /// `self + d`, or `None` if that is more than [`Duration::MAX`] after the epoch.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        let t = self.0 + nanos(d);
        (t <= MAX_NANOS).then_some(Instant(t))
    }

    /// `self - d`, or `None` if that is more than [`Duration::MAX`] before the epoch. (An
    /// instant before the epoch is fine: Go's `Now().Add(-d)` always works.)
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        let t = self.0 - nanos(d);
        (t >= -MAX_NANOS).then_some(Instant(t))
    }

    /// `self + d`, saturating at [`Duration::MAX`] after the epoch ("never").
    pub fn saturating_add(&self, d: Duration) -> Instant {
        Instant((self.0 + nanos(d)).min(MAX_NANOS))
    }

    /// `self - d`, saturating at [`Duration::MAX`] before the epoch.
    pub fn saturating_sub(&self, d: Duration) -> Instant {
        Instant((self.0 - nanos(d)).max(-MAX_NANOS))
    }

    /// Time since the clock's epoch (the start of the runtime's process clock, or zero
    /// virtual time on the controlled executor); zero for an instant before the epoch (see
    /// [`before_epoch`](Instant::before_epoch)).
    pub fn since_epoch(&self) -> Duration {
        duration(self.0.max(0))
    }

    /// How long before the clock's epoch this instant is; `None` for the epoch itself or an
    /// instant after it.
    pub fn before_epoch(&self) -> Option<Duration> {
        (self.0 < 0).then(|| duration(-self.0))
    }
}

/// Saturating, as [`Instant::saturating_add`]: an instant never overflows.
impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

/// Saturating, as [`Instant::saturating_sub`]; an instant before the epoch is fine.
impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// `self - other`, saturating at zero (as `std::time::Instant`).
    fn sub(self, other: Instant) -> Duration {
        self.duration_since(other)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.before_epoch() {
            Some(d) => write!(f, "Instant(-{d:?})"),
            None => write!(f, "Instant(+{:?})", self.since_epoch()),
        }
    }
}

/// Pause the current goroutine for at least `d` (Go's `time.Sleep`); wait reason `sleep`.
/// A zero duration returns at once.
#[track_caller]
pub fn sleep(d: Duration) {
    let site = Location::caller();
    executor::sched_point(Event::new(Op::Timer, ObjId(0), site));
    if d.is_zero() {
        return;
    }
    let Some(me) = context::current_gref() else {
        panic!("goweave: {} {}", WaitReason::Sleep, OUTSIDE_RUNTIME);
    };
    let deadline = executor::now().saturating_add(d);
    // Arm the timer in the unlock step, after the switch: it cannot fire (and unpark us)
    // before we are parked.
    executor::park(WaitReason::Sleep, site, move || {
        executor::add_timer(deadline, Box::new(move || executor::unpark(me)));
    });
}

/// A channel that receives the time once, after `d` (Go's `time.After`). Use it in
/// [`select!`](crate::select) for a timeout. If the channel is dropped first, nothing is sent.
#[track_caller]
pub fn after(d: Duration) -> Chan<Instant> {
    executor::sched_point(Event::new(Op::Timer, ObjId(0), Location::caller()));
    let ch = chan::make(1);
    let weak = ch.downgrade();
    executor::add_timer(
        executor::now().saturating_add(d),
        Box::new(move || chan::send_from_timer(&weak, Instant::from_clock(executor::now()))),
    );
    ch
}

/// A channel that receives the time every `d` (Go's `time.Tick`); ticks are dropped while the
/// receiver lags. The ticker runs until the channel is dropped.
///
/// A zero `d` gives `None`, as Go's `Tick(d)` gives a nil channel for `d <= 0`. `None` is what
/// goweave uses for Go's nil channel: in [`select!`](crate::select) a `recv(time::tick(d))`
/// case whose channel is `None` is never ready, so a select written for Go behaves the same.
///
/// ```
/// use goweave::time::{self, Duration};
/// goweave::run(|| {
///     assert!(time::tick(Duration::ZERO).is_none());
///     let t = time::tick(Duration::from_millis(1)).expect("a positive period");
///     assert!(t.recv().is_some());
/// });
/// ```
#[track_caller]
pub fn tick(d: Duration) -> Option<Chan<Instant>> {
    executor::sched_point(Event::new(Op::Timer, ObjId(0), Location::caller()));
    if d.is_zero() {
        return None;
    }
    let ch = chan::make(1);
    let shared = TimerShared::new(&ch, Some(d), None);
    wake_on_receive(&ch, &shared);
    let mut st = shared.lock();
    arm(&shared, &mut st, executor::now().saturating_add(d));
    drop(st);
    Some(ch)
}

/// Wait for `d`, then call `f` in a goroutine of its own (Go's `time.AfterFunc`). No goroutine
/// exists until the timer fires. The returned [`Timer`] cancels or moves the call:
///
/// - [`stop`](Timer::stop) returns true if it stopped the timer before it fired (then `f` will
///   not run), false if it had already fired (`f` has been started; `stop` does not wait for
///   it) or been stopped.
/// - [`reset`](Timer::reset) returns true if it moved a pending call, false if the timer had
///   fired or been stopped; either way `f` runs (again) after the new duration.
///
/// As in Go, the timer's channel is not used: nothing is ever received from
/// [`c`](Timer::c). Dropping the `Timer` does **not** cancel the call (Go's timers are not
/// tied to their handle either); call [`stop`](Timer::stop) to cancel it.
///
/// ```
/// use goweave::time::{self, Duration};
/// use goweave::chan;
/// goweave::run(|| {
///     let done = chan::make::<&str>(1);
///     let d = done.clone();
///     let t = time::after_func(Duration::from_millis(1), move || d.send("fired"));
///     assert_eq!(done.recv(), Some("fired"));
///     assert!(!t.stop(), "already fired");
/// });
/// ```
#[track_caller]
pub fn after_func(d: Duration, f: impl Fn() + Send + Sync + 'static) -> Timer {
    let site = Location::caller();
    let ch = chan::make(0);
    let shared = TimerShared::new(
        &ch,
        None,
        Some(AfterFunc {
            f: Arc::new(f),
            site,
        }),
    );
    executor::sched_point_unlogged(Event::new(Op::Timer, shared.id, site));
    {
        let mut st = shared.lock_logged();
        arm(&shared, &mut st, executor::now().saturating_add(d));
    }
    Timer {
        shared,
        c: ch.receiver(),
    }
}

/// The function of an [`after_func`] timer, and where it was made (the goroutine's creation
/// site in reports).
struct AfterFunc {
    f: Arc<dyn Fn() + Send + Sync>,
    site: &'static Location<'static>,
}

/// A single event in the future (Go's `time.Timer`): after the duration, the time is sent on
/// [`c`](Timer::c), or, for a timer made by [`after_func`], its function is started in a new
/// goroutine. Dropping a channel timer stops it (nobody could receive its value); dropping an
/// [`after_func`] timer does not (its call stays scheduled, as in Go).
pub struct Timer {
    shared: Arc<TimerShared>,
    c: Receiver<Instant>,
}

/// Sends the time on [`c`](Ticker::c) every period (Go's `time.Ticker`), dropping ticks while
/// the receiver lags. Dropping the ticker stops it.
pub struct Ticker {
    shared: Arc<TimerShared>,
    c: Receiver<Instant>,
}

/// What a timer callback needs; shared by the handle and its armed callback.
struct TimerShared {
    /// The armed timer and its generation (see the module invariants).
    state: Mutex<TimerState>,
    /// Where the time is sent; weak, so a callback never keeps the channel alive.
    chan: Weak<chan::HChan<Instant>>,
    /// The executor's timers, reachable from the callback (which runs outside any goroutine).
    timers: Timers,
    /// The timer's identity in events.
    id: ObjId,
    /// For [`after_func`]: the function to start in a goroutine instead of sending the time.
    func: Option<AfterFunc>,
}

/// The fields guarded by `TimerShared::state`.
struct TimerState {
    /// The armed executor timer, if any. `None` once it fired or was stopped.
    armed: Option<TimerId>,
    /// Bumped by every stop and reset; a callback of an older generation does nothing.
    gen: u64,
    /// The period of a ticker; `None` for a one-shot timer.
    period: Option<Duration>,
    /// A ticker that found its last tick still unreceived stops re-arming (nobody listens, so
    /// ticks would only be dropped), and keeps here the deadline of the tick it skipped; the
    /// next receive from its channel re-arms it. So an unattended ticker does not keep the
    /// controlled executor's virtual clock running forever.
    dormant: Option<Duration>,
    /// Operations and firings logged by a recording run so far: the timer's own order,
    /// numbered under this lock, so that a stop or reset and a firing that raced replay in
    /// the order they took effect.
    rec_seq: u64,
}

impl TimerState {
    /// The timer's next number for a recorded operation or firing (under the lock).
    fn next_seq(&mut self) -> u64 {
        self.rec_seq += 1;
        self.rec_seq - 1
    }
}

impl TimerShared {
    fn new(
        ch: &Chan<Instant>,
        period: Option<Duration>,
        func: Option<AfterFunc>,
    ) -> Arc<TimerShared> {
        Arc::new(TimerShared {
            state: Mutex::new(TimerState {
                armed: None,
                gen: 0,
                period,
                dormant: None,
                rec_seq: 0,
            }),
            chan: ch.downgrade(),
            timers: executor::timers(),
            id: executor::new_object_id(),
            func,
        })
    }

    fn lock(&self) -> MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lock for an operation whose scheduling point was
    /// [`sched_point_unlogged`](executor::sched_point_unlogged), logging it (`Op::Timer`) with
    /// the timer's next number in a recording run.
    fn lock_logged(&self) -> MutexGuard<'_, TimerState> {
        let mut st = self.lock();
        if crate::record::on() {
            crate::record::point_seq(Op::Timer, self.id, st.next_seq());
        }
        st
    }

    /// Disarm, and discard a value delivered but not yet received; true if the timer had not
    /// yet been received from (Go 1.23's `Stop`/`Reset` result).
    fn disarm(&self, st: &mut TimerState) -> bool {
        st.gen += 1;
        st.dormant = None;
        let armed = match st.armed.take() {
            Some(id) => {
                // Even if the callback is already running, it sees the new generation and
                // delivers nothing: the timer counts as stopped in time.
                self.timers.cancel(id);
                true
            }
            None => false,
        };
        let drained = match self.chan.upgrade() {
            Some(c) => c.drain_nonblocking(),
            None => false,
        };
        armed || drained
    }
}

/// Arm `shared` to fire at `deadline` (with `st` its locked state).
fn arm(shared: &Arc<TimerShared>, st: &mut TimerState, deadline: Duration) {
    let gen = st.gen;
    let s = shared.clone();
    st.armed = Some(
        shared
            .timers
            .add(deadline, Box::new(move || fire(&s, gen, deadline))),
    );
}

/// A timer callback: deliver the time unless stopped or reset since; re-arm a ticker.
fn fire(shared: &Arc<TimerShared>, gen: u64, deadline: Duration) {
    let mut st = shared.lock();
    if crate::record::on() {
        // Logged in the firing's group (`record::fire_timer`): its place in the timer's order.
        crate::record::touch(shared.id, st.next_seq());
    }
    if st.gen != gen {
        return;
    }
    st.armed = None;
    if let Some(func) = &shared.func {
        drop(st);
        let f = func.f.clone();
        crate::runtime::join::spawn_from_timer(&shared.timers, func.site, move || f());
        return;
    }
    let Some(c) = shared.chan.upgrade() else {
        // Nobody can receive any more: stop for good.
        return;
    };
    let now = executor::now();
    // Fails (the tick is dropped) if the buffer is full: the previous tick is unreceived.
    let delivered = c.send_nonblocking(Instant::from_clock(now)).is_ok();
    drop(c);
    if let Some(p) = st.period {
        let next = next_tick(deadline, now, p);
        if delivered {
            arm(shared, &mut st, next);
        } else {
            st.dormant = Some(next);
        }
    }
}

/// The first tick of a ticker with period `p` and a tick due at `deadline` that is later than
/// `now` (a late ticker skips the ticks it missed, as Go's does).
fn next_tick(deadline: Duration, now: Duration, p: Duration) -> Duration {
    let late = now.saturating_sub(deadline).as_nanos();
    let periods = (late / p.as_nanos().max(1) + 1).min(u32::MAX as u128) as u32;
    deadline.saturating_add(p.saturating_mul(periods))
}

/// Install the hook that wakes a dormant ticker when its channel is received from. The hook
/// (owned by the channel) keeps the ticker's state alive: a dormant `tick()` ticker has no
/// other owner. (No cycle: the state holds the channel weakly.)
fn wake_on_receive(ch: &Chan<Instant>, shared: &Arc<TimerShared>) {
    let shared = shared.clone();
    ch.set_recv_hook(Box::new(move || {
        let mut st = shared.lock();
        if let (Some(next), Some(p)) = (st.dormant.take(), st.period) {
            let now = executor::now();
            let at = if next > now {
                next
            } else {
                next_tick(next, now, p)
            };
            arm(&shared, &mut st, at);
        }
    }));
}

impl Timer {
    /// A timer that sends the time on [`c`](Timer::c) after `d` (Go's `time.NewTimer`).
    #[track_caller]
    pub fn new(d: Duration) -> Timer {
        let ch = chan::make(1);
        let shared = TimerShared::new(&ch, None, None);
        executor::sched_point_unlogged(Event::new(Op::Timer, shared.id, Location::caller()));
        {
            let mut st = shared.lock_logged();
            arm(&shared, &mut st, executor::now().saturating_add(d));
        }
        Timer {
            shared,
            c: ch.receiver(),
        }
    }

    /// The channel on which the time is delivered.
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stop the timer. True if this call stopped it before its value was received; false if
    /// it had already been stopped, or its value received. Afterwards nothing is received
    /// from [`c`](Timer::c) until a [`reset`](Timer::reset) (Go 1.23).
    #[track_caller]
    pub fn stop(&self) -> bool {
        executor::sched_point_unlogged(Event::new(Op::Timer, self.shared.id, Location::caller()));
        let mut st = self.shared.lock_logged();
        self.shared.disarm(&mut st)
    }

    /// Restart the timer to fire after `d`, discarding any unreceived value. True if the
    /// timer was still active (as [`stop`](Timer::stop) would have reported).
    #[track_caller]
    pub fn reset(&self, d: Duration) -> bool {
        executor::sched_point_unlogged(Event::new(Op::Timer, self.shared.id, Location::caller()));
        let mut st = self.shared.lock_logged();
        let active = self.shared.disarm(&mut st);
        arm(&self.shared, &mut st, executor::now().saturating_add(d));
        active
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if self.shared.func.is_some() {
            // Go's `AfterFunc(d, f)` is mostly called for its effect, its Timer ignored: the
            // call stays scheduled (the armed callback keeps the state alive).
            return;
        }
        let mut st = self.shared.lock();
        st.gen += 1;
        if let Some(id) = st.armed.take() {
            self.shared.timers.cancel(id);
        }
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl Ticker {
    /// A ticker that sends the time on [`c`](Ticker::c) every `d` (Go's `time.NewTicker`).
    ///
    /// Panics with `non-positive interval for NewTicker` if `d` is zero.
    #[track_caller]
    pub fn new(d: Duration) -> Ticker {
        if d.is_zero() {
            panic!("non-positive interval for NewTicker");
        }
        let ch = chan::make(1);
        let shared = TimerShared::new(&ch, Some(d), None);
        wake_on_receive(&ch, &shared);
        executor::sched_point_unlogged(Event::new(Op::Timer, shared.id, Location::caller()));
        {
            let mut st = shared.lock_logged();
            arm(&shared, &mut st, executor::now().saturating_add(d));
        }
        Ticker {
            shared,
            c: ch.receiver(),
        }
    }

    /// The channel on which the ticks are delivered.
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stop the ticker; no tick prepared before the call is received afterwards.
    #[track_caller]
    pub fn stop(&self) {
        executor::sched_point_unlogged(Event::new(Op::Timer, self.shared.id, Location::caller()));
        let mut st = self.shared.lock_logged();
        self.shared.disarm(&mut st);
    }

    /// Stop the ticker and restart it with period `d`; the next tick comes after `d`.
    ///
    /// Panics with `non-positive interval for Ticker.Reset` if `d` is zero.
    #[track_caller]
    pub fn reset(&self, d: Duration) {
        if d.is_zero() {
            panic!("non-positive interval for Ticker.Reset");
        }
        executor::sched_point_unlogged(Event::new(Op::Timer, self.shared.id, Location::caller()));
        let mut st = self.shared.lock_logged();
        self.shared.disarm(&mut st);
        st.period = Some(d);
        arm(&self.shared, &mut st, executor::now().saturating_add(d));
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.gen += 1;
        // A receive through a clone of `c` must not wake a dropped ticker.
        st.dormant = None;
        if let Some(id) = st.armed.take() {
            self.shared.timers.cancel(id);
        }
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("id", &self.shared.id)
            .finish()
    }
}
