//! The synchronisation keys and their clocks `L[k]`.

use std::collections::hash_map::Entry;

use super::clock::{Lock, VectorClock};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::util::hash::FxHasher;

/// The detector's maps: keys are small integers (see `util::hash`).
pub(super) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// What a synchronisation edge hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SyncKey {
    /// A primitive (mutex, wait group, once, cond, context, atomic...), by object id.
    Object(u64),
    /// A sub-part of a primitive: a channel's buffer slot, a lock's reader side...
    Part(u64, u64),
    /// The end of a goroutine, acquired by `join`.
    Exit(u64),
    /// The single total order of SeqCst atomics.
    SeqCst,
}

/// Object ids below this index `Locks::objects` (a controlled run numbers its objects 1, 2,
/// ...); larger ones (the work-stealing runtime's process-wide ids) go to the hash map.
const DENSE_OBJECTS: u64 = 1024;

/// Every `L[k]`: goroutine exits by goroutine id and small object ids in dense tables (a mutex
/// op is a lookup by index, not a hash probe: 10% of the checker's time on a mutex program),
/// the other keys in a small hash map.
#[derive(Default)]
pub(super) struct Locks {
    pub(super) map: FxHashMap<SyncKey, Lock>,
    /// `L[Exit(g)]` at index `g`.
    pub(super) exits: Vec<Lock>,
    /// `L[Object(o)]` at index `o`, for `o < DENSE_OBJECTS`.
    pub(super) objects: Vec<Lock>,
}

impl Locks {
    #[inline]
    pub(super) fn get(&self, key: SyncKey) -> Option<&Lock> {
        match key {
            SyncKey::Exit(g) => self.exits.get(g as usize),
            SyncKey::Object(o) if o < DENSE_OBJECTS => self.objects.get(o as usize),
            _ => self.map.get(&key),
        }
    }

    /// `L[k]`, created empty if needed.
    #[inline]
    pub(super) fn entry(&mut self, spare: &mut Vec<VectorClock>, key: SyncKey) -> &mut Lock {
        let mut fresh = || Lock {
            clock: spare.pop().unwrap_or_default(),
            copy_of: 0,
            version: 0,
        };
        match key {
            SyncKey::Exit(g) => {
                let i = g as usize;
                while self.exits.len() <= i {
                    self.exits.push(fresh());
                }
                &mut self.exits[i]
            }
            SyncKey::Object(o) if o < DENSE_OBJECTS => {
                let i = o as usize;
                while self.objects.len() <= i {
                    self.objects.push(fresh());
                }
                &mut self.objects[i]
            }
            _ => match self.map.entry(key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(v) => v.insert(fresh()),
            },
        }
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty() && self.exits.is_empty() && self.objects.is_empty()
    }
}
