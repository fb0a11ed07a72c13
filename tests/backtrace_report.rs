//! Full backtraces in failure reports (`GOWEAVE_BACKTRACE=1`, `Checker::backtraces`): under
//! each goroutine's block, where it blocked and where it was created, trimmed to the program's
//! frames with the goweave call on top; and without them, the report as it always was.
//!
//! The tests turn backtraces on and off with `Checker::backtraces`, never through the process
//! environment (which other tests share).

use std::sync::Arc;

use goweave::sync::Mutex;
use goweave::{chan, go, Checker, FailureKind, StrategyKind};

/// Frames that must never reach a report: the machinery between the user's frames and the
/// thread's start.
const MACHINERY: &[&str] = &[
    "corosensei",
    "trampoline",
    "catch_unwind",
    "std::panicking",
    "std::thread",
    "goweave::runtime::executor",
    "goweave::runtime::coroutine",
    "goweave::runtime::dump",
    "goweave::check",
    "backtrace::",
];

const HINT: &str = "full backtraces: add GOWEAVE_BACKTRACE=1 to the replay command";

// AB-BA: main locks b then a, goroutine 2 locks a then b.
fn ab_ba() {
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let (a2, b2) = (a.clone(), b.clone());
    let h = go(move || {
        let _x = a2.lock();
        let _y = b2.lock();
    });
    let _y = b.lock();
    let _x = a.lock();
    drop((_x, _y));
    h.join();
}

fn deadlock(backtraces: bool) -> goweave::Failure {
    let f = Checker::new()
        .iterations(1_000)
        .backtraces(backtraces)
        .run(ab_ba)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    f
}

/// The blocks of a report, one per goroutine (each from its `goroutine N [...]:` line).
fn blocks(report: &str) -> Vec<String> {
    report
        .split("\n\n")
        .filter(|b| b.starts_with("goroutine "))
        .map(str::to_string)
        .collect()
}

/// The value after `prefix` on the line of `block` that starts with it.
fn after<'a>(block: &'a str, prefix: &str) -> &'a str {
    block
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{block}"))
}

/// The lines of the section titled `title` (up to the next title).
fn section<'a>(block: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = block.lines().skip_while(|l| l.trim() != title);
    assert!(lines.next().is_some(), "no {title:?} in:\n{block}");
    lines.take_while(|l| l.starts_with("    ")).collect()
}

fn assert_no_machinery(report: &str) {
    for m in MACHINERY {
        assert!(!report.contains(m), "{m:?} in:\n{report}");
    }
}

#[test]
fn a_deadlock_shows_where_each_goroutine_blocked_and_was_created() {
    let f = deadlock(true);
    let r = f.report();
    let bs = blocks(r);
    assert_eq!(bs.len(), 2, "{r}");

    // Main: blocked in `ab_ba` on `Mutex::lock`; created by the checker (no frames of ours).
    let main = &bs[0];
    assert!(main.starts_with("goroutine 1 [sync.Mutex.Lock]:"), "{main}");
    let blocked = section(main, "where it blocked:");
    assert_eq!(
        blocked[0].trim(),
        "goweave::sync::mutex::Mutex<T>::lock",
        "{main}"
    );
    assert_eq!(blocked[2].trim(), "backtrace_report::ab_ba", "{main}");
    // The frame's file:line:column is the site the block already names.
    assert_eq!(blocked[3].trim(), after(main, "blocked at "), "{main}");
    assert!(!main.contains("where it was created:"), "{main}");

    // Goroutine 2: blocked in its closure; created by `go` in `ab_ba`.
    let g2 = &bs[1];
    assert!(g2.starts_with("goroutine 2 [sync.Mutex.Lock]:"), "{g2}");
    let blocked = section(g2, "where it blocked:");
    assert_eq!(
        blocked[0].trim(),
        "goweave::sync::mutex::Mutex<T>::lock",
        "{g2}"
    );
    assert_eq!(
        blocked[2].trim(),
        "backtrace_report::ab_ba::{{closure}}",
        "{g2}"
    );
    assert_eq!(blocked[3].trim(), after(g2, "blocked at "), "{g2}");
    let created = section(g2, "where it was created:");
    assert_eq!(created[0].trim(), "goweave::runtime::join::go", "{g2}");
    assert_eq!(created[2].trim(), "backtrace_report::ab_ba", "{g2}");
    assert_eq!(
        created[3].trim(),
        after(g2, "created by goroutine 1 at "),
        "{g2}"
    );
    // Go style: a function line, then its indented file:line:column.
    for pair in created.chunks(2) {
        assert!(
            pair[0].starts_with("    ") && !pair[0].starts_with("     "),
            "{g2}"
        );
        assert!(pair[1].starts_with("        "), "{g2}");
    }

    assert_no_machinery(r);
    assert!(!f.to_string().contains(HINT), "{f}");
}

#[test]
fn without_backtraces_the_report_is_unchanged() {
    let f = deadlock(false);
    let r = f.report();
    for b in blocks(r) {
        assert_eq!(b.lines().count(), 4, "{b}");
        assert_eq!(f.trace().len(), 5);
    }
    // Main was created where the checker was run.
    assert_eq!(
        r,
        "all goroutines are asleep - deadlock!

goroutine 1 [sync.Mutex.Lock]:
    blocked at tests/backtrace_report.rs:40:16
    sync.Mutex held by goroutine 2, locked at tests/backtrace_report.rs:36:21
created by the runtime (main) at tests/backtrace_report.rs:49:10

goroutine 2 [sync.Mutex.Lock]:
    blocked at tests/backtrace_report.rs:37:21
    sync.Mutex held by goroutine 1, locked at tests/backtrace_report.rs:39:16
created by goroutine 1 at tests/backtrace_report.rs:35:13
"
    );
    // With them, the same lines, and frames under them.
    let with = deadlock(true);
    let kept: Vec<&str> = with
        .report()
        .lines()
        .filter(|l| {
            !l.starts_with("  ")
                || l.starts_with("    blocked at")
                || l.starts_with("    sync.Mutex held")
        })
        .collect();
    assert_eq!(kept, r.lines().collect::<Vec<_>>());
    // The footer offers them, once, just above the replay line.
    let text = f.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[lines.len() - 2], HINT, "{text}");
    assert_eq!(text.matches(HINT).count(), 1);
}

#[test]
fn a_replayed_token_gets_the_backtraces() {
    let found = deadlock(false);
    let replayed = Checker::new()
        .strategy(StrategyKind::Replay(found.schedule().clone()))
        .backtraces(true)
        .run(ab_ba)
        .unwrap_err();
    assert_eq!(replayed.kind(), FailureKind::Deadlock);
    assert_eq!(replayed.token(), found.token());
    let r = replayed.report();
    assert_eq!(r.matches("where it blocked:").count(), 2, "{r}");
    assert_eq!(r.matches("where it was created:").count(), 1, "{r}");
    assert_no_machinery(r);
}

#[test]
fn a_leak_shows_the_channel_operation_and_the_users_frames() {
    fn leaky() {
        let ch = chan::make::<u32>(0);
        let rx = ch.clone();
        go(move || {
            rx.recv();
        });
    }
    let f = Checker::new()
        .iterations(10)
        .backtraces(true)
        .run(leaky)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak);
    let r = f.report();
    let bs = blocks(r);
    assert_eq!(bs.len(), 1, "{r}");
    let blocked = section(&bs[0], "where it blocked:");
    assert!(
        blocked[0].trim().starts_with("goweave::sync::chan::") && blocked[0].ends_with("recv"),
        "{r}"
    );
    assert_eq!(
        blocked[2].trim(),
        "backtrace_report::a_leak_shows_the_channel_operation_and_the_users_frames::leaky::{{closure}}",
        "{r}"
    );
    let created = section(&bs[0], "where it was created:");
    assert_eq!(
        created[2].trim(),
        "backtrace_report::a_leak_shows_the_channel_operation_and_the_users_frames::leaky",
        "{r}"
    );
    assert_no_machinery(r);
}

#[test]
fn a_livelock_shows_where_the_spinning_goroutine_runs() {
    fn spin() {
        let flag = Arc::new(goweave::sync::atomic::AtomicBool::new(false));
        let f2 = flag.clone();
        go(move || while !f2.load(goweave::sync::atomic::Ordering::SeqCst) {});
        while !flag.load(goweave::sync::atomic::Ordering::SeqCst) {}
    }
    let f = Checker::new()
        .iterations(1)
        .max_steps(200)
        .shrink_budget(std::time::Duration::ZERO)
        .backtraces(true)
        .run(spin)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Livelock);
    let r = f.report();
    assert_eq!(r.matches("where it is running:").count(), 1, "{r}");
    let running = r
        .split("\n\n")
        .find(|b| b.contains("where it is running:"))
        .unwrap();
    let frames = section(running, "where it is running:");
    assert!(
        frames.iter().any(|l| l.trim().starts_with(
            "backtrace_report::a_livelock_shows_where_the_spinning_goroutine_runs::spin"
        )),
        "{r}"
    );
    assert_no_machinery(r);
}

#[test]
fn a_panicking_goroutine_shows_where_it_was_created() {
    fn boom() {
        go(|| panic!("boom")).join();
    }
    let f = Checker::new()
        .iterations(1)
        .backtraces(true)
        .run(boom)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    let r = f.report();
    let created = section(r, "where it was created:");
    assert_eq!(created[0].trim(), "goweave::runtime::join::go", "{r}");
    assert_eq!(
        created[2].trim(),
        "backtrace_report::a_panicking_goroutine_shows_where_it_was_created::boom",
        "{r}"
    );
    assert_eq!(created[3].trim(), after(r, "created at "), "{r}");
    assert_no_machinery(r);
}
