//! `Follow`: the strategy that makes the checker retrace a recorded run.
//!
//! Invariants:
//! - `pos[r]` counts the entries of recorded goroutine `r` consumed so far: operations the
//!   followed run committed (checked against the log as they commit) and data choices it asked
//!   for. `fires` counts the timer firings consumed (each time the checker's clock moves).
//! - A node of the merged order is done once its stream's count is past it; `cursor` is never
//!   past the first node not done.
//! - Identities are matched, never assumed: the followed goroutine 1 is the recorded main; a
//!   goroutine created by a followed `go` is the one the recorded `go` at the same place of
//!   its parent's log created; an object is bound to the recorded object at the first
//!   operation on it, and every later operation must agree with that binding both ways.
//! - The first disagreement is kept in `diverged` and ends the run at the next decision as
//!   `Nondeterminism`; it is also handed to the driver through `report`, for a run that ends
//!   before another decision comes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::linearize::Node;
use super::{Entry, Kind, Recording};
use crate::explore::{Decision, Note, Strategy, ValueDecision};
use crate::verdict::{Event, Op};

/// What the driver learns from a followed run.
#[derive(Debug, Default)]
pub(crate) struct FollowReport {
    /// The first operation that differed from the log, described.
    pub(crate) diverged: Option<String>,
    /// Decisions where the next recorded operation's goroutine could not run, so a later one
    /// went first.
    pub(crate) reordered: u64,
    /// Data choices the followed run asked for where the recorded run made none (answered 0).
    pub(crate) unrecorded_values: u64,
    /// Operations committed that matched the log.
    pub(crate) matched: u64,
}

/// Follows a recorded run (see the module invariants).
pub(crate) struct Follow {
    rec: Arc<Recording>,
    order: Arc<[Node]>,
    cursor: usize,
    pos: HashMap<u64, usize>,
    fires: usize,
    /// The recorded goroutines that timer firings started (`time::after_func`), in firing
    /// order, and how many of them the followed run has started so far.
    timer_spawns: Arc<[u64]>,
    timer_spawned: usize,
    g_to_rec: HashMap<u64, u64>,
    g_from_rec: HashMap<u64, u64>,
    o_to_rec: HashMap<u64, u64>,
    o_from_rec: HashMap<u64, u64>,
    diverged: Option<String>,
    last_step: u64,
    commits: u64,
    report: Arc<Mutex<FollowReport>>,
}

impl Follow {
    pub(crate) fn new(
        rec: Arc<Recording>,
        order: Vec<Node>,
        report: Arc<Mutex<FollowReport>>,
    ) -> Follow {
        let timer_spawns = rec
            .fires
            .iter()
            .flatten()
            .filter(|e| e.kind() == Kind::Op(Op::Spawn))
            .map(|e| e.obj)
            .collect();
        Follow {
            rec,
            order: order.into(),
            cursor: 0,
            pos: HashMap::new(),
            fires: 0,
            timer_spawns,
            timer_spawned: 0,
            g_to_rec: HashMap::new(),
            g_from_rec: HashMap::new(),
            o_to_rec: HashMap::new(),
            o_from_rec: HashMap::new(),
            diverged: None,
            last_step: 0,
            commits: 0,
            report,
        }
    }

    fn done(&self, n: Node) -> bool {
        if n.0 == 0 {
            self.fires > n.1
        } else {
            self.pos.get(&n.0).copied().unwrap_or(0) > n.1
        }
    }

    fn entries(&self, r: u64) -> &[Entry] {
        self.rec.streams.get(&r).map_or(&[], |s| &s.entries[..])
    }

    /// The next recorded operation of recorded goroutine `r` (skipping, and consuming, data
    /// choices the followed run did not ask for), with its index.
    fn next_op(&mut self, r: u64) -> Option<(usize, Entry)> {
        loop {
            let p = self.pos.get(&r).copied().unwrap_or(0);
            let e = *self.entries(r).get(p)?;
            if matches!(e.kind(), Kind::Value | Kind::Touch) {
                self.pos.insert(r, p + 1);
                continue;
            }
            return Some((p, e));
        }
    }

    /// The position of recorded goroutine `r` past the order-only entries at it (which
    /// belong to the operation before them: nothing is followed for them).
    fn skip_touches(&mut self, r: u64) -> usize {
        let mut p = self.pos.get(&r).copied().unwrap_or(0);
        while self
            .entries(r)
            .get(p)
            .is_some_and(|e| e.kind() == Kind::Touch)
        {
            p += 1;
        }
        self.pos.insert(r, p);
        p
    }

    fn bind_goroutine(&mut self, g: u64, r: u64) {
        self.g_to_rec.insert(g, r);
        self.g_from_rec.insert(r, g);
    }

    fn diverge(&mut self, why: String) {
        if self.diverged.is_none() {
            let msg = format!(
                "the followed run left the recording after step {} (operation {} of the followed run): {why}; the program depends on something goweave does not see (a std HashMap's order, a thread-local, the clock, I/O), or the code changed",
                self.last_step, self.commits
            );
            self.report.lock().unwrap().diverged = Some(msg.clone());
            self.diverged = Some(msg);
        }
    }

    /// Goroutine `g` committed `ev`: check it against its log.
    fn committed(&mut self, g: u64, ev: Event) {
        self.commits += 1;
        let Some(&r) = self.g_to_rec.get(&g) else {
            return; // not in the recording (created after it ended): free
        };
        let Some((p, e)) = self.next_op(r) else {
            return; // the recorded goroutine went no further: free from here
        };
        self.pos.insert(r, p + 1);
        let c = ev.obj.0;
        let describe = |e: &Entry| match e.kind() {
            Kind::Op(op) => format!("{} on recorded object #{}", op.name(), e.obj),
            Kind::Value => format!("a data choice ({})", e.obj),
            Kind::Touch => format!("an order entry of recorded object #{}", e.obj),
            // Split off by the session: never in a stream.
            Kind::Switch => "a switch of goroutines".into(),
            Kind::Fire => "a timer firing".into(),
        };
        let what = format!(
            "goroutine {g} (recorded as goroutine {r}) did {} on {} at {}, where its operation {} in the recording is {}",
            ev.op.name(),
            ev.obj,
            ev.site,
            p + 1,
            describe(&e)
        );
        if e.kind() != Kind::Op(ev.op) {
            return self.diverge(what);
        }
        let ok = match ev.op {
            Op::Spawn => self.g_to_rec.get(&c) == Some(&e.obj),
            Op::Join => self.g_to_rec.get(&c) == Some(&e.obj),
            _ if c == 0 || e.obj == 0 => c == 0 && e.obj == 0,
            _ => match (self.o_to_rec.get(&c), self.o_from_rec.get(&e.obj)) {
                (None, None) => {
                    self.o_to_rec.insert(c, e.obj);
                    self.o_from_rec.insert(e.obj, c);
                    true
                }
                (Some(&x), Some(&y)) => x == e.obj && y == c,
                _ => false,
            },
        };
        if ok {
            self.report.lock().unwrap().matched += 1;
        } else {
            self.diverge(what);
        }
    }
}

impl Strategy for Follow {
    fn begin(&mut self, _iteration: u64) -> bool {
        self.cursor = 0;
        self.pos.clear();
        self.fires = 0;
        self.timer_spawned = 0;
        self.g_to_rec.clear();
        self.g_from_rec.clear();
        self.o_to_rec.clear();
        self.o_from_rec.clear();
        self.diverged = None;
        self.commits = 0;
        // Main is goroutine 1 on both executors.
        self.bind_goroutine(1, 1);
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        self.last_step = d.step;
        if let Some(why) = &self.diverged {
            d.abort(why.clone());
            return 0;
        }
        while self.cursor < self.order.len() && self.done(self.order[self.cursor]) {
            self.cursor += 1;
        }
        let mut skipped = false;
        for k in self.cursor..self.order.len() {
            let n = self.order[k];
            if self.done(n) {
                continue;
            }
            let pick = if n.0 == 0 {
                d.time_index()
            } else {
                self.g_from_rec.get(&n.0).and_then(|&g| d.index_of(g))
            };
            if let Some(i) = pick {
                if skipped {
                    self.report.lock().unwrap().reordered += 1;
                }
                return i;
            }
            skipped = true;
        }
        // Past the end of the recording: no preemption.
        d.can_continue().unwrap_or(0)
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        self.last_step = d.step;
        if !d.waiters().is_empty() {
            // Which waiter a release wakes: the work-stealing runtime always wakes the oldest
            // (FIFO), so the recording holds no entry for it; do the same.
            return 0;
        }
        let Some(&r) = self.g_to_rec.get(&d.goroutine) else {
            return 0;
        };
        let p = self.skip_touches(r);
        match self.entries(r).get(p).copied() {
            Some(e) if e.kind() == Kind::Value => {
                self.pos.insert(r, p + 1);
                if e.obj < d.n {
                    e.obj
                } else {
                    let why = format!(
                        "goroutine {} (recorded as goroutine {r}) chose among {} options, where the recording chose option {}",
                        d.goroutine, d.n, e.obj
                    );
                    self.diverge(why);
                    d.abort(self.diverged.clone().unwrap_or_default());
                    0
                }
            }
            _ => {
                self.report.lock().unwrap().unrecorded_values += 1;
                0
            }
        }
    }

    fn describe(&self) -> String {
        "follow(recorded run)".into()
    }

    fn wants_notes(&self) -> bool {
        true
    }

    fn note(&mut self, n: Note) {
        match n {
            // Outside every goroutine: a timer firing started it (`time::after_func`). The
            // followed run fires the recorded firings in their order, so the k-th goroutine a
            // firing starts is the recording's k-th; its operations are then checked against
            // that goroutine's log like any other's.
            Note::Spawned { parent: 0, child } if child != 1 => {
                if let Some(&r) = self.timer_spawns.get(self.timer_spawned) {
                    self.timer_spawned += 1;
                    self.bind_goroutine(child, r);
                }
            }
            Note::Spawned { parent, child } => {
                let Some(&r) = self.g_to_rec.get(&parent) else {
                    return;
                };
                if let Some((_, e)) = self.next_op(r) {
                    if e.kind() == Kind::Op(Op::Spawn) {
                        self.bind_goroutine(child, e.obj);
                    }
                }
            }
            Note::Commit(g, ev) => self.committed(g, ev),
            Note::Time if self.fires < self.rec.fires.len() => self.fires += 1,
            _ => {}
        }
    }
}
