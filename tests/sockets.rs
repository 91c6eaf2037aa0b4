//! The socket facts an operating-systems course teaches, checked on the `ss`-like table of
//! simulated hosts.

mod common;

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use common::{for_seeds, in_state, pair, run_until, ss, ESTABLISHED, PORT, SERVER};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::exec;
use sansnet_sim::stack::iface::{Host, Proto, SocketInfo, SocketState};
use sansnet_sim::stack::tcp::State;
use sansnet_sim::{Duration, LinkFaults, NodeId, Seed, Sim, TcpListener, TcpStream};

const SEEDS: &[u64] = &[1, 2, 3, 4];

/// Ports a client may be given (RFC 6056, IANA's dynamic range).
const EPHEMERAL: std::ops::RangeInclusive<u16> = 49152..=65535;

const LATENCY: Duration = Duration::from_millis(1);

/// A server that accepts every connection and keeps it open (never reads, never closes).
/// `accepted` counts them.
fn hold_all(sim: &mut Sim, server: NodeId, accepted: Rc<Cell<usize>>) {
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(server, SERVER).unwrap();
        let mut held = Vec::new();
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            held.push(conn);
            accepted.set(held.len());
        }
    });
}

/// A client that connects and keeps the connection open; `connected` counts them.
fn connect_and_hold(sim: &mut Sim, client: NodeId, connected: Rc<Cell<usize>>) {
    sim.spawn_on(client, async move {
        let conn = TcpStream::connect(client, SERVER).await.unwrap();
        connected.set(connected.get() + 1);
        futures::future::pending::<()>().await;
        drop(conn);
    });
}

fn local(row: &SocketInfo) -> SocketAddrV4 {
    row.local.expect("bound")
}

fn peer(row: &SocketInfo) -> SocketAddrV4 {
    row.peer.expect("connected")
}

#[test]
fn one_client_connected_means_two_sockets_and_one_connection() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(LATENCY));
        let (accepted, connected) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        hold_all(&mut p.sim, p.server, accepted.clone());
        connect_and_hold(&mut p.sim, p.client, connected.clone());
        run_until(&mut p.sim, Duration::from_secs(5), |_| {
            accepted.get() == 1 && connected.get() == 1
        });
        let server = ss(&mut p.sim, p.server);
        let client = ss(&mut p.sim, p.client);
        // The server: the listening socket, and the connected socket accept made.
        assert_eq!(server.len(), 2, "{server:#?}");
        let listening = in_state(&server, SocketState::Listen);
        let served = in_state(&server, ESTABLISHED);
        assert_eq!((listening.len(), served.len()), (1, 1), "{server:#?}");
        assert_eq!(local(listening[0]), SERVER);
        assert_eq!(listening[0].peer, None, "a listener has no peer");
        assert_ne!(
            listening[0].fds, served[0].fds,
            "accept returns a new descriptor"
        );
        // The client: one connected socket.
        assert_eq!(client.len(), 1, "{client:#?}");
        let [ref mine] = client[..] else {
            unreachable!()
        };
        assert_eq!(mine.state, ESTABLISHED);
        assert_eq!(mine.proto, Proto::Tcp);
        // Two connected sockets, one connection: each end's (local, peer) is the other's
        // (peer, local), so the four-tuple is one and the same.
        assert_eq!(
            (local(served[0]), peer(served[0])),
            (peer(mine), local(mine))
        );
        // The server's connected socket keeps the listener's port.
        assert_eq!(local(served[0]).port(), PORT);
    });
}

/// `n` client hosts `c0..` on a switch with the server; each opens one connection.
fn clients_on_a_switch(seed: Seed, n: usize) -> (Sim, NodeId, Vec<NodeId>) {
    let mut sim = Sim::new(seed);
    let sw = sim.add_switch("sw");
    let server = sim.add_host("server", *SERVER.ip(), 24);
    sim.connect(sim.nic(server, 0), sw, LinkFaults::with_latency(LATENCY));
    let clients = (0..n)
        .map(|i| {
            let c = sim.add_host(&format!("c{i}"), Ipv4Addr::new(10, 0, 0, 10 + i as u8), 24);
            sim.connect(sim.nic(c, 0), sw, LinkFaults::with_latency(LATENCY));
            c
        })
        .collect();
    (sim, server, clients)
}

#[test]
fn three_clients_mean_four_sockets_on_the_server() {
    for_seeds(SEEDS, |seed| {
        let (mut sim, server, clients) = clients_on_a_switch(seed, 3);
        let (accepted, connected) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        hold_all(&mut sim, server, accepted.clone());
        for &c in &clients {
            connect_and_hold(&mut sim, c, connected.clone());
        }
        run_until(&mut sim, Duration::from_secs(5), |_| {
            accepted.get() == 3 && connected.get() == 3
        });
        let table = ss(&mut sim, server);
        assert_eq!(table.len(), 4, "{table:#?}");
        assert_eq!(in_state(&table, SocketState::Listen).len(), 1);
        let served = in_state(&table, ESTABLISHED);
        assert_eq!(served.len(), 3, "{table:#?}");
        // All three share the server's address and port; the peers tell them apart.
        assert!(served.iter().all(|r| local(r) == SERVER));
        let mut peers: Vec<SocketAddrV4> = served.iter().map(|r| peer(r)).collect();
        peers.sort();
        let mut expected: Vec<SocketAddrV4> = clients
            .iter()
            .map(|&c| {
                let rows = ss(&mut sim, c);
                assert_eq!(rows.len(), 1, "{rows:#?}");
                assert_eq!(peer(&rows[0]), SERVER);
                local(&rows[0])
            })
            .collect();
        expected.sort();
        assert_eq!(peers, expected);
        // Every row has its own descriptor.
        let mut fds: Vec<_> = table.iter().flat_map(|r| r.fds.clone()).collect();
        fds.dedup();
        assert_eq!(fds.len(), 4);
    });
}

/// The client's rows, read from inside a task.
fn my_ss(node: NodeId) -> Vec<SocketInfo> {
    exec::with_node::<Host, _>(node, |h, _| h.ss()).expect("up")
}

/// Request `i` is `i` as 4 bytes; the response is 100 * (i + 1) bytes of `i`.
fn response(i: u32) -> Vec<u8> {
    vec![i as u8; 100 * (i as usize + 1)]
}

#[test]
fn ten_keepalive_exchanges_use_one_connection() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(LATENCY));
        let server = p.server;
        let served = p.sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, SERVER)?;
            let (mut conn, _) = listener.accept().await?;
            let mut requests = 0;
            loop {
                let mut req = [0u8; 4];
                match conn.read_exact(&mut req).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
                conn.write_all(&response(u32::from_be_bytes(req))).await?;
                requests += 1;
            }
            conn.close().await?;
            Ok::<_, io::Error>(requests)
        });
        let client = p.client;
        let tuples = Rc::new(RefCell::new(Vec::new()));
        let seen = tuples.clone();
        let done = p.sim.spawn_on(client, async move {
            let mut conn = TcpStream::connect(client, SERVER).await?;
            for i in 0..10u32 {
                conn.write_all(&i.to_be_bytes()).await?;
                let mut got = vec![0u8; response(i).len()];
                conn.read_exact(&mut got).await?;
                assert_eq!(got, response(i));
                let rows = my_ss(client);
                assert_eq!(rows.len(), 1, "{rows:#?}");
                assert_eq!(rows[0].state, ESTABLISHED);
                seen.borrow_mut().push((local(&rows[0]), peer(&rows[0])));
            }
            conn.close().await?;
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).await?;
            Ok::<_, io::Error>(rest.len())
        });
        run_until(&mut p.sim, Duration::from_secs(10), |_| {
            done.is_finished() && served.is_finished()
        });
        assert_eq!(done.take().unwrap().unwrap(), 0);
        assert_eq!(served.take().unwrap().unwrap(), 10);
        let tuples = tuples.borrow();
        assert_eq!(tuples.len(), 10);
        assert!(
            tuples.iter().all(|t| *t == tuples[0]),
            "the four-tuple changed: {tuples:?}"
        );
        let opens = |sim: &mut Sim, node| {
            sim.with_node::<Host, _>(node, |h, _| {
                (
                    h.counters().tcp.active_opens,
                    h.counters().tcp.passive_opens,
                )
            })
            .unwrap()
        };
        assert_eq!(opens(&mut p.sim, p.client), (1, 0));
        assert_eq!(opens(&mut p.sim, p.server), (0, 1));
    });
}

#[test]
fn ten_exchanges_without_keepalive_use_ten_connections_and_the_closer_keeps_time_wait() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(LATENCY));
        let server = p.server;
        // HTTP/1.0 style: one request per connection, the server closes first.
        p.sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, SERVER).unwrap();
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut req = [0u8; 4];
                conn.read_exact(&mut req).await.unwrap();
                conn.write_all(&response(u32::from_be_bytes(req)))
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
        });
        let client = p.client;
        let done = p.sim.spawn_on(client, async move {
            let mut ports = Vec::new();
            for i in 0..10u32 {
                let mut conn = TcpStream::connect(client, SERVER).await?;
                ports.push(conn.local_addr()?.port());
                conn.write_all(&i.to_be_bytes()).await?;
                let mut got = Vec::new();
                conn.read_to_end(&mut got).await?;
                assert_eq!(got, response(i));
                conn.close().await?;
            }
            Ok::<_, io::Error>(ports)
        });
        run_until(&mut p.sim, Duration::from_secs(10), |_| done.is_finished());
        let ports = done.take().unwrap().unwrap();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "ten connections, ten ports: {ports:?}");
        // Let the last FIN exchange finish.
        p.sim.run_for(Duration::from_secs(1)).unwrap();
        // The side that closed first (the server) holds every connection in TIME-WAIT,
        // with no descriptor; the client's side is gone.
        let table = ss(&mut p.sim, p.server);
        let waiting = in_state(&table, SocketState::Tcp(State::TimeWait));
        assert_eq!(waiting.len(), 10, "{table:#?}");
        assert!(waiting.iter().all(|r| r.fds.is_empty()));
        let mut peer_ports: Vec<u16> = waiting.iter().map(|r| peer(r).port()).collect();
        peer_ports.sort_unstable();
        assert_eq!(peer_ports, distinct);
        assert!(ss(&mut p.sim, p.client).is_empty());
        // TIME-WAIT lasts 2 MSL (60 s here), then only the listener is left.
        p.sim.run_for(Duration::from_secs(61)).unwrap();
        let table = ss(&mut p.sim, p.server);
        assert_eq!(table.len(), 1, "{table:#?}");
        assert_eq!(table[0].state, SocketState::Listen);
    });
}

#[test]
fn clients_get_ephemeral_ports_from_49152_to_65535() {
    for_seeds(SEEDS, |seed| {
        let (mut sim, server, clients) = clients_on_a_switch(seed, 4);
        let (accepted, connected) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        hold_all(&mut sim, server, accepted.clone());
        // 25 connections from each of four hosts.
        for &c in &clients {
            for _ in 0..25 {
                connect_and_hold(&mut sim, c, connected.clone());
            }
        }
        run_until(&mut sim, Duration::from_secs(10), |_| {
            accepted.get() == 100 && connected.get() == 100
        });
        let mut all_ports = Vec::new();
        for &c in &clients {
            let rows = ss(&mut sim, c);
            assert_eq!(rows.len(), 25);
            let mut ports: Vec<u16> = rows.iter().map(|r| local(r).port()).collect();
            for &port in &ports {
                assert!(EPHEMERAL.contains(&port), "port {port} is not ephemeral");
            }
            ports.sort_unstable();
            ports.dedup();
            assert_eq!(ports.len(), 25, "a host reused a port");
            all_ports.extend(ports);
        }
        // The server saw the same ports, and it never left its well-known one.
        let table = ss(&mut sim, server);
        let served = in_state(&table, ESTABLISHED);
        assert_eq!(served.len(), 100);
        assert!(served.iter().all(|r| local(r).port() == PORT));
        let mut seen: Vec<u16> = served.iter().map(|r| peer(r).port()).collect();
        seen.sort_unstable();
        all_ports.sort_unstable();
        assert_eq!(seen, all_ports);
    });
}

#[test]
fn the_handshake_completes_before_accept_and_waits_in_the_listen_queue() {
    for_seeds(SEEDS, |seed| {
        let (mut sim, server, clients) = clients_on_a_switch(seed, 3);
        let go = Rc::new(Cell::new(false));
        let accepted = Rc::new(Cell::new(0));
        let (start, count) = (go.clone(), accepted.clone());
        sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, SERVER).unwrap();
            while !start.get() {
                exec::sleep(Duration::from_millis(10)).await;
            }
            let mut held = Vec::new();
            while held.len() < 3 {
                held.push(listener.accept().await.unwrap());
                count.set(held.len());
            }
            futures::future::pending::<()>().await;
        });
        let connected = Rc::new(Cell::new(0));
        for &c in &clients {
            connect_and_hold(&mut sim, c, connected.clone());
        }
        // Every client is connected although the server has not called accept.
        run_until(&mut sim, Duration::from_secs(5), |_| connected.get() == 3);
        // (The handshake's last ACK is still on the wire when the client returns.)
        sim.run_for(Duration::from_millis(5)).unwrap();
        let table = ss(&mut sim, server);
        let listening = in_state(&table, SocketState::Listen);
        assert_eq!(listening[0].recv_q, 3, "three connections wait: {table:#?}");
        let queued = in_state(&table, ESTABLISHED);
        assert_eq!(queued.len(), 3);
        assert!(queued.iter().all(|r| r.fds.is_empty()), "no descriptor yet");
        go.set(true);
        run_until(&mut sim, Duration::from_secs(5), |_| accepted.get() == 3);
        let table = ss(&mut sim, server);
        assert_eq!(in_state(&table, SocketState::Listen)[0].recv_q, 0);
        assert!(in_state(&table, ESTABLISHED)
            .iter()
            .all(|r| r.fds.len() == 1));
    });
}

#[test]
fn unread_data_waits_in_the_receive_queue() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(LATENCY));
        let (accepted, sent) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
        hold_all(&mut p.sim, p.server, accepted.clone());
        let (client, flag) = (p.client, sent.clone());
        p.sim.spawn_on(client, async move {
            let mut conn = TcpStream::connect(client, SERVER).await.unwrap();
            conn.write_all(&[7u8; 10_000]).await.unwrap();
            flag.set(true);
            futures::future::pending::<()>().await;
        });
        run_until(&mut p.sim, Duration::from_secs(5), |_| {
            accepted.get() == 1 && sent.get()
        });
        p.sim.run_for(Duration::from_secs(1)).unwrap();
        let server = ss(&mut p.sim, p.server);
        let row = in_state(&server, ESTABLISHED)[0];
        assert_eq!(row.recv_q, 10_000, "the bytes wait for a read");
        let client = ss(&mut p.sim, p.client);
        assert_eq!(client[0].send_q, 0, "and every one of them is acknowledged");
    });
}

#[test]
fn connecting_to_a_port_nobody_listens_on_is_refused_and_a_taken_port_cannot_be_bound() {
    for_seeds(SEEDS, |seed| {
        let mut p = pair(seed, LinkFaults::with_latency(LATENCY));
        let (client, server) = (p.client, p.server);
        let refused = p.sim.spawn_on(client, async move {
            TcpStream::connect(client, SocketAddrV4::new(*SERVER.ip(), 81))
                .await
                .map(|_| ())
        });
        let err = common::run_task(&mut p.sim, &refused, Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        let taken = p.sim.spawn_on(server, async move {
            let _first = TcpListener::bind(server, SERVER)?;
            TcpListener::bind(server, SERVER).map(|_| ())
        });
        let err = common::run_task(&mut p.sim, &taken, Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        // Nothing is left behind on either host.
        assert!(ss(&mut p.sim, client).is_empty());
        assert!(ss(&mut p.sim, server).is_empty());
    });
}
