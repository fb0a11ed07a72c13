//! Outcomes the reduced search (`dfs`) missed and the plain search reaches, found by the
//! differential test (`tests/dpor_differential.rs`) once it compared outcomes of programs
//! that also fail. Each test failed before its fix.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use goweave::chan::{self, Chan};
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::{go, Checker, StrategyKind};

type Outcomes = Arc<StdMutex<BTreeSet<String>>>;

fn reached(s: StrategyKind, body: impl Fn(Outcomes) + Send + Sync + 'static) -> BTreeSet<String> {
    let out = Outcomes::default();
    let o = out.clone();
    let all = Checker::new()
        .strategy(s)
        .iterations(1_000_000)
        .shrink_budget(Duration::ZERO)
        .run_to_end(move || body(o.clone()));
    assert!(
        all.stats.exhausted,
        "{} {:?}",
        all.stats,
        all.failures
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    );
    let got = out.lock().unwrap().clone();
    got
}

/// `DPOR_DIFF_SEED=91`, program 65 (ChaCha generator). Main waits in a `select!` on an
/// unbuffered and a buffered channel; one goroutine offers a send on the unbuffered one or a
/// receive from the buffered one in a `select!`; another sends into the buffered one. The
/// plain search (1,457 schedules) finds the deadlocks and one run where main takes the
/// first goroutine's value and everybody finishes; the reduced search (2 schedules) only
/// the deadlocks. That run needs main parked in its `select!` (it would block: not offered
/// while another goroutine can run) before the other `select!` looks.
fn select_meets_a_parked_select(out: Outcomes) {
    let c0: Chan<u64> = chan::make(0);
    let c1: Chan<u64> = chan::make(1);
    let a = Arc::new(AtomicU64::new(0));
    let (d0, d1, a1) = (c0.clone(), c1.clone(), a.clone());
    let g1 = go(move || {
        a1.fetch_add(1, SeqCst);
        goweave::select! {
            send(d0, 4) => 40,
            recv(d1) -> v => 50 + v.unwrap_or(9),
        }
    });
    let e1 = c1.clone();
    let g2 = go(move || e1.send(2));
    let got = goweave::select! {
        recv(c0) -> v => 10 + v.unwrap_or(9),
        recv(c1) -> v => 20 + v.unwrap_or(9),
    };
    let x = g1.join();
    g2.join();
    out.lock().unwrap().insert(format!("{got} {x}"));
}

#[test]
fn dpor_reaches_the_run_where_the_select_meets_a_parked_select() {
    let plain = reached(StrategyKind::DfsPlain, select_meets_a_parked_select);
    let dpor = reached(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        select_meets_a_parked_select,
    );
    assert!(plain.contains("14 40"), "{plain:?}");
    assert_eq!(dpor, plain);
}

/// `DPOR_DIFF_SEED=5`, program 5. Main stores to `x`; one goroutine adds to `y` under a
/// write lock; another, under a mutex, compare-exchanges `x` from 0 to 5 and adds 1 to it,
/// then loads `y`. The outcome where main's store falls between the compare-exchange and
/// the add (`x` ends at 3) and the load comes before the other goroutine's add (it sees 0)
/// was missed (the plain search reaches six outcomes, the reduced one five): its reversal
/// reached a leaf of a wakeup tree and was dropped as covered by it, and the free choice
/// after that leaf ran the add first, whose race with the store a sleeping goroutine (the
/// adder of `y`, whose own branch is the one the reversal came from) then claimed to cover.
fn store_between_a_cas_and_an_add(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let y = Arc::new(AtomicU64::new(0));
    let rw = Arc::new(goweave::sync::RwLock::new(()));
    let m = Arc::new(goweave::sync::Mutex::new(()));
    let (y1, rw1) = (y.clone(), rw.clone());
    let g1 = go(move || {
        let _w = rw1.write();
        y1.fetch_add(1, SeqCst);
    });
    let (x2, y2, m2) = (x.clone(), y.clone(), m.clone());
    let g2 = go(move || {
        let swapped = {
            let _g = m2.lock();
            let ok = x2.compare_exchange(0, 5, SeqCst, SeqCst).is_ok();
            x2.fetch_add(1, SeqCst);
            ok
        };
        (swapped, y2.load(SeqCst))
    });
    x.store(2, SeqCst);
    g1.join();
    let (swapped, seen) = g2.join();
    let fin = (y.load(SeqCst), x.load(SeqCst));
    out.lock()
        .unwrap()
        .insert(format!("{swapped} {seen} {fin:?}"));
}

#[test]
fn dpor_reaches_the_store_between_a_compare_exchange_and_an_add() {
    let plain = reached(StrategyKind::DfsPlain, store_between_a_cas_and_an_add);
    let dpor = reached(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        store_between_a_cas_and_an_add,
    );
    assert!(plain.contains("true 0 (1, 3)"), "{plain:?}");
    assert_eq!(plain.len(), 6, "{plain:?}");
    assert_eq!(dpor, plain);
}

/// The kinds of failure a search finds, run to its end past them.
fn kinds(s: StrategyKind, body: fn()) -> std::collections::BTreeSet<goweave::FailureKind> {
    let all = Checker::new()
        .strategy(s)
        .iterations(1_000_000)
        .shrink_budget(Duration::ZERO)
        .run_to_end(body);
    assert!(all.stats.exhausted);
    all.kinds()
}

/// Shrunk from `DPOR_DIFF_SEED=11`, program 183 (whose plain search is too long; the parts
/// of a 2-way split find the deadlock, the single search only the race). One goroutine
/// increments a cell under a mutex; another increments it without the lock, then takes the
/// mutex and waits on a condition that nobody signals. If the second gets the mutex first,
/// its unlock (in the wait) orders its write before the first one's: no race, and the
/// program deadlocks. The reduced search never sees that lock order: every schedule it
/// runs reports the race (which ends the schedule) before the second goroutine's lock, so
/// the race between the two acquisitions is never in a schedule it analyses.
fn locks_after_a_race() {
    let m = Arc::new(goweave::sync::Mutex::new(()));
    let cond = Arc::new(goweave::sync::Cond::new());
    let cell = Arc::new(goweave::cell::RaceCell::new(0u64));
    let (m1, c1) = (m.clone(), cell.clone());
    let a = go(move || {
        let _g = m1.lock();
        c1.with_mut(|v| *v += 1);
    });
    let (m2, c2) = (m.clone(), cell.clone());
    let b = go(move || {
        c2.with_mut(|v| *v += 1);
        let g = m2.lock();
        let _g = cond.wait(g);
    });
    a.join();
    b.join();
}

#[test]

fn dpor_finds_the_deadlock_behind_a_race() {
    let plain = kinds(StrategyKind::DfsPlain, locks_after_a_race);
    assert_eq!(plain.len(), 2, "{plain:?}");
    let dpor = kinds(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        locks_after_a_race,
    );
    assert_eq!(dpor, plain);
}

/// `DPOR_DIFF_SEED=10`, program 87 of the split's differential (whose parts reached two
/// outcomes the single search did not). One goroutine compare-exchanges `x` from 0 and then
/// increments a cell without a lock; another stores 1 to `x` under a mutex; main increments
/// the cell without a lock and then takes the mutex. The two increments race
/// unless a chain of three steps orders them: main's unlock before the
/// second's lock, and the store before the compare-exchange. Every schedule the reduced search
/// ran reported the race before that chain (a race report ended the schedule), so its
/// analysis never saw the lock order or the atomic's order to reverse, and it reached no run
/// that passes the race (`Dpor::unran` adds only the next step of each goroutine).
fn race_before_a_chain(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let m = Arc::new(goweave::sync::Mutex::new(()));
    let cell = Arc::new(goweave::cell::RaceCell::new(0u64));
    let (x1, c1) = (x.clone(), cell.clone());
    let a = go(move || {
        let swapped = x1.compare_exchange(0, 5, SeqCst, SeqCst).is_ok();
        c1.with_mut(|v| *v += 1);
        swapped
    });
    let (x2, m2) = (x.clone(), m.clone());
    let b = go(move || {
        let _g = m2.lock();
        x2.store(1, SeqCst);
    });
    cell.with_mut(|v| *v += 1);
    drop(m.lock());
    let swapped = a.join();
    b.join();
    out.lock()
        .unwrap()
        .insert(format!("{swapped} {}", x.load(SeqCst)));
}

#[test]
fn dpor_runs_on_past_a_race_to_the_orders_after_it() {
    let plain = reached(StrategyKind::DfsPlain, race_before_a_chain);
    let dpor = reached(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        race_before_a_chain,
    );
    // The compare-exchange fails after the store: reached with the race and without it.
    assert!(plain.contains("false 1"), "{plain:?}");
    assert_eq!(dpor, plain);
}

/// `DPOR_DIFF_SEED=76`, program 194 of the split's differential. A goroutine draws a random
/// bit that nothing else reads; another polls a buffered channel and then
/// compare-exchanges `x` from 0; a third offers a send on that channel in a `select!`; main
/// stores to `x` (shrunk: in the original, under a mutex). Every outcome of the others is reachable with either bit, but
/// the reduced search missed one with the bit 1 (the poll takes the value and the
/// compare-exchange comes before the store): a wakeup sequence that reversed a race was
/// followed through the random choice for its first value only, and the later values made
/// free choices from there.
fn poll_after_a_random_bit(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let c0: Chan<u64> = chan::make(0);
    let c1: Chan<u64> = chan::make(1);
    let a = go(|| goweave::rand::below(2));
    let (x2, d1) = (x.clone(), c1.clone());
    let b = go(move || {
        let got = d1.try_recv().map_or(98, |v| v);
        let ok = x2.compare_exchange(0, 5, SeqCst, SeqCst).is_ok();
        (got, ok)
    });
    let (e0, e1) = (c0.clone(), c1.clone());
    let c = go(move || {
        goweave::select! {
            send(e1, 4) => 40,
            recv(e0) -> v => 50 + v.unwrap_or(9),
        }
    });
    x.store(2, SeqCst);
    let bit = a.join();
    let (got, ok) = b.join();
    let sel = c.join();
    out.lock()
        .unwrap()
        .insert(format!("{bit} {got} {ok} {sel}"));
}

#[test]
fn dpor_follows_a_wakeup_sequence_through_every_value_of_a_data_choice() {
    let plain = reached(StrategyKind::DfsPlain, poll_after_a_random_bit);
    let dpor = reached(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        poll_after_a_random_bit,
    );
    assert!(plain.contains("1 4 true 40"), "{plain:?}");
    assert_eq!(dpor, plain);
}

/// `DPOR_DIFF_SEED=83`, program 44 of the split's differential (whose parts reached an
/// outcome the single search did not; the plain search reaches it too). One goroutine sends
/// into a buffered channel and then polls it; another loads `x` and then polls that channel
/// in a `select!` with `default`; a third loads `x` under a read lock; main increments `x`.
/// The two loads, each before or after the increment, and the `select!`, before or after
/// the poll, are independent: eight outcomes. The reduced search missed the one where both
/// loads come first and the `select!` takes the value: in the only schedule that put the
/// reader's load first, the race of the increment with the other load was taken as
/// covered by the poller, asleep there (it commutes with that load), though it does not
/// commute with the `select!` right after the load, which the reversal needed first; and
/// the branch where the poller ran first led back, through a wakeup tree, to that same
/// schedule (see "Soundness and its limits" in `explore::Dpor`'s docs).
fn select_before_a_poll_after_two_loads(out: Outcomes) {
    // Objects that nothing touches, made first as in the generated program (object ids
    // decide which recorded branches a wakeup sequence is compared with).
    let _unused: Vec<goweave::cell::RaceCell<u64>> =
        (0..3).map(|_| goweave::cell::RaceCell::new(0)).collect();
    let x = Arc::new(AtomicU64::new(0));
    let rw = Arc::new(goweave::sync::RwLock::new(()));
    let c0: Chan<u64> = chan::make(1);
    let c1: Chan<u64> = chan::make(1);
    let _flag = goweave::cell::RaceCell::new(0u64);
    let d1 = c1.clone();
    let a = go(move || {
        d1.send(2);
        d1.try_recv().map_or(98, |v| v)
    });
    let (x2, e0, e1) = (x.clone(), c0.clone(), c1.clone());
    let b = go(move || {
        let seen = x2.load(SeqCst);
        let got = goweave::select! {
            recv(e0) -> v => 10 + v.unwrap_or(9),
            recv(e1) -> v => 20 + v.unwrap_or(9),
            default => 30,
        };
        (seen, got)
    });
    let (x3, rw3) = (x.clone(), rw.clone());
    let c = go(move || {
        let _r = rw3.read();
        x3.load(SeqCst)
    });
    x.fetch_add(1, SeqCst);
    let polled = a.join();
    let (seen, got) = b.join();
    let read = c.join();
    // Main's last step reads `x`, an atomic nothing else touches and two of the untouched
    // cells, as the generated program does.
    let y = AtomicU64::new(0);
    let fin = x.load(SeqCst) + y.load(SeqCst) + _unused[0].get() + _unused[1].get();
    out.lock()
        .unwrap()
        .insert(format!("{polled} {seen} {got} {read} {fin}"));
}

#[test]
fn dpor_reaches_the_select_between_a_send_and_its_poll_after_both_loads() {
    let dpor = reached(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        select_before_a_poll_after_two_loads,
    );
    // Either load sees 0 or 1; the poll takes its own value (the `select!` then finds
    // nothing) or the `select!` took it first.
    let mut want = BTreeSet::new();
    for seen in 0..2 {
        for read in 0..2 {
            want.insert(format!("2 {seen} 30 {read} 1"));
            want.insert(format!("98 {seen} 22 {read} 1"));
        }
    }
    assert!(dpor.contains("98 0 22 0 1"), "{dpor:?}");
    assert_eq!(dpor, want);
}

/// `DPOR_DIFF_SEED=18`, program 257 of the split's differential, shrunk (the parts reached
/// outcomes the single search did not; the plain search reaches them too). One goroutine
/// increments `x` and then receives from an unbuffered channel; another increments `x`;
/// a third `try_send`s on that channel and then loads `x`; main stores 1 to `x`. The send
/// succeeds only if the receiver parked first. The reduced search never had main's store
/// come after the load in such a run: reversing the store's race with the load needs the
/// receiver's park, the `try_send` and the load first, and a sequence that starts with an
/// operation that would block was only inserted when the race's own first step was the
/// observer (here the observer is later in the sequence).
fn store_after_a_try_send_to_a_parked_receiver(out: Outcomes) {
    let x = Arc::new(AtomicU64::new(0));
    let c: Chan<u64> = chan::make(0);
    let (x1, c1) = (x.clone(), c.clone());
    let a = go(move || {
        x1.fetch_add(1, SeqCst);
        c1.recv().map_or(99, |v| v)
    });
    let x2 = x.clone();
    let b = go(move || {
        x2.fetch_add(1, SeqCst);
    });
    let (x3, c3) = (x.clone(), c.clone());
    let d = go(move || {
        let sent = c3.try_send(7).is_ok();
        (sent, x3.load(SeqCst))
    });
    x.store(1, SeqCst);
    // If the `try_send` finds nobody parked, the receiver waits for ever: a deadlock (the
    // search goes on past it), and no outcome.
    let got = a.join();
    b.join();
    let (sent, seen) = d.join();
    out.lock()
        .unwrap()
        .insert(format!("{got} {sent} {seen} {}", x.load(SeqCst)));
}

#[test]
fn dpor_reaches_the_store_after_a_try_send_to_a_parked_receiver() {
    let dpor = reached(
        StrategyKind::Dfs {
            max_preemptions: None,
        },
        store_after_a_try_send_to_a_parked_receiver,
    );
    // The value is always handed over; the first increment comes before the load (the
    // receiver increments before it parks, the load follows the send), the other two
    // operations anywhere: every such order of the four, played on `x`.
    let mut want = BTreeSet::new();
    let ops = ["inc1", "inc2", "store", "load"];
    for p in permutations(&ops) {
        let at = |o: &str| p.iter().position(|q| *q == o).unwrap();
        if at("inc1") > at("load") {
            continue;
        }
        let (mut x, mut seen) = (0, 0);
        for o in &p {
            match *o {
                "store" => x = 1,
                "load" => seen = x,
                _ => x += 1,
            }
        }
        want.insert(format!("7 true {seen} {x}"));
    }
    assert!(dpor.contains("7 true 2 1"), "{dpor:?}");
    assert!(dpor.contains("7 true 1 2"), "{dpor:?}");
    assert_eq!(dpor, want);
}

/// Every order of `items`.
fn permutations<'a>(items: &[&'a str]) -> Vec<Vec<&'a str>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            all.push(p);
        }
    }
    all
}
