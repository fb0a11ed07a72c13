//! A `JoinHandle`'s target in one machine word.
//!
//! A handle holds either a goroutine's record or only its join cell ([`Joinable`]). As an
//! enum that took two words; a program that keeps a million handles in a `Vec` wrote 16 MB
//! for them, every page of it fresh memory that the spawning worker faults in
//! (`spawn_join_1m`). The word is tagged as a run queue's `New` is (`gocell.rs`), and owns
//! what the `Joinable` it was made from owned.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use super::gocell::Joinable;

/// A [`Joinable`] in one word, never null.
pub(crate) struct Word(NonNull<()>);

// SAFETY: a word owns exactly what its `Joinable` owned, and `Joinable` is `Send` and `Sync`
// (checked just below), so a word may go wherever a `Joinable` may.
unsafe impl Send for Word {}
// SAFETY: as above.
unsafe impl Sync for Word {}

const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Joinable>();
};

impl Word {
    /// The word for `target`, which it now owns.
    pub(crate) fn new(target: Joinable) -> Word {
        let p = target.into_raw();
        debug_assert!(!p.is_null());
        // SAFETY: the word of a record or a cell points into a live allocation: not null.
        Word(unsafe { NonNull::new_unchecked(p) })
    }

    /// The target, lent: the word still owns it, so the view must not be taken apart or
    /// dropped out of its `ManuallyDrop`.
    pub(crate) fn get(&self) -> ManuallyDrop<Joinable> {
        // SAFETY: the word came from `Joinable::into_raw`; wrapped in `ManuallyDrop`, the
        // rebuilt target gives nothing up when it goes.
        ManuallyDrop::new(unsafe { Joinable::from_raw(self.0.as_ptr()) })
    }

    /// The target, owned again.
    pub(crate) fn into_inner(self) -> Joinable {
        // SAFETY: the word came from `Joinable::into_raw` and is consumed here (it has no
        // drop of its own), so what it owned is rebuilt once.
        unsafe { Joinable::from_raw(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    //! Without goroutines, so that Miri can check the tagging (`cargo +nightly miri test --lib
    //! handle_word::tests`).
    use super::*;
    use crate::runtime::cellpool;
    use crate::runtime::gocell;
    use crate::runtime::goroutine::{GRef, G};
    use std::panic::Location;
    use std::sync::Arc;

    #[test]
    fn a_cell_and_a_record_come_back_as_they_went_in() {
        let cache = cellpool::Cache::new();
        let (new, h) = gocell::new(&cache, 41, 1, Location::caller(), None, || 3u8);
        // The goroutine is dropped unrun: the handle sees it abandoned.
        drop(new);
        let w = Word::new(Joinable::Cell(h));
        assert!(matches!(&*w.get(), Joinable::Cell(c) if c.id() == 41));
        // A view lends: looking twice takes nothing away.
        assert!(matches!(&*w.get(), Joinable::Cell(c) if c.id() == 41));
        let Joinable::Cell(c) = w.into_inner() else {
            panic!("a cell came back as a record")
        };
        drop(c);

        let g: GRef = Arc::new(G::blank());
        let w = Word::new(Joinable::Record(g.clone()));
        assert!(matches!(&*w.get(), Joinable::Record(r) if Arc::ptr_eq(r, &g)));
        assert_eq!(Arc::strong_count(&g), 2, "a view does not count");
        let Joinable::Record(r) = w.into_inner() else {
            panic!("a record came back as a cell")
        };
        drop(r);
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
