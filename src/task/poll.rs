//! Polling: a task's future on a worker's stack (`poll_stackless`) or on a stack of its own
//! (`poll_on_stack`, the controlled executor), and `block_on` in a goroutine.
//!
//! One protocol everywhere, Go's park/unpark with a flag for wakes that come early:
//! 1. clear the record's `notified` flag, then poll;
//! 2. on `Pending`, the executor marks the record waiting and only then calls [`parked`], which
//!    wakes the record itself if a waker fired since step 1 (during the poll, `unpark` found it
//!    running and did nothing).
//!
//! Invariants:
//! - A task's future lives in its record's payload, pinned there, from `spawn` until it returns
//!   `Ready` (then it is dropped in place and the payload takes the value) or is discarded
//!   (panic, teardown). Only the thread running the record touches it.
//! - `G::polling` is true exactly while a task's future is being polled: a blocking call then
//!   panics (`blocking_in_task`) instead of parking a record that has no stack.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::waker;
use crate::runtime::context;
use crate::runtime::executor;
use crate::runtime::goroutine::{GRef, Payload, WaitReason, G};
use crate::runtime::hb;
use crate::runtime::join;
use crate::runtime::panic::{capture_panic, PanicReport};

/// How to poll, or drop unfinished, the future a task keeps in its record's payload
/// (monomorphised for the future's type by [`TaskEntry::of`]).
#[derive(Clone, Copy)]
pub(crate) struct TaskEntry {
    /// Polls the future in place; on `Ready` drops it and hands the value to the join state.
    poll: unsafe fn(&G, &mut Context<'_>) -> Poll<()>,
    /// Drops the future in the payload without finishing it.
    discard: unsafe fn(&Payload),
    /// The future's type path, as `function` in reports.
    pub(crate) function: &'static str,
}

impl TaskEntry {
    /// The entry of a task whose payload holds an `F`.
    pub(crate) fn of<F>() -> TaskEntry
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TaskEntry {
            poll: poll_payload::<F>,
            discard: Payload::discard::<F>,
            function: std::any::type_name::<F>(),
        }
    }

    /// Drop the unfinished future.
    ///
    /// # Safety
    /// `p` holds this entry's future, and the caller owns the record (it is not being polled).
    pub(crate) unsafe fn discard(&self, p: &Payload) {
        // SAFETY: the caller's contract.
        unsafe { (self.discard)(p) }
    }
}

/// Poll the `F` in `g`'s payload once.
///
/// # Safety
/// `g`'s payload holds an unfinished `F`, and the caller is the thread running `g`.
unsafe fn poll_payload<F>(g: &G, cx: &mut Context<'_>) -> Poll<()>
where
    F: Future,
{
    // SAFETY: the payload holds the `F` (the caller's contract) and keeps it in place until it
    // is dropped below or discarded, so pinning it is sound.
    let f = unsafe { Pin::new_unchecked(&mut *g.payload.as_mut_ptr::<F>()) };
    match f.poll(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(v) => {
            // SAFETY: the future is done; dropping it in place empties the payload, which
            // `finish` then fills with the value.
            unsafe {
                g.payload.discard::<F>();
                join::finish(g, v);
            }
            Poll::Ready(())
        }
    }
}

/// Step 1 of the protocol, and the wait reason a foreign future leaves.
#[inline]
fn before_poll(g: &G) {
    g.notified.store(false, Ordering::SeqCst);
    hb::acquire(waker::wake_key(g.id));
    g.set_wait(WaitReason::Await, g.site());
}

/// Poll task `g` once on the calling worker's stack (work-stealing executor). `Ok(true)`: it
/// finished; `Ok(false)`: it is pending, and the caller parks it with `Request::ParkTask`;
/// `Err`: it panicked (its future is dropped and its joiner told).
pub(crate) fn poll_stackless(g: &GRef, e: TaskEntry) -> Result<bool, PanicReport> {
    before_poll(g);
    let w = waker::lent(g);
    let mut cx = Context::from_waker(&w);
    g.polling.set(true);
    // SAFETY: the body was `Task(e)`, so the payload holds its unfinished future, and the
    // executor calls this on the task's thread.
    let r = panic::catch_unwind(AssertUnwindSafe(|| unsafe { (e.poll)(g, &mut cx) }));
    g.polling.set(false);
    match r {
        Ok(Poll::Ready(())) => Ok(true),
        Ok(Poll::Pending) => {
            note_no_waker(g);
            Ok(false)
        }
        Err(payload) => {
            // SAFETY: the future is still in the payload (it did not return `Ready`).
            unsafe { e.discard(&g.payload) };
            join::abandon(g, "it panicked");
            Err(capture_panic(g, payload))
        }
    }
}

/// The body of task `g` on a stack of its own (controlled executor): poll, park, repeat.
///
/// # Safety
/// The payload holds `e`'s unfinished future, and `g` is the running goroutine.
pub(crate) unsafe fn poll_on_stack(g: &GRef, e: TaskEntry) {
    /// Drops the unfinished future and tells the joiner if the poll unwinds (a panic, or
    /// the teardown of a parked task).
    struct Unwound<'a>(&'a G, TaskEntry);
    impl Drop for Unwound<'_> {
        fn drop(&mut self) {
            self.0.polling.set(false);
            // SAFETY: the future is unfinished (the guard is forgotten once it returns `Ready`)
            // and we are its thread.
            unsafe { self.1.discard(&self.0.payload) };
            join::abandon(
                self.0,
                "it panicked or was torn down (main returned) before it finished",
            );
        }
    }
    let unwound = Unwound(g, e);
    let w = waker::lent(g);
    let mut cx = Context::from_waker(&w);
    loop {
        before_poll(g);
        g.polling.set(true);
        // SAFETY: the caller's contract; `Unwound` keeps it on unwind.
        let r = unsafe { (e.poll)(g, &mut cx) };
        g.polling.set(false);
        if r.is_ready() {
            std::mem::forget(unwound);
            return;
        }
        park(g);
    }
}

/// The future of a task or `block_on` returned `Pending`: park the running record `g` until a
/// waker wakes it.
fn park(g: &GRef) {
    note_no_waker(g);
    if g.wait_reason() == WaitReason::AwaitNoWaker {
        report_no_waker(g);
    }
    let me = GRef::clone(g);
    executor::park(g.wait_reason(), g.site(), move || parked(&me));
}

/// Step 2 of the protocol: `g` was just marked waiting; wake it if a waker fired since its
/// poll began.
pub(crate) fn parked(g: &GRef) {
    if g.notified.swap(false, Ordering::SeqCst) {
        executor::unpark(GRef::clone(g));
    }
}

/// If no waker of `g` is alive and none fired, nothing can wake it: say so in its wait reason.
fn note_no_waker(g: &G) {
    // The count first: a waker sets `notified` before it goes (see `waker`).
    if g.wakers.load(Ordering::SeqCst) == 0 && !g.notified.load(Ordering::SeqCst) {
        g.set_wait(WaitReason::AwaitNoWaker, g.site());
    }
}

/// On the controlled executor, a task (or `block_on`) that parks with no waker is a leak found
/// right here: the run ends with a leak report naming it, instead of waiting for the end of
/// the run (or for ever, if main waits for it).
fn report_no_waker(g: &G) {
    executor::with_controlled(|c| {
        let mut d = crate::verdict::GoroutineDump::of(g);
        d.status = crate::runtime::Status::Waiting;
        d.wait_reason = WaitReason::AwaitNoWaker;
        d.detail = Some(format!(
            "its future returned Pending without keeping a waker: nothing can wake the {}",
            if g.task { "task" } else { "goroutine" }
        ));
        c.report_leak(vec![d]);
    });
}

/// An async primitive is about to return `Pending` for `reason`, awaited at `site`: the record
/// polling it (a task, or a goroutine in `block_on`) shows that while it waits.
#[inline]
pub(crate) fn awaiting(reason: WaitReason, site: &'static Location<'static>) {
    context::with_current(|g| {
        if let Some(g) = g {
            g.set_wait(reason, site);
        }
    });
}

thread_local! {
    /// The caller of the `block_on` running on this thread, if any: the location a future
    /// polled directly by `block_on` reports (its `#[track_caller]` location would be this
    /// file).
    static BLOCK_ON_SITE: std::cell::Cell<Option<&'static Location<'static>>> =
        const { std::cell::Cell::new(None) };
}

/// Where a `#[track_caller]` poll was called from, as the user sees it: `site`, unless the
/// caller is `block_on` here, which stands for its own caller.
pub(crate) fn poll_site(site: &'static Location<'static>) -> &'static Location<'static> {
    if site.file() == file!() {
        BLOCK_ON_SITE.with(|s| s.get()).unwrap_or(site)
    } else {
        site
    }
}

/// `block_on`: poll on the calling goroutine's stack, parking the goroutine while pending.
pub(super) fn block_on<F: Future>(site: &'static Location<'static>, future: F) -> F::Output {
    /// Restores the enclosing `block_on`'s site (block_on may nest in goroutines).
    struct Restore(Option<&'static Location<'static>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BLOCK_ON_SITE.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(BLOCK_ON_SITE.with(|s| s.replace(Some(site))));
    let Some(g) = context::current_gref() else {
        return block_on_thread(future);
    };
    if g.polling.get() {
        blocking_in_task(&g, WaitReason::Await, site);
    }
    let mut future = pin!(future);
    let w = waker::lent(&g);
    let mut cx = Context::from_waker(&w);
    loop {
        g.notified.store(false, Ordering::SeqCst);
        hb::acquire(waker::wake_key(g.id));
        g.set_wait(WaitReason::Await, site);
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        park(&g);
    }
}

/// `block_on` outside any runtime: the thread parks, and the waker unparks it.
fn block_on_thread<F: Future>(future: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread, std::sync::atomic::AtomicBool);
    impl std::task::Wake for ThreadWaker {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref()
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.1.store(true, Ordering::SeqCst);
            self.0.unpark();
        }
    }
    let tw = std::sync::Arc::new(ThreadWaker(
        std::thread::current(),
        std::sync::atomic::AtomicBool::new(false),
    ));
    let w = std::task::Waker::from(tw.clone());
    let mut cx = Context::from_waker(&w);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        while !tw.1.swap(false, Ordering::SeqCst) {
            std::thread::park();
        }
    }
}

/// The async form to await instead of a blocking call that parks for `reason`.
fn async_form(reason: WaitReason) -> &'static str {
    match reason {
        WaitReason::ChanSend => "ch.send_async(v).await",
        WaitReason::ChanReceive => "ch.recv_async().await",
        WaitReason::Select => "goweave::select_async! { .. } (select! awaited)",
        WaitReason::MutexLock => "mutex.lock_async().await (or lock_owned_async, to hold it across an await)",
        WaitReason::RwLockRead => "rwlock.read_async().await (or read_owned_async)",
        WaitReason::RwLockWrite => "rwlock.write_async().await (or write_owned_async)",
        WaitReason::WaitGroupWait => "wg.wait_async().await (errgroup: group.wait_async().await)",
        WaitReason::SemaphoreAcquire => "sem.acquire_async(n).await",
        WaitReason::CondWait => "cond.wait_async(owned_guard).await",
        WaitReason::OnceWait => "once.call_once_async(async { .. }).await",
        WaitReason::Sleep => "goweave::time::sleep_async(d).await",
        WaitReason::Join => "handle.await (a JoinHandle is a future)",
        WaitReason::Await => "future.await instead of block_on",
        _ => "an async form of the call, or move the blocking code into a goroutine (goweave::go) and await its JoinHandle",
    }
}

/// A blocking call (parking for `reason`, at `site`) inside the poll of task `g`: it has no
/// stack to park on. Panics with the call, the task and what to await instead.
#[cold]
#[inline(never)]
pub(crate) fn blocking_in_task(g: &G, reason: WaitReason, site: &'static Location<'static>) -> ! {
    g.polling.set(false);
    panic!(
        "goweave: blocking call ({reason}) at {site} inside {} (spawned at {}): a task has no stack to block on; use {}",
        g.label(),
        g.spawn_site,
        async_form(reason)
    )
}

/// `gosched` inside the poll of task `g`.
#[cold]
#[inline(never)]
pub(crate) fn gosched_in_task(g: &G, site: &'static Location<'static>) -> ! {
    g.polling.set(false);
    panic!(
        "goweave: gosched at {site} inside {} (spawned at {}): a task has no stack to yield on; use goweave::task::yield_now().await",
        g.label(),
        g.spawn_site
    )
}
