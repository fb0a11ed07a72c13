//! Happens-before data-race detection with vector clocks, in the FastTrack style (Flanagan &
//! Freund, PLDI 2009).
//!
//! Invariants:
//! - Every goroutine `g` has a vector clock `C[g]`; its own entry is never 0, so an epoch
//!   `(g, C[g][g])` names one of its "moments" uniquely.
//! - Every synchronisation key `k` (a mutex, a channel slot, a goroutine's exit, ...) has a clock
//!   `L[k]`: a release stores into it, an acquire joins it into the acquirer's clock, and a
//!   release ticks the releaser's own entry, so later accesses are not ordered by that release.
//! - Every watched cell keeps the epoch of its last write and either one read epoch (reads are
//!   totally ordered so far) or, only while reads are concurrent, one epoch per reader.
//! - An access races with an earlier one when the earlier one's epoch is not covered by the
//!   accessor's clock: `epoch.clock > C[accessor][epoch.goroutine]`.
//!
//! Goroutine 0 stands for code that runs outside any goroutine (timer callbacks).

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;

/// A vector clock, dense by goroutine id; entries past the end are 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VectorClock(Vec<u32>);

impl VectorClock {
    pub(crate) fn get(&self, g: u64) -> u32 {
        self.0.get(g as usize).copied().unwrap_or(0)
    }

    fn set(&mut self, g: u64, v: u32) {
        let i = g as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = v;
    }

    fn tick(&mut self, g: u64) {
        let v = self.get(g) + 1;
        self.set(g, v);
    }

    /// `self = self ⊔ other`.
    fn join(&mut self, other: &VectorClock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = (*a).max(*b);
        }
    }
}

/// What a synchronisation edge hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SyncKey {
    /// A primitive (mutex, wait group, once, cond, context, atomic...), by object id.
    Object(u64),
    /// A sub-part of a primitive: a channel's buffer slot, a lock's reader side...
    Part(u64, u64),
    /// The end of a goroutine, acquired by `join`.
    Exit(u64),
    /// The single total order of SeqCst atomics.
    SeqCst,
}

/// One access, as remembered for later reports.
#[derive(Clone, Copy, Debug)]
struct Access {
    goroutine: u64,
    clock: u32,
    site: &'static Location<'static>,
}

#[derive(Clone, Debug, Default)]
enum Reads {
    #[default]
    None,
    /// The last read; every earlier read happened before it.
    One(Access),
    /// Concurrent reads: the latest read of each goroutine.
    Many(Vec<Access>),
}

#[derive(Clone, Debug, Default)]
struct Cell {
    write: Option<Access>,
    reads: Reads,
}

/// A detected race: the access that noticed it and the earlier access it conflicts with.
#[derive(Clone, Debug)]
pub struct RaceReport {
    /// The cell's name (or `cell #id`).
    pub cell: String,
    /// True if the later access is a write.
    pub write: bool,
    /// The goroutine doing the later access.
    pub goroutine: u64,
    /// Where the later access happens.
    pub site: &'static Location<'static>,
    /// True if the earlier access was a write.
    pub previous_write: bool,
    /// The goroutine that did the earlier access.
    pub previous_goroutine: u64,
    /// Where the earlier access happened.
    pub previous_site: &'static Location<'static>,
    /// Where each of the two goroutines was created, and whether it had finished.
    pub creation: [(Option<&'static Location<'static>>, bool); 2],
}

impl fmt::Display for RaceReport {
    /// Go's shape: `WARNING: DATA RACE`, both accesses, both creation sites.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = |w: bool| if w { "Write" } else { "Read" };
        writeln!(f, "WARNING: DATA RACE")?;
        writeln!(
            f,
            "{} at {} by goroutine {}:\n  {}",
            kind(self.write),
            self.cell,
            self.goroutine,
            self.site
        )?;
        writeln!(
            f,
            "\nPrevious {} at {} by goroutine {}:\n  {}",
            kind(self.previous_write).to_lowercase(),
            self.cell,
            self.previous_goroutine,
            self.previous_site
        )?;
        for (i, g) in [self.goroutine, self.previous_goroutine].iter().enumerate() {
            let (site, finished) = self.creation[i];
            let state = if i == 0 {
                "running"
            } else if finished {
                "finished"
            } else {
                "running"
            };
            match site {
                Some(s) => writeln!(f, "\nGoroutine {g} ({state}) created at:\n  {s}")?,
                None => writeln!(f, "\nGoroutine {g} ({state}): the runtime (timers)")?,
            }
        }
        Ok(())
    }
}

/// The detector of one executor run.
#[derive(Default)]
pub(crate) struct Detector {
    /// `C[g]`, by goroutine id.
    clocks: Vec<VectorClock>,
    /// `L[k]`.
    sync: HashMap<SyncKey, VectorClock>,
    /// Watched cells, by object id.
    cells: HashMap<u64, Cell>,
    /// Names of watched cells.
    names: HashMap<u64, String>,
    /// Spawn site and "finished" flag, by goroutine id.
    goroutines: Vec<(Option<&'static Location<'static>>, bool)>,
}

impl Detector {
    fn clock_mut(&mut self, g: u64) -> &mut VectorClock {
        let i = g as usize;
        if self.clocks.len() <= i {
            self.clocks.resize(i + 1, VectorClock::default());
        }
        let c = &mut self.clocks[i];
        if c.get(g) == 0 {
            c.set(g, 1);
        }
        c
    }

    fn clock(&mut self, g: u64) -> &VectorClock {
        self.clock_mut(g)
    }

    /// `parent` spawned `child` at `site`: everything the parent did so far happens before the
    /// child's first step.
    pub(crate) fn spawn(&mut self, parent: u64, child: u64, site: &'static Location<'static>) {
        let mut c = self.clock(parent).clone();
        self.clock_mut(parent).tick(parent);
        c.set(child, 1);
        let i = child as usize;
        if self.clocks.len() <= i {
            self.clocks.resize(i + 1, VectorClock::default());
        }
        self.clocks[i] = c;
        if self.goroutines.len() <= i {
            self.goroutines.resize(i + 1, (None, false));
        }
        self.goroutines[i] = (Some(site), false);
    }

    /// `g` finished: its last step happens before a `join` of it.
    pub(crate) fn exit(&mut self, g: u64) {
        self.release(g, SyncKey::Exit(g));
        if let Some(e) = self.goroutines.get_mut(g as usize) {
            e.1 = true;
        }
    }

    pub(crate) fn acquire(&mut self, g: u64, key: SyncKey) {
        if let Some(l) = self.sync.get(&key) {
            let l = l.clone();
            self.clock_mut(g).join(&l);
        }
    }

    /// `L[k] = C[g]`, then tick.
    pub(crate) fn release(&mut self, g: u64, key: SyncKey) {
        let c = self.clock(g).clone();
        self.sync.insert(key, c);
        self.clock_mut(g).tick(g);
    }

    /// `L[k] ⊔= C[g]`, then tick (many releasers, one acquirer: wait groups, reader unlocks).
    pub(crate) fn release_merge(&mut self, g: u64, key: SyncKey) {
        let c = self.clock(g).clone();
        self.sync.entry(key).or_default().join(&c);
        self.clock_mut(g).tick(g);
    }

    /// Acquire then release on the same key (Go's `racereleaseacquire`: channel buffer slots).
    pub(crate) fn release_acquire(&mut self, g: u64, key: SyncKey) {
        self.acquire(g, key);
        self.release(g, key);
    }

    fn name_cell(&mut self, cell: u64, name: Option<&str>) {
        if let Some(n) = name {
            self.names.entry(cell).or_insert_with(|| n.to_string());
        }
    }

    fn report(
        &self,
        cell: u64,
        write: bool,
        now: Access,
        previous_write: bool,
        prev: Access,
    ) -> RaceReport {
        let creation = |g: u64| {
            self.goroutines
                .get(g as usize)
                .copied()
                .unwrap_or((None, false))
        };
        RaceReport {
            cell: self
                .names
                .get(&cell)
                .cloned()
                .unwrap_or_else(|| format!("cell #{cell}")),
            write,
            goroutine: now.goroutine,
            site: now.site,
            previous_write,
            previous_goroutine: prev.goroutine,
            previous_site: prev.site,
            creation: [creation(now.goroutine), creation(prev.goroutine)],
        }
    }

    /// `g` reads `cell` at `site`.
    pub(crate) fn read(
        &mut self,
        g: u64,
        cell: u64,
        name: Option<&str>,
        site: &'static Location<'static>,
    ) -> Result<(), RaceReport> {
        self.name_cell(cell, name);
        let c = self.clock(g).clone();
        let now = Access {
            goroutine: g,
            clock: c.get(g),
            site,
        };
        let entry = self.cells.entry(cell).or_default();
        if let Some(w) = entry.write {
            if w.goroutine != g && w.clock > c.get(w.goroutine) {
                let r = self.report(cell, false, now, true, w);
                return Err(r);
            }
        }
        let entry = self.cells.get_mut(&cell).expect("inserted above");
        entry.reads = match std::mem::take(&mut entry.reads) {
            Reads::None => Reads::One(now),
            Reads::One(r) if r.goroutine == g || r.clock <= c.get(r.goroutine) => Reads::One(now),
            Reads::One(r) => Reads::Many(vec![r, now]),
            Reads::Many(mut v) => {
                v.retain(|r| r.goroutine != g && r.clock > c.get(r.goroutine));
                if v.is_empty() {
                    Reads::One(now)
                } else {
                    v.push(now);
                    Reads::Many(v)
                }
            }
        };
        Ok(())
    }

    /// `g` writes `cell` at `site`.
    pub(crate) fn write(
        &mut self,
        g: u64,
        cell: u64,
        name: Option<&str>,
        site: &'static Location<'static>,
    ) -> Result<(), RaceReport> {
        self.name_cell(cell, name);
        let c = self.clock(g).clone();
        let now = Access {
            goroutine: g,
            clock: c.get(g),
            site,
        };
        let entry = self.cells.entry(cell).or_default();
        let unordered = |a: &Access| a.goroutine != g && a.clock > c.get(a.goroutine);
        let conflict = match (&entry.write, &entry.reads) {
            (Some(w), _) if unordered(w) => Some((true, *w)),
            (_, Reads::One(r)) if unordered(r) => Some((false, *r)),
            (_, Reads::Many(v)) => v.iter().find(|r| unordered(r)).map(|r| (false, *r)),
            _ => None,
        };
        if let Some((pw, prev)) = conflict {
            return Err(self.report(cell, true, now, pw, prev));
        }
        let entry = self.cells.get_mut(&cell).expect("inserted above");
        entry.write = Some(now);
        entry.reads = Reads::None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn unsynchronised_write_then_read_races() {
        let mut d = Detector::default();
        d.spawn(1, 2, here());
        d.write(2, 10, None, here()).unwrap();
        let r = d.read(1, 10, None, here()).unwrap_err();
        assert_eq!((r.goroutine, r.previous_goroutine), (1, 2));
        assert!(r.previous_write && !r.write);
    }

    #[test]
    fn release_acquire_orders_accesses() {
        let mut d = Detector::default();
        d.spawn(1, 2, here());
        d.write(2, 10, None, here()).unwrap();
        d.release(2, SyncKey::Object(5));
        d.acquire(1, SyncKey::Object(5));
        d.read(1, 10, None, here()).unwrap();
        d.write(1, 10, None, here()).unwrap();
    }

    #[test]
    fn spawn_and_join_order_accesses() {
        let mut d = Detector::default();
        d.write(1, 10, None, here()).unwrap();
        d.spawn(1, 2, here());
        d.write(2, 10, None, here()).unwrap();
        d.exit(2);
        d.acquire(1, SyncKey::Exit(2));
        d.read(1, 10, None, here()).unwrap();
    }

    #[test]
    fn concurrent_reads_are_fine_but_a_later_unordered_write_races_with_them() {
        let mut d = Detector::default();
        d.write(1, 10, None, here()).unwrap();
        d.spawn(1, 2, here());
        d.spawn(1, 3, here());
        d.read(2, 10, None, here()).unwrap();
        d.read(3, 10, None, here()).unwrap();
        // Goroutine 3's read is ordered before the write, goroutine 2's is not.
        d.release(3, SyncKey::Object(1));
        d.acquire(1, SyncKey::Object(1));
        let r = d.write(1, 10, None, here()).unwrap_err();
        assert_eq!(r.previous_goroutine, 2);
        assert!(!r.previous_write);
    }

    #[test]
    fn a_release_does_not_order_what_comes_after_it() {
        let mut d = Detector::default();
        d.spawn(1, 2, here());
        d.release(2, SyncKey::Object(5));
        d.write(2, 10, None, here()).unwrap();
        d.acquire(1, SyncKey::Object(5));
        assert!(d.read(1, 10, None, here()).is_err());
    }

    #[test]
    fn report_has_go_shape() {
        let mut d = Detector::default();
        d.spawn(1, 2, here());
        d.read(2, 10, Some("balance"), here()).unwrap();
        d.exit(2);
        let text = d.write(1, 10, None, here()).unwrap_err().to_string();
        assert!(text.starts_with("WARNING: DATA RACE\nWrite at balance by goroutine 1:\n  "));
        assert!(text.contains("Previous read at balance by goroutine 2:"));
        assert!(text.contains("Goroutine 2 (finished) created at:"));
    }
}
