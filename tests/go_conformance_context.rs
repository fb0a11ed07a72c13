//! Go conformance of `goweave::context` as an extension point, issue 17 item 8, on both
//! executors: custom contexts (Go's `Context` is an interface), `String()`, `Timeout()` on the
//! deadline error, and value lookup by key alone.

mod common;

use std::any::Any;
use std::fmt;

use common::{on_both, on_controlled};
use goweave::chan::{self, Chan, Receiver, TryRecvError};
use goweave::context::{self, Context, ContextError, CustomContext};
use goweave::runtime::num_goroutine;
use goweave::time::{self, Duration, Instant};
use goweave::{select, Checker, FailureKind};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(PartialEq)]
struct Key;

// ------------------------------------------------------------------------------ String()

#[test]
fn contexts_print_like_gos_string() {
    // Go: `fmt.Sprint(ctx)` gives the chain of constructors, e.g.
    // "context.Background.WithCancel"; WithTimeout prints as WithDeadline(d [time left]);
    // WithValue prints a string value as itself and other values by type.
    on_both(|| {
        let bg = context::background();
        assert_eq!(bg.to_string(), "context.Background");
        assert_eq!(context::todo().to_string(), "context.TODO");
        let (c, _cancel) = context::with_cancel(&bg);
        assert_eq!(c.to_string(), "context.Background.WithCancel");
        let v = context::with_value(&c, "user", "gopher");
        assert_eq!(
            v.to_string(),
            "context.Background.WithCancel.WithValue(user, gopher)"
        );
        let v2 = context::with_value(&context::todo(), Key, 7u64);
        assert_eq!(
            v2.to_string(),
            "context.TODO.WithValue(go_conformance_context::Key, u64)"
        );
        let (t, _c) = context::with_timeout(&v, HOUR);
        let s = t.to_string();
        let prefix = "context.Background.WithCancel.WithValue(user, gopher).WithDeadline(Instant(+";
        assert!(s.starts_with(prefix) && s.ends_with("s])"), "{s}");
        // A deadline after the parent's is the parent's: Go returns WithCancel(parent).
        let (later, _c) = context::with_timeout(&t, 2 * HOUR);
        assert!(later.to_string().ends_with("s]).WithCancel"), "{later}");
    });
    // On the controlled executor time is virtual and starts at zero: the text is exact.
    on_controlled(1, || {
        let (t, _c) = context::with_timeout(&context::background(), Duration::from_secs(5));
        assert_eq!(
            t.to_string(),
            "context.Background.WithDeadline(Instant(+5s) [5s])"
        );
        let (p, _c) = context::with_deadline(&context::background(), time::now() - HOUR);
        assert_eq!(
            p.to_string(),
            "context.Background.WithDeadline(Instant(-3600s) [-3600s])"
        );
    });
}

// ------------------------------------------------------------------------------ Timeout()

#[test]
fn the_deadline_error_is_a_timeout() {
    // Go: DeadlineExceeded "implements Timeout() bool { return true }" (and Temporary);
    // Canceled is a plain error.
    on_both(|| {
        let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(1));
        assert_eq!(ctx.done().recv(), None);
        let err = ctx.err().unwrap();
        assert_eq!(err, ContextError::DeadlineExceeded);
        assert!(err.timeout() && err.temporary());
        let (c, cancel) = context::with_cancel(&context::background());
        cancel.cancel();
        let err = c.err().unwrap();
        assert!(!err.timeout() && !err.temporary());
    });
}

// ------------------------------------------------------------------------------ Value(key)

#[test]
fn a_nearer_value_for_the_same_key_shadows_whatever_its_type() {
    // Go: "Value returns the value associated with this context for key", the nearest one;
    // `ctx.Value(k).(uint32)` then fails if that value is of another type: the outer value is
    // not consulted.
    on_both(|| {
        let outer = context::with_value(&context::background(), Key, 1u32);
        let inner = context::with_value(&outer, Key, "now a string");
        assert_eq!(outer.value::<Key, u32>(&Key), Some(&1));
        assert_eq!(inner.value::<Key, u32>(&Key), None, "shadowed by a &str");
        assert_eq!(inner.value::<Key, &str>(&Key), Some(&"now a string"));
        let any = inner.value_any(&Key).expect("a value for Key");
        assert_eq!(any.downcast_ref::<&str>(), Some(&"now a string"));
        // Keys of another type, or unequal keys, do not shadow.
        let other = context::with_value(&outer, "Key", 2u32);
        assert_eq!(other.value::<Key, u32>(&Key), Some(&1));
        assert!(other.value_any(&"nope").is_none());
    });
}

// ------------------------------------------------------------------------------ custom

/// A context cancelled when its `stop` channel is closed; carries one value and, optionally,
/// a deadline; prints as "shutdown".
struct Shutdown {
    stop: Option<Chan<()>>,
    deadline: Option<Instant>,
}

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shutdown")
    }
}

impl CustomContext for Shutdown {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn done(&self) -> Option<Receiver<()>> {
        self.stop.as_ref().map(|c| c.receiver())
    }
    fn err(&self) -> Option<ContextError> {
        // An unbuffered channel nobody sends on: a receive succeeds only once it is closed.
        let closed = self
            .stop
            .as_ref()
            .is_some_and(|c| matches!(c.try_recv(), Err(TryRecvError::Closed)));
        closed.then_some(ContextError::Canceled)
    }
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        (key.downcast_ref::<Key>() == Some(&Key)).then_some(&"from shutdown" as _)
    }
}

fn shutdown(stop: &Chan<()>) -> Context {
    Context::from_custom(Shutdown {
        stop: Some(stop.clone()),
        deadline: None,
    })
}

#[test]
fn a_custom_context_cancels_what_is_derived_from_it() {
    // Go: "WithCancel returns a derived context ... [whose] Done channel is closed when the
    // returned cancel function is called or when the parent context's Done channel is
    // closed, whichever happens first", for any parent implementing Context.
    on_both(|| {
        let stop = chan::make::<()>(0);
        let root = shutdown(&stop);
        assert_eq!(root.to_string(), "shutdown");
        assert_eq!(root.err(), None);
        let (ctx, _cancel) = context::with_cancel(&root);
        let v = context::with_value(&ctx, "k", "v");
        // A timeout that never fires (the end of the clock), so only the parent can cancel it.
        let (t, _c) = context::with_timeout(&v, Duration::MAX);
        assert_eq!(ctx.to_string(), "shutdown.WithCancel");
        assert_eq!(t.err(), None);
        stop.close();
        assert_eq!(root.done().recv(), None);
        // The derived contexts follow, down through the value node.
        assert_eq!(t.done().recv(), None);
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        assert_eq!(t.err(), Some(ContextError::Canceled));
        // Values: the custom context answers for its keys below the value node.
        assert_eq!(t.value::<Key, &str>(&Key), Some(&"from shutdown"));
        assert_eq!(t.value::<&str, &str>(&"k"), Some(&"v"));
    });
}

#[test]
fn a_child_of_a_custom_context_done_already_is_done_at_once() {
    on_both(|| {
        let stop = chan::make::<()>(0);
        stop.close();
        let before = num_goroutine();
        let (ctx, _c) = context::with_cancel(&shutdown(&stop));
        assert_eq!(num_goroutine(), before, "nothing to wait for");
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn a_custom_context_that_is_never_done_costs_no_goroutine() {
    // Go's nil Done: the context is never cancelled, and nothing waits on it. Its deadline
    // is inherited.
    on_both(|| {
        let at = time::now() + HOUR;
        let root = Context::from_custom(Shutdown {
            stop: None,
            deadline: Some(at),
        });
        let before = num_goroutine();
        let (ctx, cancel) = context::with_cancel(&root);
        assert_eq!(num_goroutine(), before);
        assert_eq!(ctx.deadline(), Some(at));
        // A later deadline than the custom parent's is the parent's (Go's WithDeadline).
        let (later, _c) = context::with_timeout(&root, 2 * HOUR);
        assert_eq!(later.deadline(), Some(at));
        let timed_out = select! {
            recv(ctx.done()) => false,
            recv(time::after(Duration::from_millis(1))) => true,
        };
        assert!(timed_out);
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn cancelling_the_child_ends_the_goroutine_that_follows_the_custom_parent() {
    // Go starts a goroutine to propagate a custom parent's cancellation, and it exits when
    // the child is cancelled first. The checker's leak check (on) would report it otherwise.
    on_both(|| {
        let stop = chan::make::<()>(0);
        let (ctx, cancel) = context::with_cancel(&shutdown(&stop));
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
    // ...and a child never cancelled leaves that goroutine blocked: a leak, as goleak would
    // report it in Go.
    let f = Checker::new()
        .iterations(5)
        .run(|| {
            let stop = chan::make::<()>(0);
            let (_ctx, _cancel) = context::with_cancel(&shutdown(&stop));
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    let report = f.to_string();
    assert!(report.contains("context.propagateCancel"), "{report}");
    assert!(
        report.contains("go_conformance_context.rs"),
        "created by the with_cancel line: {report}"
    );
}

#[test]
fn deriving_from_a_custom_context_outside_a_goroutine_is_a_clear_error() {
    let stop = chan::make::<()>(0);
    let root = shutdown(&stop);
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| context::with_cancel(&root)))
        .unwrap_err();
    let msg = common::panic_message(p);
    assert!(msg.contains("must be derived inside a goroutine"), "{msg}");
}
