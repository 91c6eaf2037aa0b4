//! Wire-layer benchmarks, sansnet against smoltcp's `wire` module on the same work:
//!
//! - `checksum/1500`: the RFC 1071 sum over 1500 bytes;
//! - `parse_verify/eth_ipv4_tcp_1460`: Ethernet, IPv4 (header checksum verified) and TCP
//!   (checksum verified, options parsed) of a data segment with a timestamp option and 1460
//!   bytes of payload;
//! - `emit/eth_ipv4_tcp_1460`: the same frame written into a preallocated buffer: headers,
//!   options, the payload copy and both checksums.
//!
//! Run with `cargo bench -p sansnet-stack --bench wire`; compare the two lines of a group
//! within one run.

use core::hint::black_box;
use core::net::Ipv4Addr;
use core::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use sansnet_stack::wire::{
    self, checksum, ethernet, ipv4, tcp, ChecksumMode, EtherType, EthernetAddress, SeqNumber,
};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire as st;

const PAYLOAD_LEN: usize = 1460;
const SRC_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const DST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x65, 0x43, 0x21];
const SRC_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SRC_PORT: u16 = 49152;
const DST_PORT: u16 = 80;
const SEQ: u32 = 0x1234_5678;
const ACK: u32 = 0x9abc_def0;
const WINDOW: u16 = 502;
const TSVAL: u32 = 0x0102_0304;
const TSECR: u32 = 0x0506_0708;
/// 14 Ethernet + 20 IPv4 + 32 TCP (20 + 12 option bytes) + payload.
const FRAME_LEN: usize = 14 + 20 + 32 + PAYLOAD_LEN;

fn payload() -> Vec<u8> {
    (0..PAYLOAD_LEN).map(|i| (i * 7 + 3) as u8).collect()
}

// ---- sansnet ------------------------------------------------------------------------------

struct SansReprs<'a> {
    eth: ethernet::Repr,
    ip: ipv4::Repr,
    tcp: tcp::Repr<'a>,
}

fn sans_reprs(payload: &[u8]) -> SansReprs<'_> {
    let tcp = tcp::Repr {
        src_port: SRC_PORT,
        dst_port: DST_PORT,
        flags: tcp::TcpFlags::ACK | tcp::TcpFlags::PSH,
        seq_number: SeqNumber(SEQ),
        ack_number: SeqNumber(ACK),
        window_len: WINDOW,
        urgent_pointer: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: tcp::SackBlocks::new(),
        timestamp: Some(tcp::TcpTimestamp {
            tsval: TSVAL,
            tsecr: TSECR,
        }),
        payload,
    };
    let ip = ipv4::Repr {
        src_addr: SRC_IP,
        dst_addr: DST_IP,
        protocol: ipv4::IpProtocol::TCP,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        options: ipv4::Ipv4Options::EMPTY,
    };
    let eth = ethernet::Repr {
        src_addr: EthernetAddress(SRC_MAC),
        dst_addr: EthernetAddress(DST_MAC),
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    SansReprs { eth, ip, tcp }
}

fn sans_emit(r: &SansReprs<'_>, buf: &mut [u8]) {
    let eth_len = r.eth.buffer_len();
    r.eth.emit(&mut ethernet::Frame::new_unchecked(&mut *buf));
    let ip_buf = &mut buf[eth_len..eth_len + r.ip.buffer_len()];
    r.ip.emit(&mut ipv4::Packet::new_unchecked(&mut *ip_buf));
    let ip_len = r.ip.header_len();
    r.tcp.emit(
        &mut tcp::Packet::new_unchecked(&mut ip_buf[ip_len..]),
        r.ip.src_addr,
        r.ip.dst_addr,
    );
}

fn sans_parse(frame: &[u8]) -> wire::Result<(ethernet::Repr, ipv4::Repr, tcp::Repr<'_>)> {
    let eth_frame = ethernet::Frame::new_checked(frame)?;
    let eth = ethernet::Repr::parse(&eth_frame)?;
    let ip_bytes = &frame[eth_frame.header_len()..];
    let ip_packet = ipv4::Packet::new_checked(ip_bytes)?;
    let ip = ipv4::Repr::parse(&ip_packet, ChecksumMode::Verify)?;
    // `ipv4::Packet::payload` borrows the view, not the buffer; slice the buffer instead.
    let tcp_bytes = &ip_bytes[ip_packet.header_len()..usize::from(ip_packet.total_len())];
    let tcp_packet = tcp::Packet::new_checked(tcp_bytes)?;
    let tcp = tcp::Repr::parse(&tcp_packet, ip.src_addr, ip.dst_addr, ChecksumMode::Verify)?;
    Ok((eth, ip, tcp))
}

// ---- smoltcp ------------------------------------------------------------------------------

struct SmolReprs<'a> {
    eth: st::EthernetRepr,
    ip: st::Ipv4Repr,
    tcp: st::TcpRepr<'a>,
}

fn smol_reprs(payload: &[u8]) -> SmolReprs<'_> {
    let tcp = st::TcpRepr {
        src_port: SRC_PORT,
        dst_port: DST_PORT,
        control: st::TcpControl::Psh,
        seq_number: st::TcpSeqNumber(SEQ as i32),
        ack_number: Some(st::TcpSeqNumber(ACK as i32)),
        window_len: WINDOW,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None, None, None],
        timestamp: Some(st::TcpTimestampRepr::new(TSVAL, TSECR)),
        payload,
    };
    let ip = st::Ipv4Repr {
        src_addr: SRC_IP,
        dst_addr: DST_IP,
        next_header: st::IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let eth = st::EthernetRepr {
        src_addr: st::EthernetAddress(SRC_MAC),
        dst_addr: st::EthernetAddress(DST_MAC),
        ethertype: st::EthernetProtocol::Ipv4,
    };
    SmolReprs { eth, ip, tcp }
}

fn smol_emit(r: &SmolReprs<'_>, buf: &mut [u8], caps: &ChecksumCapabilities) {
    let mut frame = st::EthernetFrame::new_unchecked(&mut *buf);
    r.eth.emit(&mut frame);
    let mut ip = st::Ipv4Packet::new_unchecked(frame.payload_mut());
    r.ip.emit(&mut ip, caps);
    let mut tcp = st::TcpPacket::new_unchecked(ip.payload_mut());
    r.tcp.emit(
        &mut tcp,
        &st::IpAddress::Ipv4(r.ip.src_addr),
        &st::IpAddress::Ipv4(r.ip.dst_addr),
        caps,
    );
}

fn smol_parse<'a>(
    frame: &'a [u8],
    caps: &ChecksumCapabilities,
) -> smoltcp::wire::Result<(st::EthernetRepr, st::Ipv4Repr, st::TcpRepr<'a>)> {
    let eth_frame = st::EthernetFrame::new_checked(frame)?;
    let eth = st::EthernetRepr::parse(&eth_frame)?;
    let ip_packet = st::Ipv4Packet::new_checked(&frame[st::ETHERNET_HEADER_LEN..])?;
    let ip = st::Ipv4Repr::parse(&ip_packet, caps)?;
    let tcp_bytes: &'a [u8] = ip_packet.payload();
    let tcp_packet = st::TcpPacket::new_checked(tcp_bytes)?;
    let tcp = st::TcpRepr::parse(
        &tcp_packet,
        &st::IpAddress::Ipv4(ip.src_addr),
        &st::IpAddress::Ipv4(ip.dst_addr),
        caps,
    )?;
    Ok((eth, ip, tcp))
}

/// smoltcp's `checksum::data` is not public (`wire::ip` is `pub(crate)`); an ICMPv4 packet's
/// `verify_checksum` is exactly `checksum::data(whole buffer) == !0`.
fn smol_checksum_ok(bytes: &[u8]) -> bool {
    st::Icmpv4Packet::new_unchecked(bytes).verify_checksum()
}

// ---- setup and sanity ---------------------------------------------------------------------

struct Frames {
    /// Emitted by sansnet (options NOP, NOP, Timestamps).
    sans: Vec<u8>,
    /// Emitted by smoltcp (options Timestamps, EOL, EOL).
    smol: Vec<u8>,
}

/// Emits the frame with both stacks and checks that each parses the other's frame to the same
/// segment, so both sides of every comparison do valid, equivalent work.
fn frames(payload: &[u8]) -> Frames {
    let caps = ChecksumCapabilities::default();
    let sans_r = sans_reprs(payload);
    let smol_r = smol_reprs(payload);
    assert_eq!(sans_r.eth.buffer_len() + sans_r.ip.buffer_len(), FRAME_LEN);
    assert_eq!(
        st::ETHERNET_HEADER_LEN + smol_r.ip.buffer_len() + smol_r.ip.payload_len,
        FRAME_LEN
    );

    let mut sans = vec![0xa5; FRAME_LEN];
    sans_emit(&sans_r, &mut sans);
    let mut smol = vec![0x5a; FRAME_LEN];
    smol_emit(&smol_r, &mut smol, &caps);

    for bytes in [&sans, &smol] {
        let (eth, ip, tcp) = sans_parse(bytes).expect("sansnet parses the frame");
        assert_eq!(eth, sans_r.eth);
        assert_eq!(ip, sans_r.ip);
        assert_eq!(tcp, sans_r.tcp);

        let (eth, ip, tcp) = smol_parse(bytes, &caps).expect("smoltcp parses the frame");
        assert_eq!(eth, smol_r.eth);
        assert_eq!(ip, smol_r.ip);
        assert_eq!(tcp, smol_r.tcp);
    }
    // Same headers but for the option layout (bytes 66..78 hold the 12 option bytes).
    assert_eq!(
        sans[..50],
        smol[..50],
        "Ethernet, IPv4 and fixed TCP headers"
    );
    assert_eq!(sans[66..], smol[66..], "payload");
    // A checksum mismatch must be caught by both.
    let mut bad = sans.clone();
    bad[FRAME_LEN - 1] ^= 1;
    assert_eq!(sans_parse(&bad).unwrap_err(), wire::Error::BadChecksum);
    assert!(smol_parse(&bad, &caps).is_err());
    Frames { sans, smol }
}

// ---- benchmarks ---------------------------------------------------------------------------

fn bench_checksum(c: &mut Criterion) {
    let bytes: Vec<u8> = (0..1500).map(|i| (i * 31 + 11) as u8).collect();
    // Both compute the same sum; smoltcp's is read through `verify_checksum`.
    let sum = checksum::data(&bytes);
    let mut with_sum = bytes.clone();
    // Make the buffer sum to 0xffff by fixing its last word, so that smoltcp's check is true.
    let last = u16::from_be_bytes([with_sum[1498], with_sum[1499]]);
    let fixed = !checksum::combine(&[sum, !last]);
    with_sum[1498..].copy_from_slice(&fixed.to_be_bytes());
    assert_eq!(checksum::data(&with_sum), 0xffff);
    assert!(smol_checksum_ok(&with_sum));

    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Bytes(1500));
    g.bench_function("1500/sansnet", |b| {
        b.iter(|| checksum::data(black_box(&with_sum[..])))
    });
    g.bench_function("1500/smoltcp", |b| {
        b.iter(|| smol_checksum_ok(black_box(&with_sum[..])))
    });
    g.finish();
}

fn bench_parse_verify(c: &mut Criterion) {
    let payload = payload();
    let frames = frames(&payload);
    let caps = ChecksumCapabilities::default();
    let mut g = c.benchmark_group("parse_verify");
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    // Both parse the same bytes (sansnet's layout: NOP, NOP, Timestamps).
    g.bench_function("eth_ipv4_tcp_1460/sansnet", |b| {
        b.iter(|| {
            let parsed = sans_parse(black_box(&frames.sans[..]));
            // By reference: copying the result out is no part of the work.
            black_box(&parsed);
        })
    });
    g.bench_function("eth_ipv4_tcp_1460/smoltcp", |b| {
        b.iter(|| {
            let parsed = smol_parse(black_box(&frames.sans[..]), &caps);
            black_box(&parsed);
        })
    });
    // smoltcp's own layout (Timestamps, EOL, EOL), for reference.
    g.bench_function("eth_ipv4_tcp_1460_smol_layout/sansnet", |b| {
        b.iter(|| {
            let parsed = sans_parse(black_box(&frames.smol[..]));
            black_box(&parsed);
        })
    });
    g.bench_function("eth_ipv4_tcp_1460_smol_layout/smoltcp", |b| {
        b.iter(|| {
            let parsed = smol_parse(black_box(&frames.smol[..]), &caps);
            black_box(&parsed);
        })
    });
    g.finish();
}

fn bench_emit(c: &mut Criterion) {
    let payload = payload();
    let caps = ChecksumCapabilities::default();
    let mut g = c.benchmark_group("emit");
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let sans_r = sans_reprs(&payload);
    let mut buf = vec![0u8; FRAME_LEN];
    g.bench_function("eth_ipv4_tcp_1460/sansnet", |b| {
        b.iter(|| {
            sans_emit(black_box(&sans_r), black_box(&mut buf[..]));
            black_box(&buf);
        })
    });
    let smol_r = smol_reprs(&payload);
    let mut buf = vec![0u8; FRAME_LEN];
    g.bench_function("eth_ipv4_tcp_1460/smoltcp", |b| {
        b.iter(|| {
            smol_emit(black_box(&smol_r), black_box(&mut buf[..]), &caps);
            black_box(&buf);
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_checksum, bench_parse_verify, bench_emit
}
criterion_main!(benches);
