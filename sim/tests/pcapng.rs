//! pcapng export: several links in one file, one interface per link, read back frame for
//! frame; the block layout byte for byte; byte-identical across runs of one seed; a reader
//! that rejects bad input with an error and never panics; and Wireshark's dissection
//! (`tshark`) with every interface named and nothing malformed.

use std::process::Command;

use pretty_assertions::assert_eq;
use proptest::prelude::*;
use sansnet_sim::pcap::{self, SharedBuffer};
use sansnet_sim::pcapng::{self, Direction, PcapngError, PcapngWriter};
use sansnet_sim::scripted::{udp_frame, Scripted};
use sansnet_sim::stack::wire::EthernetAddress;
use sansnet_sim::{
    testing, Duration, Instant, LinkFaults, LinkId, LossModel, Probability, Seed, Sim,
};

fn mac(node: &str) -> EthernetAddress {
    sansnet_sim::naming::mac_for(node, 0)
}

fn udp(from: &str, to: &str, i: u16) -> Vec<u8> {
    let ip = |n: &str| -> std::net::Ipv4Addr {
        match n {
            "a" => [10, 0, 0, 1],
            "b" => [10, 0, 0, 2],
            _ => [10, 0, 0, 3],
        }
        .into()
    };
    let payload = format!("{from} to {to}, {i}");
    udp_frame(
        mac(from),
        mac(to),
        ip(from),
        ip(to),
        40_000 + i,
        7,
        i,
        payload.as_bytes(),
    )
}

/// What a switched run left: the pcapng of every link, one classic pcap per link, the
/// frames `a` sent, the link names and the frames offered to each link.
struct Switched {
    pcapng: Vec<u8>,
    per_link_pcap: Vec<Vec<u8>>,
    sent_by_a: Vec<Vec<u8>>,
    link_names: Vec<String>,
    offered: Vec<u64>,
    /// Per link, both directions.
    counters: Vec<sansnet_sim::LinkCounters>,
}

/// `a`, `b` and `c` on switch `sw` (100 us per link): `a` sends 10 frames to `b` from
/// 1 ms, 250 us apart, which `b` echoes; `c` sends 5 frames to `a` from 5 ms.
fn switched(seed: u64, faults: LinkFaults) -> Switched {
    let mut sim = Sim::new(Seed(seed));
    let mut a = Scripted::new();
    let mut sent_by_a = Vec::new();
    for i in 0..10u16 {
        let f = udp("a", "b", i);
        a.push_send(
            Instant::from_micros(1_000 + 250 * u64::from(i)),
            0,
            f.clone(),
        );
        sent_by_a.push(f);
    }
    let mut c = Scripted::new();
    for i in 0..5u16 {
        c.push_send(
            Instant::from_micros(5_000 + 100 * u64::from(i)),
            0,
            udp("c", "a", i),
        );
    }
    let nodes = [
        sim.add_node("a", 1, a),
        sim.add_node("b", 1, Scripted::echo()),
        sim.add_node("c", 1, c),
    ];
    let sw = sim.add_switch("sw");
    let links: Vec<LinkId> = nodes
        .iter()
        .map(|&n| sim.connect(sim.nic(n, 0), sw, faults.clone()))
        .collect();
    let all = SharedBuffer::new();
    sim.capture_all_links_pcapng(all.clone()).unwrap();
    let per_link: Vec<SharedBuffer> = links
        .iter()
        .map(|&l| {
            let buf = SharedBuffer::new();
            sim.capture_link(l, buf.clone()).unwrap();
            buf
        })
        .collect();
    sim.run_until_idle().unwrap();
    sim.flush().unwrap();
    Switched {
        pcapng: all.contents(),
        per_link_pcap: per_link.iter().map(SharedBuffer::contents).collect(),
        sent_by_a,
        link_names: links.iter().map(|&l| sim.link_name(l)).collect(),
        offered: links
            .iter()
            .map(|&l| sim.link_counters(l, sansnet_sim::Direction::Both).offered)
            .collect(),
        counters: links
            .iter()
            .map(|&l| sim.link_counters(l, sansnet_sim::Direction::Both))
            .collect(),
    }
}

fn ideal() -> LinkFaults {
    LinkFaults::with_latency(Duration::from_micros(100))
}

fn lossy() -> LinkFaults {
    LinkFaults {
        jitter: Duration::from_micros(80),
        loss: LossModel::Independent {
            rate: Probability::percent(20),
        },
        duplicate: Probability::percent(10),
        ..ideal()
    }
}

/// 20% loss and 30% corruption on every link.
fn damaging() -> LinkFaults {
    LinkFaults {
        loss: LossModel::Independent {
            rate: Probability::percent(20),
        },
        corrupt: Probability::percent(30),
        ..ideal()
    }
}

/// How many of `link`'s packets carry a comment containing `needle`.
fn commented(file: &pcapng::Pcapng, link: usize, needle: &str) -> u64 {
    file.packets
        .iter()
        .filter(|p| p.interface == link)
        .filter(|p| p.comment.as_deref().is_some_and(|c| c.contains(needle)))
        .count() as u64
}

// ----- read-back of a multi-link capture -----

#[test]
fn every_link_is_one_interface_named_after_the_link() {
    let run = switched(41, ideal());
    let file = pcapng::read(&run.pcapng).unwrap();
    let names: Vec<Option<String>> = file.interfaces.iter().map(|i| i.name.clone()).collect();
    assert_eq!(
        names,
        vec![
            Some("a/nic0<->sw/port0".to_owned()),
            Some("b/nic0<->sw/port1".to_owned()),
            Some("c/nic0<->sw/port2".to_owned()),
        ]
    );
    assert_eq!(
        names,
        run.link_names.into_iter().map(Some).collect::<Vec<_>>()
    );
    let descriptions: Vec<Option<String>> = file
        .interfaces
        .iter()
        .map(|i| i.description.clone())
        .collect();
    assert_eq!(descriptions[1].as_deref(), Some("b/nic0 <-> sw/port1"));
    for i in &file.interfaces {
        assert_eq!((i.link_type, i.snaplen, i.tsresol), (1, pcap::SNAPLEN, 9));
    }
}

#[test]
fn each_interface_holds_the_frames_that_crossed_its_link() {
    let run = switched(41, ideal());
    let file = pcapng::read(&run.pcapng).unwrap();
    let mut counts = vec![0u64; file.interfaces.len()];
    for p in &file.packets {
        counts[p.interface] += 1;
    }
    // a: 10 requests, 10 echoes, 5 from c. b: 10 requests, 10 echoes. c: the first request,
    // flooded before the switch knew b, and its own 5.
    assert_eq!(counts, vec![25, 20, 6]);
    assert_eq!(counts, run.offered);
    // Frame for frame, the same as one classic pcap per link.
    for (link, classic) in run.per_link_pcap.iter().enumerate() {
        let expected: Vec<(Instant, u32, Vec<u8>)> = pcap::read(classic)
            .unwrap()
            .into_iter()
            .map(|r| (r.at, r.orig_len, r.data))
            .collect();
        let got: Vec<(Instant, u32, Vec<u8>)> = file
            .packets
            .iter()
            .filter(|p| p.interface == link)
            .map(|p| (p.at, p.orig_len, p.data.clone()))
            .collect();
        assert_eq!(got, expected, "link {link}");
    }
}

#[test]
fn lost_frames_are_marked_and_corrupted_ones_are_shown_as_received() {
    let run = switched(5, damaging());
    let file = pcapng::read(&run.pcapng).unwrap();
    let (mut lost, mut corrupted) = (0, 0);
    for (link, c) in run.counters.iter().enumerate() {
        assert_eq!(commented(&file, link, "dropped on the wire (lost)"), c.lost);
        assert_eq!(commented(&file, link, "corrupted on the wire"), c.corrupted);
        // Every frame offered shows once: delivered, or where it was dropped.
        let on_link = file.packets.iter().filter(|p| p.interface == link).count() as u64;
        assert_eq!(on_link, c.arrived + c.lost, "link {link}");
        (lost, corrupted) = (lost + c.lost, corrupted + c.corrupted);
    }
    assert!(
        lost > 0 && corrupted > 0,
        "lost {lost}, corrupted {corrupted}"
    );
    // A corrupted frame from `a` is one bit away from what `a` sent.
    for p in file.packets.iter().filter(|p| p.interface == 0) {
        if p.comment
            .as_deref()
            .is_some_and(|c| c.contains("corrupted"))
        {
            let flipped = run
                .sent_by_a
                .iter()
                .filter(|f| f.len() == p.data.len())
                .map(|f| {
                    f.iter()
                        .zip(&p.data)
                        .map(|(x, y)| (x ^ y).count_ones())
                        .sum::<u32>()
                })
                .min();
            if p.data[6..12] == mac("a").0 {
                assert_eq!(flipped, Some(1), "{:?}", p.data);
            }
        }
    }
}

#[test]
fn packets_carry_the_sent_bytes_at_simulated_nanoseconds_in_time_order() {
    let run = switched(41, ideal());
    let file = pcapng::read(&run.pcapng).unwrap();
    let from_a: Vec<(Instant, Vec<u8>)> = file
        .packets
        .iter()
        .filter(|p| p.interface == 0 && p.data[6..12] == mac("a").0)
        .map(|p| (p.at, p.data.clone()))
        .collect();
    let expected: Vec<(Instant, Vec<u8>)> = run
        .sent_by_a
        .iter()
        .enumerate()
        .map(|(i, f)| (Instant::from_micros(1_100 + 250 * i as u64), f.clone()))
        .collect();
    // Captured as they leave the link: sent at 1 ms + 250 us each, 100 us on the wire.
    assert_eq!(from_a, expected);
    // b's echo of the first request enters b's link when the request arrives (100 us on
    // each of two links) and leaves it 100 us later, then crosses a's link.
    let echo = |link: usize| {
        file.packets
            .iter()
            .find(|p| p.interface == link && p.data[6..12] == mac("b").0)
            .map(|p| p.at)
    };
    assert_eq!(echo(1), Some(Instant::from_micros(1_300)));
    assert_eq!(echo(0), Some(Instant::from_micros(1_400)));
    assert!(file.packets.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(file
        .packets
        .iter()
        .all(|p| p.direction == Direction::Unknown && p.orig_len as usize == p.data.len()));
}

#[test]
fn a_nic_capture_flags_each_packet_inbound_or_outbound() {
    let mut sim = Sim::new(Seed(42));
    let a = Scripted::new().send_at(Instant::from_millis(1), 0, udp("a", "b", 0));
    let na = sim.add_node("a", 1, a);
    let nb = sim.add_node("b", 1, Scripted::echo());
    sim.connect(
        sim.nic(na, 0),
        sim.nic(nb, 0),
        LinkFaults::with_latency(Duration::from_micros(1_500)),
    );
    let buf = SharedBuffer::new();
    sim.capture_nics_pcapng(&[sim.nic(nb, 0), sim.nic(na, 0)], buf.clone())
        .unwrap();
    sim.run_until_idle().unwrap();
    sim.flush().unwrap();
    let file = pcapng::read(&buf.contents()).unwrap();
    let names: Vec<String> = file
        .interfaces
        .iter()
        .map(|i| i.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, vec!["b/nic0".to_owned(), "a/nic0".to_owned()]);
    let seen: Vec<(usize, Instant, Direction)> = file
        .packets
        .iter()
        .map(|p| (p.interface, p.at, p.direction))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, Instant::from_micros(1_000), Direction::Outbound),
            (0, Instant::from_micros(2_500), Direction::Inbound),
            (0, Instant::from_micros(2_500), Direction::Outbound),
            (1, Instant::from_micros(4_000), Direction::Inbound),
        ]
    );
}

#[test]
fn a_link_given_twice_or_from_another_sim_is_refused() {
    let mut sim = Sim::new(Seed(43));
    let na = sim.add_node("a", 1, Scripted::new());
    let nb = sim.add_node("b", 1, Scripted::new());
    let link = sim.connect(sim.nic(na, 0), sim.nic(nb, 0), ideal());
    let err = sim
        .capture_links_pcapng(&[link, link], SharedBuffer::new())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let mut bigger = Sim::new(Seed(43));
    let nodes: Vec<_> = (0..4)
        .map(|i| bigger.add_node(&format!("n{i}"), 1, Scripted::new()))
        .collect();
    bigger.connect(bigger.nic(nodes[0], 0), bigger.nic(nodes[1], 0), ideal());
    let other = bigger.connect(bigger.nic(nodes[2], 0), bigger.nic(nodes[3], 0), ideal());
    let buf = SharedBuffer::new();
    let err = sim.capture_links_pcapng(&[other], buf.clone()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(buf.contents(), Vec::<u8>::new());
}

// ----- the block layout -----

#[test]
fn blocks_are_laid_out_as_the_spec_says() {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    assert_eq!(w.add_interface("eth", None).unwrap(), 0);
    w.write_packet(
        0,
        Instant::from_nanos(0x1_0000_0002),
        &[1, 2, 3, 4, 5],
        Direction::Outbound,
    )
    .unwrap();
    w.write_packet(0, Instant::from_nanos(7), &[9; 4], Direction::Unknown)
        .unwrap();
    let bytes = w.into_inner();
    // Section Header Block: type, length, byte-order magic, version 1.0, section length
    // unknown, then options (shb_userappl) and the trailing length.
    let shb_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    #[rustfmt::skip]
    let header: [u8; 24] = [
        0x0a, 0x0d, 0x0d, 0x0a,
        shb_len as u8, 0, 0, 0,
        0x4d, 0x3c, 0x2b, 0x1a,
        1, 0, 0, 0,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert_eq!(bytes[..24], header);
    assert_eq!(shb_len % 4, 0);
    assert_eq!(bytes[shb_len - 4..shb_len], bytes[4..8]);
    assert_eq!(bytes[shb_len - 8..shb_len - 4], [0, 0, 0, 0]); // opt_endofopt
    #[rustfmt::skip]
    let rest: Vec<u8> = vec![
        // Interface Description Block, 40 bytes.
        1, 0, 0, 0, 40, 0, 0, 0,
        1, 0, 0, 0, // LINKTYPE_ETHERNET, reserved
        0, 0, 4, 0, // snaplen 262144
        2, 0, 3, 0, b'e', b't', b'h', 0, // if_name "eth", one byte of padding
        9, 0, 1, 0, 9, 0, 0, 0, // if_tsresol 9, three bytes of padding
        0, 0, 0, 0, // opt_endofopt
        40, 0, 0, 0,
        // Enhanced Packet Block, 52 bytes.
        6, 0, 0, 0, 52, 0, 0, 0,
        0, 0, 0, 0, // interface 0
        1, 0, 0, 0, 2, 0, 0, 0, // timestamp 0x1_0000_0002 ns, high word first
        5, 0, 0, 0, 5, 0, 0, 0, // captured, original length
        1, 2, 3, 4, 5, 0, 0, 0, // data and padding
        2, 0, 4, 0, 2, 0, 0, 0, // epb_flags: outbound
        0, 0, 0, 0, // opt_endofopt
        52, 0, 0, 0,
        // Enhanced Packet Block without options, 36 bytes.
        6, 0, 0, 0, 36, 0, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 0, 7, 0, 0, 0,
        4, 0, 0, 0, 4, 0, 0, 0,
        9, 9, 9, 9,
        36, 0, 0, 0,
    ];
    assert_eq!(bytes[shb_len..], rest[..]);
}

#[test]
fn a_packet_for_an_undescribed_interface_is_refused_and_writes_nothing() {
    let header = PcapngWriter::new(Vec::new()).unwrap().into_inner();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let err = w
        .write_packet(0, Instant::ZERO, &[1], Direction::Unknown)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(w.into_inner(), header);
}

// ----- determinism -----

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let first = switched(7, lossy()).pcapng;
    let second = switched(7, lossy()).pcapng;
    assert!(
        first == second,
        "two runs of seed 7 wrote different captures"
    );
    // Not vacuous: the faults draw from the seed, and another seed loses other frames.
    let other = switched(8, lossy()).pcapng;
    assert!(first != other);
    let file = pcapng::read(&first).unwrap();
    assert_eq!(file.interfaces.len(), 3);
}

// ----- the reader on bad input -----

/// A small capture: two interfaces, three packets.
fn small_file() -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.add_interface("one", Some("the first")).unwrap();
    w.add_interface("two", None).unwrap();
    w.write_packet(1, Instant::from_micros(1), &[1; 60], Direction::Inbound)
        .unwrap();
    w.write_packet(0, Instant::from_micros(2), &[2; 61], Direction::Unknown)
        .unwrap();
    w.write_packet(1, Instant::from_micros(3), &[3; 62], Direction::Outbound)
        .unwrap();
    w.into_inner()
}

/// Offsets where blocks end.
fn block_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        at += u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        ends.push(at);
    }
    ends
}

#[test]
fn every_cut_inside_a_block_is_truncated_and_every_cut_between_blocks_reads() {
    let bytes = small_file();
    let ends = block_ends(&bytes);
    assert_eq!(ends.len(), 6);
    assert_eq!(pcapng::read(&bytes).unwrap().packets.len(), 3);
    assert_eq!(pcapng::read(&[]), Err(PcapngError::Empty));
    for cut in 1..bytes.len() {
        let got = pcapng::read(&bytes[..cut]);
        match ends.iter().position(|&e| e == cut) {
            Some(block) => {
                let packets = block.saturating_sub(2);
                assert_eq!(got.map(|f| f.packets.len()), Ok(packets), "cut at {cut}");
            }
            None => {
                let start = ends.iter().rev().find(|&&e| e < cut).copied().unwrap_or(0);
                assert_eq!(
                    got,
                    Err(PcapngError::Truncated { offset: start }),
                    "cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn damaged_headers_are_typed_errors() {
    let bytes = small_file();
    let ends = block_ends(&bytes);
    let (idb, epb) = (ends[0], ends[2]);
    let with = |at: usize, value: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(value);
        pcapng::read(&b)
    };
    assert_eq!(
        with(0, &[0xd4, 0xc3, 0xb2, 0xa1]),
        Err(PcapngError::NotPcapng {
            block_type: 0xa1b2_c3d4
        })
    );
    assert_eq!(
        with(8, &[1, 2, 3, 4]),
        Err(PcapngError::BadByteOrderMagic {
            offset: 0,
            magic: 0x0403_0201
        })
    );
    assert_eq!(
        with(12, &[2, 0]),
        Err(PcapngError::UnsupportedVersion {
            offset: 0,
            major: 2,
            minor: 0
        })
    );
    assert_eq!(
        with(idb + 4, &[22, 0, 0, 0]),
        Err(PcapngError::BadBlockLength {
            offset: idb,
            length: 22
        })
    );
    assert_eq!(
        with(epb - 4, &[0, 1, 0, 0]),
        Err(PcapngError::LengthMismatch {
            offset: ends[1],
            head: (epb - ends[1]) as u32,
            tail: 256
        })
    );
    assert_eq!(
        with(epb + 8, &[2, 0, 0, 0]),
        Err(PcapngError::UnknownInterface {
            offset: epb,
            interface: 2
        })
    );
    assert_eq!(
        with(epb + 20, &[0, 1, 0, 0]),
        Err(PcapngError::BadCapturedLength {
            offset: epb,
            captured: 256
        })
    );
    // The first packet's epb_flags option claims 200 bytes.
    let flags = ends[2] + 28 + 60;
    assert_eq!(bytes[flags..flags + 2], [2, 0]);
    assert_eq!(
        with(flags + 2, &[200, 0]),
        Err(PcapngError::BadOption {
            offset: ends[2],
            code: 2
        })
    );
}

#[test]
fn a_big_endian_section_with_microsecond_timestamps_reads() {
    #[rustfmt::skip]
    let bytes: Vec<u8> = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28,
        0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0, 0, 0, 28,
        // An interface without if_tsresol: microseconds.
        0, 0, 0, 1, 0, 0, 0, 20,
        0, 1, 0, 0, 0, 0, 0xff, 0xff,
        0, 0, 0, 20,
        // A block of an unknown type, skipped.
        0, 0, 0x0b, 0xad, 0, 0, 0, 16, 1, 2, 3, 4, 0, 0, 0, 16,
        0, 0, 0, 6, 0, 0, 0, 36,
        0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0, 2, // 2^32 + 2 us
        0, 0, 0, 3, 0, 0, 0, 3,
        7, 8, 9, 0,
        0, 0, 0, 36,
    ];
    let file = pcapng::read(&bytes).unwrap();
    assert_eq!(
        file.interfaces,
        vec![pcapng::Interface {
            link_type: 1,
            snaplen: 65_535,
            name: None,
            description: None,
            tsresol: 6,
        }]
    );
    assert_eq!(
        file.packets,
        vec![pcapng::Packet {
            interface: 0,
            at: Instant::from_micros((1 << 32) + 2),
            orig_len: 3,
            data: vec![7, 8, 9],
            direction: Direction::Unknown,
            comment: None,
        }]
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = pcapng::read(&bytes);
    }

    #[test]
    fn a_section_header_then_arbitrary_bytes_never_panic_the_reader(
        tail in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = small_file();
        let shb = block_ends(&bytes)[0];
        bytes.truncate(shb);
        bytes.extend_from_slice(&tail);
        let _ = pcapng::read(&bytes);
    }

    #[test]
    fn a_damaged_capture_never_panics_the_reader(
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = small_file();
        for (at, value) in damage {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        let cut = cut.index(bytes.len() + 1);
        let _ = pcapng::read(&bytes[..cut]);
    }
}

// ----- Wireshark -----

/// `tshark -n -r <capture> <args>`: stdout, and stdout and stderr together.
fn tshark(capture: &[u8], name: &str, args: &[&str]) -> (String, String) {
    let path = std::env::temp_dir().join(format!("sansnet-{name}-{}.pcapng", std::process::id()));
    std::fs::write(&path, capture).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = stdout.clone() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark {args:?} failed: {all}");
    (stdout, all)
}

#[test]
fn tshark_shows_every_link_as_its_own_interface_and_nothing_malformed() {
    if !testing::tshark_available() {
        return;
    }
    let run = switched(41, ideal());
    let (_, expert) = tshark(&run.pcapng, "links-expert", &["-z", "expert", "-q"]);
    assert!(!expert.contains("Malformed"), "{expert}");
    assert!(!expert.to_lowercase().contains("error"), "{expert}");
    let (fields, _) = tshark(
        &run.pcapng,
        "links-fields",
        &[
            "-T",
            "fields",
            "-e",
            "frame.interface_id",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.interface_description",
        ],
    );
    let mut per_interface = std::collections::BTreeMap::<String, u64>::new();
    for line in fields.lines() {
        *per_interface.entry(line.to_owned()).or_default() += 1;
    }
    assert_eq!(
        per_interface.into_iter().collect::<Vec<_>>(),
        vec![
            ("0\ta/nic0<->sw/port0\ta/nic0 <-> sw/port0".to_owned(), 25),
            ("1\tb/nic0<->sw/port1\tb/nic0 <-> sw/port1".to_owned(), 20),
            ("2\tc/nic0<->sw/port2\tc/nic0 <-> sw/port2".to_owned(), 6),
        ]
    );
    // Nanosecond timestamps since the epoch, as Wireshark reads them.
    let (times, _) = tshark(
        &run.pcapng,
        "links-times",
        &["-T", "fields", "-e", "frame.time_epoch", "-c", "2"],
    );
    assert_eq!(times, "0.001100000\n0.001200000\n");
    let (listing, _) = tshark(&run.pcapng, "links-listing", &[]);
    assert_eq!(listing.lines().count(), 51, "{listing}");
    assert!(!listing.contains("Malformed"), "{listing}");
}

#[test]
fn tshark_shows_the_bad_checksums_of_corrupted_frames_and_the_drop_comments() {
    if !testing::tshark_available() {
        return;
    }
    let run = switched(5, damaging());
    let file = pcapng::read(&run.pcapng).unwrap();
    let (bad, _) = tshark(
        &run.pcapng,
        "links-bad-checksums",
        &[
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "ip.checksum.status == 0 || udp.checksum.status == 0",
        ],
    );
    let corrupted: u64 = run.counters.iter().map(|c| c.corrupted).sum();
    let bad = bad.lines().count() as u64;
    // A flipped bit in a MAC address, the EtherType or the payload's slack breaks no checksum;
    // most land where one does.
    assert!(
        bad > 0 && bad <= corrupted,
        "{bad} bad of {corrupted} corrupted"
    );
    let (comments, _) = tshark(
        &run.pcapng,
        "links-comments",
        &[
            "-Y",
            "frame.comment contains \"lost\"",
            "-T",
            "fields",
            "-e",
            "frame.comment",
        ],
    );
    let lost: u64 = run.counters.iter().map(|c| c.lost).sum();
    assert_eq!(comments.lines().count() as u64, lost, "{comments}");
    assert!(file.packets.len() as u64 > lost);
}

#[test]
fn tshark_reads_the_direction_of_nic_packets() {
    if !testing::tshark_available() {
        return;
    }
    let mut sim = Sim::new(Seed(44));
    let a = Scripted::new().send_at(Instant::from_millis(1), 0, udp("a", "b", 0));
    let na = sim.add_node("a", 1, a);
    let nb = sim.add_node("b", 1, Scripted::echo());
    sim.connect(sim.nic(na, 0), sim.nic(nb, 0), ideal());
    let buf = SharedBuffer::new();
    sim.capture_nics_pcapng(&[sim.nic(na, 0), sim.nic(nb, 0)], buf.clone())
        .unwrap();
    sim.run_until_idle().unwrap();
    sim.flush().unwrap();
    let (expert, all) = tshark(&buf.contents(), "nics-expert", &["-z", "expert", "-q"]);
    assert!(!all.contains("Malformed"), "{expert}");
    let (fields, _) = tshark(
        &buf.contents(),
        "nics-fields",
        &[
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.packet_flags_direction",
        ],
    );
    assert_eq!(
        fields.lines().collect::<Vec<_>>(),
        vec![
            "a/nic0\t0x00000002",
            "b/nic0\t0x00000001",
            "b/nic0\t0x00000002",
            "a/nic0\t0x00000001",
        ]
    );
}
