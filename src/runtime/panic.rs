//! Panics inside goroutines: Go's `recover`, and the report of an unrecovered panic.
//!
//! A process-wide panic hook records the location and message of a panic raised on a goroutine
//! (and stays quiet, because the runtime reports it, or `recover` swallows it, as in Go).
//! Panics outside goroutines go to the previously installed hook unchanged.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use super::context;
use super::goroutine::G;
pub use crate::verdict::PanicReport;

thread_local! {
    /// (location, message) of the latest panic raised on a goroutine of this thread.
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs the hook once per process.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let in_goroutine = context::with_current(|g| g.is_some());
            if !in_goroutine {
                return previous(info);
            }
            let loc = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "<unknown>".into());
            let msg = payload_message(info.payload());
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((loc, msg)));
        }));
    });
}

/// The text of a panic payload.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

fn take_last(payload: &(dyn Any + Send)) -> (String, String) {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| ("<unknown>".into(), payload_message(payload)))
}

pub(crate) fn capture_panic(g: &G, payload: Box<dyn Any + Send>) -> PanicReport {
    let (location, message) = take_last(&*payload);
    PanicReport {
        goroutine: g.id,
        name: g.name.as_deref().map(str::to_string),
        location,
        message,
        spawned_at: g.spawn_site,
        created: super::dump::backtraces::created_stacks(g.id),
    }
}

/// A panic caught by [`recover`](crate::recover).
pub struct Panic {
    message: String,
    location: String,
    payload: Box<dyn Any + Send>,
}

impl Panic {
    /// The panic message (`"boom"` for `panic!("boom")`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `file:line:column` where the panic was raised.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The raw payload, for `downcast`.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }

    /// Panic again with the same payload (Go's re-panic after recover).
    pub fn resume(self) -> ! {
        panic::resume_unwind(self.payload)
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Panic")
            .field("message", &self.message)
            .field("location", &self.location)
            .finish()
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panic at {}: {}", self.location, self.message)
    }
}

/// Go's `recover`: run `f`, and contain a panic raised inside it.
///
/// Returns `Err(Panic)` with the message and location when `f` panics. The runtime's own
/// unwinding (tearing a goroutine down when main returns, or when the tester abandons a
/// schedule) is never caught.
///
/// ```
/// let r = goweave::run(|| goweave::recover(|| panic!("boom")));
/// assert_eq!(r.unwrap_err().message(), "boom");
/// ```
pub fn recover<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    install_hook();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(payload) => {
            let torn_down = context::with_current(|g| {
                g.is_some_and(|g| g.torn_down.load(std::sync::atomic::Ordering::Acquire))
            });
            if torn_down {
                panic::resume_unwind(payload);
            }
            let (location, message) = if context::with_current(|g| g.is_some()) {
                take_last(&*payload)
            } else {
                ("<unknown>".into(), payload_message(&*payload))
            };
            Err(Panic {
                message,
                location,
                payload,
            })
        }
    }
}
