//! `sync::Semaphore` and `sync::atomic` conformance, on both executors.

mod common;

use std::sync::Arc;

use common::{on_both, on_steal};
use goweave::runtime::gosched;
use goweave::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use goweave::sync::{Mutex, Semaphore, WaitGroup};
use goweave::{go, recover, Checker, FailureKind};

#[test]
fn semaphore_bounds_concurrency() {
    on_both(|| {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..10 {
            let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
            wg.go(move || {
                sem.acquire(1);
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                gosched();
                inside.fetch_sub(1, Ordering::SeqCst);
                sem.release(1);
            });
        }
        wg.wait();
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(sem.held(), 0);
    });
}

#[test]
fn semaphore_is_fifo_a_large_request_is_not_overtaken() {
    on_both(|| {
        let sem = Arc::new(Semaphore::new(4));
        sem.acquire(3);
        let order = Arc::new(Mutex::new(Vec::new()));
        // A request for 4 queues first; then a request for 1 arrives. 1 unit is free, but the
        // small request must wait behind the large one.
        let (s, o) = (sem.clone(), order.clone());
        let big = go(move || {
            s.acquire(4);
            o.lock().push("big");
            s.release(4);
        });
        while sem.try_acquire(1) {
            // Not queued yet: undo and let it run.
            sem.release(1);
            gosched();
        }
        let (s, o) = (sem.clone(), order.clone());
        let small = go(move || {
            s.acquire(1);
            o.lock().push("small");
            s.release(1);
        });
        for _ in 0..5 {
            gosched();
        }
        assert!(order.lock().is_empty());
        sem.release(3);
        big.join();
        small.join();
        assert_eq!(*order.lock(), vec!["big", "small"]);
    });
}

#[test]
fn semaphore_try_acquire_and_over_release() {
    on_both(|| {
        let sem = Semaphore::new(2);
        assert!(sem.try_acquire(2));
        assert!(!sem.try_acquire(1));
        sem.release(1);
        assert!(sem.try_acquire(1));
        assert_eq!(sem.size(), 2);
        let p = recover(|| sem.release(3)).unwrap_err();
        assert_eq!(p.message(), "semaphore: released more than held");
    });
}

#[test]
fn semaphore_acquire_larger_than_size_is_a_deadlock() {
    let err = Checker::new()
        .run(|| {
            let sem = Semaphore::new(1);
            sem.acquire(2);
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    assert!(err.report().contains("goroutine 1 [semacquire]:"), "{err}");
}

#[test]
fn atomics_count_on_both() {
    on_both(|| {
        let n = Arc::new(AtomicU64::new(0));
        let flag = Arc::new(AtomicBool::new(false));
        let wg = WaitGroup::new();
        for _ in 0..4 {
            let (n, flag) = (n.clone(), flag.clone());
            wg.go(move || {
                for _ in 0..25 {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                flag.store(true, Ordering::Release);
            });
        }
        wg.wait();
        assert_eq!(n.load(Ordering::Relaxed), 100);
        assert!(flag.load(Ordering::Acquire));
    });
}

#[test]
fn atomic_api_mirrors_std() {
    on_both(|| {
        let a = AtomicI32::new(5);
        assert_eq!(a.swap(7, Ordering::SeqCst), 5);
        assert_eq!(
            a.compare_exchange(7, 8, Ordering::SeqCst, Ordering::SeqCst),
            Ok(7)
        );
        assert_eq!(
            a.compare_exchange(7, 9, Ordering::SeqCst, Ordering::SeqCst),
            Err(8)
        );
        assert_eq!(a.fetch_sub(10, Ordering::SeqCst), 8);
        assert_eq!(a.fetch_max(3, Ordering::SeqCst), -2);
        assert_eq!(a.fetch_min(-5, Ordering::SeqCst), 3);
        assert_eq!(a.fetch_or(1, Ordering::SeqCst), -5);
        assert_eq!(
            a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v * 2)),
            Ok(-5)
        );
        assert_eq!(a.load(Ordering::SeqCst), -10);
        let mut u = AtomicU32::default();
        *u.get_mut() = 3;
        assert_eq!(u.fetch_xor(1, Ordering::SeqCst), 3);
        assert_eq!(u.into_inner(), 2);
        let b = AtomicBool::new(true);
        assert!(b.fetch_not(Ordering::SeqCst));
        assert!(!b.fetch_and(true, Ordering::SeqCst));
        let i = AtomicI64::from(-1);
        assert_eq!(i.fetch_nand(0, Ordering::SeqCst), -1);
        let mut x = 5u8;
        let p = AtomicPtr::new(std::ptr::null_mut());
        p.store(&mut x, Ordering::SeqCst);
        assert_eq!(p.load(Ordering::SeqCst), &mut x as *mut u8);
        assert_eq!(format!("{:?}", AtomicUsize::new(4)), "4");
    });
}

#[test]
fn a_load_then_store_increment_loses_updates_under_some_schedule() {
    // Each atomic operation is a scheduling point, so the tester interleaves goroutines
    // between the load and the store and finds the lost update.
    let err = Checker::new()
        .iterations(200)
        .run(|| {
            let n = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let n = n.clone();
                    go(move || {
                        let v = n.load(Ordering::SeqCst);
                        n.store(v + 1, Ordering::SeqCst);
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join());
            assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Panic);
    assert!(err.report().contains("lost update"), "{err}");
    // The trace carries the atomic operations with their orderings.
    let atomics: Vec<_> = err
        .trace()
        .iter()
        .filter(|e| e.event.ordering.is_some())
        .collect();
    assert!(atomics.len() >= 4, "{atomics:?}");
    assert!(atomics
        .iter()
        .all(|e| e.event.ordering == Some(Ordering::SeqCst)));
}

#[test]
fn atomics_outside_and_inside_steal() {
    static HITS: AtomicUsize = AtomicUsize::new(0);
    HITS.fetch_add(1, Ordering::SeqCst);
    on_steal(|| {
        let hs: Vec<_> = (0..8)
            .map(|_| go(|| HITS.fetch_add(1, Ordering::SeqCst)))
            .collect();
        hs.into_iter().for_each(|h| {
            h.join();
        });
    });
    assert_eq!(HITS.load(Ordering::SeqCst), 9);
}
