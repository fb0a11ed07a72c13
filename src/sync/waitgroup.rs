//! `WaitGroup`: Go's `sync.WaitGroup`, as a cloneable handle (goroutines are `'static`, so
//! every goroutine that calls `done` holds a clone, as Go code holds the pointer).
//!
//! The algorithm is Go's (`sync/waitgroup.go`): one 64-bit state word, the counter in the high
//! half and the number of sleeping waiters in the low half, and a [`Sema`] they sleep on.
//!
//! Invariants:
//! - The counter never goes below zero: `add` panics with `sync: negative WaitGroup counter`.
//! - Waiters only register (CAS on `state`) while the counter is positive; the `add` that
//!   brings the counter to zero resets the whole word to zero and releases exactly that many
//!   permits, so every registered waiter wakes.
//!
//! Race annotations (Go's, in `sync/waitgroup.go`): besides the edge from every `done` to the
//! `wait` it releases, "the first increment must be synchronized with Wait". An `add` that
//! takes the counter up from zero is a watched *read* of the group, and the first waiter that
//! goes to sleep is a watched *write* of it (a read, because several increments from zero may
//! run concurrently; a write only for the first waiter, because waiters may too). So an `add`
//! that happens-before does not order against a `wait` is reported as a data race on
//! `sync.WaitGroup`, in every schedule where both happen, not only in the rare ones where the
//! misuse turns into `wait` returning early or the "reused before previous Wait" panic.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::obj::{watched, Obj};
use super::sema::Sema;
use crate::runtime::dump::WaitDetail;
use crate::runtime::event::Op;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;

/// What a race report calls the pseudo-variable of Go's annotations.
const RACE_NAME: &str = "sync.WaitGroup (an Add from zero not ordered with a Wait)";

struct Inner {
    /// Counter (high 32 bits, signed) and waiters (low 32 bits).
    state: AtomicU64,
    /// Waiters sleep here.
    sema: Sema,
    /// Identity in events.
    obj: Obj,
}

/// Waits for a collection of goroutines to finish: Go's `sync.WaitGroup`.
///
/// It is a handle: clones share one counter. [`add`](WaitGroup::add) before starting work,
/// [`done`](WaitGroup::done) when a piece finishes, [`wait`](WaitGroup::wait) for zero; or
/// let [`go`](WaitGroup::go) do the bookkeeping (Go 1.25's `wg.Go`).
///
/// ```
/// use goweave::sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// goweave::run(|| {
///     let wg = WaitGroup::new();
///     let hits = Arc::new(AtomicUsize::new(0));
///     for _ in 0..8 {
///         let hits = hits.clone();
///         wg.go(move || {
///             hits.fetch_add(1, Ordering::Relaxed);
///         });
///     }
///     wg.wait();
///     assert_eq!(hits.load(Ordering::Relaxed), 8);
/// });
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl WaitGroup {
    /// A wait group with a zero counter.
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                sema: Sema::new(),
                obj: Obj::new(),
            }),
        }
    }

    /// Add `delta` (possibly negative) to the counter; at zero, every waiter is released.
    ///
    /// Panics with `sync: negative WaitGroup counter` if the counter would go below zero.
    /// As in Go, calls with a positive delta that start from zero must happen before `wait`.
    #[track_caller]
    pub fn add(&self, delta: i64) {
        self.add_at(delta, Location::caller());
    }

    fn add_at(&self, delta: i64, site: &'static Location<'static>) {
        let inner = &*self.inner;
        let controlled = inner.obj.point(Op::WaitGroupAdd, site);
        if delta < 0 && watched(controlled) {
            // Go's raceReleaseMerge: every done happens before the wait it releases.
            hb::release_merge(inner.obj.key());
        }
        let delta32 = i32::try_from(delta).unwrap_or_else(|_| {
            panic!("sync: WaitGroup delta {delta} does not fit the 32-bit counter")
        });
        let state = inner
            .state
            .fetch_add((delta32 as i64 as u64) << 32, Ordering::SeqCst)
            .wrapping_add((delta32 as i64 as u64) << 32);
        let v = (state >> 32) as i32;
        let w = state as u32;
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if delta32 > 0 && v == delta32 && watched(controlled) {
            // Go: "the first increment must be synchronized with Wait" (a read; see the
            // module docs).
            hb::annotation_read(inner.obj.id(), Some(RACE_NAME), site);
        }
        if w != 0 && delta32 > 0 && v == delta32 {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // The counter reached zero with waiters registered: nobody can change the state now
        // except by misuse. Reset it and wake them all.
        if inner.state.load(Ordering::SeqCst) != state {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        inner.state.store(0, Ordering::SeqCst);
        for _ in 0..w {
            inner.sema.release();
        }
    }

    /// Decrement the counter by one (Go's `Done`).
    #[track_caller]
    pub fn done(&self) {
        self.add_at(-1, Location::caller());
    }

    /// Block (wait reason `sync.WaitGroup.Wait`) until the counter is zero.
    #[track_caller]
    pub fn wait(&self) {
        let site = Location::caller();
        // Blocks while the counter is not zero (what a strategy asks: `verdict::probe`).
        let controlled = self.inner.obj.point_probe(Op::WaitGroupWait, site, &|| {
            (self.inner.state.load(Ordering::SeqCst) >> 32) as i32 != 0
        });
        if self.register(site, controlled) {
            let detail = controlled.then(|| self.detail());
            self.inner
                .sema
                .acquire(WaitReason::WaitGroupWait, site, false, detail);
            self.woken(controlled);
        }
    }

    /// [`wait`](WaitGroup::wait) as a future, for tasks (`goweave::task`) and any other
    /// executor: the same counter and semaphore, with the future's waker queued instead of a
    /// parked goroutine.
    ///
    /// ```
    /// goweave::run(|| {
    ///     let wg = goweave::sync::WaitGroup::new();
    ///     wg.add(2);
    ///     for _ in 0..2 {
    ///         let w = wg.clone();
    ///         goweave::task::spawn(async move { w.done() });
    ///     }
    ///     goweave::task::spawn(async move { wg.wait_async().await }).join();
    /// });
    /// ```
    #[track_caller]
    pub fn wait_async(&self) -> impl std::future::Future<Output = ()> + Send + '_ {
        let site = Location::caller();
        async move {
            let controlled = self.inner.obj.point(Op::WaitGroupWait, site);
            if self.register(site, controlled) {
                self.inner
                    .sema
                    .acquire_async(WaitReason::WaitGroupWait, site, false)
                    .await;
                self.woken(controlled);
            }
        }
    }

    /// The first half of `wait`: false if the counter is zero (nothing to wait for), true once
    /// registered as a waiter (then wait on the semaphore, and call `woken`).
    fn register(&self, site: &'static Location<'static>, controlled: bool) -> bool {
        let inner = &*self.inner;
        let mut state = inner.state.load(Ordering::SeqCst);
        loop {
            if (state >> 32) as i32 == 0 {
                if watched(controlled) {
                    hb::acquire(inner.obj.key());
                }
                return false;
            }
            // Register as a waiter.
            match inner.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    if state as u32 == 0 && watched(controlled) {
                        // Go: "Wait must be synchronized with the first Add" (a write, by the
                        // first waiter only; see the module docs).
                        hb::write(inner.obj.id(), Some(RACE_NAME), site);
                    }
                    return true;
                }
                Err(now) => state = now,
            }
        }
    }

    /// The second half of `wait`, once the semaphore released the waiter.
    fn woken(&self, controlled: bool) {
        let inner = &*self.inner;
        if inner.state.load(Ordering::SeqCst) != 0 {
            panic!("sync: WaitGroup is reused before previous Wait has returned");
        }
        if watched(controlled) {
            hb::acquire(inner.obj.key());
        }
    }

    /// Run `f` in a new goroutine counted by the group (Go 1.25's `wg.Go`): `add(1)` now,
    /// `done()` when `f` returns.
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let site = Location::caller();
        self.add_at(1, site);
        let done = Done(self.clone(), site);
        crate::go(move || {
            let done = done;
            f();
            drop(done);
        });
    }

    /// The report line of a goroutine waiting in `wait`.
    fn detail(&self) -> WaitDetail {
        /// # Safety
        /// `inner` points at a live `Inner` (`WaitDetail::new`'s contract).
        unsafe fn describe(inner: *const (), _waiter: u64) -> String {
            // SAFETY: the caller's contract.
            let inner = unsafe { &*(inner as *const Inner) };
            let v = (inner.state.load(Ordering::SeqCst) >> 32) as i32;
            format!("sync.WaitGroup counter is {v}: it waits for {v} more done()")
        }
        // SAFETY: the detail is attached only while the waiter is parked inside `wait(&self)`
        // (a guard removes it on wake-up and on unwind); `self` holds `inner` alive meanwhile.
        unsafe { WaitDetail::new(&*self.inner, 0, describe) }
    }

    /// The counter now (a snapshot, for tests and debugging).
    pub fn count(&self) -> i64 {
        (self.inner.state.load(Ordering::SeqCst) >> 32) as i32 as i64
    }
}

/// Calls `done` when the goroutine started by [`WaitGroup::go`] ends (even by panicking).
struct Done(WaitGroup, &'static Location<'static>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.add_at(-1, self.1);
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.load(Ordering::Relaxed);
        f.debug_struct("WaitGroup")
            .field("count", &((s >> 32) as i32))
            .field("waiters", &(s as u32))
            .finish()
    }
}
