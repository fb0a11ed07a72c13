//! `goweave::time` conformance: sleep, after, tick, Timer, Ticker and Instant, on both
//! executors.
//!
//! On the controlled executor the clock is virtual: it jumps exactly to the earliest pending
//! deadline, so a timer's value is exactly its deadline. Whether it may also jump while some
//! goroutine could still run (`TimerMode::AnyTime`) or only when all are blocked
//! (`WhenBlocked`, Go's synctest) is the checker's choice; every assertion here holds under
//! both. Deadlines are bounded by clock readings around the arming (see `armed`).

mod common;

use common::{on_both, on_controlled, on_steal};
use goweave::time::{self, Duration, Instant, Ticker, Timer};
use goweave::{chan, go, select, Checker, FailureKind};

const MS: Duration = Duration::from_millis(1);

/// True on the controlled executor (the tests run the work-stealing one with 2 workers).
fn controlled() -> bool {
    goweave::runtime::gomaxprocs() == 1
}

/// No value arrives on `c` within `d`.
fn quiet_for(c: &chan::Receiver<Instant>, d: Duration) -> bool {
    select! {
        recv(c) -> _ => false,
        recv(time::after(d)) -> _ => true,
    }
}

/// Receive from a timer channel; on the work-stealing executor give up after 30 s (a real
/// clock), on the controlled one a timer that never fires is a deadlock report anyway.
fn recv_timer(c: &chan::Receiver<Instant>) -> Instant {
    if controlled() {
        return c.recv().unwrap();
    }
    select! {
        recv(c) -> v => v.unwrap(),
        recv(time::after(Duration::from_secs(30))) -> _ => panic!("the timer did not fire"),
    }
}

/// Arm a timer with `f`; returns it with two clock readings: `lo`, taken before (a lower bound
/// for its arming time on both executors) and `at`, taken right after (exactly its arming time
/// on the controlled executor, where no time passes without a scheduling point).
fn armed<T>(f: impl FnOnce() -> T) -> (T, Instant, Instant) {
    let lo = time::now();
    let v = f();
    (v, lo, time::now())
}

/// On the controlled executor, `t` is `base` plus a whole number of `period`s.
fn on_the_grid(t: Instant, base: Instant, period: Duration) -> bool {
    !controlled() || (t - base).as_nanos() % period.as_nanos() == 0
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
        // The only timer: the clock goes exactly to its deadline.
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
                let t = time::now();
                time::sleep(Duration::from_secs(1800));
                t.elapsed()
            });
            time::sleep(Duration::from_secs(3600));
            assert!(start.elapsed() >= Duration::from_secs(3600));
            assert!(h.join() >= Duration::from_secs(1800));
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
fn timers_fire_at_their_deadlines_in_deadline_order() {
    on_both(|| {
        let timers: Vec<(Instant, Instant, Timer)> = [30u32, 10, 20]
            .into_iter()
            .map(|d| {
                let (t, lo, at) = armed(|| Timer::new(d * MS));
                (lo + d * MS, at + d * MS, t)
            })
            .collect();
        let mut fired: Vec<(Instant, Instant)> = timers
            .iter()
            .map(|(lo, deadline, t)| {
                let at = recv_timer(t.c());
                assert!(at >= *lo);
                if controlled() {
                    assert_eq!(
                        at, *deadline,
                        "a virtual timer fires exactly at its deadline"
                    );
                }
                (at, *deadline)
            })
            .collect();
        // Sorted by firing time, the deadlines are sorted too (exact on the virtual clock).
        fired.sort();
        if controlled() {
            assert!(fired.windows(2).all(|w| w[0].1 <= w[1].1), "{fired:?}");
        }
    });
}

#[test]
fn concurrent_sleepers_each_sleep_their_duration() {
    on_both(|| {
        let hs: Vec<_> = [30u32, 10, 20]
            .into_iter()
            .map(|d| {
                go(move || {
                    let t = time::now();
                    time::sleep(d * MS);
                    t.elapsed() >= d * MS
                })
            })
            .collect();
        for h in hs {
            assert!(h.join());
        }
    });
}

#[test]
fn after_delivers_the_time_once() {
    on_both(|| {
        let (c, lo, at) = armed(|| time::after(10 * MS));
        let t = c.recv().unwrap();
        assert!(t >= lo + 10 * MS && t <= time::now());
        if controlled() {
            assert_eq!(t, at + 10 * MS);
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
        let (t, lo, _) = armed(|| Timer::new(5 * MS));
        assert!(recv_timer(t.c()) >= lo + 5 * MS);
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
        let t = Timer::new(Duration::from_secs(3600));
        let (active, lo, at) = armed(|| t.reset(10 * MS));
        assert!(active, "reset of an active timer");
        let got = recv_timer(t.c());
        assert!(got >= lo + 10 * MS);
        if controlled() {
            assert_eq!(got, at + 10 * MS);
        }
        assert!(!t.reset(10 * MS), "reset after the value was received");
        assert!(recv_timer(t.c()) >= got + 10 * MS);
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
        let (tk, lo, base) = armed(|| Ticker::new(10 * MS));
        let mut last = lo;
        for k in 1..=3u32 {
            let t = recv_timer(tk.c());
            assert!(t >= lo + k * 10 * MS, "tick {k} early: {:?}", t - lo);
            assert!(t > last);
            assert!(
                on_the_grid(t, base, 10 * MS),
                "tick off the grid: {:?}",
                t - base
            );
            last = t;
        }
        tk.stop();
        assert!(quiet_for(tk.c(), 40 * MS), "a stopped ticker ticked");
        tk.reset(5 * MS);
        let t = recv_timer(tk.c());
        assert!(t >= last + 5 * MS);
    });
}

#[test]
fn dropping_a_ticker_stops_it_even_when_dormant() {
    on_both(|| {
        let tk = Ticker::new(5 * MS);
        let c = tk.c().clone();
        time::sleep(20 * MS); // one tick buffered, later ones dropped: dormant
        drop(tk);
        assert!(c.recv().is_some(), "the buffered tick");
        assert!(quiet_for(&c, 30 * MS), "a dropped ticker ticked");
    });
}

#[test]
fn ticker_drops_ticks_for_a_slow_receiver() {
    on_controlled(3, || {
        let (tk, _, base) = armed(|| Ticker::new(10 * MS));
        time::sleep(55 * MS);
        // One tick was buffered (the first, at exactly 10 ms); later ones were dropped while
        // nobody received, and the next comes on the ticker's grid after the receive.
        let first = tk.c().recv().unwrap();
        assert_eq!(first, base + 10 * MS);
        let next = tk.c().recv().unwrap();
        assert!(next >= base + 60 * MS, "{:?}", next - base);
        assert!(on_the_grid(next, base, 10 * MS), "{:?}", next - base);
    });
}

#[test]
fn tick_channel() {
    on_both(|| {
        let (c, lo, base) = armed(|| time::tick(5 * MS).unwrap());
        let a = c.recv().unwrap();
        let b = c.recv().unwrap();
        assert!(
            a >= lo + 5 * MS && b >= lo + 10 * MS && b > a,
            "{a:?} {b:?}"
        );
        assert!(on_the_grid(a, base, 5 * MS) && on_the_grid(b, base, 5 * MS));
        // A zero period gives Go's nil channel: None.
        assert!(time::tick(Duration::ZERO).is_none());
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
    // with Go's wait reasons.
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
            let _tick = time::tick(MS).unwrap();
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
fn a_dormant_ticker_resumes_on_the_grid_after_a_receive() {
    on_both(|| {
        let (tk, lo, base) = armed(|| Ticker::new(10 * MS));
        time::sleep(35 * MS); // the first tick is buffered, the next dropped: dormant
        let first = recv_timer(tk.c());
        assert!(first >= lo + 10 * MS);
        let t = recv_timer(tk.c());
        assert!(t >= lo + 40 * MS, "{:?}", t - lo);
        assert!(on_the_grid(t, base, 10 * MS), "{:?}", t - base);
        if controlled() {
            assert_eq!(first, base + 10 * MS);
        }
        // Through select! as well.
        time::sleep(25 * MS);
        let v = select! { recv(tk.c()) -> v => v.unwrap() };
        assert!(v > t);
        let next = recv_timer(tk.c());
        assert!(next > v && on_the_grid(next, base, 10 * MS));
    });
}
