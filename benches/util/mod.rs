//! Shared helpers of the benchmark binaries: repetitions, medians, and one output format.
//!
//! Every figure is printed as `bench=<name> <key>=<value> reps=<n>`, the same shape the anchor
//! programs in `benches/anchors` and `benches/go` print, so one script can tabulate them all.
#![allow(dead_code)]

pub mod chan_work;

use std::time::Instant;

/// Run `f` `reps` times; `f` returns the number of operations it did. Prints and returns the
/// median nanoseconds per operation.
pub fn median_ns_per_op(name: &str, reps: usize, mut f: impl FnMut() -> u64) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let ops = f();
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    let m = median(&mut v);
    println!("bench={name} median_ns_per_op={m:.1} reps={reps}");
    m
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A field of `/proc/self/status` in bytes (e.g. "VmRSS", "VmPTE").
pub fn proc_status_bytes(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix(field) {
            let kb: u64 = rest
                .trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            return kb * 1024;
        }
    }
    0
}

/// Only run benchmarks whose name contains the first CLI argument (cargo bench passes
/// `--bench`, which is ignored).
pub fn selected(name: &str) -> bool {
    match std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        Some(filter) => name.contains(&filter),
        None => true,
    }
}
