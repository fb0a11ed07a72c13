//! Which receiver takes a value, under the partial-order reduction: two goroutines wait to
//! receive from one buffered channel; whichever the scheduler runs first after a send takes
//! the value. The second receive comes after the first through the send between them (one
//! of the receivers sends again after its receive), as a lock acquisition comes after the
//! previous one through the unlock: `Dfs` (DPOR) must still explore the other receiver
//! going first, as the plain search (`dfs:plain`) does.

use std::time::Duration;

use goweave::chan;
use goweave::{go, Checker, FailureKind, StrategyKind};

fn run(s: StrategyKind, body: fn()) -> Result<u64, FailureKind> {
    Checker::new()
        .strategy(s)
        .shrink_budget(Duration::ZERO)
        .run(body)
        .map(|stats| stats.schedules)
        .map_err(|f| f.kind())
}

fn dpor() -> StrategyKind {
    StrategyKind::Dfs {
        max_preemptions: None,
    }
}

/// One receiver passes the value on (receives, then sends on the same channel); the other
/// only receives. If the other takes the first value, the passer waits for ever: a deadlock
/// (main joins it).
fn passer_and_taker(first: fn(&chan::Chan<u64>)) {
    let b = chan::make::<u64>(1);
    let passer = {
        let b = b.clone();
        go(move || {
            let _ = b.recv();
            b.send(0);
        })
    };
    let taker = {
        let b = b.clone();
        go(move || {
            let _ = b.recv();
        })
    };
    let sender = go(move || first(&b));
    passer.join();
    taker.join();
    sender.join();
}

#[test]
fn the_other_receiver_may_take_a_sent_value() {
    let body = || passer_and_taker(|b| b.send(4));
    assert_eq!(
        run(StrategyKind::DfsPlain, body),
        Err(FailureKind::Deadlock)
    );
    assert_eq!(run(dpor(), body), Err(FailureKind::Deadlock));
}

/// `DPOR_DIFF_SEED=488`, program 141 (shrunk): the first value comes from a `select!` that
/// sends it or receives from another channel.
#[test]
fn the_other_receiver_may_take_a_value_a_select_sent() {
    let body = || {
        passer_and_taker(|b| {
            let a = chan::make::<u64>(1);
            goweave::select! {
                send(b, 4) => {},
                recv(a) -> _v => {},
            }
        })
    };
    assert_eq!(
        run(StrategyKind::DfsPlain, body),
        Err(FailureKind::Deadlock)
    );
    assert_eq!(run(dpor(), body), Err(FailureKind::Deadlock));
}

/// Two receivers that only receive, from a buffer holding two values: who gets which is the
/// only difference (no failure); the two orders of the receives are its two traces, and the
/// rule adds no schedule beyond them.
#[test]
fn two_takers_of_two_values_give_two_schedules() {
    let body = || {
        let b = chan::make::<u64>(2);
        b.send(1);
        b.send(2);
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                go(move || {
                    let _ = b.recv();
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
    };
    assert_eq!(run(dpor(), body), Ok(2));
}

/// Two goroutines send on an unbuffered channel and main receives twice: which sender's
/// value main takes first is a choice of the schedule (the plain search finds both; the
/// reduction explored one, as the receive between the two sends ordered them).
#[test]
fn which_of_two_unbuffered_senders_goes_first_is_explored() {
    let body = || {
        let c = goweave::chan::make::<u64>(0);
        let back = goweave::chan::make::<u64>(0);
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let (c, back) = (c.clone(), back.clone());
                goweave::go(move || {
                    c.send(i);
                    back.recv();
                })
            })
            .collect();
        let first = c.recv().unwrap();
        back.send(0);
        c.recv();
        back.send(0);
        for h in hs {
            h.join();
        }
        assert_eq!(first, 1, "the first sender went first");
    };
    let f = goweave::Checker::new()
        .strategy(goweave::StrategyKind::Dfs {
            max_preemptions: None,
        })
        .iterations(u64::MAX)
        .run(body)
        .expect_err("the other sender can go first");
    assert_eq!(f.kind(), goweave::FailureKind::Panic, "{f}");
}
