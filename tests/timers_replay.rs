//! Replay reproduces timer choices exactly: a token records where time passed (and the timer
//! mode it ran under), and replaying it gives the same interleaving, the same virtual times and
//! the same outcome. Shrinking keeps working with time in the schedule.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration as WallDuration;

use goweave::schedule::Choice;
use goweave::time::{self, Duration};
use goweave::{chan, go, replay, select, Checker, Failure, FailureKind, Schedule, StrategyKind};
use goweave::{Stats, TimerMode};

/// Three workers race their results against timeouts and tickers; the run always ends with a
/// panic whose message is the timeline (who won, at which virtual time), so every schedule
/// fails and its outcome depends on where time passed.
fn timeline() {
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let results = chan::make::<u64>(0);
    let mut hs = Vec::new();
    for i in 1..=3u64 {
        let (log, r) = (log.clone(), results.clone());
        hs.push(go(move || {
            let timeout = time::after(Duration::from_millis(5 * i));
            select! {
                send(r, i) => log.lock().unwrap().push(format!("{i} sent")),
                recv(timeout) -> t => log.lock().unwrap().push(format!(
                    "{i} timed out at {:?}",
                    t.unwrap().since_epoch()
                )),
            }
        }));
    }
    let deadline = time::after(Duration::from_millis(12));
    loop {
        select! {
            recv(results) -> v => {
                let now = time::now().since_epoch();
                log.lock().unwrap().push(format!("got {} at {now:?}", v.unwrap()));
            }
            recv(deadline) -> _ => break,
        }
    }
    for h in hs {
        h.join();
    }
    let now = time::now().since_epoch();
    panic!("timeline: {:?}, ended at {now:?}", log.lock().unwrap());
}

fn first_failure(strategy: StrategyKind, seed: u64, timers: TimerMode) -> Failure {
    Checker::new()
        .strategy(strategy)
        .seed(seed)
        .timers(timers)
        .iterations(1)
        .shrink_budget(WallDuration::ZERO)
        .run(timeline)
        .expect_err("every schedule panics with its timeline")
}

/// The panic message: the timeline.
fn message(f: &Failure) -> String {
    let r = f.report();
    let at = r
        .find("timeline:")
        .expect("the report holds the panic message");
    r[at..].lines().next().unwrap().to_string()
}

/// (goroutine, operation, location) of every event.
fn events(f: &Failure) -> Vec<(u64, String, String)> {
    f.trace()
        .iter()
        .map(|e| {
            (
                e.goroutine,
                e.event.op.name().to_string(),
                e.event.site.to_string(),
            )
        })
        .collect()
}

#[test]
fn replay_reproduces_timer_choices_exactly() {
    let mut timelines = BTreeSet::new();
    let mut with_time = 0;
    for seed in 0..40 {
        for s in [
            StrategyKind::Random,
            StrategyKind::Pct { depth: 3 },
            StrategyKind::Pos,
        ] {
            let f = first_failure(s.clone(), seed, TimerMode::AnyTime);
            assert_eq!(f.kind(), FailureKind::Panic, "{f}");
            let schedule = Schedule::from_token(f.token().unwrap()).unwrap();
            assert_eq!(schedule.timers(), TimerMode::AnyTime);
            with_time += schedule.choices().contains(&Choice::Time) as u32;
            // Replayed under the default checker settings, and under a checker told to run
            // when_blocked: the token's mode wins.
            for again in [
                replay(f.schedule(), timeline).unwrap_err(),
                Checker::new()
                    .timers(TimerMode::WhenBlocked)
                    .strategy(StrategyKind::Replay(schedule.clone()))
                    .run(timeline)
                    .unwrap_err(),
            ] {
                assert_eq!(again.kind(), FailureKind::Panic, "{s} seed {seed}: {again}");
                assert_eq!(message(&again), message(&f), "{s} seed {seed}");
                assert_eq!(events(&again), events(&f), "{s} seed {seed}");
                assert_eq!(again.schedule().choices(), schedule.choices());
                assert_eq!(again.token(), f.token());
            }
            timelines.insert(message(&f));
        }
    }
    eprintln!(
        "time passed as a choice in {with_time} of 120 schedules; {} distinct timelines",
        timelines.len()
    );
    assert!(
        with_time > 60,
        "time passed as a choice in {with_time} of 120 schedules"
    );
    assert!(
        timelines.len() >= 8,
        "the timer choices lead to different timelines: {timelines:#?}"
    );
}

#[test]
fn a_when_blocked_token_replays_as_when_blocked() {
    let f = first_failure(StrategyKind::Random, 3, TimerMode::WhenBlocked);
    let schedule = Schedule::from_token(f.token().unwrap()).unwrap();
    assert_eq!(schedule.timers(), TimerMode::WhenBlocked);
    assert!(!schedule.choices().contains(&Choice::Time));
    // The checker's default is any_time; the token says when_blocked.
    let again = replay(f.schedule(), timeline).unwrap_err();
    assert_eq!(message(&again), message(&f));
    assert_eq!(events(&again), events(&f));
}

#[test]
fn tokens_round_trip_time_choices_and_the_mode() {
    let choices = vec![
        Choice::Goroutine(1),
        Choice::Time,
        Choice::Time,
        Choice::Value(2),
        Choice::Goroutine(3),
        Choice::Goroutine(3),
        Choice::Goroutine(3),
        Choice::Time,
    ];
    for mode in [TimerMode::AnyTime, TimerMode::WhenBlocked] {
        let s = Schedule::new(choices.clone(), 40, 0xABCD)
            .with_max_steps(1_000)
            .with_timers(mode);
        let back = Schedule::from_token(&s.token()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.timers(), mode);
    }
    // A schedule says nothing of its mode unless told: as every token before timers became
    // choices, it replays with time passing only when everything is blocked.
    assert_eq!(
        Schedule::new(choices, 1, 1).timers(),
        TimerMode::WhenBlocked
    );
}

/// A replayed token whose time choice cannot be followed (the program changed: no timer is
/// pending there any more) is reported as nondeterminism, not silently followed.
#[test]
fn a_time_choice_where_no_timer_is_pending_is_a_divergence() {
    let no_timers = || {
        let ch = chan::make::<u32>(0);
        let c = ch.clone();
        go(move || c.send(1));
        ch.recv();
    };
    let forged = Schedule::new(vec![Choice::Time; 3], 0, 0).with_timers(TimerMode::AnyTime);
    let e = replay(&forged, no_timers).unwrap_err();
    assert_eq!(e.kind(), FailureKind::Nondeterminism, "{e}");
    assert!(e.to_string().contains("lets time pass"), "{e}");
}

/// Shrinking works with time in the schedule: the leak of a sender whose receiver timed out
/// shrinks to no preemption, and the shrunk token replays to the same leak.
#[test]
fn shrinking_keeps_time_choices_replayable() {
    let leaky = || {
        let result = chan::make::<u32>(0);
        let r = result.clone();
        go(move || {
            let x = chan::make::<u32>(1);
            x.send(1);
            x.recv();
            r.send(42)
        });
        // Some unrelated goroutines add preemptions for the shrinker to remove.
        for _ in 0..2 {
            go(|| {
                let x = chan::make::<u32>(1);
                x.send(1);
                x.recv();
            });
        }
        select! {
            recv(result) -> _ => {}
            recv(time::after(Duration::from_secs(1))) -> _ => {}
        }
    };
    for seed in 0..10 {
        let f = Checker::new()
            .seed(seed)
            .iterations(1_000)
            .run(leaky)
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Leak, "{f}");
        assert!(f.preemptions() <= f.original_preemptions());
        assert_eq!(f.preemptions(), 0, "seed {seed}: {f}");
        let again = replay(f.schedule(), leaky).unwrap_err();
        assert_eq!(again.kind(), FailureKind::Leak);
        assert_eq!(again.report(), f.report());
        let original = replay(f.original_schedule(), leaky).unwrap_err();
        assert_eq!(original.kind(), FailureKind::Leak);
    }
}

#[test]
fn letting_time_pass_adds_schedules() {
    let body = || {
        let c = time::after(Duration::from_millis(1));
        let d = chan::make::<()>(1);
        let d2 = d.clone();
        go(move || d2.send(()));
        select! {
            recv(c) -> _ => {}
            recv(d) -> _ => {}
        }
    };
    let distinct = |timers| -> Stats {
        Checker::new()
            .timers(timers)
            .strategy(StrategyKind::Dfs {
                max_preemptions: None,
            })
            .run(body)
            .unwrap()
    };
    let any = distinct(TimerMode::AnyTime);
    let blocked = distinct(TimerMode::WhenBlocked);
    assert!(any.exhausted && blocked.exhausted);
    assert!(
        any.schedules > blocked.schedules,
        "any_time: {any}; when_blocked: {blocked}"
    );
}
