//! [`select_async!`](crate::select_async): `select!` awaited instead of blocked on, for tasks
//! and any other executor. The same cases, the same three passes as `select.rs` (look for a
//! ready case under every lock; else queue a waiter on every case, all sharing one sleeper that
//! exactly one channel can claim; once claimed, unqueue the losers), with the sleeper holding
//! the future's waker instead of a parked goroutine, and living in the pinned future.
//!
//! Invariants (on top of `select.rs`'s):
//! - While `Queued`, the cases' waiters are queued on their channels (or the claimed one was
//!   unlinked by its claimer); the future does not move (`!Unpin`), nor do the cases, which the
//!   enclosing async block keeps in place across the `.await`.
//! - The claim is read, and the waker replaced, only with every case's lock held: the
//!   claimer fills the winning waiter and sets the winner under its channel's lock, so holding
//!   them all means the hand-off is complete (Go's pass 3 does the same).
//! - Dropped while `Queued`, the future unqueues every waiter (a case already claimed keeps
//!   what it was handed, and drops it with the case: the select was cancelled).

use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::select::{finish, lock_all, shuffle_ties, SelectHandle, Wake};
use super::waitq::Sleeper;
use crate::runtime::event::{Event, ObjId, Op};
use crate::runtime::executor;
use crate::runtime::goroutine::WaitReason;

/// Where a [`SelectFuture`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Queued,
    /// Nothing enabled and no default: pending for ever (with no waker kept, which the checker
    /// reports as a leak).
    Never,
    Done,
}

/// The future of one [`select_async!`](crate::select_async): `true` once a case completed (its
/// case says which), `false` if the `default` was taken.
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct SelectFuture<'a, const N: usize> {
    cases: [&'a (dyn SelectHandle + Sync); N],
    has_default: bool,
    site: &'static Location<'static>,
    /// The enabled cases in lock order (key, case index); the first `n` entries.
    order: [(usize, usize); N],
    n: usize,
    stage: Stage,
    /// Shared by every queued waiter while `Queued`.
    sleeper: Option<Sleeper>,
    _pinned: PhantomPinned,
}

/// Start an async select over `cases` (used by the `select_async!` expansion).
#[doc(hidden)]
#[track_caller]
pub fn select_async<const N: usize>(
    cases: [&(dyn SelectHandle + Sync); N],
    has_default: bool,
) -> SelectFuture<'_, N> {
    SelectFuture {
        cases,
        has_default,
        site: Location::caller(),
        order: [(0, 0); N],
        n: 0,
        stage: Stage::Start,
        sleeper: None,
        _pinned: PhantomPinned,
    }
}

impl<const N: usize> Future for SelectFuture<'_, N> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        // SAFETY: nothing is moved out of the pinned future; the sleeper stays in place.
        let this = unsafe { self.get_unchecked_mut() };
        let cases = this.cases.map(|c| c as &dyn SelectHandle);
        match this.stage {
            Stage::Done => panic!(
                "goweave: select_async! future (at {}) polled after it completed",
                this.site
            ),
            Stage::Never => {
                crate::task::awaiting(this.nil_reason(), this.site);
                Poll::Pending
            }
            Stage::Queued => {
                let order = &this.order[..this.n];
                let guards = lock_all(&cases, order);
                let sleeper = this.sleeper.as_ref().expect("queued with a sleeper");
                if !sleeper.was_claimed() {
                    sleeper.set_waker(cx.waker());
                    drop(guards);
                    crate::task::awaiting(WaitReason::Select, this.site);
                    return Poll::Pending;
                }
                // Pass 3: unqueue the losers (the winner was unqueued by its claimer).
                for &(_, i) in order {
                    // SAFETY: we hold every case's lock.
                    unsafe { cases[i].unqueue() };
                }
                drop(guards);
                this.stage = Stage::Done;
                finish(cases[sleeper.winner()]);
                Poll::Ready(true)
            }
            Stage::Start => {
                executor::sched_point_unlogged(Event::new(Op::Select, ObjId(0), this.site));
                if crate::record::on() {
                    // Ordered by the numbers its channels give it below, as `select!`.
                    crate::record::point_unordered(Op::Select);
                }
                let mut n = 0;
                for (i, c) in cases.iter().enumerate() {
                    if let Some(key) = c.lock_key() {
                        this.order[n] = (key, i);
                        n += 1;
                    }
                }
                this.n = n;
                if n == 0 {
                    if this.has_default {
                        executor::yield_hint();
                        this.stage = Stage::Done;
                        return Poll::Ready(false);
                    }
                    this.stage = Stage::Never;
                    crate::task::awaiting(this.nil_reason(), this.site);
                    return Poll::Pending;
                }
                let order = &mut this.order[..n];
                order.sort_unstable();
                for &(_, i) in order.iter() {
                    cases[i].race_announce(this.site);
                }
                loop {
                    // Pass 1: a ready case under all the locks.
                    let guards = lock_all(&cases, order);
                    if crate::record::on() {
                        for &(_, i) in order.iter() {
                            // SAFETY: we hold every enabled case's lock.
                            unsafe { cases[i].log_touch() };
                        }
                    }
                    let mut ready = [0usize; N];
                    let mut r = 0;
                    for &(_, i) in order.iter() {
                        // SAFETY: we hold every enabled case's lock.
                        if unsafe { cases[i].is_ready() } {
                            ready[r] = i;
                            r += 1;
                        }
                    }
                    if r > 0 {
                        // Uniform among the ready cases, in case order (as `select` draws).
                        ready[..r].sort_unstable();
                        let pick = ready[executor::random_below(r as u64) as usize];
                        let mut wake = Wake(None);
                        // SAFETY: we hold the lock of `pick`.
                        let done = unsafe { cases[pick].try_complete(&mut wake) };
                        drop(guards);
                        if !done {
                            continue;
                        }
                        if let Some(g) = wake.0 {
                            g.wake();
                        }
                        this.stage = Stage::Done;
                        finish(cases[pick]);
                        return Poll::Ready(true);
                    }
                    if this.has_default {
                        drop(guards);
                        executor::yield_hint();
                        this.stage = Stage::Done;
                        return Poll::Ready(false);
                    }
                    // Pass 2: queue on every case, sharing one sleeper.
                    let sleeper = this.sleeper.insert(Sleeper::with_waker(
                        cx.waker().clone(),
                        crate::runtime::id(),
                        true,
                    ));
                    shuffle_ties(order);
                    for &(_, i) in order.iter() {
                        // SAFETY: we hold the lock; the cases and the sleeper stay in place
                        // until every waiter is unqueued (pass 3, or the drop).
                        unsafe { cases[i].enqueue(sleeper, i) };
                    }
                    drop(guards);
                    this.stage = Stage::Queued;
                    crate::task::awaiting(WaitReason::Select, this.site);
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<const N: usize> SelectFuture<'_, N> {
    /// The wait reason of a select with nothing enabled (Go's one-case rule, as `select`).
    fn nil_reason(&self) -> WaitReason {
        if N == 1 {
            self.cases[0].nil_reason()
        } else {
            WaitReason::SelectNoCases
        }
    }
}

impl<const N: usize> Drop for SelectFuture<'_, N> {
    fn drop(&mut self) {
        if self.stage != Stage::Queued {
            return;
        }
        let cases = self.cases.map(|c| c as &dyn SelectHandle);
        let order = &self.order[..self.n];
        let guards = lock_all(&cases, order);
        for &(_, i) in order {
            // SAFETY: we hold every case's lock.
            unsafe { cases[i].unqueue() };
        }
        drop(guards);
    }
}

/// [`select!`](crate::select) for async code: the same cases and rules (one ready case chosen
/// uniformly at random, `default` when none is ready, a `None` channel disables its case, a
/// send on a closed channel panics), awaited instead of blocking. Use it inside an `async`
/// block or function; it is an expression.
///
/// ```
/// use goweave::{chan, select_async, task};
/// use std::time::Duration;
/// goweave::run(|| {
///     let (a, b) = (chan::make::<i32>(0), chan::make::<&str>(0));
///     let b2 = b.clone();
///     goweave::go(move || b2.send("hi"));
///     let got = task::spawn(async move {
///         select_async! {
///             recv(a) -> v => format!("a: {v:?}"),
///             recv(b) -> v => format!("b: {v:?}"),
///             recv(goweave::time::after(Duration::from_secs(5))) => "timeout".to_string(),
///         }
///     })
///     .join();
///     assert_eq!(got, "b: Some(\"hi\")");
/// });
/// ```
///
/// Dropping the future while it waits leaves every queue; if a case had already been completed
/// (woken but not yet polled), what it received is dropped with it.
#[macro_export]
macro_rules! select_async {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(
            @gen __select_async_gen
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

/// Code generation for [`select_async!`]: as `__select_gen`, with the select awaited.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_async_gen {
    ([$(($id:ident $ctor:ident ($ch:expr) ($($v:tt)*) ($p:pat) $body:tt))*] [$($default:tt)?]) => {{
        $(
            let $id = &$ch;
            let $id = $crate::chan::__private::$ctor($id $($v)*);
        )*
        let __gw_default = $crate::__select_async_has_default!($($default)?);
        if $crate::chan::__private::select_async(
            [$(&$id as &(dyn $crate::chan::__private::SelectHandle + ::core::marker::Sync)),*],
            __gw_default,
        )
        .await
        {
            $(
                if $id.fired() {
                    let $p = $id.take();
                    $body
                } else
            )* {
                ::core::unreachable!("select_async! returned without completing a case")
            }
        } else {
            $crate::__select_async_default!($($default)?)
        }
    }};
}

/// Whether a `select_async!` has a `default` case.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_async_has_default {
    () => {
        false
    };
    ($default:tt) => {
        true
    };
}

/// The `default` body of a `select_async!` (unreachable without one).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_async_default {
    () => {
        ::core::unreachable!("select_async! without default took the default")
    };
    ($default:tt) => {
        $default
    };
}
