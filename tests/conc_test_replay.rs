//! `GOWEAVE_REPLAY=<token> cargo test <name>` runs exactly that schedule once and reports the
//! same failure. The test binary runs itself as a child process, with the variable set only
//! there.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use goweave::conc_test;
use goweave::runtime::gosched;
use goweave::Checker;

fn lost_update() {
    let n = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            goweave::go(move || {
                let v = n.load(Ordering::SeqCst);
                gosched();
                n.store(v + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(n.load(Ordering::SeqCst), 2, "an increment was lost");
}

#[conc_test(iterations = 1_000)]
#[ignore = "a known bug: the tests below run it in a child process"]
fn lost_update_bug() {
    lost_update();
}

#[conc_test(expect = "panic", iterations = 1_000)]
fn lost_update_expected() {
    lost_update();
}

/// A failing token, found in-process by the same exploration the test runs.
fn failing_token() -> String {
    Checker::new()
        .iterations(1_000)
        .run(lost_update)
        .expect_err("the lost update is found")
        .token()
        .unwrap()
        .to_string()
}

/// Run this test binary on `test` (exactly), with `GOWEAVE_REPLAY=token`.
fn child(test: &str, token: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--include-ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env("GOWEAVE_REPLAY", token)
        .env_remove("GOWEAVE_ITERATIONS")
        .env_remove("GOWEAVE_STRATEGY")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn replay_runs_the_schedule_once_and_reports_the_same_failure() {
    let token = failing_token();
    let (ok, text) = child("lost_update_bug", &token);
    assert!(!ok, "the replayed bug fails the test:\n{text}");
    assert!(text.contains("an increment was lost"), "{text}");
    assert!(
        text.contains(&format!(
            "replay: GOWEAVE_REPLAY={token} cargo test -- lost_update_bug --exact"
        )),
        "the report replays the same token:\n{text}"
    );
    assert!(
        text.contains("at schedule 1"),
        "one schedule, the replayed one:\n{text}"
    );
}

#[test]
fn replay_of_an_expected_failure_passes() {
    let token = failing_token();
    let (ok, text) = child("lost_update_expected", &token);
    assert!(ok, "{text}");
    assert!(
        text.contains("lost_update_expected: found the expected panic at schedule 1 (replay)"),
        "{text}"
    );
}

#[test]
fn a_bad_token_is_a_clear_error() {
    let (ok, text) = child("lost_update_expected", "gw1:AAAA");
    assert!(!ok, "{text}");
    // The error names the variable and says what is wrong with the token.
    assert!(
        text.contains("goweave: GOWEAVE_REPLAY=\"gw1:AAAA\""),
        "{text}"
    );
    assert!(text.contains("replay token"), "{text}");
}
