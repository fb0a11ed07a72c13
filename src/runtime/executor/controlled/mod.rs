//! The controlled executor: every goroutine on one OS thread, and a [`Strategy`] choosing who
//! runs at every scheduling point.
//!
//! Invariants:
//! - `runnable` holds exactly the goroutines whose status is Runnable or Running, sorted by id,
//!   and `ids[i] == runnable[i].id` always. A goroutine leaves them *before* its unlock step
//!   runs, so a wake-up inside the unlock step re-inserts it correctly.
//! - The strategy is consulted only when there are two or more options, and every answer is
//!   recorded in `schedule`; replaying the answers reproduces the run exactly, because nothing
//!   else here is nondeterministic (ids are sequential, maps are ordered, time is virtual).
//! - A strategy that calls `Decision::abort` ends the run with `Verdict::Nondeterminism`; its
//!   answer is then neither used nor recorded.
//! - An event is *announced* at its scheduling point (`steps` counts these, for the livelock
//!   bound) and *committed* when its goroutine actually goes on to perform it: at once if the
//!   strategy keeps it running, or when it is resumed after a switch. The trace and the
//!   fingerprint see committed events, so the trace is the order in which things happened.
//! - `pending[g]` is the latest event goroutine `g` announced (its spawn site before it ran):
//!   what it will do when it next runs. Only a `Decision` shows it (and `probes`), so with a
//!   strategy that picks by count (`by_count`) neither is kept up to date.
//! - A preemption is counted when the strategy switches away from a goroutine that reached a
//!   scheduling point and could continue (it did not block, finish or yield).
//! - A `RefCell` borrow of `State` is never held across a goroutine switch or an unlock step.
//!
//! Time (see `explore`'s "Time as a choice"):
//! - Virtual time `now` never goes backwards: it only ever moves to the earliest pending
//!   deadline, and only when it is later. Timers due at the same time fire in the order they
//!   were armed (`TimerHeap` orders by deadline, then sequence).
//! - With `TimerMode::AnyTime`, every decision where a timer is pending within reach (before
//!   the quiesce window ends, once main has returned) offers "let time pass" after the
//!   goroutines; the answer is recorded as `Choice::Time`. `TimerMode::MaxStall(b)` offers it
//!   only where no goroutine would then have waited to run longer than `b` (`stall.rs` keeps
//!   the waits). With nothing runnable, time passes without a decision, in every mode.
//! - Timer callbacks run only on the scheduler's stack (in `advance_time`), never on a
//!   goroutine's: a goroutine that lets time pass at its scheduling point switches to the
//!   scheduler first (`pass_time`), and stays the goroutine at that point (`interrupted`) for
//!   the decision that follows, so choosing another goroutine then is a preemption.
//! - Every move of the clock counts as a step, so a strategy (or a ticker nobody reads) cannot
//!   move it forever without reaching `max_steps`.
//! - A yield hint (`yield_hint`: a non-blocking operation that failed) marks the running
//!   goroutine's next decision `yielded`, as does an atomic load repeated at the site of its
//!   previous scheduling point (a spin). The hint is dropped when the goroutine switches out.

mod clock;
mod config;
mod decide;
mod drive;
mod past_race;
mod stall;
mod wake;

#[cfg(test)]
mod reuse_tests;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use config::SPARE;
pub use config::{recycle, Config, Monitor, Outcome, QUIESCE_STEPS, QUIESCE_WINDOW};

use crate::explore::{Note, Pending, Strategy};
use crate::runtime::context::{self, ExecPtr};
use crate::runtime::dump::backtraces;
use crate::runtime::goroutine::{self, GRef, Install, Status, G};
use crate::runtime::panic::install_hook;
use crate::runtime::stack;
use crate::runtime::timer::TimerHeap;
pub use crate::schedule::Choice;
use crate::schedule::FINGERPRINT_SEED;
use crate::verdict::probe::Probe;
use crate::verdict::{Event, GoroutineDump, ObjId, Op, RaceReport};
pub use crate::verdict::{TraceEntry, Verdict};

use super::ExecKind;

#[cold]
#[inline(never)]
fn bad_index(i: usize, n: usize) -> ! {
    panic!("goweave: strategy chose index {i} of {n} runnable goroutines")
}

fn dump_all(st: &State) -> Vec<GoroutineDump> {
    let mut v: Vec<GoroutineDump> = st
        .all
        .iter()
        .flatten()
        .map(|g| GoroutineDump::of(g))
        .collect();
    v.sort_by_key(|d| {
        (
            d.status != Status::Runnable && d.status != Status::Running,
            d.id,
        )
    });
    v
}

/// `v.insert(at, x)` for the short vectors of runnable goroutines: moving a handful of
/// elements one by one costs less than the call to `memmove` that `Vec::insert` makes (a wake-up
/// and a park each did two).
#[inline(always)]
fn insert_small<T>(v: &mut Vec<T>, at: usize, x: T) {
    v.push(x);
    let mut i = v.len() - 1;
    while i > at {
        v.swap(i - 1, i);
        i -= 1;
    }
}

/// `v.remove(at)` (dropping the element), as [`insert_small`].
#[inline(always)]
fn remove_small<T>(v: &mut Vec<T>, at: usize) {
    for i in at + 1..v.len() {
        v.swap(i - 1, i);
    }
    v.pop();
}

thread_local! {
    /// The executor of this thread's previous run, emptied: a run reuses its box and buffers,
    /// and neither allocates it nor copies its ~1 KiB in and out (about 500 instructions of a
    /// schedule's fixed cost).
    static SPARE_EXEC: std::cell::Cell<Option<Box<Controlled>>> = const { std::cell::Cell::new(None) };
}

/// The strategy a spare executor holds between runs (never asked: a run installs its own).
struct Idle;

impl Strategy for Idle {
    fn pick_goroutine(&mut self, _: &crate::explore::Decision<'_>) -> usize {
        unreachable!("the idle placeholder strategy is never installed in a run")
    }

    fn pick_value(&mut self, _: &crate::explore::ValueDecision) -> u64 {
        unreachable!("the idle placeholder strategy is never installed in a run")
    }
}

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

struct State {
    /// Next goroutine id.
    next_gid: u64,
    /// Next object id.
    next_obj: u64,
    /// Every goroutine not yet finished, indexed by id (ids are sequential from 1; index 0
    /// and finished goroutines are `None`).
    all: Vec<Option<GRef>>,
    /// Number of `Some` in `all`.
    live: usize,
    /// Runnable (or running) goroutines, sorted by id.
    runnable: Vec<GRef>,
    /// Ids of `runnable`, position for position (what a `Decision` shows).
    ids: Vec<u64>,
    /// Goroutines made runnable (spawned or woken) since the strategy's last decision
    /// (`Decision::woken`).
    woken: Vec<u64>,
    /// The candidates of the latest waiter choice, kept to reuse the allocation.
    waiter_buf: Vec<u64>,
    /// The next event of each goroutine, by id (index 0 unused).
    pending: Vec<Pending>,
    /// Beside `pending`: whether that event would block now, for the blocking operations
    /// that say (`verdict::probe`); `None` once committed.
    probes: Vec<Option<Probe>>,
    /// The goroutine to resume next, chosen at a scheduling point (it is in `all`).
    switch_to: Option<*const G>,
    /// The strategy let time pass at a goroutine's scheduling point: the scheduler moves the
    /// clock before anything else runs.
    pass_time: bool,
    /// The goroutine whose scheduling point time passed at (it can continue), until the next
    /// goroutine is chosen.
    interrupted: Option<u64>,
    /// The running goroutine's last non-blocking operation failed (`yield_hint`): its next
    /// decision counts as a yield.
    hint: Option<u64>,
    /// Virtual time since the epoch.
    now: Duration,
    timers: TimerHeap,
    /// How long each runnable goroutine has waited to run (what `TimerMode::MaxStall` bounds).
    stall: stall::StallClock,
    /// With the trace on: where each armed timer was armed, by (deadline, sequence), the order
    /// in which they fire.
    timer_sites: BTreeMap<(Duration, u64), &'static Location<'static>>,
    /// With the trace on: where the timer whose callback runs now was armed (a ticker re-arms
    /// itself from there).
    firing: Option<&'static Location<'static>>,
    /// Scheduling points announced.
    steps: u64,
    /// Events committed.
    commits: u64,
    /// Fingerprint of the first `FINGERPRINT_EVENTS` commits.
    fingerprint: u64,
    preemptions: u64,
    /// The goroutine preempted by the latest decision, until the next commit notes it.
    preempted: Option<u64>,
    schedule: Vec<Choice>,
    trace: Vec<TraceEntry>,
    verdict: Option<Verdict>,
    main_done: bool,
    /// Once main has returned (leak check on): the step count then, and the virtual time
    /// beyond which timers no longer fire.
    quiesce: Option<(u64, Duration)>,
    /// The run was cut short (deadline or stop; see `Config::deadline`, `Monitor::stop`).
    cancelled: bool,
    strategy: Box<dyn Strategy>,
    /// The strategy follows the schedule step by step (`Strategy::wants_notes`).
    notes: bool,
    /// The strategy picks from the number of options alone (`Strategy::picks_by_count`).
    by_count: bool,
    /// A race does not end the run (`Strategy::runs_past_races`; see `past_race`).
    past_races: bool,
    /// Under `past_races`: the race that would have ended the run, and the run's state there.
    race_cut: Option<Box<past_race::RaceCut>>,
    /// The goroutine and atomic of the latest atomic load announced: the same goroutine
    /// loading the same atomic at the same place again is spinning.
    last_load: (u64, u64),
}

/// A controlled executor instance (one schedule).
pub struct Controlled {
    id: u64,
    st: RefCell<State>,
    /// The race detector (always on here); never borrowed across a switch.
    race: RefCell<crate::detect::race::Detector>,
    /// Happens-before edges are read in this run: the detector is on (not deferred), or the
    /// graph of the report's trace is drawn (`hbgraph`). Both are fixed for a run, so the edge
    /// hooks test this one flag before anything else.
    edges: bool,
    /// The strategy picks by count (`State::by_count`, readable without borrowing the state).
    by_count: bool,
    cfg: Config,
    monitor: Arc<Monitor>,
}

impl Controlled {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Trace entries committed so far, if the trace is kept (for `runtime::hbgraph`).
    pub(crate) fn trace_len(&self) -> Option<u64> {
        let st = self.st.try_borrow().ok()?;
        self.cfg.trace.then_some(st.trace.len() as u64)
    }

    pub(crate) fn race_detector(&self) -> &RefCell<crate::detect::race::Detector> {
        &self.race
    }

    /// See `Controlled::edges`.
    #[inline(always)]
    pub(crate) fn edges_wanted(&self) -> bool {
        self.edges
    }

    /// The first race ends the schedule (at the racing goroutine's next scheduling point),
    /// or, under a strategy that runs past races, is set aside there (`past_race`).
    pub(crate) fn report_race(&self, r: RaceReport) {
        let mut st = self.st.borrow_mut();
        if st.verdict.is_none() && st.race_cut.is_none() {
            st.verdict = Some(Verdict::Race(r));
        }
    }

    /// A leak found while running (a task parked with no waker alive): the run ends at the
    /// next decision, with these goroutines reported.
    pub(crate) fn report_leak(&self, leaked: Vec<GoroutineDump>) {
        let mut st = self.st.borrow_mut();
        if st.verdict.is_none() {
            st.verdict = Some(Verdict::Leak(leaked));
        }
    }

    /// A fresh executor, in this thread's spare box if it has one (see `SPARE_EXEC`).
    fn new(strategy: Box<dyn Strategy>, cfg: Config, monitor: Arc<Monitor>) -> Box<Controlled> {
        let notes = strategy.wants_notes();
        let by_count = strategy.picks_by_count();
        let past_races = strategy.runs_past_races();
        let schedule = SPARE.with(|s| std::mem::take(&mut s.borrow_mut().schedule));
        let id = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let edges = (cfg.race_detection && !cfg.race_deferred) || crate::runtime::hbgraph::on();
        let new_detector =
            || crate::detect::race::Detector::new(cfg.race_detection, cfg.race_deferred);
        match SPARE_EXEC.take() {
            Some(mut ex) => {
                ex.id = id;
                ex.edges = edges;
                ex.by_count = by_count;
                let race = ex.race.get_mut();
                if !race.renew(cfg.race_detection, cfg.race_deferred) {
                    *race = new_detector();
                }
                ex.cfg = cfg;
                ex.monitor = monitor;
                let st = ex.st.get_mut();
                // `run` emptied its vectors and handed out what the outcome owns; what is left
                // to set is every scalar (destructured, so that a new field cannot be missed).
                let State {
                    next_gid,
                    next_obj,
                    all,
                    live,
                    runnable: _,
                    ids: _,
                    woken: _,
                    waiter_buf: _,
                    pending,
                    probes,
                    switch_to,
                    pass_time,
                    interrupted,
                    hint,
                    now,
                    timers: _,
                    stall,
                    timer_sites,
                    firing,
                    steps,
                    commits,
                    fingerprint,
                    preemptions,
                    preempted,
                    schedule: sched,
                    trace: _,
                    verdict,
                    main_done,
                    quiesce,
                    cancelled,
                    strategy: strat,
                    notes: n,
                    by_count: b,
                    past_races: p,
                    race_cut,
                    last_load,
                } = st;
                *next_gid = 1;
                *next_obj = 1;
                all.push(None);
                *live = 0;
                pending.push(Pending {
                    event: Event::new(Op::Other, ObjId(0), Location::caller()),
                    since: 0,
                });
                probes.push(None);
                *switch_to = None;
                *pass_time = false;
                *interrupted = None;
                *hint = None;
                *now = Duration::ZERO;
                stall.reset();
                // (Clearing an empty `BTreeMap` still walks it: about 40 instructions.)
                if !timer_sites.is_empty() {
                    timer_sites.clear();
                }
                *firing = None;
                *steps = 0;
                *commits = 0;
                *fingerprint = FINGERPRINT_SEED;
                *preemptions = 0;
                *preempted = None;
                *sched = schedule;
                *verdict = None;
                *main_done = false;
                *quiesce = None;
                *cancelled = false;
                *strat = strategy;
                *n = notes;
                *b = by_count;
                *p = past_races;
                *race_cut = None;
                *last_load = (0, 0);
                ex
            }
            None => Box::new(Controlled {
                id,
                edges,
                by_count,
                race: RefCell::new(new_detector()),
                cfg,
                monitor,
                st: RefCell::new(State {
                    next_gid: 1,
                    next_obj: 1,
                    all: vec![None],
                    live: 0,
                    runnable: Vec::new(),
                    ids: Vec::new(),
                    woken: Vec::new(),
                    waiter_buf: Vec::new(),
                    pending: vec![Pending {
                        event: Event::new(Op::Other, ObjId(0), Location::caller()),
                        since: 0,
                    }],
                    probes: vec![None],
                    switch_to: None,
                    pass_time: false,
                    interrupted: None,
                    hint: None,
                    now: Duration::ZERO,
                    timers: TimerHeap::default(),
                    stall: stall::StallClock::new(),
                    timer_sites: BTreeMap::new(),
                    firing: None,
                    steps: 0,
                    commits: 0,
                    fingerprint: FINGERPRINT_SEED,
                    preemptions: 0,
                    preempted: None,
                    schedule,
                    trace: Vec::new(),
                    verdict: None,
                    main_done: false,
                    quiesce: None,
                    notes,
                    by_count,
                    past_races,
                    race_cut: None,
                    last_load: (0, 0),
                    cancelled: false,
                    strategy,
                }),
            }),
        }
    }

    pub(crate) fn unpark(&self, g: GRef) {
        // Waiting -> Runnable. Only this thread writes the status of this executor's
        // goroutines (here and in `drive`), so a load and a store do what `G::try_wake`'s
        // compare-exchange does, without a locked instruction.
        if g.status() != Status::Waiting {
            return;
        }
        g.set_status(Status::Runnable);
        let mut st = self.st.borrow_mut();
        if st.notes {
            st.strategy.note(Note::Wake(g.id));
        }
        let id = g.id;
        let at = st.ids.partition_point(|&i| i < id);
        insert_small(&mut st.ids, at, id);
        let now = st.now;
        st.stall.runnable(id, now);
        insert_small(&mut st.runnable, at, g);
        st.woken.push(id);
    }

    /// Take `id` out of the runnable set, if it is there.
    #[inline]
    fn remove_runnable(st: &mut State, id: u64) {
        st.stall.blocked(id);
        if let Ok(i) = st.ids.binary_search(&id) {
            remove_small(&mut st.ids, i);
            remove_small(&mut st.runnable, i);
        }
    }

    pub(crate) fn spawn(
        &self,
        install: Install<'_>,
        name: Option<Box<str>>,
        site: &'static Location<'static>,
        handle: bool,
    ) -> GRef {
        let parent = context::with_current(|g| g.map_or(0, |g| g.id));
        let mut st = self.st.borrow_mut();
        let id = st.next_gid;
        st.next_gid += 1;
        let g = G::new(
            id,
            name,
            site,
            parent,
            ExecKind::Controlled(self.id),
            install,
            self.cfg.stack_size,
            handle,
        );
        debug_assert_eq!(st.all.len() as u64, id);
        st.all.push(Some(g.clone()));
        st.live += 1;
        // Ids grow, so pushing keeps `runnable` sorted; `pending` is indexed by id.
        st.ids.push(id);
        st.runnable.push(g.clone());
        let now = st.now;
        st.stall.runnable(id, now);
        st.woken.push(id);
        debug_assert_eq!(st.pending.len() as u64, id);
        let since = st.steps;
        st.pending.push(Pending {
            event: Event::new(Op::Spawn, ObjId(id), site),
            since,
        });
        st.probes.push(None);
        if st.notes {
            st.strategy.note(Note::Spawned { parent, child: id });
        }
        drop(st);
        crate::runtime::hb::spawned(parent, id, site, g.task);
        backtraces::spawned(id, parent);
        g
    }

    /// Snapshots of every goroutine not finished, by id.
    pub(crate) fn goroutines(&self) -> Vec<GoroutineDump> {
        let st = self.st.borrow();
        st.all
            .iter()
            .flatten()
            .map(|g| GoroutineDump::of(g))
            .collect()
    }

    pub(crate) fn num_goroutine(&self) -> usize {
        self.st.borrow().live
    }

    pub(crate) fn new_object_id(&self) -> ObjId {
        let mut st = self.st.borrow_mut();
        st.next_obj += 1;
        ObjId(st.next_obj - 1)
    }
}

/// Run `body` as goroutine 1 on a fresh controlled executor, on this thread.
#[track_caller]
pub fn run<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
    strategy: Box<dyn Strategy>,
    cfg: Config,
    monitor: Arc<Monitor>,
) -> Outcome<T> {
    let site = cfg.main_site.unwrap_or(Location::caller());
    install_hook();
    stack::prepare_thread();
    if context::exec() != ExecPtr::None {
        panic!("goweave: a controlled run cannot start inside another goweave runtime");
    }
    backtraces::begin(cfg.backtraces);
    let ex = Controlled::new(strategy, cfg, monitor);
    context::set_exec(ExecPtr::Controlled(&*ex));
    let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    ex.spawn(
        &mut goroutine::boxed(Box::new(move || {
            let v = body();
            *out.lock().unwrap() = Some(v);
        })),
        None,
        site,
        false,
    );
    ex.drive();
    let held = ex.held_back();
    backtraces::end();
    ex.tear_down_all();
    context::set_exec(ExecPtr::None);
    let race_needed = ex.race.borrow().needed();
    let mut ex = ex;
    let st = ex.st.get_mut();
    let mut verdict = st.verdict.take();
    past_race::settle(st, &mut verdict);
    let schedule = std::mem::take(&mut st.schedule);
    let trace = std::mem::take(&mut st.trace);
    // A zero-sized placeholder: no allocation.
    let strategy = std::mem::replace(&mut st.strategy, Box::new(Idle));
    let stall = st.stall.worst.take();
    let (steps, events, preemptions, fingerprint, cancelled) = (
        st.steps,
        st.commits,
        st.preemptions,
        st.fingerprint,
        st.cancelled,
    );
    // Emptied here, so that the next run only resets scalars (see `Controlled::new`).
    st.all.clear();
    st.runnable.clear();
    st.ids.clear();
    st.pending.clear();
    st.probes.clear();
    st.woken.clear();
    SPARE_EXEC.set(Some(ex));
    let result = match verdict {
        Some(v) => Err(v),
        None => Ok(slot
            .lock()
            .unwrap()
            .take()
            .expect("main finished without a value")),
    };
    Outcome {
        result,
        schedule,
        steps,
        events,
        preemptions,
        fingerprint,
        trace,
        strategy,
        race_needed,
        stall,
        held,
        cancelled,
    }
}
