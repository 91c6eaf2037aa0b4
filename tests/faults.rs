//! Bulk transfers over whole simulated networks stay intact under every fault kind, alone
//! and combined, each under several seeds. Every test also checks that its fault really
//! happened (a counter moved), so a transfer cannot pass by dodging it.

mod common;

use common::{for_seeds, pair, routed, spawn_bulk, Bulk, Pair, ROUTED_SERVER, SERVER};
use sansnet_sim::stack::iface::{DropReason as HostDrop, Host};
use sansnet_sim::{
    Direction, Duration, FaultChange, FaultPlan, FaultProfile, Instant, LatencyDist, LinkCounters,
    LinkFaults, LossModel, Probability, Seed,
};

const SEEDS: &[u64] = &[1, 2, 3, 4];

/// 256 KiB up, 64 KiB back down.
const BULK: Bulk = Bulk {
    upload: 256 * 1024,
    download: 64 * 1024,
};

/// Simulated time any single-fault transfer gets (they take well under a minute).
const BUDGET: Duration = Duration::from_secs(300);

/// A client-server pair with `faults` on the link both ways moves [`BULK`] intact; returns
/// the pair (to inspect) and the link's counters, both directions added.
fn bulk_over(seed: Seed, faults: LinkFaults) -> (Pair, LinkCounters) {
    bulk_over_with(seed, faults, |_| {})
}

fn bulk_over_with(
    seed: Seed,
    faults: LinkFaults,
    setup: impl FnOnce(&mut Pair),
) -> (Pair, LinkCounters) {
    let mut p = pair(seed, faults);
    setup(&mut p);
    let t = spawn_bulk(&mut p.sim, p.client, p.server, SERVER, BULK);
    t.run_and_check(&mut p.sim, BUDGET);
    // Let the last ACKs land before counting.
    p.sim.run_for(Duration::from_secs(1)).unwrap();
    let c = p.sim.link_counters(p.link, Direction::Both);
    (p, c)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn an_ideal_link() {
    for_seeds(SEEDS, |seed| {
        let (_, c) = bulk_over(seed, LinkFaults::with_latency(ms(1)));
        assert_eq!(c.offered, c.arrived, "an ideal link loses nothing");
    });
}

#[test]
fn every_latency_distribution() {
    let dists = [
        LatencyDist::Constant { latency: ms(20) },
        LatencyDist::Uniform {
            min: ms(1),
            max: ms(30),
        },
        LatencyDist::Normal {
            mean: ms(20),
            std_dev: ms(5),
        },
        LatencyDist::Pareto {
            scale: ms(2),
            shape: 1.5,
            max: ms(500),
        },
        LatencyDist::LogNormal {
            median: ms(5),
            sigma: 0.8,
            max: ms(500),
        },
    ];
    for_seeds(SEEDS, |seed| {
        for latency in dists.clone() {
            let (p, _) = bulk_over(
                seed,
                LinkFaults {
                    latency,
                    ..LinkFaults::default()
                },
            );
            assert!(p.sim.now() > Instant::from_millis(1), "time passed");
        }
    });
}

#[test]
fn jitter() {
    for_seeds(SEEDS, |seed| {
        bulk_over(
            seed,
            LinkFaults {
                jitter: ms(15),
                ..LinkFaults::with_latency(ms(10))
            },
        );
    });
}

#[test]
fn independent_loss() {
    for_seeds(SEEDS, |seed| {
        let (_, c) = bulk_over(
            seed,
            LinkFaults {
                loss: LossModel::Independent {
                    rate: Probability::percent(3),
                },
                ..LinkFaults::with_latency(ms(5))
            },
        );
        assert!(c.lost > 0, "nothing was lost");
    });
}

#[test]
fn bursty_loss() {
    for_seeds(SEEDS, |seed| {
        let (_, c) = bulk_over(
            seed,
            LinkFaults {
                // Mean burst 2.5 frames; see `every_fault_at_once` on why not longer.
                loss: LossModel::GilbertElliott {
                    good_to_bad: Probability::percent(5),
                    bad_to_good: Probability::percent(40),
                    loss_in_good: Probability::per_million(5_000),
                    loss_in_bad: Probability::percent(50),
                },
                ..LinkFaults::with_latency(ms(5))
            },
        );
        assert!(c.lost > 0, "nothing was lost");
    });
}

#[test]
fn reordering() {
    for_seeds(SEEDS, |seed| {
        let (_, c) = bulk_over(
            seed,
            LinkFaults {
                reorder: Probability::percent(10),
                reorder_delay: ms(8),
                ..LinkFaults::with_latency(ms(2))
            },
        );
        assert!(c.reordered > 0, "nothing was reordered");
    });
}

#[test]
fn duplication() {
    for_seeds(SEEDS, |seed| {
        let (_, c) = bulk_over(
            seed,
            LinkFaults {
                duplicate: Probability::percent(5),
                ..LinkFaults::with_latency(ms(2))
            },
        );
        assert!(c.duplicated > 0, "nothing was duplicated");
    });
}

/// Total checksum failures the host's IP, TCP and ICMP layers counted.
fn checksum_drops(p: &mut Pair) -> u64 {
    let mut total = 0;
    for node in [p.client, p.server] {
        total += p
            .sim
            .with_node::<Host, _>(node, |h, _| {
                let c = h.counters();
                c.drops(HostDrop::IpBadChecksum)
                    + c.drops(HostDrop::TcpBadChecksum)
                    + c.drops(HostDrop::IcmpBadChecksum)
                    + c.drops(HostDrop::IpMalformed)
                    + c.drops(HostDrop::TcpMalformed)
                    + c.drops(HostDrop::EthernetNotForUs)
                    + c.drops(HostDrop::EthernetUnknownType)
                    + c.drops(HostDrop::EthernetMalformed)
                    + c.drops(HostDrop::ArpMalformed)
                    + c.drops(HostDrop::IpNotForUs)
                    + c.drops(HostDrop::IpMartianSource)
                    + c.drops(HostDrop::IpBadVersion)
            })
            .expect("the host is up");
    }
    total
}

#[test]
fn corruption_with_the_frame_check_sequence_off() {
    for_seeds(SEEDS, |seed| {
        let (mut p, c) = bulk_over_with(
            seed,
            LinkFaults {
                corrupt: Probability::percent(3),
                ..LinkFaults::with_latency(ms(2))
            },
            |p| p.sim.set_fcs_check(false),
        );
        assert!(c.corrupted > 0, "nothing was corrupted");
        // Every flipped bit reached a host, which caught it (a bit flip in the Ethernet
        // header or a payload byte shows as one of these; content was checked above).
        let caught = checksum_drops(&mut p);
        assert!(caught > 0, "no host saw a corrupted frame");
    });
}

#[test]
fn a_thin_pipe_with_a_small_queue() {
    for_seeds(SEEDS, |seed| {
        let (_, c) = bulk_over(
            seed,
            LinkFaults {
                bandwidth_bps: Some(10_000_000),
                queue_limit_bytes: 16 * 1024,
                ..LinkFaults::with_latency(ms(5))
            },
        );
        assert!(c.queue_dropped > 0, "the queue never overflowed");
    });
}

#[test]
fn a_core_link_with_a_smaller_mtu_needs_path_mtu_discovery() {
    for_seeds(SEEDS, |seed| {
        let mut r = routed(
            seed,
            1000,
            LinkFaults::with_latency(ms(1)),
            LinkFaults::with_latency(ms(5)),
        );
        let t = spawn_bulk(&mut r.sim, r.client, r.server, ROUTED_SERVER, BULK);
        t.run_and_check(&mut r.sim, BUDGET);
        let core = r.sim.link_counters(r.core, Direction::Both);
        assert_eq!(
            core.oversize, 0,
            "the routers never put a too-big frame on the core"
        );
        for (end, router, far) in [
            (r.client, r.r1, ROUTED_SERVER.ip()),
            (r.server, r.r2, &std::net::Ipv4Addr::new(10, 0, 1, 2)),
        ] {
            let (too_big, fragmented) = r
                .sim
                .with_node::<Host, _>(router, |h, _| {
                    let c = h.counters();
                    (c.drops(HostDrop::IpFragNeeded), c.ip.fragmented)
                })
                .unwrap();
            assert!(too_big > 0, "the router sent no fragmentation-needed");
            // The connection shrank its segments: nothing needed fragmenting afterwards.
            assert_eq!(fragmented, 0, "the router fragmented TCP segments");
            let (updates, pmtu) = r
                .sim
                .with_node::<Host, _>(end, |h, now| {
                    (h.counters().icmp.pmtu_updates, h.path_mtu(now, *far))
                })
                .unwrap();
            assert!(updates > 0, "the path MTU was never lowered");
            assert_eq!(pmtu, Some(1000));
        }
    });
}

#[test]
fn clogging_holds_frames_for_seconds_and_loses_none() {
    for_seeds(SEEDS, |seed| {
        let (mut p, _) = bulk_over_with(seed, LinkFaults::with_latency(ms(2)), |p| {
            let link = p.sim.link_name(p.link);
            let clog = |direction| FaultChange::Clog {
                link: link.clone(),
                direction,
            };
            let unclog = |direction| FaultChange::Unclog {
                link: link.clone(),
                direction,
            };
            // Both ways early in the transfer, longer than an RTO; then only the ACKs.
            let plan = FaultPlan::new()
                .at(Instant::from_millis(30), clog(Direction::Both))
                .at(Instant::from_millis(3_030), unclog(Direction::Both))
                .at(Instant::from_millis(3_100), clog(Direction::BToA))
                .at(Instant::from_millis(4_600), unclog(Direction::BToA));
            p.sim.apply_plan(&plan).unwrap();
        });
        // The transfer can finish inside the last clog (ACKs held until 4.6 s): count once
        // every held frame has been released and has landed.
        let after_last_unclog = Instant::from_millis(4_600) + Duration::from_secs(1);
        if p.sim.now() < after_last_unclog {
            p.sim.run_until(after_last_unclog).unwrap();
        }
        let c = p.sim.link_counters(p.link, Direction::Both);
        assert!(c.held > 0, "nothing was held");
        assert_eq!(c.offered, c.arrived, "clogging loses nothing");
        assert_eq!(c.lost + c.queue_dropped + c.down_dropped, 0);
    });
}

/// Everything at once, on every link of the routed topology: heavy-tailed latency, jitter,
/// bursty loss, reordering, duplication, corruption past the FCS, a thin pipe with a small
/// queue, a narrow core, and a clog.
#[test]
fn every_fault_at_once() {
    let faults = LinkFaults {
        latency: LatencyDist::LogNormal {
            median: ms(3),
            sigma: 0.5,
            max: ms(100),
        },
        jitter: ms(2),
        // Bursts are counted in frames, not time: on an idle link a bad state lasts until
        // enough frames pass, so harsher settings can legitimately hold a sparse stream of
        // retransmissions under for longer than R2 (100 s) and end the connection.
        loss: LossModel::GilbertElliott {
            good_to_bad: Probability::percent(1),
            bad_to_good: Probability::percent(40),
            loss_in_good: Probability::per_million(1_000),
            loss_in_bad: Probability::percent(40),
        },
        reorder: Probability::percent(2),
        reorder_delay: ms(5),
        duplicate: Probability::percent(1),
        corrupt: Probability::percent(1),
        bandwidth_bps: Some(20_000_000),
        queue_limit_bytes: 32 * 1024,
        ..LinkFaults::default()
    };
    for_seeds(SEEDS, |seed| {
        let mut r = routed(seed, 1000, faults.clone(), faults.clone());
        r.sim.set_fcs_check(false);
        let t = spawn_bulk(&mut r.sim, r.client, r.server, ROUTED_SERVER, BULK);
        // Clog the core for 1.5 s once the transfer is under way (50 frames across it).
        let (core, core_name) = (r.core, r.sim.link_name(r.core));
        common::run_until(&mut r.sim, BUDGET, |s| {
            s.link_counters(core, Direction::AToB).offered >= 50
        });
        let clog = |clogged: bool| {
            let (link, direction) = (core_name.clone(), Direction::Both);
            if clogged {
                FaultChange::Clog { link, direction }
            } else {
                FaultChange::Unclog { link, direction }
            }
        };
        r.sim.apply(clog(true)).unwrap();
        r.sim.run_for(Duration::from_millis(1_500)).unwrap();
        r.sim.apply(clog(false)).unwrap();
        t.run_and_check(&mut r.sim, BUDGET);
        let mut total = LinkCounters::default();
        for link in [r.edge_a, r.core, r.edge_b] {
            let c = r.sim.link_counters(link, Direction::Both);
            total.lost += c.lost;
            total.reordered += c.reordered;
            total.duplicated += c.duplicated;
            total.corrupted += c.corrupted;
            total.held += c.held;
        }
        assert!(
            total.lost > 0
                && total.reordered > 0
                && total.duplicated > 0
                && total.corrupted > 0
                && total.held > 0,
            "some fault never fired: {total:?}"
        );
    });
}

/// The named whole-network profiles, each under several seeds.
#[test]
fn every_named_profile() {
    for_seeds(SEEDS, |seed| {
        for name in FaultProfile::NAMES {
            let profile = FaultProfile::by_name(name).unwrap();
            let (mut p, _) = bulk_over_with(seed, LinkFaults::default(), |p| {
                p.sim.apply_profile(&profile);
            });
            if profile.faults.corrupt > Probability::NEVER {
                // The FCS is on: corrupted frames never reach a host.
                assert_eq!(checksum_drops(&mut p), 0, "{name}");
            }
        }
    });
}

/// Swarm testing: a random mix of fault kinds and strengths per seed.
#[test]
fn random_fault_profiles() {
    for_seeds(&[11, 12, 13, 14, 15, 16, 17, 18], |seed| {
        let mut faults = FaultProfile::random(&mut seed.stream("e2e/profile")).faults;
        // Bursts are counted in frames, and an idle link keeps its state: a long, deep
        // burst can hold a sparse stream of retransmissions under for longer than R2 and
        // end the connection (correctly). Cap bursts so that the transfer must complete.
        if let LossModel::GilbertElliott {
            bad_to_good,
            loss_in_bad,
            ..
        } = &mut faults.loss
        {
            *bad_to_good = (*bad_to_good).max(Probability::percent(30));
            *loss_in_bad = (*loss_in_bad).min(Probability::percent(50));
        }
        let mut p = pair(seed, faults);
        p.sim.set_fcs_check(false);
        let t = spawn_bulk(&mut p.sim, p.client, p.server, SERVER, BULK);
        t.run_and_check(&mut p.sim, Duration::from_secs(3600));
    });
}
