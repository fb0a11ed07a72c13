//! Full backtraces of one goroutine, as captured for a report (`GOWEAVE_BACKTRACE=1`): data
//! only. Capture is in `runtime::dump::backtraces`; resolving and printing in `report`.

use std::fmt;
use std::sync::OnceLock;

use backtrace::Backtrace;

/// The backtraces of one goroutine for a dump: where it is (blocked or running) and where it
/// was created. Resolved and rendered once, when first printed.
pub(crate) struct Stacks {
    /// Where it blocked (`Waiting`) or runs now.
    pub(crate) at: Option<(Backtrace, &'static str)>,
    /// Where it was spawned.
    pub(crate) created: Option<Backtrace>,
    /// The resolved text, once printed.
    pub(crate) rendered: OnceLock<String>,
}

impl fmt::Debug for Stacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stacks")
            .field("at", &self.at.as_ref().map(|(_, what)| *what))
            .field("created", &self.created.is_some())
            .finish_non_exhaustive()
    }
}
