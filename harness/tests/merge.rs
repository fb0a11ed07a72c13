//! `goweave-harness merge`: the `--format json` outputs of four shards, merged by the
//! `goweave-harness` command, give the unsharded run's records: the same failures (kind,
//! schedule, tokens, replay line, verdict) and the same counts. Also: a missing shard fails the
//! merge, fuzz corpora are merged, and `--trace-dir` links each failure's HTML trace.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::harness::{ConcTest, TestConfig};
use goweave::runtime::gosched;
use goweave_harness::merge::{merge, merge_corpora, read_output, record_of};
use goweave_harness::{explore_test, json, summary, Outcome, Record, Shard};

/// Three goroutines increment a counter with a load, a yield and a store: an increment is lost
/// in some schedules only.
fn lost_update() {
    let n = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let n = n.clone();
            goweave::go(move || {
                let v = n.load(Ordering::SeqCst);
                gosched();
                n.store(v + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(n.load(Ordering::SeqCst), 3, "an increment was lost");
}

/// Correct: the same counter, one atomic add each.
fn counter_ok() {
    let n = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            goweave::go(move || {
                n.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

/// A goroutine that blocks on a channel nobody sends on, in some schedules: it only waits when
/// main's `try_send` came first.
fn rare_leak() {
    let ch = goweave::chan::make::<u32>(0);
    let rx = ch.clone();
    goweave::go(move || {
        if goweave::rand::below(8) == 0 {
            rx.recv();
        }
    });
    gosched();
}

type Options = &'static [(&'static str, &'static str)];

fn test(name: &'static str, body: fn(), options: Options) -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name,
        module_path: "merge",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: false,
        options,
        body,
    }))
}

fn record(t: &ConcTest, shard: Shard) -> Record {
    let cfg = TestConfig::resolve(t.options, &[]).unwrap();
    let ex = explore_test(t, &cfg, shard, 1, None).unwrap();
    Record::of(t.path(), &cfg, shard, 1, &ex)
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goweave-merge-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The merged record must say what the unsharded run said.
fn assert_same(merged: &Record, whole: &Record) {
    let n = &whole.name;
    assert_eq!(merged.name, whole.name);
    assert_eq!(merged.outcome, whole.outcome, "{n}: outcome");
    assert_eq!(merged.strategy, whole.strategy, "{n}");
    assert_eq!(merged.seed, whole.seed, "{n}");
    assert_eq!(merged.iterations, whole.iterations, "{n}");
    assert_eq!(merged.expect, whole.expect, "{n}");
    assert_eq!(merged.schedules, whole.schedules, "{n}: schedules");
    assert_eq!(merged.message, whole.message, "{n}: message");
    assert_eq!(merged.failures.len(), whole.failures.len(), "{n}: failures");
    for (m, w) in merged.failures.iter().zip(&whole.failures) {
        assert_eq!(
            (m.kind, m.expected, m.schedule),
            (w.kind, w.expected, w.schedule),
            "{n}"
        );
        assert_eq!(m.token, w.token, "{n}: shrunk token");
        assert_eq!(m.original_token, w.original_token, "{n}: original token");
        assert_eq!(m.replay, w.replay, "{n}: replay line");
        // The report is the same failure; only "found by ... at schedule i" counts within the
        // shard.
        assert_eq!(
            m.report.lines().next(),
            w.report.lines().next(),
            "{n}: report"
        );
    }
    let m = merged.merged.as_ref().expect("a merged record says so");
    assert_eq!(m.shards, 4);
    assert!(m.explored >= merged.schedules, "{n}");
}

#[test]
fn merging_four_shards_gives_the_unsharded_runs_failures_and_counts() {
    let tests = [
        test(
            "counter_ok",
            counter_ok,
            &[("strategy", "random"), ("iterations", "150"), ("seed", "1")],
        ),
        test(
            "lost_update",
            lost_update,
            &[
                ("strategy", "random"),
                ("iterations", "2000"),
                ("seed", "5"),
            ],
        ),
        test(
            "lost_update_pos",
            lost_update,
            &[("strategy", "pos"), ("iterations", "2000"), ("seed", "3")],
        ),
        test(
            "lost_update_expected",
            lost_update,
            &[
                ("strategy", "random"),
                ("iterations", "2000"),
                ("seed", "9"),
                ("expect", "panic"),
            ],
        ),
        test(
            "rare_leak",
            rare_leak,
            &[("strategy", "random"), ("iterations", "400"), ("seed", "2")],
        ),
        test(
            "leak_expected_as_deadlock",
            rare_leak,
            &[
                ("strategy", "random"),
                ("iterations", "300"),
                ("seed", "4"),
                ("expect", "deadlock"),
            ],
        ),
    ];
    let whole: Vec<Record> = tests.iter().map(|t| record(t, Shard::WHOLE)).collect();
    // The campaign is worth sharding: failures past schedule 0, in different shards.
    let ks: Vec<u64> = whole
        .iter()
        .filter_map(|r| r.failures.first().map(|f| f.schedule))
        .collect();
    assert_eq!(ks.len(), 5, "{ks:?}");
    assert!(ks.iter().filter(|&&k| k >= 4).count() >= 2, "{ks:?}");

    // Four shard outputs, as four CI jobs would write them: libtest-mimic's own lines, one
    // goweave record per test, a summary.
    let dir = temp_dir("shards");
    let mut files = Vec::new();
    for index in 0..4 {
        let shard = Shard { index, count: 4 };
        let mut text =
            String::from("{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 6 }\n");
        for t in &tests {
            text.push_str(&record(t, shard).to_json());
            text.push('\n');
        }
        text.push_str("{\"type\":\"goweave\",\"event\":\"summary\",\"tests\":6,\"failed\":3,\"schedules\":1,\"elapsed_secs\":0.5,\"rate\":2.0}\n");
        let f = dir.join(format!("shard-{}.json", index + 1));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_goweave-harness"))
        .arg("merge")
        .arg("--format")
        .arg("json")
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "a test failed: {stderr}");
    let merged = read_output(&stdout).unwrap().records;
    assert_eq!(merged.len(), whole.len(), "{stdout}");
    for w in &whole {
        let m = merged.iter().find(|m| m.name == w.name).expect(&w.name);
        assert_same(m, w);
    }
    // The table (on stderr with --format json): one row per test, every failure with its
    // replay line.
    assert!(stderr.contains("merged 4 shard outputs"), "{stderr}");
    assert!(stderr.contains("goweave summary: 6 tests"), "{stderr}");
    for w in whole.iter().filter(|w| w.outcome == Outcome::Failed) {
        for f in &w.failures {
            assert!(stderr.contains(&f.replay), "{stderr}");
        }
    }
    // Without --format json the table is on stdout.
    let plain = Command::new(env!("CARGO_BIN_EXE_goweave-harness"))
        .arg("merge")
        .args(&files)
        .output()
        .unwrap();
    let table = String::from_utf8(plain.stdout).unwrap();
    assert_eq!(table, stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_read_back_as_written() {
    let t = test(
        "lost_update",
        lost_update,
        &[("strategy", "random"), ("iterations", "500"), ("seed", "5")],
    );
    let mut r = record(t, Shard { index: 1, count: 3 });
    assert!(!r.failures.is_empty());
    // The JSON keeps microseconds.
    r.elapsed = std::time::Duration::from_micros(250_125);
    let back = record_of(&json::parse(&r.to_json()).unwrap()).unwrap();
    assert_eq!(back.to_json(), r.to_json());
}

#[test]
fn a_missing_shard_or_a_repeated_one_is_said() {
    let t = test(
        "counter_ok",
        counter_ok,
        &[("strategy", "random"), ("iterations", "40"), ("seed", "0")],
    );
    let parts: Vec<Record> = [0, 1, 3]
        .into_iter()
        .map(|index| record(t, Shard { index, count: 4 }))
        .collect();
    let m = merge(parts.clone()).unwrap();
    assert_eq!(m[0].outcome, Outcome::Failed);
    assert_eq!(
        m[0].message.as_deref(),
        Some("only 3 of 4 shards merged: 3/4 missing")
    );
    let mut twice = parts.clone();
    twice.push(parts[0].clone());
    let e = merge(twice).unwrap_err();
    assert!(e.contains("shard 1/4 appears twice"), "{e}");
    let other = record(t, Shard { index: 0, count: 2 });
    let e = merge(vec![parts[0].clone(), other]).unwrap_err();
    assert!(e.contains("different campaigns"), "{e}");
    // Bad input: a clear error, exit code 2.
    let out = Command::new(env!("CARGO_BIN_EXE_goweave-harness"))
        .args(["merge", "/nonexistent/shard.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/shard.json"));
}

#[test]
fn an_expected_failure_no_shard_found_fails_the_merge() {
    let t = test(
        "counter_expects_deadlock",
        counter_ok,
        &[
            ("strategy", "random"),
            ("iterations", "40"),
            ("seed", "0"),
            ("expect", "deadlock"),
        ],
    );
    let parts: Vec<Record> = (0..4)
        .map(|index| record(t, Shard { index, count: 4 }))
        .collect();
    // Every shard passes on its own: the others may find it...
    assert!(parts.iter().all(|r| r.outcome == Outcome::Passed));
    // ...but together they did not.
    let m = merge(parts).unwrap();
    assert_eq!(m[0].outcome, Outcome::Failed);
    assert_eq!(
        m[0].message.as_deref(),
        Some("expected a deadlock but none of the 40 schedules of 4 shards found one")
    );
}

#[test]
fn fuzz_corpora_are_merged_input_by_input() {
    let dir = temp_dir("corpus");
    let (a, b, out) = (dir.join("a"), dir.join("b"), dir.join("out"));
    for (d, test, files) in [
        (&a, "t.one", &["0001", "0002"][..]),
        (&b, "t.one", &["0002", "0003"][..]),
        (&b, "t.two", &["0009", ".0004.77.tmp"][..]),
    ] {
        std::fs::create_dir_all(d.join(test)).unwrap();
        for f in files {
            std::fs::write(d.join(test).join(f), format!("input {f}\n")).unwrap();
        }
    }
    let s = merge_corpora(&[a.clone(), b.clone()], &out).unwrap();
    assert_eq!((s.read, s.added, s.tests), (5, 4, 2));
    let mut names: Vec<String> = ["t.one", "t.two"]
        .iter()
        .flat_map(|t| {
            std::fs::read_dir(out.join(t))
                .unwrap()
                .map(move |e| format!("{t}/{}", e.unwrap().file_name().to_string_lossy()))
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["t.one/0001", "t.one/0002", "t.one/0003", "t.two/0009"]
    );
    // Merging again adds nothing.
    let again = merge_corpora(&[a, b], &out).unwrap();
    assert_eq!(again.added, 0);
    // Through the command.
    let cli = Command::new(env!("CARGO_BIN_EXE_goweave-harness"))
        .args(["merge", "--corpus"])
        .arg(dir.join("a"))
        .arg("--corpus-out")
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(String::from_utf8_lossy(&cli.stdout).contains("corpus: 2 inputs of 1 tests"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_dir_links_each_failures_html_trace() {
    let t = test(
        "lost_update",
        lost_update,
        &[
            ("strategy", "random"),
            ("iterations", "2000"),
            ("seed", "5"),
        ],
    );
    let cfg = TestConfig::resolve(t.options, &[]).unwrap();
    let shard = Shard { index: 0, count: 1 };
    let ex = explore_test(t, &cfg, shard, 1, None).unwrap();
    let mut r = Record::of(t.path(), &cfg, shard, 1, &ex);
    let dir = temp_dir("traces");
    r.write_traces(&ex, &dir);
    let path = r.failures[0].trace.clone().expect("linked");
    assert_eq!(
        PathBuf::from(&path),
        std::fs::canonicalize(&dir)
            .unwrap()
            .join("lost_update.html")
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(&r.failures[0].replay));
    assert!(r.to_json().contains(&format!("\"trace\":\"{path}\"")));
    let table = summary(&[r], std::time::Duration::from_secs(1));
    assert!(table.contains(&format!("    trace: {path}")), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
