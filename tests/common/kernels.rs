//! Bug kernels shared by several test files (see `tests/README.md`).
#![allow(dead_code)]

use std::sync::Arc;

use goweave::runtime::gosched;

/// Two goroutines each read a counter and write it back plus one, through goweave's atomics
/// (each access is a scheduling point): an increment is lost when both read before either
/// writes. Panics with `lost update`.
pub fn lost_update() {
    use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
    let x = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let x = x.clone();
            goweave::go(move || {
                let v = x.load(SeqCst);
                x.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(x.load(SeqCst), 2, "lost update");
}

/// The same race through std's atomics, which the checker does not see: the only scheduling
/// point between the read and the write is a `gosched`. Panics with `an increment was lost`.
pub fn lost_update_yielding() {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    let n = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            goweave::go(move || {
                let v = n.load(SeqCst);
                gosched();
                n.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(n.load(SeqCst), 2, "an increment was lost");
}
