//! Polling never starves the goroutine it waits for, whatever the strategy and the timer mode:
//! programs that terminate under every fair schedule (one that eventually runs every goroutine
//! that can run) are never reported as livelocks.
//!
//! The programs poll in every way Go code does: by `gosched`, by sleeping, by a ticker, by an
//! atomic load, by `try_lock`, by `select!` with `default`. The one the checker got wrong is the
//! first: a goroutine that polls by sleeping arms a new earliest deadline at every turn, and
//! `Pct` gave each a fresh priority, above the goroutine it had demoted at a change point, so
//! time and the poller alternated until `max_steps` (66,667 times) while main, woken by a tick,
//! never ran again.
//!
//! `no_strategy_calls_a_polling_program_a_livelock` runs 100 schedules of each (program,
//! strategy, timer mode); the 10,000 each is
//! `no_strategy_calls_a_polling_program_a_livelock_in_10_000_schedules`, ignored by a plain
//! `cargo test` for its time (run it with `--release -- --ignored`).

use std::sync::Arc;
use std::time::Instant;

use goweave::runtime::gosched;
use goweave::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use goweave::sync::Mutex;
use goweave::time::{self, Duration, Ticker};
use goweave::{chan, go, select, Checker, StrategyKind, TimerMode};

/// The reproducer: one goroutine polls a flag by sleeping for a nanosecond; main reads
/// `ticks` ticks of a one-nanosecond ticker, then sets the flag. Go runs it in no time.
fn sleep_poller_and_ticker_reader(ticks: usize) {
    let stop = Arc::new(AtomicUsize::new(0));
    let s = stop.clone();
    go(move || {
        while s.load(Ordering::SeqCst) == 0 {
            time::sleep(Duration::from_nanos(1))
        }
    });
    let tick = Ticker::new(Duration::from_nanos(1));
    for _ in 0..ticks {
        tick.c().recv();
    }
    stop.store(1, Ordering::SeqCst);
}

/// A worker that does a little work (each step a scheduling point) and then raises `flag`.
fn worker(flag: Arc<AtomicBool>) {
    let mu = Mutex::new(0u32);
    let n = AtomicU64::new(0);
    for i in 0..3 {
        *mu.lock() += i;
        n.fetch_add(1, Ordering::Relaxed);
    }
    flag.store(true, Ordering::Release);
}

fn spawn_worker() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    go(move || worker(f));
    flag
}

fn poll_by_gosched() {
    let flag = spawn_worker();
    while !flag.load(Ordering::Acquire) {
        gosched();
    }
}

fn poll_by_sleep() {
    let flag = spawn_worker();
    while !flag.load(Ordering::Acquire) {
        time::sleep(Duration::from_millis(1));
    }
}

fn poll_by_ticker() {
    let flag = spawn_worker();
    let t = Ticker::new(Duration::from_millis(1));
    while !flag.load(Ordering::Acquire) {
        t.c().recv();
    }
    t.stop();
}

fn poll_by_atomic_load() {
    let flag = spawn_worker();
    while !flag.load(Ordering::Acquire) {}
}

/// The worker holds the lock while it works and marks it done; main polls with `try_lock`.
fn poll_by_try_lock() {
    let mu = Arc::new(Mutex::new(false));
    let started = chan::make::<()>(0);
    let (m, s) = (mu.clone(), started.clone());
    go(move || {
        let mut g = m.lock();
        s.close();
        let n = AtomicU64::new(0);
        for _ in 0..3 {
            n.fetch_add(1, Ordering::Relaxed);
        }
        *g = true;
    });
    started.recv();
    loop {
        if let Some(g) = mu.try_lock() {
            if *g {
                break;
            }
        }
    }
}

fn poll_by_select_default() {
    let ch = chan::make::<u32>(0);
    let c = ch.clone();
    go(move || {
        let n = AtomicU64::new(0);
        for _ in 0..3 {
            n.fetch_add(1, Ordering::Relaxed);
        }
        c.send(7);
    });
    let v = loop {
        select! {
            recv(ch) -> v => break v,
            default => {}
        }
    };
    assert_eq!(v, Some(7));
}

/// `select!` with `default` that sleeps between polls (Go's retry-with-backoff shape).
fn poll_by_select_default_and_sleep() {
    let ch = chan::make::<u32>(0);
    let c = ch.clone();
    go(move || {
        let flag = Arc::new(AtomicBool::new(false));
        worker(flag);
        c.send(7);
    });
    loop {
        select! {
            recv(ch) -> _ => break,
            default => time::sleep(Duration::from_micros(100)),
        }
    }
}

fn polling_programs() -> Vec<(&'static str, fn())> {
    vec![
        ("sleep_poller_and_ticker_reader", || {
            sleep_poller_and_ticker_reader(10)
        }),
        ("gosched", poll_by_gosched),
        ("sleep", poll_by_sleep),
        ("ticker", poll_by_ticker),
        ("atomic_load", poll_by_atomic_load),
        ("try_lock", poll_by_try_lock),
        ("select_default", poll_by_select_default),
        ("select_default_and_sleep", poll_by_select_default_and_sleep),
    ]
}

fn strategies() -> Vec<StrategyKind> {
    vec![
        StrategyKind::Random,
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pct { depth: 2 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        StrategyKind::Dfs {
            max_preemptions: Some(2),
        },
        StrategyKind::RoundRobin,
        StrategyKind::Fuzz { corpus: None },
    ]
}

fn never_a_livelock(n: u64) {
    for timers in [TimerMode::default(), TimerMode::AnyTime] {
        for (name, f) in polling_programs() {
            let start = Instant::now();
            let mut schedules = 0;
            for s in strategies() {
                let stats = Checker::new()
                    .strategy(s.clone())
                    .timers(timers)
                    .iterations(n)
                    .seed(1)
                    .run(f)
                    .unwrap_or_else(|e| panic!("{name} under {s}, timers {timers}:\n{e}"));
                assert!(
                    stats.schedules == n || stats.exhausted,
                    "{name} {s}: {stats}"
                );
                schedules += stats.schedules;
            }
            eprintln!(
                "{name}, timers {timers}: {schedules} schedules of {} strategies in {:.2?}",
                strategies().len(),
                start.elapsed()
            );
        }
    }
}

#[test]
fn no_strategy_calls_a_polling_program_a_livelock() {
    never_a_livelock(100);
}

#[test]
#[ignore = "10,000 schedules x 8 strategies x 8 programs x 2 timer modes: run with --release -- --ignored"]
fn no_strategy_calls_a_polling_program_a_livelock_in_10_000_schedules() {
    never_a_livelock(10_000);
}

/// The reproducer exactly as reported (100 ticks, `Pct { depth: 3 }`, seed 1), under the
/// timer mode that was the default then and under today's. Before the fix the first failed
/// at schedule 149 as a livelock.
#[test]
fn pct_lets_a_demoted_goroutine_run_while_another_polls_by_sleeping() {
    for timers in [TimerMode::AnyTime, TimerMode::default()] {
        let stats = Checker::new()
            .strategy(StrategyKind::Pct { depth: 3 })
            .seed(1)
            .timers(timers)
            .iterations(300)
            .run(|| sleep_poller_and_ticker_reader(100))
            .unwrap_or_else(|e| panic!("timers {timers}:\n{e}"));
        assert_eq!(stats.schedules, 300);
        // Each schedule reads 100 ticks with a bounded number of turns of the poller in
        // between: nowhere near the 100,000 steps of a livelock.
        assert!(stats.steps / 300 < 2_000, "{stats}");
    }
}
