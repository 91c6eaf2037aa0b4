//! sansnet hosts on the simulated network, driven by async applications.

use std::net::SocketAddrV4;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use pretty_assertions::assert_eq;
use sansnet_sim::{
    seed_from_env_or, Duration, FaultProfile, LinkFaults, Sim, TcpListener, TcpStream, UdpSocket,
};

const SERVER: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 2), 7);

fn two_hosts(faults: LinkFaults) -> (Sim, sansnet_sim::NodeId, sansnet_sim::NodeId) {
    two_hosts_seeded(seed_from_env_or(70), faults)
}

fn two_hosts_seeded(
    seed: sansnet_sim::Seed,
    faults: LinkFaults,
) -> (Sim, sansnet_sim::NodeId, sansnet_sim::NodeId) {
    let mut sim = Sim::new(seed);
    let a = sim.add_host("a", [10, 0, 0, 1].into(), 24);
    let b = sim.add_host("b", [10, 0, 0, 2].into(), 24);
    sim.connect(sim.nic(a, 0), sim.nic(b, 0), faults);
    (sim, a, b)
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_tcp_echo_over_a_lan_returns_every_byte() {
    let (mut sim, a, b) = two_hosts(FaultProfile::lan().faults);
    sim.spawn_on(b, async move {
        let listener = TcpListener::bind(b, SERVER).unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        conn.read_to_end(&mut data).await.unwrap();
        conn.write_all(&data).await.unwrap();
        conn.close().await.unwrap();
    });
    let client = sim.spawn_on(a, async move {
        // The client speaks through tokio's traits, the server through futures'.
        use tokio::io::{AsyncReadExt as TokioRead, AsyncWriteExt as TokioWrite};
        let mut conn = TcpStream::connect(a, SERVER).await.unwrap();
        TokioWrite::write_all(&mut conn, &payload(100_000))
            .await
            .unwrap();
        TokioWrite::shutdown(&mut conn).await.unwrap();
        let mut back = Vec::new();
        TokioRead::read_to_end(&mut conn, &mut back).await.unwrap();
        back
    });
    sim.run_until_complete(&client).unwrap();
    let back = client.take().unwrap();
    assert_eq!(back.len(), 100_000);
    assert!(back == payload(100_000));
}

#[test]
fn a_udp_request_gets_its_reply() {
    let (mut sim, a, b) = two_hosts(LinkFaults::with_latency(Duration::from_millis(1)));
    sim.spawn_on(b, async move {
        let socket = UdpSocket::bind(b, SERVER).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        socket.send_to(&buf[..n], from).await.unwrap();
    });
    let client = sim.spawn_on(a, async move {
        let socket = UdpSocket::bind(a, SocketAddrV4::new([10, 0, 0, 1].into(), 5000)).unwrap();
        socket.send_to(b"ping", SERVER).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        (buf[..n].to_vec(), from, sansnet_sim::exec::now())
    });
    sim.run_until_complete(&client).unwrap();
    let (reply, from, _) = client.take().unwrap();
    assert_eq!((reply.as_slice(), from), (&b"ping"[..], SERVER));
}

/// 50 KB each way over a WAN path with 2 % loss and corruption caught only by checksums.
fn lossy_echo(seed: sansnet_sim::Seed) -> (Vec<u8>, sansnet_sim::TraceHash) {
    let mut faults = FaultProfile::wan().faults;
    faults.loss = sansnet_sim::LossModel::Independent {
        rate: sansnet_sim::Probability::percent(2),
    };
    faults.corrupt = sansnet_sim::Probability::percent(1);
    let mut sim = Sim::new(seed);
    sim.set_fcs_check(false);
    let a = sim.add_host("a", [10, 0, 0, 1].into(), 24);
    let b = sim.add_host("b", [10, 0, 0, 2].into(), 24);
    sim.connect(sim.nic(a, 0), sim.nic(b, 0), faults);
    sim.spawn_on(b, async move {
        let listener = TcpListener::bind(b, SERVER).unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        conn.read_to_end(&mut data).await.unwrap();
        conn.write_all(&data).await.unwrap();
        conn.close().await.unwrap();
    });
    let client = sim.spawn_on(a, async move {
        let mut conn = TcpStream::connect(a, SERVER).await.unwrap();
        conn.write_all(&payload(50_000)).await.unwrap();
        conn.close().await.unwrap();
        let mut back = Vec::new();
        conn.read_to_end(&mut back).await.unwrap();
        back
    });
    sim.run_until_complete(&client).unwrap();
    (client.take().unwrap(), sim.trace_hash())
}

#[test]
fn tcp_survives_loss_and_corruption_and_replays_exactly() {
    let seed = seed_from_env_or(71);
    let (back, first) = lossy_echo(seed);
    assert!(back == payload(50_000), "byte stream damaged");
    let (_, second) = lossy_echo(seed);
    assert_eq!(first, second, "{}", sansnet_sim::replay_line(seed));
}

/// Regression: two tasks blocked on the same host used to wake each other forever at one
/// instant (each "would block" call counted as activity on the node), so simulated time
/// never advanced.
#[test]
fn two_tasks_blocked_on_one_host_let_time_advance() {
    let (mut sim, a, b) = two_hosts(LinkFaults::with_latency(Duration::from_millis(1)));
    sim.set_limits(sansnet_sim::Limits {
        max_steps: 10_000,
        ..sansnet_sim::Limits::default()
    });
    for port in [7, 8] {
        sim.spawn_on(b, async move {
            let listener = TcpListener::bind(b, SocketAddrV4::new(*SERVER.ip(), port)).unwrap();
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"hi").await.unwrap();
        });
    }
    let client = sim.spawn_on(a, async move {
        sansnet_sim::exec::sleep(Duration::from_secs(1)).await;
        let mut got = Vec::new();
        for port in [7, 8] {
            let mut conn = TcpStream::connect(a, SocketAddrV4::new(*SERVER.ip(), port))
                .await
                .unwrap();
            let mut buf = [0u8; 2];
            conn.read_exact(&mut buf).await.unwrap();
            got.push(buf);
        }
        got
    });
    sim.run_until_complete(&client).unwrap();
    assert_eq!(client.take(), Some(vec![*b"hi", *b"hi"]));
}

/// Server tasks wait per socket: a request on one connection polls the task that reads it,
/// not every task blocked on the host (which would make a busy server's cost grow with the
/// square of its connections).
#[test]
fn a_segment_wakes_only_the_task_whose_socket_it_changed() {
    use std::cell::Cell;
    use std::rc::Rc;

    const CONNS: usize = 20;
    let (mut sim, a, b) = two_hosts(LinkFaults::with_latency(Duration::from_micros(100)));
    let polls: Rc<Vec<Cell<u32>>> = Rc::new((0..CONNS).map(|_| Cell::new(0)).collect());
    let server_polls = polls.clone();
    sim.spawn_on(b, async move {
        let listener = TcpListener::bind(b, SERVER).unwrap();
        for i in 0..CONNS {
            let (mut conn, _) = listener.accept().await.unwrap();
            let polls = server_polls.clone();
            sansnet_sim::exec::spawn(async move {
                let mut buf = [0u8; 1];
                let n = futures::future::poll_fn(|cx| {
                    polls[i].set(polls[i].get() + 1);
                    futures::io::AsyncRead::poll_read(std::pin::Pin::new(&mut conn), cx, &mut buf)
                })
                .await
                .unwrap();
                assert_eq!(n, 1);
            });
        }
    });
    let client = sim.spawn_on(a, async move {
        let mut conns = Vec::new();
        for _ in 0..CONNS {
            conns.push(TcpStream::connect(a, SERVER).await.unwrap());
        }
        // Everyone is connected and waiting well before then.
        sansnet_sim::exec::sleep(Duration::from_millis(50)).await;
        conns[7].write_all(b"x").await.unwrap();
        conns
    });
    sim.run_for(Duration::from_millis(40)).unwrap();
    let before: Vec<u32> = polls.iter().map(Cell::get).collect();
    assert!(
        before.iter().all(|&p| p >= 1),
        "every reader is waiting: {before:?}"
    );
    sim.run_for(Duration::from_millis(60)).unwrap();
    assert!(client.is_finished());
    let woken: Vec<usize> = (0..CONNS)
        .filter(|&i| polls[i].get() != before[i])
        .collect();
    assert_eq!(woken, vec![7]);
}

/// 48 MiB from a to b with 1% loss each way at a 200 us RTT and no bandwidth limit (a
/// window arrives as one burst): the sender's retransmission timeouts and fast recoveries.
fn lossy_bulk(seed: u64) -> (u64, u64) {
    const TOTAL: usize = 48 << 20;
    let mut faults = LinkFaults::with_latency(Duration::from_micros(100));
    faults.loss = sansnet_sim::LossModel::Independent {
        rate: sansnet_sim::Probability::percent(1),
    };
    let (mut sim, a, b) = two_hosts_seeded(sansnet_sim::Seed(seed), faults);
    sim.spawn_on(b, async move {
        let listener = TcpListener::bind(b, SERVER).unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        while got < TOTAL {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "EOF after {got} bytes");
            got += n;
        }
        conn.write_all(b"!").await.unwrap();
    });
    let client = sim.spawn_on(a, async move {
        let mut conn = TcpStream::connect(a, SERVER).await.unwrap();
        let chunk = payload(1 << 16);
        for _ in 0..TOTAL >> 16 {
            conn.write_all(&chunk).await.unwrap();
        }
        // Everything arrived once b answers.
        let mut done = [0u8; 1];
        conn.read_exact(&mut done).await.unwrap();
        let (local, peer) = (conn.local_addr().unwrap(), conn.peer_addr().unwrap());
        sansnet_sim::exec::with_node::<sansnet_stack::iface::Host, _>(a, |h, _| {
            h.tcp_info_of(local, peer)
        })
        .flatten()
        .expect("the connection's figures")
    });
    sim.run_until_complete(&client).unwrap();
    let s = client.take().unwrap().stats;
    (s.rto_expirations, s.fast_recoveries)
}

/// A lossy bulk transfer at a short RTT recovers its losses by fast recovery, not by
/// retransmission timeouts. The receiver answers an out-of-order run in a burst with a
/// duplicate ACK every second segment, not every one (`tcp::Connection::must_answer_now`);
/// with one ACK a run, a lost ACK hid the run from the sender, which then waited for its
/// RTO: on these four seeds 3 timeouts (each costing about a third of a 48 MiB transfer's
/// time), where every second segment gives none (the quality bench: 8 to 16 in 10 s
/// against 0 or 1).
#[test]
fn a_lossy_bulk_transfer_at_a_short_rtt_recovers_without_timeouts() {
    let runs: Vec<(u64, u64)> = (70..74).map(lossy_bulk).collect();
    let timeouts: u64 = runs.iter().map(|r| r.0).sum();
    assert!(
        runs.iter().all(|r| r.1 > 100),
        "the loss did not bite: {runs:?} (timeouts, fast recoveries) per seed"
    );
    assert!(
        timeouts <= 1,
        "{timeouts} retransmission timeouts in four transfers: {runs:?} (timeouts, fast \
         recoveries) per seed, seeds 70 to 73"
    );
}
