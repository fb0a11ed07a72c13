//! One workload, once, in a fresh process: what a user's program pays, cold start included.
//!
//! `cargo bench --bench oneshot -- <name>` runs workload `<name>` once on a new 2-worker runtime
//! (no warm-up, no repetition) and prints `bench=<name> mode=oneshot ns_per_op=<x> n=<ops>`
//! (`timer0_1m` adds `max_delivery_ns=<y>`, the slowest single timer; the two hand-off rows,
//! `pingpong_unbuffered_1m` and `select2_unbuffered_1m`, add `same_worker`, `first_handoff_ns`
//! and the CPU time of main's worker thread against all other threads, which tell a slow run
//! caused by placement from one where the same work simply ran slower; `select4` adds how many
//! of its 4 senders started on the receiver's worker, and the same CPU times). `benches/compare.sh`
//! runs it N times, each in a new process, and reports the median and the worst of the N, the
//! way the Go anchor (`benches/go/main.go -fresh N`) reports Go's. `cargo bench --bench
//! oneshot` with no name lists the workloads; `--n=<ops>` runs fewer operations (for a profile
//! under callgrind). `--chunks=<k>` (the two hand-off rows) also times them in `k` chunks and
//! probes the core after each (`util/core_probe.rs`): whether a slow run ran on a core shared
//! with work outside this machine's view.
//!
//! The `cargo bench` medians of the other bench binaries run 5-7 repetitions in one process
//! after the first has paid for stacks, pools and queues; these rows do not.

#[path = "util/core_probe.rs"]
mod core_probe;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goweave::sync::{Mutex, WaitGroup};
use goweave::time::Timer;
use goweave::{chan, go, select, Runtime};

/// Every workload: name, operations, body (returns the measured time and extra `key=value`s).
type Body = fn(u64) -> (Duration, String);
const WORKLOADS: &[(&str, u64, Body)] = &[
    ("timer0_1m", 1_000_000, timer0),
    ("pingpong_unbuffered_1m", 1_000_000, pingpong),
    ("select2_unbuffered_1m", 1_000_000, select2),
    ("mpmc_4x4_cap1024_4m", 4_000_000, mpmc),
    ("select4", 1_000_000, select4),
    ("mutex_uncontended", 10_000_000, mutex_uncontended),
    ("spawn_join_1m", 1_000_000, spawn_join),
    ("spawn_waitgroup_1m", 1_000_000, spawn_waitgroup),
];

/// `Timer::new(0)` and a receive, n times; also the slowest single delivery.
fn timer0(n: u64) -> (Duration, String) {
    let mut worst = Duration::ZERO;
    let start = Instant::now();
    let mut prev = start;
    for _ in 0..n {
        let t = Timer::new(Duration::ZERO);
        t.c().recv().unwrap();
        let now = Instant::now();
        worst = worst.max(now - prev);
        prev = now;
    }
    (
        start.elapsed(),
        format!(" max_delivery_ns={}", worst.as_nanos()),
    )
}

/// Main and one partner, two unbuffered channels; per round trip.
fn pingpong(n: u64) -> (Duration, String) {
    let (ping, pong) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (pi, po) = (ping.clone(), pong.clone());
    let (mut chunks, per) = chunking(n);
    let mut left = per;
    let start = Instant::now();
    let h = go(move || {
        // How long after `go` the partner first ran: on main's worker, main's time to its
        // first park; the spawn slot's protection has to cover it (`slot.rs`).
        let started = start.elapsed();
        let t = std::thread::current().id();
        for v in &pi {
            po.send(v);
        }
        po.close();
        (t, started)
    });
    let spawned = start.elapsed();
    let mut first = Duration::ZERO;
    for i in 0..n {
        ping.send(i);
        pong.recv();
        if i == 0 {
            first = start.elapsed();
        }
        left -= 1;
        if left == 0 {
            left = per;
            if let Some(c) = &mut chunks {
                c.lap();
            }
        }
    }
    let d = start.elapsed();
    ping.close();
    pong.recv();
    let (partner, started) = h.join();
    (
        d,
        placement(partner, first)
            + &format!(
                " go_ns={} partner_start_ns={}",
                spawned.as_nanos(),
                started.as_nanos()
            )
            + &report(chunks),
    )
}

/// A 2-case `select!` receiving n unbuffered sends (the other case never ready); per message.
fn select2(n: u64) -> (Duration, String) {
    let (a, quit) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let a2 = a.clone();
    let (mut chunks, per) = chunking(n);
    let mut left = per;
    let start = Instant::now();
    let h = go(move || {
        let t = std::thread::current().id();
        for i in 0..n {
            a2.send(i);
        }
        t
    });
    let mut s = 0;
    let mut first = Duration::ZERO;
    for i in 0..n {
        s += select! {
            recv(a) -> v => v.unwrap(),
            recv(quit) -> _ => unreachable!("nothing sends on quit"),
        };
        if i == 0 {
            first = start.elapsed();
        }
        left -= 1;
        if left == 0 {
            left = per;
            if let Some(c) = &mut chunks {
                c.lap();
            }
        }
    }
    let d = start.elapsed();
    assert_eq!(s, n * (n - 1) / 2);
    let sender = h.join();
    (d, placement(sender, first) + &report(chunks))
}

/// `--chunks=<k>`: how many chunks to time a hand-off row in (0: not chunked).
static CHUNKS: AtomicU64 = AtomicU64::new(0);

/// The chunk timer of a hand-off row of `n` operations, if `--chunks` asked for one, and the
/// operations per chunk (`u64::MAX` without: the countdown in the loop then never ends). It
/// starts before the partner is spawned: reading the thread's CPU clock is a system call,
/// and one between the `go` and the first hand-off gives the other worker time to steal the
/// partner (then every message wakes another thread).
fn chunking(n: u64) -> (Option<core_probe::Chunks>, u64) {
    match CHUNKS.load(Ordering::Relaxed) {
        0 => (None, u64::MAX),
        k => {
            let per = (n / k).max(1);
            (Some(core_probe::Chunks::start(per)), per)
        }
    }
}

/// The chunks' report, if the row was chunked.
fn report(chunks: Option<core_probe::Chunks>) -> String {
    chunks.map_or(String::new(), |c| c.report())
}

/// Where a partner goroutine ran (`same_worker=1`: on main's worker, so every hand-off is a
/// switch on one thread) and how long the first hand-off took: the two facts that decide a
/// hand-off row's cost.
fn placement(partner: std::thread::ThreadId, first: Duration) -> String {
    let same = partner == std::thread::current().id();
    format!(
        " same_worker={} first_handoff_ns={}{}",
        same as u8,
        first.as_nanos(),
        thread_cpu()
    )
}

/// CPU time (ns) of this thread and of every other thread of the process so far, from
/// `/proc/self/task/*/schedstat` (Linux; empty elsewhere): whether the idle worker woke up.
fn thread_cpu() -> String {
    // SAFETY: gettid takes no arguments and only returns the calling thread's id.
    let me = unsafe { libc::gettid() }.to_string();
    let (mut mine, mut others) = (0u64, 0u64);
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return String::new();
    };
    for t in dir.flatten() {
        let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) else {
            continue;
        };
        let ns: u64 = s
            .split(' ')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if t.file_name().to_str() == Some(me.as_str()) {
            mine += ns;
        } else {
            others += ns;
        }
    }
    format!(" this_thread_cpu_ns={mine} other_threads_cpu_ns={others}")
}

/// 4 producers, 4 consumers, one channel of capacity 1024; per message. Also how many of each
/// started on main's worker (where they run decides which hand-offs wake another thread).
fn mpmc(n: u64) -> (Duration, String) {
    let ch = chan::make::<u64>(1024);
    let start = Instant::now();
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let ch = ch.clone();
            go(move || {
                for j in 0..n / 4 {
                    ch.send(j);
                }
                std::thread::current().id()
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let ch = ch.clone();
            go(move || (ch.iter().sum::<u64>(), std::thread::current().id()))
        })
        .collect();
    let me = std::thread::current().id();
    let mut producers_here = 0;
    for p in producers {
        producers_here += (p.join() == me) as u32;
    }
    ch.close();
    let (mut total, mut consumers_here) = (0, 0);
    for c in consumers {
        let (sum, at) = c.join();
        total += sum;
        consumers_here += (at == me) as u32;
    }
    let d = start.elapsed();
    assert_eq!(total, 4 * (n / 4) * (n / 4 - 1) / 2);
    (
        d,
        format!(
            " producers_on_main_worker={producers_here} consumers_on_main_worker={consumers_here}"
        ),
    )
}

/// One receiver selecting over 4 unbuffered channels, each fed by its own sender; also how
/// many of the senders started on the receiver's worker (a sender elsewhere makes every one of
/// its messages a wake-up of another thread).
fn select4(n: u64) -> (Duration, String) {
    let cs: Vec<_> = (0..4).map(|_| chan::make::<u64>(0)).collect();
    let start = Instant::now();
    let hs: Vec<_> = cs
        .iter()
        .map(|c| {
            let c = c.clone();
            go(move || {
                for j in 0..n / 4 {
                    c.send(j);
                }
                std::thread::current().id()
            })
        })
        .collect();
    let mut s = 0;
    for _ in 0..n {
        s += select! {
            recv(cs[0]) -> v => v.unwrap(),
            recv(cs[1]) -> v => v.unwrap(),
            recv(cs[2]) -> v => v.unwrap(),
            recv(cs[3]) -> v => v.unwrap(),
        };
    }
    let d = start.elapsed();
    assert_eq!(s, 4 * (n / 4) * (n / 4 - 1) / 2);
    let me = std::thread::current().id();
    let local = hs
        .into_iter()
        .map(|h| h.join())
        .filter(|t| *t == me)
        .count();
    (
        d,
        format!(" senders_on_receiver_worker={local}{}", thread_cpu()),
    )
}

/// One goroutine, n lock/unlock of an uncontended mutex.
fn mutex_uncontended(n: u64) -> (Duration, String) {
    let m = Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..n {
        *black_box(&m).lock() += 1;
    }
    let d = start.elapsed();
    assert_eq!(*m.lock(), n);
    (d, String::new())
}

/// n goroutines, a `JoinHandle` kept for each, joined in order.
fn spawn_join(n: u64) -> (Duration, String) {
    let start = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| go(move || i)).collect();
    let spawned = start.elapsed();
    let mut sum = 0;
    for h in hs {
        sum += h.join();
    }
    let d = start.elapsed();
    assert_eq!(sum, n * (n - 1) / 2);
    // Where the time goes: the spawn loop (which the other worker overlaps with running the
    // goroutines) against the join loop (what is left to run, and the joins).
    let per = |t: Duration| t.as_nanos() as f64 / n as f64;
    (
        d,
        format!(
            " spawn_ns_per_op={:.1} join_ns_per_op={:.1}",
            per(spawned),
            per(d - spawned)
        ),
    )
}

/// Go's shape: n goroutines each store into a slot and call `done` on one WaitGroup.
fn spawn_waitgroup(n: u64) -> (Duration, String) {
    let out: &'static [AtomicU64] = Box::leak((0..n).map(|_| AtomicU64::new(0)).collect());
    let wg: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let start = Instant::now();
    wg.add(n as i64);
    for i in 0..n {
        go(move || {
            out[i as usize].store(i + 1, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    (start.elapsed(), String::new())
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the buffer we own; on failure (it cannot
    // fail for RUSAGE_SELF) the zeroed buffer stays valid.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() {
    let Some(name) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        let names: Vec<_> = WORKLOADS.iter().map(|w| w.0).collect();
        eprintln!(
            "usage: cargo bench --bench oneshot -- <workload>; one of: {}",
            names.join(", ")
        );
        return;
    };
    let Some(&(name, n, body)) = WORKLOADS.iter().find(|w| w.0 == name) else {
        eprintln!("oneshot: no workload named {name:?}");
        std::process::exit(2);
    };
    // `--n=<ops>`: fewer operations, for a profile under callgrind (which runs ~50x slower).
    let n = match std::env::args().find_map(|a| a.strip_prefix("--n=").map(str::to_owned)) {
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("oneshot: --n={v:?} is not a number of operations");
            std::process::exit(2);
        }),
        None => n,
    };
    if let Some(k) = std::env::args().find_map(|a| a.strip_prefix("--chunks=").map(str::to_owned)) {
        let k = k.parse().unwrap_or_else(|_| {
            eprintln!("oneshot: --chunks={k:?} is not a number of chunks");
            std::process::exit(2);
        });
        CHUNKS.store(k, Ordering::Relaxed);
    }
    let cpu0 = cpu_time();
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (d, extra) = rt.block_on(move || body(n));
    // The whole process's CPU time (every thread, start and teardown included): on a shared
    // machine, where the wall time also counts the time other processes held the cores.
    let cpu = cpu_time() - cpu0;
    println!(
        "bench={name} mode=oneshot ns_per_op={:.1} cpu_ns_per_op={:.1} n={n}{extra}",
        d.as_nanos() as f64 / n as f64,
        cpu.as_nanos() as f64 / n as f64
    );
}
