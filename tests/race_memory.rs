//! The race detector's memory follows the goroutines that synchronised, not the goroutines
//! alive (issue 16, item 4): 10,000 goroutines parked on one channel under PCT, with the
//! detector on, and a report of 10,000 leaked goroutines (whose replay runs the detector), each
//! allocate a few megabytes. Dense clocks (one entry per goroutine id) took 0.4 GB here.
//! Measured by a counting allocator (goroutine stacks are mapped, not allocated, so this is
//! the heap: clocks, tables, the report). The tests run one at a time (a lock), so each peak
//! is its own. The 100,000-goroutine figures are in `benches/race_scale.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use goweave::{chan, go, Checker, FailureKind, StrategyKind};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;

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
