//! Shared scaffolding for the end-to-end tests: seeds, byte patterns, topologies and the
//! bulk-transfer workload.
#![allow(dead_code)]

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::exec::JoinHandle;
use sansnet_sim::stack::iface::{
    Host, HostConfig, InterfaceConfig, Limits as HostLimits, SocketInfo, SocketState,
};
use sansnet_sim::stack::tcp::State;
use sansnet_sim::{
    replay_line, Duration, Instant, Limits, LinkFaults, LinkId, NodeId, Seed, Sim, TcpListener,
    TcpStream,
};

/// The server's address in every two-host topology.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The client's address in every two-host topology.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The port servers listen on.
pub const PORT: u16 = 80;
/// Where clients connect.
pub const SERVER: SocketAddrV4 = SocketAddrV4::new(SERVER_IP, PORT);

/// The seeds a test runs under: `SANSNET_SEED` alone if it is set, else `defaults`.
pub fn seeds(defaults: &[u64]) -> Vec<Seed> {
    match std::env::var(sansnet_sim::rng::SEED_ENV_VAR) {
        Ok(_) => vec![sansnet_sim::seed_from_env_or(0)],
        Err(_) => defaults.iter().copied().map(Seed).collect(),
    }
}

/// Runs `f` under each seed of [`seeds`]`(defaults)`. When one fails, prints the one line
/// that replays it (`replay: SANSNET_SEED=... cargo test -- --exact <test>`) and fails.
pub fn for_seeds(defaults: &[u64], mut f: impl FnMut(Seed)) {
    for seed in seeds(defaults) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(seed))) {
            // A failed run (`RunError`) already printed the line in its message.
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if !message.contains("replay: ") {
                eprintln!("{}", replay_line(seed));
            }
            resume_unwind(panic);
        }
    }
}

/// `len` pseudo-random bytes from `seed` and `stream` (SplitMix64): a byte stream whose
/// every position is checkable, so a lost, duplicated, reordered or flipped byte shows.
pub fn pattern(seed: Seed, stream: u64, len: usize) -> Vec<u8> {
    let mut state = seed.0 ^ stream.wrapping_mul(0xa076_1d64_78bd_642f);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Panics, saying where, unless `got` is exactly `want` (without printing megabytes).
#[track_caller]
pub fn assert_same_bytes(what: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: byte stream damaged: got {} bytes, want {}; first difference at offset {first}",
        got.len(),
        want.len()
    );
}

/// Two hosts, `client` (10.0.0.1) and `server` (10.0.0.2), on one link with `faults` both
/// ways.
#[derive(Debug)]
pub struct Pair {
    pub sim: Sim,
    pub client: NodeId,
    pub server: NodeId,
    pub link: LinkId,
}

/// Host limits for lossy networks: ten ARP requests before giving up, not three, so that
/// a loss burst at the start does not fail `connect` with EHOSTUNREACH (correct, but not
/// what the fault tests are about).
pub fn patient_arp() -> HostLimits {
    HostLimits {
        arp_max_requests: 10,
        ..HostLimits::default()
    }
}

/// A host with one NIC at `addr/24` (MTU 1500) and [`patient_arp`].
pub fn add_lan_host(sim: &mut Sim, name: &str, addr: Ipv4Addr) -> NodeId {
    sim.set_addr(name, addr);
    sim.add_host_with(name, 1, move |ctx| HostConfig {
        limits: patient_arp(),
        ..sansnet_sim::one_nic_config(ctx, addr, 24)
    })
}

pub fn pair(seed: Seed, faults: LinkFaults) -> Pair {
    let mut sim = Sim::new(seed);
    let client = add_lan_host(&mut sim, "client", CLIENT_IP);
    let server = add_lan_host(&mut sim, "server", SERVER_IP);
    let link = sim.connect(sim.nic(client, 0), sim.nic(server, 0), faults);
    Pair {
        sim,
        client,
        server,
        link,
    }
}

/// A host with one NIC at `addr/24`, an interface MTU of `mtu` and a default gateway.
pub fn add_routed_host(
    sim: &mut Sim,
    name: &str,
    addr: Ipv4Addr,
    mtu: usize,
    gateway: Ipv4Addr,
) -> NodeId {
    sim.set_addr(name, addr);
    sim.add_host_with(name, 1, move |ctx| HostConfig {
        name: ctx.name.clone(),
        interfaces: vec![InterfaceConfig {
            mac: ctx.macs[0],
            addr,
            prefix_len: 24,
            mtu,
        }],
        default_gateway: Some(gateway),
        limits: patient_arp(),
        ..HostConfig::default()
    })
}

/// A router with two NICs, `(address, MTU)` each in a /24, and a default gateway.
pub fn add_router(
    sim: &mut Sim,
    name: &str,
    nics: [(Ipv4Addr, usize); 2],
    gateway: Ipv4Addr,
) -> NodeId {
    sim.add_host_with(name, 2, move |ctx| HostConfig {
        name: ctx.name.clone(),
        interfaces: nics
            .iter()
            .enumerate()
            .map(|(i, &(addr, mtu))| InterfaceConfig {
                mac: ctx.macs[i],
                addr,
                prefix_len: 24,
                mtu,
            })
            .collect(),
        default_gateway: Some(gateway),
        forwarding: true,
        limits: patient_arp(),
        ..HostConfig::default()
    })
}

/// Where clients connect in the routed topology.
pub const ROUTED_SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 3, 2), PORT);

/// `client` (10.0.1.2) - `r1` - core - `r2` - `server` (10.0.3.2): three subnets, two
/// routers, and a core link (10.0.2.0/24) whose MTU is `core_mtu`, so that full-sized
/// packets need path MTU discovery (RFC 1191) in both directions.
#[derive(Debug)]
pub struct Routed {
    pub sim: Sim,
    pub client: NodeId,
    pub server: NodeId,
    pub r1: NodeId,
    pub r2: NodeId,
    /// client - r1.
    pub edge_a: LinkId,
    /// r1 - r2.
    pub core: LinkId,
    /// r2 - server.
    pub edge_b: LinkId,
}

pub fn routed(seed: Seed, core_mtu: usize, edge: LinkFaults, core: LinkFaults) -> Routed {
    let mut sim = Sim::new(seed);
    let ip = Ipv4Addr::new;
    let client = add_routed_host(&mut sim, "client", ip(10, 0, 1, 2), 1500, ip(10, 0, 1, 1));
    let r1 = add_router(
        &mut sim,
        "r1",
        [(ip(10, 0, 1, 1), 1500), (ip(10, 0, 2, 1), core_mtu)],
        ip(10, 0, 2, 2),
    );
    let r2 = add_router(
        &mut sim,
        "r2",
        [(ip(10, 0, 2, 2), core_mtu), (ip(10, 0, 3, 1), 1500)],
        ip(10, 0, 2, 1),
    );
    let server = add_routed_host(&mut sim, "server", ip(10, 0, 3, 2), 1500, ip(10, 0, 3, 1));
    let core_faults = LinkFaults {
        mtu_bytes: Some(core_mtu as u32),
        ..core
    };
    let edge_a = sim.connect(sim.nic(client, 0), sim.nic(r1, 0), edge.clone());
    let core = sim.connect(sim.nic(r1, 1), sim.nic(r2, 0), core_faults);
    let edge_b = sim.connect(sim.nic(r2, 1), sim.nic(server, 0), edge);
    Routed {
        sim,
        client,
        server,
        r1,
        r2,
        edge_a,
        core,
        edge_b,
    }
}

/// What one bulk transfer moves: `upload` bytes client to server, then `download` bytes
/// back, each a [`pattern`] of the seed.
#[derive(Debug, Clone, Copy)]
pub struct Bulk {
    pub upload: usize,
    pub download: usize,
}

/// The two tasks of a bulk transfer.
#[derive(Debug)]
pub struct BulkTasks {
    /// The client's result: the bytes it downloaded.
    pub client: JoinHandle<io::Result<Vec<u8>>>,
    /// The server's result: the bytes it received.
    pub server: JoinHandle<io::Result<Vec<u8>>>,
    pub bulk: Bulk,
    pub seed: Seed,
}

/// The upload's pattern stream id.
pub const UPLOAD: u64 = 1;
/// The download's pattern stream id.
pub const DOWNLOAD: u64 = 2;

/// Server: accept one connection, read to end of stream, send the download, close.
pub async fn bulk_server(
    node: NodeId,
    addr: SocketAddrV4,
    seed: Seed,
    download: usize,
) -> io::Result<Vec<u8>> {
    let listener = TcpListener::bind(node, addr)?;
    let (mut conn, _) = listener.accept().await?;
    drop(listener);
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await?;
    conn.write_all(&pattern(seed, DOWNLOAD, download)).await?;
    conn.close().await?;
    Ok(got)
}

/// Client: connect, send the upload, close the sending side, read the download to end.
pub async fn bulk_client(
    node: NodeId,
    server: SocketAddrV4,
    seed: Seed,
    upload: usize,
) -> io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(node, server).await?;
    conn.write_all(&pattern(seed, UPLOAD, upload)).await?;
    conn.close().await?;
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await?;
    Ok(got)
}

/// Spawns a bulk transfer between `client` and `server` (listening on `addr`).
pub fn spawn_bulk(
    sim: &mut Sim,
    client: NodeId,
    server: NodeId,
    addr: SocketAddrV4,
    bulk: Bulk,
) -> BulkTasks {
    let seed = sim.seed();
    let server_task = sim.spawn_on(server, bulk_server(server, addr, seed, bulk.download));
    let client_task = sim.spawn_on(client, bulk_client(client, addr, seed, bulk.upload));
    BulkTasks {
        client: client_task,
        server: server_task,
        bulk,
        seed,
    }
}

impl BulkTasks {
    /// Whether both sides have finished.
    pub fn finished(&self) -> bool {
        self.client.is_finished() && self.server.is_finished()
    }

    /// Runs `sim` until both sides finish (within `budget` of simulated time from now),
    /// then checks both byte streams by content.
    #[track_caller]
    pub fn run_and_check(&self, sim: &mut Sim, budget: Duration) {
        run_until(sim, budget, |_| self.finished());
        self.check();
    }

    /// Checks both byte streams by content.
    #[track_caller]
    pub fn check(&self) {
        let uploaded = self
            .server
            .take()
            .expect("server finished")
            .unwrap_or_else(|e| panic!("server failed: {e}"));
        assert_same_bytes(
            "upload",
            &uploaded,
            &pattern(self.seed, UPLOAD, self.bulk.upload),
        );
        let downloaded = self
            .client
            .take()
            .expect("client finished")
            .unwrap_or_else(|e| panic!("client failed: {e}"));
        assert_same_bytes(
            "download",
            &downloaded,
            &pattern(self.seed, DOWNLOAD, self.bulk.download),
        );
    }
}

/// Runs until `done`, failing (with the replay line) if it takes more than `budget` of
/// simulated time from now.
#[track_caller]
pub fn run_until(sim: &mut Sim, budget: Duration, done: impl FnMut(&Sim) -> bool) {
    let limits = sim.limits();
    sim.set_limits(Limits {
        max_time: sim.now() + budget,
        ..limits
    });
    let result = sim.run_until_condition(done);
    sim.set_limits(limits);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Runs `sim` until `handle` is finished, within `budget` of simulated time, and returns
/// its output.
#[track_caller]
pub fn run_task<T>(sim: &mut Sim, handle: &JoinHandle<T>, budget: Duration) -> T {
    run_until(sim, budget, |_| handle.is_finished());
    handle.take().expect("the task's output is taken once")
}

/// The `ss` table of a host.
pub fn ss(sim: &mut Sim, node: NodeId) -> Vec<SocketInfo> {
    sim.with_node::<Host, _>(node, |h, _| h.ss())
        .expect("the host is up")
}

/// Rows of `table` in `state`.
pub fn in_state(table: &[SocketInfo], state: SocketState) -> Vec<&SocketInfo> {
    table.iter().filter(|r| r.state == state).collect()
}

/// The ESTABLISHED state of an `ss` row.
pub const ESTABLISHED: SocketState = SocketState::Tcp(State::Established);

/// A time far enough that every bounded run fits.
pub fn far() -> Instant {
    Instant::from_secs(24 * 3600)
}
