//! One TCP connection: the RFC 9293 state machine with its reliability, flow control and
//! congestion control.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::fmt;
use core::net::SocketAddrV4;

use super::ack::PendingAck;
use super::config::Config;
use super::congestion::{new_controller, CongestionControl, Controller};
use super::isn;
use super::loss_probe::TailLossProbe;
use super::recv_buffer::RecvBuffer;
use super::rtt::RttEstimator;
use super::sack::Scoreboard;
use super::send_buffer::SendBuffer;
use super::state::State;
use super::stats::{DropReason, Stats};
use super::timer::{Timer, TimerTable};
use crate::frame::SharedFrame;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{Repr as TcpRepr, SackBlocks, TcpFlags, TcpTimestamp};
use crate::wire::SeqNumber;

#[cfg(feature = "invariants")]
mod invariants;
mod probes;
mod recovery;

#[cfg(feature = "invariants")]
pub use invariants::Corruption;
use probes::Probes;
use recovery::LossRecovery;

/// Duplicate ACKs that trigger fast retransmit (RFC 5681 section 3.2).
const DUP_THRESH: u32 = 3;
/// The most in-order data one coalesced ACK covers: Linux's GRO merges at most 64 KiB into
/// one packet, which its TCP then acknowledges once.
pub const COALESCED_ACK_MAX_BYTES: usize = 64 * 1024;
/// TCP header plus the timestamps option, for the effective MSS (RFC 6691).
const TIMESTAMP_OPTION_LEN: usize = 12;
/// TS.Recent is invalid after 24 days idle (RFC 7323 section 5.5).
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 60 * 60);
/// Maximum window scale shift (RFC 7323 section 2.3).
const MAX_WSCALE: u8 = 14;

/// Why the application's call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// Nothing to read yet, or no room to write (EAGAIN).
    WouldBlock,
    /// The call does not fit the connection's state (e.g. `connect` twice).
    InvalidState(State),
    /// Writing after `shutdown_write` or `close` (EPIPE).
    WriteClosed,
    /// Reading after the application closed the receive side.
    ReadClosed,
    /// The connection failed; the reason is sticky.
    Connection(ConnectionError),
    /// The connection is closed (ENOTCONN).
    NotConnected,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WouldBlock => f.write_str("operation would block"),
            Error::InvalidState(s) => write!(f, "invalid in state {s}"),
            Error::WriteClosed => f.write_str("write side is closed"),
            Error::ReadClosed => f.write_str("read side is closed"),
            Error::Connection(e) => write!(f, "connection failed: {e}"),
            Error::NotConnected => f.write_str("not connected"),
        }
    }
}

impl core::error::Error for Error {}

/// How a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionError {
    /// A RST answered our SYN (ECONNREFUSED).
    Refused,
    /// The peer reset the connection (ECONNRESET).
    Reset,
    /// The connection timed out (ETIMEDOUT).
    TimedOut(TimeoutKind),
    /// The application aborted it.
    Aborted,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Refused => f.write_str("connection refused"),
            ConnectionError::Reset => f.write_str("connection reset by peer"),
            ConnectionError::TimedOut(k) => write!(f, "timed out ({k:?})"),
            ConnectionError::Aborted => f.write_str("aborted"),
        }
    }
}

/// Which give-up threshold fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// R2 for a SYN (RFC 9293 MUST-23).
    Syn,
    /// R2 for data (MUST-20).
    Retransmission,
    /// The user timeout (RFC 5482, MUST-21).
    UserTimeout,
    /// Keep-alive probes went unanswered.
    KeepAlive,
}

/// What the application is told, from [`Connection::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// Data (or end of stream) can be read.
    Readable,
    /// Send buffer space became free.
    Writable,
    /// The peer sent FIN: after the readable data, `recv` returns 0.
    PeerClosed,
    /// Urgent data arrived (RFC 9293 MUST-32).
    Urgent,
    /// A retransmission timeout at or past R1: the path looks bad (SHLD-9, negative advice
    /// to IP), once per such timeout.
    PathTrouble,
    /// The connection failed.
    Failed(ConnectionError),
    /// The connection reached CLOSED after an orderly close (or left TIME-WAIT).
    Closed,
}

/// An ICMP error, as the host hands it to the connection it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpError {
    /// Destination unreachable with this code (other than fragmentation-needed).
    Unreachable {
        /// The ICMP code (0 net, 1 host, 2 protocol, 3 port, 5 source route failed, ...).
        code: u8,
    },
    /// Destination unreachable, fragmentation needed and DF set (RFC 1191).
    FragmentationNeeded {
        /// The next-hop MTU the router reported (0 from old routers).
        next_hop_mtu: u16,
    },
    /// Time exceeded in transit or in reassembly.
    TimeExceeded,
    /// Parameter problem.
    ParameterProblem,
    /// Source quench (deprecated; ignored, MUST-55).
    SourceQuench,
}

/// A RST waiting for `poll_transmit`.
#[derive(Debug, Clone, Copy)]
struct RstSegment {
    seq: SeqNumber,
    ack: Option<SeqNumber>,
    /// The port it goes to: a RST answering a segment goes to that segment's source port
    /// (RFC 9293 section 3.5.2), which a LISTEN or CLOSED connection may not know otherwise.
    dst_port: u16,
}

/// Timestamp state once negotiated (RFC 7323 section 4).
#[derive(Debug, Clone, Copy)]
struct Timestamps {
    recent: u32,
    recent_at: Instant,
    offset: u32,
    /// Our TSval when the retransmission timer last fired, until an echo of it or of a
    /// later segment comes back. An ACK that echoes an older TSval acknowledges the original
    /// transmission, but may have been sent at any time since: the ACK the peer sent at once
    /// may have been lost, and what reaches us is a later one (a duplicate ACK for our
    /// retransmission, or the ACK riding on its own data) that still echoes the original,
    /// since a segment rejected as a duplicate does not update TS.Recent (here, as in
    /// Linux). Timed from the original, such an ACK measures the outage too:
    /// after a 4.9 s partition, a 6.2 s sample where the path's RTT was 60 ms set SRTT to
    /// 730 ms and the RTO to 6 s (a large-mix sweep: bulk 92868). Karn's rule (MUST-18) for
    /// the ambiguity timestamps do not settle: no sample, the backed-off RTO stays.
    rto_tsval: Option<u32>,
}

/// One TCP connection, sans-IO.
///
/// # Call protocol
///
/// The connection never reads a clock and never does I/O. Its owner drives it:
///
/// 1. **Open** it: [`Connection::connect`] (active open: SYN-SENT) or
///    [`Connection::listen`] (passive open: LISTEN, which becomes SYN-RECEIVED on a SYN).
/// 2. **Feed it** whatever happens, each with the current time:
///    - [`handle_segment(now, &repr)`](Self::handle_segment) for every segment addressed
///      to it (already demultiplexed and checksum-verified by the host);
///    - application calls: [`send`](Self::send), [`recv`](Self::recv),
///      [`shutdown_write`](Self::shutdown_write), [`close`](Self::close),
///      [`abort`](Self::abort) and the setters;
///    - [`handle_timeout(now)`](Self::handle_timeout) when the deadline from
///      [`poll_timeout`](Self::poll_timeout) has passed. Spurious or early calls are
///      harmless: only expired timers fire.
/// 3. **Drain it** after every input, in this order:
///    - [`poll_transmit(now, buf)`](Self::poll_transmit) until it returns `None`: each call
///      yields one segment whose payload was copied into `buf` (give it at least the MSS);
///    - [`poll_event`](Self::poll_event) until `None`;
///    - [`poll_timeout`](Self::poll_timeout): the next instant to call `handle_timeout`.
///
/// When [`state`](Self::state) is `Closed` and `poll_transmit` returns `None`, the
/// connection can be dropped. Every buffer and queue is bounded by its [`Config`].
pub struct Connection {
    /// Shared with the other connections made with the same configuration (a host hands
    /// every connection of one listener the same one): 288 bytes a connection less, and
    /// one copy in the cache at a busy server instead of one per connection. A setter
    /// called alone gives the connection its own copy (`Arc::make_mut`); a host first
    /// puts a shared one with the change in force (`use_config`).
    cfg: Arc<Config>,
    state: State,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    /// Opened by LISTEN: a RST in SYN-RECEIVED returns to LISTEN (MUST-11).
    passive: bool,

    // Send sequence space (RFC 9293 section 3.3.1).
    iss: SeqNumber,
    snd_una: SeqNumber,
    /// Next sequence number to send; after an RTO it goes back to `snd_una`.
    snd_nxt: SeqNumber,
    /// Highest sequence number sent plus one.
    snd_max: SeqNumber,
    snd_wnd: usize,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    max_snd_wnd: usize,
    snd_wscale: u8,
    /// The unacknowledged bytes and the FIN.
    send: SendBuffer,

    // Receive sequence space.
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// The right edge of the window we last advertised; it never moves left (SHLD-14).
    rcv_adv: SeqNumber,
    rcv_wscale: u8,
    recv: RecvBuffer,
    /// The peer's FIN, once seen (it may arrive out of order).
    rcv_fin: Option<SeqNumber>,
    fin_received: bool,
    read_closed: bool,
    rcv_up: Option<SeqNumber>,
    /// SND.UP: the octet after the last urgent octet queued (RFC 9293 section 3.8.5, MUST-62),
    /// while octets before it are unacknowledged.
    snd_up: Option<SeqNumber>,

    // Negotiated options.
    peer_mss: usize,
    wscale_ok: bool,
    ts: Option<Timestamps>,
    sack_ok: bool,
    /// Last ACK number sent (RFC 7323's Last.ACK.sent).
    last_ack_sent: SeqNumber,

    // Reliability and congestion control.
    rtt: RttEstimator,
    /// One timed segment for RTT samples without timestamps (Karn: cleared on retransmit).
    rtt_probe: Option<(SeqNumber, Instant)>,
    rto_count: u32,
    /// The first timeout of the current loss episode, and SND.MAX then: the episode ends
    /// when SND.UNA reaches that. R1 is also judged by the episode's age, as Linux's
    /// `retransmits_timed_out` judges `tcp_retries1` by time: `rto_count` starts again at
    /// every ACK of new data, and an ACK of a retransmission that proved spurious is one
    /// (after a partition the peer had the head segment and its ACK was lost). Counted
    /// that way, R1 came at the third timeout after it, 45 s on with the RTO backed off to
    /// 6.4 s, while the rest of the flight went to a wrong MAC address that a damaged ARP
    /// reply had taught (the default sweep: partition-heals 11039).
    rto_episode: Option<(Instant, SeqNumber)>,
    syn_retransmitted: bool,
    /// `handle_next_hop_change` resent since the last retransmission timeout: at most once
    /// a timeout, so that ARP frames changing an address back and forth (gratuitous
    /// replies, damaged ones) cannot make every backed-off connection send a segment each.
    next_hop_resent: bool,
    cc: Controller,
    /// Fast recovery and the marks of loss detection (`recovery.rs`).
    loss: LossRecovery,
    scoreboard: Scoreboard,
    last_send_at: Instant,

    /// Tail loss probe (RFC 8985 section 7).
    tlp: TailLossProbe,

    /// ACK generation: what the next ACK owes the peer, and when.
    ack: PendingAck,

    /// Zero-window probes and keep-alives (`probes.rs`).
    probes: Probes,

    rst_queue: VecDeque<RstSegment>,
    challenge_window: (Instant, u32),
    /// When the last ACK went that answered an unacceptable segment without data
    /// (`Config::out_of_window_ack_interval`).
    last_oow_ack_at: Option<Instant>,
    /// The largest segment the path carries (RFC 1191), options included.
    path_mss: usize,
    soft_error: Option<IcmpError>,
    timers: TimerTable,
    events: VecDeque<Event>,
    error: Option<ConnectionError>,
    stats: Stats,
    /// Whether the application wanted to write but the buffer was full.
    want_writable: bool,
    /// What the invariant checks remember between calls (feature `invariants`).
    #[cfg(feature = "invariants")]
    watch: invariants::Watch,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("snd_una", &self.snd_una)
            .field("snd_nxt", &self.snd_nxt)
            .field("snd_max", &self.snd_max)
            .field("snd_wnd", &self.snd_wnd)
            .field("rcv_nxt", &self.rcv_nxt)
            .field("rcv_adv", &self.rcv_adv)
            .field("cwnd", &self.cc.cwnd())
            .field("recovery", &self.loss.recovery)
            .field("recover_floor", &self.loss.recover_floor)
            .field("high_rxt", &self.loss.high_rxt)
            .field("rexmit_mark", &self.loss.rexmit_mark)
            .field("rack_lost", &self.loss.rack_lost)
            .field("sacked", &self.scoreboard.ranges())
            .field("timers", &self.timers)
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(cfg: Arc<Config>, local: SocketAddrV4, remote: SocketAddrV4, now: Instant) -> Self {
        #[allow(unused_mut)]
        let mut rtt = RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max);
        let smss = usize::from(cfg.default_send_mss);
        let cc = new_controller(
            cfg.congestion,
            cfg.initial_window_segments,
            smss,
            cfg.abc_limit_segments,
        );
        #[allow(unused_mut)]
        let mut recv = RecvBuffer::new(cfg.recv_buffer_bytes, cfg.reassembly_ranges);
        #[cfg(feature = "planted-bugs")]
        {
            use super::config::PlantedBug;
            rtt.planted_keep_backoff = cfg.planted == Some(PlantedBug::RtoNeverResets);
            recv.planted_off_by_one = cfg.planted == Some(PlantedBug::ReassemblyOffByOne);
        }
        let scoreboard = Scoreboard::new(cfg.sack_scoreboard_len);
        Connection {
            state: State::Closed,
            local,
            remote,
            passive: false,
            iss: SeqNumber(0),
            snd_una: SeqNumber(0),
            snd_nxt: SeqNumber(0),
            snd_max: SeqNumber(0),
            snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: SeqNumber(0),
            max_snd_wnd: 0,
            snd_wscale: 0,
            send: SendBuffer::default(),
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_wscale: 0,
            recv,
            rcv_fin: None,
            fin_received: false,
            read_closed: false,
            rcv_up: None,
            snd_up: None,
            peer_mss: smss,
            wscale_ok: false,
            ts: None,
            sack_ok: false,
            last_ack_sent: SeqNumber(0),
            rtt,
            rtt_probe: None,
            rto_count: 0,
            rto_episode: None,
            syn_retransmitted: false,
            next_hop_resent: false,
            cc,
            loss: LossRecovery::default(),
            scoreboard,
            last_send_at: now,
            tlp: TailLossProbe::default(),
            ack: PendingAck::default(),
            probes: Probes::default(),
            rst_queue: VecDeque::new(),
            challenge_window: (now, 0),
            last_oow_ack_at: None,
            path_mss: usize::MAX,
            soft_error: None,
            timers: TimerTable::default(),
            events: VecDeque::new(),
            error: None,
            stats: Stats::default(),
            want_writable: false,
            #[cfg(feature = "invariants")]
            watch: invariants::Watch::new(now),
            cfg,
        }
    }

    /// The end of every public call that may change the connection: with the feature
    /// `invariants`, checks the engine's invariants (`connection/invariants.rs`) at `now`, or
    /// at the last `now` seen for calls without one; nothing otherwise.
    #[inline(always)]
    fn end_of_call(&mut self, now: Option<Instant>) {
        #[cfg(feature = "invariants")]
        self.after_call(now);
        let _ = now;
    }

    /// Active open (RFC 9293 section 3.10.1): SYN-SENT, with the SYN ready for
    /// `poll_transmit`. The ISN comes from the configured secret and `now` (RFC 6528).
    pub fn connect(
        now: Instant,
        cfg: impl Into<Arc<Config>>,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Self {
        let cfg = cfg.into();
        let iss = isn::initial_sequence_number(&cfg.secret, now, local, remote);
        Self::connect_with_iss(now, cfg, local, remote, iss)
    }

    /// Active open with a chosen ISN (for tests and conformance scripts).
    pub fn connect_with_iss(
        now: Instant,
        cfg: impl Into<Arc<Config>>,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
    ) -> Self {
        let mut c = Self::new(cfg.into(), local, remote, now);
        c.init_send(iss);
        c.rcv_wscale = if c.cfg.window_scaling {
            c.cfg.rcv_wscale()
        } else {
            0
        };
        c.set_state(State::SynSent);
        c.end_of_call(Some(now));
        c
    }

    /// Passive open (RFC 9293 section 3.10.1): LISTEN on `local`. The first acceptable SYN
    /// binds the connection to its sender; a host makes one of these per arriving SYN.
    pub fn listen(now: Instant, cfg: impl Into<Arc<Config>>, local: SocketAddrV4) -> Self {
        let unspecified = SocketAddrV4::new(core::net::Ipv4Addr::UNSPECIFIED, 0);
        let mut c = Self::new(cfg.into(), local, unspecified, now);
        c.passive = true;
        c.set_state(State::Listen);
        c.end_of_call(Some(now));
        c
    }

    /// Passive open whose SYN-ACK will use `iss` (for tests, and for a host reopening a
    /// TIME-WAIT connection, where the new ISN must exceed the old sequence space).
    pub fn listen_with_iss(
        now: Instant,
        cfg: impl Into<Arc<Config>>,
        local: SocketAddrV4,
        iss: SeqNumber,
    ) -> Self {
        let mut c = Self::listen(now, cfg, local);
        c.iss = iss;
        c.end_of_call(Some(now));
        c
    }

    fn init_send(&mut self, iss: SeqNumber) {
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_max = iss;
        self.send.start(iss);
        self.loss.high_rxt = iss;
        self.loss.recover_floor = iss;
    }

    // ------------------------------------------------------------------------------------
    // Queries

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Local address and port.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// Remote address and port (unspecified while in LISTEN).
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The configuration as it is shared with other connections (see `cfg`).
    pub(crate) fn config_shared(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Puts `cfg` in force: a configuration that differs from the one in force at most in
    /// what the socket options set ([`set_nagle`](Self::set_nagle),
    /// [`set_keep_alive`](Self::set_keep_alive), [`set_user_timeout`](Self::set_user_timeout),
    /// and the IP TTL the host writes), given by a host that shares it among its connections; the setter called next finds
    /// its value in place and does the rest of its work.
    pub(crate) fn use_config(&mut self, cfg: Arc<Config>) {
        debug_assert!(
            {
                let mut same = Config::clone(&cfg);
                same.nagle = self.cfg.nagle;
                same.keep_alive = self.cfg.keep_alive;
                same.user_timeout = self.cfg.user_timeout;
                same.ttl = self.cfg.ttl;
                same.delayed_ack = self.cfg.delayed_ack;
                same.tos = self.cfg.tos;
                same == *self.cfg
            },
            "only what socket options set may differ"
        );
        self.cfg = cfg;
    }

    /// The sticky error, once the connection failed.
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    /// Bytes waiting to be read.
    pub fn recv_queue_len(&self) -> usize {
        self.recv.readable_len()
    }

    /// Bytes written but not yet acknowledged.
    pub fn send_queue_len(&self) -> usize {
        self.send.len()
    }

    /// Room left in the send buffer.
    pub fn send_capacity_left(&self) -> usize {
        self.cfg.send_buffer_bytes.saturating_sub(self.send.len())
    }

    /// The initial send sequence number.
    pub fn iss(&self) -> SeqNumber {
        self.iss
    }

    /// The peer's initial sequence number (valid once a SYN was received).
    pub fn irs(&self) -> SeqNumber {
        self.irs
    }

    /// SND.UNA.
    pub fn snd_una(&self) -> SeqNumber {
        self.snd_una
    }

    /// SND.NXT.
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd_nxt
    }

    /// RCV.NXT.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }

    /// SND.WND: the peer's window, scaled.
    pub fn snd_wnd(&self) -> usize {
        self.snd_wnd
    }

    /// The congestion window.
    pub fn cwnd(&self) -> usize {
        self.cc.cwnd()
    }

    /// The slow-start threshold.
    pub fn ssthresh(&self) -> usize {
        self.cc.ssthresh()
    }

    /// The current RTO, backoff included.
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    /// The effective send MSS for data (RFC 6691): the peer's MSS less the options every
    /// segment carries.
    pub fn effective_mss(&self) -> usize {
        self.mss_limit() - self.fixed_options_len()
    }

    /// Whether timestamps, SACK and window scaling were negotiated.
    pub fn negotiated(&self) -> (bool, bool, bool) {
        (self.ts.is_some(), self.sack_ok, self.wscale_ok)
    }

    /// Whether we are in fast recovery.
    pub fn in_recovery(&self) -> bool {
        self.loss.recovery.is_some()
    }

    /// Whether a retransmission timeout fired and no new data has been acknowledged since
    /// (Linux's Loss state).
    pub fn in_rto_recovery(&self) -> bool {
        self.rto_count > 0
    }

    /// SND.MAX: the highest sequence number sent, plus one.
    pub fn snd_max(&self) -> SeqNumber {
        self.snd_max
    }

    /// The window we advertised last, from RCV.NXT to its right edge (RCV.WND).
    pub fn rcv_wnd(&self) -> usize {
        self.rcv_adv - self.rcv_nxt
    }

    /// The RTO estimator: SRTT, RTTVAR, the RTO and its backoff.
    pub fn rtt_estimator(&self) -> &RttEstimator {
        &self.rtt
    }

    /// Bytes between SND.UNA and SND.MAX that the peer SACKed.
    pub fn sacked_bytes(&self) -> usize {
        self.scoreboard.sacked_bytes()
    }

    /// Bytes between SND.UNA and SND.MAX deemed lost: every hole below SACKed data with
    /// DupThresh segments' worth SACKed above it (RFC 6675 IsLost), and in recovery what
    /// RACK's inference found lost.
    pub fn lost_bytes(&self) -> usize {
        let mut lost = 0;
        let mut from = self.snd_una;
        while let Some((s, e, is_lost)) = self.next_hole_lost(from) {
            if is_lost {
                lost += e - s;
            }
            from = e;
        }
        lost
    }

    /// The window scale shifts in use, as Linux's `ss` prints them: the peer's (applied to
    /// the windows it advertises, which limit what we send), then ours.
    pub fn wscales(&self) -> (u8, u8) {
        (self.snd_wscale, self.rcv_wscale)
    }

    /// Bytes of urgent data not yet read (RFC 9293 MUST-33), if any.
    pub fn urgent_pending(&self) -> Option<usize> {
        let up = self.rcv_up?;
        let read_seq = self.rcv_nxt - self.recv.readable_len() - usize::from(self.fin_received);
        (up > read_seq).then(|| up - read_seq)
    }

    // ------------------------------------------------------------------------------------
    // Application calls

    /// Queues data to send (RFC 9293 SEND). Returns how many bytes were taken: fewer than
    /// offered when the buffer fills, and `Err(WouldBlock)` when none fit.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        let r = self.send_inner(data, None);
        self.end_of_call(None);
        r
    }

    /// [`send`](Self::send) of bytes that lie in `owner`, the application's buffer: a run
    /// of at least `SHARE_MIN_BYTES` is kept by reference until acknowledged instead of
    /// copied (`tcp/send_buffer.rs`); the segments are the same either way.
    pub fn send_in(&mut self, data: &[u8], owner: Option<&SharedFrame>) -> Result<usize, Error> {
        let r = self.send_inner(data, owner);
        self.end_of_call(None);
        r
    }

    fn send_inner(&mut self, data: &[u8], owner: Option<&SharedFrame>) -> Result<usize, Error> {
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        match self.state {
            State::Closed => return Err(Error::NotConnected),
            State::Listen => return Err(Error::InvalidState(self.state)),
            _ if self.send.fin_queued => return Err(Error::WriteClosed),
            _ => {}
        }
        let n = data.len().min(self.send_capacity_left());
        if n == 0 && !data.is_empty() {
            self.want_writable = true;
            return Err(Error::WouldBlock);
        }
        self.send.push(&data[..n], owner);
        Ok(n)
    }

    /// Queues data to send as urgent (RFC 9293 SEND with the URGENT flag, MUST-30): as
    /// [`send`](Self::send), then SND.UP is the octet after the last one taken. Every
    /// segment sent before SND.UP carries URG and the distance to it (MUST-62: the pointer
    /// names the first octet that is not urgent; at most 65,535 ahead, the pointer says
    /// 65,535 until the segments catch up, as Linux does: MUST-31, any length), pure ACKs
    /// included, so the peer learns of urgent data its window does not yet let through.
    /// Urgency ends when SND.UNA reaches SND.UP. A second call moves SND.UP forward.
    pub fn send_urgent(&mut self, data: &[u8]) -> Result<usize, Error> {
        let r = self.send_inner(data, None);
        if let Ok(n) = r {
            if n > 0 {
                self.snd_up = Some(self.send.base() + self.send.len());
            }
        }
        self.end_of_call(None);
        r
    }

    /// Reads in-order data (RFC 9293 RECEIVE). `Ok(0)` means end of stream (the peer sent
    /// FIN and everything before it was read); `Err(WouldBlock)` means nothing yet.
    pub fn recv(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let r = self.recv_inner(out);
        self.end_of_call(None);
        r
    }

    /// Copies readable bytes into `out` as [`recv`](Self::recv) does, leaving them to be
    /// read (`MSG_PEEK`): the window, the events and what is to be sent stay as they were.
    pub fn peek(&self, out: &mut [u8]) -> Result<usize, Error> {
        if self.read_closed {
            return Err(Error::ReadClosed);
        }
        if self.recv.readable_len() == 0 {
            return self.nothing_readable(out);
        }
        Ok(self.recv.peek(out))
    }

    /// What a read into `out` returns when no byte is readable: the end of the stream, the
    /// connection's error, or that it would block.
    fn nothing_readable(&self, out: &[u8]) -> Result<usize, Error> {
        if self.fin_received || out.is_empty() {
            return Ok(0);
        }
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        match self.state {
            State::Closed => Err(Error::NotConnected),
            State::Listen => Err(Error::InvalidState(self.state)),
            _ => Err(Error::WouldBlock),
        }
    }

    fn recv_inner(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if self.read_closed {
            return Err(Error::ReadClosed);
        }
        if self.recv.readable_len() == 0 {
            return self.nothing_readable(out);
        }
        let before = self.advertisable_edge();
        let n = self.recv.read(out);
        // A window update when reading opens the window enough (receiver SWS avoidance,
        // RFC 9293 section 3.8.6.2.2: at least min(buffer/2, MSS) past the old edge), and
        // only while the window the peer knows is half the buffer or less and the read at
        // least doubles it, as Linux decides (tcp_cleanup_rbuf). A larger known window does
        // not hold the sender back, and the ACKs its data brings carry the new edge anyway:
        // a stream read as it arrives would otherwise cost an ACK per segment read, twice
        // what delayed ACKs send.
        let after = self.advertisable_edge();
        let threshold = (self.recv.capacity() / 2).min(usize::from(self.cfg.mss));
        let known = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        if after > before
            && after - self.rcv_adv.max(before) >= threshold
            && known <= self.recv.capacity() / 2
            && after - self.rcv_nxt >= 2 * known
        {
            self.ack.owe();
        }
        Ok(n)
    }

    /// Closes the sending direction (half-close, MAY-1): FIN after the queued data.
    pub fn shutdown_write(&mut self, now: Instant) -> Result<(), Error> {
        let r = self.shutdown_write_inner(now);
        self.end_of_call(Some(now));
        r
    }

    fn shutdown_write_inner(&mut self, now: Instant) -> Result<(), Error> {
        match self.state {
            State::Closed => Err(Error::NotConnected),
            State::Listen => {
                self.set_state(State::Closed);
                Ok(())
            }
            State::SynSent if self.send.is_empty() => {
                // RFC 9293 CLOSE in SYN-SENT: delete the TCB, timers included (a stale
                // retransmission timer would resend the SYN and later fail the closed
                // connection with TimedOut).
                self.enter_closed();
                Ok(())
            }
            _ if self.send.fin_queued => Ok(()),
            _ => {
                self.send.fin_queued = true;
                self.arm_keepalive(now);
                Ok(())
            }
        }
    }

    /// Full close (RFC 9293 CLOSE): FIN after queued data; no more reads. If received data
    /// is still unread, or arrives later, the connection is reset instead, since that data
    /// is lost (RFC 1122 section 4.2.2.13, RFC 9293 SHLD-3).
    pub fn close(&mut self, now: Instant) -> Result<(), Error> {
        let r = self.close_inner(now);
        self.end_of_call(Some(now));
        r
    }

    fn close_inner(&mut self, now: Instant) -> Result<(), Error> {
        if self.recv.readable_len() > 0 && self.state.is_synchronized() {
            self.abort_inner();
            return Ok(());
        }
        self.read_closed = true;
        self.shutdown_write_inner(now)
    }

    /// Abort (RFC 9293 ABORT): RST if synchronized, then CLOSED; queued data is discarded.
    pub fn abort(&mut self, now: Instant) {
        self.abort_inner();
        self.end_of_call(Some(now));
    }

    fn abort_inner(&mut self) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.queue_rst(self.snd_nxt.max(self.snd_max), None);
        }
        self.send.clear();
        self.recv.clear();
        self.fail(ConnectionError::Aborted);
    }

    /// Nagle's algorithm on or off (`false` is TCP_NODELAY, MUST-17).
    pub fn set_nagle(&mut self, on: bool) {
        if self.cfg.nagle != on {
            Arc::make_mut(&mut self.cfg).nagle = on;
        }
        self.end_of_call(None);
    }

    /// Delayed ACKs (MUST-40) on or off: off is Linux's `TCP_QUICKACK`, every ACK at once.
    /// Turned off while an ACK is held back, that ACK is owed now, as Linux sends it.
    pub fn set_delayed_ack(&mut self, on: bool) {
        if self.cfg.delayed_ack != on {
            Arc::make_mut(&mut self.cfg).delayed_ack = on;
        }
        if !on && self.ack.delayed {
            self.timers.stop(Timer::DelayedAck);
            self.ack.owe();
        }
        self.end_of_call(None);
    }

    /// Keep-alive on (with its parameters) or off.
    pub fn set_keep_alive(&mut self, now: Instant, ka: Option<super::KeepAlive>) {
        if self.cfg.keep_alive != ka {
            Arc::make_mut(&mut self.cfg).keep_alive = ka;
        }
        self.probes.keepalive_unanswered = 0;
        self.arm_keepalive(now);
        self.end_of_call(Some(now));
    }

    /// The user timeout (RFC 5482); `None` falls back to R2.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        if self.cfg.user_timeout != timeout {
            Arc::make_mut(&mut self.cfg).user_timeout = timeout;
        }
        self.end_of_call(None);
    }

    // ------------------------------------------------------------------------------------
    // ICMP and path MTU (RFC 9293 section 3.9.2.2, RFC 1191, RFC 5927)

    /// Whether an ICMP error quoting sequence number `seq` can concern data in flight
    /// (RFC 5927 section 4.1): SND.UNA <= seq < SND.MAX. Hosts drop other errors.
    pub fn icmp_seq_acceptable(&self, seq: SeqNumber) -> bool {
        seq.in_range(self.snd_una, self.snd_max)
            || (self.snd_una == self.snd_max && seq == self.snd_una)
    }

    /// An ICMP error about this connection arrived (already validated by the host).
    ///
    /// Hard errors (destination unreachable codes 2 to 4 except fragmentation-needed)
    /// abort a connection that is still opening (SHLD-26, softened by RFC 5461 for
    /// synchronized connections, which treat them as soft); soft errors (codes 0, 1, 5,
    /// time exceeded, parameter problem) are remembered and reported if the connection
    /// later times out, never abort it (MUST-56). Fragmentation-needed lowers the path MTU
    /// (RFC 1191). Source quench is ignored (MUST-55).
    pub fn handle_icmp_error(&mut self, now: Instant, error: IcmpError) {
        match error {
            IcmpError::SourceQuench => {}
            IcmpError::FragmentationNeeded { next_hop_mtu } => {
                self.set_path_mtu_inner(now, next_hop_mtu)
            }
            IcmpError::Unreachable { code } if (2..=4).contains(&code) => {
                if self.state.is_synchronized() {
                    self.soft_error = Some(error);
                } else if matches!(self.state, State::SynSent | State::SynReceived) {
                    self.fail(ConnectionError::Refused);
                }
            }
            other => self.soft_error = Some(other),
        }
        self.end_of_call(Some(now));
    }

    /// The most recent soft error, if any (SHLD-25: the application may ask).
    pub fn soft_error(&self) -> Option<IcmpError> {
        self.soft_error
    }

    /// Lowers the largest segment to fit a path MTU (RFC 1191 section 6.3): 40 bytes of
    /// IPv4 and TCP headers less, never below 68 - 40. Segments in flight that no longer fit
    /// are sent again at once.
    pub fn set_path_mtu(&mut self, now: Instant, mtu: u16) {
        self.set_path_mtu_inner(now, mtu);
        self.end_of_call(Some(now));
    }

    fn set_path_mtu_inner(&mut self, now: Instant, mtu: u16) {
        let mss = usize::from(mtu.max(68)).saturating_sub(40);
        if mss >= self.path_mss {
            return;
        }
        self.path_mss = mss;
        if self.snd_una != self.snd_max && self.state.is_synchronized() {
            // Not a congestion signal: resend without touching cwnd (RFC 1191 section 6.5).
            self.snd_nxt = self.snd_una;
            self.loss.rexmit_next = Some(self.snd_una);
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
    }

    /// The host gave the next hop of this connection's path a new link-layer address (an
    /// ARP answer replaced the one it had): whatever was sent before went to the old one.
    ///
    /// While a retransmission timeout is backed off (no new data acknowledged since it
    /// fired), the oldest unacknowledged segment, or the SYN, goes again at once, to the new
    /// address, once a timeout at most; the timer keeps its deadline and the backoff is not
    /// doubled (this is not a timeout). Without it, a repair that negative advice brings at
    /// a timeout backed off to seconds waits a whole further timeout before anything uses
    /// it. RFC 6069 (TCP-LD) acts alike on a sign that connectivity is back. Outside a
    /// timeout episode nothing changes: fast retransmit, RACK and an RTO not backed off find
    /// the losses soon enough.
    pub fn handle_next_hop_change(&mut self, now: Instant) {
        if self.rto_count > 0 && self.snd_una != self.snd_max && !self.next_hop_resent {
            match self.state {
                State::SynSent | State::SynReceived => {
                    self.syn_retransmitted = true;
                    self.snd_nxt = self.iss;
                }
                s if s.is_synchronized() => self.loss.rexmit_next = Some(self.snd_una),
                _ => return self.end_of_call(Some(now)),
            }
            self.next_hop_resent = true;
            self.stats.next_hop_resends += 1;
        }
        self.end_of_call(Some(now));
    }

    /// Whether a SYN arriving in TIME-WAIT may open a new incarnation of this connection:
    /// with timestamps, its TSval is newer than TS.Recent (RFC 6191); without, its sequence
    /// number is beyond RCV.NXT (RFC 1122 section 4.2.2.13, MAY-2). The host then replaces
    /// this connection with a new one whose ISS is [`reopen_iss`](Self::reopen_iss).
    pub fn time_wait_accepts_syn(&self, seg: &TcpRepr<'_>) -> bool {
        if self.state != State::TimeWait
            || !seg.flags.contains(TcpFlags::SYN)
            || seg
                .flags
                .intersects(TcpFlags::ACK | TcpFlags::RST | TcpFlags::FIN)
        {
            return false;
        }
        match (self.ts, seg.timestamp) {
            (Some(ts), Some(t)) => (t.tsval.wrapping_sub(ts.recent) as i32) > 0,
            (Some(_), None) => false,
            (None, _) => seg.seq_number > self.rcv_nxt,
        }
    }

    /// An ISS for a new incarnation, safely beyond this one's sequence space.
    pub fn reopen_iss(&self) -> SeqNumber {
        self.snd_max + (1 << 20)
    }

    // ------------------------------------------------------------------------------------
    // Outputs: events and timeouts

    /// Whether [`poll_event`](Self::poll_event) has an event to give: a host asks after
    /// every segment, and nearly always there is none.
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next application event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front();
        #[cfg(feature = "invariants")]
        self.after_poll_event();
        ev
    }

    /// The earliest instant at which `handle_timeout` has work to do.
    ///
    /// Segments that are ready now are not deadlines: the owner drains `poll_transmit`
    /// after every input, so they are gone before it asks.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    fn push_event(&mut self, ev: Event) {
        // Bounded: at most one of each kind waits (a readiness flag, not a log).
        if !self.events.contains(&ev) {
            self.events.push_back(ev);
        }
    }

    fn set_state(&mut self, s: State) {
        self.state = s;
    }

    /// Enters CLOSED with an error, telling the application.
    fn fail(&mut self, e: ConnectionError) {
        if self.error.is_none() {
            self.error = Some(e);
            self.push_event(Event::Failed(e));
        }
        self.enter_closed();
    }

    fn enter_closed(&mut self) {
        self.set_state(State::Closed);
        self.timers.stop_all();
        self.ack.cancel();
        self.ack.delayed = false;
        self.probes.probe_now = false;
        self.probes.keepalive_now = false;
        self.loss.rexmit_next = None;
        self.tlp.due = false;
    }

    fn close_normally(&mut self) {
        self.enter_closed();
        self.push_event(Event::Closed);
    }

    // ------------------------------------------------------------------------------------
    // Timers

    /// Fires every timer whose deadline is at or before `now`. Safe to call at any time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout_inner(now);
        self.end_of_call(Some(now));
        #[cfg(feature = "invariants")]
        self.check_timers_fired(now);
    }

    fn handle_timeout_inner(&mut self, now: Instant) {
        let expired = |t: Option<Instant>| t.is_some_and(|at| at <= now);
        if expired(self.timers.get(Timer::GiveUp)) {
            self.timers.stop(Timer::GiveUp);
            let kind = if !self.state.is_synchronized() {
                TimeoutKind::Syn
            } else if self.cfg.user_timeout.is_some() {
                TimeoutKind::UserTimeout
            } else {
                TimeoutKind::Retransmission
            };
            self.fail(ConnectionError::TimedOut(kind));
            return;
        }
        if expired(self.timers.get(Timer::TimeWait)) {
            self.timers.stop(Timer::TimeWait);
            self.close_normally();
            return;
        }
        // The PTO first: when it falls on the RTO's instant, the probe replaces the RTO
        // and re-arms it (RFC 8985 section 7.2: "at that RTO time").
        if expired(self.timers.get(Timer::LossProbe)) {
            self.timers.stop(Timer::LossProbe);
            self.on_pto(now);
        }
        if expired(self.timers.get(Timer::Reorder)) {
            self.timers.stop(Timer::Reorder);
            self.on_reorder_timeout(now);
        }
        if expired(self.timers.get(Timer::Retransmit)) {
            self.timers.stop(Timer::Retransmit);
            self.on_rto(now);
        }
        if expired(self.timers.get(Timer::Persist)) {
            self.timers.stop(Timer::Persist);
            if self.has_unsent_data() && self.snd_una == self.snd_max {
                if self.snd_wnd == 0 {
                    self.probes.probe_now = true;
                } else {
                    // SWS avoidance held back a short segment and nothing is in flight to
                    // bring an ACK: the override timeout of RFC 9293 section 3.8.6.2.1.
                    self.probes.sws_override = true;
                }
            }
        }
        if expired(self.timers.get(Timer::DelayedAck)) {
            self.timers.stop(Timer::DelayedAck);
            if self.ack.delayed {
                self.ack.owe();
            }
        }
        if expired(self.timers.get(Timer::KeepAlive)) {
            self.timers.stop(Timer::KeepAlive);
            self.on_keepalive_timer(now);
        }
    }

    /// How long R1 timeouts take at the minimum RTO, counted as Linux's
    /// `retransmits_timed_out` counts it, `(2^(R1+1) - 1) * rto_min` (3 s with the
    /// defaults): an episode older than this has reached R1 whatever `rto_count` says.
    fn r1_time(&self) -> Duration {
        let factor = 1u32
            .checked_shl(self.cfg.r1_retries.saturating_add(1))
            .map_or(u32::MAX, |f| f - 1);
        self.cfg.rto_min.saturating_mul(factor)
    }

    fn on_rto(&mut self, now: Instant) {
        if self.snd_una == self.snd_max
            && !matches!(self.state, State::SynSent | State::SynReceived)
        {
            return; // nothing outstanding: a stale timer
        }
        self.stats.rto_expirations += 1;
        self.rto_count += 1;
        self.next_hop_resent = false;
        self.rtt.on_timeout();
        // The RTO ends any probe episode and lost-retransmission watch (RFC 8985 7.4).
        self.timers.stop(Timer::LossProbe);
        self.timers.stop(Timer::Reorder);
        self.tlp.end_episode();
        self.loss.rexmit_mark = None;
        // Karn's algorithm (MUST-18).
        self.rtt_probe = None;
        // RFC 1122 4.2.3.5: negative advice when the transmissions of a segment "reach or
        // exceed" R1, so at every timeout from R1 on, as Linux gives it on every timeout
        // past tcp_retries1. Once only, at R1, was not enough: when the one ARP broadcast
        // that advice makes is answered by a reply damaged in flight, the wrong address it
        // teaches is REACHABLE and nothing asked again (sweeps of the large workload mix,
        // slow-reader 52991 and request-response 30594: a path dead for a minute).
        let (episode_start, _) = *self.rto_episode.get_or_insert((now, self.snd_max));
        if self.rto_count >= self.cfg.r1_retries || now - episode_start >= self.r1_time() {
            self.push_event(Event::PathTrouble);
        }
        let zero_window = self.state.is_synchronized() && self.snd_wnd == 0;
        if zero_window {
            // SHLD-17: a receiver that shrank its window to zero is probed, not timed out;
            // the retransmission below doubles as the probe.
            self.timers.stop(Timer::GiveUp);
        } else if self.timers.get(Timer::GiveUp).is_none() {
            let limit = match self.state {
                State::SynSent | State::SynReceived => self.cfg.r2_syn,
                _ => self.cfg.user_timeout.unwrap_or(self.cfg.r2_data),
            };
            // Measured from the first transmission's timeout, i.e. the first retransmission.
            self.timers.set(Timer::GiveUp, now + limit);
        }
        match self.state {
            State::SynSent | State::SynReceived => {
                self.syn_retransmitted = true;
                self.snd_nxt = self.iss;
            }
            _ => {
                let flight = self.flight_size();
                self.cc.on_rto(now, flight, self.smss());
                if let Some(ts) = self.ts {
                    let tsval = self.ts_clock(now, ts.offset);
                    self.ts = Some(Timestamps {
                        rto_tsval: Some(tsval),
                        ..ts
                    });
                }
                self.loss.recovery = None;
                self.loss.recover_floor = self.snd_max;
                self.loss.dupacks = 0;
                self.loss.rexmit_next = None;
                // Go back N: resend from the oldest unacknowledged byte. The first segment
                // goes out whatever the peer's window (MAY-7), so a window that closed
                // after the data was sent cannot stall the connection.
                self.snd_nxt = self.snd_una;
                self.loss.high_rxt = self.snd_una;
                self.loss.rexmit_next = Some(self.snd_una);
                // RFC 2018 section 8 (whose guidance RFC 6675 section 5.1 keeps): a timeout
                // may mean the receiver reneged, discarding data it had SACKed, so the
                // sender turns the SACKed bits off. Kept, a SACK from before the timeout hid
                // bytes the receiver no longer held: never resent, the transfer moved a
                // segment per doubled RTO (a tcp_pair fuzz finding). What the receiver still
                // holds it SACKs again with its next ACK.
                self.scoreboard.clear();
            }
        }
        let rto = self.rtt.rto();
        self.timers.set(Timer::Retransmit, now + rto);
    }

    // ------------------------------------------------------------------------------------
    // Segment arrival (RFC 9293 section 3.10.7)

    /// Processes one arriving segment, in the order of RFC 9293 section 3.10.7.
    pub fn handle_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        self.handle_segment_in(now, seg, None);
    }

    /// [`handle_segment`](Self::handle_segment) for a segment whose payload lies in
    /// `frame`: in-order payload of a full-size segment is then kept in the frame until
    /// the application reads it, instead of copied (`crate::frame`). The same segment
    /// processing either way; only where the readable bytes live differs.
    pub fn handle_segment_in(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
        frame: Option<&SharedFrame>,
    ) {
        self.stats.segments_received += 1;
        match self.state {
            State::Closed => self.on_segment_closed(seg),
            State::Listen => self.on_segment_listen(now, seg),
            State::SynSent => self.on_segment_syn_sent(now, seg),
            _ => self.on_segment_synchronized(now, seg, frame),
        }
        self.end_of_call(Some(now));
    }

    /// CLOSED: a RST is dropped; anything else draws a RST (section 3.10.7.1).
    fn on_segment_closed(&mut self, seg: &TcpRepr<'_>) {
        self.stats.count_drop(DropReason::Closed);
        self.reply_rst(seg);
    }

    /// The RST a segment draws where no connection accepts it.
    fn reply_rst(&mut self, seg: &TcpRepr<'_>) {
        if seg.flags.contains(TcpFlags::RST) {
            return;
        }
        if seg.flags.contains(TcpFlags::ACK) {
            self.queue_rst_to(seg.src_port, seg.ack_number, None);
        } else {
            let ack = seg.seq_number + seg.segment_len();
            self.queue_rst_to(seg.src_port, SeqNumber(0), Some(ack));
        }
    }

    fn queue_rst(&mut self, seq: SeqNumber, ack: Option<SeqNumber>) {
        self.queue_rst_to(self.remote.port(), seq, ack);
    }

    fn queue_rst_to(&mut self, dst_port: u16, seq: SeqNumber, ack: Option<SeqNumber>) {
        if self.rst_queue.len() >= self.cfg.control_queue_len {
            self.stats.count_drop(DropReason::ControlQueueFull);
            return;
        }
        self.rst_queue.push_back(RstSegment { seq, ack, dst_port });
    }

    /// LISTEN (section 3.10.7.2).
    fn on_segment_listen(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        if seg.flags.contains(TcpFlags::RST) {
            self.stats.count_drop(DropReason::NotSyn);
            return;
        }
        if seg.flags.contains(TcpFlags::ACK) {
            self.stats.count_drop(DropReason::NotSyn);
            self.queue_rst_to(seg.src_port, seg.ack_number, None);
            return;
        }
        if !seg.flags.contains(TcpFlags::SYN) {
            self.stats.count_drop(DropReason::NotSyn);
            return;
        }
        if seg.flags.contains(TcpFlags::FIN) {
            // SYN+FIN is not a connection request any real stack honours (Linux drops it).
            self.stats.count_drop(DropReason::SynFin);
            return;
        }
        if self.iss == SeqNumber(0) {
            let remote = self.remote_of(seg);
            let iss = isn::initial_sequence_number(&self.cfg.secret, now, self.local, remote);
            self.iss = iss;
        }
        self.remote = self.remote_of(seg);
        let iss = self.iss;
        self.init_send(iss);
        self.accept_syn(now, seg);
        self.set_state(State::SynReceived);
        // Data on the SYN is not acknowledged: the peer retransmits it once established.
    }

    fn remote_of(&self, seg: &TcpRepr<'_>) -> SocketAddrV4 {
        if self.remote.port() == 0 {
            // Only the port is known from the segment; the host sets the address.
            SocketAddrV4::new(*self.remote.ip(), seg.src_port)
        } else {
            self.remote
        }
    }

    /// Sets the remote address while in LISTEN (the host knows it from the IP header).
    pub fn set_remote(&mut self, remote: SocketAddrV4) {
        if self.state == State::Listen {
            self.remote = remote;
        }
        self.end_of_call(None);
    }

    /// Records the peer's SYN: IRS, RCV.NXT, options, the initial window.
    fn accept_syn(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        self.irs = seg.seq_number;
        self.rcv_nxt = seg.seq_number + 1;
        // MSS (MUST-14, MUST-15): 536 when absent.
        self.peer_mss = match seg.max_seg_size {
            Some(m) if m > 0 => usize::from(m),
            _ => usize::from(self.cfg.default_send_mss),
        };
        // Window scaling only if both SYNs carry it (RFC 7323 section 2.2).
        let we_offer = self.cfg.window_scaling;
        match seg.window_scale {
            Some(shift) if we_offer => {
                self.wscale_ok = true;
                self.snd_wscale = shift.min(MAX_WSCALE);
                if self.state == State::Listen {
                    self.rcv_wscale = self.cfg.rcv_wscale();
                }
            }
            _ => {
                self.wscale_ok = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.ts = match seg.timestamp {
            Some(ts) if self.cfg.timestamps => Some(Timestamps {
                recent: ts.tsval,
                recent_at: now,
                offset: isn::timestamp_offset(&self.cfg.secret, self.local, self.remote),
                rto_tsval: None,
            }),
            _ => None,
        };
        self.sack_ok = self.cfg.sack && seg.sack_permitted;
        // The window in a SYN is never scaled.
        self.snd_wnd = usize::from(seg.window_len);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq_number;
        // A SYN without ACK acknowledges nothing: the ACK that completes the handshake
        // (ISS + 1) must count as acknowledging more (`update_window`).
        self.snd_wl2 = if seg.flags.contains(TcpFlags::ACK) {
            seg.ack_number
        } else {
            self.iss
        };
        let smss = self.smss();
        self.cc = new_controller(
            self.cfg.congestion,
            self.cfg.initial_window_segments,
            smss,
            self.cfg.abc_limit_segments,
        );
        // The initial advertised edge.
        let wnd = self.recv.window_space().min(0xffff << self.rcv_wscale);
        self.rcv_adv = self.rcv_nxt + wnd;
    }

    /// SYN-SENT (section 3.10.7.3).
    fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let has_ack = seg.flags.contains(TcpFlags::ACK);
        // First: the ACK must acknowledge our SYN.
        if has_ack && (seg.ack_number <= self.iss || seg.ack_number > self.snd_max) {
            self.stats.count_drop(DropReason::UnacceptableAck);
            if !seg.flags.contains(TcpFlags::RST) {
                self.queue_rst(seg.ack_number, None);
            }
            return;
        }
        // Second: RST with an acceptable ACK refuses the connection; without ACK, ignore.
        if seg.flags.contains(TcpFlags::RST) {
            if has_ack {
                self.fail(ConnectionError::Refused);
            } else {
                self.stats.count_drop(DropReason::RstNotExact);
            }
            return;
        }
        // Fourth: SYN.
        if !seg.flags.contains(TcpFlags::SYN) {
            self.stats.count_drop(DropReason::NotSyn);
            return;
        }
        let was_sent_with_ts = self.cfg.timestamps;
        self.accept_syn(now, seg);
        if !was_sent_with_ts {
            self.ts = None;
        }
        if has_ack {
            self.snd_una = seg.ack_number;
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = seg.ack_number;
            self.timers.stop(Timer::Retransmit);
            self.timers.stop(Timer::GiveUp);
            self.on_established(now, seg);
            self.ack.owe();
            // Text and FIN on the SYN-ACK are processed as in ESTABLISHED.
            self.process_text_and_fin(now, seg, seg.seq_number + 1, seg.payload, None);
        } else {
            // Simultaneous open (section 3.5, figure 7; MUST-10).
            self.set_state(State::SynReceived);
            self.snd_nxt = self.iss; // resend our SYN, now with ACK
        }
    }

    /// The common step into ESTABLISHED from either side of the handshake.
    fn on_established(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        self.set_state(State::Established);
        self.rto_count = 0;
        self.rto_episode = None;
        // A SYN (or SYN-ACK) retransmission was pending: SND.NXT sat on the ISS. The ACK
        // that completed the handshake makes that resend moot (found by `sansnet sweep`,
        // scenario churn, seed 370).
        self.snd_nxt = self.snd_nxt.max(self.snd_una);
        if self.syn_retransmitted {
            // RFC 6298 section 5.7.
            self.rtt.on_syn_lost_established();
        } else if self.ts.is_none() {
            // The SYN was sent once: its round trip is a valid sample.
            if let Some((_, sent)) = self.rtt_probe.take() {
                self.rtt.on_sample(now - sent);
                self.tlp.rtt_sampled = true;
            }
        } else if let Some(ts) = seg.timestamp {
            self.sample_rtt_from_tsecr(now, ts.tsecr);
        }
        self.rtt_probe = None;
        self.push_event(Event::Connected);
        if self.send_capacity_left() > 0 {
            self.push_event(Event::Writable);
        }
        self.arm_keepalive(now);
    }

    /// SYN-RECEIVED and the synchronized states (section 3.10.7.4).
    fn on_segment_synchronized(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
        frame: Option<&SharedFrame>,
    ) {
        let flags = seg.flags;
        let is_rst = flags.contains(TcpFlags::RST);

        // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; send it again.
        if self.state == State::SynReceived
            && flags.contains(TcpFlags::SYN)
            && !flags.contains(TcpFlags::ACK)
            && !is_rst
            && seg.seq_number == self.irs
        {
            self.snd_nxt = self.iss;
            return;
        }
        // Simultaneous open (RFC 9293 section 3.5 figure 7 line 6, MUST-10): the peer's
        // SYN-ACK acks our SYN and repeats the SYN we already have. Its SYN lies left of the
        // window; process the rest as the ACK that completes the open (as Linux does).
        if self.state == State::SynReceived
            && !self.passive
            && flags.contains(TcpFlags::SYN | TcpFlags::ACK)
            && !is_rst
            && seg.seq_number == self.irs
            && seg.ack_number == self.snd_max
            && self.snd_max == self.iss + 1
        {
            let mut rest = *seg;
            rest.flags.remove(TcpFlags::SYN);
            rest.seq_number = self.irs + 1;
            return self.on_segment_synchronized(now, &rest, frame);
        }

        // RFC 7323 section 3.2: "Once TSopt has been successfully negotiated, that is both
        // <SYN> and <SYN,ACK> contain TSopt", every non-RST segment carries it, and one
        // without it "SHOULD" be silently dropped. In SYN-RECEIVED our timestamp state comes
        // from the SYN and our own SYN-ACK; only an ACK of that SYN-ACK (SND.UNA < SEG.ACK
        // =< SND.NXT) shows that the sender saw it. A segment whose ACK is not acceptable
        // answers some other SYN-ACK (a SYN cookie's, which carried no TSopt, for a
        // retransmitted SYN that reached us twice): timestamps were never negotiated with
        // it, so it goes on to the checks of RFC 9293 section 3.10.7.4, whose fifth step
        // answers it: "If the segment acknowledgment is not acceptable, form a reset segment
        // <SEQ=SEG.ACK><CTL=RST> and send it." Dropping it here instead (as
        // MissingTimestamp, or by PAWS against the SYN's TSval) left both ends repeating
        // SYN-ACKs and ACKs until the SYN-ACK retries ran out (found with 200 clients on a
        // SYN-cookie server).
        let unacceptable_synrecv_ack = self.state == State::SynReceived
            && flags.contains(TcpFlags::ACK)
            && !(seg.ack_number > self.snd_una && seg.ack_number <= self.snd_max);
        if let Some(ts) = self.ts.filter(|_| !unacceptable_synrecv_ack) {
            match seg.timestamp {
                None if !is_rst => {
                    self.stats.count_drop(DropReason::MissingTimestamp);
                    return;
                }
                // PAWS (RFC 7323 section 5.3).
                Some(t)
                    if !is_rst
                        && (t.tsval.wrapping_sub(ts.recent) as i32) < 0
                        && now - ts.recent_at < PAWS_IDLE_LIMIT =>
                {
                    self.stats.count_drop(DropReason::Paws);
                    self.ack_unacceptable(now, seg);
                    return;
                }
                _ => {}
            }
        }

        // First: sequence acceptability.
        let seg_len = seg.segment_len();
        let rcv_wnd = self.rcv_adv - self.rcv_nxt;
        let seq = seg.seq_number;
        // An empty segment exactly at the right edge (SEG.SEQ = RCV.NXT+RCV.WND) is
        // acceptable too, unless it is a RST (RFC 5961 keeps those strict): it is what a peer
        // that has filled our window sends while its data is in flight (SND.NXT is our right
        // edge), and its ACK and SACK blocks are what recovery runs on. RFC 9293 3.10.7.4
        // asks for "special allowance ... to accept valid ACKs"; Linux's tcp_sequence and
        // tcp_in_window accept SEG.SEQ <= RCV.NXT+RCV.WND. Dropping them made a transfer to
        // Linux at 5% loss wait for RTOs (issue 15; conformance matrix `ack_seq_beyond`).
        let right_edge_ack = seg_len == 0 && !is_rst && seq == self.rcv_nxt + rcv_wnd;
        let acceptable = right_edge_ack
            || match (seg_len, rcv_wnd) {
                (0, 0) => seq == self.rcv_nxt,
                (0, _) => seq.in_range(self.rcv_nxt, self.rcv_nxt + rcv_wnd),
                (_, 0) => false,
                (_, _) => {
                    seq.in_range(self.rcv_nxt, self.rcv_nxt + rcv_wnd)
                        || (seq + seg_len - 1).in_range(self.rcv_nxt, self.rcv_nxt + rcv_wnd)
                }
            };
        // MUST-66: with a zero window, still process the ACK, URG and RST of a segment at
        // RCV.NXT (a zero-window probe), dropping its text.
        let zero_window_probe = !acceptable && rcv_wnd == 0 && seq == self.rcv_nxt;
        if !acceptable && !zero_window_probe {
            self.stats.count_drop(DropReason::OutOfWindow);
            if !is_rst {
                if self.state == State::TimeWait && flags.contains(TcpFlags::FIN) {
                    // A retransmitted FIN: re-ACK and restart 2MSL (MUST-13 discussion).
                    self.timers.set(Timer::TimeWait, now + self.cfg.msl * 2);
                }
                if seg_len > 0 && seq < self.rcv_nxt {
                    // Old duplicate data: tell the sender with a D-SACK (RFC 2883).
                    let end = (seq + seg_len).min(self.rcv_nxt);
                    self.ack.dsack = Some((seq, end));
                }
                self.ack_unacceptable(now, seg);
            }
            return;
        }

        // Second: RST (RFC 5961 section 3.2).
        if is_rst {
            self.on_rst(now, seg);
            return;
        }

        // Fourth: SYN in a synchronized state draws a challenge ACK (RFC 5961 section 4).
        if flags.contains(TcpFlags::SYN) {
            self.stats.count_drop(DropReason::NotSyn);
            if self.state == State::SynReceived && self.passive {
                // RFC 9293 section 3.10.7.4 fourth, SYN-RECEIVED: "If the connection was
                // initiated with a passive OPEN, then return this connection to the LISTEN
                // state and return."
                self.return_to_listen(now);
                return;
            }
            self.challenge_ack(now);
            return;
        }

        // Fifth: ACK.
        if !flags.contains(TcpFlags::ACK) {
            self.stats.count_drop(DropReason::NoAck);
            return;
        }
        if !self.on_ack(now, seg) {
            return;
        }
        self.probes.keepalive_unanswered = 0;
        self.arm_keepalive(now);

        // TS.Recent update (RFC 7323 section 4.3): SEG.TSval >= TS.Recent and
        // SEG.SEQ <= Last.ACK.sent.
        if let (Some(ts), Some(t)) = (self.ts.as_mut(), seg.timestamp) {
            if (t.tsval.wrapping_sub(ts.recent) as i32) >= 0 && seq <= self.last_ack_sent {
                ts.recent = t.tsval;
                ts.recent_at = now;
            }
        }

        // Sixth: URG (in the states that receive data).
        if flags.contains(TcpFlags::URG) && self.state.can_receive_data() {
            let up = seq + usize::from(seg.urgent_pointer);
            if self.rcv_up.is_none_or(|old| up > old) {
                self.rcv_up = Some(up);
                // RFC 9293 section 3.10.7.4 sixth: signal the user only "if the urgent
                // pointer (RCV.UP) is in advance of the data consumed".
                if self.urgent_pending().is_some() {
                    self.push_event(Event::Urgent);
                }
            }
        }

        // Seventh and eighth: text and FIN.
        let payload = if zero_window_probe {
            &[][..]
        } else {
            seg.payload
        };
        let mut seg = *seg;
        if zero_window_probe && !seg.payload.is_empty() {
            self.stats.count_drop(DropReason::BufferFull);
            self.ack.owe();
            // A FIN sits after the text: with the text dropped it is not at RCV.NXT, and
            // taking it there would end the stream without that text.
            seg.flags = TcpFlags(seg.flags.0 & !TcpFlags::FIN.0);
        }
        self.process_text_and_fin(now, &seg, seq, payload, frame);
    }

    /// A passive SYN-RECEIVED goes back to LISTEN (MUST-11). The host discards this
    /// per-SYN connection.
    /// Back to LISTEN from SYN-RECEIVED (MUST-11): as fresh as `listen` made it, with the
    /// same configuration and local address. Whatever the half-open connection learned (the
    /// peer's options and MSS, an RTT sample or a timed segment, a retransmitted SYN, the
    /// windows) belonged to that peer and goes with it; the counters and the events not
    /// yet polled stay.
    fn return_to_listen(&mut self, now: Instant) {
        let unspecified = SocketAddrV4::new(core::net::Ipv4Addr::UNSPECIFIED, 0);
        let mut fresh = Self::new(self.cfg.clone(), self.local, unspecified, now);
        fresh.passive = true;
        fresh.stats = core::mem::take(&mut self.stats);
        fresh.events = core::mem::take(&mut self.events);
        fresh.set_state(State::Listen);
        *self = fresh;
    }

    fn on_rst(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        if seg.seq_number != self.rcv_nxt {
            // In the window but not exact: challenge ACK (RFC 5961 section 3.2).
            self.stats.count_drop(DropReason::RstNotExact);
            self.challenge_ack(now);
            return;
        }
        match self.state {
            State::SynReceived if self.passive => self.return_to_listen(now),
            State::SynReceived => self.fail(ConnectionError::Refused),
            State::TimeWait => {
                // RFC 1337: ignore RSTs in TIME-WAIT (TIME-WAIT assassination hazards).
                self.stats.count_drop(DropReason::RstInTimeWait);
            }
            State::Closing | State::LastAck => self.close_normally(),
            _ => {
                self.send.clear();
                self.fail(ConnectionError::Reset);
            }
        }
    }

    /// The ACK that answers an unacceptable segment (RFC 9293 section 3.10.7.4), at most
    /// one an `out_of_window_ack_interval` for segments without data or FIN (a SYN
    /// included): those are what two disagreeing ends exchange in an ACK loop.
    fn ack_unacceptable(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let carries_data = seg.segment_len() > 0 && !seg.flags.contains(TcpFlags::SYN);
        if !carries_data {
            let interval = self.cfg.out_of_window_ack_interval;
            if self.last_oow_ack_at.is_some_and(|at| now - at < interval) {
                self.stats.out_of_window_acks_limited += 1;
                return;
            }
            self.last_oow_ack_at = Some(now);
        }
        self.ack.owe();
    }

    fn challenge_ack(&mut self, now: Instant) {
        let (start, count) = self.challenge_window;
        let (start, count) = if now - start >= Duration::from_secs(1) {
            (now, 0)
        } else {
            (start, count)
        };
        if count >= self.cfg.challenge_ack_limit_per_sec {
            self.challenge_window = (start, count);
            self.stats.count_drop(DropReason::ChallengeAckLimited);
            return;
        }
        self.challenge_window = (start, count + 1);
        self.stats.challenge_acks_sent += 1;
        self.ack.owe();
    }

    /// Step five: the ACK field. Returns whether processing continues.
    fn on_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        let ack = seg.ack_number;
        if self.state == State::SynReceived {
            if ack > self.snd_una && ack <= self.snd_max {
                self.snd_una = ack;
                self.timers.stop(Timer::Retransmit);
                self.timers.stop(Timer::GiveUp);
                self.on_established(now, seg);
                self.update_window(seg);
            } else {
                self.stats.count_drop(DropReason::UnacceptableAck);
                self.queue_rst(ack, None);
                return false;
            }
        }
        // RFC 5961 section 5: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
        let lower = self.snd_una - self.max_snd_wnd.max(1);
        if ack > self.snd_max || ack < lower {
            self.stats.count_drop(DropReason::AckOutOfRange);
            self.challenge_ack(now);
            return false;
        }

        // SACK blocks first, so that loss detection sees them with this ACK.
        let mut newly_sacked = 0;
        if self.sack_ok {
            for &block in seg.sack_ranges.as_slice() {
                newly_sacked += self.scoreboard.add(self.snd_una, self.snd_max, block);
            }
        }

        let prior_una = self.snd_una;
        let prior_wnd = self.snd_wnd;
        if ack > self.snd_una {
            self.on_new_ack(now, seg, prior_una);
        } else if ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
            && self.snd_una != self.snd_max
            && self.scaled_window(seg) == prior_wnd
        {
            // A duplicate ACK (RFC 5681 section 2).
            self.stats.dup_acks_received += 1;
            self.on_dupack(now, newly_sacked);
        } else if newly_sacked > 0 && self.loss.recovery.is_none() {
            self.maybe_enter_sack_recovery(now);
        }
        self.update_window(seg);
        self.tlp_on_ack(now, seg);
        self.watch_retransmission();
        self.arm_reorder_timer(now);
        if self.snd_una > prior_una {
            // RFC 8985 section 7.2: (re)start the PTO on an ACK of new data.
            self.schedule_loss_probe(now);
        } else if self.timers.get(Timer::LossProbe).is_some() && !self.tlp_allowed() {
            self.timers.stop(Timer::LossProbe);
        }

        // State transitions driven by the ACK of our FIN.
        let fin_acked = self.send.fin_queued && self.snd_una == self.fin_seq() + 1;
        match self.state {
            State::FinWait1 if fin_acked => {
                self.set_state(State::FinWait2);
            }
            State::Closing if fin_acked => {
                self.enter_time_wait(now);
                return false;
            }
            State::LastAck if fin_acked => {
                self.close_normally();
                return false;
            }
            State::TimeWait => {
                // Only a retransmitted FIN can arrive here; it is handled with the FIN.
            }
            _ => {}
        }
        true
    }

    fn scaled_window(&self, seg: &TcpRepr<'_>) -> usize {
        usize::from(seg.window_len) << self.snd_wscale
    }

    /// The window update rule of RFC 9293 section 3.10.7.4 (SND.WL1, SND.WL2), ordered by
    /// acknowledgment first: a segment's window is newer than the last one taken when it
    /// acknowledges more (SND.WL2 < SEG.ACK), or as much from no lower a sequence number
    /// (SND.WL2 = SEG.ACK and SND.WL1 =< SEG.SEQ). The peer's acknowledgment number never
    /// goes back, so it orders the peer's segments by when they were sent, retransmissions
    /// included; the sequence number alone, the RFC's first test, does not: a
    /// retransmission of old data carries the peer's window as it is now under a lower
    /// SEG.SEQ. The RFC's rule set that window aside while the segment's ACK moved SND.UNA,
    /// so the right edge, SND.UNA + SND.WND, moved past anything the peer offered: the
    /// engine sent beyond the peer's window, the peer took the bytes into the room it had
    /// by then, and from there both engines' pure ACKs (capped at the right edge each
    /// knew, `pure_ack_seq`) lay below the other's RCV.NXT and were dropped unread until R2
    /// ended the connection (found by the `tcp_pair` fuzz target). Linux takes the window
    /// of a segment that advances SND.UNA too (`tcp_may_update_window`). The other half of
    /// the ordering: a segment sent before the last update (a lower SEG.ACK) never sets the
    /// window back, whatever its SEG.SEQ.
    fn update_window(&mut self, seg: &TcpRepr<'_>) {
        let seq = seg.seq_number;
        let ack = seg.ack_number;
        if self.snd_wl2 < ack || (self.snd_wl2 == ack && self.snd_wl1 <= seq) {
            let wnd = self.scaled_window(seg);
            let was_zero = self.snd_wnd == 0;
            self.snd_wnd = wnd;
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            if wnd > 0 && was_zero {
                self.timers.stop(Timer::Persist);
                self.probes.persist_shift = 0;
                self.probes.probe_now = false;
            }
        }
    }

    /// An ACK that acknowledges new data.
    fn on_new_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, prior_una: SeqNumber) {
        let ack = seg.ack_number;
        let acked = ack - prior_una;
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        // Drop acknowledged bytes from the send buffer (the FIN has no byte).
        let data_acked = self.send.acknowledge(ack);
        if data_acked > 0 && self.want_writable && self.send_capacity_left() > 0 {
            self.want_writable = false;
            self.push_event(Event::Writable);
        }
        self.scoreboard.advance(ack);
        self.rto_count = 0;
        if self.rto_episode.is_some_and(|(_, recover)| ack >= recover) {
            self.rto_episode = None;
        }
        // Progress resets the give-up clock (RFC 9293 section 3.8.3); with a user timeout,
        // what is still unacknowledged gets the whole timeout again.
        match self.cfg.user_timeout {
            Some(ut) if ack != self.snd_max => self.timers.set(Timer::GiveUp, now + ut),
            _ => self.timers.stop(Timer::GiveUp),
        }

        // RTT sample: from the echoed timestamp, or from the timed segment (Karn).
        if let Some(ts) = seg.timestamp.filter(|_| self.ts.is_some()) {
            self.sample_rtt_from_tsecr(now, ts.tsecr);
        } else if let Some((seq, sent)) = self.rtt_probe {
            if ack > seq {
                self.rtt.on_sample(now - sent);
                self.tlp.rtt_sampled = true;
                self.rtt_probe = None;
            }
        }

        let smss = self.smss();
        match self.loss.recovery {
            Some(recover) if ack >= recover => {
                // Full ACK: leave recovery (RFC 6582 section 3.2 step 3).
                self.loss.recovery = None;
                self.loss.rexmit_next = None;
                let ssthresh = self.cc.ssthresh();
                let cwnd = if self.sack_ok {
                    ssthresh
                } else {
                    ssthresh.min(self.flight_size().max(smss) + smss)
                };
                self.cc.set_cwnd(cwnd);
            }
            Some(_) => {
                // Partial ACK: retransmit the next hole (RFC 6582 step 4 / RFC 6675).
                if !self.sack_ok {
                    self.loss.rexmit_next = Some(self.snd_una);
                    let cwnd = self.cc.cwnd().saturating_sub(acked);
                    let cwnd = if acked >= smss { cwnd + smss } else { cwnd };
                    self.cc.set_cwnd(cwnd.max(smss));
                }
            }
            None => {
                // Restart after idle (RFC 5681 section 4.1) is handled on send.
                self.cc.on_ack(now, acked, smss, self.rtt.srtt());
            }
        }
        self.loss.dupacks = 0;

        // The retransmission timer (RFC 6298 section 5.2/5.3).
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
    }

    fn sample_rtt_from_tsecr(&mut self, now: Instant, tsecr: u32) {
        let Some(ts) = self.ts.as_mut() else { return };
        let offset = ts.offset;
        if tsecr == 0 {
            return;
        }
        if let Some(rto_tsval) = ts.rto_tsval {
            if (tsecr.wrapping_sub(rto_tsval) as i32) < 0 {
                // Echoes a transmission from before the timeout: see `rto_tsval`.
                self.stats.rtt_samples_ambiguous += 1;
                return;
            }
            ts.rto_tsval = None;
        }
        let now_ts = self.ts_clock(now, offset);
        let rtt_ms = now_ts.wrapping_sub(tsecr);
        if (rtt_ms as i32) >= 0 && rtt_ms < 600_000 {
            self.rtt.on_sample(Duration::from_millis(u64::from(rtt_ms)));
            self.tlp.rtt_sampled = true;
        }
    }

    fn enter_time_wait(&mut self, now: Instant) {
        self.set_state(State::TimeWait);
        let keep = self.timers.get(Timer::DelayedAck);
        self.timers.stop_all();
        if let Some(at) = keep {
            self.timers.set(Timer::DelayedAck, at);
        }
        self.timers.set(Timer::TimeWait, now + self.cfg.msl * 2);
    }

    /// Steps seven and eight: the segment text and FIN, starting at `seq`.
    fn process_text_and_fin(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
        seq: SeqNumber,
        payload: &[u8],
        frame: Option<&SharedFrame>,
    ) {
        if !payload.is_empty() {
            let new_data = seq + payload.len() > self.rcv_nxt;
            if self.read_closed && new_data && self.state.can_receive_data() {
                // RFC 1122 section 4.2.2.13: data after CLOSE is lost; say so with a RST.
                self.stats.count_drop(DropReason::DataAfterClose);
                self.abort_inner();
                return;
            }
            if self.state.can_receive_data() {
                self.receive_text(now, seq, payload, frame);
            } else {
                self.stats.count_drop(DropReason::AfterFin);
            }
        }
        if seg.flags.contains(TcpFlags::FIN) {
            let fin_seq = seq + payload.len();
            if self.state == State::TimeWait {
                self.ack.owe();
                self.timers.set(Timer::TimeWait, now + self.cfg.msl * 2);
                return;
            }
            if !self.fin_received && fin_seq - self.rcv_nxt < self.rcv_adv - self.rcv_nxt + 1 {
                self.rcv_fin = Some(fin_seq);
                if fin_seq > self.rcv_nxt {
                    // An out-of-order FIN: a duplicate ACK at once (RFC 5681 section 4.2,
                    // RFC 9293 section 3.10.7.4), as for out-of-order data.
                    self.ack.owe();
                }
            } else if self.fin_received {
                self.ack.owe(); // a retransmitted FIN
            }
        }
        self.maybe_consume_fin(now);
    }

    fn receive_text(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        payload: &[u8],
        frame: Option<&SharedFrame>,
    ) {
        // Trim to what the advertised window and the buffer allow.
        let window_end = self.rcv_adv;
        let buffer_end = self.rcv_nxt + self.recv.window_space();
        let limit = window_end.min(buffer_end);
        let mut data = payload;
        let end = seq + data.len();
        if end > limit {
            let cut = end - limit;
            let keep = data.len().saturating_sub(cut);
            if keep < data.len() {
                self.stats.count_drop(DropReason::BufferFull);
            }
            data = &data[..keep];
        }
        let had_ooo = self.recv.has_ooo();
        let out = self.recv.insert(self.rcv_nxt, seq, data, frame);
        if out.dropped_no_room > 0 {
            self.stats.count_drop(DropReason::ReassemblyFull);
        }
        if let Some(dup) = out.duplicate {
            if self.sack_ok {
                self.ack.dsack = Some(dup);
            }
            self.ack.owe();
        }
        if out.advanced > 0 {
            self.rcv_nxt += out.advanced;
            self.ack.unacked_bytes = self.ack.unacked_bytes.saturating_add(out.advanced);
            self.stats.bytes_received += out.advanced as u64;
            self.push_event(Event::Readable);
        }
        if out.out_of_order {
            // Immediate ACK on out-of-order data (RFC 5681 section 4.2, MAY-13), with the
            // block that changed first in the SACK option (RFC 2018 section 4); within a
            // burst, one for every second segment of a run that continues the reported
            // block (`PendingAck::owe_for_continued_block`).
            let continues = self.sack_ok
                && self.cfg.ack_coalescing
                && out.duplicate.is_none()
                && self.ack.recent_sack.as_slice().first().map(|b| b.1) == Some(seq);
            self.note_sack_block(seq, seq + data.len());
            if continues {
                self.ack.owe_for_continued_block(now);
            } else {
                self.ack.owe();
            }
        } else if had_ooo {
            // A hole filled: ACK at once.
            self.refresh_sack_blocks();
            self.ack.owe();
        } else if out.advanced > 0 {
            // In order: ACK every second full-sized segment (SHLD-19), else delay (MUST-40).
            if data.len() >= self.rcv_mss_threshold() {
                self.ack.full_segments += 1;
            }
            if !self.cfg.delayed_ack || self.ack.full_segments >= 2 {
                self.ack.owe_for_in_order_data(now);
            } else {
                self.schedule_delayed_ack(now);
            }
        }
    }

    /// A segment counts as full-sized if it carries at least our MSS less options.
    fn rcv_mss_threshold(&self) -> usize {
        usize::from(self.cfg.mss)
            .saturating_sub(if self.ts.is_some() {
                TIMESTAMP_OPTION_LEN
            } else {
                0
            })
            .max(1)
    }

    fn schedule_delayed_ack(&mut self, now: Instant) {
        self.ack.delayed = true;
        if self.timers.get(Timer::DelayedAck).is_none() {
            self.timers
                .set(Timer::DelayedAck, now + self.cfg.delayed_ack_timeout);
        }
    }

    fn note_sack_block(&mut self, seq: SeqNumber, end: SeqNumber) {
        // The block containing this segment goes first; then the others, most recent first.
        let containing = self
            .recv
            .ooo_ranges()
            .find(|&(s, e)| s <= seq && end <= e)
            .unwrap_or((seq, end));
        let mut blocks = SackBlocks::new();
        blocks.push(containing);
        for &b in self.ack.recent_sack.as_slice() {
            let still_held = self.recv.ooo_ranges().any(|r| r == b);
            if b != containing && still_held && !overlaps(b, containing) {
                blocks.push(b);
            }
        }
        self.ack.recent_sack = blocks;
    }

    fn refresh_sack_blocks(&mut self) {
        let mut blocks = SackBlocks::new();
        for &b in self.ack.recent_sack.as_slice() {
            if b.0 > self.rcv_nxt && self.recv.ooo_ranges().any(|r| r == b) {
                blocks.push(b);
            }
        }
        if blocks.is_empty() {
            if let Some(r) = self.recv.ooo_ranges().next() {
                blocks.push(r);
            }
        }
        self.ack.recent_sack = blocks;
    }

    fn maybe_consume_fin(&mut self, now: Instant) {
        let Some(fin_seq) = self.rcv_fin else { return };
        #[cfg(feature = "planted-bugs")]
        if self.cfg.planted == Some(super::config::PlantedBug::EarlyFin)
            && !self.fin_received
            && fin_seq > self.rcv_nxt
        {
            // The planted bug: jump over the hole to the FIN.
            self.rcv_nxt = fin_seq;
        }
        if self.fin_received || fin_seq != self.rcv_nxt {
            return;
        }
        self.fin_received = true;
        self.rcv_nxt += 1;
        self.ack.owe();
        self.push_event(Event::PeerClosed);
        self.push_event(Event::Readable);
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait),
            State::FinWait1 => {
                let fin_acked = self.snd_una == self.fin_seq() + 1;
                if fin_acked {
                    self.enter_time_wait(now);
                } else {
                    self.set_state(State::Closing);
                }
            }
            State::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }

    // ------------------------------------------------------------------------------------
    // Transmission

    fn smss(&self) -> usize {
        self.effective_mss().max(1)
    }

    /// min(SendMSS, our MSS): the largest segment, options included in the RFC 6691 sense.
    fn mss_limit(&self) -> usize {
        self.peer_mss
            .min(usize::from(self.cfg.mss))
            .min(self.path_mss)
            .max(64)
    }

    fn fixed_options_len(&self) -> usize {
        if self.ts.is_some() {
            TIMESTAMP_OPTION_LEN
        } else {
            0
        }
    }

    fn fin_seq(&self) -> SeqNumber {
        self.send.end()
    }

    fn has_unsent_data(&self) -> bool {
        self.snd_nxt < self.fin_seq()
    }

    fn flight_size(&self) -> usize {
        self.snd_max - self.snd_una
    }

    /// RFC 6675 SetPipe(): bytes believed in the network.
    fn pipe(&self) -> usize {
        let rack = self.rack_frontier();
        if !self.sack_ok || (self.scoreboard.is_empty() && rack <= self.snd_una) {
            return self.snd_nxt - self.snd_una;
        }
        let mut pipe = 0usize;
        let mut cursor = self.snd_una;
        // Unsacked bytes: count the ones not lost, plus the lost ones retransmitted.
        while let Some((s, e, lost)) = self.next_hole_lost(cursor) {
            if !lost {
                pipe += e - s;
            } else if self.loss.high_rxt > s {
                pipe += (self.loss.high_rxt.min(e)) - s;
            }
            cursor = e;
        }
        // Above the highest SACKed byte and the RACK frontier: all in flight.
        let top = self
            .scoreboard
            .highest_sacked()
            .unwrap_or(self.snd_una)
            .max(rack);
        if self.snd_nxt > top {
            pipe += self.snd_nxt - top;
        }
        pipe
    }

    /// `rack_lost` while in recovery, SND.UNA otherwise (nothing lost by RACK).
    fn rack_frontier(&self) -> SeqNumber {
        if self.loss.recovery.is_some() {
            self.loss.rack_lost.max(self.snd_una)
        } else {
            self.snd_una
        }
    }

    /// The first unSACKed range at or after `from` that is below the highest SACKed byte or
    /// the RACK frontier, split at the frontier, with whether it is lost (RFC 6675 IsLost,
    /// or below the frontier).
    fn next_hole_lost(&self, from: SeqNumber) -> Option<(SeqNumber, SeqNumber, bool)> {
        let rack = self.rack_frontier();
        let (s, e) = match self.scoreboard.next_hole(from) {
            Some(hole) => hole,
            None => {
                // Past every SACKed byte: unSACKed up to the frontier.
                let s = from.max(self.scoreboard.highest_sacked().unwrap_or(from));
                if s >= rack {
                    return None;
                }
                (s, rack)
            }
        };
        if s < rack {
            Some((s, e.min(rack), true))
        } else {
            let smss = self.smss();
            Some((s, e, self.scoreboard.is_lost(s, DUP_THRESH as usize, smss)))
        }
    }

    fn ts_clock(&self, now: Instant, offset: u32) -> u32 {
        (now.as_millis() as u32).wrapping_add(offset)
    }

    /// The window to advertise, and the new right edge (never left of `rcv_adv`).
    fn window_to_advertise(&mut self, syn: bool) -> u16 {
        let space = self.recv.window_space();
        if syn {
            return space.min(0xffff) as u16;
        }
        let shift = self.rcv_wscale;
        let wnd = self.advertisable_edge().max(self.rcv_adv) - self.rcv_nxt;
        let field = (wnd >> shift).min(0xffff);
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (field << shift));
        field as u16
    }

    /// The right edge receiver-side SWS avoidance allows now (RFC 9293 section 3.8.6.2.2):
    /// the old edge unless the window can grow by min(buffer/2, MSS).
    fn advertisable_edge(&self) -> SeqNumber {
        let shift = self.rcv_wscale;
        let space = self.recv.window_space() & !((1usize << shift) - 1);
        let space = space.min(0xffff << shift);
        let candidate = self.rcv_nxt + space;
        let threshold = (self.recv.capacity() / 2).min(usize::from(self.cfg.mss));
        // A closed window stays closed too until it can open by the threshold: reading a
        // few bytes must not announce a tiny window (MUST-39). With the window closed no
        // out-of-order data is held, so reading everything always reopens it.
        if candidate > self.rcv_adv && candidate - self.rcv_adv < threshold {
            self.rcv_adv
        } else {
            candidate.max(self.rcv_adv)
        }
    }

    /// Whether what the last input left to send should go out before the next input is
    /// read. A host that reads a burst of segments that arrived together (a NIC's receive
    /// ring drained in one go) asks this after each. `false` only when the one thing owed
    /// is the ACK of in-order data after a first ACK at this instant: it can wait for the
    /// end of the burst and acknowledge all of it (at most [`COALESCED_ACK_MAX_BYTES`]),
    /// as Linux acknowledges a GRO-merged packet once. With SACK, a segment that continues
    /// the out-of-order block the last ACK at this instant reported may wait too, but only
    /// for the next: a run behind a hole in one burst draws a duplicate ACK for every
    /// second segment and one at the end (`PendingAck::owe_for_continued_block` says why
    /// not fewer). Everything else goes segment by segment: a new out-of-order block,
    /// duplicates, FINs and challenge ACKs, RSTs, and data an ACK lets out. A sender that read the whole burst of ACKs before sending would take
    /// FlightSize at a loss (RFC 5681 equation 4) while the earlier ACKs of the burst had
    /// shrunk it and nothing had refilled it: measured, smaller ssthresh values and 0.78 of
    /// the Mathis rate instead of 0.95 (`cargo bench -p sansnet-sim --bench quality`).
    pub fn must_answer_now(&self) -> bool {
        if !self.cfg.ack_coalescing {
            return true;
        }
        let ack_can_wait = self.ack.due
            && self.ack.coalescible
            && self.ack.unacked_bytes < COALESCED_ACK_MAX_BYTES;
        !self.rst_queue.is_empty() || !ack_can_wait
    }

    /// The next segment to send, if any, with its payload copied into `buf`.
    pub fn poll_transmit<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Option<TcpRepr<'b>> {
        let repr = self.next_segment(now, buf);
        if let Some(repr) = &repr {
            self.stats.segments_sent += 1;
            self.stats.bytes_sent += repr.payload.len() as u64;
            // Restart after idle counts time since data was sent (RFC 5681 section 4.1):
            // pure ACKs and probes do not end an idle period.
            if !repr.payload.is_empty() || repr.flags.intersects(TcpFlags::SYN | TcpFlags::FIN) {
                self.last_send_at = now;
            }
        }
        #[cfg(feature = "invariants")]
        self.check_transmitted(repr.as_ref());
        self.end_of_call(Some(now));
        repr
    }

    fn next_segment<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Option<TcpRepr<'b>> {
        if let Some(rst) = self.rst_queue.pop_front() {
            self.stats.rsts_sent += 1;
            return Some(self.rst_repr(rst));
        }
        match self.state {
            State::Closed | State::Listen => None,
            State::SynSent | State::SynReceived => {
                if self.snd_nxt == self.iss {
                    return Some(self.syn_segment(now));
                }
                if self.ack.due && self.state == State::SynReceived {
                    // A challenge ACK while half-open.
                    self.ack.cancel();
                    return Some(self.control_segment(now, TcpFlags::ACK, self.snd_nxt));
                }
                None
            }
            _ => self.data_path(now, buf),
        }
    }

    fn rst_repr(&self, rst: RstSegment) -> TcpRepr<'static> {
        let mut flags = TcpFlags::RST;
        if rst.ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        TcpRepr {
            src_port: self.local.port(),
            dst_port: rst.dst_port,
            flags,
            seq_number: rst.seq,
            ack_number: rst.ack.unwrap_or(SeqNumber(0)),
            window_len: 0,
            urgent_pointer: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: SackBlocks::new(),
            timestamp: None,
            payload: &[],
        }
    }

    fn syn_segment(&mut self, now: Instant) -> TcpRepr<'static> {
        let mut flags = TcpFlags::SYN;
        let synack = self.state == State::SynReceived;
        if synack {
            flags |= TcpFlags::ACK;
        }
        let offer_ws = if synack {
            self.wscale_ok
        } else {
            self.cfg.window_scaling
        };
        let offer_ts = if synack {
            self.ts.is_some()
        } else {
            self.cfg.timestamps
        };
        let offer_sack = if synack { self.sack_ok } else { self.cfg.sack };
        let offset = isn::timestamp_offset(&self.cfg.secret, self.local, self.remote);
        let timestamp = offer_ts.then(|| TcpTimestamp {
            tsval: self.ts_clock(now, offset),
            tsecr: self.ts.map_or(0, |t| t.recent),
        });
        if synack {
            self.last_ack_sent = self.rcv_nxt;
        }
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            flags,
            seq_number: self.iss,
            ack_number: if synack { self.rcv_nxt } else { SeqNumber(0) },
            window_len: self.window_to_advertise(true),
            urgent_pointer: 0,
            max_seg_size: Some(self.cfg.mss),
            window_scale: offer_ws.then_some(if synack {
                self.rcv_wscale
            } else {
                self.cfg.rcv_wscale()
            }),
            sack_permitted: offer_sack,
            sack_ranges: SackBlocks::new(),
            timestamp,
            payload: &[],
        };
        if self.snd_max == self.iss {
            self.snd_max = self.iss + 1;
            if !self.syn_retransmitted {
                self.rtt_probe = Some((self.iss, now));
            }
        } else {
            self.stats.retransmitted_segments += 1;
            // Karn (MUST-18): also when resent for a duplicate SYN, not by the timer, the
            // ACK that follows is ambiguous.
            self.rtt_probe = None;
        }
        self.snd_nxt = self.iss + 1;
        if self.timers.get(Timer::Retransmit).is_none() {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        self.ack.cancel();
        repr
    }

    /// A segment with no payload and the given flags, carrying ACK, window and options.
    fn control_segment(
        &mut self,
        now: Instant,
        flags: TcpFlags,
        seq: SeqNumber,
    ) -> TcpRepr<'static> {
        self.base_repr(now, flags, seq, &[])
    }

    /// The segment's header, with `payload`. Built in place, field by field, and taken
    /// by the caller as it is: SACK blocks gathered in a local and then moved in, or a
    /// payload set after the return, had the segment copied with loads wider than the
    /// stores that wrote it, a store-forwarding stall on every segment (2% of a bulk
    /// transfer at 1% loss, then the hottest instruction of `poll_transmit`, `perf annotate`).
    fn base_repr<'b>(
        &mut self,
        now: Instant,
        flags: TcpFlags,
        seq: SeqNumber,
        payload: &'b [u8],
    ) -> TcpRepr<'b> {
        let mut repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: seq,
            ack_number: self.rcv_nxt,
            payload,
            ..TcpRepr::default()
        };
        repr.window_len = self.window_to_advertise(false);
        repr.timestamp = self.ts.map(|t| TcpTimestamp {
            tsval: self.ts_clock(now, t.offset),
            tsecr: t.recent,
        });
        if self.sack_ok {
            let max_blocks = self.max_sack_blocks();
            if let Some(d) = self.ack.dsack.take() {
                repr.sack_ranges.push(d);
            }
            for &b in self.ack.recent_sack.as_slice() {
                if repr.sack_ranges.len() >= max_blocks {
                    break;
                }
                if b.0 > self.rcv_nxt {
                    repr.sack_ranges.push(b);
                }
            }
        }
        self.last_ack_sent = self.rcv_nxt;
        self.ack.sent(now);
        self.timers.stop(Timer::DelayedAck);
        let (urg, urgent_pointer) = self.urgent_for(seq);
        repr.flags = flags | TcpFlags::ACK | urg;
        repr.urgent_pointer = urgent_pointer;
        repr
    }

    /// URG and the urgent pointer of a segment starting at `seq` (see
    /// [`send_urgent`](Self::send_urgent)); urgency ends once SND.UNA reaches SND.UP.
    fn urgent_for(&mut self, seq: SeqNumber) -> (TcpFlags, u16) {
        let Some(up) = self.snd_up else {
            return (TcpFlags::empty(), 0);
        };
        if up <= self.snd_una {
            self.snd_up = None;
            return (TcpFlags::empty(), 0);
        }
        if up <= seq {
            return (TcpFlags::empty(), 0);
        }
        let ahead = (up - seq).min(usize::from(u16::MAX));
        (TcpFlags::URG, ahead as u16)
    }

    /// The largest payload for a data segment right now: SMSS less the SACK blocks that
    /// [`base_repr`](Self::base_repr) will put in it, so that options and payload together
    /// stay within the MSS (RFC 9293 section 3.7.1: the MSS counts data only, but SMSS is
    /// what the peer's buffers and path were sized for, and RFC 6691 says options come out
    /// of it).
    fn payload_limit(&self) -> usize {
        let mut limit = self.smss();
        if self.sack_ok && (self.ack.dsack.is_some() || !self.ack.recent_sack.is_empty()) {
            let blocks = (self.ack.recent_sack.len() + usize::from(self.ack.dsack.is_some()))
                .min(self.max_sack_blocks());
            limit = limit.saturating_sub(4 + 8 * blocks);
        }
        limit.max(1)
    }

    /// How many SACK blocks fit in the 40 bytes of options beside the others a data segment
    /// carries: 3 with timestamps (10 + 2 padding), 4 without (RFC 2018 section 3).
    fn max_sack_blocks(&self) -> usize {
        if self.ts.is_some() {
            3
        } else {
            4
        }
    }

    fn data_path<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Option<TcpRepr<'b>> {
        if !self.state.is_synchronized() && self.state != State::SynReceived {
            return None;
        }
        // Restart after idle (RFC 5681 section 4.1): idle longer than an RTO.
        if self.snd_una == self.snd_max
            && self.has_unsent_data()
            && now - self.last_send_at > self.rtt.rto()
            && self.stats.segments_sent > 0
        {
            let smss = self.smss();
            self.cc.on_idle_restart(smss);
        }
        // 1. A retransmission that loss recovery asked for.
        if let Some(seq) = self.loss.rexmit_next.take() {
            if seq >= self.snd_una && seq < self.snd_max {
                return Some(self.retransmit_at(now, seq, buf));
            }
        }
        // 1b. A tail loss probe (RFC 8985 section 7.3).
        if core::mem::take(&mut self.tlp.due) && self.snd_una != self.snd_max {
            let (seq, len, retrans) = self.loss_probe_range(buf.len());
            if self.tlp.end.is_some() && self.tlp.is_retrans {
                // The last probe's episode never settled (acknowledged, but no D-SACK and
                // no later ACK): count it as the loss it may have repaired.
                self.tlp_repaired_loss(now);
            }
            self.stats.tlp_probes_sent += 1;
            self.tlp.is_retrans = retrans;
            self.tlp.flight = self.flight_size();
            self.tlp.rtt_sampled = false;
            let repr = self.emit_range(now, seq, len, buf);
            self.tlp.end = Some(self.snd_max);
            // No PTO after a probe (at most one in flight); the RTO stands behind it.
            self.timers.stop(Timer::LossProbe);
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            return Some(repr);
        }
        if self.loss.recovery.is_some() && self.sack_ok {
            if let Some((seq, len)) = self.sack_recovery_range(buf.len()) {
                return Some(self.emit_range(now, seq, len, buf));
            }
        }
        // 2. New data (or go-back-N resends after an RTO) within the windows.
        if let Some((seq, len)) = self.new_data_range(now, buf.len()) {
            return Some(self.emit_range(now, seq, len, buf));
        }
        // 3. Zero-window probe: one byte past the window would be lost data if accepted
        //    wrongly; probe with SEG.SEQ = SND.UNA - 1 and no data, which every receiver
        //    must answer with an ACK carrying its window (SHLD-29, MUST-36).
        if self.probes.probe_now {
            self.probes.probe_now = false;
            self.stats.window_probes_sent += 1;
            self.arm_persist(now, true);
            return Some(self.control_segment(now, TcpFlags::empty(), self.snd_una - 1));
        }
        // 4. Keep-alive probe: SEG.SEQ = SND.NXT - 1, no data (SHLD-12).
        if self.probes.keepalive_now {
            self.probes.keepalive_now = false;
            self.stats.keepalive_probes_sent += 1;
            return Some(self.control_segment(now, TcpFlags::empty(), self.snd_una - 1));
        }
        // 5. A pure ACK.
        if self.ack.due {
            let seq = self.pure_ack_seq();
            return Some(self.control_segment(now, TcpFlags::empty(), seq));
        }
        None
    }

    /// The sequence number of a segment that carries neither data nor SYN nor FIN (a pure
    /// ACK, a window update): the highest sequence number sent (SND.MAX), capped at the
    /// right edge of the peer's window as Linux caps it (`tcp_acceptable_seq`).
    ///
    /// Not SND.NXT: an RTO sets SND.NXT back to SND.UNA to resend (go-back-N), and an ACK
    /// sent from there lies below what the peer may already hold. The peer must then drop
    /// it unread, acknowledgment and window included (RFC 9293 section 3.10.7.4; the
    /// window-update rule, SND.WL1 < SEG.SEQ, rejects its window too). Two engines in that
    /// state answered each other's old ACKs once per round trip and never learned that
    /// their data had arrived, until R2 ended the connection (found by the `tcp_pair` fuzz
    /// target). SND.MAX is at or past the peer's RCV.NXT whenever the peer has seen no more
    /// than we sent, and within its window unless the window shrank, hence the cap.
    fn pure_ack_seq(&self) -> SeqNumber {
        let window_end = self.snd_una + self.snd_wnd;
        if self.snd_max <= window_end {
            self.snd_max
        } else {
            window_end
        }
    }

    fn sack_recovery_range(&self, buf_len: usize) -> Option<(SeqNumber, usize)> {
        let smss = self.smss();
        let cwnd = self.cc.cwnd();
        if self.pipe() + smss > cwnd {
            return None;
        }
        // NextSeg rule 1: the first lost, unsacked, not yet retransmitted byte.
        let from = self.loss.high_rxt.max(self.snd_una);
        let (s, e, lost) = self.next_hole_lost(from)?;
        if !lost {
            return None;
        }
        // A hole can end past the data: at the FIN, which has no byte to copy.
        let fin_seq = self.fin_seq();
        if s > fin_seq {
            return None;
        }
        let len = (e - s)
            .min(fin_seq - s)
            .min(self.payload_limit())
            .min(buf_len);
        if len == 0 && !(self.send.fin_queued && s == fin_seq) {
            return None; // nothing to resend here: never emit an empty "retransmission"
        }
        Some((s, len))
    }

    /// A retransmission starting at `seq`: up to one segment, never past SND.MAX.
    fn retransmit_at<'b>(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        buf: &'b mut [u8],
    ) -> TcpRepr<'b> {
        let data_end = self.fin_seq().min(self.snd_max);
        let len = (data_end - seq).min(self.payload_limit()).min(buf.len());
        self.emit_range(now, seq, len, buf)
    }

    fn new_data_range(&mut self, now: Instant, buf_len: usize) -> Option<(SeqNumber, usize)> {
        // Skip SACKed ranges when resending after an RTO.
        if self.snd_nxt < self.snd_max {
            if let Some(end) = self.scoreboard.sacked_range_end(self.snd_nxt) {
                self.snd_nxt = end.min(self.snd_max);
            }
        }
        let fin_seq = self.fin_seq();
        let unsent = fin_seq - self.snd_nxt;
        // SND.NXT sits on the FIN's sequence number: the FIN is (re)sendable.
        let fin_due = self.send.fin_queued && self.snd_nxt == fin_seq;
        if unsent == 0 && !fin_due {
            return None;
        }
        let smss = self.smss();
        // The usable window: min(cwnd, rwnd) less what is outstanding, plus the limited
        // transmit allowance of RFC 3042 (one segment per early duplicate ACK, up to two).
        let mut cwnd = self.cc.cwnd();
        if self.loss.recovery.is_none() && self.loss.dupacks > 0 && self.loss.dupacks < DUP_THRESH {
            cwnd += self.loss.dupacks as usize * smss;
        }
        let outstanding = if self.loss.recovery.is_some() && self.sack_ok {
            self.pipe()
        } else {
            self.snd_nxt - self.snd_una
        };
        let by_rwnd = (self.snd_una + self.snd_wnd) - self.snd_nxt;
        let by_cwnd = cwnd.saturating_sub(outstanding);
        let limit = self.payload_limit().min(buf_len);
        let len = unsent.min(limit).min(by_rwnd).min(by_cwnd);
        let is_retransmission = self.snd_nxt < self.snd_max;

        if unsent > 0 && len == 0 {
            // Nothing fits. A zero window with nothing outstanding needs the persist timer
            // (RFC 9293 section 3.8.6.1).
            if self.snd_wnd == 0
                && self.snd_una == self.snd_max
                && self.timers.get(Timer::Persist).is_none()
            {
                self.arm_persist(now, false);
            }
            return None;
        }
        if len > 0 && len < unsent.min(limit) && !is_retransmission {
            // Sender-side SWS avoidance (RFC 9293 section 3.8.6.2.1, MUST-38): a window-
            // limited short segment only if it is at least half the largest window offered.
            if len < self.max_snd_wnd / 2 && !self.probes.sws_override {
                if self.snd_una == self.snd_max && self.timers.get(Timer::Persist).is_none() {
                    // Nothing in flight will bring an ACK: arm the override timeout.
                    self.arm_persist(now, false);
                }
                return None;
            }
        }
        if len > 0 && len < limit && len == unsent && !is_retransmission {
            // Nagle (SHLD-7): with data outstanding, hold back a short final segment.
            let has_unacked = self.snd_una != self.snd_max;
            if self.cfg.nagle && has_unacked && !self.send.fin_queued {
                return None;
            }
        }
        Some((self.snd_nxt, len))
    }

    /// Emits `len` bytes from `seq`, with FIN if they reach the end of a closed stream, and
    /// advances SND.NXT / SND.MAX.
    fn emit_range<'b>(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        len: usize,
        buf: &'b mut [u8],
    ) -> TcpRepr<'b> {
        let fin_seq = self.fin_seq();
        let offset = seq - self.send.base();
        // Callers size `len` from the buffer; the clamp keeps a slip from reading past it.
        invariant!(
            seq >= self.send.base() && offset + len <= self.send.len(),
            "a segment lies within the send buffer",
            "seq {seq} len {len} base {} buffered {} {self:?}",
            self.send.base(),
            self.send.len()
        );
        let len = len.min(self.send.len().saturating_sub(offset));
        self.send.copy_out(offset, &mut buf[..len]);
        let end = seq + len;
        let with_fin = self.send.fin_queued && end == fin_seq;
        let mut flags = TcpFlags::empty();
        if len > 0 && end == fin_seq {
            flags |= TcpFlags::PSH;
        }
        if with_fin {
            flags |= TcpFlags::FIN;
            match self.state {
                State::Established | State::SynReceived => self.set_state(State::FinWait1),
                State::CloseWait => self.set_state(State::LastAck),
                _ => {}
            }
        }
        let seg_end = end + usize::from(with_fin);
        let new_data = seq >= self.snd_max && seg_end > seq;
        // The pair of the window the peer offered: bytes never sent before lie within it
        // (a retransmission may not: the window can shrink after the data was sent).
        invariant!(
            end <= self.snd_max || end <= self.snd_una + self.snd_wnd,
            "new data lies within the peer's window",
            "{seq} + {len}, SND.UNA {} SND.WND {} SND.MAX {}",
            self.snd_una,
            self.snd_wnd,
            self.snd_max
        );
        if seq < self.snd_max {
            self.stats.retransmitted_segments += 1;
            if seq == self.snd_una && self.loss.recovery.is_some() {
                self.loss.rexmit_mark = Some((seq, self.snd_max));
            }
            if self.loss.recovery.is_some() {
                self.loss.last_rexmit = Some((seq, seg_end.min(self.snd_max), self.snd_max));
            }
            self.loss.high_rxt = self.loss.high_rxt.max(seg_end.min(self.snd_max));
            if self
                .rtt_probe
                .is_some_and(|(s, _)| s.in_range(seq, seg_end))
            {
                self.rtt_probe = None; // Karn's algorithm
            }
        } else if self.rtt_probe.is_none() && self.ts.is_none() && seg_end > seq {
            self.rtt_probe = Some((seq, now));
        }
        if seq <= self.snd_nxt {
            self.snd_nxt = self.snd_nxt.max(seg_end);
        }
        self.snd_max = self.snd_max.max(seg_end);
        if self.timers.get(Timer::Retransmit).is_none() && self.snd_una != self.snd_max {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        // The user timeout bounds how long transmitted data may stay unacknowledged (RFC
        // 5482 section 2): its clock starts when the data is sent, not at the first
        // retransmission as R2's does.
        if let Some(ut) = self.cfg.user_timeout {
            if self.timers.get(Timer::GiveUp).is_none() && self.snd_una != self.snd_max {
                self.timers.set(Timer::GiveUp, now + ut);
            }
        }
        if new_data {
            // RFC 8985 section 7.2: (re)start the PTO after sending new data.
            self.schedule_loss_probe(now);
        }
        self.timers.stop(Timer::Persist);
        self.probes.sws_override = false;
        self.base_repr(now, flags, seq, &buf[..len])
    }
}

fn overlaps(a: (SeqNumber, SeqNumber), b: (SeqNumber, SeqNumber)) -> bool {
    a.0 < b.1 && b.0 < a.1
}
