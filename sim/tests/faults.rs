//! Each link fault does what it says, measured on scripted endpoints. Runs are
//! deterministic, so counts are exact for the fixed seed; the tolerance checks say why the
//! exact number is plausible.

mod common;

use common::{pair, received, tags};
use pretty_assertions::assert_eq;
use sansnet_sim::scripted::{test_frame, udp_frame, Scripted};
use sansnet_sim::stack::wire::{ipv4, udp, ChecksumMode};
use sansnet_sim::{
    Direction, Duration, Instant, LatencyDist, LinkFaults, LossModel, Probability, Seed, Sim,
};

const N: u64 = 10_000;
const EVERY: Duration = Duration::from_micros(100);

fn send_time(tag: u64) -> Instant {
    Instant::from_millis(1) + EVERY * tag as u32
}

/// Each fault kind draws from its own stream: switching reordering and duplication on
/// changes no loss decision, so a shrinker that removes one kind keeps the others' effects.
#[test]
fn fault_kinds_draw_independently() {
    let loss = LossModel::Independent {
        rate: Probability::percent(10),
    };
    let lost_tags = |faults: LinkFaults| {
        let mut p = pair(11, faults, N, EVERY, 32);
        p.sim.run_until_idle().unwrap();
        let mut got = tags(&mut p.sim, p.rx);
        got.sort_unstable();
        got.dedup();
        (0..N)
            .filter(|t| got.binary_search(t).is_err())
            .collect::<Vec<u64>>()
    };
    let alone = lost_tags(LinkFaults {
        loss: loss.clone(),
        ..LinkFaults::default()
    });
    let with_others = lost_tags(LinkFaults {
        loss,
        reorder: Probability::percent(5),
        duplicate: Probability::percent(5),
        jitter: Duration::from_micros(300),
        ..LinkFaults::default()
    });
    assert!(alone.len() > 900, "lost {}", alone.len());
    assert_eq!(alone, with_others);
}

#[test]
fn independent_loss_drops_its_share() {
    let faults = LinkFaults {
        loss: LossModel::Independent {
            rate: Probability::percent(10),
        },
        ..LinkFaults::default()
    };
    let mut p = pair(1, faults, N, EVERY, 32);
    p.sim.run_until_idle().unwrap();
    let c = p.sim.link_counters(p.link, Direction::AToB);
    assert!((900..1100).contains(&c.lost), "lost {}", c.lost);
    assert_eq!(c.lost, 1003);
    assert_eq!(tags(&mut p.sim, p.rx).len() as u64, N - c.lost);
}

/// Lengths of runs of consecutive lost tags.
fn loss_bursts(got: &[u64]) -> Vec<u64> {
    let mut bursts = Vec::new();
    let mut expect = 0;
    for &t in got.iter().chain(std::iter::once(&N)) {
        if t > expect {
            bursts.push(t - expect);
        }
        expect = t + 1;
    }
    bursts
}

#[test]
fn gilbert_elliott_loss_comes_in_bursts() {
    // Stationary bad-state share p / (p + r) = 1/11; loss ~ 0.5 / 11 = 4.5 %, mean burst
    // length well above the 1.05 of independent loss at that rate.
    let faults = LinkFaults {
        loss: LossModel::GilbertElliott {
            good_to_bad: Probability::percent(2),
            bad_to_good: Probability::percent(20),
            loss_in_good: Probability::NEVER,
            loss_in_bad: Probability::percent(50),
        },
        ..LinkFaults::default()
    };
    let mut p = pair(2, faults, N, EVERY, 32);
    p.sim.run_until_idle().unwrap();
    let got = tags(&mut p.sim, p.rx);
    let bursts = loss_bursts(&got);
    let lost: u64 = bursts.iter().sum();
    assert_eq!(lost, p.sim.link_counters(p.link, Direction::AToB).lost);
    assert!((300..700).contains(&lost), "lost {lost}");
    let longest = bursts.iter().copied().max().unwrap_or(0);
    assert!(longest >= 5, "longest burst {longest}");
    assert_eq!((lost, bursts.len() as u64, longest), (431, 258, 6));
}

#[test]
fn constant_latency_is_exact_and_uniform_latency_stays_in_range() {
    let mut p = pair(
        3,
        LinkFaults::with_latency(Duration::from_millis(7)),
        100,
        EVERY,
        32,
    );
    p.sim.run_until_idle().unwrap();
    for (at, tag) in received(&mut p.sim, p.rx) {
        assert_eq!(at - send_time(tag), Duration::from_millis(7));
    }
    let faults = LinkFaults {
        latency: LatencyDist::Uniform {
            min: Duration::from_millis(2),
            max: Duration::from_millis(4),
        },
        ..LinkFaults::default()
    };
    // Sends every 10 ms so that FIFO ordering never stretches a delay.
    let mut p = pair(3, faults, 1000, Duration::from_millis(10), 32);
    p.sim.run_until_idle().unwrap();
    let delays: Vec<u64> = received(&mut p.sim, p.rx)
        .into_iter()
        .map(|(at, tag)| {
            (at - (Instant::from_millis(1) + Duration::from_millis(10 * tag))).as_micros() as u64
        })
        .collect();
    assert!(delays.iter().all(|&d| (2_000..=4_000).contains(&d)));
    let mean = delays.iter().sum::<u64>() / delays.len() as u64;
    assert!((2_900..3_100).contains(&mean), "mean {mean}");
}

fn sample_stats(dist: &LatencyDist, seed: u64) -> (u64, u64, u64) {
    let mut rng = Seed(seed).stream("latency-test");
    let mut samples: Vec<u64> = (0..20_000)
        .map(|_| dist.sample(&mut rng).as_micros() as u64)
        .collect();
    samples.sort_unstable();
    let mean = samples.iter().sum::<u64>() / samples.len() as u64;
    (
        mean,
        samples[samples.len() / 2],
        samples[samples.len() * 999 / 1000],
    )
}

#[test]
fn normal_latency_has_its_mean_and_spread() {
    let dist = LatencyDist::Normal {
        mean: Duration::from_millis(30),
        std_dev: Duration::from_millis(5),
    };
    let (mean, median, p999) = sample_stats(&dist, 4);
    assert!((29_800..30_200).contains(&mean), "mean {mean}");
    assert!((29_800..30_200).contains(&median), "median {median}");
    // 3.09 sigma for a true normal; Irwin-Hall's tails are a little lighter.
    assert!((44_000..46_500).contains(&p999), "p99.9 {p999}");
}

#[test]
fn pareto_and_log_normal_latencies_are_heavy_tailed_and_capped() {
    let pareto = LatencyDist::Pareto {
        scale: Duration::from_millis(1),
        shape: 1.5,
        max: Duration::from_secs(1),
    };
    let (_, median, p999) = sample_stats(&pareto, 5);
    // Median x_m * 2^(1/1.5) = 1.587 ms; p99.9 x_m * 1000^(1/1.5) = 100 ms.
    assert!((1_500..1_680).contains(&median), "median {median}");
    assert!((70_000..140_000).contains(&p999), "p99.9 {p999}");
    let mut rng = Seed(5).stream("cap");
    assert!((0..100_000).all(|_| pareto.sample(&mut rng) <= Duration::from_secs(1)));

    let log_normal = LatencyDist::LogNormal {
        median: Duration::from_millis(5),
        sigma: 0.5,
        max: Duration::from_millis(200),
    };
    let (mean, median, _) = sample_stats(&log_normal, 6);
    // Mean e^(sigma^2 / 2) = 1.133 times the median.
    assert!((4_900..5_100).contains(&median), "median {median}");
    assert!((5_550..5_800).contains(&mean), "mean {mean}");
}

#[test]
fn jitter_varies_delay_but_keeps_frames_in_order() {
    let faults = LinkFaults {
        latency: LatencyDist::Constant {
            latency: Duration::from_millis(1),
        },
        jitter: Duration::from_millis(2),
        ..LinkFaults::default()
    };
    let mut p = pair(7, faults, 1000, EVERY, 32);
    p.sim.run_until_idle().unwrap();
    let got = received(&mut p.sim, p.rx);
    let in_order: Vec<u64> = (0..1000).collect();
    assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), in_order);
    let delays: Vec<Duration> = got.iter().map(|&(at, tag)| at - send_time(tag)).collect();
    assert!(delays.iter().all(|&d| d >= Duration::from_millis(1)));
    assert!(delays.iter().any(|&d| d > Duration::from_micros(2_500)));
}

#[test]
fn reordering_lets_later_frames_overtake() {
    let faults = LinkFaults {
        latency: LatencyDist::Constant {
            latency: Duration::from_millis(1),
        },
        reorder: Probability::percent(5),
        reorder_delay: Duration::from_millis(1),
        ..LinkFaults::default()
    };
    let mut p = pair(8, faults, N, EVERY, 32);
    p.sim.run_until_idle().unwrap();
    let got = tags(&mut p.sim, p.rx);
    assert_eq!(got.len() as u64, N, "reordering loses nothing");
    let c = p.sim.link_counters(p.link, Direction::AToB);
    assert!(
        (400..600).contains(&c.reordered),
        "reordered {}",
        c.reordered
    );
    assert_eq!(c.reordered, 451);
    // Every held-back frame is overtaken by the ones sent during its extra millisecond,
    // and no other frame is: a frame is late when a later-sent one arrived before it.
    let mut highest = 0;
    let late = got
        .iter()
        .filter(|&&t| {
            let overtaken = t < highest;
            highest = highest.max(t);
            overtaken
        })
        .count() as u64;
    assert_eq!(late, c.reordered);
}

#[test]
fn duplication_delivers_extra_copies() {
    let faults = LinkFaults {
        duplicate: Probability::percent(3),
        ..LinkFaults::default()
    };
    let mut p = pair(9, faults, N, EVERY, 32);
    p.sim.run_until_idle().unwrap();
    let got = tags(&mut p.sim, p.rx);
    let c = p.sim.link_counters(p.link, Direction::AToB);
    assert!(
        (250..350).contains(&c.duplicated),
        "duplicated {}",
        c.duplicated
    );
    assert_eq!(c.duplicated, 293);
    assert_eq!(got.len() as u64, N + c.duplicated);
    let mut unique = got.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len() as u64, N);
}

/// A sender of `n` UDP datagrams to `rx` with corruption on the link, FCS as given, one
/// every `every` (`ZERO`: all at one instant, arriving as one train).
fn corrupting_udp_run(
    fcs: bool,
    n: u16,
    every: Duration,
) -> (Sim, sansnet_sim::NodeId, sansnet_sim::LinkId, Vec<Vec<u8>>) {
    let mut sim = Sim::new(Seed(10));
    sim.set_fcs_check(fcs);
    let (a, b) = (
        sansnet_sim::naming::mac_for("tx", 0),
        sansnet_sim::naming::mac_for("rx", 0),
    );
    let (ip_a, ip_b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let mut sender = Scripted::new();
    let mut sent = Vec::new();
    for i in 0..n {
        let frame = udp_frame(a, b, ip_a, ip_b, 4000, 5000, i, &i.to_be_bytes().repeat(50));
        sender.push_send(
            Instant::from_millis(1) + every * u32::from(i),
            0,
            frame.clone(),
        );
        sent.push(frame);
    }
    let tx = sim.add_node("tx", 1, sender);
    let rx = sim.add_node("rx", 1, Scripted::new());
    let faults = LinkFaults {
        corrupt: Probability::percent(10),
        ..LinkFaults::default()
    };
    let link = sim.connect(sim.nic(tx, 0), sim.nic(rx, 0), faults);
    sim.run_until_idle().unwrap();
    (sim, rx, link, sent)
}

#[test]
fn corrupted_frames_fail_the_frame_check_sequence() {
    let (mut sim, rx, link, _) = corrupting_udp_run(true, 2_000, EVERY);
    let corrupted = sim.link_counters(link, Direction::AToB).corrupted;
    assert!((150..250).contains(&corrupted), "corrupted {corrupted}");
    assert_eq!(corrupted, 202);
    assert_eq!(sim.nic_counters(sim.nic(rx, 0)).fcs_dropped, corrupted);
    assert_eq!(tags(&mut sim, rx).len() as u64, 2_000 - corrupted);
}

/// Frames arriving together as one train at a NIC are checked one by one as lone
/// arrivals are: the corrupted ones fail the frame check sequence, the others arrive.
#[test]
fn corrupted_frames_in_a_train_fail_the_frame_check_sequence_too() {
    let (mut sim, rx, link, sent) = corrupting_udp_run(true, 500, Duration::ZERO);
    let ab = sim.link_counters(link, Direction::AToB);
    assert!(
        (30..70).contains(&ab.corrupted),
        "corrupted {}",
        ab.corrupted
    );
    assert_eq!(ab.arrived, 500);
    assert_eq!(sim.nic_counters(sim.nic(rx, 0)).fcs_dropped, ab.corrupted);
    let got: Vec<Vec<u8>> = sim
        .with_node::<Scripted, _>(rx, |s, _| {
            s.received().iter().map(|r| r.bytes.clone()).collect()
        })
        .unwrap();
    assert_eq!(got.len() as u64, 500 - ab.corrupted);
    assert!(
        got.iter().all(|g| sent.contains(g)),
        "a corrupted frame got through"
    );
}

#[test]
fn without_fcs_the_ip_and_udp_checksums_catch_every_flip_past_the_ethernet_header() {
    let (mut sim, rx, link, sent) = corrupting_udp_run(false, 2_000, EVERY);
    let corrupted = sim.link_counters(link, Direction::AToB).corrupted;
    let got: Vec<Vec<u8>> = sim
        .with_node::<Scripted, _>(rx, |s, _| {
            s.received().iter().map(|r| r.bytes.clone()).collect()
        })
        .unwrap();
    assert_eq!(got.len(), sent.len(), "nothing is dropped without an FCS");
    let mut damaged = 0;
    for (got, sent) in got.iter().zip(&sent) {
        if got == sent {
            continue;
        }
        damaged += 1;
        if got[..14] != sent[..14] {
            continue; // MACs and EtherType carry no checksum above the FCS
        }
        let verdict = ipv4::Packet::new_checked(&got[14..]).and_then(|p| {
            let ip = ipv4::Repr::parse(&p, ChecksumMode::Verify)?;
            let d = udp::Packet::new_checked(p.payload())?;
            udp::Repr::parse(&d, ip.src_addr, ip.dst_addr, ChecksumMode::Verify).map(drop)
        });
        assert!(verdict.is_err(), "a flipped bit went unnoticed: {got:02x?}");
    }
    assert_eq!(damaged, corrupted);
}

#[test]
fn bandwidth_serialises_frames_back_to_back_and_tail_drops_past_the_queue() {
    // 1 Mb/s: a 125-byte frame takes exactly 1 ms on the wire.
    let faults = LinkFaults {
        latency: LatencyDist::Constant {
            latency: Duration::from_micros(500),
        },
        bandwidth_bps: Some(1_000_000),
        queue_limit_bytes: 3 * 125,
        ..LinkFaults::default()
    };
    let mut sim = Sim::new(Seed(11));
    let (a, b) = (
        sansnet_sim::naming::mac_for("tx", 0),
        sansnet_sim::naming::mac_for("rx", 0),
    );
    let mut sender = Scripted::new();
    for tag in 0..5 {
        // 14-byte header + 111 bytes = 125 bytes.
        sender.push_send(Instant::from_millis(1), 0, test_frame(a, b, tag, 111));
    }
    sender.push_send(Instant::from_millis(10), 0, test_frame(a, b, 5, 111));
    let tx = sim.add_node("tx", 1, sender);
    let rx = sim.add_node("rx", 1, Scripted::new());
    let link = sim.connect(sim.nic(tx, 0), sim.nic(rx, 0), faults);
    sim.run_until_idle().unwrap();
    assert_eq!(
        received(&mut sim, rx),
        vec![
            (Instant::from_micros(2_500), 0),
            (Instant::from_micros(3_500), 1),
            (Instant::from_micros(4_500), 2),
            // The queue emptied by 4 ms, so frame 5 starts at once.
            (Instant::from_micros(11_500), 5),
        ]
    );
    assert_eq!(sim.link_counters(link, Direction::AToB).queue_dropped, 2);
}

#[test]
fn frames_over_the_mtu_are_dropped_and_counted() {
    let faults = LinkFaults {
        mtu_bytes: Some(1500),
        ..LinkFaults::default()
    };
    let mut sim = Sim::new(Seed(12));
    let (a, b) = (
        sansnet_sim::naming::mac_for("tx", 0),
        sansnet_sim::naming::mac_for("rx", 0),
    );
    let sender = Scripted::new()
        .send_at(Instant::from_millis(1), 0, test_frame(a, b, 0, 1500))
        .send_at(Instant::from_millis(2), 0, test_frame(a, b, 1, 1501));
    let tx = sim.add_node("tx", 1, sender);
    let rx = sim.add_node("rx", 1, Scripted::new());
    let link = sim.connect(sim.nic(tx, 0), sim.nic(rx, 0), faults);
    sim.run_until_idle().unwrap();
    assert_eq!(tags(&mut sim, rx), vec![0]);
    assert_eq!(sim.link_counters(link, Direction::AToB).oversize, 1);
}

#[test]
fn a_direction_that_is_down_drops_everything_one_way_only() {
    let mut sim = Sim::new(Seed(13));
    let (a, b) = (
        sansnet_sim::naming::mac_for("a", 0),
        sansnet_sim::naming::mac_for("b", 0),
    );
    let na = sim.add_node(
        "a",
        1,
        Scripted::new().send_at(Instant::from_millis(1), 0, test_frame(a, b, 1, 8)),
    );
    let nb = sim.add_node(
        "b",
        1,
        Scripted::new().send_at(Instant::from_millis(1), 0, test_frame(b, a, 2, 8)),
    );
    let link = sim.connect(sim.nic(na, 0), sim.nic(nb, 0), LinkFaults::default());
    let down = LinkFaults {
        down: true,
        ..LinkFaults::default()
    };
    sim.set_link_faults(link, Direction::AToB, down);
    sim.run_until_idle().unwrap();
    assert_eq!(tags(&mut sim, nb), Vec::<u64>::new());
    assert_eq!(tags(&mut sim, na), vec![2]);
    assert_eq!(sim.link_counters(link, Direction::AToB).down_dropped, 1);
}

#[test]
fn a_full_receive_ring_drops_the_excess() {
    let mut sim = Sim::new(Seed(14));
    let (a, b) = (
        sansnet_sim::naming::mac_for("tx", 0),
        sansnet_sim::naming::mac_for("rx", 0),
    );
    let mut sender = Scripted::new();
    for tag in 0..10 {
        sender.push_send(Instant::from_millis(1), 0, test_frame(a, b, tag, 8));
    }
    let tx = sim.add_node("tx", 1, sender);
    let rx = sim.add_node("rx", 1, Scripted::new());
    sim.set_nic_rings(sim.nic(rx, 0), 4, 1024);
    sim.set_nic_rings(sim.nic(tx, 0), 1024, 8);
    sim.connect(sim.nic(tx, 0), sim.nic(rx, 0), LinkFaults::default());
    sim.run_until_idle().unwrap();
    // Ten at once: the sender's 8-frame transmit ring drops two, the receiver's 4-frame
    // receive ring drops four more.
    assert_eq!(tags(&mut sim, rx), vec![0, 1, 2, 3]);
    assert_eq!(sim.nic_counters(sim.nic(tx, 0)).tx_ring_dropped, 2);
    assert_eq!(sim.nic_counters(sim.nic(rx, 0)).rx_ring_dropped, 4);
}

/// A direction whose faults are a constant latency and independent loss takes a short path
/// (`FastPath` in the simulator): it must do exactly what the general path does with the
/// same faults. An MTU no frame reaches sends the same frames down the general path, with
/// no draw and no drop of its own, so every arrival, counter and trace record must agree.
#[test]
fn a_plain_direction_behaves_as_the_general_path_does() {
    let loss = |percent| LossModel::Independent {
        rate: Probability::percent(percent),
    };
    let cases = [
        (LossModel::None, Duration::ZERO, Duration::from_micros(100)),
        (
            loss(10),
            Duration::from_micros(250),
            Duration::from_micros(100),
        ),
        // Every frame sent at one instant: a train of arrivals, past the receive ring.
        (loss(30), Duration::from_millis(1), Duration::ZERO),
        (loss(0), Duration::from_micros(5), Duration::from_micros(1)),
    ];
    for (seed, (loss, latency, every)) in cases.into_iter().enumerate() {
        let run = |mtu_bytes: Option<u32>| {
            let faults = LinkFaults {
                latency: LatencyDist::Constant { latency },
                loss: loss.clone(),
                mtu_bytes,
                ..LinkFaults::default()
            };
            let mut p = pair(seed as u64 + 40, faults, 2_000, every, 32);
            p.sim.run_until_idle().unwrap();
            (
                received(&mut p.sim, p.rx),
                p.sim.link_counters(p.link, Direction::AToB),
                p.sim.trace_hash(),
            )
        };
        let (fast, general) = (run(None), run(Some(9_000)));
        assert!(!fast.0.is_empty() && fast.1.arrived > 0, "case {seed}");
        assert_eq!(fast, general, "case {seed}");
    }
}

/// A direction's faults as a property test draws them: a constant latency and independent
/// loss (the short way in), changed once in the middle of the run.
fn plain(loss_percent: u32, latency_us: u64, mtu_bytes: Option<u32>) -> LinkFaults {
    LinkFaults {
        latency: LatencyDist::Constant {
            latency: Duration::from_micros(latency_us),
        },
        loss: LossModel::Independent {
            rate: Probability::percent(loss_percent),
        },
        mtu_bytes,
        ..LinkFaults::default()
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// The short way in and the general one agree frame for frame, whatever the loss,
    /// latency and spacing, across a change of faults in the middle of the run (the
    /// change's own record names the MTU, so the trace hashes are not compared here; the
    /// test above compares them without a change).
    #[test]
    fn a_plain_direction_agrees_with_the_general_path_across_a_change(
        seed in 0u64..1_000,
        (loss_a, loss_b) in (0u32..40, 0u32..40),
        (latency_a, latency_b) in (0u64..2_000, 0u64..2_000),
        every_us in 0u64..300,
        change_ms in 1u64..40,
    ) {
        let run = |mtu_bytes: Option<u32>| {
            let mut p = pair(
                seed,
                plain(loss_a, latency_a, mtu_bytes),
                400,
                Duration::from_micros(every_us),
                32,
            );
            p.sim.run_until(Instant::from_millis(change_ms)).unwrap();
            p.sim.set_link_faults(p.link, Direction::AToB, plain(loss_b, latency_b, mtu_bytes));
            p.sim.run_until_idle().unwrap();
            (
                received(&mut p.sim, p.rx),
                p.sim.link_counters(p.link, Direction::AToB),
            )
        };
        let (fast, general) = (run(None), run(Some(9_000)));
        proptest::prop_assert_eq!(fast, general);
    }
}
