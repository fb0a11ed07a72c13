//! Stress for the work-stealing park/unpark protocol: goroutine pairs on *different* workers
//! hand a token back and forth over unbuffered channels. A lost wake-up would hang the run (a
//! watchdog thread reports it); every handoff crosses workers, so each one exercises the
//! inbox + sleeping-worker wake-up path.
//!
//! `cargo run --release --example handoff_stress -- 100000000`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::runtime::__worker_index;
use goweave::{chan, go, Runtime};

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .map(|s| s.replace('_', "").parse().expect("handoff count"))
        .unwrap_or(1_000_000);
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    // Watchdog: a lost wake-up shows up as no progress.
    std::thread::spawn(move || {
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_secs(10));
            let now = d.load(Ordering::Relaxed);
            if now == last {
                eprintln!("NO PROGRESS for 10 s after {now} handoffs: lost wake-up");
                std::process::exit(1);
            }
            eprintln!("progress: {now} handoffs");
            last = now;
        }
    });
    let start = Instant::now();
    let d = done.clone();
    Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(move || {
            // Start a ping goroutine and a pong goroutine; keep the pair only if they landed on
            // different workers (a started goroutine never moves).
            loop {
                let (ping, pong) = (chan::make::<u64>(0), chan::make::<u64>(0));
                let (p1, q1) = (ping.clone(), pong.clone());
                let where_a = chan::make::<usize>(1);
                let wa = where_a.clone();
                let d2 = d.clone();
                let a = go(move || {
                    wa.send(__worker_index().unwrap());
                    let mut n = 0;
                    while n < total {
                        p1.send(n);
                        n = q1.recv().unwrap() + 1;
                        d2.fetch_add(2, Ordering::Relaxed);
                    }
                    p1.close();
                });
                let where_b = chan::make::<usize>(1);
                let wb = where_b.clone();
                let b = go(move || {
                    wb.send(__worker_index().unwrap());
                    for v in &ping {
                        pong.send(v);
                    }
                });
                let (wa, wb) = (where_a.recv().unwrap(), where_b.recv().unwrap());
                if wa != wb {
                    a.join();
                    b.join();
                    return;
                }
                // Same worker: stop this pair (a `total` of 0 would be simpler, but the pair is
                // already running) by draining it to the end.
                a.join();
                b.join();
                d.store(0, Ordering::Relaxed);
                eprintln!("pair landed on one worker; retrying");
            }
        });
    let n = done.load(Ordering::Relaxed);
    let el = start.elapsed();
    println!(
        "handoff_stress: {n} cross-worker handoffs in {:.1} s ({:.0} ns each), no lost wake-up",
        el.as_secs_f64(),
        el.as_nanos() as f64 / n as f64
    );
}
