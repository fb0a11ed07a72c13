//! `sync::Once` and `sync::Cond` conformance, on both executors.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::on_both;
use goweave::runtime::gosched;
use goweave::sync::{Cond, Mutex, Once, WaitGroup};
use goweave::{go, recover, Checker, FailureKind};

#[test]
fn once_runs_once_and_everyone_waits_for_it() {
    on_both(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let after = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..5 {
            let (once, runs, after) = (once.clone(), runs.clone(), after.clone());
            wg.go(move || {
                once.call_once(|| {
                    gosched();
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                // Every caller returns only after the function completed.
                after.fetch_add(runs.load(Ordering::SeqCst), Ordering::SeqCst);
            });
        }
        wg.wait();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(after.load(Ordering::SeqCst), 5);
        assert!(once.is_completed());
    });
}

#[test]
fn a_panicking_function_counts_as_done() {
    on_both(|| {
        let once = Once::new();
        let p = recover(|| once.call_once(|| panic!("init failed"))).unwrap_err();
        assert_eq!(p.message(), "init failed");
        assert!(once.is_completed());
        once.call_once(|| unreachable!("ran twice"));
    });
}

#[test]
fn recursive_call_once_is_reported_as_a_deadlock() {
    let outer = line!() + 4;
    let err = Checker::new()
        .run(move || {
            let once = Once::new();
            once.call_once(|| once.call_once(|| {}));
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    let r = err.report();
    assert!(r.contains("goroutine 1 [sync.Once.Do]:"), "{r}");
    assert!(
        r.contains(&format!(
            "sync.Once is already held by this goroutine (goroutine 1), running the function it passed at tests/sync_once_cond.rs:{outer}:"
        )),
        "{r}"
    );
}

#[test]
fn cond_signal_and_broadcast() {
    on_both(|| {
        let state = Arc::new((Mutex::new(0u32), Cond::new()));
        let wg = WaitGroup::new();
        for _ in 0..3 {
            let s = state.clone();
            wg.go(move || {
                let (m, c) = &*s;
                let g = m.lock();
                let mut g = c.wait_while(g, |v| *v == 0);
                *g += 10;
            });
        }
        for _ in 0..5 {
            gosched();
        }
        {
            let (m, c) = &*state;
            *m.lock() = 1;
            c.signal();
            c.broadcast();
        }
        wg.wait();
        assert_eq!(*state.0.lock(), 31);
    });
}

#[test]
fn cond_producer_consumer_queue() {
    on_both(|| {
        let q = Arc::new((Mutex::new(VecDeque::new()), Cond::new(), Cond::new()));
        const CAP: usize = 2;
        let consumer = {
            let q = q.clone();
            go(move || {
                let (m, not_empty, not_full) = &*q;
                let mut got = Vec::new();
                while got.len() < 20 {
                    let mut g = not_empty.wait_while(m.lock(), |q| q.is_empty());
                    got.push(g.pop_front().unwrap());
                    drop(g);
                    not_full.signal();
                }
                got
            })
        };
        let (m, not_empty, not_full) = &*q;
        for i in 0..20 {
            let mut g = not_full.wait_while(m.lock(), |q| q.len() == CAP);
            g.push_back(i);
            drop(g);
            not_empty.signal();
        }
        assert_eq!(consumer.join(), (0..20).collect::<Vec<_>>());
    });
}

#[test]
fn a_signal_before_anyone_waits_is_not_remembered() {
    let err = Checker::new()
        .run(|| {
            let m = Mutex::new(());
            let c = Cond::new();
            c.signal();
            c.broadcast();
            let _g = c.wait(m.lock());
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
}

#[test]
fn a_wait_without_a_signal_is_reported_as_a_deadlock() {
    let line = line!() + 6;
    let err = Checker::new()
        .run(move || {
            let m = Mutex::new(false);
            let c = Cond::new();
            let g = m.lock();
            let _g = c.wait(g);
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    assert!(
        err.report().contains(&format!(
            "goroutine 1 [sync.Cond.Wait]:\n    blocked at tests/sync_once_cond.rs:{line}:"
        )),
        "{err}"
    );
}

#[test]
fn a_lost_wakeup_is_found_by_exploration() {
    // The classic bug: checking the condition without the lock before waiting. Some schedule
    // signals between the check and the wait, and the waiter sleeps forever.
    let err = Checker::new()
        .iterations(500)
        .run(|| {
            let s = Arc::new((Mutex::new(false), Cond::new()));
            let s2 = s.clone();
            go(move || {
                *s2.0.lock() = true;
                s2.1.signal();
            });
            let (m, c) = &*s;
            let ready = *m.lock();
            if !ready {
                let g = m.lock();
                let _g = c.wait(g);
            }
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    assert!(err.report().contains("[sync.Cond.Wait]"), "{err}");
}
