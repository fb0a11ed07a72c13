//! The events of a run, in the order they happened.

use super::event::Event;

/// One line of the trace: the `step`th event that happened was `event`, by `goroutine`.
#[derive(Clone, Copy, Debug)]
pub struct TraceEntry {
    /// Position in the order of events (from 1).
    pub step: u64,
    /// The goroutine; 0 for virtual time passing (`Op::TimerFire`: a timer fired, armed at the
    /// event's location).
    pub goroutine: u64,
    /// What it did.
    pub event: Event,
    /// Set when this event ran because the strategy preempted that goroutine just before.
    pub preempted: Option<u64>,
    /// The goroutine is an async task (`goweave::task`): the interleaving labels it `t7`.
    pub task: bool,
}
