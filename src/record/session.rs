//! One recording run: the logs of its worker threads and of its timer firings, and turning
//! them into a [`Recording`] (one stream per goroutine) once the run is over.
//!
//! Invariants:
//! - Every goroutine of a recording runtime holds the session from its spawn on; a thread gets
//!   its [`Buf`] at its first entry of the run (`buf::push`), and the session keeps it
//!   (`bufs`) after the thread is gone.
//! - `fires` holds one group per timer callback that ran: its `Fire` entry, then what the
//!   callback did, in order (the callback runs on one thread, outside every goroutine).
//! - [`ACTIVE`](super::ACTIVE) counts the live sessions: the hooks cost one load and a branch
//!   while it is 0.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::buf::Buf;
use super::{Entry, Kind, Recording, Stream, ACTIVE};

/// The default for most operations logged per worker thread (`GOWEAVE_RECORD_LIMIT`): 4 Mi
/// entries of 16 bytes, allocated as the log grows.
pub const DEFAULT_LIMIT: usize = 1 << 22;

/// The last [`Session::serial`] handed out.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// What a recording runtime keeps while it runs.
pub(crate) struct Session {
    /// Unique in the process (a thread's log names its session by it, not by an address that
    /// a later session could reuse).
    serial: u64,
    /// Every thread's log, in the order the threads first logged.
    bufs: Mutex<Vec<Arc<Buf>>>,
    /// One group per timer firing (see the module invariants).
    fires: Mutex<Vec<Vec<Entry>>>,
    /// Most entries per goroutine.
    limit: usize,
}

impl Session {
    pub(crate) fn new(limit: usize) -> Arc<Session> {
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        Arc::new(Session {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed) + 1,
            bufs: Mutex::new(Vec::new()),
            fires: Mutex::new(Vec::new()),
            limit: limit.max(1),
        })
    }

    /// See the field.
    #[inline]
    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }

    /// A log for the calling thread.
    pub(crate) fn attach(&self) -> Arc<Buf> {
        let b = Arc::new(Buf::new(self.limit));
        self.bufs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(b.clone());
        b
    }

    /// A timer callback ran and did `group` (its `Fire` entry first).
    pub(crate) fn fired(&self, group: Vec<Entry>) {
        self.fires
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(group);
    }

    /// Operations logged so far (every worker thread joined).
    pub(crate) fn len(&self) -> usize {
        let bufs = self.bufs.lock().unwrap_or_else(|p| p.into_inner());
        let fires = self.fires.lock().unwrap_or_else(|p| p.into_inner());
        bufs.iter().map(|b| b.len()).sum::<usize>() + fires.iter().map(Vec::len).sum::<usize>()
    }

    /// The logs, once the run is over (every worker thread joined).
    pub(crate) fn collect(&self) -> Recording {
        let bufs = std::mem::take(&mut *self.bufs.lock().unwrap_or_else(|p| p.into_inner()));
        let mut fires = std::mem::take(&mut *self.fires.lock().unwrap_or_else(|p| p.into_inner()));
        fires.sort_by_key(|g| g[0].stamp().unwrap_or(0));
        let mut streams: BTreeMap<u64, Stream> = BTreeMap::new();
        let mut overflow = None;
        for b in bufs {
            if let (Some((gid, site)), None) = (b.overflowed(), &overflow) {
                overflow = Some(format!(
                    "a worker thread logged more than {} recorded operations, the limit per worker thread, while goroutine {gid} (created at {site}) ran; raise it with GOWEAVE_RECORD_LIMIT=<n> or Runtime::builder().record_limit(n)",
                    self.limit
                ));
            }
            let entries = b.take();
            let mut gid = 0;
            for e in &entries {
                match e.kind() {
                    Kind::Switch => gid = e.obj,
                    _ => streams.entry(gid).or_default().entries.push(*e),
                }
            }
            super::buf::recycle(entries);
        }
        Recording {
            streams,
            fires,
            overflow,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
        // No goroutine of the run is left (the session outlives the runtime's workers).
        let bufs = std::mem::take(self.bufs.get_mut().unwrap_or_else(|p| p.into_inner()));
        for b in bufs {
            super::buf::recycle(b.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::*;
    use crate::record::buf::push;
    use crate::verdict::Op;

    fn op(obj: u64, seq: u64) -> Entry {
        Entry::with_seq(Kind::Op(Op::ChanSend), obj, seq)
    }

    #[test]
    fn a_threads_log_splits_back_into_each_goroutines_order() {
        let here = Location::caller();
        let s = Session::new(100);
        // Goroutines 2 and 3 take turns on this thread; goroutine 4 logs from another.
        push(&s, 2, here, op(7, 0));
        push(&s, 2, here, op(7, 1));
        push(&s, 3, here, op(8, 0));
        push(&s, 2, here, op(7, 2));
        std::thread::scope(|t| {
            t.spawn(|| push(&s, 4, here, op(9, 0)));
        });
        push(&s, 3, here, op(8, 1));
        assert_eq!(s.len(), 6, "switch entries are not operations");
        let rec = s.collect();
        let objs = |g: u64| -> Vec<(u64, Option<u64>)> {
            rec.streams[&g]
                .entries
                .iter()
                .map(|e| (e.obj, e.seq()))
                .collect()
        };
        assert_eq!(objs(2), vec![(7, Some(0)), (7, Some(1)), (7, Some(2))]);
        assert_eq!(objs(3), vec![(8, Some(0)), (8, Some(1))]);
        assert_eq!(objs(4), vec![(9, Some(0))]);
        assert!(rec.overflow.is_none());
    }

    #[test]
    fn a_log_grows_past_its_first_allocation_and_keeps_every_entry_in_order() {
        let here = Location::caller();
        let s = Session::new(1 << 20);
        // Well past the 1,024 entries a fresh log starts with (a pooled one may start larger),
        // so that it grows (and moves)
        // several times, with another goroutine's turn in the middle.
        for i in 0..10_000 {
            push(&s, 2, here, op(7, i));
            if i == 5_000 {
                push(&s, 3, here, op(8, 0));
            }
        }
        assert_eq!(s.len(), 10_001);
        let rec = s.collect();
        let seqs: Vec<u64> = rec.streams[&2]
            .entries
            .iter()
            .map(|e| e.seq().unwrap())
            .collect();
        assert_eq!(seqs, (0..10_000).collect::<Vec<_>>());
        assert_eq!(rec.streams[&3].entries, vec![op(8, 0)]);
        assert!(rec.overflow.is_none());
    }

    #[test]
    fn a_thread_logs_into_each_new_sessions_own_log() {
        let here = Location::caller();
        // This thread keeps the first session's log in its thread-local after that session
        // is gone; the next session must not write there (nor read it).
        let first = Session::new(100);
        push(&first, 2, here, op(7, 0));
        assert_eq!(first.collect().streams[&2].entries, vec![op(7, 0)]);
        drop(first);
        let second = Session::new(100);
        push(&second, 2, here, op(7, 1));
        push(&second, 2, here, op(7, 2));
        let rec = second.collect();
        assert_eq!(rec.streams[&2].entries, vec![op(7, 1), op(7, 2)]);
    }

    #[test]
    fn a_full_log_names_the_goroutine_and_the_limit() {
        let here = Location::caller();
        let s = Session::new(3);
        for i in 0..5 {
            push(&s, 5, here, op(1, i));
        }
        let rec = s.collect();
        // The switch entry takes one of the three places.
        assert_eq!(rec.streams[&5].entries.len(), 2);
        let msg = rec.overflow.expect("the log outgrew its limit");
        assert!(msg.contains("more than 3 recorded operations"), "{msg}");
        assert!(msg.contains("goroutine 5"), "{msg}");
        assert!(msg.contains("GOWEAVE_RECORD_LIMIT"), "{msg}");
    }
}
