//! `Replay`: follow a recorded schedule exactly, and stop with an explanation the moment the
//! program asks for something the recording does not hold (a divergence).

use std::sync::Arc;

use super::{Decision, Strategy, ValueDecision};
use crate::schedule::{Choice, Schedule};

/// Replays the choices of a [`Schedule`]. A goroutine that is not runnable where the schedule
/// names it, time passing where no timer is pending, a data choice where a goroutine choice was
/// recorded (or the reverse), or running out of choices ends the run as nondeterministic.
/// (The checker also runs the replay under the schedule's own timer mode.)
pub struct Replay {
    choices: Arc<[Choice]>,
    pos: usize,
}

impl Replay {
    /// Replay `schedule`.
    pub fn new(schedule: &Schedule) -> Replay {
        Replay {
            choices: schedule.choices().into(),
            pos: 0,
        }
    }

    /// Choices consumed so far in this schedule.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Strategy for Replay {
    fn begin(&mut self, _iteration: u64) -> bool {
        self.pos = 0;
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        let at = self.pos;
        self.pos += 1;
        match self.choices.get(at) {
            Some(&Choice::Goroutine(g)) => match d.index_of(g) {
                Some(i) => i,
                None => {
                    d.abort(format!(
                        "at choice {at} (step {}) the schedule runs goroutine {g}, but the runnable goroutines are {:?}",
                        d.step, d.runnable
                    ));
                    0
                }
            },
            Some(Choice::Time) => match d.time_index() {
                Some(i) => i,
                None => {
                    d.abort(format!(
                        "at choice {at} (step {}) the schedule lets time pass, but no timer is pending (runnable: {:?})",
                        d.step, d.runnable
                    ));
                    0
                }
            },
            Some(Choice::Value(_)) => {
                d.abort(format!(
                    "at choice {at} (step {}) the schedule holds a data choice (a select! case, a random value, or which waiter a release wakes), but the program asks which goroutine runs next (runnable: {:?})",
                    d.step, d.runnable
                ));
                0
            }
            None => {
                d.abort(format!(
                    "the schedule ends after {} choices, but at step {} the program asks which goroutine runs next (runnable: {:?})",
                    self.choices.len(),
                    d.step,
                    d.runnable
                ));
                0
            }
        }
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        let at = self.pos;
        self.pos += 1;
        match self.choices.get(at) {
            Some(&Choice::Value(v)) if v < d.n => v,
            Some(&Choice::Value(v)) => {
                d.abort(format!(
                    "at choice {at} (step {}) the schedule picks value {v}, but goroutine {} offers only {} options",
                    d.step, d.goroutine, d.n
                ));
                0
            }
            Some(Choice::Goroutine(g)) => {
                d.abort(format!(
                    "at choice {at} (step {}) the schedule runs goroutine {g}, but goroutine {} asks for a data choice (a select! case, a random value, or which waiter a release wakes) among {}",
                    d.step, d.goroutine, d.n
                ));
                0
            }
            Some(Choice::Time) => {
                d.abort(format!(
                    "at choice {at} (step {}) the schedule lets time pass, but goroutine {} asks for a data choice (a select! case, a random value, or which waiter a release wakes) among {}",
                    d.step, d.goroutine, d.n
                ));
                0
            }
            None => {
                d.abort(format!(
                    "the schedule ends after {} choices, but at step {} goroutine {} asks for a data choice",
                    self.choices.len(),
                    d.step,
                    d.goroutine
                ));
                0
            }
        }
    }

    fn describe(&self) -> String {
        "replay".into()
    }
}
