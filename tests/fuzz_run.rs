//! goweave::fuzz: input bytes drive the scheduler; a failing input panics with a replay token,
//! and that token (or `token_from_input` on the saved input) replays the same failure.

mod fuzz_support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use fuzz_support::kernels::{bank_transfer, lazy_init, pipeline_leak, rwlock_starvation};
use goweave::fuzz;
use goweave::FailureKind;

/// Deterministic pseudo-random inputs, as a fuzzer would try them.
fn inputs() -> impl Iterator<Item = Vec<u8>> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..).map(move |i| {
        let len = i % 48;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    })
}

/// The first of `inputs()` that makes `body` fail, and how many were tried.
fn first_failing(body: fn()) -> (Vec<u8>, usize) {
    for (i, data) in inputs().take(2_000).enumerate() {
        if fuzz::try_run(&data, body).is_err() {
            return (data, i + 1);
        }
    }
    panic!("no input among 2,000 makes the kernel fail");
}

fn panic_text(f: impl FnOnce()) -> String {
    let p = catch_unwind(AssertUnwindSafe(f)).expect_err("the input should fail");
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn found_and_replayed(body: fn(), kind: FailureKind, says: &str) {
    let (data, tried) = first_failing(body);
    // What a fuzz target does with it: panic, with the token in the message.
    let msg = panic_text(|| fuzz::run(&data, body));
    assert!(msg.contains(says), "{msg}");
    let token = msg
        .split("GOWEAVE_REPLAY=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the panic message carries the token")
        .to_string();
    assert!(token.starts_with("gw1:"), "{token}");
    let replayed =
        goweave::replay(&token.parse().unwrap(), body).expect_err("the token replays the failure");
    assert_eq!(replayed.kind(), kind, "{replayed}");
    // A crash artifact (the raw input) gives a token that replays too.
    let from_input = fuzz::token_from_input(&data, body).expect("the input still fails");
    let replayed = goweave::replay(&from_input.parse().unwrap(), body).unwrap_err();
    assert_eq!(replayed.kind(), kind, "{replayed}");
    eprintln!("{kind:?}: found after {tried} inputs, {} bytes", data.len());
}

#[test]
fn bank_transfer_lost_update_replays() {
    found_and_replayed(bank_transfer, FailureKind::Panic, "money was lost");
}

#[test]
fn pipeline_leak_replays() {
    // The kernel checks for leaks itself, as a goleak user would: `verify_none` panics, and
    // under the checker the schedule's verdict is the leak it found.
    found_and_replayed(
        pipeline_leak,
        FailureKind::Leak,
        "found unexpected goroutines",
    );
}

#[test]
fn lazy_init_race_replays() {
    found_and_replayed(lazy_init, FailureKind::Race, "DATA RACE");
}

#[test]
fn rwlock_starvation_deadlock_replays() {
    found_and_replayed(
        rwlock_starvation,
        FailureKind::Deadlock,
        "all goroutines are asleep - deadlock!",
    );
}

#[test]
fn a_passing_input_has_no_token_and_inputs_are_deterministic() {
    let quiet = [0u8; 64];
    assert!(fuzz::try_run(&quiet, bank_transfer).is_ok());
    assert_eq!(fuzz::token_from_input(&quiet, bank_transfer), None);
    for data in inputs().take(50) {
        let a = fuzz::try_run(&data, bank_transfer).map(|s| s.steps);
        let b = fuzz::try_run(&data, bank_transfer).map(|s| s.steps);
        assert_eq!(a.ok(), b.ok(), "input {data:?}");
    }
}
