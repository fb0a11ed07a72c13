//! Panics inside goroutines: Go's `recover`, and the report of an unrecovered panic.
//!
//! A process-wide panic hook records the location and message of a panic raised on a goroutine
//! (and stays quiet, because the runtime reports it, or `recover` swallows it, as in Go).
//! Panics outside goroutines go to the previously installed hook unchanged.
//!
//! The one exception is a panic Rust will not let unwind: a destructor that panics during an
//! unwind (a teardown's, or another panic's), or a panic in a function that cannot unwind.
//! Rust aborts the process right after the hook, so nothing would ever report it; the hook
//! then prints what a std thread prints (every panic of the goroutine's unwind in progress,
//! then the one that aborts), goroutine-shaped, before the abort.
//!
//! Invariants:
//! - `RAISED` holds, per thread, the panics raised by goroutines whose unwind has not been
//!   caught by goweave yet, oldest first. `recover` and the end of a goroutine take them off;
//!   a goroutine's entries are all gone once it has finished.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::atomic::Ordering;
use std::sync::Once;

use super::context;
use super::goroutine::G;
pub use crate::verdict::PanicReport;

/// One panic raised on a goroutine, not caught by goweave yet.
struct Raised {
    /// The goroutine's id.
    goroutine: u64,
    /// `file:line:column`.
    location: String,
    /// The panic message.
    message: String,
    /// The goroutine was being torn down (force-unwound) when it panicked.
    torn_down: bool,
}

/// Entries `RAISED` keeps: panics caught by `std::panic::catch_unwind` directly (which goweave
/// does not see) are never taken off, so the oldest are dropped beyond this.
const RAISED_MAX: usize = 64;

thread_local! {
    /// Panics raised on goroutines of this thread and not caught yet (see the invariants).
    static RAISED: RefCell<Vec<Raised>> = const { RefCell::new(Vec::new()) };
}

/// Installs the hook once per process.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let current = context::with_current(|g| {
                g.map(|g| (g.id, g.label(), g.torn_down.load(Ordering::Acquire)))
            });
            let Some((goroutine, label, torn_down)) = current else {
                return previous(info);
            };
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "<unknown>".into());
            let message = payload_message(info.payload());
            if aborts(info) {
                print_before_abort(goroutine, &label, &location, &message);
                return;
            }
            let _ = RAISED.try_with(|r| {
                let Ok(mut r) = r.try_borrow_mut() else {
                    return;
                };
                if r.len() >= RAISED_MAX {
                    r.remove(0);
                }
                r.push(Raised {
                    goroutine,
                    location,
                    message,
                    torn_down,
                });
            });
        }));
    });
}

/// True for the panic core raises just before Rust aborts the process: a destructor that
/// panicked during an unwind, or a panic that reached a function that cannot unwind. (Std
/// offers no stable `can_unwind` on the hook's info; these are core's own messages, raised
/// from `core::panicking`.)
fn aborts(info: &PanicHookInfo<'_>) -> bool {
    let from_core = info
        .location()
        .is_some_and(|l| l.file().ends_with("core/src/panicking.rs"));
    let msg = info
        .payload()
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
        .unwrap_or("");
    from_core
        && (msg.starts_with("panic in a destructor during cleanup")
            || msg.starts_with("panic in a function that cannot unwind"))
}

/// Print the goroutine's panics still unwinding, oldest first, then the one that aborts: what
/// a std thread's hook would have printed as they happened.
fn print_before_abort(goroutine: u64, label: &str, location: &str, message: &str) {
    let mut out = String::new();
    let raised = RAISED
        .try_with(|r| {
            r.try_borrow_mut()
                .map(|mut r| {
                    let (mine, others) = std::mem::take(&mut *r)
                        .into_iter()
                        .partition(|e| e.goroutine == goroutine);
                    *r = others;
                    mine
                })
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let mut said_torn_down = false;
    for e in &raised {
        if e.torn_down && !said_torn_down {
            said_torn_down = true;
            out.push_str(&format!(
                "{label} was being torn down (main returned, or the run ended) when a destructor panicked:\n"
            ));
        }
        out.push_str(&format!(
            "goroutine {goroutine} panicked at {}: {}\n",
            e.location, e.message
        ));
    }
    out.push_str(&format!(
        "goroutine {goroutine} panicked at {location}: {message}\n\
         goweave: a panic escaped a destructor while {label} was unwinding; Rust aborts the process\n"
    ));
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
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

/// The latest panic `goroutine` raised and nobody caught yet, taken off the record.
fn take_last(goroutine: u64, payload: &(dyn Any + Send)) -> (String, String) {
    RAISED
        .try_with(|r| {
            let mut r = r.try_borrow_mut().ok()?;
            let i = r.iter().rposition(|e| e.goroutine == goroutine)?;
            let e = r.remove(i);
            Some((e.location, e.message))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| ("<unknown>".into(), payload_message(payload)))
}

/// The latest panic `goroutine` raised and nobody caught yet, if any (left on the record).
pub(crate) fn last_raised(goroutine: u64) -> Option<(String, String)> {
    RAISED
        .try_with(|r| {
            let r = r.try_borrow().ok()?;
            let e = r.iter().rev().find(|e| e.goroutine == goroutine)?;
            Some((e.location.clone(), e.message.clone()))
        })
        .ok()
        .flatten()
}

/// True if `goroutine` raised a panic that nobody caught yet.
pub(crate) fn has_raised(goroutine: u64) -> bool {
    RAISED
        .try_with(|r| {
            r.try_borrow()
                .is_ok_and(|r| r.iter().any(|e| e.goroutine == goroutine))
        })
        .unwrap_or(false)
}

/// `goroutine` has finished: forget whatever it raised (panics a `catch_unwind` of its own
/// caught). Costs one thread-local read when nothing was raised.
pub(crate) fn forget(goroutine: u64) {
    let _ = RAISED.try_with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            if !r.is_empty() {
                r.retain(|e| e.goroutine != goroutine);
            }
        }
    });
}

pub(crate) fn capture_panic(g: &G, payload: Box<dyn Any + Send>) -> PanicReport {
    let (location, message) = take_last(g.id, &*payload);
    forget(g.id);
    PanicReport {
        goroutine: g.id,
        name: g.name().map(str::to_string),
        task: g.task,
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
            let torn_down =
                context::with_current(|g| g.is_some_and(|g| g.torn_down.load(Ordering::Acquire)));
            if torn_down {
                panic::resume_unwind(payload);
            }
            let (location, message) = if let Some(id) = context::with_current(|g| g.map(|g| g.id)) {
                take_last(id, &*payload)
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
