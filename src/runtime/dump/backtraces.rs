//! Full backtraces of goroutines in reports (`GOWEAVE_BACKTRACE=1`).
//!
//! With capture on, the controlled executor records for each goroutine an unresolved
//! [`Backtrace`] where it was spawned (on its parent's stack) and one each time it parks (on its
//! own stack, just before the switch), keeping the latest. A dump then carries them, and a report
//! prints them resolved, Go style: a function line, then an indented `file:line:column` line, per
//! frame, trimmed to the user's frames (plus the goweave API function the user called, such as
//! `goweave::sync::mutex::Mutex<T>::lock`, as the top frame). A goroutine being dumped while it
//! runs (the one that hit the step bound of a livelock) is captured right then.
//!
//! **Capture happens only while the checker replays the shrunk failing schedule to build its
//! report**, never while it explores or shrinks: a run starts with [`begin`] and the run's
//! `Config::backtraces`, which the checker sets for that final replay alone. Exploration speed is
//! therefore the same with `GOWEAVE_BACKTRACE=1` as without, and with capture off the hooks cost
//! one predictable branch on a thread-local flag (no capture, no allocation).
//!
//! The table lives in a thread-local of the controlled executor's thread, indexed by goroutine
//! id. [`begin`] empties it; [`end`] turns capture off but keeps the table until the next run on
//! the thread, so that a report built right after the run (a panic's creation site) can still
//! read it.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, OnceLock};

use backtrace::Backtrace;

use crate::runtime::context;
use crate::runtime::goroutine::{Status, G};
use crate::verdict::Stacks;

/// What the table keeps of one goroutine.
#[derive(Default)]
struct Slot {
    /// Where it was spawned (on its parent's stack).
    created: Option<Backtrace>,
    /// The goroutine that spawned it.
    parent: u64,
    /// Where it last parked.
    parked: Option<Backtrace>,
}

thread_local! {
    /// Capture is on for the run on this thread.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// The table holds something (so that [`begin`] leaves it alone otherwise).
    static DIRTY: Cell<bool> = const { Cell::new(false) };
    /// By goroutine id.
    static TABLE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// True while the run on this thread captures backtraces.
#[inline(always)]
fn capturing() -> bool {
    ON.with(Cell::get)
}

/// A controlled run starts on this thread: forget the previous run's backtraces, and capture
/// this run's if `on`.
pub(crate) fn begin(on: bool) {
    if DIRTY.with(|d| d.replace(false)) {
        TABLE.with(|t| t.borrow_mut().clear());
    }
    ON.with(|c| c.set(on));
}

/// The run on this thread has ended: capture off (the table stays until the next [`begin`]).
pub(crate) fn end() {
    ON.with(|c| c.set(false));
}

/// Forget the backtraces of the last run (its report is not the one being built).
pub(crate) fn forget() {
    begin(false);
}

/// Goroutine `id` is being spawned by `parent` (0: the runtime), on the parent's stack.
#[inline]
pub(crate) fn spawned(id: u64, parent: u64) {
    if capturing() {
        record_spawn(id, parent);
    }
}

/// Goroutine `id` is about to park, on its own stack.
#[inline]
pub(crate) fn parking(id: u64) {
    if capturing() {
        record_park(id);
    }
}

fn with_slot<R>(id: u64, f: impl FnOnce(&mut Slot) -> R) -> R {
    DIRTY.with(|d| d.set(true));
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let i = id as usize;
        if t.len() <= i {
            t.resize_with(i + 1, Slot::default);
        }
        f(&mut t[i])
    })
}

#[cold]
#[inline(never)]
fn record_spawn(id: u64, parent: u64) {
    if parent == 0 {
        // Main, spawned by the checker: no frames of the user's there.
        return;
    }
    let bt = Backtrace::new_unresolved();
    with_slot(id, |s| {
        s.created = Some(bt);
        s.parent = parent;
    });
}

#[cold]
#[inline(never)]
fn record_park(id: u64) {
    let bt = Backtrace::new_unresolved();
    with_slot(id, |s| s.parked = Some(bt));
}

/// The backtraces to show for `g` in a dump taken now, if this run captures them.
#[inline]
pub(crate) fn stacks_of(g: &G) -> Option<Arc<Stacks>> {
    if capturing() {
        collect(g)
    } else {
        None
    }
}

#[cold]
#[inline(never)]
fn collect(g: &G) -> Option<Arc<Stacks>> {
    let (created, parked) = TABLE.with(|t| {
        let t = t.borrow();
        t.get(g.id as usize)
            .map_or((None, None), |s| (s.created.clone(), s.parked.clone()))
    });
    let at = match g.status() {
        Status::Waiting => parked.map(|b| (b, "where it blocked:")),
        // Dumped by itself (a livelock found at its scheduling point): we are on its stack.
        Status::Running if std::ptr::eq(context::current_ptr(), g) => {
            Some((Backtrace::new_unresolved(), "where it is running:"))
        }
        // Runnable: its last park is out of date, and it has not been captured since.
        _ => None,
    };
    if at.is_none() && created.is_none() {
        return None;
    }
    Some(Arc::new(Stacks {
        at,
        created,
        rendered: OnceLock::new(),
    }))
}

/// The creation backtrace of goroutine `id` in the last run on this thread, if it captured one
/// (for a panic's report).
pub(crate) fn created_stacks(id: u64) -> Option<Arc<Stacks>> {
    let created = TABLE.with(|t| t.borrow().get(id as usize)?.created.clone())?;
    Some(Arc::new(Stacks {
        at: None,
        created: Some(created),
        rendered: OnceLock::new(),
    }))
}
