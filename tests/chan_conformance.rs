//! Channel conformance: Go's channel semantics, every behaviour on both executors.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{on_both, on_controlled, on_steal};
use goweave::chan::{self, Chan, TryRecvError, TrySendError};
use goweave::runtime::gosched;
use goweave::{go, recover, time, Checker, FailureKind};

/// Counts drops, to check that values are neither lost nor dropped twice.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Give the other goroutines time to block. Only ever a hint: assertions never depend on it
/// (the controlled executor may let virtual time pass while others still run, and a loaded
/// machine may delay them).
fn settle() {
    time::sleep(Duration::from_millis(2));
}

#[test]
fn unbuffered_send_completes_only_when_a_receiver_takes_the_value() {
    on_both(|| {
        let ch = chan::make::<u32>(0);
        let sent = Arc::new(AtomicBool::new(false));
        let (c, s) = (ch.clone(), sent.clone());
        let h = go(move || {
            c.send(7);
            s.store(true, SeqCst);
        });
        settle();
        for _ in 0..5 {
            gosched();
        }
        assert!(
            !sent.load(SeqCst),
            "an unbuffered send completed without a receiver"
        );
        assert_eq!(ch.recv(), Some(7));
        h.join();
        assert!(sent.load(SeqCst));
    });
}

/// The k-th receive happens before the (k+C)-th send completes: after send number i returns,
/// the receiver has finished at least i - C receives (and what it did after them).
fn kth_receive_before_k_plus_c_send(cap: usize) {
    const N: usize = 200;
    let ch = chan::make::<usize>(cap);
    let received = Arc::new(AtomicUsize::new(0));
    let (c, r) = (ch.clone(), received.clone());
    let h = go(move || {
        let mut want = 0;
        for v in &c {
            assert_eq!(v, want, "out of order");
            want += 1;
            r.fetch_add(1, SeqCst);
        }
        want
    });
    for i in 0..N {
        ch.send(i);
        let done = received.load(SeqCst);
        assert!(
            done + cap >= i,
            "send {i} completed but only {done} receives finished (cap {cap})"
        );
    }
    ch.close();
    assert_eq!(h.join(), N);
}

#[test]
fn rendezvous_ordering() {
    on_both(|| kth_receive_before_k_plus_c_send(0));
}

#[test]
fn buffered_ordering_k_plus_c() {
    on_both(|| kth_receive_before_k_plus_c_send(3));
}

#[test]
fn buffered_channel_is_fifo_per_sender_and_loses_nothing() {
    on_both(|| {
        const P: usize = 3;
        const N: usize = 300;
        let ch = chan::make::<(usize, usize)>(10);
        let hs: Vec<_> = (0..P)
            .map(|p| {
                let c = ch.clone();
                go(move || {
                    for i in 0..N {
                        c.send((p, i));
                    }
                })
            })
            .collect();
        let mut next = [0usize; P];
        for _ in 0..P * N {
            let (p, i) = ch.recv().unwrap();
            assert_eq!(i, next[p], "producer {p} out of order");
            next[p] += 1;
        }
        for h in hs {
            h.join();
        }
        assert_eq!(next, [N; P]);
        assert!(ch.is_empty());
    });
}

#[test]
fn buffered_send_does_not_block_until_full() {
    on_both(|| {
        let ch = chan::make::<i32>(3);
        for i in 0..3 {
            ch.send(i);
        }
        assert_eq!(ch.len(), 3);
        assert_eq!(ch.cap(), 3);
        assert!(matches!(ch.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(
            (ch.recv(), ch.recv(), ch.recv()),
            (Some(0), Some(1), Some(2))
        );
    });
}

#[test]
fn blocked_sender_on_full_buffer_keeps_fifo_order() {
    on_both(|| {
        let ch = chan::make::<i32>(2);
        ch.send(1);
        ch.send(2);
        let c = ch.clone();
        let h = go(move || c.send(3));
        settle();
        assert_eq!(ch.recv(), Some(1));
        assert_eq!(ch.recv(), Some(2));
        assert_eq!(ch.recv(), Some(3));
        h.join();
    });
}

#[test]
fn close_while_draining() {
    on_both(|| {
        let ch = chan::make::<i32>(5);
        for i in 1..=3 {
            ch.send(i);
        }
        ch.close();
        assert_eq!(ch.len(), 3);
        assert_eq!(ch.recv(), Some(1));
        assert_eq!(ch.try_recv(), Ok(2));
        assert_eq!(ch.recv(), Some(3));
        assert_eq!(ch.recv(), None);
        assert_eq!(ch.recv(), None);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn close_wakes_every_blocked_receiver() {
    on_both(|| {
        let ch = chan::make::<i32>(0);
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let c = ch.clone();
                go(move || c.recv())
            })
            .collect();
        settle();
        ch.close();
        for h in hs {
            assert_eq!(h.join(), None);
        }
    });
}

#[test]
fn close_lets_receivers_drain_then_ends_range_loops() {
    on_both(|| {
        let ch = chan::make::<u64>(4);
        let c = ch.clone();
        let h = go(move || c.iter().sum::<u64>());
        for i in 1..=100 {
            ch.send(i);
        }
        ch.close();
        assert_eq!(h.join(), 5050);
    });
}

#[test]
fn send_on_closed_channel_panics_with_gos_message() {
    on_both(|| {
        let ch = chan::make::<i32>(1);
        ch.close();
        let p = recover(|| ch.send(1)).unwrap_err();
        assert_eq!(p.message(), "send on closed channel");
        assert!(
            p.location().contains("chan_conformance.rs"),
            "{}",
            p.location()
        );
        let p = recover(|| ch.sender().send(1)).unwrap_err();
        assert_eq!(p.message(), "send on closed channel");
    });
}

#[test]
fn blocked_sender_panics_when_the_channel_is_closed() {
    // A close that nothing orders after a send is also a data race (Go's `-race` reports it,
    // and so does goweave's detector: tests/race_go_coverage.rs); this test is about the
    // panic, so the checker runs it with the detector off.
    let body = || {
        for cap in [0, 1] {
            let ch = chan::make::<Box<i32>>(cap);
            if cap == 1 {
                ch.send(Box::new(0));
            }
            let c = ch.clone();
            let h = go(move || {
                recover(|| c.send(Box::new(1)))
                    .unwrap_err()
                    .message()
                    .to_string()
            });
            settle(); // the sender blocks
            ch.close();
            assert_eq!(h.join(), "send on closed channel");
            if cap == 1 {
                assert_eq!(ch.recv(), Some(Box::new(0)));
            }
            assert_eq!(ch.recv(), None);
        }
    };
    on_steal(body);
    if let Err(e) = Checker::new()
        .iterations(20)
        .seed(7)
        .race_detection(false)
        .run(body)
    {
        panic!("controlled run failed:\n{e}");
    }
}

#[test]
fn close_of_closed_channel_panics_with_gos_message() {
    on_both(|| {
        let ch = chan::make::<i32>(0);
        ch.close();
        let p = recover(|| ch.close()).unwrap_err();
        assert_eq!(p.message(), "close of closed channel");
        assert!(
            p.location().contains("chan_conformance.rs"),
            "{}",
            p.location()
        );
    });
}

#[test]
fn try_send_and_try_recv() {
    on_both(|| {
        let ch = chan::make::<i32>(1);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(ch.try_send(1), Ok(()));
        let e = ch.try_send(2).unwrap_err();
        assert!(e.is_full());
        assert_eq!(e.into_inner(), 2);
        assert_eq!(ch.try_recv(), Ok(1));
        ch.close();
        assert!(matches!(ch.try_send(3), Err(TrySendError::Closed(3))));
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));

        // Unbuffered: try_send succeeds only if a receiver is waiting.
        let ch = chan::make::<i32>(0);
        assert!(matches!(ch.try_send(1), Err(TrySendError::Full(1))));
        let c = ch.clone();
        let h = go(move || c.recv());
        // Polls until the receiver waits (no timing assumption: the controlled executor may
        // also let virtual time pass while the receiver is still on its way).
        while let Err(e) = ch.try_send(5) {
            assert!(e.is_full());
            gosched();
        }
        assert_eq!(h.join(), Some(5));
        // ... and try_recv only if a sender is waiting.
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        let c = ch.clone();
        let h = go(move || c.send(6));
        let v = loop {
            match ch.try_recv() {
                Ok(v) => break v,
                Err(e) => assert_eq!(e, TryRecvError::Empty),
            }
            gosched();
        };
        assert_eq!(v, 6);
        h.join();
    });
}

#[test]
fn directional_views_and_identity() {
    on_both(|| {
        let ch = chan::make::<String>(2);
        let (tx, rx) = (ch.sender(), ch.receiver());
        assert_eq!(tx.cap(), 2);
        tx.send("a".into());
        assert_eq!(rx.len(), 1);
        assert_eq!(ch.clone(), ch);
        assert_ne!(chan::make::<String>(2), ch);
        assert_eq!(tx.clone(), ch.sender());
        let h = go(move || rx.into_iter().collect::<Vec<_>>());
        tx.send("b".into());
        tx.close();
        assert_eq!(h.join(), ["a", "b"]);
    });
}

#[test]
fn many_producers_and_consumers_sum() {
    on_both(|| {
        for cap in [0, 1, 64] {
            let ch = chan::make::<u64>(cap);
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let c = ch.clone();
                    go(move || {
                        for i in 0..250 {
                            c.send(p * 1000 + i);
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let c = ch.clone();
                    go(move || c.iter().sum::<u64>())
                })
                .collect();
            for p in producers {
                p.join();
            }
            ch.close();
            let total: u64 = consumers.into_iter().map(|h| h.join()).sum();
            let want: u64 = (0..4u64)
                .map(|p| (0..250).map(|i| p * 1000 + i).sum::<u64>())
                .sum();
            assert_eq!(total, want, "cap {cap}");
        }
    });
}

#[test]
fn buffered_values_are_dropped_with_the_channel() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    on_steal(move || {
        let ch = chan::make::<Counted>(3);
        for _ in 0..3 {
            ch.send(Counted(d.clone()));
        }
        drop(ch.recv());
        drop(ch);
    });
    assert_eq!(drops.load(SeqCst), 3);
}

/// Runs `f` under `n` schedules where goroutines are meant to be left blocked when main
/// returns: a leak report (if the checker looks for leaks) is expected, anything else fails.
/// Returns the leak report, if any.
fn on_controlled_leaving_goroutines(
    n: u64,
    f: impl Fn() + Send + Sync + 'static,
) -> Option<String> {
    match Checker::new().iterations(n).seed(7).run(f) {
        Ok(_) => None,
        Err(e) if e.kind() == FailureKind::Leak => Some(e.report().to_string()),
        Err(e) => panic!("controlled run failed:\n{e}"),
    }
}

#[test]
fn goroutines_blocked_on_channels_are_torn_down_when_main_returns() {
    let made = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (m, d) = (made.clone(), drops.clone());
    let body = move || {
        let counted = || {
            m.fetch_add(1, SeqCst);
            Counted(d.clone())
        };
        let ch = chan::make::<Counted>(0);
        let c = ch.clone();
        let v = counted();
        go(move || c.send(v));
        let c = ch.clone();
        go(move || c.recv());
        let c = ch.clone();
        let v = counted();
        go(move || {
            goweave::select! {
                send(c, v) => {},
                recv(chan::make::<()>(0)) => {},
            }
        });
        settle();
        // Main returns with goroutines still blocked (or matched): they are torn down, their
        // waiters unqueued, and every value is dropped exactly once.
    };
    on_steal(body.clone());
    assert_eq!(made.load(SeqCst), 2);
    assert_eq!(drops.load(SeqCst), 2, "every value dropped exactly once");
    if let Some(report) = on_controlled_leaving_goroutines(20, body) {
        assert!(report.contains("found unexpected goroutines:"), "{report}");
    }
    assert_eq!(
        drops.load(SeqCst),
        made.load(SeqCst),
        "every value dropped exactly once"
    );
}

/// Runs `f` once on the controlled executor; it must deadlock. Returns the report.
fn deadlock_report(f: impl Fn() + Send + Sync + 'static) -> String {
    let e = Checker::new().iterations(1).run(f).unwrap_err();
    assert_eq!(e.kind(), FailureKind::Deadlock, "{e}");
    e.report().to_string()
}

#[test]
fn blocked_operations_record_gos_wait_reasons() {
    let r = deadlock_report(|| {
        chan::make::<i32>(0).recv();
    });
    assert!(r.contains("goroutine 1 [chan receive]:"), "{r}");
    assert!(r.contains("chan_conformance.rs"), "{r}");

    let r = deadlock_report(|| chan::make::<i32>(0).send(1));
    assert!(r.contains("goroutine 1 [chan send]:"), "{r}");

    let r = deadlock_report(|| {
        let ch = chan::make::<i32>(0);
        let c = ch.clone();
        go(move || c.send(1));
        go(move || chan::make::<i32>(1).recv());
        let never = chan::make::<i32>(0);
        never.recv();
    });
    assert!(r.contains("goroutine 1 [chan receive]:"), "{r}");
    assert!(r.contains("goroutine 2 [chan send]:"), "{r}");
    assert!(r.contains("goroutine 3 [chan receive]:"), "{r}");
}

#[test]
fn a_closed_channel_never_blocks_receivers_in_any_schedule() {
    on_controlled(50, || {
        let ch: Chan<i32> = chan::make(0);
        let c = ch.clone();
        let h = go(move || (c.recv(), c.recv()));
        ch.close();
        assert_eq!(h.join(), (None, None));
    });
}
