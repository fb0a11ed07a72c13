//! `goweave::time` conformance: sleep, after, tick, Timer, Ticker and Instant, on both
//! executors; on the controlled one the clock is virtual and exact.

mod common;

use common::{on_both, on_controlled, on_steal};
use goweave::time::{self, Duration, Instant, Ticker, Timer};
use goweave::{chan, go, select, Checker, FailureKind};

const MS: Duration = Duration::from_millis(1);

/// True when running on the controlled executor (its clock starts at zero).
fn virtual_clock() -> bool {
    goweave::runtime::gomaxprocs() == 1 && time::now().since_epoch() < Duration::from_secs(3600)
}

/// No value arrives on `c` within `d`.
fn quiet_for(c: &chan::Receiver<Instant>, d: Duration) -> bool {
    select! {
        recv(c) -> _ => false,
        recv(time::after(d)) -> _ => true,
    }
}

#[test]
fn sleep_waits_at_least_its_duration() {
    on_steal(|| {
        let t = time::now();
        let w = std::time::Instant::now();
        time::sleep(20 * MS);
        assert!(t.elapsed() >= 20 * MS && w.elapsed() >= 20 * MS);
        time::sleep(Duration::ZERO);
    });
    on_controlled(5, || {
        let t = time::now();
        time::sleep(20 * MS);
        assert_eq!(t.elapsed(), 20 * MS, "virtual time is exact");
    });
}

#[test]
fn a_virtual_hour_passes_instantly() {
    let wall = std::time::Instant::now();
    let stats = Checker::new()
        .iterations(10)
        .run(|| {
            let start = time::now();
            let h = go(|| {
                time::sleep(Duration::from_secs(1800));
                time::now()
            });
            time::sleep(Duration::from_secs(3600));
            let half = h.join();
            assert_eq!(half - start, Duration::from_secs(1800));
            assert_eq!(start.elapsed(), Duration::from_secs(3600));
        })
        .unwrap();
    assert_eq!(stats.schedules, 10);
    assert!(
        wall.elapsed() < Duration::from_secs(1),
        "{:?}",
        wall.elapsed()
    );
}

#[test]
fn sleepers_wake_in_deadline_order() {
    on_both(|| {
        let ch = chan::make::<u32>(3);
        for d in [30u32, 10, 20] {
            let c = ch.clone();
            go(move || {
                time::sleep(d * 3 * MS);
                c.send(d);
            });
        }
        let got: Vec<u32> = (0..3).map(|_| ch.recv().unwrap()).collect();
        assert_eq!(got, [10, 20, 30]);
    });
}

#[test]
fn after_delivers_the_time_once() {
    on_both(|| {
        let start = time::now();
        let c = time::after(10 * MS);
        let t = c.recv().unwrap();
        assert!(t >= start + 10 * MS && t <= time::now());
        if virtual_clock() {
            assert_eq!(t, start + 10 * MS);
        }
        assert!(c.try_recv().is_err(), "after sent twice");
    });
}

#[test]
fn a_timer_stopped_before_it_fires_never_fires() {
    on_both(|| {
        let t = Timer::new(10 * MS);
        assert!(t.stop(), "stop of an active timer");
        assert!(!t.stop(), "second stop");
        assert!(quiet_for(t.c(), 40 * MS), "a stopped timer fired");
    });
}

#[test]
fn timer_fires_then_stop_reports_false() {
    on_both(|| {
        let start = time::now();
        let t = Timer::new(5 * MS);
        let fired = t.c().recv().unwrap();
        assert!(fired >= start + 5 * MS);
        assert!(!t.stop(), "stop after the value was received");
    });
}

#[test]
fn stop_discards_a_value_not_yet_received_go_1_23() {
    on_both(|| {
        let t = Timer::new(5 * MS);
        time::sleep(20 * MS); // it fired; nobody received
        assert!(t.stop(), "the value was not received yet: stop counts");
        assert!(quiet_for(t.c(), 20 * MS), "a stale value after stop");
    });
}

#[test]
fn reset_restarts_a_timer() {
    on_both(|| {
        let start = time::now();
        let t = Timer::new(Duration::from_secs(3600));
        assert!(t.reset(10 * MS), "reset of an active timer");
        let got = select! {
            recv(t.c()) -> v => v.unwrap(),
            recv(time::after(Duration::from_secs(30))) -> _ => panic!("reset timer did not fire"),
        };
        assert!(got >= start + 10 * MS);
        if virtual_clock() {
            assert_eq!(got, start + 10 * MS);
        }
        assert!(!t.reset(10 * MS), "reset after the value was received");
        assert!(t.c().recv().is_some());
    });
}

#[test]
fn dropping_a_timer_stops_it() {
    on_both(|| {
        let t = Timer::new(5 * MS);
        let c = t.c().clone();
        drop(t);
        assert!(quiet_for(&c, 20 * MS), "a dropped timer fired");
    });
}

#[test]
fn ticker_ticks_every_period_and_stops() {
    on_both(|| {
        let start = time::now();
        let tk = Ticker::new(10 * MS);
        let mut last = start;
        for k in 1..=3u32 {
            let t = tk.c().recv().unwrap();
            assert!(t >= start + k * 10 * MS, "tick {k} early: {t:?}");
            assert!(t > last);
            if virtual_clock() {
                assert_eq!(t, start + k * 10 * MS);
            }
            last = t;
        }
        tk.stop();
        assert!(quiet_for(tk.c(), 40 * MS), "a stopped ticker ticked");
        tk.reset(5 * MS);
        let t = tk.c().recv().unwrap();
        assert!(t >= last + 5 * MS);
    });
}

#[test]
fn ticker_drops_ticks_for_a_slow_receiver() {
    on_controlled(3, || {
        let start = time::now();
        let tk = Ticker::new(10 * MS);
        time::sleep(55 * MS);
        // One tick was buffered (at 10 ms); those at 20..50 ms were dropped.
        assert_eq!(tk.c().recv().unwrap(), start + 10 * MS);
        assert_eq!(tk.c().recv().unwrap(), start + 60 * MS);
    });
}

#[test]
fn tick_channel() {
    on_both(|| {
        let start = time::now();
        let c = time::tick(5 * MS);
        let a = c.recv().unwrap();
        let b = c.recv().unwrap();
        assert!(a >= start + 5 * MS && b >= start + 10 * MS && b > a);
        // A zero period gives a channel that never delivers (Go's nil channel).
        let z = time::tick(Duration::ZERO);
        assert!(quiet_for(&z.receiver(), 10 * MS));
    });
}

#[test]
fn ticker_with_zero_period_panics_like_go() {
    on_steal(|| {
        let p = goweave::recover(|| Ticker::new(Duration::ZERO)).unwrap_err();
        assert_eq!(p.message(), "non-positive interval for NewTicker");
    });
}

#[test]
fn instant_arithmetic() {
    on_both(|| {
        let a = time::now();
        let b = a + Duration::from_secs(2);
        assert_eq!(b - a, Duration::from_secs(2));
        assert_eq!(a - b, Duration::ZERO, "saturates");
        assert_eq!(b.duration_since(a), Duration::from_secs(2));
        assert_eq!(a.checked_duration_since(b), None);
        assert_eq!(b - Duration::from_secs(2), a);
        assert!(a < b);
        let mut c = a;
        c += Duration::from_millis(3);
        c -= Duration::from_millis(1);
        assert_eq!(c, a + Duration::from_millis(2));
        assert!(time::until(b) <= Duration::from_secs(2));
        assert_eq!(time::until(a), Duration::ZERO);
        assert!(time::since(a) <= a.elapsed() + Duration::from_secs(1));
    });
}

#[test]
fn sleeping_forever_behind_a_deadlock_is_still_a_deadlock() {
    // Sleepers wake up (virtual time advances), then everything blocks: a deadlock report
    // with Go's wait reasons, found at once.
    let e = Checker::new()
        .iterations(1)
        .run(|| {
            let c = chan::make::<()>(0);
            let c2 = c.clone();
            go(move || {
                time::sleep(Duration::from_secs(10));
                c2.recv();
            });
            time::sleep(Duration::from_secs(5));
            c.recv();
        })
        .unwrap_err();
    assert_eq!(e.kind(), FailureKind::Deadlock, "{e}");
    assert!(e.report().contains("goroutine 1 [chan receive]:"), "{e}");
    assert!(e.report().contains("goroutine 2 [chan receive]:"), "{e}");
}

#[test]
fn an_unattended_ticker_does_not_hide_a_deadlock() {
    // The ticker's buffer fills and nobody receives: it goes dormant instead of advancing
    // virtual time forever, so the deadlock is found (and quickly).
    let wall = std::time::Instant::now();
    let e = Checker::new()
        .iterations(1)
        .run(|| {
            let _tk = Ticker::new(MS);
            let _tick = time::tick(MS);
            chan::make::<()>(0).recv();
        })
        .unwrap_err();
    assert_eq!(e.kind(), FailureKind::Deadlock, "{e}");
    assert!(e.report().contains("goroutine 1 [chan receive]:"), "{e}");
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
}

#[test]
fn a_dormant_ticker_resumes_on_the_next_period_after_a_receive() {
    on_both(|| {
        let start = time::now();
        let tk = Ticker::new(10 * MS);
        time::sleep(35 * MS); // tick at 10 buffered, 20 dropped: dormant
        let first = tk.c().recv().unwrap();
        assert!(first >= start + 10 * MS);
        let t = tk.c().recv().unwrap();
        assert!(t >= start + 40 * MS, "{:?}", t - start);
        if virtual_clock() {
            assert_eq!(first, start + 10 * MS);
            assert_eq!(t, start + 40 * MS);
        }
        // Through select! and try_recv as well.
        time::sleep(25 * MS);
        let v = select! { recv(tk.c()) -> v => v.unwrap() };
        assert!(v >= t + 10 * MS);
        let next = tk.c().recv().unwrap();
        assert!(next > v);
    });
}
