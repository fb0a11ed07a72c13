//! Exploration strategies: who runs next at every scheduling point of the controlled executor.
//!
//! A [`Strategy`] sees each decision as a [`Decision`] (the runnable goroutines, sorted by id,
//! and the one that reached the point) and returns the index of the goroutine to run. It also
//! answers data choices (`select!` cases, `goweave::rand`). The executor consults it only where
//! there is a real choice (two or more options), and records every answer, so a schedule
//! replays exactly.

mod random;
mod round_robin;

pub use random::Random;
pub use round_robin::RoundRobin;

/// A goroutine's id (main is 1).
pub type GoroutineId = u64;

/// One scheduling decision, as a strategy sees it.
#[derive(Debug)]
pub struct Decision<'a> {
    /// The goroutines that may run, sorted by id; at least two.
    pub runnable: &'a [GoroutineId],
    /// The goroutine that reached the scheduling point, if it can continue.
    pub current: Option<GoroutineId>,
    /// Scheduling points so far in this schedule.
    pub step: u64,
    /// True if `current` yielded without blocking (`gosched`), and so would rather not continue.
    pub yielded: bool,
}

/// Chooses interleavings. Implement it to plug a strategy of your own into the checker.
pub trait Strategy: Send {
    /// Prepare the next schedule (`iteration` counts from 0). Return `false` when there is
    /// nothing left to explore (exhaustive strategies).
    fn begin(&mut self, iteration: u64) -> bool {
        let _ = iteration;
        true
    }

    /// The index into `d.runnable` of the goroutine to run next.
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize;

    /// A value in `0..n` (n ≥ 2) for a data choice: a `select!` case or a random number.
    fn pick_value(&mut self, n: u64) -> u64;

    /// The schedule is over.
    fn end(&mut self) {}
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn begin(&mut self, iteration: u64) -> bool {
        (**self).begin(iteration)
    }
    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        (**self).pick_goroutine(d)
    }
    fn pick_value(&mut self, n: u64) -> u64 {
        (**self).pick_value(n)
    }
    fn end(&mut self) {
        (**self).end()
    }
}
