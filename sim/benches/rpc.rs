//! Issue 5, benchmark 3: request/response at scale. N clients, each with one connection
//! doing R exchanges of 64 bytes with an echo server, 1 ms one-way latency between hosts.
//! sansnet (hosts on a switch, 500 us per link, async tasks on the simulator's executor)
//! against turmoil 0.7.2 (`turmoil::Builder`, a host "server" with a `TcpListener` echo, N
//! client hosts, 1 ms message latency) on the same workload, in the same run: wall time,
//! median of a few runs, and the ratio. sansnet also runs at 100, 300 and 1000 clients x
//! 10 exchanges to show cost linear in clients; turmoil only at 100 x 100 and 300 x 10 (it
//! is too slow beyond).
//!
//! Two layouts. `OneSwitch`: every host on one learning switch, one broadcast domain. Its
//! cost cannot be linear in clients: each client's ARP request for the server is flooded to
//! every other port, N floods of N frames, as on real Ethernet. `Racks`: racks of
//! `RACK_HOSTS` clients, each rack a /24 on its own switch, joined to the server's subnet by
//! one router (a sansnet host with forwarding on and a NIC per subnet), the way a network of
//! a thousand hosts is built. The scaling figure is measured on `Racks`; `OneSwitch` is
//! shown next to it.
//!
//! The scaling table (`rpc/racks`, printed first, issue 16): `Racks`, 100, 1,000 and 3,000
//! clients x 10 exchanges, interleaved rounds (the order turned each round), per client the
//! on-CPU time of the bench thread (`CLOCK_THREAD_CPUTIME_ID`: steadier than wall time on a
//! loaded machine), split into building the topology and running it, simulator steps,
//! the time to drop the simulation afterwards (apart: not in the per-client cost, but a
//! sweep pays it for every seed), and the peak live heap (sampled every 4,096 steps; a counting allocator adds a few atomic
//! increments to every allocation, in every figure alike); then the ratio of the per-client
//! CPU cost at 1,000 and 3,000 to that at 100, taken per round. `RPC_SCALING_ONLY=1` prints
//! the table alone (seconds, not minutes); `RPC_ROUNDS=n` sets the rounds (default 7),
//! `RPC_SIZES=100,3000` the sizes (for a profile of one). After it, the same lockstep
//! workload on this machine's kernel TCP over loopback at the same sizes
//! (`linux_lockstep`): how much any TCP stack's cost a client grows with the number of
//! connections here, the memory hierarchy's part, to read sansnet's ratio against
//! (`RPC_LINUX=0` leaves it out).
// A benchmark measures wall-clock time; the stack and simulator never read it.
#![allow(clippy::disallowed_methods)]

#[path = "support/mod.rs"]
mod support;

use std::alloc::System;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant as WallInstant;

use criterion::{criterion_group, Criterion, SamplingMode};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::stack::iface::{Fd, Host, HostConfig, InterfaceConfig, Limits};
use sansnet_sim::{
    exec, net, one_nic_config, Duration, LinkFaults, NodeId, RunError, Seed, Sim, TcpListener,
    TcpStream,
};

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use support::vlink::thread_cpu_ns;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes allocated and not yet freed, process-wide.
fn live_heap_bytes() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

const MSG: usize = 64;
const PORT: u16 = 7;

/// Clients per rack in the `Racks` layout.
const RACK_HOSTS: usize = 100;

/// How the applications are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    /// Node-explicit sockets, a sansnet task per connection (`exec::spawn`).
    Node,
    /// As a tokio service is written: `sansnet_sim::net` (the host implicit, the server
    /// bound by address), a `tokio::spawn`ed task per connection, tokio's I/O traits: the
    /// same code as the turmoil side.
    Tokio,
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    OneSwitch,
    Racks,
}

/// A host with one NIC at `addr/24` and a default gateway.
fn add_routed_host(sim: &mut Sim, name: &str, addr: Ipv4Addr, gateway: Ipv4Addr) -> NodeId {
    add_routed_server(sim, name, addr, gateway, Limits::default().max_descriptors)
}

/// [`add_routed_host`] with room for `descriptors` open descriptors (a server's raised
/// `ulimit -n`: the default 1,024 is one per client at 1,000 clients).
fn add_routed_server(
    sim: &mut Sim,
    name: &str,
    addr: Ipv4Addr,
    gateway: Ipv4Addr,
    descriptors: usize,
) -> NodeId {
    sim.set_addr(name, addr);
    sim.add_host_with(name, 1, move |ctx| {
        let mut cfg = HostConfig {
            default_gateway: Some(gateway),
            ..one_nic_config(ctx, addr, 24)
        };
        cfg.limits.max_descriptors = cfg.limits.max_descriptors.max(descriptors);
        cfg
    })
}

/// What one run took. Times cover building the topology and running it; dropping it is
/// `drop_cpu`, apart.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Wall seconds.
    wall: f64,
    /// On-CPU seconds of the bench thread, all of it and the building alone.
    cpu: f64,
    build_cpu: f64,
    /// On-CPU seconds to drop the simulation afterwards (not in `cpu`).
    drop_cpu: f64,
    /// Simulator steps.
    steps: u64,
    /// Simulated time.
    virt: Duration,
    /// The most live heap seen during the run beyond what was live before it, bytes.
    peak_heap: i64,
    /// Frames the network dropped (any reason): a run that loses frames measures
    /// retransmission timeouts, not the cost of its clients.
    drops: u64,
}

/// On-CPU seconds of the calling thread so far (`thread_cpu_ns`: `CLOCK_THREAD_CPUTIME_ID`,
/// to the nanosecond).
fn cpu_seconds() -> f64 {
    thread_cpu_ns().map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

/// sansnet: wall seconds for `n` clients x `r` exchanges, and the simulated time it took.
/// One-way latency between a client and the server is 1 ms in both layouts.
fn sansnet(n: usize, r: usize, seed: u64, layout: Layout) -> (f64, Duration) {
    let run = sansnet_with(n, r, seed, layout, Api::Node);
    (run.wall, run.virt)
}

fn sansnet_with(n: usize, r: usize, seed: u64, layout: Layout, api: Api) -> Run {
    let heap0 = live_heap_bytes();
    let cpu0 = cpu_seconds();
    let start = WallInstant::now();
    let mut sim = Sim::new(Seed(seed));
    let mut limits = sim.limits();
    limits.max_steps = u64::MAX;
    sim.set_limits(limits);
    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    // Where each client attaches, its address and gateway, per layout.
    let mut attach: Vec<(sansnet_sim::SwitchId, Ipv4Addr, Option<Ipv4Addr>)> = Vec::new();
    let (server, client_link) = match layout {
        Layout::OneSwitch => {
            let sw = sim.add_switch("sw");
            let link = LinkFaults::with_latency(Duration::from_micros(500));
            let server = sim.add_host("server", server_ip, 16);
            sim.connect(sim.nic(server, 0), sw, link.clone());
            for i in 0..n {
                let ip = Ipv4Addr::new(10, 0, (i / 250 + 1) as u8, (i % 250 + 1) as u8);
                attach.push((sw, ip, None));
            }
            (server, link)
        }
        Layout::Racks => {
            let racks = n.div_ceil(RACK_HOSTS);
            let gw = |rack: usize| Ipv4Addr::new(10, 1, rack as u8, 254);
            let server = add_routed_server(
                &mut sim,
                "server",
                server_ip,
                Ipv4Addr::new(10, 0, 0, 254),
                n + 64,
            );
            let router = sim.add_host_with("router", racks + 1, move |ctx| {
                let mut interfaces = vec![InterfaceConfig {
                    mac: ctx.macs[0],
                    addr: Ipv4Addr::new(10, 0, 0, 254),
                    prefix_len: 24,
                    mtu: 1500,
                }];
                for rack in 0..racks {
                    interfaces.push(InterfaceConfig {
                        mac: ctx.macs[rack + 1],
                        addr: gw(rack),
                        prefix_len: 24,
                        mtu: 1500,
                    });
                }
                // Every client's SYN waits for the server's address at once: a thousand
                // SYNs, more than the default 64 packets per address (Linux queues about
                // 200 KB per neighbour). A neighbour per client, all resolved at once when
                // the SYN-ACKs come back: a neighbour table and a queue of unresolved
                // addresses that hold every client (the default 1,024 and 256, like Linux's
                // `gc_thresh3` of 1,024, evicted and dropped at 3,000 clients: a router for
                // that many neighbours raises them), and a transmit queue for the 2n
                // frames of the burst after the handshakes.
                let limits = Limits {
                    arp_pending_packets_per_addr: 4096,
                    arp_cache_entries: n + 256,
                    arp_pending_addrs: n + 256,
                    tx_queue_frames: (2 * n + 64).max(4096),
                    ..Limits::default()
                };
                HostConfig {
                    name: ctx.name.clone(),
                    interfaces,
                    forwarding: true,
                    limits,
                    ..HostConfig::default()
                }
            });
            let hop = LinkFaults::with_latency(Duration::from_micros(250));
            sim.connect(
                sim.nic(server, 0),
                sim.nic(router, 0),
                LinkFaults::with_latency(Duration::from_micros(500)),
            );
            for rack in 0..racks {
                let sw = sim.add_switch(&format!("rack{rack}"));
                sim.connect(sim.nic(router, rack + 1), sw, hop.clone());
                for k in 0..RACK_HOSTS.min(n - rack * RACK_HOSTS) {
                    let ip = Ipv4Addr::new(10, 1, rack as u8, (k + 1) as u8);
                    attach.push((sw, ip, Some(gw(rack))));
                }
            }
            (server, hop)
        }
    };
    // Every client starts at the same instant, so every SYN, SYN-ACK, and every
    // handshake's last ACK with its first request, crosses the server's link in a burst of
    // n or 2n frames: a server NIC with at least 4096 descriptors, as servers have, and
    // rings on the server's link that hold the whole burst (at 3,000 clients the default
    // 1,024 of the router's NIC, and 4,096 at the server, dropped frames, and the run then
    // measured retransmission timeouts, not its clients).
    let ring = (2 * n + 64).max(4096);
    sim.set_nic_rings(sim.nic(server, 0), ring, ring);
    if let Layout::Racks = layout {
        let router = sim.node("router").expect("the racks have a router");
        sim.set_nic_rings(sim.nic(router, 0), ring, ring);
    }
    let to = SocketAddrV4::new(server_ip, PORT);
    if api == Api::Tokio {
        sim.set_software(server, || async {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let listener = net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            loop {
                let (mut conn, _) = listener.accept().await?;
                tokio::spawn(async move {
                    let mut buf = [0u8; MSG];
                    while conn.read_exact(&mut buf).await.is_ok() {
                        if conn.write_all(&buf).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    } else {
        sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, to).unwrap();
            // `TcpListener::bind` listens with a backlog of 128; with hundreds of clients
            // connecting at the same instant the accept queue overflows, and the host then
            // resets the connection (Linux, with `tcp_abort_on_overflow` = 0, would drop the
            // ACK instead). A backlog like Linux's SOMAXCONN: the listener is the server's
            // first descriptor.
            exec::with_node::<Host, _>(server, |h, _| h.listen(Fd(0), 4096))
                .unwrap()
                .unwrap();
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                exec::spawn(async move {
                    let mut buf = [0u8; MSG];
                    loop {
                        match conn.read_exact(&mut buf).await {
                            Ok(()) => conn.write_all(&buf).await.unwrap(),
                            Err(_) => return,
                        }
                    }
                });
            }
        });
    }
    let mut clients = Vec::with_capacity(n);
    for (i, (sw, ip, gateway)) in attach.into_iter().enumerate() {
        let name = format!("client{i}");
        let c = match gateway {
            Some(gw) => add_routed_host(&mut sim, &name, ip, gw),
            None => sim.add_host(&name, ip, 16),
        };
        sim.connect(sim.nic(c, 0), sw, client_link.clone());
        if api == Api::Tokio {
            clients.push(sim.spawn_fallible(c, async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut conn = net::TcpStream::connect(to).await?;
                let msg = [i as u8; MSG];
                let mut back = [0u8; MSG];
                for _ in 0..r {
                    conn.write_all(&msg).await?;
                    conn.read_exact(&mut back).await?;
                    assert_eq!(back, msg);
                }
                conn.shutdown().await?;
                Ok(())
            }));
            continue;
        }
        clients.push(sim.spawn_on(c, async move {
            let mut conn = TcpStream::connect(c, to).await.unwrap();
            let msg = [i as u8; MSG];
            let mut back = [0u8; MSG];
            for _ in 0..r {
                conn.write_all(&msg).await.unwrap();
                conn.read_exact(&mut back).await.unwrap();
                assert_eq!(back, msg);
            }
            conn.close().await.unwrap();
        }));
    }
    let build_cpu = cpu_seconds() - cpu0;
    // Run in slices of 4,096 steps, between which the live heap is read: its peak.
    let mut peak_heap = live_heap_bytes();
    let mut limits = sim.limits();
    limits.max_steps = 4096;
    sim.set_limits(limits);
    loop {
        match sim.run_until_all_complete(&clients) {
            Ok(()) => break,
            Err(RunError::StepLimit { .. }) => peak_heap = peak_heap.max(live_heap_bytes()),
            Err(e) => panic!("{e}"),
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let run = Run {
        wall,
        cpu,
        build_cpu,
        drop_cpu: 0.0,
        steps: sim.steps(),
        virt: sim.now() - sansnet_sim::Instant::ZERO,
        peak_heap: peak_heap.max(live_heap_bytes()) - heap0,
        drops: sim.drops().values().sum(),
    };
    let before_drop = cpu_seconds();
    drop(clients);
    drop(sim);
    Run {
        drop_cpu: cpu_seconds() - before_drop,
        ..run
    }
}

/// turmoil 0.7.2 on the same workload: wall seconds and simulated time.
fn turmoil_run(n: usize, r: usize, seed: u64) -> (f64, std::time::Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let start = WallInstant::now();
    let mut sim = turmoil::Builder::new()
        .min_message_latency(std::time::Duration::from_millis(1))
        .max_message_latency(std::time::Duration::from_millis(1))
        .simulation_duration(std::time::Duration::from_secs(3600))
        .rng_seed(seed)
        // Its default (64 messages per socket) overflows the listener at 100 clients.
        .tcp_capacity(4096)
        .build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (mut conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; MSG];
                while conn.read_exact(&mut buf).await.is_ok() {
                    if conn.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    for i in 0..n {
        sim.client(format!("client{i}"), async move {
            let mut conn = turmoil::net::TcpStream::connect(("server", PORT)).await?;
            let msg = [i as u8; MSG];
            let mut back = [0u8; MSG];
            for _ in 0..r {
                conn.write_all(&msg).await?;
                conn.read_exact(&mut back).await?;
                assert_eq!(back, msg);
            }
            Ok(())
        });
    }
    sim.run().unwrap();
    (start.elapsed().as_secs_f64(), sim.elapsed())
}

/// The same lockstep workload on this machine's kernel TCP over loopback, the reference for
/// how much a TCP stack's cost a client grows from 100 to 3,000 connections by the memory
/// hierarchy alone: `n` connections to one listener (TCP_NODELAY on both ends), then `r`
/// rounds in which every client writes its 64 bytes, the server reads and echoes each
/// request in turn, and every client reads and checks its answer, as the simulated clients
/// and server do in lockstep. One thread, blocking sockets: over loopback each write has
/// been delivered to the peer's receive queue when it returns, so no read waits. CPU of the
/// bench thread (the kernel's receive path runs in the sending thread's context and is
/// charged to it: wall time and CPU time agree within 2% here), for connecting and the
/// exchanges (`cpu`, the closes left out as the simulated run's drop is) and for the
/// exchanges alone (`exchanges`), seconds. `None` when the sockets cannot be had (a
/// descriptor limit below 2n, no loopback).
fn linux_lockstep(n: usize, r: usize) -> Option<LinuxRun> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = listener.local_addr().ok()?;
    let cpu0 = cpu_seconds();
    let mut clients = Vec::with_capacity(n);
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n {
        let c = std::net::TcpStream::connect(addr).ok()?;
        let (s, _) = listener.accept().ok()?;
        c.set_nodelay(true).ok()?;
        s.set_nodelay(true).ok()?;
        clients.push(c);
        servers.push(s);
    }
    let cpu1 = cpu_seconds();
    let mut buf = [0u8; MSG];
    for round in 0..r {
        for (i, c) in clients.iter_mut().enumerate() {
            c.write_all(&[(i + round) as u8; MSG]).ok()?;
        }
        for s in &mut servers {
            s.read_exact(&mut buf).ok()?;
            s.write_all(&buf).ok()?;
        }
        for (i, c) in clients.iter_mut().enumerate() {
            c.read_exact(&mut buf).ok()?;
            assert_eq!(buf, [(i + round) as u8; MSG], "client {i}, round {round}");
        }
    }
    let cpu2 = cpu_seconds();
    Some(LinuxRun {
        cpu: cpu2 - cpu0,
        exchanges: cpu2 - cpu1,
    })
}

/// What one [`linux_lockstep`] run took: on-CPU seconds, connecting included and not.
#[derive(Clone, Copy, Debug)]
struct LinuxRun {
    cpu: f64,
    exchanges: f64,
}

/// Raises this process's soft limit on open descriptors to its hard limit (the Linux
/// reference holds two per client), and says what it now is.
fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 0,
    }
}

/// The kernel's table beside sansnet's: per-client CPU at each of `sizes` connections,
/// `rounds` interleaved rounds, and the per-round ratio of each size to the first.
fn linux_table(sizes: &[usize], rounds: usize) {
    const R: usize = 10;
    let name = "rpc/scaling/linux-loopback";
    let limit = raise_descriptor_limit();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    if (limit as usize) < 2 * largest + 16 {
        println!(
            "{name}: skipped: {limit} descriptors, {} needed",
            2 * largest + 16
        );
        return;
    }
    println!(
        "{name}: the same lockstep workload on this machine's kernel TCP over loopback \
         (clients x {R} exchanges of {MSG} B, one thread, blocking sockets), {rounds} \
         interleaved rounds, medians [min, max]"
    );
    let mut runs: Vec<Vec<LinuxRun>> = vec![Vec::new(); sizes.len()];
    for round in 0..rounds {
        for k in 0..sizes.len() {
            let which = (k + round) % sizes.len();
            match linux_lockstep(sizes[which], R) {
                Some(run) => runs[which].push(run),
                None => {
                    println!("{name}: skipped: loopback sockets failed");
                    return;
                }
            }
        }
    }
    println!(
        "  {:>7} {:>26} {:>26}",
        "clients", "CPU us/client", "exchanges CPU us/client"
    );
    for (&n, rs) in sizes.iter().zip(&runs) {
        let per = |f: &dyn Fn(&LinuxRun) -> f64| -> Vec<f64> {
            rs.iter().map(|r| f(r) * 1e6 / n as f64).collect()
        };
        println!(
            "  {n:>7} {:>26} {:>26}",
            spread(&per(&|r| r.cpu), 1),
            spread(&per(&|r| r.exchanges), 1)
        );
    }
    for (k, &n) in sizes.iter().enumerate().skip(1) {
        let ratio =
            |f: &dyn Fn(&LinuxRun) -> f64| per_round_ratio(&runs[k], n, &runs[0], sizes[0], f);
        println!(
            "{name}: per-client cost at {n} / at {}: CPU {}, exchanges alone {} (per round)",
            sizes[0],
            spread(&ratio(&|r| r.cpu), 2),
            spread(&ratio(&|r| r.exchanges), 2)
        );
    }
}

/// Round by round, `f` a client at `n` clients (`runs`) over `f` a client at `base` clients
/// (`base_runs`, the same rounds).
fn per_round_ratio<R>(
    runs: &[R],
    n: usize,
    base_runs: &[R],
    base: usize,
    f: &dyn Fn(&R) -> f64,
) -> Vec<f64> {
    runs.iter()
        .zip(base_runs)
        .map(|(a, b)| (f(a) / n as f64) / (f(b) / base as f64))
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The median and [min, max] of `v`, formatted with `digits` decimals.
fn spread(v: &[f64], digits: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.digits$} [{min:.digits$}, {max:.digits$}]",
        median(v.to_vec())
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Per-client cost at each of `sizes` clients x 10 exchanges, `rounds` interleaved rounds
/// (the order turned each round, so that noise from the machine falls on every size
/// alike), and the per-round ratio of each size's per-client CPU time to the first's.
/// `goal`: the most the last size's CPU ratio may be.
fn scaling_table(layout: Layout, api: Api, sizes: &[usize], rounds: usize, goal: Option<f64>) {
    const R: usize = 10;
    let name = format!("rpc/scaling/{layout:?}/{api:?}");
    println!(
        "{name}: clients x {R} exchanges of {MSG} B, {rounds} interleaved rounds, medians \
         [min, max]; load average at start {}",
        loadavg()
    );
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); sizes.len()];
    for round in 0..rounds {
        for k in 0..sizes.len() {
            let which = (k + round) % sizes.len();
            let seed = 30 + round as u64;
            runs[which].push(sansnet_with(sizes[which], R, seed, layout, api));
        }
    }
    println!(
        "  {:>7} {:>26} {:>22} {:>22} {:>24} {:>10} {:>13} {:>9} {:>6} {:>9}",
        "clients",
        "CPU us/client [min,max]",
        "build CPU us/client",
        "run CPU us/client",
        "wall us/client",
        "steps/cl.",
        "peak heap/cl.",
        "virt ms",
        "drops",
        "drop us"
    );
    let per_client = |n: usize, rs: &[Run], f: &dyn Fn(&Run) -> f64| -> Vec<f64> {
        rs.iter().map(|r| f(r) / n as f64).collect()
    };
    for (&n, rs) in sizes.iter().zip(&runs) {
        let cpu = per_client(n, rs, &|r| r.cpu * 1e6);
        let build = per_client(n, rs, &|r| r.build_cpu * 1e6);
        let run = per_client(n, rs, &|r| (r.cpu - r.build_cpu) * 1e6);
        let wall = per_client(n, rs, &|r| r.wall * 1e6);
        let steps = per_client(n, rs, &|r| r.steps as f64);
        let heap = per_client(n, rs, &|r| r.peak_heap as f64);
        println!(
            "  {n:>7} {:>26} {:>22} {:>22} {:>24} {:>10.1} {:>11.0} B {:>9.1} {:>6} {:>9.1}",
            spread(&cpu, 1),
            spread(&build, 1),
            spread(&run, 1),
            spread(&wall, 1),
            median(steps),
            median(heap),
            rs[0].virt.as_secs_f64() * 1e3,
            rs.iter().map(|r| r.drops).max().unwrap_or(0),
            median(per_client(n, rs, &|r| r.drop_cpu * 1e6))
        );
    }
    for (k, &n) in sizes.iter().enumerate().skip(1) {
        let ratio = |f: &dyn Fn(&Run) -> f64| per_round_ratio(&runs[k], n, &runs[0], sizes[0], f);
        let cpu = ratio(&|r| r.cpu);
        // The goal is 3,000 clients' cost over 100's: no verdict for other sizes (`RPC_SIZES`).
        let verdict = match goal.filter(|_| n == 3000 && sizes[0] == 100) {
            Some(g) if median(cpu.clone()) <= g => format!("; goal <= {g}: met"),
            Some(g) => format!("; goal <= {g}: MISSED"),
            None => String::new(),
        };
        println!(
            "{name}: per-client cost at {n} / at {}: CPU {}, run CPU {}, wall {} (per \
             round; 1.0 is linear{verdict})",
            sizes[0],
            spread(&cpu, 2),
            spread(&ratio(&|r| r.cpu - r.build_cpu), 2),
            spread(&ratio(&|r| r.wall), 2),
        );
    }
    println!("{name}: load average at end {}", loadavg());
}

fn rounds() -> usize {
    std::env::var("RPC_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7)
}

fn scaling_only() -> bool {
    std::env::var_os("RPC_SCALING_ONLY").is_some_and(|v| v != "0")
}

/// The goal's figure (issue 16): racks, node-explicit tasks, 100 / 1,000 / 3,000 clients.
fn racks_scaling() {
    // `RPC_SIZES=3000` (or `100,3000`) for a profile of one size.
    let sizes: Vec<usize> = std::env::var("RPC_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100, 1000, 3000]);
    scaling_table(Layout::Racks, Api::Node, &sizes, rounds(), Some(1.3));
    if std::env::var_os("RPC_LINUX").is_none_or(|v| v != "0") {
        linux_table(&sizes, rounds());
    }
}

fn report(c: &mut Criterion) {
    // 100 clients x 100 exchanges, both, interleaved.
    let (mut ours, mut theirs) = (vec![], vec![]);
    let (mut sim_ours, mut sim_theirs) = (Duration::ZERO, std::time::Duration::ZERO);
    for round in 0..3 {
        let (w, s) = sansnet(100, 100, 10 + round, Layout::OneSwitch);
        ours.push(w);
        sim_ours = s;
        let (w, s) = turmoil_run(100, 100, 10 + round);
        theirs.push(w);
        sim_theirs = s;
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "rpc/100x100: sansnet {:.3} s, turmoil {:.3} s of wall time (median of 3): sansnet \
         {:.1}x faster (goal >= 10x: {}); simulated sansnet {:?}, turmoil {:?}",
        o,
        t,
        t / o,
        if t / o >= 10.0 { "met" } else { "MISSED" },
        sim_ours,
        sim_theirs
    );
    // The same, with the applications written as tokio services (`sansnet_sim::net`,
    // `tokio::spawn`): the code of the turmoil side.
    let (mut ours, mut theirs) = (vec![], vec![]);
    for round in 0..3 {
        ours.push(sansnet_with(100, 100, 10 + round, Layout::OneSwitch, Api::Tokio).wall);
        theirs.push(turmoil_run(100, 100, 10 + round).0);
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "rpc/100x100/tokio-api: sansnet {o:.3} s, turmoil {t:.3} s (median of 3): {:.1}x \
         (goal >= 10x: {})",
        t / o,
        if t / o >= 10.0 { "met" } else { "MISSED" }
    );
    // 300 x 10, both.
    let (mut ours, mut theirs) = (vec![], vec![]);
    for round in 0..3 {
        ours.push(sansnet(300, 10, 20 + round, Layout::OneSwitch).0);
        theirs.push(turmoil_run(300, 10, 20 + round).0);
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "rpc/300x10: sansnet {o:.3} s, turmoil {t:.3} s (median of 3): {:.1}x",
        t / o
    );
    // Scaling in clients with tokio services on the racks, and on one switch.
    scaling_table(Layout::Racks, Api::Tokio, &[100, 1000, 3000], 3, None);
    scaling_table(Layout::OneSwitch, Api::Node, &[100, 300, 1000], 3, None);

    let mut g = c.benchmark_group("rpc");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(std::time::Duration::from_secs(10));
    g.bench_function("sansnet/100x100", |b| {
        b.iter(|| sansnet(100, 100, 1, Layout::OneSwitch))
    });
    g.bench_function("sansnet/racks/1000x10", |b| {
        b.iter(|| sansnet(1000, 10, 1, Layout::Racks))
    });
    g.bench_function("sansnet/racks/3000x10", |b| {
        b.iter(|| sansnet(3000, 10, 1, Layout::Racks))
    });
    g.bench_function("sansnet/tokio-api/100x100", |b| {
        b.iter(|| sansnet_with(100, 100, 1, Layout::OneSwitch, Api::Tokio))
    });
    g.finish();
}

criterion_group!(rpc, report);

/// The racks scaling table first; with `RPC_SCALING_ONLY` set, nothing else.
fn main() {
    racks_scaling();
    if scaling_only() {
        return;
    }
    rpc();
    Criterion::default().configure_from_args().final_summary();
}
