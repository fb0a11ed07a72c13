//! may anchor: stackful coroutines (`may` 0.3) on `workers` worker threads (default:
//! available parallelism), set with `may::config().set_workers` before the first spawn.
//! Each workload body runs inside a coroutine (as Go's `main` is a goroutine), and the
//! driver thread joins it.
//!
//! Channel mapping (may has no bounded channels at all):
//! - unbuffered Go channel -> `may::sync::mpsc::channel` (unbounded). In ping-pong and in the
//!   ring only one message is in flight, so each message still costs one hand-off to the peer.
//! - `select4`: four unbounded `may::sync::mpsc` channels and `may::select!` in a loop (may's
//!   select spawns one helper coroutine per branch per call, then cancels the losers). The
//!   senders never block here, unlike Go's unbuffered channels.
//! - `mpmc_4x4_cap1024_4m`: `may::sync::mpmc::channel` (unbounded; no capacity 1024).
//! - `parked_1m`: the coroutines block on one shared `may::sync::mpmc` channel (cloned
//!   receivers). Every may coroutine has its own mmap'd stack plus a guard page (2 memory
//!   mappings), so about 32K live coroutines exhaust `vm.max_map_count` (65530 by default):
//!   1M fails, the driver reports `error=...` and re-measures at `fallback_n`.

use goweave_anchors::{fib, per_task_bytes, proc_status_kb, repeat, Bench, ChildArgs, Outcome};
use may::go;
use may::sync::{mpmc, mpsc, Mutex};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BENCHES: &[Bench] = &[
    Bench { name: "spawn_join_1m", n: 1_000_000, reps: 7, fallback_n: Some(20_000) },
    Bench { name: "parked_1m", n: 1_000_000, reps: 3, fallback_n: Some(20_000) },
    Bench { name: "pingpong_unbuffered_1m", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "ring_1000_1m_hops", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "mpmc_4x4_cap1024_4m", n: 4_000_000, reps: 7, fallback_n: None },
    Bench { name: "select4", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "mutex_1000x1000", n: 1_000_000, reps: 7, fallback_n: None },
    Bench { name: "mutex_uncontended", n: 10_000_000, reps: 7, fallback_n: None },
    Bench { name: "fib20_fanout_100k", n: 100_000, reps: 3, fallback_n: Some(20_000) },
];

fn main() {
    goweave_anchors::main("may", BENCHES, run);
}

/// Runs `f(n)` in a coroutine and joins it from the driver thread.
fn in_co<T: Send + 'static>(n: usize, f: fn(usize) -> T) -> T {
    go!(move || f(n)).join().expect("bench coroutine panicked")
}

fn run(a: ChildArgs) -> Outcome {
    may::config().set_workers(a.workers);
    let (n, reps) = (a.n, a.reps);
    match a.name {
        "spawn_join_1m" => repeat(n, reps, |n| in_co(n, spawn_join)),
        "parked_1m" => in_co(n, parked),
        "pingpong_unbuffered_1m" => repeat(n, reps, |n| in_co(n, pingpong)),
        "ring_1000_1m_hops" => repeat(n, reps, |n| in_co(n, ring)),
        "mpmc_4x4_cap1024_4m" => repeat(n, reps, |n| in_co(n, mpmc_bench)),
        "select4" => repeat(n, reps, |n| in_co(n, select4)),
        "mutex_1000x1000" => repeat(n, reps, |n| in_co(n, mutex_contended)),
        "mutex_uncontended" => repeat(n, reps, |n| in_co(n, mutex_uncontended)),
        "fib20_fanout_100k" => repeat(n, reps, |n| in_co(n, fib_fanout)),
        other => panic!("unknown bench {other}"),
    }
}

fn spawn_join(n: usize) -> Duration {
    let mut handles = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        handles.push(go!(move || std::hint::black_box(i + 1)));
    }
    let mut sum = 0usize;
    for h in handles.drain(..) {
        sum += h.join().unwrap();
    }
    let d = start.elapsed();
    assert_eq!(sum, n * (n + 1) / 2);
    d
}

fn parked(n: usize) -> Outcome {
    let before = proc_status_kb();
    let (tx, rx) = mpmc::channel::<()>();
    let started = Arc::new(AtomicUsize::new(0));
    let wg = may::sync::WaitGroup::new();
    for _ in 0..n {
        let rx = rx.clone();
        let started = started.clone();
        let wg = wg.clone();
        // Detached (JoinHandle dropped); the WaitGroup clone is the join.
        drop(go!(move || {
            started.fetch_add(1, Ordering::Relaxed);
            let _ = rx.recv();
            drop(wg);
        }));
    }
    drop(rx);
    while started.load(Ordering::Relaxed) < n {
        may::coroutine::sleep(Duration::from_millis(20));
    }
    may::coroutine::sleep(Duration::from_millis(100));
    let after = proc_status_kb();
    drop(tx); // every recv() returns Err: all coroutines exit
    wg.wait();
    let (a, b) = per_task_bytes(before, after, n);
    Outcome::Memory(a, b)
}

fn pingpong(n: usize) -> Duration {
    let (ping_tx, ping_rx) = mpsc::channel::<usize>();
    let (pong_tx, pong_rx) = mpsc::channel::<usize>();
    let partner = go!(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping_tx.send(i).unwrap();
        let v = pong_rx.recv().unwrap();
        debug_assert_eq!(v, i);
    }
    let d = start.elapsed();
    drop(ping_tx);
    partner.join().unwrap();
    d
}

/// Ring of 1000 coroutines; the token is the number of hops left, -1 shuts it down.
fn ring(n: usize) -> Duration {
    const SIZE: usize = 1000;
    let mut txs = Vec::with_capacity(SIZE);
    let mut rxs = Vec::with_capacity(SIZE);
    for _ in 0..SIZE {
        let (tx, rx) = mpsc::channel::<i64>();
        txs.push(tx);
        rxs.push(rx);
    }
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut handles = Vec::with_capacity(SIZE);
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % SIZE].clone();
        let done = done_tx.clone();
        handles.push(go!(move || {
            while let Ok(v) = rx.recv() {
                if v < 0 {
                    let _ = next.send(-1);
                    break;
                } else if v == 0 {
                    done.send(()).unwrap();
                } else {
                    next.send(v - 1).unwrap();
                }
            }
        }));
    }
    let start = Instant::now();
    txs[0].send(n as i64).unwrap();
    done_rx.recv().unwrap();
    let d = start.elapsed();
    txs[0].send(-1).unwrap();
    for h in handles {
        h.join().unwrap();
    }
    d
}

fn mpmc_bench(n: usize) -> Duration {
    let (tx, rx) = mpmc::channel::<usize>();
    let start = Instant::now();
    let mut producers = Vec::new();
    for _ in 0..4 {
        let tx = tx.clone();
        producers.push(go!(move || {
            for j in 0..n / 4 {
                tx.send(j).unwrap();
            }
        }));
    }
    drop(tx);
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let rx = rx.clone();
        consumers.push(go!(move || {
            let mut count = 0usize;
            while rx.recv().is_ok() {
                count += 1;
            }
            count
        }));
    }
    drop(rx);
    for p in producers {
        p.join().unwrap();
    }
    let total: usize = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    let d = start.elapsed();
    assert_eq!(total, n / 4 * 4);
    d
}

fn select4(n: usize) -> Duration {
    let total = n / 4 * 4;
    let mut rxs = Vec::new();
    let start = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (tx, rx) = mpsc::channel::<usize>();
        rxs.push(rx);
        senders.push(go!(move || {
            for j in 0..n / 4 {
                tx.send(j).unwrap();
            }
        }));
    }
    let [r0, r1, r2, r3]: [mpsc::Receiver<usize>; 4] = rxs.try_into().unwrap_or_else(|_| panic!());
    // Counted in the select bottom halves; a closed channel (its sender finished) counts in
    // `closed` and makes its branch fire immediately from then on.
    let delivered = AtomicUsize::new(0);
    let closed = [(); 4].map(|_| std::sync::atomic::AtomicBool::new(false));
    while delivered.load(Ordering::Relaxed) < total
        && !closed.iter().all(|c| c.load(Ordering::Relaxed))
    {
        may::select!(
            v = r0.recv() => on_recv(&delivered, &closed[0], v),
            v = r1.recv() => on_recv(&delivered, &closed[1], v),
            v = r2.recv() => on_recv(&delivered, &closed[2], v),
            v = r3.recv() => on_recv(&delivered, &closed[3], v)
        );
    }
    let d = start.elapsed();
    for s in senders {
        s.join().unwrap();
    }
    let got = delivered.load(Ordering::Relaxed);
    // may::select! runs each branch's top half (here: recv) in its own helper coroutine and
    // cancels the losers; a loser that had already received a message drops it.
    assert_eq!(
        got, total,
        "may::select! dropped {} of {total} messages (cancelled branches lose already-received values)",
        total - got
    );
    d
}

fn on_recv(
    delivered: &AtomicUsize,
    closed: &std::sync::atomic::AtomicBool,
    v: Result<usize, std::sync::mpsc::RecvError>,
) {
    match v {
        Ok(v) => {
            std::hint::black_box(v);
            delivered.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => closed.store(true, Ordering::Relaxed),
    }
}

fn mutex_contended(n: usize) -> Duration {
    const TASKS: usize = 1000;
    let m = Arc::new(Mutex::new(0usize));
    let start = Instant::now();
    let mut hs = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let m = m.clone();
        hs.push(go!(move || {
            for _ in 0..n / TASKS {
                *m.lock().unwrap() += 1;
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let d = start.elapsed();
    assert_eq!(*m.lock().unwrap(), n / TASKS * TASKS);
    d
}

fn mutex_uncontended(n: usize) -> Duration {
    let m = Mutex::new(0usize);
    let start = Instant::now();
    for _ in 0..n {
        *m.lock().unwrap() += 1;
    }
    let d = start.elapsed();
    std::hint::black_box(*m.lock().unwrap());
    d
}

fn fib_fanout(n: usize) -> Duration {
    let mut hs = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        hs.push(go!(|| fib(20)));
    }
    for h in hs.drain(..) {
        assert_eq!(h.join().unwrap(), 6765);
    }
    start.elapsed()
}
