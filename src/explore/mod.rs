//! Exploration strategies: who runs next at every scheduling point of the controlled executor.
//!
//! A [`Strategy`] sees each decision as a [`Decision`]: the runnable goroutines (sorted by id),
//! the one that reached the point, what each of them is about to do ([`Pending`]), and whether
//! virtual time may pass here ([`Decision::time`]). It returns the index of the goroutine to run,
//! or [`Decision::time_index`] to let time pass. It also answers data choices (`select!` cases,
//! `goweave::rand`) through [`ValueDecision`]. The executor consults it only where there is a
//! real choice (two or more options), and records every answer, so a schedule replays exactly.
//!
//! # Time as a choice
//!
//! The controlled executor's clock is virtual. At a decision where a timer is pending, "let
//! time pass to the earliest pending timer" may be one more option, after the goroutines: a
//! timeout may fire while the other side is still working, which is how a `select!` against
//! `time::after` leaks its sender. When every goroutine is blocked, time passes without asking
//! (Go's `testing/synctest` rule). How far time may run ahead of goroutines that could run is
//! the [`TimerMode`]:
//!
//! - [`TimerMode::MaxStall`] (the default, with [`DEFAULT_MAX_STALL`]): time may pass while a
//!   goroutine could run only if no such goroutine has then been waiting to run for longer than
//!   the bound. A goroutine's wait (its *stall*) starts when it becomes runnable (it is
//!   created, woken, or it stops polling) and ends when it blocks; goroutine operations take
//!   no virtual time, so all the virtual time that passes while a goroutine stays runnable is
//!   time it was kept from running. A goroutine that is polling (its latest scheduling point
//!   was a yield, see below) is waiting for something, not working, and is not stalled by
//!   time passing. So a timeout of a second or more never fires ahead of work that does not
//!   itself wait on time, while a short timeout (up to the bound) still races the work it
//!   guards. A failure that needed time to overtake runnable goroutines carries the largest
//!   stall it assumed ([`Stall`](crate::verdict::Stall)), and the report names it.
//! - [`TimerMode::AnyTime`]: the same without a bound (any pending timer may fire at any
//!   decision).
//! - [`TimerMode::WhenBlocked`]: time passes only when every goroutine is blocked, as in
//!   synctest (a goroutine polling for a timer's effect then spins until `max_steps`).
//!
//! Each built-in strategy weighs the option in its own way (see each one's docs); a strategy
//! that never answers [`Decision::time_index`] gets synctest semantics. Every built-in strategy
//! is fair to time: once time has passed ahead of runnable goroutines, it does not do so again
//! for a new deadline before they have run (so a goroutine that polls by sleeping cannot starve
//! the one it waits for).
//!
//! Built in: [`Random`], [`Pct`], [`Pos`], [`Dfs`], [`Dpor`] (what `StrategyKind::Dfs` runs
//! unbounded), [`Replay`], [`RoundRobin`] and the coverage-guided [`Fuzz`]. The checker names
//! them with the [`StrategyKind`] enum; a strategy of your own goes to
//! [`Checker::custom_strategy`](crate::Checker::custom_strategy).
//!
//! Vocabulary (from the literature):
//! - a **preemption** is a decision that switches away from a goroutine that could have
//!   continued (it is runnable and did not yield);
//! - two events **conflict** when they touch the same object and are not both reads.
//!
//! # Yields
//!
//! A goroutine that yields without blocking gives way: `gosched`, a `try_send` or `try_recv`
//! that failed, a `select!` that took its `default`, a compare-exchange that failed, and an
//! atomic load repeated at the same place with nothing in between (a spin). The executor marks
//! its next decision [`Decision::yielded`]; [`Pct`] and [`Pos`] then drop it to the lowest
//! priority until another goroutine has taken a step (then it may rise again, at random), and
//! [`Dfs`], [`Dpor`], [`RoundRobin`] and [`Fuzz`] move on to another goroutine (or let time
//! pass), so a polling loop cannot starve the goroutine it waits for. A program that can never
//! make progress still spins until `max_steps`, and is reported as a livelock that names the
//! goroutines still running.
//!
//! This takes a yield to mean "I am not making progress" (the *good samaritan* assumption of
//! Musuvathi and Qadeer's fair stateless model checking, PLDI 2008). [`Random`] ignores it;
//! [`Pct`] and [`Pos`] only reorder priorities; but [`Dfs`] prunes the schedules where the
//! goroutine runs on at once, which is exact for a retried poll and for a spin, and can hide
//! interleavings of a loop that is not one: a loop whose only operation on goweave objects is a
//! load of the same atomic, say, is taken for a spin.

mod bytes;
mod catalogue;
mod dfs;
mod dpor;
mod fuzz;
mod pct;
mod pos;
mod random;
mod replay;
mod round_robin;
mod shard;

use std::cell::Cell;
use std::time::Duration;

pub use bytes::{Bytes, Tail};
pub use catalogue::StrategyKind;
pub use dfs::Dfs;
pub use dpor::Dpor;
pub use fuzz::Fuzz;
pub use pct::Pct;
pub use pos::Pos;
pub use random::Random;
pub use replay::Replay;
pub use round_robin::RoundRobin;
pub use shard::Shard;

use crate::verdict::probe::Probe;
pub use crate::verdict::TraceEntry;
pub use crate::verdict::{Event, ObjId, Op};
pub use crate::verdict::{TimerMode, DEFAULT_MAX_STALL};

/// A goroutine's id (main is 1).
pub type GoroutineId = u64;

/// What a runnable goroutine will do when it next runs, as far as the executor knows.
#[derive(Clone, Copy, Debug)]
pub struct Pending {
    /// The event it announced at its latest scheduling point (for a goroutine that has not
    /// started: an [`Op::Spawn`] event at its spawn site).
    pub event: Event,
    /// The step at which it was announced: a new value means a new event.
    pub since: u64,
}

/// One scheduling decision, as a strategy sees it.
///
/// The options are the goroutines of `runnable`, by index, and, if [`time`](Decision::time) is
/// set, letting time pass, as index `runnable.len()` ([`time_index`](Decision::time_index)).
/// There are always at least two options; `runnable` may then hold a single goroutine.
#[non_exhaustive]
pub struct Decision<'a> {
    /// The goroutines that may run, sorted by id; at least one, and at least two unless time
    /// may pass.
    pub runnable: &'a [GoroutineId],
    /// If letting time pass is an option here: the virtual time the clock would move to (the
    /// deadline of the earliest pending timer, measured from the start of the run). Every timer
    /// due then fires, in the order they were armed.
    pub time: Option<Duration>,
    /// If letting time pass is an option: the stall it causes, that is how long the goroutine
    /// that has waited longest to run (see "Time as a choice") will then have waited. Zero if
    /// no goroutine that could run is waiting (they all poll).
    pub stall: Duration,
    /// The goroutine that reached the scheduling point, if it can continue (or yielded).
    pub current: Option<GoroutineId>,
    /// Scheduling points so far in this schedule.
    pub step: u64,
    /// True if `current` yielded without blocking, and so would rather not continue: it called
    /// `gosched`, or it is spinning (its previous operation was a `try_send`/`try_recv` that
    /// failed, a `select!` that took `default` or a compare-exchange that failed, or it loads
    /// the same atomic at the same place again).
    pub yielded: bool,
    /// Choices (goroutine and data) made so far in this schedule: the index of this one.
    pub index: u64,
    /// What each goroutine will do next, indexed by goroutine id.
    pending: &'a [Pending],
    /// Beside `pending`: whether that operation would block now, where the primitive says.
    probes: &'a [Option<Probe>],
    /// Goroutines made runnable (spawned or woken) since the previous decision, if the
    /// executor tracks them.
    woken: Option<&'a [GoroutineId]>,
    /// Set by [`Decision::abort`]. Boxed, so that the executor's check after every decision
    /// reads and clears one word, not a whole `String` (3% of a two-goroutine schedule's time:
    /// the extra allocation happens only on an abort, which ends the run).
    #[allow(clippy::box_collection)]
    abort: Cell<Option<Box<String>>>,
}

impl std::fmt::Debug for Decision<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decision")
            .field("runnable", &self.runnable)
            .field("time", &self.time)
            .field("stall", &self.stall)
            .field("current", &self.current)
            .field("step", &self.step)
            .field("yielded", &self.yielded)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<'a> Decision<'a> {
    /// A decision (the executor builds these; public for testing strategies).
    pub fn new(
        runnable: &'a [GoroutineId],
        current: Option<GoroutineId>,
        step: u64,
        yielded: bool,
        index: u64,
        pending: &'a [Pending],
    ) -> Decision<'a> {
        let d = Decision::full(
            runnable,
            current,
            step,
            yielded,
            index,
            pending,
            &[],
            None,
            &[],
        );
        // Told nothing about wake-ups: a strategy finds them out from `runnable`.
        Decision { woken: None, ..d }
    }

    /// A decision with every part at once (the controlled executor's, on the path of every
    /// scheduling point: one value built in place, where the builder moves it four times).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn full(
        runnable: &'a [GoroutineId],
        current: Option<GoroutineId>,
        step: u64,
        yielded: bool,
        index: u64,
        pending: &'a [Pending],
        probes: &'a [Option<Probe>],
        time: Option<(Duration, Duration)>,
        woken: &'a [GoroutineId],
    ) -> Decision<'a> {
        Decision {
            runnable,
            time: time.map(|t| t.0),
            stall: time.map_or(Duration::ZERO, |t| t.1),
            current,
            step,
            yielded,
            index,
            pending,
            probes,
            woken: Some(woken),
            abort: Cell::new(None),
        }
    }

    /// The same decision, with the probes of the goroutines' blocking operations (the
    /// controlled executor's, indexed by goroutine id; see `verdict::probe` for what keeps
    /// them valid while the decision exists).
    pub(crate) fn with_probes(mut self, probes: &'a [Option<Probe>]) -> Decision<'a> {
        self.probes = probes;
        self
    }

    /// Whether `runnable[i]`'s pending operation would block (park it) if it ran now: `Some`
    /// for the operations that can tell (a channel send or receive, a `select!` without
    /// `default`, `WaitGroup::wait`, `Semaphore::acquire`, `Once`), `None` for the others
    /// and for a goroutine that resumes from a park. Exact: it reads the primitive's state.
    /// A strategy that only offers goroutines that would not block treats blocking as
    /// enabledness (as [`Dpor`] does).
    pub fn would_block(&self, i: usize) -> Option<bool> {
        let g = *self.runnable.get(i)? as usize;
        let p = (*self.probes.get(g)?)?;
        // SAFETY: the executor put the probe there for a goroutine suspended at the point that
        // announced it, and drops it when that goroutine goes on; the decision borrows the
        // executor's state, so no goroutine runs while it exists.
        Some(unsafe { p.ask() })
    }

    /// The ids of the channels `runnable[i]`'s pending `select!` names (its enabled cases),
    /// into `out`; nothing for another operation, or where the executor does not say.
    pub(crate) fn objects(&self, i: usize, out: &mut Vec<u64>) {
        let Some(&g) = self.runnable.get(i) else {
            return;
        };
        if let Some(Some(p)) = self.probes.get(g as usize) {
            // SAFETY: as in `would_block`.
            unsafe { p.objects(out) }
        }
    }

    /// The same decision, noting which goroutines became runnable (were spawned or woken)
    /// since the previous decision of this schedule, in the order they did (ids may repeat,
    /// and some may have blocked again since).
    pub fn with_woken(mut self, woken: &'a [GoroutineId]) -> Decision<'a> {
        self.woken = Some(woken);
        self
    }

    /// The goroutines that became runnable since the previous decision, when the executor
    /// says (see [`with_woken`](Decision::with_woken)). A strategy that keeps its own index
    /// of runnable goroutines (PCT's priority order) updates it from these instead of
    /// scanning `runnable`, so that a decision costs the same however many goroutines there
    /// are.
    pub fn woken(&self) -> Option<&[GoroutineId]> {
        self.woken
    }

    /// The same decision with letting time pass (to `deadline`) as one more option.
    pub fn with_time(mut self, deadline: Duration) -> Decision<'a> {
        self.time = Some(deadline);
        self
    }

    /// The same decision, noting the stall letting time pass causes.
    pub fn with_stall(mut self, stall: Duration) -> Decision<'a> {
        self.stall = stall;
        self
    }

    /// The same decision without the option to let time pass (its abort is its own: hand it
    /// on with `take_abort`).
    pub(crate) fn without_time(&self) -> Decision<'a> {
        Decision::new(
            self.runnable,
            self.current,
            self.step,
            self.yielded,
            self.index,
            self.pending,
        )
        .with_probes(self.probes)
    }

    /// The number of options: the runnable goroutines, plus one if time may pass.
    pub fn options(&self) -> usize {
        self.runnable.len() + self.time.is_some() as usize
    }

    /// The answer that lets time pass (`runnable.len()`), if that is an option here.
    pub fn time_index(&self) -> Option<usize> {
        self.time.map(|_| self.runnable.len())
    }

    /// True if option `i` lets time pass.
    pub fn is_time(&self, i: usize) -> bool {
        self.time.is_some() && i == self.runnable.len()
    }

    /// What `runnable[i]` will do when it runs, if known (`None` for the time option).
    pub fn pending(&self, i: usize) -> Option<&Pending> {
        self.pending.get(*self.runnable.get(i)? as usize)
    }

    /// The index of `current` in `runnable` if it can continue without a preemption (it is
    /// runnable and did not yield).
    pub fn can_continue(&self) -> Option<usize> {
        if self.yielded {
            return None;
        }
        self.runnable.binary_search(&self.current?).ok()
    }

    /// True if choosing `runnable[i]` is a preemption. Letting time pass is not one (the
    /// goroutine at the scheduling point may still continue after it).
    pub fn is_preemption(&self, i: usize) -> bool {
        !self.is_time(i) && matches!(self.can_continue(), Some(c) if c != i)
    }

    /// The index of `id` in `runnable`.
    pub fn index_of(&self, id: GoroutineId) -> Option<usize> {
        self.runnable.binary_search(&id).ok()
    }

    /// End this schedule now: the run fails as nondeterministic with `why` (a replay that
    /// diverged from its recording). The index returned alongside is ignored.
    pub fn abort(&self, why: impl Into<String>) {
        self.abort.set(Some(Box::new(why.into())));
    }

    pub(crate) fn take_abort(&self) -> Option<String> {
        self.abort.take().map(|b| *b)
    }
}

/// A data choice (`select!` case or random number), or which of several waiters a release
/// wakes, as a strategy sees it.
///
/// # Waiter choices
///
/// Go promises no order among the goroutines waiting for a mutex, a read-write lock's writer
/// side, a semaphore or a condition variable. On the controlled executor, a release (unlock,
/// semaphore release, `Cond::signal`) that finds two or more waiters asks the strategy which
/// one it wakes: a value decision whose [`waiters`](ValueDecision::waiters) lists the
/// candidates' goroutine ids, oldest waiter first (answer `i` wakes `waiters()[i]`; 0 is the
/// FIFO hand-off the work-stealing executor always does). It is recorded and replayed like any
/// data choice. Priority-based strategies ([`Pct`], [`Pos`]) wake the waiter with the highest
/// priority, the others answer it as any data choice.
#[non_exhaustive]
pub struct ValueDecision {
    /// The number of options; the answer must be in `0..n` (n ≥ 2).
    pub n: u64,
    /// The goroutine asking.
    pub goroutine: GoroutineId,
    /// Scheduling points so far in this schedule.
    pub step: u64,
    /// Choices made so far in this schedule: the index of this one.
    pub index: u64,
    /// For a waiter choice, the candidates (see "Waiter choices"); empty for a data choice.
    waiters: Vec<GoroutineId>,
    /// Set by [`ValueDecision::abort`] (boxed, as in `Decision`).
    #[allow(clippy::box_collection)]
    abort: Cell<Option<Box<String>>>,
}

impl std::fmt::Debug for ValueDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueDecision")
            .field("n", &self.n)
            .field("goroutine", &self.goroutine)
            .field("step", &self.step)
            .field("index", &self.index)
            .field("waiters", &self.waiters)
            .finish_non_exhaustive()
    }
}

impl ValueDecision {
    /// A data decision (the executor builds these; public for testing strategies).
    pub fn new(n: u64, goroutine: GoroutineId, step: u64, index: u64) -> ValueDecision {
        ValueDecision {
            n,
            goroutine,
            step,
            index,
            waiters: Vec::new(),
            abort: Cell::new(None),
        }
    }

    /// A waiter choice: which of `waiters` (two or more goroutine ids, oldest waiter first) a
    /// release by `goroutine` wakes (the executor builds these; public for testing strategies).
    pub fn waiter(
        waiters: Vec<GoroutineId>,
        goroutine: GoroutineId,
        step: u64,
        index: u64,
    ) -> ValueDecision {
        ValueDecision {
            n: waiters.len() as u64,
            goroutine,
            step,
            index,
            waiters,
            abort: Cell::new(None),
        }
    }

    /// The candidates of a waiter choice, oldest waiter first (answer `i` wakes
    /// `waiters()[i]`); empty for a data choice (`select!` case, random value).
    pub fn waiters(&self) -> &[GoroutineId] {
        &self.waiters
    }

    /// The candidates, back (the executor reuses the allocation).
    pub(crate) fn into_waiters(self) -> Vec<GoroutineId> {
        self.waiters
    }

    /// End this schedule now, as in [`Decision::abort`].
    pub fn abort(&self, why: impl Into<String>) {
        self.abort.set(Some(Box::new(why.into())));
    }

    pub(crate) fn take_abort(&self) -> Option<String> {
        self.abort.take().map(|b| *b)
    }
}

/// Chooses interleavings. Implement it to plug a strategy of your own into the checker
/// ([`Checker::custom_strategy`](crate::Checker::custom_strategy)).
///
/// A strategy runs inside the scheduler, between two goroutine steps: it must not use goweave's
/// own primitives (its atomics, locks or channels are scheduling points); use std's.
///
/// ```
/// use goweave::explore::{Decision, Strategy, ValueDecision};
///
/// /// Always runs the goroutine with the highest id.
/// struct Youngest;
///
/// impl Strategy for Youngest {
///     fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
///         d.runnable.len() - 1
///     }
///     fn pick_value(&mut self, _d: &ValueDecision) -> u64 {
///         0
///     }
/// }
///
/// let stats = goweave::Checker::new()
///     .custom_strategy(Youngest)
///     .iterations(3)
///     .run(|| goweave::go(|| ()).join())
///     .unwrap();
/// assert_eq!(stats.schedules, 3);
/// ```
pub trait Strategy: Send {
    /// Prepare the next schedule (`iteration` counts from 0). Return `false` when there is
    /// nothing left to explore (exhaustive strategies).
    fn begin(&mut self, iteration: u64) -> bool {
        let _ = iteration;
        true
    }

    /// The index into `d.runnable` of the goroutine to run next, or
    /// [`d.time_index()`](Decision::time_index) to let time pass first.
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize;

    /// True if every choice of this strategy depends on nothing but the number of options (as
    /// [`Random`]'s uniform picks do): the controlled executor then calls
    /// [`pick_by_count`](Strategy::pick_by_count) instead of building a [`Decision`] or a
    /// [`ValueDecision`] (which costs more than a uniform pick), for the goroutine choices
    /// and for the data choices with two or more values. Asked once per schedule, after
    /// `begin`. Default: false.
    fn picks_by_count(&self) -> bool {
        false
    }

    /// For a strategy that [`picks_by_count`](Strategy::picks_by_count): the index of the
    /// option to take among `options`, the same answer [`pick_goroutine`](Strategy::pick_goroutine)
    /// would give for a decision with that many [`options`](Decision::options) (the runnable
    /// goroutines, then letting time pass if that is offered), or
    /// [`pick_value`](Strategy::pick_value) for a data choice with `n == options`. Only ever
    /// called with two or more options.
    fn pick_by_count(&mut self, options: usize) -> usize {
        panic!(
            "goweave: strategy {} says it picks by count (`Strategy::picks_by_count`) but does not implement `Strategy::pick_by_count` ({options} options)",
            self.describe()
        )
    }

    /// A value in `0..d.n` for a data choice: a `select!` case or a random number.
    fn pick_value(&mut self, d: &ValueDecision) -> u64;

    /// The schedule is over.
    fn end(&mut self) {}

    /// True if this strategy learns from what each schedule did (as [`Fuzz`] does): the checker
    /// then records every schedule's events and hands them to [`observe`](Strategy::observe).
    /// Default: false (recording costs time).
    fn wants_trace(&self) -> bool {
        false
    }

    /// What the schedule just run did; called before [`end`](Strategy::end), and only if
    /// [`wants_trace`](Strategy::wants_trace).
    fn observe(&mut self, run: &Observation<'_>) {
        let _ = run;
    }

    /// A short description for reports, such as `pct(depth=3, seed=0)`.
    fn describe(&self) -> String {
        "custom strategy".into()
    }

    /// True if this strategy follows the schedule step by step (as [`Dpor`] does): the
    /// controlled executor then reports every [`Note`] to [`note`](Strategy::note) while the
    /// schedule runs. Asked once per schedule; default false (no cost).
    fn wants_notes(&self) -> bool {
        false
    }

    /// Something happened in the schedule that a decision alone does not show (only if
    /// [`wants_notes`](Strategy::wants_notes)).
    fn note(&mut self, n: Note) {
        let _ = n;
    }

    /// For an exhaustive search: an estimate of the fraction of it done before the schedule
    /// just begun (0 to 1), for progress lines. Default: `None` (no estimate).
    fn explored(&self) -> Option<f64> {
        None
    }

    /// Asked after [`end`](Strategy::end): true if the schedule just ended explored nothing of
    /// this strategy's own (a [`Dpor`] schedule that became sleep-set blocked, or that a part
    /// of a split search ran only to reach another part's subtree). The checker then neither
    /// counts it in [`Stats::schedules`](crate::Stats::schedules) (it counts it in
    /// [`Stats::wasted`](crate::Stats::wasted)) nor reports a failure it reached: whatever it
    /// ran into is explored elsewhere. Default: false.
    fn wasted(&self) -> bool {
        false
    }

    /// True if a schedule in which a data race is reported runs on to its end (the race is
    /// still the schedule's failure, and the schedule the checker records for it ends where
    /// the race would have ended the run, so it replays to the same race): for an exhaustive
    /// search that must see every step of the schedules it runs ([`Dpor`], whose race
    /// analysis reverses orders that come after the race; [`Dfs`], so that both reach the
    /// same outcomes). Asked once per schedule; default false (a race ends the schedule at
    /// the racing goroutine's next scheduling point).
    fn runs_past_races(&self) -> bool {
        false
    }
}

/// What the controlled executor tells a strategy that asked for it
/// ([`Strategy::wants_notes`]), in the order it happens. Together with the decisions, the
/// notes delimit the schedule's *transitions*: a goroutine's run from one point where the
/// scheduler may switch to the next.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Note {
    /// `parent` created goroutine `child` (it is runnable from now on, before `parent`'s own
    /// `go` event commits).
    Spawned {
        /// The goroutine running `go`.
        parent: GoroutineId,
        /// The new goroutine.
        child: GoroutineId,
    },
    /// The scheduler resumes the goroutine: it starts, comes back from a park, or is resumed
    /// at the scheduling point it was switched out at.
    Run(GoroutineId),
    /// The goroutine goes on to perform `Event` now (the event it announced).
    Commit(GoroutineId, Event),
    /// The running goroutine parked (blocked).
    Park(GoroutineId),
    /// The running goroutine (or, while time passes, the scheduler) woke this parked one.
    Wake(GoroutineId),
    /// The running goroutine finished.
    Exit(GoroutineId),
    /// Virtual time is about to pass: the timers due fire next, on the scheduler's stack.
    Time,
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn begin(&mut self, iteration: u64) -> bool {
        (**self).begin(iteration)
    }
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        (**self).pick_goroutine(d)
    }
    fn picks_by_count(&self) -> bool {
        (**self).picks_by_count()
    }
    fn pick_by_count(&mut self, options: usize) -> usize {
        (**self).pick_by_count(options)
    }
    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        (**self).pick_value(d)
    }
    fn end(&mut self) {
        (**self).end()
    }
    fn wants_trace(&self) -> bool {
        (**self).wants_trace()
    }
    fn observe(&mut self, run: &Observation<'_>) {
        (**self).observe(run)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn wants_notes(&self) -> bool {
        (**self).wants_notes()
    }
    fn note(&mut self, n: Note) {
        (**self).note(n)
    }
    fn explored(&self) -> Option<f64> {
        (**self).explored()
    }
    fn wasted(&self) -> bool {
        (**self).wasted()
    }
    fn runs_past_races(&self) -> bool {
        (**self).runs_past_races()
    }
}

/// What one schedule did, as [`Strategy::observe`] sees it.
#[non_exhaustive]
#[derive(Debug)]
pub struct Observation<'a> {
    /// Every event, in the order the goroutines performed them.
    pub trace: &'a [TraceEntry],
    /// The schedule failed (panic, deadlock, leak, race, livelock).
    pub failed: bool,
}

impl<'a> Observation<'a> {
    /// An observation (the checker builds these; public for testing strategies).
    pub fn new(trace: &'a [TraceEntry], failed: bool) -> Observation<'a> {
        Observation { trace, failed }
    }
}

/// True if two events conflict: same object, and not both reads. Goroutine operations (spawn,
/// join) name goroutines, not objects, and only conflict with each other.
pub fn conflicts(a: &Event, b: &Event) -> bool {
    fn on_goroutine(op: Op) -> bool {
        matches!(op, Op::Spawn | Op::Join)
    }
    fn is_read(op: Op) -> bool {
        matches!(
            op,
            Op::AtomicLoad | Op::Read | Op::RLock | Op::RUnlock | Op::TryRLock
        )
    }
    a.obj != ObjId(0)
        && a.obj == b.obj
        && on_goroutine(a.op) == on_goroutine(b.op)
        && !(is_read(a.op) && is_read(b.op))
}

/// The option to take when nothing else guides the choice: `current` if it can continue,
/// otherwise the next goroutine after the one that yielded (wrapping), or the lowest id. Time
/// passes only for a goroutine that yielded with nobody else to run (so that a polling loop
/// waiting for a timer gets there); otherwise it passes when everything is blocked.
pub(crate) fn default_pick(d: &Decision<'_>) -> usize {
    if let Some(i) = d.can_continue() {
        return i;
    }
    if d.yielded {
        if let Some(c) = d.current {
            if let (Some(t), [only]) = (d.time_index(), d.runnable) {
                if *only == c {
                    return t;
                }
            }
            // The next goroutine after the one that yielded, wrapping.
            return d.runnable.partition_point(|&id| id <= c) % d.runnable.len();
        }
    }
    0
}
