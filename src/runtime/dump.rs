//! Snapshots of goroutines for reports (Go's goroutine dump).

use std::fmt;
use std::panic::Location;

use super::goroutine::{Status, WaitReason, G};

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
        }
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
    /// created by goroutine 1 at src/main.rs:10:5
    /// ```
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
        if self.parent == 0 {
            write!(f, "created by the runtime (main) at {}", self.spawn_site)
        } else {
            write!(
                f,
                "created by goroutine {} at {}",
                self.parent, self.spawn_site
            )
        }
    }
}
