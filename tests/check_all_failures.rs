//! `all_failures` through `goweave::check` (`GOWEAVE_ALL_FAILURES`) and `#[conc_test]`: the
//! exploration goes on past the first failure, the report lists every distinct failure after
//! it, and the verdict is still the first failure's.

#[path = "common/kernels.rs"]
mod kernels;

/// `goweave::check` in a child process, so that the variables are its own.
#[test]
fn check_child() {
    if std::env::var_os("GOWEAVE_TEST_CHECK_CHILD").is_some() {
        goweave::check(kernels::race_and_panic);
    }
}

/// Exit success and standard error of `check_child` with `vars` set.
fn check_with(vars: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["check_child", "--exact", "--nocapture"])
        .env("GOWEAVE_TEST_CHECK_CHILD", "1")
        .env("GOWEAVE_STRATEGY", "dfs")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_every_distinct_failure_with_the_variable() {
    let (ok, err) = check_with(&[("GOWEAVE_ALL_FAILURES", "1")]);
    assert!(!ok, "{err}");
    assert!(err.contains("WARNING: DATA RACE"), "{err}");
    assert!(
        err.contains("and 1 more distinct failure (all_failures)"),
        "{err}"
    );
    assert!(err.contains("[2] panic at "), "{err}");
    assert!(err.contains("the send came first"), "{err}");
    // Two replay lines: the race's and the panic's.
    assert_eq!(
        err.matches("\nreplay: GOWEAVE_REPLAY=gw1:").count(),
        2,
        "{err}"
    );
}

#[test]
fn check_stops_at_the_first_failure_without_it() {
    let (ok, err) = check_with(&[]);
    assert!(!ok, "{err}");
    assert!(err.contains("WARNING: DATA RACE"), "{err}");
    assert!(!err.contains("more distinct failure"), "{err}");
    assert!(!err.contains("the send came first"), "{err}");
}

/// The verdict is the first failure's: the expected race passes, though a panic is found too
/// (its report goes to standard error with the note).
#[goweave::conc_test(strategy = "dfs", all_failures = true, expect = "race")]
fn an_expected_first_failure_still_passes() {
    kernels::race_and_panic();
}

/// A bad value is an error that names the setting.
#[test]
fn a_bad_value_names_the_variable() {
    let (ok, err) = check_with(&[("GOWEAVE_ALL_FAILURES", "sometimes")]);
    assert!(!ok, "{err}");
    assert!(err.contains("GOWEAVE_ALL_FAILURES"), "{err}");
}
