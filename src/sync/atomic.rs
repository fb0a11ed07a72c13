//! Atomics with the API of `std::sync::atomic`, where every operation is a scheduling point
//! that carries its memory ordering.
//!
//! On the controlled executor each load, store and read-modify-write is an [`Event`] (op
//! `AtomicLoad`, `AtomicStore` or `AtomicRmw`, with `Event::ordering` set), so the strategy can
//! interleave goroutines between atomic operations and the race detector can derive
//! happens-before edges from the orderings. For a compare-exchange the event carries the
//! success ordering. On the work-stealing executor the wrappers cost one thread-local check
//! over std's atomics.
//!
//! Each type wraps the std atomic of the same name plus a lazily assigned object id.
//!
//! [`Event`]: crate::runtime::Event

use std::fmt;
use std::panic::Location;
use std::sync::atomic as std_atomic;

pub use std::sync::atomic::Ordering;

use super::obj::{watched, Obj};
use crate::runtime::event::Op;
use crate::runtime::hb;

/// Race-detector edges of atomics (each object is one key): an acquiring load joins every
/// earlier releasing store or read-modify-write (merged, which models release sequences
/// conservatively: it can hide a race, never invent one). Relaxed operations add no edge.
fn acquires(o: Ordering) -> bool {
    matches!(o, Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst)
}

fn releases(o: Ordering) -> bool {
    matches!(o, Ordering::Release | Ordering::AcqRel | Ordering::SeqCst)
}

/// Before an operation with `o`: its release edge. SeqCst operations also join one total order
/// (a single key shared by every SeqCst operation of the run), so a SeqCst store on one atomic
/// orders a later SeqCst load of another, as the C++/Rust model's single total order S does.
#[cold]
fn hb_release(obj: &Obj, o: Ordering) {
    if releases(o) {
        hb::release_merge(obj.key());
    }
    if o == Ordering::SeqCst {
        hb::release_merge(hb::Key::SeqCst);
    }
}

/// After an operation with `o`: its acquire edge (and the SeqCst total order's).
#[cold]
fn hb_acquire(obj: &Obj, o: Ordering) {
    if acquires(o) {
        hb::acquire(obj.key());
    }
    if o == Ordering::SeqCst {
        hb::acquire(hb::Key::SeqCst);
    }
}

/// After a compare-exchange: a success is a read-modify-write with `success`, a failure a load
/// with `failure`, and a hint that the goroutine is spinning (`executor::yield_hint`).
#[cold]
fn hb_cas<T>(obj: &Obj, r: &Result<T, T>, success: Ordering, failure: Ordering) {
    match r {
        Ok(_) => {
            hb_acquire(obj, success);
            hb_release(obj, success);
        }
        Err(_) => {
            hb_acquire(obj, failure);
            crate::runtime::executor::yield_hint();
        }
    }
}

macro_rules! common_methods {
    ($std:ident, $t:ty) => {
        /// A new atomic (usable in a `static`).
        pub const fn new(v: $t) -> Self {
            Self {
                v: std_atomic::$std::new(v),
                obj: Obj::new(),
            }
        }

        /// Mutable access: `&mut self` proves nobody else can touch it.
        pub fn get_mut(&mut self) -> &mut $t {
            self.v.get_mut()
        }

        /// The value, consuming the atomic.
        pub fn into_inner(self) -> $t {
            self.v.into_inner()
        }

        /// Load the value.
        #[track_caller]
        #[inline]
        pub fn load(&self, order: Ordering) -> $t {
            let c = self
                .obj
                .atomic_point(Op::AtomicLoad, order, Location::caller());
            let v = self.v.load(order);
            if watched(c) {
                hb_acquire(&self.obj, order);
            }
            v
        }

        /// Store a value.
        #[track_caller]
        #[inline]
        pub fn store(&self, val: $t, order: Ordering) {
            let c = self
                .obj
                .atomic_point(Op::AtomicStore, order, Location::caller());
            if watched(c) {
                hb_release(&self.obj, order);
            }
            self.v.store(val, order)
        }

        /// Store a value, returning the previous one.
        #[track_caller]
        #[inline]
        pub fn swap(&self, val: $t, order: Ordering) -> $t {
            let c = self
                .obj
                .atomic_point(Op::AtomicRmw, order, Location::caller());
            if watched(c) {
                hb_release(&self.obj, order);
            }
            let v = self.v.swap(val, order);
            if watched(c) {
                hb_acquire(&self.obj, order);
            }
            v
        }

        /// Store `new` if the value is `current`; `Ok(previous)` on success, `Err(actual)`
        /// otherwise.
        #[track_caller]
        #[inline]
        pub fn compare_exchange(
            &self,
            current: $t,
            new: $t,
            success: Ordering,
            failure: Ordering,
        ) -> Result<$t, $t> {
            let c = self
                .obj
                .atomic_point(Op::AtomicRmw, success, Location::caller());
            let r = self.v.compare_exchange(current, new, success, failure);
            if watched(c) {
                hb_cas(&self.obj, &r, success, failure);
            }
            r
        }

        /// Like [`compare_exchange`](Self::compare_exchange), but may fail spuriously.
        #[track_caller]
        #[inline]
        pub fn compare_exchange_weak(
            &self,
            current: $t,
            new: $t,
            success: Ordering,
            failure: Ordering,
        ) -> Result<$t, $t> {
            let c = self
                .obj
                .atomic_point(Op::AtomicRmw, success, Location::caller());
            let r = self.v.compare_exchange_weak(current, new, success, failure);
            if watched(c) {
                hb_cas(&self.obj, &r, success, failure);
            }
            r
        }

        /// Apply `f` until it returns `None` or the update sticks; one scheduling point.
        #[track_caller]
        #[inline]
        pub fn fetch_update<F>(
            &self,
            set_order: Ordering,
            fetch_order: Ordering,
            f: F,
        ) -> Result<$t, $t>
        where
            F: FnMut($t) -> Option<$t>,
        {
            let c = self
                .obj
                .atomic_point(Op::AtomicRmw, set_order, Location::caller());
            let r = self.v.fetch_update(set_order, fetch_order, f);
            if watched(c) {
                hb_cas(&self.obj, &r, set_order, fetch_order);
            }
            r
        }

        /// A raw pointer to the value (accesses through it are not scheduling points).
        pub const fn as_ptr(&self) -> *mut $t {
            self.v.as_ptr()
        }
    };
}

macro_rules! rmw {
    ($(#[$doc:meta] $op:ident),* ; $t:ty) => {
        $(
            #[$doc]
            #[track_caller]
            #[inline]
            pub fn $op(&self, val: $t, order: Ordering) -> $t {
                let c = self
                    .obj
                    .atomic_point(Op::AtomicRmw, order, Location::caller());
                if watched(c) {
                    hb_release(&self.obj, order);
                }
                let v = self.v.$op(val, order);
                if watched(c) {
                    hb_acquire(&self.obj, order);
                }
                v
            }
        )*
    };
}

macro_rules! atomic_int {
    ($(#[$doc:meta])* $name:ident, $std:ident, $t:ty) => {
        $(#[$doc])*
        pub struct $name {
            v: std_atomic::$std,
            obj: Obj,
        }

        impl $name {
            common_methods!($std, $t);
            rmw!(
                /// Add, returning the previous value (wrapping on overflow).
                fetch_add,
                /// Subtract, returning the previous value (wrapping on overflow).
                fetch_sub,
                /// Bitwise and, returning the previous value.
                fetch_and,
                /// Bitwise nand, returning the previous value.
                fetch_nand,
                /// Bitwise or, returning the previous value.
                fetch_or,
                /// Bitwise xor, returning the previous value.
                fetch_xor,
                /// Maximum, returning the previous value.
                fetch_max,
                /// Minimum, returning the previous value.
                fetch_min;
                $t
            );
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new(0)
            }
        }

        impl From<$t> for $name {
            fn from(v: $t) -> $name {
                $name::new(v)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.v, f)
            }
        }
    };
}

atomic_int!(
    /// An `i32` shared between goroutines; see [`std::sync::atomic::AtomicI32`].
    AtomicI32, AtomicI32, i32
);
atomic_int!(
    /// A `u32` shared between goroutines; see [`std::sync::atomic::AtomicU32`].
    AtomicU32, AtomicU32, u32
);
atomic_int!(
    /// An `i64` shared between goroutines; see [`std::sync::atomic::AtomicI64`].
    AtomicI64, AtomicI64, i64
);
atomic_int!(
    /// A `u64` shared between goroutines; see [`std::sync::atomic::AtomicU64`].
    AtomicU64, AtomicU64, u64
);
atomic_int!(
    /// An `isize` shared between goroutines; see [`std::sync::atomic::AtomicIsize`].
    AtomicIsize, AtomicIsize, isize
);
atomic_int!(
    /// A `usize` shared between goroutines; see [`std::sync::atomic::AtomicUsize`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goweave::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// goweave::run(|| {
    ///     let n = Arc::new(AtomicUsize::new(0));
    ///     let hs: Vec<_> = (0..4)
    ///         .map(|_| {
    ///             let n = n.clone();
    ///             goweave::go(move || n.fetch_add(1, Ordering::SeqCst))
    ///         })
    ///         .collect();
    ///     hs.into_iter().for_each(|h| { h.join(); });
    ///     assert_eq!(n.load(Ordering::SeqCst), 4);
    /// });
    /// ```
    AtomicUsize, AtomicUsize, usize
);

/// A `bool` shared between goroutines; see [`std::sync::atomic::AtomicBool`].
pub struct AtomicBool {
    v: std_atomic::AtomicBool,
    obj: Obj,
}

impl AtomicBool {
    common_methods!(AtomicBool, bool);
    rmw!(
        /// Logical and, returning the previous value.
        fetch_and,
        /// Logical nand, returning the previous value.
        fetch_nand,
        /// Logical or, returning the previous value.
        fetch_or,
        /// Logical xor, returning the previous value.
        fetch_xor;
        bool
    );

    /// Logical not, returning the previous value.
    #[track_caller]
    #[inline]
    pub fn fetch_not(&self, order: Ordering) -> bool {
        self.fetch_xor(true, order)
    }
}

impl Default for AtomicBool {
    fn default() -> AtomicBool {
        AtomicBool::new(false)
    }
}

impl From<bool> for AtomicBool {
    fn from(v: bool) -> AtomicBool {
        AtomicBool::new(v)
    }
}

impl fmt::Debug for AtomicBool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.v, f)
    }
}

/// A raw pointer shared between goroutines; see [`std::sync::atomic::AtomicPtr`].
pub struct AtomicPtr<T> {
    v: std_atomic::AtomicPtr<T>,
    obj: Obj,
}

impl<T> AtomicPtr<T> {
    common_methods!(AtomicPtr, *mut T);
}

impl<T> Default for AtomicPtr<T> {
    fn default() -> AtomicPtr<T> {
        AtomicPtr::new(std::ptr::null_mut())
    }
}

impl<T> From<*mut T> for AtomicPtr<T> {
    fn from(p: *mut T) -> AtomicPtr<T> {
        AtomicPtr::new(p)
    }
}

impl<T> fmt::Debug for AtomicPtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.v, f)
    }
}
