//! Shrinking: a failing schedule is reduced to the fewest preemptions (then steps) that still
//! fail the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::sync::atomic::{AtomicI64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, FailureKind, StrategyKind};

/// SCTBench's reorder_N: N-1 setters write `a = 1; b = -1`, one checker asserts that it sees
/// both writes or neither.
fn reorder(n: usize) -> impl Fn() + Send + Sync + Clone + 'static {
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

/// The fewest preemptions with which reorder_5 fails, by exhaustive preemption-bounded search.
fn minimum_preemptions_of_reorder_5() -> u64 {
    for bound in 0..4 {
        let r = Checker::new()
            .strategy(StrategyKind::Dfs {
                max_preemptions: Some(bound),
            })
            .shrink_budget(Duration::ZERO)
            .run(reorder(5));
        match r {
            Ok(stats) => assert!(stats.exhausted, "{stats}"),
            Err(f) => {
                assert_eq!(f.kind(), FailureKind::Panic, "{f}");
                assert!(f.original_preemptions() <= bound as u64);
                return bound as u64;
            }
        }
    }
    panic!("reorder_5 did not fail with up to 3 preemptions");
}

#[test]
fn reorder_5_shrinks_to_the_minimum_number_of_preemptions() {
    let min = minimum_preemptions_of_reorder_5();
    assert_eq!(min, 1);
    let mut shrank = 0;
    for seed in 0..5 {
        let f = Checker::new()
            .seed(seed)
            .iterations(5_000)
            .run(reorder(5))
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Panic, "{f}");
        assert_eq!(f.preemptions(), min, "seed {seed}:\n{f}");
        assert!(f.minimal(), "{f}");
        assert!(f.original_preemptions() >= f.preemptions());
        if f.original_preemptions() > f.preemptions() {
            shrank += 1;
            assert_ne!(f.token(), f.original_token());
        }
        // Fewer preemptions first, then fewer steps.
        assert!(
            f.preemptions() < f.original_preemptions()
                || f.schedule().events() <= f.original_schedule().events(),
            "{f}"
        );
        // The shrunk schedule fails the same way when replayed.
        let r = goweave::replay(f.schedule(), reorder(5)).unwrap_err();
        assert_eq!(r.report(), f.report());
        let text = f.to_string();
        assert!(text.contains("(fewest possible preemptions)"), "{text}");
        assert!(text.contains("original: GOWEAVE_REPLAY=gw1:"), "{text}");
    }
    assert!(shrank > 0, "no random failure needed shrinking");
}

#[test]
fn the_shrunk_trace_shows_the_single_preemption() {
    let f = Checker::new()
        .seed(3)
        .iterations(5_000)
        .run(reorder(5))
        .unwrap_err();
    assert_eq!(f.preemptions(), 1);
    let marks = f.trace().iter().filter(|e| e.preempted.is_some()).count();
    assert_eq!(marks, 1, "{f}");
    assert_eq!(f.to_string().matches("<- preempts g").count(), 1, "{f}");
}

/// A deadlock that needs one preemption, hidden in a long schedule.
fn ab_ba_after_noise() {
    let a = Arc::new(Mutex::new(0));
    let b = Arc::new(Mutex::new(0));
    let noise: Vec<_> = (0..3)
        .map(|_| {
            let a = a.clone();
            go(move || {
                for _ in 0..5 {
                    *a.lock() += 1;
                }
            })
        })
        .collect();
    for h in noise {
        h.join();
    }
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

#[test]
fn deadlocks_shrink_too_and_keep_their_kind() {
    let f = Checker::new()
        .seed(1)
        .iterations(1_000)
        .run(ab_ba_after_noise)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    assert_eq!(f.preemptions(), 1, "{f}");
    assert!(f.schedule().events() <= f.original_schedule().events());
}

#[test]
fn shrinking_respects_its_budget_and_can_be_turned_off() {
    let start = Instant::now();
    let f = Checker::new()
        .seed(2)
        .iterations(5_000)
        .shrink_budget(Duration::ZERO)
        .run(reorder(5))
        .unwrap_err();
    assert_eq!(f.token(), f.original_token());
    assert_eq!(f.preemptions(), f.original_preemptions());
    assert!(!f.minimal());
    assert!(!f.to_string().contains("original: GOWEAVE_REPLAY"), "{f}");
    let f = Checker::new()
        .seed(2)
        .iterations(5_000)
        .shrink_budget(Duration::from_millis(1))
        .run(reorder(5))
        .unwrap_err();
    assert!(f.preemptions() <= f.original_preemptions());
    assert!(start.elapsed() < Duration::from_secs(20));
}
