//! Snapshots of goroutines for reports (Go's goroutine dump).
//!
//! A primitive may attach a *wait detail* to a goroutine it parks (for example which goroutine
//! holds the mutex, and where it locked it). The detail is kept in the goroutine record and
//! evaluated when a dump is taken, so it describes the state at report time. Dumps are taken on
//! the thread that runs the goroutines (the controlled executor's), which is the only place
//! primitives attach details. A detail is a function pointer and an object pointer, not a
//! closure: attaching one happens at every contended park on the controlled executor, and must
//! not allocate.

pub(crate) mod backtraces;

use super::context;
use super::goroutine::{Status, G};
pub use crate::verdict::GoroutineDump;

/// Describes why a parked goroutine waits, when a dump is taken: `describe(obj, waiter)`.
#[derive(Clone, Copy)]
pub(crate) struct WaitDetail {
    describe: unsafe fn(*const (), u64) -> String,
    obj: *const (),
    waiter: u64,
}

impl WaitDetail {
    /// A detail of goroutine `waiter`, blocked on `obj`.
    ///
    /// # Safety
    /// `obj` must stay alive, and `describe` must be sound to call with it, for as long as the
    /// detail is attached to the goroutine (attach it with a guard that removes it on wake-up
    /// and on unwind, while `obj` is borrowed by the blocked call).
    pub(crate) unsafe fn new<T>(
        obj: &T,
        waiter: u64,
        describe: unsafe fn(*const (), u64) -> String,
    ) -> WaitDetail {
        WaitDetail {
            describe,
            obj: obj as *const T as *const (),
            waiter,
        }
    }

    fn evaluate(&self) -> String {
        // SAFETY: `new`'s contract: the object is alive while the detail is attached, and a
        // detail is only evaluated while attached.
        unsafe { (self.describe)(self.obj, self.waiter) }
    }
}

/// Keeps a wait detail attached to the current goroutine while it is parked; removes it on
/// wake-up and on unwind (also when the goroutine is torn down while parked). Details only
/// exist on the controlled executor.
pub(crate) struct DetailGuard(*const G);

impl DetailGuard {
    pub(crate) fn attach(detail: WaitDetail) -> Option<DetailGuard> {
        let g = context::current_ptr();
        if g.is_null() {
            return None;
        }
        // SAFETY: the running goroutine's record outlives the call it is running, which
        // outlives this guard (the guard lives on its stack).
        unsafe { &*g }.set_wait_detail(Some(detail));
        Some(DetailGuard(g))
    }
}

impl Drop for DetailGuard {
    fn drop(&mut self) {
        // SAFETY: as in `attach`: dropped on the same goroutine's stack, before it finishes.
        unsafe { &*self.0 }.set_wait_detail(None);
    }
}

fn wait_detail(g: &G) -> Option<String> {
    if g.status() != Status::Waiting {
        return None;
    }
    g.wait_detail().map(|d| d.evaluate())
}

impl GoroutineDump {
    pub(crate) fn of(g: &G) -> GoroutineDump {
        GoroutineDump {
            id: g.id,
            name: g.name().map(str::to_string),
            task: g.task,
            status: g.status(),
            wait_reason: g.wait_reason(),
            site: g.site(),
            spawn_site: g.spawn_site,
            function: g.function,
            parent: g.parent,
            detail: wait_detail(g),
            stacks: backtraces::stacks_of(g),
        }
    }
}
