//! `RaceCell<T>`: interior mutability whose accesses the race detector watches.
//!
//! Every access is a scheduling point and is checked against the happens-before order built from
//! the synchronisation primitives. The value sits behind a lock, so a program that races on a
//! `RaceCell` stays memory-safe on any executor; the race is still reported (always on the
//! controlled executor, and with the `race` feature on the work-stealing one).
//!
//! A cell can also be accessed *atomically* ([`RaceCell::atomic_load`], [`atomic_store`],
//! [`atomic_update`]), for Go code that reaches one variable both through `sync/atomic` and
//! plainly (`atomic.AddInt32(&n, 1)` in one goroutine, `n++` or `return n` in another). As in
//! Go's race detector, two atomic accesses never race with each other, and an atomic access
//! races with a plain one (one of them a write) that happens-before does not order.
//!
//! How: every atomic operation on a cell acquires the cell's own synchronisation key before
//! its access and releases it after, so the atomic operations on one cell are totally ordered
//! (Go's atomics are sequentially consistent) and each is recorded as an ordinary read or
//! write, which the detector then never finds unordered with another atomic one. A load
//! releases too: stronger than Go's detector, where only a load that observes a store is
//! synchronised with it, so a program that uses an atomic load *as a release* of other data
//! is not reported here.
//!
//! [`atomic_store`]: RaceCell::atomic_store
//! [`atomic_update`]: RaceCell::atomic_update

use std::panic::Location;
use std::sync::Mutex;

use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor;
use crate::runtime::hb;
use crate::runtime::hb::Key;

/// The part of a cell's id its atomic operations synchronise on.
const ATOMIC_PART: u64 = 0;

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
    /// Accesses logged by a recording run so far (the cell's order in the recording: a
    /// racing pair replays in the order it happened, not in the order of two clocks).
    seq: std::sync::atomic::AtomicU64,
}

impl<T> RaceCell<T> {
    /// A watched cell holding `value`.
    pub fn new(value: T) -> RaceCell<T> {
        RaceCell {
            id: executor::new_object_id(),
            name: None,
            value: Mutex::new(value),
            seq: std::sync::atomic::AtomicU64::new(0),
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
        executor::sched_point_seq(Event::new(op, self.id, site), &self.seq);
        let name = self.name.as_deref();
        if write {
            hb::write(self.id, name, site);
        } else {
            hb::read(self.id, name, site);
        }
    }

    /// An atomic access (see the module docs): a scheduling point, then the access checked
    /// between an acquire and a release of the cell's own key.
    fn atomic_access(&self, op: Op, site: &'static Location<'static>) {
        executor::sched_point_seq(
            Event::atomic(op, self.id, std::sync::atomic::Ordering::SeqCst, site),
            &self.seq,
        );
        let key = Key::Part(self.id.0, ATOMIC_PART);
        let write = op != Op::AtomicLoad;
        hb::atomic_access(key, self.id, self.name.as_deref(), write, site);
    }

    /// Read the value atomically (Go's `atomic.LoadInt64(&x)`): never races with another
    /// atomic access, races with an unordered plain write ([`set`](RaceCell::set),
    /// [`with_mut`](RaceCell::with_mut)).
    #[track_caller]
    pub fn atomic_load(&self) -> T
    where
        T: Clone,
    {
        self.atomic_access(Op::AtomicLoad, Location::caller());
        self.value.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the value atomically (Go's `atomic.StoreInt64(&x, v)`): never races with
    /// another atomic access, races with an unordered plain read or write.
    #[track_caller]
    pub fn atomic_store(&self, v: T) {
        self.atomic_access(Op::AtomicStore, Location::caller());
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }

    /// Read-modify-write atomically, returning the previous value (Go's `atomic.AddInt64`,
    /// `SwapInt64`, `CompareAndSwapInt64`, ...: `x.atomic_update(|v| v + 1)`). Never races
    /// with another atomic access, races with an unordered plain read or write.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goweave::cell::RaceCell;
    ///
    /// let failure = goweave::Checker::new().iterations(50).run(|| {
    ///     let hits = Arc::new(RaceCell::named("hits", 0u32));
    ///     let h2 = hits.clone();
    ///     let g = goweave::go(move || { h2.atomic_update(|n| n + 1); });
    ///     hits.atomic_update(|n| n + 1); // atomic with atomic: fine
    ///     let _ = hits.get();            // a plain read of what `g` may be adding: a race
    ///     g.join();
    /// }).unwrap_err();
    /// assert!(failure.to_string().contains("WARNING: DATA RACE"));
    /// ```
    #[track_caller]
    pub fn atomic_update(&self, f: impl FnOnce(T) -> T) -> T
    where
        T: Clone,
    {
        self.atomic_access(Op::AtomicRmw, Location::caller());
        let mut v = self.value.lock().unwrap_or_else(|e| e.into_inner());
        let old = v.clone();
        *v = f(old.clone());
        old
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
