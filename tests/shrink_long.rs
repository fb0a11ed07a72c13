//! Shrinking long failing schedules (issue 16, item 3): a livelock of 100,000 steps and a
//! panic after 50,000 hand-offs keep their kind and come with a token under the default
//! budget, instead of ending as `Blocked` after gigabytes of candidate plans; and the checker
//! thread never outlives `Checker::run`, even when the watchdog gives up on it.
//! (Memory and the 1M-step case are measured in `benches/shrink_livelock.rs`.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use goweave::{chan, go, Checker, FailureKind};

/// Issue 16's livelock: a counter handed back and forth forever; with `panic_after`, the
/// main goroutine panics once the counter reaches it.
fn ping_pong(panic_after: Option<u64>) {
    let (a, b) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (a2, b2) = (a.clone(), b.clone());
    go(move || loop {
        let v = a2.recv().unwrap();
        b2.send(v + 1);
    });
    let mut v = 0;
    loop {
        a.send(v);
        v = b.recv().unwrap();
        if panic_after.is_some_and(|n| v >= n) {
            panic!("{v} hand-offs");
        }
    }
}

/// The generous wall bound beyond the shrinking budget: exploring to the failure, and the
/// report's replay, in a debug build on a loaded machine.
const SLACK: Duration = Duration::from_secs(20);

#[test]
fn the_issues_livelock_is_a_livelock_with_a_token_under_the_defaults() {
    let start = Instant::now();
    let f = Checker::new().run(|| ping_pong(None)).unwrap_err();
    let wall = start.elapsed();
    assert_eq!(f.kind(), FailureKind::Livelock, "{}", f.report());
    assert!(f.token().is_some_and(|t| !t.is_empty()));
    assert!(f.to_string().contains("shrunk from"), "{f}");
    assert!(wall < Duration::from_secs(5) + SLACK, "{wall:?}");
    // The token replays the same verdict.
    let again = goweave::replay(f.schedule(), || ping_pong(None)).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Livelock);
}

#[test]
fn a_panic_after_50000_hand_offs_keeps_its_kind_and_token() {
    let start = Instant::now();
    let budget = Duration::from_secs(2);
    let f = Checker::new()
        .max_steps(1_000_000)
        .shrink_budget(budget)
        .run(|| ping_pong(Some(50_000)))
        .unwrap_err();
    let wall = start.elapsed();
    assert_eq!(f.kind(), FailureKind::Panic, "{}", f.report());
    assert!(f.report().contains("50000 hand-offs"), "{}", f.report());
    assert!(f.token().is_some_and(|t| !t.is_empty()));
    assert!(wall < budget + SLACK, "{wall:?}");
}

/// Set when the checker thread exits (a thread-local's destructor runs on it).
static CHECKER_THREAD_EXITED: AtomicBool = AtomicBool::new(false);
/// Only the first schedule blocks outside goweave.
static SLEPT: AtomicBool = AtomicBool::new(false);

struct OnExit;
impl Drop for OnExit {
    fn drop(&mut self) {
        CHECKER_THREAD_EXITED.store(true, Ordering::SeqCst);
    }
}
thread_local! {
    static ON_EXIT: OnExit = const { OnExit };
}

#[test]
fn the_checker_thread_does_not_outlive_run_when_the_watchdog_fires() {
    let f = Checker::new()
        .watchdog(Duration::from_millis(100))
        .max_steps(u64::MAX)
        .run(|| {
            ON_EXIT.with(|_| {});
            if !SLEPT.swap(true, Ordering::SeqCst) {
                // Invisible to goweave: the watchdog fires, and stops the run once this
                // goroutine reaches a scheduling point again (it then hands off forever).
                std::thread::sleep(Duration::from_millis(300));
            }
            ping_pong(None);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Blocked, "{f}");
    assert!(f.report().contains("goroutine 1"), "{}", f.report());
    assert!(!f.to_string().contains("left behind"), "{f}");
    assert!(
        CHECKER_THREAD_EXITED.load(Ordering::SeqCst),
        "the checker thread is still running after Checker::run returned"
    );
}
