//! Sync-primitive benchmarks on the work-stealing executor, in the shape of the Go anchors
//! (`benches/go/main.go`): the time is measured inside the runtime, from before the goroutines
//! are started until the WaitGroup wait returns.
//!
//! `cargo bench --bench sync` (add a name fragment to run one: `cargo bench --bench sync -- fib`)
//!
//! - `mutex_1000x1000`: 1,000 goroutines, each 1,000 lock/unlock of one `Mutex` (ns per lock).
//! - `mutex_uncontended`: one goroutine, 10M lock/unlock (ns per lock/unlock pair).
//! - `fib20_fanout_100k`: 100k goroutines each computing fib(20), joined with a `WaitGroup`,
//!   on 2 workers and on 1 worker; `fib20_fanout_speedup` is the 1-worker time over the
//!   2-worker time (ideal: 2).

#[path = "util/mod.rs"]
mod util;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::sync::{Mutex, WaitGroup};
use goweave::Runtime;
use util::{median, selected};

const REPS: usize = 7;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Run `rep` `reps` times (each returns the measured time of `ops` operations) and print the
/// median ns/op.
fn report(
    name: &str,
    extra: &str,
    reps: usize,
    ops: u64,
    mut rep: impl FnMut() -> Duration,
) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| rep().as_nanos() as f64 / ops as f64)
        .collect();
    let m = median(&mut v);
    println!("bench={name} median_ns_per_op={m:.1} reps={reps} n={ops}{extra}");
    m
}

fn mutex_contended() {
    const G: u64 = 1_000;
    const PER: u64 = 1_000;
    let rt = rt(2);
    report("mutex_1000x1000", " workers=2", REPS, G * PER, || {
        rt.block_on(|| {
            let m = Arc::new(Mutex::new(0u64));
            let wg = WaitGroup::new();
            let start = Instant::now();
            wg.add(G as i64);
            for _ in 0..G {
                let (m, wg) = (m.clone(), wg.clone());
                goweave::go(move || {
                    for _ in 0..PER {
                        *m.lock() += 1;
                    }
                    wg.done();
                });
            }
            wg.wait();
            let d = start.elapsed();
            assert_eq!(*m.lock(), G * PER, "mutex counter mismatch");
            d
        })
    });
}

fn mutex_uncontended() {
    const N: u64 = 10_000_000;
    let rt = rt(2);
    report("mutex_uncontended", " workers=2", REPS, N, || {
        rt.block_on(|| {
            let m = Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..N {
                *black_box(&m).lock() += 1;
            }
            let d = start.elapsed();
            assert_eq!(*m.lock(), N);
            d
        })
    });
}

#[inline(never)]
fn fib(n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    fib(black_box(n - 1)) + fib(black_box(n - 2))
}

fn fib_fanout(workers: usize) -> f64 {
    const N: usize = 100_000;
    let rt = rt(workers);
    report(
        "fib20_fanout_100k",
        &format!(" workers={workers}"),
        5,
        N as u64,
        || {
            rt.block_on(|| {
                let out: Arc<Vec<goweave::sync::atomic::AtomicU64>> =
                    Arc::new((0..N).map(|_| Default::default()).collect());
                let wg = WaitGroup::new();
                let start = Instant::now();
                wg.add(N as i64);
                for i in 0..N {
                    let (out, wg) = (out.clone(), wg.clone());
                    goweave::go(move || {
                        out[i].store(fib(20), std::sync::atomic::Ordering::Relaxed);
                        wg.done();
                    });
                }
                wg.wait();
                let d = start.elapsed();
                assert!(out
                    .iter()
                    .all(|v| v.load(std::sync::atomic::Ordering::Relaxed) == 6765));
                d
            })
        },
    )
}

fn main() {
    if selected("mutex_1000x1000") {
        mutex_contended();
    }
    if selected("mutex_uncontended") {
        mutex_uncontended();
    }
    if selected("fib20_fanout") {
        let two = fib_fanout(2);
        let one = fib_fanout(1);
        println!(
            "bench=fib20_fanout_speedup value={:.3} ideal=2 within_10pct={}",
            one / two,
            one / two >= 1.8
        );
    }
}
