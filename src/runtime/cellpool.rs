//! Recycled memory for `go`'s join cells (`gocell.rs`), by size class.
//!
//! A detached `go` (`go(f);` with the handle dropped at once, or `wg.go(f)`) allocates its cell
//! on the spawning worker, and the cell is freed by whichever worker starts the goroutine: in a
//! spawn loop that is nearly always the other one. glibc puts such a block back into the
//! allocating thread's arena (its fast bins), and every step of heap growth (`arena.rs`) then
//! consolidates all of them: the cell's `malloc` cost ~230 instructions and its `free` ~120
//! (callgrind, `spawn_waitgroup_1m`), a sixth of the whole goroutine. Go's `gfget`/`gfput` keep
//! dead `g`s on per-P lists, with batches through a global list, for the same reason.
//!
//! Here: a short list of blocks per thread and size class, and batches of blocks moved
//! through a global list when one thread frees what another allocates (the same shape as the
//! goroutine records' free list). Bounded: beyond [`GLOBAL_MAX`] batches a class gives blocks
//! back to the allocator. Only the run side frees into the pool; a joined cell, freed by its
//! joiner (most often its spawner), goes straight back to the allocator (`free_direct`).
//!
//! Invariants:
//! - Every block of class `c` was allocated with [`layout`]`(c)` and holds nothing alive: a
//!   pooled block is owned by the list that holds it, and by nothing else.
//! - A block leaves a list only by `alloc` (to one caller) or by being freed to the allocator.

use std::alloc::Layout;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Size classes: class `c` holds blocks of `MIN_BYTES + 16 * c` bytes, which glibc serves from
/// chunks of `MIN_BYTES + 8 + 16 * c` (its 8-byte header, 16-byte steps): no byte of a chunk
/// wasted. `MIN_BYTES` is the smallest cell (a closure and a result of no bytes).
const MIN_BYTES: usize = 88;
/// Classes kept; a larger cell is allocated and freed as it comes.
const CLASSES: usize = 12;
/// Blocks a thread keeps per class before moving a batch to the global list.
const LOCAL_MAX: usize = 128;
/// Blocks moved at a time.
const BATCH: usize = 64;
/// Batches the global list keeps per class (beyond that, blocks go back to the allocator): up
/// to 1M blocks, the cells of a burst of a million detached `go`s. A smaller bound sends the
/// blocks past it back to the spawner's heap from another thread, the cost this module exists
/// to avoid (callgrind, `spawn_waitgroup_1m`: 1,925 instructions per goroutine with 4,096
/// batches, 1,857 with this; 2,098 before the pool). glibc, too, keeps most of what such a
/// burst freed; Go never frees its `g`s at all.
const GLOBAL_MAX: usize = 16 * 1024;
/// Alignment of every block (glibc's: `malloc` serves it without an aligned path).
const ALIGN: usize = 16;

/// A pooled block: memory of one class's layout, holding nothing.
struct Block(NonNull<u8>);

// SAFETY: a block is plain memory owned by whichever list holds it (module invariants); it
// carries no value whose thread could matter.
unsafe impl Send for Block {}

/// The class of a value of `layout`, if pooled.
pub(crate) const fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN {
        return None;
    }
    let c = layout.size().saturating_sub(MIN_BYTES).div_ceil(16);
    if c < CLASSES {
        Some(c)
    } else {
        None
    }
}

/// The layout of class `c`'s blocks.
#[inline]
fn layout(c: usize) -> Layout {
    LAYOUTS[c]
}

/// Every class's layout, computed (and checked) at compile time.
const LAYOUTS: [Layout; CLASSES] = {
    let mut all = [Layout::new::<u8>(); CLASSES];
    let mut c = 0;
    while c < CLASSES {
        all[c] = match Layout::from_size_align(MIN_BYTES + 16 * c, ALIGN) {
            Ok(l) => l,
            Err(_) => panic!("a valid layout"),
        };
        c += 1;
    }
    all
};

/// One thread's freed blocks, per class, until they make a batch for the global list.
struct Local([Vec<Block>; CLASSES]);

impl Drop for Local {
    fn drop(&mut self) {
        // A worker thread that ends hands its blocks on (another runtime may start soon).
        for (c, v) in self.0.iter_mut().enumerate() {
            hand_on(c, v);
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local([const { Vec::new() }; CLASSES])) };
}

static GLOBAL: [Mutex<Vec<Vec<Block>>>; CLASSES] = [const { Mutex::new(Vec::new()) }; CLASSES];

/// How many batches `GLOBAL[c]` holds (written under its lock), so that a thread whose own
/// list is empty does not take the lock only to find the global one empty too: a spawner that
/// outruns the workers allocates every cell fresh.
static BATCHES: [AtomicUsize; CLASSES] = [const { AtomicUsize::new(0) }; CLASSES];

/// A spawning worker's blocks, per class: refilled with whole batches from the global list
/// (blocks that the threads starting goroutines freed), so that taking a block costs the
/// spawner a field access, no thread-local look-up. Dropped with its worker: its blocks go
/// back to the global list or to the allocator.
pub(crate) struct Cache(RefCell<[Vec<Block>; CLASSES]>);

impl Cache {
    /// An empty cache.
    pub(crate) const fn new() -> Cache {
        Cache(RefCell::new([const { Vec::new() }; CLASSES]))
    }

    /// A block for a value of class `c` (from `class_of`): recycled if one is at hand.
    #[inline]
    pub(crate) fn alloc(&self, c: usize) -> NonNull<u8> {
        if let Ok(mut l) = self.0.try_borrow_mut() {
            let v = &mut l[c];
            if let Some(b) = v.pop() {
                return b.0;
            }
            if BATCHES[c].load(Ordering::Relaxed) != 0 {
                if let Some(b) = refill(c, v) {
                    return b.0;
                }
            }
        }
        fresh(c)
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (c, v) in self.0.get_mut().iter_mut().enumerate() {
            hand_on(c, v);
        }
    }
}

/// Refill an empty list with a batch from the global list; one block of it.
#[cold]
fn refill(c: usize, v: &mut Vec<Block>) -> Option<Block> {
    let mut global = GLOBAL[c].lock().unwrap_or_else(|p| p.into_inner());
    let batch = global.pop()?;
    BATCHES[c].store(global.len(), Ordering::Relaxed);
    drop(global);
    *v = batch;
    v.pop()
}

/// Move a list's blocks to the global list in whole batches, the rest to the allocator.
fn hand_on(c: usize, v: &mut Vec<Block>) {
    while v.len() >= BATCH {
        let at = v.len() - BATCH;
        give(c, v.split_off(at));
    }
    release(c, std::mem::take(v));
}

#[cold]
fn fresh(c: usize) -> NonNull<u8> {
    let layout = layout(c);
    // Cells pile up while a spawner outruns the workers: grow the heap in steps.
    super::arena::before_fresh(layout.size() + 8);
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Free block `p` of class `c` to the allocator, not to the pool: for a block most likely freed
/// by the thread that allocated it (a joined cell, freed by its joiner), which the allocator's
/// own per-thread cache serves as well, without the pool's bookkeeping.
///
/// # Safety
/// As for [`free`].
#[inline]
pub(crate) unsafe fn free_direct(c: usize, p: NonNull<u8>) {
    // SAFETY: the block was allocated with `layout(c)` (by `fresh`, or by `fresh` before it was
    // pooled), and the caller's contract gives it up.
    unsafe { std::alloc::dealloc(p.as_ptr(), layout(c)) }
}

/// Give back block `p` of class `c`, for reuse by whichever thread allocates next.
///
/// # Safety
/// `p` came from `alloc(c)`, holds nothing alive any more, and is not used again.
#[inline]
pub(crate) unsafe fn free(c: usize, p: NonNull<u8>) {
    let overflow = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return Some(vec![Block(p)]);
        };
        let v = &mut l.0[c];
        v.push(Block(p));
        (v.len() > LOCAL_MAX).then(|| {
            let at = v.len() - BATCH;
            v.split_off(at)
        })
    });
    match overflow {
        Ok(None) => {}
        Ok(Some(batch)) => give(c, batch),
        // The thread is ending (its list is gone): straight back to the allocator.
        Err(_) => release(c, vec![Block(p)]),
    }
}

/// Move a batch to the global list, or back to the allocator if the list is full.
#[cold]
fn give(c: usize, batch: Vec<Block>) {
    let mut global = GLOBAL[c].lock().unwrap_or_else(|p| p.into_inner());
    if global.len() < GLOBAL_MAX && batch.len() == BATCH {
        global.push(batch);
        BATCHES[c].store(global.len(), Ordering::Relaxed);
        return;
    }
    drop(global);
    release(c, batch);
}

/// Free blocks of class `c` to the allocator.
fn release(c: usize, blocks: Vec<Block>) {
    let layout = layout(c);
    for b in blocks {
        // SAFETY: every block of class `c` was allocated with `layout(c)` and is owned by the
        // list it came from, which gave it up (module invariants).
        unsafe { std::alloc::dealloc(b.0.as_ptr(), layout) };
    }
}

#[cfg(test)]
mod tests {
    //! The pool without goroutines (so Miri can check it: `cargo +nightly miri test --lib
    //! cellpool::tests`).
    use super::*;

    #[test]
    fn classes_round_up_to_whole_heap_chunks() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(80, 8)), Some(0));
        assert_eq!(class_of(l(88, 8)), Some(0));
        assert_eq!(class_of(l(89, 8)), Some(1));
        assert_eq!(class_of(l(104, 16)), Some(1));
        let largest = MIN_BYTES + 16 * (CLASSES - 1);
        assert_eq!(class_of(l(largest, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(l(largest + 1, 8)), None, "too large: not pooled");
        assert_eq!(class_of(l(96, 32)), None, "over-aligned: not pooled");
        for c in 0..CLASSES {
            assert_eq!(class_of(layout(c)), Some(c));
        }
    }

    /// Frees every block in another thread (a "finishing worker"), which then ends.
    fn free_elsewhere(c: usize, blocks: Vec<Block>) {
        std::thread::spawn(move || {
            for b in blocks {
                // SAFETY: each block came from `alloc(c)`, is unused since, and is freed once.
                unsafe { free(c, b.0) };
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_block_freed_on_another_thread_is_reused_by_the_spawner() {
        // A class no other test uses, so that the global list holds only this test's batches.
        const C: usize = 7;
        let spawner = Cache::new();
        // More than a thread keeps for itself: some go to the global list as it frees them,
        // the rest when it ends.
        let n = LOCAL_MAX + BATCH;
        let blocks: Vec<Block> = (0..n).map(|_| Block(spawner.alloc(C))).collect();
        let addrs: Vec<usize> = blocks.iter().map(|b| b.0.as_ptr().addr()).collect();
        for b in &blocks {
            // SAFETY: a fresh block of class `C` has `layout(C)`'s size; nothing else uses it.
            unsafe { b.0.as_ptr().write_bytes(0xAB, layout(C).size()) };
        }
        free_elsewhere(C, blocks);
        // The spawner now gets those very blocks back, without the allocator.
        let again: Vec<Block> = (0..n).map(|_| Block(spawner.alloc(C))).collect();
        for b in &again {
            assert!(
                addrs.contains(&b.0.as_ptr().addr()),
                "every block freed on the other thread is reused"
            );
        }
        // Its cache, dropped with blocks still in it, hands them on (Miri: no leak).
        free_elsewhere(C, again);
        drop(spawner);
    }

    #[test]
    fn a_block_freed_to_the_allocator_is_not_pooled() {
        const C: usize = 5;
        let spawner = Cache::new();
        let a = spawner.alloc(C);
        // SAFETY: from `alloc(C)`, unused, freed once.
        unsafe { free_direct(C, a) };
        assert_eq!(BATCHES[C].load(Ordering::Relaxed), 0);
        assert!(spawner.0.borrow()[C].is_empty());
    }
}
