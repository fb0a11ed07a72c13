//! Every started goroutine of one work-stealing run that has not finished, so that reports
//! (`leak`) can list them and shutdown can find the parked ones to tear down.
//!
//! One shard per worker, behind its own mutex: a goroutine is registered by its home worker when
//! it first runs and removed by the same worker when it finishes, so the lock is only ever
//! contended by a report. (Sharding by id instead put the spawning and the finishing worker on
//! one lock: 9% of spawn+join.) Goroutines not started yet are in run queues, not here. A
//! goroutine's `slot` field holds its index inside its shard while it is registered.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::runtime::goroutine::GRef;

#[derive(Default)]
struct Shard {
    /// Registered goroutines; `None` marks a free slot.
    slots: Vec<Option<GRef>>,
    /// Indices of free slots.
    free: Vec<usize>,
}

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        Registry {
            shards: (0..workers).map(|_| Mutex::default()).collect(),
        }
    }

    /// The shard of `g`'s home worker.
    fn shard(&self, g: &GRef) -> &Mutex<Shard> {
        &self.shards[g.home.load(Ordering::Relaxed)]
    }

    /// Register `g`, which has just started on its home worker.
    pub(crate) fn insert(&self, g: &GRef) {
        let mut s = self.shard(g).lock().unwrap();
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
        let mut s = self.shard(g).lock().unwrap();
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
