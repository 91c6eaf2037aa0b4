//! TCP and the network: ICMP errors (RFC 9293 section 3.9.2.2, RFC 5927), orphans,
//! TIME-WAIT reuse, many connections, determinism.

mod host_support;

use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

use host_support::*;
use pretty_assertions::assert_eq;
use sansnet_stack::iface::{DropReason, Errno, Shutdown, SocketState};
use sansnet_stack::tcp::State;
use sansnet_stack::time::Duration;
use sansnet_stack::wire::icmpv4::{self, DstUnreachable};
use sansnet_stack::wire::ipv4::{self, IpProtocol};
use sansnet_stack::wire::ChecksumMode;

/// A hook that loses every TCP segment host `h` sends.
fn drop_tcp_from(h: usize) -> Hook {
    Box::new(move |from, frame| {
        let tcp = parse_ip(frame).is_some_and(|(ip, _)| ip.protocol == IpProtocol::TCP);
        if from == h && tcp {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    })
}

/// The first TCP segment host `h` sent, as (IP header, TCP bytes).
fn first_tcp(net: &Net, h: usize) -> (ipv4::Repr, Vec<u8>) {
    net.log
        .iter()
        .filter(|(_, from, _)| *from == h)
        .filter_map(|(_, _, f)| parse_ip(f))
        .find(|(ip, _)| ip.protocol == IpProtocol::TCP)
        .expect("a TCP segment")
}

/// An ICMP destination unreachable from `router_ip` quoting `quoted`, as a frame to host 1.
fn unreachable_frame(code: DstUnreachable, quoted: &(ipv4::Repr, Vec<u8>)) -> Vec<u8> {
    let icmp = icmpv4::Repr::DstUnreachable {
        reason: code,
        next_hop_mtu: 0,
        header: quoted.0,
        data: &quoted.1[..8],
    };
    let mut b = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut icmpv4::Packet::new_unchecked(&mut b[..]));
    let ip = ip_repr(
        Ipv4Addr::new(10, 0, 0, 2),
        quoted.0.src_addr,
        IpProtocol::ICMP,
        0,
    );
    ip_frame(mac(2, 0), mac(1, 0), &ip, &b)
}

#[test]
fn port_unreachable_in_syn_sent_is_a_hard_error() {
    // RFC 1122 section 4.2.3.9: codes 2 and 3 are hard errors; in SYN-SENT the connection
    // is aborted (RFC 5927 section 4.1 keeps them soft once synchronized).
    let mut net = Net::lan(&[1, 2]);
    net.hook = Some(drop_tcp_from(0));
    let c = net.tcp_connect(0, addr(2, 80));
    net.run_for(Duration::from_millis(5));
    let syn = first_tcp(&net, 0);
    let frame = unreachable_frame(DstUnreachable::PORT_UNREACHABLE, &syn);
    let now = net.now;
    net.h(0).handle_frame(now, 0, &frame);
    assert_eq!(
        net.wait_connected(0, c, Duration::from_millis(10)),
        Err(Errno::ECONNREFUSED)
    );
    assert_eq!(net.h(0).counters().tcp.aborted_by_network, 1);
}

#[test]
fn icmp_errors_quoting_a_sequence_number_out_of_window_are_ignored() {
    let mut net = Net::lan(&[1, 2]);
    net.hook = Some(drop_tcp_from(0));
    let c = net.tcp_connect(0, addr(2, 80));
    net.run_for(Duration::from_millis(5));
    let (ip, mut tcp) = first_tcp(&net, 0);
    tcp[4] ^= 0x80; // a forged sequence number
    let frame = unreachable_frame(DstUnreachable::PORT_UNREACHABLE, &(ip, tcp));
    let now = net.now;
    net.h(0).handle_frame(now, 0, &frame);
    assert_eq!(net.h(0).counters().drops(DropReason::IcmpErrorBadSeq), 1);
    let now = net.now;
    assert_eq!(
        net.h(0).connect(now, c, addr(2, 80)),
        Err(Errno::EINPROGRESS)
    );
}

#[test]
fn soft_errors_are_reported_when_the_connection_times_out() {
    let mut net = Net::lan(&[1, 2]);
    net.hook = Some(drop_tcp_from(0));
    let c = net.tcp_connect(0, addr(2, 80));
    net.run_for(Duration::from_millis(5));
    let syn = first_tcp(&net, 0);
    let frame = unreachable_frame(DstUnreachable::HOST_UNREACHABLE, &syn);
    let now = net.now;
    net.h(0).handle_frame(now, 0, &frame);
    assert_eq!(
        net.h(0).connect(now, c, addr(2, 80)),
        Err(Errno::EINPROGRESS),
        "soft: the handshake goes on"
    );
    assert_eq!(
        net.wait_connected(0, c, Duration::from_secs(400)),
        Err(Errno::EHOSTUNREACH)
    );
}

#[test]
fn source_quench_is_ignored() {
    let mut net = Net::lan(&[1, 2]);
    let _l = net.tcp_listener(1, 80, 4);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, Duration::from_secs(1)), Ok(()));
    let syn = first_tcp(&net, 0);
    let icmp = icmpv4::Repr::SourceQuench {
        header: syn.0,
        data: &syn.1[..8],
    };
    let mut b = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut icmpv4::Packet::new_unchecked(&mut b[..]));
    assert!(icmpv4::Repr::parse(
        &icmpv4::Packet::new_checked(&b[..]).unwrap(),
        ChecksumMode::Verify
    )
    .is_ok());
    let ip = ip_repr(
        Ipv4Addr::new(10, 0, 0, 2),
        syn.0.src_addr,
        IpProtocol::ICMP,
        0,
    );
    let now = net.now;
    net.h(0)
        .handle_frame(now, 0, &ip_frame(mac(2, 0), mac(1, 0), &ip, &b));
    assert_eq!(net.h(0).counters().drops(DropReason::IcmpSourceQuench), 1);
}

#[test]
fn orphaned_fin_wait_2_is_reaped_after_the_orphan_timeout() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    let c = net.tcp_connect(0, addr(2, 80));
    let (_s, _) = net.accept(1, l).unwrap();
    // The client closes; the server never does: the client waits in FIN-WAIT-2.
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_secs(1));
    let states: Vec<_> = net.h(0).ss().iter().map(|r| r.state).collect();
    assert_eq!(states, vec![SocketState::Tcp(State::FinWait2)]);
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.h(0).ss(), vec![]);
    assert_eq!(net.h(0).counters().tcp.orphans_timed_out, 1);
}

/// Found by `sansnet sweep`: an orphan leaves FIN-WAIT-2 for TIME-WAIT (the peer's FIN
/// came) and its orphan deadline passes while it waits. The stale deadline must not stay
/// due, or the host asks to be woken at the same instant forever.
#[test]
fn orphan_deadline_passing_in_time_wait_does_not_spin() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_secs(30));
    // The server closes late: the client goes to TIME-WAIT (2 MSL = 60 s) with its orphan
    // deadline (60 s after entering FIN-WAIT-2) still ahead.
    let now = net.now;
    net.h(1).close(now, s).unwrap();
    net.run_for(Duration::from_secs(1));
    let states: Vec<_> = net.h(0).ss().iter().map(|r| r.state).collect();
    assert_eq!(states, vec![SocketState::Tcp(State::TimeWait)]);
    // Past the orphan deadline: the host's next deadline must move on.
    net.run_for(Duration::from_secs(40));
    let now = net.now;
    assert!(
        net.h(0).poll_timeout().is_none_or(|t| t > now),
        "host deadline stuck at {now}"
    );
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.h(0).ss(), vec![]);
}

#[test]
fn half_close_keeps_the_other_direction_open() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    let now = net.now;
    net.h(0).shutdown(now, c, Shutdown::Write).unwrap();
    assert_eq!(net.h(0).send(now, c, b"x"), Err(Errno::EPIPE));
    assert_eq!(net.recv_n(1, s, 1), Ok(vec![]));
    net.send_all(1, s, b"reply after FIN");
    assert_eq!(net.recv_n(0, c, 15), Ok(b"reply after FIN".to_vec()));
}

#[test]
fn a_new_syn_reopens_a_connection_in_time_wait() {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    // The server closes first, so the server holds TIME-WAIT.
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    let port = net.h(0).local_addr(c).unwrap();
    let now = net.now;
    net.h(1).close(now, s).unwrap();
    assert_eq!(net.recv_n(0, c, 1), Ok(vec![]));
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_secs(1));
    assert!(net
        .h(1)
        .ss()
        .iter()
        .any(|r| r.state == SocketState::Tcp(State::TimeWait)));
    // Same 4-tuple again, from an explicitly bound client.
    let c2 = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Stream)
        .unwrap();
    net.h(0).bind(c2, port).unwrap_or_else(|e| panic!("{e}"));
    let now = net.now;
    assert_eq!(
        net.h(0).connect(now, c2, addr(2, 80)),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(net.wait_connected(0, c2, Duration::from_secs(5)), Ok(()));
    assert!(net.accept(1, l).is_some());
}

#[test]
fn two_thousand_connections() {
    let mut a = host_config(1);
    a.limits.max_descriptors = 5000;
    let mut b = host_config(2);
    b.limits.max_descriptors = 5000;
    let mut net = Net::new(vec![a, b]);
    net.segment(vec![(0, 0), (1, 0)]);
    let l = net.tcp_listener(1, 80, 4096);
    // Resolve ARP first: its pending queue holds only 3 packets.
    let u = net
        .h(0)
        .socket(sansnet_stack::iface::SocketType::Datagram)
        .unwrap();
    let now = net.now;
    net.h(0).send_to(now, u, b"x", addr(2, 9)).unwrap();
    net.run_for(Duration::from_millis(10));
    let clients: Vec<_> = (0..2000).map(|_| net.tcp_connect(0, addr(2, 80))).collect();
    net.run_for(Duration::from_millis(200));
    let mut accepted = 0;
    let now = net.now;
    while net.h(1).accept(now, l).is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 2000);
    for c in &clients {
        assert_eq!(net.h(0).connect(now, *c, addr(2, 80)), Ok(()));
    }
    assert_eq!(net.h(0).ss().len(), 2001);
}

fn scenario_hash() -> u64 {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 4);
    let c = net.tcp_connect(0, addr(2, 80));
    let (s, _) = net.accept(1, l).unwrap();
    net.send_all(0, c, &[9u8; 30_000]);
    net.recv_n(1, s, 30_000).unwrap();
    let now = net.now;
    net.h(0).close(now, c).unwrap();
    net.run_for(Duration::from_secs(2));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (t, from, f) in &net.log {
        t.as_nanos().hash(&mut h);
        from.hash(&mut h);
        f.hash(&mut h);
    }
    h.finish()
}

#[test]
fn same_inputs_same_frames() {
    assert_eq!(scenario_hash(), scenario_hash());
}
