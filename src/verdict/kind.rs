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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
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
        goweave_settings::FAILURE_KINDS[self as usize]
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
        goweave_settings::parse_failure_kind(s).map(|i| FailureKind::ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_declaration_order() {
        for (i, k) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(k.name().parse::<FailureKind>(), Ok(*k));
        }
    }
}
