//! The options of `#[conc_test(...)]`: parsing and validation, every error spanning the option
//! (or its value) that caused it.
//!
//! Invariants:
//! - Every option appears at most once; a second occurrence is an error at its name.
//! - Values are checked here, at compile time, by the `goweave-settings` grammar that the
//!   runtime applies to the matching `GOWEAVE_*` variables, so a literal that compiles is a value
//!   the runtime accepts, and both refuse a value with the same words.

use goweave_settings::{setting, Grammar, Setting, SETTINGS};
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

/// Every option, in the order the documentation lists them: the settings that may be given as
/// an attribute option.
fn options() -> Vec<&'static str> {
    SETTINGS
        .iter()
        .filter(|s| s.scopes.attribute)
        .map(|s| s.name)
        .collect()
}

/// One option's value, with the span of the whole `name = value` pair.
pub struct Spanned<T> {
    /// The parsed value.
    pub value: T,
    /// Where the option was written.
    pub span: Span,
}

/// The parsed options, as the text the runtime resolver reads (`("iterations", "10000")`), in
/// the order written; every value has been checked against the settings grammar.
#[derive(Default)]
pub struct Options {
    /// (option, value as text).
    pub values: Vec<Spanned<(&'static str, String)>>,
}

impl Options {
    fn get(&self, name: &str) -> Option<&Spanned<(&'static str, String)>> {
        self.values.iter().find(|o| o.value.0 == name)
    }
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Options> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
        let mut o = Options::default();
        let known = options();
        for meta in metas {
            let name = match meta.path().get_ident() {
                Some(id) => id.to_string(),
                None => {
                    return Err(syn::Error::new(
                        meta.path().span(),
                        format!(
                            "unknown `conc_test` option; expected one of: {}",
                            known.join(", ")
                        ),
                    ))
                }
            };
            let Some(setting) = setting(&name).filter(|s| s.scopes.attribute) else {
                return Err(syn::Error::new(
                    meta.path().span(),
                    format!(
                        "unknown `conc_test` option `{name}`; expected one of: {}",
                        known.join(", ")
                    ),
                ));
            };
            let nv = match &meta {
                Meta::NameValue(nv) => nv,
                _ => {
                    return Err(syn::Error::new(
                        meta.span(),
                        format!("`{name}` needs a value: `{name} = {}`", setting.example),
                    ))
                }
            };
            if o.get(&name).is_some() {
                return Err(syn::Error::new(
                    nv.path.span(),
                    format!("duplicate `conc_test` option `{name}`"),
                ));
            }
            let (text, span) = literal_text(&nv.value, setting)?;
            setting
                .check(&text)
                .map_err(|why| syn::Error::new(span, format!("invalid `{name}`: {why}")))?;
            o.values.push(Spanned {
                value: (setting.name, text),
                span: meta.span(),
            });
        }
        o.check_combinations()?;
        Ok(o)
    }
}

impl Options {
    /// Options that contradict each other.
    fn check_combinations(&self) -> syn::Result<()> {
        let strategy = self.get("strategy").map(|s| {
            let t = s.value.1.as_str();
            t.split(':').next().unwrap_or(t).to_string()
        });
        if let (Some(d), Some(s)) = (self.get("depth"), &strategy) {
            if s != "pct" {
                return Err(syn::Error::new(
                    d.span,
                    format!("`depth` applies to strategy \"pct\", not \"{s}\""),
                ));
            }
        }
        if let (Some(p), Some(s)) = (self.get("max_preemptions"), &strategy) {
            if s != "dfs" {
                return Err(syn::Error::new(
                    p.span,
                    format!("`max_preemptions` applies to strategy \"dfs\", not \"{s}\""),
                ));
            }
        }
        if let Some(r) = self.get("replay") {
            let clash = [
                "strategy",
                "iterations",
                "seed",
                "depth",
                "max_preemptions",
                "time_budget",
            ];
            if let Some(other) = clash.iter().find(|c| self.get(c).is_some()) {
                return Err(syn::Error::new(
                    r.span,
                    format!("`replay` runs exactly one recorded schedule; it cannot be combined with `{other}`"),
                ));
            }
        }
        Ok(())
    }
}

/// The value of an option as text, with its span: an unsuffixed, non-negative integer for
/// counts and seeds, `true`/`false` for switches, a string for everything else.
fn literal_text(e: &Expr, s: &Setting) -> syn::Result<(String, Span)> {
    let name = s.name;
    match s.grammar {
        Grammar::Count { .. } | Grammar::Seed => int(e, name, s.example).map(|v| (v, e.span())),
        Grammar::Bool => match e {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok((b.value.to_string(), b.span())),
            other => Err(syn::Error::new(
                other.span(),
                format!("`{name}` takes `true` or `false`"),
            )),
        },
        _ => string(e, name, s.example).map(|l| (l.value(), l.span())),
    }
}

fn string(e: &Expr, name: &str, example: &str) -> syn::Result<LitStr> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes a string: `{name} = {example}`"),
        )),
    }
}

fn int(e: &Expr, name: &str, example: &str) -> syn::Result<String> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            if !i.suffix().is_empty() {
                return Err(syn::Error::new(
                    i.span(),
                    format!("`{name}` takes an unsuffixed integer, such as `{name} = {example}`"),
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
            Ok(v.to_string())
        }
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => Err(syn::Error::new(
            e.span(),
            format!("`{name}` cannot be negative"),
        )),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes an integer: `{name} = {example}`"),
        )),
    }
}
