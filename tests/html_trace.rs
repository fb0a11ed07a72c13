//! The HTML trace (`GOWEAVE_TRACE_FILE=trace.html`, `Failure::html_trace`), looked at the way a
//! person would: a known deadlock's page is rendered by headless Chromium, which takes a
//! screenshot and dumps the DOM its script built. Without Chromium (`apt-get install chromium`)
//! the browser half is skipped with a note; the page's own structure is still checked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use goweave::sync::Mutex;
use goweave::{chan, go, Checker, Failure, FailureKind, StrategyKind};

/// Lock-order inversion with a hand-off: g2 takes A and tells main over an unbuffered channel;
/// then main takes B and wants A while g2 wants B. Deadlocks in some schedules only.
fn lock_order_inversion() -> Failure {
    Checker::new()
        .strategy(StrategyKind::Random)
        .seed(7)
        .iterations(2_000)
        .run(|| {
            let a = Arc::new(Mutex::new(0u32));
            let b = Arc::new(Mutex::new(0u32));
            let ready = chan::make::<()>(0);
            let (a2, b2, ready2) = (a.clone(), b.clone(), ready.clone());
            let h = go(move || {
                let mut ga = a2.lock();
                ready2.send(());
                *b2.lock() += 1;
                *ga += 1;
            });
            ready.recv();
            let gb = b.lock();
            *a.lock() += *gb;
            drop(gb);
            h.join();
        })
        .expect_err("the inversion deadlocks in some schedule")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goweave-html-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The DOM without its `<script>` elements (their text would match the patterns it draws).
fn without_scripts(dom: &str) -> String {
    let mut out = String::new();
    let mut rest = dom;
    while let Some(i) = rest.find("<script") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</script>") {
            Some(j) => rest = &rest[i + j + "</script>".len()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Occurrences of `pat` in `s`.
fn count(s: &str, pat: &str) -> usize {
    s.matches(pat).count()
}

#[test]
fn the_page_is_self_contained_and_carries_the_whole_story() {
    let f = lock_order_inversion();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    let html = f.html_trace();
    // No network, nothing loaded: no URL, no external script, stylesheet or image.
    for bad in ["http:", "https:", "src=", "<link", "@import", "url(http"] {
        assert!(!html.contains(bad), "the page refers to {bad:?}");
    }
    assert!(
        html.contains(&f.replay_line()),
        "the replay line is on the page"
    );
    assert!(html.contains("all goroutines are asleep - deadlock!"));
    // The data the script draws: both goroutines, both blocked for good on a lock, a channel
    // hand-off and a spawn among the happens-before edges.
    let data = html
        .split("<script type=\"application/json\" id=\"data\">")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the data element");
    assert!(data.contains("\"lanes\":[[1,"), "{data}");
    assert!(data.contains("],[2,"), "{data}");
    assert_eq!(
        count(data, "\"sync.Mutex.Lock\",-1]"),
        0,
        "blocks are [g, from, to, reason]"
    );
    assert!(
        data.contains(",-1,\"sync.Mutex.Lock\"]"),
        "a block never woken: {data}"
    );
    assert!(
        data.contains("[\"chan\","),
        "a channel hand-off edge: {data}"
    );
    assert!(
        data.contains("[\"spawn\",1,"),
        "a spawn edge from main: {data}"
    );
    assert!(
        data.contains("deadlock: blocked for good [sync.Mutex.Lock]"),
        "{data}"
    );
}

#[test]
fn the_trace_file_is_html_by_its_extension() {
    if std::env::var_os("GOWEAVE_HTML_TRACE_CHILD").is_some() {
        // The child: find the failure with GOWEAVE_TRACE_FILE set, and print its report.
        println!("{}", lock_order_inversion());
        return;
    }
    // The variable is read when a failure is built, so it is set for a child process only: in
    // this one, the other tests' failures would write the file too.
    let dir = temp_dir("env");
    let path = dir.join("trace.html");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_trace_file_is_html_by_its_extension",
            "--nocapture",
        ])
        .env("GOWEAVE_HTML_TRACE_CHILD", "1")
        .env("GOWEAVE_TRACE_FILE", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("trace written to {} (HTML", path.display())),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&path).expect("the trace file was written");
    assert!(
        text.starts_with("<!DOCTYPE html>"),
        "{}",
        &text[..100.min(text.len())]
    );
    assert!(text.contains("all goroutines are asleep - deadlock!"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chromium's command name, if it is installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Run headless Chromium on `page` with `extra` arguments; (stdout, stderr).
fn headless(cmd: &str, profile: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(cmd)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Lines of Chromium's log that report a problem with the page's script.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            (l.contains("CONSOLE") || l.contains(":CONSOLE(")) && !l.contains("INFO")
                || l.contains("Uncaught")
        })
        .collect()
}

#[test]
fn headless_chromium_draws_one_lane_per_goroutine_and_the_deadlock() {
    let Some(cmd) = chromium() else {
        eprintln!("note: chromium is not installed (apt-get install chromium); skipping the browser check of the HTML trace");
        return;
    };
    let f = lock_order_inversion();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    let dir = temp_dir("chromium");
    let page = dir.join("deadlock.html");
    std::fs::write(&page, f.html_trace()).unwrap();

    let (dom, stderr) = headless(cmd, &dir.join("profile-dom"), &page, &["--dump-dom"]);
    let dom = without_scripts(&dom);
    assert!(console_errors(&stderr).is_empty(), "console: {stderr}");
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the script ran to its end: {dom}"
    );
    assert!(!dom.contains("data-errors="), "a script error: {dom}");
    // One lane per goroutine of the trace, in the drawing and in the labels.
    let mut goroutines: Vec<u64> = f.trace().iter().map(|e| e.goroutine).collect();
    goroutines.sort_unstable();
    goroutines.dedup();
    assert_eq!(goroutines, vec![1, 2]);
    assert_eq!(count(&dom, "<g class=\"lane\" data-goroutine="), 2, "{dom}");
    for g in &goroutines {
        assert!(dom.contains(&format!("<g class=\"lane\" data-goroutine=\"{g}\">")));
        assert!(dom.contains(&format!(
            "<div class=\"lane-label failing\" data-goroutine=\"{g}\""
        )));
    }
    // Every event drawn; the two blocking lock attempts highlighted, each lane's last, and
    // both goroutines blocked for good.
    assert_eq!(count(&dom, "class=\"ev"), f.trace().len(), "{dom}");
    assert_eq!(count(&dom, "class=\"ev fail\""), 2, "{dom}");
    for g in &goroutines {
        let last = f.trace().iter().rev().find(|e| e.goroutine == *g).unwrap();
        assert_eq!(last.event.op.name(), "lock");
        let i = last.step - 1;
        assert!(
            dom.contains(&format!("class=\"ev fail\" data-i=\"{i}\"")),
            "goroutine {g}'s last event (step {}) is highlighted",
            last.step
        );
    }
    assert_eq!(count(&dom, "class=\"block forever\""), 2, "{dom}");
    assert!(
        dom.contains("class=\"edge chan\""),
        "a channel hand-off arrow"
    );
    assert!(dom.contains("class=\"edge spawn\""), "a spawn arrow");
    assert!(dom.contains("class=\"focus\""), "the failing events listed");
    assert!(dom.contains(&f.replay_line()));

    let shot = dir.join("deadlock.png");
    let (_, stderr) = headless(
        cmd,
        &dir.join("profile-shot"),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,320",
            "--hide-scrollbars",
        ],
    );
    assert!(console_errors(&stderr).is_empty(), "console: {stderr}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        png.len() > 10_000,
        "a page with content ({} bytes)",
        png.len()
    );
    if let Some(keep) = std::env::var_os("GOWEAVE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deadlock at the end of a long run: two goroutines play 2,500 rounds of ping-pong over
/// unbuffered channels (10,000 events), then both wait to receive.
fn long_ping_pong() -> Failure {
    Checker::new()
        .strategy(StrategyKind::RoundRobin)
        .iterations(1)
        .max_steps(100_000)
        .run(|| {
            let ping = chan::make::<u32>(0);
            let pong = chan::make::<u32>(0);
            let (ping2, pong2) = (ping.clone(), pong.clone());
            go(move || {
                while let Some(v) = ping2.recv() {
                    pong2.send(v + 1);
                }
            });
            for i in 0..2_500 {
                ping.send(i);
                assert_eq!(pong.recv(), Some(i + 1));
            }
            pong.recv(); // nobody sends: deadlock
        })
        .expect_err("the last receive deadlocks")
}

#[test]
fn ten_thousand_events_stay_drawable() {
    let f = long_ping_pong();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    assert!(f.trace().len() >= 10_000, "{} events", f.trace().len());
    let Some(cmd) = chromium() else {
        eprintln!("note: chromium is not installed (apt-get install chromium); skipping the browser check of a long HTML trace");
        return;
    };
    let dir = temp_dir("long");
    let page = dir.join("long.html");
    std::fs::write(&page, f.html_trace()).unwrap();
    let started = std::time::Instant::now();
    let (dom, stderr) = headless(cmd, &dir.join("profile"), &page, &["--dump-dom"]);
    let took = started.elapsed();
    let dom = without_scripts(&dom);
    assert!(console_errors(&stderr).is_empty(), "console: {stderr}");
    assert!(dom.contains("data-rendered=\"ok\""));
    assert_eq!(count(&dom, "class=\"ev"), f.trace().len());
    assert_eq!(count(&dom, "<g class=\"lane\" data-goroutine="), 2);
    eprintln!(
        "{} events drawn by headless chromium in {took:.2?}",
        f.trace().len()
    );
    let shot = dir.join("long.png");
    headless(
        cmd,
        &dir.join("profile-shot"),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,480",
            "--hide-scrollbars",
        ],
    );
    if let Some(keep) = std::env::var_os("GOWEAVE_KEEP_LONG_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
