//! What a controlled run takes (its settings) and leaves behind (its outcome), and the
//! progress it publishes for the checker's watchdog.
use std::cell::RefCell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::explore::{Strategy, TimerMode};
use crate::runtime::goroutine::G;
use crate::runtime::stack;
use crate::schedule::Choice;
use crate::verdict::{Stall, TraceEntry, Verdict};

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
    /// When virtual time may pass: at a decision (a choice) if no runnable goroutine has waited
    /// longer than a bound then (the default, `TimerMode::MaxStall`), at any decision, or only
    /// when all are blocked.
    pub timers: TimerMode,
    /// Where reports say main was created (default: where `run` was called).
    pub main_site: Option<&'static Location<'static>>,
    /// Capture full backtraces for reports (spawn and park sites; the checker sets it only for
    /// the replay of a failure's shrunk schedule, see `runtime::dump::backtraces`).
    pub backtraces: bool,
    /// Detect data races (the checker's `race_detection`).
    pub race_detection: bool,
    /// Start the race detector deferred: no clocks until a watched cell is touched, which the
    /// outcome then says (`Outcome::race_needed`).
    pub race_deferred: bool,
    /// A run still going at this instant is cut short (`Outcome::cancelled`): the shrinker's
    /// budget bounds each candidate run, not just when the next one may start.
    pub deadline: Option<Instant>,
}

/// Scheduling points between two looks at the clock and the stop flag: cheap enough to be
/// invisible (a mask test per step), frequent enough to stop within microseconds.
pub(super) const CANCEL_CHECK_STEPS: u64 = 256;

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
            timers: TimerMode::default(),
            backtraces: false,
            race_detection: true,
            race_deferred: false,
            main_site: None,
            deadline: None,
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
    /// The strategy, handed back for the next schedule.
    pub strategy: Box<dyn Strategy>,
    /// The race detector was deferred and a watched cell was touched: the schedule must run
    /// again with the detector on to be judged.
    pub race_needed: bool,
    /// The largest stall time caused by passing while goroutines could run (`None` if it only
    /// passed with every goroutine blocked or polling). Its goroutine and timer are known only
    /// with `Config::trace`.
    pub stall: Option<Stall>,
    /// A livelock with a timer pending that `TimerMode::MaxStall` kept from firing: the stall
    /// letting it fire would have taken (with `Config::trace`, which goroutine and timer).
    pub held: Option<Stall>,
    /// The run was cut short (its deadline passed, or the monitor was stopped): `result` is a
    /// `Nondeterminism` verdict that says so, not a judgement of the program.
    pub cancelled: bool,
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
    /// Set by the watchdog when it gives up on the run: the running schedule ends at its next
    /// scheduling point (within `CANCEL_CHECK_STEPS`) and the checker thread returns at once.
    pub stop: AtomicBool,
    /// The checker thread is between schedules, in the checker's own bookkeeping (the
    /// strategy's analysis of the schedule, counting distinct schedules, reporting). The
    /// watchdog judges the program under test, not goweave: on a search of millions of
    /// schedules a single compaction of the distinct-schedule hashes took over a second in a
    /// debug build, and was reported as the program being blocked.
    pub bookkeeping: AtomicBool,
}

impl Monitor {
    #[inline]
    pub(super) fn note(&self, g: &G, site: &'static Location<'static>) {
        // One writer (the executor's thread): a plain increment, no locked instruction.
        let p = self.progress.load(Ordering::Relaxed);
        self.progress.store(p.wrapping_add(1), Ordering::Relaxed);
        self.current.store(g.id, Ordering::Relaxed);
        self.site
            .store(site as *const _ as *mut _, Ordering::Relaxed);
    }

    /// Ask the checker thread to stop (see `stop`).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Mark the checker thread as in (or out of) its own bookkeeping (see `bookkeeping`).
    #[inline]
    pub fn set_bookkeeping(&self, on: bool) {
        self.bookkeeping.store(on, Ordering::Relaxed);
    }

    /// True while the checker thread is in its own bookkeeping.
    #[inline]
    pub fn in_bookkeeping(&self) -> bool {
        self.bookkeeping.load(Ordering::Relaxed)
    }

    /// True once a stop was requested.
    #[inline]
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Where the running goroutine last yielded, if known.
    pub fn last_site(&self) -> Option<&'static Location<'static>> {
        let p = self.site.load(Ordering::Relaxed);
        // SAFETY: only `&'static Location` values are stored in `site`.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

/// The schedule buffer kept between runs on one thread, so that a schedule does not begin by
/// allocating (the rest of a run's state is reused whole: `Controlled::st`).
#[derive(Default)]
pub(super) struct Spare {
    pub(super) schedule: Vec<Choice>,
}

thread_local! {
    pub(super) static SPARE: RefCell<Spare> = RefCell::new(Spare::default());
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
