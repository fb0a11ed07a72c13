//! Goroutine stacks: fixed-size slots carved from large slabs, a guard page under each, reuse
//! through a per-thread cache and a global pool, and a SIGSEGV handler that names the goroutine
//! whose stack overflowed.
//!
//! Invariants:
//! - A slot is `[guard page][usable bytes]`. [`GoStack`]'s `limit()` is the guard page's address
//!   (corosensei requires the limit to include guard pages) and `base()` is the slot's end, so
//!   `base - limit == size + page`.
//! - The guard page is installed before a slot is first handed out and is never removed.
//! - Slabs are never unmapped, so slot addresses and the per-slot owner cells stay valid for the
//!   life of the process, and the overflow handler may read them at any time.
//! - A slot belongs to exactly one place at a time: one live [`GoStack`], or one pool.
//!
//! Layout: `slab.rs` maps slabs and carves slots, `guard.rs` installs guard pages, `pool.rs`
//! reuses released slots, `overflow.rs` is the SIGSEGV/SIGBUS handler and per-thread signal stack.

mod budget;
mod guard;
mod overflow;
mod pool;
mod slab;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use corosensei::stack::{Stack, StackPointer};

use self::slab::Slot;

/// Environment variable that overrides [`default_size`] (bytes; suffixes k/K/m/M allowed).
pub(crate) const ENV_STACK_SIZE: &str = "GOWEAVE_STACK_SIZE";
/// Environment variable that caps the number of stack slots the process may carve, i.e. the
/// number of goroutine stacks alive at once (released stacks are reused under the cap). Mostly
/// for testing the exhaustion path deterministically.
pub(crate) const ENV_MAX_STACKS: &str = "GOWEAVE_MAX_STACKS";
/// Usable stack size used when [`ENV_STACK_SIZE`] is not set: 256 KiB.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// A goroutine stack: one fixed-size slot of a slab, with a guard page below it.
///
/// Dropping a `GoStack` (or passing it to [`release`]) returns it to the pool for reuse.
/// It is `Send`: a stack may be released on another thread than the one that allocated it.
pub(crate) struct GoStack {
    slot: Slot,
}

// SAFETY: `[limit, base)` is one slot of a slab that is never unmapped, and this `GoStack` is its
// only owner until it is dropped. The slot's lowest page (at `limit`) is a guard page, installed
// before the slot was first handed out. The usable part is at least `MIN_STACK_SIZE` bytes
// (`slab::usable_size` enforces it) and both ends are page aligned, hence `STACK_ALIGNMENT`
// aligned.
unsafe impl Stack for GoStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.slot.base()
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.slot.limit()
    }
}

impl GoStack {
    /// Usable bytes of this stack (the guard page is not counted).
    #[cfg(test)]
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.slot.size()
    }

    /// Records the goroutine running on this stack, so that the overflow handler can name it
    /// (goroutines name themselves through `owner_cell`).
    #[cfg(any(test, feature = "test-hooks"))]
    #[inline]
    pub(crate) fn set_owner(&self, goroutine_id: u64) {
        self.slot.owner().store(goroutine_id, Ordering::Relaxed);
    }

    /// The slot's owner cell, for a coroutine that runs one goroutine after another on
    /// this stack (`coroutine::Warm`): it names each in turn without reaching the stack, which
    /// the coroutine owns. Valid for ever (slabs are never unmapped).
    #[inline]
    pub(crate) fn owner_cell(&self) -> &'static std::sync::atomic::AtomicU64 {
        self.slot.owner()
    }
}

impl Drop for GoStack {
    fn drop(&mut self) {
        self.slot.owner().store(slab::NO_OWNER, Ordering::Relaxed);
        pool::put(self.slot.handle_for_release());
    }
}

impl fmt::Debug for GoStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoStack")
            .field("limit", &format_args!("{:#x}", self.slot.limit()))
            .field("base", &format_args!("{:#x}", self.slot.base()))
            .field("size", &self.slot.size())
            .finish()
    }
}

/// Gets a stack of `size` usable bytes (rounded up to whole pages, at least
/// `corosensei::stack::MIN_STACK_SIZE`) from the pool, or carves a new slot.
///
/// Also installs the overflow handler (once per process). The thread that *runs* the stack must
/// call [`prepare_thread`].
pub(crate) fn allocate(size: usize) -> Result<GoStack, StackError> {
    overflow::install_handler();
    let usable = slab::usable_size(size).ok_or_else(|| StackError::too_large(size))?;
    if let Some(slot) = pool::get(usable) {
        return Ok(GoStack { slot });
    }
    let slot = slab::GLOBAL.carve(usable, max_stacks())?;
    Ok(GoStack { slot })
}

/// Returns a stack for reuse (the same as dropping it).
pub(crate) fn release(stack: GoStack) {
    drop(stack);
}

/// Default usable stack size: 256 KiB, or the value of `GOWEAVE_STACK_SIZE` (bytes, with an
/// optional suffix k/K = KiB or m/M = MiB). The variable is read once.
///
/// # Panics
///
/// If `GOWEAVE_STACK_SIZE` is set to something that is not a size; the message names the
/// variable and the value.
pub(crate) fn default_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        env_value(ENV_STACK_SIZE).map_or(DEFAULT_STACK_SIZE, |v| match parse_size(&v) {
            Ok(n) => n,
            Err(why) => panic!(
                "goweave: invalid {ENV_STACK_SIZE}={v:?}: {why}; expected a size in bytes with \
                 an optional suffix k/K (KiB) or m/M (MiB), e.g. 262144, 256k or 1M"
            ),
        })
    })
}

/// Installs (once, idempotent, thread-safe) the SIGSEGV/SIGBUS handler that reports goroutine
/// stack overflows, and makes sure the calling thread has a signal stack (`sigaltstack`),
/// installing one if it has none. Call it on every thread that runs goroutines: without a signal
/// stack the kernel cannot run the handler on an overflowed stack and the process dies silently.
pub(crate) fn prepare_thread() {
    overflow::prepare_thread();
}

/// Parses a stack size: decimal bytes with an optional suffix `k`/`K` (KiB) or `m`/`M` (MiB).
pub(crate) fn parse_size(text: &str) -> Result<usize, &'static str> {
    let text = text.trim();
    let (digits, unit) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1024),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number");
    }
    let n: usize = digits.parse().map_err(|_| "too large")?;
    if n == 0 {
        return Err("a stack size must be greater than zero");
    }
    n.checked_mul(unit).ok_or("too large")
}

/// Parses a `GOWEAVE_MAX_STACKS` value: a whole number of stacks.
fn parse_count(text: &str) -> Option<usize> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The optional cap on carved slots from `GOWEAVE_MAX_STACKS`, read once.
fn max_stacks() -> Option<usize> {
    static CAP: OnceLock<Option<usize>> = OnceLock::new();
    *CAP.get_or_init(|| {
        env_value(ENV_MAX_STACKS).map(|v| {
            parse_count(&v).unwrap_or_else(|| {
                panic!(
                    "goweave: invalid {ENV_MAX_STACKS}={v:?}: expected a whole number of \
                     stacks, e.g. 10000"
                )
            })
        })
    })
}

/// The value of an environment variable, `None` when unset or empty.
fn env_value(name: &str) -> Option<String> {
    let v = std::env::var_os(name)?;
    let v = v.to_string_lossy().into_owned();
    if v.trim().is_empty() {
        None
    } else {
        Some(v)
    }
}

/// Why a goroutine stack could not be allocated. Its `Display` names the limit that was hit and
/// how to lift it; it never reduces to a bare `ENOMEM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackError {
    kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ErrorKind {
    /// The kernel's mapping budget (`vm.max_map_count`) is used up.
    MapCount {
        op: &'static str,
        in_use: usize,
        max: usize,
        mprotect_guards: bool,
        /// Mappings goweave leaves to the rest of the process (`budget`); 0 when the kernel
        /// itself refused.
        reserve: usize,
    },
    /// ENOMEM that is not the mapping budget: address space or memory.
    Memory {
        op: &'static str,
        bytes: usize,
        rlimit_as: Option<u64>,
        overcommit: Option<u64>,
    },
    /// `GOWEAVE_MAX_STACKS` reached.
    Cap { cap: usize },
    /// The lock-free slab registry the overflow handler reads is full.
    TooManySlabs { slabs: usize },
    /// The requested size does not fit the address space.
    TooLarge { size: usize },
    /// Any other failing system call.
    Os { op: &'static str, errno: i32 },
}

impl StackError {
    fn cap(cap: usize) -> Self {
        StackError {
            kind: ErrorKind::Cap { cap },
        }
    }

    fn too_large(size: usize) -> Self {
        StackError {
            kind: ErrorKind::TooLarge { size },
        }
    }

    /// Creating another stack would eat into the mappings kept for the rest of the process
    /// (`budget`): `in_use` of `max` are taken and `reserve` must stay free.
    fn map_budget(op: &'static str, in_use: usize, max: usize, reserve: usize) -> Self {
        StackError {
            kind: ErrorKind::MapCount {
                op,
                in_use,
                max,
                mprotect_guards: guard::using_mprotect(),
                reserve,
            },
        }
    }

    fn too_many_slabs(slabs: usize) -> Self {
        StackError {
            kind: ErrorKind::TooManySlabs { slabs },
        }
    }

    /// The error for a failed `op` (mmap, mprotect, madvise) on `bytes` bytes. ENOMEM is
    /// diagnosed: mapping budget (counted from `/proc`) or address space / memory.
    fn from_errno(op: &'static str, errno: i32, bytes: usize) -> Self {
        if errno != libc::ENOMEM {
            return StackError {
                kind: ErrorKind::Os { op, errno },
            };
        }
        let in_use = count_mappings();
        let max = read_proc_number("/proc/sys/vm/max_map_count");
        if let (Some(in_use), Some(max)) = (in_use, max) {
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            // A split or a new mapping is refused once `map_count >= max`; leave a little slack
            // for mappings made or removed by other threads meanwhile.
            if in_use.saturating_add(16) >= max {
                return StackError {
                    kind: ErrorKind::MapCount {
                        op,
                        in_use,
                        max,
                        mprotect_guards: guard::using_mprotect(),
                        reserve: 0,
                    },
                };
            }
        }
        StackError {
            kind: ErrorKind::Memory {
                op,
                bytes,
                rlimit_as: rlimit_as(),
                overcommit: read_proc_number("/proc/sys/vm/overcommit_memory"),
            },
        }
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::MapCount {
                op,
                in_use,
                max,
                mprotect_guards,
                reserve,
            } => {
                if *reserve == 0 {
                    write!(
                        f,
                        "goweave: cannot map a goroutine stack ({op} failed): the kernel's \
                         mapping budget is exhausted (vm.max_map_count = {max}, {in_use} \
                         mappings in use"
                    )?;
                } else {
                    write!(
                        f,
                        "goweave: cannot map a goroutine stack (before {op}): the kernel's \
                         mapping budget is exhausted (vm.max_map_count = {max}, {in_use} \
                         mappings in use, and goweave keeps the last {reserve} for the rest of \
                         the process: the allocator and new threads need them too"
                    )?;
                }
                if *mprotect_guards {
                    write!(
                        f,
                        "; guard pages fall back to mprotect here, 2 mappings per stack, because \
                         MADV_GUARD_INSTALL needs Linux 6.13+ or {} is set",
                        guard::ENV_GUARD
                    )?;
                }
                write!(
                    f,
                    "); raise it with `sysctl -w vm.max_map_count={}` or use fewer goroutines",
                    max.saturating_mul(4).max(262_144)
                )
            }
            ErrorKind::Memory {
                op,
                bytes,
                rlimit_as,
                overcommit,
            } => {
                write!(
                    f,
                    "goweave: cannot map a goroutine stack ({op} of {bytes} bytes failed with \
                     ENOMEM): out of address space / memory (RLIMIT_AS = "
                )?;
                match rlimit_as {
                    None => f.write_str("unlimited")?,
                    Some(n) => write!(f, "{n} bytes")?,
                }
                f.write_str(", vm.overcommit_memory = ")?;
                match overcommit {
                    None => f.write_str("unknown")?,
                    Some(n) => write!(f, "{n}")?,
                }
                f.write_str("); ")?;
                if rlimit_as.is_some() {
                    f.write_str("raise the address-space limit (`ulimit -v`), ")?;
                }
                if *overcommit == Some(2) {
                    f.write_str(
                        "allow overcommit (`sysctl -w vm.overcommit_memory=0`; with 2 every \
                         stack is charged in full), ",
                    )?;
                }
                write!(
                    f,
                    "use smaller stacks ({ENV_STACK_SIZE}) or fewer goroutines"
                )
            }
            ErrorKind::Cap { cap } => write!(
                f,
                "goweave: cannot allocate a goroutine stack: the {ENV_MAX_STACKS} limit of {cap} \
                 stacks is reached; raise or unset {ENV_MAX_STACKS}"
            ),
            ErrorKind::TooManySlabs { slabs } => write!(
                f,
                "goweave: cannot allocate a goroutine stack: the stack slab registry is full \
                 ({slabs} slabs); use fewer goroutines or smaller stacks ({ENV_STACK_SIZE})"
            ),
            ErrorKind::TooLarge { size } => write!(
                f,
                "goweave: a goroutine stack of {size} bytes does not fit in the address space; \
                 use a smaller stack size ({ENV_STACK_SIZE})"
            ),
            ErrorKind::Os { op, errno } => write!(
                f,
                "goweave: cannot map a goroutine stack: {op} failed: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for StackError {}

/// Counts the process's mappings (lines of `/proc/self/maps`) with a fixed buffer, so that it
/// works even when no new mapping can be made.
fn count_mappings() -> Option<usize> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/maps").ok()?;
    let mut buf = [0u8; 8192];
    let mut lines = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Reads a small decimal number from a `/proc` file, with a fixed buffer.
fn read_proc_number(path: &str) -> Option<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 64];
    let n = file.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

/// The soft RLIMIT_AS, `None` when unlimited.
fn rlimit_as() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) };
    if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        Some(lim.rlim_cur)
    }
}

/// Test probe: runs a deliberately infinite recursion on a goroutine stack of `size` bytes owned
/// by goroutine 7, which must end the process through the overflow handler with
/// `goroutine 7 overflowed its stack (size ...)` on stderr and SIGABRT. Re-exported as
/// `goweave::test_hooks::overflow_probe` for the subprocess tests.
#[cfg(feature = "test-hooks")]
pub fn overflow_probe(size: usize) {
    prepare_thread();
    let stack = allocate(size).unwrap_or_else(|e| panic!("{e}"));
    stack.set_owner(7);
    let mut co: corosensei::Coroutine<(), (), u64, GoStack> =
        corosensei::Coroutine::with_stack(stack, |_, ()| recurse_forever(0));
    let result = co.resume(());
    panic!("goweave: the stack overflow probe returned ({result:?}) instead of overflowing");
}

/// Recurses until the stack overflows. Each frame is below a page, so the recursion walks into
/// the guard page rather than jumping over it.
#[inline(never)]
#[cfg(feature = "test-hooks")]
fn recurse_forever(depth: u64) -> u64 {
    let mut frame = [0u8; 512];
    frame[(depth % 512) as usize] = depth as u8;
    let frame = std::hint::black_box(frame);
    if std::hint::black_box(depth) == u64::MAX {
        return u64::from(frame[0]);
    }
    recurse_forever(depth + 1).wrapping_add(u64::from(frame[(depth % 512) as usize]))
}

/// Test probe: allocates default-size stacks until allocation fails and returns the error's
/// `Display` (meant to run with `GOWEAVE_MAX_STACKS` set). Gives up after about a million
/// stacks. Re-exported as `goweave::test_hooks::exhaust_probe` for the subprocess tests.
#[cfg(feature = "test-hooks")]
pub fn exhaust_probe() -> String {
    const GIVE_UP: usize = 1 << 20;
    let size = default_size();
    // Reserved up front: once the mapping budget is gone, growing a large Vec could fail too.
    let mut held = Vec::with_capacity(GIVE_UP);
    let message = loop {
        if held.len() == GIVE_UP {
            break format!("goweave: no stack allocation error after {GIVE_UP} stacks");
        }
        match allocate(size) {
            Ok(stack) => held.push(stack),
            Err(e) => break e.to_string(),
        }
    };
    drop(held);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the kernel can read one byte at `addr`, tested without a signal: `write(2)` from
    /// a guard page fails with EFAULT.
    pub(super) fn readable(addr: usize) -> bool {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the kernel validates `addr`; a bad address yields EFAULT, not a fault here.
        let n = unsafe { libc::write(fds[1], addr as *const libc::c_void, 1) };
        // SAFETY: both descriptors were just opened by `pipe`.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        n == 1
    }

    #[test]
    fn go_stack_is_send() {
        fn send<T: Send>() {}
        send::<GoStack>();
    }

    #[test]
    fn geometry_and_alignment() {
        let page = slab::page_size();
        let s = allocate(100_000).unwrap();
        let (base, limit) = (s.base().get(), s.limit().get());
        assert_eq!(s.size(), 100_000usize.div_ceil(page) * page);
        assert_eq!(
            base - limit,
            s.size() + page,
            "limit includes the guard page"
        );
        assert_eq!(limit % page, 0);
        assert_eq!(base % corosensei::stack::STACK_ALIGNMENT, 0);
        assert!(!readable(limit), "guard page must fault");
        assert!(!readable(limit + page - 1), "whole guard page must fault");
        assert!(
            readable(limit + page),
            "first usable byte must be accessible"
        );
        assert!(readable(base - 1));
    }

    #[test]
    fn tiny_sizes_round_up_to_minimum() {
        let s = allocate(1).unwrap();
        assert!(s.size() >= corosensei::stack::MIN_STACK_SIZE);
        assert_eq!(s.size() % slab::page_size(), 0);
    }

    #[test]
    fn whole_usable_range_is_writable() {
        let s = allocate(64 * 1024).unwrap();
        let start = s.base().get() - s.size();
        // SAFETY: `[start, base)` is the usable part of a slot this test owns exclusively.
        let bytes = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, s.size()) };
        bytes.fill(0xA5);
        assert!(bytes.iter().all(|&b| b == 0xA5));
    }

    #[test]
    fn release_then_allocate_reuses_the_slot() {
        let size = 13 * slab::page_size(); // a size class no other test uses
        let a = allocate(size).unwrap();
        let limit = a.limit();
        release(a);
        let b = allocate(size).unwrap();
        assert_eq!(b.limit(), limit);
    }

    #[test]
    fn slots_are_distinct_and_disjoint() {
        let size = 11 * slab::page_size();
        let stacks: Vec<GoStack> = (0..200).map(|_| allocate(size).unwrap()).collect();
        let mut ranges: Vec<(usize, usize)> = stacks
            .iter()
            .map(|s| (s.limit().get(), s.base().get()))
            .collect();
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlapping slots {w:?}");
        }
    }

    #[test]
    fn set_owner_is_visible_to_the_overflow_lookup() {
        let s = allocate(64 * 1024).unwrap();
        s.set_owner(42);
        let hit = slab::guard_hit(s.limit().get() + 10).expect("guard page is registered");
        assert_eq!((hit.owner, hit.size), (42, s.size()));
        assert!(slab::guard_hit(s.limit().get() + slab::page_size()).is_none());
        let limit = s.limit().get();
        drop(s);
        assert_eq!(slab::guard_hit(limit).unwrap().owner, slab::NO_OWNER);
    }

    #[test]
    fn parse_size_accepts_bytes_and_suffixes() {
        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256k"), Ok(262_144));
        assert_eq!(parse_size("256K"), Ok(262_144));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size(" 2M "), Ok(2 << 20));
        assert!(parse_size("").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("-5").is_err());
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("12g").is_err());
        assert!(parse_size("1 M").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
        assert!(parse_size(&format!("{}M", usize::MAX / 1024)).is_err());
    }

    #[test]
    fn parse_count_accepts_whole_numbers() {
        assert_eq!(parse_count("4"), Some(4));
        assert_eq!(parse_count(" 10000 "), Some(10_000));
        assert_eq!(parse_count("4k"), None);
        assert_eq!(parse_count("-1"), None);
    }

    #[test]
    fn default_size_is_sane() {
        let n = default_size();
        if std::env::var_os(ENV_STACK_SIZE).is_none() {
            assert_eq!(n, DEFAULT_STACK_SIZE);
        }
        assert!(n > 0);
    }

    #[test]
    fn error_messages_name_the_limit_and_the_fix() {
        let e = StackError {
            kind: ErrorKind::MapCount {
                op: "mmap",
                in_use: 65_530,
                max: 65_530,
                mprotect_guards: false,
                reserve: 0,
            },
        };
        let s = e.to_string();
        assert!(s.contains("mapping budget is exhausted"), "{s}");
        assert!(s.contains("vm.max_map_count = 65530"), "{s}");
        assert!(s.contains("65530 mappings in use"), "{s}");
        assert!(s.contains("sysctl -w vm.max_map_count=262144"), "{s}");
        assert!(!s.contains("mprotect"), "{s}");

        let e = StackError {
            kind: ErrorKind::MapCount {
                op: "mprotect",
                in_use: 1_000_000,
                max: 1_000_000,
                mprotect_guards: true,
                reserve: 0,
            },
        };
        let s = e.to_string();
        assert!(s.contains("2 mappings per stack"), "{s}");
        assert!(s.contains("GOWEAVE_STACK_GUARD"), "{s}");
        assert!(s.contains("vm.max_map_count=4000000"), "{s}");

        let e = StackError {
            kind: ErrorKind::Memory {
                op: "mmap",
                bytes: 1 << 30,
                rlimit_as: Some(1 << 32),
                overcommit: Some(2),
            },
        };
        let s = e.to_string();
        assert!(s.contains("out of address space / memory"), "{s}");
        assert!(s.contains("RLIMIT_AS = 4294967296 bytes"), "{s}");
        assert!(s.contains("vm.overcommit_memory = 2"), "{s}");
        assert!(s.contains("ulimit -v"), "{s}");
        assert!(s.contains("GOWEAVE_STACK_SIZE"), "{s}");

        let s = StackError::cap(4).to_string();
        assert!(s.contains("GOWEAVE_MAX_STACKS limit of 4 stacks"), "{s}");

        let s = StackError::from_errno("mmap", libc::EPERM, 4096).to_string();
        assert!(s.contains("mmap failed") && s.contains("os error"), "{s}");

        // A real ENOMEM on this (healthy) process is diagnosed as memory, never bare.
        let s = StackError::from_errno("mmap", libc::ENOMEM, 4096).to_string();
        assert!(s.contains("out of address space / memory"), "{s}");
        assert!(s.contains("RLIMIT_AS = "), "{s}");

        let s = StackError::too_large(usize::MAX).to_string();
        assert!(s.contains("does not fit"), "{s}");
        assert!(allocate(usize::MAX).is_err());
        assert!(allocate(usize::MAX - 3 * slab::page_size()).is_err());
    }

    #[test]
    fn error_is_std_error() {
        fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
        is_error::<StackError>();
    }
}
