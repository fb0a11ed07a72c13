//! Every started goroutine of one work-stealing run that has not finished, so that reports
//! (`leak`, the deadlock check) can list them and shutdown can find the parked ones to tear
//! down.
//!
//! One shard per worker: a goroutine is registered by its home worker when it first runs and
//! removed by the same worker when it finishes, so a shard's lock is only ever contended by a
//! report. (Sharding by id instead put the spawning and the finishing worker on one lock: 9% of
//! spawn+join.) Goroutines not started yet are in run queues, not here. A goroutine's `slot`
//! field holds its index inside its shard while it is registered.
//!
//! The registry holds the strong reference that keeps a parked goroutine alive when nothing
//! else does (a `select!` with no cases). It takes over the run queue's reference at the first
//! run and hands it back at the end, so registering costs no reference-count update; and a
//! shard's lock is the crate's spin lock (`util::spin`), which its owner takes with one atomic
//! compare-exchange and releases with a plain store, where a `std::sync::Mutex` pays a second
//! read-modify-write to unlock. Together that was a
//! tenth of spawn+join.

use std::sync::atomic::Ordering;

use crossbeam_utils::CachePadded;

use crate::runtime::goroutine::{GRef, G};
use crate::util::spin::SpinLock;

#[derive(Default)]
struct Shard {
    /// Registered goroutines; `None` marks a free slot.
    slots: Vec<Option<GRef>>,
    /// Indices of free slots.
    free: Vec<usize>,
}

/// A shard behind a spin lock (held for a few vector operations, or one report's copy).
#[derive(Default)]
struct Locked(SpinLock<Shard>);

impl Locked {
    fn with<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        f(&mut self.0.lock())
    }
}

pub(crate) struct Registry {
    shards: Box<[CachePadded<Locked>]>,
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        Registry {
            shards: (0..workers).map(|_| CachePadded::default()).collect(),
        }
    }

    /// The shard of `g`'s home worker.
    fn shard(&self, g: &G) -> &Locked {
        &self.shards[g.home.load(Ordering::Relaxed) as usize]
    }

    /// Register `g`, which has just started on its home worker; the registry keeps this
    /// reference until [`remove`](Self::remove) returns it.
    pub(crate) fn insert(&self, g: GRef) {
        self.shard(&g).with(|s| {
            let i = s.free.pop().unwrap_or_else(|| {
                s.slots.push(None);
                s.slots.len() - 1
            });
            g.slot.store(i as u32, Ordering::Relaxed);
            s.slots[i] = Some(g);
        });
    }

    /// Unregister `g` (on its home worker, when it finished), returning the registry's
    /// reference to it.
    pub(crate) fn remove(&self, g: &G) -> Option<GRef> {
        let i = g.slot.load(Ordering::Relaxed) as usize;
        self.shard(g).with(|s| {
            let mine = s
                .slots
                .get(i)
                .and_then(|x| x.as_ref())
                .is_some_and(|x| std::ptr::eq(&**x, g));
            if !mine {
                return None;
            }
            s.free.push(i);
            s.slots[i].take()
        })
    }

    /// Every registered goroutine, by id.
    pub(crate) fn snapshot(&self) -> Vec<GRef> {
        let mut v: Vec<GRef> = Vec::new();
        for shard in self.shards.iter() {
            shard.with(|s| v.extend(s.slots.iter().flatten().cloned()));
        }
        v.sort_by_key(|g| g.id);
        v
    }
}
