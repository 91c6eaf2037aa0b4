//! Issue 5, benchmark 1: bulk transfer between two nodes of the simulator over a link with
//! 100 us one-way delay and no bandwidth limit, clean and with 1% loss (both directions):
//! payload bytes per wall-clock second, sansnet against smoltcp 0.12 on the same simulator
//! (through the public `Endpoint` trait), measured in the same run and reported as a ratio.
//!
//! Three ways of running it: `sansnet` (the host with its application inside the node, as
//! the smoltcp adapter does), `sansnet_tasks` (the public async API: `TcpListener` and
//! `TcpStream` in simulator tasks) and `smoltcp`.
// A benchmark measures wall-clock time; the stack and simulator never read it.
#![allow(clippy::disallowed_methods)]

#[path = "support/mod.rs"]
mod support;

use std::time::Instant as WallInstant;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::{
    Duration, LinkFaults, LossModel, Probability, Seed, Sim, TcpListener, TcpStream,
};
use std::net::{Ipv4Addr, SocketAddrV4};
use support::{pair, run_transfer, Stack};

const ONE_WAY: Duration = Duration::from_micros(100);
const CLEAN_BYTES: u64 = 32 << 20;
const LOSSY_BYTES: u64 = 8 << 20;

fn faults(loss_pct: u32) -> LinkFaults {
    let mut f = LinkFaults::with_latency(ONE_WAY);
    if loss_pct > 0 {
        f.loss = LossModel::Independent {
            rate: Probability::percent(loss_pct),
        };
    }
    f
}

/// Wall seconds and simulated duration of one transfer, node-driven.
fn transfer(stack: Stack, total: u64, loss_pct: u32, seed: u64) -> (f64, Duration) {
    let (mut sim, _a, b, _link) = pair(stack, seed, total, faults(loss_pct), None);
    let start = WallInstant::now();
    let simulated = run_transfer(&mut sim, stack, b, total);
    (start.elapsed().as_secs_f64(), simulated)
}

/// The same transfer through sansnet's async socket API in simulator tasks.
fn transfer_tasks(total: u64, loss_pct: u32, seed: u64) -> (f64, Duration) {
    let mut sim = Sim::new(Seed(seed));
    let b = sim.add_host("b", Ipv4Addr::new(10, 0, 0, 2), 24);
    let a = sim.add_host("a", Ipv4Addr::new(10, 0, 0, 1), 24);
    sim.connect(sim.nic(a, 0), sim.nic(b, 0), faults(loss_pct));
    let mut limits = sim.limits();
    limits.max_steps = u64::MAX;
    sim.set_limits(limits);
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), support::PORT);
    let sink = sim.spawn_on(b, async move {
        let listener = TcpListener::bind(b, server).unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                return got;
            }
            got += n as u64;
        }
    });
    sim.spawn_on(a, async move {
        let mut conn = TcpStream::connect(a, server).await.unwrap();
        let chunk = vec![0x5au8; 1 << 16];
        let mut sent = 0u64;
        while sent < total {
            let n = (total - sent).min(chunk.len() as u64) as usize;
            conn.write_all(&chunk[..n]).await.unwrap();
            sent += n as u64;
        }
        conn.close().await.unwrap();
    });
    let start = WallInstant::now();
    let t0 = sim.now();
    sim.run_until_complete(&sink).unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(sink.take(), Some(total));
    (wall, sim.now() - t0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(c: &mut Criterion) {
    const ROUNDS: usize = 5;
    for (label, loss, total) in [("clean", 0, CLEAN_BYTES), ("loss_1pct", 1, LOSSY_BYTES)] {
        let (mut ours, mut tasks, mut smol) = (vec![], vec![], vec![]);
        let (mut sim_ours, mut sim_smol) = (Duration::ZERO, Duration::ZERO);
        for round in 0..ROUNDS {
            let seed = 1000 + round as u64;
            // Interleaved, so that noise from the machine falls on all three alike.
            let (w, s) = transfer(Stack::Sansnet, total, loss, seed);
            ours.push(total as f64 / w);
            sim_ours = s;
            let (w, _) = transfer_tasks(total, loss, seed);
            tasks.push(total as f64 / w);
            let (w, s) = transfer(Stack::Smoltcp, total, loss, seed);
            smol.push(total as f64 / w);
            sim_smol = s;
        }
        let (o, t, s) = (median(ours), median(tasks), median(smol));
        let mib = |x: f64| x / (1 << 20) as f64;
        println!(
            "bulk/{label}: {} MiB, median of {ROUNDS}: sansnet {:.1} MiB/s, sansnet tasks {:.1} \
             MiB/s, smoltcp {:.1} MiB/s of wall time; ratio sansnet/smoltcp {:.2} (tasks {:.2}); \
             simulated time sansnet {:?}, smoltcp {:?}{}",
            total >> 20,
            mib(o),
            mib(t),
            mib(s),
            o / s,
            t / s,
            sim_ours,
            sim_smol,
            if loss == 0 {
                format!(
                    " (goal >= 1.0x smoltcp: {})",
                    if o / s >= 1.0 { "met" } else { "MISSED" }
                )
            } else {
                String::new()
            }
        );
    }

    let mut g = c.benchmark_group("bulk_100us");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(std::time::Duration::from_secs(10));
    for (label, loss, total) in [("clean", 0, CLEAN_BYTES), ("loss_1pct", 1, LOSSY_BYTES)] {
        g.throughput(Throughput::Bytes(total));
        g.bench_function(format!("sansnet/{label}"), |b| {
            b.iter(|| transfer(Stack::Sansnet, total, loss, 7))
        });
        g.bench_function(format!("smoltcp/{label}"), |b| {
            b.iter(|| transfer(Stack::Smoltcp, total, loss, 7))
        });
    }
    g.finish();
}

criterion_group!(bulk, report);
criterion_main!(bulk);
