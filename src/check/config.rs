//! The built-in strategies by name ([`Strategy`]), and the checker's configuration from
//! `GOWEAVE_*` environment variables.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::explore;
use crate::schedule::Schedule;

/// A built-in exploration strategy, as the checker names it. (The strategies themselves, and
/// the trait for writing your own, are in [`explore`].)
///
/// From text (`GOWEAVE_STRATEGY`, `--strategy`): `random`, `pct` (depth 3), `pct:2`, `pos`,
/// `dfs`, `dfs:2` (at most 2 preemptions), `round_robin`, `fuzz`, `fuzz:<corpus directory>`, or
/// a replay token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
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

impl Strategy {
    /// The strategy object, seeded with `seed`.
    pub fn build(&self, seed: u64) -> Box<dyn explore::Strategy> {
        match self {
            Strategy::Random => Box::new(explore::Random::new(seed)),
            Strategy::Pct { depth } => Box::new(explore::Pct::new(*depth, seed)),
            Strategy::Pos => Box::new(explore::Pos::new(seed)),
            Strategy::Dfs { max_preemptions } => Box::new(explore::Dfs::new(*max_preemptions)),
            Strategy::RoundRobin => Box::new(explore::RoundRobin::new()),
            Strategy::Fuzz { corpus: None } => Box::new(explore::Fuzz::new(seed)),
            Strategy::Fuzz { corpus: Some(d) } => {
                Box::new(explore::Fuzz::new(seed).with_corpus(d.clone()))
            }
            Strategy::Replay(s) => Box::new(explore::Replay::new(s)),
        }
    }

    /// Schedules run when `iterations` is not set: 100 for the randomised strategies, all of
    /// them for `Dfs`, one for the deterministic ones.
    pub fn default_iterations(&self) -> u64 {
        match self {
            Strategy::Random | Strategy::Pct { .. } | Strategy::Pos => 100,
            Strategy::Fuzz { .. } => 1_000,
            Strategy::Dfs { .. } => u64::MAX,
            Strategy::RoundRobin | Strategy::Replay(_) => 1,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Random => f.write_str("random"),
            Strategy::Pct { depth } => write!(f, "pct:{depth}"),
            Strategy::Pos => f.write_str("pos"),
            Strategy::Dfs {
                max_preemptions: None,
            } => f.write_str("dfs"),
            Strategy::Dfs {
                max_preemptions: Some(m),
            } => write!(f, "dfs:{m}"),
            Strategy::RoundRobin => f.write_str("round_robin"),
            Strategy::Fuzz { corpus: None } => f.write_str("fuzz"),
            Strategy::Fuzz { corpus: Some(d) } => write!(f, "fuzz:{}", d.display()),
            Strategy::Replay(s) => write!(f, "{}", s.token()),
        }
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Strategy, String> {
        let s = s.trim();
        if s.starts_with("gw") && s.contains(':') {
            return Schedule::from_token(s)
                .map(Strategy::Replay)
                .map_err(|e| e.to_string());
        }
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let num = |what: &str| -> Result<u32, String> {
            let a = arg.unwrap_or_default();
            a.parse::<u32>()
                .map_err(|_| format!("{a:?} is not a valid {what} (a small integer)"))
        };
        let st = match (name.to_ascii_lowercase().as_str(), arg) {
            ("random", None) => Strategy::Random,
            ("pct", None) => Strategy::Pct { depth: 3 },
            ("pct", Some(_)) => Strategy::Pct {
                depth: num("PCT depth")?.max(1),
            },
            ("pos", None) => Strategy::Pos,
            ("dfs", None) => Strategy::Dfs {
                max_preemptions: None,
            },
            ("dfs", Some(_)) => Strategy::Dfs {
                max_preemptions: Some(num("preemption bound")?),
            },
            ("round_robin" | "roundrobin" | "rr", None) => Strategy::RoundRobin,
            ("fuzz", None) => Strategy::Fuzz { corpus: None },
            ("fuzz", Some(d)) if !d.trim().is_empty() => Strategy::Fuzz {
                corpus: Some(PathBuf::from(d.trim())),
            },
            _ => {
                return Err(format!(
                    "unknown strategy {s:?}: expected random, pct, pct:<depth>, pos, dfs, dfs:<max preemptions>, round_robin, fuzz, fuzz:<corpus directory> or a gw1: replay token"
                ))
            }
        };
        Ok(st)
    }
}

/// A `GOWEAVE_*` variable (or option) with a value the checker cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable, such as `GOWEAVE_ITERATIONS`.
    pub var: String,
    /// Its value.
    pub value: String,
    /// What is wrong, and what would be right.
    pub why: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goweave: {}={:?}: {}", self.var, self.value, self.why)
    }
}

impl std::error::Error for ConfigError {}

/// The value of `var`, if set and not empty.
pub(crate) fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// Parse `var`'s value with `parse`, naming the variable on error.
pub(crate) fn env_parse<T>(
    var: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    match env(var) {
        None => Ok(None),
        Some(value) => parse(value.trim()).map(Some).map_err(|why| ConfigError {
            var: var.to_string(),
            value,
            why,
        }),
    }
}

/// A count such as `1000`, `10_000` or `1e6`.
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    let t: String = s.chars().filter(|&c| c != '_').collect();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
        _ => Err("expected a whole number such as 1000".into()),
    }
}

/// A seed: decimal or `0x` hexadecimal.
pub(crate) fn parse_seed(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| "expected a number (decimal, or hexadecimal with 0x)".into())
}

/// A duration: `500ms`, `10s`, `2m`, `1h`, `1.5s`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || "expected a duration such as 500ms, 10s, 2m or 1h".to_string();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let x: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => x,
        "ms" => x / 1e3,
        "us" | "µs" => x / 1e6,
        "ns" => x / 1e9,
        "m" | "min" => x * 60.0,
        "h" => x * 3600.0,
        _ => return Err(bad()),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
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
            assert_eq!(s.parse::<Strategy>().unwrap().to_string(), s);
        }
        assert_eq!("pct".parse::<Strategy>(), Ok(Strategy::Pct { depth: 3 }));
        assert!("bfs".parse::<Strategy>().unwrap_err().contains("unknown"));
        assert!("pct:x".parse::<Strategy>().unwrap_err().contains("depth"));
    }

    #[test]
    fn durations_and_counts_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_count("10_000"), Ok(10_000));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert!(parse_count("-3").is_err());
        assert_eq!(parse_seed("0x10"), Ok(16));
    }
}
