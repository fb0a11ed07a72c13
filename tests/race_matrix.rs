//! The race detector's matrix: for every primitive that orders memory, a correctly
//! synchronised program (never reported) and the same program with the edge missing (reported),
//! on the controlled executor (200 schedules each) and, with `--features race`, on the
//! work-stealing executor (where a racy run prints `WARNING: DATA RACE` and panics at the end,
//! as `go test -race` fails).
//!
//! Each scenario is one function of `racy: bool`, run unchanged on both executors. The racy
//! variants are built so that both racing accesses happen in every execution and no edge ever
//! orders them, so the work-stealing run reports them whatever the real interleaving.
//!
//! ```text
//! cargo test --test race_matrix                    # controlled executor
//! cargo test --features race --test race_matrix    # and the work-stealing executor
//! ```

use std::sync::Arc;
use std::time::Duration;

use goweave::cell::RaceCell;
use goweave::chan;
use goweave::context;
use goweave::runtime::gosched;
use goweave::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use goweave::sync::{Cond, Mutex, Once, RwLock, Semaphore, WaitGroup};
use goweave::time::Timer;
use goweave::{go, Checker, FailureKind};

type Cell = Arc<RaceCell<u64>>;

fn cell(name: &str) -> Cell {
    Arc::new(RaceCell::named(name, 0))
}

// ------------------------------------------------------------------------------ scenarios

/// spawn: everything the parent did before `go` happens before the child's first step.
fn spawn(racy: bool) {
    let x = cell("x");
    if !racy {
        x.set(1);
    }
    let x2 = x.clone();
    let h = go(move || x2.get());
    if racy {
        x.set(1);
    }
    h.join();
}

/// join: the child's last step happens before `join` returns.
fn join(racy: bool) {
    let x = cell("x");
    let x2 = x.clone();
    let h = go(move || x2.set(1));
    if racy {
        x.get();
        h.join();
    } else {
        h.join();
        x.get();
    }
}

/// A send on an unbuffered channel happens before the receive completes.
fn chan_unbuffered_send_recv(racy: bool) {
    send_then_recv(0, racy)
}

/// A send on a buffered channel happens before the receive that takes its value.
fn chan_buffered_send_recv(racy: bool) {
    send_then_recv(3, racy)
}

fn send_then_recv(cap: usize, racy: bool) {
    let x = cell("x");
    let ch = chan::make::<()>(cap);
    let (x2, ch2) = (x.clone(), ch.clone());
    let h = go(move || {
        if racy {
            ch2.send(());
            x2.set(1);
        } else {
            x2.set(1);
            ch2.send(());
        }
    });
    ch.recv();
    x.get();
    h.join();
}

/// A receive from an unbuffered channel happens before the send completes.
fn chan_unbuffered_recv_send(racy: bool) {
    let x = cell("x");
    let ch = chan::make::<()>(0);
    let (x2, ch2) = (x.clone(), ch.clone());
    let h = go(move || {
        if racy {
            ch2.recv();
            x2.set(1);
        } else {
            x2.set(1);
            ch2.recv();
        }
    });
    ch.send(());
    x.get();
    h.join();
}

/// The k-th receive from a channel of capacity C happens before the (k+C)-th send completes,
/// and only that receive: here C = 2, the buffer starts full, and the third send is ordered
/// after the first receive. The racy variant writes between the first and the second receive.
fn chan_buffered_kth_recv_k_plus_c_send(racy: bool) {
    let x = cell("x");
    let ch = chan::make::<u64>(2);
    ch.send(1);
    ch.send(2);
    let (x2, ch2) = (x.clone(), ch.clone());
    let h = go(move || {
        if racy {
            ch2.recv();
            x2.set(1);
        } else {
            x2.set(1);
            ch2.recv();
        }
        ch2.recv();
        ch2.recv();
    });
    ch.send(3);
    x.get();
    h.join();
}

/// A close happens before a receive that observes it.
fn chan_close_recv(racy: bool) {
    let x = cell("x");
    let ch = chan::make::<()>(0);
    let (x2, ch2) = (x.clone(), ch.clone());
    let h = go(move || {
        if racy {
            ch2.close();
            x2.set(1);
        } else {
            x2.set(1);
            ch2.close();
        }
    });
    assert!(ch.recv().is_none());
    x.get();
    h.join();
}

/// Mutex: an unlock happens before the next lock.
fn mutex(racy: bool) {
    let x = cell("x");
    let m = Arc::new(Mutex::new(()));
    let (x2, m2) = (x.clone(), m.clone());
    let h = go(move || {
        if racy {
            x2.set(1);
        } else {
            let _g = m2.lock();
            x2.set(1);
        }
    });
    {
        let _g = m.lock();
        x.set(2);
    }
    h.join();
}

/// RwLock, write mode: a writer's unlock happens before the next reader or writer, and a
/// reader's unlock before the next writer.
fn rwlock_write(racy: bool) {
    let x = cell("x");
    let rw = Arc::new(RwLock::new(()));
    let (x2, rw2) = (x.clone(), rw.clone());
    let h = go(move || {
        if racy {
            x2.set(1);
        } else {
            let _w = rw2.write();
            x2.set(1);
        }
    });
    {
        let _r = rw.read();
        x.get();
    }
    h.join();
}

/// RwLock, read mode: readers are not ordered with each other (so a write under a read lock
/// races with another reader), but each is ordered with the writers.
fn rwlock_read(racy: bool) {
    let x = cell("x");
    let rw = Arc::new(RwLock::new(()));
    let hs: Vec<_> = (0..2)
        .map(|i| {
            let (x, rw) = (x.clone(), rw.clone());
            go(move || {
                let _r = rw.read();
                if racy && i == 0 {
                    x.set(1);
                } else {
                    x.get();
                }
            })
        })
        .collect();
    if !racy {
        let _w = rw.write();
        x.set(2);
    }
    for h in hs {
        h.join();
    }
}

/// WaitGroup: every `done` happens before the `wait` it releases.
fn waitgroup(racy: bool) {
    let cells = [cell("x"), cell("y")];
    let wg = WaitGroup::new();
    wg.add(2);
    let hs: Vec<_> = cells
        .iter()
        .map(|c| {
            let (c, wg) = (c.clone(), wg.clone());
            go(move || {
                if racy {
                    wg.done();
                    c.set(1);
                } else {
                    c.set(1);
                    wg.done();
                }
            })
        })
        .collect();
    wg.wait();
    for c in &cells {
        c.get();
    }
    for h in hs {
        h.join();
    }
}

/// Once: the function's run happens before every `call_once` returns; what a caller does
/// after its own call is not ordered with the others.
fn once(racy: bool) {
    let (x, y) = (cell("x"), cell("y"));
    let once = Arc::new(Once::new());
    let (x2, y2, once2) = (x.clone(), y.clone(), once.clone());
    let h = go(move || {
        once2.call_once(|| x2.set(1));
        x2.get();
        if racy {
            y2.set(1);
        }
    });
    once.call_once(|| x.set(1));
    x.get();
    if racy {
        y.get();
    }
    h.join();
}

/// Cond: a signal (with the mutex around it) happens before the wait it ends; a write after
/// the signaller unlocked is not ordered.
fn cond(racy: bool) {
    let x = cell("x");
    let pair = Arc::new((Mutex::new(false), Cond::new()));
    let (x2, pair2) = (x.clone(), pair.clone());
    let h = go(move || {
        let (m, c) = &*pair2;
        {
            let mut ready = m.lock();
            if !racy {
                x2.set(1);
            }
            *ready = true;
            c.signal();
        }
        if racy {
            x2.set(1);
        }
    });
    {
        let (m, c) = &*pair;
        let g = m.lock();
        let _g = c.wait_while(g, |ready| !*ready);
    }
    x.get();
    h.join();
}

/// Context: a cancel happens before `done()` is observed closed (whether `done()` was asked
/// for before or after the cancel, which the schedules vary).
fn context_cancel_done(racy: bool) {
    let x = cell("x");
    let (ctx, cancel) = context::with_cancel(&context::background());
    let x2 = x.clone();
    let h = go(move || {
        if racy {
            cancel.cancel();
            x2.set(1);
        } else {
            x2.set(1);
            cancel.cancel();
        }
    });
    assert!(ctx.done().recv().is_none());
    x.get();
    h.join();
}

/// Context: a cancel happens before an `err()` that observes it; a child context cancelled
/// with its parent carries the edge too.
fn context_cancel_err(racy: bool) {
    let x = cell("x");
    let (parent, cancel) = context::with_cancel(&context::background());
    let (ctx, _child_cancel) = context::with_cancel(&parent);
    let x2 = x.clone();
    let h = go(move || {
        if racy {
            cancel.cancel();
            x2.set(1);
        } else {
            x2.set(1);
            cancel.cancel();
        }
    });
    while ctx.err().is_none() {
        gosched();
    }
    x.get();
    h.join();
}

/// Context: a child made from a parent that is already cancelled starts cancelled; the
/// parent's cancel happens before the child's `err()` (as in Go, where the child's
/// constructor observes the parent's closed `Done`). The maker saw the cancel only through a
/// Relaxed flag, which gives no edge.
fn context_cancelled_parent(racy: bool) {
    let x = cell("x");
    let (parent, cancel) = context::with_cancel(&context::background());
    let flag = Arc::new(AtomicBool::new(false));
    let (x2, flag2) = (x.clone(), flag.clone());
    let h = go(move || {
        if racy {
            cancel.cancel();
            x2.set(1);
        } else {
            x2.set(1);
            cancel.cancel();
        }
        flag2.store(true, Ordering::Relaxed);
    });
    while !flag.load(Ordering::Relaxed) {
        gosched();
    }
    let (child, _child_cancel) = context::with_cancel(&parent);
    assert!(child.err().is_some());
    x.get();
    h.join();
}

/// Timers: arming a timer (here `reset`) happens before its value is received. The receiver
/// holds the channel from before, so the timer is the only edge.
fn timer_reset(racy: bool) {
    let x = cell("x");
    let t = Timer::new(Duration::from_secs(3600));
    t.stop();
    let c = t.c().clone();
    let x2 = x.clone();
    let h = go(move || {
        c.recv();
        x2.get();
    });
    if racy {
        t.reset(Duration::from_millis(1));
        x.set(1);
    } else {
        x.set(1);
        t.reset(Duration::from_millis(1));
    }
    h.join();
}

/// Timers: a context's deadline cancels it from a timer callback (goroutine 0). The callback
/// runs from the clock the timer was armed with, so it lends no later write an edge, and no
/// access is ever blamed on it.
fn context_deadline(racy: bool) {
    let x = cell("x");
    if !racy {
        x.set(1);
    }
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
    let x2 = x.clone();
    let h = go(move || {
        assert!(ctx.done().recv().is_none());
        x2.get();
    });
    if racy {
        x.set(1);
    }
    h.join();
}

/// Atomics: a Release store happens before an Acquire load that reads it.
fn atomic_release_acquire(racy: bool) {
    let x = cell("x");
    let flag = Arc::new(AtomicBool::new(false));
    let (x2, flag2) = (x.clone(), flag.clone());
    let h = go(move || {
        if racy {
            flag2.store(true, Ordering::Release);
            x2.set(1);
        } else {
            x2.set(1);
            flag2.store(true, Ordering::Release);
        }
    });
    while !flag.load(Ordering::Acquire) {
        gosched();
    }
    x.get();
    h.join();
}

/// Atomics: Relaxed operations give no edge (the racy variant publishes through a Relaxed
/// flag); atomics themselves never race (the synchronised variant counts with Relaxed
/// read-modify-writes and reads the data after `join`).
fn atomic_relaxed(racy: bool) {
    let x = cell("x");
    let n = Arc::new(AtomicU64::new(0));
    let (x2, n2) = (x.clone(), n.clone());
    let h = go(move || {
        x2.set(1);
        n2.fetch_add(1, Ordering::Relaxed);
    });
    n.fetch_add(1, Ordering::Relaxed);
    if racy {
        while n.load(Ordering::Relaxed) < 2 {
            gosched();
        }
        x.get();
        h.join();
    } else {
        h.join();
        x.get();
    }
}

/// Atomics: SeqCst operations form one total order, on every atomic: a SeqCst load of *another*
/// atomic, after observing the store, is ordered after it. An Acquire load of an atomic nobody
/// released is not.
fn atomic_seqcst(racy: bool) {
    let x = cell("x");
    let (a, b) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (x2, a2) = (x.clone(), a.clone());
    let h = go(move || {
        x2.set(1);
        a2.store(true, Ordering::SeqCst);
    });
    while !a.load(Ordering::Relaxed) {
        gosched();
    }
    b.load(if racy {
        Ordering::Acquire
    } else {
        Ordering::SeqCst
    });
    x.get();
    h.join();
}

/// Semaphore: a release happens before the acquire that takes its permit.
fn semaphore(racy: bool) {
    let x = cell("x");
    let sem = Arc::new(Semaphore::new(1));
    let (x2, sem2) = (x.clone(), sem.clone());
    let h = go(move || {
        if racy {
            x2.set(1);
        } else {
            sem2.acquire(1);
            x2.set(1);
            sem2.release(1);
        }
    });
    sem.acquire(1);
    x.set(2);
    sem.release(1);
    h.join();
}

// --------------------------------------------------------------------------------- runners

const SCHEDULES: u64 = 200;

/// The synchronised variant passes `SCHEDULES` schedules; the racy one is reported as a race
/// on one of the scenario's cells.
fn on_controlled(scenario: fn(bool)) {
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
    assert!(
        [" at x by goroutine ", " at y by goroutine "]
            .iter()
            .any(|s| r.contains(s)),
        "{r}"
    );
}

#[cfg(feature = "race")]
fn on_steal(scenario: fn(bool)) {
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
        let msg = panic_message(p);
        assert!(msg.contains("data race"), "{msg}");
        assert!(msg.contains("WARNING: DATA RACE"), "{msg}");
    }
}

#[cfg(feature = "race")]
fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

/// One test per scenario and executor.
macro_rules! matrix {
    ($($name:ident),* $(,)?) => {
        mod controlled {
            $(
                #[test]
                fn $name() {
                    super::on_controlled(super::$name);
                }
            )*
        }
        #[cfg(feature = "race")]
        mod steal {
            $(
                #[test]
                fn $name() {
                    super::on_steal(super::$name);
                }
            )*
        }
    };
}

matrix!(
    spawn,
    join,
    chan_unbuffered_send_recv,
    chan_unbuffered_recv_send,
    chan_buffered_send_recv,
    chan_buffered_kth_recv_k_plus_c_send,
    chan_close_recv,
    mutex,
    rwlock_write,
    rwlock_read,
    waitgroup,
    once,
    cond,
    context_cancel_done,
    context_cancel_err,
    context_cancelled_parent,
    timer_reset,
    context_deadline,
    atomic_release_acquire,
    atomic_relaxed,
    atomic_seqcst,
    semaphore,
);

// ------------------------------------------------------------------------------ the report

/// The source line of the marker comment `tag` in this file.
fn line_of(tag: &str) -> u32 {
    let src = include_str!("race_matrix.rs");
    let marker = format!("// @{tag}");
    let i = src
        .lines()
        .position(|l| l.trim_end().ends_with(&marker))
        .unwrap_or_else(|| panic!("no marker {marker}"));
    i as u32 + 1
}

/// Two goroutines, both created here, race on `balance`: one reads, one writes.
fn two_goroutines_race() {
    let balance = Arc::new(RaceCell::named("balance", 100u64));
    let (b1, b2) = (balance.clone(), balance.clone());
    let reader = go(move || {
        // @spawn-reader
        b1.get() // @read
    });
    let writer = go(move || {
        // @spawn-writer
        b2.set(50); // @write
    });
    reader.join();
    writer.join();
}

/// Both accesses and both creation sites, in Go's shape, whichever access came second.
fn assert_report_names_everything(r: &str) {
    let at = |tag: &str| format!("  tests/race_matrix.rs:{}:", line_of(tag));
    // A closure's spawn site is the `go(` call, the line before its marker.
    let created = |tag: &str| format!("  tests/race_matrix.rs:{}:", line_of(tag) - 1);
    assert!(r.starts_with("WARNING: DATA RACE\n"), "{r}");
    let write_then_read = r.contains("\nRead at balance by goroutine ")
        && r.contains("\nPrevious write at balance by goroutine ");
    let read_then_write = r.contains("\nWrite at balance by goroutine ")
        && r.contains("\nPrevious read at balance by goroutine ");
    assert!(write_then_read || read_then_write, "{r}");
    for tag in ["read", "write"] {
        assert!(r.contains(&at(tag)), "{r}\nmissing {}", at(tag));
    }
    for tag in ["spawn-reader", "spawn-writer"] {
        assert!(r.contains(&created(tag)), "{r}\nmissing {}", created(tag));
    }
    let created_lines = r.matches(") created at:\n").count();
    assert_eq!(created_lines, 2, "{r}");
}

#[test]
fn the_report_names_both_accesses_and_both_creation_sites() {
    let e = Checker::new()
        .iterations(SCHEDULES)
        .run(two_goroutines_race)
        .expect_err("not reported");
    assert_eq!(e.kind(), FailureKind::Race);
    let r = e.to_string();
    assert_report_names_everything(&r);
    assert!(r.contains("\nreplay: GOWEAVE_REPLAY="), "{r}");
}

#[cfg(feature = "race")]
#[test]
fn the_work_stealing_report_names_both_accesses_and_both_creation_sites() {
    let p = std::panic::catch_unwind(|| {
        goweave::Runtime::builder()
            .workers(2)
            .build()
            .unwrap()
            .block_on(two_goroutines_race)
    })
    .expect_err("not reported");
    let msg = panic_message(p);
    let r = &msg[msg.find("WARNING: DATA RACE").expect("no report")..];
    assert_report_names_everything(r);
}
