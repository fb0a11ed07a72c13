//! `goweave::check` reads its configuration from `GOWEAVE_*` variables. Environment variables
//! are process-wide, so everything runs in one test, in order.

use std::sync::Arc;

use goweave::sync::Mutex;
use goweave::{check, go};

#[path = "common/kernels.rs"]
mod kernels;
use kernels::lost_update;

fn correct() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let h = go(move || *m2.lock() += 1);
    *m.lock() += 1;
    h.join();
    assert_eq!(*m.lock(), 2);
}

const VARS: [&str; 9] = [
    "GOWEAVE_STRATEGY",
    "GOWEAVE_ITERATIONS",
    "GOWEAVE_SEED",
    "GOWEAVE_REPLAY",
    "GOWEAVE_TIME_BUDGET",
    "GOWEAVE_MAX_STEPS",
    "GOWEAVE_SHRINK_BUDGET",
    "GOWEAVE_TRACE",
    "GOWEAVE_TRACE_FILE",
];

fn clear() {
    for v in VARS {
        std::env::remove_var(v);
    }
}

/// The panic message of `f`.
fn panic_of(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let p = std::panic::catch_unwind(f).unwrap_err();
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn check_follows_the_environment() {
    clear();
    // Defaults: 100 random schedules.
    let stats = check(correct);
    assert_eq!(stats.schedules, 100);
    assert_eq!(stats.strategy, "random(seed=0)");

    // Every variable is read.
    std::env::set_var("GOWEAVE_STRATEGY", "pct:2");
    std::env::set_var("GOWEAVE_ITERATIONS", "1_234");
    std::env::set_var("GOWEAVE_SEED", "0x2a");
    std::env::set_var("GOWEAVE_MAX_STEPS", "50000");
    let stats = check(correct);
    assert_eq!(stats.schedules, 1_234);
    assert_eq!(stats.strategy, "pct(depth=2, seed=42)");
    std::env::set_var("GOWEAVE_STRATEGY", "dfs");
    std::env::remove_var("GOWEAVE_ITERATIONS");
    let stats = check(correct);
    assert!(stats.exhausted, "{stats}");
    std::env::set_var("GOWEAVE_STRATEGY", "random");
    std::env::set_var("GOWEAVE_ITERATIONS", "1e12");
    std::env::set_var("GOWEAVE_TIME_BUDGET", "150ms");
    let stats = check(correct);
    assert!(stats.schedules < 1_000_000_000_000, "{stats}");
    std::env::set_var("GOWEAVE_MAX_STEPS", "3");
    let msg = panic_of(|| {
        check(correct);
    });
    assert!(
        msg.starts_with("livelock: the schedule passed 3 scheduling points"),
        "{msg}"
    );
    clear();

    // Bad values name the variable.
    for (var, value, says) in [
        ("GOWEAVE_STRATEGY", "bfs", "unknown strategy"),
        ("GOWEAVE_ITERATIONS", "many", "whole number"),
        ("GOWEAVE_SEED", "-1", "number"),
        ("GOWEAVE_TIME_BUDGET", "soon", "duration"),
        ("GOWEAVE_MAX_STEPS", "1.5", "whole number"),
        ("GOWEAVE_SHRINK_BUDGET", "forever", "duration"),
        ("GOWEAVE_REPLAY", "gw1:AAAA", "replay token"),
    ] {
        std::env::set_var(var, value);
        let msg = panic_of(|| {
            check(correct);
        });
        assert!(
            msg.starts_with(&format!("goweave: {var}={value:?}: ")),
            "{var}: {msg}"
        );
        assert!(msg.contains(says), "{var}: {msg}");
        std::env::remove_var(var);
    }

    // A failure panics with the whole report; its token replays through GOWEAVE_REPLAY.
    std::env::set_var("GOWEAVE_ITERATIONS", "1000");
    let report = panic_of(|| {
        check(lost_update);
    });
    assert!(report.contains("lost update"), "{report}");
    let token = report
        .lines()
        .last()
        .unwrap()
        .strip_prefix("replay: GOWEAVE_REPLAY=")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(report.ends_with(" cargo test -- check_follows_the_environment --exact"));
    clear();
    std::env::set_var("GOWEAVE_REPLAY", &token);
    let replayed = panic_of(|| {
        check(lost_update);
    });
    assert_eq!(
        replayed.split("\n\n").next(),
        report.split("\n\n").next(),
        "{replayed}"
    );
    assert!(
        replayed.contains("found by replay at schedule 1"),
        "{replayed}"
    );
    // GOWEAVE_REPLAY wins over GOWEAVE_STRATEGY and GOWEAVE_ITERATIONS.
    std::env::set_var("GOWEAVE_STRATEGY", "dfs");
    std::env::set_var("GOWEAVE_ITERATIONS", "7");
    let again = panic_of(|| {
        check(lost_update);
    });
    assert!(again.contains("found by replay at schedule 1"), "{again}");
    clear();

    // GOWEAVE_TRACE=full shows every event; GOWEAVE_TRACE_FILE writes Chrome JSON.
    let path = std::env::temp_dir().join(format!("goweave-trace-{}.json", std::process::id()));
    std::env::set_var("GOWEAVE_ITERATIONS", "1000");
    std::env::set_var("GOWEAVE_TRACE", "full");
    std::env::set_var("GOWEAVE_TRACE_FILE", &path);
    let report = panic_of(|| {
        check(|| {
            let m = Arc::new(Mutex::new(0));
            for _ in 0..30 {
                *m.lock() += 1;
            }
            lost_update();
        });
    });
    assert!(report.contains("interleaving ("), "{report}");
    assert!(!report.contains("(last 40 of"), "{report}");
    assert!(
        report.contains(&format!("trace written to {}", path.display())),
        "{report}"
    );
    let json = std::fs::read_to_string(&path).unwrap();
    assert!(json.contains("\"traceEvents\""), "{json}");
    assert!(json.contains("\"name\":\"goroutine 2\""), "{json}");
    std::fs::remove_file(&path).unwrap();
    clear();
}
