//! The SIGSEGV/SIGBUS handler that reports goroutine stack overflows, and per-thread signal
//! stacks for it to run on.
//!
//! Invariants:
//! - The handler is installed once per process, after the previous handlers are saved; it is
//!   never uninstalled except to hand a fault that is not ours back to the previous handler.
//! - The handler is async-signal-safe: atomic loads, arithmetic on a stack buffer, `write(2)`,
//!   `sigaction(2)` and `abort(3)` only; no locks, no allocation, no formatting machinery.
//! - A guard-page hit always ends the process (message on fd 2, then abort); any other fault
//!   goes to the handler that was installed before ours (Rust's std installs one for the main
//!   thread's stack overflow), or to the default action.
//! - A signal stack installed here belongs to its thread and is disabled and unmapped when the
//!   thread exits, unless something else replaced it meanwhile.

use std::cell::RefCell;
use std::sync::{Once, OnceLock};

use super::slab::{self, GuardHit, NO_OWNER};

/// Handlers that were installed before ours, saved at install time.
static PREV_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREV_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the fault handler, once per process.
pub(super) fn install_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // The handler relies on the cached page size.
        slab::page_size();
        install_for(libc::SIGSEGV, &PREV_SEGV);
        install_for(libc::SIGBUS, &PREV_BUS);
    });
}

fn install_for(sig: libc::c_int, prev: &OnceLock<libc::sigaction>) {
    // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a valid value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: only reads the current disposition into `old`.
    unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    // Saved before ours goes in, so the handler always finds it.
    let _ = prev.set(old);

    // SAFETY: as above, all-zero is a valid `sigaction`.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler_address();
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `new.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: installs an async-signal-safe handler with the signature SA_SIGINFO requires.
    let rc = unsafe { libc::sigaction(sig, &new, std::ptr::null_mut()) };
    debug_assert_eq!(rc, 0, "sigaction failed");
}

/// Installs the handler and makes sure the calling thread has a signal stack.
pub(super) fn prepare_thread() {
    // Checked once per thread: the checker prepares its thread for every schedule, and the
    // check is a system call (a thread's signal stack is only replaced by code that owns it).
    if PREPARED.with(|p| p.get()) {
        return;
    }
    install_handler();
    ALT_STACK.with(|alt| {
        let Ok(mut alt) = alt.try_borrow_mut() else {
            return;
        };
        if alt.is_some() || has_alt_stack() {
            PREPARED.with(|p| p.set(true));
            return;
        }
        match AltStack::new() {
            Ok(stack) => {
                *alt = Some(stack);
                PREPARED.with(|p| p.set(true));
            }
            Err(e) => eprintln!(
                "goweave: cannot give this thread a signal stack ({e}); a goroutine stack \
                 overflow on it will end the process with a bare SIGSEGV"
            ),
        }
    });
}

/// Whether the calling thread has an enabled signal stack.
fn has_alt_stack() -> bool {
    // SAFETY: `stack_t` is a plain C struct for which all-zero bytes are a valid value.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: only reads the current signal stack into `current`.
    let rc = unsafe { libc::sigaltstack(std::ptr::null(), &mut current) };
    rc == 0 && current.ss_flags & libc::SS_DISABLE == 0
}

thread_local! {
    static PREPARED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// A signal stack mapped by us: `[guard page][size bytes]`.
struct AltStack {
    map: usize,
    map_len: usize,
    sp: usize,
}

impl AltStack {
    fn new() -> std::io::Result<AltStack> {
        let page = slab::page_size();
        // SAFETY: getauxval has no preconditions; it returns 0 for unknown entries.
        let min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
        let size = (64 * 1024).max(libc::SIGSTKSZ).max(min * 4);
        let size = (size + page - 1) & !(page - 1);
        let map_len = size + page;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let map = map as usize;
        let stack = AltStack {
            map,
            map_len,
            sp: map + page,
        };
        // A guard page so that a runaway handler faults instead of corrupting memory.
        // SAFETY: the lowest page of the mapping made above; nothing refers into it.
        if unsafe { libc::mprotect(map as *mut libc::c_void, page, libc::PROT_NONE) } != 0 {
            return Err(std::io::Error::last_os_error()); // `stack` unmaps on drop
        }
        let ss = libc::stack_t {
            ss_sp: stack.sp as *mut libc::c_void,
            ss_flags: 0,
            ss_size: size,
        };
        // SAFETY: `ss` describes memory that stays mapped until this thread's `AltStack` drops,
        // which disables the signal stack first.
        if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stack)
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: `stack_t` is a plain C struct for which all-zero bytes are a valid value.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: only reads the current signal stack into `current`.
        let rc = unsafe { libc::sigaltstack(std::ptr::null(), &mut current) };
        if rc == 0 && current.ss_flags & libc::SS_DISABLE == 0 && current.ss_sp as usize == self.sp
        {
            let off = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disables this thread's signal stack, which is ours, before unmapping it.
            unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
        }
        // SAFETY: our own mapping, no longer the signal stack of this thread (or any other:
        // a signal stack is per thread).
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.map_len) };
    }
}

/// The signature of an SA_SIGINFO signal handler.
type SigInfoHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// `on_fault` as a `sa_sigaction` value.
fn handler_address() -> libc::sighandler_t {
    let f: SigInfoHandler = on_fault;
    f as libc::sighandler_t
}

/// The SIGSEGV/SIGBUS handler.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if !info.is_null() {
        // SAFETY: for an SA_SIGINFO handler the kernel passes a valid `siginfo_t`.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // si_code > 0: raised by the kernel for a fault, so si_addr is the faulting address.
        if code > 0 {
            if let Some(hit) = slab::guard_hit(addr) {
                report(hit);
                std::process::abort();
            }
        }
    }
    chain(sig, info, ctx);
}

/// Hands a fault that is not a guard-page hit to the handler that was there before ours.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = match sig {
        libc::SIGSEGV => PREV_SEGV.get(),
        libc::SIGBUS => PREV_BUS.get(),
        _ => None,
    };
    let handler = prev.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction runs again and the
        // fault now takes the default action (a fault cannot be ignored).
        // SAFETY: all-zero is a valid `sigaction`, i.e. SIG_DFL with an empty mask.
        let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
        dfl.sa_sigaction = libc::SIG_DFL;
        // SAFETY: sigaction is async-signal-safe; `dfl` is a valid disposition.
        unsafe { libc::sigaction(sig, &dfl, std::ptr::null_mut()) };
        return;
    }
    let siginfo = prev.is_some_and(|p| p.sa_flags & libc::SA_SIGINFO != 0);
    if siginfo {
        // SAFETY: the previous disposition was installed with SA_SIGINFO, so `handler` is a
        // function of this signature; we pass it the arguments the kernel gave us.
        let f: SigInfoHandler = unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO the previous handler is a `void (*)(int)`.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

/// Writes `goroutine N overflowed its stack (size S bytes)` to fd 2.
fn report(hit: GuardHit) {
    let mut buf = [0u8; 128];
    let len = format_report(hit, &mut buf);
    write_all(2, &buf[..len]);
}

/// Formats the overflow message into `buf` without allocating; returns its length.
fn format_report(hit: GuardHit, buf: &mut [u8; 128]) -> usize {
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    let mut digits = [0u8; 20];
    push(b"goroutine ");
    if hit.owner == NO_OWNER {
        push(b"(unknown)");
    } else {
        push(format_u64(hit.owner, &mut digits));
    }
    push(b" overflowed its stack (size ");
    push(format_u64(hit.size as u64, &mut digits));
    push(b" bytes)\n");
    len
}

/// Decimal digits of `n` in `buf`, without allocating.
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// `write(2)` all of `bytes`, retrying on EINTR and short writes; gives up on other errors.
fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid, initialised buffer of the given length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_exact() {
        let mut buf = [0u8; 128];
        let hit = GuardHit {
            owner: 7,
            size: 262_144,
        };
        let len = format_report(hit, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..len]).unwrap(),
            "goroutine 7 overflowed its stack (size 262144 bytes)\n"
        );
        let hit = GuardHit {
            owner: NO_OWNER,
            size: 4096,
        };
        let len = format_report(hit, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..len]).unwrap(),
            "goroutine (unknown) overflowed its stack (size 4096 bytes)\n"
        );
        let hit = GuardHit {
            owner: u64::MAX - 1,
            size: usize::MAX,
        };
        let len = format_report(hit, &mut buf);
        assert!(std::str::from_utf8(&buf[..len])
            .unwrap()
            .contains("18446744073709551614"));
    }

    #[test]
    fn integers_format_by_hand() {
        let mut d = [0u8; 20];
        assert_eq!(format_u64(0, &mut d), b"0");
        assert_eq!(format_u64(7, &mut d), b"7");
        assert_eq!(format_u64(1_000_000, &mut d), b"1000000");
        assert_eq!(format_u64(u64::MAX, &mut d), b"18446744073709551615");
    }

    #[test]
    fn install_is_idempotent_and_keeps_the_previous_handler() {
        install_handler();
        install_handler();
        // SAFETY: all-zero is a valid `sigaction`.
        let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: only reads the current disposition.
        unsafe { libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut cur) };
        assert_eq!(cur.sa_sigaction, handler_address());
        assert_ne!(cur.sa_flags & libc::SA_ONSTACK, 0);
        assert!(PREV_SEGV.get().is_some() && PREV_BUS.get().is_some());
        assert_ne!(PREV_SEGV.get().unwrap().sa_sigaction, handler_address());
    }

    #[test]
    fn prepare_thread_installs_a_signal_stack_when_missing() {
        std::thread::spawn(|| {
            // Drop whatever signal stack std gave this thread.
            let off = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling this thread's signal stack; std unmaps its own at thread exit.
            unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
            assert!(!has_alt_stack());
            prepare_thread();
            assert!(has_alt_stack());
            let ours = ALT_STACK.with(|a| a.borrow().as_ref().map(|s| s.sp));
            // SAFETY: all-zero is a valid `stack_t`.
            let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
            // SAFETY: only reads the current signal stack.
            unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
            assert_eq!(Some(cur.ss_sp as usize), ours);
            assert!(cur.ss_size >= 64 * 1024);
            prepare_thread(); // idempotent
            assert_eq!(ALT_STACK.with(|a| a.borrow().as_ref().map(|s| s.sp)), ours);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn prepare_thread_keeps_an_existing_signal_stack() {
        std::thread::spawn(|| {
            let had = has_alt_stack();
            prepare_thread();
            assert!(has_alt_stack());
            if had {
                assert!(ALT_STACK.with(|a| a.borrow().is_none()));
            }
        })
        .join()
        .unwrap();
    }
}
