//! `tcp_pair`: two TCP engines ([`Connection`]) joined by a network the input controls.
//!
//! The input picks both engines' configurations, how they open (client and listener, or a
//! simultaneous open), how much each side sends, how the applications read and close, and
//! then one [`Fate`] per segment: delivered, dropped, duplicated, delayed (which reorders),
//! truncated (with the checksum fixed, as a segmenting middlebox would, or not) or one bit
//! corrupted. Segments travel as bytes through [`wire::tcp`](crate::wire::tcp), checksums
//! and all. Once the fates run out, or [`FAULTY_FOR`] after the start, the network is clean.
//!
//! Checked on every step:
//! - **integrity**: what each application reads is the peer's byte pattern from the offset
//!   it has reached: a prefix of what was sent, never a wrong byte, never out of order, no
//!   end of stream before the last byte; every payload byte a sender puts on the wire is
//!   the pattern at its sequence number;
//! - **the wire**: every segment parses back with its checksum verified; one flipped bit
//!   never verifies; no segment carries more than the peer's MSS;
//! - **accounting** (accessor-level invariants): once synchronized, `RCV.NXT - IRS` is
//!   one (the SYN) plus the bytes read plus the bytes waiting plus one once the FIN is in;
//!   `SND.UNA - ISS` is one plus the bytes written and no longer queued plus one once our
//!   FIN is acknowledged; `SND.UNA <= SND.NXT <= SND.UNA + queued + 1`; queues within their
//!   buffers; the RTO within its bounds;
//! - **timers**: after a step, no engine's `poll_timeout` is at or before `now`.
//!
//! And at the end, after the network turned clean and enough simulated time passed
//! ([`COMPLETION_TIME`]): both transfers complete (every byte read, then end of stream) and
//! both engines reach CLOSED without an error.
//!
//! What it found, each kept as a regression input in `stack/tests/fuzz_state_corpus.rs`: a
//! FIN behind text that a zero window dropped was taken (the stream ended without that
//! text); and after an RTO an engine sent its pure ACKs from its rolled-back SND.NXT, below
//! what the peer already held, so the peer dropped them unread (acknowledgment and window
//! with them) and two such engines answered each other's old ACKs until R2 ended the
//! connection. Pure ACKs now go at SND.MAX (`Connection::pure_ack_seq`).

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use arbitrary::{Arbitrary, Unstructured};

use crate::hash::SecretKey;
use crate::tcp::{Config, CongestionAlgorithm, Connection, Error, State};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{Packet, Repr, TcpFlags};
use crate::wire::ChecksumMode;

const A_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
const B_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

/// When the run starts.
const START: Instant = Instant::from_secs(1);
/// The network obeys the fates for at most this long after the start, then is clean: a
/// network that loses everything for longer than R2 (100 s) rightly kills a connection.
pub const FAULTY_FOR: Duration = Duration::from_secs(20);
/// How long after the network turned clean both transfers must be complete: enough for an
/// RTO backed off during the faulty period (at most 32 s there), a reader's pause, a
/// persist timer, and slow start over the rest.
pub const COMPLETION_TIME: Duration = Duration::from_secs(300);
/// How long after completion both engines must be CLOSED (TIME-WAIT is 2 MSL = 60 s).
pub const CLOSE_TIME: Duration = Duration::from_secs(300);
/// Steps (deliveries, timer firings) one input may take: a livelock fails here.
const MAX_STEPS: u64 = 300_000;

/// One engine's configuration, as the input picks it.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct EngineChoice {
    /// Offer timestamps.
    pub timestamps: bool,
    /// Offer SACK.
    pub sack: bool,
    /// Offer window scaling.
    pub window_scaling: bool,
    /// Nagle's algorithm.
    pub nagle: bool,
    /// Delayed ACKs.
    pub delayed_ack: bool,
    /// CUBIC rather than NewReno.
    pub cubic: bool,
    /// Tail loss probes.
    pub tlp: bool,
    /// RACK-style loss inference.
    pub rack: bool,
    /// ABC limit of 1 SMSS rather than 2.
    pub abc_one: bool,
    /// Buffer sizes: an index into [`BUFFERS`].
    pub buffer: u8,
    /// The MSS we announce: an index into [`MSS`].
    pub mss: u8,
    /// Initial window in segments: an index into [`INITIAL_WINDOWS`].
    pub initial_window: u8,
}

/// Send and receive buffer sizes an engine may get (the smallest is below one MSS).
pub const BUFFERS: [usize; 5] = [1024, 4096, 16 * 1024, 64 * 1024, 256 * 1024];
/// MSS values an engine may announce.
pub const MSS: [u16; 4] = [256, 536, 1000, 1460];
/// Initial windows an engine may start with.
pub const INITIAL_WINDOWS: [u32; 3] = [1, 4, 10];

impl EngineChoice {
    /// The defaults: everything on, 64 KiB buffers, MSS 1460, IW10.
    pub const DEFAULT: EngineChoice = EngineChoice {
        timestamps: true,
        sack: true,
        window_scaling: true,
        nagle: true,
        delayed_ack: true,
        cubic: false,
        tlp: true,
        rack: true,
        abc_one: false,
        buffer: 3,
        mss: 3,
        initial_window: 2,
    };

    fn config(&self, secret: u8) -> Config {
        let buffer = BUFFERS[usize::from(self.buffer) % BUFFERS.len()];
        Config {
            timestamps: self.timestamps,
            sack: self.sack,
            window_scaling: self.window_scaling,
            nagle: self.nagle,
            delayed_ack: self.delayed_ack,
            congestion: if self.cubic {
                CongestionAlgorithm::Cubic
            } else {
                CongestionAlgorithm::NewReno
            },
            tlp: self.tlp,
            rack: self.rack,
            abc_limit_segments: if self.abc_one { 1 } else { 2 },
            send_buffer_bytes: buffer,
            recv_buffer_bytes: buffer,
            reassembly_ranges: buffer / 2920 + 4,
            mss: MSS[usize::from(self.mss) % MSS.len()],
            initial_window_segments: INITIAL_WINDOWS
                [usize::from(self.initial_window) % INITIAL_WINDOWS.len()],
            secret: SecretKey([secret; 16]),
            ..Config::default()
        }
    }
}

/// How an application ends its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum CloseMode {
    /// `shutdown_write` as soon as everything is written.
    HalfClose,
    /// `close` once everything is written and the peer's end of stream was read.
    CloseAfterEof,
}

/// What one application does.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct AppChoice {
    /// Bytes it sends.
    pub send_len: u16,
    /// Largest write, less one (modulo 16 KiB).
    pub write_chunk: u16,
    /// Largest read, less one (modulo 16 KiB).
    pub read_chunk: u16,
    /// Milliseconds (modulo 10 s) before it starts reading.
    pub read_pause_ms: u16,
    /// How it closes.
    pub close: CloseMode,
}

impl AppChoice {
    fn write_chunk(&self) -> usize {
        usize::from(self.write_chunk) % 16384 + 1
    }
    fn read_chunk(&self) -> usize {
        usize::from(self.read_chunk) % 16384 + 1
    }
    fn read_pause(&self) -> Duration {
        Duration::from_millis(u64::from(self.read_pause_ms % 10_000))
    }
}

/// What the network does to one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered after the base latency.
    Deliver,
    /// Lost.
    Drop,
    /// Delivered, and a copy this many 10 ms later.
    Duplicate(u8),
    /// Delivered this many 10 ms late (later segments overtake it).
    Delay(u8),
    /// The payload cut to `keep` bytes (modulo its length). With `fix_checksum`, the
    /// segment is re-emitted as a middlebox that splits segments would (FIN cleared when
    /// data is cut); without, the bytes are cut and the checksum must catch it.
    Truncate {
        /// Payload bytes kept, modulo the payload's length.
        keep: u16,
        /// Re-emit with a right checksum.
        fix_checksum: bool,
    },
    /// One bit flipped (modulo the segment's length in bits): the checksum must catch it.
    Corrupt(u16),
}

impl<'a> Arbitrary<'a> for Fate {
    /// Half the byte values deliver, so that random inputs still move data.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Fate> {
        Ok(match u.arbitrary::<u8>()? {
            0..=127 => Fate::Deliver,
            128..=167 => Fate::Drop,
            168..=191 => Fate::Delay(u.arbitrary()?),
            192..=207 => Fate::Duplicate(u.arbitrary()?),
            208..=231 => Fate::Truncate {
                keep: u.arbitrary()?,
                fix_checksum: u.arbitrary()?,
            },
            _ => Fate::Corrupt(u.arbitrary()?),
        })
    }
}

/// A whole `tcp_pair` run.
#[derive(Debug, Clone)]
pub struct PairInput {
    /// The connecting side's engine.
    pub a: EngineChoice,
    /// The listening side's engine.
    pub b: EngineChoice,
    /// Both sides connect (RFC 9293 simultaneous open) instead of B listening.
    pub simultaneous_open: bool,
    /// One-way latency in milliseconds, less one (modulo 64).
    pub latency_ms: u8,
    /// A's application.
    pub app_a: AppChoice,
    /// B's application.
    pub app_b: AppChoice,
    /// One fate per segment, in the order they are sent (both directions).
    pub fates: Vec<Fate>,
}

impl<'a> Arbitrary<'a> for PairInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<PairInput> {
        let mut input = PairInput {
            a: u.arbitrary()?,
            b: u.arbitrary()?,
            simultaneous_open: u.arbitrary()?,
            latency_ms: u.arbitrary()?,
            app_a: u.arbitrary()?,
            app_b: u.arbitrary()?,
            fates: Vec::new(),
        };
        while !u.is_empty() && input.fates.len() < MAX_FATES {
            input.fates.push(u.arbitrary()?);
        }
        Ok(input)
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<PairInput> {
        Self::arbitrary(&mut u)
    }
}

/// Fates read from one input at most.
const MAX_FATES: usize = 4096;

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

/// The stream a side sends, `len` bytes: each byte the low byte of its offset mixed with
/// the next one, so that data moved by any distance below 64 KiB differs somewhere.
fn pattern(side: Side, len: usize) -> Rc<[u8]> {
    let salt = if side == Side::A { 0x00 } else { 0x5a };
    (0..len)
        .map(|offset| (offset as u8) ^ ((offset >> 8) as u8).wrapping_mul(157) ^ salt)
        .collect()
}

/// The first offset at which `got` differs from `expected` (same lengths), compared as
/// slices first: byte loops are slow under the fuzzer's comparison tracing.
fn first_difference(got: &[u8], expected: &[u8]) -> Option<usize> {
    if got == expected {
        return None;
    }
    got.iter().zip(expected).position(|(g, e)| g != e)
}

struct Peer {
    side: Side,
    conn: Connection,
    app: AppChoice,
    /// What this side sends, and what the peer sends.
    stream: Rc<[u8]>,
    expect: Rc<[u8]>,
    /// Bytes this side's application sends, and has written so far.
    send_len: usize,
    written: usize,
    /// Bytes the peer sends, and this side has read so far.
    expect_len: usize,
    read: usize,
    eof: bool,
    /// The handshake completed (the application got its connection).
    opened: bool,
    shut: bool,
    closed: bool,
    read_from: Instant,
}

impl Peer {
    fn name(&self) -> &'static str {
        match self.side {
            Side::A => "A",
            Side::B => "B",
        }
    }

    fn other(&self) -> Side {
        match self.side {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn complete(&self) -> bool {
        self.eof && self.read == self.expect_len && self.written == self.send_len
    }

    /// The application's turn, once the connection is open (as after `connect` or
    /// `accept`): write what fits, read what is there, close when done.
    fn app(&mut self, now: Instant, scratch: &mut [u8]) {
        // Once open, what was received stays readable, even after the connection closed.
        self.opened |= self.conn.state().is_synchronized();
        if !self.opened {
            return;
        }
        while self.written < self.send_len && !self.shut {
            let n = self.app.write_chunk().min(self.send_len - self.written);
            match self.conn.send(&self.stream[self.written..self.written + n]) {
                Ok(0) => break,
                Ok(k) => self.written += k,
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    assert!(
                        self.conn.error().is_some() || self.conn.state() == State::Closed,
                        "{}: send failed with {e:?} on a healthy connection in {}",
                        self.name(),
                        self.conn.state()
                    );
                    break;
                }
            }
        }
        if self.written == self.send_len && !self.shut && self.app.close == CloseMode::HalfClose {
            self.shut = true;
            let _ = self.conn.shutdown_write(now);
        }
        if now >= self.read_from && !self.eof {
            loop {
                let chunk = self.app.read_chunk();
                match self.conn.recv(&mut scratch[..chunk]) {
                    Ok(0) => {
                        assert_eq!(
                            self.read,
                            self.expect_len,
                            "{}: end of stream after {} of {} bytes",
                            self.name(),
                            self.read,
                            self.expect_len
                        );
                        self.eof = true;
                        break;
                    }
                    Ok(n) => {
                        assert!(
                            self.read + n <= self.expect_len,
                            "{}: read {} bytes past the {} the peer sent",
                            self.name(),
                            self.read + n - self.expect_len,
                            self.expect_len
                        );
                        let expected = &self.expect[self.read..self.read + n];
                        if let Some(i) = first_difference(&scratch[..n], expected) {
                            panic!(
                                "{}: byte {} of the stream is {:#04x}, expected {:#04x}",
                                self.name(),
                                self.read + i,
                                scratch[i],
                                expected[i]
                            );
                        }
                        self.read += n;
                    }
                    Err(_) => break,
                }
            }
        }
        if self.eof
            && self.written == self.send_len
            && !self.closed
            && self.app.close == CloseMode::CloseAfterEof
        {
            self.closed = true;
            self.shut = true;
            let _ = self.conn.close(now);
        }
    }

    /// The accessor-level invariants of one engine.
    fn check(&self, now: Instant) {
        let c = &self.conn;
        let name = self.name();
        let cfg = c.config();
        assert!(
            c.recv_queue_len() <= cfg.recv_buffer_bytes,
            "{name}: {} bytes waiting in a {}-byte receive buffer",
            c.recv_queue_len(),
            cfg.recv_buffer_bytes
        );
        assert!(
            c.send_queue_len() <= cfg.send_buffer_bytes,
            "{name}: {} bytes queued in a {}-byte send buffer",
            c.send_queue_len(),
            cfg.send_buffer_bytes
        );
        assert!(
            c.rto() >= cfg.rto_min && c.rto() <= cfg.rto_max,
            "{name}: RTO {:?} outside [{:?}, {:?}]",
            c.rto(),
            cfg.rto_min,
            cfg.rto_max
        );
        if let Some(t) = c.poll_timeout() {
            assert!(
                t > now,
                "{name}: poll_timeout {t} is not after now ({now}) in {}",
                c.state()
            );
        }
        let state = c.state();
        if !state.is_synchronized() || c.error().is_some() {
            return;
        }
        // Receive side: RCV.NXT - IRS = SYN + read + waiting + FIN.
        let fin_in = matches!(
            state,
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        );
        let received = c.rcv_nxt().0.wrapping_sub(c.irs().0) as usize;
        let accounted = 1 + self.read + c.recv_queue_len() + usize::from(fin_in);
        assert_eq!(
            received,
            accounted,
            "{name} in {state}: RCV.NXT - IRS is {received}, but 1 + {} read + {} waiting + \
             {} FIN is {accounted}",
            self.read,
            c.recv_queue_len(),
            usize::from(fin_in)
        );
        // Send side: SND.UNA - ISS = SYN + acknowledged bytes + FIN once acknowledged.
        let fin_acked = matches!(state, State::FinWait2 | State::TimeWait);
        let acked_seq = c.snd_una().0.wrapping_sub(c.iss().0) as usize;
        let acked_bytes = self
            .written
            .checked_sub(c.send_queue_len())
            .unwrap_or_else(|| {
                panic!(
                    "{name}: {} bytes queued, {} written",
                    c.send_queue_len(),
                    self.written
                )
            });
        assert_eq!(
            acked_seq,
            1 + acked_bytes + usize::from(fin_acked),
            "{name} in {state}: SND.UNA - ISS is {acked_seq}, but {} written and {} still \
             queued",
            self.written,
            c.send_queue_len()
        );
        let ahead = c.snd_nxt().distance_from(c.snd_una());
        assert!(
            ahead >= 0 && ahead as usize <= c.send_queue_len() + 1,
            "{name} in {state}: SND.NXT is {ahead} past SND.UNA with {} bytes queued",
            c.send_queue_len()
        );
        assert!(
            c.snd_wnd() <= 0xffff << 14,
            "{name}: SND.WND {} cannot be advertised",
            c.snd_wnd()
        );
        assert!(c.cwnd() > 0, "{name}: zero cwnd");
    }
}

struct InFlight {
    at: Instant,
    order: u64,
    to: Side,
    bytes: Vec<u8>,
}

/// The addresses of a segment sent by `side`.
fn addrs(side: Side) -> (SocketAddrV4, SocketAddrV4) {
    match side {
        Side::A => (A_ADDR, B_ADDR),
        Side::B => (B_ADDR, A_ADDR),
    }
}

fn emit(repr: &Repr<'_>, from: SocketAddrV4, to: SocketAddrV4) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Packet::new_unchecked(&mut bytes[..]),
        *from.ip(),
        *to.ip(),
    );
    bytes
}

fn parse(bytes: &[u8], from: SocketAddrV4, to: SocketAddrV4) -> Option<Repr<'_>> {
    let packet = Packet::new_checked(bytes).ok()?;
    Repr::parse(&packet, *from.ip(), *to.ip(), ChecksumMode::Verify).ok()
}

struct Pair<'l> {
    /// Told every segment's fate and every delivery, when the caller asks.
    log: Option<&'l mut dyn FnMut(&str)>,
    now: Instant,
    a: Peer,
    b: Peer,
    latency: Duration,
    fates: Vec<Fate>,
    next_fate: usize,
    /// The network is clean from this instant (or once the fates run out).
    clean_from: Option<Instant>,
    in_flight: Vec<InFlight>,
    order: u64,
    steps: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl<'l> Pair<'l> {
    fn new(input: &PairInput, log: Option<&'l mut dyn FnMut(&str)>) -> Pair<'l> {
        let (cfg_a, cfg_b) = (input.a.config(1), input.b.config(2));
        let now = START;
        let a = Connection::connect(now, cfg_a, A_ADDR, B_ADDR);
        let b = if input.simultaneous_open {
            Connection::connect(now, cfg_b, B_ADDR, A_ADDR)
        } else {
            let mut b = Connection::listen(now, cfg_b, B_ADDR);
            b.set_remote(A_ADDR);
            b
        };
        let (len_a, len_b) = (
            usize::from(input.app_a.send_len),
            usize::from(input.app_b.send_len),
        );
        let mut app_b = input.app_b;
        if input.app_a.close == CloseMode::CloseAfterEof && app_b.close == CloseMode::CloseAfterEof
        {
            // Each would wait for the other's FIN.
            app_b.close = CloseMode::HalfClose;
        }
        let (stream_a, stream_b) = (pattern(Side::A, len_a), pattern(Side::B, len_b));
        let peer = |side, conn, app: AppChoice, send_len, expect_len| Peer {
            side,
            conn,
            stream: if side == Side::A {
                Rc::clone(&stream_a)
            } else {
                Rc::clone(&stream_b)
            },
            expect: if side == Side::A {
                Rc::clone(&stream_b)
            } else {
                Rc::clone(&stream_a)
            },
            read_from: now + app.read_pause(),
            app,
            send_len,
            written: 0,
            expect_len,
            read: 0,
            eof: false,
            opened: false,
            shut: false,
            closed: false,
        };
        Pair {
            log,
            now,
            a: peer(Side::A, a, input.app_a, len_a, len_b),
            b: peer(Side::B, b, app_b, len_b, len_a),
            latency: Duration::from_millis(u64::from(input.latency_ms % 64) + 1),
            fates: input.fates.clone(),
            next_fate: 0,
            clean_from: None,
            in_flight: Vec::new(),
            order: 0,
            steps: 0,
            buf: vec![0u8; 70_000],
            scratch: vec![0u8; 16384],
        }
    }

    fn peer(&mut self, side: Side) -> &mut Peer {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn is_clean(&self) -> bool {
        self.clean_from.is_some_and(|t| self.now >= t)
    }

    fn send(&mut self, to: Side, bytes: Vec<u8>, extra: Duration) {
        let at = self.now + self.latency + extra;
        self.order += 1;
        let flight = InFlight {
            at,
            order: self.order,
            to,
            bytes,
        };
        let pos = self
            .in_flight
            .partition_point(|f| (f.at, f.order) <= (flight.at, flight.order));
        self.in_flight.insert(pos, flight);
    }

    /// Drains both engines' segments into the network.
    fn flush(&mut self) {
        for side in [Side::A, Side::B] {
            let peer_mss = self.peer_mss(side);
            loop {
                let now = self.now;
                let (from, to) = addrs(side);
                let peer = match side {
                    Side::A => &mut self.a,
                    Side::B => &mut self.b,
                };
                let Some(repr) = peer.conn.poll_transmit(now, &mut self.buf) else {
                    break;
                };
                check_segment(peer, &repr, peer_mss);
                let bytes = emit(&repr, from, to);
                let other = peer.other();
                self.route(other, bytes);
            }
            while self.peer(side).conn.poll_event().is_some() {}
        }
    }

    /// The MSS the receiver of `side`'s segments announced.
    fn peer_mss(&self, side: Side) -> usize {
        let other = match side {
            Side::A => &self.b,
            Side::B => &self.a,
        };
        usize::from(other.conn.config().mss)
    }

    /// Sends `bytes` towards `to` through the fate of the next segment.
    fn route(&mut self, to: Side, mut bytes: Vec<u8>) {
        if self.clean_from.is_none()
            && (self.next_fate >= self.fates.len() || self.now >= START + FAULTY_FOR)
        {
            self.clean_from = Some(self.now);
        }
        let fate = if self.is_clean() {
            Fate::Deliver
        } else {
            self.next_fate += 1;
            self.fates[self.next_fate - 1]
        };
        if let Some(log) = self.log.as_mut() {
            let (from, dst) = match to {
                Side::A => (B_ADDR, A_ADDR),
                Side::B => (A_ADDR, B_ADDR),
            };
            if let Some(seg) = parse(&bytes, from, dst) {
                let sender = if to == Side::A { "B" } else { "A" };
                log(&format!(
                    "{} {sender} sends {}: {fate:?}",
                    self.now,
                    describe(&seg)
                ));
            }
        }
        let ten_ms = |n: u8| Duration::from_millis(10 * u64::from(n));
        let (from, dst) = match to {
            Side::A => (B_ADDR, A_ADDR),
            Side::B => (A_ADDR, B_ADDR),
        };
        match fate {
            Fate::Deliver => self.send(to, bytes, Duration::ZERO),
            Fate::Drop => {}
            Fate::Duplicate(n) => {
                self.send(to, bytes.clone(), Duration::ZERO);
                self.send(to, bytes, ten_ms(n));
            }
            Fate::Delay(n) => self.send(to, bytes, ten_ms(n)),
            Fate::Truncate { keep, fix_checksum } => {
                let Some(repr) = parse(&bytes, from, dst) else {
                    return;
                };
                if repr.payload.is_empty() {
                    return self.send(to, bytes, Duration::ZERO);
                }
                let keep = usize::from(keep) % repr.payload.len();
                if fix_checksum {
                    let mut cut = Repr {
                        payload: &repr.payload[..keep],
                        ..repr
                    };
                    // The FIN sits after the last byte: a splitting middlebox keeps it
                    // with the part that ends there.
                    cut.flags = TcpFlags(cut.flags.0 & !TcpFlags::FIN.0);
                    let bytes = emit(&cut, from, dst);
                    self.send(to, bytes, Duration::ZERO);
                } else {
                    let fin = repr.flags.contains(TcpFlags::FIN);
                    let header = bytes.len() - repr.payload.len();
                    bytes.truncate(header + keep);
                    // Cut bytes that happen to sum to zero verify: the segment is then a
                    // shorter one of the same data, fine to deliver unless its FIN would
                    // move.
                    if !fin && parse(&bytes, from, dst).is_some() {
                        self.send(to, bytes, Duration::ZERO);
                    }
                }
            }
            Fate::Corrupt(bit) => {
                let bit = usize::from(bit) % (bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    parse(&bytes, from, dst).is_none(),
                    "a segment with bit {bit} flipped verifies: {bytes:02x?}"
                );
            }
        }
    }

    /// One step: applications, segments out, then the next arrival or timer. False when
    /// nothing is left to happen.
    fn step(&mut self) -> bool {
        let now = self.now;
        self.a.app(now, &mut self.scratch);
        self.b.app(now, &mut self.scratch);
        self.flush();
        self.a.check(now);
        self.b.check(now);
        self.steps += 1;
        let arrival = self.in_flight.first().map(|f| f.at);
        let timers = [self.a.conn.poll_timeout(), self.b.conn.poll_timeout()];
        let reads = [self.a.read_from, self.b.read_from].map(|t| (t > now).then_some(t));
        let Some(next) = [arrival]
            .into_iter()
            .chain(timers)
            .chain(reads)
            .flatten()
            .min()
        else {
            return false;
        };
        self.now = self.now.max(next);
        while self.in_flight.first().is_some_and(|f| f.at <= self.now) {
            let f = self.in_flight.remove(0);
            let (from, to) = addrs(match f.to {
                Side::A => Side::B,
                Side::B => Side::A,
            });
            let now = self.now;
            if let Some(repr) = parse(&f.bytes, from, to) {
                if let Some(log) = self.log.as_mut() {
                    log(&format!("{now} {:?} gets {}", f.to, describe(&repr)));
                }
                self.peer(f.to).conn.handle_segment(now, &repr);
            }
        }
        let now = self.now;
        self.a.conn.handle_timeout(now);
        self.b.conn.handle_timeout(now);
        true
    }

    fn describe(&self) -> String {
        format!(
            "at {}: A {:?} read {}/{} eof {} wrote {}/{} error {:?}; B {:?} read {}/{} eof {} \
             wrote {}/{} error {:?}; {} in flight, {} of {} fates used",
            self.now,
            self.a.conn,
            self.a.read,
            self.a.expect_len,
            self.a.eof,
            self.a.written,
            self.a.send_len,
            self.a.conn.error(),
            self.b.conn,
            self.b.read,
            self.b.expect_len,
            self.b.eof,
            self.b.written,
            self.b.send_len,
            self.b.conn.error(),
            self.in_flight.len(),
            self.next_fate,
            self.fates.len()
        )
    }
}

/// A segment as it leaves `peer`: no more than the MSS the receiver announced, and every
/// payload byte the pattern at its offset.
fn check_segment(peer: &Peer, repr: &Repr<'_>, peer_mss: usize) {
    let name = peer.name();
    assert!(
        repr.payload.len() <= peer_mss,
        "{name} sent {} bytes past the peer's MSS of {peer_mss}",
        repr.payload.len()
    );
    if repr.payload.is_empty() {
        return;
    }
    assert!(
        !repr.flags.contains(TcpFlags::SYN),
        "{name} sent data on a SYN"
    );
    let first = repr.seq_number.distance_from(peer.conn.iss() + 1);
    assert!(
        first >= 0 && first as usize + repr.payload.len() <= peer.written,
        "{name} sent bytes {first}..{} of a stream written up to {}",
        i64::from(first) + repr.payload.len() as i64,
        peer.written
    );
    let first = first as usize;
    let written = &peer.stream[first..first + repr.payload.len()];
    if let Some(i) = first_difference(repr.payload, written) {
        panic!(
            "{name} sent byte {} of its stream as {:#04x}, written as {:#04x}",
            first + i,
            repr.payload[i],
            written[i]
        );
    }
}

/// One line for a segment: flags, numbers, lengths, options.
fn describe(seg: &Repr<'_>) -> String {
    let mut s = format!(
        "{:?} seq={} ack={} win={} len={}",
        seg.flags,
        seg.seq_number,
        seg.ack_number,
        seg.window_len,
        seg.payload.len()
    );
    if let Some(m) = seg.max_seg_size {
        s += &format!(" mss={m}");
    }
    if let Some(w) = seg.window_scale {
        s += &format!(" ws={w}");
    }
    if !seg.sack_ranges.is_empty() {
        s += &format!(" sack={:?}", seg.sack_ranges.as_slice());
    }
    if let Some(t) = seg.timestamp {
        s += &format!(" ts={}/{}", t.tsval, t.tsecr);
    }
    s
}

/// Runs `input` to the end and checks everything (see the module documentation). Panics
/// on a violation, with what was seen.
pub fn run_pair(input: &PairInput) {
    if let Err(stall) = run(input, None) {
        panic!("{stall}");
    }
}

/// [`run_pair`], telling `log` every segment sent (with its fate) and every delivery: for
/// reading a failing input.
pub fn run_pair_with_log(input: &PairInput, log: &mut dyn FnMut(&str)) {
    if let Err(stall) = run(input, Some(log)) {
        panic!("{stall}");
    }
}

/// Why a run did not end with both transfers complete and both engines CLOSED cleanly,
/// with what the pair looked like then.
type Stall = String;

fn run(input: &PairInput, log: Option<&mut dyn FnMut(&str)>) -> Result<(), Stall> {
    let mut pair = Pair::new(input, log);
    let faulty_until = START + FAULTY_FOR;
    let stall = |pair: &Pair<'_>, what: &str| format!("{what}: {}", pair.describe());
    loop {
        if pair.a.complete() && pair.b.complete() {
            break;
        }
        if pair.a.conn.error().or(pair.b.conn.error()).is_some() {
            return Err(stall(
                &pair,
                "a connection failed before the transfers completed",
            ));
        }
        let clean_at = pair.clean_from.unwrap_or(faulty_until).min(faulty_until);
        if pair.now > clean_at + COMPLETION_TIME {
            return Err(stall(
                &pair,
                "the transfers did not complete 300 s after the network turned clean",
            ));
        }
        if pair.steps >= MAX_STEPS {
            return Err(stall(&pair, "livelock: the step limit before completion"));
        }
        if !pair.step() {
            return Err(stall(
                &pair,
                "nothing left to happen before the transfers completed",
            ));
        }
    }
    let done = pair.now;
    while !(pair.a.conn.state() == State::Closed && pair.b.conn.state() == State::Closed) {
        if pair.now > done + CLOSE_TIME {
            return Err(stall(
                &pair,
                "not both CLOSED 300 s after the transfers completed",
            ));
        }
        if pair.steps >= MAX_STEPS {
            return Err(stall(&pair, "livelock: the step limit while closing"));
        }
        if !pair.step() {
            return Err(stall(&pair, "idle before both were CLOSED"));
        }
    }
    if pair.a.conn.error().or(pair.b.conn.error()).is_some() {
        return Err(stall(&pair, "a connection failed while closing"));
    }
    Ok(())
}

/// The `tcp_pair` target: a [`PairInput`] from the bytes, then [`run_pair`].
pub fn tcp_pair(data: &[u8]) {
    if let Ok(input) = PairInput::arbitrary_take_rest(Unstructured::new(data)) {
        run_pair(&input);
    }
}
