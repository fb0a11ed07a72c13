//! The checker's settings: one resolver for every entry point.
//!
//! A setting can be given in up to four layers, lowest first: the checker's defaults, the
//! `#[conc_test(...)]` attribute, the `GOWEAVE_*` environment variables, and the harness's
//! command-line flags. [`Settings::resolve`] merges the layers it is given in that order;
//! [`Checker::with_env`](super::Checker::with_env), [`check`](super::check), `#[conc_test]`,
//! [`fuzz::checker`](crate::fuzz::checker) and `goweave-harness` all call it, and every value
//! is read by the one grammar in the `goweave-settings` crate. So a variable means the same at
//! every entry point, and a value that cannot be used is the same error naming the variable
//! (or the option, or the flag) wherever it is given.
//!
//! A replay token from any layer runs exactly that schedule once, unless a later layer names a
//! strategy. `depth` and `max_preemptions` refine the strategy of whichever layer names it.
//!
//! # Every setting
//!
//! | setting | `#[conc_test]` option | variable | harness flag | value |
//! | --- | --- | --- | --- | --- |
//! | the exploration strategy (default random) | `strategy = "pct"` | `GOWEAVE_STRATEGY` | `--strategy` | random, pct, pct:DEPTH, pos, dfs, dfs:MAX_PREEMPTIONS, dfs:plain, round_robin, fuzz, fuzz:CORPUS_DIR, or a replay token |
//! | schedules to explore (default 100; dfs: all; fuzz: 1000) | `iterations = 10_000` | `GOWEAVE_ITERATIONS` | `--iterations` | a whole number, at least 1 (1000, 10_000, 1e6) |
//! | run the test this many times on the work-stealing runtime with recording instead of exploring; the first failure is followed under the checker into a replay token (default off) | `stress = 1000` | `GOWEAVE_STRESS` | `--stress` | a whole number, at least 1 (1000, 10_000, 1e6) |
//! | seed of the randomised strategies (default 0) | `seed = 42` | `GOWEAVE_SEED` | `--seed` | a number, decimal or 0x hexadecimal |
//! | PCT's bug depth (default 3) | `depth = 3` | `GOWEAVE_DEPTH` | `--depth` | a whole number, at least 1 (1000, 10_000, 1e6) |
//! | DFS's preemption bound (default none) | `max_preemptions = 2` | `GOWEAVE_MAX_PREEMPTIONS` | `--max-preemptions` | a whole number (1000, 10_000, 1e6) |
//! | stop starting schedules after this long (default none) | `time_budget = "5s"` | `GOWEAVE_TIME_BUDGET` | `--time-budget` | a duration (500ms, 10s, 1.5s, 2m, 1m30s) |
//! | scheduling points per schedule before a livelock is reported (default 100_000) | `max_steps = 100_000` | `GOWEAVE_MAX_STEPS` | `--max-steps` | a whole number, at least 1 (1000, 10_000, 1e6) |
//! | time allowed for shrinking a failing schedule (default 5s; 0 turns it off) | `shrink_budget = "10s"` | `GOWEAVE_SHRINK_BUDGET` | `--shrink-budget` | a duration (500ms, 10s, 1.5s, 2m, 1m30s; 0 turns it off) |
//! | how long a goroutine may go without a scheduling point before the run fails as blocked outside goweave (default 5s) | `watchdog = "30s"` | `GOWEAVE_WATCHDOG` | `--watchdog` | a duration (500ms, 10s, 1.5s, 2m, 1m30s) |
//! | replay this schedule once instead of exploring | `replay = "gw1:..."` | `GOWEAVE_REPLAY` | `--replay` | a replay token (gw1:...) or @FILE holding one |
//! | go on after a failing schedule and report every distinct failure (kind and place), each shrunk and with its own replay line; the verdict is still the first failure's (default false) | `all_failures = true` | `GOWEAVE_ALL_FAILURES` | `--all-failures` | true or false (also 1/0, yes/no, on/off) |
//! | report goroutines left behind when main returns (default true) | `leak_check = false` | `GOWEAVE_LEAK_CHECK` | `--leak-check` | true or false (also 1/0, yes/no, on/off) |
//! | detect data races on watched cells (default true) | `race_detection = false` | `GOWEAVE_RACE_DETECTION` | `--race-detection` | true or false (also 1/0, yes/no, on/off) |
//! | the failure the test must find (default none) | `expect = "deadlock"` | `GOWEAVE_EXPECT` | `--expect` | deadlock, leak, race, panic, livelock or none |
//! | when virtual time may pass (default max_stall:250ms) | `timers = "when_blocked"` | `GOWEAVE_TIMERS` | `--timers` | max_stall, max_stall:DURATION, any_time or when_blocked |
//! | how long a timer may keep a goroutine that could run waiting (default 250ms; sets timers to max_stall) | `max_stall = "100ms"` | `GOWEAVE_MAX_STALL` | `--max-stall` | a duration (500ms, 10s, 1.5s, 2m, 1m30s) |
//! | full backtraces under each goroutine of a report (default false; `full` means true) | - | `GOWEAVE_BACKTRACE` | `--backtrace` | true or false (also 1/0, yes/no, on/off) |
//! | how much of the failing interleaving a report prints (default tail: the last 40 events) | - | `GOWEAVE_TRACE` | `--trace` | full or tail |
//! | write the failing interleaving to this file (a self-contained HTML page if it ends in .html, else Chrome trace JSON) | - | `GOWEAVE_TRACE_FILE` | `--trace-file` | a file path |
//!
//! The runtime's own variables are read by the runtime, not here: `GOMAXPROCS` (workers),
//! `GOWEAVE_STACK_SIZE`, `GOWEAVE_MAX_STACKS` and `GOWEAVE_STACK_GUARD` (see the README).

use std::path::PathBuf;
use std::time::Duration;

use goweave_settings as grammar;
pub use goweave_settings::{Origin, Setting, SettingError as ConfigError, SETTINGS};

use crate::explore::{StrategyKind, TimerMode};
use crate::schedule::Schedule;
use crate::verdict::FailureKind;

/// One layer of settings as text: the options of one attribute, the environment, or a command
/// line.
#[derive(Clone, Debug)]
pub struct Layer {
    origin: Origin,
    values: Vec<(&'static Setting, String)>,
}

impl Layer {
    /// An empty layer of settings from `origin`.
    pub fn new(origin: Origin) -> Layer {
        Layer {
            origin,
            values: Vec::new(),
        }
    }

    /// Set `name` to `value` (text, as the user wrote it). An unknown name is an error; the
    /// value is checked when the layers are resolved. An empty value counts as unset.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> Result<(), ConfigError> {
        let value = value.into();
        let Some(s) = grammar::setting(name) else {
            return Err(ConfigError {
                var: name.to_string(),
                value,
                why: "no such setting".into(),
            });
        };
        if !value.trim().is_empty() {
            self.values.retain(|(t, _)| t.name != s.name);
            self.values.push((s, value));
        }
        Ok(())
    }

    /// Builder form of [`set`](Layer::set), for names known to exist.
    ///
    /// # Panics
    /// If `name` is not a setting.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Layer {
        self.set(name, value)
            .unwrap_or_else(|e| panic!("goweave: {e}"));
        self
    }

    /// The `GOWEAVE_*` variables of this process.
    pub fn from_env() -> Layer {
        Layer::from_lookup(|k| std::env::var(k).ok())
    }

    /// The `GOWEAVE_*` variables as `lookup` reports them (for tests, and for callers that keep
    /// their own environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Layer {
        let mut l = Layer::new(Origin::Env);
        for s in SETTINGS.iter().filter(|s| s.scopes.env) {
            if let Some(v) = lookup(&s.env_var()) {
                if !v.trim().is_empty() {
                    l.values.push((s, v));
                }
            }
        }
        l
    }

    /// The options of a `#[conc_test]` attribute (checked by the macro at compile time).
    pub fn attribute(options: &[(&str, &str)]) -> Layer {
        let mut l = Layer::new(Origin::Attribute);
        for (k, v) in options {
            // The macro refuses unknown options at compile time.
            let _ = l.set(k, *v);
        }
        l
    }

    /// Where this layer came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The value of `name` in this layer, as text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(s, _)| s.name == name)
            .map(|(_, v)| v.as_str())
    }

    /// True if no setting is given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Resolved settings: `None` where no layer gave a value (the checker's default applies).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The strategy, when a layer named one or a replay token (a replay is
    /// `StrategyKind::Replay`).
    pub strategy: Option<StrategyKind>,
    /// PCT's depth, when given apart from a strategy (`GOWEAVE_DEPTH`): it refines a `pct`
    /// strategy set elsewhere.
    pub depth: Option<u32>,
    /// DFS's preemption bound, when given apart from a strategy.
    pub max_preemptions: Option<u32>,
    /// Schedules to explore.
    pub iterations: Option<u64>,
    /// Recorded runs on the work-stealing runtime instead of exploring (`record::stress`).
    pub stress: Option<u64>,
    /// Seed of the randomised strategies.
    pub seed: Option<u64>,
    /// Wall-clock budget of the exploration.
    pub time_budget: Option<Duration>,
    /// Steps per schedule before a livelock.
    pub max_steps: Option<u64>,
    /// Time allowed for shrinking.
    pub shrink_budget: Option<Duration>,
    /// The watchdog's patience.
    pub watchdog: Option<Duration>,
    /// Go on after a failure and report each distinct one.
    pub all_failures: Option<bool>,
    /// Report leaked goroutines.
    pub leak_check: Option<bool>,
    /// Detect data races.
    pub race_detection: Option<bool>,
    /// The failure the run must find (`Some(None)`: a layer said `none`).
    pub expect: Option<Option<FailureKind>>,
    /// When virtual time may pass.
    pub timers: Option<TimerMode>,
    /// Full backtraces in reports.
    pub backtrace: Option<bool>,
    /// Print every event of a failing interleaving.
    pub full_trace: Option<bool>,
    /// Write the failing interleaving to this file.
    pub trace_file: Option<PathBuf>,
}

impl Settings {
    /// The settings of the `GOWEAVE_*` variables of this process.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::resolve(&[&Layer::from_env()])
    }

    /// Merge `layers`, lowest first (attribute, environment, flags); every value is checked,
    /// and the first that cannot be used is the error, naming where it was given.
    pub fn resolve(layers: &[&Layer]) -> Result<Settings, ConfigError> {
        let mut out = Settings::default();
        // What the strategy layers said, merged at the end.
        let mut named: Option<StrategyKind> = None;
        let mut replay: Option<Schedule> = None;
        for layer in layers {
            // A layer's `max_stall` sets its timer mode, whatever order it names them in.
            let mut stall = None;
            for (s, value) in &layer.values {
                let err = |why: String| ConfigError {
                    var: layer.origin.label(s),
                    value: value.clone(),
                    why,
                };
                s.check(value).map_err(err)?;
                let v = value.trim();
                match s.name {
                    "strategy" => match strategy_kind(v).map_err(err)? {
                        StrategyKind::Replay(r) => replay = Some(r),
                        k => {
                            replay = None;
                            named = Some(k);
                        }
                    },
                    "replay" => {
                        replay = Some(Schedule::from_arg(v).map_err(|e| err(e.to_string()))?)
                    }
                    "depth" => out.depth = Some(count_u32(v)),
                    "max_preemptions" => out.max_preemptions = Some(count_u32(v)),
                    "iterations" => out.iterations = Some(count(v)),
                    "stress" => out.stress = Some(count(v)),
                    "seed" => out.seed = grammar::parse_seed(v).ok(),
                    "time_budget" => out.time_budget = duration(v),
                    "max_steps" => out.max_steps = Some(count(v)),
                    "shrink_budget" => out.shrink_budget = duration(v),
                    "watchdog" => out.watchdog = duration(v),
                    "all_failures" => out.all_failures = grammar::parse_bool(v).ok(),
                    "leak_check" => out.leak_check = grammar::parse_bool(v).ok(),
                    "race_detection" => out.race_detection = grammar::parse_bool(v).ok(),
                    "expect" => {
                        out.expect = Some(
                            grammar::parse_expect(v)
                                .map_err(err)?
                                .map(|k| k.parse().expect("expectable kinds are failure kinds")),
                        )
                    }
                    "timers" => out.timers = Some(v.parse().map_err(err)?),
                    "max_stall" => stall = duration(v),
                    "backtrace" => out.backtrace = grammar::parse_bool(v).ok(),
                    "trace" => out.full_trace = grammar::parse_trace(v).ok(),
                    "trace_file" => out.trace_file = Some(PathBuf::from(v)),
                    other => unreachable!("setting {other} has no field"),
                }
            }
            if let Some(d) = stall {
                out.timers = Some(TimerMode::MaxStall(d));
            }
        }
        out.strategy = match (replay, named) {
            (Some(r), _) => Some(StrategyKind::Replay(r)),
            (None, Some(k)) => Some(out.refine(k)),
            (None, None) => None,
        };
        Ok(out)
    }

    /// `k` with this layer's separate `depth` and `max_preemptions` applied.
    pub fn refine(&self, k: StrategyKind) -> StrategyKind {
        match k {
            StrategyKind::Pct { depth } => StrategyKind::Pct {
                depth: self.depth.unwrap_or(depth),
            },
            StrategyKind::Dfs { max_preemptions } => StrategyKind::Dfs {
                max_preemptions: self.max_preemptions.or(max_preemptions),
            },
            k => k,
        }
    }
}

/// The strategy a text names, checked already by the grammar.
fn strategy_kind(v: &str) -> Result<StrategyKind, String> {
    v.parse()
}

fn count(v: &str) -> u64 {
    grammar::parse_count(v).expect("checked by the grammar")
}

fn count_u32(v: &str) -> u32 {
    count(v).min(u32::MAX as u64) as u32
}

fn duration(v: &str) -> Option<Duration> {
    grammar::parse_duration(v).ok()
}

/// The docs' table of settings, which must list every setting as the grammar does.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_in_the_docs_are_the_grammars() {
        let doc = include_str!("settings.rs");
        let readme = include_str!("../../README.md");
        for line in grammar::markdown_table().lines() {
            assert!(
                doc.contains(&format!("//! {line}")),
                "the module doc lacks the row:\n{line}\n(copy goweave_settings::markdown_table())"
            );
            assert!(
                readme.lines().any(|l| l == line),
                "README.md lacks the row:\n{line}\n(copy goweave_settings::markdown_table())"
            );
        }
    }

    #[test]
    fn layers_override_in_order() {
        let attr = Layer::attribute(&[("strategy", "pct"), ("depth", "5"), ("iterations", "10")]);
        let s = Settings::resolve(&[&attr]).unwrap();
        assert_eq!(s.strategy, Some(StrategyKind::Pct { depth: 5 }));
        assert_eq!(s.iterations, Some(10));
        let env = Layer::new(Origin::Env)
            .with("strategy", "dfs:2")
            .with("iterations", "1_000");
        let flags = Layer::new(Origin::Flag).with("seed", "0x10");
        let s = Settings::resolve(&[&attr, &env, &flags]).unwrap();
        assert_eq!(
            s.strategy,
            Some(StrategyKind::Dfs {
                max_preemptions: Some(2)
            })
        );
        assert_eq!((s.iterations, s.seed), (Some(1000), Some(16)));
    }

    #[test]
    fn bad_values_name_their_origin() {
        let env = Layer::new(Origin::Env).with("max_steps", "lots");
        let e = Settings::resolve(&[&env]).unwrap_err();
        assert_eq!(e.var, "GOWEAVE_MAX_STEPS");
        assert!(e.to_string().contains("GOWEAVE_MAX_STEPS=\"lots\""), "{e}");
        let flags = Layer::new(Origin::Flag).with("time_budget", "soon");
        let e = Settings::resolve(&[&flags]).unwrap_err();
        assert!(e.to_string().contains("--time-budget=\"soon\""), "{e}");
        let e = Layer::new(Origin::Flag).set("colour", "red").unwrap_err();
        assert_eq!(e.why, "no such setting");
    }

    #[test]
    fn expect_none_clears_an_expectation() {
        let attr = Layer::attribute(&[("expect", "deadlock")]);
        let env = Layer::new(Origin::Env).with("expect", "none");
        assert_eq!(
            Settings::resolve(&[&attr]).unwrap().expect,
            Some(Some(FailureKind::Deadlock))
        );
        assert_eq!(
            Settings::resolve(&[&attr, &env]).unwrap().expect,
            Some(None)
        );
    }
}
