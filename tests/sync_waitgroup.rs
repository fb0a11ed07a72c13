//! `sync::WaitGroup` conformance, on both executors.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{on_both, on_steal};
use goweave::runtime::gosched;
use goweave::sync::WaitGroup;
use goweave::{go, recover, Checker, FailureKind};

#[test]
fn wait_returns_after_every_done() {
    on_both(|| {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicUsize::new(0));
        wg.add(5);
        for _ in 0..5 {
            let (wg, n) = (wg.clone(), n.clone());
            go(move || {
                gosched();
                n.fetch_add(1, Ordering::SeqCst);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(n.load(Ordering::SeqCst), 5);
        assert_eq!(wg.count(), 0);
    });
}

#[test]
fn go_counts_the_goroutine() {
    on_both(|| {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let n = n.clone();
            wg.go(move || {
                n.fetch_add(1, Ordering::SeqCst);
            });
        }
        wg.wait();
        assert_eq!(n.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn zero_counter_does_not_block_and_groups_are_reusable() {
    on_both(|| {
        let wg = WaitGroup::default();
        wg.wait();
        for round in 0..3 {
            let n = Arc::new(AtomicUsize::new(0));
            for _ in 0..=round {
                let n = n.clone();
                wg.go(move || {
                    n.fetch_add(1, Ordering::SeqCst);
                });
            }
            wg.wait();
            assert_eq!(n.load(Ordering::SeqCst), round + 1);
        }
    });
}

#[test]
fn many_waiters_are_all_released() {
    on_both(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let released = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (wg, r) = (wg.clone(), released.clone());
                go(move || {
                    wg.wait();
                    r.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for _ in 0..5 {
            gosched();
        }
        assert_eq!(released.load(Ordering::SeqCst), 0);
        wg.done();
        waiters.into_iter().for_each(|h| h.join());
        assert_eq!(released.load(Ordering::SeqCst), 4);
    });
}

#[test]
fn negative_counter_panics() {
    on_both(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        wg.done();
        let p = recover(|| wg.done()).unwrap_err();
        assert_eq!(p.message(), "sync: negative WaitGroup counter");
        let wg = WaitGroup::new();
        let p = recover(|| wg.add(-3)).unwrap_err();
        assert_eq!(p.message(), "sync: negative WaitGroup counter");
    });
}

#[test]
fn negative_counter_in_a_goroutine_fails_the_run() {
    let err = Checker::new()
        .run(|| {
            let wg = WaitGroup::new();
            let w = wg.clone();
            go(move || w.done()).join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Panic);
    assert!(
        err.report().contains("panicked at src/sync/waitgroup.rs"),
        "{err}"
    );
    assert!(
        err.report().contains("sync: negative WaitGroup counter"),
        "{err}"
    );
}

#[test]
fn a_missing_done_is_reported_as_a_deadlock() {
    let line = line!() + 6;
    let err = Checker::new()
        .run(move || {
            let wg = WaitGroup::new();
            wg.add(2);
            wg.go(|| {});
            wg.wait();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    assert!(
        err.report().contains(&format!(
            "goroutine 1 [sync.WaitGroup.Wait]:\n    blocked at tests/sync_waitgroup.rs:{line}:"
        )),
        "{err}"
    );
    assert!(
        err.report()
            .contains("sync.WaitGroup counter is 2: it waits for 2 more done()"),
        "{err}"
    );
}

#[test]
fn fan_out_on_steal() {
    on_steal(|| {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicUsize::new(0));
        for _ in 0..10_000 {
            let n = n.clone();
            wg.go(move || {
                n.fetch_add(1, Ordering::Relaxed);
            });
        }
        wg.wait();
        assert_eq!(n.load(Ordering::Relaxed), 10_000);
    });
}
