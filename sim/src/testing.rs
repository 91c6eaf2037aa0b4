//! Helpers for simulation tests: determinism checks, the replay line, and whether tshark
//! can check a capture.

use crate::divergence::check;
use crate::rng::{seed_from_env_or, Seed};
use crate::sim::replay_line;
use crate::trace::TraceHash;

/// The seed used by [`assert_deterministic`] when `SANSNET_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x5eed;

/// Runs `run` twice with the same seed (`SANSNET_SEED`, else [`DEFAULT_SEED`]) and panics,
/// with the replay line, if the two runs differ: in the hash `run` returns or in the trace of
/// the simulation it builds. The message names the first differing record, and for a frame
/// the first differing byte, both frames decoded (see [`crate::divergence`]); finding it takes
/// a third run. Returns the hash.
pub fn assert_deterministic(run: impl FnMut(Seed) -> TraceHash) -> TraceHash {
    assert_deterministic_with_seed(seed_from_env_or(DEFAULT_SEED), run)
}

/// [`assert_deterministic`] with an explicit seed.
pub fn assert_deterministic_with_seed(
    seed: Seed,
    mut run: impl FnMut(Seed) -> TraceHash,
) -> TraceHash {
    let checked = check(|| run(seed));
    if let Some(d) = &checked.divergence {
        panic!("nondeterministic: seed {seed}\n{d}{}", replay_line(seed));
    }
    let (first, second) = (checked.first, checked.second);
    assert!(
        first == second,
        "nondeterministic: two runs with seed {seed} hashed {first} and {second}\n{}",
        replay_line(seed)
    );
    first
}

/// Whether tshark runs here, for tests that have Wireshark dissect a capture. Without it
/// such a check skips (with a note on stderr), unless `SANSNET_REQUIRE_TSHARK=1` (CI sets
/// it), which turns a missing tshark into a failure: a check that skips on CI is no check.
pub fn tshark_available() -> bool {
    let runs = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        assert!(
            std::env::var("SANSNET_REQUIRE_TSHARK").as_deref() != Ok("1"),
            "SANSNET_REQUIRE_TSHARK=1 but tshark does not run"
        );
        eprintln!("tshark is not installed; skipping the Wireshark check");
    }
    runs
}
