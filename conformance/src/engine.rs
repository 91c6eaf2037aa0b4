//! [`StackUnderTest`] over one sansnet `tcp::Connection`: segments go through the wire
//! module (`tcp::Repr::parse` with checksum verification, `Repr::emit`), ICMP errors are
//! checked and delivered the way the host does it.

use core::net::SocketAddrV4;

use sansnet_stack::tcp::{
    Config, CongestionAlgorithm, Connection, ConnectionError, Error, Event, IcmpError, KeepAlive,
    State,
};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::tcp::{Packet, Repr};
use sansnet_stack::wire::{ChecksumMode, SeqNumber};

use crate::runner::{CallResult, CallValue, StackUnderTest};
use crate::script::{Call, IcmpKind, Payload, Setup, StackConfig};
use crate::segment::{PEER_ADDR, SERVER_PORT, STACK_ADDR};

/// The port the engine connects from.
pub const ENGINE_CLIENT_PORT: u16 = 49152;
/// The engine's ISS when the script does not choose one: near the top of the sequence space,
/// so that every script also crosses the wrap-around.
pub const DEFAULT_ISS: u32 = 0xffff_f000;

/// The sansnet TCP engine, one connection.
#[derive(Debug)]
pub struct EngineUnderTest {
    conn: Connection,
    buf: Vec<u8>,
}

/// The engine configuration a script asks for.
///
/// The baseline differs from `Config::default()` in two RFC extensions, which scripts turn
/// on with `tlp=on` and `abc=2`: the scripts check RFC 9293, RFC 5681 and RFC 6298 to the
/// millisecond and the segment, and Tail Loss Probe (RFC 8985) sends probes before the RTO
/// those scripts time, while Appropriate Byte Counting (RFC 3465, L = 2) grows cwnd by
/// more than RFC 5681's one SMSS per ACK. Scripts under `scripts/tlp/` and the ABC
/// script check the extensions themselves. RACK-style loss inference stays as shipped: it
/// acts only where RFC 6675 would have waited for the RTO, and no baseline script sees it.
pub fn tcp_config(c: &StackConfig) -> Config {
    let mut cfg = Config {
        tlp: false,
        abc_limit_segments: 1,
        ..Config::default()
    };
    if let Some(v) = c.tlp {
        cfg.tlp = v;
    }
    if let Some(v) = c.tlp_max_ack_delay {
        cfg.tlp_max_ack_delay = v;
    }
    if let Some(v) = c.abc {
        cfg.abc_limit_segments = v;
    }
    if let Some(v) = c.rack {
        cfg.rack = v;
    }
    if let Some(v) = c.mss {
        cfg.mss = v;
    }
    if let Some(v) = c.default_mss {
        cfg.default_send_mss = v;
    }
    if let Some(v) = c.rcvbuf {
        cfg.recv_buffer_bytes = v;
        cfg.reassembly_ranges = v / 2920 + 4;
    }
    if let Some(v) = c.sndbuf {
        cfg.send_buffer_bytes = v;
    }
    if let Some(v) = c.wscale {
        cfg.window_scaling = v;
    }
    if let Some(v) = c.timestamps {
        cfg.timestamps = v;
    }
    if let Some(v) = c.sack {
        cfg.sack = v;
    }
    if let Some(v) = c.nagle {
        cfg.nagle = v;
    }
    if let Some(v) = c.delack {
        cfg.delayed_ack = v;
    }
    if let Some(v) = c.delack_timeout {
        cfg.delayed_ack_timeout = v;
    }
    if let Some(v) = c.rto_initial {
        cfg.rto_initial = v;
    }
    if let Some(v) = c.rto_min {
        cfg.rto_min = v;
    }
    if let Some(v) = c.rto_max {
        cfg.rto_max = v;
    }
    if let Some(v) = c.iw {
        cfg.initial_window_segments = v;
    }
    if let Some(v) = c.msl {
        cfg.msl = v;
    }
    if let Some(v) = c.r1 {
        cfg.r1_retries = v;
    }
    if let Some(v) = c.r2 {
        cfg.r2_data = v;
    }
    if let Some(v) = c.r2_syn {
        cfg.r2_syn = v;
    }
    if c.user_timeout.is_some() {
        cfg.user_timeout = c.user_timeout;
    }
    if c.keepalive_idle.is_some() || c.keepalive_interval.is_some() || c.keepalive_count.is_some() {
        let d = KeepAlive::default();
        cfg.keep_alive = Some(KeepAlive {
            idle: c.keepalive_idle.unwrap_or(d.idle),
            interval: c.keepalive_interval.unwrap_or(d.interval),
            count: c.keepalive_count.unwrap_or(d.count),
        });
    }
    match c.keepalive {
        Some(false) => cfg.keep_alive = None,
        Some(true) if cfg.keep_alive.is_none() => cfg.keep_alive = Some(KeepAlive::default()),
        _ => {}
    }
    if let Some(cubic) = c.cubic {
        cfg.congestion = if cubic {
            CongestionAlgorithm::Cubic
        } else {
            CongestionAlgorithm::NewReno
        };
    }
    if let Some(v) = c.challenge_ack_limit {
        cfg.challenge_ack_limit_per_sec = v;
    }
    cfg
}

/// The errno a BSD socket would return for an engine error.
pub fn errno(e: Error) -> String {
    match e {
        Error::WouldBlock => "EAGAIN",
        Error::InvalidState(_) => "EINVAL",
        Error::WriteClosed => "EPIPE",
        Error::ReadClosed => "ESHUTDOWN",
        Error::NotConnected => "ENOTCONN",
        Error::Connection(c) => conn_errno(c),
    }
    .to_string()
}

/// The errno for a failed connection.
pub fn conn_errno(e: ConnectionError) -> &'static str {
    match e {
        ConnectionError::Refused => "ECONNREFUSED",
        ConnectionError::Reset => "ECONNRESET",
        ConnectionError::TimedOut(_) => "ETIMEDOUT",
        ConnectionError::Aborted => "ECONNABORTED",
    }
}

/// The errno an ICMP error reports (soft errors, SHLD-25).
pub fn icmp_errno(e: IcmpError) -> &'static str {
    match e {
        IcmpError::Unreachable { code: 0 } => "ENETUNREACH",
        IcmpError::Unreachable { code: 1 } => "EHOSTUNREACH",
        IcmpError::Unreachable { code: 2 } => "ENOPROTOOPT",
        IcmpError::Unreachable { code: 3 } => "ECONNREFUSED",
        IcmpError::Unreachable { .. } => "EHOSTUNREACH",
        IcmpError::FragmentationNeeded { .. } => "EMSGSIZE",
        IcmpError::TimeExceeded => "EHOSTUNREACH",
        IcmpError::ParameterProblem => "EPROTO",
        IcmpError::SourceQuench => "ENOBUFS",
    }
}

/// An event's name in scripts.
pub fn event_name(e: Event) -> String {
    match e {
        Event::Connected => "Connected".into(),
        Event::Readable => "Readable".into(),
        Event::Writable => "Writable".into(),
        Event::PeerClosed => "PeerClosed".into(),
        Event::Urgent => "Urgent".into(),
        Event::PathTrouble => "PathTrouble".into(),
        Event::Failed(c) => format!("Failed({})", conn_errno(c)),
        Event::Closed => "Closed".into(),
    }
}

/// Translates a script's ICMP error for the engine.
pub fn icmp_error(kind: IcmpKind) -> IcmpError {
    match kind {
        IcmpKind::Unreachable(code) => IcmpError::Unreachable { code },
        IcmpKind::FragNeeded(mtu) => IcmpError::FragmentationNeeded { next_hop_mtu: mtu },
        IcmpKind::TimeExceeded => IcmpError::TimeExceeded,
        IcmpKind::ParamProblem => IcmpError::ParameterProblem,
        IcmpKind::SourceQuench => IcmpError::SourceQuench,
    }
}

impl StackUnderTest for EngineUnderTest {
    fn start(now: Instant, setup: Setup, config: &StackConfig) -> Result<Self, String> {
        let cfg = tcp_config(config);
        let iss = SeqNumber(config.iss.unwrap_or(DEFAULT_ISS));
        let server = SocketAddrV4::new(STACK_ADDR, SERVER_PORT);
        let conn = match setup {
            Setup::Listen => Connection::listen_with_iss(now, cfg, server, iss),
            Setup::Connect => Connection::connect_with_iss(
                now,
                cfg,
                SocketAddrV4::new(STACK_ADDR, ENGINE_CLIENT_PORT),
                SocketAddrV4::new(PEER_ADDR, SERVER_PORT),
                iss,
            ),
            Setup::Closed => {
                let mut c = Connection::listen_with_iss(now, cfg, server, iss);
                c.shutdown_write(now).map_err(|e| e.to_string())?;
                c
            }
        };
        let buf = vec![0u8; 70_000];
        Ok(EngineUnderTest { conn, buf })
    }

    fn name(&self) -> &'static str {
        "engine"
    }

    fn supports(&self, need: &str) -> bool {
        // The engine has ICMP entry points; reopening a TIME-WAIT connection is the host's.
        matches!(need, "icmp")
    }

    fn inject(&mut self, now: Instant, segment: &[u8]) {
        let Ok(packet) = Packet::new_checked(segment) else {
            return;
        };
        let Ok(repr) = Repr::parse(&packet, PEER_ADDR, STACK_ADDR, ChecksumMode::Verify) else {
            return; // what the host does with a bad checksum or bad options: drop
        };
        if self.conn.state() == State::Listen {
            self.conn
                .set_remote(SocketAddrV4::new(PEER_ADDR, repr.src_port));
        }
        self.conn.handle_segment(now, &repr);
    }

    fn inject_icmp(&mut self, now: Instant, kind: IcmpKind, quoted: &[u8]) {
        if quoted.len() < 8 {
            return;
        }
        let seq = SeqNumber(u32::from_be_bytes([
            quoted[4], quoted[5], quoted[6], quoted[7],
        ]));
        // RFC 5927 section 4.1, as the host checks it.
        if self.conn.icmp_seq_acceptable(seq) {
            self.conn.handle_icmp_error(now, icmp_error(kind));
        }
    }

    fn poll_output(&mut self, now: Instant) -> Option<Vec<u8>> {
        let repr = self.conn.poll_transmit(now, &mut self.buf)?;
        let mut out = vec![0u8; repr.buffer_len()];
        let mut p = Packet::new_unchecked(&mut out[..]);
        repr.emit(&mut p, STACK_ADDR, PEER_ADDR);
        Some(out)
    }

    fn poll_event(&mut self) -> Option<String> {
        self.conn.poll_event().map(event_name)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    fn advance(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }

    fn call(&mut self, now: Instant, call: &Call) -> CallResult {
        let c = &mut self.conn;
        match call {
            Call::Send(Payload::Bytes(b)) => c.send(b).map(CallValue::Count).map_err(errno),
            Call::Send(Payload::Len(_)) => Err("EINVAL".into()),
            Call::SendUrgent(Payload::Bytes(b)) => {
                c.send_urgent(b).map(CallValue::Count).map_err(errno)
            }
            Call::SendUrgent(Payload::Len(_)) => Err("EINVAL".into()),
            Call::Recv(n) => {
                let mut out = vec![0u8; *n];
                match c.recv(&mut out) {
                    Ok(k) => {
                        out.truncate(k);
                        Ok(CallValue::Bytes(out))
                    }
                    Err(e) => Err(errno(e)),
                }
            }
            Call::Shutdown => c
                .shutdown_write(now)
                .map(|()| CallValue::Count(0))
                .map_err(errno),
            Call::Close => c.close(now).map(|()| CallValue::Count(0)).map_err(errno),
            Call::Abort => {
                c.abort(now);
                Ok(CallValue::Count(0))
            }
            Call::Nagle(on) => {
                c.set_nagle(*on);
                Ok(CallValue::Count(0))
            }
            Call::KeepAlive(ka) => {
                c.set_keep_alive(
                    now,
                    ka.map(|(idle, interval, count)| KeepAlive {
                        idle,
                        interval,
                        count,
                    }),
                );
                Ok(CallValue::Count(0))
            }
            Call::KeepAliveDefaults => {
                c.set_keep_alive(now, Some(KeepAlive::default()));
                Ok(CallValue::Count(0))
            }
            Call::UserTimeout(t) => {
                c.set_user_timeout(*t);
                Ok(CallValue::Count(0))
            }
            Call::UrgentPending => Ok(CallValue::Count(c.urgent_pending().unwrap_or(0))),
            Call::SoftError => match c.soft_error() {
                Some(e) => Err(icmp_errno(e).to_string()),
                None => Ok(CallValue::Count(0)),
            },
        }
    }

    fn state(&self) -> Option<State> {
        Some(self.conn.state())
    }
}
