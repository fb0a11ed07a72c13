//! goweave::proptest: proptest shrinks a failing (input, interleaving) pair to the smallest
//! input, and the pair replays.

use std::sync::Arc;

use goweave::proptest::{check_pairs, check_pairs_with, interleavings_sized, Interleaving};
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::FailureKind;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// `n` goroutines each add `k` to a counter with a separate load and store: an update can be
/// lost when two of them interleave, so the smallest failing input is 2 goroutines.
fn counter((n, k): (u64, u64)) -> impl Fn() + Send + Sync + 'static {
    move || {
        let c = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let c = c.clone();
                goweave::go(move || {
                    let v = c.load(SeqCst);
                    c.store(v + k, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(c.load(SeqCst), n * k, "lost update");
    }
}

#[test]
fn a_failing_pair_shrinks_to_the_minimal_input_and_replays() {
    let mut runner = TestRunner::deterministic();
    let inputs = (1..10u64, 1..100u64);
    let cx = check_pairs(&mut runner, inputs, |&input| counter(input))
        .expect_err("some interleaving loses an update");
    assert_eq!(cx.input, (2, 1), "{cx}");
    assert_eq!(cx.failure.kind(), FailureKind::Panic);
    assert!(cx.to_string().contains("lost update"), "{cx}");
    // The interleaving is a handful of bytes, each at the smallest value that picks its option,
    // and goweave's shrinking brings its schedule down to the one preemption the bug needs.
    assert!(cx.interleaving.bytes().len() <= 8, "{:?}", cx.interleaving);
    assert_eq!(cx.failure.preemptions(), 1, "{}", cx.failure);
    // The pair fails again as it is, and the token replays.
    assert!(cx.interleaving.run(counter(cx.input)).is_err());
    let again = goweave::replay(cx.failure.schedule(), counter(cx.input)).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Panic);
}

#[test]
fn a_correct_program_passes() {
    let mut runner = TestRunner::deterministic();
    let ok = check_pairs_with(&mut runner, 1..4u64, interleavings_sized(0..64), |&n| {
        move || {
            let hs: Vec<_> = (0..n).map(|i| goweave::go(move || i)).collect();
            let sum: u64 = hs.into_iter().map(|h| h.join()).sum();
            assert_eq!(sum, n * (n - 1) / 2);
        }
    });
    assert!(ok.is_ok());
}

#[test]
fn interleavings_shrink_towards_no_switches() {
    let mut runner = TestRunner::deterministic();
    let mut tree = interleavings_sized(8..=8).new_tree(&mut runner).unwrap();
    while tree.simplify() {}
    let simplest: Interleaving = tree.current();
    assert_eq!(simplest.switches(), 0, "{simplest:?}");
    assert_eq!(format!("{simplest:?}"), "Interleaving[]");
}
