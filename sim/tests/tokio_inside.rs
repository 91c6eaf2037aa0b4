//! tokio inside simulated hosts: its spawn, time, sync and `select!` work unchanged in a
//! task on a host, on the simulator's clock, to the nanosecond between events and on
//! tokio's millisecond ticks for its own timers.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use pretty_assertions::assert_eq;
use sansnet_sim::exec;
use sansnet_sim::{Duration, Instant, LinkFaults, Seed, Sim, TcpListener, TcpStream};

/// Simulated milliseconds, as tokio reports them relative to `start`.
fn ms_since(start: tokio::time::Instant) -> u128 {
    start.elapsed().as_millis()
}

#[test]
fn tokio_time_follows_the_simulated_clock_in_every_task() {
    let mut sim = Sim::new(Seed(1));
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let h = sim.spawn(async move {
        let start = tokio::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        l.borrow_mut()
            .push(("slept", ms_since(start), exec::now().as_millis()));
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        for _ in 0..3 {
            tick.tick().await;
            l.borrow_mut()
                .push(("tick", ms_since(start), exec::now().as_millis()));
        }
        let late = tokio::time::timeout(
            std::time::Duration::from_millis(40),
            tokio::time::sleep(std::time::Duration::from_secs(3600)),
        )
        .await;
        l.borrow_mut()
            .push(("timeout", ms_since(start), u64::from(late.is_err())));
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            ("slept", 250, 250),
            ("tick", 250, 250),
            ("tick", 350, 350),
            ("tick", 450, 450),
            ("timeout", 490, 1),
        ]
    );
    assert_eq!(sim.now(), Instant::from_millis(490));
}

#[test]
fn tokio_reads_nanoseconds_between_the_simulators_own_timers() {
    let mut sim = Sim::new(Seed(2));
    let h = sim.spawn(async {
        let start = tokio::time::Instant::now();
        exec::sleep(Duration::from_nanos(1_500)).await;
        start.elapsed()
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(h.take(), Some(std::time::Duration::from_nanos(1_500)));
}

#[test]
fn tokio_spawn_join_set_spawn_local_and_channels_run_on_the_host() {
    let mut sim = Sim::new(Seed(3));
    let node = sim.add_host("a", Ipv4Addr::new(10, 0, 0, 1), 24);
    let h = sim.spawn_on(node, async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(4);
        let mut set = tokio::task::JoinSet::new();
        for k in 1..=3u64 {
            let tx = tx.clone();
            set.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(10 * k)).await;
                // The spawned task is on the same host as its parent.
                assert_eq!(exec::current_node(), Some(node));
                tx.send(k).await.unwrap();
                k * 100
            });
        }
        drop(tx);
        let local = tokio::task::spawn_local(async { exec::now().as_millis() });
        let mut got = Vec::new();
        while let Some(k) = rx.recv().await {
            got.push((k, exec::now().as_millis()));
        }
        let mut joined = Vec::new();
        while let Some(r) = set.join_next().await {
            joined.push(r.unwrap());
        }
        joined.sort_unstable();
        (got, joined, local.await.unwrap())
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(
        h.take(),
        Some((vec![(1, 10), (2, 20), (3, 30)], vec![100, 200, 300], 0))
    );
}

#[test]
fn select_between_a_socket_and_a_tokio_timer_sees_both_in_simulated_time() {
    let mut sim = Sim::new(Seed(4));
    let server = sim.add_host("server", Ipv4Addr::new(10, 0, 0, 1), 24);
    let client = sim.add_host("client", Ipv4Addr::new(10, 0, 0, 2), 24);
    sim.connect(
        sim.nic(server, 0),
        sim.nic(client, 0),
        LinkFaults::with_latency(Duration::from_millis(5)),
    );
    let addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(server, addr).unwrap();
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            // A tokio task per connection, as servers do.
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut b = [0u8; 1];
                while conn.read_exact(&mut b).await.is_ok() {
                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                    conn.write_all(&b).await.unwrap();
                }
            });
        }
    });
    let h = sim.spawn_on(client, async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = TcpStream::connect(client, addr).await.unwrap();
        let mut out = Vec::new();
        for limit_ms in [100u64, 20] {
            conn.write_all(b"x").await.unwrap();
            let mut b = [0u8; 1];
            tokio::select! {
                r = conn.read_exact(&mut b) => { r.unwrap(); out.push(("echo", exec::now().as_millis())); }
                _ = tokio::time::sleep(std::time::Duration::from_millis(limit_ms)) => {
                    out.push(("timeout", exec::now().as_millis()));
                }
            }
        }
        out
    });
    sim.run_until_complete(&h).unwrap();
    // Handshake 10 ms (ARP first: 2 more crossings), then each echo: 5 + 30 + 5 ms.
    let out = h.take().unwrap();
    assert_eq!(out[0].0, "echo");
    assert_eq!(out[1].0, "timeout");
    assert_eq!(out[1].1 - out[0].1, 20);
}

#[test]
fn a_crash_drops_the_hosts_tokio_tasks() {
    let mut sim = Sim::new(Seed(5));
    let node = sim.add_host("a", Ipv4Addr::new(10, 0, 0, 1), 24);
    let ticks = Rc::new(RefCell::new(0u32));
    let t = ticks.clone();
    sim.spawn_on(node, async move {
        tokio::task::spawn_local(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                *t.borrow_mut() += 1;
            }
        });
        std::future::pending::<()>().await;
    });
    sim.run_for(Duration::from_millis(55)).unwrap();
    assert_eq!(*ticks.borrow(), 5);
    sim.crash(node);
    sim.run_for(Duration::from_millis(100)).unwrap();
    assert_eq!(*ticks.borrow(), 5);
}

#[test]
fn a_lone_ticking_host_skips_idle_time_in_one_step() {
    let mut sim = Sim::new(Seed(6));
    let h = sim.spawn(async {
        tokio::time::sleep(std::time::Duration::from_secs(7200)).await;
        exec::now()
    });
    sim.run_until_complete(&h).unwrap();
    assert_eq!(h.take(), Some(Instant::from_secs(7200)));
    assert!(sim.steps() < 20, "{} steps for one sleep", sim.steps());
}

#[test]
fn runs_with_tokio_tasks_replay_to_the_same_trace() {
    let run = || {
        let mut sim = Sim::new(Seed(7));
        let log = Rc::new(RefCell::new(Vec::new()));
        for k in 0..4u64 {
            let l = log.clone();
            sim.spawn(async move {
                let mut set = tokio::task::JoinSet::new();
                for j in 0..3u64 {
                    set.spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(k * 7 + j * 3)).await;
                        j
                    });
                }
                while let Some(j) = set.join_next().await {
                    l.borrow_mut()
                        .push((k, j.unwrap(), exec::now().as_millis()));
                }
            });
        }
        sim.run_until_idle().unwrap();
        let log = log.borrow().clone();
        log
    };
    assert_eq!(run(), run());
}

#[test]
fn two_hosts_with_tokio_timers_see_each_others_frames_at_the_right_time() {
    // Both hosts keep tokio timers (so both are on the tick grid): the server a long idle
    // timer, the client an interval. Neither may run ahead of the other: each byte must
    // arrive one one-way latency (1 ms) after the client's tokio clock sent it, and the
    // server's tokio clock must agree with the simulator's.
    use sansnet_sim::{net, Builder};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sim = Builder::new().build();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    sim.host("server", move || {
        let g = g.clone();
        async move {
            let start = tokio::time::Instant::now();
            let listener = net::TcpListener::bind(("0.0.0.0", 9)).await?;
            let (mut conn, _) = listener.accept().await?;
            let mut b = [0u8; 1];
            loop {
                tokio::select! {
                    biased;
                    r = conn.read(&mut b) => {
                        if r? == 0 { return Ok(()); }
                        let tokio_ns = start.elapsed().as_nanos() as u64;
                        g.borrow_mut().push((b[0], tokio_ns, exec::now().as_nanos()));
                    }
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                }
            }
        }
    });
    let sent = Rc::new(RefCell::new(Vec::new()));
    let s = sent.clone();
    sim.client("client", async move {
        let mut conn = net::TcpStream::connect("server:9").await?;
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(700));
        for k in 0..5u8 {
            tick.tick().await;
            conn.write_all(&[k]).await?;
            s.borrow_mut().push(exec::now().as_nanos());
        }
        Ok(())
    });
    sim.run().unwrap();
    sim.run_for(Duration::from_millis(10)).unwrap();
    let got = got.borrow();
    let sent = sent.borrow();
    assert_eq!(got.len(), 5);
    for (k, &(byte, tokio_ns, sim_ns)) in got.iter().enumerate() {
        assert_eq!(byte as usize, k);
        assert_eq!(sim_ns, sent[k] + 1_000_000, "byte {k}");
        assert_eq!(tokio_ns, sim_ns, "byte {k}: the server's tokio clock");
    }
}

#[test]
fn step_reports_nothing_left_when_only_a_tick_past_the_limit_remains() {
    let mut sim = Sim::new(Seed(8));
    let mut limits = sim.limits();
    limits.max_time = Instant::from_secs(2);
    sim.set_limits(limits);
    sim.spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tick.tick().await;
        }
    });
    let mut steps = 0;
    while sim.step().unwrap() {
        steps += 1;
        assert!(steps < 1_000_000, "step never ends");
    }
    assert!(sim.now() <= Instant::from_secs(2), "{}", sim.now());
}

#[test]
fn a_tokio_task_spawned_from_a_sansnet_task_runs_at_the_same_instant() {
    let mut sim = Sim::new(Seed(9));
    let node = sim.add_host("a", Ipv4Addr::new(10, 0, 0, 1), 24);
    let h = sim.spawn_on(node, async {
        // Off tokio's millisecond grid, so a child that waited for a tick would show it.
        exec::sleep(Duration::from_nanos(1_234_567)).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(exec::now());
        });
        let child_ran_at = rx.await.unwrap();
        (exec::now(), child_ran_at)
    });
    sim.run_until_complete(&h).unwrap();
    let (now, child) = h.take().unwrap();
    assert_eq!(now, Instant::from_nanos(1_234_567));
    assert_eq!(child, now);
}
