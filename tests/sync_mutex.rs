//! `sync::Mutex` conformance, on both executors.

mod common;

use std::sync::Arc;

use common::{on_both, on_steal};
use goweave::runtime::gosched;
use goweave::sync::{Cond, Mutex, WaitGroup};
use goweave::{go, Checker, FailureKind};

fn hammer(goroutines: usize, iters: usize) {
    let m = Arc::new(Mutex::new(0usize));
    let wg = WaitGroup::new();
    for _ in 0..goroutines {
        let m = m.clone();
        wg.go(move || {
            for _ in 0..iters {
                let mut g = m.lock();
                let v = *g;
                // Give other goroutines a chance to run inside the critical section.
                gosched();
                *g = v + 1;
            }
        });
    }
    wg.wait();
    assert_eq!(*m.lock(), goroutines * iters);
}

#[test]
fn increments_are_not_lost() {
    on_both(|| hammer(8, 50));
}

#[test]
fn heavy_contention_on_steal() {
    on_steal(|| {
        let m = Arc::new(Mutex::new(0u64));
        let wg = WaitGroup::new();
        for _ in 0..200 {
            let m = m.clone();
            wg.go(move || {
                for _ in 0..500 {
                    *m.lock() += 1;
                }
            });
        }
        wg.wait();
        assert_eq!(*m.lock(), 100_000);
    });
}

#[test]
fn starvation_mode_hands_off_and_stays_correct_on_steal() {
    // Critical sections longer than the 1 ms starvation threshold force hand-off mode.
    on_steal(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let wg = WaitGroup::new();
        for i in 0..6 {
            let m = m.clone();
            wg.go(move || {
                for _ in 0..3 {
                    let mut g = m.lock();
                    let t = std::time::Instant::now();
                    while t.elapsed() < std::time::Duration::from_micros(1500) {
                        std::hint::spin_loop();
                    }
                    g.push(i);
                }
            });
        }
        wg.wait();
        assert_eq!(m.lock().len(), 18);
    });
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    on_both(|| {
        let m = Arc::new(Mutex::new(1));
        let g = m.lock();
        assert!(m.try_lock().is_none());
        let m2 = m.clone();
        assert!(go(move || m2.try_lock().is_none()).join());
        assert!(m.is_locked());
        drop(g);
        assert_eq!(*m.try_lock().unwrap(), 1);
        assert!(!m.is_locked());
    });
}

#[test]
fn static_mutex_and_get_mut() {
    static COUNT: Mutex<u32> = Mutex::new(0);
    on_steal(|| {
        let hs: Vec<_> = (0..4).map(|_| go(|| *COUNT.lock() += 1)).collect();
        hs.into_iter().for_each(|h| h.join());
    });
    assert_eq!(*COUNT.lock(), 4);
    let mut m = Mutex::new(5);
    *m.get_mut() += 1;
    assert_eq!(m.into_inner(), 6);
}

#[test]
fn plain_threads_can_share_it_with_goroutines() {
    let m = Arc::new(Mutex::new(0u32));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    let m2 = m.clone();
    on_steal(move || {
        let wg = WaitGroup::new();
        for _ in 0..4 {
            let m = m2.clone();
            wg.go(move || {
                for _ in 0..2_000 {
                    *m.lock() += 1;
                }
            });
        }
        wg.wait();
    });
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*m.lock(), 14_000);
}

#[test]
fn double_lock_is_reported_as_a_deadlock_naming_both_sites() {
    let first = line!() + 4;
    let err = Checker::new()
        .run(move || {
            let m = Mutex::new(());
            let _g = m.lock();
            let _again = m.lock();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    let r = err.report();
    assert!(
        r.starts_with("all goroutines are asleep - deadlock!"),
        "{r}"
    );
    assert!(r.contains("goroutine 1 [sync.Mutex.Lock]:"), "{r}");
    assert!(
        r.contains(&format!("blocked at tests/sync_mutex.rs:{}:", first + 1)),
        "{r}"
    );
    assert!(
        r.contains(&format!(
            "sync.Mutex is already held by this goroutine (goroutine 1), locked at tests/sync_mutex.rs:{first}:"
        )),
        "{r}"
    );
}

#[test]
fn lock_order_inversion_is_found_and_names_the_holders() {
    let err = Checker::new()
        .iterations(200)
        .seed(3)
        .run(|| {
            let a = Arc::new(Mutex::new(()));
            let b = Arc::new(Mutex::new(()));
            let (a2, b2) = (a.clone(), b.clone());
            let h = go(move || {
                let _x = b2.lock();
                let _y = a2.lock();
            });
            {
                let _x = a.lock();
                let _y = b.lock();
            }
            h.join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    let r = err.report();
    assert!(r.contains("goroutine 1 [sync.Mutex.Lock]:"), "{r}");
    assert!(r.contains("goroutine 2 [sync.Mutex.Lock]:"), "{r}");
    assert!(
        r.contains("sync.Mutex held by goroutine 2, locked at"),
        "{r}"
    );
    assert!(
        r.contains("sync.Mutex held by goroutine 1, locked at"),
        "{r}"
    );
}

#[test]
fn report_names_the_current_holder_after_a_handoff() {
    // Main holds the mutex while goroutines 2 and 3 queue for it, then unlocks: one of them
    // takes it and blocks forever while holding it, and main queues again. The waiters'
    // reports must name the goroutine that holds the mutex at the end, not main.
    let err = Checker::new()
        .iterations(100)
        .run(|| {
            let m = Arc::new(Mutex::new(()));
            let g = m.lock();
            let never = Arc::new(Cond::new());
            let gate = Arc::new(Mutex::new(()));
            for _ in 0..2 {
                let (m, never, gate) = (m.clone(), never.clone(), gate.clone());
                go(move || {
                    let _held = m.lock();
                    let g = gate.lock();
                    let _g = never.wait(g); // nobody signals
                });
            }
            for _ in 0..10 {
                gosched();
            }
            drop(g);
            for _ in 0..10 {
                gosched();
            }
            let _again = m.lock();
            let g = gate.lock();
            let _g = never.wait(g);
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    let r = err.report();
    let mut named = 0;
    for (i, _) in r.match_indices("sync.Mutex held by goroutine ") {
        let rest = &r[i + "sync.Mutex held by goroutine ".len()..];
        let id: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        assert!(
            r.contains(&format!("goroutine {id} [sync.Cond.Wait]:")),
            "the named holder {id} is not the one blocked holding the mutex:\n{r}"
        );
        named += 1;
    }
    assert!(named >= 1, "{r}");
}
