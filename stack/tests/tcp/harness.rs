//! Two TCP engines joined by an in-memory pipe, driven in virtual time.
//!
//! Segments travel as bytes: each one is emitted through the wire layer (checksum and all)
//! and parsed back on arrival, so the pipe also exercises `wire::tcp`. A `Fault` function
//! decides per segment whether it is dropped, duplicated or delayed.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use sansnet_stack::tcp::{Config, Connection, Event, State};
use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::tcp::{Packet, Repr};
use sansnet_stack::wire::ChecksumMode;

pub const A_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
pub const B_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// What happens to one segment in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Deliver,
    Drop,
    Duplicate,
    /// Delivered after this many later segments (reordering).
    Delay(u8),
}

/// Decides each segment's fate from its number, its sender and its contents.
pub type FateFn = Box<dyn FnMut(u64, Side, &Repr<'_>) -> Fate>;

pub struct InFlight {
    pub to: Side,
    pub bytes: Vec<u8>,
    pub arrive_at: Instant,
}

pub struct Pair {
    pub a: Connection,
    pub b: Connection,
    pub now: Instant,
    /// One-way latency of the pipe.
    pub latency: Duration,
    pub in_flight: VecDeque<InFlight>,
    pub sent: Vec<(Side, String)>,
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    pub segments: u64,
    fate: FateFn,
    buf: Vec<u8>,
    /// Keep a printable log of every segment (costly: off for long runs).
    pub log: bool,
    /// From this instant on, every segment is delivered: the network has healed.
    pub heal_at: Instant,
}

pub fn emit(repr: &Repr<'_>, from: SocketAddrV4, to: SocketAddrV4) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    repr.emit(&mut packet, *from.ip(), *to.ip());
    bytes
}

pub fn parse(bytes: &[u8], from: SocketAddrV4, to: SocketAddrV4) -> Repr<'_> {
    let packet = Packet::new_checked(bytes).expect("engine emitted a valid header");
    Repr::parse(&packet, *from.ip(), *to.ip(), ChecksumMode::Verify)
        .expect("engine emitted a valid segment")
}

pub fn describe(r: &Repr<'_>) -> String {
    format!(
        "{:?} seq={} ack={} win={} len={}{}{}{}",
        r.flags,
        r.seq_number,
        r.ack_number,
        r.window_len,
        r.payload.len(),
        r.max_seg_size
            .map(|m| format!(" mss={m}"))
            .unwrap_or_default(),
        if r.sack_ranges.is_empty() {
            String::new()
        } else {
            format!(" sack={:?}", r.sack_ranges.as_slice())
        },
        r.timestamp
            .map(|t| format!(" ts={}/{}", t.tsval, t.tsecr))
            .unwrap_or_default(),
    )
}

impl Pair {
    /// A connects to B (listening), with the given configs; nothing has run yet.
    pub fn new(cfg_a: Config, cfg_b: Config) -> Pair {
        let now = Instant::from_secs(1);
        let a = Connection::connect(now, cfg_a, A_ADDR, B_ADDR);
        let mut b = Connection::listen(now, cfg_b, B_ADDR);
        b.set_remote(A_ADDR);
        Pair {
            a,
            b,
            now,
            latency: Duration::from_millis(10),
            in_flight: VecDeque::new(),
            sent: Vec::new(),
            events_a: Vec::new(),
            events_b: Vec::new(),
            segments: 0,
            fate: Box::new(|_, _, _| Fate::Deliver),
            buf: vec![0u8; 65536],
            log: true,
            heal_at: Instant::MAX,
        }
    }

    pub fn with_fate(mut self, f: impl FnMut(u64, Side, &Repr<'_>) -> Fate + 'static) -> Pair {
        self.fate = Box::new(f);
        self
    }

    pub fn conn(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Drains both engines' transmit queues into the pipe.
    pub fn flush(&mut self) {
        for side in [Side::A, Side::B] {
            loop {
                let now = self.now;
                let (conn, from, to, other) = match side {
                    Side::A => (&mut self.a, A_ADDR, B_ADDR, Side::B),
                    Side::B => (&mut self.b, B_ADDR, A_ADDR, Side::A),
                };
                let Some(repr) = conn.poll_transmit(now, &mut self.buf) else {
                    break;
                };
                let bytes = emit(&repr, from, to);
                self.segments += 1;
                if self.log {
                    self.sent.push((side, describe(&repr)));
                }
                let fate = if now >= self.heal_at {
                    Fate::Deliver
                } else {
                    (self.fate)(self.segments, side, &repr)
                };
                let arrive_at = now + self.latency;
                match fate {
                    Fate::Deliver => self.in_flight.push_back(InFlight {
                        to: other,
                        bytes,
                        arrive_at,
                    }),
                    Fate::Drop => {}
                    Fate::Duplicate => {
                        self.in_flight.push_back(InFlight {
                            to: other,
                            bytes: bytes.clone(),
                            arrive_at,
                        });
                        self.in_flight.push_back(InFlight {
                            to: other,
                            bytes,
                            arrive_at,
                        });
                    }
                    Fate::Delay(n) => {
                        let later = arrive_at + self.latency * u32::from(n);
                        self.in_flight.push_back(InFlight {
                            to: other,
                            bytes,
                            arrive_at: later,
                        });
                    }
                }
            }
            let (conn, events) = match side {
                Side::A => (&mut self.a, &mut self.events_a),
                Side::B => (&mut self.b, &mut self.events_b),
            };
            while let Some(ev) = conn.poll_event() {
                events.push(ev);
            }
        }
    }

    /// Advances to the next arrival or timer and processes it. Returns false when nothing is
    /// left to do.
    pub fn step(&mut self) -> bool {
        self.flush();
        let next_arrival = self.in_flight.iter().map(|f| f.arrive_at).min();
        let next_timer = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = [next_arrival, next_timer].into_iter().flatten().min() else {
            return false;
        };
        self.now = self.now.max(next);
        // Deliver everything due, in send order.
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].arrive_at <= self.now {
                let f = self.in_flight.remove(i).unwrap();
                let (conn, from, to) = match f.to {
                    Side::A => (&mut self.a, B_ADDR, A_ADDR),
                    Side::B => (&mut self.b, A_ADDR, B_ADDR),
                };
                let repr = parse(&f.bytes, from, to);
                conn.handle_segment(self.now, &repr);
            } else {
                i += 1;
            }
        }
        let now = self.now;
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
        self.flush();
        true
    }

    /// Steps until `cond` holds, at most `max_steps` steps; panics with the log otherwise.
    pub fn run_until(&mut self, max_steps: usize, mut cond: impl FnMut(&mut Pair) -> bool) {
        for _ in 0..max_steps {
            if cond(self) {
                return;
            }
            if !self.step() {
                break;
            }
        }
        if !cond(self) {
            panic!(
                "condition not reached at {}; a={:?} b={:?}\nlast segments:\n{}",
                self.now,
                self.a,
                self.b,
                self.tail_log(30)
            );
        }
    }

    pub fn tail_log(&self, n: usize) -> String {
        let start = self.sent.len().saturating_sub(n);
        self.sent[start..]
            .iter()
            .map(|(s, d)| format!("  {s:?} {d}\n"))
            .collect()
    }

    pub fn establish(&mut self) {
        self.run_until(100, |p| {
            p.a.state() == State::Established && p.b.state() == State::Established
        });
    }

    /// Moves bytes through: A writes `data`, B reads until it has them all. Returns what B read.
    pub fn transfer(&mut self, from: Side, data: &[u8], max_steps: usize) -> Vec<u8> {
        let to = if from == Side::A { Side::B } else { Side::A };
        let mut written = 0;
        let mut received = Vec::with_capacity(data.len());
        let mut chunk = vec![0u8; 65536];
        for _ in 0..max_steps {
            if written < data.len() {
                if let Ok(n) = self.conn(from).send(&data[written..]) {
                    written += n;
                }
            }
            while let Ok(n) = self.conn(to).recv(&mut chunk) {
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&chunk[..n]);
            }
            if received.len() == data.len() {
                return received;
            }
            if !self.step() {
                break;
            }
        }
        panic!(
            "transfer stalled at {}: written {written}, received {}/{}; a={:?} b={:?}\n{}",
            self.now,
            received.len(),
            data.len(),
            self.a,
            self.b,
            self.tail_log(40)
        );
    }
}
