//! A goroutine is registered with its worker only when it first suspends (`steal/registry.rs`),
//! so that the many that run start to finish cost no registry lock. Until then it is its
//! worker's running goroutine, and reports must list it all the same: a leak check taken while
//! it runs names it, and once it returned nothing of it stays listed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goweave::leak::{self, Options};
use goweave::{go, Runtime};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Runs `f` on a runtime, failing (not hanging) if it has not returned within 20 s: a
/// goroutine counted by `num_goroutine` but missing from the listing makes `leak::find` wait
/// for it to start, forever.
fn within_time<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(rt().block_on(f)));
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the run did not end: a leak check waited for a goroutine it never listed")
}

#[test]
fn a_goroutine_that_never_suspended_is_listed_while_it_runs() {
    let (text, line) = within_time(|| {
        let (started, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (s, t) = (started.clone(), stop.clone());
        let line = line!() + 1;
        let h = go(move || {
            s.store(true, Ordering::SeqCst);
            // Spins on a std atomic: never parks or yields, so it never registers.
            while !t.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        // Main does not park either, so the other worker runs the spinner.
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let found = leak::find(Options::new().retry_window(Duration::from_millis(20)));
        // Stopped before anything is asserted: a spinner that never suspends could not be
        // torn down, and a failure would hang instead of failing.
        stop.store(true, Ordering::SeqCst);
        h.join();
        // Returned without ever suspending: nothing of it is left to report.
        leak::verify_none(Options::new());
        let text = match found {
            Err(leaks) => leaks.to_string(),
            Ok(()) => "no goroutine listed".to_string(),
        };
        (text, line)
    });
    assert!(text.contains("goroutine 2 [running]"), "{text}");
    assert!(
        text.contains(&format!(
            "created by goroutine 1 at tests/registry_running.rs:{line}"
        )),
        "{text}"
    );
}

#[test]
fn goroutines_that_park_after_running_are_listed_once() {
    let text = within_time(|| {
        let ch = goweave::chan::make::<()>(0);
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let ch = ch.clone();
                go(move || {
                    ch.recv();
                })
            })
            .collect();
        // Until all 8 have parked (bounded: a wrong count must fail, not hang).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let err = loop {
            let err = leak::find(Options::new().retry_window(Duration::ZERO)).unwrap_err();
            if err.to_string().matches("[chan receive]").count() >= 8
                || std::time::Instant::now() > deadline
            {
                break err;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        ch.close();
        for h in hs {
            h.join();
        }
        leak::verify_none(Options::new());
        err.to_string()
    });
    for id in 2..10 {
        assert_eq!(
            text.matches(&format!("goroutine {id} [")).count(),
            1,
            "goroutine {id} listed once: {text}"
        );
    }
}
