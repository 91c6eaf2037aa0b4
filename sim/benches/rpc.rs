//! Issue 5, benchmark 3: request/response at scale. N clients, each with one connection
//! doing R exchanges of 64 bytes with an echo server, 1 ms one-way latency between hosts.
//! sansnet (hosts on a switch, 500 us per link, async tasks on the simulator's executor)
//! against turmoil 0.7.2 (`turmoil::Builder`, a host "server" with a `TcpListener` echo, N
//! client hosts, 1 ms message latency) on the same workload, in the same run: wall time,
//! median of a few runs, and the ratio. sansnet also runs at 100, 300 and 1000 clients x
//! 10 exchanges to show cost linear in clients; turmoil only at 100 x 100 and 300 x 10 (it
//! is too slow beyond).
// A benchmark measures wall-clock time; the stack and simulator never read it.
#![allow(clippy::disallowed_methods)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant as WallInstant;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::stack::iface::{Fd, Host};
use sansnet_sim::{exec, Duration, LinkFaults, Seed, Sim, TcpListener, TcpStream};

const MSG: usize = 64;
const PORT: u16 = 7;

/// sansnet: wall seconds for `n` clients x `r` exchanges, and the simulated time it took.
fn sansnet(n: usize, r: usize, seed: u64) -> (f64, Duration) {
    let start = WallInstant::now();
    let mut sim = Sim::new(Seed(seed));
    let mut limits = sim.limits();
    limits.max_steps = u64::MAX;
    sim.set_limits(limits);
    let sw = sim.add_switch("sw");
    let link = LinkFaults::with_latency(Duration::from_micros(500));
    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    let server = sim.add_host("server", server_ip, 16);
    sim.connect(sim.nic(server, 0), sw, link.clone());
    let to = SocketAddrV4::new(server_ip, PORT);
    sim.spawn_on(server, async move {
        let listener = TcpListener::bind(server, to).unwrap();
        // `TcpListener::bind` listens with a backlog of 128; with hundreds of clients
        // connecting at the same instant the accept queue overflows, and the host then
        // resets the connection (Linux, with `tcp_abort_on_overflow` = 0, would drop the
        // ACK instead). A backlog like Linux's SOMAXCONN: the listener is the server's
        // first descriptor.
        exec::with_node::<Host, _>(server, |h, _| h.listen(Fd(0), 4096))
            .unwrap()
            .unwrap();
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            exec::spawn(async move {
                let mut buf = [0u8; MSG];
                loop {
                    match conn.read_exact(&mut buf).await {
                        Ok(()) => conn.write_all(&buf).await.unwrap(),
                        Err(_) => return,
                    }
                }
            });
        }
    });
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let ip = Ipv4Addr::new(10, 0, (i / 250 + 1) as u8, (i % 250 + 1) as u8);
        let c = sim.add_host(&format!("client{i}"), ip, 16);
        sim.connect(sim.nic(c, 0), sw, link.clone());
        clients.push(sim.spawn_on(c, async move {
            let mut conn = TcpStream::connect(c, to).await.unwrap();
            let msg = [i as u8; MSG];
            let mut back = [0u8; MSG];
            for _ in 0..r {
                conn.write_all(&msg).await.unwrap();
                conn.read_exact(&mut back).await.unwrap();
                assert_eq!(back, msg);
            }
            conn.close().await.unwrap();
        }));
    }
    sim.run_until_condition(|_| clients.iter().all(|h| h.is_finished()))
        .unwrap();
    (
        start.elapsed().as_secs_f64(),
        sim.now() - sansnet_sim::Instant::ZERO,
    )
}

/// turmoil 0.7.2 on the same workload: wall seconds and simulated time.
fn turmoil_run(n: usize, r: usize, seed: u64) -> (f64, std::time::Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let start = WallInstant::now();
    let mut sim = turmoil::Builder::new()
        .min_message_latency(std::time::Duration::from_millis(1))
        .max_message_latency(std::time::Duration::from_millis(1))
        .simulation_duration(std::time::Duration::from_secs(3600))
        .rng_seed(seed)
        // Its default (64 messages per socket) overflows the listener at 100 clients.
        .tcp_capacity(4096)
        .build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (mut conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; MSG];
                while conn.read_exact(&mut buf).await.is_ok() {
                    if conn.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    for i in 0..n {
        sim.client(format!("client{i}"), async move {
            let mut conn = turmoil::net::TcpStream::connect(("server", PORT)).await?;
            let msg = [i as u8; MSG];
            let mut back = [0u8; MSG];
            for _ in 0..r {
                conn.write_all(&msg).await?;
                conn.read_exact(&mut back).await?;
                assert_eq!(back, msg);
            }
            Ok(())
        });
    }
    sim.run().unwrap();
    (start.elapsed().as_secs_f64(), sim.elapsed())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(c: &mut Criterion) {
    // 100 clients x 100 exchanges, both, interleaved.
    let (mut ours, mut theirs) = (vec![], vec![]);
    let (mut sim_ours, mut sim_theirs) = (Duration::ZERO, std::time::Duration::ZERO);
    for round in 0..3 {
        let (w, s) = sansnet(100, 100, 10 + round);
        ours.push(w);
        sim_ours = s;
        let (w, s) = turmoil_run(100, 100, 10 + round);
        theirs.push(w);
        sim_theirs = s;
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "rpc/100x100: sansnet {:.3} s, turmoil {:.3} s of wall time (median of 3): sansnet \
         {:.1}x faster (goal >= 10x: {}); simulated sansnet {:?}, turmoil {:?}",
        o,
        t,
        t / o,
        if t / o >= 10.0 { "met" } else { "MISSED" },
        sim_ours,
        sim_theirs
    );
    // 300 x 10, both.
    let (mut ours, mut theirs) = (vec![], vec![]);
    for round in 0..3 {
        ours.push(sansnet(300, 10, 20 + round).0);
        theirs.push(turmoil_run(300, 10, 20 + round).0);
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "rpc/300x10: sansnet {o:.3} s, turmoil {t:.3} s (median of 3): {:.1}x",
        t / o
    );
    // Scaling in clients, sansnet only.
    let mut per_client = Vec::new();
    for n in [100, 300, 1000] {
        let w = median((0..3).map(|k| sansnet(n, 10, 30 + k).0).collect());
        per_client.push(w / n as f64);
        println!(
            "rpc/scaling: sansnet {n} clients x 10: {w:.3} s, {:.1} us per client",
            w / n as f64 * 1e6
        );
    }
    println!(
        "rpc/scaling: cost per client at 1000 / at 100 = {:.2} (1.0 is linear)",
        per_client[2] / per_client[0]
    );

    let mut g = c.benchmark_group("rpc");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(std::time::Duration::from_secs(10));
    g.bench_function("sansnet/100x100", |b| b.iter(|| sansnet(100, 100, 1)));
    g.bench_function("sansnet/1000x10", |b| b.iter(|| sansnet(1000, 10, 1)));
    g.finish();
}

criterion_group!(rpc, report);
criterion_main!(rpc);
