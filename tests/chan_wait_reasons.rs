//! Every blocking channel, select and time operation records Go's wait reason, on both
//! executors (seen through `leak::find`, which lists the goroutines with their state).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::on_steal;
use goweave::chan::{self, Chan};
use goweave::leak::{self, Options};
use goweave::{go, select, time, Checker, FailureKind};

/// Leaves one goroutine blocked in each way, then checks what `leak::find` reports.
fn block_every_way() {
    let ch = chan::make::<i32>(0);
    let nil: Option<Chan<i32>> = None;
    let mut want = BTreeMap::new();
    let c = ch.clone();
    want.insert(go(move || c.send(1)).id(), "chan send");
    let c = chan::make::<i32>(0);
    want.insert(go(move || c.recv().is_some()).id(), "chan receive");
    let n = nil.clone();
    want.insert(
        go(move || select! { send(n, 1) => {} }).id(),
        "chan send (nil chan)",
    );
    let n = nil.clone();
    want.insert(
        go(move || select! { recv(n) -> _ => {} }).id(),
        "chan receive (nil chan)",
    );
    let (a, b) = (chan::make::<i32>(0), chan::make::<i32>(0));
    want.insert(
        go(move || select! { recv(a) -> _ => {}, recv(b) -> _ => {} }).id(),
        "select",
    );
    want.insert(go(|| select! {}).id(), "select (no cases)");
    // Sleeps again if virtual time passes an hour (the controlled executor may let it).
    want.insert(
        go(|| loop {
            time::sleep(Duration::from_secs(3600))
        })
        .id(),
        "sleep",
    );
    // Poll until every goroutine has reached its block (no timing assumption).
    let wall = std::time::Instant::now();
    loop {
        let leaks = leak::find(Options::new().retry_window(Duration::from_millis(1))).unwrap_err();
        let got: BTreeMap<u64, &str> = leaks.goroutines.iter().map(|d| (d.id, d.state())).collect();
        if got == want || wall.elapsed() > Duration::from_secs(10) {
            assert_eq!(got, want, "{leaks}");
            assert!(
                leaks.to_string().contains("chan_wait_reasons.rs"),
                "{leaks}"
            );
            return;
        }
        goweave::runtime::gosched();
    }
}

#[test]
fn every_block_records_gos_wait_reason() {
    on_steal(block_every_way);
    // The goroutines are still blocked when main returns: the checker may report them as
    // leaks, with the same wait reasons.
    match Checker::new().iterations(20).seed(7).run(block_every_way) {
        Ok(_) => {}
        Err(e) if e.kind() == FailureKind::Leak => {
            let r = e.report();
            for reason in ["chan send", "chan receive (nil chan)", "select (no cases)"] {
                assert!(r.contains(&format!(" [{reason}]:")), "{reason}: {r}");
            }
        }
        Err(e) => panic!("controlled run failed:\n{e}"),
    }
}
