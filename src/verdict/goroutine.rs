//! A goroutine as reports see it: its status, why it waits, and a snapshot of it (Go's
//! goroutine dump), as plain data. The text is written by `report`.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use super::stacks::Stacks;

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
    /// A task (or `task::block_on`) awaiting a future that is not a goweave primitive, or that
    /// did not say what it waits for.
    Await,
    /// A task whose future returned `Pending` with no waker left alive anywhere: nothing can
    /// ever wake it.
    AwaitNoWaker,
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
            WaitReason::Await => "await",
            WaitReason::AwaitNoWaker => "await (no waker registered)",
            WaitReason::Other => "waiting",
        }
    }

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        const ALL: [WaitReason; 19] = [
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
            WaitReason::Await,
            WaitReason::AwaitNoWaker,
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
    pub(crate) fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Runnable,
            1 => Status::Running,
            2 => Status::Waiting,
            _ => Status::Dead,
        }
    }
}

/// One goroutine as it was when a report was made.
#[derive(Clone, Debug)]
pub struct GoroutineDump {
    /// Its id.
    pub id: u64,
    /// Its name, if any.
    pub name: Option<String>,
    /// A task (`goweave::task::spawn`) rather than a goroutine: reports say `task 7`.
    pub task: bool,
    /// Its status.
    pub status: Status,
    /// Why it is blocked (when waiting).
    pub wait_reason: WaitReason,
    /// Where it blocked, or last passed a scheduling point.
    pub site: &'static Location<'static>,
    /// Where it was spawned.
    pub spawn_site: &'static Location<'static>,
    /// The function it runs: its closure's type path (`my_crate::worker`, or
    /// `my_crate::serve::{{closure}}` for a closure); empty for main and for goroutines the
    /// runtime starts.
    pub function: &'static str,
    /// The goroutine that spawned it (0 for main).
    pub parent: u64,
    /// What the blocking primitive adds about the wait (e.g. who holds the mutex).
    pub detail: Option<String>,
    /// With `GOWEAVE_BACKTRACE=1`, on the checker's replay of a failure: where it blocked (or
    /// runs) and where it was created, as full backtraces (see [`GoroutineDump::backtrace`]).
    pub(crate) stacks: Option<Arc<Stacks>>,
}

impl GoroutineDump {
    /// The bracketed state Go prints: `chan receive`, `runnable`, `running`.
    pub fn state(&self) -> &'static str {
        match self.status {
            Status::Waiting => self.wait_reason.as_str(),
            Status::Runnable => "runnable",
            Status::Running => "running",
            Status::Dead => "dead",
        }
    }
}
