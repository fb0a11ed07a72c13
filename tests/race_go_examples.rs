//! The point of happens-before race detection: a race is reported even in an execution where
//! the result came out right. Two classic Go bugs, each checked schedule by schedule.
//!
//! The checker stops at the first failing schedule, so each schedule here is its own
//! one-schedule check with its own seed (without shrinking): the program records what
//! happened in that schedule, and the test asserts the verdict of each one.

use std::sync::atomic::{AtomicBool as StdAtomicBool, AtomicU8, Ordering as StdOrdering};
use std::sync::Arc;
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::sync::WaitGroup;
use goweave::{go, time, Checker, Failure, FailureKind, Stats, StrategyKind};

/// Schedule `i` of `n`: half random walks, half PCT, each with its own seed.
fn one_schedule<F>(i: u64, f: F) -> Result<Stats, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    let strategy = if i.is_multiple_of(2) {
        StrategyKind::Random
    } else {
        StrategyKind::Pct { depth: 3 }
    };
    Checker::new()
        .strategy(strategy)
        .iterations(1)
        .seed(i)
        .shrink_budget(Duration::ZERO)
        .run(f)
}

/// `time::sleep` used as synchronisation: a goroutine writes, main sleeps, then reads. Main
/// (nearly always) reads the right value, yet nothing orders the write before the read: the
/// race is reported in every one of 1,000 schedules.
#[test]
fn sleep_used_as_synchronisation_is_reported_in_every_schedule() {
    const SCHEDULES: u64 = 1000;
    let right = Arc::new(AtomicU8::new(0));
    let mut read_right = 0;
    for i in 0..SCHEDULES {
        right.store(0, StdOrdering::SeqCst);
        let r = right.clone();
        let result = one_schedule(i, move || {
            let x = Arc::new(RaceCell::named("x", 0));
            let x2 = x.clone();
            go(move || x2.set(42));
            time::sleep(Duration::from_millis(10));
            let v = x.get();
            r.store(if v == 42 { 1 } else { 2 }, StdOrdering::SeqCst);
        });
        let e = result.expect_err("a schedule where the sleep race was not reported");
        assert_eq!(e.kind(), FailureKind::Race, "schedule {i}:\n{e}");
        let report = e.to_string();
        assert!(report.contains(" at x by goroutine "), "{report}");
        // Both goroutines named: main as such, the writer by where it was created.
        assert!(report.contains(") is the main goroutine\n"), "{report}");
        assert!(
            report.contains(") created at:\n  tests/race_go_examples.rs:"),
            "{report}"
        );
        read_right += (right.load(StdOrdering::SeqCst) == 1) as u64;
    }
    // Main read 42 in most schedules (all, unless time may pass before the writer runs): the
    // result was right, and still a race.
    assert!(read_right > SCHEDULES / 2, "{read_right} of {SCHEDULES}");
    println!("{SCHEDULES} schedules, all reported; main read the right value in {read_right}");
}

/// What one schedule of the wg.Add program did.
const WAIT_FIRST: u8 = 1;
const ADD_FIRST: u8 = 2;

/// Go's "wg.Add inside the goroutine" bug: `wait` can return before the goroutine's `add`, and
/// then nothing orders the goroutine's write before main's read. Reported in every schedule
/// where `wait` returned first, including those where the goroutine wrote before main read
/// (main read the right value). Where the `add` came first, Go's annotations on `WaitGroup`
/// still make it a race whenever `wait` had to block (the `add` from zero is not ordered before
/// it): reported on `sync.WaitGroup`; only where the goroutine was done before main reached
/// `wait` is nothing reported.
#[test]
fn wg_add_inside_the_goroutine_is_reported_whenever_wait_returns_first() {
    const SCHEDULES: u64 = 1000;
    let order = Arc::new(AtomicU8::new(0));
    let right = Arc::new(StdAtomicBool::new(false));
    let (mut wait_first, mut wait_first_right, mut add_first) = (0, 0, 0);
    let mut add_first_blocked = 0;
    for i in 0..SCHEDULES {
        order.store(0, StdOrdering::SeqCst);
        right.store(false, StdOrdering::SeqCst);
        let (o, r) = (order.clone(), right.clone());
        let result = one_schedule(i, move || {
            let x = Arc::new(RaceCell::named("x", 0));
            let wg = WaitGroup::new();
            // Set right after the goroutine's `add`, with no scheduling point in between.
            let added = Arc::new(StdAtomicBool::new(false));
            let (x2, wg2, added2) = (x.clone(), wg.clone(), added.clone());
            go(move || {
                wg2.add(1); // the bug: this belongs before `go`
                added2.store(true, StdOrdering::SeqCst);
                x2.set(42);
                wg2.done();
            });
            wg.wait();
            // No scheduling point between `wait` returning and this check.
            let first = if added.load(StdOrdering::SeqCst) {
                ADD_FIRST
            } else {
                WAIT_FIRST
            };
            o.store(first, StdOrdering::SeqCst);
            let v = x.get();
            r.store(v == 42, StdOrdering::SeqCst);
        });
        match order.load(StdOrdering::SeqCst) {
            WAIT_FIRST => {
                wait_first += 1;
                let e = result.expect_err("wait returned first but no race was reported");
                assert_eq!(e.kind(), FailureKind::Race, "schedule {i}:\n{e}");
                if right.load(StdOrdering::SeqCst) {
                    wait_first_right += 1;
                }
            }
            ADD_FIRST => {
                add_first += 1;
                if let Err(e) = result {
                    assert_eq!(e.kind(), FailureKind::Race, "schedule {i}:\n{e}");
                    assert!(
                        e.to_string().contains(" at sync.WaitGroup ("),
                        "schedule {i}: add came first, so only Go's WaitGroup annotation can \
                         report it:\n{e}"
                    );
                    add_first_blocked += 1;
                }
            }
            // The add came first and the goroutine had not called done: main's wait blocked,
            // and the race on the WaitGroup, found there, ended the schedule before main
            // could record what it saw.
            _ if result
                .as_ref()
                .is_err_and(|e| e.to_string().contains(" at sync.WaitGroup (")) =>
            {
                add_first += 1;
                add_first_blocked += 1;
            }
            _ => panic!("schedule {i}: main did not get past wait: {result:?}"),
        }
    }
    assert!(
        wait_first > 0 && add_first > 0 && add_first_blocked > 0,
        "{wait_first} / {add_first} / {add_first_blocked}"
    );
    assert!(
        wait_first_right > 0,
        "no schedule where wait returned first and main still read the right value"
    );
    println!(
        "{wait_first} schedules with wait first ({wait_first_right} of them reading the right value), all reported; {add_first} with add first, {add_first_blocked} of them reported on the WaitGroup"
    );
}
