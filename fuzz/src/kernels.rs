//! Small buggy concurrent programs ("kernels") that the fuzz targets, goweave's fuzzing tests
//! and the Fuzz-versus-Random benchmark share. Each is a plain `fn()` (or a closure built by a
//! function) using goweave's primitives, and each has a bug that shows only under some
//! schedules.

use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::chan;
use goweave::go;
use goweave::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};
use goweave::sync::{Mutex, RwLock};

/// A bank transfer with a lost update: `transfer` reads the balance under the account's lock,
/// releases it, and writes the new balance under a second acquisition. Two transfers out of
/// the same account can both read 100 and both write their own result, so money disappears.
pub fn bank_transfer() {
    let accounts: Arc<[Mutex<i64>; 3]> =
        Arc::new([Mutex::new(100), Mutex::new(100), Mutex::new(100)]);
    let transfer = |from: usize, to: usize, amount: i64| {
        let accounts = accounts.clone();
        go(move || {
            let balance = *accounts[from].lock();
            if balance >= amount {
                *accounts[from].lock() = balance - amount;
                *accounts[to].lock() += amount;
            }
        })
    };
    let hs = [transfer(0, 1, 30), transfer(0, 2, 50)];
    for h in hs {
        h.join();
    }
    let total: i64 = accounts.iter().map(|a| *a.lock()).sum();
    assert_eq!(
        total, 300,
        "money was lost: the books hold {total} instead of 300"
    );
}

/// A pipeline that leaks a goroutine: two workers send their results on an unbuffered channel,
/// and the collector stops at the first error. When the error arrives first, the other worker
/// blocks in its send forever, which the goleak-style check at the end reports.
pub fn pipeline_leak() {
    let results: chan::Chan<Result<u32, String>> = chan::make(0);
    for job in 0..2u32 {
        let results = results.clone();
        go(move || {
            let r = if job == 1 {
                Err(format!("job {job} failed"))
            } else {
                Ok(job * 10)
            };
            results.send(r);
        });
    }
    let collect = || {
        let mut sum = 0;
        for _ in 0..2 {
            match results.recv() {
                Some(Ok(v)) => sum += v,
                // The bug: returning here abandons the worker still sending.
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(sum)
    };
    let _ = collect();
    goweave::leak::verify_none(goweave::leak::Options::new());
}

/// A racy lazy initialisation: "if not initialised, initialise" with the flag checked and set
/// in two steps. Two goroutines can both see the flag clear and both write the value, a data
/// race on the cell.
pub fn lazy_init() {
    let ready = Arc::new(AtomicBool::new(false));
    let config: Arc<RaceCell<u64>> = Arc::new(RaceCell::named("config", 0));
    let get = {
        let (ready, config) = (ready.clone(), config.clone());
        move || {
            if !ready.load(SeqCst) {
                config.set(42);
                ready.store(true, SeqCst);
            }
            config.get()
        }
    };
    let g2 = get.clone();
    let h = go(g2);
    let a = get();
    assert_eq!(a, 42);
    assert_eq!(h.join(), 42);
}

/// A writer-starved read lock: a reader takes the read lock, then takes it again in a helper.
/// Like Go's `RWMutex`, goweave's `RwLock` lets no new reader in while a writer waits, so if
/// the writer arrives between the two read locks, the reader waits for the writer, which waits
/// for the reader: a deadlock.
pub fn rwlock_starvation() {
    let table = Arc::new(RwLock::new(vec![1u32, 2, 3]));
    let lookup = |t: &RwLock<Vec<u32>>, i: usize| t.read()[i];
    let reader = {
        let table = table.clone();
        go(move || {
            let g = table.read();
            let first = g[0];
            // The helper takes the read lock again while this goroutine still holds it.
            let second = lookup(&table, 1);
            drop(g);
            first + second
        })
    };
    table.write().push(4);
    assert_eq!(reader.join(), 3);
}

/// SCTBench's reorder_N: N-1 setters write `a = 1; b = -1`, one checker asserts that it sees
/// both writes or neither.
pub fn reorder(n: usize) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let a = Arc::new(AtomicI64::new(0));
        let b = Arc::new(AtomicI64::new(0));
        let mut hs = Vec::new();
        for _ in 0..n - 1 {
            let (a, b) = (a.clone(), b.clone());
            hs.push(go(move || {
                a.store(1, SeqCst);
                b.store(-1, SeqCst);
            }));
        }
        let (a2, b2) = (a.clone(), b.clone());
        hs.push(go(move || {
            let x = a2.load(SeqCst);
            let y = b2.load(SeqCst);
            assert!(
                (x == 0 && y == 0) || (x == 1 && y == -1),
                "reorder: a={x} b={y}"
            );
        }));
        for h in hs {
            h.join();
        }
    }
}

/// SCTBench's twostage_N: N writers each set `data1 = 1` under one lock, then
/// `data2 = data1 + 1` under another; one reader, started last, reads `data1` (giving up if it
/// is still 0) and then `data2` under the same locks, and asserts `t2 == t1 + 1`. It fails only
/// if the reader runs entirely between some writer's two stages before any writer finished its
/// second one.
pub fn twostage(n: usize) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let lock1 = Arc::new(Mutex::new(()));
        let lock2 = Arc::new(Mutex::new(()));
        let data1 = Arc::new(RaceCell::named("data1", 0i64));
        let data2 = Arc::new(RaceCell::named("data2", 0i64));
        let mut hs = Vec::new();
        for _ in 0..n {
            let (lock1, lock2, data1, data2) =
                (lock1.clone(), lock2.clone(), data1.clone(), data2.clone());
            hs.push(go(move || {
                let v = {
                    let _g = lock1.lock();
                    data1.set(1);
                    1
                };
                let _g = lock2.lock();
                // SCTBench reads data1 again here, outside its lock (a data race the race
                // detector would report first); the value it reads is the one just written.
                data2.set(v + 1);
            }));
        }
        hs.push(go(move || {
            let t1 = {
                let _g = lock1.lock();
                let t1 = data1.get();
                if t1 == 0 {
                    return;
                }
                t1
            };
            let t2 = {
                let _g = lock2.lock();
                data2.get()
            };
            assert_eq!(t2, t1 + 1, "twostage: data2 = {t2} but data1 = {t1}");
        }));
        for h in hs {
            h.join();
        }
    }
}
