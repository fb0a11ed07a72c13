//! The happens-before edges and blocked intervals of one traced run, for the HTML trace
//! (`GOWEAVE_TRACE_FILE=trace.html`).
//!
//! The trace itself ([`TraceEntry`](crate::report::TraceEntry)) says who did what, in which
//! order. A person looking at an interleaving also wants to see *why* things happened in that
//! order: which send handed a value to which receive, which unlock let which lock through, who
//! spawned and who joined whom, and how long each goroutine sat blocked. Those facts are known
//! only at the moment they happen, in the happens-before hooks (`runtime::hb`) and in
//! `park`/`unpark`; this module writes them down.
//!
//! Invariants:
//! - Recording happens only between [`begin`] and [`end`] on the thread that drives a controlled
//!   executor, and only the checker calls them, around the replay of a failure's shrunk
//!   schedule. Exploring and shrinking never record: with recording off every hook costs one
//!   branch on a thread-local flag, on the controlled executor only (`hb` calls in here from its
//!   controlled-executor arm, so the work-stealing executor never does).
//! - A position is the number of trace entries committed when the hook ran, i.e. the step of
//!   the latest event (0 before the first). Hooks run after their operation's scheduling point
//!   has committed its event, so a goroutine acting for itself is at the event of that
//!   position.
//! - An edge joins the goroutine that released a key (at the position of its release) to the
//!   goroutine that acquired it (at the position of its acquire). Self-edges are not kept, nor
//!   the same (release, acquirer) pair twice, nor anything on the SeqCst order of atomics (every
//!   SeqCst operation would be joined to every other).
//! - A block opens when a goroutine parks and closes at the first wake-up after it; one still
//!   open at [`end`] lasted to the end of the run (a deadlock, a leak).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use crate::detect::race::SyncKey;
use crate::runtime::goroutine::WaitReason;
pub(crate) use crate::verdict::graph::{Block, Edge, EdgeKind, SyncLog};

/// Edges kept at most: a long run must not make the report's memory explode.
const MAX_EDGES: usize = 50_000;
/// Blocked intervals kept at most.
const MAX_BLOCKS: usize = 50_000;

/// The recorder of the run in progress.
#[derive(Default)]
struct Recorder {
    log: SyncLog,
    /// The latest releases of each key: (goroutine, position, serial of the release).
    released: HashMap<SyncKey, Vec<(u64, u64, u64)>>,
    /// Release serials already drawn to an acquirer: (serial, acquirer).
    drawn: HashSet<(u64, u64)>,
    /// Serial numbers of releases.
    serial: u64,
    /// Per goroutine, the index in `log.blocks` of its open block.
    open: HashMap<u64, usize>,
}

thread_local! {
    /// Recording is on (a cheap check for every hook).
    static ON: Cell<bool> = const { Cell::new(false) };
    static REC: RefCell<Recorder> = RefCell::new(Recorder::default());
}

/// Start recording on this thread (the next controlled run here is the one recorded).
pub(crate) fn begin() {
    REC.with(|r| *r.borrow_mut() = Recorder::default());
    ON.with(|o| o.set(true));
}

/// Stop recording and take what was recorded.
pub(crate) fn end() -> SyncLog {
    ON.with(|o| o.set(false));
    REC.with(|r| std::mem::take(&mut *r.borrow_mut()).log)
}

/// True while this thread records (the report's replay of a failure): one thread-local load.
#[inline(always)]
pub(crate) fn on() -> bool {
    ON.with(|o| o.get())
}

/// The current position: trace entries committed so far on this thread's controlled executor.
fn position() -> Option<u64> {
    super::executor::with_controlled(|c| c.trace_len()).flatten()
}

fn with(f: impl FnOnce(&mut Recorder, u64)) {
    if !on() {
        return;
    }
    // The run is over and its goroutines are being torn down: what their destructors do is
    // not part of the interleaving.
    let tearing_down = super::context::with_current(|g| {
        g.is_some_and(|g| g.torn_down.load(std::sync::atomic::Ordering::Relaxed))
    });
    if tearing_down {
        return;
    }
    let Some(pos) = position() else { return };
    REC.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            f(&mut r, pos)
        }
    });
}

impl Recorder {
    fn edge(&mut self, e: Edge) {
        if e.from.0 == e.to.0 {
            return;
        }
        if self.log.edges.len() >= MAX_EDGES {
            self.log.truncated = true;
            return;
        }
        self.log.edges.push(e);
    }

    fn release(&mut self, g: u64, key: SyncKey, pos: u64, merge: bool) {
        if key == SyncKey::SeqCst {
            return;
        }
        self.serial += 1;
        let list = self.released.entry(key).or_default();
        if merge {
            list.retain(|&(h, _, _)| h != g);
        } else {
            list.clear();
        }
        list.push((g, pos, self.serial));
    }

    fn acquire(&mut self, g: u64, key: SyncKey, pos: u64) {
        if key == SyncKey::SeqCst {
            return;
        }
        let Some(list) = self.released.get(&key) else {
            return;
        };
        let kind = match key {
            SyncKey::Exit(_) => EdgeKind::Join,
            _ => EdgeKind::Sync,
        };
        let drawn = &mut self.drawn;
        let fresh: Vec<(u64, u64)> = list
            .iter()
            .filter(|&&(h, _, serial)| h != g && drawn.insert((serial, g)))
            .map(|&(h, at, _)| (h, at))
            .collect();
        for from in fresh {
            self.edge(Edge {
                kind,
                from,
                to: (g, pos),
            });
        }
    }
}

/// Goroutine `g` acquires `key` (see `hb::acquire`).
#[inline]
pub(crate) fn acquire(g: u64, key: SyncKey) {
    if on() {
        with(|r, pos| r.acquire(g, key, pos));
    }
}

/// Goroutine `g` releases to `key`; `merge`: joining earlier releases instead of replacing them
/// (see `hb::release_merge`).
#[inline]
pub(crate) fn release(g: u64, key: SyncKey, merge: bool) {
    if on() {
        with(|r, pos| r.release(g, key, pos, merge));
    }
}

/// `parent` spawned `child`.
#[inline]
pub(crate) fn spawned(parent: u64, child: u64) {
    if on() && parent != 0 {
        with(|r, pos| {
            r.edge(Edge {
                kind: EdgeKind::Spawn,
                from: (parent, pos),
                to: (child, pos),
            })
        });
    }
}

/// Goroutine `g` finished: whoever joins it acquires its end.
#[inline]
pub(crate) fn exited(g: u64) {
    if on() {
        with(|r, pos| r.release(g, SyncKey::Exit(g), pos, false));
    }
}

/// Goroutine `g` parks for `reason`.
#[inline]
pub(crate) fn parked(g: u64, reason: WaitReason) {
    if on() {
        with(|r, pos| {
            if r.log.blocks.len() >= MAX_BLOCKS {
                r.log.truncated = true;
                return;
            }
            r.open.insert(g, r.log.blocks.len());
            r.log.blocks.push(Block {
                goroutine: g,
                reason,
                from: pos,
                to: None,
            });
        });
    }
}

/// Goroutine `g` was made runnable (a wake-up of a goroutine that is not parked changes
/// nothing).
#[inline]
pub(crate) fn woken(g: u64) {
    if on() {
        with(|r, pos| {
            if let Some(i) = r.open.remove(&g) {
                r.log.blocks[i].to = Some(pos);
            }
        });
    }
}
