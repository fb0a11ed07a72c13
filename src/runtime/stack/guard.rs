//! Guard pages: the lowest page of every slot faults on any access.
//!
//! Invariants:
//! - [`install`] runs once per slot, before the slot is first handed out, on a page that nobody
//!   holds a reference into. A guard is never removed: the pool only ever advises the usable part
//!   of a slot, and `MADV_FREE`/`MADV_DONTNEED` keep `MADV_GUARD_INSTALL` markers anyway.
//! - `MADV_GUARD_INSTALL` (Linux 6.13+) adds no kernel mapping. Once it has been refused, or when
//!   `GOWEAVE_STACK_GUARD=mprotect` is set, every later guard uses `mprotect(PROT_NONE)`, which
//!   splits the slab and costs two mappings per stack; the mode is global and only ever moves
//!   from madvise to mprotect.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use super::StackError;

/// `madvise` advice that installs guard markers in page tables (Linux 6.13+). Defined here
/// because older `libc` releases lack it.
pub(super) const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Environment variable selecting the guard mechanism: `mprotect` forces the fallback;
/// `madvise` or `auto` (the default) try `MADV_GUARD_INSTALL` first.
pub(super) const ENV_GUARD: &str = "GOWEAVE_STACK_GUARD";

const MODE_UNKNOWN: u8 = 0;
const MODE_MADVISE: u8 = 1;
const MODE_MPROTECT: u8 = 2;
static MODE: AtomicU8 = AtomicU8::new(MODE_UNKNOWN);

/// Whether guard pages are (now) made with `mprotect`, at two mappings per stack.
pub(super) fn using_mprotect() -> bool {
    MODE.load(Ordering::Relaxed) == MODE_MPROTECT
}

/// Parses a `GOWEAVE_STACK_GUARD` value: `Some(true)` forces mprotect.
fn parse_mode(value: &str) -> Option<bool> {
    match value.trim() {
        "mprotect" => Some(true),
        "madvise" | "auto" | "" => Some(false),
        _ => None,
    }
}

/// Whether `GOWEAVE_STACK_GUARD=mprotect` is set (read once).
fn forced_mprotect() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        let Some(value) = std::env::var_os(ENV_GUARD) else {
            return false;
        };
        let value = value.to_string_lossy();
        parse_mode(&value).unwrap_or_else(|| {
            panic!(
                "goweave: invalid {ENV_GUARD}={value:?}: expected `mprotect`, `madvise` or `auto`"
            )
        })
    })
}

/// Makes `[addr, addr + len)` (page aligned, inside a slab) fault on access.
pub(super) fn install(addr: usize, len: usize) -> Result<(), StackError> {
    if MODE.load(Ordering::Relaxed) != MODE_MPROTECT {
        if forced_mprotect() {
            MODE.store(MODE_MPROTECT, Ordering::Relaxed);
        } else {
            match install_madvise(addr, len) {
                Ok(()) => {
                    let _ = MODE.compare_exchange(
                        MODE_UNKNOWN,
                        MODE_MADVISE,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    return Ok(());
                }
                Err(libc::ENOMEM) => {
                    return Err(StackError::from_errno(
                        "madvise(MADV_GUARD_INSTALL)",
                        libc::ENOMEM,
                        len,
                    ))
                }
                // EINVAL (kernel older than 6.13) or anything else: fall back for good.
                Err(_) => MODE.store(MODE_MPROTECT, Ordering::Relaxed),
            }
        }
    }
    install_mprotect(addr, len)
}

/// `madvise(MADV_GUARD_INSTALL)`, retried on EINTR/EAGAIN; the errno on failure.
fn install_madvise(addr: usize, len: usize) -> Result<(), i32> {
    for _ in 0..64 {
        // SAFETY: `[addr, addr + len)` is a guard page inside a slab that is never unmapped, and
        // no reference points into it (its slot has not been handed out yet).
        let rc = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_GUARD_INSTALL) };
        if rc == 0 {
            return Ok(());
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno != libc::EINTR && errno != libc::EAGAIN {
            return Err(errno);
        }
    }
    Err(libc::EAGAIN)
}

/// `mprotect(PROT_NONE)` on the guard page: the fallback, at the cost of two mappings.
fn install_mprotect(addr: usize, len: usize) -> Result<(), StackError> {
    // Never take the mappings the rest of the process needs (see `budget`).
    super::budget::before_mprotect_guard()?;
    // SAFETY: as in `install_madvise`: a page of our own slab that nothing refers to.
    let rc = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
    if rc == 0 {
        return Ok(());
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    Err(StackError::from_errno("mprotect", errno, len))
}

#[cfg(test)]
mod tests {
    use super::super::slab::page_size;
    use super::super::tests::readable;
    use super::*;

    /// A private anonymous mapping of `pages` pages, unmapped on drop.
    struct Mapping {
        addr: usize,
        len: usize,
    }

    impl Mapping {
        fn new(pages: usize) -> Mapping {
            let len = pages * page_size();
            // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            assert_ne!(addr, libc::MAP_FAILED);
            Mapping {
                addr: addr as usize,
                len,
            }
        }

        fn advise(&self, advice: libc::c_int) -> i32 {
            // SAFETY: the whole mapping belongs to this test and nothing refers into it.
            unsafe { libc::madvise(self.addr as *mut libc::c_void, self.len, advice) }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: unmaps the mapping made in `new`; nothing refers into it any more.
            unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
        }
    }

    #[test]
    fn parse_mode_values() {
        assert_eq!(parse_mode("mprotect"), Some(true));
        assert_eq!(parse_mode("madvise"), Some(false));
        assert_eq!(parse_mode("auto"), Some(false));
        assert_eq!(parse_mode("guard"), None);
    }

    #[test]
    fn mprotect_fallback_guards_the_page() {
        let m = Mapping::new(3);
        let page = page_size();
        install_mprotect(m.addr + page, page).unwrap();
        assert!(readable(m.addr));
        assert!(!readable(m.addr + page));
        assert!(readable(m.addr + 2 * page));
    }

    /// MADV_FREE and MADV_DONTNEED over a range that includes a MADV_GUARD_INSTALL guard keep
    /// the guard (Linux 6.13+). The pool never advises the guard page, but this pins it down.
    #[test]
    fn madvise_guard_survives_free_and_dontneed() {
        let m = Mapping::new(4);
        let page = page_size();
        if install_madvise(m.addr + page, page).is_err() {
            eprintln!("MADV_GUARD_INSTALL unsupported on this kernel; skipping");
            return;
        }
        // SAFETY: the mapping belongs to this test; touch the usable pages so there is something
        // to free.
        unsafe {
            *(m.addr as *mut u8) = 1;
            *((m.addr + 2 * page) as *mut u8) = 1;
        }
        assert!(!readable(m.addr + page));
        assert_eq!(m.advise(libc::MADV_FREE), 0);
        assert!(!readable(m.addr + page), "MADV_FREE removed the guard");
        assert_eq!(m.advise(libc::MADV_DONTNEED), 0);
        assert!(!readable(m.addr + page), "MADV_DONTNEED removed the guard");
        assert!(readable(m.addr) && readable(m.addr + 2 * page));
    }
}
