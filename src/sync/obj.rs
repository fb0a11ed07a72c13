//! What every primitive here shares: [`Obj`], the lazily numbered object behind
//! scheduling-point events, whether the race detector is watching, and how wait queues lock.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor::{self, is_controlled};
use crate::runtime::hb::Key;

/// Lock a std mutex that guards a wait queue. Those locks are never held while user code runs,
/// so poisoning cannot leave them inconsistent: it is ignored.
pub(crate) fn lock_queue<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The identity of a primitive in scheduling-point events, assigned on first use by the
/// controlled executor (so that constructors stay `const` and the work-stealing executor never
/// pays for it).
#[derive(Default)]
pub(crate) struct Obj {
    /// The object id, 0 until assigned.
    id: AtomicU64,
    /// Operations on it logged by a recording run so far (its per-object order).
    seq: AtomicU64,
}

impl Obj {
    pub(crate) const fn new() -> Obj {
        Obj {
            id: AtomicU64::new(0),
            seq: AtomicU64::new(0),
        }
    }

    /// A scheduling point before `op` on this object. Returns true on the controlled executor
    /// (where callers also keep the bookkeeping that reports need).
    #[inline]
    pub(crate) fn point(&self, op: Op, site: &'static Location<'static>) -> bool {
        if !is_controlled() {
            if crate::record::on() {
                crate::record::point(op, self.id(), Some(&self.seq));
            }
            return false;
        }
        self.point_controlled(Event::new(op, self.id(), site));
        true
    }

    /// [`point`](Obj::point) for a caller that has just checked that it runs on the controlled
    /// executor (a mutex's out-of-line controlled path): no second check, and no trampoline.
    #[inline]
    pub(crate) fn point_controlled_known(&self, op: Op, site: &'static Location<'static>) {
        executor::sched_point(Event::new(op, self.id(), site));
    }

    /// A scheduling point before an `op` that may block: `would_block` says, at any decision
    /// while the goroutine waits at this point, whether it would (see `verdict::probe`).
    #[inline]
    pub(crate) fn point_probe(
        &self,
        op: Op,
        site: &'static Location<'static>,
        would_block: &dyn Fn() -> bool,
    ) -> bool {
        if !is_controlled() {
            if crate::record::on() {
                crate::record::point(op, self.id(), Some(&self.seq));
            }
            return false;
        }
        executor::sched_point_probe(Event::new(op, self.id(), site), &would_block);
        true
    }

    /// A scheduling point before an atomic `op` with `ordering`.
    #[inline]
    pub(crate) fn atomic_point(
        &self,
        op: Op,
        ordering: Ordering,
        site: &'static Location<'static>,
    ) -> bool {
        if !is_controlled() {
            if crate::record::on() {
                crate::record::point(op, self.id(), Some(&self.seq));
            }
            return false;
        }
        self.point_controlled(Event::atomic(op, self.id(), ordering, site));
        true
    }

    /// Log `op` on this object in a recording run (call only when `record::on()`), for
    /// operations whose work-stealing path does not go through [`point`](Obj::point).
    #[cold]
    #[inline(never)]
    pub(crate) fn record(&self, op: Op) {
        crate::record::point(op, self.id(), Some(&self.seq));
    }

    #[cold]
    fn point_controlled(&self, ev: Event) {
        executor::sched_point(ev);
    }

    /// The race detector's key for the whole object.
    #[inline]
    pub(crate) fn key(&self) -> Key {
        Key::Object(self.id().0)
    }

    /// The race detector's key for part `n` of the object (a lock's reader or writer side).
    pub(crate) fn part(&self, n: u64) -> Key {
        Key::Part(self.id().0, n)
    }

    /// The object id (assigning one if needed).
    #[inline]
    pub(crate) fn id(&self) -> ObjId {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return ObjId(id);
        }
        let fresh = executor::new_object_id().0;
        match self
            .id
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => ObjId(fresh),
            Err(won) => ObjId(won),
        }
    }
}

/// True where the race detector may be watching, so happens-before edges must be reported:
/// the controlled executor (`controlled`, as returned by [`Obj::point`]), and the
/// work-stealing executor built with the `race` feature. Elsewhere the edge hooks are skipped
/// before they cost anything.
#[inline(always)]
pub(crate) fn watched(controlled: bool) -> bool {
    controlled || cfg!(feature = "race")
}
