//! Running a program for real with recording, and turning a failed run into a checker
//! failure: linearise the logs, follow them under the checker, and hand back what it found
//! (shrunk, with its `gw1:` token).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::follow::{Follow, FollowReport};
use super::linearize::linearize;
use super::{Recording, Session};
use crate::check::{Checker, Failure};
use crate::explore::TimerMode;
use crate::runtime::Runtime;
use crate::verdict::FailureKind;

/// What a stress campaign did.
#[derive(Clone, Debug, Default)]
pub struct StressStats {
    /// Recorded runs that completed.
    pub runs: u64,
    /// Operations logged by the last run (all goroutines together).
    pub operations: u64,
    /// Wall-clock time of the campaign.
    pub elapsed: Duration,
}

/// Run `f` once on `rt` with recording (whatever `rt`'s own
/// [`record`](crate::Builder::record) setting). If the run fails (an unrecovered panic, the
/// runtime's deadlock check, a leak found by [`leak::verify_none`](crate::leak::verify_none), a
/// race with the `race` feature), its logs are merged and followed under the checker, and the
/// failure the checker then finds is returned: shrunk, Go-shaped, with its replay token.
///
/// A followed run that leaves the recording (the program depends on state goweave does not
/// see) is a [`FailureKind::Nondeterminism`] that names the step. A run whose recorded
/// failure the checker does not reproduce, or whose log outgrew its limit, is returned as a
/// failure of the real run's kind without a replay token, saying why.
///
/// ```
/// let rt = goweave::Runtime::builder().workers(2).build().unwrap();
/// let stats = goweave::record::run(&rt, || {
///     let ch = goweave::chan::make::<u32>(0);
///     let tx = ch.clone();
///     goweave::go(move || tx.send(7));
///     assert_eq!(ch.recv(), Some(7));
/// })
/// .unwrap();
/// assert!(stats.operations >= 3);
/// ```
#[track_caller]
pub fn run<F>(rt: &Runtime, f: F) -> Result<StressStats, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    run_named(rt, f, None)
}

/// [`run`], with the test name for the replay line (the harness's).
#[track_caller]
pub(crate) fn run_named<F>(rt: &Runtime, f: F, name: Option<&str>) -> Result<StressStats, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    let start = Instant::now();
    let f = Arc::new(f);
    let operations = once(rt, &f, name)?;
    Ok(StressStats {
        runs: 1,
        operations,
        elapsed: start.elapsed(),
    })
}

/// Run `f` up to `n` times on `rt` with recording, stopping at the first failure, which is
/// returned as [`run`] returns it: `go test -count=N` that ends in a deterministic replay.
/// `stop` ends the campaign early when set (by another job that failed first).
#[track_caller]
pub fn stress<F>(
    rt: &Runtime,
    n: u64,
    stop: Option<&AtomicBool>,
    f: F,
) -> Result<StressStats, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    let start = Instant::now();
    let f = Arc::new(f);
    let mut stats = StressStats::default();
    for _ in 0..n {
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        stats.operations = once(rt, &f, None)?;
        stats.runs += 1;
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

/// One recorded run; the number of operations logged, or the failure.
#[track_caller]
fn once<F>(rt: &Runtime, f: &Arc<F>, name: Option<&str>) -> Result<u64, Failure>
where
    F: Fn() + Send + Sync + 'static,
{
    let session = Session::new(rt.record_limit());
    let body = f.clone();
    let site = std::panic::Location::caller();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on_recorded(session.clone(), site, move || body())
    }));
    match result {
        Ok(()) => Ok(session.len() as u64),
        Err(payload) => {
            let rec = session.collect();
            drop(session);
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the run panicked".into());
            Err(follow(rec, msg, f, name))
        }
    }
}

/// The kind of failure a real run's final panic reports.
fn classify(msg: &str) -> FailureKind {
    if msg.contains("all goroutines are asleep - deadlock!") {
        FailureKind::Deadlock
    } else if msg.contains("found unexpected goroutines") {
        FailureKind::Leak
    } else if msg.contains("WARNING: DATA RACE") || msg.contains("data race(s)") {
        FailureKind::Race
    } else {
        FailureKind::Panic
    }
}

/// A failure that cannot be replayed, with the real run's report and why.
fn unreplayable(kind: FailureKind, real: &str, why: String) -> Failure {
    let mut f = Failure::new(
        kind,
        format!("{real}\n\n(on the work-stealing runtime, recorded)\n"),
    );
    f.0.replayable = false;
    f.0.found_by = "a recorded run on the work-stealing runtime".into();
    f.0.notes.push(why);
    f
}

/// The followed run left the recording (`why` says where): a `Nondeterminism` failure, with
/// the real run's report, and no token (what the token would replay is not the recorded run).
fn diverged(why: &str, real: &str) -> Failure {
    let mut f = Failure::new(
        FailureKind::Nondeterminism,
        format!("nondeterminism: the replay of a recorded run diverged: {why}\n\nthe recorded run (work-stealing runtime) failed with:\n{real}\n"),
    );
    f.0.replayable = false;
    f.0.found_by = "a recorded run on the work-stealing runtime, followed under the checker".into();
    f
}

/// Follow the failed run's logs under the checker (see [`run`]).
#[track_caller]
fn follow<F>(rec: Recording, real: String, f: &Arc<F>, name: Option<&str>) -> Failure
where
    F: Fn() + Send + Sync + 'static,
{
    let kind = classify(&real);
    if let Some(over) = rec.overflow.clone() {
        return unreplayable(kind, &real, format!("no replay token: {over}"));
    }
    let ops = rec.len();
    let (order, _forced) = linearize(&rec);
    let report = Arc::new(Mutex::new(FollowReport::default()));
    let strategy = Follow::new(Arc::new(rec), order, report.clone());
    let body = f.clone();
    let mut checker = Checker::new();
    if let Some(name) = name {
        checker = checker.test_name(name);
    }
    let found = checker
        .adapted_strategy(strategy)
        .iterations(1)
        .timers(TimerMode::AnyTime)
        .run(move || body());
    let rep = report.lock().unwrap_or_else(|p| p.into_inner());
    match (found, rep.diverged.clone()) {
        (_, Some(why)) => diverged(&why, &real),
        (Err(mut failure), None) => {
            failure.0.notes.push(format!(
                "recorded on the work-stealing runtime ({ops} operations logged) and followed under the checker ({} operations matched{}); the token replays the followed schedule",
                rep.matched,
                if rep.reordered > 0 { format!(", {} decisions reordered", rep.reordered) } else { String::new() }
            ));
            failure.0.found_by = format!("a recorded run on the work-stealing runtime ({})", failure.0.found_by);
            failure
        }
        (Ok(_), None) => unreplayable(
            kind,
            &real,
            format!(
                "no replay token: the checker followed the {ops} recorded operations ({} matched) and the run passed; the failure depends on an order goweave did not record (see the README's limits of recording)",
                rep.matched
            ),
        ),
    }
}
