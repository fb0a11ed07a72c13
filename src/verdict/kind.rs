//! The kinds of failure, by name.

use std::fmt;
use std::str::FromStr;

/// The kind of a failure.
///
/// Its text form is the lower-case name (`panic`, `deadlock`, `leak`, `race`, `livelock`,
/// `nondeterminism`, `blocked`), as `#[conc_test(expect = "...")]` and `GOWEAVE_EXPECT` take it:
///
/// ```
/// use goweave::FailureKind;
///
/// assert_eq!("deadlock".parse::<FailureKind>(), Ok(FailureKind::Deadlock));
/// assert_eq!(FailureKind::Leak.to_string(), "leak");
/// assert!("hang".parse::<FailureKind>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// A goroutine panicked.
    Panic,
    /// Every goroutine is blocked.
    Deadlock,
    /// Goroutines were left blocked when main returned.
    Leak,
    /// A data race.
    Race,
    /// The step bound was exceeded.
    Livelock,
    /// A replayed schedule diverged from the program (it changed since the schedule was
    /// recorded, or it is nondeterministic).
    Nondeterminism,
    /// A goroutine blocked outside goweave's control (watchdog).
    Blocked,
}

impl FailureKind {
    /// Every kind, in declaration order.
    pub const ALL: [FailureKind; 7] = [
        FailureKind::Panic,
        FailureKind::Deadlock,
        FailureKind::Leak,
        FailureKind::Race,
        FailureKind::Livelock,
        FailureKind::Nondeterminism,
        FailureKind::Blocked,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Panic => "panic",
            FailureKind::Deadlock => "deadlock",
            FailureKind::Leak => "leak",
            FailureKind::Race => "race",
            FailureKind::Livelock => "livelock",
            FailureKind::Nondeterminism => "nondeterminism",
            FailureKind::Blocked => "blocked",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FailureKind {
    type Err = String;

    fn from_str(s: &str) -> Result<FailureKind, String> {
        let s = s.trim();
        FailureKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = FailureKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown failure kind {s:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }
}
