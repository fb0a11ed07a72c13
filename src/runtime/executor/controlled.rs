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
//!   what it will do when it next runs.
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
//!   goroutines; the answer is recorded as `Choice::Time`. With nothing runnable, time passes
//!   without a decision, in both modes.
//! - Timer callbacks run only on the scheduler's stack (in `advance_time`), never on a
//!   goroutine's: a goroutine that lets time pass at its scheduling point switches to the
//!   scheduler first (`pass_time`), and stays the goroutine at that point (`interrupted`) for
//!   the decision that follows, so choosing another goroutine then is a preemption.
//! - Every move of the clock counts as a step, so a strategy (or a ticker nobody reads) cannot
//!   move it forever without reaching `max_steps`.
//! - A yield hint (`yield_hint`: a non-blocking operation that failed) marks the running
//!   goroutine's next decision `yielded`, as does an atomic load repeated at the site of its
//!   previous scheduling point (a spin). The hint is dropped when the goroutine switches out.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::explore::{Decision, Pending, Strategy, TimerMode, ValueDecision};
use crate::runtime::context::{self, CurrentGuard, ExecPtr};
use crate::runtime::coroutine::{self, Exit, Request, Step};
use crate::runtime::dump::{backtraces, GoroutineDump};
use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::goroutine::{self, GRef, Install, Status, G};
use crate::runtime::panic::{install_hook, PanicReport};
use crate::runtime::stack;
use crate::runtime::timer::{TimerFn, TimerHeap, TimerId};
pub use crate::schedule::Choice;
use crate::schedule::{fingerprint_step, FINGERPRINT_EVENTS, FINGERPRINT_SEED};

use super::ExecKind;

/// One line of the trace: the `step`th event that happened was `event`, by `goroutine`.
#[derive(Clone, Copy, Debug)]
pub struct TraceEntry {
    /// Position in the order of events (from 1).
    pub step: u64,
    /// The goroutine; 0 for virtual time passing (`Op::TimerFire`: a timer fired, armed at the
    /// event's location).
    pub goroutine: u64,
    /// What it did.
    pub event: Event,
    /// Set when this event ran because the strategy preempted that goroutine just before.
    pub preempted: Option<u64>,
}

/// Why a controlled run failed.
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
    Race(crate::detect::race::RaceReport),
    /// The strategy ended the run: a replayed schedule diverged from the program.
    Nondeterminism {
        /// Scheduling points passed when it happened.
        step: u64,
        /// The strategy's explanation.
        reason: String,
    },
}

/// Settings of one controlled run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Scheduling points allowed before the run is declared a livelock.
    pub max_steps: u64,
    /// Usable bytes of each goroutine stack.
    pub stack_size: usize,
    /// Keep the trace of events.
    pub trace: bool,
    /// After main returns, let the others finish and report those that cannot as leaks.
    pub leak_check: bool,
    /// When virtual time may pass: at any decision (a choice), or only when all are blocked.
    pub timers: TimerMode,
    /// Where reports say main was created (default: where `run` was called).
    pub main_site: Option<&'static Location<'static>>,
    /// Capture full backtraces for reports (spawn and park sites; the checker sets it only for
    /// the replay of a failure's shrunk schedule, see `runtime::dump::backtraces`).
    pub backtraces: bool,
}

/// How far virtual time may advance after main returns while the others wind down: a goroutine
/// still waiting on a timer beyond this has leaked (goleak gives up after about 0.5 s).
pub const QUIESCE_WINDOW: Duration = Duration::from_secs(10);

/// Scheduling points the others may take after main returns before those still running count
/// as leaked (spinning forever).
pub const QUIESCE_STEPS: u64 = 10_000;

impl Default for Config {
    fn default() -> Config {
        Config {
            max_steps: 100_000,
            stack_size: stack::default_size(),
            trace: true,
            leak_check: true,
            timers: TimerMode::AnyTime,
            backtraces: false,
            main_site: None,
        }
    }
}

/// What a controlled run leaves behind.
pub struct Outcome<T> {
    /// The main body's value, or why the run failed.
    pub result: Result<T, Verdict>,
    /// Every answer the strategy gave.
    pub schedule: Vec<Choice>,
    /// Scheduling points passed.
    pub steps: u64,
    /// Events committed (performed).
    pub events: u64,
    /// Preemptions the strategy made.
    pub preemptions: u64,
    /// Fingerprint of the (operation, goroutine) of the first committed events.
    pub fingerprint: u64,
    /// The events, in order (empty unless `Config::trace`).
    pub trace: Vec<TraceEntry>,
    /// Goroutines alive when main returned (before they were torn down).
    pub survivors: Vec<GoroutineDump>,
    /// The strategy, handed back for the next schedule.
    pub strategy: Box<dyn Strategy>,
    /// The race detector was deferred and a watched cell was touched: the schedule must run
    /// again with the detector on to be judged.
    pub race_needed: bool,
}

/// Progress published for a watchdog on another thread.
#[derive(Default)]
pub struct Monitor {
    /// Bumped at every scheduling point and switch.
    pub progress: AtomicU64,
    /// Id of the goroutine running now (0: the scheduler).
    pub current: AtomicU64,
    /// Where that goroutine last passed a scheduling point.
    pub site: AtomicPtr<Location<'static>>,
}

impl Monitor {
    #[inline]
    fn note(&self, g: &G, site: &'static Location<'static>) {
        // One writer (the executor's thread): a plain increment, no locked instruction.
        let p = self.progress.load(Ordering::Relaxed);
        self.progress.store(p.wrapping_add(1), Ordering::Relaxed);
        self.current.store(g.id, Ordering::Relaxed);
        self.site
            .store(site as *const _ as *mut _, Ordering::Relaxed);
    }

    /// Where the running goroutine last yielded, if known.
    pub fn last_site(&self) -> Option<&'static Location<'static>> {
        let p = self.site.load(Ordering::Relaxed);
        // SAFETY: only `&'static Location` values are stored in `site`.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Buffers kept between runs on one thread, so that a schedule does not begin by allocating.
#[derive(Default)]
struct Spare {
    all: Vec<Option<GRef>>,
    runnable: Vec<GRef>,
    ids: Vec<u64>,
    pending: Vec<Pending>,
    schedule: Vec<Choice>,
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::new(Spare::default());
}

/// Give a schedule's buffer back for the next run on this thread (the checker does this for
/// schedules it does not keep).
pub fn recycle(mut schedule: Vec<Choice>) {
    schedule.clear();
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if s.schedule.capacity() < schedule.capacity() {
            s.schedule = schedule;
        }
    });
}

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
    /// The next event of each goroutine, by id (index 0 unused).
    pending: Vec<Pending>,
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
    strategy: Box<dyn Strategy>,
}

/// A controlled executor instance (one schedule).
pub struct Controlled {
    id: u64,
    st: RefCell<State>,
    /// The race detector (always on here); never borrowed across a switch.
    race: RefCell<crate::detect::race::Detector>,
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

    /// The first race ends the schedule (at the racing goroutine's next scheduling point).
    pub(crate) fn report_race(&self, r: crate::detect::race::RaceReport) {
        let mut st = self.st.borrow_mut();
        if st.verdict.is_none() {
            st.verdict = Some(Verdict::Race(r));
        }
    }

    fn new(strategy: Box<dyn Strategy>, cfg: Config, monitor: Arc<Monitor>) -> Controlled {
        let mut spare = SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()));
        spare.all.clear();
        spare.all.push(None);
        spare.runnable.clear();
        spare.ids.clear();
        spare.pending.clear();
        spare.pending.push(Pending {
            event: Event::new(Op::Other, ObjId(0), Location::caller()),
            since: 0,
        });
        spare.schedule.clear();
        Controlled {
            id: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            race: RefCell::new(Default::default()),
            st: RefCell::new(State {
                next_gid: 1,
                next_obj: 1,
                all: spare.all,
                live: 0,
                runnable: spare.runnable,
                ids: spare.ids,
                pending: spare.pending,
                switch_to: None,
                pass_time: false,
                interrupted: None,
                hint: None,
                now: Duration::ZERO,
                timers: TimerHeap::default(),
                timer_sites: BTreeMap::new(),
                firing: None,
                steps: 0,
                commits: 0,
                fingerprint: FINGERPRINT_SEED,
                preemptions: 0,
                preempted: None,
                schedule: spare.schedule,
                trace: Vec::new(),
                verdict: None,
                main_done: false,
                quiesce: None,
                strategy,
            }),
            cfg,
            monitor,
        }
    }

    /// The deadline time may pass to at a decision now, if letting it pass is an option: a
    /// timer is pending (within the quiesce window, once main has returned) and the mode is
    /// `AnyTime`.
    #[inline]
    fn time_option(&self, st: &mut State) -> Option<Duration> {
        if self.cfg.timers != TimerMode::AnyTime {
            return None;
        }
        let deadline = st.timers.next_deadline()?;
        match st.quiesce {
            Some((_, until)) if deadline > until => None,
            _ => Some(deadline),
        }
    }

    /// Ask the strategy to choose among `st.runnable` and, if `time` is set, letting time pass
    /// (two or more options), and record the answer: an index into `runnable`, or
    /// `runnable.len()` for time. `None` if the strategy aborted the run (the verdict is then
    /// set).
    fn decide(
        st: &mut State,
        current: Option<u64>,
        yielded: bool,
        time: Option<Duration>,
    ) -> Option<usize> {
        let mut d = Decision::new(
            &st.ids,
            current,
            st.steps,
            yielded,
            st.schedule.len() as u64,
            &st.pending,
        );
        if let Some(t) = time {
            d = d.with_time(t);
        }
        let i = st.strategy.pick_goroutine(&d);
        if let Some(reason) = d.take_abort() {
            Self::abort(st, reason);
            return None;
        }
        if i == st.ids.len() && time.is_some() {
            st.schedule.push(Choice::Time);
            return Some(i);
        }
        if i >= st.ids.len() {
            bad_index(i, st.ids.len() + time.is_some() as usize);
        }
        let chosen = st.ids[i];
        // A preemption: the goroutine at the scheduling point could have gone on.
        if let (Some(c), false) = (current, yielded) {
            if c != chosen && st.ids.binary_search(&c).is_ok() {
                st.preemptions += 1;
                st.preempted = current;
            }
        }
        st.schedule.push(Choice::Goroutine(chosen));
        Some(i)
    }

    /// The strategy ended the run (kept out of line: the decision path stays small).
    #[cold]
    #[inline(never)]
    fn abort(st: &mut State, reason: String) {
        let step = st.steps;
        st.verdict
            .get_or_insert(Verdict::Nondeterminism { step, reason });
    }

    /// Count an announced scheduling point; flag a livelock past the bound. True if the run
    /// must stop.
    #[inline]
    fn step(&self, st: &mut State, g: &G, ev: Event) -> bool {
        st.steps += 1;
        self.monitor.note(g, ev.site);
        if st.verdict.is_none() {
            if let Some((since, _)) = st.quiesce {
                if st.steps - since > QUIESCE_STEPS {
                    st.verdict = Some(Verdict::Leak(dump_all(st)));
                }
            } else if st.steps > self.cfg.max_steps {
                st.verdict = Some(Verdict::Livelock {
                    max_steps: self.cfg.max_steps,
                    goroutines: dump_all(st),
                });
            }
        }
        st.verdict.is_some()
    }

    /// `g` goes on to perform `ev` now: fingerprint it and trace it.
    #[inline]
    fn commit(&self, st: &mut State, g: &G, ev: Event) {
        st.commits += 1;
        if st.commits <= FINGERPRINT_EVENTS {
            st.fingerprint = fingerprint_step(st.fingerprint, ev.op as u8, g.id);
        }
        let preempted = st.preempted.take();
        if self.cfg.trace {
            st.trace.push(TraceEntry {
                step: st.trace.len() as u64 + 1,
                goroutine: g.id,
                event: ev,
                preempted,
            });
        }
    }

    pub(crate) fn sched_point(&self, ev: Event) {
        let gp = context::current_ptr();
        if gp.is_null() {
            return;
        }
        // SAFETY: the running goroutine is kept alive by `State::all` while it runs.
        let g = unsafe { &*gp };
        if g.torn_down.load(Ordering::Acquire) {
            return;
        }
        // Loading the same atomic where the previous scheduling point was: a spin.
        let spin = ev.op == Op::AtomicLoad && std::ptr::eq(g.site(), ev.site);
        g.set_site(ev.site);
        let switch = {
            let mut st = self.st.borrow_mut();
            let hinted = st.hint.take().is_some();
            let yielded = spin || hinted;
            if self.step(&mut st, g, ev) {
                true
            } else {
                let time = self.time_option(&mut st);
                if st.ids.len() > 1 || time.is_some() {
                    let since = st.steps;
                    st.pending[g.id as usize] = Pending { event: ev, since };
                    let switch = Self::decide_at(&mut st, g, yielded, time);
                    if !switch {
                        self.commit(&mut st, g, ev);
                    }
                    switch
                } else {
                    self.commit(&mut st, g, ev);
                    false
                }
            }
        };
        if switch {
            coroutine::suspend(g, Request::Switch);
            // Resumed by the strategy's choice: the announced event happens now.
            let mut st = self.st.borrow_mut();
            self.commit(&mut st, g, ev);
        }
    }

    /// `gosched` by the running goroutine `g`: the strategy decides right here, on `g`'s
    /// stack, with the decision marked as a yield. True if `g` must suspend (another goroutine,
    /// or time, goes next, or the run is over); when the strategy lets `g` go on, it does so
    /// without a switch. (Deciding in the scheduler loop instead gives the same decision and
    /// record, but costs two stack switches per `gosched`.)
    pub(crate) fn yield_point(&self, g: &G) -> bool {
        let mut st = self.st.borrow_mut();
        st.hint = None;
        let ev = Event::new(Op::Yield, ObjId(0), g.site());
        if self.step(&mut st, g, ev) {
            return true;
        }
        let since = st.steps;
        st.pending[g.id as usize] = Pending { event: ev, since };
        self.commit(&mut st, g, ev);
        let time = self.time_option(&mut st);
        if st.ids.len() <= 1 && time.is_none() {
            return false;
        }
        Self::decide_at(&mut st, g, true, time)
    }

    /// The strategy decides at the scheduling point of `g`, the running goroutine, and the
    /// decision is set up: true if `g` must switch out (to the chosen goroutine, or to the
    /// scheduler to let time pass, or because the run is over), false if `g` goes on.
    #[inline]
    fn decide_at(st: &mut State, g: &G, yielded: bool, time: Option<Duration>) -> bool {
        match Self::decide(st, Some(g.id), yielded, time) {
            None => true,
            Some(i) if i == st.ids.len() => {
                // Timers fire on the scheduler's stack: switch there first. A goroutine that
                // could have gone on stays the one at this point for the decision that follows.
                st.pass_time = true;
                st.interrupted = (!yielded).then_some(g.id);
                true
            }
            Some(i) if st.ids[i] != g.id => {
                st.switch_to = Some(Arc::as_ptr(&st.runnable[i]));
                true
            }
            Some(_) => false,
        }
    }

    /// The running goroutine's non-blocking operation failed: it is polling, so its next
    /// decision counts as a yield.
    pub(crate) fn yield_hint(&self) {
        if let Some(id) = context::with_current(|g| g.map(|g| g.id)) {
            self.st.borrow_mut().hint = Some(id);
        }
    }

    pub(crate) fn unpark(&self, g: GRef) {
        if !g.try_wake() {
            return;
        }
        let mut st = self.st.borrow_mut();
        let at = st.ids.partition_point(|&id| id < g.id);
        st.ids.insert(at, g.id);
        st.runnable.insert(at, g);
    }

    /// Take `id` out of the runnable set, if it is there.
    fn remove_runnable(st: &mut State, id: u64) {
        if let Ok(i) = st.ids.binary_search(&id) {
            st.ids.remove(i);
            st.runnable.remove(i);
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
        debug_assert_eq!(st.pending.len() as u64, id);
        let since = st.steps;
        st.pending.push(Pending {
            event: Event::new(Op::Spawn, ObjId(id), site),
            since,
        });
        drop(st);
        crate::runtime::hb::spawned(parent, id, site);
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

    pub(crate) fn now(&self) -> Duration {
        self.st.borrow().now
    }

    pub(crate) fn add_timer(&self, deadline: Duration, f: TimerFn) -> TimerId {
        let mut st = self.st.borrow_mut();
        let id = st.timers.add(deadline, f);
        if self.cfg.trace {
            // The arming goroutine's latest scheduling point is the timer operation itself.
            let site = context::with_current(|g| g.map(|g| g.site())).or(st.firing);
            if let Some(site) = site {
                st.timer_sites.insert((deadline, id.0), site);
            }
        }
        id
    }

    pub(crate) fn cancel_timer(&self, id: TimerId) -> bool {
        let mut st = self.st.borrow_mut();
        let armed = st.timers.cancel(id);
        if armed && self.cfg.trace {
            st.timer_sites.retain(|&(_, seq), _| seq != id.0);
        }
        armed
    }

    pub(crate) fn random_below(&self, n: u64) -> u64 {
        let gid = context::with_current(|g| g.map_or(0, |g| g.id));
        let aborted = {
            let mut st = self.st.borrow_mut();
            let d = ValueDecision::new(n, gid, st.steps, st.schedule.len() as u64);
            let v = st.strategy.pick_value(&d);
            match d.take_abort() {
                None => {
                    assert!(v < n, "goweave: strategy chose value {v} of {n}");
                    st.schedule.push(Choice::Value(v));
                    return v;
                }
                Some(reason) => {
                    let step = st.steps;
                    st.verdict
                        .get_or_insert(Verdict::Nondeterminism { step, reason });
                    true
                }
            }
        };
        let gp = context::current_ptr();
        if aborted && !gp.is_null() {
            // SAFETY: as in `sched_point`. The run is over: the scheduler tears us down.
            coroutine::suspend(unsafe { &*gp }, Request::Switch);
        }
        0
    }

    pub(crate) fn new_object_id(&self) -> ObjId {
        let mut st = self.st.borrow_mut();
        st.next_obj += 1;
        ObjId(st.next_obj - 1)
    }

    /// Move virtual time to the earliest timer and fire everything due then (on the scheduler's
    /// stack). False if no timer is pending (while quiescing: none within the window). Counts
    /// as a step: the run may end as a livelock here.
    fn advance_time(&self) -> bool {
        let due = {
            let mut st = self.st.borrow_mut();
            let Some(deadline) = st.timers.next_deadline() else {
                return false;
            };
            if st.quiesce.is_some_and(|(_, until)| deadline > until) {
                return false;
            }
            self.time_step(&mut st);
            st.now = st.now.max(deadline);
            let now = st.now;
            let due = st.timers.pop_due(now);
            let sites = if self.cfg.trace {
                let later = st.timer_sites.split_off(&(now, u64::MAX));
                let fired = std::mem::replace(&mut st.timer_sites, later);
                for &site in fired.values() {
                    let step = st.trace.len() as u64 + 1;
                    st.trace.push(TraceEntry {
                        step,
                        goroutine: 0,
                        event: Event::new(Op::TimerFire, ObjId(0), site),
                        preempted: None,
                    });
                }
                fired.into_values().collect()
            } else {
                Vec::new()
            };
            (due, sites)
        };
        let (due, sites) = due;
        if sites.is_empty() || sites.len() != due.len() {
            due.into_iter().for_each(|f| f());
            return true;
        }
        for (f, site) in due.into_iter().zip(sites) {
            self.st.borrow_mut().firing = Some(site);
            f();
        }
        self.st.borrow_mut().firing = None;
        true
    }

    /// Count a move of the clock as a step; flag a livelock (or, while quiescing, a leak) past
    /// the bound.
    fn time_step(&self, st: &mut State) {
        st.steps += 1;
        let p = self.monitor.progress.load(Ordering::Relaxed);
        self.monitor
            .progress
            .store(p.wrapping_add(1), Ordering::Relaxed);
        if st.verdict.is_some() {
            return;
        }
        if let Some((since, _)) = st.quiesce {
            if st.steps - since > QUIESCE_STEPS {
                st.verdict = Some(Verdict::Leak(dump_all(st)));
            }
        } else if st.steps > self.cfg.max_steps {
            st.verdict = Some(Verdict::Livelock {
                max_steps: self.cfg.max_steps,
                goroutines: dump_all(st),
            });
        }
    }

    /// The scheduler loop: resume goroutines until main returns or the run fails.
    fn drive(&self) {
        loop {
            // A pointer, not a new `GRef`: `all` keeps the goroutine alive until it finishes,
            // which saves two atomic reference-count updates per switch.
            let next: Option<*const G> = {
                let mut st = self.st.borrow_mut();
                if st.verdict.is_some() || (st.main_done && st.quiesce.is_none()) {
                    return;
                }
                if std::mem::take(&mut st.pass_time) {
                    drop(st);
                    self.advance_time();
                    continue;
                }
                let next = match st.switch_to.take() {
                    Some(g) => Some(g),
                    None => {
                        let time = self.time_option(&mut st);
                        match (st.runnable.len(), time) {
                            (0, _) => None,
                            (1, None) => Some(Arc::as_ptr(&st.runnable[0])),
                            _ => {
                                let current = st.interrupted;
                                match Self::decide(&mut st, current, false, time) {
                                    None => return,
                                    Some(i) if i == st.ids.len() => {
                                        drop(st);
                                        self.advance_time();
                                        continue;
                                    }
                                    Some(i) => Some(Arc::as_ptr(&st.runnable[i])),
                                }
                            }
                        }
                    }
                };
                st.interrupted = None;
                next
            };
            let Some(gp) = next else {
                if self.advance_time() {
                    continue;
                }
                let mut st = self.st.borrow_mut();
                let dump = dump_all(&st);
                st.verdict = Some(if st.main_done {
                    // Everything left is blocked for good: leaked (a partial deadlock, or a
                    // goroutine nobody will ever wake).
                    if dump.is_empty() {
                        return;
                    }
                    Verdict::Leak(dump)
                } else {
                    Verdict::Deadlock(dump)
                });
                return;
            };
            // SAFETY: `gp` points at a goroutine in `all` (it is runnable), and the `Arc` made
            // here never drops its count; the goroutine leaves `all` only below, after which
            // `finished` keeps it alive to the end of this iteration.
            let g = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(gp) });
            let mut finished = None;
            g.set_status(Status::Running);
            self.monitor.note(&g, g.site());
            let step = {
                let _running = CurrentGuard::enter(&g);
                coroutine::resume(&g)
            };
            self.monitor.current.store(0, Ordering::Relaxed);
            match step {
                Step::Suspended(Request::Park(unlock)) => {
                    {
                        let mut st = self.st.borrow_mut();
                        g.set_status(Status::Waiting);
                        st.hint = None;
                        Self::remove_runnable(&mut st, g.id);
                    }
                    // SAFETY: the closure lives on the parked goroutine's stack, which stays
                    // suspended (and so alive) until someone unparks it after this call.
                    unsafe { (*unlock)() };
                }
                // `gosched` decides in place (`yield_point`) and suspends with `Switch`.
                Step::Suspended(Request::Yield | Request::Switch) => g.set_status(Status::Runnable),
                Step::Finished(exit) => {
                    g.set_status(Status::Dead);
                    crate::runtime::hb::exited(g.id);
                    let mut st = self.st.borrow_mut();
                    st.hint = None;
                    finished = st.all[g.id as usize].take();
                    st.live -= 1;
                    Self::remove_runnable(&mut st, g.id);
                    if g.id == 1 {
                        st.main_done = true;
                        if self.cfg.leak_check {
                            st.quiesce = Some((st.steps, st.now + QUIESCE_WINDOW));
                        }
                    }
                    if let Exit::Panicked(report) = exit {
                        if st.verdict.is_none() {
                            st.verdict = Some(Verdict::Panic(report));
                        }
                    }
                }
            }
            // Last use of `g`'s record in this iteration.
            if let Some(done) = finished {
                goroutine::recycle(done);
            }
        }
    }

    /// Force-unwind every goroutine still alive, in id order.
    fn tear_down_all(&self) {
        loop {
            let next = {
                let mut st = self.st.borrow_mut();
                st.runnable.clear();
                st.ids.clear();
                st.switch_to = None;
                let first = st.all.iter().position(Option::is_some);
                first.and_then(|i| st.all[i].take())
            };
            let Some(g) = next else { break };
            {
                let _running = CurrentGuard::enter(&g);
                coroutine::tear_down(&g);
            }
            g.set_status(Status::Dead);
            goroutine::recycle(g);
        }
        // Timers may hold channels that hold goroutines; drop them now.
        let timers = std::mem::take(&mut self.st.borrow_mut().timers);
        drop(timers);
    }
}

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
    context::set_exec(ExecPtr::Controlled(&ex));
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
    let survivors = {
        let st = ex.st.borrow();
        if st.main_done && st.verdict.is_none() {
            st.all
                .iter()
                .flatten()
                .map(|g| GoroutineDump::of(g))
                .collect()
        } else {
            Vec::new()
        }
    };
    backtraces::end();
    ex.tear_down_all();
    context::set_exec(ExecPtr::None);
    let race_needed = ex.race.borrow().needed();
    let mut st = ex.st.into_inner();
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        st.all.clear();
        s.all = std::mem::take(&mut st.all);
        s.runnable = std::mem::take(&mut st.runnable);
        s.ids = std::mem::take(&mut st.ids);
        s.pending = std::mem::take(&mut st.pending);
    });
    let result = match st.verdict {
        Some(v) => Err(v),
        None => Ok(slot
            .lock()
            .unwrap()
            .take()
            .expect("main finished without a value")),
    };
    Outcome {
        result,
        schedule: st.schedule,
        steps: st.steps,
        events: st.commits,
        preemptions: st.preemptions,
        fingerprint: st.fingerprint,
        trace: st.trace,
        survivors,
        strategy: st.strategy,
        race_needed,
    }
}
