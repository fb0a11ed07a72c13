//! Goroutine stack failures that end or cripple a process, tested in a child process: the test
//! binary re-executes itself with `--exact <test> --nocapture` and an environment variable that
//! selects the child's part.
//!
//! - A stack overflow must abort (SIGABRT) with `goroutine 7 overflowed its stack (size ...)` on
//!   stderr, with either guard mechanism, instead of dying with a silent SIGSEGV.
//! - Running out of stacks must give an error that names the limit (`GOWEAVE_MAX_STACKS`, or
//!   `vm.max_map_count` when the kernel's mapping budget runs out).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

/// Set in the child's environment to the part it must play.
const CHILD_ENV: &str = "GOWEAVE_STACK_TEST_CHILD";

fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Runs this test binary again, only `test`, with `CHILD_ENV=mode` and `env` set.
fn run_child(test: &str, mode: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env_remove("GOWEAVE_STACK_GUARD")
        .env_remove("GOWEAVE_MAX_STACKS")
        .env_remove("GOWEAVE_STACK_SIZE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn the child test process")
}

/// The child's message (libtest may print the test's name earlier on the same line).
fn exhaust_message(stdout: &str) -> Option<&str> {
    stdout
        .lines()
        .find_map(|l| l.split_once("EXHAUST-MESSAGE: ").map(|(_, m)| m))
}

fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Keeps an aborting child from writing a core dump.
fn no_core_dump() {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dump flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

fn overflow_child() {
    no_core_dump();
    goweave::test_hooks::overflow_probe(64 * 1024);
    unreachable!("the overflow probe returned");
}

fn assert_overflow_report(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "the child must abort\n{}",
        describe(out)
    );
    assert!(
        stderr.contains("goroutine 7 overflowed its stack (size 65536 bytes)"),
        "stderr must name the goroutine and the size\n{}",
        describe(out)
    );
}

#[test]
fn stack_overflow_aborts_naming_the_goroutine() {
    if child_mode().is_some() {
        return overflow_child();
    }
    let out = run_child(
        "stack_overflow_aborts_naming_the_goroutine",
        "overflow",
        &[],
    );
    assert_overflow_report(&out);
}

#[test]
fn stack_overflow_is_reported_with_mprotect_guards() {
    if child_mode().is_some() {
        return overflow_child();
    }
    let out = run_child(
        "stack_overflow_is_reported_with_mprotect_guards",
        "overflow",
        &[("GOWEAVE_STACK_GUARD", "mprotect")],
    );
    assert_overflow_report(&out);
}

#[test]
fn stack_overflow_on_a_thread_without_signal_stack() {
    if child_mode().is_some() {
        // Remove the signal stack std gave this thread: prepare_thread must install one.
        let off = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disables this thread's signal stack; the process ends in the probe anyway.
        unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
        return overflow_child();
    }
    let out = run_child(
        "stack_overflow_on_a_thread_without_signal_stack",
        "overflow",
        &[],
    );
    assert_overflow_report(&out);
}

#[test]
fn running_out_of_stacks_names_goweave_max_stacks() {
    if child_mode().is_some() {
        println!("EXHAUST-MESSAGE: {}", goweave::test_hooks::exhaust_probe());
        return;
    }
    let out = run_child(
        "running_out_of_stacks_names_goweave_max_stacks",
        "exhaust",
        &[("GOWEAVE_MAX_STACKS", "4")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    let line = exhaust_message(&stdout).unwrap_or_else(|| panic!("no message\n{}", describe(&out)));
    assert!(
        line.contains("GOWEAVE_MAX_STACKS limit of 4 stacks"),
        "{line}"
    );
}

/// With mprotect guards every stack costs two mappings, so the kernel's budget runs out after
/// about vm.max_map_count / 2 stacks; the error must say so and name the sysctl.
#[test]
fn running_out_of_mappings_names_vm_max_map_count() {
    if child_mode().is_some() {
        println!("EXHAUST-MESSAGE: {}", goweave::test_hooks::exhaust_probe());
        return;
    }
    let max: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    if max > 300_000 {
        eprintln!("vm.max_map_count = {max} is too large to exhaust quickly; skipping");
        return;
    }
    let out = run_child(
        "running_out_of_mappings_names_vm_max_map_count",
        "exhaust",
        &[
            ("GOWEAVE_STACK_GUARD", "mprotect"),
            ("GOWEAVE_STACK_SIZE", "16k"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    let line = exhaust_message(&stdout).unwrap_or_else(|| panic!("no message\n{}", describe(&out)));
    assert!(line.contains("mapping budget is exhausted"), "{line}");
    assert!(line.contains("sysctl -w vm.max_map_count="), "{line}");
    assert!(line.contains("2 mappings per stack"), "{line}");
    assert!(!line.contains("os error 12"), "never a bare ENOMEM: {line}");
}

/// A fault that is not a goroutine guard-page hit goes to the handler that was there before
/// (Rust's std): a std thread's own stack overflow is still reported by std.
#[test]
fn thread_stack_overflow_still_reaches_std_handler() {
    if child_mode().is_some() {
        no_core_dump();
        // Allocating a stack installs goweave's handler in front of std's.
        let _ = goweave::test_hooks::exhaust_probe();
        std::thread::Builder::new()
            .name("deep".into())
            .stack_size(128 * 1024)
            .spawn(|| {
                let _ = std::hint::black_box(deep(0));
            })
            .unwrap()
            .join()
            .unwrap();
        unreachable!("the thread's recursion returned");
    }
    let out = run_child(
        "thread_stack_overflow_still_reaches_std_handler",
        "thread-overflow",
        &[("GOWEAVE_MAX_STACKS", "1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains("thread 'deep'") && stderr.contains("has overflowed its stack"),
        "{}",
        describe(&out)
    );
    assert!(!stderr.contains("goroutine"), "{}", describe(&out));
}

/// A plain bad access (not any stack's guard page) still ends in SIGSEGV, not in a report.
#[test]
fn other_faults_still_segfault() {
    if child_mode().is_some() {
        no_core_dump();
        // Allocating a stack installs goweave's handler in front of std's.
        let _ = goweave::test_hooks::exhaust_probe();
        // SAFETY: maps one inaccessible page; reading it faults, which is the point.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        // SAFETY: not sound on purpose: the read faults and the process dies by SIGSEGV.
        let v = unsafe { std::ptr::read_volatile(page as *const u8) };
        unreachable!("read {v} from a PROT_NONE page");
    }
    let out = run_child(
        "other_faults_still_segfault",
        "segv",
        &[("GOWEAVE_MAX_STACKS", "1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "{}",
        describe(&out)
    );
    assert!(!stderr.contains("overflowed"), "{}", describe(&out));
}

#[inline(never)]
fn deep(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 512]);
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    deep(depth + 1).wrapping_add(u64::from(frame[(depth % 512) as usize]))
}

#[inline(never)]
#[allow(unconditional_recursion)] // the point: it ends on the guard page
fn recurse_forever(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 64]);
    recurse_forever(depth + 1) + pad[depth as usize % 64]
}

/// Run `body` on a one-worker runtime with 64 KiB stacks in the child process of test `name`,
/// and check that the child aborted with the overflow report naming goroutine `goid`.
fn overflow_in_child_names(name: &str, goid: u64, body: fn()) {
    if child_mode().is_some() {
        no_core_dump();
        goweave::Runtime::builder()
            .workers(1)
            .stack_size(64 * 1024)
            .build()
            .unwrap()
            .block_on(body);
        unreachable!("the overflowing goroutine returned");
    }
    let out = run_child(name, "goroutine", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains(&format!(
            "goroutine {goid} overflowed its stack (size 65536 bytes)"
        )),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_real_goroutine_overflowing_its_stack_is_named() {
    overflow_in_child_names("a_real_goroutine_overflowing_its_stack_is_named", 2, || {
        goweave::go(|| recurse_forever(0)).join();
    });
}

/// A finished goroutine's coroutine runs the next goroutine started on its worker (see
/// `runtime::coroutine`): the overflow report must name the goroutine running now, not the
/// one that first ran on the stack.
#[test]
fn an_overflow_on_a_reused_stack_names_the_goroutine_running_on_it() {
    overflow_in_child_names(
        "an_overflow_on_a_reused_stack_names_the_goroutine_running_on_it",
        4,
        || {
            // Goroutines 2 and 3 finish first; 4 then starts on one of their coroutines.
            let first = goweave::go(|| 1u64).join();
            let second = goweave::go(|| 2u64).join();
            goweave::go(move || recurse_forever(first + second)).join();
        },
    );
}
