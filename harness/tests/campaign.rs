//! A `harness = false` target: its `#[conc_test]`s register themselves and run through
//! `goweave_harness::main()`, with libtest's flags and goweave's own (try
//! `cargo test -p goweave-harness --test campaign -- --help`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::conc_test;
use goweave::runtime::gosched;
use goweave::sync::Mutex;

mod kernels {
    use super::*;

    /// Two goroutines increment with a load, a yield and a store: an update can be lost.
    pub fn lost_update() {
        let n = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let n = n.clone();
                goweave::go(move || {
                    let v = n.load(Ordering::SeqCst);
                    gosched();
                    n.store(v + 1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(n.load(Ordering::SeqCst), 2, "an increment was lost");
    }

    #[conc_test(iterations = 500)]
    fn counter_with_fetch_add() {
        let n = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let n = n.clone();
                goweave::go(move || {
                    gosched();
                    n.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[conc_test(strategy = "pct", depth = 2, iterations = 500, expect = "panic")]
    fn lost_update_is_found() {
        lost_update();
    }

    #[conc_test(strategy = "pos", iterations = 500, expect = "panic")]
    fn lost_update_is_found_by_pos() {
        lost_update();
    }

    #[conc_test(strategy = "dfs", expect = "deadlock")]
    fn ab_ba_deadlock_is_found() {
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let (a2, b2) = (a.clone(), b.clone());
        let h = goweave::go(move || {
            let _x = b2.lock();
            gosched();
            let _y = a2.lock();
        });
        {
            let _x = a.lock();
            gosched();
            let _y = b.lock();
        }
        h.join();
    }

    #[conc_test(strategy = "dfs")]
    fn mutex_counter_is_correct_in_every_schedule() -> Result<(), String> {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let h = goweave::go(move || {
            *m2.lock() += 1;
        });
        *m.lock() += 1;
        h.join();
        let n = *m.lock();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("counter is {n}"))
        }
    }

    #[conc_test(iterations = 1_000)]
    #[ignore = "a known bug, for --ignored and replay"]
    fn lost_update_unexpected() {
        lost_update();
    }
}

fn main() {
    goweave_harness::main()
}
