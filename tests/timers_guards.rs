//! Timeouts used as guards ("this cannot happen") never fire ahead of work that does not wait
//! on time, under the default timer mode (`TimerMode::MaxStall`, 250 ms): ordinary tests,
//! written the way Go's own concurrency tests are, pass every built-in strategy. Each of them
//! fails under `TimerMode::AnyTime`, where time may keep a runnable goroutine waiting for ever
//! (the behaviour of the default before the bound), so these tests can fail.
//!
//! `every_guarded_test_passes_every_strategy` runs 300 schedules of each strategy; the full
//! 10,000 each is `every_guarded_test_passes_10_000_schedules_of_every_strategy`, ignored by a
//! plain `cargo test` for its time (run it with `--release -- --ignored`).

use std::sync::Arc;
use std::time::Instant;

use goweave::context::{self, ContextError};
use goweave::sync::atomic::{AtomicU64, Ordering};
use goweave::sync::{Mutex, WaitGroup};
use goweave::time::{self, Duration, Ticker, Timer};
use goweave::{chan, go, select, Checker, FailureKind, StrategyKind, TimerMode};

const HOUR: Duration = Duration::from_secs(3600);

/// Three goroutines take a lock in turn; main waits for them with a ten-second guard.
fn lock_acquisition() {
    let mu = Arc::new(Mutex::new(0u64));
    let done = chan::make::<()>(3);
    for _ in 0..3 {
        let (mu, done) = (mu.clone(), done.clone());
        go(move || {
            *mu.lock() += 1;
            done.send(());
        });
    }
    for _ in 0..3 {
        select! {
            recv(done) -> _ => {}
            recv(time::after(Duration::from_secs(10))) -> _ => panic!("timed out waiting for the lock"),
        }
    }
    assert_eq!(*mu.lock(), 3);
}

/// A two-stage pipeline over unbuffered channels; every receive is guarded by one second.
fn channel_hand_offs() {
    let (a, b) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (a2, b2) = (a.clone(), b.clone());
    go(move || {
        for v in &a2 {
            b2.send(v * 2);
        }
        b2.close();
    });
    let a3 = a.clone();
    go(move || {
        for i in 1..=3 {
            a3.send(i);
        }
        a3.close();
    });
    let mut sum = 0;
    loop {
        select! {
            recv(b) -> v => match v {
                Some(v) => sum += v,
                None => break,
            },
            recv(time::after(Duration::from_secs(1))) -> _ => panic!("pipeline stalled"),
        }
    }
    assert_eq!(sum, 12);
}

/// A worker serves until its context is cancelled; the context also has a 1000-hour deadline
/// that must not be what stops it.
fn context_cancellation() {
    let (ctx, cancel) = context::with_timeout(&context::background(), 1000 * HOUR);
    let work = chan::make::<u64>(0);
    let stopped = chan::make::<Option<ContextError>>(1);
    let (c, w, s) = (ctx.clone(), work.clone(), stopped.clone());
    go(move || loop {
        select! {
            recv(w) -> _ => {}
            recv(c.done()) -> _ => {
                s.send(c.err());
                return;
            }
        }
    });
    for i in 0..2 {
        work.send(i);
    }
    cancel.cancel();
    assert_eq!(stopped.recv(), Some(Some(ContextError::Canceled)));
}

/// A WaitGroup of three workers; a waiter closes `done`, which main waits for with a
/// five-second guard.
fn waitgroup_wait() {
    let wg = WaitGroup::new();
    let total = Arc::new(AtomicU64::new(0));
    for i in 1..=3 {
        let t = total.clone();
        wg.go(move || {
            t.fetch_add(i, Ordering::SeqCst);
        });
    }
    let done = chan::make::<()>(0);
    let (d, wg2) = (done.clone(), wg.clone());
    go(move || {
        wg2.wait();
        d.close();
    });
    select! {
        recv(done) -> _ => {}
        recv(time::after(Duration::from_secs(5))) -> _ => panic!("WaitGroup never finished"),
    }
    assert_eq!(total.load(Ordering::SeqCst), 6);
}

/// A consumer takes three ticks of a 10 ms ticker and reports, under a one-second guard; a
/// producer hands it a value in between.
fn ticker_consumer() {
    let report = chan::make::<u32>(0);
    let value = chan::make::<u32>(1);
    let (r, v) = (report.clone(), value.clone());
    go(move || {
        let t = Ticker::new(Duration::from_millis(10));
        for _ in 0..3 {
            t.c().recv();
        }
        t.stop();
        r.send(v.recv().unwrap());
    });
    value.send(7);
    select! {
        recv(report) -> v => assert_eq!(v, Some(7)),
        recv(time::after(Duration::from_secs(1))) -> _ => panic!("ticker consumer stalled"),
    }
}

/// Timers stopped and reset before they expire: a one-second timer is stopped once a worker
/// has answered, and a one-hour timer is reset (to another hour) and then stopped, while a
/// watchdog goroutine panics if either fires. (Since Go 1.23, `stop` returns true until the
/// value is received, so the watchdog is what sees a timer fire.)
fn timer_stop_and_reset() {
    let t = Timer::new(Duration::from_secs(1));
    let long = Timer::new(HOUR);
    let stopped = chan::make::<()>(0);
    let (tc, lc, s) = (t.c().clone(), long.c().clone(), stopped.clone());
    let watchdog = go(move || {
        select! {
            recv(tc) -> _ => panic!("the one-second timer fired before it was stopped"),
            recv(lc) -> _ => panic!("the one-hour timer fired before it was stopped"),
            recv(s) -> _ => {}
        }
    });
    let answer = chan::make::<u32>(0);
    let a = answer.clone();
    go(move || a.send(42));
    assert_eq!(answer.recv(), Some(42));
    assert!(t.stop());
    assert!(long.reset(HOUR));
    let b = answer.clone();
    go(move || b.send(43));
    assert_eq!(answer.recv(), Some(43));
    assert!(long.stop());
    stopped.close();
    watchdog.join();
}

fn guarded_tests() -> Vec<(&'static str, fn())> {
    vec![
        ("lock_acquisition", lock_acquisition),
        ("channel_hand_offs", channel_hand_offs),
        ("context_cancellation", context_cancellation),
        ("waitgroup_wait", waitgroup_wait),
        ("ticker_consumer", ticker_consumer),
        ("timer_stop_and_reset", timer_stop_and_reset),
    ]
}

fn strategies() -> Vec<StrategyKind> {
    vec![
        StrategyKind::Random,
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        StrategyKind::RoundRobin,
        StrategyKind::Fuzz { corpus: None },
    ]
}

fn passes_every_strategy(n: u64) {
    for (name, f) in guarded_tests() {
        for s in strategies() {
            let start = Instant::now();
            // The default settings, but for the strategy and the schedule count.
            let stats = Checker::new()
                .strategy(s.clone())
                .iterations(n)
                .run(f)
                .unwrap_or_else(|e| panic!("{name} under {s} (default timers):\n{e}"));
            assert!(
                stats.schedules == n || stats.exhausted,
                "{name} under {s}: {stats}"
            );
            eprintln!("{name} {s}: {stats} ({:.2?})", start.elapsed());
        }
    }
}

#[test]
fn every_guarded_test_passes_every_strategy() {
    passes_every_strategy(300);
}

#[test]
#[ignore = "10,000 schedules x 6 strategies x 6 tests: run with --release -- --ignored"]
fn every_guarded_test_passes_10_000_schedules_of_every_strategy() {
    passes_every_strategy(10_000);
}

/// The same tests fail when time may keep a runnable goroutine waiting without bound: their
/// guard (or the timer they stop in time, or the context's deadline) fires ahead of the work.
#[test]
fn every_guarded_test_fails_when_the_stall_is_unbounded() {
    for (name, f) in guarded_tests() {
        let e = Checker::new()
            .timers(TimerMode::AnyTime)
            .iterations(2_000)
            .shrink_budget(std::time::Duration::ZERO)
            .run(f)
            .expect_err(name);
        // A guard panics; the context's deadline instead stops the worker that main then
        // hands work to: a deadlock.
        assert!(
            matches!(e.kind(), FailureKind::Panic | FailureKind::Deadlock),
            "{name}: {e}"
        );
        let stall = e
            .stall()
            .unwrap_or_else(|| panic!("{name}: no stall in\n{e}"));
        // The stalled goroutine may have become runnable only after a few of the ticker's
        // 10 ms ticks, so the stall can fall short of the one-second guard by those: most of
        // the guard, far past the default bound.
        assert!(
            stall.duration >= Duration::from_millis(900),
            "{name}: a guard of a second or more fired after {:?}:\n{e}",
            stall.duration
        );
        assert!(
            e.to_string().contains("this failure needs goroutine"),
            "{e}"
        );
    }
}

/// The price of the bound: a goroutine that works without ever blocking or polling until a
/// timer tells it to stop holds the clock back for good (as it would hang Go's synctest). The
/// livelock says why, naming the goroutine and the timer; `any_time` lets the timer fire.
#[test]
fn a_goroutine_that_never_blocks_holds_the_clock_back_and_the_livelock_says_so() {
    let body = || {
        let stop = Arc::new(AtomicU64::new(0));
        let s = stop.clone();
        let h = go(move || {
            let mu = Mutex::new(0u64);
            while s.load(Ordering::SeqCst) == 0 {
                *mu.lock() += 1;
            }
        });
        time::sleep(Duration::from_secs(1));
        stop.store(1, Ordering::SeqCst);
        h.join();
    };
    let f = Checker::new()
        .iterations(5)
        .max_steps(3_000)
        .shrink_budget(std::time::Duration::ZERO)
        .run(body)
        .expect_err("the worker never lets the second pass");
    assert_eq!(f.kind(), FailureKind::Livelock, "{f}");
    let report = f.to_string();
    assert!(
        report.contains("note: virtual time was held back: the timer created at")
            && report.contains("(due at 1s) could fire only if goroutine 2")
            && report.contains("more than max_stall:250ms allows"),
        "{report}"
    );
    Checker::new()
        .timers(TimerMode::AnyTime)
        .iterations(200)
        .max_steps(3_000)
        .run(body)
        .unwrap();
}
