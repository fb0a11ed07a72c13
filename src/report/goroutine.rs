//! Go's goroutine dump: `goroutine 7 [chan receive]:`, where it blocked, the wait detail and
//! where it was created.

use std::fmt;

use crate::verdict::{GoroutineDump, Status};

impl GoroutineDump {
    /// The full backtraces of this goroutine, as printed under its block: where it blocked (or
    /// runs) and where it was created, one function line and one indented `file:line:column`
    /// line per frame, trimmed to the program's frames. Only dumps made by the checker's replay
    /// of a failure with backtraces on (`GOWEAVE_BACKTRACE=1`, `Checker::backtraces`) have them.
    pub fn backtrace(&self) -> Option<&str> {
        self.stacks
            .as_deref()
            .map(crate::verdict::Stacks::render)
            .filter(|s| !s.is_empty())
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
        let kind = if self.task { "task" } else { "goroutine" };
        match &self.name {
            Some(n) => writeln!(f, "{kind} {} \"{}\" [{}]:", self.id, n, self.state())?,
            None => writeln!(f, "{kind} {} [{}]:", self.id, self.state())?,
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
