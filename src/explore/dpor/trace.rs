//! The record of one execution as transitions, their happens-before (vector clocks), and its
//! reversible races.
//!
//! Invariants, once [`Exec::analyse`] has run:
//! - `clock[t][g]` is the number of transitions of goroutine `g` that happen before `t` or
//!   are `t` (so `a` happens before `b` iff `clock[b][g_a] >= seq[a]`);
//! - happens-before is the transitive closure of program order, creation (a child's first
//!   transition after the transition of its parent that created it) and dependence in
//!   execution order.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::util::hash::FxHasher;

/// Small integer keys: Fx, not SipHash.
type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

use super::access::{any_dependent, dependent, irreversible, wildcard, Acc, Act, Key};
use crate::verdict::Op;

/// One transition: a goroutine's run from one point where the scheduler may switch to the
/// next.
#[derive(Debug, Default)]
pub(super) struct Trans {
    /// The goroutine (0: time passing).
    pub g: u64,
    pub acc: Vec<Acc>,
    /// The decision that chose it (an index into the strategy's nodes), if there was one.
    pub node: Option<usize>,
    /// The transition of the parent that created `g`, if this is `g`'s first.
    pub creator: Option<usize>,
    /// The transition that woke `g`, if this one resumes it from a park (it happens after
    /// that one even when it touches nothing: the waker did the operation's work).
    pub waker: Option<usize>,
    /// It ended by parking on an operation whose hand-off is symmetric (see
    /// [`handed_off`](super::access::handed_off)): the waker completing it is not a reversible race.
    pub hand_off: bool,
    /// The acquisitions it makes, in order (a `Lock`, `RLock` or `TryLock` performed, or a
    /// blocked `Lock`/`RLock` completed): several when its goroutine ran alone through more
    /// than one lock.
    pub acquires: Vec<(Op, u64)>,
    /// Goroutines it woke.
    pub woke: Vec<u64>,
    /// It resumed a parked goroutine.
    pub resumed: bool,
    /// It ended by parking.
    pub parked: bool,
    /// The lock operations it committed, in order (for the lock shadow).
    pub locks: Vec<(Op, u64)>,
    /// If `g` yielded at the end of its previous transition: the transition of another
    /// goroutine that ran first after that (which let `g` be chosen again). This one happens
    /// after it.
    pub cleared: Option<usize>,
    /// Its first operation is a non-blocking one that can see a goroutine parked on its
    /// channel (`try_send`, `try_recv`, `select!` with `default`), as the decision that chose
    /// it said.
    pub observer: bool,
}

/// Per key: the last writer and the readers since.
#[derive(Default)]
struct KeyState {
    write: Option<usize>,
    reads: Vec<usize>,
}

/// The transitions of one execution and what was derived from them.
#[derive(Default)]
pub(super) struct Exec {
    /// Boxed: a transition is large, and reusing one from `pool` then moves a pointer, not
    /// the transition (those moves were a measurable share of a schedule's cost).
    #[allow(clippy::vec_box)]
    pub t: Vec<Box<Trans>>,
    /// Per transition: its index among its goroutine's transitions, from 1.
    pub seq: Vec<u32>,
    pub clock: Vec<Vec<u32>>,
    /// Scratch kept between schedules (its allocations are reused): per key, the last writer
    /// and the readers since; per lock, the acquisitions since the last write acquisition.
    keys: FxMap<Key, KeyState>,
    acquired: FxMap<u64, Vec<(usize, Op)>>,
    /// Transitions of earlier schedules, cleared, for reuse.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Trans>>,
    /// Transitions before this one are over and carry their [`Acc::clears_yield`].
    sealed: usize,
    /// The yield flag's key state (kept out of `keys`: every transition reads it).
    yield_key: KeyState,
    /// The channels some goroutine polled in this execution ([`Key::AnyChan`]: a `select!`
    /// with `default`, which may have polled any): see [`Exec::reversible`].
    polled: Vec<Key>,
    /// Scratch of `analyse`, kept for its allocations: clocks of earlier schedules, the
    /// transitions per goroutine, each goroutine's last transition, and the work lists.
    spare: Vec<Vec<u32>>,
    count: Vec<u32>,
    last_of: Vec<Option<usize>>,
    cands: Vec<usize>,
    lock_clock: Vec<u32>,
    done: Vec<usize>,
    /// `clock` holds the clocks of the last analysed schedule's first `valid` transitions.
    valid: usize,
    /// The current schedule was analysed (else the next one can keep nothing).
    analysed: bool,
}

impl Exec {
    /// True if transition `a` happens before transition `b` (or is it).
    pub fn hb(&self, a: usize, b: usize) -> bool {
        let g = self.t[a].g as usize;
        self.clock[b].get(g).is_some_and(|&c| c >= self.seq[a])
    }

    /// Forget the schedule, keeping the allocations.
    pub fn reset(&mut self) {
        for mut t in self.t.drain(..) {
            t.acc.clear();
            t.woke.clear();
            t.locks.clear();
            t.acquires.clear();
            self.pool.push(t);
        }
        self.seq.clear();
        self.sealed = 0;
        if !self.analysed {
            self.valid = 0;
        }
        self.analysed = false;
    }

    /// The transitions so far are over: each clears the yield flag (see "Yields" in
    /// [`super`]), an access that comes after all of its others.
    pub fn seal(&mut self) {
        for t in &mut self.t[self.sealed..] {
            t.acc.push(Acc::clears_yield());
        }
        self.sealed = self.t.len();
    }

    /// A new transition of `g`, chosen by decision `node`.
    pub fn push(&mut self, g: u64, node: Option<usize>) -> usize {
        let mut t = self.pool.pop().unwrap_or_default();
        t.g = g;
        t.node = node;
        t.creator = None;
        t.waker = None;
        t.hand_off = false;
        t.resumed = false;
        t.parked = false;
        t.cleared = None;
        t.observer = false;
        self.t.push(t);
        self.t.len() - 1
    }

    /// Compute clocks and put the reversible races `(i, j)`, `i` before `j`, into `races`,
    /// except those with `j < keep`.
    ///
    /// `keep`: the first `keep` transitions are those of the schedule analysed last (the
    /// prefix a new branch shares with it), so their clocks are still right and their races
    /// were found then. Only what later transitions need of them (per-key state, lock
    /// acquisitions) is rebuilt; the clocks and candidate searches, most of the work when
    /// the search backtracks near the end of a schedule, are not redone. Clamped to what
    /// the last analysis covered (none if a schedule ran without one).
    pub fn analyse(&mut self, keep: usize, races: &mut Vec<(usize, usize)>) {
        self.seal();
        let n = self.t.len();
        let width = self.t.iter().map(|t| t.g as usize + 1).max().unwrap_or(1);
        let keep = keep.min(self.valid).min(n);
        self.seq.clear();
        let mut spare = std::mem::take(&mut self.spare);
        spare.extend(self.clock.drain(keep..));
        // A kept clock has the previous schedule's width: goroutines not in the prefix
        // count zero transitions before it either way.
        for c in &mut self.clock {
            c.resize(width, 0);
        }
        let mut count = std::mem::take(&mut self.count);
        count.clear();
        count.resize(width, 0);
        let mut last_of = std::mem::take(&mut self.last_of);
        last_of.clear();
        last_of.resize(width, None);
        let mut keys = std::mem::take(&mut self.keys);
        for st in keys.values_mut() {
            st.write = None;
            st.reads.clear();
        }
        let mut ykey = std::mem::take(&mut self.yield_key);
        ykey.write = None;
        ykey.reads.clear();
        // Per lock object: the acquisitions since (and including) the last write acquisition.
        let mut acquired = std::mem::take(&mut self.acquired);
        for l in acquired.values_mut() {
            l.clear();
        }
        self.polled.clear();
        for t in &self.t {
            let polls = t.observer || t.acc.contains(&Acc::yielded());
            if polls {
                for a in &t.acc {
                    if matches!(a.key, Key::Chan(_) | Key::AnyChan) && !self.polled.contains(&a.key)
                    {
                        self.polled.push(a.key);
                    }
                }
            }
        }
        races.clear();
        let mut cands = std::mem::take(&mut self.cands);
        let mut lock_clock = std::mem::take(&mut self.lock_clock);
        let mut done = std::mem::take(&mut self.done);
        for j in 0..n {
            let g = self.t[j].g as usize;
            count[g] += 1;
            self.seq.push(count[g]);
            if j < keep {
                for &(op, o) in &self.t[j].acquires {
                    let list = acquired.entry(o).or_default();
                    if matches!(op, Op::Lock | Op::TryLock) {
                        list.clear();
                    }
                    list.push((j, op));
                }
                last_of[g] = Some(j);
                update_keys(&mut keys, &mut ykey, j, &self.t[j].acc);
                continue;
            }
            // Program order and creation.
            let mut base = spare.pop().unwrap_or_default();
            base.clear();
            match last_of[g] {
                Some(p) => base.extend_from_slice(&self.clock[p]),
                None => base.resize(width, 0),
            }
            if let Some(c) = self.t[j].creator {
                join(&mut base, &self.clock[c]);
            }
            if let Some(w) = self.t[j].waker {
                join(&mut base, &self.clock[w]);
            }
            if let Some(c) = self.t[j].cleared {
                join(&mut base, &self.clock[c]);
            }
            base[g] = count[g];
            // Direct races, access by access in the order `j` made them: an earlier
            // conflicting transition that does not happen before that access through a later
            // one, or through what `j` depended on before it (a join late in `j` must not hide
            // a race of an atomic early in `j`).
            let mut acc_clock = spare.pop().unwrap_or_default();
            acc_clock.clear();
            acc_clock.extend_from_slice(&base);
            done.clear();
            // What `j` comes after before its first lock acquisition: the acquisitions race
            // with the earlier ones of their lock unless they come after them anyway (below).
            let mut before_lock = false;
            for a in &self.t[j].acc {
                if !before_lock && matches!(a.act, Act::Op(Op::Lock | Op::RLock | Op::TryLock)) {
                    before_lock = true;
                    lock_clock.clear();
                    lock_clock.extend_from_slice(&acc_clock);
                }
                cands.clear();
                let mut look = |st: &KeyState| {
                    if let Some(w) = st.write {
                        cands.push(w);
                    }
                    if a.write {
                        cands.extend_from_slice(&st.reads);
                    }
                };
                match a.key {
                    Key::Yield => look(&ykey),
                    Key::All | Key::AnyChan => {
                        for (k, st) in keys.iter() {
                            if a.key == Key::All
                                || matches!(k, Key::Chan(_) | Key::AnyChan | Key::All)
                            {
                                look(st);
                            }
                        }
                    }
                    k => {
                        for k in [Some(k), wildcard(k), Some(Key::All)].into_iter().flatten() {
                            if let Some(st) = keys.get(&k) {
                                look(st);
                            }
                        }
                    }
                }
                cands.sort_unstable_by(|a, b| b.cmp(a));
                cands.dedup();
                cands.retain(|&i| {
                    !done.contains(&i) && self.t[i].acc.iter().any(|x| dependent(x, a))
                });
                for &i in cands.iter() {
                    let gi = self.t[i].g as usize;
                    let direct = acc_clock[gi] < self.seq[i];
                    if direct && gi != g && self.reversible(i, j) {
                        races.push((i, j));
                    }
                    join(&mut acc_clock, &self.clock[i]);
                }
                done.extend_from_slice(&cands);
            }
            // Locks: an acquisition also races with the previous acquisitions of the same lock
            // (through the unlock between them, which is not reversible itself), unless `j`
            // comes after `i` anyway, by program order, creation or a wake-up (as a `Cond`
            // waiter's relock comes after the signal, which comes after the signaller's lock),
            // or through what `j` depended on before its first acquisition (a `wait` in the
            // same transition, when its goroutine ran alone).
            for k in 0..self.t[j].acquires.len() {
                let (op, o) = self.t[j].acquires[k];
                let list = acquired.entry(o).or_default();
                let write = matches!(op, Op::Lock | Op::TryLock);
                for &(i, ri) in list.iter() {
                    let conflict = write || matches!(ri, Op::Lock | Op::TryLock);
                    let gi = self.t[i].g as usize;
                    let after = base.get(gi).is_some_and(|&c| c >= self.seq[i])
                        || (before_lock && lock_clock.get(gi).is_some_and(|&c| c >= self.seq[i]));
                    if conflict && gi != g && !after {
                        races.push((i, j));
                    }
                }
                if write {
                    list.clear();
                }
                list.push((j, op));
            }
            spare.push(base);
            self.clock.push(acc_clock);
            last_of[g] = Some(j);
            update_keys(&mut keys, &mut ykey, j, &self.t[j].acc);
        }
        self.valid = n;
        self.analysed = true;
        self.keys = keys;
        self.yield_key = ykey;
        self.acquired = acquired;
        self.spare = spare;
        self.count = count;
        self.last_of = last_of;
        self.cands = cands;
        self.lock_clock = lock_clock;
        self.done = done;
        races.sort_unstable();
        races.dedup();
    }

    /// False for a race whose reversal is not a new trace, or cannot happen.
    fn reversible(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self.t[i], &self.t[j]);
        // `i` woke `j`'s goroutine, which `j` resumes: `j` cannot go first.
        if b.resumed && a.woke.contains(&b.g) {
            return false;
        }
        // `i` parked on a hand-off that `j` completed: `j` first would park instead and `i`
        // complete it, the same trace. Unless a third goroutine polls that channel: with `j`
        // first, it may see `j` parked (take its value, or find the buffer full) before `i`
        // comes, which no order of the parked `i` allows.
        if a.parked && a.hand_off && b.woke.contains(&a.g) {
            let polled = |k: Key| {
                self.polled.iter().any(|&p| {
                    p == k || p == Key::AnyChan || (k == Key::AnyChan && matches!(p, Key::Chan(_)))
                })
            };
            let seen = a
                .acc
                .iter()
                .any(|x| matches!(x.key, Key::Chan(_) | Key::AnyChan) && polled(x.key));
            if !seen {
                return false;
            }
        }
        // `j` moved first runs its operations in order until the first that conflicts with
        // `i`: if that one would wait for `i` (a lock for `i`'s unlock, a join for its exit),
        // `j` cannot go first. (Its later operations do not matter: it never gets there.)
        for y in &b.acc {
            let mut conflicts = a.acc.iter().filter(|x| dependent(x, y)).peekable();
            if conflicts.peek().is_some() {
                return !conflicts.all(|x| irreversible(x, y));
            }
        }
        true
    }

    /// Abdulla et al.'s `notdep(i, E).j`: the transitions after `i` that do not happen after
    /// it, then `j`.
    pub fn notdep(&self, i: usize, j: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (i + 1..j).filter(|&t| !self.hb(i, t)).collect();
        v.push(j);
        v
    }

    /// If goroutine `g` may go first in the sequence `w` (its first transition there happens
    /// after none of the earlier ones): that transition's position in `w`.
    ///
    /// "Happens after" is taken within `w`, as `w` would run on its own: the closure of the
    /// direct edges between its transitions (program order, creation, wake-up, the yield
    /// flag's clearing, conflicting accesses). The execution's own happens-before may go
    /// through transitions that are not in `w` (a lock acquisition's race runs the later
    /// acquisition without the earlier holder's release), which would make `w` look
    /// ordered where it is not, and insert a branch that an existing one covers.
    pub fn initial(&self, w: &[usize], g: u64) -> Option<usize> {
        let p = w.iter().position(|&t| self.t[t].g == g)?;
        // Anything before it within `w` has its last edge into it.
        (0..p).all(|q| !self.direct(w[q], w[p])).then_some(p)
    }

    /// True if transition `a`, earlier than `b`, is ordered before it by one edge.
    fn direct(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.t[a], &self.t[b]);
        x.g == y.g
            || y.creator == Some(a)
            || y.waker == Some(a)
            || y.cleared == Some(a)
            || any_dependent(&x.acc, &y.acc)
    }

    /// True if a goroutine whose next transition has accesses `next` and who has no
    /// transition in `w` may go first in `w` (it commutes with all of `w`).
    pub fn commutes_with_all(&self, next: &[Acc], w: &[usize]) -> bool {
        w.iter().all(|&t| !any_dependent(next, &self.t[t].acc))
    }
}

/// Transition `j`, with accesses `acc`, is now the last writer or a reader of each key it
/// touches.
fn update_keys(keys: &mut FxMap<Key, KeyState>, ykey: &mut KeyState, j: usize, acc: &[Acc]) {
    for a in acc {
        let st = match a.key {
            Key::Yield => &mut *ykey,
            k => keys.entry(k).or_default(),
        };
        if a.write {
            st.write = Some(j);
            st.reads.clear();
        } else {
            // The first transition after a yield clears the flag: later ones find it clear
            // whoever cleared it, so they neither race with the yield nor come after it
            // through it.
            if a.key == Key::Yield && st.write.is_some_and(|w| w != j) {
                st.write = None;
                st.reads.clear();
            }
            st.reads.push(j);
        }
    }
}

fn join(into: &mut [u32], other: &[u32]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a = (*a).max(*b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transition: goroutine, accesses `(object, write, op)`, and the lock acquisitions.
    type T = (u64, &'static [(u64, bool, Op)]);

    fn fill(e: &mut Exec, ts: &[T]) {
        e.reset();
        for &(g, accs) in ts {
            let i = e.push(g, Some(e.t.len()));
            for &(o, write, op) in accs {
                e.t[i].acc.push(Acc {
                    key: Key::Obj(o),
                    write,
                    act: Act::Op(op),
                });
                if matches!(op, Op::Lock | Op::RLock | Op::TryLock) {
                    e.t[i].acquires.push((op, o));
                }
            }
        }
    }

    fn full(ts: &[T]) -> (Vec<Vec<u32>>, Vec<(usize, usize)>) {
        let mut e = Exec::default();
        fill(&mut e, ts);
        let mut races = Vec::new();
        e.analyse(0, &mut races);
        (e.clock.clone(), races)
    }

    const LOCK: (u64, bool, Op) = (1, true, Op::Lock);
    const UNLOCK: (u64, bool, Op) = (1, true, Op::Unlock);
    const STORE: (u64, bool, Op) = (2, true, Op::AtomicStore);
    const LOAD: (u64, bool, Op) = (2, false, Op::AtomicLoad);

    /// The first schedule, and a second one that shares its first three transitions: the
    /// races of the second's new part reach into the shared prefix (a load after a store
    /// there; a lock acquisition after one there).
    const FIRST: &[T] = &[
        (1, &[LOCK]),
        (2, &[STORE]),
        (1, &[UNLOCK]),
        (3, &[LOAD]),
        (2, &[LOCK]),
    ];
    const SECOND: &[T] = &[
        (1, &[LOCK]),
        (2, &[STORE]),
        (1, &[UNLOCK]),
        (3, &[LOCK]),
        (4, &[LOAD]),
    ];

    #[test]
    fn keeping_the_shared_prefix_gives_the_full_analysis() {
        let (clock, races) = full(SECOND);
        let new: Vec<_> = races.iter().copied().filter(|&(_, j)| j >= 3).collect();
        // The races of the new part are with the prefix: the load at 4 with the store at 1,
        // the lock at 3 with the lock at 0.
        assert_eq!(new, [(0, 3), (1, 4)]);
        let mut e = Exec::default();
        let mut got = Vec::new();
        fill(&mut e, FIRST);
        e.analyse(0, &mut got);
        fill(&mut e, SECOND);
        e.analyse(3, &mut got);
        assert_eq!(e.clock, clock);
        assert_eq!(got, new);
    }

    #[test]
    fn nothing_is_kept_across_a_schedule_that_was_not_analysed() {
        let (clock, races) = full(SECOND);
        let mut e = Exec::default();
        let mut got = Vec::new();
        // A schedule with another prefix is analysed; then `FIRST` runs and is not (a
        // search stopped early): the clocks at hand are not those of `SECOND`'s prefix.
        fill(&mut e, &[(3, &[STORE]), (2, &[LOCK]), (1, &[LOCK])]);
        e.analyse(0, &mut got);
        fill(&mut e, FIRST);
        fill(&mut e, SECOND);
        e.analyse(3, &mut got);
        assert_eq!(e.clock, clock);
        assert_eq!(got, races);
    }
}
