//! A fixed, seeded hasher for the host's lookup tables.
//!
//! The tables it serves (the TCP 4-tuple map) are only ever *looked up*, never iterated, so
//! their iteration order cannot reach behaviour. The hash is a multiply-rotate in the style
//! of rustc's FxHasher, seeded from the host's secret so that a remote sender cannot aim many
//! 4-tuples at one bucket without knowing it.

use core::hash::{BuildHasher, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

/// Builds [`FxHasher`]s that all start from the same seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FxBuildHasher {
    seed: u64,
}

impl FxBuildHasher {
    /// A builder whose hashers start from `seed`.
    pub const fn with_seed(seed: u64) -> FxBuildHasher {
        FxBuildHasher { seed }
    }
}

impl BuildHasher for FxBuildHasher {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher { state: self.seed }
    }
}

/// A multiply-rotate hasher: fast, deterministic, not cryptographic.
#[derive(Debug, Clone, Copy)]
pub struct FxHasher {
    state: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // A final mix so that the low bits (the bucket index) depend on every input bit.
        let x = self.state;
        (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_hash_different_seed_different_hash() {
        let h = |seed, v: u64| FxBuildHasher::with_seed(seed).hash_one(v);
        assert_eq!(h(1, 42), h(1, 42));
        assert_ne!(h(1, 42), h(2, 42));
        assert_ne!(h(1, 42), h(1, 43));
    }
}
