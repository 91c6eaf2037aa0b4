//! The turmoil-shaped front door: hosts with restartable software, clients, `run`, and the
//! verbs that act on hosts by name.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use pretty_assertions::assert_eq;
use sansnet_sim::exec;
use sansnet_sim::{Builder, Duration, RunError, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 7;

/// An echo server on the current host, a task per connection.
async fn echo_server() -> sansnet_sim::TaskResult {
    let node = exec::current_node().expect("on a host");
    let listener = TcpListener::bind(node, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))?;
    loop {
        let (mut conn, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Connects from the current host to `server` by its address.
async fn connect(server: Ipv4Addr) -> std::io::Result<TcpStream> {
    let node = exec::current_node().expect("on a host");
    TcpStream::connect(node, SocketAddrV4::new(server, PORT)).await
}

#[test]
fn run_returns_when_every_client_has_finished() {
    let mut sim = Builder::new().build();
    sim.host("server", echo_server);
    let server = sim.lookup("server");
    let done = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3u8 {
        let done = done.clone();
        sim.client(format!("client{i}"), async move {
            let mut conn = connect(server).await?;
            conn.write_all(&[i; 10]).await?;
            let mut back = [0u8; 10];
            conn.read_exact(&mut back).await?;
            assert_eq!(back, [i; 10]);
            done.borrow_mut().push(i);
            Ok(())
        });
    }
    sim.run().unwrap();
    let mut done = done.borrow().clone();
    done.sort_unstable();
    assert_eq!(done, vec![0, 1, 2]);
}

#[test]
fn a_client_error_fails_the_run_with_the_replay_line() {
    let mut sim = Builder::new().build();
    sim.client("client", async { Err("the answer was wrong".into()) });
    let err = sim.run().unwrap_err();
    let RunError::TaskFailed { failure, .. } = &err else {
        panic!("not a task failure: {err}");
    };
    assert_eq!(failure.node.as_deref(), Some("client"));
    assert_eq!(failure.error, "the answer was wrong");
    assert!(err.to_string().contains("SANSNET_SEED="), "{err}");
}

#[test]
fn host_software_errors_and_panics_fail_the_run() {
    let mut sim = Builder::new().build();
    sim.host("server", || async { Err("bind failed".into()) });
    sim.client("client", async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    });
    let err = sim.run().unwrap_err();
    assert!(err.to_string().contains("bind failed"), "{err}");

    let mut sim = Builder::new().build();
    sim.client("client", async { panic!("boom") });
    let err = sim.run().unwrap_err();
    assert!(matches!(err, RunError::TaskPanicked { .. }), "{err}");
}

#[test]
fn a_client_stuck_for_good_fails_as_idle_and_a_busy_one_at_the_duration() {
    // Nothing can ever wake it: the run knows at once.
    let mut sim = Builder::new().build();
    sim.client("client", async {
        std::future::pending::<()>().await;
        Ok(())
    });
    let err = sim.run().unwrap_err();
    assert!(matches!(err, RunError::Idle { .. }), "{err}");

    // A tokio timer keeps it going: the run ends at the simulation duration.
    let mut sim = Builder::new()
        .simulation_duration(Duration::from_secs(3))
        .build();
    sim.client("client", async {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
        }
    });
    let err = sim.run().unwrap_err();
    assert!(matches!(err, RunError::TimeLimit { .. }), "{err}");
    assert!(
        sim.elapsed() <= Duration::from_secs(3),
        "{:?}",
        sim.elapsed()
    );
}

#[test]
fn bounce_restarts_the_software_and_crash_stops_it() {
    let mut sim = Builder::new().build();
    let starts = Rc::new(RefCell::new(0u32));
    let s = starts.clone();
    sim.host("server", move || {
        *s.borrow_mut() += 1;
        echo_server()
    });
    sim.run_for(Duration::from_millis(10)).unwrap();
    assert_eq!(*starts.borrow(), 1);
    sim.bounce("server");
    sim.run_for(Duration::from_millis(10)).unwrap();
    assert_eq!(*starts.borrow(), 2);
    assert!(sim.is_host_running("server"));
    // The restarted software serves again.
    let server = sim.lookup("server");
    sim.client("client", async move {
        let mut conn = connect(server).await?;
        conn.write_all(b"again").await?;
        let mut back = [0u8; 5];
        conn.read_exact(&mut back).await?;
        assert_eq!(&back, b"again");
        Ok(())
    });
    sim.run().unwrap();
    sim.crash("server");
    assert!(!sim.is_host_running("server"));
}

#[test]
fn partition_and_repair_cut_and_restore_a_pair() {
    let mut sim = Builder::new().build();
    sim.host("server", echo_server);
    let server = sim.lookup("server");
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    sim.client("client", async move {
        let mut conn = connect(server).await?;
        for round in 0..2u8 {
            conn.write_all(&[round]).await?;
            let mut b = [0u8; 1];
            conn.read_exact(&mut b).await?;
            l.borrow_mut().push((round, exec::now().as_millis()));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    });
    // The handshake and first echo take a few ms; cut during the sleep, repair 2 s later.
    sim.run_for(Duration::from_millis(50)).unwrap();
    sim.partition("client", "server");
    sim.run_for(Duration::from_secs(2)).unwrap();
    assert_eq!(log.borrow().len(), 1);
    sim.repair("client", "server");
    sim.run().unwrap();
    let log = log.borrow();
    assert_eq!(log.len(), 2);
    // The second echo came only after the repair, by retransmission.
    assert!(log[1].1 > 2050, "{log:?}");
}

#[test]
fn hold_delays_without_loss_and_release_delivers() {
    let mut sim = Builder::new().build();
    sim.host("server", echo_server);
    let server = sim.lookup("server");
    let at = Rc::new(RefCell::new(None));
    let a = at.clone();
    sim.client("client", async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut conn = connect(server).await?;
        conn.write_all(b"x").await?;
        let mut b = [0u8; 1];
        conn.read_exact(&mut b).await?;
        *a.borrow_mut() = Some(exec::now().as_millis());
        Ok(())
    });
    sim.hold("client", "server");
    sim.run_for(Duration::from_millis(150)).unwrap();
    assert_eq!(*at.borrow(), None);
    sim.release("client", "server");
    sim.run().unwrap();
    let t = at.borrow().unwrap();
    assert!((150..1100).contains(&t), "echo at {t} ms");
}

#[test]
fn a_seed_replays_to_the_same_trace() {
    let run = || {
        let mut sim = Builder::new()
            .rng_seed(9)
            .fail_rate(0.02)
            .reorder_rate(0.02)
            .build();
        sim.host("server", echo_server);
        let server = sim.lookup("server");
        for i in 0..4u8 {
            sim.client(format!("c{i}"), async move {
                let mut conn = connect(server).await?;
                for _ in 0..20 {
                    conn.write_all(&[i; 32]).await?;
                    let mut back = [0u8; 32];
                    conn.read_exact(&mut back).await?;
                    assert_eq!(back, [i; 32]);
                }
                Ok(())
            });
        }
        sim.run().unwrap();
        (sim.sim().trace_hash(), sim.elapsed())
    };
    assert_eq!(run(), run());
}

#[test]
fn a_oneway_partition_cuts_one_direction_until_repaired() {
    // Datagrams show what a one-way cut does without TCP's retransmissions in the way.
    use sansnet_sim::net::UdpSocket;
    let mut sim = Builder::new().build();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    sim.host("b", move || {
        let g = g.clone();
        async move {
            let socket = UdpSocket::bind(("0.0.0.0", 9)).await?;
            let mut buf = [0u8; 1];
            loop {
                let (_, from) = socket.recv_from(&mut buf).await?;
                g.borrow_mut().push(buf[0]);
                socket.send_to(&buf, from).await?;
            }
        }
    });
    let echoed = Rc::new(RefCell::new(Vec::new()));
    let e = echoed.clone();
    sim.client("a", async move {
        let socket = UdpSocket::bind(("0.0.0.0", 9)).await?;
        for k in 0..3u8 {
            socket.send_to(&[k], "b:9").await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut buf = [0u8; 1];
        while let Ok(Ok((_, _))) =
            tokio::time::timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await
        {
            e.borrow_mut().push(buf[0]);
        }
        Ok(())
    });
    // Datagram 0 (at 0 ms) goes both ways, and leaves both ARP caches filled (a one-way
    // cut from the start would also cut ARP's replies). Then b's answers are cut: datagram
    // 1 (100 ms) reaches b, its answer does not reach a. Repaired before datagram 2.
    sim.run_for(Duration::from_millis(50)).unwrap();
    sim.partition_oneway("b", "a");
    sim.run_for(Duration::from_millis(100)).unwrap();
    sim.repair_oneway("b", "a");
    sim.run().unwrap();
    assert_eq!(*got.borrow(), vec![0, 1, 2]);
    assert_eq!(*echoed.borrow(), vec![0, 2]);
}

#[test]
fn a_client_can_cut_and_heal_the_network_from_inside_and_read_simulated_time() {
    use sansnet_sim::control;
    assert_eq!(control::sim_elapsed(), None, "outside a simulation");
    let mut sim = Builder::new().build();
    sim.host("server", echo_server);
    let server = sim.lookup("server");
    sim.client("client", async move {
        let mut conn = connect(server).await?;
        let mut b = [0u8; 1];
        conn.write_all(b"a").await?;
        conn.read_exact(&mut b).await?;
        // Cut for 3 s from inside the test: the next echo waits for the repair.
        control::partition("client", "server");
        let cut_at = control::elapsed();
        conn.write_all(b"b").await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        control::repair("client", "server");
        conn.read_exact(&mut b).await?;
        assert_eq!(&b, b"b");
        assert!(control::elapsed() >= cut_at + Duration::from_secs(3));
        // A hold delays without loss.
        control::hold("client", "server");
        conn.write_all(b"c").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let held_until = control::elapsed();
        control::release("client", "server");
        conn.read_exact(&mut b).await?;
        assert_eq!(&b, b"c");
        assert!(control::elapsed() >= held_until);
        Ok(())
    });
    sim.run().unwrap();
}
