//! Channels' happens-before edges, as the race detector sees them on the controlled executor:
//! the Go memory model's three channel rules order the data they hand over (never reported),
//! and the same programs without the edge are reported.

use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::chan::{self, Chan};
use goweave::{go, select, Checker, FailureKind};

fn clean(f: impl Fn() + Send + Sync + 'static) {
    if let Err(e) = Checker::new().iterations(100).seed(5).run(f) {
        panic!("unexpected failure:\n{e}");
    }
}

fn racy(f: impl Fn() + Send + Sync + 'static) {
    let err = Checker::new().iterations(100).seed(5).run(f).unwrap_err();
    assert_eq!(err.kind(), FailureKind::Race, "{err}");
}

/// A send happens before the corresponding receive completes.
fn send_before_recv(cap: usize, write_after_send: bool) {
    let ch: Chan<()> = chan::make(cap);
    let cell = Arc::new(RaceCell::new(0));
    let (c2, cell2) = (ch.clone(), cell.clone());
    let h = go(move || {
        c2.recv();
        cell2.get()
    });
    if write_after_send {
        ch.send(());
        cell.set(1);
    } else {
        cell.set(1);
        ch.send(());
    }
    h.join();
}

#[test]
fn a_send_happens_before_its_receive_completes() {
    clean(|| send_before_recv(0, false));
    clean(|| send_before_recv(3, false));
    racy(|| send_before_recv(0, true));
    racy(|| send_before_recv(3, true));
}

/// The k-th receive happens before the (k+C)-th send completes (Go's memory model; for an
/// unbuffered channel: a receive happens before its send completes).
fn recv_before_send_k_plus_c(cap: usize, write_after_recv: bool) {
    let ch: Chan<u32> = chan::make(cap);
    let cell = Arc::new(RaceCell::new(0));
    let (c2, cell2) = (ch.clone(), cell.clone());
    let h = go(move || {
        if write_after_recv {
            c2.recv();
            cell2.set(1);
        } else {
            cell2.set(1);
            c2.recv();
        }
    });
    // Sends 1..=C fill the buffer; send C+1 completes only after the first receive.
    for i in 0..=cap as u32 {
        ch.send(i);
    }
    cell.get();
    h.join();
}

#[test]
fn the_kth_receive_happens_before_the_k_plus_c_th_send_completes() {
    clean(|| recv_before_send_k_plus_c(0, false));
    clean(|| recv_before_send_k_plus_c(1, false));
    clean(|| recv_before_send_k_plus_c(4, false));
    racy(|| recv_before_send_k_plus_c(0, true));
    racy(|| recv_before_send_k_plus_c(2, true));
}

#[test]
fn a_close_happens_before_a_receive_that_observes_it() {
    clean(|| {
        let ch: Chan<u32> = chan::make(0);
        let cell = Arc::new(RaceCell::new(0));
        let (c2, cell2) = (ch.clone(), cell.clone());
        let h = go(move || {
            assert_eq!(c2.recv(), None);
            cell2.get()
        });
        cell.set(1);
        ch.close();
        h.join();
    });
    // A receive of a value sent before the close is not ordered after the close.
    racy(|| {
        let ch: Chan<u32> = chan::make(1);
        let cell = Arc::new(RaceCell::new(0));
        ch.send(7);
        let (c2, cell2) = (ch.clone(), cell.clone());
        let h = go(move || {
            assert_eq!(c2.recv(), Some(7));
            cell2.get()
        });
        cell.set(1);
        ch.close();
        h.join();
    });
}

#[test]
fn a_blocked_sender_completing_into_the_buffer_hands_its_data_on() {
    // The sender blocks on a full buffer; a receiver moves its value into the buffer on its
    // behalf; a third goroutine receives that value and reads what the sender wrote.
    clean(|| {
        let ch: Chan<u32> = chan::make(1);
        let cell = Arc::new(RaceCell::new(0));
        ch.send(0);
        let (c2, cell2) = (ch.clone(), cell.clone());
        let s = go(move || {
            cell2.set(1);
            c2.send(1);
        });
        let c3 = ch.clone();
        let r = go(move || {
            assert_eq!(c3.recv(), Some(0));
            c3.recv()
        });
        assert_eq!(r.join(), Some(1));
        cell.get();
        s.join();
    });
}

#[test]
fn select_cases_carry_the_same_edges() {
    clean(|| {
        let (a, b): (Chan<u32>, Chan<u32>) = (chan::make(0), chan::make(1));
        let cell = Arc::new(RaceCell::new(0));
        let (a2, b2, cell2) = (a.clone(), b.clone(), cell.clone());
        let h = go(move || {
            cell2.set(1);
            select! {
                send(a2, 1) => {},
                send(b2, 2) => {},
            }
        });
        select! {
            recv(a) -> _ => {},
            recv(b) -> _ => {},
        }
        cell.get();
        h.join();
    });
    racy(|| {
        let a: Chan<u32> = chan::make(0);
        let cell = Arc::new(RaceCell::new(0));
        let (a2, cell2) = (a.clone(), cell.clone());
        let h = go(move || {
            select! { send(a2, 1) => {} , default => {} }
            cell2.set(1);
        });
        select! { recv(a) -> _ => {}, default => {} }
        cell.get();
        h.join();
    });
}
