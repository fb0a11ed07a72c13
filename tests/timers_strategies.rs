//! How each built-in strategy weighs "let time pass", decision by decision (the strategies
//! driven directly, without an executor).

use std::panic::Location;
use std::time::Duration;

use goweave::explore::{
    Decision, Dfs, Event, ObjId, Op, Pct, Pending, Pos, Random, Replay, RoundRobin, Strategy,
};
use goweave::schedule::{Choice, Schedule};
use goweave::TimerMode;

const MS: Duration = Duration::from_millis(1);

/// Pending events for goroutines 1..=n: each about to touch object `#1`.
fn pending(n: usize) -> Vec<Pending> {
    (0..=n)
        .map(|i| Pending {
            event: Event::new(Op::ChanSend, ObjId(1), Location::caller()),
            since: i as u64,
        })
        .collect()
}

#[test]
fn options_count_time_after_the_goroutines() {
    let p = pending(2);
    let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p).with_time(5 * MS);
    assert_eq!(d.options(), 3);
    assert_eq!(d.time_index(), Some(2));
    assert!(d.is_time(2) && !d.is_time(1));
    assert!(d.pending(2).is_none());
    assert!(!d.is_preemption(2), "letting time pass is not a preemption");
    assert!(d.is_preemption(1));
    let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p);
    assert_eq!((d.options(), d.time_index()), (2, None));
}

#[test]
fn random_gives_time_one_share_among_the_goroutines() {
    let p = pending(2);
    let mut r = Random::new(1);
    let mut time = 0;
    for i in 0..30_000u64 {
        r.begin(i);
        let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p).with_time(MS);
        time += d.is_time(r.pick_goroutine(&d)) as u32;
    }
    assert!((9_000..11_000).contains(&time), "{time} of 30,000");
}

/// The decisions of a goroutine that polls with `gosched` while only a timer can help: each
/// time it yields, time must pass before it runs again, and after time has passed it runs.
fn alternates_with_a_lone_yielder(s: &mut dyn Strategy) {
    let p = pending(1);
    s.begin(0);
    let mut deadline = 10 * MS;
    let mut passes = 0;
    for _ in 0..50 {
        // It yields; a ticker is pending.
        let d = Decision::new(&[1], Some(1), 0, true, 0, &p).with_time(deadline);
        if d.is_time(s.pick_goroutine(&d)) {
            passes += 1;
            deadline += 10 * MS;
            // After time passed, nobody is at a scheduling point: it must run now.
            let d = Decision::new(&[1], None, 0, false, 0, &p).with_time(deadline);
            assert!(!d.is_time(s.pick_goroutine(&d)), "{}", s.describe());
        }
    }
    assert!(passes >= 49, "{}: time passed {passes} times", s.describe());
}

#[test]
fn pct_and_pos_let_time_and_a_yielder_take_turns() {
    for seed in 0..20 {
        alternates_with_a_lone_yielder(&mut Pct::new(3, seed));
        alternates_with_a_lone_yielder(&mut Pos::new(seed));
    }
    alternates_with_a_lone_yielder(&mut RoundRobin::new());
}

/// Pct: a new deadline gets a priority drawn like a goroutine's, so time sometimes goes
/// before a running goroutine, sometimes after; once it has passed it drops below everyone.
#[test]
fn pct_times_out_first_in_some_schedules_and_last_in_others() {
    let p = pending(2);
    let (mut first, mut last) = (0, 0);
    for seed in 0..200 {
        let mut s = Pct::new(1, seed);
        s.begin(0);
        let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p).with_time(MS);
        if d.is_time(s.pick_goroutine(&d)) {
            first += 1;
            // Time yields once it has passed: the goroutines go first from now on, even with
            // a ticker's next deadline pending (until a goroutine arms an earlier one).
            for _ in 0..10 {
                let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p).with_time(2 * MS);
                assert!(!d.is_time(s.pick_goroutine(&d)));
            }
        } else {
            last += 1;
        }
    }
    // Three options with random priorities: time is the highest in about a third.
    assert!((40..100).contains(&first), "first {first}, last {last}");
}

#[test]
fn dfs_explores_time_as_the_last_branch_without_counting_a_preemption() {
    let p = pending(2);
    let mut s = Dfs::new(Some(0));
    let mut taken = Vec::new();
    for i in 0.. {
        if !s.begin(i) {
            break;
        }
        let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p).with_time(MS);
        let a = s.pick_goroutine(&d);
        taken.push(if d.is_time(a) { 0 } else { d.runnable[a] });
        s.end();
    }
    // With no preemption allowed: continue goroutine 1, or let time pass; never switch to 2.
    assert_eq!(taken, [1, 0]);
    assert!(s.exhausted());
}

#[test]
fn replay_follows_recorded_time_choices_and_rejects_impossible_ones() {
    let p = pending(2);
    let sched = Schedule::new(vec![Choice::Time, Choice::Goroutine(2), Choice::Time], 0, 0)
        .with_timers(TimerMode::AnyTime);
    let mut r = Replay::new(&sched);
    r.begin(0);
    let d = Decision::new(&[1, 2], Some(1), 0, false, 0, &p).with_time(MS);
    assert_eq!(r.pick_goroutine(&d), 2);
    let d = Decision::new(&[1, 2], Some(1), 0, false, 1, &p).with_time(MS);
    assert_eq!(r.pick_goroutine(&d), 1);
    // No timer pending where the schedule lets time pass: the run diverged. (`abort` is only
    // visible to the executor; the strategy answers something in range.)
    let d = Decision::new(&[1, 2], Some(1), 0, false, 2, &p);
    assert!(r.pick_goroutine(&d) < 2);
}

/// A strategy of your own that knows nothing of time never picks it: its runs follow
/// synctest's rule.
#[test]
fn a_strategy_that_ignores_time_gets_synctest_semantics() {
    struct Lowest;
    impl Strategy for Lowest {
        fn pick_goroutine(&mut self, _d: &Decision<'_>) -> usize {
            0
        }
        fn pick_value(&mut self, _d: &goweave::explore::ValueDecision) -> u64 {
            0
        }
    }
    let stats = goweave::Checker::new()
        .custom_strategy(Lowest)
        .iterations(5)
        .run(|| {
            use goweave::time;
            let start = time::now();
            let h = goweave::go(move || {
                time::sleep(Duration::from_secs(1));
                time::now() - start
            });
            time::sleep(Duration::from_secs(2));
            assert_eq!(h.join(), Duration::from_secs(1));
            assert_eq!(start.elapsed(), Duration::from_secs(2));
        })
        .unwrap();
    assert_eq!(stats.schedules, 5);
}
