//! `goweave-harness merge`: the records of a sharded campaign (`--shard i/n --format json`,
//! one file per shard, from CI jobs or machines of their own) put back together into the
//! records of the whole run, with one summary table, every failure with its replay line, and
//! the shards' fuzz corpora merged into one directory.
//!
//! What "the whole run" means: shard `i/n` explores schedules `k` with `k % n == i - 1`, so for
//! `random`, `pos` and `pct` the shards together explore what the unsharded run explores. The
//! unsharded run stops at its first failure, the one at the smallest `k` over all shards; a
//! shard that found a later failure (or none) also ran schedules past that `k` that the
//! unsharded run never reaches. So a merged record counts as `schedules` the schedules up to
//! and including the first failure (what the unsharded run ran), keeps the others in
//! `explored`, and lists failures found after the first in `other_failures`. Without a failure,
//! `schedules` is the sum. `dfs`, `round_robin` and replays run whole in shard 1, and fuzzing
//! runs a campaign per shard: their counts are summed.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::args::Shard;
use crate::campaign::{FailureRecord, Outcome, Record};
use crate::json::{self, Value};

/// The help text of `goweave-harness merge`.
pub const HELP: &str = "\
usage: goweave-harness merge [options] <shard.json>...

Merge the --format json outputs of the shards of one campaign (--shard i/n) into the records of
the whole run: one summary table, every failure with its replay line. Exits 1 if a merged test
failed, 2 on bad input.

options:
      --format json        merged records and a summary as JSON lines on stdout (the table
                           goes to stderr)
      --corpus <DIR>       a shard's fuzz corpus directory (--strategy fuzz:<DIR>); repeat it
      --corpus-out <DIR>   merge every --corpus into DIR (one subdirectory per test)
";

/// The failure kinds as the records name them.
const KINDS: [&str; 7] = [
    "panic",
    "deadlock",
    "leak",
    "race",
    "livelock",
    "nondeterminism",
    "blocked",
];

fn kind(s: &str) -> Result<&'static str, String> {
    KINDS
        .iter()
        .find(|k| **k == s)
        .copied()
        .ok_or_else(|| format!("unknown failure kind {s:?}"))
}

/// What one shard's output holds.
#[derive(Clone, Debug, Default)]
pub struct ShardOutput {
    /// Its goweave test records.
    pub records: Vec<Record>,
    /// The wall time its summary record gives, if it has one.
    pub wall: Option<Duration>,
}

/// Read the goweave records out of one `--format json` output. Lines that are not goweave's
/// (libtest-mimic's own events, stray text) are skipped; a goweave record that does not parse is
/// an error naming its line.
pub fn read_output(text: &str) -> Result<ShardOutput, String> {
    let mut out = ShardOutput::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('{') || !line.contains("\"goweave\"") {
            continue;
        }
        let v = json::parse(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        if v.get("type").and_then(Value::as_str) != Some("goweave") {
            continue;
        }
        match v.get("event").and_then(Value::as_str) {
            Some("test") => out
                .records
                .push(record_of(&v).map_err(|e| format!("line {}: {e}", n + 1))?),
            Some("summary") => {
                let secs = v.get("elapsed_secs").and_then(Value::as_f64).unwrap_or(0.0);
                out.wall = Some(Duration::from_secs_f64(secs.max(0.0)));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn field<'a>(v: &'a Value, k: &str) -> Result<&'a Value, String> {
    v.get(k).ok_or_else(|| format!("no field {k:?}"))
}

fn str_field(v: &Value, k: &str) -> Result<String, String> {
    field(v, k)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("field {k:?} is not a string"))
}

fn u64_field(v: &Value, k: &str) -> Result<u64, String> {
    field(v, k)?
        .as_u64()
        .ok_or_else(|| format!("field {k:?} is not a non-negative integer"))
}

fn opt_str(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn failure_of(v: &Value) -> Result<FailureRecord, String> {
    Ok(FailureRecord {
        kind: kind(&str_field(v, "kind")?)?,
        expected: field(v, "expected")?
            .as_bool()
            .ok_or("field \"expected\" is not a boolean")?,
        schedule: u64_field(v, "schedule")?,
        token: str_field(v, "token")?,
        original_token: str_field(v, "original_token")?,
        replay: str_field(v, "replay")?,
        report: str_field(v, "report")?,
        trace: opt_str(v, "trace"),
    })
}

fn failures_of(v: &Value, k: &str) -> Result<Vec<FailureRecord>, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(a) => a
            .as_array()
            .ok_or_else(|| format!("field {k:?} is not an array"))?
            .iter()
            .map(failure_of)
            .collect(),
    }
}

/// A test record read back from its JSON (the inverse of [`Record::to_json`]).
pub fn record_of(v: &Value) -> Result<Record, String> {
    let outcome = match str_field(v, "outcome")?.as_str() {
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        o => return Err(format!("unknown outcome {o:?}")),
    };
    let shard: Shard = str_field(v, "shard")?.parse()?;
    Ok(Record {
        name: str_field(v, "name")?,
        outcome,
        strategy: str_field(v, "strategy")?,
        seed: u64_field(v, "seed")?,
        iterations: u64_field(v, "iterations")?,
        shard,
        jobs: u64_field(v, "jobs")?,
        schedules: u64_field(v, "schedules")?,
        steps: v.get("steps").and_then(Value::as_u64),
        elapsed: Duration::from_secs_f64(
            field(v, "elapsed_secs")?
                .as_f64()
                .ok_or("field \"elapsed_secs\" is not a number")?
                .max(0.0),
        ),
        expect: match v.get("expect") {
            None | Some(Value::Null) => None,
            Some(e) => Some(kind(e.as_str().ok_or("field \"expect\" is not a string")?)?),
        },
        failures: failures_of(v, "failures")?,
        message: opt_str(v, "message"),
        exhausted: opt_str(v, "exhausted"),
        wasted: v.get("wasted").and_then(Value::as_u64).unwrap_or(0),
        merged: v
            .get("merged_shards")
            .and_then(Value::as_u64)
            .map(|n| crate::campaign::Merged {
                shards: n,
                explored: v.get("explored").and_then(Value::as_u64).unwrap_or(0),
                other_failures: failures_of(v, "other_failures").unwrap_or_default(),
            }),
    })
}

/// Strategies whose shards split one run's schedules by number (the rest run whole in shard 1,
/// or, fuzzing, a campaign per shard).
fn split_by_number(strategy: &str) -> bool {
    ["random", "pos", "pct"]
        .iter()
        .any(|s| strategy.starts_with(s))
}

/// Merge the records of every shard into one record per test, in name order. Each test must
/// come from shards of one `n`, each shard at most once; a test some shards lack fails with a
/// message naming them.
pub fn merge(records: Vec<Record>) -> Result<Vec<Record>, String> {
    let mut by_test: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records {
        by_test.entry(r.name.clone()).or_default().push(r);
    }
    by_test.into_values().map(merge_test).collect()
}

fn merge_test(mut parts: Vec<Record>) -> Result<Record, String> {
    parts.sort_by_key(|r| r.shard.index);
    let name = parts[0].name.clone();
    let n = parts[0].shard.count;
    if let Some(r) = parts.iter().find(|r| r.shard.count != n) {
        return Err(format!(
            "{name}: shards of different campaigns ({} and {})",
            parts[0].shard, r.shard
        ));
    }
    if let Some(w) = parts.windows(2).find(|w| w[0].shard == w[1].shard) {
        return Err(format!(
            "{name}: shard {} appears twice (was a file given twice?)",
            w[0].shard
        ));
    }
    let first = &parts[0];
    let mut merged = Record {
        name: name.clone(),
        outcome: Outcome::Passed,
        strategy: first.strategy.clone(),
        seed: first.seed,
        iterations: first.iterations,
        shard: Shard::WHOLE,
        jobs: parts.iter().map(|r| r.jobs).max().unwrap_or(1),
        schedules: 0,
        steps: None,
        elapsed: parts.iter().map(|r| r.elapsed).sum(),
        expect: first.expect,
        failures: Vec::new(),
        message: None,
        // A split exhaustive search (`dfs`) is over when every shard's part is; one that is
        // not split (`dfs:K`) ran whole in shard 1, and the others ran nothing.
        exhausted: parts
            .iter()
            .all(|r| r.exhausted.is_some() || r.schedules + r.wasted == 0)
            .then(|| parts.iter().find_map(|r| r.exhausted.clone()))
            .flatten(),
        wasted: parts.iter().map(|r| r.wasted).sum(),
        merged: Some(crate::campaign::Merged {
            shards: parts.len() as u64,
            explored: parts.iter().map(|r| r.schedules).sum(),
            other_failures: Vec::new(),
        }),
    };
    // A test that could not be configured fails as it did in its shards.
    if let Some(bad) = parts.iter().find(|r| r.strategy.is_empty()) {
        merged.outcome = Outcome::Failed;
        merged.message = bad.message.clone();
        merged.schedules = merged.merged.as_ref().map_or(0, |m| m.explored);
        return Ok(merged);
    }
    let mut all: Vec<(u64, FailureRecord)> = parts
        .iter()
        .flat_map(|r| r.failures.iter().map(move |f| (r.shard.index, f.clone())))
        .collect();
    all.sort_by_key(|(_, f)| f.schedule);
    let first_failure = all.first().map(|(shard, f)| (*shard, f.schedule));
    merged.schedules = match first_failure {
        Some((_, k)) if split_by_number(&merged.strategy) => parts
            .iter()
            .map(|r| {
                let j = r.shard.index;
                // Schedules of shard j numbered at most k.
                let upto = if j <= k { (k - j) / n + 1 } else { 0 };
                r.schedules.min(upto)
            })
            .sum(),
        _ => parts.iter().map(|r| r.schedules).sum(),
    };
    merged.steps = if first_failure.is_none() {
        parts.iter().map(|r| r.steps).sum()
    } else {
        None
    };
    let missing: Vec<String> = (0..n)
        .filter(|i| !parts.iter().any(|r| r.shard.index == *i))
        .map(|i| Shard { index: i, count: n }.to_string())
        .collect();
    let mut tokens = BTreeSet::new();
    let mut failures = all
        .into_iter()
        .filter(|(_, f)| tokens.insert(f.token.clone()));
    if let Some((shard, f)) = failures.next() {
        // The shard that found the first failure judged it as the unsharded run does.
        let judged = parts.iter().find(|r| r.shard.index == shard);
        merged.outcome = judged.map_or(Outcome::Failed, |r| r.outcome);
        merged.message = judged.and_then(|r| r.message.clone());
        merged.failures.push(f);
    } else if let Some(want) = merged.expect {
        merged.outcome = Outcome::Failed;
        merged.message = Some(format!(
            "expected a {want} but none of the {} schedules of {} shard{} found one",
            merged.schedules,
            parts.len(),
            if parts.len() == 1 { "" } else { "s" }
        ));
    }
    if let Some(m) = merged.merged.as_mut() {
        m.other_failures = failures.map(|(_, f)| f).collect();
    }
    if !missing.is_empty() {
        merged.outcome = Outcome::Failed;
        let note = format!(
            "only {} of {n} shards merged: {} missing",
            parts.len(),
            missing.join(", ")
        );
        merged.message = Some(match merged.message.take() {
            Some(m) => format!("{note}; {m}"),
            None => note,
        });
    }
    Ok(merged)
}

/// Inputs of one corpus merge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorpusStats {
    /// Inputs read from the shards' directories.
    pub read: u64,
    /// Inputs the output directory did not have yet.
    pub added: u64,
    /// Test subdirectories seen.
    pub tests: u64,
}

/// Merge fuzz corpus directories (`<dir>/<test>/<input>`, one file per input, named by a hash
/// of its content) into `out`: every input of every shard, each once.
pub fn merge_corpora(dirs: &[PathBuf], out: &Path) -> Result<CorpusStats, String> {
    let mut stats = CorpusStats::default();
    let mut tests = BTreeSet::new();
    let ctx = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    for dir in dirs {
        let entries = std::fs::read_dir(dir).map_err(|e| ctx(dir, e))?;
        for test in entries {
            let test = test.map_err(|e| ctx(dir, e))?;
            if !test.file_type().map_err(|e| ctx(&test.path(), e))?.is_dir() {
                continue;
            }
            let name = test.file_name();
            tests.insert(name.clone());
            let target = out.join(&name);
            std::fs::create_dir_all(&target).map_err(|e| ctx(&target, e))?;
            for input in std::fs::read_dir(test.path()).map_err(|e| ctx(&test.path(), e))? {
                let input = input.map_err(|e| ctx(&test.path(), e))?;
                let file = input.file_name();
                // Temporary files of a writer that was interrupted start with a dot.
                if file.to_string_lossy().starts_with('.')
                    || !input
                        .file_type()
                        .map_err(|e| ctx(&input.path(), e))?
                        .is_file()
                {
                    continue;
                }
                stats.read += 1;
                let dest = target.join(&file);
                if dest.exists() {
                    continue;
                }
                std::fs::copy(input.path(), &dest).map_err(|e| ctx(&dest, e))?;
                stats.added += 1;
            }
        }
    }
    stats.tests = tests.len() as u64;
    Ok(stats)
}

/// `goweave-harness merge` with `argv` (after `merge`); returns the exit code.
pub fn cli<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    match run_cli(argv.into_iter().map(Into::into).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("goweave-harness merge: {e}");
            2
        }
    }
}

fn run_cli(argv: Vec<OsString>) -> Result<i32, String> {
    let mut files = Vec::new();
    let mut corpora = Vec::new();
    let mut corpus_out = None;
    let mut json_out = false;
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy().into_owned();
        let mut value = |flag: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value\n\n{HELP}"))
        };
        match s.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(0);
            }
            "--format" => {
                let v = value("--format")?;
                if v.as_os_str() != "json" {
                    return Err(format!("--format {}: only json is known", v.display()));
                }
                json_out = true;
            }
            "--format=json" => json_out = true,
            "--corpus" => corpora.push(value("--corpus")?),
            "--corpus-out" => corpus_out = Some(value("--corpus-out")?),
            f if f.starts_with("--") => return Err(format!("unknown flag {f}\n\n{HELP}")),
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() && corpora.is_empty() {
        return Err(format!("no shard outputs given\n\n{HELP}"));
    }
    if !corpora.is_empty() && corpus_out.is_none() {
        return Err("--corpus needs --corpus-out <DIR>, where the merged corpus goes".into());
    }
    let mut records = Vec::new();
    let mut wall = Duration::ZERO;
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let out = read_output(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        if out.records.is_empty() {
            return Err(format!(
                "{}: no goweave records (was it written with --format json?)",
                f.display()
            ));
        }
        wall = wall.max(
            out.wall
                .unwrap_or_else(|| out.records.iter().map(|r| r.elapsed).sum()),
        );
        records.extend(out.records);
    }
    let merged = merge(records)?;
    let mut text = String::new();
    if !files.is_empty() {
        text = crate::summary(&merged, wall);
        text.insert_str(
            0,
            &format!(
                "\nmerged {} shard output{}",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ),
        );
    }
    if let Some(out) = &corpus_out {
        let s = merge_corpora(&corpora, out)?;
        text.push_str(&format!(
            "corpus: {} inputs of {} tests from {} directories merged into {} ({} new)\n",
            s.read,
            s.tests,
            corpora.len(),
            out.display(),
            s.added
        ));
    }
    if json_out {
        for r in &merged {
            println!("{}", r.to_json());
        }
        println!("{}", crate::summary_json(&merged, wall));
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    Ok(if merged.iter().any(|r| r.outcome == Outcome::Failed) {
        1
    } else {
        0
    })
}
