//! The automatic leak check of the controlled executor: after main returns, the others get to
//! finish (virtual time may advance a little); those that cannot have leaked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use goweave::runtime::gosched;
use goweave::sync::WaitGroup;
use goweave::{go, Checker, FailureKind};

#[test]
fn a_goroutine_blocked_forever_after_main_returns_is_a_leak() {
    let line = line!() + 6;
    let err = Checker::new()
        .iterations(20)
        .run(|| {
            let never = WaitGroup::new();
            never.add(1);
            go(move || never.wait());
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Leak);
    let r = err.to_string();
    assert!(r.starts_with("found unexpected goroutines:\n"), "{r}");
    assert!(r.contains("goroutine 2 [sync.WaitGroup.Wait]:"), "{r}");
    assert!(
        r.contains(&format!(
            "created by goroutine 1 at tests/leak_controlled.rs:{line}"
        )),
        "{r}"
    );
    assert!(r.contains("replay: GOWEAVE_REPLAY=gw1:"), "{r}");
}

#[test]
fn goroutines_that_finish_after_main_returns_are_not_leaks() {
    Checker::new()
        .iterations(100)
        .run(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let w = wg.clone();
            go(move || w.done());
            go(move || wg.wait());
        })
        .unwrap();
}

#[test]
fn a_goroutine_spinning_forever_after_main_returns_is_a_leak() {
    let err = Checker::new()
        .iterations(1)
        .run(|| {
            let stop = Arc::new(AtomicBool::new(false));
            go(move || {
                while !stop.load(Ordering::SeqCst) {
                    gosched();
                }
            });
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Leak);
    assert!(err.to_string().contains("goroutine 2 [running]:"), "{err}");
}

#[test]
fn leak_check_can_be_turned_off() {
    Checker::new()
        .iterations(5)
        .leak_check(false)
        .run(|| {
            let never = WaitGroup::new();
            never.add(1);
            go(move || never.wait());
        })
        .unwrap();
}
