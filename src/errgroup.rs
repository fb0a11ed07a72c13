//! `errgroup::Group`: Go's `golang.org/x/sync/errgroup`. Goroutines working on subtasks of a
//! common task, with the first error kept, optional cancellation of a shared context, and an
//! optional limit on how many run at once.
//!
//! Invariants:
//! - `first` is set at most once per group, by the first subtask that returns `Err`; the
//!   context (if any) is cancelled right after it is set, and again when `wait` returns.
//! - With a limit, every started subtask holds one unit of `limit` from before it is spawned
//!   until it has finished, so at most `n` run at once and `go` blocks at the limit.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::context::{self, CancelFn, Context};
use crate::sync::obj::lock_queue;
use crate::sync::{Semaphore, WaitGroup};

/// The default error type of a [`Group`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Inner<E> {
    /// Counts the running subtasks.
    wg: WaitGroup,
    /// The first error.
    first: Mutex<Option<E>>,
    /// Cancels the group's context (from [`Group::with_context`]).
    cancel: Option<CancelFn>,
    /// The concurrency limit, if set.
    limit: Mutex<Option<Arc<Semaphore>>>,
}

/// A group of goroutines working on subtasks of one task: Go's `errgroup.Group`.
///
/// [`go`](Group::go) starts a subtask, [`wait`](Group::wait) waits for all of them and returns
/// the first error. A group is a handle: clones share it, so subtasks can start more subtasks.
///
/// ```
/// use goweave::errgroup::Group;
///
/// let r = goweave::run(|| {
///     let g: Group<String> = Group::new();
///     for i in 0..4 {
///         g.go(move || if i == 2 { Err(format!("task {i} failed")) } else { Ok(()) });
///     }
///     g.wait()
/// });
/// assert_eq!(r, Err("task 2 failed".to_string()));
/// ```
pub struct Group<E = BoxError> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Group<E> {
        Group {
            inner: self.inner.clone(),
        }
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Group<E> {
        Group::new()
    }
}

impl<E: Send + 'static> Group<E> {
    /// An empty group without a context or a limit (Go's zero `errgroup.Group`).
    pub fn new() -> Group<E> {
        Group::with_cancel(None)
    }

    fn with_cancel(cancel: Option<CancelFn>) -> Group<E> {
        Group {
            inner: Arc::new(Inner {
                wg: WaitGroup::new(),
                first: Mutex::new(None),
                cancel,
                limit: Mutex::new(None),
            }),
        }
    }

    /// A group and a context derived from `parent` that is cancelled when a subtask first
    /// returns an error, or when [`wait`](Group::wait) returns, whichever comes first (Go's
    /// `errgroup.WithContext`).
    pub fn with_context(parent: &Context) -> (Group<E>, Context) {
        let (ctx, cancel) = context::with_cancel(parent);
        (Group::with_cancel(Some(cancel)), ctx)
    }

    /// Limit the group to `n` subtasks running at once (`None`: no limit); then
    /// [`go`](Group::go) blocks while `n` run. Go's `SetLimit`.
    ///
    /// Panics if subtasks started under a previous limit are still running, as in Go.
    pub fn set_limit(&self, n: impl Into<Option<usize>>) {
        let mut limit = lock_queue(&self.inner.limit);
        if let Some(sem) = &*limit {
            let active = sem.held();
            if active != 0 {
                drop(limit);
                panic!(
                    "errgroup: modify limit while {active} goroutines in the group are still active"
                );
            }
        }
        *limit = n.into().map(|n| Arc::new(Semaphore::new(n as u64)));
    }

    /// Start `f` in a new goroutine (Go's `Go`). With a limit, first wait (wait reason
    /// `semacquire`) until fewer than the limit run. The first `Err` any subtask returns is
    /// kept for [`wait`](Group::wait) and cancels the group's context.
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = lock_queue(&self.inner.limit).clone();
        if let Some(sem) = &sem {
            sem.acquire(1);
        }
        self.start(sem, f);
    }

    /// Start `f` only if the limit allows it right now; false if it would have to wait (Go's
    /// `TryGo`).
    #[track_caller]
    pub fn try_go<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = lock_queue(&self.inner.limit).clone();
        if let Some(sem) = &sem {
            if !sem.try_acquire(1) {
                return false;
            }
        }
        self.start(sem, f);
        true
    }

    #[track_caller]
    fn start<F>(&self, sem: Option<Arc<Semaphore>>, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        self.inner.wg.add(1);
        let finish = Finish {
            inner: self.inner.clone(),
            sem,
        };
        crate::go(move || {
            let finish = finish;
            if let Err(e) = f() {
                finish.fail(e);
            }
            drop(finish);
        });
    }

    /// Wait for every subtask started so far, then return the first error (Go's `Wait`). The
    /// group's context is cancelled when it returns. The error is handed out once: a second
    /// `wait` returns `Ok(())` unless a later subtask failed.
    #[track_caller]
    pub fn wait(&self) -> Result<(), E> {
        self.inner.wg.wait();
        if let Some(c) = &self.inner.cancel {
            c.cancel();
        }
        match lock_queue(&self.inner.first).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<E: Send> Group<E> {
    /// [`wait`](Group::wait) as a future, for tasks (`goweave::task`) and any other executor:
    /// the group's wait group awaited (`WaitGroup::wait_async`), then the same result.
    ///
    /// ```
    /// goweave::run(|| {
    ///     let g = goweave::errgroup::Group::<String>::new();
    ///     g.go(|| Ok(()));
    ///     g.go(|| Err("boom".to_string()));
    ///     let r = goweave::task::spawn(async move { g.wait_async().await }).join();
    ///     assert_eq!(r, Err("boom".to_string()));
    /// });
    /// ```
    #[track_caller]
    pub fn wait_async(&self) -> impl std::future::Future<Output = Result<(), E>> + Send + '_ {
        let wait = self.inner.wg.wait_async();
        async move {
            wait.await;
            if let Some(c) = &self.inner.cancel {
                c.cancel();
            }
            match lock_queue(&self.inner.first).take() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }
}

/// Ends one subtask: gives its limit unit back and counts it done (also if it panics).
struct Finish<E> {
    inner: Arc<Inner<E>>,
    sem: Option<Arc<Semaphore>>,
}

impl<E> Finish<E> {
    fn fail(&self, e: E) {
        let first = {
            let mut first = lock_queue(&self.inner.first);
            let was_empty = first.is_none();
            if was_empty {
                *first = Some(e);
            }
            was_empty
        };
        if first {
            if let Some(c) = &self.inner.cancel {
                c.cancel();
            }
        }
    }
}

impl<E> Drop for Finish<E> {
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            sem.release(1);
        }
        self.inner.wg.done();
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("running", &self.inner.wg.count())
            .field("failed", &lock_queue(&self.inner.first).is_some())
            .finish()
    }
}
