//! The race detector and PCT at 1k, 10k and 100k live goroutines (issue 16, item 4): wall time
//! and peak RSS of one `Checker::run`, each in a fresh process.
//!
//! ```text
//! cargo bench --bench race_scale                 # every case, 3 runs each: median and worst
//! cargo bench --bench race_scale -- pct          # one case at the three sizes
//! cargo bench --bench race_scale -- pct 100000   # one case, once (what each child runs)
//! ```
//!
//! Cases (main spawns `n` goroutines that each block receiving from one channel):
//! - `pct`: one PCT (depth 3) schedule with the detector on; main then closes the channel and
//!   waits for everyone on a `WaitGroup` (whose clock then knows all `n` goroutines) (the issue: 10k took 0.4 GB, 100k over 8 GB; PCT alone 40 s at 100k);
//! - `pct_off`: the same with the detector off (what the detector adds);
//! - `random`: the same under the random walk (what PCT adds);
//! - `leak`: main returns without closing: a leak report of `n` goroutines, built by a replay
//!   with the detector on (a report of 100k leaks used to die).
//!
//! Peak RSS is the child's `VmHWM` (it includes the goroutine stacks: about 4 KiB touched per
//! parked goroutine).

use std::process::Command;
use std::time::{Duration, Instant};

use goweave::sync::WaitGroup;
use goweave::{chan, go, Checker, FailureKind, StrategyKind};

fn body(n: u64, close: bool) {
    let c = chan::make::<()>(0);
    let wg = WaitGroup::new();
    for _ in 0..n {
        let c = c.clone();
        wg.add(1);
        let wg = wg.clone();
        go(move || {
            c.recv();
            wg.done();
        });
    }
    if close {
        // Everyone wakes; main waits for them (after main returns, the others would have only
        // `QUIESCE_STEPS` scheduling points to finish before counting as leaked).
        c.close();
        wg.wait();
    }
}

/// Run one case here; print `wall_ms peak_kb`.
fn child(case: &str, n: u64) {
    let start = Instant::now();
    let checker = Checker::new().iterations(1).max_steps(100 * n + 100_000);
    let (r, expected) = match case {
        "pct" | "pct_off" => (
            checker
                .strategy(StrategyKind::Pct { depth: 3 })
                .race_detection(case == "pct")
                .run(move || body(n, true)),
            None,
        ),
        "random" => (checker.run(move || body(n, true)), None),
        "leak" => (
            checker
                .strategy(StrategyKind::Pct { depth: 3 })
                .shrink_budget(Duration::ZERO)
                .run(move || body(n, false)),
            Some(FailureKind::Leak),
        ),
        other => panic!("unknown case {other}"),
    };
    let wall = start.elapsed();
    let got = r.as_ref().err().map(|f| f.kind());
    if got != expected {
        let text = r.err().map(|f| f.to_string()).unwrap_or_default();
        panic!(
            "{case} {n}: expected {expected:?}, got {got:?}\n{}",
            &text[..text.len().min(2000)]
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{} {hwm}", wall.as_millis());
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [case, n] = args.as_slice() {
        child(case, n.parse().expect("a goroutine count"));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    println!(
        "| case | goroutines | wall ms (median / worst of 3) | peak RSS MB (median / worst) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    let only = args.first().cloned();
    for case in ["pct", "pct_off", "random", "leak"] {
        if only.as_deref().is_some_and(|o| o != case) {
            continue;
        }
        for n in [1_000u64, 10_000, 100_000] {
            let mut runs: Vec<(u64, u64)> = (0..3)
                .map(|_| {
                    let out = Command::new(&exe)
                        .args([case, &n.to_string()])
                        .output()
                        .expect("run a child");
                    let text = String::from_utf8_lossy(&out.stdout);
                    let mut it = text
                        .split_whitespace()
                        .map(|x| x.parse::<u64>().unwrap_or(0));
                    assert!(
                        out.status.success(),
                        "{case} {n}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    (it.next().unwrap_or(0), it.next().unwrap_or(0))
                })
                .collect();
            runs.sort();
            let wall = (runs[1].0, runs[2].0);
            let mut rss: Vec<u64> = runs.iter().map(|r| r.1).collect();
            rss.sort();
            println!(
                "| {case} | {n} | {} / {} | {:.0} / {:.0} |",
                wall.0,
                wall.1,
                rss[1] as f64 / 1024.0,
                rss[2] as f64 / 1024.0
            );
        }
    }
}
