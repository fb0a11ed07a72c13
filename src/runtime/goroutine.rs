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
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use super::coroutine::GoCoroutine;
use super::dump::WaitDetail;
use super::executor::ExecKind;

/// A shared reference to a goroutine record.
pub(crate) type GRef = Arc<G>;

/// Why a goroutine is parked. The names (and their `Display`) are Go's, so that reports read
/// like a Go goroutine dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not waiting.
    None = 0,
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanReceive,
    /// Sending on a nil (disabled) channel: blocks forever.
    ChanSendNil,
    /// Receiving from a nil (disabled) channel: blocks forever.
    ChanReceiveNil,
    /// Blocked in `select!`.
    Select,
    /// `select!` with no enabled case and no default: blocks forever.
    SelectNoCases,
    /// Waiting for a `sync::Mutex`.
    MutexLock,
    /// Waiting for a read lock of a `sync::RwLock`.
    RwLockRead,
    /// Waiting for the write lock of a `sync::RwLock`.
    RwLockWrite,
    /// Waiting in `sync::WaitGroup::wait`.
    WaitGroupWait,
    /// Waiting in `sync::Cond::wait`.
    CondWait,
    /// Waiting for `sync::Once` to finish in another goroutine.
    OnceWait,
    /// Waiting to acquire a `sync::Semaphore`.
    SemaphoreAcquire,
    /// Sleeping on a timer.
    Sleep,
    /// Waiting in `JoinHandle::join`.
    Join,
    /// Parked by something else (runtime internals).
    Other,
}

impl WaitReason {
    /// Go's spelling of the wait reason, as printed in `goroutine 7 [chan receive]:`.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "running",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSendNil => "chan send (nil chan)",
            WaitReason::ChanReceiveNil => "chan receive (nil chan)",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwLockRead => "sync.RWMutex.RLock",
            WaitReason::RwLockWrite => "sync.RWMutex.Lock",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::OnceWait => "sync.Once.Do",
            WaitReason::SemaphoreAcquire => "semacquire",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::Other => "waiting",
        }
    }

    fn from_u8(v: u8) -> WaitReason {
        const ALL: [WaitReason; 17] = [
            WaitReason::None,
            WaitReason::ChanSend,
            WaitReason::ChanReceive,
            WaitReason::ChanSendNil,
            WaitReason::ChanReceiveNil,
            WaitReason::Select,
            WaitReason::SelectNoCases,
            WaitReason::MutexLock,
            WaitReason::RwLockRead,
            WaitReason::RwLockWrite,
            WaitReason::WaitGroupWait,
            WaitReason::CondWait,
            WaitReason::OnceWait,
            WaitReason::SemaphoreAcquire,
            WaitReason::Sleep,
            WaitReason::Join,
            WaitReason::Other,
        ];
        ALL.get(v as usize).copied().unwrap_or(WaitReason::Other)
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A goroutine's life-cycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// In a run queue, or created and not started yet.
    Runnable = 0,
    /// On a CPU right now.
    Running = 1,
    /// Parked; see the wait reason.
    Waiting = 2,
    /// Finished (returned, panicked or was torn down).
    Dead = 3,
}

impl Status {
    fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Runnable,
            1 => Status::Running,
            2 => Status::Waiting,
            _ => Status::Dead,
        }
    }
}

/// What a goroutine will run, or is running.
pub(crate) enum Body {
    /// Created, never run. The stack is only taken from the pool when the goroutine first runs:
    /// goroutines that run to completion one after another then share a few warm stacks,
    /// instead of each faulting in a page of its own (that was 4x the cost of spawn+join).
    Unstarted(Box<dyn FnOnce() + Send>),
    /// Started: the coroutine, only ever touched on its home thread.
    Started(GoCoroutine),
    /// Finished or torn down.
    Gone,
}

/// One goroutine.
pub(crate) struct G {
    /// Sequential id within its executor; main is 1.
    pub(crate) id: u64,
    /// Optional name given at spawn.
    pub(crate) name: Option<Box<str>>,
    /// Where `go` was called.
    pub(crate) spawn_site: &'static Location<'static>,
    /// Id of the goroutine that spawned this one (0 for main).
    pub(crate) parent: u64,
    /// Usable bytes of the stack it will run on.
    pub(crate) stack_size: usize,
    /// Which executor owns the goroutine.
    pub(crate) exec: ExecKind,
    /// A `Status` as u8.
    status: AtomicU8,
    /// A `WaitReason` as u8; meaningful while `Waiting`.
    wait_reason: AtomicU8,
    /// Where the goroutine blocked, or last yielded (never null once it has run).
    wait_site: AtomicPtr<Location<'static>>,
    /// Worker index the goroutine is bound to once started (usize::MAX before).
    pub(crate) home: AtomicUsize,
    /// The goroutine's slot in its home worker's table of started goroutines.
    pub(crate) slot: AtomicUsize,
    /// Set while the executor force-unwinds the goroutine (main returned or the run failed).
    pub(crate) torn_down: AtomicBool,
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
}

// SAFETY: `body`, `locals` and `detail` are only accessed by the single thread that currently owns the
// goroutine (see the module invariants); every other field is atomic or immutable.
unsafe impl Sync for G {}
// SAFETY: as above; the `!Send` coroutine inside `body` is never touched from another thread
// (a goroutine never migrates after it started), and `locals` is only touched by the goroutine.
unsafe impl Send for G {}

impl G {
    pub(crate) fn new(
        id: u64,
        name: Option<Box<str>>,
        spawn_site: &'static Location<'static>,
        parent: u64,
        exec: ExecKind,
        body: Box<dyn FnOnce() + Send>,
        stack_size: usize,
    ) -> GRef {
        Arc::new(G {
            stack_size,
            id,
            name,
            spawn_site,
            parent,
            exec,
            status: AtomicU8::new(Status::Runnable as u8),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            wait_site: AtomicPtr::new(spawn_site as *const _ as *mut _),
            home: AtomicUsize::new(usize::MAX),
            slot: AtomicUsize::new(0),
            torn_down: AtomicBool::new(false),
            body: UnsafeCell::new(Body::Unstarted(body)),
            locals: RefCell::new(Vec::new()),
            yielder: AtomicPtr::new(std::ptr::null_mut()),
            detail: Cell::new(None),
        })
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

    /// `goroutine 7` or `goroutine 7 "name"`.
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("goroutine {} \"{}\"", self.id, n),
            None => format!("goroutine {}", self.id),
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
