//! A schedule's Mazurkiewicz trace as text, from the log of its visible operations, so that
//! the DPOR tests and `benches/dpor.rs` can count traces by brute force.
//!
//! The log holds, per completed operation, the object, whether it wrote, and the goroutine.
//! The trace is, per object, the sequence of writes with the reads between them as sets (reads
//! commute), each operation named by its goroutine and its index there. Two schedules of one
//! trace give the same text.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A write, or the reads between two writes, as (goroutine, its n-th operation) pairs.
type Group = (bool, BTreeSet<(u64, u32)>);

/// The trace of the schedule whose operations are `ev`, in the order they ran, as
/// `(object, wrote, goroutine)`.
pub fn trace_text(ev: Vec<(u32, bool, u64)>) -> String {
    let mut idx: HashMap<u64, u32> = HashMap::new();
    let mut per: BTreeMap<u32, Vec<Group>> = BTreeMap::new();
    for (obj, write, g) in ev {
        let k = idx.entry(g).or_default();
        *k += 1;
        let groups = per.entry(obj).or_default();
        match groups.last_mut() {
            Some((false, reads)) if !write => {
                reads.insert((g, *k));
            }
            _ => groups.push((write, BTreeSet::from([(g, *k)]))),
        }
    }
    format!("{per:?}")
}
