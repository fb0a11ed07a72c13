//! Go's `all goroutines are asleep - deadlock!` on the work-stealing runtime: a run whose
//! goroutines all stay blocked is reported after a grace period of one second (with a goroutine
//! dump) instead of hanging; runs that wait on timers or on outside threads are not.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use goweave::chan::{self, Chan};
use goweave::sync::Mutex;
use goweave::{go, Runtime};

/// The deadlock check's grace period.
const GRACE: Duration = Duration::from_secs(1);

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Run `f` on `rt`, expecting `block_on` to panic; the panic message and how long it took.
fn expect_panic(rt: Runtime, f: impl FnOnce() + Send + 'static) -> (String, Duration) {
    let start = Instant::now();
    let err = catch_unwind(AssertUnwindSafe(|| rt.block_on(f)))
        .expect_err("block_on should have reported a deadlock");
    let took = start.elapsed();
    eprintln!("block_on panicked after {took:?}");
    let msg = match err.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    };
    (msg, took)
}

/// A std thread that, `delay` after it starts, hands `v` to a goroutine receiving on `tx`.
/// `tx` is unbuffered and the thread uses `try_send`, which only succeeds once a receiver
/// waits: the hand-off is always a wake-up from outside the runtime. Gives up when `stop` is
/// set; returns whether it delivered.
fn outside_sender(
    tx: Chan<u32>,
    v: u32,
    delay: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<bool> {
    std::thread::spawn(move || {
        let at = Instant::now() + delay;
        while Instant::now() < at {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        while !stop.load(Ordering::SeqCst) {
            if tx.try_send(v).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    })
}

#[test]
fn double_lock_is_reported_with_the_wait_reason_and_the_second_lock() {
    let line = line!() + 4;
    let (msg, took) = expect_panic(rt(), || {
        let m = Mutex::new(0);
        let _a = m.lock();
        let _b = m.lock();
    });
    assert!(
        msg.starts_with("all goroutines are asleep - deadlock!\n"),
        "{msg}"
    );
    assert!(msg.contains("\ngoroutine 1 [sync.Mutex.Lock]:\n"), "{msg}");
    assert!(
        msg.contains(&format!("    blocked at tests/steal_deadlock.rs:{line}:")),
        "{msg}"
    );
    assert!(
        msg.contains("created by the runtime (main) at tests/steal_deadlock.rs:"),
        "{msg}"
    );
    assert!(
        took >= GRACE,
        "reported after {took:?}, before the grace period"
    );
    assert!(took < 4 * GRACE, "reported only after {took:?}");
}

#[test]
fn receive_nobody_sends_to_is_reported_with_both_goroutines() {
    let base = line!();
    let (msg, took) = expect_panic(rt(), move || {
        let ch = chan::make::<u32>(0);
        let c2 = ch.clone();
        go(move || c2.recv()); // base + 4: goroutine 2 is created, and blocks, here
        let _ = ch.recv(); // base + 5: main blocks here
    });
    assert!(
        msg.starts_with("all goroutines are asleep - deadlock!\n"),
        "{msg}"
    );
    let file = "tests/steal_deadlock.rs";
    let main_at = format!(
        "goroutine 1 [chan receive]:\n    blocked at {file}:{}:",
        base + 5
    );
    assert!(msg.contains(&main_at), "{msg}");
    let g2_at = format!(
        "goroutine 2 [chan receive]:\n    blocked at {file}:{}:",
        base + 4
    );
    assert!(msg.contains(&g2_at), "{msg}");
    let created = format!("created by goroutine 1 at {file}:{}:", base + 4);
    assert!(msg.contains(&created), "{msg}");
    assert!(
        took >= GRACE,
        "reported after {took:?}, before the grace period"
    );
}

#[test]
fn an_unread_timer_does_not_hide_a_deadlock() {
    // The timer is pending at the first check, then fires without waking anybody.
    let (msg, took) = expect_panic(rt(), || {
        let _t = goweave::time::after(Duration::from_millis(300));
        let m = Mutex::new(0);
        let _a = m.lock();
        let _b = m.lock();
    });
    assert!(
        msg.starts_with("all goroutines are asleep - deadlock!\n"),
        "{msg}"
    );
    assert!(msg.contains("goroutine 1 [sync.Mutex.Lock]:"), "{msg}");
    assert!(took >= GRACE, "reported after {took:?}");
}

#[test]
fn goroutines_waiting_on_a_timer_are_not_deadlocked() {
    let start = Instant::now();
    let v = rt().block_on(|| {
        // Blocked for good, but main sleeps on a timer, and returns: no deadlock.
        let ch = chan::make::<u32>(0);
        let c2 = ch.clone();
        go(move || c2.recv());
        goweave::time::sleep(Duration::from_millis(1500));
        7
    });
    assert_eq!(v, 7);
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn a_std_thread_sending_after_the_grace_period_is_not_a_deadlock() {
    // The std thread hands main a first value at once (a wake-up from outside the runtime,
    // which shows that this run waits on outside threads), and its second one only 1.5 s
    // later, while every goroutine is blocked.
    let start = Instant::now();
    let ch = chan::make::<u32>(0);
    let tx = ch.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let sender = std::thread::spawn(move || {
        let first = outside_sender(tx.clone(), 1, Duration::ZERO, st.clone());
        let delivered = first.join().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        delivered && outside_sender(tx, 2, Duration::ZERO, st).join().unwrap()
    });
    let got = rt().block_on(move || (ch.recv(), ch.recv()));
    stop.store(true, Ordering::SeqCst);
    assert!(sender.join().unwrap());
    assert_eq!(got, (Some(1), Some(2)));
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn deadlock_check_false_lets_an_outside_thread_unblock_the_run_later() {
    // With the check on, a goroutine that only an outside thread will wake, and only after the
    // grace period, is reported: the runtime cannot see the outside thread coming.
    let ch = chan::make::<u32>(0);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = outside_sender(ch.clone(), 1, 3 * GRACE, stop.clone());
    let (msg, took) = expect_panic(rt(), move || {
        let _ = ch.recv();
    });
    stop.store(true, Ordering::SeqCst);
    assert!(!sender.join().unwrap());
    assert!(
        msg.starts_with("all goroutines are asleep - deadlock!\n"),
        "{msg}"
    );
    assert!(msg.contains("goroutine 1 [chan receive]:"), "{msg}");
    assert!(took < 3 * GRACE, "reported only after {took:?}");

    // With the check off, the same run waits for the outside thread.
    let start = Instant::now();
    let ch = chan::make::<u32>(0);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = outside_sender(ch.clone(), 2, Duration::from_millis(1500), stop);
    let rt = Runtime::builder()
        .workers(2)
        .deadlock_check(false)
        .build()
        .unwrap();
    let got = rt.block_on(move || ch.recv());
    assert!(sender.join().unwrap());
    assert_eq!(got, Some(2));
    assert!(start.elapsed() >= Duration::from_millis(1500));
}
