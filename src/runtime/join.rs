//! `go` and `JoinHandle`: starting a goroutine and waiting for its result.
//!
//! A `go` costs one allocation. On a worker of the work-stealing runtime it is a join cell
//! (`gocell.rs`): the closure waits there until the goroutine runs, on a record taken from the
//! worker's free list only then, and the result waits there until it is joined; the
//! `JoinHandle` holds the cell. Elsewhere (the controlled executor, tasks, a recording run, a
//! `go` from outside a worker) it is the goroutine record: the closure and then the result wait
//! in its payload (values too large for it are boxed), and the `JoinHandle` holds the record.
//! The invariants below are the record's; the cell's mirror them.
//!
//! Invariants (of `G::join`, always under its lock):
//! - the state moves `Running` → `Done` | `Empty` | `Abandoned` exactly once, and whoever waits
//!   registers itself under the same lock, so a completion never misses a waiter;
//! - `Done` means the payload holds the result; it leaves `Done` only by the handle taking the
//!   result (`join`, or its `poll` as a future) or dropping it (the handle's drop), all under the
//!   lock; so `Empty` with a handle alive means the handle took the value;
//! - `handle` is true while a `JoinHandle` exists: a goroutine that finishes without one drops
//!   its result at once (`Empty`).

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;

use super::context::{self, Exec};
use super::event::{Event, ObjId, Op};
use super::executor;
use super::gocell::{self, CellState, Joinable};
use super::goroutine::{self, Body, GRef, InlineEntry, Payload, WaitReason, G};
use super::handle_word::Word;
use super::hb::{self, Key};
use super::waiter::{ThinWaiter, Waiter};

/// A goroutine's result hand-over; see the module invariants.
pub(crate) enum JoinState {
    /// Not finished. `waiter`: the joiner, if one waits (at most one: `join` takes the
    /// handle). `handle`: a `JoinHandle` exists.
    Running {
        waiter: Option<Waiter>,
        handle: bool,
    },
    /// Finished; the result is in the payload, and `discard` drops it.
    Done { discard: unsafe fn(&Payload) },
    /// Finished and the result was taken, dropped or never wanted (or nobody ever joins).
    Empty,
    /// The goroutine panicked or was torn down before returning.
    Abandoned(&'static str),
}

fn lock(g: &G) -> std::sync::MutexGuard<'_, JoinState> {
    g.join.lock().unwrap_or_else(|p| p.into_inner())
}

/// The goroutine ended without a result: wake the joiner, who will panic with `why`.
pub(crate) fn abandon(g: &G, why: &'static str) {
    let waiter = {
        let mut st = lock(g);
        match std::mem::replace(&mut *st, JoinState::Abandoned(why)) {
            JoinState::Running { waiter, .. } => waiter,
            other => {
                *st = other;
                None
            }
        }
    };
    if let Some(w) = waiter {
        w.wake();
    }
}

/// The body of a goroutine started by `go` with closure `F` (see `InlineEntry::run`).
///
/// # Safety
/// `g`'s payload holds an `F` (put there by `spawn_named`), and `g` is the current goroutine.
unsafe fn run<F, T>(g: &G)
where
    F: FnOnce() -> T,
{
    /// Marks the goroutine abandoned if `f` unwinds.
    struct Unwound<'a>(&'a G);
    impl Drop for Unwound<'_> {
        fn drop(&mut self) {
            abandon(
                self.0,
                "it panicked or was torn down (main returned) before returning",
            );
        }
    }
    // SAFETY: the caller's contract; the goroutine's own thread owns the payload until the
    // closure is out.
    let f = unsafe { g.payload.take::<F>() };
    let unwound = Unwound(g);
    let v = f();
    std::mem::forget(unwound);
    // SAFETY: the closure was taken out, so the payload is empty.
    unsafe { finish(g, v) };
}

/// Hand `v`, the value of goroutine or task `g`, to its `JoinHandle` (or drop it if there is
/// none), and wake the joiner.
///
/// # Safety
/// `g`'s payload is empty, `g` finishes once, and the caller is the thread running it.
pub(crate) unsafe fn finish<T>(g: &G, v: T) {
    // The joiner may take the value on another worker as soon as it is published, before the
    // executor records this goroutine's exit (`hb::exited`, after the coroutine returns): the
    // edge `join` acquires is released here first, or the race detector of the work-stealing
    // runtime would miss it and report the joiner's reads as races.
    hb::release(Key::Exit(g.id));
    // And a joiner whose `join` returned no longer counts it in `num_goroutine`.
    executor::steal::count_out(Some(g));
    let (waiter, unwanted) = {
        let mut st = lock(g);
        match std::mem::replace(&mut *st, JoinState::Empty) {
            JoinState::Running {
                waiter,
                handle: true,
            } => {
                // SAFETY: the closure was taken out, so the payload is empty; the join lock
                // is held.
                unsafe { g.payload.put(v) };
                *st = JoinState::Done {
                    discard: Payload::discard::<T>,
                };
                (waiter, None)
            }
            JoinState::Running { waiter, .. } => (waiter, Some(v)),
            _ => unreachable!("a goroutine finishes once"),
        }
    };
    // Dropped outside the lock: its destructor may do anything.
    drop(unwanted);
    if let Some(w) = waiter {
        w.wake();
    }
}

/// A handle to a goroutine started with [`go`]: [`join`](JoinHandle::join) waits for its
/// value. Dropping the handle detaches the goroutine, as in Go.
pub struct JoinHandle<T> {
    /// The record or the join cell, in one word (`handle_word.rs`).
    inner: Word,
    _value: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        // Read through the pointer, not kept in the handle: a million handles in a `Vec` take
        // 8 MB instead of 16.
        match &*self.inner.get() {
            Joinable::Record(g) => g.id,
            Joinable::Cell(c) => c.id(),
        }
    }

    /// True once the goroutine has finished.
    pub fn is_finished(&self) -> bool {
        match &*self.inner.get() {
            Joinable::Record(g) => !matches!(*lock(g), JoinState::Running { .. }),
            Joinable::Cell(c) => c.is_finished(),
        }
    }

    /// Wait for the goroutine's (or task's) value. Works from a goroutine (it parks with wait reason
    /// `join`) and from a thread outside the runtime (it blocks the thread).
    ///
    /// Panics if the goroutine panicked (the run is ending anyway, as in Go) or was torn down.
    #[track_caller]
    pub fn join(self) -> T {
        let site = Location::caller();
        let id = self.id();
        executor::sched_point(Event::new(Op::Join, ObjId(id), site));
        let view = self.inner.get();
        let Joinable::Record(g) = &*view else {
            let this = ManuallyDrop::new(self);
            // SAFETY: `this` is never used or dropped again, so its word is moved out of it
            // once.
            let Joinable::Cell(c) = (unsafe { std::ptr::read(&this.inner) }).into_inner() else {
                unreachable!("a cell's word")
            };
            return join_cell(c, id, site);
        };
        loop {
            let mut st = lock(g);
            match &mut *st {
                JoinState::Done { .. } => {
                    *st = JoinState::Empty;
                    // SAFETY: `Done` means the payload holds the result, a `T` (`run::<F, T>`
                    // put it there); the join lock is held.
                    let v = unsafe { g.payload.take::<T>() };
                    drop(st);
                    hb::acquire(Key::Exit(id));
                    // Nothing left for the handle's drop to do but recycling.
                    let this = ManuallyDrop::new(self);
                    // SAFETY: `this` is never used or dropped again, so its word is moved out
                    // of it once.
                    let word = unsafe { std::ptr::read(&this.inner) };
                    if let Joinable::Record(h) = word.into_inner() {
                        goroutine::recycle(h);
                    }
                    return v;
                }
                // With a handle alive, `Empty` means the handle took the value: it was awaited.
                JoinState::Empty => {
                    drop(st);
                    joined_after_await(site)
                }
                JoinState::Abandoned(why) => {
                    let why = *why;
                    drop(st);
                    joined_abandoned(id, why)
                }
                JoinState::Running { waiter, .. } => {
                    let (w, sleeper) = Waiter::current();
                    *waiter = Some(w);
                    sleeper.sleep(WaitReason::Join, site, st);
                }
            }
        }
    }
}

/// Awaiting a handle waits for the value of the goroutine or task behind it, as
/// [`join`](JoinHandle::join) does, without blocking: from a task (`goweave::task::spawn`),
/// from [`task::block_on`](crate::task::block_on), or from any other executor (its waker is
/// woken when the value is ready). Panics, as `join` does, if the goroutine or task panicked or
/// was torn down, and if polled again after it returned the value.
impl<T> std::future::Future for JoinHandle<T> {
    type Output = T;

    #[track_caller]
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        let site = crate::task::poll_site(Location::caller());
        let this = self.get_mut();
        let id = this.id();
        executor::sched_point(Event::new(Op::Join, ObjId(id), site));
        let view = this.inner.get();
        let g = match &*view {
            Joinable::Record(g) => g,
            Joinable::Cell(c) => return poll_cell(c, id, site, cx),
        };
        let mut st = lock(g);
        match &mut *st {
            JoinState::Done { .. } => {
                *st = JoinState::Empty;
                // SAFETY: `Done` means the payload holds the result, a `T`; the lock is held.
                let v = unsafe { g.payload.take::<T>() };
                drop(st);
                hb::acquire(Key::Exit(id));
                std::task::Poll::Ready(v)
            }
            // With a handle alive, `Empty` means this handle took the value already.
            JoinState::Empty => {
                drop(st);
                panic!(
                    "goweave: JoinHandle of {} {} polled after it returned its value",
                    if g.task { "task" } else { "goroutine" },
                    id
                )
            }
            JoinState::Abandoned(why) => {
                let why = *why;
                drop(st);
                panic!(
                    "goweave: joined {} {}: {why}",
                    if g.task { "task" } else { "goroutine" },
                    id
                )
            }
            JoinState::Running { waiter, .. } => {
                // The latest waker replaces any earlier one (a future may move between tasks).
                *waiter = Some(Waiter::Task(cx.waker().clone()));
                drop(st);
                crate::task::awaiting(WaitReason::Join, site);
                std::task::Poll::Pending
            }
        }
    }
}

/// A join of a handle whose value an `.await` already took.
#[cold]
#[track_caller]
fn joined_after_await(site: &Location<'_>) -> ! {
    panic!("goweave: join at {site} of a JoinHandle that was already awaited to completion")
}

/// A join of goroutine `id`, torn down before it could finish (`why`).
#[cold]
#[track_caller]
fn joined_abandoned(id: u64, why: &str) -> ! {
    panic!("goweave: joined goroutine {id}: {why}")
}

/// `JoinHandle::join` of a handle that holds a cell.
fn join_cell<T>(c: gocell::Handle, id: u64, site: &'static Location<'static>) -> T {
    // SAFETY: the cell was made by `go::<F, T>`.
    let c = match unsafe { c.take_if_alone::<T>() } {
        Ok(Ok(v)) => {
            hb::acquire(Key::Exit(id));
            return v;
        }
        Ok(Err(Some(why))) => joined_abandoned(id, why),
        Ok(Err(None)) => joined_after_await(site),
        Err(c) => c,
    };
    loop {
        let mut st = c.lock();
        match &mut *st {
            CellState::Done => {
                // SAFETY: `Done`, with the lock held; the cell was made by `go::<F, T>`.
                let v = unsafe { c.take::<T>(&mut st) };
                drop(st);
                hb::acquire(Key::Exit(id));
                // Emptied just above: nothing for the handle's drop to look at.
                c.release_emptied();
                return v;
            }
            CellState::Empty => {
                drop(st);
                joined_after_await(site)
            }
            CellState::Abandoned(why) => {
                let why = **why;
                drop(st);
                joined_abandoned(id, why)
            }
            CellState::Running { waiter, .. } => {
                let (w, sleeper) = Waiter::current();
                *waiter = Some(w.into());
                sleeper.sleep(WaitReason::Join, site, st);
            }
        }
    }
}

/// The `poll` of a handle that holds a cell.
fn poll_cell<T>(
    c: &gocell::Handle,
    id: u64,
    site: &'static Location<'static>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<T> {
    let mut st = c.lock();
    match &mut *st {
        CellState::Done => {
            // SAFETY: `Done`, with the lock held; the cell was made by `go::<F, T>`.
            let v = unsafe { c.take::<T>(&mut st) };
            drop(st);
            hb::acquire(Key::Exit(id));
            std::task::Poll::Ready(v)
        }
        CellState::Empty => {
            drop(st);
            panic!("goweave: JoinHandle of goroutine {id} polled after it returned its value")
        }
        CellState::Abandoned(why) => {
            let why = **why;
            drop(st);
            joined_abandoned(id, why)
        }
        CellState::Running { waiter, .. } => {
            *waiter = Some(ThinWaiter::Task(Box::new(cx.waker().clone())));
            drop(st);
            crate::task::awaiting(WaitReason::Join, site);
            std::task::Poll::Pending
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle is being dropped: its word is not used again after this read.
        let word = unsafe { std::ptr::read(&self.inner) };
        // A cell's handle lets go of it on its own drop.
        let Joinable::Record(g) = word.into_inner() else {
            return;
        };
        {
            let mut st = lock(&g);
            match &mut *st {
                JoinState::Running { handle, .. } => *handle = false,
                JoinState::Done { discard } => {
                    let discard = *discard;
                    *st = JoinState::Empty;
                    // SAFETY: `Done` means the payload holds the result; the lock is held.
                    unsafe { discard(&g.payload) };
                }
                JoinState::Empty | JoinState::Abandoned(_) => {}
            }
        }
        goroutine::recycle(g);
    }
}

/// Start `f` in a new goroutine (Go's `go` statement) on the current executor.
///
/// Panics with a message that explains how to start a runtime when called outside one.
///
/// ```
/// let sum = goweave::run(|| {
///     let h = goweave::go(|| 2 + 2);
///     h.join()
/// });
/// assert_eq!(sum, 4);
/// ```
#[track_caller]
pub fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    spawn_named(None, Location::caller(), f)
}

/// Start `f` in a new goroutine named `name`; the name appears in reports.
#[track_caller]
pub fn go_named<T: Send + 'static>(
    name: impl Into<String>,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    spawn_named(Some(name.into().into_boxed_str()), Location::caller(), f)
}

/// Start `f` as a detached goroutine (no `JoinHandle`) on the executor behind `timers`, from a
/// timer callback: `time::after_func`, whose function runs in a goroutine of its own that only
/// exists once the timer fires (Go's `goFunc`).
pub(crate) fn spawn_from_timer<F>(timers: &executor::Timers, site: &'static Location<'static>, f: F)
where
    F: FnOnce() + Send + 'static,
{
    let mut f = Some(f);
    let mut install = |p: &Payload| {
        // SAFETY: the payload of a record being created is empty and not shared yet.
        unsafe { p.put(f.take().expect("installed once")) };
        Body::Inline(InlineEntry {
            run: run::<F, ()>,
            discard: Payload::discard::<F>,
            function: std::any::type_name::<F>(),
        })
    };
    let g = timers.spawn(&mut install, None, site, false);
    if crate::record::on() {
        // Logged in the firing's group (this runs outside every goroutine): the follower binds
        // the goroutine to the one this firing started in the recording.
        crate::record::point(Op::Spawn, ObjId(g.id), None);
    }
    goroutine::recycle(g);
}

fn spawn_named<F, T>(
    name: Option<Box<str>>,
    site: &'static Location<'static>,
    f: F,
) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if let Exec::Steal(w) = context::exec_ref() {
        if w.shared().takes_cells(w) {
            // Only a cell now; the record when it starts (`gocell.rs`).
            let (id, handle) = w.shared().spawn_cell(w, name, site, f);
            executor::sched_point(Event::new(Op::Spawn, ObjId(id), site));
            return JoinHandle {
                inner: Word::new(Joinable::Cell(handle)),
                _value: PhantomData,
            };
        }
    }
    let mut f = Some(f);
    let mut install = |p: &Payload| {
        // SAFETY: the payload of a record being created is empty and not shared yet.
        unsafe { p.put(f.take().expect("installed once")) };
        Body::Inline(InlineEntry {
            run: run::<F, T>,
            discard: Payload::discard::<F>,
            function: std::any::type_name::<F>(),
        })
    };
    let g = executor::spawn(&mut install, name, site, true);
    let id = g.id;
    executor::sched_point(Event::new(Op::Spawn, ObjId(id), site));
    JoinHandle::new(g)
}

impl<T> JoinHandle<T> {
    /// The handle of goroutine or task `g`, just spawned with a handle.
    pub(crate) fn new(g: GRef) -> JoinHandle<T> {
        JoinHandle {
            inner: Word::new(Joinable::Record(g)),
            _value: PhantomData,
        }
    }
}
