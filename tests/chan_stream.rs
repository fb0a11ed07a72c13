//! `Stream` and `Sink` over channels (feature `stream`), with `futures`' combinators, on both
//! executors.

mod common;

use futures::{SinkExt, StreamExt};
use goweave::{chan, go, task};

#[test]
fn a_stream_yields_every_value_then_ends_and_a_sink_sends_and_closes() {
    common::on_both(|| {
        let ch = chan::make::<u32>(1);
        let mut sink = ch.clone().into_sink();
        let producer = task::spawn(async move {
            for i in 0..5 {
                sink.send(i).await.unwrap(); // SinkExt::send: ready, start_send, flush
            }
            sink.close().await.unwrap(); // closes the channel
        });
        let got: Vec<u32> = task::block_on(ch.into_stream().collect());
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        producer.join();
    });
}

#[test]
fn stream_combinators_over_a_channel_fed_by_goroutines() {
    common::on_both(|| {
        let ch = chan::make::<u64>(0);
        let tx = ch.clone();
        go(move || {
            for i in 1..=10 {
                tx.send(i);
            }
            tx.close();
        });
        let sum = task::spawn(async move {
            ch.receiver()
                .into_stream()
                .filter(|v| std::future::ready(v % 2 == 0))
                .fold(0, |a, v| async move { a + v })
                .await
        })
        .join();
        assert_eq!(sum, 2 + 4 + 6 + 8 + 10);
    });
}
