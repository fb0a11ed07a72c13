//! Goroutines, their stacks, and the two executors that run them.
//!
//! The public face is [`run`](crate::run), [`Runtime`], [`go`](crate::go) and the Go-named
//! helpers below ([`gosched`], [`num_goroutine`], [`gomaxprocs`], [`id`]).

pub(crate) mod context;
pub(crate) mod coroutine;
pub(crate) mod dump;
pub(crate) use crate::verdict::event;
pub(crate) mod executor;
pub(crate) mod goroutine;
pub(crate) mod hb;
pub(crate) mod join;
mod local;
pub(crate) mod panic;
pub(crate) mod stack;
pub(crate) mod timer;
pub(crate) mod waiter;

use std::panic::Location;

pub use dump::GoroutineDump;
pub use event::{Event, ObjId, Op};
pub use goroutine::{Status, WaitReason};
pub use local::GoroutineLocal;
pub use stack::StackError;

use context::Exec;

/// Yield the processor so other goroutines run (Go's `runtime.Gosched`).
#[track_caller]
pub fn gosched() {
    executor::yield_now(Location::caller());
}

/// The number of goroutines that exist now (started and not finished), as Go's
/// `runtime.NumGoroutine`. Outside a runtime: 0.
pub fn num_goroutine() -> usize {
    match context::exec_ref() {
        Exec::Controlled(_) => executor::with_controlled(|c| c.num_goroutine()).unwrap_or(0),
        Exec::Steal(w) => w.shared().num_goroutine(),
        Exec::None => 0,
    }
}

/// The number of worker threads running goroutines (Go's `runtime.GOMAXPROCS(0)`): 1 on the
/// controlled executor; outside a runtime, what a new runtime would use.
pub fn gomaxprocs() -> usize {
    match context::exec_ref() {
        Exec::Controlled(_) => 1,
        Exec::Steal(w) => w.shared().workers(),
        Exec::None => default_workers(),
    }
}

/// The running goroutine's id (main is 1); 0 outside a goroutine.
#[inline]
pub fn id() -> u64 {
    context::with_current(|g| g.map_or(0, |g| g.id))
}

/// The index of the worker thread running the caller (work-stealing executor), for tests and
/// stress programs that need goroutines on different workers.
#[cfg(feature = "test-hooks")]
pub fn worker_index() -> Option<usize> {
    match context::exec_ref() {
        Exec::Steal(w) => Some(w.index()),
        _ => None,
    }
}

/// Workers from `GOMAXPROCS`, else the available parallelism.
pub(crate) fn default_workers() -> usize {
    match std::env::var("GOMAXPROCS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("goweave: GOMAXPROCS={v:?} is not a positive integer"),
        },
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Builds a work-stealing [`Runtime`].
///
/// ```
/// let rt = goweave::Runtime::builder().workers(2).stack_size(128 * 1024).build().unwrap();
/// assert_eq!(rt.block_on(|| goweave::runtime::gomaxprocs()), 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    workers: Option<usize>,
    stack_size: Option<usize>,
    deadlock_check: Option<bool>,
}

impl Builder {
    /// Number of worker threads (default: `GOMAXPROCS`, else the available parallelism).
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = Some(n);
        self
    }

    /// Usable bytes per goroutine stack (default: `GOWEAVE_STACK_SIZE`, else 256 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Whether a run whose goroutines are all blocked for good ends with a panic
    /// `all goroutines are asleep - deadlock!` and a dump of every goroutine (where it blocked,
    /// why, and who created it), as Go's runtime does, instead of hanging (default: true).
    ///
    /// The run is declared deadlocked once every worker has been asleep for a grace period of
    /// one second with no goroutine runnable and no timer pending. A goroutine woken by a
    /// thread outside the runtime (a `std::thread` sending on a goweave channel or unlocking a
    /// goweave mutex, another runtime) turns the check off for the rest of the run, since such
    /// a program may wait on outside threads for any time. But the runtime cannot foresee the
    /// *first* such wake-up: if every goroutine waits for an outside thread that wakes one of
    /// them only after more than the grace period, that run is reported as deadlocked. Turn
    /// the check off for such programs.
    ///
    /// ```
    /// let rt = goweave::Runtime::builder().deadlock_check(false).build().unwrap();
    /// let ch = goweave::chan::make::<u32>(0);
    /// let v = rt.block_on(move || {
    ///     let tx = ch.clone();
    ///     std::thread::spawn(move || {
    ///         std::thread::sleep(std::time::Duration::from_millis(10)); // say, slow I/O
    ///         while tx.try_send(7).is_err() {
    ///             std::thread::yield_now();
    ///         }
    ///     });
    ///     ch.recv()
    /// });
    /// assert_eq!(v, Some(7));
    /// ```
    pub fn deadlock_check(mut self, on: bool) -> Builder {
        self.deadlock_check = Some(on);
        self
    }

    /// Validate the settings and build the runtime.
    pub fn build(self) -> Result<Runtime, BuildError> {
        let workers = self.workers.unwrap_or_else(default_workers);
        if workers == 0 {
            return Err(BuildError("workers must be at least 1".into()));
        }
        let stack_size = self.stack_size.unwrap_or_else(stack::default_size);
        if stack_size < 16 * 1024 {
            return Err(BuildError(format!(
                "stack_size {stack_size} is below the 16 KiB minimum"
            )));
        }
        Ok(Runtime {
            workers,
            stack_size,
            deadlock_check: self.deadlock_check.unwrap_or(true),
        })
    }
}

/// Why a [`Builder`] refused its settings.
#[derive(Clone, Debug)]
pub struct BuildError(String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "goweave runtime: {}", self.0)
    }
}

impl std::error::Error for BuildError {}

/// A work-stealing goroutine runtime.
#[derive(Clone, Debug)]
pub struct Runtime {
    workers: usize,
    stack_size: usize,
    deadlock_check: bool,
}

impl Runtime {
    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Run `main` as goroutine 1 and return its value, with Go's exit semantics: when main
    /// returns, every other goroutine is torn down (its stack unwound, its destructors run).
    /// An unrecovered panic in any goroutine ends the run and panics here with
    /// `goroutine N panicked at file:line: message`. A run whose goroutines all block for good
    /// panics with `all goroutines are asleep - deadlock!` and a goroutine dump (see
    /// [`Builder::deadlock_check`]).
    #[track_caller]
    pub fn block_on<T: Send + 'static>(&self, main: impl FnOnce() -> T + Send + 'static) -> T {
        let site = Location::caller();
        executor::steal::block_on(
            self.workers,
            self.stack_size,
            self.deadlock_check,
            site,
            main,
        )
    }
}

/// Run `main` on a work-stealing runtime with the default settings (`GOMAXPROCS` workers).
/// See [`Runtime::block_on`].
///
/// ```
/// let v = goweave::run(|| goweave::go(|| 40).join() + 2);
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn run<T: Send + 'static>(main: impl FnOnce() -> T + Send + 'static) -> T {
    let site = Location::caller();
    let rt = Runtime::builder().build().unwrap_or_else(|e| panic!("{e}"));
    executor::steal::block_on(rt.workers, rt.stack_size, rt.deadlock_check, site, main)
}
