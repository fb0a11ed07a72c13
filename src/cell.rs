//! `RaceCell<T>`: interior mutability whose accesses the race detector watches.
//!
//! Every access is a scheduling point and is checked against the happens-before order built from
//! the synchronisation primitives. The value sits behind a lock, so a program that races on a
//! `RaceCell` stays memory-safe on any executor; the race is still reported (always on the
//! controlled executor, and with the `race` feature on the work-stealing one).

use std::panic::Location;
use std::sync::Mutex;

use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor;
use crate::runtime::hb;

/// A shared value whose reads and writes are checked for data races.
///
/// ```
/// use goweave::cell::RaceCell;
/// use std::sync::Arc;
///
/// let failure = goweave::Checker::new().iterations(1).run(|| {
///     let balance = Arc::new(RaceCell::named("balance", 100));
///     let b = balance.clone();
///     let h = goweave::go(move || b.set(b.get() + 50));
///     balance.set(balance.get() + 50); // nothing orders this against the goroutine
///     h.join();
/// }).unwrap_err();
/// assert!(failure.to_string().contains("WARNING: DATA RACE"));
/// ```
pub struct RaceCell<T> {
    id: ObjId,
    name: Option<String>,
    value: Mutex<T>,
}

impl<T> RaceCell<T> {
    /// A watched cell holding `value`.
    pub fn new(value: T) -> RaceCell<T> {
        RaceCell {
            id: executor::new_object_id(),
            name: None,
            value: Mutex::new(value),
        }
    }

    /// A watched cell with a name for race reports (`Write at balance by goroutine 8`).
    pub fn named(name: &str, value: T) -> RaceCell<T> {
        let mut c = RaceCell::new(value);
        c.name = Some(name.to_string());
        c
    }

    fn access(&self, write: bool, site: &'static Location<'static>) {
        let op = if write { Op::Write } else { Op::Read };
        executor::sched_point(Event::new(op, self.id, site));
        let name = self.name.as_deref();
        if write {
            hb::write(self.id, name, site);
        } else {
            hb::read(self.id, name, site);
        }
    }

    /// Read the value (a copy).
    #[track_caller]
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.access(false, Location::caller());
        self.value.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the value.
    #[track_caller]
    pub fn set(&self, v: T) {
        self.access(true, Location::caller());
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }

    /// Read through a reference.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.access(false, Location::caller());
        f(&self.value.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Modify in place (one write access).
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.access(true, Location::caller());
        f(&mut self.value.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Take the value out.
    pub fn into_inner(self) -> T {
        self.value.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Default> Default for RaceCell<T> {
    fn default() -> RaceCell<T> {
        RaceCell::new(T::default())
    }
}
