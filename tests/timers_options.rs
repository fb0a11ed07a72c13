//! The timer mode from every side: `Checker::timers`, `GOWEAVE_TIMERS`, `--timers` and
//! `#[conc_test(timers = "...")]`.

use goweave::check::{Layer, Origin};
use goweave::harness::TestConfig;
use goweave::time::{self, Duration};
use goweave::{chan, conc_test, go, select, TimerMode};

#[test]
fn modes_parse_and_print() {
    for m in [
        TimerMode::AnyTime,
        TimerMode::WhenBlocked,
        TimerMode::default(),
        TimerMode::MaxStall(Duration::from_micros(100)),
        TimerMode::MaxStall(Duration::from_millis(1500)),
    ] {
        assert_eq!(m.to_string().parse::<TimerMode>(), Ok(m));
    }
    assert_eq!("when-blocked".parse(), Ok(TimerMode::WhenBlocked));
    assert_eq!("AnyTime".parse(), Ok(TimerMode::AnyTime));
    assert_eq!(
        TimerMode::default(),
        TimerMode::MaxStall(Duration::from_millis(250))
    );
    assert_eq!(TimerMode::default().to_string(), "max_stall:250ms");
    assert_eq!("max_stall".parse(), Ok(TimerMode::default()));
    assert_eq!(
        "max-stall:1m30s".parse(),
        Ok(TimerMode::MaxStall(Duration::from_secs(90)))
    );
    let e = "sometimes".parse::<TimerMode>().unwrap_err();
    assert!(
        e.contains("any_time") && e.contains("when_blocked") && e.contains("max_stall"),
        "{e}"
    );
    let e = "max_stall:soon".parse::<TimerMode>().unwrap_err();
    assert!(e.contains("max_stall bound") && e.contains("500ms"), "{e}");
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
        TimerMode::default()
    );
    let stall = Layer::from_lookup(|k| (k == "GOWEAVE_TIMERS").then(|| "max_stall:20ms".into()));
    assert_eq!(
        TestConfig::resolve(spec, &[&stall]).unwrap().timers,
        TimerMode::MaxStall(Duration::from_millis(20))
    );
    // `max_stall` sets the bound (and the mode) from every side, and wins over `timers` in
    // its own layer; a later layer's `timers` wins over it.
    assert_eq!(
        TestConfig::resolve(&[("max_stall", "100ms")], &[])
            .unwrap()
            .timers,
        TimerMode::MaxStall(Duration::from_millis(100))
    );
    let env = Layer::from_lookup(|k| match k {
        "GOWEAVE_MAX_STALL" => Some("1s".into()),
        "GOWEAVE_TIMERS" => Some("any_time".into()),
        _ => None,
    });
    assert_eq!(
        TestConfig::resolve(spec, &[&env]).unwrap().timers,
        TimerMode::MaxStall(Duration::from_secs(1))
    );
    let flags = Layer::new(Origin::Flag).with("timers", "any_time");
    assert_eq!(
        TestConfig::resolve(&[], &[&env, &flags]).unwrap().timers,
        TimerMode::AnyTime
    );
    let flags = Layer::new(Origin::Flag).with("max_stall", "soon");
    let e = TestConfig::resolve(&[], &[&flags]).unwrap_err();
    assert!(e.to_string().contains("--max-stall=\"soon\""), "{e}");
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

/// A worker's result raced against a timeout; the worker leaks if the timeout wins.
fn race_against(timeout: Duration) {
    let result = chan::make::<u32>(0);
    let r = result.clone();
    go(move || r.send(1));
    select! {
        recv(result) -> _ => {}
        recv(time::after(timeout)) -> _ => {}
    }
}

/// With the default, a short timeout may fire while the worker is still working: a leak.
#[conc_test(expect = "leak", iterations = 1_000)]
fn a_short_timeout_that_wins_leaks_the_worker() {
    race_against(Duration::from_millis(10));
}

/// A one-second timeout is a guard under the default: it fires only once the worker is
/// blocked, which it never is before it sends.
#[conc_test(iterations = 1_000)]
fn a_one_second_guard_never_fires_ahead_of_the_worker() {
    race_against(Duration::from_secs(1));
}

/// With `any_time`, time may keep the worker waiting as long as it takes: the guard fires.
#[conc_test(timers = "any_time", expect = "leak", iterations = 1_000)]
fn any_time_lets_even_a_one_second_timeout_win() {
    race_against(Duration::from_secs(1));
}

/// `max_stall` as an attribute: with a 5 ms bound, the 10 ms timeout that races the worker
/// under the default (above) is a guard.
#[conc_test(max_stall = "5ms", iterations = 1_000)]
fn a_lower_max_stall_makes_a_10ms_timeout_a_guard() {
    race_against(Duration::from_millis(10));
}
