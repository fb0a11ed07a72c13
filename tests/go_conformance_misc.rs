//! Issue 17 item 12: errors that point at the user's code and spell the user's input.

mod common;

use common::on_both;
use goweave::{go, recover, Schedule, TokenError};

#[test]
fn a_nested_run_panics_at_the_callers_line() {
    // Runtimes do not nest (Go has one runtime per process): calling `run` from a goroutine
    // panics, and the panic names the goroutine and points at the `run` call, not at goweave.
    on_both(|| {
        let h = go(|| {
            let line = line!() + 1;
            let p = recover(|| goweave::run(|| 1)).unwrap_err();
            (line, p.location().to_string(), p.message().to_string())
        });
        let (line, location, message) = h.join();
        let want = format!("{}:{line}:", file!());
        assert!(
            location.starts_with(&want),
            "panicked at {location}, want {want}"
        );
        assert!(message.contains("runtimes do not nest"), "{message}");
        assert!(message.contains("goroutine 2"), "{message}");
        // Runtime::block_on too (a method call's location is its name's line).
        let line = line!() + 6;
        let p = recover(|| {
            goweave::Runtime::builder()
                .workers(1)
                .build()
                .unwrap()
                .block_on(|| ())
        })
        .unwrap_err();
        let want = format!("{}:{line}:", file!());
        assert!(
            p.location().starts_with(&want),
            "panicked at {}, want {want}",
            p.location()
        );
    });
}

#[test]
fn a_token_error_names_a_non_ascii_character_as_written() {
    for (token, want) in [
        ("gw1:AAüA", "character 'ü' at position 6"),
        ("gw1:ü", "character 'ü' at position 4"),
        ("gw1:AA€", "character '€' at position 6"),
        ("gw1:A A", "character ' ' at position 5"),
    ] {
        let e: TokenError = Schedule::from_token(token).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(want), "{token}: {text}");
    }
}
