//! One setting, every entry point: the same strings given to `goweave::check` (through the
//! environment), to `#[conc_test]` (through the environment, as its generated test reads it) and
//! to the harness (as flags) give the same configuration, or the same error naming the variable
//! or flag.
//!
//! This file is a test binary of its own with a single test, so setting this process's
//! environment races with nothing.

use std::panic::{catch_unwind, AssertUnwindSafe};

use goweave::check::{Layer, Origin, Settings};
use goweave::harness::TestConfig;
use goweave_harness::Args;

/// Values that every entry point must accept, and read the same way.
const GOOD: &[(&str, &str)] = &[
    ("strategy", "pct:2"),
    ("iterations", "1_000"),
    ("seed", "1_000"),
    ("seed", "0x2a"),
    ("time_budget", "1m30s"),
    ("max_steps", "1e5"),
    ("shrink_budget", "0"),
    ("watchdog", "30s"),
    ("leak_check", "yes"),
    ("leak_check", "off"),
    ("race_detection", "false"),
    ("expect", "deadlock"),
    ("expect", "none"),
    ("timers", "when-blocked"),
    ("depth", "4"),
    ("max_preemptions", "2"),
    ("backtrace", "full"),
    ("trace", "full"),
];

/// Values that every entry point must refuse, and the words the refusal must contain.
const BAD: &[(&str, &str, &str)] = &[
    ("strategy", "bfs", "unknown strategy"),
    ("iterations", "0", "at least 1"),
    ("iterations", "many", "whole number"),
    ("seed", "ten", "expected a number"),
    ("time_budget", "soon", "not a duration"),
    ("time_budget", "1m30", "not a duration"),
    ("leak_check", "maybe", "true or false"),
    ("expect", "crash", "unknown failure kind"),
    ("timers", "sometimes", "unknown timer mode"),
    ("replay", "gw1:AAAA", "replay token"),
    (
        "replay",
        "@/nonexistent/token",
        "cannot read the token file",
    ),
    ("trace", "most", "full"),
];

fn env_var(name: &str) -> String {
    format!("GOWEAVE_{}", name.to_ascii_uppercase())
}

fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

/// The settings the harness resolves from `--name value`.
fn from_flags(name: &str, value: &str) -> Result<Settings, String> {
    let args = Args::parse(["prog", &flag(name), value])?;
    Settings::resolve(&[&args.settings]).map_err(|e| e.to_string())
}

/// The settings `goweave::check` and `#[conc_test]` resolve from `GOWEAVE_NAME=value` in this
/// process's environment.
fn from_env(name: &str, value: &str) -> Result<Settings, String> {
    std::env::set_var(env_var(name), value);
    let s = Settings::from_env().map_err(|e| e.to_string());
    // `#[conc_test]`'s generated test resolves the attribute's options under the environment.
    let t = TestConfig::resolve(&[], &[&Layer::from_env()]).map_err(|e| e.to_string());
    assert_eq!(
        s.as_ref().err(),
        t.as_ref().err(),
        "check() and #[conc_test] differ on {name}={value}"
    );
    if let (Ok(s), Ok(t)) = (&s, &t) {
        assert_eq!(s, &t.settings, "{name}={value}");
    }
    std::env::remove_var(env_var(name));
    s
}

/// What `goweave::check` does with `GOWEAVE_NAME=value`: its panic message if it refuses it.
fn check_refusal(name: &str, value: &str) -> Option<String> {
    std::env::set_var(env_var(name), value);
    let r = catch_unwind(AssertUnwindSafe(|| {
        goweave::check(|| {});
    }));
    std::env::remove_var(env_var(name));
    r.err().map(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn the_same_strings_mean_the_same_everywhere() {
    for (name, value) in GOOD {
        let env = from_env(name, value).unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        let flags = from_flags(name, value).unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        assert_eq!(env, flags, "{name}={value}: environment and flags differ");
        assert_ne!(env, Settings::default(), "{name}={value} changed nothing");
        // The attribute takes the same text (counts as integers, switches as booleans: the
        // macro writes them back as this text).
        let attr = Settings::resolve(&[&Layer::attribute(&[(name, value)])]).unwrap();
        assert_eq!(
            attr, env,
            "{name}={value}: attribute and environment differ"
        );
    }
    for (name, value, why) in BAD {
        let env = from_env(name, value).expect_err(&format!("{name}={value} accepted"));
        let flags = from_flags(name, value).expect_err(&format!("{name}={value} accepted"));
        let var = env_var(name);
        assert!(
            env.starts_with(&format!("goweave: {var}={value:?}: ")),
            "{env}"
        );
        assert!(env.contains(why), "{env}");
        // The same refusal, naming the flag instead of the variable.
        assert_eq!(
            flags,
            env.replacen(&var, &flag(name), 1),
            "{name}={value}: the flag's error differs"
        );
        // goweave::check panics with exactly that error.
        let msg = check_refusal(name, value).expect("check() refuses it");
        assert_eq!(msg, env);
    }
}

#[test]
fn an_unknown_flag_setting_is_refused_by_name() {
    let e = Layer::new(Origin::Flag).set("colour", "red").unwrap_err();
    assert_eq!(e.var, "colour");
}
