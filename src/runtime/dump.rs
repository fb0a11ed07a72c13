//! Snapshots of goroutines for reports (Go's goroutine dump).
//!
//! A primitive may attach a *wait detail* to a goroutine it parks (for example which goroutine
//! holds the mutex, and where it locked it). The detail is kept in the goroutine record and
//! evaluated when a dump is taken, so it describes the state at report time. Dumps are taken on
//! the thread that runs the goroutines (the controlled executor's), which is the only place
//! primitives attach details. A detail is a function pointer and an object pointer, not a
//! closure: attaching one happens at every contended park on the controlled executor, and must
//! not allocate.

pub(crate) mod backtraces;

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use super::goroutine::{Status, WaitReason, G};

/// Describes why a parked goroutine waits, when a dump is taken: `describe(obj, waiter)`.
#[derive(Clone, Copy)]
pub(crate) struct WaitDetail {
    describe: unsafe fn(*const (), u64) -> String,
    obj: *const (),
    waiter: u64,
}

impl WaitDetail {
    /// A detail of goroutine `waiter`, blocked on `obj`.
    ///
    /// # Safety
    /// `obj` must stay alive, and `describe` must be sound to call with it, for as long as the
    /// detail is attached to the goroutine (attach it with a guard that removes it on wake-up
    /// and on unwind, while `obj` is borrowed by the blocked call).
    pub(crate) unsafe fn new<T>(
        obj: &T,
        waiter: u64,
        describe: unsafe fn(*const (), u64) -> String,
    ) -> WaitDetail {
        WaitDetail {
            describe,
            obj: obj as *const T as *const (),
            waiter,
        }
    }

    fn evaluate(&self) -> String {
        // SAFETY: `new`'s contract: the object is alive while the detail is attached, and a
        // detail is only evaluated while attached.
        unsafe { (self.describe)(self.obj, self.waiter) }
    }
}

fn wait_detail(g: &G) -> Option<String> {
    if g.status() != Status::Waiting {
        return None;
    }
    g.wait_detail().map(|d| d.evaluate())
}

/// One goroutine as it was when a report was made.
#[derive(Clone, Debug)]
pub struct GoroutineDump {
    /// Its id.
    pub id: u64,
    /// Its name, if any.
    pub name: Option<String>,
    /// Its status.
    pub status: Status,
    /// Why it is blocked (when waiting).
    pub wait_reason: WaitReason,
    /// Where it blocked, or last passed a scheduling point.
    pub site: &'static Location<'static>,
    /// Where it was spawned.
    pub spawn_site: &'static Location<'static>,
    /// The goroutine that spawned it (0 for main).
    pub parent: u64,
    /// What the blocking primitive adds about the wait (e.g. who holds the mutex).
    pub detail: Option<String>,
    /// With `GOWEAVE_BACKTRACE=1`, on the checker's replay of a failure: where it blocked (or
    /// runs) and where it was created, as full backtraces (see [`GoroutineDump::backtrace`]).
    pub(crate) stacks: Option<Arc<backtraces::Stacks>>,
}

impl GoroutineDump {
    pub(crate) fn of(g: &G) -> GoroutineDump {
        GoroutineDump {
            id: g.id,
            name: g.name.as_deref().map(str::to_string),
            status: g.status(),
            wait_reason: g.wait_reason(),
            site: g.site(),
            spawn_site: g.spawn_site,
            parent: g.parent,
            detail: wait_detail(g),
            stacks: backtraces::stacks_of(g),
        }
    }

    /// The full backtraces of this goroutine, as printed under its block: where it blocked (or
    /// runs) and where it was created, one function line and one indented `file:line:column`
    /// line per frame, trimmed to the program's frames. Only dumps made by the checker's replay
    /// of a failure with backtraces on (`GOWEAVE_BACKTRACE=1`, `Checker::backtraces`) have them.
    pub fn backtrace(&self) -> Option<&str> {
        self.stacks
            .as_deref()
            .map(backtraces::Stacks::render)
            .filter(|s| !s.is_empty())
    }

    /// The bracketed state Go prints: `chan receive`, `runnable`, `running`.
    pub fn state(&self) -> &'static str {
        match self.status {
            Status::Waiting => self.wait_reason.as_str(),
            Status::Runnable => "runnable",
            Status::Running => "running",
            Status::Dead => "dead",
        }
    }
}

impl fmt::Display for GoroutineDump {
    /// ```text
    /// goroutine 7 [chan receive]:
    ///     blocked at src/main.rs:12:9
    ///     <wait detail, if any>
    /// created by goroutine 1 at src/main.rs:10:5
    /// ```
    ///
    /// followed, when the dump has them, by the [backtraces](GoroutineDump::backtrace).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => writeln!(f, "goroutine {} \"{}\" [{}]:", self.id, n, self.state())?,
            None => writeln!(f, "goroutine {} [{}]:", self.id, self.state())?,
        }
        let verb = if self.status == Status::Waiting {
            "blocked at"
        } else {
            "at"
        };
        writeln!(f, "    {} {}", verb, self.site)?;
        if let Some(d) = &self.detail {
            for line in d.lines() {
                writeln!(f, "    {line}")?;
            }
        }
        if self.parent == 0 {
            write!(f, "created by the runtime (main) at {}", self.spawn_site)?;
        } else {
            write!(
                f,
                "created by goroutine {} at {}",
                self.parent, self.spawn_site
            )?;
        }
        if let Some(frames) = self.backtrace() {
            write!(f, "\n{frames}")?;
        }
        Ok(())
    }
}
