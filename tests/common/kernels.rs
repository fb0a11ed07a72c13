//! Bug kernels shared by several test files (see `tests/README.md`).

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use goweave::runtime::gosched;

/// Two goroutines each read a counter and write it back plus one: an increment is lost when
/// both read before either writes. Panics with `lost update`.
pub fn lost_update() {
    increments(2, false, "lost update");
}

/// [`lost_update`] with a `gosched` between each read and write, so that even a strategy that
/// only switches at yields finds it. Panics with `an increment was lost`.
pub fn lost_update_yielding() {
    increments(2, true, "an increment was lost");
}

/// `n` goroutines each add one to a counter by a load and a store (with a `gosched` in between
/// if `yielding`); main joins them and asserts the total with `message`.
pub fn increments(n: u64, yielding: bool, message: &str) {
    let x = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let x = x.clone();
            goweave::go(move || {
                let v = x.load(SeqCst);
                if yielding {
                    gosched();
                }
                x.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(x.load(SeqCst), n, "{message}");
}
