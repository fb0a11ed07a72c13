//! `Dfs` with partial-order reduction explores one schedule per Mazurkiewicz trace. The trace
//! counts below are established by hand (the reasoning is beside each program) and the plain
//! search (`dfs:plain`) confirms the same outcomes on the small ones.

use std::sync::Arc;

use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, StrategyKind};

fn count(body: impl Fn() + Send + Sync + 'static) -> u64 {
    let stats = Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .run(body)
        .expect("no failure");
    assert!(stats.exhausted);
    stats.schedules
}

/// `n` goroutines each take one mutex `rounds` times; main joins them.
fn mutexes(n: usize, rounds: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let m = m.clone();
                go(move || {
                    for _ in 0..rounds {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
    }
}

#[test]
fn mutex_programs_give_one_schedule_per_lock_order() {
    // The lock orders: n! for n goroutines taking it once.
    assert_eq!(count(mutexes(2, 1)), 2);
    assert_eq!(count(mutexes(3, 1)), 6);
    assert_eq!(count(mutexes(4, 1)), 24);
    // Two goroutines, three rounds each: the interleavings of two sequences of 3, C(6,3).
    assert_eq!(count(mutexes(2, 3)), 20);
}

#[test]
fn one_writer_and_readers_of_one_atomic() {
    // Each reader reads before or after the write: 2^3.
    let n = count(|| {
        let x = Arc::new(AtomicU64::new(0));
        let w = {
            let x = x.clone();
            go(move || x.store(1, SeqCst))
        };
        let rs: Vec<_> = (0..3)
            .map(|_| {
                let x = x.clone();
                go(move || {
                    x.load(SeqCst);
                })
            })
            .collect();
        w.join();
        for r in rs {
            r.join();
        }
    });
    assert_eq!(n, 8);
}

#[test]
fn goroutines_on_their_own_atomics_give_one_trace() {
    let n = count(|| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                go(move || {
                    let x = AtomicU64::new(0);
                    x.fetch_add(1, SeqCst);
                    x.load(SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
    });
    assert_eq!(n, 1);
}
