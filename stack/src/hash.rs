//! SipHash-2-4, the keyed pseudo-random function behind ISNs (RFC 6528), timestamp offsets
//! and ephemeral ports (RFC 6056).
//!
//! Written here rather than taken from `core::hash::SipHasher` (deprecated) so that its
//! output is fixed by this file alone: a trace must not change when the toolchain does.

/// A 128-bit secret key for [`siphash24`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecretKey(pub [u8; 16]);

impl SecretKey {
    /// A host's secret from a 64-bit seed: what a simulation gives each host (and each
    /// incarnation of one), so that ISNs, timestamp offsets, ephemeral ports and SYN cookies
    /// are a function of the run's seed. Embedding a host needs only this crate; the
    /// simulator's `secret_from_seed` is this function. Not for secrets that must resist an
    /// attacker: the seed is the whole key.
    pub fn from_seed(seed: u64) -> SecretKey {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..].copy_from_slice(&(seed.rotate_left(32) ^ 0x736e_736e_6574_2121).to_le_bytes());
        SecretKey(key)
    }
}

impl core::fmt::Debug for SecretKey {
    /// Never printed: a secret in a log is no longer a secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 of `data` under `key` (Aumasson and Bernstein, 2012).
pub fn siphash24(key: &SecretKey, data: &[u8]) -> u64 {
    let k0 = u64::from_le_bytes(key.0[..8].try_into().unwrap_or([0; 8]));
    let k1 = u64::from_le_bytes(key.0[8..].try_into().unwrap_or([0; 8]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // The paper's test key 00 01 .. 0f; outputs for inputs 00, 00 01, .. (first entries
        // of the reference vector table, as little-endian u64).
        let key = SecretKey(core::array::from_fn(|i| i as u8));
        let input: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(&key, &[]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash24(&key, &input[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(siphash24(&key, &input[..15]), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn a_seed_gives_a_fixed_key_and_seeds_differ() {
        // Fixed bytes: every trace recorded so far depends on them.
        assert_eq!(
            SecretKey::from_seed(1).0,
            [1, 0, 0, 0, 0, 0, 0, 0, 0x21, 0x21, 0x74, 0x65, 0x6f, 0x73, 0x6e, 0x73]
        );
        assert_ne!(SecretKey::from_seed(1), SecretKey::from_seed(2));
    }
}
