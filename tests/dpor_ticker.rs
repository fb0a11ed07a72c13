//! The reduced exhaustive search on a ticker-driven worker: it ends, in few schedules, with
//! time passing as a choice (`TimerMode::AnyTime`) and without (`TimerMode::WhenBlocked`).
//!
//! A would-block `select!` partner is offered at a decision (see
//! `tests/dpor_missed_outcomes.rs`) only so that it may park first; when that made it the
//! only goroutine offered beside time, time was the free choice ahead of it, every decision
//! of the schedule chose time again, and the worker handled ticks until the step bound (in
//! `tests/timers_ticker.rs`, with the default bound and shrinking, for over 18 minutes).

use std::time::Duration as WallDuration;

use goweave::sync::atomic::{AtomicU64, Ordering};
use goweave::time::{Duration, Ticker};
use goweave::{chan, go, select, Checker, StrategyKind, TimerMode};

/// A worker handles ticks until main, told after `n` of them, stops it.
fn ticker_worker(n: u64) {
    let stop = chan::make::<()>(0);
    let progress = chan::make::<u64>(1);
    let (s, p) = (stop.clone(), progress.clone());
    let worker = go(move || {
        let ticker = Ticker::new(Duration::from_millis(10));
        let work = AtomicU64::new(0);
        loop {
            select! {
                recv(ticker.c()) -> _ => {
                    if work.fetch_add(1, Ordering::Relaxed) + 1 == n {
                        p.send(n);
                    }
                }
                recv(s) -> _ => break,
            }
        }
        ticker.stop();
        work.load(Ordering::Relaxed)
    });
    assert_eq!(progress.recv(), Some(n));
    stop.send(());
    assert!(worker.join() >= n);
}

#[test]
fn the_reduced_search_of_a_ticker_driven_worker_ends() {
    for n in 1..=3u64 {
        for timers in [TimerMode::AnyTime, TimerMode::WhenBlocked] {
            let stats = Checker::new()
                .strategy(StrategyKind::Dfs {
                    max_preemptions: None,
                })
                .timers(timers)
                .iterations(10_000)
                // Each schedule of this program takes well under 200 steps: a schedule that
                // lets time pass for ever fails here rather than running on.
                .max_steps(2_000)
                .shrink_budget(WallDuration::ZERO)
                .run(move || ticker_worker(n))
                .unwrap_or_else(|f| panic!("{n} ticks ({timers}):\n{f}"));
            assert!(stats.exhausted, "{n} ticks ({timers}): {stats:?}");
            eprintln!("{n} ticks ({timers}): {} schedules", stats.schedules);
        }
    }
}
