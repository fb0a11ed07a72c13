//! `select!` conformance: Go's select semantics, every behaviour on both executors.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{on_both, on_controlled, on_steal};
use goweave::chan::{self, Chan, Receiver, Sender};
use goweave::runtime::gosched;
use goweave::{go, recover, select, time, Checker, FailureKind};

fn settle() {
    time::sleep(Duration::from_millis(2));
}

#[test]
fn default_is_taken_only_when_no_case_is_ready() {
    on_both(|| {
        let a = chan::make::<i32>(1);
        let got = select! {
            recv(a) -> v => v,
            default => Some(-1),
        };
        assert_eq!(got, Some(-1));
        a.send(4);
        let got = select! {
            recv(a) -> v => v,
            default => Some(-1),
        };
        assert_eq!(got, Some(4));
        // A send case with room wins over default; a full one does not.
        let sent = select! { send(a, 5) => true, default => false };
        assert!(sent);
        let sent = select! { send(a, 6) => true, default => false };
        assert!(!sent);
        assert_eq!(a.recv(), Some(5));
        // Only a default: taken.
        let d = select! { default => 9 };
        assert_eq!(d, 9);
    });
}

#[test]
fn receive_from_a_nil_channel_is_never_ready() {
    on_both(|| {
        let a = chan::make::<i32>(1);
        let nil: Option<&Chan<i32>> = None;
        for i in 0..50 {
            let got = select! {
                recv(nil) -> _ => unreachable!("a nil channel was ready"),
                default => 0,
            };
            assert_eq!(got, 0);
            a.send(i);
            let got = select! {
                recv(nil) -> _ => unreachable!("a nil channel was ready"),
                send(None::<&Chan<i32>>, 1) => unreachable!("a nil channel was ready"),
                recv(a) -> v => v.unwrap(),
            };
            assert_eq!(got, i);
        }
        // Enabling a case with `Some`, as Go code assigns the channel to a nil variable.
        a.send(7);
        let enabled = Some(&a);
        assert_eq!(
            select! { recv(enabled) -> v => v, default => None },
            Some(7)
        );
    });
}

#[test]
fn a_goroutine_selecting_only_on_nil_channels_blocks_forever() {
    let body = || {
        let h = go(|| {
            let nil: Option<Receiver<i32>> = None;
            select! { recv(nil) -> _ => {} }
        });
        let h2 = go(|| select! {});
        settle();
        assert!(!h.is_finished() && !h2.is_finished());
        // main returns: both are torn down.
    };
    on_steal(body);
    // On the controlled executor the two goroutines are leaks, reported with their wait
    // reasons (if the checker looks for leaks).
    match Checker::new().iterations(20).seed(7).run(body) {
        Ok(_) => {}
        Err(e) if e.kind() == FailureKind::Leak => {
            let r = e.report();
            assert!(r.contains("goroutine 2 [chan receive (nil chan)]:"), "{r}");
            assert!(r.contains("goroutine 3 [select (no cases)]:"), "{r}");
        }
        Err(e) => panic!("controlled run failed:\n{e}"),
    }
}

fn deadlock_report(f: impl Fn() + Send + Sync + 'static) -> String {
    let e = Checker::new().iterations(1).run(f).unwrap_err();
    assert_eq!(e.kind(), FailureKind::Deadlock, "{e}");
    e.report().to_string()
}

#[test]
fn wait_reasons_of_select() {
    let r = deadlock_report(|| {
        let (a, b) = (chan::make::<i32>(0), chan::make::<i32>(0));
        select! { recv(a) -> _ => {}, send(b, 1) => {} }
    });
    assert!(r.contains("goroutine 1 [select]:"), "{r}");
    assert!(r.contains("select_conformance.rs"), "{r}");

    let r = deadlock_report(|| select! {});
    assert!(r.contains("goroutine 1 [select (no cases)]:"), "{r}");

    let r = deadlock_report(|| {
        let nil: Option<Chan<i32>> = None;
        select! { recv(nil) -> _ => {}, send(nil, 1) => {} }
    });
    assert!(r.contains("goroutine 1 [select (no cases)]:"), "{r}");

    // A one-case select is a plain channel operation in Go, with its wait reason.
    let r = deadlock_report(|| {
        let nil: Option<Chan<i32>> = None;
        select! { recv(nil) -> _ => {} }
    });
    assert!(r.contains("goroutine 1 [chan receive (nil chan)]:"), "{r}");

    let r = deadlock_report(|| {
        let nil: Option<Sender<i32>> = None;
        select! { send(nil, 1) => {} }
    });
    assert!(r.contains("goroutine 1 [chan send (nil chan)]:"), "{r}");
}

/// Two always-ready cases; returns how often each won in `n` selects.
fn two_ready_cases(n: usize) -> [usize; 2] {
    let (a, b) = (chan::make::<u8>(1), chan::make::<u8>(1));
    a.send(0);
    b.send(1);
    let mut wins = [0usize; 2];
    for _ in 0..n {
        let i = select! {
            recv(a) -> v => v.unwrap(),
            recv(b) -> v => v.unwrap(),
        };
        wins[i as usize] += 1;
        [&a, &b][i as usize].send(i);
    }
    wins
}

#[test]
fn uniform_choice_among_ready_cases_on_the_work_stealing_executor() {
    on_steal(|| {
        let wins = two_ready_cases(10_000);
        for w in wins {
            assert!((4_500..=5_500).contains(&w), "not uniform: {wins:?}");
        }
    });
}

#[test]
fn both_ready_cases_are_explored_on_the_controlled_executor() {
    let seen = Arc::new(Mutex::new([0usize; 2]));
    let s = seen.clone();
    on_controlled(40, move || {
        let w = two_ready_cases(1);
        let mut s = s.lock().unwrap();
        s[0] += w[0];
        s[1] += w[1];
    });
    let seen = *seen.lock().unwrap();
    assert!(seen[0] > 0 && seen[1] > 0, "one side never won: {seen:?}");
}

/// Twenty selects among three ready cases (and a goroutine racing main for the channels):
/// which case won each time.
fn select_choices() -> Vec<u8> {
    let (a, b, c) = (
        chan::make::<u8>(1),
        chan::make::<u8>(1),
        chan::make::<u8>(1),
    );
    let (a2, b2) = (a.clone(), b.clone());
    let h = go(move || {
        let _ = a2.try_send(0);
        let _ = b2.try_send(1);
    });
    let mut mine = Vec::new();
    for _ in 0..20 {
        let _ = a.try_send(0);
        let _ = b.try_send(1);
        let _ = c.try_send(2);
        mine.push(select! {
            recv(a) -> v => v.unwrap(),
            recv(b) -> v => v.unwrap(),
            recv(c) -> v => v.unwrap(),
        });
    }
    h.join();
    mine
}

/// A body that logs its select choices, one entry per schedule.
fn logged_selects(log: &Arc<Mutex<Vec<Vec<u8>>>>) -> impl Fn() + Send + Sync + Clone + 'static {
    let log = log.clone();
    move || {
        let mine = select_choices();
        log.lock().unwrap().push(mine);
    }
}

#[test]
fn the_same_seed_makes_the_same_select_choices() {
    let run = |seed| {
        let log = Arc::new(Mutex::new(Vec::new()));
        Checker::new()
            .iterations(10)
            .seed(seed)
            .run(logged_selects(&log))
            .unwrap();
        let v = log.lock().unwrap().clone();
        v
    };
    let first = run(11);
    assert_eq!(first.len(), 10);
    assert_eq!(first, run(11), "same seed, different select choices");
    assert_ne!(first, run(12), "the seed does not drive select choices");
    // Within one campaign, schedules differ (choices are explored).
    assert!(first.iter().any(|s| s != &first[0]));
}

#[test]
fn replaying_a_token_reproduces_select_choices_exactly() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let record = logged_selects(&log);
    // Fail every schedule, to get a replay token for the first one.
    let body = move || {
        record();
        panic!("record this schedule");
    };
    let failure = Checker::new()
        .iterations(1)
        .seed(99)
        .run(body.clone())
        .unwrap_err();
    assert_eq!(failure.kind(), FailureKind::Panic, "{failure}");
    let original = log.lock().unwrap()[0].clone();
    log.lock().unwrap().clear();
    let again = goweave::replay(failure.original_schedule(), body).unwrap_err();
    assert_eq!(again.kind(), FailureKind::Panic, "{again}");
    assert_eq!(
        log.lock().unwrap()[0],
        original,
        "replay made other select choices"
    );
}

#[test]
fn send_case_hands_off_to_a_waiting_receiver() {
    on_both(|| {
        let ch = chan::make::<i32>(0);
        let c = ch.clone();
        let h = go(move || c.recv());
        settle();
        let never = chan::make::<i32>(0);
        let r = select! {
            send(ch, 42) => "sent",
            recv(never) -> _ => "never",
        };
        assert_eq!(r, "sent");
        assert_eq!(h.join(), Some(42));
    });
}

#[test]
fn a_blocked_select_is_completed_by_exactly_one_case() {
    on_both(|| {
        let (a, b) = (chan::make::<i32>(0), chan::make::<i32>(0));
        let (a2, b2) = (a.clone(), b.clone());
        let h = go(move || {
            select! {
                recv(a2) -> v => ('a', v),
                recv(b2) -> v => ('b', v),
            }
        });
        // Two senders poll until their value is taken or the select is over: exactly one
        // completes it, and the select's other waiter must take nothing afterwards.
        let done = Arc::new(AtomicBool::new(false));
        let poll = |c: Chan<i32>, v: i32, done: Arc<AtomicBool>| {
            go(move || loop {
                if c.try_send(v).is_ok() {
                    return true;
                }
                if done.load(SeqCst) {
                    return false;
                }
                gosched();
            })
        };
        let sa = poll(a.clone(), 1, done.clone());
        let sb = poll(b.clone(), 2, done.clone());
        let got = h.join();
        done.store(true, SeqCst);
        let (oka, okb) = (sa.join(), sb.join());
        assert!(oka ^ okb, "exactly one try_send must succeed: {oka} {okb}");
        assert_eq!(got, if oka { ('a', Some(1)) } else { ('b', Some(2)) });
    });
}

#[test]
fn a_blocked_select_is_woken_by_close() {
    on_both(|| {
        let (a, b) = (chan::make::<i32>(0), chan::make::<i32>(0));
        let (a2, b2) = (a.clone(), b.clone());
        let h = go(move || {
            select! {
                recv(a2) -> v => ('a', v),
                recv(b2) -> v => ('b', v),
            }
        });
        settle();
        b.close();
        assert_eq!(h.join(), ('b', None));
        // The losing case's waiter was unqueued: a later send on `a` is not swallowed.
        assert!(a.try_send(1).is_err());
    });
}

#[test]
fn a_send_case_on_a_closed_channel_panics() {
    on_both(|| {
        // Ready at once.
        let a = chan::make::<i32>(1);
        a.close();
        let p = recover(|| select! { send(a, 1) => {}, default => {} }).unwrap_err();
        assert_eq!(p.message(), "send on closed channel");
        assert!(
            p.location().contains("select_conformance.rs"),
            "{}",
            p.location()
        );
        // Blocked, then closed.
        let b = chan::make::<i32>(0);
        let b2 = b.clone();
        let h = go(move || {
            let never = chan::make::<i32>(0);
            recover(|| select! { send(b2, 1) => {}, recv(never) -> _ => {} })
                .unwrap_err()
                .message()
                .to_string()
        });
        settle();
        b.close();
        assert_eq!(h.join(), "send on closed channel");
    });
}

#[test]
fn the_same_channel_in_two_cases() {
    on_both(|| {
        let a = chan::make::<i32>(0);
        let a2 = a.clone();
        let h = go(move || {
            select! {
                recv(a2) -> v => v.unwrap(),
                recv(a2) -> v => v.unwrap() + 100,
            }
        });
        settle();
        a.send(1);
        let v = h.join();
        assert!(v == 1 || v == 101);
        assert!(a.try_send(2).is_err(), "a stale waiter was left queued");
    });
}

#[test]
fn timeout_with_after() {
    on_both(|| {
        let never = chan::make::<i32>(0);
        let start = time::now();
        let r = select! {
            recv(never) -> _ => "value",
            recv(time::after(Duration::from_millis(20))) -> t => {
                assert!(t.unwrap() >= start + Duration::from_millis(20));
                "timeout"
            }
        };
        assert_eq!(r, "timeout");
        assert!(start.elapsed() >= Duration::from_millis(20));

        // A value that arrives before the timeout wins. (The controlled executor may also let
        // the hour pass first, as a real machine could: then the timeout wins.)
        let ch = chan::make::<i32>(0);
        let c = ch.clone();
        go(move || c.send(5));
        let r = select! {
            recv(ch) -> v => v,
            recv(time::after(Duration::from_secs(3600))) -> _ => None,
        };
        if r.is_none() {
            assert!(
                start.elapsed() >= Duration::from_secs(3600),
                "early timeout"
            );
            assert_eq!(ch.recv(), Some(5));
        } else {
            assert_eq!(r, Some(5));
        }
    });
}

#[test]
fn select_in_a_loop_with_break_and_continue() {
    on_both(|| {
        let (data, quit) = (chan::make::<u32>(0), chan::make::<()>(0));
        let (d, q) = (data.clone(), quit.clone());
        go(move || {
            for i in 0..10 {
                d.send(i);
            }
            q.close();
        });
        let mut sum = 0;
        loop {
            select! {
                recv(data) -> v => {
                    let v = v.unwrap();
                    if v % 2 == 1 {
                        continue;
                    }
                    sum += v;
                }
                recv(quit) => break,
            }
        }
        assert_eq!(sum, 2 + 4 + 6 + 8);
    });
}

#[test]
fn concurrent_selects_lose_and_duplicate_nothing() {
    on_both(|| {
        const P: u64 = 4;
        const N: u64 = 200;
        let (a, b, quit) = (
            chan::make::<u64>(0),
            chan::make::<u64>(0),
            chan::make::<()>(0),
        );
        let producers: Vec<_> = (0..P)
            .map(|p| {
                let (a, b) = (a.clone(), b.clone());
                go(move || {
                    for i in 0..N {
                        let v = p * N + i;
                        select! {
                            send(a, v) => {},
                            send(b, v) => {},
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (a, b, quit) = (a.clone(), b.clone(), quit.clone());
                go(move || {
                    let mut got = Vec::new();
                    loop {
                        select! {
                            recv(a) -> v => got.push(v.unwrap()),
                            recv(b) -> v => got.push(v.unwrap()),
                            recv(quit) => return got,
                        }
                    }
                })
            })
            .collect();
        for p in producers {
            p.join();
        }
        quit.close();
        let mut all: Vec<u64> = consumers.into_iter().flat_map(|h| h.join()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..P * N).collect::<Vec<_>>());
    });
}

#[test]
fn select_with_both_directions_between_two_goroutines() {
    on_both(|| {
        // Each side offers to send and to receive on two unbuffered channels: they always
        // match up, one way or the other.
        let (x, y) = (chan::make::<u32>(0), chan::make::<u32>(0));
        let count = Arc::new(AtomicUsize::new(0));
        let (x2, y2, c2) = (x.clone(), y.clone(), count.clone());
        let h = go(move || {
            for i in 0..100 {
                select! {
                    send(x2, i) => {},
                    recv(y2) -> v => { assert!(v.is_some()); c2.fetch_add(1, SeqCst); }
                }
            }
        });
        for i in 0..100 {
            select! {
                recv(x) -> v => { assert!(v.is_some()); count.fetch_add(1, SeqCst); }
                send(y, i) => {},
            }
        }
        h.join();
        assert_eq!(count.load(SeqCst), 100);
    });
}

#[test]
fn values_of_losing_send_cases_are_dropped() {
    on_both(|| {
        let a = chan::make::<Arc<()>>(1);
        let b = chan::make::<Arc<()>>(0);
        let v = Arc::new(());
        select! {
            send(a, v.clone()) => {},
            send(b, v.clone()) => unreachable!(),
        }
        assert_eq!(Arc::strong_count(&v), 2); // ours and the one in `a`
        drop(a);
        assert_eq!(Arc::strong_count(&v), 1);
    });
}

#[test]
fn select_is_fast_enough_to_time_loosely() {
    // A smoke check that the work-stealing select path does not block or spin: 100k
    // non-blocking selects finish in well under a few seconds even in debug builds.
    on_steal(|| {
        let a = chan::make::<u8>(1);
        let t = Instant::now();
        for _ in 0..100_000 {
            a.send(1);
            select! { recv(a) -> _ => {}, default => {} }
        }
        assert!(t.elapsed() < Duration::from_secs(5));
    });
}
