//! `Strategy::picks_by_count`: a strategy whose choice depends on nothing but the number of
//! options is asked through `pick_by_count`, without a `Decision` being built. The schedules
//! must be exactly those of the same strategy asked through `pick_goroutine`.

use std::sync::Arc;
use std::time::Duration;

use goweave::explore::{Decision, Random, Strategy, ValueDecision};
use goweave::sync::Mutex;
use goweave::{go, Checker};

/// `inner`, asked only through `pick_goroutine` (it does not forward `picks_by_count`).
struct ViaDecision(Random);

impl Strategy for ViaDecision {
    fn begin(&mut self, iteration: u64) -> bool {
        self.0.begin(iteration)
    }
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.0.pick_goroutine(d)
    }
    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.0.pick_value(d)
    }
}

/// Three goroutines each add 1 to a counter by reading it under the lock and writing it back
/// under the lock again: an update is lost when another goroutine writes in between.
fn lost_update() {
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            go(move || {
                let v = *m.lock();
                *m.lock() = v + 1;
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(*m.lock(), 3, "an update was lost");
}

/// The same counter done right (no failure: every schedule runs to the end).
fn locked_counter() {
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            go(move || {
                for _ in 0..4 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(*m.lock(), 12);
}

#[test]
fn counting_and_deciding_walk_the_same_schedules() {
    for seed in [0, 1, 7] {
        let by_count = Checker::new()
            .custom_strategy(Random::new(seed))
            .iterations(300)
            .run(locked_counter)
            .unwrap();
        let by_decision = Checker::new()
            .custom_strategy(ViaDecision(Random::new(seed)))
            .iterations(300)
            .run(locked_counter)
            .unwrap();
        // The total of scheduling points and the number of distinct schedules agree only if
        // the walks agree schedule by schedule (in practice).
        assert_eq!(by_count.steps, by_decision.steps, "seed {seed}");
        assert_eq!(by_count.distinct, by_decision.distinct, "seed {seed}");
        assert!(by_count.distinct > 100, "{}", by_count.distinct);
    }
}

/// Data choices: which of several waiting goroutines an unlock wakes, a `select!` with two
/// ready cases, and values drawn with `goweave::rand` (one of them from a single value).
fn data_choices() {
    let m = Arc::new(Mutex::new(0u64));
    let (a, b) = (goweave::chan::make::<u64>(1), goweave::chan::make::<u64>(1));
    a.send(1);
    b.send(2);
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            go(move || {
                for _ in 0..3 {
                    *m.lock() += goweave::rand::below(3) + goweave::rand::below(1);
                }
            })
        })
        .collect();
    let first = goweave::select! {
        recv(a) -> v => v.unwrap(),
        recv(b) -> v => v.unwrap(),
    };
    assert!(first == 1 || first == 2);
    for h in hs {
        h.join();
    }
}

#[test]
fn counting_and_deciding_make_the_same_data_choices() {
    for seed in [2, 9] {
        let by_count = Checker::new()
            .custom_strategy(Random::new(seed))
            .iterations(300)
            .run(data_choices)
            .unwrap();
        let by_decision = Checker::new()
            .custom_strategy(ViaDecision(Random::new(seed)))
            .iterations(300)
            .run(data_choices)
            .unwrap();
        assert_eq!(by_count.steps, by_decision.steps, "seed {seed}");
        assert_eq!(by_count.distinct, by_decision.distinct, "seed {seed}");
        assert!(by_count.distinct > 100, "{}", by_count.distinct);
    }
}

#[test]
fn counting_and_deciding_find_the_same_failing_schedule() {
    let find = |s: Box<dyn Strategy>| {
        Checker::new()
            .custom_strategy(s)
            .iterations(1000)
            .shrink_budget(Duration::ZERO)
            .run(lost_update)
            .unwrap_err()
    };
    let a = find(Box::new(Random::new(3)));
    let b = find(Box::new(ViaDecision(Random::new(3))));
    assert_eq!(a.kind(), b.kind());
    assert_eq!(a.token(), b.token());
    assert!(a.to_string().contains("an update was lost"), "{a}");
}

/// Picks by count; asked through `pick_goroutine`, it fails the test.
struct CountOnly(Random);

impl Strategy for CountOnly {
    fn begin(&mut self, iteration: u64) -> bool {
        self.0.begin(iteration)
    }
    fn pick_goroutine(&mut self, _: &Decision<'_>) -> usize {
        panic!("a strategy that picks by count was handed a Decision");
    }
    fn picks_by_count(&self) -> bool {
        true
    }
    fn pick_by_count(&mut self, options: usize) -> usize {
        assert!(options >= 2, "asked with {options} options");
        self.0.pick_by_count(options)
    }
    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        assert!(
            d.n < 2,
            "a strategy that picks by count was handed a ValueDecision"
        );
        self.0.pick_value(d)
    }
}

#[test]
fn a_strategy_that_picks_by_count_is_never_handed_a_decision() {
    let stats = Checker::new()
        .custom_strategy(CountOnly(Random::new(5)))
        .iterations(50)
        .run(data_choices)
        .unwrap();
    assert_eq!(stats.schedules, 50);
    let stats = Checker::new()
        .custom_strategy(CountOnly(Random::new(5)))
        .iterations(50)
        .run(locked_counter)
        .unwrap();
    assert_eq!(stats.schedules, 50);
}

/// Says it picks by count, but only implements `pick_goroutine`.
struct Inconsistent;

impl Strategy for Inconsistent {
    fn pick_goroutine(&mut self, _: &Decision<'_>) -> usize {
        0
    }
    fn picks_by_count(&self) -> bool {
        true
    }
    fn pick_value(&mut self, _: &ValueDecision) -> u64 {
        0
    }
    fn describe(&self) -> String {
        "inconsistent".into()
    }
}

#[test]
fn picking_by_count_without_implementing_it_is_a_clear_error() {
    let err = std::panic::catch_unwind(|| {
        Checker::new()
            .custom_strategy(Inconsistent)
            .iterations(1)
            .run(locked_counter)
    });
    let text = match err {
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
        Ok(Err(f)) => f.to_string(),
        Ok(Ok(_)) => panic!("the inconsistent strategy ran without complaint"),
    };
    assert!(
        text.contains("inconsistent") && text.contains("pick_by_count"),
        "{text}"
    );
}
