//! A whole network run is a pure function of its seed: the same seed gives the same trace
//! hash (and the same application results), another seed another; a failing run prints
//! one line, and running that line (`SANSNET_SEED=...`) fails the same way again.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use std::sync::Arc;

use common::{for_seeds, spawn_bulk, Bulk, BulkTasks, SERVER};
use sansnet::explore::{self, DrawOptions, SweepOptions};
use sansnet::scenario::{self, Built, Failure, FailureKind, Scenario, Workload};
use sansnet::topology::{Network, Shape};
use sansnet_sim::stack::iface::SocketInfo;
use sansnet_sim::stack::tcp;
use sansnet_sim::testing::assert_deterministic_with_seed;
use sansnet_sim::UdpSocket;
use sansnet_sim::{
    assert_deterministic, Duration, FaultChange, FaultPlan, FaultProfile, Instant, LossModel,
    Probability, Seed, Sim, TraceHash,
};

const BULK: Bulk = Bulk {
    upload: 64 * 1024,
    download: 32 * 1024,
};

/// Three clients and a server on a switch with WAN faults plus loss, corruption past the
/// FCS, a partition that heals and a client that crashes and restarts; every client runs a
/// bulk transfer (the crashed one's dies with it: its server side waits forever).
fn busy_network(seed: Seed) -> (Sim, Vec<BulkTasks>) {
    let mut sim = Sim::new(seed);
    sim.set_fcs_check(false);
    let sw = sim.add_switch("sw");
    let server = sim.add_host("server", *SERVER.ip(), 24);
    let mut faults = FaultProfile::wan().faults;
    faults.loss = LossModel::Independent {
        rate: Probability::percent(1),
    };
    faults.corrupt = Probability::per_million(5_000);
    sim.connect(sim.nic(server, 0), sw, faults.clone());
    let clients: Vec<_> = (0..3)
        .map(|i| {
            let c = sim.add_host(&format!("c{i}"), Ipv4Addr::new(10, 0, 0, 10 + i), 24);
            sim.connect(sim.nic(c, 0), sw, faults.clone());
            c
        })
        .collect();
    sim.apply_plan(
        &FaultPlan::new()
            .at(
                Instant::from_millis(150),
                FaultChange::Partition {
                    from: vec!["c1".into()],
                    to: vec!["server".into()],
                    two_way: true,
                },
            )
            .at(Instant::from_secs(2), FaultChange::Heal)
            .at(
                Instant::from_millis(200),
                FaultChange::Crash { node: "c2".into() },
            )
            .at(
                Instant::from_millis(700),
                FaultChange::Restart { node: "c2".into() },
            ),
    )
    .unwrap();
    let mut tasks = Vec::new();
    for (i, &c) in clients.iter().enumerate() {
        let addr = std::net::SocketAddrV4::new(*SERVER.ip(), 80 + i as u16);
        tasks.push(spawn_bulk(&mut sim, c, server, addr, BULK));
    }
    (sim, tasks)
}

/// Runs the busy network for 20 simulated seconds; returns the trace hash and what the
/// applications and the `ss` tables ended with, to compare across runs.
fn run(seed: Seed) -> (TraceHash, String) {
    let (mut sim, tasks) = busy_network(seed);
    sim.run_until(Instant::from_secs(20)).unwrap();
    let results: Vec<String> = tasks
        .iter()
        .map(|t| {
            format!(
                "{:?} {:?}",
                t.client.take().map(|r| r.map(|v| v.len())),
                t.server.take().map(|r| r.map(|v| v.len()))
            )
        })
        .collect();
    let tables: Vec<Vec<SocketInfo>> = ["server", "c0", "c1", "c2"]
        .iter()
        .map(|n| {
            let node = sim.node(n).unwrap();
            common::ss(&mut sim, node)
        })
        .collect();
    (sim.trace_hash(), format!("{results:?}\n{tables:?}"))
}

#[test]
fn the_same_seed_gives_the_same_trace_hash_over_a_whole_network() {
    for_seeds(&[1, 2, 3], |seed| {
        let mut observed = Vec::new();
        assert_deterministic_with_seed(seed, |s| {
            let (hash, outcome) = run(s);
            observed.push(outcome);
            hash
        });
        assert_eq!(
            observed[0], observed[1],
            "the applications saw different runs"
        );
    });
    // The helper reads SANSNET_SEED itself.
    assert_deterministic(|s| run(s).0);
}

#[test]
fn another_seed_gives_another_run() {
    let hashes: Vec<TraceHash> = [1, 2, 3].map(|s| run(Seed(s)).0).into();
    assert_ne!(hashes[0], hashes[1]);
    assert_ne!(hashes[1], hashes[2]);
    assert_ne!(hashes[0], hashes[2]);
}

#[test]
fn the_bulk_transfers_of_the_busy_network_complete_intact() {
    // The workload the determinism tests hash is a real one: the undisturbed client and
    // the partitioned one both finish, by content.
    for_seeds(&[1, 2, 3], |seed| {
        let (mut sim, tasks) = busy_network(seed);
        common::run_until(&mut sim, Duration::from_secs(120), |_| {
            tasks[0].finished() && tasks[1].finished()
        });
        tasks[0].check();
        tasks[1].check();
    });
}

/// Set in the child process that must fail on purpose.
const PROBE_ENV: &str = "SANSNET_E2E_PROBE";
const PROBE: &str = "a_probe_that_fails_on_purpose_when_asked";

/// Fails under seed 0x6 only when `SANSNET_E2E_PROBE` is set (by the test below, in a child
/// process); otherwise passes at once. Prints each seed's trace hash.
#[test]
fn a_probe_that_fails_on_purpose_when_asked() {
    if std::env::var_os(PROBE_ENV).is_none() {
        return;
    }
    for_seeds(&[5, 6, 7], |seed| {
        let (mut sim, tasks) = busy_network(seed);
        sim.run_until(Instant::from_millis(500)).unwrap();
        println!("probe: seed {seed} hash {}", sim.trace_hash());
        drop(tasks);
        assert_ne!(seed, Seed(6), "a planted failure");
    });
}

fn run_probe(seed: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", PROBE, "--nocapture"])
        .env(PROBE_ENV, "1")
        .env("RUST_BACKTRACE", "0");
    match seed {
        Some(s) => cmd.env(sansnet_sim::rng::SEED_ENV_VAR, s),
        None => cmd.env_remove(sansnet_sim::rng::SEED_ENV_VAR),
    };
    let out = cmd.output().expect("the test binary runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn a_failing_run_prints_one_line_that_replays_it() {
    let (ok, text) = run_probe(None);
    assert!(!ok, "the probe should have failed:\n{text}");
    let replays = lines_starting(&text, "replay: ");
    assert_eq!(replays.len(), 1, "one replay line:\n{text}");
    assert_eq!(
        replays[0],
        format!("replay: SANSNET_SEED=0x6 cargo test -- --exact {PROBE}")
    );
    let hash_of_6 = lines_starting(&text, "probe: seed 0x6 ");
    assert_eq!(hash_of_6.len(), 1, "{text}");
    // Seeds after the failing one did not run.
    assert!(
        lines_starting(&text, "probe: seed 0x7").is_empty(),
        "{text}"
    );

    // Replaying with the line's seed runs that seed alone, fails the same way, and the run
    // hashes the same.
    let seed = replays[0]
        .strip_prefix("replay: SANSNET_SEED=")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    let (ok, again) = run_probe(Some(seed));
    assert!(!ok, "the replay should fail too:\n{again}");
    assert_eq!(lines_starting(&again, "replay: "), replays);
    assert_eq!(lines_starting(&again, "probe: "), hash_of_6);
}

/// A scenario that writes a process-wide counter into a datagram: every run sends different
/// bytes, as a service that stamps the wall clock into its replies would.
struct LeaksACounter;

static LEAKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Scenario for LeaksACounter {
    fn name(&self) -> &'static str {
        "test-leaks-a-counter"
    }
    fn describe(&self) -> &'static str {
        "sends a process-wide counter: nondeterministic on purpose"
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
        let (client, from) = (net.clients[0], net.client_addrs[0]);
        let to = SocketAddrV4::new(net.server_addr, 9);
        built.tasks.push(sim.spawn_on(client, async move {
            let socket = UdpSocket::bind(client, SocketAddrV4::new(from, 9))
                .map_err(|e| Failure::new(FailureKind::Integrity, e.to_string()))?;
            let n = LEAKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let payload = format!("leaked={n:08}");
            socket
                .send_to(payload.as_bytes(), to)
                .await
                .map_err(|e| Failure::new(FailureKind::Integrity, e.to_string()))?;
            // Until the datagram is on the wire (after ARP).
            sansnet_sim::exec::sleep(Duration::from_millis(50)).await;
            Ok(())
        }));
        built
    }
}

#[test]
fn a_sweep_names_the_bytes_where_two_runs_of_a_seed_differ() {
    scenario::register(Arc::new(LeaksACounter));
    let report = explore::sweep(&SweepOptions {
        scenarios: vec!["test-leaks-a-counter".to_owned()],
        start: 0,
        count: 2,
        shard: (0, 1),
        jobs: 1,
        determinism_every: 1,
        out_dir: None,
        draw: DrawOptions {
            profile: Some("ideal".to_owned()),
            planted: None,
            ..Default::default()
        },
        progress: false,
        max_failures: 0,
    });
    assert_eq!(report.failures.len(), 2, "every checked seed differs");
    let failure = &report.failures[0].failure;
    assert_eq!(failure.kind, FailureKind::Nondeterminism);
    for needle in [
        "first difference at trace record",
        "UDP 9 > 9",
        "frame bytes differ first at offset",
        "leaked=000000",
    ] {
        assert!(
            failure.detail.contains(needle),
            "{needle:?} missing from:\n{}",
            failure.detail
        );
    }
}
