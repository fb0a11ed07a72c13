//! goweave-macros: the `#[conc_test]` attribute. Use it through its re-export,
//! `goweave::conc_test`.
//!
//! `#[conc_test(options)] fn name() { body }` expands to two items:
//!
//! 1. a `#[test] fn name()` that runs the body under goweave's checker
//!    (`goweave::harness::run_test`), so plain `cargo test` runs it;
//! 2. a static `ConcTest` descriptor in the distributed slice `goweave::harness::TESTS`, so a
//!    `harness = false` target driven by `goweave_harness::main()` finds every test without a
//!    list written by hand. The body lives in the descriptor, not in the `#[test]` function,
//!    because a `harness = false` target is compiled without `--test` and so without its
//!    `#[test]` functions.
//!
//! The options are parsed and checked here (see `options.rs`): an unknown option, a value of
//! the wrong type or out of range, a duplicate, or a contradiction is a compile error spanning
//! the option that caused it.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{parse_macro_input, Attribute, ItemFn, ReturnType};

mod options;

use options::Options;

/// Runs a test function under goweave's deterministic checker.
///
/// ```no_run
/// #[goweave::conc_test(strategy = "pct", depth = 3, iterations = 1_000)]
/// fn transfer_keeps_the_total() {
///     // spawn goroutines, share state, assert
/// }
///
/// #[goweave::conc_test(expect = "deadlock")]
/// fn ab_ba_is_a_known_bug() { /* ... */ }
/// ```
///
/// Options (each overridden by its `GOWEAVE_*` variable, e.g. `GOWEAVE_ITERATIONS`):
/// `strategy = "random" | "pct" | "pos" | "dfs" | "fuzz"`, `iterations = N`, `seed = N`,
/// `depth = N` (pct), `max_preemptions = N` (dfs), `time_budget = "5s"`, `max_steps = N`,
/// `replay = "gw1:..."`, `leak_check = false`, `stress = N` (N recorded runs on the
/// work-stealing runtime instead of exploring; a failure is followed under the checker into a
/// replay token),
/// `expect = "deadlock" | "leak" | "race" | "panic" | "livelock"`,
/// `timers = "any_time" | "when_blocked"` (when virtual time may pass: at any scheduling point,
/// as a choice, or only once every goroutine is blocked, as in Go's synctest; without it, the
/// default `max_stall`: as a choice, while no goroutine that could run has waited longer than
/// 250 ms).
///
/// The function takes no arguments and returns `()` or `Result<(), E>` with `E: Debug`; an
/// `Err` fails the schedule like a panic.
#[proc_macro_attribute]
pub fn conc_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let opts = parse_macro_input!(attr as Options);
    let func = parse_macro_input!(item as ItemFn);
    match expand(&opts, func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(opts: &Options, func: ItemFn) -> syn::Result<TokenStream2> {
    check_signature(&func)?;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = sig.ident.clone();
    let name = ident.unraw().to_string();
    let reg = format_ident!("__GOWEAVE_CONC_TEST_{}", name);

    let mut test_attrs: Vec<&Attribute> = Vec::new();
    let mut cfg_attrs: Vec<&Attribute> = Vec::new();
    let mut lint_attrs: Vec<&Attribute> = Vec::new();
    let mut ignored = false;
    for a in &attrs {
        let path = a.path();
        if path.is_ident("test") {
            return Err(syn::Error::new(
                path.span(),
                "remove `#[test]`: `#[conc_test]` already makes the function a test",
            ));
        }
        if path.is_ident("should_panic") {
            return Err(syn::Error::new(
                path.span(),
                "`#[should_panic]` cannot see panics inside explored schedules; write `#[conc_test(expect = \"panic\")]` instead",
            ));
        }
        if path.is_ident("cfg") {
            cfg_attrs.push(a);
            test_attrs.push(a);
        } else if ["allow", "warn", "deny", "expect", "forbid"]
            .iter()
            .any(|l| path.is_ident(l))
        {
            lint_attrs.push(a);
        } else {
            if path.is_ident("ignore") {
                ignored = true;
            }
            test_attrs.push(a);
        }
    }

    let options = options_tokens(opts);
    let output = &sig.output;
    let ret_span = match output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, t) => t.span(),
    };
    let finish = quote_spanned! {ret_span=>
        ::goweave::harness::finish(__goweave_conc_test_body())
    };

    Ok(quote! {
        #(#test_attrs)*
        #[test]
        #vis fn #ident() {
            ::goweave::harness::run_test(&#reg)
        }

        #(#cfg_attrs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #[::goweave::harness::__linkme::distributed_slice(::goweave::harness::TESTS)]
        #[linkme(crate = ::goweave::harness::__linkme)]
        static #reg: ::goweave::harness::ConcTest = ::goweave::harness::ConcTest {
            name: #name,
            module_path: ::core::module_path!(),
            file: ::core::file!(),
            line: ::core::line!(),
            site: ::core::panic::Location::caller(),
            ignored: #ignored,
            options: #options,
            body: {
                #(#lint_attrs)*
                fn __goweave_conc_test_body() #output #block
                fn __goweave_conc_test_main() {
                    #finish
                }
                __goweave_conc_test_main
            },
        };
    })
}

/// The function must be a plain `fn name()`: no arguments, generics, `async`, `const`,
/// `unsafe`, `extern` or variadics.
fn check_signature(f: &ItemFn) -> syn::Result<()> {
    let sig = &f.sig;
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "`#[conc_test]` functions cannot be `async`: goroutines block, so write a plain `fn`",
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span(),
            "`#[conc_test]` functions cannot be `const`",
        ));
    }
    if let Some(u) = &sig.unsafety {
        return Err(syn::Error::new(
            u.span(),
            "`#[conc_test]` functions cannot be `unsafe`",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            "`#[conc_test]` functions cannot be `extern`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "`#[conc_test]` functions cannot be generic",
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "`#[conc_test]` functions take no arguments",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "`#[conc_test]` functions take no arguments",
        ));
    }
    Ok(())
}

/// The options as `&[(name, value)]` text, which the runtime resolves with the environment and
/// the harness's flags (`goweave::check::Settings`).
fn options_tokens(o: &Options) -> TokenStream2 {
    let pairs = o.values.iter().map(|v| {
        let (name, text) = (&v.value.0, &v.value.1);
        quote!((#name, #text))
    });
    quote!(&[#(#pairs),*])
}
