//! `sansnet_sim::net`: tokio's `net` API on the current task's host, with names from the
//! simulation's DNS, and clear errors wherever there is no host to run on.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use pretty_assertions::assert_eq;
use sansnet_sim::net::{self, TcpListener, TcpSocket, TcpStream, UdpSocket};
use sansnet_sim::stack::iface::Host;
use sansnet_sim::{Duration, LinkFaults, NodeId, Seed, Sim};
use std::io::{IoSlice, IoSliceMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const NOT_ON_HOST: &str = "sansnet::net: not called from a task on a simulated host";

/// "client" and "server" on one 1 ms link, both registered in the DNS by `add_host`.
fn two_hosts(seed: u64) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(Seed(seed));
    let client = sim.add_host("client", CLIENT_IP, 24);
    let server = sim.add_host("server", SERVER_IP, 24);
    sim.connect(
        sim.nic(client, 0),
        sim.nic(server, 0),
        LinkFaults::with_latency(Duration::from_millis(1)),
    );
    (sim, client, server)
}

fn addr(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// A server on `port` that echoes every connection until its peer's FIN, then closes.
fn spawn_echo_server(sim: &mut Sim, server: NodeId, port: u16) {
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(("0.0.0.0", port)).await.unwrap();
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.shutdown().await.unwrap();
            });
        }
    });
}

/// Runs `f` on `node` to completion and returns what it returned.
fn run_on<T: 'static>(sim: &mut Sim, node: NodeId, f: impl Future<Output = T> + 'static) -> T {
    let h = sim.spawn_on(node, f);
    sim.run_until_complete(&h).unwrap();
    h.take().unwrap()
}

fn kind_and_message(e: io::Error) -> (io::ErrorKind, String) {
    (e.kind(), e.to_string())
}

// ----- names -----

async fn lookup(host: impl net::ToSocketAddrs) -> Vec<SocketAddr> {
    net::lookup_host(host).await.unwrap().collect()
}

#[test]
fn lookup_host_resolves_host_names_aliases_and_literals() {
    let (mut sim, client, _) = two_hosts(1);
    sim.set_addr("db.internal", SERVER_IP);
    let found = run_on(&mut sim, client, async {
        vec![
            lookup("server:80").await,
            lookup(("db.internal", 5432)).await,
            lookup("10.0.0.9:7").await,
            lookup(String::from("client:1")).await,
            lookup("localhost:3").await,
        ]
    });
    assert_eq!(
        found,
        vec![
            vec![addr(SERVER_IP, 80)],
            vec![addr(SERVER_IP, 5432)],
            vec![addr(Ipv4Addr::new(10, 0, 0, 9), 7)],
            vec![addr(CLIENT_IP, 1)],
            vec![addr(Ipv4Addr::LOCALHOST, 3)],
        ]
    );
}

#[test]
fn every_tokio_address_form_is_accepted() {
    let (mut sim, client, _) = two_hosts(2);
    let found = run_on(&mut sim, client, async {
        let name = String::from("server:9");
        let list = [addr(SERVER_IP, 9)];
        vec![
            lookup(addr(SERVER_IP, 9)).await,
            lookup(SocketAddrV4::new(SERVER_IP, 9)).await,
            lookup((SERVER_IP, 9)).await,
            lookup((IpAddr::V4(SERVER_IP), 9)).await,
            lookup(("server", 9)).await,
            lookup((String::from("server"), 9)).await,
            lookup(&name).await,
            lookup(&&*name).await,
            lookup(&list[..]).await,
        ]
    });
    assert_eq!(found, vec![vec![addr(SERVER_IP, 9)]; 9]);
}

#[test]
fn an_unknown_name_is_not_found_and_names_itself() {
    let (mut sim, client, _) = two_hosts(3);
    let errors = run_on(&mut sim, client, async {
        vec![
            kind_and_message(net::lookup_host("nowhere:80").await.err().unwrap()),
            kind_and_message(TcpStream::connect(("nowhere", 80)).await.unwrap_err()),
        ]
    });
    let not_found = (io::ErrorKind::NotFound, "no such host: nowhere".to_owned());
    assert_eq!(errors, vec![not_found.clone(), not_found]);
}

#[test]
fn ipv6_and_malformed_addresses_are_invalid_input() {
    let (mut sim, client, _) = two_hosts(4);
    let errors = run_on(&mut sim, client, async {
        vec![
            kind_and_message(net::lookup_host("[::1]:80").await.err().unwrap()),
            kind_and_message(
                net::lookup_host((Ipv6Addr::LOCALHOST, 80))
                    .await
                    .err()
                    .unwrap(),
            ),
            kind_and_message(TcpListener::bind(("::", 80)).await.unwrap_err()),
            kind_and_message(net::lookup_host("server").await.err().unwrap()),
            kind_and_message(net::lookup_host("server:http").await.err().unwrap()),
        ]
    });
    let ipv4_only = (
        io::ErrorKind::InvalidInput,
        "sansnet is IPv4 only".to_owned(),
    );
    assert_eq!(
        errors,
        vec![
            ipv4_only.clone(),
            ipv4_only.clone(),
            ipv4_only,
            (
                io::ErrorKind::InvalidInput,
                "invalid socket address".to_owned()
            ),
            (io::ErrorKind::InvalidInput, "invalid port value".to_owned()),
        ]
    );
}

// ----- TCP -----

#[test]
fn connect_by_name_and_by_ip_reaches_the_same_listener() {
    let (mut sim, client, server) = two_hosts(5);
    spawn_echo_server(&mut sim, server, 7);
    let echoed = run_on(&mut sim, client, async {
        let mut out = Vec::new();
        for target in ["server:7", "10.0.0.2:7"] {
            let mut s = TcpStream::connect(target).await.unwrap();
            s.write_all(target.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            let mut back = String::new();
            s.read_to_string(&mut back).await.unwrap();
            out.push(back);
        }
        out
    });
    assert_eq!(echoed, vec!["server:7".to_owned(), "10.0.0.2:7".to_owned()]);
}

#[test]
fn split_halves_carry_data_both_ways_at_once() {
    let (mut sim, client, server) = two_hosts(6);
    spawn_echo_server(&mut sim, server, 7);
    let back = run_on(&mut sim, client, async {
        let mut stream = TcpStream::connect(("server", 7)).await.unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (mut r, mut w) = stream.split();
        let write = async {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        };
        let mut back = Vec::new();
        let read = r.read_to_end(&mut back);
        let ((), n) = tokio::join!(write, read);
        assert_eq!(n.unwrap(), data.len());
        back == data
    });
    assert!(back, "the echo differs from what was sent");
}

#[test]
fn owned_halves_work_from_separate_tokio_tasks_and_reunite() {
    let (mut sim, client, server) = two_hosts(7);
    spawn_echo_server(&mut sim, server, 7);
    let (back, peer, reunited_peer) = run_on(&mut sim, client, async {
        let (r, w) = TcpStream::connect(("server", 7))
            .await
            .unwrap()
            .into_split();
        let peer = r.peer_addr().unwrap();
        let (r2, w2) = TcpStream::connect(("server", 7))
            .await
            .unwrap()
            .into_split();
        // Halves of two streams do not reunite, and come back intact.
        let net::tcp::ReuniteError(r, w2) = r.reunite(w2).unwrap_err();
        let stream = r2.reunite(w2).unwrap();
        let reunited_peer = stream.peer_addr().unwrap();
        drop(stream);
        let writer = tokio::spawn(async move {
            let mut w = w;
            w.write_all(b"hello from a writer task").await.unwrap();
            // Dropping the owned write half sends FIN: the echo then ends.
        });
        let reader = tokio::spawn(async move {
            let mut r = r;
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        });
        writer.await.unwrap();
        let back = reader.await.unwrap();
        (back, peer, reunited_peer)
    });
    assert_eq!(
        (back.as_slice(), peer, reunited_peer),
        (
            &b"hello from a writer task"[..],
            addr(SERVER_IP, 7),
            addr(SERVER_IP, 7)
        )
    );
}

#[test]
fn both_ends_agree_on_local_and_peer_addresses() {
    let (mut sim, client, server) = two_hosts(8);
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind("server:80").await.unwrap();
        let (stream, from) = listener.accept().await.unwrap();
        *s.borrow_mut() = Some((
            listener.local_addr().unwrap(),
            from,
            stream.local_addr().unwrap(),
            stream.peer_addr().unwrap(),
        ));
    });
    let (local, peer) = run_on(&mut sim, client, async {
        let stream = TcpStream::connect("server:80").await.unwrap();
        let addrs = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
        // Kept open until the server has looked at its end.
        sansnet_sim::exec::sleep(Duration::from_millis(10)).await;
        addrs
    });
    let (listening, from, accepted_local, accepted_peer) = seen.borrow_mut().take().unwrap();
    assert_eq!(local.ip(), IpAddr::V4(CLIENT_IP));
    assert_eq!(
        (listening, from, accepted_local, accepted_peer, peer),
        (
            addr(SERVER_IP, 80),
            local,
            addr(SERVER_IP, 80),
            local,
            addr(SERVER_IP, 80)
        )
    );
}

#[test]
fn set_nodelay_round_trips() {
    let (mut sim, client, server) = two_hosts(9);
    spawn_echo_server(&mut sim, server, 7);
    let flags = run_on(&mut sim, client, async {
        let stream = TcpStream::connect(("server", 7)).await.unwrap();
        let before = stream.nodelay().unwrap();
        stream.set_nodelay(true).unwrap();
        let on = stream.nodelay().unwrap();
        stream.set_nodelay(false).unwrap();
        (before, on, stream.nodelay().unwrap())
    });
    assert_eq!(flags, (false, true, false));
}

#[test]
fn linger_zero_makes_the_close_a_reset() {
    let (mut sim, client, server) = two_hosts(24);
    let got = sim.spawn_on(server, async move {
        let listener = TcpListener::bind(("0.0.0.0", 9)).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        stream.readable().await.unwrap();
        // SO_ERROR says what came, once.
        let pending = stream.take_error().unwrap().map(|e| e.kind());
        (pending, stream.take_error().unwrap().map(|e| e.kind()))
    });
    let linger = run_on(&mut sim, client, async {
        let stream = TcpStream::connect(("server", 9)).await.unwrap();
        let before = stream.linger().unwrap();
        stream.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        let after = stream.linger().unwrap();
        drop(stream);
        (before, after)
    });
    sim.run_until_complete(&got).unwrap();
    assert_eq!(
        (linger, got.take().unwrap()),
        (
            (None, Some(std::time::Duration::ZERO)),
            (Some(io::ErrorKind::ConnectionReset), None)
        )
    );
}

#[test]
fn a_tcp_socket_takes_its_options_and_port_before_it_connects() {
    let (mut sim, client, server) = two_hosts(25);
    spawn_echo_server(&mut sim, server, 7);
    let (defaults, set, local, echoed, nodelay) = run_on(&mut sim, client, async {
        let fresh = TcpSocket::new_v4().unwrap();
        let defaults = (
            fresh.send_buffer_size().unwrap(),
            fresh.recv_buffer_size().unwrap(),
            fresh.reuseaddr().unwrap(),
            fresh.keepalive().unwrap(),
        );
        drop(fresh);
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(64 * 1024).unwrap();
        socket.set_recv_buffer_size(32 * 1024).unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.set_keepalive(true).unwrap();
        socket.set_nodelay(true).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0);
        socket.set_tos_v4(0x28).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0x28);
        assert_eq!(
            socket.set_tos_v4(256).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        socket.set_zero_linger().unwrap();
        assert_eq!(socket.linger().unwrap(), Some(std::time::Duration::ZERO));
        socket.set_linger(None).unwrap();
        socket.bind(addr(CLIENT_IP, 40_000)).unwrap();
        let set = (
            socket.send_buffer_size().unwrap(),
            socket.recv_buffer_size().unwrap(),
            socket.reuseaddr().unwrap(),
            socket.keepalive().unwrap(),
        );
        let mut stream = socket.connect(addr(SERVER_IP, 7)).await.unwrap();
        stream.write_all(b"via TcpSocket").await.unwrap();
        let mut back = [0; 13];
        stream.read_exact(&mut back).await.unwrap();
        (
            defaults,
            set,
            stream.local_addr().unwrap(),
            back.to_vec(),
            stream.nodelay().unwrap(),
        )
    });
    assert_eq!(defaults, (256 * 1024, 256 * 1024, false, false));
    assert_eq!(set, (64 * 1024, 32 * 1024, true, true));
    assert_eq!(local, addr(CLIENT_IP, 40_000));
    assert_eq!(echoed, b"via TcpSocket");
    assert!(nodelay, "the option set before connect stays on the stream");
}

#[test]
fn a_tcp_socket_listens_its_options_passing_to_what_it_accepts() {
    let (mut sim, client, server) = two_hosts(26);
    sim.spawn_on(server, async move {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseport(true).unwrap();
        socket.set_nodelay(true).unwrap();
        socket.bind(addr(Ipv4Addr::UNSPECIFIED, 9)).unwrap();
        let listener = socket.listen(16).unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        // An accepted socket has its listener's options, as on Linux.
        let nodelay = stream.nodelay().unwrap();
        stream
            .write_all(if nodelay { b"on" } else { b"no" })
            .await
            .unwrap();
    });
    let (got, v6) = run_on(&mut sim, client, async {
        let mut stream = TcpStream::connect("server:9").await.unwrap();
        let mut got = [0; 2];
        stream.read_exact(&mut got).await.unwrap();
        (got, TcpSocket::new_v6().unwrap_err().kind())
    });
    assert_eq!((&got, v6), (b"on", io::ErrorKind::InvalidInput));
}

#[test]
fn shutdown_gives_the_peer_end_of_stream_and_it_can_still_answer() {
    let (mut sim, client, server) = two_hosts(10);
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(("server", 9)).await.unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        // read_to_end returns only at the client's FIN.
        stream.read_to_end(&mut got).await.unwrap();
        stream
            .write_all(&(got.len() as u32).to_be_bytes())
            .await
            .unwrap();
    });
    let (count, eof) = run_on(&mut sim, client, async {
        let mut stream = TcpStream::connect(("server", 9)).await.unwrap();
        stream.write_all(&[7; 3000]).await.unwrap();
        stream.shutdown().await.unwrap();
        let count = stream.read_u32().await.unwrap();
        let eof = stream.read(&mut [0; 8]).await.unwrap();
        (count, eof)
    });
    assert_eq!((count, eof), (3000, 0));
}

#[test]
fn binding_a_port_twice_is_addr_in_use() {
    let (mut sim, _, server) = two_hosts(11);
    let (first, second, udp_again) = run_on(&mut sim, server, async {
        let first = TcpListener::bind("0.0.0.0:80").await.unwrap();
        let second = TcpListener::bind("server:80").await.unwrap_err().kind();
        let udp = UdpSocket::bind("0.0.0.0:53").await.unwrap();
        let udp_again = UdpSocket::bind("server:53").await.unwrap_err().kind();
        drop(udp);
        (first.local_addr().unwrap(), second, udp_again)
    });
    assert_eq!(
        (first, second, udp_again),
        (
            addr(Ipv4Addr::UNSPECIFIED, 80),
            io::ErrorKind::AddrInUse,
            io::ErrorKind::AddrInUse
        )
    );
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let (mut sim, client, _) = two_hosts(12);
    let kind = run_on(&mut sim, client, async {
        TcpStream::connect("server:1").await.unwrap_err().kind()
    });
    assert_eq!(kind, io::ErrorKind::ConnectionRefused);
}

#[test]
fn connecting_to_an_address_nobody_answers_arp_for_is_host_unreachable() {
    let (mut sim, client, _) = two_hosts(21);
    let kind = run_on(&mut sim, client, async {
        TcpStream::connect((Ipv4Addr::new(10, 0, 0, 77), 80))
            .await
            .unwrap_err()
            .kind()
    });
    // tokio on Linux: EHOSTUNREACH is `HostUnreachable` (it was `Other` here once).
    assert_eq!(kind, io::ErrorKind::HostUnreachable);
}

#[test]
fn peek_shows_bytes_that_the_next_read_still_returns() {
    let (mut sim, client, server) = two_hosts(22);
    spawn_echo_server(&mut sim, server, 7);
    let (peeked, peeked_again, read) = run_on(&mut sim, client, async {
        let mut stream = TcpStream::connect("server:7").await.unwrap();
        stream.write_all(b"hello").await.unwrap();
        let mut first = [0; 3];
        let n = stream.peek(&mut first).await.unwrap();
        let mut again = [0; 8];
        let m = stream.peek(&mut again).await.unwrap();
        let mut all = [0; 5];
        stream.read_exact(&mut all).await.unwrap();
        (first[..n].to_vec(), again[..m].to_vec(), all.to_vec())
    });
    // A second peek with more room takes the rest that has arrived, as tokio's does.
    assert_eq!(
        (peeked.as_slice(), peeked_again.as_slice(), read.as_slice()),
        (&b"hel"[..], &b"hello"[..], &b"hello"[..])
    );
}

#[test]
fn readable_then_try_read_is_tokios_readiness_loop() {
    let (mut sim, client, server) = two_hosts(23);
    spawn_echo_server(&mut sim, server, 7);
    let (early, got, end) = run_on(&mut sim, client, async {
        let stream = TcpStream::connect("server:7").await.unwrap();
        // Nothing has arrived yet: a try is `WouldBlock`, never a wait.
        let early = stream.try_read(&mut [0; 4]).unwrap_err().kind();
        stream.writable().await.unwrap();
        assert_eq!(stream.try_write(b"ping").unwrap(), 4);
        let mut got = Vec::new();
        while got.len() < 4 {
            stream.readable().await.unwrap();
            let mut buf = [0; 16];
            match stream.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        let (r, mut w) = stream.into_split();
        w.shutdown().await.unwrap();
        let stream = r.reunite(w).unwrap();
        // The server closes after our FIN: readable at the end, and a read of 0.
        stream.readable().await.unwrap();
        let end = stream.try_read(&mut [0; 4]).unwrap();
        (early, got, end)
    });
    assert_eq!(
        (early, got.as_slice(), end),
        (io::ErrorKind::WouldBlock, &b"ping"[..], 0)
    );
}

#[test]
fn poll_accept_serves_a_hand_written_accept_loop() {
    let (mut sim, client, server) = two_hosts(13);
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(("0.0.0.0", 8080)).await.unwrap();
        for _ in 0..2 {
            let (mut s, _) = std::future::poll_fn(|cx| listener.poll_accept(cx))
                .await
                .unwrap();
            s.write_all(b"hi").await.unwrap();
        }
    });
    let got = run_on(&mut sim, client, async {
        let mut out = Vec::new();
        for _ in 0..2 {
            let mut s = TcpStream::connect("server:8080").await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            out.push(buf);
        }
        out
    });
    assert_eq!(got, vec![b"hi".to_vec(), b"hi".to_vec()]);
}

#[test]
fn a_host_reaches_its_own_listener_through_localhost() {
    let (mut sim, _, server) = two_hosts(20);
    let got = run_on(&mut sim, server, async {
        let listener = TcpListener::bind("0.0.0.0:6379").await.unwrap();
        let mut out = TcpStream::connect("localhost:6379").await.unwrap();
        let (mut inside, from) = listener.accept().await.unwrap();
        out.write_all(b"PING").await.unwrap();
        let mut buf = [0u8; 4];
        inside.read_exact(&mut buf).await.unwrap();
        (buf, from.ip())
    });
    assert_eq!(got, (*b"PING", IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

/// Descriptors open on `node`, from its `ss` table.
fn open_descriptors(sim: &mut Sim, node: NodeId) -> usize {
    sim.with_node::<Host, _>(node, |h, _| h.ss().iter().map(|row| row.fds.len()).sum())
        .unwrap()
}

#[test]
fn the_socket_closes_when_its_last_half_goes() {
    let (mut sim, client, server) = two_hosts(21);
    spawn_echo_server(&mut sim, server, 7);
    let halves = Rc::new(RefCell::new(None));
    let h = halves.clone();
    run_on(&mut sim, client, async move {
        *h.borrow_mut() = Some(
            TcpStream::connect(("server", 7))
                .await
                .unwrap()
                .into_split(),
        );
    });
    let (read, write) = halves.borrow_mut().take().unwrap();
    let mut counts = vec![open_descriptors(&mut sim, client)];
    // Dropped from a task on the host, as they would be in a service.
    run_on(&mut sim, client, async move { drop(read) });
    counts.push(open_descriptors(&mut sim, client));
    run_on(&mut sim, client, async move { drop(write) });
    counts.push(open_descriptors(&mut sim, client));
    assert_eq!(counts, vec![1, 1, 0]);
}

// ----- handles across tasks -----

fn assert_thread_safe<T: Send + Sync + Unpin + 'static>() {}

#[test]
fn every_handle_is_send_sync_unpin_and_static() {
    assert_thread_safe::<TcpStream>();
    assert_thread_safe::<TcpListener>();
    assert_thread_safe::<UdpSocket>();
    assert_thread_safe::<net::tcp::OwnedReadHalf>();
    assert_thread_safe::<net::tcp::OwnedWriteHalf>();
    assert_thread_safe::<net::tcp::ReuniteError>();
    fn halves_are_send_sync<'a>(_: net::tcp::ReadHalf<'a>, _: net::tcp::WriteHalf<'a>)
    where
        net::tcp::ReadHalf<'a>: Send + Sync + Unpin,
        net::tcp::WriteHalf<'a>: Send + Sync + Unpin,
    {
    }
    let _ = halves_are_send_sync;
}

#[test]
fn a_stream_moved_into_tokio_spawn_keeps_working() {
    let (mut sim, client, server) = two_hosts(14);
    spawn_echo_server(&mut sim, server, 7);
    let back = run_on(&mut sim, client, async {
        // Connecting inside tokio::spawn also needs connect's future to be Send.
        let stream = tokio::spawn(TcpStream::connect(("server", 7)))
            .await
            .unwrap()
            .unwrap();
        tokio::spawn(async move {
            let mut stream = stream;
            stream.write_all(b"spawned").await.unwrap();
            stream.shutdown().await.unwrap();
            let mut back = Vec::new();
            stream.read_to_end(&mut back).await.unwrap();
            back
        })
        .await
        .unwrap()
    });
    assert_eq!(back, b"spawned".to_vec());
}

// ----- UDP -----

#[test]
fn a_udp_echo_by_name() {
    let (mut sim, client, server) = two_hosts(15);
    sim.spawn_on(server, async move {
        let socket = UdpSocket::bind("server:53").await.unwrap();
        let mut buf = [0u8; 64];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            socket.send_to(&buf[..n], from).await.unwrap();
        }
    });
    let (reply, from, local) = run_on(&mut sim, client, async {
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        socket.send_to(b"ping", "server:53").await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        (buf[..n].to_vec(), from, socket.local_addr().unwrap())
    });
    assert_eq!((reply, from), (b"ping".to_vec(), addr(SERVER_IP, 53)));
    assert_ne!(local.port(), 0, "port 0 binds an ephemeral port");
}

#[test]
fn a_connected_udp_socket_sends_and_receives_without_addresses() {
    let (mut sim, client, server) = two_hosts(16);
    sim.spawn_on(server, async move {
        let socket = UdpSocket::bind(("0.0.0.0", 53)).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        socket.send_to(&buf[..n], from).await.unwrap();
    });
    let (before, peer, reply) = run_on(&mut sim, client, async {
        let socket = UdpSocket::bind((CLIENT_IP, 0)).await.unwrap();
        let before = socket.peer_addr().unwrap_err().kind();
        socket.connect(("server", 53)).await.unwrap();
        socket.send(b"pong").await.unwrap();
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).await.unwrap();
        (before, socket.peer_addr().unwrap(), buf[..n].to_vec())
    });
    assert_eq!(
        (before, peer, reply),
        (
            io::ErrorKind::NotConnected,
            addr(SERVER_IP, 53),
            b"pong".to_vec()
        )
    );
}

#[test]
fn udp_try_calls_with_readiness_and_the_poll_forms_carry_datagrams() {
    let (mut sim, client, server) = two_hosts(27);
    sim.spawn_on(server, async move {
        // A hand-driven loop, as a QUIC endpoint's I/O is: the poll forms.
        let socket = UdpSocket::bind(("0.0.0.0", 53)).await.unwrap();
        let mut storage = [0u8; 64];
        let mut buf = tokio::io::ReadBuf::new(&mut storage);
        let from = std::future::poll_fn(|cx| socket.poll_recv_from(cx, &mut buf))
            .await
            .unwrap();
        let reply = [buf.filled(), b"!"].concat();
        std::future::poll_fn(|cx| socket.poll_send_to(cx, &reply, from))
            .await
            .unwrap();
    });
    let (early, got, from) = run_on(&mut sim, client, async {
        let socket = UdpSocket::bind((CLIENT_IP, 0)).await.unwrap();
        let early = socket.try_recv_from(&mut [0; 8]).unwrap_err().kind();
        socket.writable().await.unwrap();
        socket.try_send_to(b"ping", addr(SERVER_IP, 53)).unwrap();
        let mut buf = [0u8; 64];
        loop {
            socket.readable().await.unwrap();
            match socket.try_recv_from(&mut buf) {
                Ok((n, from)) => return (early, buf[..n].to_vec(), from),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(
        (early, got, from),
        (
            io::ErrorKind::WouldBlock,
            b"ping!".to_vec(),
            addr(SERVER_IP, 53)
        )
    );
}

#[test]
fn ready_with_vectored_and_bufmut_forms_is_tokios_readiness_loop() {
    let (mut sim, client, server) = two_hosts(28);
    spawn_echo_server(&mut sim, server, 7);
    let (writable, wrote, readable, halves, bufmut) = run_on(&mut sim, client, async {
        let stream = TcpStream::connect("server:7").await.unwrap();
        let ready = stream
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        let writable = (ready.is_writable(), ready.is_readable());
        let wrote = stream
            .try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")])
            .unwrap();
        let mut got = Vec::new();
        let mut readable = false;
        while got.len() < 4 {
            readable |= stream
                .ready(Interest::READABLE)
                .await
                .unwrap()
                .is_readable();
            let (mut a, mut b) = ([0u8; 3], [0u8; 8]);
            let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
            match stream.try_read_vectored(&mut bufs) {
                Ok(n) => got.extend_from_slice(&[&a[..], &b[..]].concat()[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"abcd");
        // The same calls on the owned halves, and a peek on the read half.
        let (mut r, w) = stream.into_split();
        w.ready(Interest::WRITABLE).await.unwrap();
        assert_eq!(w.try_write_vectored(&[IoSlice::new(b"xyz")]).unwrap(), 3);
        let mut peeked = [0u8; 8];
        let n = r.peek(&mut peeked).await.unwrap();
        let mut buf = BytesMut::with_capacity(16);
        while buf.len() < 3 {
            r.readable().await.unwrap();
            match r.try_read_buf(&mut buf) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        let halves = (peeked[..n].to_vec(), buf.to_vec());
        // And on the borrowed halves.
        let mut stream = r.reunite(w).unwrap();
        let (rh, wh) = stream.split();
        assert_eq!(wh.try_write(b"12").unwrap(), 2);
        let mut buf = BytesMut::with_capacity(4);
        while buf.len() < 2 {
            rh.ready(Interest::READABLE).await.unwrap();
            let _ = rh.try_read_buf(&mut buf);
        }
        (writable, wrote, readable, halves, buf.to_vec())
    });
    assert_eq!(
        (writable, wrote, readable, halves, bufmut),
        (
            (true, false),
            4,
            true,
            (b"xyz".to_vec(), b"xyz".to_vec()),
            b"12".to_vec()
        )
    );
}

#[test]
fn ttl_is_set_read_back_and_inherited_by_accept() {
    let (mut sim, client, server) = two_hosts(29);
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(("0.0.0.0", 80)).await.unwrap();
        assert_eq!(listener.ttl().unwrap(), 64, "the host's default");
        listener.set_ttl(17).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let ttl = stream.ttl().unwrap();
        let mut stream = stream;
        stream
            .write_all(&[u8::try_from(ttl).unwrap()])
            .await
            .unwrap();
    });
    let (inherited, set, too_big) = run_on(&mut sim, client, async {
        let mut stream = TcpStream::connect("server:80").await.unwrap();
        let mut ttl = [0u8; 1];
        stream.read_exact(&mut ttl).await.unwrap();
        stream.set_ttl(200).unwrap();
        let too_big = stream.set_ttl(256).unwrap_err().kind();
        assert!(!stream.quickack().unwrap());
        stream.set_quickack(true).unwrap();
        assert!(stream.quickack().unwrap());
        (ttl[0], stream.ttl().unwrap(), too_big)
    });
    assert_eq!(
        (inherited, set, too_big),
        (17, 200, io::ErrorKind::InvalidInput)
    );
}

#[test]
fn udp_peeks_broadcast_ttl_and_bufmut_receives() {
    let (mut sim, client, server) = two_hosts(30);
    // Bound first, read after the client has sent: two datagrams wait in its queue.
    let server_sock = run_on(&mut sim, server, async {
        UdpSocket::bind(("0.0.0.0", 53)).await.unwrap()
    });
    let (denied, broadcast, ttl) = run_on(&mut sim, client, async move {
        let socket = UdpSocket::bind((CLIENT_IP, 5353)).await.unwrap();
        let to = addr(Ipv4Addr::new(10, 0, 0, 255), 53);
        let denied = socket.send_to(b"all", to).await.unwrap_err().kind();
        socket.set_broadcast(true).unwrap();
        socket.send_to(b"all", to).await.unwrap();
        socket.send_to(b"one", addr(SERVER_IP, 53)).await.unwrap();
        socket.set_ttl(5).unwrap();
        (denied, socket.broadcast().unwrap(), socket.ttl().unwrap())
    });
    assert_eq!(
        (denied, broadcast, ttl),
        (io::ErrorKind::PermissionDenied, true, 5)
    );
    let got = run_on(&mut sim, server, async move {
        let socket = &server_sock;
        socket.ready(Interest::READABLE).await.unwrap();
        let sender = socket.peek_sender().await.unwrap();
        let mut buf = [0u8; 2];
        let peeked = socket.peek(&mut buf).await.unwrap();
        let mut buf3 = [0u8; 8];
        let (n, from) = socket.try_peek_from(&mut buf3).unwrap();
        let mut first = BytesMut::with_capacity(8);
        let (m, _) = socket.recv_buf_from(&mut first).await.unwrap();
        let mut second = BytesMut::with_capacity(8);
        socket.recv_buf(&mut second).await.unwrap();
        let empty = socket.try_peek(&mut buf).unwrap_err().kind();
        let err = socket.take_error().unwrap().map(|e| e.kind());
        (
            sender,
            buf[..peeked].to_vec(),
            buf3[..n].to_vec(),
            from,
            m,
            first.to_vec(),
            second.to_vec(),
            empty,
            err,
        )
    });
    let from = addr(CLIENT_IP, 5353);
    assert_eq!(
        got,
        (
            from,
            b"al".to_vec(),
            b"all".to_vec(),
            from,
            3,
            b"all".to_vec(),
            b"one".to_vec(),
            io::ErrorKind::WouldBlock,
            None
        )
    );
}

#[test]
fn multicast_reaches_the_members_on_a_switch_and_not_the_others() {
    let mut sim = Sim::new(Seed(31));
    let sw = sim.add_switch("sw");
    let names = ["sender", "member", "stranger"];
    let nodes: Vec<NodeId> = (0..3u8)
        .map(|i| sim.add_host(names[usize::from(i)], Ipv4Addr::new(10, 0, 0, i + 1), 24))
        .collect();
    for &n in &nodes {
        sim.connect(
            sim.nic(n, 0),
            sw,
            LinkFaults::with_latency(Duration::from_micros(50)),
        );
    }
    let group = Ipv4Addr::new(239, 255, 0, 1);
    let listen = |joins: bool| async move {
        let socket = UdpSocket::bind(("0.0.0.0", 7000)).await.unwrap();
        if joins {
            socket
                .join_multicast_v4(group, Ipv4Addr::UNSPECIFIED)
                .unwrap();
        }
        let mut buf = [0u8; 32];
        let got = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            socket.recv_from(&mut buf),
        )
        .await;
        got.ok().map(|r| {
            let (n, from) = r.unwrap();
            (buf[..n].to_vec(), from)
        })
    };
    let member = sim.spawn_on(nodes[1], listen(true));
    let stranger = sim.spawn_on(nodes[2], listen(false));
    let sent = sim.spawn_on(nodes[0], async move {
        let socket = UdpSocket::bind(("0.0.0.0", 0)).await.unwrap();
        let defaults = (
            socket.multicast_loop_v4().unwrap(),
            socket.multicast_ttl_v4().unwrap(),
        );
        socket.set_multicast_ttl_v4(2).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        socket.send_to(b"announce", (group, 7000)).await.unwrap();
        let v6 = socket
            .join_multicast_v6(&Ipv6Addr::LOCALHOST, 0)
            .unwrap_err()
            .kind();
        assert_eq!(socket.multicast_loop_v6().unwrap_err().kind(), v6);
        (
            defaults,
            socket.multicast_ttl_v4().unwrap(),
            socket.local_addr().unwrap(),
            v6,
        )
    });
    sim.run_until_complete(&member).unwrap();
    sim.run_until_complete(&stranger).unwrap();
    let (defaults, ttl, from, v6) = sent.take().unwrap();
    assert_eq!(
        (defaults, ttl, v6),
        ((true, 1), 2, io::ErrorKind::InvalidInput)
    );
    let from = addr(Ipv4Addr::new(10, 0, 0, 1), from.port());
    assert_eq!(member.take().unwrap(), Some((b"announce".to_vec(), from)));
    assert_eq!(stranger.take().unwrap(), None, "not a member: nothing");
}

// ----- no host to run on -----

/// One poll with a waker that does nothing: every call here must finish at once.
fn poll_once<T>(f: impl Future<Output = T>) -> Poll<T> {
    let mut f = pin!(f);
    f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn expect_not_on_host<T>(r: Poll<io::Result<T>>) -> (io::ErrorKind, String) {
    match r {
        Poll::Ready(Err(e)) => kind_and_message(e),
        Poll::Ready(Ok(_)) => panic!("succeeded off any host"),
        Poll::Pending => panic!("waited off any host"),
    }
}

fn not_on_host() -> (io::ErrorKind, String) {
    (io::ErrorKind::Other, NOT_ON_HOST.to_owned())
}

#[test]
fn a_task_on_no_node_gets_a_clear_error() {
    let (mut sim, _, _) = two_hosts(17);
    let h = sim.spawn(async {
        vec![
            kind_and_message(TcpStream::connect("server:7").await.unwrap_err()),
            kind_and_message(TcpListener::bind("0.0.0.0:7").await.unwrap_err()),
            kind_and_message(UdpSocket::bind("0.0.0.0:7").await.unwrap_err()),
            kind_and_message(net::lookup_host("server:7").await.err().unwrap()),
        ]
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(h.take().unwrap(), vec![not_on_host(); 4]);
}

#[test]
fn outside_any_task_every_call_is_a_clear_error() {
    let (_sim, _, _) = two_hosts(18);
    assert_eq!(
        vec![
            expect_not_on_host(poll_once(TcpStream::connect("server:7"))),
            expect_not_on_host(poll_once(TcpListener::bind("0.0.0.0:7"))),
            expect_not_on_host(poll_once(UdpSocket::bind(("0.0.0.0", 7)))),
            expect_not_on_host(poll_once(net::lookup_host("10.0.0.2:7"))),
        ],
        vec![not_on_host(); 4]
    );
}

#[test]
fn a_stream_used_outside_its_task_or_after_its_host_crashed_errors() {
    let (mut sim, client, server) = two_hosts(19);
    spawn_echo_server(&mut sim, server, 7);
    let kept: Rc<RefCell<Option<TcpStream>>> = Rc::new(RefCell::new(None));
    let k = kept.clone();
    run_on(&mut sim, client, async move {
        *k.borrow_mut() = Some(TcpStream::connect(("server", 7)).await.unwrap());
    });
    let mut stream = kept.borrow_mut().take().unwrap();
    // Between steps, outside any task.
    let outside = (
        kind_and_message(stream.peer_addr().unwrap_err()),
        expect_not_on_host(poll_once(stream.write_all(b"x"))),
    );
    assert_eq!(outside, (not_on_host(), not_on_host()));
    // From a task on another host, after the stream's host crashed, then restarted.
    sim.crash(client);
    let stream = Rc::new(RefCell::new(Some(stream)));
    let s = stream.clone();
    let crashed = run_on(&mut sim, server, async move {
        let stream = s.borrow_mut().take().unwrap();
        let e = stream.peer_addr().unwrap_err();
        *s.borrow_mut() = Some(stream);
        kind_and_message(e)
    });
    sim.restart(client).unwrap();
    let s = stream.clone();
    let restarted = run_on(&mut sim, server, async move {
        let mut stream = s.borrow_mut().take().unwrap();
        let e = stream.write_all(b"x").await.unwrap_err();
        drop(stream); // closing is quietly skipped: the descriptor is not the new host's
        kind_and_message(e)
    });
    assert_eq!(
        (crashed, restarted),
        (
            (
                io::ErrorKind::ConnectionReset,
                "sansnet::net: host \"client\" crashed".to_owned()
            ),
            (
                io::ErrorKind::ConnectionReset,
                "sansnet::net: host \"client\" restarted since this socket was made".to_owned()
            ),
        )
    );
}
