//! Goodput under random loss at a short RTT, engine against engine, in virtual time.
//!
//! A small event loop (arrivals ordered by time, then by send order; each segment handed
//! to its engine alone and that engine drained after it, as the simulator does) with a
//! seeded xorshift drawing the losses. `cargo test -p sansnet-stack --test tcp goodput --
//! --nocapture` prints the figures; the tests assert floors well under them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sansnet_stack::tcp::{Config, Connection, Stats};
use sansnet_stack::time::{Duration, Instant};

use super::harness::{emit, parse, A_ADDR, B_ADDR};

pub struct Outcome {
    pub goodput_bps: f64,
    pub mathis_ratio: f64,
    pub sender: Stats,
}

/// Segments in flight: (arrival, send order, destination, bytes), earliest first.
type Pipe = BinaryHeap<Reverse<(Instant, u64, usize, Vec<u8>)>>;

struct Rng(u64);

impl Rng {
    fn chance(&mut self, per_mille: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 1000 < per_mille
    }
}

/// Bulk from A to B over a pipe of one-way `latency` that loses `loss_per_mille` of the
/// segments A sends (and of B's, if `both`), measured from `warmup` to `warmup + span`.
pub fn bulk_goodput(
    cfg: Config,
    latency: Duration,
    loss_per_mille: u64,
    both: bool,
    warmup: Duration,
    span: Duration,
    seed: u64,
) -> Outcome {
    let start = Instant::from_secs(1);
    let mut conns = [
        Connection::connect(start, cfg.clone(), A_ADDR, B_ADDR),
        Connection::listen(start, cfg, B_ADDR),
    ];
    conns[1].set_remote(A_ADDR);
    let addrs = [A_ADDR, B_ADDR];
    let mut rng = Rng(seed | 1);
    let mut queue: Pipe = BinaryHeap::new();
    let mut order = 0u64;
    let mut buf = vec![0u8; 65536];
    let chunk = vec![0x5au8; 65536];
    let mut sink = vec![0u8; 1 << 20];
    let mut received = 0u64;
    let mut now = start;
    let (from, to) = (start + warmup, start + warmup + span);
    let mut at_from = None;
    // Drains engine `i` into the pipe and lets both applications run.
    let mut drain = |i: usize,
                     now: Instant,
                     conns: &mut [Connection; 2],
                     queue: &mut Pipe,
                     received: &mut u64| {
        while conns[0].send(&chunk).is_ok_and(|n| n > 0) {}
        while let Ok(n) = conns[1].recv(&mut sink) {
            if n == 0 {
                break;
            }
            *received += n as u64;
        }
        for j in [i, 1 - i] {
            while let Some(repr) = conns[j].poll_transmit(now, &mut buf) {
                let lossy = j == 0 || both;
                if lossy && rng.chance(loss_per_mille) {
                    continue;
                }
                order += 1;
                let bytes = emit(&repr, addrs[j], addrs[1 - j]);
                queue.push(Reverse((now + latency, order, 1 - j, bytes)));
            }
        }
    };
    drain(0, now, &mut conns, &mut queue, &mut received);
    while now < to {
        let next_arrival = queue.peek().map(|Reverse((t, ..))| *t);
        let next_timer = conns.iter().filter_map(|c| c.poll_timeout()).min();
        let Some(next) = [next_arrival, next_timer].into_iter().flatten().min() else {
            break;
        };
        if at_from.is_none() && next >= from {
            at_from = Some(received);
        }
        now = next.max(now);
        if next_arrival == Some(next) {
            let Reverse((_, _, dst, bytes)) = queue.pop().unwrap();
            let repr = parse(&bytes, addrs[1 - dst], addrs[dst]);
            conns[dst].handle_segment(now, &repr);
            drain(dst, now, &mut conns, &mut queue, &mut received);
        } else {
            for i in 0..2 {
                if conns[i].poll_timeout().is_some_and(|t| t <= now) {
                    conns[i].handle_timeout(now);
                    drain(i, now, &mut conns, &mut queue, &mut received);
                }
            }
        }
    }
    let goodput_bps = (received - at_from.unwrap_or(0)) as f64 * 8.0 / span.as_secs_f64();
    let rtt = (latency * 2).as_secs_f64();
    let p = loss_per_mille as f64 / 1000.0;
    let mathis = 1448.0 * 8.0 / rtt * 1.22 / p.sqrt();
    Outcome {
        goodput_bps,
        mathis_ratio: goodput_bps / mathis,
        sender: conns[0].stats().clone(),
    }
}

fn report(name: &str, o: &Outcome) {
    let s = &o.sender;
    println!(
        "{name}: goodput {:.1} Mbit/s = {:.3} of Mathis; RTOs {}, fast recoveries {}, \
         tail loss probes {}, lost retransmissions {}, retransmitted {} of {} segments",
        o.goodput_bps / 1e6,
        o.mathis_ratio,
        s.rto_expirations,
        s.fast_recoveries,
        s.tlp_probes_sent,
        s.lost_retransmissions,
        s.retransmitted_segments,
        s.segments_sent,
    );
}

fn run(cfg: Config, both: bool) -> Outcome {
    bulk_goodput(
        cfg,
        Duration::from_micros(100),
        10,
        both,
        Duration::from_millis(500),
        Duration::from_secs(2),
        7,
    )
}

fn baseline() -> Config {
    Config {
        tlp: false,
        rack: false,
        abc_limit_segments: 1,
        ..Config::default()
    }
}

/// Issue 5: at 200 us RTT a 200 ms minimum RTO is a thousand round trips, so every loss
/// that only the RTO repairs costs more than everything else. With TLP, RACK-style
/// detection of lost retransmissions and ABC, the RTO almost never fires.
#[test]
fn goodput_200us_rtt_one_percent_loss_on_data() {
    let base = run(baseline(), false);
    report("200 us, 1% data loss, RFC 5681/6675/6298 only", &base);
    let o = run(Config::default(), false);
    report("200 us, 1% data loss, default (TLP, RACK, ABC)", &o);
    assert!(o.mathis_ratio >= 0.7, "{:.3} of Mathis", o.mathis_ratio);
    assert!(o.mathis_ratio > base.mathis_ratio * 1.5);
    assert!(o.sender.rto_expirations <= 2, "{:?}", o.sender);
}

#[test]
fn goodput_200us_rtt_one_percent_loss_both_ways() {
    let base = run(baseline(), true);
    report("200 us, 1% loss both ways, RFC 5681/6675/6298 only", &base);
    let o = run(Config::default(), true);
    report("200 us, 1% loss both ways, default (TLP, RACK, ABC)", &o);
    assert!(o.mathis_ratio >= 0.7, "{:.3} of Mathis", o.mathis_ratio);
    assert!(o.sender.rto_expirations <= 2, "{:?}", o.sender);
}
