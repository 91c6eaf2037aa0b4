//! Two ways to build a server, each serving 100 concurrent clients over a lossy switched
//! network: an event loop (one task, one selector, non-blocking calls straight on the
//! host), and a task per connection (async streams).

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::rc::Rc;

use common::{for_seeds, run_until, ss, SERVER};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::exec::{self, JoinHandle};
use sansnet_sim::stack::iface::{Errno, Fd, Host, Interest, SockOpt, SocketState, SocketType};
use sansnet_sim::stack::time::Instant;
use sansnet_sim::{
    Duration, LinkFaults, LossModel, NodeId, Probability, Seed, Sim, TcpListener, TcpStream,
};

const SEEDS: &[u64] = &[1, 2];

const CLIENT_HOSTS: usize = 10;
const PER_HOST: usize = 10;
const CLIENTS: usize = CLIENT_HOSTS * PER_HOST;

/// The server's answer: the request backwards, then forwards (so it must have read it all).
fn respond(req: &[u8]) -> Vec<u8> {
    req.iter().rev().chain(req).copied().collect()
}

/// Client `i`'s request: 1000 to about 11 000 bytes of its own pattern.
fn request(seed: Seed, i: usize) -> Vec<u8> {
    common::pattern(seed, 100 + i as u64, 1000 + 97 * i)
}

/// The server and `CLIENT_HOSTS` client hosts on a switch; every link has 2 ms of latency,
/// some jitter and 1 % loss.
fn network(seed: Seed) -> (Sim, NodeId, Vec<NodeId>) {
    let faults = LinkFaults {
        jitter: Duration::from_micros(500),
        loss: LossModel::Independent {
            rate: Probability::percent(1),
        },
        ..LinkFaults::with_latency(Duration::from_millis(2))
    };
    let mut sim = Sim::new(seed);
    let sw = sim.add_switch("sw");
    let server = common::add_lan_host(&mut sim, "server", *SERVER.ip());
    sim.connect(sim.nic(server, 0), sw, faults.clone());
    let clients = (0..CLIENT_HOSTS)
        .map(|i| {
            let c = common::add_lan_host(
                &mut sim,
                &format!("c{i}"),
                Ipv4Addr::new(10, 0, 0, 10 + i as u8),
            );
            sim.connect(sim.nic(c, 0), sw, faults.clone());
            c
        })
        .collect();
    (sim, server, clients)
}

/// 100 clients, `PER_HOST` on each client host, starting 1 ms apart: each sends its
/// request, closes its sending side, and checks the whole response by content.
fn spawn_clients(sim: &mut Sim, hosts: &[NodeId]) -> Vec<JoinHandle<io::Result<()>>> {
    let seed = sim.seed();
    (0..CLIENTS)
        .map(|i| {
            let host = hosts[i % hosts.len()];
            sim.spawn_on(host, async move {
                exec::sleep(Duration::from_millis(i as u64)).await;
                let req = request(seed, i);
                let mut conn = TcpStream::connect(host, SERVER).await?;
                conn.write_all(&req).await?;
                conn.close().await?;
                let mut got = Vec::new();
                conn.read_to_end(&mut got).await?;
                common::assert_same_bytes(&format!("client {i}"), &got, &respond(&req));
                Ok(())
            })
        })
        .collect()
}

/// A socket call on `node` from a task.
fn sys<R>(
    node: NodeId,
    f: impl FnOnce(&mut Host, Instant) -> Result<R, Errno>,
) -> Result<R, Errno> {
    exec::with_node::<Host, _>(node, f).unwrap_or(Err(Errno::ECONNRESET))
}

/// One connection of the event-loop server.
#[derive(Default)]
struct Conn {
    request: Vec<u8>,
    /// Set at end of request; then the descriptor waits for writability.
    response: Option<Vec<u8>>,
    sent: usize,
}

/// What an event-loop run saw.
#[derive(Debug, Default)]
struct LoopStats {
    served: usize,
    /// Connections open at once, at most.
    peak: usize,
    /// Sends that took less than offered (the small send buffer filled).
    short_sends: usize,
    /// Times the loop went to sleep on the selector.
    waits: usize,
}

/// The event loop: one task, one listener and every connection registered with the host's
/// selector, level-triggered, non-blocking calls. A 4 KiB send buffer (inherited from the
/// listener) makes responses go out over many writable events.
async fn event_loop_server(node: NodeId, clients: usize) -> Result<LoopStats, Errno> {
    let listener = sys(node, |h, now| {
        let fd = h.socket(SocketType::Stream)?;
        h.setsockopt(now, fd, SockOpt::SendBuffer(4096))?;
        h.bind(fd, SERVER)?;
        h.listen(fd, 128)?;
        h.register(fd, Interest::READABLE)?;
        Ok(fd)
    })?;
    let mut conns: BTreeMap<Fd, Conn> = BTreeMap::new();
    let mut stats = LoopStats::default();
    let mut buf = vec![0u8; 2048];
    while stats.served < clients {
        let ready = sys(node, |h, _| Ok(h.poll_ready()))?;
        if ready.is_empty() {
            stats.waits += 1;
            exec::node_activity(node).await;
            continue;
        }
        for (fd, readiness) in ready {
            if fd == listener {
                loop {
                    match sys(node, |h, now| h.accept(now, listener)) {
                        Ok((conn, _)) => {
                            sys(node, |h, _| h.register(conn, Interest::READABLE))?;
                            conns.insert(conn, Conn::default());
                            stats.peak = stats.peak.max(conns.len());
                        }
                        Err(Errno::EAGAIN) => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let conn = conns
                .get_mut(&fd)
                .expect("only registered descriptors are ready");
            if readiness.error {
                return Err(sys(node, |h, _| h.take_error(fd))?.unwrap_or(Errno::EINVAL));
            }
            if conn.response.is_none() && (readiness.readable || readiness.hang_up) {
                loop {
                    match sys(node, |h, now| h.recv(now, fd, &mut buf)) {
                        Ok(0) => {
                            conn.response = Some(respond(&conn.request));
                            sys(node, |h, _| h.register(fd, Interest::WRITABLE))?;
                            break;
                        }
                        Ok(n) => conn.request.extend_from_slice(&buf[..n]),
                        Err(Errno::EAGAIN) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            let Some(response) = &conn.response else {
                continue;
            };
            while conn.sent < response.len() {
                let rest = &response[conn.sent..];
                match sys(node, |h, now| h.send(now, fd, rest)) {
                    Ok(n) => {
                        stats.short_sends += usize::from(n < rest.len());
                        conn.sent += n;
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => return Err(e),
                }
            }
            if conn.sent == response.len() {
                // A graceful close: the stack sends what is queued, then FIN.
                sys(node, |h, now| h.close(now, fd))?;
                conns.remove(&fd);
                stats.served += 1;
            }
        }
    }
    Ok(stats)
}

/// After the clients are done and the last segments have landed, the server has nothing
/// left but its listener: no descriptor leaked, no connection stuck.
fn assert_only_the_listener_is_left(sim: &mut Sim, server: NodeId) {
    sim.run_for(Duration::from_secs(5)).unwrap();
    let table = ss(sim, server);
    assert_eq!(table.len(), 1, "{table:#?}");
    assert_eq!(table[0].state, SocketState::Listen);
}

fn run_clients(sim: &mut Sim, clients: &[JoinHandle<io::Result<()>>]) {
    run_until(sim, Duration::from_secs(120), |_| {
        clients.iter().all(|c| c.is_finished())
    });
    for (i, c) in clients.iter().enumerate() {
        c.take()
            .expect("finished")
            .unwrap_or_else(|e| panic!("client {i} failed: {e}"));
    }
}

#[test]
fn an_event_loop_server_with_one_task_and_a_selector_serves_100_clients() {
    for_seeds(SEEDS, |seed| {
        let (mut sim, server, hosts) = network(seed);
        let tasks_before = sim.task_count();
        let server_task = sim.spawn_on(server, event_loop_server(server, CLIENTS));
        assert_eq!(sim.task_count(), tasks_before + 1, "one task on the server");
        let clients = spawn_clients(&mut sim, &hosts);
        run_clients(&mut sim, &clients);
        run_until(&mut sim, Duration::from_secs(10), |_| {
            server_task.is_finished()
        });
        let stats = server_task.take().unwrap().unwrap();
        assert_eq!(stats.served, CLIENTS);
        assert!(
            stats.peak > 1,
            "the loop never had two connections at once: {stats:?}"
        );
        assert!(
            stats.short_sends > 0,
            "the send buffer never filled: {stats:?}"
        );
        assert!(
            stats.waits > 0,
            "the loop never waited on the selector: {stats:?}"
        );
        assert_only_the_listener_is_left(&mut sim, server);
    });
}

#[test]
fn a_task_per_connection_server_serves_100_clients() {
    for_seeds(SEEDS, |seed| {
        let (mut sim, server, hosts) = network(seed);
        let (live, peak) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(0usize)));
        let (live2, peak2) = (live.clone(), peak.clone());
        let server_task = sim.spawn_on(server, async move {
            let listener = TcpListener::bind(server, SERVER)?;
            let mut handlers = Vec::new();
            for _ in 0..CLIENTS {
                let (mut conn, _) = listener.accept().await?;
                live2.set(live2.get() + 1);
                peak2.set(peak2.get().max(live2.get()));
                let live = live2.clone();
                handlers.push(exec::spawn(async move {
                    let mut req = Vec::new();
                    conn.read_to_end(&mut req).await?;
                    conn.write_all(&respond(&req)).await?;
                    conn.close().await?;
                    live.set(live.get() - 1);
                    Ok::<_, io::Error>(())
                }));
            }
            let served = handlers.len();
            for h in handlers {
                h.await?;
            }
            Ok::<_, io::Error>(served)
        });
        let clients = spawn_clients(&mut sim, &hosts);
        run_clients(&mut sim, &clients);
        run_until(&mut sim, Duration::from_secs(10), |_| {
            server_task.is_finished()
        });
        assert_eq!(server_task.take().unwrap().unwrap(), CLIENTS);
        assert_eq!(live.get(), 0);
        assert!(peak.get() > 1, "never two handler tasks at once");
        drop(server_task);
        // The listener was dropped with the server task: nothing at all is left.
        sim.run_for(Duration::from_secs(5)).unwrap();
        let table = ss(&mut sim, server);
        assert!(table.is_empty(), "{table:#?}");
    });
}
