//! Growing the allocator's heap in large steps while goroutine records pile up.
//!
//! A program that keeps many goroutine records alive at once (1M `JoinHandle`s held in a
//! `Vec`, or 1M goroutines parked) allocates them one after another on one worker thread.
//! glibc serves a worker thread from an arena of its own, and such an arena grows its heap by
//! exactly what the allocation needs, rounded up to a page: one `mprotect` system call per
//! 4 KiB, that is one every 12 records (81,864 calls, a quarter of the process's system time,
//! for 1M spawns with their handles kept). Allocating and at once freeing one block of
//! `STEP` bytes before every `EVERY` fresh records grows the heap by that much in one call; the
//! freed block merges back into the top of the heap, and the records that follow are carved
//! from it without a system call (a tenth of the calls). The block stays below glibc's
//! thresholds for mapping a block on its own (128 KiB) and for trimming and consolidating on
//! free (64 KiB), so the step never turns into an `mmap` or into a trim that would undo it.
//!
//! The step is also faulted in at once (`MADV_POPULATE_WRITE`): one system call instead of a
//! trap per page when the records are first written (perf counted 88k page-fault traps for
//! those 1M spawns, 15k with this).
//!
//! Other allocators, and glibc's main arena (grown with `brk`, padded by 128 KiB already), see
//! one allocation and one free of a medium block now and then, which costs them little.

use std::alloc::{alloc, dealloc, Layout};
use std::cell::Cell;

/// Bytes the heap grows by at a time: below 64 KiB, see the module docs.
pub(crate) const STEP: usize = 60 * 1024;
/// Bytes of fresh records or `go` cells (`gocell.rs`) carved between two steps: 128 records
/// of 304 bytes (336 with the allocator's and the reference counts' headers) take 42 KiB,
/// within one step.
const EVERY_BYTES: usize = 42 * 1024;

/// A record's share of a step.
const RECORD_BYTES: usize = 336;

thread_local! {
    /// Bytes of fresh records and cells allocated on this thread since the last step.
    static FRESH: Cell<usize> = const { Cell::new(0) };
}

/// Called before allocating a fresh goroutine record (none could be reused).
#[inline]
pub(crate) fn before_fresh_record() {
    before_fresh(RECORD_BYTES);
}

/// Called before allocating `bytes` that will likely stay alive a while (a goroutine record,
/// a `go`'s cell): every `EVERY_BYTES` of them, the heap grows by a step.
#[inline]
pub(crate) fn before_fresh(bytes: usize) {
    let n = FRESH.try_with(|c| {
        let n = c.get();
        c.set(if n + bytes >= EVERY_BYTES {
            0
        } else {
            n + bytes
        });
        n
    });
    if n == Ok(0) {
        grow();
    }
}

#[cold]
#[inline(never)]
fn grow() {
    let layout = Layout::from_size_align(STEP, 16).expect("a valid layout");
    // SAFETY: the layout has a non-zero size; the block is freed with the same layout, and
    // nothing reads or writes it in between.
    unsafe {
        // `black_box`: the compiler may otherwise remove an allocation that is never used.
        let p = std::hint::black_box(alloc(layout));
        if !p.is_null() {
            populate(p);
            dealloc(p, layout);
        }
    }
}

/// Fault in the whole pages of the block `p` (of `STEP` bytes) with one system call, where the
/// records that follow would each fault a page on first write (a trap and a page walk per
/// 4 KiB). Linux 5.14+; elsewhere, or if refused, the pages fault in one by one as before.
/// Not under Miri, which has no `madvise`.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn populate(p: *mut u8) {
    const PAGE: usize = 4096;
    let start = (p as usize).next_multiple_of(PAGE);
    let end = (p as usize + STEP) & !(PAGE - 1);
    if end > start {
        // SAFETY: `[start, end)` lies inside the block just allocated, which nothing else refers
        // to; populating writes nothing (the pages read as before: whatever the allocator left).
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end - start,
                libc::MADV_POPULATE_WRITE,
            )
        };
    }
}

#[cfg(any(not(target_os = "linux"), miri))]
pub(crate) fn populate(_: *mut u8) {}

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;

    /// Pages of `[p, p + len)` resident now (`mincore`).
    fn resident(p: *mut u8, len: usize) -> usize {
        let mut v = vec![0u8; len.div_ceil(4096)];
        // SAFETY: `[p, p + len)` is one mapping of ours, page-aligned; `v` has a byte per page.
        let rc = unsafe { libc::mincore(p.cast(), len, v.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        v.iter().filter(|&&b| b & 1 != 0).count()
    }

    #[test]
    fn populate_faults_in_every_whole_page_of_the_block_at_once() {
        // A fresh mapping, so that nothing is resident before: the allocator's heap may be.
        let len = STEP + 4096;
        // SAFETY: an anonymous private mapping; unmapped below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let p = p.cast::<u8>();
        assert_eq!(resident(p, len), 0, "a fresh mapping has no page yet");
        // A block that starts 16 bytes into a page, as an allocator's would: its first and
        // last partial pages are left alone.
        // SAFETY: within the mapping.
        let block = unsafe { p.add(16) };
        populate(block);
        let whole = STEP / 4096 - 1;
        let got = resident(p, len);
        // Does this kernel populate at all (5.14+)? Asked of the last page, which `populate`
        // left alone.
        let last = p.wrapping_add(len - 4096).cast();
        // SAFETY: `last` is the last page of the mapping made above.
        let supported = unsafe { libc::madvise(last, 4096, libc::MADV_POPULATE_WRITE) } == 0;
        // SAFETY: the mapping made above.
        unsafe { libc::munmap(p.cast(), len) };
        if supported {
            assert_eq!(got, whole, "every whole page of the block, and only those");
        } else {
            assert_eq!(got, 0, "nothing populated where the kernel cannot");
        }
    }
}
