//! The replay-token decoder (`Schedule::from_token`) under arbitrary input. The first byte
//! chooses how the rest is used: as the payload of a token whose length and checksum are
//! valid (so the input reaches the schedule data, where run-length counts live), or as the
//! text of a token. The decoder must never panic, never decode more than
//! `goweave::schedule::MAX_CHOICES` choices, and whatever it accepts must encode back to
//! the same schedule.
#![no_main]

use goweave::Schedule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode & 1 == 0 {
        goweave::schedule::__frame_payload(rest)
    } else {
        format!("gw1:{}", String::from_utf8_lossy(rest))
    };
    if let Ok(s) = Schedule::from_token(&token) {
        assert!(s.len() as u64 <= goweave::schedule::MAX_CHOICES);
        assert_eq!(Schedule::from_token(&s.token()), Ok(s));
    }
});
