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

/// The same request with a timeout short enough to race the worker under the default timer
/// mode (`max_stall`, 250 ms), and one long enough to be a guard.
fn request_with(timeout: Duration) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let result = chan::make::<u64>(0);
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
            recv(time::after(timeout)) -> _ => {}
        }
    }
}

/// Under the default timer mode every strategy still finds the leak when the timeout is
/// short, and the report says what it assumed: a goroutine kept waiting for the whole timeout
/// while the timer armed by the `select!` fired. That is the worker (goroutine 2), runnable
/// from the start, or main (goroutine 1) where time passed between its arming the timer and
/// entering the `select!` (the report names the longest waiter, the lowest id among equals);
/// which failing schedule a strategy meets first depends on its random draws.
#[test]
fn the_default_still_finds_a_short_timeout_racing_the_worker() {
    let body = request_with(Duration::from_millis(10));
    for s in [
        StrategyKind::Random,
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: Some(0),
        },
        StrategyKind::Fuzz { corpus: None },
    ] {
        let f = Checker::new()
            .strategy(s.clone())
            .iterations(1_000)
            .run(body.clone())
            .expect_err("a 10 ms timeout races the worker");
        assert_eq!(f.kind(), FailureKind::Leak, "{s}: {f}");
        let stall = f.stall().expect("the timeout fired ahead of the worker");
        assert!(matches!(stall.goroutine, 1 | 2), "{s}: {f}");
        assert_eq!(stall.duration, Duration::from_millis(10), "{s}: {f}");
        let site = stall
            .timer
            .expect("the trace knows where the timer was armed");
        assert!(site.file().ends_with("timers_timeout_leak.rs"), "{site}");
        let line = format!(
            "this failure needs goroutine {} to stall for 10ms while the timer created at {site} fires (timers: max_stall:250ms)",
            stall.goroutine
        );
        assert!(f.to_string().contains(&line), "{s}: {f}");
        // The token carries the bound, and replays the same failure under it.
        assert_eq!(f.schedule().timers(), TimerMode::default());
        let again = goweave::replay(f.schedule(), body.clone()).unwrap_err();
        assert_eq!(
            (again.kind(), again.stall()),
            (FailureKind::Leak, Some(stall))
        );
    }
}

/// A timeout longer than the bound is a guard under the default: no strategy makes it fire
/// while the worker could still send.
#[test]
fn the_default_never_fires_a_guard_ahead_of_the_worker() {
    for timeout in [
        Duration::from_millis(251),
        Duration::from_secs(1),
        1000 * 3600 * Duration::from_secs(1),
    ] {
        for s in [
            StrategyKind::Random,
            StrategyKind::Pct { depth: 3 },
            StrategyKind::Pos,
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            StrategyKind::Fuzz { corpus: None },
        ] {
            let stats = Checker::new()
                .strategy(s.clone())
                .iterations(1_000)
                .run(request_with(timeout))
                .unwrap_or_else(|f| panic!("{s}, timeout {timeout:?}:\n{f}"));
            assert!(stats.schedules == 1_000 || stats.exhausted, "{stats}");
        }
    }
    // The bound is what decides: lowered below the timeout, even 10 ms is a guard.
    Checker::new()
        .max_stall(Duration::from_millis(9))
        .iterations(1_000)
        .run(request_with(Duration::from_millis(10)))
        .unwrap();
}

/// The shrinker minimises the stall after the preemptions. The leak needs the timeout to fire
/// while the worker, woken at 5 ms, has not sent yet: a stall of 15 ms. Random schedules often
/// let it fire while a bystander goroutine, runnable since 0, has not finished either (a
/// stall of 20 ms); the shrunk schedule lets the bystander finish first.
#[test]
fn shrinking_minimises_the_stall() {
    let body = || {
        let result = chan::make::<u64>(0);
        go(|| {
            let n = AtomicU64::new(0);
            for _ in 0..4 {
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        let r = result.clone();
        go(move || {
            time::sleep(Duration::from_millis(5));
            r.send(1);
        });
        select! {
            recv(result) -> _ => {}
            recv(time::after(Duration::from_millis(20))) -> _ => {}
        }
    };
    let mut shrunk_some = false;
    for seed in 0..20 {
        let f = Checker::new()
            .seed(seed)
            .iterations(1_000)
            .run(body)
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Leak, "{f}");
        let stall = f.stall().unwrap();
        assert_eq!(
            (stall.goroutine, stall.duration),
            (3, Duration::from_millis(15)),
            "seed {seed}: {f}"
        );
        let original = goweave::replay(f.original_schedule(), body).unwrap_err();
        let before = original.stall().unwrap().duration;
        assert!(before >= stall.duration, "seed {seed}");
        shrunk_some |= before > stall.duration;
    }
    assert!(
        shrunk_some,
        "no seed found the leak with the bystander stalled"
    );
}
