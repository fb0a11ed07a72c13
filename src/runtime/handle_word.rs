//! A `JoinHandle`'s target in one machine word.
//!
//! A handle holds either a goroutine's record (`Arc<G>`) or only its join cell (`gocell.rs`).
//! As an enum that took two words; a program that keeps a million handles in a `Vec` wrote
//! 16 MB for them, every page of it fresh memory that the spawning worker faults in
//! (`spawn_join_1m`). Both targets are pointers aligned to 8 bytes, so the low bit tells
//! them apart: set for a cell. The word owns what the [`Inner`] it was made from owned.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

use super::gocell;
use super::goroutine::{GRef, G};

/// What a handle holds: the goroutine's record, or (a `go` on a worker of the work-stealing
/// runtime) only its join cell, so that the record is recycled as the goroutine exits
/// (`gocell.rs`).
pub(crate) enum Inner {
    Record(ManuallyDrop<GRef>),
    Cell(gocell::Handle),
}

/// The low bit of a word that points at a cell.
const CELL: usize = 1;

/// An [`Inner`] in one word.
pub(crate) struct Word(NonNull<()>);

// SAFETY: a word owns exactly what its `Inner` owned, and `Inner` is `Send` and `Sync` (checked
// just below), so a word may go wherever an `Inner` may.
unsafe impl Send for Word {}
// SAFETY: as above.
unsafe impl Sync for Word {}

const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Inner>();
};

impl Word {
    /// The word for `inner`, which it now owns.
    pub(crate) fn new(inner: Inner) -> Word {
        let p = match inner {
            Inner::Record(g) => Arc::into_raw(ManuallyDrop::into_inner(g))
                .cast_mut()
                .cast::<()>(),
            Inner::Cell(h) => h.into_raw().map_addr(|a| a | CELL),
        };
        debug_assert!(!p.is_null());
        // SAFETY: both are pointers to live allocations (the tag only sets a bit), not null.
        Word(unsafe { NonNull::new_unchecked(p) })
    }

    /// The target, lent: the word still owns it, so the view must not be taken apart or
    /// dropped out of its `ManuallyDrop`.
    pub(crate) fn get(&self) -> ManuallyDrop<Inner> {
        // SAFETY: the word was made by `new`; wrapped in `ManuallyDrop`, the rebuilt `Inner`
        // gives nothing up when it goes.
        ManuallyDrop::new(unsafe { self.rebuild() })
    }

    /// The target, owned again.
    pub(crate) fn into_inner(self) -> Inner {
        let this = ManuallyDrop::new(self);
        // SAFETY: the word is consumed (never used or dropped again), so what it owned is
        // rebuilt once.
        unsafe { this.rebuild() }
    }

    /// # Safety
    /// The result owns the target: the caller rebuilds it once (`into_inner`), or keeps it
    /// from being dropped (`get`).
    unsafe fn rebuild(&self) -> Inner {
        let p = self.0.as_ptr();
        if p.addr() & CELL != 0 {
            // SAFETY: a tagged word came from `gocell::Handle::into_raw` (`new`); the caller's
            // contract makes this the only owning rebuild.
            Inner::Cell(unsafe { gocell::Handle::from_raw(p.map_addr(|a| a & !CELL)) })
        } else {
            // SAFETY: an untagged word came from `Arc::into_raw` of a `GRef` (`new`); as above.
            Inner::Record(ManuallyDrop::new(unsafe { Arc::from_raw(p.cast::<G>()) }))
        }
    }
}

#[cfg(test)]
mod tests {
    //! Without goroutines, so that Miri can check the tagging (`cargo +nightly miri test --lib
    //! handle_word::tests`).
    use super::*;
    use crate::runtime::cellpool;
    use std::panic::Location;

    #[test]
    fn a_cell_and_a_record_come_back_as_they_went_in() {
        let cache = cellpool::Cache::new();
        let (new, h) = gocell::new(&cache, 41, 1, Location::caller(), None, || 3u8);
        // The goroutine is dropped unrun: the handle sees it abandoned.
        drop(new);
        let w = Word::new(Inner::Cell(h));
        assert!(matches!(&*w.get(), Inner::Cell(c) if c.id() == 41));
        // A view lends: looking twice takes nothing away.
        assert!(matches!(&*w.get(), Inner::Cell(c) if c.id() == 41));
        let Inner::Cell(c) = w.into_inner() else {
            panic!("a cell came back as a record")
        };
        drop(c);

        let g: GRef = Arc::new(G::blank());
        let w = Word::new(Inner::Record(ManuallyDrop::new(g.clone())));
        assert!(matches!(&*w.get(), Inner::Record(r) if Arc::ptr_eq(r, &g)));
        assert_eq!(Arc::strong_count(&g), 2, "a view does not count");
        let Inner::Record(r) = w.into_inner() else {
            panic!("a record came back as a cell")
        };
        drop(ManuallyDrop::into_inner(r));
        assert_eq!(
            Arc::strong_count(&g),
            1,
            "the word's reference was given back once"
        );
    }
    #[test]
    fn a_handle_is_one_word() {
        assert_eq!(
            std::mem::size_of::<crate::JoinHandle<u64>>(),
            std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<Option<crate::JoinHandle<u64>>>(),
            std::mem::size_of::<usize>(),
            "the word is never null"
        );
    }
}
