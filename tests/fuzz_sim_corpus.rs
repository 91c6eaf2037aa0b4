//! The `sim_run` fuzz target's body ([`sansnet::fuzzing`]) over its committed corpus, and
//! the properties the target rests on: specs drawn by a sweep survive the input format
//! (they are the corpus's `draw-*` seeds), every spec the format reads is within the bounds
//! a sweep draws from, and a failing run comes out as a `replay.json` that `sansnet replay`
//! replays to the same run.
//!
//! `SANSNET_WRITE_SIM_SEEDS=1 cargo test --test fuzz_sim_corpus draw_seed` writes the
//! `draw-*` seed files again (after a change to the format or to `draw`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;
use sansnet::explore::{self, DrawOptions, ReplayFile, TopologyChoice};
use sansnet::fuzzing::{self, SimInput, MAX_WORKLOAD};
use sansnet::scenario::{self, Built, FailureKind, RunSpec, Scenario, Shape, Workload};
use sansnet_sim::{FaultChange, Instant, Sim};
use sansnet_stack::tcp;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/sim_run")
}

/// Where findings of these tests go (never the source tree).
fn out_dir(test: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-sim-findings")
        .join(test)
}

fn decode(bytes: &[u8]) -> Option<RunSpec> {
    SimInput::arbitrary_take_rest(Unstructured::new(bytes))
        .ok()
        .map(|i| i.spec)
}

#[test]
fn sim_run() {
    let mut paths: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("fuzz/corpus/sim_run")
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "empty corpus");
    let out = out_dir("corpus");
    for path in paths {
        // Shown (test output is captured) only when the body panics on this file.
        eprintln!("replaying {}", path.display());
        fuzzing::sim_run_in(&fs::read(&path).unwrap(), &out);
    }
}

/// The first seed from 3 on whose swarm shape's name starts with `kind`.
fn swarm_seed(kind: &str) -> u64 {
    (3..)
        .find(|&s| {
            TopologyChoice::Swarm
                .shape_for(s)
                .to_string()
                .starts_with(kind)
        })
        .unwrap()
}

/// The `draw-*` seed files: (file name, the spec `draw_on` gives): per scenario, seeds 1
/// and 2 on `direct`, and a `switched` and a `routed` seed of a swarm sweep.
fn drawn_seeds() -> Vec<(String, RunSpec)> {
    let mut out = Vec::new();
    let swarm = [(swarm_seed("switched"), true), (swarm_seed("routed"), true)];
    for scenario in sansnet::scenarios::builtin() {
        let name = scenario.name();
        for (seed, swarm) in [(1, false), (2, false)].into_iter().chain(swarm) {
            let choice = if swarm {
                TopologyChoice::Swarm
            } else {
                TopologyChoice::default()
            };
            let spec = explore::draw_on(&*scenario, seed, &DrawOptions::default(), &choice);
            let file = format!("draw-{name}-{seed}{}", if swarm { "-swarm" } else { "" });
            out.push((file, spec));
        }
    }
    out
}

#[test]
fn draw_seed_files_are_the_specs_a_sweep_draws() {
    let write = std::env::var_os("SANSNET_WRITE_SIM_SEEDS").is_some();
    for (file, spec) in drawn_seeds() {
        let bytes = fuzzing::encode(&spec).unwrap_or_else(|| panic!("{file}: not encodable"));
        let path = corpus_dir().join(&file);
        if write {
            fs::write(&path, &bytes).unwrap();
        }
        let on_disk = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            decode(&on_disk).as_ref(),
            Some(&spec),
            "{file} no longer reads as the spec draw gives (SANSNET_WRITE_SIM_SEEDS=1 rewrites it)"
        );
    }
}

#[test]
fn every_spec_a_small_sweep_draws_survives_the_input_format() {
    for scenario in sansnet::scenarios::builtin() {
        for seed in 0..80 {
            for choice in [TopologyChoice::default(), TopologyChoice::Swarm] {
                let spec = explore::draw_on(&*scenario, seed, &DrawOptions::default(), &choice);
                let bytes = fuzzing::encode(&spec)
                    .unwrap_or_else(|| panic!("not encodable: {}", explore::one_line(&spec)));
                assert_eq!(decode(&bytes), Some(spec));
            }
        }
    }
}

/// Every spec the format reads is one a sweep could draw: known names, bounded workload,
/// faults healed by the heal, the progress deadline `draw` would give.
fn check_bounds(spec: &RunSpec) {
    let scenario = scenario::lookup(&spec.scenario).expect("a built-in scenario");
    let w = &spec.workload;
    assert!(
        w.bytes <= MAX_WORKLOAD.bytes
            && (1..=MAX_WORKLOAD.clients).contains(&w.clients)
            && w.exchanges <= MAX_WORKLOAD.exchanges
            && w.message_bytes <= MAX_WORKLOAD.message_bytes,
        "{w:?}"
    );
    assert!(spec.topology.client_hosts() <= 4 && spec.topology.routers() <= 2);
    assert_eq!(spec.profile, "random");
    assert_eq!(spec.planted, None);
    assert!(spec.heal_at_ms <= explore::HEAL_AT_MS);
    assert_eq!(spec.progress_bound_ms, explore::progress_bound_for(w));
    let heal = Instant::from_millis(spec.heal_at_ms);
    let topology = scenario.topology(w, &spec.topology);
    let cuts = topology.partitions();
    for c in &spec.plan.changes {
        assert!(c.at <= heal, "{c:?} after the heal at {heal}");
        match &c.change {
            FaultChange::SetLink { link, faults, .. } => {
                assert!(topology.links.contains(link), "{link}");
                assert!(faults.bandwidth_bps.is_none_or(|b| b >= 2_000_000));
                assert_eq!((faults.mtu_bytes, faults.down), (None, false));
            }
            FaultChange::Clog { link, .. } | FaultChange::Unclog { link, .. } => {
                assert!(topology.links.contains(link), "{link}")
            }
            FaultChange::Partition { from, to, .. } => {
                assert!(
                    cuts.contains(&(from.clone(), to.clone())),
                    "{from:?} {to:?}"
                )
            }
            FaultChange::Heal => {}
            other => panic!("a change a sweep never draws: {other:?}"),
        }
    }
    if spec.scenario == "slow-reader" {
        assert!(u64::from(w.message_bytes.max(1)) * 4000 >= w.bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_spec_the_format_reads_is_within_a_sweeps_bounds(
        bytes in proptest::collection::vec(any::<u8>(), 0..200)
    ) {
        if let Some(spec) = decode(&bytes) {
            check_bounds(&spec);
            // What `encode` says about a spec, it says exactly.
            if let Some(again) = fuzzing::encode(&spec) {
                prop_assert_eq!(decode(&again), Some(spec));
            }
        }
    }
}

#[test]
fn the_corpus_has_every_scenario_and_shape() {
    let mut scenarios = BTreeSet::new();
    let mut shapes = BTreeSet::new();
    for entry in fs::read_dir(corpus_dir()).unwrap() {
        if let Some(spec) = decode(&fs::read(entry.unwrap().path()).unwrap()) {
            scenarios.insert(spec.scenario.clone());
            shapes.insert(
                spec.topology
                    .to_string()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    let all: BTreeSet<String> = sansnet::scenarios::builtin()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(scenarios, all);
    assert_eq!(shapes.len(), 3, "{shapes:?}");
}

/// A run that cannot meet its deadline (a progress bound of 1 ms) fails honestly: the
/// finding's `replay.json` loads, holds the spec, and `sansnet replay` replays it to the
/// recorded trace hash.
#[test]
fn a_failing_run_becomes_a_replay_file_that_sansnet_replays() {
    let mut spec = explore::draw(
        &*scenario::lookup("bulk").unwrap(),
        7,
        &DrawOptions::default(),
    );
    spec.progress_bound_ms = 1;
    spec.heal_at_ms = 0;
    spec.plan.changes.retain(|c| c.at == Instant::ZERO);
    let out = out_dir("failing");
    let _ = fs::remove_dir_all(&out);
    let finding = fuzzing::judge(&spec, &out).expect_err("a 1 ms deadline fails");
    assert_eq!(finding.failure.kind, FailureKind::NoProgress, "{finding}");
    assert_eq!(finding.note, None, "{finding}");
    assert_eq!(
        finding.replay,
        fuzzing::finding_dir(&spec, &out).join("replay.json")
    );
    let replay = ReplayFile::load(&finding.replay).unwrap();
    assert_eq!(replay.spec, spec);
    assert_eq!(replay.failure, finding.failure);
    for artefact in ["trace.jsonl", "capture.pcapng", "log.txt"] {
        assert!(
            finding.replay.with_file_name(artefact).exists(),
            "{artefact}"
        );
    }
    let run = Command::new(env!("CARGO_BIN_EXE_sansnet"))
        .args(["replay", "--out"])
        .arg(out.join("replayed"))
        .arg(&finding.replay)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("same run:"), "{stdout}");
}

/// A scenario that panics while it builds: a panic inside a run.
struct PanicsInBuild;

impl Scenario for PanicsInBuild {
    fn name(&self) -> &'static str {
        "fuzz-test-panics-in-build"
    }
    fn describe(&self) -> &'static str {
        "panics while it builds (tests/fuzz_sim_corpus.rs)"
    }
    fn default_workload(&self) -> Workload {
        scenario::lookup("bulk").unwrap().default_workload()
    }
    fn build(&self, _: &mut Sim, _: &Workload, _: &Shape, _: &tcp::Config) -> Built {
        panic!("a bug inside the run");
    }
}

/// A panic inside the run (which libFuzzer's panic hook turns into an abort at once) is a
/// finding of kind `panic` with its replay file, written by `judge`'s panic hook first and
/// then with the artefacts.
#[test]
fn a_panic_inside_a_run_is_a_finding_with_a_replay_file() {
    scenario::register(std::sync::Arc::new(PanicsInBuild));
    let mut spec = explore::draw(
        &*scenario::lookup("bulk").unwrap(),
        3,
        &DrawOptions::default(),
    );
    spec.scenario = PanicsInBuild.name().to_owned();
    let out = out_dir("panic");
    let _ = fs::remove_dir_all(&out);
    let finding = fuzzing::judge(&spec, &out).expect_err("the run panics");
    assert_eq!(finding.failure.kind, FailureKind::Panic, "{finding}");
    assert!(
        finding.failure.detail.contains("a bug inside the run"),
        "{finding}"
    );
    let replay = ReplayFile::load(&finding.replay).unwrap();
    assert_eq!((replay.spec, replay.failure), (spec, finding.failure));
}
