//! [`StackUnderTest`] over the Linux kernel, **in real time: outside any simulation**. This
//! module reads the wall clock and sleeps; nothing in it runs inside a simulation, and
//! nothing else in the crate calls it but the `linux` stack of the side-by-side runs.
//!
//! Each script gets a lab of its own ([`sansnet_tap::raw::RawLab`]): a network namespace
//! whose kernel has [`STACK_ADDR`] on a TAP device, with the peer ([`PEER_ADDR`]) a
//! permanent neighbour behind it. The runner's segments go out as Ethernet frames written to
//! the TAP descriptor when the script's clock reaches their time (script time 0 is when the
//! lab was up); the kernel's frames are read off the descriptor by the lab's reader thread,
//! stamped, and handed to the runner with their time. `call` lines are socket calls on
//! kernel sockets made inside the namespace (std's `TcpListener` and `TcpStream`, nix for
//! the options std lacks): `send` and `recv` non-blocking, `shutdown()` is
//! `shutdown(SHUT_WR)`, `close()` is `close(2)`, `abort()` is `SO_LINGER` 0 then `close`,
//! `nagle` is `TCP_NODELAY`, `keepalive` is `SO_KEEPALIVE` with `TCP_KEEPIDLE`,
//! `TCP_KEEPINTVL` and `TCP_KEEPCNT`, `user_timeout` is `TCP_USER_TIMEOUT`, `soft_error()`
//! is the last error `SO_ERROR` reported (sockets have `IP_RECVERR`, so that Linux reports
//! soft ICMP errors) while the connection stayed open. The connection's
//! state is its row of the namespace's `/proc/net/tcp`; events are what that state and
//! `SO_ERROR` show (as the host runner derives them).
//!
//! `abort()` in a state where Linux answers an abort with a reset (ESTABLISHED, CLOSE-WAIT,
//! FIN-WAIT-1 and -2, SYN-RECEIVED) is the kernel's own abort of a socket the application
//! still holds (`ss -K`, `SOCK_DESTROY`: `tcp_abort`), so that what the application hears of
//! it can be read: the socket's error becomes ECONNABORTED, the `Failed(ECONNABORTED)` event,
//! and its next call fails with it. On the wire it is the reset a close with `SO_LINGER` 0
//! sends (both are `tcp_send_active_reset`); elsewhere `abort()` is that close.
//!
//! Urgent data: sockets have `SO_OOBINLINE`, so that the urgent octets stay in the stream
//! as RFC 9293 3.8.5 has them (and RFC 6093 section 6 asks of applications that still use
//! urgent data). Linux keeps one mark, the last urgent octet (the urgent pointer less one:
//! `tcp_stdurg` 0, RFC 9293's pointer to the octet after the urgent data). The `Urgent` event
//! is `poll`'s POLLPRI, which Linux raises once the marked octet has arrived (a pointer ahead
//! of the data raises SIGURG at once, but only for a socket with an owner, `F_SETOWN`, which
//! this crate's safe calls cannot set). `urgent_pending()`, how much urgent data is left to
//! read, is 0 without POLLPRI; with it, a `MSG_PEEK` read, which stops before the mark, gives
//! the octets before it, plus the marked one; at the mark (the peek read everything queued,
//! `/proc/net/tcp`'s rx_queue) it is 1.
//!
//! The suite's configuration becomes the namespace's sysctls (`tcp_timestamps`, `tcp_sack`,
//! `tcp_window_scaling`, `tcp_congestion_control`, `tcp_early_retrans` for TLP,
//! `tcp_recovery` for RACK, `tcp_challenge_ack_limit`, `tcp_retries1`), the route's
//! `rto_min` and `initcwnd`, the device's MTU (the MSS), and socket options; what cannot be
//! matched is listed by [`StackUnderTest::unhonoured`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use nix::sys::socket::{self as nixsock, sockopt};
use sansnet_stack::tcp::{CongestionAlgorithm, State};
use sansnet_stack::time::{Duration, Instant};
use sansnet_tap::raw::{RawLab, RawLabConfig};
use sansnet_tap::WallClock;

use crate::engine::tcp_config;
use crate::host::{icmp_message, ipv4_header, HOST_MAC, PEER_MAC};
use crate::runner::{CallResult, CallValue, StackUnderTest};
use crate::script::{Action, Call, IcmpKind, Payload, Setup, StackConfig};
use crate::segment::{CLIENT_PORT, PEER_ADDR, SERVER_PORT, STACK_ADDR};

/// How often the runner looks at the wire while it waits (a real-time stack has no
/// deadlines to tell it); frames carry the time the reader took them, so this is only how
/// soon the runner notices.
const TICK: Duration = Duration::from_millis(2);
/// After writing the peer's segment, how long to wait for the kernel's immediate answer
/// before the runner's next line (which may require quiet). The kernel answers from the
/// device's write path, well within this.
const SETTLE: Duration = Duration::from_micros(500);
/// How often the state is read while time passes and nothing else happens.
const STATE_EVERY: Duration = Duration::from_millis(50);

/// A lab a thread keeps from one script to the next (building one takes a fifth of a second
/// of `ip` commands holding the kernel's locks, which upsets the timing of the scripts other
/// labs run meanwhile). Each script gets a port of its own for the peer, so nothing a
/// previous script left (a connection in TIME-WAIT, one still retransmitting) shares its
/// four-tuple; the kernel's frames for other ports are not shown to the runner.
struct KeptLab {
    raw: RawLab,
    config: RawLabConfig,
    /// The peer port the next script uses in place of [`CLIENT_PORT`].
    next_port: u16,
    /// Whether a script sent the kernel an ICMP error (the route cache may hold a path MTU).
    routes_touched: bool,
}

/// The first port a kept lab gives a script's peer; 20 000 of them, then round again
/// (by then the first script's connections are long gone).
const FIRST_PEER_PORT: u16 = 2_000;
const PEER_PORTS: u16 = 15_000;

thread_local! {
    static KEPT: std::cell::RefCell<Option<KeptLab>> = const { std::cell::RefCell::new(None) };
}

/// Builds this thread's lab now, if it has none: a run builds all its labs before any
/// script starts, so that no script's timing shares the machine with a lab being built.
pub fn prepare_lab() -> Result<(), String> {
    if KEPT.with(|k| k.borrow().is_some()) {
        return Ok(());
    }
    // One lab built at a time: each removes the labs of dead processes first, which two
    // at once would both try.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (cfg, _, _) = lab_config(&crate::script::baseline_config());
    let raw =
        RawLab::create(&cfg, WallClock::start()).map_err(|e| format!("the Linux lab: {e}"))?;
    KEPT.with(|k| {
        *k.borrow_mut() = Some(KeptLab {
            raw,
            config: cfg,
            next_port: FIRST_PEER_PORT,
            routes_touched: false,
        })
    });
    Ok(())
}

/// RFC 1624's incremental update of a checksum for a 16-bit field going from `old` to
/// `new`: a wrong checksum stays wrong by as much (the scripts' `bad-checksum`).
fn checksum_adjust(sum: u16, old: u16, new: u16) -> u16 {
    let mut x = u32::from(!sum) + u32::from(!old) + u32::from(new);
    while x > 0xffff {
        x = (x & 0xffff) + (x >> 16);
    }
    !(x as u16)
}

/// Sets the TCP port at `at` (0: source, 2: destination) of `seg` to `port`, its checksum
/// adjusted.
fn set_port(seg: &mut [u8], at: usize, port: u16) {
    if seg.len() < 18 {
        return;
    }
    let old = u16::from_be_bytes([seg[at], seg[at + 1]]);
    seg[at..at + 2].copy_from_slice(&port.to_be_bytes());
    let sum = u16::from_be_bytes([seg[16], seg[17]]);
    seg[16..18].copy_from_slice(&checksum_adjust(sum, old, port).to_be_bytes());
}

/// The kernel, one connection.
pub struct LinuxUnderTest {
    lab: Option<KeptLab>,
    /// The ports the peer and the kernel's listener use on the wire in place of the
    /// scripts' [`CLIENT_PORT`] and [`SERVER_PORT`] (`setup: listen` and `closed`): a
    /// previous script's connection (orphaned after `close()`, in TIME-WAIT) holds neither.
    peer_port: u16,
    server_port: u16,
    setup: Setup,
    clock: WallClock,
    /// The lab clock's time at script time 0.
    t0: Instant,
    /// The script time of the runner's last call.
    now: Instant,
    frames: VecDeque<(Instant, Vec<u8>)>,
    listener: Option<TcpListener>,
    stream: Option<TcpStream>,
    /// (local port, remote port) of the connection under test.
    key: Option<(u16, u16)>,
    options: SocketOptions,
    last_state: State,
    connected: bool,
    peer_closed: bool,
    events: VecDeque<String>,
    /// The error `SO_ERROR` returned for a `Failed` event: the next `send`, `recv` or
    /// `shutdown` reports it, as the host runner does.
    pending_error: Option<String>,
    /// The last soft error (an ICMP error that leaves the connection open), for
    /// `soft_error()`: with `IP_RECVERR` on, Linux reports one through `SO_ERROR` without
    /// closing the connection, where without it the error stays in the kernel
    /// (`sk_err_soft`), out of the application's reach.
    soft_error: Option<String>,
    ip_ident: u16,
    unhonoured: Vec<String>,
    /// Whether POLLPRI (urgent data pending) was up when last looked at: it rising is the
    /// `Urgent` event.
    urgent_up: bool,
    /// The script time the state was last read at.
    state_read_at: Instant,
    /// The state [`StackUnderTest::state`] last read, when the runner asked: if it is not
    /// the one events were derived from, the next refresh derives them again.
    state_seen: std::cell::Cell<Option<State>>,
}

impl std::fmt::Debug for LinuxUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxUnderTest")
            .field("lab", &self.raw())
            .field("peer_port", &self.peer_port)
            .field("now", &self.now)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Options set on the connection's socket when it exists (connect: before the SYN;
/// listen: on the listener, and again on the accepted socket).
#[derive(Debug, Clone, Copy, Default)]
struct SocketOptions {
    nodelay: bool,
    keep_alive: Option<(Duration, Duration, u32)>,
    user_timeout: Option<Duration>,
    rcvbuf: Option<usize>,
    sndbuf: Option<usize>,
    /// Whether ACKs may be delayed (`delack`): the runner sets `TCP_QUICKACK` to the
    /// opposite before every segment the peer sends ([`LinuxUnderTest::hold_ack_mode`]).
    delayed_ack: bool,
}

/// The errno name of an I/O error (`EAGAIN`, `ECONNRESET` ...).
fn errno_name(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::WouldBlock {
        return "EAGAIN".into();
    }
    match e.raw_os_error() {
        Some(n) => nix_errno(nix::errno::Errno::from_raw(n)),
        None => "EIO".into(),
    }
}

fn lab_err(context: &str, source: io::Error) -> sansnet_tap::Error {
    sansnet_tap::Error::Io {
        context: context.to_string(),
        source,
    }
}

fn nix_errno(e: nix::errno::Errno) -> String {
    format!("{e:?}")
}

/// Linux's `tcp_states.h` numbers, as `/proc/net/tcp` prints them.
fn linux_state(n: u8) -> Option<State> {
    Some(match n {
        1 => State::Established,
        2 => State::SynSent,
        3 | 12 => State::SynReceived,
        4 => State::FinWait1,
        5 => State::FinWait2,
        6 => State::TimeWait,
        7 => State::Closed,
        8 => State::CloseWait,
        9 => State::LastAck,
        10 => State::Listen,
        11 => State::Closing,
        _ => return None,
    })
}

/// `0100000A:1F90` → 10.0.0.1:8080 (the address in host byte order, as the kernel prints
/// it on a little-endian machine; the port big-endian).
fn proc_addr(s: &str) -> Option<SocketAddrV4> {
    let (a, p) = s.split_once(':')?;
    let a = u32::from_str_radix(a, 16).ok()?;
    let p = u16::from_str_radix(p, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(a.to_le_bytes()), p))
}

/// The rows of `/proc/net/tcp`: (local, remote, state).
fn proc_rows(text: &str) -> Vec<(SocketAddrV4, SocketAddrV4, u8)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                proc_addr(f.get(1)?)?,
                proc_addr(f.get(2)?)?,
                u8::from_str_radix(f.get(3)?, 16).ok()?,
            ))
        })
        .collect()
}

fn secs(d: Duration) -> String {
    crate::script::fmt_seconds(d)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// What of the suite's baseline configuration Linux cannot be set to: every script runs with
/// these differences.
pub fn baseline_unhonoured() -> Vec<String> {
    lab_config(&crate::script::baseline_config()).2
}

/// The sysctls, route options and MTU for a script's configuration, and what of it Linux
/// cannot be set to.
fn lab_config(c: &StackConfig) -> (RawLabConfig, SocketOptions, Vec<String>) {
    let cfg = tcp_config(c);
    let on = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut sysctls = vec![
        ("net.ipv4.tcp_timestamps".to_string(), on(cfg.timestamps)),
        ("net.ipv4.tcp_sack".to_string(), on(cfg.sack)),
        ("net.ipv4.tcp_dsack".to_string(), on(cfg.sack)),
        (
            "net.ipv4.tcp_window_scaling".to_string(),
            on(cfg.window_scaling),
        ),
        ("net.ipv4.tcp_ecn".to_string(), "0".into()),
        (
            "net.ipv4.tcp_congestion_control".to_string(),
            match cfg.congestion {
                CongestionAlgorithm::Cubic => "cubic",
                _ => "reno",
            }
            .into(),
        ),
        // 3: tail loss probes (and RACK's reordering timer); 0: none.
        (
            "net.ipv4.tcp_early_retrans".to_string(),
            if cfg.tlp { "3" } else { "0" }.into(),
        ),
        ("net.ipv4.tcp_recovery".to_string(), on(cfg.rack)),
        (
            "net.ipv4.tcp_challenge_ack_limit".to_string(),
            cfg.challenge_ack_limit_per_sec.to_string(),
        ),
        (
            "net.ipv4.tcp_retries1".to_string(),
            cfg.r1_retries.to_string(),
        ),
        // The RTO's ceiling (RFC 6298 2.5), a sysctl since Linux 6.15 (120 s before).
        (
            "net.ipv4.tcp_rto_max_ms".to_string(),
            cfg.rto_max.as_millis().to_string(),
        ),
        // Linux gives up on a SYN after a number of retransmissions, not a time: as many as
        // fit in R2 for a SYN with the RTO doubling from its initial value (7 for 3 minutes,
        // the last at 127 s; Linux's own default, 6, gives up after 127 s, short of RFC 9293
        // 3.8.3's three minutes). Linux then gives up at that last one's timeout.
        (
            "net.ipv4.tcp_syn_retries".to_string(),
            syn_retries(cfg.rto_initial, cfg.rto_max, cfg.r2_syn).to_string(),
        ),
        // Since 6.5 Linux retransmits a SYN after 1 s four times before it backs off
        // (tcp_syn_linear_timeouts = 4); the suite's baseline is RFC 6298 5.5's doubling.
        ("net.ipv4.tcp_syn_linear_timeouts".to_string(), "0".into()),
        // No F-RTO (RFC 5682, an option the suite's baseline does not have): after an RTO,
        // the ACK of the retransmission brings the rest of the flight again (RFC 5681 3.1's
        // go-back-N), not new data that would test whether the timeout was spurious.
        ("net.ipv4.tcp_frto".to_string(), "0".into()),
        // An RST does not end TIME-WAIT (RFC 1337's remedy for TIME-WAIT assassination),
        // as the suite's scripts expect; Linux's default (0) lets it.
        ("net.ipv4.tcp_rfc1337".to_string(), "1".into()),
        // Nothing learned from one script's connection shapes the next's.
        ("net.ipv4.tcp_no_metrics_save".to_string(), "1".into()),
        // Corking holds a small write back while earlier data sits in the device queue: a
        // latency optimisation no RFC describes.
        ("net.ipv4.tcp_autocorking".to_string(), "0".into()),
    ];
    // The namespace's keep-alive defaults, for a socket that turns keep-alive on alone
    // (SO_KEEPALIVE), when the script gives `keepalive_*` (which `keepalive=off` makes only
    // defaults); otherwise the kernel's own, which a new namespace has (`start` builds one
    // when a script before set them).
    if c.keepalive_idle.is_some() || c.keepalive_interval.is_some() || c.keepalive_count.is_some() {
        let d = cfg.keep_alive.unwrap_or_default();
        for (name, v) in [
            (
                "tcp_keepalive_time",
                c.keepalive_idle.unwrap_or(d.idle).as_secs(),
            ),
            (
                "tcp_keepalive_intvl",
                c.keepalive_interval.unwrap_or(d.interval).as_secs(),
            ),
            (
                "tcp_keepalive_probes",
                u64::from(c.keepalive_count.unwrap_or(d.count)),
            ),
        ] {
            sysctls.push((format!("net.ipv4.{name}"), v.max(1).to_string()));
        }
    }
    let route_options = vec![
        "rto_min".to_string(),
        format!("{}ms", cfg.rto_min.as_millis()),
        "initcwnd".to_string(),
        cfg.initial_window_segments.to_string(),
    ];
    let lab = RawLabConfig {
        kernel_addr: STACK_ADDR,
        kernel_mac: HOST_MAC.0,
        peer_addr: PEER_ADDR,
        peer_mac: PEER_MAC.0,
        prefix_len: 24,
        // Linux's MSS option is its MTU less 40.
        mtu: usize::from(cfg.mss) + 40,
        sysctls,
        route_options,
    };
    let options = SocketOptions {
        nodelay: !cfg.nagle,
        keep_alive: cfg.keep_alive.map(|k| (k.idle, k.interval, k.count)),
        // A script's own R2 (`r2=`) is the connection's TCP_USER_TIMEOUT: Linux's R2 in
        // time for one connection (RFC 9293 3.8.3 (d), MUST-21).
        user_timeout: cfg.user_timeout.or(c.r2),
        rcvbuf: c.rcvbuf,
        sndbuf: c.sndbuf,
        delayed_ack: cfg.delayed_ack,
    };
    let mut no = Vec::new();
    let mut not = |item: String, why: &str| no.push(format!("{item}: {why}"));
    // Kept in its delayed-ACK mode (`hold_ack_mode`), Linux delays an ACK by its
    // TCP_ATO_MIN, 40 ms, the baseline's timeout; it cannot be set to another.
    if cfg.delayed_ack && cfg.delayed_ack_timeout != Duration::from_millis(40) {
        not(
            format!("delack_timeout={}", secs(cfg.delayed_ack_timeout)),
            "Linux's delayed-ACK timeout is 40 ms (TCP_ATO_MIN)",
        );
    } else if !cfg.delayed_ack {
        not(
            "delack=off".into(),
            "Linux's TCP_QUICKACK lasts only until its next delayed ACK",
        );
    }
    if cfg.rto_initial != Duration::from_secs(1) {
        not(
            format!("rto_initial={}", secs(cfg.rto_initial)),
            "Linux's is 1 s",
        );
    }
    if cfg.msl != Duration::from_secs(30) {
        not(
            format!("msl={}", secs(cfg.msl)),
            "Linux's TIME-WAIT lasts 60 s",
        );
    }
    if let Some(r2) = c.r2.filter(|_| cfg.user_timeout.is_none()) {
        not(
            format!("r2={}", secs(r2)),
            "set as the connection's TCP_USER_TIMEOUT, which Linux counts from its first \
             retransmission (retrans_stamp), not from the segment's first transmission",
        );
    }
    not(
        format!("r2={}, r2_syn={}", secs(cfg.r2_data), secs(cfg.r2_syn)),
        &format!(
            "Linux counts retransmissions, not time (tcp_retries2 = 15; tcp_syn_retries = {}, \
             the SYN retransmissions that fit in r2_syn, so it gives up at the last one's \
             timeout)",
            syn_retries(cfg.rto_initial, cfg.rto_max, cfg.r2_syn)
        ),
    );
    if cfg.abc_limit_segments != 1 || !cfg.tlp {
        // Linux's slow start adds every segment an ACK covers.
        not(
            format!("abc={}", cfg.abc_limit_segments),
            "Linux's slow start grows cwnd by every segment an ACK covers",
        );
    }
    if cfg.default_send_mss != 536 {
        not(
            format!("default_mss={}", cfg.default_send_mss),
            "Linux's is 536",
        );
    }
    if cfg.tlp_max_ack_delay != Duration::from_millis(200) && cfg.tlp {
        not(
            format!("tlp_max_ack_delay={}", secs(cfg.tlp_max_ack_delay)),
            "Linux's PTO uses its own delayed-ACK allowance",
        );
    }
    if c.iss.is_some() {
        not("iss".into(), "Linux draws its ISS itself");
    }
    not(
        "the window".into(),
        "Linux rounds its receive window down to a multiple of its MSS (64240 where the suite's is 65535): windows are left out of the comparisons, and scripts at the right edge say `seq=edge`",
    );
    if c.rcvbuf.is_some() || c.sndbuf.is_some() {
        not(
            "rcvbuf, sndbuf".into(),
            "set as SO_RCVBUF and SO_SNDBUF, which Linux doubles and shares with its own overhead",
        );
    }
    (lab, options, no)
}

/// How many times a SYN is retransmitted within `r2_syn` when the RTO starts at `initial`
/// and doubles up to `max` (RFC 6298 5.5): Linux's `tcp_syn_retries` for the suite's R2.
fn syn_retries(initial: Duration, max: Duration, r2_syn: Duration) -> u32 {
    let (mut at, mut rto, mut n) = (Duration::ZERO, initial.max(Duration::from_millis(1)), 0);
    while n < 127 && at + rto <= r2_syn {
        at += rto;
        rto = (rto + rto).min(max);
        n += 1;
    }
    n
}

impl LinuxUnderTest {
    fn raw(&self) -> Option<&RawLab> {
        self.lab.as_ref().map(|l| &l.raw)
    }

    fn lab_now(&self) -> Instant {
        self.clock.now()
    }

    fn script_time(&self, lab: Instant) -> Instant {
        Instant::from_nanos(lab.saturating_duration_since(self.t0).as_nanos() as u64)
    }

    /// Sleeps until the script's clock reaches `t`.
    fn sleep_until(&mut self, t: Instant) {
        let target = self.t0 + Duration::from_nanos(t.as_nanos());
        let left = self.clock.until(target);
        if !left.is_zero() {
            std::thread::sleep(left);
        }
        if t > self.now {
            self.now = t;
        }
    }

    /// Takes the frames the reader queued: the kernel's TCP segments, with their time.
    fn collect(&mut self) {
        while let Some(f) = self.raw().and_then(RawLab::try_recv) {
            let b = &f.bytes;
            if b.len() < 34 || u16::from_be_bytes([b[12], b[13]]) != 0x0800 {
                continue; // ARP (there should be none), IPv6 (off): nothing to judge
            }
            let p = &b[14..];
            if p[0] >> 4 != 4 || p[9] != 6 {
                continue; // ICMP the kernel sends is not judged (as on the host runner)
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
            if total < ihl {
                continue;
            }
            let mut seg = p[ihl..total].to_vec();
            if seg.len() < 20 {
                continue;
            }
            let (src, dst) = (
                u16::from_be_bytes([seg[0], seg[1]]),
                u16::from_be_bytes([seg[2], seg[3]]),
            );
            // Only this script's connection: a previous script's (another port) is not
            // the runner's to see.
            match self.setup {
                Setup::Listen | Setup::Closed => {
                    if dst != self.peer_port || src != self.server_port {
                        continue;
                    }
                    set_port(&mut seg, 2, CLIENT_PORT);
                    set_port(&mut seg, 0, SERVER_PORT);
                }
                Setup::Connect => {
                    if dst != SERVER_PORT || self.key.is_some_and(|(l, _)| l != src) {
                        continue;
                    }
                }
            }
            let at = self.script_time(f.at);
            self.frames.push_back((at, seg));
        }
    }

    fn send_ip(&mut self, proto: u8, payload: &[u8]) {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let mut f = Vec::with_capacity(34 + payload.len());
        f.extend_from_slice(&HOST_MAC.0);
        f.extend_from_slice(&PEER_MAC.0);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(&ipv4_header(
            PEER_ADDR,
            STACK_ADDR,
            proto,
            payload.len(),
            self.ip_ident,
        ));
        f.extend_from_slice(payload);
        // A write the device refuses is a segment lost on the wire; the script then sees
        // the kernel not answer it.
        if let Some(raw) = self.raw() {
            let _ = raw.send(&f);
        }
        std::thread::sleep(SETTLE);
        self.collect();
    }

    /// The connection under test's row of `/proc/net/tcp`.
    fn proc_state(&self) -> Option<State> {
        let text = self.raw()?.proc_net("tcp").ok()?;
        let rows = proc_rows(&text);
        let (lport, rport) = self.key?;
        let mine = rows
            .iter()
            .filter(|(l, r, _)| l.port() == lport && *r.ip() == PEER_ADDR && r.port() == rport)
            .filter_map(|(_, _, st)| linux_state(*st))
            .collect::<Vec<_>>();
        // A reopened TIME-WAIT leaves two rows: the live one is the one to report.
        mine.iter()
            .find(|s| **s != State::TimeWait)
            .or(mine.first())
            .copied()
    }

    fn current_state(&self) -> State {
        match self.proc_state() {
            Some(s) => s,
            None if self.listener.is_some() && !self.connected => State::Listen,
            None => State::Closed,
        }
    }

    /// Keeps the kernel's ACK policy where the script's configuration puts it. Linux starts
    /// a connection in quick-ack mode (its first 16 or so ACKs go at once) and leaves
    /// delayed ACKs again after a delayed-ACK timer fires; `TCP_QUICKACK` = 0 puts it in its
    /// delayed-ACK ("pingpong") mode until the next such timer, so set before every segment
    /// the peer sends, it acknowledges as the suite's baseline does: after its delayed-ACK
    /// timeout (40 ms, `TCP_ATO_MIN`), or at once for every second full-sized segment, data
    /// out of order or a hole filled. With `delack=off`, `TCP_QUICKACK` = 1 (which Linux
    /// does not keep either: see [`lab_config`]).
    /// Only once the connection is synchronized: in SYN-SENT, the delayed-ACK mode would
    /// have Linux hold the ACK of the SYN-ACK, which RFC 9293 3.10.7.3 sends at once.
    fn hold_ack_mode(&self) {
        if !self.connected {
            return;
        }
        if let Some(s) = &self.stream {
            let _ = socket2::SockRef::from(s).set_tcp_quickack(!self.options.delayed_ack);
        }
    }

    fn apply_options(&self, fd: &impl std::os::fd::AsFd) -> Result<(), String> {
        let o = self.options;
        apply_socket_options(fd, &o)
    }

    /// Accepts the waiting connection, reads `SO_ERROR`, and derives events from the state.
    fn refresh(&mut self) {
        self.refresh_state(true);
    }

    /// [`refresh`](Self::refresh); the state (a read of `/proc/net/tcp`, which walks the
    /// kernel's whole connection table: milliseconds) only if `full` or at most every
    /// [`STATE_EVERY`] while time passes. Events need only be there by the next line that
    /// expects them, and lines run after an `inject` or `call`, which read it.
    fn refresh_state(&mut self, full: bool) {
        let full = full
            || self.now >= self.state_read_at + STATE_EVERY
            || self.state_seen.get().is_some_and(|s| s != self.last_state);
        if full {
            self.state_read_at = self.now;
        }
        if let (Some(l), None) = (&self.listener, &self.stream) {
            if !self.connected {
                if let Ok((s, _)) = l.accept() {
                    let _ = s.set_nonblocking(true);
                    let _ = self.apply_options(&s);
                    self.stream = Some(s);
                    self.hold_ack_mode();
                }
            }
        }
        if let Some(s) = &self.stream {
            if let Ok(Some(e)) = s.take_error() {
                let name = errno_name(&e);
                // A connection an error leaves open had a soft one (IP_RECVERR); one that
                // ends it (a reset, a timeout, a hard ICMP error in SYN-SENT) closes first.
                if self.current_state().is_synchronized() {
                    self.soft_error = Some(name);
                } else {
                    self.events.push_back(format!("Failed({name})"));
                    self.pending_error = Some(name);
                }
            }
        }
        let urgent = self.urgent_data();
        if urgent && !self.urgent_up {
            self.events.push_back("Urgent".into());
        }
        self.urgent_up = urgent;
        if !full {
            return;
        }
        let st = self.current_state();
        if st.is_synchronized() && !self.connected {
            self.connected = true;
            self.events.push_back("Connected".into());
        }
        if st.after_peer_fin() && !self.peer_closed {
            self.peer_closed = true;
            self.events.push_back("PeerClosed".into());
        }
        if st == State::Closed && self.last_state != State::Closed {
            self.events.push_back("Closed".into());
        }
        self.last_state = st;
        self.state_seen.set(None);
    }
}

impl Drop for LinuxUnderTest {
    /// Resets what the script left open (so that it does not retransmit for minutes) and
    /// hands the lab back to the thread for its next script.
    fn drop(&mut self) {
        if let Some(s) = self.stream.take() {
            let linger = nix::libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            let _ = nixsock::setsockopt(&s, sockopt::Linger, &linger);
        }
        self.listener = None;
        if let Some(lab) = self.lab.take() {
            KEPT.with(|k| *k.borrow_mut() = Some(lab));
        }
    }
}

fn apply_socket_options(fd: &impl std::os::fd::AsFd, o: &SocketOptions) -> Result<(), String> {
    let e = |what: &str, x: nix::errno::Errno| format!("{what}: {}", nix_errno(x));
    // Soft ICMP errors reach the application (`soft_error()`, RFC 9293 3.9.2.2's SHLD-25).
    nixsock::setsockopt(fd, sockopt::Ipv4RecvErr, &true).map_err(|x| e("IP_RECVERR", x))?;
    // Urgent octets stay in the stream (RFC 9293 3.8.5; RFC 6093 section 6).
    nixsock::setsockopt(fd, sockopt::OobInline, &true).map_err(|x| e("SO_OOBINLINE", x))?;
    nixsock::setsockopt(fd, sockopt::TcpNoDelay, &o.nodelay).map_err(|x| e("TCP_NODELAY", x))?;
    if let Some(n) = o.rcvbuf {
        nixsock::setsockopt(fd, sockopt::RcvBuf, &n).map_err(|x| e("SO_RCVBUF", x))?;
    }
    if let Some(n) = o.sndbuf {
        nixsock::setsockopt(fd, sockopt::SndBuf, &n).map_err(|x| e("SO_SNDBUF", x))?;
    }
    set_keep_alive(fd, o.keep_alive)?;
    let ms = o
        .user_timeout
        .map_or(0, |t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
    nixsock::setsockopt(fd, sockopt::TcpUserTimeout, &ms).map_err(|x| e("TCP_USER_TIMEOUT", x))
}

fn set_keep_alive(
    fd: &impl std::os::fd::AsFd,
    ka: Option<(Duration, Duration, u32)>,
) -> Result<(), String> {
    let e = |what: &str, x: nix::errno::Errno| format!("{what}: {}", nix_errno(x));
    let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1);
    match ka {
        Some((idle, interval, count)) => {
            nixsock::setsockopt(fd, sockopt::TcpKeepIdle, &secs(idle))
                .map_err(|x| e("TCP_KEEPIDLE", x))?;
            nixsock::setsockopt(fd, sockopt::TcpKeepInterval, &secs(interval))
                .map_err(|x| e("TCP_KEEPINTVL", x))?;
            nixsock::setsockopt(fd, sockopt::TcpKeepCount, &count)
                .map_err(|x| e("TCP_KEEPCNT", x))?;
            nixsock::setsockopt(fd, sockopt::KeepAlive, &true).map_err(|x| e("SO_KEEPALIVE", x))
        }
        None => {
            nixsock::setsockopt(fd, sockopt::KeepAlive, &false).map_err(|x| e("SO_KEEPALIVE", x))
        }
    }
}

impl StackUnderTest for LinuxUnderTest {
    fn start(now: Instant, setup: Setup, config: &StackConfig) -> Result<Self, String> {
        let (cfg, options, mut unhonoured) = lab_config(config);
        prepare_lab()?;
        let Some(mut lab) = KEPT.with(|k| k.borrow_mut().take()) else {
            return Err("the Linux lab: none was built".into());
        };
        let keepalive_set = |c: &RawLabConfig| {
            c.sysctls
                .iter()
                .any(|(k, _)| k.starts_with("net.ipv4.tcp_keepalive_"))
        };
        if keepalive_set(&lab.config) && !keepalive_set(&cfg) {
            // A script before set the namespace's keep-alive defaults, and a sysctl cannot be
            // told to go back to the kernel's own: a new namespace has them.
            drop(lab);
            prepare_lab()?;
            lab = KEPT
                .with(|k| k.borrow_mut().take())
                .ok_or("the Linux lab: none was built")?;
        }
        let refused = if lab.config == cfg {
            lab.raw.unapplied().to_vec()
        } else {
            let r = lab
                .raw
                .reconfigure(&cfg)
                .map_err(|e| format!("the Linux lab: {e}"))?;
            lab.config = cfg;
            r
        };
        unhonoured.extend(
            refused
                .iter()
                .map(|u| format!("{u}: refused by the kernel")),
        );
        if lab.routes_touched {
            // An ICMP "fragmentation needed" leaves a path MTU for the peer's address in the
            // route cache for ten minutes; the next script starts without it.
            lab.raw
                .flush_route_cache()
                .map_err(|e| format!("the Linux lab: {e}"))?;
            lab.routes_touched = false;
        }
        let peer_port = lab.next_port;
        lab.next_port = FIRST_PEER_PORT + (lab.next_port - FIRST_PEER_PORT + 1) % PEER_PORTS;
        // The listener's port: another range, as fresh.
        let server_port = peer_port + PEER_PORTS;
        let clock = lab.raw.clock();
        // Built first, so that whatever fails below hands the lab back (Drop).
        let mut me = LinuxUnderTest {
            lab: Some(lab),
            peer_port,
            server_port,
            setup,
            clock,
            t0: Instant::ZERO,
            now,
            frames: VecDeque::new(),
            listener: None,
            stream: None,
            key: None,
            options,
            last_state: State::Closed,
            connected: false,
            peer_closed: false,
            events: VecDeque::new(),
            pending_error: None,
            soft_error: None,
            ip_ident: 0,
            unhonoured,
            urgent_up: false,
            state_read_at: Instant::ZERO,
            state_seen: std::cell::Cell::new(None),
        };
        // What an earlier script's connections still send is not this script's.
        while me.raw().and_then(RawLab::try_recv).is_some() {}
        if setup == Setup::Listen {
            let o = options;
            let Some(raw) = me.raw() else {
                return Err("the Linux lab: gone".into());
            };
            let l = raw
                .in_namespace(move || {
                    let l = nixsock::socket(
                        nixsock::AddressFamily::Inet,
                        nixsock::SockType::Stream,
                        nixsock::SockFlag::SOCK_NONBLOCK,
                        None,
                    )
                    .map_err(|e| lab_err("socket", io::Error::from(e)))?;
                    let _ = nixsock::setsockopt(&l, sockopt::ReuseAddr, &true);
                    apply_socket_options(&l, &o)
                        .map_err(|m| lab_err("socket options", io::Error::other(m)))?;
                    let addr =
                        nixsock::SockaddrIn::from(SocketAddrV4::new(STACK_ADDR, server_port));
                    nixsock::bind(l.as_raw_fd(), &addr)
                        .map_err(|e| lab_err("bind", io::Error::from(e)))?;
                    nixsock::listen(
                        &l,
                        nixsock::Backlog::new(16).unwrap_or(nixsock::Backlog::MAXCONN),
                    )
                    .map_err(|e| lab_err("listen", io::Error::from(e)))?;
                    Ok(TcpListener::from(l))
                })
                .map_err(|e| format!("listening: {e}"))?;
            me.listener = Some(l);
            me.key = Some((server_port, peer_port));
        }
        // Script time 0 is now: the lab is up, and a connect goes out at once.
        me.t0 = me.lab_now();
        if setup == Setup::Connect {
            let o = options;
            let Some(raw) = me.raw() else {
                return Err("the Linux lab: gone".into());
            };
            let s = raw
                .in_namespace(move || {
                    let fd = nixsock::socket(
                        nixsock::AddressFamily::Inet,
                        nixsock::SockType::Stream,
                        nixsock::SockFlag::SOCK_NONBLOCK,
                        None,
                    )
                    .map_err(|e| lab_err("socket", io::Error::from(e)))?;
                    apply_socket_options(&fd, &o)
                        .map_err(|m| lab_err("socket options", io::Error::other(m)))?;
                    let addr = nixsock::SockaddrIn::from(SocketAddrV4::new(PEER_ADDR, SERVER_PORT));
                    match nixsock::connect(fd.as_raw_fd(), &addr) {
                        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => {}
                        Err(e) => return Err(lab_err("connect", io::Error::from(e))),
                    }
                    Ok(TcpStream::from(fd))
                })
                .map_err(|e| format!("connecting: {e}"))?;
            if let Ok(SocketAddr::V4(local)) = s.local_addr() {
                me.key = Some((local.port(), SERVER_PORT));
            }
            me.stream = Some(s);
        }
        me.last_state = if me.listener.is_some() {
            State::Listen
        } else {
            State::Closed
        };
        me.collect();
        me.refresh();
        Ok(me)
    }

    fn name(&self) -> &'static str {
        "linux"
    }

    fn supports(&self, need: &str) -> bool {
        // ICMP errors reach the kernel as real ICMP; a SYN reopens TIME-WAIT (RFC 6191).
        matches!(need, "icmp" | "time-wait-reopen")
    }

    fn cannot(&self, action: &Action) -> Option<String> {
        match action {
            Action::ExpectEvent(e) if e == "PathTrouble" => Some(
                "Linux tells the application nothing at R1 (tcp_retries1 only has the route \
                 re-checked, dst_negative_advice): the socket API has no `PathTrouble` \
                 notification"
                    .into(),
            ),
            _ => None,
        }
    }

    fn unhonoured(&self) -> Vec<String> {
        self.unhonoured.clone()
    }

    fn inject(&mut self, now: Instant, segment: &[u8]) {
        self.sleep_until(now);
        let mut seg = segment.to_vec();
        if self.setup != Setup::Connect
            && seg.len() >= 20
            && u16::from_be_bytes([seg[0], seg[1]]) == CLIENT_PORT
        {
            set_port(&mut seg, 0, self.peer_port);
            if u16::from_be_bytes([seg[2], seg[3]]) == SERVER_PORT {
                set_port(&mut seg, 2, self.server_port);
            }
        }
        self.hold_ack_mode();
        self.send_ip(6, &seg);
        self.refresh();
    }

    fn inject_icmp(&mut self, now: Instant, kind: IcmpKind, quoted: &[u8]) {
        self.sleep_until(now);
        let mut quoted = quoted.to_vec();
        if self.setup != Setup::Connect
            && quoted.len() >= 4
            && u16::from_be_bytes([quoted[2], quoted[3]]) == CLIENT_PORT
        {
            quoted[2..4].copy_from_slice(&self.peer_port.to_be_bytes());
            if u16::from_be_bytes([quoted[0], quoted[1]]) == SERVER_PORT {
                quoted[0..2].copy_from_slice(&self.server_port.to_be_bytes());
            }
        }
        if let Some(lab) = self.lab.as_mut() {
            lab.routes_touched = true;
        }
        let m = icmp_message(kind, &quoted);
        self.send_ip(1, &m);
        self.refresh();
    }

    fn poll_output(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.poll_output_timed(now).map(|(_, b)| b)
    }

    fn poll_output_timed(&mut self, _now: Instant) -> Option<(Instant, Vec<u8>)> {
        self.collect();
        self.frames.pop_front()
    }

    fn poll_event(&mut self) -> Option<String> {
        // A state the runner read that events were not yet derived from (a timer closed the
        // connection between two refreshes): derive them now.
        if self.events.is_empty() && self.state_seen.get().is_some_and(|s| s != self.last_state) {
            self.refresh_state(true);
        }
        self.events.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        Some(self.now + TICK)
    }

    fn advance(&mut self, now: Instant) {
        self.sleep_until(now);
        self.collect();
        self.refresh_state(false);
    }

    fn call(&mut self, now: Instant, call: &Call) -> CallResult {
        self.sleep_until(now);
        self.refresh();
        if matches!(
            call,
            Call::Send(_) | Call::SendUrgent(_) | Call::Recv(_) | Call::Shutdown
        ) {
            if let Some(e) = self.pending_error.take() {
                return Err(e);
            }
        }
        let r = match call {
            Call::Abort => self.abort(),
            Call::UrgentPending => Ok(CallValue::Count(self.urgent_pending())),
            _ => self.socket_call(call),
        };
        std::thread::sleep(SETTLE);
        self.collect();
        self.refresh();
        r
    }

    fn state(&self) -> Option<State> {
        let s = self.current_state();
        self.state_seen.set(Some(s));
        Some(s)
    }
}

impl LinuxUnderTest {
    /// A call on the connection's descriptor.
    fn socket_call(&mut self, call: &Call) -> CallResult {
        let Some(s) = self.stream.as_mut() else {
            return Err("ENOTCONN".into());
        };
        let ok = Ok(CallValue::Count(0));
        match call {
            Call::Send(Payload::Bytes(b)) => match s.write(b) {
                Ok(n) => Ok(CallValue::Count(n)),
                Err(e) => Err(errno_name(&e)),
            },
            Call::Send(Payload::Len(_)) => Err("EINVAL".into()),
            Call::SendUrgent(Payload::Bytes(b)) => {
                match nixsock::send(s.as_raw_fd(), b, nixsock::MsgFlags::MSG_OOB) {
                    Ok(n) => Ok(CallValue::Count(n)),
                    Err(e) => Err(errno_name(&io::Error::from(e))),
                }
            }
            Call::SendUrgent(Payload::Len(_)) => Err("EINVAL".into()),
            Call::Recv(n) => {
                let mut out = vec![0u8; *n];
                match s.read(&mut out) {
                    Ok(k) => {
                        out.truncate(k);
                        Ok(CallValue::Bytes(out))
                    }
                    Err(e) => Err(errno_name(&e)),
                }
            }
            Call::Shutdown => s
                .shutdown(Shutdown::Write)
                .map(|()| CallValue::Count(0))
                .map_err(|e| errno_name(&e)),
            Call::Close => {
                self.stream = None;
                ok
            }
            Call::Nagle(on) => s
                .set_nodelay(!on)
                .map(|()| CallValue::Count(0))
                .map_err(|e| errno_name(&e)),
            Call::KeepAlive(ka) => set_keep_alive(&*s, *ka).map(|()| CallValue::Count(0)),
            // SO_KEEPALIVE alone: the namespace's tcp_keepalive_time, _intvl and _probes.
            Call::KeepAliveDefaults => nixsock::setsockopt(&*s, sockopt::KeepAlive, &true)
                .map(|()| CallValue::Count(0))
                .map_err(nix_errno),
            Call::UserTimeout(t) => {
                let ms = t.map_or(0, |t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
                nixsock::setsockopt(&*s, sockopt::TcpUserTimeout, &ms)
                    .map(|()| CallValue::Count(0))
                    .map_err(nix_errno)
            }
            Call::SoftError => match &self.soft_error {
                Some(e) => Err(e.clone()),
                None => Ok(CallValue::Count(0)),
            },
            Call::Abort | Call::UrgentPending => Err("EINVAL".into()),
        }
    }

    /// ABORT: the kernel's own abort of the socket (`tcp_abort`, which `ss -K` asks for)
    /// where Linux answers an abort with a reset, so that the application keeps its
    /// descriptor and hears ECONNABORTED; elsewhere a close with `SO_LINGER` 0.
    fn abort(&mut self) -> CallResult {
        let resets = matches!(
            self.current_state(),
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::FinWait2
                | State::SynReceived
        );
        match (resets, self.key, &self.stream) {
            (true, Some((local, remote)), Some(_)) => self.destroy(local, remote),
            _ => {
                let Some(s) = self.stream.take() else {
                    return Err("ENOTCONN".into());
                };
                let linger = nix::libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                nixsock::setsockopt(&s, sockopt::Linger, &linger)
                    .map(|()| CallValue::Count(0))
                    .map_err(nix_errno)
            }
        }
    }

    /// `ss -K` in the lab's namespace on the connection from port `local` to the peer's
    /// port `remote`: `SOCK_DESTROY`, which aborts it as `tcp_abort` does (a reset where one
    /// is due, the socket's error ECONNABORTED, CLOSED).
    fn destroy(&mut self, local: u16, remote: u16) -> CallResult {
        let Some(raw) = self.raw() else {
            return Err("EIO".into());
        };
        let filter = format!("sport = :{local} and dport = :{remote}");
        let out = raw.in_namespace(move || {
            std::process::Command::new("ss")
                .args(["-K", "-t", "-n", "-a"])
                .arg(filter)
                .output()
                .map_err(|e| lab_err("ss -K", e))
        });
        match out {
            Ok(o) if o.status.success() => Ok(CallValue::Count(0)),
            Ok(o) => Err(format!(
                "EIO (ss -K: {})",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("EIO ({e})")),
        }
    }

    /// Whether the connection has urgent data pending (`poll`'s POLLPRI).
    fn urgent_data(&self) -> bool {
        let Some(s) = &self.stream else {
            return false;
        };
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(s),
            nix::poll::PollFlags::POLLPRI,
        )];
        matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(nix::poll::PollFlags::POLLPRI))
    }

    /// Octets of urgent data not yet read: see the module's documentation.
    fn urgent_pending(&mut self) -> usize {
        if !self.urgent_data() {
            return 0;
        }
        let Some(s) = &self.stream else {
            return 0;
        };
        let mut buf = vec![0u8; 1 << 20];
        let before_mark = s.peek(&mut buf).unwrap_or(0);
        let queued = self.rx_queue().unwrap_or(usize::MAX);
        if before_mark < queued {
            before_mark + 1
        } else {
            1
        }
    }

    /// The connection's rx_queue in `/proc/net/tcp`: octets received and not yet read.
    fn rx_queue(&self) -> Option<usize> {
        let text = self.raw()?.proc_net("tcp").ok()?;
        let (lport, rport) = self.key?;
        text.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, remote) = (proc_addr(f.get(1)?)?, proc_addr(f.get(2)?)?);
            if local.port() != lport || remote.port() != rport || *remote.ip() != PEER_ADDR {
                return None;
            }
            let (_, rx) = f.get(4)?.split_once(':')?;
            usize::from_str_radix(rx, 16).ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn proc_net_tcp_rows() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100000A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000 100 0 0 10 0\n   1: 0100000A:1F90 0200000A:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000 20 4 30 10 -1\n";
        let rows = proc_rows(text);
        assert_eq!(
            rows,
            vec![
                (
                    SocketAddrV4::new(STACK_ADDR, 8080),
                    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
                    10
                ),
                (
                    SocketAddrV4::new(STACK_ADDR, 8080),
                    SocketAddrV4::new(PEER_ADDR, 40000),
                    1
                ),
            ]
        );
        assert_eq!(linux_state(10), Some(State::Listen));
        assert_eq!(linux_state(12), Some(State::SynReceived));
        assert_eq!(linux_state(99), None);
    }

    #[test]
    fn ports_change_with_their_checksum() {
        let seg = crate::segment::build(
            &crate::script::SegmentSpec {
                flags: crate::script::Flags {
                    bits: crate::script::Flags::SYN,
                },
                seq: Some(crate::script::Value::Rel(0)),
                win: Some(crate::script::Value::Rel(100)),
                ..Default::default()
            },
            &crate::segment::Bases {
                ts_tolerance: 0,
                stack_edge: None,
                peer_isn: 1,
                stack_iss: None,
                stack_ts: None,
            },
            CLIENT_PORT,
            SERVER_PORT,
        )
        .unwrap()
        .bytes;
        let mut moved = seg.clone();
        set_port(&mut moved, 0, 12345);
        let obs = crate::segment::Observed::parse(&moved).unwrap();
        assert_eq!((obs.src_port, obs.checksum_ok), (12345, true));
        set_port(&mut moved, 0, CLIENT_PORT);
        assert_eq!(moved, seg);
    }

    #[test]
    fn syn_retries_fill_r2_for_a_syn() {
        let s = Duration::from_secs;
        // 1, 3, 7, 15, 31, 63, 127 s: seven fit in three minutes, the eighth (247 s) not.
        assert_eq!(syn_retries(s(1), s(120), s(180)), 7);
        assert_eq!(syn_retries(s(1), s(120), s(127)), 7);
        assert_eq!(syn_retries(s(1), s(120), s(126)), 6);
        assert_eq!(syn_retries(s(1), s(60), s(180)), 7);
        assert_eq!(syn_retries(s(3), s(120), s(2)), 0);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(&io::Error::from_raw_os_error(104)), "ECONNRESET");
        assert_eq!(errno_name(&io::ErrorKind::WouldBlock.into()), "EAGAIN");
    }
}
