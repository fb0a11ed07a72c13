//! Classic bug: `wg.add(1)` called inside the goroutine instead of before starting it.
//!
//! `wait` returns as soon as the counter is zero. If main reaches `wg.wait()` before a worker
//! has run its `wg.add(1)`, the counter is still zero (or back to zero), so `wait` returns while
//! that worker has not even started. `go vet` has no check for it, and in Go it shows up only
//! under load, or under `go test -race`: Go's race annotations on `WaitGroup` make an `Add`
//! from zero that is not ordered before `Wait` a data race. goweave's detector has the same
//! annotations, so the checker reports the race (naming `sync.WaitGroup`, the worker's `add`
//! and main's `wait`) in any schedule where a worker adds while main waits, not only in the
//! rarer ones where `wait` returns early and the result is wrong (with
//! `Checker::race_detection(false)` it finds those as a panic).
//!
//! The fix calls `add` before `go` (or uses `wg.go`, Go 1.25's `wg.Go`, which does both).
//!
//! `cargo run --release --example bug_wg_add_inside`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use goweave::sync::{Mutex, WaitGroup};
use goweave::{go, Checker, FailureKind};

/// Square each number in its own goroutine; `add` inside the goroutine.
fn squares_add_inside(n: u64) -> Vec<u64> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let wg = WaitGroup::new();
    for i in 0..n {
        let (out, wg) = (out.clone(), wg.clone());
        go(move || {
            wg.add(1); // too late: main may already be past wg.wait()
            out.lock().push(i * i);
            wg.done();
        });
    }
    wg.wait();
    let v = out.lock().clone();
    v
}

/// The fix: count the goroutine before starting it.
fn squares(n: u64) -> Vec<u64> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let wg = WaitGroup::new();
    for i in 0..n {
        let (out, done) = (out.clone(), wg.clone());
        wg.add(1);
        go(move || {
            out.lock().push(i * i);
            done.done();
        });
    }
    wg.wait();
    let v = out.lock().clone();
    v
}

fn check(mut v: Vec<u64>) {
    v.sort_unstable();
    assert_eq!(
        v,
        [0, 1, 4],
        "wg.wait() returned before every square was computed"
    );
}

/// Find the unordered `add`, then show the fix passing.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_wg_add_inside",
        "wg.add(1) inside the goroutine",
        Checker::new().iterations(100),
        FailureKind::Race,
        &["sync.WaitGroup (an Add from zero not ordered with a Wait)"],
        || check(squares_add_inside(3)),
    )?;
    let fixed = common::passes(
        "wg.add(1) before go",
        Checker::new().iterations(1_000),
        || check(squares(3)),
    )?;
    Ok(common::Demo {
        bug,
        fixed: vec![fixed],
    })
}

#[allow(dead_code)]
fn main() {
    common::exit(run(), "the bug was found and the fix passes");
}
