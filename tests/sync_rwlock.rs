//! `sync::RwLock` conformance, on both executors.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{on_both, on_steal};
use goweave::runtime::gosched;
use goweave::sync::{RwLock, WaitGroup};
use goweave::{go, Checker, FailureKind};

#[test]
fn readers_share_writers_exclude() {
    on_both(|| {
        let l = Arc::new(RwLock::new(0u32));
        let r1 = l.read();
        // A second reader gets in while the first holds it, in this goroutine and another.
        assert!(l.try_read().is_some());
        let l2 = l.clone();
        assert!(go(move || l2.try_read().is_some()).join());
        assert!(l.try_write().is_none());
        drop(r1);
        let mut w = l.try_write().expect("free");
        *w += 1;
        assert!(l.try_read().is_none());
        assert!(l.try_write().is_none());
        drop(w);
        assert_eq!(*l.read(), 1);
    });
}

#[test]
fn writes_are_not_lost_under_mixed_load() {
    on_both(|| {
        let l = Arc::new(RwLock::new((0u32, 0u32)));
        let wg = WaitGroup::new();
        for i in 0..6 {
            let l = l.clone();
            wg.go(move || {
                for _ in 0..20 {
                    if i % 2 == 0 {
                        let mut w = l.write();
                        w.0 += 1;
                        gosched();
                        w.1 += 1;
                    } else {
                        let r = l.read();
                        let a = r.0;
                        gosched();
                        assert_eq!(a, r.1, "a reader saw a half-done write");
                    }
                }
            });
        }
        wg.wait();
        assert_eq!(*l.read(), (60, 60));
    });
}

/// Main read-locks; a writer queues; a new reader must then wait for the writer (and see its
/// write), even though the lock is only read-locked.
fn writer_preference() {
    let l = Arc::new(RwLock::new(0u32));
    let r1 = l.read();
    let lw = l.clone();
    let writer = go(move || *lw.write() = 1);
    // Wait until the writer has announced itself: new read locks then fail.
    while let Some(g) = l.try_read() {
        drop(g);
        gosched();
    }
    let seen_by_late_reader = Arc::new(AtomicUsize::new(usize::MAX));
    let (lr, seen) = (l.clone(), seen_by_late_reader.clone());
    let late = go(move || seen.store(*lr.read() as usize, Ordering::SeqCst));
    for _ in 0..10 {
        gosched();
    }
    assert_eq!(
        seen_by_late_reader.load(Ordering::SeqCst),
        usize::MAX,
        "a new reader got in while a writer waited"
    );
    drop(r1);
    writer.join();
    late.join();
    assert_eq!(seen_by_late_reader.load(Ordering::SeqCst), 1);
}

#[test]
fn writer_preference_blocks_new_readers() {
    on_both(writer_preference);
}

#[test]
fn nested_read_lock_with_a_queued_writer_deadlocks_and_is_reported() {
    let first = line!() + 4;
    let err = Checker::new()
        .run(move || {
            let l = Arc::new(RwLock::new(()));
            let _outer = l.read();
            let lw = l.clone();
            go(move || drop(lw.write()));
            while let Some(g) = l.try_read() {
                drop(g);
                gosched();
            }
            let _inner = l.read();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    let r = err.report();
    assert!(r.contains("goroutine 1 [sync.RWMutex.RLock]:"), "{r}");
    assert!(
        r.contains(&format!("blocked at tests/sync_rwlock.rs:{}:", first + 7)),
        "{r}"
    );
    assert!(r.contains("goroutine 2 [sync.RWMutex.Lock]:"), "{r}");
    assert!(
        r.contains(&format!(
            "sync.RWMutex read-locked by this goroutine (goroutine 1) at tests/sync_rwlock.rs:{first}:"
        )),
        "{r}"
    );
    assert!(
        r.contains("sync.RWMutex write lock requested by goroutine 2 at tests/sync_rwlock.rs:"),
        "{r}"
    );
}

#[test]
fn many_readers_and_writers_on_steal() {
    on_steal(|| {
        let l = Arc::new(RwLock::new(0u64));
        let wg = WaitGroup::new();
        for i in 0..64 {
            let l = l.clone();
            wg.go(move || {
                for _ in 0..200 {
                    if i % 8 == 0 {
                        *l.write() += 1;
                    } else {
                        let v = *l.read();
                        assert!(v <= 1600);
                    }
                }
            });
        }
        wg.wait();
        assert_eq!(*l.read(), 8 * 200);
    });
}

#[test]
fn static_rwlock() {
    static CONFIG: RwLock<u32> = RwLock::new(7);
    on_steal(|| {
        *CONFIG.write() += 1;
        assert_eq!(*CONFIG.read(), 8);
    });
    let mut l = RwLock::new(1);
    *l.get_mut() = 2;
    assert_eq!(l.into_inner(), 2);
}
