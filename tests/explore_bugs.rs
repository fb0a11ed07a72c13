//! The strategies find known concurrency bugs: a lost update, an AB-BA deadlock, SCTBench's
//! reorder_N and a strict alternation; Dfs proves a correct program exhaustively.

use std::sync::Arc;
use std::time::Duration;

use goweave::sync::atomic::{AtomicI64, AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, FailureKind, StrategyKind};

#[path = "common/kernels.rs"]
mod kernels;
use kernels::lost_update;

/// Two goroutines take two mutexes in opposite orders.
fn ab_ba() {
    let a = Arc::new(Mutex::new(0));
    let b = Arc::new(Mutex::new(0));
    let (a2, b2) = (a.clone(), b.clone());
    let h = go(move || {
        let _ga = a2.lock();
        let _gb = b2.lock();
    });
    {
        let _gb = b.lock();
        let _ga = a.lock();
    }
    h.join();
}

/// SCTBench's reorder_N: N-1 setters write `a = 1; b = -1`, one checker asserts that it sees
/// both writes or neither.
pub fn reorder(n: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a = Arc::new(AtomicI64::new(0));
        let b = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for _ in 0..n - 1 {
            let (a, b) = (a.clone(), b.clone());
            hs.push(go(move || {
                a.store(1, SeqCst);
                b.store(-1, SeqCst);
            }));
        }
        let (a2, b2) = (a.clone(), b.clone());
        hs.push(go(move || {
            let x = a2.load(SeqCst);
            let y = b2.load(SeqCst);
            assert!(
                (x == 0 && y == 0) || (x == 1 && y == -1),
                "reorder: a={x} b={y}"
            );
        }));
        for h in hs {
            h.join();
        }
    }
}

fn quick() -> Checker {
    Checker::new().shrink_budget(Duration::from_secs(2))
}

#[test]
fn every_randomised_strategy_finds_the_lost_update() {
    for s in [
        StrategyKind::Random,
        StrategyKind::Pct { depth: 2 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: Some(1),
        },
    ] {
        let f = quick()
            .strategy(s.clone())
            .iterations(1_000)
            .run(lost_update)
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Panic, "{s}: {f}");
        assert!(f.report().contains("lost update"), "{s}: {f}");
        // One preemption between a load and its store is all it takes.
        assert_eq!(f.preemptions(), 1, "{s}: {f}");
        assert!(f.minimal(), "{s}: {f}");
    }
}

#[test]
fn every_strategy_finds_the_ab_ba_deadlock() {
    for s in [
        StrategyKind::Random,
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: None,
        },
    ] {
        let f = quick()
            .strategy(s.clone())
            .iterations(1_000)
            .run(ab_ba)
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Deadlock, "{s}: {f}");
        let r = f.report();
        assert!(
            r.starts_with("all goroutines are asleep - deadlock!"),
            "{r}"
        );
        assert!(r.contains("goroutine 1 [sync.Mutex.Lock]:"), "{r}");
        assert!(r.contains("goroutine 2 [sync.Mutex.Lock]:"), "{r}");
        assert!(
            r.contains("created by goroutine 1 at tests/explore_bugs.rs"),
            "{r}"
        );
    }
}

#[test]
fn pct_finds_reorder_10_within_1000_schedules_for_most_seeds() {
    let mut found = Vec::new();
    for seed in 0..10 {
        let r = Checker::new()
            .strategy(StrategyKind::Pct { depth: 3 })
            .seed(seed)
            .iterations(1_000)
            .shrink_budget(Duration::ZERO)
            .run(reorder(10));
        if let Err(f) = r {
            assert_eq!(f.kind(), FailureKind::Panic, "{f}");
            assert!(f.report().contains("reorder: a="), "{f}");
            found.push(f.iteration());
        }
    }
    assert!(found.len() >= 9, "PCT found reorder_10 for only {found:?}");
}

/// Two goroutines take turns under one lock, three turns each: only strict alternation (five
/// switches, each just after an unlock) takes one of them to 21.
fn alternation() {
    kernels::alternation(3, 21)()
}

/// A bug of depth 6 needs five change points that each put the running goroutine below the
/// one it lets run; PCT demotes below every earlier change point, so they only have to land
/// on the right steps, in whatever order they were drawn.
#[test]
fn pct_at_depth_6_finds_a_five_switch_alternation_in_every_seed() {
    for seed in 0..10 {
        let f = Checker::new()
            .strategy(StrategyKind::Pct { depth: 6 })
            .seed(seed)
            .iterations(200)
            .shrink_budget(Duration::ZERO)
            .run(alternation)
            .unwrap_err();
        let r = f.report();
        assert!(
            r.contains("alternated: a=21") || r.contains("b=21"),
            "seed {seed}: {f}"
        );
    }
}

#[test]
fn random_and_pos_find_reorder_5() {
    for s in [StrategyKind::Random, StrategyKind::Pos] {
        let f = Checker::new()
            .strategy(s.clone())
            .iterations(2_000)
            .shrink_budget(Duration::ZERO)
            .run(reorder(5))
            .unwrap_err();
        assert!(f.report().contains("reorder: a="), "{s}: {f}");
    }
}

/// Two goroutines add to a counter under a mutex: correct under every schedule.
fn locked_counter() {
    let m = Arc::new(Mutex::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            go(move || *m.lock() += 1)
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(*m.lock(), 2);
}

#[test]
fn dfs_proves_a_correct_mutex_program_and_counts_its_schedules() {
    let stats = Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .run(locked_counter)
        .unwrap();
    assert!(stats.exhausted, "{stats}");
    assert_eq!(stats.distinct, stats.schedules, "{stats}");
    let text = stats.to_string();
    assert!(
        text.starts_with(&format!(
            "explored all {} schedules (dpor)",
            stats.schedules
        )),
        "{text}"
    );
    // Deterministic: the same count every time.
    let again = Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .run(locked_counter)
        .unwrap();
    assert_eq!(again.schedules, stats.schedules);
    // One schedule per order in which the two goroutines take the lock.
    assert_eq!(stats.schedules, 2, "{stats}");
    // Every interleaving, without reduction; a preemption bound explores a subset of those.
    let plain = Checker::new()
        .strategy(StrategyKind::DfsPlain)
        .run(locked_counter)
        .unwrap();
    assert!(plain.exhausted);
    assert!(plain.to_string().starts_with("explored all"), "{plain}");
    assert!(plain.schedules > stats.schedules, "{plain} vs {stats}");
    let bounded = Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: Some(0),
        })
        .run(locked_counter)
        .unwrap();
    assert!(bounded.exhausted);
    assert!(bounded.schedules < plain.schedules, "{bounded} vs {plain}");
}

#[test]
fn dfs_stops_at_the_iteration_limit_without_claiming_exhaustion() {
    let stats = Checker::new()
        .strategy(StrategyKind::DfsPlain)
        .iterations(3)
        .run(locked_counter)
        .unwrap();
    assert_eq!(stats.schedules, 3);
    assert!(!stats.exhausted);
    assert!(stats.to_string().starts_with("ran 3 schedules"), "{stats}");
}

#[test]
fn a_spinning_program_is_a_livelock_naming_the_spinners() {
    let f = Checker::new()
        .max_steps(2_000)
        .iterations(1)
        .shrink_budget(Duration::from_millis(200))
        .run(|| {
            let flag = Arc::new(AtomicU64::new(0));
            let f2 = flag.clone();
            let h = go(move || while f2.load(SeqCst) == 0 {});
            h.join();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Livelock, "{f}");
    assert!(
        f.report()
            .starts_with("livelock: the schedule passed 2000 scheduling points"),
        "{f}"
    );
    assert!(f.report().contains("goroutines still spinning: 2"), "{f}");
}

#[test]
fn polling_with_gosched_is_not_a_livelock_under_pct_pos_and_dfs() {
    let poll = || {
        let flag = Arc::new(AtomicU64::new(0));
        let f2 = flag.clone();
        let h = go(move || {
            while f2.load(SeqCst) == 0 {
                goweave::runtime::gosched();
            }
        });
        flag.store(1, SeqCst);
        h.join();
    };
    for s in [
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: Some(2),
        },
        StrategyKind::RoundRobin,
    ] {
        let stats = Checker::new()
            .strategy(s.clone())
            .iterations(200)
            .max_steps(10_000)
            .run(poll)
            .unwrap_or_else(|f| panic!("{s}: {f}"));
        assert!(stats.schedules >= 1);
    }
}

#[test]
fn time_budget_stops_exploration_early() {
    let stats = Checker::new()
        .iterations(u64::MAX)
        .time_budget(Duration::from_millis(200))
        .run(locked_counter)
        .unwrap();
    assert!(stats.schedules > 10, "{stats}");
    assert!(stats.elapsed < Duration::from_secs(5), "{stats}");
    assert!(stats.distinct <= stats.schedules);
    assert!(stats.schedules_per_sec() > 0.0);
}
