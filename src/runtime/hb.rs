//! Happens-before hooks for the race detector. Each primitive calls these right next to the
//! operation they describe (Go's `racerelease`/`raceacquire` in `chan.go`), so the edge and the
//! operation can be checked against each other by reading one function.
//!
//! The detector is always on in the controlled executor, and on the work-stealing executor with
//! the cargo feature `race` (like `go test -race`). Without the feature these hooks compile to a
//! thread-local check on the work-stealing executor and nothing else.

use std::panic::Location;

use super::context::{self, ExecPtr};
use super::event::ObjId;
use crate::detect::race::{Detector, RaceReport, SyncKey};

pub(crate) use crate::detect::race::SyncKey as Key;

/// Run `f` on the current run's detector as the current goroutine (0 outside goroutines).
#[inline]
fn with_detector(f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>) {
    match context::exec() {
        ExecPtr::Controlled(_) => with_detector_as(super::id(), f),
        #[cfg(feature = "race")]
        ExecPtr::Steal(_) => with_detector_as(super::id(), f),
        _ => {}
    }
}

/// Run `f` on the current run's detector as goroutine `g`.
fn with_detector_as(g: u64, f: impl FnOnce(&mut Detector, u64) -> Result<(), RaceReport>) {
    match context::exec() {
        ExecPtr::Controlled(c) => {
            // SAFETY: an installed controlled executor outlives its installation on this thread.
            let c = unsafe { &*c };
            let r = f(&mut c.race_detector().borrow_mut(), g);
            if let Err(report) = r {
                c.report_race(report);
            }
        }
        #[cfg(feature = "race")]
        ExecPtr::Steal(w) => {
            // SAFETY: an installed worker context outlives its installation on this thread.
            let shared = unsafe { &*w }.shared();
            let r = f(&mut shared.race_detector().lock().unwrap(), g);
            if let Err(report) = r {
                shared.report_race(report);
            }
        }
        _ => {}
    }
}

/// The current goroutine acquires `key`: everything released there happens before what it does
/// next.
#[inline]
pub(crate) fn acquire(key: SyncKey) {
    with_detector(|d, g| {
        d.acquire(g, key);
        Ok(())
    })
}

/// The current goroutine releases to `key` (a later acquirer sees everything before this).
#[inline]
pub(crate) fn release(key: SyncKey) {
    with_detector(|d, g| {
        d.release(g, key);
        Ok(())
    })
}

/// Like `release`, but joins with earlier releases instead of replacing them (wait groups,
/// reader unlocks, release sequences of atomics).
#[inline]
pub(crate) fn release_merge(key: SyncKey) {
    with_detector(|d, g| {
        d.release_merge(g, key);
        Ok(())
    })
}

/// Acquire and then release `key` (Go's `racereleaseacquire`, used on channel buffer slots).
#[inline]
pub(crate) fn release_acquire(key: SyncKey) {
    with_detector(|d, g| {
        d.release_acquire(g, key);
        Ok(())
    })
}

/// `acquire`, `release` and `release_acquire` on behalf of goroutine `g`, which is parked: a
/// channel operation completing a blocked goroutine's send or receive does its half of the
/// edge for it (Go's `raceacquireg`, `racereleaseg`, `racereleaseacquireg` in `chan.go`).
#[inline]
pub(crate) fn acquire_as(g: u64, key: SyncKey) {
    with_detector_as(g, |d, g| {
        d.acquire(g, key);
        Ok(())
    })
}

/// See [`acquire_as`].
#[inline]
pub(crate) fn release_as(g: u64, key: SyncKey) {
    with_detector_as(g, |d, g| {
        d.release(g, key);
        Ok(())
    })
}

/// See [`acquire_as`].
#[inline]
pub(crate) fn release_acquire_as(g: u64, key: SyncKey) {
    with_detector_as(g, |d, g| {
        d.release_acquire(g, key);
        Ok(())
    })
}

/// A watched read of `cell` (named `name` in reports).
#[inline]
pub(crate) fn read(cell: ObjId, name: Option<&str>, site: &'static Location<'static>) {
    with_detector(|d, g| d.read(g, cell.0, name, site))
}

/// A watched write of `cell` (named `name` in reports).
#[inline]
pub(crate) fn write(cell: ObjId, name: Option<&str>, site: &'static Location<'static>) {
    with_detector(|d, g| d.write(g, cell.0, name, site))
}

/// The executors' own edges: spawn (parent → child's first step)...
pub(crate) fn spawned(parent: u64, child: u64, site: &'static Location<'static>) {
    with_detector_as(parent, |d, _| {
        d.spawn(parent, child, site);
        Ok(())
    })
}

/// ...and exit (the goroutine's last step → whoever joins it).
pub(crate) fn exited(g: u64) {
    with_detector_as(g, |d, _| {
        d.exit(g);
        Ok(())
    })
}
