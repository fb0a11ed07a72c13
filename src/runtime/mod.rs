//! Goroutines, their stacks, and the two executors that run them.
//!
//! The public face is [`run`], [`Runtime`], [`go`](crate::go) and the Go-named
//! helpers below ([`gosched`], [`num_goroutine`], [`gomaxprocs`], [`id`]).

mod arena;
pub(crate) mod cellpool;
pub(crate) mod context;
pub(crate) mod coroutine;
pub(crate) mod dump;
pub(crate) use crate::verdict::event;
pub(crate) mod executor;
pub(crate) mod gocell;
pub(crate) mod goroutine;
mod handle_word;
pub(crate) mod hb;
pub(crate) mod hbgraph;
pub(crate) mod join;
mod local;
pub(crate) mod panic;
pub(crate) mod stack;
pub(crate) mod timer;
pub(crate) mod unwind;
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
///
/// A goroutine whose value [`JoinHandle::join`](crate::JoinHandle::join) returned is no longer
/// counted (it counts itself out as it hands the value over). One that signals in some other
/// way, as with `wg.done()`, is counted until it exits, as in Go.
pub fn num_goroutine() -> usize {
    match context::exec_ref() {
        Exec::Controlled(_) => executor::with_controlled(|c| c.num_goroutine()).unwrap_or(0),
        Exec::Steal(w) => w.shared().num_goroutine(),
        Exec::None => 0,
    }
}

/// The number of worker threads running goroutines (Go's `runtime.GOMAXPROCS(0)`): on the
/// controlled executor 1, or what [`set_gomaxprocs`] last set in this run; outside a runtime,
/// what a new runtime would use.
pub fn gomaxprocs() -> usize {
    match context::exec_ref() {
        Exec::Controlled(_) => procs::controlled_get(),
        Exec::Steal(w) => w.shared().workers(),
        Exec::None => default_workers(),
    }
}

/// Go's `runtime.GOMAXPROCS(n)`: set how many worker threads run goroutines at once, on the
/// running runtime, and return the previous setting. `n == 0` only queries (Go: "if n < 1, it
/// does not change the current setting").
///
/// On the work-stealing runtime the workers are threads started with the runtime
/// ([`Builder::max_workers`], by default the larger of [`Builder::workers`] and the available
/// parallelism), so `n` is clamped to `1..=max_workers`. Lowering it stops the workers above
/// `n` from taking new goroutines; a goroutine that already started on one of them keeps
/// running there (goroutines never change thread), so for a while more than `n` threads may
/// run goroutines. Raising it wakes the workers that were held back.
///
/// On the controlled executor (one thread, every interleaving explored) the value is only
/// remembered for [`gomaxprocs`], for code that saves and restores it.
///
/// Panics outside a goroutine: the setting belongs to a running runtime (a new one takes
/// [`Builder::workers`] or the `GOMAXPROCS` variable).
///
/// ```
/// let rt = goweave::Runtime::builder().workers(2).max_workers(4).build().unwrap();
/// rt.block_on(|| {
///     assert_eq!(goweave::runtime::set_gomaxprocs(4), 2);
///     assert_eq!(goweave::runtime::gomaxprocs(), 4);
///     assert_eq!(goweave::runtime::set_gomaxprocs(0), 4); // a query
///     assert_eq!(goweave::runtime::set_gomaxprocs(1), 4);
///     assert_eq!(goweave::go(|| 7).join(), 7); // still runs (on worker 0)
/// });
/// ```
#[track_caller]
pub fn set_gomaxprocs(n: usize) -> usize {
    match context::exec_ref() {
        Exec::Controlled(_) => procs::controlled_set(n),
        Exec::Steal(w) => {
            let shared = w.shared();
            if n == 0 {
                shared.workers()
            } else {
                shared.set_procs(n)
            }
        }
        Exec::None => panic!(
            "goweave::runtime::set_gomaxprocs({n}) at {}: no goweave runtime is running on this thread; it changes a running runtime (call it from a goroutine), and a new runtime takes Runtime::builder().workers(n) or the GOMAXPROCS variable",
            Location::caller()
        ),
    }
}

/// The GOMAXPROCS value a controlled run remembers (it runs on one thread whatever the value).
mod procs {
    use std::cell::Cell;

    use super::executor;

    thread_local! {
        /// (controlled executor instance, value) of the last `set_gomaxprocs` on this thread.
        static SET: Cell<(u64, usize)> = const { Cell::new((0, 1)) };
    }

    fn instance() -> u64 {
        executor::with_controlled(|c| c.id()).unwrap_or(0)
    }

    pub(super) fn controlled_get() -> usize {
        let (id, v) = SET.with(Cell::get);
        if id == instance() {
            v
        } else {
            1
        }
    }

    pub(super) fn controlled_set(n: usize) -> usize {
        let prev = controlled_get();
        if n > 0 {
            SET.with(|s| s.set((instance(), n)));
        }
        prev
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
        Err(_) => available_parallelism(),
    }
}

/// The machine's parallelism, read once per process: the standard library reads the cgroup
/// quota files on every call, which was a measurable part of a cold `goweave::run`.
fn available_parallelism() -> usize {
    static N: once_cell::sync::Lazy<usize> =
        once_cell::sync::Lazy::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    *N
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
    max_workers: Option<usize>,
    stack_size: Option<usize>,
    deadlock_check: Option<bool>,
    record: Option<bool>,
    record_limit: Option<usize>,
}

impl Builder {
    /// Number of worker threads (default: `GOMAXPROCS`, else the available parallelism).
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = Some(n);
        self
    }

    /// Worker threads started, the most [`set_gomaxprocs`] can raise GOMAXPROCS to (default:
    /// the larger of [`workers`](Builder::workers) and the available parallelism). Threads
    /// above `workers` sleep until GOMAXPROCS is raised.
    pub fn max_workers(mut self, n: usize) -> Builder {
        self.max_workers = Some(n);
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

    /// Whether [`block_on`](Runtime::block_on) logs every visible operation of goweave's
    /// primitives (default: `GOWEAVE_RECORD=1`, else false). The logs are what
    /// [`record::run`](crate::record::run) and [`record::stress`](crate::record::stress) (which
    /// always record) follow under the checker to turn a failure of the real runtime into a
    /// replay token; a plain `block_on` keeps them only for the run. Off, recording costs one
    /// load and a branch per operation.
    pub fn record(mut self, on: bool) -> Builder {
        self.record = Some(on);
        self
    }

    /// Most operations recorded per worker thread (default: `GOWEAVE_RECORD_LIMIT`, else
    /// [`record::DEFAULT_LIMIT`](crate::record::DEFAULT_LIMIT)). A run that outgrows it is
    /// not replayable, and says so, naming this limit.
    pub fn record_limit(mut self, n: usize) -> Builder {
        self.record_limit = Some(n);
        self
    }

    /// Validate the settings and build the runtime.
    pub fn build(self) -> Result<Runtime, BuildError> {
        let workers = self.workers.unwrap_or_else(default_workers);
        if workers == 0 {
            return Err(BuildError("workers must be at least 1".into()));
        }
        let parallelism = available_parallelism();
        let max_workers = self.max_workers.unwrap_or(parallelism.max(workers));
        if max_workers < workers {
            return Err(BuildError(format!(
                "max_workers {max_workers} is below workers {workers}"
            )));
        }
        let stack_size = self.stack_size.unwrap_or_else(stack::default_size);
        if stack_size < 16 * 1024 {
            return Err(BuildError(format!(
                "stack_size {stack_size} is below the 16 KiB minimum"
            )));
        }
        let record = match self.record {
            Some(on) => on,
            None => env_flag("GOWEAVE_RECORD")?,
        };
        let record_limit = match self.record_limit {
            Some(n) => n,
            None => match std::env::var("GOWEAVE_RECORD_LIMIT") {
                Ok(v) => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        BuildError(format!(
                            "GOWEAVE_RECORD_LIMIT={v:?} is not a positive number of operations"
                        ))
                    })?,
                Err(_) => crate::record::DEFAULT_LIMIT,
            },
        };
        if record_limit == 0 {
            return Err(BuildError("record_limit must be at least 1".into()));
        }
        Ok(Runtime {
            workers,
            max_workers,
            stack_size,
            deadlock_check: self.deadlock_check.unwrap_or(true),
            record,
            record_limit,
        })
    }
}

/// A boolean environment variable: unset, `0`/`false` or `1`/`true`.
fn env_flag(name: &str) -> Result<bool, BuildError> {
    match std::env::var(name) {
        Err(_) => Ok(false),
        Ok(v) => match v.trim() {
            "" | "0" | "false" => Ok(false),
            "1" | "true" => Ok(true),
            _ => Err(BuildError(format!(
                "{name}={v:?} is not 0, 1, true or false"
            ))),
        },
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
    max_workers: usize,
    stack_size: usize,
    deadlock_check: bool,
    record: bool,
    record_limit: usize,
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
        if self.record {
            let session = crate::record::Session::new(self.record_limit);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.block_on_recorded(session.clone(), site, main)
            }));
            return run.unwrap_or_else(|p| {
                // `block_on` cannot run `main` again to follow its log: say what can.
                eprintln!(
                    "goweave: this failed run was recorded ({} operations); to turn such a failure into a replay token, run it through goweave::record::run, or as a test with --stress N (GOWEAVE_STRESS=N, #[conc_test(stress = N)])",
                    session.len()
                );
                std::panic::resume_unwind(p)
            });
        }
        executor::steal::block_on(
            self.workers,
            self.max_workers,
            self.stack_size,
            self.deadlock_check,
            None,
            site,
            main,
        )
    }

    /// [`block_on`](Runtime::block_on), logging into `session`.
    pub(crate) fn block_on_recorded<T: Send + 'static>(
        &self,
        session: std::sync::Arc<crate::record::Session>,
        site: &'static Location<'static>,
        main: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        executor::steal::block_on(
            self.workers,
            self.max_workers,
            self.stack_size,
            self.deadlock_check,
            Some(session),
            site,
            main,
        )
    }

    /// Most operations recorded per worker thread ([`Builder::record_limit`]).
    pub(crate) fn record_limit(&self) -> usize {
        self.record_limit
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
    executor::steal::block_on(
        rt.workers,
        rt.max_workers,
        rt.stack_size,
        rt.deadlock_check,
        rt.record
            .then(|| crate::record::Session::new(rt.record_limit)),
        site,
        main,
    )
}
