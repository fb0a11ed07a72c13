//! The per-thread context: which executor this OS thread is driving and which goroutine (if
//! any) is running on it. Every primitive finds its executor through here.

use std::cell::Cell;
use std::ptr;

use super::executor::controlled::Controlled;
use super::executor::steal::WorkerCtx;
use super::goroutine::{GRef, G};

/// The executor driving this thread.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecPtr {
    /// Not inside any goweave runtime.
    None,
    /// A controlled executor, alive for as long as it is installed here.
    Controlled(*const Controlled),
    /// A work-stealing worker, alive for as long as it is installed here.
    Steal(*const WorkerCtx),
}

thread_local! {
    static EXEC: Cell<ExecPtr> = const { Cell::new(ExecPtr::None) };
    static CURRENT: Cell<*const G> = const { Cell::new(ptr::null()) };
}

/// The executor driving this thread.
#[inline]
pub(crate) fn exec() -> ExecPtr {
    EXEC.with(|e| e.get())
}

/// The executor driving this thread, borrowed.
#[derive(Clone, Copy)]
pub(crate) enum Exec<'a> {
    /// Not inside any goweave runtime.
    None,
    /// A controlled executor.
    Controlled(&'a Controlled),
    /// A work-stealing worker.
    Steal(&'a WorkerCtx),
}

/// The executor driving this thread, as a reference.
///
/// The lifetime invariant, stated once for every caller: an executor is installed on a thread
/// (`set_exec`) only while it is alive, and uninstalled only after every goroutine of it has
/// finished or been torn down, by the same thread's run loop, which is not re-entered from a
/// goroutine. So a reference taken here stays valid for the rest of any call made on this
/// thread from one of the executor's goroutines or its scheduler, including across the
/// goroutine's parks. Callers use it within such a call and never store it elsewhere.
#[inline]
pub(crate) fn exec_ref<'a>() -> Exec<'a> {
    match exec() {
        ExecPtr::None => Exec::None,
        // SAFETY: the lifetime invariant above.
        ExecPtr::Controlled(c) => Exec::Controlled(unsafe { &*c }),
        // SAFETY: the lifetime invariant above.
        ExecPtr::Steal(w) => Exec::Steal(unsafe { &*w }),
    }
}

/// True if a goweave executor drives this thread.
#[inline]
pub(crate) fn in_runtime() -> bool {
    exec() != ExecPtr::None
}

/// Install `e` as this thread's executor; returns the previous one.
pub(crate) fn set_exec(e: ExecPtr) -> ExecPtr {
    EXEC.with(|c| c.replace(e))
}

/// The running goroutine, or null on a scheduler stack / outside the runtime.
#[inline]
pub(crate) fn current_ptr() -> *const G {
    CURRENT.with(|c| c.get())
}

/// Set the running goroutine; returns the previous one.
#[inline]
pub(crate) fn set_current(g: *const G) -> *const G {
    CURRENT.with(|c| c.replace(g))
}

/// Run `f` with the running goroutine, if there is one.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&G>) -> R) -> R {
    let p = current_ptr();
    if p.is_null() {
        f(None)
    } else {
        // SAFETY: while a goroutine runs, its executor holds a strong reference to it, and
        // `CURRENT` is reset before that reference is released.
        f(Some(unsafe { &*p }))
    }
}

/// A new strong reference to the running goroutine.
#[inline]
pub(crate) fn current_gref() -> Option<GRef> {
    let p = current_ptr();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` came from `Arc::as_ptr` of a `GRef` the executor keeps alive while the
    // goroutine runs, so bumping the count and rebuilding an `Arc` is sound.
    unsafe {
        std::sync::Arc::increment_strong_count(p);
        Some(std::sync::Arc::from_raw(p))
    }
}

/// Restores the previous running goroutine on drop.
pub(crate) struct CurrentGuard(*const G);

impl CurrentGuard {
    /// Mark `g` as running on this thread until the guard drops.
    pub(crate) fn enter(g: &GRef) -> CurrentGuard {
        CurrentGuard(set_current(std::sync::Arc::as_ptr(g)))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        set_current(self.0);
    }
}
