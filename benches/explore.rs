//! Schedules per second of goweave's checker against shuttle's (0.9), with the random strategy
//! on the same programs: `t` goroutines each doing `ops` lock/increment/unlock rounds on one
//! mutex, joined by main (`2x10`, `4x10`, `8x100`); and `3x5+chan`, where 3 goroutines each do 5
//! rounds and then send on one channel that main receives from 3 times.
//!
//! ```text
//! cargo bench --bench explore            # all programs, 7 samples each, medians
//! cargo bench --bench explore -- 2x10    # only programs whose name contains "2x10"
//! ```
//!
//! Each sample runs as many schedules as fit in about 0.3 s of CPU time, alternating between
//! goweave and shuttle. Rates are per second of process CPU time, so that other load on the
//! machine does not distort them (on an idle machine CPU time and wall time agree: both run
//! one schedule at a time on one thread). The table shows the median rates, the median of the
//! per-sample ratios, and goweave's CPU time per scheduling point.

use std::sync::Arc;
use std::time::Duration;

const SAMPLES: usize = 7;
const SAMPLE_TIME: Duration = Duration::from_millis(300);

fn goweave_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(goweave::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let m = m.clone();
                goweave::go(move || {
                    for _ in 0..ops {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(*m.lock(), t * ops);
    }
}

fn shuttle_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(shuttle::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let m = m.clone();
                shuttle::thread::spawn(move || {
                    for _ in 0..ops {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock().unwrap(), t * ops);
    }
}

fn goweave_chan_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(goweave::sync::Mutex::new(0u64));
        let done = goweave::chan::make::<u64>(0);
        for i in 0..t {
            let (m, done) = (m.clone(), done.clone());
            goweave::go(move || {
                for _ in 0..ops {
                    *m.lock() += 1;
                }
                done.send(i);
            });
        }
        let got: u64 = (0..t).map(|_| done.recv().unwrap()).sum();
        assert_eq!(got, t * (t - 1) / 2);
        assert_eq!(*m.lock(), t * ops);
    }
}

fn shuttle_chan_program(t: u64, ops: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(shuttle::sync::Mutex::new(0u64));
        // A rendezvous channel, as goweave's unbuffered one.
        let (tx, rx) = shuttle::sync::mpsc::sync_channel::<u64>(0);
        for i in 0..t {
            let (m, tx) = (m.clone(), tx.clone());
            shuttle::thread::spawn(move || {
                for _ in 0..ops {
                    *m.lock().unwrap() += 1;
                }
                tx.send(i).unwrap();
            });
        }
        let got: u64 = (0..t).map(|_| rx.recv().unwrap()).sum();
        assert_eq!(got, t * (t - 1) / 2);
        assert_eq!(*m.lock().unwrap(), t * ops);
    }
}

/// Schedules that fit in about one sample of `run` (which runs `n` schedules).
fn calibrate(run: &mut dyn FnMut(u64)) -> u64 {
    let mut n = 16;
    loop {
        let t = cpu_time();
        run(n);
        let el = cpu_time() - t;
        if el >= SAMPLE_TIME / 4 {
            return ((n as f64) * SAMPLE_TIME.as_secs_f64() / el.as_secs_f64()).max(1.0) as u64;
        }
        n *= 4;
    }
}

/// CPU time used by this process so far (all threads): unlike wall time, it does not count
/// the time other processes on a busy machine take from us.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Schedules per CPU-second of `run(n)`.
fn rate(run: &mut dyn FnMut(u64), n: u64) -> f64 {
    let t = cpu_time();
    run(n);
    n as f64 / (cpu_time() - t).as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!(
        "{:<8} {:>14} {:>14} {:>7} {:>12}",
        "program", "goweave sch/s", "shuttle sch/s", "ratio", "ns/sched pt"
    );
    for (t, ops, with_chan) in [
        (2, 10, false),
        (4, 10, false),
        (8, 100, false),
        (3, 5, true),
    ] {
        let name = format!("{t}x{ops}{}", if with_chan { "+chan" } else { "" });
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let mut seed = 0;
        let mut steps = (0, 0);
        let mut goweave = |n: u64| {
            seed += 1;
            let checker = goweave::Checker::new().seed(seed).iterations(n);
            let stats = if with_chan {
                checker.run(goweave_chan_program(t, ops))
            } else {
                checker.run(goweave_program(t, ops))
            }
            .unwrap();
            steps = (steps.0 + stats.steps, steps.1 + stats.schedules);
        };
        let mut shuttle = |n: u64| {
            if with_chan {
                shuttle::check_random(shuttle_chan_program(t, ops), n as usize)
            } else {
                shuttle::check_random(shuttle_program(t, ops), n as usize)
            }
        };
        let (gn, sn) = (calibrate(&mut goweave), calibrate(&mut shuttle));
        // Samples alternate between the two, so that a change in machine load hits both.
        let (mut g, mut s, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..SAMPLES {
            let a = rate(&mut goweave, gn);
            let b = rate(&mut shuttle, sn);
            g.push(a);
            s.push(b);
            ratio.push(a / b);
        }
        let (goweave, shuttle, ratio) = (median(g), median(s), median(ratio));
        let points_per_schedule = steps.0 as f64 / steps.1 as f64;
        println!(
            "{:<8} {:>14.0} {:>14.0} {:>6.1}x {:>12.1}",
            name,
            goweave,
            shuttle,
            ratio,
            1e9 / goweave / points_per_schedule
        );
    }
}
