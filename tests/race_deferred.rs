//! Under the random walk the checker defers the race detector: schedules that touch no
//! `RaceCell` keep no clocks, and the first schedule that touches one runs again with the
//! detector on, which then stays on. None of that may change what is found or counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::{go, Checker, FailureKind};

/// Two goroutines touch a shared cell without synchronisation only on a rare path: when a
/// recorded random value is 0 (1 in `odds`), which happens only after many schedules that
/// touch no cell at all.
fn rare_race(odds: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(goweave::sync::Mutex::new(0u32));
        let m2 = m.clone();
        let h = go(move || *m2.lock() += 1);
        *m.lock() += 1;
        h.join();
        if goweave::rand::below(odds) == 0 {
            let cell = Arc::new(RaceCell::named("rare", 0));
            let c2 = cell.clone();
            let h = go(move || c2.set(1));
            cell.set(2);
            h.join();
        }
    }
}

#[test]
fn a_race_on_a_rare_path_is_still_found_and_replays() {
    let f = Checker::new()
        .seed(3)
        .iterations(2_000)
        .run(rare_race(40))
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Race, "{f}");
    assert!(f.report().contains(" at rare by goroutine "), "{f}");
    // The token replays the race, with the detector on from the start.
    let again = goweave::replay(f.schedule(), rare_race(40)).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Race, "{again}");
}

#[test]
fn the_race_found_is_the_one_an_always_on_detector_finds() {
    // The same random walk as a custom strategy, which the checker never defers: both stop at
    // the same schedule, recorded the same way.
    for seed in [11, 12, 13] {
        let deferred = Checker::new()
            .seed(seed)
            .iterations(2_000)
            .run(rare_race(25))
            .unwrap_err();
        let watched = Checker::new()
            .custom_strategy(goweave::explore::Random::new(seed))
            .iterations(2_000)
            .run(rare_race(25))
            .unwrap_err();
        assert_eq!(deferred.kind(), FailureKind::Race, "{deferred}");
        assert_eq!(watched.kind(), FailureKind::Race, "{watched}");
        assert_eq!(deferred.iteration(), watched.iteration());
        assert_eq!(deferred.original_token(), watched.original_token());
    }
}

#[test]
fn schedules_are_counted_once_when_one_runs_again() {
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    let stats = Checker::new()
        .iterations(50)
        .run(move || {
            r.fetch_add(1, Ordering::Relaxed);
            // Every schedule touches a cell, race-free (only main does).
            let c = RaceCell::new(1);
            c.set(c.get() + 1);
        })
        .unwrap();
    assert_eq!(stats.schedules, 50);
    // The first schedule ran twice (deferred, then watching); the detector stayed on after.
    assert_eq!(runs.load(Ordering::Relaxed), 51);
}

#[test]
fn programs_without_cells_are_never_run_twice() {
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    let stats = Checker::new()
        .iterations(50)
        .run(move || {
            r.fetch_add(1, Ordering::Relaxed);
            let m = Arc::new(goweave::sync::Mutex::new(0));
            let m2 = m.clone();
            go(move || *m2.lock() += 1).join();
            *m.lock() += 1;
        })
        .unwrap();
    assert_eq!(stats.schedules, 50);
    assert_eq!(runs.load(Ordering::Relaxed), 50);
}
