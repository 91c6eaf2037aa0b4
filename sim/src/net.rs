//! `tokio::net`, shaped the same, on the simulated host the calling task runs on.
//!
//! Service code written against tokio runs in the simulation by swapping one import, as
//! turmoil users do with `turmoil::net`:
//!
//! ```no_run
//! // In the service: `#[cfg(not(test))] use tokio::net;` next to this line.
//! use sansnet_sim::net;
//! use tokio::io::AsyncWriteExt;
//!
//! async fn serve() -> std::io::Result<()> {
//!     let listener = net::TcpListener::bind("0.0.0.0:8080").await?;
//!     let (mut stream, _peer) = listener.accept().await?;
//!     stream.write_all(b"hello").await
//! }
//!
//! async fn call() -> std::io::Result<net::TcpStream> {
//!     net::TcpStream::connect(("server", 8080)).await
//! }
//! ```
//!
//! There is no host argument: the host is always the current task's node
//! ([`exec::current_node`]), which is what lets the same code run unchanged on every host
//! it is started on (tasks that `tokio::spawn` starts on a host see that host too). Names
//! resolve through the simulation's DNS (`Sim::add_host`, `Sim::set_addr`), instantly,
//! because a lookup is not something the simulation models.
//!
//! The handles hold only a node id, a descriptor and `Arc`s, so they are `Send + Sync +
//! Unpin + 'static` like tokio's: hyper and axum hand connections to `tokio::spawn`. They
//! still only work on the thread of the simulation, inside a task: anywhere else (outside
//! any task, in a task on no node, after the simulation is gone) every call returns an
//! `io::Error` of kind `Other` that says so, instead of panicking inside a library that
//! cannot expect one. A host that crashed, or restarted since a socket was made, answers
//! `ConnectionReset`: a restarted host's descriptors are not the old ones.
//!
//! The TCP types are those of [`sockets`] over [`HostSocket`], the same
//! code as sansnet-turmoil's: reads, writes, `peek` (the host's `MSG_PEEK`), the
//! `ready(Interest)`, `readable`/`try_read` and `writable`/`try_write` readiness loops with
//! their vectored and `BufMut` forms, `ttl`/`set_ttl`, `split` and `into_split`, each half
//! with the calls tokio gives it.
//!
//! Departures from tokio: sansnet is IPv4 only (IPv6 addresses are an `InvalidInput`
//! error); there are no `from_std`/`into_std`, `try_io`/`async_io` (they take an OS socket
//! or a closure over one, and there is none behind these), no `bind_device`;
//! `set_quickack` stays on until turned off (Linux's quick-ACK mode ends by itself). IPv4 multicast works on a link (the switches flood it; the hosts send no
//! IGMP and routers forward none). `ready` reports a hang-up as both directions closed
//! (the host's readiness has no half-closed bit).

use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::task::{ready, Context, Poll};

use sansnet_stack::iface::{Errno, Fd, Host, SockOpt, SocketOptions, SocketType};
use sansnet_stack::tcp::{Config as TcpConfig, KeepAlive};
use sansnet_stack::time::Duration;

use bytes::BufMut;
use tokio::io::{Interest, ReadBuf, Ready};

use crate::exec;
use crate::host::{call, close_quietly, poll_call};
use crate::sockets::{self, Backend, Bind, Connect, SocketCall};
use crate::world::NodeId;

const NOT_ON_HOST: &str = "sansnet::net: not called from a task on a simulated host";

fn not_on_host() -> io::Error {
    io::Error::other(NOT_ON_HOST)
}

fn ipv4_only() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "sansnet is IPv4 only")
}

fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}

// ----- where a call runs -----

/// The node of the current task, if there is a current task and it is on a node.
fn current_node() -> io::Result<NodeId> {
    exec::try_current()
        .and_then(|(_, node)| node)
        .ok_or_else(not_on_host)
}

/// The host a new socket is made on: the current task's node, up and a sansnet [`Host`],
/// with the incarnation the socket will belong to.
#[derive(Clone, Copy, Debug)]
struct Here {
    node: NodeId,
    incarnation: u32,
}

fn here() -> io::Result<Here> {
    let (world, node) = exec::try_current().ok_or_else(not_on_host)?;
    let node = node.ok_or_else(not_on_host)?;
    let w = world.try_borrow().map_err(|_| not_on_host())?;
    let slot = &w.nodes[node.0];
    match &slot.endpoint {
        None => Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            format!("sansnet::net: host {:?} is crashed", slot.name),
        )),
        Some(ep) if ep.as_any().is::<Host>() => Ok(Here {
            node,
            incarnation: slot.incarnation,
        }),
        Some(_) => Err(io::Error::other(format!(
            "sansnet::net: node {:?} is not a sansnet host",
            slot.name
        ))),
    }
}

/// One descriptor on one incarnation of a simulated host, closed when dropped: how this
/// module's handles reach their host ([`sockets::Backend`]). Every call checks first that
/// it can be made (a task, the host up and not restarted), so that misuse is an error,
/// never a panic nor a call on a restarted host's unrelated descriptor.
#[derive(Debug)]
pub struct HostSocket {
    node: NodeId,
    fd: Fd,
    incarnation: u32,
}

impl HostSocket {
    fn open(here: Here, ty: SocketType) -> io::Result<HostSocket> {
        let fd = call(here.node, |h, _| h.socket(ty)).map_err(sockets::to_io)?;
        Ok(HostSocket {
            node: here.node,
            fd,
            incarnation: here.incarnation,
        })
    }

    /// Whether a call can be made: from a task, the host up and the one the socket was
    /// made on (not restarted since).
    fn check(&self) -> io::Result<()> {
        let (world, _) = exec::try_current().ok_or_else(not_on_host)?;
        let w = world.try_borrow().map_err(|_| not_on_host())?;
        let slot = w.nodes.get(self.node.0).ok_or_else(not_on_host)?;
        if slot.endpoint.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!("sansnet::net: host {:?} crashed", slot.name),
            ));
        }
        if slot.incarnation != self.incarnation {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!(
                    "sansnet::net: host {:?} restarted since this socket was made",
                    slot.name
                ),
            ));
        }
        Ok(())
    }
}

impl Backend for HostSocket {
    fn call_raw<R>(&self, f: impl SocketCall<R>) -> io::Result<Result<R, Errno>> {
        self.check()?;
        let fd = self.fd;
        Ok(call(self.node, |h, now| f(h, now, fd)))
    }

    fn poll<R>(&self, cx: &mut Context<'_>, f: impl SocketCall<R>) -> Poll<io::Result<R>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        let fd = self.fd;
        poll_call(self.node, fd, cx, |h, now| f(h, now, fd))
    }

    type ReuniteError = tcp::ReuniteError;

    fn accepted(&self, fd: Fd) -> HostSocket {
        HostSocket {
            node: self.node,
            fd,
            incarnation: self.incarnation,
        }
    }
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        if self.check().is_ok() {
            close_quietly(self.node, self.fd);
        }
    }
}

// ----- names -----

mod sealed {
    use std::net::SocketAddr;

    /// What an address argument names, before any lookup.
    #[derive(Debug)]
    pub enum Target<'a> {
        Addr(SocketAddr),
        Addrs(&'a [SocketAddr]),
        HostPort(&'a str, u16),
        /// `"host:port"` or `"1.2.3.4:port"`.
        Str(&'a str),
    }

    /// Keeps [`ToSocketAddrs`](super::ToSocketAddrs) closed to other crates, as tokio's
    /// is, so that how it resolves can change without breaking anyone.
    pub trait Sealed {
        fn target(&self) -> Target<'_>;
    }
}

use sealed::Target;

/// What `bind`, `connect`, `send_to` and [`lookup_host`] accept, as `tokio::net` does, so
/// that calls written for tokio compile unchanged. Host names resolve through the
/// simulation's DNS (`Sim::add_host`, `Sim::set_addr`; `localhost` is `127.0.0.1` unless
/// registered); an unknown name is `NotFound`, an IPv6 address `InvalidInput`.
///
/// Sealed: implemented here for the same types as tokio's trait, and nowhere else.
pub trait ToSocketAddrs: sealed::Sealed {}

macro_rules! to_socket_addrs {
    ($($ty:ty => |$s:ident| $target:expr;)*) => {$(
        impl sealed::Sealed for $ty {
            fn target(&self) -> Target<'_> {
                let $s = self;
                $target
            }
        }
        impl ToSocketAddrs for $ty {}
    )*};
}

to_socket_addrs! {
    SocketAddr => |s| Target::Addr(*s);
    SocketAddrV4 => |s| Target::Addr(SocketAddr::V4(*s));
    SocketAddrV6 => |s| Target::Addr(SocketAddr::V6(*s));
    (IpAddr, u16) => |s| Target::Addr(SocketAddr::new(s.0, s.1));
    (Ipv4Addr, u16) => |s| Target::Addr(SocketAddr::from(*s));
    (Ipv6Addr, u16) => |s| Target::Addr(SocketAddr::from(*s));
    [SocketAddr] => |s| Target::Addrs(s);
    (&str, u16) => |s| Target::HostPort(s.0, s.1);
    (String, u16) => |s| Target::HostPort(&s.0, s.1);
    str => |s| Target::Str(s);
    String => |s| Target::Str(s);
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn target(&self) -> Target<'_> {
        (**self).target()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

/// The address of `name` in the simulation's DNS.
fn lookup_name(name: &str) -> io::Result<Ipv4Addr> {
    let (world, _) = exec::try_current().ok_or_else(not_on_host)?;
    let found = world
        .try_borrow()
        .map_err(|_| not_on_host())?
        .dns
        .get(name)
        .copied();
    match found {
        Some(ip) => Ok(ip),
        None if name.eq_ignore_ascii_case("localhost") => Ok(Ipv4Addr::LOCALHOST),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no such host: {name}"),
        )),
    }
}

fn host_port(host: &str, port: u16) -> io::Result<SocketAddrV4> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(SocketAddrV4::new(ip, port));
    }
    if host.parse::<Ipv6Addr>().is_ok() || host.starts_with('[') {
        return Err(ipv4_only());
    }
    lookup_name(host).map(|ip| SocketAddrV4::new(ip, port))
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(ipv4_only()),
    }
}

/// Every address `addr` names, in order, looked up at once: a lookup takes no simulated
/// time, so there is nothing to await (the async [`lookup_host`] is only tokio's shape).
fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddrV4>> {
    match addr.target() {
        Target::Addr(a) => Ok(vec![v4(a)?]),
        Target::Addrs(list) => list.iter().map(|&a| v4(a)).collect(),
        Target::HostPort(host, port) => Ok(vec![host_port(host, port)?]),
        Target::Str(s) => {
            if let Ok(a) = s.parse::<SocketAddr>() {
                return Ok(vec![v4(a)?]);
            }
            let (host, port) = s.rsplit_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address")
            })?;
            let port = port
                .parse::<u16>()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid port value"))?;
            Ok(vec![host_port(host, port)?])
        }
    }
}

/// Resolves `host` the way `tokio::net::lookup_host` does, from the simulation's DNS:
/// for code that resolves once and connects later, or picks among addresses itself.
pub async fn lookup_host<T: ToSocketAddrs>(
    host: T,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    current_node()?;
    let addrs = resolve(&host)?;
    Ok(addrs.into_iter().map(SocketAddr::V4))
}

/// Runs `attempt` on each address in turn until one succeeds, as tokio does, returning
/// the last failure: a name may stand for several addresses, and only one need answer.
fn first_that_works<T>(
    addrs: Vec<SocketAddrV4>,
    mut attempt: impl FnMut(SocketAddrV4) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match attempt(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

// ----- TCP -----

impl<A: ToSocketAddrs> Connect<A> for HostSocket {
    /// From the current task's host, each of `addr`'s addresses in turn.
    fn connect(addr: A) -> impl Future<Output = io::Result<HostSocket>> + Send {
        let target = here().and_then(|here| Ok((here, resolve(&addr)?)));
        async move {
            let (here, addrs) = target?;
            let mut last = None;
            for a in addrs {
                let sock = match HostSocket::open(here, SocketType::Stream) {
                    Ok(sock) => sock,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                };
                match sock.connect_to(a).await {
                    Ok(()) => return Ok(sock),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(no_addresses))
        }
    }
}

impl<A: ToSocketAddrs> Bind<A> for HostSocket {
    /// On the current task's host.
    fn listen(addr: A, backlog: usize) -> impl Future<Output = io::Result<HostSocket>> + Send {
        let listening = here().and_then(|here| {
            first_that_works(resolve(&addr)?, |a| {
                let sock = HostSocket::open(here, SocketType::Stream)?;
                sock.call(|h, _, fd| h.bind(fd, a))?;
                sock.call(|h, _, fd| h.listen(fd, backlog))?;
                Ok(sock)
            })
        });
        std::future::ready(listening)
    }
}

/// A listening TCP socket on the current task's host, as `tokio::net::TcpListener`
/// ([`sockets::TcpListener`]). Dropping it closes the socket (connections not yet accepted
/// are reset).
pub type TcpListener = sockets::TcpListener<HostSocket>;

/// A TCP connection on a simulated host, as `tokio::net::TcpStream`
/// ([`sockets::TcpStream`]): tokio's `AsyncRead`/`AsyncWrite`, where `shutdown` sends FIN
/// and dropping closes the socket.
pub type TcpStream = sockets::TcpStream<HostSocket>;

/// A TCP socket that is not connected or listening yet, as `tokio::net::TcpSocket`: its
/// options and local address are set first, then [`connect`](Self::connect) makes it a
/// [`TcpStream`] or [`listen`](Self::listen) a [`TcpListener`]. The getters read what the
/// host applies (`getsockopt`); a buffer size never set is the host's default
/// (`HostConfig::tcp`), and is not doubled as Linux reports it.
///
/// ```no_run
/// use sansnet_sim::net::{TcpSocket, TcpStream};
///
/// async fn dial_with_a_small_window() -> std::io::Result<TcpStream> {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_recv_buffer_size(16 * 1024)?; // the window the connection offers
///     socket.set_nodelay(true)?;
///     socket.connect("10.0.0.2:8080".parse().unwrap()).await
/// }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    sock: HostSocket,
}

impl TcpSocket {
    /// A new IPv4 stream socket on the current task's host.
    pub fn new_v4() -> io::Result<TcpSocket> {
        HostSocket::open(here()?, SocketType::Stream).map(|sock| TcpSocket { sock })
    }

    /// sansnet is IPv4 only: always `InvalidInput`.
    pub fn new_v6() -> io::Result<TcpSocket> {
        Err(ipv4_only())
    }

    fn set(&self, opt: SockOpt) -> io::Result<()> {
        self.sock.call(|h, now, fd| h.setsockopt(now, fd, opt))
    }

    /// `SO_KEEPALIVE`, with RFC 9293's default timing (two hours idle, then 9 probes 75 s
    /// apart, as Linux's).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.set(SockOpt::KeepAlive(keepalive.then(KeepAlive::default)))
    }

    /// Whether `SO_KEEPALIVE` is on.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.sock.options().map(|o| o.keep_alive.is_some())
    }

    /// `SO_REUSEADDR`: bind a port that only non-listening sockets (or TIME-WAIT
    /// connections) hold.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.set(SockOpt::ReuseAddr(reuseaddr))
    }

    /// Whether `SO_REUSEADDR` is on.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.sock.options().map(|o| o.reuse_addr)
    }

    /// `SO_REUSEPORT`: several listeners on one address and port, the host spreading new
    /// connections across them by a hash of the 4-tuple, as Linux does.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.set(SockOpt::ReusePort(reuseport))
    }

    /// Whether `SO_REUSEPORT` is on.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.sock.options().map(|o| o.reuse_port)
    }

    /// `SO_SNDBUF`, bytes (0 is `InvalidInput`).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.set(SockOpt::SendBuffer(size as usize))
    }

    /// `SO_SNDBUF`, bytes: as set, or the host's default.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.buffer_size(|o| o.send_buffer, |c| c.send_buffer_bytes)
    }

    /// `SO_RCVBUF`, bytes (0 is `InvalidInput`): it sets the window the connection offers.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.set(SockOpt::RecvBuffer(size as usize))
    }

    /// `SO_RCVBUF`, bytes: as set, or the host's default.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.buffer_size(|o| o.recv_buffer, |c| c.recv_buffer_bytes)
    }

    fn buffer_size(
        &self,
        set: fn(&SocketOptions) -> Option<usize>,
        default: fn(&TcpConfig) -> usize,
    ) -> io::Result<u32> {
        let bytes = self.sock.call(|h, _, fd| {
            let o = h.socket_options(fd)?;
            Ok(set(&o).unwrap_or_else(|| default(&h.config().tcp)))
        })?;
        Ok(u32::try_from(bytes).unwrap_or(u32::MAX))
    }

    /// `SO_LINGER`: `Some(Duration::ZERO)` makes the connection's close a RST.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.set(SockOpt::Linger(linger))
    }

    /// `SO_LINGER` as set.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock.options().map(|o| o.linger)
    }

    /// `SO_LINGER` of zero: the connection's close is a RST.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set(SockOpt::Linger(Some(Duration::ZERO)))
    }

    /// `TCP_NODELAY`: Nagle's algorithm off.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.set(SockOpt::NoDelay(nodelay))
    }

    /// Whether `TCP_NODELAY` is on.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.options().map(|o| o.nodelay)
    }

    /// The bound address (unspecified before `bind`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// `SO_ERROR`: the pending error, cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Binds the socket to `addr` (port 0 for an ephemeral port).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let addr = v4(addr)?;
        self.sock.call(|h, _, fd| h.bind(fd, addr))
    }

    /// Connects to `addr` and waits for the handshake's end.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.sock.connect_to(v4(addr)?).await?;
        Ok(TcpStream::from_socket(self.sock))
    }

    /// Listens, with at most `backlog` connections waiting to be accepted (the host clamps
    /// it to its own limit).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.sock.call(|h, _, fd| h.listen(fd, backlog as usize))?;
        Ok(TcpListener::from_socket(self.sock))
    }
}

/// The halves of a [`TcpStream`], as `tokio::net::tcp`.
pub mod tcp {
    use std::fmt;

    use super::{sockets, HostSocket};

    /// The reading half of [`TcpStream::split`](super::TcpStream::split).
    pub type ReadHalf<'a> = sockets::ReadHalf<'a, HostSocket>;

    /// The writing half of [`TcpStream::split`](super::TcpStream::split); its `shutdown`
    /// sends FIN.
    pub type WriteHalf<'a> = sockets::WriteHalf<'a, HostSocket>;

    /// The reading half of [`TcpStream::into_split`](super::TcpStream::into_split).
    pub type OwnedReadHalf = sockets::OwnedReadHalf<HostSocket>;

    /// The writing half of [`TcpStream::into_split`](super::TcpStream::into_split);
    /// dropping it sends FIN.
    pub type OwnedWriteHalf = sockets::OwnedWriteHalf<HostSocket>;

    /// `reunite` was given halves of two different streams; both are handed back.
    #[derive(Debug)]
    pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

    impl From<(OwnedReadHalf, OwnedWriteHalf)> for ReuniteError {
        fn from((read, write): (OwnedReadHalf, OwnedWriteHalf)) -> ReuniteError {
            ReuniteError(read, write)
        }
    }

    impl fmt::Display for ReuniteError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("tried to reunite halves that are not from the same socket")
        }
    }

    impl std::error::Error for ReuniteError {}
}

/// tokio's `IP_TOS` calls on a socket type with a `sock: HostSocket` (for TCP the DSCP goes
/// out and the two ECN bits stay TCP's own; for UDP both do).
macro_rules! tos_calls {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// `IP_TOS`: the type-of-service byte of the socket's packets (0 to 255).
            pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
                self.sock.set_tos(tos)
            }

            /// `IP_TOS` as set (0 unless set).
            pub fn tos_v4(&self) -> io::Result<u32> {
                self.sock.tos()
            }

            /// [`set_tos_v4`](Self::set_tos_v4), under tokio's older name.
            #[deprecated(note = "use `set_tos_v4`, as tokio says")]
            pub fn set_tos(&self, tos: u32) -> io::Result<()> {
                self.set_tos_v4(tos)
            }

            /// [`tos_v4`](Self::tos_v4), under tokio's older name.
            #[deprecated(note = "use `tos_v4`, as tokio says")]
            pub fn tos(&self) -> io::Result<u32> {
                self.tos_v4()
            }
        }
    )*};
}

tos_calls!(TcpSocket, UdpSocket);

// ----- UDP -----

/// A UDP socket on the current task's host, as `tokio::net::UdpSocket`: the async calls,
/// their `poll_` forms and the `try_` calls with `readable`/`writable`, for code that
/// drives a socket itself (a QUIC endpoint's I/O loop, say), peeks, `SO_BROADCAST`,
/// `IP_TTL`, `IP_TOS` and IPv4 multicast. Dropping it closes the socket. Not there:
/// `bind_device`, and the raw-descriptor calls (`try_io`, `from_std`).
#[derive(Debug)]
pub struct UdpSocket {
    sock: HostSocket,
}

impl UdpSocket {
    /// Binds the first of `addr`'s addresses that can be bound (port 0 for an ephemeral
    /// one).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let here = here()?;
        first_that_works(resolve(&addr)?, |a| {
            let sock = HostSocket::open(here, SocketType::Datagram)?;
            sock.call(|h, _, fd| h.bind(fd, a))?;
            Ok(UdpSocket { sock })
        })
    }

    /// Sets the peer that [`send`](Self::send) sends to and the only source
    /// [`recv`](Self::recv) accepts datagrams from (the first of `addr`'s addresses the host
    /// accepts).
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        first_that_works(resolve(&addr)?, |a| {
            self.sock.call(|h, now, fd| h.connect(now, fd, a))
        })
    }

    /// Sends one datagram to the connected peer (`NotConnected` before
    /// [`connect`](Self::connect)).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// The poll form of [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.sock.poll(cx, |h, now, fd| h.send(now, fd, buf))
    }

    /// [`send`](Self::send) without waiting (`WouldBlock` when it would).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.call(|h, now, fd| h.send(now, fd, buf))
    }

    /// Receives one datagram from the connected peer; a datagram longer than `buf` is
    /// truncated, as with a real socket.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.sock.poll(cx, |h, now, fd| h.recv(now, fd, buf))).await
    }

    /// The poll form of [`recv`](Self::recv), into the unfilled part of `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let into = buf.initialize_unfilled();
        let n = ready!(self.sock.poll(cx, |h, now, fd| h.recv(now, fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// [`recv`](Self::recv) without waiting (`WouldBlock` when nothing has arrived).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.call(|h, now, fd| h.recv(now, fd, buf))
    }

    /// Sends one datagram to the first of `target`'s addresses, as tokio does.
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let to = resolve(&target)?
            .into_iter()
            .next()
            .ok_or_else(no_addresses)?;
        poll_fn(|cx| self.poll_send_to_v4(cx, buf, to)).await
    }

    /// The poll form of [`send_to`](Self::send_to), to an address already resolved.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        match v4(target) {
            Ok(to) => self.poll_send_to_v4(cx, buf, to),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_send_to_v4(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: SocketAddrV4,
    ) -> Poll<io::Result<usize>> {
        self.sock.poll(cx, |h, now, fd| h.send_to(now, fd, buf, to))
    }

    /// [`send_to`](Self::send_to) an address already resolved, without waiting.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        let to = v4(target)?;
        self.sock.call(|h, now, fd| h.send_to(now, fd, buf, to))
    }

    /// Receives one datagram and its sender; a datagram longer than `buf` is truncated.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) =
            poll_fn(|cx| self.sock.poll(cx, |h, now, fd| h.recv_from(now, fd, buf))).await?;
        Ok((n, SocketAddr::V4(from)))
    }

    /// The poll form of [`recv_from`](Self::recv_from), into the unfilled part of `buf`.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let into = buf.initialize_unfilled();
        let (n, from) = ready!(self.sock.poll(cx, |h, now, fd| h.recv_from(now, fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(SocketAddr::V4(from)))
    }

    /// [`recv_from`](Self::recv_from) without waiting (`WouldBlock` when nothing has
    /// arrived).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.sock.call(|h, now, fd| h.recv_from(now, fd, buf))?;
        Ok((n, SocketAddr::V4(from)))
    }

    /// Waits until a datagram can be received (or an error would be returned at once).
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_recv_ready(cx)).await
    }

    /// Waits until a datagram can be sent.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_send_ready(cx)).await
    }

    /// The poll form of [`readable`](Self::readable).
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sock.poll_ready(cx, |r| r.readable)
    }

    /// The poll form of [`writable`](Self::writable).
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sock.poll_ready(cx, |r| r.writable)
    }

    /// The bound address, with the port the host chose for port 0.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The connected peer (`NotConnected` before [`connect`](Self::connect)).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()
    }

    /// Waits until the socket is ready for one of `interest`, and says for what.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.sock.poll_ready_for(cx, interest)).await
    }

    /// [`recv`](Self::recv) into a `BufMut`'s spare room (a datagram longer than its next
    /// chunk is truncated, as tokio's is), advancing it.
    pub async fn recv_buf<M: BufMut>(&self, buf: &mut M) -> io::Result<usize> {
        let (n, _) = self.recv_buf_from(buf).await?;
        Ok(n)
    }

    /// [`recv_buf`](Self::recv_buf) without waiting.
    pub fn try_recv_buf<M: BufMut>(&self, buf: &mut M) -> io::Result<usize> {
        self.try_recv_buf_from(buf).map(|(n, _)| n)
    }

    /// [`recv_from`](Self::recv_from) into a `BufMut`'s spare room, advancing it. Copied
    /// through a buffer of the chunk's size: writing into a `BufMut`'s uninitialised
    /// memory takes `unsafe`, which this crate forbids.
    pub async fn recv_buf_from<M: BufMut>(&self, buf: &mut M) -> io::Result<(usize, SocketAddr)> {
        let mut chunk = vec![0u8; buf.chunk_mut().len()];
        let (n, from) = self.recv_from(&mut chunk).await?;
        buf.put_slice(&chunk[..n]);
        Ok((n, from))
    }

    /// [`recv_buf_from`](Self::recv_buf_from) without waiting.
    pub fn try_recv_buf_from<M: BufMut>(&self, buf: &mut M) -> io::Result<(usize, SocketAddr)> {
        let mut chunk = vec![0u8; buf.chunk_mut().len()];
        let (n, from) = self.try_recv_from(&mut chunk)?;
        buf.put_slice(&chunk[..n]);
        Ok((n, from))
    }

    /// The next datagram, left queued (`MSG_PEEK`): the next receive returns it again.
    /// Truncated to `buf` as a receive is.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.sock.poll(cx, |h, _, fd| h.peek(fd, buf))).await
    }

    /// The poll form of [`peek`](Self::peek), into the unfilled part of `buf`.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let into = buf.initialize_unfilled();
        let n = ready!(self.sock.poll(cx, |h, _, fd| h.peek(fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// [`peek`](Self::peek) without waiting.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.call(|h, _, fd| h.peek(fd, buf))
    }

    /// The next datagram and its sender, left queued.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = poll_fn(|cx| self.sock.poll(cx, |h, _, fd| h.peek_from(fd, buf))).await?;
        Ok((n, SocketAddr::V4(from)))
    }

    /// The poll form of [`peek_from`](Self::peek_from), into the unfilled part of `buf`.
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let into = buf.initialize_unfilled();
        let (n, from) = ready!(self.sock.poll(cx, |h, _, fd| h.peek_from(fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(SocketAddr::V4(from)))
    }

    /// [`peek_from`](Self::peek_from) without waiting.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.sock.call(|h, _, fd| h.peek_from(fd, buf))?;
        Ok((n, SocketAddr::V4(from)))
    }

    /// Who sent the next datagram, which stays queued.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        poll_fn(|cx| self.poll_peek_sender(cx)).await
    }

    /// The poll form of [`peek_sender`](Self::peek_sender).
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        let (_, from) = ready!(self.sock.poll(cx, |h, _, fd| h.peek_from(fd, &mut [])))?;
        Poll::Ready(Ok(SocketAddr::V4(from)))
    }

    /// [`peek_sender`](Self::peek_sender) without waiting.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.try_peek_from(&mut []).map(|(_, from)| from)
    }

    /// `SO_BROADCAST`: without it, a send to a broadcast address is `PermissionDenied`
    /// (EACCES), as on Linux.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.set(SockOpt::Broadcast(on))
    }

    /// `SO_BROADCAST` as set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock.options().map(|o| o.broadcast)
    }

    /// `IP_TTL`: the time to live of the socket's datagrams (1 to 255).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL` as in force (the host's default, 64, unless set).
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// `SO_ERROR`: the error pending (an ICMP port unreachable for a connected socket),
    /// cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// `IP_ADD_MEMBERSHIP`: the host receives datagrams sent to the multicast group
    /// `multiaddr` on the interface with address `interface` (unspecified: the one the
    /// group routes through). Every socket of the host bound to a datagram's port receives
    /// it, as on Linux.
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.set(SockOpt::JoinMulticast {
            group: multiaddr,
            interface,
        })
    }

    /// `IP_DROP_MEMBERSHIP` (`AddrNotAvailable` when not joined there).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.set(SockOpt::LeaveMulticast {
            group: multiaddr,
            interface,
        })
    }

    /// `IP_MULTICAST_LOOP` (on by default): datagrams sent to a group the host joined come
    /// back to its own sockets too.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.set(SockOpt::MulticastLoop(on))
    }

    /// `IP_MULTICAST_LOOP` as set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.sock.options().map(|o| o.multicast_loop)
    }

    /// `IP_MULTICAST_TTL` (1 by default: the link only; 1 to 255).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl).map_err(|_| sockets::to_io(Errno::EINVAL))?;
        self.set(SockOpt::MulticastTtl(ttl))
    }

    /// `IP_MULTICAST_TTL` as set.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.sock.options().map(|o| u32::from(o.multicast_ttl))
    }

    /// IPv6 multicast: `InvalidInput`, as every IPv6 address is here.
    pub fn join_multicast_v6(&self, _multiaddr: &Ipv6Addr, _interface: u32) -> io::Result<()> {
        Err(ipv4_only())
    }

    /// IPv6 multicast: `InvalidInput`, as every IPv6 address is here.
    pub fn leave_multicast_v6(&self, _multiaddr: &Ipv6Addr, _interface: u32) -> io::Result<()> {
        Err(ipv4_only())
    }

    /// An IPv6 option: `InvalidInput`, as every IPv6 call is here.
    pub fn set_multicast_loop_v6(&self, _on: bool) -> io::Result<()> {
        Err(ipv4_only())
    }

    /// An IPv6 option: `InvalidInput`, as every IPv6 call is here.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        Err(ipv4_only())
    }

    fn set(&self, opt: SockOpt) -> io::Result<()> {
        self.sock.call(|h, now, fd| h.setsockopt(now, fd, opt))
    }
}
