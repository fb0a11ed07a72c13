//! `--all-failures` (`all_failures = true`, `GOWEAVE_ALL_FAILURES`): the exploration goes on
//! past its first failure and the harness reports each distinct failure, with a replay line of
//! its own; the verdict is still the first failure's.

mod common;

use common::harness;

use goweave::harness::ConcTest;

#[path = "../../tests/common/kernels.rs"]
mod kernels;

fn test() -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name: "two_bugs",
        module_path: "all_failures",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: false,
        options: &[("strategy", "dfs"), ("iterations", "10_000")],
        body: kernels::race_and_panic,
    }))
}

/// The harness run itself, in a child process (its report says `FAILED`, which must not land
/// in this test run's output): `GOWEAVE_TEST_HARNESS_ARGS` holds its flags.
#[test]
fn harness_child() {
    common::run_child("all_failures", &[test()]);
}

/// The `"kind"` and `"token"` of each failure of the JSON record of `two_bugs`.
fn failures_in_json(out: &str) -> Vec<(String, String)> {
    let record = out
        .lines()
        .find(|l| l.contains("\"name\":\"two_bugs\""))
        .unwrap_or_else(|| panic!("no JSON record for the test in:\n{out}"));
    let field = |s: &str, key: &str| -> String {
        let at = s.find(&format!("\"{key}\":\"")).expect(key) + key.len() + 4;
        s[at..at + s[at..].find('"').unwrap()].to_string()
    };
    let list = &record[record.find("\"failures\":[").expect("a failures list")..];
    list.split("{\"kind\"")
        .skip(1)
        .map(|f| {
            let f = format!("{{\"kind\"{f}");
            (field(&f, "kind"), field(&f, "token"))
        })
        .collect()
}

#[test]
fn without_the_flag_the_first_failure_alone_is_reported() {
    let (code, out) = harness("");
    assert_eq!(code, Some(101), "{out}");
    assert!(!out.contains(": also "), "{out}");
    // The report's replay line and the summary's.
    assert_eq!(
        out.matches("replay: GOWEAVE_REPLAY=gw1:").count(),
        2,
        "{out}"
    );
}

#[test]
fn every_distinct_failure_is_reported_and_replays_to_its_own_kind() {
    let (code, out) = harness("--all-failures true --format json");
    assert_eq!(
        code,
        Some(101),
        "the first failure still fails the test:\n{out}"
    );
    let found = failures_in_json(&out);
    let mut kinds: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["panic", "race"], "{out}");
    // Each token replays, alone, to the failure it was reported with.
    for (kind, token) in &found {
        let (code, replayed) = harness(&format!("--replay {token} --format json"));
        assert_eq!(code, Some(101), "{replayed}");
        let again = failures_in_json(&replayed);
        assert_eq!(again.len(), 1, "{replayed}");
        assert_eq!(&again[0].0, kind, "{replayed}");
    }
}

#[test]
fn the_summary_lists_the_later_failures_once_even_over_several_jobs() {
    for flags in ["--all-failures true", "--all-failures true --jobs 2"] {
        let (code, out) = harness(flags);
        assert_eq!(code, Some(101), "{flags}: {out}");
        let summary = &out[out.find("goweave summary").expect("a summary")..];
        assert_eq!(
            summary.matches("two_bugs: also ").count(),
            1,
            "{flags}: {summary}"
        );
        // The first failure's replay line, then the later one's.
        assert_eq!(
            summary.matches("replay: GOWEAVE_REPLAY=gw1:").count(),
            2,
            "{flags}: {summary}"
        );
    }
}

#[test]
fn each_failure_gets_its_own_trace_page() {
    let dir = std::env::temp_dir().join(format!("goweave-all-failures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, out) = harness(&format!(
        "--all-failures true --trace-dir {}",
        dir.display()
    ));
    assert_eq!(code, Some(101), "{out}");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(pages, ["two_bugs.2.html", "two_bugs.html"], "{out}");
    // The summary links both.
    assert_eq!(out.matches("trace: ").count(), 2, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
