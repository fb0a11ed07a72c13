//! The spawn slot: a worker's newest unstarted goroutine, which thieves leave alone for
//! [`PROTECT`] (Go's `runnext` for `newproc`, tokio's LIFO slot).
//!
//! A started goroutine never changes worker, so where a goroutine first runs decides the cost
//! of every later hand-off with its spawner. A spawner that blocks soon after `go` (a ping-pong
//! partner, a pipeline stage, a request and its reply) should run its child itself; a spawner
//! that keeps running should let an idle worker take it. The slot gives both: the owner runs
//! the slot before its other queues, and a thief takes it only once it has waited
//! [`PROTECT`] (Go's `runqgrab` sleeps 3 µs before it steals `runnext` for the same reason;
//! Go can afford less, because its goroutines move later and ours cannot).
//!
//! A recorded run (`record::run`, `record::stress`, `GOWEAVE_RECORD=1`) waits only
//! [`PROTECT_RECORDED`]: those runs are there to make bugs happen, and a bug between a
//! spawner and its child needs them on two workers at once (the overdraw of
//! `tests/record_replay.rs` never happened in 2,000 stressed runs with 50 µs). Go's race mode
//! shakes its scheduler the same way: it randomly keeps a new goroutine out of `runnext`.
//! A burst of spawns keeps only the newest here; each spawn moves the previous one to the
//! stealable deque, so fan-out is unchanged.
//!
//! Invariants:
//! - `ptr` is null or owns one unstarted goroutine (made by `New::into_raw`: a record's
//!   reference or a `go`'s cell); whoever swaps or compare-exchanges a non-null pointer out of
//!   it owns that. Only the owning worker puts; the owner and thieves take.
//! - The age of a goroutine in the slot is measured by the thieves, not the owner, so that
//!   `go` reads no clock: a thief notes when it first saw a given pointer there
//!   ([`Sighting`]) and takes it once the same pointer has been there for the protection time
//!   ([`PROTECT`], or [`PROTECT_RECORDED`]). (A record recycled to the same address in
//!   between only makes a theft early, never unsound: the exchange hands over whatever
//!   reference the slot holds at that moment.)

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use crate::runtime::gocell::New;

/// How long a freshly spawned goroutine is left to its spawner before a thief may take it:
/// as long as [`DEQUE_PATIENCE`], so that a thief leaves every new goroutine alone for the
/// same time.
///
/// It covers a cold spawner. In a fresh process, from `go` to the spawner's first park (its
/// first send on a new channel, on code and stacks touched for the first time) took 25-80
/// us (`oneshot pingpong_unbuffered_1m`: the partner first ran 44-127 us after `go` began,
/// median 69, and `go` itself took 21-60 us before the goroutine reached the slot; 100
/// processes). With 4 us a thief took the ping-pong partner for good in 3 of about 530
/// fresh processes (round trips 9x slower); with 50 us in 1 of about 930, and the `select2`
/// sender in 1 of about 320, both in one run where `go` to the first hand-off took 260-310
/// us; a started goroutine never moves. A fan-out is not slowed: its earlier children are in
/// the deque, and only the newest waits here.
pub(crate) const PROTECT: Duration = DEQUE_PATIENCE;

/// [`PROTECT`] in a recorded run (see the module doc).
pub(crate) const PROTECT_RECORDED: Duration = Duration::from_micros(4);

/// How long a thief waits, once it sees a victim's deque non-empty, before it steals from it
/// (unless it saw it non-empty all along, as in a fan-out, where it steals at once).
///
/// A spawner that starts a few goroutines and then talks to them (a `select!` over several
/// senders) starts them all itself as soon as it parks (`WorkerCtx::note_park`), and before
/// that, one every [`LOCAL_EVERY`] scheduling decisions. A started goroutine never moves, and
/// one started elsewhere costs a wake-up of another thread for every message, for the rest of
/// its life; a thief that waits too long only delays a fan-out once. So the patience covers a
/// cold start, not a warm one: in a fresh process, from the second `go` of `select4`'s burst
/// to the last of its senders' starts took 40-90 us (the first run of each goroutine, on a
/// new stack, is slow), and with 10 us a thief took senders from the burst in about one
/// fresh process in 20 (issue 19). With 100 us it took none in 90, and the fan-out of
/// `fib20_fanout_100k` still splits its goroutines evenly (49.7k/50.3k).
pub(crate) const DEQUE_PATIENCE: Duration = Duration::from_micros(100);

/// See [`DEQUE_PATIENCE`].
pub(crate) const LOCAL_EVERY: u32 = 16;

/// Since when (ns) one thief has seen one victim's deque non-empty without a break; 0: it was
/// empty when last looked at.
#[derive(Default)]
pub(crate) struct DequeSighting(pub(crate) Cell<u64>);

impl DequeSighting {
    /// May a thief that sees the deque non-empty at `now` steal from it?
    pub(crate) fn ripe(&self, now: u64) -> bool {
        let first = self.0.get();
        if first == 0 {
            self.0.set(now.max(1));
            return false;
        }
        now.saturating_sub(first) >= DEQUE_PATIENCE.as_nanos() as u64
    }
}

/// One worker's spawn slot.
pub(crate) struct Slot {
    /// See the module invariants.
    ptr: AtomicPtr<()>,
}

/// What one thief last saw in one victim's slot: the pointer and when (ns).
#[derive(Default)]
pub(crate) struct Sighting(Cell<(usize, u64)>);

impl Slot {
    pub(crate) fn new() -> Slot {
        Slot {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The owner puts its newest goroutine; returns the one it displaces.
    #[inline]
    pub(crate) fn put(&self, g: New) -> Option<New> {
        let old = self.ptr.swap(g.into_raw(), Ordering::AcqRel);
        // SAFETY: a non-null pointer in the slot owns what `into_raw` gave up (module
        // invariant); the swap moved that ownership to us.
        (!old.is_null()).then(|| unsafe { New::from_raw(old) })
    }

    /// The owner takes the slot's goroutine.
    #[inline]
    pub(crate) fn take(&self) -> Option<New> {
        if self.ptr.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let old = self.ptr.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `put`.
        (!old.is_null()).then(|| unsafe { New::from_raw(old) })
    }

    /// True if a goroutine is in the slot.
    #[inline]
    pub(crate) fn is_occupied(&self) -> bool {
        !self.ptr.load(Ordering::SeqCst).is_null()
    }

    /// A thief takes the slot's goroutine if `seen` shows that the same one has been there
    /// `protect` ns by `now()` (ns); otherwise it notes what it saw.
    pub(crate) fn steal(
        &self,
        seen: &Sighting,
        protect: u64,
        now: impl FnOnce() -> u64,
    ) -> Option<New> {
        let p = self.ptr.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        let t = now();
        let (before, at) = seen.0.get();
        if before != p as usize {
            seen.0.set((p as usize, t));
            return None;
        }
        if t.saturating_sub(at) < protect {
            return None;
        }
        seen.0.set((0, 0));
        self.ptr
            .compare_exchange(p, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            // SAFETY: as in `put`; the exchange moved the slot's reference to us.
            .map(|p| unsafe { New::from_raw(p) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::executor::ExecKind;
    use crate::runtime::goroutine::{self, G};

    fn unstarted() -> New {
        New::record(G::new(
            1,
            None,
            std::panic::Location::caller(),
            0,
            ExecKind::Steal(0),
            &mut goroutine::boxed(Box::new(|| {})),
            64 * 1024,
            false,
        ))
    }

    #[test]
    fn a_thief_waits_until_the_same_goroutine_has_aged() {
        let slot = Slot::new();
        let seen = Sighting::default();
        let us = PROTECT.as_nanos() as u64;
        assert!(slot.steal(&seen, us, || 0).is_none(), "empty");
        assert!(slot.put(unstarted()).is_none());
        assert!(slot.is_occupied());
        // First sighting, then still too young: left to the owner.
        assert!(slot.steal(&seen, us, || 1_000).is_none());
        assert!(slot.steal(&seen, us, || 1_000 + us - 1).is_none());
        // The owner replaces it: the new one's age starts at the next sighting.
        let old = slot
            .put(unstarted())
            .expect("the displaced goroutine comes back");
        drop(old);
        assert!(slot.steal(&seen, us, || 1_000 + us).is_none());
        assert!(slot.steal(&seen, us, || 1_000 + 2 * us).is_some());
        assert!(!slot.is_occupied());
        assert!(slot.take().is_none());
    }

    #[test]
    fn a_deque_is_ripe_after_the_patience_without_a_break() {
        let seen = DequeSighting::default();
        let p = DEQUE_PATIENCE.as_nanos() as u64;
        assert!(!seen.ripe(100), "first sighting");
        assert!(!seen.ripe(100 + p - 1));
        assert!(seen.ripe(100 + p));
        assert!(
            seen.ripe(100 + 2 * p),
            "stays ripe while it stays non-empty"
        );
        // Seen empty: the next sighting starts the wait again.
        seen.0.set(0);
        assert!(!seen.ripe(100 + 3 * p));
        assert!(seen.ripe(100 + 4 * p));
    }

    #[test]
    fn the_owner_takes_at_once() {
        let slot = Slot::new();
        slot.put(unstarted());
        assert!(slot.take().is_some());
        assert!(slot.take().is_none());
    }
}
