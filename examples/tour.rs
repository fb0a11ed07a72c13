//! The README's first command: explore a buggy bank, find the lost update, then show the fix.
//!
//! `cargo run --release --example tour`

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use goweave::runtime::gosched;
use goweave::{go, Checker};

/// Two deposits race on a balance: each reads, yields, then writes back.
fn buggy_bank() {
    let balance = Arc::new(AtomicI64::new(100));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let b = balance.clone();
            go(move || {
                let v = b.load(Ordering::SeqCst);
                gosched(); // another deposit may run here
                b.store(v + 50, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(balance.load(Ordering::SeqCst), 200, "a deposit was lost");
}

/// The fix: one atomic read-modify-write per deposit.
fn fixed_bank() {
    let balance = Arc::new(AtomicI64::new(100));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let b = balance.clone();
            go(move || {
                gosched();
                b.fetch_add(50, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(balance.load(Ordering::SeqCst), 200, "a deposit was lost");
}

fn main() {
    println!("== exploring the buggy bank ==");
    match Checker::new().iterations(1_000).run(buggy_bank) {
        Ok(stats) => {
            eprintln!("no bug found in {} schedules", stats.schedules);
            std::process::exit(1);
        }
        Err(failure) => println!(
            "found after {} schedule(s):\n{failure}",
            failure.iteration() + 1
        ),
    }
    println!("== exploring the fixed bank ==");
    let stats = Checker::new()
        .iterations(1_000)
        .run(fixed_bank)
        .unwrap_or_else(|f| panic!("the fix failed:\n{f}"));
    println!("passed {} schedules", stats.schedules);
}
