//! A replay token cannot make the decoder allocate more than it may hold: crafted tokens with a
//! valid checksum whose run-length items claim millions of choices per byte are refused with
//! an error, without allocating. Measured by a counting allocator (this binary's only test, so
//! the peak is the decoder's).

use std::sync::atomic::Ordering;

use goweave::{Schedule, TokenError};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A checksum-valid token of `runs` run-length items of 10^6 choices each, claiming them all.
fn crafted(runs: u64) -> String {
    let mut p = vec![1, 2, 0];
    varint(&mut p, runs * 1_000_000);
    for g in 0..runs {
        varint(&mut p, ((g % 8) << 2) | 1);
        varint(&mut p, 1_000_000 - 2);
    }
    goweave::schedule::__frame_payload(&p)
}

#[test]
fn crafted_tokens_are_refused_without_allocating_gigabytes() {
    // A few hundred characters claiming 95 million choices (the decoder this replaced
    // allocated 1.5 GB for them) and a few thousand claiming a billion (16 GB: it aborted).
    for runs in [95, 1_000] {
        let token = crafted(runs);
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let r = Schedule::from_token(&token);
        let grew = PEAK.load(Ordering::Relaxed) - before;
        match r {
            Err(TokenError::Malformed(why)) => assert!(why.contains("claims"), "{why}"),
            other => panic!("{} characters: {:?}", token.len(), other.map(|s| s.len())),
        }
        assert!(
            grew < 1 << 20,
            "decoding {} characters allocated {grew} bytes",
            token.len()
        );
    }
    // What a token may hold still decodes: a few bytes for a schedule at the cap.
    let mut p = vec![1, 2, 0];
    varint(&mut p, goweave::schedule::MAX_CHOICES);
    varint(&mut p, (1 << 2) | 1);
    varint(&mut p, goweave::schedule::MAX_CHOICES - 2);
    let s = Schedule::from_token(&goweave::schedule::__frame_payload(&p)).unwrap();
    assert_eq!(s.len() as u64, goweave::schedule::MAX_CHOICES);
}
