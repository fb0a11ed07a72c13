//! Channel and select benchmarks, on the same workloads as the Go anchors
//! (`benches/go/main.go`) and the tokio/may anchors (`benches/anchors`).
//!
//! `cargo bench --bench chan` (add a name fragment to run one: `cargo bench --bench chan -- ring`)
//!
//! Every workload runs on a 2-worker work-stealing runtime, one `block_on` per repetition, and
//! prints `bench=<name> median_ns_per_op=<x> reps=<n>`.

#[path = "util/mod.rs"]
mod util;

use goweave::Runtime;
use util::chan_work::{mpmc, pingpong, ring, select4};
use util::{median_ns_per_op, selected};

const REPS: usize = 7;

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

fn bench(name: &str, n: u64, f: fn(u64) -> u64) {
    if !selected(name) {
        return;
    }
    let rt = rt();
    median_ns_per_op(name, REPS, || rt.block_on(move || f(n)));
}

fn main() {
    bench("pingpong_unbuffered_1m", 1_000_000, pingpong);
    bench("ring_1000_1m_hops", 1_000_000, ring);
    bench("mpmc_4x4_cap1024_4m", 4_000_000, mpmc);
    bench("select4", 1_000_000, select4);
}
