//! How a host acknowledges a burst of segments that arrived together (handed to it one
//! after another at one instant, before it is polled): the first ACK owed goes at once, the
//! rest of the in-order burst is covered by one ACK at the end (at most 64 KiB a time, as
//! Linux's GRO merges); out of order, with SACK, a run behind a hole is answered every
//! second segment, anything else segment by segment.

mod host_support;

use host_support::*;
use pretty_assertions::assert_eq;
use sansnet_stack::iface::HostConfig;
use sansnet_stack::time::Duration;
use sansnet_stack::wire::tcp::{Packet, Repr, TcpFlags};
use sansnet_stack::wire::{ipv4, ChecksumMode, SeqNumber};

const SEC: Duration = Duration::from_secs(1);
const MSS: usize = 1460;

fn config(n: u8, coalescing: bool) -> HostConfig {
    let mut cfg = host_config(n);
    cfg.tcp.timestamps = false;
    cfg.tcp.send_buffer_bytes = 1 << 20;
    cfg.tcp.recv_buffer_bytes = 1 << 20;
    cfg.tcp.reassembly_ranges = 64;
    cfg.tcp.ack_coalescing = coalescing;
    cfg
}

/// A TCP segment's fields, from an Ethernet frame.
#[derive(Clone, Copy, Debug)]
struct Seg {
    src_port: u16,
    dst_port: u16,
    seq: SeqNumber,
    ack: SeqNumber,
    window: u16,
    flags: TcpFlags,
    len: usize,
    sack_blocks: usize,
    /// The first SACK block.
    sack_first: Option<(SeqNumber, SeqNumber)>,
}

fn parse(frame: &[u8]) -> Option<Seg> {
    let (ip, bytes) = parse_ip(frame)?;
    if ip.protocol != ipv4::IpProtocol::TCP {
        return None;
    }
    let p = Packet::new_checked(&bytes[..]).ok()?;
    let r = Repr::parse(&p, ip.src_addr, ip.dst_addr, ChecksumMode::Verify).ok()?;
    Some(Seg {
        src_port: r.src_port,
        dst_port: r.dst_port,
        seq: r.seq_number,
        ack: r.ack_number,
        window: r.window_len,
        flags: r.flags,
        len: r.payload.len(),
        sack_blocks: r.sack_ranges.len(),
        sack_first: r.sack_ranges.as_slice().first().copied(),
    })
}

/// Host 2 has an established connection from host 1; returns the net and the segment
/// host 1 would send next (its sequence number, ports, ACK and window), with no payload.
fn established() -> (Net, Seg) {
    established_with(true, true)
}

fn established_with(coalescing: bool, sack: bool) -> (Net, Seg) {
    let configs = [1, 2].map(|n| {
        let mut cfg = config(n, coalescing);
        cfg.tcp.sack = sack;
        cfg
    });
    let mut net = Net::new(configs.into());
    net.segment(vec![(0, 0), (1, 0)]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    net.accept(1, l).expect("accepted");
    net.send_all(0, c, b"x");
    net.run_for(SEC);
    let last = net
        .log
        .iter()
        .filter(|(_, h, _)| *h == 0)
        .filter_map(|(_, _, f)| parse(f))
        .rfind(|s| s.len == 1)
        .expect("host 1 sent its byte");
    let next = Seg {
        seq: last.seq + 1,
        len: 0,
        ..last
    };
    (net, next)
}

/// The `i`th full segment after `first`, as a frame from host 1 to host 2.
fn data_frame(first: Seg, i: usize) -> Vec<u8> {
    let payload = vec![i as u8; MSS];
    let repr = Repr {
        src_port: first.src_port,
        dst_port: first.dst_port,
        seq_number: first.seq + i * MSS,
        ack_number: first.ack,
        window_len: first.window,
        flags: TcpFlags::ACK,
        payload: &payload,
        ..Repr::default()
    };
    let (src, dst) = (*addr(1, 0).ip(), *addr(2, 0).ip());
    let mut tcp = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut tcp[..]), src, dst);
    let ip = ip_repr(src, dst, ipv4::IpProtocol::TCP, tcp.len());
    ip_frame(mac(1, 0), mac(2, 0), &ip, &tcp)
}

/// Hands host 2 the segments `which` of the burst at one instant, then polls it: the
/// segments it sent, in order.
fn burst(net: &mut Net, first: Seg, which: impl IntoIterator<Item = usize>) -> Vec<Seg> {
    let now = net.now + Duration::from_millis(1);
    net.now = now;
    let host = &mut net.hosts[1];
    for i in which {
        host.handle_frame(now, 0, &data_frame(first, i));
    }
    let mut out = vec![];
    let mut buf = vec![0u8; 1600];
    while let Some((_, len)) = host.poll_transmit(now, &mut buf) {
        out.extend(parse(&buf[..len]));
    }
    out
}

/// The segments' ACK numbers, in multiples of MSS past `first`.
fn acked(first: Seg, segs: &[Seg]) -> Vec<usize> {
    segs.iter()
        .inspect(|s| assert!(s.len == 0 && s.flags == TcpFlags::ACK, "{s:?}"))
        .map(|s| (s.ack - first.seq) / MSS)
        .collect()
}

#[test]
fn an_in_order_burst_is_acknowledged_after_two_segments_and_at_its_end() {
    let (mut net, first) = established();
    let out = burst(&mut net, first, 0..10);
    assert_eq!(acked(first, &out), vec![2, 10]);
    // The next burst, at a later instant, starts over: its first ACK goes at once.
    let out = burst(&mut net, first, 10..14);
    assert_eq!(acked(first, &out), vec![12, 14]);
    // A burst of one full segment waits for the delayed-ACK timer (MUST-40), as ever.
    let out = burst(&mut net, first, 14..15);
    assert_eq!(acked(first, &out), Vec::<usize>::new());
}

#[test]
fn a_coalesced_ack_covers_at_most_64_kib() {
    let (mut net, first) = established();
    // 45 full segments (65,700 bytes) after an ACK make the next one due at once.
    let out = burst(&mut net, first, 0..100);
    assert_eq!(acked(first, &out), vec![2, 47, 92, 100]);
}

/// The first SACK block of each segment, in multiples of MSS past `first`.
fn sacked(first: Seg, segs: &[Seg]) -> Vec<(usize, usize)> {
    segs.iter()
        .map(|s| {
            let (l, r) = s.sack_first.expect("a SACK block");
            ((l - first.seq) / MSS, (r - first.seq) / MSS)
        })
        .collect()
}

#[test]
fn a_run_behind_a_hole_is_answered_every_second_segment() {
    let (mut net, first) = established();
    // Segment 2 is missing: the first two are acknowledged; the first segment behind the
    // hole draws a duplicate ACK at once (RFC 5681 section 4.2), then the run that
    // continues its SACK block one every second segment, the last at the burst's end.
    let out = burst(&mut net, first, (0..11).filter(|&i| i != 2));
    assert_eq!(acked(first, &out), vec![2, 2, 2, 2, 2, 2]);
    assert_eq!(
        sacked(first, &out[1..]),
        vec![(3, 4), (3, 6), (3, 8), (3, 10), (3, 11)]
    );
    // The hole filled: that ACK goes at once, the rest of the burst waits for its end.
    let out = burst(&mut net, first, [2, 11, 12, 13]);
    assert_eq!(acked(first, &out), vec![11, 14]);
}

#[test]
fn a_new_hole_or_a_later_burst_is_answered_at_once() {
    let (mut net, first) = established();
    // Two holes (2 and 6): segment 7 opens a new block, answered at once, reporting both.
    let out = burst(&mut net, first, [0, 1, 3, 4, 5, 7, 8]);
    assert_eq!(acked(first, &out), vec![2, 2, 2, 2, 2]);
    assert_eq!(
        sacked(first, &out[1..]),
        vec![(3, 4), (3, 6), (7, 8), (7, 9)]
    );
    assert!(out[3..].iter().all(|s| s.sack_blocks == 2), "{out:?}");
    // The next burst's first segment continues the block, but at a new instant: at once.
    let out = burst(&mut net, first, [9]);
    assert_eq!(sacked(first, &out), vec![(7, 10)]);
}

#[test]
fn without_sack_every_out_of_order_segment_is_answered() {
    // The sender then counts duplicate ACKs (RFC 5681 DupThresh): one per segment.
    let (mut net, first) = established_with(true, false);
    let out = burst(&mut net, first, (0..8).filter(|&i| i != 2));
    assert_eq!(acked(first, &out), vec![2, 2, 2, 2, 2, 2]);
    assert!(out.iter().all(|s| s.sack_blocks == 0), "{out:?}");
}

#[test]
fn without_coalescing_every_second_segment_is_acknowledged() {
    let (mut net, first) = established_with(false, true);
    let out = burst(&mut net, first, 0..10);
    assert_eq!(acked(first, &out), vec![2, 4, 6, 8, 10]);
}
