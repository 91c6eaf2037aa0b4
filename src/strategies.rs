//! proptest strategies for fault plans, link faults, profiles, network shapes, workloads
//! and whole run specs, for users who want proptest's shrinking and regression files over
//! sansnet runs.
//!
//! Every value they produce stays within what a correct TCP must survive before the heal,
//! so a failing case is a bug, not an impossible network. Shrinking works on them as on
//! any proptest value: fewer changes, smaller rates, shorter windows, simpler networks.

use proptest::prelude::*;
use sansnet_sim::{
    Direction, Duration, FaultChange, FaultPlan, FaultProfile, Instant, LatencyDist, LinkFaults,
    LossModel, Probability,
};

use crate::explore::{HEAL_AT_MS, PROGRESS_BOUND_MS};
use crate::scenario::{RunSpec, Topology, Workload};
use crate::scenarios::required_plan;
use crate::topology::Shape;

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

/// A network shape: `direct`, or `switched` / `routed` with 1 to 4 client hosts and 1 or
/// 2 routers. Shrinks toward `direct`, then fewer client hosts and routers.
pub fn topology() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Direct),
        (1u32..=4).prop_map(|client_hosts| Shape::Switched { client_hosts }),
        (1u32..=4, 1u32..=2).prop_map(|(client_hosts, routers)| Shape::Routed {
            client_hosts,
            routers
        }),
    ]
}

/// A timed fault before it is put on a network: a partition of one hop between clients
/// and servers, or a clog of one link, chosen by `which` (which shrinks toward the first).
#[derive(Clone, Debug)]
struct Window {
    start_ms: u64,
    len_ms: u64,
    partition: bool,
    two_way: bool,
    which: proptest::sample::Index,
}

fn window() -> impl Strategy<Value = Window> {
    (
        0u64..10_000,
        50u64..6_000,
        any::<bool>(),
        any::<bool>(),
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(start_ms, len_ms, partition, two_way, which)| Window {
            start_ms,
            len_ms,
            partition,
            two_way,
            which,
        })
}

/// `faults` on every link of `topology` from time zero, then the windows, in time order.
fn plan_on(topology: &Topology, faults: &LinkFaults, windows: &[Window]) -> FaultPlan {
    let mut plan = FaultPlan::new();
    plan.set_links(Instant::ZERO, &topology.links, faults);
    let cuts = topology.partitions();
    for w in windows {
        let (from, to) = (
            Instant::from_millis(w.start_ms),
            Instant::from_millis(w.start_ms + w.len_ms),
        );
        if w.partition && !cuts.is_empty() {
            let (a, b) = cuts[w.which.index(cuts.len())].clone();
            let p = FaultChange::Partition {
                from: a,
                to: b,
                two_way: w.two_way,
            };
            plan.push(from, p);
            plan.push(to, FaultChange::Heal);
        } else if !w.partition && !topology.links.is_empty() {
            let link = topology.links[w.which.index(topology.links.len())].clone();
            let direction = if w.two_way {
                Direction::Both
            } else {
                Direction::AToB
            };
            plan.push(
                from,
                FaultChange::Clog {
                    link: link.clone(),
                    direction,
                },
            );
            plan.push(to, FaultChange::Unclog { link, direction });
        }
    }
    plan.changes.sort_by_key(|c| c.at);
    plan
}

/// A fault plan for the default (`direct`) network: link faults from time zero, then up
/// to three windows of partition or clogging.
pub fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    fault_plan_on(Shape::Direct.topology())
}

/// A fault plan on `topology`'s names: the same link faults on every link from time zero,
/// then up to three windows, each a partition of one hop between clients and servers or a
/// clog of one link.
pub fn fault_plan_on(topology: Topology) -> impl Strategy<Value = FaultPlan> {
    (link_faults(), proptest::collection::vec(window(), 0..=3))
        .prop_map(move |(faults, windows)| plan_on(&topology, &faults, &windows))
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

/// A whole run of `scenario`: seed, workload, network shape ([`topology`]) and a fault
/// plan on that network's names (with what the scenario always includes, such as
/// partition-heals' partition).
pub fn run_spec(scenario: &'static str) -> impl Strategy<Value = RunSpec> {
    (
        any::<u64>(),
        workload(),
        topology(),
        link_faults(),
        proptest::collection::vec(window(), 0..=3),
        any::<bool>(),
    )
        .prop_map(move |(seed, workload, shape, faults, windows, fcs_check)| {
            let names = crate::scenario::lookup(scenario)
                .map_or_else(|| shape.topology(), |s| s.topology(&workload, &shape));
            let mut plan = required_plan(scenario, &names);
            for c in plan_on(&names, &faults, &windows).changes {
                plan.push(c.at, c.change);
            }
            plan.changes.sort_by_key(|c| c.at);
            RunSpec {
                scenario: scenario.to_owned(),
                seed,
                profile: "proptest".to_owned(),
                workload,
                topology: shape,
                plan,
                heal_at_ms: HEAL_AT_MS,
                progress_bound_ms: PROGRESS_BOUND_MS,
                fcs_check,
                planted: None,
            }
        })
}
