//! threads anchor: one OS thread (`std::thread`, default 2 MiB stack) per goroutine,
//! `crossbeam-channel` for channels (Go's channels are MPMC; `bounded(0)` is a true
//! rendezvous channel like Go's unbuffered one), `std::sync::Mutex` for the mutex.
//!
//! Sizes differ from Go's where one OS thread per task would be impractical or slow; the
//! per-op numbers stay comparable and the `n=` key of every line says what ran:
//! - `spawn_join_1m`: 10,000 threads (spawned and joined), ns per thread.
//! - `parked_1m`: 10,000 threads blocked in `recv()` on one shared `bounded(0)` channel
//!   (1M threads exceed `vm.max_map_count` and the kernel's thread limits).
//! - `pingpong_unbuffered_1m`: 100,000 round trips; `ring_1000_1m_hops`: 1,000 threads,
//!   100,000 hops; `select4`: 100,000 messages through `crossbeam_channel::Select` over four
//!   `bounded(0)` channels. Each hop is a futex wake-up plus a context switch.
//! - `mutex_1000x1000`: 100 threads x 1,000 lock/unlock (100,000 locks).
//! - `fib20_fanout_100k`: 10,000 threads each computing fib(20). "1 worker" = the whole
//!   process pinned to one CPU with `sched_setaffinity`.
//! - `mpmc_4x4_cap1024_4m` and `mutex_uncontended` run at full size.

use crossbeam_channel::{bounded, Receiver, Select};
use goweave_anchors::{fib, per_task_bytes, proc_status_kb, repeat, Bench, ChildArgs, Outcome};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BENCHES: &[Bench] = &[
    Bench { name: "spawn_join_1m", n: 10_000, reps: 7, fallback_n: None },
    Bench { name: "parked_1m", n: 10_000, reps: 3, fallback_n: None },
    Bench { name: "pingpong_unbuffered_1m", n: 100_000, reps: 7, fallback_n: None },
    Bench { name: "ring_1000_1m_hops", n: 100_000, reps: 7, fallback_n: None },
    Bench { name: "mpmc_4x4_cap1024_4m", n: 4_000_000, reps: 7, fallback_n: None },
    Bench { name: "select4", n: 100_000, reps: 7, fallback_n: None },
    Bench { name: "mutex_1000x1000", n: 100_000, reps: 7, fallback_n: None },
    Bench { name: "mutex_uncontended", n: 10_000_000, reps: 7, fallback_n: None },
    Bench { name: "fib20_fanout_100k", n: 10_000, reps: 3, fallback_n: None },
];

fn main() {
    goweave_anchors::main("threads", BENCHES, run);
}

/// Restricts this process (all current and future threads) to the first `workers` CPUs.
fn pin_to(workers: usize) {
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set, `CPU_SET` writes within it for CPUs
    // below its capacity, and `sched_setaffinity` only reads the set we pass with its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..workers {
            libc::CPU_SET(cpu, &mut set);
        }
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity failed");
    }
}

fn run(a: ChildArgs) -> Outcome {
    if a.workers < goweave_anchors::default_workers() {
        pin_to(a.workers);
    }
    let (n, reps) = (a.n, a.reps);
    match a.name {
        "spawn_join_1m" => repeat(n, reps, spawn_join),
        "parked_1m" => parked(n),
        "pingpong_unbuffered_1m" => repeat(n, reps, pingpong),
        "ring_1000_1m_hops" => repeat(n, reps, ring),
        "mpmc_4x4_cap1024_4m" => repeat(n, reps, mpmc),
        "select4" => repeat(n, reps, select4),
        "mutex_1000x1000" => repeat(n, reps, mutex_contended),
        "mutex_uncontended" => repeat(n, reps, mutex_uncontended),
        "fib20_fanout_100k" => repeat(n, reps, fib_fanout),
        other => panic!("unknown bench {other}"),
    }
}

fn spawn_join(n: usize) -> Duration {
    let mut handles = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        handles.push(thread::spawn(move || std::hint::black_box(i + 1)));
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
    let (tx, rx) = bounded::<()>(0);
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let rx: Receiver<()> = rx.clone();
        let started = started.clone();
        handles.push(thread::spawn(move || {
            started.fetch_add(1, Ordering::Relaxed);
            let _ = rx.recv();
        }));
    }
    drop(rx);
    while started.load(Ordering::Relaxed) < n {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    let after = proc_status_kb();
    drop(tx);
    for h in handles {
        h.join().unwrap();
    }
    let (a, b) = per_task_bytes(before, after, n);
    Outcome::Memory(a, b)
}

fn pingpong(n: usize) -> Duration {
    let (ping_tx, ping_rx) = bounded::<usize>(0);
    let (pong_tx, pong_rx) = bounded::<usize>(0);
    let partner = thread::spawn(move || {
        for v in ping_rx {
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

/// Ring of 1000 threads; the token is the number of hops left, -1 shuts it down.
fn ring(n: usize) -> Duration {
    const SIZE: usize = 1000;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..SIZE).map(|_| bounded::<i64>(0)).unzip();
    let (done_tx, done_rx) = bounded::<()>(0);
    let mut handles = Vec::with_capacity(SIZE);
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % SIZE].clone();
        let done = done_tx.clone();
        handles.push(thread::spawn(move || {
            for v in rx {
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
    drop(txs);
    for h in handles {
        h.join().unwrap();
    }
    d
}

fn mpmc(n: usize) -> Duration {
    let (tx, rx) = bounded::<usize>(1024);
    let start = Instant::now();
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for j in 0..n / 4 {
                    tx.send(j).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().count())
        })
        .collect();
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
    let start = Instant::now();
    let mut rxs = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (tx, rx) = bounded::<usize>(0);
        rxs.push(rx);
        senders.push(thread::spawn(move || {
            for j in 0..n / 4 {
                tx.send(j).unwrap();
            }
        }));
    }
    // Dynamic form of `select!` so a channel whose sender has finished can be dropped from
    // the set (Go's "set the channel to nil"); otherwise it would fire with Err forever.
    let mut sel = Select::new();
    for r in &rxs {
        sel.recv(r);
    }
    let mut sum = 0usize;
    let mut got = 0;
    while got < n / 4 * 4 {
        let op = sel.select();
        let i = op.index();
        match op.recv(&rxs[i]) {
            Ok(v) => {
                sum += v;
                got += 1;
            }
            Err(_) => sel.remove(i),
        }
    }
    let d = start.elapsed();
    for s in senders {
        s.join().unwrap();
    }
    let per = n / 4;
    assert_eq!(sum, 4 * (per * per.saturating_sub(1) / 2));
    d
}

fn mutex_contended(n: usize) -> Duration {
    const THREADS: usize = 100;
    let m = Arc::new(Mutex::new(0usize));
    let start = Instant::now();
    let hs: Vec<_> = (0..THREADS)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..n / THREADS {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let d = start.elapsed();
    assert_eq!(*m.lock().unwrap(), n / THREADS * THREADS);
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
        hs.push(thread::spawn(|| fib(20)));
    }
    for h in hs.drain(..) {
        assert_eq!(h.join().unwrap(), 6765);
    }
    start.elapsed()
}
