//! Goroutine core benchmarks: spawn+join, memory of parked goroutines, and the controlled
//! executor's cost per scheduling point.
//!
//! `cargo bench --bench runtime` (add a name fragment to run one: `cargo bench --bench runtime -- spawn`)

#[path = "util/mod.rs"]
mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::runtime::gosched;
use goweave::{go, Checker, Runtime};
use util::{median_ns_per_op, selected};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

fn spawn_join_1m() {
    let rt = rt();
    median_ns_per_op("spawn_join_1m", 5, || {
        rt.block_on(|| {
            const N: u64 = 1_000_000;
            let hs: Vec<_> = (0..N).map(|i| go(move || i)).collect();
            let mut sum = 0;
            for h in hs {
                sum += h.join();
            }
            assert_eq!(sum, N * (N - 1) / 2);
            N
        })
    });
}

/// Two goroutines each pass `steps` scheduling points (gosched); the random strategy decides
/// at every one. Reports ns per scheduling point, switch and decision included.
fn controlled_sched_point() {
    let steps = Arc::new(AtomicU64::new(0));
    median_ns_per_op("controlled_sched_point", 5, || {
        let s = steps.clone();
        let stats = Checker::new()
            .iterations(200)
            .max_steps(1_000_000)
            .run(move || {
                let h = go(|| {
                    for _ in 0..500 {
                        gosched();
                    }
                });
                for _ in 0..500 {
                    gosched();
                }
                h.join();
                s.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        stats.steps
    });
}

fn main() {
    if selected("spawn_join_1m") {
        spawn_join_1m();
    }
    if selected("controlled_sched_point") {
        controlled_sched_point();
    }
}
