//! Progress through busy loops: a goroutine that polls without blocking (a failed `try_recv`
//! or `try_send`, a `select!` that takes `default`, a failed compare-exchange, a repeated
//! atomic load) gives way, so Pct and Random never mistake a correct polling loop for a
//! livelock, while a program that spins forever is still reported as one, naming the
//! goroutines that spin.

use std::time::Instant;

use goweave::chan::TryRecvError;
use goweave::sync::atomic::{AtomicBool, Ordering};
use goweave::time::{self, Duration};
use goweave::{chan, go, select, Checker, FailureKind, StrategyKind};
use std::sync::Arc;

/// Every polling program below, by name.
fn polling_programs() -> Vec<(&'static str, fn())> {
    vec![
        ("try_recv", poll_try_recv),
        ("select_default", poll_select_default),
        ("try_send", poll_try_send),
        ("atomic_load", spin_on_load),
        ("compare_exchange", spin_lock),
        ("try_recv_for_a_sleeper", poll_for_a_sleeper),
    ]
}

/// The acceptance program: poll `try_recv` in a loop (no `gosched`) until a producer, which
/// works a little first, sends.
fn poll_try_recv() {
    let ch = chan::make::<u32>(1);
    let c = ch.clone();
    go(move || {
        let w = AtomicBool::new(false);
        w.store(true, Ordering::Relaxed);
        w.store(false, Ordering::Relaxed);
        c.send(7);
    });
    let v = loop {
        match ch.try_recv() {
            Ok(v) => break v,
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Closed) => unreachable!(),
        }
    };
    assert_eq!(v, 7);
}

/// The same with `select!` and `default`.
fn poll_select_default() {
    let ch = chan::make::<u32>(0);
    let c = ch.clone();
    go(move || c.send(7));
    let v = loop {
        select! {
            recv(ch) -> v => break v.unwrap(),
            default => {}
        }
    };
    assert_eq!(v, 7);
}

/// A sender that polls `try_send` until a receiver arrives at an unbuffered channel.
fn poll_try_send() {
    let ch = chan::make::<u32>(0);
    let c = ch.clone();
    let h = go(move || c.recv());
    let mut v = 7;
    while let Err(e) = ch.try_send(v) {
        v = e.into_inner();
    }
    assert_eq!(h.join(), Some(7));
}

/// Spin on an atomic flag with plain loads until another goroutine sets it.
fn spin_on_load() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    go(move || f.store(true, Ordering::Release));
    while !flag.load(Ordering::Acquire) {}
}

/// A spin lock taken by two goroutines: compare-exchange until it succeeds.
fn spin_lock() {
    let lock = Arc::new(AtomicBool::new(false));
    let take = |l: &AtomicBool| {
        while l
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {}
    };
    let l = lock.clone();
    let h = go(move || {
        take(&l);
        l.store(false, Ordering::Release);
    });
    take(&lock);
    lock.store(false, Ordering::Release);
    h.join();
}

/// Poll for a value that a producer sends after sleeping: the poller must let time pass.
fn poll_for_a_sleeper() {
    let ch = chan::make::<u32>(1);
    let c = ch.clone();
    go(move || {
        time::sleep(Duration::from_millis(10));
        c.send(7);
    });
    while ch.try_recv().is_err() {}
    assert!(time::now().since_epoch() >= Duration::from_millis(10));
}

fn explore(strategy: StrategyKind, n: u64, f: fn()) -> Result<goweave::Stats, goweave::Failure> {
    Checker::new().strategy(strategy).iterations(n).run(f)
}

#[test]
fn pct_and_random_never_call_a_polling_loop_a_livelock() {
    for s in [StrategyKind::Pct { depth: 3 }, StrategyKind::Random] {
        let start = Instant::now();
        let stats = explore(s.clone(), 10_000, poll_try_recv)
            .unwrap_or_else(|f| panic!("{s} on the try_recv poller:\n{f}"));
        assert_eq!(stats.schedules, 10_000);
        eprintln!(
            "{s}: 10,000 schedules of the try_recv poller in {:.2?}, {} steps, {} distinct",
            start.elapsed(),
            stats.steps,
            stats.distinct
        );
    }
}

#[test]
fn every_kind_of_polling_gives_way_under_every_strategy() {
    let strategies = [
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pct { depth: 1 },
        StrategyKind::Random,
        StrategyKind::Pos,
        StrategyKind::RoundRobin,
        StrategyKind::Fuzz { corpus: None },
        StrategyKind::Dfs {
            max_preemptions: Some(2),
        },
    ];
    for (name, f) in polling_programs() {
        for s in &strategies {
            // A few steps per schedule are enough: a poller that gives way finishes quickly.
            let r = Checker::new()
                .strategy(s.clone())
                .iterations(300)
                .max_steps(2_000)
                .run(f);
            if let Err(e) = r {
                panic!("{name} under {s}:\n{e}");
            }
        }
    }
}

/// Two goroutines wait on `try_recv` for a value nobody sends: no schedule can make progress.
fn spin_forever() {
    let ch = chan::make::<u32>(0);
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let c = ch.clone();
            go(move || while c.try_recv().is_err() {})
        })
        .collect();
    for h in hs {
        h.join();
    }
}

#[test]
fn a_true_spin_forever_is_reported_as_a_livelock_naming_the_spinners() {
    for s in [StrategyKind::Pct { depth: 3 }, StrategyKind::Random] {
        let f = Checker::new()
            .strategy(s.clone())
            .iterations(10)
            .max_steps(5_000)
            // Every schedule of it spins: shrinking has nothing to gain.
            .shrink_budget(std::time::Duration::ZERO)
            .run(spin_forever)
            .expect_err("nothing ever sends");
        assert_eq!(f.kind(), FailureKind::Livelock, "{s}: {f}");
        let report = f.to_string();
        assert!(
            report.contains("goroutines still spinning: 2, 3"),
            "{s}: {report}"
        );
        assert!(report.contains("goroutine 1 [join"), "{s}: {report}");
        assert_eq!(f.iteration(), 0, "every schedule spins");
    }
}

#[test]
fn a_spin_on_an_atomic_nobody_sets_is_a_livelock_too() {
    let f = Checker::new()
        .strategy(StrategyKind::Pct { depth: 3 })
        .iterations(10)
        .max_steps(5_000)
        .run(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let h = go(move || while !f.load(Ordering::Acquire) {});
            time::sleep(Duration::from_millis(1));
            h.join();
        })
        .expect_err("the flag is never set");
    assert_eq!(f.kind(), FailureKind::Livelock, "{f}");
    assert!(
        f.to_string().contains("goroutines still spinning: 2"),
        "{f}"
    );
}
