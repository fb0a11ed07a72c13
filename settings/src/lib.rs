//! The grammar of goweave's checker settings, in one place.
//!
//! Every setting has one name (`time_budget`), one grammar ([`Grammar::Duration`]) and up to
//! three spellings: the `#[conc_test(time_budget = "5s")]` option, the `GOWEAVE_TIME_BUDGET`
//! environment variable and the harness's `--time-budget` flag. This crate is the only place
//! where text becomes a value: goweave's resolver (`goweave::check::settings`) and the
//! `#[conc_test]` attribute (which checks its options at compile time) both call it, so a value
//! means the same thing at every entry point and is refused with the same words.
//!
//! ```
//! use goweave_settings::{parse_duration, setting, Grammar};
//! use std::time::Duration;
//!
//! assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
//! let s = setting("time_budget").unwrap();
//! assert_eq!(s.grammar, Grammar::Duration { zero: false });
//! assert_eq!(s.env_var(), "GOWEAVE_TIME_BUDGET");
//! assert_eq!(s.flag(), "--time-budget");
//! assert!(s.check("soon").is_err());
//! ```
#![warn(missing_docs)]

use std::fmt;
use std::time::Duration;

/// The shape of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grammar {
    /// A strategy: see [`parse_strategy`].
    Strategy,
    /// A whole number of at least `min`: `1000`, `10_000`, `1e6` ([`parse_count`]).
    Count {
        /// The smallest value allowed.
        min: u64,
    },
    /// A seed: decimal or `0x` hexadecimal, `_` allowed ([`parse_seed`]).
    Seed,
    /// A duration: `500ms`, `10s`, `1.5s`, `2m`, `1h`, `1m30s`; a bare number is seconds
    /// ([`parse_duration`]).
    Duration {
        /// Whether `0s` is allowed (it turns the feature off).
        zero: bool,
    },
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` ([`parse_bool`]).
    Bool,
    /// A failure kind the test must find, or `none` ([`parse_expect`]).
    Expect,
    /// `max_stall`, `max_stall:DURATION`, `any_time` or `when_blocked` ([`parse_timer_mode`]).
    TimerMode,
    /// A replay token (`gw1:...`) or `@path` of a file holding one ([`check_token`]).
    Token,
    /// `full` (every event of the interleaving) or `tail` (the last events) ([`parse_trace`]).
    Trace,
    /// A file path.
    Path,
}

impl Grammar {
    /// The grammar in a few words, for documentation and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Grammar::Strategy => "random, pct, pct:DEPTH, pos, dfs, dfs:MAX_PREEMPTIONS, dfs:plain, round_robin, fuzz, fuzz:CORPUS_DIR, or a replay token",
            Grammar::Count { min: 0 } => "a whole number (1000, 10_000, 1e6)",
            Grammar::Count { .. } => "a whole number, at least 1 (1000, 10_000, 1e6)",
            Grammar::Seed => "a number, decimal or 0x hexadecimal",
            Grammar::Duration { zero: true } => "a duration (500ms, 10s, 1.5s, 2m, 1m30s; 0 turns it off)",
            Grammar::Duration { zero: false } => "a duration (500ms, 10s, 1.5s, 2m, 1m30s)",
            Grammar::Bool => "true or false (also 1/0, yes/no, on/off)",
            Grammar::Expect => "deadlock, leak, race, panic, livelock or none",
            Grammar::TimerMode => "max_stall, max_stall:DURATION, any_time or when_blocked",
            Grammar::Token => "a replay token (gw1:...) or @FILE holding one",
            Grammar::Trace => "full or tail",
            Grammar::Path => "a file path",
        }
    }
}

/// Where a setting may be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes {
    /// As a `#[conc_test(...)]` option.
    pub attribute: bool,
    /// As a `GOWEAVE_*` environment variable (read by `goweave::check`, `Checker::with_env`,
    /// `#[conc_test]` and the harness alike).
    pub env: bool,
    /// As a harness flag.
    pub flag: bool,
}

const ALL: Scopes = Scopes {
    attribute: true,
    env: true,
    flag: true,
};
const NO_ATTRIBUTE: Scopes = Scopes {
    attribute: false,
    env: true,
    flag: true,
};

/// One setting of the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Its name, as the `#[conc_test]` option spells it.
    pub name: &'static str,
    /// The shape of its value.
    pub grammar: Grammar,
    /// Where it may be given.
    pub scopes: Scopes,
    /// What it does.
    pub help: &'static str,
    /// An example value, as an attribute would write it (`"5s"`, `10_000`, `false`).
    pub example: &'static str,
}

/// Every setting, in the order the documentation lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "strategy",
        grammar: Grammar::Strategy,
        scopes: ALL,
        help: "the exploration strategy (default random)",
        example: "\"pct\"",
    },
    Setting {
        name: "iterations",
        grammar: Grammar::Count { min: 1 },
        scopes: ALL,
        help: "schedules to explore (default 100; dfs: all; fuzz: 1000)",
        example: "10_000",
    },
    Setting {
        name: "stress",
        grammar: Grammar::Count { min: 1 },
        scopes: ALL,
        help: "run the test this many times on the work-stealing runtime with recording instead of exploring; the first failure is followed under the checker into a replay token (default off)",
        example: "1000",
    },
    Setting {
        name: "seed",
        grammar: Grammar::Seed,
        scopes: ALL,
        help: "seed of the randomised strategies (default 0)",
        example: "42",
    },
    Setting {
        name: "depth",
        grammar: Grammar::Count { min: 1 },
        scopes: ALL,
        help: "PCT's bug depth (default 3)",
        example: "3",
    },
    Setting {
        name: "max_preemptions",
        grammar: Grammar::Count { min: 0 },
        scopes: ALL,
        help: "DFS's preemption bound (default none)",
        example: "2",
    },
    Setting {
        name: "time_budget",
        grammar: Grammar::Duration { zero: false },
        scopes: ALL,
        help: "stop starting schedules after this long (default none)",
        example: "\"5s\"",
    },
    Setting {
        name: "max_steps",
        grammar: Grammar::Count { min: 1 },
        scopes: ALL,
        help: "scheduling points per schedule before a livelock is reported (default 100_000)",
        example: "100_000",
    },
    Setting {
        name: "shrink_budget",
        grammar: Grammar::Duration { zero: true },
        scopes: ALL,
        help: "time allowed for shrinking a failing schedule (default 5s; 0 turns it off)",
        example: "\"10s\"",
    },
    Setting {
        name: "watchdog",
        grammar: Grammar::Duration { zero: false },
        scopes: ALL,
        help: "how long a goroutine may go without a scheduling point before the run fails as blocked outside goweave (default 5s)",
        example: "\"30s\"",
    },
    Setting {
        name: "replay",
        grammar: Grammar::Token,
        scopes: ALL,
        help: "replay this schedule once instead of exploring",
        example: "\"gw1:...\"",
    },
    Setting {
        name: "all_failures",
        grammar: Grammar::Bool,
        scopes: ALL,
        help: "go on after a failing schedule and report every distinct failure (kind and place), each shrunk and with its own replay line; the verdict is still the first failure's (default false)",
        example: "true",
    },
    Setting {
        name: "leak_check",
        grammar: Grammar::Bool,
        scopes: ALL,
        help: "report goroutines left behind when main returns (default true)",
        example: "false",
    },
    Setting {
        name: "race_detection",
        grammar: Grammar::Bool,
        scopes: ALL,
        help: "detect data races on watched cells (default true)",
        example: "false",
    },
    Setting {
        name: "expect",
        grammar: Grammar::Expect,
        scopes: ALL,
        help: "the failure the test must find (default none)",
        example: "\"deadlock\"",
    },
    Setting {
        name: "timers",
        grammar: Grammar::TimerMode,
        scopes: ALL,
        help: "when virtual time may pass (default max_stall:250ms)",
        example: "\"when_blocked\"",
    },
    Setting {
        name: "max_stall",
        grammar: Grammar::Duration { zero: false },
        scopes: ALL,
        help: "how long a timer may keep a goroutine that could run waiting (default 250ms; sets timers to max_stall)",
        example: "\"100ms\"",
    },
    Setting {
        name: "backtrace",
        grammar: Grammar::Bool,
        scopes: NO_ATTRIBUTE,
        help: "full backtraces under each goroutine of a report (default false; `full` means true)",
        example: "true",
    },
    Setting {
        name: "trace",
        grammar: Grammar::Trace,
        scopes: NO_ATTRIBUTE,
        help: "how much of the failing interleaving a report prints (default tail: the last 40 events)",
        example: "\"full\"",
    },
    Setting {
        name: "trace_file",
        grammar: Grammar::Path,
        scopes: NO_ATTRIBUTE,
        help: "write the failing interleaving to this file (a self-contained HTML page if it ends in .html, else Chrome trace JSON)",
        example: "\"trace.json\"",
    },
];

/// The setting called `name`.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

impl Setting {
    /// Its environment variable: `time_budget` is `GOWEAVE_TIME_BUDGET`.
    pub fn env_var(&self) -> String {
        format!("GOWEAVE_{}", self.name.to_ascii_uppercase())
    }

    /// Its harness flag: `time_budget` is `--time-budget`.
    pub fn flag(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// Check `value` against the setting's grammar; the error says what is wrong and what
    /// would be right.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self.grammar {
            Grammar::Strategy => parse_strategy(value).map(drop),
            Grammar::Count { min } => match parse_count(value)? {
                n if n < min => Err(format!("must be at least {min}")),
                _ => Ok(()),
            },
            Grammar::Seed => parse_seed(value).map(drop),
            Grammar::Duration { zero } => match parse_duration(value)? {
                d if d.is_zero() && !zero => Err("must be longer than 0s".into()),
                _ => Ok(()),
            },
            Grammar::Bool => parse_bool(value).map(drop),
            Grammar::Expect => parse_expect(value).map(drop),
            Grammar::TimerMode => parse_timer_mode(value).map(drop),
            Grammar::Token => check_token(value),
            Grammar::Trace => parse_trace(value).map(drop),
            Grammar::Path => {
                if value.trim().is_empty() {
                    Err("expected a file path".into())
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Where a value came from: what a message about it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A `#[conc_test(...)]` option.
    Attribute,
    /// A `GOWEAVE_*` environment variable.
    Env,
    /// A harness flag.
    Flag,
}

impl Origin {
    /// How the user wrote `setting` there: `time_budget`, `GOWEAVE_TIME_BUDGET` or
    /// `--time-budget`.
    pub fn label(&self, setting: &Setting) -> String {
        match self {
            Origin::Attribute => format!("#[conc_test({})]", setting.name),
            Origin::Env => setting.env_var(),
            Origin::Flag => setting.flag(),
        }
    }
}

/// A value that cannot be used, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    /// The option, variable or flag, as the user wrote it (`GOWEAVE_ITERATIONS`).
    pub var: String,
    /// The value.
    pub value: String,
    /// What is wrong, and what would be right.
    pub why: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goweave: {}={:?}: {}", self.var, self.value, self.why)
    }
}

impl std::error::Error for SettingError {}

/// A whole number such as `1000`, `10_000` or `1e6`.
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

/// A seed: decimal or `0x` hexadecimal, with `_` allowed between digits.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => s.replace('_', "").parse::<u64>(),
    };
    r.map_err(|_| "expected a number (decimal, or hexadecimal with 0x)".into())
}

/// A duration: `500ms`, `10s`, `1.5s`, `2m`, `1h`, or a sequence such as `1m30s`; a bare number
/// is seconds. Units: `ns`, `us` (or `µs`), `ms`, `s`, `m` (or `min`), `h`. At most 10⁹ s.
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
            // A bare number is seconds, but only alone: `1m30` is a typo, not 60.5 s.
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

/// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, in any case.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "full" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected true or false (or 1/0, yes/no, on/off)".into()),
    }
}

/// The names of the failure kinds, as goweave's `FailureKind` prints them.
pub const FAILURE_KINDS: [&str; 7] = [
    "panic",
    "deadlock",
    "leak",
    "race",
    "livelock",
    "nondeterminism",
    "blocked",
];

/// The failure kinds a test may expect.
pub const EXPECTABLE: [&str; 5] = ["deadlock", "leak", "race", "panic", "livelock"];

/// A failure kind as `expect` names it (one of [`EXPECTABLE`]), or `None` for `none`.
pub fn parse_expect(s: &str) -> Result<Option<&'static str>, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "none" {
        return Ok(None);
    }
    EXPECTABLE
        .iter()
        .find(|k| **k == t)
        .map(|k| Some(*k))
        .ok_or_else(|| {
            format!(
                "unknown failure kind {:?}: expected {}",
                s.trim(),
                Grammar::Expect.describe()
            )
        })
}

/// A failure kind by name (one of [`FAILURE_KINDS`], any case): its index there.
pub fn parse_failure_kind(s: &str) -> Result<usize, String> {
    let t = s.trim();
    FAILURE_KINDS
        .iter()
        .position(|k| k.eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            format!(
                "unknown failure kind {t:?}: expected one of {}",
                FAILURE_KINDS.join(", ")
            )
        })
}

/// When virtual time may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerModeName {
    /// `max_stall` (`None`: the default bound) or `max_stall:DURATION`
    MaxStall(Option<Duration>),
    /// `any_time`
    AnyTime,
    /// `when_blocked`
    WhenBlocked,
}

/// `max_stall`, `max_stall:DURATION`, `any_time` or `when_blocked` (any case, `-` for `_` in
/// the names).
pub fn parse_timer_mode(s: &str) -> Result<TimerModeName, String> {
    let (name, arg) = match s.trim().split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (s.trim(), None),
    };
    match (name.to_ascii_lowercase().replace('-', "_").as_str(), arg) {
        ("max_stall" | "maxstall", None) => Ok(TimerModeName::MaxStall(None)),
        ("max_stall" | "maxstall", Some(d)) => parse_duration(d)
            .map(|d| TimerModeName::MaxStall(Some(d)))
            .map_err(|why| format!("max_stall bound: {why}")),
        ("any_time" | "anytime", None) => Ok(TimerModeName::AnyTime),
        ("when_blocked", None) => Ok(TimerModeName::WhenBlocked),
        _ => Err(format!(
            "unknown timer mode {s:?}: expected max_stall or max_stall:DURATION (timers may fire while goroutines that could run have waited at most that long, 250ms by default; the default), any_time (timers fire at any scheduling point) or when_blocked (only when every goroutine is blocked, as synctest)"
        )),
    }
}

/// `full` (true: print every event) or `tail` (false).
pub fn parse_trace(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "full" | "all" => Ok(true),
        "tail" | "last" => Ok(false),
        _ => Err("expected full (every event) or tail (the last events)".into()),
    }
}

/// True if `s` has the shape of a replay token (`gw<version>:<payload>`); whether it decodes is
/// up to goweave.
pub fn looks_like_token(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("gw") && s.contains(':')
}

/// A replay token, or `@path` naming a file that holds one (for tokens longer than an
/// environment variable may be).
pub fn check_token(s: &str) -> Result<(), String> {
    let s = s.trim();
    if let Some(path) = s.strip_prefix('@') {
        if path.trim().is_empty() {
            return Err("expected @FILE, the path of a file holding a replay token".into());
        }
        return Ok(());
    }
    if looks_like_token(s) {
        Ok(())
    } else {
        Err(
            "expected a replay token printed by a failing run (gw1:...), or @FILE holding one"
                .into(),
        )
    }
}

/// A strategy, as text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyName<'a> {
    /// `random`
    Random,
    /// `pct` or `pct:<depth>`
    Pct(Option<u32>),
    /// `pos`
    Pos,
    /// `dfs` or `dfs:<max preemptions>`
    Dfs(Option<u32>),
    /// `dfs:plain`: every interleaving, without partial-order reduction
    DfsPlain,
    /// `round_robin` (also `roundrobin`, `rr`)
    RoundRobin,
    /// `fuzz` or `fuzz:<corpus directory>`
    Fuzz(Option<&'a str>),
    /// A replay token (or `@path`).
    Replay(&'a str),
}

/// A strategy: `random`, `pct`, `pct:<depth>`, `pos`, `dfs`, `dfs:<max preemptions>`,
/// `dfs:plain`, `round_robin`, `fuzz`, `fuzz:<corpus directory>`, or a replay token.
pub fn parse_strategy(s: &str) -> Result<StrategyName<'_>, String> {
    let s = s.trim();
    if looks_like_token(s) {
        return Ok(StrategyName::Replay(s));
    }
    let (name, arg) = match s.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (s, None),
    };
    let num = |what: &str| -> Result<u32, String> {
        let a = arg.unwrap_or_default();
        match parse_count(a) {
            Ok(n) if n <= u32::MAX as u64 => Ok(n as u32),
            _ => Err(format!("{a:?} is not a valid {what} (a small integer)")),
        }
    };
    Ok(match (name.to_ascii_lowercase().as_str(), arg) {
        ("random", None) => StrategyName::Random,
        ("pct", None) => StrategyName::Pct(None),
        ("pct", Some(_)) => match num("PCT depth")? {
            0 => return Err("PCT depth must be at least 1".into()),
            d => StrategyName::Pct(Some(d)),
        },
        ("pos", None) => StrategyName::Pos,
        ("dfs", None) => StrategyName::Dfs(None),
        ("dfs", Some(a)) if a.trim().eq_ignore_ascii_case("plain") => StrategyName::DfsPlain,
        ("dfs", Some(_)) => StrategyName::Dfs(Some(num("preemption bound")?)),
        ("round_robin" | "roundrobin" | "rr", None) => StrategyName::RoundRobin,
        ("fuzz", None) => StrategyName::Fuzz(None),
        ("fuzz", Some(d)) if !d.trim().is_empty() => StrategyName::Fuzz(Some(d.trim())),
        _ => {
            return Err(format!(
                "unknown strategy {s:?}: expected {}",
                Grammar::Strategy.describe()
            ))
        }
    })
}

/// The settings table as Markdown: one row per setting, with its option, variable, flag and
/// grammar (the table of the docs, which a test keeps equal to this).
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| setting | `#[conc_test]` option | variable | harness flag | value |\n| --- | --- | --- | --- | --- |\n",
    );
    for t in SETTINGS {
        let opt = if t.scopes.attribute {
            format!("`{} = {}`", t.name, t.example)
        } else {
            "-".into()
        };
        s.push_str(&format!(
            "| {} | {} | `{}` | `{}` | {} |\n",
            t.help,
            opt,
            t.env_var(),
            t.flag(),
            t.grammar.describe()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["soon", "5x", "", "1m30", "-1s", "1e99s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_seeds_bools() {
        assert_eq!(parse_count("10_000"), Ok(10_000));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert!(parse_count("-3").is_err());
        assert!(parse_count("1.5").is_err());
        assert_eq!(parse_seed("0x10"), Ok(16));
        assert_eq!(parse_seed("1_000"), Ok(1000));
        assert!(parse_seed("ten").is_err());
        assert_eq!(parse_bool("YES"), Ok(true));
        assert_eq!(parse_bool("off"), Ok(false));
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn strategies() {
        assert_eq!(parse_strategy("pct:5"), Ok(StrategyName::Pct(Some(5))));
        assert_eq!(parse_strategy("dfs"), Ok(StrategyName::Dfs(None)));
        assert_eq!(parse_strategy("dfs:plain"), Ok(StrategyName::DfsPlain));
        assert_eq!(parse_strategy("rr"), Ok(StrategyName::RoundRobin));
        assert_eq!(
            parse_strategy("fuzz:target/c"),
            Ok(StrategyName::Fuzz(Some("target/c")))
        );
        assert!(matches!(
            parse_strategy("gw1:abc"),
            Ok(StrategyName::Replay(_))
        ));
        assert!(parse_strategy("pct:0").is_err());
        assert!(parse_strategy("bfs").unwrap_err().contains("unknown"));
    }

    #[test]
    fn every_setting_checks_its_example() {
        for s in SETTINGS {
            let ex = s.example.trim_matches('"');
            if s.grammar == Grammar::Token {
                continue;
            }
            assert_eq!(s.check(ex), Ok(()), "{}", s.name);
        }
        assert!(setting("iterations").unwrap().check("0").is_err());
        assert!(setting("shrink_budget").unwrap().check("0").is_ok());
        assert!(setting("time_budget").unwrap().check("0s").is_err());
        assert!(setting("replay").unwrap().check("@target/t.token").is_ok());
        assert!(setting("replay").unwrap().check("abc").is_err());
    }

    #[test]
    fn names() {
        let s = setting("max_preemptions").unwrap();
        assert_eq!(s.env_var(), "GOWEAVE_MAX_PREEMPTIONS");
        assert_eq!(s.flag(), "--max-preemptions");
        assert_eq!(Origin::Attribute.label(s), "#[conc_test(max_preemptions)]");
        assert!(markdown_table().contains("`GOWEAVE_TIME_BUDGET`"));
    }
}
