//! proptest strategies for fault plans, link faults, profiles, workloads and whole run
//! specs, for users who want proptest's shrinking and regression files over sansnet runs.
//!
//! Every value they produce stays within what a correct TCP must survive before the heal,
//! so a failing case is a bug, not an impossible network. Shrinking works on them as on
//! any proptest value: fewer changes, smaller rates, shorter windows.

use proptest::prelude::*;
use sansnet_sim::{
    Direction, Duration, FaultChange, FaultPlan, FaultProfile, Instant, LatencyDist, LinkFaults,
    LossModel, PlannedChange, Probability,
};

use crate::explore::{HEAL_AT_MS, PROGRESS_BOUND_MS};
use crate::scenario::{RunSpec, Workload};
use crate::scenarios::LINK;

fn probability(max_ppm: u32) -> impl Strategy<Value = Probability> {
    prop_oneof![
        Just(Probability::NEVER),
        (1..=max_ppm).prop_map(Probability::per_million)
    ]
}

/// A latency distribution between 10 us and 100 ms.
pub fn latency() -> impl Strategy<Value = LatencyDist> {
    prop_oneof![
        (10u64..100_000).prop_map(|us| LatencyDist::Constant {
            latency: Duration::from_micros(us)
        }),
        (10u64..50_000, 0u64..50_000).prop_map(|(lo, extra)| LatencyDist::Uniform {
            min: Duration::from_micros(lo),
            max: Duration::from_micros(lo + extra),
        }),
    ]
}

/// One direction's faults, each kind off or on at a survivable strength.
pub fn link_faults() -> impl Strategy<Value = LinkFaults> {
    (
        latency(),
        0u64..20_000,
        probability(100_000),
        probability(100_000),
        probability(50_000),
        probability(20_000),
        proptest::option::of(2_000_000u64..1_000_000_000),
    )
        .prop_map(
            |(latency, jitter_us, loss, reorder, duplicate, corrupt, bandwidth_bps)| LinkFaults {
                latency,
                jitter: Duration::from_micros(jitter_us),
                loss: if loss.is_never() {
                    LossModel::None
                } else {
                    LossModel::Independent { rate: loss }
                },
                reorder,
                reorder_delay: Duration::from_millis(5),
                duplicate,
                corrupt,
                bandwidth_bps,
                queue_limit_bytes: 256 * 1024,
                ..LinkFaults::default()
            },
        )
}

/// A named profile, or a random-looking one built from [`link_faults`].
pub fn profile() -> impl Strategy<Value = FaultProfile> {
    prop_oneof![
        proptest::sample::select(FaultProfile::NAMES.to_vec())
            .prop_map(|n| FaultProfile::by_name(n).unwrap_or_else(FaultProfile::ideal)),
        link_faults().prop_map(|faults| FaultProfile {
            name: "proptest".to_owned(),
            faults
        }),
    ]
}

/// A timed fault on the built-in two-host topology: a partition or a clog window, ending
/// before the heal.
fn timed_window() -> impl Strategy<Value = Vec<PlannedChange>> {
    (0u64..10_000, 50u64..6_000, any::<bool>(), any::<bool>()).prop_map(
        |(start, len, partition, two_way)| {
            let (from, to) = (
                Instant::from_millis(start),
                Instant::from_millis(start + len),
            );
            let (begin, end) = if partition {
                let p = FaultChange::Partition {
                    from: vec!["client".to_owned()],
                    to: vec!["server".to_owned()],
                    two_way,
                };
                (p, FaultChange::Heal)
            } else {
                let direction = if two_way {
                    Direction::Both
                } else {
                    Direction::AToB
                };
                (
                    FaultChange::Clog {
                        link: LINK.to_owned(),
                        direction,
                    },
                    FaultChange::Unclog {
                        link: LINK.to_owned(),
                        direction,
                    },
                )
            };
            vec![
                PlannedChange {
                    at: from,
                    change: begin,
                },
                PlannedChange {
                    at: to,
                    change: end,
                },
            ]
        },
    )
}

/// A fault plan for the built-in topology: link faults from time zero, then up to three
/// windows of partition or clogging.
pub fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    (
        link_faults(),
        proptest::collection::vec(timed_window(), 0..=3),
    )
        .prop_map(|(faults, windows)| {
            let mut plan = FaultPlan::new().at(
                Instant::ZERO,
                FaultChange::SetLink {
                    link: LINK.to_owned(),
                    direction: Direction::Both,
                    faults,
                },
            );
            for w in windows {
                for c in w {
                    plan.push(c.at, c.change);
                }
            }
            plan.changes.sort_by_key(|c| c.at);
            plan
        })
}

/// A workload small enough for a property test.
pub fn workload() -> impl Strategy<Value = Workload> {
    (1u64..64 * 1024, 1u32..8, 1u32..20, 1u32..1400).prop_map(
        |(bytes, clients, exchanges, message_bytes)| Workload {
            bytes,
            clients,
            exchanges,
            message_bytes,
        },
    )
}

/// A whole run of `scenario`: seed, workload, fault plan.
pub fn run_spec(scenario: &'static str) -> impl Strategy<Value = RunSpec> {
    (any::<u64>(), workload(), fault_plan(), any::<bool>()).prop_map(
        move |(seed, workload, plan, fcs_check)| RunSpec {
            scenario: scenario.to_owned(),
            seed,
            profile: "proptest".to_owned(),
            workload,
            plan,
            heal_at_ms: HEAL_AT_MS,
            progress_bound_ms: PROGRESS_BOUND_MS,
            fcs_check,
            planted: None,
        },
    )
}
