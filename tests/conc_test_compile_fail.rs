//! `#[conc_test]` rejects what it cannot run, at compile time, pointing at the culprit: an
//! unknown, ill-typed, duplicate or contradictory option, a function with arguments, generics
//! or `async`, and a return type other than `()` or `Result<(), E: Debug>`.
//!
//! The expected compiler output lives next to each case in `tests/conc_test_ui/`; after a
//! deliberate change, refresh it with `TRYBUILD=overwrite cargo test --test conc_test_compile_fail`.

#[test]
fn compile_errors_point_at_the_option() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/conc_test_ui/*.rs");
}
