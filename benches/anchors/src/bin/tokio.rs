//! tokio anchor: multi-thread runtime with `workers` worker threads (default: available
//! parallelism). Each workload body runs inside a spawned task (as Go's `main` runs on a P),
//! not directly in `block_on`, so that its spawns go to a worker's local queue.
//!
//! Channel mapping (tokio has no capacity-0 channel and no MPMC channel):
//! - unbuffered Go channel -> `tokio::sync::mpsc::channel(1)`. In ping-pong and in the ring at
//!   most one message is ever in flight per channel, so every message still costs exactly one
//!   hand-off to (and wake-up of) the peer, as a Go rendezvous does; capacity 1 is the closest
//!   rendezvous-like approximation (a `oneshot` per round trip would add an allocation and a
//!   channel setup per message, which Go does not pay).
//! - `select4`: four `mpsc::channel(1)` and `tokio::select!` (random branch order like Go);
//!   needs tokio's `macros` feature.
//! - `mpmc_4x4_cap1024_4m`: one `mpsc::channel(1024)`; the four consumers share the receiver
//!   through `Arc<tokio::sync::Mutex<Receiver>>` (the usual tokio idiom for MPMC).
//! - `parked_1m`: the tasks wait on one shared `tokio::sync::watch` channel
//!   (`Receiver::changed()`), the analogue of goroutines blocked receiving on one channel.

use goweave_anchors::{fib, per_task_bytes, proc_status_kb, repeat, Bench, ChildArgs, Outcome};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, Mutex, Notify};

const BENCHES: &[Bench] = &[
    Bench { name: "spawn_join_1m", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "parked_1m", n: 1_000_000, reps: 3, fallback_n: None },
    Bench { name: "pingpong_unbuffered_1m", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "ring_1000_1m_hops", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "mpmc_4x4_cap1024_4m", n: 4_000_000, reps: 7, fallback_n: None },
    Bench { name: "select4", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "mutex_1000x1000", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "mutex_uncontended", n: 10_000_000, reps: 7, fallback_n: None },
    Bench { name: "fib20_fanout_100k", n: 100_000, reps: 3, fallback_n: None },
];

fn main() {
    goweave_anchors::main("tokio", BENCHES, run);
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .expect("tokio runtime")
}

/// Runs `f(n)` inside a task spawned on `rt` and returns its result.
fn in_task<F, Fut, T>(rt: &Runtime, n: usize, f: F) -> T
where
    F: FnOnce(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let fut = f(n);
    rt.block_on(async move { tokio::spawn(fut).await.expect("bench task panicked") })
}

fn run(a: ChildArgs) -> Outcome {
    let rt = runtime(a.workers);
    let (n, reps) = (a.n, a.reps);
    match a.name {
        "spawn_join_1m" => repeat(n, reps, |n| in_task(&rt, n, spawn_join)),
        "parked_1m" => in_task(&rt, n, parked),
        "pingpong_unbuffered_1m" => repeat(n, reps, |n| in_task(&rt, n, pingpong)),
        "ring_1000_1m_hops" => repeat(n, reps, |n| in_task(&rt, n, ring)),
        "mpmc_4x4_cap1024_4m" => repeat(n, reps, |n| in_task(&rt, n, mpmc)),
        "select4" => repeat(n, reps, |n| in_task(&rt, n, select4)),
        "mutex_1000x1000" => repeat(n, reps, |n| in_task(&rt, n, mutex_contended)),
        "mutex_uncontended" => repeat(n, reps, |n| in_task(&rt, n, mutex_uncontended)),
        "fib20_fanout_100k" => repeat(n, reps, |n| in_task(&rt, n, fib_fanout)),
        other => panic!("unknown bench {other}"),
    }
}

/// n tasks, each a trivial computation, joined through their JoinHandles.
async fn spawn_join(n: usize) -> Duration {
    let mut handles = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        handles.push(tokio::spawn(async move { std::hint::black_box(i + 1) }));
    }
    let mut sum = 0usize;
    for h in handles.drain(..) {
        sum += h.await.unwrap();
    }
    let d = start.elapsed();
    assert_eq!(sum, n * (n + 1) / 2);
    d
}

/// n tasks blocked on one shared watch channel; RSS growth per task.
async fn parked(n: usize) -> Outcome {
    let before = proc_status_kb();
    let (tx, rx) = tokio::sync::watch::channel(0u8);
    let started = Arc::new(AtomicUsize::new(0));
    let left = Arc::new(AtomicUsize::new(n));
    let all_exited = Arc::new(Notify::new());
    for _ in 0..n {
        let mut rx = rx.clone();
        let (started, left, all_exited) = (started.clone(), left.clone(), all_exited.clone());
        // Detached: no JoinHandle is kept, so no per-task bookkeeping outside the task.
        drop(tokio::spawn(async move {
            started.fetch_add(1, Ordering::Relaxed);
            let _ = rx.changed().await;
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_exited.notify_one();
            }
        }));
    }
    drop(rx);
    // The increment and the park happen in the same poll: once every task has counted
    // itself, every task is parked.
    while started.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = proc_status_kb();
    tx.send(1).unwrap();
    all_exited.notified().await;
    let (a, b) = per_task_bytes(before, after, n);
    Outcome::Memory(a, b)
}

async fn pingpong(n: usize) -> Duration {
    let (ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
    let partner = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping_tx.send(i).await.unwrap();
        let v = pong_rx.recv().await.unwrap();
        debug_assert_eq!(v, i);
    }
    let d = start.elapsed();
    drop(ping_tx);
    partner.await.unwrap();
    d
}

/// Ring of 1000 tasks; the token is the number of hops left, -1 shuts the ring down.
async fn ring(n: usize) -> Duration {
    const SIZE: usize = 1000;
    let mut txs = Vec::with_capacity(SIZE);
    let mut rxs = Vec::with_capacity(SIZE);
    for _ in 0..SIZE {
        let (tx, rx) = mpsc::channel::<i64>(1);
        txs.push(tx);
        rxs.push(rx);
    }
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut handles = Vec::with_capacity(SIZE);
    for (i, mut rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % SIZE].clone();
        let done = done_tx.clone();
        handles.push(tokio::spawn(async move {
            while let Some(v) = rx.recv().await {
                if v < 0 {
                    let _ = next.send(-1).await;
                    break;
                } else if v == 0 {
                    done.send(()).await.unwrap();
                } else {
                    next.send(v - 1).await.unwrap();
                }
            }
        }));
    }
    let start = Instant::now();
    txs[0].send(n as i64).await.unwrap();
    done_rx.recv().await.unwrap();
    let d = start.elapsed();
    txs[0].send(-1).await.unwrap();
    for h in handles {
        h.await.unwrap();
    }
    d
}

async fn mpmc(n: usize) -> Duration {
    let (tx, rx) = mpsc::channel::<usize>(1024);
    let rx = Arc::new(Mutex::new(rx));
    let start = Instant::now();
    let mut producers = Vec::new();
    for _ in 0..4 {
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for j in 0..n / 4 {
                tx.send(j).await.unwrap();
            }
        }));
    }
    drop(tx);
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let rx = rx.clone();
        consumers.push(tokio::spawn(async move {
            let mut count = 0usize;
            loop {
                let v = rx.lock().await.recv().await;
                match v {
                    Some(_) => count += 1,
                    None => break count,
                }
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    let mut total = 0;
    for c in consumers {
        total += c.await.unwrap();
    }
    let d = start.elapsed();
    assert_eq!(total, n / 4 * 4);
    d
}

async fn select4(n: usize) -> Duration {
    let mut rxs = Vec::new();
    let start = Instant::now();
    for _ in 0..4 {
        let (tx, rx) = mpsc::channel::<usize>(1);
        rxs.push(rx);
        tokio::spawn(async move {
            for j in 0..n / 4 {
                tx.send(j).await.unwrap();
            }
        });
    }
    let [mut r0, mut r1, mut r2, mut r3]: [mpsc::Receiver<usize>; 4] = rxs.try_into().unwrap();
    let mut sum = 0usize;
    for _ in 0..n / 4 * 4 {
        tokio::select! {
            Some(v) = r0.recv() => sum += v,
            Some(v) = r1.recv() => sum += v,
            Some(v) = r2.recv() => sum += v,
            Some(v) = r3.recv() => sum += v,
        }
    }
    let d = start.elapsed();
    std::hint::black_box(sum);
    d
}

async fn mutex_contended(n: usize) -> Duration {
    const TASKS: usize = 1000;
    let m = Arc::new(Mutex::new(0usize));
    let start = Instant::now();
    let mut hs = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let m = m.clone();
        hs.push(tokio::spawn(async move {
            for _ in 0..n / TASKS {
                *m.lock().await += 1;
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let d = start.elapsed();
    assert_eq!(*m.lock().await, n / TASKS * TASKS);
    d
}

async fn mutex_uncontended(n: usize) -> Duration {
    let m = Mutex::new(0usize);
    let start = Instant::now();
    for _ in 0..n {
        *m.lock().await += 1;
    }
    let d = start.elapsed();
    std::hint::black_box(*m.lock().await);
    d
}

async fn fib_fanout(n: usize) -> Duration {
    let mut hs = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        hs.push(tokio::spawn(async { fib(20) }));
    }
    for h in hs.drain(..) {
        assert_eq!(h.await.unwrap(), 6765);
    }
    start.elapsed()
}
