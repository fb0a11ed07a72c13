//! Was the core shared while a hand-off row ran? Per-chunk CPU times of the running thread,
//! each followed by two short probes of the core it runs on (`oneshot --chunks=K`).
//!
//! Issue 19: some fresh processes of `select2_unbuffered_1m` spent ~160 ns of CPU per message
//! instead of ~106, on one thread, with no wake-up and no placement change. Timed in chunks,
//! the slow stretches start and stop in the middle of a run (so no address, alignment or other
//! per-process layout is the cause: those do not change mid-run), and they are the chunks where
//! a throughput-bound probe (eight independent add-rotate chains, which need the core's ALUs)
//! also runs slower, while a latency-bound probe (one multiply chain, which only needs the
//! clock) does not: the core's execution units were shared with work outside this machine's
//! view (the host's other hardware thread of the core), and the clock was not lowered. A
//! throughput-bound probe slows with such sharing, a latency-bound one only with the
//! frequency, hence the two.
//!
//! The fastest throughput probe of a run is printed too: a run whose core was shared from start
//! to end has no clean chunk to compare with, and shows it only against other processes (126
//! thousand cycles on issue 19's 2-core VM when the core was not shared, 150-240 when it was).
//!
//! A chunk is *clean* when its throughput probe is within 5% of the fastest in the run, and
//! *shared* when it is slower but not by 3x or more (a probe that slow was preempted: the
//! thread lost its core for a while, which says nothing about how fast the core ran).

/// Cycles (TSC) of the two probes: (latency-bound, throughput-bound). About 2 x 25 us.
pub fn probe() -> (u64, u64) {
    let t0 = rdtsc();
    let mut x = 1u64;
    for _ in 0..20_000u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    let t1 = rdtsc();
    let mut a = [1u64; 8];
    for i in 0..20_000u64 {
        for (k, v) in a.iter_mut().enumerate() {
            *v = v.wrapping_add(i ^ k as u64).rotate_left(3);
        }
        a = std::hint::black_box(a);
    }
    let t2 = rdtsc();
    std::hint::black_box((x, a));
    (t1 - t0, t2 - t1)
}

/// The time-stamp counter (0 where there is none: the probes then say nothing).
fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` reads a counter; it has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// CPU time of the calling thread, ns.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec`, which we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The chunks of one run: each chunk's CPU time and the probes taken after it.
pub struct Chunks {
    /// Operations per chunk.
    per: u64,
    /// Thread CPU time at the start of the current chunk.
    since: u64,
    cpu: Vec<u64>,
    probes: Vec<(u64, u64)>,
}

impl Chunks {
    /// Chunks of `per` operations each, starting now.
    pub fn start(per: u64) -> Chunks {
        Chunks {
            per,
            since: thread_cpu_ns(),
            cpu: Vec::new(),
            probes: Vec::new(),
        }
    }

    /// A chunk ended: keep its CPU time, probe the core, and start the next one (the probes'
    /// own time is not counted in either chunk).
    pub fn lap(&mut self) {
        let now = thread_cpu_ns();
        self.cpu.push(now - self.since);
        self.probes.push(probe());
        self.since = thread_cpu_ns();
    }

    /// ` chunk_cpu_ns_per_op=a,b,.. probe_lat_kcycles=.. probe_thr_kcycles=..
    /// probe_thr_fastest_kcycles=f clean_chunks=n
    /// shared_chunks=m clean_ns_per_op=x shared_ns_per_op=y` (medians over the clean and the
    /// shared chunks).
    pub fn report(&self) -> String {
        if self.cpu.is_empty() {
            return String::new();
        }
        let per_op = |c: u64| c as f64 / self.per as f64;
        let list = |v: &mut dyn Iterator<Item = String>| v.collect::<Vec<_>>().join(",");
        let fastest = self.probes.iter().map(|p| p.1).min().unwrap_or(0);
        let (mut clean, mut shared) = (Vec::new(), Vec::new());
        for (c, p) in self.cpu.iter().zip(&self.probes) {
            if p.1 * 100 <= fastest * 105 {
                clean.push(per_op(*c));
            } else if p.1 < fastest * 3 {
                shared.push(per_op(*c));
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v.get(v.len() / 2).map_or("-".into(), |m| format!("{m:.1}"))
        };
        format!(
            " chunk_cpu_ns_per_op={} probe_lat_kcycles={} probe_thr_kcycles={} probe_thr_fastest_kcycles={} clean_chunks={} shared_chunks={} clean_ns_per_op={} shared_ns_per_op={}",
            list(&mut self.cpu.iter().map(|&c| format!("{:.0}", per_op(c)))),
            list(&mut self.probes.iter().map(|p| (p.0 / 1000).to_string())),
            list(&mut self.probes.iter().map(|p| (p.1 / 1000).to_string())),
            fastest / 1000,
            clean.len(),
            shared.len(),
            median(&mut clean),
            median(&mut shared),
        )
    }
}
