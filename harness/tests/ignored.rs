//! An `#[ignore]`d `#[conc_test]` (a known bug kept for later, like
//! `campaign.rs`'s `lost_update_unexpected`) is skipped by a plain run and explored, and
//! reported, with `--ignored`.

mod common;

use common::harness;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::harness::ConcTest;
use goweave::runtime::gosched;

fn lost_update() {
    let n = Arc::new(AtomicU64::new(0));
    let n2 = n.clone();
    let h = goweave::go(move || {
        let v = n2.load(Ordering::SeqCst);
        gosched();
        n2.store(v + 1, Ordering::SeqCst);
    });
    let v = n.load(Ordering::SeqCst);
    gosched();
    n.store(v + 1, Ordering::SeqCst);
    h.join();
    assert_eq!(n.load(Ordering::SeqCst), 2, "an increment was lost");
}

fn known_bug() -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name: "lost_update_unexpected",
        module_path: "ignored",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: true,
        options: &[("iterations", "1_000")],
        body: lost_update,
    }))
}

/// The harness run itself, in a child process (so that its report, which says `FAILED`,
/// does not land in this test run's output): `GOWEAVE_TEST_HARNESS_ARGS` holds its flags.
#[test]
fn harness_child() {
    common::run_child("ignored", &[known_bug()]);
}

#[test]
fn an_ignored_known_bug_is_skipped_unless_asked_for() {
    // A plain run skips it: the run passes.
    let (code, out) = harness("");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("lost_update_unexpected ... ignored"), "{out}");
    // `--ignored` explores it, finds the lost update, reports it and fails the run.
    let (code, out) = harness("--ignored");
    assert_eq!(code, Some(101), "{out}");
    assert!(out.contains("an increment was lost"), "{out}");
    assert!(out.contains("replay: GOWEAVE_REPLAY=gw1:"), "{out}");
}
