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
// A benchmark measures wall-clock time; the stack and simulator never read it.
#![allow(clippy::disallowed_methods)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant as WallInstant;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::stack::iface::{Fd, Host, HostConfig, InterfaceConfig, Limits};
use sansnet_sim::{
    exec, net, one_nic_config, Duration, LinkFaults, NodeId, Seed, Sim, TcpListener, TcpStream,
};

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
    sim.set_addr(name, addr);
    sim.add_host_with(name, 1, move |ctx| HostConfig {
        default_gateway: Some(gateway),
        ..one_nic_config(ctx, addr, 24)
    })
}

/// sansnet: wall seconds for `n` clients x `r` exchanges, and the simulated time it took.
/// One-way latency between a client and the server is 1 ms in both layouts.
fn sansnet(n: usize, r: usize, seed: u64, layout: Layout) -> (f64, Duration) {
    sansnet_with(n, r, seed, layout, Api::Node)
}

fn sansnet_with(n: usize, r: usize, seed: u64, layout: Layout, api: Api) -> (f64, Duration) {
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
            let server =
                add_routed_host(&mut sim, "server", server_ip, Ipv4Addr::new(10, 0, 0, 254));
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
                // 200 KB per neighbour).
                let limits = Limits {
                    arp_pending_packets_per_addr: 4096,
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
    // A server NIC with 4096 descriptors, as servers have: at 1000 clients, every
    // handshake's last ACK and first request arrive at one instant, 2000 frames.
    sim.set_nic_rings(sim.nic(server, 0), 4096, 4096);
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
    sim.run_until_condition(|_| clients.iter().all(|h| h.is_finished()))
        .unwrap();
    (
        start.elapsed().as_secs_f64(),
        sim.now() - sansnet_sim::Instant::ZERO,
    )
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
        ours.push(sansnet_with(100, 100, 10 + round, Layout::OneSwitch, Api::Tokio).0);
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
    // Scaling in clients, sansnet only, both layouts, and the racks with tokio services.
    for (layout, api) in [
        (Layout::Racks, Api::Node),
        (Layout::Racks, Api::Tokio),
        (Layout::OneSwitch, Api::Node),
    ] {
        let mut per_client = Vec::new();
        for n in [100, 300, 1000] {
            let w = median(
                (0..5)
                    .map(|k| sansnet_with(n, 10, 30 + k, layout, api).0)
                    .collect(),
            );
            per_client.push(w / n as f64);
            println!(
                "rpc/scaling/{layout:?}/{api:?}: sansnet {n} clients x 10: {w:.3} s, {:.1} us \
                 per client",
                w / n as f64 * 1e6
            );
        }
        println!(
            "rpc/scaling/{layout:?}/{api:?}: cost per client at 1000 / at 100 = {:.2} (1.0 is \
             linear; goal <= 1.5)",
            per_client[2] / per_client[0]
        );
    }

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
    g.bench_function("sansnet/tokio-api/100x100", |b| {
        b.iter(|| sansnet_with(100, 100, 1, Layout::OneSwitch, Api::Tokio))
    });
    g.finish();
}

criterion_group!(rpc, report);
criterion_main!(rpc);
