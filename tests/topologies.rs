//! Every built-in scenario runs on every network shape: `direct` (the default, unchanged),
//! `switched:N` (client hosts and the server on one learning switch) and `routed:N:R`
//! (clients and server on two subnets with a chain of routers between them); faults are
//! drawn on each shape's own names; the shrinker simplifies the shape; replay files from
//! before shapes existed still load.

use std::sync::Arc;

use pretty_assertions::assert_eq;
use sansnet::explore::{self, draw_on, fault_count, DrawOptions, ReplayFile, TopologyChoice};
use sansnet::scenario::{
    self, Built, Failure, FailureKind, RunOptions, RunSpec, Scenario, Shape, Workload,
};
use sansnet::topology::Network;
use sansnet_sim::{Direction, Duration, FaultChange, FaultPlan, Instant, LinkFaults, Seed, Sim};
use sansnet_stack::tcp;

const SWITCHED: Shape = Shape::Switched { client_hosts: 3 };
const ROUTED: Shape = Shape::Routed {
    client_hosts: 2,
    routers: 1,
};
const ROUTED_TWO_HOPS: Shape = Shape::Routed {
    client_hosts: 2,
    routers: 2,
};

fn no_draw() -> DrawOptions {
    DrawOptions {
        profile: None,
        planted: None,
        ..Default::default()
    }
}

/// `scenario`'s default run on `shape` with no faults at all (but what the scenario always
/// includes, such as partition-heals' partition).
fn clean(scenario: &str, shape: Shape) -> RunSpec {
    let sc = scenario::lookup(scenario).expect("built in");
    let workload = sc.default_workload();
    let names = sc.topology(&workload, &shape);
    RunSpec {
        scenario: scenario.to_owned(),
        seed: 1,
        profile: "ideal".to_owned(),
        plan: sansnet::scenarios::required_plan(scenario, &names),
        workload,
        topology: shape,
        heal_at_ms: explore::HEAL_AT_MS,
        progress_bound_ms: explore::PROGRESS_BOUND_MS,
        fcs_check: true,
        planted: None,
    }
}

fn names() -> Vec<String> {
    scenario::all()
        .iter()
        .map(|s| s.name().to_owned())
        .collect()
}

#[test]
fn every_scenario_passes_on_every_shape_over_a_clean_network() {
    for name in names() {
        for shape in [Shape::Direct, SWITCHED, ROUTED, ROUTED_TWO_HOPS] {
            let outcome = scenario::run(&clean(&name, shape));
            assert_eq!(outcome.result, Ok(()), "{name} on {shape}");
        }
    }
}

fn passes_under_drawn_faults(shape: Shape, seeds: std::ops::Range<u64>) {
    for name in names() {
        let sc = scenario::lookup(&name).unwrap();
        for seed in seeds.clone() {
            let spec = draw_on(sc.as_ref(), seed, &no_draw(), &shape.into());
            assert_eq!(spec.topology, shape);
            let outcome = scenario::run(&spec);
            assert_eq!(
                outcome.result,
                Ok(()),
                "{}\nreplay: {}",
                explore::one_line(&spec),
                explore::replay_command(&spec)
            );
        }
    }
}

#[test]
fn every_scenario_passes_on_switched_under_drawn_faults() {
    passes_under_drawn_faults(SWITCHED, 0..3);
}

#[test]
fn every_scenario_passes_on_routed_under_drawn_faults() {
    passes_under_drawn_faults(ROUTED, 0..2);
}

#[test]
fn every_scenario_passes_on_two_routers_under_drawn_faults() {
    passes_under_drawn_faults(ROUTED_TWO_HOPS, 2..4);
}

#[test]
fn the_names_a_shape_gives_are_the_names_the_network_has() {
    for shape in [Shape::Direct, SWITCHED, ROUTED, ROUTED_TWO_HOPS] {
        let mut sim = Sim::new(Seed(1));
        let net = Network::build(&mut sim, &shape, &tcp::Config::default());
        let names = shape.topology();
        assert_eq!(net.links, names.links, "{shape}");
        let mut hosts: Vec<String> = names.clients.clone();
        hosts.extend(names.routers.iter().cloned());
        hosts.extend(names.servers.iter().cloned());
        let built: Vec<String> = net.hosts.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(built, hosts, "{shape}");
        for link in &names.links {
            assert!(sim.link(link).is_some(), "{shape}: no link {link}");
        }
        assert_eq!(net.clients.len() as u32, shape.client_hosts());
    }
    // The default network is the one every scenario had before shapes.
    assert_eq!(
        Shape::Direct.topology().links,
        vec![sansnet::scenarios::LINK.to_owned()]
    );
}

#[test]
fn faults_are_drawn_on_each_shapes_own_names() {
    let sc = scenario::lookup("bulk").unwrap();
    for shape in [SWITCHED, ROUTED_TWO_HOPS] {
        let names = shape.topology();
        let mut partitioned = Vec::new();
        for seed in 0..40 {
            let spec = draw_on(sc.as_ref(), seed, &no_draw(), &shape.into());
            for c in &spec.plan.changes {
                match &c.change {
                    FaultChange::SetLink { link, .. }
                    | FaultChange::Clog { link, .. }
                    | FaultChange::Unclog { link, .. } => {
                        assert!(names.links.contains(link), "{shape}: {link}")
                    }
                    FaultChange::Partition { from, to, .. } => {
                        assert!(
                            names.partitions().contains(&(from.clone(), to.clone())),
                            "{shape}: partition {from:?} / {to:?}"
                        );
                        partitioned.push((from.clone(), to.clone()));
                    }
                    _ => {}
                }
            }
            let links = spec
                .plan
                .changes
                .iter()
                .filter(|c| c.at == Instant::ZERO)
                .filter(|c| matches!(c.change, FaultChange::SetLink { .. }))
                .count();
            assert_eq!(links, names.links.len(), "every link gets the profile");
        }
        // With routers, partitions fall on more than one hop.
        partitioned.sort();
        partitioned.dedup();
        assert_eq!(partitioned.len(), names.partitions().len(), "{shape}");
    }
}

#[test]
fn partition_heals_partitions_the_hop_next_to_the_server_in_every_shape() {
    for shape in [Shape::Direct, SWITCHED, ROUTED, ROUTED_TWO_HOPS] {
        let mut spec = clean("partition-heals", shape);
        let last_router = shape
            .topology()
            .routers
            .last()
            .cloned()
            .map_or_else(|| shape.topology().clients, |r| vec![r]);
        assert_eq!(
            spec.plan.changes[0].change,
            FaultChange::Partition {
                from: last_router,
                to: vec!["server".to_owned()],
                two_way: true
            }
        );
        // At 2 Mbit/s the transfer is still going at 0.2 s; the partition holds it up until
        // the heal at 5.2 s.
        for link in shape.topology().links {
            let faults = LinkFaults {
                bandwidth_bps: Some(2_000_000),
                ..LinkFaults::with_latency(Duration::from_millis(1))
            };
            spec.plan.push(
                Instant::ZERO,
                FaultChange::SetLink {
                    link,
                    direction: Direction::Both,
                    faults,
                },
            );
        }
        spec.plan.changes.sort_by_key(|c| c.at);
        let outcome = scenario::run(&spec);
        assert_eq!(outcome.result, Ok(()), "{shape}");
        assert!(
            outcome.sim_time > Instant::from_millis(5_200),
            "{shape}: done at {}",
            outcome.sim_time
        );
    }
}

#[test]
fn many_clients_spreads_its_clients_over_the_client_hosts() {
    let mut spec = clean("many-clients", Shape::Switched { client_hosts: 4 });
    spec.workload.clients = 8;
    spec.workload.exchanges = 10_000;
    let outcome = scenario::run_with(
        &spec,
        RunOptions {
            stop_at: Some(Instant::from_millis(100)),
            ..RunOptions::default()
        },
    );
    assert_eq!(outcome.result, Ok(()));
    let established: Vec<(String, usize)> = outcome
        .tables
        .iter()
        .map(|t| {
            let host = t.lines().next().unwrap_or("").to_owned();
            let host = host.split_whitespace().nth(1).unwrap_or("").to_owned();
            (host, t.matches("ESTABLISHED").count())
        })
        .collect();
    assert_eq!(
        established,
        vec![
            ("client0".to_owned(), 2),
            ("client1".to_owned(), 2),
            ("client2".to_owned(), 2),
            ("client3".to_owned(), 2),
            ("server".to_owned(), 8),
        ]
    );
}

#[test]
fn a_replay_file_from_before_topologies_loads_as_direct() {
    let old = r#"{
  "spec": {
    "scenario": "bulk",
    "seed": 42,
    "profile": "ideal",
    "workload": { "bytes": 4096, "clients": 1, "exchanges": 1, "message_bytes": 0 },
    "plan": { "changes": [] },
    "heal_at_ms": 20000,
    "progress_bound_ms": 60000,
    "fcs_check": true
  },
  "failure": { "kind": "no_progress", "detail": "made up" },
  "trace_hash": "0000000000000000",
  "version": "0.1.0",
  "git_commit": "unknown"
}"#;
    let dir = std::env::temp_dir().join(format!("sansnet-topo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("old.json");
    std::fs::write(&path, old).unwrap();
    let file = ReplayFile::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(file.spec.topology, Shape::Direct);
    assert_eq!(scenario::run(&file.spec).result, Ok(()));
    // A `direct` spec is written as before (old builds read it); others name their shape.
    let json = serde_json::to_string(&file.spec).unwrap();
    assert!(!json.contains("topology"), "{json}");
    let routed = RunSpec {
        topology: ROUTED_TWO_HOPS,
        ..file.spec
    };
    let json = serde_json::to_string(&routed).unwrap();
    assert!(
        json.contains(r#""topology":{"shape":"routed","client_hosts":2,"routers":2}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<RunSpec>(&json).unwrap(), routed);
}

#[test]
fn a_swarm_drawn_run_is_the_run_of_its_shape() {
    let sc = scenario::lookup("churn").unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..30 {
        let swarm = draw_on(sc.as_ref(), seed, &no_draw(), &TopologyChoice::Swarm);
        let shape = TopologyChoice::Swarm.shape_for(seed);
        assert_eq!(swarm.topology, shape);
        // So `replay --topology <shape>` reruns it exactly.
        assert_eq!(swarm, draw_on(sc.as_ref(), seed, &no_draw(), &shape.into()));
        kinds.insert(shape.to_string().split(':').next().unwrap().to_owned());
    }
    assert_eq!(kinds.len(), 3, "swarm draws every kind of shape");
    // The default network draws what `draw` always drew.
    assert_eq!(
        draw_on(sc.as_ref(), 5, &no_draw(), &TopologyChoice::default()),
        explore::draw(sc.as_ref(), 5, &no_draw())
    );
}

#[test]
fn shrink_goes_back_to_direct_when_the_network_does_not_matter() {
    // A run that cannot finish (the deadline is the first instant) fails on any network.
    let sc = scenario::lookup("bulk").unwrap();
    let mut spec = draw_on(sc.as_ref(), 3, &no_draw(), &ROUTED_TWO_HOPS.into());
    spec.heal_at_ms = 0;
    spec.progress_bound_ms = 0;
    let kind = scenario::run(&spec).result.unwrap_err().kind;
    let report = explore::shrink(&spec, kind, std::time::Duration::from_secs(60));
    assert_eq!(report.spec.topology, Shape::Direct, "{:?}", report.steps);
    assert_eq!(
        report.steps.first().map(String::as_str),
        Some("topology routed:2:2 -> direct")
    );
    assert_eq!(report.faults_after, 0, "{:?}", report.steps);
    assert_eq!(scenario::run(&report.spec).result.unwrap_err().kind, kind);
}

/// Fails (integrity) only with three client hosts or more, and no-progress otherwise if
/// the plan has a partition: the shrinker must keep three hosts, not one.
struct NeedsThreeHosts;

impl Scenario for NeedsThreeHosts {
    fn name(&self) -> &'static str {
        "test-needs-three-hosts"
    }
    fn describe(&self) -> &'static str {
        "fails on three client hosts or more"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 0,
            clients: 1,
            exchanges: 1,
            message_bytes: 0,
        }
    }
    fn build(&self, sim: &mut Sim, _: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        let net = Network::build(sim, shape, tcp);
        let mut built = net.built();
        let hosts = net.clients.len();
        built.tasks.push(sim.spawn(async move {
            sansnet_sim::exec::sleep(Duration::from_millis(10)).await;
            if hosts >= 3 {
                Err(Failure::new(FailureKind::Integrity, "three hosts"))
            } else {
                Ok(())
            }
        }));
        built
    }
}

#[test]
fn shrink_keeps_the_client_hosts_a_failure_needs() {
    scenario::register(Arc::new(NeedsThreeHosts));
    let shape = Shape::Routed {
        client_hosts: 4,
        routers: 2,
    };
    let sc = scenario::lookup("test-needs-three-hosts").unwrap();
    let spec = draw_on(sc.as_ref(), 7, &no_draw(), &shape.into());
    let before = fault_count(&spec.plan);
    assert!(before > 0);
    let report = explore::shrink(
        &spec,
        FailureKind::Integrity,
        std::time::Duration::from_secs(60),
    );
    assert_eq!(
        report.spec.topology,
        Shape::Switched { client_hosts: 3 },
        "{:?}",
        report.steps
    );
    assert_eq!(report.faults_after, 0, "{:?}", report.steps);
    assert!(
        report
            .steps
            .iter()
            .any(|s| s == "topology routed:4:2 -> switched:4"),
        "{:?}",
        report.steps
    );
    assert!(
        report
            .steps
            .iter()
            .any(|s| s == "topology switched:4 -> switched:3"),
        "{:?}",
        report.steps
    );
}

#[test]
fn a_plan_moves_between_shapes_by_role() {
    let from = ROUTED_TWO_HOPS;
    let names = from.topology();
    let set = |link: &str| FaultChange::SetLink {
        link: link.to_owned(),
        direction: Direction::Both,
        faults: LinkFaults::with_latency(Duration::from_millis(3)),
    };
    let plan = FaultPlan::new()
        .at(Instant::ZERO, set(&names.links[1])) // client1's access link
        .at(Instant::ZERO, set(&names.links[3])) // router0 <-> router1
        .at(
            Instant::from_secs(1),
            FaultChange::Partition {
                from: vec!["router1".to_owned()],
                to: vec!["server".to_owned()],
                two_way: true,
            },
        )
        .at(
            Instant::from_secs(2),
            FaultChange::Partition {
                from: vec!["client1".to_owned()],
                to: vec!["router0".to_owned()],
                two_way: false,
            },
        )
        .at(Instant::from_secs(3), FaultChange::Heal);
    let to = Shape::Switched { client_hosts: 1 };
    let moved = from.translate_plan(&plan, &to);
    let expected = FaultPlan::new()
        // client1 is gone; the router link becomes the server's access link.
        .at(Instant::ZERO, set("server/nic0<->sw/port1"))
        // No router next to the server: the clients are cut off from it instead.
        .at(
            Instant::from_secs(1),
            FaultChange::Partition {
                from: vec!["client0".to_owned()],
                to: vec!["server".to_owned()],
                two_way: true,
            },
        )
        .at(Instant::from_secs(3), FaultChange::Heal);
    assert_eq!(moved, expected);
    // To `direct`, two settings of the one link at the same instant are one.
    let direct = from.translate_plan(
        &FaultPlan::new()
            .at(Instant::ZERO, set(&names.links[0]))
            .at(Instant::ZERO, set(&names.links[4])),
        &Shape::Direct,
    );
    assert_eq!(
        direct,
        FaultPlan::new().at(Instant::ZERO, set(sansnet::scenarios::LINK))
    );
}

#[test]
fn shapes_parse_from_and_print_to_the_command_line_form() {
    for (text, shape) in [
        ("direct", Shape::Direct),
        ("switched:4", Shape::Switched { client_hosts: 4 }),
        (
            "routed:3",
            Shape::Routed {
                client_hosts: 3,
                routers: 1,
            },
        ),
        ("routed:2:2", ROUTED_TWO_HOPS),
    ] {
        assert_eq!(text.parse::<Shape>(), Ok(shape));
        assert_eq!(shape.to_string(), text);
    }
    for bad in [
        "",
        "switched",
        "switched:0",
        "switched:x",
        "routed:1:9",
        "ring:3",
    ] {
        assert!(bad.parse::<Shape>().is_err(), "{bad:?} parsed");
    }
    assert_eq!(TopologyChoice::parse("swarm"), Ok(TopologyChoice::Swarm));
    assert_eq!(
        explore::replay_command(&RunSpec {
            topology: ROUTED,
            ..clean("bulk", ROUTED)
        }),
        "cargo run --release -- replay --scenario bulk --seed 1 --topology routed:2 --profile ideal"
    );
}

/// A `Write` whose bytes the test can read after the run has taken the writer.
#[derive(Clone, Default)]
struct SharedBuf(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn switches_and_routers_check_the_fcs_and_end_hosts_follow_the_spec() {
    // Corruption everywhere, the FCS check off: a damaged frame must reach an end host only
    // from its last link (one flipped bit, which a checksum catches), so the switch and
    // the router drop every frame damaged before them, and the hosts drop none by FCS.
    let mut spec = clean("bulk", ROUTED);
    spec.fcs_check = false;
    for link in ROUTED.topology().links {
        let faults = LinkFaults {
            corrupt: sansnet_sim::Probability::percent(5),
            ..LinkFaults::with_latency(Duration::from_millis(1))
        };
        spec.plan.push(
            Instant::ZERO,
            FaultChange::SetLink {
                link,
                direction: Direction::Both,
                faults,
            },
        );
    }
    let trace = SharedBuf::default();
    let outcome = scenario::run_with(
        &spec,
        RunOptions {
            trace: Some(Box::new(trace.clone())),
            ..RunOptions::default()
        },
    );
    assert_eq!(outcome.result, Ok(()));
    let text = String::from_utf8(trace.0.borrow().clone()).unwrap();
    let mut fcs_drops_at = std::collections::BTreeSet::new();
    for line in text.lines() {
        let ev: serde_json::Value = serde_json::from_str(line).unwrap();
        if ev["ev"] == "dropped" && ev["reason"] == "fcs_error" {
            let at = ev["at"].as_str().unwrap().to_owned();
            fcs_drops_at.insert(at.split('/').next().unwrap().to_owned());
        }
    }
    assert_eq!(
        fcs_drops_at.into_iter().collect::<Vec<_>>(),
        vec!["lan".to_owned(), "router0".to_owned()]
    );
}
