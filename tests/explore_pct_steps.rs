//! PCT's steps: a lock attempt that parks its goroutine is not a step (see "Steps" in
//! `explore::pct`'s docs).

use std::time::Duration;

use goweave::{Checker, StrategyKind};

#[path = "common/kernels.rs"]
mod kernels;
use kernels::alternation;

/// Schedules PCT at `depth` with `seed` needs to the alternation bug (None: not within
/// `budget`).
fn schedules_to_bug(rounds: usize, limit: u64, depth: u32, seed: u64, budget: u64) -> Option<u64> {
    let f = Checker::new()
        .strategy(StrategyKind::Pct { depth })
        .seed(seed)
        .iterations(budget)
        .shrink_budget(Duration::ZERO)
        .run(alternation(rounds, limit))
        .err()?;
    assert!(f.report().contains("alternated:"), "seed {seed}: {f}");
    Some(f.iteration() + 1)
}

/// Three turns each (five switches) at depth 8, the shape of SCTBench's fib_bench with 3
/// rounds. When parked lock attempts counted as steps, seeds 0 to 9 needed 11, 9, 29, 27,
/// 22, 4, 14, 14, 14 and 3 schedules (147 in all); without them, 2 to 4 each (26 in all).
#[test]
fn pct_finds_a_three_round_alternation_within_ten_schedules_for_every_seed() {
    let found: Vec<Option<u64>> = (0..10)
        .map(|seed| schedules_to_bug(3, 21, 8, seed, 200))
        .collect();
    assert!(
        found.iter().all(|f| f.is_some_and(|n| n <= 10)),
        "schedules to the bug per seed: {found:?}"
    );
    let total: u64 = found.iter().flatten().sum();
    assert!(total <= 40, "{total} schedules over 10 seeds: {found:?}");
}

/// Four turns each (seven switches) at depth 8: the old count needed a median of 47
/// schedules over 30 seeds (worst 199); now 10.
#[test]
fn pct_finds_a_four_round_alternation_at_a_median_under_twenty_schedules() {
    let mut found: Vec<u64> = (0..15)
        .map(|seed| schedules_to_bug(4, 55, 8, seed, 1_000).unwrap_or(u64::MAX))
        .collect();
    found.sort_unstable();
    assert!(found[7] <= 20, "schedules to the bug, sorted: {found:?}");
}
