//! `--shard` and `--jobs`: shards 1/n..n/n explore disjoint schedules whose union is the
//! unsharded run, and `--jobs 2` finds the same failure as `--jobs 1`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use goweave::check::{Layer, Origin};
use goweave::harness::{ConcTest, TestConfig};
use goweave::runtime::gosched;
use goweave_harness::{explore_test, Args, Outcome, Record, Shard};

/// Signatures observed, one string per schedule (e.g. `"1720311528..."`).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Tests that use `LOG` take this first.
static SERIAL: Mutex<()> = Mutex::new(());

/// Three goroutines each note their number and a random digit (a data choice the strategy
/// makes) three times, yielding in between; the notes are the schedule's signature.
fn interleaving() {
    let seen = Arc::new(Mutex::new(String::new()));
    let hs: Vec<_> = (1..=3)
        .map(|g| {
            let seen = seen.clone();
            goweave::go(move || {
                for _ in 0..3 {
                    let r = goweave::rand::below(10) as u8;
                    let mut s = seen.lock().unwrap();
                    s.push(char::from(b'0' + g));
                    s.push(char::from(b'0' + r));
                    drop(s);
                    gosched();
                }
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    let s = seen.lock().unwrap().clone();
    LOG.lock().unwrap().push(s);
}

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

fn test(name: &'static str, body: fn()) -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name,
        module_path: "partition",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: false,
        options: &[],
        body,
    }))
}

fn config(strategy: &str, iterations: u64, seed: u64) -> TestConfig {
    let (iterations, seed) = (iterations.to_string(), seed.to_string());
    TestConfig::resolve(
        &[
            ("strategy", strategy),
            ("iterations", &iterations),
            ("seed", &seed),
        ],
        &[],
    )
    .unwrap()
}

/// The multiset of signatures of the schedules explored by `shard`, and how many there were.
fn signatures(
    t: &ConcTest,
    cfg: &TestConfig,
    shard: Shard,
    jobs: u64,
) -> (BTreeMap<String, u64>, u64) {
    LOG.lock().unwrap().clear();
    let ex = explore_test(t, cfg, shard, jobs, None).unwrap();
    assert!(ex.failure.is_none());
    let mut m = BTreeMap::new();
    for s in LOG.lock().unwrap().drain(..) {
        *m.entry(s).or_insert(0) += 1;
    }
    assert_eq!(m.values().sum::<u64>(), ex.schedules);
    (m, ex.schedules)
}

#[test]
fn shards_are_disjoint_and_together_the_unsharded_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = test("interleaving", interleaving);
    for strategy in ["random", "pos"] {
        let cfg = config(strategy, 203, 11);
        let (whole, n) = signatures(t, &cfg, Shard::WHOLE, 1);
        assert_eq!(n, 203);
        assert!(
            whole.len() > 20,
            "the kernel has many interleavings: {}",
            whole.len()
        );
        for count in 1..=4 {
            let mut union: BTreeMap<String, u64> = BTreeMap::new();
            let mut total = 0;
            for index in 0..count {
                let shard = Shard { index, count };
                let (part, n) = signatures(t, &cfg, shard, 1);
                // Shard i/n runs the schedules k = i-1, i-1+n, ... of 0..203.
                assert_eq!(
                    n,
                    (203 - index).div_ceil(count),
                    "{strategy:?} shard {shard}"
                );
                total += n;
                for (s, c) in part {
                    *union.entry(s).or_insert(0) += c;
                }
            }
            assert_eq!(total, 203, "{strategy:?}: {count} shards");
            assert_eq!(union, whole, "{strategy:?}: the union of {count} shards");
        }
        // Jobs split a shard the same way.
        let (jobs, _) = signatures(t, &cfg, Shard::WHOLE, 3);
        assert_eq!(jobs, whole, "{strategy:?}: 3 jobs");
    }
}

#[test]
fn sequential_strategies_run_whole_in_the_first_shard() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = test("interleaving", interleaving);
    // The preemption-bounded search is not split.
    let cfg = config("dfs:2", 300, 0);
    let (whole, n) = signatures(t, &cfg, Shard::WHOLE, 1);
    assert!(n > 1);
    let (first, _) = signatures(t, &cfg, Shard { index: 0, count: 3 }, 2);
    assert_eq!(first, whole);
    for index in 1..3 {
        let (rest, n) = signatures(t, &cfg, Shard { index, count: 3 }, 1);
        assert_eq!((rest.len(), n), (0, 0));
    }
}

/// Four goroutines note their numbers under one mutex: the lock order is the schedule's
/// signature (24 traces, no yields).
fn lock_order() {
    let m = Arc::new(goweave::sync::Mutex::new(String::new()));
    let hs: Vec<_> = (1..=4u8)
        .map(|g| {
            let m = m.clone();
            goweave::go(move || m.lock().push(char::from(b'0' + g)))
        })
        .collect();
    for h in hs {
        h.join();
    }
    let s = m.lock().clone();
    LOG.lock().unwrap().push(s);
}

#[test]
fn the_exhaustive_search_splits_over_shards_and_jobs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = test("lock_order", lock_order);
    let cfg = TestConfig::resolve(&[("strategy", "dfs")], &[]).unwrap();
    assert!(cfg.splittable());
    let (whole, n) = signatures(t, &cfg, Shard::WHOLE, 1);
    assert_eq!((whole.len(), n), (24, 24), "one schedule per lock order");
    let mut union: BTreeMap<String, u64> = BTreeMap::new();
    let mut records = Vec::new();
    for index in 0..3 {
        let shard = Shard { index, count: 3 };
        LOG.lock().unwrap().clear();
        let ex = explore_test(t, &cfg, shard, 1, None).unwrap();
        assert!(ex.failure.is_none());
        assert_eq!(ex.exhausted.as_deref(), Some("dpor"), "shard {shard}");
        assert!(
            ex.wasted > 0,
            "shard {shard}: finding its subtrees costs runs"
        );
        assert!(
            ex.schedules > 0 && ex.schedules < 24,
            "shard {shard}: {}",
            ex.schedules
        );
        for s in LOG.lock().unwrap().drain(..) {
            *union.entry(s).or_insert(0) += 1;
        }
        let r = Record::of("lock_order".into(), &cfg, shard, 1, &ex);
        assert!(r.to_json().contains(r#""exhausted":"dpor""#));
        records.push(r);
    }
    // Wasted runs logged signatures too: the counted ones are each lock order once.
    assert_eq!(
        records.iter().map(|r| r.schedules).sum::<u64>(),
        24,
        "the shards' counts add up"
    );
    assert_eq!(
        union.keys().collect::<Vec<_>>(),
        whole.keys().collect::<Vec<_>>()
    );
    // The end line says it is the shard's share, and the runs it wasted.
    let line = goweave_harness::summary(&records[1..2], std::time::Duration::from_secs(1));
    let want = format!(
        "ok: explored all {} schedules of shard 2/3 (dpor; {} wasted runs)",
        records[1].schedules, records[1].wasted
    );
    assert!(line.contains(&want), "{want} in {line}");
    // Merged, the records add up to the single count, and the search is complete.
    let merged = goweave_harness::merge::merge(records).unwrap();
    assert_eq!(merged[0].schedules, 24);
    assert_eq!(merged[0].exhausted.as_deref(), Some("dpor"));
    // Two jobs in one process split the same way: the same 24 lock orders.
    LOG.lock().unwrap().clear();
    let ex = explore_test(t, &cfg, Shard::WHOLE, 2, None).unwrap();
    assert_eq!(ex.schedules, 24);
    assert_eq!(ex.exhausted.as_deref(), Some("dpor"));
    let mut jobs: BTreeMap<String, u64> = BTreeMap::new();
    for s in LOG.lock().unwrap().drain(..) {
        *jobs.entry(s).or_insert(0) += 1;
    }
    assert_eq!(
        jobs.keys().collect::<Vec<_>>(),
        whole.keys().collect::<Vec<_>>()
    );
}

#[test]
fn jobs_of_a_split_exhaustive_search_find_a_failure_that_replays() {
    let t = test("lost_update", lost_update);
    let cfg = TestConfig::resolve(&[("strategy", "dfs")], &[]).unwrap();
    for jobs in [1, 2, 3] {
        let ex = explore_test(t, &cfg, Shard::WHOLE, jobs, None).unwrap();
        let (_, f) = ex.failure.expect("the lost update");
        assert_eq!(f.kind(), goweave::FailureKind::Panic, "{jobs} jobs: {f}");
        let token: goweave::Schedule = f.token().unwrap().parse().unwrap();
        let again = goweave::replay(&token, lost_update).unwrap_err();
        assert!(again.report().contains("an increment was lost"), "{again}");
    }
}

#[test]
fn two_jobs_find_the_same_failure_as_one() {
    let t = test("lost_update", lost_update);
    for (strategy, seed) in [("random", 0), ("random", 5), ("pos", 3)] {
        let cfg = config(strategy, 2_000, seed);
        let one = explore_test(t, &cfg, Shard::WHOLE, 1, None).unwrap();
        let (k1, f1) = one.failure.expect("one job finds the lost update");
        for jobs in [2, 3] {
            let many = explore_test(t, &cfg, Shard::WHOLE, jobs, None).unwrap();
            let (k, f) = many.failure.expect("several jobs find it too");
            assert_eq!(
                k, k1,
                "{strategy:?} seed {seed}: same schedule with {jobs} jobs"
            );
            assert_eq!(f.original_token(), f1.original_token());
            assert_eq!(f.token(), f1.token());
            assert_eq!(f.kind(), f1.kind());
        }
        // And the shard that owns schedule k1 finds it as well.
        let shard = Shard {
            index: k1 % 4,
            count: 4,
        };
        let sharded = explore_test(t, &cfg, shard, 2, None).unwrap();
        assert_eq!(sharded.failure.map(|(k, _)| k), Some(k1));
    }
}

#[test]
fn flags_reach_the_configuration() {
    let a = Args::parse([
        "campaign",
        "--strategy",
        "pct:4",
        "--iterations",
        "77",
        "--seed",
        "3",
        "--max-steps",
        "999",
        "--time-budget",
        "1s",
    ])
    .unwrap();
    let env = Layer::new(Origin::Env).with("iterations", "5");
    let cfg = TestConfig::resolve(&[], &[&env, &a.settings]).unwrap();
    assert_eq!(cfg.strategy, goweave::StrategyKind::Pct { depth: 4 });
    assert_eq!(
        (cfg.iterations, cfg.seed, cfg.max_steps),
        (77, 3, Some(999))
    );
    assert_eq!(cfg.time_budget, Some(std::time::Duration::from_secs(1)));
}

#[test]
fn expected_failures_in_records_and_shards() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = test("lost_update", lost_update);
    let cfg = TestConfig::resolve(&[("strategy", "dfs"), ("expect", "panic")], &[]).unwrap();
    let ex = explore_test(t, &cfg, Shard::WHOLE, 1, None).unwrap();
    let r = Record::of("lost_update".into(), &cfg, Shard::WHOLE, 1, &ex);
    assert_eq!(r.outcome, Outcome::Passed);
    assert!(r.failures[0].expected);
    assert!(r.failures[0].token.starts_with("gw1:"));
    let j = r.to_json();
    for field in [
        r#""type":"goweave","event":"test","name":"lost_update","outcome":"passed""#,
        r#""shard":"1/1","jobs":1"#,
        r#""expect":"panic","failures":[{"kind":"panic","expected":true,"schedule":"#,
        r#""token":"gw1:"#,
        r#""message":null}"#,
    ] {
        assert!(j.contains(field), "{field} in {j}");
    }

    // The preemption-bounded dfs is sequential: shard 2/4 runs nothing, and passes with a
    // message.
    let cfg = TestConfig::resolve(&[("strategy", "dfs:2"), ("expect", "panic")], &[]).unwrap();
    let shard = Shard { index: 1, count: 4 };
    let ex = explore_test(t, &cfg, shard, 1, None).unwrap();
    let r = Record::of("lost_update".into(), &cfg, shard, 1, &ex);
    assert_eq!((r.outcome, r.schedules), (Outcome::Passed, 0));
    let m = r.message.expect("says the shard did not find it");
    assert!(m.contains("none of the 0 schedules of shard 2/4"), "{m}");

    // Unsharded, a missing expected failure fails.
    let cfg = TestConfig::resolve(&[("expect", "deadlock"), ("iterations", "50")], &[]).unwrap();
    let ex = explore_test(
        test("interleaving", interleaving),
        &cfg,
        Shard::WHOLE,
        2,
        None,
    );
    let r = Record::of("x".into(), &cfg, Shard::WHOLE, 2, &ex.unwrap());
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r
        .message
        .unwrap()
        .starts_with("expected a deadlock, but none of the 50"));
}
