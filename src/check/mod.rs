//! The exploration runner: run a body under many schedules of the controlled executor and
//! report the first failure.
//!
//! Each schedule runs on a fresh controlled executor. All schedules of one `run` execute on a
//! dedicated thread, watched by the calling thread: if the running goroutine stops reaching
//! scheduling points for longer than the watchdog allows (it is blocked on a std lock, I/O or a
//! thread join, which goweave cannot see), the run fails with a message naming the goroutine and
//! where it last yielded, instead of hanging.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::explore::{Random, Strategy};
use crate::runtime::executor::controlled::{self, Choice, Config, Monitor, TraceEntry, Verdict};

/// The kind of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// A goroutine panicked.
    Panic,
    /// Every goroutine is blocked.
    Deadlock,
    /// Goroutines were left blocked when main returned.
    Leak,
    /// A data race.
    Race,
    /// The step bound was exceeded.
    Livelock,
    /// A replayed schedule diverged from the program.
    Nondeterminism,
    /// A goroutine blocked outside goweave's control (watchdog).
    Blocked,
}

/// A failing schedule and its report.
#[derive(Clone)]
pub struct Failure {
    kind: FailureKind,
    report: String,
    schedule: Vec<Choice>,
    trace: Vec<TraceEntry>,
    iteration: u64,
}

impl Failure {
    /// What went wrong.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The Go-shaped report (without the replay line).
    pub fn report(&self) -> &str {
        &self.report
    }

    /// The recorded choices of the failing schedule.
    pub fn schedule(&self) -> &[Choice] {
        &self.schedule
    }

    /// The events of the failing schedule.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Which schedule (from 0) failed.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} failure:\n{}", self.kind, self.report)
    }
}

impl std::error::Error for Failure {}

/// What a successful exploration did.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Schedules run.
    pub schedules: u64,
    /// Scheduling points passed, over all schedules.
    pub steps: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Explores schedules of a concurrent body on the controlled executor.
///
/// ```
/// let stats = goweave::Checker::new()
///     .iterations(50)
///     .run(|| {
///         let h = goweave::go(|| 1);
///         assert_eq!(h.join(), 1);
///     })
///     .unwrap();
/// assert_eq!(stats.schedules, 50);
/// ```
pub struct Checker {
    strategy: Option<Box<dyn Strategy>>,
    iterations: u64,
    seed: u64,
    max_steps: u64,
    watchdog: Duration,
}

impl Default for Checker {
    fn default() -> Checker {
        Checker::new()
    }
}

impl Checker {
    /// A checker with the defaults: `Random` strategy, 100 iterations, seed 0.
    pub fn new() -> Checker {
        Checker {
            strategy: None,
            iterations: 100,
            seed: 0,
            max_steps: 100_000,
            watchdog: Duration::from_secs(5),
        }
    }

    /// Use this strategy (default: a seeded random walk).
    pub fn strategy(mut self, s: impl Strategy + 'static) -> Checker {
        self.strategy = Some(Box::new(s));
        self
    }

    /// Number of schedules to run.
    pub fn iterations(mut self, n: u64) -> Checker {
        self.iterations = n;
        self
    }

    /// The seed of the default random strategy.
    pub fn seed(mut self, s: u64) -> Checker {
        self.seed = s;
        self
    }

    /// Scheduling points per schedule before it counts as a livelock.
    pub fn max_steps(mut self, n: u64) -> Checker {
        self.max_steps = n;
        self
    }

    /// How long a goroutine may go without reaching a scheduling point before the run fails as
    /// blocked outside goweave's control.
    pub fn watchdog(mut self, d: Duration) -> Checker {
        self.watchdog = d;
        self
    }

    /// Explore `f`; the first failing schedule is returned as `Err`.
    pub fn run<F>(self, f: F) -> Result<Stats, Failure>
    where
        F: Fn() + Send + Sync + 'static,
    {
        let monitor = Arc::new(Monitor::default());
        let (tx, rx) = mpsc::channel();
        let m = monitor.clone();
        let Checker {
            strategy,
            iterations,
            seed,
            max_steps,
            watchdog,
        } = self;
        let f = Arc::new(f);
        std::thread::Builder::new()
            .name("goweave-controlled".into())
            .spawn(move || {
                let start = Instant::now();
                let mut strategy = strategy.unwrap_or_else(|| Box::new(Random::new(seed)));
                let mut stats = Stats::default();
                for i in 0..iterations {
                    if !strategy.begin(i) {
                        break;
                    }
                    let body = f.clone();
                    let cfg = Config {
                        max_steps,
                        ..Config::default()
                    };
                    let out = controlled::run(move || body(), strategy, cfg, m.clone());
                    strategy = out.strategy;
                    strategy.end();
                    stats.schedules += 1;
                    stats.steps += out.steps;
                    if let Err(v) = out.result {
                        let _ = tx.send(Err(failure_of(v, out.schedule, out.trace, i)));
                        return;
                    }
                }
                stats.elapsed = start.elapsed();
                let _ = tx.send(Ok(stats));
            })
            .expect("goweave: cannot start the checker thread");
        let mut last = (monitor.progress.load(Ordering::Relaxed), Instant::now());
        loop {
            match rx.recv_timeout(Duration::from_millis(100).min(watchdog)) {
                Ok(r) => return r,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("goweave: the checker thread died")
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let p = monitor.progress.load(Ordering::Relaxed);
                    if p != last.0 {
                        last = (p, Instant::now());
                    } else if last.1.elapsed() >= watchdog {
                        return Err(blocked_failure(&monitor, watchdog));
                    }
                }
            }
        }
    }
}

fn blocked_failure(m: &Monitor, after: Duration) -> Failure {
    let g = m.current.load(Ordering::Relaxed);
    let site = m
        .last_site()
        .map_or_else(|| "<unknown>".to_string(), |s| s.to_string());
    let who = if g == 0 {
        "the scheduler".to_string()
    } else {
        format!("goroutine {g}")
    };
    Failure {
        kind: FailureKind::Blocked,
        report: format!(
            "goweave: {who} has not reached a scheduling point for {after:?}: it is blocked outside goweave's control (a std lock, I/O, a std thread join or sleep) or computing without yielding; it last yielded at {site}"
        ),
        schedule: Vec::new(),
        trace: Vec::new(),
        iteration: 0,
    }
}

fn failure_of(
    v: Verdict,
    schedule: Vec<Choice>,
    trace: Vec<TraceEntry>,
    iteration: u64,
) -> Failure {
    let (kind, report) = match v {
        Verdict::Panic(p) => (FailureKind::Panic, format!("{p}\n")),
        Verdict::Deadlock(dump) => {
            let mut s = String::from("all goroutines are asleep - deadlock!\n");
            for d in dump {
                s.push('\n');
                s.push_str(&d.to_string());
                s.push('\n');
            }
            (FailureKind::Deadlock, s)
        }
        Verdict::Livelock {
            max_steps,
            goroutines,
        } => {
            let mut s = format!(
                "livelock: the schedule exceeded {max_steps} scheduling points; goroutines still running:\n"
            );
            for d in goroutines {
                s.push('\n');
                s.push_str(&d.to_string());
                s.push('\n');
            }
            (FailureKind::Livelock, s)
        }
    };
    Failure {
        kind,
        report,
        schedule,
        trace,
        iteration,
    }
}
