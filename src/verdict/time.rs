//! When virtual time may pass in the checker: the timer modes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The default bound of [`TimerMode::MaxStall`]: a quarter of the shortest guard timeout
/// commonly written in tests (a second), so that a chain of hand-offs between goroutines, each
/// stalled up to the bound, still cannot make a one-second guard fire; and long enough that
/// the short timeouts code races against its work (tens to a couple of hundred milliseconds)
/// still race in the checker.
pub const DEFAULT_MAX_STALL: Duration = Duration::from_millis(250);

/// When the controlled executor's virtual clock may move (see `explore`'s "Time as a choice").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerMode {
    /// At a decision where a timer is pending, letting time pass to it is one more option for
    /// the strategy, provided that no goroutine that could run has then been waiting to run for
    /// longer than the bound (its *stall*); when every goroutine is blocked, time passes without
    /// asking. The default, with [`DEFAULT_MAX_STALL`]: timeouts up to the bound race the work
    /// they guard, longer ones fire only once that work is blocked.
    /// (`"max_stall"`, `"max_stall:<duration>"`)
    MaxStall(Duration),
    /// At any decision where a timer is pending, letting time pass to it is one more option for
    /// the strategy, however long the goroutines that could run have waited (an unbounded
    /// stall); when every goroutine is blocked, time passes without asking. Explores timeouts
    /// that fire while another goroutine is still working, whatever their length.
    /// (`"any_time"`)
    AnyTime,
    /// Time passes only when every goroutine is blocked, as in Go's `testing/synctest`: a
    /// goroutine that was woken runs before the clock moves again. (`"when_blocked"`)
    WhenBlocked,
}

impl Default for TimerMode {
    /// `MaxStall(DEFAULT_MAX_STALL)`.
    fn default() -> TimerMode {
        TimerMode::MaxStall(DEFAULT_MAX_STALL)
    }
}

impl TimerMode {
    /// The mode's name as `GOWEAVE_TIMERS`, `--timers` and `#[conc_test(timers = "...")]` spell
    /// it, without a bound: `max_stall`, `any_time` or `when_blocked`.
    pub fn name(self) -> &'static str {
        match self {
            TimerMode::MaxStall(_) => "max_stall",
            TimerMode::AnyTime => "any_time",
            TimerMode::WhenBlocked => "when_blocked",
        }
    }
}

impl fmt::Display for TimerMode {
    /// `max_stall:250ms`, `any_time` or `when_blocked` (what `FromStr` reads back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerMode::MaxStall(d) => write!(f, "max_stall:{d:?}"),
            m => f.write_str(m.name()),
        }
    }
}

impl FromStr for TimerMode {
    type Err = String;

    /// `max_stall` (with the default bound), `max_stall:<duration>` (`200ms`, `1s`, `1m30s`),
    /// `any_time` or `when_blocked` (`-` for `_` and any case accepted in the names).
    fn from_str(s: &str) -> Result<TimerMode, String> {
        Ok(match goweave_settings::parse_timer_mode(s)? {
            goweave_settings::TimerModeName::MaxStall(None) => TimerMode::default(),
            goweave_settings::TimerModeName::MaxStall(Some(d)) => TimerMode::MaxStall(d),
            goweave_settings::TimerModeName::AnyTime => TimerMode::AnyTime,
            goweave_settings::TimerModeName::WhenBlocked => TimerMode::WhenBlocked,
        })
    }
}
