//! A host: NICs, ARP, routing, IPv4 (with fragmentation, reassembly and forwarding), ICMP,
//! UDP, the TCP demultiplexer and a BSD-shaped socket API, all sans-IO.
//!
//! # Call protocol
//!
//! A [`Host`] never reads a clock and never does I/O. Its owner (the simulator, a test
//! harness) drives it with the same verbs as a TCP [`Connection`](crate::tcp::Connection):
//!
//! - inputs: [`handle_frame(now, nic, frame)`](Host::handle_frame) for every frame a NIC
//!   receives, the socket calls ([`Host::socket`], [`Host::connect`], [`Host::send`], ...,
//!   each with `now`), and [`handle_timeout(now)`](Host::handle_timeout) once the deadline
//!   of [`poll_timeout`](Host::poll_timeout) has passed (early calls are harmless);
//! - outputs: after every input, [`poll_transmit(now, buf)`](Host::poll_transmit) until it
//!   returns `None` (each call writes one Ethernet frame into `buf` and says which NIC sends
//!   it), then [`poll_timeout`](Host::poll_timeout). Loopback traffic is delivered inside
//!   `poll_transmit`, so draining it is also what moves packets to 127.0.0.1.
//!
//! # Determinism and bounds
//!
//! Every table is either a `BTreeMap`/`Vec` (iterated) or a hash map with a fixed, seeded
//! hasher that is only looked up (the TCP 4-tuple map). Every queue has a bound in
//! [`Limits`]; whatever does not fit is dropped and counted under a [`DropReason`].
//! Randomness (ISNs, ephemeral ports, IP identifications, SYN cookies, the hash seed) comes
//! from [`HostConfig::secret`].
//!
//! # Code map
//!
//! - this module: configuration, frame input and output, routing, IPv4, ICMP;
//! - `arp`: the neighbour cache, the pending queue and neighbour unreachability detection;
//! - `frag`: reassembly (RFC 791, RFC 815 hole bookkeeping, RFC 5722-style overlap
//!   policy) and fragmentation;
//! - `stream`: the TCP demultiplexer, listeners, SYN cookies, timers, the stream socket calls;
//! - `udp`: datagram sockets;
//! - `socket`: descriptors, options, the selector, `ss`;
//! - `info`: `TCP_INFO` by descriptor or by address (`tcp_info`, `tcp_info_of`);
//! - `process`: processes, each with its descriptor table over the host's sockets (`fork`,
//!   `dup2`, `exit`), and the `ss -p`, `lsof -i` and `/proc/<pid>/fd` views;
//! - `api`, `counters`: the public types.

mod api;
mod arp;
mod chunked;
mod counters;
mod frag;
pub mod fxhash;
mod info;
#[cfg(feature = "invariants")]
mod invariants;
mod process;
mod route;
mod socket;
mod stream;
mod udp;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

pub use api::{
    Errno, Fd, Interest, Pid, Proto, Readiness, Shutdown, SockOpt, SocketInfo, SocketState,
    SocketType, MAX_MEMBERSHIPS,
};
pub use counters::{
    ArpCounters, Counters, DropReason, IcmpCounters, IpCounters, LinkCounters, TcpCounters,
    UdpCounters,
};
pub use process::{
    LsofRow, ProcFd, ProcessInfo, SocketProcessInfo, SocketUser, PROCESS_NAME_MAX_LEN,
};
pub use socket::SocketOptions;

use crate::frame::SharedFrame;
use crate::hash::{siphash24, SecretKey};
use crate::tcp;
use crate::time::{Duration, Instant};
use crate::wire::icmpv4::{self, DstUnreachable, TimeExceeded};
use crate::wire::ipv4::{self, IpProtocol, Ipv4Options};
use crate::wire::{ethernet, ChecksumMode, EtherType, EthernetAddress};
use route::{in_prefix, mask, AddrTable, RouteTable};

/// One NIC of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Its MAC address.
    pub mac: EthernetAddress,
    /// Its IPv4 address.
    pub addr: Ipv4Addr,
    /// The length of its subnet prefix (24 for a /24): the connected route.
    pub prefix_len: u8,
    /// The largest IP packet it sends, in bytes (1500 for Ethernet).
    pub mtu: usize,
}

/// The bounds on every table and queue of a host, and the host-level timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open descriptors per process at most, the `RLIMIT_NOFILE` a process starts with
    /// (EMFILE past it).
    pub max_descriptors: usize,
    /// Open sockets in the whole host at most, whichever processes hold them (ENFILE past
    /// it: Linux's `fs.file-max`).
    pub max_open_files: usize,
    /// Processes at most, process 1 included (`fork` is EAGAIN past it).
    pub max_processes: usize,
    /// TCP connections at most, counting embryonic, unaccepted and orphaned ones.
    pub max_connections: usize,
    /// The largest backlog `listen` accepts (`SOMAXCONN`); larger ones are clamped.
    pub max_backlog: usize,
    /// Answer SYNs with SYN cookies (RFC 4987) when a listener's SYN queue is full.
    pub syn_cookies: bool,
    /// ARP cache entries at most.
    pub arp_cache_entries: usize,
    /// Packets waiting for one unresolved address at most.
    pub arp_pending_packets_per_addr: usize,
    /// Unresolved addresses at once at most.
    pub arp_pending_addrs: usize,
    /// How long a resolved address stays in the cache unused (after the neighbour was last
    /// heard from). An entry used past it is kept and re-validated as STALE instead (see
    /// the `arp` module).
    pub arp_cache_timeout: Duration,
    /// Time between ARP requests for an unresolved address.
    pub arp_retry_interval: Duration,
    /// Requests sent before resolution fails (EHOSTUNREACH).
    pub arp_max_requests: u32,
    /// How long a neighbour counts as reachable after an ARP reply to us, or TCP progress
    /// through it, confirmed it (REACHABLE); after that it is STALE and re-validated when
    /// next used (RFC 1122 section 2.3.2.1; see the `arp` module).
    pub arp_reachable_time_ns: u64,
    /// How long a STALE neighbour in use waits for TCP to confirm it before it is probed
    /// (DELAY).
    pub arp_delay_first_probe_time_ns: u64,
    /// Unicast requests sent to a neighbour's cached address, `arp_retry_interval` apart,
    /// before the entry is deleted and the address asked for by broadcast (PROBE).
    pub arp_unicast_probes: u32,
    /// Bytes held by incomplete datagrams at most.
    pub reassembly_bytes: usize,
    /// Incomplete datagrams at most.
    pub reassembly_datagrams: usize,
    /// How long an incomplete datagram waits for its fragments (RFC 1122 section 3.3.2).
    pub reassembly_timeout: Duration,
    /// Datagrams waiting in one UDP socket at most.
    pub udp_queue_datagrams: usize,
    /// Frames waiting for `poll_transmit` at most (TCP output is pulled on demand and
    /// does not count).
    pub tx_queue_frames: usize,
    /// Packets waiting on the loopback interface at most.
    pub loopback_queue_packets: usize,
    /// The first ephemeral port (RFC 6056: 49152).
    pub ephemeral_port_first: u16,
    /// The last ephemeral port (65535).
    pub ephemeral_port_last: u16,
    /// How long a closed (orphaned) connection may wait in FIN-WAIT-2 (Linux
    /// `tcp_fin_timeout`: 60 s).
    pub orphan_fin_wait2_timeout: Duration,
    /// How long a learned path MTU is kept (RFC 1191 section 6.3: 10 minutes).
    pub pmtu_timeout: Duration,
    /// Destinations with a learned path MTU at most.
    pub pmtu_entries: usize,
    /// ICMP error messages sent per second at most (RFC 1812 section 4.3.2.8).
    pub icmp_errors_per_sec: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_descriptors: 1024,
            // Linux's `fs.nr_open` default: high enough that one process alone (the
            // only one, for code that predates processes) meets EMFILE first.
            max_open_files: 1 << 20,
            max_processes: 4096,
            max_connections: 65536,
            max_backlog: 4096,
            syn_cookies: true,
            arp_cache_entries: 1024,
            // Linux bounds this queue by bytes (about 200 KB per neighbour) since 3.3;
            // the old 3 packets dropped the SYNs of every client but three that retried at
            // the same instant after an entry expired (found by a topology sweep). Linux's
            // 212,992 bytes (`unres_qlen_bytes`, counted in socket-buffer truesize) hold
            // 101 full-size frames (its `unres_qlen` default) or roughly 200 SYNs: 64 is of
            // that order. A thousand connects in one instant overflow either, and cost their
            // senders one SYN retransmission (the 1000-client regression: what failed there
            // was the listener's backlog, not this).
            arp_pending_packets_per_addr: 64,
            arp_pending_addrs: 256,
            arp_cache_timeout: Duration::from_secs(60),
            arp_retry_interval: Duration::from_secs(1),
            arp_max_requests: 3,
            // Linux's neighbour defaults (`base_reachable_time_ms` 30 s, without its random
            // factor of 0.5 to 1.5; `delay_first_probe_time` 5 s; `ucast_solicit` 3), which
            // are RFC 4861's REACHABLE_TIME, DELAY_FIRST_PROBE_TIME and MAX_UNICAST_SOLICIT.
            arp_reachable_time_ns: 30_000_000_000,
            arp_delay_first_probe_time_ns: 5_000_000_000,
            arp_unicast_probes: 3,
            reassembly_bytes: 256 * 1024,
            reassembly_datagrams: 64,
            reassembly_timeout: Duration::from_secs(30),
            udp_queue_datagrams: 256,
            tx_queue_frames: 4096,
            loopback_queue_packets: 4096,
            ephemeral_port_first: 49152,
            ephemeral_port_last: 65535,
            orphan_fin_wait2_timeout: Duration::from_secs(60),
            pmtu_timeout: Duration::from_secs(600),
            pmtu_entries: 256,
            icmp_errors_per_sec: 1000,
        }
    }
}

/// Everything a host is made of.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// A name for traces and `Debug`.
    pub name: String,
    /// The NICs; `handle_frame`'s `nic` indexes this.
    pub interfaces: Vec<InterfaceConfig>,
    /// Where packets with no more specific route go.
    pub default_gateway: Option<Ipv4Addr>,
    /// Forward packets not addressed to us (a router).
    pub forwarding: bool,
    /// Seeds ISNs, ephemeral ports, IP identifications, SYN cookies and hash tables.
    pub secret: SecretKey,
    /// The template of every TCP connection (its `secret` is replaced by the host's).
    pub tcp: tcp::Config,
    /// Bounds and host timers.
    pub limits: Limits,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            name: String::from("host"),
            interfaces: Vec::new(),
            default_gateway: None,
            forwarding: false,
            secret: SecretKey([0x42; 16]),
            tcp: tcp::Config::default(),
            limits: Limits::default(),
        }
    }
}

/// A route: packets to `dest/prefix_len` leave by `nic`, to `gateway` or directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destination network.
    pub dest: Ipv4Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The NIC.
    pub nic: usize,
    /// The next hop, or `None` for a connected network.
    pub gateway: Option<Ipv4Addr>,
}

/// Who sent a packet, so that a failure to deliver it (ARP) can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    None,
    Tcp(stream::ConnKey),
    Udp(socket::SockId),
}

const LOOPBACK_MTU: usize = 65535;
/// Spare packet buffers a host keeps at least, whatever its transmit queue's bound (see
/// `Host::packet_pool_max`).
const PACKET_POOL_MIN: usize = 32;

/// Where `poll_transmit` writes a frame: the caller's bytes, or the caller's buffer, which
/// `poll_transmit_vec` may trade for a pooled one that holds the frame already.
enum TxBuf<'a> {
    Slice(&'a mut [u8]),
    Vec(&'a mut Vec<u8>),
}

impl TxBuf<'_> {
    fn slice(&mut self) -> &mut [u8] {
        match self {
            TxBuf::Slice(s) => s,
            TxBuf::Vec(v) => v.as_mut_slice(),
        }
    }
}

/// A frame waiting for `poll_transmit`.
#[derive(Debug)]
enum Outgoing {
    /// A whole frame, the first `len` bytes of `buf` (ARP, or a TCP segment written whole
    /// by `tcp_transmit`). A pooled buffer keeps its full length: truncated and grown
    /// again, it would be zero-filled each time it is reused.
    Frame { buf: Vec<u8>, len: usize },
    /// An IP packet whose Ethernet header is written straight into the caller's buffer, so
    /// that sending a packet costs no second allocation and copy.
    Ip {
        dst: EthernetAddress,
        packet: Vec<u8>,
    },
}

/// A host (or a router) with its sockets. See the module documentation for the call
/// protocol.
pub struct Host {
    cfg: HostConfig,
    routes: RouteTable,
    /// The interfaces' addresses and subnet broadcast addresses, indexed.
    addrs: AddrTable,
    arp: arp::ArpTable,
    tx_queue: VecDeque<(usize, Outgoing)>,
    loopback: VecDeque<Vec<u8>>,
    reassembly: frag::Reassembler,
    /// Learned path MTUs (RFC 1191), with their expiry.
    pmtu: BTreeMap<Ipv4Addr, (usize, Instant)>,
    ip_ident: u16,
    /// Counts changes to the routes and the learned path MTUs: a connection's cached path
    /// (`stream::TxPath`) holds only while this is what it was when the path was found
    /// (the neighbour table counts its own changes, `ArpTable::generation`).
    path_generation: u64,
    icmp_budget: (Instant, u32),
    counters: Counters,
    last_now: Instant,
    /// The frame `handle_frame_shared` is reading, for TCP to keep payload in.
    rx_frame: Option<SharedFrame>,
    // Processes and sockets.
    /// Every process with its descriptor table; process 1 always exists.
    processes: BTreeMap<Pid, process::Process>,
    /// The process socket calls run as (see `Host::as_process`).
    current: Pid,
    next_pid: u32,
    /// The last socket inode number given out.
    next_inode: u64,
    /// Sockets by slot, readiness changes, bound UDP ports.
    sockets: socket::SocketTable,
    /// Connections, their lookup tables and timers, listeners and bound ports.
    tcp: stream::TcpTable,
    /// Packet buffers handed back by `poll_transmit`, reused for the next TCP segments
    /// and forwarded packets: an allocation and a zeroing per segment showed in profiles.
    /// At most `packet_pool_max()`.
    packet_pool: Vec<Vec<u8>>,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.cfg.name)
            .field("interfaces", &self.cfg.interfaces)
            .field("sockets", &self.sockets.slots.iter().flatten().count())
            .field("connections", &self.tcp.conn_count)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host with the NICs, routes and limits of `config`.
    pub fn new(mut config: HostConfig) -> Host {
        config.tcp.secret = config.secret;
        let mut routes: Vec<Route> = config
            .interfaces
            .iter()
            .enumerate()
            .map(|(nic, i)| Route {
                dest: Ipv4Addr::from(u32::from(i.addr) & mask(i.prefix_len)),
                prefix_len: i.prefix_len.min(32),
                nic,
                gateway: None,
            })
            .collect();
        if let Some(gw) = config.default_gateway {
            if let Some(r) = routes
                .iter()
                .find(|r| in_prefix(gw, r.dest, r.prefix_len))
                .copied()
            {
                routes.push(Route {
                    dest: Ipv4Addr::UNSPECIFIED,
                    prefix_len: 0,
                    nic: r.nic,
                    gateway: Some(gw),
                });
            }
        }
        let seed = siphash24(&config.secret, b"fxhash seed");
        let ident = siphash24(&config.secret, b"ip ident") as u16;
        let next_ephemeral = siphash24(&config.secret, b"ephemeral") as u32;
        Host {
            routes: RouteTable::new(routes),
            addrs: AddrTable::new(&config.interfaces),
            arp: arp::ArpTable::default(),
            tx_queue: VecDeque::new(),
            loopback: VecDeque::new(),
            reassembly: frag::Reassembler::default(),
            pmtu: BTreeMap::new(),
            ip_ident: ident,
            path_generation: 0,
            icmp_budget: (Instant::ZERO, 0),
            counters: Counters::default(),
            last_now: Instant::ZERO,
            rx_frame: None,
            processes: BTreeMap::from([(
                Pid::INIT,
                process::Process::new("init", None, config.limits.max_descriptors),
            )]),
            current: Pid::INIT,
            next_pid: Pid::INIT.0 + 1,
            next_inode: 0,
            sockets: socket::SocketTable::default(),
            tcp: stream::TcpTable::new(seed, next_ephemeral),
            packet_pool: Vec::new(),
            cfg: config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.cfg
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The routing table, longest prefix first.
    pub fn routes(&self) -> &[Route] {
        self.routes.routes()
    }

    /// Adds a static route (longest prefix still wins; among equals, the first added).
    pub fn add_route(&mut self, route: Route) {
        self.routes.add(route);
        self.path_generation += 1;
    }

    /// Counters by layer, and drops by reason.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The MAC address cached for `ip` on `nic`, if any and not expired.
    pub fn arp_lookup(&self, now: Instant, nic: usize, ip: Ipv4Addr) -> Option<EthernetAddress> {
        self.arp.lookup(now, nic, ip)
    }

    /// The path MTU learned for `dst` (RFC 1191), if lower than the first hop's.
    pub fn path_mtu(&self, now: Instant, dst: Ipv4Addr) -> Option<usize> {
        self.pmtu
            .get(&dst)
            .filter(|(_, exp)| *exp > now)
            .map(|(m, _)| *m)
    }

    fn drop_packet(&mut self, reason: DropReason) {
        self.counters.count_drop(reason);
    }

    // ------------------------------------------------------------------------------------
    // The sans-IO verbs

    /// A frame arrived on NIC `nic` (an index into `config.interfaces`).
    pub fn handle_frame(&mut self, now: Instant, nic: usize, frame: &[u8]) {
        self.advance_clock(now);
        self.frame_input(now, nic, frame);
        #[cfg(feature = "invariants")]
        self.check_invariants(now);
    }

    /// A frame arrived on NIC `nic`, in a buffer the host may keep a reference to: the
    /// same as [`handle_frame`](Self::handle_frame), except that the in-order payload of
    /// a full-size TCP segment stays in `frame` until the application reads it instead of
    /// being copied into the receive buffer (`crate::frame`). The caller gets the buffer
    /// back when `frame` [is unique](SharedFrame::is_unique) again.
    pub fn handle_frame_shared(&mut self, now: Instant, nic: usize, frame: &SharedFrame) {
        self.advance_clock(now);
        self.rx_frame = Some(frame.clone());
        self.frame_input(now, nic, frame);
        self.rx_frame = None;
        #[cfg(feature = "invariants")]
        self.check_invariants(now);
    }

    /// Records `now` for one of the sans-IO verbs: time never goes back (with the feature
    /// `invariants`, an earlier `now` is the caller's bug and panics).
    fn advance_clock(&mut self, now: Instant) {
        tcp::invariant!(
            now >= self.last_now,
            "monotonic now",
            "host {} called at {now} after {}",
            self.cfg.name,
            self.last_now
        );
        self.last_now = now;
    }

    fn frame_input(&mut self, now: Instant, nic: usize, frame: &[u8]) {
        self.counters.link.frames_in += 1;
        let Some(iface) = self.cfg.interfaces.get(nic) else {
            return self.drop_packet(DropReason::UnknownNic);
        };
        let eth = match ethernet::Frame::new_checked(frame)
            .and_then(|f| ethernet::Repr::parse(&f).map(|r| (r, f)))
        {
            Ok(x) => x,
            Err(_) => return self.drop_packet(DropReason::EthernetMalformed),
        };
        let (repr, view) = eth;
        if repr.dst_addr != iface.mac
            && !repr.dst_addr.is_broadcast()
            && !(repr.dst_addr.is_multicast() && self.multicast_mac_joined(nic, repr.dst_addr))
        {
            return self.drop_packet(DropReason::EthernetNotForUs);
        }
        if repr.vlan.is_some() {
            return self.drop_packet(DropReason::EthernetVlanTagged);
        }
        let link_broadcast = repr.dst_addr.is_broadcast();
        match repr.ethertype {
            EtherType::ARP => self.arp_input(now, nic, view.payload()),
            EtherType::IPV4 => self.ip_input(now, Some(nic), view.payload(), link_broadcast),
            _ => self.drop_packet(DropReason::EthernetUnknownType),
        }
    }

    /// The next frame to send: writes it into `buf` and returns `(nic, len)`. Call until
    /// `None` after every input. Give it at least the MTU + 18 bytes (Ethernet header and a
    /// VLAN tag); with the MTU + 54 or more, a full TCP segment is written in place (its
    /// payload straight from the send buffer, room left for the largest headers), with
    /// less it is built in a scratch buffer and copied: the same frame, at more cost.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.advance_clock(now);
        let out = self.next_frame(now, TxBuf::Slice(buf));
        #[cfg(feature = "invariants")]
        self.check_invariants(now);
        out
    }

    /// [`poll_transmit`](Self::poll_transmit) into a buffer the host may trade for one of
    /// its own: a frame that was already written whole when an input was handled (the
    /// answer to a segment, sent before the next is read) is handed over by swapping
    /// `*buf` with the host's buffer instead of being copied, and `*buf`'s old allocation
    /// goes to the host's pool for a later frame (or is freed when the pool is full). The frame is the first `len` bytes of
    /// `*buf` either way, and `*buf` is never shorter than it was. A caller that owns its
    /// frame buffers (a simulator, a ring of slots) saves a copy of every such frame and
    /// reads bytes that left the store buffer long ago, where the copy's wide stores
    /// stalled the first read of the frame's headers.
    pub fn poll_transmit_vec(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
        self.advance_clock(now);
        let out = self.next_frame(now, TxBuf::Vec(buf));
        #[cfg(feature = "invariants")]
        self.check_invariants(now);
        out
    }

    fn next_frame(&mut self, now: Instant, mut out_buf: TxBuf<'_>) -> Option<(usize, usize)> {
        loop {
            if let Some((nic, out)) = self.tx_queue.pop_front() {
                let len = match out {
                    Outgoing::Frame {
                        buf: mut frame,
                        len,
                    } => {
                        if let TxBuf::Vec(v) = &mut out_buf {
                            // Handed over whole when that leaves the caller's buffer no
                            // shorter: always for a caller whose buffers have the host's
                            // frame length (`tcp_transmit` grows a pooled buffer to it).
                            if v.len() <= frame.len() {
                                core::mem::swap(*v, &mut frame);
                                self.recycle_packet(frame);
                                self.counters.link.frames_out += 1;
                                return Some((nic, len));
                            }
                        }
                        let buf = out_buf.slice();
                        if len > buf.len() {
                            self.drop_packet(DropReason::TxBufferTooSmall);
                            self.recycle_packet(frame);
                            continue;
                        }
                        buf[..len].copy_from_slice(&frame[..len]);
                        self.recycle_packet(frame);
                        len
                    }
                    Outgoing::Ip { dst, packet } => {
                        let buf = out_buf.slice();
                        let eth = ethernet::Repr {
                            src_addr: self.cfg.interfaces[nic].mac,
                            dst_addr: dst,
                            vlan: None,
                            ethertype: EtherType::IPV4,
                        };
                        let hl = eth.buffer_len();
                        // Padded to Ethernet's minimum frame (without FCS).
                        let len = (hl + packet.len()).max(60);
                        if len > buf.len() {
                            self.drop_packet(DropReason::TxBufferTooSmall);
                            continue;
                        }
                        eth.emit(&mut ethernet::Frame::new_unchecked(&mut buf[..len]));
                        buf[hl..hl + packet.len()].copy_from_slice(&packet);
                        buf[hl + packet.len()..len].fill(0);
                        self.recycle_packet(packet);
                        len
                    }
                };
                self.counters.link.frames_out += 1;
                return Some((nic, len));
            }
            if let Some(packet) = self.loopback.pop_front() {
                self.ip_input(now, None, &packet, false);
                continue;
            }
            if let Some(&id) = self.tcp.dirty.front() {
                // Already sent from `tcp_input` if no longer marked.
                if !self.conn_ref(id).is_some_and(|e| e.in_dirty) {
                    self.tcp.dirty.pop_front();
                    continue;
                }
                // The connection stays at the head until it has sent everything.
                match self.tcp_transmit_into(now, id, out_buf.slice()) {
                    stream::DirectTx::Frame { nic, len } => {
                        self.counters.link.frames_out += 1;
                        return Some((usize::from(nic), len as usize));
                    }
                    stream::DirectTx::Queued => {}
                    stream::DirectTx::Done => {
                        self.tcp.dirty.pop_front();
                        self.tcp_transmit_done(now, id);
                    }
                    stream::DirectTx::Slow => {
                        self.tcp.dirty.pop_front();
                        self.tcp_transmit(now, id);
                    }
                }
                continue;
            }
            return None;
        }
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) may have work, if
    /// any. While frames are waiting for `poll_transmit`, that is "now" (the last time seen).
    /// It is never later than the first due timer but may be earlier: a TCP connection's
    /// timer that moved later is re-filed only when its old instant comes, and calling
    /// `handle_timeout` then does nothing else.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.tx_queue.is_empty() || !self.loopback.is_empty() || !self.tcp.dirty.is_empty() {
            return Some(self.last_now);
        }
        // Called after every input: the TCP timer first, then the two rarely set ones,
        // folded by hand (an iterator over all three showed in profiles).
        let mut next = self.tcp.timers.first().map(|(t, _)| *t);
        for t in [self.arp.poll_timeout(), self.reassembly.poll_timeout()]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    /// Fires every timer due at `now`: TCP connections, ARP retries, reassembly.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance_clock(now);
        self.tcp_handle_timeout(now);
        self.arp_handle_timeout(now);
        self.reassembly_handle_timeout(now);
        #[cfg(feature = "invariants")]
        {
            self.check_invariants(now);
            self.check_timers_fired(now);
        }
    }

    // ------------------------------------------------------------------------------------
    // Addresses and routing

    /// Whether `ip` is one of this host's unicast addresses (any NIC: the weak host model of
    /// RFC 1122 section 3.3.4.2) or loopback.
    pub fn is_local_addr(&self, ip: Ipv4Addr) -> bool {
        self.classify_addr(ip).0
    }

    /// Whether `ip` is the limited broadcast address or a subnet's broadcast address.
    fn is_broadcast_addr(&self, ip: Ipv4Addr) -> bool {
        self.classify_addr(ip).1
    }

    /// Whether `ip` is this host's (`is_local_addr`) and whether it is a broadcast
    /// address (`is_broadcast_addr`), from one lookup.
    fn classify_addr(&self, ip: Ipv4Addr) -> (bool, bool) {
        let kind = self.addrs.kind(ip);
        (
            ip.is_loopback() || kind.local,
            ip.is_broadcast() || kind.subnet_broadcast,
        )
    }

    /// The NIC and next hop for `dst` (longest prefix match), or `None`.
    pub fn route(&self, dst: Ipv4Addr) -> Option<(usize, Ipv4Addr)> {
        if dst.is_broadcast() {
            return (!self.cfg.interfaces.is_empty()).then_some((0, dst));
        }
        if dst.is_multicast() {
            // The interface the group routes through (a default route's), else the first;
            // the next hop is the group itself, whatever the route's gateway: its frames go
            // to the group's Ethernet address on the link.
            let nic = self.routes.lookup(dst).map_or(0, |r| r.nic);
            return (nic < self.cfg.interfaces.len()).then_some((nic, dst));
        }
        self.routes
            .lookup(dst)
            .map(|r| (r.nic, r.gateway.unwrap_or(dst)))
    }

    /// The source address for packets to `dst`, if it is reachable.
    fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if dst.is_loopback() {
            return Some(Ipv4Addr::LOCALHOST);
        }
        if self.is_local_addr(dst) {
            return Some(dst);
        }
        self.route(dst)
            .map(|(nic, _)| self.cfg.interfaces[nic].addr)
    }

    /// The MTU towards `dst`: the first hop's, lowered by what PMTUD learned.
    fn mtu_for(&self, now: Instant, dst: Ipv4Addr) -> usize {
        if self.is_local_addr(dst) {
            return LOOPBACK_MTU;
        }
        let link = self
            .route(dst)
            .map_or(1500, |(nic, _)| self.cfg.interfaces[nic].mtu);
        self.path_mtu_within(now, dst, link)
    }

    /// `link`, the first hop's MTU towards `dst`, lowered by what PMTUD learned: the part of
    /// [`mtu_for`](Self::mtu_for) after the route, for a caller that has the route already
    /// (every TCP segment). The map of learned path MTUs is empty unless PMTUD learned one,
    /// and then looked up.
    #[inline]
    pub(super) fn path_mtu_within(&self, now: Instant, dst: Ipv4Addr, link: usize) -> usize {
        if self.pmtu.is_empty() {
            return link;
        }
        self.path_mtu(now, dst).map_or(link, |p| p.min(link))
    }

    // ------------------------------------------------------------------------------------
    // Output

    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    /// Builds an IPv4 packet whose payload `fill` writes (given source and destination).
    #[allow(clippy::too_many_arguments)]
    fn build_ip(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        (ttl, tos): (u8, u8),
        dont_frag: bool,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8], Ipv4Addr, Ipv4Addr),
    ) -> Vec<u8> {
        let repr = ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol,
            payload_len,
            ttl,
            dscp: tos >> 2,
            ecn: tos & 0b11,
            ident: self.next_ident(),
            dont_frag,
            more_frags: false,
            frag_offset: 0,
            options: Ipv4Options::EMPTY,
        };
        let mut packet = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..]));
        fill(&mut packet[repr.header_len()..], src, dst);
        packet
    }

    /// Sends a locally built (or forwarded) IP packet: loopback, route, fragment, resolve.
    ///
    /// Errors: ENETUNREACH without a route; EMSGSIZE when it is too big for the first hop
    /// and DF is set.
    fn ip_output(&mut self, now: Instant, packet: Vec<u8>, origin: Origin) -> Result<(), Errno> {
        let Ok(view) = ipv4::Packet::new_checked(&packet[..]) else {
            debug_assert!(false, "the host built a bad packet");
            return Err(Errno::EINVAL);
        };
        let dst = view.dst_addr();
        let dont_frag = view.dont_frag();
        self.counters.ip.packets_out += 1;
        if self.is_local_addr(dst) {
            if self.loopback.len() >= self.cfg.limits.loopback_queue_packets {
                self.drop_packet(DropReason::LoopbackQueueFull);
                return Ok(());
            }
            self.loopback.push_back(packet);
            return Ok(());
        }
        let Some((nic, next_hop)) = self.route(dst) else {
            self.drop_packet(DropReason::IpNoRoute);
            return Err(Errno::ENETUNREACH);
        };
        let mtu = self.cfg.interfaces[nic].mtu;
        if packet.len() <= mtu {
            self.link_output(now, nic, next_hop, packet, origin);
            return Ok(());
        }
        if dont_frag {
            self.drop_packet(DropReason::IpFragNeeded);
            return Err(Errno::EMSGSIZE);
        }
        let fragments = frag::fragment(&packet, mtu);
        if fragments.is_empty() {
            self.drop_packet(DropReason::IpFragNeeded);
            return Err(Errno::EMSGSIZE);
        }
        self.counters.ip.fragmented += 1;
        for f in fragments {
            self.counters.ip.fragments_out += 1;
            self.link_output(now, nic, next_hop, f, origin);
        }
        Ok(())
    }

    /// Puts an IP packet on `nic` towards `next_hop`, resolving its MAC address.
    fn link_output(
        &mut self,
        now: Instant,
        nic: usize,
        next_hop: Ipv4Addr,
        packet: Vec<u8>,
        origin: Origin,
    ) {
        if self.is_broadcast_addr(next_hop) {
            return self.push_ip_frame(nic, EthernetAddress::BROADCAST, packet);
        }
        if next_hop.is_multicast() {
            return self.push_ip_frame(nic, socket::multicast_mac(next_hop), packet);
        }
        let limits = &self.cfg.limits;
        let (delay_ns, timeout) = (
            limits.arp_delay_first_probe_time_ns,
            limits.arp_cache_timeout,
        );
        match self.arp.resolve(now, nic, next_hop, delay_ns, timeout) {
            Some(mac) => self.push_ip_frame(nic, mac, packet),
            None => self.arp_enqueue(now, nic, next_hop, packet, origin),
        }
    }

    fn push_ip_frame(&mut self, nic: usize, dst: EthernetAddress, packet: Vec<u8>) {
        self.push_outgoing(nic, Outgoing::Ip { dst, packet });
    }

    /// Keeps a spent packet or frame buffer for the next, up to `packet_pool_max()`.
    fn recycle_packet(&mut self, buf: Vec<u8>) {
        if self.packet_pool.len() < self.packet_pool_max() {
            self.packet_pool.push(buf);
        }
    }

    /// The spare buffers kept: as many as the transmit queue may hold. A buffer is taken
    /// (or made) when a packet is written or queued and comes back when it has left, so
    /// the pool never holds more buffers than were out at once. A router takes a burst of
    /// thousands of packets (the rpc bench's at 3,000 clients) before it transmits any;
    /// with 32 kept, each packet past the 32nd cost a malloc and a free of memory long out
    /// of the cache, in proportion to the clients.
    pub(crate) fn packet_pool_max(&self) -> usize {
        self.cfg.limits.tx_queue_frames.max(PACKET_POOL_MIN)
    }

    /// A frame buffer in which `tcp_transmit_into` writes any segment in place: the
    /// largest MTU, the Ethernet header and room for the largest TCP options (what
    /// `poll_transmit` asks of its caller for the same).
    fn max_frame_len(&self) -> usize {
        let mtu = self
            .cfg
            .interfaces
            .iter()
            .map(|i| i.mtu)
            .max()
            .unwrap_or(1500);
        mtu + 54
    }

    /// Queues the first `len` bytes of `frame`: the segment `tcp_transmit` wrote whole, the
    /// per-segment case (an ACK that answers a segment), so written into its place in the
    /// queue field by field. Built first and moved in, the entry went through the stack,
    /// where wider loads read it back before the narrower stores that built it were done (a
    /// store-forwarding stall: 2% of the samples of a lossy bulk transfer); inlined,
    /// `frame` stays in registers.
    #[inline(always)]
    fn push_frame(&mut self, nic: usize, frame: Vec<u8>, len: usize) {
        if self.tx_queue_full() {
            return;
        }
        const EMPTY: (usize, Outgoing) = (
            0,
            Outgoing::Frame {
                buf: Vec::new(),
                len: 0,
            },
        );
        self.tx_queue.push_back(EMPTY);
        if let Some((n, Outgoing::Frame { buf, len: l })) = self.tx_queue.back_mut() {
            *n = nic;
            *buf = frame;
            *l = len;
        }
    }

    fn push_outgoing(&mut self, nic: usize, out: Outgoing) {
        if self.tx_queue_full() {
            return;
        }
        self.tx_queue.push_back((nic, out));
    }

    /// Whether the transmit queue is at its bound; if so the packet about to be queued is
    /// counted as dropped (`TxQueueFull`).
    #[inline(always)]
    fn tx_queue_full(&mut self) -> bool {
        let full = self.tx_queue.len() >= self.cfg.limits.tx_queue_frames;
        if full {
            self.drop_packet(DropReason::TxQueueFull);
        }
        full
    }

    /// A packet from `origin` could not be delivered (ARP failed): tell its socket.
    fn report_unreachable(&mut self, now: Instant, origin: Origin) {
        match origin {
            Origin::None => {}
            Origin::Tcp(key) => self.tcp_network_error(now, key, Errno::EHOSTUNREACH, true),
            Origin::Udp(sock) => self.udp_network_error(sock, Errno::EHOSTUNREACH),
        }
    }

    // ------------------------------------------------------------------------------------
    // Input

    /// An IPv4 packet from `nic` (or loopback when `None`).
    fn ip_input(&mut self, now: Instant, nic: Option<usize>, bytes: &[u8], link_bcast: bool) {
        self.counters.ip.packets_in += 1;
        let view = match ipv4::Packet::new_checked(bytes) {
            Ok(v) => v,
            Err(crate::wire::Error::BadVersion) => {
                return self.drop_packet(DropReason::IpBadVersion)
            }
            Err(_) => return self.drop_packet(DropReason::IpMalformed),
        };
        // Matched by reference, as `tcp_input` does: moving the header out of the `Result`
        // read it with wide loads straight after the parser's narrow stores (a
        // store-forwarding stall, 0.8% of a bulk transfer's time).
        let parsed = ipv4::Repr::parse(&view, ChecksumMode::Verify);
        let repr = match &parsed {
            Ok(r) => r,
            Err(crate::wire::Error::BadChecksum) => {
                return self.drop_packet(DropReason::IpBadChecksum)
            }
            Err(_) => return self.drop_packet(DropReason::IpMalformed),
        };
        let src = repr.src_addr;
        let dst = repr.dst_addr;
        let from_wire = nic.is_some();
        if src.is_broadcast()
            || src.is_multicast()
            || (from_wire && (src.is_loopback() || self.is_local_addr(src)))
            || (from_wire && dst.is_loopback())
        {
            return self.drop_packet(DropReason::IpMartianSource);
        }
        let (to_me, broadcast) = if dst.is_multicast() {
            // A group the host joined is delivered as a broadcast is (to every socket on the
            // port, no ICMP errors); any other is not ours, and is never forwarded (no
            // multicast routing).
            if !self.multicast_joined(nic, dst) {
                return self.drop_packet(DropReason::IpNotForUs);
            }
            (false, true)
        } else {
            self.classify_addr(dst)
        };
        if !to_me && !broadcast {
            if self.cfg.forwarding && !link_bcast {
                if let Some(nic) = nic {
                    return self.forward(now, nic, bytes, repr);
                }
            }
            return self.drop_packet(DropReason::IpNotForUs);
        }
        let payload = view.payload();
        if repr.more_frags || repr.frag_offset != 0 {
            self.counters.ip.fragments_in += 1;
            let Some(whole) = self.reassemble(now, repr, payload) else {
                return;
            };
            self.counters.ip.reassembled += 1;
            let Ok(header) = ipv4::Repr::parse(
                &ipv4::Packet::new_unchecked(&whole[..]),
                ChecksumMode::Ignore,
            ) else {
                return self.drop_packet(DropReason::FragMalformed);
            };
            let payload = &whole[header.header_len()..];
            return self.deliver(now, &header, payload, &whole, broadcast);
        }
        let original = &bytes[..usize::from(view.total_len())];
        self.deliver(now, repr, payload, original, broadcast);
    }

    /// Hands a whole datagram to its transport. `original` is the packet as received (for
    /// ICMP errors quoting it).
    fn deliver(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        original: &[u8],
        broadcast: bool,
    ) {
        self.counters.ip.delivered += 1;
        match ip.protocol {
            IpProtocol::ICMP => self.icmp_input(now, ip, payload, broadcast),
            IpProtocol::UDP => self.udp_input(now, ip, payload, original, broadcast),
            IpProtocol::TCP => {
                // Forward progress confirms the neighbour (see `arp`): looked for only while
                // a neighbour waits for it.
                let mark = self.tcp_progress_mark(ip, payload);
                self.tcp_input(now, ip, payload, broadcast);
                if let Some(mark) = mark {
                    self.tcp_progress_confirm(now, mark);
                }
            }
            _ => {
                self.counters.ip.delivered -= 1;
                self.drop_packet(DropReason::IpUnknownProtocol);
                if !broadcast {
                    self.send_icmp_error(
                        now,
                        original,
                        IcmpError::Unreachable(DstUnreachable::PROTO_UNREACHABLE, 0),
                    );
                }
            }
        }
    }

    /// Forwards a packet (RFC 1812 section 5.2): TTL, route, fragmentation, ICMP errors.
    fn forward(&mut self, now: Instant, _in_nic: usize, bytes: &[u8], repr: &ipv4::Repr) {
        let original = &bytes[..repr.buffer_len().min(bytes.len())];
        if repr.ttl <= 1 {
            self.drop_packet(DropReason::IpTtlExpired);
            return self.send_icmp_error(
                now,
                original,
                IcmpError::TimeExceeded(TimeExceeded::TTL_EXPIRED),
            );
        }
        let Some((nic, next_hop)) = self.route(repr.dst_addr) else {
            self.drop_packet(DropReason::IpNoRoute);
            return self.send_icmp_error(
                now,
                original,
                IcmpError::Unreachable(DstUnreachable::NET_UNREACHABLE, 0),
            );
        };
        // A pooled buffer (it comes back when the frame leaves in `poll_transmit`): a
        // router forwards every packet of its clients, and a `Vec` each was a malloc and a
        // free per packet.
        let mut packet = self.packet_pool.pop().unwrap_or_default();
        packet.clear();
        packet.extend_from_slice(original);
        {
            let mut view = ipv4::Packet::new_unchecked(&mut packet[..]);
            view.set_ttl(repr.ttl - 1);
            view.fill_checksum();
        }
        let mtu = self.cfg.interfaces[nic].mtu;
        if packet.len() > mtu && repr.dont_frag {
            self.drop_packet(DropReason::IpFragNeeded);
            return self.send_icmp_error(
                now,
                original,
                IcmpError::Unreachable(DstUnreachable::FRAG_REQUIRED, mtu.min(65535) as u16),
            );
        }
        self.counters.ip.forwarded += 1;
        if packet.len() <= mtu {
            return self.link_output(now, nic, next_hop, packet, Origin::None);
        }
        let fragments = frag::fragment(&packet, mtu);
        if fragments.is_empty() {
            return self.drop_packet(DropReason::IpFragNeeded);
        }
        self.counters.ip.fragmented += 1;
        for f in fragments {
            self.counters.ip.fragments_out += 1;
            self.link_output(now, nic, next_hop, f, Origin::None);
        }
    }

    // ------------------------------------------------------------------------------------
    // ICMP

    fn icmp_input(&mut self, now: Instant, ip: &ipv4::Repr, payload: &[u8], broadcast: bool) {
        self.counters.icmp.messages_in += 1;
        let packet = match icmpv4::Packet::new_checked(payload) {
            Ok(p) => p,
            Err(_) => return self.drop_packet(DropReason::IcmpMalformed),
        };
        let repr = match icmpv4::Repr::parse(&packet, ChecksumMode::Verify) {
            Ok(r) => r,
            Err(crate::wire::Error::BadChecksum) => {
                return self.drop_packet(DropReason::IcmpBadChecksum)
            }
            Err(_) => return self.drop_packet(DropReason::IcmpMalformed),
        };
        match repr {
            icmpv4::Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                self.counters.icmp.echo_requests_in += 1;
                if broadcast {
                    return self.drop_packet(DropReason::IcmpBroadcastEcho);
                }
                let reply = icmpv4::Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let len = reply.buffer_len();
                let ttl = self.cfg.tcp.ttl;
                let packet = self.build_ip(
                    ip.dst_addr,
                    ip.src_addr,
                    IpProtocol::ICMP,
                    (ttl, 0),
                    false,
                    len,
                    |buf, _, _| reply.emit(&mut icmpv4::Packet::new_unchecked(buf)),
                );
                self.counters.icmp.messages_out += 1;
                self.counters.icmp.echo_replies_out += 1;
                // A failure here (no route back) is counted by ip_output.
                let _ = self.ip_output(now, packet, Origin::None);
            }
            icmpv4::Repr::EchoReply { .. } => self.drop_packet(DropReason::IcmpIgnored),
            icmpv4::Repr::SourceQuench { .. } => {
                self.counters.icmp.errors_in += 1;
                self.drop_packet(DropReason::IcmpSourceQuench)
            }
            icmpv4::Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                header,
                data,
            } => {
                self.counters.icmp.errors_in += 1;
                if reason == DstUnreachable::FRAG_REQUIRED {
                    self.learn_pmtu(now, &header, next_hop_mtu);
                }
                self.transport_error(now, &header, data, NetError::Unreachable(reason));
            }
            icmpv4::Repr::TimeExceeded { header, data, .. } => {
                self.counters.icmp.errors_in += 1;
                self.transport_error(now, &header, data, NetError::Soft(Errno::EHOSTUNREACH));
            }
            icmpv4::Repr::ParamProblem { header, data, .. } => {
                self.counters.icmp.errors_in += 1;
                self.transport_error(now, &header, data, NetError::Soft(Errno::EINVAL));
            }
        }
    }

    /// RFC 1191 section 4: lower the path MTU to `dst` (never below 68; a zero MTU field
    /// from an old router means "guess the next plateau" (RFC 1191 section 5)).
    fn learn_pmtu(&mut self, now: Instant, quoted: &ipv4::Repr, next_hop_mtu: u16) {
        let dst = quoted.dst_addr;
        let current = self.mtu_for(now, dst);
        let mut mtu = usize::from(next_hop_mtu);
        if mtu == 0 {
            const PLATEAUS: [usize; 8] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508];
            let sent = quoted.buffer_len();
            mtu = PLATEAUS.into_iter().find(|&p| p < sent).unwrap_or(68);
        }
        let mtu = mtu.max(68);
        if mtu >= current {
            return;
        }
        if !self.pmtu.contains_key(&dst) && self.pmtu.len() >= self.cfg.limits.pmtu_entries {
            let oldest = self
                .pmtu
                .iter()
                .min_by_key(|(k, v)| (v.1, **k))
                .map(|x| *x.0);
            if let Some(k) = oldest {
                self.pmtu.remove(&k);
            }
        }
        self.pmtu
            .insert(dst, (mtu, now + self.cfg.limits.pmtu_timeout));
        self.path_generation += 1;
        self.counters.icmp.pmtu_updates += 1;
    }

    /// Directs an ICMP error to the socket whose datagram it quotes (RFC 9293 MUST-54).
    fn transport_error(&mut self, now: Instant, quoted: &ipv4::Repr, data: &[u8], e: NetError) {
        if data.len() < 8 || quoted.frag_offset != 0 {
            return self.drop_packet(DropReason::IcmpErrorNoMatch);
        }
        let sport = u16::from_be_bytes([data[0], data[1]]);
        let dport = u16::from_be_bytes([data[2], data[3]]);
        let local = SocketAddrV4::new(quoted.src_addr, sport);
        let remote = SocketAddrV4::new(quoted.dst_addr, dport);
        match quoted.protocol {
            IpProtocol::TCP => {
                let seq = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                self.tcp_icmp_error(now, local, remote, seq, e)
            }
            IpProtocol::UDP => self.udp_icmp_error(local, remote, e),
            _ => self.drop_packet(DropReason::IcmpErrorNoMatch),
        }
    }

    /// Sends an ICMP error about `original` (a whole received packet), unless RFC 1122
    /// section 3.2.2 forbids it: never about an ICMP error, a broadcast or multicast, a
    /// non-first fragment, or a packet whose source is not a unicast address.
    fn send_icmp_error(&mut self, now: Instant, original: &[u8], kind: IcmpError) {
        let Ok((header, rest)) = ipv4::Repr::parse_embedded(original, ChecksumMode::Ignore) else {
            return;
        };
        let src = header.src_addr;
        if src.is_unspecified()
            || src.is_broadcast()
            || src.is_multicast()
            || self.is_broadcast_addr(header.dst_addr)
            || header.dst_addr.is_multicast()
            || header.frag_offset != 0
        {
            return;
        }
        if header.protocol == IpProtocol::ICMP {
            let is_error = rest
                .first()
                .is_none_or(|&t| icmpv4::Message(t).is_error() || t == 5);
            if is_error {
                return;
            }
        }
        // Token bucket, refilled each second.
        let (start, used) = self.icmp_budget;
        let (start, used) = if now - start >= Duration::from_secs(1) {
            (now, 0)
        } else {
            (start, used)
        };
        if used >= self.cfg.limits.icmp_errors_per_sec {
            self.icmp_budget = (start, used);
            return self.drop_packet(DropReason::IcmpRateLimited);
        }
        self.icmp_budget = (start, used + 1);
        // Quote the header and up to 64 payload bytes (RFC 792 asks for 8; RFC 1812
        // section 4.3.2.3 allows more, which helps the receiver find its socket).
        let payload_len = header.payload_len.min(rest.len());
        let data = &rest[..payload_len.min(64)];
        let repr = match kind {
            IcmpError::Unreachable(reason, mtu) => icmpv4::Repr::DstUnreachable {
                reason,
                next_hop_mtu: mtu,
                header,
                data,
            },
            IcmpError::TimeExceeded(reason) => icmpv4::Repr::TimeExceeded {
                reason,
                header,
                data,
            },
        };
        let Some(me) = self.source_for(src) else {
            return;
        };
        let me = if header.dst_addr != me && self.is_local_addr(header.dst_addr) {
            header.dst_addr
        } else {
            me
        };
        let len = repr.buffer_len();
        let ttl = self.cfg.tcp.ttl;
        let packet = self.build_ip(
            me,
            src,
            IpProtocol::ICMP,
            (ttl, 0),
            false,
            len,
            |buf, _, _| repr.emit(&mut icmpv4::Packet::new_unchecked(buf)),
        );
        self.counters.icmp.messages_out += 1;
        self.counters.icmp.errors_out += 1;
        let _ = self.ip_output(now, packet, Origin::None);
    }
}

/// An ICMP error the host sends.
#[derive(Debug, Clone, Copy)]
enum IcmpError {
    Unreachable(DstUnreachable, u16),
    TimeExceeded(TimeExceeded),
}

/// What an ICMP error means to a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetError {
    /// Destination unreachable with this code.
    Unreachable(DstUnreachable),
    /// A soft error (RFC 1122 section 4.2.3.9): reported, never fatal by itself.
    Soft(Errno),
}
