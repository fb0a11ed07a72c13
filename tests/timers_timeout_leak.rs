//! Timers as scheduling choices: a `select!` between a result channel and `time::after` leaks
//! its sender when the timeout wins while the sender is still working. Under synctest's rule
//! (time passes only when everything is blocked) that interleaving is never tried; with
//! `TimerMode::AnyTime` (the default) Random and Pct find it quickly, and the fixed program (a
//! result channel with room for the late value) passes.

use std::time::Instant;

use goweave::sync::atomic::{AtomicU64, Ordering};
use goweave::time::{self, Duration};
use goweave::{chan, go, select, Checker, Failure, FailureKind, StrategyKind, TimerMode};

/// Ask a worker for a result, giving up after a second. The worker does a few steps of work
/// (each a scheduling point) before it sends. With `cap == 0` a timeout leaves the worker
/// blocked on its send forever.
fn request(cap: usize) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let result = chan::make::<u64>(cap);
        let r = result.clone();
        go(move || {
            let work = AtomicU64::new(0);
            for i in 1..=3 {
                work.fetch_add(i, Ordering::Relaxed);
            }
            r.send(work.load(Ordering::Relaxed));
        });
        select! {
            recv(result) -> v => assert_eq!(v, Some(6)),
            recv(time::after(Duration::from_secs(1))) -> _ => {}
        }
    }
}

fn explore(strategy: StrategyKind, timers: TimerMode, n: u64, cap: usize) -> Result<u64, Failure> {
    Checker::new()
        .strategy(strategy)
        .timers(timers)
        .iterations(n)
        .run(request(cap))
        .map(|s| s.schedules)
}

/// The leak is found, reported as Go's goleak would, within 1,000 schedules.
fn finds_the_leak(strategy: StrategyKind) {
    let start = Instant::now();
    let f = explore(strategy.clone(), TimerMode::AnyTime, 1_000, 0)
        .expect_err("the timeout-wins interleaving leaks the sender");
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    let report = f.to_string();
    assert!(report.contains("found unexpected goroutines:"), "{report}");
    assert!(report.contains("goroutine 2 [chan send]:"), "{report}");
    assert!(f.iteration() < 1_000);
    eprintln!(
        "{strategy}: leak found at schedule {} of 1,000 in {:.2?} (shrinking and report included)",
        f.iteration() + 1,
        start.elapsed()
    );
}

#[test]
fn random_finds_the_sender_left_behind_by_a_timeout() {
    finds_the_leak(StrategyKind::Random);
}

#[test]
fn pct_finds_the_sender_left_behind_by_a_timeout() {
    finds_the_leak(StrategyKind::Pct { depth: 3 });
}

#[test]
fn pos_and_dfs_find_it_too() {
    finds_the_leak(StrategyKind::Pos);
    // Exhaustively: letting time pass is a branch of its own, and not a preemption.
    let f = explore(
        StrategyKind::Dfs {
            max_preemptions: Some(0),
        },
        TimerMode::AnyTime,
        1_000,
        0,
    )
    .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
}

#[test]
fn synctest_semantics_never_try_the_leaking_interleaving() {
    for s in [StrategyKind::Random, StrategyKind::Pct { depth: 3 }] {
        assert_eq!(
            explore(s, TimerMode::WhenBlocked, 1_000, 0).unwrap(),
            1_000,
            "time passes only once the sender is blocked, so it always sends first"
        );
    }
    // Dfs covers every interleaving there is under that rule, and none leaks.
    let s = Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .timers(TimerMode::WhenBlocked)
        .run(request(0))
        .unwrap();
    assert!(s.exhausted);
}

#[test]
fn the_fixed_program_passes_10_000_schedules() {
    for s in [StrategyKind::Random, StrategyKind::Pct { depth: 3 }] {
        let start = Instant::now();
        let n = explore(s.clone(), TimerMode::AnyTime, 10_000, 1)
            .unwrap_or_else(|f| panic!("the buffered result channel cannot leak:\n{f}"));
        assert_eq!(n, 10_000);
        eprintln!(
            "{s}: 10,000 schedules of the fixed program in {:.2?}",
            start.elapsed()
        );
    }
}

#[test]
fn the_shrunk_schedule_lets_time_pass_without_preempting_anyone() {
    let f = explore(StrategyKind::Random, TimerMode::AnyTime, 1_000, 0).unwrap_err();
    let shrunk = goweave::Schedule::from_token(f.token().unwrap()).unwrap();
    assert_eq!(shrunk.timers(), TimerMode::AnyTime);
    assert!(
        shrunk.choices().contains(&goweave::schedule::Choice::Time),
        "{shrunk:?}"
    );
    assert_eq!(f.preemptions(), 0, "{f}");
}
