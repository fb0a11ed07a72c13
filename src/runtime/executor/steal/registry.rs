//! Every goroutine of one work-stealing run that has not finished, so that reports (`leak`)
//! can list them and shutdown can find the parked ones to tear down.
//!
//! Sharded by goroutine id, each shard behind its own mutex: insertion happens on the spawning
//! thread and removal on the home worker, so two workers rarely meet on one lock. A goroutine's
//! `slot` field holds its index inside its shard while it is registered.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::runtime::goroutine::GRef;

const SHARDS: usize = 8;

#[derive(Default)]
struct Shard {
    /// Registered goroutines; `None` marks a free slot.
    slots: Vec<Option<GRef>>,
    /// Indices of free slots.
    free: Vec<usize>,
}

pub(crate) struct Registry {
    shards: [Mutex<Shard>; SHARDS],
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            shards: Default::default(),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<Shard> {
        &self.shards[id as usize % SHARDS]
    }

    pub(crate) fn insert(&self, g: &GRef) {
        let mut s = self.shard(g.id).lock().unwrap();
        let i = match s.free.pop() {
            Some(i) => {
                s.slots[i] = Some(g.clone());
                i
            }
            None => {
                s.slots.push(Some(g.clone()));
                s.slots.len() - 1
            }
        };
        g.slot.store(i, Ordering::Relaxed);
    }

    pub(crate) fn remove(&self, g: &GRef) {
        let mut s = self.shard(g.id).lock().unwrap();
        let i = g.slot.load(Ordering::Relaxed);
        if s.slots
            .get(i)
            .and_then(|x| x.as_ref())
            .is_some_and(|x| x.id == g.id)
        {
            s.slots[i] = None;
            s.free.push(i);
        }
    }

    /// Every registered goroutine, by id.
    pub(crate) fn snapshot(&self) -> Vec<GRef> {
        let mut v: Vec<GRef> = Vec::new();
        for shard in &self.shards {
            v.extend(shard.lock().unwrap().slots.iter().flatten().cloned());
        }
        v.sort_by_key(|g| g.id);
        v
    }
}
