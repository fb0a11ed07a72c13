//! Every started goroutine of one work-stealing run that has not finished, so that reports
//! (`leak`, the deadlock check) can list them and shutdown can find the parked ones to tear
//! down.
//!
//! One shard per worker: a goroutine is registered by its home worker and removed by the same
//! worker when it finishes, so a shard's lock is only ever contended by a report. (Sharding by
//! id instead put the spawning and the finishing worker on one lock: 9% of spawn+join.)
//! Goroutines not started yet are in run queues, not here. A goroutine's `slot` field holds
//! its index inside its shard while it is registered (`goroutine::NO_SLOT` before).
//!
//! Registration is lazy, at a goroutine's first suspension (a park, a yield), because most
//! goroutines of a spawn loop never suspend: they run once, start to finish, and a lock taken
//! to register them and another to remove them were two locked read-modify-writes and ~100
//! instructions of each. Until then the goroutine is the one its worker is running, which the
//! shard publishes in `running`: a report lists the registered goroutines and each shard's
//! running one. A never-suspended goroutine's exit takes the lock once, to clear `running`.
//!
//! The registry holds the strong reference that keeps a parked goroutine alive when nothing
//! else does (a `select!` with no cases). It takes over the run queue's reference when the
//! goroutine registers and hands it back at the end, so registering costs no reference-count
//! update; and a shard's lock is the crate's spin lock (`util::spin`), which its owner takes
//! with one atomic compare-exchange and releases with a plain store, where a
//! `std::sync::Mutex` pays a second read-modify-write to unlock.
//!
//! Invariants:
//! - `running` is null or points at a record that stays alive while the shard's lock is held:
//!   a registered one (removing it takes the lock, and clears `running` if it points there),
//!   or the one the owner worker runs for the first time, whose worker holds a reference until
//!   its exit clears `running` under the lock (`remove`). The owner worker writes it without
//!   the lock only to publish a goroutine it is about to run for the first time, which is alive
//!   by the above; so a goroutine that never suspended is listed as long as it runs.
//! - A report reads `running` only under the lock, and clones the record there.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::runtime::goroutine::{GRef, G, NO_SLOT};
use crate::util::spin::SpinLock;

#[derive(Default)]
struct Shard {
    /// Registered goroutines; `None` marks a free slot.
    slots: Vec<Option<GRef>>,
    /// Indices of free slots.
    free: Vec<usize>,
}

/// A shard behind a spin lock (held for a few vector operations, or one report's copy), and
/// the goroutine its worker runs (see the module invariants).
#[derive(Default)]
struct Locked {
    shard: SpinLock<Shard>,
    running: AtomicPtr<G>,
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

    /// Worker `w` is about to run `g` for the first time (on its home worker, so `g` is
    /// alive: see the module invariants). Later runs are not published: the goroutine is
    /// registered by then, and `running` may go on pointing at it (a report lists it once).
    #[inline]
    pub(crate) fn running(&self, w: usize, g: *const G) {
        self.shards[w]
            .running
            .store(g.cast_mut(), Ordering::Release);
    }

    /// True once `g` is registered.
    #[inline]
    pub(crate) fn has(g: &G) -> bool {
        g.slot.load(Ordering::Relaxed) != NO_SLOT
    }

    /// Register `g`, which is about to suspend for the first time, on its home worker; the
    /// registry keeps this reference until [`remove`](Self::remove) returns it.
    pub(crate) fn insert(&self, g: GRef) {
        let mut s = self.shard(&g).shard.lock();
        let i = s.free.pop().unwrap_or_else(|| {
            s.slots.push(None);
            s.slots.len() - 1
        });
        g.slot.store(i as u32, Ordering::Relaxed);
        s.slots[i] = Some(g);
    }

    /// `g` finished (on its home worker): unregister it, returning the registry's reference
    /// to it (`None` if it never registered), and stop listing it as running.
    pub(crate) fn remove(&self, g: &G) -> Option<GRef> {
        let i = g.slot.load(Ordering::Relaxed);
        let locked = self.shard(g);
        let mut s = locked.shard.lock();
        if std::ptr::eq(locked.running.load(Ordering::Relaxed), g) {
            locked
                .running
                .store(std::ptr::null_mut(), Ordering::Relaxed);
        }
        if i == NO_SLOT {
            return None;
        }
        let i = i as usize;
        let mine = s
            .slots
            .get(i)
            .and_then(|x| x.as_ref())
            .is_some_and(|x| std::ptr::eq(&**x, g));
        if !mine {
            return None;
        }
        s.free.push(i);
        g.slot.store(NO_SLOT, Ordering::Relaxed);
        s.slots[i].take()
    }

    /// Every registered or running goroutine, by id.
    pub(crate) fn snapshot(&self) -> Vec<GRef> {
        let mut v: Vec<GRef> = Vec::new();
        for locked in self.shards.iter() {
            let s = locked.shard.lock();
            v.extend(s.slots.iter().flatten().cloned());
            let p = locked.running.load(Ordering::Acquire);
            if !p.is_null() {
                // SAFETY: under the shard's lock `running` points at a live record (module
                // invariants), made by `Arc::new` (records are only ever made so); the count
                // is raised before the `Arc` is rebuilt, so this is a new reference.
                v.push(unsafe {
                    Arc::increment_strong_count(p);
                    Arc::from_raw(p)
                });
            }
            drop(s);
        }
        v.sort_by_key(|g| g.id);
        // A registered goroutine may also be its worker's running one.
        v.dedup_by(|a, b| Arc::ptr_eq(a, b));
        v
    }
}
