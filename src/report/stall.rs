//! The one line that says what a failure assumed about time: how long a goroutine that could
//! run was kept waiting while a timer fired; and the note for a livelock in which the bound on
//! that wait held the clock back.

use crate::verdict::Stall;
use crate::verdict::TimerMode;

/// `this failure needs goroutine 3 to stall for 200ms while the timer created at x.rs:12:5
/// fires (timers: max_stall:250ms)`.
pub(crate) fn stall_line(s: &Stall, timers: TimerMode) -> String {
    let who = match s.goroutine {
        0 => "a goroutine that could run".to_string(),
        g => format!("goroutine {g}"),
    };
    let timer = match s.timer {
        Some(site) => format!("the timer created at {site}"),
        None => "a timer".to_string(),
    };
    format!(
        "this failure needs {who} to stall for {:?} while {timer} fires (timers: {timers})",
        s.duration
    )
}

/// Why a livelock may be the bound's doing: time could not reach a pending timer because a
/// goroutine never stopped working.
pub(crate) fn held_back_note(s: &Stall, timers: TimerMode) -> String {
    let who = match s.goroutine {
        0 => "a goroutine".to_string(),
        g => format!("goroutine {g}"),
    };
    let timer = match s.timer {
        Some(site) => format!("the timer created at {site}"),
        None => "a pending timer".to_string(),
    };
    format!(
        "note: virtual time was held back: {timer} (due at {:?}) could fire only if {who}, runnable without blocking or polling all along, stalled for {:?}, more than {timers} allows; a goroutine that waits for time must block on it or poll (select! with default, gosched, a try_ operation), or let time keep it waiting longer (Checker::max_stall, or timers any_time)",
        s.at, s.duration
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;
    use std::time::Duration;

    #[test]
    fn the_line_names_the_goroutine_the_stall_and_the_timer() {
        let site = Location::caller();
        let s = Stall {
            duration: Duration::from_millis(200),
            goroutine: 3,
            timer: Some(site),
            at: Duration::from_millis(200),
        };
        assert_eq!(
            stall_line(&s, TimerMode::default()),
            format!("this failure needs goroutine 3 to stall for 200ms while the timer created at {site} fires (timers: max_stall:250ms)")
        );
        let unknown = Stall {
            goroutine: 0,
            timer: None,
            ..s
        };
        assert!(stall_line(&unknown, TimerMode::AnyTime).starts_with(
            "this failure needs a goroutine that could run to stall for 200ms while a timer fires"
        ));
        let note = held_back_note(&s, TimerMode::default());
        assert!(note.contains("goroutine 3"), "{note}");
        assert!(note.contains("due at 200ms"), "{note}");
    }
}
