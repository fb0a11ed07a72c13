//! Panics that Rust cannot unwind, and panics in critical sections (issue 17, item 9).
//!
//! Go prints a panic before the program dies (`panic: msg`, then `goroutine N [running]`), and
//! a std thread prints `thread 'x' panicked at file:line:` for every panic, the second one of a
//! panic while panicking included, before Rust aborts. A goroutine must say as much: the
//! cases that abort run in a child process (this binary again, selected by an environment
//! variable), which must die with SIGABRT *and* have printed `goroutine N panicked at
//! file:line: msg` for each panic.
//!
//! A goroutine that panics while holding a goweave lock (an `assert!` in a critical section)
//! must never take the checker process down: every schedule ends in a report or a pass.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goweave::sync::Mutex;
use goweave::{chan, go, Checker, FailureKind, Runtime, StrategyKind};

/// Set in the child's environment to the part it must play.
const CHILD_ENV: &str = "GOWEAVE_PANIC_TEST_CHILD";

fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Runs this test binary again, only `test`, with `CHILD_ENV=mode`.
fn run_child(test: &str, mode: &str) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .output()
        .expect("spawn the child test process")
}

fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Keeps an aborting child from writing a core dump.
fn no_core_dump() {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dump flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Panics when dropped: in a teardown's unwind or a panic's, Rust must abort.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("Bomb exploded in Drop");
    }
}

/// The child aborted, after printing a goweave-shaped line for each of `panics`, in order, and
/// the line of the panic in cleanup that made Rust abort.
fn assert_aborted_after(out: &Output, goroutine: u64, panics: &[&str]) {
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "the child must abort\n{}",
        describe(out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut from = 0;
    for msg in panics {
        let line = stderr[from..]
            .lines()
            .find(|l| {
                l.starts_with(&format!("goroutine {goroutine} panicked at "))
                    && l.ends_with(&format!(": {msg}"))
            })
            .unwrap_or_else(|| {
                panic!(
                    "stderr must say `goroutine {goroutine} panicked at file:line: {msg}` (in this order)\n{}",
                    describe(out)
                )
            });
        // file:line:column of a source file of this test.
        assert!(
            line.contains("go_conformance_panics.rs:"),
            "the panic's location is this file: {line}"
        );
        from += stderr[from..].find(line).unwrap() + line.len();
    }
    assert!(
        stderr[from..].contains("panic in a destructor during cleanup"),
        "then the reason Rust aborts\n{}",
        describe(out)
    );
}

fn teardown_body() {
    let ch = chan::make::<()>(0);
    go(move || {
        let _b = Bomb;
        ch.recv();
    });
    goweave::time::sleep(Duration::from_millis(10));
}

fn nested_body() {
    let h = go(|| {
        let _b = Bomb;
        panic!("first panic");
    });
    h.join();
}

fn nested_in_recover_body() {
    let h = go(|| {
        let _ = goweave::recover(|| {
            let _b = Bomb;
            panic!("first panic");
        });
    });
    h.join();
}

fn child_part(mode: &str) {
    no_core_dump();
    let (exec, body): (&str, fn()) = match mode.split_once('/').expect("exec/body") {
        (e, "teardown") => (e, teardown_body),
        (e, "nested") => (e, nested_body),
        (e, "recover") => (e, nested_in_recover_body),
        other => panic!("unknown child mode {other:?}"),
    };
    match exec {
        "steal" => Runtime::builder()
            .workers(2)
            .build()
            .unwrap()
            .block_on(body),
        "controlled" => {
            let r = Checker::new().iterations(5).leak_check(false).run(body);
            println!("checker returned: {:?}", r.map_err(|f| f.kind()));
        }
        e => panic!("unknown executor {e}"),
    }
    unreachable!("the body must abort the process");
}

#[test]
fn panic_in_drop_during_teardown_prints_before_abort() {
    const NAME: &str = "panic_in_drop_during_teardown_prints_before_abort";
    if let Some(mode) = child_mode() {
        return child_part(&mode);
    }
    for exec in ["steal", "controlled"] {
        let out = run_child(NAME, &format!("{exec}/teardown"));
        assert_aborted_after(&out, 2, &["Bomb exploded in Drop"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("goroutine 2 was being torn down"),
            "{exec}: says the goroutine was being torn down\n{}",
            describe(&out)
        );
    }
}

#[test]
fn panic_while_panicking_prints_both_panics() {
    const NAME: &str = "panic_while_panicking_prints_both_panics";
    if let Some(mode) = child_mode() {
        return child_part(&mode);
    }
    for exec in ["steal", "controlled"] {
        let out = run_child(NAME, &format!("{exec}/nested"));
        assert_aborted_after(&out, 2, &["first panic", "Bomb exploded in Drop"]);
    }
}

#[test]
fn panic_while_panicking_under_recover_prints_both_panics() {
    const NAME: &str = "panic_while_panicking_under_recover_prints_both_panics";
    if let Some(mode) = child_mode() {
        return child_part(&mode);
    }
    for exec in ["steal", "controlled"] {
        let out = run_child(NAME, &format!("{exec}/recover"));
        assert_aborted_after(&out, 2, &["first panic", "Bomb exploded in Drop"]);
    }
}

/// The reproducer, one schedule per seed: with the leak check off, main may return
/// while the panicking goroutine is between its panic and the end of its unwind.
fn panic_holding_lock() {
    let m = Arc::new(Mutex::new(0));
    let (m2, m3) = (m.clone(), m.clone());
    go(move || {
        let _g = m2.lock();
        RAISED.store(true, Ordering::SeqCst);
        panic!("boom while holding the lock");
    });
    go(move || {
        let _g = m3.lock();
    });
}

/// Set by a body just before it panics (this process runs one checker at a time).
static RAISED: AtomicBool = AtomicBool::new(false);

/// Runs `seeds` one-schedule runs of `body`; each must end in a pass or a panic report that
/// names `msg`, and every schedule in which the body raised its panic must be a report (the
/// shrinker's replays set the flag again, so it is cleared before each seed and read right
/// after). Returns how many were reports.
fn every_schedule_reports(seeds: u64, msg: &str, body: fn()) -> u64 {
    let mut reports = 0;
    for seed in 0..seeds {
        RAISED.store(false, Ordering::SeqCst);
        let r = Checker::new()
            .strategy(StrategyKind::Random)
            .iterations(1)
            .seed(seed)
            .leak_check(false)
            .run(body);
        match r {
            Ok(_) => assert!(
                !RAISED.load(Ordering::SeqCst),
                "seed {seed}: the body panicked, and the run passed"
            ),
            Err(f) => {
                assert_eq!(f.kind(), FailureKind::Panic, "seed {seed}:\n{f}");
                let text = f.to_string();
                assert!(text.contains(msg), "seed {seed} names the panic:\n{f}");
                assert!(text.contains("GOWEAVE_REPLAY="), "seed {seed}:\n{f}");
                reports += 1;
            }
        }
    }
    reports
}

#[test]
fn panic_while_holding_a_lock_never_aborts_the_checker() {
    const NAME: &str = "panic_while_holding_a_lock_never_aborts_the_checker";
    if child_mode().as_deref() == Some("seeds") {
        no_core_dump();
        let reports =
            every_schedule_reports(1_000, "boom while holding the lock", panic_holding_lock);
        println!("REPORTS: {reports}");
        return;
    }
    // In a child, so that an abort is a clean test failure instead of the end of this binary.
    let out = run_child(NAME, "seeds");
    assert!(out.status.success(), "1,000 seeds\n{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reports: u64 = stdout
        .lines()
        .find_map(|l| {
            l.split_once("REPORTS: ")
                .map(|(_, n)| n.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("the child counts its reports\n{}", describe(&out)));
    // Main returns before the goroutine panics in some schedules; about half see the panic.
    assert!(
        reports > 300,
        "{reports} of 1,000 schedules reported the panic"
    );
}

/// Unlocks with a channel send when dropped: a destructor that blocks during an unwind.
struct SendOnDrop(goweave::chan::Chan<()>);

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        self.0.send(());
    }
}

/// A goroutine whose unwind blocks in a destructor that nobody will ever unblock, and main
/// returns: the goroutine cannot be torn down (a second unwind would abort), so it is left
/// where it is and its panic is reported.
fn blocked_unwind() {
    let ch = chan::make::<()>(0);
    let started = chan::make::<()>(1);
    let s = started.clone();
    go(move || {
        let _d = SendOnDrop(ch);
        s.send(());
        RAISED.store(true, Ordering::SeqCst);
        panic!("boom with a blocking destructor");
    });
    started.recv();
    goweave::time::sleep(Duration::from_millis(5));
}

#[test]
fn a_goroutine_blocked_in_its_unwind_is_reported_not_torn_down() {
    const NAME: &str = "a_goroutine_blocked_in_its_unwind_is_reported_not_torn_down";
    match child_mode().as_deref() {
        Some("blocked/controlled") => {
            no_core_dump();
            let reports =
                every_schedule_reports(200, "boom with a blocking destructor", blocked_unwind);
            println!("REPORTS: {reports}");
            return;
        }
        Some("blocked/steal") => {
            no_core_dump();
            let r = std::panic::catch_unwind(|| {
                Runtime::builder()
                    .workers(2)
                    .build()
                    .unwrap()
                    .block_on(blocked_unwind)
            });
            let msg = goweave_panic_text(r.expect_err("the goroutine's panic ends the run"));
            println!("RUN PANICKED: {msg}");
            return;
        }
        _ => {}
    }
    let out = run_child(NAME, "blocked/controlled");
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reports: u64 = stdout
        .lines()
        .find_map(|l| {
            l.split_once("REPORTS: ")
                .map(|(_, n)| n.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("the child counts its reports\n{}", describe(&out)));
    assert!(
        reports > 50,
        "{reports} of 200 schedules reported the panic"
    );
    let out = run_child(NAME, "blocked/steal");
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("RUN PANICKED: goroutine 2 panicked at")
            && stdout.contains("boom with a blocking destructor"),
        "{}",
        describe(&out)
    );
}

/// A destructor that blocks during an unwind and is unblocked: the unwind finishes and the
/// panic is recovered, on both executors (Go runs deferred calls, which may block, before
/// `recover` returns).
#[test]
fn an_unwind_that_blocks_and_is_woken_finishes_and_recovers() {
    fn body() {
        let ch = chan::make::<()>(0);
        let tx = ch.clone();
        let h = go(move || {
            goweave::recover(|| {
                let _d = SendOnDrop(tx);
                panic!("recovered after a blocking destructor");
            })
            .unwrap_err()
            .message()
            .to_string()
        });
        assert_eq!(ch.recv(), Some(()));
        assert_eq!(h.join(), "recovered after a blocking destructor");
        // Later lock use on this thread is unaffected (no goroutine is left mid-unwind).
        let m = Mutex::new(1);
        *m.lock() += 1;
        assert_eq!(*m.lock(), 2);
    }
    Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(body);
    if let Err(e) = Checker::new().iterations(200).seed(3).run(body) {
        panic!("{e}");
    }
}

/// The text of a panic caught around `block_on`.
fn goweave_panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}
