//! The classic bug kernels written with async tasks instead of goroutines: the checker finds
//! each with the same kind of report as the goroutine versions, the failure's schedule replays
//! it, and the fixed version passes. Then goroutines and tasks mixed in one program, on both
//! executors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{chan, go, select, task, time, Checker, FailureKind};

/// Two tasks read a counter and write it back plus one (`fixed`: `fetch_add`).
fn lost_update(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let x = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let x = x.clone();
                task::spawn(async move {
                    if fixed {
                        x.fetch_add(1, SeqCst);
                    } else {
                        let v = x.load(SeqCst);
                        x.store(v + 1, SeqCst);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(x.load(SeqCst), 2, "lost update");
    }
}

/// Two tasks take two mutexes in opposite orders (`fixed`: the same order).
fn ab_ba(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (a2, b2) = (a.clone(), b.clone());
        let h1 = task::spawn(async move {
            let _ga = a2.lock_owned_async().await;
            let _gb = b2.lock_owned_async().await;
        });
        let h2 = task::spawn(async move {
            let (first, second) = if fixed { (a, b) } else { (b, a) };
            let _g1 = first.lock_owned_async().await;
            let _g2 = second.lock_owned_async().await;
        });
        h1.join();
        h2.join();
    }
}

/// A producer task sends two values; main takes only the first (`fixed`: the channel buffers
/// one, so the second send completes).
fn leaked_sender(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let ch = chan::make::<u32>(usize::from(fixed));
        let tx = ch.clone();
        task::spawn(async move {
            tx.send_async(1).await;
            tx.send_async(2).await;
        });
        assert_eq!(ch.recv(), Some(1));
    }
}

/// Main waits for a worker task's result with a timeout; when the timeout wins, the worker
/// blocks for ever on its unbuffered send (`fixed`: a buffered result channel).
fn timeout_race(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let result = chan::make::<u32>(usize::from(fixed));
        let tx = result.clone();
        task::spawn(async move {
            time::sleep_async(Duration::from_millis(5)).await;
            tx.send_async(42).await;
        });
        select! {
            recv(result) -> v => assert_eq!(v, Some(42)),
            recv(time::after(Duration::from_millis(5))) -> _ => {}
        }
    }
}

/// Two tasks initialise a shared value lazily, check-then-set, without synchronisation
/// (`fixed`: under a mutex, awaited).
fn lazy_init(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let cell = Arc::new(RaceCell::named("config", None::<u32>));
        let lock = Arc::new(Mutex::new(()));
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let (cell, lock) = (cell.clone(), lock.clone());
                task::spawn(async move {
                    let _g = if fixed {
                        Some(lock.lock_owned_async().await)
                    } else {
                        None
                    };
                    if cell.get().is_none() {
                        cell.set(Some(i));
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
    }
}

fn checker() -> Checker {
    Checker::new()
        .iterations(1_000)
        .seed(3)
        .shrink_budget(Duration::from_secs(2))
}

/// The buggy version fails with `kind` and a report containing every one of `says`; its
/// schedule replays the failure; the fixed version passes.
fn found_replayed_fixed<K, F>(kernel: K, kind: FailureKind, says: &[&str])
where
    K: Fn(bool) -> F,
    F: Fn() + Send + Sync + Clone + 'static,
{
    let f = checker().run(kernel(false)).unwrap_err();
    assert_eq!(f.kind(), kind, "{f}");
    let r = f.to_string();
    for s in says {
        assert!(r.contains(s), "missing {s:?} in:\n{r}");
    }
    assert!(r.contains("replay: GOWEAVE_REPLAY=gw1:"), "{r}");
    let again = goweave::replay(f.schedule(), kernel(false)).unwrap_err();
    assert_eq!(again.kind(), kind, "{again}");
    let token: goweave::Schedule = f.token().expect("a token").parse().unwrap();
    let again = goweave::replay(&token, kernel(false)).unwrap_err();
    assert_eq!(again.kind(), kind, "{again}");
    if let Err(e) = Checker::new().iterations(300).seed(5).run(kernel(true)) {
        panic!("the fixed version failed:\n{e}");
    }
}

#[test]
fn lost_update_with_tasks() {
    found_replayed_fixed(lost_update, FailureKind::Panic, &["lost update"]);
}

#[test]
fn ab_ba_deadlock_with_tasks() {
    found_replayed_fixed(
        ab_ba,
        FailureKind::Deadlock,
        &[
            "all goroutines are asleep - deadlock!",
            "goroutine 1 [join]:",
            "task 2 [sync.Mutex.Lock]:",
            "task 3 [sync.Mutex.Lock]:",
            // The interleaving labels tasks `t2`, goroutines `g1`.
            "  t2  ",
            "  g1  ",
            " go            t3 ",
        ],
    );
}

#[test]
fn leaked_sender_with_tasks() {
    found_replayed_fixed(
        leaked_sender,
        FailureKind::Leak,
        &["found unexpected goroutines:", "task 2 [chan send]:"],
    );
}

#[test]
fn timeout_race_with_tasks() {
    found_replayed_fixed(
        timeout_race,
        FailureKind::Leak,
        &["found unexpected goroutines:", "task 2 [chan send]:"],
    );
}

#[test]
fn racy_lazy_init_with_tasks() {
    found_replayed_fixed(
        lazy_init,
        FailureKind::Race,
        // Both accesses are the tasks': the report names them as tasks, as Go names goroutines.
        &["WARNING: DATA RACE", "config", "by task ", "\nTask "],
    );
}

/// A goroutine awaits a task (block_on on its handle), a task joins a goroutine through a
/// channel and through its handle, on both executors.
#[test]
fn goroutines_and_tasks_mixed_on_both_executors() {
    common::on_both(|| {
        let results = chan::make::<u64>(0);
        let tx = results.clone();
        let worker = go(move || {
            tx.send(10);
            20
        });
        let t = task::spawn(async move {
            let a = results.recv_async().await.unwrap(); // from the goroutine, via a channel
            let b = worker.await; // the goroutine's handle
            a + b
        });
        let g = go(move || task::block_on(t) + 1); // a goroutine awaits the task
        assert_eq!(g.join(), 31);
    });
}

/// Every strategy, DPOR (the unbounded Dfs) included, explores tasks as it explores
/// goroutines, and shrinking brings the lost update down to its one preemption.
#[test]
fn every_strategy_finds_the_task_lost_update_and_shrinks_it() {
    use goweave::StrategyKind;
    for s in [
        StrategyKind::Random,
        StrategyKind::Pct { depth: 2 },
        StrategyKind::Pos,
        StrategyKind::Dfs {
            max_preemptions: None,
        },
    ] {
        let f = checker()
            .strategy(s.clone())
            .run(lost_update(false))
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Panic, "{s}: {f}");
        assert_eq!(f.preemptions(), 1, "{s}: {f}");
    }
    let stats = Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .iterations(10_000)
        .run(lost_update(true))
        .unwrap();
    assert!(stats.exhausted, "the fixed program is proved: {stats:?}");
}

/// With the `race` feature, the work-stealing runtime's detector sees tasks too: the racy lazy
/// init fails the run whatever the real interleaving, the fixed one (ordered by the mutex,
/// whose wake-ups are edges) passes.
#[cfg(feature = "race")]
#[test]
fn racy_lazy_init_with_tasks_on_the_work_stealing_runtime() {
    let rt = || goweave::Runtime::builder().workers(2).build().unwrap();
    for _ in 0..10 {
        rt().block_on(lazy_init(true));
    }
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt().block_on(lazy_init(false))
    }))
    .expect_err("the racy variant did not fail the run");
    let msg = common::panic_message(p);
    assert!(msg.contains("WARNING: DATA RACE"), "{msg}");
    assert!(msg.contains("config"), "{msg}");
    assert!(msg.contains("by task ") && msg.contains("\nTask "), "{msg}");
}

/// A failing run of a program with tasks, recorded on the work-stealing runtime (issue 21),
/// becomes a replay token that the checker replays to the same failure.
#[test]
fn a_recorded_task_failure_on_the_work_stealing_runtime_replays() {
    let f = || {
        let ch = chan::make::<u32>(0);
        let tx = ch.clone();
        let t = task::spawn(async move {
            tx.send_async(1).await;
            tx.send_async(2).await;
        });
        let a = ch.recv().unwrap();
        let b = task::block_on(ch.recv_async()).unwrap();
        t.join();
        assert_eq!(a + b, 4, "the sum is wrong");
    };
    let rt = goweave::Runtime::builder().workers(2).build().unwrap();
    let found = goweave::record::run(&rt, f).unwrap_err();
    assert_eq!(found.kind(), FailureKind::Panic, "{found}");
    assert!(found.report().contains("the sum is wrong"), "{found}");
    let token: goweave::Schedule = found.token().expect("a token").parse().unwrap();
    let again = goweave::replay(&token, f).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Panic, "{again}");
}
