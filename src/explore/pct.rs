//! `Pct`: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and Nagarakatte,
//! "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
//!
//! Every goroutine gets a random priority when it first appears, and the highest-priority
//! runnable goroutine always runs. At `depth - 1` change points, chosen uniformly among the
//! `k` steps a schedule is expected to take, the goroutine about to run drops to a low
//! priority (`1..depth`, below every initial one). A bug of depth `d` among `n` goroutines is
//! then found with probability at least `1 / (n · k^(d-1))` per schedule.
//!
//! Two refinements of the paper's step counting, both to keep `k` small:
//! - only decisions where the goroutine about to run will touch a shared object (a lock, a
//!   channel, an atomic, a cell: not a spawn, join or yield) are steps that may hold a change
//!   point. A preemption just before a goroutine-local operation reaches the same shared
//!   states as one before its next shared operation;
//! - `k` is learnt: the most such steps any earlier schedule of this run took (the first
//!   schedule has no change points).
//!
//! A goroutine that yields drops below everything, so a polling loop cannot starve the
//! goroutine it waits for.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::random::{below, schedule_seed};
use super::{Decision, Event, ObjId, Op, Strategy, ValueDecision};

/// Change points go only where the goroutine about to run will touch a shared object.
fn touches_shared_object(e: &Event) -> bool {
    e.obj != ObjId(0) && !matches!(e.op, Op::Spawn | Op::Join | Op::Yield)
}

/// PCT with a bug depth of `depth` (≥ 1).
pub struct Pct {
    depth: u32,
    seed: u64,
    rng: ChaCha8Rng,
    /// Priority by goroutine id; 0 = not assigned in this schedule. Higher runs first. Initial
    /// priorities are above `depth`, change points give `1..depth`, yields give ≤ 0.
    prio: Vec<i64>,
    /// (decision index, new priority) of each change point, sorted by index.
    changes: Vec<(u64, i64)>,
    /// The first change point not applied yet.
    next_change: usize,
    /// Steps (decisions where a change point may go) taken in this schedule.
    steps: u64,
    /// The estimate of k: the most steps any schedule so far took.
    k: u64,
    /// The priority the next yielding goroutine gets (decreasing).
    next_low: i64,
}

impl Pct {
    /// PCT with bug depth `depth` (clamped to at least 1), seeded with `seed`.
    pub fn new(depth: u32, seed: u64) -> Pct {
        Pct {
            depth: depth.max(1),
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            prio: Vec::new(),
            changes: Vec::new(),
            next_change: 0,
            steps: 0,
            k: 0,
            next_low: 0,
        }
    }

    fn best(&self, runnable: &[u64]) -> usize {
        let mut best = 0;
        for (i, &g) in runnable.iter().enumerate().skip(1) {
            if self.prio[g as usize] > self.prio[runnable[best] as usize] {
                best = i;
            }
        }
        best
    }
}

impl Strategy for Pct {
    fn begin(&mut self, iteration: u64) -> bool {
        self.rng = ChaCha8Rng::seed_from_u64(schedule_seed(self.seed, iteration));
        self.prio.clear();
        self.changes.clear();
        if self.k > 0 {
            for i in 1..self.depth {
                let at = below(&mut self.rng, self.k);
                self.changes.push((at, i as i64));
            }
            self.changes.sort_unstable();
        }
        self.next_change = 0;
        self.steps = 0;
        self.next_low = 0;
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        let top = *d
            .runnable
            .last()
            .expect("a decision has runnable goroutines") as usize;
        if self.prio.len() <= top {
            self.prio.resize(top + 1, 0);
        }
        for &g in d.runnable {
            if self.prio[g as usize] == 0 {
                let r = (self.rng.next_u64() >> 24) as i64;
                self.prio[g as usize] = self.depth as i64 + 1 + r;
            }
        }
        if d.yielded {
            if let Some(c) = d.current {
                self.prio[c as usize] = self.next_low;
                self.next_low -= 1;
            }
        }
        let mut best = self.best(d.runnable);
        if !d
            .pending(best)
            .is_some_and(|p| touches_shared_object(&p.event))
        {
            return best;
        }
        while let Some(&(at, p)) = self.changes.get(self.next_change) {
            if at > self.steps {
                break;
            }
            self.prio[d.runnable[best] as usize] = p;
            self.next_change += 1;
            best = self.best(d.runnable);
        }
        self.steps += 1;
        best
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        below(&mut self.rng, d.n)
    }

    fn end(&mut self) {
        self.k = self.k.max(self.steps);
    }

    fn describe(&self) -> String {
        format!("pct(depth={}, seed={})", self.depth, self.seed)
    }
}
