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

/// A spawner that blocks right after a burst of `go`s has every child of the burst started on
/// its own worker before it runs again: the children of a `select!` over several senders
/// start where the receiver is, instead of waiting behind the hand-offs between the spawner
/// and its first child (where the other worker's thief would take them).
///
/// On one worker, so that no thief takes part: the order of starts is the whole story.
#[test]
fn a_spawner_that_parks_starts_its_whole_burst_before_it_resumes() {
    Runtime::builder().workers(1).build().unwrap().block_on(|| {
        let started = Arc::new(Mutex::new(Vec::new()));
        let ch = goweave::chan::make::<usize>(0);
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let (started, ch) = (started.clone(), ch.clone());
                go(move || {
                    started.lock().unwrap().push(i);
                    ch.send(i);
                })
            })
            .collect();
        // Parks; the first child's send wakes it.
        let first = ch.recv().unwrap();
        let mut seen = started.lock().unwrap().clone();
        seen.sort();
        assert_eq!(
            seen,
            vec![0, 1, 2, 3],
            "children started before the spawner resumed (it received {first})"
        );
        for _ in 0..3 {
            ch.recv().unwrap();
        }
        for h in hs {
            h.join();
        }
    });
}

/// Several bursts in a row, each followed by a park: every child of every burst starts on the
/// spawner's worker before the spawner resumes, also when a child of the burst spawns and
/// parks in turn (the burst continues with the spawner's other children afterwards).
#[test]
fn nested_bursts_all_start_before_their_spawners_resume() {
    Runtime::builder().workers(1).build().unwrap().block_on(|| {
        let started = Arc::new(Mutex::new(0usize));
        let ch = goweave::chan::make::<()>(0);
        for round in 0..3 {
            *started.lock().unwrap() = 0;
            let mut hs = Vec::new();
            for _ in 0..3 {
                let (started, ch) = (started.clone(), ch.clone());
                hs.push(go(move || {
                    *started.lock().unwrap() += 1;
                    // A grandchild, and a park of the child on it.
                    let s2 = started.clone();
                    let g = go(move || *s2.lock().unwrap() += 1);
                    g.join();
                    ch.send(());
                }));
            }
            ch.recv().unwrap();
            assert_eq!(
                *started.lock().unwrap(),
                6,
                "round {round}: 3 children and 3 grandchildren started before the spawner resumed"
            );
            for _ in 0..2 {
                ch.recv().unwrap();
            }
            for h in hs {
                h.join();
            }
        }
    });
}
