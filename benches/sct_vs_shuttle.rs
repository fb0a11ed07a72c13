//! Schedules to the bug, goweave against shuttle (0.9), on SCTBench-CS-style programs ported
//! to both tools the same way: the same threads, the same lock and atomic operations in the
//! same order, so both see the same scheduling points. For each program and strategy, ten
//! seeds each run up to a budget of schedules and stop at the first failure.
//!
//! `cargo bench --bench sct_vs_shuttle` (release). Prints, per program and strategy, the
//! seeds that found the bug, the median and worst number of schedules over the seeds (a seed
//! that did not find it counts as the budget, marked `>`), the wall time, and the schedules
//! per seed. Then, per program, the ratio of goweave's PCT median to shuttle's (the goal:
//! at most 0.5). `--program NAME` runs one program; `--tool goweave` (or `shuttle`) only
//! that tool's rows; `--depth N` sets PCT's bug depth for both tools (default 3), `--seeds N`
//! the number of seeds (default 10), `--budget N` the schedules per seed (default: the
//! program's, 10,000 or 20,000).
//!
//! The programs, written from SCTBench's published descriptions:
//! - `twostage_N`: N writers each set `data1` under one lock, then `data2 = data1 + 1` under
//!   another; a reader started last reads both under the same locks and asserts
//!   `data2 == data1 + 1` (fails if it runs between some writer's two stages).
//! - `fib_K`: two threads alternately add under one lock, `i += j` and `j += i`, K times
//!   each; main asserts neither reached the value that only strict alternation gives
//!   (Fibonacci number 2K + 2): a bug that needs 2K - 1 context switches.
//! - `withdraw_W`: W threads queue on a locked account holding 1 unit (main holds the lock
//!   while they start); each checks the balance under the lock, unlocks, and withdraws under
//!   the lock again if it saw enough. Main asserts the balance never went negative (fails if
//!   two check before either withdraws).
//! - `reorder_N`: N - 1 setters write `a = 1` then `b = -1`; a checker asserts it sees both
//!   writes or neither.
//! - `wronglock_N`: N threads increment a counter with a load and a store, each under a lock,
//!   but one of them takes another lock than the rest; main asserts the counter reached N
//!   (fails if that thread's load and store straddle another thread's).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::{Checker, StrategyKind};

/// Seeds per program and strategy unless `--seeds N` says otherwise.
const SEEDS: u64 = 10;
/// PCT's bug depth unless `--depth N` says otherwise.
const DEPTH: usize = 3;

mod gw {
    //! The programs on goweave.
    use std::sync::Arc;

    use goweave::go;
    use goweave::sync::atomic::{AtomicI64, Ordering::SeqCst};
    use goweave::sync::Mutex;

    pub fn twostage(n: usize) {
        let l1 = Arc::new(Mutex::new(0i64));
        let l2 = Arc::new(Mutex::new(0i64));
        let mut hs = Vec::new();
        for _ in 0..n {
            let (l1, l2) = (l1.clone(), l2.clone());
            hs.push(go(move || {
                let v = {
                    let mut d1 = l1.lock();
                    *d1 = 1;
                    *d1
                };
                *l2.lock() = v + 1;
            }));
        }
        hs.push(go(move || {
            let t1 = *l1.lock();
            if t1 == 0 {
                return;
            }
            let t2 = *l2.lock();
            assert_eq!(t2, t1 + 1, "twostage");
        }));
        for h in hs {
            h.join();
        }
    }

    pub fn fib(k: usize, limit: u64) {
        let ij = Arc::new(Mutex::new((1u64, 1u64)));
        let a = ij.clone();
        let t1 = go(move || {
            for _ in 0..k {
                let mut g = a.lock();
                g.0 += g.1;
            }
        });
        let b = ij.clone();
        let t2 = go(move || {
            for _ in 0..k {
                let mut g = b.lock();
                g.1 += g.0;
            }
        });
        t1.join();
        t2.join();
        let (i, j) = *ij.lock();
        assert!(i < limit && j < limit, "fib: strict alternation");
    }

    pub fn withdraw(w: usize) {
        let acct = Arc::new(Mutex::new(1i64));
        let held = acct.lock();
        let mut hs = Vec::new();
        for _ in 0..w {
            let acct = acct.clone();
            hs.push(go(move || {
                let enough = *acct.lock() >= 1;
                if enough {
                    *acct.lock() -= 1;
                }
            }));
        }
        drop(held);
        for h in hs {
            h.join();
        }
        assert!(*acct.lock() >= 0, "withdraw: overdrawn");
    }

    pub fn reorder(n: usize) {
        let a = Arc::new(AtomicI64::new(0));
        let b = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for _ in 0..n - 1 {
            let (a, b) = (a.clone(), b.clone());
            hs.push(go(move || {
                a.store(1, SeqCst);
                b.store(-1, SeqCst);
            }));
        }
        hs.push(go(move || {
            let x = a.load(SeqCst);
            let y = b.load(SeqCst);
            assert!((x == 0 && y == 0) || (x == 1 && y == -1), "reorder");
        }));
        for h in hs {
            h.join();
        }
    }

    pub fn wronglock(n: usize) {
        let right = Arc::new(Mutex::new(()));
        let wrong = Arc::new(Mutex::new(()));
        let x = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for i in 0..n {
            let lock = if i == 0 { wrong.clone() } else { right.clone() };
            let x = x.clone();
            hs.push(go(move || {
                let _g = lock.lock();
                let v = x.load(SeqCst);
                x.store(v + 1, SeqCst);
            }));
        }
        for h in hs {
            h.join();
        }
        assert_eq!(x.load(SeqCst), n as i64, "wronglock: an increment was lost");
    }
}

mod sh {
    //! The same programs on shuttle.
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::Arc;

    use shuttle::sync::atomic::AtomicI64;
    use shuttle::sync::Mutex;
    use shuttle::thread::spawn;

    pub fn twostage(n: usize) {
        let l1 = Arc::new(Mutex::new(0i64));
        let l2 = Arc::new(Mutex::new(0i64));
        let mut hs = Vec::new();
        for _ in 0..n {
            let (l1, l2) = (l1.clone(), l2.clone());
            hs.push(spawn(move || {
                let v = {
                    let mut d1 = l1.lock().unwrap();
                    *d1 = 1;
                    *d1
                };
                *l2.lock().unwrap() = v + 1;
            }));
        }
        hs.push(spawn(move || {
            let t1 = *l1.lock().unwrap();
            if t1 == 0 {
                return;
            }
            let t2 = *l2.lock().unwrap();
            assert_eq!(t2, t1 + 1, "twostage");
        }));
        for h in hs {
            h.join().unwrap();
        }
    }

    pub fn fib(k: usize, limit: u64) {
        let ij = Arc::new(Mutex::new((1u64, 1u64)));
        let a = ij.clone();
        let t1 = spawn(move || {
            for _ in 0..k {
                let mut g = a.lock().unwrap();
                g.0 += g.1;
            }
        });
        let b = ij.clone();
        let t2 = spawn(move || {
            for _ in 0..k {
                let mut g = b.lock().unwrap();
                g.1 += g.0;
            }
        });
        t1.join().unwrap();
        t2.join().unwrap();
        let (i, j) = *ij.lock().unwrap();
        assert!(i < limit && j < limit, "fib: strict alternation");
    }

    pub fn withdraw(w: usize) {
        let acct = Arc::new(Mutex::new(1i64));
        let held = acct.lock().unwrap();
        let mut hs = Vec::new();
        for _ in 0..w {
            let acct = acct.clone();
            hs.push(spawn(move || {
                let enough = *acct.lock().unwrap() >= 1;
                if enough {
                    *acct.lock().unwrap() -= 1;
                }
            }));
        }
        drop(held);
        for h in hs {
            h.join().unwrap();
        }
        assert!(*acct.lock().unwrap() >= 0, "withdraw: overdrawn");
    }

    pub fn reorder(n: usize) {
        let a = Arc::new(AtomicI64::new(0));
        let b = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for _ in 0..n - 1 {
            let (a, b) = (a.clone(), b.clone());
            hs.push(spawn(move || {
                a.store(1, SeqCst);
                b.store(-1, SeqCst);
            }));
        }
        hs.push(spawn(move || {
            let x = a.load(SeqCst);
            let y = b.load(SeqCst);
            assert!((x == 0 && y == 0) || (x == 1 && y == -1), "reorder");
        }));
        for h in hs {
            h.join().unwrap();
        }
    }

    pub fn wronglock(n: usize) {
        let right = Arc::new(Mutex::new(()));
        let wrong = Arc::new(Mutex::new(()));
        let x = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for i in 0..n {
            let lock = if i == 0 { wrong.clone() } else { right.clone() };
            let x = x.clone();
            hs.push(spawn(move || {
                let _g = lock.lock().unwrap();
                let v = x.load(SeqCst);
                x.store(v + 1, SeqCst);
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(x.load(SeqCst), n as i64, "wronglock: an increment was lost");
    }
}

/// Fibonacci number `n` (1, 1, 2, 3, ...).
fn fibonacci(n: usize) -> u64 {
    let (mut a, mut b) = (1u64, 1u64);
    for _ in 2..n {
        (a, b) = (b, a + b);
    }
    b
}

/// A program: its name, its schedule budget per seed, and a body per tool.
struct Program {
    name: String,
    budget: u64,
    body: Arc<dyn Fn(Tool) + Send + Sync>,
}

#[derive(Clone, Copy)]
enum Tool {
    Goweave,
    Shuttle,
}

fn programs() -> Vec<Program> {
    let mut ps = Vec::new();
    let mut add = |name: String, budget: u64, f: Arc<dyn Fn(Tool) + Send + Sync>| {
        ps.push(Program {
            name,
            budget,
            body: f,
        })
    };
    for n in [20, 100] {
        add(
            format!("twostage_{n}"),
            10_000,
            Arc::new(move |t| match t {
                Tool::Goweave => gw::twostage(n),
                Tool::Shuttle => sh::twostage(n),
            }),
        );
    }
    for k in [3, 4] {
        let limit = fibonacci(2 * k + 2);
        add(
            format!("fib_{k}"),
            20_000,
            Arc::new(move |t| match t {
                Tool::Goweave => gw::fib(k, limit),
                Tool::Shuttle => sh::fib(k, limit),
            }),
        );
    }
    for w in [3, 8] {
        add(
            format!("withdraw_{w}"),
            10_000,
            Arc::new(move |t| match t {
                Tool::Goweave => gw::withdraw(w),
                Tool::Shuttle => sh::withdraw(w),
            }),
        );
    }
    for n in [5, 10, 20] {
        add(
            format!("reorder_{n}"),
            10_000,
            Arc::new(move |t| match t {
                Tool::Goweave => gw::reorder(n),
                Tool::Shuttle => sh::reorder(n),
            }),
        );
    }
    for n in [3, 8] {
        add(
            format!("wronglock_{n}"),
            10_000,
            Arc::new(move |t| match t {
                Tool::Goweave => gw::wronglock(n),
                Tool::Shuttle => sh::wronglock(n),
            }),
        );
    }
    ps
}

/// Schedules goweave's `strategy` needed with `seed` (None: not within `budget`).
fn goweave_found(p: &Program, strategy: StrategyKind, seed: u64) -> Option<u64> {
    let body = p.body.clone();
    Checker::new()
        .strategy(strategy)
        .seed(seed)
        .iterations(p.budget)
        .shrink_budget(Duration::ZERO)
        .run(move || body(Tool::Goweave))
        .err()
        .map(|e| e.iteration() + 1)
}

/// Schedules shuttle's scheduler needed with `seed` (None: not within `budget`). Shuttle
/// reports a failure by panicking; the schedules are counted as the body's starts.
fn shuttle_found(p: &Program, pct: Option<usize>, seed: u64) -> Option<u64> {
    let runs = Arc::new(AtomicU64::new(0));
    let (body, counter) = (p.body.clone(), runs.clone());
    let f = move || {
        counter.fetch_add(1, Ordering::Relaxed);
        body(Tool::Shuttle)
    };
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.silence_warnings = true;
    let budget = p.budget as usize;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failed = catch_unwind(AssertUnwindSafe(|| {
        if let Some(depth) = pct {
            let s = shuttle::scheduler::PctScheduler::new_from_seed(seed, depth, budget);
            shuttle::Runner::new(s, config).run(f);
        } else {
            let s = shuttle::scheduler::RandomScheduler::new_from_seed(seed, budget);
            shuttle::Runner::new(s, config).run(f);
        }
    }))
    .is_err();
    std::panic::set_hook(hook);
    failed.then(|| runs.load(Ordering::Relaxed))
}

/// (seeds that found it, median, worst), a miss counting as the budget.
fn summary(found: &[Option<u64>], budget: u64) -> (usize, u64, u64, bool) {
    let mut v: Vec<u64> = found.iter().map(|f| f.unwrap_or(budget)).collect();
    v.sort_unstable();
    let hits = found.iter().filter(|f| f.is_some()).count();
    let median = v[v.len() / 2];
    let missed_median = found.iter().filter(|f| f.is_none()).count() > v.len() / 2;
    (hits, median, *v.last().unwrap(), missed_median)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let only = args
        .iter()
        .position(|a| a == "--program")
        .and_then(|i| args.get(i + 1).cloned());
    let tool = args
        .iter()
        .position(|a| a == "--tool")
        .and_then(|i| args.get(i + 1).cloned());
    let depth = args
        .iter()
        .position(|a| a == "--depth")
        .and_then(|i| args.get(i + 1))
        .map(|d| d.parse().expect("--depth takes a number"))
        .unwrap_or(DEPTH);
    let seeds: u64 = args
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args.get(i + 1))
        .map(|d| d.parse().expect("--seeds takes a number"))
        .unwrap_or(SEEDS);
    let budget: Option<u64> = args
        .iter()
        .position(|a| a == "--budget")
        .and_then(|i| args.get(i + 1))
        .map(|d| d.parse().expect("--budget takes a number"));
    println!("seeds 0..{seeds}; PCT depth {depth}; a miss counts as the budget (shown with >)");
    println!(
        "{:<13} {:<15} {:>5} {:>8} {:>8} {:>9}  schedules to the bug, per seed",
        "program", "tool/strategy", "found", "median", "worst", "time"
    );
    for mut p in programs() {
        p.budget = budget.unwrap_or(p.budget);
        if only.as_ref().is_some_and(|o| *o != p.name) {
            continue;
        }
        let mut medians = Vec::new();
        for (label, run) in [
            (
                "goweave pct",
                Box::new(|seed| {
                    goweave_found(
                        &p,
                        StrategyKind::Pct {
                            depth: depth as u32,
                        },
                        seed,
                    )
                }) as Box<dyn Fn(u64) -> Option<u64>>,
            ),
            (
                "shuttle pct",
                Box::new(|seed| shuttle_found(&p, Some(depth), seed)),
            ),
            (
                "goweave random",
                Box::new(|seed| goweave_found(&p, StrategyKind::Random, seed)),
            ),
            (
                "shuttle random",
                Box::new(|seed| shuttle_found(&p, None, seed)),
            ),
        ] {
            if tool
                .as_ref()
                .is_some_and(|t| !label.starts_with(t.as_str()))
            {
                medians.push(0);
                continue;
            }
            let start = Instant::now();
            let found: Vec<Option<u64>> = (0..seeds).map(&run).collect();
            let (hits, median, worst, missed) = summary(&found, p.budget);
            let mark = |m: bool, v: u64| if m { format!(">{v}") } else { v.to_string() };
            let per: Vec<String> = found
                .iter()
                .map(|f| f.map_or(format!(">{}", p.budget), |n| n.to_string()))
                .collect();
            println!(
                "{:<13} {:<15} {:>2}/{:<2} {:>8} {:>8} {:>9.2?}  {}",
                p.name,
                label,
                hits,
                seeds,
                mark(missed, median),
                mark(hits < seeds as usize, worst),
                start.elapsed(),
                per.join(" ")
            );
            medians.push(median);
        }
        if tool.is_none() {
            println!(
                "{:<13} goweave pct median / shuttle pct median = {:.2}",
                p.name,
                medians[0] as f64 / medians[1].max(1) as f64
            );
        }
    }
}
