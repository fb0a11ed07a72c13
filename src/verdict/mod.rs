//! The verdict layer: what the executors and detectors found, as plain data.
//!
//! Everything here is vocabulary shared by the two executors, the detectors, the reports and
//! the checker, and depends on none of them: data flows one way,
//! `runtime -> verdict <- report <- check`. The executors produce a [`Verdict`] (with
//! [`GoroutineDump`]s, a [`PanicReport`], a [`RaceReport`]) and the events of a run
//! ([`TraceEntry`]); `report` turns them into Go-shaped text; `check` adds the schedule and
//! the replay line.

pub mod event;
mod goroutine;
pub(crate) mod graph;
mod kind;
mod panic;
pub(crate) mod probe;
mod race;
mod stacks;
mod stall;
mod time;
mod trace;

pub use event::{Event, ObjId, Op};
pub use goroutine::{GoroutineDump, Status, WaitReason};
pub use kind::FailureKind;
pub use panic::PanicReport;
pub use race::RaceReport;
pub(crate) use stacks::Stacks;
pub use stall::Stall;
pub use time::{TimerMode, DEFAULT_MAX_STALL};
pub use trace::TraceEntry;

/// Why a run failed, as the executor (or a detector) saw it.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// A goroutine panicked and nothing recovered it.
    Panic(PanicReport),
    /// Nothing can run, no timer is pending, and main has not returned.
    Deadlock(Vec<GoroutineDump>),
    /// The step bound was exceeded; the goroutines still runnable are listed.
    Livelock {
        /// The bound that was exceeded.
        max_steps: u64,
        /// Every goroutine at the time, runnable ones first.
        goroutines: Vec<GoroutineDump>,
    },
    /// Goroutines were still alive after main returned and the system quiesced.
    Leak(Vec<GoroutineDump>),
    /// Two accesses to a watched cell were not ordered by happens-before.
    Race(RaceReport),
    /// The strategy ended the run: a replayed schedule diverged from the program.
    Nondeterminism {
        /// Scheduling points passed when it happened.
        step: u64,
        /// The strategy's explanation.
        reason: String,
    },
}

impl Verdict {
    /// The kind of failure this verdict is.
    pub fn kind(&self) -> FailureKind {
        match self {
            Verdict::Panic(_) => FailureKind::Panic,
            Verdict::Deadlock(_) => FailureKind::Deadlock,
            Verdict::Livelock { .. } => FailureKind::Livelock,
            Verdict::Leak(_) => FailureKind::Leak,
            Verdict::Race(_) => FailureKind::Race,
            Verdict::Nondeterminism { .. } => FailureKind::Nondeterminism,
        }
    }

    /// The goroutines the verdict lists (deadlock, leak, livelock), if any.
    pub fn goroutines(&self) -> &[GoroutineDump] {
        match self {
            Verdict::Deadlock(d) | Verdict::Leak(d) => d,
            Verdict::Livelock { goroutines, .. } => goroutines,
            _ => &[],
        }
    }
}
