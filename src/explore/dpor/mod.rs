//! `Dpor`: exhaustive search with optimal dynamic partial-order reduction: one schedule per
//! Mazurkiewicz trace of goweave's visible operations, instead of one per interleaving.
//!
//! # The algorithm, and why this one
//!
//! Optimal DPOR (Abdulla, Aronis, Jonsson, Sagonas, "Optimal dynamic partial order
//! reduction", POPL 2014; "Source sets", JACM 2017), stateless: each schedule runs the program
//! from the start. After a schedule, every *reversible race* (two dependent transitions of
//! different goroutines with no third between them in happens-before) is reversed by a
//! *wakeup sequence* `notdep(e, E).e'` (what could run before `e` without depending on it,
//! then `e'`), inserted into the *wakeup tree* of the decision just before `e`, unless a
//! goroutine asleep there could already start it. *Sleep sets* keep a goroutine whose
//! alternatives were explored from being run again until something it conflicts with
//! happens.
//!
//! TruSt (Kokologiannakis, Marmanis, Gladstein, Vafeiadis, POPL 2022) is also optimal, in
//! polynomial memory and trivially parallel, but it revisits *reads* against *writes* of an
//! execution graph (reads-from), which presumes that every visible event is a memory
//! access. goweave's events are channel hand-offs, lock queues, `select!`, wait groups and
//! virtual time, whose interference is best stated as a dependence relation over the
//! executor's own transitions. Optimal DPOR takes exactly that relation, needs nothing from
//! the program but the transitions it already runs, and its memory (one wakeup tree per
//! decision of the current schedule) is small for the programs a test explores.
//!
//! # Transitions
//!
//! A transition is one goroutine's run from a point where the scheduler may switch (a
//! scheduling point, a park, its start) to the next. The executor reports them as
//! [`Note`]s. Kinds: performing the event announced at a scheduling point; completing an
//! operation that blocked (resuming after a park: it touches what it waited on); a
//! goroutine's first run (local code only, created by the parent's transition that called
//! `go`); *time passes* (pseudo-goroutine 0, when the strategy or the executor moves the
//! virtual clock). A transition that wakes a parked goroutine also writes what that one
//! waits on (a hand-off, an unlock that wakes a waiter, a Once finishing); a transition in
//! which a goroutine finishes writes its completion.
//!
//! # The dependence relation
//!
//! Two transitions of different goroutines are dependent when one writes a key the other
//! touches (reads or writes). Per event (`r` read, `w` write, on the object of the event):
//!
//! | event | access |
//! | --- | --- |
//! | channel send, receive, close (buffered or not, blocking or not) | `w` the channel |
//! | `select!` | `w` each channel its enabled cases name (as its probe says at the decision that runs it; every channel where no decision did) |
//! | `Mutex`/`RwLock` lock, unlock, `try_lock` | `w` the lock |
//! | `RwLock` read lock, read unlock, `try_read` | `r` the lock (readers commute) |
//! | `WaitGroup` add / done | `w` the group |
//! | `WaitGroup` wait | `r` the group (waiters commute) |
//! | `Once`, `Cond` wait/signal/broadcast, `Semaphore` acquire/release, context | `w` the object |
//! | atomic load | `r` the atomic (loads commute) |
//! | atomic store, RMW, compare-exchange (failed too) | `w` the atomic |
//! | `RaceCell` read / write | `r` / `w` the cell |
//! | `go` | nothing: the child's first transition happens after the creating one |
//! | `join` | `r` the goroutine's completion, which its exit writes |
//! | `gosched`, a goroutine's first run | nothing |
//! | a transition after which its goroutine yields / every transition | `w` / `r` the yield flag (see "Yields") |
//! | timers (`sleep`, `after`, `Timer`, `Ticker`) | `w` the timer heap (and the timer) |
//! | time passes (timers fire) | `w` everything |
//! | `goweave::rand`, `select!` among ready cases | no access: a data choice, every value explored |
//! | anything unclassified, or on no object | `w` everything |
//!
//! Spawn and join are happens-before, not conflicts: goroutines that never touch a common
//! object give one trace, whatever their number.
//!
//! **Blocking is enabledness.** A goroutine whose next operation would block is not offered
//! at a decision (unless nothing else is), so it never parks in an explored schedule where
//! something else could run, and "blocked first, then woken" is not a second trace of "run
//! after what unblocks it". How the strategy knows, per operation:
//!
//! - channel send and receive, `select!` without `default`, `WaitGroup::wait`,
//!   `Semaphore::acquire`, `Once` (while another call runs the function): the primitive
//!   announces the operation with a *probe*, a closure over its own state that the
//!   controlled executor keeps beside the pending event until the goroutine goes on
//!   ([`Decision::would_block`], `verdict::probe`). The answer is exact (the primitive's real
//!   state at the decision: buffer, waiting partners, closed flag, counter, units) and costs
//!   a store per scheduling point, plus a look under the primitive's lock only when asked;
//!   a shadow kept from the events could not be exact (the events do not carry a
//!   `WaitGroup` delta, a semaphore weight, or whether a send is a `try_send`).
//! - `Mutex`/`RwLock` lock and read lock, `join`: a shadow of each lock (who holds it, from
//!   the lock, unlock and `try_lock` events) and of which goroutines have finished. The pairs
//!   "unlock, then lock" and "exit, then join" are not reversible races; instead an
//!   acquisition races with the previous acquisitions of the same lock (through the unlock
//!   between them), unless it comes after them anyway (program order, creation, a wake-up),
//!   so that every lock order is explored.
//! - `Cond::wait` never blocks at its own event: it unlocks, queues and parks (a transition
//!   like any other); its relock is a lock.
//!
//! The parks that remain (everything blocked, or a goroutine woken to complete a hand-off)
//! are handled so as to count each trace once: the transition that resumes a goroutine
//! parked on a channel operation, `select!`, `WaitGroup::wait`, a semaphore, a `Once` or a
//! `Cond` touches nothing (its waker did the work) and happens after its waker; and a park
//! on a hand-off followed by the transition that completes it is not a reversible race (the
//! other order, the completer parking first, is the same rendezvous).
//!
//! One case keeps a goroutine that would block in play: an *observer* (a `try_send`,
//! `try_recv`, `select!` with or without `default`, `try_acquire`) sees whether a partner
//! is parked, so its race with a blocking operation is reversed even though that one would
//! block there: the reversal parks it first, and the observer takes its value (or, for a
//! `select!`, finds one more case ready).
//!
//! Known redundancy: an operation that would block, when it is its goroutine's *first*
//! (a receive, `select!`, semaphore acquire or `WaitGroup::wait` right at the start of a
//! goroutine). Its race with the operation that let it through is reversed by a sequence
//! that starts with that goroutine's start (code up to its first operation, which any
//! decision offers: the strategy cannot see what comes next), then runs the operation, which
//! parks and is completed by the other: the same trace, one schedule more (two goroutines on
//! a one-unit semaphore: 3 schedules for 2 traces; `tests/dpor_counts.rs`'s `select!` beside
//! an unrelated pair: 4 for 1). Unlike unlock-then-lock, such a pair cannot be declared
//! irreversible from the events (a buffered channel with room, or a larger semaphore, lets
//! the operation go first). Running every goroutine's start first, so that its operation is
//! visible at the decision, was tried: it made the counts worse, not better.

//! # Soundness and its limits
//!
//! Every trace is explored if the relation above over-approximates real interference. Its
//! known approximations, all on the side of more dependence (more schedules, never fewer):
//! `select!` writes every channel it names, even those it only found not ready (and every
//! channel when no decision's probe said which); time passing conflicts with everything;
//! unclassified operations conflict with everything. Operations goweave does not see (std
//! locks, memory outside `RaceCell`) are invisible to every strategy alike. Races between
//! `RaceCell` accesses are found by the vector-clock detector in any schedule of a trace.
//!
//! The end of a run is an event too: with leak checking off, a run ends when main returns,
//! and the goroutines still runnable then never take their next step. Which of their steps
//! ran before the end is part of the trace (a write that races, a panic), though no
//! transition of the run conflicts with the steps that did not run; each goroutine that
//! could have run at the decision that chose main's last transition is offered there
//! (`Dpor::cut_off`, `tests/dpor_ending.rs`). With leak checking on, the run goes on after
//! main returns until the others finish or block, and nothing is cut off.
//!
//! Receives get the lock rule too: a receive races with the previous receive of its
//! channel unless it comes after it anyway (program order, creation, a wake-up), even when
//! the send between them orders it after that one, so that which waiting receiver takes a
//! value is explored (`DPOR_DIFF_SEED=488`, program 141: one receiver passes the value on,
//! the other only takes it; the deadlock when the other takes the first value was missed;
//! `tests/dpor_receivers.rs`).
//!
//! A channel operation or `select!` that would block is offered all the same at a decision
//! where another option is about to run a `select!` naming one of its channels: parked
//! first, it is one more ready case of that `select!` (a partner to send to), which no order
//! of the enabled options gives. Found once the differential test compared the outcomes of
//! programs that also fail (both searches run on past failures, `Checker::run_to_end`):
//! `DPOR_DIFF_SEED=91`, program 65, where main's `select!` had to park before another
//! goroutine's `select!` sent to it, and every other schedule deadlocked
//! (`tests/dpor_missed_outcomes.rs`). Such a park is offered after the goroutines that can
//! run and before time passing: as the free choice, time ahead of it let a ticker-driven
//! worker's loop take ticks for ever (`tests/dpor_ticker.rs`). The benchmark's counts are
//! unchanged.
//!
//! A race's reversal that reaches a leaf of a wakeup tree through its own steps extends the
//! leaf ([`wut::Wut::insert`]) rather than being taken as covered by it, as in Abdulla et
//! al.: the free choice after the leaf may run a step whose reversal a sleeping goroutine
//! then claims to cover, while that goroutine's branch is the one the first reversal came
//! from (`DPOR_DIFF_SEED=5`, program 5; `tests/dpor_missed_outcomes.rs`).
//!
//! A data race does not end a schedule of this search ([`Strategy::runs_past_races`]): the
//! race is the schedule's failure, recorded as if it had ended the run (the same schedule,
//! report and trace: `tests/dpor_past_race.rs`), but the run goes on to its end, so that its
//! race analysis sees every step. A race reported early may sit before a chain of steps
//! that would have ordered the racing accesses (a lock order, then an atomic's order), whose
//! other orders lead to runs without the race; a run that stopped at the report never showed
//! them (`DPOR_DIFF_SEED=10`, program 87 of the split's differential, and seeds 14 and 18:
//! the single search reached no outcome at all; `tests/dpor_missed_outcomes.rs`). The plain
//! search runs past races too, so that both reach the same outcomes.
//!
//! A schedule that a failure does end (a panic; a deadlock ends it anyway) never runs the
//! steps the other goroutines announced at its last decision; they are added, with their
//! announced accesses, as transitions at its end for its race analysis (`Dpor::unran`), so
//! that a lock order that would have ordered two racing writes (and led past the race, to a
//! deadlock) is explored (`DPOR_DIFF_SEED=11`, program 183; `tests/dpor_missed_outcomes.rs`;
//! under a wrapper strategy that does not forward `runs_past_races`, races end runs and
//! `unran` covers the next step of each goroutine only).
//!
//! A data choice (`goweave::rand`, a `select!` among ready cases) inside a wakeup sequence:
//! the sequence reverses a race whatever the value, so every value of the choice follows
//! the rest of it, not only the first (`DPOR_DIFF_SEED=76`, program 194 of the split's
//! differential, and seeds 60, 75, 97 and 105: the later values made free choices from
//! there, and the reversal was missed for them; `tests/dpor_missed_outcomes.rs`).
//!
//! A race's reversal `v` is taken as covered by a goroutine asleep (or done) at its
//! decision that `v` does not run only if that goroutine commutes with `v` *and* with the
//! step that follows `v`'s last one in its goroutine. Abdulla et al.'s check (a weak
//! initial of `v`) asks the first only: some run that starts with `v` can put the sleeping
//! goroutine first, and its branch holds that run. But the runs the reversal is for go on
//! with that next step, and where the sleeping goroutine conflicts with it, its branch holds
//! them only with itself first. `DPOR_DIFF_SEED=83`, program 44 of the split's
//! differential: a poll (`try_recv`) was asleep where main's increment raced with a load,
//! and a `select!` on the polled channel came right after the load; the run with the load
//! first and the `select!` before the poll was left to the poller's branch, whose reversal
//! of the poll and the `select!` a wakeup tree merged into a branch that put a third
//! goroutine (a reader, whose steps commute with everything) to sleep, and that reader's
//! own branch was the schedule whose reversal the poller was said to cover: each claim of
//! coverage rested on the next, and none held the run (`tests/dpor_missed_outcomes.rs`).
//! The benchmark's counts are unchanged (`cargo bench --bench dpor`, and `-- split`).
//!
//! A wakeup sequence may also start with a step that would block at its decision (a park)
//! when an observer later in the sequence sees that park (a `try_send` to a receiver parked
//! first), not only when the race's own first step is the observer. `DPOR_DIFF_SEED=18`,
//! program 257 (shrunk in `tests/dpor_missed_outcomes.rs`): main's store had to come after
//! a load that follows a `try_send` to a parked receiver; the reversal of the store's race
//! with that load is the receiver's park, the `try_send`, the load, and was dropped because
//! the park would block where the store was chosen. A step that nobody chose (its goroutine
//! the only one left to run, as the `try_send` is once the receiver parks) observes if the
//! last decision said so of its goroutine (`Dpor::still_observes`).
//!
//! Known gaps: spin-count outcomes. (The split's gaps that its differential found are
//! closed, and the parts' counts of schedules do not always add up to the single search's:
//! see "Parallel search" below.)
//! (`DPOR_DIFF_SEED=28`, program 278, atomics under two mutexes, is reached since the
//! poller-run fix, the runs past races and the data choices that follow their wakeup
//! sequence.)
//!
//! Where the recorded wakeup sequence cannot be followed (a goroutine it names is not
//! runnable at that point, which the relation's approximations allow), the schedule goes on
//! with free choices; [`Dpor::diverged`] counts these.
//!
//! # Parallel search: a static split ([`Dpor::split`])
//!
//! `--shard i/n` and `--jobs N` run part `i + n·j` of `n·N` parts (job `j` of shard `i`);
//! each part is this search with a *frontier* near the top of the tree, above which every
//! part runs the same deterministic search and below which each part explores only its own
//! subtrees. Parts share nothing (they may be other machines), and their schedules add up to
//! the single search's count.
//!
//! - **Closed decisions.** Above the frontier, a decision with two or more enabled options
//!   not asleep there (its *candidates*) is *closed*: it explores every candidate, in the
//!   order the single search orders options, each with the candidates before it asleep (as a
//!   sleep-set search does after exploring them), and no wakeup sequence is ever inserted
//!   there (nor at any other decision above the frontier: they are explored alike in every
//!   part). Every candidate is a source set's superset (Abdulla et al.'s soundness argument
//!   holds for any superset); below the frontier the reduction runs unchanged.
//! - **Where the frontier is.** Along each path, decisions are closed until the product of
//!   their *weights* reaches `8n` (so round-robin dealing evens out subtrees of unequal
//!   sizes): a closed decision weighs 1 for its first candidate plus 1 for each later one
//!   whose next transition conflicts with an earlier one's. Candidates that commute (`main`
//!   going on against a child's start, which touches nothing) hardly split the work: most of
//!   their subtrees end sleep-set blocked; weighing them made one part get everything on
//!   the lock programs. The frontier also stops *before* a decision where a candidate is an
//!   observer and some option would block (the race analysis may run that option first
//!   there, which no candidate covers), and before one where every goroutine would block
//!   (which side of a rendezvous parks first is not a trace of its own: closing it counted
//!   the unbuffered ping-pong's one trace 8 times per part), and before one where every
//!   enabled option is asleep but a goroutine whose park an observer can see (a channel
//!   operation, `select!`, a semaphore) would block and is not: a wakeup sequence of the
//!   single search may have it park there, ahead of an observer (the split differential
//!   in `tests/dpor_differential.rs` found a `select!` outcome lost that way).
//! - **Dealing.** The frontier prefixes (a path through its last closed decision, one per
//!   candidate there; a decision the frontier stops before; or a whole schedule that never
//!   reached the frontier) are numbered in the order every part meets them (its depth-first
//!   order above the frontier, the same in every part), and prefix `p` is part `p % n`'s. A
//!   schedule that leads only to another part's prefix is run to its end (the controlled
//!   executor cannot stop a schedule early) and *wasted*; so is a *sleep-set blocked* one
//!   (every enabled goroutine asleep, at a decision or at a transition nobody chose, which
//!   the split reaches: Optimal DPOR never does where the relation is exact). Wasted runs
//!   are not counted as schedules ([`Strategy::wasted`], `Stats::wasted`) and report no
//!   failure (whatever they reach is explored in a schedule that counts, in some part).
//!   Nothing below the point where they became wasted is explored, except where an awake
//!   goroutine that would block could park where an observer sees it: there the run's races
//!   still insert wakeup sequences below (which may run it parked first); and where two
//!   awake ones would meet (a send and a receive on one channel), one parks at once.
//! - **Below a closed decision.** A closed decision's candidates go on with free choices,
//!   which never park a goroutine while another can run. The single search reaches such a
//!   park (one that an observer later in the run sees) by a wakeup sequence inserted at a
//!   decision that the split closes, and a closed decision gets none. Below it, the
//!   reversal that parks the goroutine first may begin with a step of a goroutine that the
//!   closed decision explored first (a step that ran in between, independent of the
//!   race), and that goroutine, asleep there, was taken to cover the reversal: its branch
//!   holds the runs with its step first, not the ones the park leads to. So below the
//!   frontier a reversal whose sequence parks a goroutine on a hand-off (a channel
//!   operation, `select!`, semaphore, `Once`, `WaitGroup::wait`) for an observer (one later
//!   in the sequence, or the step chosen at the decision, which the reversal moves after
//!   the park; conflicting on the object, not only through the yield flag) is not taken as
//!   covered by a goroutine asleep because a closed decision explored it
//!   (`Dpor::closed_sleepers`), and that goroutine's steps are taken out of the sequence,
//!   with what comes after them within it (`Exec::without`); where the race's own step
//!   comes after one of them, the sequence cannot do without it, and the sleeper covers it
//!   as before. Not below a decision where the schedule was sleep-set blocked: a goroutine
//!   asleep may have run since, and the reversal would explore a trace again. A park that
//!   no observer sees is left alone: which side of a hand-off waits is not a trace of its
//!   own, and taking every park counted more schedules for no outcome (over the sweep
//!   below, the parts' schedules were 1.040 times the single search's, against 1.022 with
//!   the observer). Why this and not the other two ways: stopping the frontier before the
//!   decisions where the single search may insert such a sequence means stopping it
//!   before every decision that starts a goroutine (what a goroutine does after its start
//!   is not known where the start is chosen), which is the top of most programs; inserting
//!   the sequences above the frontier needs the race, and only the part that owns the
//!   subtree where the race shows up runs it (parts share nothing). This rule applies
//!   where each part explores alone, and the single search has no closed decisions: it is
//!   unchanged.
//!
//! The split's own differential (`tests/dpor_differential.rs`, the second test): on the
//! generated programs the parts of 2, 3 and 4 reach exactly the single search's outcomes
//! and find a failure exactly when it does (60 programs in the suite; 296 of 300 compared
//! with `DPOR_SPLIT_PROGRAMS=300`). Wider, `DPOR_DIFF_SEED=0..121` with 300 programs each
//! (release, one test thread per process, `DPOR_SPLIT_PROGRAMS=300 DPOR_DIFF_SEED=<s>
//! cargo test --release --test dpor_differential -- --test-threads 1 --nocapture
//! the_parts`): no mismatch in 35,846 programs. Before the rule "Below a closed decision"
//! above: 3, all outcomes that only the single search reached (the split's gaps),
//! `DPOR_DIFF_SEED=18`, program 257, `DPOR_DIFF_SEED=34`, program 78, and
//! `DPOR_DIFF_SEED=103`, program 13, shrunk in `tests/dpor_split_gaps.rs` (before the two
//! fixes in "Soundness and its limits": 4 in 35,865, two of them outcomes the single search
//! missed; 15 in 35,903 before the runs went past races and every value of a data choice
//! followed its wakeup sequence). The shape of program 78: one goroutine loads `x`;
//! another receives from an unbuffered channel, then increments `x`; a third `try_send`s
//! on that channel; the load after the increment was missed. The single search reaches
//! that run by a wakeup sequence at the decision that chose the load, which starts the
//! receiver and parks it before the `try_send`. That decision is above the frontier;
//! below its candidate that starts the receiver, the reversal that parks it first began
//! with the load, whose goroutine the closed decision had explored first, and that
//! goroutine, asleep, was taken to cover it.
//!
//! Over the same 35,846 programs the single search runs 3,294,646 schedules and the parts
//! count 3,367,537 (1.022 times as many; 3,345,592 or 1.015 before the rule), with
//! 31,267,341 wasted runs (31,257,886 before): the parts' count equals the single one on
//! 25,891 programs (25,885 before, besides the 3 mismatches), is lower on 3,701 (3,767)
//! and higher on 6,254 (6,191). On seeds 0..29 (8,794 programs), per program against
//! before the rule: 6,360 equal both times, 910 lower and 1,499 higher both times, 5 lower
//! before and equal now, 13 lower before and higher now, 7 equal before and higher now.
//! Lower: the single search's redundancies (below). Higher: spin loops
//! (below), and a run that follows a wakeup sequence inserted below a decision where its
//! schedule was sleep-set blocked is counted, though a goroutine asleep there ran (the
//! first program of `tests/dpor_split_gaps.rs`, 2 parts: 4 schedules against the single
//! search's 3, one trace twice; before the rule the parts counted 3 too: that trace twice
//! and the missed one not at all).
//!
//! Where the single search runs a trace twice (its known redundancies), sleep sets leave it
//! to one part, so the parts count fewer schedules.
//!
//! Where every complete schedule is a distinct trace (sleep sets), the parts' schedules
//! add up to the single search's count, and each trace is explored by exactly one part
//! (`tests/dpor_split.rs`, 9 programs from the benchmark's kinds, 2, 3 and 4 parts; a
//! failure is reported by exactly the parts whose schedules hold it; its token is a list
//! of choices and replays whichever part found it). `cargo bench --bench dpor -- split`
//! on the benchmark's programs: the parts' counts add up on every program but Peterson's;
//! the largest part of 2 holds 1.00 of the even share on 14 of 19 programs (1.20 on
//! lastzero_2; 2.00 where there is only one trace), of 4 parts 1.00 to 1.33 where there are
//! at least 6 traces. The cost is the wasted runs, the same in every part (each part
//! explores the whole closed region): 1 to 231 per part on those programs (225 for 12
//! counted schedules per part on mutex_4x1), about 700 per part of 2 and 1,390 per part of 4
//! on 3 goroutines x 4 lock rounds (34,650 schedules: 4 % more runs in all with 2 parts,
//! 16 % with 4). In instructions (callgrind) the parts of 2 are 0.55 and 0.50 of the whole
//! search (5.5 % more in all), so 2 jobs can run it at most 1.81 times as fast; parts 1 and 2
//! of 4 are 0.29 and 0.31 of it. The rule "Below a closed decision" leaves the `split`
//! table as it was and costs 0.25 % of instructions (callgrind, `probe-split-0-2` 1,196.1M
//! -> 1,199.1M, `probe-split-1-2` 1,085.6M -> 1,088.3M; the whole search, `probe-dpor`,
//! whose logic it does not change, 2,157.4M -> 2,162.6M).
//!
//! Spin loops do not add up: on Peterson's algorithm the parts of 2 run 6,283 schedules
//! each (disjoint: no choice list in both, 10,682 wasted runs each) against the single
//! search's 7,352. Both reach the same 76 program-level traces (the benchmark's log of each
//! object's writes and the reads between them) and, counting each goroutine's spin
//! iterations, the same 32 pairs of counts as the plain search
//! (`tests/dpor_spin_outcomes.rs`). Above the frontier the parts explore every candidate,
//! as a plain search with sleep sets does, and a spin loop's decisions rarely raise the
//! frontier's product (its candidates commute), so most of Peterson's tree is above it.
//! The single search used to fall short there (2,487 schedules, 54 program-level traces, 24
//! pairs of spin counts): the poller's step that another goroutine letting it on could move
//! ahead is its re-read, not the return from `gosched` right after the yield (see
//! `Dpor::other_clearers`).
//!
//! The preemption-bounded `Dfs { max_preemptions: Some(k) }` is not split (part 0 runs it
//! whole). Nor is the work balanced dynamically: a job that finishes early does not take
//! over another's subtrees (a shared work queue for the jobs of one process, as in Yang,
//! Chen, Gopalakrishnan and Kirby's distributed DPOR, SPIN 2007, would).

//! # Preemption bounding
//!
//! `Dfs { max_preemptions: Some(k) }` does not run this reduction: it is the plain
//! preemption-bounded search ([`Dfs`](super::Dfs)), every interleaving with at most `k`
//! preemptions. Bounded partial-order reduction (Coons, Musuvathi, McKinley, OOPSLA 2013)
//! would need the races' reversals to respect the bound (a reversal may add preemptions, so
//! a bounded search must also schedule the cheaper alternatives that reach the same race);
//! it is not implemented. Both searches order a decision's options the same way
//! (`dfs::order`).
//!
//! # Data choices
//!
//! Data choices (`select!` among ready cases, `goweave::rand`) branch over every value, as in
//! [`Dfs`](super::Dfs).
//!
//! # Yields
//!
//! A goroutine that yields (`gosched`, a failed `try_send`/`try_recv`/`try_acquire`, a
//! `select!` that takes `default`, a load repeated where it spins) is, as in the plain
//! search, not an option at the next decision while another goroutine can run: that keeps
//! spin loops finite (a spin is not progress; the fair-scheduling assumption of stateless
//! model checkers). That rule is part of the state the searches explore, so the relation
//! has to say how transitions interfere with it, or DPOR treats as one trace two orders of
//! which only one can run: a poll just before another goroutine's independent step (which
//! lets the poller on) and just after it (the poller then has to wait for that goroutine's
//! next step, which may be the one it conflicts with). `DPOR_DIFF_SEED=3` and `4` of
//! `tests/dpor_differential.rs` found such programs (`tests/dpor_polling.rs` keeps them).
//!
//! The treatment: the scheduler's *yield flag* is a key ([`access::Key::Yield`]). The
//! transition after which its goroutine yielded *sets* it (a write); every transition, time
//! passing included, *clears* it (a read: clearing twice commutes, clearing and setting do
//! not). So a poll races with the transitions of other goroutines just before it (each of
//! which, moved after it, would be the one that lets the poller on) and with the one just
//! after it; the poller's next transition happens after that one (`Trans::cleared`), so a
//! wakeup sequence never runs the poller twice in a row while another could run. The
//! transitions after the one that cleared it find it clear whoever did; they neither race
//! with the yield nor are ordered after it through the flag (otherwise every later step of
//! every goroutine would come after every poll, hiding races behind it).
//!
//! Why this and not the alternatives: treating a failed poll as *blocking* until some other
//! goroutine writes what it read (GenMC's await / spin-assume, loom's yield-as-block) is
//! sound only for a loop whose failed iteration has no effect; a one-shot `try_recv`
//! followed by other work (seed 3) would lose the interleavings in which that work runs
//! before anybody touches the channel. Letting wakeup sequences run the poller on (an
//! earlier attempt) explores schedules the plain search never runs and made Peterson's spin
//! loop an endless search. With the flag, every schedule DPOR runs is one the plain search
//! runs too, so the search ends whenever the plain one does. The price is more traces for
//! programs that spin (the benchmark's Peterson: see its row), none for programs that do not
//! yield.
//!
//! A parked goroutine is also visible to a *poller* of its channel and to a `select!` that
//! has another case ready: the hand-off pair (parked, then completed) is a reversible race
//! when some goroutine polls that channel in the execution (with the partner parked first,
//! the poller can take its value: seed 19), and a `select!` (with or without `default`)
//! counts as an observer, so its race with an operation that would block is reversed (the
//! other side parked first makes one more of its cases ready: seed 18).
//!
//! *Which* goroutine lets a poller on is not a choice the relation sees either: the steps
//! that could run right after a poll all clear the flag (reads: they commute), but the
//! poller's next step comes after whichever ran. So when that next step conflicts with the
//! transition that cleared the flag (or with what came after that one, in happens-before,
//! before the step), every other option of the decision that chose the clearer is offered
//! there, followed by the poller's step (`Dpor::other_clearers`): another goroutine lets
//! the poller on, which may then overtake the first one. `DPOR_DIFF_SEED=351`, program 31,
//! found this (a `try_recv` that fails, then a send that must fill a buffer before another
//! goroutine's `select!`; `tests/dpor_polling.rs` has it shrunk). The poller's "step" is
//! its run from the clearing up to its next yield, not only its next transition: after a
//! `gosched`, that transition only returns from it, and the re-read of the flag is the one
//! after. Looking at the next transition only, the search missed 8 of the 32 pairs of spin
//! counts on Peterson's algorithm (main's `join` parking is one more goroutine that lets a
//! spinner on; `tests/dpor_spin_outcomes.rs`, and `tests/dpor_polling.rs` with one spinner).
//! Only such polls pay: programs that do not yield are unchanged.

mod access;
mod shadow;
mod slots;
mod trace;
mod wut;

use access::{of_event, of_resume, of_select, of_wake, Acc, Act};
use shadow::Locks;
use trace::Exec;
use wut::{Seq, Wut};

use super::{Decision, Note, Strategy, ValueDecision};
use crate::verdict::{Event, Op};

/// The pseudo-goroutine "time passes".
const TIME: u64 = 0;

/// The goroutine that runs the test body.
const MAIN: u64 = 1;

/// [`GNode::pick`] not known yet.
const UNKNOWN: usize = usize::MAX;

/// Set in a channel's id to name the queue of its senders (see `follow`).
const SEND_SLOT: u64 = 1 << 63;

/// A goroutine decision of the current schedule.
#[derive(Default)]
struct GNode {
    /// The options, in the order free choice prefers them ([`TIME`] for time).
    options: Vec<u64>,
    /// The options whose next operation would not block (all of them if none qualifies).
    enabled: Vec<u64>,
    /// The accesses each option's next transition is expected to make (filled for the options
    /// taken here, the only ones whose next transition is asked for: once they are done).
    next: Vec<Vec<Acc>>,
    /// The options whose next operation is a non-blocking one that can see a goroutine
    /// parked on its object (`try_send`, `try_recv`, `select!` with `default`,
    /// `try_acquire`): a race of one of these with a blocking operation is reversed even
    /// though that one would block here (its park is then what the observer sees).
    observers: Vec<u64>,
    /// Per option: the event it announced here, if it is running (not parked) and announced
    /// one (see `unran`).
    pending: Vec<Option<Event>>,
    /// Asleep here: explored from an earlier decision, and nothing conflicting since.
    sleep: Vec<(u64, Vec<Acc>)>,
    /// Options explored here before `chosen`.
    done: Vec<u64>,
    /// Branches still to explore here.
    wut: Wut,
    /// The largest object id seen up to here: ids up to it name the same objects in every
    /// schedule through this decision (ids are handed out in order).
    stable: u64,
    /// The same for goroutine ids (handed out in order too).
    stable_g: u64,
    chosen: u64,
    /// `chosen`'s index as the executor numbers the options (`Decision::index_of`, or time's
    /// index): what a replay of the decision answers. [`UNKNOWN`] until the decision is
    /// reached with `chosen` (a new branch is taken in `begin`, which has no decision at
    /// hand; the options leave out a goroutine that yielded, so they cannot tell).
    pick: usize,
    /// The strategy's state just before this decision (if `has_snap`: taken where there is
    /// more than one option, the only decisions a later schedule can branch at).
    snap: Snap,
    has_snap: bool,
    /// A split search only ([`Dpor::split`]): the decision is above the frontier, where every
    /// part explores the same options; no wakeup sequence is inserted here.
    above: bool,
    /// A split search only: a *closed* decision, which explores every option of `cands`, in
    /// order, each with the ones before it asleep.
    closed: bool,
    /// The options a closed decision explores: the enabled ones not asleep there.
    cands: Vec<u64>,
    /// How much a closed decision multiplies the frontier estimate by: its first candidate,
    /// and each later one whose next transition conflicts with an earlier one's (a candidate
    /// that commutes with the ones before it, such as a goroutine's start, mostly leads to
    /// schedules that become sleep-set blocked: it hardly splits the work).
    weight: u64,
    /// Above the frontier: the product of the candidate counts of the closed decisions before
    /// this one (the size of the frontier, as estimated from this path).
    product: u64,
    /// A split search: the schedule was sleep-set blocked here or at an earlier decision (a
    /// goroutine asleep may have run since; see [`Dpor::closed_sleepers`]).
    blocked: bool,
}

/// The strategy's per-schedule state just before a goroutine decision. A later schedule
/// that replays every decision up to this one (the execution is deterministic, so it
/// repeats this one's transitions up to here) skips the notes before it and starts from
/// this state, keeping the previous schedule's transitions and their analysis
/// ([`trace::Exec::truncate`]): a depth-first search's consecutive schedules share most of
/// their length, and following and analysing the shared part again was most of the
/// reduction's cost per schedule.
#[derive(Default)]
struct Snap {
    /// The transitions before the decision.
    t_len: usize,
    gs: Vec<GState>,
    max_obj: u64,
    locks: Locks,
    boundary: bool,
    open_yield: Option<u64>,
    pending_node: Option<usize>,
    /// How many `select!` channel lists there were ([`Dpor::sels`]).
    sels: usize,
    /// Debug builds: a hash of the notes before the decision and of the transitions they
    /// made, to check that a schedule that skips them would have seen the same.
    #[cfg(debug_assertions)]
    notes: u64,
    #[cfg(debug_assertions)]
    prefix: u64,
}

/// The static split of a search among parts (see "Parallel search" in the module docs).
struct Split {
    /// This part (from 0).
    part: u64,
    parts: u64,
    /// Frontier prefixes met so far, in the order every part meets them (the search's own
    /// depth-first order above the frontier, which is the same in every part).
    frontier: u64,
}

impl Split {
    /// The estimated number of frontier prefixes at which a path stops closing decisions: 8
    /// per part, so that round-robin dealing evens out subtrees of unequal sizes.
    fn threshold(&self) -> u64 {
        self.parts.saturating_mul(8)
    }
}

enum Node {
    /// Boxed: see `pick_goroutine`.
    G(Box<GNode>),
    Value {
        n: u64,
        chosen: u64,
        /// The wakeup subtree the schedule was following when it reached this choice: every
        /// value follows it (see `begin`).
        carry: Wut,
    },
}

/// The per-option next accesses of goroutine decision `n`.
fn node_next(n: &mut Node) -> &mut Vec<Vec<Acc>> {
    match n {
        Node::G(g) => &mut g.next,
        Node::Value { .. } => unreachable!("a goroutine decision"),
    }
}

/// What the strategy knows of a goroutine during a schedule (`Copy`: a [`Snap`] copies
/// every goroutine's).
#[derive(Clone, Copy, Default)]
struct GState {
    started: bool,
    parked: bool,
    exited: bool,
    /// The last event it committed, and the one before.
    last: Option<Event>,
    prev: Option<Event>,
    /// While parked: the operation it waits to complete (`last`, except in `Cond::wait`,
    /// which unlocks its mutex between its own event and the park).
    waits: Option<Event>,
    /// The transition that woke it from its latest park.
    woken_by: Option<usize>,
    /// Its transition running now or last.
    cur: Option<usize>,
    /// The transition that created it.
    creator: Option<usize>,
    /// It yielded, and this transition of another goroutine ran first after that: its next
    /// transition happens after this one.
    clearer: Option<usize>,
    /// The channels of the `select!` it is about to perform, as a decision's probe said (an
    /// index into [`Dpor::sels`]).
    next_select: Option<u32>,
    /// The channels of the `select!` it performed last, if known (the same).
    select: Option<u32>,
}

/// Exhaustive search with optimal dynamic partial-order reduction (see the module docs).
pub struct Dpor {
    nodes: Vec<Node>,
    /// Decisions (goroutine and value) taken so far in this schedule.
    depth: usize,
    /// The node that took a new branch in `begin`: nodes before it replay.
    fresh_from: usize,
    /// The first goroutine decision whose sleep set the schedule needs (see `pick_goroutine`).
    sleep_from: usize,
    /// The wakeup subtree to follow from here.
    carry: Wut,
    /// The subtree below the branch `begin` took, followed once that decision is reached.
    next_carry: Wut,
    /// Asleep now, with the accesses of their next transitions.
    sleep: Vec<(u64, Vec<Acc>)>,
    exec: Exec,
    gs: Vec<GState>,
    /// The largest object id seen so far in this schedule.
    max_obj: u64,
    /// Locks by object id.
    locks: Locks,
    /// A decision was taken: the next transition starts a new one.
    boundary: bool,
    /// The goroutine that yielded at the latest decision, until a transition starts.
    open_yield: Option<u64>,
    /// The node of the decision whose transition starts next.
    pending_node: Option<usize>,
    /// The last transition whose effect on the sleep set has been applied.
    closed: usize,
    exhausted: bool,
    /// Schedules in which every option was asleep at some decision.
    blocked: u64,
    /// The static split of the search, if this is one part of it.
    split: Option<Split>,
    /// A split search: runs that only led to another part's subtree.
    elsewhere: u64,
    /// While the schedule is above the split's frontier: the product of the candidate counts
    /// of its closed decisions so far.
    above: Option<u64>,
    /// Decisions from this one on belong to no subtree of this search (the schedule became
    /// sleep-set blocked there, or it went into another part's subtree): dropped when the
    /// schedule ends, and no wakeup sequence is inserted there.
    prune: Option<usize>,
    /// The schedule just ended explored nothing of this search's own ([`Strategy::wasted`]).
    wasted: bool,
    /// No schedule has begun yet (the first `begin` starts the search whatever its index).
    fresh: bool,
    /// Schedules in which a wakeup sequence could not be followed.
    diverged: u64,
    /// This schedule was counted in `blocked` / `diverged`.
    marked: (bool, bool),
    scratch: Vec<u64>,
    /// The races of the schedule just run (kept for its allocation).
    races: Vec<(usize, usize)>,
    /// Goroutine decisions of earlier schedules, popped, whose vectors a new decision reuses
    /// (allocating them afresh was a large share of a schedule's cost).
    /// Boxed as in `nodes`: popping and pushing one moves a pointer.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<GNode>>,
    /// While the schedule replays the decisions before this one, whose state a [`Snap`]
    /// holds: notes are skipped, and the state is restored when it is reached.
    skip_to: Option<usize>,
    /// The channel lists of this schedule's `select!`s ([`GState::select`]).
    sels: Vec<Vec<u64>>,
    /// Debug builds: a hash of the notes of this schedule so far (see [`Snap`]).
    #[cfg(debug_assertions)]
    note_hash: u64,
}

impl Default for Dpor {
    fn default() -> Self {
        Dpor::new()
    }
}

impl Dpor {
    /// A fresh search.
    pub fn new() -> Dpor {
        Dpor {
            nodes: Vec::new(),
            depth: 0,
            fresh_from: 0,
            sleep_from: 0,
            carry: Wut::default(),
            next_carry: Wut::default(),
            sleep: Vec::new(),
            exec: Exec::default(),
            gs: Vec::new(),
            max_obj: 0,
            locks: Default::default(),
            boundary: false,
            open_yield: None,
            pending_node: None,
            closed: 0,
            exhausted: false,
            blocked: 0,
            diverged: 0,
            marked: (false, false),
            scratch: Vec::new(),
            races: Vec::new(),
            spare: Vec::new(),
            skip_to: None,
            sels: Vec::new(),
            split: None,
            elsewhere: 0,
            above: None,
            prune: None,
            wasted: false,
            fresh: true,
            #[cfg(debug_assertions)]
            note_hash: 0,
        }
    }

    /// Part `part` (from 0) of `parts` of the search, split statically (see "Parallel
    /// search" in the module docs): the parts explore disjoint sets of traces whose union is
    /// the whole search's, and their counts of schedules add up to its count.
    ///
    /// # Panics
    ///
    /// If `part >= parts`.
    pub fn split(part: u64, parts: u64) -> Dpor {
        assert!(
            part < parts,
            "Dpor::split: part {part} of {parts} (parts count from 0)"
        );
        let mut d = Dpor::new();
        if parts > 1 {
            d.split = Some(Split {
                part,
                parts,
                frontier: 0,
            });
        }
        d
    }

    /// A split search: schedules run only to find the way to another part's subtree (not
    /// counted as explored; see "Parallel search" in the module docs).
    pub fn elsewhere(&self) -> u64 {
        self.elsewhere
    }

    /// A split search: the frontier prefixes met so far, this part's and the others'.
    pub fn frontier(&self) -> u64 {
        self.split.as_ref().map_or(0, |s| s.frontier)
    }

    /// The split's state after decision `n`, given the state before it (`n.product` if
    /// `n.above`): still above the frontier, with the product so far, or below it.
    fn after(&self, n: &GNode) -> Option<u64> {
        let s = self.split.as_ref()?;
        if !n.above {
            return None;
        }
        if !n.closed {
            return Some(n.product);
        }
        let p = n.product.saturating_mul(n.weight);
        (p < s.threshold()).then_some(p)
    }

    /// A frontier prefix met for the first time: its index, and whether it is this part's.
    fn meet_prefix(&mut self) -> bool {
        let s = self.split.as_mut().expect("a split search");
        let k = s.frontier;
        s.frontier += 1;
        k % s.parts == s.part
    }

    /// The schedule explores nothing of this part's from decision `k` on.
    fn go_elsewhere(&mut self, k: usize) {
        if self.prune.is_none_or(|p| k < p) {
            self.prune = Some(k);
        }
        if !self.wasted {
            self.wasted = true;
            self.elsewhere += 1;
        }
    }

    /// True once every trace has been explored.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Schedules that reached a decision where every option was asleep (redundant work;
    /// zero when the relation is exact for the program).
    pub fn sleep_blocked(&self) -> u64 {
        self.blocked
    }

    /// Schedules in which a wakeup sequence could not be followed to its end.
    pub fn diverged(&self) -> u64 {
        self.diverged
    }

    /// An estimate of the schedules left: the branches recorded in the wakeup trees of the
    /// current schedule's decisions and the untried values of its data choices (each leads
    /// to at least one schedule; their subtrees may hold more).
    pub fn pending(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| match n {
                Node::G(g) => g.wut.children.len() as u64,
                Node::Value { n, chosen, .. } => n - 1 - chosen,
            })
            .sum()
    }

    fn gs(&mut self, g: u64) -> &mut GState {
        let i = g as usize;
        if self.gs.len() <= i {
            self.gs.resize(i + 1, GState::default());
        }
        &mut self.gs[i]
    }

    /// The expected accesses of `g`'s next transition, into `v` (cleared first).
    fn next_into(&self, g: u64, d: &Decision<'_>, v: &mut Vec<Acc>) {
        v.clear();
        if g == TIME {
            v.push(Acc::time());
            v.push(Acc::clears_yield());
            return;
        }
        let st = self.gs.get(g as usize);
        if let Some(st) = st.filter(|s| s.parked) {
            if let Some(ev) = st.waits {
                of_resume(&ev, v);
            }
            v.push(Acc::clears_yield());
            return;
        }
        if let Some(i) = d.index_of(g) {
            if let Some(p) = d.pending(i) {
                if p.event.op == Op::Select {
                    let mut objs = Vec::new();
                    d.objects(i, &mut objs);
                    of_select((!objs.is_empty()).then_some(&objs), Act::Op(Op::Select), v);
                } else {
                    of_event(&p.event, v);
                }
            }
        }
        v.push(Acc::clears_yield());
    }

    /// Note the channels of the pending `select!` of `runnable[i]`, if that is what it is
    /// about to do.
    fn select_objects(&mut self, i: usize, d: &Decision<'_>) {
        let Some(&g) = d.runnable.get(i) else {
            return;
        };
        if d.pending(i).is_some_and(|p| p.event.op == Op::Select) {
            let mut objs = Vec::new();
            d.objects(i, &mut objs);
            let next = (!objs.is_empty()).then(|| {
                self.sels.push(objs);
                (self.sels.len() - 1) as u32
            });
            self.gs(g).next_select = next;
        }
    }

    /// Apply the transitions finished since the last call to the sleep set: a goroutine
    /// wakes up when something it conflicts with happens (or when it runs itself).
    #[inline]
    fn close(&mut self) {
        // Called at every decision and transition start; usually nothing is new.
        if self.closed < self.exec.t.len() {
            self.close_new();
        }
    }

    #[inline(never)]
    fn close_new(&mut self) {
        while self.closed < self.exec.t.len() {
            let t = &self.exec.t[self.closed];
            if !self.sleep.is_empty() {
                self.sleep
                    .retain(|(q, next)| *q != t.g && !access::any_dependent(next, &t.acc));
            }
            // The lock shadow: what the transition acquired and released. A lock operation
            // it parked on did not happen (it completes when the goroutine resumes).
            let n = t.locks.len();
            for (k, &(op, o)) in t.locks.iter().enumerate() {
                let blocked = t.parked && k + 1 == n && matches!(op, Op::Lock | Op::RLock);
                if blocked {
                    continue;
                }
                let l = self.locks.entry(o);
                match op {
                    Op::Lock => l.writer = true,
                    Op::TryLock if !l.writer && l.readers == 0 => l.writer = true,
                    Op::RLock => l.readers += 1,
                    Op::TryRLock if !l.writer => l.readers += 1,
                    Op::Unlock => l.writer = false,
                    Op::RUnlock => l.readers = l.readers.saturating_sub(1),
                    _ => {}
                }
            }
            self.closed += 1;
        }
    }

    /// What decision `d` tells of option `g`, each probe asked once: whether its next
    /// operation would not block, as far as the strategy can tell (a lock on a lock it sees
    /// held, or a join of a goroutine that has not finished, would); whether it is a
    /// non-blocking operation that may see a goroutine parked on its object (a channel or
    /// semaphore operation that does not say whether it would block: it never does; a
    /// `Semaphore::release` is taken for one too, which is sound: more reversals, never
    /// fewer); and its pending event.
    fn classify(&self, g: u64, d: &Decision<'_>) -> (bool, bool, Option<Event>) {
        if g == TIME {
            return (true, false, None);
        }
        let Some(i) = d.index_of(g) else {
            return (true, false, None);
        };
        let pending = d.pending(i);
        let obj = pending.map(|p| p.event);
        if self.gs.get(g as usize).is_some_and(|s| s.parked) {
            // Woken: it completes its operation (or parks again).
            return (true, false, obj);
        }
        // The primitives that can say answer exactly (channels, select!, WaitGroup,
        // Semaphore, Once); locks and joins are read from the shadow.
        let says = d.would_block(i);
        let runs = match (says, pending) {
            (Some(blocks), _) => !blocks,
            (None, None) => true,
            (None, Some(p)) => {
                let ev = p.event;
                match ev.op {
                    Op::Join => self.gs.get(ev.obj.0 as usize).is_some_and(|s| s.exited),
                    Op::Lock | Op::RLock => {
                        let l = self.locks.get(ev.obj.0).unwrap_or_default();
                        !l.writer && (ev.op == Op::RLock || l.readers == 0)
                    }
                    _ => true,
                }
            }
        };
        // A `select!` sees a parked partner as one more ready case (a choice it would not
        // have if the partner came later), with or without `default`.
        let observes = pending.is_some_and(|p| {
            p.event.op == Op::Select
                || (says.is_none()
                    && matches!(p.event.op, Op::ChanSend | Op::ChanRecv | Op::Semaphore))
        });
        (runs, observes, obj)
    }

    /// Start a transition of `g`.
    fn start(&mut self, g: u64) -> usize {
        // The previous transition is over: its whole effect on the sleep set applies.
        self.exec.seal();
        self.close();
        let node = self.pending_node.take();
        // The only goroutine that can run is asleep (no decision offered another): the
        // schedule is sleep-set blocked from here, as at a decision where every option is.
        if node.is_none() && !self.marked.0 && self.sleep.iter().any(|(q, _)| *q == g) {
            self.marked.0 = true;
            self.blocked += 1;
            self.wasted = true;
            let k = self.depth;
            if self.prune.is_none_or(|p| k < p) {
                self.prune = Some(k);
            }
        }
        if node.is_none() && !self.carry.is_empty() {
            // A transition nobody chose (the only option): follow the tree through it.
            match std::mem::take(&mut self.carry).descend(g) {
                Some(sub) => self.carry = sub,
                None => self.mark_diverged(),
            }
        }
        self.boundary = false;
        let i = self.exec.push(g, node);
        match node {
            Some(k) => {
                if let Some(Node::G(n)) = self.nodes.get(k) {
                    self.exec.t[i].observer = n.observers.contains(&g);
                }
            }
            None => self.exec.t[i].observer = self.still_observes(g, i),
        }
        // The first transition after a yield, of another goroutine (or time), clears the flag:
        // the one that yielded may run again, after it.
        if let Some(y) = self.open_yield.take() {
            if y != g {
                self.gs(y).clearer = Some(i);
            }
        }
        if g != TIME {
            let s = self.gs(g);
            s.cur = Some(i);
            let cleared = s.clearer.take();
            self.exec.t[i].cleared = cleared;
        }
        i
    }

    /// Transition `i` of `g` starts where nobody chose it (it was the only option): it
    /// performs the operation `g` announced at the last decision, if `g` has not run since
    /// then, and that decision says whether it observes (a `try_send` to a goroutine that
    /// parked after that decision, as a wakeup sequence may have it do).
    #[cold]
    fn still_observes(&self, g: u64, i: usize) -> bool {
        let Some(at) = self.exec.t[..i].iter().rposition(|t| t.node.is_some()) else {
            return false;
        };
        let k = self.exec.t[at].node.expect("a decision");
        let Some(Node::G(n)) = self.nodes.get(k) else {
            return false;
        };
        n.chosen != g && n.observers.contains(&g) && !self.exec.t[at..i].iter().any(|t| t.g == g)
    }

    /// `d` is taken where its current goroutine yielded: the transition that brought it there
    /// sets the yield flag (see "Yields" in the module docs), and so does, for the decision
    /// that chose it, the transition that option stands for once it is done there.
    fn yielded(&mut self, d: &Decision<'_>) {
        let (true, Some(g)) = (d.yielded, d.current) else {
            return;
        };
        let Some(t) = self.exec.t.last_mut().filter(|t| t.g == g) else {
            return;
        };
        if !t.acc.contains(&Acc::yielded()) {
            t.acc.push(Acc::yielded());
            t.yields = true;
        }
        self.open_yield = Some(g);
        if let Some(Node::G(node)) = t.node.and_then(|n| self.nodes.get_mut(n)) {
            if let Some(k) = node.options.iter().position(|&o| o == g) {
                let next = &mut node.next[k];
                if !next.contains(&Acc::yielded()) {
                    next.push(Acc::yielded());
                }
            }
        }
    }

    /// Among `options` not in `enabled` and not asleep, the first whose pending channel
    /// operation can meet another one's (a send and a receive, or a `select!`, on one channel).
    fn rendezvous(&self, options: &[u64], enabled: &[u64], d: &Decision<'_>) -> Option<u64> {
        let chans = |g: u64| -> Vec<(Op, u64)> {
            let Some(i) = d.index_of(g) else {
                return Vec::new();
            };
            let Some(p) = d.pending(i) else {
                return Vec::new();
            };
            match p.event.op {
                Op::ChanSend | Op::ChanRecv => vec![(p.event.op, p.event.obj.0)],
                Op::Select => {
                    let mut objs = Vec::new();
                    d.objects(i, &mut objs);
                    objs.into_iter().map(|o| (Op::Select, o)).collect()
                }
                _ => Vec::new(),
            }
        };
        let waiting: Vec<(u64, Vec<(Op, u64)>)> = options
            .iter()
            .filter(|&&g| {
                g != TIME && !enabled.contains(&g) && !self.sleep.iter().any(|(q, _)| *q == g)
            })
            .map(|&g| (g, chans(g)))
            .collect();
        let meet = |a: &(Op, u64), b: &(Op, u64)| a.1 == b.1 && (a.0 != b.0 || a.0 == Op::Select);
        waiting.iter().find_map(|(g, mine)| {
            let other = waiting.iter().any(|(h, theirs)| {
                h != g && mine.iter().any(|a| theirs.iter().any(|b| meet(a, b)))
            });
            other.then_some(*g)
        })
    }

    /// Among `options` not in `enabled`: those whose pending channel operation or `select!`
    /// would block on a channel that another option's pending `select!` names.
    fn parks_for_select(&self, options: &[u64], enabled: &[u64], d: &Decision<'_>) -> Vec<u64> {
        // Most decisions have no `select!` pending: answered from the events alone, without
        // asking any option for its channels.
        let any_select =
            (0..d.runnable.len()).any(|i| d.pending(i).is_some_and(|p| p.event.op == Op::Select));
        if !any_select {
            return Vec::new();
        }
        let chans = |g: u64| -> Option<(Op, Vec<u64>)> {
            let i = d.index_of(g)?;
            let p = d.pending(i)?;
            match p.event.op {
                Op::ChanSend | Op::ChanRecv => Some((p.event.op, vec![p.event.obj.0])),
                Op::Select => {
                    let mut objs = Vec::new();
                    d.objects(i, &mut objs);
                    Some((Op::Select, objs))
                }
                _ => None,
            }
        };
        let selects: Vec<(u64, Vec<u64>)> = options
            .iter()
            .filter(|&&g| g != TIME)
            .filter_map(|&g| match chans(g) {
                Some((Op::Select, objs)) => Some((g, objs)),
                _ => None,
            })
            .collect();
        if selects.is_empty() {
            return Vec::new();
        }
        options
            .iter()
            .copied()
            .filter(|&g| g != TIME && !enabled.contains(&g))
            .filter(|&g| {
                chans(g).is_some_and(|(_, mine)| {
                    selects
                        .iter()
                        .any(|(h, theirs)| *h != g && mine.iter().any(|c| theirs.contains(c)))
                })
            })
            .collect()
    }

    /// True if `g`'s pending operation, if it blocks, parks where another goroutine can see
    /// it (a channel operation, `select!`, a semaphore: an observer takes a parked partner
    /// into account), unlike a lock or a join, whose park nothing observes.
    fn observable_park(g: u64, d: &Decision<'_>) -> bool {
        g != TIME
            && d.index_of(g).and_then(|i| d.pending(i)).is_some_and(|p| {
                matches!(
                    p.event.op,
                    Op::ChanSend | Op::ChanRecv | Op::Select | Op::Semaphore
                )
            })
    }

    fn mark_diverged(&mut self) {
        if !self.marked.1 {
            self.marked.1 = true;
            self.diverged += 1;
        }
    }

    /// The options of a decision, in `Dfs`'s order (its first is the free choice), into
    /// `scratch`.
    fn options(&mut self, d: &Decision<'_>) {
        self.scratch.clear();
        super::dfs::order(d, &mut self.scratch);
        if d.time.is_some() {
            self.scratch.push(TIME);
        }
    }

    /// Race analysis of the schedule just run: insert the reversals into the wakeup trees.
    fn analyse(&mut self) {
        // Races within the part replayed from the previous schedule were handled then: the
        // transitions, and the sleep sets of the decisions before the new branch, are the same.
        // (The first transition chosen at or after that decision: found from the end, the
        // decisions of the transitions increasing, as the new part is the short one.)
        let mut fresh = 0;
        for (i, t) in self.exec.t.iter().enumerate().rev() {
            match t.node {
                Some(n) if n >= self.fresh_from => fresh = i,
                Some(_) => break,
                None => {}
            }
        }
        debug_assert_eq!(
            fresh,
            self.exec
                .t
                .iter()
                .position(|t| t.node.is_some_and(|n| n >= self.fresh_from))
                .unwrap_or(0)
        );
        // The analysis of the transitions kept from the previous schedule (see `begin`) is
        // kept too: only the later ones are analysed.
        let real = self.exec.t.len();
        self.unran();
        let mut races = std::mem::take(&mut self.races);
        self.exec.analyse(&mut races);
        for &(i, j) in &races {
            if j < fresh {
                continue;
            }
            let Some(n) = self.exec.t[i].node else {
                continue; // Nobody else could run there.
            };
            let Node::G(node) = &self.nodes[n] else {
                continue;
            };
            let v = self.exec.notdep(i, j);
            let first = self.exec.t[v[0]].g;
            // The first may be a goroutine that would block here if the race was with an
            // observer of its park, or if the sequence parks it for an observer later in it
            // (a `try_send` to it, then the step that races with the one chosen here:
            // `tests/dpor_missed_outcomes.rs`, the store after a `try_send`).
            let observed = node.observers.contains(&node.chosen) || {
                let p = &self.exec.t[v[0]];
                p.parked
                    && v[1..].iter().any(|&k| {
                        let o = &self.exec.t[k];
                        o.observer && access::any_dependent(&p.acc, &o.acc)
                    })
            };
            if (!node.enabled.contains(&first) && !observed) || first == node.chosen {
                continue;
            }
            self.offer(n, v);
        }
        // A race the relation cannot see: an observer (a `select!`, a poll) that could run at
        // a decision and conflicts with what ran there, but whose own next transition came
        // after it through others (a `select!` that took another case, readied by a chain
        // starting there). Run it there first; a branch already recorded that covers it
        // makes this nothing.
        let mut late = Vec::new();
        for i in fresh..self.exec.t.len() {
            let Some(n) = self.exec.t[i].node else {
                continue;
            };
            let Node::G(node) = &self.nodes[n] else {
                continue;
            };
            if node.observers.is_empty() {
                continue;
            }
            for (k, &p) in node.options.iter().enumerate() {
                if p == node.chosen
                    || !node.observers.contains(&p)
                    || !node.enabled.contains(&p)
                    || !access::any_dependent(&node.next[k], &self.exec.t[i].acc)
                {
                    continue;
                }
                if let Some(j) = (i + 1..self.exec.t.len()).find(|&j| self.exec.t[j].g == p) {
                    late.push((n, j));
                }
            }
        }
        for (n, j) in late {
            self.offer(n, vec![j]);
        }
        if self.exec.t.len() > real {
            self.exec.drop_tail(real);
        }
        self.other_clearers(fresh);
        self.cut_off();
        self.races = races;
    }

    /// A schedule that a failure ended (a race report, a panic) never ran the steps the
    /// other goroutines had announced at its last decision; what they conflict with in the
    /// run is part of what the search must reverse (a lock order that would have ordered two
    /// racing writes, and so led past the race to a deadlock: `tests/dpor_missed_outcomes.rs`,
    /// the third program). Each such step is added, with the accesses of its announced
    /// event, as a transition at the end for the race analysis, and taken away after it.
    /// (A run that ends when main returns is `cut_off`'s.)
    fn unran(&mut self) {
        let Some(l) = self.nodes.iter().rposition(|n| matches!(n, Node::G(_))) else {
            return;
        };
        let Node::G(node) = &self.nodes[l] else {
            return;
        };
        let Some(at) = self.exec.t.iter().rposition(|t| t.node == Some(l)) else {
            return;
        };
        let last = self.exec.t.last().expect("a transition");
        if last.g == MAIN && last.acc.contains(&Acc::exit(MAIN)) {
            return;
        }
        let mut add = Vec::new();
        for (k, &g) in node.options.iter().enumerate() {
            let Some(ev) = node.pending.get(k).copied().flatten() else {
                continue;
            };
            if g == node.chosen
                || self.exec.t[at..].iter().any(|t| t.g == g)
                || self
                    .gs
                    .get(g as usize)
                    .is_some_and(|s| s.exited || s.parked)
            {
                continue;
            }
            add.push((g, ev));
        }
        for (g, ev) in add {
            let t = self.exec.push(g, None);
            let tr = &mut self.exec.t[t];
            of_event(&ev, &mut tr.acc);
            if matches!(ev.op, Op::Lock | Op::RLock | Op::TryLock | Op::ChanRecv) {
                tr.acquires.push((ev.op, ev.obj.0));
            }
            if ev.op == Op::ChanSend {
                tr.acquires.push((ev.op, ev.obj.0 | SEND_SLOT));
            }
        }
    }

    /// A run that ends when main returns (with leak checking off, nothing runs after it)
    /// never takes the next steps of the goroutines still runnable then: ending conflicts with
    /// them, though no transition of this run says so. Offer each such goroutine at the
    /// decision that chose main's last transition, its step taken to conflict with
    /// everything (it did not run: what it would touch is not known). Programs whose main
    /// joins every goroutine have none to offer.
    fn cut_off(&mut self) {
        let n = self.exec.t.len();
        let Some(last) = self.exec.t.last() else {
            return;
        };
        if last.g != MAIN || !last.acc.contains(&Acc::exit(MAIN)) {
            return;
        }
        let Some(Node::G(node)) = last.node.map(|k| &self.nodes[k]) else {
            return;
        };
        let k = last.node.expect("a decision");
        let cut: Vec<u64> = node
            .options
            .iter()
            .copied()
            .filter(|&o| o != MAIN && o != TIME && o != node.chosen && node.enabled.contains(&o))
            .collect();
        for o in cut {
            let t = self.exec.push(o, None);
            self.exec.t[t].acc.push(Acc::time());
            self.offer(k, vec![t]);
        }
        self.exec.forget_from(n);
    }

    /// A race the relation cannot see either: *which* goroutine lets a poller on (see
    /// "Yields" in the module docs). A poller's next transition `j` comes after the
    /// transition `c` that cleared its yield flag, and so do its later ones. If one of them,
    /// up to its next yield (`Exec::poll_run`: after a `gosched`, `j` only returns from it
    /// and the re-read comes next), conflicts with `c`, or with what comes after `c` in
    /// happens-before before it, then with another goroutine clearing the flag instead, it
    /// could have come first. Clearing is a read (clears commute), so no race says so:
    /// offer, at the decision that chose `c`, each other option's next transition followed
    /// by `j`. Only such polls pay: a poller whose run touches nothing of what the clearer
    /// started adds nothing.
    fn other_clearers(&mut self, fresh: usize) {
        let mut offers = Vec::new();
        let mut run = Vec::new();
        for j in fresh..self.exec.t.len() {
            let Some(c) = self.exec.t[j].cleared else {
                continue;
            };
            let Some(n) = self.exec.t[c].node else {
                continue; // Nobody else could run there.
            };
            let Node::G(node) = &self.nodes[n] else {
                continue;
            };
            let pg = self.exec.t[j].g;
            // Let on by another goroutine, the poller may run on ahead of `c` until it
            // yields again: its conflicting step may be a later one than `j` (after
            // `gosched`, `j` only returns from it; the re-read of the flag comes next).
            self.exec.poll_run(j, &mut run);
            let real = |x: &Acc, y: &Acc| x.key != access::Key::Yield && access::dependent(x, y);
            let hidden = run.iter().any(|&s| {
                (c..s).any(|i| {
                    let ti = &self.exec.t[i];
                    ti.g != pg
                        && self.exec.hb(c, i)
                        && ti
                            .acc
                            .iter()
                            .any(|x| self.exec.t[s].acc.iter().any(|y| real(x, y)))
                })
            });
            if !hidden {
                continue;
            }
            for &o in &node.options {
                if o == node.chosen || o == pg || !node.enabled.contains(&o) {
                    continue;
                }
                let k = (c + 1..j)
                    .find(|&k| self.exec.t[k].g == o)
                    .or_else(|| (j + 1..self.exec.t.len()).find(|&k| self.exec.t[k].g == o));
                // Then `j`: the free choice runs the poller on from there (and a race of its
                // later step with `c`, no longer hidden behind the clearing, is reversed
                // like any other). Running its whole run to that step explored more
                // schedules (Peterson's: 8,004 against 7,352) and no more traces.
                if let Some(k) = k {
                    offers.push((n, vec![k, j]));
                }
            }
        }
        for (n, v) in offers {
            self.offer(n, v);
        }
    }

    /// Follow note `n` (outside the replayed prefix).
    #[inline(never)]
    fn follow(&mut self, n: Note) {
        match n {
            Note::Spawned { parent, child } => {
                let creator = self.gs.get(parent as usize).and_then(|s| s.cur);
                self.gs(child).creator = creator;
            }
            Note::Run(g) => {
                let st = self.gs(g);
                let (started, parked, creator, woken_by, waits) =
                    (st.started, st.parked, st.creator, st.woken_by, st.waits);
                let t = self.start(g);
                let tr = &mut self.exec.t[t];
                if !started {
                    tr.creator = creator;
                } else if parked {
                    tr.resumed = true;
                    tr.waker = woken_by;
                    if let Some(ev) = waits {
                        of_resume(&ev, &mut tr.acc);
                        if matches!(ev.op, Op::Lock | Op::RLock) {
                            tr.acquires.push((ev.op, ev.obj.0));
                            tr.locks.push((ev.op, ev.obj.0));
                        }
                    }
                }
                let s = self.gs(g);
                s.started = true;
                s.parked = false;
            }
            Note::Commit(g, ev) => {
                let cur = self.exec.t.len().checked_sub(1);
                let t = match cur {
                    Some(t) if !self.boundary && self.exec.t[t].g == g => t,
                    _ => self.start(g),
                };
                self.max_obj = self.max_obj.max(ev.obj.0);
                if ev.op == Op::Select {
                    let s = self.gs(g);
                    s.select = s.next_select.take();
                    let objs = s.select.map(|k| &self.sels[k as usize][..]);
                    let top = objs.iter().copied().flatten().copied().max().unwrap_or(0);
                    self.max_obj = self.max_obj.max(top);
                    of_select(objs, Act::Op(Op::Select), &mut self.exec.t[t].acc);
                } else {
                    of_event(&ev, &mut self.exec.t[t].acc);
                }
                let tr = &mut self.exec.t[t];
                // A receive takes what is in the buffer as an acquisition takes a lock: it
                // races with the previous receive of its channel even when the send between
                // them orders it after that one (which receiver gets the value).
                if matches!(ev.op, Op::Lock | Op::RLock | Op::TryLock | Op::ChanRecv) {
                    tr.acquires.push((ev.op, ev.obj.0));
                }
                // And a send races with the previous send on its channel, even when the
                // receive between them orders it after that one (whose value is taken first:
                // two senders on an unbuffered channel, `tests/dpor_receivers.rs`). The
                // sends' queue is a slot of its own (the channel's id with the top bit set).
                if ev.op == Op::ChanSend {
                    tr.acquires.push((ev.op, ev.obj.0 | SEND_SLOT));
                }
                if matches!(
                    ev.op,
                    Op::Lock | Op::RLock | Op::TryLock | Op::TryRLock | Op::Unlock | Op::RUnlock
                ) {
                    tr.locks.push((ev.op, ev.obj.0));
                }
                let s = self.gs(g);
                s.prev = s.last;
                s.last = Some(ev);
                s.started = true;
            }
            Note::Park(g) => {
                let s = self.gs(g);
                let waits = match (s.prev, s.last) {
                    (Some(c), Some(u))
                        if c.op == Op::Cond && matches!(u.op, Op::Unlock | Op::RUnlock) =>
                    {
                        Some(c)
                    }
                    (_, last) => last,
                };
                s.waits = waits;
                s.parked = true;
                s.woken_by = None;
                if let Some(tr) = self.exec.t.last_mut() {
                    if tr.g == g {
                        tr.parked = true;
                        tr.hand_off = waits.is_some_and(|e| access::handed_off(e.op));
                        // Parked on a lock: it did not acquire that one (it does when it
                        // resumes).
                        if waits.is_some_and(|e| matches!(e.op, Op::Lock | Op::RLock)) {
                            tr.acquires.pop();
                        }
                    }
                }
            }
            Note::Wake(h) => {
                let waits = self.gs.get(h as usize).and_then(|s| s.waits);
                let cur = self.exec.t.len().checked_sub(1);
                let select = match waits {
                    Some(ev) if ev.op == Op::Select => self
                        .gs
                        .get(h as usize)
                        .map(|s| s.select.map(|k| &self.sels[k as usize][..])),
                    _ => None,
                };
                if let Some(tr) = self.exec.t.last_mut() {
                    tr.woke.push(h);
                    match (waits, select) {
                        (Some(_), Some(objs)) => of_select(objs, Act::Wake, &mut tr.acc),
                        (Some(ev), None) => of_wake(&ev, &mut tr.acc),
                        _ => {}
                    }
                }
                self.gs(h).woken_by = cur;
            }
            Note::Exit(g) => {
                if let Some(tr) = self.exec.t.last_mut() {
                    tr.acc.push(Acc::exit(g));
                }
                self.gs(g).exited = true;
            }
            Note::Time => {
                let t = self.start(TIME);
                self.exec.t[t].acc.push(Acc::time());
            }
        }
    }

    /// A decision before the one the schedule resumes at (see [`Snap`]): the same as in the
    /// previous schedule, checked (the options must repeat), and nothing else to do.
    #[inline]
    fn replay_skipped(&mut self, d: &Decision<'_>) -> usize {
        let k = self.depth;
        self.depth += 1;
        if let Node::G(node) = &self.nodes[k] {
            // The options checked in place (building them was most of the cost of a replayed
            // decision): `Dfs`'s order, then time where it may pass.
            let (goroutines, time) = match node.options.split_last() {
                Some((&TIME, rest)) => (rest, true),
                _ => (&node.options[..], false),
            };
            if time == d.time.is_some() && super::dfs::is_order(d, goroutines) {
                let pick = node.pick;
                let chosen = node.chosen;
                let at = |d: &Decision<'_>| match chosen {
                    TIME => d.time_index(),
                    g => d.index_of(g),
                };
                if pick != UNKNOWN {
                    debug_assert_eq!(Some(pick), at(d));
                    return pick;
                }
                // Reached with this branch for the first time (only after a schedule that
                // ended before it, which the program's nondeterminism did).
                let pick = at(d).expect("options are runnable");
                if let Node::G(node) = &mut self.nodes[k] {
                    node.pick = pick;
                }
                return pick;
            }
        }
        self.not_repeated(k, d)
    }

    /// Decision `k` of a replayed prefix is not the one recorded there: the program is
    /// nondeterministic, and the run ends.
    #[cold]
    #[inline(never)]
    fn not_repeated(&mut self, k: usize, d: &Decision<'_>) -> usize {
        let Node::G(node) = &self.nodes[k] else {
            d.abort(format!(
                "the program did not repeat itself under Dpor: decision {k} was a data choice before and a goroutine choice now (is it nondeterministic?)"
            ));
            return 0;
        };
        let before = node.options.clone();
        self.options(d);
        d.abort(format!(
            "the program did not repeat itself under Dpor: decision {k} offered {before:?} before and {:?} now (is it nondeterministic?)",
            self.scratch
        ));
        0
    }

    /// The state just before a new decision, into `snap`.
    fn snapshot(&self, snap: &mut Snap) {
        snap.t_len = self.exec.t.len();
        snap.gs.clone_from(&self.gs);
        snap.max_obj = self.max_obj;
        snap.locks.copy_from(&self.locks);
        snap.boundary = self.boundary;
        snap.open_yield = self.open_yield;
        snap.pending_node = self.pending_node;
        snap.sels = self.sels.len();
        #[cfg(debug_assertions)]
        {
            snap.notes = self.note_hash;
            snap.prefix = hash_prefix(&self.exec, snap.t_len);
        }
    }

    /// Resume following the schedule at decision `r`, from its [`Snap`]: the transitions
    /// before it are the kept ones.
    fn restore(&mut self, r: usize) {
        self.skip_to = None;
        let Node::G(node) = &self.nodes[r] else {
            unreachable!("a goroutine decision")
        };
        let s = &node.snap;
        debug_assert_eq!(self.exec.t.len(), s.t_len);
        #[cfg(debug_assertions)]
        {
            assert_eq!(
                self.note_hash, s.notes,
                "Dpor: the notes before decision {r} differ from the schedule that recorded it"
            );
            assert_eq!(
                hash_prefix(&self.exec, s.t_len),
                s.prefix,
                "Dpor: a kept transition before decision {r} changed after it"
            );
        }
        self.gs.clone_from(&s.gs);
        self.max_obj = s.max_obj;
        self.locks.copy_from(&s.locks);
        self.boundary = s.boundary;
        self.open_yield = s.open_yield;
        self.pending_node = s.pending_node;
        self.sels.truncate(s.sels);
        self.closed = s.t_len;
        self.above = node.above.then_some(node.product);
    }

    /// A split search: the goroutines asleep at decision `n` (below the frontier) because a
    /// closed decision above it explored them first, if `v` parks a goroutine on a hand-off
    /// for an observer (empty otherwise, and always in a single search). A closed
    /// decision's candidates run free choices below them, which never park a goroutine that
    /// something else could step ahead of; the single search reaches such a park by a
    /// wakeup sequence inserted at that decision, which a closed one never gets. Below it,
    /// the reversal that parks the goroutine first may begin with a step of a goroutine the
    /// closed decision put to sleep (it ran in between, independent of the race), and that
    /// sleeper's branch holds the runs with its step first, not those the park leads to.
    fn closed_sleepers(&self, n: usize, v: &[usize]) -> Vec<u64> {
        let Node::G(node) = &self.nodes[n] else {
            return Vec::new();
        };
        if self.split.is_none()
            || node.blocked
            || node.sleep.is_empty()
            || !self.parks_for_an_observer(n, v)
        {
            return Vec::new();
        }
        // Each sleeper's entry dates from the latest decision before `n` that explored it.
        node.sleep
            .iter()
            .map(|(q, _)| *q)
            .filter(|q| {
                self.nodes[..n].iter().rev().find_map(|k| match k {
                    Node::G(k) if k.done.contains(q) => Some(k.closed),
                    _ => None,
                }) == Some(true)
            })
            .collect()
    }

    /// True if `v`, a reversal to insert at decision `n`, parks a goroutine on a hand-off
    /// that an observer sees: one later in `v`, or the one chosen at `n` (the race's first
    /// step, which the reversal moves after the park). A park that no observer conflicts
    /// with is the same trace whichever side waits (see "Blocking is enabledness").
    fn parks_for_an_observer(&self, n: usize, v: &[usize]) -> bool {
        let t = &self.exec.t;
        let mut chosen = None;
        v.iter().enumerate().any(|(k, &p)| {
            let p = &t[p];
            if !(p.parked && p.hand_off) {
                return false;
            }
            // On the object parked on (the yield flag, which every step clears, says nothing).
            let sees = |o: &trace::Trans| {
                o.observer
                    && p.acc.iter().any(|x| {
                        x.key != access::Key::Yield && o.acc.iter().any(|y| access::dependent(x, y))
                    })
            };
            v[k + 1..].iter().any(|&o| sees(&t[o]))
                || chosen
                    .get_or_insert_with(|| t.iter().position(|x| x.node == Some(n)))
                    .is_some_and(|i| sees(&t[i]))
        })
    }

    /// Insert the wakeup sequence `v` (transitions of this schedule) at decision `n`, unless
    /// a goroutine asleep or done there covers it.
    fn offer(&mut self, n: usize, mut v: Vec<usize>) {
        if self.prune.is_some_and(|p| n >= p) {
            return; // Not this search's subtree (see `prune`).
        }
        let Node::G(node) = &self.nodes[n] else {
            return;
        };
        if node.above {
            return; // Every part explores every candidate there already.
        }
        // A split search: goroutines asleep here because a closed decision above explored
        // them first do not cover a sequence that parks a goroutine on a hand-off for an
        // observer (see "Parallel search" in the module docs); their steps are taken out of
        // it instead (where the step the sequence is for comes after one of them, they cover
        // it as before: the sequence cannot do without them).
        let mut closed_sleepers = self.closed_sleepers(n, &v);
        let theirs = |v: &[usize], q: &[u64]| v.iter().any(|&t| q.contains(&self.exec.t[t].g));
        if !closed_sleepers.is_empty() && theirs(&v, &closed_sleepers) {
            match self.exec.without(&v, |g| closed_sleepers.contains(&g)) {
                Some(w) => v = w,
                None => closed_sleepers.clear(),
            }
        }
        let Node::G(node) = &self.nodes[n] else {
            return;
        };
        // A goroutine asleep here that could start `v` already covers it.
        let exec = &self.exec;
        let covered = node
            .sleep
            .iter()
            .filter(|(q, _)| !closed_sleepers.contains(q))
            .map(|(q, next)| (*q, next.as_slice()))
            .chain(node.done.iter().map(|q| {
                let k = node
                    .options
                    .iter()
                    .position(|o| o == q)
                    .expect("done is an option");
                (*q, node.next[k].as_slice())
            }))
            .any(|(q, next)| {
                if v.iter().any(|&t| exec.t[t].g == q) {
                    exec.initial(&v, q).is_some()
                } else {
                    // A goroutine that `v` does not run covers it if it commutes with `v`,
                    // and with the step that follows `v`'s last one in its goroutine: the
                    // reversal is wanted for the runs that go on with that step, and if `q`
                    // conflicts with it, `q`'s branch holds them only with `q` first (see
                    // "Soundness and its limits": a poll asleep there, and a `select!` right
                    // after the load the reversal moves).
                    exec.commutes_with_all(next, &v) && {
                        let j = *v.last().expect("a sequence");
                        let g = exec.t[j].g;
                        let after = (j + 1..exec.t.len()).find(|&k| exec.t[k].g == g);
                        after.is_none_or(|k| exec.commutes_with_all(next, &[k]))
                    }
                }
            });
        if covered {
            return;
        }
        let Node::G(node) = &mut self.nodes[n] else {
            unreachable!()
        };
        let seq = InExec {
            exec: &self.exec,
            stable: node.stable,
            stable_g: node.stable_g,
        };
        node.wut.insert(v, &seq);
    }
}

/// The current schedule's transitions, as wakeup-tree insertion sees them.
struct InExec<'a> {
    exec: &'a Exec,
    /// Object ids up to this one are the same objects in the schedule a tree's branches were
    /// recorded in; a larger one may name another object there, so it is taken to conflict.
    stable: u64,
    /// The same for goroutine ids.
    stable_g: u64,
}

impl Seq for InExec<'_> {
    fn of(&self, t: usize) -> (u64, &[Acc]) {
        (self.exec.t[t].g, &self.exec.t[t].acc)
    }

    fn initial(&self, w: &[usize], g: u64) -> Option<usize> {
        self.exec.initial(w, g)
    }

    fn commutes(&self, next: &[Acc], w: &[usize]) -> bool {
        let unstable = |a: &Acc| match a.key {
            access::Key::Done(g) => g >= self.stable_g,
            k => access::id(k).is_some_and(|o| o > self.stable),
        };
        if next.iter().any(unstable) {
            return false;
        }
        w.iter().all(|&t| {
            let acc = &self.exec.t[t].acc;
            !acc.iter().any(unstable) && !access::any_dependent(next, acc)
        })
    }
}

/// Debug builds: `h` followed by note `n`.
#[cfg(debug_assertions)]
fn hash_note(h: u64, n: &Note) -> u64 {
    let (kind, g, x, y) = match *n {
        Note::Spawned { parent, child } => (1, parent, child, 0),
        Note::Run(g) => (2, g, 0, 0),
        Note::Commit(g, ev) => (3, g, ev.op as u64, ev.obj.0),
        Note::Park(g) => (4, g, 0, 0),
        Note::Wake(g) => (5, g, 0, 0),
        Note::Exit(g) => (6, g, 0, 0),
        Note::Time => (7, 0, 0, 0),
    };
    [kind, g, x, y]
        .into_iter()
        .fold(h, |h, v| (h ^ v).wrapping_mul(0x100_0000_01b3))
}

/// Debug builds: a hash of the first `n` transitions of `exec`, as the analysis sees them.
#[cfg(debug_assertions)]
fn hash_prefix(exec: &Exec, n: usize) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::util::hash::FxHasher::default();
    for t in &exec.t[..n] {
        (t.g, t.node, t.creator, t.waker, t.cleared).hash(&mut h);
        (t.hand_off, t.resumed, t.parked, t.observer).hash(&mut h);
        (&t.acquires, &t.woke, &t.locks).hash(&mut h);
        for a in &t.acc {
            (a.key, a.write).hash(&mut h);
        }
    }
    h.finish()
}

impl Strategy for Dpor {
    fn begin(&mut self, iteration: u64) -> bool {
        // A part of a split search begins at its own first index (`explore::Shard`).
        let first = iteration == 0 || self.fresh;
        if first {
            self.fresh = false;
            self.nodes.clear();
            self.exhausted = false;
            self.fresh_from = 0;
            self.next_carry = Wut::default();
        } else {
            loop {
                let Some(last) = self.nodes.last_mut() else {
                    self.exhausted = true;
                    return false;
                };
                let found = match last {
                    Node::Value { n, chosen, carry } => {
                        if *chosen + 1 < *n {
                            *chosen += 1;
                            // The sequence a wakeup tree had the schedule follow through this
                            // choice reverses a race whatever the value: the other values
                            // follow it too, or the reversal is explored for the first value
                            // only (`tests/dpor_missed_outcomes.rs`).
                            self.next_carry = carry.clone();
                            true
                        } else {
                            false
                        }
                    }
                    Node::G(g) => {
                        let mut took = false;
                        while let Some((c, sub)) = g.wut.pop_first() {
                            let asleep = g.sleep.iter().any(|(q, _)| *q == c)
                                || g.done.contains(&c)
                                || c == g.chosen;
                            if asleep || !g.options.contains(&c) {
                                continue;
                            }
                            if g.closed {
                                // Every candidate before `c` is done here, this part's or
                                // another's (it sleeps in `c`'s subtree either way).
                                let at = g.cands.iter().position(|&o| o == c).expect("a candidate");
                                g.done.clear();
                                g.done.extend_from_slice(&g.cands[..at]);
                            } else {
                                g.done.push(g.chosen);
                            }
                            g.chosen = c;
                            g.pick = UNKNOWN;
                            self.next_carry = sub;
                            took = true;
                            break;
                        }
                        took
                    }
                };
                if found {
                    break;
                }
                if let Some(Node::G(g)) = self.nodes.pop() {
                    self.spare.push(g);
                }
            }
            self.fresh_from = self.nodes.len() - 1;
        }
        self.sleep_from = self.nodes[..self.fresh_from.min(self.nodes.len())]
            .iter()
            .rposition(|n| matches!(n, Node::G(_)))
            .filter(|_| matches!(self.nodes.get(self.fresh_from), Some(Node::Value { .. })))
            .unwrap_or(self.fresh_from);
        self.depth = 0;
        self.carry = Wut::default();
        // The last decision up to the new branch that holds its state (the new branch's own,
        // if it is a goroutine decision; for a data choice, which is made inside a
        // transition, the goroutine decision before it): the transitions before it are the
        // previous schedule's, kept, and the schedule follows the notes from there on.
        let restore = if first {
            None
        } else {
            let len = self.exec.t.len();
            self.nodes[..=self.fresh_from.min(self.nodes.len() - 1)]
                .iter()
                .rposition(|n| matches!(n, Node::G(g) if g.has_snap && g.snap.t_len <= len))
        };
        match restore {
            Some(r) => {
                let Node::G(g) = &self.nodes[r] else {
                    unreachable!("a goroutine decision")
                };
                self.exec.truncate(g.snap.t_len);
            }
            None => self.exec.truncate(0),
        }
        self.skip_to = restore;
        if restore.is_none() {
            self.sels.clear();
        }
        #[cfg(debug_assertions)]
        {
            self.note_hash = 0;
        }
        self.gs.clear();
        self.max_obj = 0;
        self.locks.clear();
        self.sleep.clear();
        self.boundary = false;
        self.open_yield = None;
        self.pending_node = None;
        self.closed = 0;
        self.marked = (false, false);
        self.above = self.split.as_ref().map(|_| 1);
        self.prune = None;
        self.wasted = false;
        true
    }

    fn pick_goroutine(&mut self, d: &Decision<'_>) -> usize {
        if let Some(r) = self.skip_to {
            if self.depth < r {
                return self.replay_skipped(d);
            }
            self.restore(r);
        }
        self.yielded(d);
        self.exec.seal();
        self.close();
        self.options(d);
        let k = self.depth;
        let chosen = if k < self.nodes.len() {
            let options = &self.scratch;
            let Node::G(node) = &self.nodes[k] else {
                d.abort(format!(
                    "the program did not repeat itself under Dpor: decision {k} was a data choice before and a goroutine choice now (is it nondeterministic?)"
                ));
                return 0;
            };
            if node.options != *options {
                d.abort(format!(
                    "the program did not repeat itself under Dpor: decision {k} offered {:?} before and {:?} now (is it nondeterministic?)",
                    node.options, options
                ));
                return 0;
            }
            let chosen = node.chosen;
            if self.split.is_some() {
                self.above = self.after(node);
            }
            // The sleep set matters from the decision that took a new branch on (before it,
            // the schedule replays the previous one), or from the last goroutine decision
            // before a data choice that did.
            if k >= self.sleep_from {
                self.sleep.clear();
                self.sleep
                    .extend(node.sleep.iter().filter(|(q, _)| *q != chosen).cloned());
                for q in &node.done {
                    let i = node
                        .options
                        .iter()
                        .position(|o| o == q)
                        .expect("done is an option");
                    if *q != chosen {
                        self.sleep.push((*q, node.next[i].clone()));
                    }
                }
            }
            if k == self.fresh_from {
                self.carry = std::mem::take(&mut self.next_carry);
                // The branch taken here: what it does next, for when it is done.
                let i = node
                    .options
                    .iter()
                    .position(|&o| o == chosen)
                    .expect("chosen is an option");
                let mut next = std::mem::take(&mut node_next(&mut self.nodes[k])[i]);
                self.next_into(chosen, d, &mut next);
                node_next(&mut self.nodes[k])[i] = next;
            }
            chosen
        } else {
            // Filled in place: a decision node is large, and moving one was a measurable
            // share of a schedule's cost.
            let mut node = self.spare.pop().unwrap_or_default();
            let n = &mut *node;
            n.has_snap = self.scratch.len() > 1;
            if n.has_snap {
                self.snapshot(&mut n.snap);
            }
            n.options.clear();
            n.options.extend_from_slice(&self.scratch);
            // After a yield the shadow is not applied: the plain search may let a goroutine
            // block there, which lets the one that yielded run again at the next decision.
            n.enabled.clear();
            n.observers.clear();
            n.pending.clear();
            for &g in &n.options {
                let (runs, observes, ev) = self.classify(g, d);
                let parked = self.gs.get(g as usize).is_some_and(|s| s.parked);
                n.pending.push(ev.filter(|_| !parked));
                let obj = ev.map(|e| e.obj.0);
                if d.yielded || runs {
                    n.enabled.push(g);
                }
                if observes {
                    n.observers.push(g);
                }
                if let Some(o) = obj {
                    self.max_obj = self.max_obj.max(o);
                }
            }
            // Every goroutine would block: they may park (a rendezvous needs one side parked
            // first), rather than time passing for ever ahead of them; time passes on its own
            // once they all have.
            let all_block = n.enabled.iter().all(|&g| g == TIME);
            if all_block {
                n.enabled.clear();
                n.enabled.extend_from_slice(&n.options);
            } else if n.enabled.len() < n.options.len() {
                // A channel operation or `select!` that would block is still offered where
                // another option is about to run a `select!` on one of its channels: parked
                // first, it is one more ready case of that `select!` (a send to it), which no
                // order of the enabled options gives (`tests/dpor_missed_outcomes.rs`). Time
                // stays the last option: a free choice of time ahead of such a park (which
                // only this rule offers) let a ticker's loop run for ever
                // (`tests/dpor_ticker.rs`).
                let parks = self.parks_for_select(&n.options, &n.enabled, d);
                if !parks.is_empty() {
                    let time = n.enabled.last() == Some(&TIME);
                    if time {
                        n.enabled.pop();
                    }
                    n.enabled.extend(parks);
                    if time {
                        n.enabled.push(TIME);
                    }
                }
            }
            let asleep = |s: &[(u64, Vec<Acc>)], g: u64| s.iter().any(|(q, _)| *q == g);
            n.wut = std::mem::take(&mut self.carry);
            let mut chosen = None;
            while let Some((c, sub)) = n.wut.pop_first() {
                if n.options.contains(&c) && !asleep(&self.sleep, c) {
                    chosen = Some(c);
                    self.carry = sub;
                    break;
                }
                self.mark_diverged();
            }
            let was_blocked = self.marked.0;
            let mut chosen = match chosen {
                Some(c) => c,
                None => match n.enabled.iter().find(|&&g| !asleep(&self.sleep, g)) {
                    Some(&g) => g,
                    // Every enabled option is asleep, but two that would block are not and
                    // can meet (a send and a receive on one channel): one parks (as a wakeup
                    // sequence may have it do), and the rendezvous may then happen. A split
                    // search gets here below a closed decision that ran a goroutine ahead of
                    // the rendezvous it needs (`tests/dpor_differential.rs`, the split's
                    // program 30). A park that nothing else needs (a lock on a held lock) is
                    // not taken: it would run a trace twice.
                    None if self.rendezvous(&n.options, &n.enabled, d).is_some() => self
                        .rendezvous(&n.options, &n.enabled, d)
                        .expect("a rendezvous"),
                    None => {
                        // Sleep-set blocked: every continuation from here is equivalent to
                        // one explored already (if the relation is exact), so the rest of
                        // the schedule is not counted. If every option is asleep, nothing
                        // below is explored either. But an option that would block may not
                        // be: a wakeup sequence may have it park first (for an observer to
                        // see), and the races of this schedule are what inserts one, below
                        // the split's frontier (`tests/dpor_differential.rs`, the split's
                        // program 255): the decisions below stay.
                        if !self.marked.0 {
                            self.marked.0 = true;
                            self.blocked += 1;
                        }
                        self.wasted = true;
                        let all = n
                            .options
                            .iter()
                            .all(|&g| asleep(&self.sleep, g) || !Self::observable_park(g, d));
                        if all && self.prune.is_none_or(|p| k < p) {
                            self.prune = Some(k);
                        }
                        n.enabled[0]
                    }
                },
            };
            // The split (see "Parallel search" in the module docs): above the frontier, close
            // the decision (or make it the frontier).
            n.above = false;
            n.closed = false;
            n.cands.clear();
            n.product = 0;
            let mut first_cand = 0;
            if let (Some(p), false) = (self.above, was_blocked) {
                debug_assert!(n.wut.is_empty(), "no wakeup sequence above the frontier");
                n.above = true;
                n.product = p;
                n.cands.extend(
                    n.enabled
                        .iter()
                        .copied()
                        .filter(|&g| !asleep(&self.sleep, g)),
                );
                // A decision where a candidate is an observer, which may have a blocked
                // option run first (see `analyse`), could gain branches the candidates do
                // not cover; so could one where every enabled option is asleep but one that
                // would block is not (see the sleep-set blocked case above): the frontier
                // stops before it, and it is explored as usual by the part whose frontier
                // prefix it is (a frontier prefix of its own).
                let parks = n.cands.is_empty()
                    && n.options.iter().any(|&g| {
                        !n.enabled.contains(&g)
                            && !asleep(&self.sleep, g)
                            && Self::observable_park(g, d)
                    });
                let observed = n.enabled.len() < n.options.len()
                    && (parks || n.cands.iter().any(|c| n.observers.contains(c)));
                // Where every goroutine would block, which one parks first is mostly not a
                // trace of its own (both sides of a rendezvous: the search knows the pair
                // is no race); running each first would count one trace twice. The frontier
                // stops before such a decision too.
                if observed || (all_block && n.cands.len() > 1) {
                    n.above = false;
                    n.cands.clear();
                    self.above = None;
                    if !self.meet_prefix() {
                        self.go_elsewhere(k);
                    }
                } else if n.cands.len() > 1 {
                    n.closed = true;
                    let next: Vec<Vec<Acc>> = n
                        .cands
                        .iter()
                        .map(|&c| {
                            let mut v = Vec::new();
                            self.next_into(c, d, &mut v);
                            v
                        })
                        .collect();
                    n.weight = 1
                        + (1..next.len())
                            .filter(|&j| (0..j).any(|i| access::any_dependent(&next[i], &next[j])))
                            .count() as u64;
                    let q = p.saturating_mul(n.weight);
                    let last = q >= self.split.as_ref().expect("a split search").threshold();
                    // Every candidate is explored here, by this part or (at the last
                    // closed decision of the path) by the part whose frontier prefix it is.
                    let mut mine = Vec::with_capacity(n.cands.len());
                    for &c in &n.cands {
                        if !last || self.meet_prefix() {
                            mine.push(c);
                        }
                    }
                    if last {
                        self.above = None;
                    } else {
                        self.above = Some(q);
                    }
                    match mine.first() {
                        Some(&c) => {
                            chosen = c;
                            first_cand = n.cands.iter().position(|&o| o == c).expect("a candidate");
                            n.wut
                                .children
                                .extend(mine[1..].iter().map(|&c| (c, Vec::new(), Wut::default())));
                        }
                        None => {
                            chosen = n.cands[0];
                            self.go_elsewhere(k);
                        }
                    }
                }
            }
            // What each option does next matters once it is done here (it then sleeps):
            // computed for the one chosen now, and for each later branch when it is taken.
            n.next.resize_with(n.options.len(), Vec::new);
            for (&g, v) in n.options.iter().zip(n.next.iter_mut()) {
                // (And for the observers: see the end of `analyse`; and for a closed
                // decision's candidates, which sleep in the later ones' subtrees.)
                if g == chosen || n.observers.contains(&g) || n.cands.contains(&g) {
                    self.next_into(g, d, v);
                } else {
                    v.clear();
                }
            }
            // The sleep set here, reusing the vectors of the node's last use.
            n.sleep.truncate(self.sleep.len());
            for (k, (q, acc)) in self.sleep.iter().enumerate() {
                match n.sleep.get_mut(k) {
                    Some(e) => {
                        e.0 = *q;
                        e.1.clone_from(acc);
                    }
                    None => n.sleep.push((*q, acc.clone())),
                }
            }
            self.sleep.retain(|(q, _)| *q != chosen);
            n.done.clear();
            if n.closed {
                // The candidates before the first of this part's are done (by other parts).
                for &q in &n.cands[..first_cand] {
                    let at = n.options.iter().position(|&o| o == q).expect("an option");
                    self.sleep.push((q, n.next[at].clone()));
                    n.done.push(q);
                }
            }
            n.blocked = self.marked.0;
            n.stable = self.max_obj;
            n.stable_g = self.gs.len() as u64;
            n.chosen = chosen;
            n.pick = UNKNOWN;
            self.nodes.push(Node::G(node));
            chosen
        };
        let pick = if chosen == TIME {
            d.time_index().expect("time is an option")
        } else {
            d.index_of(chosen).expect("options are runnable")
        };
        if let Node::G(node) = &mut self.nodes[k] {
            node.pick = pick;
        }
        if chosen != TIME {
            self.select_objects(pick, d);
        }
        self.pending_node = Some(k);
        self.boundary = true;
        self.depth += 1;
        pick
    }

    fn pick_value(&mut self, d: &ValueDecision) -> u64 {
        let k = self.depth;
        self.depth += 1;
        if k == self.fresh_from {
            self.carry = std::mem::take(&mut self.next_carry);
        }
        if k < self.nodes.len() {
            match self.nodes[k] {
                Node::Value { n, chosen, .. } if n == d.n => chosen,
                _ => {
                    d.abort(format!(
                        "the program did not repeat itself under Dpor: decision {k} is not the same data choice as before (is it nondeterministic?)"
                    ));
                    0
                }
            }
        } else {
            self.nodes.push(Node::Value {
                n: d.n,
                chosen: 0,
                carry: self.carry.clone(),
            });
            0
        }
    }

    fn end(&mut self) {
        if self.skip_to.take().is_some() {
            // The schedule ended before the decision it was to resume at (the program did
            // not repeat itself, which was reported): what was kept is not this schedule's.
            self.exec.truncate(0);
            return;
        }
        self.analyse();
        // A schedule that stayed above the split's frontier is a frontier prefix of its own.
        if self.split.is_some() && self.above.is_some() && !self.wasted && !self.meet_prefix() {
            self.wasted = true;
            self.elsewhere += 1;
        }
        // What is below the pruned decision is not this search's to explore.
        if let Some(p) = self.prune {
            while self.nodes.len() > p {
                if let Some(Node::G(g)) = self.nodes.pop() {
                    self.spare.push(g);
                }
            }
        }
    }

    fn wasted(&self) -> bool {
        self.wasted
    }

    /// The race analysis must see every step of a schedule: the steps after a race report
    /// may order the racing accesses in another schedule (see "Soundness and its limits").
    fn runs_past_races(&self) -> bool {
        true
    }

    fn wants_notes(&self) -> bool {
        true
    }

    #[inline]
    fn note(&mut self, n: Note) {
        #[cfg(debug_assertions)]
        {
            self.note_hash = hash_note(self.note_hash, &n);
        }
        // Most notes of a schedule are in the replayed prefix: skipped without paying for
        // the large frame of `follow`.
        if self.skip_to.is_none() {
            self.follow(n);
        }
    }

    fn describe(&self) -> String {
        "dpor".into()
    }

    /// The explored fraction of the search tree, read off the current schedule's path as if
    /// every subtree below a decision were as large as the others (Knuth's estimate of a
    /// backtrack tree, on the one path): at each decision, the branches already explored
    /// count for their share of what is left at that depth. Branches are the explored ones,
    /// the one taken and those recorded in the wakeup tree (values for a data choice); later
    /// races may add branches, so the estimate can go down.
    fn explored(&self) -> Option<f64> {
        let (mut before, mut weight) = (0.0, 1.0);
        for node in &self.nodes {
            let (done, total) = match node {
                Node::G(g) => (g.done.len(), g.done.len() + 1 + g.wut.children.len()),
                Node::Value { n, chosen, .. } => (*chosen as usize, *n as usize),
            };
            if total > 1 {
                before += weight * done as f64 / total as f64;
                weight /= total as f64;
            }
        }
        Some(before)
    }
}
