//! The dependence relation: which object each transition touches, and how.
//!
//! A transition's *accesses* are the keys it reads or writes. Two transitions of different
//! goroutines are dependent when one of them writes a key the other touches; otherwise they
//! commute (swapping them yields the same states). The table is in the module doc of
//! [`super`]; this file is that table in code, next to the few pairs of operations that race
//! but cannot be reversed.

use crate::verdict::{Event, ObjId, Op};

/// What a transition touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Key {
    /// A synchronisation object, atomic or `RaceCell` (not a channel).
    Obj(u64),
    /// A channel.
    Chan(u64),
    /// Every channel at once: a `select!`, whose event does not name its channels.
    AnyChan,
    /// A goroutine's completion (written by its exit, read by `join`).
    Done(u64),
    /// The timer heap (arming, stopping and resetting timers; time passing).
    Timers,
    /// Everything: an operation goweave does not classify, and time passing (timer callbacks
    /// may touch anything). Not [`Key::Yield`], which is the scheduler's, not the program's.
    All,
    /// The scheduler's yield flag (see "Yields" in [`super`]): a transition after which its
    /// goroutine yielded sets it (`w`); every transition clears it (`r`: clearing an unset
    /// flag and clearing it again commute with each other, not with setting it).
    Yield,
}

/// Why a transition touches a key (for the pairs that race but cannot be reversed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Act {
    /// The operation of an event.
    Op(Op),
    /// The goroutine finished.
    Exit,
    /// The transition woke a goroutine parked on the key.
    Wake,
    /// Time passed.
    Time,
    /// The goroutine yielded at the end of the transition, or any transition cleared that
    /// flag.
    Yield,
}

/// One access of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Acc {
    pub key: Key,
    pub write: bool,
    pub act: Act,
}

impl Acc {
    fn w(key: Key, op: Op) -> Acc {
        Acc {
            key,
            write: true,
            act: Act::Op(op),
        }
    }
    fn r(key: Key, op: Op) -> Acc {
        Acc {
            key,
            write: false,
            act: Act::Op(op),
        }
    }

    /// Time passing: dependent with everything.
    pub fn time() -> Acc {
        Acc {
            key: Key::All,
            write: true,
            act: Act::Time,
        }
    }

    /// The transition ends with its goroutine yielding: the next decision does not offer
    /// it while another goroutine can run.
    pub fn yielded() -> Acc {
        Acc {
            key: Key::Yield,
            write: true,
            act: Act::Yield,
        }
    }

    /// Every transition (time passing too) clears the yield flag of whoever set it: the
    /// goroutine that yielded may run again.
    pub fn clears_yield() -> Acc {
        Acc {
            key: Key::Yield,
            write: false,
            act: Act::Yield,
        }
    }

    /// Goroutine `g` finished.
    pub fn exit(g: u64) -> Acc {
        Acc {
            key: Key::Done(g),
            write: true,
            act: Act::Exit,
        }
    }
}

/// The object id in a key, if it names one.
pub(super) fn id(k: Key) -> Option<u64> {
    match k {
        Key::Obj(o) | Key::Chan(o) => Some(o),
        _ => None,
    }
}

/// True if the keys overlap.
fn overlap(a: Key, b: Key) -> bool {
    match (a, b) {
        (Key::Yield, k) | (k, Key::Yield) => k == Key::Yield,
        (Key::All, _) | (_, Key::All) => true,
        (Key::AnyChan, Key::AnyChan | Key::Chan(_)) | (Key::Chan(_), Key::AnyChan) => true,
        (x, y) => x == y,
    }
}

/// True if the accesses do not commute.
pub(super) fn dependent(a: &Acc, b: &Acc) -> bool {
    (a.write || b.write) && overlap(a.key, b.key)
}

/// True if some access of `a` does not commute with some access of `b`.
pub(super) fn any_dependent(a: &[Acc], b: &[Acc]) -> bool {
    a.iter().any(|x| b.iter().any(|y| dependent(x, y)))
}

/// The keys an access on `k` may conflict with, besides `k` itself and [`Key::All`].
pub(super) fn wildcard(k: Key) -> Option<Key> {
    match k {
        Key::Chan(_) => Some(Key::AnyChan),
        _ => None,
    }
}

/// A pair that races in every execution in this order but whose reversal is not a new
/// trace: the second operation, moved first, would block until the first happens (an unlock
/// before a lock, an exit before a join of it), which is the same trace.
pub(super) fn irreversible(first: &Acc, second: &Acc) -> bool {
    matches!(
        (first.act, second.act),
        (Act::Op(Op::Unlock), Act::Op(Op::Lock | Op::RLock))
            | (Act::Op(Op::RUnlock), Act::Op(Op::Lock))
            | (Act::Exit, Act::Op(Op::Join))
    )
}

/// True if a goroutine parked on `op` is completed by the goroutine that wakes it, and the
/// other order (the waker first, then `op` without parking) is the same trace: a channel
/// hand-off (either side may wait for the other), a `select!` woken by the hand-off of one
/// of its cases, a `WaitGroup::wait` released by the last `done`, a semaphore acquire
/// granted by a release, a `Once` caller released when the function returns. Not `Cond`
/// (a signal before the wait is lost: another trace), nor locks (see [`irreversible`]).
pub(super) fn handed_off(op: Op) -> bool {
    matches!(
        op,
        Op::ChanSend | Op::ChanRecv | Op::Select | Op::WaitGroupWait | Op::Semaphore | Op::Once
    )
}

/// What completing `ev` after a park touches. The operations whose waker did the work (a
/// hand-off, see [`handed_off`], or a `Cond` signal) touch nothing more: the transition
/// happens after the waker's and simply returns. A lock acquired after a park, a join and a
/// timer touch what performing them does.
pub(super) fn of_resume(ev: &Event, out: &mut Vec<Acc>) {
    if handed_off(ev.op) || ev.op == Op::Cond {
        return;
    }
    of_event(ev, out);
}

/// The accesses of performing `ev` (also of completing it after a park).
pub(super) fn of_event(ev: &Event, out: &mut Vec<Acc>) {
    let ObjId(o) = ev.obj;
    let op = ev.op;
    let acc = match op {
        // No shared effect: `go`'s child exists already (`Note::Spawned` orders it), a
        // yield only gives way, and data choices are branches of their own.
        Op::Spawn | Op::Yield | Op::Rand | Op::TimerFire => return,
        Op::Join => Acc::r(Key::Done(o), op),
        Op::Select => Acc::w(Key::AnyChan, op),
        Op::Timer => {
            out.push(Acc::w(Key::Timers, op));
            if o == 0 {
                return;
            }
            Acc::w(Key::Obj(o), op)
        }
        _ if o == 0 => Acc::w(Key::All, op),
        Op::ChanSend | Op::ChanRecv | Op::ChanClose => Acc::w(Key::Chan(o), op),
        Op::AtomicLoad | Op::Read | Op::RLock | Op::RUnlock | Op::TryRLock | Op::WaitGroupWait => {
            Acc::r(Key::Obj(o), op)
        }
        Op::AtomicStore
        | Op::AtomicRmw
        | Op::Write
        | Op::Lock
        | Op::Unlock
        | Op::TryLock
        | Op::WaitGroupAdd
        | Op::Once
        | Op::Cond
        | Op::Semaphore
        | Op::Context => Acc::w(Key::Obj(o), op),
        _ => Acc::w(Key::All, op),
    };
    out.push(acc);
}

/// The accesses of a `select!` over the channels `objs` (it reads each one's readiness and
/// completes one of them: taken as writing each); every channel at once if the executor did
/// not say which ([`Key::AnyChan`]). `act` says why (the operation, or a wake-up).
pub(super) fn of_select(objs: Option<&[u64]>, act: Act, out: &mut Vec<Acc>) {
    match objs {
        Some(objs) => out.extend(objs.iter().map(|&o| Acc {
            key: Key::Chan(o),
            write: true,
            act,
        })),
        None => out.push(Acc {
            key: Key::AnyChan,
            write: true,
            act,
        }),
    }
}

/// What waking a goroutine parked on `ev` touches: the object it waits on, written.
pub(super) fn of_wake(ev: &Event, out: &mut Vec<Acc>) {
    let mut tmp = Vec::new();
    of_event(ev, &mut tmp);
    out.extend(tmp.into_iter().map(|a| Acc {
        write: true,
        act: Act::Wake,
        ..a
    }));
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::*;

    fn acc(op: Op, o: u64) -> Vec<Acc> {
        let mut v = Vec::new();
        of_event(&Event::new(op, ObjId(o), Location::caller()), &mut v);
        v
    }

    #[test]
    fn the_table() {
        // Loads commute with loads; a store or RMW conflicts with both.
        assert!(!any_dependent(
            &acc(Op::AtomicLoad, 3),
            &acc(Op::AtomicLoad, 3)
        ));
        assert!(any_dependent(
            &acc(Op::AtomicLoad, 3),
            &acc(Op::AtomicStore, 3)
        ));
        assert!(any_dependent(
            &acc(Op::AtomicRmw, 3),
            &acc(Op::AtomicRmw, 3)
        ));
        // Different objects commute.
        assert!(!any_dependent(
            &acc(Op::AtomicRmw, 3),
            &acc(Op::AtomicRmw, 4)
        ));
        // Read locks commute; a write lock conflicts with them.
        assert!(!any_dependent(&acc(Op::RLock, 5), &acc(Op::RUnlock, 5)));
        assert!(any_dependent(&acc(Op::RLock, 5), &acc(Op::Lock, 5)));
        // select! conflicts with every channel, not with a mutex.
        assert!(any_dependent(&acc(Op::Select, 0), &acc(Op::ChanSend, 9)));
        assert!(!any_dependent(&acc(Op::Select, 0), &acc(Op::Lock, 9)));
        // Spawn and yield touch nothing; join reads the goroutine's completion.
        assert!(acc(Op::Spawn, 2).is_empty());
        assert!(any_dependent(&acc(Op::Join, 2), &[Acc::exit(2)]));
        assert!(!any_dependent(&acc(Op::Join, 2), &acc(Op::Join, 2)));
        // Time passing conflicts with everything.
        assert!(any_dependent(&[Acc::time()], &acc(Op::AtomicLoad, 1)));
        // An unclassified operation on no object conflicts with everything.
        assert!(any_dependent(&acc(Op::Other, 0), &acc(Op::Read, 7)));
    }
}
