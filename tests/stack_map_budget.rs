//! With `mprotect` guard pages (two kernel mappings per stack), running out of
//! `vm.max_map_count` must end in goweave's error naming the sysctl, never in a bare
//! `memory allocation of N bytes failed` abort: the allocator needs mappings too, so goweave
//! stops creating stacks while a reserve of mappings is left for the rest of the process
//! (issue 17, item 10).
//!
//! The child runs a real program (goroutines that block forever, spawned until their stacks
//! cannot be had) in a process of its own: this binary again, with
//! `GOWEAVE_STACK_GUARD=mprotect` and small stacks.
//!
//! - On both executors, the budget is lowered with `GOWEAVE_MAX_MAP_COUNT` to a few hundred
//!   mappings above what the process uses, so the reserve is reached after a few hundred
//!   stacks (fast), through the same counting path.
//! - On the work-stealing runtime, the real budget is exhausted too: the limit is per
//!   process, so this affects nothing else on the machine (it takes ~13 s in a debug build,
//!   and skips itself where `vm.max_map_count` is too large to exhaust quickly). Under the
//!   checker the same exhaustion also works, but tearing 31,000 goroutines down and replaying
//!   the schedule for the report takes ~40 s and 2 GB, too much for the suite.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::Duration;

use goweave::{chan, go, Checker, Runtime};

const CHILD_ENV: &str = "GOWEAVE_MAP_BUDGET_CHILD";

fn run_child(test: &str, mode: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env("GOWEAVE_STACK_GUARD", "mprotect")
        .env("GOWEAVE_STACK_SIZE", "64k")
        .env_remove("GOWEAVE_MAX_STACKS")
        .env_remove("GOWEAVE_MAX_MAP_COUNT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn the child test process")
}

/// The mappings this process has now (lines of `/proc/self/maps`).
fn mappings_now() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

/// The message the child printed.
fn budget_message(mode: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{mode}: the child must end normally, with goweave's error\n{}",
        describe(out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("BUDGET-MESSAGE: ").map(|(_, m)| m.to_string()))
        .unwrap_or_else(|| panic!("{mode}: no message\n{}", describe(out)));
    assert!(
        line.contains("mapping budget is exhausted"),
        "{mode}: {line}"
    );
    assert!(
        line.contains("sysctl -w vm.max_map_count="),
        "{mode}: {line}"
    );
    assert!(line.contains("2 mappings per stack"), "{mode}: {line}");
    assert!(
        !line.contains("os error"),
        "{mode}: never a bare errno: {line}"
    );
    assert!(
        stdout.contains("BUDGET-AFTER: ok"),
        "{mode}: the process can still allocate and start a thread\n{}",
        describe(out)
    );
    line
}

fn describe(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The tail is what matters (the child may print one report per goroutine that failed).
    let tail: String = stderr
        .chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "status: {:?} (signal {:?})\n--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
        out.status,
        out.status.signal(),
        String::from_utf8_lossy(&out.stdout),
        tail
    )
}

/// Spawns goroutines that block for ever, waiting now and then until they have started (and
/// taken their stacks), until the run fails; now and then it starts a std thread, which needs
/// mappings of its own. (Waiting on a WaitGroup, not sleeping: a 1 us sleep once outlasted
/// the start of 64 goroutines only because a timer thread was slow to fire it.)
fn spawn_until_the_stacks_run_out() {
    let never = chan::make::<()>(0);
    let started = goweave::sync::WaitGroup::new();
    for i in 0u64.. {
        let n = never.clone();
        let s = started.clone();
        started.add(1);
        go(move || {
            s.done();
            n.recv();
        });
        if i % 64 == 0 {
            started.wait();
        }
        if i % 512 == 0 {
            // The program needs mappings of its own as it goes (a thread's stack and guard).
            let t = std::thread::spawn(move || i);
            assert_eq!(t.join().unwrap(), i);
        }
        if i > 2_000_000 {
            panic!("no stack allocation error after {i} goroutines");
        }
    }
}

fn message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn child(mode: &str) {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dump flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let msg = match mode {
        "steal" => {
            let r = std::panic::catch_unwind(|| {
                Runtime::builder()
                    .workers(1)
                    .deadlock_check(false)
                    .build()
                    .unwrap()
                    .block_on(spawn_until_the_stacks_run_out)
            });
            message(r.expect_err("the run must fail"))
        }
        "controlled" => {
            let f = Checker::new()
                .iterations(1)
                .max_steps(u64::MAX / 2)
                .watchdog(Duration::from_secs(120))
                .shrink_budget(Duration::ZERO)
                .run(spawn_until_the_stacks_run_out)
                .expect_err("the run must fail");
            f.to_string()
        }
        m => panic!("unknown mode {m}"),
    };
    let line = msg
        .lines()
        .find(|l| l.contains("cannot map a goroutine stack"))
        .unwrap_or(&msg)
        .to_string();
    println!("BUDGET-MESSAGE: {line}");
    // goweave stopped with mappings to spare for the rest of the process (a reserve of 1/32 of
    // the budget, at least 512).
    let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let max = std::env::var("GOWEAVE_MAX_MAP_COUNT")
        .map_or(max, |v| v.parse::<usize>().unwrap().min(max));
    let free = max.saturating_sub(mappings_now());
    println!("BUDGET-FREE: {free} of {max}");
    assert!(
        free >= 400,
        "only {free} of {max} mappings left for the process"
    );
    // The rest of the process still works: a large allocation (its own mapping) and a new
    // thread (two) come out of the reserve goweave left.
    let big = std::hint::black_box(vec![1u8; 8 << 20]);
    let t = std::thread::spawn(move || big.iter().map(|&b| b as usize).sum::<usize>());
    assert_eq!(t.join().unwrap(), 8 << 20);
    println!("BUDGET-AFTER: ok");
}

#[test]
fn a_lowered_budget_stops_stacks_at_the_reserve_on_both_executors() {
    const NAME: &str = "a_lowered_budget_stops_stacks_at_the_reserve_on_both_executors";
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        return child(&mode);
    }
    // A child starts with about as many mappings as this process (same binary); give it a
    // budget 1,200 above that: the reserve (512 at that size) leaves room for ~300 stacks.
    let budget = (mappings_now() + 1_200).to_string();
    for mode in ["steal", "controlled"] {
        let out = run_child(NAME, mode, &[("GOWEAVE_MAX_MAP_COUNT", &budget)]);
        let line = budget_message(mode, &out);
        assert!(
            line.contains(&format!("vm.max_map_count = {budget}")),
            "{mode}: {line}"
        );
        assert!(line.contains("keeps the last 512"), "{mode}: {line}");
        assert!(line.contains("GOWEAVE_MAX_MAP_COUNT"), "{mode}: {line}");
    }
}

#[test]
fn exhausting_vm_max_map_count_gives_the_error_naming_the_sysctl() {
    const NAME: &str = "exhausting_vm_max_map_count_gives_the_error_naming_the_sysctl";
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        return child(&mode);
    }
    let max: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    if max > 300_000 {
        eprintln!("vm.max_map_count = {max} is too large to exhaust quickly; skipping");
        return;
    }
    let out = run_child(NAME, "steal", &[]);
    let line = budget_message("steal", &out);
    assert!(
        line.contains(&format!("vm.max_map_count = {max}")),
        "{line}"
    );
}
