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
