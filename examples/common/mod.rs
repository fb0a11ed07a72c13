//! What every example does: explore the buggy program until goweave finds the bug, check that
//! the replay token reproduces it, then explore the fixed program and show it passing.
//!
//! Every step returns `Err(why)` instead of panicking, so that `main` can exit non-zero with a
//! readable message and `tests/examples_run.rs` can assert on the same steps.
//!
//! `GOWEAVE_REPLAY=<token>` replays that one schedule of the buggy program instead of exploring
//! (the fixed program is still checked), which is what the `to replay:` line printed under every
//! report says. A token of another program (its fingerprint does not match) is ignored.
#![allow(dead_code)]

use goweave::{Checker, Failure, FailureKind, Stats};

/// The outcome of one example: the failure found in the buggy program, and the stats of every
/// fixed program checked.
pub struct Demo {
    /// What goweave reported for the buggy program (shrunk, with its trace).
    pub bug: Failure,
    /// One entry per fixed program: what it was, and what exploring it did.
    pub fixed: Vec<(String, Stats)>,
}

/// Explore `body` with `checker` and require a failure of kind `kind` whose report contains
/// every string of `claims`. Print it, then replay its token and require the same report.
///
/// With `GOWEAVE_REPLAY` set, replay that token instead of exploring.
pub fn find_bug<F>(
    example: &str,
    title: &str,
    checker: Checker,
    kind: FailureKind,
    claims: &[&str],
    body: F,
) -> Result<Failure, String>
where
    F: Fn() + Send + Sync + Clone + 'static,
{
    println!("== {title} ==");
    let replayed = match std::env::var("GOWEAVE_REPLAY") {
        Ok(token) if !token.is_empty() => {
            match goweave::replay(&token.parse().unwrap(), body.clone()) {
                Ok(stats) => return Err(format!("the replayed schedule passed: {stats}")),
                // A token recorded from another program (the tour has two buggy programs) does not
                // fit this one: its fingerprint says so. Explore as usual.
                Err(f) if f.kind() == FailureKind::Nondeterminism => {
                    println!("(GOWEAVE_REPLAY is a schedule of another program: exploring)");
                    None
                }
                Err(f) => {
                    println!("(replaying GOWEAVE_REPLAY={token})");
                    Some(f)
                }
            }
        }
        _ => None,
    };
    let failure = match replayed {
        Some(f) => f,
        None => match checker.run(body.clone()) {
            Ok(stats) => return Err(format!("goweave did not find the bug: {stats}")),
            Err(f) => f,
        },
    };
    println!("{failure}");
    if failure.kind() != kind {
        return Err(format!(
            "expected a {kind:?} failure, goweave reported a {:?}",
            failure.kind()
        ));
    }
    for claim in claims {
        if !failure.report().contains(claim) {
            return Err(format!("the report does not say {claim:?}"));
        }
    }
    // The token is the whole story: replaying it gives the same failure, event for event (the
    // report names where main was started, and `replay` is called from another line).
    fn program(report: &str) -> Vec<&str> {
        report
            .lines()
            .filter(|l| !l.starts_with("created by the runtime (main)"))
            .collect()
    }
    let same = |a: &str, b: &str| program(a) == program(b);
    match goweave::replay(failure.schedule(), body) {
        Err(again) if again.kind() == kind && same(again.report(), failure.report()) => {}
        Err(again) => {
            return Err(format!(
                "replaying the token gave a different failure:\n{again}"
            ))
        }
        Ok(stats) => return Err(format!("replaying the token passed: {stats}")),
    }
    println!("(replaying the token gave the same report)");
    println!(
        "to replay: GOWEAVE_REPLAY={} cargo run --release --example {example}",
        failure.token().unwrap_or_default()
    );
    println!();
    Ok(failure)
}

/// Explore `body` with `checker` and require every schedule to pass.
pub fn passes<F>(title: &str, checker: Checker, body: F) -> Result<(String, Stats), String>
where
    F: Fn() + Send + Sync + 'static,
{
    println!("== {title} ==");
    match checker.run(body) {
        Ok(stats) => {
            println!("ok: {stats}");
            println!();
            Ok((title.to_string(), stats))
        }
        Err(f) => Err(format!("the fixed program failed:\n{f}")),
    }
}

/// `main` of an example: print `success` and exit 0 if `run` held up, else exit 1 with the
/// reason.
pub fn exit<T>(r: Result<T, String>, success: &str) {
    match r {
        Ok(_) => println!("{success}"),
        Err(why) => {
            eprintln!("FAILED: {why}");
            std::process::exit(1);
        }
    }
}
