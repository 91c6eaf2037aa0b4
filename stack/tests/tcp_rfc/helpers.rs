//! One engine against a scripted peer: fixed addresses and ISNs, segment templates, and
//! helpers that feed segments in and drain segments and events out as owned values.
//!
//! The engine under test is at `LOCAL` (ISS 1000); the scripted peer is at `REMOTE`
//! (IRS 5000). Segment templates are what the peer sends.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};

use sansnet_stack::tcp::{Config, Connection, Event, State};
use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::tcp::{Repr, SackBlocks, TcpFlags, TcpTimestamp};
use sansnet_stack::wire::SeqNumber;

pub const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
pub const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

/// Our initial send sequence number, and the first data byte after the SYN.
pub const ISS: SeqNumber = SeqNumber(1000);
pub const ISS1: SeqNumber = SeqNumber(1001);
/// The peer's initial sequence number, and its first data byte.
pub const IRS: SeqNumber = SeqNumber(5000);
pub const IRS1: SeqNumber = SeqNumber(5001);

/// The start of every test.
pub const T0: Instant = Instant::from_secs(100);

pub const NONE: TcpFlags = TcpFlags::empty();
pub const SYN: TcpFlags = TcpFlags::SYN;
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const RST: TcpFlags = TcpFlags::RST;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const PSH: TcpFlags = TcpFlags::PSH;
pub const URG: TcpFlags = TcpFlags::URG;
pub const SYN_ACK: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0);
pub const RST_ACK: TcpFlags = TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0);
pub const FIN_ACK: TcpFlags = TcpFlags(TcpFlags::FIN.0 | TcpFlags::ACK.0);
pub const SYN_FIN: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::FIN.0);
pub const PSH_ACK: TcpFlags = TcpFlags(TcpFlags::PSH.0 | TcpFlags::ACK.0);

/// The peer's window in the templates (unscaled).
pub const PEER_WIN: u16 = 65535;

/// A bare segment from the peer to us: ports set, no flags, no options.
pub const SEG: Repr<'static> = Repr {
    src_port: REMOTE.port(),
    dst_port: LOCAL.port(),
    flags: NONE,
    seq_number: SeqNumber(0),
    ack_number: SeqNumber(0),
    window_len: PEER_WIN,
    urgent_pointer: 0,
    max_seg_size: None,
    window_scale: None,
    sack_permitted: false,
    sack_ranges: SackBlocks::new(),
    timestamp: None,
    payload: &[],
};

/// The peer's SYN (active open from the peer), MSS 1460, no other option.
pub const PEER_SYN: Repr<'static> = Repr {
    flags: SYN,
    seq_number: IRS,
    max_seg_size: Some(1460),
    ..SEG
};

/// The peer's SYN-ACK answering our SYN, MSS 1460, no other option.
pub const PEER_SYN_ACK: Repr<'static> = Repr {
    flags: SYN_ACK,
    seq_number: IRS,
    ack_number: ISS1,
    max_seg_size: Some(1460),
    ..SEG
};

/// The peer's ACK of our SYN (or SYN-ACK), with nothing else.
pub const PEER_ACK: Repr<'static> = Repr {
    flags: ACK,
    seq_number: IRS1,
    ack_number: ISS1,
    ..SEG
};

/// A segment from the peer with `flags`, `seq` and `ack`, and the template's window.
pub fn seg(flags: TcpFlags, seq: SeqNumber, ack: SeqNumber) -> Repr<'static> {
    Repr {
        flags,
        seq_number: seq,
        ack_number: ack,
        ..SEG
    }
}

/// A data segment from the peer (ACK set).
pub fn data(seq: SeqNumber, ack: SeqNumber, payload: &[u8]) -> Repr<'_> {
    Repr {
        flags: ACK,
        seq_number: seq,
        ack_number: ack,
        payload,
        ..SEG
    }
}

/// `r` with a timestamps option.
pub fn ts<'a>(r: Repr<'a>, tsval: u32, tsecr: u32) -> Repr<'a> {
    Repr {
        timestamp: Some(TcpTimestamp { tsval, tsecr }),
        ..r
    }
}

/// `r` with window `w`.
pub fn win(r: Repr<'_>, w: u16) -> Repr<'_> {
    Repr { window_len: w, ..r }
}

/// `r` with these SACK blocks.
pub fn sack<'a>(r: Repr<'a>, blocks: &[(SeqNumber, SeqNumber)]) -> Repr<'a> {
    let mut s = SackBlocks::new();
    for &b in blocks {
        s.push(b);
    }
    Repr {
        sack_ranges: s,
        ..r
    }
}

/// A config with no options to negotiate (no timestamps, SACK, window scaling): the
/// segments the engine sends are then exactly what RFC 9293 alone describes.
pub fn plain() -> Config {
    Config {
        timestamps: false,
        sack: false,
        window_scaling: false,
        ..Config::default()
    }
}

/// `plain()` without delayed ACKs, for tests that want every ACK at once.
pub fn quick() -> Config {
    Config {
        delayed_ack: false,
        ..plain()
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A segment the engine sent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: TcpFlags,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub win: u16,
    pub up: u16,
    pub mss: Option<u16>,
    pub ws: Option<u8>,
    pub sack_permitted: bool,
    pub sack: Vec<(SeqNumber, SeqNumber)>,
    pub ts: Option<TcpTimestamp>,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn from_repr(r: &Repr<'_>) -> Seg {
        Seg {
            src_port: r.src_port,
            dst_port: r.dst_port,
            flags: r.flags,
            seq: r.seq_number,
            ack: r.ack_number,
            win: r.window_len,
            up: r.urgent_pointer,
            mss: r.max_seg_size,
            ws: r.window_scale,
            sack_permitted: r.sack_permitted,
            sack: r.sack_ranges.as_slice().to_vec(),
            ts: r.timestamp,
            payload: r.payload.to_vec(),
        }
    }

    /// Flags, SEQ and ACK: what most assertions look at.
    pub fn ctl(&self) -> (TcpFlags, SeqNumber, SeqNumber) {
        (self.flags, self.seq, self.ack)
    }

    /// Sequence space taken.
    pub fn len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(SYN))
            + usize::from(self.flags.contains(FIN))
    }

    pub fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }

    /// This segment as the peer would receive it (for two-engine tests).
    pub fn repr(&self) -> Repr<'_> {
        let mut s = SackBlocks::new();
        for &b in &self.sack {
            s.push(b);
        }
        Repr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            flags: self.flags,
            seq_number: self.seq,
            ack_number: self.ack,
            window_len: self.win,
            urgent_pointer: self.up,
            max_seg_size: self.mss,
            window_scale: self.ws,
            sack_permitted: self.sack_permitted,
            sack_ranges: s,
            timestamp: self.ts,
            payload: &self.payload,
        }
    }
}

/// Feeds one segment from the peer.
pub fn recv_seg(c: &mut Connection, now: Instant, r: Repr<'_>) {
    c.handle_segment(now, &r);
}

/// Drains `poll_transmit`.
pub fn sent(c: &mut Connection, now: Instant) -> Vec<Seg> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(r) = c.poll_transmit(now, &mut buf) {
        out.push(Seg::from_repr(&r));
        assert!(out.len() < 10_000, "poll_transmit never returns None");
    }
    out
}

/// Drains `poll_transmit`, which must yield exactly one segment.
#[track_caller]
pub fn sent_one(c: &mut Connection, now: Instant) -> Seg {
    let mut segs = sent(c, now);
    assert_eq!(segs.len(), 1, "expected one segment, got {segs:#?}");
    segs.pop().unwrap()
}

/// Drains `poll_transmit`, which must yield nothing.
#[track_caller]
pub fn sent_none(c: &mut Connection, now: Instant) {
    let segs = sent(c, now);
    assert!(segs.is_empty(), "expected no segment, got {segs:#?}");
}

/// Drains `poll_event`.
pub fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Feeds a segment, then drains what it sent.
pub fn exchange(c: &mut Connection, now: Instant, r: Repr<'_>) -> Vec<Seg> {
    recv_seg(c, now, r);
    sent(c, now)
}

/// Advances to the next deadline (asserting there is one), fires it, and returns it.
#[track_caller]
pub fn fire_next(c: &mut Connection) -> Instant {
    let at = c.poll_timeout().expect("a timer is armed");
    c.handle_timeout(at);
    at
}

/// Active open at `T0`: SYN-SENT with the SYN already sent.
pub fn syn_sent(cfg: Config) -> Connection {
    let mut c = Connection::connect_with_iss(T0, cfg, LOCAL, REMOTE, ISS);
    let syn = sent_one(&mut c, T0);
    assert_eq!(syn.ctl(), (SYN, ISS, SeqNumber(0)));
    c
}

/// The SYN-ACK a peer with the same options as `cfg` would answer with.
pub fn synack_for(cfg: &Config, our_syn_tsval: u32) -> Repr<'static> {
    Repr {
        window_scale: cfg.window_scaling.then_some(7),
        sack_permitted: cfg.sack,
        timestamp: cfg.timestamps.then_some(TcpTimestamp {
            tsval: 7000,
            tsecr: our_syn_tsval,
        }),
        ..PEER_SYN_ACK
    }
}

/// Active open completed at `T0`: ESTABLISHED, ACK of the SYN-ACK sent, events drained.
/// The peer offers the options `cfg` offers (window scale 7, TSval 7000).
pub fn established(cfg: Config) -> Connection {
    let mut c = Connection::connect_with_iss(T0, cfg.clone(), LOCAL, REMOTE, ISS);
    let syn = sent_one(&mut c, T0);
    let tsval = syn.ts.map_or(0, |t| t.tsval);
    recv_seg(&mut c, T0, synack_for(&cfg, tsval));
    assert_eq!(c.state(), State::Established);
    let ack = sent_one(&mut c, T0);
    assert_eq!(ack.ctl(), (ACK, ISS1, IRS1));
    events(&mut c);
    c
}

/// Passive open at `T0`: LISTEN, with the peer's address known.
pub fn listening(cfg: Config) -> Connection {
    let mut c = Connection::listen_with_iss(T0, cfg, LOCAL, ISS);
    c.set_remote(REMOTE);
    c
}

/// Passive open after the peer's SYN: SYN-RECEIVED with the SYN-ACK sent.
pub fn syn_received(cfg: Config) -> Connection {
    let mut c = listening(cfg);
    recv_seg(&mut c, T0, PEER_SYN);
    assert_eq!(c.state(), State::SynReceived);
    let synack = sent_one(&mut c, T0);
    assert_eq!(synack.ctl(), (SYN_ACK, ISS, IRS1));
    c
}

/// Passive open completed at `T0`.
pub fn passive_established(cfg: Config) -> Connection {
    let mut c = syn_received(cfg);
    recv_seg(&mut c, T0, PEER_ACK);
    assert_eq!(c.state(), State::Established);
    sent_none(&mut c, T0);
    events(&mut c);
    c
}

/// ESTABLISHED after `n` bytes of ours were sent (not yet acknowledged), Nagle off.
/// Returns the data segments.
pub fn with_outstanding(cfg: Config, n: usize) -> (Connection, Vec<Seg>) {
    let mut c = established(Config {
        nagle: false,
        ..cfg
    });
    let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
    assert_eq!(c.send(&data), Ok(n));
    let segs = sent(&mut c, T0);
    (c, segs)
}

/// Payload bytes `0, 1, 2, ...` of length `n`.
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Reads everything readable.
pub fn read_all(c: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.recv(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}
