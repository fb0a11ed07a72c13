//! Async tasks on goweave's executors: [`spawn`] a future, await or [`join`](JoinHandle::join)
//! its [`JoinHandle`], or run one future to completion in a goroutine with [`block_on`].
//!
//! A task is a goroutine record without a stack. On the work-stealing runtime the worker polls
//! its future on the worker's own stack; a parked task costs its record plus its future (boxed
//! when larger than the record's 48-byte payload). Wakers are the executor's `unpark`, so a
//! waker may be called from any thread, inside or outside the runtime, as goroutines may be
//! woken today. Futures that only use wakers (the `futures` crate's channels and combinators,
//! `async-channel`, `event-listener`) work unchanged.
//!
//! Under the checker (the controlled executor) a task is scheduled exactly like a goroutine:
//! it has an id in the same sequence, every scheduling point inside a poll (every goweave
//! operation, and every `.await` on a goweave primitive) is a decision of the strategy, and
//! replay tokens, shrinking, virtual time, race detection and leak detection apply. To allow a
//! switch in the middle of a poll, the controlled executor runs each task's polls on a stack of
//! its own; nothing else differs. A task that parks with no waker alive anywhere (its future
//! returned `Pending` without keeping its waker, so nothing can ever wake it) ends the run at
//! once with a leak report naming the task, where it was spawned and where it was polled last.
//! Reports call tasks `task 7` where they say `goroutine 7` for goroutines.
//!
//! **A blocking goweave call inside a task panics when it has to wait.** A task has no stack
//! to park on, so `ch.recv()` on an empty channel, a contended `mutex.lock()`, `wg.wait()`,
//! `time::sleep`, `JoinHandle::join`, `gosched`, [`block_on`] and the like panic with a message
//! naming the call, the task and the async form to await instead. (A call that completes at
//! once, such as an uncontended lock, just completes; the checker explores the schedules where
//! it would wait, so it finds the panic.) (Moving the task onto a goroutine stack at that point would hide the cost
//! of the task model, and the same program would then block a worker for good on a primitive
//! outside goweave.) The controlled executor panics the same way, so the tester finds it.
//! Inside [`block_on`] in a goroutine, blocking calls are fine: the goroutine has a stack.
//!
//! Happens-before: waking a task (or a goroutine in `block_on`) and its next poll are a
//! synchronisation edge for the race detector, so data handed over through a waker-only
//! channel (say `futures::channel::oneshot`) to a future that waited for it is not reported as
//! a race. A foreign channel whose value is already there at the first poll involves no wake,
//! and its own synchronisation (std atomics) is invisible to the detector: accesses to a
//! `RaceCell` ordered only that way are reported as a race. Hand such data over through
//! goweave's channels, or let the receiver wait first.
//!
//! ```
//! let v = goweave::run(|| {
//!     let ch = goweave::chan::make::<u32>(0);
//!     let tx = ch.clone();
//!     let consumer = goweave::task::spawn(async move { ch.recv_async().await.unwrap() * 2 });
//!     goweave::go(move || tx.send(21));
//!     consumer.join() // a goroutine joins a task
//! });
//! assert_eq!(v, 42);
//! ```

mod poll;
mod waker;

pub(crate) use waker::record_id as waker_record_id;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use crate::runtime::join::JoinHandle;

pub(crate) use poll::{
    awaiting, blocking_in_task, gosched_in_task, parked, poll_on_stack, poll_site, poll_stackless,
    TaskEntry,
};

use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor;
use crate::runtime::goroutine::{Body, Payload};

/// Start `future` as a task on the current executor (a goweave runtime or the checker) and
/// return its handle: await it, or [`join`](JoinHandle::join) it from a goroutine. Dropping
/// the handle detaches the task. Panics outside a goweave runtime, as [`go`](crate::go) does.
///
/// ```
/// let v = goweave::run(|| {
///     let h = goweave::task::spawn(async { 20 });
///     goweave::task::block_on(async move { h.await + 22 })
/// });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_at(None, Location::caller(), future)
}

/// [`spawn`] with a name that reports show (`task 7 "name" [chan receive]`).
#[track_caller]
pub fn spawn_named<F>(name: impl Into<String>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_at(
        Some(name.into().into_boxed_str()),
        Location::caller(),
        future,
    )
}

fn spawn_at<F>(
    name: Option<Box<str>>,
    site: &'static Location<'static>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if !crate::runtime::context::in_runtime() {
        panic!(
            "goweave::task::spawn at {site} {}",
            crate::runtime::executor::OUTSIDE_RUNTIME
        );
    }
    let mut future = Some(future);
    let mut install = |p: &Payload| {
        // SAFETY: the payload of a record being created is empty and not shared yet.
        unsafe { p.put(future.take().expect("installed once")) };
        Body::Task(TaskEntry::of::<F>())
    };
    let g = executor::spawn(&mut install, name, site, true);
    let id = g.id;
    executor::sched_point(Event::new(Op::Spawn, ObjId(id), site));
    JoinHandle::new(g)
}

/// Run `future` to completion on the calling goroutine, parking the goroutine (not the
/// worker) while the future is pending; its waker unparks the goroutine. Outside any runtime
/// it blocks the calling thread instead, so code shared with plain threads works too.
///
/// Panics inside a task (a task has no stack to park on: `.await` the future instead).
///
/// ```
/// goweave::run(|| {
///     let wg = goweave::sync::WaitGroup::new();
///     wg.add(1);
///     let w = wg.clone();
///     goweave::go(move || w.done());
///     goweave::task::block_on(wg.wait_async());
/// });
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    poll::block_on(Location::caller(), future)
}

/// Let other goroutines and tasks run, once: the async form of
/// [`gosched`](crate::runtime::gosched). The first poll wakes the task and returns `Pending`.
#[track_caller]
pub fn yield_now() -> YieldNow {
    YieldNow {
        site: Location::caller(),
        yielded: false,
    }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    site: &'static Location<'static>,
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        executor::yield_hint();
        awaiting(crate::runtime::WaitReason::Await, self.site);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    /// A parked task is its record plus its future: the record must stay small enough that
    /// 1M parked tasks cost at most 512 bytes each (`benches/tasks.rs`, `task_parked_1m`:
    /// a 304-byte record is a 336-byte allocation, plus the boxed future).
    #[test]
    fn the_record_stays_within_the_parked_task_budget() {
        assert!(
            std::mem::size_of::<crate::runtime::goroutine::G>() <= 304,
            "G grew to {} bytes",
            std::mem::size_of::<crate::runtime::goroutine::G>()
        );
    }
}
