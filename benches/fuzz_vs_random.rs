//! `Fuzz` against `Random` (and `Pct`, depth 3) on SCTBench's reorder_20 and twostage_100:
//! over ten seeds, how many schedules each needs to find the bug, within the same budget.
//!
//! `cargo bench --bench fuzz_vs_random` (release). Prints one line per program and strategy:
//! seeds that found the bug, the median number of schedules (over the seeds that found it) and
//! the wall time. The fast, asserted version of this comparison is `tests/fuzz_vs_random.rs`.

#[path = "../tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::time::{Duration, Instant};

use fuzz_support::kernels::{reorder, twostage};
use goweave::{Checker, StrategyKind};

const SEEDS: u64 = 10;
const BUDGET: u64 = 2_000;

fn found_at<F>(strategy: StrategyKind, seed: u64, f: F) -> Option<u64>
where
    F: Fn() + Send + Sync + 'static,
{
    Checker::new()
        .strategy(strategy)
        .seed(seed)
        .iterations(BUDGET)
        .shrink_budget(Duration::ZERO)
        .run(f)
        .err()
        .map(|e| e.iteration() + 1)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("budget: {BUDGET} schedules per seed, seeds 0..{SEEDS}");
    println!(
        "{:<14} {:<8} {:>6} {:>8} {:>9}  schedules to find, per seed",
        "program", "strategy", "found", "median", "time"
    );
    let strategies = [
        StrategyKind::Random,
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Fuzz { corpus: None },
    ];
    for program in ["reorder_20", "twostage_100"] {
        for s in &strategies {
            let start = Instant::now();
            let found: Vec<Option<u64>> = (0..SEEDS)
                .map(|seed| match program {
                    "reorder_20" => found_at(s.clone(), seed, reorder(20)),
                    _ => found_at(s.clone(), seed, twostage(100)),
                })
                .collect();
            let mut hits: Vec<u64> = found.iter().flatten().copied().collect();
            hits.sort_unstable();
            let median = hits
                .get(hits.len() / 2)
                .map_or("-".to_string(), |m| m.to_string());
            let per_seed: Vec<String> = found
                .iter()
                .map(|f| f.map_or("miss".into(), |n| n.to_string()))
                .collect();
            println!(
                "{:<14} {:<8} {:>3}/{:<2} {:>8} {:>8.1}s  {}",
                program,
                s.to_string(),
                hits.len(),
                SEEDS,
                median,
                start.elapsed().as_secs_f64(),
                per_seed.join(" ")
            );
        }
    }
}
