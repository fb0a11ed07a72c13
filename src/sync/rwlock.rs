//! `RwLock<T>`: Go's `sync.RWMutex` with Rust guards. Writer-preferring: once a writer waits,
//! new readers wait behind it.
//!
//! The algorithm is Go's (`sync/rwmutex.go`):
//! - `w` (a [`RawMutex`]) serialises writers;
//! - `reader_count` counts readers; a writer announces itself by subtracting `MAX_READERS`,
//!   so a negative count tells new readers to sleep on `reader_sem`;
//! - `reader_wait` counts the readers the announced writer still waits for; the last of them
//!   wakes the writer through `writer_sem`;
//! - unlock adds `MAX_READERS` back and wakes every reader that queued meanwhile.
//!
//! Invariants:
//! - `reader_count < 0` exactly while a writer holds or waits for the lock after taking `w`;
//!   then `reader_count + MAX_READERS` readers have arrived (active or asleep).
//! - `reader_wait` is only non-zero while a writer waits on `writer_sem`.
//! - `track` (controlled executor only) mirrors who holds or waits for the lock, for reports.
//!
//! Writer preference is what makes "a reader takes the read lock again while a writer is
//! queued" deadlock, as it does in Go; the tester reports it with both read-lock sites.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::{AtomicI32, Ordering};

use super::mutex::RawMutex;
use super::obj::{lock_queue, watched, Obj};
use super::sema::Sema;
use crate::runtime::dump::WaitDetail;
use crate::runtime::event::Op;
use crate::runtime::goroutine::WaitReason;
use crate::runtime::hb;
use crate::runtime::id as current_id;

/// Race-detector key parts (Go's annotations on `readerSem` and `writerSem`): writers release
/// to `READERS`, which readers and the next writer acquire; readers release-merge to
/// `WRITERS`, which a writer acquires.
const READERS: u64 = 0;
const WRITERS: u64 = 1;

/// Most readers a lock can have at once (Go's `rwmutexMaxReaders`).
const MAX_READERS: i32 = 1 << 30;

/// Who holds or waits for the lock (controlled executor only).
#[derive(Default)]
struct Track {
    /// Active readers: goroutine and where it read-locked.
    readers: Vec<(u64, &'static Location<'static>)>,
    /// The writer that took `w`: goroutine, where it called `write`, and whether it holds the
    /// lock yet.
    writer: Option<(u64, &'static Location<'static>, bool)>,
}

/// The lock without the data.
pub(crate) struct RawRwLock {
    /// Held by the writer that holds or waits for the lock; other writers queue here.
    w: RawMutex,
    /// The announced writer sleeps here until the last active reader leaves.
    writer_sem: Sema,
    /// Readers that arrived after a writer announced itself sleep here.
    reader_sem: Sema,
    /// Readers (active or asleep), minus `MAX_READERS` while a writer is announced.
    reader_count: AtomicI32,
    /// Active readers the announced writer still waits for.
    reader_wait: AtomicI32,
    /// Identity in events.
    obj: Obj,
    /// Holders and waiters, for reports (controlled executor only).
    track: std::sync::Mutex<Track>,
}

impl RawRwLock {
    pub(crate) const fn new() -> RawRwLock {
        RawRwLock {
            w: RawMutex::new(),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            obj: Obj::new(),
            track: std::sync::Mutex::new(Track {
                readers: Vec::new(),
                writer: None,
            }),
        }
    }

    #[inline]
    pub(crate) fn read(&self, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::RLock, site);
        if self.read_begin() {
            // A writer is announced: wait for it.
            let d = controlled.then(|| self.detail());
            self.reader_sem
                .acquire(WaitReason::RwLockRead, site, false, d);
        }
        self.read_end(controlled, site);
    }

    /// [`read`](Self::read) as a future (`RwLock::read_async`): the same steps, with the
    /// semaphore awaited.
    pub(crate) async fn read_async(&self, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::RLock, site);
        if self.read_begin() {
            self.reader_sem
                .acquire_async(WaitReason::RwLockRead, site, false)
                .await;
        }
        self.read_end(controlled, site);
    }

    /// Count a reader in; true if a writer is announced (then wait on `reader_sem`).
    #[inline]
    fn read_begin(&self) -> bool {
        self.reader_count.fetch_add(1, Ordering::SeqCst) + 1 < 0
    }

    /// The reader holds the lock: bookkeeping and the race detector's edge.
    #[inline]
    fn read_end(&self, controlled: bool, site: &'static Location<'static>) {
        if controlled {
            lock_queue(&self.track).readers.push((current_id(), site));
        }
        if watched(controlled) {
            hb::acquire(self.obj.part(READERS));
        }
    }

    #[inline]
    pub(crate) fn try_read(&self, site: &'static Location<'static>) -> bool {
        let controlled = self.obj.point(Op::TryRLock, site);
        let mut c = self.reader_count.load(Ordering::SeqCst);
        loop {
            if c < 0 {
                return false;
            }
            match self.reader_count.compare_exchange_weak(
                c,
                c + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => c = now,
            }
        }
        if controlled {
            lock_queue(&self.track).readers.push((current_id(), site));
        }
        if watched(controlled) {
            hb::acquire(self.obj.part(READERS));
        }
        true
    }

    #[inline]
    pub(crate) fn read_unlock(&self, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::RUnlock, site);
        if watched(controlled) {
            hb::release_merge(self.obj.part(WRITERS));
        }
        if controlled {
            // Forget this guard's entry: same goroutine and site, else any of the goroutine's
            // (the guard moved), else any (unlocked from another goroutine, as Go allows).
            let me = current_id();
            let mut t = lock_queue(&self.track);
            let r = &t.readers;
            let i = r
                .iter()
                .rposition(|&(g, s)| g == me && std::ptr::eq(s, site))
                .or_else(|| r.iter().rposition(|&(g, _)| g == me))
                .unwrap_or(0);
            if i < t.readers.len() {
                t.readers.remove(i);
            }
        }
        let r = self.reader_count.fetch_sub(1, Ordering::SeqCst) - 1;
        if r < 0 {
            self.read_unlock_slow(r);
        }
    }

    #[cold]
    fn read_unlock_slow(&self, r: i32) {
        if r + 1 == 0 || r + 1 == -MAX_READERS {
            // Undo first: the panic can be recovered (in Go it is fatal).
            self.reader_count.fetch_add(1, Ordering::SeqCst);
            panic!("fatal error: sync: RUnlock of unlocked RWMutex");
        }
        // A writer is announced; the last reader it waits for wakes it.
        if self.reader_wait.fetch_sub(1, Ordering::SeqCst) - 1 == 0 {
            self.writer_sem.release();
        }
    }

    #[inline]
    pub(crate) fn write(&self, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::Lock, site);
        // First, win against other writers.
        self.w
            .acquire(WaitReason::RwLockWrite, site, controlled, &|_| {
                self.detail()
            });
        if self.write_announce(controlled, site) {
            let d = controlled.then(|| self.detail());
            self.writer_sem
                .acquire(WaitReason::RwLockWrite, site, false, d);
        }
        self.write_end(controlled, site);
    }

    /// [`write`](Self::write) as a future (`RwLock::write_async`): the same steps, with the
    /// writers' mutex and the semaphore awaited.
    pub(crate) async fn write_async(&self, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::Lock, site);
        self.w
            .acquire_async(WaitReason::RwLockWrite, site, controlled)
            .await;
        if self.write_announce(controlled, site) {
            self.writer_sem
                .acquire_async(WaitReason::RwLockWrite, site, false)
                .await;
        }
        self.write_end(controlled, site);
    }

    /// The writer won against other writers: announce it to readers. True if active readers
    /// remain (then wait on `writer_sem` for the last of them).
    #[inline]
    fn write_announce(&self, controlled: bool, site: &'static Location<'static>) -> bool {
        if controlled {
            lock_queue(&self.track).writer = Some((current_id(), site, false));
        }
        let r = self.reader_count.fetch_add(-MAX_READERS, Ordering::SeqCst);
        r != 0 && self.reader_wait.fetch_add(r, Ordering::SeqCst) + r != 0
    }

    /// The writer holds the lock: bookkeeping and the race detector's edges.
    #[inline]
    fn write_end(&self, controlled: bool, site: &'static Location<'static>) {
        if controlled {
            lock_queue(&self.track).writer = Some((current_id(), site, true));
        }
        if watched(controlled) {
            hb::acquire(self.obj.part(READERS));
            hb::acquire(self.obj.part(WRITERS));
        }
    }

    #[inline]
    pub(crate) fn try_write(&self, site: &'static Location<'static>) -> bool {
        let controlled = self.obj.point(Op::TryLock, site);
        if !self.w.try_acquire() {
            return false;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.w.release(site);
            return false;
        }
        if controlled {
            lock_queue(&self.track).writer = Some((current_id(), site, true));
        }
        if watched(controlled) {
            hb::acquire(self.obj.part(READERS));
            hb::acquire(self.obj.part(WRITERS));
        }
        true
    }

    #[inline]
    pub(crate) fn write_unlock(&self, site: &'static Location<'static>) {
        let controlled = self.obj.point(Op::Unlock, site);
        if controlled {
            lock_queue(&self.track).writer = None;
        }
        if watched(controlled) {
            hb::release(self.obj.part(READERS));
        }
        // Tell readers there is no writer any more, and wake those that queued meanwhile.
        let r = self.reader_count.fetch_add(MAX_READERS, Ordering::SeqCst) + MAX_READERS;
        if r >= MAX_READERS {
            // Undo first: the panic can be recovered (in Go it is fatal).
            self.reader_count.fetch_sub(MAX_READERS, Ordering::SeqCst);
            panic!("fatal error: sync: Unlock of unlocked RWMutex");
        }
        for _ in 0..r {
            self.reader_sem.release();
        }
        // Let other writers in.
        self.w.release(site);
    }

    /// The report lines of a goroutine waiting for this lock.
    fn detail(&self) -> WaitDetail {
        /// # Safety
        /// `rw` points at a live `RawRwLock` (`WaitDetail::new`'s contract).
        unsafe fn describe(rw: *const (), waiter: u64) -> String {
            // SAFETY: the caller's contract.
            let rw = unsafe { &*(rw as *const RawRwLock) };
            let t = lock_queue(&rw.track);
            let who = |g: u64| {
                if g == waiter {
                    format!("this goroutine (goroutine {g})")
                } else {
                    format!("goroutine {g}")
                }
            };
            let mut lines = Vec::new();
            match t.writer {
                Some((g, site, true)) => {
                    lines.push(format!("sync.RWMutex write-locked by {} at {site}", who(g)))
                }
                Some((g, site, false)) => lines.push(format!(
                    "sync.RWMutex write lock requested by {} at {site}; new readers wait behind it",
                    who(g)
                )),
                None => {}
            }
            for (g, site) in &t.readers {
                lines.push(format!("sync.RWMutex read-locked by {} at {site}", who(*g)));
            }
            if lines.is_empty() {
                lines.push("sync.RWMutex is not held (a wake-up is in flight)".into());
            }
            lines.join("\n")
        }
        // SAFETY: the detail is attached only while the waiter is parked inside a method of
        // this lock (a guard removes it on wake-up and on unwind), so the lock is borrowed,
        // hence alive, whenever a dump evaluates it.
        unsafe { WaitDetail::new(self, current_id(), describe) }
    }
}

/// A reader-writer lock protecting a `T`: Go's `sync.RWMutex`, with guards.
///
/// Any number of readers, or one writer. **Writer-preferring**, like Go: while a writer waits,
/// new readers block, so a writer is never starved; it also means a goroutine that read-locks
/// twice can deadlock if a writer queues in between (the tester reports it, wait reason
/// `sync.RWMutex.RLock`).
///
/// ```
/// use std::sync::Arc;
/// use goweave::sync::RwLock;
///
/// goweave::run(|| {
///     let cfg = Arc::new(RwLock::new(String::from("v1")));
///     let c = cfg.clone();
///     goweave::go(move || *c.write() = "v2".into()).join();
///     assert_eq!(*cfg.read(), "v2");
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    pub(super) raw: RawRwLock,
    pub(super) data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one writer at a time, `&T` to readers.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above; readers share `&T` across goroutines, so `T: Sync` too.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock (usable in a `static`).
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// The protected value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Read-lock (Go's `RLock`), parking (wait reason `sync.RWMutex.RLock`) while a writer
    /// holds or waits for the lock.
    #[track_caller]
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let site = Location::caller();
        self.raw.read(site);
        RwLockReadGuard {
            lock: self,
            site,
            _not_send: PhantomData,
        }
    }

    /// [`read`](RwLock::read) as a future, for tasks (`goweave::task`) and any other executor:
    /// the same lock and queues, with the future's waker queued instead of a parked goroutine.
    /// The guard is `!Send`; to hold it across an `.await` in a task, use
    /// [`read_owned_async`](RwLock::read_owned_async).
    #[track_caller]
    pub fn read_async(&self) -> impl std::future::Future<Output = RwLockReadGuard<'_, T>> + Send
    where
        T: Send + Sync,
    {
        let site = Location::caller();
        async move {
            self.raw.read_async(site).await;
            RwLockReadGuard {
                lock: self,
                site,
                _not_send: PhantomData,
            }
        }
    }

    /// [`write`](RwLock::write) as a future (see [`read_async`](RwLock::read_async); the
    /// sendable guard comes from [`write_owned_async`](RwLock::write_owned_async)).
    #[track_caller]
    pub fn write_async(&self) -> impl std::future::Future<Output = RwLockWriteGuard<'_, T>> + Send
    where
        T: Send + Sync,
    {
        let site = Location::caller();
        async move {
            self.raw.write_async(site).await;
            RwLockWriteGuard {
                lock: self,
                site,
                _not_send: PhantomData,
            }
        }
    }

    /// Read-lock if that needs no waiting (Go's `TryRLock`).
    #[track_caller]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let site = Location::caller();
        let g = self.raw.try_read(site).then(|| RwLockReadGuard {
            lock: self,
            site,
            _not_send: PhantomData,
        });
        if g.is_none() {
            // Polling: give way (see `executor::yield_hint`).
            crate::runtime::executor::yield_hint();
        }
        g
    }

    /// Write-lock (Go's `Lock`), parking (wait reason `sync.RWMutex.Lock`) while another
    /// writer or any reader holds the lock.
    #[track_caller]
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let site = Location::caller();
        self.raw.write(site);
        RwLockWriteGuard {
            lock: self,
            site,
            _not_send: PhantomData,
        }
    }

    /// Write-lock if that needs no waiting (Go's `TryLock`).
    #[track_caller]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let site = Location::caller();
        let g = self.raw.try_write(site).then(|| RwLockWriteGuard {
            lock: self,
            site,
            _not_send: PhantomData,
        });
        if g.is_none() {
            // Polling: give way (see `executor::yield_hint`).
            crate::runtime::executor::yield_hint();
        }
        g
    }

    /// Mutable access without locking: `&mut self` proves nobody else can hold it.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(v: T) -> RwLock<T> {
        RwLock::new(v)
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.raw.reader_count.load(Ordering::Relaxed);
        f.debug_struct("RwLock")
            .field("writer", &(c < 0))
            .field("readers", &(if c < 0 { c + MAX_READERS } else { c }))
            .finish_non_exhaustive()
    }
}

/// Proof of read-locking an [`RwLock`]; read-unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Where it was read-locked (also the site of the unlock event).
    site: &'static Location<'static>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared read guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while read-locked, nobody holds `&mut T`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.read_unlock(self.site);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Proof of write-locking an [`RwLock`]; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Where it was write-locked (also the site of the unlock event).
    site: &'static Location<'static>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared write guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write guard proves exclusive ownership.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard proves exclusive ownership.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.write_unlock(self.site);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
