//! Classic bug: a panic in one goroutine takes the whole program down; `recover` contains it.
//!
//! A worker pool parses requests. One request is malformed and its worker panics. In Go a
//! panic that no `recover` catches ends the *whole process*, whichever goroutine raised it, and
//! goweave's runtime does the same. The checker reports it as Go does
//! (`goroutine N panicked at file:line: message`) with the goroutine's creation site.
//!
//! The fix recovers inside each worker, as Go servers do per request, and turns the panic into
//! an error for that one request: `goweave::recover(|| ...)` returns `Err(Panic)` with the
//! message and location, and the other requests are served.
//!
//! `cargo run --release --example bug_panic_recover`

#[path = "common/mod.rs"]
mod common;

use goweave::{go, recover, Checker, FailureKind};

const REQUESTS: [&str; 3] = ["12", "x7", "30"];

fn handle(request: &str) -> u64 {
    let n: u64 = request.parse().expect("request is a number");
    n * 2
}

/// The buggy version: a panic in any worker ends everything.
fn serve_unprotected() -> Vec<u64> {
    let hs: Vec<_> = REQUESTS.iter().map(|&r| go(move || handle(r))).collect();
    hs.into_iter().map(|h| h.join()).collect()
}

/// The fix: each worker recovers, and a panic becomes that request's error.
fn serve() -> Vec<Result<u64, String>> {
    let hs: Vec<_> = REQUESTS
        .iter()
        .map(|&r| go(move || recover(|| handle(r)).map_err(|p| format!("request {r:?}: {p}"))))
        .collect();
    hs.into_iter().map(|h| h.join()).collect()
}

/// Find the unrecovered panic, then show the recovered version serving the others.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_panic_recover",
        "a worker panics on a malformed request",
        Checker::new().iterations(100),
        FailureKind::Panic,
        &["panicked at", "request is a number", "bug_panic_recover.rs"],
        || {
            serve_unprotected();
        },
    )?;
    let fixed = common::passes(
        "every worker recovers its own panic",
        Checker::new().iterations(1_000),
        || {
            let replies = serve();
            assert_eq!(replies[0], Ok(24));
            assert!(replies[1]
                .as_ref()
                .is_err_and(|e| e.contains("request is a number")));
            assert_eq!(replies[2], Ok(60));
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
