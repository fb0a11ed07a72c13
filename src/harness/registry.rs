//! The registry of `#[conc_test]` functions, and what the attribute's expansion calls.

use std::fmt::Debug;

/// Every `#[conc_test]` linked into this binary, in no particular order (see
/// [`ConcTest::all`]).
#[linkme::distributed_slice]
pub static TESTS: [ConcTest];

/// One `#[conc_test]` function, as registered by the attribute.
#[derive(Debug)]
pub struct ConcTest {
    /// The function's name.
    pub name: &'static str,
    /// `module_path!()` where it was written (starting with the crate name).
    pub module_path: &'static str,
    /// `file!()` of the attribute.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// Where the attribute is: reports say the test's main goroutine was created there.
    pub site: &'static std::panic::Location<'static>,
    /// Marked `#[ignore]`.
    pub ignored: bool,
    /// The options written in the attribute, as text: `("iterations", "10000")`.
    pub options: &'static [(&'static str, &'static str)],
    /// Runs the test body once; panics if it fails.
    pub body: fn(),
}

impl ConcTest {
    /// The name libtest gives the test: the module path without the crate, then the function
    /// (e.g. `kernels::lost_update`).
    pub fn path(&self) -> String {
        match self.module_path.split_once("::") {
            Some((_, rest)) => format!("{rest}::{}", self.name),
            None => self.name.to_string(),
        }
    }

    /// Every registered test, sorted by [`path`](ConcTest::path).
    pub fn all() -> Vec<&'static ConcTest> {
        let mut v: Vec<&'static ConcTest> = TESTS.iter().collect();
        v.sort_by_cached_key(|t| t.path());
        v
    }
}

/// What a `#[conc_test]` function may return: `()` or `Result<(), E>` with `E: Debug`.
#[diagnostic::on_unimplemented(
    message = "a `#[conc_test]` function must return `()` or `Result<(), E>` with `E: Debug`, not `{Self}`",
    label = "this return type"
)]
pub trait TestReturn {
    /// `Err` with the error's debug text if the test failed.
    fn into_result(self) -> Result<(), String>;
}

impl TestReturn for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Debug> TestReturn for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Ends one run of a test body: an `Err` fails the schedule like a panic.
#[track_caller]
pub fn finish<R: TestReturn>(r: R) {
    if let Err(e) = r.into_result() {
        panic!("the test returned Err: {e}");
    }
}
