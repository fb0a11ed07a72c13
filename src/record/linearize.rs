//! Merging the logs of a recorded run into one order: consistent with every goroutine's own
//! order, every object's sequence numbers, every spawn (a goroutine's first operation comes
//! after the `go` that created it) and every join (after the joined goroutine's last
//! operation). Among the operations that order leaves free, the one with the earliest key goes
//! first (Kahn's algorithm with a priority queue): an entry's key is its stamp, or, for an
//! entry ordered by its object's number (which reads no clock), the key of the entry before
//! it in its goroutine (for a goroutine's first entries, its `go`'s). Keys only break ties
//! between operations that no recorded order relates, so they never decide how a goroutine's
//! operations interleave on one object.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use super::{Kind, Recording};
use crate::verdict::Op;

/// A step of the merged order: `(stream, index)`. Stream 0 is the timer firings (index: the
/// firing's group), any other stream a goroutine by its id in the run (index: its entry).
/// [`Kind::Touch`] entries are not steps: they belong to the operation before them.
pub(crate) type Node = (u64, usize);

/// The merged order of every logged operation of `rec`. Returns the order and how many times
/// the constraints had to be broken because they contradicted each other (0 for a log of a
/// real run: the constraints all come from one real order).
pub(crate) fn linearize(rec: &Recording) -> (Vec<Node>, usize) {
    let mut key: HashMap<Node, u64> = HashMap::new();
    let mut succ: HashMap<Node, Vec<Node>> = HashMap::new();
    let mut indeg: HashMap<Node, usize> = HashMap::new();
    let mut per_obj: BTreeMap<u64, Vec<(u64, Node)>> = BTreeMap::new();
    let mut edge = |a: Node, b: Node, succ: &mut HashMap<Node, Vec<Node>>| {
        succ.entry(a).or_default().push(b);
        *indeg.entry(b).or_default() += 1;
    };
    // The key a goroutine's first unstamped entries inherit: its `go`'s. A parent's id is
    // below its children's (ids grow with spawns), so parents are visited first.
    let mut spawn_key: HashMap<u64, u64> = HashMap::new();
    // A goroutine a firing started (`time::after_func`) runs after that firing.
    for (j, group) in rec.fires.iter().enumerate() {
        for e in group {
            if e.kind() == Kind::Op(Op::Spawn)
                && rec
                    .streams
                    .get(&e.obj)
                    .is_some_and(|c| !c.entries.is_empty())
            {
                spawn_key.insert(e.obj, group[0].stamp().unwrap_or(0));
                edge((0, j), (e.obj, 0), &mut succ);
            }
        }
    }
    let mut joins: Vec<(Node, u64)> = Vec::new();
    for (&gid, s) in &rec.streams {
        let mut k = spawn_key.get(&gid).copied().unwrap_or(0);
        let mut prev: Option<Node> = None;
        for (i, e) in s.entries.iter().enumerate() {
            if e.kind() == Kind::Touch {
                if let (Some(p), Some(q)) = (prev, e.seq()) {
                    per_obj.entry(e.obj).or_default().push((q, p));
                }
                continue;
            }
            let n = (gid, i);
            if let Some(t) = e.stamp() {
                k = t;
            }
            key.insert(n, k);
            if let Some(p) = prev {
                edge(p, n, &mut succ);
            }
            prev = Some(n);
            if let Some(q) = e.seq() {
                per_obj.entry(e.obj).or_default().push((q, n));
            }
            let child = rec.streams.get(&e.obj).filter(|c| !c.entries.is_empty());
            match e.kind() {
                Kind::Op(Op::Spawn) if child.is_some() => {
                    spawn_key.insert(e.obj, k);
                    edge(n, (e.obj, 0), &mut succ);
                }
                Kind::Op(Op::Join) if child.is_some() => joins.push((n, e.obj)),
                _ => {}
            }
        }
    }
    for (n, child) in joins {
        // A join returns once the goroutine has ended: after its last operation. (The join's
        // entry is logged before it waits, so in the real run the goroutine may have gone on
        // meanwhile; the joiner does nothing visible until it returns, so both orders replay
        // alike, and this one needs no clock.)
        let last = rec.streams[&child]
            .entries
            .iter()
            .rposition(|e| e.kind() != Kind::Touch);
        if let Some(last) = last {
            if (child, last) != n {
                edge((child, last), n, &mut succ);
            }
        }
    }
    for (j, group) in rec.fires.iter().enumerate() {
        let n = (0, j);
        key.insert(n, group[0].stamp().unwrap_or(0));
        if j > 0 {
            edge((0, j - 1), n, &mut succ);
        }
        for e in group {
            if let Some(q) = e.seq() {
                per_obj.entry(e.obj).or_default().push((q, n));
            }
        }
    }
    for mut ops in per_obj.into_values() {
        ops.sort_unstable();
        for w in ops.windows(2) {
            if w[0].1 != w[1].1 {
                edge(w[0].1, w[1].1, &mut succ);
            }
        }
    }
    let total = key.len();
    let mut heap: BinaryHeap<Reverse<(u64, Node)>> = key
        .iter()
        .filter(|(n, _)| indeg.get(n).copied().unwrap_or(0) == 0)
        .map(|(&n, &t)| Reverse((t, n)))
        .collect();
    let mut order = Vec::with_capacity(total);
    let mut placed: HashMap<Node, bool> = HashMap::new();
    let mut forced = 0;
    while order.len() < total {
        let n = match heap.pop() {
            Some(Reverse((_, n))) => n,
            None => {
                // Contradictory constraints: take the earliest operation whose own stream's
                // predecessor is placed.
                forced += 1;
                let mut best: Option<(u64, Node)> = None;
                for (&n, &t) in &key {
                    if placed.contains_key(&n) || !stream_ready(rec, &placed, n) {
                        continue;
                    }
                    if best.is_none_or(|b| (t, n) < b) {
                        best = Some((t, n));
                    }
                }
                let (_, n) = best.expect("some stream has an unplaced head");
                indeg.insert(n, 0);
                n
            }
        };
        if placed.insert(n, true).is_some() {
            continue;
        }
        order.push(n);
        if let Some(next) = succ.get(&n) {
            for &m in next {
                let d = indeg.get_mut(&m).expect("an edge's target has a count");
                *d = d.saturating_sub(1);
                if *d == 0 && !placed.contains_key(&m) {
                    heap.push(Reverse((key[&m], m)));
                }
            }
        }
    }
    (order, forced)
}

/// True if every step of `n`'s stream before it is placed.
fn stream_ready(rec: &Recording, placed: &HashMap<Node, bool>, n: Node) -> bool {
    if n.0 == 0 {
        return n.1 == 0 || placed.contains_key(&(0, n.1 - 1));
    }
    let entries = &rec.streams[&n.0].entries[..n.1];
    match entries.iter().rposition(|e| e.kind() != Kind::Touch) {
        Some(p) => placed.contains_key(&(n.0, p)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Entry, Stream};

    fn seq(op: Op, obj: u64, seq: u64) -> Entry {
        Entry::with_seq(Kind::Op(op), obj, seq)
    }

    fn stamped(op: Op, obj: u64, stamp: u64) -> Entry {
        Entry::stamped(Kind::Op(op), obj, stamp)
    }

    fn rec(streams: Vec<(u64, Vec<Entry>)>) -> Recording {
        let mut rec = Recording::default();
        for (g, entries) in streams {
            rec.streams.insert(g, Stream { entries });
        }
        rec
    }

    #[test]
    fn object_order_beats_stamps_and_spawn_comes_first() {
        // Goroutine 2 locked object 9 first (seq 0) although goroutine 1's stamps say it
        // came later; goroutine 1 spawned goroutine 2.
        let rec = rec(vec![
            (1, vec![stamped(Op::Spawn, 2, 10), seq(Op::Lock, 9, 1)]),
            (2, vec![stamped(Op::Yield, 0, 30), seq(Op::Lock, 9, 0)]),
        ]);
        let (order, forced) = linearize(&rec);
        assert_eq!(order, vec![(1, 0), (2, 0), (2, 1), (1, 1)]);
        assert_eq!(forced, 0);
    }

    #[test]
    fn stamps_order_unrelated_operations_and_firings() {
        let rec = {
            let mut r = rec(vec![(
                1,
                vec![stamped(Op::Select, 0, 10), stamped(Op::ChanRecv, 5, 40)],
            )]);
            r.fires.push(vec![
                Entry::stamped(Kind::Fire, 0, 25),
                seq(Op::ChanSend, 7, 0),
            ]);
            r
        };
        let (order, _) = linearize(&rec);
        assert_eq!(order, vec![(1, 0), (0, 0), (1, 1)]);
    }

    #[test]
    fn a_select_is_ordered_by_the_channels_it_touched_not_by_its_stamp() {
        // Goroutine 2's select looked at channel 5 (seq 1) after goroutine 1's send on it
        // (seq 0), although the select's stamp (core skew) is the earlier one.
        let rec = rec(vec![
            (1, vec![stamped(Op::Yield, 0, 50), seq(Op::ChanSend, 5, 0)]),
            (
                2,
                vec![
                    stamped(Op::Select, 0, 5),
                    Entry::with_seq(Kind::Touch, 5, 1),
                    Entry::with_seq(Kind::Touch, 6, 0),
                    seq(Op::ChanRecv, 6, 1),
                ],
            ),
        ]);
        let (order, forced) = linearize(&rec);
        assert_eq!(forced, 0);
        assert_eq!(order, vec![(1, 0), (1, 1), (2, 0), (2, 3)]);
    }

    #[test]
    fn a_join_comes_after_the_joined_goroutines_last_operation_whatever_the_stamps() {
        let rec = rec(vec![
            (1, vec![stamped(Op::Spawn, 2, 10), stamped(Op::Join, 2, 11)]),
            (
                2,
                vec![stamped(Op::Yield, 0, 40), stamped(Op::Yield, 0, 90)],
            ),
        ]);
        let (order, forced) = linearize(&rec);
        assert_eq!(forced, 0);
        assert_eq!(order, vec![(1, 0), (2, 0), (2, 1), (1, 1)]);
    }

    #[test]
    fn unstamped_entries_inherit_their_goroutines_key() {
        // Goroutine 2's channel operations read no clock: they sort after goroutine 3's
        // yield because the yield before them (stamp 30) is later than goroutine 3's (20).
        let rec = rec(vec![
            (2, vec![stamped(Op::Yield, 0, 30), seq(Op::ChanSend, 5, 0)]),
            (3, vec![stamped(Op::Yield, 0, 20), seq(Op::ChanSend, 6, 0)]),
        ]);
        let (order, _) = linearize(&rec);
        assert_eq!(order, vec![(3, 0), (3, 1), (2, 0), (2, 1)]);
    }

    #[test]
    fn contradictory_constraints_still_give_every_operation_once() {
        // Object order says 2 before 1, stream order says 1 before 2: a cycle.
        let rec = rec(vec![
            (1, vec![seq(Op::Lock, 9, 1), seq(Op::Lock, 8, 0)]),
            (2, vec![seq(Op::Lock, 8, 1), seq(Op::Lock, 9, 0)]),
        ]);
        let (order, forced) = linearize(&rec);
        assert_eq!(order.len(), 4);
        assert!(forced > 0);
        let pos = |n: Node| order.iter().position(|&m| m == n).unwrap();
        assert!(pos((1, 0)) < pos((1, 1)));
        assert!(pos((2, 0)) < pos((2, 1)));
    }
}
