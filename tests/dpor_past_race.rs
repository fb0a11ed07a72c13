//! A schedule in which a data race is reported runs on to its end under a strategy that asks
//! for it (`Strategy::runs_past_races`: `Dpor` and the plain `Dfs`), and the failure it
//! records is the one the run would have had if the race had ended it: the same schedule
//! (token), report and trace.

use std::sync::atomic::{AtomicU64 as StdAtomic, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::explore::{Decision, Dpor, Note, Strategy, ValueDecision};
use goweave::{go, Checker, FailureKind};

/// `Dpor`, with whether it runs past races overridden.
struct PastRaces {
    inner: Dpor,
    past: bool,
}

impl Strategy for PastRaces {
    fn begin(&mut self, i: u64) -> bool {
        self.inner.begin(i)
    }
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.inner.pick_goroutine(d)
    }
    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.inner.pick_value(d)
    }
    fn end(&mut self) {
        self.inner.end()
    }
    fn wasted(&self) -> bool {
        self.inner.wasted()
    }
    fn wants_notes(&self) -> bool {
        true
    }
    fn note(&mut self, n: Note) {
        self.inner.note(n)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn runs_past_races(&self) -> bool {
        self.past
    }
}

/// Two goroutines increment a cell without a lock (a race in every schedule), then each takes a
/// lock; main counts the runs that got to its end in `ends`.
fn racy(ends: Arc<StdAtomic>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let cell = Arc::new(RaceCell::new(0u64));
        let m = Arc::new(goweave::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (cell, m) = (cell.clone(), m.clone());
                go(move || {
                    cell.with_mut(|v| *v += 1);
                    *m.lock() += 1;
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        ends.fetch_add(1, Relaxed);
    }
}

fn first_failure(past: bool) -> (goweave::Failure, u64) {
    let ends = Arc::new(StdAtomic::new(0));
    let f = Checker::new()
        .custom_strategy(PastRaces {
            inner: Dpor::new(),
            past,
        })
        .iterations(u64::MAX)
        .shrink_budget(Duration::ZERO)
        .run(racy(ends.clone()))
        .expect_err("every schedule races");
    (f, ends.load(Relaxed))
}

#[test]
fn a_race_recorded_past_its_report_is_the_race_that_would_have_ended_the_run() {
    let (stopped, stopped_ends) = first_failure(false);
    let (went_on, went_on_ends) = first_failure(true);
    assert_eq!(stopped.kind(), FailureKind::Race, "{stopped}");
    assert_eq!(went_on.kind(), FailureKind::Race, "{went_on}");
    // The run that stopped at the race never got to main's end; the other did (the first
    // schedule, and the report's replay, which stops at the race: the replay strategy does
    // not run past races).
    assert_eq!(stopped_ends, 0);
    assert_eq!(went_on_ends, 1);
    // Same schedule as found (its choices, events and fingerprint), same report (the trace
    // ends where the race ended the run).
    assert!(went_on.original_token().is_some());
    assert_eq!(went_on.original_token(), stopped.original_token());
    assert_eq!(went_on.token(), stopped.token());
    assert_eq!(went_on.report(), stopped.report());
    let token: goweave::Schedule = went_on.token().expect("a token").parse().unwrap();
    let again = goweave::replay(&token, racy(Arc::new(StdAtomic::new(0)))).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Race, "{again}");
}

#[test]
fn an_exhaustive_search_runs_every_racy_schedule_to_its_end() {
    for s in [
        goweave::StrategyKind::Dfs {
            max_preemptions: None,
        },
        goweave::StrategyKind::DfsPlain,
    ] {
        let ends = Arc::new(StdAtomic::new(0));
        let all = Checker::new()
            .strategy(s.clone())
            .iterations(100_000)
            .shrink_budget(Duration::ZERO)
            .run_to_end(racy(ends.clone()));
        assert!(all.stats.exhausted, "{s}: {}", all.stats);
        assert_eq!(
            all.kinds().into_iter().collect::<Vec<_>>(),
            [FailureKind::Race],
            "{s}"
        );
        // Every schedule got to main's end, besides the one replay per distinct failure
        // that builds its report (which stops at the race).
        assert_eq!(
            ends.load(Relaxed),
            all.stats.schedules,
            "{s}: {}",
            all.stats
        );
    }
}
