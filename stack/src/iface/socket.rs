//! The socket table: descriptors, binds, options, the selector and `ss`.
//!
//! A descriptor ([`Fd`]) names a socket in the descriptor table of the calling process (see
//! the `process` module); `dup`, `dup2` and `fork` make several descriptors name one
//! socket, which is released (and its connection closed) only with its last descriptor.
//! Descriptors are allocated lowest-free-first up to the process's `max_descriptors`
//! (EMFILE past it); sockets up to the host's `max_open_files` (ENFILE past it).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use super::chunked::ChunkedVec;
use super::stream::ConnId;
use super::{Errno, Fd, Host, Interest, Proto, Readiness, Shutdown, SockOpt, SocketInfo};
use super::{SocketState, SocketType};
use crate::frame::SharedFrame;
use crate::tcp::{KeepAlive, State};
use crate::time::{Duration, Instant};
use crate::wire::EthernetAddress;

/// Index of a socket in the host's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SockId(pub usize);

/// A socket's options as `setsockopt` set them ([`Host::socket_options`], `getsockopt(2)`):
/// what the host applies, so that a caller needs no copy of its own. A buffer size of
/// `None` is the host's default (`HostConfig::tcp`). The multicast memberships are
/// [`Host::multicast_memberships`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketOptions {
    pub nodelay: bool,
    pub keep_alive: Option<KeepAlive>,
    pub send_buffer: Option<usize>,
    pub recv_buffer: Option<usize>,
    pub reuse_addr: bool,
    pub reuse_port: bool,
    pub linger: Option<Duration>,
    pub user_timeout: Option<Duration>,
    pub dont_fragment: bool,
    /// `TCP_QUICKACK`.
    pub quickack: bool,
    /// `IP_TOS` (0 unless set).
    pub tos: u8,
    /// `IP_TTL` as set; `None`, the host's default (`HostConfig::tcp`'s `ttl`).
    pub ttl: Option<u8>,
    /// `SO_BROADCAST`.
    pub broadcast: bool,
    /// `IP_MULTICAST_LOOP` (on unless turned off).
    pub multicast_loop: bool,
    /// `IP_MULTICAST_TTL` (1 unless set).
    pub multicast_ttl: u8,
}

impl Default for SocketOptions {
    /// A new socket's options, Linux's defaults.
    fn default() -> SocketOptions {
        SocketOptions {
            nodelay: false,
            keep_alive: None,
            send_buffer: None,
            recv_buffer: None,
            reuse_addr: false,
            reuse_port: false,
            linger: None,
            user_timeout: None,
            dont_fragment: false,
            quickack: false,
            tos: 0,
            ttl: None,
            broadcast: false,
            multicast_loop: true,
            multicast_ttl: 1,
        }
    }
}

/// A listening socket's queues (RFC 9293 leaves their shape to the host; this is the BSD
/// one): connections in SYN-RECEIVED, and established ones waiting for `accept`, each
/// bounded by the backlog.
#[derive(Debug, Default)]
pub(super) struct Listener {
    pub backlog: usize,
    pub syn_queue: BTreeSet<ConnId>,
    pub accept_queue: VecDeque<ConnId>,
}

/// A UDP socket's state.
#[derive(Debug, Default)]
pub(super) struct UdpSock {
    pub remote: Option<SocketAddrV4>,
    pub queue: VecDeque<(SocketAddrV4, Vec<u8>)>,
    /// Multicast memberships, (group, NIC): at most `MAX_MEMBERSHIPS`.
    pub groups: Vec<(Ipv4Addr, usize)>,
}

#[derive(Debug)]
pub(super) enum Kind {
    /// A stream socket neither listening nor connected.
    TcpIdle,
    TcpListener(Listener),
    /// A stream socket with a connection (`connect` or `accept`).
    TcpConn {
        id: ConnId,
        /// Whether `connect` already returned success once (later calls: EISCONN).
        connect_reported: bool,
    },
    Udp(UdpSock),
}

#[derive(Debug)]
pub(crate) struct Socket {
    pub ty: SocketType,
    /// Descriptors referring to it, in every process.
    pub refs: u32,
    /// Its inode number (`socket:[N]` in `/proc/<pid>/fd`), unique within the host's life,
    /// set by `new_socket`.
    pub inode: u64,
    pub opts: SocketOptions,
    pub so_error: Option<Errno>,
    pub local: Option<SocketAddrV4>,
    /// Whether `local` is in the bind table of its protocol.
    pub bound: bool,
    pub read_shut: bool,
    pub write_shut: bool,
    pub kind: Kind,
}

impl Socket {
    fn new(ty: SocketType) -> Socket {
        Socket {
            ty,
            refs: 1,
            inode: 0,
            opts: SocketOptions::default(),
            so_error: None,
            local: None,
            bound: false,
            read_shut: false,
            write_shut: false,
            kind: match ty {
                SocketType::Stream => Kind::TcpIdle,
                SocketType::Datagram => Kind::Udp(UdpSock::default()),
            },
        }
    }
}

fn overlaps(a: Ipv4Addr, b: Ipv4Addr) -> bool {
    a == b || a.is_unspecified() || b.is_unspecified()
}

/// The host's sockets: by slot (`SockId`), the readiness changes not yet drained, and the
/// UDP ports bound.
#[derive(Default)]
pub(super) struct SocketTable {
    /// Sockets by slot; a closed socket's slot is `None` until reused.
    pub(super) slots: ChunkedVec<Option<Socket>>,
    /// Free slots of `slots`, reused last first.
    pub(super) free: Vec<usize>,
    /// Sockets whose readiness may have changed since `drain_changed`, each once (its flag
    /// in `changed_mark`, by socket slot): bounded by the socket table.
    pub(super) changed: Vec<SockId>,
    pub(super) changed_mark: Vec<bool>,
    /// Sockets whose `connect` found the connection table full: they change when a
    /// connection is freed.
    pub(super) starved_connects: Vec<SockId>,
    /// Bound UDP sockets per local port.
    pub(super) udp_binds: BTreeMap<u16, Vec<(Ipv4Addr, SockId)>>,
    /// The host's multicast memberships, (NIC, group), with how many sockets hold each:
    /// what the NICs' filters and IP input accept. Bounded by the sockets.
    pub(super) multicast: BTreeMap<(usize, Ipv4Addr), u32>,
}

impl Host {
    pub(super) fn sock(&self, fd: Fd) -> Result<SockId, Errno> {
        self.cur()
            .fds
            .get(fd.0 as usize)
            .copied()
            .flatten()
            .ok_or(Errno::EBADF)
    }

    pub(super) fn socket_ref(&self, id: SockId) -> &Socket {
        self.sockets.slots[id.0].as_ref().expect("live socket id")
    }

    pub(super) fn socket_mut(&mut self, id: SockId) -> &mut Socket {
        self.sockets.slots[id.0].as_mut().expect("live socket id")
    }

    /// Notes that socket `id` may have become ready for something (see
    /// [`drain_changed`](Self::drain_changed)). Marking too often costs a spurious wake-up;
    /// marking too rarely would leave a waiter asleep, so every path that can make a
    /// socket more ready marks it.
    pub(super) fn mark_changed(&mut self, id: SockId) {
        if self.sockets.changed_mark.len() <= id.0 {
            self.sockets.changed_mark.resize(id.0 + 1, false);
        }
        if !self.sockets.changed_mark[id.0] {
            self.sockets.changed_mark[id.0] = true;
            self.sockets.changed.push(id);
        }
    }

    /// The key under which [`drain_changed`](Self::drain_changed) reports the socket
    /// behind `fd`. Descriptors of one socket (`dup`) share it; a closed socket's key may be
    /// reused by a later one.
    pub fn readiness_key(&self, fd: Fd) -> Result<u64, Errno> {
        self.sock(fd).map(|id| id.0 as u64)
    }

    /// Appends the keys of the sockets whose readiness may have changed since the last call
    /// (each once, in the order they changed) and forgets them. A socket not reported has
    /// not become readable, writable, acceptable, connected or failed, so an event loop
    /// can wake only the waiters of reported sockets instead of every waiter on the host.
    pub fn drain_changed(&mut self, out: &mut Vec<u64>) {
        for id in self.sockets.changed.drain(..) {
            self.sockets.changed_mark[id.0] = false;
            out.push(id.0 as u64);
        }
    }

    /// The lowest free descriptor of the calling process, or EMFILE.
    fn free_fd(&self) -> Result<usize, Errno> {
        let p = self.cur();
        match p.free_fds.first() {
            Some(&i) => Ok(i),
            None if p.fds.len() < p.max_descriptors => Ok(p.fds.len()),
            None => Err(Errno::EMFILE),
        }
    }

    /// Puts socket `id` at descriptor `at` of the calling process (a free slot, or at or
    /// past the table's end, whose gap becomes free slots: `dup2` to a high number).
    pub(super) fn install_fd(&mut self, at: usize, id: SockId) -> Fd {
        let p = self.cur_mut();
        if at >= p.fds.len() {
            for gap in p.fds.len()..at {
                p.free_fds.insert(gap);
            }
            p.fds.resize(at, None);
            p.fds.push(Some(id));
        } else {
            p.fds[at] = Some(id);
            p.free_fds.remove(&at);
        }
        Fd(at as u32)
    }

    /// Makes a socket and a descriptor for it: EMFILE at the process's limit, ENFILE at the
    /// host's (the descriptor is checked first, as Linux's `sock_map_fd` does).
    pub(super) fn new_socket(&mut self, mut sock: Socket) -> Result<Fd, Errno> {
        let at = self.free_fd()?;
        if self.sockets.slots.len() - self.sockets.free.len() >= self.cfg.limits.max_open_files {
            return Err(Errno::ENFILE);
        }
        self.next_inode += 1;
        sock.inode = self.next_inode;
        let id = match self.sockets.free.pop() {
            Some(i) => {
                self.sockets.slots[i] = Some(sock);
                SockId(i)
            }
            None => {
                self.sockets.slots.push(Some(sock));
                SockId(self.sockets.slots.len() - 1)
            }
        };
        Ok(self.install_fd(at, id))
    }

    /// `socket(2)`: a new, unbound socket.
    pub fn socket(&mut self, ty: SocketType) -> Result<Fd, Errno> {
        self.new_socket(Socket::new(ty))
    }

    /// `dup(2)`: a second descriptor (the lowest free) for the same socket.
    pub fn dup(&mut self, fd: Fd) -> Result<Fd, Errno> {
        let id = self.sock(fd)?;
        let at = self.free_fd()?;
        self.socket_mut(id).refs += 1;
        Ok(self.install_fd(at, id))
    }

    /// Whether binding `(ip, port)` for `proto` would clash with an existing bind (or, for
    /// TCP without `reuse`, with a live connection). With `reuse_port`, binds that also
    /// set `SO_REUSEPORT` are no clash (a reuseport group); nor are the connections they
    /// accepted.
    pub(super) fn bind_conflict(
        &self,
        ty: SocketType,
        ip: Ipv4Addr,
        port: u16,
        reuse: bool,
        reuse_port: bool,
    ) -> bool {
        let table = match ty {
            SocketType::Stream => &self.tcp.binds,
            SocketType::Datagram => &self.sockets.udp_binds,
        };
        let clash = table.get(&port).is_some_and(|v| {
            v.iter().any(|&(other_ip, other)| {
                if !overlaps(ip, other_ip) {
                    return false;
                }
                let s = self.socket_ref(other);
                if reuse_port && s.opts.reuse_port {
                    return false;
                }
                let listening = matches!(s.kind, Kind::TcpListener(_));
                !(reuse && s.opts.reuse_addr && !listening)
            })
        });
        if clash {
            return true;
        }
        ty == SocketType::Stream
            && !reuse
            && !reuse_port
            && self
                .tcp
                .conn_ports
                .range((port, Ipv4Addr::UNSPECIFIED)..=(port, Ipv4Addr::BROADCAST))
                .any(|(&(_, other_ip), _)| overlaps(ip, other_ip))
    }

    fn add_bind(&mut self, id: SockId, addr: SocketAddrV4) {
        let ty = self.socket_ref(id).ty;
        let table = match ty {
            SocketType::Stream => &mut self.tcp.binds,
            SocketType::Datagram => &mut self.sockets.udp_binds,
        };
        table.entry(addr.port()).or_default().push((*addr.ip(), id));
        let s = self.socket_mut(id);
        s.local = Some(addr);
        s.bound = true;
    }

    pub(super) fn remove_bind(&mut self, id: SockId) {
        let s = self.socket_ref(id);
        let (Some(addr), true) = (s.local, s.bound) else {
            return;
        };
        let table = match s.ty {
            SocketType::Stream => &mut self.tcp.binds,
            SocketType::Datagram => &mut self.sockets.udp_binds,
        };
        if let Some(v) = table.get_mut(&addr.port()) {
            v.retain(|&(_, other)| other != id);
            if v.is_empty() {
                table.remove(&addr.port());
            }
        }
        self.socket_mut(id).bound = false;
    }

    /// An ephemeral port free for a bind of `ip` (RFC 6056 algorithm 1 style walk from a
    /// secret-keyed starting point), or EADDRNOTAVAIL.
    fn ephemeral_bind_port(&mut self, ty: SocketType, ip: Ipv4Addr) -> Result<u16, Errno> {
        let first = u32::from(self.cfg.limits.ephemeral_port_first);
        let last = u32::from(
            self.cfg
                .limits
                .ephemeral_port_last
                .max(self.cfg.limits.ephemeral_port_first),
        );
        let count = last - first + 1;
        for i in 0..count {
            let port = (first + (self.tcp.next_ephemeral.wrapping_add(i)) % count) as u16;
            if !self.bind_conflict(ty, ip, port, false, false) {
                self.tcp.next_ephemeral = self.tcp.next_ephemeral.wrapping_add(i + 1);
                return Ok(port);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    /// `bind(2)`. Port 0 picks an ephemeral port. The address must be unspecified, one of
    /// ours, or loopback (EADDRNOTAVAIL); the port must be free (EADDRINUSE) unless
    /// `ReuseAddr` allows sharing it.
    pub fn bind(&mut self, fd: Fd, addr: SocketAddrV4) -> Result<(), Errno> {
        let id = self.sock(fd)?;
        let s = self.socket_ref(id);
        if s.local.is_some() {
            return Err(Errno::EINVAL);
        }
        let ip = *addr.ip();
        if !ip.is_unspecified() && !self.is_local_addr(ip) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let (ty, reuse, reuse_port) = (s.ty, s.opts.reuse_addr, s.opts.reuse_port);
        let port = match addr.port() {
            0 => self.ephemeral_bind_port(ty, ip)?,
            p if self.bind_conflict(ty, ip, p, reuse, reuse_port) => return Err(Errno::EADDRINUSE),
            p => p,
        };
        self.add_bind(id, SocketAddrV4::new(ip, port));
        Ok(())
    }

    /// Binds to an ephemeral port on `ip` if the socket is not bound yet.
    pub(super) fn autobind(&mut self, id: SockId, ip: Ipv4Addr) -> Result<SocketAddrV4, Errno> {
        if let Some(a) = self.socket_ref(id).local {
            return Ok(a);
        }
        let ty = self.socket_ref(id).ty;
        let port = self.ephemeral_bind_port(ty, ip)?;
        let addr = SocketAddrV4::new(ip, port);
        self.add_bind(id, addr);
        Ok(addr)
    }

    /// `close(2)`: releases the descriptor; the socket goes with its last descriptor. A
    /// connection then closes gracefully in the background (FIN), or with a RST if unread
    /// data is discarded or `Linger(Some(ZERO))` is set.
    pub fn close(&mut self, now: Instant, fd: Fd) -> Result<(), Errno> {
        self.close_in(now, self.current, fd)
    }

    pub(super) fn release_socket(&mut self, now: Instant, id: SockId) {
        self.remove_bind(id);
        let Some(sock) = self.sockets.slots[id.0].take() else {
            return;
        };
        self.sockets.free.push(id.0);
        match sock.kind {
            Kind::TcpIdle => {}
            Kind::Udp(u) => {
                for (group, nic) in u.groups {
                    self.multicast_release(nic, group);
                }
            }
            Kind::TcpListener(l) => self.tcp_release_listener(now, id, sock.local, l),
            Kind::TcpConn { id: conn, .. } => {
                self.tcp_release_conn(now, conn, sock.opts.linger == Some(Duration::ZERO))
            }
        }
    }

    /// `setsockopt(2)`. Options that only make sense for one protocol are EOPNOTSUPP on the
    /// other; buffer sizes of 0 are EINVAL.
    pub fn setsockopt(&mut self, now: Instant, fd: Fd, opt: SockOpt) -> Result<(), Errno> {
        let id = self.sock(fd)?;
        let ty = self.socket_ref(id).ty;
        let tcp_only = matches!(
            opt,
            SockOpt::NoDelay(_)
                | SockOpt::KeepAlive(_)
                | SockOpt::UserTimeout(_)
                | SockOpt::QuickAck(_)
        );
        let udp_only = matches!(
            opt,
            SockOpt::JoinMulticast { .. }
                | SockOpt::LeaveMulticast { .. }
                | SockOpt::MulticastLoop(_)
                | SockOpt::MulticastTtl(_)
        );
        if (tcp_only && ty != SocketType::Stream) || (udp_only && ty != SocketType::Datagram) {
            return Err(Errno::EOPNOTSUPP);
        }
        match opt {
            SockOpt::JoinMulticast { group, interface } => {
                return self.multicast_join(id, group, interface)
            }
            SockOpt::LeaveMulticast { group, interface } => {
                return self.multicast_leave(id, group, interface)
            }
            _ => {}
        }
        let s = self.socket_mut(id);
        match opt {
            SockOpt::NoDelay(on) => s.opts.nodelay = on,
            SockOpt::KeepAlive(ka) => {
                if ka.is_some_and(|k| k.count == 0) {
                    return Err(Errno::EINVAL);
                }
                s.opts.keep_alive = ka
            }
            SockOpt::SendBuffer(0) | SockOpt::RecvBuffer(0) | SockOpt::Ttl(0) => {
                return Err(Errno::EINVAL)
            }
            SockOpt::SendBuffer(n) => s.opts.send_buffer = Some(n),
            SockOpt::RecvBuffer(n) => s.opts.recv_buffer = Some(n),
            SockOpt::ReuseAddr(on) => s.opts.reuse_addr = on,
            SockOpt::ReusePort(on) => s.opts.reuse_port = on,
            SockOpt::Linger(l) => s.opts.linger = l,
            SockOpt::UserTimeout(t) => s.opts.user_timeout = t,
            SockOpt::DontFragment(on) => s.opts.dont_fragment = on,
            SockOpt::Ttl(ttl) => s.opts.ttl = Some(ttl),
            SockOpt::QuickAck(on) => s.opts.quickack = on,
            SockOpt::Tos(tos) => s.opts.tos = tos,
            SockOpt::Broadcast(on) => s.opts.broadcast = on,
            SockOpt::MulticastLoop(on) => s.opts.multicast_loop = on,
            SockOpt::MulticastTtl(ttl) => s.opts.multicast_ttl = ttl,
            SockOpt::JoinMulticast { .. } | SockOpt::LeaveMulticast { .. } => {}
        }
        // Buffer sizes apply to connections made later; the rest also to this one.
        if let Kind::TcpConn { id: conn, .. } = s.kind {
            self.share_option_config(conn, opt);
            let delayed_ack = self.cfg.tcp.delayed_ack;
            if let Some(e) = self.conn_mut(conn) {
                match opt {
                    SockOpt::NoDelay(on) => e.conn.set_nagle(!on),
                    SockOpt::KeepAlive(ka) => e.conn.set_keep_alive(now, ka),
                    SockOpt::UserTimeout(t) => e.conn.set_user_timeout(t),
                    SockOpt::QuickAck(on) => e.conn.set_delayed_ack(delayed_ack && !on),
                    _ => {}
                }
                self.sync_conn(now, conn);
            }
        }
        Ok(())
    }

    /// The multicast groups a UDP socket has joined, as (group, the interface's address),
    /// in the order joined (empty for other sockets).
    pub fn multicast_memberships(&self, fd: Fd) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, Errno> {
        let id = self.sock(fd)?;
        Ok(match &self.socket_ref(id).kind {
            Kind::Udp(u) => u
                .groups
                .iter()
                .map(|&(group, nic)| (group, self.cfg.interfaces[nic].addr))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// The NIC a membership names: the interface with address `interface`, or when that
    /// is unspecified the one `group` routes through (else the first).
    fn membership_nic(&self, group: Ipv4Addr, interface: Ipv4Addr) -> Result<usize, Errno> {
        if !group.is_multicast() {
            return Err(Errno::EINVAL);
        }
        if interface.is_unspecified() {
            return self.route(group).map(|(nic, _)| nic).ok_or(Errno::ENODEV);
        }
        self.cfg
            .interfaces
            .iter()
            .position(|i| i.addr == interface)
            .ok_or(Errno::ENODEV)
    }

    fn multicast_join(
        &mut self,
        id: SockId,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), Errno> {
        let nic = self.membership_nic(group, interface)?;
        let Kind::Udp(u) = &mut self.socket_mut(id).kind else {
            return Err(Errno::EOPNOTSUPP);
        };
        if u.groups.contains(&(group, nic)) {
            return Err(Errno::EADDRINUSE);
        }
        if u.groups.len() >= crate::iface::MAX_MEMBERSHIPS {
            return Err(Errno::ENOBUFS);
        }
        u.groups.push((group, nic));
        *self.sockets.multicast.entry((nic, group)).or_insert(0) += 1;
        Ok(())
    }

    fn multicast_leave(
        &mut self,
        id: SockId,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), Errno> {
        let nic = self.membership_nic(group, interface)?;
        let Kind::Udp(u) = &mut self.socket_mut(id).kind else {
            return Err(Errno::EOPNOTSUPP);
        };
        let at = u
            .groups
            .iter()
            .position(|&m| m == (group, nic))
            .ok_or(Errno::EADDRNOTAVAIL)?;
        u.groups.remove(at);
        self.multicast_release(nic, group);
        Ok(())
    }

    /// One socket less holds `group` on `nic`.
    fn multicast_release(&mut self, nic: usize, group: Ipv4Addr) {
        if let Some(n) = self.sockets.multicast.get_mut(&(nic, group)) {
            *n -= 1;
            if *n == 0 {
                self.sockets.multicast.remove(&(nic, group));
            }
        }
    }

    /// Whether the host has joined `group` on `nic` (`None`: on any NIC, for a datagram
    /// the host looped back to itself).
    pub(super) fn multicast_joined(&self, nic: Option<usize>, group: Ipv4Addr) -> bool {
        let m = &self.sockets.multicast;
        match nic {
            Some(nic) => m.contains_key(&(nic, group)),
            None => m.keys().any(|&(_, g)| g == group),
        }
    }

    /// Whether `nic`'s filter takes frames to the Ethernet multicast address `mac`: the
    /// address of a group joined on it (RFC 1112 section 6.4).
    pub(super) fn multicast_mac_joined(&self, nic: usize, mac: EthernetAddress) -> bool {
        self.sockets
            .multicast
            .range((nic, Ipv4Addr::UNSPECIFIED)..=(nic, Ipv4Addr::BROADCAST))
            .any(|(&(_, group), _)| multicast_mac(group) == mac)
    }

    /// `getsockopt(2)` for every option [`setsockopt`](Self::setsockopt) sets: the
    /// options as they are (a new socket's are the defaults).
    pub fn socket_options(&self, fd: Fd) -> Result<SocketOptions, Errno> {
        let id = self.sock(fd)?;
        Ok(self.socket_ref(id).opts)
    }

    /// `getsockopt(SO_ERROR)`: the pending error, cleared by reading it.
    pub fn take_error(&mut self, fd: Fd) -> Result<Option<Errno>, Errno> {
        let id = self.sock(fd)?;
        Ok(self.socket_mut(id).so_error.take())
    }

    /// `getsockname(2)`: the local address (unspecified before bind or connect).
    pub fn local_addr(&self, fd: Fd) -> Result<SocketAddrV4, Errno> {
        let id = self.sock(fd)?;
        let s = self.socket_ref(id);
        if let Kind::TcpConn { id: conn, .. } = s.kind {
            if let Some(e) = self.conn_ref(conn) {
                return Ok(e.conn.local());
            }
        }
        Ok(s.local
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))
    }

    /// `getpeername(2)`: the remote address, or ENOTCONN.
    pub fn peer_addr(&self, fd: Fd) -> Result<SocketAddrV4, Errno> {
        let id = self.sock(fd)?;
        match &self.socket_ref(id).kind {
            Kind::TcpConn { id: conn, .. } => self
                .conn_ref(*conn)
                .map(|e| e.conn.remote())
                .ok_or(Errno::ENOTCONN),
            Kind::Udp(u) => u.remote.ok_or(Errno::ENOTCONN),
            _ => Err(Errno::ENOTCONN),
        }
    }

    /// `connect(2)`, non-blocking. TCP: EINPROGRESS, then the socket becomes writable; the
    /// outcome is `take_error` (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...) and the next
    /// call. UDP: sets the default destination and the source filter.
    pub fn connect(&mut self, now: Instant, fd: Fd, addr: SocketAddrV4) -> Result<(), Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_connect(now, id, addr),
            SocketType::Datagram => self.udp_connect(id, addr),
        }
    }

    /// `send(2)`: TCP takes what fits in the send buffer (EAGAIN when none does); UDP
    /// sends one datagram to the connected peer.
    pub fn send(&mut self, now: Instant, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_send(now, id, data, false, None),
            SocketType::Datagram => self.udp_send(now, id, data, None),
        }
    }

    /// `send(2)` of `buf[range]`, bytes in a buffer the host may keep a reference to
    /// instead of copying them (Linux's `MSG_ZEROCOPY` in spirit): on a TCP socket, a run of
    /// at least 4 KiB stays in `buf` until the peer acknowledges it, and the segments copy
    /// from there; shorter runs, and UDP, are copied as `send` copies them. The same bytes
    /// go out either way. `buf` is immutable while shared, so the application cannot
    /// change what is still to be sent.
    pub fn send_shared(
        &mut self,
        now: Instant,
        fd: Fd,
        buf: &SharedFrame,
        range: core::ops::Range<usize>,
    ) -> Result<usize, Errno> {
        let id = self.sock(fd)?;
        let data = buf.get(range).ok_or(Errno::EINVAL)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_send(now, id, data, false, Some(buf)),
            SocketType::Datagram => self.udp_send(now, id, data, None),
        }
    }

    /// `send(2)` with `MSG_OOB` on a TCP socket: the bytes taken are urgent data (RFC 9293
    /// SEND with the URGENT flag; see `tcp::Connection::send_urgent`). EOPNOTSUPP on UDP,
    /// as Linux answers.
    pub fn send_urgent(&mut self, now: Instant, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_send(now, id, data, true, None),
            SocketType::Datagram => Err(Errno::EOPNOTSUPP),
        }
    }

    /// `recv(2)`: TCP reads in-order bytes (`Ok(0)` at end of stream, EAGAIN when none);
    /// UDP reads one datagram (truncated to `buf`).
    pub fn recv(&mut self, now: Instant, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_recv(now, id, buf),
            SocketType::Datagram => self.udp_recv(id, buf, false).map(|(n, _)| n),
        }
    }

    /// `sendto(2)` for UDP: one datagram to `addr` (EMSGSIZE above 65507 bytes, or above
    /// the path MTU with `DontFragment`). On a TCP socket, the address is ignored.
    pub fn send_to(
        &mut self,
        now: Instant,
        fd: Fd,
        data: &[u8],
        addr: SocketAddrV4,
    ) -> Result<usize, Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_send(now, id, data, false, None),
            SocketType::Datagram => self.udp_send(now, id, data, Some(addr)),
        }
    }

    /// `recvfrom(2)` for UDP: one datagram and its sender.
    pub fn recv_from(
        &mut self,
        now: Instant,
        fd: Fd,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4), Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => {
                let n = self.tcp_recv(now, id, buf)?;
                let peer = self.peer_addr(fd)?;
                Ok((n, peer))
            }
            SocketType::Datagram => self.udp_recv(id, buf, false),
        }
    }

    /// `recv(2)` with `MSG_PEEK`: what [`recv`](Self::recv) would return, left in place
    /// for the next `recv` or peek. TCP: the in-order bytes there now (`Ok(0)` at the end
    /// of the stream, EAGAIN when none; nothing is acknowledged or opened in the window);
    /// UDP: the first datagram, truncated to `buf`.
    pub fn peek(&mut self, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => self.tcp_peek(id, buf),
            SocketType::Datagram => self.udp_recv(id, buf, true).map(|(n, _)| n),
        }
    }

    /// `recvfrom(2)` with `MSG_PEEK`: [`peek`](Self::peek) and the sender (for TCP, the
    /// peer).
    pub fn peek_from(&mut self, fd: Fd, buf: &mut [u8]) -> Result<(usize, SocketAddrV4), Errno> {
        let id = self.sock(fd)?;
        match self.socket_ref(id).ty {
            SocketType::Stream => {
                let n = self.tcp_peek(id, buf)?;
                let peer = self.peer_addr(fd)?;
                Ok((n, peer))
            }
            SocketType::Datagram => self.udp_recv(id, buf, true),
        }
    }

    /// `shutdown(2)`. `Write` sends FIN after the queued data; `Read` makes `recv` return
    /// end of stream.
    pub fn shutdown(&mut self, now: Instant, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        let id = self.sock(fd)?;
        self.mark_changed(id);
        let s = self.socket_mut(id);
        let conn = match s.kind {
            Kind::TcpConn { id, .. } => Some(id),
            Kind::Udp(ref u) if u.remote.is_some() => None,
            _ => return Err(Errno::ENOTCONN),
        };
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            s.read_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            s.write_shut = true;
            if let Some(conn) = conn {
                if let Some(e) = self.conn_mut(conn) {
                    if e.conn.state() == State::SynSent {
                        return Err(Errno::ENOTCONN);
                    }
                    let _ = e.conn.shutdown_write(now);
                    self.sync_conn(now, conn);
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // Selector

    /// Registers `fd` with the selector (replacing an earlier interest).
    pub fn register(&mut self, fd: Fd, interest: Interest) -> Result<(), Errno> {
        self.sock(fd)?;
        self.cur_mut().registered.insert(fd, interest);
        Ok(())
    }

    /// Removes `fd` from the selector (closing it does too).
    pub fn deregister(&mut self, fd: Fd) -> Result<(), Errno> {
        self.sock(fd)?;
        self.cur_mut().registered.remove(&fd);
        Ok(())
    }

    /// The registered descriptors that are ready, by descriptor (level-triggered: a
    /// descriptor stays ready until the condition is consumed). Error and hang-up are
    /// always reported, whatever the interest.
    pub fn poll_ready(&mut self) -> Vec<(Fd, Readiness)> {
        let mut out = Vec::new();
        for (&fd, &interest) in &self.cur().registered {
            let Ok(r) = self.readiness(fd) else {
                continue;
            };
            let shown = Readiness {
                readable: r.readable && interest.readable,
                writable: r.writable && interest.writable,
                acceptable: r.acceptable && interest.readable,
                hang_up: r.hang_up,
                error: r.error,
            };
            if !shown.is_empty() {
                out.push((fd, shown));
            }
        }
        out
    }

    /// What `fd` is ready for now, whether registered or not.
    pub fn readiness(&self, fd: Fd) -> Result<Readiness, Errno> {
        let id = self.sock(fd)?;
        let s = self.socket_ref(id);
        let mut r = Readiness {
            error: s.so_error.is_some(),
            ..Readiness::default()
        };
        match &s.kind {
            Kind::TcpIdle => r.hang_up = true,
            Kind::TcpListener(l) => r.acceptable = !l.accept_queue.is_empty(),
            Kind::Udp(u) => {
                r.readable = !u.queue.is_empty() || s.so_error.is_some();
                r.writable = true;
            }
            Kind::TcpConn { id, .. } => match self.conn_ref(*id) {
                None => {
                    r.readable = true;
                    r.hang_up = true;
                }
                Some(e) => {
                    let st = e.conn.state();
                    let failed = e.conn.error().is_some() || st == State::Closed;
                    r.readable =
                        e.conn.recv_queue_len() > 0 || e.peer_closed || failed || s.read_shut;
                    r.writable = failed
                        || s.write_shut
                        || (st.is_synchronized()
                            && st.can_send_data()
                            && e.conn.send_capacity_left() > 0);
                    r.hang_up = failed
                        || st == State::TimeWait
                        || (e.peer_closed && (s.write_shut || !st.can_send_data()));
                    r.error |= e.conn.error().is_some_and(|_| s.so_error.is_some());
                }
            },
        }
        Ok(r)
    }

    // ------------------------------------------------------------------------------------
    // ss

    /// An `ss -tuan`-like table: one row per socket, sorted by lowest descriptor, then the
    /// connections no descriptor refers to (waiting in a listener's queue, or closed and
    /// finishing in the background), by address.
    pub fn ss(&self) -> Vec<SocketInfo> {
        let mut fds_of = self.init_fds_map();
        let mut rows: Vec<SocketInfo> = Vec::new();
        let mut owned: BTreeSet<ConnId> = BTreeSet::new();
        for id in self.ss_socket_ids() {
            if let Kind::TcpConn { id: conn, .. } = self.socket_ref(id).kind {
                owned.insert(conn);
            }
            rows.push(self.socket_row(id, fds_of.remove(&id).unwrap_or_default()));
        }
        let mut rest: Vec<SocketInfo> = self
            .tcp
            .conns
            .iter()
            .enumerate()
            .filter(|(i, _)| !owned.contains(&ConnId(*i)))
            .filter_map(|(_, e)| e.as_ref())
            .map(|e| self.conn_row(Vec::new(), e))
            .collect();
        rest.sort_by_key(|r| (r.local, r.peer));
        rows.extend(rest);
        rows
    }

    /// The sockets `ss` lists first, in its order: every live socket (each is held by a
    /// descriptor of some process), by slot.
    pub(super) fn ss_socket_ids(&self) -> Vec<SockId> {
        self.sockets
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| SockId(i))
            .collect()
    }

    /// Process 1's descriptors, by socket.
    pub(super) fn init_fds_map(&self) -> BTreeMap<SockId, Vec<Fd>> {
        let mut fds_of: BTreeMap<SockId, Vec<Fd>> = BTreeMap::new();
        if let Some(p) = self.processes.get(&super::Pid::INIT) {
            for (fd, id) in p.open_fds() {
                fds_of.entry(id).or_default().push(fd);
            }
        }
        fds_of
    }

    /// The `ss` row of socket `id`, with `fds` as its descriptors column.
    pub(super) fn socket_row(&self, id: SockId, fds: Vec<Fd>) -> SocketInfo {
        let s = self.socket_ref(id);
        match &s.kind {
            Kind::TcpIdle => SocketInfo {
                fds,
                proto: Proto::Tcp,
                state: SocketState::Unconnected,
                recv_q: 0,
                send_q: 0,
                local: s.local,
                peer: None,
            },
            Kind::TcpListener(l) => SocketInfo {
                fds,
                proto: Proto::Tcp,
                state: SocketState::Listen,
                recv_q: l.accept_queue.len(),
                send_q: l.backlog,
                local: s.local,
                peer: None,
            },
            Kind::TcpConn { id: conn, .. } => match self.conn_ref(*conn) {
                Some(e) => self.conn_row(fds, e),
                None => SocketInfo {
                    fds,
                    proto: Proto::Tcp,
                    state: SocketState::Tcp(State::Closed),
                    recv_q: 0,
                    send_q: 0,
                    local: s.local,
                    peer: None,
                },
            },
            Kind::Udp(u) => SocketInfo {
                fds,
                proto: Proto::Udp,
                state: SocketState::Udp,
                recv_q: u.queue.len(),
                send_q: 0,
                local: s.local,
                peer: u.remote,
            },
        }
    }

    fn conn_row(&self, fds: Vec<Fd>, e: &super::stream::ConnEntry) -> SocketInfo {
        SocketInfo {
            fds,
            proto: Proto::Tcp,
            state: SocketState::Tcp(e.conn.state()),
            recv_q: e.conn.recv_queue_len(),
            send_q: e.conn.send_queue_len(),
            local: Some(e.conn.local()),
            peer: Some(e.conn.remote()),
        }
    }
}

/// The Ethernet address a datagram to multicast `group` goes to: 01:00:5e and the group's
/// low 23 bits (RFC 1112 section 6.4).
pub(super) fn multicast_mac(group: Ipv4Addr) -> EthernetAddress {
    let [_, b, c, d] = group.octets();
    EthernetAddress([0x01, 0x00, 0x5e, b & 0x7f, c, d])
}
