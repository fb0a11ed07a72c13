//! Exploring one test for the harness: its shard of the schedules, split over `--jobs`
//! threads, and the record of what was found.
//!
//! Schedule `k` (from 0) of a test belongs to shard `k % n`; within a shard, to job
//! `(k / n) % jobs`. So job `j` of shard `i` explores `k = i + n·j + n·jobs·t` for t = 0, 1, …
//! ([`Part`] with offset `i + n·j` and stride `n·jobs`). The jobs share one bound: when a job
//! finds a failure at schedule `k`, the others skip schedules after `k`, and the failure kept
//! is the one at the smallest `k`. For strategies whose schedule `k` depends only on the seed
//! and `k` (random, pos), that is exactly the failure one thread finds first, whatever the
//! number of jobs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::harness::{self, ConcTest, ConfigError, Exploration, Part, TestConfig};

use crate::args::Shard;

/// Explore `test` configured by `cfg`: the schedules of `shard`, on `jobs` threads. Every
/// schedule begun adds one to `progress`.
pub fn explore_test(
    test: &ConcTest,
    cfg: &TestConfig,
    shard: Shard,
    jobs: u64,
    progress: Option<Arc<AtomicU64>>,
) -> Result<Exploration, ConfigError> {
    explore_test_with(test, cfg, shard, jobs, progress, None)
}

/// [`explore_test`], and an exhaustive search publishes its estimate of the fraction of it
/// done into `estimate` (the bits of an `f64`) at every schedule, for the progress line.
pub fn explore_test_with(
    test: &ConcTest,
    cfg: &TestConfig,
    shard: Shard,
    jobs: u64,
    progress: Option<Arc<AtomicU64>>,
    estimate: Option<Arc<AtomicU64>>,
) -> Result<Exploration, ConfigError> {
    let name = test.path();
    let jobs = if cfg.splittable() { jobs.max(1) } else { 1 };
    let stride = shard.count * jobs;
    let stop = Arc::new(AtomicU64::new(u64::MAX));
    let part = |j: u64| Part {
        offset: shard.index + shard.count * j,
        stride,
        stop: Some(stop.clone()),
        progress: progress.clone(),
        estimate: estimate.clone(),
    };
    let all_failures = cfg.settings.all_failures == Some(true);
    let start = Instant::now();
    if jobs == 1 {
        return harness::explore(test.body, cfg, &part(0), &name);
    }
    let results: Vec<Result<Exploration, ConfigError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let p = part(j);
                let (name, stop) = (&name, &stop);
                s.spawn(move || {
                    let r = harness::explore(test.body, cfg, &p, name);
                    // With `all_failures` every job goes on looking for failures of its own.
                    if let (
                        Ok(Exploration {
                            failure: Some((k, _)),
                            ..
                        }),
                        false,
                    ) = (&r, all_failures)
                    {
                        stop.fetch_min(*k, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a job thread panicked"))
            .collect()
    });
    let mut merged = Exploration {
        schedules: 0,
        steps: Some(0),
        elapsed: start.elapsed(),
        failure: None,
        later: Vec::new(),
        exhausted: None,
        wasted: 0,
    };
    // A split exhaustive search is over when every job's part is.
    let mut all_exhausted = true;
    let mut found = Vec::new();
    for r in results {
        let ex = r?;
        merged.schedules += ex.schedules;
        merged.wasted += ex.wasted;
        all_exhausted &= ex.exhausted.is_some();
        if merged.exhausted.is_none() {
            merged.exhausted = ex.exhausted.clone();
        }
        merged.steps = match (merged.steps, ex.steps) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        found.extend(ex.failure);
        found.extend(ex.later);
    }
    if !all_exhausted {
        merged.exhausted = None;
    }
    // The first failure of the whole run is the one at the smallest schedule; with
    // `all_failures`, each later one is kept once (jobs may meet the same failure).
    found.sort_by_key(|(k, _)| *k);
    let mut seen = std::collections::HashSet::new();
    let mut found = found
        .into_iter()
        .filter(|(_, f)| seen.insert((f.kind(), f.location().to_string())));
    merged.failure = found.next();
    if all_failures {
        merged.later = found.collect();
    }
    Ok(merged)
}

/// Pass or fail, for the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No failure, or the expected one.
    Passed,
    /// A failure, a missing expected failure, or a configuration error.
    Failed,
}

/// A failure found while exploring a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRecord {
    /// `panic`, `deadlock`, `leak`, `race`, `livelock`, `nondeterminism` or `blocked`.
    pub kind: &'static str,
    /// It is the failure the test expects (`expect = "..."`).
    pub expected: bool,
    /// The index (from 0) of the failing schedule in the unsharded run.
    pub schedule: u64,
    /// The token of the shrunk schedule.
    pub token: String,
    /// The token of the schedule as found.
    pub original_token: String,
    /// The line that replays it.
    pub replay: String,
    /// The whole report.
    pub report: String,
    /// The HTML trace written for it (`--trace-dir`), if any.
    pub trace: Option<String>,
}

/// What a record made by `goweave-harness merge` adds: how it was put together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// Shard records merged.
    pub shards: u64,
    /// Schedules the shards ran in all (at least `schedules`: shards that found a later failure,
    /// or none, ran past the first failure, where the unsharded run stops).
    pub explored: u64,
    /// Failures shards found after the first one (the unsharded run would not reach them).
    pub other_failures: Vec<FailureRecord>,
}

/// What the harness learnt about one test: one line of the summary, one JSON record.
#[derive(Clone, Debug)]
pub struct Record {
    /// The test's libtest name.
    pub name: String,
    /// Passed or failed.
    pub outcome: Outcome,
    /// The strategy and seed, e.g. `pct:3, seed 0` (empty on a configuration error).
    pub strategy: String,
    /// The campaign seed.
    pub seed: u64,
    /// Schedules the unsharded run would explore.
    pub iterations: u64,
    /// This process's shard.
    pub shard: Shard,
    /// Threads per test.
    pub jobs: u64,
    /// Schedules run.
    pub schedules: u64,
    /// Scheduling points, when known (not after a failure).
    pub steps: Option<u64>,
    /// Wall time.
    pub elapsed: Duration,
    /// The failure kind the test must find.
    pub expect: Option<&'static str>,
    /// Failures found (at most one today: exploration stops at the first).
    pub failures: Vec<FailureRecord>,
    /// Why the test failed without a failure record: a configuration error, or an expected
    /// failure that was not found (or a different one).
    pub message: Option<String>,
    /// Set on the records of `goweave-harness merge`.
    pub merged: Option<Merged>,
    /// If an exhaustive strategy explored every schedule: its name (`dpor`).
    pub exhausted: Option<String>,
    /// Runs not counted in `schedules`: sleep-set blocked ones, and those a part of a split
    /// exhaustive search makes to reach its own subtrees.
    pub wasted: u64,
}

impl Record {
    /// Schedules per second.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.schedules as f64 / s
        } else {
            0.0
        }
    }

    /// The record of a test that could not run.
    pub fn error(name: String, shard: Shard, jobs: u64, message: String) -> Record {
        Record {
            name,
            outcome: Outcome::Failed,
            strategy: String::new(),
            seed: 0,
            iterations: 0,
            shard,
            jobs,
            schedules: 0,
            steps: None,
            elapsed: Duration::ZERO,
            expect: None,
            failures: Vec::new(),
            message: Some(message),
            merged: None,
            exhausted: None,
            wasted: 0,
        }
    }

    /// The record of an exploration, judged against the test's expectation.
    ///
    /// In a sharded run, a shard that does not find the expected failure passes, with a
    /// message: only the shards together explore the whole run, so only they together can miss
    /// it (the records of all shards tell).
    pub fn of(name: String, cfg: &TestConfig, shard: Shard, jobs: u64, ex: &Exploration) -> Record {
        let verdict = match (harness::judge(cfg, ex), cfg.expect) {
            (Err(_), Some(want)) if shard.count > 1 && ex.failure.is_none() => Ok(Some(format!(
                "expected a {} but none of the {} schedules of shard {shard} found one; the other shards may",
                want.name(),
                ex.schedules
            ))),
            (v, _) => v,
        };
        let failures = ex
            .failure
            .iter()
            .chain(&ex.later)
            .map(|(k, f)| FailureRecord {
                kind: f.kind().name(),
                expected: cfg.expect == Some(f.kind()),
                schedule: *k,
                token: f.token().unwrap_or_default().to_string(),
                original_token: f.original_token().unwrap_or_default().to_string(),
                replay: f.replay_line(),
                report: f.to_string(),
                trace: None,
            })
            .collect();
        Record {
            name,
            outcome: if verdict.is_ok() {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            strategy: cfg.describe(),
            seed: cfg.seed,
            iterations: cfg.iterations,
            shard,
            jobs,
            schedules: ex.schedules,
            steps: ex.steps,
            elapsed: ex.elapsed,
            expect: cfg.expect.map(|k| k.name()),
            failures,
            message: match verdict {
                // With an expectation, say what was wrong in one line; the report of a
                // failure found is in `failures`.
                Err(m) if cfg.expect.is_some() => m.lines().next().map(str::to_string),
                Ok(Some(m)) if ex.failure.is_none() => Some(m),
                _ => None,
            },
            merged: None,
            exhausted: ex.exhausted.clone(),
            wasted: ex.wasted,
        }
    }

    /// Write the HTML trace of each failure of `ex` into `dir` (named after the test, and the
    /// shard in a sharded run) and link it from the failure's record. A file that cannot be
    /// written is said in the record's message, not silently dropped.
    pub fn write_traces(&mut self, ex: &Exploration, dir: &std::path::Path) {
        let mut base = self.name.replace("::", ".");
        base.retain(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if self.shard.count > 1 {
            base.push_str(&format!(
                ".shard-{}-of-{}",
                self.shard.index + 1,
                self.shard.count
            ));
        }
        // An absolute path: `cargo test` runs the harness in the package's directory, which
        // is rarely where the person reading the summary is.
        let _ = std::fs::create_dir_all(dir);
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let found = ex.failure.iter().chain(&ex.later);
        for (i, ((_, f), rec)) in found.zip(self.failures.iter_mut()).enumerate() {
            // The first failure's page keeps the plain name; later ones (`all_failures`)
            // are numbered as the report numbers them.
            let file = match i {
                0 => format!("{base}.html"),
                i => format!("{base}.{}.html", i + 1),
            };
            let path = dir.join(file);
            match std::fs::write(&path, f.html_trace()) {
                Ok(()) => rec.trace = Some(path.display().to_string()),
                Err(e) => {
                    let note = format!("cannot write the trace {}: {e}", path.display());
                    self.message = Some(match self.message.take() {
                        Some(m) => format!("{m}; {note}"),
                        None => note,
                    });
                }
            }
        }
    }

    /// The record as one line of JSON (schema in `harness/README.md`).
    pub fn to_json(&self) -> String {
        let mut o = Obj::new();
        o.str("type", "goweave");
        o.str("event", "test");
        o.str("name", &self.name);
        o.str(
            "outcome",
            match self.outcome {
                Outcome::Passed => "passed",
                Outcome::Failed => "failed",
            },
        );
        o.str("strategy", &self.strategy);
        o.num("seed", self.seed);
        o.num("iterations", self.iterations);
        o.str("shard", &self.shard.to_string());
        o.num("jobs", self.jobs);
        o.num("schedules", self.schedules);
        match self.steps {
            Some(s) => o.num("steps", s),
            None => o.raw("steps", "null"),
        }
        o.raw(
            "elapsed_secs",
            &format!("{:.6}", self.elapsed.as_secs_f64()),
        );
        o.raw("rate", &format!("{:.1}", self.rate()));
        match self.expect {
            Some(e) => o.str("expect", e),
            None => o.raw("expect", "null"),
        }
        let failures = |list: &[FailureRecord]| -> Vec<String> {
            list.iter()
                .map(|f| {
                    let mut fo = Obj::new();
                    fo.str("kind", f.kind);
                    fo.raw("expected", if f.expected { "true" } else { "false" });
                    fo.num("schedule", f.schedule);
                    fo.str("token", &f.token);
                    fo.str("original_token", &f.original_token);
                    fo.str("replay", &f.replay);
                    fo.str("report", &f.report);
                    match &f.trace {
                        Some(t) => fo.str("trace", t),
                        None => fo.raw("trace", "null"),
                    }
                    fo.finish()
                })
                .collect()
        };
        o.raw(
            "failures",
            &format!("[{}]", failures(&self.failures).join(",")),
        );
        match &self.message {
            Some(m) => o.str("message", m),
            None => o.raw("message", "null"),
        }
        if let Some(e) = &self.exhausted {
            o.str("exhausted", e);
        }
        if self.wasted > 0 {
            o.num("wasted", self.wasted);
        }
        if let Some(m) = &self.merged {
            o.num("merged_shards", m.shards);
            o.num("explored", m.explored);
            o.raw(
                "other_failures",
                &format!("[{}]", failures(&m.other_failures).join(",")),
            );
        }
        o.finish()
    }
}

/// A JSON object written field by field.
pub(crate) struct Obj(String);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj(String::from("{"))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(k);
        self.0.push_str("\":");
    }

    pub(crate) fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        escape_into(&mut self.0, v);
    }

    pub(crate) fn num(&mut self, k: &str, v: u64) {
        self.key(k);
        self.0.push_str(&v.to_string());
    }

    pub(crate) fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.0.push_str(v);
    }

    pub(crate) fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// `s` as a JSON string literal (RFC 8259).
fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&goweave::report::escape_json(s));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut o = Obj::new();
        o.str("a", "x\"y\\z\n\u{1}é");
        o.num("n", 3);
        assert_eq!(o.finish(), r#"{"a":"x\"y\\z\n\u0001é","n":3}"#);
    }
}
