//! The catalogue of built-in strategies, by name: what `Checker::strategy`, `GOWEAVE_STRATEGY`,
//! `#[conc_test(strategy = ...)]` and the harness's `--strategy` choose from.
//!
//! A [`StrategyKind`] *names* a strategy; it parses from text, prints, clones, and builds a
//! fresh, seeded [`Strategy`](super::Strategy) object (the trait) whenever one is needed: per
//! run, per job, per shard.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use goweave_settings::StrategyName;

use crate::explore;
use crate::schedule::Schedule;

/// A built-in exploration strategy, as the checker names it. (The strategies themselves, and
/// the trait for writing your own, are in [`explore`].)
///
/// From text (`GOWEAVE_STRATEGY`, `--strategy`): `random`, `pct` (depth 3), `pct:2`, `pos`,
/// `dfs`, `dfs:2` (at most 2 preemptions), `round_robin`, `fuzz`, `fuzz:<corpus directory>`, or
/// a replay token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StrategyKind {
    /// A uniform random walk ([`explore::Random`]).
    #[default]
    Random,
    /// Probabilistic concurrency testing with bug depth `depth` ([`explore::Pct`]).
    Pct {
        /// Bug depth: `depth - 1` priority change points per schedule.
        depth: u32,
    },
    /// Partial order sampling ([`explore::Pos`]).
    Pos,
    /// Exhaustive depth-first search ([`explore::Dfs`]).
    Dfs {
        /// Explore only schedules with at most this many preemptions (`None`: all).
        max_preemptions: Option<u32>,
    },
    /// Run the goroutine that is running until it blocks or yields, then the next by id.
    RoundRobin,
    /// Coverage-guided schedule fuzzing ([`explore::Fuzz`]).
    Fuzz {
        /// Keep the corpus here: resume from the inputs found there, write new ones to it.
        corpus: Option<PathBuf>,
    },
    /// Replay one recorded schedule exactly ([`explore::Replay`]).
    Replay(Schedule),
}

impl StrategyKind {
    /// The strategy object, seeded with `seed`.
    pub fn build(&self, seed: u64) -> Box<dyn explore::Strategy> {
        match self {
            StrategyKind::Random => Box::new(explore::Random::new(seed)),
            StrategyKind::Pct { depth } => Box::new(explore::Pct::new(*depth, seed)),
            StrategyKind::Pos => Box::new(explore::Pos::new(seed)),
            StrategyKind::Dfs { max_preemptions } => Box::new(explore::Dfs::new(*max_preemptions)),
            StrategyKind::RoundRobin => Box::new(explore::RoundRobin::new()),
            StrategyKind::Fuzz { corpus: None } => Box::new(explore::Fuzz::new(seed)),
            StrategyKind::Fuzz { corpus: Some(d) } => {
                Box::new(explore::Fuzz::new(seed).with_corpus(d.clone()))
            }
            StrategyKind::Replay(s) => Box::new(explore::Replay::new(s)),
        }
    }

    /// Schedules run when `iterations` is not set: 100 for the randomised strategies, all of
    /// them for `Dfs`, one for the deterministic ones.
    pub fn default_iterations(&self) -> u64 {
        match self {
            StrategyKind::Random | StrategyKind::Pct { .. } | StrategyKind::Pos => 100,
            StrategyKind::Fuzz { .. } => 1_000,
            StrategyKind::Dfs { .. } => u64::MAX,
            StrategyKind::RoundRobin | StrategyKind::Replay(_) => 1,
        }
    }
}

impl StrategyKind {
    /// The strategy as messages name it, with its seed where the seed matters:
    /// `pct:3, seed 0`, `dfs`, `round_robin`, `replay`.
    pub fn describe(&self, seed: u64) -> String {
        match self {
            StrategyKind::Replay(_) => "replay".into(),
            s @ (StrategyKind::Dfs { .. } | StrategyKind::RoundRobin) => s.to_string(),
            s => format!("{s}, seed {seed}"),
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyKind::Random => f.write_str("random"),
            StrategyKind::Pct { depth } => write!(f, "pct:{depth}"),
            StrategyKind::Pos => f.write_str("pos"),
            StrategyKind::Dfs {
                max_preemptions: None,
            } => f.write_str("dfs"),
            StrategyKind::Dfs {
                max_preemptions: Some(m),
            } => write!(f, "dfs:{m}"),
            StrategyKind::RoundRobin => f.write_str("round_robin"),
            StrategyKind::Fuzz { corpus: None } => f.write_str("fuzz"),
            StrategyKind::Fuzz { corpus: Some(d) } => write!(f, "fuzz:{}", d.display()),
            StrategyKind::Replay(s) => write!(f, "{}", s.token()),
        }
    }
}

impl FromStr for StrategyKind {
    type Err = String;

    /// The grammar of `GOWEAVE_STRATEGY` (see `goweave_settings::parse_strategy`); a replay
    /// token becomes `Replay`.
    fn from_str(s: &str) -> Result<StrategyKind, String> {
        Ok(match goweave_settings::parse_strategy(s)? {
            StrategyName::Random => StrategyKind::Random,
            StrategyName::Pct(d) => StrategyKind::Pct {
                depth: d.unwrap_or(3),
            },
            StrategyName::Pos => StrategyKind::Pos,
            StrategyName::Dfs(m) => StrategyKind::Dfs { max_preemptions: m },
            StrategyName::RoundRobin => StrategyKind::RoundRobin,
            StrategyName::Fuzz(d) => StrategyKind::Fuzz {
                corpus: d.map(PathBuf::from),
            },
            StrategyName::Replay(t) => {
                StrategyKind::Replay(Schedule::from_arg(t).map_err(|e| e.to_string())?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_and_print() {
        for s in [
            "random",
            "pct:3",
            "pos",
            "dfs",
            "dfs:2",
            "round_robin",
            "fuzz",
            "fuzz:target/corpus",
        ] {
            assert_eq!(s.parse::<StrategyKind>().unwrap().to_string(), s);
        }
        assert_eq!(
            "pct".parse::<StrategyKind>(),
            Ok(StrategyKind::Pct { depth: 3 })
        );
        assert!("bfs"
            .parse::<StrategyKind>()
            .unwrap_err()
            .contains("unknown"));
        assert!("pct:x"
            .parse::<StrategyKind>()
            .unwrap_err()
            .contains("depth"));
    }
}
