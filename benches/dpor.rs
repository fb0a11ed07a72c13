//! Exhaustive search with partial-order reduction: per program, the number of Mazurkiewicz
//! traces, the schedules goweave's `Dfs` (DPOR) runs to cover them, and the time it takes.
//!
//! ```text
//! cargo bench --bench dpor             # every program
//! cargo bench --bench dpor -- mutex    # programs whose name contains "mutex"
//! cargo bench --bench dpor -- throughput   # time per schedule, DPOR against plain DFS
//! cargo bench --bench dpor -- split        # the static split: per part, schedules and wasted runs
//! cargo bench --bench dpor -- split-jobs   # wall time of 2 parts on 2 threads against the whole
//! valgrind --tool=callgrind target/release/deps/dpor-<hash> probe-split-0-2   # part 0 of 2
//!     # of the throughput program (instructions per part, against probe-dpor's whole)
//! valgrind --tool=callgrind target/release/deps/dpor-<hash> probe-dpor   # (or probe-plain)
//!     # instructions of one search of the throughput program (34,650 schedules): stable
//!     # on a busy machine, unlike the times
//! DPOR_BRUTE_CAP=100000 cargo bench --bench dpor   # a quicker brute force (more "hand"/"?")
//! ```
//!
//! How the trace count is established, per program (`how` column):
//! - `hand`: by counting (the reasoning is in the program's comment);
//! - `brute`: by brute force over the events: the plain search (`dfs:plain`) runs every
//!   interleaving; each program logs, right after every visible operation completes, the
//!   object, whether it wrote, and the goroutine; an execution's trace is then, per object,
//!   the sequence of writes with the set of reads between them (loads commute, everything else
//!   on one object conflicts: the relation of `explore::Dpor`'s docs), each operation named
//!   by its goroutine and its index there. The count is the number of distinct traces.
//!
//! loom's executions for the same programs: `benches/loom` (`-- dpor`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use goweave::chan;
use goweave::explore::Dpor;
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::{Cond, Mutex, RwLock, WaitGroup};
use goweave::{go, Checker, StrategyKind};

#[path = "../tests/common/trace_text.rs"]
mod trace_text;
use trace_text::trace_text;

/// The operations of the running execution, when counting traces by brute force.
static LOG: StdMutex<Option<Vec<(u32, bool, u64)>>> = StdMutex::new(None);
/// The distinct traces seen.
static TRACES: StdMutex<Option<BTreeSet<String>>> = StdMutex::new(None);

/// Log a completed operation on object `obj`.
fn log(obj: u32, write: bool) {
    if let Some(v) = LOG.lock().unwrap().as_mut() {
        v.push((obj, write, goweave::runtime::id()));
    }
}

/// A schedule starts: forget whatever an earlier one logged and did not `finish` (one that
/// failed, or was cut off, before its end), so that it does not end up in this one's trace.
fn start_log() {
    if let Some(v) = LOG.lock().unwrap().as_mut() {
        v.clear();
    }
}

/// The execution is over: reduce its log to its trace.
fn finish() {
    let Some(ev) = LOG.lock().unwrap().as_mut().map(std::mem::take) else {
        return;
    };
    let t = trace_text(ev);
    TRACES.lock().unwrap().as_mut().expect("on").insert(t);
}

fn join_all<T>(hs: Vec<goweave::JoinHandle<T>>) {
    for h in hs {
        h.join();
    }
}

/// `t` goroutines each lock one mutex `rounds` times. Traces by hand: the lock orders, t!
/// for one round; C(6,3) = 20 for two goroutines of three rounds.
fn mutex(t: u64, rounds: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(Mutex::new(0u64));
        let hs = (0..t)
            .map(|_| {
                let m = m.clone();
                go(move || {
                    for _ in 0..rounds {
                        *m.lock() += 1;
                        log(0, true);
                    }
                })
            })
            .collect();
        join_all(hs);
        finish();
    }
}

/// One writer and three readers of one atomic. By hand: each reader before or after the
/// write, 2^3.
fn atomic_w1r3() {
    let x = Arc::new(AtomicU64::new(0));
    let mut hs = vec![{
        let x = x.clone();
        go(move || {
            x.store(1, SeqCst);
            log(0, true);
        })
    }];
    for _ in 0..3 {
        let x = x.clone();
        hs.push(go(move || {
            x.load(SeqCst);
            log(0, false);
        }));
    }
    join_all(hs);
    finish();
}

/// Three goroutines, each on its own atomic. By hand: nothing in common, one trace.
fn own_atomics() {
    let hs = (0..3u32)
        .map(|i| {
            go(move || {
                let x = AtomicU64::new(0);
                x.fetch_add(1, SeqCst);
                log(i, true);
                x.load(SeqCst);
                log(i, false);
            })
        })
        .collect();
    join_all(hs);
    finish();
}

/// `n` senders on a buffered channel (capacity `n`), main receives `n` values. By hand: the
/// order of the sends (n!) times the places of the receives among them with no prefix holding
/// more receives than sends (a receive on the empty channel is not enabled): the Catalan
/// number C(n). 4 for n = 2, 30 for n = 3.
fn chan_senders(n: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let c = chan::make::<u64>(n as usize);
        let hs = (0..n)
            .map(|i| {
                let c = c.clone();
                go(move || {
                    c.send(i);
                    log(0, true);
                })
            })
            .collect();
        for _ in 0..n {
            c.recv();
            log(0, true);
        }
        join_all(hs);
        finish();
    }
}

/// Two senders on two channels; main selects twice. A select reads both channels and takes
/// one (logged as a write of the one it takes and a read of the other). By hand: the first
/// select runs after exactly one send (a or b), or after both and takes a or b: 4.
fn select2() {
    let a = chan::make::<u64>(1);
    let b = chan::make::<u64>(1);
    let hs = vec![
        {
            let a = a.clone();
            go(move || {
                a.send(1);
                log(0, true);
            })
        },
        {
            let b = b.clone();
            go(move || {
                b.send(2);
                log(1, true);
            })
        },
    ];
    for _ in 0..2 {
        goweave::select! {
            recv(a) -> _ => {
                log(0, true);
                log(1, false);
            },
            recv(b) -> _ => {
                log(1, true);
                log(0, false);
            },
        }
    }
    join_all(hs);
    finish();
}

/// Unbuffered ping-pong, `rounds` times. Each rendezvous is one event (logged by the receiving
/// side), whichever side arrives first; each depends on the one before. By hand: 1.
fn ping_pong(rounds: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let ping = chan::make::<u64>(0);
        let pong = chan::make::<u64>(0);
        let (pi, po) = (ping.clone(), pong.clone());
        let h = go(move || {
            for _ in 0..rounds {
                let v = pi.recv().unwrap();
                log(0, true);
                po.send(v + 1);
            }
        });
        for i in 0..rounds {
            ping.send(i);
            pong.recv();
            log(1, true);
        }
        h.join();
        finish();
    }
}

/// Two readers and a writer of one RwLock. By hand: each reader before or after the writer
/// (readers commute), 2^2.
fn rwlock_2r1w() {
    let l = Arc::new(RwLock::new(0u64));
    let mut hs = Vec::new();
    for _ in 0..2 {
        let l = l.clone();
        hs.push(go(move || {
            let _g = l.read();
            log(0, false);
        }));
    }
    let l2 = l.clone();
    hs.push(go(move || {
        *l2.write() += 1;
        log(0, true);
    }));
    join_all(hs);
    finish();
}

/// Three goroutines work on their own atomics and call `done`; main waits. By hand: the
/// `done`s conflict (they write the counter), 3!.
fn waitgroup3() {
    let wg = Arc::new(WaitGroup::new());
    wg.add(3);
    for i in 0..3u32 {
        let wg = wg.clone();
        go(move || {
            let x = AtomicU64::new(0);
            x.fetch_add(1, SeqCst);
            log(10 + i, true);
            wg.done();
            log(0, true);
        });
    }
    wg.wait();
    log(0, false);
    finish();
}

/// A consumer waits on a Cond for a flag a producer sets under the mutex. By hand: the
/// consumer takes the lock first (and waits) or second (and does not): 2.
fn cond() {
    let s = Arc::new((Mutex::new(false), Cond::new()));
    let s2 = s.clone();
    let h = go(move || {
        let (m, c) = &*s2;
        let mut g = m.lock();
        log(0, true);
        *g = true;
        c.signal();
        drop(g);
    });
    let (m, c) = &*s;
    let mut g = m.lock();
    log(0, true);
    while !*g {
        g = c.wait(g);
        log(0, true);
    }
    drop(g);
    h.join();
    finish();
}

/// lastzero(n) (Abdulla et al.): thread 0 scans `a` from the end for a zero; thread j sets
/// `a[j] = a[j-1] + 1`.
fn lastzero(n: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a: Arc<Vec<AtomicU64>> = Arc::new((0..=n).map(|_| AtomicU64::new(0)).collect());
        let mut hs = Vec::new();
        let a0 = a.clone();
        hs.push(go(move || {
            for i in (0..=n).rev() {
                let v = a0[i].load(SeqCst);
                log(i as u32, false);
                if v == 0 {
                    break;
                }
            }
        }));
        for j in 1..=n {
            let a = a.clone();
            hs.push(go(move || {
                let v = a[j - 1].load(SeqCst);
                log(j as u32 - 1, false);
                a[j].store(v + 1, SeqCst);
                log(j as u32, true);
            }));
        }
        join_all(hs);
        finish();
    }
}

/// indexer(n) (Flanagan and Godefroid): n threads insert 4 entries each into a hash table
/// of 128 slots by compare-and-swap. By hand: below 12 threads the slots never collide, so
/// every thread touches its own slots: one trace.
fn indexer(n: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let table: Arc<Vec<AtomicU64>> = Arc::new((0..128).map(|_| AtomicU64::new(0)).collect());
        let hs = (0..n)
            .map(|tid| {
                let table = table.clone();
                go(move || {
                    for m in 0..4u64 {
                        let w = m * 11 + tid;
                        let mut h = (w * 7) % 128;
                        loop {
                            let ok = table[h as usize].compare_exchange(0, w + 1, SeqCst, SeqCst);
                            log(h as u32, true);
                            if ok.is_ok() {
                                break;
                            }
                            h = (h + 1) % 128;
                        }
                    }
                })
            })
            .collect();
        join_all(hs);
        finish();
    }
}

/// filesystem(n) (Flanagan and Godefroid): thread i locks inode i, and if it is free,
/// searches a free block under the block locks. By hand: below 14 threads every thread has
/// its own inode and block: one trace.
fn filesystem(n: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        const BLOCKS: usize = 26;
        let inode_locks: Arc<Vec<Mutex<u64>>> = Arc::new((0..32).map(|_| Mutex::new(0)).collect());
        let block_locks: Arc<Vec<Mutex<bool>>> =
            Arc::new((0..BLOCKS).map(|_| Mutex::new(false)).collect());
        let hs = (0..n)
            .map(|tid| {
                let (il, bl) = (inode_locks.clone(), block_locks.clone());
                go(move || {
                    let i = tid % 32;
                    let mut inode = il[i].lock();
                    log(100 + i as u32, true);
                    if *inode == 0 {
                        let mut b = (i * 2) % BLOCKS;
                        loop {
                            let mut busy = bl[b].lock();
                            log(b as u32, true);
                            if !*busy {
                                *busy = true;
                                *inode = b as u64 + 1;
                                break;
                            }
                            drop(busy);
                            b = (b + 1) % BLOCKS;
                        }
                    }
                })
            })
            .collect();
        join_all(hs);
        finish();
    }
}

/// Peterson's mutual exclusion for two goroutines, with sequentially consistent atomics; the
/// waiting loop yields.
fn peterson() {
    let flag = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let turn = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicU64::new(0));
    let hs = (0..2usize)
        .map(|me| {
            let (flag, turn, inside) = (flag.clone(), turn.clone(), inside.clone());
            go(move || {
                let other = 1 - me;
                flag[me].store(1, SeqCst);
                log(me as u32, true);
                turn.store(other as u64, SeqCst);
                log(2, true);
                loop {
                    let f = flag[other].load(SeqCst);
                    log(other as u32, false);
                    if f == 0 {
                        break;
                    }
                    let t = turn.load(SeqCst);
                    log(2, false);
                    if t != other as u64 {
                        break;
                    }
                    // Busy waiting gives way (the fair-scheduling assumption of stateless
                    // model checkers: a spin is not progress).
                    goweave::runtime::gosched();
                }
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "mutual exclusion");
                log(3, true);
                inside.fetch_sub(1, SeqCst);
                log(3, true);
                flag[me].store(0, SeqCst);
                log(me as u32, true);
            })
        })
        .collect();
    join_all(hs);
    finish();
}

/// Three dining philosophers, each taking the lower-numbered of its two forks first (so no
/// deadlock). Traces by hand: the order of the two philosophers on each of the three forks,
/// 2^3 = 8 combinations, of which 2 are cyclic (philosopher 0 entirely before 2 on fork 0,
/// 1 before 0 on fork 1 and 2 before 1 on fork 2; and the mirror image): 6.
fn philosophers() {
    let n = 3;
    let forks: Arc<Vec<Mutex<u64>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let hs = (0..n)
        .map(|p| {
            let forks = forks.clone();
            go(move || {
                let (a, b) = (p.min((p + 1) % n), p.max((p + 1) % n));
                let mut fa = forks[a].lock();
                log(a as u32, true);
                let mut fb = forks[b].lock();
                log(b as u32, true);
                *fa += 1;
                *fb += 1;
            })
        })
        .collect();
    join_all(hs);
    finish();
}

type Body = Arc<dyn Fn() + Send + Sync>;

fn programs() -> Vec<(&'static str, Option<u64>, Body)> {
    vec![
        ("mutex_2x1", Some(2), Arc::new(mutex(2, 1))),
        ("mutex_3x1", Some(6), Arc::new(mutex(3, 1))),
        ("mutex_4x1", Some(24), Arc::new(mutex(4, 1))),
        ("mutex_2x3", Some(20), Arc::new(mutex(2, 3))),
        ("atomic_w1r3", Some(8), Arc::new(atomic_w1r3)),
        ("own_atomics_3", Some(1), Arc::new(own_atomics)),
        ("chan_senders_2", Some(4), Arc::new(chan_senders(2))),
        ("chan_senders_3", Some(30), Arc::new(chan_senders(3))),
        ("ping_pong_3", Some(1), Arc::new(ping_pong(3))),
        ("select_2", Some(4), Arc::new(select2)),
        ("rwlock_2r1w", Some(4), Arc::new(rwlock_2r1w)),
        ("waitgroup_3", Some(6), Arc::new(waitgroup3)),
        ("cond", Some(2), Arc::new(cond)),
        ("lastzero_2", None, Arc::new(lastzero(2))),
        ("lastzero_3", None, Arc::new(lastzero(3))),
        ("indexer_3", Some(1), Arc::new(indexer(3))),
        ("filesystem_3", Some(1), Arc::new(filesystem(3))),
        ("peterson", None, Arc::new(peterson)),
        ("philosophers_3", Some(6), Arc::new(philosophers)),
    ]
}

fn run(s: StrategyKind, body: &Body, cap: u64) -> (u64, bool, Duration) {
    let b = body.clone();
    let start = Instant::now();
    let stats = Checker::new()
        .strategy(s)
        .iterations(cap)
        .run(move || {
            start_log();
            b()
        })
        .unwrap_or_else(|f| panic!("{f}"));
    (stats.schedules, stats.exhausted, start.elapsed())
}

/// Cost per schedule: the reduction's bookkeeping (notes, vector clocks, races, wakeup
/// trees) against the plain search, on a program with many traces (3 goroutines x 4 lock
/// rounds: 12!/(4!^3) = 34,650 lock orders), the plain search timed over as many schedules.
fn throughput() {
    let body: Body = Arc::new(mutex(3, 4));
    let mut dpor = Vec::new();
    let mut plain = Vec::new();
    let mut n = 0;
    for _ in 0..3 {
        let (k, done, t) = run(
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            &body,
            u64::MAX,
        );
        assert!(done);
        n = k;
        dpor.push(t.as_secs_f64() * 1e6 / k as f64);
        let (k, _, t) = run(StrategyKind::DfsPlain, &body, n);
        plain.push(t.as_secs_f64() * 1e6 / k as f64);
    }
    dpor.sort_by(f64::total_cmp);
    plain.sort_by(f64::total_cmp);
    println!(
        "throughput mutex_3x4: dpor {n} schedules, {:.2} us/schedule (worst {:.2}); plain dfs {:.2} us/schedule (worst {:.2}) over its first {n}; ratio {:.2}",
        dpor[1],
        dpor[2],
        plain[1],
        plain[2],
        dpor[1] / plain[1]
    );
}

/// One part of a split search of `body`: (schedules, wasted runs, time).
fn run_part(body: &Body, part: u64, parts: u64) -> (u64, u64, Duration) {
    let b = body.clone();
    let start = Instant::now();
    let stats = Checker::new()
        .custom_strategy(Dpor::split(part, parts))
        .iterations(u64::MAX)
        .run(move || b())
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(stats.exhausted);
    (stats.schedules, stats.wasted, start.elapsed())
}

/// The static split (`Dpor::split`) on every program: the single search's count, then for 2
/// and 4 parts each part's schedules and wasted runs (sleep-set blocked, or run to reach
/// another part's subtree), and the largest part's share of the schedules against an even
/// one (max / mean: 1.00 is perfect balance).
fn split(filter: &[String]) {
    println!(
        "{:<16} {:>7}  {:<28} {:<34} {:>7}",
        "program", "single", "n=2: schedules / wasted", "n=4: schedules / wasted", "max/mean"
    );
    for (name, _, body) in programs() {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let (single, _, _) = run(
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            &body,
            u64::MAX,
        );
        let mut cols = Vec::new();
        let mut shares = Vec::new();
        for n in [2u64, 4] {
            let parts: Vec<(u64, u64, Duration)> = (0..n).map(|i| run_part(&body, i, n)).collect();
            let sched: Vec<u64> = parts.iter().map(|p| p.0).collect();
            let wasted: Vec<u64> = parts.iter().map(|p| p.1).collect();
            let sum: u64 = sched.iter().sum();
            let mean = sum as f64 / n as f64;
            let max = *sched.iter().max().unwrap() as f64;
            shares.push(if mean > 0.0 { max / mean } else { 0.0 });
            let mark = if sum == single { "" } else { " (sum differs)" };
            cols.push(format!("{sched:?} / {wasted:?}{mark}"));
        }
        println!(
            "{name:<16} {single:>7}  {:<28} {:<34} {:>4.2} {:>4.2}",
            cols[0], cols[1], shares[0], shares[1]
        );
    }
}

/// Wall time of the whole search against two parts on two threads, on the throughput
/// program (34,650 schedules), alternating, five rounds; the median and worst of each.
fn split_jobs() {
    let body: Body = Arc::new(mutex(3, 4));
    let mut one = Vec::new();
    let mut two = Vec::new();
    let mut wasted = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let (n, done, _) = run(
            StrategyKind::Dfs {
                max_preemptions: None,
            },
            &body,
            u64::MAX,
        );
        assert!(done && n == 34_650);
        one.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let parts: Vec<(u64, u64, Duration)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|i| {
                    let body = &body;
                    s.spawn(move || run_part(body, i, 2))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        two.push(start.elapsed().as_secs_f64());
        assert_eq!(parts.iter().map(|p| p.0).sum::<u64>(), 34_650);
        wasted = parts.iter().map(|p| p.1).sum();
    }
    one.sort_by(f64::total_cmp);
    two.sort_by(f64::total_cmp);
    println!(
        "split-jobs mutex_3x4 (34,650 schedules): 1 job {:.3} s (worst {:.3}); 2 jobs {:.3} s (worst {:.3}), {wasted} wasted runs in all; speed-up {:.2}x",
        one[2], one[4], two[2], two[4], one[2] / two[2]
    );
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filter.iter().any(|f| f == "throughput") {
        throughput();
        return;
    }
    if filter.iter().any(|f| f == "split-jobs") {
        split_jobs();
        return;
    }
    if filter.iter().any(|f| f == "split") {
        let rest: Vec<String> = filter.iter().filter(|f| *f != "split").cloned().collect();
        split(&rest);
        return;
    }
    // One search of the throughput program, for an instruction count per schedule:
    // `valgrind --tool=callgrind target/release/deps/dpor-* probe-dpor` (or `probe-plain`,
    // over as many schedules).
    // One part of a split search of the throughput program, for instruction counts per
    // part: `probe-split-I-N` runs part I (from 0) of N.
    if let Some(f) = filter.iter().find(|f| f.starts_with("probe-split-")) {
        let mut it = f["probe-split-".len()..]
            .split('-')
            .map(|x| x.parse::<u64>());
        let (Some(Ok(i)), Some(Ok(n))) = (it.next(), it.next()) else {
            panic!("probe-split-I-N: part I (from 0) of N, not {f}");
        };
        let body: Body = Arc::new(mutex(3, 4));
        let (k, w, _) = run_part(&body, i, n);
        println!("probe-split: part {i} of {n}: {k} schedules, {w} wasted runs");
        return;
    }
    if let Some(f) = filter.iter().find(|f| f.starts_with("probe-")) {
        let body: Body = Arc::new(mutex(3, 4));
        if f == "probe-plain" {
            // As many schedules as DPOR runs there: 12!/(4!^3) lock orders.
            let (k, _, _) = run(StrategyKind::DfsPlain, &body, 34_650);
            println!("probe-plain: {k} schedules");
        } else {
            let dpor = StrategyKind::Dfs {
                max_preemptions: None,
            };
            let (n, done, _) = run(dpor, &body, u64::MAX);
            assert!(done);
            println!("probe-dpor: {n} schedules");
        }
        return;
    }
    println!(
        "{:<16} {:>7} {:>5} {:>9} {:>11} {:>9}",
        "program", "traces", "how", "goweave", "plain dfs", "seconds"
    );
    for (name, hand, body) in programs() {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let dfs = StrategyKind::Dfs {
            max_preemptions: None,
        };
        // Three runs; the median time.
        let mut times = Vec::new();
        let mut schedules = 0;
        for _ in 0..3 {
            let (n, done, t) = run(dfs.clone(), &body, u64::MAX);
            assert!(done);
            schedules = n;
            times.push(t);
            if std::env::var_os("DPOR_BENCH_VERBOSE").is_some() {
                eprintln!("{name}: {n} schedules in {t:?}");
            }
        }
        times.sort();
        // Brute force where the plain search finishes within 2,000,000 schedules (or
        // DPOR_BRUTE_CAP).
        let cap = std::env::var("DPOR_BRUTE_CAP")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000_000);
        *LOG.lock().unwrap() = Some(Vec::new());
        *TRACES.lock().unwrap() = Some(BTreeSet::new());
        let (plain, plain_done, _) = run(StrategyKind::DfsPlain, &body, cap);
        let brute = TRACES.lock().unwrap().take().expect("on").len() as u64;
        *LOG.lock().unwrap() = None;
        let (traces, how) = match (hand, plain_done) {
            (Some(h), true) => {
                assert_eq!(
                    h, brute,
                    "{name}: the hand count disagrees with brute force"
                );
                (h.to_string(), "both")
            }
            (Some(h), false) => (h.to_string(), "hand"),
            (None, true) => (brute.to_string(), "brute"),
            (None, false) => ("?".into(), "-"),
        };
        let plain = if plain_done {
            plain.to_string()
        } else {
            format!(">{plain}")
        };
        println!(
            "{name:<16} {traces:>7} {how:>5} {schedules:>9} {plain:>11} {:>9.4}",
            times[1].as_secs_f64()
        );
    }
}
