//! `turmoil::net`'s TCP types with sansnet's TCP underneath: the same names, the same
//! signatures, so that a test switches one import.
//!
//! ```no_run
//! // use turmoil::net::{TcpListener, TcpStream};
//! use sansnet_turmoil::net::{TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut sim = turmoil::Builder::new().fail_rate(0.05).build();
//! sim.host("server", || async {
//!     let listener = TcpListener::bind(("0.0.0.0", 1234)).await?;
//!     loop {
//!         let (mut socket, _) = listener.accept().await?;
//!         tokio::spawn(async move {
//!             let mut buf = [0u8; 1024];
//!             while let Ok(n @ 1..) = socket.read(&mut buf).await {
//!                 if socket.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//! sim.client("client", async {
//!     let mut socket = TcpStream::connect(("server", 1234)).await?;
//!     socket.write_all(b"hello").await?;
//!     let mut echo = [0u8; 5];
//!     socket.read_exact(&mut echo).await?;
//!     assert_eq!(&echo, b"hello");
//!     Ok(())
//! });
//! sim.run().unwrap();
//! ```
//!
//! Names resolve through turmoil's DNS ([`lookup_host`] is turmoil's). The handles hold a
//! stack id and a descriptor, so they are `Send + Sync + Unpin` like turmoil's and go to
//! `tokio::spawn`; every call must come from a task on the host that made them. A call
//! elsewhere (outside a turmoil host, on another host, after the host restarted) is an
//! `io::Error`, never a panic.
//!
//! The TCP types are `sansnet_sim::sockets`' over [`StackSocket`], the same code as
//! `sansnet_sim::net`'s; only how a call reaches the host differs.
//!
//! Departures from `turmoil::net`: IPv4 only (an IPv6 address is `Unsupported`); a
//! listener may also bind the host's own address; ephemeral ports are the stack's
//! (49152..=65535), not turmoil's `ephemeral_ports`; turmoil's `tcp_capacity` does not
//! apply (the stack's buffers do, [`Config::tcp`](crate::Config::tcp)); and the errors are
//! the ones a kernel gives (`ConnectionRefused` from a RST, `HostUnreachable` when ARP
//! gets no answer, `TimedOut` when retransmissions run out). UDP stays turmoil's:
//! [`UdpSocket`] is `turmoil::net::UdpSocket`, re-exported so that the one import still
//! covers it.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::task::{Context, Poll};

use sansnet_sim::sockets::{self, to_io, Backend, Bind, Connect, SocketCall};
use sansnet_stack::iface::{Errno, Fd, SocketType};
use turmoil::ToSocketAddrs;

use crate::stack::{not_in_host, poll_here, with_stack, StackId};

pub use turmoil::net::{lookup_host, UdpSocket};

fn ipv4_only() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "sansnet_turmoil: sansnet's stack is IPv4 only",
    )
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(ipv4_only()),
    }
}

/// The first address `addr` names, through turmoil's DNS.
async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddrV4> {
    // turmoil's lookup panics outside a simulation; this crate's calls return an error.
    if !turmoil::in_simulation() {
        return Err(not_in_host());
    }
    let first = lookup_host(addr).await?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    })?;
    v4(first)
}

// ----- descriptors -----

/// One descriptor of one turmoil host's stack, closed when dropped: how this module's
/// handles reach their stack ([`sockets::Backend`]).
#[derive(Debug)]
pub struct StackSocket {
    stack: StackId,
    fd: Fd,
}

impl StackSocket {
    async fn open(ty: SocketType) -> io::Result<StackSocket> {
        let stack = poll_fn(poll_here).await?;
        let fd = with_stack(stack, |s, _| s.host.socket(ty))?.map_err(to_io)?;
        Ok(StackSocket { stack, fd })
    }
}

impl Backend for StackSocket {
    type ReuniteError = ReuniteError;

    fn call_raw<R>(&self, f: impl SocketCall<R>) -> io::Result<Result<R, Errno>> {
        let fd = self.fd;
        with_stack(self.stack, |s, now| {
            let r = f(&mut s.host, now, fd);
            s.after_call();
            r
        })
    }

    fn poll<R>(&self, cx: &mut Context<'_>, f: impl SocketCall<R>) -> Poll<io::Result<R>> {
        let fd = self.fd;
        let r = with_stack(self.stack, |s, now| {
            let r = f(&mut s.host, now, fd);
            if matches!(r, Err(Errno::EAGAIN | Errno::EINPROGRESS)) {
                s.wait(fd, cx.waker());
            }
            s.after_call();
            r
        });
        match r {
            Err(e) => Poll::Ready(Err(e)),
            Ok(Err(Errno::EAGAIN | Errno::EINPROGRESS)) => Poll::Pending,
            Ok(r) => Poll::Ready(r.map_err(to_io)),
        }
    }

    fn accepted(&self, fd: Fd) -> StackSocket {
        StackSocket {
            stack: self.stack,
            fd,
        }
    }
}

impl Drop for StackSocket {
    fn drop(&mut self) {
        // Nothing to close once the host is gone (crashed, restarted, the simulation over).
        let _host_gone = self.call(|h, now, fd| h.close(now, fd));
    }
}

// ----- TCP -----

impl<A: ToSocketAddrs + Send> Connect<A> for StackSocket {
    /// From the current turmoil host's stack, to the first address turmoil's DNS gives.
    async fn connect(addr: A) -> io::Result<StackSocket> {
        let addr = resolve(addr).await?;
        let sock = StackSocket::open(SocketType::Stream).await?;
        sock.connect_to(addr).await?;
        Ok(sock)
    }
}

impl<A: ToSocketAddrs + Send> Bind<A> for StackSocket {
    /// On the current turmoil host's stack (`0.0.0.0` or the host's address).
    async fn listen(addr: A, backlog: usize) -> io::Result<StackSocket> {
        let addr = resolve(addr).await?;
        let sock = StackSocket::open(SocketType::Stream).await?;
        sock.call(|h, _, fd| h.bind(fd, addr))?;
        sock.call(|h, _, fd| h.listen(fd, backlog))?;
        Ok(sock)
    }
}

/// A TCP listener on the current turmoil host's sansnet stack, as
/// `turmoil::net::TcpListener` ([`sockets::TcpListener`]). Dropping it closes the socket
/// (connections not yet accepted are reset).
pub type TcpListener = sockets::TcpListener<StackSocket>;

/// A TCP connection on the current turmoil host's sansnet stack, as
/// `turmoil::net::TcpStream` ([`sockets::TcpStream`]): tokio's `AsyncRead` and
/// `AsyncWrite`, `shutdown` sends FIN, dropping closes the socket.
pub type TcpStream = sockets::TcpStream<StackSocket>;

/// The reading half of [`TcpStream::into_split`](sockets::TcpStream::into_split).
pub type OwnedReadHalf = sockets::OwnedReadHalf<StackSocket>;

/// The writing half of [`TcpStream::into_split`](sockets::TcpStream::into_split). Dropping
/// it sends FIN (as tokio's and turmoil's do).
pub type OwnedWriteHalf = sockets::OwnedWriteHalf<StackSocket>;

/// [`OwnedReadHalf::reunite`](sockets::OwnedReadHalf::reunite) was given halves of two
/// different streams; both are handed back.
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
