//! Hashing for keys that are small integers already well spread, and FNV-1a for checksums and
//! seeds (the token format fixes FNV-1a, so it must not change).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

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

/// A hasher for keys that are hashes already: the key is its own hash.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A `HashSet` of hashes.
pub(crate) type HashOfHashes = HashSet<u64, BuildHasherDefault<Prehashed>>;

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
