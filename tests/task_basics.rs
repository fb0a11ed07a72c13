//! Async tasks (`goweave::task`): spawn, await and join, `block_on`, wakers from anywhere, the
//! channel futures, and what a blocking call inside a task does, on both executors.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use common::{on_both, on_controlled, on_steal, panic_message};
use goweave::{chan, go, task, Checker, FailureKind, Runtime};

/// A one-shot flag that only speaks wakers: what any runtime-agnostic future does.
#[derive(Clone, Default)]
struct Flag(Arc<Mutex<(bool, Option<Waker>)>>);

impl Flag {
    fn set(&self) {
        let w = {
            let mut s = self.0.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl Future for Flag {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn spawn_then_join_from_a_goroutine_and_await_from_a_task() {
    on_both(|| {
        let a = task::spawn(async { 20 });
        let b = task::spawn(async move { a.await + 1 });
        assert_eq!(b.join(), 21);
        let g = go(|| 5);
        // A task awaits a goroutine's handle: it is a future too.
        assert_eq!(task::spawn(async move { g.await * 2 }).join(), 10);
    });
}

#[test]
fn block_on_parks_the_goroutine_until_a_waker_fires() {
    on_both(|| {
        let flag = Flag::default();
        let f = flag.clone();
        go(move || f.set());
        task::block_on(flag);
        assert_eq!(task::block_on(async { 7 }), 7);
    });
}

#[test]
fn block_on_outside_any_runtime_blocks_the_thread() {
    let flag = Flag::default();
    let f = flag.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(5));
        f.set()
    });
    task::block_on(flag);
    t.join().unwrap();
}

#[test]
fn a_waker_called_from_a_plain_thread_wakes_a_task_on_the_work_stealing_runtime() {
    let rt = Runtime::builder()
        .workers(2)
        .deadlock_check(false)
        .build()
        .unwrap();
    let v = rt.block_on(|| {
        let flag = Flag::default();
        let f = flag.clone();
        let h = task::spawn(async move {
            flag.await;
            99
        });
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            f.set();
        });
        let v = h.join();
        t.join().unwrap();
        v
    });
    assert_eq!(v, 99);
}

#[test]
fn many_tasks_ping_pong_over_channels_with_goroutines() {
    on_both(|| {
        let n = 8;
        let ping = chan::make::<u32>(0);
        let pong = chan::make::<u32>(0);
        let (pi, po) = (ping.clone(), pong.clone());
        let server = task::spawn(async move {
            let mut served = 0;
            while let Some(v) = pi.recv_async().await {
                po.send_async(v + 1).await;
                served += 1;
            }
            served
        });
        for i in 0..n {
            ping.send(i);
            assert_eq!(pong.recv(), Some(i + 1));
        }
        ping.close();
        assert_eq!(server.join(), n);
    });
}

#[test]
fn channel_futures_buffered_fifo_and_close() {
    on_both(|| {
        let ch = chan::make::<u32>(2);
        let tx = ch.clone();
        let producer = task::spawn(async move {
            for i in 0..10 {
                tx.send_async(i).await;
            }
            tx.close();
        });
        let consumer = task::spawn(async move {
            let mut got = Vec::new();
            while let Some(v) = ch.recv_async().await {
                got.push(v);
            }
            got
        });
        producer.join();
        assert_eq!(consumer.join(), (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn a_dropped_recv_future_leaves_the_queue() {
    on_both(|| {
        let ch = chan::make::<u32>(0);
        let rx = ch.clone();
        // Poll once (it queues itself), then drop it.
        task::block_on(async {
            let mut f = Box::pin(rx.recv_async());
            let w = futures_task_noop();
            assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        });
        // Nobody is queued now: a try_send finds no receiver.
        assert!(ch.try_send(1).is_err());
    });
}

fn futures_task_noop() -> Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

#[test]
fn a_blocking_call_inside_a_task_panics_naming_the_call_and_the_async_form() {
    let run = || {
        let ch = chan::make::<u32>(0);
        let h = task::spawn(async move { ch.recv() });
        h.join();
    };
    let steal = std::panic::catch_unwind(|| on_steal(run)).unwrap_err();
    let msg = panic_message(steal);
    assert!(msg.contains("blocking call (chan receive)"), "{msg}");
    assert!(msg.contains("inside task 2"), "{msg}");
    assert!(msg.contains("ch.recv_async().await"), "{msg}");
    let err = Checker::new().iterations(5).run(run).unwrap_err();
    assert_eq!(err.kind(), FailureKind::Panic);
    let r = err.to_string();
    assert!(r.contains("ch.recv_async().await"), "{r}");
}

#[test]
fn gosched_and_block_on_inside_a_task_panic_too() {
    let err = Checker::new()
        .iterations(1)
        .run(|| task::spawn(async { goweave::runtime::gosched() }).join())
        .unwrap_err();
    assert!(err.to_string().contains("task::yield_now().await"), "{err}");
    let err = Checker::new()
        .iterations(1)
        .run(|| {
            task::spawn(async { task::block_on(async { 1 }) }).join();
        })
        .unwrap_err();
    assert!(err.to_string().contains("future.await"), "{err}");
}

#[test]
fn yield_now_lets_another_task_run() {
    on_both(|| {
        let turns = Arc::new(AtomicUsize::new(0));
        let t = turns.clone();
        let h = task::spawn(async move {
            for _ in 0..3 {
                t.fetch_add(1, Ordering::SeqCst);
                task::yield_now().await;
            }
        });
        h.join();
        assert_eq!(turns.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn a_task_pending_with_no_waker_is_a_leak_with_its_location() {
    struct Never;
    impl Future for Never {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending // keeps no waker: nothing can ever wake it
        }
    }
    let line = line!() + 3;
    let err = Checker::new()
        .iterations(3)
        .run(|| task::spawn(Never).join())
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Leak);
    let r = err.to_string();
    assert!(r.contains("task 2 [await (no waker registered)]"), "{r}");
    assert!(
        r.contains(&format!("tests/task_basics.rs:{line}")),
        "spawn site: {r}"
    );
    assert!(r.contains("replay: GOWEAVE_REPLAY=gw1:"), "{r}");
}

#[test]
fn a_task_blocked_forever_is_reported_as_a_task_in_a_deadlock() {
    let err = Checker::new()
        .iterations(3)
        .run(|| {
            let ch = chan::make::<u32>(0);
            task::spawn_named("reader", async move { ch.recv_async().await }).join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Deadlock);
    let r = err.to_string();
    assert!(r.contains("task 2 \"reader\" [chan receive]:"), "{r}");
    assert!(r.contains("goroutine 1 [join]:"), "{r}");
}

#[test]
fn a_panicking_task_ends_the_run_like_a_goroutine() {
    let err = Checker::new()
        .iterations(1)
        .run(|| {
            task::spawn(async { panic!("boom in a task") }).join();
        })
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::Panic);
    let r = err.to_string();
    assert!(
        r.contains("task 2 panicked at tests/task_basics.rs:"),
        "{r}"
    );
    assert!(r.contains("boom in a task"), "{r}");
    assert!(r.contains("task 2 [running]:"), "{r}");
    let p = std::panic::catch_unwind(|| {
        on_steal(|| {
            let _h = task::spawn(async { panic!("boom on steal") });
            goweave::time::sleep(std::time::Duration::from_millis(50));
        })
    })
    .unwrap_err();
    let msg = panic_message(p);
    assert!(msg.contains("task 2 panicked at"), "{msg}");
    assert!(msg.contains("boom on steal"), "{msg}");
}

#[test]
fn tasks_interleave_under_the_checker() {
    // Two tasks each send their id; both orders must be seen across schedules.
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let s = seen.clone();
    on_controlled(50, move || {
        let ch = chan::make::<u32>(2);
        for i in 0..2 {
            let tx = ch.clone();
            task::spawn(async move { tx.send_async(i).await });
        }
        let a = ch.recv().unwrap();
        let b = ch.recv().unwrap();
        s.lock().unwrap().insert((a, b));
    });
    assert_eq!(seen.lock().unwrap().len(), 2, "both orders explored");
}

#[test]
fn mutex_lock_async_excludes_under_contention() {
    on_both(|| {
        let m = Arc::new(goweave::sync::Mutex::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                task::spawn(async move {
                    for _ in 0..5 {
                        let mut g = m.lock_owned_async().await;
                        let v = *g;
                        task::yield_now().await; // hold it across an await
                        *g = v + 1;
                    }
                })
            })
            .collect();
        // A goroutine contends with the tasks through the blocking form.
        let m2 = m.clone();
        let g = go(move || {
            for _ in 0..5 {
                *m2.lock() += 1;
            }
        });
        hs.into_iter().for_each(|h| h.join());
        g.join();
        assert_eq!(*m.lock(), 25);
    });
}

#[test]
fn waitgroup_wait_async_and_sleep_async() {
    on_both(|| {
        let t0 = goweave::time::now();
        let wg = goweave::sync::WaitGroup::new();
        wg.add(3);
        for i in 0..3u64 {
            let w = wg.clone();
            task::spawn(async move {
                goweave::time::sleep_async(std::time::Duration::from_millis(i)).await;
                w.done();
            });
        }
        let w = wg.clone();
        task::spawn(async move { w.wait_async().await }).join();
        assert_eq!(wg.count(), 0);
        assert!(goweave::time::since(t0) >= std::time::Duration::from_millis(2));
    });
}

#[test]
fn a_dropped_sleep_disarms_its_timer_and_a_dropped_lock_future_leaves_the_queue() {
    on_both(|| {
        let m = Arc::new(goweave::sync::Mutex::new(()));
        let held = m.lock();
        task::block_on(async {
            let mut f = Box::pin(m.lock_async());
            let w = futures_task_noop();
            assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
            let mut s = Box::pin(goweave::time::sleep_async(std::time::Duration::from_secs(
                3600,
            )));
            assert!(s.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        });
        drop(held);
        // The dropped waiter does not hold the lock: it is free now.
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn timers_and_context_done_through_the_channel_futures() {
    on_both(|| {
        let (ctx, cancel) = goweave::context::with_cancel(&goweave::context::background());
        let h = task::spawn(async move {
            let done = ctx.done();
            done.recv_async().await;
            let t = goweave::time::Timer::new(std::time::Duration::from_millis(1));
            t.c().recv_async().await.is_some()
        });
        cancel.cancel();
        assert!(h.join());
    });
}

#[test]
fn rwlock_async_readers_share_writers_exclude() {
    on_both(|| {
        let l = Arc::new(goweave::sync::RwLock::new(0u64));
        let writers: Vec<_> = (0..3)
            .map(|_| {
                let l = l.clone();
                task::spawn(async move {
                    let mut g = l.write_owned_async().await;
                    let v = *g;
                    task::yield_now().await;
                    *g = v + 1;
                })
            })
            .collect();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let l = l.clone();
                task::spawn(async move {
                    // (Not a second read lock while holding one: with a writer waiting, Go's
                    // RWMutex deadlocks there, and the checker reports it.)
                    let a = l.read_owned_async().await;
                    task::yield_now().await;
                    let v = *a;
                    drop(a);
                    let b = l.read_async().await;
                    assert!(*b >= v);
                    v
                })
            })
            .collect();
        // A goroutine writes through the blocking form meanwhile.
        let l2 = l.clone();
        let g = go(move || *l2.write() += 10);
        writers.into_iter().for_each(|h| h.join());
        readers.into_iter().for_each(|h| assert!(h.join() <= 13));
        g.join();
        assert_eq!(*l.read(), 13);
    });
}

#[test]
fn errgroup_wait_async_returns_the_first_error() {
    on_both(|| {
        let g = goweave::errgroup::Group::<&'static str>::new();
        g.go(|| Ok(()));
        g.go(|| Err("first"));
        let r = task::spawn(async move { g.wait_async().await }).join();
        assert_eq!(r, Err("first"));
    });
}

#[test]
fn semaphore_acquire_async_bounds_concurrency_fifo_with_goroutines() {
    on_both(|| {
        let sem = Arc::new(goweave::sync::Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let (sem, inside) = (sem.clone(), inside.clone());
                task::spawn(async move {
                    let w = 1 + i % 2;
                    sem.acquire_async(w).await;
                    let now = inside.fetch_add(w as usize, Ordering::SeqCst) + w as usize;
                    assert!(now <= 3, "{now} units held");
                    task::yield_now().await;
                    inside.fetch_sub(w as usize, Ordering::SeqCst);
                    sem.release(w);
                })
            })
            .collect();
        let s2 = sem.clone();
        let g = go(move || {
            s2.acquire(2);
            s2.release(2);
        });
        hs.into_iter().for_each(|h| h.join());
        g.join();
        assert_eq!(sem.held(), 0);
    });
}

#[test]
fn a_dropped_semaphore_future_gives_its_place_back() {
    on_both(|| {
        let sem = goweave::sync::Semaphore::new(1);
        sem.acquire(1);
        task::block_on(async {
            let mut f = Box::pin(sem.acquire_async(1));
            let w = futures_task_noop();
            assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        });
        sem.release(1);
        // Nobody waits: the unit is free.
        assert!(sem.try_acquire(1));
    });
}

#[test]
fn once_call_once_async_runs_once_and_a_cancelled_run_does_not_count() {
    on_both(|| {
        let once = Arc::new(goweave::sync::Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        // A first call whose future is dropped mid-run: not counted, and the lock is freed.
        task::block_on(async {
            let mut f = Box::pin(once.call_once_async(std::future::pending()));
            let w = futures_task_noop();
            assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        });
        assert!(!once.is_completed());
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                task::spawn(async move {
                    let r = runs.clone();
                    once.call_once_async(async move {
                        task::yield_now().await;
                        r.fetch_add(1, Ordering::SeqCst);
                    })
                    .await;
                    assert_eq!(runs.load(Ordering::SeqCst), 1, "returns after the run");
                })
            })
            .collect();
        let (o, r) = (once.clone(), runs.clone());
        let g = go(move || {
            o.call_once(|| {
                r.fetch_add(1, Ordering::SeqCst);
            })
        });
        hs.into_iter().for_each(|h| h.join());
        g.join();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn cond_wait_async_with_signal_and_broadcast() {
    on_both(|| {
        let m = Arc::new(goweave::sync::Mutex::new(0u32));
        let c = Arc::new(goweave::sync::Cond::new());
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let (m, c) = (m.clone(), c.clone());
                task::spawn(async move {
                    let mut g = m.lock_owned_async().await;
                    while *g < i + 1 {
                        g = c.wait_async(g).await;
                    }
                    *g
                })
            })
            .collect();
        // A goroutine waiting with the blocking form on the same Cond.
        let (m2, c2) = (m.clone(), c.clone());
        let g = go(move || {
            let mut v = m2.lock();
            while *v < 3 {
                v = c2.wait(v);
            }
        });
        for _ in 0..3 {
            *m.lock() += 1;
            c.signal();
            c.broadcast();
        }
        for h in waiters {
            assert!(h.join() >= 1);
        }
        g.join();
    });
}

#[test]
fn a_stuck_task_on_the_work_stealing_runtime_is_in_the_deadlock_dump() {
    let p = std::panic::catch_unwind(|| {
        on_steal(|| {
            let ch = chan::make::<u32>(0);
            task::spawn(async move { ch.recv_async().await }).join();
        })
    })
    .unwrap_err();
    let msg = panic_message(p);
    assert!(
        msg.contains("all goroutines are asleep - deadlock!"),
        "{msg}"
    );
    assert!(msg.contains("task 2 [chan receive]:"), "{msg}");
    assert!(msg.contains("goroutine 1 [join]:"), "{msg}");
}

#[test]
fn leak_verify_none_lists_leaked_tasks() {
    let run = || {
        let ch = chan::make::<u32>(0);
        let rx = ch.clone();
        drop(task::spawn(async move { rx.recv_async().await }));
        goweave::leak::verify_none(
            goweave::leak::Options::new().retry_window(std::time::Duration::from_millis(20)),
        );
        drop(ch);
    };
    let p = std::panic::catch_unwind(|| on_steal(run)).unwrap_err();
    let msg = panic_message(p);
    assert!(msg.contains("found unexpected goroutines"), "{msg}");
    assert!(msg.contains("task 2 [chan receive]:"), "{msg}");
}

#[test]
fn spawning_a_task_outside_a_runtime_says_how_to_start_one() {
    let p = std::panic::catch_unwind(|| drop(task::spawn(async {}))).unwrap_err();
    let msg = panic_message(p);
    assert!(
        msg.contains("goweave::task::spawn at tests/task_basics.rs:"),
        "{msg}"
    );
    assert!(msg.contains("goweave::run"), "{msg}");
}

#[test]
fn a_handle_awaited_to_completion_cannot_be_joined_or_polled_again() {
    let p = std::panic::catch_unwind(|| {
        on_steal(|| {
            let mut h = Box::pin(task::spawn(async { 1 }));
            assert_eq!(task::block_on(h.as_mut()), 1);
            task::block_on(h.as_mut());
        })
    })
    .unwrap_err();
    let msg = panic_message(p);
    assert!(msg.contains("polled after it returned its value"), "{msg}");
}
