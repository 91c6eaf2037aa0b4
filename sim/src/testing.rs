//! Helpers for simulation tests: determinism checks and the replay line.

use crate::rng::{seed_from_env_or, Seed};
use crate::sim::replay_line;
use crate::trace::TraceHash;

/// The seed used by [`assert_deterministic`] when `SANSNET_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x5eed;

/// Runs `run` twice with the same seed (`SANSNET_SEED`, else [`DEFAULT_SEED`]) and panics,
/// with the replay line, if the two trace hashes differ. Returns the hash.
pub fn assert_deterministic(run: impl FnMut(Seed) -> TraceHash) -> TraceHash {
    assert_deterministic_with_seed(seed_from_env_or(DEFAULT_SEED), run)
}

/// [`assert_deterministic`] with an explicit seed.
pub fn assert_deterministic_with_seed(
    seed: Seed,
    mut run: impl FnMut(Seed) -> TraceHash,
) -> TraceHash {
    let first = run(seed);
    let second = run(seed);
    assert!(
        first == second,
        "nondeterministic: two runs with seed {seed} hashed {first} and {second}\n{}",
        replay_line(seed)
    );
    first
}
