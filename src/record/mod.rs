//! Recording on the work-stealing runtime, and turning a failed recorded run into a replay
//! token for the checker.
//!
//! A test that fails once in 500 runs on the real runtime is a schedule the controlled executor
//! can follow: the same primitives run on both executors, so the order in which the real run
//! passed through them can be replayed.
//!
//! - **Recording** ([`Builder::record`](crate::Builder::record), `GOWEAVE_RECORD=1`):
//!   every visible operation of a goweave primitive (the places that are scheduling points
//!   under the checker) is logged by the goroutine that performs it, in its own bounded log
//!   (no lock; `GOWEAVE_RECORD_LIMIT` entries, default [`DEFAULT_LIMIT`]), with the object,
//!   the object's own sequence number for it where the object keeps one (locks, wait groups,
//!   atomics, channels...), and a machine-wide stamp. Data choices (`select!` among ready
//!   cases, `rand`) and timer firings are logged too.
//! - **Linearising** (`linearize.rs`): the logs merge into one order consistent with every
//!   goroutine's order, every object's order and every spawn; stamps decide the rest.
//! - **Following** (`follow.rs`): the checker runs the program under a strategy that, at each
//!   decision, runs the goroutine whose operation is next in that order (and lets time pass
//!   where a timer fired). Identities are matched, not assumed: goroutine `k` spawned by a
//!   goroutine is the one its recorded `go` created, and an object is the one the same
//!   goroutine touched at the same point of its own order; so identities come from the spawn
//!   tree and program order, never from addresses or counters. An operation that differs from
//!   the log (the program depends on something goweave does not see) ends the replay as
//!   [`Nondeterminism`](crate::FailureKind::Nondeterminism), with the step.
//! - The followed run's own schedule is then an ordinary failure: shrunk, reported, with a
//!   `gw1:` token ([`run`], [`stress`]).
//!
//! Cost when off: one relaxed load of a process-wide counter and a predictable branch at each
//! operation.

mod buf;
mod clock;
mod follow;
mod linearize;
mod session;
mod stress;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub(crate) use buf::Buf;
pub(crate) use session::Session;
pub use session::DEFAULT_LIMIT;
pub(crate) use stress::run_named;
pub use stress::{run, stress, StressStats};

use crate::runtime::context::{self, Exec};
use crate::verdict::{ObjId, Op};

/// Recording sessions alive in this process: the hooks do nothing while it is 0.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// "No sequence number": the object keeps no counter of its own.
pub(crate) const NO_SEQ: u64 = SEQ_MASK;

/// The bits of [`Entry::tag`] that hold the sequence number (the top byte holds the kind).
const SEQ_MASK: u64 = (1 << 56) - 1;

/// Every [`Op`], at its own discriminant (so that a kind fits a byte of the tag).
const OPS: [Op; 28] = [
    Op::Spawn,
    Op::Join,
    Op::Yield,
    Op::ChanSend,
    Op::ChanRecv,
    Op::ChanClose,
    Op::Select,
    Op::Lock,
    Op::Unlock,
    Op::RLock,
    Op::RUnlock,
    Op::TryLock,
    Op::TryRLock,
    Op::WaitGroupAdd,
    Op::WaitGroupWait,
    Op::Once,
    Op::Cond,
    Op::Semaphore,
    Op::AtomicLoad,
    Op::AtomicStore,
    Op::AtomicRmw,
    Op::Read,
    Op::Write,
    Op::Timer,
    Op::Context,
    Op::Rand,
    Op::Other,
    Op::TimerFire,
];

/// The tag byte of [`Kind::Value`] and [`Kind::Fire`].
const VALUE: u8 = 254;
const FIRE: u8 = 255;

/// What an entry of a log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A visible operation (a scheduling point under the checker).
    Op(Op),
    /// A data choice (`select!` among ready cases, `rand`); `obj` holds the value.
    Value,
    /// A timer fired (first entry of a firing's group).
    Fire,
}

/// One logged operation, in 24 bytes (the log's memory traffic is most of recording's cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The object's id in this run (for `go` and `join`: the goroutine's), or the value.
    pub(crate) obj: u64,
    /// When, machine-wide (`clock.rs`).
    pub(crate) stamp: u64,
    /// The kind in the top byte, the object's own sequence number for this operation (or
    /// [`NO_SEQ`]) below it.
    tag: u64,
}

impl Entry {
    pub(crate) fn new(kind: Kind, obj: u64, seq: u64, stamp: u64) -> Entry {
        let k = match kind {
            Kind::Op(op) => op as u8,
            Kind::Value => VALUE,
            Kind::Fire => FIRE,
        };
        Entry {
            obj,
            stamp,
            tag: (k as u64) << 56 | seq.min(SEQ_MASK),
        }
    }

    /// What it records.
    pub(crate) fn kind(&self) -> Kind {
        match (self.tag >> 56) as u8 {
            VALUE => Kind::Value,
            FIRE => Kind::Fire,
            // `OPS` lists every `Op` (a unit test's exhaustive match keeps it so).
            k => Kind::Op(OPS.get(k as usize).copied().unwrap_or(Op::Other)),
        }
    }

    /// The object's own sequence number for it, or [`NO_SEQ`].
    pub(crate) fn seq(&self) -> u64 {
        self.tag & SEQ_MASK
    }
}

/// One goroutine's log.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stream {
    pub(crate) entries: Vec<Entry>,
}

/// The logs of one recorded run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recording {
    /// Per goroutine, by its id in the run (main is 1).
    pub(crate) streams: BTreeMap<u64, Stream>,
    /// One group per timer firing, in stamp order: the `Fire` entry, then what its callback
    /// did.
    pub(crate) fires: Vec<Vec<Entry>>,
    /// Set if a goroutine outgrew its log: the message to show.
    pub(crate) overflow: Option<String>,
}

impl Recording {
    /// Operations logged, all goroutines and firings together.
    pub(crate) fn len(&self) -> usize {
        self.streams
            .values()
            .map(|s| s.entries.len())
            .sum::<usize>()
            + self.fires.iter().map(Vec::len).sum::<usize>()
    }
}

/// True while some runtime records: the hooks' only cost when recording is off.
#[inline(always)]
pub(crate) fn on() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

thread_local! {
    /// The group of the timer callback running on this thread, if it is being recorded.
    static FIRING: RefCell<Option<Vec<Entry>>> = const { RefCell::new(None) };
}

/// Log `op` on `obj` by whoever runs on this thread; `seq` is the object's counter, if it
/// keeps one. Call only when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn point(op: Op, obj: ObjId, seq: Option<&AtomicU64>) {
    // The entry is made only for a goroutine (or timer callback) that records: other runtimes
    // running meanwhile pay for nothing but this lookup.
    push(|| {
        let seq = seq.map_or(NO_SEQ, |s| s.fetch_add(1, Ordering::Relaxed));
        Entry::new(Kind::Op(op), obj.0, seq, clock::stamp())
    });
}

/// Log a data choice `v` of the running goroutine. Call only when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn value(v: u64) {
    push(|| Entry::new(Kind::Value, v, NO_SEQ, clock::stamp()));
}

/// Log the entry `e` makes, if whoever runs on this thread records.
#[inline(always)]
fn push(e: impl FnOnce() -> Entry) {
    context::with_current(|g| match g {
        Some(g) => {
            // What a goroutine does while the runtime tears it down (the destructors run by
            // its forced unwind) happened after the run ended: the checker never sees it.
            if let Some(b) = g
                .rec
                .as_ref()
                .filter(|_| !g.torn_down.load(Ordering::Relaxed))
            {
                b.push(e())
            }
        }
        None => FIRING.with(|f| {
            if let Some(group) = f.borrow_mut().as_mut() {
                group.push(e())
            }
        }),
    })
}

/// Run the timer callback `f` on a worker of a work-stealing runtime, logging the firing and
/// what the callback does if that runtime records.
#[inline]
pub(crate) fn fire_timer(f: impl FnOnce()) {
    if !on() {
        return f();
    }
    fire_recorded(f)
}

#[cold]
fn fire_recorded(f: impl FnOnce()) {
    let session = match context::exec_ref() {
        Exec::Steal(w) => w.shared().record_session().cloned(),
        _ => None,
    };
    let Some(session) = session else { return f() };
    /// Puts the previous group back and hands this one to the session, also on a panic.
    struct Group(Option<Vec<Entry>>, std::sync::Arc<Session>);
    impl Drop for Group {
        fn drop(&mut self) {
            let prev = self.0.take();
            if let Some(group) = FIRING.with(|c| c.replace(prev)) {
                self.1.fired(group);
            }
        }
    }
    let fire = Entry::new(Kind::Fire, 0, NO_SEQ, clock::stamp());
    let prev = FIRING.with(|c| c.replace(Some(vec![fire])));
    let _group = Group(prev, session);
    f();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `Op`: a new one fails to compile here until `OPS` lists it.
    fn listed(op: Op) -> bool {
        match op {
            Op::Spawn
            | Op::Join
            | Op::Yield
            | Op::ChanSend
            | Op::ChanRecv
            | Op::ChanClose
            | Op::Select
            | Op::Lock
            | Op::Unlock
            | Op::RLock
            | Op::RUnlock
            | Op::TryLock
            | Op::TryRLock
            | Op::WaitGroupAdd
            | Op::WaitGroupWait
            | Op::Once
            | Op::Cond
            | Op::Semaphore
            | Op::AtomicLoad
            | Op::AtomicStore
            | Op::AtomicRmw
            | Op::Read
            | Op::Write
            | Op::Timer
            | Op::Context
            | Op::Rand
            | Op::Other
            | Op::TimerFire => OPS.contains(&op),
        }
    }

    #[test]
    fn an_entry_keeps_its_kind_and_sequence_number() {
        for (i, &op) in OPS.iter().enumerate() {
            assert!(listed(op));
            assert_eq!(op as usize, i, "OPS is in discriminant order");
            let e = Entry::new(Kind::Op(op), 7, 12345, 9);
            assert_eq!(
                (e.kind(), e.seq(), e.obj, e.stamp),
                (Kind::Op(op), 12345, 7, 9)
            );
        }
        assert_eq!(Entry::new(Kind::Value, 3, NO_SEQ, 1).kind(), Kind::Value);
        assert_eq!(Entry::new(Kind::Fire, 0, NO_SEQ, 1).seq(), NO_SEQ);
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }
}
