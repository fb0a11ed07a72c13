//! The harness command line: goweave's own flags are taken out here, everything else (filter,
//! `--exact`, `--list`, `--ignored`, `--nocapture`, `--test-threads`, ...) goes on to
//! libtest-mimic untouched.

use std::ffi::OsString;
use std::fmt;

use goweave::check::settings::SETTINGS;
use goweave::check::{Layer, Origin};

/// `--shard i/n`: this process explores schedules `k` with `k % n == i - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 0 (`i - 1`).
    pub index: u64,
    /// `n`, at least 1.
    pub count: u64,
}

impl Shard {
    /// The whole run (`1/1`).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected i/n with 1 <= i <= n, such as 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: u64 = i.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }
}

/// The parsed command line.
#[derive(Clone, Debug)]
pub struct Args {
    /// The checker's settings given as flags (`--strategy`, `--iterations`, ...: every setting
    /// of `goweave::check::settings` by its flag), checked when resolved.
    pub settings: Layer,
    /// `--shard i/n` (default `1/1`).
    pub shard: Shard,
    /// `--jobs N`: threads exploring each test (default 1).
    pub jobs: u64,
    /// `--format json`.
    pub json: bool,
    /// `--help`: print goweave's flags before libtest-mimic's help.
    pub help: bool,
    /// Everything else, with the program name first, for libtest-mimic.
    pub libtest: Vec<OsString>,
}

/// The setting a flag names (`--time-budget` is `time_budget`), if it names one.
fn setting_of(flag: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .find(|s| s.scopes.flag && s.flag() == flag)
        .map(|s| s.name)
}

/// The help text of goweave's flags: one line per checker setting (from the settings table,
/// so it cannot drift from what the flags accept), then the harness's own.
pub fn help() -> String {
    let mut h = String::from(
        "goweave flags (each overrides the test's #[conc_test] options and the GOWEAVE_* variables):\n",
    );
    for s in SETTINGS.iter().filter(|s| s.scopes.flag) {
        let flag = format!("{} <V>", s.flag());
        h.push_str(&format!("      {flag:<24}{}\n", s.help));
        h.push_str(&format!("      {:<24}  {}\n", "", s.grammar.describe()));
    }
    h.push_str(
        "      --shard <i/n>           explore only schedules k with k % n == i - 1 (disjoint shards;
                              together they are the unsharded run); with fuzz, a campaign of
                              its own with 1/n of the iterations (share the corpus dir to merge)
      --jobs <N>              explore each test on N threads (with random and pos, the same
                              failure as one thread)
      --format json           one JSON record per test on stdout (see harness/README.md)
",
    );
    h
}

impl Args {
    /// Parse `argv` (program name first).
    pub fn parse<I, T>(argv: I) -> Result<Args, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut it = argv.into_iter().map(Into::into);
        let mut args = Args {
            settings: Layer::new(Origin::Flag),
            shard: Shard::WHOLE,
            jobs: 1,
            json: false,
            help: false,
            libtest: vec![it.next().unwrap_or_else(|| "goweave-harness".into())],
        };
        let mut after_dashes = false;
        while let Some(arg) = it.next() {
            let Some(s) = arg.to_str().filter(|_| !after_dashes) else {
                args.libtest.push(arg);
                continue;
            };
            if s == "--" {
                after_dashes = true;
                args.libtest.push(arg);
                continue;
            }
            if s == "-h" || s == "--help" {
                args.help = true;
                args.libtest.push(arg);
                continue;
            }
            let (flag, inline) = match s.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (s, None),
            };
            if flag == "--format" {
                let v = match inline {
                    Some(v) => v,
                    None => value_of(&mut it, flag)?,
                };
                if v == "json" {
                    args.json = true;
                }
                args.libtest.push("--format".into());
                args.libtest.push(v.into());
                continue;
            }
            let setting = setting_of(flag);
            if setting.is_none() && flag != "--shard" && flag != "--jobs" {
                args.libtest.push(arg);
                continue;
            }
            let v = match inline {
                Some(v) => v,
                None => value_of(&mut it, flag)?,
            };
            match (flag, setting) {
                (_, Some(name)) => args.settings.set(name, v).map_err(|e| e.to_string())?,
                ("--shard", _) => args.shard = v.parse()?,
                _ => {
                    args.jobs = match v.trim().parse::<u64>() {
                        Ok(n) if n >= 1 => n,
                        _ => {
                            return Err(format!("--jobs {v:?}: expected a number of threads >= 1"))
                        }
                    }
                }
            }
        }
        Ok(args)
    }
}

fn value_of(it: &mut impl Iterator<Item = OsString>, flag: &str) -> Result<String, String> {
    match it.next() {
        Some(v) => v
            .into_string()
            .map_err(|v| format!("{flag} {v:?}: not valid UTF-8")),
        None => Err(format!("{flag} needs a value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Args {
        Args::parse(std::iter::once("prog").chain(a.iter().copied())).unwrap()
    }

    #[test]
    fn goweave_flags_are_taken_and_the_rest_forwarded() {
        let a = parse(&[
            "--strategy",
            "pct:2",
            "--iterations=500",
            "lost_update",
            "--exact",
            "--shard",
            "2/4",
            "--jobs",
            "3",
            "--test-threads",
            "1",
            "--format",
            "json",
            "--time-budget",
            "2s",
        ]);
        assert_eq!(a.settings.get("strategy"), Some("pct:2"));
        assert_eq!(a.settings.get("iterations"), Some("500"));
        assert_eq!(a.settings.get("time_budget"), Some("2s"));
        assert_eq!(a.shard, Shard { index: 1, count: 4 });
        assert_eq!(a.jobs, 3);
        assert!(a.json);
        let rest: Vec<_> = a.libtest.iter().map(|s| s.to_str().unwrap()).collect();
        assert_eq!(
            rest,
            [
                "prog",
                "lost_update",
                "--exact",
                "--test-threads",
                "1",
                "--format",
                "json"
            ]
        );
    }

    #[test]
    fn the_timer_mode_is_a_flag() {
        let a = parse(&["--timers", "when_blocked", "x"]);
        assert_eq!(a.settings.get("timers"), Some("when_blocked"));
        assert_eq!(
            parse(&["--timers=any_time"]).settings.get("timers"),
            Some("any_time")
        );
        assert!(help().contains("--timers"));
        assert!(help().contains("--shrink-budget"));
    }

    #[test]
    fn bad_flags_are_errors() {
        let p = |a: &[&str]| Args::parse(std::iter::once("prog").chain(a.iter().copied()));
        assert!(p(&["--shard", "0/4"]).unwrap_err().contains("--shard"));
        assert!(p(&["--shard", "5/4"]).is_err());
        assert!(p(&["--shard", "x"]).is_err());
        assert!(p(&["--jobs", "0"]).unwrap_err().contains("--jobs"));
        assert!(p(&["--seed"]).unwrap_err().contains("needs a value"));
    }
}
