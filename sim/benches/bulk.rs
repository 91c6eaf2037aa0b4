//! Bulk transfer, payload bytes per wall-clock second: sansnet against smoltcp 0.14 on the
//! same work (issue 16), clean and with 1% loss, reported in one run as ratios.
//!
//! Three ways of moving the same bytes over a link with 100 us one-way delay and no
//! bandwidth limit:
//! - `smoltcp`: two smoltcp 0.14 interfaces (Ethernet, one TCP socket each, Reno congestion
//!   control, delayed ACKs at their default, a 32-range reassembler instead of the default
//!   4: `assembler-max-segment-count-32` in sim/Cargo.toml; at 1% loss it changes nothing
//!   measurable, the ranges are not what holds smoltcp back) over the virtual-time link of
//!   `support/vlink.rs`;
//! - `sansnet`: two sansnet hosts over the same link, driven the same way;
//! - `sansnet_sim`: two sansnet hosts as nodes of the simulator (its events, links, traces
//!   and readiness bookkeeping on top).
//!
//! Same work on both sides: socket buffers of 1 MiB each way, MSS 1460 and no timestamps
//! (so every full segment carries 1460 bytes on both), the sender hands over the same
//! pattern in the same 64 KiB slices, each stack through its best call for it, and both
//! sinks copy every byte out of the stack into a 64 KiB buffer and compare it with the
//! pattern. smoltcp's socket owns its ring, so `send_slice` copies the slice in; sansnet's
//! `Host::send_shared` keeps a reference to the pattern's buffer until the bytes are
//! acknowledged and copies each segment's payload from there into its frame
//! (`BULK_SEND_COPY=1` makes sansnet copy with `send` instead). Each segment's payload is
//! copied into its frame once on both sides. The link allocates nothing per frame
//! (slots from a pool filled before the clock starts; the printout says if it ever grew),
//! hands every frame over at its arrival instant, in the order sent, and at each instant a
//! node takes all its due frames, runs its application once, then sends. Loss: 1% of the
//! frames each way (data, ACKs, handshake alike), drawn from one seeded stream per
//! direction, the same streams for both stacks; the simulator's own loss model for
//! `sansnet_sim`.
//!
//! Printed first: per condition, medians of 5 interleaved rounds with min and max, the
//! ratio sansnet/smoltcp per round (median, min, max), frames per MiB of payload, pure ACKs
//! per data segment, wall nanoseconds per frame, and the load average. Then criterion's
//! estimates of the same transfers. `BULK_BUFFERS=262144` runs it all with other socket
//! buffers (a smaller working set: see the constant `BUFFERS`); `BULK_RATE_MBPS=10000` puts
//! a serialiser of that rate on every link, here and in the simulator, so that a window
//! leaves as a stream of frames rather than one burst at one instant (a diagnosis of where
//! the time goes; the condition is the unlimited link).
// A benchmark measures wall-clock time; the stack and simulator never read it.
#![allow(clippy::disallowed_methods)]

#[path = "support/mod.rs"]
mod support;

use std::time::Instant as WallInstant;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use sansnet_sim::{Direction, Duration, LinkFaults, LossModel, Probability};
use support::vlink::{self, Counts};
use support::{pair_tuned, run_transfer, HostApp, Stack};

const ONE_WAY: Duration = Duration::from_micros(100);
/// Socket buffers each way; `BULK_BUFFERS=bytes` sets another size (the working set: with
/// 1 MiB, sansnet keeps its whole window in flight, where smoltcp keeps a fraction).
const BUFFERS: usize = 1 << 20;

fn buffers() -> usize {
    std::env::var("BULK_BUFFERS").map_or(BUFFERS, |v| v.parse().expect("BULK_BUFFERS=bytes"))
}
const TIMESTAMPS: bool = false;
const CLEAN_BYTES: u64 = 64 << 20;
const LOSSY_BYTES: u64 = 32 << 20;
const ROUNDS: usize = 5;

fn faults(loss_pct: u32) -> LinkFaults {
    let mut f = LinkFaults::with_latency(ONE_WAY);
    if loss_pct > 0 {
        f.loss = LossModel::Independent {
            rate: Probability::percent(loss_pct),
        };
    }
    let rate = vlink::rate_bps();
    if rate != 0 {
        // As on the virtual link: a serialiser at the rate, and no queue limit to drop at.
        f.bandwidth_bps = Some(rate);
        f.queue_limit_bytes = 1 << 40;
    }
    f
}

/// One transfer's figures.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    wall: f64,
    /// On-CPU seconds of the bench thread (NaN if the kernel does not say).
    cpu: f64,
    /// Both directions.
    counts: Counts,
    /// Pure ACKs from the sink (sansnet_sim: every segment the sink sent).
    acks: u64,
    /// Data segments from the sender (sansnet_sim: every segment the sender sent).
    data: u64,
    steps: u64,
    virt: Duration,
    slots_grown: u64,
}

fn over_link(smoltcp: bool, total: u64, loss_pct: u32, seed: u64) -> Run {
    let (wall, cpu, steps, virt, link) = vlink::transfer(
        smoltcp,
        total,
        u64::try_from(ONE_WAY.as_nanos()).unwrap(),
        u64::from(loss_pct) * 10_000,
        seed,
        buffers(),
        TIMESTAMPS,
    );
    let mut counts = link.ab.counts;
    counts.add(&link.ba.counts);
    Run {
        wall,
        cpu,
        counts,
        acks: link.ba.counts.pure_acks,
        data: link.ab.counts.data_segments,
        steps,
        virt: Duration::from_nanos(virt),
        slots_grown: link.ab.slots_grown + link.ba.slots_grown,
    }
}

fn in_sim(total: u64, loss_pct: u32, seed: u64) -> Run {
    let (mut sim, a, b, link) = pair_tuned(
        Stack::Sansnet,
        seed,
        total,
        faults(loss_pct),
        Some(buffers()),
        TIMESTAMPS,
    );
    let cpu0 = vlink::thread_cpu_ns();
    let start = WallInstant::now();
    let steps0 = sim.steps();
    let virt = run_transfer(&mut sim, Stack::Sansnet, b, total);
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, vlink::thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => f64::NAN,
    };
    let out = |sim: &mut sansnet_sim::Sim, n| {
        sim.with_node::<HostApp, _>(n, |h, _| h.host.counters().tcp.segments_out)
            .expect("node is up")
    };
    let (data, acks) = (out(&mut sim, a), out(&mut sim, b));
    let (ab, ba) = (
        sim.link_counters(link, Direction::AToB),
        sim.link_counters(link, Direction::BToA),
    );
    Run {
        wall,
        cpu,
        counts: Counts {
            frames: ab.offered + ba.offered,
            lost: ab.lost + ba.lost,
            ..Counts::default()
        },
        acks,
        data,
        steps: sim.steps() - steps0,
        virt,
        slots_grown: 0,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `BULK_PROFILE=smoltcp|sansnet|sim[:loss_pct]` runs that one transfer 20 times and
/// nothing else, for `perf record` (see ci/profile).
fn profile_only() -> bool {
    let Ok(what) = std::env::var("BULK_PROFILE") else {
        return false;
    };
    let (stack, loss) = what.split_once(':').unwrap_or((what.as_str(), "0"));
    let loss: u32 = loss.parse().expect("BULK_PROFILE=stack:loss_pct");
    let total = if loss == 0 { CLEAN_BYTES } else { LOSSY_BYTES };
    let rounds: u64 =
        std::env::var("BULK_ROUNDS").map_or(20, |r| r.parse().expect("BULK_ROUNDS=n"));
    for round in 0..rounds {
        match stack {
            "smoltcp" => over_link(true, total, loss, 1000 + round),
            "sansnet" => over_link(false, total, loss, 1000 + round),
            "sim" => in_sim(total, loss, 1000 + round),
            other => panic!("BULK_PROFILE: no stack {other:?} (smoltcp, sansnet, sim)"),
        };
    }
    true
}

fn report(c: &mut Criterion) {
    if profile_only() {
        return;
    }
    let mib = |x: f64| x / f64::from(1u32 << 20);
    println!(
        "bulk: {} us one-way, no bandwidth limit, buffers {} KiB each way, MSS 1460, \
         timestamps {}, both sinks check every byte; medians of {ROUNDS} interleaved rounds \
         [min, max]; load average at start {}",
        ONE_WAY.as_micros(),
        buffers() >> 10,
        if TIMESTAMPS { "on" } else { "off" },
        loadavg()
    );
    for (label, loss, total) in [("clean", 0, CLEAN_BYTES), ("loss_1pct", 1, LOSSY_BYTES)] {
        let mut runs: [Vec<Run>; 3] = Default::default();
        for round in 0..ROUNDS {
            let seed = 1000 + round as u64;
            // Interleaved, and the order turned each round, so that noise from the machine
            // falls on all three alike.
            for k in 0..3 {
                let which = (k + round) % 3;
                let r = match which {
                    0 => over_link(true, total, loss, seed),
                    1 => over_link(false, total, loss, seed),
                    _ => in_sim(total, loss, seed),
                };
                runs[which].push(r);
            }
        }
        println!("bulk/{label}: {} MiB, {}% loss each way", total >> 20, loss);
        println!(
            "  {:<12} {:>20} {:>20} {:>10} {:>8} {:>8} {:>6} {:>7} {:>9} {:>8}",
            "stack",
            "wall MiB/s [min,max]",
            "CPU MiB/s [min,max]",
            "frames/MiB",
            "ACKs/seg",
            "ns/frame",
            "lost",
            "steps",
            "virt ms",
            "rexmit %"
        );
        let names = ["smoltcp 0.14", "sansnet", "sansnet_sim"];
        let mut rates: [Vec<f64>; 3] = Default::default();
        let mut cpu_rates: [Vec<f64>; 3] = Default::default();
        for (i, rs) in runs.iter().enumerate() {
            rates[i] = rs.iter().map(|r| total as f64 / r.wall).collect();
            cpu_rates[i] = rs.iter().map(|r| total as f64 / r.cpu).collect();
            let (lo, hi) = spread(&rates[i]);
            let (clo, chi) = spread(&cpu_rates[i]);
            let m = |f: &dyn Fn(&Run) -> f64| median(&rs.iter().map(f).collect::<Vec<_>>());
            let frames_per_mib = m(&|r| r.counts.frames as f64 / mib(total as f64));
            let acks_per_seg = m(&|r| r.acks as f64 / r.data.max(1) as f64);
            // Per frame on the CPU: what the stack, its driver and the application cost.
            let ns_per_frame = m(&|r| r.cpu * 1e9 / r.counts.frames as f64);
            let rexmit = if i < 2 {
                format!(
                    "{:.2}",
                    m(&|r| (r.counts.payload_bytes as f64 / total as f64 - 1.0) * 100.0)
                )
            } else {
                "-".into()
            };
            println!(
                "  {:<12} {:>6.0} [{:>5.0},{:>5.0}] {:>6.0} [{:>5.0},{:>5.0}] {:>10.0} {:>8.3} {:>8.0} {:>6.0} {:>7.0} {:>9.1} {:>8}",
                names[i],
                mib(median(&rates[i])),
                mib(lo),
                mib(hi),
                mib(median(&cpu_rates[i])),
                mib(clo),
                mib(chi),
                frames_per_mib,
                acks_per_seg,
                ns_per_frame,
                m(&|r| r.counts.lost as f64),
                m(&|r| r.steps as f64),
                m(&|r| r.virt.as_secs_f64() * 1e3),
                rexmit
            );
            let grown: u64 = rs.iter().map(|r| r.slots_grown).sum();
            assert_eq!(
                grown, 0,
                "the link allocated slots while timed: not a fair run"
            );
        }
        let ratio = |v: &[Vec<f64>; 3], x: usize, y: usize| -> Vec<f64> {
            v[x].iter().zip(&v[y]).map(|(a, b)| a / b).collect()
        };
        for (what, x, y) in [
            ("sansnet/smoltcp", 1, 0),
            ("sansnet_sim/smoltcp", 2, 0),
            ("sansnet_sim/sansnet", 2, 1),
        ] {
            let (w, c) = (ratio(&rates, x, y), ratio(&cpu_rates, x, y));
            let ((wlo, whi), (clo, chi)) = (spread(&w), spread(&c));
            println!(
                "  ratio {what:<20} wall {:.2} [{wlo:.2}, {whi:.2}], CPU {:.2} [{clo:.2}, {chi:.2}] \
                 (per round)",
                median(&w),
                median(&c)
            );
        }
    }
    println!("bulk: load average at end {}", loadavg());

    let mut g = c.benchmark_group("bulk_100us");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(std::time::Duration::from_secs(5));
    for (label, loss, total) in [("clean", 0, CLEAN_BYTES), ("loss_1pct", 1, LOSSY_BYTES)] {
        g.throughput(Throughput::Bytes(total));
        g.bench_function(format!("smoltcp/{label}"), |b| {
            b.iter(|| over_link(true, total, loss, 7))
        });
        g.bench_function(format!("sansnet/{label}"), |b| {
            b.iter(|| over_link(false, total, loss, 7))
        });
        g.bench_function(format!("sansnet_sim/{label}"), |b| {
            b.iter(|| in_sim(total, loss, 7))
        });
    }
    g.finish();
}

criterion_group!(bulk, report);
criterion_main!(bulk);
