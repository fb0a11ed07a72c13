//! The channel workloads of `benches/chan.rs`, shared with `benches/record.rs` (which runs
//! them with recording off and on).

use goweave::{chan, go, select};

/// pingpong_unbuffered_1m: main and one partner, two unbuffered channels; ns per round trip.
pub fn pingpong(n: u64) -> u64 {
    let (ping, pong) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (pi, po) = (ping.clone(), pong.clone());
    let h = go(move || {
        for v in &pi {
            po.send(v);
        }
        po.close();
    });
    for i in 0..n {
        ping.send(i);
        pong.recv();
    }
    ping.close();
    pong.recv();
    h.join();
    n
}

/// ring_1000_1m_hops: 1000 goroutines in a ring of unbuffered channels, the token carrying the
/// number of hops left; ns per hop.
pub fn ring(n: u64) -> u64 {
    const SIZE: usize = 1000;
    let chans: Vec<_> = (0..SIZE).map(|_| chan::make::<u64>(0)).collect();
    let done = chan::make::<()>(0);
    let hs: Vec<_> = (0..SIZE)
        .map(|i| {
            let (inp, out, done) = (
                chans[i].clone(),
                chans[(i + 1) % SIZE].clone(),
                done.clone(),
            );
            go(move || {
                for v in &inp {
                    if v == 0 {
                        done.close();
                        continue;
                    }
                    out.send(v - 1);
                }
            })
        })
        .collect();
    chans[0].send(n);
    done.recv();
    for c in &chans {
        c.close();
    }
    for h in hs {
        h.join();
    }
    n
}

/// mpmc_4x4_cap1024_4m: 4 producers, 4 consumers, one channel of capacity 1024; ns per message.
pub fn mpmc(n: u64) -> u64 {
    const P: u64 = 4;
    const C: usize = 4;
    let ch = chan::make::<u64>(1024);
    let producers: Vec<_> = (0..P)
        .map(|_| {
            let ch = ch.clone();
            go(move || {
                for j in 0..n / P {
                    ch.send(j);
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..C)
        .map(|_| {
            let ch = ch.clone();
            go(move || ch.iter().sum::<u64>())
        })
        .collect();
    for p in producers {
        p.join();
    }
    ch.close();
    let total: u64 = consumers.into_iter().map(|h| h.join()).sum();
    assert_eq!(total, P * (n / P) * (n / P - 1) / 2);
    n
}

/// select4: one receiver selecting over 4 unbuffered channels, each fed by its own sender;
/// ns per message.
pub fn select4(n: u64) -> u64 {
    let cs: Vec<_> = (0..4).map(|_| chan::make::<u64>(0)).collect();
    for c in &cs {
        let c = c.clone();
        go(move || {
            for j in 0..n / 4 {
                c.send(j);
            }
        });
    }
    let mut s = 0;
    for _ in 0..n {
        s += select! {
            recv(cs[0]) -> v => v.unwrap(),
            recv(cs[1]) -> v => v.unwrap(),
            recv(cs[2]) -> v => v.unwrap(),
            recv(cs[3]) -> v => v.unwrap(),
        };
    }
    assert_eq!(s, 4 * (n / 4) * (n / 4 - 1) / 2);
    n
}
