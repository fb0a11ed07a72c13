//! Events: what a goroutine is about to do at a scheduling point.
//!
//! Every visible operation (channel op, lock, atomic, spawn, `RaceCell` access, timer) passes
//! through `sched_point(Event)` first. Events flow one way: executor → strategy, recorder,
//! race detector and trace.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;

/// Identity of a synchronisation object or cell, unique within one executor run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjId(pub u64);

impl fmt::Display for ObjId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The kind of operation at a scheduling point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `go`: spawning a goroutine.
    Spawn,
    /// Waiting for a goroutine to finish.
    Join,
    /// `gosched`.
    Yield,
    /// Channel send.
    ChanSend,
    /// Channel receive.
    ChanRecv,
    /// Channel close.
    ChanClose,
    /// `select!`.
    Select,
    /// Mutex or RwLock write lock.
    Lock,
    /// Mutex or RwLock write unlock.
    Unlock,
    /// RwLock read lock.
    RLock,
    /// RwLock read unlock.
    RUnlock,
    /// WaitGroup add/done.
    WaitGroupAdd,
    /// WaitGroup wait.
    WaitGroupWait,
    /// Once.
    Once,
    /// Cond wait/signal/broadcast.
    Cond,
    /// Semaphore acquire/release.
    Semaphore,
    /// An atomic load.
    AtomicLoad,
    /// An atomic store.
    AtomicStore,
    /// An atomic read-modify-write.
    AtomicRmw,
    /// A plain read of a `RaceCell`.
    Read,
    /// A plain write of a `RaceCell`.
    Write,
    /// Sleeping or arming a timer.
    Timer,
    /// Context cancellation or observation.
    Context,
    /// A random choice.
    Rand,
    /// Anything else.
    Other,
    /// Virtual time passed and a timer fired: a trace entry of the controlled executor's
    /// pseudo-goroutine 0, at the place the timer was armed (never a scheduling point).
    TimerFire,
}

impl Op {
    /// A short human name, used in traces.
    pub fn name(self) -> &'static str {
        match self {
            Op::Spawn => "go",
            Op::Join => "join",
            Op::Yield => "gosched",
            Op::ChanSend => "chan send",
            Op::ChanRecv => "chan recv",
            Op::ChanClose => "chan close",
            Op::Select => "select",
            Op::Lock => "lock",
            Op::Unlock => "unlock",
            Op::RLock => "rlock",
            Op::RUnlock => "runlock",
            Op::WaitGroupAdd => "wg add",
            Op::WaitGroupWait => "wg wait",
            Op::Once => "once",
            Op::Cond => "cond",
            Op::Semaphore => "semaphore",
            Op::AtomicLoad => "atomic load",
            Op::AtomicStore => "atomic store",
            Op::AtomicRmw => "atomic rmw",
            Op::Read => "read",
            Op::Write => "write",
            Op::Timer => "timer",
            Op::Context => "context",
            Op::Rand => "rand",
            Op::Other => "op",
            Op::TimerFire => "timer fires",
        }
    }
}

/// One operation at a scheduling point.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// What is about to happen.
    pub op: Op,
    /// The object it touches (`ObjId(0)` when none).
    pub obj: ObjId,
    /// Where in user code it happens.
    pub site: &'static Location<'static>,
    /// The memory ordering of an atomic operation (`None` for everything else). For a
    /// compare-exchange it is the success ordering.
    pub ordering: Option<Ordering>,
}

impl Event {
    /// An event for `op` on `obj` at `site`.
    pub fn new(op: Op, obj: ObjId, site: &'static Location<'static>) -> Event {
        Event {
            op,
            obj,
            site,
            ordering: None,
        }
    }

    /// An event for the atomic operation `op` on `obj` with `ordering`, at `site`.
    pub fn atomic(
        op: Op,
        obj: ObjId,
        ordering: Ordering,
        site: &'static Location<'static>,
    ) -> Event {
        Event {
            op,
            obj,
            site,
            ordering: Some(ordering),
        }
    }
}
