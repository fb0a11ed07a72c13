//! Go conformance of `goweave::time` (and the deadlines of `context`), issue 17 items 2-5, on
//! both executors. Each test states the Go documentation it checks.

mod common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use common::{on_both, on_controlled};
use goweave::cell::RaceCell;
use goweave::chan::{self, Chan};
use goweave::context::{self, ContextError};
use goweave::runtime::{self, num_goroutine};
use goweave::time::{self, Duration, Ticker, Timer};
use goweave::{go, select, Checker, FailureKind, TimerMode};

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);

/// Receive; on the work-stealing executor give up after 30 s, naming what did not arrive. (On
/// the controlled executor a plain receive: a value that never comes is a deadlock report, and
/// a timeout there could fire first, time being free to pass while others can run.)
fn recv_within<T>(c: &Chan<T>, what: &str) -> T {
    if runtime::gomaxprocs() == 1 {
        return c.recv().unwrap_or_else(|| panic!("{what}: channel closed"));
    }
    select! {
        recv(c) -> v => v.unwrap(),
        recv(time::after(Duration::from_secs(30))) -> _ => panic!("{what} did not arrive"),
    }
}

/// Run `f` under 20 schedules of the checker in which time passes only when every goroutine
/// is blocked (`testing/synctest`'s rule), where "pending" deadlines an hour away are pending.
fn on_synctest<F: Fn() + Send + Sync + 'static>(f: F) {
    if let Err(e) = Checker::new()
        .iterations(20)
        .seed(5)
        .timers(TimerMode::WhenBlocked)
        .run(f)
    {
        panic!("controlled run failed:\n{e}");
    }
}

// ------------------------------------------------------------------ item 2: before the epoch

#[test]
fn an_instant_before_the_epoch_is_representable() {
    // Go: `t.Add(d)` works for any duration, negative ones included. At virtual time 0 (the
    // controlled executor's epoch) and in the runtime's first hour, `now() - 1h` is before the
    // clock's epoch.
    on_both(|| {
        let now = time::now();
        let past = now - HOUR;
        assert!(past < now);
        assert_eq!(now - past, HOUR);
        assert_eq!(now.duration_since(past), HOUR);
        assert_eq!(past.checked_duration_since(now), None);
        assert_eq!(now.checked_sub(HOUR), Some(past));
        assert_eq!(past + HOUR, now);
        assert!(past.elapsed() >= HOUR);
        assert_eq!(
            time::until(past),
            Duration::ZERO,
            "Go: Until of a past time is <= 0"
        );
        assert!(time::since(past) >= HOUR);
        let mut t = now;
        t -= HOUR;
        assert_eq!(t, past);
        t += HOUR;
        assert_eq!(t, now);
        // The clock starts at its epoch: an hour before now lies before it.
        assert!(past.before_epoch().is_some());
        assert_eq!(past.since_epoch(), Duration::ZERO);
        assert!(format!("{past:?}").starts_with("Instant(-"), "{past:?}");
    });
}

#[test]
fn a_context_with_a_past_deadline_is_already_done() {
    // Go: "If the parent's deadline is already earlier than d, WithDeadline(parent, d) is
    // semantically equivalent to parent", and a deadline that has passed cancels the context
    // at once with DeadlineExceeded.
    on_both(|| {
        let bg = context::background();
        let (ctx, _cancel) = context::with_deadline(&bg, time::now() - HOUR);
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(ctx.done().recv(), None, "done is closed");
        // A child of it is done as well, whatever its own deadline.
        let (child, _c) = context::with_timeout(&ctx, HOUR);
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
        // Go's `Deadline` reports the past deadline as given.
        assert!(ctx.deadline().unwrap() < time::now());
    });
}

// ------------------------------------------------------------------ item 3: Duration::MAX

#[test]
fn duration_max_saturates_to_never() {
    // Go: a timer or timeout too far in the future is clamped to the end of time; nothing
    // overflows and it simply does not fire.
    on_both(|| {
        let now = time::now();
        let never = now + Duration::MAX;
        assert!(never > now);
        assert_eq!(never + Duration::MAX, never, "saturates");
        assert!(never.checked_add(Duration::MAX).is_none());
        assert_eq!(never.checked_add(Duration::ZERO), Some(never));
        assert!(time::until(never) > HOUR);

        let (ctx, cancel) = context::with_timeout(&context::background(), Duration::MAX);
        assert!(ctx.deadline().is_some());
        assert_eq!(ctx.err(), None);
        let timed_out = select! {
            recv(ctx.done()) => false,
            recv(time::after(MS)) => true,
        };
        assert!(
            timed_out,
            "a Duration::MAX timeout does not fire within 1 ms"
        );
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));

        let t = Timer::new(Duration::MAX);
        assert!(t.reset(Duration::MAX), "still pending");
        assert!(t.stop(), "stopped before firing");
        let tk = Ticker::new(Duration::MAX);
        tk.reset(Duration::MAX);
        tk.stop();
        let a = time::after(Duration::MAX);
        assert!(a.try_recv().is_err());
        let d = context::with_deadline(&context::background(), never).0;
        assert_eq!(d.err(), None);
    });
}

#[test]
fn checker_main_sleeping_duration_max_is_blocked_for_ever() {
    // "Never" fires never: the virtual clock does not jump to the end of time, so main
    // sleeping Duration::MAX with nothing else to run is a deadlock, reported as Go reports
    // one (before the fix the checker thread died on an overflow).
    let f = Checker::new()
        .iterations(5)
        .run(|| {
            time::sleep(Duration::MAX);
            unreachable!("woke from a Duration::MAX sleep");
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    assert!(f.to_string().contains("[sleep]"), "{f}");
}

#[test]
fn checker_main_returning_near_the_end_of_the_clock_passes() {
    // A deadline just short of the end of the clock does fire; main returns there, and the
    // teardown's quiescence window must saturate instead of overflowing (the checker thread
    // died on `now + QUIESCE_WINDOW`).
    let stats = Checker::new()
        .iterations(5)
        .run(|| {
            let start = time::now();
            time::sleep(Duration::MAX - Duration::from_nanos(1));
            assert!(time::now() - start >= Duration::MAX - Duration::from_nanos(1));
            go(runtime::gosched);
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.schedules, 5);
}

#[test]
fn runtime_main_sleeping_duration_max_is_a_deadlock() {
    // On the runtime too, a sleep that never ends cannot keep the deadlock check quiet.
    let p = std::panic::catch_unwind(|| common::on_steal(|| time::sleep(Duration::MAX)))
        .expect_err("the runtime reports the deadlock");
    let msg = common::panic_message(p);
    assert!(
        msg.contains("all goroutines are asleep - deadlock!"),
        "{msg}"
    );
}

#[test]
fn runtime_goroutine_sleeping_duration_max_is_torn_down_with_main() {
    // Go's exit semantics: when main returns, a goroutine asleep "for ever" is dropped.
    common::on_steal(|| {
        let asleep = chan::make::<()>(0);
        let a = asleep.clone();
        go(move || {
            a.send(());
            time::sleep(Duration::MAX);
            unreachable!("woke from a Duration::MAX sleep");
        });
        asleep.recv();
    });
}

// ------------------------------------------------------------------ item 4: tick(0) is nil

#[test]
fn tick_of_zero_is_go_nil_channel() {
    // Go: "Tick ... if d <= 0, Tick will return nil." A nil channel's receive case in a select
    // is never ready.
    on_both(|| {
        assert!(time::tick(Duration::ZERO).is_none());
        let took_default = select! {
            recv(time::tick(Duration::ZERO)) => false,
            default => true,
        };
        assert!(took_default);
        // A positive period ticks.
        let t = time::tick(MS).expect("a positive period gives a channel");
        assert!(recv_within(&t, "a tick") > time::now() - HOUR);
    });
}

#[test]
fn a_select_on_tick_zero_alone_blocks_like_a_nil_channel() {
    // Go: a receive from a nil channel blocks forever; with nothing else to run that is
    // "all goroutines are asleep - deadlock!" with wait reason `chan receive (nil chan)`.
    let f = Checker::new()
        .iterations(1)
        .run(|| {
            select! { recv(time::tick(Duration::ZERO)) => {} }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    assert!(f.to_string().contains("chan receive (nil chan)"), "{f}");
}

// ------------------------------------------------------------------ item 5: AfterFunc

#[test]
fn after_func_runs_f_in_its_own_goroutine_only_once_the_timer_fires() {
    // Go: "AfterFunc waits for the duration to elapse and then calls f in its own goroutine."
    on_both(|| {
        let before = num_goroutine();
        let ran = chan::make::<u64>(1);
        let r = ran.clone();
        let t = time::after_func(5 * MS, move || r.send(runtime::id()));
        assert_eq!(
            num_goroutine(),
            before,
            "no goroutine exists before the timer fires"
        );
        let g = recv_within(&ran, "f's goroutine id");
        assert_ne!(g, runtime::id(), "f runs in a goroutine of its own");
        assert!(!t.stop(), "Stop after the timer fired returns false");
        // The timer's channel is not used (Go's C is nil for an AfterFunc timer).
        assert!(t.c().try_recv().is_err());
    });
}

#[test]
fn after_func_stop_before_firing_cancels_the_call() {
    // Go: "Stop ... returns true if the call stops the timer, false if the timer has already
    // expired or been stopped." For an AfterFunc timer, false means f has been started.
    let body = || {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let t = time::after_func(HOUR, move || {
            c.fetch_add(1, SeqCst);
        });
        let stopped = t.stop();
        assert!(!t.stop(), "stopped or fired: a second Stop returns false");
        // Past the deadline (virtual time on the controlled executor), and let f's goroutine,
        // if any, run.
        time::sleep(2 * HOUR);
        assert_eq!(
            calls.load(SeqCst),
            u32::from(!stopped),
            "f runs exactly when Stop did not stop it"
        );
    };
    // On the runtime (and the checker's synctest mode) the hour has not passed at the Stop.
    common::on_steal(|| {
        let t = time::after_func(HOUR, || unreachable!("stopped"));
        assert!(t.stop());
    });
    on_synctest(body);
    // With time free to pass at any scheduling point, the checker also explores the timer
    // firing just before the Stop.
    on_controlled(30, body);
}

#[test]
fn after_func_reset_moves_a_pending_call_or_schedules_another() {
    // Go: "For a func-based timer created with AfterFunc(d, f), Reset either reschedules when
    // f will run, in which case Reset returns true, or schedules f to run again, in which case
    // it returns false."
    let body = || {
        let ran = chan::make::<u32>(4);
        let n = Arc::new(AtomicU32::new(0));
        let (r, n2) = (ran.clone(), n.clone());
        let t = time::after_func(HOUR, move || r.send(n2.fetch_add(1, SeqCst) + 1));
        assert!(t.reset(MS), "pending: rescheduled");
        assert_eq!(recv_within(&ran, "the first call"), 1);
        assert!(!t.reset(MS), "fired: scheduled again");
        assert_eq!(recv_within(&ran, "the second call"), 2);
        assert!(!t.stop());
        time::sleep(5 * MS);
        assert_eq!(n.load(SeqCst), 2, "f ran exactly twice");
    };
    common::on_steal(body);
    on_synctest(body);
}

#[test]
fn after_func_is_not_cancelled_by_dropping_its_timer() {
    // Go code calls `time.AfterFunc(d, f)` for its effect and drops the Timer.
    on_both(|| {
        let ran = chan::make::<()>(1);
        let r = ran.clone();
        drop(time::after_func(MS, move || r.send(())));
        recv_within(&ran, "the call of a dropped AfterFunc timer");
    });
}

#[test]
fn after_func_call_happens_after_the_arming() {
    // What the goroutine did before AfterFunc happens before f runs (Go's race detector sees
    // the timer as a synchronisation); f's own writes need a synchronisation to be read.
    // (On the runtime the detector runs with `--features race`.)
    common::on_steal(|| {
        let x = Arc::new(RaceCell::named("x", 0u32));
        x.set(1);
        let (x2, done) = (x.clone(), chan::make::<()>(1));
        let d = done.clone();
        time::after_func(MS, move || {
            assert_eq!(x2.get(), 1);
            x2.set(2);
            d.send(());
        });
        done.recv();
        assert_eq!(x.get(), 2);
    });
    on_controlled(50, || {
        let x = Arc::new(RaceCell::named("x", 0u32));
        x.set(1);
        let (x2, done) = (x.clone(), chan::make::<()>(1));
        let d = done.clone();
        time::after_func(MS, move || {
            assert_eq!(x2.get(), 1);
            x2.set(2);
            d.send(());
        });
        done.recv();
        assert_eq!(x.get(), 2);
    });
    // Without the receive, main's read races with f's write.
    let f = Checker::new()
        .iterations(200)
        .run(|| {
            let x = Arc::new(RaceCell::named("x", 0u32));
            let x2 = x.clone();
            time::after_func(MS, move || x2.set(2));
            time::sleep(2 * MS);
            x.get();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Race, "{f}");
}

#[test]
fn a_panic_in_after_func_is_reported_with_its_creation_site() {
    // An unrecovered panic in f ends the program, as any goroutine's does.
    let f = Checker::new()
        .iterations(1)
        .run(|| {
            time::after_func(MS, || panic!("boom in AfterFunc"));
            time::sleep(HOUR);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    let report = f.to_string();
    assert!(report.contains("boom in AfterFunc"), "{report}");
    assert!(report.contains("go_conformance_time.rs"), "{report}");
}

#[test]
fn checker_budgets_of_duration_max_mean_unbounded() {
    // The checker's own durations saturate too: a failing schedule is shrunk and reported
    // (the shrinker's `start + budget` overflowed and killed the checker thread).
    let f = Checker::new()
        .iterations(50)
        .time_budget(Duration::MAX)
        .shrink_budget(Duration::MAX)
        .run(|| {
            let c = chan::make::<u8>(1);
            let c2 = c.clone();
            go(move || c2.send(1));
            assert!(c.try_recv().is_err(), "the goroutine sent first");
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
}

/// With the race detector on the runtime: f's write and main's read with no synchronisation
/// between them are reported (so the clean run above is checked, not merely unwatched).
#[cfg(feature = "race")]
#[test]
fn runtime_race_detector_sees_an_unsynchronised_after_func_write() {
    let p = std::panic::catch_unwind(|| {
        common::on_steal(|| {
            let x = Arc::new(RaceCell::named("x", 0u32));
            let (x2, ran) = (x.clone(), Arc::new(AtomicU32::new(0)));
            let r2 = ran.clone();
            time::after_func(MS, move || {
                x2.set(2);
                r2.store(1, SeqCst);
            });
            // A std atomic is no synchronisation goweave sees.
            while ran.load(SeqCst) == 0 {
                time::sleep(MS);
            }
            x.get();
        })
    })
    .expect_err("the race is reported");
    let msg = common::panic_message(p);
    assert!(msg.contains("WARNING: DATA RACE"), "{msg}");
}
