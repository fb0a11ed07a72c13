//! The timer mode from every side: `Checker::timers`, `GOWEAVE_TIMERS`, `--timers` and
//! `#[conc_test(timers = "...")]`.

use goweave::check::{Layer, Origin};
use goweave::harness::TestConfig;
use goweave::time::{self, Duration};
use goweave::{chan, conc_test, go, select, TimerMode};

#[test]
fn modes_parse_and_print() {
    for m in [TimerMode::AnyTime, TimerMode::WhenBlocked] {
        assert_eq!(m.to_string().parse::<TimerMode>(), Ok(m));
    }
    assert_eq!("when-blocked".parse(), Ok(TimerMode::WhenBlocked));
    assert_eq!("AnyTime".parse(), Ok(TimerMode::AnyTime));
    assert_eq!(TimerMode::default(), TimerMode::AnyTime);
    let e = "sometimes".parse::<TimerMode>().unwrap_err();
    assert!(e.contains("any_time") && e.contains("when_blocked"), "{e}");
}

#[test]
fn the_environment_and_flags_override_the_attribute() {
    let spec = &[("timers", "when_blocked")];
    assert_eq!(
        TestConfig::resolve(spec, &[]).unwrap().timers,
        TimerMode::WhenBlocked
    );
    assert_eq!(
        TestConfig::resolve(&[], &[]).unwrap().timers,
        TimerMode::AnyTime
    );
    let env = Layer::from_lookup(|k| (k == "GOWEAVE_TIMERS").then(|| "any_time".into()));
    assert_eq!(
        TestConfig::resolve(spec, &[&env]).unwrap().timers,
        TimerMode::AnyTime
    );
    let flags = Layer::new(Origin::Flag).with("timers", "when_blocked");
    assert_eq!(
        TestConfig::resolve(&[], &[&env, &flags]).unwrap().timers,
        TimerMode::WhenBlocked
    );
    let flags = Layer::new(Origin::Flag).with("timers", "never");
    let e = TestConfig::resolve(&[], &[&flags]).unwrap_err();
    assert!(e.to_string().contains("--timers=\"never\""), "{e}");
    let bad = Layer::from_lookup(|k| (k == "GOWEAVE_TIMERS").then(|| "soon".into()));
    let e = TestConfig::resolve(&[], &[&bad]).unwrap_err();
    assert!(e.to_string().contains("GOWEAVE_TIMERS"), "{e}");
}

/// Go's sleep-to-settle idiom: main sleeps so that the other goroutine reaches its receive.
/// Correct under synctest's rule, which the attribute asks for.
#[conc_test(timers = "when_blocked", iterations = 200)]
fn sleep_to_settle_holds_when_time_waits_for_the_blocked() {
    let ch = chan::make::<u32>(0);
    let c = ch.clone();
    let h = go(move || c.recv());
    time::sleep(Duration::from_millis(1));
    assert!(ch.try_send(5).is_ok(), "the receiver is waiting by now");
    assert_eq!(h.join(), Some(5));
}

/// With the default, the timeout may fire while the worker is still working: a leak.
#[conc_test(expect = "leak", iterations = 1_000)]
fn a_timeout_that_wins_leaks_the_worker() {
    let result = chan::make::<u32>(0);
    let r = result.clone();
    go(move || r.send(1));
    select! {
        recv(result) -> _ => {}
        recv(time::after(Duration::from_secs(1))) -> _ => {}
    }
}
