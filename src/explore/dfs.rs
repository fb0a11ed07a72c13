//! `Dfs`: exhaustive, stateless depth-first search over schedules, with preemption bounding
//! (Musuvathi and Qadeer, "Iterative Context Bounding for Systematic Testing of Multithreaded
//! Programs", PLDI 2007).
//!
//! Each schedule replays the choices of the previous one up to the deepest decision that has
//! an untried alternative, takes that alternative, and from there on takes the first option
//! of every new decision: the running goroutine if it can continue, else the lowest id. With
//! `max_preemptions = Some(c)` only schedules with at most `c` preemptions are explored;
//! switches where the running goroutine blocked, finished or yielded are free. A goroutine that
//! yielded is not run again while another can run, so polling loops stay finite. Data choices
//! (`select!`, `rand`) branch over every value. Where a timer is pending, letting time pass is
//! one more branch, the last one; it is not a preemption, so a preemption bound does not limit
//! where timeouts fire. A goroutine that yielded with nobody else to run has only that branch,
//! after which it may run again.
//!
//! Invariant: `frames[..depth]` are the decisions of the schedule running now; each frame's
//! `chosen` option is the one taken, and every option before it has been explored.

use super::{Decision, Strategy, ValueDecision};

/// The option that lets time pass, among a frame's goroutine options.
const TIME: u64 = u64::MAX;

/// The goroutine options of decision `d` in the order the exhaustive searches try them, into
/// `out`: the goroutine at the scheduling point first if it can continue, then the others by
/// id; after a yield, the goroutines after the one that yielded (wrapping), without it; else
/// by id. Letting time pass is for the caller to add.
pub(super) fn order(d: &Decision<'_>, out: &mut Vec<u64>) {
    if let Some(c) = d.can_continue() {
        out.push(d.runnable[c]);
        out.extend(d.runnable.iter().filter(|&&g| g != d.runnable[c]));
    } else if let (true, Some(y)) = (d.yielded, d.current) {
        let at = d.runnable.partition_point(|&g| g <= y);
        out.extend(d.runnable[at..].iter().copied());
        out.extend(d.runnable[..at].iter().copied().filter(|&g| g != y));
    } else {
        out.extend_from_slice(d.runnable);
    }
}

/// True if `order(d)` would give exactly `options`, found without building it: a search that
/// replays a recorded decision only checks that the program offered the same options again,
/// at every decision of the replayed prefix (most of a schedule's decisions).
pub(super) fn is_order(d: &Decision<'_>, options: &[u64]) -> bool {
    // Compared element by element: the lists are short, and a slice comparison is a call.
    fn same(a: &[u64], b: &[u64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
    }
    let r = d.runnable;
    let Some(cur) = d.current else {
        return same(options, r);
    };
    if !d.yielded {
        // The goroutine at the scheduling point first if it is runnable, then the others in
        // order: one pass over `r`, skipping it where it is found.
        let (rest, moved) = match options.split_first() {
            Some((&first, rest)) if first == cur => (rest, true),
            _ => (options, false),
        };
        let mut found = false;
        let mut it = rest.iter();
        for &g in r {
            if g == cur {
                found = true;
            } else if it.next() != Some(&g) {
                return false;
            }
        }
        return found == moved && it.next().is_none();
    }
    // After a yield: the goroutines after `cur`, then those before it (wrapping), without
    // `cur` (which need not be runnable).
    let at = r.partition_point(|&g| g <= cur);
    let before = match r[..at].last() {
        Some(&l) if l == cur => &r[..at - 1],
        _ => &r[..at],
    };
    let n = r.len() - at;
    options.len() == n + before.len()
        && same(&options[..n], &r[at..])
        && same(&options[n..], before)
}

/// One decision of the current schedule.
struct Frame {
    /// The goroutine options in exploration order, [`TIME`] last where time may pass (empty for
    /// a data choice).
    options: Vec<u64>,
    /// Number of options.
    n: u64,
    /// The option taken.
    chosen: u64,
    /// `options[0]` could have continued: every other option is a preemption.
    cont: bool,
    /// Preemptions before this decision.
    preemptions_before: u32,
}

/// Exhaustive depth-first search, optionally preemption-bounded.
pub struct Dfs {
    max_preemptions: Option<u32>,
    frames: Vec<Frame>,
    /// Decisions taken so far in the current schedule.
    depth: usize,
    /// Preemptions so far in the current schedule.
    preemptions: u32,
    /// Scratch: the options of the current decision.
    scratch: Vec<u64>,
    exhausted: bool,
}

impl Dfs {
    /// Explore every schedule with at most `max_preemptions` preemptions (all if `None`).
    pub fn new(max_preemptions: Option<u32>) -> Dfs {
        Dfs {
            max_preemptions,
            frames: Vec::new(),
            depth: 0,
            preemptions: 0,
            scratch: Vec::new(),
            exhausted: false,
        }
    }

    /// True once every schedule within the bound has been explored.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    fn allowed(&self, f: &Frame, j: u64) -> bool {
        !f.cont
            || j == 0
            || f.options.get(j as usize) == Some(&TIME)
            || self
                .max_preemptions
                .is_none_or(|m| f.preemptions_before < m)
    }

    /// Take the decision at `depth` with options `scratch`; returns the option index.
    fn take(&mut self, cont: bool, n: u64) -> Result<u64, String> {
        let chosen = if let Some(f) = self.frames.get(self.depth) {
            if f.n != n || f.options != self.scratch || f.cont != cont {
                return Err(format!(
                    "the program did not repeat itself under Dfs: decision {} offered {:?} before and {:?} now (is it nondeterministic?)",
                    self.depth, f.options, self.scratch
                ));
            }
            f.chosen
        } else {
            self.frames.push(Frame {
                options: self.scratch.clone(),
                n,
                chosen: 0,
                cont,
                preemptions_before: self.preemptions,
            });
            0
        };
        self.depth += 1;
        if cont && chosen != 0 && self.scratch.get(chosen as usize) != Some(&TIME) {
            self.preemptions += 1;
        }
        Ok(chosen)
    }
}

impl Strategy for Dfs {
    fn begin(&mut self, iteration: u64) -> bool {
        if iteration == 0 {
            self.frames.clear();
            self.exhausted = false;
        } else {
            self.frames.truncate(self.depth);
            loop {
                let Some(f) = self.frames.last() else {
                    self.exhausted = true;
                    return false;
                };
                match (f.chosen + 1..f.n).find(|&j| self.allowed(f, j)) {
                    Some(j) => {
                        self.frames.last_mut().expect("checked above").chosen = j;
                        break;
                    }
                    None => {
                        self.frames.pop();
                    }
                }
            }
        }
        self.depth = 0;
        self.preemptions = 0;
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.scratch.clear();
        let cont = d.can_continue();
        order(d, &mut self.scratch);
        if d.time.is_some() {
            self.scratch.push(TIME);
        }
        let n = self.scratch.len() as u64;
        match self.take(cont.is_some(), n) {
            Ok(j) => match self.scratch[j as usize] {
                TIME => d.time_index().expect("time is an option"),
                g => d.index_of(g).expect("options are runnable"),
            },
            Err(why) => {
                d.abort(why);
                0
            }
        }
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.scratch.clear();
        match self.take(false, d.n) {
            Ok(j) => j,
            Err(why) => {
                d.abort(why);
                0
            }
        }
    }

    fn describe(&self) -> String {
        match self.max_preemptions {
            Some(m) => format!("dfs(max_preemptions={m})"),
            None => "dfs".into(),
        }
    }

    /// The plain search runs past races as [`Dpor`](super::Dpor) does, so that the two reach
    /// the same outcomes (`tests/dpor_differential.rs`).
    fn runs_past_races(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_order` agrees with `order` on every shape of decision: the goroutine that can
    /// continue first (at each place in `runnable`), after a yield (with the one that
    /// yielded runnable or not, at each place), and plain; and rejects any other list.
    #[test]
    fn is_order_accepts_exactly_what_order_builds() {
        let runnable: &[u64] = &[2, 3, 5, 8];
        for current in [None, Some(1), Some(2), Some(3), Some(5), Some(8), Some(9)] {
            for yielded in [false, true] {
                let d = Decision::new(runnable, current, 0, yielded, 0, &[]);
                let mut want = Vec::new();
                order(&d, &mut want);
                assert!(is_order(&d, &want), "{current:?} {yielded}: {want:?}");
                // Every other arrangement of the same goroutines, and every list one longer
                // or shorter, is not the order.
                let mut others = vec![want[..want.len() - 1].to_vec(), {
                    let mut v = want.clone();
                    v.push(13);
                    v
                }];
                for i in 0..want.len() {
                    for j in i + 1..want.len() {
                        let mut v = want.clone();
                        v.swap(i, j);
                        others.push(v);
                    }
                }
                for v in others {
                    assert!(!is_order(&d, &v), "{current:?} {yielded}: {v:?}");
                }
            }
        }
    }
}
