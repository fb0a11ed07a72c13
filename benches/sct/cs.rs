//! SCTBench's CS programs (Thomson, Donaldson, Betts, "Concurrency testing using controlled
//! schedulers: an empirical study", TOPC 2016; the `concurrent-software-benchmarks` of its
//! `buggy.txt`, from ESBMC's and Inspect's suites), ported once and compiled for both tools.
//!
//! Each program is written once, in [`cs_programs!`], against a shim of five names (`Mutex`,
//! `Cond`, `AtomicI64`, `AtomicBool`, `spawn`); the macro is expanded in [`gw`] over goweave's
//! primitives and in [`sh`] over shuttle's, and every shim call is exactly one call of the
//! tool's primitive. So both tools run the same threads doing the same operations in the
//! same order, and see the same scheduling points. The mapping from the C originals:
//! - `pthread_mutex_t` protecting some variables: a `Mutex` holding those variables (lock and
//!   unlock are the guard's creation and drop; a mutex the original never unlocks is held by
//!   a forgotten guard).
//! - `pthread_cond_t`: `Cond` (`pthread_cond_wait` is `wait(guard)`, `pthread_cond_signal` is
//!   `signal`; both tools lose a signal nobody waits for, as pthreads do).
//! - A variable the original accesses without a lock from several threads (a data race, which
//!   SCTBench's race-detection phase turns into a scheduling point): the tool's atomic, one
//!   load or store per C access, so `x++` is a load and a store.
//! - A variable only one thread touches before `pthread_join` hands it to main: a std atomic
//!   (no scheduling point in either tool, as in the original, where it is not racy).
//! - `__ESBMC_atomic_begin/end`: SCTBench's `common.inc` defines them as locking and
//!   unlocking one global mutex, and so does the port.
//! - `pthread_create` / `pthread_join`: `spawn` / `join`, in the original's order. Where the
//!   original's `main` returns without joining (account, token_ring), the port joins every
//!   thread: otherwise the run would end (shuttle) or report a leaked goroutine (goweave)
//!   before the bug's threads ran.
//! - `assert(e)`: `assert!(e)`; a failing one panics, and both tools report the panic.
//!   Deadlocks are reported by both tools as such.

/// The programs, over whatever `Mutex`, `Cond`, `AtomicI64`, `AtomicBool`, `SeqCst` and
/// `spawn` the expanding module imports.
macro_rules! cs_programs {
    () => {
        use std::sync::atomic::AtomicU64 as PlainU64;
        use std::sync::atomic::Ordering::Relaxed;
        use std::sync::Arc;

        /// `account_bad`: a checker started first asserts, once it sees both a deposit and a
        /// withdrawal done (each in its own thread, under one mutex), that the balance is
        /// `(x - y) - z` where it is `x + y - z`: the bug is the checker running last.
        pub fn account() {
            struct S {
                balance: i64,
                deposit_done: bool,
                withdraw_done: bool,
            }
            let (x, y, z) = (1, 2, 4);
            let m = Arc::new(Mutex::new(S {
                balance: x,
                deposit_done: false,
                withdraw_done: false,
            }));
            let m3 = m.clone();
            let t3 = spawn(move || {
                let g = m3.lock();
                if g.deposit_done && g.withdraw_done {
                    assert!(g.balance == (x - y) - z, "account: balance");
                }
            });
            let m1 = m.clone();
            let t1 = spawn(move || {
                let mut g = m1.lock();
                g.balance += y;
                g.deposit_done = true;
            });
            let t2 = spawn(move || {
                let mut g = m.lock();
                g.balance -= z;
                g.withdraw_done = true;
            });
            t3.join();
            t1.join();
            t2.join();
        }

        /// `arithmetic_prog_bad`: a producer and a consumer hand N = 3 items over through a
        /// mutex and two condition variables; the consumer sums its loop indices into `total`
        /// and main asserts the sum is not N(N+1)/2, which it always is (the bug is in every
        /// schedule that completes).
        pub fn arithmetic_prog() {
            const N: u64 = 3;
            let st = Arc::new((Mutex::new(0i64), Cond::new(), Cond::new()));
            let total = Arc::new(PlainU64::new(0));
            let flag = Arc::new(PlainU64::new(0));
            let s1 = st.clone();
            let t1 = spawn(move || {
                let (m, empty, full) = &*s1;
                for _ in 0..N {
                    let mut num = m.lock();
                    while *num > 0 {
                        num = empty.wait(num);
                    }
                    *num += 1;
                    drop(num);
                    full.signal();
                }
            });
            let (tot, fl) = (total.clone(), flag.clone());
            let t2 = spawn(move || {
                let (m, empty, full) = &*st;
                let mut j = 0;
                while j < N {
                    let mut num = m.lock();
                    while *num == 0 {
                        num = full.wait(num);
                    }
                    tot.fetch_add(j, Relaxed);
                    *num -= 1;
                    drop(num);
                    empty.signal();
                    j += 1;
                }
                tot.fetch_add(j, Relaxed);
                fl.store(1, Relaxed);
            });
            t1.join();
            t2.join();
            if flag.load(Relaxed) == 1 {
                assert!(
                    total.load(Relaxed) != N * (N + 1) / 2,
                    "arithmetic_prog: total"
                );
            }
        }

        /// `bluetooth_driver_bad`: main adds an I/O (count under the atomic-section mutex)
        /// unless the stopping flag is set, while a stopper sets the flag, drops the initial
        /// count and marks the device stopped when the count reaches 0. The flag check and the
        /// increment are not atomic together, so the stopper can stop the device between
        /// them and main's work then asserts on a stopped device.
        pub fn bluetooth_driver() {
            struct Dev {
                pending_io: Mutex<i64>,
                stopping_flag: AtomicBool,
                stopping_event: AtomicBool,
                stopped: AtomicBool,
            }
            fn io_decrement(e: &Dev) {
                let pending = {
                    let mut p = e.pending_io.lock();
                    *p -= 1;
                    *p
                };
                if pending == 0 {
                    e.stopping_event.store(true, SeqCst);
                }
            }
            let e = Arc::new(Dev {
                pending_io: Mutex::new(1),
                stopping_flag: AtomicBool::new(false),
                stopping_event: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
            });
            let e2 = e.clone();
            let stopper = spawn(move || {
                e2.stopping_flag.store(true, SeqCst);
                io_decrement(&e2);
                if e2.stopping_event.load(SeqCst) {
                    e2.stopped.store(true, SeqCst);
                }
            });
            let status = if e.stopping_flag.load(SeqCst) {
                -1
            } else {
                *e.pending_io.lock() += 1;
                0
            };
            if status == 0 {
                assert!(
                    !e.stopped.load(SeqCst),
                    "bluetooth_driver: work on a stopped device"
                );
            }
            io_decrement(&e);
            stopper.join();
        }

        /// `carter01_bad`: a class-A and a class-B thread each count themselves in under `m`
        /// and the first of its class takes `l` while still holding `m`; the last out releases
        /// `l` under `m`. B can wait for `l` holding `m` while A, holding `l`, waits for `m`:
        /// a deadlock. Two more threads do nothing (as in the original).
        pub fn carter01() {
            let m = Arc::new(Mutex::new((0i64, 0i64)));
            let l = Arc::new(Mutex::new(()));
            let worker = |class_b: bool| {
                let (m, l) = (m.clone(), l.clone());
                move || {
                    let mut g = m.lock();
                    let count = if class_b { &mut g.1 } else { &mut g.0 };
                    *count += 1;
                    let held = if *count == 1 { Some(l.lock()) } else { None };
                    drop(g);
                    let mut g = m.lock();
                    let count = if class_b { &mut g.1 } else { &mut g.0 };
                    *count -= 1;
                    if *count == 0 {
                        drop(held);
                    } else {
                        // The original leaves `l` locked for the class's other members.
                        std::mem::forget(held);
                    }
                    drop(g);
                }
            };
            let a1 = spawn(worker(false));
            let b1 = spawn(worker(true));
            let a2 = spawn(|| {});
            let b2 = spawn(|| {});
            a1.join();
            b1.join();
            a2.join();
            b2.join();
        }

        /// `circular_buffer_bad`: a sender inserts its loop index into a 10-slot log when
        /// `send` is set and a receiver removes one when `receive` is set (7 rounds each, all
        /// under one mutex); the receiver asserts it removed its own loop index, which fails
        /// when the two loops fall out of step (a round that found nothing to do).
        pub fn circular_buffer() {
            const N: i64 = 7;
            struct Log {
                buffer: [i64; 10],
                first: usize,
                next: usize,
                size: usize,
                send: bool,
                receive: bool,
            }
            let m = Arc::new(Mutex::new(Log {
                buffer: [0; 10],
                first: 0,
                next: 0,
                size: 10,
                send: true,
                receive: false,
            }));
            let m1 = m.clone();
            let t1 = spawn(move || {
                for i in 0..N {
                    let mut g = m1.lock();
                    if g.send {
                        if g.next < g.size && g.size > 0 {
                            let next = g.next;
                            g.buffer[next] = i;
                            g.next = (next + 1) % g.size;
                        }
                        g.send = false;
                        g.receive = true;
                    }
                }
            });
            let t2 = spawn(move || {
                for i in 0..N {
                    let mut g = m.lock();
                    if g.receive {
                        let removed = if g.next > 0 && g.first < g.size {
                            g.first += 1;
                            g.buffer[g.first - 1]
                        } else {
                            -1
                        };
                        assert!(
                            removed == i,
                            "circular_buffer: removed {removed} in round {i}"
                        );
                        g.receive = false;
                        g.send = true;
                    }
                }
            });
            t1.join();
            t2.join();
        }

        /// `deadlock01_bad`: two threads take locks `a` and `b` in opposite orders.
        pub fn deadlock01() {
            let a = Arc::new(Mutex::new(()));
            let b = Arc::new(Mutex::new(1i64));
            let (a1, b1) = (a.clone(), b.clone());
            let t1 = spawn(move || {
                let ga = a1.lock();
                let mut gb = b1.lock();
                *gb += 1;
                drop(gb);
                drop(ga);
            });
            let t2 = spawn(move || {
                let mut gb = b.lock();
                let ga = a.lock();
                *gb -= 1;
                drop(ga);
                drop(gb);
            });
            t1.join();
            t2.join();
        }

        /// `din_philN_sat`: N philosophers each take their right then left fork inside the
        /// global atomic section (so they cannot deadlock), then increment a shared counter
        /// without a lock and assert it has not reached N. The assertion is reachable (the
        /// "sat" variant): it fails unless some increment is lost.
        pub fn din_phil(n: usize) {
            let forks: Arc<Vec<Mutex<()>>> = Arc::new((0..n).map(|_| Mutex::new(())).collect());
            let atomic_section = Arc::new(Mutex::new(()));
            let phil = Arc::new(AtomicI64::new(0));
            let mut hs = Vec::new();
            for id in 0..n {
                let (forks, atomic_section, phil) =
                    (forks.clone(), atomic_section.clone(), phil.clone());
                hs.push(spawn(move || {
                    let (left, right) = (id, (id + 1) % n);
                    let section = atomic_section.lock();
                    let r = forks[right].lock();
                    let l = forks[left].lock();
                    drop(l);
                    drop(r);
                    drop(section);
                    let v = phil.load(SeqCst);
                    phil.store(v + 1, SeqCst);
                    assert!(phil.load(SeqCst) != n as i64, "din_phil: all {n} ate");
                }));
            }
            for h in hs {
                h.join();
            }
        }

        /// `fsbench_bad`: 27 threads each allocate a block to inode `tid % 32` under per-inode
        /// and per-block locks; the original asserts the inode index is below the 26 locks,
        /// which thread 26 violates wherever it runs (an array-bound bug, not a schedule bug).
        pub fn fsbench() {
            const BLOCKS: usize = 26;
            const INODES: usize = 32;
            const THREADS: usize = 27;
            let inode: Arc<Vec<Mutex<usize>>> =
                Arc::new((0..BLOCKS).map(|_| Mutex::new(0)).collect());
            let busy: Arc<Vec<Mutex<bool>>> =
                Arc::new((0..BLOCKS).map(|_| Mutex::new(false)).collect());
            let mut hs = Vec::new();
            for tid in 0..THREADS {
                let (inode, busy) = (inode.clone(), busy.clone());
                hs.push(spawn(move || {
                    let i = tid % INODES;
                    assert!(i < BLOCKS, "fsbench: inode lock {i} out of bounds");
                    let mut ino = inode[i].lock();
                    if *ino == 0 {
                        let mut b = (i * 2) % BLOCKS;
                        for _ in 0..BLOCKS / 2 {
                            let mut bb = busy[b].lock();
                            if !*bb {
                                *bb = true;
                                *ino = b + 1;
                                break;
                            }
                            drop(bb);
                            b = (b + 1) % BLOCKS;
                        }
                    }
                    drop(ino);
                }));
            }
            for h in hs {
                h.join();
            }
        }

        /// `lazy01_bad`: two threads add 1 and 2 under a mutex; a third asserts under the
        /// mutex that the sum is below 3 (fails if it runs after both).
        pub fn lazy01() {
            let m = Arc::new(Mutex::new(0i64));
            let (m1, m2) = (m.clone(), m.clone());
            let t1 = spawn(move || *m1.lock() += 1);
            let t2 = spawn(move || *m2.lock() += 2);
            let t3 = spawn(move || {
                let g = m.lock();
                assert!(*g < 3, "lazy01: data {}", *g);
            });
            t1.join();
            t2.join();
            t3.join();
        }

        /// `phase01_bad`: two threads each lock `x`, unlock it, lock it again and never
        /// unlock it (then lock and unlock `y` twice): whichever comes second waits for `x`
        /// forever.
        pub fn phase01() {
            let x = Arc::new(Mutex::new(()));
            let y = Arc::new(Mutex::new(()));
            let body = |x: Arc<Mutex<()>>, y: Arc<Mutex<()>>| {
                move || {
                    drop(x.lock());
                    std::mem::forget(x.lock());
                    drop(y.lock());
                    drop(y.lock());
                }
            };
            let t1 = spawn(body(x.clone(), y.clone()));
            let t2 = spawn(body(x, y));
            t1.join();
            t2.join();
        }

        /// `queue_bad`: an enqueuer puts 0, then 19 more values each time `enqueue_flag` is
        /// set, recording them in `stored`; a dequeuer, in 20 rounds, takes one when
        /// `dequeue_flag` is set and asserts it equals `stored[round]` (all under one mutex).
        /// A round that finds nothing to take shifts the dequeuer's index: the assertion fails.
        pub fn queue() {
            const SIZE: usize = 20;
            struct Q {
                element: [i64; SIZE + 1],
                head: usize,
                tail: usize,
                amount: i64,
                stored: [i64; SIZE],
                enqueue_flag: bool,
                dequeue_flag: bool,
            }
            impl Q {
                fn enqueue(&mut self, x: i64) {
                    self.element[self.tail] = x;
                    self.amount += 1;
                    self.tail = if self.tail == SIZE { 1 } else { self.tail + 1 };
                }
                fn dequeue(&mut self) -> i64 {
                    let x = self.element[self.head];
                    self.amount -= 1;
                    self.head = if self.head == SIZE { 1 } else { self.head + 1 };
                    x
                }
            }
            let m = Arc::new(Mutex::new(Q {
                element: [0; SIZE + 1],
                head: 0,
                tail: 0,
                amount: 0,
                stored: [0; SIZE],
                enqueue_flag: true,
                dequeue_flag: false,
            }));
            let m1 = m.clone();
            let t1 = spawn(move || {
                let mut value = 0;
                {
                    let mut g = m1.lock();
                    g.enqueue(value);
                    g.stored[0] = value;
                    assert!(g.head != g.tail, "queue: empty after an enqueue");
                }
                for i in 0..SIZE - 1 {
                    let mut g = m1.lock();
                    if g.enqueue_flag {
                        value += 1;
                        g.enqueue(value);
                        g.stored[i + 1] = value;
                        g.enqueue_flag = false;
                        g.dequeue_flag = true;
                    }
                }
            });
            let t2 = spawn(move || {
                for i in 0..SIZE {
                    let mut g = m.lock();
                    if g.dequeue_flag {
                        let x = g.dequeue();
                        assert!(x == g.stored[i], "queue: dequeued {x} in round {i}");
                        g.dequeue_flag = false;
                        g.enqueue_flag = true;
                    }
                }
            });
            t1.join();
            t2.join();
        }

        /// `stack_bad`: a pusher pushes 10 values, setting `flag` after each; a popper, in 10
        /// rounds, pops whenever `flag` is set and asserts no underflow (all under one
        /// mutex). `flag` is never cleared, so two pops between pushes underflow.
        pub fn stack() {
            const SIZE: usize = 10;
            struct S {
                top: usize,
                arr: [usize; SIZE],
                flag: bool,
            }
            let m = Arc::new(Mutex::new(S {
                top: 0,
                arr: [0; SIZE],
                flag: false,
            }));
            let m1 = m.clone();
            let t1 = spawn(move || {
                for i in 0..SIZE {
                    let mut g = m1.lock();
                    assert!(g.top != SIZE, "stack: overflow");
                    let top = g.top;
                    g.arr[top] = i;
                    g.top += 1;
                    g.flag = true;
                }
            });
            let t2 = spawn(move || {
                for _ in 0..SIZE {
                    let mut g = m.lock();
                    if g.flag {
                        assert!(g.top != 0, "stack: underflow");
                        g.top -= 1;
                        let _ = g.arr[g.top];
                    }
                }
            });
            t1.join();
            t2.join();
        }

        /// `sync01_bad`: `num` starts at 1; thread 1 waits on `empty` while it is positive
        /// and thread 2, finding it positive, signals `empty` without changing it: thread 1
        /// waits forever (its signal is lost or its condition still holds).
        pub fn sync01() {
            let st = Arc::new((Mutex::new(1i64), Cond::new(), Cond::new()));
            let s1 = st.clone();
            let t1 = spawn(move || {
                let (m, empty, full) = &*s1;
                let mut num = m.lock();
                while *num > 0 {
                    num = empty.wait(num);
                }
                *num += 1;
                drop(num);
                full.signal();
            });
            let t2 = spawn(move || {
                let (m, empty, full) = &*st;
                let mut num = m.lock();
                while *num == 0 {
                    num = full.wait(num);
                }
                drop(num);
                empty.signal();
            });
            t1.join();
            t2.join();
        }

        /// `sync02_bad`: `num` starts at 2; a producer makes N = 2 items (waiting on `empty`
        /// while `num > 0`) and a consumer takes N = 2 (waiting on `full` while `num == 0`).
        /// The two initial items leave the producer's last item unconsumed: it waits forever.
        pub fn sync02() {
            const N: usize = 2;
            let st = Arc::new((Mutex::new(2i64), Cond::new(), Cond::new()));
            let s1 = st.clone();
            let producer = spawn(move || {
                let (m, empty, full) = &*s1;
                for _ in 0..N {
                    let mut num = m.lock();
                    while *num > 0 {
                        num = empty.wait(num);
                    }
                    *num += 1;
                    drop(num);
                    full.signal();
                }
            });
            let consumer = spawn(move || {
                let (m, empty, full) = &*st;
                for _ in 0..N {
                    let mut num = m.lock();
                    while *num == 0 {
                        num = full.wait(num);
                    }
                    *num -= 1;
                    drop(num);
                    empty.signal();
                }
            });
            producer.join();
            consumer.join();
        }

        /// `token_ring_bad`: three threads pass a token around (`x1 = (x3 + 1) % 4`,
        /// `x2 = x1`, `x3 = x2`, each in the global atomic section, setting its flag); a
        /// fourth asserts, once all three flags are set, that the values agree (only the order
        /// 1, 2, 3 makes them agree).
        pub fn token_ring() {
            struct R {
                x: [i64; 3],
                flag: [bool; 3],
            }
            let m = Arc::new(Mutex::new(R {
                x: [1, 2, 1],
                flag: [false; 3],
            }));
            let mut hs = Vec::new();
            for t in 0..3 {
                let m = m.clone();
                hs.push(spawn(move || {
                    let mut g = m.lock();
                    g.x[t] = match t {
                        0 => (g.x[2] + 1) % 4,
                        1 => g.x[0],
                        _ => g.x[1],
                    };
                    g.flag[t] = true;
                }));
            }
            hs.push(spawn(move || {
                let g = m.lock();
                if g.flag.iter().all(|&f| f) {
                    assert!(
                        g.x[0] == g.x[1] && g.x[1] == g.x[2],
                        "token_ring: {:?}",
                        g.x
                    );
                }
            }));
            for h in hs {
                h.join();
            }
        }
    };
}

pub mod gw {
    //! The programs over goweave's primitives (used directly: a shim call is the call).
    use goweave::go as spawn;
    use goweave::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};
    use goweave::sync::{Cond, Mutex};

    cs_programs!();
}

pub mod sh {
    //! The programs over shuttle's primitives, behind wrappers that only drop the
    //! `LockResult` / `Result` layers (one wrapper call is one shuttle call).
    pub use shuttle::sync::atomic::{AtomicBool, AtomicI64};
    use std::sync::atomic::Ordering::SeqCst;

    /// A shuttle mutex whose `lock` returns the guard, poisoned or not: once a thread has
    /// panicked (the bug), shuttle unwinds the others, and a poisoned lock there must not
    /// panic again (a panic while panicking aborts the bench).
    pub struct Mutex<T>(shuttle::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub fn new(v: T) -> Self {
            Mutex(shuttle::sync::Mutex::new(v))
        }

        pub fn lock(&self) -> shuttle::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    /// A shuttle condition variable with `pthread_cond`'s (and goweave's `Cond`'s) names.
    pub struct Cond(shuttle::sync::Condvar);

    impl Cond {
        pub fn new() -> Self {
            Cond(shuttle::sync::Condvar::new())
        }

        pub fn wait<'a, T>(
            &self,
            g: shuttle::sync::MutexGuard<'a, T>,
        ) -> shuttle::sync::MutexGuard<'a, T> {
            self.0
                .wait(g)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub fn signal(&self) {
            self.0.notify_one()
        }
    }

    /// A shuttle thread whose `join` returns nothing (a panic has already failed the test).
    pub struct Handle(shuttle::thread::JoinHandle<()>);

    impl Handle {
        pub fn join(self) {
            self.0.join().unwrap()
        }
    }

    pub fn spawn(f: impl FnOnce() + Send + 'static) -> Handle {
        Handle(shuttle::thread::spawn(f))
    }

    cs_programs!();
}
