//! Shrinking a long failing schedule: time, verdict and peak memory for issue 16's livelock
//! (two goroutines handing a counter back and forth forever) and for a panic after many
//! hand-offs, with the checker's defaults (5 s shrinking budget) and `max_steps` raised.
//!
//! ```text
//! /usr/bin/time -v cargo bench --bench shrink_livelock -- livelock 100000
//! /usr/bin/time -v target/release/deps/shrink_livelock-* livelock 1000000
//! /usr/bin/time -v target/release/deps/shrink_livelock-* panic 50000
//! ```
//!
//! Each run is one case in a fresh process, so the peak RSS `time -v` reports is that case's.
//! It prints the verdict, whether a token came with it, the shrinking summary and the wall
//! time of `Checker::run`, and exits non-zero if the verdict is not the expected one.

use std::time::{Duration, Instant};

use goweave::{chan, go, Checker, FailureKind};

fn ping_pong(panic_after: Option<u64>) {
    let (a, b) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (a2, b2) = (a.clone(), b.clone());
    go(move || loop {
        let v = a2.recv().unwrap();
        b2.send(v + 1);
    });
    let mut v = 0;
    loop {
        a.send(v);
        v = b.recv().unwrap();
        if panic_after.is_some_and(|n| v >= n) {
            panic!("{v} hand-offs");
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the case and its size follow.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let case = args.first().map_or("livelock", String::as_str).to_string();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let budget = Duration::from_secs(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5));
    let (checker, expected, panic_after) = match case.as_str() {
        // The livelock bound is the size: the issue's defaults are 100,000.
        "livelock" => (Checker::new().max_steps(n), FailureKind::Livelock, None),
        // A panic after `n` hand-offs, with room for it below the livelock bound.
        "panic" => (
            Checker::new().max_steps(n * 10),
            FailureKind::Panic,
            Some(n),
        ),
        other => panic!("unknown case {other:?}: livelock or panic"),
    };
    let start = Instant::now();
    let f = checker
        .shrink_budget(budget)
        .run(move || ping_pong(panic_after))
        .unwrap_err();
    let wall = start.elapsed();
    let summary = f
        .to_string()
        .lines()
        .find(|l| l.starts_with("found by"))
        .unwrap_or("")
        .to_string();
    println!(
        "{case} n={n} budget={budget:?}: {:?} in {wall:.2?}, token {} chars\n  {summary}\n  {}",
        f.kind(),
        f.token().map_or(0, str::len),
        f.replay_line().chars().take(120).collect::<String>()
    );
    if f.kind() != expected || f.token().is_none_or(str::is_empty) {
        std::process::exit(1);
    }
}
