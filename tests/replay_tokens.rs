//! Replay tokens: failing schedules replay exactly, tokens survive a million steps, and every
//! way a token can be wrong has its own clear error.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use goweave::schedule::Choice;
use goweave::sync::atomic::{
    AtomicI64, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use goweave::sync::Mutex;
use goweave::{go, Checker, FailureKind, Schedule, StrategyKind, TokenError};

/// Three goroutines increment a counter with a separate load and store; the message carries
/// the final value, so different interleavings give different reports.
fn lost_update_3() {
    let x = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let x = x.clone();
            go(move || {
                let v = x.load(SeqCst);
                goweave::rand::below(3);
                x.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    let v = x.load(SeqCst);
    assert_eq!(v, 3, "lost update: {v}");
}

#[test]
fn a_hundred_failing_tokens_each_replay_to_the_same_failure() {
    let mut tokens = HashSet::new();
    let mut failures = Vec::new();
    let mut seed = 0;
    while failures.len() < 100 {
        let f = Checker::new()
            .seed(seed)
            .iterations(1_000)
            .shrink_budget(Duration::ZERO)
            .run(lost_update_3)
            .unwrap_err();
        seed += 1;
        if tokens.insert(f.original_token().unwrap().to_string()) {
            failures.push(f);
        }
        assert!(seed < 1_000, "too few distinct failing schedules");
    }
    for f in &failures {
        let r = goweave::replay(f.original_schedule(), lost_update_3).unwrap_err();
        assert_eq!(r.kind(), f.kind());
        assert_eq!(r.report(), f.report());
        assert_eq!(r.schedule(), f.original_schedule());
        assert_eq!(r.original_token(), f.original_token());
    }
}

#[test]
fn shrunk_tokens_replay_to_the_same_failure() {
    for seed in 0..5 {
        let f = Checker::new()
            .seed(seed)
            .iterations(1_000)
            .run(lost_update_3)
            .unwrap_err();
        assert!(f.preemptions() <= f.original_preemptions());
        let r = goweave::replay(f.schedule(), lost_update_3).unwrap_err();
        assert_eq!(r.kind(), f.kind());
        assert_eq!(r.report(), f.report());
        // The trace of the replay is the trace in the report.
        assert_eq!(r.trace().len(), f.trace().len());
    }
}

/// The lost update again, with the final check optional.
fn lost_update_checked(check: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let x = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let x = x.clone();
                go(move || {
                    let v = x.load(SeqCst);
                    x.store(v + 1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        let v = x.load(SeqCst);
        if check {
            assert_eq!(v, 2, "lost update");
        }
    }
}

#[test]
fn a_token_replays_and_passes_once_the_check_is_gone() {
    let f = Checker::new()
        .iterations(1_000)
        .run(lost_update_checked(true))
        .unwrap_err();
    let stats = goweave::replay(f.schedule(), lost_update_checked(false)).unwrap();
    assert_eq!(stats.schedules, 1);
    assert_eq!(stats.strategy, "replay");
}

fn unlucky() {
    let v = goweave::rand::below(1_000);
    let h = go(move || v);
    assert!(h.join() % 97 != 5, "unlucky {v}");
}

#[test]
fn tokens_carry_data_choices() {
    let f = Checker::new().iterations(1_000).run(unlucky).unwrap_err();
    assert!(f
        .schedule()
        .choices()
        .iter()
        .any(|c| matches!(c, Choice::Value(_))));
    let r = goweave::replay(f.schedule(), unlucky).unwrap_err();
    assert_eq!(r.report(), f.report());
}

#[test]
fn a_million_step_schedule_fits_in_a_token_and_replays() {
    const OPS: u64 = 250_000;
    let body = || {
        let x = Arc::new(AtomicI64::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let x = x.clone();
                // Relaxed: the race detector has no edges to keep for a million of these.
                go(move || {
                    for _ in 0..OPS {
                        let v = x.load(Relaxed);
                        x.store(v + 1, Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join();
        }
        assert_eq!(x.load(SeqCst), 2 * OPS as i64, "lost updates");
    };
    let f = Checker::new()
        .strategy(StrategyKind::Pct { depth: 3 })
        .iterations(10)
        .max_steps(2_000_000)
        .shrink_budget(Duration::ZERO)
        .run(body)
        .unwrap_err();
    let s = f.original_schedule();
    assert!(s.events() >= 1_000_000, "{} events", s.events());
    assert!(
        s.choices().len() >= 500_000,
        "{} choices",
        s.choices().len()
    );
    // Run-length encoding: a PCT schedule switches rarely.
    assert!(
        f.original_token().unwrap().len() < 200,
        "{}",
        f.original_token().unwrap().len()
    );
    let r = goweave::replay(f.original_schedule(), body).unwrap_err();
    assert_eq!(r.report(), f.report());
}

#[test]
fn a_million_random_choices_round_trip() {
    let mut x: u64 = 0x1234_5678;
    let choices: Vec<Choice> = (0..1_000_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 1000 == 999 {
                Choice::Value(x)
            } else {
                Choice::Goroutine(1 + (x % 4))
            }
        })
        .collect();
    let s = Schedule::new(choices, 1_500_000, 0xDEAD_BEEF);
    let t = s.token();
    assert!(t.len() < 2_000_000, "{}", t.len());
    assert_eq!(Schedule::from_token(&t).unwrap(), s);
}

fn sample_token() -> String {
    Checker::new()
        .iterations(1_000)
        .run(lost_update_3)
        .unwrap_err()
        .token()
        .unwrap()
        .to_string()
}

#[test]
fn malformed_tokens_are_refused_as_malformed() {
    for bad in ["", "hello", "gw1", "gwx:AAAA", "gw1:not base64!"] {
        match Schedule::from_token(bad) {
            Err(TokenError::Malformed(why)) => assert!(!why.is_empty()),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let t = sample_token();
    // Flip one character in the middle: the checksum no longer matches.
    let mut b = t.clone().into_bytes();
    let i = b.len() - 3;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(b).unwrap();
    let e = Schedule::from_token(&altered).unwrap_err();
    assert!(
        matches!(&e, TokenError::Malformed(w) if w.contains("checksum")),
        "{e:?}"
    );
    // Extra characters at the end.
    let e = Schedule::from_token(&format!("{t}AAAA")).unwrap_err();
    assert!(matches!(e, TokenError::Malformed(_)), "{e:?}");
    assert!(e.to_string().starts_with("malformed replay token:"), "{e}");
}

#[test]
fn truncated_tokens_are_refused_as_truncated() {
    let t = sample_token();
    for cut in [1, 2, 5, t.len() - 5] {
        let short = &t[..t.len() - cut];
        let e = Schedule::from_token(short).unwrap_err();
        assert!(
            matches!(e, TokenError::Truncated { .. }),
            "cut {cut}: {e:?}"
        );
        assert!(e.to_string().starts_with("truncated replay token:"), "{e}");
        assert!(e.to_string().contains("copy the whole token"), "{e}");
    }
}

#[test]
fn tokens_of_another_version_are_refused_by_version() {
    let t = sample_token();
    let v2 = t.replacen("gw1:", "gw2:", 1);
    let e = Schedule::from_token(&v2).unwrap_err();
    assert_eq!(e, TokenError::UnsupportedVersion { found: "2".into() });
    assert!(
        e.to_string().contains("this goweave reads gw1 tokens"),
        "{e}"
    );
}

#[test]
fn an_unreadable_token_is_an_error_value_with_the_reason() {
    let e = "gw9:AAAA".parse::<Schedule>().unwrap_err();
    assert!(matches!(e, TokenError::UnsupportedVersion { .. }), "{e}");
    assert!(
        e.to_string().contains("version gw9 is not supported"),
        "{e}"
    );
    let e = "@/no/such/token/file".parse::<Schedule>().unwrap_err();
    assert!(e.to_string().contains("/no/such/token/file"), "{e}");
}

/// Main does some locking, then two goroutines race; `extra` changes what main does first.
fn program(extra: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let m = Arc::new(Mutex::new(0u64));
        for _ in 0..40 {
            *m.lock() += 1;
            if extra {
                goweave::runtime::gosched();
            }
        }
        lost_update_3();
    }
}

#[test]
fn a_token_from_a_changed_program_is_reported_as_such() {
    let f = Checker::new()
        .iterations(1_000)
        .run(program(false))
        .unwrap_err();
    let r = goweave::replay(f.schedule(), program(true)).unwrap_err();
    assert_eq!(r.kind(), FailureKind::Nondeterminism, "{r}");
    assert!(
        r.report()
            .starts_with("replay: this token was recorded from a different program"),
        "{r}"
    );
    // The unchanged program still replays.
    let same = goweave::replay(f.schedule(), program(false)).unwrap_err();
    assert_eq!(same.report(), f.report());
}

#[test]
fn a_nondeterministic_program_is_reported_as_such() {
    // The number of goroutines depends on how often the program ran before.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let body = || {
        let m = Arc::new(Mutex::new(0u64));
        for _ in 0..40 {
            *m.lock() += 1;
        }
        let n = 2 + RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2;
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let m = m.clone();
                go(move || *m.lock() += 1)
            })
            .collect();
        for h in hs {
            h.join();
        }
    };
    let schedule = {
        let f = Checker::new()
            .iterations(1)
            .run(move || {
                body();
                panic!("record me");
            })
            .unwrap_err();
        f.original_token().unwrap().to_string()
    };
    let mut seen = false;
    for _ in 0..2 {
        if let Err(r) = goweave::replay(&schedule.parse().unwrap(), move || {
            body();
            panic!("record me");
        }) {
            if r.kind() == FailureKind::Nondeterminism {
                assert!(
                    r.report()
                        .starts_with("nondeterminism: the replay diverged"),
                    "{r}"
                );
                assert!(r.report().contains("probably nondeterministic"), "{r}");
                seen = true;
            }
        }
    }
    assert!(seen, "the divergence was not detected");
}
