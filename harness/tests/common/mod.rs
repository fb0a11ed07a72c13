//! A harness run in a child process of the test binary, so that its report (which says
//! `FAILED` when the run under test fails) does not land in the test run's own output. The
//! binary's `harness_child` test runs the harness with the flags of
//! `GOWEAVE_TEST_HARNESS_ARGS`, and does nothing when it is not set.

#![allow(dead_code)] // each test binary uses its own part

use goweave::harness::ConcTest;

/// The body of a binary's `harness_child` test: run the harness over `tests` with the flags
/// of `GOWEAVE_TEST_HARNESS_ARGS` (program name `program`), and exit with its code.
pub fn run_child(program: &str, tests: &[&'static ConcTest]) {
    let Ok(flags) = std::env::var("GOWEAVE_TEST_HARNESS_ARGS") else {
        return;
    };
    let argv = std::iter::once(program).chain(flags.split_whitespace());
    std::process::exit(goweave_harness::run(argv, tests));
}

/// Exit code and standard output of the harness run with `flags`, in a child process.
pub fn harness(flags: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["harness_child", "--exact", "--nocapture"])
        .env("GOWEAVE_TEST_HARNESS_ARGS", flags)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
