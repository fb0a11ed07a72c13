//! Which waiter a release wakes is a scheduling choice on the controlled executor (Go promises
//! no order among a mutex's, a semaphore's or a condition variable's waiters), and it stays
//! FIFO on the work-stealing executor.
//!
//! Each program parks two goroutines, A then B, on one primitive, in that order for sure:
//! main sleeps between the spawns, and under the default timer mode (`max_stall`, 250 ms)
//! virtual time cannot pass a full second while a spawned goroutine is still runnable, so A
//! has parked before B starts. Then main releases once. The "bug" is B winning, which a FIFO
//! wake-up can never produce.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goweave::schedule::{Choice, Schedule};
use goweave::sync::{Cond, Mutex, RwLock, Semaphore, WaitGroup};
use goweave::{go, Checker, FailureKind, StrategyKind};

const SEC: Duration = Duration::from_secs(1);

/// The goroutine (1 = A, 2 = B) that got through first, or 0.
type Winner = Arc<AtomicU64>;

fn claim(w: &Winner, me: u64) {
    let _ = w.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst);
}

fn assert_a_won(w: &Winner) {
    let first = w.load(Ordering::SeqCst);
    assert_eq!(first, 1, "waiter B overtook waiter A (winner: {first})");
}

fn mutex_program(pause: Duration) {
    let m = Arc::new(Mutex::new(()));
    let w: Winner = Arc::default();
    let held = m.lock();
    let mut hs = Vec::new();
    for me in 1..=2 {
        let (m, w) = (m.clone(), w.clone());
        hs.push(go(move || {
            let _g = m.lock();
            claim(&w, me);
        }));
        goweave::time::sleep(pause);
    }
    drop(held);
    for h in hs {
        h.join();
    }
    assert_a_won(&w);
}

/// The mutex program with tasks awaiting the lock (`lock_async`) instead of goroutines: a
/// task's waker in the queue is a waiter like a parked goroutine.
fn mutex_task_program(pause: Duration) {
    let m = Arc::new(Mutex::new(()));
    let w: Winner = Arc::default();
    let held = m.lock();
    let mut hs = Vec::new();
    for me in 1..=2 {
        let (m, w) = (m.clone(), w.clone());
        hs.push(goweave::task::spawn(async move {
            let _g = m.lock_async().await;
            claim(&w, me);
        }));
        goweave::time::sleep(pause);
    }
    drop(held);
    for h in hs {
        h.join();
    }
    assert_a_won(&w);
}

/// The semaphore program with tasks awaiting `acquire_async`.
fn semaphore_task_program(pause: Duration) {
    let s = Arc::new(Semaphore::new(2));
    let w: Winner = Arc::default();
    s.acquire(1);
    let mut hs = Vec::new();
    for me in 1..=2 {
        let (s2, w) = (s.clone(), w.clone());
        hs.push(goweave::task::spawn(async move {
            s2.acquire_async(2).await;
            claim(&w, me);
            s2.release(2);
        }));
        while s.try_acquire(1) {
            s.release(1);
            goweave::runtime::gosched();
        }
        goweave::time::sleep(pause);
    }
    s.release(1);
    for h in hs {
        h.join();
    }
    assert_a_won(&w);
}

fn rwlock_writer_program(pause: Duration) {
    let l = Arc::new(RwLock::new(0));
    let w: Winner = Arc::default();
    let held = l.write();
    let mut hs = Vec::new();
    for me in 1..=2 {
        let (l, w) = (l.clone(), w.clone());
        hs.push(go(move || {
            let mut g = l.write();
            *g += 1;
            claim(&w, me);
        }));
        goweave::time::sleep(pause);
    }
    drop(held);
    for h in hs {
        h.join();
    }
    assert_a_won(&w);
}

/// Two requests for the whole semaphore queue behind main's unit: A, then (once A is queued,
/// which `try_acquire` tells: it fails while anyone waits) B.
fn semaphore_program(pause: Duration) {
    let s = Arc::new(Semaphore::new(2));
    let w: Winner = Arc::default();
    s.acquire(1);
    let wg = WaitGroup::new();
    for me in 1..=2 {
        let (s2, w) = (s.clone(), w.clone());
        wg.go(move || {
            s2.acquire(2);
            claim(&w, me);
            s2.release(2);
        });
        while s.try_acquire(1) {
            s.release(1);
            goweave::runtime::gosched();
        }
        goweave::time::sleep(pause);
    }
    s.release(1);
    wg.wait();
    assert_a_won(&w);
}

fn cond_program(pause: Duration) {
    let st = Arc::new((Mutex::new(0u32), Cond::new()));
    let w: Winner = Arc::default();
    let wg = WaitGroup::new();
    for me in 1..=2 {
        let (st, w) = (st.clone(), w.clone());
        wg.go(move || {
            let (m, c) = &*st;
            let mut tokens = m.lock();
            while *tokens == 0 {
                tokens = c.wait(tokens);
            }
            *tokens -= 1;
            claim(&w, me);
            drop(tokens);
            // Pass the second token on (the other waiter is still asleep).
            c.signal();
        });
        goweave::time::sleep(pause);
    }
    {
        let (m, c) = &*st;
        *m.lock() = 2;
        c.signal();
    }
    wg.wait();
    assert_a_won(&w);
}

/// A program, given how long main pauses after each spawn.
type Program = fn(Duration);

const PROGRAMS: [(&str, Program); 6] = [
    ("mutex", mutex_program),
    ("mutex, tasks", mutex_task_program),
    ("rwlock writer", rwlock_writer_program),
    ("semaphore", semaphore_program),
    ("semaphore, tasks", semaphore_task_program),
    ("cond", cond_program),
];

fn strategies() -> Vec<StrategyKind> {
    vec![
        StrategyKind::Random,
        StrategyKind::Pct { depth: 1 },
        StrategyKind::Pct { depth: 3 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        StrategyKind::Dfs {
            max_preemptions: Some(0),
        },
        StrategyKind::DfsPlain,
    ]
}

#[test]
fn every_strategy_finds_a_later_waiter_winning() {
    for (name, program) in PROGRAMS {
        for s in strategies() {
            let label = format!("{name} under {s:?}");
            let err = Checker::new()
                .strategy(s)
                .seed(3)
                .iterations(200)
                .run(move || program(SEC))
                .expect_err(&label);
            assert_eq!(err.kind(), FailureKind::Panic, "{label}:\n{err}");
            assert!(
                err.report().contains("waiter B overtook waiter A"),
                "{label}:\n{err}"
            );
            // The failing schedule holds the waiter choice that woke B.
            assert!(
                err.schedule().choices().contains(&Choice::Value(1)),
                "{label}: {:?}",
                err.schedule().choices()
            );
        }
    }
}

#[test]
fn the_failure_replays_exactly_from_its_token() {
    for (name, program) in PROGRAMS {
        let err = Checker::new()
            .strategy(StrategyKind::Random)
            .seed(1)
            .iterations(200)
            .run(move || program(SEC))
            .expect_err(name);
        for token in [err.token().unwrap(), err.original_token().unwrap()] {
            let sched = Schedule::from_token(token).unwrap();
            for _ in 0..3 {
                let again = goweave::replay(&sched, move || program(SEC)).expect_err(name);
                assert_eq!(again.kind(), FailureKind::Panic, "{name}:\n{again}");
                assert!(again.report().contains("waiter B overtook waiter A"));
                assert_eq!(again.token(), Some(token), "{name}");
            }
        }
    }
}

/// A token recorded before waiter choices existed holds no choice where the release now asks
/// one: its replay must say the schedule does not fit, not run something else.
#[test]
fn a_token_without_the_waiter_choice_is_refused_clearly() {
    let err = Checker::new()
        .strategy(StrategyKind::Random)
        .seed(1)
        .iterations(200)
        .run(|| mutex_program(SEC))
        .expect_err("found");
    let sched = err.schedule();
    let at = sched
        .choices()
        .iter()
        .position(|c| *c == Choice::Value(1))
        .expect("the waiter choice");
    let mut old: Vec<Choice> = sched.choices().to_vec();
    old.remove(at);
    let old = Schedule::new(old, sched.events(), sched.fingerprint()).with_timers(sched.timers());
    let replayed = goweave::replay(&old, || mutex_program(SEC)).expect_err("diverges");
    assert_eq!(replayed.kind(), FailureKind::Nondeterminism, "{replayed}");
    let report = replayed.to_string();
    assert!(
        report.contains("nondeterminism: the replay diverged from its token"),
        "{report}"
    );
    assert!(report.contains("which waiter a release wakes"), "{report}");
}

/// The work-stealing executor keeps the FIFO order: B queues behind A for sure in the
/// semaphore program (it starts once A is queued), and never wins there.
#[test]
fn the_work_stealing_executor_stays_fifo() {
    common::on_steal(|| {
        for _ in 0..20 {
            semaphore_program(Duration::ZERO);
        }
    });
}
