//! Bug kernels shared by several test files (see `tests/README.md`).
#![allow(dead_code)]

use std::sync::Arc;

use goweave::runtime::gosched;

/// Two goroutines each read a counter and write it back plus one, through goweave's atomics
/// (each access is a scheduling point): an increment is lost when both read before either
/// writes. Panics with `lost update`.
pub fn lost_update() {
    use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
    let x = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let x = x.clone();
            goweave::go(move || {
                let v = x.load(SeqCst);
                x.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(x.load(SeqCst), 2, "lost update");
}

/// The same race through std's atomics, which the checker does not see: the only scheduling
/// point between the read and the write is a `gosched`. Panics with `an increment was lost`.
pub fn lost_update_yielding() {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    let n = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            goweave::go(move || {
                let v = n.load(SeqCst);
                gosched();
                n.store(v + 1, SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(n.load(SeqCst), 2, "an increment was lost");
}

/// A lost condition-variable signal between a polling loop and an abort path, in the shape of
/// Go code that polls for cancellation with a zero-length timer between checks.
///
/// A watchdog polls `done` (a `select` with `default`, then `<-time.After(0)`) and, once
/// `done` is closed, sets `aborted` and signals, *without holding the mutex*. A worker,
/// started late (main first sleeps for a second, longer than virtual time may run ahead of a
/// runnable goroutine, so the watchdog has polled by then), waits under the mutex until
/// `ready` or `aborted`. If the watchdog's store and signal fall between the worker's check of
/// `aborted` and its wait, the signal wakes nobody and the worker waits for ever: a deadlock
/// (`sync.Cond.Wait`). The watchdog has been polling, so its steps follow yields.
pub fn lost_signal_polling() {
    signal_polling(false)
}

/// [`lost_signal_polling`] with the abort path fixed (`fixed`: it sets `aborted` under the
/// mutex, so the signal cannot fall between the worker's check and its wait), or not.
pub fn signal_polling(fixed: bool) {
    use goweave::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use goweave::sync::{Cond, Mutex};
    use std::time::Duration;

    let st = Arc::new((Mutex::new(false), Cond::new(), AtomicBool::new(false)));
    let done = goweave::chan::make::<()>(0);
    let (s, d) = (st.clone(), done.clone());
    let watchdog = goweave::go(move || loop {
        goweave::select! {
            recv(d) -> _ => {
                let (ready, cond, aborted) = &*s;
                if fixed {
                    let _g = ready.lock();
                    aborted.store(true, SeqCst);
                } else {
                    aborted.store(true, SeqCst);
                }
                cond.signal();
                return;
            },
            default => {},
        }
        goweave::time::after(Duration::ZERO).recv();
    });
    goweave::time::sleep(Duration::from_secs(1));
    let s = st.clone();
    let worker = goweave::go(move || {
        let (ready, cond, aborted) = &*s;
        let mut r = ready.lock();
        while !*r && !aborted.load(SeqCst) {
            r = cond.wait(r);
        }
    });
    done.close();
    worker.join();
    watchdog.join();
}

/// Two goroutines take turns under one lock, `rounds` turns each: `a += b` and `b += a`.
/// Only strict alternation (`2 · rounds - 1` switches) takes one of them to the Fibonacci
/// number `2 · rounds + 2`, `limit`.
pub fn alternation(rounds: usize, limit: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let ab = Arc::new(goweave::sync::Mutex::new((1u64, 1u64)));
        let turns = |first: bool| {
            let ab = ab.clone();
            goweave::go(move || {
                for _ in 0..rounds {
                    let mut g = ab.lock();
                    if first {
                        g.0 += g.1;
                    } else {
                        g.1 += g.0;
                    }
                }
            })
        };
        let (x, y) = (turns(true), turns(false));
        x.join();
        y.join();
        let (a, b) = *ab.lock();
        assert!(a < limit && b < limit, "alternated: a={a} b={b}");
    }
}

/// Two bugs in one program, for reports of every distinct failure (`all_failures`): an
/// unsynchronised write (a race in every schedule), and a panic (`the send came first`) in the
/// schedules where the child's send reaches the buffer before main looks. The exhaustive
/// search meets the race first.
pub fn race_and_panic() {
    let cell = Arc::new(goweave::cell::RaceCell::new(0));
    let ch = goweave::chan::make(1);
    let (c, tx) = (cell.clone(), ch.clone());
    let h = goweave::go(move || {
        tx.send(1);
        c.set(1);
    });
    assert!(ch.try_recv().is_err(), "the send came first");
    cell.set(2);
    h.join();
}
