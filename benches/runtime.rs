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

/// Go's shape (benches/go/main.go): 1M goroutines each store into a slot and call `done` on
/// one WaitGroup; main waits. As in the Go program, the goroutines share the slots and the
/// WaitGroup by reference (here `&'static`, made once outside the timing, as Go allocates `out`
/// before its clock starts), not through a reference count bumped per goroutine.
fn spawn_waitgroup_1m() {
    const N: u64 = 1_000_000;
    let rt = rt();
    let out: &'static [AtomicU64] = Box::leak((0..N).map(|_| AtomicU64::new(0)).collect());
    let wg: &'static goweave::sync::WaitGroup =
        Box::leak(Box::new(goweave::sync::WaitGroup::new()));
    median_ns_per_op("spawn_waitgroup_1m", 5, || {
        rt.block_on(move || {
            wg.add(N as i64);
            for i in 0..N {
                go(move || {
                    out[i as usize].store(i + 1, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
            N
        })
    });
}

/// 1M goroutines parked (each waits on one WaitGroup that only main can release), at the
/// default stack size and `vm.max_map_count`: resident memory and page tables per goroutine.
fn parked_1m() {
    const N: u64 = 1_000_000;
    rt().block_on(|| {
        let started = goweave::sync::WaitGroup::new();
        let gate = goweave::sync::WaitGroup::new();
        gate.add(1);
        started.add(N as i64);
        let rss0 = util::proc_status_bytes("VmRSS");
        let pte0 = util::proc_status_bytes("VmPTE");
        for _ in 0..N {
            let (started, gate) = (started.clone(), gate.clone());
            go(move || {
                started.done();
                gate.wait();
            });
        }
        started.wait();
        // Let the last ones reach their park.
        for _ in 0..100 {
            gosched();
        }
        let rss = util::proc_status_bytes("VmRSS") - rss0;
        let pte = util::proc_status_bytes("VmPTE") - pte0;
        println!(
            "bench=parked_1m bytes_per_goroutine={:.0} bytes_per_goroutine_with_pte={:.0} goroutines={N}",
            rss as f64 / N as f64,
            (rss + pte) as f64 / N as f64
        );
        gate.done();
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
        // Every gosched is a scheduling point with a decision between the two goroutines.
        assert_eq!(stats.schedules, 200);
        200 * 1_000
    });
}

fn main() {
    if selected("spawn_join_1m") {
        spawn_join_1m();
    }
    if selected("spawn_waitgroup_1m") {
        spawn_waitgroup_1m();
    }
    if selected("parked_1m") {
        parked_1m();
    }
    if selected("controlled_sched_point") {
        controlled_sched_point();
    }
}
