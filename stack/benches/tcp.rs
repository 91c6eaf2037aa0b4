//! Two TCP engines back to back in memory: bulk transfer throughput per wall-clock second,
//! clean and with 1% of data segments dropped.
//!
//! Segments pass as `Repr`s straight from one engine's `poll_transmit` to the other's
//! `handle_segment` (no framing, no checksums: the wire layer has its own benchmark). Time
//! is virtual and only moves when both engines are idle, to fire timers.

use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sansnet_stack::tcp::{Config, Connection, State};
use sansnet_stack::time::{Duration, Instant};

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
const TRANSFER_BYTES: usize = 256 << 20;

/// Moves `total` bytes from A to B, dropping one data segment in `drop_every` (0: none).
/// Returns the bytes B read and, if `check`, verifies their content.
fn bulk(total: usize, drop_every: u64, check: bool) -> usize {
    let cfg = Config {
        mss: 1460,
        send_buffer_bytes: 1 << 20,
        recv_buffer_bytes: 1 << 20,
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
    while read < total {
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
        while let Some(seg) = b.poll_transmit(now, &mut buf) {
            moved = true;
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
    read
}

fn benches(c: &mut Criterion) {
    // The content check runs once, outside the timing, so the figures measure the engine.
    assert_eq!(bulk(8 << 20, 0, true), 8 << 20);
    assert_eq!(bulk(8 << 20, 100, true), 8 << 20);
    let mut g = c.benchmark_group("tcp_bulk_256MiB");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(20));
    g.throughput(Throughput::Bytes(TRANSFER_BYTES as u64));
    g.bench_function("clean", |bench| {
        bench.iter(|| bulk(TRANSFER_BYTES, 0, false))
    });
    g.bench_function("loss_1pct", |bench| {
        bench.iter(|| bulk(TRANSFER_BYTES, 100, false))
    });
    g.finish();
}

criterion_group!(tcp, benches);
criterion_main!(tcp);
