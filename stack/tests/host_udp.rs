//! UDP sockets, ICMP port unreachable, broadcast, IPv4 fragmentation and reassembly.

mod host_support;

use std::net::{Ipv4Addr, SocketAddrV4};

use host_support::*;
use pretty_assertions::assert_eq;
use proptest::prelude::*;
use sansnet_stack::iface::{DropReason, Errno, Fd, SockOpt, SocketType, MAX_MEMBERSHIPS};
use sansnet_stack::time::Duration;
use sansnet_stack::wire::ipv4::IpProtocol;

const MS: Duration = Duration::from_millis(1);

fn udp_bound(net: &mut Net, h: usize, port: u16) -> Fd {
    let fd = net.h(h).socket(SocketType::Datagram).unwrap();
    net.h(h)
        .bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    fd
}

fn recv_all(net: &mut Net, h: usize, fd: Fd) -> Vec<(Vec<u8>, SocketAddrV4)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 70_000];
    let now = net.now;
    while let Ok((n, from)) = net.h(h).recv_from(now, fd, &mut buf) {
        out.push((buf[..n].to_vec(), from));
    }
    out
}

#[test]
fn datagrams_go_both_ways() {
    let mut net = Net::lan(&[1, 2]);
    let server = udp_bound(&mut net, 1, 53);
    let client = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    net.h(0)
        .send_to(now, client, b"query", addr(2, 53))
        .unwrap();
    net.run_for(10 * MS);
    let got = recv_all(&mut net, 1, server);
    assert_eq!(got.len(), 1);
    let (data, from) = &got[0];
    assert_eq!(data, b"query");
    // Bound to the wildcard by the first send: the port is the client's.
    assert_eq!(from.port(), net.h(0).local_addr(client).unwrap().port());
    let now = net.now;
    net.h(1).send_to(now, server, b"answer", *from).unwrap();
    net.run_for(10 * MS);
    assert_eq!(
        recv_all(&mut net, 0, client),
        vec![(b"answer".to_vec(), addr(2, 53))]
    );
    let now = net.now;
    let mut buf = [0u8; 4];
    assert_eq!(net.h(0).recv(now, client, &mut buf), Err(Errno::EAGAIN));
}

#[test]
fn closed_port_answers_port_unreachable_and_connected_socket_sees_econnrefused() {
    let mut net = Net::lan(&[1, 2]);
    let c = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    net.h(0).connect(now, c, addr(2, 4000)).unwrap();
    assert_eq!(net.h(0).send(now, c, b"anyone?"), Ok(7));
    net.run_for(10 * MS);
    assert_eq!(icmp_sent(&net, 1), vec![(3, 3)]);
    assert_eq!(net.h(1).counters().drops(DropReason::UdpNoSocket), 1);
    let now = net.now;
    assert!(net.h(0).readiness(c).unwrap().error);
    let mut buf = [0u8; 8];
    assert_eq!(net.h(0).recv(now, c, &mut buf), Err(Errno::ECONNREFUSED));
    assert_eq!(net.h(0).recv(now, c, &mut buf), Err(Errno::EAGAIN));
}

#[test]
fn connected_socket_filters_other_senders() {
    let mut net = Net::lan(&[1, 2, 3]);
    let s = udp_bound(&mut net, 0, 7);
    let now = net.now;
    net.h(0).connect(now, s, addr(2, 7)).unwrap();
    for h in [1, 2] {
        let fd = udp_bound(&mut net, h, 7);
        net.h(h).send_to(now, fd, b"hello", addr(1, 7)).unwrap();
    }
    net.run_for(10 * MS);
    assert_eq!(
        recv_all(&mut net, 0, s),
        vec![(b"hello".to_vec(), addr(2, 7))]
    );
}

#[test]
fn broadcast_reaches_every_host_on_the_segment() {
    let mut net = Net::lan(&[1, 2, 3]);
    let r2 = udp_bound(&mut net, 1, 67);
    let r3 = udp_bound(&mut net, 2, 67);
    let own = udp_bound(&mut net, 0, 67);
    let s = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    // As on Linux: a broadcast needs SO_BROADCAST first, to send or to connect.
    for to in ["255.255.255.255:67".parse().unwrap(), addr(255, 67)] {
        assert_eq!(net.h(0).send_to(now, s, b"no", to), Err(Errno::EACCES));
        assert_eq!(net.h(0).connect(now, s, to), Err(Errno::EACCES));
    }
    assert!(!net.h(0).socket_options(s).unwrap().broadcast);
    net.h(0)
        .setsockopt(now, s, SockOpt::Broadcast(true))
        .unwrap();
    assert!(net.h(0).socket_options(s).unwrap().broadcast);
    net.h(0)
        .send_to(now, s, b"discover", "255.255.255.255:67".parse().unwrap())
        .unwrap();
    net.h(0).send_to(now, s, b"subnet", addr(255, 67)).unwrap();
    net.run_for(10 * MS);
    // The sender's own host too: Linux loops a broadcast back.
    for (h, fd) in [(1, r2), (2, r3), (0, own)] {
        let got: Vec<Vec<u8>> = recv_all(&mut net, h, fd).into_iter().map(|x| x.0).collect();
        assert_eq!(
            got,
            vec![b"discover".to_vec(), b"subnet".to_vec()],
            "host {h}"
        );
    }
    assert_eq!(
        net.h(0).counters().arp.requests_out,
        0,
        "no ARP for broadcast"
    );
}

#[test]
fn peek_returns_the_first_datagram_and_leaves_it_queued() {
    let mut net = Net::lan(&[1, 2]);
    let server = udp_bound(&mut net, 1, 53);
    let client = udp_bound(&mut net, 0, 5353);
    let mut buf = [0u8; 16];
    assert_eq!(net.h(1).peek(server, &mut buf), Err(Errno::EAGAIN));
    let now = net.now;
    for d in [&b"first"[..], b"second"] {
        net.h(0).send_to(now, client, d, addr(2, 53)).unwrap();
    }
    net.run_for(10 * MS);
    assert_eq!(net.h(1).peek(server, &mut buf[..3]), Ok(3), "truncated");
    assert_eq!(&buf[..3], b"fir");
    assert_eq!(net.h(1).peek_from(server, &mut buf), Ok((5, addr(1, 5353))));
    assert_eq!(&buf[..5], b"first");
    assert_eq!(
        recv_all(&mut net, 1, server),
        vec![
            (b"first".to_vec(), addr(1, 5353)),
            (b"second".to_vec(), addr(1, 5353))
        ]
    );
}

#[test]
fn ip_ttl_is_the_datagrams_ttl() {
    let mut net = Net::lan(&[1, 2]);
    let _server = udp_bound(&mut net, 1, 53);
    let s = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    net.h(0).send_to(now, s, b"default", addr(2, 53)).unwrap();
    net.h(0).setsockopt(now, s, SockOpt::Ttl(3)).unwrap();
    assert_eq!(net.h(0).socket_options(s).unwrap().ttl, Some(3));
    net.h(0).send_to(now, s, b"three", addr(2, 53)).unwrap();
    net.run_for(10 * MS);
    let ttls: Vec<u8> = net
        .log
        .iter()
        .filter(|(_, h, _)| *h == 0)
        .filter_map(|(_, _, f)| parse_ip(f))
        .filter(|(ip, _)| ip.protocol == IpProtocol::UDP)
        .map(|(ip, _)| ip.ttl)
        .collect();
    assert_eq!(ttls, vec![64, 3]);
}

#[test]
fn ip_tos_is_the_datagrams_dscp_and_ecn() {
    let mut net = Net::lan(&[1, 2]);
    let _server = udp_bound(&mut net, 1, 53);
    let s = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    net.h(0)
        .setsockopt(now, s, SockOpt::Tos(0xb8 | 0b01))
        .unwrap();
    net.h(0).send_to(now, s, b"marked", addr(2, 53)).unwrap();
    net.run_for(10 * MS);
    let marks: Vec<(u8, u8)> = net
        .log
        .iter()
        .filter(|(_, h, _)| *h == 0)
        .filter_map(|(_, _, f)| parse_ip(f))
        .filter(|(ip, _)| ip.protocol == IpProtocol::UDP)
        .map(|(ip, _)| (ip.dscp, ip.ecn))
        .collect();
    assert_eq!(marks, vec![(46, 1)]);
}

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

fn join(net: &mut Net, h: usize, fd: Fd, group: Ipv4Addr) -> Result<(), Errno> {
    let now = net.now;
    net.h(h).setsockopt(
        now,
        fd,
        SockOpt::JoinMulticast {
            group,
            interface: Ipv4Addr::UNSPECIFIED,
        },
    )
}

/// (Ethernet destination, IP TTL) of the UDP frames `host` sent.
fn udp_frames_sent(net: &Net, host: usize) -> Vec<([u8; 6], u8)> {
    net.log
        .iter()
        .filter(|(_, h, _)| *h == host)
        .filter_map(|(_, _, f)| {
            let (ip, _) = parse_ip(f)?;
            let dst: [u8; 6] = f[..6].try_into().ok()?;
            (ip.protocol == IpProtocol::UDP).then_some((dst, ip.ttl))
        })
        .collect()
}

#[test]
fn multicast_reaches_members_only_and_loops_back_to_the_sender() {
    let mut net = Net::lan(&[1, 2, 3]);
    let member = udp_bound(&mut net, 1, 5000);
    let stranger = udp_bound(&mut net, 2, 5000);
    let own = udp_bound(&mut net, 0, 5000);
    let sender = net.h(0).socket(SocketType::Datagram).unwrap();
    join(&mut net, 1, member, GROUP).unwrap();
    join(&mut net, 0, own, GROUP).unwrap();
    let now = net.now;
    let to = SocketAddrV4::new(GROUP, 5000);
    assert_eq!(net.h(0).send_to(now, sender, b"hello group", to), Ok(11));
    net.run_for(10 * MS);
    let from = net.h(0).local_addr(sender).unwrap();
    let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), from.port());
    assert_eq!(
        recv_all(&mut net, 1, member),
        vec![(b"hello group".to_vec(), from)]
    );
    assert_eq!(
        recv_all(&mut net, 0, own),
        vec![(b"hello group".to_vec(), from)],
        "looped"
    );
    assert_eq!(recv_all(&mut net, 2, stranger), vec![], "not a member");
    assert_eq!(net.h(2).counters().drops(DropReason::EthernetNotForUs), 1);
    assert_eq!(
        udp_frames_sent(&net, 0),
        vec![([0x01, 0x00, 0x5e, 0x01, 0x02, 0x03], 1)],
        "to the group's Ethernet address, TTL 1"
    );
    assert_eq!(
        net.h(0).counters().arp.requests_out,
        0,
        "no ARP for a group"
    );

    // Loop off, a larger TTL; then the member leaves.
    let now = net.now;
    net.h(0)
        .setsockopt(now, sender, SockOpt::MulticastLoop(false))
        .unwrap();
    net.h(0)
        .setsockopt(now, sender, SockOpt::MulticastTtl(8))
        .unwrap();
    net.h(0).send_to(now, sender, b"again", to).unwrap();
    net.run_for(10 * MS);
    assert_eq!(recv_all(&mut net, 0, own), vec![], "not looped");
    assert_eq!(recv_all(&mut net, 1, member).len(), 1);
    assert_eq!(udp_frames_sent(&net, 0)[1].1, 8);
    let now = net.now;
    let leave = SockOpt::LeaveMulticast {
        group: GROUP,
        interface: Ipv4Addr::new(10, 0, 0, 2),
    };
    net.h(1).setsockopt(now, member, leave).unwrap();
    assert_eq!(
        net.h(1).setsockopt(now, member, leave),
        Err(Errno::EADDRNOTAVAIL)
    );
    net.h(0).send_to(now, sender, b"gone", to).unwrap();
    net.run_for(10 * MS);
    assert_eq!(recv_all(&mut net, 1, member), vec![]);
    assert_eq!(net.h(1).counters().drops(DropReason::EthernetNotForUs), 1);
}

#[test]
fn memberships_are_checked_bounded_and_released_on_close() {
    let mut net = Net::lan(&[1, 2]);
    let s = udp_bound(&mut net, 1, 5000);
    assert_eq!(
        join(&mut net, 1, s, Ipv4Addr::new(10, 0, 0, 9)),
        Err(Errno::EINVAL)
    );
    let now = net.now;
    let elsewhere = SockOpt::JoinMulticast {
        group: GROUP,
        interface: Ipv4Addr::new(10, 9, 9, 9),
    };
    assert_eq!(net.h(1).setsockopt(now, s, elsewhere), Err(Errno::ENODEV));
    join(&mut net, 1, s, GROUP).unwrap();
    assert_eq!(join(&mut net, 1, s, GROUP), Err(Errno::EADDRINUSE));
    for i in 1..MAX_MEMBERSHIPS {
        join(&mut net, 1, s, Ipv4Addr::new(239, 0, 0, i as u8)).unwrap();
    }
    assert_eq!(
        join(&mut net, 1, s, Ipv4Addr::new(239, 0, 1, 0)),
        Err(Errno::ENOBUFS)
    );
    let listed = net.h(1).multicast_memberships(s).unwrap();
    assert_eq!(listed.len(), MAX_MEMBERSHIPS);
    assert_eq!(listed[0], (GROUP, Ipv4Addr::new(10, 0, 0, 2)));
    let tcp = net.h(1).socket(SocketType::Stream).unwrap();
    assert_eq!(join(&mut net, 1, tcp, GROUP), Err(Errno::EOPNOTSUPP));

    // Closed, the socket's memberships go: the host's filter takes the group no more.
    let now = net.now;
    net.h(1).close(now, s).unwrap();
    let sender = net.h(0).socket(SocketType::Datagram).unwrap();
    net.h(0)
        .send_to(now, sender, b"anyone", SocketAddrV4::new(GROUP, 5000))
        .unwrap();
    net.run_for(10 * MS);
    assert_eq!(net.h(1).counters().drops(DropReason::EthernetNotForUs), 1);
}

#[test]
fn queue_is_bounded_and_oversized_datagrams_are_emsgsize() {
    let mut a = host_config(1);
    a.limits.udp_queue_datagrams = 2;
    let mut net = Net::new(vec![a, host_config(2)]);
    net.segment(vec![(0, 0), (1, 0)]);
    let r = udp_bound(&mut net, 0, 9);
    let s = net.h(1).socket(SocketType::Datagram).unwrap();
    // Resolve ARP first (its pending queue holds 3 packets).
    let now = net.now;
    net.h(1).send_to(now, s, b"x", addr(1, 9)).unwrap();
    net.run_for(10 * MS);
    recv_all(&mut net, 0, r);
    let now = net.now;
    for _ in 0..5 {
        net.h(1).send_to(now, s, b"x", addr(1, 9)).unwrap();
    }
    net.run_for(10 * MS);
    assert_eq!(recv_all(&mut net, 0, r).len(), 2);
    assert_eq!(net.h(0).counters().drops(DropReason::UdpQueueFull), 3);
    assert_eq!(
        net.h(1).send_to(now, s, &vec![0; 65508], addr(1, 9)),
        Err(Errno::EMSGSIZE)
    );
    net.h(1)
        .setsockopt(now, s, SockOpt::DontFragment(true))
        .unwrap();
    assert_eq!(
        net.h(1).send_to(now, s, &[0; 1473], addr(1, 9)),
        Err(Errno::EMSGSIZE)
    );
    assert_eq!(net.h(1).send_to(now, s, &[0; 1472], addr(1, 9)), Ok(1472));
}

#[test]
fn large_datagrams_are_fragmented_and_reassembled_in_and_out_of_order() {
    for reverse in [false, true] {
        let mut net = Net::lan(&[1, 2]);
        let r = udp_bound(&mut net, 1, 9);
        // Resolve ARP first, so the fragments leave back to back.
        let s = net.h(0).socket(SocketType::Datagram).unwrap();
        let now = net.now;
        net.h(0).send_to(now, s, b"warm", addr(2, 9)).unwrap();
        net.run_for(10 * MS);
        recv_all(&mut net, 1, r);
        if reverse {
            // Delay each fragment less than the one before: they arrive last first.
            let mut n = 0u64;
            net.hook = Some(Box::new(move |_, _| {
                n += 1;
                Verdict::Delay(Duration::from_millis(10u64.saturating_sub(n)))
            }));
        }
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let now = net.now;
        net.h(0).send_to(now, s, &data, addr(2, 9)).unwrap();
        net.run_for(50 * MS);
        let got = recv_all(&mut net, 1, r);
        assert_eq!(got.len(), 1, "reverse={reverse}");
        assert!(got[0].0 == data);
        assert_eq!(net.h(0).counters().ip.fragments_out, 7);
        assert_eq!(net.h(1).counters().ip.fragments_in, 7);
        assert_eq!(net.h(1).counters().ip.reassembled, 1);
    }
}

/// Fragments of one datagram `10.0.0.1:5 -> 10.0.0.2:9`, cut at the given offsets.
fn fragments(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let udp = udp_bytes(addr(1, 5), addr(2, 9), data);
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(udp.len());
    bounds
        .windows(2)
        .map(|w| {
            let mut ip = ip_repr(
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2),
                IpProtocol::UDP,
                0,
            );
            ip.frag_offset = w[0] as u16;
            ip.more_frags = w[1] != udp.len();
            ip_frame(mac(1, 0), mac(2, 0), &ip, &udp[w[0]..w[1]])
        })
        .collect()
}

#[test]
fn overlapping_fragments_discard_the_datagram_but_duplicates_do_not() {
    let mut net = Net::lan(&[1, 2]);
    let r = udp_bound(&mut net, 1, 9);
    let data = vec![1u8; 100];
    let f = fragments(&data, &[48]);
    let mut overlapping = fragments(&data, &[40]);
    let now = net.now;
    // Exact duplicate of the first fragment: harmless.
    net.h(1).handle_frame(now, 0, &f[0]);
    net.h(1).handle_frame(now, 0, &f[0]);
    net.h(1).handle_frame(now, 0, &f[1]);
    assert_eq!(recv_all(&mut net, 1, r).len(), 1);
    assert_eq!(net.h(1).counters().drops(DropReason::FragDuplicate), 1);
    // 0..48, then 40..: overlap. The whole datagram goes, even when the rest arrives.
    net.h(1).handle_frame(now, 0, &f[0]);
    net.h(1).handle_frame(now, 0, &overlapping.remove(1));
    net.h(1).handle_frame(now, 0, &f[1]);
    assert_eq!(recv_all(&mut net, 1, r).len(), 0);
    assert_eq!(net.h(1).counters().drops(DropReason::FragOverlap), 1);
}

#[test]
fn incomplete_datagram_times_out_with_icmp_time_exceeded() {
    let mut net = Net::lan(&[1, 2]);
    let _r = udp_bound(&mut net, 1, 9);
    let f = fragments(&[3u8; 100], &[48]);
    let now = net.now;
    net.h(1).handle_frame(now, 0, &f[0]);
    net.run_for(Duration::from_secs(29));
    assert_eq!(icmp_sent(&net, 1), vec![]);
    net.run_for(Duration::from_secs(2));
    assert_eq!(icmp_sent(&net, 1), vec![(11, 1)]);
    assert_eq!(net.h(1).counters().drops(DropReason::FragTimeout), 1);
    // Without the first fragment, no ICMP (nothing to quote).
    let now = net.now;
    net.h(1).handle_frame(now, 0, &f[1]);
    net.run_for(Duration::from_secs(31));
    assert_eq!(icmp_sent(&net, 1).len(), 1);
}

#[test]
fn reassembly_memory_is_bounded() {
    let mut b = host_config(2);
    b.limits.reassembly_datagrams = 2;
    let mut net = Net::new(vec![host_config(1), b]);
    net.segment(vec![(0, 0), (1, 0)]);
    let now = net.now;
    for ident in 0..5u16 {
        let mut ip = ip_repr(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            IpProtocol::UDP,
            0,
        );
        ip.ident = ident;
        ip.more_frags = true;
        net.h(1)
            .handle_frame(now, 0, &ip_frame(mac(1, 0), mac(2, 0), &ip, &[0; 64]));
    }
    assert_eq!(net.h(1).counters().drops(DropReason::FragMemoryFull), 3);
}

fn check_reassembly(order: &[usize], cuts: &[usize]) {
    let mut net = Net::lan(&[1, 2]);
    let r = udp_bound(&mut net, 1, 9);
    let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    let f = fragments(&data, cuts);
    let now = net.now;
    for &i in order {
        net.h(1).handle_frame(now, 0, &f[i % f.len()]);
    }
    let got = recv_all(&mut net, 1, r);
    assert_eq!(got.len(), 1);
    assert!(got[0].0 == data);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the order (and duplicates) of the fragments, the datagram comes out whole,
    /// once.
    #[test]
    fn fragments_in_any_order_reassemble(
        cuts in proptest::collection::btree_set(1usize..75, 1..6),
        seed in proptest::collection::vec(any::<u16>(), 0..4),
    ) {
        let cuts: Vec<usize> = cuts.into_iter().map(|c| c * 8).collect();
        let n = cuts.len() + 1;
        // A permutation from the seed, plus a few duplicates.
        let mut order: Vec<usize> = (0..n).collect();
        for (i, s) in seed.iter().enumerate() {
            let j = usize::from(*s) % n;
            order.swap(i % n, j);
        }
        for s in &seed {
            order.insert(usize::from(*s) % order.len(), usize::from(*s) % n);
        }
        // A duplicate after completion would start a new datagram: stop at the fragment
        // that completes it.
        let mut seen = std::collections::BTreeSet::new();
        let mut trimmed = Vec::new();
        for i in order {
            trimmed.push(i);
            seen.insert(i);
            if seen.len() == n {
                break;
            }
        }
        check_reassembly(&trimmed, &cuts);
    }
}

#[test]
fn fragment_with_bad_length_is_malformed() {
    let mut net = Net::lan(&[1, 2]);
    let mut ip = ip_repr(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        IpProtocol::UDP,
        0,
    );
    ip.more_frags = true;
    let now = net.now;
    net.h(1)
        .handle_frame(now, 0, &ip_frame(mac(1, 0), mac(2, 0), &ip, &[0; 13]));
    assert_eq!(net.h(1).counters().drops(DropReason::FragMalformed), 1);
}
