//! The types of the socket API: descriptors, errno values, options, readiness, `ss` rows.

use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

use crate::tcp::{KeepAlive, State};
use crate::time::Duration;

/// A socket descriptor: a small integer, the lowest free one first (as POSIX `open` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fd(pub u32);

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd{}", self.0)
    }
}

/// A process of a host: a small integer, from 1 (the process that exists from the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u32);

impl Pid {
    /// The process every host starts with, and whose descriptors the calls without a
    /// process name (`Host::socket`, `Host::send`, ...) use.
    pub const INIT: Pid = Pid(1);
}

impl fmt::Display for Pid {
    /// The number, honouring width and alignment (for table columns).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a socket call failed: the POSIX errno it would have returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// The peer answered the connection request with a RST (or port unreachable).
    ECONNREFUSED,
    /// The peer reset the connection.
    ECONNRESET,
    /// The connection timed out.
    ETIMEDOUT,
    /// The address (port) is already in use.
    EADDRINUSE,
    /// The address is not one of this host's, or no ephemeral port is left.
    EADDRNOTAVAIL,
    /// Nothing to read, no room to write, or nothing to accept, yet.
    EAGAIN,
    /// A non-blocking connect has started; the socket becomes writable when it is done.
    EINPROGRESS,
    /// The socket is already connected.
    EISCONN,
    /// The socket is not connected.
    ENOTCONN,
    /// Writing on a socket whose sending side is closed.
    EPIPE,
    /// Not an open descriptor.
    EBADF,
    /// The process's descriptor limit (`RLIMIT_NOFILE`) is reached.
    EMFILE,
    /// The host's limit on open files (sockets, whoever holds them) is reached.
    ENFILE,
    /// No such process.
    ESRCH,
    /// The operation is not permitted (process 1 cannot exit).
    EPERM,
    /// Permission denied: a datagram to a broadcast address from a socket without
    /// `SO_BROADCAST`.
    EACCES,
    /// No such device: a multicast membership names an address that is none of the
    /// host's interfaces.
    ENODEV,
    /// No buffer space: a socket's multicast memberships are at their limit.
    ENOBUFS,
    /// The datagram is too large (for UDP, or for the path with DF set).
    EMSGSIZE,
    /// The destination did not answer ARP, or an ICMP host unreachable came back.
    EHOSTUNREACH,
    /// No route to the destination's network.
    ENETUNREACH,
    /// An invalid argument or a call that does not fit the socket's state.
    EINVAL,
    /// The operation does not apply to this kind of socket.
    EOPNOTSUPP,
}

impl Errno {
    /// The symbolic name, as `errno(3)` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Errno::ECONNREFUSED => "ECONNREFUSED",
            Errno::ECONNRESET => "ECONNRESET",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::EADDRINUSE => "EADDRINUSE",
            Errno::EADDRNOTAVAIL => "EADDRNOTAVAIL",
            Errno::EAGAIN => "EAGAIN",
            Errno::EINPROGRESS => "EINPROGRESS",
            Errno::EISCONN => "EISCONN",
            Errno::ENOTCONN => "ENOTCONN",
            Errno::EPIPE => "EPIPE",
            Errno::EBADF => "EBADF",
            Errno::EMFILE => "EMFILE",
            Errno::ENFILE => "ENFILE",
            Errno::ESRCH => "ESRCH",
            Errno::EPERM => "EPERM",
            Errno::EACCES => "EACCES",
            Errno::ENODEV => "ENODEV",
            Errno::ENOBUFS => "ENOBUFS",
            Errno::EMSGSIZE => "EMSGSIZE",
            Errno::EHOSTUNREACH => "EHOSTUNREACH",
            Errno::ENETUNREACH => "ENETUNREACH",
            Errno::EINVAL => "EINVAL",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
        }
    }

    /// What `strerror(3)` says.
    pub fn description(self) -> &'static str {
        match self {
            Errno::ECONNREFUSED => "connection refused",
            Errno::ECONNRESET => "connection reset by peer",
            Errno::ETIMEDOUT => "connection timed out",
            Errno::EADDRINUSE => "address already in use",
            Errno::EADDRNOTAVAIL => "cannot assign requested address",
            Errno::EAGAIN => "resource temporarily unavailable",
            Errno::EINPROGRESS => "operation now in progress",
            Errno::EISCONN => "transport endpoint is already connected",
            Errno::ENOTCONN => "transport endpoint is not connected",
            Errno::EPIPE => "broken pipe",
            Errno::EBADF => "bad file descriptor",
            Errno::EMFILE => "too many open files",
            Errno::ENFILE => "too many open files in system",
            Errno::ESRCH => "no such process",
            Errno::EPERM => "operation not permitted",
            Errno::EACCES => "permission denied",
            Errno::ENODEV => "no such device",
            Errno::ENOBUFS => "no buffer space available",
            Errno::EMSGSIZE => "message too long",
            Errno::EHOSTUNREACH => "no route to host",
            Errno::ENETUNREACH => "network is unreachable",
            Errno::EINVAL => "invalid argument",
            Errno::EOPNOTSUPP => "operation not supported",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.as_str())
    }
}

impl core::error::Error for Errno {}

/// Which transport a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SocketType {
    /// TCP (`SOCK_STREAM`).
    Stream,
    /// UDP (`SOCK_DGRAM`).
    Datagram,
}

/// Which direction `shutdown` closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// No more reads (`SHUT_RD`).
    Read,
    /// No more writes: FIN after the queued data (`SHUT_WR`).
    Write,
    /// Both (`SHUT_RDWR`).
    Both,
}

/// A socket option, with its value (`setsockopt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    /// `TCP_NODELAY`: Nagle's algorithm off.
    NoDelay(bool),
    /// `SO_KEEPALIVE` with `TCP_KEEPIDLE`/`TCP_KEEPINTVL`/`TCP_KEEPCNT`; `None` is off.
    KeepAlive(Option<KeepAlive>),
    /// `SO_SNDBUF` in bytes (takes effect for connections created after it).
    SendBuffer(usize),
    /// `SO_RCVBUF` in bytes (takes effect for connections created after it).
    RecvBuffer(usize),
    /// `SO_REUSEADDR`: bind a port that only non-listening sockets (or TIME-WAIT
    /// connections) hold.
    ReuseAddr(bool),
    /// `SO_REUSEPORT`: several sockets, each with it set before `bind`, may bind and
    /// listen on one address and port; the host spreads incoming connections across the
    /// listeners by a hash of the 4-tuple, as Linux does.
    ReusePort(bool),
    /// `SO_LINGER`: `Some(ZERO)` makes `close` abort with a RST. Other values behave as
    /// `None` (a graceful close in the background; the API never blocks).
    Linger(Option<Duration>),
    /// `TCP_USER_TIMEOUT` (RFC 5482); `None` falls back to R2.
    UserTimeout(Option<Duration>),
    /// `IP_MTU_DISCOVER` = `IP_PMTUDISC_DO` for UDP: set DF, and fail with EMSGSIZE rather
    /// than fragment. TCP always sets DF.
    DontFragment(bool),
    /// `TCP_QUICKACK`: every ACK at once instead of delayed (and one held back goes now).
    /// Linux leaves quick-ACK mode by itself after a while; here it stays until turned
    /// off, which puts delayed ACKs back as the host has them.
    QuickAck(bool),
    /// `IP_TOS`: the type-of-service byte of the socket's packets (DSCP and ECN; TCP keeps
    /// the ECN bits its own, as Linux does), for connections already made too.
    Tos(u8),
    /// `IP_TTL`: the time to live of the socket's packets, 1 to 255 (0 is EINVAL), for
    /// connections already made too. Unset, the host's default (`tcp::Config::ttl`).
    /// Connections accepted from a listener take the listener's.
    Ttl(u8),
    /// `SO_BROADCAST`: a UDP socket may send to a broadcast address (the limited one or a
    /// subnet's); without it such a send is EACCES, as on Linux.
    Broadcast(bool),
    /// `IP_ADD_MEMBERSHIP` (UDP): the host receives datagrams sent to the multicast
    /// `group` on the interface whose address is `interface` (unspecified: the interface
    /// the group routes through, else the first). EINVAL for a group outside 224.0.0.0/4,
    /// ENODEV for an address none of the host's, EADDRINUSE when already joined there,
    /// ENOBUFS past `MAX_MEMBERSHIPS` per socket. Every socket bound to the datagram's port
    /// (the wildcard or the group) receives it, as Linux's default `IP_MULTICAST_ALL`.
    JoinMulticast {
        /// The group.
        group: Ipv4Addr,
        /// The interface's address, or unspecified.
        interface: Ipv4Addr,
    },
    /// `IP_DROP_MEMBERSHIP`: EADDRNOTAVAIL when not joined there.
    LeaveMulticast {
        /// The group.
        group: Ipv4Addr,
        /// The interface's address, or unspecified.
        interface: Ipv4Addr,
    },
    /// `IP_MULTICAST_LOOP` (on by default): a datagram sent to a group the host has joined
    /// is delivered to the host's own sockets too.
    MulticastLoop(bool),
    /// `IP_MULTICAST_TTL` (1 by default: the link only): the TTL of datagrams sent to a
    /// multicast group. `IP_TTL` does not apply to them.
    MulticastTtl(u8),
}

/// Multicast groups one socket may join (`IP_MAX_MEMBERSHIPS`, Linux's default).
pub const MAX_MEMBERSHIPS: usize = 20;

/// What a registered descriptor waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest {
    /// Data to read, end of stream, or (for a listener) a connection to accept.
    pub readable: bool,
    /// Room to write, or a non-blocking connect that finished.
    pub writable: bool,
}

impl Interest {
    /// Readable only.
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Writable only.
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };
    /// Both.
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };
}

/// What a descriptor is ready for (level-triggered, like `poll(2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Readiness {
    /// `recv` would not block (data, end of stream or an error).
    pub readable: bool,
    /// `send` would not block (or a connect finished).
    pub writable: bool,
    /// A listener has a connection to `accept`.
    pub acceptable: bool,
    /// Both directions are finished (`POLLHUP`).
    pub hang_up: bool,
    /// An error is pending (`POLLERR`); `take_error` returns it.
    pub error: bool,
}

impl Readiness {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        !(self.readable || self.writable || self.acceptable || self.hang_up || self.error)
    }
}

/// The protocol of an `ss` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// The state column of an `ss` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketState {
    /// A TCP socket not yet listening or connected.
    Unconnected,
    /// A TCP listener.
    Listen,
    /// A TCP connection in this RFC 9293 state.
    Tcp(State),
    /// A UDP socket (`UNCONN` in `ss`, or connected to a peer).
    Udp,
}

/// One row of [`Host::ss`](super::Host::ss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// Process 1's descriptors that refer to this socket (more than one after `dup`); empty
    /// for a connection that was closed and is finishing in the background, one waiting in
    /// a listener's queue, or a socket only other processes hold (see
    /// [`Host::ss_processes`](super::Host::ss_processes) for every holder).
    pub fds: alloc::vec::Vec<Fd>,
    /// TCP or UDP.
    pub proto: Proto,
    /// The state.
    pub state: SocketState,
    /// Bytes (TCP) or datagrams (UDP) waiting to be read; for a listener, connections
    /// waiting to be accepted.
    pub recv_q: usize,
    /// Bytes not yet acknowledged; for a listener, the backlog.
    pub send_q: usize,
    /// Local address, if bound.
    pub local: Option<SocketAddrV4>,
    /// Remote address, if connected.
    pub peer: Option<SocketAddrV4>,
}

impl fmt::Display for SocketInfo {
    /// One `ss`-style row: descriptors, protocol, state, queues, local and peer addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use alloc::string::{String, ToString};
        let fds = if self.fds.is_empty() {
            String::from("-")
        } else {
            let list: alloc::vec::Vec<String> =
                self.fds.iter().map(|fd| fd.0.to_string()).collect();
            list.join(",")
        };
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let state = match self.state {
            SocketState::Unconnected => "UNCONN",
            SocketState::Listen => "LISTEN",
            SocketState::Tcp(s) => s.rfc_name(),
            SocketState::Udp => "UDP",
        };
        let addr = |a: Option<SocketAddrV4>| a.map_or(String::from("*"), |a| a.to_string());
        write!(
            f,
            "{:<4} {:<5} {:<13} {:>8} {:>8} {:<22} {:<22}",
            fds,
            proto,
            state,
            self.recv_q,
            self.send_q,
            addr(self.local),
            addr(self.peer)
        )
    }
}
