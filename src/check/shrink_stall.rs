//! Shrinking the stall a failing schedule assumed (how long time kept a runnable goroutine
//! waiting, see `explore`'s "Time as a choice"), after the preemptions.
//!
//! The edits of `shrink` only move and drop blocks, so they seldom find a schedule in which
//! time fires at a better moment (after a bystander has finished, say). This phase searches for
//! one directly: preemption-bounded depth-first search (bound: the preemptions of the schedule
//! in hand) in which time may pass only where the stall stays *below* the one in hand. The
//! first failure of the same kind it finds becomes the schedule in hand, and the search starts
//! again below its stall; a search that ends without one proves the stall minimal among
//! schedules with that few preemptions. The runs happen under the checker's own timer mode (the
//! search merely declines the time option where it would stall too long), so what it finds
//! replays as recorded.
//!
//! Invariant: the result describes a run that was executed and failed with the target
//! signature, with no more preemptions and a smaller stall than the schedule it started from.

use std::time::{Duration, Instant};

use super::shrink::{Probe, Runner};
use crate::explore::{Decision, Dfs, Strategy, ValueDecision};
use crate::schedule::Choice;

/// Depth-first search that never lets time pass with a stall of `limit` or more.
struct BelowStall {
    dfs: Dfs,
    limit: Duration,
}

impl Strategy for BelowStall {
    fn begin(&mut self, iteration: u64) -> bool {
        self.dfs.begin(iteration)
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        if d.time.is_none() || d.stall < self.limit {
            return self.dfs.pick_goroutine(d);
        }
        let narrower = d.without_time();
        let i = self.dfs.pick_goroutine(&narrower);
        if let Some(why) = narrower.take_abort() {
            d.abort(why);
        }
        i
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.dfs.pick_value(d)
    }

    fn describe(&self) -> String {
        "shrink (stall)".into()
    }
}

/// A failing schedule with a smaller stall.
pub(crate) struct Smaller {
    pub(crate) choices: Vec<Choice>,
    pub(crate) preemptions: u64,
    pub(crate) steps: u64,
}

/// Look, until `deadline` (if any), for a schedule that fails like `target` with at most `preemptions`
/// preemptions and a stall below `stall`, then below that one's, and so on. `runs` counts the
/// runs made. `None` if none was found.
pub(crate) fn minimise<S: PartialEq>(
    target: &S,
    preemptions: u64,
    stall: Duration,
    deadline: Option<Instant>,
    runs: &mut u64,
    run: &mut Runner<'_, S>,
) -> Option<Smaller> {
    let bound = u32::try_from(preemptions).ok()?;
    let mut best: Option<Smaller> = None;
    let mut limit = stall;
    while !limit.is_zero() {
        let mut s: Box<dyn Strategy> = Box::new(BelowStall {
            dfs: Dfs::new(Some(bound)),
            limit,
        });
        let mut found = None;
        for i in 0.. {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return best;
            }
            if !s.begin(i) {
                break;
            }
            let (probe, back): (Probe<S>, _) = run(s, deadline);
            s = back;
            s.end();
            *runs += 1;
            if !probe.cancelled
                && probe.sig.as_ref() == Some(target)
                && probe.preemptions <= preemptions
                && probe.stall < limit
            {
                found = Some(probe);
                break;
            }
        }
        // Searched to the end without one: nothing with this few preemptions stalls less.
        let Some(p) = found else {
            return best;
        };
        limit = p.stall;
        best = Some(Smaller {
            choices: p.choices,
            preemptions: p.preemptions,
            steps: p.steps,
        });
    }
    best
}
