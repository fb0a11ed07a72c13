//! Where a goroutine starts on the work-stealing executor (it never moves afterwards): the
//! newest spawn waits in its spawner's spawn slot, which thieves leave alone for a few
//! microseconds, and everything else stays stealable at once, so fan-out is unchanged.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use goweave::{go, Runtime};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// A spawner that keeps its worker's thread busy does not keep its child: the idle worker
/// takes it out of the spawn slot once it has aged.
#[test]
fn an_idle_worker_takes_the_child_of_a_busy_spawner() {
    rt().block_on(|| {
        let ran_on = Arc::new(Mutex::new(None::<ThreadId>));
        let r2 = ran_on.clone();
        let h = go(move || *r2.lock().unwrap() = Some(std::thread::current().id()));
        // Busy (a std sleep blocks the worker), until the child ran elsewhere.
        let start = std::time::Instant::now();
        while ran_on.lock().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nobody took the child out of the busy worker's spawn slot"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        h.join();
        assert_ne!(*ran_on.lock().unwrap(), Some(std::thread::current().id()));
    });
}

/// Fan-out: of two goroutines spawned in a row, the older one is stealable at once, so while
/// the newer one holds its spawner's worker, the other worker runs the older one.
#[test]
fn a_burst_of_spawns_spreads_over_the_workers() {
    rt().block_on(|| {
        let block = || {
            // Long enough that the other worker, even on a loaded machine, gets to run.
            std::thread::sleep(Duration::from_millis(200));
            std::thread::current().id()
        };
        let a = go(block);
        let b = go(block);
        let (ta, tb) = (a.join(), b.join());
        assert_ne!(ta, tb, "both goroutines of the burst ran on one worker");
    });
}
