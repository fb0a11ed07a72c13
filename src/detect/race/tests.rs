//! The detector's unit tests (also run under Miri by `.ci/run`).
use super::*;

fn here() -> &'static Location<'static> {
    Location::caller()
}

/// A detector past its solo phase: goroutine 1 runs main, as on the executors.
fn detector() -> Detector {
    let mut d = Detector::default();
    d.spawn(0, 1, Some(here()));
    d
}

#[test]
fn unsynchronised_write_then_read_races() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.write(2, 10, None, here()).unwrap();
    let r = d.read(1, 10, None, here()).unwrap_err();
    assert_eq!((r.goroutine, r.previous_goroutine), (1, 2));
    assert!(r.previous_write && !r.write);
}

#[test]
fn release_acquire_orders_accesses() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.write(2, 10, None, here()).unwrap();
    d.release(2, SyncKey::Object(5));
    d.acquire(1, SyncKey::Object(5));
    d.read(1, 10, None, here()).unwrap();
    d.write(1, 10, None, here()).unwrap();
}

#[test]
fn spawn_and_join_order_accesses() {
    let mut d = detector();
    d.write(1, 10, None, here()).unwrap();
    d.spawn(1, 2, Some(here()));
    d.write(2, 10, None, here()).unwrap();
    d.exit(2);
    d.acquire(1, SyncKey::Exit(2));
    d.read(1, 10, None, here()).unwrap();
}

#[test]
fn a_child_spawned_by_a_later_goroutine_inherits_its_clock() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.spawn(1, 3, Some(here()));
    d.write(3, 10, None, here()).unwrap();
    // Goroutine 3 spawns goroutine 4 (a higher id from a lower slot and back).
    d.spawn(3, 4, Some(here()));
    d.read(4, 10, None, here()).unwrap();
    assert!(d.read(2, 10, None, here()).is_err());
}

#[test]
fn concurrent_reads_are_fine_but_a_later_unordered_write_races_with_them() {
    let mut d = detector();
    d.write(1, 10, None, here()).unwrap();
    d.spawn(1, 2, Some(here()));
    d.spawn(1, 3, Some(here()));
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
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.release(2, SyncKey::Object(5));
    d.write(2, 10, None, here()).unwrap();
    d.acquire(1, SyncKey::Object(5));
    assert!(d.read(1, 10, None, here()).is_err());
}

#[test]
fn release_merge_keeps_every_releaser_and_release_acquire_chains() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.spawn(1, 3, Some(here()));
    d.write(2, 10, None, here()).unwrap();
    d.write(3, 11, None, here()).unwrap();
    d.release_merge(2, SyncKey::Object(7));
    d.release_merge(3, SyncKey::Object(7));
    d.acquire(1, SyncKey::Object(7));
    d.read(1, 10, None, here()).unwrap();
    d.read(1, 11, None, here()).unwrap();
    // A slot: 1 leaves its clock, 2 picks it up (and leaves its own for the next).
    d.write(1, 12, None, here()).unwrap();
    d.release_acquire(1, SyncKey::Part(9, 0));
    d.release_acquire(2, SyncKey::Part(9, 0));
    d.read(2, 12, None, here()).unwrap();
}

#[test]
fn a_release_after_learning_something_new_passes_it_on() {
    // 2 writes and releases to A; 1 releases to K (a copy of its clock), learns A, and
    // releases to K again: K must now carry 2's write, although 1's own entry is all
    // that changed in the meantime... apart from what it learnt.
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.spawn(1, 3, Some(here()));
    d.write(2, 10, None, here()).unwrap();
    d.release(2, SyncKey::Object(1));
    d.release(1, SyncKey::Object(2));
    d.acquire(1, SyncKey::Object(1));
    d.release(1, SyncKey::Object(2));
    d.acquire(3, SyncKey::Object(2));
    d.read(3, 10, None, here()).unwrap();
}

#[test]
fn an_acquire_skips_only_what_it_knows_already() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.spawn(1, 3, Some(here()));
    // 2 releases to K twice; 3 knows the first release (through K) but not the second.
    d.release(2, SyncKey::Object(1));
    d.acquire(3, SyncKey::Object(1));
    d.write(2, 10, None, here()).unwrap();
    d.release(2, SyncKey::Object(1));
    d.acquire(3, SyncKey::Object(1));
    d.read(3, 10, None, here()).unwrap();
    // Learning 2's epoch through a third goroutine covers everything 2 knew then.
    d.write(3, 11, None, here()).unwrap();
    d.release(3, SyncKey::Object(3));
    d.acquire(2, SyncKey::Object(3));
    d.release(2, SyncKey::Object(4));
    d.acquire(1, SyncKey::Object(4));
    d.read(1, 11, None, here()).unwrap();
    // Merges from several releasers are never skipped.
    d.write(2, 12, None, here()).unwrap();
    d.release_merge(2, SyncKey::Object(5));
    d.release_merge(3, SyncKey::Object(5));
    d.acquire(1, SyncKey::Object(5));
    d.read(1, 12, None, here()).unwrap();
}

#[test]
fn nothing_is_recorded_while_one_goroutine_runs() {
    let mut d = detector();
    d.write(1, 10, None, here()).unwrap();
    d.release(1, SyncKey::Object(1));
    assert!(d.sync.is_empty() && d.cells.is_empty());
    d.spawn(1, 2, Some(here()));
    d.read(2, 10, None, here()).unwrap();
}

#[test]
fn a_timer_callback_runs_from_the_clock_it_was_armed_with() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.write(1, 10, None, here()).unwrap();
    let armed = d.timer_armed(1);
    d.write(1, 11, None, here()).unwrap();
    // An unrelated timer fires first; its callback must not lend goroutine 1's clock.
    let other = d.timer_armed(2);
    d.timer_fired(other);
    d.release(0, SyncKey::Object(3));
    d.acquire(2, SyncKey::Object(3));
    assert!(d.read(2, 10, None, here()).is_err());
    // Goroutine 1's timer: what 1 did before arming it is ordered, what it did after is not.
    let mut d2 = detector();
    d2.spawn(1, 2, Some(here()));
    d2.write(1, 10, None, here()).unwrap();
    let armed2 = d2.timer_armed(1);
    d2.write(1, 11, None, here()).unwrap();
    d2.timer_fired(armed2);
    d2.release(0, SyncKey::Object(3));
    d2.acquire(2, SyncKey::Object(3));
    d2.read(2, 10, None, here()).unwrap();
    assert!(d2.read(2, 11, None, here()).is_err());
    drop(armed);
}

#[test]
fn a_recycled_detector_starts_empty() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.write(2, 10, None, here()).unwrap();
    d.release(2, SyncKey::Object(1));
    drop(d);
    let mut d = Detector::default();
    assert!(d.threads.is_empty() && d.sync.is_empty() && d.cells.is_empty());
    assert!(!d.spare.is_empty());
    d.spawn(0, 1, Some(here()));
    d.spawn(1, 2, Some(here()));
    d.write(1, 10, None, here()).unwrap();
    assert!(d.write(2, 10, None, here()).is_err());
}

#[test]
fn report_has_go_shape() {
    let mut d = detector();
    d.spawn(1, 2, Some(here()));
    d.read(2, 10, Some("balance"), here()).unwrap();
    d.exit(2);
    let text = d
        .write(1, 10, Some("balance"), here())
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("WARNING: DATA RACE\nWrite at balance by goroutine 1:\n  "));
    assert!(text.contains("Previous read at balance by goroutine 2:"));
    assert!(text.contains("Goroutine 2 (finished) created at:"));
}

#[test]
fn clocks_hold_only_the_goroutines_they_heard_of() {
    let mut a = VectorClock::default();
    a.set(7, 3);
    a.set(2, 1);
    a.tick(7);
    assert_eq!((a.get(2), a.get(7), a.get(5)), (1, 4, 0));
    assert_eq!(a.len(), 2);
    // A join that names nothing new is done in place; one that does merges in order.
    let mut b = VectorClock::default();
    b.set(7, 9);
    a.join(&b);
    assert_eq!((a.len(), a.get(7)), (2, 9));
    b.set(100_000, 1);
    b.set(1, 5);
    a.join(&b);
    assert_eq!(a.len(), 4);
    assert_eq!([1, 2, 7, 100_000].map(|g| a.get(g)), [5, 1, 9, 1], "{a:?}");
    let mut c = VectorClock::default();
    c.copy_from(&a);
    assert_eq!(c, a);
    c.clear();
    assert!(c.is_empty());
}

#[test]
fn a_join_is_the_entrywise_maximum_in_either_form() {
    // Against a dense model, over pseudo-random clocks: small ones stay sparse, packed ones
    // turn dense, and ids far past a dense clock's end turn it sparse again.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    const IDS: u64 = 400;
    let mut forms = [0usize; 2];
    for round in 0..300 {
        let mut clocks = [VectorClock::default(), VectorClock::default()];
        let mut models = [[0u32; IDS as usize], [0u32; IDS as usize]];
        for (c, m) in clocks.iter_mut().zip(models.iter_mut()) {
            let (count, span) = match round % 3 {
                0 => (next() % 12, IDS),
                1 => (next() % 200 + 64, 120),
                _ => (next() % 150, IDS),
            };
            for _ in 0..count {
                let (g, v) = (next() % span, (next() % 9 + 1) as u32);
                c.set(g, v);
                m[g as usize] = v;
            }
            forms[c.is_dense() as usize] += 1;
        }
        let [mut x, y] = clocks;
        x.join(&y);
        for g in 0..IDS {
            let want = models[0][g as usize].max(models[1][g as usize]);
            assert_eq!(x.get(g), want, "round {round}, id {g}");
        }
        assert_eq!(x.len(), (0..IDS).filter(|&g| x.get(g) != 0).count());
        let mut z = VectorClock::default();
        z.copy_from(&x);
        assert_eq!(z, x);
    }
    assert!(forms[0] > 50 && forms[1] > 50, "{forms:?}");
    // An id far past a dense clock's end makes it sparse.
    let mut d = VectorClock::default();
    for g in 0..100 {
        d.set(g, 1);
    }
    assert!(d.is_dense());
    d.set(1_000_000, 2);
    assert!(!d.is_dense());
    assert_eq!((d.get(99), d.get(1_000_000), d.len()), (1, 2, 101));
}

#[test]
fn children_of_one_parent_keep_clocks_of_a_few_entries() {
    // The k-th child of main used to get a clock k entries long (dense by id): memory
    // quadratic in live goroutines. It knows its parent (and what made it: 0) and itself.
    let mut d = detector();
    for child in 2..2_000 {
        d.spawn(1, child, Some(here()));
        d.release(child, SyncKey::Object(3));
    }
    for g in [2, 1_000, 1_999] {
        assert!(d.threads[g].clock.len() <= 3, "{:?}", d.threads[g].clock);
    }
    // A release copies the releaser's (small) clock.
    assert!(d.sync.get(SyncKey::Object(3)).unwrap().clock.len() <= 3);
}
