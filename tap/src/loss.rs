//! Frame loss on sansnet's side of the TAP device (tc netem is not available here).

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Error;

/// Drops each frame with a fixed probability, from a seeded ChaCha8 stream.
///
/// One `Loss` per direction: [`Loss::new`] takes the seed and a stream number, so that the
/// two directions of one seed draw from independent streams and switching one direction's
/// rate does not change the other's decisions. Every frame draws one number, dropped or not,
/// so a decision depends only on (seed, stream, frame index).
#[derive(Debug, Clone)]
pub struct Loss {
    /// Drop when the draw is below this (probability x 2^64); `u64::MAX` with `always`.
    threshold: u64,
    always: bool,
    rng: ChaCha8Rng,
    dropped: u64,
    passed: u64,
}

impl Loss {
    /// Drops `percent` % of frames (0 to 100) from stream `stream` of `seed`.
    pub fn new(percent: f64, seed: u64, stream: u64) -> Result<Loss, Error> {
        if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
            return Err(Error::InvalidSpec(format!(
                "a loss rate is a percentage from 0 to 100, not {percent}"
            )));
        }
        let fraction = percent / 100.0;
        // 2^64 as f64 is exact; the product is below it except at 100 %.
        let threshold = (fraction * 18_446_744_073_709_551_616.0) as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Ok(Loss {
            threshold,
            always: percent >= 100.0,
            rng,
            dropped: 0,
            passed: 0,
        })
    }

    /// No loss.
    pub fn none() -> Loss {
        // 0 % is always a valid rate.
        Loss {
            threshold: 0,
            always: false,
            rng: ChaCha8Rng::seed_from_u64(0),
            dropped: 0,
            passed: 0,
        }
    }

    /// Whether the next frame is dropped (and counts it).
    pub fn drop_next(&mut self) -> bool {
        let draw = self.rng.next_u64();
        let drop = self.always || draw < self.threshold;
        if drop {
            self.dropped += 1;
        } else {
            self.passed += 1;
        }
        drop
    }

    /// Frames dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames let through so far.
    pub fn passed(&self) -> u64 {
        self.passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(percent: f64, seed: u64, stream: u64, n: usize) -> Vec<bool> {
        let mut loss = Loss::new(percent, seed, stream).unwrap();
        (0..n).map(|_| loss.drop_next()).collect()
    }

    #[test]
    fn rates_are_close_to_asked() {
        for percent in [0.0, 1.0, 5.0, 50.0] {
            let n = 200_000;
            let dropped = decisions(percent, 7, 1, n).iter().filter(|&&d| d).count();
            let got = dropped as f64 * 100.0 / n as f64;
            assert!(
                (got - percent).abs() < 0.2,
                "{percent}% asked, {got}% dropped"
            );
        }
        assert!(decisions(100.0, 7, 1, 1000).iter().all(|&d| d));
    }

    #[test]
    fn seeded_and_independent_per_stream() {
        assert_eq!(decisions(5.0, 3, 1, 5000), decisions(5.0, 3, 1, 5000));
        assert_ne!(decisions(5.0, 3, 1, 5000), decisions(5.0, 3, 2, 5000));
        assert_ne!(decisions(5.0, 3, 1, 5000), decisions(5.0, 4, 1, 5000));
    }

    #[test]
    fn counts() {
        let mut loss = Loss::new(50.0, 1, 1).unwrap();
        for _ in 0..100 {
            loss.drop_next();
        }
        assert_eq!(loss.dropped() + loss.passed(), 100);
        let mut none = Loss::none();
        assert!(!(0..100).any(|_| none.drop_next()));
    }

    #[test]
    fn bad_rates_are_refused() {
        for bad in [-1.0, 100.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(Loss::new(bad, 1, 1), Err(Error::InvalidSpec(_))));
        }
    }
}
