//! `goweave::errgroup` conformance, on both executors.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::on_both;
use goweave::context::{self, ContextError};
use goweave::errgroup::{BoxError, Group};
use goweave::runtime::gosched;
use goweave::{chan, go, recover};

#[test]
fn wait_returns_the_first_error_after_all_finish() {
    on_both(|| {
        let g: Group<String> = Group::new();
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..5 {
            let f = finished.clone();
            g.go(move || {
                gosched();
                f.fetch_add(1, Ordering::SeqCst);
                if i == 1 {
                    Err("first".into())
                } else {
                    Ok(())
                }
            });
        }
        assert_eq!(g.wait(), Err("first".to_string()));
        assert_eq!(finished.load(Ordering::SeqCst), 5);
        // Handed out once.
        assert_eq!(g.wait(), Ok(()));
    });
}

#[test]
fn only_one_of_several_errors_is_kept() {
    on_both(|| {
        let g = Group::<BoxError>::default();
        for i in 0..4 {
            g.go(move || Err(format!("e{i}").into()));
        }
        let e = g.wait().unwrap_err().to_string();
        assert!(["e0", "e1", "e2", "e3"].contains(&e.as_str()), "{e}");
        let ok: Group<BoxError> = Group::new();
        ok.go(|| Ok(()));
        assert!(ok.wait().is_ok());
    });
}

#[test]
fn the_first_error_cancels_the_context() {
    on_both(|| {
        let (g, ctx) = Group::<String>::with_context(&context::background());
        // Workers that run until the context is cancelled.
        for _ in 0..3 {
            let ctx = ctx.clone();
            g.go(move || {
                let _ = ctx.done().recv();
                Err(ctx.err().unwrap().to_string())
            });
        }
        g.go(|| Err("boom".into()));
        assert_eq!(g.wait(), Err("boom".to_string()));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn wait_cancels_the_context_even_without_errors() {
    on_both(|| {
        let parent = context::background();
        let (g, ctx) = Group::<String>::with_context(&parent);
        g.go(|| Ok(()));
        assert_eq!(ctx.err(), None);
        assert_eq!(g.wait(), Ok(()));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        assert_eq!(parent.err(), None);
    });
}

#[test]
fn the_limit_bounds_concurrency_and_go_blocks_at_it() {
    on_both(|| {
        let g: Group<String> = Group::new();
        g.set_limit(2);
        let gate = chan::make::<()>(0);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let (gate, running, peak) = (gate.clone(), running.clone(), peak.clone());
            g.go(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let _ = gate.recv();
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
        }
        // At the limit: try_go refuses, go blocks.
        assert!(!g.try_go(|| Ok(())));
        let started_third = Arc::new(AtomicUsize::new(0));
        let (g2, s3) = (g.clone(), started_third.clone());
        let third = go(move || {
            g2.go(|| Ok(()));
            s3.store(1, Ordering::SeqCst);
        });
        for _ in 0..10 {
            gosched();
        }
        assert_eq!(started_third.load(Ordering::SeqCst), 0, "go did not block");
        gate.close();
        third.join();
        assert_eq!(started_third.load(Ordering::SeqCst), 1);
        assert_eq!(g.wait(), Ok(()));
        assert!(peak.load(Ordering::SeqCst) <= 2);
        // Idle again: the limit may change now.
        g.set_limit(None);
        assert!(g.try_go(|| Ok(())));
        assert_eq!(g.wait(), Ok(()));
    });
}

#[test]
fn changing_the_limit_while_active_panics() {
    on_both(|| {
        let g: Group<()> = Group::new();
        g.set_limit(1);
        let gate = chan::make::<()>(0);
        let gt = gate.clone();
        g.go(move || {
            let _ = gt.recv();
            Ok(())
        });
        let p = recover(|| g.set_limit(3)).unwrap_err();
        assert_eq!(
            p.message(),
            "errgroup: modify limit while 1 goroutines in the group are still active"
        );
        gate.close();
        g.wait().unwrap();
    });
}

#[test]
fn subtasks_can_start_subtasks() {
    on_both(|| {
        let g: Group<u32> = Group::new();
        let inner = g.clone();
        g.go(move || {
            inner.go(|| Err(7));
            Ok(())
        });
        assert_eq!(g.wait(), Err(7));
    });
}
