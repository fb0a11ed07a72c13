//! Property testing over inputs *and* interleavings, with [proptest](https://docs.rs/proptest)
//! (feature `proptest`).
//!
//! [`interleavings`] is a proptest strategy whose values are [`Interleaving`]s: schedules that
//! work for any program and shrink. [`check`] and [`check_pairs`] run a property over
//! `(input, interleaving)` pairs, so that when a pair fails, proptest shrinks both together:
//! the input to the smallest that still fails, and the interleaving to the fewest
//! preemptions. The result carries the goweave failure report and its replay token.
//!
//! ```
//! use std::sync::Arc;
//! use goweave::sync::atomic::{AtomicU64, Ordering::SeqCst};
//!
//! // A counter incremented by `n` goroutines with a separate load and store.
//! fn counter(n: u64) -> impl Fn() + Send + Sync + 'static {
//!     move || {
//!         let c = Arc::new(AtomicU64::new(0));
//!         let hs: Vec<_> = (0..n)
//!             .map(|_| {
//!                 let c = c.clone();
//!                 goweave::go(move || {
//!                     let v = c.load(SeqCst);
//!                     c.store(v + 1, SeqCst);
//!                 })
//!             })
//!             .collect();
//!         hs.into_iter().for_each(|h| h.join());
//!         assert_eq!(c.load(SeqCst), n);
//!     }
//! }
//!
//! let mut runner = proptest::test_runner::TestRunner::deterministic();
//! let cx = goweave::proptest::check_pairs(&mut runner, 1..8u64, |&n| counter(n)).unwrap_err();
//! assert_eq!(cx.input, 2); // the smallest number of goroutines that loses an update
//! assert!(goweave::replay(&cx.failure.token(), counter(2)).is_err());
//! ```
//!
//! # Interleavings
//!
//! An [`Interleaving`] is a list of bytes decoded as in [`crate::fuzz`]: at a decision among `n`
//! options, byte `b` picks option `b·n / 256`, where option 0 is the default (keep running the
//! goroutine that is running) and the others are the other runnable goroutines by id. Past its
//! end, every decision takes the default. So the empty interleaving is the quiet,
//! preemption-free schedule, and proptest's shrinking (dropping bytes, moving bytes towards
//! zero) removes preemptions.

use std::fmt;
use std::time::Duration;

use proptest::arbitrary::Arbitrary;
use proptest::collection::{vec, SizeRange};
use proptest::prelude::any;
use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use crate::check::{Checker, Failure, Stats};
use crate::explore::{Bytes, Tail};

/// A schedule as proptest generates and shrinks it (see the module docs).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Interleaving {
    bytes: Vec<u8>,
}

impl Interleaving {
    /// The interleaving these bytes describe.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Interleaving {
        Interleaving {
            bytes: bytes.into(),
        }
    }

    /// Its bytes: one per decision (more for very wide ones).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes that are not zero: an upper bound on the decisions that do not take the default
    /// (with `n` options, bytes below `256 / n` take it too).
    pub fn switches(&self) -> usize {
        self.bytes.iter().filter(|&&b| b != 0).count()
    }

    /// A checker that runs this one schedule; configure it further and call `run`. It does not
    /// shrink (proptest does that).
    pub fn checker(&self) -> Checker {
        Checker::new()
            .adapted_strategy(Bytes::new(&self.bytes, Tail::Default))
            .iterations(1)
            .shrink_budget(Duration::ZERO)
    }

    /// Run `body` once under this schedule.
    pub fn run<F>(&self, body: F) -> Result<Stats, Failure>
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.checker().run(body)
    }
}

impl fmt::Debug for Interleaving {
    /// `Interleaving[0, 3, 0, 1]`, with trailing zeros (defaults) left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self
            .bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        write!(f, "Interleaving{:?}", &self.bytes[..end])
    }
}

/// Interleavings of up to 256 decisions.
pub fn interleavings() -> BoxedStrategy<Interleaving> {
    interleavings_sized(0..=256)
}

/// Interleavings whose byte count is in `len`: make it cover the decisions of the program
/// under test (past the end, every decision is the default).
pub fn interleavings_sized(len: impl Into<SizeRange>) -> BoxedStrategy<Interleaving> {
    vec(any::<u8>(), len)
        .prop_map(|bytes| Interleaving { bytes })
        .boxed()
}

impl Arbitrary for Interleaving {
    type Parameters = ();
    type Strategy = BoxedStrategy<Interleaving>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        interleavings()
    }
}

/// A failing `(input, interleaving)` pair, as small as proptest could make it.
pub struct Counterexample<T> {
    /// The input.
    pub input: T,
    /// The schedule.
    pub interleaving: Interleaving,
    /// What failed, with the report and the replay token ([`Failure::token`]), shrunk by
    /// goweave to the fewest preemptions.
    pub failure: Failure,
}

impl<T: fmt::Debug> fmt::Debug for Counterexample<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counterexample")
            .field("input", &self.input)
            .field("interleaving", &self.interleaving)
            .field("failure", &self.failure.kind())
            .field("token", &self.failure.token())
            .finish()
    }
}

impl<T: fmt::Debug> fmt::Display for Counterexample<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "minimal failing input: {:?}\nunder: {:?}\n",
            self.input, self.interleaving
        )?;
        write!(f, "{}", self.failure)
    }
}

/// Check the property "`make(input)` never fails, under any interleaving" with `runner`: each
/// case is an input drawn from `inputs` and an interleaving drawn from [`interleavings`], run
/// once on the controlled executor. A failing pair is shrunk by proptest, then its schedule
/// by goweave, and returned.
///
/// If proptest gives up (too many rejected inputs), this panics with its reason.
pub fn check_pairs<S, M, B>(
    runner: &mut TestRunner,
    inputs: S,
    make: M,
) -> Result<(), Counterexample<S::Value>>
where
    S: Strategy,
    S::Value: Clone + fmt::Debug,
    M: Fn(&S::Value) -> B,
    B: Fn() + Send + Sync + 'static,
{
    check_pairs_with(runner, inputs, interleavings(), make)
}

/// [`check_pairs`] with interleavings drawn from `schedules` (such as
/// [`interleavings_sized`]).
pub fn check_pairs_with<S, I, M, B>(
    runner: &mut TestRunner,
    inputs: S,
    schedules: I,
    make: M,
) -> Result<(), Counterexample<S::Value>>
where
    S: Strategy,
    S::Value: Clone + fmt::Debug,
    I: Strategy<Value = Interleaving>,
    M: Fn(&S::Value) -> B,
    B: Fn() + Send + Sync + 'static,
{
    let result = runner.run(&(inputs, schedules), |(input, schedule)| {
        match schedule.run(make(&input)) {
            Ok(_) => Ok(()),
            Err(f) => Err(TestCaseError::fail(format!("{:?}", f.kind()))),
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Abort(why)) => panic!("goweave::proptest: proptest gave up: {why}"),
        Err(TestError::Fail(_, (input, interleaving))) => {
            // Once more, now with goweave's own shrinking, for the report and the token.
            let failure = Checker::new()
                .adapted_strategy(Bytes::new(interleaving.bytes(), Tail::Default))
                .iterations(1)
                .run(make(&input))
                .expect_err("goweave::proptest: the minimal pair passed when run again: is the program nondeterministic?");
            Err(Counterexample {
                input,
                interleaving,
                failure,
            })
        }
    }
}

/// [`check_pairs`] with a fresh runner (proptest's default configuration and its `PROPTEST_*`
/// variables, without failure persistence), panicking with the minimal counterexample and its
/// report if the property fails. For use in tests.
#[track_caller]
pub fn check<S, M, B>(inputs: S, make: M)
where
    S: Strategy,
    S::Value: Clone + fmt::Debug,
    M: Fn(&S::Value) -> B,
    B: Fn() + Send + Sync + 'static,
{
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(cx) = check_pairs(&mut runner, inputs, make) {
        panic!("{cx}");
    }
}
