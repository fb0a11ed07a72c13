//! The built-in strategies by name ([`Strategy`]), and the checker's configuration from
//! `GOWEAVE_*` environment variables.

use std::fmt;
use std::time::Duration;

/// A `GOWEAVE_*` variable (or option) with a value the checker cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable, such as `GOWEAVE_ITERATIONS`.
    pub var: String,
    /// Its value.
    pub value: String,
    /// What is wrong, and what would be right.
    pub why: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goweave: {}={:?}: {}", self.var, self.value, self.why)
    }
}

impl std::error::Error for ConfigError {}

/// The value of `var`, if set and not empty.
pub(crate) fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// Parse `var`'s value with `parse`, naming the variable on error.
pub(crate) fn env_parse<T>(
    var: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    match env(var) {
        None => Ok(None),
        Some(value) => parse(value.trim()).map(Some).map_err(|why| ConfigError {
            var: var.to_string(),
            value,
            why,
        }),
    }
}

/// A count such as `1000`, `10_000` or `1e6`.
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    let t: String = s.chars().filter(|&c| c != '_').collect();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
        _ => Err("expected a whole number such as 1000".into()),
    }
}

/// A seed: decimal or `0x` hexadecimal.
pub(crate) fn parse_seed(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| "expected a number (decimal, or hexadecimal with 0x)".into())
}

/// A duration: `500ms`, `10s`, `2m`, `1h`, `1.5s`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || "expected a duration such as 500ms, 10s, 2m or 1h".to_string();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let x: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => x,
        "ms" => x / 1e3,
        "us" | "µs" => x / 1e6,
        "ns" => x / 1e9,
        "m" | "min" => x * 60.0,
        "h" => x * 3600.0,
        _ => return Err(bad()),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_count("10_000"), Ok(10_000));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert!(parse_count("-3").is_err());
        assert_eq!(parse_seed("0x10"), Ok(16));
    }
}
