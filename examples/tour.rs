//! The README's first command: a bank with concurrent transfers, three versions of it, and
//! what goweave says about each.
//!
//! `cargo run --release --example tour`
//!
//! 1. Balances in shared cells, no locking. goweave's race detector reports the unsynchronised
//!    read and write of a balance (`WARNING: DATA RACE`), as Go's `-race` would.
//! 2. A mutex per account, but `transfer` reads the balance under one lock and writes it back
//!    under another. There is no data race any more, so a race detector is satisfied, yet two
//!    transfers out of the same account can both read 100, both pass the funds check, and both
//!    write back 40: one withdrawal is lost and money is created. The checker explores
//!    interleavings until the bank's invariant fails, shrinks the schedule to the fewest
//!    preemptions, and prints the trace and the token that replays it.
//! 3. The fix: lock both accounts (in id order, so that opposite transfers cannot deadlock) and
//!    check and move the money under those locks. Exhaustive search (`Dfs`) checks every
//!    schedule of the same test, and PCT a bigger one.
//!
//! Then the fixed bank runs for real on the work-stealing runtime: the same code, on two OS
//! threads, without the checker.
//!
//! The process exits non-zero if a bug is not found or the fix fails.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use goweave::cell::RaceCell;
use goweave::sync::{Mutex, WaitGroup};
use goweave::{go, Checker, Failure, FailureKind, Stats, StrategyKind};

/// Every account starts with this much; the bank's total never changes.
const OPENING: i64 = 100;

/// Transfers move money from account `.0` to `.1`: two out of account 0, whose balance covers
/// only one of them.
const TRANSFERS: [(usize, usize, i64); 2] = [(0, 1, 60), (0, 2, 60)];

// ---------------------------------------------------------------- 1. no locking at all

/// A bank whose balances are bare shared cells.
struct RacyBank {
    balances: Vec<RaceCell<i64>>,
}

impl RacyBank {
    fn new(n: usize) -> RacyBank {
        RacyBank {
            balances: (0..n)
                .map(|_| RaceCell::named("balance", OPENING))
                .collect(),
        }
    }

    fn transfer(&self, from: usize, to: usize, amount: i64) -> Result<(), String> {
        let balance = self.balances[from].get();
        if balance < amount {
            return Err(format!("insufficient funds in account {from}"));
        }
        self.balances[from].set(balance - amount);
        self.balances[to].set(self.balances[to].get() + amount);
        Ok(())
    }
}

fn racy_bank() {
    let bank = Arc::new(RacyBank::new(3));
    let hs: Vec<_> = TRANSFERS
        .iter()
        .map(|&(from, to, amount)| {
            let bank = bank.clone();
            go(move || bank.transfer(from, to, amount))
        })
        .collect();
    for h in hs {
        let _ = h.join();
    }
}

// ---------------------------------------------------------------- 2. locks, wrongly scoped

/// One account: a mutex around its balance.
struct Account {
    id: usize,
    balance: Mutex<i64>,
}

/// A bank whose accounts each have a lock.
struct Bank {
    accounts: Vec<Account>,
}

impl Bank {
    fn new(n: usize) -> Bank {
        Bank {
            accounts: (0..n)
                .map(|id| Account {
                    id,
                    balance: Mutex::new(OPENING),
                })
                .collect(),
        }
    }

    /// Check-then-act across two critical sections: the balance may change in between.
    fn transfer_unlocked_gap(&self, from: usize, to: usize, amount: i64) -> Result<(), String> {
        let (src, dst) = (&self.accounts[from], &self.accounts[to]);
        let balance = *src.balance.lock();
        if balance < amount {
            return Err(format!("insufficient funds in account {from}"));
        }
        *src.balance.lock() = balance - amount; // another transfer may have run since the read
        *dst.balance.lock() += amount;
        Ok(())
    }

    /// The fix: hold both locks (taken in id order) from the check to the last write.
    fn transfer(&self, from: usize, to: usize, amount: i64) -> Result<(), String> {
        let (src, dst) = (&self.accounts[from], &self.accounts[to]);
        let (first, second) = if src.id < dst.id {
            (src, dst)
        } else {
            (dst, src)
        };
        let mut a = first.balance.lock();
        let mut b = second.balance.lock();
        let (src_balance, dst_balance) = if src.id < dst.id {
            (&mut *a, &mut *b)
        } else {
            (&mut *b, &mut *a)
        };
        if *src_balance < amount {
            return Err(format!("insufficient funds in account {from}"));
        }
        *src_balance -= amount;
        *dst_balance += amount;
        Ok(())
    }

    /// The bank's invariant: money is neither created nor destroyed, and no account is
    /// overdrawn.
    fn audit(&self) {
        let balances: Vec<i64> = self.accounts.iter().map(|a| *a.balance.lock()).collect();
        let total: i64 = balances.iter().sum();
        assert_eq!(
            total,
            OPENING * self.accounts.len() as i64,
            "the bank's total changed: balances {balances:?}"
        );
        assert!(
            balances.iter().all(|&b| b >= 0),
            "an account is overdrawn: {balances:?}"
        );
    }
}

/// Run `transfers` concurrently on a fresh bank of `accounts` accounts, then audit it.
fn run_transfers(
    accounts: usize,
    transfers: &'static [(usize, usize, i64)],
    transfer: fn(&Bank, usize, usize, i64) -> Result<(), String>,
) {
    let bank = Arc::new(Bank::new(accounts));
    let wg = WaitGroup::new();
    for &(from, to, amount) in transfers {
        let bank = bank.clone();
        wg.go(move || {
            let _ = transfer(&bank, from, to, amount); // a refused transfer is fine
        });
    }
    wg.wait();
    bank.audit();
}

// ---------------------------------------------------------------- 3. the fix, and for real

/// A busier test for PCT: transfers in both directions between three accounts.
const BUSY: [(usize, usize, i64); 6] = [
    (0, 1, 60),
    (1, 0, 30),
    (0, 2, 60),
    (2, 1, 80),
    (1, 2, 50),
    (2, 0, 10),
];

/// The fixed bank on the work-stealing runtime: `n` random transfers between 10 accounts from
/// 100 goroutines. Returns how many went through, and on how many workers.
fn production_run(n: usize) -> (usize, usize) {
    goweave::run(move || {
        let bank = Arc::new(Bank::new(10));
        let done = Arc::new(goweave::sync::atomic::AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..100 {
            let (bank, done) = (bank.clone(), done.clone());
            wg.go(move || {
                for _ in 0..n / 100 {
                    let from = goweave::rand::below(10) as usize;
                    let to = (from + 1 + goweave::rand::below(9) as usize) % 10;
                    if bank
                        .transfer(from, to, 1 + goweave::rand::below(50) as i64)
                        .is_ok()
                    {
                        done.fetch_add(1, goweave::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        wg.wait();
        bank.audit();
        let ok = done.load(goweave::sync::atomic::Ordering::Relaxed);
        (ok, goweave::runtime::gomaxprocs())
    })
}

/// What the tour found and checked.
pub struct Tour {
    /// Version 1: the data race.
    pub race: Failure,
    /// Version 2: the lost update.
    pub lost_update: Failure,
    /// Version 3 under exhaustive search, then under PCT.
    pub fixed: Vec<(String, Stats)>,
}

/// Find both bugs, check the fix, run it for real.
pub fn run() -> Result<Tour, String> {
    let race = common::find_bug(
        "tour",
        "1. balances in shared cells, no locking",
        Checker::new().iterations(1_000),
        FailureKind::Race,
        &["WARNING: DATA RACE", "balance"],
        racy_bank,
    )?;
    let lost_update = common::find_bug(
        "tour",
        "2. a lock per account, but the balance is read and written under different locks",
        Checker::new()
            .strategy(StrategyKind::Pct { depth: 2 })
            .iterations(10_000),
        FailureKind::Panic,
        &["the bank's total changed"],
        || run_transfers(3, &TRANSFERS, Bank::transfer_unlocked_gap),
    )?;
    let every = common::passes(
        "3. both locks held from the check to the write: every schedule (dfs)",
        Checker::new().strategy(StrategyKind::Dfs {
            max_preemptions: None,
        }),
        || run_transfers(3, &TRANSFERS, Bank::transfer),
    )?;
    if !every.1.exhausted {
        return Err("the exhaustive search did not finish".into());
    }
    let busy = common::passes(
        "3. the same fix, six transfers in both directions (pct, depth 3)",
        Checker::new()
            .strategy(StrategyKind::Pct { depth: 3 })
            .iterations(5_000),
        || run_transfers(3, &BUSY, Bank::transfer),
    )?;
    println!("== 4. the fixed bank on the work-stealing runtime (no checker) ==");
    let t = Instant::now();
    let n = 100_000;
    let (ok, workers) = production_run(n);
    println!(
        "{ok} of {n} random transfers went through (the rest lacked funds), 100 goroutines \
         on {workers} workers, {:.0?}; the audit passed",
        t.elapsed()
    );
    println!();
    Ok(Tour {
        race,
        lost_update,
        fixed: vec![every, busy],
    })
}

#[allow(dead_code)]
fn main() {
    let started = Instant::now();
    let r = run();
    let done = format!(
        "tour done in {:.1?}: both bugs found and replayed, the fix passed",
        started.elapsed()
    );
    common::exit(r, &done);
}
