//! Hashing for keys that are small integers already well spread, FNV-1a for checksums and
//! seeds (the token format fixes FNV-1a, so it must not change), and counting distinct hashes.

use std::hash::Hasher;

/// FNV-1a's offset basis.
pub(crate) const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;
/// FNV-1a's prime.
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;

/// FNV-1a of `bytes`, continuing from `h` (start from [`FNV_OFFSET`]).
#[inline]
pub(crate) fn fnv1a_from(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// FNV-1a of `bytes`.
#[inline]
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(FNV_OFFSET, bytes)
}

/// 32-bit FNV-1a of `bytes` (the replay token's checksum).
pub(crate) fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for &b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A multiply-rotate hasher (rustc's FxHash): for small integer keys it is a couple of
/// instructions, where std's SipHash costs tens of nanoseconds.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(v as u64);
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(v as u64);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

/// [`FxHasher`] with a splitmix64 finalizer: for features and site keys whose bits are
/// unevenly spread (the coverage-guided fuzzer's sets), at one more multiply per key.
#[derive(Default, Clone, Copy)]
pub(crate) struct MixedFxHasher(FxHasher);

impl Hasher for MixedFxHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0.finish();
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Byte by byte, as the fuzzer's corpus files were hashed when written.
        for &b in bytes {
            self.0.add(b as u64);
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0.add(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.0.add(v as u64);
    }
}

/// A set of hashes that is only counted at the end (the checker's distinct schedules): a
/// vector that is sorted and deduplicated when it would grow. One push per schedule touches
/// one cache line at the end of the vector, where a hash set of 100k schedules misses the
/// cache on nearly every insert (3-4% of a small program's schedule). Memory stays within
/// about twice the distinct hashes: a compaction that leaves the vector over half full lets
/// it double.
///
/// The count is exact up to [`MAX_KEPT`](DistinctHashes::MAX_KEPT) distinct hashes. Beyond, it
/// is an estimate from a sample of the hash space (distinct sampling): only hashes below a
/// limit are kept, the limit halves whenever the kept ones outgrow `MAX_KEPT`, and the count
/// is the kept ones scaled by the share of the space sampled (within about 0.1% at 2^20
/// kept). So a campaign of a billion schedules keeps 16 MiB of hashes, not 8 GiB, and no
/// compaction sorts more than `2 * MAX_KEPT` of them.
pub(crate) struct DistinctHashes {
    /// Sorted and unique up to `sorted`, then in insertion order.
    v: Vec<u64>,
    /// Length of the sorted, unique prefix.
    sorted: usize,
    /// Hashes above this are not kept (`u64::MAX`: all are).
    limit: u64,
    /// The kept hashes are one in `2^level` of the space.
    level: u32,
    /// `MAX_KEPT`, smaller in tests.
    max_kept: usize,
}

impl Default for DistinctHashes {
    fn default() -> Self {
        DistinctHashes {
            v: Vec::new(),
            sorted: 0,
            limit: u64::MAX,
            level: 0,
            max_kept: Self::MAX_KEPT,
        }
    }
}

impl DistinctHashes {
    /// Below this, a compaction is not worth its sort: the vector just grows.
    const MIN_COMPACT: usize = 4096;
    /// The most distinct hashes kept before sampling starts.
    pub(crate) const MAX_KEPT: usize = 1 << 20;

    #[inline]
    pub(crate) fn insert(&mut self, h: u64) {
        // The schedules' hashes are not well mixed in their top bits, which the limit tests:
        // a bijective finalizer (MurmurHash3's fmix64) keeps them distinct and spreads them.
        let h = fmix64(h);
        if h > self.limit {
            return;
        }
        if self.v.len() == self.v.capacity() && self.v.len() >= Self::MIN_COMPACT {
            self.compact();
        }
        self.v.push(h);
    }

    #[cold]
    fn compact(&mut self) {
        // The sorted prefix stays sorted: sort the rest, and std's stable sort, which finds
        // the two sorted runs, merges them in linear time.
        self.v[self.sorted..].sort_unstable();
        self.v.sort();
        self.v.dedup();
        while self.v.len() > self.max_kept {
            self.level += 1;
            self.limit >>= 1;
            let keep = self.v.partition_point(|&h| h <= self.limit);
            self.v.truncate(keep);
        }
        self.sorted = self.v.len();
        if self.v.len() > self.v.capacity() / 2 {
            self.v.reserve(self.v.capacity());
        }
    }

    /// How many distinct hashes were inserted (an estimate beyond `MAX_KEPT`).
    pub(crate) fn len(&mut self) -> u64 {
        if self.sorted != self.v.len() {
            self.compact();
        }
        (self.v.len() as u64) << self.level
    }
}

/// MurmurHash3's 64-bit finalizer: a bijection that spreads every input bit over the output.
#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }
}

#[cfg(test)]
mod distinct_tests {
    use super::DistinctHashes;

    #[test]
    fn counts_distinct_hashes_across_compactions() {
        let mut d = DistinctHashes::default();
        assert_eq!(d.len(), 0);
        // 50,000 inserts of 10,000 values (each five times, interleaved): several compactions.
        for i in 0..50_000u64 {
            d.insert((i % 10_000).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert_eq!(d.len(), 10_000);
        // Memory stays near the distinct count, not the number of inserts.
        assert!(d.v.capacity() <= 4 * 10_000, "{}", d.v.capacity());
        d.insert(1);
        d.insert(1);
        assert_eq!(d.len(), 10_001);
    }

    #[test]
    fn a_huge_count_is_estimated_in_bounded_memory() {
        let max_kept = 1 << 16;
        let mut d = DistinctHashes {
            max_kept,
            ..DistinctHashes::default()
        };
        // 16x more distinct values than are kept, each inserted twice (the second time after
        // compactions).
        let n = 16 * max_kept as u64;
        for i in 0..n {
            d.insert(i);
        }
        for i in 0..n {
            d.insert(i);
        }
        let est = d.len();
        assert!(d.level >= 4, "sampling started: level {}", d.level);
        assert!(d.v.capacity() <= 2 * max_kept, "{}", d.v.capacity());
        // At 2^15-2^16 kept, the estimate's standard error is about 0.5%.
        let err = (est as f64 - n as f64).abs() / n as f64;
        assert!(
            err < 0.03,
            "estimate {est} of {n} ({:.3}% off)",
            err * 100.0
        );
    }

    #[test]
    fn the_count_is_exact_up_to_the_sampling_threshold() {
        let mut d = DistinctHashes {
            max_kept: 1 << 16,
            ..DistinctHashes::default()
        };
        let n: u64 = 1 << 16;
        for i in 0..n {
            d.insert(i.wrapping_mul(7));
        }
        assert_eq!(d.len(), n);
        assert_eq!(d.level, 0);
    }
}
