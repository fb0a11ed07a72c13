//! Classic bug: main returns before its goroutines finish.
//!
//! `save_all` starts one goroutine per record and returns at once. Whatever reads the store
//! next (here: the end of main, which checks that every record was saved) may run before
//! some of the goroutines did. In Go, when `main` returns the other goroutines are simply
//! killed, so their work is lost without a word; goweave's runtime (`goweave::run`) has the
//! same exit semantics. The checker tries the schedules where main gets there first and reports
//! the failed check, with the interleaving that led to it.
//!
//! The fix waits for the goroutines: a `WaitGroup` (`wg.go` adds and calls `done` for us).
//!
//! `cargo run --release --example bug_main_returns_early`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use goweave::sync::{Mutex, WaitGroup};
use goweave::{go, Checker, FailureKind};

type Store = Arc<Mutex<Vec<&'static str>>>;

const RECORDS: [&str; 3] = ["alice", "bob", "carol"];

/// The buggy version: fire and forget.
fn save_all_and_forget(store: &Store) {
    for record in RECORDS {
        let store = store.clone();
        go(move || store.lock().push(record));
    }
}

/// The fix: wait for every save before returning.
fn save_all(store: &Store) {
    let wg = WaitGroup::new();
    for record in RECORDS {
        let store = store.clone();
        wg.go(move || store.lock().push(record));
    }
    wg.wait();
}

fn check_saved(store: &Store) {
    let saved = store.lock().len();
    assert_eq!(
        saved,
        RECORDS.len(),
        "main is done but only {saved} of {} records were saved",
        RECORDS.len()
    );
}

/// Find the early return, then show the fix passing.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_main_returns_early",
        "save_all returns without waiting for its goroutines",
        Checker::new().iterations(100),
        FailureKind::Panic,
        &["panicked at", "records were saved"],
        || {
            let store = Store::default();
            save_all_and_forget(&store);
            check_saved(&store);
        },
    )?;
    let fixed = common::passes(
        "save_all waits with a WaitGroup",
        Checker::new().iterations(1_000),
        || {
            let store = Store::default();
            save_all(&store);
            check_saved(&store);
        },
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
