//! Partitions that heal, and crashes: a transfer interrupted by a partition completes intact
//! once it heals; a client whose server crashed learns it (reset or timeout) within a
//! bounded simulated time; a restarted server serves again.

mod common;

use std::io;

use common::{
    bulk_client, bulk_server, for_seeds, pair, run_task, run_until, spawn_bulk, Bulk, Pair,
    CLIENT_IP, SERVER, SERVER_IP,
};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::stack::iface::{HostConfig, InterfaceConfig, SocketState};
use sansnet_sim::stack::tcp::{self, KeepAlive};
use sansnet_sim::{
    Direction, DropReason, Duration, FaultChange, FaultPlan, Instant, LinkFaults, NodeId, Seed,
    Sim, TcpListener, TcpStream,
};

const SEEDS: &[u64] = &[1, 2, 3, 4];

const BULK: Bulk = Bulk {
    upload: 256 * 1024,
    download: 64 * 1024,
};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn partition(from: &[&str], to: &[&str], two_way: bool) -> FaultChange {
    FaultChange::Partition {
        from: names(from),
        to: names(to),
        two_way,
    }
}

/// A bulk transfer that starts at once and is cut at 20 ms by `cut` until `heal_at`: it
/// completes intact after the heal, and the partition really dropped frames.
fn transfer_across(seed: Seed, cut: FaultChange, heal_at: Instant) -> Pair {
    let mut p = pair(seed, LinkFaults::with_latency(Duration::from_millis(5)));
    p.sim
        .apply_plan(
            &FaultPlan::new()
                .at(Instant::from_millis(20), cut)
                .at(heal_at, FaultChange::Heal),
        )
        .unwrap();
    let t = spawn_bulk(&mut p.sim, p.client, p.server, SERVER, BULK);
    t.run_and_check(&mut p.sim, Duration::from_secs(120));
    assert!(
        p.sim.now() > heal_at,
        "the transfer finished before the heal, at {}",
        p.sim.now()
    );
    let dropped = p.sim.drops().get(&DropReason::Partitioned).copied();
    assert!(dropped.unwrap_or(0) > 0, "the partition dropped nothing");
    p
}

#[test]
fn a_two_way_partition_that_heals_lets_the_transfer_complete() {
    for_seeds(SEEDS, |seed| {
        transfer_across(
            seed,
            partition(&["client"], &["server"], true),
            Instant::from_secs(20),
        );
    });
}

#[test]
fn a_one_way_partition_of_the_data_that_heals_lets_the_transfer_complete() {
    for_seeds(SEEDS, |seed| {
        transfer_across(
            seed,
            partition(&["client"], &["server"], false),
            Instant::from_secs(8),
        );
    });
}

#[test]
fn a_one_way_partition_of_the_acks_that_heals_lets_the_transfer_complete() {
    for_seeds(SEEDS, |seed| {
        transfer_across(
            seed,
            partition(&["server"], &["client"], false),
            Instant::from_secs(8),
        );
    });
}

#[test]
fn an_isolated_server_that_rejoins_lets_the_transfer_complete() {
    for_seeds(SEEDS, |seed| {
        transfer_across(
            seed,
            FaultChange::Isolate {
                node: "server".into(),
            },
            Instant::from_secs(30),
        );
    });
}

#[test]
fn a_link_cut_in_one_direction_that_heals_lets_the_transfer_complete() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(Duration::from_millis(5)));
        let link = p.sim.link_name(p.link);
        let set = |down| FaultChange::SetLink {
            link: link.clone(),
            direction: Direction::AToB,
            faults: LinkFaults {
                down,
                ..LinkFaults::with_latency(Duration::from_millis(5))
            },
        };
        p.sim
            .apply_plan(
                &FaultPlan::new()
                    .at(Instant::from_millis(20), set(true))
                    .at(Instant::from_secs(5), set(false)),
            )
            .unwrap();
        let t = spawn_bulk(&mut p.sim, p.client, p.server, SERVER, BULK);
        t.run_and_check(&mut p.sim, Duration::from_secs(120));
        assert!(p.sim.now() > Instant::from_secs(5));
        assert!(p.sim.link_counters(p.link, Direction::AToB).down_dropped > 0);
    });
}

/// 1 MiB up, so that the client is still sending when the server goes away at 50 ms.
const LONG: Bulk = Bulk {
    upload: 1024 * 1024,
    download: 0,
};

fn crash_at(sim: &mut Sim, at: Instant, node: &str) {
    sim.apply_plan(&FaultPlan::new().at(at, FaultChange::Crash { node: node.into() }))
        .unwrap();
}

/// The client's connection is gone from its `ss` table (no row is still synchronized).
fn assert_no_live_connection(sim: &mut Sim, node: NodeId) {
    for row in common::ss(sim, node) {
        assert!(
            !matches!(row.state, SocketState::Tcp(s) if s.is_synchronized()),
            "a connection survived: {row:?}"
        );
    }
}

#[test]
fn a_server_that_crashes_for_good_times_the_sending_client_out() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(Duration::from_millis(5)));
        let crash = Instant::from_millis(50);
        crash_at(&mut p.sim, crash, "server");
        p.sim
            .spawn_on(p.server, bulk_server(p.server, SERVER, seed, 0));
        let client = p
            .sim
            .spawn_on(p.client, bulk_client(p.client, SERVER, seed, LONG.upload));
        // R2 is 100 s after the first retransmission (RFC 9293 SHLD-11), the RTO at most
        // 120 s: the client knows within four minutes.
        let err = run_task(&mut p.sim, &client, Duration::from_secs(240))
            .expect_err("the transfer cannot complete");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        let waited = p.sim.now() - crash;
        assert!(
            waited >= Duration::from_secs(100),
            "gave up after only {waited:?}"
        );
        assert!(!p.sim.is_up(p.server));
        assert_no_live_connection(&mut p.sim, p.client);
    });
}

#[test]
fn a_server_that_crashes_and_restarts_resets_the_client_and_serves_again() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(Duration::from_millis(5)));
        let restart = Instant::from_secs(2);
        p.sim
            .apply_plan(
                &FaultPlan::new()
                    .at(
                        Instant::from_millis(50),
                        FaultChange::Crash {
                            node: "server".into(),
                        },
                    )
                    .at(
                        restart,
                        FaultChange::Restart {
                            node: "server".into(),
                        },
                    ),
            )
            .unwrap();
        p.sim
            .spawn_on(p.server, bulk_server(p.server, SERVER, seed, 0));
        let client = p
            .sim
            .spawn_on(p.client, bulk_client(p.client, SERVER, seed, LONG.upload));
        run_until(&mut p.sim, Duration::from_secs(3), |s| s.now() >= restart);
        assert!(p.sim.is_up(p.server));
        // The new incarnation listens again (its tasks died with the old one).
        let server = p.server;
        let again = p
            .sim
            .spawn_on(server, bulk_server(server, SERVER, seed, 4096));
        // The next retransmission meets a host that has never heard of the connection:
        // RST, ECONNRESET. The RTO has backed off to a few seconds at most by then.
        let err = run_task(&mut p.sim, &client, Duration::from_secs(30))
            .expect_err("the old connection cannot survive a restart");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        assert_no_live_connection(&mut p.sim, p.client);
        // A new connection to the restarted server works.
        let retry = p
            .sim
            .spawn_on(p.client, bulk_client(p.client, SERVER, seed, 8192));
        let downloaded = run_task(&mut p.sim, &retry, Duration::from_secs(30)).unwrap();
        common::assert_same_bytes(
            "download after restart",
            &downloaded,
            &common::pattern(seed, common::DOWNLOAD, 4096),
        );
        let uploaded = run_task(&mut p.sim, &again, Duration::from_secs(5)).unwrap();
        common::assert_same_bytes(
            "upload after restart",
            &uploaded,
            &common::pattern(seed, common::UPLOAD, 8192),
        );
    });
}

/// A client host whose connections use keep-alive: probes after 10 s idle, every 5 s, 3
/// of them.
fn keepalive_client(sim: &mut Sim) -> NodeId {
    sim.set_addr("client", CLIENT_IP);
    sim.add_host_with("client", 1, |ctx| HostConfig {
        name: ctx.name.clone(),
        interfaces: vec![InterfaceConfig {
            mac: ctx.macs[0],
            addr: CLIENT_IP,
            prefix_len: 24,
            mtu: 1500,
        }],
        tcp: tcp::Config {
            keep_alive: Some(KeepAlive {
                idle: Duration::from_secs(10),
                interval: Duration::from_secs(5),
                count: 3,
            }),
            ..tcp::Config::default()
        },
        ..HostConfig::default()
    })
}

#[test]
fn a_server_that_crashes_while_the_client_waits_is_found_out_by_keepalive() {
    for_seeds(SEEDS, |seed| {
        let mut sim = Sim::new(seed);
        let client = keepalive_client(&mut sim);
        let server = sim.add_host("server", SERVER_IP, 24);
        sim.connect(
            sim.nic(client, 0),
            sim.nic(server, 0),
            LinkFaults::with_latency(Duration::from_millis(5)),
        );
        // The server takes the request and never answers; then it crashes.
        sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, SERVER).unwrap();
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 4];
            conn.read_exact(&mut req).await.unwrap();
            futures::future::pending::<()>().await;
        });
        let crash = Instant::from_secs(1);
        crash_at(&mut sim, crash, "server");
        let waiting = sim.spawn_on(client, async move {
            let mut conn = TcpStream::connect(client, SERVER).await?;
            conn.write_all(b"ping").await?;
            let mut reply = Vec::new();
            conn.read_to_end(&mut reply).await
        });
        let err =
            run_task(&mut sim, &waiting, Duration::from_secs(60)).expect_err("nobody answers");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        // Idle 10 s after the last exchange, then 3 probes 5 s apart.
        let waited = sim.now() - crash;
        assert!(
            waited >= Duration::from_secs(20) && waited <= Duration::from_secs(30),
            "keep-alive gave up after {waited:?}"
        );
    });
}

#[test]
fn a_crashed_client_leaves_the_server_a_connection_that_keepalive_clears() {
    // The mirror image: the server enables keep-alive through its host configuration, the
    // client crashes mid-request, and the server's read ends with ETIMEDOUT.
    for_seeds(SEEDS, |seed| {
        let mut sim = Sim::new(seed);
        let client = sim.add_host("client", CLIENT_IP, 24);
        sim.set_addr("server", SERVER_IP);
        let server = sim.add_host_with("server", 1, |ctx| HostConfig {
            name: ctx.name.clone(),
            interfaces: vec![InterfaceConfig {
                mac: ctx.macs[0],
                addr: SERVER_IP,
                prefix_len: 24,
                mtu: 1500,
            }],
            tcp: tcp::Config {
                keep_alive: Some(KeepAlive {
                    idle: Duration::from_secs(10),
                    interval: Duration::from_secs(5),
                    count: 3,
                }),
                ..tcp::Config::default()
            },
            ..HostConfig::default()
        });
        sim.connect(
            sim.nic(client, 0),
            sim.nic(server, 0),
            LinkFaults::with_latency(Duration::from_millis(5)),
        );
        let served = sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, SERVER)?;
            let (mut conn, _) = listener.accept().await?;
            let mut req = Vec::new();
            conn.read_to_end(&mut req).await
        });
        sim.spawn_on(client, async move {
            let mut conn = TcpStream::connect(client, SERVER).await.unwrap();
            conn.write_all(b"half a requ").await.unwrap();
            futures::future::pending::<()>().await;
        });
        crash_at(&mut sim, Instant::from_secs(1), "client");
        let err =
            run_task(&mut sim, &served, Duration::from_secs(60)).expect_err("the client is gone");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert_no_live_connection(&mut sim, server);
    });
}

#[test]
fn a_partition_that_never_heals_times_the_sender_out_after_r2() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(Duration::from_millis(5)));
        p.sim
            .apply_plan(&FaultPlan::new().at(
                Instant::from_millis(30),
                partition(&["client"], &["server"], true),
            ))
            .unwrap();
        p.sim
            .spawn_on(p.server, bulk_server(p.server, SERVER, seed, 0));
        let client = p
            .sim
            .spawn_on(p.client, bulk_client(p.client, SERVER, seed, LONG.upload));
        let err = run_task(&mut p.sim, &client, Duration::from_secs(240))
            .expect_err("the partition never heals");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(p.sim.is_up(p.server));
    });
}
