//! Race detection on `RaceCell` with goroutine spawn/join edges (the primitives' edges are in
//! tests/race_matrix.rs).

use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::{go, Checker, FailureKind};

#[test]
fn unordered_writes_are_reported_with_both_accesses_and_creation_sites() {
    let err = Checker::new()
        .iterations(1)
        .run(|| {
            let balance = Arc::new(RaceCell::named("balance", 100));
            let b = balance.clone();
            let h = go(move || b.set(b.get() + 50));
            balance.set(balance.get() + 50);
            h.join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Race);
    let r = err.to_string();
    assert!(r.starts_with("WARNING: DATA RACE\n"), "{r}");
    assert!(r.contains(" at balance by goroutine "), "{r}");
    assert!(r.contains("Previous "), "{r}");
    assert!(r.contains("Goroutine 2 ("), "{r}");
    assert!(r.contains("created at:\n  tests/race_basic.rs:"), "{r}");
}

#[test]
fn spawn_and_join_order_accesses() {
    Checker::new()
        .iterations(200)
        .run(|| {
            let c = Arc::new(RaceCell::new(0));
            c.set(1);
            let c2 = c.clone();
            go(move || c2.set(c2.get() + 1)).join();
            assert_eq!(c.get(), 2);
        })
        .unwrap();
}
