//! What a failure report says: the Go-shaped description, the interleaving, how it was found
//! and shrunk, and the line that replays it.

use std::sync::Arc;
use std::time::Duration;

use goweave::explore::{Decision, Strategy as _, ValueDecision};
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, FailureKind, StrategyKind};

fn lost_update() {
    let x = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let x = x.clone();
            go(move || {
                let v = x.load(SeqCst);
                x.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(x.load(SeqCst), 2, "lost update");
}

#[test]
fn a_panic_report_ends_with_the_replay_line_for_this_test() {
    let f = Checker::new()
        .iterations(1_000)
        .run(lost_update)
        .unwrap_err();
    let text = f.to_string();
    let last = text.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "replay: GOWEAVE_REPLAY={} cargo test -- a_panic_report_ends_with_the_replay_line_for_this_test --exact",
            f.token().unwrap()
        )
    );
    assert_eq!(f.replay_line(), last);
    assert!(
        text.starts_with("goroutine 1 panicked at tests/explore_reports.rs:"),
        "{text}"
    );
    assert!(text.contains("lost update"), "{text}");
    assert!(
        text.contains("found by random(seed=0) at schedule "),
        "{text}"
    );
}

#[test]
fn the_trace_numbers_each_event_with_goroutine_operation_object_and_location() {
    let f = Checker::new()
        .iterations(1_000)
        .run(lost_update)
        .unwrap_err();
    let text = f.to_string();
    assert!(text.contains("interleaving ("), "{text}");
    assert!(
        text.contains("step  goroutine  operation     object  location"),
        "{text}"
    );
    let loads = text
        .lines()
        .filter(|l| l.contains("atomic load") && l.contains("tests/explore_reports.rs:18:"))
        .count();
    assert_eq!(loads, 2, "{text}");
    assert!(text.contains("<- preempts g"), "{text}");
    // Steps are numbered from 1 in the order events happened.
    let steps: Vec<u64> = f.trace().iter().map(|e| e.step).collect();
    assert_eq!(steps, (1..=steps.len() as u64).collect::<Vec<_>>());
}

#[test]
fn long_traces_show_the_last_40_events() {
    let f = Checker::new()
        .iterations(100)
        .run(|| {
            let m = Arc::new(Mutex::new(0));
            for _ in 0..50 {
                *m.lock() += 1;
            }
            panic!("late");
        })
        .unwrap_err();
    assert_eq!(f.trace().len(), 100);
    let text = f.to_string();
    assert!(
        text.contains("interleaving (last 40 of 100 events; GOWEAVE_TRACE=full shows all):"),
        "{text}"
    );
    let locks = text.lines().filter(|l| l.contains("  #1  ")).count();
    assert_eq!(locks, 40, "{text}");
}

#[test]
fn the_chrome_trace_has_a_track_per_goroutine() {
    let f = Checker::new()
        .iterations(1_000)
        .run(lost_update)
        .unwrap_err();
    let json = f.chrome_trace();
    assert!(json.starts_with("{\"displayTimeUnit\":\"ns\",\"traceEvents\":["));
    for g in 1..=3 {
        assert!(
            json.contains(&format!("\"args\":{{\"name\":\"goroutine {g}\"}}")),
            "{json}"
        );
    }
    assert_eq!(json.matches("\"ph\":\"X\"").count(), f.trace().len());
    assert!(json.contains("\"location\":\"tests/explore_reports.rs:18:"));
}

#[test]
fn a_deadlock_report_lists_every_goroutine_like_go() {
    let f = Checker::new()
        .iterations(1_000)
        .run(|| {
            let a = Arc::new(Mutex::new(()));
            let b = Arc::new(Mutex::new(()));
            let (a2, b2) = (a.clone(), b.clone());
            let h = go(move || {
                let _x = a2.lock();
                let _y = b2.lock();
            });
            let _y = b.lock();
            let _x = a.lock();
            drop((_x, _y));
            h.join();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    let r = f.report();
    assert!(
        r.starts_with("all goroutines are asleep - deadlock!\n\ngoroutine 1 [sync.Mutex.Lock]:\n"),
        "{r}"
    );
    assert!(
        r.contains("\ngoroutine 2 [sync.Mutex.Lock]:\n    blocked at tests/explore_reports.rs:"),
        "{r}"
    );
    assert!(
        r.contains("created by goroutine 1 at tests/explore_reports.rs:"),
        "{r}"
    );
}

#[test]
fn the_replay_line_omits_the_test_name_outside_a_test_thread() {
    let f = std::thread::Builder::new()
        .name("main".into())
        .spawn(|| {
            Checker::new()
                .iterations(1_000)
                .run(lost_update)
                .unwrap_err()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        f.replay_line(),
        format!("replay: GOWEAVE_REPLAY={}", f.token().unwrap())
    );
    let named = Checker::new()
        .iterations(1_000)
        .test_name("suite::case")
        .run(lost_update)
        .unwrap_err();
    assert!(named
        .replay_line()
        .ends_with(" cargo test -- suite::case --exact"));
}

#[test]
fn stats_report_schedules_steps_distinct_and_rate() {
    let stats = Checker::new()
        .strategy(StrategyKind::Pos)
        .iterations(300)
        .seed(9)
        .run(|| {
            let m = Arc::new(Mutex::new(0));
            let m2 = m.clone();
            let h = go(move || *m2.lock() += 1);
            *m.lock() += 1;
            h.join();
        })
        .unwrap();
    assert_eq!(stats.schedules, 300);
    assert!(stats.steps >= 300 * 6, "{stats}");
    assert!(stats.distinct > 1 && stats.distinct <= 300, "{stats}");
    assert!(!stats.exhausted);
    let text = stats.to_string();
    assert!(text.starts_with("ran 300 schedules ("), "{text}");
    assert!(text.contains("of pos(seed=9)"), "{text}");
    assert!(text.contains("schedules/s)"), "{text}");
}

/// A xorshift random walk that counts how often it was asked. (A strategy runs inside the
/// scheduler: it uses std's atomics, not goweave's.)
struct Xorshift(u64, Arc<std::sync::atomic::AtomicU64>);

impl goweave::explore::Strategy for Xorshift {
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % d.runnable.len() as u64) as usize
    }
    fn pick_value(&mut self, _d: &ValueDecision) -> u64 {
        0
    }
    fn describe(&self) -> String {
        "xorshift".into()
    }
}

#[test]
fn a_custom_strategy_plugs_in_and_is_named_in_reports() {
    let asked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let f = Checker::new()
        .custom_strategy(Xorshift(1, asked.clone()))
        .iterations(1_000)
        .shrink_budget(Duration::ZERO)
        .run(lost_update)
        .unwrap_err();
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert_eq!(f.kind(), FailureKind::Panic);
    assert!(f.report().contains("lost update"), "{f}");
    assert!(
        f.to_string().contains("found by xorshift at schedule"),
        "{f}"
    );
    assert_eq!(Xorshift(1, asked).describe(), "xorshift");
}

#[test]
fn round_robin_runs_one_schedule_by_default() {
    let stats = Checker::new()
        .strategy(StrategyKind::RoundRobin)
        .run(|| {
            let h = go(|| ());
            h.join();
        })
        .unwrap();
    assert_eq!(stats.schedules, 1);
    assert_eq!(stats.strategy, "round_robin");
}

#[test]
fn strategies_parse_from_text() {
    assert_eq!(
        "pct:2".parse::<StrategyKind>(),
        Ok(StrategyKind::Pct { depth: 2 })
    );
    assert_eq!(
        "dfs:1".parse::<StrategyKind>(),
        Ok(StrategyKind::Dfs {
            max_preemptions: Some(1)
        })
    );
    let f = Checker::new()
        .iterations(1_000)
        .run(lost_update)
        .unwrap_err();
    match f.token().unwrap().parse::<StrategyKind>() {
        Ok(StrategyKind::Replay(s)) => assert_eq!(&s, f.schedule()),
        other => panic!("{other:?}"),
    }
}
