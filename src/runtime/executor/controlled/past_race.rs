//! Running on past a data race, for a strategy that asks ([`Strategy::runs_past_races`]).
//!
//! A race report does not stop the program (Go's race detector reports and goes on), but by
//! default it ends the schedule at the racing goroutine's next scheduling point: the first
//! failure is what a search looks for. An exhaustive search that analyses every schedule it
//! runs (`Dpor`) needs the rest of the run too: a race reported early may sit before a chain
//! of steps (a lock order, then an atomic's order) whose other orders lead to runs without the
//! race, which it can reverse only if it saw them. For such a strategy the run goes on to its
//! end, and the race stays the schedule's failure, as if the run had stopped there.
//!
//! Invariants:
//! - `State::race_cut` is set at most once per run, at the point where the run would have
//!   stopped (a scheduling point, or the scheduler loop's check), and only while
//!   `State::past_races` holds; while it is set, `report_race` records no later race.
//! - At the end of the run, a cut replaces whatever verdict came later (the race came first),
//!   and the outcome's schedule, counts, fingerprint and trace are those at the cut: the
//!   outcome is exactly the one the run would have had if the race had ended it, so its
//!   schedule replays (under any strategy) to the same race.
//!
//! [`Strategy::runs_past_races`]: crate::explore::Strategy::runs_past_races

use super::{Controlled, State};
use crate::verdict::{RaceReport, Verdict};

/// What a run that a race ended would have returned: the report, and the outcome's lengths
/// and counts at the point where it would have stopped.
pub(super) struct RaceCut {
    report: RaceReport,
    schedule: usize,
    trace: usize,
    steps: u64,
    commits: u64,
    fingerprint: u64,
    preemptions: u64,
}

impl Controlled {
    /// The run has a verdict: true if it stops here. A race, under a strategy that runs past
    /// races, is set aside with the run's state at this point (the cut), and the run goes on.
    #[cold]
    #[inline(never)]
    pub(super) fn stops(st: &mut State) -> bool {
        if !st.past_races || st.race_cut.is_some() {
            return true;
        }
        let report = match st.verdict.take() {
            Some(Verdict::Race(report)) => report,
            other => {
                st.verdict = other;
                return true;
            }
        };
        st.race_cut = Some(Box::new(RaceCut {
            report,
            schedule: st.schedule.len(),
            trace: st.trace.len(),
            steps: st.steps,
            commits: st.commits,
            fingerprint: st.fingerprint,
            preemptions: st.preemptions,
        }));
        false
    }
}

/// The run is over: if a race was set aside, it is the verdict, and the outcome's state is
/// put back to the cut (see the invariants above).
pub(super) fn settle(st: &mut State, verdict: &mut Option<Verdict>) {
    let Some(cut) = st.race_cut.take() else {
        return;
    };
    let cut = *cut;
    st.schedule.truncate(cut.schedule);
    st.trace.truncate(cut.trace);
    st.steps = cut.steps;
    st.commits = cut.commits;
    st.fingerprint = cut.fingerprint;
    st.preemptions = cut.preemptions;
    *verdict = Some(Verdict::Race(cut.report));
}
