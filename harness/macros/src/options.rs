//! The options of `#[conc_test(...)]`: parsing and validation, every error spanning the option
//! (or its value) that caused it.
//!
//! Invariants:
//! - Every option appears at most once; a second occurrence is an error at its name.
//! - Values are checked here, at compile time, with the same rules the runtime applies to the
//!   matching `GOWEAVE_*` variables (see `goweave::conc_test`), so a literal that compiles is a
//!   value the runtime accepts.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

/// The strategies a test may name. "fuzz" is accepted here and refused at run time while the
/// checker has no fuzz strategy.
pub const STRATEGIES: &[&str] = &["random", "pct", "pos", "dfs", "fuzz"];

/// The failure kinds `expect` may name.
pub const EXPECTS: &[&str] = &["deadlock", "leak", "race", "panic", "livelock"];

/// The timer modes `timers` may name.
pub const TIMERS: &[&str] = &["any_time", "when_blocked"];

/// Every option, in the order the documentation lists them.
const OPTIONS: &[&str] = &[
    "strategy",
    "iterations",
    "seed",
    "depth",
    "max_preemptions",
    "time_budget",
    "max_steps",
    "replay",
    "leak_check",
    "expect",
    "timers",
];

/// One option's value, with the span of the whole `name = value` pair.
pub struct Spanned<T> {
    /// The parsed value.
    pub value: T,
    /// Where the option was written.
    pub span: Span,
}

/// The parsed options; `None` where the option was not written.
#[derive(Default)]
pub struct Options {
    /// One of [`STRATEGIES`].
    pub strategy: Option<Spanned<String>>,
    /// Schedules to explore (≥ 1).
    pub iterations: Option<Spanned<u64>>,
    /// The campaign seed.
    pub seed: Option<Spanned<u64>>,
    /// PCT's bug depth (≥ 1).
    pub depth: Option<Spanned<u64>>,
    /// DFS's preemption bound.
    pub max_preemptions: Option<Spanned<u64>>,
    /// Wall-clock budget of the exploration, in nanoseconds.
    pub time_budget_ns: Option<Spanned<u64>>,
    /// Scheduling points per schedule before a livelock is reported (≥ 1).
    pub max_steps: Option<Spanned<u64>>,
    /// A replay token.
    pub replay: Option<Spanned<String>>,
    /// Whether goroutines left behind fail the test.
    pub leak_check: Option<Spanned<bool>>,
    /// One of [`EXPECTS`].
    pub expect: Option<Spanned<String>>,
    /// One of [`TIMERS`].
    pub timers: Option<Spanned<String>>,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Options> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
        let mut o = Options::default();
        for meta in metas {
            let name = match meta.path().get_ident() {
                Some(id) => id.to_string(),
                None => {
                    return Err(syn::Error::new(
                        meta.path().span(),
                        format!(
                            "unknown `conc_test` option; expected one of: {}",
                            OPTIONS.join(", ")
                        ),
                    ))
                }
            };
            if !OPTIONS.contains(&name.as_str()) {
                return Err(syn::Error::new(
                    meta.path().span(),
                    format!(
                        "unknown `conc_test` option `{name}`; expected one of: {}",
                        OPTIONS.join(", ")
                    ),
                ));
            }
            let nv = match &meta {
                Meta::NameValue(nv) => nv,
                _ => {
                    return Err(syn::Error::new(
                        meta.span(),
                        format!("`{name}` needs a value: `{name} = {}`", example(&name)),
                    ))
                }
            };
            let span = meta.span();
            let value = &nv.value;
            macro_rules! set {
                ($field:ident, $v:expr) => {{
                    if o.$field.is_some() {
                        return Err(syn::Error::new(
                            nv.path.span(),
                            format!("duplicate `conc_test` option `{name}`"),
                        ));
                    }
                    o.$field = Some(Spanned { value: $v, span });
                }};
            }
            match name.as_str() {
                "strategy" => {
                    let s = string(value, &name)?;
                    if !STRATEGIES.contains(&s.value().as_str()) {
                        return Err(syn::Error::new(
                            s.span(),
                            format!(
                                "unknown strategy \"{}\"; expected one of: {}",
                                s.value(),
                                quoted(STRATEGIES)
                            ),
                        ));
                    }
                    set!(strategy, s.value())
                }
                "iterations" => set!(iterations, int(value, &name, 1)?),
                "seed" => set!(seed, int(value, &name, 0)?),
                "depth" => set!(depth, int(value, &name, 1)?),
                "max_preemptions" => set!(max_preemptions, int(value, &name, 0)?),
                "max_steps" => set!(max_steps, int(value, &name, 1)?),
                "time_budget" => {
                    let s = string(value, &name)?;
                    let ns = parse_duration_ns(&s.value()).map_err(|e| {
                        syn::Error::new(s.span(), format!("invalid `time_budget`: {e}"))
                    })?;
                    if ns == 0 {
                        return Err(syn::Error::new(
                            s.span(),
                            "`time_budget` must be longer than 0s",
                        ));
                    }
                    set!(time_budget_ns, ns)
                }
                "replay" => {
                    let s = string(value, &name)?;
                    let t = s.value();
                    if !t.starts_with("gw") || !t.contains(':') {
                        return Err(syn::Error::new(
                            s.span(),
                            "`replay` takes a token printed by a failing run, such as \"gw1:...\"",
                        ));
                    }
                    set!(replay, t)
                }
                "leak_check" => match value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Bool(b), ..
                    }) => set!(leak_check, b.value),
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "`leak_check` takes `true` or `false`",
                        ))
                    }
                },
                "expect" => {
                    let s = string(value, &name)?;
                    if !EXPECTS.contains(&s.value().as_str()) {
                        return Err(syn::Error::new(
                            s.span(),
                            format!(
                                "unknown failure kind \"{}\" for `expect`; expected one of: {}",
                                s.value(),
                                quoted(EXPECTS)
                            ),
                        ));
                    }
                    set!(expect, s.value())
                }
                "timers" => {
                    let s = string(value, &name)?;
                    if !TIMERS.contains(&s.value().as_str()) {
                        return Err(syn::Error::new(
                            s.span(),
                            format!(
                                "unknown timer mode \"{}\" for `timers`; expected one of: {}",
                                s.value(),
                                quoted(TIMERS)
                            ),
                        ));
                    }
                    set!(timers, s.value())
                }
                _ => unreachable!("every name in OPTIONS is handled"),
            }
        }
        o.check_combinations()?;
        Ok(o)
    }
}

impl Options {
    /// Options that contradict each other.
    fn check_combinations(&self) -> syn::Result<()> {
        let strategy = self.strategy.as_ref().map(|s| s.value.as_str());
        if let (Some(d), Some(s)) = (&self.depth, strategy) {
            if s != "pct" {
                return Err(syn::Error::new(
                    d.span,
                    format!("`depth` applies to strategy \"pct\", not \"{s}\""),
                ));
            }
        }
        if let (Some(p), Some(s)) = (&self.max_preemptions, strategy) {
            if s != "dfs" {
                return Err(syn::Error::new(
                    p.span,
                    format!("`max_preemptions` applies to strategy \"dfs\", not \"{s}\""),
                ));
            }
        }
        if let Some(r) = &self.replay {
            let clash = [
                ("strategy", self.strategy.is_some()),
                ("iterations", self.iterations.is_some()),
                ("seed", self.seed.is_some()),
                ("depth", self.depth.is_some()),
                ("max_preemptions", self.max_preemptions.is_some()),
                ("time_budget", self.time_budget_ns.is_some()),
            ];
            if let Some((other, _)) = clash.iter().find(|(_, set)| *set) {
                return Err(syn::Error::new(
                    r.span,
                    format!("`replay` runs exactly one recorded schedule; it cannot be combined with `{other}`"),
                ));
            }
        }
        Ok(())
    }
}

fn string(e: &Expr, name: &str) -> syn::Result<LitStr> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes a string: `{name} = {}`", example(name)),
        )),
    }
}

fn int(e: &Expr, name: &str, min: u64) -> syn::Result<u64> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            if !i.suffix().is_empty() {
                return Err(syn::Error::new(
                    i.span(),
                    format!(
                        "`{name}` takes an unsuffixed integer, such as `{name} = {}`",
                        example(name)
                    ),
                ));
            }
            let v: u64 = i.base10_parse().map_err(|_| {
                let why = if i.base10_digits().starts_with('-') {
                    "cannot be negative"
                } else {
                    "must fit in a u64"
                };
                syn::Error::new(i.span(), format!("`{name}` {why}"))
            })?;
            if v < min {
                return Err(syn::Error::new(
                    i.span(),
                    format!("`{name}` must be at least {min}"),
                ));
            }
            Ok(v)
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes an integer: `{name} = {}`", example(name)),
        )),
    }
}

fn example(name: &str) -> &'static str {
    match name {
        "strategy" => "\"pct\"",
        "iterations" => "10_000",
        "seed" => "42",
        "depth" => "3",
        "max_preemptions" => "2",
        "time_budget" => "\"5s\"",
        "max_steps" => "100_000",
        "replay" => "\"gw1:...\"",
        "leak_check" => "false",
        "expect" => "\"deadlock\"",
        "timers" => "\"when_blocked\"",
        _ => "...",
    }
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a duration into nanoseconds: `"500ms"`, `"10s"`, `"1.5s"`, `"2m"`, `"1h"`, a sequence
/// such as `"1m30s"`, or a bare number of seconds. The same grammar as
/// `goweave::conc_test::parse_duration`, which reads `GOWEAVE_TIME_BUDGET`.
pub fn parse_duration_ns(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("\"{s}\" is not a duration; write e.g. \"500ms\", \"10s\", \"1.5s\", \"2m\" or \"1m30s\"")
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(bad());
        }
        let x: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match rest[..u].trim() {
            "" if rest.len() == u && total == 0.0 => x,
            "s" | "sec" | "secs" => x,
            "ms" => x / 1e3,
            "us" | "µs" => x / 1e6,
            "ns" => x / 1e9,
            "m" | "min" => x * 60.0,
            "h" => x * 3600.0,
            _ => return Err(bad()),
        };
        total += secs;
        rest = &rest[u..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok((total * 1e9).round() as u64)
}
