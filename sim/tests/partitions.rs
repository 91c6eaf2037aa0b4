//! Node partitions (one-way, two-way, isolation) and healing; clogging; crash and restart.

mod common;

use common::tags;
use pretty_assertions::assert_eq;
use sansnet_sim::scripted::{test_frame, Scripted};
use sansnet_sim::{
    Direction, DropReason, Duration, FaultChange, FaultPlan, Instant, LinkFaults, NodeId, Seed, Sim,
};

/// `a` and `b` each send a frame to the other every millisecond for 10 ms (tag = ms).
fn chatter() -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(Seed(20));
    let (ma, mb) = (
        sansnet_sim::naming::mac_for("a", 0),
        sansnet_sim::naming::mac_for("b", 0),
    );
    let (mut a, mut b) = (Scripted::new(), Scripted::new());
    for ms in 1..=10 {
        a.push_send(Instant::from_millis(ms), 0, test_frame(ma, mb, ms, 8));
        b.push_send(Instant::from_millis(ms), 0, test_frame(mb, ma, ms, 8));
    }
    let na = sim.add_node("a", 1, a);
    let nb = sim.add_node("b", 1, b);
    sim.connect(
        sim.nic(na, 0),
        sim.nic(nb, 0),
        LinkFaults::with_latency(Duration::from_micros(100)),
    );
    (sim, na, nb)
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn a_one_way_partition_blocks_one_direction_until_healed() {
    let (mut sim, a, b) = chatter();
    let plan = FaultPlan::new()
        .at(
            Instant::from_micros(3_500),
            FaultChange::Partition {
                from: names(&["a"]),
                to: names(&["b"]),
                two_way: false,
            },
        )
        .at(Instant::from_micros(6_500), FaultChange::Heal);
    sim.apply_plan(&plan).unwrap();
    sim.run_until_idle().unwrap();
    assert_eq!(tags(&mut sim, b), vec![1, 2, 3, 7, 8, 9, 10]);
    assert_eq!(tags(&mut sim, a), (1..=10).collect::<Vec<_>>());
    assert_eq!(sim.drops().get(&DropReason::Partitioned), Some(&3));
}

#[test]
fn a_two_way_partition_and_an_isolated_host_block_both_directions() {
    let (mut sim, a, b) = chatter();
    sim.apply_plan(
        &FaultPlan::new()
            .at(
                Instant::from_micros(1_500),
                FaultChange::Partition {
                    from: names(&["a"]),
                    to: names(&["b"]),
                    two_way: true,
                },
            )
            .at(Instant::from_micros(3_500), FaultChange::Heal)
            .at(
                Instant::from_micros(6_500),
                FaultChange::Isolate { node: "b".into() },
            )
            .at(Instant::from_micros(8_500), FaultChange::Heal),
    )
    .unwrap();
    sim.run_until_idle().unwrap();
    assert_eq!(tags(&mut sim, a), vec![1, 4, 5, 6, 9, 10]);
    assert_eq!(tags(&mut sim, b), vec![1, 4, 5, 6, 9, 10]);
}

#[test]
fn a_clogged_link_holds_frames_and_delivers_them_all_when_unclogged() {
    let (mut sim, a, b) = chatter();
    let link = sim
        .link("a/nic0<->b/nic0")
        .expect("links are named after their ends");
    let name = sim.link_name(link);
    sim.apply_plan(
        &FaultPlan::new()
            .at(
                Instant::from_micros(2_500),
                FaultChange::Clog {
                    link: name.clone(),
                    direction: Direction::AToB,
                },
            )
            .at(
                Instant::from_micros(7_000),
                FaultChange::Unclog {
                    link: name,
                    direction: Direction::AToB,
                },
            ),
    )
    .unwrap();
    sim.run_until_idle().unwrap();
    let arrivals = common::received(&mut sim, b);
    assert_eq!(
        arrivals.iter().map(|r| r.1).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    // 3..=6 were held and released together, in order, at the unclog.
    let released: Vec<Instant> = arrivals[2..6].iter().map(|r| r.0).collect();
    assert_eq!(released, vec![Instant::from_millis(7); 4]);
    assert_eq!(sim.link_counters(link, Direction::AToB).held, 4);
    assert_eq!(tags(&mut sim, a).len(), 10, "the other direction flowed");
    assert!(sim.drops().is_empty(), "clogging loses nothing");
}

#[test]
fn a_crashed_node_receives_and_sends_nothing_and_restarts_from_its_factory() {
    let mut sim = Sim::new(Seed(21));
    let (ma, mb) = (
        sansnet_sim::naming::mac_for("a", 0),
        sansnet_sim::naming::mac_for("b", 0),
    );
    let mut a = Scripted::new();
    for ms in 1..=10 {
        a.push_send(Instant::from_millis(ms), 0, test_frame(ma, mb, ms, 8));
    }
    let na = sim.add_node("a", 1, a);
    // b echoes, and (rebuilt) echoes again; each incarnation also announces itself.
    let nb = sim.add_node_with("b", 1, move |ctx| {
        let hello = test_frame(ctx.macs[0], ma, 100 + u64::from(ctx.incarnation), 8);
        Box::new(Scripted::echo().send_at(ctx.now, 0, hello))
    });
    sim.connect(sim.nic(na, 0), sim.nic(nb, 0), LinkFaults::default());
    sim.apply_plan(
        &FaultPlan::new()
            .at(
                Instant::from_micros(3_500),
                FaultChange::Crash { node: "b".into() },
            )
            .at(
                Instant::from_micros(6_500),
                FaultChange::Restart { node: "b".into() },
            ),
    )
    .unwrap();
    sim.run_until(Instant::from_millis(5)).unwrap();
    assert!(!sim.is_up(nb));
    assert_eq!(sim.with_node::<Scripted, _>(nb, |_, _| ()), None);
    sim.run_until_idle().unwrap();
    // Incarnation 0's hello went out before the link existed; incarnation 1's arrives.
    assert_eq!(tags(&mut sim, na), vec![1, 2, 3, 101, 7, 8, 9, 10]);
    assert_eq!(sim.drops().get(&DropReason::NoLink), Some(&1));
    assert_eq!(sim.drops().get(&DropReason::HostDown), Some(&3));
    // The new incarnation remembers nothing from before the crash.
    let seen = sim
        .with_node::<Scripted, _>(nb, |s, _| s.received().len())
        .unwrap();
    assert_eq!(seen, 4);
}

#[test]
fn a_plan_naming_an_unknown_link_is_rejected_before_anything_runs() {
    let (mut sim, _, _) = chatter();
    let err = sim
        .apply_plan(&FaultPlan::new().at(
            Instant::from_millis(1),
            FaultChange::Clog {
                link: "nope".into(),
                direction: Direction::Both,
            },
        ))
        .unwrap_err();
    assert_eq!(err, sansnet_sim::NameError::UnknownLink("nope".into()));
    let err = sim
        .apply(FaultChange::Restart { node: "a".into() })
        .unwrap_err();
    assert_eq!(err, sansnet_sim::NameError::NoFactory("a".into()));
}
