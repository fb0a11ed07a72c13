//! `select!`: wait on several channel operations and complete exactly one (Go's `selectgo`).
//!
//! The algorithm knows nothing about channels. Each case is a [`SelectHandle`]: a lock, a
//! readiness test, a non-blocking attempt, and a waiter it can queue and unqueue. Channels
//! implement it in `case.rs`; anything else that can do those four things (a timer channel is
//! just a channel) works the same way.
//!
//! The three passes are Go's:
//! 1. Lock every enabled case's channel, in address order (so two selects never deadlock on each
//!    other's locks), each channel once. Collect the ready cases; if there are any, pick one
//!    uniformly with the executor's random source, complete it, unlock, done. (The pick is a
//!    recorded choice on the controlled executor, so a replay makes the same one.) If there are
//!    none and there is a `default`, unlock and take it.
//! 2. Queue a waiter on every case, all sharing one [`Sleeper`], and park; the unlock step
//!    releases the locks after the switch. Cases on the same channel are queued in a random
//!    order (`shuffle_ties`), so which of them a peer completes is random too, as in Go.
//! 3. Woken: the waker claimed exactly one waiter (the `selectDone` compare-and-swap in
//!    `waitq.rs`). Lock every channel again, unqueue the other waiters, unlock, and finish the
//!    winning case.
//!
//! Invariants:
//! - Every hook except `lock_key`, `lock`, `finish` and `nil_reason` runs with the case's lock
//!   held by `select`.
//! - Between `enqueue` and the end of pass 3 the cases do not move and the select's frame stays
//!   alive; if the goroutine is torn down while parked, pass 3 runs from a drop guard.
//! - A case that is not ready is never completed: a pick that loses a race (another channel
//!   claimed the waiter it counted on) completes nothing, and the select looks again.

use std::panic::Location;

use super::hchan::{check_claimed, watched, SEND_ON_CLOSED};
use super::lock::ChanGuard;
use super::waitq::Sleeper;
use crate::runtime::context;
use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor::{self, OUTSIDE_RUNTIME};
use crate::runtime::goroutine::WaitReason;
use crate::verdict::probe::WouldBlock;

/// One case of a `select!`, as the select algorithm sees it.
///
/// Implemented for channel cases; not meant to be implemented outside goweave (the `unsafe`
/// hooks rely on goweave's parking protocol).
#[doc(hidden)]
pub trait SelectHandle {
    /// Identity of the case's lock (its address), or `None` if the case is disabled (a nil
    /// channel). Cases with equal keys share one lock.
    fn lock_key(&self) -> Option<usize>;

    /// Take the case's lock.
    fn lock(&self) -> ChanGuard<'_>;

    /// True if the case can complete now without blocking (a send on a closed channel counts:
    /// it completes by panicking).
    ///
    /// # Safety
    /// The lock is held.
    unsafe fn is_ready(&self) -> bool;

    /// Complete the case now if it can; false if it cannot (then nothing happened). A
    /// goroutine to unpark once every lock is released goes into `wake`.
    ///
    /// # Safety
    /// The lock is held.
    unsafe fn try_complete(&self, wake: &mut Wake) -> bool;

    /// Queue this case's waiter, bound to `sleeper` as case `index`.
    ///
    /// # Safety
    /// The lock is held; `self` and `sleeper` stay at their addresses until `unqueue`.
    unsafe fn enqueue(&self, sleeper: &Sleeper, index: usize);

    /// Unqueue this case's waiter if it is still queued.
    ///
    /// # Safety
    /// The lock is held.
    unsafe fn unqueue(&self);

    /// Called, with no lock held, on the case the select completed. False for a send that
    /// found the channel closed: the select then panics.
    fn finish(&self) -> bool;

    /// The wait reason when this is a select's only case and it is disabled (Go compiles a
    /// one-case select to a plain channel operation: `chan receive (nil chan)`).
    fn nil_reason(&self) -> WaitReason;

    /// The id of the case's channel (0 for a disabled case).
    fn obj(&self) -> u64;

    /// The race detector's view of the case, before any lock is taken: a send case reads its
    /// channel (Go's `racereadpc` in `selectgo`), so it races with an unordered close. The
    /// blocking `select` calls it only where race edges are recorded (`hchan::watched`).
    fn race_announce(&self, _site: &'static Location<'static>) {}

    /// In a recording run, take this case's channel's next sequence number for the select
    /// (`record::touch`): its order among the channel's operations, which a stamp would
    /// only guess. Called only when `record::on()`.
    ///
    /// # Safety
    /// The lock is held.
    unsafe fn log_touch(&self) {}
}

/// A goroutine that a completed case must unpark once every lock is released.
#[doc(hidden)]
#[derive(Default)]
pub struct Wake(pub(crate) Option<crate::runtime::waiter::Waiter>);

/// The probe of a `select!`'s scheduling point: it blocks unless it has a `default` or some
/// enabled case is ready (each looked at under its own lock: at a decision nothing else runs,
/// so one at a time is as good as all at once); it touches the channels its cases name.
struct Ready<'a, const N: usize> {
    cases: &'a [&'a dyn SelectHandle; N],
    has_default: bool,
}

impl<const N: usize> WouldBlock for Ready<'_, N> {
    fn would_block(&self) -> bool {
        !self.has_default
            && !self.cases.iter().any(|c| {
                c.lock_key().is_some() && {
                    let _guard = c.lock();
                    // SAFETY: we hold the case's lock.
                    unsafe { c.is_ready() }
                }
            })
    }

    fn objects(&self, out: &mut Vec<u64>) {
        out.extend(self.cases.iter().map(|c| c.obj()).filter(|&o| o != 0));
    }
}

/// Run one `select!` over `cases`: complete one ready case (chosen uniformly among the ready
/// ones), else take the default (return false) if `has_default`, else block until a case
/// completes. The completed case is marked through [`SelectHandle::finish`]; returns true.
#[doc(hidden)]
#[track_caller]
pub fn select<const N: usize>(cases: [&dyn SelectHandle; N], has_default: bool) -> bool {
    let site = Location::caller();
    let ev = Event::new(Op::Select, ObjId(0), site);
    // The recording orders a select by its channels' numbers (below), not at this point.
    executor::sched_point_unlogged_probe(
        ev,
        &Ready {
            cases: &cases,
            has_default,
        },
    );

    if crate::record::on() {
        // No stamp: the select is ordered by the number it takes from each of its channels
        // under their locks (`log_touch` below).
        crate::record::point_unordered_inline(Op::Select);
    }

    // The enabled cases, in lock order (address, then case index).
    let mut order = [(0usize, 0usize); N];
    let mut enabled = [false; N];
    let mut n = 0;
    for (i, c) in cases.iter().enumerate() {
        if let Some(key) = c.lock_key() {
            order[n] = (key, i);
            enabled[i] = true;
            n += 1;
        }
    }
    if n == 0 {
        if has_default {
            executor::yield_hint();
            return false;
        }
        let reason = if N == 1 {
            cases[0].nil_reason()
        } else {
            WaitReason::SelectNoCases
        };
        block_forever(reason, site);
    }
    let order = &mut order[..n];
    sort_small(order);
    // Whether two cases share a channel: if not (the common case), there is no tie to shuffle,
    // and pass 3 leaves the winner's channel alone.
    let distinct = order.windows(2).all(|w| w[0].0 != w[1].0);
    // Only where edges are recorded: elsewhere every announcement is a no-op, and the loop
    // of indirect calls cost about 20 instructions per 2-case select.
    if watched() {
        for &(_, i) in order.iter() {
            cases[i].race_announce(site);
        }
    }

    loop {
        // Pass 1: look for a ready case under all the locks.
        let guards = lock_all(&cases, order);
        if crate::record::on() {
            for &(_, i) in order.iter() {
                // SAFETY: we hold every enabled case's lock.
                unsafe { cases[i].log_touch() };
            }
        }
        let mut ready = [0usize; N];
        let mut r = 0;
        for (i, c) in cases.iter().enumerate() {
            // SAFETY: we hold every enabled case's lock.
            if enabled[i] && unsafe { c.is_ready() } {
                ready[r] = i;
                r += 1;
            }
        }
        if r > 0 {
            let pick = ready[executor::random_below(r as u64) as usize];
            let mut wake = Wake(None);
            // SAFETY: we hold the lock of `pick`.
            let done = unsafe { cases[pick].try_complete(&mut wake) };
            drop(guards);
            if !done {
                // Lost a race (see the invariants): look again.
                continue;
            }
            if let Some(g) = wake.0 {
                g.wake();
            }
            finish(cases[pick]);
            return true;
        }
        if has_default {
            drop(guards);
            // Probably polling: let the controlled executor's strategy run someone else first.
            executor::yield_hint();
            return false;
        }

        // Pass 2: queue on every case and park.
        let Some(me) = context::current_gref() else {
            drop(guards);
            panic!("goweave: {} {}", WaitReason::Select, OUTSIDE_RUNTIME);
        };
        let sleeper = Sleeper::new(me, true);
        if !distinct {
            shuffle_ties(order);
        }
        for &(_, i) in order.iter() {
            // SAFETY: we hold the lock; the cases live in the caller's frame and `sleeper` in
            // ours until `pass3` has unqueued every waiter.
            unsafe { cases[i].enqueue(&sleeper, i) };
        }
        let mut pass3 = UnqueueAll {
            cases: &cases,
            order,
            skip: None,
        };
        executor::park(WaitReason::Select, site, move || drop(guards));

        // Pass 3: unqueue the losers. The winner was unqueued by whoever claimed it, under its
        // channel's lock, before it woke us (so `winner` is ours to read now); if no other case
        // is on that channel, there is nothing left to do there, and its lock is not taken.
        check_claimed(&sleeper);
        let winner = sleeper.winner();
        if distinct {
            pass3.skip = Some(winner);
        }
        drop(pass3);
        finish(cases[winner]);
        return true;
    }
}

/// Finish the completed case; a send that found its channel closed panics here, so that the
/// panic names the user's `select!` line.
#[track_caller]
pub(super) fn finish(case: &dyn SelectHandle) {
    if !case.finish() {
        panic!("{SEND_ON_CLOSED}");
    }
}

/// Put the cases that share one channel in a random order (Fisher-Yates over each run of equal
/// keys), before pass 2 queues them. The first waiter queued on a channel is the first one a
/// peer takes, so in key-then-index order two cases on one channel would always complete the
/// one written first; Go's lock order is a sort of a random poll order, so its ties fall either
/// way. The draws come from the executor's random source: recorded and explored by the
/// checker, repeated by a replay. A select whose cases are all on different channels draws
/// nothing, so its schedule is unchanged.
pub(super) fn shuffle_ties(order: &mut [(usize, usize)]) {
    let mut start = 0;
    while start < order.len() {
        let key = order[start].0;
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&(k, _)| k == key)
                .count();
        for i in (start + 1..end).rev() {
            let j = start + executor::random_below((i - start + 1) as u64) as usize;
            order.swap(i, j);
        }
        start = end;
    }
}

/// Sort `order` (the enabled cases as `(lock key, case index)`, all distinct pairs) by key,
/// then index: an insertion sort, since a `select!` has a handful of cases, and for two to
/// four of them this is a few compares where `sort_unstable` pays its general set-up.
pub(super) fn sort_small(order: &mut [(usize, usize)]) {
    if order.len() > 8 {
        order.sort_unstable();
        return;
    }
    for i in 1..order.len() {
        let mut j = i;
        while j > 0 && order[j - 1] > order[j] {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Lock the cases in `order` (sorted by key), each distinct lock once.
pub(super) fn lock_all<'a, const N: usize>(
    cases: &[&'a dyn SelectHandle; N],
    order: &[(usize, usize)],
) -> [Option<ChanGuard<'a>>; N] {
    let mut guards = [const { None }; N];
    let mut last = None;
    for (j, &(key, i)) in order.iter().enumerate() {
        if last != Some(key) {
            guards[j] = Some(cases[i].lock());
            last = Some(key);
        }
    }
    guards
}

/// Pass 3 of a parked select, also run if the goroutine is torn down while parked: lock every
/// case again and unqueue its waiter.
struct UnqueueAll<'s, 'a, const N: usize> {
    cases: &'s [&'a dyn SelectHandle; N],
    order: &'s [(usize, usize)],
    /// A case that is alone on its channel and was already unqueued (the winner, once the
    /// select was woken normally): its lock is not taken. `None` on a tear-down.
    skip: Option<usize>,
}

impl<const N: usize> Drop for UnqueueAll<'_, '_, N> {
    fn drop(&mut self) {
        if let Some(skip) = self.skip {
            for &(_, i) in self.order {
                if i != skip {
                    let c = self.cases[i];
                    let _guard = c.lock();
                    // SAFETY: we hold this case's lock; the cases are on distinct channels,
                    // so it is the only one of ours queued there.
                    unsafe { c.unqueue() };
                }
            }
            return;
        }
        let guards = lock_all(self.cases, self.order);
        for &(_, i) in self.order {
            // SAFETY: we hold every case's lock.
            unsafe { self.cases[i].unqueue() };
        }
        drop(guards);
    }
}

/// Park forever (a select with nothing to wait for, as Go's `block()`).
fn block_forever(reason: WaitReason, site: &'static Location<'static>) -> ! {
    if context::current_ptr().is_null() {
        panic!("goweave: {} {}", reason, OUTSIDE_RUNTIME);
    }
    loop {
        executor::park(reason, site, || {});
    }
}

/// Wait on several channel operations and complete exactly one, as Go's `select` statement.
///
/// ```
/// use goweave::{chan, select};
/// goweave::run(|| {
///     let (a, b) = (chan::make::<i32>(1), chan::make::<&str>(1));
///     b.send("hi");
///     let got = select! {
///         recv(a) -> v => format!("a: {v:?}"),
///         recv(b) -> v => format!("b: {v:?}"),
///     };
///     assert_eq!(got, "b: Some(\"hi\")");
/// });
/// ```
///
/// Cases, separated by commas (a block body needs no comma):
/// - `recv(ch) -> v => body`: receive from `ch`; `v` (any irrefutable pattern) is an
///   `Option<T>`, `None` if the channel is closed. `recv(ch) => body` ignores the value.
/// - `send(ch, value) => body`: send `value` on `ch`. Like Go, a send case that finds the
///   channel closed panics with `send on closed channel`.
/// - `default => body`: taken when no case is ready.
///
/// `ch` is anything implementing [`AsRecv`](crate::chan::AsRecv) /
/// [`AsSend`](crate::chan::AsSend): a `Chan`, a `Receiver`/`Sender`, a reference to one, or an
/// `Option` of one, where `None` is Go's nil channel: that case is never ready. The channel
/// expressions and the values to send are evaluated once, in source order, before anything
/// else happens, and a value whose case is not chosen is dropped.
///
/// When several cases are ready, one is chosen uniformly at random (from the executor's
/// random source: the controlled executor explores the choice and a replay repeats it).
/// With no case ready and no `default`, the goroutine blocks (wait reason `select`) until one
/// can complete; if several of its cases are on one channel, which of them a peer completes is
/// random as well (Go's rule), not the first one written. A select with no enabled case and no `default` blocks forever, with wait
/// reason `select (no cases)` (or `chan receive (nil chan)` / `chan send (nil chan)` when it
/// has exactly one case, like Go's one-case select).
///
/// `select!` is an expression; bodies may `break`, `continue` or `return` as in any block.
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(
            @gen __select_gen
            @cases []
            @default []
            @ids [
                __gw_c0 __gw_c1 __gw_c2 __gw_c3 __gw_c4 __gw_c5 __gw_c6 __gw_c7
                __gw_c8 __gw_c9 __gw_c10 __gw_c11 __gw_c12 __gw_c13 __gw_c14 __gw_c15
                __gw_c16 __gw_c17 __gw_c18 __gw_c19 __gw_c20 __gw_c21 __gw_c22 __gw_c23
                __gw_c24 __gw_c25 __gw_c26 __gw_c27 __gw_c28 __gw_c29 __gw_c30 __gw_c31
                __gw_c32 __gw_c33 __gw_c34 __gw_c35 __gw_c36 __gw_c37 __gw_c38 __gw_c39
                __gw_c40 __gw_c41 __gw_c42 __gw_c43 __gw_c44 __gw_c45 __gw_c46 __gw_c47
                __gw_c48 __gw_c49 __gw_c50 __gw_c51 __gw_c52 __gw_c53 __gw_c54 __gw_c55
                __gw_c56 __gw_c57 __gw_c58 __gw_c59 __gw_c60 __gw_c61 __gw_c62 __gw_c63
            ]
            $($tokens)*
        )
    };
}

/// The muncher behind [`select!`]: parses one case per expansion step into `@cases`, then
/// generates. Each case is matched, head and body together, by one rule (so a 64-case select
/// needs about 66 nested expansions, within the default `recursion_limit` of 128); the rules are
/// the product of the three case heads and the four body shapes (a block with or without a
/// comma, an expression followed by a comma or by the end).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All parsed: generate.
    (@gen $gen:ident @cases [$($cases:tt)*] @default [$($default:tt)*] @ids [$($ids:ident)*]) => {
        $crate::$gen!([$($cases)*] [$($default)*])
    };
    (@gen $gen:ident @cases $cases:tt @default $default:tt @ids [] $($rest:tt)+) => {
        ::core::compile_error!("select! supports at most 64 cases")
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () ($p) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () ($p) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () ($p) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () ($p) {$body})] @default $default
            @ids [$($ids)*] )
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () (_) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () (_) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () (_) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        recv($ch:expr) => $body:expr) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id recv_case ($ch) () (_) {$body})] @default $default
            @ids [$($ids)*] )
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        send($ch:expr, $v:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id send_case ($ch) (, $v) (_) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        send($ch:expr, $v:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id send_case ($ch) (, $v) (_) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        send($ch:expr, $v:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id send_case ($ch) (, $v) (_) {$body})] @default $default
            @ids [$($ids)*] $($rest)*)
    };
    (@gen $gen:ident @cases [$($cases:tt)*] @default $default:tt @ids [$id:ident $($ids:ident)*]
        send($ch:expr, $v:expr) => $body:expr) => {
        $crate::__select_parse!(@gen $gen @cases [$($cases)* ($id send_case ($ch) (, $v) (_) {$body})] @default $default
            @ids [$($ids)*] )
    };
    (@gen $gen:ident @cases $cases:tt @default [$($d:tt)+] @ids $ids:tt default => $($rest:tt)*) => {
        ::core::compile_error!("select! has more than one `default` case")
    };
    (@gen $gen:ident @cases $cases:tt @default [] @ids $ids:tt default => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases $cases @default [{$body}] @ids $ids $($rest)*)
    };
    (@gen $gen:ident @cases $cases:tt @default [] @ids $ids:tt default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases $cases @default [{$body}] @ids $ids $($rest)*)
    };
    (@gen $gen:ident @cases $cases:tt @default [] @ids $ids:tt default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@gen $gen @cases $cases @default [{$body}] @ids $ids $($rest)*)
    };
    (@gen $gen:ident @cases $cases:tt @default [] @ids $ids:tt default => $body:expr) => {
        $crate::__select_parse!(@gen $gen @cases $cases @default [{$body}] @ids $ids )
    };
    // Anything else is a syntax error in a case.
    (@gen $gen:ident @cases $cases:tt @default $default:tt @ids $ids:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(ch) -> v => ..`, `send(ch, value) => ..` or `default => ..`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };
}

/// Code generation for [`select!`]: build the cases in source order, run the select, then run
/// the body of the case it completed.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_gen {
    ([$(($id:ident $ctor:ident ($ch:expr) ($($v:tt)*) ($p:pat) $body:tt))*] []) => {{
        $(
            let $id = &$ch;
            let $id = $crate::chan::__private::$ctor($id $($v)*);
        )*
        $crate::chan::__private::select(
            [$(&$id as &dyn $crate::chan::__private::SelectHandle),*],
            false,
        );
        $(
            if $id.fired() {
                let $p = $id.take();
                $body
            } else
        )* {
            ::core::unreachable!("select! returned without completing a case")
        }
    }};
    ([$(($id:ident $ctor:ident ($ch:expr) ($($v:tt)*) ($p:pat) $body:tt))*] [$default:tt]) => {{
        $(
            let $id = &$ch;
            let $id = $crate::chan::__private::$ctor($id $($v)*);
        )*
        if $crate::chan::__private::select(
            [$(&$id as &dyn $crate::chan::__private::SelectHandle),*],
            true,
        ) {
            $(
                if $id.fired() {
                    let $p = $id.take();
                    $body
                } else
            )* {
                ::core::unreachable!("select! returned without completing a case")
            }
        } else {
            $default
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::sort_small;
    use crate::chan::{self, Chan};

    /// No waiter of `c`'s queues is linked any more.
    fn unlinked<T>(c: &Chan<T>) -> bool {
        let _held = c.inner.raw_lock();
        // SAFETY: we hold the channel's lock.
        let st = unsafe { c.inner.state_mut() };
        st.recvq.is_empty() && st.sendq.is_empty()
    }

    /// A select that parked and was woken by one case leaves no waiter linked on any of its
    /// channels: the winner's was unlinked by the waker, the others by pass 3 (which skips
    /// the winner's channel when no other case shares it, and locks every channel when two
    /// cases do).
    #[test]
    fn a_woken_select_leaves_no_waiter_queued() {
        let rt = crate::Runtime::builder().workers(1).build().unwrap();
        rt.block_on(|| {
            for winner in 0..3u32 {
                let (a, b) = (chan::make::<u32>(0), chan::make::<u32>(0));
                let (a2, b2) = (a.clone(), b.clone());
                // Spawned into the slot: it runs once the select below has parked.
                let h = crate::go(move || match winner {
                    0 => a2.send(10),
                    1 => b2.send(11),
                    _ => a2.send(12),
                });
                let got = if winner < 2 {
                    crate::select! {
                        recv(a) -> v => v.unwrap(),
                        recv(b) -> v => v.unwrap(),
                    }
                } else {
                    // Two cases on one channel, and a third.
                    crate::select! {
                        recv(a) -> v => v.unwrap(),
                        recv(b) -> v => v.unwrap(),
                        recv(a) -> v => v.unwrap(),
                    }
                };
                h.join();
                assert_eq!(got, 10 + winner);
                assert!(unlinked(&a), "a waiter left on a (winner {winner})");
                assert!(unlinked(&b), "a waiter left on b (winner {winner})");
            }
        });
    }

    #[test]
    fn sort_small_orders_by_key_then_index() {
        let mut v = [(30, 0), (10, 1), (30, 2), (20, 3), (10, 4)];
        sort_small(&mut v);
        assert_eq!(v, [(10, 1), (10, 4), (20, 3), (30, 0), (30, 2)]);
        // Beyond the insertion-sort size the general sort gives the same order.
        let mut big: Vec<(usize, usize)> = (0..20).map(|i| ((i * 7) % 5, i)).collect();
        let mut want = big.clone();
        want.sort_unstable();
        sort_small(&mut big);
        assert_eq!(big, want);
        let mut empty: [(usize, usize); 0] = [];
        sort_small(&mut empty);
    }
}
