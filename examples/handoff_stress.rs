//! Stress for the work-stealing park/unpark protocol: goroutine pairs on *different* workers
//! hand a token back and forth over unbuffered channels. A lost wake-up would hang the run (a
//! watchdog thread reports it); every handoff crosses workers, so each one exercises the
//! inbox + sleeping-worker wake-up path.
//!
//! `cargo run --release --example handoff_stress -- 100000000`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::chan::Chan;
use goweave::test_hooks::worker_index;
use goweave::{chan, go, Runtime};

/// Goroutines started per attempt to find two on different workers.
const CANDIDATES: usize = 8;

enum Role {
    Dismissed,
    Ping(Chan<u64>, Chan<u64>),
    Pong(Chan<u64>, Chan<u64>),
}

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
            // Started goroutines never move, so pick the pair by where candidates first ran:
            // spawn a batch, let each report its worker and wait for a role, keep one from each
            // of two workers and dismiss the rest.
            let (a, b) = loop {
                let reports = chan::make::<(usize, usize)>(CANDIDATES);
                let roles: Vec<_> = (0..CANDIDATES).map(|_| chan::make::<Role>(1)).collect();
                let handles: Vec<_> = (0..CANDIDATES)
                    .map(|i| {
                        let (reports, role) = (reports.clone(), roles[i].clone());
                        let d = d.clone();
                        go(move || {
                            reports.send((i, worker_index().unwrap()));
                            match role.recv().unwrap() {
                                Role::Dismissed => {}
                                Role::Ping(ping, pong) => {
                                    let mut n = 0;
                                    while n < total {
                                        ping.send(n);
                                        n = pong.recv().unwrap() + 1;
                                        d.fetch_add(2, Ordering::Relaxed);
                                    }
                                    ping.close();
                                }
                                Role::Pong(ping, pong) => {
                                    for v in &ping {
                                        pong.send(v);
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                let mut by_worker: Vec<(usize, usize)> =
                    (0..CANDIDATES).map(|_| reports.recv().unwrap()).collect();
                by_worker.sort_by_key(|&(_, w)| w);
                let (first, last) = (by_worker[0], by_worker[CANDIDATES - 1]);
                let pair = (first.1 != last.1).then_some((first.0, last.0));
                let (ping, pong) = (chan::make::<u64>(0), chan::make::<u64>(0));
                let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
                for (i, role) in roles.iter().enumerate() {
                    role.send(match pair {
                        Some((p, _)) if p == i => Role::Ping(ping.clone(), pong.clone()),
                        Some((_, q)) if q == i => Role::Pong(ping.clone(), pong.clone()),
                        _ => Role::Dismissed,
                    });
                }
                match pair {
                    Some((p, q)) => break (handles[p].take().unwrap(), handles[q].take().unwrap()),
                    None => {
                        for h in handles.into_iter().flatten() {
                            h.join();
                        }
                        eprintln!("all {CANDIDATES} candidates landed on one worker; retrying");
                    }
                }
            };
            a.join();
            b.join();
        });
    let n = done.load(Ordering::Relaxed);
    let el = start.elapsed();
    println!(
        "handoff_stress: {n} cross-worker handoffs in {:.1} s ({:.0} ns each), no lost wake-up",
        el.as_secs_f64(),
        el.as_nanos() as f64 / n as f64
    );
}
