//! The strategy's shadow of the locks of a schedule: who holds each one, as far as the
//! schedule's events show (see "Blocking is enabledness" in [`super`]).
//!
//! A program holds a handful of locks, and the shadow is copied into every decision's
//! snapshot ([`super::Snap`]) and back: a short vector, searched linearly, costs far less to
//! copy than a hash map (whose `clone_from` was a measurable share of a schedule's cost).

/// One lock: held for writing, and by how many readers.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(super) struct LockShadow {
    pub writer: bool,
    pub readers: u32,
}

/// Every lock the schedule's events named so far, by object id, in the order first seen.
#[derive(Clone, Default, Debug)]
pub(super) struct Locks {
    v: Vec<(u64, LockShadow)>,
}

impl Locks {
    /// Lock `o`'s shadow, made (not held) if it has none yet.
    pub fn entry(&mut self, o: u64) -> &mut LockShadow {
        let i = match self.v.iter().position(|&(k, _)| k == o) {
            Some(i) => i,
            None => {
                self.v.push((o, LockShadow::default()));
                self.v.len() - 1
            }
        };
        &mut self.v[i].1
    }

    /// Lock `o`'s shadow, if the schedule named it.
    pub fn get(&self, o: u64) -> Option<LockShadow> {
        self.v.iter().find(|&&(k, _)| k == o).map(|&(_, l)| l)
    }

    pub fn clear(&mut self) {
        self.v.clear();
    }

    /// Become a copy of `other`, reusing this one's allocation.
    pub fn copy_from(&mut self, other: &Locks) {
        self.v.clone_from(&other.v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_object_and_copies_are_independent() {
        let mut a = Locks::default();
        a.entry(7).writer = true;
        a.entry(3).readers = 2;
        a.entry(7).readers = 1;
        assert_eq!(
            a.get(7),
            Some(LockShadow {
                writer: true,
                readers: 1
            })
        );
        assert_eq!(a.get(3).map(|l| (l.writer, l.readers)), Some((false, 2)));
        assert_eq!(a.get(5), None);
        let mut b = Locks::default();
        b.entry(1).writer = true;
        b.copy_from(&a);
        assert_eq!(b.get(1), None);
        b.entry(3).readers = 0;
        assert_eq!(a.get(3).map(|l| l.readers), Some(2));
        a.clear();
        assert_eq!(a.get(7), None);
        assert_eq!(b.get(7).map(|l| l.writer), Some(true));
    }
}
