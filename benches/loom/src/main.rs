//! loom against goweave's controlled executor: schedules per second of exhaustive search on
//! the same programs, `t` threads (goroutines) each doing `ops` lock/increment/unlock rounds on
//! one mutex, joined by main (the programs of `benches/explore.rs`).
//!
//! ```text
//! cargo run --release --manifest-path benches/loom/Cargo.toml            # every row
//! cargo run --release --manifest-path benches/loom/Cargo.toml -- 2x10    # rows containing "2x10"
//! cargo run --release --manifest-path benches/loom/Cargo.toml -- dpor    # loom's executions on benches/dpor.rs's programs
//! ```
//!
//! The rate rows search depth-first: loom with its DPOR (it skips interleavings that only
//! reorder independent operations), goweave with `StrategyKind::DfsPlain` (every interleaving
//! of scheduling points, no reduction: the cost of one schedule, without the reduction's
//! bookkeeping). Neither finishes 2x10 quickly, so the rate rows time the first schedules of
//! each search, 7 samples of about 0.3 s of process CPU time each, alternating between the
//! two. The `exhaust` row runs a small program (2x2) to the end and reports how many schedules
//! each needed and how long it took: goweave's exhaustive mode (`Dfs`, optimal DPOR: one
//! schedule per trace), loom's DPOR, and goweave's plain search, which shows what a reduction
//! buys (2x3 takes the plain search about 1.8M schedules and 10 s; loom 315 and 15 ms; DPOR
//! 20).
//!
//! Output, one line per figure, in the key=value shape of the other anchors:
//!
//! ```text
//! anchor=loom bench=explore_2x10 schedules_per_sec=<median> samples=7
//! anchor=goweave bench=explore_2x10 strategy=dfs schedules_per_sec=<median> samples=7 ratio_vs_loom=<median of per-sample ratios>
//! anchor=loom bench=exhaust_2x2 schedules=<n> secs=<t>
//! anchor=goweave bench=exhaust_2x2 strategy=dpor schedules=<n> secs=<t>
//! anchor=goweave bench=exhaust_2x2_plain strategy=dfs-plain schedules=<n> secs=<t>
//! ```

mod dpor;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SAMPLES: usize = 7;
const SAMPLE_TIME: Duration = Duration::from_millis(300);

/// Executions of the loom model so far (loom has no counter of its own).
static LOOM_RUNS: AtomicU64 = AtomicU64::new(0);

fn loom_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        LOOM_RUNS.fetch_add(1, Ordering::Relaxed);
        let m = loom::sync::Arc::new(loom::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let m = m.clone();
                loom::thread::spawn(move || {
                    for _ in 0..ops {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock().unwrap(), t * ops);
    }
}

fn goweave_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = std::sync::Arc::new(goweave::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let m = m.clone();
                goweave::go(move || {
                    for _ in 0..ops {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(*m.lock(), t * ops);
    }
}

/// Run loom's search of `t`x`ops` for at most `n` executions (`None`: to the end). Returns the
/// executions run.
fn loom_run(t: u64, ops: u64, n: Option<u64>) -> u64 {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    b.max_branches = 100_000;
    // loom looks at `max_permutations` only every `checkpoint_interval` executions.
    b.checkpoint_interval = 64;
    b.max_permutations = n.map(|n| n.div_ceil(64) as usize * 64);
    let before = LOOM_RUNS.load(Ordering::Relaxed);
    b.check(loom_program(t, ops));
    LOOM_RUNS.load(Ordering::Relaxed) - before
}

/// Run goweave's depth-first search of `t`x`ops` (`strategy`: `DfsPlain` or `Dfs`) for at
/// most `n` schedules (`None`: to the end). Returns the schedules run.
fn goweave_run(t: u64, ops: u64, strategy: goweave::StrategyKind, n: Option<u64>) -> u64 {
    let mut c = goweave::Checker::new()
        .strategy(strategy)
        .max_steps(1_000_000);
    if let Some(n) = n {
        c = c.iterations(n);
    }
    c.run(goweave_program(t, ops))
        .expect("the mutex program is correct")
        .schedules
}

/// CPU time used by this process so far (all threads), which other load on the machine does
/// not inflate the way it inflates wall time.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Schedules per CPU-second of `run(n)`.
fn rate(run: &mut dyn FnMut(u64) -> u64, n: u64) -> f64 {
    let t = cpu_time();
    let done = run(n);
    done as f64 / (cpu_time() - t).as_secs_f64()
}

/// Schedules that fit in about one sample.
fn calibrate(run: &mut dyn FnMut(u64) -> u64) -> u64 {
    let mut n = 64;
    loop {
        let t = cpu_time();
        run(n);
        let el = cpu_time() - t;
        if el >= SAMPLE_TIME / 4 {
            return ((n as f64) * SAMPLE_TIME.as_secs_f64() / el.as_secs_f64()).max(64.0) as u64;
        }
        n *= 4;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    dpor::run(&wanted);

    for (t, ops) in [(2, 10)] {
        let name = format!("explore_{t}x{ops}");
        if !wanted(&name) {
            continue;
        }
        let mut lm = |n: u64| loom_run(t, ops, Some(n));
        // The plain search (every interleaving): what this anchor has always timed.
        let mut gw = |n: u64| goweave_run(t, ops, goweave::StrategyKind::DfsPlain, Some(n));
        let (ln, gn) = (calibrate(&mut lm), calibrate(&mut gw));
        let (mut l, mut g, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..SAMPLES {
            let a = rate(&mut lm, ln);
            let b = rate(&mut gw, gn);
            l.push(a);
            g.push(b);
            ratio.push(b / a);
        }
        println!(
            "anchor=loom bench={name} schedules_per_sec={:.0} samples={SAMPLES}",
            median(l)
        );
        println!(
            "anchor=goweave bench={name} strategy=dfs schedules_per_sec={:.0} samples={SAMPLES} ratio_vs_loom={:.2}",
            median(g),
            median(ratio)
        );
    }

    for (t, ops) in [(2, 2)] {
        let name = format!("exhaust_{t}x{ops}");
        if !wanted(&name) {
            continue;
        }
        let start = Instant::now();
        let n = loom_run(t, ops, None);
        println!(
            "anchor=loom bench={name} schedules={n} secs={:.4}",
            start.elapsed().as_secs_f64()
        );
        for (strategy, bench, label) in [
            (
                goweave::StrategyKind::Dfs {
                    max_preemptions: None,
                },
                name.clone(),
                "dpor",
            ),
            (
                goweave::StrategyKind::DfsPlain,
                format!("{name}_plain"),
                "dfs-plain",
            ),
        ] {
            let start = Instant::now();
            let n = goweave_run(t, ops, strategy, None);
            println!(
                "anchor=goweave bench={bench} strategy={label} schedules={n} secs={:.4}",
                start.elapsed().as_secs_f64()
            );
        }
    }
}
