//! The cost of recording (issue 21): the channel workloads of `benches/chan.rs` on a 2-worker
//! work-stealing runtime, with recording off and on, in alternating repetitions.
//!
//! `cargo bench --bench record` (add a name fragment to run one: `cargo bench --bench record -- ping`)
//!
//! `RECORD_SIDE=off` or `RECORD_SIDE=on` runs one side only (for a profiler: `perf record` of
//! each side of the same binary).
//!
//! Prints, per workload, `bench=record_<name> off_median_ns_per_op=<x> off_worst=<x>
//! on_median_ns_per_op=<y> on_worst=<y> ratio=<y/x> off_best=<x> on_best=<y>
//! best_ratio=<y/x> reps=<n>` (`ratio`: of the medians; `best_ratio`: of the fastest
//! repetitions, the least disturbed by other load on a shared machine).

#[path = "util/mod.rs"]
mod util;

use std::time::Instant;

use goweave::Runtime;
use util::chan_work::{mpmc, pingpong, ring, select4};
use util::{median, selected};

const REPS: usize = 9;

fn rt(record: bool) -> Runtime {
    Runtime::builder()
        .workers(2)
        .record(record)
        .record_limit(1 << 24)
        .build()
        .unwrap()
}

fn ns_per_op(rt: &Runtime, n: u64, f: fn(u64) -> u64) -> f64 {
    let t = Instant::now();
    let ops = rt.block_on(move || f(n));
    t.elapsed().as_nanos() as f64 / ops as f64
}

fn bench(name: &str, n: u64, f: fn(u64) -> u64) {
    if !selected(name) {
        return;
    }
    let side = std::env::var("RECORD_SIDE").unwrap_or_default();
    if side == "off" || side == "on" {
        let rt = rt(side == "on");
        ns_per_op(&rt, n / 10, f);
        let mut v: Vec<f64> = (0..REPS).map(|_| ns_per_op(&rt, n, f)).collect();
        println!(
            "bench=record_{name}_{side} median_ns_per_op={:.1} reps={REPS}",
            median(&mut v)
        );
        return;
    }
    let (off, on) = (rt(false), rt(true));
    // Warm up both (stacks, pools), then alternate so that both see the same machine load.
    ns_per_op(&off, n / 10, f);
    ns_per_op(&on, n / 10, f);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        a.push(ns_per_op(&off, n, f));
        b.push(ns_per_op(&on, n, f));
    }
    let worst = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let best = |v: &[f64]| v.iter().cloned().fold(f64::MAX, f64::min);
    let (wa, wb) = (worst(&a), worst(&b));
    let (ba, bb) = (best(&a), best(&b));
    let (ma, mb) = (median(&mut a), median(&mut b));
    println!(
        "bench=record_{name} off_median_ns_per_op={ma:.1} off_worst={wa:.1} on_median_ns_per_op={mb:.1} on_worst={wb:.1} ratio={:.2} off_best={ba:.1} on_best={bb:.1} best_ratio={:.2} reps={REPS}",
        mb / ma,
        bb / ba
    );
}

/// solo_cap1024: one goroutine alone sends 1,000 values into a channel of capacity 1,024, then
/// receives them, over and over; ns per operation. Nothing contends and nothing parks, so the
/// difference between off and on is recording's own cost per operation (the other workloads
/// add what it does to the lock hand-offs and to the scheduling between workers).
fn solo(n: u64) -> u64 {
    let ch = goweave::chan::make::<u64>(1024);
    let rounds = n / 2000;
    for r in 0..rounds {
        for j in 0..1000 {
            ch.send(r + j);
        }
        for _ in 0..1000 {
            ch.recv();
        }
    }
    rounds * 2000
}

fn main() {
    bench("pingpong_unbuffered", 200_000, pingpong);
    bench("ring_1000", 200_000, ring);
    bench("mpmc_4x4_cap1024", 1_000_000, mpmc);
    bench("select4", 200_000, select4);
    bench("solo_cap1024", 2_000_000, solo);
}
