//! Classic bug: a deadlock from mutual waiting (two locks taken in opposite orders).
//!
//! `transfer(from, to)` locks the source account, then the destination. Two transfers in
//! opposite directions can each take their first lock and then wait for the other's for ever.
//! Go reports `fatal error: all goroutines are asleep - deadlock!` only when *every* goroutine
//! is stuck, and only in the run where the bad interleaving happens. goweave's checker looks for
//! that interleaving, and prints the same report, with every goroutine's wait reason, where it
//! blocked, and where it was created.
//!
//! The fix takes the two locks in one global order (by account id), whatever the direction of
//! the transfer. The exhaustive strategy (`Dfs`) then checks every schedule of the fixed
//! program, and says so.
//!
//! `cargo run --release --example bug_deadlock`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use goweave::sync::Mutex;
use goweave::{go, Checker, FailureKind, StrategyKind};

struct Account {
    id: usize,
    balance: Mutex<i64>,
}

fn account(id: usize, balance: i64) -> Arc<Account> {
    Arc::new(Account {
        id,
        balance: Mutex::new(balance),
    })
}

/// The buggy version: lock `from`, then `to`.
fn transfer_naive(from: &Account, to: &Account, amount: i64) {
    let mut src = from.balance.lock();
    let mut dst = to.balance.lock(); // the opposite transfer holds this one, and wants ours
    *src -= amount;
    *dst += amount;
}

/// The fix: always lock the account with the smaller id first.
fn transfer(from: &Account, to: &Account, amount: i64) {
    let (first, second) = if from.id < to.id {
        (from, to)
    } else {
        (to, from)
    };
    let mut a = first.balance.lock();
    let mut b = second.balance.lock();
    let (src, dst) = if from.id < to.id {
        (&mut *a, &mut *b)
    } else {
        (&mut *b, &mut *a)
    };
    *src -= amount;
    *dst += amount;
}

/// Two transfers in opposite directions, run concurrently.
fn both_ways(transfer: fn(&Account, &Account, i64)) {
    let (alice, bob) = (account(1, 100), account(2, 100));
    let (a, b) = (alice.clone(), bob.clone());
    let h = go(move || transfer(&a, &b, 30));
    transfer(&bob, &alice, 10);
    h.join();
    assert_eq!(*alice.balance.lock() + *bob.balance.lock(), 200);
}

/// Find the deadlock, then check every schedule of the fix.
pub fn run() -> Result<common::Demo, String> {
    let bug = common::find_bug(
        "bug_deadlock",
        "transfers lock source then destination",
        Checker::new().iterations(100),
        FailureKind::Deadlock,
        &["all goroutines are asleep - deadlock!", "[sync.Mutex.Lock]"],
        || both_ways(transfer_naive),
    )?;
    let fixed = common::passes(
        "transfers lock in account-id order (every schedule, exhaustively)",
        Checker::new().strategy(StrategyKind::Dfs {
            max_preemptions: None,
        }),
        || both_ways(transfer),
    )?;
    if !fixed.1.exhausted {
        return Err("the exhaustive search did not finish".into());
    }
    Ok(common::Demo {
        bug,
        fixed: vec![fixed],
    })
}

#[allow(dead_code)]
fn main() {
    common::exit(run(), "the bug was found and the fix passes");
}
