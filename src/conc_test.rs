//! The runtime side of [`#[conc_test]`](crate::conc_test): test descriptors, their
//! registration, configuration from options, `GOWEAVE_*` variables and harness flags, and the
//! exploration of one test (or one disjoint part of its schedules).
//!
//! Not a stable API: the attribute's expansion and `goweave-harness` use it.
//!
//! Invariants:
//! - Every `#[conc_test]` puts exactly one [`ConcTest`] into [`TESTS`]; its `body` runs the
//!   test once and panics if it fails (an `Err` return becomes a panic).
//! - Configuration precedence, lowest first: the checker's defaults, the attribute's options,
//!   `GOWEAVE_*` variables, harness flags. A replay token from any of them runs exactly that
//!   schedule once, unless a later layer names a strategy.
//! - Schedule `k` of a test is the same schedule whichever [`Part`] runs it, for the strategies
//!   whose schedules depend only on (seed, k) (`random`, `pos`): [`Part`]s with the same
//!   stride and distinct offsets explore disjoint sets of schedules whose union is the whole run.

use std::fmt::{self, Debug};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::check::{Checker, Failure, FailureKind};
use crate::explore::{self, Decision, StrategyKind, TimerMode, ValueDecision};

#[doc(hidden)]
pub use linkme as __linkme;

/// Every `#[conc_test]` linked into this binary, in no particular order (see
/// [`ConcTest::all`]).
#[linkme::distributed_slice]
pub static TESTS: [ConcTest];

/// One `#[conc_test]` function, as registered by the attribute.
#[derive(Debug)]
pub struct ConcTest {
    /// The function's name.
    pub name: &'static str,
    /// `module_path!()` where it was written (starting with the crate name).
    pub module_path: &'static str,
    /// `file!()` of the attribute.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// Where the attribute is: reports say the test's main goroutine was created there.
    pub site: &'static std::panic::Location<'static>,
    /// Marked `#[ignore]`.
    pub ignored: bool,
    /// The options written in the attribute.
    pub spec: Spec,
    /// Runs the test body once; panics if it fails.
    pub body: fn(),
}

impl ConcTest {
    /// The name libtest gives the test: the module path without the crate, then the function
    /// (e.g. `kernels::lost_update`).
    pub fn path(&self) -> String {
        match self.module_path.split_once("::") {
            Some((_, rest)) => format!("{rest}::{}", self.name),
            None => self.name.to_string(),
        }
    }

    /// Every registered test, sorted by [`path`](ConcTest::path).
    pub fn all() -> Vec<&'static ConcTest> {
        let mut v: Vec<&'static ConcTest> = TESTS.iter().collect();
        v.sort_by_cached_key(|t| t.path());
        v
    }
}

/// A strategy as the attribute names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyName {
    /// `"random"`
    Random,
    /// `"pct"`
    Pct,
    /// `"pos"`
    Pos,
    /// `"dfs"`
    Dfs,
    /// `"fuzz"`
    Fuzz,
}

/// The options written in `#[conc_test(...)]`; `None` where not written. The macro has
/// checked every value.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spec {
    /// `strategy = "..."`
    pub strategy: Option<StrategyName>,
    /// `iterations = N`
    pub iterations: Option<u64>,
    /// `seed = N`
    pub seed: Option<u64>,
    /// `depth = N` (pct)
    pub depth: Option<u64>,
    /// `max_preemptions = N` (dfs)
    pub max_preemptions: Option<u64>,
    /// `time_budget = "5s"`
    pub time_budget: Option<Duration>,
    /// `max_steps = N`
    pub max_steps: Option<u64>,
    /// `replay = "gw1:..."`
    pub replay: Option<&'static str>,
    /// `leak_check = false`
    pub leak_check: Option<bool>,
    /// `expect = "..."`
    pub expect: Option<FailureKind>,
    /// `timers = "any_time" | "when_blocked"`
    pub timers: Option<TimerMode>,
}

/// What a `#[conc_test]` function may return: `()` or `Result<(), E>` with `E: Debug`.
#[diagnostic::on_unimplemented(
    message = "a `#[conc_test]` function must return `()` or `Result<(), E>` with `E: Debug`, not `{Self}`",
    label = "this return type"
)]
pub trait TestReturn {
    /// `Err` with the error's debug text if the test failed.
    fn into_result(self) -> Result<(), String>;
}

impl TestReturn for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Debug> TestReturn for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Ends one run of a test body: an `Err` fails the schedule like a panic.
#[track_caller]
pub fn finish<R: TestReturn>(r: R) {
    if let Err(e) = r.into_result() {
        panic!("the test returned Err: {e}");
    }
}

/// Where a setting came from, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `GOWEAVE_*` environment variable.
    Env,
    /// A harness command-line flag.
    Flag,
}

/// Settings that override a test's options, as text (from the environment or the harness
/// command line); `None` where not given.
#[derive(Clone, Debug)]
pub struct Overrides {
    /// Where these came from.
    pub source: Source,
    /// `random`, `pct`, `pct:3`, `pos`, `dfs`, `dfs:2`, `round_robin`, `fuzz` or a token.
    pub strategy: Option<String>,
    /// Schedules to explore.
    pub iterations: Option<String>,
    /// Campaign seed.
    pub seed: Option<String>,
    /// PCT depth.
    pub depth: Option<String>,
    /// DFS preemption bound.
    pub max_preemptions: Option<String>,
    /// Wall-clock budget.
    pub time_budget: Option<String>,
    /// Steps per schedule.
    pub max_steps: Option<String>,
    /// A replay token.
    pub replay: Option<String>,
    /// `true`/`false`.
    pub leak_check: Option<String>,
    /// A failure kind, or `none`.
    pub expect: Option<String>,
    /// `any_time` or `when_blocked`.
    pub timers: Option<String>,
}

impl Overrides {
    /// No overrides.
    pub fn none(source: Source) -> Overrides {
        Overrides {
            source,
            strategy: None,
            iterations: None,
            seed: None,
            depth: None,
            max_preemptions: None,
            time_budget: None,
            max_steps: None,
            replay: None,
            leak_check: None,
            expect: None,
            timers: None,
        }
    }

    /// The `GOWEAVE_*` variables of this process (empty values count as unset).
    pub fn from_env() -> Overrides {
        Overrides::from_lookup(|k| std::env::var(k).ok())
    }

    /// The `GOWEAVE_*` variables as `lookup` reports them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Overrides {
        let get = |field: &str| {
            lookup(&env_name(field))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Overrides {
            source: Source::Env,
            strategy: get("strategy"),
            iterations: get("iterations"),
            seed: get("seed"),
            depth: get("depth"),
            max_preemptions: get("max_preemptions"),
            time_budget: get("time_budget"),
            max_steps: get("max_steps"),
            replay: get("replay"),
            leak_check: get("leak_check"),
            expect: get("expect"),
            timers: get("timers"),
        }
    }

    /// How the user wrote the setting `field` (e.g. `GOWEAVE_MAX_STEPS` or `--max-steps`).
    pub fn label(&self, field: &str) -> String {
        match self.source {
            Source::Env => env_name(field),
            Source::Flag => format!("--{}", field.replace('_', "-")),
        }
    }
}

/// `max_steps` → `GOWEAVE_MAX_STEPS`.
fn env_name(field: &str) -> String {
    format!("GOWEAVE_{}", field.to_ascii_uppercase())
}

/// A setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The resolved configuration of one test run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The strategy (a replay is `StrategyKind::Replay`); always set.
    pub strategy: Option<StrategyKind>,
    /// Schedules to explore (all for an exhaustive search).
    pub iterations: u64,
    /// Campaign seed.
    pub seed: u64,
    /// Wall-clock budget of the exploration.
    pub time_budget: Option<Duration>,
    /// Steps per schedule before a livelock is reported (checker default if `None`).
    pub max_steps: Option<u64>,
    /// Report goroutines left behind as leaks.
    pub leak_check: bool,
    /// The failure kind the test must find.
    pub expect: Option<FailureKind>,
    /// When virtual time may pass (a replay uses its token's mode instead).
    pub timers: TimerMode,
}

impl Config {
    /// The configuration of a test with options `spec`, overridden by `layers` in order
    /// (usually the environment, then harness flags).
    pub fn resolve(spec: &Spec, layers: &[&Overrides]) -> Result<Config, ConfigError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Kind {
            Random,
            Pct,
            Pos,
            Dfs,
            RoundRobin,
            Fuzz,
        }
        let mut kind = match spec.strategy {
            None | Some(StrategyName::Random) => Kind::Random,
            Some(StrategyName::Pct) => Kind::Pct,
            Some(StrategyName::Pos) => Kind::Pos,
            Some(StrategyName::Dfs) => Kind::Dfs,
            Some(StrategyName::Fuzz) => Kind::Fuzz,
        };
        let mut depth: Option<u32> = spec.depth.map(|d| d.min(u32::MAX as u64) as u32);
        let mut max_preemptions: Option<u32> =
            spec.max_preemptions.map(|d| d.min(u32::MAX as u64) as u32);
        let mut replay: Option<String> = spec.replay.map(str::to_string);
        let mut corpus: Option<std::path::PathBuf> = None;
        let mut iterations = spec.iterations;
        let mut seed = spec.seed;
        let mut time_budget = spec.time_budget;
        let mut max_steps = spec.max_steps;
        let mut leak_check = spec.leak_check.unwrap_or(true);
        let mut expect = spec.expect;
        let mut timers = spec.timers.unwrap_or_default();

        for o in layers {
            let err = |field: &str, value: &str, why: String| {
                ConfigError(format!("goweave: {}={value:?}: {why}", o.label(field)))
            };
            if let Some(s) = &o.strategy {
                replay = None;
                let st = StrategyKind::from_str(s).map_err(|why| err("strategy", s, why))?;
                match st {
                    StrategyKind::Random => kind = Kind::Random,
                    StrategyKind::Pct { depth: d } => {
                        kind = Kind::Pct;
                        if s.contains(':') {
                            depth = Some(d);
                        }
                    }
                    StrategyKind::Pos => kind = Kind::Pos,
                    StrategyKind::Dfs { max_preemptions: m } => {
                        kind = Kind::Dfs;
                        if m.is_some() {
                            max_preemptions = m;
                        }
                    }
                    StrategyKind::RoundRobin => kind = Kind::RoundRobin,
                    StrategyKind::Fuzz { corpus: c } => {
                        kind = Kind::Fuzz;
                        corpus = c;
                    }
                    StrategyKind::Replay(_) => replay = Some(s.clone()),
                }
            }
            if let Some(v) = &o.replay {
                replay = Some(v.clone());
            }
            if let Some(v) = &o.depth {
                let d = parse_count(v).map_err(|why| err("depth", v, why))?;
                if d == 0 {
                    return Err(err("depth", v, "PCT depth must be at least 1".into()));
                }
                depth = Some(d.min(u32::MAX as u64) as u32);
            }
            if let Some(v) = &o.max_preemptions {
                let m = parse_count(v).map_err(|why| err("max_preemptions", v, why))?;
                max_preemptions = Some(m.min(u32::MAX as u64) as u32);
            }
            if let Some(v) = &o.iterations {
                let n = parse_count(v).map_err(|why| err("iterations", v, why))?;
                if n == 0 {
                    return Err(err("iterations", v, "must be at least 1".into()));
                }
                iterations = Some(n);
            }
            if let Some(v) = &o.seed {
                seed = Some(parse_seed(v).map_err(|why| err("seed", v, why))?);
            }
            if let Some(v) = &o.time_budget {
                let d = parse_duration(v).map_err(|why| err("time_budget", v, why))?;
                if d.is_zero() {
                    return Err(err("time_budget", v, "must be longer than 0s".into()));
                }
                time_budget = Some(d);
            }
            if let Some(v) = &o.max_steps {
                let n = parse_count(v).map_err(|why| err("max_steps", v, why))?;
                if n == 0 {
                    return Err(err("max_steps", v, "must be at least 1".into()));
                }
                max_steps = Some(n);
            }
            if let Some(v) = &o.leak_check {
                leak_check = parse_bool(v).map_err(|why| err("leak_check", v, why))?;
            }
            if let Some(v) = &o.expect {
                expect = parse_expect(v).map_err(|why| err("expect", v, why))?;
            }
            if let Some(v) = &o.timers {
                timers = v.parse().map_err(|why| err("timers", v, why))?;
            }
        }

        let strategy = if let Some(t) = &replay {
            match StrategyKind::from_str(t) {
                Ok(s @ StrategyKind::Replay(_)) => Some(s),
                Ok(_) => {
                    return Err(ConfigError(format!(
                        "goweave: {t:?} is not a replay token (tokens start with gw1:)"
                    )))
                }
                Err(why) => return Err(ConfigError(format!("goweave: replay token: {why}"))),
            }
        } else {
            match kind {
                Kind::Random => Some(StrategyKind::Random),
                Kind::Pct => Some(StrategyKind::Pct {
                    depth: depth.unwrap_or(3),
                }),
                Kind::Pos => Some(StrategyKind::Pos),
                Kind::Dfs => Some(StrategyKind::Dfs { max_preemptions }),
                Kind::RoundRobin => Some(StrategyKind::RoundRobin),
                Kind::Fuzz => Some(StrategyKind::Fuzz { corpus }),
            }
        };
        let iterations = match &strategy {
            Some(StrategyKind::Replay(_)) => 1,
            Some(s) => iterations.unwrap_or_else(|| s.default_iterations()),
            None => iterations.unwrap_or(100),
        };
        Ok(Config {
            strategy,
            iterations,
            seed: seed.unwrap_or(0),
            time_budget,
            max_steps,
            leak_check,
            expect,
            timers,
        })
    }

    /// True if schedule `k` depends only on the seed and `k`, so a run can be split into
    /// disjoint parts explored separately.
    pub fn splittable(&self) -> bool {
        matches!(
            self.strategy,
            Some(StrategyKind::Random | StrategyKind::Pct { .. } | StrategyKind::Pos)
        )
    }

    /// A short description, such as `pct:3, seed 7`.
    pub fn describe(&self) -> String {
        match &self.strategy {
            Some(StrategyKind::Replay(_)) => "replay".into(),
            Some(s @ (StrategyKind::Dfs { .. } | StrategyKind::RoundRobin)) => s.to_string(),
            Some(s) => format!("{s}, seed {}", self.seed),
            None => format!("fuzz, seed {}", self.seed),
        }
    }
}

/// A count such as `1000`, `10_000` or `1e6`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t: String = s.trim().chars().filter(|&c| c != '_').collect();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
        _ => Err("expected a whole number such as 1000".into()),
    }
}

/// A seed: decimal or `0x` hexadecimal.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => s.replace('_', "").parse::<u64>(),
    };
    r.map_err(|_| "expected a number (decimal, or hexadecimal with 0x)".into())
}

/// A duration: `500ms`, `10s`, `1.5s`, `2m`, `1h`, or a sequence such as `1m30s`; a bare
/// number is seconds. (The attribute's `time_budget` accepts the same text.)
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration; write e.g. 500ms, 10s, 1.5s, 2m or 1m30s");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(bad());
        }
        let x: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match rest[..u].trim() {
            "" if rest.len() == u && total == 0.0 => x,
            "s" | "sec" | "secs" => x,
            "ms" => x / 1e3,
            "us" | "µs" => x / 1e6,
            "ns" => x / 1e9,
            "m" | "min" => x * 60.0,
            "h" => x * 3600.0,
            _ => return Err(bad()),
        };
        total += secs;
        rest = &rest[u..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// A failure kind as `expect` names it; `none` clears the expectation.
pub fn parse_expect(s: &str) -> Result<Option<FailureKind>, String> {
    Ok(Some(match s.trim().to_ascii_lowercase().as_str() {
        "none" => return Ok(None),
        "deadlock" => FailureKind::Deadlock,
        "leak" => FailureKind::Leak,
        "race" => FailureKind::Race,
        "panic" => FailureKind::Panic,
        "livelock" => FailureKind::Livelock,
        _ => return Err("expected deadlock, leak, race, panic, livelock or none".into()),
    }))
}

/// The lower-case name of a failure kind (`"deadlock"`).
pub fn kind_name(k: FailureKind) -> &'static str {
    match k {
        FailureKind::Panic => "panic",
        FailureKind::Deadlock => "deadlock",
        FailureKind::Leak => "leak",
        FailureKind::Race => "race",
        FailureKind::Livelock => "livelock",
        FailureKind::Nondeterminism => "nondeterminism",
        FailureKind::Blocked => "blocked",
    }
}

/// Which schedules of a test one exploration runs: schedule `k` (from 0) belongs to it when
/// `k % stride == offset`.
#[derive(Clone, Debug)]
pub struct Part {
    /// The first schedule of the part.
    pub offset: u64,
    /// The distance between its schedules.
    pub stride: u64,
    /// Schedules at or after this index are skipped (shared between parts that search for the
    /// first failure together).
    pub stop: Option<Arc<AtomicU64>>,
    /// Incremented at the start of every schedule (for progress lines).
    pub progress: Option<Arc<AtomicU64>>,
}

impl Part {
    /// Every schedule.
    pub fn whole() -> Part {
        Part {
            offset: 0,
            stride: 1,
            stop: None,
            progress: None,
        }
    }

    /// Part `index` (from 0) of `count` parts.
    pub fn nth(index: u64, count: u64) -> Part {
        assert!(count >= 1 && index < count, "part {index} of {count}");
        Part {
            offset: index,
            stride: count,
            stop: None,
            progress: None,
        }
    }

    /// The number of schedules of `0..total` in this part.
    pub fn count(&self, total: u64) -> u64 {
        if self.offset >= total {
            0
        } else {
            (total - self.offset - 1) / self.stride + 1
        }
    }
}

/// What exploring (a part of) a test found.
#[derive(Clone, Debug)]
pub struct Exploration {
    /// Schedules run.
    pub schedules: u64,
    /// Scheduling points passed (known when no failure was found).
    pub steps: Option<u64>,
    /// Wall time.
    pub elapsed: Duration,
    /// The first failure, with the index of its schedule in the whole run.
    pub failure: Option<(u64, Failure)>,
}

/// Restricts a strategy to the schedules of a [`Part`], and stops at a shared bound.
struct Sliced {
    inner: Box<dyn explore::Strategy>,
    offset: u64,
    stride: u64,
    stop: Option<Arc<AtomicU64>>,
    /// Schedules begun by this part.
    begun: Arc<AtomicU64>,
    progress: Option<Arc<AtomicU64>>,
}

impl explore::Strategy for Sliced {
    fn begin(&mut self, i: u64) -> bool {
        let k = self.offset + i * self.stride;
        if self
            .stop
            .as_ref()
            .is_some_and(|s| k >= s.load(Ordering::Relaxed))
        {
            return false;
        }
        if !self.inner.begin(k) {
            return false;
        }
        self.begun.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.inner.pick_goroutine(d)
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.inner.pick_value(d)
    }

    fn end(&mut self) {
        self.inner.end()
    }

    fn wants_trace(&self) -> bool {
        self.inner.wants_trace()
    }

    fn observe(&mut self, run: &explore::Observation<'_>) {
        self.inner.observe(run)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Explore the schedules of `part` of a test whose body is `body`, configured by `cfg`.
/// `name` is the test's libtest name (for the replay line). A part that a non-splittable
/// strategy cannot serve (see [`Config::splittable`]) runs everything if its offset is 0 and
/// nothing otherwise.
pub fn explore(
    body: fn(),
    cfg: &Config,
    part: &Part,
    name: &str,
) -> Result<Exploration, ConfigError> {
    let Some(strategy) = &cfg.strategy else {
        return Err(ConfigError("goweave: no strategy configured".into()));
    };
    // A fuzzing campaign learns from its own past, so its schedules cannot be dealt out by
    // index: each part runs its share of the schedules as a campaign of its own, with its own
    // seed, and parts that name a corpus directory share it (one subdirectory per test), so
    // that their corpora merge.
    let fuzz = matches!(strategy, StrategyKind::Fuzz { .. });
    let fuzz_seed = cfg
        .seed
        .wrapping_add(part.offset.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let per_test;
    let strategy = match strategy {
        StrategyKind::Fuzz { corpus: Some(root) } => {
            per_test = StrategyKind::Fuzz {
                corpus: Some(root.join(corpus_dir_name(name))),
            };
            &per_test
        }
        s => s,
    };
    let shrink_budget =
        match std::env::var("GOWEAVE_SHRINK_BUDGET") {
            Ok(v) if !v.trim().is_empty() => Some(parse_duration(&v).map_err(|why| {
                ConfigError(format!("goweave: GOWEAVE_SHRINK_BUDGET={v:?}: {why}"))
            })?),
            _ => None,
        };
    let (offset, stride) = if cfg.splittable() || fuzz {
        (part.offset, part.stride)
    } else if part.offset == 0 {
        (0, 1)
    } else {
        return Ok(Exploration {
            schedules: 0,
            steps: Some(0),
            elapsed: Duration::ZERO,
            failure: None,
        });
    };
    let mine = Part {
        offset,
        stride,
        stop: None,
        progress: None,
    };
    let begun = Arc::new(AtomicU64::new(0));
    let mut checker = Checker::new().seed(cfg.seed).test_name(name);
    checker = if let StrategyKind::Replay(_) = strategy {
        // The checker's own replay checks that the program still matches the token.
        checker.strategy(strategy.clone()).iterations(1)
    } else {
        checker
            .custom_strategy(Sliced {
                inner: strategy.build(if fuzz { fuzz_seed } else { cfg.seed }),
                offset,
                stride,
                stop: part.stop.clone(),
                begun: begun.clone(),
                progress: part.progress.clone(),
            })
            .iterations(mine.count(cfg.iterations))
    };
    if let Some(m) = cfg.max_steps {
        checker = checker.max_steps(m);
    }
    checker = checker.leak_check(cfg.leak_check).timers(cfg.timers);
    if let Some(b) = cfg.time_budget {
        checker = checker.time_budget(b);
    }
    if let Some(b) = shrink_budget {
        checker = checker.shrink_budget(b);
    }
    let start = Instant::now();
    // Reports say main was created at the test's attribute, when `name` is a registered test.
    if let Some(t) = ConcTest::all().into_iter().find(|t| t.path() == name) {
        checker = checker.main_site(t.site);
    }
    let result = checker.run(body);
    let elapsed = start.elapsed();
    Ok(match result {
        Ok(stats) => Exploration {
            schedules: stats.schedules,
            steps: Some(stats.steps),
            elapsed,
            failure: None,
        },
        Err(f) => Exploration {
            schedules: begun.load(Ordering::Relaxed).max(1),
            steps: None,
            elapsed,
            failure: Some((offset + f.iteration() * stride, f)),
        },
    })
}

/// A test's corpus subdirectory: its path with `::` as `.` and anything unusual as `_`.
fn corpus_dir_name(test: &str) -> String {
    test.replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Decide a test's outcome from what its exploration found: `Ok` with a note (the expected
/// failure that was found) or `Err` with the message to fail with.
pub fn judge(cfg: &Config, ex: &Exploration) -> Result<Option<String>, String> {
    match (cfg.expect, &ex.failure) {
        (None, None) => Ok(None),
        (None, Some((_, f))) => Err(f.to_string()),
        (Some(want), Some((k, f))) if f.kind() == want => Ok(Some(format!(
            "found the expected {} at schedule {} ({}); {}",
            kind_name(want),
            k + 1,
            cfg.describe(),
            f.replay_line()
        ))),
        (Some(want), Some((_, f))) => Err(format!(
            "expected a {}, but the checker found a {}:\n\n{f}",
            kind_name(want),
            kind_name(f.kind())
        )),
        (Some(want), None) => Err(format!(
            "expected a {}, but none of the {} schedules explored ({}) found one; raise `iterations` or try another strategy",
            kind_name(want),
            ex.schedules,
            cfg.describe()
        )),
    }
}

/// The body of the `#[test]` function that `#[conc_test]` generates: explore the test with
/// its options and the `GOWEAVE_*` variables, and panic with the report if it fails.
pub fn run_test(t: &'static ConcTest) {
    let env = Overrides::from_env();
    let cfg = match Config::resolve(&t.spec, &[&env]) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let ex = match explore(t.body, &cfg, &Part::whole(), &t.path()) {
        Ok(ex) => ex,
        Err(e) => panic!("{e}"),
    };
    match judge(&cfg, &ex) {
        Ok(Some(note)) => eprintln!("goweave: {}: {note}", t.path()),
        Ok(None) => {}
        Err(msg) => panic!("{msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_count_and_partition() {
        for total in 0..20 {
            for n in 1..5 {
                let sum: u64 = (0..n).map(|i| Part::nth(i, n).count(total)).sum();
                assert_eq!(sum, total, "total {total}, {n} parts");
            }
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn layers_override_in_order() {
        let spec = Spec {
            strategy: Some(StrategyName::Pct),
            depth: Some(5),
            iterations: Some(10),
            ..Spec::default()
        };
        let cfg = Config::resolve(&spec, &[]).unwrap();
        assert_eq!(cfg.strategy, Some(StrategyKind::Pct { depth: 5 }));
        assert_eq!(cfg.iterations, 10);

        let mut env = Overrides::none(Source::Env);
        env.strategy = Some("pct".into());
        env.iterations = Some("1_000".into());
        let mut flags = Overrides::none(Source::Flag);
        flags.seed = Some("0x10".into());
        let cfg = Config::resolve(&spec, &[&env, &flags]).unwrap();
        assert_eq!(cfg.strategy, Some(StrategyKind::Pct { depth: 5 }));
        assert_eq!((cfg.iterations, cfg.seed), (1000, 16));

        env.strategy = Some("dfs:2".into());
        let cfg = Config::resolve(&spec, &[&env]).unwrap();
        assert_eq!(
            cfg.strategy,
            Some(StrategyKind::Dfs {
                max_preemptions: Some(2)
            })
        );
    }

    #[test]
    fn bad_values_name_their_source() {
        let mut env = Overrides::none(Source::Env);
        env.max_steps = Some("lots".into());
        let e = Config::resolve(&Spec::default(), &[&env]).unwrap_err();
        assert!(e.0.contains("GOWEAVE_MAX_STEPS=\"lots\""), "{e}");
        let mut flags = Overrides::none(Source::Flag);
        flags.time_budget = Some("soon".into());
        let e = Config::resolve(&Spec::default(), &[&flags]).unwrap_err();
        assert!(e.0.contains("--time-budget=\"soon\""), "{e}");
        flags.time_budget = None;
        flags.expect = Some("bug".into());
        assert!(Config::resolve(&Spec::default(), &[&flags]).is_err());
    }

    #[test]
    fn fuzz_runs_and_names_a_corpus_per_test() {
        let spec = Spec {
            strategy: Some(StrategyName::Fuzz),
            iterations: Some(20),
            ..Spec::default()
        };
        let cfg = Config::resolve(&spec, &[]).unwrap();
        assert_eq!(cfg.strategy, Some(StrategyKind::Fuzz { corpus: None }));
        let ex = explore(|| {}, &cfg, &Part::whole(), "t").unwrap();
        assert_eq!(ex.schedules, 20);
        let mut flags = Overrides::none(Source::Flag);
        flags.strategy = Some("fuzz:target/corpus".into());
        let cfg = Config::resolve(&Spec::default(), &[&flags]).unwrap();
        assert_eq!(
            cfg.strategy,
            Some(StrategyKind::Fuzz {
                corpus: Some("target/corpus".into())
            })
        );
        assert_eq!(corpus_dir_name("my_crate::a::b<1>"), "my_crate.a.b_1_");
    }
}
