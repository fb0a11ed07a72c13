//! Go's race report: `WARNING: DATA RACE`, both accesses, both creation sites.

use std::fmt;

use crate::verdict::RaceReport;

impl fmt::Display for RaceReport {
    /// Go's shape: `WARNING: DATA RACE`, both accesses, both creation sites.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = |w: bool| if w { "Write" } else { "Read" };
        let who = |i: usize| if self.tasks[i] { "task" } else { "goroutine" };
        writeln!(f, "WARNING: DATA RACE")?;
        writeln!(
            f,
            "{} at {} by {} {}:\n  {}",
            kind(self.write),
            self.cell,
            who(0),
            self.goroutine,
            self.site
        )?;
        writeln!(
            f,
            "\nPrevious {} at {} by {} {}:\n  {}",
            kind(self.previous_write).to_lowercase(),
            self.cell,
            who(1),
            self.previous_goroutine,
            self.previous_site
        )?;
        for (i, g) in [self.goroutine, self.previous_goroutine].iter().enumerate() {
            let (site, finished) = self.creation[i];
            let state = if i == 1 && finished {
                "finished"
            } else {
                "running"
            };
            match site {
                Some(s) if self.tasks[i] => writeln!(f, "\nTask {g} ({state}) created at:\n  {s}")?,
                Some(s) => writeln!(f, "\nGoroutine {g} ({state}) created at:\n  {s}")?,
                None if *g == 0 => writeln!(
                    f,
                    "\nGoroutine 0 ({state}) is the runtime (a timer callback)"
                )?,
                None => writeln!(f, "\nGoroutine {g} ({state}) is the main goroutine")?,
            }
        }
        Ok(())
    }
}
