//! Merging the logs of a recorded run into one order: consistent with every goroutine's own
//! order, every object's sequence numbers and every spawn (a goroutine's first operation comes
//! after the `go` that created it); among the operations that order leaves free, the earliest
//! stamp goes first (Kahn's algorithm with a priority queue).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use super::{Kind, Recording, NO_SEQ};
use crate::verdict::Op;

/// A step of the merged order: `(stream, index)`. Stream 0 is the timer firings (index: the
/// firing's group), any other stream a goroutine by its id in the run (index: its entry).
pub(crate) type Node = (u64, usize);

/// The merged order of every logged operation of `rec`. Returns the order and how many times
/// the constraints had to be broken because they contradicted each other (0 for a log of a
/// real run: the constraints all come from one real order).
pub(crate) fn linearize(rec: &Recording) -> (Vec<Node>, usize) {
    let mut stamp: HashMap<Node, u64> = HashMap::new();
    let mut succ: HashMap<Node, Vec<Node>> = HashMap::new();
    let mut indeg: HashMap<Node, usize> = HashMap::new();
    let mut per_obj: BTreeMap<u64, Vec<(u64, Node)>> = BTreeMap::new();
    let mut edge = |a: Node, b: Node, succ: &mut HashMap<Node, Vec<Node>>| {
        succ.entry(a).or_default().push(b);
        *indeg.entry(b).or_default() += 1;
    };
    for (&gid, s) in &rec.streams {
        for (i, e) in s.entries.iter().enumerate() {
            let n = (gid, i);
            stamp.insert(n, e.stamp);
            if i > 0 {
                edge((gid, i - 1), n, &mut succ);
            }
            if e.seq() != NO_SEQ {
                per_obj.entry(e.obj).or_default().push((e.seq(), n));
            }
            if e.kind() == Kind::Op(Op::Spawn)
                && rec
                    .streams
                    .get(&e.obj)
                    .is_some_and(|c| !c.entries.is_empty())
            {
                edge(n, (e.obj, 0), &mut succ);
            }
        }
    }
    for (j, group) in rec.fires.iter().enumerate() {
        let n = (0, j);
        stamp.insert(n, group[0].stamp);
        if j > 0 {
            edge((0, j - 1), n, &mut succ);
        }
        for e in group {
            if e.seq() != NO_SEQ {
                per_obj.entry(e.obj).or_default().push((e.seq(), n));
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
    let total = stamp.len();
    let mut heap: BinaryHeap<Reverse<(u64, Node)>> = stamp
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
                for (&n, &t) in &stamp {
                    if placed.contains_key(&n) || (n.1 > 0 && !placed.contains_key(&(n.0, n.1 - 1)))
                    {
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
                    heap.push(Reverse((stamp[&m], m)));
                }
            }
        }
    }
    (order, forced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Entry, Stream};

    fn op(op: Op, obj: u64, seq: u64, stamp: u64) -> Entry {
        Entry::new(Kind::Op(op), obj, seq, stamp)
    }

    #[test]
    fn object_order_beats_stamps_and_spawn_comes_first() {
        // Goroutine 2 locked object 9 first (seq 0) although its stamp is later (core skew);
        // goroutine 1 spawned goroutine 2.
        let mut rec = Recording::default();
        rec.streams.insert(
            1,
            Stream {
                entries: vec![op(Op::Spawn, 2, NO_SEQ, 10), op(Op::Lock, 9, 1, 20)],
            },
        );
        rec.streams.insert(
            2,
            Stream {
                entries: vec![op(Op::Lock, 9, 0, 30)],
            },
        );
        let (order, forced) = linearize(&rec);
        assert_eq!(order, vec![(1, 0), (2, 0), (1, 1)]);
        assert_eq!(forced, 0);
    }

    #[test]
    fn stamps_order_unrelated_operations_and_firings() {
        let mut rec = Recording::default();
        rec.streams.insert(
            1,
            Stream {
                entries: vec![
                    op(Op::Select, 0, NO_SEQ, 10),
                    op(Op::ChanRecv, 5, NO_SEQ, 40),
                ],
            },
        );
        rec.fires.push(vec![
            Entry::new(Kind::Fire, 0, NO_SEQ, 25),
            op(Op::ChanSend, 7, 0, 26),
        ]);
        let (order, _) = linearize(&rec);
        assert_eq!(order, vec![(1, 0), (0, 0), (1, 1)]);
    }

    #[test]
    fn contradictory_constraints_still_give_every_operation_once() {
        // Object order says 2 before 1, stream order says 1 before 2: a cycle.
        let mut rec = Recording::default();
        rec.streams.insert(
            1,
            Stream {
                entries: vec![op(Op::Lock, 9, 1, 1), op(Op::Lock, 8, 0, 2)],
            },
        );
        rec.streams.insert(
            2,
            Stream {
                entries: vec![op(Op::Lock, 8, 1, 3), op(Op::Lock, 9, 0, 4)],
            },
        );
        let (order, forced) = linearize(&rec);
        assert_eq!(order.len(), 4);
        assert!(forced > 0);
        let pos = |n: Node| order.iter().position(|&m| m == n).unwrap();
        assert!(pos((1, 0)) < pos((1, 1)));
        assert!(pos((2, 0)) < pos((2, 1)));
    }
}
