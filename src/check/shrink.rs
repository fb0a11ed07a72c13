//! Shrinking a failing schedule: first the fewest preemptions, then the smallest stall (how
//! long time kept a runnable goroutine waiting, see `explore`'s "Time as a choice"), then the
//! fewest steps, keeping the same failure.
//!
//! A schedule is seen as *blocks*: a goroutine runs for `n` consecutive decisions, then another
//! takes over. A block that starts by switching away from a goroutine that could have continued
//! starts with a preemption. Shrinking proceeds in three phases, each bounded by the budget:
//!
//! 1. **Hill climbing** (in the spirit of Jalbert and Sen's Tinertia, FSE 2010). Candidate edits
//!    remove a preemption (let the preempted goroutine run on until it blocks, drop the
//!    preempting block, swap it with the one before, or merge the preempted goroutine's two
//!    halves) or remove steps (drop a block, halve it). A candidate is replayed leniently (a
//!    block whose goroutine cannot run is skipped; once the plan runs out, the running goroutine
//!    continues) and kept if it fails the same way with fewer (preemptions, stall, steps).
//! 2. **Bounded search.** Preemption-bounded depth-first search with bounds 0, 1, ... below the
//!    best count so far. If a bound is searched to the end without the failure, no schedule with
//!    that few preemptions fails this way; the first failure found at the next bound is minimal.
//! 3. Hill climbing again on what the search found, for steps.
//!
//! Letting time pass (`Choice::Time`) is a block of its own, of the pseudo-goroutine [`TIME`]:
//! the edits treat it like any other block, so dropping it means "time passes later, when
//! everything is blocked", and swapping it moves the timeout earlier or later (which is how the
//! stall shrinks: time passing after the goroutine that waited has run, or blocked). It is
//! never a preemption.
//!
//! Invariant: `Best` always describes a run that was actually executed and failed with the
//! target signature, so the result replays exactly.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::explore::{default_pick, Decision, Dfs, Strategy, ValueDecision};
use crate::schedule::Choice;

/// A block length meaning "until it blocks, finishes or yields".
const UNTIL_BLOCKED: u32 = u32::MAX;

/// The pseudo-goroutine of blocks that let time pass.
const TIME: u64 = u64::MAX;

/// The result of running one candidate.
pub(crate) struct Probe<S> {
    /// The failure signature, `None` if the run passed.
    pub(crate) sig: Option<S>,
    /// The choices actually made.
    pub(crate) choices: Vec<Choice>,
    pub(crate) preemptions: u64,
    pub(crate) steps: u64,
    /// The largest stall time caused by passing ahead of runnable goroutines (zero if none).
    pub(crate) stall: Duration,
    /// The run was cut short before it could end by itself (the shrinking budget ran out
    /// during it, or the checker is stopping): `sig` means nothing.
    pub(crate) cancelled: bool,
}

/// Runs the program once under a strategy, handing the strategy back; a run still going at the
/// deadline is cut short (`Probe::cancelled`).
pub(crate) type Runner<'a, S> =
    dyn FnMut(Box<dyn Strategy>, Option<Instant>) -> (Probe<S>, Box<dyn Strategy>) + 'a;

/// What shrinking produced.
pub(crate) struct Shrunk {
    pub(crate) choices: Vec<Choice>,
    pub(crate) preemptions: u64,
    pub(crate) steps: u64,
    pub(crate) stall: Duration,
    /// Candidate runs.
    pub(crate) runs: u64,
    pub(crate) elapsed: Duration,
    /// No schedule with fewer preemptions fails this way.
    pub(crate) minimal: bool,
    pub(crate) timed_out: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Block {
    g: u64,
    n: u32,
}

/// What a guided run follows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Plan {
    blocks: Vec<Block>,
    values: Vec<u64>,
}

/// One goroutine decision of a guided run.
#[derive(Clone, Copy)]
struct Logged {
    chosen: u64,
    preemption: bool,
}

/// Follows a plan leniently and logs what it did.
struct Guided {
    plan: Arc<Plan>,
    block: usize,
    used: u32,
    value: usize,
    log: Arc<Mutex<Vec<Logged>>>,
}

impl Strategy for Guided {
    fn begin(&mut self, _iteration: u64) -> bool {
        self.block = 0;
        self.used = 0;
        self.value = 0;
        self.log.lock().unwrap().clear();
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        let i = loop {
            let Some(b) = self.plan.blocks.get(self.block) else {
                break default_pick(d);
            };
            let yielded_out = b.n == UNTIL_BLOCKED && d.yielded && d.current == Some(b.g);
            let option = if b.g == TIME {
                d.time_index()
            } else {
                d.index_of(b.g)
            };
            match option {
                Some(i) if self.used < b.n && !yielded_out => {
                    self.used += 1;
                    break i;
                }
                _ => {
                    self.block += 1;
                    self.used = 0;
                }
            }
        };
        self.log.lock().unwrap().push(Logged {
            chosen: d.runnable.get(i).copied().unwrap_or(TIME),
            preemption: d.is_preemption(i),
        });
        i
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        let v = self.plan.values.get(self.value).copied().unwrap_or(0);
        self.value += 1;
        v.min(d.n - 1)
    }

    fn describe(&self) -> String {
        "shrink".into()
    }
}

/// The best failing run so far.
#[derive(Clone)]
struct Best {
    /// The exact plan of that run (blocks as executed).
    plan: Plan,
    /// Whether each block starts with a preemption.
    preemptive: Vec<bool>,
    choices: Vec<Choice>,
    preemptions: u64,
    steps: u64,
    /// The stall it assumed: minimised after the preemptions, before the steps.
    stall: Duration,
}

impl Best {
    fn key(&self) -> (u64, Duration, u64) {
        (self.preemptions, self.stall, self.steps)
    }
}

struct Shrinker<'r, 'a, S> {
    target: &'r S,
    run: &'r mut Runner<'a, S>,
    /// When to stop; `None` if the budget is too large to be reached (`Duration::MAX`).
    deadline: Option<Instant>,
    runs: u64,
    timed_out: bool,
    seen: HashSet<u64>,
}

impl<S: PartialEq> Shrinker<'_, '_, S> {
    fn out_of_time(&mut self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.timed_out = true;
        }
        self.timed_out
    }

    /// Note a run that was cut short (the budget ran out, or the checker was stopped): its
    /// result says nothing, and no further run is started.
    fn note_cancelled<T>(&mut self, probe: &Probe<T>) -> bool {
        if probe.cancelled {
            self.timed_out = true;
        }
        probe.cancelled
    }

    /// Run `plan` leniently; the run as a `Best` if it failed the target way.
    fn try_plan(&mut self, plan: Plan) -> Option<Best> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut g: Box<dyn Strategy> = Box::new(Guided {
            plan: Arc::new(plan),
            block: 0,
            used: 0,
            value: 0,
            log: log.clone(),
        });
        g.begin(0);
        let (probe, mut g) = (self.run)(g, self.deadline);
        g.end();
        self.runs += 1;
        if self.note_cancelled(&probe) || probe.sig.as_ref() != Some(self.target) {
            return None;
        }
        let log = std::mem::take(&mut *log.lock().unwrap());
        let mut plan = Plan {
            blocks: Vec::new(),
            values: probe
                .choices
                .iter()
                .filter_map(|c| match c {
                    Choice::Value(v) => Some(*v),
                    _ => None,
                })
                .collect(),
        };
        let mut preemptive = Vec::new();
        for l in log {
            match plan.blocks.last_mut() {
                Some(b) if b.g == l.chosen => b.n += 1,
                _ => {
                    plan.blocks.push(Block { g: l.chosen, n: 1 });
                    preemptive.push(l.preemption);
                }
            }
        }
        Some(Best {
            plan,
            preemptive,
            choices: probe.choices,
            preemptions: probe.preemptions,
            steps: probe.steps,
            stall: probe.stall,
        })
    }

    /// First-improvement hill climbing from `best`. Candidates are made one at a time, each
    /// run before the next is made (see [`Edits`]), so memory stays a few schedules' worth
    /// and the budget is checked before every run.
    fn climb(&mut self, best: &mut Best) {
        let mut edits = Edits::default();
        while let Some(plan) = edits.next(best) {
            if self.out_of_time() {
                return;
            }
            let mut h = std::collections::hash_map::DefaultHasher::new();
            plan.hash(&mut h);
            if !self.seen.insert(h.finish()) {
                continue;
            }
            if let Some(b) = self.try_plan(plan) {
                if b.key() < best.key() {
                    *best = b;
                    edits = Edits::default();
                }
            }
        }
    }

    /// Preemption-bounded search for the target failure with fewer preemptions than `best`.
    /// Returns the failing choices found, and whether every smaller bound was searched fully.
    fn deepen(&mut self, best: &Best) -> (Option<Vec<Choice>>, bool) {
        for bound in 0..best.preemptions.min(u32::MAX as u64) as u32 {
            let mut s: Box<dyn Strategy> = Box::new(Dfs::new(Some(bound)));
            let mut i = 0;
            loop {
                if self.out_of_time() {
                    return (None, false);
                }
                if !s.begin(i) {
                    break;
                }
                let (probe, back) = (self.run)(s, self.deadline);
                s = back;
                s.end();
                self.runs += 1;
                i += 1;
                if self.note_cancelled(&probe) {
                    return (None, false);
                }
                if probe.sig.as_ref() == Some(self.target) && probe.preemptions < best.preemptions {
                    return (Some(probe.choices), true);
                }
            }
        }
        (None, true)
    }
}

/// Shrink `original` (which failed with `target`) within `budget`, less the time of one run
/// (kept for the report's replay). `run` executes the program once under a strategy.
pub(crate) fn shrink<S: PartialEq>(
    target: &S,
    original: &[Choice],
    budget: Duration,
    run: &mut Runner<'_, S>,
) -> Option<Shrunk> {
    let start = Instant::now();
    let mut sh = Shrinker {
        target,
        run,
        deadline: start.checked_add(budget),
        runs: 0,
        timed_out: false,
        seen: HashSet::new(),
    };
    let exact = plan_of(original);
    let mut best = sh.try_plan(exact)?;
    // The report replays the result once more: keep the time of one run (this one) for it,
    // so that shrinking and the report together stay within the budget.
    let first_run = start.elapsed();
    sh.deadline = sh
        .deadline
        .map(|d| d.checked_sub(first_run).unwrap_or(start).max(start));
    sh.climb(&mut best);
    let mut minimal = best.preemptions == 0;
    if !minimal && !sh.out_of_time() {
        let (found, complete) = sh.deepen(&best);
        if let Some(choices) = found {
            if let Some(mut b) = sh.try_plan(plan_of(&choices)) {
                sh.climb(&mut b);
                if b.key() < best.key() {
                    best = b;
                }
            }
        }
        minimal = complete;
    }
    Some(Shrunk {
        choices: best.choices,
        preemptions: best.preemptions,
        steps: best.steps,
        stall: best.stall,
        runs: sh.runs,
        elapsed: start.elapsed(),
        minimal,
        timed_out: sh.timed_out,
    })
}

/// A cursor over the edits of a `Best`, in the order they are tried: for each block that
/// starts with a preemption, the four preemption removals; then for each block, dropping it and
/// halving it. `next` builds the one edited plan it points at (a copy of the best plan, O(one
/// schedule)) and moves on; it skips edits that do not apply. Building all candidates up front
/// instead costs O(blocks^2) memory before the first run, gigabytes for a livelock.
#[derive(Default)]
struct Edits {
    /// 0: preemption removals; 1: step removals; 2: done.
    phase: u8,
    /// The block edited.
    j: usize,
    /// Which edit of that block.
    e: u8,
}

impl Edits {
    fn next(&mut self, best: &Best) -> Option<Plan> {
        let blocks = &best.plan.blocks;
        loop {
            let (j, e) = (self.j, self.e);
            let edits_per_block = if self.phase == 0 { 4 } else { 2 };
            self.e += 1;
            if self.e == edits_per_block {
                self.e = 0;
                self.j += 1;
            }
            let edited = match self.phase {
                0 if j == 0 => {
                    self.j = 1;
                    self.e = 0;
                    continue;
                }
                0 if j >= blocks.len() => {
                    (self.phase, self.j, self.e) = (1, 0, 0);
                    continue;
                }
                0 if !best.preemptive[j] => {
                    (self.j, self.e) = (j + 1, 0);
                    continue;
                }
                0 => Self::remove_preemption(blocks, j, e),
                1 if j >= blocks.len() => {
                    self.phase = 2;
                    return None;
                }
                1 => Self::remove_steps(blocks, j, e),
                _ => return None,
            };
            if let Some(b) = edited {
                return Some(Plan {
                    blocks: b,
                    values: best.plan.values.clone(),
                });
            }
        }
    }

    /// Edit `e` removing the preemption that starts block `j` (>= 1), if it applies.
    fn remove_preemption(blocks: &[Block], j: usize, e: u8) -> Option<Vec<Block>> {
        let mut b = blocks.to_vec();
        match e {
            // Let the preempted goroutine run on until it blocks.
            0 if blocks[j - 1].g != TIME => b[j - 1].n = UNTIL_BLOCKED,
            0 => return None,
            // Drop the preempting block.
            1 => {
                b.remove(j);
            }
            // Run the preempting block first.
            2 => b.swap(j - 1, j),
            // Merge the preempted goroutine's halves around the preempting block.
            _ if j + 1 < blocks.len() && blocks[j + 1].g == blocks[j - 1].g => {
                let tail = b.remove(j + 1);
                b[j - 1].n = b[j - 1].n.saturating_add(tail.n);
            }
            _ => return None,
        }
        Some(b)
    }

    /// Edit `e` removing steps from block `j`: drop it, or halve it.
    fn remove_steps(blocks: &[Block], j: usize, e: u8) -> Option<Vec<Block>> {
        let mut b = blocks.to_vec();
        match e {
            0 => {
                b.remove(j);
            }
            _ if blocks[j].n >= 2 => b[j].n /= 2,
            _ => return None,
        }
        Some(b)
    }
}

/// The plan that replays `choices` exactly.
fn plan_of(choices: &[Choice]) -> Plan {
    let mut plan = Plan::default();
    for c in choices {
        let g = match *c {
            Choice::Goroutine(g) => g,
            Choice::Time => TIME,
            Choice::Value(v) => {
                plan.values.push(v);
                continue;
            }
        };
        match plan.blocks.last_mut() {
            Some(b) if b.g == g => b.n += 1,
            _ => plan.blocks.push(Block { g, n: 1 }),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(blocks: &[(u64, u32)], preemptive: &[bool]) -> Best {
        Best {
            plan: Plan {
                blocks: blocks.iter().map(|&(g, n)| Block { g, n }).collect(),
                values: vec![7],
            },
            preemptive: preemptive.to_vec(),
            choices: Vec::new(),
            preemptions: 0,
            steps: 0,
            stall: Duration::ZERO,
        }
    }

    fn all(b: &Best) -> Vec<Vec<(u64, u32)>> {
        let mut e = Edits::default();
        let mut out = Vec::new();
        while let Some(p) = e.next(b) {
            assert_eq!(p.values, [7]);
            out.push(p.blocks.iter().map(|b| (b.g, b.n)).collect());
        }
        out
    }

    #[test]
    fn edits_come_one_at_a_time_preemption_removals_first() {
        const U: u32 = UNTIL_BLOCKED;
        // 1 runs 3, 2 preempts it for 1, 1 runs 2 more; then time passes.
        let b = best(
            &[(1, 3), (2, 1), (1, 2), (TIME, 1)],
            &[false, true, false, false],
        );
        let edits = all(&b);
        let expected: Vec<Vec<(u64, u32)>> = vec![
            // Removing the preemption at block 1: run 1 on, drop 2, swap, merge 1's halves.
            vec![(1, U), (2, 1), (1, 2), (TIME, 1)],
            vec![(1, 3), (1, 2), (TIME, 1)],
            vec![(2, 1), (1, 3), (1, 2), (TIME, 1)],
            vec![(1, 5), (2, 1), (TIME, 1)],
            // Removing steps: drop each block, halve those of two or more.
            vec![(2, 1), (1, 2), (TIME, 1)],
            vec![(1, 1), (2, 1), (1, 2), (TIME, 1)],
            vec![(1, 3), (1, 2), (TIME, 1)],
            vec![(1, 3), (2, 1), (TIME, 1)],
            vec![(1, 3), (2, 1), (1, 1), (TIME, 1)],
            vec![(1, 3), (2, 1), (1, 2)],
        ];
        assert_eq!(edits, expected);
        // A preemption right after time passed cannot let "time" run on.
        let b = best(&[(TIME, 1), (2, 1)], &[false, true]);
        assert_eq!(
            all(&b),
            vec![
                vec![(TIME, 1)],
                vec![(2, 1), (TIME, 1)],
                vec![(2, 1)],
                vec![(TIME, 1)],
            ]
        );
        assert!(all(&best(&[], &[])).is_empty());
    }
}
