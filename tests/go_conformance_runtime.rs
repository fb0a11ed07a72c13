//! `runtime::set_gomaxprocs` (issue 17, item 7), from Go's documentation of
//! `runtime.GOMAXPROCS`: "GOMAXPROCS sets the maximum number of CPUs that can be executing
//! simultaneously and returns the previous setting. If n < 1, it does not change the current
//! setting." On a running runtime, on both executors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::runtime::{gomaxprocs, set_gomaxprocs};
use goweave::sync::WaitGroup;
use goweave::test_hooks::worker_index;
use goweave::{go, Checker, Runtime};

/// True if `n` goroutines run at the same time: each arrives and spins (never yielding to
/// goweave) until all have arrived, or until `patience` runs out.
fn run_at_once(n: usize, patience: Duration) -> bool {
    let arrived = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let arrived = arrived.clone();
            go(move || {
                arrived.fetch_add(1, Ordering::SeqCst);
                let start = Instant::now();
                while arrived.load(Ordering::SeqCst) < n {
                    if start.elapsed() > patience {
                        return false;
                    }
                    std::hint::spin_loop();
                }
                true
            })
        })
        .collect();
    // Join every one (no short cut), then see if all met.
    let met: Vec<bool> = hs.into_iter().map(|h| h.join()).collect();
    met.into_iter().all(|m| m)
}

/// The workers that ran `n` new goroutines.
fn workers_used(n: usize) -> Vec<usize> {
    let wg = WaitGroup::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..n {
        let seen = seen.clone();
        wg.go(move || {
            seen.lock().unwrap().push(worker_index().unwrap());
            // Long enough for an idle worker to come and steal, if it were allowed to.
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(200) {
                std::hint::spin_loop();
            }
        });
    }
    wg.wait();
    let mut v = seen.lock().unwrap().clone();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn lowering_gomaxprocs_keeps_new_goroutines_off_the_other_workers() {
    Runtime::builder()
        .workers(2)
        .max_workers(2)
        .build()
        .unwrap()
        .block_on(|| {
            assert_eq!(gomaxprocs(), 2);
            assert_eq!(set_gomaxprocs(1), 2, "returns the previous setting");
            assert_eq!(gomaxprocs(), 1);
            // Main may itself be homed on worker 1 (it cannot move), but everything it starts
            // now runs on worker 0.
            assert_eq!(workers_used(64), vec![0]);
            assert_eq!(set_gomaxprocs(2), 1);
            assert!(
                run_at_once(2, Duration::from_secs(10)),
                "with GOMAXPROCS 2, two goroutines run at once"
            );
        });
}

#[test]
fn raising_gomaxprocs_starts_using_held_back_workers() {
    Runtime::builder()
        .workers(1)
        .max_workers(3)
        .build()
        .unwrap()
        .block_on(|| {
            assert_eq!(gomaxprocs(), 1);
            assert_eq!(
                workers_used(16),
                vec![0],
                "one worker while GOMAXPROCS is 1"
            );
            assert_eq!(set_gomaxprocs(3), 1);
            assert!(
                run_at_once(3, Duration::from_secs(10)),
                "with GOMAXPROCS 3, three goroutines run at once"
            );
        });
}

#[test]
fn zero_queries_and_large_values_are_clamped_to_the_threads_started() {
    Runtime::builder()
        .workers(2)
        .max_workers(3)
        .build()
        .unwrap()
        .block_on(|| {
            assert_eq!(set_gomaxprocs(0), 2, "n < 1 does not change the setting");
            assert_eq!(gomaxprocs(), 2);
            assert_eq!(set_gomaxprocs(64), 2);
            assert_eq!(gomaxprocs(), 3, "clamped to max_workers");
            assert_eq!(set_gomaxprocs(2), 3);
        });
    let e = Runtime::builder()
        .workers(4)
        .max_workers(2)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("max_workers 2 is below workers 4"),
        "{e}"
    );
}

#[test]
fn the_checker_remembers_the_setting_for_the_run() {
    let r = Checker::new().iterations(20).run(|| {
        assert_eq!(gomaxprocs(), 1, "every schedule starts at 1");
        assert_eq!(set_gomaxprocs(4), 1);
        let h = go(gomaxprocs);
        assert_eq!(h.join(), 4, "one setting for the whole run");
        assert_eq!(set_gomaxprocs(0), 4);
        assert_eq!(set_gomaxprocs(2), 4);
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

#[test]
fn outside_a_runtime_it_says_what_to_do() {
    let p = std::panic::catch_unwind(|| set_gomaxprocs(2)).unwrap_err();
    let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("set_gomaxprocs(2)"), "{msg}");
    assert!(
        msg.contains("go_conformance_runtime.rs"),
        "names the caller: {msg}"
    );
    assert!(msg.contains("Runtime::builder().workers(n)"), "{msg}");
}
