//! The internal executor interface, modelled on Go's `gopark`/`goready`.
//!
//! Every primitive is written once against these functions; the work-stealing executor
//! ([`steal`]) and the controlled executor ([`controlled`]) implement them. The executor is
//! found through the thread's [`context`](super::context).
//!
//! - [`park`] suspends the running goroutine; its `unlock` step runs on the scheduler's stack
//!   after the switch, and only then may anyone [`unpark`] the goroutine.
//! - [`sched_point`] comes before every visible operation: the controlled executor may switch
//!   goroutines there; the work-stealing executor does (almost) nothing.
//! - [`yield_hint`] tells the controlled executor that a non-blocking operation failed (the
//!   goroutine is polling), so that its strategy deprioritises the goroutine.
//! - [`spawn`], [`yield_now`], timers ([`now`], [`add_timer`], [`Timers`]) and the
//!   executor's random source ([`random_below`]).

pub(crate) mod controlled;
pub(crate) mod steal;

use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::context::{self, Exec};
use super::coroutine::{self, Request};
use super::event::{Event, ObjId};
use super::goroutine::{GRef, Install, WaitReason};
use super::timer::{TimerFn, TimerId};

/// Which executor a goroutine belongs to.
pub(crate) enum ExecKind {
    /// A work-stealing runtime, by id. Not an `Arc<Shared>`: a reference count bumped by the
    /// spawning worker and dropped by the finishing one made every goroutine bounce a cache line
    /// between workers. Wakers on the runtime's own workers use the worker's handle; others
    /// look the runtime up by id (`steal::lookup`).
    Steal(u64),
    /// A controlled executor, by instance id (it only ever runs on one thread).
    Controlled(u64),
}

/// The message for blocking operations attempted outside any goroutine.
pub(crate) const OUTSIDE_RUNTIME: &str = "must be called from a goroutine, but no goweave runtime is running on this thread: start one with goweave::run(|| ...) or Runtime::builder().build()?.block_on(..), or test the code with #[goweave::conc_test] / goweave::check";

/// Suspend the running goroutine with `reason`, recording `site` as where it blocked. `unlock`
/// runs after the switch, on the scheduler's stack; the goroutine continues once someone calls
/// [`unpark`] on it.
pub(crate) fn park(reason: WaitReason, site: &'static Location<'static>, unlock: impl FnOnce()) {
    let g = context::current_ptr();
    if g.is_null() {
        panic!("goweave: {} {}", reason, OUTSIDE_RUNTIME);
    }
    // SAFETY: the running goroutine is kept alive by its executor while it runs.
    let g = unsafe { &*g };
    if g.polling.get() {
        crate::task::blocking_in_task(g, reason, site);
    }
    if g.torn_down.load(std::sync::atomic::Ordering::Acquire) {
        eprintln!(
            "goweave: {} tried to block ({}) at {} while being torn down after main returned; blocking in a destructor during teardown is not supported",
            g.label(),
            reason,
            site
        );
        std::process::abort();
    }
    g.set_wait(reason, site);
    let mut unlock = Some(unlock);
    let mut step = move || {
        if let Some(u) = unlock.take() {
            u()
        }
    };
    let ptr: *mut (dyn FnMut() + '_) = &mut step;
    // SAFETY: only the lifetime is erased. The closure lives in this frame, which stays alive
    // (suspended) until the executor has called it and later resumed us.
    let ptr: *mut (dyn FnMut() + 'static) = unsafe { std::mem::transmute(ptr) };
    // `GOWEAVE_BACKTRACE`: where it blocks, captured on its own stack (one branch when off).
    super::dump::backtraces::parking(g.id);
    // `GOWEAVE_TRACE_FILE=*.html`: the blocked interval begins (one branch when off).
    super::hbgraph::parked(g.id, reason);
    let unwinding = super::unwind::parking(g);
    coroutine::suspend(g, Request::Park(ptr));
    if unwinding {
        super::unwind::resumed(g);
    }
    g.set_wait(WaitReason::None, site);
}

/// Make a parked goroutine runnable. A goroutine that is not parked (already woken, finished or
/// torn down) is left alone.
#[inline]
pub(crate) fn unpark(g: GRef) {
    match &g.exec {
        ExecKind::Steal(id) => {
            if let Exec::Steal(w) = context::exec_ref() {
                if w.shared().id() == *id {
                    // The common case, a waker on a worker of the same runtime: use the
                    // worker's own handle.
                    return w.shared().unpark(g);
                }
            }
            // A thread outside the runtime, or another runtime. A runtime that
            // has ended has torn its goroutines down: nothing to wake.
            if let Some(shared) = steal::lookup(*id) {
                shared.unpark(g)
            }
        }
        ExecKind::Controlled(id) => {
            let id = *id;
            super::hbgraph::woken(g.id);
            with_controlled(|c| {
                assert_eq!(c.id(), id, "goweave: goroutine woken from another executor");
                c.unpark(g)
            })
            .expect("goweave: a controlled goroutine was woken from another thread")
        }
    }
}

/// A scheduling point before a visible operation.
#[inline]
pub(crate) fn sched_point(ev: Event) {
    if let Exec::Controlled(c) = context::exec_ref() {
        c.sched_point(ev, None);
    } else if crate::record::on() {
        crate::record::point(ev.op, ev.obj, None);
    }
}

/// A scheduling point before `ev` on an object that logs the operation itself, for a
/// recording run, under its own lock (a channel: `HChan::lock_for`). On the work-stealing
/// executor it does nothing.
#[inline]
pub(crate) fn sched_point_unlogged(ev: Event) {
    if let Exec::Controlled(c) = context::exec_ref() {
        c.sched_point(ev, None);
    }
}

/// A scheduling point before `ev` on an object that numbers its operations in `seq` (for a
/// recording run's per-object order).
#[inline]
pub(crate) fn sched_point_seq(ev: Event, seq: &std::sync::atomic::AtomicU64) {
    if let Exec::Controlled(c) = context::exec_ref() {
        c.sched_point(ev, None);
    } else if crate::record::on() {
        crate::record::point(ev.op, ev.obj, Some(seq));
    }
}

/// A scheduling point before an operation that may block: `probe` tells the controlled
/// executor's strategy, at any decision while the goroutine waits at this point, whether the
/// operation would block if it ran then (see `verdict::probe`).
#[inline]
pub(crate) fn sched_point_probe(ev: Event, probe: &dyn crate::verdict::probe::WouldBlock) {
    if let Exec::Controlled(c) = context::exec_ref() {
        c.sched_point(ev, Some(probe));
    } else if crate::record::on() {
        crate::record::point(ev.op, ev.obj, None);
    }
}

/// [`sched_point_unlogged`] and [`sched_point_probe`] together (a blocking channel
/// operation).
#[inline]
pub(crate) fn sched_point_unlogged_probe(ev: Event, probe: &dyn crate::verdict::probe::WouldBlock) {
    if let Exec::Controlled(c) = context::exec_ref() {
        c.sched_point(ev, Some(probe));
    }
}

/// Run `f` with the controlled executor driving this thread, if any.
pub(crate) fn with_controlled<R>(f: impl FnOnce(&controlled::Controlled) -> R) -> Option<R> {
    match context::exec_ref() {
        Exec::Controlled(c) => Some(f(c)),
        _ => None,
    }
}

/// Start a goroutine on the current executor.
pub(crate) fn spawn(
    install: Install<'_>,
    name: Option<Box<str>>,
    site: &'static Location<'static>,
    handle: bool,
) -> GRef {
    match context::exec_ref() {
        Exec::Controlled(c) => c.spawn(install, name, site, handle),
        Exec::Steal(w) => w.shared().spawn(install, name, site, handle),
        Exec::None => panic!("goweave::go {}", OUTSIDE_RUNTIME),
    }
}

/// Let other goroutines run (Go's `runtime.Gosched`).
pub(crate) fn yield_now(site: &'static Location<'static>) {
    let g = context::current_ptr();
    if g.is_null() {
        std::thread::yield_now();
        return;
    }
    // SAFETY: the running goroutine is kept alive by its executor while it runs.
    let g = unsafe { &*g };
    if g.polling.get() {
        crate::task::gosched_in_task(g, site);
    }
    // A goroutine never suspends in the middle of an unwind unless it must block (see
    // `runtime::unwind`): `gosched` in a destructor during a panic is a no-op.
    if g.torn_down.load(std::sync::atomic::Ordering::Acquire) || super::unwind::unwinding(g) {
        return;
    }
    g.set_site(site);
    if let Exec::Controlled(c) = context::exec_ref() {
        if c.yield_point(g) {
            coroutine::suspend(g, Request::Switch);
        }
        return;
    }
    if crate::record::on() {
        crate::record::point(super::event::Op::Yield, super::event::ObjId(0), None);
    }
    coroutine::suspend(g, Request::Yield);
}

/// A non-blocking operation of the running goroutine failed (a `try_send` or `try_recv` that
/// would have blocked, a `select!` that took `default`, a compare-exchange that failed): it is
/// probably polling. On the controlled executor its next decision then counts as a yield, so
/// the strategy lets the goroutine it waits for (or time) go first. Costs nothing elsewhere.
#[inline]
pub(crate) fn yield_hint() {
    if let Exec::Controlled(c) = context::exec_ref() {
        c.yield_hint();
    }
}

/// The executor's clock: time since its epoch (virtual on the controlled executor).
#[inline]
pub(crate) fn now() -> Duration {
    match context::exec_ref() {
        Exec::Controlled(c) => c.now(),
        Exec::Steal(w) => w.shared().now(),
        Exec::None => steal::real_now(),
    }
}

/// Arm a timer that runs `f` (on a scheduler, not a goroutine) at `deadline`.
pub(crate) fn add_timer(deadline: Duration, f: TimerFn) -> TimerId {
    match context::exec_ref() {
        Exec::Controlled(c) => c.add_timer(deadline, f),
        Exec::Steal(w) => w.shared().add_timer(deadline, f),
        Exec::None => panic!("goweave timers {}", OUTSIDE_RUNTIME),
    }
}

/// The current executor's timers, as a handle that works from any thread. A timer callback runs
/// outside every goroutine (on a worker's or the controlled executor's scheduler stack),
/// where [`add_timer`] cannot find its executor; a periodic timer (`time::Ticker`) re-arms
/// itself through this handle.
#[derive(Clone)]
pub(crate) enum Timers {
    /// A work-stealing runtime's shared timer heap.
    Steal(Arc<steal::Shared>),
    /// A controlled executor, by instance id (its callbacks run on its own thread).
    Controlled(u64),
}

/// The [`Timers`] of the executor driving this thread. Panics outside a runtime.
pub(crate) fn timers() -> Timers {
    match context::exec_ref() {
        Exec::Controlled(c) => Timers::Controlled(c.id()),
        Exec::Steal(w) => Timers::Steal(w.shared().clone()),
        Exec::None => panic!("goweave timers {}", OUTSIDE_RUNTIME),
    }
}

impl Timers {
    /// Arm a timer that runs `f` at `deadline` (see [`add_timer`]).
    pub(crate) fn add(&self, deadline: Duration, f: TimerFn) -> TimerId {
        match self {
            Timers::Steal(s) => s.add_timer(deadline, f),
            Timers::Controlled(id) => with_controlled(|c| {
                assert_eq!(
                    c.id(),
                    *id,
                    "goweave: a timer armed on another controlled run"
                );
                c.add_timer(deadline, f)
            })
            .expect("goweave: a controlled executor's timer was armed from another thread"),
        }
    }

    /// Start a goroutine on this executor from a timer callback (which runs outside every
    /// goroutine, where [`spawn`] cannot find the executor): `time::after_func`.
    pub(crate) fn spawn(
        &self,
        install: Install<'_>,
        name: Option<Box<str>>,
        site: &'static Location<'static>,
        handle: bool,
    ) -> GRef {
        match self {
            Timers::Steal(s) => s.spawn(install, name, site, handle),
            Timers::Controlled(id) => with_controlled(|c| {
                assert_eq!(
                    c.id(),
                    *id,
                    "goweave: a goroutine spawned on another controlled run"
                );
                c.spawn(install, name, site, handle)
            })
            .expect("goweave: a controlled executor's goroutine was spawned from another thread"),
        }
    }

    /// Disarm a timer; true if it had not fired yet. False if its executor is gone.
    pub(crate) fn cancel(&self, id: TimerId) -> bool {
        match self {
            Timers::Steal(s) => s.cancel_timer(id),
            Timers::Controlled(cid) => {
                with_controlled(|c| c.id() == *cid && c.cancel_timer(id)).unwrap_or(false)
            }
        }
    }
}

/// A uniform choice in `0..n` (n ≥ 1) from the executor's random source. On the controlled
/// executor it is a recorded, replayable schedule choice.
///
/// Inline for the `n == 1` case, which draws nothing on either executor: a `select!` with one
/// ready case (every message of `select2_unbuffered_1m`) then pays a compare, not a call.
#[inline]
pub(crate) fn random_below(n: u64) -> u64 {
    assert!(n > 0, "random_below(0)");
    if n == 1 {
        return 0;
    }
    draw_below(n)
}

/// [`random_below`] for `n >= 2`.
fn draw_below(n: u64) -> u64 {
    match context::exec_ref() {
        Exec::Controlled(c) => c.random_below(n),
        _ => {
            let v = steal::fast_random_below(n);
            if crate::record::on() {
                crate::record::value(v);
            }
            v
        }
    }
}

/// Which of `waiters` (goroutine ids, oldest first, two or more) a release wakes: the
/// strategy's choice on the controlled executor, else the oldest (Go's FIFO hand-off).
#[cold]
pub(crate) fn pick_waiter(waiters: &[u64]) -> usize {
    match context::exec_ref() {
        Exec::Controlled(c) => c.pick_waiter(waiters),
        _ => 0,
    }
}

/// A fresh object id (deterministic per run on the controlled executor).
pub(crate) fn new_object_id() -> ObjId {
    match context::exec_ref() {
        Exec::Controlled(c) => c.new_object_id(),
        _ => steal::global_object_id(),
    }
}

/// True on the controlled executor's thread.
#[inline]
pub(crate) fn is_controlled() -> bool {
    matches!(context::exec_ref(), Exec::Controlled(_))
}
