//! Memory for `go`'s join cells (`gocell.rs`), by size class: carved from slabs, recycled
//! through per-thread lists and a global list, never handed back.
//!
//! A detached `go` (`go(f);` with the handle dropped at once, or `wg.go(f)`) allocates its cell
//! on the spawning worker, and the cell is freed by whichever worker starts the goroutine: in a
//! spawn loop that is nearly always the other one. glibc puts such a block back into the
//! allocating thread's arena (its fast bins), and every step of heap growth (`arena.rs`) then
//! consolidates all of them: the cell's `malloc` cost ~230 instructions and its `free` ~120
//! (callgrind, `spawn_waitgroup_1m`), a sixth of the whole goroutine. Even without that, a
//! fresh small `malloc` costs glibc ~200 instructions when its caches are empty, which they
//! are while a spawner outruns the workers (`spawn_join_1m` keeps a million cells).
//!
//! Here, as Go's `gfget`/`gfput` do for dead `g`s: a spawning worker takes blocks from its own
//! cache ([`Cache`]), refilled with batches from a global list, or else carves a new one from
//! a slab of [`SLAB_BYTES`] (a pointer bump); a freed block goes to the freeing thread's list,
//! and from there in batches to the global list. Blocks are never handed back to the
//! allocator: what a burst of cells used stays for the next burst (Go never frees its `g`s
//! either). The slabs are faulted in by one system call each (`arena::populate`).
//!
//! Invariants:
//! - A block of class `c` is [`stride`]`(c)` bytes inside a slab, 16-byte aligned, and holds
//!   nothing alive while it is in a list or a slab's uncarved tail: a list owns its blocks, and
//!   a block leaves a list only by `alloc`, to one caller.
//! - Slabs are never freed, so a block stays valid memory for the life of the process.

use std::alloc::Layout;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Size classes: class `c` holds values of up to `MIN_BYTES + 16 * c` bytes, in blocks of
/// [`stride`]`(c)`: the same 16-byte steps as glibc's chunks. `MIN_BYTES` holds the cell of a
/// closure and a result of up to 8 bytes each (a 56-byte header and its slot).
const MIN_BYTES: usize = 64;
/// Classes kept; a larger cell is allocated and freed as it comes.
const CLASSES: usize = 12;
/// Blocks a freeing thread collects per class before moving them, as a batch, to the global
/// list.
const BATCH: usize = 64;
/// Alignment of every block.
const ALIGN: usize = 16;
/// Bytes of a slab: `arena`'s step (below glibc's thresholds for mapping a block on its own
/// and for consolidating on free).
const SLAB_BYTES: usize = super::arena::STEP;

/// Blocks of one class, linked through their first word (a free block holds nothing else):
/// keeping a block costs no memory besides its own.
struct List {
    head: *mut u8,
    len: usize,
}

// SAFETY: a list owns its blocks, plain memory (module invariants); it carries no value whose
// thread could matter.
unsafe impl Send for List {}

impl List {
    const EMPTY: List = List {
        head: std::ptr::null_mut(),
        len: 0,
    };

    /// Add block `p`, which holds nothing and belongs to nobody else.
    #[inline]
    fn push(&mut self, p: NonNull<u8>) {
        // SAFETY: a block is at least 16-byte aligned and larger than a pointer, and nothing
        // else uses it (the caller's contract).
        unsafe { p.as_ptr().cast::<*mut u8>().write(self.head) };
        self.head = p.as_ptr();
        self.len += 1;
    }

    /// Take a block.
    #[inline]
    fn pop(&mut self) -> Option<NonNull<u8>> {
        let p = NonNull::new(self.head)?;
        // SAFETY: a listed block's first word links to the next one (written by `push`).
        self.head = unsafe { p.as_ptr().cast::<*mut u8>().read() };
        self.len -= 1;
        Some(p)
    }
}

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

/// Bytes between two blocks of class `c` in a slab: the class's largest value, rounded up to
/// the alignment.
pub(crate) const fn stride(c: usize) -> usize {
    (MIN_BYTES + 16 * c).next_multiple_of(ALIGN)
}

/// One thread's freed blocks, per class, until they make a batch for the global list.
struct Local([List; CLASSES]);

impl Drop for Local {
    fn drop(&mut self) {
        // A thread that ends hands its blocks on (another runtime may start soon).
        for (c, l) in self.0.iter_mut().enumerate() {
            hand_on(c, l);
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local([List::EMPTY; CLASSES])) };
}

/// Batches of blocks per class.
static GLOBAL: [Mutex<Vec<List>>; CLASSES] = [const { Mutex::new(Vec::new()) }; CLASSES];

/// How many batches `GLOBAL[c]` holds (written under its lock), so that a thread whose own
/// list is empty does not take the lock only to find the global one empty too: a spawner that
/// outruns the workers takes every cell from a slab.
static BATCHES: [AtomicUsize; CLASSES] = [const { AtomicUsize::new(0) }; CLASSES];

/// A spawning worker's blocks, per class: refilled with whole batches from the global list
/// (blocks that the threads starting or joining goroutines freed), so that taking a block
/// costs the spawner a field access, no thread-local look-up; and the slab it carves new
/// blocks from. Dropped with its worker: its blocks go to the global list.
pub(crate) struct Cache(RefCell<CacheClasses>);

/// What a [`Cache`] holds for each class.
struct CacheClasses {
    /// Blocks to reuse.
    free: [List; CLASSES],
    /// The next uncarved block of the current slab, and the bytes left after it.
    bump: [(*mut u8, usize); CLASSES],
}

impl Cache {
    /// An empty cache.
    pub(crate) const fn new() -> Cache {
        Cache(RefCell::new(CacheClasses {
            free: [List::EMPTY; CLASSES],
            bump: [(std::ptr::null_mut(), 0); CLASSES],
        }))
    }

    /// A block for a value of class `c` (from `class_of`): recycled if one is at hand, else
    /// carved from a slab.
    #[inline]
    pub(crate) fn alloc(&self, c: usize) -> NonNull<u8> {
        let mut l = self.0.borrow_mut();
        let l = &mut *l;
        if let Some(b) = l.free[c].pop() {
            return b;
        }
        if BATCHES[c].load(Ordering::Relaxed) != 0 {
            if let Some(b) = refill(c, &mut l.free[c]) {
                return b;
            }
        }
        let (next, left) = &mut l.bump[c];
        let size = stride(c);
        if *left < size {
            (*next, *left) = (new_slab(), SLAB_BYTES);
        }
        let p = *next;
        // SAFETY: `p` and the `size` bytes after it lie in the current slab (`left` says so),
        // so the pointer one stride on is in it or one past its end.
        *next = unsafe { p.add(size) };
        *left -= size;
        // SAFETY: a slab's address is not null, nor anything inside it.
        unsafe { NonNull::new_unchecked(p) }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // The slabs' uncarved tails are given up (a few KiB per class that carved any).
        for (c, l) in self.0.get_mut().free.iter_mut().enumerate() {
            hand_on(c, l);
        }
    }
}

/// A new slab, faulted in: aligned to a cache line (so a block of the smallest class, the
/// cell of a small closure, is exactly one line), never freed.
#[cold]
fn new_slab() -> *mut u8 {
    let layout = Layout::from_size_align(SLAB_BYTES, 64).expect("a valid layout");
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    super::arena::populate(p);
    p
}

/// Refill an empty list with a batch from the global list; one block of it.
#[cold]
fn refill(c: usize, l: &mut List) -> Option<NonNull<u8>> {
    let mut global = GLOBAL[c].lock().unwrap_or_else(|p| p.into_inner());
    let batch = global.pop()?;
    BATCHES[c].store(global.len(), Ordering::Relaxed);
    drop(global);
    *l = batch;
    l.pop()
}

/// Move a list's blocks to the global list (as one batch).
fn hand_on(c: usize, l: &mut List) {
    let l = std::mem::replace(l, List::EMPTY);
    if l.len > 0 {
        give(c, l);
    }
}

/// Give back block `p` of class `c`, for reuse by whichever thread allocates next.
///
/// # Safety
/// `p` came from `Cache::alloc(c)`, holds nothing alive any more, and is not used again.
#[inline]
pub(crate) unsafe fn free(c: usize, p: NonNull<u8>) {
    let full = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return Err(());
        };
        let l = &mut l.0[c];
        l.push(p);
        Ok((l.len >= BATCH).then(|| std::mem::replace(l, List::EMPTY)))
    });
    match full {
        Ok(Ok(None)) => {}
        Ok(Ok(Some(batch))) => give(c, batch),
        // The thread is ending (its list is gone, or busy being handed on): straight to the
        // global list.
        Ok(Err(())) | Err(_) => {
            let mut one = List::EMPTY;
            one.push(p);
            give(c, one);
        }
    }
}

/// Move a batch to the global list.
#[cold]
fn give(c: usize, batch: List) {
    let mut global = GLOBAL[c].lock().unwrap_or_else(|p| p.into_inner());
    global.push(batch);
    BATCHES[c].store(global.len(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    //! The pool without goroutines (so Miri can check it: `cargo +nightly miri test --lib
    //! cellpool::tests`).
    use super::*;

    #[test]
    fn classes_round_up_to_whole_heap_chunks() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(56, 8)), Some(0));
        assert_eq!(class_of(l(64, 8)), Some(0));
        assert_eq!(class_of(l(65, 8)), Some(1));
        assert_eq!(class_of(l(80, 16)), Some(1));
        let largest = MIN_BYTES + 16 * (CLASSES - 1);
        assert_eq!(class_of(l(largest, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(l(largest + 1, 8)), None, "too large: not pooled");
        assert_eq!(class_of(l(96, 32)), None, "over-aligned: not pooled");
        for c in 0..CLASSES {
            assert!(stride(c) >= MIN_BYTES + 16 * c && stride(c).is_multiple_of(ALIGN));
        }
    }

    /// A block, sendable to another thread (plain memory, see `List`).
    struct Block(NonNull<u8>);
    // SAFETY: as for `List`.
    unsafe impl Send for Block {}

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
    fn carved_blocks_are_aligned_and_apart() {
        // A class no other test uses.
        const C: usize = 5;
        let cache = Cache::new();
        // More than a slab holds, so that a second slab is carved.
        let n = SLAB_BYTES / stride(C) + 3;
        let blocks: Vec<Block> = (0..n).map(|_| Block(cache.alloc(C))).collect();
        let mut addrs: Vec<usize> = blocks.iter().map(|b| b.0.as_ptr().addr()).collect();
        for b in &blocks {
            assert_eq!(b.0.as_ptr().addr() % ALIGN, 0);
            // SAFETY: a block has `stride(C)` bytes of its own (checked just below by the
            // distances), and nothing else uses it.
            unsafe { b.0.as_ptr().write_bytes(0xCD, stride(C)) };
        }
        addrs.sort_unstable();
        assert!(addrs.windows(2).all(|w| w[1] - w[0] >= stride(C)));
        free_elsewhere(C, blocks);
    }

    #[test]
    fn a_block_freed_on_another_thread_is_reused_by_the_spawner() {
        // A class no other test uses, so that the global list holds only this test's batches.
        const C: usize = 7;
        let spawner = Cache::new();
        // Whole batches go to the global list as the other thread frees them, the partial
        // one when it ends.
        let n = 3 * BATCH + 5;
        let blocks: Vec<Block> = (0..n).map(|_| Block(spawner.alloc(C))).collect();
        let addrs: Vec<usize> = blocks.iter().map(|b| b.0.as_ptr().addr()).collect();
        for b in &blocks {
            // SAFETY: a block of class `C` has `stride(C)` bytes; nothing else uses it.
            unsafe { b.0.as_ptr().write_bytes(0xAB, stride(C)) };
        }
        free_elsewhere(C, blocks);
        // The spawner now gets those very blocks back, none carved anew.
        let again: Vec<Block> = (0..n).map(|_| Block(spawner.alloc(C))).collect();
        for b in &again {
            assert!(
                addrs.contains(&b.0.as_ptr().addr()),
                "every block freed on the other thread is reused"
            );
        }
        // Its cache, dropped with blocks still in it, hands them on.
        free_elsewhere(C, again);
        drop(spawner);
        assert!(BATCHES[C].load(Ordering::Relaxed) >= n / BATCH);
        let listed: usize = GLOBAL[C].lock().unwrap().iter().map(|l| l.len).sum();
        assert_eq!(listed, n, "every block is back in the global list once");
    }
}
