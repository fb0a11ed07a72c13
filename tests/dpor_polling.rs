//! Polling under the partial-order reduction: programs shrunk by hand from the mismatches of
//! `tests/dpor_differential.rs` (the generator seed and program number beside each), on which
//! `Dfs` (DPOR) once missed an outcome or a deadlock that the plain search (`dfs:plain`)
//! reaches. Each test states the outcomes the plain search reaches and checks that DPOR
//! reaches the same ones (or finds the same failure).
//!
//! What they exercise (see "Yields" in `explore::dpor`'s module docs): a goroutine that
//! polls (a `try_recv` that fails, a `select!` that takes `default`, a `gosched`) is not run
//! again at the next decision while another goroutine can run; a parked partner is visible to
//! a poller and to a `select!` that could take another case.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::chan;
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::RwLock;
use goweave::{go, Checker, FailureKind, StrategyKind};

type Outcomes = Arc<StdMutex<BTreeSet<String>>>;

/// Explore `body` with `s` to the end; the outcomes it recorded, or the kind of failure.
fn explore(s: StrategyKind, body: fn(&Outcomes)) -> Result<(BTreeSet<String>, u64), FailureKind> {
    let out: Outcomes = Arc::default();
    let o = out.clone();
    let stats = Checker::new()
        .strategy(s)
        .iterations(200_000)
        .shrink_budget(Duration::ZERO)
        .run(move || body(&o))
        .map_err(|f| f.kind())?;
    assert!(stats.exhausted, "the search did not finish: {stats}");
    let seen = out.lock().unwrap().clone();
    Ok((seen, stats.schedules))
}

fn dpor() -> StrategyKind {
    StrategyKind::Dfs {
        max_preemptions: None,
    }
}

/// Both searches reach `expected` (DPOR in no more schedules than the plain search).
fn both_reach(body: fn(&Outcomes), expected: &[&str]) {
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    let (plain, np) = explore(StrategyKind::DfsPlain, body).expect("no failure (plain)");
    assert_eq!(plain, expected, "the plain search's outcomes");
    let (reduced, nd) = explore(dpor(), body).expect("no failure (dpor)");
    assert_eq!(reduced, expected, "DPOR's outcomes");
    assert!(nd <= np, "dpor ran {nd} schedules, plain {np}");
}

/// Seed 3, program 9: main stores 2; the other goroutine polls an empty channel once (it is
/// then not run at the next decision) and adds 1 under a write lock. The add may come before
/// the store (final 2) only if the poll happened before main's `go` returned: main's return
/// from `go` is the transition that lets the poller run again.
fn poll_then_add(out: &Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let rw = Arc::new(RwLock::new(()));
    let c = chan::make::<u64>(0);
    let h = {
        let (x, rw, c) = (x.clone(), rw.clone(), c.clone());
        go(move || {
            assert!(c.try_recv().is_err());
            let _w = rw.write();
            x.fetch_add(1, SeqCst);
        })
    };
    x.store(2, SeqCst);
    h.join();
    out.lock().unwrap().insert(format!("{}", x.load(SeqCst)));
}

#[test]
fn work_after_a_failed_poll_may_come_before_an_independent_goroutines_next_step() {
    both_reach(poll_then_add, &["2", "3"]);
}

/// Seed 4, program 422: the same with a `select!` that takes `default`, then a read lock
/// and a load, against main's write-locked add.
fn select_default_then_read(out: &Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let rw = Arc::new(RwLock::new(()));
    let (a, b) = (chan::make::<u64>(1), chan::make::<u64>(1));
    let h = {
        let (x, rw) = (x.clone(), rw.clone());
        go(move || {
            let polled = goweave::select! {
                recv(a) -> _v => false,
                recv(b) -> _v => false,
                default => true,
            };
            assert!(polled);
            let _r = rw.read();
            x.load(SeqCst)
        })
    };
    {
        let _w = rw.write();
        x.fetch_add(1, SeqCst);
    }
    let seen = h.join();
    out.lock().unwrap().insert(format!("{seen}"));
}

#[test]
fn work_after_a_select_default_may_come_before_the_others_next_step() {
    both_reach(select_default_then_read, &["0", "1"]);
}

/// Seed 19, program 110: a sender parks on an unbuffered channel; a poller may take its value
/// before the `select!` that also waits for it, which then waits for ever (a deadlock: main
/// joins it). Only with the sender parked first: the hand-off "receiver parked, then the
/// send" is not the same trace as "sender parked, then the receive" when a third goroutine
/// polls the channel.
fn poller_steals_from_a_parked_sender() {
    let a = chan::make::<u64>(0);
    let b = chan::make::<u64>(1);
    let s = {
        let a = a.clone();
        go(move || a.send(1))
    };
    let p = {
        let a = a.clone();
        go(move || {
            let _ = a.try_recv();
        })
    };
    let w = go(move || {
        goweave::select! {
            recv(a) -> _v => {},
            recv(b) -> _v => {},
        }
    });
    s.join();
    p.join();
    w.join();
}

#[test]
fn a_poller_can_take_the_value_of_a_parked_sender_from_a_waiting_select() {
    let run = |s: StrategyKind| {
        Checker::new()
            .strategy(s)
            .shrink_budget(Duration::ZERO)
            .run(poller_steals_from_a_parked_sender)
            .map(|_| ())
            .map_err(|f| f.kind())
    };
    assert_eq!(run(StrategyKind::DfsPlain), Err(FailureKind::Deadlock));
    assert_eq!(run(dpor()), Err(FailureKind::Deadlock));
}

/// Seed 18, program 261: two `select!`s, each sending on one channel and receiving from the
/// other (`a` unbuffered, `b` with room for one). If main's parks first (neither of its cases
/// is ready), the other finds both of its cases ready and may take main's send: a
/// `select!` sees a parked partner, as a poller does.
fn crossed_selects(out: &Outcomes) {
    let a = chan::make::<u64>(0);
    let b = chan::make::<u64>(1);
    let h = {
        let (a, b) = (a.clone(), b.clone());
        go(move || {
            goweave::select! {
                send(b, 4) => 40,
                recv(a) -> v => 50 + v.unwrap_or(9),
            }
        })
    };
    let mine = goweave::select! {
        send(a, 4) => 40,
        recv(b) -> v => 50 + v.unwrap_or(9),
    };
    let theirs = h.join();
    out.lock().unwrap().insert(format!("{mine} {theirs}"));
}

#[test]
fn a_select_can_take_a_case_made_ready_by_a_parked_select() {
    both_reach(crossed_selects, &["40 54", "54 40"]);
}

/// Peterson's lock with a yielding wait loop: the search must end (a yield is not progress,
/// so the spinner is not run again before the other goroutine moves) and keep mutual
/// exclusion.
fn peterson(out: &Outcomes) {
    let flag = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let turn = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2usize)
        .map(|me| {
            let (flag, turn, inside) = (flag.clone(), turn.clone(), inside.clone());
            go(move || {
                let other = 1 - me;
                flag[me].store(1, SeqCst);
                turn.store(other as u64, SeqCst);
                while flag[other].load(SeqCst) == 1 && turn.load(SeqCst) == other as u64 {
                    goweave::runtime::gosched();
                }
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "mutual exclusion");
                inside.fetch_sub(1, SeqCst);
                flag[me].store(0, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    out.lock().unwrap().insert("done".into());
}

#[test]
fn petersons_spin_loop_is_a_finite_search() {
    let (seen, n) = explore(dpor(), peterson).expect("mutual exclusion holds");
    assert_eq!(seen.len(), 1);
    assert!(n > 1, "{n}");
}

/// Seed 13, program 30 (shrunk): a receiver parks on `a`; a `select!` could then send it a
/// value on `a`, but in the first schedule a plain sender does, the receiver then fills `b`,
/// and the `select!` takes `b` last. Its race with that sender is hidden behind the chain
/// (hand-off, wake, send on `b`): the `select!` is offered where it could have run instead.
/// Taking `a` there leaves the plain sender without a receiver: a deadlock.
fn select_readied_by_a_parked_receiver() {
    let a = chan::make::<u64>(0);
    let b = chan::make::<u64>(1);
    let sender = {
        let a = a.clone();
        go(move || a.send(1))
    };
    let selector = {
        let (a, b) = (a.clone(), b.clone());
        go(move || {
            goweave::select! {
                send(a, 4) => {},
                recv(b) -> _v => {},
            }
        })
    };
    let receiver = go(move || {
        a.recv();
        b.send(2);
    });
    sender.join();
    selector.join();
    receiver.join();
}

#[test]
fn a_select_that_another_goroutine_readied_is_run_where_it_could_have() {
    let run = |s: StrategyKind| {
        Checker::new()
            .strategy(s)
            .shrink_budget(Duration::ZERO)
            .run(select_readied_by_a_parked_receiver)
            .map(|_| ())
            .map_err(|f| f.kind())
    };
    assert_eq!(run(StrategyKind::DfsPlain), Err(FailureKind::Deadlock));
    assert_eq!(run(dpor()), Err(FailureKind::Deadlock));
}

/// Seed 351, program 31 (shrunk): the poller `try_recv`s `b` (empty) and then sends on `a`
/// (room for one); the other goroutine `select!`s between sending on `a` and receiving from
/// `b`, then receives from `a`. If main's load lets the poller on first, its send fills `a`
/// before the `select!`, which then has no ready case, for ever: a deadlock. With the
/// `select!` as the transition that lets the poller on, the send comes after it, so only
/// the choice of *who* lets the poller on reaches the deadlock; the relation sees the
/// transitions that clear the yield flag as commuting (see "Yields" in `explore::dpor`).
fn poller_overtakes_the_select_that_did_not_let_it_on() {
    let a = chan::make::<u64>(1);
    let b = chan::make::<u64>(1);
    let x = Arc::new(AtomicU64::new(0));
    let selector = {
        let (a, b) = (a.clone(), b.clone());
        go(move || {
            goweave::select! {
                send(a, 4) => {},
                recv(b) -> _v => {},
            }
            let _ = a.recv();
        })
    };
    let poller = go(move || {
        assert!(b.try_recv().is_err());
        a.send(0);
    });
    x.load(SeqCst);
    poller.join();
    selector.join();
}

#[test]
fn another_goroutine_may_let_a_poller_on_before_a_select_it_then_overtakes() {
    let run = |s: StrategyKind| {
        Checker::new()
            .strategy(s)
            .shrink_budget(Duration::ZERO)
            .run(poller_overtakes_the_select_that_did_not_let_it_on)
            .map(|_| ())
            .map_err(|f| f.kind())
    };
    assert_eq!(run(StrategyKind::DfsPlain), Err(FailureKind::Deadlock));
    assert_eq!(run(dpor()), Err(FailureKind::Deadlock));
}

/// Seed 373, program 213: a sender on an unbuffered channel, then an unsynchronised write of
/// a cell; a `select!` with `default` that may receive from it, then the same write. If the
/// sender parks first, the `select!` takes its value and the two writes race (the hand-off
/// orders neither after the other); if the `select!` polls first, it takes `default` and, in
/// the generated program, the sender waits for ever (main joins it: a deadlock). Each search
/// stops at its first failure: the plain search reported the race, DPOR the deadlock (its
/// first schedule polls first). Here main receives the value when the `select!` took
/// `default`, so the race is the only failure, and DPOR must reach it: the sender parked
/// before the poll is a schedule it explores (a `select!` observes a parked partner).
fn select_default_or_a_parked_sender_then_racy_writes() {
    let a = chan::make::<u64>(0);
    let b = chan::make::<u64>(1);
    let cell = Arc::new(RaceCell::new(0u64));
    let sender = {
        let (a, cell) = (a.clone(), cell.clone());
        go(move || {
            a.send(2);
            cell.with_mut(|v| *v += 1);
        })
    };
    let selector = {
        let a = a.clone();
        go(move || {
            let polled = goweave::select! {
                recv(a) -> _v => false,
                recv(b) -> _v => false,
                default => true,
            };
            cell.with_mut(|v| *v += 1);
            polled
        })
    };
    if selector.join() {
        let _ = a.recv();
    }
    sender.join();
}

#[test]
fn the_race_after_a_select_takes_a_parked_senders_value_is_reached() {
    let run = |s: StrategyKind| {
        Checker::new()
            .strategy(s)
            .shrink_budget(Duration::ZERO)
            .run(select_default_or_a_parked_sender_then_racy_writes)
            .map(|_| ())
            .map_err(|f| f.kind())
    };
    assert_eq!(run(StrategyKind::DfsPlain), Err(FailureKind::Race));
    assert_eq!(run(dpor()), Err(FailureKind::Race));
}

/// Peterson's gap (`tests/dpor_spin_outcomes.rs`), shrunk: a goroutine spins on an atomic with
/// `gosched` until another stores 1 to it, and counts its spins. After a spin, whichever other
/// goroutine runs first lets it spin again: the storer, or main (going on to its next `go`, or
/// to its `join` of the spinner, which parks). With main first, the spinner re-reads the flag
/// before the store and spins once more. The re-read is not the spinner's step right after the
/// yield (that one only returns from `gosched`), so the reduction has to look past that step
/// to see that the poll main lets on races with the store. Before it did, DPOR reached 0 to 3
/// spins.
fn spin_until_stored(out: &Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let spinner = {
        let x = x.clone();
        go(move || {
            let mut spins = 0;
            while x.load(SeqCst) == 0 {
                spins += 1;
                goweave::runtime::gosched();
            }
            spins
        })
    };
    let storer = {
        let x = x.clone();
        go(move || x.store(1, SeqCst))
    };
    let spins = spinner.join();
    storer.join();
    out.lock().unwrap().insert(format!("{spins}"));
}

#[test]
fn the_step_after_a_gosched_may_be_let_on_by_another_goroutine_than_the_writer() {
    both_reach(spin_until_stored, &["0", "1", "2", "3", "4", "5"]);
}

/// Two spinners that let each other go: the first spins until the second stores `x`, then
/// stores `y`, which the second spins on. Each counts its spins. The plain search (111,728
/// schedules, release build; too slow for the suite) reaches the 33 pairs below; DPOR
/// reached 29 of them (not `5 0` to `5 3`) while it judged which goroutine may let a
/// spinner on by the spinner's step right after its `gosched`.
fn two_spinners(out: &Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let y = Arc::new(AtomicU64::new(0));
    let first = {
        let (x, y) = (x.clone(), y.clone());
        go(move || {
            let mut spins = 0;
            while x.load(SeqCst) == 0 {
                spins += 1;
                goweave::runtime::gosched();
            }
            y.store(1, SeqCst);
            spins
        })
    };
    let second = {
        let (x, y) = (x.clone(), y.clone());
        go(move || {
            x.store(1, SeqCst);
            let mut spins = 0;
            while y.load(SeqCst) == 0 {
                spins += 1;
                goweave::runtime::gosched();
            }
            spins
        })
    };
    let (a, b) = (first.join(), second.join());
    out.lock().unwrap().insert(format!("{a} {b}"));
}

#[test]
fn two_spinners_reach_every_pair_of_spin_counts() {
    let expected: BTreeSet<String> = [
        "0 0", "0 1", "0 2", "0 3", "0 4", "0 5", "1 0", "1 1", "1 2", "1 3", "1 4", "1 5", "2 0",
        "2 1", "2 2", "2 3", "2 4", "2 5", "3 0", "3 1", "3 2", "3 3", "3 4", "3 5", "4 0", "4 1",
        "4 2", "4 3", "4 4", "5 0", "5 1", "5 2", "5 3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (reduced, _) = explore(dpor(), two_spinners).expect("no failure");
    assert_eq!(reduced, expected);
}
