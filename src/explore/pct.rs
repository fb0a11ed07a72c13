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
//!
//! # Time
//!
//! Letting time pass is a pseudo-goroutine with a priority of its own:
//! - its *event* is the earliest pending deadline. A new one (a goroutine armed an earlier
//!   timer, or a first one) gets a fresh random priority drawn like a goroutine's initial one,
//!   so a timeout fires as soon as it is armed in about one schedule in `n + 1`, only once
//!   everything else is blocked in others, and change points move it in between (letting time
//!   pass is a step that may hold a change point: it touches the timers' channels);
//! - once time has passed, it yields: it drops below everything, like a goroutine that called
//!   `gosched`, and the deadline it moves on to (a ticker's next tick, or the next deadline a
//!   goroutine arms) keeps that low priority until a goroutine has been chosen over time. So
//!   time cannot run away from the goroutines (a ticker nobody reads would otherwise fire
//!   forever, and a goroutine polling by sleeping would arm a fresh deadline, with a fresh
//!   priority, at every turn and starve a demoted goroutine for ever), and a goroutine polling
//!   for a timer's effect alternates with time.

use std::time::Duration;

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
    /// The priority the next yielding goroutine (or time, once it has passed) gets
    /// (decreasing).
    next_low: i64,
    /// The priority of letting time pass (meaningful while `time_deadline` is set).
    time_prio: i64,
    /// The earliest deadline `time_prio` belongs to.
    time_deadline: Option<Duration>,
    /// Time passed at the latest decision: the deadline it moves on to keeps its priority.
    time_passed: bool,
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
            time_prio: 0,
            time_deadline: None,
            time_passed: false,
        }
    }

    /// A goroutine's initial priority (above every change point's).
    fn initial(&mut self) -> i64 {
        let r = (self.rng.next_u64() >> 24) as i64;
        self.depth as i64 + 1 + r
    }

    /// The option with the highest priority (time's index if it wins).
    fn best(&self, d: &Decision<'_>) -> usize {
        let runnable = d.runnable;
        let mut best = 0;
        for (i, &g) in runnable.iter().enumerate().skip(1) {
            if self.prio[g as usize] > self.prio[runnable[best] as usize] {
                best = i;
            }
        }
        match d.time_index() {
            Some(t) if self.time_prio > self.prio[runnable[best] as usize] => t,
            _ => best,
        }
    }

    /// The priority of option `i`.
    fn prio_mut(&mut self, d: &Decision<'_>, i: usize) -> &mut i64 {
        match d.runnable.get(i) {
            Some(&g) => &mut self.prio[g as usize],
            None => &mut self.time_prio,
        }
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
        self.time_prio = 0;
        self.time_deadline = None;
        self.time_passed = false;
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
                self.prio[g as usize] = self.initial();
            }
        }
        if d.yielded {
            if let Some(c) = d.current {
                self.prio[c as usize] = self.next_low;
                self.next_low -= 1;
            }
        }
        if let Some(deadline) = d.time {
            // Once time has passed, it stays below everyone until a goroutine has run at a
            // decision where time was an option too: decisions without it (goroutines
            // handing over among themselves) do not count. Otherwise a goroutine that polls by
            // sleeping arms a new deadline at every turn, each with a fresh priority, and time
            // and the poller can starve everyone else for ever.
            let passed = std::mem::take(&mut self.time_passed);
            if self.time_deadline != Some(deadline) {
                if !passed {
                    self.time_prio = self.initial();
                }
                self.time_deadline = Some(deadline);
            }
        }
        let mut best = self.best(d);
        let shared = d.is_time(best)
            || d.pending(best)
                .is_some_and(|p| touches_shared_object(&p.event));
        if shared {
            while let Some(&(at, p)) = self.changes.get(self.next_change) {
                if at > self.steps {
                    break;
                }
                *self.prio_mut(d, best) = p;
                self.next_change += 1;
                best = self.best(d);
            }
            self.steps += 1;
        }
        if d.is_time(best) {
            // Time yields once it has passed.
            self.time_prio = self.next_low;
            self.next_low -= 1;
            self.time_passed = true;
        }
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
