//! The sync primitives' happens-before edges, as the race detector sees them on the controlled
//! executor: data handed over correctly through a primitive is never reported, and the same
//! program without the edge is.

use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::runtime::gosched;
use goweave::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use goweave::sync::{Mutex, Once, RwLock, Semaphore, WaitGroup};
use goweave::{go, Checker, FailureKind};

fn clean(f: impl Fn() + Send + Sync + 'static) {
    if let Err(e) = Checker::new().iterations(100).seed(5).run(f) {
        panic!("unexpected failure:\n{e}");
    }
}

fn racy(f: impl Fn() + Send + Sync + 'static) {
    let err = Checker::new().iterations(100).seed(5).run(f).unwrap_err();
    assert_eq!(err.kind(), FailureKind::Race, "{err}");
}

#[test]
fn mutex_orders_its_critical_sections() {
    clean(|| {
        let m = Arc::new(Mutex::new(()));
        let cell = Arc::new(RaceCell::new(0));
        let (m2, c2) = (m.clone(), cell.clone());
        let h = go(move || {
            let _g = m2.lock();
            c2.set(c2.get() + 1);
        });
        {
            let _g = m.lock();
            cell.set(cell.get() + 1);
        }
        h.join();
    });
}

#[test]
fn try_lock_orders_like_lock() {
    clean(|| {
        let m = Arc::new(Mutex::new(()));
        let cell = Arc::new(RaceCell::new(0));
        let (m2, c2) = (m.clone(), cell.clone());
        let h = go(move || loop {
            if let Some(_g) = m2.try_lock() {
                c2.set(c2.get() + 1);
                break;
            }
            gosched();
        });
        {
            let _g = m.lock();
            cell.set(cell.get() + 1);
        }
        h.join();
    });
}

#[test]
fn a_semaphore_orders_its_holders() {
    clean(|| {
        let sem = Arc::new(Semaphore::new(1));
        let cell = Arc::new(RaceCell::new(0));
        let (s2, c2) = (sem.clone(), cell.clone());
        let h = go(move || {
            s2.acquire(1);
            c2.set(c2.get() + 1);
            s2.release(1);
        });
        while !sem.try_acquire(1) {
            gosched();
        }
        cell.set(cell.get() + 1);
        sem.release(1);
        h.join();
    });
}

#[test]
fn rwlock_orders_writers_before_readers_and_readers_before_writers() {
    clean(|| {
        let l = Arc::new(RwLock::new(()));
        let cell = Arc::new(RaceCell::new(0));
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let (l, c) = (l.clone(), cell.clone());
                go(move || {
                    if i == 0 {
                        let _w = l.write();
                        c.set(c.get() + 1);
                    } else {
                        let _r = l.read();
                        c.get();
                    }
                })
            })
            .collect();
        {
            let _w = l.write();
            cell.set(cell.get() + 1);
        }
        hs.into_iter().for_each(|h| h.join());
    });
}

#[test]
fn waitgroup_orders_every_done_before_wait() {
    clean(|| {
        let wg = WaitGroup::new();
        let cells: Arc<Vec<RaceCell<u32>>> = Arc::new((0..3).map(RaceCell::new).collect());
        for i in 0..3 {
            let cells = cells.clone();
            wg.go(move || cells[i].set(7));
        }
        wg.wait();
        // Not joined: only the wait group orders these reads after the writes.
        assert!(cells.iter().all(|c| c.get() == 7));
    });
}

#[test]
fn once_orders_its_function_before_every_return() {
    clean(|| {
        let once = Arc::new(Once::new());
        let cell = Arc::new(RaceCell::new(0));
        let wg = WaitGroup::new();
        for _ in 0..2 {
            let (once, cell) = (once.clone(), cell.clone());
            wg.go(move || {
                once.call_once(|| cell.set(1));
                assert_eq!(cell.get(), 1);
            });
        }
        wg.wait();
    });
}

#[test]
fn release_acquire_atomics_publish_and_relaxed_ones_do_not() {
    fn publish(store: Ordering, load: Ordering) {
        let ready = Arc::new(AtomicBool::new(false));
        let cell = Arc::new(RaceCell::new(0));
        let (r, c) = (ready.clone(), cell.clone());
        go(move || {
            c.set(42);
            r.store(true, store);
        });
        while !ready.load(load) {
            gosched();
        }
        assert_eq!(cell.get(), 42);
    }
    clean(|| publish(Ordering::Release, Ordering::Acquire));
    clean(|| publish(Ordering::SeqCst, Ordering::SeqCst));
    racy(|| publish(Ordering::Relaxed, Ordering::Relaxed));
    racy(|| publish(Ordering::Release, Ordering::Relaxed));
}

#[test]
fn a_fetch_add_counter_orders_through_read_modify_writes() {
    clean(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let cell = Arc::new(RaceCell::new(0));
        let (n2, c2) = (n.clone(), cell.clone());
        go(move || {
            c2.set(1);
            n2.fetch_add(1, Ordering::AcqRel);
        });
        while n.load(Ordering::Acquire) == 0 {
            gosched();
        }
        cell.get();
    });
}

#[test]
fn without_an_edge_the_same_handover_is_a_race() {
    racy(|| {
        let cell = Arc::new(RaceCell::new(0));
        let c2 = cell.clone();
        let h = go(move || c2.set(1));
        cell.set(2);
        h.join();
    });
    // Two different mutexes give no edge.
    racy(|| {
        let (a, b) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
        let cell = Arc::new(RaceCell::new(0));
        let c2 = cell.clone();
        let h = go(move || {
            let _g = b.lock();
            c2.set(1);
        });
        {
            let _g = a.lock();
            cell.set(2);
        }
        h.join();
    });
}
