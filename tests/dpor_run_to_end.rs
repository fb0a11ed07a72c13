//! `Checker::run_to_end`: the exploration goes on past failing schedules and returns every
//! distinct failure (kind and location), the first one as `Checker::run` reports it.

use std::sync::Arc;
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
use goweave::sync::Mutex;
use goweave::{chan, go, replay, Checker, FailureKind, Schedule, StrategyKind};

fn exhaustive() -> Checker {
    Checker::new()
        .strategy(StrategyKind::Dfs {
            max_preemptions: None,
        })
        .iterations(u64::MAX)
        .shrink_budget(Duration::from_secs(2))
}

/// Two bugs in one program, each in its own schedules: a lock-order deadlock (the two
/// goroutines take two mutexes in opposite orders) and a panic (main finds the counter at
/// 2 only when both goroutines passed their locks before it looks). A search that stops at
/// its first failure sees one of them.
fn two_bugs() {
    let a = Arc::new(Mutex::new(0u64));
    let b = Arc::new(Mutex::new(0u64));
    let n = Arc::new(AtomicU64::new(0));
    let (a1, b1, n1) = (a.clone(), b.clone(), n.clone());
    let h1 = go(move || {
        let _x = a1.lock();
        let _y = b1.lock();
        n1.fetch_add(1, SeqCst);
    });
    let (a2, b2, n2) = (a.clone(), b.clone(), n.clone());
    let h2 = go(move || {
        let _y = b2.lock();
        let _x = a2.lock();
        n2.fetch_add(1, SeqCst);
    });
    assert!(n.load(SeqCst) < 2, "both were done before main looked");
    h1.join();
    h2.join();
}

#[test]
fn every_distinct_failure_is_returned_and_the_first_is_runs() {
    let all = exhaustive().run_to_end(two_bugs);
    assert!(all.stats.exhausted, "the search went on to its end");
    let kinds: Vec<FailureKind> = all.kinds().into_iter().collect();
    assert_eq!(kinds, [FailureKind::Panic, FailureKind::Deadlock]);
    // Distinct: no two with the same kind and location.
    for (i, f) in all.failures.iter().enumerate() {
        for g in &all.failures[i + 1..] {
            assert!(
                (f.kind(), f.location()) != (g.kind(), g.location()),
                "{f:?}\n{g:?}"
            );
        }
    }
    let panic = all
        .failures
        .iter()
        .find(|f| f.kind() == FailureKind::Panic)
        .unwrap();
    assert!(
        panic.location().starts_with("tests/dpor_run_to_end.rs:"),
        "{}",
        panic.location()
    );
    let deadlock = all
        .failures
        .iter()
        .find(|f| f.kind() == FailureKind::Deadlock)
        .unwrap();
    assert!(
        deadlock.location().contains("[sync.Mutex.Lock]"),
        "{}",
        deadlock.location()
    );
    // The first is what `run` returns: same kind, place, schedule and token.
    let first = exhaustive().run(two_bugs).unwrap_err();
    let got = all.first().unwrap();
    assert_eq!(got.kind(), first.kind());
    assert_eq!(got.iteration(), first.iteration());
    assert_eq!(got.token(), first.token());
    assert_eq!(got.original_token(), first.original_token());
    assert_eq!(
        all.clone().into_result().unwrap_err().token(),
        first.token()
    );
}

#[test]
fn each_failure_is_shrunk_and_replays_to_itself() {
    let all = exhaustive().run_to_end(two_bugs);
    assert_eq!(all.failures.len(), 2);
    for f in &all.failures {
        assert!(f.to_string().contains("replay: GOWEAVE_REPLAY="), "{f}");
        assert!(f.preemptions() <= f.original_preemptions());
        for token in [f.token().unwrap(), f.original_token().unwrap()] {
            let s: Schedule = token.parse().unwrap();
            let again = replay(&s, two_bugs).unwrap_err();
            assert_eq!(again.kind(), f.kind(), "{again}");
        }
    }
}

#[test]
fn a_failure_met_again_at_the_same_place_is_counted_once() {
    // The race happens in every schedule where both writes run; every schedule runs to the end.
    let body = || {
        let c = Arc::new(RaceCell::new(0u64));
        let c2 = c.clone();
        let h = go(move || c2.set(1));
        goweave::runtime::gosched();
        c.set(2);
        h.join();
    };
    let all = Checker::new()
        .strategy(StrategyKind::Random)
        .iterations(200)
        .shrink_budget(Duration::ZERO)
        .run_to_end(body);
    assert_eq!(all.stats.schedules, 200, "every iteration ran");
    assert_eq!(all.failures.len(), 1, "{:?}", all.failures);
    assert_eq!(all.failures[0].kind(), FailureKind::Race);
    assert!(all.failures[0].location().contains(" and "));
    // `run` stops at the same first failure.
    let first = Checker::new()
        .strategy(StrategyKind::Random)
        .iterations(200)
        .shrink_budget(Duration::ZERO)
        .run(body)
        .unwrap_err();
    assert_eq!(first.iteration(), all.failures[0].iteration());
}

#[test]
fn a_program_without_failures_gives_the_stats_of_run() {
    let body = || {
        let ch = chan::make(1);
        let tx = ch.clone();
        let h = go(move || tx.send(1));
        assert_eq!(ch.recv(), Some(1));
        h.join();
    };
    let all = exhaustive().run_to_end(body);
    assert!(all.failures.is_empty());
    let stats = exhaustive().run(body).unwrap();
    assert_eq!(all.stats.schedules, stats.schedules);
    assert!(all.stats.exhausted && stats.exhausted);
    assert_eq!(all.into_result().unwrap().schedules, stats.schedules);
}
