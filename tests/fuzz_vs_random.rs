//! `Fuzz` finds SCTBench's reorder_20 and twostage_100 within a budget in which `Random` finds
//! neither. Seeds are fixed, so the outcome is deterministic; `benches/fuzz_vs_random.rs`
//! prints the figures over more seeds.

mod fuzz_support;

use std::time::Duration;

use fuzz_support::kernels::{reorder, twostage};
use goweave::{Checker, FailureKind, StrategyKind};

/// The schedule (from 1) at which `strategy` with `seed` first fails, within `budget`.
fn found_at<F>(strategy: StrategyKind, seed: u64, budget: u64, f: F) -> Option<u64>
where
    F: Fn() + Send + Sync + 'static,
{
    match Checker::new()
        .strategy(strategy)
        .seed(seed)
        .iterations(budget)
        .shrink_budget(Duration::ZERO)
        .run(f)
    {
        Ok(stats) => {
            assert_eq!(stats.schedules, budget);
            None
        }
        Err(e) => {
            assert_eq!(e.kind(), FailureKind::Panic, "{e}");
            Some(e.iteration() + 1)
        }
    }
}

const FUZZ: StrategyKind = StrategyKind::Fuzz { corpus: None };

#[test]
fn fuzz_finds_reorder_20_where_random_misses() {
    const BUDGET: u64 = 300;
    for seed in 0..4 {
        let fuzz = found_at(FUZZ, seed, BUDGET, reorder(20));
        assert!(fuzz.is_some(), "fuzz, seed {seed}: reorder_20 not found");
        let random = found_at(StrategyKind::Random, seed, BUDGET, reorder(20));
        assert_eq!(random, None, "random, seed {seed}");
    }
}

#[test]
fn fuzz_finds_twostage_100_where_random_misses() {
    // 102 goroutines per schedule: the slowest kernel here, so fewer seeds.
    const BUDGET: u64 = 300;
    for seed in 0..3 {
        let fuzz = found_at(FUZZ, seed, BUDGET, twostage(100));
        assert!(fuzz.is_some(), "fuzz, seed {seed}: twostage_100 not found");
        let random = found_at(StrategyKind::Random, seed, BUDGET, twostage(100));
        assert_eq!(random, None, "random, seed {seed}");
    }
}

#[test]
fn a_fuzz_failure_is_shrunk_and_replays() {
    let e = Checker::new()
        .strategy(FUZZ)
        .iterations(300)
        .shrink_budget(Duration::from_secs(2))
        .run(reorder(20))
        .unwrap_err();
    assert_eq!(e.kind(), FailureKind::Panic);
    assert!(e.to_string().contains("fuzz(seed=0)"), "{e}");
    let again = goweave::replay(e.schedule(), reorder(20)).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Panic);
    assert!(again.report().contains("reorder: a=1 b=0"), "{again}");
}
