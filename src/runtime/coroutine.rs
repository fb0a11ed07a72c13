//! The coroutine that carries one goroutine, and the messages that cross its stack switch.
//!
//! A goroutine talks to its executor only by suspending with a [`Request`]; the executor, back
//! on its own stack, acts on it. This is Go's `gopark`: the unlock step inside
//! [`Request::Park`] runs on the scheduler's stack *after* the switch, so a waker can never
//! resume a stack that is still running.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::goroutine::{Body, GRef, InlineEntry, G};
use super::join;
use super::panic::{capture_panic, PanicReport};
use super::stack::{self, GoStack};

/// What a running goroutine asks of its executor when it suspends.
pub(crate) enum Request {
    /// Block. The executor marks the goroutine waiting, then runs the unlock step; from then on
    /// anyone may `unpark` it. The pointer targets a closure on the parked goroutine's stack,
    /// which stays alive (and untouched) while the goroutine is suspended.
    Park(*mut (dyn FnMut() + 'static)),
    /// Stay runnable but let others run first (`gosched`).
    Yield,
    /// Controlled executor only: the strategy chose another goroutine at a scheduling point.
    Switch,
    /// A task's future returned `Pending` (the task has no stack: nothing is suspended). The
    /// executor marks it waiting, then calls `task::parked`, after which anyone may wake it.
    ParkTask,
}

/// How a goroutine's body ended.
pub(crate) enum Exit {
    /// The body returned.
    Returned,
    /// The body panicked and nothing recovered it.
    Panicked(PanicReport),
}

/// The coroutine type of every goroutine.
pub(crate) type GoCoroutine = Coroutine<(), Request, Exit, GoStack>;

/// Result of resuming a goroutine once.
pub(crate) enum Step {
    /// It suspended with a request.
    Suspended(Request),
    /// It finished; its stack is back in the pool.
    Finished(Exit),
}

/// Resume `g` on the calling thread until it next suspends or finishes. The caller must be the
/// goroutine's owning thread (its home worker, or the controlled executor's thread).
pub(crate) fn resume(g: &GRef) -> Step {
    resume_inline(g)
}

/// [`resume`], inlined into the controlled executor's loop: one frame fewer between the loop
/// and the stack switch, so one return fewer that the return-address predictor gets wrong
/// after each switch (it predicts from the other stack's calls).
#[inline(always)]
pub(crate) fn resume_inline(g: &GRef) -> Step {
    // SAFETY: the executors only call `resume` from the goroutine's owning thread, and the
    // reference does not outlive this function.
    let body = unsafe { g.body_mut() };
    // A started goroutine (nearly every resume) goes straight to its switch; starting one, or
    // polling a task on a worker, stays out of line, so this path keeps a small frame.
    if !matches!(body, Body::Started(_)) {
        if let Some(step) = launch(g, body) {
            return step;
        }
    }
    let Body::Started(co) = body else {
        panic!("goweave: {} resumed after it finished", g.label());
    };
    match co.resume(()) {
        CoroutineResult::Yield(req) => Step::Suspended(req),
        CoroutineResult::Return(exit) => {
            let Body::Started(co) = std::mem::replace(body, Body::Gone) else {
                unreachable!()
            };
            stack::release(co.into_stack());
            Step::Finished(exit)
        }
    }
}

/// The part of [`resume`] for a goroutine that has not started: a task on a worker is polled
/// here (`Some`: its step), anything else gets a stack and a coroutine (`None`: resume it),
/// or fails to (`Some`: it finished with a panic).
#[cold]
#[inline(never)]
fn launch(g: &GRef, body: &mut Body) -> Option<Step> {
    if let Body::Task(e) = body {
        if matches!(g.exec, super::executor::ExecKind::Steal(_)) {
            let e = *e;
            // Polled here, on the worker's stack.
            return Some(match crate::task::poll_stackless(g, e) {
                Ok(false) => Step::Suspended(Request::ParkTask),
                Ok(true) => {
                    *body = Body::Gone;
                    Step::Finished(Exit::Returned)
                }
                Err(report) => {
                    *body = Body::Gone;
                    Step::Finished(Exit::Panicked(report))
                }
            });
        }
    }
    if let Body::Unstarted(..) | Body::Inline(..) | Body::Task(..) = body {
        let launch = match std::mem::replace(body, Body::Gone) {
            Body::Unstarted(f) => Launch::Boxed(f),
            Body::Inline(e) => Launch::Inline(e),
            // The controlled executor gives a task a stack, so that the strategy may switch at
            // a scheduling point in the middle of a poll.
            Body::Task(e) => Launch::Task(e),
            _ => unreachable!(),
        };
        match stack::allocate(g.stack_size()) {
            Ok(stack) => {
                stack.set_owner(g.id);
                *body = Body::Started(start(g.clone(), launch, stack));
            }
            Err(e) => {
                launch.discard(g);
                return Some(Step::Finished(Exit::Panicked(PanicReport {
                    goroutine: g.id,
                    name: g.name().map(str::to_string),
                    task: g.task,
                    location: g.spawn_site.to_string(),
                    message: format!("cannot allocate its stack: {e}"),
                    spawned_at: g.spawn_site,
                    created: None,
                })));
            }
        }
    }
    None
}

/// Tear down a goroutine that has not finished: its stack is force-unwound so destructors run
/// (Go semantics when main returns, and how the tester abandons a failed schedule).
///
/// A goroutine parked in the middle of an unwind (a destructor that blocked during a panic) is
/// the exception: a second unwind through that destructor would abort the process, so it is
/// left where it is, its stack abandoned, and the panic it was unwinding is returned for the
/// executor to report (see `runtime::unwind`).
pub(crate) fn tear_down(g: &G) -> Option<PanicReport> {
    g.torn_down.store(true, Ordering::Release);
    // SAFETY: the executors only tear a goroutine down from its owning thread, while it is
    // suspended (never while it runs).
    let body = unsafe { g.body_mut() };
    match std::mem::replace(body, Body::Gone) {
        Body::Started(co) if g.parked_unwinding.load(Ordering::Acquire) => {
            // Never resumed again: neither unwound nor dropped (dropping a suspended
            // coroutine force-unwinds it). Its stack stays mapped, and its share of the
            // thread's panic count stays raised (`unwind::PARKED` keeps counting it).
            std::mem::forget(co);
            let (location, message) = super::panic::last_raised(g.id)
                .unwrap_or_else(|| (g.site().to_string(), "<unknown panic>".into()));
            super::panic::forget(g.id);
            g.clear_locals();
            return Some(PanicReport {
                goroutine: g.id,
                name: g.name().map(str::to_string),
        task: g.task,
                location,
                message: format!(
                    "{message}\n\t(its unwind was still blocked in a destructor ({}) at {} when the run ended; the goroutine was left there, not torn down)",
                    g.wait_reason(),
                    g.site()
                ),
                spawned_at: g.spawn_site,
                created: super::dump::backtraces::created_stacks(g.id),
            });
        }
        Body::Started(mut co) => {
            co.force_unwind();
            if co.done() {
                stack::release(co.into_stack());
            }
        }
        Body::Unstarted(f) => drop(f),
        Body::Inline(e) => Launch::Inline(e).discard(g),
        Body::Task(e) => Launch::Task(e).discard(g),
        Body::Gone => {}
    }
    g.clear_locals();
    None
}

/// What a goroutine runs, taken out of its body when it starts.
enum Launch {
    Boxed(Box<dyn FnOnce() + Send>),
    Inline(InlineEntry),
    Task(crate::task::TaskEntry),
}

impl Launch {
    /// Drop it without running it; a `go`'s joiner learns that the goroutine never ran.
    fn discard(self, g: &G) {
        match self {
            Launch::Boxed(f) => drop(f),
            Launch::Inline(e) => {
                // SAFETY: an `Inline` body means the payload holds its closure, and the caller
                // owns the goroutine (it is not running).
                unsafe { (e.discard)(&g.payload) };
                join::abandon(g, "it was torn down (main returned) before it started");
            }
            Launch::Task(e) => {
                // SAFETY: a `Task` body means the payload holds its future, and the caller owns
                // the task (it is not being polled).
                unsafe { e.discard(&g.payload) };
                join::abandon(g, "it was torn down (main returned) before it finished");
            }
        }
    }
}

fn start(g: GRef, launch: Launch, stack: GoStack) -> GoCoroutine {
    Coroutine::with_stack(stack, move |yielder: &Yielder<(), Request>, ()| {
        g.set_yielder(yielder);
        let result = panic::catch_unwind(AssertUnwindSafe(|| match launch {
            Launch::Boxed(f) => f(),
            // SAFETY: the payload holds the closure `e` describes (the body said so), and this
            // is the goroutine, running.
            Launch::Inline(e) => unsafe { (e.run)(&g) },
            // SAFETY: as above, with the task's future in the payload.
            Launch::Task(e) => unsafe { crate::task::poll_on_stack(&g, e) },
        }));
        g.clear_locals();
        match result {
            Ok(()) => {
                super::panic::forget(g.id);
                Exit::Returned
            }
            Err(payload) => {
                if g.torn_down.load(Ordering::Acquire) {
                    super::panic::forget(g.id);
                    // The executor's forced unwind: let it reach corosensei.
                    panic::resume_unwind(payload);
                }
                Exit::Panicked(capture_panic(&g, payload))
            }
        }
    })
}

/// Suspend the calling goroutine `g` with `req`. Must be called on `g`'s own stack.
#[inline]
pub(crate) fn suspend(g: &G, req: Request) {
    let y = g.yielder() as *const Yielder<(), Request>;
    // SAFETY: the yielder pointer was stored by `start` from the reference corosensei passes
    // to the coroutine body; it lives on this goroutine's stack for the body's whole life, and
    // we are running on that stack now.
    let yielder = unsafe { &*y };
    yielder.suspend(req);
}
