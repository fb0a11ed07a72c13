//! Locks unlocked by another goroutine than the one that locked them (issue 17, item 6), from
//! Go's `sync` documentation:
//!
//! - "A locked Mutex is not associated with a particular goroutine. It is allowed for one
//!   goroutine to lock a Mutex and then arrange for another goroutine to unlock it." The same
//!   holds for RWMutex (and its read locks).
//! - "It is a run-time error if m is not locked on entry to Unlock" (and for RWMutex's Unlock
//!   and RUnlock): Go prints `fatal error: sync: unlock of unlocked mutex`.
//! - `RWMutex.RLocker` "returns a Locker interface that implements the Lock and Unlock methods
//!   by calling rw.RLock and rw.RUnlock"; `sync.Cond` waits with any Locker.
//! - "the n'th call to Unlock happens before the m'th call to Lock for any n < m" whoever
//!   calls them: the race detector must see the edge from an unlock in another goroutine.
//!
//! Every scenario runs on the work-stealing runtime and under the checker.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::sync::{
    Cond, Locker, Mutex, OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RawMutex,
    RawRwLock, RwLock, WaitGroup,
};
use goweave::{chan, go, Checker, FailureKind};

use common::on_steal;

/// Runs `f` on the runtime, then under 200 random schedules.
fn on_both<F: Fn() + Send + Sync + Clone + 'static>(f: F) {
    on_steal(f.clone());
    if let Err(e) = Checker::new().iterations(200).seed(17).run(f) {
        panic!("controlled run failed:\n{e}");
    }
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn owned_guards_are_send() {
    assert_send::<OwnedMutexGuard<Vec<u8>>>();
    assert_sync::<OwnedMutexGuard<Vec<u8>>>();
    assert_send::<OwnedRwLockReadGuard<Vec<u8>>>();
    assert_send::<OwnedRwLockWriteGuard<Vec<u8>>>();
    assert_send::<RawMutex>();
    assert_sync::<RawMutex>();
    assert_sync::<RawRwLock>();
}

/// Main locks; a goroutine writes, then unlocks the lock it never locked; main's second lock
/// waits for that unlock and sees the write, with no race reported (the unlock happens before
/// the next lock).
#[test]
fn raw_mutex_unlocked_by_another_goroutine() {
    on_both(|| {
        let m = Arc::new(RawMutex::new());
        let x = Arc::new(RaceCell::named("x", 0));
        m.lock();
        let (m2, x2) = (m.clone(), x.clone());
        go(move || {
            x2.set(42);
            m2.unlock();
        });
        m.lock();
        assert_eq!(x.get(), 42);
        assert!(m.is_locked());
        m.unlock();
        assert!(!m.is_locked());
    });
}

/// The same without the unlock's edge: the read is not ordered after the write, and the
/// checker must say so (the previous test cannot pass by a detector that sees nothing).
#[test]
fn raw_mutex_without_the_handover_is_a_race() {
    let f = Checker::new()
        .iterations(200)
        .seed(17)
        .run(|| {
            let m = Arc::new(RawMutex::new());
            let x = Arc::new(RaceCell::named("x", 0));
            m.lock();
            let (m2, x2) = (m.clone(), x.clone());
            go(move || {
                m2.unlock();
                x2.set(42);
            });
            m.lock();
            x.get();
            m.unlock();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Race, "{f}");
}

/// An owned guard moves through a channel to another goroutine, which uses the data and drops
/// the guard: that unlocks.
#[test]
fn owned_mutex_guard_unlocks_in_another_goroutine() {
    on_both(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let handoff = chan::make::<OwnedMutexGuard<Vec<u32>>>(0);
        let rx = handoff.clone();
        let worker = go(move || {
            let mut g = rx.recv().unwrap();
            g.push(2);
            // Dropped here: unlocked by a goroutine that never locked.
        });
        let mut g = m.lock_owned();
        g.push(1);
        handoff.send(g);
        let after = m.lock().clone();
        worker.join();
        assert_eq!(after, vec![1, 2]);
        assert!(!m.is_locked());
    });
}

/// Hand-over-hand along a chain: each goroutine receives the guard of node i, locks node i+1,
/// and hands both on; the guard of node i is released by the next goroutine. No two goroutines
/// ever hold the same node.
#[test]
fn hand_over_hand_across_goroutines() {
    on_both(|| {
        let nodes: Arc<Vec<Arc<Mutex<u32>>>> =
            Arc::new((0..4).map(|_| Arc::new(Mutex::new(0))).collect());
        let first = chan::make::<OwnedMutexGuard<u32>>(0);
        let mut prev = first.clone();
        let wg = WaitGroup::new();
        for i in 1..nodes.len() {
            let next = chan::make::<OwnedMutexGuard<u32>>(0);
            let (inbox, outbox, nodes) = (prev.clone(), next.clone(), nodes.clone());
            wg.go(move || {
                let mut held = inbox.recv().unwrap();
                *held += 1;
                let mine = nodes[i].lock_owned();
                drop(held); // unlocks node i-1, locked by another goroutine
                outbox.send(mine);
            });
            prev = next;
        }
        first.send(nodes[0].lock_owned());
        let mut last = prev.recv().unwrap();
        *last += 1;
        drop(last);
        wg.wait();
        let counts: Vec<u32> = nodes.iter().map(|n| *n.lock()).collect();
        assert_eq!(counts, vec![1, 1, 1, 1]);
    });
}

/// Owned RwLock guards: read guards held by two goroutines at once, released elsewhere; a
/// write guard released by another goroutine.
#[test]
fn owned_rwlock_guards_unlock_in_another_goroutine() {
    on_both(|| {
        let l = Arc::new(RwLock::new(5));
        let r1 = l.read_owned();
        let r2 = l.read_owned();
        assert_eq!(*r1 + *r2, 10);
        let h = go(move || {
            let sum = *r1 + *r2;
            drop((r1, r2));
            sum
        });
        let mut w = l.write_owned();
        *w = 7;
        let h2 = go(move || drop(w));
        assert_eq!(h.join(), 10);
        h2.join();
        assert_eq!(*l.read(), 7);
    });
}

/// The text of a panic caught by `recover`.
fn recovered(f: impl FnOnce()) -> String {
    goweave::recover(f)
        .expect_err("must panic")
        .message()
        .to_string()
}

/// Unlocking what is not locked panics with Go's fatal error, and leaves the lock usable.
#[test]
fn unlock_of_unlocked_is_gos_fatal_error() {
    on_both(|| {
        let m = RawMutex::new();
        assert_eq!(
            recovered(|| m.unlock()),
            "fatal error: sync: unlock of unlocked mutex"
        );
        m.lock();
        assert!(!m.try_lock());
        m.unlock();
        assert!(m.try_lock());
        m.unlock();

        let rw = RawRwLock::new();
        assert_eq!(
            recovered(|| rw.unlock()),
            "fatal error: sync: Unlock of unlocked RWMutex"
        );
        assert_eq!(
            recovered(|| rw.runlock()),
            "fatal error: sync: RUnlock of unlocked RWMutex"
        );
        rw.rlock();
        assert_eq!(
            recovered(|| rw.unlock()),
            "fatal error: sync: Unlock of unlocked RWMutex",
            "a read lock is not a write lock"
        );
        rw.runlock();
        rw.lock();
        assert!(!rw.try_rlock());
        rw.unlock();
        assert!(rw.try_lock());
        rw.unlock();
    });
}

/// An unrecovered unlock of an unlocked mutex is a reported panic in the checker.
#[test]
fn unlock_of_unlocked_is_reported_by_the_checker() {
    let f = Checker::new()
        .iterations(20)
        .run(|| {
            let m = Arc::new(RawMutex::new());
            m.lock();
            let m2 = m.clone();
            let h = go(move || m2.unlock());
            m.unlock(); // one of the two unlocks finds it unlocked
            h.join();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(
        f.to_string()
            .contains("fatal error: sync: unlock of unlocked mutex"),
        "{f}"
    );
}

/// A goroutine that locks a `RawMutex` twice deadlocks, reported as Go does, with the holder.
#[test]
fn raw_mutex_relock_is_a_reported_deadlock() {
    let f = Checker::new()
        .iterations(5)
        .run(|| {
            let m = RawMutex::new();
            m.lock();
            m.lock();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    let text = f.to_string();
    assert!(text.contains("[sync.Mutex.Lock]"), "{text}");
    assert!(text.contains("already held by this goroutine"), "{text}");
}

/// Code written against `Locker` works with a mutex, a write lock and a read lock. Two readers
/// through the rlocker hold the lock at once (each waits for the other inside), while a writer
/// through the same function is excluded.
#[test]
fn rlocker_and_locker_trait() {
    fn with_lock<R>(l: &dyn Locker, f: impl FnOnce() -> R) -> R {
        l.lock();
        let r = f();
        l.unlock();
        r
    }
    on_both(|| {
        let rw = Arc::new(RawRwLock::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let both_in = chan::make::<()>(2);
        let wg = WaitGroup::new();
        for _ in 0..2 {
            let (rw, inside, both_in) = (rw.clone(), inside.clone(), both_in.clone());
            wg.go(move || {
                with_lock(&rw.rlocker(), || {
                    inside.fetch_add(1, Ordering::SeqCst);
                    both_in.send(());
                    // Wait until the other reader is inside too: only shared locks allow it.
                    while inside.load(Ordering::SeqCst) < 2 {
                        goweave::runtime::gosched();
                    }
                    assert!(!rw.try_lock(), "a writer is excluded while readers hold it");
                })
            });
        }
        both_in.recv();
        both_in.recv();
        wg.wait();
        let m = RawMutex::new();
        assert_eq!(with_lock(&m, || 1) + with_lock(&*rw, || 2), 3);
        assert!(!m.is_locked() && rw.try_lock());
        rw.unlock();
    });
}

/// `Cond` with a read lock as its Locker (Go's `sync.NewCond(rw.RLocker())`): readers wait
/// holding the read lock, a writer changes the state under the write lock and broadcasts.
#[test]
fn cond_waits_with_any_locker() {
    on_both(|| {
        let state = Arc::new((RawRwLock::new(), Cond::new(), AtomicBool::new(false)));
        let wg = WaitGroup::new();
        for _ in 0..2 {
            let s = state.clone();
            wg.go(move || {
                let (rw, cond, ready) = &*s;
                let reader = rw.rlocker();
                reader.lock();
                while !ready.load(Ordering::SeqCst) {
                    cond.wait_locker(&reader);
                }
                reader.unlock();
            });
        }
        let (rw, cond, ready) = &*state;
        rw.lock();
        ready.store(true, Ordering::SeqCst);
        rw.unlock();
        cond.broadcast();
        wg.wait();
    });
}
