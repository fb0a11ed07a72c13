//! Recorded schedules and their replay tokens; shrinking lives in `check/shrink.rs` (and
//! the stall's, in `check/shrink_stall.rs`).
//!
//! A [`Schedule`] is the list of every answer the strategy gave during one run of the
//! controlled executor ([`Choice`]s), plus two facts used to recognise the program again on
//! replay: how many events the run performed, and a fingerprint of its first events. It also
//! keeps the step bound the run had, so that a livelock replays as a livelock, and the timer
//! mode, because it decides where the strategy was asked.
//!
//! # The token
//!
//! `gw1:` followed by unpadded base64url of these bytes:
//!
//! ```text
//! varint  payload length L, in bytes
//! u32 LE  FNV-1a checksum of the payload
//! payload (L bytes):
//!   varint  steps              events the recorded run performed
//!   varint  fingerprint        of the (operation, goroutine) of its first 64 events
//!   varint  max steps          the livelock bound it ran under (0: unknown)
//!   varint  choice count
//!   items, each starting with varint x, kind in the low 2 bits:
//!     0  Goroutine(x >> 2)    (ids are sequential, so 62 bits are plenty)
//!     1  Goroutine(x >> 2) repeated (next varint + 2) times (run-length: most decisions keep
//!        the goroutine that is running)
//!     2  Value(next varint)
//!     3  by x >> 2: 0 Time (time passed to the earliest pending timer);
//!                   1 the timer mode is any_time (only as the first item; not a choice);
//!                   2 the timer mode is max_stall, with the bound in nanoseconds in the
//!                     next varint (only as the first item; not a choice)
//! ```
//!
//! A token without the timer-mode item was recorded with time passing only when every
//! goroutine was blocked (`when_blocked`), as every token was before timers became choices.
//!
//! Invariants: decoding an encoded schedule gives it back exactly; a token that was cut short
//! is reported as truncated (the length comes first), anything else that does not check out as
//! malformed, and a `gwN:` prefix other than `gw1:` as a version mismatch. Decoding never
//! allocates more than [`MAX_CHOICES`] choices, whatever a token claims: a run-length item can
//! name millions of choices in three bytes, so the length of a token does not bound what it
//! decodes to, and the cap does (and the allocation itself is fallible).
//!
//! # Tokens in files
//!
//! A token takes about 0.75 characters per step, and Linux refuses to start a command whose
//! single environment string passes 128 KiB, so a long run's token cannot travel in
//! `GOWEAVE_REPLAY=<token>`. Wherever a token is accepted, `@path` names a file that holds it
//! ([`Schedule::from_arg`]), and a report whose token is longer than [`LONG_TOKEN`] writes it
//! to a file under the cargo target directory and prints the line that uses the file
//! (`schedule/token_file.rs`).

pub(crate) mod token_file;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::util::hash::{fnv1a32, FNV_OFFSET, FNV_PRIME};
use crate::verdict::TimerMode;

/// Version written into, and accepted from, tokens.
const VERSION: u32 = 1;

/// The most choices a token may decode to: 2^24 (256 MiB of schedule), 16 times the default
/// step bound. A schedule recorded under a larger `max_steps` can hold more; its token is then
/// refused with a message saying so, instead of letting a crafted token allocate gigabytes.
pub const MAX_CHOICES: u64 = 1 << 24;

/// Tokens longer than this (in characters) are written to a file for the replay line.
pub const LONG_TOKEN: usize = 8 * 1024;

/// The largest token file [`Schedule::from_arg`] reads (a token of [`MAX_CHOICES`] alternating
/// choices is about 12 MiB; anything far larger is not a token).
const MAX_TOKEN_FILE: u64 = 64 << 20;

/// Scheduling points covered by the fingerprint.
pub(crate) const FINGERPRINT_EVENTS: u64 = 64;

/// One recorded answer of the strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Choice {
    /// The goroutine chosen to run (by id; main is 1).
    Goroutine(u64),
    /// A data choice: a `select!` case or a random number.
    Value(u64),
    /// Time passed: the virtual clock moved to the earliest pending timer, and every timer due
    /// then fired (with `TimerMode::AnyTime`, while some goroutine could still run).
    Time,
}

/// Token item for `Choice::Time`.
const ITEM_TIME: u64 = 3;
/// Token item (first only): the schedule was recorded with `TimerMode::AnyTime`.
const ITEM_ANY_TIME: u64 = (1 << 2) | 3;
/// Token item (first only): the schedule was recorded with `TimerMode::MaxStall`; the bound
/// follows, in nanoseconds.
const ITEM_MAX_STALL: u64 = (2 << 2) | 3;

/// A recorded schedule: enough to replay a run of the controlled executor exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    choices: Vec<Choice>,
    steps: u64,
    fingerprint: u64,
    max_steps: u64,
    /// When time could pass in the recorded run.
    timers: TimerMode,
}

impl Default for Schedule {
    /// An empty schedule, recorded with `TimerMode::WhenBlocked` (as a token without a mode).
    fn default() -> Schedule {
        Schedule {
            choices: Vec::new(),
            steps: 0,
            fingerprint: 0,
            max_steps: 0,
            timers: TimerMode::WhenBlocked,
        }
    }
}

impl Schedule {
    /// A schedule from its parts (as recorded by the controlled executor), with the timer mode
    /// of a token that names none (`TimerMode::WhenBlocked`); see
    /// [`with_timers`](Schedule::with_timers).
    pub fn new(choices: Vec<Choice>, steps: u64, fingerprint: u64) -> Schedule {
        Schedule {
            choices,
            steps,
            fingerprint: fingerprint & 0xFFFF_FFFF,
            max_steps: 0,
            timers: TimerMode::WhenBlocked,
        }
    }

    /// The same schedule, noting the timer mode it was recorded under. A replay runs under that
    /// mode, whatever the checker's own setting.
    pub fn with_timers(mut self, timers: TimerMode) -> Schedule {
        self.timers = timers;
        self
    }

    /// The timer mode the schedule was recorded under.
    pub fn timers(&self) -> TimerMode {
        self.timers
    }

    /// The same schedule, noting the step bound (`max_steps`) it was recorded under.
    pub fn with_max_steps(mut self, max_steps: u64) -> Schedule {
        self.max_steps = max_steps;
        self
    }

    /// The step bound the schedule was recorded under (0: unknown).
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }

    /// Every answer the strategy gave, in order.
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// Number of choices.
    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// True if the schedule holds no choice (the run never had two options).
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }

    /// Events the recorded run performed.
    pub fn events(&self) -> u64 {
        self.steps
    }

    /// The fingerprint of the recorded run's first events (32 bits).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The replay token: `gw1:` and base64url.
    pub fn token(&self) -> String {
        let mut payload = Vec::with_capacity(16 + self.choices.len() / 2);
        put_varint(&mut payload, self.steps);
        put_varint(&mut payload, self.fingerprint);
        put_varint(&mut payload, self.max_steps);
        put_varint(&mut payload, self.choices.len() as u64);
        match self.timers {
            TimerMode::AnyTime => put_varint(&mut payload, ITEM_ANY_TIME),
            TimerMode::MaxStall(bound) => {
                put_varint(&mut payload, ITEM_MAX_STALL);
                put_varint(&mut payload, bound.as_nanos().min(u64::MAX as u128) as u64);
            }
            TimerMode::WhenBlocked => {}
        }
        let mut i = 0;
        while i < self.choices.len() {
            match self.choices[i] {
                Choice::Goroutine(g) => {
                    let run = self.choices[i..]
                        .iter()
                        .take_while(|c| **c == Choice::Goroutine(g))
                        .count();
                    if run >= 2 {
                        put_varint(&mut payload, (g << 2) | 1);
                        put_varint(&mut payload, run as u64 - 2);
                    } else {
                        put_varint(&mut payload, g << 2);
                    }
                    i += run;
                }
                Choice::Value(v) => {
                    put_varint(&mut payload, 2);
                    put_varint(&mut payload, v);
                    i += 1;
                }
                Choice::Time => {
                    put_varint(&mut payload, ITEM_TIME);
                    i += 1;
                }
            }
        }
        __frame_payload(&payload)
    }

    /// Parse a replay argument: a token, or `@path` for a file that holds one (as a report
    /// prints for a long token). This is what `GOWEAVE_REPLAY`, the harness's `--replay` and
    /// [`crate::replay`] accept. A file that cannot be read, or whose token is refused, is an
    /// error naming the file.
    ///
    /// ```
    /// use goweave::Schedule;
    ///
    /// let token = Schedule::default().token();
    /// let path = std::env::temp_dir().join(format!("goweave-doc-{}.token", std::process::id()));
    /// std::fs::write(&path, &token).unwrap();
    /// let from_file = Schedule::from_arg(&format!("@{}", path.display())).unwrap();
    /// assert_eq!(from_file, Schedule::from_arg(&token).unwrap());
    /// std::fs::remove_file(&path).unwrap();
    /// assert!(Schedule::from_arg(&format!("@{}", path.display()))
    ///     .unwrap_err()
    ///     .to_string()
    ///     .contains("goweave-doc-"));
    /// ```
    pub fn from_arg(arg: &str) -> Result<Schedule, TokenError> {
        let a = arg.trim();
        let a = a.strip_prefix("GOWEAVE_REPLAY=").unwrap_or(a);
        match a.strip_prefix('@') {
            Some(path) => Schedule::from_file(Path::new(path.trim())),
            None => Schedule::from_token(a),
        }
    }

    /// Parse the token held in a file (surrounding whitespace ignored).
    pub fn from_file(path: &Path) -> Result<Schedule, TokenError> {
        let unreadable = |reason: String| TokenError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::File::open(path)
            .and_then(|f| {
                use std::io::Read;
                let mut text = String::new();
                f.take(MAX_TOKEN_FILE + 1).read_to_string(&mut text)?;
                Ok(text)
            })
            .map_err(|e| unreadable(e.to_string()))?;
        if text.len() as u64 > MAX_TOKEN_FILE {
            return Err(unreadable(format!(
                "it is larger than {} MiB, far more than a token",
                MAX_TOKEN_FILE >> 20
            )));
        }
        Schedule::from_token(&text).map_err(|e| TokenError::InFile {
            path: path.to_path_buf(),
            error: Box::new(e),
        })
    }

    /// Parse a token made by [`token`](Schedule::token). A leading `GOWEAVE_REPLAY=` and
    /// surrounding whitespace are ignored. (For `@path` too, see [`from_arg`](Schedule::from_arg).)
    pub fn from_token(token: &str) -> Result<Schedule, TokenError> {
        let t = token.trim();
        let t = t.strip_prefix("GOWEAVE_REPLAY=").unwrap_or(t);
        let Some(rest) = t.strip_prefix("gw") else {
            return Err(TokenError::Malformed(
                "a goweave replay token starts with `gw1:`".into(),
            ));
        };
        let Some((version, body)) = rest.split_once(':') else {
            return Err(TokenError::Malformed(
                "a goweave replay token starts with `gw1:`".into(),
            ));
        };
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TokenError::Malformed(
                "a goweave replay token starts with `gw1:`".into(),
            ));
        }
        if version != VERSION.to_string() {
            return Err(TokenError::UnsupportedVersion {
                found: version.to_string(),
            });
        }
        let bytes = base64url_decode(body)?;
        let mut r = Reader {
            bytes: &bytes,
            pos: 0,
        };
        let len = r.varint().map_err(|_| TokenError::Truncated {
            detail: "it ends inside its header".into(),
        })?;
        if bytes.len() < r.pos + 4 {
            return Err(TokenError::Truncated {
                detail: "it ends inside its header".into(),
            });
        }
        let mut sum = [0u8; 4];
        sum.copy_from_slice(&bytes[r.pos..r.pos + 4]);
        let sum = u32::from_le_bytes(sum);
        let payload = &bytes[r.pos + 4..];
        if (payload.len() as u64) < len {
            return Err(TokenError::Truncated {
                detail: format!("it holds {} of its {len} bytes of schedule", payload.len()),
            });
        }
        if payload.len() as u64 > len {
            return Err(TokenError::Malformed(format!(
                "{} unexpected bytes after the schedule",
                payload.len() as u64 - len
            )));
        }
        if fnv1a32(payload) != sum {
            return Err(TokenError::Malformed(
                "its checksum does not match: the token was altered".into(),
            ));
        }
        let bad = |what: &str| TokenError::Malformed(format!("bad schedule data: {what}"));
        let mut r = Reader {
            bytes: payload,
            pos: 0,
        };
        let steps = r.varint().map_err(|_| bad("steps"))?;
        let fingerprint = r.varint().map_err(|_| bad("fingerprint"))?;
        let max_steps = r.varint().map_err(|_| bad("max steps"))?;
        let count = r.varint().map_err(|_| bad("choice count"))?;
        if count > MAX_CHOICES {
            return Err(TokenError::Malformed(format!(
                "it claims {count} choices, more than the {MAX_CHOICES} a token may hold"
            )));
        }
        let mut choices = Vec::new();
        choices.try_reserve_exact(count as usize).map_err(|_| {
            TokenError::Malformed(format!(
                "its {count} choices do not fit in memory ({} MiB)",
                (count * std::mem::size_of::<Choice>() as u64) >> 20
            ))
        })?;
        let mut timers = TimerMode::WhenBlocked;
        let items = r.pos;
        while r.pos < payload.len() {
            let x = r.varint().map_err(|_| bad("item"))?;
            // Every item adds at least one choice; none may go past the count (so the
            // reservation above is never exceeded).
            if x != ITEM_ANY_TIME && choices.len() as u64 >= count {
                return Err(bad("more items than its choice count"));
            }
            match x & 3 {
                0 => choices.push(Choice::Goroutine(x >> 2)),
                1 => {
                    let n = r.varint().map_err(|_| bad("run length"))?;
                    if n.saturating_add(2) > count - choices.len() as u64 {
                        return Err(bad("run length"));
                    }
                    choices.extend(std::iter::repeat_n(
                        Choice::Goroutine(x >> 2),
                        n as usize + 2,
                    ));
                }
                2 => choices.push(Choice::Value(r.varint().map_err(|_| bad("value"))?)),
                _ if x == ITEM_TIME => choices.push(Choice::Time),
                _ if x == ITEM_ANY_TIME && r.pos == items + 1 => timers = TimerMode::AnyTime,
                _ if x == ITEM_MAX_STALL && r.pos == items + 1 => {
                    let ns = r.varint().map_err(|_| bad("max_stall bound"))?;
                    timers = TimerMode::MaxStall(std::time::Duration::from_nanos(ns));
                }
                _ => return Err(bad("unknown item kind")),
            }
        }
        if choices.len() as u64 != count {
            return Err(bad("choice count"));
        }
        Ok(Schedule {
            choices,
            steps,
            fingerprint,
            max_steps,
            timers,
        })
    }
}

impl fmt::Display for Schedule {
    /// The token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.token())
    }
}

impl std::str::FromStr for Schedule {
    type Err = TokenError;

    /// A token, or `@path` of a file holding one ([`Schedule::from_arg`]).
    fn from_str(s: &str) -> Result<Schedule, TokenError> {
        Schedule::from_arg(s)
    }
}

/// Why a replay token was refused. (A token from a changed program parses, and is caught when
/// it is replayed: the run then fails with `FailureKind::Nondeterminism`.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token at all, or damaged.
    Malformed(String),
    /// A token cut short, usually by copy and paste.
    Truncated {
        /// What is missing.
        detail: String,
    },
    /// A token of another format version.
    UnsupportedVersion {
        /// The version it claims.
        found: String,
    },
    /// `@path`: the file cannot be read.
    Unreadable {
        /// The file named.
        path: PathBuf,
        /// Why not (the OS error, or that it is far too large).
        reason: String,
    },
    /// `@path`: the token in the file was refused.
    InFile {
        /// The file named.
        path: PathBuf,
        /// Why its token was refused.
        error: Box<TokenError>,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed(why) => write!(f, "malformed replay token: {why}"),
            TokenError::Truncated { detail } => write!(
                f,
                "truncated replay token: {detail}; copy the whole token from the failure report"
            ),
            TokenError::UnsupportedVersion { found } => write!(
                f,
                "replay token version gw{found} is not supported: this goweave reads gw{VERSION} tokens; replay it with the goweave version that recorded it"
            ),
            TokenError::Unreadable { path, reason } => write!(
                f,
                "cannot read the token file {}: {reason}",
                path.display()
            ),
            TokenError::InFile { path, error } => {
                write!(f, "in the replay token file {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for TokenError {}

/// A token around `payload` (the bytes after the checksum), framed as [`Schedule::token`]
/// frames it: length, checksum, payload. For fuzzing the decoder with inputs whose checksum
/// holds, so that it reaches the schedule data; not part of the stable API.
#[doc(hidden)]
pub fn __frame_payload(payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(payload.len() + 9);
    put_varint(&mut bytes, payload.len() as u64);
    bytes.extend_from_slice(&fnv1a32(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    format!("gw{VERSION}:{}", base64url_encode(&bytes))
}

/// Folds the (operation, goroutine) of the first events of a run into a fingerprint.
#[inline]
pub(crate) fn fingerprint_step(fp: u64, op: u8, goroutine: u64) -> u64 {
    let mut h = fp ^ (op as u64) ^ (goroutine << 8);
    h = h.wrapping_mul(FNV_PRIME);
    h ^ (h >> 29)
}

/// The starting value of a fingerprint.
pub(crate) const FINGERPRINT_SEED: u64 = FNV_OFFSET;

/// A 64-bit hash of a choice list (for counting distinct schedules).
pub(crate) fn hash_choices(choices: &[Choice]) -> u64 {
    let mut h: u64 = FINGERPRINT_SEED;
    for c in choices {
        let x = match *c {
            Choice::Goroutine(g) => g << 1,
            Choice::Value(v) => (v << 1) | 1,
            Choice::Time => u64::MAX,
        };
        h = (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 32;
    }
    h
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, ()> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos).ok_or(())?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(());
            }
            v |= ((b & 0x7F) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(())
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (chunk.get(1).copied().unwrap_or(0) as u32) << 8
            | chunk.get(2).copied().unwrap_or(0) as u32;
        for i in 0..=n {
            s.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

fn base64url_decode(s: &str) -> Result<Vec<u8>, TokenError> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    // By character, not byte: a non-ASCII character pasted into a token is named as itself
    // ('ü'), not as its first UTF-8 byte, at its position in characters.
    for (i, c) in s.chars().enumerate() {
        let v = match c {
            'A'..='Z' => c as u8 - b'A',
            'a'..='z' => c as u8 - b'a' + 26,
            '0'..='9' => c as u8 - b'0' + 52,
            '-' => 62,
            '_' => 63,
            _ => {
                return Err(TokenError::Malformed(format!(
                    "character {:?} at position {} is not base64url",
                    c,
                    i + 4
                )))
            }
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits >= 6 {
        return Err(TokenError::Truncated {
            detail: "its last character is incomplete".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for n in 0..20 {
            let v: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            assert_eq!(base64url_decode(&base64url_encode(&v)).unwrap(), v);
        }
    }

    use super::__frame_payload as framed;

    #[test]
    fn time_choices_and_the_timer_mode_round_trip() {
        let choices = vec![
            Choice::Time,
            Choice::Goroutine(2),
            Choice::Time,
            Choice::Time,
            Choice::Value(1),
        ];
        for mode in [
            TimerMode::AnyTime,
            TimerMode::WhenBlocked,
            TimerMode::default(),
            TimerMode::MaxStall(std::time::Duration::from_nanos(1)),
            TimerMode::MaxStall(std::time::Duration::from_secs(3600)),
        ] {
            let s = Schedule::new(choices.clone(), 9, 7).with_timers(mode);
            assert_eq!(Schedule::from_token(&s.token()), Ok(s));
        }
        // The mode item costs one byte, and only with any_time.
        let any = Schedule::new(choices.clone(), 9, 7).with_timers(TimerMode::AnyTime);
        let blocked = Schedule::new(choices, 9, 7);
        assert!(any.token().len() > blocked.token().len());
    }

    #[test]
    fn tokens_without_a_mode_are_when_blocked_and_the_mode_item_comes_first() {
        // steps, fingerprint, max steps, count, then the items.
        let old = [3, 5, 0, 2, 1 << 2, 2 << 2];
        let s = Schedule::from_token(&framed(&old)).unwrap();
        assert_eq!(s.timers(), TimerMode::WhenBlocked);
        assert_eq!(s.choices(), [Choice::Goroutine(1), Choice::Goroutine(2)]);
        let any_first = [3, 5, 0, 2, ITEM_ANY_TIME as u8, 1 << 2, ITEM_TIME as u8];
        let s = Schedule::from_token(&framed(&any_first)).unwrap();
        assert_eq!(s.timers(), TimerMode::AnyTime);
        assert_eq!(s.choices(), [Choice::Goroutine(1), Choice::Time]);
        let any_later = [3, 5, 0, 1, 1 << 2, ITEM_ANY_TIME as u8];
        assert!(matches!(
            Schedule::from_token(&framed(&any_later)),
            Err(TokenError::Malformed(_))
        ));
        let stall_first = [3, 5, 0, 1, ITEM_MAX_STALL as u8, 100, 1 << 2];
        let s = Schedule::from_token(&framed(&stall_first)).unwrap();
        assert_eq!(
            s.timers(),
            TimerMode::MaxStall(std::time::Duration::from_nanos(100))
        );
        assert_eq!(s.choices(), [Choice::Goroutine(1)]);
        let stall_later = [3, 5, 0, 1, 1 << 2, ITEM_MAX_STALL as u8, 100];
        assert!(matches!(
            Schedule::from_token(&framed(&stall_later)),
            Err(TokenError::Malformed(_))
        ));
        let stall_cut = [3, 5, 0, 0, ITEM_MAX_STALL as u8];
        assert!(matches!(
            Schedule::from_token(&framed(&stall_cut)),
            Err(TokenError::Malformed(_))
        ));
        let unknown = [3, 5, 0, 1, (3 << 2) | 3];
        assert!(matches!(
            Schedule::from_token(&framed(&unknown)),
            Err(TokenError::Malformed(_))
        ));
    }

    /// A payload header (steps, fingerprint, max steps) and a choice count, as varints.
    fn header(count: u64) -> Vec<u8> {
        let mut p = vec![3, 5, 0];
        put_varint(&mut p, count);
        p
    }

    #[test]
    fn a_token_may_not_claim_more_than_the_cap() {
        // One run-length item claiming the whole count: a few bytes that decode to anything.
        for count in [MAX_CHOICES + 1, 1_000_000_000, u64::MAX >> 1] {
            let mut p = header(count);
            put_varint(&mut p, (1 << 2) | 1);
            put_varint(&mut p, count - 2);
            match Schedule::from_token(&framed(&p)) {
                Err(TokenError::Malformed(why)) => assert!(why.contains("claims"), "{why}"),
                other => panic!("count {count}: {other:?}"),
            }
        }
    }

    #[test]
    fn runs_may_not_go_past_the_count_nor_items_past_the_count() {
        // Two runs of 4 where 6 choices are claimed.
        let mut p = header(6);
        p.extend([(1 << 2) | 1, 2, (2 << 2) | 1, 2]);
        assert!(matches!(
            Schedule::from_token(&framed(&p)),
            Err(TokenError::Malformed(_))
        ));
        // A run whose length overflows when the 2 is added.
        let mut p = header(6);
        p.push((1 << 2) | 1);
        put_varint(&mut p, u64::MAX);
        assert!(Schedule::from_token(&framed(&p)).is_err());
        // One item more than the count.
        let mut p = header(1);
        p.extend([1 << 2, 2 << 2]);
        assert!(Schedule::from_token(&framed(&p)).is_err());
        // Exactly the count is fine.
        let mut p = header(6);
        p.extend([(1 << 2) | 1, 2, 2 << 2, ITEM_TIME as u8]);
        let s = Schedule::from_token(&framed(&p)).unwrap();
        assert_eq!(s.len(), 6);
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri isolates the file system")]
    fn from_arg_reads_tokens_and_files_and_names_the_file_on_error() {
        let s = Schedule::new(vec![Choice::Goroutine(2), Choice::Time], 4, 9);
        assert_eq!(Schedule::from_arg(&s.token()), Ok(s.clone()));
        assert_eq!(
            Schedule::from_arg(&format!("GOWEAVE_REPLAY={}", s.token())),
            Ok(s.clone())
        );
        let dir = std::env::temp_dir().join(format!("goweave-from-arg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.token");
        std::fs::write(&good, format!("{}\n", s.token())).unwrap();
        assert_eq!(Schedule::from_arg(&format!("@{}", good.display())), Ok(s));
        let missing = dir.join("missing.token");
        match Schedule::from_arg(&format!("@{}", missing.display())) {
            Err(e @ TokenError::Unreadable { .. }) => {
                assert!(e.to_string().contains("missing.token"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let bad = dir.join("bad.token");
        std::fs::write(&bad, "gw1:AAAA").unwrap();
        match Schedule::from_arg(&format!("@{}", bad.display())) {
            Err(e @ TokenError::InFile { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("bad.token") && text.contains("replay token"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn varint_round_trips_extremes() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut r = Reader { bytes: &b, pos: 0 };
            assert_eq!(r.varint(), Ok(v));
        }
    }
}

/// The decoder under arbitrary input: never a panic, never more than the cap, and whatever it
/// accepts encodes back to the same schedule. (Not under Miri: thousands of cases.)
#[cfg(all(test, not(miri)))]
mod props {
    use super::__frame_payload as framed;
    use super::*;
    use proptest::prelude::*;

    fn choice() -> impl Strategy<Value = Choice> {
        prop_oneof![
            6 => (1u64..6).prop_map(Choice::Goroutine),
            // Ids are sequential: the token keeps 62 bits of them.
            1 => (0u64..1 << 62).prop_map(Choice::Goroutine),
            2 => (0u64..4).prop_map(Choice::Value),
            1 => any::<u64>().prop_map(Choice::Value),
            1 => Just(Choice::Time),
        ]
    }

    /// Items as the token writes them, with counts chosen freely (often far too large).
    fn item() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0u64..8).prop_map(|g| {
                let mut v = Vec::new();
                put_varint(&mut v, g << 2);
                v
            }),
            ((0u64..8), prop_oneof![0u64..10, any::<u64>()]).prop_map(|(g, n)| {
                let mut v = Vec::new();
                put_varint(&mut v, (g << 2) | 1);
                put_varint(&mut v, n);
                v
            }),
            any::<u64>().prop_map(|x| {
                let mut v = vec![2];
                put_varint(&mut v, x);
                v
            }),
            Just(vec![ITEM_TIME as u8]),
            Just(vec![ITEM_ANY_TIME as u8]),
            any::<u8>().prop_map(|b| vec![b]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn schedules_round_trip(
            choices in proptest::collection::vec(choice(), 0..300),
            steps in any::<u64>(),
            fp in any::<u32>(),
            max_steps in any::<u64>(),
            any_time in any::<bool>(),
        ) {
            let mode = if any_time { TimerMode::AnyTime } else { TimerMode::WhenBlocked };
            let s = Schedule::new(choices, steps, fp as u64)
                .with_max_steps(max_steps)
                .with_timers(mode);
            prop_assert_eq!(Schedule::from_token(&s.token()), Ok(s.clone()));
            prop_assert_eq!(Schedule::from_arg(&format!(" {} ", s.token())), Ok(s));
        }

        #[test]
        fn checksum_valid_item_streams_decode_within_bounds(
            count in prop_oneof![0u64..64, any::<u64>(), Just(MAX_CHOICES), Just(MAX_CHOICES + 1)],
            items in proptest::collection::vec(item(), 0..40),
        ) {
            let mut p = vec![1, 2, 3];
            put_varint(&mut p, count);
            for i in &items {
                p.extend_from_slice(i);
            }
            check(&framed(&p))?;
        }

        #[test]
        fn checksum_valid_bytes_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            check(&framed(&payload))?;
        }

        #[test]
        fn arbitrary_text_never_panics(text in "(gw1:)?[A-Za-z0-9_=@-]{0,120}") {
            let _ = Schedule::from_token(&text);
        }
    }

    /// A decoded token respects the cap and re-encodes to itself.
    fn check(token: &str) -> Result<(), TestCaseError> {
        if let Ok(s) = Schedule::from_token(token) {
            prop_assert!(s.len() as u64 <= MAX_CHOICES);
            prop_assert_eq!(Schedule::from_token(&s.token()), Ok(s));
        }
        Ok(())
    }
}
