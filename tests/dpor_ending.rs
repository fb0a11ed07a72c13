//! The end of a run under the partial-order reduction: with leak checking off, a run ends
//! when main returns, and goroutines still runnable then never take their next step. Which
//! steps ran before main returned is part of the trace: DPOR must reach what the plain search
//! (`dfs:plain`) reaches when it ends early.

use std::sync::Arc;
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::chan;
use goweave::{go, Checker, FailureKind, StrategyKind};

fn run(s: StrategyKind, body: fn()) -> Result<(), FailureKind> {
    Checker::new()
        .strategy(s)
        .shrink_budget(Duration::ZERO)
        .leak_check(false)
        .run(body)
        .map(|_| ())
        .map_err(|f| f.kind())
}

fn dpor() -> StrategyKind {
    StrategyKind::Dfs {
        max_preemptions: None,
    }
}

/// Main writes a cell and returns without joining the goroutine that writes it too: the
/// writes race only if the goroutine runs before main returns.
fn unjoined_writer() {
    let cell = Arc::new(RaceCell::new(0u64));
    let c = cell.clone();
    go(move || c.with_mut(|v| *v += 1));
    cell.with_mut(|v| *v += 1);
}

#[test]
fn a_goroutine_may_run_before_main_returns() {
    assert_eq!(
        run(StrategyKind::DfsPlain, unjoined_writer),
        Err(FailureKind::Race)
    );
    assert_eq!(run(dpor(), unjoined_writer), Err(FailureKind::Race));
}

/// From `DPOR_DIFF_SEED=373`, program 213 (main no longer joins the sender): a sender on an
/// unbuffered channel then writes a cell; a `select!` with `default` may take its value, then
/// writes the cell; main joins only the `select!`. The writes race when the sender parked
/// first and runs its write before main returns: DPOR explored 8 schedules without it when
/// the end of main was not taken to conflict with the steps it cuts off.
fn select_then_main_returns() {
    let a = chan::make::<u64>(0);
    let b = chan::make::<u64>(1);
    let cell = Arc::new(RaceCell::new(0u64));
    let _sender = {
        let (a, cell) = (a.clone(), cell.clone());
        go(move || {
            a.send(2);
            cell.with_mut(|v| *v += 1);
        })
    };
    let selector = go(move || {
        goweave::select! {
            recv(a) -> _v => {},
            recv(b) -> _v => {},
            default => {},
        }
        cell.with_mut(|v| *v += 1);
    });
    selector.join();
}

#[test]
fn a_woken_sender_may_run_before_main_returns() {
    assert_eq!(
        run(StrategyKind::DfsPlain, select_then_main_returns),
        Err(FailureKind::Race)
    );
    assert_eq!(
        run(dpor(), select_then_main_returns),
        Err(FailureKind::Race)
    );
}

/// Main joining every goroutine: nothing is cut off, and the count stays one schedule per
/// trace (two goroutines on their own cells: one trace).
#[test]
fn joined_goroutines_add_no_schedules() {
    let stats = Checker::new()
        .strategy(dpor())
        .leak_check(false)
        .run(|| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let c = RaceCell::new(0u64);
                    go(move || c.with_mut(|v| *v += 1))
                })
                .collect();
            for h in hs {
                h.join();
            }
        })
        .expect("no failure");
    assert!(stats.exhausted);
    assert_eq!(stats.schedules, 1);
}
