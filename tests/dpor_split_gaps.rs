//! Outcomes that the single optimal-DPOR search reaches and the parts of a static split
//! (`Dpor::split`, `--shard i/n`, `--jobs N`) together did not, found by the split's
//! differential test (`tests/dpor_differential.rs`, the second test, over generator seeds
//! 0..121) and shrunk here. Each program has a goroutine that must park on a hand-off
//! (an unbuffered receive, a `select!` offering a send) before another goroutine's
//! non-blocking operation sees it (`try_send`, a `select!` with `default`), in a run where an
//! atomic access has to come after a conflicting one. The single search gets there by a
//! wakeup sequence inserted at a decision the split closes (above its frontier); below
//! the closed decision, the reversal that parks the goroutine first was taken as covered by
//! a goroutine the closed decision had explored first, and the run was lost in every part.
//! Each test failed before the fix, for 2, 3 and 4 parts alike.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use goweave::chan::{self, Chan};
use goweave::explore::Dpor;
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{go, Checker, StrategyKind};

type Outcomes = Arc<StdMutex<BTreeSet<String>>>;
type Program = fn(Outcomes);

/// Explore `p` to the end past its failures (some schedules deadlock) with the single search
/// or, with `Some((i, n))`, with part `i` of an `n`-way split, adding the outcomes of the
/// schedules that finish to `out`.
fn explore(p: Program, part: Option<(u64, u64)>, out: &Outcomes) {
    let o = out.clone();
    let checker = Checker::new()
        .iterations(u64::MAX)
        .shrink_budget(Duration::ZERO);
    let checker = match part {
        None => checker.strategy(StrategyKind::Dfs {
            max_preemptions: None,
        }),
        Some((i, n)) => checker.custom_strategy(Dpor::split(i, n)),
    };
    let all = checker.run_to_end(move || p(o.clone()));
    assert!(all.stats.exhausted, "{}", all.stats);
}

/// The single search reaches `wanted`, and the parts of 2, 3 and 4 reach together exactly
/// what it reaches.
fn check(name: &str, p: Program, wanted: &str) {
    let single = Outcomes::default();
    explore(p, None, &single);
    let single = single.lock().unwrap().clone();
    assert!(
        single.contains(wanted),
        "{name}: the single search no longer reaches {wanted}: {single:?}"
    );
    for n in 2..=4 {
        let union = Outcomes::default();
        for i in 0..n {
            explore(p, Some((i, n)), &union);
        }
        let union = union.lock().unwrap().clone();
        assert_eq!(
            union,
            single,
            "{name}, {n} parts: missed {:?}, extra {:?}",
            single.difference(&union).collect::<Vec<_>>(),
            union.difference(&single).collect::<Vec<_>>()
        );
    }
}

/// `DPOR_DIFF_SEED=34`, program 78. One goroutine loads `x`; another receives from an
/// unbuffered channel and then increments `x`; a third `try_send`s on the channel. The run
/// where the load sees the increment needs the receiver started and parked before the
/// `try_send` (which then succeeds), then its increment, then the load. The outcome is
/// (load, received, sent); a schedule whose `try_send` fails deadlocks (the receiver waits
/// for ever).
fn load_after_a_receiver_another_goroutine_fed(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let c: Chan<u64> = chan::make(0);
    let x1 = x.clone();
    let loader = go(move || x1.load(SeqCst));
    let (x2, c2) = (x.clone(), c.clone());
    let receiver = go(move || {
        let v = c2.recv().unwrap_or(99);
        x2.fetch_add(1, SeqCst);
        v
    });
    let c3 = c.clone();
    let sender = go(move || c3.try_send(7).is_ok());
    let loaded = loader.join();
    let sent = sender.join();
    let got = receiver.join();
    out.lock().unwrap().insert(format!("{loaded} {got} {sent}"));
}

#[test]
fn the_parts_reach_a_load_after_a_receiver_fed_by_try_send() {
    check(
        "load_after_a_receiver_another_goroutine_fed",
        load_after_a_receiver_another_goroutine_fed,
        "1 7 true",
    );
}

/// `DPOR_DIFF_SEED=18`, program 257. A receiver increments `x` and then receives from an
/// unbuffered channel; another goroutine adds 10 to `x`; a third `try_send`s on the channel
/// and then loads `x`; main stores 1 to `x`. The run where the `try_send` succeeds and the
/// load sees 2 is main's store, the receiver's increment and park, the `try_send`, the load,
/// and only then the other goroutine's 10. The outcome is (received, (sent, loaded), final
/// `x`).
fn load_after_try_send_to_a_parked_receiver(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let c: Chan<u64> = chan::make(0);
    let (x1, c1) = (x.clone(), c.clone());
    let receiver = go(move || {
        x1.fetch_add(1, SeqCst);
        c1.recv().unwrap_or(99)
    });
    let x2 = x.clone();
    let adder = go(move || {
        x2.fetch_add(10, SeqCst);
    });
    let (x3, c3) = (x.clone(), c.clone());
    let sender = go(move || {
        let sent = c3.try_send(7).is_ok();
        (sent, x3.load(SeqCst))
    });
    x.store(1, SeqCst);
    let got = receiver.join();
    adder.join();
    let seen = sender.join();
    out.lock()
        .unwrap()
        .insert(format!("{got} {seen:?} {}", x.load(SeqCst)));
}

#[test]
fn the_parts_reach_a_load_after_a_try_send_to_a_parked_receiver() {
    check(
        "load_after_try_send_to_a_parked_receiver",
        load_after_try_send_to_a_parked_receiver,
        "7 (true, 2) 12",
    );
}

/// `DPOR_DIFF_SEED=103`, program 13. One goroutine `try_lock`s a mutex; another offers a
/// send on an unbuffered channel (or a receive from a buffered one, which stays empty) in a
/// `select!`, then increments `x` under the mutex; a third loads `x`, then polls both
/// channels in a `select!` with `default`; main increments `x`. The run where the poll takes
/// the offered value after loading 1 (main's increment only), and the `try_lock` then fails
/// because the sender holds the mutex, needs the sender parked in its `select!` before the
/// poll. The outcome is (`try_lock` result, sender's case, (loaded, poller's case)).
fn select_send_parked_for_a_poll(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let c0: Chan<u64> = chan::make(0);
    let c1: Chan<u64> = chan::make(1);
    let m = Arc::new(Mutex::new(()));
    let m1 = m.clone();
    let locker = go(move || m1.try_lock().is_some());
    let (x2, m2, d0, d1) = (x.clone(), m.clone(), c0.clone(), c1.clone());
    let sender = go(move || {
        let case = goweave::select! {
            send(d0, 4) => 40,
            recv(d1) -> v => 50 + v.unwrap_or(9),
        };
        let _g = m2.lock();
        x2.fetch_add(1, SeqCst);
        case
    });
    let (x3, e0, e1) = (x.clone(), c0.clone(), c1.clone());
    let poller = go(move || {
        let loaded = x3.load(SeqCst);
        let case = goweave::select! {
            recv(e0) -> v => 10 + v.unwrap_or(9),
            recv(e1) -> v => 20 + v.unwrap_or(9),
            default => 30,
        };
        (loaded, case)
    });
    x.fetch_add(1, SeqCst);
    let locked = locker.join();
    let sent = sender.join();
    let polled = poller.join();
    out.lock()
        .unwrap()
        .insert(format!("{locked} {sent} {polled:?}"));
}

#[test]
fn the_parts_reach_a_select_send_parked_for_a_poll() {
    check(
        "select_send_parked_for_a_poll",
        select_send_parked_for_a_poll,
        "false 40 (1, 14)",
    );
}
