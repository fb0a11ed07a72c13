//! Go conformance of `select!`, issue 17 items 1 and 11, on both executors.
//!
//! The Go spec: "If one or more of the communications can proceed, a single one that can
//! proceed is chosen via a uniform pseudo-random selection." Nothing in the spec lets the
//! position of a case matter, and that includes several cases on one channel: Go's runtime
//! queues the cases of a blocked select in an order sorted from a random permutation, so when a
//! peer later arrives, which of two cases on the same channel it completes is a coin flip too.
//!
//! Item 11: a `select!` of 64 cases (the most the macro accepts) compiles with the default
//! `recursion_limit`.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;

use goweave::chan;
use goweave::runtime::gosched;
use goweave::time::{self, Duration};
use goweave::{go, select, Checker, Runtime, TimerMode};

const N: u32 = 10_000;

/// `n` selects over `send(c, 0)` and `send(c, 1)` on one channel whose receiver is already
/// waiting (buffer: `cap`), so both cases are ready in the first pass. Returns how often each
/// value was sent.
fn tally_ready(n: u32, cap: usize) -> [u32; 2] {
    let c = chan::make::<usize>(cap);
    let mut t = [0u32; 2];
    for _ in 0..n {
        select! {
            send(c, 0) => {}
            send(c, 1) => {}
        }
        t[c.recv().unwrap()] += 1;
    }
    t
}

/// `n` selects over `send(c, 0)` and `send(c, 1)` on an unbuffered channel whose receiver
/// comes only after the select has blocked (`wait_receiver` puts it behind the select), so the
/// choice is made by which queued case the receiver takes.
fn tally_blocked(n: u32, wait_receiver: fn()) -> [u32; 2] {
    let c = chan::make::<usize>(0);
    let r = c.clone();
    let h = go(move || {
        let mut t = [0u32; 2];
        for _ in 0..n {
            wait_receiver();
            t[r.recv().unwrap()] += 1;
        }
        t
    });
    for _ in 0..n {
        select! {
            send(c, 0) => {}
            send(c, 1) => {}
        }
    }
    h.join()
}

fn assert_fair(t: [u32; 2], what: &str) {
    let total = t[0] + t[1];
    let share = t[0] as f64 / total as f64;
    assert!(
        (0.47..=0.53).contains(&share),
        "{what}: the first case won {} of {total} selects ({:.1}%), the second {}; Go chooses each about half the time",
        t[0],
        share * 100.0,
        t[1]
    );
}

/// One worker: a goroutine runs until it blocks or yields, so the receiver's `gosched` lets
/// main reach (and block in) its next select before the receive.
fn one_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    Runtime::builder().workers(1).build().unwrap().block_on(f)
}

#[test]
fn runtime_two_ready_cases_on_one_channel_split_evenly() {
    let t = one_worker(|| tally_ready(N, 1));
    assert_fair(t, "buffered channel with room (both cases ready)");
}

#[test]
fn runtime_two_blocked_cases_on_one_channel_split_evenly() {
    // The reproducer, without its sleeps: before the fix the first case won 10,000
    // times out of 10,000.
    let t = one_worker(|| tally_blocked(N, gosched));
    assert_fair(t, "blocked select, receiver arrives later");
    // The same on two workers, where the receiver's arrival races with the select: whichever
    // pass completes the select, the split is even.
    let t = Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(|| tally_blocked(N, gosched));
    assert_fair(t, "blocked select on 2 workers");
}

/// The outcomes (which value the receiver got) over many schedules of `body`.
fn outcomes(timers: TimerMode, body: fn() -> usize) -> BTreeSet<usize> {
    static SEEN: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());
    SEEN.lock().unwrap().clear();
    let r = Checker::new()
        .iterations(64)
        .seed(17)
        .timers(timers)
        .run(move || {
            let v = body();
            SEEN.lock().unwrap().insert(v);
        });
    if let Err(e) = r {
        panic!("checker failed:\n{e}");
    }
    let seen = SEEN.lock().unwrap().clone();
    seen
}

#[test]
fn checker_explores_both_cases_on_one_channel() {
    // Blocked: the receiver sleeps, and virtual time only passes once every goroutine is
    // blocked, so the select has queued both cases when the receiver takes one.
    let blocked = outcomes(TimerMode::WhenBlocked, || {
        let c = chan::make::<usize>(0);
        let r = c.clone();
        let h = go(move || {
            time::sleep(Duration::from_millis(1));
            r.recv().unwrap()
        });
        select! {
            send(c, 0) => {}
            send(c, 1) => {}
        }
        h.join()
    });
    assert_eq!(
        blocked,
        BTreeSet::from([0, 1]),
        "the checker must explore both queued cases"
    );
    // Ready: a buffered channel with room, both cases ready at once.
    let ready = outcomes(TimerMode::AnyTime, || tally_ready(1, 1)[1] as usize);
    assert_eq!(ready, BTreeSet::from([0, 1]));
}

#[test]
fn checker_replays_the_tie_break() {
    // The tie-break is a recorded choice: replaying a failing schedule's token takes the same
    // case again. The body fails only when the second case is taken.
    let body = || {
        let c = chan::make::<usize>(0);
        let r = c.clone();
        let h = go(move || {
            time::sleep(Duration::from_millis(1));
            r.recv().unwrap()
        });
        select! {
            send(c, 0) => {}
            send(c, 1) => {}
        }
        assert_eq!(h.join(), 0, "the second case was taken");
    };
    let f = Checker::new()
        .iterations(64)
        .seed(3)
        .timers(TimerMode::WhenBlocked)
        .run(body)
        .expect_err("some schedule takes the second case");
    assert!(f.to_string().contains("the second case was taken"), "{f}");
    for _ in 0..3 {
        let again = goweave::replay(f.schedule(), body).expect_err("the replay fails the same way");
        assert!(again.to_string().contains("the second case was taken"));
    }
}
