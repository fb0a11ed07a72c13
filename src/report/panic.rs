//! The first line of a panic's report, as Go prints it.

use std::fmt;

use crate::verdict::PanicReport;

impl fmt::Display for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} panicked at {}: {}",
            if self.task { "task" } else { "goroutine" },
            self.goroutine,
            self.location,
            self.message
        )
    }
}
