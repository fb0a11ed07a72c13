//! Reuse of released stacks: a per-thread cache in front of a global pool, per size class.
//!
//! Invariants:
//! - A pooled `Slot` has no holder: no `GoStack` refers to it and no coroutine runs on it, so its
//!   usable memory may be discarded at any time.
//! - The hot path (a thread-cache hit or push) takes no lock and makes no system call.
//! - Memory goes back to the kernel (`MADV_FREE`; guard pages stay guards) just for stacks that enter the global pool when it already holds `WARM_GLOBAL` warm stacks
//!   of that size; the thread caches and the first `WARM_GLOBAL` global stacks stay warm.

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

use super::slab::Slot;

/// Most stacks of one size a thread keeps for itself.
const THREAD_CACHE_MAX: usize = 64;
/// How many of its oldest stacks a full thread cache hands to the global pool at once.
const FLUSH_BATCH: usize = 32;
/// How many stacks an empty thread cache takes from the global pool at once.
const REFILL_BATCH: usize = 16;
/// Stacks per size class the global pool keeps without releasing their memory. Large on
/// purpose: handing memory back costs a TLB shootdown on every core and a page fault on reuse,
/// which made spawn+join 10x slower when this was 256; a shallow stack holds one or two pages.
const WARM_GLOBAL: usize = 16 * 1024;

struct ThreadCache {
    classes: Vec<CachedClass>,
}

struct CachedClass {
    size: usize,
    slots: Vec<Slot>,
}

impl ThreadCache {
    #[inline]
    fn class(&mut self, size: usize) -> &mut Vec<Slot> {
        // Nearly every program uses one stack size: its class is the first one.
        if self.classes.first().is_some_and(|c| c.size == size) {
            return &mut self.classes[0].slots;
        }
        let idx = match self.classes.iter().position(|c| c.size == size) {
            Some(i) => i,
            None => {
                self.classes.push(CachedClass {
                    size,
                    slots: Vec::with_capacity(THREAD_CACHE_MAX),
                });
                self.classes.len() - 1
            }
        };
        &mut self.classes[idx].slots
    }
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        for class in &mut self.classes {
            give_back(class.size, &mut class.slots);
        }
    }
}

thread_local! {
    static CACHE: RefCell<ThreadCache> = const { RefCell::new(ThreadCache { classes: Vec::new() }) };
}

struct GlobalClass {
    size: usize,
    /// Stacks whose memory is still resident.
    warm: Vec<Slot>,
    /// Stacks whose usable memory was handed back with `MADV_FREE`.
    cold: Vec<Slot>,
}

static GLOBAL: Mutex<Vec<GlobalClass>> = Mutex::new(Vec::new());

fn global() -> MutexGuard<'static, Vec<GlobalClass>> {
    // Pool operations cannot panic half-way, so a poisoned pool is still consistent.
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn global_class(classes: &mut Vec<GlobalClass>, size: usize) -> &mut GlobalClass {
    let idx = match classes.iter().position(|c| c.size == size) {
        Some(i) => i,
        None => {
            classes.push(GlobalClass {
                size,
                warm: Vec::new(),
                cold: Vec::new(),
            });
            classes.len() - 1
        }
    };
    &mut classes[idx]
}

/// A pooled stack of `size` usable bytes, most recently used first; `None` if there is none.
pub(super) fn get(size: usize) -> Option<Slot> {
    let cached = CACHE.try_with(|cache| {
        let mut cache = cache.try_borrow_mut().ok()?;
        let slots = cache.class(size);
        if slots.is_empty() {
            take_global(size, REFILL_BATCH, slots);
        }
        Some(slots.pop())
    });
    match cached {
        Ok(Some(found)) => found,
        // No thread cache (thread exiting): go to the global pool directly.
        _ => {
            let mut one = Vec::with_capacity(1);
            take_global(size, 1, &mut one);
            one.pop()
        }
    }
}

/// Puts a stack back for reuse.
pub(super) fn put(slot: Slot) {
    let mut slot = Some(slot);
    let _ = CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return;
        };
        let Some(s) = slot.take() else { return };
        let size = s.size();
        let slots = cache.class(size);
        if slots.len() >= THREAD_CACHE_MAX {
            let mut oldest: Vec<Slot> = slots.drain(..FLUSH_BATCH).collect();
            give_back(size, &mut oldest);
        }
        slots.push(s);
    });
    // No thread cache (thread exiting): go to the global pool directly.
    if let Some(s) = slot {
        let size = s.size();
        give_back(size, &mut vec![s]);
    }
}

/// Moves up to `n` stacks of `size` from the global pool into `out`, warm ones first.
fn take_global(size: usize, n: usize, out: &mut Vec<Slot>) {
    let mut classes = global();
    let class = global_class(&mut classes, size);
    for _ in 0..n {
        match class.warm.pop().or_else(|| class.cold.pop()) {
            Some(s) => out.push(s),
            None => break,
        }
    }
}

/// Moves every stack of `batch` (all of one `size`) to the global pool. Those beyond the warm
/// allowance have their memory handed back first, outside the lock.
fn give_back(size: usize, batch: &mut Vec<Slot>) {
    {
        let mut classes = global();
        let class = global_class(&mut classes, size);
        while class.warm.len() < WARM_GLOBAL {
            match batch.pop() {
                Some(s) => class.warm.push(s),
                None => return,
            }
        }
    }
    if batch.is_empty() {
        return;
    }
    release_memory(batch);
    let mut classes = global();
    global_class(&mut classes, size).cold.append(batch);
}

/// Hands the usable memory of pooled slots back to the kernel, keeping the mappings and the
/// guard pages in place; the next write reuses or refaults the pages. Slots that are adjacent in
/// a slab are advised with one call, across the guard pages between them: those hold no data,
/// and a guard (page-table marker or `PROT_NONE` mapping) survives `MADV_FREE`/`MADV_DONTNEED`.
fn release_memory(batch: &mut [Slot]) {
    batch.sort_unstable_by_key(Slot::limit);
    let mut i = 0;
    while i < batch.len() {
        let start = batch[i].base().get() - batch[i].size();
        let mut end = batch[i].base().get();
        i += 1;
        while i < batch.len() && batch[i].limit().get() == end {
            end = batch[i].base().get();
            i += 1;
        }
        let (addr, len) = (start as *mut libc::c_void, end - start);
        // SAFETY: `[start, end)` covers the usable ranges of pooled slots, which nothing runs on
        // or refers into, and the guard pages between them; all of it may be discarded.
        let rc = unsafe { libc::madvise(addr, len, libc::MADV_FREE) };
        if rc != 0 {
            // MADV_FREE needs Linux 4.5; MADV_DONTNEED discards eagerly instead.
            // SAFETY: as above.
            unsafe { libc::madvise(addr, len, libc::MADV_DONTNEED) };
        }
    }
}

/// Stacks of `size` in the global pool: (warm, cold).
#[cfg(test)]
fn global_counts(size: usize) -> (usize, usize) {
    let mut classes = global();
    let class = global_class(&mut classes, size);
    (class.warm.len(), class.cold.len())
}

#[cfg(test)]
mod tests {
    use super::super::slab::{page_size, Slabs};
    use super::*;

    fn carve_many(slabs: &Slabs, size: usize, n: usize) -> Vec<Slot> {
        (0..n).map(|_| slabs.carve(size, None).unwrap()).collect()
    }

    #[test]
    fn thread_cache_is_lifo() {
        let size = 17 * page_size();
        let slabs = Slabs::new();
        let mut slots = carve_many(&slabs, size, 2);
        let b = slots.pop().unwrap();
        let a = slots.pop().unwrap();
        let (la, lb) = (a.limit(), b.limit());
        put(a);
        put(b);
        assert_eq!(get(size).unwrap().limit(), lb);
        assert_eq!(get(size).unwrap().limit(), la);
        assert!(get(size).is_none());
    }

    #[test]
    fn overflow_goes_to_global_and_back() {
        // Runs on its own thread so that the thread cache starts empty and is flushed at exit.
        let size = 19 * page_size();
        std::thread::spawn(move || {
            let slabs = Slabs::new();
            for s in carve_many(&slabs, size, THREAD_CACHE_MAX + 1) {
                put(s);
            }
            assert_eq!(global_counts(size), (FLUSH_BATCH, 0));
            let cached = CACHE.with(|c| c.borrow_mut().class(size).len());
            assert_eq!(cached, THREAD_CACHE_MAX + 1 - FLUSH_BATCH);
        })
        .join()
        .unwrap();
        // Thread exit flushed the rest.
        assert_eq!(global_counts(size), (THREAD_CACHE_MAX + 1, 0));
        // Another thread refills from the global pool in a batch.
        std::thread::spawn(move || {
            assert!(get(size).is_some());
            assert_eq!(global_counts(size).0, THREAD_CACHE_MAX + 1 - REFILL_BATCH);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn stacks_beyond_the_warm_allowance_go_cold_and_keep_their_guard() {
        let size = 23 * page_size();
        let slabs = Slabs::new();
        let mut batch = carve_many(&slabs, size, WARM_GLOBAL + 10);
        // Dirty every stack so MADV_FREE has something to free.
        for s in &batch {
            // SAFETY: the usable range of a slot this test holds.
            unsafe { *((s.base().get() - 1) as *mut u8) = 1 };
        }
        let guards: Vec<usize> = batch.iter().map(|s| s.limit().get()).collect();
        // The first 10 go cold (advised together); the 11th, adjacent, stays warm.
        let first_warm_top = batch[10].base().get() - 1;
        give_back(size, &mut batch);
        // SAFETY: reading a byte of a pooled slot's usable range, which stays mapped.
        let byte = unsafe { *(first_warm_top as *const u8) };
        assert_eq!(byte, 1, "warm stack was advised");
        assert!(batch.is_empty());
        assert_eq!(global_counts(size), (WARM_GLOBAL, 10));
        for g in guards {
            assert!(!super::super::tests::readable(g), "guard lost at {g:#x}");
        }
        // Cold stacks are usable again.
        let mut out = Vec::new();
        take_global(size, WARM_GLOBAL + 10, &mut out);
        for s in &out {
            // SAFETY: as above; the slot is held by this test again.
            unsafe { *((s.base().get() - s.size()) as *mut u8) = 2 };
        }
        assert_eq!(out.len(), WARM_GLOBAL + 10);
    }
}
