//! The record of one execution as transitions, their happens-before (vector clocks), and its
//! reversible races.
//!
//! Invariants, once [`Exec::analyse`] has run:
//! - `clock[t][g]` is the number of transitions of goroutine `g` that happen before `t` or
//!   are `t` (so `a` happens before `b` iff `clock[b][g_a] >= seq[a]`);
//! - happens-before is the transitive closure of program order, creation (a child's first
//!   transition after the transition of its parent that created it) and dependence in
//!   execution order.

use super::access::{any_dependent, dependent, irreversible, wildcard, Acc, Act, Key};
use super::slots::{self, Slots};
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
    /// it said (or, if none did, the last decision, where its goroutine waited to run it).
    pub observer: bool,
    /// Its goroutine yielded at its end: it holds [`Acc::yielded`].
    pub yields: bool,
}

/// Per key: the last writer and the readers since (`reads[from..]`; the entries before
/// `from` are kept so that a rollback can bring them back).
#[derive(Default)]
struct KeyState {
    write: Option<usize>,
    reads: Vec<usize>,
    from: usize,
}

impl KeyState {
    fn clear(&mut self) {
        self.write = None;
        self.reads.clear();
        self.from = 0;
    }
}

/// Per lock: its acquisitions, those since (and including) the last write acquisition being
/// `list[from..]` (the earlier ones kept for a rollback).
#[derive(Default)]
struct AcqState {
    list: Vec<(usize, Op)>,
    from: usize,
}

/// The yield flag's state: its last writer, and the first of the reads since. Every
/// analysed transition reads the flag exactly once (its [`Acc::clears_yield`]), so the
/// reads are not listed (they were most of the analysis's per-key work): read `k` is
/// transition `k`'s, and those since the write are the transitions from `from` on.
#[derive(Clone, Copy, Default)]
struct YieldState {
    write: Option<usize>,
    from: usize,
}

/// The slot of the yield flag's accesses in `acc_slots` (it is kept out of the key map).
const YIELD_SLOT: u32 = u32::MAX;

/// No transition, in the `u32` fields below (transition indices fit: a schedule has at most
/// `max_steps` scheduling points).
const NO: u32 = u32::MAX;

fn pack(t: Option<usize>) -> u32 {
    t.map_or(NO, |t| t as u32)
}

fn unpack(t: u32) -> Option<usize> {
    (t != NO).then_some(t as usize)
}

/// How to take back one change the analysis made to its per-key or per-lock state, so that
/// the state of a prefix of the execution can be had back without analysing it again.
/// (Compact: one is pushed per access of every analysed transition.)
enum Undo {
    /// A key's state before a transition accessed it; `pushed` if the access added a read.
    Key {
        slot: u32,
        write: u32,
        from: u32,
        pushed: bool,
    },
    /// A lock's `from` before an acquisition was appended to its list.
    Acq { slot: u32, from: u32 },
    /// The yield flag's state before a transition changed it (a read that leaves it as it
    /// was records nothing).
    Yield { write: u32, from: u32 },
}

/// Per analysed transition: its place among its goroutine's, and what [`Exec::truncate`]
/// needs to take its analysis back.
#[derive(Clone, Copy)]
struct Meta {
    /// Its index among its goroutine's transitions, from 1.
    seq: u32,
    /// Its goroutine's previous transition ([`NO`] if none).
    prev: u32,
    /// The length of `undo` before its own changes.
    undo: u32,
    /// How many polled channels there were before it.
    polled: u32,
}

/// The transitions of one execution and what was derived from them.
///
/// Kept across schedules: the next schedule of a depth-first search shares a prefix with
/// this one (the execution is deterministic, so the prefix's transitions are identical), and
/// [`Exec::truncate`] keeps that prefix's transitions, clocks and per-key state, so that
/// [`Exec::analyse`] only looks at the transitions after it.
#[derive(Default)]
pub(super) struct Exec {
    /// Boxed: a transition is large, and reusing one from `pool` then moves a pointer, not
    /// the transition (those moves were a measurable share of a schedule's cost).
    #[allow(clippy::vec_box)]
    pub t: Vec<Box<Trans>>,
    /// Per analysed transition: its index among its goroutine's transitions, and marks for
    /// taking its analysis back.
    meta: Vec<Meta>,
    /// The vector clocks of the analysed transitions, one after another, each `width` long
    /// (see [`Exec::clock`]): one buffer, where a vector per transition cost a few moves
    /// and copies more per transition.
    clocks: Vec<u32>,
    /// The length of every clock: the largest goroutine id seen since the last full reset,
    /// plus one.
    width: usize,
    /// Per key: an index into `states` (keys are stable across schedules; the map only grows).
    slots: Slots<Key>,
    states: Vec<KeyState>,
    /// The slots of [`Key::All`] and [`Key::AnyChan`], which every access may conflict with
    /// (every channel access, for the latter), once they exist.
    all_slot: Option<u32>,
    any_chan_slot: Option<u32>,
    /// Scratch: the slots of the accesses of the transition being analysed.
    acc_slots: Vec<u32>,
    /// The yield flag's key state (kept out of `slots`: every transition reads it).
    yield_key: YieldState,
    /// Per lock object: an index into `acq`.
    acq_slots: Slots<u64>,
    acq: Vec<AcqState>,
    /// The changes to the per-key and per-lock state, in order.
    undo: Vec<Undo>,
    /// Per goroutine: its analysed transitions, and the last of them.
    count: Vec<u32>,
    last_of: Vec<Option<usize>>,
    /// Transitions of earlier schedules, cleared, for reuse.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Trans>>,
    /// Transitions before this one are over and carry their [`Acc::clears_yield`].
    sealed: usize,
    /// The channels some goroutine polled in this execution ([`Key::AnyChan`]: a `select!`
    /// with `default`, which may have polled any): see [`Exec::reversible`].
    polled: Vec<Key>,
    /// Scratch of `analyse`, kept for its allocations: a transition's clock from program
    /// order, creation and wake-up (before its accesses) and before its first lock
    /// acquisition, and the work lists.
    base: Vec<u32>,
    cands: Vec<usize>,
    lock_clock: Vec<u32>,
    done: Vec<usize>,
    /// The analysis (clocks, per-key state) covers the first `valid` transitions.
    valid: usize,
    /// The current schedule was analysed (else the analysis state is an older schedule's,
    /// and the next one can keep none of it).
    analysed: bool,
}

impl Exec {
    /// True if transition `a` happens before transition `b` (or is it).
    pub fn hb(&self, a: usize, b: usize) -> bool {
        let g = self.t[a].g as usize;
        self.clock(b).get(g).is_some_and(|&c| c >= self.meta[a].seq)
    }

    /// The vector clock of analysed transition `t`.
    pub fn clock(&self, t: usize) -> &[u32] {
        &self.clocks[t * self.width..(t + 1) * self.width]
    }

    /// Start the next schedule with the first `keep` transitions of this one (the prefix the
    /// next schedule shares with it), and the analysis of as many of them as was done: the
    /// rest is taken back (see [`Undo`]).
    pub fn truncate(&mut self, keep: usize) {
        let keep = keep.min(self.t.len());
        if !self.analysed {
            self.forget_analysis();
        }
        self.analysed = false;
        if keep < self.valid {
            let mark = self.meta[keep].undo as usize;
            while self.undo.len() > mark {
                match self.undo.pop().expect("longer than mark") {
                    Undo::Key {
                        slot,
                        write,
                        from,
                        pushed,
                    } => {
                        let st = &mut self.states[slot as usize];
                        if pushed {
                            st.reads.pop();
                        }
                        st.write = unpack(write);
                        st.from = from as usize;
                    }
                    Undo::Acq { slot, from } => {
                        let a = &mut self.acq[slot as usize];
                        a.list.pop();
                        a.from = from as usize;
                    }
                    Undo::Yield { write, from } => {
                        self.yield_key = YieldState {
                            write: unpack(write),
                            from: from as usize,
                        };
                    }
                }
            }
            for j in (keep..self.valid).rev() {
                let g = self.t[j].g as usize;
                self.count[g] -= 1;
                self.last_of[g] = unpack(self.meta[j].prev);
            }
            self.polled.truncate(self.meta[keep].polled as usize);
            self.meta.truncate(keep);
            self.clocks.truncate(keep * self.width);
            self.valid = keep;
        }
        for mut t in self.t.drain(keep..) {
            t.acc.clear();
            t.woke.clear();
            t.locks.clear();
            t.acquires.clear();
            self.pool.push(t);
        }
        self.sealed = self.sealed.min(keep);
    }

    /// Drop the transitions from `n` on and their analysis (stand-ins for steps that did not
    /// run, analysed with the rest), keeping the analysis of the others.
    pub fn drop_tail(&mut self, n: usize) {
        let analysed = self.analysed;
        self.truncate(n);
        self.analysed = analysed;
    }

    /// Drop the transitions from `n` on, which were not analysed (stand-ins for steps that
    /// did not run, made for a wakeup sequence), keeping the analysis.
    pub fn forget_from(&mut self, n: usize) {
        debug_assert!(n >= self.valid);
        for mut t in self.t.drain(n..) {
            t.acc.clear();
            t.woke.clear();
            t.locks.clear();
            t.acquires.clear();
            self.pool.push(t);
        }
        self.sealed = self.sealed.min(n);
    }

    /// Drop the whole analysis state (keeping the allocations).
    fn forget_analysis(&mut self) {
        for st in &mut self.states {
            st.clear();
        }
        self.yield_key = YieldState::default();
        for a in &mut self.acq {
            a.list.clear();
            a.from = 0;
        }
        self.undo.clear();
        self.polled.clear();
        self.meta.clear();
        self.clocks.clear();
        self.count.iter_mut().for_each(|c| *c = 0);
        self.last_of.iter_mut().for_each(|l| *l = None);
        self.valid = 0;
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
        t.yields = false;
        self.t.push(t);
        self.t.len() - 1
    }

    /// Compute clocks and put the reversible races `(i, j)`, `i` before `j`, into `races`,
    /// for the transitions `j` not analysed yet: those after the prefix [`Exec::truncate`]
    /// kept (all of them if the schedule before was not analysed). The races of the kept
    /// prefix were found when it was analysed.
    pub fn analyse(&mut self, races: &mut Vec<(usize, usize)>) {
        self.seal();
        let n = self.t.len();
        let width = self.t[self.valid..]
            .iter()
            .map(|t| t.g as usize + 1)
            .max()
            .unwrap_or(1);
        if width > self.width {
            // A kept clock is as wide as the old width: goroutines not in the prefix count
            // zero transitions before it either way.
            let old = std::mem::take(&mut self.clocks);
            for row in old.chunks_exact(self.width.max(1)).take(self.valid) {
                self.clocks.extend_from_slice(row);
                self.clocks.resize(self.clocks.len() + width - row.len(), 0);
            }
            self.width = width;
        }
        let width = self.width;
        if self.count.len() < width {
            self.count.resize(width, 0);
            self.last_of.resize(width, None);
        }
        // The polled channels of the whole execution are needed before its races: those of
        // the kept prefix are kept, those of the rest added first.
        for t in &self.t[self.valid..] {
            self.meta.push(Meta {
                seq: 0,
                prev: NO,
                undo: 0,
                polled: self.polled.len() as u32,
            });
            debug_assert_eq!(
                t.yields,
                t.acc.iter().any(|a| a.key == Key::Yield && a.write),
                "`yields` says whether the transition writes the yield flag"
            );
            debug_assert_eq!(
                t.acc
                    .iter()
                    .filter(|a| a.key == Key::Yield && !a.write)
                    .count(),
                1,
                "every transition reads the yield flag once (see `YieldState`)"
            );
            if t.observer || t.yields {
                for a in &t.acc {
                    if matches!(a.key, Key::Chan(_) | Key::AnyChan) && !self.polled.contains(&a.key)
                    {
                        self.polled.push(a.key);
                    }
                }
            }
        }
        races.clear();
        let mut base = std::mem::take(&mut self.base);
        let mut cands = std::mem::take(&mut self.cands);
        let mut lock_clock = std::mem::take(&mut self.lock_clock);
        let mut done = std::mem::take(&mut self.done);
        for j in self.valid..n {
            let g = self.t[j].g as usize;
            self.count[g] += 1;
            let m = &mut self.meta[j];
            m.seq = self.count[g];
            m.prev = pack(self.last_of[g]);
            m.undo = self.undo.len() as u32;
            // Program order and creation.
            let row = |t: usize| t * width..(t + 1) * width;
            base.clear();
            match self.last_of[g] {
                Some(p) => base.extend_from_slice(&self.clocks[row(p)]),
                None => base.resize(width, 0),
            }
            if let Some(c) = self.t[j].creator {
                join(&mut base, &self.clocks[row(c)]);
            }
            if let Some(w) = self.t[j].waker {
                join(&mut base, &self.clocks[row(w)]);
            }
            if let Some(c) = self.t[j].cleared {
                join(&mut base, &self.clocks[row(c)]);
            }
            base[g] = self.count[g];
            // Direct races, access by access in the order `j` made them: an earlier
            // conflicting transition that does not happen before that access through a later
            // one, or through what `j` depended on before it (a join late in `j` must not hide
            // a race of an atomic early in `j`). `j`'s clock, from `base` on, grows in place
            // (`clocks[at..]`) as its accesses are looked at.
            let at = j * width;
            debug_assert_eq!(self.clocks.len(), at);
            self.clocks.extend_from_slice(&base);
            done.clear();
            // What `j` comes after before its first lock acquisition: the acquisitions race
            // with the earlier ones of their lock unless they come after them anyway (below).
            let mut before_lock = false;
            self.acc_slots.clear();
            for a in &self.t[j].acc {
                if !before_lock
                    && matches!(
                        a.act,
                        Act::Op(Op::Lock | Op::RLock | Op::TryLock | Op::ChanRecv)
                    )
                {
                    before_lock = true;
                    lock_clock.clear();
                    lock_clock.extend_from_slice(&self.clocks[at..]);
                }
                let slot = match a.key {
                    Key::Yield => YIELD_SLOT,
                    k => slot_of(
                        &mut self.slots,
                        &mut self.states,
                        &mut self.all_slot,
                        &mut self.any_chan_slot,
                        k,
                    ),
                };
                self.acc_slots.push(slot);
                cands.clear();
                let mut look = |st: &KeyState| {
                    if let Some(w) = st.write {
                        cands.push(w);
                    }
                    if a.write {
                        cands.extend_from_slice(&st.reads[st.from..]);
                    }
                };
                match a.key {
                    // The reads since the write are the transitions since `from` (see
                    // `YieldState`).
                    Key::Yield => {
                        cands.extend(self.yield_key.write);
                        if a.write {
                            cands.extend(self.yield_key.from..j);
                        }
                    }
                    Key::All | Key::AnyChan => {
                        for (k, &s) in self.slots.iter() {
                            if a.key == Key::All
                                || matches!(k, Key::Chan(_) | Key::AnyChan | Key::All)
                            {
                                look(&self.states[s as usize]);
                            }
                        }
                    }
                    k => {
                        look(&self.states[slot as usize]);
                        if wildcard(k).is_some() {
                            if let Some(s) = self.any_chan_slot {
                                look(&self.states[s as usize]);
                            }
                        }
                        if let Some(s) = self.all_slot {
                            look(&self.states[s as usize]);
                        }
                    }
                }
                if cands.is_empty() {
                    continue;
                }
                if cands.len() > 1 {
                    cands.sort_unstable_by(|a, b| b.cmp(a));
                    cands.dedup();
                }
                // (`cands` has no duplicates: checking `done` before adding to it is the same
                // as filtering first, without a pass of its own.)
                for &i in cands.iter() {
                    if done.contains(&i) {
                        continue;
                    }
                    // A candidate touched the key `a` looked up (or a wildcard over it), and
                    // wrote it where `a` reads: dependent by construction.
                    debug_assert!(self.t[i].acc.iter().any(|x| dependent(x, a)));
                    let gi = self.t[i].g as usize;
                    let direct = self.clocks[at + gi] < self.meta[i].seq;
                    if direct && gi != g && self.reversible(i, j) {
                        races.push((i, j));
                    }
                    let (earlier, acc_clock) = self.clocks.split_at_mut(at);
                    join(acc_clock, &earlier[row(i)]);
                    done.push(i);
                }
            }
            // Locks: an acquisition also races with the previous acquisitions of the same lock
            // (through the unlock between them, which is not reversible itself), unless `j`
            // comes after `i` anyway, by program order, creation or a wake-up (as a `Cond`
            // waiter's relock comes after the signal, which comes after the signaller's lock),
            // or through what `j` depended on before its first acquisition (a `wait` in the
            // same transition, when its goroutine ran alone).
            for k in 0..self.t[j].acquires.len() {
                let (op, o) = self.t[j].acquires[k];
                let next = self.acq.len() as u32;
                let slot = self.acq_slots.get_or_insert(o, slots::dense(o, 0, 1), next);
                if slot == next {
                    self.acq.push(AcqState::default());
                }
                let st = &mut self.acq[slot as usize];
                let write = matches!(op, Op::Lock | Op::TryLock | Op::ChanRecv | Op::ChanSend);
                for &(i, ri) in &st.list[st.from..] {
                    let conflict =
                        write || matches!(ri, Op::Lock | Op::TryLock | Op::ChanRecv | Op::ChanSend);
                    let gi = self.t[i].g as usize;
                    let seq = self.meta[i].seq;
                    let after = base.get(gi).is_some_and(|&c| c >= seq)
                        || (before_lock && lock_clock.get(gi).is_some_and(|&c| c >= seq));
                    if conflict && gi != g && !after {
                        races.push((i, j));
                    }
                }
                self.undo.push(Undo::Acq {
                    slot,
                    from: st.from as u32,
                });
                if write {
                    st.from = st.list.len();
                }
                st.list.push((j, op));
            }
            self.last_of[g] = Some(j);
            self.update_keys(j);
        }
        self.valid = n;
        self.analysed = true;
        self.base = base;
        self.cands = cands;
        self.lock_clock = lock_clock;
        self.done = done;
        races.sort_unstable();
        races.dedup();
    }

    /// Transition `j` is now the last writer or a reader of each key it touches (noting how
    /// to take that back).
    fn update_keys(&mut self, j: usize) {
        // Whether `j`'s own read of the yield flag came yet (the reads so far are then `j + 1`).
        let mut read = false;
        for (a, &slot) in self.t[j].acc.iter().zip(&self.acc_slots) {
            if slot == YIELD_SLOT {
                let y = &mut self.yield_key;
                let before = *y;
                let mut changed = false;
                if a.write {
                    y.write = Some(j);
                    y.from = j + read as usize;
                    changed = true;
                } else {
                    // The first transition after a yield clears the flag: later ones find it
                    // clear whoever cleared it, so they neither race with the yield nor come
                    // after it through it.
                    if y.write.is_some_and(|w| w != j) {
                        y.write = None;
                        y.from = j;
                        changed = true;
                    }
                    read = true;
                }
                if changed {
                    self.undo.push(Undo::Yield {
                        write: pack(before.write),
                        from: before.from as u32,
                    });
                }
                continue;
            }
            let st = &mut self.states[slot as usize];
            let (write, from) = (st.write, st.from);
            if a.write {
                st.write = Some(j);
                st.from = st.reads.len();
            } else {
                st.reads.push(j);
            }
            self.undo.push(Undo::Key {
                slot,
                write: pack(write),
                from: from as u32,
                pushed: !a.write,
            });
        }
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

    /// The transitions of `j`'s goroutine from `j` on, up to and including the first after
    /// which it yields again (or its last), into `run` (cleared first): what a poller let
    /// on at `j` may run before anything else does.
    pub fn poll_run(&self, j: usize, run: &mut Vec<usize>) {
        run.clear();
        let g = self.t[j].g;
        for (s, t) in self.t.iter().enumerate().skip(j) {
            if t.g != g {
                continue;
            }
            run.push(s);
            if t.acc.iter().any(|a| a.key == Key::Yield && a.write) {
                break;
            }
        }
    }

    /// Abdulla et al.'s `notdep(i, E).j`: the transitions after `i` that do not happen after
    /// it, then `j`.
    pub fn notdep(&self, i: usize, j: usize) -> Vec<usize> {
        // Allocated once, at its largest (a collected filter grows from nothing).
        let mut v = Vec::with_capacity(j - i);
        for t in i + 1..j {
            if !self.hb(i, t) {
                v.push(t);
            }
        }
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

    /// The sequence `w` without the transitions of the goroutines `drop` names and those
    /// after them within `w` (the closure of the direct edges, as in [`Exec::initial`]):
    /// what is left still runs on its own in that order. `None` if `w`'s last transition
    /// would go too (it is the one the sequence is for), or nothing would.
    pub fn without(&self, w: &[usize], drop: impl Fn(u64) -> bool) -> Option<Vec<usize>> {
        let mut gone: Vec<usize> = Vec::new();
        let mut kept = Vec::with_capacity(w.len());
        for &t in w {
            if drop(self.t[t].g) || gone.iter().any(|&r| self.direct(r, t)) {
                gone.push(t);
            } else {
                kept.push(t);
            }
        }
        let last = *w.last()?;
        (!gone.is_empty() && !gone.contains(&last)).then_some(kept)
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

/// The slot of key `k`'s state, made if it has none (noting those of the wildcard keys).
fn slot_of(
    slots: &mut Slots<Key>,
    states: &mut Vec<KeyState>,
    all: &mut Option<u32>,
    any_chan: &mut Option<u32>,
    k: Key,
) -> u32 {
    let next = states.len() as u32;
    let dense = match k {
        Key::Obj(o) => slots::dense(o, 0, 3),
        Key::Chan(o) => slots::dense(o, 1, 3),
        Key::Done(g) => slots::dense(g, 2, 3),
        _ => None,
    };
    let s = slots.get_or_insert(k, dense, next);
    if s == next {
        states.push(KeyState::default());
        match k {
            Key::All => *all = Some(s),
            Key::AnyChan => *any_chan = Some(s),
            _ => {}
        }
    }
    s
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

    /// Run `ts` as the next schedule, keeping the first `keep` transitions of the last one
    /// (which must be those of `ts`).
    fn fill(e: &mut Exec, ts: &[T], keep: usize) {
        e.truncate(keep);
        for &(g, accs) in &ts[keep..] {
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

    /// The clocks, each cut to `width` entries (a kept clock may be wider than one computed
    /// afresh: the extra entries count nothing).
    fn cut(clock: &[Vec<u32>], width: usize) -> Vec<Vec<u32>> {
        clock
            .iter()
            .map(|c| {
                assert!(c[width.min(c.len())..].iter().all(|&x| x == 0));
                c[..width.min(c.len())].to_vec()
            })
            .collect()
    }

    /// Every analysed transition's clock.
    fn clocks(e: &Exec) -> Vec<Vec<u32>> {
        (0..e.valid).map(|t| e.clock(t).to_vec()).collect()
    }

    fn full(ts: &[T]) -> (Vec<Vec<u32>>, Vec<(usize, usize)>) {
        let mut e = Exec::default();
        fill(&mut e, ts, 0);
        let mut races = Vec::new();
        e.analyse(&mut races);
        (clocks(&e), races)
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
        fill(&mut e, FIRST, 0);
        e.analyse(&mut got);
        fill(&mut e, SECOND, 3);
        e.analyse(&mut got);
        assert_eq!(cut(&clocks(&e), clock[0].len()), clock);
        assert_eq!(got, new);
    }

    #[test]
    fn nothing_is_kept_across_a_schedule_that_was_not_analysed() {
        let (clock, races) = full(SECOND);
        let mut e = Exec::default();
        let mut got = Vec::new();
        // A schedule with another prefix is analysed; then `FIRST` runs and is not (a
        // search stopped early): the clocks at hand are not those of `SECOND`'s prefix.
        fill(&mut e, &[(3, &[STORE]), (2, &[LOCK]), (1, &[LOCK])], 0);
        e.analyse(&mut got);
        fill(&mut e, FIRST, 0);
        fill(&mut e, SECOND, 3);
        e.analyse(&mut got);
        assert_eq!(cut(&clocks(&e), clock[0].len()), clock);
        assert_eq!(got, races);
    }

    /// A rollback takes back a write that hid earlier reads, and a write acquisition that
    /// hid earlier acquisitions: after it, the new part races with them as in a full
    /// analysis.
    #[test]
    fn a_rollback_brings_back_what_a_taken_back_write_hid() {
        const A: &[T] = &[
            (1, &[LOAD]),
            (2, &[LOAD]),
            (3, &[STORE]),
            (1, &[LOCK]),
            (3, &[LOCK]),
        ];
        const B: &[T] = &[(1, &[LOAD]), (2, &[LOAD]), (4, &[STORE]), (4, &[LOCK])];
        let (clock, races) = full(B);
        // The store races with both loads (nothing orders them), in `A` as in `B`.
        assert_eq!(races, [(0, 2), (1, 2)]);
        let mut e = Exec::default();
        let mut got = Vec::new();
        fill(&mut e, A, 0);
        e.analyse(&mut got);
        // Many rounds of taking back and redoing leave the state as a full analysis would.
        for _ in 0..3 {
            fill(&mut e, B, 2);
            e.analyse(&mut got);
            assert_eq!(cut(&clocks(&e), clock[0].len()), clock);
            assert_eq!(got, races);
            fill(&mut e, A, 2);
            e.analyse(&mut got);
            let (c, r) = full(A);
            assert_eq!(cut(&clocks(&e), c[0].len()), c);
            assert_eq!(
                got,
                r.into_iter().filter(|&(_, j)| j >= 2).collect::<Vec<_>>()
            );
        }
    }
}
