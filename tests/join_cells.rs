//! `go` + `JoinHandle` on the work-stealing runtime, where a `go` allocates only a join cell and
//! the goroutine record is taken when the goroutine starts (`runtime/gocell.rs`): results,
//! drops, names and teardown behave as they do with records.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goweave::leak::{self, Options};
use goweave::runtime::gosched;
use goweave::sync::WaitGroup;
use goweave::{go, go_named, Runtime};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Counts its drops; `N` words of payload pick its size.
struct Tally<const N: usize>(Arc<AtomicUsize>, [u64; N]);

impl<const N: usize> Drop for Tally<N> {
    fn drop(&mut self) {
        // The payload is there for its size; reading it keeps it.
        std::hint::black_box(&self.1);
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn results_small_and_large_come_back_in_any_join_order() {
    rt(2).block_on(|| {
        let small: Vec<_> = (0..2_000u64).map(|i| go(move || i * 3)).collect();
        let big = [7u64; 64];
        let large: Vec<_> = (0..500u64)
            .map(|i| {
                go(move || {
                    let mut v = big;
                    v[0] = i;
                    v
                })
            })
            .collect();
        for (i, h) in small.into_iter().enumerate().rev() {
            assert_eq!(h.join(), i as u64 * 3);
        }
        for (i, h) in large.into_iter().enumerate() {
            let v = h.join();
            assert_eq!((v[0], v[63]), (i as u64, 7));
        }
    });
}

#[test]
fn a_result_nobody_joins_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt(2).block_on(move || {
        let wg = WaitGroup::new();
        // Handles dropped at once: the result is dropped as each goroutine finishes.
        for _ in 0..300 {
            let (d, wg) = (d.clone(), wg.clone());
            wg.add(1);
            drop(go(move || {
                let t = Tally(d, [0; 1]);
                wg.done();
                t
            }));
        }
        wg.wait();
        // Handles dropped after the goroutines finished: the handle's drop drops it.
        let hs: Vec<_> = (0..300)
            .map(|_| {
                let d = d.clone();
                go(move || Tally(d, [0; 16]))
            })
            .collect();
        while !hs.iter().all(|h| h.is_finished()) {
            gosched();
        }
        drop(hs);
    });
    // The first 300 may still be finishing after `wait`, until the run ends.
    assert_eq!(drops.load(Ordering::SeqCst), 600);
}

#[test]
fn is_finished_turns_true_only_once_the_goroutine_returned() {
    rt(2).block_on(|| {
        let gate = goweave::chan::make::<()>(0);
        let g = gate.clone();
        let h = go(move || {
            g.recv();
            5
        });
        assert!(!h.is_finished());
        gate.send(());
        while !h.is_finished() {
            gosched();
        }
        assert_eq!(h.join(), 5);
    });
}

#[test]
fn a_thread_outside_the_runtime_can_join() {
    let v = rt(2).block_on(|| {
        let h = go(|| {
            std::thread::sleep(Duration::from_millis(20));
            41
        });
        // Blocks this worker's thread; the other worker runs the goroutine.
        std::thread::spawn(move || h.join() + 1).join().unwrap()
    });
    assert_eq!(v, 42);
}

#[test]
fn a_handle_is_awaitable_from_a_task() {
    let v = rt(2).block_on(|| {
        let h = go(|| 20);
        goweave::task::spawn(async move { h.await + 1 }).join()
    });
    assert_eq!(v, 21);
}

#[test]
fn a_goroutine_that_never_started_drops_its_closure_and_its_joiner_learns_why() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let (d, r) = (drops.clone(), ran.clone());
    // One worker, and main never blocks: nothing it spawns starts before main returns.
    let hs = rt(1).block_on(move || {
        (0..100)
            .map(|_| {
                let t = Tally(d.clone(), [0; 2]);
                let r = r.clone();
                go(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    drop(t);
                })
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        100,
        "every unrun closure dropped"
    );
    // The handles outlived the runtime: joining one says why, instead of hanging.
    let h = hs.into_iter().next().unwrap();
    assert!(h.is_finished());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.join())).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("joined goroutine 2: it was torn down (main returned) before it started"),
        "{msg}"
    );
}

#[test]
fn a_panic_in_the_child_ends_the_run_naming_the_goroutine() {
    let err = std::panic::catch_unwind(|| {
        rt(2).block_on(|| {
            let h = go(|| -> u32 { panic!("child failed") });
            h.join()
        })
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("goroutine 2"), "{msg}");
    assert!(msg.contains("child failed"), "{msg}");
}

#[test]
fn a_named_goroutine_keeps_its_name_id_parent_and_site_in_reports() {
    let (text, line) = rt(2).block_on(|| {
        let stop = goweave::chan::make::<()>(0);
        let s = stop.clone();
        let line = line!() + 1;
        let h = go_named("fetcher", move || {
            s.recv();
        });
        let err = leak::find(Options::new().retry_window(Duration::from_millis(50))).unwrap_err();
        stop.close();
        h.join();
        (err.to_string(), line)
    });
    assert!(text.contains("goroutine 2 \"fetcher\""), "{text}");
    assert!(
        text.contains(&format!(
            "created by goroutine 1 at tests/join_cells.rs:{line}"
        )),
        "{text}"
    );
}

#[test]
fn handles_dropped_while_their_goroutines_finish_drop_each_result_once() {
    // The handle's drop and the goroutine's finish race on the other worker: whichever comes
    // second must drop the result, exactly once.
    const N: usize = 20_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt(2).block_on(move || {
        let wg = WaitGroup::new();
        wg.add(N as i64);
        let mut held = std::collections::VecDeque::new();
        for _ in 0..N {
            let (d, wg) = (d.clone(), wg.clone());
            held.push_back(go(move || {
                wg.done();
                Tally(d, [0; 2])
            }));
            // Each handle lives on while a few later goroutines are spawned.
            if held.len() > 8 {
                drop(held.pop_front());
            }
        }
        drop(held);
        // Every goroutine started; one that is past `done` finishes before the run ends.
        wg.wait();
    });
    assert_eq!(drops.load(Ordering::SeqCst), N);
}

#[test]
fn a_handle_dropped_after_its_goroutine_started_leaves_the_result_to_the_goroutine() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt(2).block_on(move || {
        let (started, gate) = (goweave::chan::make::<()>(0), goweave::chan::make::<()>(0));
        let (s, g) = (started.clone(), gate.clone());
        let h = go(move || {
            s.send(());
            g.recv();
            Tally(d, [0; 2])
        });
        started.recv();
        // Started, with its handle alive at the start; the handle goes before it finishes.
        drop(h);
        gate.send(());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while drops.load(Ordering::SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the result was never dropped"
            );
            gosched();
        }
    });
}

#[test]
fn recycled_cells_of_every_size_keep_their_values_apart_across_waves() {
    // Detached goroutines: each cell is freed by the worker that starts the goroutine, into
    // that worker's pool, and the next wave's `go`s reuse those blocks (on either worker). A
    // block handed out twice, or reused while its goroutine still runs, mixes up the values
    // below or drops one twice; the large closure takes the unpooled path.
    let closures = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(AtomicUsize::new(0));
    let (c, r) = (closures.clone(), results.clone());
    const WAVE: u64 = 3_000;
    rt(2).block_on(move || {
        for wave in 0..4u64 {
            let sums = Arc::new(std::sync::Mutex::new(Vec::new()));
            let wg = WaitGroup::new();
            for i in 0..WAVE {
                let (c, r, wg, sums) = (c.clone(), r.clone(), wg.clone(), sums.clone());
                wg.add(1);
                let held = Tally::<2>(c.clone(), [wave, i]);
                if i % 7 == 0 {
                    // Over the pool's largest class: a heap cell.
                    let big = Tally::<40>(c, [i; 40]);
                    go(move || {
                        // Made before `done`: a goroutine torn down after it drops it.
                        let out = Tally::<1>(r, [i]);
                        sums.lock().unwrap().push(held.1[1] + big.1[39]);
                        wg.done();
                        out
                    });
                } else {
                    go(move || {
                        // Made before `done`: a goroutine torn down after it drops it.
                        let out = Tally::<1>(r, [i]);
                        sums.lock().unwrap().push(held.1[0] * WAVE + held.1[1]);
                        wg.done();
                        out
                    });
                }
            }
            wg.wait();
            let mut got = sums.lock().unwrap().clone();
            got.sort_unstable();
            let mut want: Vec<u64> = (0..WAVE)
                .map(|i| if i % 7 == 0 { 2 * i } else { wave * WAVE + i })
                .collect();
            want.sort_unstable();
            assert_eq!(
                got, want,
                "wave {wave}: every goroutine ran its own closure once"
            );
        }
    });
    // Every closure's captures (one or two tallies each) and every result, dropped once.
    let captured: usize = (0..WAVE).map(|i| if i % 7 == 0 { 2 } else { 1 }).sum();
    assert_eq!(closures.load(Ordering::SeqCst), 4 * captured);
    assert_eq!(results.load(Ordering::SeqCst), 4 * WAVE as usize);
}
