//! ARP (RFC 826): the neighbour cache, the queue of packets waiting for resolution, and
//! neighbour unreachability detection.
//!
//! The cache maps (NIC, IPv4 address) to a MAC address until `arp_cache_timeout` passes
//! unused.
//! A packet for an unresolved next hop waits in a per-address queue (bounded by
//! `arp_pending_packets_per_addr`, the number of such addresses by `arp_pending_addrs`)
//! while requests go out every `arp_retry_interval`; after `arp_max_requests` unanswered
//! requests the packets are dropped and the sockets that sent them are told EHOSTUNREACH
//! (RFC 1122 section 2.3.2.2 asks for at least one queued packet per address).
//!
//! # Cache validation
//!
//! RFC 1122 section 2.3.2.1: an implementation "MUST provide a mechanism to flush
//! out-of-date cache entries". ARP has no checksum, so an entry can also be wrong from the
//! start: a reply damaged on the last hop teaches a MAC address that nobody has, and a
//! timeout alone leaves the host sending into the void for a whole `arp_cache_timeout`.
//! Besides that timeout, entries are validated the way Linux's neighbour unreachability
//! detection does it, which combines the RFC's "Unicast Poll" ("actively poll the remote
//! host by periodically sending a point-to-point ARP Request to it, and delete the entry if
//! no ARP Reply is received from N successive polls") with "Higher-layer Advice", here
//! positive advice from TCP:
//!
//! - REACHABLE: an ARP reply to us confirmed the entry (or TCP did, see below) less than
//!   `arp_reachable_time_ns` ago. It is used as it is.
//! - STALE: the reachable time has passed, or the address was learned from a packet that
//!   proves nothing about the way back (a request, a changed address). Used as it is, but
//!   its first use starts DELAY. A STALE entry nobody uses costs nothing, and has no timer.
//! - DELAY: used while STALE; for `arp_delay_first_probe_time_ns` the host waits for an
//!   upper-layer confirmation: a TCP segment from that neighbour that acknowledges new
//!   data (SND.UNA advances), which proves that our frames reach it. Confirmed: REACHABLE
//!   again, without a single ARP frame (a busy TCP connection never probes).
//! - PROBE: not confirmed in time: `arp_unicast_probes` requests go to the cached address,
//!   `arp_retry_interval` apart, while packets still use it. A reply makes it REACHABLE.
//! - Unanswered: the entry is deleted and the address asked for by broadcast, as for a new
//!   one (`arp_max_requests` requests, packets queued meanwhile, then dropped).
//!
//! # Negative advice
//!
//! An ARP reply damaged in flight is confirmed by the very reply that teaches the wrong
//! address: REACHABLE, it goes unchecked for the whole reachable time however many
//! retransmissions vanish into it. TCP gives negative advice (RFC 1122's "Higher-Layer Advice";
//! section 4.2.3.5: at every timeout once the retransmissions of a segment reach R1,
//! `tcp::Config::r1_retries`, SHLD-9, or once the loss episode is older than R1 timeouts take
//! at the minimum RTO, as Linux judges it): the host then asks for the neighbour by broadcast
//! (`ArpCounters::advice_requests`), at most once an `arp_retry_interval`, and leaves the entry
//! as it is. The owner's answer replaces a wrong address at once; silence changes nothing.
//! Every connection routed through a neighbour whose address changes is told
//! (`Connection::handle_next_hop_change`, `ArpCounters::address_changes`): one whose timeout
//! is backed off resends at once instead of at its next timeout, which after a long loss
//! episode is tens of seconds away (slow-reader 39890 in `tests/regressions.rs`).
//! Making the entry STALE instead (so that the probes and the broadcast that follow could
//! delete it) was tried and rejected: a peer that is only partitioned for a while then fails a
//! `connect` with EHOSTUNREACH within seconds, where the entry's own reachable time lets the
//! SYNs through after the heal (Linux has no such path at all: its negative advice resets the
//! route, not the neighbour).
//!
//! # Timeout and use
//!
//! `arp_cache_timeout` removes entries nobody uses. An entry that is used past it is not
//! dropped and asked for again by broadcast: it is STALE and its use starts the validation
//! above, while packets keep going to the cached address. Linux does the same (its garbage
//! collector never takes a neighbour in use, only unreferenced STALE ones), and for a
//! reason a large run showed: a router whose entry for a server had timed out while idle
//! got 500 SYNs at one instant, queued `arp_pending_packets_per_addr` of them for the
//! broadcast's answer and dropped the rest, whose retransmissions came a minute later. The
//! unicast poll is the RFC 1122 flush mechanism for entries in use; the timeout, for the
//! others. `lookup` (what `Host::arp_lookup` shows) reports a timed-out entry as absent.
//!
//! The per-packet cost is what it was: one map lookup and one comparison with the
//! reachable time. Timers exist only for entries in DELAY or PROBE (`ArpTable::timers`),
//! and TCP's confirmation is looked for only while one exists.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use super::stream::{ConnId, ConnKey};
use super::{Host, Origin};
use crate::iface::counters::DropReason;
use crate::time::{Duration, Instant};
use crate::wire::arp::{self, Operation};
use crate::wire::{ethernet, ipv4, EtherType, EthernetAddress, SeqNumber};

/// Where a cache entry is in neighbour unreachability detection (see the module
/// documentation). REACHABLE and STALE are one state here, told apart by the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nud {
    /// REACHABLE until `CacheEntry::reachable_until`, STALE from then on.
    Reachable,
    /// Used while STALE: waiting for TCP to confirm it until `at`.
    Delay { at: Instant },
    /// `sent` unicast requests sent to the cached address, unanswered so far; the next
    /// step at `at`.
    Probe { sent: u32, at: Instant },
}

impl Nud {
    /// The instant of its timer in `ArpTable::timers`.
    fn timer(self) -> Option<Instant> {
        match self {
            Nud::Reachable => None,
            Nud::Delay { at } | Nud::Probe { at, .. } => Some(at),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct CacheEntry {
    pub mac: EthernetAddress,
    pub expires_at: Instant,
    /// The end of REACHABLE (the entry is STALE from this instant).
    pub reachable_until: Instant,
    /// TCP's negative advice asks for this neighbour again no earlier than this.
    pub advice_quiet_until: Instant,
    pub nud: Nud,
}

#[derive(Debug)]
pub(super) struct Pending {
    /// IP packets (header included) and who sent them.
    pub packets: VecDeque<(Vec<u8>, Origin)>,
    pub requests_sent: u32,
    pub next_request_at: Instant,
}

/// The neighbour table of a host: iterated only through `BTreeMap`s.
#[derive(Debug, Default)]
pub(super) struct ArpTable {
    pub cache: BTreeMap<(usize, Ipv4Addr), CacheEntry>,
    pub pending: BTreeMap<(usize, Ipv4Addr), Pending>,
    /// The timers of the cache entries in DELAY or PROBE, in firing order. Empty while
    /// every neighbour in use is confirmed.
    pub timers: BTreeSet<(Instant, (usize, Ipv4Addr))>,
    /// Counts changes to what `resolve` reads of `cache` (an entry added, removed, or its
    /// state, address or deadlines changed): a connection's cached path (`stream::TxPath`)
    /// holds a neighbour's address only while this is what it was when the path was found.
    pub generation: u64,
}

/// What `tcp_progress_mark` saw before a TCP segment was handled.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProgressMark {
    key: ConnKey,
    neighbour: (usize, Ipv4Addr),
    snd_una: SeqNumber,
}

impl ArpTable {
    pub fn lookup(&self, now: Instant, nic: usize, ip: Ipv4Addr) -> Option<EthernetAddress> {
        self.cache
            .get(&(nic, ip))
            .filter(|e| e.expires_at > now)
            .map(|e| e.mac)
    }

    /// The address to send a packet to; a STALE entry's use starts DELAY. Unlike
    /// `lookup`, an entry past `expires_at` is still used, as STALE (see "Timeout and
    /// use" in the module documentation): `cache_timeout` is the life it is given again.
    pub fn resolve(
        &mut self,
        now: Instant,
        nic: usize,
        ip: Ipv4Addr,
        delay_ns: u64,
        cache_timeout: Duration,
    ) -> Option<EthernetAddress> {
        let e = self.cache.get_mut(&(nic, ip))?;
        if e.expires_at <= now {
            e.expires_at = now + cache_timeout;
            e.reachable_until = e.reachable_until.min(now);
            self.generation += 1;
        }
        if now >= e.reachable_until && e.nud == Nud::Reachable {
            let at = now + Duration::from_nanos(delay_ns);
            e.nud = Nud::Delay { at };
            self.timers.insert((at, (nic, ip)));
            self.generation += 1;
        }
        Some(e.mac)
    }

    /// Until when `resolve` of this neighbour changes nothing and gives its cached address
    /// (before `expires_at`, and while REACHABLE, before `reachable_until`), if it has one.
    pub fn quiet_until(&self, nic: usize, ip: Ipv4Addr) -> Option<(EthernetAddress, Instant)> {
        let e = self.cache.get(&(nic, ip))?;
        let until = match e.nud {
            Nud::Reachable => e.expires_at.min(e.reachable_until),
            Nud::Delay { .. } | Nud::Probe { .. } => e.expires_at,
        };
        Some((e.mac, until))
    }

    /// The earliest retry or probe deadline.
    ///
    /// Asked after every input: with nothing pending (the usual case) it reads one set's
    /// first entry and keeps the scan of the pending map out of the caller's code.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probe = self.timers.first().map(|(at, _)| *at);
        if self.pending.is_empty() {
            return probe;
        }
        let pending = self.next_request_at();
        match (pending, probe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest retry of a pending resolution.
    #[inline(never)]
    fn next_request_at(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.next_request_at).min()
    }

    /// Moves the entry of `key` to `nud`, filing its timer.
    fn set_nud(&mut self, key: (usize, Ipv4Addr), nud: Nud) {
        let Some(e) = self.cache.get_mut(&key) else {
            return;
        };
        self.generation += 1;
        if let Some(at) = e.nud.timer() {
            self.timers.remove(&(at, key));
        }
        if let Some(at) = nud.timer() {
            self.timers.insert((at, key));
        }
        e.nud = nud;
    }

    /// Inserts or replaces the entry of `key`, filing its timer.
    fn insert(&mut self, key: (usize, Ipv4Addr), entry: CacheEntry) {
        self.remove(&key);
        self.generation += 1;
        if let Some(at) = entry.nud.timer() {
            self.timers.insert((at, key));
        }
        self.cache.insert(key, entry);
    }

    fn remove(&mut self, key: &(usize, Ipv4Addr)) {
        self.generation += 1;
        if let Some(at) = self.cache.remove(key).and_then(|e| e.nud.timer()) {
            self.timers.remove(&(at, *key));
        }
    }
}

impl Host {
    /// An ARP packet arrived on `nic` (RFC 826 "Packet Reception").
    pub(super) fn arp_input(&mut self, now: Instant, nic: usize, payload: &[u8]) {
        let repr = match arp::Packet::new_checked(payload).and_then(|p| arp::Repr::parse(&p)) {
            Ok(r) => r,
            Err(_) => return self.drop_packet(DropReason::ArpMalformed),
        };
        match repr.operation {
            Operation::REQUEST => self.counters.arp.requests_in += 1,
            _ => self.counters.arp.replies_in += 1,
        }
        let sender = repr.source_protocol_addr;
        let sender_ok = repr.source_hardware_addr.is_unicast()
            && !sender.is_unspecified()
            && !sender.is_broadcast()
            && !sender.is_multicast();
        let my_addr = self.cfg.interfaces[nic].addr;
        let for_me = repr.target_protocol_addr == my_addr;
        // Merge: refresh an entry we already have; add one only if the packet is for us.
        let known = self.arp.cache.contains_key(&(nic, sender))
            || self.arp.pending.contains_key(&(nic, sender));
        if sender_ok && (known || for_me) {
            // Only a reply to us shows that our frames reach the sender (RFC 1122's
            // "ARP Reply" to a poll); a request, or a reply to someone else, says who the
            // sender is but nothing about the way back.
            let confirmed = for_me && repr.operation == Operation::REPLY;
            self.arp_learn(now, nic, sender, repr.source_hardware_addr, confirmed);
        }
        if for_me && repr.operation == Operation::REQUEST && sender_ok {
            let reply = arp::Repr {
                operation: Operation::REPLY,
                source_hardware_addr: self.cfg.interfaces[nic].mac,
                source_protocol_addr: my_addr,
                target_hardware_addr: repr.source_hardware_addr,
                target_protocol_addr: sender,
            };
            self.counters.arp.replies_out += 1;
            self.send_arp(nic, repr.source_hardware_addr, &reply);
        }
    }

    /// Records `ip -> mac` and flushes the packets that waited for it. `confirmed`: the
    /// neighbour is REACHABLE (an ARP reply to us); otherwise a new or changed address is
    /// STALE, and an unchanged one keeps its state (as Linux's `neigh_update` does).
    fn arp_learn(
        &mut self,
        now: Instant,
        nic: usize,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        confirmed: bool,
    ) {
        let expires_at = now + self.cfg.limits.arp_cache_timeout;
        let reachable_until = now + Duration::from_nanos(self.cfg.limits.arp_reachable_time_ns);
        if !self.arp.cache.contains_key(&(nic, ip))
            && self.arp.cache.len() >= self.cfg.limits.arp_cache_entries
        {
            // Evict the entry closest to expiry (deterministic: ties go to the lowest key).
            let victim = self
                .arp
                .cache
                .iter()
                .min_by_key(|(k, e)| (e.expires_at, **k))
                .map(|(k, _)| *k);
            if let Some(k) = victim {
                self.arp.remove(&k);
                self.counters.arp.cache_evictions += 1;
            }
        }
        // A live entry that had another address: what went through it went astray.
        let changed = self
            .arp
            .cache
            .get(&(nic, ip))
            .is_some_and(|e| e.expires_at > now && e.mac != mac);
        if self.cfg.limits.arp_cache_entries > 0 {
            let old = self
                .arp
                .cache
                .get(&(nic, ip))
                .filter(|e| e.expires_at > now && e.mac == mac)
                .copied();
            let entry = match old {
                _ if confirmed => CacheEntry {
                    mac,
                    expires_at,
                    reachable_until,
                    nud: Nud::Reachable,
                    advice_quiet_until: now,
                },
                // The same address again: only the timeout is refreshed (RFC 1122 section
                // 2.3.2.1 (1)); reachability is unchanged.
                Some(e) => CacheEntry { expires_at, ..e },
                None => CacheEntry {
                    mac,
                    expires_at,
                    reachable_until: now,
                    nud: Nud::Reachable,
                    advice_quiet_until: now,
                },
            };
            self.arp.insert((nic, ip), entry);
        }
        if let Some(pending) = self.arp.pending.remove(&(nic, ip)) {
            for (packet, _) in pending.packets {
                self.push_ip_frame(nic, mac, packet);
            }
        }
        if changed {
            self.counters.arp.address_changes += 1;
            self.tcp_next_hop_changed(now, (nic, ip));
        }
    }

    /// The neighbour `next_hop` has a new address: every connection routed through it is
    /// told (`Connection::handle_next_hop_change`), in slot order. Rare (an address changes
    /// when a host is replaced, or a damaged reply taught a wrong one and its owner's answer
    /// repairs it), so a walk over the table costs nothing per packet.
    fn tcp_next_hop_changed(&mut self, now: Instant, next_hop: (usize, Ipv4Addr)) {
        for slot in 0..self.tcp.conns.len() {
            let id = ConnId(slot);
            // Only a connection waiting on a backed-off timeout acts; the route lookup is
            // skipped for the rest.
            let remote = match self.conn_ref(id) {
                Some(e) if e.conn.in_rto_recovery() => *e.key.remote.ip(),
                _ => continue,
            };
            if self.route(remote) != Some(next_hop) {
                continue;
            }
            if let Some(e) = self.conn_mut(id) {
                e.conn.handle_next_hop_change(now);
            }
            self.sync_conn(now, id);
        }
    }

    /// Queues `packet` for `next_hop` until it resolves, asking for it if this is the first.
    pub(super) fn arp_enqueue(
        &mut self,
        now: Instant,
        nic: usize,
        next_hop: Ipv4Addr,
        packet: Vec<u8>,
        origin: Origin,
    ) {
        let limits = &self.cfg.limits;
        if let Some(p) = self.arp.pending.get_mut(&(nic, next_hop)) {
            if p.packets.len() >= limits.arp_pending_packets_per_addr {
                // Keep the newest (as Linux does): the oldest is the likeliest to be stale.
                p.packets.pop_front();
                self.counters.count_drop(DropReason::ArpPendingFull);
            }
            if limits.arp_pending_packets_per_addr > 0 {
                p.packets.push_back((packet, origin));
            }
            return;
        }
        if self.arp.pending.len() >= limits.arp_pending_addrs {
            return self.drop_packet(DropReason::ArpPendingTableFull);
        }
        let mut packets = VecDeque::new();
        if limits.arp_pending_packets_per_addr > 0 {
            packets.push_back((packet, origin));
        } else {
            self.counters.count_drop(DropReason::ArpPendingFull);
        }
        self.arp_start_resolution(now, nic, next_hop, packets);
    }

    /// Asks everyone for `ip` (a new pending address holding `packets`).
    fn arp_start_resolution(
        &mut self,
        now: Instant,
        nic: usize,
        ip: Ipv4Addr,
        packets: VecDeque<(Vec<u8>, Origin)>,
    ) {
        self.arp.pending.insert(
            (nic, ip),
            Pending {
                packets,
                requests_sent: 0,
                next_request_at: now,
            },
        );
        self.arp_request(now, nic, ip);
    }

    fn arp_request(&mut self, now: Instant, nic: usize, ip: Ipv4Addr) {
        let interval = self.cfg.limits.arp_retry_interval;
        if let Some(p) = self.arp.pending.get_mut(&(nic, ip)) {
            p.requests_sent += 1;
            p.next_request_at = now + interval;
        }
        self.send_arp_request(nic, ip, EthernetAddress::BROADCAST);
    }

    /// An ARP request for `ip`, broadcast or (a probe) to the address we have for it.
    fn send_arp_request(&mut self, nic: usize, ip: Ipv4Addr, dst: EthernetAddress) {
        let iface = &self.cfg.interfaces[nic];
        let request = arp::Repr {
            operation: Operation::REQUEST,
            source_hardware_addr: iface.mac,
            source_protocol_addr: iface.addr,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ip,
        };
        self.counters.arp.requests_out += 1;
        self.send_arp(nic, dst, &request);
    }

    fn send_arp(&mut self, nic: usize, dst: EthernetAddress, repr: &arp::Repr) {
        let eth = ethernet::Repr {
            src_addr: self.cfg.interfaces[nic].mac,
            dst_addr: dst,
            vlan: None,
            ethertype: EtherType::ARP,
        };
        let hl = eth.buffer_len();
        // Padded to the Ethernet minimum of 60 bytes (without FCS).
        let mut frame = alloc::vec![0u8; (hl + repr.buffer_len()).max(60)];
        eth.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
        repr.emit(&mut arp::Packet::new_unchecked(&mut frame[hl..]));
        let len = frame.len();
        self.push_frame(nic, frame, len);
    }

    /// Retries due requests; gives up on addresses out of retries; moves entries in DELAY
    /// and PROBE along.
    pub(super) fn arp_handle_timeout(&mut self, now: Instant) {
        // Called on every timer of the host (TCP's nearly all): nothing due costs two reads.
        let probe_due = self.arp.timers.first().is_some_and(|(at, _)| *at <= now);
        if self.arp.pending.is_empty() && !probe_due {
            return;
        }
        self.arp_fire_due(now);
    }

    /// The part of [`Self::arp_handle_timeout`] that runs when something may be due.
    #[inline(never)]
    fn arp_fire_due(&mut self, now: Instant) {
        let due: Vec<(usize, Ipv4Addr)> = self
            .arp
            .pending
            .iter()
            .filter(|(_, p)| p.next_request_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for (nic, ip) in due {
            let sent = self.arp.pending[&(nic, ip)].requests_sent;
            if sent < self.cfg.limits.arp_max_requests {
                self.arp_request(now, nic, ip);
                continue;
            }
            let Some(pending) = self.arp.pending.remove(&(nic, ip)) else {
                continue;
            };
            self.counters.arp.resolution_failures += 1;
            for (_, origin) in pending.packets {
                self.counters.count_drop(DropReason::ArpResolutionFailed);
                self.report_unreachable(now, origin);
            }
        }
        while let Some(&(at, key)) = self.arp.timers.first() {
            if at > now {
                break;
            }
            self.arp.timers.pop_first();
            self.nud_timeout(now, key);
        }
    }

    /// The DELAY or PROBE timer of `key` fired (and was taken out of `ArpTable::timers`).
    fn nud_timeout(&mut self, now: Instant, key: (usize, Ipv4Addr)) {
        let limits = &self.cfg.limits;
        let (probes, interval) = (limits.arp_unicast_probes, limits.arp_retry_interval);
        let Some(e) = self.arp.cache.get(&key).copied() else {
            return;
        };
        if e.expires_at <= now {
            // Expired: the next packet asks for it by broadcast.
            self.arp.remove(&key);
            return;
        }
        let sent = match e.nud {
            Nud::Reachable => return, // has no timer
            Nud::Delay { .. } => 0,
            Nud::Probe { sent, .. } => sent,
        };
        if sent < probes {
            // RFC 1122's unicast poll: a request to the address we have.
            let at = now + interval;
            self.arp.set_nud(key, Nud::Probe { sent: sent + 1, at });
            self.send_arp_request(key.0, key.1, e.mac);
            return;
        }
        // "delete the entry if no ARP Reply is received from N successive polls": then ask
        // everyone, as for an address never seen (packets wait for the answer meanwhile).
        self.arp.remove(&key);
        if self.arp.pending.contains_key(&key) {
            return;
        }
        if self.arp.pending.len() >= self.cfg.limits.arp_pending_addrs {
            return self.drop_packet(DropReason::ArpPendingTableFull);
        }
        self.arp_start_resolution(now, key.0, key.1, VecDeque::new());
    }

    /// Before a TCP segment is handled: if the neighbour it came through waits in DELAY for
    /// a confirmation, the segment's connection and its SND.UNA, so that
    /// [`tcp_progress_confirm`](Self::tcp_progress_confirm) can tell whether the segment
    /// acknowledged new data. Costs one emptiness check while no neighbour is in doubt.
    #[inline]
    pub(super) fn tcp_progress_mark(
        &self,
        ip: &ipv4::Repr,
        tcp_payload: &[u8],
    ) -> Option<ProgressMark> {
        if self.arp.timers.is_empty() {
            return None;
        }
        self.tcp_progress_mark_slow(ip, tcp_payload)
    }

    fn tcp_progress_mark_slow(&self, ip: &ipv4::Repr, tcp_payload: &[u8]) -> Option<ProgressMark> {
        let neighbour = self.route(ip.src_addr)?;
        if !matches!(self.arp.cache.get(&neighbour)?.nud, Nud::Delay { .. }) {
            return None;
        }
        let ports = tcp_payload.get(..4)?;
        let key = ConnKey {
            local: core::net::SocketAddrV4::new(
                ip.dst_addr,
                u16::from_be_bytes([ports[2], ports[3]]),
            ),
            remote: core::net::SocketAddrV4::new(
                ip.src_addr,
                u16::from_be_bytes([ports[0], ports[1]]),
            ),
        };
        let id = *self.tcp.tuples.get(&key)?;
        let snd_una = self.conn_ref(id)?.conn.snd_una();
        Some(ProgressMark {
            key,
            neighbour,
            snd_una,
        })
    }

    /// TCP's negative advice (RFC 1122 section 4.2.3.5: R1 retransmissions of a segment)
    /// about the path to `dst`: if the neighbour it goes through is REACHABLE, ask for it
    /// once by broadcast, leaving the entry as it is ("Higher-Layer Advice", section
    /// 2.3.2.1). An answer with another address replaces the entry (an ARP reply to us);
    /// silence changes nothing. See "Negative advice" in the module documentation.
    pub(super) fn arp_negative_advice(&mut self, now: Instant, dst: Ipv4Addr) {
        let Some(neighbour) = self.route(dst) else {
            return;
        };
        let interval = self.cfg.limits.arp_retry_interval;
        let Some(e) = self.arp.cache.get_mut(&neighbour) else {
            return;
        };
        if e.nud != Nud::Reachable || e.expires_at <= now || now < e.advice_quiet_until {
            return;
        }
        // One request a retry interval however many connections give the advice.
        e.advice_quiet_until = now + interval;
        self.counters.arp.advice_requests += 1;
        self.send_arp_request(neighbour.0, neighbour.1, EthernetAddress::BROADCAST);
    }

    /// After the segment of `mark` was handled: if its connection's SND.UNA moved, our
    /// frames reach the neighbour (Linux's `dst_confirm` on forward progress), which is
    /// REACHABLE again.
    pub(super) fn tcp_progress_confirm(&mut self, now: Instant, mark: ProgressMark) {
        let advanced = self
            .tcp
            .tuples
            .get(&mark.key)
            .and_then(|&id| self.conn_ref(id))
            .is_some_and(|e| e.conn.snd_una() != mark.snd_una);
        if !advanced {
            return;
        }
        let reachable_ns = self.cfg.limits.arp_reachable_time_ns;
        let Some(e) = self.arp.cache.get_mut(&mark.neighbour) else {
            return;
        };
        if matches!(e.nud, Nud::Delay { .. }) {
            e.reachable_until = now + Duration::from_nanos(reachable_ns);
            self.arp.set_nud(mark.neighbour, Nud::Reachable);
        }
    }
}
