//! `leak::verify_none` / `leak::find` on the work-stealing executor.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goweave::leak::{self, Options};
use goweave::runtime::gosched;
use goweave::{go, Runtime};

fn rt() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Spawns a goroutine that stays alive (polling) until `stop` is set.
#[track_caller]
fn linger(stop: Arc<AtomicBool>) -> goweave::JoinHandle<()> {
    go(move || {
        while !stop.load(Ordering::SeqCst) {
            gosched();
        }
    })
}

#[test]
fn verify_none_catches_a_real_leak_and_names_it() {
    let report = rt().block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let line = line!() + 1;
        let h = linger(stop.clone());
        let err = leak::find(Options::new().retry_window(Duration::from_millis(100))).unwrap_err();
        stop.store(true, Ordering::SeqCst);
        h.join();
        (err.to_string(), line)
    });
    let (text, line) = report;
    assert!(text.starts_with("found unexpected goroutines:"), "{text}");
    assert!(text.contains("goroutine 2 ["), "{text}");
    assert!(
        text.contains(&format!(
            "created by goroutine 1 at tests/leak_steal.rs:{line}"
        )),
        "{text}"
    );
}

#[test]
fn verify_none_passes_when_goroutines_exit_within_the_window() {
    rt().block_on(|| {
        go(|| {
            let until = Instant::now() + Duration::from_millis(50);
            while Instant::now() < until {
                gosched();
            }
        });
        leak::verify_none(Options::new());
    });
}

#[test]
fn ignore_current_skips_goroutines_that_existed_before() {
    rt().block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let old = linger(stop.clone());
        let opts = Options::new()
            .ignore_current()
            .retry_window(Duration::from_millis(50));
        leak::verify_none(opts.clone());
        let new = linger(stop.clone());
        assert!(leak::find(opts).is_err());
        stop.store(true, Ordering::SeqCst);
        old.join();
        new.join();
    });
}

#[test]
fn filters_ignore_by_spawn_site_and_name() {
    rt().block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let named = goweave::go_named("background-flusher", move || {
            while !s.load(Ordering::SeqCst) {
                gosched();
            }
        });
        let opts = Options::new().retry_window(Duration::from_millis(20));
        assert!(leak::find(opts.clone()).is_err());
        leak::verify_none(opts.clone().ignore_any_function("background-flusher"));
        leak::verify_none(opts.ignore_created_by("tests/leak_steal.rs"));
        stop.store(true, Ordering::SeqCst);
        named.join();
    });
}

#[test]
fn parallel_runs_only_see_their_own_goroutines() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    // Another runtime, in parallel, with a goroutine that stays alive meanwhile.
    let other = std::thread::spawn(move || {
        rt().block_on(move || {
            let h = linger(s.clone());
            while !s.load(Ordering::SeqCst) {
                gosched();
            }
            h.join();
        })
    });
    rt().block_on(|| leak::verify_none(Options::new()));
    stop.store(true, Ordering::SeqCst);
    other.join().unwrap();
}
