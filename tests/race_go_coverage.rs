//! The race reports Go's `-race` gives beyond plain memory accesses (issue 17, race coverage),
//! written from Go's documentation and its race annotations:
//!
//! - `sync.WaitGroup`: "calls with a positive delta that occur when the counter is zero must
//!   happen before a Wait"; Go's detector models the first `Add` as a read and the first
//!   blocking `Wait` as a write of the group, so an unordered pair is a data race.
//! - channels: a send is a read of the channel and `close` a write (`chansend`, `selectgo`,
//!   `closechan`), so a send and a close that nothing orders race; `len`, `cap` and receives
//!   never race with `close`.
//! - one variable reached both through `sync/atomic` and plainly: atomic accesses never race
//!   with each other; an atomic access and an unordered plain one (one a write) do; atomics
//!   are sequentially consistent, so an atomic store observed by an atomic load orders what
//!   came before it.
//!
//! Each scenario is a `fn(racy: bool)` that runs unchanged under the checker (200 schedules:
//! the synchronised variant is never reported, the racy one is) and, with `--features race`,
//! on the work-stealing runtime, where the racy variant is built so that both accesses happen
//! in every execution with nothing ordering them (flags in *std* atomics, which goweave does
//! not see, sequence them in time without a happens-before edge).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use goweave::cell::RaceCell;
use goweave::runtime::gosched;
use goweave::sync::WaitGroup;
use goweave::{chan, go, select, Checker, FailureKind};

/// Spin (yielding) until `flag` is set: orders in time, not in happens-before.
fn spin_until(flag: &AtomicBool) {
    while !flag.load(Relaxed) {
        gosched();
    }
}

// ------------------------------------------------------------------------------ scenarios

/// Go's classic misuse: `wg.Add(1)` inside the goroutine, so the `Add` from zero is not ordered
/// before `Wait`. The fix adds before `go`.
fn waitgroup_add_inside_goroutine(racy: bool) {
    let wg = WaitGroup::new();
    let added = Arc::new(AtomicBool::new(false));
    if !racy {
        wg.add(1);
    }
    let (wg2, added2) = (wg.clone(), added.clone());
    let h = go(move || {
        if racy {
            wg2.add(1);
        }
        added2.store(true, Relaxed);
        // Done only once main sleeps in `wait` (the waiter count, read without any edge),
        // so that the wait blocks in every execution.
        while !format!("{wg2:?}").contains("waiters: 1") {
            gosched();
        }
        wg2.done();
    });
    spin_until(&added);
    wg.wait();
    h.join();
}

/// A WaitGroup reused for a second round: the second round's `Add` must come after the first
/// `Wait` returned. The racy variant's worker starts round two itself, unordered with main's
/// wait.
fn waitgroup_reuse(racy: bool) {
    let wg = WaitGroup::new();
    wg.add(1);
    let round2 = Arc::new(AtomicBool::new(false));
    let (wg2, round2b) = (wg.clone(), round2.clone());
    let h = go(move || {
        while !format!("{wg2:?}").contains("waiters: 1") {
            gosched();
        }
        wg2.done();
        if racy {
            wg2.add(1); // round two starts while main may still be in round one's wait
            round2b.store(true, Relaxed);
            wg2.done();
        }
    });
    wg.wait();
    if !racy {
        h.join(); // round one is over for everyone
        wg.add(1);
        let wg3 = wg.clone();
        go(move || {
            while !format!("{wg3:?}").contains("waiters: 1") {
                gosched();
            }
            wg3.done()
        });
        wg.wait();
    } else {
        spin_until(&round2);
        h.join();
        // The second round's wait: its registration is the write that races with the add.
        wg.add(1);
        let wg3 = wg.clone();
        go(move || {
            while !format!("{wg3:?}").contains("waiters: 1") {
                gosched();
            }
            wg3.done()
        });
        wg.wait();
    }
}

/// A send and a close of one channel. The fix receives the value (the send happens before the
/// receive) before closing.
fn chan_send_vs_close(racy: bool) {
    let ch = chan::make::<u32>(1);
    let sent = Arc::new(AtomicBool::new(false));
    let (tx, sent2) = (ch.clone(), sent.clone());
    let h = go(move || {
        tx.send(1);
        sent2.store(true, Relaxed);
    });
    if racy {
        spin_until(&sent);
    } else {
        assert_eq!(ch.recv(), Some(1));
    }
    ch.close();
    h.join();
}

/// The same with the send inside a `select!`.
fn select_send_vs_close(racy: bool) {
    let ch = chan::make::<u32>(1);
    let sent = Arc::new(AtomicBool::new(false));
    let (tx, sent2) = (ch.clone(), sent.clone());
    let h = go(move || {
        let never = chan::make::<u32>(0);
        select! {
            send(tx, 1) => {},
            recv(never) -> _ => unreachable!(),
        }
        sent2.store(true, Relaxed);
    });
    if racy {
        spin_until(&sent);
    } else {
        assert_eq!(ch.recv(), Some(1));
    }
    ch.close();
    h.join();
}

/// Go's `atomic.AddInt64(&n, 1)` in a goroutine and `return n` in main. The fix reads with
/// `atomic.LoadInt64`.
fn atomic_add_vs_plain_read(racy: bool) {
    let n = Arc::new(RaceCell::named("x", 0u64));
    let n2 = n.clone();
    let h = go(move || {
        n2.atomic_update(|v| v + 1);
    });
    n.atomic_update(|v| v + 1);
    if racy {
        n.get();
    } else {
        n.atomic_load();
    }
    h.join();
}

/// Go's `n++` in a goroutine against `atomic.LoadInt64(&n)` in main.
fn plain_increment_vs_atomic_load(racy: bool) {
    let n = Arc::new(RaceCell::named("x", 0u64));
    let n2 = n.clone();
    let h = go(move || {
        if racy {
            n2.with_mut(|v| *v += 1);
        } else {
            n2.atomic_update(|v| v + 1);
        }
    });
    n.atomic_load();
    h.join();
}

/// Publication through an atomic flag: a plain write, then an atomic store of the flag; a
/// reader that sees the flag with an atomic load may read the data plainly (atomics are
/// sequentially consistent in Go). The racy variant writes the data after the store.
fn atomic_flag_publishes_plain_data(racy: bool) {
    let data = Arc::new(RaceCell::named("y", 0u64));
    let flag = Arc::new(RaceCell::named("x", false));
    let (data2, flag2) = (data.clone(), flag.clone());
    let h = go(move || {
        if !racy {
            data2.set(42);
        }
        flag2.atomic_store(true);
        if racy {
            data2.set(42);
        }
    });
    while !flag.atomic_load() {
        gosched();
    }
    data.get();
    h.join();
}

/// Concurrent atomic increments, then a plain read after both goroutines were joined: only
/// the racy variant reads before the join.
fn atomic_counter_read_after_join(racy: bool) {
    let n = Arc::new(RaceCell::named("x", 0u64));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            go(move || {
                n.atomic_update(|v| v + 1);
            })
        })
        .collect();
    if racy {
        n.get();
    }
    for h in hs {
        h.join();
    }
    assert_eq!(n.get(), 2);
}

// --------------------------------------------------------------------------------- runners

const SCHEDULES: u64 = 200;

/// The synchronised variant passes `SCHEDULES` schedules; the racy one is reported as a race,
/// naming `what`.
fn on_controlled(scenario: fn(bool), what: &str) {
    if let Err(e) = Checker::new()
        .iterations(SCHEDULES)
        .seed(1)
        .run(move || scenario(false))
    {
        panic!("false positive (or other failure) in the synchronised variant:\n{e}");
    }
    let e = Checker::new()
        .iterations(SCHEDULES)
        .seed(1)
        .run(move || scenario(true))
        .expect_err("the racy variant was not reported");
    assert_eq!(e.kind(), FailureKind::Race, "{e}");
    let r = e.to_string();
    assert!(r.starts_with("WARNING: DATA RACE\n"), "{r}");
    assert!(r.contains(what), "the report names {what:?}:\n{r}");
}

#[cfg(feature = "race")]
fn on_steal(scenario: fn(bool), what: &str) {
    use goweave::Runtime;
    let rt = || Runtime::builder().workers(2).build().unwrap();
    for _ in 0..20 {
        rt().block_on(move || scenario(false));
    }
    for _ in 0..3 {
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt().block_on(move || scenario(true))
        }))
        .expect_err("the racy variant did not fail the run");
        let msg = if let Some(s) = p.downcast_ref::<String>() {
            s.clone()
        } else {
            format!("{:?}", p.downcast_ref::<&str>())
        };
        assert!(msg.contains("WARNING: DATA RACE"), "{msg}");
        assert!(msg.contains(what), "{msg}");
    }
}

const WAITGROUP: &str = "at sync.WaitGroup (an Add from zero not ordered with a Wait) by goroutine";
const CHANNEL: &str = "at channel (a send and a close not ordered) by goroutine";
const CELL: &str = " at x by goroutine ";
const DATA: &str = " at y by goroutine ";

/// One test per scenario and executor.
macro_rules! matrix {
    ($($name:ident: $what:ident),* $(,)?) => {
        mod controlled {
            $(
                #[test]
                fn $name() {
                    super::on_controlled(super::$name, super::$what);
                }
            )*
        }
        #[cfg(feature = "race")]
        mod steal {
            $(
                #[test]
                fn $name() {
                    super::on_steal(super::$name, super::$what);
                }
            )*
        }
    };
}

matrix!(
    waitgroup_add_inside_goroutine: WAITGROUP,
    waitgroup_reuse: WAITGROUP,
    chan_send_vs_close: CHANNEL,
    select_send_vs_close: CHANNEL,
    atomic_add_vs_plain_read: CELL,
    plain_increment_vs_atomic_load: CELL,
    atomic_flag_publishes_plain_data: DATA,
    atomic_counter_read_after_join: CELL,
);

// ------------------------------------------------------------------- never reported by Go

/// `len` and `cap` never race with `close`, nor does a receive (Go chooses the address its
/// annotations use so that they cannot); concurrent sends do not race with each other.
#[test]
fn len_cap_recv_and_concurrent_sends_do_not_race_with_close() {
    let r = Checker::new().iterations(SCHEDULES).seed(1).run(|| {
        let ch = chan::make::<u32>(4);
        let (a, b, c) = (ch.clone(), ch.clone(), ch.clone());
        let hs = vec![
            go(move || {
                let _ = (a.len(), a.cap());
            }),
            go(move || while b.recv().is_some() {}),
        ];
        // Two unordered senders, then a close ordered after both (by their joins).
        let s1 = go(move || c.send(1));
        let d = ch.clone();
        let s2 = go(move || d.send(2));
        s1.join();
        s2.join();
        let _ = (ch.len(), ch.cap());
        ch.close();
        for h in hs {
            h.join();
        }
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// Concurrent `Add`s from zero by several goroutines (each a read) and a later ordered `Wait`
/// are not a race, nor are two goroutines waiting at once (only the first waiter writes).
#[test]
fn concurrent_adds_and_concurrent_waits_are_not_races() {
    let r = Checker::new().iterations(SCHEDULES).seed(1).run(|| {
        let wg = WaitGroup::new();
        let done = WaitGroup::new();
        let (w1, w2) = (wg.clone(), wg.clone());
        // Two goroutines race to take the counter up from zero; main waits only after both.
        done.add(2);
        let (d1, d2) = (done.clone(), done.clone());
        go(move || {
            w1.add(1);
            d1.done();
        });
        go(move || {
            w2.add(1);
            d2.done();
        });
        done.wait();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let wg = wg.clone();
                go(move || wg.wait())
            })
            .collect();
        wg.add(-2);
        for h in waiters {
            h.join();
        }
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}
