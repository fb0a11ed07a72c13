//! # goweave
//!
//! Go's concurrency model for Rust, and a deterministic tester for it.
//!
//! - **A goroutine runtime**: stackful goroutines ([`go`]) on a work-stealing executor
//!   ([`run`], [`Runtime`]), with Go's exit semantics and [`recover`].
//! - **A controlled executor** that runs the same code on one thread while a seeded, recorded
//!   [`explore::Strategy`] chooses every interleaving.
//!
//! ```
//! let total = goweave::run(|| {
//!     let hs: Vec<_> = (0..10).map(|i| goweave::go(move || i * 2)).collect();
//!     hs.into_iter().map(|h| h.join()).sum::<i32>()
//! });
//! assert_eq!(total, 90);
//! ```
#![warn(missing_docs)]

pub mod cell;
pub mod check;
pub mod context;
pub mod detect;
pub mod errgroup;
pub mod explore;
pub mod fuzz;
pub mod harness;
pub mod leak;
#[cfg(feature = "proptest")]
pub mod proptest;
pub mod rand;
pub mod record;
pub mod report;
pub mod runtime;
pub mod schedule;
pub mod sync;
pub mod task;
pub mod time;
mod util;
pub mod verdict;

pub use goweave_macros::conc_test;
pub use sync::chan;

pub use check::{check, replay, Checker, ConfigError, Exploration, Failure, Stats};
pub use explore::{StrategyKind, TimerMode};
pub use runtime::join::{go, go_named, JoinHandle};
pub use runtime::panic::{recover, Panic, PanicReport};
pub use runtime::{run, BuildError, Builder, Runtime, StackError};
pub use schedule::{Schedule, TokenError};
pub use verdict::FailureKind;

/// Hooks for goweave's own tests and stress examples (feature `test-hooks`): not part of the
/// API.
#[cfg(feature = "test-hooks")]
pub mod test_hooks {
    pub use crate::runtime::stack::{exhaust_probe, overflow_probe};
    pub use crate::runtime::worker_index;
}
