//! A finished goroutine's coroutine, with its stack, runs the next goroutine that starts on
//! the same worker (`runtime::coroutine::Warm`, Go's `gfget`/`gfput`). Nothing of the goroutine
//! that ran there before may show in the next one: its goroutine-local values, its panic, its
//! name and spawn site.
//!
//! One worker, and each goroutine joined before the next is spawned, so the second goroutine
//! starts on the first one's coroutine; each test checks that it did (same stack), so that it
//! tests what it says.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goweave::leak::{self, Options};
use goweave::runtime::GoroutineLocal;
use goweave::{chan, go, go_named, recover, Runtime};

fn one_worker() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

/// An address on the calling goroutine's stack.
#[inline(never)]
fn stack_addr() -> usize {
    let x = 0u8;
    std::hint::black_box(&x) as *const u8 as usize
}

/// Two addresses on one goroutine stack (slots are 256 KiB apart, and both goroutines are a
/// few frames deep).
fn same_stack(a: usize, b: usize) -> bool {
    a.abs_diff(b) < 16 * 1024
}

/// Counts its drops.
struct Tally(Arc<AtomicUsize>);

impl Drop for Tally {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_goroutine_local_does_not_carry_over_to_the_next_goroutine_on_its_stack() {
    static HITS: GoroutineLocal<u32> = GoroutineLocal::new(|| 0);
    static HELD: GoroutineLocal<Option<Tally>> = GoroutineLocal::new(|| None);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    one_worker().block_on(move || {
        let d2 = d.clone();
        let (a, first) = go(move || {
            HITS.with(|h| *h = 41);
            HELD.with(|t| *t = Some(Tally(d2)));
            (stack_addr(), HITS.with(|h| *h))
        })
        .join();
        assert_eq!(first, 41);
        // Dropped when its goroutine ended, not when the stack is next used or freed.
        assert_eq!(d.load(Ordering::SeqCst), 1);
        let (b, second, held) =
            go(|| (stack_addr(), HITS.with(|h| *h), HELD.with(|t| t.is_some()))).join();
        assert!(
            same_stack(a, b),
            "the second goroutine did not start on the first one's stack ({a:#x}, {b:#x})"
        );
        assert_eq!(
            second, 0,
            "a goroutine-local value leaked into the next goroutine"
        );
        assert!(
            !held,
            "a goroutine-local value leaked into the next goroutine"
        );
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_recovered_panic_does_not_poison_the_next_goroutine_on_its_stack() {
    one_worker().block_on(|| {
        let (a, first) = go(|| {
            let p = recover(|| -> u32 { panic!("first") }).unwrap_err();
            (stack_addr(), p.message().to_string())
        })
        .join();
        assert_eq!(first, "first");
        let (b, panicking, second, ok) = go(|| {
            let panicking = std::thread::panicking();
            let p = recover(|| -> u32 { panic!("second") }).unwrap_err();
            (
                stack_addr(),
                panicking,
                p.message().to_string(),
                recover(|| 7).unwrap(),
            )
        })
        .join();
        assert!(same_stack(a, b), "not on one stack ({a:#x}, {b:#x})");
        assert!(!panicking, "the next goroutine starts as if unwinding");
        assert_eq!((second.as_str(), ok), ("second", 7));
    });
}

#[test]
fn the_next_goroutine_on_a_stack_is_reported_under_its_own_name_and_spawn_site() {
    let (text, line) = one_worker().block_on(|| {
        let a = go_named("first", stack_addr).join();
        let (ch, done) = (chan::make::<usize>(0), chan::make::<usize>(1));
        let (rx, tx) = (ch.clone(), done.clone());
        let line = line!() + 1;
        let h = go(move || {
            tx.send(stack_addr());
            rx.recv();
        });
        let b = done.recv().unwrap();
        assert!(same_stack(a, b), "not on one stack ({a:#x}, {b:#x})");
        let err = leak::find(Options::new().retry_window(Duration::from_millis(20))).unwrap_err();
        ch.close();
        h.join();
        (err.to_string(), line)
    });
    assert!(text.contains("goroutine 3 [chan receive]"), "{text}");
    assert!(
        text.contains(&format!(
            "created by goroutine 1 at tests/warm_coroutines.rs:{line}"
        )),
        "{text}"
    );
    assert!(
        !text.contains("first"),
        "the previous goroutine's name: {text}"
    );
    assert!(!text.contains("goroutine 2"), "{text}");
}

#[test]
fn more_goroutines_finishing_at_once_than_a_worker_keeps_all_run_and_return() {
    // Hundreds parked at once, then all woken: more coroutines go idle together than a
    // worker keeps (the rest end and give their stacks back); then another wave reuses them.
    let body = || {
        for wave in 0..3u64 {
            let gate = chan::make::<()>(0);
            let hs: Vec<_> = (0..300u64)
                .map(|i| {
                    let gate = gate.clone();
                    go(move || {
                        gate.recv();
                        wave * 1000 + i
                    })
                })
                .collect();
            gate.close();
            let sum: u64 = hs.into_iter().map(|h| h.join()).sum();
            assert_eq!(sum, wave * 1000 * 300 + 300 * 299 / 2);
        }
    };
    one_worker().block_on(body);
    Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(body);
}
