//! Shared scaffolding: two scripted nodes on one link, a sender and a receiver.
#![allow(dead_code)]

use sansnet_sim::scripted::{frame_tag, test_frame, Scripted};
use sansnet_sim::{Duration, Instant, LinkFaults, LinkId, NodeId, Seed, Sim};

/// A sender `tx` and a receiver `rx` joined by one link with `faults` both ways. `tx` sends
/// `frames` frames of `payload` bytes, one every `interval`, starting at 1 ms; the frame
/// with tag `i` is the i-th.
pub struct Pair {
    pub sim: Sim,
    pub tx: NodeId,
    pub rx: NodeId,
    pub link: LinkId,
}

pub fn pair(
    seed: u64,
    faults: LinkFaults,
    frames: u64,
    interval: Duration,
    payload: usize,
) -> Pair {
    let mut sim = Sim::new(Seed(seed));
    let tx_mac = sansnet_sim::naming::mac_for("tx", 0);
    let rx_mac = sansnet_sim::naming::mac_for("rx", 0);
    let mut sender = Scripted::new();
    for i in 0..frames {
        let at = Instant::from_millis(1) + interval * i as u32;
        sender.push_send(at, 0, test_frame(tx_mac, rx_mac, i, payload));
    }
    let tx = sim.add_node("tx", 1, sender);
    let rx = sim.add_node("rx", 1, Scripted::new());
    let link = sim.connect(sim.nic(tx, 0), sim.nic(rx, 0), faults);
    Pair { sim, tx, rx, link }
}

/// `(arrival, tag)` of every frame `node` received, in arrival order.
pub fn received(sim: &mut Sim, node: NodeId) -> Vec<(Instant, u64)> {
    sim.with_node::<Scripted, _>(node, |s, _| {
        s.received()
            .iter()
            .map(|r| (r.at, frame_tag(&r.bytes).unwrap_or(u64::MAX)))
            .collect()
    })
    .unwrap_or_default()
}

pub fn tags(sim: &mut Sim, node: NodeId) -> Vec<u64> {
    received(sim, node).into_iter().map(|(_, t)| t).collect()
}
