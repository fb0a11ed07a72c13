//! The runtime side of `#[conc_test]`, and the API of test runners built on it.
//!
//! `#[conc_test]` registers each test as a [`ConcTest`] in [`TESTS`] and generates a plain
//! `#[test]` that calls [`run_test`]. A runner (the `goweave-harness` crate, or your own) reads
//! [`ConcTest::all`], resolves each test's configuration with [`TestConfig::resolve`] from the
//! attribute's options and any further [`Layer`]s (the environment, a command line), explores
//! it whole or in disjoint [`Part`]s with [`explore`], and decides the outcome with [`judge`].
//!
//! ```
//! use goweave::check::{Layer, Origin};
//! use goweave::harness::{explore, judge, Part, TestConfig};
//!
//! // The options a `#[conc_test(strategy = "pct", iterations = 20)]` would register, then a
//! // command line that changes the seed.
//! let flags = Layer::new(Origin::Flag).with("seed", "7");
//! let cfg = TestConfig::resolve(&[("strategy", "pct"), ("iterations", "20")], &[&flags]).unwrap();
//! let found = explore(|| { goweave::go(|| ()).join(); }, &cfg, &Part::whole(), "demo").unwrap();
//! assert_eq!(found.schedules, 20);
//! assert_eq!(judge(&cfg, &found), Ok(None));
//! ```
//!
//! Invariants:
//! - Every `#[conc_test]` puts exactly one [`ConcTest`] into [`TESTS`]; its `body` runs the
//!   test once and panics if it fails (an `Err` return becomes a panic).
//! - Configuration precedence, lowest first: the checker's defaults, the attribute's options,
//!   `GOWEAVE_*` variables, the runner's flags (see [`check::settings`](crate::check::settings)).
//! - Schedule `k` of a test is the same schedule whichever [`Part`] runs it, for the strategies
//!   whose schedules depend only on (seed, k) (`random`, `pct`, `pos`): [`Part`]s with the same
//!   stride and distinct offsets explore disjoint sets of schedules whose union is the whole run.

mod config;
mod part;
mod registry;
mod run;

pub use config::TestConfig;
pub use part::{Exploration, Part};
pub use registry::{finish, ConcTest, TestReturn, TESTS};
pub use run::{explore, judge, run_test};

pub use crate::check::settings::{ConfigError, Layer, Origin};

#[doc(hidden)]
pub use linkme as __linkme;
