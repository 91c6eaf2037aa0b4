//! Scripted endpoints for testing the simulator itself (and for scripted peers): they send
//! what they are told, when they are told, and remember everything they receive.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use sansnet_stack::time::Instant;
use sansnet_stack::wire::{ipv4, udp, EtherType, EthernetAddress, EthernetFrame, EthernetRepr};

use crate::endpoint::Endpoint;

/// A frame a [`Scripted`] endpoint received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// When.
    pub at: Instant,
    /// On which NIC.
    pub nic: usize,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Sends frames at scheduled instants, optionally echoes what it receives (source and
/// destination MACs swapped), and records every frame it receives.
#[derive(Clone, Debug, Default)]
pub struct Scripted {
    /// Frames to send: `(when, nic, bytes)`, kept sorted by time (stable).
    schedule: VecDeque<(Instant, usize, Vec<u8>)>,
    outbox: VecDeque<(usize, Vec<u8>)>,
    received: Vec<Received>,
    echo: bool,
    timeouts: u64,
}

impl Scripted {
    /// Sends nothing, echoes nothing.
    pub fn new() -> Scripted {
        Scripted::default()
    }

    /// Reflects every frame back out of the NIC it came in on.
    pub fn echo() -> Scripted {
        Scripted {
            echo: true,
            ..Scripted::default()
        }
    }

    /// Adds a frame to send on `nic` at `at`; chains.
    pub fn send_at(mut self, at: Instant, nic: usize, frame: Vec<u8>) -> Scripted {
        self.push_send(at, nic, frame);
        self
    }

    /// Adds a frame to send on `nic` at `at`.
    pub fn push_send(&mut self, at: Instant, nic: usize, frame: Vec<u8>) {
        let pos = self.schedule.partition_point(|(t, _, _)| *t <= at);
        self.schedule.insert(pos, (at, nic, frame));
    }

    /// Queues a frame to go out at the next service (now, from the simulator's view).
    pub fn send_now(&mut self, nic: usize, frame: Vec<u8>) {
        self.outbox.push_back((nic, frame));
    }

    /// Everything received so far.
    pub fn received(&self) -> &[Received] {
        &self.received
    }

    /// How many times `handle_timeout` was called.
    pub fn timeouts(&self) -> u64 {
        self.timeouts
    }
}

impl Endpoint for Scripted {
    fn handle_frame(&mut self, now: Instant, nic: usize, frame: &[u8]) {
        self.received.push(Received {
            at: now,
            nic,
            bytes: frame.to_vec(),
        });
        if self.echo && frame.len() >= 12 {
            let mut reply = frame.to_vec();
            reply[..6].copy_from_slice(&frame[6..12]);
            reply[6..12].copy_from_slice(&frame[..6]);
            self.outbox.push_back((nic, reply));
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        let (nic, frame) = match self.outbox.pop_front() {
            Some(next) => next,
            None if self.schedule.front().is_some_and(|(t, _, _)| *t <= now) => {
                let (_, nic, frame) = self.schedule.pop_front()?;
                (nic, frame)
            }
            None => return None,
        };
        let len = frame.len().min(buf.len());
        buf[..len].copy_from_slice(&frame[..len]);
        Some((nic, len))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.front().map(|(t, _, _)| *t)
    }

    fn handle_timeout(&mut self, _now: Instant) {
        self.timeouts += 1;
    }
}

/// An EtherType for the local experiments (IEEE 802 "Local Experimental Ethertype 1").
pub const ETHERTYPE_EXPERIMENT: EtherType = EtherType(0x88b5);

/// An Ethernet frame with EtherType 0x88b5 whose payload starts with `tag` (big-endian) and
/// is zero-padded to `payload_len` (at least 8).
pub fn test_frame(
    src: EthernetAddress,
    dst: EthernetAddress,
    tag: u64,
    payload_len: usize,
) -> Vec<u8> {
    let repr = EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        vlan: None,
        ethertype: ETHERTYPE_EXPERIMENT,
    };
    let mut bytes = vec![0u8; repr.buffer_len() + payload_len.max(8)];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    repr.emit(&mut frame);
    frame.payload_mut()[..8].copy_from_slice(&tag.to_be_bytes());
    bytes
}

/// The tag [`test_frame`] put in a frame.
pub fn frame_tag(frame: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = frame.get(14..22)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// A well-formed Ethernet + IPv4 + UDP frame, checksums filled, built with the stack's wire
/// module (valid enough for Wireshark to dissect without complaint).
#[allow(clippy::too_many_arguments)]
pub fn udp_frame(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    ident: u16,
    payload: &[u8],
) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    let udp = udp::Repr {
        src_port,
        dst_port,
        payload,
    };
    let ip = ipv4::Repr {
        src_addr: src_ip,
        dst_addr: dst_ip,
        protocol: ipv4::IpProtocol::UDP,
        payload_len: udp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        options: ipv4::Ipv4Options::default(),
    };
    let mut bytes = vec![0u8; eth.buffer_len() + ip.buffer_len()];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    eth.emit(&mut frame);
    let mut packet = ipv4::Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet);
    let mut datagram = udp::Packet::new_unchecked(packet.payload_mut());
    udp.emit(&mut datagram, src_ip, dst_ip);
    bytes
}
