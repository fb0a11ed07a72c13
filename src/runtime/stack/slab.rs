//! Slabs: large anonymous mappings carved into fixed-size stack slots, one size class per usable
//! stack size, and the lock-free slab registry that the overflow handler reads.
//!
//! Invariants:
//! - A slot is `[guard page][usable bytes]`, `slot_size = page + usable`, and slot `i` of a slab
//!   starts at `start + i * slot_size`. Slots are carved in order; a slot's guard is installed
//!   before the slot is handed out, and a slot is handed out (carved) at most once.
//! - Slabs and their side arrays of per-slot metadata are never unmapped or freed, so `Slot`
//!   addresses and the `&'static SlotMeta` (owner cell, base, size) stay valid for the life of
//!   the process. A `Slot` is two words, so it moves through the pool in registers.
//! - A registry entry is set only after its slab is mapped, and is never changed afterwards;
//!   reading the registry takes only atomic loads, so it is async-signal-safe.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use corosensei::stack::{StackPointer, MIN_STACK_SIZE};

use super::{guard, StackError};

/// Owner id of a slot that no goroutine has claimed.
pub(super) const NO_OWNER: u64 = u64::MAX;
/// Slots in the first slab of a size class; each later slab doubles, up to `MAX_SLAB_SLOTS`.
const FIRST_SLAB_SLOTS: usize = 16;
const MAX_SLAB_SLOTS: usize = 4096;
/// Slabs of very large stacks get fewer slots, so one slab stays below this many bytes.
const MAX_SLAB_BYTES: usize = 2 << 30;
/// Capacity of the slab registry (16 million default-size stacks).
pub(super) const MAX_SLABS: usize = 4096;

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The system page size (cached; async-signal-safe once it has been called once).
pub(super) fn page_size() -> usize {
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(raw)
        .ok()
        .filter(|p| p.is_power_of_two())
        .unwrap_or(4096);
    PAGE_SIZE.store(page, Ordering::Relaxed);
    page
}

/// The usable size of the size class serving a request of `size` bytes: at least
/// `MIN_STACK_SIZE`, rounded up to whole pages. `None` if that overflows the address space.
pub(super) fn usable_size(size: usize) -> Option<usize> {
    let page = page_size();
    let rounded = size.max(MIN_STACK_SIZE).checked_add(page - 1)? & !(page - 1);
    // Leave room for the guard page and for at least one slot-sized mapping.
    if rounded > isize::MAX as usize / 2 {
        return None;
    }
    Some(rounded)
}

/// A handle to one carved slot. Not `Clone`: exactly one `GoStack` or pool holds it.
pub(super) struct Slot {
    limit: NonZeroUsize,
    meta: &'static SlotMeta,
}

/// Per-slot data kept in a side array next to each slab.
pub(super) struct SlotMeta {
    /// Goroutine running on the slot, or `NO_OWNER`; read by the overflow handler.
    owner: AtomicU64,
    base: NonZeroUsize,
    size: usize,
}

impl Slot {
    /// Lowest address of the slot: the guard page.
    #[inline]
    pub(super) fn limit(&self) -> StackPointer {
        self.limit
    }

    /// One past the highest address of the slot: where the stack starts.
    #[inline]
    pub(super) fn base(&self) -> StackPointer {
        self.meta.base
    }

    /// Usable bytes, `[base - size, base)`.
    #[inline]
    pub(super) fn size(&self) -> usize {
        self.meta.size
    }

    /// The slot's owner cell, read by the overflow handler.
    #[inline]
    pub(super) fn owner(&self) -> &'static AtomicU64 {
        &self.meta.owner
    }

    /// A second handle to this slot, for `GoStack::drop` only: the `GoStack` that holds the first
    /// handle is being destroyed, so the slot still has exactly one holder afterwards.
    #[inline]
    pub(super) fn handle_for_release(&self) -> Slot {
        Slot {
            limit: self.limit,
            meta: self.meta,
        }
    }
}

/// A set of size classes carving slots from slabs. The process uses [`GLOBAL`]; tests may make
/// their own (their slabs are registered and leaked like any other).
pub(super) struct Slabs {
    state: Mutex<State>,
}

struct State {
    classes: Vec<Class>,
    /// Slots carved so far, across all classes (what `GOWEAVE_MAX_STACKS` caps).
    carved: usize,
}

struct Class {
    usable: usize,
    next_slab_slots: usize,
    current: Option<CurrentSlab>,
}

struct CurrentSlab {
    start: usize,
    slots: usize,
    next: usize,
    meta: &'static [SlotMeta],
}

/// The process's slabs.
pub(super) static GLOBAL: Slabs = Slabs::new();

impl Slabs {
    /// An empty set of size classes.
    pub(super) const fn new() -> Self {
        Slabs {
            state: Mutex::new(State {
                classes: Vec::new(),
                carved: 0,
            }),
        }
    }

    /// Carves a fresh slot of `usable` bytes (a value from [`usable_size`]), mapping a new slab
    /// when the class has none with room. Fails once `cap` slots have been carved.
    pub(super) fn carve(&self, usable: usize, cap: Option<usize>) -> Result<Slot, StackError> {
        let page = page_size();
        let slot_size = usable
            .checked_add(page)
            .ok_or_else(|| StackError::too_large(usable))?;
        // Nothing is left inconsistent while the lock is held, so a poisoned lock is usable.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cap) = cap {
            if state.carved >= cap {
                return Err(StackError::cap(cap));
            }
        }
        let state = &mut *state;
        let idx = match state.classes.iter().position(|c| c.usable == usable) {
            Some(i) => i,
            None => {
                state.classes.push(Class {
                    usable,
                    next_slab_slots: FIRST_SLAB_SLOTS.min(max_slots(slot_size)),
                    current: None,
                });
                state.classes.len() - 1
            }
        };
        let class = &mut state.classes[idx];
        let cur = match &mut class.current {
            Some(cur) if cur.next < cur.slots => cur,
            current => {
                let slab = map_slab(slot_size, page, class.next_slab_slots)?;
                class.next_slab_slots = slab
                    .slots
                    .saturating_mul(2)
                    .min(max_slots(slot_size))
                    .max(1);
                current.insert(slab)
            }
        };
        let limit = cur.start + cur.next * slot_size;
        guard::install(limit, page)?;
        let meta = &cur.meta[cur.next];
        cur.next += 1;
        state.carved += 1;
        Ok(Slot {
            limit: NonZeroUsize::new(limit).expect("slabs never start at address 0"),
            meta,
        })
    }

    /// Slots carved so far.
    #[cfg(test)]
    pub(super) fn carved(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).carved
    }
}

/// Most slots a slab of `slot_size` slots may have.
fn max_slots(slot_size: usize) -> usize {
    (MAX_SLAB_BYTES / slot_size).clamp(1, MAX_SLAB_SLOTS)
}

/// Maps and registers a slab of up to `want` slots; on ENOMEM retries with half as many slots,
/// down to one, so that a tight address-space limit still gets stacks.
fn map_slab(slot_size: usize, page: usize, want: usize) -> Result<CurrentSlab, StackError> {
    if REGISTERED.load(Ordering::Relaxed) >= MAX_SLABS {
        return Err(StackError::too_many_slabs(MAX_SLABS));
    }
    let mut slots = want.max(1);
    let (start, len) = loop {
        let len = slots
            .checked_mul(slot_size)
            .ok_or_else(|| StackError::too_large(slot_size - page))?;
        // MAP_STACK also turns off transparent huge pages on Linux 6.7+.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing; it does not
        // touch any existing memory.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if addr != libc::MAP_FAILED && !addr.is_null() {
            break (addr as usize, len);
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno == libc::ENOMEM && slots > 1 {
            slots /= 2;
            continue;
        }
        return Err(StackError::from_errno("mmap", errno, len));
    };
    let index = REGISTERED.fetch_add(1, Ordering::AcqRel);
    if index >= MAX_SLABS {
        // SAFETY: the mapping made above; nothing refers to it yet.
        unsafe { libc::munmap(start as *mut libc::c_void, len) };
        return Err(StackError::too_many_slabs(MAX_SLABS));
    }
    // Huge pages would back many small stacks with 2 MiB each; the result is only advice.
    // SAFETY: `[start, start + len)` is the mapping made above, not yet shared with anyone.
    unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) };
    let meta: &'static [SlotMeta] = Box::leak(
        (1..=slots)
            .map(|i| SlotMeta {
                owner: AtomicU64::new(NO_OWNER),
                base: NonZeroUsize::new(start + i * slot_size).expect("slot end is not 0"),
                size: slot_size - page,
            })
            .collect::<Box<[SlotMeta]>>(),
    );
    let info = SlabInfo {
        start,
        end: start + len,
        slot_size,
        guard: page,
        meta,
    };
    // Each index is handed out once by `fetch_add`, so the entry is still empty.
    let _ = REGISTRY[index].set(info);
    Ok(CurrentSlab {
        start,
        slots,
        next: 0,
        meta,
    })
}

/// What the overflow handler needs to know about one slab.
struct SlabInfo {
    start: usize,
    end: usize,
    slot_size: usize,
    guard: usize,
    meta: &'static [SlotMeta],
}

/// Registry of every slab ever mapped. Entries below `REGISTERED` may still be unset (a slab
/// being mapped, or a failed one); readers skip those.
static REGISTRY: [OnceLock<SlabInfo>; MAX_SLABS] = [const { OnceLock::new() }; MAX_SLABS];
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// A fault address inside a slot's guard page: who owned the slot and its usable size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GuardHit {
    pub(super) owner: u64,
    pub(super) size: usize,
}

/// Whether `addr` lies in the guard page of a slot. Async-signal-safe: atomic loads and
/// arithmetic only, no locks, no allocation.
pub(super) fn guard_hit(addr: usize) -> Option<GuardHit> {
    let registered = REGISTERED.load(Ordering::Acquire).min(MAX_SLABS);
    for entry in &REGISTRY[..registered] {
        let Some(slab) = entry.get() else { continue };
        if addr < slab.start || addr >= slab.end {
            continue;
        }
        let offset = addr - slab.start;
        if offset % slab.slot_size >= slab.guard {
            return None;
        }
        let slot = slab.meta.get(offset / slab.slot_size)?;
        return Some(GuardHit {
            owner: slot.owner.load(Ordering::Relaxed),
            size: slab.slot_size - slab.guard,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of /proc/self/maps that overlap `[start, end)`.
    fn mappings_in(start: usize, end: usize) -> usize {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .filter(|line| {
                let range = line.split_whitespace().next().unwrap();
                let (a, b) = range.split_once('-').unwrap();
                let a = usize::from_str_radix(a, 16).unwrap();
                let b = usize::from_str_radix(b, 16).unwrap();
                a < end && b > start
            })
            .count()
    }

    #[test]
    fn usable_size_rounds_to_pages() {
        let page = page_size();
        assert_eq!(usable_size(0), Some(MIN_STACK_SIZE.max(page)));
        assert_eq!(usable_size(page + 1), Some(2 * page));
        assert_eq!(usable_size(8 * page), Some(8 * page));
        assert_eq!(usable_size(usize::MAX), None);
    }

    #[test]
    fn cap_stops_carving() {
        let slabs = Slabs::new();
        let usable = usable_size(16 * 1024).unwrap();
        let err = slabs.carve(usable, Some(0)).err().expect("cap 0 refuses");
        assert!(err.to_string().contains("GOWEAVE_MAX_STACKS limit of 0"));
        let held: Vec<Slot> = (0..3)
            .map(|_| slabs.carve(usable, Some(3)).unwrap())
            .collect();
        let err = slabs
            .carve(usable, Some(3))
            .err()
            .expect("fourth slot refused");
        assert!(
            err.to_string()
                .contains("GOWEAVE_MAX_STACKS limit of 3 stacks"),
            "{err}"
        );
        assert_eq!(slabs.carved(), 3);
        assert_eq!(held.len(), 3);
    }

    #[test]
    fn slabs_grow_geometrically_and_slots_are_contiguous() {
        let slabs = Slabs::new();
        let page = page_size();
        let usable = 3 * page;
        let slots: Vec<Slot> = (0..FIRST_SLAB_SLOTS * 3)
            .map(|_| slabs.carve(usable, None).unwrap())
            .collect();
        // The first slab holds FIRST_SLAB_SLOTS contiguous slots, the second twice as many.
        for w in slots[..FIRST_SLAB_SLOTS].windows(2) {
            assert_eq!(w[1].limit().get() - w[0].limit().get(), usable + page);
        }
        for w in slots[FIRST_SLAB_SLOTS..].windows(2) {
            assert_eq!(w[1].limit().get() - w[0].limit().get(), usable + page);
        }
        for s in &slots {
            assert_eq!(s.base().get() - s.limit().get(), usable + page);
            assert_eq!(s.owner().load(Ordering::Relaxed), NO_OWNER);
        }
    }

    #[test]
    fn guards_add_no_mappings_with_madvise() {
        let slabs = Slabs::new();
        let usable = 5 * page_size();
        let slots: Vec<Slot> = (0..FIRST_SLAB_SLOTS)
            .map(|_| slabs.carve(usable, None).unwrap())
            .collect();
        let start = slots[0].limit().get();
        let end = slots[FIRST_SLAB_SLOTS - 1].base().get();
        let expected = if guard::using_mprotect() {
            2 * FIRST_SLAB_SLOTS // each guard splits the slab: [guard][usable] per slot
        } else {
            1 // MADV_GUARD_INSTALL: one VMA for the whole slab
        };
        assert_eq!(mappings_in(start, end), expected);
        for s in &slots {
            assert!(!crate::runtime::stack::tests::readable(s.limit().get()));
        }
    }

    #[test]
    fn guard_hit_finds_only_guard_pages() {
        let slabs = Slabs::new();
        let page = page_size();
        let usable = 7 * page;
        let a = slabs.carve(usable, None).unwrap();
        let b = slabs.carve(usable, None).unwrap();
        b.owner().store(99, Ordering::Relaxed);
        let hit = guard_hit(b.limit().get()).unwrap();
        assert_eq!(
            hit,
            GuardHit {
                owner: 99,
                size: usable
            }
        );
        assert_eq!(guard_hit(b.limit().get() + page - 1).unwrap().owner, 99);
        assert_eq!(guard_hit(b.limit().get() + page), None);
        assert_eq!(guard_hit(a.base().get() - 1), None);
        assert_eq!(guard_hit(a.limit().get()).unwrap().owner, NO_OWNER);
        assert_eq!(guard_hit(0), None);
        assert_eq!(guard_hit(&page as *const usize as usize), None);
    }
}
