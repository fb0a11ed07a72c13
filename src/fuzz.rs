//! Fuzzing with external fuzzers: input bytes drive every scheduling decision.
//!
//! [`run`] is for a cargo-fuzz (libFuzzer) target: it runs a body once on the controlled
//! executor, with the fuzzer's input choosing who runs at every scheduling point, and panics
//! with the failure report (which carries the replay token) if the schedule fails, so that
//! libFuzzer records a crash.
//!
//! ```no_run
//! // fuzz/fuzz_targets/transfer.rs
//! // #![no_main]
//! // libfuzzer_sys::fuzz_target!(|data: &[u8]| goweave::fuzz::run(data, my_kernel));
//! # fn my_kernel() {}
//! # let data: &[u8] = &[];
//! goweave::fuzz::run(data, my_kernel);
//! ```
//!
//! How bytes become a schedule is described in [`explore::Bytes`](crate::explore::Bytes).
//!
//! A failing input replays with its token (`GOWEAVE_REPLAY=gw1:...`, [`crate::replay`]) like
//! any failure; [`token_from_input`] turns a saved crash artifact into that token.

use crate::check::{Checker, Failure, Stats};
use crate::explore::{Bytes, Tail};

/// A checker that runs one schedule, decided by `data` (see the module docs). Configure it
/// further (`max_steps`, `leak_check`, `shrink_budget`, ...) and call `run`.
///
/// ```
/// let stats = goweave::fuzz::checker(&[1, 0, 3])
///     .max_steps(10_000)
///     .run(|| {
///         let h = goweave::go(|| 1);
///         assert_eq!(h.join(), 1);
///     })
///     .unwrap();
/// assert_eq!(stats.schedules, 1);
/// ```
///
/// The `GOWEAVE_*` variables apply (`GOWEAVE_SHRINK_BUDGET`, `GOWEAVE_MAX_STEPS`, ...), except
/// those that choose schedules; a value that cannot be used panics with the error naming it.
pub fn checker(data: &[u8]) -> Checker {
    Checker::new()
        .with_env()
        .unwrap_or_else(|e| panic!("{e}"))
        .adapted_strategy(Bytes::new(data, Tail::Seeded))
        .iterations(1)
}

/// Run `body` once under the schedule that `data` describes; the failure, if it fails.
pub fn try_run<F>(data: &[u8], body: F) -> Result<Stats, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    checker(data).run(body)
}

/// Run `body` once under the schedule that `data` describes, and panic with the failure
/// report (and its replay token) if it fails. Meant for fuzz targets:
///
/// ```
/// // In a cargo-fuzz target: `libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));`
/// fn fuzz_one(data: &[u8]) {
///     goweave::fuzz::run(data, || {
///         let h = goweave::go(|| 2 + 2);
///         assert_eq!(h.join(), 4);
///     });
/// }
/// // Any input is a schedule; a correct program passes under every one.
/// fuzz_one(&[7, 1, 200, 3]);
/// fuzz_one(&[]);
/// ```
#[track_caller]
pub fn run<F>(data: &[u8], body: F)
where
    F: Fn() + Send + Sync + 'static,
{
    if let Err(f) = try_run(data, body) {
        panic!(
            "goweave::fuzz: this input makes the program fail ({:?}); replay it with GOWEAVE_REPLAY={}\n\n{f}",
            f.kind(),
            f.token().unwrap_or_default()
        );
    }
}

/// The replay token of the failure that `data` (a saved fuzzer input, such as a cargo-fuzz
/// crash artifact) produces in `body`, or `None` if that schedule does not fail.
///
/// The token records which goroutine ran at each decision, and only a run can tell which
/// goroutines were there, so this runs `body` once.
///
/// ```
/// # fn body() { let h = goweave::go(|| ()); h.join(); }
/// let data = std::fs::read("fuzz/artifacts/x/crash-...").unwrap_or_default();
/// if let Some(token) = goweave::fuzz::token_from_input(&data, body) {
///     println!("GOWEAVE_REPLAY={token}");
/// }
/// ```
pub fn token_from_input<F>(data: &[u8], body: F) -> Option<String>
where
    F: Fn() + Send + Sync + 'static,
{
    try_run(data, body)
        .err()
        .and_then(|f| f.token().map(str::to_string))
}
