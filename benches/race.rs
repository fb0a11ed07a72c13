//! What data-race detection costs, on both executors.
//!
//! ```text
//! cargo bench --bench race                   # controlled: with/without; work-stealing: no detector
//! cargo bench --bench race --features race   # work-stealing with the detector, and the slowdown
//! ```
//!
//! - **Controlled executor** (detection always available, switched by
//!   `Checker::race_detection`): schedules per CPU-second of small programs with and without
//!   detection, in alternating samples; the table shows the median rates and the median of the
//!   per-sample ratios (the issue asks for ≥ 0.7).
//! - **Work-stealing executor** (detection only with the `race` feature): median ns per
//!   operation of an unbuffered ping-pong and of contended and uncontended mutex loops. Each run
//!   saves its figures under `target/race-bench/`; the run with the feature prints the slowdown
//!   over the latest run without it (the issue asks for ≤ 5×; Go's `-race` costs 2–20×).
//!
//! Add a name fragment to run some only: `cargo bench --bench race -- pingpong`.

#[path = "util/mod.rs"]
mod util;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::cell::RaceCell;
use goweave::sync::{Mutex, WaitGroup};
use goweave::{chan, go, Checker, Runtime};
use util::{median, selected};

const SAMPLES: usize = 7;
const SAMPLE_TIME: Duration = Duration::from_millis(250);

// ------------------------------------------------------------------ controlled executor

/// `t` goroutines, `ops` lock/increment rounds each on one mutex (the explore bench's program).
fn mutex_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let m = m.clone();
                go(move || {
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

/// Main and a partner ping-pong `n` values over two unbuffered channels.
fn pingpong_program(n: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let (ping, pong) = (chan::make::<u64>(0), chan::make::<u64>(0));
        let (pi, po) = (ping.clone(), pong.clone());
        let h = go(move || {
            for v in &pi {
                po.send(v + 1);
            }
        });
        for i in 0..n {
            ping.send(i);
            assert_eq!(pong.recv(), Some(i + 1));
        }
        ping.close();
        h.join();
    }
}

/// `t` goroutines, `ops` read-modify-writes each of a `RaceCell` under a mutex, then a
/// wait group; main reads the cell.
fn racecell_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(Mutex::new(()));
        let cell = Arc::new(RaceCell::named("counter", 0u64));
        let wg = WaitGroup::new();
        wg.add(t as i64);
        for _ in 0..t {
            let (m, cell, wg) = (m.clone(), cell.clone(), wg.clone());
            go(move || {
                for _ in 0..ops {
                    let _g = m.lock();
                    cell.set(cell.get() + 1);
                }
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(cell.get(), t * ops);
    }
}

/// CPU time of this process (all threads): other load on the machine does not count.
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

fn controlled(name: &str, program: &(dyn Fn() -> Box<dyn Fn() + Send + Sync> + Sync)) {
    let name = format!("controlled_{name}");
    if !selected(&name) {
        return;
    }
    let mut seed = 0;
    let mut run = |race: bool, n: u64| {
        seed += 1;
        let p = program();
        let t = cpu_time();
        Checker::new()
            .seed(seed)
            .iterations(n)
            .race_detection(race)
            .run(p)
            .unwrap();
        n as f64 / (cpu_time() - t).as_secs_f64()
    };
    // Schedules that fit in one sample (without detection, the faster).
    let mut n = 16;
    let n = loop {
        let rate = run(false, n);
        let secs = n as f64 / rate;
        if secs >= SAMPLE_TIME.as_secs_f64() / 4.0 {
            break ((rate * SAMPLE_TIME.as_secs_f64()) as u64).max(1);
        }
        n *= 4;
    };
    let (mut on, mut off, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        // Alternate which goes first, so that a drift in machine load hits both alike.
        let (a, b) = if i % 2 == 0 {
            let b = run(false, n);
            (run(true, n), b)
        } else {
            let a = run(true, n);
            (a, run(false, n))
        };
        on.push(a);
        off.push(b);
        ratio.push(a / b);
    }
    let (on, off, ratio) = (median(&mut on), median(&mut off), median(&mut ratio));
    println!(
        "bench={name} race_sched_per_s={on:.0} norace_sched_per_s={off:.0} median_ratio={ratio:.2} samples={SAMPLES}"
    );
}

// -------------------------------------------------------------- work-stealing executor

const REPS: usize = 7;

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Median ns per op of `REPS` runs of `f`, which returns (ops, measured time).
fn steal(name: &str, results: &mut Vec<(String, f64)>, f: impl Fn() -> (u64, Duration)) {
    let name = format!("steal_{name}");
    if !selected(&name) {
        return;
    }
    let mut v: Vec<f64> = (0..REPS)
        .map(|_| {
            let (ops, d) = f();
            d.as_nanos() as f64 / ops as f64
        })
        .collect();
    let m = median(&mut v);
    let race = if cfg!(feature = "race") { "on" } else { "off" };
    println!("bench={name} race={race} median_ns_per_op={m:.1} reps={REPS}");
    results.push((name, m));
}

fn steal_pingpong() -> (u64, Duration) {
    const N: u64 = 200_000;
    rt().block_on(|| {
        let start = Instant::now();
        pingpong_program(N)();
        (N, start.elapsed())
    })
}

fn steal_mutex_contended() -> (u64, Duration) {
    const G: u64 = 1_000;
    const PER: u64 = 200;
    rt().block_on(|| {
        let m = Arc::new(Mutex::new(0u64));
        let wg = WaitGroup::new();
        let start = Instant::now();
        wg.add(G as i64);
        for _ in 0..G {
            let (m, wg) = (m.clone(), wg.clone());
            go(move || {
                for _ in 0..PER {
                    *m.lock() += 1;
                }
                wg.done();
            });
        }
        wg.wait();
        let d = start.elapsed();
        assert_eq!(*m.lock(), G * PER);
        (G * PER, d)
    })
}

fn steal_mutex_uncontended() -> (u64, Duration) {
    const N: u64 = 2_000_000;
    rt().block_on(|| {
        let m = Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..N {
            *std::hint::black_box(&m).lock() += 1;
        }
        let d = start.elapsed();
        assert_eq!(*m.lock(), N);
        (N, d)
    })
}

/// Where each configuration's work-stealing figures are kept.
fn results_file(race: bool) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let name = if race {
        "steal_race.txt"
    } else {
        "steal_norace.txt"
    };
    target.join("race-bench").join(name)
}

fn save(results: &[(String, f64)]) {
    let path = results_file(cfg!(feature = "race"));
    let _ = std::fs::create_dir_all(path.parent().unwrap());
    let text: String = results.iter().map(|(n, v)| format!("{n} {v}\n")).collect();
    let _ = std::fs::write(&path, text);
}

fn load(race: bool) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(results_file(race)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(' ')?;
            Some((n.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn main() {
    controlled("mutex_4x10", &|| Box::new(mutex_program(4, 10)));
    controlled("mutex_8x100", &|| Box::new(mutex_program(8, 100)));
    controlled("pingpong_20", &|| Box::new(pingpong_program(20)));
    controlled("racecell_4x10", &|| Box::new(racecell_program(4, 10)));

    let mut results = Vec::new();
    steal("pingpong_unbuffered_200k", &mut results, steal_pingpong);
    steal("mutex_1000x200", &mut results, steal_mutex_contended);
    steal(
        "mutex_uncontended_2m",
        &mut results,
        steal_mutex_uncontended,
    );
    save(&results);
    let (with, without) = if cfg!(feature = "race") {
        (results.clone(), load(false))
    } else {
        (load(true), results.clone())
    };
    for (name, on) in &with {
        if let Some((_, off)) = without.iter().find(|(n, _)| n == name) {
            println!(
                "bench={name} race_slowdown={:.2}x race_ns_per_op={on:.1} norace_ns_per_op={off:.1}",
                on / off
            );
        }
    }
    if without.is_empty() || with.is_empty() {
        println!(
            "(run `cargo bench --bench race` and `cargo bench --bench race --features race` for the work-stealing slowdown)"
        );
    }
}
