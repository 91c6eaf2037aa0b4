//! Fuzz target bodies, shared by the cargo-fuzz targets in `fuzz/` and by
//! `tests/fuzz_corpus.rs`, which replays the committed corpus under plain `cargo test`.
//!
//! Not part of the API: hidden from the docs, free to change with any commit.
//!
//! **Raw-bytes bodies**, one per parser, hold every header module to the contract of
//! [`crate::wire`]:
//! 1. `new_checked`; when it succeeds, every accessor of the view is called (none may panic);
//! 2. `Repr::parse` in both checksum modes: a `Verify` success must equal the `Ignore` result;
//! 3. when the `Ignore` parse succeeds and the `Repr` is valid, it is emitted into a fresh
//!    buffer full of junk and parsed again, with `Verify`: the same `Repr` must come back.
//!    Random input rarely carries a right checksum, hence the `Ignore` parse first; `emit`
//!    computes correct ones.
//!
//! UDP and TCP checksums need a pseudo-header: the per-header bodies use 10.0.0.1 -> 10.0.0.2,
//! [`frame`] uses the addresses of the IPv4 header around the segment.
//!
//! **Structured bodies** (`*_repr`, feature `arbitrary`) build a `Repr` with `arbitrary` from
//! the input, skip it unless `is_valid()`, and run the same emit/parse round trip.
//!
//! **Stateful bodies** (feature `arbitrary`) drive state machines with a sequence the input
//! chooses and check invariants after every step: `host_state` (one host fed frames,
//! socket calls and time steps, with connections in every TCP state) and `tcp_pair` (two
//! TCP engines over a network that drops, duplicates, delays, truncates and corrupts
//! segments, whose byte streams must arrive intact and complete once it heals). Their
//! corpora replay in `tests/fuzz_state_corpus.rs`.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Debug;
use core::hint::black_box;
use core::net::Ipv4Addr;

use crate::wire::{arp, ethernet, icmpv4, ipv4, tcp, udp, ChecksumMode, EtherType, Result};

/// Pseudo-header addresses for the UDP and TCP bodies.
const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// What fresh emit buffers hold before `emit`: `emit` must overwrite every header byte.
const JUNK: u8 = 0xa5;

/// A buffer of `len` junk bytes, then written by `emit`.
fn emitted(len: usize, emit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut bytes = vec![JUNK; len];
    emit(&mut bytes);
    bytes
}

/// Asserts that `parse(bytes)` gives back `expected`: the second half of a round trip.
fn reparse<'b, R: PartialEq + Debug>(
    bytes: &'b [u8],
    expected: R,
    parse: impl FnOnce(&'b [u8]) -> Result<R>,
) {
    assert_eq!(
        parse(bytes),
        Ok(expected),
        "parse(emit(repr)) != repr; emitted {bytes:02x?}"
    );
}

/// Parses in both checksum modes and returns the `Ignore` result; a `Verify` success must
/// agree with it.
fn parse_both<R: PartialEq + Debug>(parse: impl Fn(ChecksumMode) -> Result<R>) -> Option<R> {
    let ignored = parse(ChecksumMode::Ignore);
    if let Ok(verified) = parse(ChecksumMode::Verify) {
        assert_eq!(
            ignored.as_ref(),
            Ok(&verified),
            "Verify and Ignore disagree"
        );
    }
    ignored.ok()
}

/// Ethernet II, with or without an 802.1Q tag.
pub fn ethernet(data: &[u8]) {
    let Ok(frame) = ethernet::Frame::new_checked(data) else {
        return;
    };
    black_box((frame.dst_addr(), frame.src_addr(), frame.vlan()));
    black_box((frame.ethertype(), frame.header_len(), frame.payload()));
    if let Ok(repr) = ethernet::Repr::parse(&frame) {
        ethernet_round_trip(&repr, frame.payload());
    }
}

fn ethernet_round_trip(repr: &ethernet::Repr, payload: &[u8]) {
    if !repr.is_valid() {
        return;
    }
    let bytes = emitted(repr.buffer_len() + payload.len(), |b| {
        let mut frame = ethernet::Frame::new_unchecked(b);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(payload);
    });
    reparse(&bytes, (*repr, payload), |b| {
        let frame = ethernet::Frame::new_checked(b)?;
        Ok((ethernet::Repr::parse(&frame)?, &b[frame.header_len()..]))
    });
}

/// ARP: any hardware and protocol in the view, Ethernet/IPv4 in the `Repr`.
pub fn arp(data: &[u8]) {
    let Ok(packet) = arp::Packet::new_checked(data) else {
        return;
    };
    black_box((
        packet.hardware_type(),
        packet.protocol_type(),
        packet.operation(),
    ));
    black_box((packet.hardware_len(), packet.protocol_len()));
    black_box((packet.source_hardware_addr(), packet.source_protocol_addr()));
    black_box((packet.target_hardware_addr(), packet.target_protocol_addr()));
    if let Ok(repr) = arp::Repr::parse(&packet) {
        arp_round_trip(&repr);
    }
}

fn arp_round_trip(repr: &arp::Repr) {
    if !repr.is_valid() {
        return;
    }
    let bytes = emitted(repr.buffer_len(), |b| {
        repr.emit(&mut arp::Packet::new_unchecked(b));
    });
    reparse(&bytes, *repr, |b| {
        arp::Repr::parse(&arp::Packet::new_checked(b)?)
    });
}

/// IPv4, as a whole packet and as a header quoted in an ICMP error (`parse_embedded`), which
/// must agree whenever the whole packet parses.
pub fn ipv4(data: &[u8]) {
    let embedded = parse_both(|mode| ipv4::Repr::parse_embedded(data, mode));
    let Ok(packet) = ipv4::Packet::new_checked(data) else {
        return;
    };
    black_box((
        packet.version(),
        packet.header_len(),
        packet.dscp(),
        packet.ecn(),
    ));
    black_box((packet.total_len(), packet.ident(), packet.dont_frag()));
    black_box((packet.more_frags(), packet.frag_offset(), packet.ttl()));
    black_box((packet.protocol(), packet.checksum(), packet.src_addr()));
    black_box((packet.dst_addr(), packet.options(), packet.payload()));
    black_box(packet.verify_checksum());
    if let Some(repr) = parse_both(|mode| ipv4::Repr::parse(&packet, mode)) {
        assert_eq!(embedded.map(|(header, _)| header), Some(repr));
        ipv4_round_trip(&repr, packet.payload());
    }
}

/// `payload` must be `repr.payload_len` long.
fn ipv4_round_trip(repr: &ipv4::Repr, payload: &[u8]) {
    if !repr.is_valid() {
        return;
    }
    let bytes = emitted(repr.buffer_len(), |b| {
        let mut packet = ipv4::Packet::new_unchecked(b);
        repr.emit(&mut packet);
        packet.payload_mut().copy_from_slice(payload);
    });
    reparse(&bytes, (*repr, payload), |b| {
        let packet = ipv4::Packet::new_checked(b)?;
        let repr = ipv4::Repr::parse(&packet, ChecksumMode::Verify)?;
        Ok((
            repr,
            &b[packet.header_len()..usize::from(packet.total_len())],
        ))
    });
}

/// ICMPv4: echo, and the error messages with their quoted IPv4 header.
pub fn icmpv4(data: &[u8]) {
    let Ok(packet) = icmpv4::Packet::new_checked(data) else {
        return;
    };
    black_box((packet.msg_type(), packet.msg_code(), packet.checksum()));
    black_box((
        packet.echo_ident(),
        packet.echo_seq_no(),
        packet.next_hop_mtu(),
    ));
    black_box((packet.pointer(), packet.data(), packet.verify_checksum()));
    black_box(packet.msg_type().is_error());
    if let Some(repr) = parse_both(|mode| icmpv4::Repr::parse(&packet, mode)) {
        icmpv4_round_trip(&repr);
    }
}

fn icmpv4_round_trip(repr: &icmpv4::Repr<'_>) {
    if !repr.is_valid() {
        return;
    }
    let bytes = emitted(repr.buffer_len(), |b| {
        repr.emit(&mut icmpv4::Packet::new_unchecked(b));
    });
    reparse(&bytes, *repr, |b| {
        icmpv4::Repr::parse(&icmpv4::Packet::new_checked(b)?, ChecksumMode::Verify)
    });
}

/// UDP between 10.0.0.1 and 10.0.0.2.
pub fn udp(data: &[u8]) {
    udp_between(data, SRC, DST);
}

fn udp_between(data: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    let Ok(packet) = udp::Packet::new_checked(data) else {
        return;
    };
    black_box((packet.src_port(), packet.dst_port(), packet.len()));
    black_box((packet.checksum(), packet.payload()));
    black_box(packet.verify_checksum(src, dst));
    if let Some(repr) = parse_both(|mode| udp::Repr::parse(&packet, src, dst, mode)) {
        udp_round_trip(&repr, src, dst);
    }
}

fn udp_round_trip(repr: &udp::Repr<'_>, src: Ipv4Addr, dst: Ipv4Addr) {
    if !repr.is_valid() {
        return;
    }
    let bytes = emitted(repr.buffer_len(), |b| {
        repr.emit(&mut udp::Packet::new_unchecked(b), src, dst);
    });
    reparse(&bytes, *repr, |b| {
        udp::Repr::parse(
            &udp::Packet::new_checked(b)?,
            src,
            dst,
            ChecksumMode::Verify,
        )
    });
}

/// TCP between 10.0.0.1 and 10.0.0.2. Also holds the option iterator to [`tcp_options`]'s
/// rules, and `Repr::parse` to failing exactly when the iterator yields an error.
pub fn tcp(data: &[u8]) {
    tcp_between(data, SRC, DST);
}

fn tcp_between(data: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    let Ok(packet) = tcp::Packet::new_checked(data) else {
        return;
    };
    black_box((packet.src_port(), packet.dst_port(), packet.seq_number()));
    black_box((packet.ack_number(), packet.header_len(), packet.flags()));
    black_box((
        packet.window_len(),
        packet.checksum(),
        packet.urgent_pointer(),
    ));
    black_box((packet.options(), packet.payload(), packet.segment_len()));
    black_box(packet.verify_checksum(src, dst));
    let options_ok = walk_options(packet.options());
    let parsed = parse_both(|mode| tcp::Repr::parse(&packet, src, dst, mode));
    assert_eq!(
        parsed.is_some(),
        options_ok,
        "parse and the option iterator disagree"
    );
    if let Some(repr) = parsed {
        assert_eq!(repr.segment_len(), packet.segment_len());
        tcp_round_trip(&repr, src, dst);
    }
}

fn tcp_round_trip(repr: &tcp::Repr<'_>, src: Ipv4Addr, dst: Ipv4Addr) {
    if !repr.is_valid() {
        return;
    }
    let bytes = emitted(repr.buffer_len(), |b| {
        repr.emit(&mut tcp::Packet::new_unchecked(b), src, dst);
    });
    reparse(&bytes, *repr, |b| {
        tcp::Repr::parse(
            &tcp::Packet::new_checked(b)?,
            src,
            dst,
            ChecksumMode::Verify,
        )
    });
}

/// Walks an options area with [`tcp::TcpOptionIter`], checking its documented bounds: at most
/// one item per byte, at most one error and nothing after it, fused. Whether no error came.
fn walk_options(area: &[u8]) -> bool {
    let mut iter = tcp::TcpOptionIter::new(area);
    let mut items = 0;
    let mut ok = true;
    for option in iter.by_ref() {
        assert!(ok, "an option after an error");
        ok = black_box(option).is_ok();
        items += 1;
    }
    assert!(
        items <= area.len(),
        "{items} options in {} bytes",
        area.len()
    );
    assert!(iter.next().is_none(), "the iterator is fused");
    ok
}

/// A TCP options area: walked on its own, then zero-padded to a word boundary, put behind a
/// 20-byte header and run through [`tcp`] (when it fits the 40 bytes an area can hold).
pub fn tcp_options(data: &[u8]) {
    walk_options(data);
    if data.len() > tcp::MAX_OPTIONS_LEN {
        return;
    }
    let mut bytes = vec![0; tcp::HEADER_LEN + data.len().next_multiple_of(4)];
    bytes[tcp::HEADER_LEN..][..data.len()].copy_from_slice(data);
    let len = bytes.len();
    let mut packet = tcp::Packet::new_unchecked(&mut bytes[..]);
    packet.set_header_len(len);
    packet.fill_checksum(SRC, DST);
    tcp(&bytes);
}

/// A whole frame, taken apart the way a host does: Ethernet, then ARP or IPv4 by EtherType,
/// then for an unfragmented datagram ICMP, UDP or TCP by protocol, each layer run through its
/// own body. IPv4 checksums are not required to verify, so that the fuzzer gets deeper.
pub fn frame(data: &[u8]) {
    ethernet(data);
    let Ok(frame) = ethernet::Frame::new_checked(data) else {
        return;
    };
    match ethernet::Repr::parse(&frame).map(|repr| repr.ethertype) {
        Ok(EtherType::ARP) => arp(frame.payload()),
        Ok(EtherType::IPV4) => datagram(frame.payload()),
        _ => {}
    }
}

fn datagram(data: &[u8]) {
    ipv4(data);
    let Ok(packet) = ipv4::Packet::new_checked(data) else {
        return;
    };
    let Ok(ip) = ipv4::Repr::parse(&packet, ChecksumMode::Ignore) else {
        return;
    };
    if ip.more_frags || ip.frag_offset != 0 {
        return; // reassembly comes first
    }
    let (payload, src, dst) = (packet.payload(), ip.src_addr, ip.dst_addr);
    match ip.protocol {
        ipv4::IpProtocol::ICMP => icmpv4(payload),
        ipv4::IpProtocol::UDP => udp_between(payload, src, dst),
        ipv4::IpProtocol::TCP => tcp_between(payload, src, dst),
        _ => {}
    }
}

/// Builds an `R` from the whole input (the last field takes the rest) and hands it to `check`.
#[cfg(feature = "arbitrary")]
fn structured<'a, R: arbitrary::Arbitrary<'a>>(data: &'a [u8], check: impl FnOnce(&R)) {
    if let Ok(value) = R::arbitrary_take_rest(arbitrary::Unstructured::new(data)) {
        check(&value);
    }
}

/// An arbitrary Ethernet header and payload, emitted and parsed back.
#[cfg(feature = "arbitrary")]
pub fn ethernet_repr(data: &[u8]) {
    structured(data, |(repr, payload): &(ethernet::Repr, &[u8])| {
        ethernet_round_trip(repr, payload);
    });
}

/// An arbitrary ARP packet, emitted and parsed back.
#[cfg(feature = "arbitrary")]
pub fn arp_repr(data: &[u8]) {
    structured(data, arp_round_trip);
}

/// An arbitrary IPv4 header (with a payload of `payload_len` bytes), emitted and parsed back.
#[cfg(feature = "arbitrary")]
pub fn ipv4_repr(data: &[u8]) {
    structured(data, |repr: &ipv4::Repr| {
        if repr.is_valid() {
            ipv4_round_trip(repr, &vec![JUNK; repr.payload_len]);
        }
    });
}

/// An arbitrary ICMPv4 message, emitted and parsed back.
#[cfg(feature = "arbitrary")]
pub fn icmpv4_repr(data: &[u8]) {
    structured(data, |repr: &icmpv4::Repr<'_>| icmpv4_round_trip(repr));
}

/// An arbitrary UDP datagram, emitted and parsed back.
#[cfg(feature = "arbitrary")]
pub fn udp_repr(data: &[u8]) {
    structured(data, |repr: &udp::Repr<'_>| udp_round_trip(repr, SRC, DST));
}

/// An arbitrary TCP segment, emitted and parsed back.
#[cfg(feature = "arbitrary")]
pub fn tcp_repr(data: &[u8]) {
    structured(data, |repr: &tcp::Repr<'_>| tcp_round_trip(repr, SRC, DST));
}

#[cfg(feature = "arbitrary")]
pub mod host_state;
#[cfg(feature = "arbitrary")]
pub mod tcp_pair;

#[cfg(feature = "arbitrary")]
pub use host_state::host_state;
#[cfg(feature = "arbitrary")]
pub use tcp_pair::tcp_pair;
