//! Recording on the work-stealing runtime, and turning a failed recorded run into a replay
//! token for the checker.
//!
//! A test that fails once in 500 runs on the real runtime is a schedule the controlled executor
//! can follow: the same primitives run on both executors, so the order in which the real run
//! passed through them can be replayed.
//!
//! - **Recording** ([`Builder::record`](crate::Builder::record), `GOWEAVE_RECORD=1`):
//!   every visible operation of a goweave primitive (the places that are scheduling points
//!   under the checker) is logged by the goroutine that performs it, in the bounded log of
//!   the worker thread it runs on (no lock; `GOWEAVE_RECORD_LIMIT` entries per thread, default
//!   [`DEFAULT_LIMIT`]), with the object and the object's own sequence number for it (locks,
//!   wait groups, atomics and watched cells number their operations as they announce them,
//!   channels under their own lock, and a `select!` takes a number from each channel it looks
//!   at); what no object orders (a yield, a timer's creation, a firing) carries a
//!   machine-wide stamp instead. Data choices (`select!` among ready cases, `rand`) and timer
//!   firings are logged too.
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
//! operation (and at each turn a steal worker gives a goroutine). Cost when on: a steal worker
//! hands the running goroutine's turn the log's write position (`Cursor`), so an operation
//! is its number and an entry written through one thread-local compare, about 30
//! instructions in all for a channel operation (`benches/record.rs`, callgrind).

mod buf;
mod clock;
mod follow;
mod linearize;
mod session;
mod stress;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub(crate) use buf::Cursor;
pub(crate) use session::Session;
pub use session::DEFAULT_LIMIT;
pub(crate) use stress::run_named;
pub use stress::{run, stress, StressStats};

use crate::runtime::context::{self, Exec};
use crate::verdict::{ObjId, Op};

/// Recording sessions alive in this process: the hooks do nothing while it is 0.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The bits of [`Entry::tag`] that hold the sequence number or the stamp (the top byte holds
/// the kind, the bit below it says which of the two the rest is).
const LOW_MASK: u64 = (1 << 55) - 1;

/// Set in [`Entry::tag`] when the low bits are a stamp, not a sequence number.
const STAMPED: u64 = 1 << 55;

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

/// The tag byte of [`Kind::Switch`], [`Kind::Touch`], [`Kind::Value`] and [`Kind::Fire`].
const SWITCH: u8 = 252;
const TOUCH: u8 = 253;
const VALUE: u8 = 254;
const FIRE: u8 = 255;

/// What an entry of a log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A visible operation (a scheduling point under the checker).
    Op(Op),
    /// The operation before it also took the object's sequence number `seq` (a `select!`
    /// looking at each of its channels under their locks): an order constraint only, which
    /// the checker does not see as an operation of its own.
    Touch,
    /// In a thread's log only (`buf.rs`): the entries that follow are goroutine `obj`'s.
    Switch,
    /// A data choice (`select!` among ready cases, `rand`); `obj` holds the value.
    Value,
    /// A timer fired (first entry of a firing's group).
    Fire,
}

/// One logged operation, in 16 bytes (the log's memory traffic is most of recording's cost).
///
/// An operation on an object that numbers its operations carries that number and no stamp:
/// the object's order is exact, and reading the clock at every channel operation cost more
/// than the rest of the entry (`benches/record.rs`). Only what has no such number (a yield, a
/// timer's creation, a firing, a `select!`'s own entry, a data choice) reads the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The object's id in this run (for `go` and `join`: the goroutine's), or the value.
    pub(crate) obj: u64,
    /// The kind in the top byte; below it the [`STAMPED`] bit, then either the object's own
    /// sequence number for this operation or a machine-wide stamp (`clock.rs`).
    tag: u64,
}

impl Entry {
    #[inline]
    fn make(kind: Kind, obj: u64, low: u64) -> Entry {
        let k = match kind {
            Kind::Op(op) => op as u8,
            Kind::Switch => SWITCH,
            Kind::Touch => TOUCH,
            Kind::Value => VALUE,
            Kind::Fire => FIRE,
        };
        Entry {
            obj,
            tag: (k as u64) << 56 | low,
        }
    }

    /// An entry ordered by `obj`'s own sequence number `seq`.
    #[inline]
    pub(crate) fn with_seq(kind: Kind, obj: u64, seq: u64) -> Entry {
        Entry::make(kind, obj, seq.min(LOW_MASK - 1))
    }

    /// [`Entry::with_seq`] of an operation, for a number that cannot reach the tag's limit
    /// (2^55: a channel's count of its own operations), so without the clamp: three
    /// instructions fewer under a channel's lock.
    #[inline(always)]
    pub(crate) fn numbered(op: Op, obj: ObjId, seq: u64) -> Entry {
        debug_assert!(seq < LOW_MASK);
        Entry {
            obj: obj.0,
            tag: (op as u64) << 56 | seq,
        }
    }

    /// The entries that follow in a thread's log are goroutine `gid`'s.
    #[inline]
    pub(crate) fn switch(gid: u64) -> Entry {
        Entry::make(Kind::Switch, gid, 0)
    }

    /// An entry ordered only by its stamp.
    #[inline]
    pub(crate) fn stamped(kind: Kind, obj: u64, stamp: u64) -> Entry {
        Entry::make(kind, obj, STAMPED | (stamp & LOW_MASK))
    }

    /// What it records.
    pub(crate) fn kind(&self) -> Kind {
        match (self.tag >> 56) as u8 {
            SWITCH => Kind::Switch,
            TOUCH => Kind::Touch,
            VALUE => Kind::Value,
            FIRE => Kind::Fire,
            // `OPS` lists every `Op` (a unit test's exhaustive match keeps it so).
            k => Kind::Op(OPS.get(k as usize).copied().unwrap_or(Op::Other)),
        }
    }

    /// An entry that neither an object's number nor a stamp orders: its place in its
    /// goroutine's order is all that matters (a data choice; a `select!`, ordered by the
    /// [`Kind::Touch`] entries that follow it).
    #[inline]
    pub(crate) fn unordered(kind: Kind, obj: u64) -> Entry {
        Entry::make(kind, obj, LOW_MASK)
    }

    /// The object's own sequence number for it, if it has one.
    pub(crate) fn seq(&self) -> Option<u64> {
        let low = self.tag & LOW_MASK;
        (self.tag & STAMPED == 0 && low != LOW_MASK).then_some(low)
    }

    /// When it happened, machine-wide, if it was stamped.
    pub(crate) fn stamp(&self) -> Option<u64> {
        (self.tag & STAMPED != 0).then_some(self.tag & LOW_MASK)
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
/// keeps one (then the entry carries its number, else a stamp). Call only when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn point(op: Op, obj: ObjId, seq: Option<&AtomicU64>) {
    // The entry is made only for a goroutine (or timer callback) that records: other runtimes
    // running meanwhile pay for nothing but this lookup.
    push(|| match seq {
        Some(s) => Entry::with_seq(Kind::Op(op), obj.0, s.fetch_add(1, Ordering::Relaxed)),
        None => Entry::stamped(Kind::Op(op), obj.0, clock::stamp()),
    });
}

/// Log `op` on `obj`, whose sequence number `seq` the caller took under the object's own
/// lock (no shared counter, no clock: the channels). Call only when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn point_seq(op: Op, obj: ObjId, seq: u64) {
    point_entry(Entry::with_seq(Kind::Op(op), obj.0, seq))
}

/// Log the entry `e`, made by the caller ([`Entry::numbered`], under a channel's lock): the
/// fast path is about 17 instructions. The entry comes in two registers and goes on in the
/// same two to the slow path (a tail call); they are saved around the thread-local access,
/// which a library's code reaches as a call (the linker turns it into a load). Call only when
/// [`on`].
#[cold]
#[inline(never)]
pub(crate) fn point_entry(e: Entry) {
    if buf::put_fast(move || e).is_err() {
        point_entry_slow(e)
    }
}

/// [`point_entry`] when the thread's cursor has no room or is not open.
#[inline(never)]
fn point_entry_slow(e: Entry) {
    push_slow(move || e)
}

/// The operation just logged also took `obj`'s sequence number `seq` (see [`Kind::Touch`]).
/// Call only when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn touch(obj: ObjId, seq: u64) {
    push(|| Entry::with_seq(Kind::Touch, obj.0, seq));
}

/// [`touch`] inlined into its caller: a `select!` touches each of its channels, under their
/// locks, at every round, where a call (and the registers it saves) cost more than the entry.
/// Call only when [`on`].
#[inline(always)]
pub(crate) fn touch_inline(obj: ObjId, seq: u64) {
    push(move || Entry::with_seq(Kind::Touch, obj.0, seq));
}

/// Log a data choice `v` of the running goroutine. Call only when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn value(v: u64) {
    push(|| Entry::unordered(Kind::Value, v));
}

/// Log `op`, which the [`Kind::Touch`] entries logged after it order (a `select!`). Call only
/// when [`on`].
#[cold]
#[inline(never)]
pub(crate) fn point_unordered(op: Op) {
    push(|| Entry::unordered(Kind::Op(op), 0));
}

/// [`point_unordered`] inlined into its caller (`select!`, see [`touch_inline`]). Call only
/// when [`on`].
#[inline(always)]
pub(crate) fn point_unordered_inline(op: Op) {
    push(move || Entry::unordered(Kind::Op(op), 0));
}

/// Log the entry `e` makes, if whoever runs on this thread records: through the thread's
/// open cursor (`buf::Cursor`) in the common case, inlined into the hook.
#[inline(always)]
fn push(e: impl FnOnce() -> Entry) {
    if let Err(e) = buf::put_fast(e) {
        push_slow(e)
    }
}

/// [`push`] when the thread's cursor has no room (a switch entry is due, or the log is full)
/// or is not open (a goroutine resumed other than by a worker's turn, a timer callback, a
/// goroutine that does not record).
#[inline(never)]
fn push_slow(e: impl FnOnce() -> Entry) {
    if buf::cursor_open() {
        return buf::put_cursor_slow(e());
    }
    context::with_current(|g| match g {
        Some(g) => {
            // What a goroutine does while the runtime tears it down (the destructors run by
            // its forced unwind) happened after the run ended: the checker never sees it.
            if let Some(s) = g
                .rec
                .as_ref()
                .filter(|_| !g.torn_down.load(Ordering::Relaxed))
            {
                buf::push(s, g.id, g.spawn_site, e())
            }
        }
        None => push_firing(e),
    })
}

/// Log `e` in the group of the timer callback running on this thread, if it is recorded.
#[cold]
#[inline(never)]
fn push_firing(e: impl FnOnce() -> Entry) {
    FIRING.with(|f| {
        if let Some(group) = f.borrow_mut().as_mut() {
            group.push(e())
        }
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
    let fire = Entry::stamped(Kind::Fire, 0, clock::stamp());
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
    fn an_entry_keeps_its_kind_and_sequence_number_or_stamp() {
        for (i, &op) in OPS.iter().enumerate() {
            assert!(listed(op));
            assert_eq!(op as usize, i, "OPS is in discriminant order");
            let e = Entry::with_seq(Kind::Op(op), 7, 12345);
            assert_eq!(
                (e.kind(), e.seq(), e.stamp(), e.obj),
                (Kind::Op(op), Some(12345), None, 7)
            );
            let e = Entry::stamped(Kind::Op(op), 7, 99);
            assert_eq!(
                (e.kind(), e.seq(), e.stamp(), e.obj),
                (Kind::Op(op), None, Some(99), 7)
            );
        }
        assert_eq!(Entry::stamped(Kind::Value, 3, 1).kind(), Kind::Value);
        assert_eq!(Entry::with_seq(Kind::Touch, 3, 0).kind(), Kind::Touch);
        assert_eq!(
            (Entry::switch(12).kind(), Entry::switch(12).obj),
            (Kind::Switch, 12)
        );
        assert_eq!(Entry::stamped(Kind::Fire, 0, 1).seq(), None);
        let e = Entry::unordered(Kind::Value, 4);
        assert_eq!(
            (e.kind(), e.obj, e.seq(), e.stamp()),
            (Kind::Value, 4, None, None)
        );
        // A stamp wider than the field keeps its low bits and stays a stamp.
        assert_eq!(
            Entry::stamped(Kind::Fire, 0, u64::MAX).stamp(),
            Some(LOW_MASK)
        );
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }
}
