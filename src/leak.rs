//! Goroutine leak detection, after goleak's `VerifyNone`.
//!
//! A leak is a goroutine that is still alive when the code under test says everything should be
//! finished. On the controlled executor the check runs by itself at the end of every schedule
//! (after the system has quiesced); on the work-stealing executor call [`verify_none`] or [`find`]
//! at the end of a test. They retry with backoff for a while first (goleak waits about 0.5 s),
//! so goroutines that are about to exit are not blamed.
//!
//! Goroutines belong to the executor run that started them, so checks in parallel tests never
//! see each other's goroutines (goleak issues #16 and #83).
//!
//! Filters match what goweave knows about each goroutine: the function it runs (its closure's
//! type path, as goleak matches the function at the top of a Go stack), its name, where it
//! blocked (as `file:line:col`) and where it was spawned (`created by`).

use std::fmt;
use std::time::{Duration, Instant};

use crate::runtime::context::{self, Exec};
use crate::runtime::dump::GoroutineDump;

/// What [`find`] and [`verify_none`] ignore, and how long they wait.
#[derive(Clone, Debug)]
pub struct Options {
    functions: Vec<String>,
    top: Vec<String>,
    any: Vec<String>,
    created_by: Vec<String>,
    ignored_ids: Vec<u64>,
    retry_window: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            functions: Vec::new(),
            top: Vec::new(),
            any: Vec::new(),
            created_by: Vec::new(),
            ignored_ids: Vec::new(),
            retry_window: Duration::from_millis(500),
        }
    }
}

impl Options {
    /// No filters; a 0.5 s retry window.
    pub fn new() -> Options {
        Options::default()
    }

    /// Ignore goroutines that run the function `f`, by its full path (`my_crate::worker`),
    /// as goleak's `IgnoreTopFunction` ignores goroutines by the function at the top of their
    /// stack. A goroutine runs the function given to `go`: `go(worker)` runs `my_crate::worker`,
    /// and a closure written in it, `go(move || ...)` inside `worker`, runs
    /// `my_crate::worker::{{closure}}`, which `f = "my_crate::worker"` matches too.
    ///
    /// ```
    /// fn wait_forever(c: goweave::chan::Chan<()>) { c.recv(); }
    ///
    /// goweave::run(|| {
    ///     let c = goweave::chan::make::<()>(0);
    ///     let c2 = c.clone();
    ///     goweave::go(move || wait_forever(c2));
    ///     let opts = goweave::leak::Options::new().retry_window(std::time::Duration::ZERO);
    ///     assert!(goweave::leak::find(opts.clone()).is_err());
    ///     // The goroutine runs a closure written in this doc test's function.
    ///     let here = std::any::type_name_of_val(&|| ()).trim_end_matches("::{{closure}}");
    ///     goweave::leak::verify_none(opts.ignore_top_function(here));
    ///     c.close();
    /// });
    /// ```
    pub fn ignore_top_function(mut self, f: impl Into<String>) -> Options {
        self.functions.push(f.into());
        self
    }

    /// Ignore goroutines blocked at a location (`file:line:col`) containing `s`, such as
    /// `"src/server.rs:42"`.
    pub fn ignore_top_location(mut self, s: impl Into<String>) -> Options {
        self.top.push(s.into());
        self
    }

    /// Ignore goroutines whose name, blocking location or spawn location contains `s`.
    pub fn ignore_any_function(mut self, s: impl Into<String>) -> Options {
        self.any.push(s.into());
        self
    }

    /// Ignore goroutines spawned at a location containing `s`.
    pub fn ignore_created_by(mut self, s: impl Into<String>) -> Options {
        self.created_by.push(s.into());
        self
    }

    /// Ignore every goroutine alive now (goleak's `IgnoreCurrent`): take this snapshot at the
    /// start of a test.
    pub fn ignore_current(mut self) -> Options {
        self.ignored_ids
            .extend(settled_goroutines().into_iter().map(|d| d.id));
        self
    }

    /// How long to keep retrying before declaring a leak (work-stealing executor).
    pub fn retry_window(mut self, d: Duration) -> Options {
        self.retry_window = d;
        self
    }

    /// True if `d` is filtered out.
    pub(crate) fn ignores(&self, d: &GoroutineDump) -> bool {
        let site = d.site.to_string();
        let spawn = d.spawn_site.to_string();
        let name = d.name.as_deref().unwrap_or("");
        self.ignored_ids.contains(&d.id)
            || self.functions.iter().any(|f| runs(d.function, f))
            || self.top.iter().any(|s| site.contains(s.as_str()))
            || self.created_by.iter().any(|s| spawn.contains(s.as_str()))
            || self.any.iter().any(|s| {
                site.contains(s.as_str()) || spawn.contains(s.as_str()) || name.contains(s.as_str())
            })
    }
}

/// True if a goroutine running `function` runs `f`: the same path, or a closure written in `f`.
fn runs(function: &str, f: &str) -> bool {
    let mut g = function;
    loop {
        if g == f {
            return true;
        }
        match g.strip_suffix("::{{closure}}") {
            Some(outer) => g = outer,
            None => return false,
        }
    }
}

/// Goroutines found leaking.
#[derive(Clone, Debug)]
pub struct Leaks {
    /// The leaked goroutines, by id.
    pub goroutines: Vec<GoroutineDump>,
    /// Goroutines counted but not yet started when the search gave up (after the retry
    /// window, and at least a second): still waiting in a run queue (the work-stealing
    /// executor lists a goroutine from its first run), so nothing is known of them but that
    /// they exist. Always 0 on the controlled executor.
    pub unstarted: usize,
}

impl fmt::Display for Leaks {
    /// `found unexpected goroutines:` then one Go-shaped block per goroutine.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "found unexpected goroutines:")?;
        for d in &self.goroutines {
            writeln!(f)?;
            writeln!(f, "{d}")?;
        }
        if self.unstarted > 0 {
            writeln!(f)?;
            writeln!(
                f,
                "and {} goroutine(s) spawned but never started (still \
                 in a run queue: is a worker thread blocked outside goweave's control?)",
                self.unstarted
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Leaks {}

/// Every goroutine of the current run except the caller.
fn current_goroutines() -> Vec<GoroutineDump> {
    let me = crate::runtime::id();
    let all = match context::exec_ref() {
        Exec::Steal(w) => w.shared().goroutines(),
        Exec::Controlled(_) => {
            crate::runtime::executor::with_controlled(|c| c.goroutines()).unwrap_or_default()
        }
        Exec::None => Vec::new(),
    };
    all.into_iter().filter(|d| d.id != me).collect()
}

/// How long [`find`] waits for goroutines still in a run queue to start, whatever the retry
/// window: the work-stealing executor lists a goroutine from its first run, and only a listed
/// one can be told apart by the filters.
const START_GRACE: Duration = Duration::from_secs(1);

/// Every goroutine of the current run except the caller, once those still waiting in a run
/// queue have started (the work-stealing executor lists goroutines from their first run). Gives
/// up waiting after a second.
fn settled_goroutines() -> Vec<GoroutineDump> {
    let start = Instant::now();
    loop {
        let all = current_goroutines();
        let unstarted = crate::runtime::num_goroutine().saturating_sub(all.len() + 1);
        if unstarted == 0 || start.elapsed() > START_GRACE {
            return all;
        }
        crate::runtime::gosched();
    }
}

/// The goroutines of `all` that `opts` does not ignore.
pub(crate) fn unexpected(all: Vec<GoroutineDump>, opts: &Options) -> Vec<GoroutineDump> {
    all.into_iter().filter(|d| !opts.ignores(d)).collect()
}

/// Look for leaked goroutines: every goroutine of this run other than the caller, minus those
/// `opts` ignores. Retries with backoff (up to the retry window) while any remain; on the
/// controlled executor each retry yields to the other goroutines instead of sleeping.
pub fn find(opts: Options) -> Result<(), Leaks> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    loop {
        let all = current_goroutines();
        // The work-stealing executor lists goroutines once they have started; ones still in a
        // run queue are only counted. Let them start before judging.
        let unstarted = crate::runtime::num_goroutine().saturating_sub(all.len() + 1);
        let left = unexpected(all, &opts);
        if left.is_empty() && unstarted == 0 {
            return Ok(());
        }
        if crate::runtime::executor::is_controlled() {
            // Virtual time: let everyone else run until nothing changes.
            let before = left.len();
            for _ in 0..100 {
                crate::runtime::gosched();
            }
            let after = unexpected(current_goroutines(), &opts);
            if after.is_empty() {
                return Ok(());
            }
            if after.len() >= before {
                return Err(Leaks {
                    goroutines: after,
                    unstarted: 0,
                });
            }
            continue;
        }
        // Goroutines not yet started cannot be matched against the filters, so they get at
        // least `START_GRACE` to start even under a shorter window; but not for ever (a
        // miscount, or one stuck behind a worker blocked outside goweave's control, would
        // otherwise keep this loop going).
        let waited = start.elapsed();
        if waited >= opts.retry_window
            && (!left.is_empty() || waited >= opts.retry_window.max(START_GRACE))
        {
            return Err(Leaks {
                goroutines: left,
                unstarted,
            });
        }
        // Sleeping a worker thread is fine here: the test is winding down, and the goroutines
        // we wait for run on the other workers or after this one yields.
        crate::runtime::gosched();
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Panic with goleak's report if [`find`] finds leaked goroutines. Under the checker the
/// schedule then fails as a leak ([`FailureKind::Leak`](crate::FailureKind::Leak)), with the
/// same report, rather than as the panic.
///
/// ```
/// goweave::run(|| {
///     let h = goweave::go(|| 1);
///     h.join();
///     goweave::leak::verify_none(goweave::leak::Options::new());
/// });
/// ```
#[track_caller]
pub fn verify_none(opts: Options) {
    if let Err(leaks) = find(opts) {
        // Under the checker the schedule's verdict is the leak itself, not the panic that
        // ends the test: a leak found on the real runtime replays as a leak.
        crate::runtime::executor::with_controlled(|c| c.report_leak(leaks.goroutines.clone()));
        panic!("{leaks}");
    }
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn a_function_matches_itself_and_its_closures_only() {
        assert!(runs("app::worker", "app::worker"));
        assert!(runs("app::worker::{{closure}}", "app::worker"));
        assert!(runs("app::worker::{{closure}}::{{closure}}", "app::worker"));
        assert!(!runs("app::worker_pool", "app::worker"));
        assert!(!runs("app::worker", "worker"));
        assert!(!runs("", "app::worker"));
    }
}
