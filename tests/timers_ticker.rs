//! A ticker-driven worker with a stop channel makes progress and finishes under every
//! strategy, with time passing as a choice (`TimerMode::AnyTime`) and without
//! (`TimerMode::WhenBlocked`); and virtual time never goes backwards.

use std::sync::Mutex;
use std::time::Instant as WallInstant;

use goweave::sync::atomic::{AtomicU64, Ordering};
use goweave::time::{self, Duration, Instant, Ticker};
use goweave::{chan, go, select, Checker, StrategyKind, TimerMode};
use std::sync::Arc;

const PERIOD: Duration = Duration::from_millis(10);

/// A worker handles ticks until told to stop; main waits until it has handled three, then
/// stops it. Each tick's work is a couple of scheduling points.
fn ticker_worker() {
    let stop = chan::make::<()>(0);
    let progress = chan::make::<u64>(1);
    let (s, p) = (stop.clone(), progress.clone());
    let worker = go(move || {
        let ticker = Ticker::new(PERIOD);
        let work = AtomicU64::new(0);
        let mut last = time::now();
        loop {
            select! {
                recv(ticker.c()) -> t => {
                    let t = t.unwrap();
                    assert!(t >= last, "virtual time went backwards: {t:?} after {last:?}");
                    last = t;
                    if work.fetch_add(1, Ordering::Relaxed) + 1 == 3 {
                        p.send(3);
                    }
                }
                recv(s) -> _ => break,
            }
        }
        ticker.stop();
        work.load(Ordering::Relaxed)
    });
    assert_eq!(progress.recv(), Some(3));
    stop.send(());
    let handled = worker.join();
    assert!(handled >= 3, "{handled}");
    assert!(time::now().since_epoch() >= 3 * PERIOD);
}

fn every_strategy() -> Vec<(StrategyKind, u64)> {
    vec![
        (StrategyKind::Random, 500),
        (StrategyKind::Pct { depth: 3 }, 500),
        (StrategyKind::Pos, 500),
        (StrategyKind::RoundRobin, 1),
        (StrategyKind::Fuzz { corpus: None }, 500),
        (
            StrategyKind::Dfs {
                max_preemptions: Some(1),
            },
            500,
        ),
        (
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            500,
        ),
    ]
}

#[test]
fn a_ticker_driven_worker_finishes_under_every_strategy() {
    for timers in [TimerMode::AnyTime, TimerMode::WhenBlocked] {
        for (s, n) in every_strategy() {
            let start = WallInstant::now();
            let stats = Checker::new()
                .strategy(s.clone())
                .timers(timers)
                .iterations(n)
                .run(ticker_worker)
                .unwrap_or_else(|f| panic!("{s} ({timers}):\n{f}"));
            assert!(stats.schedules >= 1);
            eprintln!(
                "{s} ({timers}): {} schedules ({} distinct) in {:.2?}",
                stats.schedules,
                stats.distinct,
                start.elapsed()
            );
        }
    }
}

/// Goroutines that sleep, arm timers and read the clock: every reading is at least the one
/// before it, in every goroutine and across goroutines in the order the readings happened.
#[test]
fn virtual_time_never_goes_backwards() {
    let body = || {
        let seen: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
        let note = |seen: &Mutex<Vec<Instant>>| {
            // Read the clock and record it in one step (no scheduling point in between).
            let mut v = seen.lock().unwrap();
            v.push(time::now());
        };
        let hs: Vec<_> = (1..=3u64)
            .map(|i| {
                let seen = seen.clone();
                go(move || {
                    for _ in 0..3 {
                        note(&seen);
                        time::sleep(Duration::from_millis(i * 7));
                        note(&seen);
                        let c = time::after(Duration::from_millis(5));
                        select! {
                            recv(c) -> _ => {}
                            default => {}
                        }
                        note(&seen);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        let v = seen.lock().unwrap();
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");
    };
    for s in [
        StrategyKind::Random,
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pos,
    ] {
        Checker::new()
            .strategy(s.clone())
            .iterations(300)
            .run(body)
            .unwrap_or_else(|f| panic!("{s}:\n{f}"));
    }
}
