//! Every example's logic, run as a test: each must find its bug (of the kind it claims, with the
//! report it shows), replay it from the token, and pass with the fix.
//!
//! The examples are compiled into this test as modules (`#[path]`), so CI runs exactly the code
//! `cargo run --example <name>` runs, without a nested cargo. (`handoff_stress` is a stress tool
//! with a size argument, not a demonstration; clippy builds it with `--all-targets`.)

// Every example includes `examples/common/mod.rs` as its own module, as it must to build alone.
#![allow(clippy::duplicate_mod)]

use goweave::{Failure, FailureKind};

#[path = "../examples/tour.rs"]
mod tour;

#[path = "../examples/bug_main_returns_early.rs"]
mod bug_main_returns_early;

#[path = "../examples/bug_wg_add_inside.rs"]
mod bug_wg_add_inside;

#[path = "../examples/bug_loop_capture.rs"]
mod bug_loop_capture;

#[path = "../examples/bug_leak_unread_channel.rs"]
mod bug_leak_unread_channel;

#[path = "../examples/bug_deadlock.rs"]
mod bug_deadlock;

#[path = "../examples/bug_panic_recover.rs"]
mod bug_panic_recover;

#[path = "../examples/bug_unbounded_spawn.rs"]
mod bug_unbounded_spawn;

#[path = "../examples/bug_lost_error.rs"]
mod bug_lost_error;

#[path = "../examples/async_service.rs"]
mod async_service;

/// What holds for every failure an example shows: its kind, a replay token, a shrunk schedule
/// no longer than the one first found, a trace, and the replay line last.
fn check_failure(f: &Failure, kind: FailureKind) {
    assert_eq!(f.kind(), kind, "{f}");
    let token = f.token().expect("a replayable failure");
    assert!(token.starts_with("gw1:"), "{token}");
    assert!(f.preemptions() <= f.original_preemptions());
    assert!(!f.trace().is_empty(), "the report shows the interleaving");
    let text = f.to_string();
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("replay: GOWEAVE_REPLAY=gw1:"),
        "the report ends with the replay line: {last}"
    );
    // The token replays the same failure (the example checked it too; this is the public API).
    let again = goweave::replay(f.schedule(), || {}).unwrap_err();
    assert_eq!(
        again.kind(),
        FailureKind::Nondeterminism,
        "a token only fits the program it was recorded from"
    );
}

fn run<T>(name: &str, r: Result<T, String>) -> T {
    r.unwrap_or_else(|why| panic!("example {name}: {why}"))
}

#[test]
fn tour() {
    let t = run("tour", tour::run());
    check_failure(&t.race, FailureKind::Race);
    assert!(t.race.report().contains("WARNING: DATA RACE"));
    assert!(t.race.report().contains(" at balance by goroutine "));
    check_failure(&t.lost_update, FailureKind::Panic);
    assert!(t.lost_update.report().contains("the bank's total changed"));
    assert!(
        t.lost_update.preemptions() >= 1,
        "a lost update needs a transfer preempted between its read and its write"
    );
    let (what, dfs) = &t.fixed[0];
    assert!(dfs.exhausted, "{what}: {dfs}");
    assert!(dfs.schedules > 1);
    let (what, pct) = &t.fixed[1];
    assert_eq!(pct.schedules, 5_000, "{what}: {pct}");
}

#[test]
fn main_returns_early() {
    let d = run("bug_main_returns_early", bug_main_returns_early::run());
    check_failure(&d.bug, FailureKind::Panic);
    assert!(d.bug.report().contains("records were saved"));
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}

#[test]
fn wg_add_inside() {
    let d = run("bug_wg_add_inside", bug_wg_add_inside::run());
    check_failure(&d.bug, FailureKind::Race);
    assert!(d
        .bug
        .report()
        .contains("sync.WaitGroup (an Add from zero not ordered with a Wait)"));
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}

#[test]
fn loop_capture() {
    let d = run("bug_loop_capture", bug_loop_capture::run());
    check_failure(&d.bug, FailureKind::Race);
    let r = d.bug.report();
    assert!(r.contains("WARNING: DATA RACE"));
    assert!(r.contains("current_job"));
    assert!(
        r.contains("bug_loop_capture.rs"),
        "the report points at the code"
    );
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}

#[test]
fn leak_unread_channel() {
    let d = run("bug_leak_unread_channel", bug_leak_unread_channel::run());
    check_failure(&d.bug, FailureKind::Leak);
    let r = d.bug.report();
    assert!(r.starts_with("found unexpected goroutines:"));
    assert_eq!(
        r.matches("[chan send]").count(),
        2,
        "two of the three replicas leak: {r}"
    );
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}

#[test]
fn deadlock() {
    let d = run("bug_deadlock", bug_deadlock::run());
    check_failure(&d.bug, FailureKind::Deadlock);
    let r = d.bug.report();
    assert!(r.starts_with("all goroutines are asleep - deadlock!"));
    assert_eq!(r.matches("[sync.Mutex.Lock]").count(), 2, "{r}");
    assert_eq!(
        d.bug.preemptions(),
        1,
        "one preemption is enough: {}",
        d.bug
    );
    let (what, stats) = &d.fixed[0];
    assert!(stats.exhausted, "{what}: {stats}");
}

#[test]
fn panic_recover() {
    let d = run("bug_panic_recover", bug_panic_recover::run());
    check_failure(&d.bug, FailureKind::Panic);
    let r = d.bug.report();
    assert!(
        r.contains("bug_panic_recover.rs:22"),
        "the report points at the panic: {r}"
    );
    assert!(r.contains("request is a number"));
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}

#[test]
fn unbounded_spawn() {
    let d = run("bug_unbounded_spawn", bug_unbounded_spawn::run());
    check_failure(&d.bug, FailureKind::Panic);
    assert!(d.bug.report().contains("connection refused"));
    assert_eq!(d.fixed.len(), 2, "the errgroup limit and the semaphore");
    for (what, stats) in &d.fixed {
        assert_eq!(stats.schedules, 500, "{what}");
    }
}

#[test]
fn lost_error() {
    let d = run("bug_lost_error", bug_lost_error::run());
    check_failure(&d.bug, FailureKind::Panic);
    assert!(d.bug.report().contains("the permission error was lost"));
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}

#[test]
fn async_service() {
    let d = run("async_service", async_service::run());
    check_failure(&d.bug, FailureKind::Panic);
    assert!(d
        .bug
        .report()
        .contains("the backend was asked twice for one key"));
    assert!(
        d.bug.preemptions() <= 1,
        "one preemption between the miss and the fill: {}",
        d.bug
    );
    assert_eq!(d.fixed[0].1.schedules, 1_000);
}
