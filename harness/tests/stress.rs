//! `--stress N` / `#[conc_test(stress = N)]`: N recorded runs on the work-stealing runtime,
//! split across jobs, stopping at the first failure, which comes back as the checker's
//! failure with a replay token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::harness::{ConcTest, TestConfig};
use goweave::sync::{Mutex, WaitGroup};
use goweave::FailureKind;
use goweave_harness::{explore_test, Args, Shard};

/// Check-then-act across two critical sections, with 20 us of work in between.
fn overdraw() {
    let balance = Arc::new(Mutex::new(100i64));
    let wg = WaitGroup::new();
    for _ in 0..2 {
        let balance = balance.clone();
        wg.go(move || {
            let ok = *balance.lock() >= 80;
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(20) {
                std::hint::spin_loop();
            }
            if ok {
                *balance.lock() -= 80;
            }
        });
    }
    wg.wait();
    let b = *balance.lock();
    assert!(b >= 0, "overdrawn: balance {b}");
}

fn test(name: &'static str, body: fn()) -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name,
        module_path: "stress",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: false,
        options: &[],
        body,
    }))
}

#[test]
fn stress_on_two_jobs_finds_the_overdraw_and_gives_a_replay_token() {
    let t = test("overdraw", overdraw);
    let cfg = TestConfig::resolve(&[("stress", "2000"), ("expect", "panic")], &[]).unwrap();
    assert!(cfg.describe().starts_with("stress: 2000 recorded runs"));
    let ex = explore_test(t, &cfg, Shard::WHOLE, 2, None).unwrap();
    let (_, f) = ex.failure.expect("2,000 recorded runs on 2 jobs overdraw");
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(f.report().contains("overdrawn"), "{f}");
    assert!(ex.schedules < 2000, "stopped at the first failure");
    let schedule: goweave::Schedule = f.token().unwrap().parse().unwrap();
    let again = goweave::replay(&schedule, overdraw).unwrap_err();
    assert!(again.report().contains("overdrawn"), "{again}");
}

#[test]
fn a_passing_test_runs_all_its_stress_runs_and_a_replay_token_still_replays() {
    let t = test("fine", || {
        let h = goweave::go(|| 1);
        assert_eq!(h.join(), 1);
    });
    let cfg = TestConfig::resolve(&[("stress", "40")], &[]).unwrap();
    let ex = explore_test(t, &cfg, Shard::WHOLE, 2, None).unwrap();
    assert!(ex.failure.is_none());
    assert_eq!(ex.schedules, 40);
    let token = goweave::Schedule::new(Vec::new(), 0, 0).token();
    let cfg = TestConfig::resolve(&[("stress", "40"), ("replay", token.as_str())], &[]).unwrap();
    assert!(!cfg.stressed());
}

#[test]
fn the_stress_flag_reaches_the_configuration() {
    let a = Args::parse(["stress", "--stress", "500", "--jobs", "2"]).unwrap();
    assert_eq!(a.settings.get("stress"), Some("500"));
    let zero = goweave::check::Layer::new(goweave::check::Origin::Flag).with("stress", "0");
    let err = TestConfig::resolve(&[], &[&zero]).unwrap_err();
    assert!(err.to_string().contains("--stress"), "{err}");
}

/// A coin from `goweave::rand` (recorded, so each run replays) picks which of two assertions
/// fails: two distinct failures, each in about half of the runs.
fn heads_or_tails() {
    let coin = goweave::go(|| goweave::rand::below(2)).join();
    if coin == 0 {
        panic!("heads");
    }
    panic!("tails");
}

#[test]
fn stress_with_all_failures_makes_every_run_and_keeps_each_distinct_failure() {
    let t = test("heads_or_tails", heads_or_tails);
    let cfg = TestConfig::resolve(&[("stress", "60"), ("all_failures", "true")], &[]).unwrap();
    let ex = explore_test(t, &cfg, Shard::WHOLE, 2, None).unwrap();
    assert_eq!(ex.schedules, 60, "no job stops at a failure");
    let (_, first) = ex.failure.expect("60 coins");
    assert_eq!(
        ex.later.len(),
        1,
        "heads and tails, each once: {:?}",
        ex.later
    );
    let (_, second) = &ex.later[0];
    let mut sides = Vec::new();
    for f in [&first, second] {
        assert_eq!(f.kind(), FailureKind::Panic, "{f}");
        let schedule: goweave::Schedule = f.token().unwrap().parse().unwrap();
        let again = goweave::replay(&schedule, heads_or_tails).unwrap_err();
        let side = if again.report().contains("heads") {
            "heads"
        } else {
            "tails"
        };
        assert!(
            f.report().contains(side),
            "the token replays its own failure: {f}"
        );
        sides.push(side);
    }
    sides.sort();
    assert_eq!(sides, ["heads", "tails"]);

    let cfg = TestConfig::resolve(&[("stress", "60")], &[]).unwrap();
    let ex = explore_test(t, &cfg, Shard::WHOLE, 2, None).unwrap();
    assert!(ex.failure.is_some() && ex.later.is_empty());
    assert!(
        ex.schedules < 60,
        "without all_failures the first failure stops the jobs"
    );
}
