//! The fuzz targets' bodies ([`sansnet_stack::fuzzing`]) over their committed corpora, so that
//! plain `cargo test` on stable replays every seed, and every crash that was turned into a
//! regression file, without nightly or cargo-fuzz. One test per target, named like the
//! target; `fuzz/corpus/<target>/` must hold at least one file.
//!
//! The structured `repr_*` targets need the `arbitrary` feature: `ci/test` runs this file a
//! second time with `--features arbitrary`.
//!
//! Two proptests follow: random bytes, and corpus files with a few bytes changed and the tail
//! cut, through the raw-bytes bodies (a few thousand cases, well under a second).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;
use sansnet_stack::fuzzing;

type Body = fn(&[u8]);

/// The raw-bytes targets and their bodies.
const RAW: [(&str, Body); 8] = [
    ("wire_ethernet", fuzzing::ethernet),
    ("wire_arp", fuzzing::arp),
    ("wire_ipv4", fuzzing::ipv4),
    ("wire_icmpv4", fuzzing::icmpv4),
    ("wire_udp", fuzzing::udp),
    ("wire_tcp", fuzzing::tcp),
    ("wire_tcp_options", fuzzing::tcp_options),
    ("wire_frame", fuzzing::frame),
];

/// The structured targets and their bodies (feature `arbitrary`).
#[cfg(feature = "arbitrary")]
const STRUCTURED: [(&str, Body); 6] = [
    ("repr_ethernet", fuzzing::ethernet_repr),
    ("repr_arp", fuzzing::arp_repr),
    ("repr_ipv4", fuzzing::ipv4_repr),
    ("repr_icmpv4", fuzzing::icmpv4_repr),
    ("repr_udp", fuzzing::udp_repr),
    ("repr_tcp", fuzzing::tcp_repr),
];

/// Every target, whatever the features: a file in `fuzz/fuzz_targets/` and a corpus each.
const NAMES: [&str; 14] = [
    "wire_ethernet",
    "wire_arp",
    "wire_ipv4",
    "wire_icmpv4",
    "wire_udp",
    "wire_tcp",
    "wire_tcp_options",
    "wire_frame",
    "repr_ethernet",
    "repr_arp",
    "repr_ipv4",
    "repr_icmpv4",
    "repr_udp",
    "repr_tcp",
];

/// Targets whose bodies replay their corpora elsewhere: the stateful stack targets in
/// `fuzz_state_corpus.rs`, `sim_run` in the root crate's `tests/fuzz_sim_corpus.rs`.
const ELSEWHERE: [&str; 3] = ["host_state", "tcp_pair", "sim_run"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/corpus/<target>/`, sorted by name, with their bytes.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    assert!(!paths.is_empty(), "{}: empty corpus", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect()
}

fn body(target: &str) -> Body {
    #[cfg(feature = "arbitrary")]
    let structured = STRUCTURED.iter();
    #[cfg(not(feature = "arbitrary"))]
    let structured = [].iter();
    let mut all = RAW.iter().chain(structured);
    all.find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no body for {target}"))
        .1
}

/// Runs `target`'s body over each file of its corpus.
fn replay(target: &str) {
    let body = body(target);
    for (path, bytes) in corpus(target) {
        // Shown (test output is captured) only when the body panics on this file.
        eprintln!("replaying {}", path.display());
        body(&bytes);
    }
}

macro_rules! replay_tests {
    ($($(#[$attr:meta])* $target:ident),* $(,)?) => {
        $(
            $(#[$attr])*
            #[test]
            fn $target() {
                replay(stringify!($target));
            }
        )*
    };
}

replay_tests! {
    wire_ethernet,
    wire_arp,
    wire_ipv4,
    wire_icmpv4,
    wire_udp,
    wire_tcp,
    wire_tcp_options,
    wire_frame,
    #[cfg(feature = "arbitrary")] repr_ethernet,
    #[cfg(feature = "arbitrary")] repr_arp,
    #[cfg(feature = "arbitrary")] repr_ipv4,
    #[cfg(feature = "arbitrary")] repr_icmpv4,
    #[cfg(feature = "arbitrary")] repr_udp,
    #[cfg(feature = "arbitrary")] repr_tcp,
}

/// The names of the entries of `fuzz/<sub>/`, without extension.
fn stems(sub: &str) -> BTreeSet<String> {
    let dir = fuzz_dir().join(sub);
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            path.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn every_target_has_a_corpus_and_a_test() {
    let mut names: BTreeSet<String> = NAMES.iter().map(|n| n.to_string()).collect();
    names.extend(ELSEWHERE.iter().map(|n| n.to_string()));
    assert_eq!(
        stems("fuzz_targets"),
        names,
        "fuzz/fuzz_targets vs NAMES, ELSEWHERE"
    );
    assert_eq!(stems("corpus"), names, "fuzz/corpus vs NAMES, ELSEWHERE");
    for (name, _) in RAW {
        assert!(names.contains(name), "{name}");
    }
    #[cfg(feature = "arbitrary")]
    assert_eq!(RAW.len() + STRUCTURED.len(), NAMES.len());
}

/// Every raw-bytes corpus, loaded once for the mutation proptest.
static SEEDS: LazyLock<Vec<(Body, Vec<u8>)>> = LazyLock::new(|| {
    RAW.iter()
        .flat_map(|&(name, body)| corpus(name).into_iter().map(move |(_, b)| (body, b)))
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_through_every_raw_body(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        for (_, body) in RAW {
            body(&bytes);
        }
    }

    #[test]
    fn mutated_seeds_through_their_body(
        seed in any::<Index>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>()), 1..4),
        keep in any::<Index>(),
    ) {
        let (body, bytes) = &SEEDS[seed.index(SEEDS.len())];
        let mut bytes = bytes.clone();
        if !bytes.is_empty() {
            for (at, value) in edits {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            bytes.truncate(keep.index(bytes.len() + 1).max(bytes.len() / 2));
        }
        body(&bytes);
    }
}
