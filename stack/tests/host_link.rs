//! Link and network layers: ARP, IPv4 input checks, ICMP echo, routing and forwarding.

mod host_support;

use std::net::{Ipv4Addr, SocketAddrV4};

use host_support::*;
use pretty_assertions::assert_eq;
use sansnet_stack::iface::{DropReason, Errno, HostConfig, Limits, SocketType};
use sansnet_stack::time::Duration;
use sansnet_stack::wire::ipv4::IpProtocol;
use sansnet_stack::wire::EthernetAddress;

const SEC: Duration = Duration::from_secs(1);

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

#[test]
fn arp_resolves_and_both_sides_learn() {
    let mut net = Net::lan(&[1, 2]);
    let u = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    net.h(0).send_to(now, u, b"hi", addr(2, 9)).unwrap();
    net.run_for(Duration::from_millis(10));
    let now = net.now;
    assert_eq!(
        net.h(0).arp_lookup(now, 0, ip(10, 0, 0, 2)),
        Some(mac(2, 0))
    );
    // RFC 826: the target learns the requester from the request.
    assert_eq!(
        net.h(1).arp_lookup(now, 0, ip(10, 0, 0, 1)),
        Some(mac(1, 0))
    );
    assert_eq!(net.h(0).counters().arp.requests_out, 1);
    assert_eq!(net.h(1).counters().arp.replies_out, 1);
    // Entries expire, `arp_cache_timeout` after the neighbour was last heard from. Here that
    // is at 5 s: h1 learned h0 from a request (STALE), used it for its ICMP port
    // unreachable, and checked it with a unicast request when TCP did not confirm it.
    net.run_for(Duration::from_secs(66));
    let now = net.now;
    assert_eq!(net.h(0).arp_lookup(now, 0, ip(10, 0, 0, 2)), None);
}

#[test]
fn arp_failure_makes_connect_fail_with_ehostunreach() {
    let mut net = Net::lan(&[1, 2]);
    let c = net.tcp_connect(0, addr(9, 80));
    assert_eq!(
        net.wait_connected(0, c, Duration::from_secs(10)),
        Err(Errno::EHOSTUNREACH)
    );
    let counters = net.h(0).counters();
    assert_eq!(counters.arp.requests_out, 3);
    assert_eq!(counters.arp.resolution_failures, 1);
    // The SYN and its retransmission waited for ARP.
    assert_eq!(counters.drops(DropReason::ArpResolutionFailed), 2);
}

#[test]
fn arp_pending_queue_is_bounded() {
    let mut net = Net::lan(&[1]);
    let u = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    let limit = Limits::default().arp_pending_packets_per_addr;
    for _ in 0..limit + 7 {
        net.h(0).send_to(now, u, b"x", addr(9, 9)).unwrap();
    }
    assert_eq!(net.h(0).counters().drops(DropReason::ArpPendingFull), 7);
}

#[test]
fn echo_request_gets_a_reply() {
    let mut net = Net::lan(&[1, 2]);
    let req = echo_request(7, 1, b"abcdefgh");
    let pkt = ip_repr(
        ip(10, 0, 0, 1),
        ip(10, 0, 0, 2),
        IpProtocol::ICMP,
        req.len(),
    );
    let frame = ip_frame(mac(1, 0), mac(2, 0), &pkt, &req);
    let now = net.now;
    net.h(1).handle_frame(now, 0, &frame);
    net.run_for(Duration::from_millis(10));
    assert_eq!(icmp_sent(&net, 1), vec![(0, 0)]);
    let reply = net
        .log
        .iter()
        .filter(|(_, h, _)| *h == 1)
        .find_map(|(_, _, f)| parse_ip(f))
        .unwrap();
    assert_eq!(reply.0.dst_addr, ip(10, 0, 0, 1));
    assert_eq!(&reply.1[8..], b"abcdefgh");
    assert_eq!(net.h(1).counters().icmp.echo_replies_out, 1);
}

#[test]
fn bad_ipv4_headers_are_dropped_and_counted() {
    let mut net = Net::lan(&[1, 2]);
    let data = udp_bytes(addr(1, 5), addr(2, 5), b"x");
    let pkt = ip_repr(
        ip(10, 0, 0, 1),
        ip(10, 0, 0, 2),
        IpProtocol::UDP,
        data.len(),
    );
    let good = ip_frame(mac(1, 0), mac(2, 0), &pkt, &data);
    let now = net.now;
    let mut bad_sum = good.clone();
    bad_sum[24] ^= 0xff;
    net.h(1).handle_frame(now, 0, &bad_sum);
    let mut bad_version = good.clone();
    bad_version[14] = 0x65;
    net.h(1).handle_frame(now, 0, &bad_version);
    net.h(1).handle_frame(now, 0, &good[..30]);
    let not_mine = ip_repr(
        ip(10, 0, 0, 1),
        ip(10, 0, 0, 3),
        IpProtocol::UDP,
        data.len(),
    );
    net.h(1)
        .handle_frame(now, 0, &ip_frame(mac(1, 0), mac(2, 0), &not_mine, &data));
    let other_mac = ip_frame(mac(1, 0), EthernetAddress([2, 0, 0, 0, 9, 9]), &pkt, &data);
    net.h(1).handle_frame(now, 0, &other_mac);
    let martian = ip_repr(
        ip(127, 0, 0, 1),
        ip(10, 0, 0, 2),
        IpProtocol::UDP,
        data.len(),
    );
    net.h(1)
        .handle_frame(now, 0, &ip_frame(mac(1, 0), mac(2, 0), &martian, &data));
    net.h(1).handle_frame(now, 7, &good);
    let c = net.h(1).counters();
    let drops: Vec<_> = c.drop_counts().map(|(r, n)| (r.as_str(), n)).collect();
    assert_eq!(
        drops,
        vec![
            ("unknown_nic", 1),
            ("ethernet_not_for_us", 1),
            ("ip_malformed", 1),
            ("ip_bad_version", 1),
            ("ip_bad_checksum", 1),
            ("ip_martian_source", 1),
            ("ip_not_for_us", 1),
        ]
    );
    // The good one reaches UDP (no socket: port unreachable).
    net.h(1).handle_frame(now, 0, &good);
    assert_eq!(net.h(1).counters().drops(DropReason::UdpNoSocket), 1);
}

/// a (10.0.0.1) -- r (10.0.0.254 | 10.0.1.254, forwarding) -- b (10.0.1.2), with the
/// MTU of the router's NIC towards b given.
fn routed(mtu_b: usize) -> Net {
    let a = HostConfig {
        default_gateway: Some(ip(10, 0, 0, 254)),
        ..host_config(1)
    };
    let mut r1 = iface(3, 0, [10, 0, 0, 254], 24);
    let mut r2 = iface(3, 1, [10, 0, 1, 254], 24);
    r1.mtu = 1500;
    r2.mtu = mtu_b;
    let r = HostConfig {
        name: "r".into(),
        interfaces: vec![r1, r2],
        forwarding: true,
        ..HostConfig::default()
    };
    // b's own MTU stays 1500: only the router's link towards it is narrow, so b
    // announces MSS 1460 and the path MTU must be discovered.
    let b = HostConfig {
        name: "b".into(),
        interfaces: vec![iface(2, 0, [10, 0, 1, 2], 24)],
        default_gateway: Some(ip(10, 0, 1, 254)),
        ..HostConfig::default()
    };
    let mut net = Net::new(vec![a, r, b]);
    net.segment(vec![(0, 0), (1, 0)]);
    net.segment(vec![(1, 1), (2, 0)]);
    net
}

const B: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

#[test]
fn tcp_through_a_router() {
    let mut net = routed(1500);
    let l = net.tcp_listener(2, 80, 4);
    let c = net.tcp_connect(0, SocketAddrV4::new(B, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, peer) = net.accept(2, l).unwrap();
    assert_eq!(*peer.ip(), ip(10, 0, 0, 1));
    let data = vec![0x5a; 50_000];
    net.send_all(0, c, &data);
    assert_eq!(net.recv_n(2, s, data.len()).unwrap().len(), data.len());
    assert!(net.h(1).counters().ip.forwarded > 40);
}

#[test]
fn ttl_expiry_on_the_router_sends_time_exceeded() {
    let mut net = routed(1500);
    let data = udp_bytes(addr(1, 5), SocketAddrV4::new(B, 5), b"x");
    let mut pkt = ip_repr(ip(10, 0, 0, 1), B, IpProtocol::UDP, data.len());
    pkt.ttl = 1;
    let now = net.now;
    net.h(1)
        .handle_frame(now, 0, &ip_frame(mac(1, 0), mac(3, 0), &pkt, &data));
    net.run_for(Duration::from_millis(10));
    assert_eq!(icmp_sent(&net, 1), vec![(11, 0)]);
    assert_eq!(net.h(1).counters().drops(DropReason::IpTtlExpired), 1);
    assert_eq!(net.h(0).counters().icmp.errors_in, 1);
    // TTL 2 goes through, arriving with TTL 1.
    pkt.ttl = 2;
    let now = net.now;
    net.h(1)
        .handle_frame(now, 0, &ip_frame(mac(1, 0), mac(3, 0), &pkt, &data));
    net.run_for(Duration::from_millis(10));
    let arrived: Vec<u8> = net
        .log
        .iter()
        .filter(|(_, h, _)| *h == 1)
        .filter_map(|(_, _, f)| parse_ip(f))
        .filter(|(r, _)| r.protocol == IpProtocol::UDP)
        .map(|(r, _)| r.ttl)
        .collect();
    assert_eq!(arrived, vec![1]);
}

#[test]
fn no_route_is_enetunreach() {
    let mut net = Net::lan(&[1]);
    let u = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    assert_eq!(
        net.h(0)
            .send_to(now, u, b"x", "192.168.7.7:9".parse().unwrap()),
        Err(Errno::ENETUNREACH)
    );
    let c = net.h(0).socket(SocketType::Stream).unwrap();
    assert_eq!(
        net.h(0).connect(now, c, "192.168.7.7:9".parse().unwrap()),
        Err(Errno::ENETUNREACH)
    );
}

#[test]
fn router_fragments_without_df_and_answers_frag_needed_with_df() {
    let mut net = routed(576);
    let u = net.h(2).socket(SocketType::Datagram).unwrap();
    net.h(2)
        .bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))
        .unwrap();
    let s = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    let big = vec![7u8; 1400];
    net.h(0)
        .send_to(now, s, &big, SocketAddrV4::new(B, 9))
        .unwrap();
    net.run_for(Duration::from_millis(50));
    let mut buf = vec![0u8; 2000];
    let now = net.now;
    assert_eq!(net.h(2).recv_from(now, u, &mut buf).map(|x| x.0), Ok(1400));
    assert!(net.h(1).counters().ip.fragments_out >= 3);
    assert_eq!(net.h(2).counters().ip.reassembled, 1);

    // With DF the router answers "fragmentation needed" with its next-hop MTU, and the
    // sender learns the path MTU (RFC 1191).
    net.h(0)
        .setsockopt(now, s, sansnet_stack::iface::SockOpt::DontFragment(true))
        .unwrap();
    net.h(0)
        .send_to(now, s, &big, SocketAddrV4::new(B, 9))
        .unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(icmp_sent(&net, 1), vec![(3, 4)]);
    let now = net.now;
    assert_eq!(net.h(0).path_mtu(now, B), Some(576));
    assert_eq!(
        net.h(0).send_to(now, s, &big, SocketAddrV4::new(B, 9)),
        Err(Errno::EMSGSIZE)
    );
}

#[test]
fn tcp_survives_a_smaller_path_mtu() {
    let mut net = routed(576);
    let l = net.tcp_listener(2, 80, 4);
    let c = net.tcp_connect(0, SocketAddrV4::new(B, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, _) = net.accept(2, l).unwrap();
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    net.send_all(0, c, &data);
    assert!(net.recv_n(2, s, data.len()).unwrap() == data);
    assert_eq!(net.h(0).counters().icmp.pmtu_updates, 1);
}

/// Regression: the host learned the path MTU but never told the connection, which went on
/// sending 1500-byte segments without DF for the router to fragment, forever.
#[test]
fn a_connection_shrinks_its_segments_to_a_learned_path_mtu() {
    let mut net = routed(576);
    let l = net.tcp_listener(2, 80, 4);
    let c = net.tcp_connect(0, SocketAddrV4::new(B, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, _) = net.accept(2, l).unwrap();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    net.send_all(0, c, &data);
    assert!(net.recv_n(2, s, data.len()).unwrap() == data);
    assert_eq!(net.h(0).counters().icmp.pmtu_updates, 1);
    assert_eq!(
        net.h(1).counters().ip.fragmented,
        0,
        "the router fragmented segments that should have fit the path"
    );
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    fn valid_frames() -> Vec<Vec<u8>> {
        let data = udp_bytes(addr(1, 5), addr(2, 53), b"payload");
        let pkt = ip_repr(
            ip(10, 0, 0, 1),
            ip(10, 0, 0, 2),
            IpProtocol::UDP,
            data.len(),
        );
        let req = echo_request(1, 2, b"ping");
        let icmp = ip_repr(
            ip(10, 0, 0, 1),
            ip(10, 0, 0, 2),
            IpProtocol::ICMP,
            req.len(),
        );
        let mut frag = pkt;
        frag.more_frags = true;
        vec![
            ip_frame(mac(1, 0), mac(2, 0), &pkt, &data),
            ip_frame(mac(1, 0), mac(2, 0), &icmp, &req),
            ip_frame(mac(1, 0), mac(2, 0), &frag, &[0; 16]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// No frame, however mangled, makes a host panic; the host keeps working.
        #[test]
        fn mangled_frames_never_panic(
            which in 0usize..3,
            flips in proptest::collection::vec((0usize..120, any::<u8>()), 0..8),
            cut in 0usize..130,
            raw in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let mut net = Net::lan(&[1, 2]);
            let _l = net.tcp_listener(1, 80, 4);
            let u = net.h(1).socket(SocketType::Datagram).unwrap();
            net.h(1).bind(u, addr(2, 53)).unwrap();
            let mut f = valid_frames()[which].clone();
            for (at, x) in flips {
                if let Some(b) = f.get_mut(at) {
                    *b ^= x;
                }
            }
            f.truncate(cut.max(1));
            let now = net.now;
            net.h(1).handle_frame(now, 0, &f);
            net.h(1).handle_frame(now, 0, &raw);
            net.run_for(Duration::from_secs(40));
            let c = net.tcp_connect(0, addr(2, 80));
            prop_assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
        }
    }
}

/// A router with a NIC on each of forty subnets (10.0.k.254/24) and hosts on three of them
/// (10.0.k.1): its addresses, subnet broadcasts and routes are found among forty, not two.
fn router_of_forty() -> Net {
    const HOST_SUBNETS: [u8; 3] = [0, 17, 39];
    let router = HostConfig {
        name: "r".into(),
        interfaces: (0..40).map(|k| iface(9, k, [10, 0, k, 254], 24)).collect(),
        forwarding: true,
        ..HostConfig::default()
    };
    let mut hosts = vec![router];
    for (i, &k) in HOST_SUBNETS.iter().enumerate() {
        hosts.push(HostConfig {
            name: format!("h{k}"),
            interfaces: vec![iface(i as u8 + 1, 0, [10, 0, k, 1], 24)],
            default_gateway: Some(ip(10, 0, k, 254)),
            ..HostConfig::default()
        });
    }
    let mut net = Net::new(hosts);
    for (i, &k) in HOST_SUBNETS.iter().enumerate() {
        net.segment(vec![(0, usize::from(k)), (i + 1, 0)]);
    }
    net
}

fn udp_socket_on(net: &mut Net, h: usize, port: u16) -> sansnet_stack::iface::Fd {
    let fd = net.h(h).socket(SocketType::Datagram).unwrap();
    net.h(h)
        .bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    fd
}

fn datagrams_at(net: &mut Net, h: usize, fd: sansnet_stack::iface::Fd) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2048];
    let now = net.now;
    while let Ok((n, _)) = net.h(h).recv_from(now, fd, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

#[test]
fn a_router_of_forty_subnets_forwards_to_each_and_keeps_its_broadcasts() {
    let mut net = router_of_forty();
    let at_39 = udp_socket_on(&mut net, 3, 9);
    let at_0 = udp_socket_on(&mut net, 1, 9);
    let on_router = udp_socket_on(&mut net, 0, 9);
    let from_0 = net.h(1).socket(SocketType::Datagram).unwrap();
    let from_17 = net.h(2).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    let to = |k: u8, last: u8| SocketAddrV4::new(ip(10, 0, k, last), 9);
    net.h(1).send_to(now, from_0, b"to 39", to(39, 1)).unwrap();
    net.h(2).send_to(now, from_17, b"to 0", to(0, 1)).unwrap();
    // The router's address on another subnet's NIC is still its own (the weak host model),
    // and subnet 39's broadcast address is a broadcast there, not a host to forward to.
    net.h(1).send_to(now, from_0, b"to r", to(39, 254)).unwrap();
    net.h(2)
        .send_to(now, from_17, b"bcast", to(39, 255))
        .unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(datagrams_at(&mut net, 3, at_39), vec![b"to 39".to_vec()]);
    assert_eq!(datagrams_at(&mut net, 1, at_0), vec![b"to 0".to_vec()]);
    assert_eq!(
        datagrams_at(&mut net, 0, on_router),
        vec![b"to r".to_vec(), b"bcast".to_vec()]
    );
    assert_eq!(net.h(0).counters().ip.forwarded, 2);
    assert_eq!(net.h(0).counters().total_drops(), 0);
}

#[test]
fn a_router_takes_a_group_it_joined_but_forwards_no_multicast() {
    let mut net = routed(1500);
    let group = Ipv4Addr::new(239, 1, 1, 1);
    let join = |net: &mut Net, h: usize, fd| {
        let now = net.now;
        let opt = sansnet_stack::iface::SockOpt::JoinMulticast {
            group,
            interface: Ipv4Addr::UNSPECIFIED,
        };
        net.h(h).setsockopt(now, fd, opt).unwrap();
    };
    let on_router = udp_socket_on(&mut net, 1, 9);
    let beyond = udp_socket_on(&mut net, 2, 9);
    join(&mut net, 1, on_router);
    join(&mut net, 2, beyond);
    let from = net.h(0).socket(SocketType::Datagram).unwrap();
    let now = net.now;
    let ttl = sansnet_stack::iface::SockOpt::MulticastTtl(8);
    net.h(0).setsockopt(now, from, ttl).unwrap();
    net.h(0)
        .send_to(now, from, b"group", SocketAddrV4::new(group, 9))
        .unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(
        datagrams_at(&mut net, 1, on_router),
        vec![b"group".to_vec()]
    );
    assert_eq!(datagrams_at(&mut net, 2, beyond), Vec::<Vec<u8>>::new());
    assert_eq!(net.h(1).counters().ip.forwarded, 0);
}
