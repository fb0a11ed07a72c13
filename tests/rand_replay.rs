//! `goweave::rand`: in range on both executors, and part of the schedule on the controlled
//! executor (the same seed reproduces the same values).

mod common;

use std::sync::{Arc, Mutex};

use common::{on_both, on_steal};
use goweave::{rand, Checker};

#[test]
fn values_are_in_range() {
    on_both(|| {
        for n in 1..50 {
            assert!(rand::below(n) < n);
        }
        let items = ["a", "b", "c"];
        assert!(items.contains(rand::choose(&items).unwrap()));
        assert!(rand::choose::<u8>(&[]).is_none());
        let mut v: Vec<u32> = (0..20).collect();
        rand::shuffle(&mut v);
        v.sort_unstable();
        assert_eq!(v, (0..20).collect::<Vec<_>>());
    });
}

#[test]
#[should_panic(expected = "goweave::rand::below(0)")]
fn below_zero_panics() {
    rand::below(0);
}

#[test]
fn the_steal_generator_covers_the_range() {
    on_steal(|| {
        let mut seen = [false; 8];
        for _ in 0..1_000 {
            seen[rand::below(8) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        let a = rand::u64();
        let b = rand::u64();
        assert_ne!(a, b);
        // Both halves get random bits.
        let ors = (0..64).fold(0u64, |acc, _| acc | rand::u64());
        assert_eq!(ors, u64::MAX);
    });
}

fn draws(seed: u64) -> Vec<u64> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    Checker::new()
        .iterations(3)
        .seed(seed)
        .run(move || {
            let h = goweave::go(|| (rand::u64(), rand::below(1000)));
            let mine = rand::below(1_000_000);
            let (x, y) = h.join();
            let pick = *rand::choose(&[10, 20, 30, 40]).unwrap();
            o.lock().unwrap().extend([mine, x, y, pick]);
        })
        .unwrap();
    let v = out.lock().unwrap().clone();
    v
}

#[test]
fn the_same_seed_replays_the_same_values() {
    let a = draws(11);
    assert_eq!(a.len(), 12);
    assert_eq!(a, draws(11));
    assert_ne!(a, draws(12));
}

#[test]
fn a_failure_that_depends_on_a_random_value_is_found() {
    let err = Checker::new()
        .iterations(500)
        .run(|| {
            let v = rand::below(100);
            assert_ne!(v, 42, "unlucky");
        })
        .unwrap_err();
    assert!(err.report().contains("unlucky"), "{err}");
    // The schedule recorded the value choice.
    assert!(!err.schedule().is_empty());
}

/// Go seeds its generator at start-up, so two runs of a program draw different values; so
/// does the work-stealing runtime, though each `block_on` starts new worker threads (whose
/// generators were once seeded from their stack address and repeated from run to run).
#[test]
fn each_run_on_the_work_stealing_runtime_draws_new_values() {
    let rt = goweave::Runtime::builder().build().unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let (main, child) = rt.block_on(|| (rand::u64(), goweave::go(rand::u64).join()));
        assert!(seen.insert(main), "a run repeated main's draw {main:#x}");
        assert!(
            seen.insert(child),
            "a run repeated a goroutine's draw {child:#x}"
        );
    }
}
