//! `host_state`: one host ([`Host`]) fed a sequence of actions the input chooses, with
//! connections in every TCP state from the start.
//!
//! The host under test, H (10.0.0.1), shares a wire with a peer, P (10.0.0.2), which is a
//! second sansnet [`Host`]: a scripted peer that answers like a real one. Frames between
//! them wait in two queues and move only when an action says so. A prelude
//! ([`Harness::prelude`], the same for every input) opens connections through P and leaves
//! H with a listener, a connection in each of SYN-SENT (one SYN lost, one waiting for ARP
//! of a silent neighbour), SYN-RECEIVED, ESTABLISHED (both ways, with unread data),
//! FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT, an orphan, UDP
//! sockets and an unconnected socket. Then the input's [`Action`]s:
//! - frames into H, mostly built from structured reprs aimed at its address and its open
//!   connections, with sequence and timestamp values relative to what H last sent on that
//!   connection so they land in its windows: TCP ([`TcpInject`]), ARP, ICMP (echo, and
//!   errors quoting H's connections), UDP, IPv4 fragments of datagrams to H's sockets, raw
//!   bytes, and mutated copies of P's frames;
//! - the network between H and P: deliver, drop, duplicate or swap queued frames, or run
//!   it as a clean 100 us wire for a while;
//! - socket calls on H or P: socket, bind, listen, connect, accept, send, recv, sendto,
//!   recvfrom, shutdown, close, abort (linger zero, then close), dup, setsockopt, readiness;
//! - time steps, which fire both hosts' timers in order.
//!
//! Checked after every action, on both hosts (`Node::check`): no panic; the link
//! counters equal the frames the harness handed in and took out, and `active_opens` the
//! connects it made; no counter ever decreases; `poll_timeout` is never before `now`, and
//! after the timers due at `now` fired, after it; every descriptor the harness holds is in
//! exactly one `ss` row and answers `readiness`; queues within their bounds (TCP receive
//! and send queues within the buffers, UDP queues, accept queues, connections,
//! descriptors); a socket with bytes or connections waiting is readable or acceptable.
//! Every frame either host emits parses with the stack's own parsers with every checksum
//! verified, comes from its MAC and its address, and fits the MTU.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use arbitrary::{Arbitrary, Unstructured};

use crate::frame::SharedFrame;
use crate::hash::SecretKey;
use crate::iface::{
    Counters, DropReason, Errno, Fd, Host, HostConfig, Interest, InterfaceConfig, Limits, Proto,
    Shutdown, SockOpt, SocketInfo, SocketState, SocketType,
};
use crate::tcp::{self, KeepAlive};
use crate::time::{Duration, Instant};
use crate::wire::icmpv4::{self, DstUnreachable, TimeExceeded};
use crate::wire::ipv4::{self, IpProtocol, Ipv4Options};
use crate::wire::tcp::{self as wire_tcp, SackBlocks, TcpFlags, TcpTimestamp};
use crate::wire::{arp, ethernet, udp, ChecksumMode, EtherType, EthernetAddress, SeqNumber};

/// The host under test.
pub const H_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The peer.
pub const P_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// A neighbour that never answers ARP.
const SILENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
/// A source address nobody on the wire has.
const SPOOF_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
/// H's default gateway, which is silent too.
const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
/// An address off the subnet (through the gateway).
const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 7);
const H_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const P_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const OTHER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
const MTU: usize = 1500;
/// Frames waiting in one direction at most; older ones are lost.
const QUEUE_MAX: usize = 256;
/// Actions taken from one input at most.
const MAX_ACTIONS: usize = 512;
/// Timer firings in one time step at most before it counts as a livelock.
const MAX_FIRINGS: u32 = 100_000;
/// Frames moved at one instant by a `Run` at most before it counts as a livelock.
const MAX_FRAMES_PER_INSTANT: u32 = 20_000;
/// The latency of the clean wire of [`NetOp::Run`].
const RUN_LATENCY: Duration = Duration::from_micros(100);

/// Picks among H's configurations (the peer always has the defaults).
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct HostVariant {
    /// Offer timestamps.
    pub timestamps: bool,
    /// Offer SACK.
    pub sack: bool,
    /// Offer window scaling.
    pub window_scaling: bool,
    /// Delayed ACKs.
    pub delayed_ack: bool,
    /// SYN cookies when a SYN queue is full.
    pub syn_cookies: bool,
    /// Small limits everywhere (descriptors, connections, ARP, reassembly, queues), so
    /// that inputs reach them.
    pub small_limits: bool,
    /// TCP buffers: 4, 16 or 64 KiB.
    pub buffers: u8,
}

impl HostVariant {
    /// Every option on, small limits, 16 KiB buffers.
    pub const DEFAULT: HostVariant = HostVariant {
        timestamps: true,
        sack: true,
        window_scaling: true,
        delayed_ack: true,
        syn_cookies: true,
        small_limits: true,
        buffers: 1,
    };

    fn config(&self) -> HostConfig {
        let buffer = [4096, 16384, 65536][usize::from(self.buffers) % 3];
        let mut limits = Limits {
            syn_cookies: self.syn_cookies,
            ..Limits::default()
        };
        if self.small_limits {
            limits = Limits {
                max_descriptors: 32,
                max_connections: 32,
                max_backlog: 8,
                arp_cache_entries: 8,
                arp_pending_packets_per_addr: 4,
                arp_pending_addrs: 4,
                reassembly_bytes: 8192,
                reassembly_datagrams: 4,
                udp_queue_datagrams: 4,
                tx_queue_frames: 64,
                loopback_queue_packets: 16,
                ephemeral_port_first: 49152,
                ephemeral_port_last: 49215,
                pmtu_entries: 4,
                icmp_errors_per_sec: 10,
                ..limits
            };
        }
        HostConfig {
            name: "H".into(),
            interfaces: vec![InterfaceConfig {
                mac: H_MAC,
                addr: H_IP,
                prefix_len: 24,
                mtu: MTU,
            }],
            default_gateway: Some(GATEWAY_IP),
            secret: SecretKey([1; 16]),
            tcp: tcp::Config {
                timestamps: self.timestamps,
                sack: self.sack,
                window_scaling: self.window_scaling,
                delayed_ack: self.delayed_ack,
                send_buffer_bytes: buffer,
                recv_buffer_bytes: buffer,
                reassembly_ranges: buffer / 2920 + 4,
                ..tcp::Config::default()
            },
            limits,
            ..HostConfig::default()
        }
    }
}

fn peer_config() -> HostConfig {
    HostConfig {
        name: "P".into(),
        interfaces: vec![InterfaceConfig {
            mac: P_MAC,
            addr: P_IP,
            prefix_len: 24,
            mtu: MTU,
        }],
        secret: SecretKey([2; 16]),
        ..HostConfig::default()
    }
}

// ----------------------------------------------------------------------------------------
// The input

/// An address, from a small set that matters to H.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct AddrPick(pub u8);

impl AddrPick {
    fn addr(self) -> Ipv4Addr {
        match self.0 % 13 {
            0..=2 => P_IP,
            3 => H_IP,
            4 => SILENT_IP,
            5 => GATEWAY_IP,
            6 => REMOTE_IP,
            7 => Ipv4Addr::LOCALHOST,
            8 => Ipv4Addr::UNSPECIFIED,
            9 => Ipv4Addr::new(10, 0, 0, 255),
            10 => Ipv4Addr::BROADCAST,
            11 => Ipv4Addr::new(239, 0, 0, self.0 % 3),
            _ => Ipv4Addr::new(10, 0, 0, self.0 / 13),
        }
    }
}

/// A port, mostly one that something listens on.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct PortPick(pub u16);

impl PortPick {
    fn port(self) -> u16 {
        match self.0 % 10 {
            0 => 80,
            1 => 81,
            2 => 7000,
            3 => 7001,
            4 => 53,
            5 => 5353,
            6 => 0,
            _ => self.0,
        }
    }
}

/// A MAC address.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct MacPick(pub u8);

impl MacPick {
    fn mac(self) -> EthernetAddress {
        match self.0 % 6 {
            0 | 1 => P_MAC,
            2 => H_MAC,
            3 => EthernetAddress::BROADCAST,
            4 => EthernetAddress([0; 6]),
            _ => OTHER_MAC,
        }
    }
}

/// A sequence-space value relative to what H last sent on a connection.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Rel {
    /// The base itself.
    Exact,
    /// A few bytes off.
    Near(i8),
    /// Up to a window off.
    Far(i16),
    /// Anywhere.
    Raw(u32),
}

impl Rel {
    fn from(self, base: u32) -> u32 {
        match self {
            Rel::Exact => base,
            Rel::Near(d) => base.wrapping_add(d as u32),
            Rel::Far(d) => base.wrapping_add((i32::from(d) * 16) as u32),
            Rel::Raw(v) => v,
        }
    }
}

/// A TCP segment into H.
#[derive(Debug, Clone, Arbitrary)]
pub struct TcpInject {
    /// Which of H's connections (from `ss`), listeners, or a closed port.
    pub target: u8,
    /// FIN, SYN, RST, PSH, ACK, URG, ECE, CWR (bit 0 first).
    pub flags: u8,
    /// Relative to the last acknowledgment number H sent (its RCV.NXT).
    pub seq: Rel,
    /// Relative to the end of the last segment H sent (its SND.NXT).
    pub ack: Rel,
    /// Window field.
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale option.
    pub window_scale: Option<u8>,
    /// SACK-permitted option.
    pub sack_permitted: bool,
    /// Timestamps option: TSval relative to the TSecr H last sent, TSecr to its TSval.
    pub timestamp: Option<(Rel, Rel)>,
    /// SACK blocks, relative to the end of the last segment H sent.
    pub sack: Vec<(Rel, Rel)>,
    /// Payload bytes (modulo 1461).
    pub payload_len: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// From 10.0.0.9 (a spoofed, unknown source) instead of the connection's peer.
    pub spoofed: bool,
    /// The checksum wrong.
    pub bad_checksum: bool,
}

/// An ARP packet into H.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct ArpInject {
    /// Reply rather than request.
    pub reply: bool,
    /// Sender addresses.
    pub sender_mac: MacPick,
    /// Sender addresses.
    pub sender_ip: AddrPick,
    /// Target addresses.
    pub target_mac: MacPick,
    /// Target addresses.
    pub target_ip: AddrPick,
    /// The frame's destination: H (false) or broadcast.
    pub broadcast: bool,
}

/// An ICMP message into H.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum IcmpInject {
    /// An echo request.
    Echo {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data bytes.
        len: u8,
        /// To the subnet broadcast address.
        broadcast: bool,
    },
    /// An error quoting a segment of one of H's connections (or a datagram of a UDP socket).
    Error {
        /// Destination unreachable (code), fragmentation needed (`mtu`), time exceeded,
        /// parameter problem, source quench.
        kind: u8,
        /// The code.
        code: u8,
        /// Next-hop MTU for fragmentation needed.
        mtu: u16,
        /// Which connection.
        target: u8,
        /// The quoted sequence number, relative to the last one H sent.
        seq: Rel,
        /// From the gateway rather than the connection's peer.
        from_gateway: bool,
        /// Quote a UDP datagram instead.
        udp: bool,
    },
}

/// A UDP datagram into H.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct UdpInject {
    /// Destination port (53 is bound in the prelude).
    pub port: PortPick,
    /// Source port.
    pub src_port: u16,
    /// Source address.
    pub from: AddrPick,
    /// Payload bytes (modulo 1473).
    pub len: u16,
    /// Checksum: right, zero (none), or wrong.
    pub checksum: u8,
    /// To the subnet broadcast address.
    pub broadcast: bool,
}

/// One IPv4 fragment of one of a few fixed datagrams to H.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct FragInject {
    /// Which datagram: a UDP datagram to port 53, one to a closed port, an echo request,
    /// or a TCP segment.
    pub datagram: u8,
    /// Offset in 8-byte units.
    pub offset: u16,
    /// Length in 8-byte units.
    pub len: u8,
    /// More fragments: `None` is right (not the last piece).
    pub more: Option<bool>,
    /// Varies the identification, so that several reassemblies run at once.
    pub ident: u8,
}

/// Something done to the frames between H and P.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum NetOp {
    /// Deliver up to `count` queued frames.
    Deliver {
        /// H to P rather than P to H.
        to_peer: bool,
        /// How many.
        count: u8,
    },
    /// Lose up to `count` queued frames.
    Drop {
        /// H to P rather than P to H.
        to_peer: bool,
        /// How many.
        count: u8,
    },
    /// Deliver a copy of the first queued frame, keeping it queued.
    Duplicate {
        /// H to P rather than P to H.
        to_peer: bool,
    },
    /// Swap the first two queued frames.
    Swap {
        /// H to P rather than P to H.
        to_peer: bool,
    },
    /// Deliver to H a copy of a queued frame from P with one byte changed and the tail cut.
    Mutate {
        /// Which frame.
        index: u8,
        /// Which byte.
        at: u16,
        /// XORed into it (0 counts as 1).
        xor: u8,
        /// Bytes kept.
        keep: Option<u16>,
    },
    /// Run the wire cleanly (100 us each way), timers included, for this many ms (modulo
    /// 2 s).
    Run {
        /// Milliseconds.
        millis: u16,
    },
}

/// A socket option, with values within the host's buffers.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum OptPick {
    /// `TCP_NODELAY`.
    NoDelay(bool),
    /// `SO_KEEPALIVE`: idle and interval in seconds (plus one), probe count.
    KeepAlive(Option<(u8, u8, u8)>),
    /// `SO_SNDBUF`: 1, 512, 2048 bytes or the default.
    SendBuffer(u8),
    /// `SO_RCVBUF`: 1, 512, 2048 bytes or the default.
    RecvBuffer(u8),
    /// `SO_REUSEADDR`.
    ReuseAddr(bool),
    /// `SO_LINGER` in seconds.
    Linger(Option<u8>),
    /// `TCP_USER_TIMEOUT` in ms (plus one).
    UserTimeout(Option<u16>),
    /// `IP_MTU_DISCOVER`.
    DontFragment(bool),
    /// `IP_TTL` (0 is EINVAL).
    Ttl(u8),
    /// `SO_BROADCAST`.
    Broadcast(bool),
    /// `IP_ADD_MEMBERSHIP` (`IP_DROP_MEMBERSHIP` if the flag) of a group and interface.
    Membership(bool, AddrPick, AddrPick),
    /// `IP_MULTICAST_LOOP`.
    MulticastLoop(bool),
    /// `IP_MULTICAST_TTL`.
    MulticastTtl(u8),
    /// `TCP_QUICKACK`.
    QuickAck(bool),
    /// `IP_TOS`.
    Tos(u8),
}

/// A socket call. `fd` picks among the descriptors the harness holds (values from 0xf0 on
/// name descriptors that are probably not open).
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Call {
    /// `socket`.
    Socket {
        /// UDP rather than TCP.
        udp: bool,
    },
    /// `bind`.
    Bind {
        /// Descriptor.
        fd: u8,
        /// Address.
        addr: AddrPick,
        /// Port.
        port: PortPick,
    },
    /// `listen`.
    Listen {
        /// Descriptor.
        fd: u8,
        /// Backlog.
        backlog: u8,
    },
    /// `connect`.
    Connect {
        /// Descriptor.
        fd: u8,
        /// Address.
        addr: AddrPick,
        /// Port.
        port: PortPick,
    },
    /// `accept`.
    Accept {
        /// Descriptor.
        fd: u8,
    },
    /// `send` of pattern bytes.
    Send {
        /// Descriptor.
        fd: u8,
        /// Bytes.
        len: u16,
    },
    /// `recv`.
    Recv {
        /// Descriptor.
        fd: u8,
        /// Buffer size.
        len: u16,
    },
    /// `sendto`.
    SendTo {
        /// Descriptor.
        fd: u8,
        /// Address.
        addr: AddrPick,
        /// Port.
        port: PortPick,
        /// Bytes.
        len: u16,
    },
    /// `recvfrom`.
    RecvFrom {
        /// Descriptor.
        fd: u8,
        /// Buffer size.
        len: u16,
    },
    /// `recv` (`recvfrom` if `from`) with `MSG_PEEK`, then the same without: both return
    /// the same bytes.
    Peek {
        /// Descriptor.
        fd: u8,
        /// Buffer size.
        len: u16,
        /// `recvfrom` rather than `recv`.
        from: bool,
    },
    /// `shutdown`.
    Shutdown {
        /// Descriptor.
        fd: u8,
        /// Read, write, both.
        how: u8,
    },
    /// `close`.
    Close {
        /// Descriptor.
        fd: u8,
    },
    /// `SO_LINGER` zero, then `close`: a RST.
    Abort {
        /// Descriptor.
        fd: u8,
    },
    /// `dup`.
    Dup {
        /// Descriptor.
        fd: u8,
    },
    /// `setsockopt`.
    SetOpt {
        /// Descriptor.
        fd: u8,
        /// Option.
        opt: OptPick,
    },
    /// `getsockopt(SO_ERROR)`, `getsockname`, `getpeername`.
    Query {
        /// Descriptor.
        fd: u8,
    },
    /// Register with the selector, then poll it.
    Poll {
        /// Descriptor.
        fd: u8,
        /// Readable, writable bits.
        interest: u8,
    },
    /// `send` with `MSG_OOB`: pattern bytes as urgent data.
    SendUrgent {
        /// Descriptor.
        fd: u8,
        /// Bytes.
        len: u16,
    },
}

/// A time step: both hosts' timers fire in order up to its end.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum TimeStep {
    /// Microseconds.
    Micros(u16),
    /// Milliseconds.
    Millis(u16),
    /// Seconds.
    Secs(u8),
    /// To H's next timer.
    NextTimer,
}

/// One thing that happens to H.
#[derive(Debug, Clone, Arbitrary)]
pub enum Action<'a> {
    /// The wire between H and P.
    Net(NetOp),
    /// A TCP segment into H.
    Tcp(TcpInject),
    /// An ARP packet into H.
    Arp(ArpInject),
    /// An ICMP message into H.
    Icmp(IcmpInject),
    /// A UDP datagram into H.
    Udp(UdpInject),
    /// An IPv4 fragment into H.
    Fragment(FragInject),
    /// Raw bytes into H: the whole frame, or behind an Ethernet header to H (IPv4, ARP or
    /// another EtherType), on NIC 0 (or 1, which H does not have).
    Raw {
        /// Behind an Ethernet header: 0 none, 1 IPv4, 2 ARP, 3 another type.
        header: u8,
        /// NIC 1.
        other_nic: bool,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// A socket call on H (or on P).
    Call {
        /// On P.
        peer: bool,
        /// The call.
        call: Call,
    },
    /// Time passes.
    Time(TimeStep),
}

// ----------------------------------------------------------------------------------------
// One host and its checks

/// What H last sent on a connection, from its frames.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// The end of the furthest segment (its SND.NXT).
    snd_next: u32,
    /// The sequence number of the last segment.
    last_seq: u32,
    /// The last acknowledgment number (its RCV.NXT).
    rcv_next: u32,
    /// The last timestamps.
    tsval: u32,
    tsecr: u32,
}

type SeenTable = BTreeMap<(SocketAddrV4, SocketAddrV4), Seen>;

/// A host with what the harness knows about it.
struct Node {
    host: Host,
    name: &'static str,
    mac: EthernetAddress,
    ip: Ipv4Addr,
    /// The descriptors open, as the harness made them.
    fds: Vec<Fd>,
    frames_in: u64,
    frames_out: u64,
    active_opens: u64,
    counters: Vec<u64>,
}

/// Every counter of `c`, in a fixed order.
fn counter_values(c: &Counters) -> Vec<u64> {
    let mut v = vec![
        c.link.frames_in,
        c.link.frames_out,
        c.arp.requests_in,
        c.arp.replies_in,
        c.arp.requests_out,
        c.arp.replies_out,
        c.arp.resolution_failures,
        c.arp.cache_evictions,
        c.arp.advice_requests,
        c.arp.address_changes,
        c.ip.packets_in,
        c.ip.delivered,
        c.ip.forwarded,
        c.ip.packets_out,
        c.ip.fragments_in,
        c.ip.reassembled,
        c.ip.fragmented,
        c.ip.fragments_out,
        c.icmp.messages_in,
        c.icmp.messages_out,
        c.icmp.echo_requests_in,
        c.icmp.echo_replies_out,
        c.icmp.errors_in,
        c.icmp.errors_out,
        c.icmp.pmtu_updates,
        c.udp.datagrams_in,
        c.udp.datagrams_out,
        c.tcp.segments_in,
        c.tcp.segments_out,
        c.tcp.rsts_out,
        c.tcp.active_opens,
        c.tcp.passive_opens,
        c.tcp.established_queued,
        c.tcp.syn_cookies_sent,
        c.tcp.syn_cookies_accepted,
        c.tcp.syn_recv_replaced_by_cookie,
        c.tcp.accept_queue_overflows,
        c.tcp.aborted_by_network,
        c.tcp.orphans_timed_out,
    ];
    v.extend(DropReason::ALL.iter().map(|&r| c.drops(r)));
    v
}

impl Node {
    fn new(config: HostConfig, name: &'static str) -> Node {
        let (mac, ip) = (config.interfaces[0].mac, config.interfaces[0].addr);
        let host = Host::new(config);
        let counters = counter_values(host.counters());
        Node {
            host,
            name,
            mac,
            ip,
            fds: Vec::new(),
            frames_in: 0,
            frames_out: 0,
            active_opens: 0,
            counters,
        }
    }

    /// The descriptor `pick` names.
    fn fd(&self, pick: u8) -> Fd {
        if pick >= 0xf0 || self.fds.is_empty() {
            return Fd(u32::from(pick & 0x0f) + 40);
        }
        self.fds[usize::from(pick) % self.fds.len()]
    }

    fn forget(&mut self, fd: Fd) {
        if let Some(i) = self.fds.iter().position(|&f| f == fd) {
            self.fds.remove(i);
        }
    }

    fn handle_frame(&mut self, now: Instant, nic: usize, frame: &[u8]) {
        self.frames_in += 1;
        self.host.handle_frame(now, nic, frame);
    }

    /// A frame the host may keep (`Host::handle_frame_shared`) every other time, borrowed
    /// the other times, so that both ways of reading a frame are fuzzed.
    fn handle_owned_frame(&mut self, now: Instant, nic: usize, frame: Vec<u8>) {
        self.frames_in += 1;
        if self.frames_in.is_multiple_of(2) {
            self.host
                .handle_frame_shared(now, nic, &SharedFrame::new(frame));
        } else {
            self.host.handle_frame(now, nic, &frame);
        }
    }

    /// Takes every frame the host has, checking each, into `out` (at most [`QUEUE_MAX`]
    /// waiting: the oldest are lost). Every other frame is taken with
    /// `Host::poll_transmit_vec`, which may hand it over in a buffer of the host's own, so
    /// that both ways out are fuzzed.
    fn drain(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        out: &mut VecDeque<Vec<u8>>,
        mut seen: Option<&mut SeenTable>,
    ) {
        loop {
            let want = buf.len();
            let polled = if self.frames_out.is_multiple_of(2) {
                self.host.poll_transmit(now, buf)
            } else {
                self.host.poll_transmit_vec(now, buf)
            };
            let Some((nic, len)) = polled else {
                break;
            };
            assert!(
                buf.len() >= want && len <= buf.len(),
                "{} handed over a {}-byte buffer for a {len}-byte frame, given {want}",
                self.name,
                buf.len()
            );
            self.frames_out += 1;
            assert_eq!(
                nic, 0,
                "{} sent on NIC {nic}, which it does not have",
                self.name
            );
            let frame = &buf[..len];
            check_frame(self.name, self.mac, self.ip, frame, seen.as_deref_mut());
            if out.len() == QUEUE_MAX {
                out.pop_front();
            }
            out.push_back(frame.to_vec());
        }
    }

    /// Every host-level invariant at `now` (see the module documentation).
    fn check(&mut self, now: Instant) {
        let name = self.name;
        let c = self.host.counters();
        assert_eq!(
            c.link.frames_in, self.frames_in,
            "{name}: frames_in counter vs frames handed in"
        );
        assert_eq!(
            c.link.frames_out, self.frames_out,
            "{name}: frames_out counter vs frames taken out"
        );
        assert_eq!(
            c.tcp.active_opens, self.active_opens,
            "{name}: active_opens vs connects that started"
        );
        let values = counter_values(c);
        for (i, (old, new)) in self.counters.iter().zip(&values).enumerate() {
            assert!(
                new >= old,
                "{name}: counter {i} went down from {old} to {new}:\n{c}"
            );
        }
        self.counters = values;
        if let Some(t) = self.host.poll_timeout() {
            assert!(t >= now, "{name}: poll_timeout {t} is before now ({now})");
        }
        let limits = self.host.config().limits.clone();
        let tcp_cfg = &self.host.config().tcp;
        let (recv_max, send_max) = (tcp_cfg.recv_buffer_bytes, tcp_cfg.send_buffer_bytes);
        assert!(
            self.fds.len() <= limits.max_descriptors,
            "{name}: {} descriptors open, limit {}",
            self.fds.len(),
            limits.max_descriptors
        );
        let rows = self.host.ss();
        let mut listed: Vec<Fd> = Vec::new();
        let mut connections = 0;
        for row in &rows {
            listed.extend(&row.fds);
            check_row(name, row, &limits, recv_max, send_max);
            if let SocketState::Tcp(state) = row.state {
                connections += usize::from(state != tcp::State::Closed);
            }
            if let Some(&fd) = row.fds.first() {
                let r = self.host.readiness(fd).unwrap_or_else(|e| {
                    panic!("{name}: readiness({fd}) of a listed descriptor: {e}")
                });
                let waiting = row.recv_q > 0;
                match row.state {
                    SocketState::Listen => assert!(
                        !waiting || r.acceptable,
                        "{name}: {fd} has connections waiting but is not acceptable"
                    ),
                    SocketState::Udp | SocketState::Tcp(_) => assert!(
                        !waiting || r.readable,
                        "{name}: {fd} has {} waiting but is not readable: {row}",
                        row.recv_q
                    ),
                    SocketState::Unconnected => {}
                }
            }
        }
        assert!(
            connections <= limits.max_connections,
            "{name}: {connections} connections, limit {}",
            limits.max_connections
        );
        listed.sort_unstable();
        let mut held = self.fds.clone();
        held.sort_unstable();
        assert_eq!(
            listed, held,
            "{name}: descriptors in ss vs descriptors the harness holds"
        );
        let mut keys = Vec::new();
        self.host.drain_changed(&mut keys);
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count, "{name}: drain_changed repeated a socket");
    }
}

/// The bounds of one `ss` row.
fn check_row(name: &str, row: &SocketInfo, limits: &Limits, recv_max: usize, send_max: usize) {
    match (row.proto, row.state) {
        (Proto::Tcp, SocketState::Listen) => assert!(
            row.recv_q <= limits.max_backlog.max(1) && row.send_q <= limits.max_backlog.max(1),
            "{name}: listener over its backlog bound {}: {row}",
            limits.max_backlog
        ),
        (Proto::Tcp, _) => assert!(
            row.recv_q <= recv_max && row.send_q <= send_max,
            "{name}: socket over its buffers ({recv_max}/{send_max}): {row}"
        ),
        (Proto::Udp, _) => assert!(
            row.recv_q <= limits.udp_queue_datagrams,
            "{name}: UDP socket over its queue bound {}: {row}",
            limits.udp_queue_datagrams
        ),
    }
}

/// A frame a host sent: it parses at every layer with checksums verified, comes from the
/// host's MAC and address, and fits the MTU. TCP segments of `seen`'s host update it.
fn check_frame(
    name: &str,
    mac: EthernetAddress,
    ip: Ipv4Addr,
    frame: &[u8],
    seen: Option<&mut SeenTable>,
) {
    assert!(
        (60..=MTU + 14).contains(&frame.len()),
        "{name} sent a {}-byte frame",
        frame.len()
    );
    let eth =
        ethernet::Frame::new_checked(frame).and_then(|f| ethernet::Repr::parse(&f).map(|r| (f, r)));
    let (view, eth) = eth.unwrap_or_else(|e| panic!("{name} sent a bad Ethernet frame: {e:?}"));
    assert_eq!(eth.src_addr, mac, "{name} sent from another MAC");
    assert_eq!(eth.vlan, None, "{name} sent a tagged frame");
    let payload = view.payload();
    match eth.ethertype {
        EtherType::ARP => {
            let a = arp::Packet::new_checked(payload)
                .and_then(|p| arp::Repr::parse(&p))
                .unwrap_or_else(|e| panic!("{name} sent bad ARP: {e:?}"));
            assert_eq!(a.source_hardware_addr, mac, "{name}: ARP from another MAC");
            assert_eq!(
                a.source_protocol_addr, ip,
                "{name}: ARP for another address"
            );
        }
        EtherType::IPV4 => check_datagram(name, ip, payload, seen),
        other => panic!("{name} sent EtherType {other:?}"),
    }
}

fn check_datagram(name: &str, ip: Ipv4Addr, bytes: &[u8], seen: Option<&mut SeenTable>) {
    let packet =
        ipv4::Packet::new_checked(bytes).unwrap_or_else(|e| panic!("{name} sent bad IPv4: {e:?}"));
    let repr = ipv4::Repr::parse(&packet, ChecksumMode::Verify)
        .unwrap_or_else(|e| panic!("{name} sent an IPv4 header that fails: {e:?}"));
    assert_eq!(repr.src_addr, ip, "{name} sent from another address");
    assert!(
        usize::from(packet.total_len()) <= MTU,
        "{name} sent a {}-byte packet",
        packet.total_len()
    );
    assert!(repr.ttl > 0, "{name} sent TTL 0");
    if repr.more_frags || repr.frag_offset != 0 {
        return;
    }
    let (src, dst, payload) = (repr.src_addr, repr.dst_addr, packet.payload());
    match repr.protocol {
        IpProtocol::TCP => {
            let seg = wire_tcp::Packet::new_checked(payload)
                .and_then(|p| wire_tcp::Repr::parse(&p, src, dst, ChecksumMode::Verify))
                .unwrap_or_else(|e| panic!("{name} sent a TCP segment that fails: {e:?}"));
            if let Some(seen) = seen {
                let key = (
                    SocketAddrV4::new(src, seg.src_port),
                    SocketAddrV4::new(dst, seg.dst_port),
                );
                let s = seen.entry(key).or_default();
                let end = seg.seq_number + seg.segment_len();
                if end > SeqNumber(s.snd_next) || s.snd_next == 0 {
                    s.snd_next = end.0;
                }
                s.last_seq = seg.seq_number.0;
                if seg.flags.contains(TcpFlags::ACK) {
                    s.rcv_next = seg.ack_number.0;
                }
                if let Some(ts) = seg.timestamp {
                    (s.tsval, s.tsecr) = (ts.tsval, ts.tsecr);
                }
            }
        }
        IpProtocol::UDP => {
            udp::Packet::new_checked(payload)
                .and_then(|p| udp::Repr::parse(&p, src, dst, ChecksumMode::Verify))
                .unwrap_or_else(|e| panic!("{name} sent a UDP datagram that fails: {e:?}"));
        }
        IpProtocol::ICMP => {
            icmpv4::Packet::new_checked(payload)
                .and_then(|p| icmpv4::Repr::parse(&p, ChecksumMode::Verify))
                .unwrap_or_else(|e| panic!("{name} sent an ICMP message that fails: {e:?}"));
        }
        other => panic!("{name} sent IP protocol {other:?}"),
    }
}

// ----------------------------------------------------------------------------------------
// Building frames

fn eth_frame(dst: EthernetAddress, src: EthernetAddress, ty: EtherType, payload: &[u8]) -> Vec<u8> {
    let eth = ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        vlan: None,
        ethertype: ty,
    };
    let hl = eth.buffer_len();
    let mut frame = vec![0u8; (hl + payload.len()).max(60)];
    eth.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
    frame[hl..hl + payload.len()].copy_from_slice(payload);
    frame
}

fn ip_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, payload_len: usize) -> ipv4::Repr {
    ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0x4242,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
        options: Ipv4Options::EMPTY,
    }
}

/// An IPv4 packet with header `ip` around `l4`, in a frame from P's MAC to `dst_mac`.
fn ip_frame(dst_mac: EthernetAddress, ip: &ipv4::Repr, l4: &[u8]) -> Vec<u8> {
    let mut packet = vec![0u8; ip.buffer_len()];
    let mut view = ipv4::Packet::new_unchecked(&mut packet[..]);
    ip.emit(&mut view);
    view.payload_mut().copy_from_slice(l4);
    eth_frame(dst_mac, P_MAC, EtherType::IPV4, &packet)
}

fn tcp_bytes(seg: &wire_tcp::Repr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut bytes = vec![0u8; seg.buffer_len()];
    seg.emit(
        &mut wire_tcp::Packet::new_unchecked(&mut bytes[..]),
        src,
        dst,
    );
    bytes
}

fn udp_bytes(dgram: &udp::Repr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut bytes = vec![0u8; dgram.buffer_len()];
    dgram.emit(&mut udp::Packet::new_unchecked(&mut bytes[..]), src, dst);
    bytes
}

fn icmp_bytes(msg: &icmpv4::Repr<'_>) -> Vec<u8> {
    let mut bytes = vec![0u8; msg.buffer_len()];
    msg.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]));
    bytes
}

fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ 0x5a)
        .collect()
}

/// The L4 bytes of the datagrams [`FragInject`] cuts into fragments.
fn fragmented_datagram(which: u8) -> (IpProtocol, Vec<u8>) {
    match which % 4 {
        0 => {
            let data = payload(3000);
            let d = udp::Repr {
                src_port: 4000,
                dst_port: 53,
                payload: &data,
            };
            (IpProtocol::UDP, udp_bytes(&d, P_IP, H_IP))
        }
        1 => {
            let data = payload(1800);
            let d = udp::Repr {
                src_port: 4000,
                dst_port: 9,
                payload: &data,
            };
            (IpProtocol::UDP, udp_bytes(&d, P_IP, H_IP))
        }
        2 => {
            let data = payload(2500);
            let m = icmpv4::Repr::EchoRequest {
                ident: 7,
                seq_no: 1,
                data: &data,
            };
            (IpProtocol::ICMP, icmp_bytes(&m))
        }
        _ => {
            let data = payload(2000);
            let s = wire_tcp::Repr {
                src_port: 4000,
                dst_port: 80,
                flags: TcpFlags::SYN,
                seq_number: SeqNumber(1000),
                payload: &data,
                ..wire_tcp::Repr::default()
            };
            (IpProtocol::TCP, tcp_bytes(&s, P_IP, H_IP))
        }
    }
}

// ----------------------------------------------------------------------------------------
// The harness

/// H and P on one wire, with the queues between them and the clock.
pub struct Harness {
    now: Instant,
    h: Node,
    p: Node,
    /// Frames from P to H, and from H to P, not yet delivered.
    to_h: VecDeque<Vec<u8>>,
    to_p: VecDeque<Vec<u8>>,
    seen: SeenTable,
    buf: Vec<u8>,
}

impl core::fmt::Debug for Harness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Harness")
            .field("now", &self.now)
            .field("h", &self.h.host)
            .field("p", &self.p.host)
            .finish_non_exhaustive()
    }
}

/// Which host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    H,
    P,
}

impl Harness {
    /// H with `variant`'s configuration and P, before the prelude.
    pub fn new(variant: &HostVariant) -> Harness {
        Harness {
            now: Instant::from_secs(1),
            h: Node::new(variant.config(), "H"),
            p: Node::new(peer_config(), "P"),
            to_h: VecDeque::new(),
            to_p: VecDeque::new(),
            seen: SeenTable::new(),
            // The host's own frame length (MTU + 54), so that `poll_transmit_vec` trades.
            buf: vec![0u8; MTU + 54],
        }
    }

    fn node(&mut self, who: Who) -> &mut Node {
        match who {
            Who::H => &mut self.h,
            Who::P => &mut self.p,
        }
    }

    /// Takes both hosts' frames into the queues.
    fn drain(&mut self) {
        let now = self.now;
        self.h
            .drain(now, &mut self.buf, &mut self.to_p, Some(&mut self.seen));
        self.p.drain(now, &mut self.buf, &mut self.to_h, None);
    }

    /// Checks both hosts.
    fn check(&mut self) {
        let now = self.now;
        self.h.check(now);
        self.p.check(now);
    }

    /// Hands `frame` to H (NIC `nic`), then drains both hosts.
    fn inject(&mut self, nic: usize, frame: &[u8]) {
        let now = self.now;
        self.h.handle_frame(now, nic, frame);
        self.drain();
    }

    /// Delivers up to `count` queued frames towards P (or H).
    fn deliver(&mut self, to_peer: bool, count: usize) {
        for _ in 0..count {
            let queue = if to_peer {
                &mut self.to_p
            } else {
                &mut self.to_h
            };
            let Some(frame) = queue.pop_front() else {
                break;
            };
            let now = self.now;
            let node = if to_peer { &mut self.p } else { &mut self.h };
            node.handle_owned_frame(now, 0, frame);
            self.drain();
        }
    }

    /// Delivers queued frames both ways until none is left (no time passes).
    fn settle(&mut self) {
        let mut moved = 0;
        while !(self.to_h.is_empty() && self.to_p.is_empty()) {
            self.deliver(false, usize::MAX);
            self.deliver(true, usize::MAX);
            moved += 1;
            assert!(moved < 1000, "the prelude's frames never settle");
        }
    }

    /// Fires every timer of both hosts due by `target`, in order, then sets the clock to
    /// `target`. After a host's timers fire at `t`, its next deadline is after `t`.
    fn advance_to(&mut self, target: Instant) {
        let mut firings = 0;
        loop {
            let next = [self.h.host.poll_timeout(), self.p.host.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next.filter(|&t| t <= target) else {
                break;
            };
            self.now = self.now.max(t);
            let now = self.now;
            for who in [Who::H, Who::P] {
                let node = self.node(who);
                if node.host.poll_timeout().is_some_and(|t| t <= now) {
                    node.host.handle_timeout(now);
                }
            }
            self.drain();
            for who in [Who::H, Who::P] {
                let node = self.node(who);
                if let Some(t) = node.host.poll_timeout() {
                    assert!(
                        t > now,
                        "{}: poll_timeout {t} after firing the timers due at {now}",
                        node.name
                    );
                }
            }
            firings += 1;
            assert!(
                firings < MAX_FIRINGS,
                "{MAX_FIRINGS} timer firings by {now}: a livelock"
            );
        }
        self.now = self.now.max(target);
    }

    /// Runs a clean wire (every frame delivered after [`RUN_LATENCY`]) until `end`.
    fn run(&mut self, end: Instant) {
        let mut at_instant = 0;
        loop {
            if self.to_h.is_empty() && self.to_p.is_empty() {
                self.advance_to(end);
                if self.to_h.is_empty() && self.to_p.is_empty() {
                    return;
                }
                continue;
            }
            let arrive = self.now + RUN_LATENCY;
            if arrive > end {
                self.advance_to(end);
                return;
            }
            let before = self.now;
            self.advance_to(arrive);
            at_instant = if self.now == before {
                at_instant + 1
            } else {
                0
            };
            let (to_h, to_p) = (self.to_h.len(), self.to_p.len());
            self.deliver(false, to_h);
            self.deliver(true, to_p);
            at_instant += (to_h + to_p) as u32;
            assert!(
                at_instant < MAX_FRAMES_PER_INSTANT,
                "{MAX_FRAMES_PER_INSTANT} frames at {}: a livelock",
                self.now
            );
        }
    }

    // ------------------------------------------------------------------------------------
    // Socket calls, counted and remembered

    fn socket(&mut self, who: Who, ty: SocketType) -> Result<Fd, Errno> {
        let node = self.node(who);
        let fd = node.host.socket(ty)?;
        node.fds.push(fd);
        Ok(fd)
    }

    fn connect(&mut self, who: Who, fd: Fd, to: SocketAddrV4) -> Result<(), Errno> {
        let now = self.now;
        let node = self.node(who);
        let stream = node
            .host
            .ss()
            .iter()
            .any(|r| r.fds.contains(&fd) && r.state == SocketState::Unconnected);
        let r = node.host.connect(now, fd, to);
        if stream && r == Err(Errno::EINPROGRESS) {
            node.active_opens += 1;
        }
        self.drain();
        r
    }

    fn accept(&mut self, who: Who, fd: Fd) -> Result<Fd, Errno> {
        let now = self.now;
        let node = self.node(who);
        let (new, _) = node.host.accept(now, fd)?;
        node.fds.push(new);
        Ok(new)
    }

    fn close(&mut self, who: Who, fd: Fd) -> Result<(), Errno> {
        let now = self.now;
        let node = self.node(who);
        let r = node.host.close(now, fd);
        if r.is_ok() {
            node.forget(fd);
        }
        self.drain();
        r
    }

    /// `send` of `len` pattern bytes; an odd `len` goes by `send_shared` (kept by reference
    /// when 4 KiB or more), so that both ways into the send buffer are fuzzed.
    fn send(&mut self, who: Who, fd: Fd, len: usize) -> Result<usize, Errno> {
        let now = self.now;
        let data = payload(len);
        let r = if len % 2 == 1 {
            let buf = SharedFrame::new(data);
            self.node(who).host.send_shared(now, fd, &buf, 0..len)
        } else {
            self.node(who).host.send(now, fd, &data)
        };
        self.drain();
        r
    }

    fn shutdown(&mut self, who: Who, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        let now = self.now;
        let r = self.node(who).host.shutdown(now, fd, how);
        self.drain();
        r
    }

    fn listen_on(&mut self, who: Who, port: u16, backlog: usize) -> Fd {
        let fd = self
            .socket(who, SocketType::Stream)
            .expect("prelude: socket");
        let node = self.node(who);
        node.host
            .bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
            .expect("prelude: bind");
        node.host.listen(fd, backlog).expect("prelude: listen");
        fd
    }

    fn connect_new(&mut self, who: Who, to: SocketAddrV4) -> Fd {
        let fd = self
            .socket(who, SocketType::Stream)
            .expect("prelude: socket");
        let r = self.connect(who, fd, to);
        assert_eq!(r, Err(Errno::EINPROGRESS), "prelude: connect to {to}");
        fd
    }

    /// H connects to P's listener `l`; both ends, established.
    fn h_to_p(&mut self, l: Fd) -> (Fd, Fd) {
        let c = self.connect_new(Who::H, SocketAddrV4::new(P_IP, 7000));
        self.settle();
        let a = self.accept(Who::P, l).expect("prelude: P accepts");
        (c, a)
    }

    /// P connects to H's listener `l` on `port`; both ends, established.
    fn p_to_h(&mut self, l: Fd, port: u16) -> (Fd, Fd) {
        let c = self.connect_new(Who::P, SocketAddrV4::new(H_IP, port));
        self.settle();
        let a = self.accept(Who::H, l).expect("prelude: H accepts");
        (a, c)
    }

    /// Opens H's connections in every state (see the module documentation). The queues
    /// are empty at each stage's start; what a stage drops is what it wants lost.
    pub fn prelude(&mut self) {
        let l80 = self.listen_on(Who::H, 80, 8);
        let _l81 = self.listen_on(Who::H, 81, 1);
        let l7000 = self.listen_on(Who::P, 7000, 16);
        // ESTABLISHED, active, with 100 unread bytes each way.
        let (c, a) = self.h_to_p(l7000);
        let _ = self.send(Who::H, c, 100);
        let _ = self.send(Who::P, a, 100);
        self.settle();
        // ESTABLISHED, passive.
        self.p_to_h(l80, 80);
        // FIN-WAIT-2 (P in CLOSE-WAIT).
        let (c, _) = self.h_to_p(l7000);
        let _ = self.shutdown(Who::H, c, Shutdown::Write);
        self.settle();
        // CLOSE-WAIT.
        let (_, c) = self.p_to_h(l80, 80);
        let _ = self.shutdown(Who::P, c, Shutdown::Write);
        self.settle();
        // TIME-WAIT.
        let (c, a) = self.h_to_p(l7000);
        let _ = self.shutdown(Who::H, c, Shutdown::Write);
        self.settle();
        let _ = self.close(Who::P, a);
        self.settle();
        // LAST-ACK: P's ACK of H's FIN lost.
        let (h, p) = self.p_to_h(l80, 80);
        let _ = self.shutdown(Who::P, p, Shutdown::Write);
        self.settle();
        let _ = self.shutdown(Who::H, h, Shutdown::Write);
        self.deliver(true, usize::MAX);
        self.to_h.clear();
        // FIN-WAIT-1: H's FIN lost.
        let (c, _) = self.h_to_p(l7000);
        let _ = self.shutdown(Who::H, c, Shutdown::Write);
        self.to_p.clear();
        // CLOSING: the FINs cross; H's FIN and its ACK of P's FIN lost.
        let (c, a) = self.h_to_p(l7000);
        let _ = self.shutdown(Who::H, c, Shutdown::Write);
        let _ = self.shutdown(Who::P, a, Shutdown::Write);
        self.deliver(false, usize::MAX);
        self.to_p.clear();
        // An orphan: closed by H's application, finishing in the background.
        let (c, _) = self.h_to_p(l7000);
        let _ = self.close(Who::H, c);
        self.settle();
        // SYN-SENT: the SYN lost.
        self.connect_new(Who::H, SocketAddrV4::new(P_IP, 7000));
        self.to_p.clear();
        // SYN-SENT, waiting for ARP of a neighbour that never answers.
        self.connect_new(Who::H, SocketAddrV4::new(SILENT_IP, 80));
        self.to_p.clear();
        // SYN-RECEIVED: H's SYN-ACK lost.
        self.connect_new(Who::P, SocketAddrV4::new(H_IP, 81));
        self.deliver(false, usize::MAX);
        self.to_p.clear();
        // UDP: a bound socket, and one connected to P, which has a datagram from it.
        let u = self.socket(Who::H, SocketType::Datagram).expect("prelude");
        let _ = self
            .h
            .host
            .bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53));
        let pu = self.socket(Who::P, SocketType::Datagram).expect("prelude");
        let _ = self
            .p
            .host
            .bind(pu, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5353));
        let u = self.socket(Who::H, SocketType::Datagram).expect("prelude");
        let _ = self.connect(Who::H, u, SocketAddrV4::new(P_IP, 5353));
        let _ = self.send(Who::H, u, 20);
        self.settle();
        // A stream socket that is neither listening nor connected.
        let _ = self.socket(Who::H, SocketType::Stream);
        self.check();
    }

    /// H's `ss` table.
    pub fn h_sockets(&self) -> Vec<SocketInfo> {
        self.h.host.ss()
    }

    // ------------------------------------------------------------------------------------
    // Actions

    /// Applies one action, then checks both hosts.
    pub fn apply(&mut self, action: &Action<'_>) {
        match action {
            Action::Net(op) => self.net(*op),
            Action::Tcp(seg) => self.tcp(seg),
            Action::Arp(a) => self.arp(*a),
            Action::Icmp(m) => self.icmp(*m),
            Action::Udp(d) => self.udp(*d),
            Action::Fragment(f) => self.fragment(*f),
            Action::Raw {
                header,
                other_nic,
                bytes,
            } => {
                let frame = match header % 4 {
                    0 => bytes.to_vec(),
                    1 => eth_frame(H_MAC, P_MAC, EtherType::IPV4, bytes),
                    2 => eth_frame(H_MAC, P_MAC, EtherType::ARP, bytes),
                    _ => eth_frame(H_MAC, P_MAC, EtherType(0x88b5), bytes),
                };
                self.inject(usize::from(*other_nic), &frame);
            }
            Action::Call { peer, call } => {
                let who = if *peer { Who::P } else { Who::H };
                self.call(who, *call);
            }
            Action::Time(step) => {
                let target = match *step {
                    TimeStep::Micros(n) => self.now + Duration::from_micros(u64::from(n)),
                    TimeStep::Millis(n) => self.now + Duration::from_millis(u64::from(n)),
                    TimeStep::Secs(n) => self.now + Duration::from_secs(u64::from(n)),
                    TimeStep::NextTimer => self.h.host.poll_timeout().unwrap_or(self.now),
                };
                self.advance_to(target);
            }
        }
        self.check();
    }

    fn net(&mut self, op: NetOp) {
        match op {
            NetOp::Deliver { to_peer, count } => self.deliver(to_peer, usize::from(count)),
            NetOp::Drop { to_peer, count } => {
                let queue = if to_peer {
                    &mut self.to_p
                } else {
                    &mut self.to_h
                };
                let n = usize::from(count).min(queue.len());
                queue.drain(..n);
            }
            NetOp::Duplicate { to_peer } => {
                let queue = if to_peer { &self.to_p } else { &self.to_h };
                if let Some(frame) = queue.front().cloned() {
                    let now = self.now;
                    let node = if to_peer { &mut self.p } else { &mut self.h };
                    node.handle_frame(now, 0, &frame);
                    self.drain();
                }
            }
            NetOp::Swap { to_peer } => {
                let queue = if to_peer {
                    &mut self.to_p
                } else {
                    &mut self.to_h
                };
                if queue.len() >= 2 {
                    queue.swap(0, 1);
                }
            }
            NetOp::Mutate {
                index,
                at,
                xor,
                keep,
            } => {
                if self.to_h.is_empty() {
                    return;
                }
                let mut frame = self.to_h[usize::from(index) % self.to_h.len()].clone();
                let at = usize::from(at) % frame.len();
                frame[at] ^= xor.max(1);
                if let Some(keep) = keep {
                    frame.truncate(usize::from(keep) % (frame.len() + 1));
                }
                self.inject(0, &frame);
            }
            NetOp::Run { millis } => {
                let end = self.now + Duration::from_millis(u64::from(millis % 2000));
                self.run(end);
            }
        }
    }

    /// H's connections to other hosts, from `ss`: (local, remote).
    fn h_connections(&self) -> Vec<(SocketAddrV4, SocketAddrV4)> {
        self.h
            .host
            .ss()
            .into_iter()
            .filter_map(|r| match (r.state, r.local, r.peer) {
                (SocketState::Tcp(_), Some(l), Some(p)) if !p.ip().is_loopback() => Some((l, p)),
                _ => None,
            })
            .collect()
    }

    fn h_listeners(&self) -> Vec<u16> {
        self.h
            .host
            .ss()
            .into_iter()
            .filter(|r| r.state == SocketState::Listen)
            .filter_map(|r| r.local.map(|l| l.port()))
            .collect()
    }

    fn tcp(&mut self, seg: &TcpInject) {
        let conns = self.h_connections();
        let listeners = self.h_listeners();
        let pick = usize::from(seg.target) % (conns.len() + listeners.len() + 1);
        // (H's end, the sender's end, what H last sent there)
        let (local, mut remote, seen) = if pick < conns.len() {
            let (l, r) = conns[pick];
            (l, r, self.seen.get(&(l, r)).copied().unwrap_or_default())
        } else if pick < conns.len() + listeners.len() {
            let port = listeners[pick - conns.len()];
            let remote = SocketAddrV4::new(P_IP, 40000 + u16::from(seg.target));
            (SocketAddrV4::new(H_IP, port), remote, Seen::default())
        } else {
            let remote = SocketAddrV4::new(P_IP, 40000);
            (SocketAddrV4::new(H_IP, 9), remote, Seen::default())
        };
        if seg.spoofed {
            remote = SocketAddrV4::new(SPOOF_IP, remote.port());
        }
        let data = payload(usize::from(seg.payload_len) % 1461);
        let mut sack = SackBlocks::new();
        for &(l, r) in seg.sack.iter().take(SackBlocks::CAPACITY) {
            sack.push((
                SeqNumber(l.from(seen.snd_next)),
                SeqNumber(r.from(seen.snd_next)),
            ));
        }
        let repr = wire_tcp::Repr {
            src_port: remote.port(),
            dst_port: local.port(),
            flags: TcpFlags(u16::from(seg.flags)),
            seq_number: SeqNumber(seg.seq.from(seen.rcv_next)),
            ack_number: SeqNumber(seg.ack.from(seen.snd_next)),
            window_len: seg.window,
            urgent_pointer: seg.urgent,
            max_seg_size: seg.mss,
            window_scale: seg.window_scale,
            sack_permitted: seg.sack_permitted,
            sack_ranges: sack,
            timestamp: seg.timestamp.map(|(v, e)| TcpTimestamp {
                tsval: v.from(seen.tsecr),
                tsecr: e.from(seen.tsval),
            }),
            payload: &data,
        };
        if !repr.is_valid() {
            return;
        }
        let mut l4 = tcp_bytes(&repr, *remote.ip(), *local.ip());
        if seg.bad_checksum {
            l4[16] ^= 0x01;
        }
        let ip = ip_header(*remote.ip(), *local.ip(), IpProtocol::TCP, l4.len());
        self.inject(0, &ip_frame(H_MAC, &ip, &l4));
    }

    fn arp(&mut self, a: ArpInject) {
        let repr = arp::Repr {
            operation: if a.reply {
                arp::Operation::REPLY
            } else {
                arp::Operation::REQUEST
            },
            source_hardware_addr: a.sender_mac.mac(),
            source_protocol_addr: a.sender_ip.addr(),
            target_hardware_addr: a.target_mac.mac(),
            target_protocol_addr: a.target_ip.addr(),
        };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut arp::Packet::new_unchecked(&mut bytes[..]));
        let dst = if a.broadcast {
            EthernetAddress::BROADCAST
        } else {
            H_MAC
        };
        self.inject(
            0,
            &eth_frame(dst, a.sender_mac.mac(), EtherType::ARP, &bytes),
        );
    }

    fn icmp(&mut self, m: IcmpInject) {
        match m {
            IcmpInject::Echo {
                ident,
                seq_no,
                len,
                broadcast,
            } => {
                let data = payload(usize::from(len));
                let msg = icmpv4::Repr::EchoRequest {
                    ident,
                    seq_no,
                    data: &data,
                };
                let l4 = icmp_bytes(&msg);
                let dst = if broadcast {
                    Ipv4Addr::new(10, 0, 0, 255)
                } else {
                    H_IP
                };
                let ip = ip_header(P_IP, dst, IpProtocol::ICMP, l4.len());
                let mac = if broadcast {
                    EthernetAddress::BROADCAST
                } else {
                    H_MAC
                };
                self.inject(0, &ip_frame(mac, &ip, &l4));
            }
            IcmpInject::Error {
                kind,
                code,
                mtu,
                target,
                seq,
                from_gateway,
                udp,
            } => {
                // The quoted datagram: H to the connection's peer, its first 8 bytes.
                let (local, remote, proto, head) = if udp {
                    let local = SocketAddrV4::new(H_IP, 53);
                    let remote = SocketAddrV4::new(P_IP, 5353);
                    let mut head = [0u8; 8];
                    head[..2].copy_from_slice(&local.port().to_be_bytes());
                    head[2..4].copy_from_slice(&remote.port().to_be_bytes());
                    head[4..6].copy_from_slice(&28u16.to_be_bytes());
                    (local, remote, IpProtocol::UDP, head)
                } else {
                    let conns = self.h_connections();
                    if conns.is_empty() {
                        return;
                    }
                    let (local, remote) = conns[usize::from(target) % conns.len()];
                    let seen = self.seen.get(&(local, remote)).copied().unwrap_or_default();
                    let mut head = [0u8; 8];
                    head[..2].copy_from_slice(&local.port().to_be_bytes());
                    head[2..4].copy_from_slice(&remote.port().to_be_bytes());
                    head[4..].copy_from_slice(&seq.from(seen.last_seq).to_be_bytes());
                    (local, remote, IpProtocol::TCP, head)
                };
                let header = ipv4::Repr {
                    dont_frag: true,
                    ..ip_header(*local.ip(), *remote.ip(), proto, 40)
                };
                let msg = match kind % 5 {
                    0 => icmpv4::Repr::DstUnreachable {
                        reason: DstUnreachable(code % 16),
                        next_hop_mtu: 0,
                        header,
                        data: &head,
                    },
                    1 => icmpv4::Repr::DstUnreachable {
                        reason: DstUnreachable::FRAG_REQUIRED,
                        next_hop_mtu: mtu,
                        header,
                        data: &head,
                    },
                    2 => icmpv4::Repr::TimeExceeded {
                        reason: TimeExceeded(code % 2),
                        header,
                        data: &head,
                    },
                    3 => icmpv4::Repr::ParamProblem {
                        pointer: code,
                        header,
                        data: &head,
                    },
                    _ => icmpv4::Repr::SourceQuench {
                        header,
                        data: &head,
                    },
                };
                if !msg.is_valid() {
                    return;
                }
                let l4 = icmp_bytes(&msg);
                let src = if from_gateway {
                    GATEWAY_IP
                } else {
                    *remote.ip()
                };
                let ip = ip_header(src, H_IP, IpProtocol::ICMP, l4.len());
                self.inject(0, &ip_frame(H_MAC, &ip, &l4));
            }
        }
    }

    fn udp(&mut self, d: UdpInject) {
        let data = payload(usize::from(d.len) % 1473);
        let src = d.from.addr();
        let dst = if d.broadcast {
            Ipv4Addr::new(10, 0, 0, 255)
        } else {
            H_IP
        };
        let repr = udp::Repr {
            src_port: d.src_port,
            dst_port: d.port.port(),
            payload: &data,
        };
        let mut l4 = udp_bytes(&repr, src, dst);
        match d.checksum % 3 {
            0 => {}
            1 => l4[6..8].fill(0),
            _ => l4[6] ^= 0x80,
        }
        let ip = ip_header(src, dst, IpProtocol::UDP, l4.len());
        let mac = if d.broadcast {
            EthernetAddress::BROADCAST
        } else {
            H_MAC
        };
        self.inject(0, &ip_frame(mac, &ip, &l4));
    }

    fn fragment(&mut self, f: FragInject) {
        let (protocol, whole) = fragmented_datagram(f.datagram);
        let start = (usize::from(f.offset) * 8).min(whole.len() & !7);
        let end = (start + usize::from(f.len).max(1) * 8).min(whole.len());
        let more = f.more.unwrap_or(end < whole.len());
        let ip = ipv4::Repr {
            ident: 0x1000 + u16::from(f.datagram % 4) + 16 * u16::from(f.ident % 4),
            more_frags: more,
            frag_offset: start as u16,
            ..ip_header(P_IP, H_IP, protocol, end - start)
        };
        if !ip.is_valid() {
            return;
        }
        self.inject(0, &ip_frame(H_MAC, &ip, &whole[start..end]));
    }

    fn call(&mut self, who: Who, call: Call) {
        let now = self.now;
        match call {
            Call::Socket { udp } => {
                let ty = if udp {
                    SocketType::Datagram
                } else {
                    SocketType::Stream
                };
                let _ = self.socket(who, ty);
            }
            Call::Bind { fd, addr, port } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let _ = node
                    .host
                    .bind(fd, SocketAddrV4::new(addr.addr(), port.port()));
            }
            Call::Listen { fd, backlog } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let _ = node.host.listen(fd, usize::from(backlog));
            }
            Call::Connect { fd, addr, port } => {
                let fd = self.node(who).fd(fd);
                let _ = self.connect(who, fd, SocketAddrV4::new(addr.addr(), port.port()));
            }
            Call::Accept { fd } => {
                let fd = self.node(who).fd(fd);
                let _ = self.accept(who, fd);
                self.drain();
            }
            Call::Send { fd, len } => {
                let fd = self.node(who).fd(fd);
                let _ = self.send(who, fd, usize::from(len));
            }
            Call::SendUrgent { fd, len } => {
                let now = self.now;
                let fd = self.node(who).fd(fd);
                let data = payload(usize::from(len));
                let _ = self.node(who).host.send_urgent(now, fd, &data);
                self.drain();
            }
            Call::Recv { fd, len } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let mut buf = vec![0u8; usize::from(len)];
                if let Ok(n) = node.host.recv(now, fd, &mut buf) {
                    assert!(
                        n <= buf.len(),
                        "{}: recv of {n} into {}",
                        node.name,
                        buf.len()
                    );
                }
                self.drain();
            }
            Call::SendTo {
                fd,
                addr,
                port,
                len,
            } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let data = payload(usize::from(len));
                let to = SocketAddrV4::new(addr.addr(), port.port());
                let _ = node.host.send_to(now, fd, &data, to);
                self.drain();
            }
            Call::RecvFrom { fd, len } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let mut buf = vec![0u8; usize::from(len)];
                if let Ok((n, _)) = node.host.recv_from(now, fd, &mut buf) {
                    assert!(
                        n <= buf.len(),
                        "{}: recvfrom of {n} into {}",
                        node.name,
                        buf.len()
                    );
                }
                self.drain();
            }
            Call::Peek { fd, len, from } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let mut peeked = vec![0u8; usize::from(len)];
                let mut read = vec![0u8; usize::from(len)];
                let (p, r) = if from {
                    let p = node
                        .host
                        .peek_from(fd, &mut peeked)
                        .map(|(n, a)| (n, Some(a)));
                    let r = node
                        .host
                        .recv_from(now, fd, &mut read)
                        .map(|(n, a)| (n, Some(a)));
                    (p, r)
                } else {
                    let p = node.host.peek(fd, &mut peeked).map(|n| (n, None));
                    (p, node.host.recv(now, fd, &mut read).map(|n| (n, None)))
                };
                if let (Ok((n, a)), Ok((m, b))) = (p, r) {
                    assert_eq!(
                        (&peeked[..n], a),
                        (&read[..m], b),
                        "{}: a peek returns what the read after it does",
                        node.name
                    );
                }
                self.drain();
            }
            Call::Shutdown { fd, how } => {
                let fd = self.node(who).fd(fd);
                let how = [Shutdown::Read, Shutdown::Write, Shutdown::Both][usize::from(how % 3)];
                let _ = self.shutdown(who, fd, how);
            }
            Call::Close { fd } => {
                let fd = self.node(who).fd(fd);
                let _ = self.close(who, fd);
            }
            Call::Abort { fd } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let _ = node
                    .host
                    .setsockopt(now, fd, SockOpt::Linger(Some(Duration::ZERO)));
                let _ = self.close(who, fd);
            }
            Call::Dup { fd } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                if let Ok(new) = node.host.dup(fd) {
                    node.fds.push(new);
                }
            }
            Call::SetOpt { fd, opt } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let default = node.host.config().tcp.send_buffer_bytes;
                let size = |i: u8| [1, 512, 2048, default][usize::from(i % 4)];
                let opt = match opt {
                    OptPick::NoDelay(on) => SockOpt::NoDelay(on),
                    OptPick::KeepAlive(k) => {
                        SockOpt::KeepAlive(k.map(|(idle, intvl, count)| KeepAlive {
                            idle: Duration::from_secs(u64::from(idle) + 1),
                            interval: Duration::from_secs(u64::from(intvl) + 1),
                            count: u32::from(count),
                        }))
                    }
                    OptPick::SendBuffer(i) => SockOpt::SendBuffer(size(i)),
                    OptPick::RecvBuffer(i) => SockOpt::RecvBuffer(size(i)),
                    OptPick::ReuseAddr(on) => SockOpt::ReuseAddr(on),
                    OptPick::Linger(l) => {
                        SockOpt::Linger(l.map(|s| Duration::from_secs(u64::from(s))))
                    }
                    OptPick::UserTimeout(t) => {
                        SockOpt::UserTimeout(t.map(|ms| Duration::from_millis(u64::from(ms) + 1)))
                    }
                    OptPick::DontFragment(on) => SockOpt::DontFragment(on),
                    OptPick::Ttl(ttl) => SockOpt::Ttl(ttl),
                    OptPick::Broadcast(on) => SockOpt::Broadcast(on),
                    OptPick::Membership(leave, group, interface) => {
                        let (group, interface) = (group.addr(), interface.addr());
                        if leave {
                            SockOpt::LeaveMulticast { group, interface }
                        } else {
                            SockOpt::JoinMulticast { group, interface }
                        }
                    }
                    OptPick::MulticastLoop(on) => SockOpt::MulticastLoop(on),
                    OptPick::MulticastTtl(ttl) => SockOpt::MulticastTtl(ttl),
                    OptPick::QuickAck(on) => SockOpt::QuickAck(on),
                    OptPick::Tos(tos) => SockOpt::Tos(tos),
                };
                let _ = node.host.setsockopt(now, fd, opt);
                self.drain();
            }
            Call::Query { fd } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let _ = node.host.take_error(fd);
                let _ = node.host.local_addr(fd);
                let _ = node.host.peer_addr(fd);
            }
            Call::Poll { fd, interest } => {
                let node = self.node(who);
                let fd = node.fd(fd);
                let interest = Interest {
                    readable: interest & 1 != 0,
                    writable: interest & 2 != 0,
                };
                let _ = node.host.register(fd, interest);
                for (ready, r) in node.host.poll_ready() {
                    let level = node.host.readiness(ready).unwrap_or_else(|e| {
                        panic!(
                            "{}: poll_ready named {ready}, whose readiness is {e}",
                            node.name
                        )
                    });
                    assert!(
                        (!r.readable || level.readable)
                            && (!r.writable || level.writable)
                            && (!r.acceptable || level.acceptable),
                        "{}: poll_ready says {r:?} for {ready}, readiness {level:?}",
                        node.name
                    );
                }
            }
        }
    }
}

/// Runs the prelude for `variant`, then every action, checking both hosts after each.
pub fn run_host(variant: &HostVariant, actions: &[Action<'_>]) {
    let mut harness = Harness::new(variant);
    harness.prelude();
    for action in actions {
        harness.apply(action);
    }
}

/// The `host_state` target: a [`HostVariant`] and up to 512 actions from the
/// bytes, then [`run_host`] (actions are applied as they are read).
pub fn host_state(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(variant) = HostVariant::arbitrary(&mut u) else {
        return;
    };
    let mut harness = Harness::new(&variant);
    harness.prelude();
    let mut taken = 0;
    while !u.is_empty() && taken < MAX_ACTIONS {
        let Ok(action) = Action::arbitrary(&mut u) else {
            break;
        };
        harness.apply(&action);
        taken += 1;
    }
}

/// H's `ss` table after the prelude, with `variant`'s configuration.
pub fn prelude_sockets(variant: &HostVariant) -> Vec<SocketInfo> {
    let mut harness = Harness::new(variant);
    harness.prelude();
    harness.h_sockets()
}
