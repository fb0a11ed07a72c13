//! `--replay @path`: the harness replays a token read from a file (as reports print for long
//! tokens), and its report names the file again.

mod common;

use std::time::Duration;

use goweave::harness::ConcTest;
use goweave::{chan, go, Checker, FailureKind};

/// A livelock whose token outgrows a command line quickly (see tests/replay_token_file.rs).
fn ping_pong() {
    let (a, b) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (a2, b2) = (a.clone(), b.clone());
    go(move || loop {
        let v = a2.recv().unwrap();
        b2.send(v + 1);
    });
    let mut v = 0;
    loop {
        a.send(v);
        v = b.recv().unwrap();
    }
}

fn test() -> &'static ConcTest {
    Box::leak(Box::new(ConcTest {
        name: "ping_pong",
        module_path: "replay_file",
        file: file!(),
        line: line!(),
        site: std::panic::Location::caller(),
        ignored: false,
        options: &[],
        body: ping_pong,
    }))
}

/// The harness run itself, in a child process: `GOWEAVE_TEST_HARNESS_ARGS` holds its flags.
#[test]
fn harness_child() {
    common::run_child("replay_file", &[test()]);
}

#[test]
fn replay_reads_the_token_from_a_file() {
    let f = Checker::new()
        .max_steps(20_000)
        .shrink_budget(Duration::ZERO)
        .run(ping_pong)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Livelock);
    let path = std::env::temp_dir().join(format!("goweave-harness-{}.token", std::process::id()));
    std::fs::write(&path, f.token().unwrap()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["harness_child", "--exact", "--nocapture"])
        .env(
            "GOWEAVE_TEST_HARNESS_ARGS",
            format!("--replay @{} ping_pong --exact", path.display()),
        )
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(101), "{stdout}");
    assert!(stdout.contains("found by replay at schedule 1"), "{stdout}");
    assert!(stdout.contains("livelock"), "{stdout}");
    // The token is long: the report names a file holding it, not the token.
    assert!(stdout.contains("GOWEAVE_REPLAY=@"), "{stdout}");
    assert!(!stdout.contains(f.token().unwrap()), "{stdout}");
    // A file that is not there is an error that names it.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["harness_child", "--exact", "--nocapture"])
        .env(
            "GOWEAVE_TEST_HARNESS_ARGS",
            "--replay @/nonexistent/goweave.token ping_pong --exact",
        )
        .output()
        .unwrap();
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("/nonexistent/goweave.token"), "{all}");
}
