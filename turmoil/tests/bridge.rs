//! The bridge itself: replay, captures, its own faults, turmoil's network verbs, crashes
//! and restarts, errors, and the parts of `turmoil::net`'s API beyond the README's.

mod workloads;

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use sansnet_sim::pcapng::{self, Direction};
use sansnet_turmoil::net::{TcpListener, TcpStream};
use sansnet_turmoil::{Bridge, Config, ConfigError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workloads::{echo, run, run_with, Tcp, Workload};

/// Steps `sim` for `d` of simulated time.
fn run_for(sim: &mut turmoil::Sim<'_>, d: Duration) {
    let until = sim.elapsed() + d;
    while sim.elapsed() < until {
        sim.step().expect("a step");
    }
}

/// Steps `sim` until `done`, for at most `limit` of simulated time.
fn run_until(sim: &mut turmoil::Sim<'_>, limit: Duration, done: impl Fn() -> bool) {
    let until = sim.elapsed() + limit;
    while !done() {
        assert!(sim.elapsed() < until, "not done after {limit:?}");
        sim.step().expect("a step");
    }
}

fn captures(bridge: &Bridge) -> Vec<(String, Vec<u8>)> {
    bridge
        .hosts()
        .into_iter()
        .map(|h| {
            let bytes = bridge.pcapng(&h.name).expect("captured");
            (h.name, bytes)
        })
        .collect()
}

#[test]
fn a_seed_replays_to_the_same_frames() {
    let faults = || {
        Config::new()
            .loss(0.02)
            .corrupt(0.01)
            .reorder(0.05, Duration::from_millis(30))
            .capture(true)
    };
    let first = run_with(Workload::Echo, Tcp::Bridged, 0.1, 3, faults());
    let second = run_with(Workload::Echo, Tcp::Bridged, 0.1, 3, faults());
    assert_eq!(first.result, Ok(()));
    assert_eq!(first.tally, Workload::Echo.expected());
    assert_eq!(first.tally, second.tally);
    assert_eq!(first.elapsed, second.elapsed);
    assert_eq!(first.hosts, second.hosts);
    let (a, b) = (captures(&first.bridge), captures(&second.bridge));
    assert_eq!(a.len(), 3, "server and two clients");
    assert!(a.iter().all(|(_, bytes)| bytes.len() > 10_000));
    assert!(a == b, "the second run's frames differ");

    let other = run_with(Workload::Echo, Tcp::Bridged, 0.1, 4, faults());
    assert!(
        captures(&other.bridge) != a,
        "seed 4 sent the same frames as seed 3"
    );

    // tonic, hyper and h2 draw nothing from outside the simulation either.
    let first = run(Workload::Grpc, Tcp::Bridged, 0.02, 1);
    let second = run(Workload::Grpc, Tcp::Bridged, 0.02, 1);
    assert_eq!(first.tally, Workload::Grpc.expected());
    assert!(captures(&first.bridge) == captures(&second.bridge));
}

#[test]
fn captures_are_pcapng_per_host_with_the_bridges_faults_marked() {
    let config = Config::new().loss(0.03).corrupt(0.02).capture(true);
    let r = run_with(Workload::Echo, Tcp::Bridged, 0.0, 5, config);
    assert_eq!(r.tally, Workload::Echo.expected());
    for host in &r.hosts {
        let bytes = r.bridge.pcapng(&host.name).unwrap();
        let file = pcapng::read(&bytes).expect("a pcapng file");
        assert_eq!(file.interfaces.len(), 1);
        let iface = &file.interfaces[0];
        assert_eq!(iface.name.as_deref(), Some(host.name.as_str()));
        let description = iface.description.clone().unwrap_or_default();
        assert!(
            description.contains(&host.addr.to_string()),
            "{description}"
        );
        assert_eq!(r.bridge.pcapng(&host.addr.to_string()), Some(bytes.clone()));

        let out: Vec<_> = file
            .packets
            .iter()
            .filter(|p| p.direction == Direction::Outbound)
            .collect();
        let inbound = file.packets.len() - out.len();
        assert_eq!(
            out.len() as u64,
            host.stats.frames_sent + host.stats.send_errors
        );
        assert_eq!(inbound as u64, host.stats.frames_received);
        assert!(file.packets.windows(2).all(|w| w[0].at <= w[1].at));
        // Every frame leaves from this host's MAC.
        assert!(out.iter().all(|p| p.data[6..12] == host.mac.0));
        let comments = |text: &str| {
            file.packets
                .iter()
                .filter(|p| p.comment.as_deref().is_some_and(|c| c.contains(text)))
                .count() as u64
        };
        assert_eq!(comments("dropped by the bridge"), host.stats.lost);
        assert_eq!(comments("bit flipped"), host.stats.corrupted);
    }
    // A client's first frame asks for the server's MAC by broadcast.
    let client = r.bridge.pcapng("client0").unwrap();
    let first = &pcapng::read(&client).unwrap().packets[0];
    assert_eq!(first.direction, Direction::Outbound);
    assert_eq!(first.data[..6], [0xff; 6]);
    assert_eq!(first.data[12..14], [0x08, 0x06], "ARP");
    let lost: u64 = r.hosts.iter().map(|h| h.stats.lost).sum();
    let corrupted: u64 = r.hosts.iter().map(|h| h.stats.corrupted).sum();
    assert!(lost > 0 && corrupted > 0, "{:?}", r.hosts);
    // Without `capture`, nothing is kept.
    let quiet = run_with(Workload::Echo, Tcp::Bridged, 0.0, 5, Config::new());
    assert_eq!(quiet.bridge.pcapng("server"), None);
    assert_eq!(r.bridge.pcapng("nobody"), None);
}

#[test]
fn the_bridges_own_loss_corruption_and_reordering_are_recovered_from() {
    let mut seen = (0, 0, 0);
    for seed in 0..4 {
        let config = Config::new()
            .loss(0.05)
            .corrupt(0.02)
            .reorder(0.1, Duration::from_millis(50));
        let r = run_with(Workload::Echo, Tcp::Bridged, 0.02, seed, config);
        assert_eq!(r.result, Ok(()), "seed {seed}");
        assert_eq!(r.tally, Workload::Echo.expected(), "seed {seed}");
        for h in &r.hosts {
            seen.0 += h.stats.lost;
            seen.1 += h.stats.corrupted;
            seen.2 += h.stats.reordered;
        }
    }
    assert!(seen.0 > 0 && seen.1 > 0 && seen.2 > 0, "{seen:?}");
}

/// One client's echoes, each recorded with the simulated time it came back; the client
/// keeps one connection throughout, so a broken one fails the run.
fn paced_echoes(
    sim: &mut turmoil::Sim<'_>,
    count: usize,
    pause: Duration,
) -> Rc<RefCell<Vec<Duration>>> {
    let log = Rc::new(RefCell::new(Vec::new()));
    sim.host("server", echo::bridged::server);
    let record = log.clone();
    sim.client("client", async move {
        let mut socket = TcpStream::connect(("server", echo::PORT)).await?;
        for k in 0..count {
            if k > 0 {
                tokio::time::sleep(pause).await;
            }
            let sent = echo::message(0, k as u64);
            socket.write_all(&sent).await?;
            let mut back = vec![0; sent.len()];
            socket.read_exact(&mut back).await?;
            assert_eq!(back, sent);
            record.borrow_mut().push(turmoil::sim_elapsed().unwrap());
        }
        Ok(())
    });
    log
}

#[test]
fn partitions_and_holds_delay_a_connection_without_breaking_it() {
    let bridge = Bridge::new(Config::new().seed(2)).unwrap();
    let _entered = bridge.enter();
    let mut sim = workloads::simulation(2, 0.0);
    let log = paced_echoes(&mut sim, 3, Duration::from_millis(200));
    run_until(&mut sim, Duration::from_secs(5), || log.borrow().len() == 1);

    sim.partition("client", "server");
    run_for(&mut sim, Duration::from_secs(3));
    assert_eq!(log.borrow().len(), 1, "nothing crosses a partition");
    sim.repair("client", "server");
    let repaired = sim.elapsed();
    run_until(&mut sim, Duration::from_secs(30), || {
        log.borrow().len() == 2
    });
    assert!(log.borrow()[1] > repaired);

    sim.hold("client", "server");
    run_for(&mut sim, Duration::from_secs(2));
    assert_eq!(log.borrow().len(), 2, "held frames wait");
    sim.release("client", "server");
    sim.run().unwrap();
    assert_eq!(log.borrow().len(), 3);
    let client = bridge.host("client").unwrap();
    assert_eq!(client.stats.starts, 1);
}

#[test]
fn a_crash_sends_nothing_and_a_bounce_starts_a_fresh_stack() {
    let bridge = Bridge::new(Config::new().seed(9).capture(true)).unwrap();
    let _entered = bridge.enter();
    let mut sim = workloads::simulation(9, 0.0);
    sim.host("server", echo::bridged::server);
    let phase = Rc::new(Cell::new(0));
    let client_phase = phase.clone();
    sim.client("client", async move {
        let mut socket = TcpStream::connect(("server", echo::PORT)).await?;
        let mut buf = [0u8; 3];
        socket.write_all(b"one").await?;
        socket.read_exact(&mut buf).await?;
        client_phase.set(1);
        while client_phase.get() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The restarted server has no such connection: its stack answers with a RST.
        socket.write_all(b"two").await?;
        let reset = socket.read(&mut buf).await;
        assert_eq!(
            reset.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionReset)
        );
        let mut again = TcpStream::connect(("server", echo::PORT)).await?;
        again.write_all(b"333").await?;
        again.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"333");
        client_phase.set(3);
        Ok(())
    });
    run_until(&mut sim, Duration::from_secs(5), || phase.get() == 1);
    sim.crash("server");
    let crashed = sim.elapsed();
    run_for(&mut sim, Duration::from_secs(2));
    let bounced = sim.elapsed();
    sim.bounce("server");
    phase.set(2);
    sim.run().unwrap();
    assert_eq!(phase.get(), 3);

    let server = bridge.host("server").unwrap();
    assert_eq!(server.stats.starts, 2);
    let file = pcapng::read(&bridge.pcapng("server").unwrap()).unwrap();
    let during = |d: Direction| {
        file.packets
            .iter()
            .filter(|p| p.direction == d)
            .filter(|p| {
                let at = Duration::from_nanos(p.at.as_nanos());
                at > crashed + Duration::from_millis(1) && at < bounced
            })
            .count()
    };
    assert_eq!(during(Direction::Outbound), 0, "a crashed host sent frames");
    assert_eq!(
        during(Direction::Inbound),
        0,
        "a crashed host received frames"
    );
}

#[test]
fn errors_are_errors_not_panics() {
    // Outside any simulation.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let outside = rt.block_on(TcpStream::connect(("server", 80)));
    assert_eq!(outside.unwrap_err().kind(), io::ErrorKind::Other);
    let outside = rt.block_on(TcpListener::bind(("0.0.0.0", 80)));
    assert_eq!(outside.unwrap_err().kind(), io::ErrorKind::Other);
    assert!(rt.block_on(sansnet_turmoil::install()).is_err());

    // Configuration out of range.
    let bad = |c: Config| Bridge::new(c).unwrap_err();
    assert_eq!(
        bad(Config::new().loss(1.5)),
        ConfigError::Rate {
            what: "loss",
            rate: 1.5
        }
    );
    assert!(matches!(
        bad(Config::new().corrupt(f64::NAN)),
        ConfigError::Rate {
            what: "corrupt",
            ..
        }
    ));
    assert_eq!(bad(Config::new().port(0)), ConfigError::Port);
    let unicast = Ipv4Addr::new(10, 0, 0, 1);
    assert_eq!(
        bad(Config::new().group(unicast)),
        ConfigError::Group(unicast)
    );
    assert_eq!(
        bad(Config::new().reorder(0.1, Duration::ZERO)),
        ConfigError::ReorderDelay
    );
    assert!(bad(Config::new().loss(-0.1)).to_string().contains("loss"));

    let mut sim = workloads::simulation(0, 0.0);
    // A host that took the bridge's port for itself: its stack cannot start.
    sim.host("squatter", || async {
        let _taken =
            turmoil::net::UdpSocket::bind(("0.0.0.0", sansnet_turmoil::DEFAULT_PORT)).await?;
        for _ in 0..2 {
            let e = TcpListener::bind(("0.0.0.0", 80)).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
        }
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.host("server", || async {
        let _listener = TcpListener::bind(("0.0.0.0", 80)).await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    let (to_server, from_client) = tokio::sync::mpsc::unbounded_channel::<TcpStream>();
    let from_client = RefCell::new(Some(from_client));
    sim.host("elsewhere", move || {
        let from_client = from_client.borrow_mut().take();
        async move {
            if let Some(mut from_client) = from_client {
                let stream = from_client.recv().await.unwrap();
                // A stream used on a host other than its own.
                let e = stream.peer_addr().unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    sim.client("client", async move {
        let refused = TcpStream::connect(("server", 81)).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        let v6 = TcpStream::connect(("::1", 80)).await.unwrap_err();
        assert_eq!(v6.kind(), io::ErrorKind::Unsupported);
        let unknown = TcpStream::connect(("nowhere", 80)).await.unwrap_err();
        assert_eq!(unknown.kind(), io::ErrorKind::NotFound);
        let other = TcpListener::bind(("10.9.9.9", 80)).await.unwrap_err();
        assert_eq!(other.kind(), io::ErrorKind::AddrNotAvailable);
        let stream = TcpStream::connect(("server", 80)).await?;
        to_server.send(stream).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn turmoil_nets_api_beyond_the_readme() {
    fn send_sync_unpin<T: Send + Sync + Unpin + 'static>() {}
    send_sync_unpin::<TcpStream>();
    send_sync_unpin::<TcpListener>();
    send_sync_unpin::<sansnet_turmoil::net::OwnedReadHalf>();
    send_sync_unpin::<sansnet_turmoil::net::OwnedWriteHalf>();

    let mut sim = workloads::simulation(0, 0.0);
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", 0)).await?;
        let port = listener.local_addr()?.port();
        assert!(port >= 49152, "an ephemeral port: {port}");
        // turmoil's UDP comes through the same import.
        let udp = sansnet_turmoil::net::UdpSocket::bind(("0.0.0.0", 7)).await?;
        let mut buf = [0u8; 2];
        let (_, from) = udp.recv_from(&mut buf).await?;
        udp.send_to(&port.to_be_bytes(), from).await?;
        let (stream, peer) = listener.accept().await?;
        assert_eq!(stream.peer_addr()?, peer);
        let (mut rd, mut wr) = stream.into_split();
        let mut head = [0u8; 4];
        assert_eq!(rd.peek(&mut head).await?, 4);
        assert_eq!(&head, b"ping");
        let mut all = Vec::new();
        rd.read_to_end(&mut all).await?;
        assert_eq!(all, b"ping, then FIN");
        wr.write_all(b"pong").await?;
        drop(wr); // sends FIN, as tokio's does
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.client("client", async {
        let udp = turmoil::net::UdpSocket::bind(("0.0.0.0", 0)).await?;
        udp.send_to(b"?", ("server", 7)).await?;
        let mut port = [0u8; 2];
        udp.recv_from(&mut port).await?;
        let port = u16::from_be_bytes(port);

        let stream = TcpStream::connect(("server", port)).await?;
        assert!(!stream.nodelay()?);
        stream.set_nodelay(true)?;
        assert!(stream.nodelay()?);
        stream.writable().await?;
        assert_eq!(stream.try_write(b"ping")?, 4);
        let (rd, wr) = stream.into_split();
        let other = TcpStream::connect(("server", port)).await;
        drop(other);
        let mut stream = rd.reunite(wr).expect("halves of one stream");
        assert_eq!(
            stream.local_addr()?,
            SocketAddr::new(turmoil::lookup("client"), stream.local_addr()?.port())
        );
        stream.write_all(b", then FIN").await?;
        stream.shutdown().await?;
        let mut peeked = [0u8; 2];
        assert_eq!(stream.peek(&mut peeked).await?, 2);
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        assert_eq!(reply, b"pong");
        Ok(())
    });
    sim.run().unwrap();

    // Halves of two streams do not reunite; both come back.
    let mut sim = workloads::simulation(0, 0.0);
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", 5)).await?;
        let mut open = Vec::new();
        loop {
            open.push(listener.accept().await?);
        }
    });
    sim.client("client", async {
        let (r1, _w1) = TcpStream::connect(("server", 5)).await?.into_split();
        let (_r2, w2) = TcpStream::connect(("server", 5)).await?.into_split();
        let e = r1.reunite(w2).unwrap_err();
        assert!(e.to_string().contains("not from the same socket"));
        let sansnet_turmoil::net::ReuniteError(r1, w2) = e;
        assert_ne!(r1.local_addr()?, w2.local_addr()?);
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn tokios_readiness_loop_and_a_resetting_close_work_on_the_bridge() {
    let mut sim = workloads::simulation(0, 0.0);
    let reset_seen = Rc::new(Cell::new(false));
    let seen = reset_seen.clone();
    sim.host("server", move || {
        let seen = seen.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", 9)).await?;
            let (stream, _) = listener.accept().await?;
            let mut got = Vec::new();
            while got.len() < 4 {
                stream.readable().await?;
                let mut buf = [0u8; 8];
                match stream.try_read(&mut buf) {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e.into()),
                }
            }
            assert_eq!(got, b"ping");
            stream.writable().await?;
            stream.try_write(b"pong")?;
            // The client's close is a RST (linger zero): the next read says so.
            stream.readable().await?;
            let e = stream.try_read(&mut [0; 4]).unwrap_err();
            seen.set(e.kind() == io::ErrorKind::ConnectionReset);
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    sim.client("client", async {
        let mut stream = TcpStream::connect(("server", 9)).await?;
        // Nothing has come yet: a try is `WouldBlock`, never a wait.
        assert_eq!(
            stream.try_read(&mut [0; 4]).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        stream.write_all(b"ping").await?;
        let mut back = [0u8; 4];
        stream.read_exact(&mut back).await?;
        assert_eq!(&back, b"pong");
        stream.set_linger(Some(Duration::ZERO))?;
        assert_eq!(stream.linger()?, Some(Duration::ZERO));
        drop(stream);
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    });
    sim.run().unwrap();
    assert!(reset_seen.get(), "the server read the client's RST");
}
