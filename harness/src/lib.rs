//! goweave-harness: a libtest-mimic runner for long goweave exploration campaigns.
//!
//! Put `#[goweave::conc_test]` functions in a test target with `harness = false` and call
//! [`main`]:
//!
//! ```toml
//! [[test]]
//! name = "campaign"
//! harness = false
//! ```
//!
//! ```no_run
//! #[goweave::conc_test(strategy = "pct", iterations = 100_000)]
//! fn transfer_keeps_the_total() { /* ... */ }
//!
//! fn main() {
//!     goweave_harness::main()
//! }
//! ```
//!
//! Every `#[conc_test]` linked into the binary registers itself (see `goweave::harness`), so
//! there is no list to keep. The harness takes what people type at libtest (a filter,
//! `--exact`, `--list`, `--ignored`, `--nocapture`, `--test-threads`, ...) and goweave's own
//! flags ([`args::help`]): `--strategy`, `--iterations`, `--seed`, `--replay`,
//! `--time-budget`, `--shard i/n`, `--jobs N` and `--format json`. It ends with a summary
//! table: tests, schedules, schedules per second, and failures with their replay lines.

pub mod args;
pub mod campaign;
pub mod json;
pub mod merge;
mod progress;

use std::ffi::OsString;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use goweave::check::Layer;
use goweave::harness::{ConcTest, Part, TestConfig};
use libtest_mimic::{Arguments, Failed, FormatSetting, Trial};

pub use args::{Args, Shard};
pub use campaign::{explore_test, explore_test_with, FailureRecord, Merged, Outcome, Record};

use progress::{thousands, Progress};

/// Run every registered `#[conc_test]` with the process's arguments, and exit.
pub fn main() -> ! {
    let code = run(std::env::args_os(), &ConcTest::all());
    std::process::exit(code)
}

/// Run `tests` with the command line `argv` (program name first); returns the exit code
/// (0 if every test passed, 101 if one failed, 2 for a bad command line).
pub fn run<I, T>(argv: I, tests: &[&'static ConcTest]) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = match Args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", args::help());
            return 2;
        }
    };
    if args.help {
        println!("{}", args::help());
    }
    let lt = Arguments::from_iter(args.libtest.clone());
    let env = Layer::from_env();
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    // Set once the trials exist (the line's layout depends on their names).
    let progress_slot: Arc<OnceLock<Progress>> = Arc::default();
    let started = Instant::now();
    let trials: Vec<Trial> = tests
        .iter()
        .map(|&t| {
            let (args, env, records, progress) = (
                args.clone(),
                env.clone(),
                records.clone(),
                progress_slot.clone(),
            );
            Trial::test(t.path(), move || {
                let progress = progress.get().expect("set before the trials run");
                run_one(t, &args, &env, &records, progress)
            })
            .with_ignored_flag(t.ignored)
        })
        .collect();
    let sequential = lt
        .test_threads
        .or_else(|| std::thread::available_parallelism().ok().map(Into::into))
        == Some(1);
    let pretty = !lt.quiet && matches!(lt.format, None | Some(FormatSetting::Pretty));
    let name_width = trials
        .iter()
        .filter(|t| !lt.is_filtered_out(t))
        .map(|t| t.name().chars().count())
        .max()
        .unwrap_or(0);
    progress_slot
        .set(Progress::start(
            !args.json && !lt.list,
            (sequential && pretty).then_some(name_width),
        ))
        .unwrap_or_else(|_| unreachable!("set once"));
    let conclusion = libtest_mimic::run(&lt, trials);
    if let Some(p) = progress_slot.get() {
        p.finish();
    }
    if !lt.list {
        let records = records.lock().expect("records lock");
        let summary = summary(&records, started.elapsed());
        if args.json {
            println!("{}", summary_json(&records, started.elapsed()));
            eprint!("{summary}");
        } else {
            print!("{summary}");
        }
    }
    let _ = std::io::stdout().flush();
    if conclusion.has_failed() {
        101
    } else {
        0
    }
}

/// One trial: configure, explore, record, judge.
fn run_one(
    t: &'static ConcTest,
    args: &Args,
    env: &Layer,
    records: &Mutex<Vec<Record>>,
    progress: &Progress,
) -> Result<(), Failed> {
    let name = t.path();
    let record = match TestConfig::resolve(t.options, &[env, &args.settings]) {
        Err(e) => Record::error(name, args.shard, args.jobs, e.to_string()),
        Ok(cfg) => {
            let planned = if cfg.splittable() {
                Part::nth(args.shard.index, args.shard.count).count(cfg.iterations)
            } else {
                cfg.iterations
            };
            let ticket = progress.begin(planned, cfg.time_budget);
            let r = explore_test_with(
                t,
                &cfg,
                args.shard,
                args.jobs,
                Some(ticket.counter.clone()),
                Some(ticket.estimate.clone()),
            );
            progress.end(ticket);
            match r {
                Ok(ex) => {
                    let mut r = Record::of(name, &cfg, args.shard, args.jobs, &ex);
                    if let Some(dir) = &args.trace_dir {
                        r.write_traces(&ex, dir);
                    }
                    r
                }
                Err(e) => Record::error(name, args.shard, args.jobs, e.to_string()),
            }
        }
    };
    if args.json {
        let line = format!("{}\n", record.to_json());
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
    let result = match record.outcome {
        Outcome::Passed => Ok(()),
        Outcome::Failed => {
            let mut msg = String::new();
            if let Some(m) = &record.message {
                msg.push_str(m);
                msg.push('\n');
            }
            for f in &record.failures {
                msg.push_str(&f.report);
                msg.push('\n');
            }
            Err(Failed::from(msg.trim_end()))
        }
    };
    records.lock().expect("records lock").push(record);
    result
}

/// The closing table.
pub fn summary(records: &[Record], wall: Duration) -> String {
    let mut records: Vec<&Record> = records.iter().collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    let total: u64 = records.iter().map(|r| r.schedules).sum();
    let failed: Vec<&&Record> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    let width = records
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = String::new();
    s.push_str(&format!(
        "\ngoweave summary: {} test{}, {} schedules in {:.2}s, {} schedules/s, {} failed\n",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        thousands(total),
        wall.as_secs_f64(),
        thousands((total as f64 / wall.as_secs_f64().max(1e-9)) as u64),
        failed.len()
    ));
    if records.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "  {:<width$}  {:>12}  {:>12}  {:<20}  result\n",
        "test", "schedules", "schedules/s", "strategy"
    ));
    for r in &records {
        let result = match (r.outcome, r.failures.first()) {
            (Outcome::Passed, Some(f)) => {
                format!("ok (expected {} at schedule {})", f.kind, f.schedule + 1)
            }
            (Outcome::Passed, None) if r.message.is_some() => {
                format!("ok (no {} in this shard)", r.expect.unwrap_or("failure"))
            }
            (Outcome::Passed, None) => match &r.exhausted {
                Some(by) => {
                    // A shard's share of a split search, and the runs it spent getting there
                    // (sleep-set blocked, or leading to another part's subtree).
                    let share = if r.shard.count > 1 {
                        format!(" of shard {}", r.shard)
                    } else {
                        String::new()
                    };
                    let wasted = if r.wasted > 0 {
                        format!("; {} wasted runs", thousands(r.wasted))
                    } else {
                        String::new()
                    };
                    format!(
                        "ok: explored all {} schedules{share} ({by}{wasted})",
                        thousands(r.schedules)
                    )
                }
                None => "ok".into(),
            },
            (Outcome::Failed, Some(f)) => {
                format!("FAILED: {} at schedule {}", f.kind, f.schedule + 1)
            }
            (Outcome::Failed, None) => "FAILED".into(),
        };
        s.push_str(&format!(
            "  {:<width$}  {:>12}  {:>12}  {:<20}  {result}\n",
            r.name,
            thousands(r.schedules),
            thousands(r.rate() as u64),
            r.strategy,
        ));
    }
    if !failed.is_empty() {
        s.push_str("failures:\n");
        for r in failed {
            match (r.failures.first(), &r.message) {
                (Some(f), m) => {
                    if let Some(m) = m {
                        s.push_str(&format!("  {}: {m}\n", r.name));
                    } else {
                        s.push_str(&format!("  {}: {}\n", r.name, f.kind));
                    }
                    s.push_str(&format!("    {}\n", f.replay));
                    if let Some(t) = &f.trace {
                        s.push_str(&format!("    trace: {t}\n"));
                    }
                }
                (None, Some(m)) => s.push_str(&format!("  {}: {m}\n", r.name)),
                (None, None) => s.push_str(&format!("  {}\n", r.name)),
            }
        }
    }
    // Expected failures link their trace too, and merged shards may have found more.
    for r in &records {
        if r.outcome == Outcome::Passed {
            if let Some(t) = r.failures.first().and_then(|f| f.trace.as_ref()) {
                s.push_str(&format!(
                    "  {}: expected {}, trace: {t}\n",
                    r.name, r.failures[0].kind
                ));
            }
        }
        // `all_failures`: the distinct failures found after the first.
        for f in r.failures.iter().skip(1) {
            also(&mut s, &r.name, f, "");
        }
        let Some(m) = &r.merged else { continue };
        for f in &m.other_failures {
            also(
                &mut s,
                &r.name,
                f,
                " (a later schedule than the first failure)",
            );
        }
    }
    s
}

/// The summary's lines for a failure found after a test's first: kind, schedule, replay line
/// and trace.
fn also(s: &mut String, test: &str, f: &campaign::FailureRecord, note: &str) {
    s.push_str(&format!(
        "  {test}: also {} at schedule {}{note}\n    {}\n",
        f.kind,
        f.schedule + 1,
        f.replay
    ));
    if let Some(t) = &f.trace {
        s.push_str(&format!("    trace: {t}\n"));
    }
}

/// The closing JSON record.
pub(crate) fn summary_json(records: &[Record], wall: Duration) -> String {
    let total: u64 = records.iter().map(|r| r.schedules).sum();
    let failed = records
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .count() as u64;
    let mut o = campaign::Obj::new();
    o.str("type", "goweave");
    o.str("event", "summary");
    o.num("tests", records.len() as u64);
    o.num("failed", failed);
    o.num("schedules", total);
    o.raw("elapsed_secs", &format!("{:.6}", wall.as_secs_f64()));
    o.raw(
        "rate",
        &format!("{:.1}", total as f64 / wall.as_secs_f64().max(1e-9)),
    );
    o.finish()
}
