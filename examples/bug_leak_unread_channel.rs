//! Classic bug: a goroutine leaks, blocked forever sending on a channel nobody reads.
//!
//! `first_reply` asks three replicas the same question and returns the first answer. The
//! replies go over an unbuffered channel, so the two slower replicas block in `send` for ever:
//! nobody receives again. In Go the program keeps running and leaks two goroutines (and
//! everything they hold) per call; goleak finds them at the end of a test. goweave's checker
//! runs that check itself at the end of every schedule and reports `found unexpected goroutines`
//! with each one's wait reason and where it was created.
//!
//! The fix gives the channel room for every reply, so each replica can send and exit.
//!
//! `cargo run --release --example bug_leak_unread_channel`

#[path = "common/mod.rs"]
mod common;

use goweave::{chan, go, Checker, FailureKind};

/// The buggy version: an unbuffered reply channel.
fn first_reply_leaky(replicas: &[u64]) -> u64 {
    let replies = chan::make(0);
    for &r in replicas {
        let replies = replies.clone();
        go(move || replies.send(r * 100)); // the losers block here for ever
    }
    replies.recv().expect("a reply")
}

/// The fix: a buffer with room for every reply, so no replica waits for a reader.
fn first_reply(replicas: &[u64]) -> u64 {
    let replies = chan::make(replicas.len());
    for &r in replicas {
        let replies = replies.clone();
        go(move || replies.send(r * 100));
    }
    replies.recv().expect("a reply")
}

/// Find the leak, then show the fix passing.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_leak_unread_channel",
        "first_reply: replies on an unbuffered channel",
        Checker::new().iterations(100),
        FailureKind::Leak,
        &["found unexpected goroutines", "[chan send]"],
        || {
            let answer = first_reply_leaky(&[1, 2, 3]);
            assert!([100, 200, 300].contains(&answer));
        },
    )?;
    let fixed = common::passes(
        "first_reply: a reply channel with room for every replica",
        Checker::new().iterations(1_000),
        || {
            let answer = first_reply(&[1, 2, 3]);
            assert!([100, 200, 300].contains(&answer));
        },
    )?;
    Ok(common::Demo {
        bug,
        fixed: vec![fixed],
    })
}

#[allow(dead_code)]
fn main() {
    common::exit(run(), "the bug was found and the fix passes");
}
