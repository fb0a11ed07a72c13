//! `goweave::context` conformance, on both executors.

mod common;

use std::sync::Arc;

use common::{on_both, on_controlled};
use goweave::cell::RaceCell;
use goweave::context::{self, ContextError};
use goweave::runtime::gosched;
use goweave::time::{self, Duration};
use goweave::{go, select, Checker, FailureKind};

/// True if the done channel is closed (a receive completes at once with `None`).
fn is_closed(ctx: &context::Context) -> bool {
    select! {
        recv(ctx.done()) -> v => {
            assert!(v.is_none(), "done channels carry no values");
            true
        },
        default => false,
    }
}

#[test]
fn cancellation_propagates_down_the_tree_only() {
    on_both(|| {
        let root = context::background();
        let (a, cancel_a) = context::with_cancel(&root);
        let (b, _cancel_b) = context::with_cancel(&a);
        let v = context::with_value(&b, "k", 1u8);
        let (c, _cancel_c) = context::with_cancel(&v);
        let (sibling, cancel_sibling) = context::with_cancel(&root);
        for x in [&a, &b, &v, &c, &sibling] {
            assert_eq!(x.err(), None);
            assert!(!is_closed(x));
        }
        cancel_a.cancel();
        for x in [&a, &b, &v, &c] {
            assert_eq!(x.err(), Some(ContextError::Canceled));
            assert!(is_closed(x));
        }
        assert_eq!(sibling.err(), None);
        assert!(!is_closed(&sibling));
        assert_eq!(root.err(), None);
        cancel_sibling.cancel();
        assert_eq!(sibling.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn cancel_is_idempotent_and_the_first_reason_sticks() {
    on_both(|| {
        let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
        cancel.cancel();
        // Virtual time may pass at any decision, so the deadline may have won the race.
        let first = ctx.err().expect("cancelled");
        cancel.clone().cancel();
        time::sleep(Duration::from_millis(5));
        assert_eq!(ctx.err(), Some(first));
        if first == ContextError::Canceled {
            assert_eq!(ctx.err().unwrap().to_string(), "context canceled");
        }
    });
}

#[test]
fn children_of_a_cancelled_context_are_born_cancelled() {
    on_both(|| {
        let (p, cancel) = context::with_cancel(&context::background());
        cancel.cancel();
        let (c, _) = context::with_cancel(&p);
        assert_eq!(c.err(), Some(ContextError::Canceled));
        assert!(is_closed(&c));
        let (d, _) = context::with_timeout(&p, Duration::from_secs(1));
        assert_eq!(d.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn a_blocked_goroutine_wakes_on_cancel_from_another() {
    on_both(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let ctx = ctx.clone();
                go(move || {
                    let done = ctx.done();
                    let _ = done.recv();
                    ctx.err()
                })
            })
            .collect();
        gosched();
        cancel.cancel();
        for w in workers {
            assert_eq!(w.join(), Some(ContextError::Canceled));
        }
    });
}

#[test]
fn deadlines_fire_on_the_executor_clock() {
    on_both(|| {
        let start = time::now();
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(20));
        let d = ctx.deadline().unwrap();
        assert!(
            d >= start + Duration::from_millis(20) && d <= time::now() + Duration::from_millis(20)
        );
        let other = goweave::chan::make::<()>(0);
        let why = select! {
            recv(other) => None,
            recv(ctx.done()) => ctx.err(),
        };
        assert_eq!(why, Some(ContextError::DeadlineExceeded));
        assert_eq!(why.unwrap().to_string(), "context deadline exceeded");
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn an_hour_long_timeout_is_instant_in_virtual_time() {
    let t = std::time::Instant::now();
    on_controlled(5, || {
        let start = time::now();
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_secs(3600));
        let _ = ctx.done().recv();
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    });
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn the_earlier_deadline_wins() {
    on_both(|| {
        let root = context::background();
        let (p, _cp) = context::with_timeout(&root, Duration::from_millis(10));
        let (c, _cc) = context::with_timeout(&p, Duration::from_secs(3600));
        assert_eq!(c.deadline(), p.deadline());
        let (short, _cs) = context::with_timeout(&c, Duration::from_millis(1));
        assert!(short.deadline() < p.deadline());
        let _ = c.done().recv();
        assert_eq!(c.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(short.err(), Some(ContextError::DeadlineExceeded));
        // A deadline already past cancels at once.
        let (past, _) = context::with_deadline(&root, time::now());
        assert_eq!(past.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn values_are_found_up_the_chain() {
    #[derive(PartialEq)]
    struct User;
    #[derive(PartialEq)]
    struct Trace(u8);
    on_both(|| {
        let root = context::background();
        let a = context::with_value(&root, User, String::from("gopher"));
        let (b, _) = context::with_cancel(&a);
        let c = context::with_value(&b, Trace(1), 7u32);
        let d = context::with_value(&c, User, String::from("shadow"));
        assert_eq!(c.value::<User, String>(&User).unwrap(), "gopher");
        assert_eq!(d.value::<User, String>(&User).unwrap(), "shadow");
        assert_eq!(d.value::<Trace, u32>(&Trace(1)), Some(&7));
        assert_eq!(d.value::<Trace, u32>(&Trace(2)), None);
        assert_eq!(d.value::<Trace, u64>(&Trace(1)), None);
        assert_eq!(root.value::<User, String>(&User), None);
    });
}

#[test]
fn background_is_never_done() {
    on_both(|| {
        let bg = context::background();
        assert_eq!(bg.err(), None);
        assert_eq!(bg.deadline(), None);
        assert!(!is_closed(&bg));
        assert!(!is_closed(&context::todo()));
    });
}

#[test]
fn waiting_on_a_context_nobody_cancels_is_a_deadlock() {
    let err = Checker::new()
        .run(|| {
            let (ctx, _cancel) = context::with_cancel(&context::background());
            let _ = ctx.done().recv();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    assert!(
        err.report().contains("goroutine 1 [chan receive]:"),
        "{err}"
    );
}

#[test]
fn context_cancel_orders_before_an_observing_err() {
    on_controlled(100, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let cell = Arc::new(RaceCell::new(0));
        let c2 = cell.clone();
        go(move || {
            c2.set(1);
            cancel.cancel();
        });
        while ctx.err().is_none() {
            gosched();
        }
        assert_eq!(cell.get(), 1);
    });
}
