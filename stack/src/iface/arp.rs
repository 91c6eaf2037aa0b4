//! ARP (RFC 826): the neighbour cache and the queue of packets waiting for resolution.
//!
//! The cache maps (NIC, IPv4 address) to a MAC address until `arp_cache_timeout` passes.
//! A packet for an unresolved next hop waits in a per-address queue (bounded by
//! `arp_pending_packets_per_addr`, the number of such addresses by `arp_pending_addrs`)
//! while requests go out every `arp_retry_interval`; after `arp_max_requests` unanswered
//! requests the packets are dropped and the sockets that sent them are told EHOSTUNREACH
//! (RFC 1122 section 2.3.2.2 asks for at least one queued packet per address).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use super::{Host, Origin};
use crate::iface::counters::DropReason;
use crate::time::Instant;
use crate::wire::arp::{self, Operation};
use crate::wire::{ethernet, EtherType, EthernetAddress};

#[derive(Debug, Clone, Copy)]
pub(super) struct CacheEntry {
    pub mac: EthernetAddress,
    pub expires_at: Instant,
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
}

impl ArpTable {
    pub fn lookup(&self, now: Instant, nic: usize, ip: Ipv4Addr) -> Option<EthernetAddress> {
        self.cache
            .get(&(nic, ip))
            .filter(|e| e.expires_at > now)
            .map(|e| e.mac)
    }

    /// The earliest retry deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.next_request_at).min()
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
            self.arp_learn(now, nic, sender, repr.source_hardware_addr);
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

    /// Records `ip -> mac` and flushes the packets that waited for it.
    fn arp_learn(&mut self, now: Instant, nic: usize, ip: Ipv4Addr, mac: EthernetAddress) {
        let expires_at = now + self.cfg.limits.arp_cache_timeout;
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
                self.arp.cache.remove(&k);
                self.counters.arp.cache_evictions += 1;
            }
        }
        if self.cfg.limits.arp_cache_entries > 0 {
            self.arp
                .cache
                .insert((nic, ip), CacheEntry { mac, expires_at });
        }
        if let Some(pending) = self.arp.pending.remove(&(nic, ip)) {
            for (packet, _) in pending.packets {
                self.push_ip_frame(nic, mac, packet);
            }
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
        self.arp.pending.insert(
            (nic, next_hop),
            Pending {
                packets,
                requests_sent: 0,
                next_request_at: now,
            },
        );
        self.arp_request(now, nic, next_hop);
    }

    fn arp_request(&mut self, now: Instant, nic: usize, ip: Ipv4Addr) {
        let interval = self.cfg.limits.arp_retry_interval;
        if let Some(p) = self.arp.pending.get_mut(&(nic, ip)) {
            p.requests_sent += 1;
            p.next_request_at = now + interval;
        }
        let iface = &self.cfg.interfaces[nic];
        let request = arp::Repr {
            operation: Operation::REQUEST,
            source_hardware_addr: iface.mac,
            source_protocol_addr: iface.addr,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ip,
        };
        self.counters.arp.requests_out += 1;
        self.send_arp(nic, EthernetAddress::BROADCAST, &request);
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
        self.push_frame(nic, frame);
    }

    /// Retries due requests; gives up on addresses out of retries.
    pub(super) fn arp_handle_timeout(&mut self, now: Instant) {
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
    }
}
