//! The classic goroutine-leak patterns (issue 7): each buggy kernel must be reported as a leak by
//! the controlled executor's automatic check, and its fix must pass.

use std::time::Duration;

use goweave::{chan, context, go, select, time, Checker, FailureKind};

const SCHEDULES: u64 = 200;

/// The kernel must leak in some schedule; the report names the leaked goroutine's wait reason.
fn assert_leaks(reason: &str, f: impl Fn() + Send + Sync + 'static) {
    let err = Checker::new()
        .iterations(SCHEDULES)
        .run(f)
        .expect_err("the leak was not found");
    assert_eq!(err.kind(), FailureKind::Leak, "{err}");
    let r = err.to_string();
    assert!(r.starts_with("found unexpected goroutines:"), "{r}");
    assert!(r.contains(&format!("[{reason}]")), "{r}");
    assert!(r.contains("created by goroutine"), "{r}");
    assert!(r.contains("replay: GOWEAVE_REPLAY="), "{r}");
}

fn assert_clean(f: impl Fn() + Send + Sync + 'static) {
    if let Err(e) = Checker::new().iterations(SCHEDULES).run(f) {
        panic!("the fixed version failed:\n{e}");
    }
}

/// 1. A result sent on an unbuffered channel that the caller never reads: it returned early.
fn early_return(cap: usize) {
    let results = chan::make::<u32>(cap);
    let tx = results.clone();
    go(move || tx.send(42));
    let early = true;
    if early {
        return; // the error path: nobody receives
    }
    results.recv();
}

#[test]
fn pattern1_unread_result_after_early_return() {
    assert_leaks("chan send", || early_return(0));
    assert_clean(|| early_return(1));
}

/// 2. `select` between a result and a timeout: when the timeout wins, the sender leaks.
fn timeout_race(cap: usize) {
    let results = chan::make::<u32>(cap);
    let tx = results.clone();
    go(move || {
        time::sleep(Duration::from_millis(20));
        tx.send(1);
    });
    select! {
        recv(results) -> _ => {},
        recv(time::after(Duration::from_millis(10))) -> _ => {},
    }
}

#[test]
fn pattern2_sender_leaks_after_timeout() {
    assert_leaks("chan send", || timeout_race(0));
    assert_clean(|| timeout_race(1));
}

/// 3. A goroutine waiting on a context that is never cancelled.
fn forgotten_cancel(cancel_it: bool) {
    let (ctx, cancel) = context::with_cancel(&context::background());
    go(move || {
        ctx.done().recv();
    });
    if cancel_it {
        cancel.cancel();
    }
}

#[test]
fn pattern3_waiting_on_a_context_never_cancelled() {
    assert_leaks("chan receive", || forgotten_cancel(false));
    assert_clean(|| forgotten_cancel(true));
}

/// 4. A range over a channel that is never closed.
fn range_unclosed(close_it: bool) {
    let jobs = chan::make::<u32>(3);
    let rx = jobs.clone();
    go(move || for _ in &rx {});
    for i in 0..3 {
        jobs.send(i);
    }
    if close_it {
        jobs.close();
    }
}

#[test]
fn pattern4_range_over_a_channel_never_closed() {
    assert_leaks("chan receive", || range_unclosed(false));
    assert_clean(|| range_unclosed(true));
}

/// 5. A producer blocked on a full channel after its consumer returned on cancellation.
fn producer_outlives_consumer(fixed: bool) {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let items = chan::make::<u32>(1);
    let tx = items.clone();
    let pctx = ctx.clone();
    go(move || {
        for i in 0.. {
            if fixed {
                // The fix: the producer watches the context too.
                select! {
                    send(tx, i) => {},
                    recv(pctx.done()) => return,
                }
            } else {
                tx.send(i);
            }
        }
    });
    // The consumer takes one item, then gives up.
    items.recv();
    cancel.cancel();
}

#[test]
fn pattern5_producer_blocked_after_consumer_cancelled() {
    assert_leaks("chan send", || producer_outlives_consumer(false));
    assert_clean(|| producer_outlives_consumer(true));
}

/// 6. A goroutine that receives on a stop channel that nobody closes.
fn stop_channel(close_it: bool) {
    let stop = chan::make::<()>(0);
    let s = stop.clone();
    go(move || {
        s.recv();
    });
    if close_it {
        stop.close();
    }
}

#[test]
fn pattern6_stop_channel_never_closed() {
    assert_leaks("chan receive", || stop_channel(false));
    assert_clean(|| stop_channel(true));
}
