//! Schedules to the bug, goweave against shuttle (0.9), on SCTBench's CS programs and a few
//! programs of the same shapes, ported to both tools the same way: the same threads, the
//! same lock, condition-variable and atomic operations in the same order, so both see the
//! same scheduling points. For each program and strategy, each seed runs up to a budget of
//! schedules and stops at the first failure.
//!
//! `cargo bench --bench sct_vs_shuttle` (release), or the built binary,
//! `target/release/deps/sct_vs_shuttle-* --all --seeds 30 2>/dev/null` (shuttle prints each
//! failure on stderr). Prints, per program and strategy, the seeds that found the bug, the
//! median and worst number of schedules over the seeds (a seed that did not find it counts as
//! the budget, marked `>`), the wall time, and the schedules per seed; then a table with one
//! row per program: goweave PCT's median and worst, shuttle PCT's median, their ratio (the
//! goal: at most 0.5), goweave Random's median and the seeds each strategy found the bug
//! with. `--all` runs every program (the default); `--program A,B` only those; `--tool
//! goweave` (or `shuttle`, `goweave pct`, ...) only the strategies whose label starts so;
//! `--depth N` sets PCT's bug depth for both tools (default: 3, 8 for `fib`), `--seeds N`
//! the number of seeds (default 10), `--budget N` the schedules per seed (default: the
//! program's).
//!
//! SCTBench's CS set (`benchmarks/buggy.txt` of mc-imperial/sctbench, 29 programs) is in
//! `sct/cs.rs` (the 20 whose bodies differ: one comment each on the bug and the mapping) and
//! here (the parameterised ones):
//! - `twostage` (1 writer), `twostage_100` (99 writers): writers each set `data1` under one
//!   lock, then `data2 = data1 + 1` under another; a reader started last reads both under the
//!   same locks and asserts `data2 == data1 + 1` (fails if it runs between some writer's two
//!   stages).
//! - `reorder_N`: N - 1 setters (10 for `reorder_20`, with 10 checkers) write `a = 1` then
//!   `b = -1`, unlocked; a checker asserts it sees both writes or neither.
//! - `wronglock` (7), `wronglock_3` (3): one thread, under `dataLock`, reads the counter,
//!   increments it (a load and a store) and asserts it now holds its read plus one, while N
//!   threads increment it under another lock (fails if one of theirs lands in between).
//!
//! Not in the CS set, kept from the first rounds of this bench:
//! - `twostage_20`: twostage with 20 writers.
//! - `fib_K`: two threads alternately add under one lock, `i += j` and `j += i`, K times
//!   each; main asserts neither reached the value that only strict alternation gives
//!   (Fibonacci number 2K + 2): a bug that needs 2K - 1 context switches.
//! - `withdraw_W`: W threads queue on a locked account holding 1 unit (main holds the lock
//!   while they start); each checks the balance under the lock, unlocks, and withdraws under
//!   the lock again if it saw enough. Main asserts the balance never went negative (fails if
//!   two check before either withdraws).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::{Checker, StrategyKind};

#[path = "sct/cs.rs"]
mod cs;

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

    pub fn reorder(setters: usize, checkers: usize) {
        let a = Arc::new(AtomicI64::new(0));
        let b = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for _ in 0..setters {
            let (a, b) = (a.clone(), b.clone());
            hs.push(go(move || {
                a.store(1, SeqCst);
                b.store(-1, SeqCst);
            }));
        }
        for _ in 0..checkers {
            let (a, b) = (a.clone(), b.clone());
            hs.push(go(move || {
                let x = a.load(SeqCst);
                let y = b.load(SeqCst);
                assert!((x == 0 && y == 0) || (x == 1 && y == -1), "reorder");
            }));
        }
        for h in hs {
            h.join();
        }
    }

    pub fn wronglock(n: usize) {
        let data_lock = Arc::new(Mutex::new(()));
        let this_lock = Arc::new(Mutex::new(()));
        let value = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        let v = value.clone();
        hs.push(go(move || {
            let _g = data_lock.lock();
            let x = v.load(SeqCst);
            let before = v.load(SeqCst);
            v.store(before + 1, SeqCst);
            assert_eq!(
                v.load(SeqCst),
                x + 1,
                "wronglock: an increment came in between"
            );
        }));
        for _ in 0..n {
            let (lock, v) = (this_lock.clone(), value.clone());
            hs.push(go(move || {
                let _g = lock.lock();
                let before = v.load(SeqCst);
                v.store(before + 1, SeqCst);
            }));
        }
        for h in hs {
            h.join();
        }
    }
}

mod sh {
    //! The same programs on shuttle. A lock ignores poisoning: once a thread has panicked,
    //! shuttle unwinds the others, and a poisoned lock there must not panic again.
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::{Arc, PoisonError};

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
                    let mut d1 = l1.lock().unwrap_or_else(PoisonError::into_inner);
                    *d1 = 1;
                    *d1
                };
                *l2.lock().unwrap_or_else(PoisonError::into_inner) = v + 1;
            }));
        }
        hs.push(spawn(move || {
            let t1 = *l1.lock().unwrap_or_else(PoisonError::into_inner);
            if t1 == 0 {
                return;
            }
            let t2 = *l2.lock().unwrap_or_else(PoisonError::into_inner);
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
                let mut g = a.lock().unwrap_or_else(PoisonError::into_inner);
                g.0 += g.1;
            }
        });
        let b = ij.clone();
        let t2 = spawn(move || {
            for _ in 0..k {
                let mut g = b.lock().unwrap_or_else(PoisonError::into_inner);
                g.1 += g.0;
            }
        });
        t1.join().unwrap();
        t2.join().unwrap();
        let (i, j) = *ij.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(i < limit && j < limit, "fib: strict alternation");
    }

    pub fn withdraw(w: usize) {
        let acct = Arc::new(Mutex::new(1i64));
        let held = acct.lock().unwrap_or_else(PoisonError::into_inner);
        let mut hs = Vec::new();
        for _ in 0..w {
            let acct = acct.clone();
            hs.push(spawn(move || {
                let enough = *acct.lock().unwrap_or_else(PoisonError::into_inner) >= 1;
                if enough {
                    *acct.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
                }
            }));
        }
        drop(held);
        for h in hs {
            h.join().unwrap();
        }
        assert!(
            *acct.lock().unwrap_or_else(PoisonError::into_inner) >= 0,
            "withdraw: overdrawn"
        );
    }

    pub fn reorder(setters: usize, checkers: usize) {
        let a = Arc::new(AtomicI64::new(0));
        let b = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for _ in 0..setters {
            let (a, b) = (a.clone(), b.clone());
            hs.push(spawn(move || {
                a.store(1, SeqCst);
                b.store(-1, SeqCst);
            }));
        }
        for _ in 0..checkers {
            let (a, b) = (a.clone(), b.clone());
            hs.push(spawn(move || {
                let x = a.load(SeqCst);
                let y = b.load(SeqCst);
                assert!((x == 0 && y == 0) || (x == 1 && y == -1), "reorder");
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    }

    pub fn wronglock(n: usize) {
        let data_lock = Arc::new(Mutex::new(()));
        let this_lock = Arc::new(Mutex::new(()));
        let value = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        let v = value.clone();
        hs.push(spawn(move || {
            let _g = data_lock.lock().unwrap_or_else(PoisonError::into_inner);
            let x = v.load(SeqCst);
            let before = v.load(SeqCst);
            v.store(before + 1, SeqCst);
            assert_eq!(
                v.load(SeqCst),
                x + 1,
                "wronglock: an increment came in between"
            );
        }));
        for _ in 0..n {
            let (lock, v) = (this_lock.clone(), value.clone());
            hs.push(spawn(move || {
                let _g = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let before = v.load(SeqCst);
                v.store(before + 1, SeqCst);
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
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

/// A program: its name, its schedule budget per seed, PCT's depth for it unless `--depth`
/// says otherwise, and a body per tool.
struct Program {
    name: String,
    budget: u64,
    depth: usize,
    body: Arc<dyn Fn(Tool) + Send + Sync>,
}

#[derive(Clone, Copy)]
enum Tool {
    Goweave,
    Shuttle,
}

/// The same call on both tools' module: `both!(f(args))` is a body that runs `gw::f(args)`
/// on goweave and `sh::f(args)` on shuttle.
macro_rules! both {
    ($m:ident :: $f:ident ( $($a:expr),* )) => {{
        Arc::new(move |t: Tool| match t {
            Tool::Goweave => $m::gw::$f($($a),*),
            Tool::Shuttle => $m::sh::$f($($a),*),
        }) as Arc<dyn Fn(Tool) + Send + Sync>
    }};
    ($f:ident ( $($a:expr),* )) => {{
        Arc::new(move |t: Tool| match t {
            Tool::Goweave => gw::$f($($a),*),
            Tool::Shuttle => sh::$f($($a),*),
        }) as Arc<dyn Fn(Tool) + Send + Sync>
    }};
}

fn programs() -> Vec<Program> {
    let mut ps = Vec::new();
    let mut add = |name: &str, budget: u64, depth: usize, body| {
        ps.push(Program {
            name: name.to_string(),
            budget,
            depth,
            body,
        })
    };
    // SCTBench's CS set (its `buggy.txt`), in its order.
    add("account", 10_000, DEPTH, both!(cs::account()));
    add(
        "arithmetic_prog",
        10_000,
        DEPTH,
        both!(cs::arithmetic_prog()),
    );
    add(
        "bluetooth_driver",
        10_000,
        DEPTH,
        both!(cs::bluetooth_driver()),
    );
    add("carter01", 10_000, DEPTH, both!(cs::carter01()));
    add(
        "circular_buffer",
        10_000,
        DEPTH,
        both!(cs::circular_buffer()),
    );
    add("deadlock01", 10_000, DEPTH, both!(cs::deadlock01()));
    for n in 2..=7usize {
        add(
            &format!("din_phil{n}_sat"),
            10_000,
            DEPTH,
            both!(cs::din_phil(n)),
        );
    }
    add("fsbench", 1_000, DEPTH, both!(cs::fsbench()));
    add("lazy01", 10_000, DEPTH, both!(cs::lazy01()));
    add("phase01", 10_000, DEPTH, both!(cs::phase01()));
    add("queue", 10_000, DEPTH, both!(cs::queue()));
    // SCTBench's reorder_N: N - 1 setters and one checker, except reorder_20 (10 and 10).
    for (name, setters, checkers) in [
        ("reorder_3", 2, 1),
        ("reorder_4", 3, 1),
        ("reorder_5", 4, 1),
        ("reorder_10", 9, 1),
        ("reorder_20", 10, 10),
    ] {
        add(name, 10_000, DEPTH, both!(reorder(setters, checkers)));
    }
    add("stack", 10_000, DEPTH, both!(cs::stack()));
    add("sync01", 10_000, DEPTH, both!(cs::sync01()));
    add("sync02", 10_000, DEPTH, both!(cs::sync02()));
    add("token_ring", 10_000, DEPTH, both!(cs::token_ring()));
    // SCTBench's twostage: one writer and one reader; twostage_100: 99 writers.
    add("twostage", 10_000, DEPTH, both!(twostage(1)));
    add("twostage_100", 10_000, DEPTH, both!(twostage(99)));
    // SCTBench's wronglock: 1 thread under the right lock and 7 under another; wronglock_3: 3.
    add("wronglock", 10_000, DEPTH, both!(wronglock(7)));
    add("wronglock_3", 10_000, DEPTH, both!(wronglock(3)));
    // Not in the CS set: larger or deeper variants of the same shapes.
    add("twostage_20", 10_000, DEPTH, both!(twostage(20)));
    for k in [3, 4] {
        let limit = fibonacci(2 * k + 2);
        add(&format!("fib_{k}"), 20_000, 8, both!(fib(k, limit)));
    }
    for w in [3, 8] {
        add(&format!("withdraw_{w}"), 10_000, DEPTH, both!(withdraw(w)));
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

/// What one strategy did on one program over the seeds.
#[derive(Clone, Copy)]
struct Row {
    /// Seeds that found the bug within the budget.
    hits: usize,
    /// Median schedules to the bug, a miss counting as the budget.
    median: u64,
    /// Most schedules to the bug (the budget if a seed missed).
    worst: u64,
    /// More than half the seeds missed (the median is a lower bound).
    missed_median: bool,
}

/// The row of `found`, a miss counting as `budget`.
fn summary(found: &[Option<u64>], budget: u64) -> Row {
    let mut v: Vec<u64> = found.iter().map(|f| f.unwrap_or(budget)).collect();
    v.sort_unstable();
    let hits = found.iter().filter(|f| f.is_some()).count();
    Row {
        hits,
        median: v[v.len() / 2],
        worst: *v.last().unwrap(),
        missed_median: found.len() - hits > v.len() / 2,
    }
}

/// The value after `flag` in the arguments, parsed.
fn arg<T: std::str::FromStr>(args: &[String], flag: &str) -> Option<T> {
    let i = args.iter().position(|a| a == flag)?;
    let v = args
        .get(i + 1)
        .unwrap_or_else(|| panic!("{flag} takes a value"));
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{flag}: cannot parse {v:?}")),
    )
}

/// The strategies, in the order of the per-strategy lines and the table's columns.
const LABELS: [&str; 4] = [
    "goweave pct",
    "shuttle pct",
    "goweave random",
    "shuttle random",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let only: Option<Vec<String>> =
        arg::<String>(&args, "--program").map(|o| o.split(',').map(str::to_string).collect());
    let all = args.iter().any(|a| a == "--all");
    assert!(
        !(all && only.is_some()),
        "--all runs every program: drop --program"
    );
    let tool: Option<String> = arg(&args, "--tool");
    let depth: Option<usize> = arg(&args, "--depth");
    let seeds: u64 = arg(&args, "--seeds").unwrap_or(SEEDS);
    let budget: Option<u64> = arg(&args, "--budget");
    let known: Vec<String> = programs().into_iter().map(|p| p.name).collect();
    for o in only.iter().flatten() {
        assert!(
            known.contains(o),
            "--program {o}: no such program (known: {})",
            known.join(", ")
        );
    }
    println!("seeds 0..{seeds}; a miss counts as the budget (shown with >)");
    println!(
        "{:<17} {:<15} {:>5} {:>8} {:>8} {:>9}  schedules to the bug, per seed",
        "program", "tool/strategy", "found", "median", "worst", "time"
    );
    let mut table: Vec<(String, usize, u64, [Option<Row>; 4])> = Vec::new();
    for mut p in programs() {
        p.budget = budget.unwrap_or(p.budget);
        let depth = depth.unwrap_or(p.depth);
        if only.as_ref().is_some_and(|o| !o.contains(&p.name)) {
            continue;
        }
        let mut rows: [Option<Row>; 4] = [None; 4];
        for (i, label) in LABELS.iter().enumerate() {
            if tool
                .as_ref()
                .is_some_and(|t| !label.starts_with(t.as_str()))
            {
                continue;
            }
            let run = |seed| match i {
                0 => goweave_found(
                    &p,
                    StrategyKind::Pct {
                        depth: depth as u32,
                    },
                    seed,
                ),
                1 => shuttle_found(&p, Some(depth), seed),
                2 => goweave_found(&p, StrategyKind::Random, seed),
                _ => shuttle_found(&p, None, seed),
            };
            let start = Instant::now();
            let found: Vec<Option<u64>> = (0..seeds).map(run).collect();
            let row = summary(&found, p.budget);
            let per: Vec<String> = found
                .iter()
                .map(|f| f.map_or(format!(">{}", p.budget), |n| n.to_string()))
                .collect();
            println!(
                "{:<17} {:<15} {:>2}/{:<2} {:>8} {:>8} {:>9.2?}  {}",
                p.name,
                label,
                row.hits,
                seeds,
                mark(row.missed_median, row.median),
                mark(row.hits < seeds as usize, row.worst),
                start.elapsed(),
                per.join(" ")
            );
            rows[i] = Some(row);
        }
        table.push((p.name.clone(), depth, p.budget, rows));
    }
    print_table(&table, seeds);
}

/// `v`, prefixed with `>` when it is a lower bound.
fn mark(lower_bound: bool, v: u64) -> String {
    if lower_bound {
        format!(">{v}")
    } else {
        v.to_string()
    }
}

/// The summary: per program, goweave PCT's median and worst, shuttle PCT's median, their
/// ratio (the goal: at most 0.5), goweave Random's median, and how many seeds each strategy
/// found the bug with. A strategy not run shows `-`.
fn print_table(table: &[(String, usize, u64, [Option<Row>; 4])], seeds: u64) {
    println!();
    println!(
        "| program | depth | budget | goweave PCT median / worst | shuttle PCT median | ratio | \
         goweave Random median | found of {seeds}: gw PCT / sh PCT / gw Random / sh Random |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let cell = |r: &Option<Row>| r.map_or("-".to_string(), |r| mark(r.missed_median, r.median));
    let mut ratios = Vec::new();
    // Programs where both PCTs' medians are the first schedule: a ratio of 1 that no
    // strategy can lower.
    let mut floor = 0;
    for (name, depth, budget, rows) in table {
        let gw_pct = rows[0].map_or("-".to_string(), |r| {
            format!(
                "{} / {}",
                mark(r.missed_median, r.median),
                mark(r.hits < seeds as usize, r.worst)
            )
        });
        let ratio = match (rows[0], rows[1]) {
            (Some(g), Some(s)) => {
                let r = g.median as f64 / s.median.max(1) as f64;
                ratios.push(r);
                floor += (g.median <= 1 && s.median <= 1) as usize;
                format!("{r:.2}")
            }
            _ => "-".to_string(),
        };
        let found: Vec<String> = rows
            .iter()
            .map(|r| r.map_or("-".to_string(), |r| r.hits.to_string()))
            .collect();
        println!(
            "| {name} | {depth} | {budget} | {gw_pct} | {} | {ratio} | {} | {} |",
            cell(&rows[1]),
            cell(&rows[2]),
            found.join(" / ")
        );
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        let over = ratios.iter().filter(|&&r| r > 0.5).count();
        println!(
            "\nratio goweave PCT / shuttle PCT over {} programs: median {:.2}, worst {:.2}, \
             {over} above 0.5 ({floor} of them found by both in their first schedule)",
            ratios.len(),
            ratios[ratios.len() / 2],
            ratios[ratios.len() - 1]
        );
    }
}
