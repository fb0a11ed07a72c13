//! The race detector's memory follows the goroutines that synchronised, not the goroutines
//! alive (issue 16, item 4): 10,000 goroutines parked on one channel under PCT, with the
//! detector on, and a report of 10,000 leaked goroutines (whose replay runs the detector), each
//! allocate a few megabytes. Dense clocks (one entry per goroutine id) took 0.4 GB here.
//! Measured by a counting allocator (goroutine stacks are mapped, not allocated, so this is
//! the heap: clocks, tables, the report). The tests run one at a time (a lock), so each peak
//! is its own. The 100,000-goroutine figures are in `benches/race_scale.rs`.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use goweave::{chan, go, Checker, FailureKind, StrategyKind};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const N: u64 = 10_000;
const LIMIT: usize = 64 << 20;

/// Heap bytes allocated at the peak of `f`, beyond what was live before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed) - before)
}

#[test]
fn goroutines_parked_on_a_channel_under_pct_with_detection() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (r, peak) = peak_of(|| {
        Checker::new()
            .strategy(StrategyKind::Pct { depth: 3 })
            .iterations(1)
            .race_detection(true)
            .run(|| {
                let c = chan::make::<()>(0);
                for _ in 0..N {
                    let c = c.clone();
                    go(move || {
                        c.recv();
                    });
                }
                goweave::runtime::gosched();
                c.close();
            })
    });
    r.unwrap();
    assert!(peak < LIMIT, "peak heap {} MB", peak >> 20);
}

#[test]
fn a_report_of_leaked_goroutines() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (r, peak) = peak_of(|| {
        Checker::new()
            .strategy(StrategyKind::Pct { depth: 3 })
            .iterations(1)
            .shrink_budget(Duration::ZERO)
            .run(|| {
                let c = chan::make::<()>(0);
                for _ in 0..N {
                    let c = c.clone();
                    go(move || {
                        c.recv();
                    });
                }
            })
    });
    let f = r.unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak);
    assert!(f
        .report()
        .contains(&format!("goroutine {} [chan receive]", N + 1)));
    assert!(peak < LIMIT, "peak heap {} MB", peak >> 20);
}
