//! IPv4 fragmentation (RFC 791 section 3.2) and reassembly.
//!
//! Reassembly keeps, per (source, destination, protocol, identification), the bytes
//! received so far and the list of ranges they cover (the "holes" of RFC 815 are the gaps
//! between them). Policy, chosen for safety rather than for generosity:
//!
//! - an exact duplicate of a fragment (same range, same bytes) is dropped and counted, as
//!   a simulator that duplicates packets must not break reassembly;
//! - any other overlap discards the whole datagram (as RFC 5722 requires for IPv6): the
//!   overlapping-fragment attacks of RFC 1858 and RFC 3128 then have nothing to work on;
//! - a fragment with MF set whose length is not a multiple of 8, or data past the end the
//!   last fragment announced, discards the datagram;
//! - memory is bounded by `reassembly_bytes` and `reassembly_datagrams`; an incomplete
//!   datagram lives `reassembly_timeout`, after which an ICMP time exceeded (code 1) goes
//!   back if its first fragment had arrived (RFC 792, RFC 1122 section 3.3.2).

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use super::{DropReason, Host, IcmpError};
use crate::time::Instant;
use crate::wire::icmpv4::TimeExceeded;
use crate::wire::ipv4::{self, Ipv4Options};
use crate::wire::ChecksumMode;

/// Ranges one datagram may be made of at most.
const MAX_FRAGMENTS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ident: u16,
}

#[derive(Debug)]
struct Partial {
    /// The first fragment's header and its first payload bytes (for the ICMP error).
    first: Option<(ipv4::Repr, Vec<u8>)>,
    data: Vec<u8>,
    /// Received ranges `[start, end)`, sorted by start, never overlapping.
    ranges: Vec<(usize, usize)>,
    total_len: Option<usize>,
    deadline: Instant,
}

impl Partial {
    fn is_complete(&self) -> bool {
        let Some(total) = self.total_len else {
            return false;
        };
        let mut at = 0;
        for &(s, e) in &self.ranges {
            if s != at {
                return false;
            }
            at = e;
        }
        at == total
    }
}

/// Incomplete datagrams, bounded in number and bytes.
#[derive(Debug, Default)]
pub(super) struct Reassembler {
    partials: BTreeMap<Key, Partial>,
    bytes: usize,
}

impl Reassembler {
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.partials.is_empty() {
            return None;
        }
        self.earliest_deadline()
    }

    /// Kept out of line: asked after every input, the map is nearly always empty.
    #[inline(never)]
    fn earliest_deadline(&self) -> Option<Instant> {
        self.partials.values().map(|p| p.deadline).min()
    }

    /// Whether no datagram is being reassembled.
    pub fn is_empty(&self) -> bool {
        self.partials.is_empty()
    }

    /// Incomplete datagrams and their bytes within their bounds, `bytes` their total
    /// (feature `invariants`).
    #[cfg(feature = "invariants")]
    pub(super) fn check_invariants(&self, max_datagrams: usize, max_bytes: usize) {
        let total: usize = self.partials.values().map(|p| p.data.len()).sum();
        crate::tcp::invariant!(
            self.partials.len() <= max_datagrams && self.bytes <= max_bytes && total == self.bytes,
            "reassembly within its bounds",
            "{} datagrams (bound {max_datagrams}), {} bytes counted, {total} held (bound \
             {max_bytes})",
            self.partials.len(),
            self.bytes
        );
    }

    fn remove(&mut self, key: &Key) -> Option<Partial> {
        let p = self.partials.remove(key)?;
        self.bytes -= p.data.len();
        Some(p)
    }
}

impl Host {
    /// Adds a fragment; returns the whole packet (header and payload) once complete.
    pub(super) fn reassemble(
        &mut self,
        now: Instant,
        repr: &ipv4::Repr,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let key = Key {
            src: repr.src_addr,
            dst: repr.dst_addr,
            protocol: repr.protocol.0,
            ident: repr.ident,
        };
        let start = usize::from(repr.frag_offset);
        let end = start + payload.len();
        let limits = &self.cfg.limits;
        if repr.more_frags && (!payload.len().is_multiple_of(8) || payload.is_empty()) {
            self.reassembly.remove(&key);
            self.counters.count_drop(DropReason::FragMalformed);
            return None;
        }
        if !self.reassembly.partials.contains_key(&key) {
            if self.reassembly.partials.len() >= limits.reassembly_datagrams {
                self.counters.count_drop(DropReason::FragMemoryFull);
                return None;
            }
            self.reassembly.partials.insert(
                key,
                Partial {
                    first: None,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total_len: None,
                    deadline: now + limits.reassembly_timeout,
                },
            );
        }
        let budget = limits.reassembly_bytes;
        let r = &mut self.reassembly;
        let p = r.partials.get_mut(&key)?;
        // The end of the datagram, once known, bounds every fragment.
        let bad_end = match (repr.more_frags, p.total_len) {
            (true, Some(total)) => end > total,
            (false, Some(total)) => end != total,
            (false, None) => p.ranges.last().is_some_and(|&(_, e)| e > end),
            (true, None) => false,
        };
        if bad_end {
            r.remove(&key);
            self.counters.count_drop(DropReason::FragMalformed);
            return None;
        }
        // Overlaps: an exact duplicate is harmless; anything else poisons the datagram.
        let at = p.ranges.partition_point(|&(s, _)| s < start);
        if let Some(&(s, e)) = p.ranges.get(at) {
            if s == start && e == end && p.data.get(s..e) == Some(payload) {
                self.counters.count_drop(DropReason::FragDuplicate);
                return None;
            }
        }
        let overlaps_next = p.ranges.get(at).is_some_and(|&(s, _)| s < end);
        let overlaps_prev = at > 0 && p.ranges[at - 1].1 > start;
        if overlaps_next || overlaps_prev {
            r.remove(&key);
            self.counters.count_drop(DropReason::FragOverlap);
            return None;
        }
        if p.ranges.len() >= MAX_FRAGMENTS {
            r.remove(&key);
            self.counters.count_drop(DropReason::FragMemoryFull);
            return None;
        }
        if end > p.data.len() {
            let growth = end - p.data.len();
            if r.bytes + growth > budget {
                self.counters.count_drop(DropReason::FragMemoryFull);
                return None;
            }
            r.bytes += growth;
            p.data.resize(end, 0);
        }
        p.data[start..end].copy_from_slice(payload);
        p.ranges.insert(at, (start, end));
        if !repr.more_frags {
            p.total_len = Some(end);
        }
        if start == 0 {
            p.first = Some((*repr, payload[..payload.len().min(64)].to_vec()));
        }
        if !p.is_complete() {
            return None;
        }
        let p = r.remove(&key)?;
        let (first, _) = p.first?;
        let total = p.total_len?;
        let header = ipv4::Repr {
            payload_len: total,
            more_frags: false,
            frag_offset: 0,
            ..first
        };
        if header.buffer_len() > usize::from(u16::MAX) {
            self.counters.count_drop(DropReason::FragMalformed);
            return None;
        }
        let mut packet = vec![0u8; header.buffer_len()];
        header.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..]));
        packet[header.header_len()..].copy_from_slice(&p.data[..total]);
        Some(packet)
    }

    pub(super) fn reassembly_handle_timeout(&mut self, now: Instant) {
        if self.reassembly.is_empty() {
            return;
        }
        self.reassembly_expire(now);
    }

    /// The part of [`Self::reassembly_handle_timeout`] that runs with datagrams held.
    #[inline(never)]
    fn reassembly_expire(&mut self, now: Instant) {
        let expired: Vec<Key> = self
            .reassembly
            .partials
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            let Some(p) = self.reassembly.remove(&key) else {
                continue;
            };
            self.counters.count_drop(DropReason::FragTimeout);
            if let Some((header, head)) = p.first {
                // Quote the first fragment as it arrived.
                let quoted = ipv4::Repr {
                    payload_len: head.len(),
                    ..header
                };
                let mut bytes = vec![0u8; quoted.buffer_len()];
                quoted.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
                bytes[quoted.header_len()..].copy_from_slice(&head);
                self.send_icmp_error(
                    now,
                    &bytes,
                    IcmpError::TimeExceeded(TimeExceeded::FRAG_EXPIRED),
                );
            }
        }
    }
}

/// Splits an IP packet into fragments that fit `mtu` (RFC 791 section 3.2, "An Example
/// Fragmentation Procedure"). Options go in the first fragment only (the stack sends none;
/// forwarded ones are rare, and the copy flag is not interpreted). Empty if the MTU cannot
/// carry 8 bytes of data.
pub(super) fn fragment(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let Ok(view) = ipv4::Packet::new_checked(packet) else {
        return Vec::new();
    };
    let Ok(repr) = ipv4::Repr::parse(&view, ChecksumMode::Ignore) else {
        return Vec::new();
    };
    let payload = view.payload();
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let header = ipv4::Repr {
            options: if offset == 0 {
                repr.options
            } else {
                Ipv4Options::EMPTY
            },
            ..repr
        };
        let room = mtu.saturating_sub(header.header_len()) & !7;
        if room == 0 {
            return Vec::new();
        }
        let len = room.min(payload.len() - offset);
        let last = offset + len == payload.len();
        let header = ipv4::Repr {
            payload_len: len,
            frag_offset: repr.frag_offset + offset as u16,
            more_frags: repr.more_frags || !last,
            ..header
        };
        let mut f = vec![0u8; header.buffer_len()];
        header.emit(&mut ipv4::Packet::new_unchecked(&mut f[..]));
        f[header.header_len()..].copy_from_slice(&payload[offset..offset + len]);
        out.push(f);
        offset += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::IpProtocol;

    fn packet(payload_len: usize) -> Vec<u8> {
        let repr = ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::UDP,
            payload_len,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 7,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            options: Ipv4Options::EMPTY,
        };
        let mut b = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
        for (i, x) in b[20..].iter_mut().enumerate() {
            *x = i as u8;
        }
        b
    }

    #[test]
    fn fragments_fit_the_mtu_and_cover_the_payload_in_multiples_of_eight() {
        let p = packet(3000);
        let frags = fragment(&p, 1500);
        assert_eq!(frags.len(), 3);
        let mut next = 0;
        for (i, f) in frags.iter().enumerate() {
            let v = ipv4::Packet::new_checked(&f[..]).unwrap();
            assert!(f.len() <= 1500);
            assert!(v.verify_checksum());
            assert_eq!(usize::from(v.frag_offset()), next);
            assert_eq!(v.more_frags(), i < 2);
            next += v.payload().len();
        }
        assert_eq!(next, 3000);
    }
}
