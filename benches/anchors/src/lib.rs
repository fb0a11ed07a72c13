//! Shared driver for the comparison anchors (`tokio`, `may`, `threads`).
//!
//! Each anchor binary calls [`main`] with its table of workloads and a function that runs
//! one workload in-process. The driver re-executes the binary once per workload
//! (`--child <name>`), so that:
//! - memory measurements (`parked_1m`) start from a clean process,
//! - the worker count can differ per run (`fib20_fanout_100k` also runs with 1 worker),
//! - a crash or abort (for example may running out of `vm.max_map_count`) becomes an
//!   `error=...` line instead of ending the whole run; a hung child is killed after a timeout.
//!
//! Output, one line per workload (same shape as `benches/go/main.go`):
//!
//! ```text
//! anchor=<a> bench=<name> median_ns_per_op=<f64> reps=<n> n=<ops per rep> workers=<w> [extra]
//! anchor=<a> bench=parked_1m bytes_per_goroutine=<f64> bytes_per_goroutine_with_pte=<f64> reps=<n> n=<tasks>
//! anchor=<a> bench=<name> error=<token> n=<attempted> [fallback_n=<m> <values measured at m>]
//! ```

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One workload as the driver sees it.
#[derive(Clone, Copy, Debug)]
pub struct Bench {
    /// Exact workload name, shared with the Go anchor.
    pub name: &'static str,
    /// Operations per repetition (the ns/op denominator; tasks for `parked_1m`).
    pub n: usize,
    /// Default repetitions. For `parked_1m`: child processes, one measurement each.
    pub reps: usize,
    /// If the child fails at `n`, retry once at this smaller size and report both.
    pub fallback_n: Option<usize>,
}

/// Arguments handed to the in-process runner of one workload.
#[derive(Clone, Copy, Debug)]
pub struct ChildArgs<'a> {
    pub name: &'a str,
    pub n: usize,
    pub reps: usize,
    pub workers: usize,
}

/// What a workload runner returns.
pub enum Outcome {
    /// Per-repetition wall time of the measured section, for `n` operations.
    Times(Vec<Duration>),
    /// Bytes per task: (VmRSS growth, VmRSS+VmPTE growth) / n.
    Memory(f64, f64),
}

/// `VmRSS` and `VmPTE` of this process, in kB.
pub fn proc_status_kb() -> (i64, i64) {
    let s = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let mut rss = 0;
    let mut pte = 0;
    for line in s.lines() {
        let mut it = line.split_whitespace();
        match (it.next(), it.next()) {
            (Some("VmRSS:"), Some(v)) => rss = v.parse().unwrap_or(0),
            (Some("VmPTE:"), Some(v)) => pte = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    (rss, pte)
}

/// Turns before/after `proc_status_kb()` readings into bytes per task.
pub fn per_task_bytes(before: (i64, i64), after: (i64, i64), n: usize) -> (f64, f64) {
    let rss = (after.0 - before.0) as f64 * 1024.0 / n as f64;
    let with_pte = ((after.0 + after.1) - (before.0 + before.1)) as f64 * 1024.0 / n as f64;
    (rss, with_pte)
}

/// Recursive Fibonacci, kept opaque to the optimiser.
#[inline(never)]
pub fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(std::hint::black_box(n - 1)) + fib(std::hint::black_box(n - 2))
    }
}

/// Available parallelism (2 on the reference machine).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

struct Opts {
    child: Option<String>,
    only: Vec<String>,
    reps: Option<usize>,
    n: Option<usize>,
    workers: usize,
    timeout: Duration,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        child: None,
        only: Vec::new(),
        reps: None,
        n: None,
        workers: default_workers(),
        timeout: Duration::from_secs(120),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--child" => o.child = Some(val()),
            "--bench" => {
                o.only = val().split(',').filter(|s| !s.is_empty()).map(String::from).collect()
            }
            "--reps" => o.reps = Some(val().parse().expect("--reps")),
            "--n" => o.n = Some(val().parse().expect("--n")),
            "--workers" => o.workers = val().parse().expect("--workers"),
            "--timeout" => o.timeout = Duration::from_secs(val().parse().expect("--timeout")),
            "-h" | "--help" => {
                eprintln!(
                    "usage: [--bench a,b] [--reps R] [--n N] [--workers W] [--timeout SECS]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

type Row = Vec<(String, f64)>;

fn get(rows: &[Row], key: &str) -> Vec<f64> {
    rows.iter()
        .flat_map(|r| r.iter().filter(|(k, _)| k == key).map(|(_, v)| *v))
        .collect()
}

/// Runs one workload in a child process; returns the `key=value` rows it printed.
fn run_child(name: &str, n: usize, reps: usize, workers: usize, timeout: Duration) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--child", name, "--n", &n.to_string(), "--reps", &reps.to_string()])
        .args(["--workers", &workers.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = t_out.join().unwrap_or_default();
    let err = t_err.join().unwrap_or_default();
    let status = match status {
        None => return Err(format!("timeout after {}s{}", timeout.as_secs(), panic_message(&err))),
        Some(s) => s,
    };
    if !status.success() {
        return Err(format!("{status}{}", panic_message(&err)));
    }
    Ok(out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(f64::NAN)))
                .collect()
        })
        .collect())
}

/// The first panic message in a child's stderr (Rust prints it on the line after
/// "thread ... panicked at <file:line>:"), else the first non-empty line.
fn panic_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        let at = lines[i].split("panicked at ").nth(1).unwrap_or("").trim_end_matches(':');
        let at = at.rsplit("/src/").next().unwrap_or(at);
        let msg = lines.get(i + 1).copied().unwrap_or("");
        return format!(": panic at {at}: {msg}");
    }
    match lines.iter().find(|l| !l.trim().is_empty()) {
        Some(l) => format!(": {l}"),
        None => String::new(),
    }
}

fn token(s: &str) -> String {
    let t: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .map(|c| if c == '=' { ':' } else { c })
        .collect();
    if t.is_empty() { "unknown".into() } else { t }
}

/// Measures a workload at `n` (values as `key=value` text), or the error.
fn measure(b: &Bench, n: usize, reps: usize, workers: usize, timeout: Duration) -> Result<String, String> {
    match b.name {
        "parked_1m" => {
            let mut a = Vec::new();
            let mut p = Vec::new();
            for _ in 0..reps {
                let rows = run_child(b.name, n, 1, workers, timeout)?;
                a.extend(get(&rows, "bytes"));
                p.extend(get(&rows, "bytes_pte"));
            }
            Ok(format!(
                "bytes_per_goroutine={:.1} bytes_per_goroutine_with_pte={:.1} reps={reps} n={n} workers={workers}",
                median(a),
                median(p)
            ))
        }
        "fib20_fanout_100k" => {
            let m = median(get(&run_child(b.name, n, reps, workers, timeout)?, "ns"));
            let m1 = median(get(&run_child(b.name, n, reps, 1, timeout)?, "ns"));
            Ok(format!(
                "median_ns_per_op={m:.3} reps={reps} n={n} workers={workers} speedup_vs_1_worker={:.3} one_worker_median_ns_per_op={m1:.3}",
                m1 / m
            ))
        }
        _ => {
            let m = median(get(&run_child(b.name, n, reps, workers, timeout)?, "ns"));
            Ok(format!("median_ns_per_op={m:.3} reps={reps} n={n} workers={workers}"))
        }
    }
}

/// Entry point of an anchor binary.
///
/// `run` executes workload `args.name` in this process (already a child) and reports
/// per-repetition times or the memory result.
pub fn main(anchor: &str, benches: &[Bench], run: fn(ChildArgs) -> Outcome) {
    let o = parse_args();
    if let Some(name) = o.child {
        // A panic with a message (a real failure, even on a worker thread or inside a
        // coroutine) ends the child at once, so the driver reports it instead of waiting
        // for a hung join. Panics with other payloads pass through: may cancels
        // coroutines by unwinding with a `generator::Error` payload.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default_hook(info);
            let p = info.payload();
            if p.is::<&str>() || p.is::<String>() {
                std::process::exit(101);
            }
        }));
        let args = ChildArgs { name: &name, n: o.n.expect("--n"), reps: o.reps.unwrap_or(1), workers: o.workers };
        match run(args) {
            Outcome::Times(ts) => {
                for t in ts {
                    println!("ns={:.3}", t.as_nanos() as f64 / args.n as f64);
                }
            }
            Outcome::Memory(a, b) => println!("bytes={a:.1} bytes_pte={b:.1}"),
        }
        return;
    }
    for b in benches {
        if !o.only.is_empty() && !o.only.iter().any(|s| s == b.name) {
            continue;
        }
        let reps = o.reps.unwrap_or(b.reps);
        let n = o.n.unwrap_or(b.n);
        let prefix = format!("anchor={anchor} bench={}", b.name);
        match measure(b, n, reps, o.workers, o.timeout) {
            Ok(vals) => println!("{prefix} {vals}"),
            Err(e) => {
                let mut line = format!("{prefix} error={} n={n}", token(&e));
                if let Some(fb) = b.fallback_n.filter(|_| o.n.is_none()) {
                    match measure(b, fb, reps, o.workers, o.timeout) {
                        Ok(vals) => {
                            let vals = vals.replace(&format!(" n={fb}"), "");
                            line.push_str(&format!(" fallback_n={fb} {vals}"));
                        }
                        Err(e2) => line.push_str(&format!(" fallback_n={fb} fallback_error={}", token(&e2))),
                    }
                }
                println!("{line}");
            }
        }
    }
}

/// Runs `body` `reps` times after one warm-up at a tenth of `n` (at least 1).
pub fn repeat(n: usize, reps: usize, mut body: impl FnMut(usize) -> Duration) -> Outcome {
    body((n / 10).max(1));
    Outcome::Times((0..reps).map(|_| body(n)).collect())
}
