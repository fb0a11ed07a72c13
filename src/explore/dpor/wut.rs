//! Wakeup trees (Abdulla et al., JACM 2017, section 6): the sequences still to explore from
//! one decision, as an ordered tree of goroutine ids, leftmost first.
//!
//! Invariant: no leaf is the prefix (up to weak initials) of another branch. A sequence that
//! starts, up to reordering, with a leaf's own steps extends that leaf (unlike Abdulla et
//! al.'s `insert`, which leaves the tree unchanged there: see [`Wut::insert`]); one that
//! reaches a leaf through a goroutine it only commutes with is covered by it.

use super::access::Acc;

/// An ordered forest: each child is a goroutine (0 = time passes), the accesses of its
/// transition there (as recorded when the branch was inserted), and what follows it.
#[derive(Clone, Debug, Default)]
pub(super) struct Wut {
    pub children: Vec<(u64, Vec<Acc>, Wut)>,
}

/// What [`Wut::insert`] needs to know of the sequence it inserts.
pub(super) trait Seq {
    /// The goroutine and accesses of transition `t`.
    fn of(&self, t: usize) -> (u64, &[Acc]);
    /// If goroutine `g` may go first in `w` (no earlier transition of `w` happens before its
    /// first one): that transition's position in `w`.
    fn initial(&self, w: &[usize], g: u64) -> Option<usize>;
    /// True if a goroutine whose next transition makes `next` (recorded in another schedule)
    /// commutes with every transition of `w`.
    fn commutes(&self, next: &[Acc], w: &[usize]) -> bool;
}

impl Wut {
    /// True if there is nothing to explore.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Take the leftmost branch: its goroutine and the subtree below it.
    pub fn pop_first(&mut self) -> Option<(u64, Wut)> {
        (!self.children.is_empty()).then(|| {
            let (g, _, t) = self.children.remove(0);
            (g, t)
        })
    }

    /// The subtree below `g`, if `g` is a child (the other children are dropped).
    pub fn descend(self, g: u64) -> Option<Wut> {
        self.children
            .into_iter()
            .find(|(c, _, _)| *c == g)
            .map(|(_, _, t)| t)
    }

    /// Insert the sequence `w` (transition indices), unless a branch covers it (Abdulla et
    /// al.'s `insert_[E](w, wut)`): descend into the first child that is a weak initial of
    /// what is left of `w`, removing its transition from `w` if it has one there; add the
    /// rest of `w` below the node reached (as its rightmost branch, or below a leaf reached
    /// through `w`'s own steps; a leaf reached otherwise covers `w`).
    pub fn insert(&mut self, mut w: Vec<usize>, seq: &dyn Seq) {
        let mut node = self;
        // Descended only through `w`'s own steps (no child that `w` merely commutes with).
        let mut own = true;
        let mut top = true;
        loop {
            // A leaf reached through steps of `w` itself, with steps of `w` left, is
            // extended by them (`w` is a race's reversal; after the leaf any choice is
            // allowed, so following `w` there costs nothing). Taking such a leaf to cover
            // `w` (as Abdulla et al. do) lost a trace: the free choice after the leaf ran a
            // step whose race with `w`'s next one a sleeping goroutine then claimed to
            // cover, while that goroutine's own branch was the one `w` came from
            // (`tests/dpor_missed_outcomes.rs`, the second program). A leaf reached through
            // a child that `w` only commutes with still covers `w`: extending it there ran
            // traces twice (`tests/dpor_split.rs`'s `select_3`).
            if node.children.is_empty() {
                if !top && !own {
                    return;
                }
                break;
            }
            top = false;
            let mut hit = None;
            for (c, (g, next, _)) in node.children.iter().enumerate() {
                if let Some(at) = seq.initial(&w, *g) {
                    hit = Some((c, Some(at)));
                    break;
                }
                let absent = w.iter().all(|&t| seq.of(t).0 != *g);
                if absent && seq.commutes(next, &w) {
                    hit = Some((c, None));
                    break;
                }
            }
            let Some((c, at)) = hit else { break };
            own &= at.is_some();
            if let Some(at) = at {
                w.remove(at);
                if w.is_empty() {
                    return;
                }
            }
            node = &mut node.children[c].2;
        }
        let mut chain = Wut::default();
        for &t in w.iter().rev() {
            let (g, acc) = seq.of(t);
            chain = Wut {
                children: vec![(g, acc.to_vec(), chain)],
            };
        }
        node.children.extend(chain.children);
    }
}
