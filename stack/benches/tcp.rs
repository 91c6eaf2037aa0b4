//! Two TCP engines back to back in memory: bulk transfer throughput per wall-clock second,
//! clean and with 1% of data segments dropped.
//!
//! Segments pass as `Repr`s straight from one engine's `poll_transmit` to the other's
//! `handle_segment` (no framing, no checksums: the wire layer has its own benchmark). Time
//! is virtual and only moves when both engines are idle, to fire timers.
//!
//! Why `clean` (1 MiB buffers) takes longer than `loss_1pct` (issue 16): not more work,
//! the bytes' trip through memory. Each round of the loop, A sends all that its window
//! allows and B takes it all before reading. Clean, the window opens to the whole 1 MiB
//! buffer: 724 segments a round, 435 rounds, and B answers each burst with one ACK (the
//! engine sends one ACK for everything handled since its last `poll_transmit`), 434 ACKs
//! for 185,384 segments. Every byte is written into A's send buffer a megabyte before
//! `poll_transmit` copies it out, and into B's receive buffer a megabyte before `recv`
//! copies it into the (1 MiB) sink: each copy reads what was written a megabyte of other
//! bytes ago, more than the core's L2, so it runs from L3 or memory. With one segment in 100 dropped, fast recovery keeps cwnd
//! small: at most 22 segments a round, 18,724 rounds and 18,722 ACKs (43 times the clean
//! count), 1% more data segments, yet the bytes are read back while still in L1/L2.
//! Measured (CPU time of the thread, median of 5, `TCP_BENCH_EXPLAIN=1` prints it), a
//! shared 2-core machine: clean 48.1 ms with 1 MiB buffers, 34.8 ms with 256 KiB (bursts of
//! 181 segments), 35.5 ms with 64 KiB; 1% loss 42.6 to 43.2 ms whatever the buffers. So
//! `clean_256KiB` is the clean figure to compare with `loss_1pct`, and `clean` stays as the
//! cost of a megabyte burst.

use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sansnet_stack::tcp::{Config, Connection, State};
use sansnet_stack::time::{Duration, Instant};

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
const TRANSFER_BYTES: usize = 256 << 20;

/// What one transfer did.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    read: usize,
    /// Data segments A sent (dropped ones included).
    data_segments: u64,
    /// Segments B sent (ACKs).
    acks: u64,
    /// Rounds of the loop (each: A writes and sends, B reads, B sends).
    rounds: u64,
    /// Rounds in which nothing moved and time jumped to a timer.
    idle_rounds: u64,
    /// Largest number of data segments A sent in one round.
    max_burst: u64,
}

/// Moves `total` bytes from A to B, dropping one data segment in `drop_every` (0: none).
/// Returns the bytes B read and, if `check`, verifies their content.
fn bulk(total: usize, drop_every: u64, check: bool) -> usize {
    bulk_with(total, drop_every, check, 1 << 20).read
}

fn bulk_with(total: usize, drop_every: u64, check: bool, buffers: usize) -> Counts {
    let cfg = Config {
        mss: 1460,
        send_buffer_bytes: buffers,
        recv_buffer_bytes: buffers,
        reassembly_ranges: buffers / 2920 + 4,
        ..Config::default()
    };
    let mut now = Instant::from_secs(1);
    let mut a = Connection::connect(now, cfg.clone(), A, B);
    let mut b = Connection::listen(now, cfg, B);
    b.set_remote(A);
    let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut buf = vec![0u8; 65536];
    let mut sink = vec![0u8; 1 << 20];
    let (mut written, mut read, mut data_segments) = (0usize, 0usize, 0u64);
    let mut idle_rounds = 0;
    let mut counts = Counts::default();
    while read < total {
        counts.rounds += 1;
        let mut burst = 0;
        let mut moved = false;
        while written < total {
            let want = (total - written).min(chunk.len());
            let off = written % 251;
            match a.send(&chunk[off..off + want.min(chunk.len() - off)]) {
                Ok(n) => written += n,
                Err(_) => break,
            }
        }
        while let Some(seg) = a.poll_transmit(now, &mut buf) {
            moved = true;
            if !seg.payload.is_empty() {
                data_segments += 1;
                burst += 1;
                if drop_every != 0 && data_segments % drop_every == 0 {
                    continue;
                }
            }
            b.handle_segment(now, &seg);
        }
        while let Ok(n) = b.recv(&mut sink) {
            if n == 0 {
                break;
            }
            if check {
                for (i, byte) in sink[..n].iter().enumerate() {
                    assert_eq!(*byte, ((read + i) % 251) as u8, "corrupted at {}", read + i);
                }
            }
            read += n;
            moved = true;
        }
        counts.max_burst = counts.max_burst.max(burst);
        while let Some(seg) = b.poll_transmit(now, &mut buf) {
            moved = true;
            counts.acks += 1;
            a.handle_segment(now, &seg);
        }
        if !moved {
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            now = next.unwrap_or(now + Duration::from_millis(1)).max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
            idle_rounds += 1;
            assert!(idle_rounds < 1_000_000, "stalled: {a:?} {b:?}");
        }
        assert_ne!(a.state(), State::Closed, "A failed: {:?}", a.error());
    }
    counts.read = read;
    counts.data_segments = data_segments;
    counts.idle_rounds = idle_rounds;
    counts
}

fn benches(c: &mut Criterion) {
    // The content check runs once, outside the timing, so the figures measure the engine.
    assert_eq!(bulk(8 << 20, 0, true), 8 << 20);
    assert_eq!(bulk(8 << 20, 100, true), 8 << 20);
    if std::env::var_os("TCP_BENCH_EXPLAIN").is_some() {
        explain();
    }
    let mut g = c.benchmark_group("tcp_bulk_256MiB");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(20));
    g.throughput(Throughput::Bytes(TRANSFER_BYTES as u64));
    g.bench_function("clean", |bench| {
        bench.iter(|| bulk(TRANSFER_BYTES, 0, false))
    });
    g.bench_function("clean_256KiB", |bench| {
        bench.iter(|| bulk_with(TRANSFER_BYTES, 0, false, 256 << 10).read)
    });
    g.bench_function("loss_1pct", |bench| {
        bench.iter(|| bulk(TRANSFER_BYTES, 100, false))
    });
    g.finish();
}

fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn explain() {
    for buffers in [1 << 20, 256 << 10, 64 << 10] {
        for drop_every in [0, 100] {
            let mut times = vec![];
            let mut c = Counts::default();
            for _ in 0..5 {
                let t0 = cpu_ns();
                c = bulk_with(TRANSFER_BYTES, drop_every, false, buffers);
                times.push((cpu_ns() - t0) as f64 / 1e6);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "tcp/explain: buffers {} KiB, drop 1 in {drop_every}: {:.1} ms CPU (median of 5), \
                 {c:?}",
                buffers >> 10,
                times[2]
            );
        }
    }
}

criterion_group!(tcp, benches);
criterion_main!(tcp);
