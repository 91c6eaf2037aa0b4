//! Issue 5, benchmark 2: TCP quality in simulated time (not wall time), printed once.
//!
//! - 100 Mbit/s, 20 ms RTT, a queue of one bandwidth-delay product (250 KB): link
//!   utilisation after slow start (goal 95% or more);
//! - the same link with 1% random loss on the data direction: goodput against the Mathis
//!   estimate MSS/RTT x 1.22/sqrt(p) (goal 0.8 or more);
//! - 200 us RTT, no bandwidth limit, 1% loss: sansnet and smoltcp side by side against the
//!   same estimate.
// A benchmark measures wall-clock time; the stack and simulator never read it.
#![allow(clippy::disallowed_methods)]

#[path = "support/mod.rs"]
mod support;

use sansnet_sim::{Direction, Duration, LinkFaults, LinkId, LossModel, NodeId, Probability, Sim};
use support::{pair, progress, Stack};

const MBIT: u64 = 1_000_000;

struct Window {
    goodput_bps: f64,
    wire_bps: f64,
}

/// Runs a sender forever; measures the sink's goodput and the data direction's wire rate
/// between `from` and `to` (simulated, after the connection starts).
fn measure(
    sim: &mut Sim,
    stack: Stack,
    b: NodeId,
    link: LinkId,
    from: Duration,
    to: Duration,
) -> Window {
    let mut limits = sim.limits();
    limits.max_steps = u64::MAX;
    sim.set_limits(limits);
    let t0 = sim.now();
    sim.run_until(t0 + from).unwrap();
    let r1 = progress(sim, stack, b).received;
    let w1 = sim.link_counters(link, Direction::AToB).arrived_bytes;
    sim.run_until(t0 + to).unwrap();
    let r2 = progress(sim, stack, b).received;
    let w2 = sim.link_counters(link, Direction::AToB).arrived_bytes;
    let secs = (to - from).as_secs_f64();
    Window {
        goodput_bps: (r2 - r1) as f64 * 8.0 / secs,
        wire_bps: (w2 - w1) as f64 * 8.0 / secs,
    }
}

fn mathis_bps(mss: f64, rtt: Duration, p: f64) -> f64 {
    mss * 8.0 / rtt.as_secs_f64() * 1.22 / p.sqrt()
}

fn loss(pct: u32) -> LossModel {
    LossModel::Independent {
        rate: Probability::percent(pct),
    }
}

fn main() {
    // Criterion's harness flags (`--bench`) are accepted and ignored: this prints figures.
    let wall = std::time::Instant::now();
    let one_way = Duration::from_millis(10);
    let rtt = one_way * 2;
    let bps = 100 * MBIT;
    let bdp_bytes = bps / 8 * 20 / 1000;
    let mut wan = LinkFaults::with_latency(one_way);
    wan.bandwidth_bps = Some(bps);
    wan.queue_limit_bytes = bdp_bytes;

    // Utilisation after slow start, with the host's default buffers and with 1 MiB ones.
    for buffers in [None, Some(1 << 20)] {
        let (mut sim, _a, b, link) = pair(Stack::Sansnet, 1, u64::MAX, wan.clone(), buffers);
        let w = measure(
            &mut sim,
            Stack::Sansnet,
            b,
            link,
            Duration::from_secs(5),
            Duration::from_secs(35),
        );
        let util = w.wire_bps / bps as f64;
        println!(
            "quality/utilisation: 100 Mbit/s, 20 ms RTT, {bdp_bytes} B queue, buffers {}: \
             wire {:.1} Mbit/s = {:.1}% of the link, goodput {:.1} Mbit/s, from 5 s to 35 s \
             (goal >= 95%: {}); queue drops {}",
            buffers.map_or("default (256 KiB)".to_owned(), |n| format!(
                "{} KiB",
                n >> 10
            )),
            w.wire_bps / 1e6,
            util * 100.0,
            w.goodput_bps / 1e6,
            if util >= 0.95 { "met" } else { "MISSED" },
            sim.link_counters(link, Direction::AToB).queue_dropped
        );
    }

    // 1% random loss on the data direction: goodput against Mathis. The MSS is the payload
    // of a full segment with timestamps (1448 bytes).
    for buffers in [None, Some(1 << 20)] {
        let (mut sim, _a, b, link) = pair(Stack::Sansnet, 2, u64::MAX, wan.clone(), buffers);
        let mut lossy = wan.clone();
        lossy.loss = loss(1);
        sim.set_link_faults(link, Direction::AToB, lossy);
        let w = measure(
            &mut sim,
            Stack::Sansnet,
            b,
            link,
            Duration::from_secs(5),
            Duration::from_secs(125),
        );
        let m = mathis_bps(1448.0, rtt, 0.01);
        println!(
            "quality/mathis: 100 Mbit/s, 20 ms RTT, 1% loss, buffers {}: goodput {:.2} Mbit/s, \
             Mathis {:.2} Mbit/s: {:.2} of the estimate (goal >= 0.8: {}); lost {}",
            buffers.map_or("default".to_owned(), |n| format!("{} KiB", n >> 10)),
            w.goodput_bps / 1e6,
            m / 1e6,
            w.goodput_bps / m,
            if w.goodput_bps / m >= 0.8 {
                "met"
            } else {
                "MISSED"
            },
            sim.link_counters(link, Direction::AToB).lost
        );
    }

    // 200 us RTT, no bandwidth limit, 1% loss (data direction): sansnet next to smoltcp.
    // Then with the loss on both directions (ACKs too).
    let lan = LinkFaults::with_latency(Duration::from_micros(100));
    for (dir, stack) in [
        (Direction::AToB, Stack::Sansnet),
        (Direction::AToB, Stack::Smoltcp),
        (Direction::Both, Stack::Sansnet),
        (Direction::Both, Stack::Smoltcp),
    ] {
        let (mut sim, _a, b, link) = pair(stack, 3, u64::MAX, lan.clone(), None);
        let mut lossy = lan.clone();
        lossy.loss = loss(1);
        sim.set_link_faults(link, dir, lossy);
        let w = measure(
            &mut sim,
            stack,
            b,
            link,
            Duration::from_secs(1),
            Duration::from_secs(11),
        );
        let m = mathis_bps(1448.0, Duration::from_micros(200), 0.01);
        println!(
            "quality/mathis_200us: {stack:?}: 200 us RTT, no bandwidth limit, 1% loss ({}): \
             goodput {:.2} Mbit/s, Mathis {:.1} Mbit/s: {:.4} of the estimate ({:.2}%)",
            if dir == Direction::Both {
                "both directions"
            } else {
                "data direction"
            },
            w.goodput_bps / 1e6,
            m / 1e6,
            w.goodput_bps / m,
            w.goodput_bps / m * 100.0
        );
        if stack == Stack::Sansnet {
            // How often the sink acknowledges: RFC 5681 4.2 asks for an ACK per two full
            // segments at least; a larger ratio means stretch ACKs, which slow recovery.
            let mut out = |node| {
                sim.with_node::<support::HostApp, _>(node, |h, _| {
                    h.host.counters().tcp.segments_out
                })
                .expect("node is up")
            };
            let (data, acks) = (out(_a), out(b));
            println!(
                "quality/mathis_200us:   sender sent {data} segments, sink {acks}: one ACK per \
                 {:.1} segments",
                data as f64 / acks.max(1) as f64
            );
        }
    }
    println!("quality: wall time {:.1} s", wall.elapsed().as_secs_f64());
}
