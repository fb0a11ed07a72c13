//! The stall a run assumed: virtual time passing while a goroutine that could run was kept
//! waiting (see `explore`'s "Time as a choice").

use std::panic::Location;
use std::time::Duration;

/// The largest stall of a run: at the moment virtual time moved to a timer's deadline, how
/// long the goroutine that had waited longest to run (without blocking or polling) had been
/// waiting. A failure that carries one needed that goroutine to be kept from running for that
/// long while the timer fired: a real scheduler can do that under load, but only for so long,
/// which is what `TimerMode::MaxStall` bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// How long the goroutine had been waiting to run.
    pub duration: Duration,
    /// The goroutine kept waiting (the lowest id among those that waited this long); 0 when
    /// the run kept no trace (the checker's exploration runs), where only `duration` is known.
    pub goroutine: u64,
    /// Where the timer that fired was armed (the first one, if several fired at once), when
    /// the run kept a trace.
    pub timer: Option<&'static Location<'static>>,
    /// The virtual time the clock moved to (the timer's deadline), from the start of the run.
    pub at: Duration,
}
