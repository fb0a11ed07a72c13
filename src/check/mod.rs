//! The exploration runner: run a body under many schedules of the controlled executor, and
//! turn the first failure into a report with a shrunk, replayable schedule.
//!
//! Each schedule runs on a fresh controlled executor. All schedules of one `run` execute on a
//! dedicated thread, watched by the calling thread: if the running goroutine stops reaching
//! scheduling points for longer than the watchdog allows (it is blocked on a std lock, I/O or a
//! thread join, which goweave cannot see), the run fails with a message naming the goroutine and
//! where it last yielded, instead of hanging. The watchdog times the program, not goweave: it
//! pauses while the checker thread is in its own bookkeeping between schedules (a built-in
//! strategy's analysis, counting distinct schedules), which on a search of millions of
//! schedules can take seconds in a debug build.
//!
//! Exploration runs without a trace (it is the hot path). When a schedule fails, it is shrunk
//! (`check::shrink`), and the shrunk schedule is replayed once more with the trace on, to
//! produce the report; both the shrunk and the original schedule become tokens.
//!
//! A replay (`StrategyKind::Replay`, `GOWEAVE_REPLAY`, [`replay`]) also checks that the program
//! is the one the token was recorded from: its first events must match the token's
//! fingerprint, the schedule must fit every decision, and the run must use all of it.
//!
//! Strategies have two faces: [`StrategyKind`] (in `explore`'s catalogue) *names* a built-in
//! one, as `Checker::new().strategy(StrategyKind::Pct { depth: 3 })` does; the trait
//! [`explore::Strategy`] is the pluggable interface, and a strategy of your own goes in with
//! [`Checker::custom_strategy`].

mod failure;
pub mod settings;
mod shrink;
mod shrink_stall;
mod to_end;

use std::fmt;
use std::panic::Location;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

pub use crate::explore::StrategyKind;
pub use failure::{Failure, FailureKind};
pub use settings::{ConfigError, Layer, Settings};
pub use to_end::Exploration;

use crate::explore::{self, TimerMode};
use crate::report;
use crate::runtime::dump::backtraces;
use crate::runtime::executor::controlled::{self, Config, Monitor, Outcome, Verdict};
use crate::schedule::{hash_choices, Schedule, FINGERPRINT_EVENTS};
use crate::util::hash::DistinctHashes;
use failure::{ShrinkSummary, Signature};
pub use settings::Origin;
use shrink::Probe;

/// What an exploration did.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Schedules run.
    pub schedules: u64,
    /// Scheduling points passed, over all schedules.
    pub steps: u64,
    /// Schedules that differed from every other (by their recorded choices); see
    /// [`distinct_per_1000`](Stats::distinct_per_1000). Exact up to 2^20 distinct schedules;
    /// beyond, an estimate within about 0.1% (a sample of the schedules' hashes is kept, so
    /// a campaign of a billion schedules does not keep a billion hashes).
    pub distinct: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// True if the strategy explored everything there was (`Dfs` finished).
    pub exhausted: bool,
    /// The strategy, e.g. `pct(depth=3, seed=0)`.
    pub strategy: String,
    /// Runs not counted in `schedules` because they explored nothing of the search's own
    /// ([`Strategy::wasted`](crate::explore::Strategy::wasted)): sleep-set blocked runs of
    /// `Dfs`, and the runs a part of a split search makes to reach its own subtrees.
    pub wasted: u64,
}

impl Stats {
    /// Schedules per second.
    pub fn schedules_per_sec(&self) -> f64 {
        self.schedules as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Distinct schedules per 1,000 run: a health figure of a sampling strategy. Near 1,000, each
    /// schedule tried something new; far below, the strategy keeps sampling the same few
    /// interleavings (a random walk over a program with many choices stays near 1,000; a
    /// strategy whose priorities collapse onto a few orders does not). 0 before any schedule.
    pub fn distinct_per_1000(&self) -> f64 {
        if self.schedules == 0 {
            return 0.0;
        }
        self.distinct as f64 * 1000.0 / self.schedules as f64
    }
}

impl fmt::Display for Stats {
    /// `explored all 20 schedules (dfs) ...` when exhaustive, else
    /// `ran 1000 schedules (998 distinct, 998.0 per 1,000) of random(seed=0) ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exhausted {
            write!(
                f,
                "explored all {} schedules ({})",
                self.schedules, self.strategy
            )?;
            if self.wasted > 0 {
                write!(f, " and {} wasted runs", self.wasted)?;
            }
        } else {
            write!(
                f,
                "ran {} schedules ({} distinct, {:.1} per 1,000) of {}",
                self.schedules,
                self.distinct,
                self.distinct_per_1000(),
                self.strategy
            )?;
        }
        write!(
            f,
            ", {} steps in {:.2?} ({:.0} schedules/s)",
            self.steps,
            self.elapsed,
            self.schedules_per_sec()
        )
    }
}

/// Where the checker's strategy comes from.
enum Source {
    Builtin(StrategyKind),
    /// A strategy given as a value: the user's own (`false`), or goweave's own adaptor around a
    /// built-in one (`true`: the harness's shard), whose bookkeeping is not user code.
    Custom(Box<dyn explore::Strategy>, bool),
}

/// Explores schedules of a concurrent body on the controlled executor.
///
/// ```
/// use goweave::{Checker, StrategyKind};
///
/// let stats = Checker::new()
///     .strategy(StrategyKind::Pct { depth: 3 })
///     .iterations(50)
///     .run(|| {
///         let h = goweave::go(|| 1);
///         assert_eq!(h.join(), 1);
///     })
///     .unwrap();
/// assert_eq!(stats.schedules, 50);
/// ```
pub struct Checker {
    source: Source,
    iterations: Option<u64>,
    seed: u64,
    time_budget: Option<Duration>,
    max_steps: u64,
    watchdog: Duration,
    shrink_budget: Duration,
    test_name: Option<String>,
    leak_check: bool,
    race_detection: bool,
    timers: TimerMode,
    backtraces: bool,
    /// Print every event of a failing interleaving (`GOWEAVE_TRACE=full`).
    full_trace: bool,
    /// Write the failing interleaving here (`GOWEAVE_TRACE_FILE`).
    trace_file: Option<PathBuf>,
    /// Where main is said to be created in reports: the `run` or `check` call, or the
    /// `#[conc_test]` attribute.
    main_site: Option<&'static Location<'static>>,
}

impl Default for Checker {
    fn default() -> Checker {
        Checker::new()
    }
}

impl Checker {
    /// A checker with the defaults: `Random`, 100 schedules, seed 0, no time budget, 100,000
    /// steps per schedule, a 5 s watchdog and a 5 s shrinking budget. What a report shows
    /// follows `GOWEAVE_BACKTRACE`, `GOWEAVE_TRACE` and `GOWEAVE_TRACE_FILE` even here (a
    /// value that cannot be used is ignored here, and an error in [`Checker::with_env`]),
    /// since they change only the report: see [`Checker::backtraces`].
    pub fn new() -> Checker {
        let shown = report_settings_from_env();
        Checker {
            source: Source::Builtin(StrategyKind::Random),
            iterations: None,
            seed: 0,
            time_budget: None,
            max_steps: 100_000,
            watchdog: Duration::from_secs(5),
            shrink_budget: Duration::from_secs(5),
            test_name: None,
            leak_check: true,
            race_detection: true,
            timers: TimerMode::default(),
            backtraces: shown.backtrace.unwrap_or(false),
            full_trace: shown.full_trace.unwrap_or(false),
            trace_file: shown.trace_file,
            main_site: None,
        }
    }

    /// Apply the `GOWEAVE_*` environment variables over these settings (every variable of
    /// the table in [`settings`]: `GOWEAVE_STRATEGY`, `GOWEAVE_ITERATIONS`, `GOWEAVE_SEED`,
    /// `GOWEAVE_REPLAY`, `GOWEAVE_TIME_BUDGET`, ...). A value that cannot be used is an error
    /// naming the variable.
    pub fn with_env(self) -> Result<Checker, ConfigError> {
        Ok(self.apply(&Settings::from_env()?))
    }

    /// Apply resolved settings over these (see [`settings`]); settings left `None` keep the
    /// checker's values. A replay token replaces the strategy and runs once.
    pub fn apply(mut self, s: &Settings) -> Checker {
        match &s.strategy {
            Some(k @ StrategyKind::Replay(_)) => {
                self.source = Source::Builtin(k.clone());
                self.iterations = None;
            }
            Some(k) => self.source = Source::Builtin(k.clone()),
            None => {
                if let Source::Builtin(k) = &self.source {
                    self.source = Source::Builtin(s.refine(k.clone()));
                }
            }
        }
        if s.iterations.is_some() {
            self.iterations = s.iterations;
        }
        self.seed = s.seed.unwrap_or(self.seed);
        if s.time_budget.is_some() {
            self.time_budget = s.time_budget;
        }
        self.max_steps = s.max_steps.unwrap_or(self.max_steps);
        self.shrink_budget = s.shrink_budget.unwrap_or(self.shrink_budget);
        self.watchdog = s.watchdog.unwrap_or(self.watchdog);
        self.leak_check = s.leak_check.unwrap_or(self.leak_check);
        self.race_detection = s.race_detection.unwrap_or(self.race_detection);
        self.timers = s.timers.unwrap_or(self.timers);
        self.backtraces = s.backtrace.unwrap_or(self.backtraces);
        self.full_trace = s.full_trace.unwrap_or(self.full_trace);
        if s.trace_file.is_some() {
            self.trace_file = s.trace_file.clone();
        }
        self
    }

    /// Use this built-in strategy (default: `StrategyKind::Random`).
    pub fn strategy(mut self, s: StrategyKind) -> Checker {
        self.source = Source::Builtin(s);
        self
    }

    /// Use a strategy of your own. (`seed` does not reach it: seed it yourself.) Its calls are
    /// watched by the [`watchdog`](Checker::watchdog) like the program's goroutines: one that
    /// blocks fails the run as `Blocked`.
    pub fn custom_strategy(mut self, s: impl explore::Strategy + 'static) -> Checker {
        self.source = Source::Custom(Box::new(s), false);
        self
    }

    /// `custom_strategy` for goweave's own strategies and adaptors (the harness's shard, the
    /// fuzzer's and proptest's byte-driven strategy, a recording's follower): the watchdog
    /// treats their bookkeeping as the checker's, not as user code.
    pub(crate) fn adapted_strategy(mut self, s: impl explore::Strategy + 'static) -> Checker {
        self.source = Source::Custom(Box::new(s), true);
        self
    }

    /// Number of schedules to run (default: 100 for the random strategies, until exhausted
    /// for `Dfs`, 1 for `Replay` and `RoundRobin`).
    pub fn iterations(mut self, n: u64) -> Checker {
        self.iterations = Some(n);
        self
    }

    /// The seed of the randomised strategies.
    pub fn seed(mut self, s: u64) -> Checker {
        self.seed = s;
        self
    }

    /// Stop starting new schedules after this much time (the run then passes with what it
    /// explored).
    pub fn time_budget(mut self, d: Duration) -> Checker {
        self.time_budget = Some(d);
        self
    }

    /// Scheduling points per schedule before it counts as a livelock.
    pub fn max_steps(mut self, n: u64) -> Checker {
        self.max_steps = n;
        self
    }

    /// How long a goroutine may go without reaching a scheduling point before the run fails as
    /// blocked outside goweave's control. The checker thread is then told to stop: its
    /// schedule ends at the next scheduling point it reaches, and `run` waits up to a second
    /// for it to be gone. (A thread stuck for good, on a std lock or I/O, cannot be stopped;
    /// the report then says it was left behind.)
    pub fn watchdog(mut self, d: Duration) -> Checker {
        self.watchdog = d;
        self
    }

    /// Time allowed for shrinking a failing schedule (default 5 s; zero turns shrinking off).
    /// Candidates are made and run one at a time, a run still going when the budget ends is cut
    /// short, and the time of one run is kept back for the replay that builds the report; so
    /// the report comes about this long after the failure was found, with the best schedule
    /// found by then, however long the schedule.
    pub fn shrink_budget(mut self, d: Duration) -> Checker {
        self.shrink_budget = d;
        self
    }

    /// Report goroutines still alive after main returns (and the others have wound down) as
    /// leaks (default: on). `GOWEAVE_LEAK_CHECK=0` turns it off from the environment.
    pub fn leak_check(mut self, on: bool) -> Checker {
        self.leak_check = on;
        self
    }

    /// Detect data races (default: on). Off, the happens-before hooks return at once: for
    /// measuring what detection costs, or for a program whose races are known and beside the
    /// point of the test. Under the random walk detection is deferred until a schedule touches
    /// a `RaceCell`; that schedule runs again with the detector on, so a program without cells
    /// pays nothing for it and one with cells gets the same verdicts.
    pub fn race_detection(mut self, on: bool) -> Checker {
        self.race_detection = on;
        self
    }

    /// When the virtual clock may move (default: `TimerMode::MaxStall(DEFAULT_MAX_STALL)`, a
    /// quarter of a second): at a decision where a timer is pending, as a choice of the
    /// strategy, so that a timeout can fire while another goroutine is still working, as long
    /// as no goroutine that could run has then waited longer than the bound (see
    /// [`Checker::max_stall`]); with `TimerMode::AnyTime`, however long they have waited; or,
    /// with `TimerMode::WhenBlocked`, only once every goroutine is blocked, as in Go's
    /// `testing/synctest` (tests that sleep to let others reach a blocking point need this).
    /// `GOWEAVE_TIMERS` sets it from the environment. A replay runs under the mode its token
    /// was recorded with.
    ///
    /// ```
    /// use goweave::time::{self, Duration};
    /// use goweave::{chan, select, Checker, FailureKind, TimerMode};
    ///
    /// // The timeout may win while the worker is still working: its send then blocks forever.
    /// let leaky = |timeout: Duration| {
    ///     move || {
    ///         let result = chan::make::<u32>(0);
    ///         let r = result.clone();
    ///         goweave::go(move || r.send(42));
    ///         select! {
    ///             recv(result) -> _ => {},
    ///             recv(time::after(timeout)) -> _ => {},
    ///         }
    ///     }
    /// };
    /// // A 10 ms timeout races the worker under the default...
    /// let found = Checker::new().iterations(100).run(leaky(Duration::from_millis(10)));
    /// assert_eq!(found.unwrap_err().kind(), FailureKind::Leak);
    /// // ...a one-second one is a guard: it fires only once the worker is blocked...
    /// Checker::new().iterations(100).run(leaky(Duration::from_secs(1))).unwrap();
    /// // ...unless time may keep a runnable goroutine waiting for ever.
    /// let found = Checker::new()
    ///     .timers(TimerMode::AnyTime)
    ///     .iterations(100)
    ///     .run(leaky(Duration::from_secs(1)));
    /// assert_eq!(found.unwrap_err().kind(), FailureKind::Leak);
    /// // Under synctest's rule the worker always sends first.
    /// Checker::new()
    ///     .timers(TimerMode::WhenBlocked)
    ///     .iterations(100)
    ///     .run(leaky(Duration::from_millis(10)))
    ///     .unwrap();
    /// ```
    pub fn timers(mut self, mode: TimerMode) -> Checker {
        self.timers = mode;
        self
    }

    /// Timers may fire while goroutines that could run wait, but only if none has then waited
    /// longer than `bound` (sets `TimerMode::MaxStall(bound)`; the default bound is
    /// [`DEFAULT_MAX_STALL`](crate::explore::DEFAULT_MAX_STALL), 250 ms). A goroutine waits
    /// from when it becomes runnable until it blocks or polls; goroutine operations take no
    /// virtual time, so a timeout longer than the bound never fires ahead of work that does
    /// not itself wait on time (a guard such as `time::after(5s)` around a lock acquisition),
    /// while shorter ones race it. A failure that needed a stall says so in its report
    /// ([`Failure::stall`]).
    ///
    /// ```
    /// use goweave::time::{self, Duration};
    /// use goweave::{chan, select, Checker};
    ///
    /// let guarded = || {
    ///     let done = chan::make::<()>(0);
    ///     let d = done.clone();
    ///     goweave::go(move || d.send(()));
    ///     select! {
    ///         recv(done) -> _ => {},
    ///         recv(time::after(Duration::from_millis(100))) -> _ => panic!("timed out"),
    ///     }
    /// };
    /// // With a 50 ms bound, a 100 ms guard cannot fire while the sender could run.
    /// Checker::new().max_stall(Duration::from_millis(50)).iterations(200).run(guarded).unwrap();
    /// // With the default bound (250 ms) it can: the report says what that assumed (which
    /// // goroutine waited longest: the sender, or main between arming the timer and waiting).
    /// let f = Checker::new().iterations(200).run(guarded).unwrap_err();
    /// let stall = f.stall().unwrap();
    /// assert_eq!(stall.duration, Duration::from_millis(100));
    /// let line = format!("needs goroutine {} to stall for 100ms", stall.goroutine);
    /// assert!(f.to_string().contains(&line));
    /// ```
    pub fn max_stall(mut self, bound: Duration) -> Checker {
        self.timers = TimerMode::MaxStall(bound);
        self
    }

    /// Print full backtraces in reports (default: on when `GOWEAVE_BACKTRACE` is `1` or `full`):
    /// under each goroutine of a deadlock, leak or livelock, where it blocked and where it was
    /// created, as the program's frames with the goweave call on top (a panicking goroutine
    /// gets where it was created). They are captured only while the failing schedule, once
    /// found and shrunk, is replayed for its report, so exploring costs the same either way.
    /// The natural use: `GOWEAVE_BACKTRACE=1 GOWEAVE_REPLAY=<token> cargo test ...`.
    pub fn backtraces(mut self, on: bool) -> Checker {
        self.backtraces = on;
        self
    }

    /// The test name for the replay line (default: the current thread's name, when it looks
    /// like a libtest test name).
    pub fn test_name(mut self, name: impl Into<String>) -> Checker {
        self.test_name = Some(name.into());
        self
    }

    /// The strategy as messages name it: `pct:3, seed 0`, `dfs`, `replay`, or the custom
    /// strategy's own description.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Builtin(s) => s.describe(self.seed),
            Source::Custom(s, _) => s.describe(),
        }
    }

    /// Reports say main was created at `site` (instead of where `run` was called).
    pub(crate) fn main_site(mut self, site: &'static Location<'static>) -> Checker {
        self.main_site = Some(site);
        self
    }

    /// Explore `f`; the first failing schedule is returned as `Err`. Reports say the main
    /// goroutine was created here.
    #[track_caller]
    pub fn run<F>(self, f: F) -> Result<Stats, Failure>
    where
        F: Fn() + Send + Sync + 'static,
    {
        let main_site = self.main_site.unwrap_or(Location::caller());
        self.explore_on_thread(f, main_site, false)
            .and_then(Exploration::into_result)
    }

    /// Explore `f` like [`run`](Checker::run), but go on after a failing schedule, to the end
    /// of the exploration (every schedule of an exhaustive strategy, or `iterations` of a
    /// sampling one), and return every *distinct* failure: the first schedule to fail at a
    /// [`Failure::location`] with a [`FailureKind`] is reported, later ones failing the same
    /// way at the same place are counted in [`Stats::schedules`] only. Each failure is shrunk
    /// (within the [`shrink_budget`](Checker::shrink_budget), each its own), reported and
    /// replayable as `run`'s is, and the first one is the failure `run` would have returned.
    ///
    /// What stops an exploration for good still stops this one, with that failure last: a
    /// replayed token that does not fit the program (`Nondeterminism`), and the watchdog
    /// (`Blocked`: the checker thread is given up on, and the result holds that failure
    /// alone, with empty statistics).
    ///
    /// ```
    /// use goweave::{Checker, FailureKind, StrategyKind};
    /// use goweave::cell::RaceCell;
    /// use std::sync::Arc;
    ///
    /// // A program with two bugs: an unsynchronised write, and a panic in the schedules
    /// // where the child's send lands in the buffer before main looks.
    /// let all = Checker::new()
    ///     .strategy(StrategyKind::Dfs { max_preemptions: None })
    ///     .iterations(u64::MAX)
    ///     .run_to_end(|| {
    ///         let cell = Arc::new(RaceCell::new(0));
    ///         let ch = goweave::chan::make(1);
    ///         let (c, tx) = (cell.clone(), ch.clone());
    ///         let h = goweave::go(move || {
    ///             tx.send(1);
    ///             c.set(1);
    ///         });
    ///         assert!(ch.try_recv().is_err(), "the send came first");
    ///         cell.set(2);
    ///         h.join();
    ///     });
    /// assert!(all.stats.exhausted);
    /// let kinds: Vec<_> = all.kinds().into_iter().collect();
    /// assert_eq!(kinds, [FailureKind::Panic, FailureKind::Race]);
    /// // Each one replays on its own.
    /// for f in &all.failures {
    ///     assert!(f.token().is_some(), "{f}");
    /// }
    /// ```
    #[track_caller]
    pub fn run_to_end<F>(self, f: F) -> Exploration
    where
        F: Fn() + Send + Sync + 'static,
    {
        let main_site = self.main_site.unwrap_or(Location::caller());
        self.explore_on_thread(f, main_site, true)
            .unwrap_or_else(|f| Exploration {
                stats: Stats::default(),
                failures: vec![f],
            })
    }

    /// Run the exploration on the checker thread under the watchdog. `Err` is a failure that
    /// ended it (the first one, unless `to_end`).
    fn explore_on_thread<F>(
        self,
        f: F,
        main_site: &'static Location<'static>,
        to_end: bool,
    ) -> Result<Exploration, Failure>
    where
        F: Fn() + Send + Sync + 'static,
    {
        let monitor = Arc::new(Monitor::default());
        let (tx, rx) = mpsc::channel();
        let watchdog = self.watchdog;
        let test_name = self.test_name.clone().or_else(current_test_name);
        let replay_max_steps = match &self.source {
            Source::Builtin(StrategyKind::Replay(s)) if s.max_steps() > 0 => Some(s.max_steps()),
            _ => None,
        };
        let timers = match &self.source {
            Source::Builtin(StrategyKind::Replay(s)) => s.timers(),
            _ => self.timers,
        };
        let explorer = Explorer {
            f: Arc::new(f),
            monitor: monitor.clone(),
            cfg: Config {
                max_steps: self.max_steps,
                trace: false,
                leak_check: self.leak_check,
                timers,
                main_site: Some(main_site),
                race_detection: self.race_detection,
                ..Config::default()
            },
            replay_max_steps,
            backtraces: self.backtraces,
            full_trace: self.full_trace,
            trace_file: self.trace_file.clone(),
            race_deferred: std::cell::Cell::new(false),
            untimed_bookkeeping: !matches!(self.source, Source::Custom(_, false)),
        };
        let thread = std::thread::Builder::new()
            .name("goweave-controlled".into())
            .spawn(move || {
                // Every schedule of this run executes on this thread.
                let r = explorer.explore(self, test_name, to_end);
                let _ = tx.send(r);
            })
            .expect("goweave: cannot start the checker thread");
        match watch(&rx, &monitor, watchdog) {
            Some(r) => {
                // It has sent its last word: wait for it to be gone.
                let _ = thread.join();
                r
            }
            None => {
                let mut f = blocked_failure(&monitor, watchdog);
                // Stop the checker thread: its schedule ends at the next scheduling point it
                // reaches and it returns. One stuck outside goweave's control (a std lock, I/O)
                // cannot be stopped; the report says so.
                monitor.request_stop();
                if rx.recv_timeout(STOP_GRACE).is_ok() {
                    let _ = thread.join();
                } else {
                    f.0.notes.push(format!(
                        "note: the checker thread did not stop within {STOP_GRACE:?} and was left behind (it is still blocked)"
                    ));
                }
                Err(f)
            }
        }
    }
}

/// Wait for the checker thread's result on `rx`; `None` once the program has made no progress
/// (no scheduling point, while the checker thread is not in its own bookkeeping) for
/// `watchdog`.
fn watch<R>(rx: &mpsc::Receiver<R>, monitor: &Monitor, watchdog: Duration) -> Option<R> {
    let mut last = (monitor.progress.load(Ordering::Relaxed), Instant::now());
    loop {
        match rx.recv_timeout(Duration::from_millis(100).min(watchdog)) {
            Ok(r) => return Some(r),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("goweave: the checker thread died")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let p = monitor.progress.load(Ordering::Relaxed);
                if p != last.0 || monitor.in_bookkeeping() {
                    last = (p, Instant::now());
                } else if last.1.elapsed() >= watchdog {
                    return None;
                }
            }
        }
    }
}

/// How long `Checker::run` waits, once its watchdog has fired, for the checker thread to stop.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Explore `f` with the configuration from the environment (see [`Checker::with_env`]), and
/// panic with the full report if a schedule fails. For use in tests.
///
/// ```
/// goweave::check(|| {
///     let h = goweave::go(|| 2 + 2);
///     assert_eq!(h.join(), 4);
/// });
/// ```
#[track_caller]
pub fn check<F>(f: F) -> Stats
where
    F: Fn() + Send + Sync + 'static,
{
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let expect = settings.expect.flatten();
    let checker = Checker::new().apply(&settings);
    let describe = checker.describe();
    let (result, later) = if settings.all_failures == Some(true) {
        let mut all = checker.run_to_end(f);
        let later = all.failures.split_off(all.failures.len().min(1));
        (all.into_result(), later)
    } else {
        (checker.run(f), Vec::new())
    };
    let found = result.as_ref().err().map(|f| (f.iteration(), f));
    let schedules = match &result {
        Ok(stats) => stats.schedules,
        Err(f) => f.iteration() + 1,
    };
    match judge(expect, found, schedules, &describe) {
        Ok(note) => {
            if let Some(note) = note {
                eprintln!("goweave: {note}{}", also_found(&later));
            }
            result.unwrap_or_else(|_| Stats {
                schedules,
                strategy: describe,
                ..Stats::default()
            })
        }
        Err(msg) => panic!("{msg}{}", also_found(&later)),
    }
}

/// The reports of the failures an `all_failures` exploration found after the first (which
/// decided the verdict), to follow the first one's; empty if there were none.
pub(crate) fn also_found(later: &[Failure]) -> String {
    let mut s = String::new();
    if later.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "\n\ngoweave: and {} more distinct failure{} (all_failures), each with its own replay line:",
        later.len(),
        if later.len() == 1 { "" } else { "s" }
    ));
    for (i, f) in later.iter().enumerate() {
        s.push_str(&format!(
            "\n\n[{}] {} at {}\n{f}",
            i + 2,
            f.kind(),
            f.location()
        ));
    }
    s
}

/// Whether what an exploration found meets the expectation `expect` (`GOWEAVE_EXPECT`,
/// `#[conc_test(expect = ...)]`): `Ok(None)` if nothing was expected and nothing found,
/// `Ok(Some(note))` if the expected kind was found (at schedule `found.0`, from 0), and
/// `Err(message)` to fail with otherwise. `schedules` is how many ran, `describe` names the
/// strategy for the message (`pct:3, seed 0`).
pub fn judge(
    expect: Option<FailureKind>,
    found: Option<(u64, &Failure)>,
    schedules: u64,
    describe: &str,
) -> Result<Option<String>, String> {
    match (expect, found) {
        (None, None) => Ok(None),
        (None, Some((_, f))) => Err(f.to_string()),
        (Some(want), Some((k, f))) if f.kind() == want => Ok(Some(format!(
            "found the expected {want} at schedule {} ({describe}); {}",
            k + 1,
            f.replay_line()
        ))),
        (Some(want), Some((_, f))) => Err(format!(
            "expected a {want}, but the checker found a {}:\n\n{f}",
            f.kind()
        )),
        (Some(want), None) => Err(format!(
            "expected a {want}, but none of the {schedules} schedules explored ({describe}) found one; raise `iterations` or try another strategy"
        )),
    }
}

/// Replay one recorded schedule once: a failure's [`Failure::schedule`], or a token parsed
/// into a [`Schedule`] (which is where an unreadable token is an error value, a
/// [`TokenError`](crate::TokenError)). A schedule from a program that has changed fails with
/// [`FailureKind::Nondeterminism`].
///
/// ```
/// # fn body() { let h = goweave::go(|| 1); assert_eq!(h.join(), 2, "wrong"); }
/// let found = goweave::Checker::new().run(body).unwrap_err();
/// let token = found.token().unwrap().to_string();
/// // Later, or in another process:
/// let schedule: goweave::Schedule = token.parse().expect("a readable token");
/// let again = goweave::replay(&schedule, body).unwrap_err();
/// assert_eq!(again.kind(), found.kind());
/// assert!("gw1:garbage".parse::<goweave::Schedule>().is_err());
/// ```
#[track_caller]
pub fn replay<F>(schedule: &Schedule, f: F) -> Result<Stats, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    Checker::new()
        .strategy(StrategyKind::Replay(schedule.clone()))
        .run(f)
}

/// The report settings of the environment (`GOWEAVE_BACKTRACE`, `GOWEAVE_TRACE`,
/// `GOWEAVE_TRACE_FILE`), each ignored if it cannot be used; read once per process.
fn report_settings_from_env() -> Settings {
    static SHOWN: OnceLock<Settings> = OnceLock::new();
    SHOWN
        .get_or_init(|| {
            let env = Layer::from_env();
            let mut shown = Settings::default();
            for name in ["backtrace", "trace", "trace_file"] {
                if let Some(v) = env.get(name) {
                    let one = Layer::new(Origin::Env).with(name, v);
                    if let Ok(s) = Settings::resolve(&[&one]) {
                        shown.backtrace = shown.backtrace.or(s.backtrace);
                        shown.full_trace = shown.full_trace.or(s.full_trace);
                        shown.trace_file = shown.trace_file.or(s.trace_file);
                    }
                }
            }
            shown
        })
        .clone()
}

/// The calling thread's name if it looks like a libtest test name (`path::to::test`).
fn current_test_name() -> Option<String> {
    let t = std::thread::current();
    let name = t.name()?;
    let plausible = !name.is_empty()
        && name != "main"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    plausible.then(|| name.to_string())
}

/// Runs schedules of one body on the checker thread.
struct Explorer<F> {
    f: Arc<F>,
    monitor: Arc<Monitor>,
    cfg: Config,
    /// A replayed token's own step bound, which replaces `cfg.max_steps`. (Its timer mode
    /// replaces `cfg.timers` from the start.)
    replay_max_steps: Option<u64>,
    /// Capture backtraces in the replay that builds a failure's report.
    backtraces: bool,
    /// Print every event of a failing interleaving.
    full_trace: bool,
    /// Write the failing interleaving here.
    trace_file: Option<PathBuf>,
    /// The next schedule runs with the race detector deferred (the random walk's exploration
    /// only; shrinking and report replays watch from the start).
    race_deferred: std::cell::Cell<bool>,
    /// The watchdog pauses while this thread is in the checker's own bookkeeping between
    /// schedules (`Monitor::bookkeeping`). Not with a custom strategy: its `begin` and `end`
    /// are the user's code, and stay watched.
    untimed_bookkeeping: bool,
}

impl<F: Fn() + Send + Sync + 'static> Explorer<F> {
    /// The step bound schedules run under.
    fn max_steps(&self) -> u64 {
        self.replay_max_steps.unwrap_or(self.cfg.max_steps)
    }

    /// One schedule on a fresh controlled executor (with `backtraces`: capturing them).
    fn once(
        &self,
        strategy: Box<dyn explore::Strategy>,
        trace: bool,
        backtraces: bool,
    ) -> Outcome<()> {
        self.once_until(strategy, trace, backtraces, None)
    }

    /// `once`, cut short at `deadline` (`Outcome::cancelled`).
    fn once_until(
        &self,
        strategy: Box<dyn explore::Strategy>,
        trace: bool,
        backtraces: bool,
        deadline: Option<Instant>,
    ) -> Outcome<()> {
        let body = self.f.clone();
        let mut cfg = self.cfg.clone();
        cfg.trace = trace;
        cfg.backtraces = backtraces;
        cfg.deadline = deadline;
        cfg.race_deferred = self.race_deferred.get();
        if let Some(m) = self.replay_max_steps {
            cfg.max_steps = m;
        }
        self.monitor.set_bookkeeping(false);
        let out = controlled::run(move || body(), strategy, cfg, self.monitor.clone());
        self.monitor.set_bookkeeping(self.untimed_bookkeeping);
        out
    }

    /// Explore; `Err` is a failure that ends the exploration (the first one, unless
    /// `to_end`: then every distinct failure is in the `Exploration`).
    fn explore(
        &self,
        c: Checker,
        test_name: Option<String>,
        to_end: bool,
    ) -> Result<Exploration, Failure> {
        let start = Instant::now();
        self.monitor.set_bookkeeping(self.untimed_bookkeeping);
        // The race detector starts deferred under the random walk, whose schedule `i` depends
        // on `i` alone: a schedule that touches a watched cell runs again with the detector on
        // (and it stays on), one that does not cannot race and needs no clocks.
        let mut defer =
            c.race_detection && matches!(&c.source, Source::Builtin(StrategyKind::Random));
        let (mut strategy, replaying, default_iterations) = match c.source {
            Source::Builtin(s) => {
                let replaying = match &s {
                    StrategyKind::Replay(r) => Some(r.clone()),
                    _ => None,
                };
                (s.build(c.seed), replaying, s.default_iterations())
            }
            Source::Custom(b, _) => (b, None, 100),
        };
        let iterations = c.iterations.unwrap_or(default_iterations);
        let mut stats = Stats {
            strategy: strategy.describe(),
            ..Stats::default()
        };
        let mut distinct = DistinctHashes::default();
        let mut failures: Vec<Failure> = Vec::new();
        let mut i = 0;
        while i < iterations {
            if c.time_budget.is_some_and(|b| i > 0 && start.elapsed() >= b) {
                break;
            }
            if !strategy.begin(i) {
                stats.exhausted = true;
                break;
            }
            let learn = strategy.wants_trace();
            self.race_deferred.set(defer);
            let mut out = self.once(strategy, learn, false);
            self.race_deferred.set(false);
            if out.cancelled {
                // The watchdog gave up on this run and `Checker::run` has returned: end here.
                return Err(Failure::new(FailureKind::Blocked, String::new()));
            }
            if out.race_needed {
                defer = false;
                strategy = out.strategy;
                let again = strategy.begin(i);
                debug_assert!(again, "the random walk replays any iteration");
                out = self.once(strategy, learn, false);
            }
            strategy = out.strategy;
            if learn {
                strategy.observe(&explore::Observation::new(&out.trace, out.result.is_err()));
            }
            strategy.end();
            if strategy.wasted() {
                // Whatever it ran into (a failure too) is explored in a schedule that counts.
                stats.wasted += 1;
                stats.steps += out.steps;
                controlled::recycle(out.schedule);
                i += 1;
                continue;
            }
            stats.schedules += 1;
            stats.steps += out.steps;
            distinct.insert(hash_choices(&out.schedule));
            if replaying.is_none() && out.result.is_ok() {
                controlled::recycle(out.schedule);
                i += 1;
                continue;
            }
            let recorded = Schedule::new(out.schedule, out.events, out.fingerprint)
                .with_max_steps(self.max_steps())
                .with_timers(self.cfg.timers);
            if let Some(expected) = &replaying {
                if let Some(f) = self.check_replay(expected, &recorded, &out.result, &test_name) {
                    if to_end {
                        failures.push(f);
                        break;
                    }
                    return Err(f);
                }
            }
            if let Err(v) = out.result {
                let location = failure::location_of(&v);
                let kind = v.kind();
                if to_end
                    && failures
                        .iter()
                        .any(|f| f.kind() == kind && f.location() == location)
                {
                    i += 1;
                    continue;
                }
                let found = Found {
                    verdict: v,
                    schedule: recorded,
                    preemptions: out.preemptions,
                    steps: out.events,
                    iteration: i,
                    found_by: stats.strategy.clone(),
                };
                let shrink_budget = if replaying.is_some() {
                    Duration::ZERO
                } else {
                    c.shrink_budget
                };
                let mut f = self.failure(found, shrink_budget, test_name.clone());
                f.0.location = location;
                if !to_end {
                    return Err(f);
                }
                failures.push(f);
            }
            i += 1;
        }
        if !stats.exhausted && i == iterations && iterations > 0 {
            // Did the last schedule finish the exploration?
            stats.exhausted = !strategy.begin(iterations);
        }
        // Beyond a million distinct schedules the count is estimated: never above the total.
        stats.distinct = distinct.len().min(stats.schedules);
        stats.elapsed = start.elapsed();
        Ok(Exploration { stats, failures })
    }

    /// A replay that did not follow its token: the report for it, if so.
    fn check_replay(
        &self,
        expected: &Schedule,
        got: &Schedule,
        result: &Result<(), Verdict>,
        test_name: &Option<String>,
    ) -> Option<Failure> {
        let covered = |s: &Schedule| s.events().min(FINGERPRINT_EVENTS);
        let comparable = covered(expected) == covered(got);
        let changed = comparable && expected.fingerprint() != got.fingerprint();
        let diverged = match result {
            Err(Verdict::Nondeterminism { step, reason }) => {
                Some(format!("at step {step} {reason}"))
            }
            Ok(()) if got.choices().len() < expected.choices().len() => Some(format!(
                "the program finished after {} of the schedule's {} choices",
                got.choices().len(),
                expected.choices().len()
            )),
            _ => None,
        };
        let past = expected.events() >= FINGERPRINT_EVENTS && got.events() >= FINGERPRINT_EVENTS;
        let report = report::replay_mismatch(changed, diverged.as_deref(), past)?;
        let mut f = Failure::new(FailureKind::Nondeterminism, report);
        f.0.schedule = expected.clone();
        f.0.original = expected.clone();
        f.0.found_by = "replay".into();
        f.0.test_name = test_name.clone();
        Some(f)
    }

    /// Shrink a failing schedule, replay it with the trace on and build the report.
    fn failure(&self, found: Found, budget: Duration, test_name: Option<String>) -> Failure {
        let sig = Signature::of(&found.verdict);
        let mut shrink_summary = None;
        let mut shrunk_choices = found.schedule.choices().to_vec();
        let mut preemptions = found.preemptions;
        if !budget.is_zero() && !matches!(sig, Signature::Other(FailureKind::Nondeterminism)) {
            // Each candidate run ends by the shrinker's deadline too, so that a long schedule
            // (a livelock of a million steps) cannot overrun it.
            let mut run = |s: Box<dyn explore::Strategy>, deadline: Option<Instant>| {
                let out = self.once_until(s, false, false, deadline);
                let probe = Probe {
                    sig: out.result.as_ref().err().map(Signature::of),
                    choices: out.schedule,
                    preemptions: out.preemptions,
                    steps: out.events,
                    stall: out.stall.map_or(Duration::ZERO, |s| s.duration),
                    cancelled: out.cancelled,
                };
                (probe, out.strategy)
            };
            let started = Instant::now();
            if let Some(s) = shrink::shrink(&sig, found.schedule.choices(), budget, &mut run) {
                let mut summary = ShrinkSummary {
                    before: (found.preemptions, found.steps),
                    after: (s.preemptions, s.steps),
                    runs: s.runs,
                    elapsed: s.elapsed,
                    minimal: s.minimal,
                    timed_out: s.timed_out,
                };
                shrunk_choices = s.choices;
                preemptions = s.preemptions;
                // Then the smallest stall with that few preemptions.
                // A budget too large to add to the clock is no deadline.
                let deadline = started.checked_add(budget);
                let left = |now: Instant| deadline.is_none_or(|d| now < d);
                if !s.stall.is_zero() && left(Instant::now()) {
                    let smaller = shrink_stall::minimise(
                        &sig,
                        s.preemptions,
                        s.stall,
                        deadline,
                        &mut summary.runs,
                        &mut run,
                    );
                    if let Some(b) = smaller {
                        summary.after = (b.preemptions, b.steps);
                        shrunk_choices = b.choices;
                        preemptions = b.preemptions;
                    }
                    summary.elapsed = started.elapsed();
                    summary.timed_out |= !left(Instant::now());
                }
                shrink_summary = Some(summary);
            }
        }
        // Replay the shrunk schedule with the trace (and, if asked for, backtraces) on, for
        // the report.
        let mut notes = Vec::new();
        let mut graph = report::Graph::default();
        let shrunk = Schedule::new(shrunk_choices, 0, 0);
        let attempt = |s: &Schedule| {
            // The hand-offs and blocked intervals for the HTML trace, recorded in this replay only.
            crate::runtime::hbgraph::begin();
            let out = self.once(Box::new(explore::Replay::new(s)), true, self.backtraces);
            let log = crate::runtime::hbgraph::end();
            match &out.result {
                Err(v) if Signature::of(v) == sig => Some((out, log)),
                _ => None,
            }
        };
        let (verdict, trace, schedule, stall) = match attempt(&shrunk).or_else(|| {
            notes.push(
                "note: the shrunk schedule did not fail again on replay; showing the original (is the program nondeterministic?)"
                    .to_string(),
            );
            shrink_summary = None;
            preemptions = found.preemptions;
            attempt(&found.schedule)
        }) {
            Some((out, log)) => {
                let v = out.result.expect_err("checked by attempt");
                let s = Schedule::new(out.schedule, out.events, out.fingerprint)
                    .with_max_steps(self.max_steps())
                    .with_timers(self.cfg.timers);
                graph = report::Graph::new(log, &v, &out.trace);
                if let Some(held) = &out.held {
                    notes.push(report::held_back_note(held, self.cfg.timers));
                }
                (v, out.trace, s, out.stall)
            }
            None => {
                // The backtraces left from the replay are not this verdict's.
                backtraces::forget();
                notes.push(
                    "note: the failing schedule did not fail again on replay, so there is no trace: the program is nondeterministic (real time, I/O, std threads, a HashMap's order or state kept between runs)"
                        .to_string(),
                );
                (found.verdict, Vec::new(), found.schedule.clone(), None)
            }
        };
        if self.backtraces {
            resolve_backtraces(&verdict, || {
                self.monitor.progress.fetch_add(1, Ordering::Relaxed);
            });
        }
        let (kind, text) = report::verdict_report(&verdict);
        let mut f = Failure::new(kind, text);
        f.0.backtraces = self.backtraces;
        f.0.full_trace = self.full_trace;
        f.0.trace = trace;
        f.0.notes = notes;
        f.0.schedule = schedule;
        f.0.original = found.schedule;
        f.0.preemptions = preemptions;
        f.0.original_preemptions = found.preemptions;
        f.0.iteration = found.iteration;
        f.0.found_by = found.found_by;
        f.0.shrink = shrink_summary;
        f.0.test_name = test_name;
        f.0.graph = graph;
        f.0.stall = stall.map(|s| (s, self.cfg.timers));
        if let Some(path) = &self.trace_file {
            let note = report::write_trace_file(&f.page(), path);
            f.0.notes.push(note);
        }
        f
    }
}

/// Resolve the backtraces that `v`'s report will print (`GOWEAVE_BACKTRACE`) on a helper
/// thread, calling `alive` every few milliseconds meanwhile: symbolizing a large debug binary
/// takes a while the first time, and the checker's watchdog must not take that for a hang.
fn resolve_backtraces(v: &Verdict, alive: impl Fn()) {
    let dumps = v.goroutines();
    let mut stacks: Vec<_> = dumps.iter().filter_map(|d| d.stacks.clone()).collect();
    if let Verdict::Panic(p) = v {
        stacks.extend(p.created.clone());
    }
    if stacks.is_empty() {
        return;
    }
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            for st in &stacks {
                st.render();
            }
        });
        while !h.is_finished() {
            alive();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
}

/// A failing schedule as exploration found it.
struct Found {
    verdict: Verdict,
    schedule: Schedule,
    preemptions: u64,
    steps: u64,
    iteration: u64,
    found_by: String,
}

fn blocked_failure(m: &Monitor, after: Duration) -> Failure {
    let g = m.current.load(Ordering::Relaxed);
    let mut f = Failure::new(
        FailureKind::Blocked,
        report::blocked(g, after, m.last_site()),
    );
    f.0.replayable = false;
    f
}

#[cfg(test)]
mod watch_tests {
    use super::*;

    #[test]
    fn the_checkers_own_bookkeeping_is_not_taken_for_a_stuck_program() {
        let monitor = Arc::new(Monitor::default());
        monitor.set_bookkeeping(true);
        let (tx, rx) = mpsc::channel();
        // No scheduling point for ten watchdog periods, all of it in bookkeeping.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            tx.send(7).unwrap();
        });
        assert_eq!(watch(&rx, &monitor, Duration::from_millis(20)), Some(7));
        sender.join().unwrap();
    }

    /// Runs the lowest-numbered goroutine, and takes `pause` at the end of its first schedule.
    struct SlowEnd {
        pause: Duration,
        ended: bool,
    }

    impl explore::Strategy for SlowEnd {
        fn pick_goroutine(&mut self, _d: &explore::Decision<'_>) -> usize {
            0
        }
        fn pick_value(&mut self, _d: &explore::ValueDecision) -> u64 {
            0
        }
        fn end(&mut self) {
            if !std::mem::replace(&mut self.ended, true) {
                std::thread::sleep(self.pause);
            }
        }
    }

    fn slow_end_run(adapted: bool) -> Result<Stats, Failure> {
        let s = SlowEnd {
            pause: Duration::from_millis(1200),
            ended: false,
        };
        let c = Checker::new()
            .iterations(2)
            .watchdog(Duration::from_millis(400));
        let c = if adapted {
            c.adapted_strategy(s)
        } else {
            c.custom_strategy(s)
        };
        c.run(|| crate::go(|| ()).join())
    }

    #[test]
    fn a_user_strategy_stays_watched_and_goweaves_own_adaptors_do_not() {
        // The user's `end` is user code: blocking in it is reported like a blocked goroutine.
        let f = slow_end_run(false).expect_err("a user strategy's 1.2 s pause is watched");
        assert_eq!(f.kind(), FailureKind::Blocked, "{f}");
        // goweave's own adaptor (the harness's shard): its bookkeeping is the checker's.
        let stats = slow_end_run(true).expect("an adaptor's bookkeeping is not watched");
        assert_eq!(stats.schedules, 2);
    }

    #[test]
    fn a_program_without_scheduling_points_is_reported_once_the_watchdog_runs_out() {
        let monitor = Monitor::default();
        let (_tx, rx) = mpsc::channel::<()>();
        let start = Instant::now();
        assert_eq!(watch(&rx, &monitor, Duration::from_millis(20)), None);
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
