//! Async task benchmarks (`goweave::task`) in the shapes of the tokio anchor's workloads
//! (`benches/anchors/src/bin/tokio.rs`): each body runs inside a task, as the anchor's does.
//!
//! `cargo bench --bench tasks` (add a name fragment to run one: `cargo bench --bench tasks -- parked`)
//!
//! - `task_spawn_join_1m`: 1M tasks, each a trivial computation, awaited through their handles;
//! - `task_pingpong_unbuffered_1m`: two tasks, a round trip over two unbuffered channels
//!   (`send_async`/`recv_async`; tokio: `mpsc::channel(1)`);
//! - `task_mpmc_4x4_cap1024_4m`: 4 producer and 4 consumer tasks on one channel of capacity 1024
//!   (goweave's channels are MPMC; tokio shares its receiver behind an async mutex);
//! - `task_parked_1m`: 1M tasks awaiting a receive on one channel; resident bytes per task
//!   (tokio: a `watch` channel).

#[path = "util/mod.rs"]
mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goweave::{chan, task, Runtime};
use util::{median_ns_per_op, selected};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Run `f` in a task on a fresh 2-worker runtime and return its value.
fn in_task<F, T>(rt: &Runtime, f: F) -> T
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    rt.block_on(move || task::spawn(f).join())
}

fn task_spawn_join_1m() {
    let rt = rt();
    median_ns_per_op("task_spawn_join_1m", 7, || {
        in_task(&rt, async {
            const N: u64 = 1_000_000;
            let hs: Vec<_> = (0..N)
                .map(|i| task::spawn(async move { std::hint::black_box(i + 1) }))
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await;
            }
            assert_eq!(sum, N * (N + 1) / 2);
            N
        })
    });
}

fn task_pingpong_unbuffered_1m() {
    let rt = rt();
    median_ns_per_op("task_pingpong_unbuffered_1m", 7, || {
        in_task(&rt, async {
            const N: u64 = 1_000_000;
            let ping = chan::make::<u64>(0);
            let pong = chan::make::<u64>(0);
            let (pi, po) = (ping.clone(), pong.clone());
            let partner = task::spawn(async move {
                while let Some(v) = pi.recv_async().await {
                    po.send_async(v).await;
                }
            });
            for i in 0..N {
                ping.send_async(i).await;
                let v = pong.recv_async().await;
                debug_assert_eq!(v, Some(i));
            }
            ping.close();
            partner.await;
            N
        })
    });
}

fn task_mpmc_4x4_cap1024_4m() {
    let rt = rt();
    median_ns_per_op("task_mpmc_4x4_cap1024_4m", 7, || {
        in_task(&rt, async {
            const N: u64 = 4_000_000;
            let ch = chan::make::<u64>(1024);
            let producers: Vec<_> = (0..4)
                .map(|_| {
                    let tx = ch.clone();
                    task::spawn(async move {
                        for j in 0..N / 4 {
                            tx.send_async(j).await;
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = ch.clone();
                    task::spawn(async move {
                        let mut count = 0u64;
                        while rx.recv_async().await.is_some() {
                            count += 1;
                        }
                        count
                    })
                })
                .collect();
            for p in producers {
                p.await;
            }
            ch.close();
            let mut total = 0;
            for c in consumers {
                total += c.await;
            }
            assert_eq!(total, N);
            N
        })
    });
}

/// 1M tasks awaiting one channel that only main closes: resident memory (and page tables) per
/// parked task, measured as the growth of `VmRSS` while they are parked.
fn task_parked_1m() {
    const N: usize = 1_000_000;
    rt().block_on(|| {
        let gate = chan::make::<()>(0);
        let started = Arc::new(AtomicUsize::new(0));
        let rss0 = util::proc_status_bytes("VmRSS");
        let pte0 = util::proc_status_bytes("VmPTE");
        let exited = goweave::sync::WaitGroup::new();
        exited.add(N as i64);
        for _ in 0..N {
            let (gate, started, exited) = (gate.clone(), started.clone(), exited.clone());
            // Detached (no handle kept), as the tokio anchor's tasks are.
            drop(task::spawn(async move {
                started.fetch_add(1, Ordering::Relaxed);
                gate.recv_async().await;
                exited.done();
            }));
        }
        // The count and the park happen in the same poll: once every task has counted
        // itself, every task is parked (as the tokio anchor waits).
        while started.load(Ordering::Relaxed) < N {
            goweave::time::sleep(std::time::Duration::from_millis(20));
        }
        goweave::time::sleep(std::time::Duration::from_millis(100));
        let rss = util::proc_status_bytes("VmRSS") - rss0;
        let pte = util::proc_status_bytes("VmPTE") - pte0;
        println!(
            "bench=task_parked_1m bytes_per_goroutine={:.0} bytes_per_goroutine_with_pte={:.0} tasks={N}",
            rss as f64 / N as f64,
            (rss + pte) as f64 / N as f64
        );
        gate.close();
        exited.wait();
    });
}

fn main() {
    if selected("task_spawn_join_1m") {
        task_spawn_join_1m();
    }
    if selected("task_pingpong_unbuffered_1m") {
        task_pingpong_unbuffered_1m();
    }
    if selected("task_mpmc_4x4_cap1024_4m") {
        task_mpmc_4x4_cap1024_4m();
    }
    if selected("task_parked_1m") {
        task_parked_1m();
    }
}
