//! The resolved configuration of one test.

use std::time::Duration;

use crate::check::settings::{ConfigError, Layer, Settings};
use crate::explore::{StrategyKind, TimerMode};
use crate::verdict::FailureKind;

/// The configuration of one test run: its `#[conc_test]` options under the runner's layers.
#[derive(Clone, Debug)]
pub struct TestConfig {
    /// The strategy (a replay is `StrategyKind::Replay`).
    pub strategy: StrategyKind,
    /// Schedules to explore (all for an exhaustive search; 1 for a replay).
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
    /// Every resolved setting, for the checker (shrink budget, watchdog, race detection,
    /// what reports show).
    pub settings: Settings,
}

impl TestConfig {
    /// The configuration of a test with attribute options `options`, overridden by `layers` in
    /// order (usually the environment, then a command line).
    pub fn resolve(options: &[(&str, &str)], layers: &[&Layer]) -> Result<TestConfig, ConfigError> {
        let attribute = Layer::attribute(options);
        let mut all: Vec<&Layer> = vec![&attribute];
        all.extend_from_slice(layers);
        let settings = Settings::resolve(&all)?;
        let strategy = settings
            .strategy
            .clone()
            .unwrap_or_else(|| settings.refine(StrategyKind::Random));
        let iterations = match &strategy {
            StrategyKind::Replay(_) => 1,
            s => settings
                .iterations
                .unwrap_or_else(|| s.default_iterations()),
        };
        Ok(TestConfig {
            strategy,
            iterations,
            seed: settings.seed.unwrap_or(0),
            time_budget: settings.time_budget,
            max_steps: settings.max_steps,
            leak_check: settings.leak_check.unwrap_or(true),
            expect: settings.expect.flatten(),
            timers: settings.timers.unwrap_or_default(),
            settings,
        })
    }

    /// True if a run can be split into disjoint parts explored separately: schedule `k`
    /// depends only on the seed and `k` (`random`, `pct`, `pos`), or the exhaustive search
    /// splits its tree statically (`dfs`, which runs `Dpor`: see "Parallel search" in
    /// [`explore::Dpor`](crate::explore::Dpor)). The preemption-bounded `dfs:K` is not split:
    /// part 0 runs it whole.
    pub fn splittable(&self) -> bool {
        matches!(
            self.strategy,
            StrategyKind::Random
                | StrategyKind::Pct { .. }
                | StrategyKind::Pos
                | StrategyKind::Dfs {
                    max_preemptions: None
                }
        ) || self.stressed()
    }

    /// True if the test runs as `--stress N` recorded runs on the work-stealing runtime
    /// rather than explored (a replay token still replays).
    pub fn stressed(&self) -> bool {
        self.settings.stress.is_some() && !matches!(self.strategy, StrategyKind::Replay(_))
    }

    /// A short description, such as `pct:3, seed 7`.
    pub fn describe(&self) -> String {
        match self.settings.stress {
            Some(n) if self.stressed() => {
                format!("stress: {n} recorded runs on the work-stealing runtime")
            }
            _ => self.strategy.describe(self.seed),
        }
    }
}
