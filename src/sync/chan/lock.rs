//! The channel lock: the crate's spin lock (`util::spin`), guarding state kept beside it.
//!
//! Invariants:
//! - The lock is held exactly while one [`ChanGuard`] for it exists.
//! - The lock is never held across a goroutine switch except by `park`'s unlock step, which
//!   releases it on the scheduler's stack right after the switch; so on the controlled
//!   executor (one thread) it is never contended.

pub use crate::util::spin::RawGuard as ChanGuard;
pub(crate) use crate::util::spin::RawSpinLock as ChanLock;
