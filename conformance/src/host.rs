//! [`StackUnderTest`] over a whole sansnet [`Host`], driven through its real frame
//! interface: the peer's segments are wrapped in IPv4 and Ethernet and go in through
//! [`Host::handle_frame`]; what [`Host::poll_transmit`] sends is parsed back (the host's ARP
//! requests for the peer are answered at once and not shown to the script; its TCP segments
//! are). Application calls are BSD socket calls (`socket`, `bind`, `listen`, `accept`,
//! `connect`, `send`, `recv`, `shutdown`, `close`, `setsockopt`, `take_error`), and states
//! come from [`Host::ss`].
//!
//! The host has no per-connection event queue: the runner's events are derived from what the
//! socket API shows (`Connected` when the connection first reaches a synchronized state,
//! `PeerClosed` when it reaches a state that follows the peer's FIN, `Failed(ERRNO)` from
//! `take_error`, `Closed` when the connection is gone). It has no call for urgent data or
//! for the soft error an ICMP message leaves (scripts that need them run on the engine only,
//! `# stacks: engine`).

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;

use sansnet_stack::iface::{
    Fd, Host, HostConfig, InterfaceConfig, Shutdown, SockOpt, SocketState, SocketType,
};
use sansnet_stack::tcp::{KeepAlive, State};
use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::EthernetAddress;

use crate::engine::tcp_config;
use crate::runner::{CallResult, CallValue, StackUnderTest};
use crate::script::{Call, IcmpKind, Payload, Setup, StackConfig};
use crate::segment::{PEER_ADDR, SERVER_PORT, STACK_ADDR};

/// The host's MAC address.
pub const HOST_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
/// The peer's MAC address.
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;

/// A sansnet host with one NIC, one socket under test.
#[derive(Debug)]
pub struct HostUnderTest {
    host: Host,
    /// The listening socket (`setup: listen`).
    listener: Option<Fd>,
    /// The connection's socket, once connected or accepted (and until closed).
    fd: Option<Fd>,
    /// The connection's (local, remote) addresses, once seen.
    key: Option<(SocketAddrV4, SocketAddrV4)>,
    last_state: Option<State>,
    connected: bool,
    peer_closed: bool,
    events: VecDeque<String>,
    /// The error `take_error` returned for a `Failed` event: as `SO_ERROR` does, the next
    /// `send`, `recv` or `shutdown` reports it.
    pending_error: Option<String>,
    buf: Vec<u8>,
    ip_ident: u16,
}

/// The Internet checksum (RFC 1071) of `data`.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header (20 bytes, DF set, TTL 64) for `len` bytes of `proto` payload.
pub(crate) fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    len: usize,
    ident: u16,
) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[6] = 0x40; // DF
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// An ICMP error message about a datagram the stack sent: its IP header, then `quoted` (the
/// first bytes of its TCP segment).
pub(crate) fn icmp_message(kind: IcmpKind, quoted: &[u8]) -> Vec<u8> {
    let (ty, code, mtu) = match kind {
        IcmpKind::Unreachable(code) => (3u8, code, 0u16),
        IcmpKind::FragNeeded(mtu) => (3, 4, mtu),
        IcmpKind::TimeExceeded => (11, 0, 0),
        IcmpKind::ParamProblem => (12, 0, 0),
        IcmpKind::SourceQuench => (4, 0, 0),
    };
    // The quoted datagram's IP header says as long as 20 bytes of TCP header.
    let inner = ipv4_header(STACK_ADDR, PEER_ADDR, 6, 20, 0);
    let mut m = vec![ty, code, 0, 0, 0, 0];
    m.extend_from_slice(&mtu.to_be_bytes());
    if ty == 12 {
        m[4] = 0; // pointer
    }
    m.extend_from_slice(&inner);
    m.extend_from_slice(quoted);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn ethernet(dst: EthernetAddress, src: EthernetAddress, ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ty.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The peer's ARP reply to the host (also what tells the host the peer's MAC at start).
fn arp_reply() -> Vec<u8> {
    let mut a = Vec::with_capacity(28);
    a.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    a.extend_from_slice(&PEER_MAC.0);
    a.extend_from_slice(&PEER_ADDR.octets());
    a.extend_from_slice(&HOST_MAC.0);
    a.extend_from_slice(&STACK_ADDR.octets());
    ethernet(HOST_MAC, PEER_MAC, ETHERTYPE_ARP, &a)
}

fn errno(e: sansnet_stack::iface::Errno) -> String {
    e.as_str().to_string()
}

impl HostUnderTest {
    /// The host itself (for `ss`, counters).
    pub fn host(&self) -> &Host {
        &self.host
    }

    fn frame_in(&mut self, now: Instant, frame: &[u8]) {
        self.host.handle_frame(now, 0, frame);
    }

    fn ip_in(&mut self, now: Instant, proto: u8, payload: &[u8]) {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let mut p =
            ipv4_header(PEER_ADDR, STACK_ADDR, proto, payload.len(), self.ip_ident).to_vec();
        p.extend_from_slice(payload);
        let f = ethernet(HOST_MAC, PEER_MAC, ETHERTYPE_IPV4, &p);
        self.frame_in(now, &f);
    }

    /// The connection under test's state, from `ss`.
    fn current_state(&self) -> Option<State> {
        let rows = self.host.ss();
        if let Some(fd) = self.fd {
            if let Some(r) = rows.iter().find(|r| r.fds.contains(&fd)) {
                if let SocketState::Tcp(s) = r.state {
                    return Some(s);
                }
            }
        }
        let mine = |r: &&sansnet_stack::iface::SocketInfo| {
            matches!(r.state, SocketState::Tcp(_))
                && match self.key {
                    Some((l, p)) => r.local == Some(l) && r.peer == Some(p),
                    None => r.peer.is_some_and(|p| *p.ip() == PEER_ADDR),
                }
        };
        rows.iter().rev().find(mine).and_then(|r| match r.state {
            SocketState::Tcp(s) => Some(s),
            _ => None,
        })
    }

    /// Accepts a waiting connection, learns the connection's addresses, and derives the
    /// runner's events from what changed.
    fn refresh(&mut self, now: Instant) {
        if let (Some(l), None, None) = (self.listener, self.fd, self.key) {
            if let Ok((fd, _)) = self.host.accept(now, l) {
                self.fd = Some(fd);
            }
        }
        if let Some(fd) = self.fd {
            if self.key.is_none() {
                if let (Ok(l), Ok(p)) = (self.host.local_addr(fd), self.host.peer_addr(fd)) {
                    self.key = Some((l, p));
                }
            }
            if self.host.readiness(fd).is_ok_and(|r| r.error) {
                if let Ok(Some(e)) = self.host.take_error(fd) {
                    self.events.push_back(format!("Failed({})", e.as_str()));
                    self.pending_error = Some(errno(e));
                }
            }
        }
        let st = self.current_state();
        let seen = st.unwrap_or(State::Closed);
        if seen.is_synchronized() && !self.connected {
            self.connected = true;
            self.events.push_back("Connected".into());
        }
        if seen.after_peer_fin() && !self.peer_closed {
            self.peer_closed = true;
            self.events.push_back("PeerClosed".into());
        }
        if seen == State::Closed && self.last_state.is_some_and(|s| s != State::Closed) {
            self.events.push_back("Closed".into());
        }
        if st.is_some() || self.last_state.is_some() {
            self.last_state = Some(seen);
        }
    }
}

impl StackUnderTest for HostUnderTest {
    fn start(now: Instant, setup: Setup, config: &StackConfig) -> Result<Self, String> {
        let tcp = tcp_config(config);
        let mtu = usize::from(tcp.mss).max(1460) + 40;
        let cfg = HostConfig {
            name: "host-under-test".into(),
            interfaces: vec![InterfaceConfig {
                mac: HOST_MAC,
                addr: STACK_ADDR,
                prefix_len: 24,
                mtu,
            }],
            tcp,
            ..HostConfig::default()
        };
        let mut me = HostUnderTest {
            host: Host::new(cfg),
            listener: None,
            fd: None,
            key: None,
            last_state: None,
            connected: false,
            peer_closed: false,
            events: VecDeque::new(),
            pending_error: None,
            buf: vec![0u8; 70_000],
            ip_ident: 0,
        };
        // The peer announces itself, so the host need not ask for its MAC.
        me.frame_in(now, &arp_reply());
        let e = |what: &str, e| format!("{what}: {}", errno(e));
        match setup {
            Setup::Listen => {
                let fd = me
                    .host
                    .socket(SocketType::Stream)
                    .map_err(|x| e("socket", x))?;
                me.host
                    .bind(fd, SocketAddrV4::new(STACK_ADDR, SERVER_PORT))
                    .map_err(|x| e("bind", x))?;
                me.host.listen(fd, 16).map_err(|x| e("listen", x))?;
                me.listener = Some(fd);
            }
            Setup::Connect => {
                let fd = me
                    .host
                    .socket(SocketType::Stream)
                    .map_err(|x| e("socket", x))?;
                match me
                    .host
                    .connect(now, fd, SocketAddrV4::new(PEER_ADDR, SERVER_PORT))
                {
                    Ok(()) | Err(sansnet_stack::iface::Errno::EINPROGRESS) => {}
                    Err(x) => return Err(e("connect", x)),
                }
                me.fd = Some(fd);
            }
            Setup::Closed => {}
        }
        me.refresh(now);
        Ok(me)
    }

    fn name(&self) -> &'static str {
        "host"
    }

    fn supports(&self, need: &str) -> bool {
        matches!(need, "icmp" | "time-wait-reopen")
    }

    fn inject(&mut self, now: Instant, segment: &[u8]) {
        self.ip_in(now, 6, segment);
        self.refresh(now);
    }

    fn inject_icmp(&mut self, now: Instant, kind: IcmpKind, quoted: &[u8]) {
        let m = icmp_message(kind, quoted);
        self.ip_in(now, 1, &m);
        self.refresh(now);
    }

    fn poll_output(&mut self, now: Instant) -> Option<Vec<u8>> {
        loop {
            let (_, len) = self.host.poll_transmit(now, &mut self.buf)?;
            let f = &self.buf[..len];
            if f.len() < 14 {
                continue;
            }
            let ty = u16::from_be_bytes([f[12], f[13]]);
            let p = &f[14..];
            if ty == ETHERTYPE_ARP {
                // A request for the peer's address: the peer answers at once.
                if p.len() >= 28 && p[6..8] == [0, 1] && p[24..28] == PEER_ADDR.octets() {
                    let reply = arp_reply();
                    self.frame_in(now, &reply);
                }
                continue;
            }
            if ty != ETHERTYPE_IPV4 || p.len() < 20 || p[9] != 6 {
                continue; // not TCP: nothing the scripts look at
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
            if total < ihl {
                continue;
            }
            let seg = p[ihl..total].to_vec();
            self.refresh(now);
            return Some(seg);
        }
    }

    fn poll_event(&mut self) -> Option<String> {
        self.events.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.host.poll_timeout()
    }

    fn advance(&mut self, now: Instant) {
        self.host.handle_timeout(now);
        self.refresh(now);
    }

    fn call(&mut self, now: Instant, call: &Call) -> CallResult {
        self.refresh(now);
        let Some(fd) = self.fd else {
            return Err("ENOTCONN".into());
        };
        if matches!(
            call,
            Call::Send(_) | Call::SendUrgent(_) | Call::Recv(_) | Call::Shutdown
        ) {
            if let Some(e) = self.pending_error.take() {
                return Err(e);
            }
        }
        let h = &mut self.host;
        let ok = |()| CallValue::Count(0);
        let r = match call {
            Call::Send(Payload::Bytes(b)) => {
                h.send(now, fd, b).map(CallValue::Count).map_err(errno)
            }
            Call::Send(Payload::Len(_)) => Err("EINVAL".into()),
            Call::SendUrgent(Payload::Bytes(b)) => h
                .send_urgent(now, fd, b)
                .map(CallValue::Count)
                .map_err(errno),
            Call::SendUrgent(Payload::Len(_)) => Err("EINVAL".into()),
            Call::Recv(n) => {
                let mut out = vec![0u8; *n];
                match h.recv(now, fd, &mut out) {
                    Ok(k) => {
                        out.truncate(k);
                        Ok(CallValue::Bytes(out))
                    }
                    Err(e) => Err(errno(e)),
                }
            }
            Call::Shutdown => h.shutdown(now, fd, Shutdown::Write).map(ok).map_err(errno),
            Call::Close => {
                self.fd = None;
                h.close(now, fd).map(ok).map_err(errno)
            }
            Call::Abort => {
                self.fd = None;
                let _ = h.setsockopt(now, fd, SockOpt::Linger(Some(Duration::ZERO)));
                h.close(now, fd).map(ok).map_err(errno)
            }
            Call::Nagle(on) => h
                .setsockopt(now, fd, SockOpt::NoDelay(!on))
                .map(ok)
                .map_err(errno),
            Call::KeepAlive(ka) => h
                .setsockopt(
                    now,
                    fd,
                    SockOpt::KeepAlive(ka.map(|(idle, interval, count)| KeepAlive {
                        idle,
                        interval,
                        count,
                    })),
                )
                .map(ok)
                .map_err(errno),
            // The stack's defaults: KeepAlive::default(), 2 h idle.
            Call::KeepAliveDefaults => h
                .setsockopt(now, fd, SockOpt::KeepAlive(Some(KeepAlive::default())))
                .map(ok)
                .map_err(errno),
            Call::UserTimeout(t) => h
                .setsockopt(now, fd, SockOpt::UserTimeout(*t))
                .map(ok)
                .map_err(errno),
            // No socket call reads these.
            Call::UrgentPending | Call::SoftError => Err("EOPNOTSUPP".into()),
        };
        self.refresh(now);
        r
    }

    fn state(&self) -> Option<State> {
        match self.current_state() {
            // Nothing accepted yet, or the per-SYN connection of a listener was reset or
            // dropped in SYN-RECEIVED: the listener is what the peer talks to (MUST-11).
            None | Some(State::Closed) if self.listener.is_some() && self.key.is_none() => {
                Some(State::Listen)
            }
            Some(s) => Some(s),
            None => Some(State::Closed),
        }
    }
}
