//! A `go` keeps its closure, then its result, inside the goroutine record (boxed when too big),
//! and records are recycled: every closure and every result is dropped exactly once, whether
//! the goroutine is joined, detached before or after it finishes, or never started.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{on_both, on_steal};
use goweave::go;
use goweave::runtime::gosched;

/// Counts its drops.
struct Tally(Arc<AtomicUsize>);

impl Drop for Tally {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn small_and_large_closures_and_results_round_trip() {
    on_both(|| {
        // Fits in the record.
        assert_eq!(go(|| 7u8).join(), 7);
        // Too big for it: boxed, in both directions.
        let big = [3u64; 64];
        let h = go(move || {
            let mut out = [0u64; 64];
            for (o, b) in out.iter_mut().zip(big.iter()) {
                *o = b * 2;
            }
            out
        });
        assert_eq!(h.join(), [6u64; 64]);
        // Over-aligned result.
        #[repr(align(64))]
        #[derive(Debug, PartialEq)]
        struct Wide(u8);
        assert_eq!(go(|| Wide(9)).join(), Wide(9));
        // A zero-sized one.
        go(|| ()).join();
    });
}

#[test]
fn every_closure_and_result_is_dropped_exactly_once() {
    let closures = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(AtomicUsize::new(0));
    let (c, r) = (closures.clone(), results.clone());
    on_steal(move || {
        for i in 0..300 {
            let held = Tally(c.clone());
            let out = r.clone();
            let h = go(move || {
                let _held = held;
                if i % 2 == 0 {
                    gosched();
                }
                Tally(out)
            });
            match i % 3 {
                // Joined: the caller drops the result.
                0 => drop(h.join()),
                // Detached right away, probably before it finishes: the goroutine drops it.
                1 => drop(h),
                // Detached once finished: the handle's drop drops the stored result.
                _ => {
                    while !h.is_finished() {
                        gosched();
                    }
                    drop(h);
                }
            }
        }
        // Let detached ones finish.
        while goweave::runtime::num_goroutine() > 1 {
            gosched();
        }
    });
    assert_eq!(closures.load(Ordering::SeqCst), 300);
    assert_eq!(results.load(Ordering::SeqCst), 300);
}

#[test]
fn an_unstarted_goroutine_drops_its_closure_when_main_returns() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    goweave::Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(move || {
            // One worker, and main never yields: the goroutine cannot start before main
            // returns and it is torn down.
            let held = Tally(d.clone());
            drop(go(move || drop(held)));
        });
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn recycled_records_keep_fresh_ids_and_values() {
    on_both(|| {
        let mut last = 0;
        for i in 0..200u64 {
            let h = go(move || i * 3);
            assert!(h.id() > last, "ids grow: {} after {last}", h.id());
            last = h.id();
            assert_eq!(h.join(), i * 3);
        }
    });
}
