//! Goroutine core behaviour, on both executors.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{on_both, on_controlled, on_steal};
use goweave::runtime::{gosched, id, num_goroutine};
use goweave::{go, recover, Checker, FailureKind, Runtime};

#[test]
fn ten_thousand_goroutines_spawned_and_joined() {
    let body = || {
        let hs: Vec<_> = (0..10_000u64).map(|i| go(move || i)).collect();
        let sum: u64 = hs.into_iter().map(|h| h.join()).sum();
        assert_eq!(sum, 10_000 * 9_999 / 2);
    };
    on_steal(body);
    on_controlled(1, body);
}

fn tree(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let hs: Vec<_> = (0..4).map(|_| go(move || tree(depth - 1))).collect();
    1 + hs.into_iter().map(|h| h.join()).sum::<u64>()
}

#[test]
fn nested_spawns() {
    on_both(|| assert_eq!(tree(4), 1 + 4 + 16 + 64 + 256));
}

#[test]
fn recover_contains_a_panic_with_message_and_location() {
    on_both(|| {
        let h = go(|| {
            let line = line!() + 1;
            let r = recover(|| -> u32 { panic!("boom {}", 7) });
            let p = r.unwrap_err();
            assert_eq!(p.message(), "boom 7");
            assert!(
                p.location().contains(&format!("goroutines.rs:{line}")),
                "{}",
                p.location()
            );
            // The goroutine carries on after recovering.
            recover(|| 5).unwrap()
        });
        assert_eq!(h.join(), 5);
    });
}

#[test]
fn unrecovered_panic_names_goroutine_and_location_on_steal() {
    let line = line!() + 4;
    let r = std::panic::catch_unwind(|| {
        goweave::run(|| {
            let h = go(|| {
                panic!("kaboom");
            });
            h.join();
        })
    });
    let msg = common::panic_message(r.unwrap_err());
    assert!(
        msg.starts_with(&format!(
            "goroutine 2 panicked at tests/goroutines.rs:{line}:"
        )),
        "{msg}"
    );
    assert!(msg.ends_with(": kaboom"), "{msg}");
}

#[test]
fn unrecovered_panic_names_goroutine_and_location_on_controlled() {
    let line = line!() + 3;
    let err = Checker::new()
        .run(|| {
            go(|| panic!("kaboom")).join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Panic);
    assert!(
        err.report().starts_with(&format!(
            "goroutine 2 panicked at tests/goroutines.rs:{line}:"
        )),
        "{err}"
    );
    assert!(err.report().contains(": kaboom"), "{err}");
}

struct SetOnDrop(Arc<AtomicUsize>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Main returns while one goroutine is parked (joining a spinner) and another spins with
/// gosched: both are torn down and their destructors run.
fn main_returns_while_others_run(dropped: Arc<AtomicUsize>) {
    let before = dropped.load(Ordering::SeqCst);
    let d1 = SetOnDrop(dropped.clone());
    let spinner = go(move || {
        let _d = d1;
        loop {
            gosched();
        }
    });
    let d2 = SetOnDrop(dropped.clone());
    let started = Arc::new(AtomicBool::new(false));
    let s2 = started.clone();
    go(move || {
        let _d = d2;
        s2.store(true, Ordering::SeqCst);
        spinner.join();
    });
    while !started.load(Ordering::SeqCst) {
        gosched();
    }
    assert_eq!(dropped.load(Ordering::SeqCst), before);
}

#[test]
fn main_returning_tears_down_blocked_goroutines_on_steal() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    on_steal(move || main_returns_while_others_run(d.clone()));
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}

#[test]
fn main_returning_tears_down_blocked_goroutines_on_controlled() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    // Go's exit semantics, so the leak check (which would report them) is off here.
    Checker::new()
        .iterations(10)
        .leak_check(false)
        .run(move || main_returns_while_others_run(d.clone()))
        .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 20);
}

#[test]
fn gosched_lets_a_waiting_goroutine_progress() {
    // One worker: the flag can only be set if gosched really hands the CPU over.
    let body = || {
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let setter = go(move || {
            for _ in 0..10 {
                gosched();
            }
            f2.store(true, Ordering::SeqCst);
        });
        let mut spins = 0u64;
        while !flag.load(Ordering::SeqCst) {
            gosched();
            spins += 1;
        }
        assert!(spins >= 1);
        setter.join();
    };
    Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(body);
    on_both(body);
}

#[test]
fn gosched_round_robins_between_goroutines() {
    // On one worker, two goroutines that yield after every step alternate strictly. Which one
    // starts is not specified (as in Go, the newest goroutine runs first: it waits in the
    // spawn slot, Go's runnext).
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(move || {
            let hs: Vec<_> = (0..2)
                .map(|k| {
                    let l = l.clone();
                    go(move || {
                        for _ in 0..5 {
                            l.lock().unwrap().push(k);
                            gosched();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join();
            }
        });
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 10, "{log:?}");
    assert!(log.windows(2).all(|w| w[0] != w[1]), "{log:?}");
}

#[test]
fn num_goroutine_counts_live_goroutines() {
    on_both(|| {
        assert_eq!(num_goroutine(), 1);
        let stop = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let stop = stop.clone();
                go(move || {
                    while !stop.load(Ordering::SeqCst) {
                        gosched();
                    }
                })
            })
            .collect();
        assert_eq!(num_goroutine(), 4);
        stop.store(true, Ordering::SeqCst);
        for h in hs {
            h.join();
        }
        // A goroutine counts itself out before it hands its value over: once `join` returned,
        // it is not counted, even while its worker is still finishing it.
        assert_eq!(num_goroutine(), 1);
    });
}

#[test]
fn ids_are_sequential_and_main_is_one() {
    on_both(|| {
        assert_eq!(id(), 1);
        let a = go(id).join();
        let b = go(id).join();
        assert_eq!((a, b), (2, 3));
    });
}

#[test]
fn join_works_from_outside_the_runtime() {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        goweave::run(move || {
            let h = go(|| {
                for _ in 0..100 {
                    gosched();
                }
                99
            });
            tx.send(h).unwrap();
            // Keep main alive until the goroutine is done.
            for _ in 0..10_000 {
                gosched();
            }
        })
    });
    let h: goweave::JoinHandle<i32> = rx.recv().unwrap();
    assert_eq!(h.join(), 99);
    t.join().unwrap();
}

#[test]
fn go_outside_a_runtime_explains_how_to_start_one() {
    let err = std::panic::catch_unwind(|| go(|| ())).unwrap_err();
    let msg = common::panic_message(err);
    assert!(msg.contains("goweave::run"), "{msg}");
    assert!(msg.contains("conc_test"), "{msg}");
}

fn record_order(seed: u64) -> Vec<u64> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    Checker::new()
        .iterations(1)
        .seed(seed)
        .run(move || {
            let hs: Vec<_> = (0..100)
                .map(|_| {
                    let l = l.clone();
                    go(move || {
                        for _ in 0..3 {
                            l.lock().unwrap().push(id());
                            gosched();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join();
            }
        })
        .unwrap();
    let v = log.lock().unwrap().clone();
    v
}

#[test]
fn controlled_executor_is_deterministic_per_seed() {
    let first = record_order(42);
    assert_eq!(first.len(), 300);
    for _ in 0..100 {
        assert_eq!(record_order(42), first);
    }
    let others: Vec<_> = (0..5).map(record_order).collect();
    assert!(others.iter().any(|o| *o != first));
    assert!(others.windows(2).any(|w| w[0] != w[1]));
}

#[test]
fn watchdog_names_a_goroutine_blocked_outside_goweave() {
    let line = line!() + 5;
    let err = Checker::new()
        .iterations(1)
        .watchdog(Duration::from_millis(500))
        .run(move || {
            go(|| std::thread::sleep(Duration::from_secs(3))).join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Blocked);
    let r = err.report();
    assert!(r.contains("goroutine 2"), "{r}");
    assert!(r.contains("blocked outside goweave's control"), "{r}");
    assert!(r.contains(&format!("goroutines.rs:{line}")), "{r}");
}

/// Busy for `d` without yielding (so its worker cannot run anything else meanwhile).
fn spin_for(d: Duration) {
    let t = std::time::Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Slow to drop: a goroutine holding one in its goroutine-local storage is still exiting for
/// a while after its value was handed over (locals are dropped at exit).
struct SlowDrop;

impl Drop for SlowDrop {
    fn drop(&mut self) {
        spin_for(Duration::from_millis(2));
    }
}

static SLOW: goweave::runtime::GoroutineLocal<Option<SlowDrop>> =
    goweave::runtime::GoroutineLocal::new(|| None);

#[test]
fn a_joined_goroutine_is_not_counted_once_join_returns() {
    // Main keeps its worker busy until the other worker has started the goroutine, then parks
    // in `join`. The goroutine wakes main as it hands its value over, and is then still
    // exiting for 2 ms (its local's drop): a count lowered only at exit shows up here as a
    // count above 1.
    Runtime::builder().workers(2).build().unwrap().block_on(|| {
        for round in 0..50u64 {
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            let work = move || {
                s.store(true, Ordering::SeqCst);
                SLOW.with(|s| *s = Some(SlowDrop));
                spin_for(Duration::from_micros(50));
                round
            };
            let h = if round % 2 == 0 {
                go(work)
            } else {
                goweave::go_named("counted", work)
            };
            while !started.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            assert_eq!(h.join(), round);
            assert_eq!(
                num_goroutine(),
                1,
                "round {round}: a joined goroutine is counted"
            );
        }
    });
}
