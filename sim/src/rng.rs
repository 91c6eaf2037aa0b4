//! Seeds and the portable seeded generator.
//!
//! Every random draw in a simulation comes from a [`SimRng`], a ChaCha8 stream keyed by the
//! run's [`Seed`] and selected by a stable *name* (`"link/a<->b/a->b"`, `"host/client"`).
//! ChaCha's 64-bit stream id makes the streams independent: adding a host or a link adds a
//! stream and never shifts the draws of another one, so a failing seed keeps failing after
//! unrelated topology edits.

use std::fmt;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sansnet_stack::hash::{siphash24, SecretKey};
use serde::{Deserialize, Serialize};

/// The environment variable that overrides the seed of any simulation test.
pub const SEED_ENV_VAR: &str = "SANSNET_SEED";

/// Key of the hash from stream names to ChaCha stream ids. Fixed forever: changing it
/// changes every run.
const STREAM_KEY: SecretKey = SecretKey(*b"sansnet-streams!");

/// The one number a run is a function of (with the topology, fault plan and workload).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seed(pub u64);

impl Seed {
    /// The independent generator named `stream` under this seed.
    pub fn stream(self, stream: &str) -> SimRng {
        SimRng::new(self, stream)
    }

    /// A 64-bit value derived from this seed and `name`, for configuration that wants a
    /// number rather than a generator (a host's ISN secret, say).
    pub fn derive_u64(self, name: &str) -> u64 {
        self.stream(name).next_u64()
    }

    /// Parses `1234` or `0x4d2`.
    pub fn parse(text: &str) -> Option<Seed> {
        let text = text.trim();
        let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse::<u64>(),
        };
        parsed.ok().map(Seed)
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Seed {
    /// Hex, as the replay line prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// The seed from `SANSNET_SEED` (decimal or `0x` hex) if it is set, else `default`.
///
/// A malformed value panics rather than silently running another seed than the one asked for.
pub fn seed_from_env_or(default: u64) -> Seed {
    match std::env::var(SEED_ENV_VAR) {
        Ok(text) => Seed::parse(&text)
            .unwrap_or_else(|| panic!("{SEED_ENV_VAR}={text:?} is not a u64 (decimal or 0x hex)")),
        Err(_) => Seed(default),
    }
}

/// A probability in parts per million: integer, so a draw compares integers and gives the
/// same answer on every machine. Serialised as the bare number of parts per million.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Probability(u32);

impl Probability {
    /// Never.
    pub const NEVER: Probability = Probability(0);
    /// Always.
    pub const ALWAYS: Probability = Probability(Self::SCALE);
    /// Parts in a whole.
    pub const SCALE: u32 = 1_000_000;

    /// `ppm` parts per million, capped at one.
    pub const fn per_million(ppm: u32) -> Probability {
        Probability(if ppm > Self::SCALE { Self::SCALE } else { ppm })
    }

    /// `pct` percent, capped at one.
    pub const fn percent(pct: u32) -> Probability {
        Self::per_million(pct.saturating_mul(10_000))
    }

    /// Parts per million.
    pub const fn as_per_million(self) -> u32 {
        self.0
    }

    /// Whether this is zero (no draw needed).
    pub const fn is_never(self) -> bool {
        self.0 == 0
    }
}

/// A portable seeded generator: ChaCha8, one stream per name.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream `stream` of `seed`.
    pub fn new(seed: Seed, stream: &str) -> SimRng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.0.to_le_bytes());
        let mut inner = ChaCha8Rng::from_seed(key);
        inner.set_stream(siphash24(&STREAM_KEY, stream.as_bytes()));
        SimRng { inner }
    }

    /// 64 uniform bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// 32 uniform bits.
    pub fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    /// Uniform in `0..n` without modulo bias (Lemire's multiply-and-reject); `0` when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let wide = u128::from(self.next_u64()) * u128::from(n);
            if (wide as u64) >= threshold {
                return (wide >> 64) as u64;
            }
        }
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `p`. Draws nothing when `p` is zero, so turning a fault off
    /// leaves the stream where it would have been without that fault.
    pub fn chance(&mut self, p: Probability) -> bool {
        if p.is_never() {
            return false;
        }
        self.below(u64::from(Probability::SCALE)) < u64::from(p.as_per_million())
    }

    /// Uniform in `[0, 1)` with 53 bits: an exact conversion, the same on every machine.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    pub fn unit_f64_nonzero(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_decimal_and_hex() {
        assert_eq!(Seed::parse("42"), Some(Seed(42)));
        assert_eq!(Seed::parse("0x2a"), Some(Seed(42)));
        assert_eq!(Seed::parse("forty-two"), None);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Seed(7).stream("t");
        for n in 1..200 {
            assert!(rng.below(n) < n);
        }
        assert_eq!(rng.range_inclusive(5, 5), 5);
    }
}
