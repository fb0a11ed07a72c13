//! Recording on the work-stealing runtime, and the replay token made from a recorded failure
//! (issue 21): each bug is written once, run for real with recording, and the token the
//! followed run produces must replay the same failure at the same place, every time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goweave::sync::{Mutex, WaitGroup};
use goweave::{
    chan, go, record, select, time, Checker, Failure, FailureKind, Runtime, Schedule, StrategyKind,
};

/// About `us` microseconds of work without a goweave operation: on the real runtime, the
/// window in which another worker's goroutine can slip in.
fn work(us: u64) {
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// The token replays `f`'s failure 100 times out of 100: same kind, same report.
fn replays_100<F: Fn() + Send + Sync + Clone + 'static>(found: &Failure, f: F) {
    let token = found
        .token()
        .expect("a recorded failure has a replay token");
    let schedule: Schedule = token.parse().expect("a readable token");
    let mut first: Option<Failure> = None;
    for i in 0..100 {
        let again = goweave::replay(&schedule, f.clone()).unwrap_err();
        assert_eq!(again.kind(), found.kind(), "replay {i}: {again}");
        match &first {
            None => first = Some(again),
            Some(first) => {
                assert_eq!(
                    again.report(),
                    first.report(),
                    "replay {i} reported differently"
                )
            }
        }
    }
}

/// Check-then-act across two critical sections: both withdrawals pass the check, and the
/// balance goes negative. `forced` orders the two goroutines so that the bug happens on every
/// real run (a channel hand-off between the check and the act).
fn overdraw(forced: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let balance = Arc::new(Mutex::new(100i64));
        let (checked, acted) = (chan::make::<()>(1), chan::make::<()>(1));
        let wg = WaitGroup::new();
        for who in 0..2 {
            let (balance, checked, acted) = (balance.clone(), checked.clone(), acted.clone());
            wg.go(move || {
                let ok = *balance.lock() >= 80; // check
                work(20);
                if forced && who == 0 {
                    checked.send(());
                    acted.recv();
                }
                if forced && who == 1 {
                    checked.recv();
                }
                if ok {
                    *balance.lock() -= 80; // act
                }
                if forced && who == 1 {
                    acted.send(());
                }
            });
        }
        wg.wait();
        let b = *balance.lock();
        assert!(b >= 0, "overdrawn: balance {b}");
    }
}

#[test]
fn a_forced_lost_update_becomes_a_token_that_replays_100_of_100() {
    let found = record::run(&rt(), overdraw(true)).unwrap_err();
    assert_eq!(found.kind(), FailureKind::Panic, "{found}");
    assert!(found.report().contains("overdrawn: balance -60"), "{found}");
    assert!(found.report().contains("record_replay.rs"), "{found}");
    assert!(
        found
            .to_string()
            .contains("recorded on the work-stealing runtime"),
        "{found}"
    );
    replays_100(&found, overdraw(true));
}

/// Two goroutines take two locks in opposite orders. `forced`: each holds its first lock
/// until the other has taken its own.
fn lock_order(forced: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (ready1, ready2) = (chan::make::<()>(1), chan::make::<()>(1));
        let (a2, b2, r1, r2) = (a.clone(), b.clone(), ready1.clone(), ready2.clone());
        let h = go(move || {
            let _x = a2.lock();
            work(20);
            if forced {
                r1.send(());
                r2.recv();
            }
            *b2.lock() += 1;
        });
        {
            let _y = b.lock();
            work(20);
            if forced {
                ready1.recv();
                ready2.send(());
            }
            *a.lock() += 1;
        }
        h.join();
    }
}

#[test]
fn a_forced_lock_order_deadlock_becomes_a_token_that_replays_100_of_100() {
    let found = record::run(&rt(), lock_order(true)).unwrap_err();
    assert_eq!(found.kind(), FailureKind::Deadlock, "{found}");
    assert!(found.report().contains("sync.Mutex.Lock"), "{found}");
    replays_100(&found, lock_order(true));
}

/// A request with a timeout: the worker's reply goes to an unbuffered channel nobody reads
/// once the timeout won, so the worker leaks. `forced`: the work takes far longer than the
/// timeout.
fn timeout_leak(work: Duration) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let reply = chan::make::<u32>(0);
        let tx = reply.clone();
        go(move || {
            time::sleep(work);
            tx.send(42);
        });
        select! {
            recv(reply) -> _ => {},
            recv(time::after(Duration::from_millis(1))) -> _ => {},
        }
        // Time for the worker to finish its work and block on the reply.
        time::sleep(work + Duration::from_millis(20));
        goweave::leak::verify_none(
            goweave::leak::Options::new().retry_window(Duration::from_millis(300)),
        );
    }
}

#[test]
fn a_forced_timeout_leak_becomes_a_token_that_replays_100_of_100() {
    let found = record::run(&rt(), timeout_leak(Duration::from_millis(30))).unwrap_err();
    // A leak, as `verify_none` found it on the real runtime, not the panic that ends the test.
    assert_eq!(found.kind(), FailureKind::Leak, "{found}");
    assert!(
        found.report().contains("found unexpected goroutines"),
        "{found}"
    );
    assert!(found.report().contains("[chan send]"), "{found}");
    assert!(found.report().contains("record_replay.rs"), "{found}");
    replays_100(&found, timeout_leak(Duration::from_millis(30)));
}

thread_local! {
    /// Whether this thread is a worker of the work-stealing runtime: state goweave does not
    /// see, and which differs between the real run and the checker's.
    static ON_WORKER: bool = std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("goweave-worker"));
}

#[test]
fn a_program_that_depends_on_a_thread_local_replays_as_nondeterminism_with_the_step() {
    let found = record::run(&rt(), || {
        let m = Arc::new(Mutex::new(0));
        let ch = chan::make::<u32>(1);
        let m2 = m.clone();
        let h = go(move || *m2.lock() += 1);
        if ON_WORKER.with(|w| *w) {
            *m.lock() += 1;
        } else {
            ch.send(1);
        }
        h.join();
        panic!("failed on the real runtime");
    })
    .unwrap_err();
    assert_eq!(found.kind(), FailureKind::Nondeterminism, "{found}");
    assert!(found.report().contains("step"), "{found}");
    assert!(found.report().contains("chan send"), "{found}");
}

#[test]
fn a_passing_run_is_recorded_and_passes() {
    let stats = record::stress(&rt(), 20, None, || {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        go(move || *m2.lock() += 1).join();
        assert_eq!(*m.lock(), 1);
    })
    .unwrap();
    assert_eq!(stats.runs, 20);
    // go, join, lock, unlock (main) and lock, unlock (the goroutine).
    assert_eq!(stats.operations, 6, "{stats:?}");
    let ok = record::run(&rt(), || {
        let ch = chan::make::<u32>(0);
        let tx = ch.clone();
        go(move || tx.send(7));
        assert_eq!(ch.recv(), Some(7));
    })
    .unwrap();
    assert!(ok.operations >= 3, "{ok:?}");
}

#[test]
fn the_recorded_and_the_checkers_deadlock_shrink_to_the_same_preemptions() {
    let recorded = record::stress(&rt(), 2_000, None, lock_order(false)).unwrap_err();
    let explored = Checker::new()
        .strategy(StrategyKind::Random)
        .iterations(10_000)
        .seed(1)
        .run(lock_order(false))
        .unwrap_err();
    assert_eq!(recorded.kind(), FailureKind::Deadlock);
    assert_eq!(explored.kind(), FailureKind::Deadlock);
    assert!(recorded.minimal() && explored.minimal());
    assert_eq!(recorded.preemptions(), explored.preemptions());
}

#[test]
fn the_recorded_token_and_the_checkers_token_shrink_to_the_same_preemptions() {
    let recorded = record::stress(&rt(), 2_000, None, overdraw(false)).unwrap_err();
    let explored = Checker::new()
        .strategy(StrategyKind::Random)
        .iterations(10_000)
        .seed(1)
        .run(overdraw(false))
        .unwrap_err();
    assert!(recorded.minimal() && explored.minimal());
    assert_eq!(recorded.kind(), explored.kind());
    assert_eq!(
        recorded.preemptions(),
        explored.preemptions(),
        "recorded:\n{recorded}\nexplored:\n{explored}"
    );
}

#[test]
fn the_recorded_and_the_checkers_leak_shrink_to_the_same_preemptions() {
    let leak = || timeout_leak(Duration::from_millis(1));
    let recorded = record::stress(&rt(), 200, None, leak()).unwrap_err();
    let explored = Checker::new()
        .strategy(StrategyKind::Random)
        .iterations(10_000)
        .seed(1)
        .timers(goweave::TimerMode::AnyTime)
        .run(leak())
        .unwrap_err();
    assert_eq!(recorded.kind(), FailureKind::Leak, "{recorded}");
    assert_eq!(explored.kind(), FailureKind::Leak, "{explored}");
    assert!(recorded.minimal() && explored.minimal());
    assert_eq!(
        recorded.preemptions(),
        explored.preemptions(),
        "recorded:\n{recorded}\nexplored:\n{explored}"
    );
}

/// A check-then-act where one withdrawal is made by the goroutine a timer starts
/// (`time::after_func`) and the other by a goroutine on the other worker. On the real runtime
/// the timer's goroutine checks and then works for 3 ms, and the other one waits until that
/// check before it checks and acts (both through means goweave does not see, used only on the
/// real runtime's workers): the only order that overdraws. The replay must follow the timer's
/// goroutine through that order; left to run freely it would check after the other acted, and
/// not withdraw.
fn overdraw_by_a_timer() -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let balance = Arc::new(Mutex::new(100i64));
        let checked = Arc::new(AtomicBool::new(false));
        let done = chan::make::<()>(2);
        let (b1, c1, d1) = (balance.clone(), checked.clone(), done.clone());
        go(move || {
            if ON_WORKER.with(|w| *w) {
                let t = std::time::Instant::now();
                while !c1.load(Ordering::SeqCst) && t.elapsed() < Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
            }
            let ok = *b1.lock() >= 80; // check
            if ok {
                *b1.lock() -= 80; // act
            }
            d1.send(());
        });
        let (b2, c2, d2) = (balance.clone(), checked.clone(), done.clone());
        time::after_func(Duration::from_micros(1), move || {
            let ok = *b2.lock() >= 80; // check
            c2.store(true, Ordering::SeqCst);
            if ON_WORKER.with(|w| *w) {
                work(3_000);
            }
            if ok {
                *b2.lock() -= 80; // act
            }
            d2.send(());
        });
        done.recv();
        done.recv();
        let b = *balance.lock();
        assert!(b >= 0, "overdrawn: balance {b}");
    }
}

#[test]
fn a_goroutine_started_by_a_timer_is_followed() {
    let found = record::stress(&rt(), 200, None, overdraw_by_a_timer())
        .expect_err("the timer's goroutine never checked first in 200 real runs");
    assert_eq!(found.kind(), FailureKind::Panic, "{found}");
    assert!(found.report().contains("overdrawn: balance -60"), "{found}");
    replays_100(&found, overdraw_by_a_timer());
}

/// A timer stopped after it fired: `stop` returns false on the real run. The firing and the
/// stop are both numbered by the timer, so the replay fires it first too.
fn late_stop() -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let t = time::after_func(Duration::from_micros(10), || {});
        time::sleep(Duration::from_millis(2));
        assert!(t.stop(), "the timer fired before stop");
    }
}

#[test]
fn a_timer_stopped_after_it_fired_replays_in_that_order() {
    let found = record::run(&rt(), late_stop()).unwrap_err();
    assert_eq!(found.kind(), FailureKind::Panic, "{found}");
    assert!(
        found.report().contains("the timer fired before stop"),
        "{found}"
    );
    replays_100(&found, late_stop());
}

/// A task's `select_async!` over two channels that two goroutines fill: which case it takes
/// is the recorded order's (its channels number it), and the failure names it.
fn task_select() -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let (a, b) = (chan::make::<u32>(0), chan::make::<u32>(0));
        let (a2, b2) = (a.clone(), b.clone());
        go(move || a2.send(1));
        go(move || b2.send(2));
        let t = goweave::task::spawn(async move {
            let first = goweave::select_async! {
                recv(a) -> v => v,
                recv(b) -> v => v,
            };
            let second = goweave::select_async! {
                recv(a) -> v => v,
                recv(b) -> v => v,
            };
            (first, second)
        });
        let got = t.join();
        panic!("took {got:?}");
    }
}

#[test]
fn a_tasks_select_async_is_recorded_and_replays() {
    let found = record::run(&rt(), task_select()).unwrap_err();
    assert_eq!(found.kind(), FailureKind::Panic, "{found}");
    let took = |r: &str| r.lines().find(|l| l.contains("took (")).map(str::to_string);
    assert!(took(found.report()).is_some(), "{found}");
    let token: Schedule = found.token().expect("a token").parse().unwrap();
    let again = goweave::replay(&token, task_select()).unwrap_err();
    assert_eq!(took(again.report()), took(found.report()), "{again}");
    replays_100(&found, task_select());
}

/// Stop flag unused here; the harness passes one per campaign.
#[allow(dead_code)]
static STOP: AtomicBool = AtomicBool::new(false);

#[test]
fn stress_finds_the_unforced_lost_update() {
    let found = record::stress(&rt(), 2_000, None, overdraw(false));
    let found = found.expect_err("2,000 real runs never overdrew");
    assert_eq!(found.kind(), FailureKind::Panic, "{found}");
    assert!(found.report().contains("overdrawn"), "{found}");
    replays_100(&found, overdraw(false));
}

#[test]
fn stress_finds_the_timeout_leak() {
    let found = record::stress(&rt(), 200, None, timeout_leak(Duration::from_millis(1)));
    let found = found.expect_err("200 real runs never leaked");
    assert_eq!(found.kind(), FailureKind::Leak, "{found}");
    assert!(found.report().contains("[chan send]"), "{found}");
    replays_100(&found, timeout_leak(Duration::from_millis(1)));
}

#[test]
fn stress_finds_the_unforced_lock_order_deadlock() {
    let found = record::stress(&rt(), 2_000, Some(&STOP), lock_order(false));
    let found = found.expect_err("2,000 real runs never deadlocked");
    assert_eq!(found.kind(), FailureKind::Deadlock, "{found}");
    let _ = STOP.load(Ordering::Relaxed);
    replays_100(&found, lock_order(false));
}

/// The attribute's spelling: 2,000 recorded runs, and the overdraw must be found.
#[goweave::conc_test(stress = 2000, expect = "panic")]
fn the_attribute_runs_the_overdraw_under_stress() {
    overdraw(false)()
}

#[test]
fn a_run_that_outgrows_its_log_says_which_limit_to_raise() {
    let rt = Runtime::builder()
        .workers(2)
        .record_limit(5)
        .build()
        .unwrap();
    let found = record::run(&rt, || {
        let m = Mutex::new(0);
        for _ in 0..10 {
            *m.lock() += 1;
        }
        panic!("boom");
    })
    .unwrap_err();
    assert!(found.token().is_none());
    let text = found.to_string();
    assert!(text.contains("boom"), "{text}");
    assert!(
        text.contains("more than 5 recorded operations") && text.contains("GOWEAVE_RECORD_LIMIT"),
        "{text}"
    );
}

#[test]
fn a_plain_block_on_with_recording_runs_as_without() {
    let rt = Runtime::builder().workers(2).record(true).build().unwrap();
    let v = rt.block_on(|| {
        let ch = chan::make::<u32>(1);
        ch.send(3);
        select! { recv(ch) -> v => v.unwrap() * 2 }
    });
    assert_eq!(v, 6);
    assert!(Runtime::builder().record_limit(0).build().is_err());
}

/// With the `race` feature the real runtime reports the race; the followed run finds it too.
#[cfg(feature = "race")]
#[test]
fn a_race_on_the_real_runtime_becomes_a_token() {
    let body = || {
        let c = Arc::new(goweave::cell::RaceCell::named("c", 0));
        let c2 = c.clone();
        let h = go(move || c2.set(1));
        c.set(2);
        h.join();
    };
    let found = record::stress(&rt(), 200, None, body).unwrap_err();
    assert_eq!(found.kind(), FailureKind::Race, "{found}");
    replays_100(&found, body);
}
