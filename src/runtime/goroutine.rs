//! The goroutine record: identity, status, wait reason and goroutine-local storage.
//!
//! Invariants:
//! - `id` is unique per executor instance and sequential in spawn order (main is 1).
//! - `body` is touched only by the thread that runs the goroutine: before the first run by
//!   whoever holds the only reference in a run queue, afterwards only by its home worker (or the
//!   controlled executor's single thread). That is what makes the `unsafe impl Sync` sound.
//! - `status` moves Runnable → Running → (Waiting → Runnable → Running)* → Dead; `unpark` may
//!   only move Waiting → Runnable, and exactly one waker wins that transition.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::mem::{align_of, size_of, MaybeUninit};
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::coroutine::GoCoroutine;
use super::dump::WaitDetail;
use super::executor::ExecKind;
use super::join::JoinState;
pub use crate::verdict::{Status, WaitReason};

/// `G::home` of a goroutine that has not started (`u32`, like the other small fields: the
/// record stays at 304 bytes, see `task`'s budget test).
pub(crate) const NO_HOME: u32 = u32::MAX;

/// `G::slot` of a goroutine not in its worker's registry (`steal/registry.rs`).
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// A shared reference to a goroutine record.
pub(crate) type GRef = Arc<G>;

/// What a goroutine will run, or is running.
pub(crate) enum Body {
    /// Created, never run, with a boxed closure (main, and goroutines the runtime starts).
    /// The stack is only taken from the pool when the goroutine first runs: goroutines that run
    /// to completion one after another then share a few warm stacks, instead of each faulting
    /// in a page of its own (that was 4x the cost of spawn+join).
    Unstarted(Box<dyn FnOnce() + Send>),
    /// Created, never run, with the closure of a `go` in the record's payload.
    Inline(InlineEntry),
    /// A task (`goweave::task::spawn`): a future in the record's payload, polled by the
    /// worker on its own stack (work-stealing executor) or, on the controlled executor, on a
    /// stack of its own so that the strategy can switch inside a poll (`task::poll`).
    Task(crate::task::TaskEntry),
    /// Started: the coroutine, only ever touched on its home thread.
    Started(GoCoroutine),
    /// Finished or torn down.
    Gone,
}

/// How to run, or drop unrun, the closure a `go` left in a record's payload (monomorphised for
/// the closure's type by `join.rs`).
#[derive(Clone, Copy)]
pub(crate) struct InlineEntry {
    /// Takes the closure out of the payload, runs it and completes the join state.
    pub(crate) run: unsafe fn(&G),
    /// Drops the closure in the payload without running it.
    pub(crate) discard: unsafe fn(&Payload),
    /// The closure's type path (`std::any::type_name`): the function the goroutine runs.
    pub(crate) function: &'static str,
}

/// Bytes of closure (before the goroutine runs) or of result (after) that a goroutine record
/// holds in place; larger ones are boxed, and the box pointer is held in place.
const PAYLOAD_BYTES: usize = 48;

/// A goroutine's closure, then its result, without an allocation of their own: `go` costs
/// one record, and records are recycled. Which value the bytes hold is tracked by `body`
/// (the closure) and the join state (the result), never by the payload itself.
#[repr(C, align(16))]
pub(crate) struct Payload(UnsafeCell<[MaybeUninit<u8>; PAYLOAD_BYTES]>);

impl Payload {
    const fn empty() -> Payload {
        Payload(UnsafeCell::new([MaybeUninit::uninit(); PAYLOAD_BYTES]))
    }

    const fn fits<X>() -> bool {
        size_of::<X>() <= PAYLOAD_BYTES && align_of::<X>() <= 16
    }

    /// Move `x` in.
    ///
    /// # Safety
    /// The payload holds nothing, and the caller has exclusive access to it.
    pub(crate) unsafe fn put<X>(&self, x: X) {
        let p = self.0.get().cast::<u8>();
        if Self::fits::<X>() {
            // SAFETY: the buffer is large and aligned enough for `X` (checked just above),
            // holds nothing, and nobody else touches it (the caller's contract).
            unsafe { p.cast::<X>().write(x) }
        } else {
            // SAFETY: a box pointer always fits; otherwise as above.
            unsafe { p.cast::<Box<X>>().write(Box::new(x)) }
        }
    }

    /// Move the `X` out.
    ///
    /// # Safety
    /// The payload holds an `X` (put there with `put::<X>`), and the caller has exclusive
    /// access to it. Afterwards it holds nothing.
    pub(crate) unsafe fn take<X>(&self) -> X {
        let p = self.0.get().cast::<u8>();
        if Self::fits::<X>() {
            // SAFETY: an `X` was written in place by `put::<X>` (the caller's contract).
            unsafe { p.cast::<X>().read() }
        } else {
            // SAFETY: a `Box<X>` was written in place by `put::<X>`.
            *unsafe { p.cast::<Box<X>>().read() }
        }
    }

    /// The `X` in place, where it stays until taken or discarded (a task's future is polled
    /// there, pinned: the record, or the box, does not move while it holds the value).
    ///
    /// # Safety
    /// As for [`take`](Self::take), except that the payload still holds the `X` afterwards.
    pub(crate) unsafe fn as_mut_ptr<X>(&self) -> *mut X {
        let p = self.0.get().cast::<u8>();
        if Self::fits::<X>() {
            p.cast::<X>()
        } else {
            // SAFETY: a `Box<X>` was written in place by `put::<X>` (the caller's contract).
            unsafe { &mut **p.cast::<Box<X>>() }
        }
    }

    /// Drop the `X` in place.
    ///
    /// # Safety
    /// As for [`take`](Self::take).
    pub(crate) unsafe fn discard<X>(&self) {
        // SAFETY: the caller's contract is `take`'s.
        drop(unsafe { self.take::<X>() })
    }
}

/// Builds a new record's body, moving its closure into the payload if it goes there. Called
/// once, while the record is not shared yet.
pub(crate) type Install<'a> = &'a mut dyn FnMut(&Payload) -> Body;

/// An `Install` for a boxed closure.
pub(crate) fn boxed(f: Box<dyn FnOnce() + Send>) -> impl FnMut(&Payload) -> Body {
    let mut f = Some(f);
    move |_| Body::Unstarted(f.take().expect("installed once"))
}

/// One goroutine.
pub(crate) struct G {
    /// Sequential id within its executor; main is 1.
    pub(crate) id: u64,
    /// Optional name given at spawn, boxed once more: names are rare, and the thin pointer
    /// keeps the record (and so every parked goroutine and task) 16 bytes smaller.
    name: Option<Box<Box<str>>>,
    /// The function it runs (its closure's type path; empty for main and for goroutines the
    /// runtime starts), for `leak::Options::ignore_top_function`.
    pub(crate) function: &'static str,
    /// Where `go` was called.
    pub(crate) spawn_site: &'static Location<'static>,
    /// Id of the goroutine that spawned this one (0 for main).
    pub(crate) parent: u64,
    /// Usable bytes of the stack it will run on (`u32`: see `name`; stacks stay far below
    /// 4 GiB).
    stack_size: u32,
    /// Which executor owns the goroutine.
    pub(crate) exec: ExecKind,
    /// A `Status` as u8.
    status: AtomicU8,
    /// A `WaitReason` as u8; meaningful while `Waiting`.
    wait_reason: AtomicU8,
    /// Where the goroutine blocked, or last yielded (never null once it has run).
    wait_site: AtomicPtr<Location<'static>>,
    /// Worker index the goroutine is bound to once started (`NO_HOME` before).
    pub(crate) home: AtomicU32,
    /// The goroutine's slot in its home worker's table of started goroutines (`NO_SLOT`
    /// until it is registered there, at its first suspension: see `steal/registry.rs`).
    pub(crate) slot: AtomicU32,
    /// Set while the executor force-unwinds the goroutine (main returned or the run failed).
    pub(crate) torn_down: AtomicBool,
    /// Parked in the middle of an unwind (a destructor blocked during a panic): it must never
    /// be force-unwound, because a second unwind through that destructor aborts the process
    /// (see `runtime::unwind`).
    pub(crate) parked_unwinding: AtomicBool,
    /// The closure or coroutine; see the module invariants.
    body: UnsafeCell<Body>,
    /// The corosensei yielder of the running coroutine (set when it starts).
    yielder: AtomicPtr<()>,
    /// Goroutine-local storage, keyed by the address of its `GoroutineLocal` key; only touched
    /// by the goroutine itself.
    locals: RefCell<Vec<(usize, Rc<dyn Any>)>>,
    /// What the primitive it is parked on adds to a dump. Only ever set on the controlled
    /// executor, by the goroutine itself, and read by dumps on that executor's single thread.
    detail: Cell<Option<WaitDetail>>,
    /// The closure of a `go` before it runs, then its result until joined.
    pub(crate) payload: Payload,
    /// Result hand-over to the `JoinHandle` (see `join.rs`).
    pub(crate) join: Mutex<JoinState>,
    /// A task rather than a goroutine (set at creation from its body): reports say `task 7`.
    pub(crate) task: bool,
    /// Async wake-ups (`task::waker`): set by a waker before it unparks, cleared before each
    /// poll. A wake that lands while the future is being polled (status `Running`, so the
    /// unpark finds nothing to wake) is found by the park that follows, which then wakes the
    /// record itself: no lost wake-ups.
    pub(crate) notified: AtomicBool,
    /// Wakers of this record alive now (clones made by `task::waker`): a task parked with none
    /// and not notified can never be woken, which reports say.
    pub(crate) wakers: AtomicU32,
    /// True while this record's thread polls a future for it: a blocking call then has no
    /// stack to park and panics naming the async form (`task::blocking_in_task`). Only
    /// touched by the thread running the record.
    pub(crate) polling: Cell<bool>,
    /// No longer counted by `num_goroutine` although not finished: it counted itself out
    /// just before handing its value to a joiner (`count_out`), and its worker must not count
    /// it out again at exit. Only touched by the thread running the record.
    pub(crate) counted_out: Cell<bool>,
    /// The recording session it logs into, on a recording runtime (`record`); set before it
    /// is shared.
    pub(crate) rec: Option<Arc<crate::record::Session>>,
}

// SAFETY: `payload` is written by the spawner before the record is shared, read by the
// goroutine's own thread when it starts, and afterwards only touched under the `join` lock.
// `body`, `locals` and `detail` are only accessed by the single thread that currently owns the
// goroutine (see the module invariants); every other field is atomic or immutable.
unsafe impl Sync for G {}
// SAFETY: as above; the `!Send` coroutine inside `body` is never touched from another thread
// (a goroutine never migrates after it started), and `locals` is only touched by the goroutine.
unsafe impl Send for G {}

impl G {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        name: Option<Box<str>>,
        spawn_site: &'static Location<'static>,
        parent: u64,
        exec: ExecKind,
        install: Install<'_>,
        stack_size: usize,
        handle: bool,
    ) -> GRef {
        let spare = free_list::take();
        G::fill(
            spare, id, name, spawn_site, parent, exec, install, stack_size, handle,
        )
    }

    /// `new`, with a record of the calling worker's `spare` stash if it has one.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn new_in(
        spare: &Spare,
        id: u64,
        name: Option<Box<str>>,
        spawn_site: &'static Location<'static>,
        parent: u64,
        exec: ExecKind,
        install: Install<'_>,
        stack_size: usize,
        handle: bool,
    ) -> GRef {
        let g = spare.list.borrow_mut().pop().or_else(free_list::take);
        G::fill(
            g, id, name, spawn_site, parent, exec, install, stack_size, handle,
        )
    }

    /// Fill `spare` (a recycled record) or else a fresh record with a new goroutine.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn fill(
        spare: Option<GRef>,
        id: u64,
        name: Option<Box<str>>,
        spawn_site: &'static Location<'static>,
        parent: u64,
        exec: ExecKind,
        install: Install<'_>,
        stack_size: usize,
        handle: bool,
    ) -> GRef {
        let g = spare.unwrap_or_else(|| {
            super::arena::before_fresh_record();
            Arc::new(G::blank())
        });
        debug_assert_eq!(Arc::strong_count(&g), 1, "a spare record is not shared");
        // A fresh record is unshared, and so is a spare one: the free lists and the stashes
        // only ever hold the last reference of a record (`recycle`, `Spare::recycle`), and no
        // `Weak<G>` is ever made; `Arc::get_mut`'s check (a locked compare-exchange, per
        // goroutine) would only confirm it.
        // SAFETY: `g` is the only reference (above); the pointer comes from its own allocation.
        let r = unsafe { &mut *Arc::as_ptr(&g).cast_mut() };
        r.id = id;
        r.name = name.map(Box::new);
        r.spawn_site = spawn_site;
        r.parent = parent;
        r.exec = exec;
        r.stack_size = u32::try_from(stack_size).expect("goweave: a stack of 4 GiB or more");
        *r.status.get_mut() = Status::Runnable as u8;
        *r.wait_reason.get_mut() = WaitReason::None as u8;
        *r.wait_site.get_mut() = spawn_site as *const _ as *mut _;
        *r.home.get_mut() = NO_HOME;
        *r.slot.get_mut() = NO_SLOT;
        *r.torn_down.get_mut() = false;
        *r.parked_unwinding.get_mut() = false;
        *r.yielder.get_mut() = std::ptr::null_mut();
        r.detail.set(None);
        r.rec = None;
        *r.join.get_mut().unwrap_or_else(|p| p.into_inner()) = JoinState::Running {
            waiter: None,
            handle,
        };
        *r.notified.get_mut() = false;
        r.polling.set(false);
        r.counted_out.set(false);
        let body = install(&r.payload);
        r.function = match &body {
            Body::Inline(e) => e.function,
            Body::Task(e) => e.function,
            _ => "",
        };
        r.task = matches!(body, Body::Task(_));
        debug_assert!(
            matches!(r.body.get_mut(), Body::Gone),
            "a spare record is cleared"
        );
        // SAFETY: a fresh or spare record's body is `Gone` (`blank`, `clear`), which owns
        // nothing: writing over it drops nothing, and saves a call to `Body`'s drop glue.
        unsafe { std::ptr::write(r.body.get_mut(), body) };
        g
    }

    /// A record with nothing in it, to be filled by `new`.
    pub(crate) fn blank() -> G {
        let nowhere = Location::caller();
        G {
            stack_size: 0,
            id: 0,
            name: None,
            function: "",
            spawn_site: nowhere,
            parent: 0,
            exec: ExecKind::Controlled(0),
            status: AtomicU8::new(Status::Dead as u8),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            wait_site: AtomicPtr::new(nowhere as *const _ as *mut _),
            home: AtomicU32::new(NO_HOME),
            slot: AtomicU32::new(NO_SLOT),
            torn_down: AtomicBool::new(false),
            parked_unwinding: AtomicBool::new(false),
            body: UnsafeCell::new(Body::Gone),
            locals: RefCell::new(Vec::new()),
            yielder: AtomicPtr::new(std::ptr::null_mut()),
            detail: Cell::new(None),
            payload: Payload::empty(),
            join: Mutex::new(JoinState::Empty),
            task: false,
            notified: AtomicBool::new(false),
            wakers: AtomicU32::new(0),
            polling: Cell::new(false),
            counted_out: Cell::new(false),
            rec: None,
        }
    }

    /// Drop whatever the record still holds (an unrun closure, an unjoined result), leaving
    /// it reusable.
    fn clear(&mut self) {
        // A finished goroutine's body is already `Gone` (the common case skips the drop glue).
        let body = self.body.get_mut();
        if !matches!(body, Body::Gone) {
            match std::mem::replace(body, Body::Gone) {
                // SAFETY: an `Inline` body means the payload holds its closure; `&mut self` is
                // exclusive access.
                Body::Inline(e) => unsafe { (e.discard)(&self.payload) },
                // SAFETY: a `Task` body means the payload holds its future; exclusive as above.
                Body::Task(e) => unsafe { e.discard(&self.payload) },
                other => drop(other),
            }
        }
        let join = self.join.get_mut().unwrap_or_else(|p| p.into_inner());
        if let JoinState::Done { discard } = std::mem::replace(join, JoinState::Empty) {
            // SAFETY: `Done` means the payload holds the result; exclusive as above.
            unsafe { discard(&self.payload) };
        }
        self.name = None;
        self.rec = None;
        self.locals.get_mut().clear();
    }

    /// Current status.
    pub(crate) fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    pub(crate) fn set_status(&self, s: Status) {
        self.status.store(s as u8, Ordering::Release);
    }

    /// Waiting → Runnable; false if the goroutine was not waiting (already woken, or dead).
    pub(crate) fn try_wake(&self) -> bool {
        self.status
            .compare_exchange(
                Status::Waiting as u8,
                Status::Runnable as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Record why and where the goroutine is about to block.
    pub(crate) fn set_wait(&self, reason: WaitReason, site: &'static Location<'static>) {
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
        self.set_site(site);
    }

    /// Record the latest scheduling point the goroutine passed.
    pub(crate) fn set_site(&self, site: &'static Location<'static>) {
        self.wait_site
            .store(site as *const _ as *mut _, Ordering::Relaxed);
    }

    /// The wait reason (meaningful while waiting).
    pub(crate) fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    /// Where the goroutine blocked or last yielded.
    pub(crate) fn site(&self) -> &'static Location<'static> {
        let p = self.wait_site.load(Ordering::Relaxed);
        // SAFETY: `wait_site` starts as the spawn site and only ever holds `&'static Location`
        // values, so it is non-null and valid forever.
        unsafe { &*p }
    }

    /// Exclusive access to the body.
    ///
    /// # Safety
    /// The caller must be the thread that owns the goroutine (see the module invariants) and
    /// must not hold another reference obtained from this method.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn body_mut(&self) -> &mut Body {
        // SAFETY: exclusivity is the caller's obligation (documented above).
        unsafe { &mut *self.body.get() }
    }

    pub(crate) fn set_yielder<Y>(&self, y: &Y) {
        self.yielder
            .store(y as *const Y as *mut (), Ordering::Relaxed);
    }

    pub(crate) fn yielder(&self) -> *const () {
        self.yielder.load(Ordering::Relaxed)
    }

    /// The local value stored under `key`, created by `init` on first use.
    ///
    /// Must only be called by the goroutine itself (it is the current goroutine); the `Rc`
    /// never leaves that goroutine.
    pub(crate) fn local(&self, key: usize, init: impl FnOnce() -> Rc<dyn Any>) -> Rc<dyn Any> {
        // A goroutine has few locals; a vector beats a hash map (and costs nothing to create).
        let mut locals = self.locals.borrow_mut();
        if let Some((_, v)) = locals.iter().find(|(k, _)| *k == key) {
            return v.clone();
        }
        let v = init();
        locals.push((key, v.clone()));
        v
    }

    /// Attach (`Some`) or remove (`None`) the wait detail; only by the goroutine itself.
    pub(crate) fn set_wait_detail(&self, d: Option<WaitDetail>) {
        self.detail.set(d);
    }

    /// The attached wait detail (read on the thread that runs the goroutine).
    pub(crate) fn wait_detail(&self) -> Option<WaitDetail> {
        self.detail.get()
    }

    /// Drop goroutine-local values (at exit, on the goroutine's own thread).
    pub(crate) fn clear_locals(&self) {
        let map = std::mem::take(&mut *self.locals.borrow_mut());
        drop(map);
    }

    /// The name given at spawn.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|n| &**n)
    }

    /// Usable bytes of the stack it will run on.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size as usize
    }

    /// `goroutine 7` or `goroutine 7 "name"` (`task 7` for a task).
    pub(crate) fn label(&self) -> String {
        let kind = if self.task { "task" } else { "goroutine" };
        match self.name() {
            Some(n) => format!("{kind} {} \"{}\"", self.id, n),
            None => format!("{kind} {}", self.id),
        }
    }
}

impl fmt::Debug for G {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("G")
            .field("id", &self.id)
            .field("status", &self.status())
            .finish()
    }
}

impl Drop for G {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Give a finished goroutine's record back for reuse, if `g` is its last reference; otherwise
/// just drop the reference (whoever holds the last one recycles or frees it). Go keeps dead
/// Gs on free lists for the same reason: `go` then allocates nothing, and glibc's allocator,
/// with records freed on another worker than the one that allocated them, cost more than
/// everything else in spawn+join.
pub(crate) fn recycle(mut g: GRef) {
    let Some(r) = Arc::get_mut(&mut g) else {
        return;
    };
    if r.status() != Status::Dead {
        return;
    }
    r.clear();
    free_list::put(g);
}

/// A worker's stash of finished goroutines' records, for the goroutines it starts next (a
/// goroutine finishes on the worker that started it, so a worker gives back about as many as
/// it takes). Go's `gfput`/`gfget` keep dead `g`s per P in the same way. Cheaper than the
/// thread's free list below: no thread-local lookup, and no locked compare-exchange of
/// `Arc::get_mut` to learn that the last reference is unshared.
///
/// Invariant: every record in the stash is dead, cleared, and its only reference is the
/// stash's.
pub(crate) struct Spare {
    list: RefCell<Vec<GRef>>,
}

/// Records a worker's stash keeps; beyond that they go to the thread's free list.
const SPARE_MAX: usize = 256;

impl Spare {
    /// An empty stash.
    pub(crate) const fn new() -> Spare {
        Spare {
            list: RefCell::new(Vec::new()),
        }
    }

    /// [`recycle`], into this stash.
    #[inline]
    pub(crate) fn recycle(&self, g: GRef) {
        // No `Weak<G>` is ever made, so a strong count of one is the last reference; the
        // fence pairs with the release decrements of the references dropped before, so their
        // holders' uses of the record happen before it is cleared here.
        if Arc::strong_count(&g) != 1 || g.status() != Status::Dead {
            return;
        }
        std::sync::atomic::fence(Ordering::Acquire);
        // SAFETY: the last reference (above), so nobody else can reach the record; the
        // pointer comes from the `Arc`'s own allocation.
        unsafe { (*Arc::as_ptr(&g).cast_mut()).clear() };
        let mut list = self.list.borrow_mut();
        if list.len() < SPARE_MAX {
            list.push(g);
        } else {
            drop(list);
            free_list::put(g);
        }
    }

    /// Records held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.borrow().len()
    }
}

/// Recycled records: a short list per thread, and batches moved through a global list when
/// one thread frees what another allocates (the spawner and the finisher are often different
/// workers). Bounded, so a burst of a million goroutines does not stay allocated.
mod free_list {
    use std::cell::RefCell;
    use std::sync::Mutex;

    use super::GRef;

    /// Records a thread keeps before moving a batch to the global list.
    const LOCAL_MAX: usize = 128;
    /// Records moved at a time.
    const BATCH: usize = 64;
    /// Batches the global list keeps (beyond that, records are freed).
    const GLOBAL_MAX: usize = 256;

    thread_local! {
        static LOCAL: RefCell<Vec<GRef>> = const { RefCell::new(Vec::new()) };
    }

    static GLOBAL: Mutex<Vec<Vec<GRef>>> = Mutex::new(Vec::new());

    pub(super) fn take() -> Option<GRef> {
        LOCAL
            .try_with(|l| {
                let mut l = l.try_borrow_mut().ok()?;
                if l.is_empty() {
                    let batch = GLOBAL.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
                    *l = batch;
                }
                l.pop()
            })
            .ok()
            .flatten()
    }

    pub(super) fn put(g: GRef) {
        let overflow = LOCAL.try_with(|l| {
            let Ok(mut l) = l.try_borrow_mut() else {
                return None;
            };
            l.push(g);
            (l.len() > LOCAL_MAX).then(|| {
                let at = l.len() - BATCH;
                l.split_off(at)
            })
        });
        if let Ok(Some(batch)) = overflow {
            let mut global = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
            if global.len() < GLOBAL_MAX {
                global.push(batch);
                return;
            }
            drop(global);
            drop(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The payload and the record free list, without running goroutines (so Miri can check
    //! them: `cargo +nightly miri test --lib goroutine::tests`).
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its drops; carries some bytes so that its size can be chosen.
    struct Tally<const N: usize>(Arc<AtomicUsize>, [u8; N]);

    impl<const N: usize> Drop for Tally<N> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[repr(align(64))]
    struct Wide(u64);

    #[test]
    fn payload_moves_values_in_and_out_inline_and_boxed() {
        let p = Payload::empty();
        // SAFETY (all below): each `take`/`discard` matches the `put` before it, and `p` is
        // only used by this thread.
        unsafe {
            p.put(7u8);
            assert_eq!(p.take::<u8>(), 7);
            p.put([9u64; 64]); // larger than the payload: boxed
            assert_eq!(p.take::<[u64; 64]>(), [9u64; 64]);
            p.put(Wide(5)); // over-aligned: boxed
            assert_eq!(p.take::<Wide>().0, 5);
            p.put(());
            p.take::<()>();
        }
        assert!(Payload::fits::<[u8; PAYLOAD_BYTES]>());
        assert!(!Payload::fits::<[u8; PAYLOAD_BYTES + 1]>());
        assert!(!Payload::fits::<Wide>());
    }

    #[test]
    fn payload_discard_drops_exactly_once() {
        let n = Arc::new(AtomicUsize::new(0));
        let p = Payload::empty();
        // SAFETY: as above.
        unsafe {
            p.put(Tally::<8>(n.clone(), [0; 8]));
            p.discard::<Tally<8>>();
            p.put(Tally::<200>(n.clone(), [0; 200]));
            p.discard::<Tally<200>>();
        }
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    fn record(install: Install<'_>) -> GRef {
        G::new(
            7,
            Some("worker".into()),
            Location::caller(),
            1,
            ExecKind::Controlled(0),
            install,
            4096,
            true,
        )
    }

    #[test]
    fn a_dropped_record_drops_its_unrun_closure_and_unjoined_result() {
        let n = Arc::new(AtomicUsize::new(0));
        let held = Tally::<16>(n.clone(), [0; 16]);
        let mut held = Some(held);
        let g = record(&mut |p: &Payload| {
            // SAFETY: a new record's payload is empty and not shared.
            unsafe { p.put(held.take().unwrap()) };
            Body::Inline(InlineEntry {
                run: |_| unreachable!("never run"),
                discard: Payload::discard::<Tally<16>>,
                function: "",
            })
        });
        drop(g);
        assert_eq!(n.load(Ordering::SeqCst), 1, "the unrun closure");

        let g = record(&mut boxed(Box::new(|| {})));
        // SAFETY: nothing else uses the payload of this record.
        unsafe { g.payload.put(Tally::<16>(n.clone(), [0; 16])) };
        *g.join.lock().unwrap() = JoinState::Done {
            discard: Payload::discard::<Tally<16>>,
        };
        drop(g);
        assert_eq!(n.load(Ordering::SeqCst), 2, "the unjoined result");
    }

    #[test]
    fn a_workers_stash_reuses_only_dead_unshared_records_and_nothing_of_their_goroutine() {
        let spare = Spare::new();
        let first = |install: Install<'_>| {
            G::new_in(
                &spare,
                7,
                Some("old".into()),
                Location::caller(),
                1,
                ExecKind::Steal(0),
                install,
                4096,
                false,
            )
        };
        let g = first(&mut boxed(Box::new(|| {})));
        let addr = Arc::as_ptr(&g);
        let local: Rc<dyn Any> = Rc::new(5u32);
        let _ = g.local(1, || local.clone());
        g.set_wait(WaitReason::ChanReceive, Location::caller());
        g.home.store(0, Ordering::Relaxed);
        // Alive, then shared: not taken.
        spare.recycle(g.clone());
        assert_eq!(spare.len(), 0);
        g.set_status(Status::Dead);
        let other = g.clone();
        spare.recycle(g);
        assert_eq!(
            spare.len(),
            0,
            "a shared record stays with its other holder"
        );
        spare.recycle(other);
        assert_eq!(spare.len(), 1);
        assert_eq!(
            Rc::strong_count(&local),
            1,
            "its locals dropped when stashed"
        );
        let site = Location::caller();
        let h = G::new_in(
            &spare,
            8,
            None,
            site,
            2,
            ExecKind::Steal(0),
            &mut boxed(Box::new(|| {})),
            4096,
            false,
        );
        assert_eq!(Arc::as_ptr(&h), addr, "the stashed record is reused");
        assert_eq!(spare.len(), 0);
        assert_eq!((h.id, h.parent, h.name()), (8, 2, None));
        assert!(std::ptr::eq(h.spawn_site, site) && std::ptr::eq(h.site(), site));
        assert_eq!(
            (h.status(), h.wait_reason()),
            (Status::Runnable, WaitReason::None)
        );
        assert_eq!(h.home.load(Ordering::Relaxed), NO_HOME);
        let fresh = h.local(1, || Rc::new(0u32));
        assert_eq!(
            *fresh.downcast_ref::<u32>().unwrap(),
            0,
            "a local of the old goroutine"
        );
        // A full stash hands the rest to the thread's free list.
        let gs: Vec<GRef> = (0..SPARE_MAX + 1)
            .map(|_| {
                let g = first(&mut boxed(Box::new(|| {})));
                g.set_status(Status::Dead);
                g
            })
            .collect();
        for g in gs {
            spare.recycle(g);
        }
        assert_eq!(spare.len(), SPARE_MAX);
        h.set_status(Status::Dead);
        drop(h);
    }

    #[test]
    fn records_are_recycled_only_when_dead_and_unshared() {
        let g = record(&mut boxed(Box::new(|| {})));
        let addr = Arc::as_ptr(&g);
        // Alive: not recycled (dropped normally).
        let other = g.clone();
        recycle(g);
        assert_eq!(Arc::strong_count(&other), 1);
        other.set_status(Status::Dead);
        recycle(other);
        // The next record reuses it, with fresh identity.
        let h = record(&mut boxed(Box::new(|| {})));
        assert_eq!(Arc::as_ptr(&h), addr);
        assert_eq!(h.status(), Status::Runnable);
        assert_eq!(h.wait_reason(), WaitReason::None);
        assert!(matches!(
            *h.join.lock().unwrap(),
            JoinState::Running { handle: true, .. }
        ));
        h.set_status(Status::Dead);
        recycle(h);
    }
}
