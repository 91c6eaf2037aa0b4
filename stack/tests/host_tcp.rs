//! TCP through the host: demux, listeners, sockets, errors.

mod host_support;

use host_support::*;
use pretty_assertions::assert_eq;
use sansnet_stack::iface::{DropReason, Errno, Fd, Interest, Readiness, SockOpt, SocketState};
use sansnet_stack::tcp::State;
use sansnet_stack::time::Duration;
use sansnet_stack::wire::tcp::TcpFlags;

const SEC: Duration = Duration::from_secs(1);

/// Two hosts and a connection between them: the client's descriptor, the server's
/// accepted one, and the client's address as the server sees it.
fn established() -> (Net, Fd, Fd, std::net::SocketAddrV4) {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, peer) = net.accept(1, l).expect("accepted");
    (net, c, s, peer)
}

#[test]
fn connect_accept_and_echo() {
    let (mut net, c, s, peer) = established();
    assert_eq!(peer, net.h(0).local_addr(c).unwrap());
    assert_eq!(net.h(1).peer_addr(s).unwrap(), peer);
    assert_eq!(*peer.ip(), std::net::Ipv4Addr::new(10, 0, 0, 1));
    assert!((49152..=65535).contains(&peer.port()));

    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    net.send_all(0, c, &data);
    let got = net.recv_n(1, s, data.len()).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data);
    net.send_all(1, s, &got[..1000]);
    assert_eq!(net.recv_n(0, c, 1000).unwrap(), data[..1000].to_vec());

    // Orderly close both ways: EOF on each side.
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    assert_eq!(net.recv_n(1, s, 1), Ok(vec![]));
    let now = net.now;
    net.h(1).close(now, s).unwrap();
    net.run_for(Duration::from_secs(1));
    let states: Vec<_> = net.h(0).ss().iter().map(|r| r.state).collect();
    assert_eq!(states, vec![SocketState::Tcp(State::TimeWait)]);
    // TIME-WAIT ends after 2 MSL; the table empties.
    net.run_for(Duration::from_secs(61));
    assert_eq!(net.h(0).ss(), vec![]);
    assert_eq!(net.h(1).ss().len(), 1, "only the listener is left");
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let mut net = Net::lan(&[1, 2]);
    let c = net.tcp_connect(0, addr(2, 81));
    net.h(0).register(c, Interest::WRITABLE).unwrap();
    assert_eq!(net.wait_connected(0, c, SEC), Err(Errno::ECONNREFUSED));
    assert_eq!(net.h(1).counters().drops(DropReason::TcpNoSocket), 1);
    assert_eq!(net.h(1).counters().tcp.rsts_out, 1);
}

#[test]
fn refusal_is_reported_by_the_selector_and_so_error() {
    let mut net = Net::lan(&[1, 2]);
    let c = net.tcp_connect(0, addr(2, 81));
    net.h(0).register(c, Interest::WRITABLE).unwrap();
    assert_eq!(net.h(0).poll_ready(), vec![]);
    net.run_for(Duration::from_millis(100));
    let ready = net.h(0).poll_ready();
    assert_eq!(ready.len(), 1);
    assert!(ready[0].1.writable && ready[0].1.error, "{ready:?}");
    assert_eq!(net.h(0).take_error(c), Ok(Some(Errno::ECONNREFUSED)));
    assert_eq!(net.h(0).take_error(c), Ok(None));
}

#[test]
fn selector_reports_acceptable_readable_and_hang_up() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    net.h(1).register(l, Interest::READABLE).unwrap();
    let c = net.tcp_connect(0, addr(2, 80));
    net.run_for(Duration::from_millis(100));
    let ready = net.h(1).poll_ready();
    assert_eq!(
        ready,
        vec![(
            l,
            Readiness {
                acceptable: true,
                ..Readiness::default()
            }
        )]
    );
    let now = net.now;
    let (s, _) = net.h(1).accept(now, l).unwrap();
    net.h(1).register(s, Interest::READABLE).unwrap();
    assert_eq!(net.h(1).poll_ready(), vec![]);
    net.send_all(0, c, b"hello");
    net.run_for(Duration::from_millis(100));
    let ready = net.h(1).poll_ready();
    assert_eq!(ready.len(), 1);
    assert!(ready[0].1.readable);
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.recv_n(1, s, 5), Ok(b"hello".to_vec()));
    let now = net.now;
    let mut buf = [0u8; 8];
    assert_eq!(net.h(1).recv(now, s, &mut buf), Ok(0));
    assert!(net.h(1).poll_ready()[0].1.readable, "EOF stays readable");
}

#[test]
fn close_with_unread_data_resets_the_peer() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    net.send_all(0, c, b"unread");
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    net.h(1).close(now, s).unwrap();
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    let mut buf = [0u8; 8];
    assert_eq!(net.h(0).recv(now, c, &mut buf), Err(Errno::ECONNRESET));
}

#[test]
fn linger_zero_aborts_with_a_reset() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    let now = net.now;
    net.h(0)
        .setsockopt(now, c, SockOpt::Linger(Some(Duration::ZERO)))
        .unwrap();
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.recv_n(1, s, 1), Err(Errno::ECONNRESET));
    assert_eq!(net.h(0).ss(), vec![], "nothing lingers");
}

#[test]
fn a_connection_reset_in_the_accept_queue_is_accepted_with_so_error_pending() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    // Established and queued at the server, then reset before anyone accepts it.
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    net.h(0)
        .setsockopt(now, c, SockOpt::Linger(Some(Duration::ZERO)))
        .unwrap();
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    let (s, _) = net.accept(1, l).expect("still accepted, as on Linux");
    let h = net.h(1);
    assert!(h.readiness(s).unwrap().error);
    assert_eq!(h.take_error(s), Ok(Some(Errno::ECONNRESET)));
    assert_eq!(h.take_error(s), Ok(None), "SO_ERROR reports once");
    let now = net.now;
    assert_eq!(net.h(1).recv(now, s, &mut [0; 8]), Err(Errno::ECONNRESET));
}

#[test]
fn socket_options_read_back_what_setsockopt_set_and_accept_inherits_them() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let now = net.now;
    let fresh = net.h(1).socket_options(l).unwrap();
    assert_eq!(
        (fresh.nodelay, fresh.send_buffer, fresh.linger),
        (false, None, None)
    );
    net.h(1).setsockopt(now, l, SockOpt::NoDelay(true)).unwrap();
    net.h(1)
        .setsockopt(now, l, SockOpt::SendBuffer(4096))
        .unwrap();
    let _c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    let got = net.h(1).socket_options(s).unwrap();
    assert_eq!((got.nodelay, got.send_buffer), (true, Some(4096)));
    assert_eq!(net.h(1).socket_options(Fd(99)), Err(Errno::EBADF));
}

#[test]
fn dup_keeps_the_connection_until_the_last_descriptor_closes() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    let c2 = net.h(0).dup(c).unwrap();
    assert_eq!(c2.0, c.0 + 1, "lowest free descriptor");
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.h(0).ss()[0].fds, vec![c2]);
    net.send_all(0, c2, b"still open");
    assert_eq!(net.recv_n(1, s, 10), Ok(b"still open".to_vec()));
    let now = net.now;
    net.h(0).close(now, c2).unwrap();
    assert_eq!(net.recv_n(1, s, 1), Ok(vec![]), "EOF after the last close");
    // The freed descriptor number is reused first.
    let again = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Stream)
        .unwrap();
    assert_eq!(again, c);
}

#[test]
fn descriptor_limit_is_emfile() {
    let mut cfg = host_config(1);
    cfg.limits.max_descriptors = 3;
    let mut net = Net::new(vec![cfg]);
    let ty = sansnet_stack::iface::SocketType::Datagram;
    let fds: Vec<_> = (0..3).map(|_| net.h(0).socket(ty).unwrap()).collect();
    assert_eq!(net.h(0).socket(ty), Err(Errno::EMFILE));
    assert_eq!(net.h(0).dup(fds[0]), Err(Errno::EMFILE));
    let now = net.now;
    net.h(0).close(now, fds[1]).unwrap();
    assert_eq!(net.h(0).socket(ty), Ok(fds[1]));
    assert_eq!(
        net.h(0).close(now, sansnet_stack::iface::Fd(9)),
        Err(Errno::EBADF)
    );
}

#[test]
fn ephemeral_ports_run_out_with_eaddrnotavail() {
    let mut a = host_config(1);
    a.limits.ephemeral_port_first = 50000;
    a.limits.ephemeral_port_last = 50003;
    let mut net = Net::new(vec![a, host_config(2)]);
    net.segment(vec![(0, 0), (1, 0)]);
    let l = net.tcp_listener(1, 80, 16);
    let mut ports = Vec::new();
    for _ in 0..4 {
        let c = net.tcp_connect(0, addr(2, 80));
        assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
        ports.push(net.h(0).local_addr(c).unwrap().port());
        net.accept(1, l).unwrap();
    }
    ports.sort();
    assert_eq!(ports, vec![50000, 50001, 50002, 50003]);
    let now = net.now;
    let fd = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Stream)
        .unwrap();
    assert_eq!(
        net.h(0).connect(now, fd, addr(2, 80)),
        Err(Errno::EADDRNOTAVAIL)
    );
    // Another destination port is another 4-tuple: the ports are free for it.
    let _l2 = net.tcp_listener(1, 81, 16);
    assert_eq!(
        net.h(0).connect(now, fd, addr(2, 81)),
        Err(Errno::EINPROGRESS)
    );
}

#[test]
fn bind_conflicts_are_eaddrinuse_unless_reuseaddr() {
    let mut net = Net::lan(&[1]);
    let ty = sansnet_stack::iface::SocketType::Stream;
    let now = net.now;
    let h = net.h(0);
    let a = h.socket(ty).unwrap();
    h.bind(a, addr(1, 80)).unwrap();
    let b = h.socket(ty).unwrap();
    assert_eq!(
        h.bind(
            b,
            std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 80)
        ),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(h.bind(b, addr(9, 80)), Err(Errno::EADDRNOTAVAIL));
    h.setsockopt(now, a, SockOpt::ReuseAddr(true)).unwrap();
    h.setsockopt(now, b, SockOpt::ReuseAddr(true)).unwrap();
    h.bind(b, addr(1, 80)).unwrap();
    h.listen(a, 1).unwrap();
    assert_eq!(h.listen(b, 1), Err(Errno::EADDRINUSE));
}

#[test]
fn backlog_full_drops_syns_until_accept_makes_room() {
    let mut cfg = host_config(2);
    cfg.limits.syn_cookies = false;
    let mut net = Net::new(vec![host_config(1), cfg]);
    net.segment(vec![(0, 0), (1, 0)]);
    let l = net.tcp_listener(1, 80, 1);
    let c1 = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c1, SEC), Ok(()));
    // The accept queue holds c1: c2's SYNs are dropped (and retransmitted).
    let c2 = net.tcp_connect(0, addr(2, 80));
    net.run_for(Duration::from_millis(500));
    let now = net.now;
    assert_eq!(
        net.h(0).connect(now, c2, addr(2, 80)),
        Err(Errno::EINPROGRESS)
    );
    assert!(net.h(1).counters().drops(DropReason::TcpAcceptQueueFull) >= 1);
    assert_eq!(net.h(1).ss()[0].recv_q, 1);
    net.accept(1, l).unwrap();
    // The retransmitted SYN now gets through.
    assert_eq!(net.wait_connected(0, c2, Duration::from_secs(5)), Ok(()));
    net.accept(1, l).unwrap();
}

#[test]
fn a_full_accept_queue_drops_the_final_ack_instead_of_resetting() {
    let mut cfg = host_config(2);
    cfg.limits.syn_cookies = false;
    let mut net = Net::new(vec![host_config(1), cfg]);
    net.segment(vec![(0, 0), (1, 0)]);
    let l = net.tcp_listener(1, 80, 2);
    let c1 = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c1, SEC), Ok(()));
    // Both SYNs find room in the accept queue (one of two taken); only one of the final ACKs
    // does. The other is dropped, as on Linux with tcp_abort_on_overflow = 0: no reset, the
    // server stays in SYN-RECEIVED, and the client believes it is connected.
    let c2 = net.tcp_connect(0, addr(2, 80));
    let c3 = net.tcp_connect(0, addr(2, 80));
    net.run_for(Duration::from_millis(200));
    assert_eq!(net.wait_connected(0, c2, SEC), Ok(()));
    assert_eq!(net.wait_connected(0, c3, SEC), Ok(()));
    assert!(net.h(1).counters().drops(DropReason::TcpAcceptQueueFull) >= 1);
    assert!(net.h(1).counters().tcp.accept_queue_overflows >= 1);
    assert_eq!(net.h(1).counters().tcp.rsts_out, 0);
    let states: Vec<_> = net.h(1).ss().iter().map(|r| r.state).collect();
    assert!(
        states.contains(&SocketState::Tcp(State::SynReceived)),
        "{states:?}"
    );
    // Data sent meanwhile is dropped with the ACK it carries and retransmitted; once
    // `accept` makes room, the handshake completes and every byte arrives.
    for (c, byte) in [(c1, b'1'), (c2, b'2'), (c3, b'3')] {
        net.send_all(0, c, &[byte]);
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let (s, _) = net.accept(1, l).expect("accepted");
        got.extend(net.recv_n(1, s, 1).unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, b"123".to_vec());
    assert_eq!(net.h(1).counters().tcp.rsts_out, 0);
}

#[test]
fn loopback_connections_never_leave_the_host() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(0, 7, 4);
    let c = net.tcp_connect(0, "127.0.0.1:7".parse().unwrap());
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, peer) = net.accept(0, l).unwrap();
    assert_eq!(*peer.ip(), std::net::Ipv4Addr::LOCALHOST);
    net.send_all(0, c, b"ping");
    assert_eq!(net.recv_n(0, s, 4), Ok(b"ping".to_vec()));
    // Our own address is local too.
    let c2 = net.tcp_connect(0, addr(1, 7));
    assert_eq!(net.wait_connected(0, c2, SEC), Ok(()));
    assert!(
        net.log.is_empty(),
        "no frame on the wire: {:?}",
        net.log.len()
    );
}

#[test]
fn ss_lists_sockets_by_descriptor() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 8);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    net.send_all(0, c, b"abc");
    net.run_for(Duration::from_millis(100));
    let rows = net.h(1).ss();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].fds, vec![l]);
    assert_eq!(rows[0].state, SocketState::Listen);
    assert_eq!(rows[1].fds, vec![s]);
    assert_eq!(rows[1].state, SocketState::Tcp(State::Established));
    assert_eq!(rows[1].recv_q, 3);
    assert_eq!(rows[1].peer, Some(net.h(0).local_addr(c).unwrap()));
}

#[test]
fn syn_flood_with_cookies_still_serves_a_legitimate_client() {
    use sansnet_stack::wire::{ethernet, ipv4, tcp as wtcp, EtherType, SeqNumber};
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    // Make h2 know h1's MAC (the attacker spoofs sources on h1's link).
    let u = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Datagram)
        .unwrap();
    let now = net.now;
    net.h(0).send_to(now, u, b"x", addr(2, 9)).unwrap();
    net.run_for(Duration::from_millis(10));
    // 500 SYNs from spoofed, non-existent sources.
    for i in 0..500u32 {
        let src = std::net::Ipv4Addr::new(10, 0, 0, 100 + (i % 100) as u8);
        let seg = wtcp::Repr {
            src_port: 1000 + i as u16,
            dst_port: 80,
            flags: wtcp::TcpFlags::SYN,
            seq_number: SeqNumber(i * 1000),
            window_len: 1000,
            max_seg_size: Some(1460),
            ..wtcp::Repr::default()
        };
        let ip = ipv4::Repr {
            src_addr: src,
            dst_addr: std::net::Ipv4Addr::new(10, 0, 0, 2),
            protocol: ipv4::IpProtocol::TCP,
            payload_len: seg.buffer_len(),
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
            src_addr: mac(1, 0),
            dst_addr: mac(2, 0),
            vlan: None,
            ethertype: EtherType::IPV4,
        };
        let mut frame = vec![0u8; 14 + ip.buffer_len()];
        eth.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut frame[14..]));
        seg.emit(
            &mut wtcp::Packet::new_unchecked(&mut frame[34..]),
            ip.src_addr,
            ip.dst_addr,
        );
        let now = net.now;
        net.h(1).handle_frame(now, 0, &frame);
    }
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, Duration::from_secs(5)), Ok(()));
    let (s, _) = net.accept(1, l).expect("the legitimate client is accepted");
    net.send_all(0, c, b"through the flood");
    assert_eq!(net.recv_n(1, s, 17), Ok(b"through the flood".to_vec()));
    let counters = net.h(1).counters();
    assert!(counters.tcp.syn_cookies_sent >= 496, "{:?}", counters.tcp);
    assert_eq!(counters.tcp.syn_cookies_accepted, 1);
    // Memory stays bounded: four embryonic connections, the accepted one.
    assert!(net.h(1).ss().len() <= 1 + 4 + 1, "{}", net.h(1).ss().len());
}

/// The TCP payload of an Ethernet frame, if it carries TCP.
fn tcp_payload(frame: &[u8]) -> Option<Vec<u8>> {
    let (ip, tcp) = parse_ip(frame)?;
    if ip.protocol != sansnet_stack::wire::ipv4::IpProtocol::TCP || tcp.len() < 20 {
        return None;
    }
    Some(tcp[usize::from(tcp[12] >> 4) * 4..].to_vec())
}

#[test]
fn a_retransmission_timer_pushed_later_fires_at_its_new_deadline() {
    // The host files a connection's timer once and, when the engine pushes the deadline
    // later, re-files it only when the old instant comes: the re-filed one must still fire.
    let mut configs = vec![host_config(1), host_config(2)];
    configs[0].tcp.tlp = false; // only the retransmission timer, no probe before it
    configs[0].tcp.rack = false;
    configs[0].tcp.nagle = false; // "b" goes at once, not when "a" is acknowledged
    let mut net = Net::new(configs);
    net.segment(vec![(0, 0), (1, 0)]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    net.accept(1, l).expect("accepted");
    net.run_for(SEC);
    // "a" arrives; "b", sent just after it, is lost every time. The ACK of "a" re-arms the
    // retransmission timer later than the instant first filed for it.
    net.hook = Some(Box::new(|h, frame| match tcp_payload(frame) {
        Some(p) if h == 0 && p == b"b" => Verdict::Drop,
        _ => Verdict::Deliver,
    }));
    let t0 = net.now;
    net.send_all(0, c, b"a");
    net.run_for(Duration::from_micros(500));
    net.send_all(0, c, b"b");
    net.run_for(SEC);
    let sent_by = |h: usize| -> Vec<(sansnet_stack::time::Instant, Vec<u8>)> {
        let log = net.log.iter().filter(|(t, host, _)| *host == h && *t >= t0);
        log.map(|(t, _, f)| (*t, tcp_payload(f).unwrap_or_default()))
            .collect()
    };
    let acked_at = sent_by(1)[0].0 + LATENCY;
    assert!(acked_at < t0 + Duration::from_millis(200), "{acked_at:?}");
    // RTO is rto_min (200 ms) at this 2 ms RTT. Nothing is sent at t0 + 200 ms, the
    // instant first filed; "b" goes again 200 ms after the ACK, then backed off.
    let rto = Duration::from_millis(200);
    let b = b"b".to_vec();
    assert_eq!(
        sent_by(0),
        vec![
            (t0, b"a".to_vec()),
            (t0 + Duration::from_micros(500), b.clone()),
            (acked_at + rto, b.clone()),
            (acked_at + rto + rto * 2, b),
        ]
    );
}

/// A TCP segment from `src` to host 2 (10.0.0.2), framed as if from host 1's NIC, for
/// injecting what no socket of ours would send (spoofed sources, replayed SYNs).
fn tcp_frame(src: std::net::SocketAddrV4, seg: &sansnet_stack::wire::tcp::Repr<'_>) -> Vec<u8> {
    use sansnet_stack::wire::{ethernet, ipv4, tcp as wtcp, EtherType};
    let ip = ipv4::Repr {
        src_addr: *src.ip(),
        dst_addr: std::net::Ipv4Addr::new(10, 0, 0, 2),
        protocol: ipv4::IpProtocol::TCP,
        payload_len: seg.buffer_len(),
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
        src_addr: mac(1, 0),
        dst_addr: mac(2, 0),
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    eth.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut frame[14..]));
    seg.emit(
        &mut wtcp::Packet::new_unchecked(&mut frame[34..]),
        ip.src_addr,
        ip.dst_addr,
    );
    frame
}

/// TCP header flag bits, for looking at raw frames.
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// The TCP header flags of an Ethernet frame, if it carries TCP.
fn tcp_flags(frame: &[u8]) -> Option<u8> {
    let (ip, tcp) = parse_ip(frame)?;
    (ip.protocol == sansnet_stack::wire::ipv4::IpProtocol::TCP && tcp.len() >= 20).then(|| tcp[13])
}

/// The spoofed source whose SYN fills the SYN queue in `full_syn_queue`.
const SPOOFED: std::net::SocketAddrV4 =
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 100), 1000);

/// Host 2 listening on port 80 with a backlog of one, that one place in its SYN queue taken
/// by a SYN from `SPOOFED` (which never answers): the next SYN is answered with a cookie.
/// Both hosts know each other's MAC.
fn full_syn_queue() -> (Net, Fd) {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 1);
    let u = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Datagram)
        .unwrap();
    let now = net.now;
    net.h(0).send_to(now, u, b"x", addr(2, 9)).unwrap();
    net.run_for(Duration::from_millis(10));
    let now = net.now;
    net.h(1)
        .handle_frame(now, 0, &tcp_frame(SPOOFED, &spoofed(TcpFlags::SYN, 0)));
    (net, l)
}

/// A segment from `SPOOFED` to port 80.
fn spoofed(flags: TcpFlags, seq: u32) -> sansnet_stack::wire::tcp::Repr<'static> {
    sansnet_stack::wire::tcp::Repr {
        src_port: SPOOFED.port(),
        dst_port: 80,
        flags,
        seq_number: sansnet_stack::wire::SeqNumber(seq),
        window_len: 1000,
        max_seg_size: Some(1460),
        ..sansnet_stack::wire::tcp::Repr::default()
    }
}

/// Whether a frame is a TCP segment with all of `flags` and none of `not`.
fn has_flags(frame: &[u8], flags: u8, not: u8) -> bool {
    tcp_flags(frame).is_some_and(|f| f & flags == flags && f & not == 0)
}

// RFC 4987 section 3.6 with RFC 9293 section 3.10.7.4: one SYN answered twice. The client's
// SYN reaches a full SYN queue and is answered with a cookie (no TSopt); a retransmission of
// it finds room and creates an ordinary SYN-RECEIVED connection (TSopt, another ISS). The
// client completed the handshake with the cookie, so everything it sends acknowledges the
// cookie, which that connection never sent. Before: its segments, lacking the TSopt the
// connection expected, were dropped as MissingTimestamp and both ends exchanged SYN-ACKs and
// ACKs until the retries ran out; answered by the SYN-RECEIVED rule alone ("form a reset
// segment <SEQ=SEG.ACK><CTL=RST>"), the client would be reset. The listener recognises its
// cookie for the connection's IRS, and the cookie's connection replaces the embryonic one.
#[test]
fn a_cookie_handshake_survives_a_duplicate_syn_that_found_room() {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    let (mut net, l) = full_syn_queue();
    // The client's SYN is answered with a cookie; its ACK is lost, and its SYN is kept to
    // arrive again later.
    let client_syn: Rc<RefCell<Option<Vec<u8>>>> = Rc::default();
    let lose_client = Rc::new(Cell::new(true));
    let (syn_slot, lose) = (client_syn.clone(), lose_client.clone());
    net.hook = Some(Box::new(move |h, frame| {
        if h == 0 && has_flags(frame, SYN, ACK) {
            syn_slot.borrow_mut().get_or_insert_with(|| frame.to_vec());
            Verdict::Deliver
        } else if h == 0 && lose.get() {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }));
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    assert_eq!(net.h(1).counters().tcp.syn_cookies_sent, 1);
    // The spoofed connection goes (an exact RST returns it to LISTEN), and the client's SYN
    // arrives again: now it finds room.
    let now = net.now;
    net.h(1)
        .handle_frame(now, 0, &tcp_frame(SPOOFED, &spoofed(TcpFlags::RST, 1)));
    let syn = client_syn
        .borrow()
        .clone()
        .expect("the client's SYN was seen");
    net.h(1).handle_frame(now, 0, &syn);
    let states: Vec<_> = net.h(1).ss().iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        vec![SocketState::Listen, SocketState::Tcp(State::SynReceived)]
    );
    lose_client.set(false);
    net.send_all(0, c, b"hello");
    let (s, _) = net
        .accept(1, l)
        .expect("the client's connection is accepted");
    assert_eq!(net.recv_n(1, s, 5), Ok(b"hello".to_vec()));
    net.send_all(1, s, b"world");
    assert_eq!(net.recv_n(0, c, 5), Ok(b"world".to_vec()));
    let counters = net.h(1).counters().clone();
    assert_eq!(counters.tcp.syn_cookies_accepted, 1);
    assert_eq!(counters.tcp.syn_recv_replaced_by_cookie, 1);
    assert_eq!(counters.drops(DropReason::TcpMissingTimestamp), 0);
    assert_eq!(counters.tcp.rsts_out, 0);
}

// RFC 4987 section 3.6: the listener rebuilds the connection from the returning ACK, whose
// SEG.SEQ - 1 is the client's ISN and SEG.ACK - 1 the cookie. The ACK may carry data (here
// the bare ACK was lost and the request carries the ACK), as Linux also accepts: the
// connection opens and the data is delivered.
#[test]
fn a_cookie_returned_on_the_first_data_segment_opens_the_connection() {
    let (mut net, l) = full_syn_queue();
    net.hook = Some(Box::new(|h, frame| {
        if h == 0 && has_flags(frame, ACK, SYN) && tcp_payload(frame).is_some_and(|p| p.is_empty())
        {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }));
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    net.send_all(0, c, b"request");
    let (s, _) = net.accept(1, l).expect("accepted");
    assert_eq!(net.recv_n(1, s, 7), Ok(b"request".to_vec()));
    let counters = net.h(1).counters();
    assert_eq!(counters.tcp.syn_cookies_sent, 1);
    assert_eq!(counters.tcp.syn_cookies_accepted, 1);
}

// RFC 4987 section 3.6 and RFC 9293 section 3.10.7.2: when the ACK that returns the cookie
// and the data after it are lost, the next segment has SEG.SEQ = ISN + 1 + what was sent
// since, and nothing tells the listener the client's ISN: the cookie, a MAC over it, does
// not validate (Linux's `__cookie_v4_check` makes the same assumption, SEG.SEQ - 1), and the
// segment is what RFC 9293 says of any ACK in LISTEN: "Any acknowledgment is bad if it
// arrives on a connection still in the LISTEN state. An acceptable reset segment should be
// formed for any arriving ACK-bearing segment. The RST should be formatted as follows:
// <SEQ=SEG.ACK><CTL=RST>". The client is reset. (Accepting it would set RCV.NXT past the
// lost bytes, which the client then retransmits as old data, never delivered.) Here the
// later segment is the client's answer to a duplicate of the cookie SYN-ACK, as in the run
// `many-clients-500c-38-cookie-reset`.
#[test]
fn a_cookie_returned_after_lost_segments_is_reset() {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    let (mut net, _l) = full_syn_queue();
    let synack: Rc<RefCell<Option<Vec<u8>>>> = Rc::default();
    let lose_client = Rc::new(Cell::new(true));
    let (slot, lose) = (synack.clone(), lose_client.clone());
    net.hook = Some(Box::new(move |h, frame| {
        if h == 1 && has_flags(frame, SYN | ACK, 0) {
            slot.borrow_mut().get_or_insert_with(|| frame.to_vec());
            Verdict::Deliver
        } else if h == 0 && lose.get() && !has_flags(frame, SYN, 0) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }));
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let now = net.now;
    net.h(0).setsockopt(now, c, SockOpt::NoDelay(true)).unwrap();
    net.send_all(0, c, b"lost");
    net.run_for(Duration::from_millis(10));
    // The network duplicates the SYN-ACK: the client answers it with an ACK at SND.NXT
    // (RFC 9293 3.10.7.4 first, RFC 5961 section 4), which is ISN + 1 + 4.
    lose_client.set(false);
    let dup = synack.borrow().clone().expect("a SYN-ACK was sent");
    let now = net.now;
    net.h(0).handle_frame(now, 0, &dup);
    let deadline = now + SEC;
    let mut buf = [0u8; 16];
    let got = loop {
        net.run_for(Duration::from_millis(1));
        let now = net.now;
        match net.h(0).recv(now, c, &mut buf) {
            Err(Errno::EAGAIN) if now < deadline => continue,
            other => break other,
        }
    };
    assert_eq!(got, Err(Errno::ECONNRESET));
    let counters = net.h(1).counters();
    assert_eq!(counters.tcp.syn_cookies_sent, 1);
    assert_eq!(counters.tcp.syn_cookies_accepted, 0);
    assert_eq!(counters.drops(DropReason::TcpBadCookie), 1);
    assert_eq!(counters.tcp.rsts_out, 1);
}

// Every drop is counted where `netstat -s` shows it: a connection's own drops (here RFC 7323
// section 3.2, "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently
// drop the segment") reach the host's drop table, not only the connection's `Stats`.
#[test]
fn a_connections_drops_are_counted_in_the_hosts_table() {
    use sansnet_stack::wire::{tcp as wtcp, SeqNumber};
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    net.accept(1, l).expect("accepted");
    // Timestamps are agreed (the default configuration offers them on both sides).
    let client = net.h(0).local_addr(c).unwrap();
    let no_ts = wtcp::Repr {
        src_port: client.port(),
        dst_port: 80,
        flags: wtcp::TcpFlags::ACK,
        seq_number: SeqNumber(1),
        ack_number: SeqNumber(1),
        window_len: 1000,
        ..wtcp::Repr::default()
    };
    let now = net.now;
    for _ in 0..3 {
        net.h(1).handle_frame(now, 0, &tcp_frame(client, &no_ts));
    }
    assert_eq!(
        net.h(1).counters().drops(DropReason::TcpMissingTimestamp),
        3
    );
    let netstat = net.h(1).counters().to_string();
    assert!(netstat.contains("tcp_missing_timestamp=3"), "{netstat}");
}

// ---- TCP_INFO ----------------------------------------------------------------------------

#[test]
fn tcp_info_reports_state_rtt_windows_and_counters() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 8);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, _) = net.accept(1, l).unwrap();
    net.send_all(0, c, &[5u8; 20_000]);
    assert_eq!(net.recv_n(1, s, 20_000).unwrap().len(), 20_000);
    net.run_for(Duration::from_millis(500));

    let info = net.h(0).tcp_info(c).unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(info.recovery, sansnet_stack::tcp::RecoveryState::Open);
    assert_eq!(info.stats.bytes_sent, 20_000);
    assert_eq!(info.stats.retransmitted_segments, 0);
    assert_eq!(info.unacked_bytes, 0);
    assert!(info.srtt.is_some() && info.rttvar.is_some());
    assert!(info.rto >= info.srtt.unwrap());
    assert!(info.cwnd_bytes >= info.snd_mss);
    assert_eq!(info.send_queue_bytes, 0);
    let server = net.h(1).tcp_info(s).unwrap();
    assert_eq!(server.stats.bytes_received, 20_000);
    assert!(server.rcv_wnd_bytes > 0);

    // The same connection by its addresses, and the errors of sockets that have none.
    let (local, peer) = (net.h(0).local_addr(c).unwrap(), addr(2, 80));
    assert_eq!(net.h(0).tcp_info_of(local, peer), Some(info.clone()));
    assert_eq!(net.h(1).tcp_info(l), Err(Errno::ENOTCONN));
    assert_eq!(net.h(1).tcp_info(Fd(99)), Err(Errno::EBADF));

    // The `ss -i` line says what the struct says.
    let line = info.to_string();
    assert!(line.contains("bytes_sent:20000"), "{line}");
    assert!(line.contains(&format!("mss:{}", info.snd_mss)), "{line}");
}

#[test]
fn tcp_info_counts_retransmissions_and_drops_under_loss() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 8);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, _) = net.accept(1, l).unwrap();
    // Every 7th data segment from host 0 is lost, once.
    let mut n = 0u32;
    net.hook = Some(Box::new(move |h, frame| match tcp_payload(frame) {
        Some(p) if h == 0 && !p.is_empty() => {
            n += 1;
            if n.is_multiple_of(7) {
                Verdict::Drop
            } else {
                Verdict::Deliver
            }
        }
        _ => Verdict::Deliver,
    }));
    net.send_all(0, c, &[9u8; 200_000]);
    assert_eq!(net.recv_n(1, s, 200_000).unwrap().len(), 200_000);
    net.run_for(Duration::from_secs(2));
    let info = net.h(0).tcp_info(c).unwrap();
    assert!(info.stats.retransmitted_segments > 0, "{info}");
    assert!(info.stats.fast_recoveries > 0, "{info}");
    assert_eq!(info.unacked_bytes, 0, "{info}");
    assert!(info.to_string().contains("retrans:"), "{info}");
    assert!(info.ssthresh_bytes.is_some(), "{info}");
    assert!(info.to_string().contains(" ssthresh:"), "{info}");
}

/// `send` with `MSG_OOB` (`Host::send_urgent`): the segment that carries the bytes has URG
/// and a pointer past them (RFC 9293 MUST-62); the peer reads them in line. On UDP there
/// is no such thing: EOPNOTSUPP, as Linux answers.
#[test]
fn send_urgent_sets_urg_and_the_pointer_on_the_wire() {
    let mut net = Net::lan(&[1, 2]);
    let listener = net.tcp_listener(1, 80, 8);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, Duration::from_secs(5)), Ok(()));
    let (s, _) = net.accept(1, listener).unwrap();
    let now = net.now;
    assert_eq!(net.h(0).send(now, c, b"ab"), Ok(2));
    assert_eq!(net.h(0).send_urgent(now, c, b"!"), Ok(1));
    assert_eq!(net.recv_n(1, s, 3).unwrap(), b"ab!");
    let urgent: Vec<(usize, u16)> = net
        .log
        .iter()
        .filter(|(_, h, _)| *h == 0)
        .filter_map(|(_, _, f)| parse_ip(f))
        .filter_map(|(_, tcp)| {
            let p = sansnet_stack::wire::tcp::Packet::new_checked(&tcp[..]).ok()?;
            let payload = tcp.len() - p.header_len();
            p.flags()
                .contains(TcpFlags::URG)
                .then(|| (payload, p.urgent_pointer()))
        })
        .collect();
    assert_eq!(urgent, vec![(3, 3)]);
    let u = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Datagram)
        .unwrap();
    assert_eq!(net.h(0).send_urgent(now, u, b"x"), Err(Errno::EOPNOTSUPP));
}

// A socket option changes the connection it is set on, not the others made with the same
// configuration, which share it (`Host::shared_config`): TCP_NODELAY on one of two accepted
// connections lets its second small write out at once, while the other's waits for the
// ACK of its first (Nagle, RFC 9293 3.7.4; the client delays that ACK).
#[test]
fn nodelay_on_one_accepted_connection_leaves_nagle_on_for_the_other() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    let clients = [
        net.tcp_connect(0, addr(2, 80)),
        net.tcp_connect(0, addr(2, 80)),
    ];
    for c in clients {
        assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    }
    let (fast, fast_peer) = net.accept(1, l).expect("one accepted");
    let (slow, slow_peer) = net.accept(1, l).expect("two accepted");
    let now = net.now;
    net.h(1)
        .setsockopt(now, fast, SockOpt::NoDelay(true))
        .unwrap();
    let from = net.log.len();
    for _ in 0..2 {
        let now = net.now;
        for s in [fast, slow] {
            assert_eq!(net.h(1).send(now, s, b"0123456789"), Ok(10));
        }
        net.run_for(Duration::from_millis(1));
    }
    let data_segments_to = |port: u16| {
        net.log[from..]
            .iter()
            .filter(|(_, h, _)| *h == 1)
            .filter_map(|(_, _, f)| parse_ip(f))
            .filter(|(_, tcp)| tcp.len() > 20 && u16::from_be_bytes([tcp[2], tcp[3]]) == port)
            .filter(|(_, tcp)| tcp.len() > usize::from(tcp[12] >> 4) * 4)
            .count()
    };
    assert_eq!(data_segments_to(fast_peer.port()), 2);
    assert_eq!(data_segments_to(slow_peer.port()), 1);
}

/// The IPv4 TTLs of the TCP segments `host` sent from the log's entry `from` on.
fn tcp_ttls(net: &Net, host: usize, from: usize) -> Vec<u8> {
    net.log[from..]
        .iter()
        .filter(|(_, h, _)| *h == host)
        .filter_map(|(_, _, f)| parse_ip(f))
        .filter(|(ip, _)| ip.protocol == sansnet_stack::wire::ipv4::IpProtocol::TCP)
        .map(|(ip, _)| ip.ttl)
        .collect()
}

#[test]
fn ip_ttl_is_every_segments_ttl_and_accept_inherits_it() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let now = net.now;
    assert_eq!(
        net.h(1).socket_options(l).unwrap().ttl,
        None,
        "the host's default"
    );
    assert_eq!(
        net.h(1).setsockopt(now, l, SockOpt::Ttl(0)),
        Err(Errno::EINVAL)
    );
    net.h(1).setsockopt(now, l, SockOpt::Ttl(7)).unwrap();
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, _) = net.accept(1, l).expect("accepted");
    assert_eq!(net.h(1).socket_options(s).unwrap().ttl, Some(7));
    net.send_all(0, c, b"hello");
    assert_eq!(net.recv_n(1, s, 5), Ok(b"hello".to_vec()));
    net.run_for(SEC);
    let (client, server) = (tcp_ttls(&net, 0, 0), tcp_ttls(&net, 1, 0));
    assert!(
        client.len() >= 2 && client.iter().all(|&t| t == 64),
        "{client:?}"
    );
    assert!(
        server.len() >= 2 && server.iter().all(|&t| t == 7),
        "{server:?}"
    );

    // Set on a connection already made: its next segments carry it.
    let mark = net.log.len();
    let now = net.now;
    net.h(0).setsockopt(now, c, SockOpt::Ttl(200)).unwrap();
    net.send_all(0, c, b"again");
    assert_eq!(net.recv_n(1, s, 5), Ok(b"again".to_vec()));
    let client = tcp_ttls(&net, 0, mark);
    assert!(
        !client.is_empty() && client.iter().all(|&t| t == 200),
        "{client:?}"
    );
}

#[test]
fn peek_leaves_the_bytes_for_the_next_read_and_sends_nothing() {
    let (mut net, c, s, peer) = established();
    let mut buf = [0u8; 32];
    assert_eq!(net.h(1).peek(s, &mut buf), Err(Errno::EAGAIN));

    net.send_all(0, c, b"hello world");
    net.run_for(SEC);
    let sent = net.log.len();
    assert_eq!(net.h(1).peek(s, &mut buf[..5]), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(net.h(1).peek_from(s, &mut buf), Ok((11, peer)));
    assert_eq!(&buf[..11], b"hello world");
    net.run_for(SEC);
    assert_eq!(
        net.log.len(),
        sent,
        "a peek opens no window: nothing is sent"
    );
    assert!(net.h(1).readiness(s).unwrap().readable, "still readable");
    assert_eq!(net.recv_n(1, s, 11), Ok(b"hello world".to_vec()));
    assert_eq!(net.h(1).peek(s, &mut buf), Err(Errno::EAGAIN), "read now");

    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(SEC);
    assert_eq!(net.h(1).peek(s, &mut buf), Ok(0), "the end of the stream");
    assert_eq!(net.h(1).peek(Fd(99), &mut buf), Err(Errno::EBADF));
}

#[test]
fn quickack_acks_at_once_and_sends_an_ack_held_back() {
    let (mut net, c, s, _) = established();
    let delay = net.h(1).config().tcp.delayed_ack_timeout;
    net.run_for(SEC);
    // When the server's next frame leaves after `c` sends one byte at `t0`, and
    // `then(net)` runs half a delayed-ACK timeout later.
    let ack_after = |net: &mut Net, then: &dyn Fn(&mut Net)| {
        let (mark, t0) = (net.log.len(), net.now);
        net.h(0).send(t0, c, b"x").unwrap();
        net.run_for(delay / 2);
        then(net);
        net.run_for(SEC);
        net.log[mark..]
            .iter()
            .find(|(_, h, _)| *h == 1)
            .map(|(t, _, _)| *t - t0)
            .expect("an ACK")
    };
    let held = ack_after(&mut net, &|_| {});
    assert!(held >= delay, "a lone segment's ACK is delayed: {held:?}");
    let set = |on: bool| {
        move |net: &mut Net| {
            let now = net.now;
            net.h(1).setsockopt(now, s, SockOpt::QuickAck(on)).unwrap();
        }
    };
    let sent_when_set = ack_after(&mut net, &set(true));
    assert!(
        sent_when_set >= delay / 2 && sent_when_set < delay,
        "turned on, the held ACK goes at once: {sent_when_set:?}"
    );
    assert!(net.h(1).socket_options(s).unwrap().quickack);
    let quick = ack_after(&mut net, &|_| {});
    assert!(quick < delay / 2, "then every ACK at once: {quick:?}");
    set(false)(&mut net);
    let off = ack_after(&mut net, &|_| {});
    assert!(off >= delay, "off again, delayed: {off:?}");
}

#[test]
fn ip_tos_sets_the_dscp_of_every_segment_but_not_the_ecn_bits() {
    let (mut net, c, s, _) = established();
    let mark = net.log.len();
    let now = net.now;
    // DSCP 46 (expedited forwarding) with both ECN bits: TCP keeps the ECN bits its own.
    net.h(0)
        .setsockopt(now, c, SockOpt::Tos(0xb8 | 0b11))
        .unwrap();
    assert_eq!(net.h(0).socket_options(c).unwrap().tos, 0xbb);
    net.send_all(0, c, &[7; 5000]);
    assert_eq!(net.recv_n(1, s, 5000).map(|v| v.len()), Ok(5000));
    let marks: Vec<(u8, u8)> = net.log[mark..]
        .iter()
        .filter(|(_, h, _)| *h == 0)
        .filter_map(|(_, _, f)| parse_ip(f))
        .map(|(ip, _)| (ip.dscp, ip.ecn))
        .collect();
    assert!(
        marks.len() >= 4 && marks.iter().all(|&m| m == (46, 0)),
        "{marks:?}"
    );
}
