//! loom's executions on the programs of goweave's `benches/dpor.rs` that loom can express
//! (it has no `select!` and no WaitGroup; its channel is std's unbounded `mpsc`).

use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use loom::sync::atomic::AtomicU64;
use loom::sync::{Arc, Condvar, Mutex, RwLock};
use loom::thread;

use super::LOOM_RUNS;

fn count(f: impl Fn() + Send + Sync + 'static) -> (u64, f64) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    b.max_branches = 1_000_000;
    let before = LOOM_RUNS.load(SeqCst);
    let start = Instant::now();
    b.check(move || {
        LOOM_RUNS.fetch_add(1, SeqCst);
        f()
    });
    (
        LOOM_RUNS.load(SeqCst) - before,
        start.elapsed().as_secs_f64(),
    )
}

fn mutex(t: u64, rounds: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..t)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..rounds {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn atomic_w1r3() {
    let x = Arc::new(AtomicU64::new(0));
    let mut hs = vec![{
        let x = x.clone();
        thread::spawn(move || x.store(1, SeqCst))
    }];
    for _ in 0..3 {
        let x = x.clone();
        hs.push(thread::spawn(move || {
            x.load(SeqCst);
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
}

fn own_atomics() {
    let hs: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(|| {
                let x = AtomicU64::new(0);
                x.fetch_add(1, SeqCst);
                x.load(SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

fn chan_senders(n: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let (tx, rx) = loom::sync::mpsc::channel::<u64>();
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let tx = tx.clone();
                thread::spawn(move || tx.send(i).unwrap())
            })
            .collect();
        for _ in 0..n {
            rx.recv().unwrap();
        }
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn rwlock_2r1w() {
    let l = Arc::new(RwLock::new(0u64));
    let mut hs = Vec::new();
    for _ in 0..2 {
        let l = l.clone();
        hs.push(thread::spawn(move || {
            let _g = l.read().unwrap();
        }));
    }
    let l2 = l.clone();
    hs.push(thread::spawn(move || *l2.write().unwrap() += 1));
    for h in hs {
        h.join().unwrap();
    }
}

fn cond() {
    let s = Arc::new((Mutex::new(false), Condvar::new()));
    let s2 = s.clone();
    let h = thread::spawn(move || {
        let (m, c) = &*s2;
        *m.lock().unwrap() = true;
        c.notify_one();
    });
    let (m, c) = &*s;
    let mut g = m.lock().unwrap();
    while !*g {
        g = c.wait(g).unwrap();
    }
    drop(g);
    h.join().unwrap();
}

fn lastzero(n: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a: Arc<Vec<AtomicU64>> = Arc::new((0..=n).map(|_| AtomicU64::new(0)).collect());
        let mut hs = Vec::new();
        let a0 = a.clone();
        hs.push(thread::spawn(move || {
            for i in (0..=n).rev() {
                if a0[i].load(SeqCst) == 0 {
                    break;
                }
            }
        }));
        for j in 1..=n {
            let a = a.clone();
            hs.push(thread::spawn(move || {
                let v = a[j - 1].load(SeqCst);
                a[j].store(v + 1, SeqCst);
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn indexer(n: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let table: Arc<Vec<AtomicU64>> = Arc::new((0..128).map(|_| AtomicU64::new(0)).collect());
        let hs: Vec<_> = (0..n)
            .map(|tid| {
                let table = table.clone();
                thread::spawn(move || {
                    for m in 0..4u64 {
                        let w = m * 11 + tid;
                        let mut h = (w * 7) % 128;
                        while table[h as usize]
                            .compare_exchange(0, w + 1, SeqCst, SeqCst)
                            .is_err()
                        {
                            h = (h + 1) % 128;
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn filesystem(n: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        const BLOCKS: usize = 26;
        let il: Arc<Vec<Mutex<u64>>> = Arc::new((0..32).map(|_| Mutex::new(0)).collect());
        let bl: Arc<Vec<Mutex<bool>>> = Arc::new((0..BLOCKS).map(|_| Mutex::new(false)).collect());
        let hs: Vec<_> = (0..n)
            .map(|tid| {
                let (il, bl) = (il.clone(), bl.clone());
                thread::spawn(move || {
                    let i = tid % 32;
                    let mut inode = il[i].lock().unwrap();
                    if *inode == 0 {
                        let mut b = (i * 2) % BLOCKS;
                        loop {
                            let mut busy = bl[b].lock().unwrap();
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
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn peterson() {
    let flag = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let turn = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2usize)
        .map(|me| {
            let (flag, turn, inside) = (flag.clone(), turn.clone(), inside.clone());
            thread::spawn(move || {
                let other = 1 - me;
                flag[me].store(1, SeqCst);
                turn.store(other as u64, SeqCst);
                while flag[other].load(SeqCst) == 1 && turn.load(SeqCst) == other as u64 {
                    thread::yield_now();
                }
                assert_eq!(inside.fetch_add(1, SeqCst), 0);
                inside.fetch_sub(1, SeqCst);
                flag[me].store(0, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

fn philosophers() {
    let n = 3;
    let forks: Arc<Vec<Mutex<u64>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let hs: Vec<_> = (0..n)
        .map(|p| {
            let forks = forks.clone();
            thread::spawn(move || {
                let (a, b) = (p.min((p + 1) % n), p.max((p + 1) % n));
                let mut fa = forks[a].lock().unwrap();
                let mut fb = forks[b].lock().unwrap();
                *fa += 1;
                *fb += 1;
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

type Body = Box<dyn Fn() + Send + Sync>;

/// Print `anchor=loom bench=dpor_<program> executions=<n> secs=<t>` per program.
pub fn run(wanted: &dyn Fn(&str) -> bool) {
    let programs: Vec<(&str, Body)> = vec![
        ("mutex_2x1", Box::new(mutex(2, 1))),
        ("mutex_3x1", Box::new(mutex(3, 1))),
        ("mutex_4x1", Box::new(mutex(4, 1))),
        ("mutex_2x3", Box::new(mutex(2, 3))),
        ("atomic_w1r3", Box::new(atomic_w1r3)),
        ("own_atomics_3", Box::new(own_atomics)),
        ("chan_senders_2", Box::new(chan_senders(2))),
        ("chan_senders_3", Box::new(chan_senders(3))),
        ("rwlock_2r1w", Box::new(rwlock_2r1w)),
        ("cond", Box::new(cond)),
        ("lastzero_2", Box::new(lastzero(2))),
        ("lastzero_3", Box::new(lastzero(3))),
        ("indexer_3", Box::new(indexer(3))),
        ("filesystem_3", Box::new(filesystem(3))),
        ("peterson", Box::new(peterson)),
        ("philosophers_3", Box::new(philosophers)),
    ];
    for (name, body) in programs {
        let full = format!("dpor_{name}");
        if !wanted(&full) {
            continue;
        }
        let body: &'static (dyn Fn() + Send + Sync) = Box::leak(body);
        let (n, secs) = count(body);
        println!("anchor=loom bench={full} executions={n} secs={secs:.4}");
    }
}
