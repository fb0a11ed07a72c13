//! `Pct`: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and Nagarakatte,
//! "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
//!
//! Every goroutine gets a random priority when it first appears, and the highest-priority
//! runnable goroutine always runs. At `depth - 1` change points, distinct steps chosen
//! uniformly among the `k` steps a schedule is expected to take, the goroutine about to run
//! drops to a low priority (`1..depth`, below every initial one). A bug of depth `d` among `n`
//! goroutines is then found with probability at least `1 / (n · k^(d-1))` per schedule. Half
//! the schedules, at random, place their change points differently, front-loaded (see
//! "Front-loaded schedules"), so the bound holds at half that: `1 / (2 · n · k^(d-1))`.
//!
//! # Change points
//!
//! Each change point demotes the goroutine below every goroutine still at its initial
//! priority *and below every goroutine demoted by an earlier change point*: the earliest gets
//! `depth - 1`, the last `1`. This is how Coyote and shuttle apply them. The paper gives the
//! `i`-th change point priority `i` whatever its position, so the priorities follow the
//! positions in a random order; a bug in which two goroutines must take turns `d - 1` times
//! (each preempted goroutine has to stay below the one it let run) is then reached only when
//! the `d - 1` positions come out in one of their `(d - 1)!` orders. On the alternation
//! program of `benches/sct_vs_shuttle.rs` (`fib_3`, two goroutines that must alternate five
//! times) at depth 6, the paper's assignment needed a median of 218 schedules to the bug and
//! shuttle 11.
//!
//! # Steps
//!
//! Change points fall on *steps*, and `k` counts them. The paper counts every scheduling
//! decision; three refinements keep `k` to the decisions where a preemption can lead somewhere
//! new:
//! - only decisions where the goroutine about to run will touch a shared object (a lock, a
//!   channel, an atomic, a cell: not a spawn, join or yield) are steps. A preemption just
//!   before a goroutine-local operation reaches the same shared states as one before its
//!   next shared operation;
//! - a lock attempt that parks its goroutine (the mutex or rwlock is held) is not a step: it
//!   changes no shared state, and the goroutine tries again when the holder lets go. PCT
//!   cannot tell beforehand (the mutex has no probe); it learns it at the next decision,
//!   which the goroutine reaches itself if it got the lock, and takes the step back. A
//!   change point already applied there stays applied; the later ones move one step on. On
//!   the alternation programs of `benches/sct_vs_shuttle.rs`, every preemption of the lock
//!   holder made the other goroutine try the lock and queue, a step that inflated `k` and
//!   shifted the change points after it (`fib_3` at depth 8 took a median of 14 schedules to
//!   the bug with those steps counted, 3 without: `tests/explore_pct_steps.rs`);
//! - a goroutine's first shared operation is not a step. A preemption there demotes a
//!   goroutine that has not touched anything shared yet, which is what a low initial priority
//!   does: the initial draw already puts it below the goroutines it must let run first (with
//!   probability `1 / n` per pair or better), so a change point spent there is mostly one
//!   the draw could have made. (Not quite: a change point also puts it below the goroutines
//!   demoted earlier, an initial priority above them.) On `benches/sct_vs_shuttle.rs` at
//!   depth 3 over 30 seeds, with every schedule but the first drawn uniformly, `twostage_20`
//!   went from a median of 431 schedules to the bug to 156 and `reorder_20` from 1,054 to
//!   666: their bugs need a preemption within a writer's first few operations, and `k` fell
//!   from 84 to 63 on `twostage_20`;
//! - but when leaving first operations out would leave `2 · depth` steps or fewer, they count
//!   after all: the `depth - 1` change points would then cover most steps, and the schedules
//!   would differ only in their initial priorities. On the two-goroutine alternation of
//!   `tests/explore_pct_steps.rs` (three rounds, no bug) at depth 8, `k` without first
//!   operations is 5, and 1,000 uniformly drawn schedules held a mean of 11 distinct ones
//!   over seeds 0 to 4 (609 with first operations counted);
//! - `k` is learnt: the most steps any earlier schedule of this run took, counted both ways
//!   (with and without first operations); each schedule draws its change points over the
//!   count it uses.
//!
//! So `k` is the most steps any schedule took, and the paper's bound, `1 / (n · k^(d-1))`,
//! holds for a bug whose `d - 1` preemptions fall on steps. A preemption before a local
//! operation has one before the goroutine's next shared operation with the same effect. One at
//! a parked attempt demotes a goroutine that is about to wait anyway: it only loses the waiter
//! choices while it waits, much as when it is demoted at its retry after the wake-up (a step),
//! where the others overtake it and take the lock first. One at a goroutine's first shared
//! operation is made by the initial priorities instead, as above: for a bug that needs it,
//! the bound holds with `k` counting first operations and the initial order carrying it.
//!
//! # Front-loaded schedules
//!
//! Before any schedule has run, `k` is not known, and there is nothing to draw change points
//! uniformly from. Rather than run the first schedule without any (a pure priority order,
//! which finds only bugs that need no preemption: shuttle and Coyote do this), PCT places
//! them as the schedule goes: at each step `s` (counted without first operations, from 0),
//! while `r` of its change points are left (see "Surplus change points" for how many it
//! places), one falls there with probability
//! `r / (s + 1 + r)`. With one change point to place, it falls on step `s` or later with
//! probability `1 / (s + 1)`: early steps are likely, late ones possible, and a schedule of
//! any length gets some.
//!
//! Every later schedule does the same with probability 1/2, and draws uniformly over the
//! learnt `k` otherwise. A uniform draw puts a change point on any one step with probability
//! about `(d - 1) / k`, whatever the step; the front-loaded one on step `s` with about
//! `(d - 1) / (s + 1)`: much more near the start of the run, where goroutines first meet
//! (and where the SCTBench programs below need their preemptions), and less towards the end.
//! The uniform half keeps the paper's bound, halved, for bugs anywhere in the run.
//!
//! Median schedules to the bug over 30 seeds (20 for `twostage_100`) on
//! `benches/sct_vs_shuttle.rs` at depth 3 (`fib` at depth 8): with every schedule after the
//! first uniform, and with half of them front-loaded:
//!
//! | program | first only | half front-loaded |
//! | --- | ---: | ---: |
//! | `fib_3` | 2 | 3 |
//! | `fib_4` | 5 | 8 |
//! | `twostage_20` | 156 | 73 |
//! | `withdraw_3` | 1 | 1 |
//! | `withdraw_8` | 1 | 1 |
//! | `reorder_20` | 666 | 129 |
//! | `twostage_100` | 12,895 | 286 |
//!
//! (`twostage_100` "first only": with `--budget 100000`; every seed found it within 10,000
//! with half front-loaded.) With the first schedule too drawn without change points,
//! `withdraw_8` needed 3 and `withdraw_3` 2. The cost shows on the alternation programs,
//! whose bug needs a change point at nearly every step: `fib_3` and `fib_4` there.
//!
//! Where a release wakes one of several waiters (a waiter choice), the waiter with the
//! highest priority wins.
//!
//! # Surplus change points
//!
//! A bug of depth `d' < depth` needs `d' - 1` change points; the others are surplus, and the
//! paper's argument only asks that they not get in the way. In a front-loaded schedule they
//! often do: its change points crowd the same first steps, so once one has preempted the
//! goroutine that had to be preempted, the next lands within the next `m` steps with
//! probability `m / (m + 2)` (with one left to place) and, if the goroutine then running is
//! the one that had to run on, demotes it below the first and lets the preempted one back in
//! too soon. So every front-loaded schedule, the first included, places between 1 and
//! `depth - 1` change points, the number drawn uniformly. The uniform half
//! is unchanged and keeps the bound above for every depth up to `depth`; in the front-loaded
//! half, a bug of depth `d'` gets exactly its `d' - 1` change points one time in
//! `depth - 1`.
//!
//! On `benches/sct_vs_shuttle.rs` at depth 3 over 300 seeds, medians of schedules to the bug,
//! always `depth - 1` against now: `bluetooth_driver` (main preempted between a check and an
//! increment while a stopper runs five shared steps) 17 -> 9, `twostage` 5 -> 3,
//! `twostage_20` 55 -> 45; the cost falls on bugs that gain from a second demotion
//! (`reorder_10` 24 -> 31, `reorder_20` 8 -> 11, `reorder_5` 6 -> 7, each still at most a
//! tenth of shuttle's median); `fib_3` and `fib_4` at depth 8 (3 and 11), `account`,
//! `lazy01`, `queue`, `stack`, `token_ring`, `wronglock` and `withdraw_8` kept their medians.
//!
//! The first schedule kept `depth - 1` until it too drew its count. On the same bench over
//! 300 seeds (`sct_vs_shuttle --program <all but twostage_100> --seeds 300 --tool "goweave
//! pct"`), before -> after, median schedules to the bug and the share of seeds that found it
//! in the first schedule: `bluetooth_driver` 9 -> 7 (6% -> 16%), `stack` 2 -> 1 (39% -> 53%),
//! `twostage` 3 -> 3 (15% -> 31%; mean 5.2 -> 4.2), `token_ring` 8 -> 7. It is a trade, not
//! a free gain: bugs that need (or gain from) a second demotion near the start lose some
//! first-schedule hits, `queue` 50% -> 31% (median 2 both), `withdraw_8` 82% -> 74% (median
//! 1 both), and `wronglock` 4 -> 5, `reorder_5` 7 -> 8, `fib_4` at depth 8 11 -> 12 (mean
//! 24.6 -> 29.0); over the 22 programs whose mean is above 1.15 schedules, the geometric
//! mean of the per-program ratios of mean schedules to the bug is 1.005. On the 30-seed table against shuttle it
//! brings `stack` and `twostage` to at most half of shuttle's median, and no program above.
//!
//! # Yields
//!
//! A goroutine that yields (it polls: see `explore`'s "Yields") drops below everything, so a
//! polling loop cannot starve the goroutine it waits for. It does not stay there for the rest
//! of the schedule: after each step of another goroutine that is not a yield itself (letting
//! time pass is not one), it draws a priority like a new goroutine's, and takes it if that puts
//! it above every other runnable goroutine. So between two polls the others take one step or
//! more, a random number of them, as they would on a real machine. (When yielders kept the
//! lowest priority, a poller could never act while another goroutine was runnable: on a
//! watchdog whose abort path loses a condition-variable signal, PCT at every depth missed
//! what the random walk finds in 50 schedules, sampling 9 to 157 distinct schedules per 1,000;
//! `tests/explore_polling_strategies.rs`.) Fairness still holds: every yield lets the
//! highest-priority goroutine that does not poll take at least one step.
//!
//! # Cost per decision
//!
//! The runnable goroutines are kept in an ordered index by priority (`order`), updated from
//! the goroutines the executor says became runnable since the previous decision
//! (`Decision::woken`) rather than by scanning every runnable goroutine: a goroutine that
//! blocked stays in the index until it reaches the top, and is dropped then. So a decision
//! costs O(log n) plus the wake-ups it absorbs, not O(runnable goroutines): 100,000
//! goroutines spawned by a main that keeps running used to cost O(n^2) (40 s at 100k).
//! Invariant: every runnable goroutine with a priority is in `order`, under that priority;
//! `order` may also hold goroutines that have blocked since they entered it.
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
//!   `gosched`, and keeps that low priority, whatever deadline comes next, until every
//!   goroutine that could have run when it passed has run (or stopped being runnable); then it
//!   draws a fresh priority, even for the same deadline (a zero-length timer re-armed while
//!   the clock stands still would otherwise keep time at the bottom for ever). So time cannot
//!   run away from the goroutines (a ticker nobody reads would otherwise fire forever, and a
//!   goroutine polling by sleeping would arm a fresh deadline, with a fresh priority, at every
//!   turn and starve a demoted goroutine for ever), and a goroutine polling for a timer's
//!   effect alternates with time.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Duration;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::random::{below, schedule_seed};
use super::{Decision, Event, ObjId, Op, Strategy, ValueDecision};

/// Change points go only where the goroutine about to run will touch a shared object.
fn touches_shared_object(e: &Event) -> bool {
    e.obj != ObjId(0) && !matches!(e.op, Op::Spawn | Op::Join | Op::Yield)
}

/// The index in `ids` of the goroutine with the highest `prio` (the first among equals).
pub(super) fn highest(ids: &[u64], prio: impl Fn(u64) -> i64) -> u64 {
    let mut best = 0;
    for (i, &g) in ids.iter().enumerate().skip(1) {
        if prio(g) > prio(ids[best]) {
            best = i;
        }
    }
    best as u64
}

/// PCT with a bug depth of `depth` (≥ 1).
pub struct Pct {
    depth: u32,
    seed: u64,
    rng: ChaCha8Rng,
    /// Priority by goroutine id; 0 = not assigned in this schedule. Higher runs first. Initial
    /// priorities are above `depth`, change points give `1..depth`, yields give ≤ 0.
    prio: Vec<i64>,
    /// (priority, id) of runnable goroutines, and perhaps of some that blocked since they
    /// entered (see the module's "Cost per decision"). The last entry wins; among equal
    /// priorities, the lowest id.
    order: BTreeSet<(i64, Reverse<u64>)>,
    /// Whether each goroutine (by id) is in `order`.
    ordered: Vec<bool>,
    /// Scratch: goroutines that get their initial priority at this decision.
    fresh: Vec<u64>,
    /// Goroutines that yielded and have not drawn a new priority above the others yet (see
    /// "Yields" in the module docs).
    demoted: Vec<u64>,
    /// The latest decision let time pass.
    last_was_time: bool,
    /// (decision index, new priority) of each change point, sorted by index.
    changes: Vec<(u64, i64)>,
    /// The first change point not applied yet.
    next_change: usize,
    /// Steps (decisions where a change point may go) taken in this schedule.
    steps: u64,
    /// The estimate of k: the most steps any schedule so far took.
    k: u64,
    /// Of `steps`, those that were not their goroutine's first shared step.
    later: u64,
    /// The most `later` steps any schedule so far took.
    k_later: u64,
    /// Whether this schedule counts a goroutine's first shared step as a step (see "Steps").
    count_first: bool,
    /// Whether each goroutine (by id) has taken a shared step in this schedule.
    started: Vec<bool>,
    /// Change points left to place as the schedule goes (a front-loaded schedule).
    online_left: u32,
    /// The goroutine chosen at the latest step to take a lock, and whether that was its first
    /// shared step, until the next decision shows whether it got it (see "Steps" in the
    /// module docs).
    locker: Option<(u64, bool)>,
    /// The priority the next yielding goroutine (or time, once it has passed) gets
    /// (decreasing, below 0: 0 means "not assigned").
    next_low: i64,
    /// The priority of letting time pass (meaningful while `time_deadline` is set).
    time_prio: i64,
    /// The earliest deadline `time_prio` belongs to.
    time_deadline: Option<Duration>,
    /// Time has passed and has kept the low priority it got then.
    time_low: bool,
    /// While `time_low`: the goroutines that could have run when time passed and have not
    /// been chosen (or stopped being runnable) since; once none is left, time draws a fresh
    /// priority at its next option.
    time_owed: Vec<u64>,
}

impl Pct {
    /// PCT with bug depth `depth` (clamped to at least 1), seeded with `seed`.
    pub fn new(depth: u32, seed: u64) -> Pct {
        Pct {
            depth: depth.max(1),
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            prio: Vec::new(),
            order: BTreeSet::new(),
            ordered: Vec::new(),
            fresh: Vec::new(),
            demoted: Vec::new(),
            last_was_time: false,
            changes: Vec::new(),
            next_change: 0,
            steps: 0,
            k: 0,
            later: 0,
            k_later: 0,
            count_first: true,
            started: Vec::new(),
            online_left: 0,
            locker: None,
            next_low: -1,
            time_prio: 0,
            time_deadline: None,
            time_low: false,
            time_owed: Vec::new(),
        }
    }

    /// A goroutine's initial priority (above every change point's).
    fn initial(&mut self) -> i64 {
        let r = (self.rng.next_u64() >> 24) as i64;
        self.depth as i64 + 1 + r
    }

    /// The option with the highest priority (time's index if it wins). Goroutines at the top
    /// of `order` that are no longer runnable leave it.
    fn best(&mut self, d: &Decision<'_>) -> usize {
        let best = loop {
            let &(p, Reverse(g)) = self
                .order
                .last()
                .expect("every runnable goroutine is ordered");
            match d.index_of(g) {
                Some(i) => break (i, p),
                None => {
                    self.order.pop_last();
                    self.ordered[g as usize] = false;
                }
            }
        };
        match d.time_index() {
            Some(t) if self.time_prio > best.1 => t,
            _ => best.0,
        }
    }

    /// After a step that was not a yield: each runnable yielder draws a priority like a new
    /// goroutine's, and takes it if that puts it above every other runnable goroutine (it
    /// then runs next); otherwise it stays below them, until the next such step. So a
    /// goroutine that polls lets the others take one step or more, at random, between polls.
    fn redraw_yielders(&mut self, d: &Decision<'_>) {
        let mut demoted = std::mem::take(&mut self.demoted);
        let top = self.top_goroutine(d);
        demoted.retain(|&g| {
            if d.index_of(g).is_none() {
                return true;
            }
            let p = self.initial();
            if p > top {
                self.set_prio(g, p);
                false
            } else {
                true
            }
        });
        self.demoted = demoted;
    }

    /// The highest priority among the runnable goroutines.
    fn top_goroutine(&mut self, d: &Decision<'_>) -> i64 {
        self.top(d).0
    }

    /// (priority, id) of the runnable goroutine with the highest priority. Goroutines at the
    /// top of `order` that are no longer runnable leave it.
    fn top(&mut self, d: &Decision<'_>) -> (i64, u64) {
        loop {
            let &(p, Reverse(g)) = self
                .order
                .last()
                .expect("every runnable goroutine is ordered");
            if d.index_of(g).is_some() {
                return (p, g);
            }
            self.order.pop_last();
            self.ordered[g as usize] = false;
        }
    }

    /// The index among this schedule's steps of the one option `best` would take, if it is
    /// a step where a change point may go (see "Steps"): time, or a goroutine's shared
    /// operation (its first only while `count_first`). The caller has checked that the
    /// operation is shared.
    fn step_here(&self, d: &Decision<'_>, best: usize) -> Option<u64> {
        match d.runnable.get(best) {
            Some(&g) if !self.count_first && !self.started[g as usize] => None,
            _ if self.count_first => Some(self.steps),
            _ => Some(self.later),
        }
    }

    /// A change point: option `best` drops to priority `p`.
    fn demote(&mut self, d: &Decision<'_>, best: usize, p: i64) {
        match d.runnable.get(best) {
            Some(&g) => {
                // A change point's priority is not undone when yielders get theirs back.
                self.demoted.retain(|&y| y != g);
                self.set_prio(g, p)
            }
            None => self.time_prio = p,
        }
    }

    /// Give goroutine `g` priority `p`, keeping `order` in step.
    fn set_prio(&mut self, g: u64, p: i64) {
        let i = g as usize;
        if self.ordered[i] {
            self.order.remove(&(self.prio[i], Reverse(g)));
            self.order.insert((p, Reverse(g)));
        }
        self.prio[i] = p;
    }

    /// Take in the goroutines that became runnable since the previous decision: the new ones
    /// get their initial priorities (in id order, as the random draws must come in a fixed
    /// order), and every one still runnable enters `order`.
    fn absorb(&mut self, d: &Decision<'_>) {
        let woken = d.woken().unwrap_or(d.runnable);
        if let Some(&top) = woken.iter().max() {
            if self.prio.len() <= top as usize {
                self.prio.resize(top as usize + 1, 0);
                self.ordered.resize(top as usize + 1, false);
                self.started.resize(top as usize + 1, false);
            }
        }
        let mut fresh = std::mem::take(&mut self.fresh);
        fresh.clear();
        for &g in woken {
            if self.ordered[g as usize] || d.index_of(g).is_none() {
                continue;
            }
            if self.prio[g as usize] == 0 {
                fresh.push(g);
            } else {
                self.ordered[g as usize] = true;
                self.order.insert((self.prio[g as usize], Reverse(g)));
            }
        }
        fresh.sort_unstable();
        fresh.dedup();
        for &g in &fresh {
            let p = self.initial();
            self.prio[g as usize] = p;
            self.ordered[g as usize] = true;
            self.order.insert((p, Reverse(g)));
        }
        self.fresh = fresh;
    }
}

impl Strategy for Pct {
    fn begin(&mut self, iteration: u64) -> bool {
        self.rng = ChaCha8Rng::seed_from_u64(schedule_seed(self.seed, iteration));
        self.prio.clear();
        self.order.clear();
        self.ordered.clear();
        self.demoted.clear();
        self.last_was_time = false;
        self.changes.clear();
        self.started.clear();
        // Each goroutine's first shared step is left out unless too few steps would be left
        // for the change points to vary over (see "Steps").
        self.count_first = self.k_later <= 2 * u64::from(self.depth);
        let k = if self.count_first {
            self.k
        } else {
            self.k_later
        };
        // Before any schedule has shown k, and then in every other schedule at random, the
        // change points are placed as the schedule goes (see "Front-loaded schedules").
        let front_loaded = self.k == 0 || below(&mut self.rng, 2) == 0;
        // A front-loaded schedule, the first included, places between 1 and `depth - 1`
        // change points, as many as a uniform draw says (see "Surplus change points").
        self.online_left = if !front_loaded || self.depth == 1 {
            0
        } else {
            1 + below(&mut self.rng, u64::from(self.depth - 1)) as u32
        };
        if front_loaded {
            self.count_first = false;
        } else if k > 0 {
            // Distinct positions: two change points on one step would waste one.
            let wanted = u64::from(self.depth - 1).min(k) as usize;
            while self.changes.len() < wanted {
                let at = below(&mut self.rng, k);
                if !self.changes.iter().any(|&(a, _)| a == at) {
                    self.changes.push((at, 0));
                }
            }
            self.changes.sort_unstable();
            // Each change point demotes below every earlier one (see "Change points").
            for (j, change) in self.changes.iter_mut().enumerate() {
                change.1 = (wanted - j) as i64;
            }
        }
        self.next_change = 0;
        self.steps = 0;
        self.later = 0;
        self.locker = None;
        self.next_low = -1;
        self.time_prio = 0;
        self.time_deadline = None;
        self.time_low = false;
        self.time_owed.clear();
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.absorb(d);
        // A goroutine took a step that was not a yield (it ran on, blocked or finished; letting
        // time pass is not one): the yielders get their priorities back.
        if let Some((g, first)) = self.locker.take() {
            // A goroutine that took a lock reaches its next scheduling point itself; if the
            // decision comes from elsewhere, its attempt parked it and changed nothing.
            if d.current != Some(g) {
                self.steps -= 1;
                if first {
                    self.started[g as usize] = false;
                } else {
                    self.later -= 1;
                }
            }
        }
        let progressed = !d.yielded && (d.current.is_some() || !self.last_was_time);
        if progressed && !self.demoted.is_empty() {
            self.redraw_yielders(d);
        }
        if d.yielded {
            if let Some(c) = d.current {
                if !self.demoted.contains(&c) {
                    self.demoted.push(c);
                }
                let low = self.next_low;
                self.set_prio(c, low);
                self.next_low -= 1;
            }
        }
        if let Some(deadline) = d.time {
            // A new deadline draws a fresh priority, like a new goroutine. Once time has
            // passed, it stays below everyone until the goroutines it overtook have run, then
            // draws a fresh one, even for the same deadline (a zero-length timer re-armed while
            // the clock stands still).
            if self.time_low {
                if self.time_owed.is_empty() {
                    self.time_low = false;
                    self.time_prio = self.initial();
                }
            } else if self.time_deadline != Some(deadline) {
                self.time_prio = self.initial();
            }
            self.time_deadline = Some(deadline);
        }
        let mut best = self.best(d);
        let shared = d.is_time(best)
            || d.pending(best)
                .is_some_and(|p| touches_shared_object(&p.event));
        if shared {
            // Change points drawn in `begin` whose step has come (several, if steps passed
            // while no goroutine could take one: see "Steps").
            while let Some(at) = self.step_here(d, best) {
                match self.changes.get(self.next_change) {
                    Some(&(a, p)) if a <= at => {
                        self.demote(d, best, p);
                        self.next_change += 1;
                        best = self.best(d);
                    }
                    _ => break,
                }
            }
            // In a front-loaded schedule: one here with probability r / (at + 1 + r), for the r
            // change points still to place (see "Front-loaded schedules").
            if let Some(at) = self.step_here(d, best).filter(|_| self.online_left > 0) {
                let r = u64::from(self.online_left);
                if below(&mut self.rng, at + 1 + r) < r {
                    self.demote(d, best, r as i64);
                    self.online_left -= 1;
                    best = self.best(d);
                }
            }
            self.steps += 1;
            match d.runnable.get(best) {
                Some(&g) => {
                    let first = !self.started[g as usize];
                    if first {
                        self.started[g as usize] = true;
                    } else {
                        self.later += 1;
                    }
                    if d.pending(best)
                        .is_some_and(|p| matches!(p.event.op, Op::Lock | Op::RLock))
                    {
                        self.locker = Some((g, first));
                    }
                }
                None => self.later += 1,
            }
        }
        self.last_was_time = d.is_time(best);
        if d.is_time(best) {
            // Time yields once it has passed, until the goroutines it overtook have run.
            self.time_prio = self.next_low;
            self.next_low -= 1;
            self.time_low = true;
            self.time_owed.clear();
            self.time_owed.extend_from_slice(d.runnable);
        } else if !self.time_owed.is_empty() {
            let chosen = d.runnable[best];
            self.time_owed
                .retain(|&g| g != chosen && d.index_of(g).is_some());
        }
        best
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        if !d.waiters().is_empty() {
            // Which waiter a release wakes: the one with the highest priority, as the
            // highest-priority goroutine is the one that would win the race to the lock.
            return highest(d.waiters(), |g| {
                self.prio.get(g as usize).copied().unwrap_or(0)
            });
        }
        below(&mut self.rng, d.n)
    }

    fn end(&mut self) {
        self.k = self.k.max(self.steps);
        self.k_later = self.k_later.max(self.later);
    }

    fn describe(&self) -> String {
        format!("pct(depth={}, seed={})", self.depth, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use crate::explore::Pending;

    use super::*;

    /// Picks of two PCTs with the same seed over one simulated run: one told which goroutines
    /// became runnable (`Decision::woken`, as the executor does), one left to find out from
    /// `runnable` (every decision then scans it). Goroutines spawn, block and wake at random;
    /// the index with lazy removal must pick exactly as the scan does.
    #[test]
    fn the_priority_index_picks_as_a_full_scan_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for run in 0..40u64 {
            let depth = 1 + (run % 4) as u32;
            let (mut told, mut scans) = (Pct::new(depth, run), Pct::new(depth, run));
            // A first schedule teaches k, so that change points happen in the second.
            for it in 0..2 {
                told.begin(it);
                scans.begin(it);
                let mut next_id = 2u64;
                let mut runnable = vec![1u64];
                let mut blocked: Vec<u64> = Vec::new();
                let mut woken = vec![1u64];
                let mut current = None;
                let here = Location::caller();
                let pending: Vec<Pending> = (0..400)
                    .map(|i| Pending {
                        event: Event::new(Op::ChanSend, ObjId(1 + i % 3), here),
                        since: 0,
                    })
                    .collect();
                for step in 0..300u64 {
                    match below(&mut rng, 6) {
                        0 | 1 if next_id < 400 => {
                            runnable.push(next_id);
                            woken.push(next_id);
                            next_id += 1;
                        }
                        2 if runnable.len() > 1 => {
                            let i = below(&mut rng, runnable.len() as u64) as usize;
                            blocked.push(runnable.remove(i));
                        }
                        3 if !blocked.is_empty() => {
                            let i = below(&mut rng, blocked.len() as u64) as usize;
                            let g = blocked.swap_remove(i);
                            let at = runnable.partition_point(|&x| x < g);
                            runnable.insert(at, g);
                            woken.push(g);
                        }
                        _ => {}
                    }
                    let yielded = below(&mut rng, 5) == 0 && current.is_some();
                    let time = (below(&mut rng, 4) == 0).then(|| Duration::from_millis(step / 7));
                    let mut d = Decision::new(&runnable, current, step, yielded, step, &pending);
                    let mut e = Decision::new(&runnable, current, step, yielded, step, &pending);
                    if let Some(t) = time {
                        d = d.with_time(t);
                        e = e.with_time(t);
                    }
                    let a = told.pick_goroutine(&d.with_woken(&woken));
                    let b = scans.pick_goroutine(&e);
                    assert_eq!(a, b, "run {run}, schedule {it}, step {step}");
                    woken.clear();
                    current = runnable.get(a).copied();
                }
                told.end();
                scans.end();
            }
        }
    }

    /// Goroutines 1 and 2 are both about to lock one mutex; the one PCT runs either parks
    /// (the next decision comes from goroutine 3, so the attempt is taken back) or gets the
    /// lock (it reaches the next decision itself: the step stays).
    #[test]
    fn a_lock_attempt_that_parks_is_taken_back_as_a_step() {
        let here = Location::caller();
        let at = |op, obj| Pending {
            event: Event::new(op, ObjId(obj), here),
            since: 0,
        };
        let pending = [
            at(Op::Spawn, 0),
            at(Op::Lock, 5),
            at(Op::Lock, 5),
            at(Op::Spawn, 0),
        ];
        let both = [1u64, 2];
        for seed in 0..20 {
            // Parked: goroutine 3 reaches the next decision, where the other one may lock.
            let mut pct = Pct::new(1, seed);
            pct.begin(0);
            let first =
                both[pct.pick_goroutine(&Decision::new(&both, None, 0, false, 0, &pending))];
            assert_eq!(pct.steps, 1);
            let other = 3 - first;
            let rest = [other, 3];
            let d = Decision::new(&rest, Some(3), 1, false, 1, &pending);
            let locks = (rest[pct.pick_goroutine(&d)] == other) as u64;
            assert_eq!(
                pct.steps, locks,
                "seed {seed}: the parked attempt still counts"
            );

            // Got it: it reaches the next decision itself, about to unlock.
            let mut pct = Pct::new(1, seed);
            pct.begin(0);
            let first =
                both[pct.pick_goroutine(&Decision::new(&both, None, 0, false, 0, &pending))];
            let mut unlock = pending;
            unlock[first as usize] = at(Op::Unlock, 5);
            let d = Decision::new(&both, Some(first), 1, false, 1, &unlock);
            pct.pick_goroutine(&d);
            assert_eq!(pct.steps, 2, "seed {seed}: a lock that was taken is a step");
        }
    }
}
