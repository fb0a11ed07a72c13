//! Timers on the work-stealing executor's workers (Go 1.14's per-P timers): a timer armed by a
//! goroutine lives in its worker's heap, fired from that worker's scheduling loop; an idle
//! worker fires the due timers of a busy one; a timer armed from a thread outside the runtime
//! wakes a runtime that sleeps. These are the paths `time_conformance.rs` does not single out.

use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant as StdInstant};

use goweave::time::{self, Timer};
use goweave::{chan, go, Runtime};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// No thread of its own drives the timers: a run full of timers has only its workers.
#[test]
fn timers_need_no_timer_thread() {
    rt().block_on(|| {
        let hs: Vec<_> = (0..8)
            .map(|i| go(move || time::sleep(Duration::from_millis(1 + i % 3))))
            .collect();
        let t = Timer::new(Duration::from_millis(2));
        let names = thread_names();
        for h in hs {
            h.join();
        }
        t.c().recv().unwrap();
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("goweave-") && !n.starts_with("goweave-worker")),
            "a thread other than the workers runs: {names:?}"
        );
    });
}

/// Zero-duration timers are fired by the worker that armed them, in order, every one.
#[test]
fn many_zero_duration_timers_all_deliver() {
    rt().block_on(|| {
        for _ in 0..20_000 {
            let t = Timer::new(Duration::ZERO);
            t.c().recv().expect("a timer channel is never closed");
        }
        // And as `select!` timeouts racing a ready channel, which must never lose the ready
        // value.
        let ready = chan::make::<u32>(1);
        for i in 0..5_000 {
            ready.send(i);
            let got = goweave::select! {
                recv(ready) -> v => v,
                recv(time::after(Duration::ZERO)) -> _ => ready.recv(),
            };
            assert_eq!(got, Some(i));
        }
    });
}

/// Start a goroutine that is certain to run on the other worker than the caller's: the caller
/// blocks its own worker's thread (a std sleep) until the other worker has stolen it.
fn go_elsewhere(f: impl FnOnce() + Send + 'static) -> goweave::JoinHandle<()> {
    let here = std::thread::current().id();
    let (tx, rx) = (chan::make::<ThreadId>(1), chan::make::<()>(0));
    let (rx2, tx2) = (rx.clone(), tx.clone());
    let h = go(move || {
        tx2.send(std::thread::current().id());
        rx2.recv();
        f();
    });
    let start = StdInstant::now();
    while tx.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no worker stole the goroutine"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let there = tx.recv().unwrap();
    assert_ne!(there, here, "the goroutine ran on the blocked worker");
    rx.send(());
    h
}

/// A timer armed on a worker whose thread is then blocked (a goroutine in a long std call) is
/// fired by the other, idle worker (Go's timer stealing), not when the blocked one comes back.
#[test]
fn an_idle_worker_fires_a_blocked_worker_s_timers() {
    rt().block_on(|| {
        let fired = chan::make::<StdInstant>(1);
        let f2 = fired.clone();
        let armed_at = Arc::new(std::sync::Mutex::new(None));
        let a2 = armed_at.clone();
        let receiver = go_elsewhere(move || {
            let got = f2.recv().unwrap();
            let armed: StdInstant = a2.lock().unwrap().expect("armed first");
            let late = got.duration_since(armed);
            assert!(
                late < Duration::from_millis(400),
                "the timer fired {late:?} after it was armed, while its worker was blocked"
            );
        });
        // Armed here, on this worker's heap; its callback sends on `fired`.
        let t = Timer::new(Duration::from_millis(5));
        *armed_at.lock().unwrap() = Some(StdInstant::now());
        let c = t.c().clone();
        let f3 = fired.clone();
        let relay = go_elsewhere(move || {
            c.recv().unwrap();
            f3.send(StdInstant::now());
        });
        // Block this worker's thread well past the deadline.
        std::thread::sleep(Duration::from_millis(800));
        relay.join();
        receiver.join();
        drop(t);
    });
}

/// A timer reset from a std thread while every worker sleeps wakes the runtime at its new
/// deadline (the arming thread wakes a worker to watch it), not at the next unrelated timer.
#[test]
fn a_timer_armed_from_outside_wakes_a_sleeping_runtime() {
    Runtime::builder()
        .workers(2)
        .deadlock_check(false)
        .build()
        .unwrap()
        .block_on(|| {
            let t = Timer::new(Duration::from_secs(3600));
            assert!(t.stop());
            let t = Arc::new(t);
            let t2 = t.clone();
            let outside = std::thread::spawn(move || {
                // Let both workers fall asleep.
                std::thread::sleep(Duration::from_millis(50));
                let at = StdInstant::now();
                t2.reset(Duration::from_millis(5));
                at
            });
            let backstop = time::after(Duration::from_secs(20));
            let got = goweave::select! {
                recv(t.c()) -> v => v.map(|_| StdInstant::now()),
                recv(backstop) -> _ => None,
            };
            let at = outside.join().unwrap();
            let got = got.expect("the timer reset from outside never fired");
            let late = got.duration_since(at);
            assert!(
                late < Duration::from_secs(5),
                "the timer reset from outside fired {late:?} after the reset"
            );
        });
}
