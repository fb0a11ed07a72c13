//! Long replay tokens: a report writes them to a file under the target directory and prints a
//! replay line that names the file (`GOWEAVE_REPLAY=@path`), which `Schedule::from_arg`,
//! `GOWEAVE_REPLAY` and `Schedule`'s `FromStr` accept.

use std::time::Duration;

use goweave::{chan, go, Checker, FailureKind, Schedule};

/// Two goroutines hand a counter back and forth forever: a livelock whose schedule alternates
/// at every step, so its token grows by about a character a step.
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

/// The argument after `GOWEAVE_REPLAY=` in a replay line.
fn replay_arg(line: &str) -> &str {
    line.rsplit("GOWEAVE_REPLAY=")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
}

fn long_livelock() -> goweave::Failure {
    Checker::new()
        .max_steps(20_000)
        .shrink_budget(Duration::ZERO)
        .test_name("long_token")
        .run(ping_pong)
        .unwrap_err()
}

#[test]
fn a_long_token_is_written_to_a_file_that_replays() {
    let f = long_livelock();
    assert_eq!(f.kind(), FailureKind::Livelock);
    let token = f.token().unwrap().to_string();
    assert!(
        token.len() > goweave::schedule::LONG_TOKEN,
        "{}",
        token.len()
    );
    let line = f.replay_line();
    assert!(
        line.ends_with(" cargo test -- long_token --exact"),
        "{line}"
    );
    let arg = replay_arg(&line);
    let path = arg.strip_prefix('@').expect("the line names a file");
    assert!(path.contains("goweave/replay-"), "{path}");
    // Inside this crate's target directory, next to the test binary.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().find(|d| d.join("CACHEDIR.TAG").is_file());
    assert!(
        target.is_some_and(|t| std::path::Path::new(path).starts_with(t)),
        "{path}"
    );
    assert_eq!(std::fs::read_to_string(path).unwrap(), token);
    // The whole report ends with that line and stays short.
    let report = f.to_string();
    assert!(report.ends_with(&line));
    assert!(!report.contains(&token));

    // Every way in reads the file.
    assert_eq!(Schedule::from_arg(arg).unwrap(), *f.schedule());
    let parsed: Schedule = arg.parse().unwrap();
    let again = goweave::replay(&parsed, ping_pong).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Livelock);
    assert_eq!(again.token(), Some(token.as_str()));
    // GOWEAVE_REPLAY=@path (no other test in this binary reads the environment).
    std::env::set_var("GOWEAVE_REPLAY", arg);
    let checker = Checker::new().with_env();
    std::env::remove_var("GOWEAVE_REPLAY");
    let again = checker.unwrap().run(ping_pong).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Livelock);
    assert_eq!(again.token(), Some(token.as_str()));
    assert!(
        again.to_string().contains("found by replay at schedule 1"),
        "{again}"
    );
}

#[test]
fn a_short_token_stays_on_the_line() {
    let f = Checker::new()
        .max_steps(200)
        .shrink_budget(Duration::ZERO)
        .run(ping_pong)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Livelock);
    let token = f.token().unwrap();
    assert!(token.len() <= goweave::schedule::LONG_TOKEN);
    assert_eq!(replay_arg(&f.replay_line()), token);
}

#[test]
fn a_missing_or_damaged_file_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("goweave-replay-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("nope.token");
    let e = "@".to_string() + &missing.display().to_string();
    let err = e.parse::<Schedule>().unwrap_err().to_string();
    assert!(
        err.contains("nope.token") && err.contains("cannot read"),
        "{err}"
    );
    let damaged = dir.join("damaged.token");
    let f = long_livelock();
    let token = f.token().unwrap();
    std::fs::write(&damaged, &token[..token.len() / 2]).unwrap();
    let err = Schedule::from_arg(&format!("@{}", damaged.display()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("damaged.token") && err.contains("truncated"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
