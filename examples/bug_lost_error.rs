//! Classic bug: an error from a goroutine is lost; the fix reports it through a channel.
//!
//! `upload_all` uploads files concurrently and should fail if any upload failed. The buggy
//! version keeps "the error" in one shared slot that every goroutine overwrites with its own
//! result, `*err = upload(f).err()`, as the Go idiom `err = upload(f)` on a shared variable does
//! (which Go's `-race` also flags). When a successful upload finishes after the failed one, it
//! overwrites the error with `None`, and `upload_all` reports success. Whether that happens
//! depends on the schedule: the checker finds one where it does.
//!
//! The fix sends every goroutine's result over a channel with room for all of them; the
//! caller receives them all and returns the first error.
//!
//! `cargo run --release --example bug_lost_error`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use goweave::sync::{Mutex, WaitGroup};
use goweave::{chan, go, Checker, FailureKind};

const FILES: [&str; 3] = ["a.txt", "secret.key", "b.txt"];

fn upload(file: &str) -> Result<(), String> {
    if file.ends_with(".key") {
        Err(format!("upload {file}: permission denied"))
    } else {
        Ok(())
    }
}

/// The buggy version: every goroutine overwrites one shared error slot.
fn upload_all_shared_slot() -> Result<(), String> {
    let err: Arc<Mutex<Option<String>>> = Arc::default();
    let wg = WaitGroup::new();
    for file in FILES {
        let err = err.clone();
        wg.go(move || *err.lock() = upload(file).err());
    }
    wg.wait();
    let first = err.lock().take();
    first.map_or(Ok(()), Err)
}

/// The fix: every result goes over a channel, and the caller looks at all of them.
fn upload_all() -> Result<(), String> {
    let results = chan::make(FILES.len());
    for file in FILES {
        let results = results.clone();
        go(move || results.send(upload(file)));
    }
    let mut first = Ok(());
    for _ in FILES {
        let r = results.recv().expect("one result per file");
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Find the lost error, then show the channel version reporting it in every schedule.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_lost_error",
        "goroutines overwrite one shared error slot",
        Checker::new().iterations(100),
        FailureKind::Panic,
        &["the permission error was lost"],
        || {
            let r = upload_all_shared_slot();
            assert!(r.is_err(), "the permission error was lost: got {r:?}");
        },
    )?;
    let fixed = common::passes(
        "errors come back over a channel",
        Checker::new().iterations(1_000),
        || {
            assert_eq!(
                upload_all(),
                Err("upload secret.key: permission denied".to_string())
            )
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
