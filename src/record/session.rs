//! One recording run: the logs of its goroutines and of its timer firings, and turning them
//! into a [`Recording`] once the run is over.
//!
//! Invariants:
//! - Every goroutine of a recording runtime gets its [`Buf`] at spawn, before it can run, and
//!   the session keeps it (`bufs`) after the goroutine is gone.
//! - `fires` holds one group per timer callback that ran: its `Fire` entry, then what the
//!   callback did, in order (the callback runs on one thread, outside every goroutine).
//! - [`ACTIVE`](super::ACTIVE) counts the live sessions: the hooks cost one load and a branch
//!   while it is 0.

use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::buf::Buf;
use super::{Entry, Recording, Stream, ACTIVE};

/// The default for most operations logged per goroutine (`GOWEAVE_RECORD_LIMIT`).
pub const DEFAULT_LIMIT: usize = 1 << 20;

/// What a recording runtime keeps while it runs.
pub(crate) struct Session {
    /// Every goroutine's log, in spawn order.
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
            bufs: Mutex::new(Vec::new()),
            fires: Mutex::new(Vec::new()),
            limit: limit.max(1),
        })
    }

    /// A log for goroutine `gid` (spawned by `parent`, 0 for main, at `site`).
    pub(crate) fn attach(&self, gid: u64, site: &'static Location<'static>) -> Arc<Buf> {
        let b = Arc::new(Buf::new(gid, site, self.limit));
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
        fires.sort_by_key(|g| g[0].stamp);
        let mut streams = BTreeMap::new();
        let mut overflow = None;
        for b in bufs {
            if b.overflowed() && overflow.is_none() {
                overflow = Some(format!(
                    "goroutine {} (created at {}) performed more than {} recorded operations, the limit per goroutine; raise it with GOWEAVE_RECORD_LIMIT=<n> or Runtime::builder().record_limit(n)",
                    b.gid, b.site, self.limit
                ));
            }
            streams.insert(b.gid, Stream { entries: b.take() });
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
