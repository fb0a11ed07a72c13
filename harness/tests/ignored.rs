//! An `#[ignore]`d `#[conc_test]` (a known bug kept for later, like
//! `campaign.rs`'s `lost_update_unexpected`) is skipped by a plain run and explored, and
//! reported, with `--ignored`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::conc_test::{ConcTest, Spec};
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
        spec: Spec {
            iterations: Some(1_000),
            ..Spec::default()
        },
        body: lost_update,
    }))
}

#[test]
fn an_ignored_known_bug_is_skipped_unless_asked_for() {
    let t = known_bug();
    // A plain run skips it: the run passes.
    assert_eq!(goweave_harness::run(["ignored"], &[t]), 0);
    // `--ignored` explores it, finds the lost update and fails the run.
    assert_eq!(goweave_harness::run(["ignored", "--ignored"], &[t]), 101);
}
