//! The coroutine that carries one goroutine, and the messages that cross its stack switch.
//!
//! A goroutine talks to its executor only by suspending with a [`Request`]; the executor, back
//! on its own stack, acts on it. This is Go's `gopark`: the unlock step inside
//! [`Request::Park`] runs on the scheduler's stack *after* the switch, so a waker can never
//! resume a stack that is still running.
//!
//! A coroutine outlives its goroutine: its body is a loop that runs one goroutine, yields its
//! [`Exit`], and waits at the top for the next one. A worker keeps such idle coroutines
//! ([`Warm`], Go's `gfput`/`gfget`, where a dead `g` keeps its stack), so a goroutine that
//! starts there takes one instead of a stack from the pool and a coroutine built on it.
//!
//! Invariants:
//! - A coroutine is resumed with a pointer to `Some(job)` exactly when it starts a goroutine
//!   (new, or idle at the top of its loop), which it takes before anything else, and with a
//!   null pointer otherwise, to go on with the goroutine it runs. (A pointer, not the job:
//!   every switch passes the input, and the hot ones should not copy and drop an empty job.)
//!   An idle one is never resumed without a job: [`quit`] ends it where it stands.
//! - An idle coroutine holds nothing of the goroutines it ran: the record, the closure and the
//!   result were dropped before it yielded the exit; goroutine-local values, the name, the
//!   spawn site and the race clocks live in the record or are keyed by the goroutine's id,
//!   and its stack frames are gone.
//! - A coroutine is resumed only on the thread that first resumed it (a started goroutine
//!   never changes thread, and idle coroutines stay in their worker's `Warm`).

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::goroutine::{Body, GRef, InlineEntry, Spare, G};
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

/// What a goroutine's coroutine yields (small: every switch carries one).
pub(crate) enum Out {
    /// The goroutine it runs suspended with a request.
    Req(Request),
    /// The goroutine it ran returned; the coroutine waits at the top of its loop.
    Returned,
    /// The goroutine it ran panicked (and nothing recovered it); as above.
    Panicked(Box<PanicReport>),
}

/// A goroutine for a coroutine to start: its record and what it runs.
pub(crate) type Job = (GRef, Launch);

/// What a goroutine's coroutine is resumed with (see the module invariants).
type Input = *mut Option<Job>;

/// The coroutine type of every goroutine.
pub(crate) type GoCoroutine = Coroutine<Input, Out, (), GoStack>;

/// Idle coroutines kept by a worker thread at most: enough for a burst of short goroutines
/// run one after another (Go keeps 64 dead `g`s per P before it moves some to the global
/// list); each holds one stack and the one or two pages it touched.
const WARM_MAX: usize = 64;

/// Coroutines of goroutines that finished on this worker, idle at the top of their loop with
/// their stacks still mapped, for the next goroutines that start here. Lives on the worker
/// thread (it is `!Send`, as coroutines are), and gives its stacks back when dropped.
pub(crate) struct Warm {
    /// Usable stack size of the goroutines this worker starts (one runtime, one size).
    size: usize,
    idle: RefCell<Vec<GoCoroutine>>,
    /// The records of goroutines that finished here, for the next ones that start here.
    records: Spare,
}

impl Warm {
    /// An empty set for goroutines with stacks of `size` usable bytes.
    pub(crate) fn new(size: usize) -> Warm {
        Warm {
            size,
            idle: RefCell::new(Vec::new()),
            records: Spare::new(),
        }
    }

    /// The worker's stash of finished goroutines' records.
    #[inline]
    pub(crate) fn records(&self) -> &Spare {
        &self.records
    }

    #[inline]
    fn take(&self, size: usize) -> Option<GoCoroutine> {
        if size != self.size {
            return None;
        }
        self.idle.borrow_mut().pop()
    }

    /// Keep `co`, whose stack has `size` usable bytes, if there is room.
    #[inline]
    fn put(&self, co: GoCoroutine, size: usize) {
        let mut idle = self.idle.borrow_mut();
        if size == self.size && idle.len() < WARM_MAX {
            idle.push(co);
        } else {
            drop(idle);
            quit(co);
        }
    }

    /// Idle coroutines held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.idle.borrow().len()
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        for co in self.idle.get_mut().drain(..) {
            quit(co);
        }
    }
}

/// End an idle coroutine and give its stack back to the pool, without a switch to it (the
/// controlled executor ends one per goroutine).
fn quit(mut co: GoCoroutine) {
    // Nothing on an idle coroutine's stack has a destructor: the goroutine it ran went with
    // `run_one`'s frame before it yielded, the loop holds a raw pointer and the closure a
    // `&'static` cell, and corosensei's frames below hold the yielder and the input it
    // already moved into the closure.
    // SAFETY: `co` is idle, suspended at the top of its loop (`new_coroutine`), with no
    // destructor pending (above): corosensei's condition for finishing it without unwinding.
    unsafe { co.force_reset() };
    stack::release(co.into_stack());
}

/// A finished goroutine's coroutine (idle now, its stack of `size` usable bytes): to the
/// worker's `Warm`, or ended.
#[inline]
fn retire(co: GoCoroutine, size: usize, warm: Option<&Warm>) {
    match warm {
        Some(w) => w.put(co, size),
        None => quit(co),
    }
}

/// Result of resuming a goroutine once.
pub(crate) enum Step {
    /// It suspended with a request.
    Suspended(Request),
    /// It finished; its stack is back in the pool.
    Finished(Exit),
}

/// Resume `g` on the calling thread until it next suspends or finishes, starting it on one
/// of `warm`'s idle coroutines if it has not started, and leaving its coroutine there if it
/// finishes. The caller must be the goroutine's home worker, `warm` that worker's.
///
/// Inlined into the worker's loop, for the reason `resume_inline` is: the compiler stopped
/// inlining it once other code grew, and the extra frame between the loop and the switch
/// cost 25% per ping-pong round trip (169 against 138 ns) and 10% per `select!` hand-off.
#[inline(always)]
pub(crate) fn resume_warm(g: &GRef, warm: &Warm) -> Step {
    step(g, Some(warm))
}

/// Resume `g` on the calling thread until it next suspends or finishes, inlined into the
/// controlled executor's loop: one frame fewer between the loop and the stack switch, so one
/// return fewer that the return-address predictor gets wrong after each switch (it predicts
/// from the other stack's calls). The caller must be the goroutine's owning thread.
#[inline(always)]
pub(crate) fn resume_inline(g: &GRef) -> Step {
    step(g, None)
}

#[inline(always)]
fn step(g: &GRef, warm: Option<&Warm>) -> Step {
    // SAFETY: the executors only call `resume` from the goroutine's owning thread, and the
    // reference does not outlive this function.
    let body = unsafe { g.body_mut() };
    // A started goroutine (nearly every resume) goes straight to its switch; starting one, or
    // polling a task on a worker, stays out of line, so this path keeps a small frame.
    // Taken by the coroutine before it switches back, so never dropped here (no drop glue on
    // the path of every switch).
    let mut job = std::mem::ManuallyDrop::new(None);
    let mut input: Input = std::ptr::null_mut();
    if !matches!(body, Body::Started(_)) {
        match launch(g, body, warm) {
            Ok(j) => {
                // (A new `ManuallyDrop`, not an assignment through it, which would drop the
                // `None` before: a call per goroutine.)
                job = std::mem::ManuallyDrop::new(Some(j));
                input = &mut *job;
            }
            Err(step) => return step,
        }
    }
    let Body::Started(co) = body else {
        panic!("goweave: {} resumed after it finished", g.label());
    };
    let out = co.resume(input);
    debug_assert!(job.is_none(), "the coroutine takes its job");
    let exit = match out {
        CoroutineResult::Yield(Out::Req(req)) => return Step::Suspended(req),
        CoroutineResult::Yield(Out::Returned) => Exit::Returned,
        CoroutineResult::Yield(Out::Panicked(report)) => Exit::Panicked(*report),
        CoroutineResult::Return(()) => {
            unreachable!("a goroutine's coroutine returns only when told to, idle")
        }
    };
    let Body::Started(co) = std::mem::replace(body, Body::Gone) else {
        unreachable!()
    };
    retire(co, g.stack_size(), warm);
    Step::Finished(exit)
}

/// The part of [`resume_warm`] for a goroutine that has not started: a task on a worker is
/// polled here (`Err`: its step); anything else gets a coroutine, an idle one of `warm` or a
/// new one on a stack from the pool (`Ok`: what to resume it with), or fails to (`Err`: it
/// finished with a panic).
#[inline(never)]
fn launch(g: &GRef, body: &mut Body, warm: Option<&Warm>) -> Result<Job, Step> {
    if let Body::Task(e) = body {
        if matches!(g.exec, super::executor::ExecKind::Steal(_)) {
            let e = *e;
            // Polled here, on the worker's stack.
            return Err(match crate::task::poll_stackless(g, e) {
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
    // The entries of `Inline` and `Task` are copied out, not moved (they are `Copy`), so a
    // `mem::replace` of the body would leave a whole `Body` to drop: a call to its drop glue
    // per goroutine. They own nothing, so the body is overwritten below instead.
    let launch = match body {
        Body::Inline(e) => Launch::Inline(*e),
        // The controlled executor gives a task a stack, so that the strategy may switch at
        // a scheduling point in the middle of a poll.
        Body::Task(e) => Launch::Task(*e),
        Body::Unstarted(_) => match std::mem::replace(body, Body::Gone) {
            Body::Unstarted(f) => Launch::Boxed(f),
            _ => unreachable!("matched just above"),
        },
        Body::Gone => panic!("goweave: {} resumed after it finished", g.label()),
        Body::Started(_) => unreachable!("only called before the goroutine started"),
    };
    // SAFETY: the body is `Inline` or `Task`, whose entries (copied out above) own nothing, or
    // `Gone`: nothing is leaked by writing over it. From here the `launch` owns what the body
    // described (the payload's closure or future).
    unsafe { std::ptr::write(body, Body::Gone) };
    let co = match warm.and_then(|w| w.take(g.stack_size())) {
        Some(co) => co,
        None => match stack::allocate(g.stack_size()) {
            Ok(stack) => new_coroutine(stack),
            Err(e) => {
                launch.discard(g);
                return Err(Step::Finished(Exit::Panicked(PanicReport {
                    goroutine: g.id,
                    name: g.name().map(str::to_string),
                    task: g.task,
                    location: g.spawn_site.to_string(),
                    message: format!("cannot allocate its stack: {e}"),
                    spawned_at: g.spawn_site,
                    created: None,
                })));
            }
        },
    };
    // SAFETY: `body` holds the `Body::Gone` put there above, which owns nothing, so writing
    // over it without dropping it leaks nothing (and saves a call to `Body`'s drop glue).
    unsafe { std::ptr::write(body, Body::Started(co)) };
    Ok((g.clone(), launch))
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
pub(crate) enum Launch {
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

/// A coroutine on `stack` that runs the goroutines it is resumed with, one after another.
fn new_coroutine(stack: GoStack) -> GoCoroutine {
    let owner = stack.owner_cell();
    Coroutine::with_stack(stack, move |yielder: &Yielder<Input, Out>, first: Input| {
        let mut next = first;
        // SAFETY: a non-null input points at the resumer's `Option<Job>`, which stays alive
        // (and untouched by the resumer) until this switches back (module invariants).
        while let Some((g, launch)) = unsafe { next.as_mut() }.and_then(Option::take) {
            next = yielder.suspend(run_one(yielder, owner, g, launch));
        }
    })
}

/// Run one goroutine on the calling coroutine; the record is dropped before this returns (an
/// idle coroutine holds none).
#[inline(always)]
fn run_one(yielder: &Yielder<Input, Out>, owner: &AtomicU64, g: GRef, launch: Launch) -> Out {
    // For the overflow handler: it names the goroutine whose guard page was hit.
    owner.store(g.id, Ordering::Relaxed);
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
            Out::Returned
        }
        Err(payload) => {
            if g.torn_down.load(Ordering::Acquire) {
                super::panic::forget(g.id);
                // The executor's forced unwind: let it reach corosensei (it ends the loop,
                // and the coroutine with it).
                panic::resume_unwind(payload);
            }
            Out::Panicked(Box::new(capture_panic(&g, payload)))
        }
    }
}

/// Suspend the calling goroutine `g` with `req`. Must be called on `g`'s own stack.
#[inline]
pub(crate) fn suspend(g: &G, req: Request) {
    let y = g.yielder() as *const Yielder<Input, Out>;
    // SAFETY: the yielder pointer was stored by `run_one` from the reference corosensei passes
    // to the coroutine body; it lives on this goroutine's stack for the body's whole life, and
    // we are running on that stack now.
    let yielder = unsafe { &*y };
    let next = yielder.suspend(Out::Req(req));
    debug_assert!(
        next.is_null(),
        "a running goroutine is resumed without a job"
    );
}

#[cfg(test)]
mod tests {
    //! `Warm` on the test thread, with records that are never put on an executor.
    use super::*;
    use crate::runtime::executor::ExecKind;
    use crate::runtime::goroutine::boxed;
    use std::panic::Location;
    use std::sync::Arc;

    fn record(id: u64, f: impl FnOnce() + Send + 'static) -> GRef {
        G::new(
            id,
            None,
            Location::caller(),
            1,
            ExecKind::Steal(0),
            &mut boxed(Box::new(f)),
            stack::default_size(),
            false,
        )
    }

    fn finished(s: Step) -> bool {
        matches!(s, Step::Finished(Exit::Returned))
    }

    #[test]
    fn a_finished_goroutines_coroutine_starts_the_next_one() {
        stack::prepare_thread();
        let warm = Warm::new(stack::default_size());
        let (a, b) = (record(2, || {}), record(3, || {}));
        assert!(finished(resume_warm(&a, &warm)));
        assert_eq!(warm.len(), 1, "kept, idle");
        assert!(finished(resume_warm(&b, &warm)));
        assert_eq!(
            warm.len(),
            1,
            "the second goroutine took the idle one and gave it back"
        );
        // Nothing of either goroutine is held by the idle coroutine.
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (1, 1));
    }

    #[test]
    fn a_worker_keeps_at_most_warm_max_idle_coroutines() {
        stack::prepare_thread();
        let warm = Warm::new(stack::default_size());
        // Each yields once, so all are started before any finishes.
        let gs: Vec<GRef> = (0..WARM_MAX as u64 + 3)
            .map(|i| {
                let slot: Arc<std::sync::OnceLock<GRef>> = Arc::default();
                let me = slot.clone();
                let g = record(10 + i, move || {
                    let g = me.get().expect("set before it runs").clone();
                    suspend(&g, Request::Yield);
                });
                assert!(slot.set(g.clone()).is_ok(), "set once");
                g
            })
            .collect();
        for g in &gs {
            assert!(matches!(
                resume_warm(g, &warm),
                Step::Suspended(Request::Yield)
            ));
        }
        assert_eq!(warm.len(), 0);
        for g in &gs {
            assert!(finished(resume_warm(g, &warm)));
        }
        assert_eq!(warm.len(), WARM_MAX);
        // A goroutine with another stack size never takes one.
        let odd = G::new(
            99,
            None,
            Location::caller(),
            1,
            ExecKind::Steal(0),
            &mut boxed(Box::new(|| {})),
            stack::default_size() * 2,
            false,
        );
        drop(gs);
        let first = warm.idle.borrow_mut().pop().expect("kept");
        drop(first);
        assert!(finished(resume_warm(&odd, &warm)));
        assert_eq!(warm.len(), WARM_MAX - 1, "nor is its coroutine kept");
        drop(warm);
    }
}
