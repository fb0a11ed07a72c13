//! Go's synchronisation primitives, each written once against the executor interface so that it
//! runs unchanged on both executors.

pub mod chan;

pub mod atomic;
mod cond;
mod grant;
mod locker;
mod mutex;
pub(crate) mod obj;
mod once;
mod owned;
mod rwlock;
pub(crate) mod sema;
mod semaphore;
mod waitgroup;

pub use cond::Cond;
pub use locker::{Locker, RLocker, RawMutex, RawRwLock};
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use owned::{OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphoreAcquire};
pub use waitgroup::WaitGroup;
