//! PCT's steps (a lock attempt that parks its goroutine is not one, nor a goroutine's first
//! shared operation) and its first schedule (change points placed as it goes): see "Steps"
//! and "Front-loaded schedules" in `explore::pct`'s docs.

use std::time::Duration;

use std::sync::Arc;

use goweave::sync::atomic::{AtomicBool, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, StrategyKind};

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
/// Since front-loaded schedules after the first place 1 to 7 change points rather than
/// always 7 (this bug needs 5), seed 2 needs 11 and the others 2 to 5 (35 in all).
#[test]
fn pct_finds_a_three_round_alternation_within_twelve_schedules_for_every_seed() {
    let found: Vec<Option<u64>> = (0..10)
        .map(|seed| schedules_to_bug(3, 21, 8, seed, 200))
        .collect();
    assert!(
        found.iter().all(|f| f.is_some_and(|n| n <= 12)),
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

/// SCTBench's twostage with `writers` writers: each sets `data1` under one lock, then `data2 =
/// data1 + 1` under another; a reader started last reads both under the same locks. Panics
/// with `twostage` when the reader runs between some writer's two stages.
fn twostage(writers: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let l1 = Arc::new(Mutex::new(0i64));
        let l2 = Arc::new(Mutex::new(0i64));
        let mut hs: Vec<_> = (0..writers)
            .map(|_| {
                let (l1, l2) = (l1.clone(), l2.clone());
                go(move || {
                    let v = {
                        let mut d1 = l1.lock();
                        *d1 = 1;
                        *d1
                    };
                    *l2.lock() = v + 1;
                })
            })
            .collect();
        hs.push(go(move || {
            let t1 = *l1.lock();
            if t1 != 0 {
                let t2 = *l2.lock();
                assert_eq!(t2, t1 + 1, "twostage");
            }
        }));
        for h in hs {
            h.join();
        }
    }
}

/// SCTBench's account: `withdrawers` goroutines queue on a locked balance of 1 (main holds the
/// lock while they start); each checks the balance under the lock, lets go, and takes 1 under
/// the lock again if it saw enough. Panics with `overdrawn` when two check before either takes.
fn withdraw(withdrawers: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let balance = Arc::new(Mutex::new(1i64));
        let held = balance.lock();
        let hs: Vec<_> = (0..withdrawers)
            .map(|_| {
                let balance = balance.clone();
                go(move || {
                    let enough = *balance.lock() >= 1;
                    if enough {
                        *balance.lock() -= 1;
                    }
                })
            })
            .collect();
        drop(held);
        for h in hs {
            h.join();
        }
        assert!(*balance.lock() >= 0, "overdrawn");
    }
}

/// Schedules PCT at `depth` with `seed` needs to a failure of `body` whose report contains
/// `expect` (None: not within `budget`).
fn pct_schedules<F>(body: F, expect: &str, depth: u32, seed: u64, budget: u64) -> Option<u64>
where
    F: Fn() + Send + Sync + 'static,
{
    let f = Checker::new()
        .strategy(StrategyKind::Pct { depth })
        .seed(seed)
        .iterations(budget)
        .shrink_budget(Duration::ZERO)
        .run(body)
        .err()?;
    assert!(f.report().contains(expect), "seed {seed}: {f}");
    Some(f.iteration() + 1)
}

/// Twenty writers (SCTBench's twostage_20) at depth 3. The bug needs a writer preempted
/// between its two stages right at the start, with the reader next in line; counting each
/// goroutine's first shared step as a step spread the two change points over 84 steps instead
/// of 63, and half the schedules now front-load theirs. Seeds 0 to 14 needed a median of 385
/// schedules then (lower quartile 187, two seeds over 1,000), 137 with first operations left
/// out but every schedule after the first drawn uniformly, and now 70 (lower quartile 46,
/// worst 209).
#[test]
fn pct_finds_twostage_20_at_a_median_under_100_schedules() {
    let mut found: Vec<u64> = (0..15)
        .map(|seed| pct_schedules(twostage(20), "twostage", 3, seed, 1_000).unwrap_or(u64::MAX))
        .collect();
    found.sort_unstable();
    assert!(found[7] <= 100, "schedules to the bug, sorted: {found:?}");
}

/// Eight withdrawers at depth 3: the bug needs the first to be preempted between its check
/// and its withdrawal. The first schedule, which had no change points (k was not known),
/// never found it; with change points placed as it goes (see "Front-loaded schedules" in
/// `explore::pct`), it found it for 16 of seeds 0 to 19 with two change points in every first
/// schedule, and for 11 since the first places one or two (a second demotion here often
/// preempts a second withdrawer in its window too; see "Surplus change points").
#[test]
fn pct_first_schedule_finds_the_overdraft_for_most_seeds() {
    let found: Vec<Option<u64>> = (0..20)
        .map(|seed| pct_schedules(withdraw(8), "overdrawn", 3, seed, 100))
        .collect();
    let first = found.iter().filter(|&&f| f == Some(1)).count();
    assert!(
        first >= 10,
        "{first} of 20 seeds in the first schedule: {found:?}"
    );
    assert!(
        found.iter().all(|f| f.is_some_and(|n| n <= 10)),
        "{found:?}"
    );
}

/// The guard on leaving first operations out: on three rounds of alternation with no bug, at
/// depth 8, only 5 steps are left without them, fewer than the 7 change points, so every
/// uniformly drawn schedule would demote at every step and differ only in the initial
/// priorities (without the guard, seeds 0 to 3 sampled 311 to 328 distinct schedules in
/// 1,000). With first operations counted again, the change points have room to move (598 to
/// 634).
#[test]
fn pct_keeps_sampling_distinct_schedules_when_few_steps_are_left() {
    for seed in 0..4 {
        let stats = Checker::new()
            .strategy(StrategyKind::Pct { depth: 8 })
            .seed(seed)
            .iterations(1_000)
            .run(alternation(3, u64::MAX))
            .expect("no bug without a limit");
        assert!(
            stats.distinct >= 450,
            "seed {seed}: {} distinct schedules in 1,000",
            stats.distinct
        );
    }
}

/// SCTBench's bluetooth_driver: main checks a stopping flag, then counts an I/O in (under the
/// lock that guards the count) and works; a stopper sets the flag, drops the initial count
/// and marks the device stopped once the count reaches 0. Panics with `stopped device` when
/// the stopper runs, all five of its shared steps after the flag, between main's check and
/// its increment.
fn stop_race() -> impl Fn() + Send + Sync + 'static {
    struct Dev {
        pending: Mutex<i64>,
        stopping: AtomicBool,
        drained: AtomicBool,
        stopped: AtomicBool,
    }
    fn decrement(e: &Dev) {
        let left = {
            let mut p = e.pending.lock();
            *p -= 1;
            *p
        };
        if left == 0 {
            e.drained.store(true, SeqCst);
        }
    }
    || {
        let e = Arc::new(Dev {
            pending: Mutex::new(1),
            stopping: AtomicBool::new(false),
            drained: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        let e2 = e.clone();
        let stopper = go(move || {
            e2.stopping.store(true, SeqCst);
            decrement(&e2);
            if e2.drained.load(SeqCst) {
                e2.stopped.store(true, SeqCst);
            }
        });
        if !e.stopping.load(SeqCst) {
            *e.pending.lock() += 1;
            assert!(!e.stopped.load(SeqCst), "stopped device");
        }
        decrement(&e);
        stopper.join();
    }
}

/// A bug of depth 2 at depth 3: main must be preempted between its check and its increment,
/// and the stopper must then run its five shared steps with main below it. In a front-loaded
/// schedule the change point not needed lands within those five steps with probability 5/7
/// and lets main back in too soon; front-loaded schedules after the first now place one or
/// two change points, at random (see "Surplus change points" in `explore::pct`). Over seeds 0
/// to 40, with two in every front-loaded schedule, the median was 19 schedules to the bug
/// (upper quartile 30, 1,065 in all); now 13 (upper quartile 20, 556 in all).
#[test]
fn pct_finds_a_shallow_bug_whose_victim_runs_long_at_a_median_under_16_schedules() {
    let mut found: Vec<u64> = (0..41)
        .map(|seed| {
            pct_schedules(stop_race(), "stopped device", 3, seed, 1_000).unwrap_or(u64::MAX)
        })
        .collect();
    found.sort_unstable();
    assert!(found[20] <= 15, "schedules to the bug, sorted: {found:?}");
    let total: u64 = found.iter().sum();
    assert!(total <= 800, "{total} schedules over 41 seeds: {found:?}");
}

/// How many of seeds `0..seeds` find a failure of `body` whose report contains `expect` in
/// PCT's first schedule at depth 3.
fn first_schedule_hits<F>(body: impl Fn() -> F, expect: &str, seeds: u64) -> usize
where
    F: Fn() + Send + Sync + 'static,
{
    (0..seeds)
        .filter(|&seed| pct_schedules(body(), expect, 3, seed, 1) == Some(1))
        .count()
}

/// The first schedule places its change points like every other front-loaded one: one or
/// two at depth 3, at random (see "Surplus change points" in `explore::pct`). Both bugs
/// here need a single preemption near the start, and a second change point there undoes it:
/// main's check and increment with the stopper's five steps in between, and the one writer
/// of twostage preempted between its stages with the reader in line. With two change points
/// in every first schedule, seeds 0 to 59 found them in the first schedule 0 and 9 times;
/// now 7 and 23.
#[test]
fn pct_first_schedule_leaves_out_surplus_change_points() {
    let stop = first_schedule_hits(stop_race, "stopped device", 60);
    let two = first_schedule_hits(|| twostage(1), "twostage", 60);
    assert!(
        stop >= 5 && two >= 18,
        "first-schedule hits of 60 seeds: stop race {stop}, twostage {two}"
    );
}
