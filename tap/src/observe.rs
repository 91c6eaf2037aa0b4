//! What the frames at the adapter say about sansnet's TCP, read the way tcptrace reads a
//! capture: from the outside, so that it counts the same on any version of the stack.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::ipv4::{self, IpProtocol};
use sansnet_stack::wire::tcp::{self, TcpFlags};
use sansnet_stack::wire::{ChecksumMode, EtherType, EthernetFrame};

/// Counts read off the frames at the adapter, for sansnet's address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservedCounts {
    /// TCP segments sansnet transmitted (before the loss injector).
    pub segments_out: u64,
    /// Of those, the ones carrying payload.
    pub data_segments_out: u64,
    /// Segments sansnet sent that carried sequence space it had sent before (payload, SYN or
    /// FIN below the highest sequence number already sent on the connection): its
    /// retransmissions, whatever sent them (RTO, fast retransmit, SACK recovery, TLP).
    pub retransmitted_segments: u64,
    /// The sequence space those retransmissions repeated.
    pub retransmitted_bytes: u64,
    /// Retransmissions sent after sansnet had sent nothing on the connection for
    /// [`TcpObserver::STALL`] or more: retransmission timeouts, in practice (the RTO is
    /// at least 200 ms; fast retransmits, SACK recovery and tail loss probes follow ACKs
    /// within a few round trips).
    pub stalls: u64,
    /// The silence before those retransmissions, added up: time spent waiting on timers.
    pub stall_time: Duration,
    /// TCP segments sansnet received (after the loss injector).
    pub segments_in: u64,
    /// Of those, pure ACKs (ACK set; no SYN, FIN or RST; no payload).
    pub pure_acks_in: u64,
    /// Pure ACKs whose sequence number was exactly sansnet's right window edge (SEG.SEQ =
    /// RCV.NXT + RCV.WND, with RCV.WND > 0) when they arrived: what the kernel sends while
    /// its data fills sansnet's window. RFC 9293's acceptability test taken literally
    /// rejects them; Linux accepts them (issue 15; fixed in commit 05e875c).
    pub right_edge_acks: u64,
    /// Segments from the kernel carrying a D-SACK (RFC 2883: the first SACK block below the
    /// cumulative ACK, or inside the second block): the kernel saying it received a
    /// segment twice.
    pub dsacks_in: u64,
}

/// One connection, seen from sansnet's side.
#[derive(Debug, Clone, Default)]
struct Flow {
    /// Highest sequence number sansnet sent, plus one.
    snd_max: Option<u32>,
    /// When sansnet last sent a segment on the connection.
    last_out: Option<Instant>,
    /// The window scale sansnet offered, and the kernel's; sansnet's windows are scaled by
    /// its own shift once both SYNs carried the option.
    our_ws: Option<u8>,
    peer_ws: Option<u8>,
    /// The kernel's data received in order by sansnet, plus one (RCV.NXT).
    rcv_nxt: Option<u32>,
    /// The right edge sansnet advertised (RCV.NXT + RCV.WND), the highest so far, as the
    /// stack keeps it.
    rcv_adv: Option<u32>,
    /// Out-of-order data sansnet holds: `[start, end)` ranges, sorted, disjoint.
    ooo: Vec<(u32, u32)>,
}

/// `a < b` in sequence space.
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn seq_max(a: u32, b: u32) -> u32 {
    if seq_lt(a, b) {
        b
    } else {
        a
    }
}

/// The most connections tracked (a lab has one or a few).
const MAX_FLOWS: usize = 1024;
/// The most out-of-order ranges tracked per connection.
const MAX_RANGES: usize = 64;

/// Reads every frame that crosses the adapter and keeps, per connection of `local`, the
/// sequence state needed for [`ObservedCounts`]. Frames that are not TCP to or from `local`
/// are ignored; a frame that does not parse is ignored (the host counts it).
#[derive(Debug, Clone)]
pub struct TcpObserver {
    local: Ipv4Addr,
    /// By (local port, remote address, remote port).
    flows: BTreeMap<(u16, Ipv4Addr, u16), Flow>,
    counts: ObservedCounts,
}

struct Segment<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    repr: tcp::Repr<'a>,
}

fn parse(frame: &[u8]) -> Option<Segment<'_>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.vlan().is_some() || eth.ethertype() != EtherType::IPV4 {
        return None;
    }
    let ip_bytes: &[u8] = frame.get(eth.header_len()..)?;
    let ip = ipv4::Packet::new_checked(ip_bytes).ok()?;
    if ip.protocol() != IpProtocol::TCP || ip.more_frags() || ip.frag_offset() != 0 {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    // The slices borrow the frame, not the views.
    let tcp_bytes: &[u8] = ip_bytes.get(ip.header_len()..usize::from(ip.total_len()))?;
    let seg = tcp::Packet::new_checked(tcp_bytes).ok()?;
    let repr = tcp::Repr::parse(&seg, src, dst, ChecksumMode::Ignore).ok()?;
    Some(Segment { src, dst, repr })
}

impl TcpObserver {
    /// The silence before a retransmission that counts it as a stall.
    pub const STALL: Duration = Duration::from_millis(100);

    /// An observer of `local`'s connections.
    pub fn new(local: Ipv4Addr) -> TcpObserver {
        TcpObserver {
            local,
            flows: BTreeMap::new(),
            counts: ObservedCounts::default(),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> ObservedCounts {
        self.counts
    }

    fn flow(&mut self, key: (u16, Ipv4Addr, u16), syn: bool) -> Option<&mut Flow> {
        if syn && !self.flows.contains_key(&key) && self.flows.len() >= MAX_FLOWS {
            return None;
        }
        if syn {
            Some(self.flows.entry(key).or_default())
        } else {
            self.flows.get_mut(&key)
        }
    }

    /// A frame the host transmitted at `now` (read before the loss injector: what sansnet
    /// sent).
    pub fn outbound(&mut self, now: Instant, frame: &[u8]) {
        let Some(seg) = parse(frame) else { return };
        if seg.src != self.local {
            return;
        }
        let r = seg.repr;
        self.counts.segments_out += 1;
        if !r.payload.is_empty() {
            self.counts.data_segments_out += 1;
        }
        let syn = r.flags.contains(TcpFlags::SYN);
        let key = (r.src_port, seg.dst, r.dst_port);
        let mut retransmitted = 0;
        let Some(flow) = self.flow(key, syn) else {
            return;
        };
        if syn {
            flow.our_ws = r.window_scale;
        }
        let seq = r.seq_number.0;
        let seg_len = r.segment_len() as u32;
        if seg_len > 0 {
            let end = seq.wrapping_add(seg_len);
            match flow.snd_max {
                Some(max) if seq_lt(seq, max) => {
                    retransmitted = max.wrapping_sub(seq).min(seg_len);
                    flow.snd_max = Some(seq_max(max, end));
                }
                Some(max) => flow.snd_max = Some(seq_max(max, end)),
                None => flow.snd_max = Some(end),
            }
        }
        if r.flags.contains(TcpFlags::ACK) {
            let ack = r.ack_number.0;
            let shift = match (syn, flow.our_ws, flow.peer_ws) {
                (false, Some(ours), Some(_)) => u32::from(ours.min(14)),
                _ => 0,
            };
            let edge = ack.wrapping_add(u32::from(r.window_len) << shift);
            flow.rcv_adv = Some(flow.rcv_adv.map_or(edge, |adv| seq_max(adv, edge)));
            // What sansnet acknowledges it has received in order.
            flow.rcv_nxt = Some(flow.rcv_nxt.map_or(ack, |nxt| seq_max(nxt, ack)));
            Self::merge(flow);
        }
        let silence = flow
            .last_out
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        flow.last_out = Some(now);
        if retransmitted > 0 {
            self.counts.retransmitted_segments += 1;
            self.counts.retransmitted_bytes += u64::from(retransmitted);
            if silence >= Self::STALL {
                self.counts.stalls += 1;
                self.counts.stall_time += silence;
            }
        }
    }

    /// A frame handed to the host (read after the loss injector: what sansnet received).
    pub fn inbound(&mut self, frame: &[u8]) {
        let Some(seg) = parse(frame) else { return };
        if seg.dst != self.local {
            return;
        }
        let r = seg.repr;
        self.counts.segments_in += 1;
        let syn = r.flags.contains(TcpFlags::SYN);
        let key = (r.dst_port, seg.src, r.src_port);
        let Some(flow) = self.flow(key, syn) else {
            return;
        };
        let seq = r.seq_number.0;
        let mut right_edge = false;
        let mut pure = false;
        if syn {
            flow.peer_ws = r.window_scale;
            if flow.rcv_nxt.is_none() {
                flow.rcv_nxt = Some(seq.wrapping_add(1));
            }
        } else if r.flags.contains(TcpFlags::ACK)
            && !r.flags.intersects(TcpFlags::FIN | TcpFlags::RST)
            && r.payload.is_empty()
        {
            pure = true;
            right_edge = matches!((flow.rcv_nxt, flow.rcv_adv),
                (Some(nxt), Some(adv)) if seq == adv && nxt != adv);
        }
        let dsack = r.flags.contains(TcpFlags::ACK)
            && match r.sack_ranges.as_slice() {
                [] => false,
                [(l, rr), rest @ ..] => {
                    !seq_lt(r.ack_number.0, rr.0)
                        || rest
                            .first()
                            .is_some_and(|(l2, r2)| !seq_lt(l.0, l2.0) && !seq_lt(r2.0, rr.0))
                }
            };
        // In-window data moves the receive state on as the host will.
        let len = r.payload.len() as u32 + u32::from(r.flags.contains(TcpFlags::FIN));
        if !syn && len > 0 {
            if let (Some(nxt), Some(adv)) = (flow.rcv_nxt, flow.rcv_adv) {
                let mut end = seq.wrapping_add(len);
                if seq_lt(adv, end) {
                    end = adv;
                }
                if seq_lt(seq, end) && seq_lt(nxt, end) {
                    if !seq_lt(nxt, seq) {
                        flow.rcv_nxt = Some(end);
                    } else if flow.ooo.len() < MAX_RANGES {
                        flow.ooo.push((seq, end));
                    }
                    Self::merge(flow);
                }
            }
        }
        self.counts.pure_acks_in += u64::from(pure);
        self.counts.right_edge_acks += u64::from(right_edge);
        self.counts.dsacks_in += u64::from(dsack);
    }

    /// Joins out-of-order ranges that RCV.NXT reached, and forgets those below it.
    fn merge(flow: &mut Flow) {
        let Some(mut nxt) = flow.rcv_nxt else { return };
        let mut changed = true;
        while changed {
            changed = false;
            flow.ooo.retain(|&(start, end)| {
                if seq_lt(nxt, start) {
                    return true;
                }
                if seq_lt(nxt, end) {
                    nxt = end;
                    changed = true;
                }
                false
            });
        }
        flow.rcv_nxt = Some(nxt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SANSNET: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const KERNEL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    /// An Ethernet + IPv4 + TCP frame (checksums left zero: the observer ignores them).
    #[allow(clippy::too_many_arguments)]
    fn frame(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        window: u16,
        window_scale: Option<u8>,
        sack: &[(u32, u32)],
        payload: usize,
    ) -> Vec<u8> {
        let mut sack_blocks = tcp::SackBlocks::new();
        for &(l, r) in sack {
            sack_blocks.push((
                sansnet_stack::wire::SeqNumber(l),
                sansnet_stack::wire::SeqNumber(r),
            ));
        }
        let data = vec![0xaa; payload];
        let repr = tcp::Repr {
            src_port: if src == SANSNET { 7 } else { 40000 },
            dst_port: if src == SANSNET { 40000 } else { 7 },
            flags,
            seq_number: sansnet_stack::wire::SeqNumber(seq),
            ack_number: sansnet_stack::wire::SeqNumber(ack),
            window_len: window,
            window_scale,
            sack_ranges: sack_blocks,
            payload: &data,
            ..tcp::Repr::default()
        };
        let tcp_len = repr.buffer_len();
        let mut f = vec![0u8; 14 + 20 + tcp_len];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&src.octets());
        ip[16..20].copy_from_slice(&dst.octets());
        let mut seg = tcp::Packet::new_unchecked(&mut f[34..]);
        repr.emit(&mut seg, src, dst);
        f
    }

    const A: TcpFlags = TcpFlags::ACK;
    const T0: Instant = Instant::ZERO;

    /// A handshake: the kernel connects to sansnet (ISNs 1000 and 5000), both offer window
    /// scale 7; sansnet's SYN-ACK advertises 12800 (unscaled, as in any SYN).
    fn established() -> TcpObserver {
        let mut o = TcpObserver::new(SANSNET);
        o.inbound(&frame(
            KERNEL,
            SANSNET,
            TcpFlags::SYN,
            1000,
            0,
            64240,
            Some(7),
            &[],
            0,
        ));
        o.outbound(
            T0,
            &frame(
                SANSNET,
                KERNEL,
                TcpFlags::SYN | A,
                5000,
                1001,
                12800,
                Some(7),
                &[],
                0,
            ),
        );
        o.inbound(&frame(KERNEL, SANSNET, A, 1001, 5001, 502, None, &[], 0));
        o
    }

    #[test]
    fn retransmissions_are_sequence_space_sent_twice() {
        let mut o = established();
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 5001, 1001, 100, None, &[], 1000),
        );
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 6001, 1001, 100, None, &[], 1000),
        );
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 5001, 1001, 100, None, &[], 1000),
        );
        // A pure ACK with an old sequence number is no retransmission.
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 7001, 1001, 100, None, &[], 0),
        );
        // Half old, half new.
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 6501, 1001, 100, None, &[], 1000),
        );
        let c = o.counts();
        assert_eq!(c.segments_out, 6);
        assert_eq!(c.data_segments_out, 4);
        assert_eq!(c.retransmitted_segments, 2);
        assert_eq!(c.retransmitted_bytes, 1500);
    }

    #[test]
    fn a_pure_ack_at_the_right_edge_is_counted_only_with_an_open_window() {
        let mut o = established();
        // sansnet advertises 100 << 7 = 12800 bytes from 1001: right edge 13801.
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 5001, 1001, 100, None, &[], 0),
        );
        // The kernel fills the window; the first segment is lost (never observed).
        for i in 1..8 {
            o.inbound(&frame(
                KERNEL,
                SANSNET,
                A,
                1001 + i * 1600,
                5001,
                502,
                None,
                &[],
                1600,
            ));
        }
        // Its pure ACK now sits at the right edge: SEG.SEQ = 13801, RCV.NXT = 1001.
        o.inbound(&frame(
            KERNEL,
            SANSNET,
            A,
            13801,
            5001,
            502,
            None,
            &[(5001, 6001)],
            0,
        ));
        assert_eq!(o.counts().right_edge_acks, 1);
        assert_eq!(o.counts().pure_acks_in, 2);
        // The hole is filled: RCV.NXT reaches the edge, the window is zero, and an ACK at
        // SEG.SEQ = RCV.NXT is plainly acceptable.
        o.inbound(&frame(KERNEL, SANSNET, A, 1001, 5001, 502, None, &[], 1600));
        o.inbound(&frame(KERNEL, SANSNET, A, 13801, 5001, 502, None, &[], 0));
        assert_eq!(o.counts().right_edge_acks, 1);
        // An ACK inside the window is not at the edge.
        o.outbound(
            T0,
            &frame(SANSNET, KERNEL, A, 5001, 13801, 100, None, &[], 0),
        );
        o.inbound(&frame(KERNEL, SANSNET, A, 13801, 5001, 502, None, &[], 0));
        assert_eq!(o.counts().right_edge_acks, 1);
        assert_eq!(o.counts().pure_acks_in, 4);
    }

    #[test]
    fn a_retransmission_after_silence_is_a_stall() {
        let mut o = established();
        let data = |o: &mut TcpObserver, ms: u64, seq: u32| {
            o.outbound(
                Instant::from_millis(ms),
                &frame(SANSNET, KERNEL, A, seq, 1001, 100, None, &[], 1000),
            );
        };
        data(&mut o, 10, 5001);
        data(&mut o, 11, 6001);
        // A fast retransmission: no stall.
        data(&mut o, 12, 5001);
        // Silence, then the timer: a stall of 250 ms.
        data(&mut o, 262, 6001);
        // New data after silence is no retransmission.
        data(&mut o, 900, 7001);
        let c = o.counts();
        assert_eq!(c.retransmitted_segments, 2);
        assert_eq!(c.stalls, 1);
        assert_eq!(c.stall_time, Duration::from_millis(250));
    }

    #[test]
    fn dsacks_are_recognised() {
        let mut o = established();
        // Below the cumulative ACK.
        o.inbound(&frame(
            KERNEL,
            SANSNET,
            A,
            1001,
            9001,
            502,
            None,
            &[(5001, 6001)],
            0,
        ));
        // Inside the second block.
        o.inbound(&frame(
            KERNEL,
            SANSNET,
            A,
            1001,
            5001,
            502,
            None,
            &[(7001, 8001), (6001, 9001)],
            0,
        ));
        // An ordinary SACK.
        o.inbound(&frame(
            KERNEL,
            SANSNET,
            A,
            1001,
            5001,
            502,
            None,
            &[(7001, 8001)],
            0,
        ));
        assert_eq!(o.counts().dsacks_in, 2);
    }

    #[test]
    fn other_traffic_is_ignored() {
        let mut o = established();
        let before = o.counts();
        o.inbound(&[0u8; 10]);
        o.inbound(&frame(
            KERNEL,
            Ipv4Addr::new(1, 2, 3, 4),
            A,
            1,
            1,
            1,
            None,
            &[],
            0,
        ));
        o.outbound(T0, &frame(KERNEL, SANSNET, A, 1, 1, 1, None, &[], 0));
        assert_eq!(o.counts(), before);
    }
}
