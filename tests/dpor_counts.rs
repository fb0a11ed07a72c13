//! `Dfs` with partial-order reduction explores one schedule per Mazurkiewicz trace. The trace
//! counts below are established by hand (the reasoning is beside each program) and the plain
//! search (`dfs:plain`) confirms the same outcomes on the small ones.

use std::sync::Arc;

use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, StrategyKind};

#[path = "common/kernels.rs"]
mod kernels;

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

fn dfs() -> Checker {
    Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .shrink_budget(std::time::Duration::from_secs(1))
}

#[test]
fn the_reader_between_two_writes_is_found_among_unrelated_goroutines_within_10_schedules() {
    let f = dfs()
        .run(|| {
            let x = Arc::new(AtomicU64::new(0));
            let mut hs = Vec::new();
            // Unrelated work: four goroutines, five operations each on their own atomic
            // (plain DFS has more than 2,000,000 interleavings to try here).
            for _ in 0..4 {
                hs.push(go(|| {
                    let mine = AtomicU64::new(0);
                    for _ in 0..5 {
                        mine.fetch_add(1, SeqCst);
                    }
                }));
            }
            let w = x.clone();
            hs.push(go(move || {
                w.store(1, SeqCst);
                w.store(2, SeqCst);
            }));
            let r = x.clone();
            hs.push(go(move || {
                assert_ne!(r.load(SeqCst), 1, "read between the two writes");
            }));
            for h in hs {
                h.join();
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), goweave::FailureKind::Panic, "{f}");
    assert!(f.report().contains("read between the two writes"), "{f}");
    assert!(
        f.iteration() < 10,
        "found at schedule {}",
        f.iteration() + 1
    );
}

#[test]
fn the_kernels_are_found_lost_update_deadlock_leak_race() {
    use goweave::cell::RaceCell;
    use goweave::FailureKind;
    // Lost update: load, then store.
    let f = dfs().run(kernels::lost_update).unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    // Deadlock: two locks in opposite orders.
    let f = dfs()
        .run(|| {
            let a = Arc::new(Mutex::new(()));
            let b = Arc::new(Mutex::new(()));
            let (a2, b2) = (a.clone(), b.clone());
            let h = go(move || {
                let _x = a2.lock();
                let _y = b2.lock();
            });
            {
                let _y = b.lock();
                let _x = a.lock();
            }
            h.join();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    // Leak: the first reply wins, the second sender blocks for ever.
    let f = dfs()
        .run(|| {
            let c = goweave::chan::make::<u32>(0);
            for i in 0..2 {
                let c = c.clone();
                go(move || c.send(i));
            }
            c.recv();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    // Race: an unsynchronised RaceCell.
    let f = dfs()
        .run(|| {
            let c = Arc::new(RaceCell::new(0));
            let c2 = c.clone();
            let h = go(move || c2.set(1));
            c.set(2);
            h.join();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Race, "{f}");
}

#[test]
fn lastzero_gives_its_five_traces() {
    // Thread 0 scans a[2], a[1], a[0] for a zero; thread j sets a[j] = a[j-1] + 1. By hand:
    // thread 0 reads a[2] before thread 2's write (then the order of thread 2's read and
    // thread 1's write: 2 traces), or after it (then thread 2 read a[1] before thread 1's
    // write and thread 0 reads a[1] before or after it, or thread 2 read it after: 3).
    let n = 2usize;
    let n = count(move || {
        let a: Arc<Vec<AtomicU64>> = Arc::new((0..=n).map(|_| AtomicU64::new(0)).collect());
        let mut hs = Vec::new();
        let a0 = a.clone();
        hs.push(go(move || {
            for i in (0..=n).rev() {
                if a0[i].load(SeqCst) == 0 {
                    break;
                }
            }
        }));
        for j in 1..=n {
            let a = a.clone();
            hs.push(go(move || {
                let v = a[j - 1].load(SeqCst);
                a[j].store(v + 1, SeqCst);
            }));
        }
        for h in hs {
            h.join();
        }
    });
    assert_eq!(n, 5);
}
