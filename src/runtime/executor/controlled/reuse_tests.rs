//! A run reuses the previous run's executor box (`SPARE_EXEC`): nothing of an earlier run,
//! however it ended, may show in a later one.
use std::sync::Arc;
use std::time::Duration;

use super::{run, Config, Monitor, Outcome, SPARE_EXEC};
use crate::explore::Random;
use crate::explore::{Strategy, TimerMode};
use crate::verdict::Verdict;

/// Two goroutines incrementing one mutex, a channel, and a timer that fires while they run.
fn busy() {
    let m = Arc::new(crate::sync::Mutex::new(0u64));
    let done = crate::chan::make::<u64>(0);
    let t = crate::time::after(Duration::from_millis(5));
    for i in 0..2 {
        let (m, done) = (m.clone(), done.clone());
        crate::go(move || {
            for _ in 0..4 {
                *m.lock() += 1;
            }
            done.send(i);
        });
    }
    let got: u64 = (0..2).map(|_| done.recv().unwrap()).sum();
    assert_eq!(got, 1);
    assert_eq!(*m.lock(), 8);
    t.recv();
}

/// Schedule 3 of seed 7: every field of the outcome that a later run could inherit.
fn reference_run(
    trace: bool,
) -> (
    Vec<crate::schedule::Choice>,
    u64,
    u64,
    u64,
    u64,
    usize,
    bool,
) {
    let mut s = Random::new(7);
    assert!(s.begin(3));
    let cfg = Config {
        trace,
        timers: TimerMode::AnyTime,
        ..Config::default()
    };
    let out: Outcome<()> = run(busy, Box::new(s), cfg, Arc::new(Monitor::default()));
    assert!(out.result.is_ok(), "{:?}", out.result.err());
    (
        out.schedule,
        out.steps,
        out.events,
        out.preemptions,
        out.fingerprint,
        out.trace.len(),
        out.stall.is_some(),
    )
}

/// A run that leaves everything dirty: a deadlock verdict with goroutines still parked, an
/// armed timer, the trace on, a stall, preemptions.
fn dirty_run() {
    let mut s = Random::new(1);
    assert!(s.begin(0));
    let cfg = Config {
        timers: TimerMode::AnyTime,
        ..Config::default()
    };
    let out: Outcome<()> = run(
        || {
            let _t = crate::time::after(Duration::from_secs(3600));
            let c = crate::chan::make::<u8>(0);
            for _ in 0..3 {
                let c = c.clone();
                crate::go(move || {
                    c.recv();
                });
            }
            let m = crate::sync::Mutex::new(());
            let _a = m.lock();
            let _b = m.lock();
        },
        Box::new(s),
        cfg,
        Arc::new(Monitor::default()),
    );
    assert!(
        matches!(out.result, Err(Verdict::Deadlock(_))),
        "{:?}",
        out.result.err()
    );
    assert!(!out.schedule.is_empty() && out.steps > 0 && !out.trace.is_empty());
}

#[test]
fn a_run_after_any_other_gives_the_same_outcome() {
    // Fresh thread: no spare executor yet, so the first run builds one.
    std::thread::spawn(|| {
        assert!(SPARE_EXEC.take().is_none());
        let first = reference_run(true);
        let spare = SPARE_EXEC
            .take()
            .expect("a run leaves its executor for the next one");
        let addr = &*spare as *const _ as usize;
        SPARE_EXEC.set(Some(spare));
        dirty_run();
        let after_dirty = reference_run(true);
        // The box was reused, not rebuilt.
        let spare = SPARE_EXEC.take().expect("still kept");
        assert_eq!(&*spare as *const _ as usize, addr);
        SPARE_EXEC.set(Some(spare));
        assert_eq!(first, after_dirty);
        // Without the trace, the same schedule (and no trace left over).
        let untraced = reference_run(false);
        assert_eq!(untraced.0, first.0);
        assert_eq!(untraced.5, 0);
        assert_eq!(reference_run(true), first);
    })
    .join()
    .unwrap();
}

/// One deferred-detector run of `f` (the random walk's exploration runs): whether it needed
/// the detector.
fn deferred_run(f: impl FnOnce() + Send + 'static) -> bool {
    let mut s = Random::new(5);
    assert!(s.begin(0));
    let cfg = Config {
        trace: false,
        race_deferred: true,
        ..Config::default()
    };
    let out: Outcome<()> = run(f, Box::new(s), cfg, Arc::new(Monitor::default()));
    assert!(out.result.is_ok(), "{:?}", out.result.err());
    out.race_needed
}

#[test]
fn a_reused_deferred_detector_forgets_that_the_previous_run_needed_it() {
    std::thread::spawn(|| {
        let touches = || {
            let c = crate::cell::RaceCell::named("c", 0u8);
            c.set(1);
        };
        assert!(deferred_run(touches));
        // The same settings: the detector is renewed in place, and `needed` starts false.
        assert!(!deferred_run(busy_untimed));
        assert!(deferred_run(touches));
        assert!(deferred_run(touches));
        assert!(!deferred_run(busy_untimed));
        // After a run with the detector on (not renewable), deferred again.
        let _ = reference_run(true);
        assert!(!deferred_run(busy_untimed));
    })
    .join()
    .unwrap();
}

/// `busy` without its timer (the default timer mode would stall on it).
fn busy_untimed() {
    let m = Arc::new(crate::sync::Mutex::new(0u64));
    let h = {
        let m = m.clone();
        crate::go(move || *m.lock() += 1)
    };
    *m.lock() += 1;
    h.join();
}
