//! `Pos`: partial order sampling (Yuan, Yang and Gu, "Partial Order Aware Concurrency
//! Sampling", CAV 2018).
//!
//! Every pending event gets a random priority, and the runnable goroutine whose next event has
//! the highest priority runs. After it runs, every other pending event that conflicts with the
//! one just executed (same object, not both reads) gets a fresh random priority. Resetting the
//! racing events is what makes the sampling close to uniform over partial orders rather than
//! over interleavings. A goroutine that yields drops below everything, and after each step of
//! another goroutine that is not a yield draws a fresh priority, which it takes if that puts
//! it above every other runnable goroutine (as `Pct` does, see its "Yields"): a poller lets the
//! others take a random number of steps between its polls, instead of waiting until all of
//! them block. Where a release wakes one of several waiters (a waiter choice), the waiter
//! whose wait has the highest priority wins.
//!
//! Letting time pass is a pending event too, of a pseudo-goroutine: the earliest pending
//! deadline. A new deadline (a goroutine armed an earlier timer, or a first one) gets a fresh
//! random priority like any new event, so the timeout races every pending event on equal terms.
//! Once time has passed it yields: it drops below everything, whatever deadline comes next,
//! until every goroutine that could have run when it passed has run (or stopped being
//! runnable), and then draws a fresh priority, even for the same deadline. So time cannot run
//! away from the goroutines (nor a goroutine polling by sleeping starve the others), a
//! zero-length timer re-armed while the clock stands still does not keep time at the bottom
//! for ever, and a goroutine polling for a timer's effect alternates with time.

use std::time::Duration;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::pct::highest;
use super::random::{below, schedule_seed};
use super::{conflicts, Decision, Strategy, ValueDecision};

/// The priority of one goroutine's pending event.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// Higher runs first; yields give ≤ 0.
    prio: i64,
    /// `Pending::since` of the event the priority belongs to.
    since: u64,
    /// False until the goroutine is first seen in this schedule.
    assigned: bool,
    /// It yielded at this event and has not drawn a priority above the others since.
    demoted: bool,
}

/// Partial order sampling.
pub struct Pos {
    seed: u64,
    rng: ChaCha8Rng,
    /// By goroutine id.
    slots: Vec<Slot>,
    /// The priority the next yielding goroutine (or time, once it has passed) gets
    /// (decreasing).
    next_low: i64,
    /// The priority of letting time pass (meaningful while `time_deadline` is set).
    time_prio: i64,
    /// The earliest deadline `time_prio` belongs to: time's pending event.
    time_deadline: Option<Duration>,
    /// Time has passed and has kept the low priority it got then.
    time_low: bool,
    /// While `time_low`: the goroutines that could have run when time passed and have not
    /// been chosen (or stopped being runnable) since; once none is left, time draws a fresh
    /// priority at its next option.
    time_owed: Vec<u64>,
    /// The latest decision let time pass.
    last_was_time: bool,
    /// Some slot is `demoted`.
    any_demoted: bool,
}

impl Pos {
    /// POS seeded with `seed`.
    pub fn new(seed: u64) -> Pos {
        Pos {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            slots: Vec::new(),
            next_low: 0,
            time_prio: 0,
            time_deadline: None,
            time_low: false,
            time_owed: Vec::new(),
            last_was_time: false,
            any_demoted: false,
        }
    }

    fn fresh(&mut self) -> i64 {
        1 + (self.rng.next_u64() >> 2) as i64
    }

    /// After a step that was not a yield: each runnable goroutine that yielded draws a fresh
    /// priority, and takes it if that puts it above every other runnable goroutine (it then
    /// runs next); otherwise it stays below them until the next such step. So a goroutine that
    /// polls lets the others take one step or more, at random, between its polls.
    fn redraw_yielders(&mut self, d: &Decision<'_>) {
        let top = d
            .runnable
            .iter()
            .map(|&g| self.slots[g as usize])
            .filter(|s| !s.demoted)
            .map(|s| s.prio)
            .max()
            .unwrap_or(i64::MIN);
        let mut left = false;
        for &g in d.runnable {
            if !self.slots[g as usize].demoted {
                continue;
            }
            let p = self.fresh();
            let s = &mut self.slots[g as usize];
            if p > top {
                s.prio = p;
                s.demoted = false;
            } else {
                left = true;
            }
        }
        // Blocked yielders keep their flag; they draw again once runnable.
        self.any_demoted = left || self.slots.iter().any(|s| s.demoted);
    }
}

impl Strategy for Pos {
    fn begin(&mut self, iteration: u64) -> bool {
        self.rng = ChaCha8Rng::seed_from_u64(schedule_seed(self.seed, iteration));
        self.slots.clear();
        self.next_low = 0;
        self.time_prio = 0;
        self.time_deadline = None;
        self.time_low = false;
        self.time_owed.clear();
        self.last_was_time = false;
        self.any_demoted = false;
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        let top = *d
            .runnable
            .last()
            .expect("a decision has runnable goroutines") as usize;
        if self.slots.len() <= top {
            self.slots.resize(top + 1, Slot::default());
        }
        for (i, &g) in d.runnable.iter().enumerate() {
            let since = d.pending(i).map_or(u64::MAX, |p| p.since);
            let s = self.slots[g as usize];
            if !s.assigned || s.since != since {
                let prio = self.fresh();
                self.slots[g as usize] = Slot {
                    prio,
                    since,
                    assigned: true,
                    demoted: false,
                };
            }
        }
        // A goroutine took a step that was not a yield (letting time pass is not one): each
        // yielder draws again, as in `redraw_yielders`.
        let progressed = !d.yielded && (d.current.is_some() || !self.last_was_time);
        if progressed && self.any_demoted {
            self.redraw_yielders(d);
        }
        if d.yielded {
            if let Some(c) = d.current {
                let s = &mut self.slots[c as usize];
                s.prio = self.next_low;
                s.demoted = true;
                self.any_demoted = true;
                self.next_low -= 1;
            }
        }
        if let Some(deadline) = d.time {
            // Once time has passed, it stays below everyone until the goroutines it overtook
            // have run, then draws a fresh priority, even for the same deadline (a zero-length
            // timer re-armed while the clock stands still). Otherwise a goroutine that polls by
            // sleeping arms a new deadline at every turn, each with a fresh priority, and time
            // and the poller can starve everyone else for ever.
            if self.time_low {
                if self.time_owed.is_empty() {
                    self.time_low = false;
                    self.time_prio = self.fresh();
                }
            } else if self.time_deadline != Some(deadline) {
                self.time_prio = self.fresh();
            }
            self.time_deadline = Some(deadline);
        }
        let mut best = 0;
        for (i, &g) in d.runnable.iter().enumerate().skip(1) {
            if self.slots[g as usize].prio > self.slots[d.runnable[best] as usize].prio {
                best = i;
            }
        }
        if let Some(t) = d.time_index() {
            if self.time_prio > self.slots[d.runnable[best] as usize].prio {
                // Time yields once it has passed.
                self.time_prio = self.next_low;
                self.next_low -= 1;
                self.time_low = true;
                self.time_owed.clear();
                self.time_owed.extend_from_slice(d.runnable);
                self.last_was_time = true;
                return t;
            }
        }
        if !self.time_owed.is_empty() {
            let chosen = d.runnable[best];
            self.time_owed
                .retain(|&g| g != chosen && d.index_of(g).is_some());
        }
        self.last_was_time = false;
        if let Some(e) = d.pending(best).map(|p| p.event) {
            for (i, &g) in d.runnable.iter().enumerate() {
                if i == best || self.slots[g as usize].prio <= 0 {
                    continue;
                }
                if d.pending(i).is_some_and(|p| conflicts(&e, &p.event)) {
                    self.slots[g as usize].prio = self.fresh();
                }
            }
        }
        best
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        if !d.waiters().is_empty() {
            // Which waiter a release wakes: the one whose pending event (its wait) has the
            // highest priority.
            return highest(d.waiters(), |g| {
                self.slots.get(g as usize).map_or(0, |s| s.prio)
            });
        }
        below(&mut self.rng, d.n)
    }

    fn describe(&self) -> String {
        format!("pos(seed={})", self.seed)
    }
}
