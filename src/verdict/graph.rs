//! The happens-before graph of one traced run, as data: hand-offs between goroutines and the
//! intervals they spent blocked (recorded by `runtime::hbgraph`, drawn by `report::html`).

use super::WaitReason;

/// What an edge stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EdgeKind {
    /// `go`: the parent's spawn before the child's first step.
    Spawn,
    /// A goroutine's end before the `join` that waited for it.
    Join,
    /// A release before an acquire on a primitive (a channel hand-off, an unlock before a lock,
    /// a `WaitGroup::done` before `wait` returns, ...). The trace's events at both ends say
    /// which primitive.
    Sync,
}

/// One happens-before edge between two goroutines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    /// What it stands for.
    pub(crate) kind: EdgeKind,
    /// The releasing goroutine and the position of its release.
    pub(crate) from: (u64, u64),
    /// The acquiring goroutine and the position of its acquire (for a goroutine acting on
    /// behalf of a parked one, the waker's position: the parked one goes on after it).
    pub(crate) to: (u64, u64),
}

/// A goroutine parked from position `from` to position `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// The goroutine.
    pub(crate) goroutine: u64,
    /// Why it parked.
    pub(crate) reason: WaitReason,
    /// The position when it parked: its blocking operation.
    pub(crate) from: u64,
    /// The position when it was woken; `None` if it never was.
    pub(crate) to: Option<u64>,
}

/// What one traced run recorded.
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncLog {
    /// Happens-before edges, in the order they were made.
    pub(crate) edges: Vec<Edge>,
    /// Blocked intervals, in the order they began.
    pub(crate) blocks: Vec<Block>,
    /// True if a limit cut the record short.
    pub(crate) truncated: bool,
}
