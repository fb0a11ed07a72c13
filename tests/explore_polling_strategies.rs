//! PCT and POS on a program that polls and lets time pass: they find what the random walk
//! finds, and their schedules stay varied (distinct schedules per 1,000, `Stats`).
//!
//! The kernel is `kernels::lost_signal_polling`: a watchdog polls for cancellation (a
//! `select!` with `default`, then a zero-length timer) and its abort path signals a condition
//! variable without holding the mutex, so the signal is lost if it falls between a worker's
//! check and its wait. The random walk finds it within its first 50 schedules. PCT (depth 1,
//! 2, 3, 5) and POS used to miss it in 20,000 schedules per seed, of which 9 (PCT depth 1)
//! to 157 (depth 5) per 1,000 were distinct: a goroutine that yielded dropped below every
//! other for the rest of the schedule, so the watchdog could never act while the worker was
//! runnable, and time, once passed, kept its low priority while a zero-length timer re-armed
//! the same deadline. Now a yielder draws a new priority after each step of another goroutine,
//! and time draws a fresh one once the goroutines it overtook have run.

#[path = "common/kernels.rs"]
mod kernels;

use std::time::Duration;

use goweave::{Checker, FailureKind, StrategyKind};

const SEEDS: u64 = 8;

/// The schedule (1-based) at which `s` with `seed` finds the lost signal, within `budget`.
fn found_at(s: &StrategyKind, seed: u64, budget: u64) -> Option<u64> {
    let r = Checker::new()
        .strategy(s.clone())
        .seed(seed)
        .iterations(budget)
        .shrink_budget(Duration::ZERO)
        .run(kernels::lost_signal_polling);
    match r {
        Ok(_) => None,
        Err(e) => {
            assert_eq!(e.kind(), FailureKind::Deadlock, "{s}, seed {seed}:\n{e}");
            assert!(e.report().contains("sync.Cond.Wait"), "{e}");
            Some(e.iteration() + 1)
        }
    }
}

/// Every seed of `s` finds the bug within `budget` schedules.
fn finds_it_within(s: StrategyKind, budget: u64) {
    let found: Vec<Option<u64>> = (0..SEEDS).map(|seed| found_at(&s, seed, budget)).collect();
    assert!(
        found.iter().all(Option::is_some),
        "{s}: schedules to the bug per seed (budget {budget}): {found:?}"
    );
}

#[test]
fn random_finds_the_lost_signal_in_its_first_schedules() {
    finds_it_within(StrategyKind::Random, 50);
}

#[test]
fn pct_depth_1_finds_it() {
    finds_it_within(StrategyKind::Pct { depth: 1 }, 1_000);
}

#[test]
fn pct_depth_2_finds_it() {
    finds_it_within(StrategyKind::Pct { depth: 2 }, 100);
}

#[test]
fn pct_depth_3_finds_it() {
    finds_it_within(StrategyKind::Pct { depth: 3 }, 100);
}

#[test]
fn pct_depth_5_finds_it() {
    finds_it_within(StrategyKind::Pct { depth: 5 }, 100);
}

#[test]
fn pos_finds_it() {
    finds_it_within(StrategyKind::Pos, 50);
}

/// On the fixed program (no bug: every schedule runs to the end), the share of distinct
/// schedules among 2,000. Before the change: PCT depth 1 9 per 1,000, depth 3 89, POS 112.
#[test]
fn distinct_schedules_per_1000_stay_high_on_the_polling_program() {
    for (s, floor) in [
        (StrategyKind::Random, 990.0),
        (StrategyKind::Pct { depth: 1 }, 250.0),
        (StrategyKind::Pct { depth: 3 }, 400.0),
        (StrategyKind::Pos, 800.0),
    ] {
        let stats = Checker::new()
            .strategy(s.clone())
            .seed(0)
            .iterations(2_000)
            .run(|| kernels::signal_polling(true))
            .unwrap_or_else(|e| panic!("{s}:\n{e}"));
        assert_eq!(stats.schedules, 2_000);
        let per = stats.distinct_per_1000();
        assert!(per >= floor, "{s}: {per:.1} distinct per 1,000 ({stats})");
        assert!(
            stats.to_string().contains(&format!("{per:.1} per 1,000")),
            "{stats}"
        );
    }
}
