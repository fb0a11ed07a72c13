//! `select_async!`, and futures from a runtime-agnostic crate (`futures`: oneshot channels,
//! `join!`, its own executor) mixed with goweave's, on both executors; happens-before through
//! a foreign waker.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::on_both;
use goweave::cell::RaceCell;
use goweave::{chan, go, select_async, task, time, Checker, FailureKind};

#[test]
fn select_async_takes_the_ready_case_and_waits_for_one() {
    on_both(|| {
        let (a, b) = (chan::make::<u32>(0), chan::make::<u32>(1));
        b.send(7);
        let (a2, b2) = (a.clone(), b.clone());
        let got = task::spawn(async move {
            let first = select_async! {
                recv(a2) -> v => ("a", v),
                recv(b2) -> v => ("b", v),
            };
            // Nothing ready now: it waits until the goroutine below sends on `a`.
            let second = select_async! {
                recv(a2) -> v => ("a", v),
                recv(b2) -> v => ("b", v),
            };
            (first, second)
        });
        go(move || a.send(9));
        // Both orders are possible (the send on `a` may come before the first select).
        let (x, y) = got.join();
        let mut both = [x, y];
        both.sort();
        assert_eq!(both, [("a", Some(9)), ("b", Some(7))]);
    });
}

#[test]
fn select_async_default_send_nil_and_timeout() {
    on_both(|| {
        let ch = chan::make::<u32>(1);
        let rx = ch.clone();
        let h = task::spawn(async move {
            let none: Option<chan::Chan<u32>> = None;
            let d = select_async! {
                recv(none) -> _ => "nil",
                default => "default",
            };
            select_async! {
                send(ch, 5) => {},
            }
            let t = select_async! {
                recv(none) -> _ => "nil",
                recv(time::after(Duration::from_millis(2))) => "timeout",
            };
            (d, t)
        });
        assert_eq!(h.join(), ("default", "timeout"));
        assert_eq!(rx.recv(), Some(5));
    });
}

#[test]
fn select_async_completes_exactly_one_case_under_every_schedule() {
    // Two senders race for one select that takes one value; the other stays buffered-free and
    // must still be receivable (no value lost, none taken twice).
    Checker::new()
        .iterations(300)
        .run(|| {
            let (a, b) = (chan::make::<u32>(0), chan::make::<u32>(0));
            let (a2, b2) = (a.clone(), b.clone());
            go(move || a2.send(1));
            go(move || b2.send(2));
            let (a3, b3) = (a.clone(), b.clone());
            let got = task::spawn(async move {
                select_async! {
                    recv(a3) -> v => v.unwrap(),
                    recv(b3) -> v => v.unwrap(),
                }
            })
            .join();
            let other = if got == 1 { b.recv() } else { a.recv() };
            assert_eq!(got + other.unwrap(), 3);
        })
        .unwrap();
}

#[test]
fn a_select_async_with_no_cases_is_a_leak_not_a_hang() {
    let err = Checker::new()
        .iterations(1)
        .run(|| {
            let none: Option<chan::Chan<u32>> = None;
            let other: Option<chan::Chan<u32>> = None;
            task::spawn(async move {
                select_async! {
                    recv(none) -> _ => {},
                    recv(other) -> _ => {},
                }
            })
            .join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Leak, "{err}");
    assert!(
        err.to_string()
            .contains("task 2 [await (no waker registered)]"),
        "{err}"
    );
}

#[test]
fn futures_oneshot_and_join_work_unchanged() {
    on_both(|| {
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let (tx2, rx2) = futures::channel::oneshot::channel::<u32>();
        let h = task::spawn(async move {
            let (a, b) = futures::join!(rx, rx2);
            a.unwrap() + b.unwrap()
        });
        go(move || tx.send(40).unwrap());
        task::spawn(async move { tx2.send(2).unwrap() });
        assert_eq!(h.join(), 42);
    });
}

#[test]
fn goweave_futures_run_on_the_futures_executor_inside_a_goroutine() {
    // Another executor (futures' block_on, which parks the thread) driving goweave's channel
    // futures from a goroutine of the work-stealing runtime: only wakers connect them.
    common::on_steal(|| {
        let ch = chan::make::<u32>(0);
        let tx = ch.clone();
        let t = std::thread::spawn(move || {
            futures::executor::block_on(async move { tx.send_async(5).await });
        });
        assert_eq!(task::block_on(ch.recv_async()), Some(5));
        t.join().unwrap();
    });
}

#[test]
fn a_wake_through_a_foreign_channel_orders_memory_for_the_race_detector() {
    // The value is written before the oneshot send and read after the receive, which the reader
    // awaits first (the writer sleeps a second of virtual time, longer than the checker lets a
    // runnable task wait): the wake and the poll it causes are a happens-before edge, so there
    // is no race. (A foreign channel found ready at the first poll involves no wake, and its
    // own synchronisation is invisible to the detector: see the `task` module docs.)
    Checker::new()
        .iterations(200)
        .run(|| {
            let cell = Arc::new(RaceCell::named("payload", 0u32));
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            let c = cell.clone();
            let reader = task::spawn(async move {
                rx.await.unwrap();
                c.get()
            });
            let c = cell.clone();
            go(move || {
                time::sleep(Duration::from_secs(1));
                c.set(7);
                tx.send(()).unwrap();
            });
            assert_eq!(reader.join(), 7);
        })
        .unwrap();
    // Without the hand-off the same accesses race, and the detector says so.
    let err = Checker::new()
        .iterations(200)
        .run(|| {
            let cell = Arc::new(RaceCell::named("payload", 0u32));
            let c = cell.clone();
            let reader = task::spawn(async move { c.get() });
            let c = cell.clone();
            task::spawn(async move { c.set(7) });
            reader.join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Race, "{err}");
}
