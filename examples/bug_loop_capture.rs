//! Classic bug: a goroutine reads shared loop state instead of its own copy.
//!
//! In Go before 1.22, `for i := range jobs { go func() { use(i) }() }` gave every goroutine
//! the *same* `i`, which the loop kept changing. Rust's borrow checker refuses that exact code,
//! but the bug survives whenever the loop writes its state somewhere shared and the goroutines
//! read it from there: here a "current job" cell that the dispatcher updates and each worker
//! reads when it starts. Workers see another iteration's job, some jobs run twice and others
//! never. The cell is a `RaceCell`, so goweave's race detector reports the unsynchronised
//! write and read with both locations (Go's `-race` would report the same pair).
//!
//! The fix hands each goroutine its own copy of the job: `let job = i; go(move || ...)`.
//!
//! `cargo run --release --example bug_loop_capture`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::{go, Checker, FailureKind};

fn process(job: u64) -> u64 {
    job * 10
}

/// The buggy version: the loop publishes the job in a shared cell; workers read it later.
fn dispatch_shared(jobs: u64) -> Vec<u64> {
    let current = Arc::new(RaceCell::named("current_job", 0));
    let mut hs = Vec::new();
    for i in 0..jobs {
        current.set(i);
        let current = current.clone();
        hs.push(go(move || process(current.get())));
    }
    hs.into_iter().map(|h| h.join()).collect()
}

/// The fix: each goroutine owns a copy of its job.
fn dispatch(jobs: u64) -> Vec<u64> {
    let hs: Vec<_> = (0..jobs)
        .map(|i| {
            let job = i;
            go(move || process(job))
        })
        .collect();
    hs.into_iter().map(|h| h.join()).collect()
}

/// Find the race on the shared loop state, then show the fix passing.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_loop_capture",
        "workers read the loop's shared current_job cell",
        Checker::new().iterations(100),
        FailureKind::Race,
        &["WARNING: DATA RACE", "current_job"],
        || {
            assert_eq!(dispatch_shared(3), [0, 10, 20], "a job was run twice");
        },
    )?;
    let fixed = common::passes(
        "every worker owns a copy of its job",
        Checker::new().iterations(1_000),
        || assert_eq!(dispatch(3), [0, 10, 20]),
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
