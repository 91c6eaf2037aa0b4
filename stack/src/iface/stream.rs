//! The TCP demultiplexer, listeners, SYN cookies, connection timers and the stream socket
//! calls.
//!
//! Connections live in a slab (`conns`, indexed by [`ConnId`]) and are found by 4-tuple in
//! a hash map with a fixed seeded hasher that is never iterated. Listeners are found by
//! exact address first, then by wildcard. Each connection's next deadline sits in an
//! ordered set of `(Instant, ConnId)`, updated after every call into the connection, so
//! that `poll_timeout` is the set's first element whatever the number of connections.
//! Connections with something to send wait in the `dirty` queue until `poll_transmit`
//! pulls their segments.
//!
//! Ownership of a connection: a socket (after `connect` or `accept`), a listener (in its
//! SYN queue or accept queue), or nobody (an orphan: closed by the application and
//! finishing in the background; reaped when it reaches CLOSED).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use super::chunked::ChunkedVec;
use super::fxhash::FxBuildHasher;
use super::socket::{Kind, Listener, SockId, Socket, SocketOptions};
use super::{DropReason, Errno, Fd, Host, NetError, Origin, SockOpt};
use crate::frame::SharedFrame;
use crate::hash::{siphash24, SecretKey};
use crate::tcp::{self as engine, Connection, ConnectionError, Event, State};
use crate::time::Instant;
use crate::wire::icmpv4::DstUnreachable;
use crate::wire::ipv4::{self, IpProtocol};
use crate::wire::tcp::{self as wire_tcp, TcpFlags};
use crate::wire::{ethernet, EtherType, EthernetAddress};
use crate::wire::{ChecksumMode, SeqNumber};

/// A connection's 4-tuple, as seen from this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ConnKey {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
}

/// Index of a connection in the host's slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ConnId(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Socket(SockId),
    Listener(SockId),
    Orphan,
}

#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub conn: Connection,
    pub key: ConnKey,
    pub owner: Owner,
    /// In the 4-tuple map, the timer set and `conn_ports`.
    pub linked: bool,
    pub timer_at: Option<Instant>,
    pub in_dirty: bool,
    pub peer_closed: bool,
    /// The last soft error (RFC 1122 section 4.2.3.9), reported if the connection times out.
    pub soft_error: Option<Errno>,
    /// Why the host aborted the connection, reported instead of "aborted".
    pub net_error: Option<Errno>,
    pub orphan_deadline: Option<Instant>,
    /// The engine's drop counters as last added to the host's table (`fold_conn_drops`).
    pub drops_seen: [u64; engine::DropReason::ALL.len()],
    /// Their sum: while the engine's total equals it, there is nothing to fold.
    pub drops_seen_total: u64,
    /// The TCP header length of the last segment sent, where `tcp_transmit_into` expects
    /// the next one's to be (its payload is written after it before it is known).
    pub tx_header_len: u8,
    /// Where the connection's frames went last (`tcp_transmit_into`), while still so.
    pub tx_path: Option<TxPath>,
}

/// Where a connection's frames go, as `tcp_transmit_into` last found it: the NIC, the next
/// hop and its Ethernet address, the link's MTU and the path's. Every segment looked these
/// up (the local addresses, the routes, the learned path MTUs, the neighbour table's
/// B-tree and its state), 3.5% of a bulk transfer at 1% loss; Linux keeps the same per
/// socket (`sk_dst_cache`, checked against a generation). It holds while the routes and
/// path MTUs (`Host::path_generation`) and the neighbour table (`ArpTable::generation`)
/// are as they were, and until `until`: the instant from which using the neighbour entry
/// would change it (`ArpTable::quiet_until`), or a learned path MTU would lapse. The
/// interfaces and the limits never change. The host invariants check every use against
/// the lookups it saves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxPath {
    path_generation: u64,
    arp_generation: u64,
    until: Instant,
    nic: u16,
    next_hop: Ipv4Addr,
    link_mtu: usize,
    path_mtu: usize,
    mac: EthernetAddress,
}

/// What `Host::tcp_transmit_into` did with the connection at the head of the dirty queue.
///
/// Eight bytes, so that it comes back in a register: with `usize` fields it came back
/// through memory, written a field at a time and read back wider, a store-forwarding stall
/// on every frame sent (half of `Host::poll_transmit`'s samples, `perf annotate`).
pub(super) enum DirectTx {
    /// A frame of `len` bytes for NIC `nic` is in the caller's buffer.
    Frame { nic: u16, len: u32 },
    /// The segment took the queued way (ARP pending, fragmentation): ask again.
    Queued,
    /// The connection has nothing more to send.
    Done,
    /// Not for this connection (loopback, no route, a buffer too small): send what it has
    /// the queued way.
    Slow,
}

/// Ethernet and IPv4 headers (no options) before a TCP header.
const ETH_IP_LEN: usize = 14 + ipv4::HEADER_LEN;

/// MSS values a SYN cookie can encode (3 bits), ascending.
const COOKIE_MSS: [u16; 8] = [536, 1024, 1220, 1300, 1400, 1440, 1460, 8960];
/// A cookie's counter ticks every 64 s; a cookie is accepted for up to two ticks.
const COOKIE_TICK_SECS: u64 = 64;

fn conn_errno(e: &ConnEntry, err: ConnectionError) -> Errno {
    if let Some(n) = e.net_error {
        return n;
    }
    match err {
        ConnectionError::Refused => Errno::ECONNREFUSED,
        ConnectionError::Reset => Errno::ECONNRESET,
        ConnectionError::TimedOut(_) => e.soft_error.unwrap_or(Errno::ETIMEDOUT),
        ConnectionError::Aborted => Errno::ECONNRESET,
    }
}

/// Builds an IP packet with a TCP segment in `packet`, a recycled buffer (see
/// `Host::packet_pool`) whose old contents are overwritten: the emitters write every byte
/// of headers, options, padding and payload, so only growth is zero-filled. Free of `self`,
/// so that it can run while the segment borrows the host's scratch buffer.
fn tcp_packet(
    mut packet: Vec<u8>,
    ident: u16,
    (ttl, tos): (u8, u8),
    dont_frag: bool,
    key: ConnKey,
    seg: &wire_tcp::Repr<'_>,
) -> Vec<u8> {
    let (src, dst) = (*key.local.ip(), *key.remote.ip());
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::TCP,
        payload_len: seg.buffer_len(),
        ttl,
        dscp: tos >> 2,
        ecn: 0,
        ident,
        dont_frag,
        more_frags: false,
        frag_offset: 0,
        options: ipv4::Ipv4Options::EMPTY,
    };
    packet.resize(ip.buffer_len(), 0);
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..]));
    let hl = ip.header_len();
    seg.emit(
        &mut wire_tcp::Packet::new_unchecked(&mut packet[hl..]),
        src,
        dst,
    );
    packet
}

/// Configurations a host keeps to share among its connections (see `Host::shared_config`).
const RECENT_CONFIGS: usize = 4;

/// The host's TCP table: connections by slot and by 4-tuple, their deadlines, the queue of
/// those with something to send, listeners, bound ports and the ephemeral port search.
pub(super) struct TcpTable {
    /// Connections by slot (`ConnId`); a freed slot is `None` until reused.
    pub(super) conns: ChunkedVec<Option<ConnEntry>>,
    /// Free slots of `conns`, reused last first.
    pub(super) free_conns: Vec<usize>,
    /// Live connections.
    pub(super) conn_count: usize,
    /// Connections by 4-tuple (seeded hashing: no hash-order iteration).
    pub(super) tuples: hashbrown::HashMap<ConnKey, ConnId, FxBuildHasher>,
    /// The last entry `tuples` gave a segment, `tcp_input`'s first look: the segments of a
    /// burst are nearly all for one connection. Cleared wherever `tuples` changes
    /// (`insert_conn`, `unlink_conn`), so it never answers other than `tuples` would.
    pub(super) last_tuple: Option<(ConnKey, ConnId)>,
    /// Each connection's next deadline, earliest first.
    pub(super) timers: BTreeSet<(Instant, ConnId)>,
    /// Connections with something to send, in the order they got it.
    pub(super) dirty: VecDeque<ConnId>,
    /// Listeners by local address: one, or a reuseport group in the order they listened.
    pub(super) listeners: BTreeMap<SocketAddrV4, Vec<SockId>>,
    /// Bound TCP sockets per local port.
    pub(super) binds: BTreeMap<u16, Vec<(Ipv4Addr, SockId)>>,
    /// Live connections per local (port, address), for bind conflicts.
    pub(super) conn_ports: BTreeMap<(u16, Ipv4Addr), u32>,
    /// Where the search for the next ephemeral port starts.
    pub(super) next_ephemeral: u32,
    /// The engine's segment buffer for the queued way out (`tcp_transmit`).
    pub(super) scratch: Vec<u8>,
    /// The configurations connections were last made or left with, the latest first
    /// (`Host::shared_config`): a handful is enough, a host's connections are made with
    /// few distinct ones.
    pub(super) recent_configs: [Option<Arc<engine::Config>>; RECENT_CONFIGS],
}

impl TcpTable {
    pub(super) fn new(seed: u64, next_ephemeral: u32) -> TcpTable {
        TcpTable {
            conns: ChunkedVec::new(),
            free_conns: Vec::new(),
            conn_count: 0,
            tuples: hashbrown::HashMap::with_hasher(FxBuildHasher::with_seed(seed)),
            last_tuple: None,
            timers: BTreeSet::new(),
            dirty: VecDeque::new(),
            listeners: BTreeMap::new(),
            binds: BTreeMap::new(),
            conn_ports: BTreeMap::new(),
            next_ephemeral,
            scratch: Vec::new(),
            recent_configs: Default::default(),
        }
    }
}

impl Host {
    pub(super) fn conn_ref(&self, id: ConnId) -> Option<&ConnEntry> {
        self.tcp.conns.get(id.0).and_then(Option::as_ref)
    }

    pub(super) fn conn_mut(&mut self, id: ConnId) -> Option<&mut ConnEntry> {
        self.tcp.conns.get_mut(id.0).and_then(Option::as_mut)
    }

    fn insert_conn(&mut self, conn: Connection, owner: Owner) -> ConnId {
        let key = ConnKey {
            local: conn.local(),
            remote: conn.remote(),
        };
        let entry = ConnEntry {
            conn,
            key,
            owner,
            linked: true,
            timer_at: None,
            in_dirty: false,
            peer_closed: false,
            soft_error: None,
            net_error: None,
            orphan_deadline: None,
            drops_seen: [0; engine::DropReason::ALL.len()],
            drops_seen_total: 0,
            tx_header_len: wire_tcp::HEADER_LEN as u8,
            tx_path: None,
        };
        let id = match self.tcp.free_conns.pop() {
            Some(i) => {
                self.tcp.conns[i] = Some(entry);
                ConnId(i)
            }
            None => {
                self.tcp.conns.push(Some(entry));
                ConnId(self.tcp.conns.len() - 1)
            }
        };
        self.tcp.tuples.insert(key, id);
        self.tcp.last_tuple = None;
        *self
            .tcp
            .conn_ports
            .entry((key.local.port(), *key.local.ip()))
            .or_default() += 1;
        self.tcp.conn_count += 1;
        id
    }

    /// Takes a connection out of the lookup tables (it keeps its slab slot).
    fn unlink_conn(&mut self, id: ConnId) {
        let Some(e) = self.tcp.conns.get_mut(id.0).and_then(Option::as_mut) else {
            return;
        };
        if !e.linked {
            return;
        }
        e.linked = false;
        let key = e.key;
        if let Some(t) = e.timer_at.take() {
            self.tcp.timers.remove(&(t, id));
        }
        if self.tcp.tuples.get(&key) == Some(&id) {
            self.tcp.tuples.remove(&key);
        }
        self.tcp.last_tuple = None;
        let port_key = (key.local.port(), *key.local.ip());
        if let Some(n) = self.tcp.conn_ports.get_mut(&port_key) {
            *n -= 1;
            if *n == 0 {
                self.tcp.conn_ports.remove(&port_key);
            }
        }
    }

    fn free_conn(&mut self, id: ConnId) {
        self.unlink_conn(id);
        if self.tcp.conns.get(id.0).is_some_and(Option::is_some) {
            self.tcp.conns[id.0] = None;
            self.tcp.free_conns.push(id.0);
            self.tcp.conn_count -= 1;
            // A connection slot is free: a `connect` that found none may now succeed.
            for sid in core::mem::take(&mut self.sockets.starved_connects) {
                self.mark_changed(sid);
            }
        }
    }

    /// After every call into a connection: its events, the transmit queue, its timer.
    pub(super) fn sync_conn(&mut self, now: Instant, id: ConnId) {
        self.conn_events(now, id);
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        if !e.in_dirty {
            e.in_dirty = true;
            self.tcp.dirty.push_back(id);
        }
        self.update_timer(id);
    }

    fn update_timer(&mut self, id: ConnId) {
        let Some(e) = self.tcp.conns.get_mut(id.0).and_then(Option::as_mut) else {
            return;
        };
        let next = Self::conn_deadline(e);
        // The entry only ever moves earlier. Nearly every segment re-arms the
        // retransmission timer a little later; moving the entry each time cost a BTreeSet
        // removal and insertion per segment. A later deadline is found when the early entry
        // fires (one empty wake-up), and a cancelled one lets its entry fire for nothing.
        if let Some(n) = next {
            if e.timer_at.is_none_or(|t| n < t) {
                if let Some(t) = e.timer_at {
                    self.tcp.timers.remove(&(t, id));
                }
                self.tcp.timers.insert((n, id));
                e.timer_at = Some(n);
            }
            // The pair of `Connection::poll_timeout`: the host wakes no later than the
            // connection's deadline, by the one entry filed for it.
            crate::tcp::invariant!(
                e.timer_at
                    .is_some_and(|t| t <= n && self.tcp.timers.contains(&(t, id))),
                "a connection's deadline is filed no later than it falls",
                "connection {id:?} due at {n}, filed at {:?}",
                e.timer_at
            );
        }
    }

    /// When a connection next has timer work: its engine's timer and, once orphaned in
    /// FIN-WAIT-2, the orphan deadline. `None` once unlinked.
    fn conn_deadline(e: &ConnEntry) -> Option<Instant> {
        if !e.linked {
            return None;
        }
        match (e.conn.poll_timeout(), e.orphan_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds what a connection's engine dropped since the last call to the host's drop
    /// table, so that `netstat -s` (`Counters`) shows every drop, not only the host's own.
    fn fold_conn_drops(&mut self, id: ConnId) {
        let Some(e) = self.tcp.conns.get_mut(id.0).and_then(Option::as_mut) else {
            return;
        };
        let stats = e.conn.stats();
        // Called after every segment; a drop is rare.
        if stats.drops_total() == e.drops_seen_total {
            return;
        }
        e.drops_seen_total = stats.drops_total();
        for (seen, &reason) in e.drops_seen.iter_mut().zip(engine::DropReason::ALL.iter()) {
            let n = stats.drops(reason);
            if n != *seen {
                self.counters.count_drops(reason.into(), n - *seen);
                *seen = n;
            }
        }
    }

    /// Drains a connection's events into socket and listener state.
    fn conn_events(&mut self, now: Instant, id: ConnId) {
        self.fold_conn_drops(id);
        let Some(e) = self.conn_ref(id) else {
            return;
        };
        // Anything that touched the connection may have changed what its socket is ready
        // for (data, window, state, error).
        if let Owner::Socket(s) = e.owner {
            self.mark_changed(s);
        }
        // After nearly every segment that is all: no event waits, the connection is not back
        // in LISTEN and has an owner. Returning here skips the lookups and reads of the rest
        // (4.6% of the samples of a bulk transfer at 1% loss went to this function).
        let Some(e) = self.conn_ref(id) else {
            return;
        };
        if !e.conn.has_events() && e.conn.state() != State::Listen && e.owner != Owner::Orphan {
            return;
        }
        let mut events: Vec<Event> = Vec::new();
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        while let Some(ev) = e.conn.poll_event() {
            // Only these change socket or listener state (readiness is read, not stored);
            // keeping the rest would cost an allocation for almost every segment.
            if matches!(
                ev,
                Event::PeerClosed | Event::Connected | Event::Failed(_) | Event::PathTrouble
            ) {
                events.push(ev);
            }
        }
        for ev in events {
            let Some(e) = self.conn_mut(id) else {
                return;
            };
            match ev {
                Event::PeerClosed => e.peer_closed = true,
                Event::PathTrouble => {
                    let remote = *e.key.remote.ip();
                    self.arp_negative_advice(now, remote);
                }
                Event::Connected => {
                    if let Owner::Listener(l) = e.owner {
                        self.move_to_accept_queue(now, l, id);
                    }
                }
                Event::Failed(err) => {
                    let errno = conn_errno(e, err);
                    match e.owner {
                        Owner::Socket(s) => {
                            if let Some(sock) = self.sockets.slots[s.0].as_mut() {
                                sock.so_error = Some(errno);
                            }
                        }
                        Owner::Listener(l) => {
                            if let Some(Kind::TcpListener(li)) =
                                self.sockets.slots[l.0].as_mut().map(|s| &mut s.kind)
                            {
                                if li.syn_queue.remove(&id) {
                                    if let Some(e) = self.conn_mut(id) {
                                        e.owner = Owner::Orphan;
                                    }
                                }
                            }
                        }
                        Owner::Orphan => {}
                    }
                }
                _ => {}
            }
        }
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        // A RST in SYN-RECEIVED sends a passive connection back to LISTEN (MUST-11): the
        // per-SYN connection is discarded.
        if e.conn.state() == State::Listen {
            if let Owner::Listener(l) = e.owner {
                if let Some(Kind::TcpListener(li)) =
                    self.sockets.slots[l.0].as_mut().map(|s| &mut s.kind)
                {
                    li.syn_queue.remove(&id);
                }
            }
            self.free_conn(id);
            return;
        }
        let orphan_timeout = self.cfg.limits.orphan_fin_wait2_timeout;
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        if e.owner == Owner::Orphan
            && e.conn.state() == State::FinWait2
            && e.orphan_deadline.is_none()
        {
            e.orphan_deadline = Some(now + orphan_timeout);
        }
    }

    /// The listener of a reuseport group (a group of one without SO_REUSEPORT) that takes
    /// a SYN for `key`: Linux's choice, a hash of the 4-tuple scaled to the group's size
    /// (`reciprocal_scale`), so one client's retransmitted SYN and the ACK of a SYN
    /// cookie reach the listener the first SYN did while the group is unchanged. The
    /// hash is keyed by the host's secret: a seed gives the same spread every run.
    /// The listener a segment for `key` with no connection goes to: the one bound to its
    /// address, else to the wildcard address, one of a reuseport group picked by its hash.
    fn listener_for(&self, key: &ConnKey) -> Option<SockId> {
        self.tcp
            .listeners
            .get(&key.local)
            .or_else(|| {
                self.tcp
                    .listeners
                    .get(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, key.local.port()))
            })
            .and_then(|group| self.reuseport_pick(group, key))
    }

    fn reuseport_pick(&self, group: &[SockId], key: &ConnKey) -> Option<SockId> {
        if group.len() <= 1 {
            return group.first().copied();
        }
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&key.remote.ip().octets());
        b[4..6].copy_from_slice(&key.remote.port().to_be_bytes());
        b[6..10].copy_from_slice(&key.local.ip().octets());
        b[10..12].copy_from_slice(&key.local.port().to_be_bytes());
        let hash = u64::from(siphash24(&self.cfg.secret, &b) as u32);
        let at = (hash * group.len() as u64) >> 32;
        group.get(at as usize).copied()
    }

    fn accept_queue_full(&self, l: SockId) -> bool {
        matches!(
            self.sockets.slots[l.0].as_ref().map(|s| &s.kind),
            Some(Kind::TcpListener(li)) if li.accept_queue.len() >= li.backlog
        )
    }

    /// A passive connection reached ESTABLISHED. The final ACK is dropped while the queue is
    /// full (see `tcp_input`), so an overflow here is rare (the backlog shrank by a second
    /// `listen`): the connection is then reset.
    fn move_to_accept_queue(&mut self, now: Instant, l: SockId, id: ConnId) {
        let Some(Kind::TcpListener(li)) = self.sockets.slots[l.0].as_mut().map(|s| &mut s.kind)
        else {
            return;
        };
        li.syn_queue.remove(&id);
        if li.accept_queue.len() < li.backlog {
            li.accept_queue.push_back(id);
            self.counters.tcp.established_queued += 1;
            self.mark_changed(l);
            return;
        }
        self.counters.tcp.accept_queue_overflows += 1;
        self.counters.count_drop(DropReason::TcpAcceptQueueFull);
        if let Some(e) = self.conn_mut(id) {
            e.owner = Owner::Orphan;
            e.conn.abort(now);
            while e.conn.poll_event().is_some() {}
        }
    }

    /// The next segment of connection `id`, written as a whole frame into `buf` (called
    /// from `poll_transmit` for the connection at the head of the dirty queue). The payload
    /// goes from the send buffer straight to its place in the frame, once: the engine
    /// writes it after the headers, whose length it is told to expect (the last segment's,
    /// which a bulk transfer keeps), and the headers are written around it. No packet
    /// buffer, no transmit queue. What cannot go this way (loopback, a neighbour not yet
    /// resolved, a packet to fragment) takes the queued way of `tcp_transmit`.
    pub(super) fn tcp_transmit_into(
        &mut self,
        now: Instant,
        id: ConnId,
        buf: &mut [u8],
    ) -> DirectTx {
        let Some(e) = self.conn_ref(id) else {
            return DirectTx::Done;
        };
        let key = e.key;
        let (src, dst) = (*key.local.ip(), *key.remote.ip());
        let expected = usize::from(e.tx_header_len);
        // Room for a full segment behind the expected headers, so that the buffer never
        // makes a segment shorter than it would be.
        let room = ETH_IP_LEN + expected + e.conn.effective_mss().max(1);
        let cached = e.tx_path.filter(|p| {
            p.path_generation == self.path_generation
                && p.arp_generation == self.arp.generation
                && now < p.until
        });
        if room > buf.len() {
            return DirectTx::Slow;
        }
        let (nic, next_hop) = match cached {
            Some(p) => {
                #[cfg(feature = "invariants")]
                self.check_tx_path(now, dst, &p);
                (usize::from(p.nic), p.next_hop)
            }
            None => {
                if self.is_local_addr(dst) {
                    return DirectTx::Slow;
                }
                let Some(route) = self.route(dst) else {
                    return DirectTx::Slow;
                };
                route
            }
        };
        // A host of more than 65,535 NICs, or a buffer of 4 GiB: the queued way.
        let (Ok(nic_index), Ok(_)) = (u16::try_from(nic), u32::try_from(buf.len())) else {
            return DirectTx::Slow;
        };
        let Some(e) = self.tcp.conns.get_mut(id.0).and_then(Option::as_mut) else {
            return DirectTx::Done;
        };
        let at = ETH_IP_LEN + expected;
        let (head, tail) = buf.split_at_mut(at);
        // Bound by reference: moving the segment out of the `Option` copied it with wide
        // loads straight after the engine's narrow stores, a store-forwarding stall that was
        // 3% of a bulk transfer's time (`perf annotate`).
        let polled = e.conn.poll_transmit(now, tail);
        let Some(seg) = &polled else {
            return DirectTx::Done;
        };
        let header_len = seg.header_len();
        let tcp_len = header_len + seg.payload.len();
        e.tx_header_len = header_len as u8;
        let (ttl, tos) = (e.conn.config().ttl, e.conn.config().tos);
        if header_len == expected {
            seg.emit_header(&mut head[ETH_IP_LEN..], src, dst);
        } else {
            // Options came or went (SACK blocks, say): the payload moves to its place.
            let header = seg.with_payload(&[]);
            let payload_len = seg.payload.len();
            buf.copy_within(at..at + payload_len, ETH_IP_LEN + header_len);
            let (head, tail) = buf.split_at_mut(ETH_IP_LEN + header_len);
            header.with_payload(&tail[..payload_len]).emit_header(
                &mut head[ETH_IP_LEN..],
                src,
                dst,
            );
        }
        self.counters.tcp.segments_out += 1;
        self.ip_ident = self.ip_ident.wrapping_add(1);
        // TCP sets DF (RFC 1191), as `tcp_transmit` does. The MTU is `mtu_for`'s, from the
        // route found above (`dst` is not local: checked above).
        let packet_len = ipv4::HEADER_LEN + tcp_len;
        let (link_mtu, path_mtu) = match cached {
            Some(p) => (p.link_mtu, p.path_mtu),
            None => {
                let link_mtu = self.cfg.interfaces[nic].mtu;
                (link_mtu, self.path_mtu_within(now, dst, link_mtu))
            }
        };
        let dont_frag = packet_len <= path_mtu;
        let ip = ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IpProtocol::TCP,
            payload_len: tcp_len,
            ttl,
            dscp: tos >> 2,
            ecn: 0,
            ident: self.ip_ident,
            dont_frag,
            more_frags: false,
            frag_offset: 0,
            options: ipv4::Ipv4Options::EMPTY,
        };
        ip.emit(&mut ipv4::Packet::new_unchecked(
            &mut buf[14..14 + packet_len],
        ));
        let fits = dont_frag && packet_len <= link_mtu;
        let mac = match cached {
            Some(p) => fits.then_some(p.mac),
            None if fits && !self.is_broadcast_addr(next_hop) => {
                let limits = &self.cfg.limits;
                let delay_ns = limits.arp_delay_first_probe_time_ns;
                let mac = self
                    .arp
                    .resolve(now, nic, next_hop, delay_ns, limits.arp_cache_timeout);
                if mac.is_some() {
                    self.keep_tx_path(now, id, dst, (nic_index, next_hop), (link_mtu, path_mtu));
                }
                mac
            }
            None => None,
        };
        let Some(mac) = mac else {
            // The queued way, from the packet as written.
            let mut packet = self.packet_pool.pop().unwrap_or_default();
            packet.clear();
            packet.extend_from_slice(&buf[14..14 + packet_len]);
            let _ = self.ip_output(now, packet, Origin::Tcp(key));
            return DirectTx::Queued;
        };
        self.counters.ip.packets_out += 1;
        let eth = ethernet::Repr {
            src_addr: self.cfg.interfaces[nic].mac,
            dst_addr: mac,
            vlan: None,
            ethertype: EtherType::IPV4,
        };
        eth.emit(&mut ethernet::Frame::new_unchecked(&mut buf[..14]));
        // Padded to Ethernet's minimum frame (without FCS). Only short frames need it: a
        // fill of unknown length is a call into libc's `memset`, even when empty.
        let len = (14 + packet_len).max(60);
        if len > 14 + packet_len {
            buf[14 + packet_len..len].fill(0);
        }
        DirectTx::Frame {
            nic: nic_index,
            // At most `buf.len()`, which fits (checked above).
            len: len as u32,
        }
    }

    /// Sends one connection's segments now, each written whole into a pooled frame buffer
    /// and queued for `poll_transmit` (the answer to an input, before the next is read);
    /// what cannot go as a frame goes through `ip_output` (`tcp_transmit_packets`).
    pub(super) fn tcp_transmit(&mut self, now: Instant, id: ConnId) {
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        e.in_dirty = false;
        // The payload is copied once here and once into the caller's buffer.
        let frame_len = self.max_frame_len();
        loop {
            let mut frame = self.packet_pool.pop().unwrap_or_default();
            if frame.len() < frame_len {
                // Grown to exactly the frame length: a buffer traded in a little shorter
                // (a link's 1,536-byte slot) grown by doubling took 3,072 bytes, and a
                // receiver that keeps a segment in its frame copies it instead when the
                // frame's allocation is more than twice the payload (`recv_buffer`).
                frame.reserve_exact(frame_len - frame.len());
                frame.resize(frame_len, 0);
            }
            match self.tcp_transmit_into(now, id, &mut frame) {
                DirectTx::Frame { nic, len } => {
                    self.push_frame(usize::from(nic), frame, len as usize)
                }
                DirectTx::Queued => self.recycle_packet(frame),
                DirectTx::Done => {
                    self.recycle_packet(frame);
                    break;
                }
                DirectTx::Slow => {
                    self.recycle_packet(frame);
                    self.tcp_transmit_packets(now, id);
                    break;
                }
            }
        }
        self.tcp_transmit_done(now, id);
    }

    /// Keeps the path a segment of `id` just took (see `TxPath`), its neighbour just
    /// resolved.
    fn keep_tx_path(
        &mut self,
        now: Instant,
        id: ConnId,
        dst: Ipv4Addr,
        (nic, next_hop): (u16, Ipv4Addr),
        (link_mtu, path_mtu): (usize, usize),
    ) {
        let Some((mac, quiet_until)) = self.arp.quiet_until(usize::from(nic), next_hop) else {
            return;
        };
        // A learned path MTU lapses at its deadline; a lapsed one stays ignored until
        // replaced, which counts as a change.
        let pmtu_until = match self.pmtu.get(&dst) {
            Some(&(_, expires)) if expires > now => expires,
            _ => Instant::MAX,
        };
        let until = quiet_until.min(pmtu_until);
        if now >= until {
            return;
        }
        let path = TxPath {
            path_generation: self.path_generation,
            arp_generation: self.arp.generation,
            until,
            nic,
            next_hop,
            link_mtu,
            path_mtu,
            mac,
        };
        if let Some(e) = self.conn_mut(id) {
            e.tx_path = Some(path);
        }
    }

    /// A cached path gives what the lookups it saves would (the host invariants).
    #[cfg(feature = "invariants")]
    fn check_tx_path(&self, now: Instant, dst: Ipv4Addr, p: &TxPath) {
        let nic = usize::from(p.nic);
        let link_mtu = self.cfg.interfaces.get(nic).map(|i| i.mtu);
        let neighbour = self.arp.quiet_until(nic, p.next_hop);
        crate::tcp::invariant!(
            !self.is_local_addr(dst)
                && self.route(dst) == Some((nic, p.next_hop))
                && link_mtu == Some(p.link_mtu)
                && self.path_mtu_within(now, dst, p.link_mtu) == p.path_mtu
                && !self.is_broadcast_addr(p.next_hop)
                && neighbour.is_some_and(|(mac, until)| mac == p.mac && now < until),
            "a connection's cached path is what the routes, path MTUs and neighbours say",
            "to {dst} at {now}: cached {p:?}, route {:?}, link MTU {link_mtu:?}, neighbour {neighbour:?}",
            self.route(dst)
        );
    }

    /// `tcp_transmit` for what cannot be written as a frame (loopback, no route): each
    /// segment built as an IP packet for `ip_output`.
    fn tcp_transmit_packets(&mut self, now: Instant, id: ConnId) {
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        let key = e.key;
        // The engine never sends more than its effective MSS; the buffer grows to it once,
        // so that a host never used for bulk data does not carry 64 KiB it never touches.
        let need = e.conn.effective_mss().max(1);
        let (ttl, tos) = (e.conn.config().ttl, e.conn.config().tos);
        if self.tcp.scratch.len() < need {
            self.tcp.scratch.resize(need, 0);
        }
        // Looked up with the first segment: most calls (after a read, say) send nothing.
        let mut mtu = None;
        // Taken for the loop, so that a segment borrowing it leaves `self` free.
        let mut scratch = core::mem::take(&mut self.tcp.scratch);
        while let Some(e) = self.tcp.conns.get_mut(id.0).and_then(Option::as_mut) {
            let Some(seg) = e.conn.poll_transmit(now, &mut scratch) else {
                break;
            };
            // The pair of the scratch buffer's size: the engine never sends more than its
            // effective MSS.
            crate::tcp::invariant!(
                seg.payload.len() <= need,
                "a segment fits the buffer sized for it",
                "{} bytes from {key:?}, effective MSS {need}",
                seg.payload.len()
            );
            self.ip_ident = self.ip_ident.wrapping_add(1);
            // TCP sets DF (RFC 1191). A segment larger than a path MTU learned after the
            // engine chose its MSS is sent without DF, to be fragmented, rather than lost.
            let mtu = *mtu.get_or_insert_with(|| self.mtu_for(now, *key.remote.ip()));
            let df = seg.buffer_len() + ipv4::HEADER_LEN <= mtu;
            let buf = self.packet_pool.pop().unwrap_or_default();
            let packet = tcp_packet(buf, self.ip_ident, (ttl, tos), df, key, &seg);
            self.counters.tcp.segments_out += 1;
            let _ = self.ip_output(now, packet, Origin::Tcp(key));
        }
        self.tcp.scratch = scratch;
    }

    /// After a connection has sent all it had: its events, its end if it closed, its timer.
    pub(super) fn tcp_transmit_done(&mut self, now: Instant, id: ConnId) {
        self.conn_events(now, id);
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        e.in_dirty = false;
        if e.conn.state() == State::Closed {
            let owner = e.owner;
            self.unlink_conn(id);
            match owner {
                Owner::Orphan => self.free_conn(id),
                Owner::Listener(l) => {
                    let queued = match self.sockets.slots[l.0].as_ref().map(|s| &s.kind) {
                        Some(Kind::TcpListener(li)) => li.accept_queue.contains(&id),
                        _ => false,
                    };
                    if !queued {
                        self.free_conn(id);
                    }
                }
                Owner::Socket(_) => {}
            }
        }
        self.update_timer(id);
    }

    pub(super) fn tcp_handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(&(t, id)) = self.tcp.timers.first() {
            if t > now {
                break;
            }
            self.tcp.timers.pop_first();
            let Some(e) = self.tcp.conns.get_mut(id.0).and_then(Option::as_mut) else {
                continue;
            };
            // A connection has one entry, at `timer_at` (`update_timer` and `unlink_conn`
            // keep it so).
            debug_assert_eq!(e.timer_at, Some(t));
            e.timer_at = None;
            // Entries fire early (see `update_timer`): re-file one whose deadline moved.
            match Self::conn_deadline(e) {
                Some(d) if d <= now => due.push(id),
                Some(d) => {
                    // Later than `now`, so this loop will not meet it again.
                    e.timer_at = Some(d);
                    self.tcp.timers.insert((d, id));
                }
                None => {}
            }
        }
        for id in due {
            let Some(e) = self.conn_mut(id) else {
                continue;
            };
            if e.orphan_deadline.is_some_and(|d| d <= now) && e.conn.state() == State::FinWait2 {
                e.orphan_deadline = None;
                e.conn.abort(now);
                self.counters.tcp.orphans_timed_out += 1;
            } else {
                if e.orphan_deadline.is_some_and(|d| d <= now) {
                    // The connection left FIN-WAIT-2 (a FIN came: TIME-WAIT) before the
                    // orphan timeout: the deadline is moot. Left in place it would stay due
                    // forever and spin the host at one instant (found by `sansnet sweep`).
                    e.orphan_deadline = None;
                }
                e.conn.handle_timeout(now);
            }
            self.sync_conn(now, id);
        }
    }

    /// A connection's configuration: one of the host's recent ones when equal (the
    /// connections of one listener, or a client's to one server, share one: see
    /// `Connection`'s `cfg`), else `cfg`, kept among them.
    fn shared_config(&mut self, cfg: engine::Config) -> Arc<engine::Config> {
        match self.recent_config(&cfg) {
            Some(shared) => shared,
            None => self.keep_config(Arc::new(cfg)),
        }
    }

    /// Before socket option `opt` is applied to connection `id`: gives the connection its
    /// configuration with `opt` applied, one of the host's recent ones when equal, so that
    /// the engine's setter finds it in place and makes no copy of its own (a server that
    /// sets `TCP_NODELAY` on every accepted connection keeps one configuration for them,
    /// found without an allocation).
    pub(super) fn share_option_config(&mut self, id: ConnId, opt: SockOpt) {
        // Buffer sizes and the rest apply to connections made later.
        if !matches!(
            opt,
            SockOpt::NoDelay(_)
                | SockOpt::KeepAlive(_)
                | SockOpt::UserTimeout(_)
                | SockOpt::Ttl(_)
                | SockOpt::Tos(_)
                | SockOpt::QuickAck(_)
        ) {
            return;
        }
        let Some(current) = self.conn_ref(id).map(|e| e.conn.config_shared()) else {
            return;
        };
        let mut wanted = engine::Config::clone(current);
        match opt {
            SockOpt::NoDelay(on) => wanted.nagle = !on,
            SockOpt::KeepAlive(ka) => wanted.keep_alive = ka,
            SockOpt::UserTimeout(t) => wanted.user_timeout = t,
            SockOpt::Ttl(ttl) => wanted.ttl = ttl,
            SockOpt::Tos(tos) => wanted.tos = tos,
            SockOpt::QuickAck(on) => wanted.delayed_ack = self.cfg.tcp.delayed_ack && !on,
            _ => {}
        }
        if wanted == **current {
            return;
        }
        let shared = self.shared_config(wanted);
        if let Some(e) = self.conn_mut(id) {
            e.conn.use_config(shared);
        }
    }

    /// The recent configuration equal to `cfg`, moved to the front.
    fn recent_config(&mut self, cfg: &engine::Config) -> Option<Arc<engine::Config>> {
        let recent = &mut self.tcp.recent_configs;
        let at = recent.iter().position(|c| c.as_deref() == Some(cfg))?;
        recent[..=at].rotate_right(1);
        recent[0].clone()
    }

    /// `cfg` first among the recent configurations (the least recent forgotten).
    fn keep_config(&mut self, cfg: Arc<engine::Config>) -> Arc<engine::Config> {
        let recent = &mut self.tcp.recent_configs;
        recent.rotate_right(1);
        recent[0] = Some(cfg.clone());
        cfg
    }

    /// The per-connection configuration: the host template, the socket's options, and an
    /// MSS that fits the route's MTU (RFC 9293 section 3.7.1, RFC 6691).
    fn conn_config(&self, now: Instant, opts: &SocketOptions, remote: Ipv4Addr) -> engine::Config {
        let mut c = self.cfg.tcp.clone();
        c.secret = self.cfg.secret;
        if let Some(n) = opts.send_buffer {
            c.send_buffer_bytes = n;
        }
        if let Some(n) = opts.recv_buffer {
            c.recv_buffer_bytes = n;
            c.reassembly_ranges = n / 2920 + 4;
        }
        c.nagle = c.nagle && !opts.nodelay;
        if opts.keep_alive.is_some() {
            c.keep_alive = opts.keep_alive;
        }
        if opts.user_timeout.is_some() {
            c.user_timeout = opts.user_timeout;
        }
        if let Some(ttl) = opts.ttl {
            c.ttl = ttl;
        }
        c.delayed_ack = c.delayed_ack && !opts.quickack;
        c.tos = opts.tos;
        let mtu = self.mtu_for(now, remote);
        let limit = mtu.saturating_sub(40).clamp(88, usize::from(u16::MAX)) as u16;
        c.mss = c.mss.min(limit);
        c
    }

    // ------------------------------------------------------------------------------------
    // Input

    pub(super) fn tcp_input(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        broadcast: bool,
    ) {
        if broadcast {
            return self.drop_packet(DropReason::TcpBroadcast);
        }
        let Ok(packet) = wire_tcp::Packet::new_checked(payload) else {
            return self.drop_packet(DropReason::TcpMalformed);
        };
        // Matched by reference: see `tcp_transmit_into` (the same stall, 0.5%).
        let parsed = wire_tcp::Repr::parse(&packet, ip.src_addr, ip.dst_addr, ChecksumMode::Verify);
        let seg = match &parsed {
            Ok(s) => s,
            Err(crate::wire::Error::BadChecksum) => {
                return self.drop_packet(DropReason::TcpBadChecksum)
            }
            Err(_) => return self.drop_packet(DropReason::TcpMalformed),
        };
        self.counters.tcp.segments_in += 1;
        let key = ConnKey {
            local: SocketAddrV4::new(ip.dst_addr, seg.dst_port),
            remote: SocketAddrV4::new(ip.src_addr, seg.src_port),
        };
        let mut iss_hint = None;
        let found = match self.tcp.last_tuple {
            Some((last, id)) if last == key => Some(id),
            _ => {
                let found = self.tcp.tuples.get(&key).copied();
                if let Some(id) = found {
                    self.tcp.last_tuple = Some((key, id));
                }
                found
            }
        };
        if let Some(id) = found {
            let Some(e) = self.conn_mut(id) else {
                return;
            };
            // A new SYN to a connection in TIME-WAIT, above its sequence space, reopens it
            // (RFC 1122 section 4.2.2.13): the old incarnation goes, and the new ISN is
            // above the old sequence space. Only a SYN alone: a SYN+FIN opens nothing (the
            // listener drops it), so it must not end TIME-WAIT either; the connection
            // answers it with RFC 5961's challenge ACK as it does any SYN.
            let pure_syn = seg.flags
                & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST | TcpFlags::FIN)
                == TcpFlags::SYN;
            // The listener is looked up only where it matters: most segments belong to an
            // established connection and never need it.
            let state = e.conn.state();
            let reopen = state == State::TimeWait && pure_syn && seg.seq_number > e.conn.rcv_nxt();
            let listener = if reopen || state == State::SynReceived {
                self.listener_for(&key)
            } else {
                None
            };
            let Some(e) = self.conn_mut(id) else {
                return;
            };
            if reopen && listener.is_some() {
                iss_hint = Some(e.conn.snd_nxt() + 250_000);
                if e.owner == Owner::Orphan {
                    self.free_conn(id);
                } else {
                    self.unlink_conn(id);
                }
            } else {
                // The ACK that would complete a passive handshake while the listener's accept
                // queue is full is dropped, as Linux does (tcp_abort_on_overflow = 0): the
                // connection stays in SYN-RECEIVED, its SYN-ACK is retransmitted, and the
                // client's answering ACK gets in once `accept` has made room.
                if e.conn.state() == State::SynReceived
                    && seg.flags & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::ACK
                    && seg.ack_number == e.conn.snd_nxt()
                {
                    if let Owner::Listener(l) = e.owner {
                        if self.accept_queue_full(l) {
                            self.counters.tcp.accept_queue_overflows += 1;
                            return self.drop_packet(DropReason::TcpAcceptQueueFull);
                        }
                    }
                }
                // A passive SYN-RECEIVED connection accepts only the ACK of its own SYN-ACK.
                // With SYN cookies one SYN can be answered twice: statelessly while the SYN
                // queue was full, and by this connection when a retransmission of the SYN
                // found room. A client that completed the handshake with the cookie sends
                // ACKs this connection finds unacceptable (RFC 9293 section 3.10.7.4: it
                // would answer with RST <SEQ=SEG.ACK>, which resets the client). The
                // listener judges them first, as it would with no connection here (Linux
                // hands them back to the listener too): if SEG.ACK - 1 is our cookie for
                // this connection's IRS, the client's connection is the cookie's, and it
                // replaces this one. The IRS is known here, so this holds even when the
                // client's first segments were lost.
                if let Some(l) = listener.filter(|_| self.cfg.limits.syn_cookies) {
                    let Some(e) = self.conn_ref(id) else {
                        return;
                    };
                    if e.conn.state() == State::SynReceived
                        && e.owner == Owner::Listener(l)
                        && seg.flags & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST)
                            == TcpFlags::ACK
                        && seg.ack_number != e.conn.iss() + 1
                    {
                        let irs = e.conn.irs();
                        if self.cookie_ack(now, l, key, seg, irs, Some(id)) {
                            return;
                        }
                    }
                }
                // The frame the segment came in, if the caller let the host keep it.
                let frame = self.rx_frame.take();
                let Some(e) = self.conn_mut(id) else {
                    return;
                };
                e.conn.handle_segment_in(now, seg, frame.as_ref());
                // What answers this very segment goes out before the next is read, as a
                // kernel answers per packet: duplicate ACKs keep the peer's loss detection
                // as it would be, and data an ACK lets out leaves before the next ACK is
                // read. Only the ACK of in-order data after the burst's first waits for
                // `poll_transmit`, after the rest of the burst, and covers it all (up to
                // 64 KiB), as Linux acknowledges a GRO-merged packet once; and, with SACK,
                // the ACK of every other segment of an out-of-order run in the burst
                // (`Connection::must_answer_now`). (`tcp_transmit` does what `sync_conn`
                // does: events, then the timer.)
                if e.conn.must_answer_now() {
                    self.tcp_transmit(now, id);
                } else {
                    self.sync_conn(now, id);
                }
                return;
            }
        }
        match self.listener_for(&key) {
            Some(l) => self.listener_input(now, l, key, seg, iss_hint),
            None => {
                self.drop_packet(DropReason::TcpNoSocket);
                self.send_rst(now, key, seg);
            }
        }
    }

    /// The RST that RFC 9293 section 3.10.7.1 sends for a segment to no connection.
    fn send_rst(&mut self, now: Instant, key: ConnKey, seg: &wire_tcp::Repr<'_>) {
        if seg.flags.contains(TcpFlags::RST) {
            return;
        }
        let (flags, seq, ack) = if seg.flags.contains(TcpFlags::ACK) {
            (TcpFlags::RST, seg.ack_number, SeqNumber(0))
        } else {
            (
                TcpFlags::RST | TcpFlags::ACK,
                SeqNumber(0),
                seg.seq_number + seg.segment_len(),
            )
        };
        let rst = wire_tcp::Repr {
            src_port: key.local.port(),
            dst_port: key.remote.port(),
            flags,
            seq_number: seq,
            ack_number: ack,
            ..wire_tcp::Repr::default()
        };
        let ident = self.next_ident();
        let packet = tcp_packet(Vec::new(), ident, (self.cfg.tcp.ttl, 0), true, key, &rst);
        self.counters.tcp.rsts_out += 1;
        self.counters.tcp.segments_out += 1;
        let _ = self.ip_output(now, packet, Origin::None);
    }

    /// A segment for a listener (RFC 9293 section 3.10.7.2), with the host's queues.
    fn listener_input(
        &mut self,
        now: Instant,
        l: SockId,
        key: ConnKey,
        seg: &wire_tcp::Repr<'_>,
        iss_hint: Option<SeqNumber>,
    ) {
        let flags = seg.flags;
        if flags.contains(TcpFlags::RST) {
            return self.drop_packet(DropReason::TcpListenNotSyn);
        }
        if flags.contains(TcpFlags::ACK) {
            // RFC 4987 section 3.6: the ACK that completes a cookie handshake carries the
            // client's ISN + 1 in SEG.SEQ and our cookie + 1 in SEG.ACK, and nothing else
            // tells us the client's ISN. When that ACK and the data after it were lost
            // (dropped while the accept queue was full, say), the next segment to arrive
            // has SEG.SEQ = ISN + 1 + what the client sent since; the cookie, a MAC over
            // the ISN, does not validate, and it must not: rebuilt from that SEG.SEQ,
            // RCV.NXT would skip the lost bytes, which the client then retransmits as
            // "old" data that is never delivered. Linux makes the same assumption
            // (`__cookie_v4_check` takes `ntohl(th->seq) - 1` as the ISN) and answers such
            // a segment as its listener does. So do we: it is an ACK to a connection in
            // LISTEN, and RFC 9293 section 3.10.7.2 says "Any acknowledgment is bad if it
            // arrives on a connection still in the LISTEN state. An acceptable reset
            // segment should be formed for any arriving ACK-bearing segment": the client
            // is reset. A client that sends first and loses its first segments to a full
            // accept queue is the price of cookies, which is why they are only used while
            // the SYN queue is full.
            if !flags.contains(TcpFlags::SYN)
                && self.cfg.limits.syn_cookies
                && self.cookie_ack(now, l, key, seg, seg.seq_number - 1, None)
            {
                return;
            }
            self.drop_packet(DropReason::TcpListenNotSyn);
            return self.send_rst(now, key, seg);
        }
        if !flags.contains(TcpFlags::SYN) || flags.contains(TcpFlags::FIN) {
            return self.drop_packet(DropReason::TcpListenNotSyn);
        }
        let sock = self.socket_ref(l);
        let opts = sock.opts;
        let Kind::TcpListener(li) = &sock.kind else {
            return;
        };
        if li.accept_queue.len() >= li.backlog {
            // As Linux does: no new handshakes while nobody accepts.
            return self.drop_packet(DropReason::TcpAcceptQueueFull);
        }
        let syn_full = li.syn_queue.len() >= li.backlog;
        let table_full = self.tcp.conn_count >= self.cfg.limits.max_connections;
        if syn_full || table_full {
            if self.cfg.limits.syn_cookies {
                return self.send_cookie_syn_ack(now, &opts, key, seg);
            }
            return self.drop_packet(if syn_full {
                DropReason::TcpSynQueueFull
            } else {
                DropReason::TcpConnTableFull
            });
        }
        let cfg = self.conn_config(now, &opts, *key.remote.ip());
        let cfg = self.shared_config(cfg);
        let mut conn = match iss_hint {
            Some(iss) => Connection::listen_with_iss(now, cfg, key.local, iss),
            None => Connection::listen(now, cfg, key.local),
        };
        conn.set_remote(key.remote);
        conn.handle_segment(now, seg);
        let id = self.insert_conn(conn, Owner::Listener(l));
        if let Kind::TcpListener(li) = &mut self.socket_mut(l).kind {
            li.syn_queue.insert(id);
        }
        self.counters.tcp.passive_opens += 1;
        self.sync_conn(now, id);
    }

    // ------------------------------------------------------------------------------------
    // SYN cookies (RFC 4987 section 3.6)

    fn cookie_key(&self) -> SecretKey {
        let a = siphash24(&self.cfg.secret, b"syn cookie key a");
        let b = siphash24(&self.cfg.secret, b"syn cookie key b");
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&a.to_le_bytes());
        k[8..].copy_from_slice(&b.to_le_bytes());
        SecretKey(k)
    }

    fn cookie_hash(&self, key: ConnKey, irs: SeqNumber, tick: u64) -> u32 {
        let mut b = [0u8; 24];
        b[..4].copy_from_slice(&key.local.ip().octets());
        b[4..6].copy_from_slice(&key.local.port().to_be_bytes());
        b[6..10].copy_from_slice(&key.remote.ip().octets());
        b[10..12].copy_from_slice(&key.remote.port().to_be_bytes());
        b[12..16].copy_from_slice(&irs.0.to_be_bytes());
        b[16..24].copy_from_slice(&tick.to_be_bytes());
        (siphash24(&self.cookie_key(), &b) as u32) & 0x00ff_ffff
    }

    /// The cookie ISS: 5 bits of a 64-second counter, 3 bits of MSS, 24 bits of MAC.
    fn cookie(&self, now: Instant, key: ConnKey, irs: SeqNumber, mss_index: usize) -> u32 {
        let tick = now.as_nanos() / 1_000_000_000 / COOKIE_TICK_SECS;
        ((tick as u32 & 31) << 27) | ((mss_index as u32) << 24) | self.cookie_hash(key, irs, tick)
    }

    /// The MSS index a cookie encodes, if it is ours and fresh.
    fn check_cookie(
        &self,
        now: Instant,
        key: ConnKey,
        irs: SeqNumber,
        cookie: u32,
    ) -> Option<usize> {
        let tick = now.as_nanos() / 1_000_000_000 / COOKIE_TICK_SECS;
        let t5 = u64::from(cookie >> 27);
        [tick, tick.wrapping_sub(1)]
            .into_iter()
            .filter(|t| t & 31 == t5)
            .any(|t| self.cookie_hash(key, irs, t) == cookie & 0x00ff_ffff)
            .then_some(((cookie >> 24) & 7) as usize)
    }

    /// The connection a cookie SYN describes: options the cookie cannot carry (window
    /// scaling, SACK, timestamps) are not negotiated, as with classic SYN cookies.
    fn cookie_conn(
        &self,
        now: Instant,
        opts: &SocketOptions,
        key: ConnKey,
        cookie: u32,
        syn: &wire_tcp::Repr<'_>,
    ) -> Connection {
        let mut cfg = self.conn_config(now, opts, *key.remote.ip());
        cfg.window_scaling = false;
        cfg.timestamps = false;
        cfg.sack = false;
        let mut conn = Connection::listen_with_iss(now, cfg, key.local, SeqNumber(cookie));
        conn.set_remote(key.remote);
        conn.handle_segment(now, syn);
        conn
    }

    fn cookie_syn(seg: &wire_tcp::Repr<'_>, mss_index: usize) -> wire_tcp::Repr<'static> {
        wire_tcp::Repr {
            src_port: seg.src_port,
            dst_port: seg.dst_port,
            flags: TcpFlags::SYN,
            seq_number: seg.seq_number,
            window_len: seg.window_len,
            max_seg_size: Some(COOKIE_MSS[mss_index]),
            ..wire_tcp::Repr::default()
        }
    }

    fn send_cookie_syn_ack(
        &mut self,
        now: Instant,
        opts: &SocketOptions,
        key: ConnKey,
        seg: &wire_tcp::Repr<'_>,
    ) {
        let peer_mss = seg.max_seg_size.unwrap_or(536);
        let mss_index = COOKIE_MSS.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
        let cookie = self.cookie(now, key, seg.seq_number, mss_index);
        if cookie == 0 {
            // Zero means "choose one" to the engine; a 2^-32 event, dropped.
            return self.drop_packet(DropReason::TcpSynQueueFull);
        }
        let syn = Self::cookie_syn(seg, mss_index);
        let mut conn = self.cookie_conn(now, opts, key, cookie, &syn);
        let Some(syn_ack) = conn.poll_transmit(now, &mut self.tcp.scratch) else {
            return;
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let packet = tcp_packet(
            Vec::new(),
            self.ip_ident,
            (conn.config().ttl, conn.config().tos),
            true,
            key,
            &syn_ack,
        );
        self.counters.tcp.syn_cookies_sent += 1;
        self.counters.tcp.segments_out += 1;
        let _ = self.ip_output(now, packet, Origin::None);
    }

    /// An ACK that may return one of our SYN cookies, for a SYN whose sequence number was
    /// `irs`: if the cookie is valid, rebuild the connection and return true (also when the
    /// ACK is dropped for want of room: the client retransmits). `replaces` is a
    /// SYN-RECEIVED connection of the same 4-tuple, answering the same SYN, that the
    /// rebuilt connection supersedes (see `tcp_input`).
    fn cookie_ack(
        &mut self,
        now: Instant,
        l: SockId,
        key: ConnKey,
        seg: &wire_tcp::Repr<'_>,
        irs: SeqNumber,
        replaces: Option<ConnId>,
    ) -> bool {
        let cookie = (seg.ack_number - 1).0;
        let Some(mss_index) = self.check_cookie(now, key, irs, cookie) else {
            if replaces.is_none() {
                self.counters.count_drop(DropReason::TcpBadCookie);
            }
            return false;
        };
        let sock = self.socket_ref(l);
        let opts = sock.opts;
        let Kind::TcpListener(li) = &sock.kind else {
            return false;
        };
        let conns = self.tcp.conn_count - usize::from(replaces.is_some());
        if li.accept_queue.len() >= li.backlog || conns >= self.cfg.limits.max_connections {
            // The client retransmits its ACK or data; maybe there is room then.
            self.drop_packet(DropReason::TcpAcceptQueueFull);
            return true;
        }
        let syn = wire_tcp::Repr {
            seq_number: irs,
            ..Self::cookie_syn(seg, mss_index)
        };
        let mut conn = self.cookie_conn(now, &opts, key, cookie, &syn);
        // The SYN-ACK was sent statelessly already.
        while conn.poll_transmit(now, &mut self.tcp.scratch).is_some() {}
        conn.handle_segment(now, seg);
        if !conn.state().is_synchronized() {
            return false;
        }
        if let Some(old) = replaces {
            if let Kind::TcpListener(li) = &mut self.socket_mut(l).kind {
                li.syn_queue.remove(&old);
            }
            self.free_conn(old);
            self.counters.tcp.syn_recv_replaced_by_cookie += 1;
        }
        let id = self.insert_conn(conn, Owner::Listener(l));
        self.counters.tcp.syn_cookies_accepted += 1;
        self.counters.tcp.passive_opens += 1;
        self.sync_conn(now, id);
        true
    }

    // ------------------------------------------------------------------------------------
    // ICMP errors and ARP failures

    /// ARP failed for a packet of `key` (or an equivalent network error).
    pub(super) fn tcp_network_error(
        &mut self,
        now: Instant,
        key: ConnKey,
        errno: Errno,
        hard: bool,
    ) {
        let Some(&id) = self.tcp.tuples.get(&key) else {
            return;
        };
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        if hard && matches!(e.conn.state(), State::SynSent) {
            e.net_error = Some(errno);
            e.conn.abort(now);
            self.counters.tcp.aborted_by_network += 1;
            self.sync_conn(now, id);
        } else {
            e.soft_error = Some(errno);
            if let Owner::Socket(s) = e.owner {
                self.mark_changed(s);
            }
        }
    }

    /// An ICMP error quoting one of our segments (RFC 9293 section 3.9.2.2, RFC 5927).
    pub(super) fn tcp_icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: u32,
        err: NetError,
    ) {
        let key = ConnKey { local, remote };
        let Some(&id) = self.tcp.tuples.get(&key) else {
            return self.drop_packet(DropReason::IcmpErrorNoMatch);
        };
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        // RFC 5927 section 4.1: the quoted sequence number must be one we have in flight.
        let seq = SeqNumber(seq);
        let una = e.conn.snd_una();
        let in_flight = e.conn.send_queue_len() + 2;
        if !(seq >= una && seq < una + in_flight) {
            return self.drop_packet(DropReason::IcmpErrorBadSeq);
        }
        let (errno, hard) = match err {
            NetError::Soft(errno) => (errno, false),
            NetError::Unreachable(code) => match code {
                // Protocol and port unreachable are hard errors (RFC 1122 section
                // 4.2.3.9, RFC 9293 SHLD-26); fragmentation needed feeds PMTUD instead.
                DstUnreachable::PROTO_UNREACHABLE | DstUnreachable::PORT_UNREACHABLE => {
                    (Errno::ECONNREFUSED, true)
                }
                DstUnreachable::FRAG_REQUIRED => {
                    // The host has learned the new path MTU (RFC 1191); the connection
                    // must shrink its segments, or it goes on sending full-sized ones
                    // without DF, fragmented by the router, for its whole life.
                    let mtu = self.mtu_for(now, *remote.ip()).min(usize::from(u16::MAX));
                    if let Some(e) = self.conn_mut(id) {
                        e.conn.set_path_mtu(now, mtu as u16);
                    }
                    self.sync_conn(now, id);
                    return;
                }
                DstUnreachable::NET_UNREACHABLE
                | DstUnreachable::DST_NET_UNKNOWN
                | DstUnreachable::NET_PROHIBITED
                | DstUnreachable::NET_UNREACHABLE_FOR_TOS => (Errno::ENETUNREACH, false),
                _ => (Errno::EHOSTUNREACH, false),
            },
        };
        // Hard errors abort only a connection still in its handshake (RFC 5927 section
        // 4.1: in the synchronized states they are treated as soft, as Linux does).
        let handshaking = matches!(e.conn.state(), State::SynSent | State::SynReceived);
        if hard && handshaking {
            e.net_error = Some(errno);
            e.conn.abort(now);
            self.counters.tcp.aborted_by_network += 1;
            self.sync_conn(now, id);
        } else {
            e.soft_error = Some(errno);
        }
    }

    // ------------------------------------------------------------------------------------
    // Socket calls

    /// `listen(2)`: the socket accepts connections; at most `backlog` (clamped to
    /// `1..=max_backlog`) wait in each of the SYN queue and the accept queue.
    pub fn listen(&mut self, fd: Fd, backlog: usize) -> Result<(), Errno> {
        let id = self.sock(fd)?;
        let backlog = backlog.clamp(1, self.cfg.limits.max_backlog.max(1));
        match &mut self.socket_mut(id).kind {
            Kind::TcpIdle => {}
            Kind::TcpListener(l) => {
                l.backlog = backlog;
                return Ok(());
            }
            Kind::Udp(_) => return Err(Errno::EOPNOTSUPP),
            Kind::TcpConn { .. } => return Err(Errno::EINVAL),
        }
        let local = self.autobind(id, Ipv4Addr::UNSPECIFIED)?;
        // A second listener on one address is a reuseport group member only if it and
        // every listener already there set SO_REUSEPORT (bind checked the same).
        let reuse_port = self.socket_ref(id).opts.reuse_port;
        if let Some(group) = self.tcp.listeners.get(&local) {
            let shared = reuse_port
                && group
                    .iter()
                    .all(|&other| self.socket_ref(other).opts.reuse_port);
            if !shared {
                return Err(Errno::EADDRINUSE);
            }
        }
        self.tcp.listeners.entry(local).or_default().push(id);
        self.socket_mut(id).kind = Kind::TcpListener(Listener {
            backlog,
            ..Listener::default()
        });
        Ok(())
    }

    /// `accept(2)`: the oldest established connection and its peer, or EAGAIN.
    pub fn accept(&mut self, now: Instant, fd: Fd) -> Result<(Fd, SocketAddrV4), Errno> {
        let _ = now;
        let l = self.sock(fd)?;
        let sock = self.socket_ref(l);
        let opts = sock.opts;
        let Kind::TcpListener(li) = &sock.kind else {
            return Err(Errno::EINVAL);
        };
        let Some(&conn) = li.accept_queue.front() else {
            return Err(Errno::EAGAIN);
        };
        let Some(e) = self.conn_ref(conn) else {
            return Err(Errno::EAGAIN);
        };
        let (local, peer) = (e.conn.local(), e.conn.remote());
        // A connection reset (or timed out) while it waited in the accept queue is still
        // accepted, with its error pending, as on Linux: `SO_ERROR` says so once, as it
        // does for a socket whose connection failed after the accept.
        let so_error = e.conn.error().map(|err| conn_errno(e, err));
        let new = self.new_socket(Socket {
            ty: super::SocketType::Stream,
            refs: 1,
            inode: 0,
            opts,
            so_error,
            local: Some(local),
            bound: false,
            read_shut: false,
            write_shut: false,
            kind: Kind::TcpConn {
                id: conn,
                connect_reported: true,
            },
        })?;
        if let Kind::TcpListener(li) = &mut self.socket_mut(l).kind {
            li.accept_queue.pop_front();
        }
        let sid = self.sock(new)?;
        if let Some(e) = self.conn_mut(conn) {
            e.owner = Owner::Socket(sid);
        }
        Ok((new, peer))
    }

    /// An ephemeral port for a connection from `local_ip` to `remote` (RFC 6056 section
    /// 3.3.3, algorithm 3: a keyed hash of the destination picks where the search starts,
    /// a global counter moves it), never one whose 4-tuple is live.
    fn ephemeral_connect_port(
        &mut self,
        local_ip: Ipv4Addr,
        remote: SocketAddrV4,
    ) -> Result<u16, Errno> {
        let first = u32::from(self.cfg.limits.ephemeral_port_first);
        let last = u32::from(self.cfg.limits.ephemeral_port_last).max(first);
        let count = last - first + 1;
        let mut b = [0u8; 11];
        b[0] = b'P';
        b[1..5].copy_from_slice(&local_ip.octets());
        b[5..9].copy_from_slice(&remote.ip().octets());
        b[9..11].copy_from_slice(&remote.port().to_be_bytes());
        let offset = siphash24(&self.cfg.secret, &b) as u32;
        for _ in 0..count {
            let port = (first + offset.wrapping_add(self.tcp.next_ephemeral) % count) as u16;
            self.tcp.next_ephemeral = self.tcp.next_ephemeral.wrapping_add(1);
            let key = ConnKey {
                local: SocketAddrV4::new(local_ip, port),
                remote,
            };
            let bound = self.tcp.binds.get(&port).is_some_and(|v| {
                v.iter()
                    .any(|&(ip, _)| ip == local_ip || ip.is_unspecified())
            });
            if !bound && !self.tcp.tuples.contains_key(&key) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    pub(super) fn tcp_connect(
        &mut self,
        now: Instant,
        sid: SockId,
        addr: SocketAddrV4,
    ) -> Result<(), Errno> {
        let s = self.socket_mut(sid);
        match s.kind {
            Kind::TcpIdle => {}
            Kind::TcpListener(_) => return Err(Errno::EINVAL),
            Kind::TcpConn {
                id,
                ref mut connect_reported,
            } => {
                if let Some(e) = s.so_error.take() {
                    return Err(e);
                }
                let reported = *connect_reported;
                let Some(e) = self.conn_ref(id) else {
                    return Err(Errno::ENOTCONN);
                };
                if let Some(err) = e.conn.error() {
                    return Err(conn_errno(e, err));
                }
                return match e.conn.state() {
                    State::SynSent | State::SynReceived => Err(Errno::EINPROGRESS),
                    State::Closed => Err(Errno::ENOTCONN),
                    _ if !reported => {
                        if let Kind::TcpConn {
                            connect_reported, ..
                        } = &mut self.socket_mut(sid).kind
                        {
                            *connect_reported = true;
                        }
                        Ok(())
                    }
                    _ => Err(Errno::EISCONN),
                };
            }
            Kind::Udp(_) => return Err(Errno::EOPNOTSUPP),
        }
        let dst = if addr.ip().is_unspecified() {
            Ipv4Addr::LOCALHOST
        } else {
            *addr.ip()
        };
        if addr.port() == 0 {
            return Err(Errno::ECONNREFUSED);
        }
        if dst.is_broadcast() || dst.is_multicast() || self.is_broadcast_addr(dst) {
            return Err(Errno::ENETUNREACH);
        }
        let remote = SocketAddrV4::new(dst, addr.port());
        let bound = self.socket_ref(sid).local;
        let local_ip = match bound {
            Some(a) if !a.ip().is_unspecified() => *a.ip(),
            _ => self.source_for(dst).ok_or(Errno::ENETUNREACH)?,
        };
        let port = match bound {
            Some(a) => a.port(),
            None => self.ephemeral_connect_port(local_ip, remote)?,
        };
        let local = SocketAddrV4::new(local_ip, port);
        if self.tcp.tuples.contains_key(&ConnKey { local, remote }) {
            return Err(Errno::EADDRINUSE);
        }
        if self.tcp.conn_count >= self.cfg.limits.max_connections {
            if !self.sockets.starved_connects.contains(&sid) {
                self.sockets.starved_connects.push(sid);
            }
            return Err(Errno::EAGAIN);
        }
        let opts = self.socket_ref(sid).opts;
        let cfg = self.conn_config(now, &opts, dst);
        let cfg = self.shared_config(cfg);
        let conn = Connection::connect(now, cfg, local, remote);
        let id = self.insert_conn(conn, Owner::Socket(sid));
        let s = self.socket_mut(sid);
        if s.local.is_none() {
            s.local = Some(local);
        }
        s.kind = Kind::TcpConn {
            id,
            connect_reported: false,
        };
        self.counters.tcp.active_opens += 1;
        self.sync_conn(now, id);
        Err(Errno::EINPROGRESS)
    }

    fn stream_conn(&mut self, sid: SockId) -> Result<ConnId, Errno> {
        let s = self.socket_mut(sid);
        if let Some(e) = s.so_error.take() {
            return Err(e);
        }
        match s.kind {
            Kind::TcpConn { id, .. } => Ok(id),
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn map_engine_error(&self, id: ConnId, err: engine::Error) -> Errno {
        match err {
            engine::Error::WouldBlock => Errno::EAGAIN,
            engine::Error::WriteClosed | engine::Error::ReadClosed => Errno::EPIPE,
            engine::Error::Connection(e) => match self.conn_ref(id) {
                Some(entry) => conn_errno(entry, e),
                None => Errno::ECONNRESET,
            },
            engine::Error::NotConnected | engine::Error::InvalidState(_) => Errno::ENOTCONN,
        }
    }

    pub(super) fn tcp_send(
        &mut self,
        now: Instant,
        sid: SockId,
        data: &[u8],
        urgent: bool,
        owner: Option<&SharedFrame>,
    ) -> Result<usize, Errno> {
        let write_shut = self.socket_ref(sid).write_shut;
        let id = self.stream_conn(sid)?;
        if write_shut {
            return Err(Errno::EPIPE);
        }
        let Some(e) = self.conn_mut(id) else {
            return Err(Errno::ENOTCONN);
        };
        if e.conn.error().is_none() && matches!(e.conn.state(), State::SynSent | State::SynReceived)
        {
            return Err(Errno::EAGAIN);
        }
        let r = if urgent {
            e.conn.send_urgent(data)
        } else {
            e.conn.send_in(data, owner)
        };
        self.sync_conn(now, id);
        r.map_err(|err| self.map_engine_error(id, err))
    }

    pub(super) fn tcp_recv(
        &mut self,
        now: Instant,
        sid: SockId,
        buf: &mut [u8],
    ) -> Result<usize, Errno> {
        let read_shut = self.socket_ref(sid).read_shut;
        let id = self.stream_conn(sid)?;
        if read_shut {
            return Ok(0);
        }
        let Some(e) = self.conn_mut(id) else {
            return Err(Errno::ENOTCONN);
        };
        let r = e.conn.recv(buf);
        // Nothing to read changed nothing: no events, nothing to send, no timer (an
        // event loop polls every socket this way).
        if !matches!(r, Err(engine::Error::WouldBlock)) {
            self.sync_conn(now, id);
        }
        match r {
            Ok(n) => Ok(n),
            Err(engine::Error::ReadClosed) => Ok(0),
            Err(err) => Err(self.map_engine_error(id, err)),
        }
    }

    pub(super) fn tcp_peek(&mut self, sid: SockId, buf: &mut [u8]) -> Result<usize, Errno> {
        let read_shut = self.socket_ref(sid).read_shut;
        let id = self.stream_conn(sid)?;
        if read_shut {
            return Ok(0);
        }
        let Some(e) = self.conn_ref(id) else {
            return Err(Errno::ENOTCONN);
        };
        match e.conn.peek(buf) {
            Ok(n) => Ok(n),
            Err(engine::Error::ReadClosed) => Ok(0),
            Err(err) => Err(self.map_engine_error(id, err)),
        }
    }

    /// The socket of `id` is gone: close the connection (or abort it with linger zero)
    /// and let it finish as an orphan.
    pub(super) fn tcp_release_conn(&mut self, now: Instant, id: ConnId, abort: bool) {
        let Some(e) = self.conn_mut(id) else {
            return;
        };
        e.owner = Owner::Orphan;
        if !e.linked {
            return self.free_conn(id);
        }
        if abort {
            e.conn.abort(now);
        } else {
            let _ = e.conn.close(now);
        }
        self.sync_conn(now, id);
    }

    /// A listener is gone: its queued connections are reset.
    pub(super) fn tcp_release_listener(
        &mut self,
        now: Instant,
        id: SockId,
        local: Option<SocketAddrV4>,
        l: Listener,
    ) {
        if let Some(local) = local {
            if let Some(group) = self.tcp.listeners.get_mut(&local) {
                group.retain(|&other| other != id);
                if group.is_empty() {
                    self.tcp.listeners.remove(&local);
                }
            }
        }
        for conn in l.syn_queue.into_iter().chain(l.accept_queue) {
            if let Some(e) = self.conn_mut(conn) {
                e.owner = Owner::Orphan;
                e.conn.abort(now);
                self.sync_conn(now, conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::HostConfig;

    fn addr(host: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, host), port)
    }

    /// A connection put in `host`'s table with `cfg`, shared as a host shares it.
    fn connect(host: &mut Host, cfg: engine::Config, port: u16) -> ConnId {
        let cfg = host.shared_config(cfg);
        let conn = Connection::connect(Instant::ZERO, cfg, addr(1, port), addr(2, 80));
        host.insert_conn(conn, Owner::Orphan)
    }

    fn cfg_of(host: &Host, id: ConnId) -> &Arc<engine::Config> {
        host.conn_ref(id).expect("live").conn.config_shared()
    }

    #[test]
    fn connections_with_equal_configurations_share_one() {
        let mut host = Host::new(HostConfig::default());
        let base = engine::Config::default();
        let mut small = base.clone();
        small.send_buffer_bytes = 4096;
        let a = connect(&mut host, base.clone(), 1000);
        let b = connect(&mut host, small.clone(), 1001);
        let c = connect(&mut host, base.clone(), 1002);
        let d = connect(&mut host, small, 1003);
        assert!(Arc::ptr_eq(cfg_of(&host, a), cfg_of(&host, c)));
        assert!(Arc::ptr_eq(cfg_of(&host, b), cfg_of(&host, d)));
        assert!(!Arc::ptr_eq(cfg_of(&host, a), cfg_of(&host, b)));
    }

    #[test]
    fn a_socket_option_changes_one_connection_and_equal_changes_share_again() {
        let mut host = Host::new(HostConfig::default());
        let base = engine::Config::default();
        assert!(base.nagle);
        let ids: Vec<ConnId> = (0..4)
            .map(|i| connect(&mut host, base.clone(), 1000 + i))
            .collect();
        for &id in &ids[..3] {
            host.share_option_config(id, SockOpt::NoDelay(true));
            host.conn_mut(id).expect("live").conn.set_nagle(false);
        }
        // The three changed ones: Nagle off, one configuration among them.
        for &id in &ids[..3] {
            assert!(!cfg_of(&host, id).nagle);
            assert!(Arc::ptr_eq(cfg_of(&host, ids[0]), cfg_of(&host, id)));
        }
        // The one left alone keeps Nagle and the configuration it was made with, which a
        // new connection with it still shares.
        assert!(cfg_of(&host, ids[3]).nagle);
        let e = connect(&mut host, base, 2000);
        assert!(Arc::ptr_eq(cfg_of(&host, ids[3]), cfg_of(&host, e)));
        // Two configurations in all: the made one and the changed one.
        assert_eq!(Arc::strong_count(cfg_of(&host, e)), 3); // two connections, the host's list
        assert_eq!(Arc::strong_count(cfg_of(&host, ids[0])), 4);
    }

    #[test]
    fn the_engines_setter_alone_still_gives_the_connection_its_own_copy() {
        let mut host = Host::new(HostConfig::default());
        let base = engine::Config::default();
        let (a, b) = (
            connect(&mut host, base.clone(), 1000),
            connect(&mut host, base, 1001),
        );
        host.conn_mut(a).expect("live").conn.set_nagle(false);
        assert!(!cfg_of(&host, a).nagle);
        assert!(cfg_of(&host, b).nagle);
        assert!(!Arc::ptr_eq(cfg_of(&host, a), cfg_of(&host, b)));
    }
}
