//! Happens-before hooks for the race detector. Each primitive calls these right next to the
//! operation they describe (Go's `racerelease`/`raceacquire` in `chan.go`), so the edge and the
//! operation can be checked against each other by reading one function.
//!
//! The detector is always on in the controlled executor (unless the checker turned it off with
//! `Checker::race_detection(false)`), and on the work-stealing executor with the cargo feature
//! `race` (like `go test -race`). Under the random walk the checker starts it *deferred*: no
//! clocks are kept until a schedule touches a `RaceCell`, and that schedule then runs again
//! with the detector on, which stays on (`Detector::admits`, `Explorer::explore`). Without the
//! feature these hooks compile to a thread-local check on the work-stealing executor and
//! nothing else.
//!
//! Timer callbacks run outside every goroutine, as goroutine 0: on the controlled executor's
//! scheduler stack, or on a work-stealing worker's (which, firing another worker's timer, may
//! not be the arming one). [`timer`] wraps each callback when it is armed: the callback starts
//! from the arming goroutine's clock, and it carries its runtime's handle, so the hooks the
//! callback reaches (a send on a timer channel, a context's cancel) find their detector.

use std::panic::Location;

use super::context::{self, Exec};
use super::event::ObjId;
use super::timer::TimerFn;
use crate::detect::race::{Detector, SyncKey};
use crate::verdict::RaceReport;

pub(crate) use crate::detect::race::SyncKey as Key;

#[cfg(feature = "race")]
use super::executor::steal::Shared;

#[cfg(feature = "race")]
thread_local! {
    /// The runtime whose timer callback runs on this thread right now (the timer thread has
    /// no worker context).
    static TIMER_RUNTIME: std::cell::Cell<*const Shared> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Run edge hook `f` on the current run's detector as the current goroutine (0 outside
/// goroutines).
#[inline(always)]
fn with_detector(note: Note, f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>) {
    on_current(false, Some(note), f)
}

/// What an edge hook adds to the happens-before graph of the HTML trace
/// (`runtime::hbgraph`), which records on the controlled executor only, during the replay that
/// makes a failure's report.
#[derive(Clone, Copy)]
enum Note {
    Acquire(SyncKey),
    /// A release; `true`: joined with earlier releases.
    Release(SyncKey, bool),
    ReleaseAcquire(SyncKey),
    Spawn(u64),
    Exit,
}

impl Note {
    /// Record this note of goroutine `g`.
    #[inline]
    fn record(self, g: u64) {
        use super::hbgraph;
        match self {
            Note::Acquire(k) => hbgraph::acquire(g, k),
            Note::Release(k, merge) => hbgraph::release(g, k, merge),
            Note::ReleaseAcquire(k) => {
                hbgraph::acquire(g, k);
                hbgraph::release(g, k, false);
            }
            Note::Spawn(child) => hbgraph::spawned(g, child),
            Note::Exit => hbgraph::exited(g),
        }
    }
}

/// True if an edge hook may stop here: on the controlled executor, when nobody reads edges
/// in this run (detector off or deferred, no graph drawn); elsewhere, when the `race` feature
/// is off (`on_current_read` would do nothing). A mutex program passes two edge hooks per lock
/// and unlock, a joined goroutine two; this keeps each to a thread-local load and a flag,
/// inline, not a call.
#[inline(always)]
fn edge_unread() -> bool {
    match context::exec_ref() {
        Exec::Controlled(c) => !c.edges_wanted(),
        _ => !cfg!(feature = "race"),
    }
}

/// Run `f` on the current run's detector as the current goroutine; `access`: `f` is a watched
/// access rather than an edge (see `Detector::admits`).
#[inline(always)]
fn on_current(
    access: bool,
    note: Option<Note>,
    f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>,
) {
    if !access && edge_unread() {
        return;
    }
    on_current_read(access, note, f)
}

/// `on_current` past the gate.
#[inline(never)]
fn on_current_read(
    access: bool,
    note: Option<Note>,
    f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>,
) {
    match context::exec_ref() {
        Exec::Controlled(_) => on_detector(super::id(), access, note, f),
        #[cfg(feature = "race")]
        _ => on_detector(super::id(), access, note, f),
        #[cfg(not(feature = "race"))]
        _ => {}
    }
}

/// Run edge hook `f` on the current run's detector as goroutine `g`.
#[inline(always)]
fn with_detector_as(
    note: Note,
    g: u64,
    f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>,
) {
    if edge_unread() {
        return;
    }
    on_detector(g, false, Some(note), f)
}

/// Run `f` on the current run's detector as goroutine `g` (`access` as in `on_current`).
#[inline]
fn on_detector(
    g: u64,
    access: bool,
    note: Option<Note>,
    f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>,
) {
    match context::exec_ref() {
        Exec::Controlled(c) => {
            // Before the detector's gate: the graph is drawn whether or not races are checked.
            if let Some(n) = note {
                // Recording is off while exploring: test the flag here, inline, instead of in
                // each recorder hook.
                if super::hbgraph::on() {
                    n.record(g);
                }
            }
            let mut d = c.race_detector().borrow_mut();
            if !d.admits(access) {
                return;
            }
            let r = f(&mut d, g);
            drop(d);
            if let Err(report) = r {
                c.report_race(report);
            }
        }
        #[cfg(feature = "race")]
        Exec::Steal(w) => on_steal(w.shared(), g, f),
        #[cfg(feature = "race")]
        Exec::None => {
            let s = TIMER_RUNTIME.with(|t| t.get());
            if !s.is_null() {
                // SAFETY: set only while the timer callback that holds this runtime runs.
                on_steal(unsafe { &*s }, g, f)
            }
        }
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

/// Run `f` on a work-stealing runtime's detector as goroutine `g`.
#[cfg(feature = "race")]
fn on_steal(shared: &Shared, g: u64, f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>) {
    let r = f(&mut shared.race_detector().lock(), g);
    if let Err(report) = r {
        shared.report_race(report);
    }
}

/// The current goroutine acquires `key`: everything released there happens before what it does
/// next.
#[inline]
pub(crate) fn acquire(key: SyncKey) {
    with_detector(Note::Acquire(key), |d, g| {
        d.acquire(g, key);
        Ok(())
    })
}

/// The current goroutine releases to `key` (a later acquirer sees everything before this).
#[inline]
pub(crate) fn release(key: SyncKey) {
    with_detector(Note::Release(key, false), |d, g| {
        d.release(g, key);
        Ok(())
    })
}

/// Like `release`, but joins with earlier releases instead of replacing them (wait groups,
/// reader unlocks, release sequences of atomics).
#[inline]
pub(crate) fn release_merge(key: SyncKey) {
    with_detector(Note::Release(key, true), |d, g| {
        d.release_merge(g, key);
        Ok(())
    })
}

/// Acquire and then release `key` (Go's `racereleaseacquire`, used on channel buffer slots).
#[inline]
pub(crate) fn release_acquire(key: SyncKey) {
    with_detector(Note::ReleaseAcquire(key), |d, g| {
        d.release_acquire(g, key);
        Ok(())
    })
}

/// `acquire`, `release` and `release_acquire` on behalf of goroutine `g`, which is parked: a
/// channel operation completing a blocked goroutine's send or receive does its half of the
/// edge for it (Go's `raceacquireg`, `racereleaseg`, `racereleaseacquireg` in `chan.go`).
#[inline]
pub(crate) fn acquire_as(g: u64, key: SyncKey) {
    with_detector_as(Note::Acquire(key), g, |d, g| {
        d.acquire(g, key);
        Ok(())
    })
}

/// See [`acquire_as`].
#[inline]
pub(crate) fn release_as(g: u64, key: SyncKey) {
    with_detector_as(Note::Release(key, false), g, |d, g| {
        d.release(g, key);
        Ok(())
    })
}

/// See [`acquire_as`].
#[inline]
pub(crate) fn release_acquire_as(g: u64, key: SyncKey) {
    with_detector_as(Note::ReleaseAcquire(key), g, |d, g| {
        d.release_acquire(g, key);
        Ok(())
    })
}

/// A watched read of `cell` (named `name` in reports).
#[inline]
pub(crate) fn read(cell: ObjId, name: Option<&str>, site: &'static Location<'static>) {
    on_current(true, None, |d, g| d.read(g, cell.0, name, site))
}

/// An atomic access to watched `cell` (named `name`): acquire `key`, check and record the
/// access (a read if `!write`), release `key`, all in one step of the detector, so that no
/// other goroutine's atomic access to the cell falls between (see `cell`'s module docs).
#[inline]
pub(crate) fn atomic_access(
    key: SyncKey,
    cell: ObjId,
    name: Option<&str>,
    write: bool,
    site: &'static Location<'static>,
) {
    on_current(true, None, |d, g| {
        d.acquire(g, key);
        let r = if write {
            d.write(g, cell.0, name, site)
        } else {
            d.read(g, cell.0, name, site)
        };
        d.release(g, key);
        r
    })
}

/// A watched read of the pseudo-variable `cell` of a primitive's race annotation (a channel
/// send, a WaitGroup's add from zero), which only ever races with an annotated *write*: it is
/// recorded while the detector is on, but unlike [`read`] it does not make a deferred run
/// start again with the detector on. A schedule without the write cannot race on `cell`, and
/// one with it runs again from the start (the write is an ordinary access), this read
/// included.
#[inline]
pub(crate) fn annotation_read(cell: ObjId, name: Option<&str>, site: &'static Location<'static>) {
    on_current(false, None, |d, g| d.read(g, cell.0, name, site))
}

/// A watched write of `cell` (named `name` in reports).
#[inline]
pub(crate) fn write(cell: ObjId, name: Option<&str>, site: &'static Location<'static>) {
    on_current(true, None, |d, g| d.write(g, cell.0, name, site))
}

/// The executors' own edges: spawn (parent → child's first step)... (The controlled
/// executor's root goroutine is the checked body, whose spawn site is inside goweave: reports
/// call it the main goroutine.)
/// `task`: the child is a task (reports name it so).
pub(crate) fn spawned(parent: u64, child: u64, site: &'static Location<'static>, task: bool) {
    with_detector_as(Note::Spawn(child), parent, |d, _| {
        d.spawn(parent, child, (parent != 0).then_some(site));
        if task {
            d.mark_task(child);
        }
        Ok(())
    })
}

/// ...the same on a given work-stealing runtime, which need not be this thread's (`block_on`
/// spawns main from outside the runtime)...
#[cfg(feature = "race")]
pub(crate) fn spawned_on(
    shared: &Shared,
    parent: u64,
    child: u64,
    site: &'static Location<'static>,
    task: bool,
) {
    on_steal(shared, parent, |d, _| {
        d.spawn(parent, child, Some(site));
        if task {
            d.mark_task(child);
        }
        Ok(())
    })
}

/// ...and exit (the goroutine's last step → whoever joins it).
pub(crate) fn exited(g: u64) {
    with_detector_as(Note::Exit, g, |d, _| {
        d.exit(g);
        Ok(())
    })
}

/// Wrap a timer callback as it is armed: what the arming goroutine did so far happens before
/// what the callback does (Go's `racerelease` in `time.go`'s `modify`, `raceacquire` when the
/// timer runs). Outside a watched run the callback is returned as it is.
pub(crate) fn timer(f: TimerFn) -> TimerFn {
    match context::exec_ref() {
        Exec::Controlled(c) => {
            let mut d = c.race_detector().borrow_mut();
            if !d.enabled() {
                return f;
            }
            let armed = d.timer_armed(super::id());
            drop(d);
            Box::new(move || {
                // The callback runs on the same controlled executor (its timers never leave it).
                if let Exec::Controlled(c) = context::exec_ref() {
                    c.race_detector().borrow_mut().timer_fired(armed);
                }
                f()
            })
        }
        #[cfg(feature = "race")]
        Exec::Steal(w) => timer_on(w.shared(), super::id(), f),
        #[cfg(feature = "race")]
        Exec::None => {
            // A callback re-arming its own timer (a ticker) on the timer thread.
            let s = TIMER_RUNTIME.with(|t| t.get());
            if s.is_null() {
                return f;
            }
            // SAFETY: the callback that set it holds a strong reference while it runs.
            unsafe {
                std::sync::Arc::increment_strong_count(s);
                let shared = std::sync::Arc::from_raw(s);
                timer_on(&shared, 0, f)
            }
        }
        #[allow(unreachable_patterns)]
        _ => f,
    }
}

/// [`timer`] on a work-stealing runtime: the callback holds a weak handle to the runtime and
/// installs it for the hooks it reaches on the timer thread.
#[cfg(feature = "race")]
fn timer_on(shared: &std::sync::Arc<Shared>, g: u64, f: TimerFn) -> TimerFn {
    let armed = shared.race_detector().lock().timer_armed(g);
    let weak = std::sync::Arc::downgrade(shared);
    Box::new(move || {
        let Some(shared) = weak.upgrade() else {
            return f();
        };
        shared.race_detector().lock().timer_fired(armed);
        /// Uninstalls the runtime, also if the callback panics.
        struct Restore(*const Shared);
        impl Drop for Restore {
            fn drop(&mut self) {
                TIMER_RUNTIME.with(|t| t.set(self.0));
            }
        }
        let _restore = Restore(TIMER_RUNTIME.with(|t| t.replace(std::sync::Arc::as_ptr(&shared))));
        f()
    })
}
