//! A detected data race, as data.

use std::panic::Location;

/// A detected race: the access that noticed it and the earlier access it conflicts with.
#[derive(Clone, Debug)]
pub struct RaceReport {
    /// The cell's name (or `cell #id`).
    pub cell: String,
    /// True if the later access is a write.
    pub write: bool,
    /// The goroutine doing the later access.
    pub goroutine: u64,
    /// Where the later access happens.
    pub site: &'static Location<'static>,
    /// True if the earlier access was a write.
    pub previous_write: bool,
    /// The goroutine that did the earlier access.
    pub previous_goroutine: u64,
    /// Where the earlier access happened.
    pub previous_site: &'static Location<'static>,
    /// Where each of the two goroutines was created (`None`: the main goroutine of a checked
    /// body, or goroutine 0, the runtime), and whether it had finished.
    pub creation: [(Option<&'static Location<'static>>, bool); 2],
    /// Whether each of the two (the later access's, then the earlier's) is a task
    /// (`goweave::task`) rather than a goroutine: reports call it so.
    pub tasks: [bool; 2],
}
