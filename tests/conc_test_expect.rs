//! `expect` and configuration errors, through the runtime side of `#[conc_test]`: what a test
//! reports when the expected failure is missing, when another kind is found, and when a
//! setting cannot be used.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::check::{Layer, Origin};
use goweave::harness::{explore, judge, run_test, ConcTest, Part, TestConfig};
use goweave::runtime::gosched;
use goweave::FailureKind;

fn correct() {
    let h = goweave::go(|| 1);
    assert_eq!(h.join(), 1);
}

fn lost_update() {
    let n = Arc::new(AtomicU64::new(0));
    let m = n.clone();
    let h = goweave::go(move || {
        let v = m.load(Ordering::SeqCst);
        gosched();
        m.store(v + 1, Ordering::SeqCst);
    });
    let v = n.load(Ordering::SeqCst);
    gosched();
    n.store(v + 1, Ordering::SeqCst);
    h.join();
    assert_eq!(n.load(Ordering::SeqCst), 2, "an increment was lost");
}

fn descriptor(
    name: &'static str,
    options: &'static [(&'static str, &'static str)],
    body: fn(),
) -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name,
        module_path: "conc_test_expect",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: false,
        options,
        body,
    }))
}

fn panic_text(f: impl FnOnce()) -> String {
    let p = catch_unwind(AssertUnwindSafe(f)).expect_err("the test should fail");
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_missing_expected_failure_fails_with_a_clear_message() {
    let t = descriptor(
        "never_deadlocks",
        &[("expect", "deadlock"), ("iterations", "20")],
        correct,
    );
    let msg = panic_text(|| run_test(t));
    assert!(
        msg.contains(
            "expected a deadlock, but none of the 20 schedules explored (random, seed 0) found one"
        ),
        "{msg}"
    );
}

#[test]
fn another_kind_of_failure_fails_and_shows_its_report() {
    let t = descriptor(
        "panics_instead",
        &[("expect", "deadlock"), ("iterations", "1_000")],
        lost_update,
    );
    let msg = panic_text(|| run_test(t));
    assert!(
        msg.starts_with("expected a deadlock, but the checker found a panic:"),
        "{msg}"
    );
    assert!(msg.contains("an increment was lost"), "{msg}");
    assert!(msg.contains("GOWEAVE_REPLAY=gw1:"), "{msg}");
}

#[test]
fn an_unexpected_failure_fails_with_the_report_and_replay_line() {
    let t = descriptor("plain_bug", &[("iterations", "1_000")], lost_update);
    let msg = panic_text(|| run_test(t));
    assert!(msg.contains("an increment was lost"), "{msg}");
    assert!(
        msg.contains("cargo test -- plain_bug --exact"),
        "the replay line names the test: {msg}"
    );
}

#[test]
fn the_expected_failure_passes() {
    let cfg = TestConfig::resolve(&[("expect", "panic"), ("iterations", "1_000")], &[]).unwrap();
    let ex = explore(lost_update, &cfg, &Part::whole(), "t").unwrap();
    let note = judge(&cfg, &ex)
        .unwrap()
        .expect("a note about the failure found");
    assert!(
        note.starts_with("found the expected panic at schedule "),
        "{note}"
    );
}

#[test]
fn fuzz_finds_the_expected_failure() {
    let t = descriptor(
        "fuzzed",
        &[("strategy", "fuzz"), ("expect", "panic")],
        lost_update,
    );
    run_test(t);
    let t = descriptor(
        "fuzzed_correct",
        &[("strategy", "fuzz"), ("iterations", "50")],
        correct,
    );
    run_test(t);
}

#[test]
fn variables_override_options_and_bad_values_name_the_variable() {
    let spec = &[("strategy", "pct"), ("iterations", "10"), ("seed", "1")];
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        Layer::from_lookup(move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let e = env(&[
        ("GOWEAVE_STRATEGY", "pos"),
        ("GOWEAVE_ITERATIONS", "30"),
        ("GOWEAVE_SEED", "9"),
        ("GOWEAVE_MAX_STEPS", "500"),
        ("GOWEAVE_TIME_BUDGET", "1m30s"),
        ("GOWEAVE_EXPECT", "race"),
        ("GOWEAVE_LEAK_CHECK", "false"),
    ]);
    let cfg = TestConfig::resolve(spec, &[&e]).unwrap();
    assert_eq!(cfg.strategy, goweave::StrategyKind::Pos);
    assert_eq!((cfg.iterations, cfg.seed), (30, 9));
    assert_eq!(cfg.max_steps, Some(500));
    assert_eq!(cfg.time_budget, Some(std::time::Duration::from_secs(90)));
    assert_eq!(cfg.expect, Some(FailureKind::Race));
    assert!(!cfg.leak_check);

    let e = env(&[("GOWEAVE_DEPTH", "5")]);
    let cfg = TestConfig::resolve(spec, &[&e]).unwrap();
    assert_eq!(cfg.strategy, goweave::StrategyKind::Pct { depth: 5 });

    for (var, value, why) in [
        ("GOWEAVE_ITERATIONS", "many", "whole number"),
        ("GOWEAVE_ITERATIONS", "0", "at least 1"),
        ("GOWEAVE_STRATEGY", "bfs", "unknown strategy"),
        ("GOWEAVE_SEED", "x", "expected a number"),
        ("GOWEAVE_TIME_BUDGET", "soon", "not a duration"),
        ("GOWEAVE_EXPECT", "crash", "expected deadlock"),
        ("GOWEAVE_LEAK_CHECK", "maybe", "true or false"),
        ("GOWEAVE_REPLAY", "gw1:!!", "goweave"),
    ] {
        let pairs: &'static [(&'static str, &'static str)] =
            Box::leak(vec![(var, value)].into_boxed_slice());
        let err = TestConfig::resolve(spec, &[&env(pairs)])
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{var}={value}: {err}");
        if var != "GOWEAVE_REPLAY" {
            assert!(err.contains(&format!("{var}={value:?}")), "{err}");
        }
    }

    // Harness flags come last and win.
    let flags = Layer::new(Origin::Flag).with("iterations", "7");
    let cfg = TestConfig::resolve(spec, &[&env(&[("GOWEAVE_ITERATIONS", "30")]), &flags]).unwrap();
    assert_eq!(cfg.iterations, 7);
}

#[test]
fn the_replay_option_runs_exactly_the_recorded_schedule() {
    let token = goweave::Checker::new()
        .iterations(1_000)
        .run(lost_update)
        .expect_err("the lost update is found")
        .token()
        .unwrap()
        .to_string();
    let pinned: &'static str = Box::leak(token.clone().into_boxed_str());
    let spec = &[("replay", pinned), ("expect", "panic")];
    let cfg = TestConfig::resolve(spec, &[]).unwrap();
    assert_eq!(cfg.describe(), "replay");
    let ex = explore(lost_update, &cfg, &Part::whole(), "pinned").unwrap();
    assert_eq!(ex.schedules, 1);
    let (k, f) = ex.failure.as_ref().expect("the pinned schedule fails");
    assert_eq!((*k, f.token()), (0, Some(token.as_str())));
    assert!(judge(&cfg, &ex).is_ok());

    // A strategy given later (here by a variable) explores instead of replaying.
    let env = Layer::new(Origin::Env).with("strategy", "random");
    let cfg = TestConfig::resolve(spec, &[&env]).unwrap();
    assert_eq!(cfg.strategy, goweave::StrategyKind::Random);
}

/// A goroutine left blocked when the body returns is a leak; `expect = "leak"` keeps the kernel.
#[goweave::conc_test(iterations = 20, expect = "leak")]
fn expect_leak_finds_a_blocked_goroutine() {
    let c = goweave::chan::make::<u8>(0);
    goweave::go(move || c.send(1));
}

/// `leak_check = false`: Go's exit semantics, the goroutine is torn down silently.
#[goweave::conc_test(iterations = 20, leak_check = false)]
fn leak_check_false_ignores_the_blocked_goroutine() {
    let c = goweave::chan::make::<u8>(0);
    goweave::go(move || c.send(1));
}
