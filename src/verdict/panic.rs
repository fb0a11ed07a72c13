//! An unrecovered panic, as data.

use std::panic::Location;
use std::sync::Arc;

use super::Stacks;

/// An unrecovered panic: which goroutine, where, and what it said.
#[derive(Clone, Debug)]
pub struct PanicReport {
    /// The goroutine's id.
    pub goroutine: u64,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// A task (`goweave::task::spawn`) rather than a goroutine: the report says `task 7`.
    pub task: bool,
    /// `file:line:column` of the panic.
    pub location: String,
    /// The panic message.
    pub message: String,
    /// Where the goroutine was spawned.
    pub spawned_at: &'static Location<'static>,
    /// With `GOWEAVE_BACKTRACE`, on the checker's replay of a failure: the full backtrace of
    /// where the goroutine was created.
    pub(crate) created: Option<Arc<Stacks>>,
}
