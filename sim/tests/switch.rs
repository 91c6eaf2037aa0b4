//! Learning switches: flood unknown and broadcast, learn sources, forward known.

mod common;

use common::tags;
use pretty_assertions::assert_eq;
use sansnet_sim::scripted::{test_frame, Scripted};
use sansnet_sim::stack::wire::EthernetAddress;
use sansnet_sim::{Instant, LinkFaults, Seed, Sim};

#[test]
fn a_switch_floods_until_it_learns_then_forwards_to_one_port() {
    let mut sim = Sim::new(Seed(30));
    let mac = |n: &str| sansnet_sim::naming::mac_for(n, 0);
    let a = Scripted::new()
        .send_at(
            Instant::from_millis(1),
            0,
            test_frame(mac("a"), mac("b"), 1, 8),
        )
        .send_at(
            Instant::from_millis(3),
            0,
            test_frame(mac("a"), mac("b"), 3, 8),
        )
        .send_at(
            Instant::from_millis(4),
            0,
            test_frame(mac("a"), EthernetAddress::BROADCAST, 4, 8),
        );
    let b = Scripted::new().send_at(
        Instant::from_millis(2),
        0,
        test_frame(mac("b"), mac("a"), 2, 8),
    );
    let (na, nb, nc) = (
        sim.add_node("a", 1, a),
        sim.add_node("b", 1, b),
        sim.add_node("c", 1, Scripted::new()),
    );
    let sw = sim.add_switch("sw");
    for n in [na, nb, nc] {
        sim.connect(sim.nic(n, 0), sw, LinkFaults::default());
    }
    sim.run_until_idle().unwrap();
    // 1: unknown destination, flooded to b and c. 2: a was learned, so only a gets it.
    // 3: b was learned. 4: broadcast, flooded.
    assert_eq!(tags(&mut sim, nb), vec![1, 3, 4]);
    assert_eq!(tags(&mut sim, na), vec![2]);
    assert_eq!(tags(&mut sim, nc), vec![1, 4]);
    let c = sim.switch_counters(sw);
    assert_eq!((c.flooded, c.forwarded), (2, 2));
    let mut table = sim.switch_table(sw);
    table.sort();
    let mut want = vec![(mac("a"), 0), (mac("b"), 1)];
    want.sort();
    assert_eq!(table, want);
}

#[test]
fn a_full_mac_table_evicts_the_stalest_entry() {
    let mut sim = Sim::new(Seed(31));
    let mac = |n: &str| sansnet_sim::naming::mac_for(n, 0);
    let sw = sim.add_switch("sw");
    sim.set_mac_table_limit(sw, 2);
    let names = ["a", "b", "c"];
    for (i, n) in names.iter().enumerate() {
        let s = Scripted::new().send_at(
            Instant::from_millis(i as u64 + 1),
            0,
            test_frame(mac(n), EthernetAddress::BROADCAST, i as u64, 8),
        );
        let node = sim.add_node(n, 1, s);
        sim.connect(sim.nic(node, 0), sw, LinkFaults::default());
    }
    sim.run_until_idle().unwrap();
    let learned: Vec<EthernetAddress> = sim.switch_table(sw).into_iter().map(|e| e.0).collect();
    assert_eq!(learned.len(), 2);
    assert!(!learned.contains(&mac("a")), "a was the stalest");
    assert_eq!(sim.switch_counters(sw).evicted, 1);
}
