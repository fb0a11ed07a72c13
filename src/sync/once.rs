//! `Once`: Go's `sync.Once`. Runs a function once; concurrent callers wait until it returned.
//!
//! The algorithm is Go's (`sync/once.go`): an atomic `done` flag for the fast path, and a
//! [`RawMutex`] that the slow path holds while the function runs (so concurrent callers park,
//! wait reason `sync.Once.Do`).
//!
//! Invariants:
//! - `done` goes false → true once, after the function returned or panicked (Go: "if f
//!   panics, Do considers it to have returned"), and while `m` is held.
//! - Calling `call_once` again from inside the function deadlocks, as in Go; the tester reports
//!   it with where the running call started.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};

use super::mutex::{describe_holder, RawMutex};
use super::obj::watched;
use crate::runtime::dump::WaitDetail;
use crate::runtime::event::Op;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;
use crate::runtime::id as current_id;

/// Runs a function exactly once: Go's `sync.Once`.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use goweave::sync::{Once, WaitGroup};
///
/// goweave::run(|| {
///     let once = Arc::new(Once::new());
///     let runs = Arc::new(AtomicU32::new(0));
///     let wg = WaitGroup::new();
///     for _ in 0..4 {
///         let (once, runs) = (once.clone(), runs.clone());
///         wg.go(move || once.call_once(|| {
///             runs.fetch_add(1, Ordering::Relaxed);
///         }));
///     }
///     wg.wait();
///     assert_eq!(runs.load(Ordering::Relaxed), 1);
/// });
/// ```
pub struct Once {
    /// True once the function has run.
    done: AtomicBool,
    /// Held while the function runs.
    m: RawMutex,
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl Once {
    /// A `Once` that has not run (usable in a `static`).
    pub const fn new() -> Once {
        Once {
            done: AtomicBool::new(false),
            m: RawMutex::new(),
        }
    }

    /// Run `f` if no call has run yet (Go's `Do`). Concurrent callers wait (wait reason
    /// `sync.Once.Do`) until that run returns; every call returns after `f` has completed.
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        let site = Location::caller();
        // Blocks while another call runs the function (it holds `m`).
        let controlled = self.m.obj.point_probe(Op::Once, site, &|| {
            !self.done.load(Ordering::Acquire) && self.m.is_locked()
        });
        if !self.done.load(Ordering::Acquire) {
            self.call_slow(f, site, controlled);
        }
        if watched(controlled) {
            // The function's run happens before every call returns.
            hb::acquire(self.m.obj.key());
        }
    }

    #[cold]
    fn call_slow(&self, f: impl FnOnce(), site: &'static Location<'static>, controlled: bool) {
        self.m
            .acquire(WaitReason::OnceWait, site, controlled, &once_detail);
        if controlled {
            self.m.holder.set(site);
        }
        let mut finish = Finish {
            once: self,
            site,
            controlled,
            ran: false,
            awaiting: false,
        };
        if !self.done.load(Ordering::Relaxed) {
            finish.ran = true;
            f();
        }
        drop(finish);
    }

    /// [`call_once`](Once::call_once) with an async function, as a future, for tasks
    /// (`goweave::task`) and any other executor: the first caller awaits `f`; concurrent
    /// callers await (wait reason `sync.Once.Do`) until it completed. As with `call_once`, an
    /// `f` that panics counts as run; an `f` whose future is dropped before it completed (the
    /// call was cancelled) does not, and the next caller runs its own.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// goweave::run(|| {
    ///     let once = Arc::new(goweave::sync::Once::new());
    ///     let runs = Arc::new(AtomicU32::new(0));
    ///     let hs: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let (once, runs) = (once.clone(), runs.clone());
    ///             goweave::task::spawn(async move {
    ///                 once.call_once_async(async {
    ///                     goweave::task::yield_now().await;
    ///                     runs.fetch_add(1, Ordering::Relaxed);
    ///                 })
    ///                 .await;
    ///                 assert_eq!(runs.load(Ordering::Relaxed), 1);
    ///             })
    ///         })
    ///         .collect();
    ///     hs.into_iter().for_each(|h| h.join());
    /// });
    /// ```
    #[track_caller]
    pub fn call_once_async<'a, F>(
        &'a self,
        f: F,
    ) -> impl std::future::Future<Output = ()> + Send + 'a
    where
        F: std::future::Future<Output = ()> + Send + 'a,
    {
        let site = Location::caller();
        async move {
            let controlled = self.m.obj.point(Op::Once, site);
            if !self.done.load(Ordering::Acquire) {
                self.m
                    .acquire_async(WaitReason::OnceWait, site, controlled)
                    .await;
                if controlled {
                    self.m.holder.set(site);
                }
                let mut finish = Finish {
                    once: self,
                    site,
                    controlled,
                    ran: false,
                    awaiting: false,
                };
                if !self.done.load(Ordering::Relaxed) {
                    finish.ran = true;
                    finish.awaiting = true;
                    f.await;
                    finish.awaiting = false;
                }
                drop(finish);
            }
            if watched(controlled) {
                hb::acquire(self.m.obj.key());
            }
        }
    }

    /// True once a call has completed.
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// The end of a call that holds the `Once`'s mutex: unlocks, also if `f` panics; marks the
/// `Once` done (and publishes the run to the race detector) if this call ran the function.
struct Finish<'a> {
    once: &'a Once,
    site: &'static Location<'static>,
    controlled: bool,
    /// This call ran (or began) the function.
    ran: bool,
    /// Inside `f.await`: a drop that is not a panic is a cancellation, and does not count.
    awaiting: bool,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let once = self.once;
        let cancelled = self.awaiting && !std::thread::panicking();
        if self.ran && !cancelled {
            if watched(self.controlled) {
                hb::release(once.m.obj.key());
            }
            once.done.store(true, Ordering::Release);
        }
        if self.controlled {
            once.m.holder.clear();
        }
        once.m.release(self.site);
    }
}

fn once_detail(m: &RawMutex) -> WaitDetail {
    /// # Safety
    /// `m` points at a live `RawMutex` (`WaitDetail::new`'s contract).
    unsafe fn describe(m: *const (), waiter: u64) -> String {
        // SAFETY: the caller's contract.
        let m = unsafe { &*(m as *const RawMutex) };
        describe_holder(
            "sync.Once",
            "running the function it passed at",
            m.holder.get(),
            waiter,
        )
    }
    // SAFETY: the detail is attached only while the waiter is parked inside
    // `call_once(&self)` (a guard removes it on wake-up and on unwind), so the `Once` is
    // borrowed, hence alive, whenever a dump evaluates it.
    unsafe { WaitDetail::new(m, current_id(), describe) }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}
