//! The FCS of one frame, this crate's against `crc32fast`'s, at the lengths a simulated
//! network carries: a minimum frame, an ACK with options, a mid-size and a full-size
//! segment, a jumbo frame. `cargo bench -p sansnet-fcs`.
#![allow(missing_docs)] // criterion_group! makes an undocumented function
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn frames(c: &mut Criterion) {
    let bytes: Vec<u8> = (0..9018u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut g = c.benchmark_group("fcs");
    for len in [60usize, 66, 590, 1514, 9018] {
        let frame = &bytes[..len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("sansnet_fcs", len), frame, |b, f| {
            b.iter(|| sansnet_fcs::crc32(black_box(f)))
        });
        g.bench_with_input(BenchmarkId::new("crc32fast", len), frame, |b, f| {
            b.iter(|| crc32fast::hash(black_box(f)))
        });
    }
    g.finish();
    println!(
        "fcs: the 64-byte path is {} on this CPU",
        if sansnet_fcs::wide_path_available() {
            "taken"
        } else {
            "not available"
        }
    );
}

criterion_group!(benches, frames);
criterion_main!(benches);
