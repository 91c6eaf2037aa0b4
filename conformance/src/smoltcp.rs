//! [`StackUnderTest`] over smoltcp 0.14: one `tcp::Socket` on a smoltcp `Interface` whose
//! device is an in-memory IP link (medium IP: no Ethernet, no ARP). The peer's segments are
//! wrapped in an IPv4 header from [`PEER_ADDR`] to [`STACK_ADDR`] and queued on the device;
//! the IPv4 packets the interface transmits are taken off it and their TCP segments handed
//! to the runner. Time is the runner's virtual time, as smoltcp's `Instant` (microseconds).
//!
//! smoltcp's socket API is not BSD's, so the calls map as follows: `send` is `send_slice`
//! (0 bytes taken: `EAGAIN`), `recv` is `recv_slice` (end of stream: 0 bytes), `shutdown()`
//! and `close()` are both smoltcp's `close()` (it has only the half-close: the application
//! simply stops reading), `abort()` is `abort()`, `nagle` is `set_nagle_enabled`,
//! `user_timeout` is `set_timeout`, and `keepalive(IDLE, INTERVAL, COUNT)` is
//! `set_keep_alive(IDLE)` (one interval for the first probe and the next) with
//! `set_timeout(IDLE + INTERVAL * COUNT)` as the give-up; `keepalive(on)` (the stack's own
//! defaults) gives it two hours, 75 s and 9 (smoltcp has no default: `set_keep_alive` takes
//! the interval, and these are what an application following RFC 9293 MUST-28 passes).
//! smoltcp has no call that reads
//! urgent data or an ICMP soft error and no R1 notification: scripts that need them are not
//! applicable (see [`StackUnderTest::cannot`]).
//!
//! smoltcp keeps no error for the application and queues no events, so the events are what
//! the socket's state implies, with the stimulus that moved it: `Connected` when it first
//! reaches a synchronized state, `PeerClosed` when it first reaches a state that follows the
//! peer's FIN, and on the way to CLOSED `Failed(ECONNREFUSED)` (from SYN-SENT on an RST),
//! `Failed(ECONNRESET)` (from another state on an RST), `Failed(ETIMEDOUT)` (on a timer,
//! out of any state but TIME-WAIT: smoltcp's `timeout`), then `Closed`. smoltcp's own answer
//! to every `send` and `recv` after such an end is `InvalidState`, so each one reports the
//! failure (until the socket is opened again).
//!
//! What of the suite's configuration smoltcp cannot be set to is listed by
//! [`StackUnderTest::unhonoured`]; [`baseline_unhonoured`] is what holds for every script.

use core::cell::Cell;
use std::collections::VecDeque;

use sansnet_stack::tcp::{CongestionAlgorithm, State};
use sansnet_stack::time::{Duration, Instant};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};

use crate::engine::tcp_config;
use crate::host::{icmp_message, ipv4_header};
use crate::runner::{CallResult, CallValue, StackUnderTest};
use crate::script::{Action, Call, IcmpKind, Payload, Setup, StackConfig};
use crate::segment::{PEER_ADDR, SERVER_PORT, STACK_ADDR};

/// The port smoltcp connects from (smoltcp needs one given; the engine's).
pub const CLIENT_PORT: u16 = crate::engine::ENGINE_CLIENT_PORT;
/// The interface's random seed: smoltcp draws its ISS from it, so every run is the same.
const RANDOM_SEED: u64 = 0x5a5a_0015;
/// Packets the device holds in each direction at most; a stack that sends more than this
/// without the runner reading is reported by the runner, not buffered without bound.
const DEVICE_QUEUE_PACKETS: usize = 4096;

thread_local! {
    /// The time of the current poll in milliseconds, for the TSval generator: smoltcp's is a
    /// plain `fn() -> u32`, so the clock it reads is this thread's (one script, one thread).
    static NOW_MS: Cell<u32> = const { Cell::new(0) };
}

/// TSval: milliseconds of the runner's clock (RFC 7323 section 5.4 asks for 1 ms to 1 s).
fn tsval() -> u32 {
    NOW_MS.with(Cell::get)
}

fn smol_now(now: Instant) -> SmolInstant {
    SmolInstant::from_micros((now.as_nanos() / 1000) as i64)
}

fn smol_duration(d: Duration) -> SmolDuration {
    SmolDuration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn from_smol(t: SmolInstant) -> Instant {
    Instant::from_nanos((t.total_micros().max(0) as u64).saturating_mul(1000))
}

/// An IP link in memory: the runner fills `rx` and drains `tx`.
#[derive(Debug, Default)]
struct MemoryDevice {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    mtu: usize,
}

#[derive(Debug)]
struct Rx(Vec<u8>);

#[derive(Debug)]
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        self.0.push_back(packet);
        r
    }
}

impl Device for MemoryDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<Tx<'_>> {
        // A full queue is a device that cannot take more: smoltcp keeps the segment.
        (self.tx.len() < DEVICE_QUEUE_PACKETS).then_some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// What moved the socket last: it decides which event a move to CLOSED is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stimulus {
    /// A segment from the peer, and whether it carried RST.
    Segment { rst: bool },
    /// Time passing.
    Timer,
    /// An application call (abort, close).
    Call,
}

/// smoltcp 0.14, one TCP socket.
pub struct SmoltcpUnderTest {
    iface: Interface,
    dev: MemoryDevice,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    /// When smoltcp next wants a poll (never before the last poll's time).
    next: Option<Instant>,
    now: Instant,
    last_state: tcp::State,
    connected: bool,
    peer_closed: bool,
    events: VecDeque<String>,
    /// How the connection failed, while the socket stays closed after it.
    failure: Option<String>,
    ip_ident: u16,
    unhonoured: Vec<String>,
    /// The give-up smoltcp's `timeout` holds when keep-alive does not: the user timeout.
    user_timeout: Option<Duration>,
    /// Whether the configuration asks for window scaling and SACK (smoltcp offers both in
    /// every SYN it opens with).
    window_scaling: bool,
    sack: bool,
}

impl core::fmt::Debug for SmoltcpUnderTest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmoltcpUnderTest")
            .field("now", &self.now)
            .field("state", &self.last_state)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The sansnet state for smoltcp's (the same eleven RFC 9293 states).
pub fn map_state(s: tcp::State) -> State {
    match s {
        tcp::State::Closed => State::Closed,
        tcp::State::Listen => State::Listen,
        tcp::State::SynSent => State::SynSent,
        tcp::State::SynReceived => State::SynReceived,
        tcp::State::Established => State::Established,
        tcp::State::FinWait1 => State::FinWait1,
        tcp::State::FinWait2 => State::FinWait2,
        tcp::State::CloseWait => State::CloseWait,
        tcp::State::Closing => State::Closing,
        tcp::State::LastAck => State::LastAck,
        tcp::State::TimeWait => State::TimeWait,
    }
}

/// What smoltcp cannot be set to in the suite's baseline configuration: every script runs
/// with these differences.
pub fn baseline_unhonoured() -> Vec<String> {
    unhonoured(&crate::script::baseline_config())
}

/// The configuration items smoltcp cannot be set to, for a script's effective configuration.
fn unhonoured(c: &StackConfig) -> Vec<String> {
    let cfg = tcp_config(c);
    let mut out = Vec::new();
    let mut no = |item: String, why: &str| out.push(format!("{item}: {why}"));
    if !cfg.window_scaling {
        no(
            "wscale=off".into(),
            "smoltcp always offers window scaling in an active open and answers it in a passive one (the judge leaves the option out of its comparison of smoltcp's SYN)",
        );
    }
    if !cfg.sack {
        no(
            "sack=off".into(),
            "smoltcp always offers SACK-permitted in an active open and answers it in a passive one (the judge leaves the option out of its comparison of smoltcp's SYN)",
        );
    }
    if cfg.default_send_mss != 536 {
        no(
            format!("default_mss={}", cfg.default_send_mss),
            "smoltcp's is 536",
        );
    }
    if cfg.rto_initial != Duration::from_secs(1) {
        no(
            format!("rto_initial={}", secs(cfg.rto_initial)),
            "smoltcp's is 1 s",
        );
    }
    if cfg.rto_min != Duration::from_secs(1) {
        no(format!("rto_min={}", secs(cfg.rto_min)), "smoltcp's is 1 s");
    }
    if cfg.rto_max != Duration::from_secs(60) {
        no(
            format!("rto_max={}", secs(cfg.rto_max)),
            "smoltcp's is 60 s",
        );
    }
    no(
        format!("iw={}", cfg.initial_window_segments),
        "smoltcp's Reno starts with cwnd = 2048 bytes",
    );
    no(
        format!("msl={}", secs(cfg.msl)),
        "smoltcp's TIME-WAIT lasts 10 s",
    );
    no(
        format!(
            "r1={}, r2={}, r2_syn={}",
            cfg.r1_retries,
            secs(cfg.r2_data),
            secs(cfg.r2_syn)
        ),
        "smoltcp has no R1/R2: it retransmits until its optional timeout (set_timeout), which \
         a script's own `r2=` sets, as the connection's R2 in time (RFC 9293 3.8.3 (d))",
    );
    if cfg.challenge_ack_limit_per_sec != 1 {
        no(
            format!("challenge_ack_limit={}", cfg.challenge_ack_limit_per_sec),
            "smoltcp sends at most one challenge ACK per second",
        );
    }
    if cfg.rack {
        no("rack=on".into(), "smoltcp has no RACK");
    }
    if cfg.tlp {
        no("tlp=on".into(), "smoltcp has no tail loss probe");
    }
    if cfg.abc_limit_segments != 1 {
        no(
            format!("abc={}", cfg.abc_limit_segments),
            "smoltcp's Reno grows cwnd by at most one MSS per ACK",
        );
    }
    if c.iss.is_some() {
        no(
            "iss".into(),
            "smoltcp draws its ISS from the interface's random seed",
        );
    }
    out
}

fn secs(d: Duration) -> String {
    crate::script::fmt_seconds(d)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

impl SmoltcpUnderTest {
    fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.handle)
    }

    fn socket_ref(&self) -> &tcp::Socket<'static> {
        self.sockets.get::<tcp::Socket<'static>>(self.handle)
    }

    /// Polls the interface at `now`, then derives events from what the state did.
    fn drive(&mut self, now: Instant, stimulus: Stimulus) {
        if now > self.now {
            self.now = now;
        }
        let ts = smol_now(self.now);
        NOW_MS.with(|c| c.set((self.now.as_nanos() / 1_000_000) as u32));
        self.iface.poll(ts, &mut self.dev, &mut self.sockets);
        self.next = self.iface.poll_at(ts, &self.sockets).map(|t| {
            // smoltcp says "now" (time 0) when it has something to send at once; after a
            // full poll that is only what a full device queue held back.
            if t <= ts {
                self.now + Duration::from_micros(1)
            } else {
                from_smol(t)
            }
        });
        self.observe(stimulus);
    }

    fn observe(&mut self, stimulus: Stimulus) {
        let st = self.socket_ref().state();
        let was = self.last_state;
        if map_state(st).is_synchronized() && !self.connected {
            self.connected = true;
            self.events.push_back("Connected".into());
        }
        if map_state(st).after_peer_fin() && !self.peer_closed {
            self.peer_closed = true;
            self.events.push_back("PeerClosed".into());
        }
        if st == tcp::State::Closed && was != tcp::State::Closed {
            let failure = match (was, stimulus) {
                (tcp::State::Listen, _) | (_, Stimulus::Call) => None,
                (tcp::State::SynSent, Stimulus::Segment { rst: true }) => Some("ECONNREFUSED"),
                (_, Stimulus::Segment { rst: true }) => Some("ECONNRESET"),
                (tcp::State::TimeWait, Stimulus::Timer) => None,
                (_, Stimulus::Timer) => Some("ETIMEDOUT"),
                // LAST-ACK (or CLOSING) ends on the ACK of our FIN.
                (_, Stimulus::Segment { rst: false }) => None,
            };
            if let Some(e) = failure {
                self.events.push_back(format!("Failed({e})"));
                self.failure = Some(e.to_string());
            }
            self.events.push_back("Closed".into());
        }
        self.last_state = st;
    }

    fn ip_in(&mut self, proto: u8, payload: &[u8]) {
        if self.dev.rx.len() >= DEVICE_QUEUE_PACKETS {
            return; // a full receive queue drops, as a NIC's ring does
        }
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let mut p =
            ipv4_header(PEER_ADDR, STACK_ADDR, proto, payload.len(), self.ip_ident).to_vec();
        p.extend_from_slice(payload);
        self.dev.rx.push_back(p);
    }

    fn failure(&self) -> Option<String> {
        if self.socket_ref().state() == tcp::State::Closed {
            self.failure.clone()
        } else {
            None
        }
    }

    /// The errno of a send smoltcp refuses, by state.
    fn send_errno(&self) -> String {
        match self.socket_ref().state() {
            // Not yet connected: a non-blocking BSD send would wait.
            tcp::State::SynSent | tcp::State::SynReceived => "EAGAIN",
            tcp::State::Listen => "ENOTCONN",
            tcp::State::Closed if !self.connected => "ENOTCONN",
            _ => "EPIPE",
        }
        .to_string()
    }

    fn set_keep_alive(&mut self, ka: Option<(Duration, Duration, u32)>) {
        let user_timeout = self.user_timeout;
        let s = self.socket();
        match ka {
            Some((idle, interval, count)) => {
                s.set_keep_alive(Some(smol_duration(idle)));
                let give_up = idle.saturating_add(interval.saturating_mul(count));
                s.set_timeout(Some(smol_duration(give_up)));
            }
            None => {
                s.set_keep_alive(None);
                s.set_timeout(user_timeout.map(smol_duration));
            }
        }
    }
}

impl StackUnderTest for SmoltcpUnderTest {
    fn start(now: Instant, setup: Setup, config: &StackConfig) -> Result<Self, String> {
        let cfg = tcp_config(config);
        let mut dev = MemoryDevice {
            // smoltcp's MSS option is its IP MTU less 40.
            mtu: usize::from(cfg.mss) + 40,
            ..MemoryDevice::default()
        };
        let mut ic = IfaceConfig::new(HardwareAddress::Ip);
        ic.random_seed = RANDOM_SEED;
        let ts = smol_now(now);
        let mut iface = Interface::new(ic, &mut dev, ts);
        iface.update_ip_addrs(|a| {
            // The vector holds IFACE_MAX_ADDR_COUNT (at least one) addresses.
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(STACK_ADDR), 24));
        });
        // smoltcp panics above 1 GiB; the suite's buffers are far smaller.
        let rcvbuf = cfg.recv_buffer_bytes.min(1 << 30);
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; rcvbuf]),
            tcp::SocketBuffer::new(vec![0u8; cfg.send_buffer_bytes]),
        );
        socket.set_nagle_enabled(cfg.nagle);
        socket.set_ack_delay(
            cfg.delayed_ack
                .then(|| smol_duration(cfg.delayed_ack_timeout)),
        );
        socket.set_congestion_control(match cfg.congestion {
            CongestionAlgorithm::Cubic => tcp::CongestionControl::Cubic,
            _ => tcp::CongestionControl::Reno,
        });
        if cfg.timestamps {
            socket.set_tsval_generator(Some(tsval));
        }
        let mut sockets = SocketSet::new(Vec::new());
        let handle = sockets.add(socket);
        let mut me = SmoltcpUnderTest {
            iface,
            dev,
            sockets,
            handle,
            next: None,
            now,
            last_state: tcp::State::Closed,
            connected: false,
            peer_closed: false,
            events: VecDeque::new(),
            failure: None,
            ip_ident: 0,
            unhonoured: unhonoured(config),
            user_timeout: cfg.user_timeout.or(config.r2),
            window_scaling: cfg.window_scaling,
            sack: cfg.sack,
        };
        if let Some(ka) = cfg.keep_alive {
            me.set_keep_alive(Some((ka.idle, ka.interval, ka.count)));
        } else if let Some(t) = me.user_timeout {
            me.socket().set_timeout(Some(smol_duration(t)));
        }
        match setup {
            Setup::Listen => me
                .socket()
                .listen(IpListenEndpoint {
                    addr: Some(IpAddress::Ipv4(STACK_ADDR)),
                    port: SERVER_PORT,
                })
                .map_err(|e| format!("listen: {e}"))?,
            Setup::Connect => {
                let remote = IpEndpoint::new(IpAddress::Ipv4(PEER_ADDR), SERVER_PORT);
                let s = me.sockets.get_mut::<tcp::Socket<'static>>(me.handle);
                s.connect(me.iface.context(), remote, CLIENT_PORT)
                    .map_err(|e| format!("connect: {e}"))?;
            }
            Setup::Closed => {}
        }
        me.last_state = me.socket_ref().state();
        me.drive(now, Stimulus::Call);
        Ok(me)
    }

    fn name(&self) -> &'static str {
        "smoltcp"
    }

    fn supports(&self, need: &str) -> bool {
        // ICMP errors reach smoltcp's interface as real ICMP messages (its TCP socket does
        // nothing with them, which the scripts then judge). TIME-WAIT reopening: smoltcp's
        // socket in TIME-WAIT is one connection's, not a listener's.
        matches!(need, "icmp")
    }

    fn cannot(&self, action: &Action) -> Option<String> {
        match action {
            Action::Call(Call::UrgentPending | Call::SendUrgent(_), _) => {
                Some("smoltcp has no urgent-data call (it does not implement URG)".into())
            }
            Action::Call(Call::SoftError, _) => {
                Some("smoltcp has no call that reads an ICMP soft error".into())
            }
            Action::ExpectEvent(e) if e == "PathTrouble" || e == "Urgent" => {
                Some(format!("smoltcp has no way to report `{e}`"))
            }
            Action::ExpectEvent(e) if e == "Failed(ECONNABORTED)" => {
                Some("smoltcp reports no error to an application that aborted".into())
            }
            _ => None,
        }
    }

    fn unhonoured(&self) -> Vec<String> {
        self.unhonoured.clone()
    }

    fn syn_options_regardless(&self) -> Vec<u8> {
        let mut k = Vec::new();
        if !self.window_scaling {
            k.push(3);
        }
        if !self.sack {
            k.push(4);
        }
        k
    }

    fn inject(&mut self, now: Instant, segment: &[u8]) {
        let rst = segment.len() >= 14 && segment[13] & 0x04 != 0;
        self.ip_in(6, segment);
        self.drive(now, Stimulus::Segment { rst });
    }

    fn inject_icmp(&mut self, now: Instant, kind: IcmpKind, quoted: &[u8]) {
        let m = icmp_message(kind, quoted);
        self.ip_in(1, &m);
        self.drive(now, Stimulus::Segment { rst: false });
    }

    fn poll_output(&mut self, _now: Instant) -> Option<Vec<u8>> {
        loop {
            let p = self.dev.tx.pop_front()?;
            if p.len() < 20 || p[0] >> 4 != 4 || p[9] != 6 {
                continue; // not TCP over IPv4: nothing the scripts look at
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
            if total < ihl {
                continue;
            }
            return Some(p[ihl..total].to_vec());
        }
    }

    fn poll_event(&mut self) -> Option<String> {
        self.events.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.next
    }

    fn advance(&mut self, now: Instant) {
        self.drive(now, Stimulus::Timer);
    }

    fn call(&mut self, now: Instant, call: &Call) -> CallResult {
        if now > self.now {
            self.now = now;
        }
        if matches!(call, Call::Send(_) | Call::Recv(_) | Call::Shutdown) {
            if let Some(e) = self.failure() {
                return Err(e);
            }
        }
        let ok = Ok(CallValue::Count(0));
        let r = match call {
            Call::Send(Payload::Bytes(b)) => match self.socket().send_slice(b) {
                Ok(0) if !b.is_empty() => Err("EAGAIN".into()),
                Ok(n) => Ok(CallValue::Count(n)),
                Err(tcp::SendError::InvalidState) => Err(self.send_errno()),
            },
            Call::Send(Payload::Len(_)) => Err("EINVAL".into()),
            Call::Recv(n) => {
                let mut out = vec![0u8; *n];
                let connected = self.connected;
                let s = self.socket();
                match s.recv_slice(&mut out) {
                    Ok(0) if *n > 0 => Err("EAGAIN".into()),
                    Ok(k) => {
                        out.truncate(k);
                        Ok(CallValue::Bytes(out))
                    }
                    // The peer's FIN, everything before it read: end of stream.
                    Err(tcp::RecvError::Finished) => Ok(CallValue::Bytes(Vec::new())),
                    Err(tcp::RecvError::InvalidState) => match s.state() {
                        tcp::State::SynSent | tcp::State::SynReceived => Err("EAGAIN".into()),
                        // A connection that ended reads end of stream, as on BSD.
                        tcp::State::Closed | tcp::State::TimeWait if connected => {
                            Ok(CallValue::Bytes(Vec::new()))
                        }
                        _ => Err("ENOTCONN".into()),
                    },
                }
            }
            Call::Shutdown | Call::Close => {
                self.socket().close();
                ok
            }
            Call::Abort => {
                self.socket().abort();
                ok
            }
            Call::Nagle(on) => {
                self.socket().set_nagle_enabled(*on);
                ok
            }
            Call::KeepAlive(ka) => {
                self.set_keep_alive(*ka);
                ok
            }
            Call::UserTimeout(t) => {
                self.user_timeout = *t;
                if self.socket_ref().keep_alive().is_none() {
                    self.socket().set_timeout(t.map(smol_duration));
                }
                ok
            }
            // smoltcp has no default: set_keep_alive takes the interval. An application that
            // follows RFC 9293 MUST-28 gives it two hours (KeepAlive::default()).
            Call::KeepAliveDefaults => {
                let d = sansnet_stack::tcp::KeepAlive::default();
                self.set_keep_alive(Some((d.idle, d.interval, d.count)));
                ok
            }
            Call::UrgentPending | Call::SoftError | Call::SendUrgent(_) => Err("EOPNOTSUPP".into()),
        };
        self.drive(now, Stimulus::Call);
        r
    }

    fn state(&self) -> Option<State> {
        Some(map_state(self.socket_ref().state()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::run;
    use crate::script::parse;

    const HEADER: &str = "# title: t\n# rfc: 9293 3.10.7.4\n# requirements: none\n# quote: \"q\"\n# setup: established\n";

    fn play(lines: &str) -> Result<Vec<String>, String> {
        let s = parse("t", &format!("{HEADER}{lines}")).map_err(|e| e.to_string())?;
        run::<SmoltcpUnderTest>(&s).map_err(|f| f.to_string())
    }

    #[test]
    fn an_rst_at_rcv_nxt_fails_the_connection_and_every_call_after() {
        let r = play(
            "+0.1 < R seq=1 win=0\n      expect state CLOSED\n      expect event Failed(ECONNRESET)\n      expect event Closed\n      call send(1) = ECONNRESET\n      call recv(1) = ECONNRESET\n",
        );
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn the_peers_fin_is_end_of_stream_and_peer_closed() {
        let r = play(
            "+0.1 < F. seq=1 ack=1 win=65535\n+0.01~0.01 > . seq=1 ack=2\n      expect event PeerClosed\n      call recv(10) = 0\n",
        );
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn what_smoltcp_has_no_call_for_is_not_applicable() {
        let s = parse("t", &format!("{HEADER}      call urgent_pending() = 0\n")).unwrap();
        let v = crate::judge::<SmoltcpUnderTest>(&s);
        assert!(
            matches!(&v, crate::Verdict::Skipped(why) if why.contains("urgent")),
            "{v:?}"
        );
    }

    #[test]
    fn the_baseline_lists_what_smoltcp_cannot_be_set_to() {
        let b = baseline_unhonoured();
        assert!(b.iter().any(|u| u.starts_with("iw=10")), "{b:?}");
        assert!(b.iter().any(|u| u.starts_with("wscale=off")), "{b:?}");
        // The baseline's minimum RTO is smoltcp's own: not listed.
        assert!(!b.iter().any(|u| u.starts_with("rto_min")), "{b:?}");
    }
}
