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
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use sansnet_stack::iface::{Errno, Fd, Host, Shutdown, SockOpt, SocketType};
use sansnet_stack::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil::ToSocketAddrs;

use crate::stack::{not_in_host, poll_here, with_stack, StackId};

pub use turmoil::net::{lookup_host, UdpSocket};

/// Connections waiting to be accepted at most (the stack clamps it to its own bound).
const LISTEN_BACKLOG: usize = 1024;

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

/// The `io::Error` a socket call's errno becomes.
fn to_io(e: Errno) -> io::Error {
    let kind = match e {
        Errno::EAGAIN => io::ErrorKind::WouldBlock,
        Errno::ECONNREFUSED => io::ErrorKind::ConnectionRefused,
        Errno::ECONNRESET => io::ErrorKind::ConnectionReset,
        Errno::ETIMEDOUT => io::ErrorKind::TimedOut,
        Errno::EADDRINUSE => io::ErrorKind::AddrInUse,
        Errno::EADDRNOTAVAIL => io::ErrorKind::AddrNotAvailable,
        Errno::ENOTCONN => io::ErrorKind::NotConnected,
        Errno::EPIPE => io::ErrorKind::BrokenPipe,
        Errno::EINVAL => io::ErrorKind::InvalidInput,
        Errno::EHOSTUNREACH => io::ErrorKind::HostUnreachable,
        Errno::ENETUNREACH => io::ErrorKind::NetworkUnreachable,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

// ----- descriptors -----

/// One descriptor of one stack, closed when dropped.
#[derive(Debug)]
struct Sock {
    stack: StackId,
    fd: Fd,
}

impl Sock {
    async fn open(ty: SocketType) -> io::Result<Sock> {
        let stack = poll_fn(poll_here).await?;
        let fd = with_stack(stack, |s, _| s.host.socket(ty))?.map_err(to_io)?;
        Ok(Sock { stack, fd })
    }

    /// One call, its errno kept (for `EINPROGRESS`).
    fn call_raw<R>(
        &self,
        f: impl FnOnce(&mut Host, Instant, Fd) -> Result<R, Errno>,
    ) -> io::Result<Result<R, Errno>> {
        let fd = self.fd;
        with_stack(self.stack, |s, now| {
            let r = f(&mut s.host, now, fd);
            s.after_call();
            r
        })
    }

    fn call<R>(&self, f: impl FnOnce(&mut Host, Instant, Fd) -> Result<R, Errno>) -> io::Result<R> {
        self.call_raw(f)?.map_err(to_io)
    }

    /// A call that parks the task while it would block, until the socket's readiness
    /// changes.
    fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Host, Instant, Fd) -> Result<R, Errno>,
    ) -> Poll<io::Result<R>> {
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

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.call(|h, _, fd| h.local_addr(fd)).map(SocketAddr::V4)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.call(|h, _, fd| h.peer_addr(fd)).map(SocketAddr::V4)
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // Nothing to close once the host is gone (crashed, restarted, the simulation over).
        let _host_gone = self.call(|h, now, fd| h.close(now, fd));
    }
}

// ----- TCP -----

/// A TCP listener on the current turmoil host's sansnet stack, as
/// `turmoil::net::TcpListener`. Dropping it closes the socket (connections not yet
/// accepted are reset).
#[derive(Debug)]
pub struct TcpListener {
    sock: Sock,
}

impl TcpListener {
    /// Listens on `addr` (`0.0.0.0` or the host's address; port 0 for an ephemeral port),
    /// resolved through turmoil's DNS, with a backlog of 1024.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let addr = resolve(addr).await?;
        let sock = Sock::open(SocketType::Stream).await?;
        sock.call(|h, _, fd| h.bind(fd, addr))?;
        sock.call(|h, _, fd| h.listen(fd, LISTEN_BACKLOG))?;
        Ok(TcpListener { sock })
    }

    /// Waits for a connection, and returns it with its peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept), as tokio has it, for accept loops that
    /// are streams (tonic's `serve_with_incoming`, hyper-util's servers).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, peer) = ready!(self.sock.poll(cx, |h, now, fd| h.accept(now, fd)))?;
        let sock = Sock {
            stack: self.sock.stack,
            fd,
        };
        Poll::Ready(Ok((TcpStream::new(sock), SocketAddr::V4(peer))))
    }

    /// The address it listens on (with the port the stack chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

/// What a stream and its halves share.
#[derive(Debug)]
struct Shared {
    sock: Sock,
    /// Bytes `peek` took from the stack that no read has had yet.
    peeked: Mutex<Vec<u8>>,
    nodelay: AtomicBool,
}

impl Shared {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        {
            let mut peeked = self.peeked.lock().unwrap_or_else(PoisonError::into_inner);
            if !peeked.is_empty() {
                let n = peeked.len().min(buf.remaining());
                buf.put_slice(&peeked[..n]);
                peeked.drain(..n);
                return Poll::Ready(Ok(()));
            }
        }
        let into = buf.initialize_unfilled();
        let n = ready!(self.sock.poll(cx, |h, now, fd| h.recv(now, fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut peeked = self.peeked.lock().unwrap_or_else(PoisonError::into_inner);
        if peeked.is_empty() {
            let mut chunk = vec![0u8; buf.remaining()];
            let n = ready!(self.sock.poll(cx, |h, now, fd| h.recv(now, fd, &mut chunk)))?;
            peeked.extend_from_slice(&chunk[..n]);
        }
        let n = peeked.len().min(buf.remaining());
        buf.put_slice(&peeked[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.sock.poll(cx, |h, now, fd| h.send(now, fd, data))
    }

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sock.poll(cx, |h, _, fd| {
            let ready = h.readiness(fd)?;
            if ready.writable || ready.error || ready.hang_up {
                Ok(())
            } else {
                Err(Errno::EAGAIN)
            }
        })
    }

    /// FIN after the queued data: what `shutdown` means for TCP in tokio.
    fn shutdown_write(&self) -> io::Result<()> {
        self.sock
            .call(|h, now, fd| h.shutdown(now, fd, Shutdown::Write))
    }
}

/// A TCP connection on the current turmoil host's sansnet stack, as
/// `turmoil::net::TcpStream`: tokio's `AsyncRead` and `AsyncWrite`, `shutdown` sends FIN,
/// dropping closes the socket.
#[derive(Debug)]
pub struct TcpStream {
    shared: Arc<Shared>,
}

impl TcpStream {
    fn new(sock: Sock) -> TcpStream {
        TcpStream {
            shared: Arc::new(Shared {
                sock,
                peeked: Mutex::new(Vec::new()),
                nodelay: AtomicBool::new(false),
            }),
        }
    }

    /// Connects to `addr`, resolved through turmoil's DNS, and waits for the handshake:
    /// `ConnectionRefused` when nothing listens there, `HostUnreachable` when the host does
    /// not answer ARP, `TimedOut` when the SYN's retransmissions run out.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let addr = resolve(addr).await?;
        let sock = Sock::open(SocketType::Stream).await?;
        match sock.call_raw(|h, now, fd| h.connect(now, fd, addr))? {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(to_io(e)),
        }
        poll_fn(|cx| {
            sock.poll(cx, |h, _, fd| {
                let ready = h.readiness(fd)?;
                if ready.error {
                    return Err(h.take_error(fd)?.unwrap_or(Errno::ECONNREFUSED));
                }
                if ready.writable {
                    return Ok(());
                }
                if ready.hang_up {
                    return Err(Errno::ECONNREFUSED);
                }
                Err(Errno::EAGAIN)
            })
        })
        .await?;
        Ok(TcpStream::new(sock))
    }

    /// Writes what fits in the send buffer now, without waiting (`WouldBlock` when
    /// nothing does).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.shared.sock.call(|h, now, fd| h.send(now, fd, buf))
    }

    /// Waits until a write would not block (or would fail at once).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.shared.poll_writable(cx)).await
    }

    /// The local address, with the ephemeral port the stack chose.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }

    /// The peer's address (`NotConnected` once the connection is gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or back on. A real TCP is underneath: small
    /// request/response writes without it wait for the peer's delayed ACK, as they would
    /// on Linux (tonic and hyper's connectors set it).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.shared
            .sock
            .call(|h, now, fd| h.setsockopt(now, fd, SockOpt::NoDelay(nodelay)))?;
        self.shared.nodelay.store(nodelay, Ordering::Relaxed);
        Ok(())
    }

    /// `TCP_NODELAY` as last set on this stream (off until [`set_nodelay`](Self::set_nodelay)).
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.shared.nodelay.load(Ordering::Relaxed))
    }

    /// Reads without consuming: the next read returns the same bytes.
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        poll_fn(|cx| self.shared.poll_peek(cx, &mut buf)).await
    }

    /// The poll form of [`peek`](Self::peek).
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.shared.poll_peek(cx, buf)
    }

    /// Splits the stream into halves that can move to different tasks. The socket closes
    /// when both are gone; dropping the write half sends FIN first, as tokio's does.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let read = OwnedReadHalf {
            shared: self.shared.clone(),
        };
        let write = OwnedWriteHalf {
            shared: self.shared,
            shutdown_on_drop: true,
        };
        (read, write)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are the stack's to deliver: there is nothing to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shared.shutdown_write())
    }
}

/// The reading half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    shared: Arc<Shared>,
}

/// The writing half of [`TcpStream::into_split`]. Dropping it sends FIN (as tokio's and
/// turmoil's do).
#[derive(Debug)]
pub struct OwnedWriteHalf {
    shared: Arc<Shared>,
    shutdown_on_drop: bool,
}

/// [`OwnedReadHalf::reunite`] was given halves of two different streams; both are handed
/// back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    if !Arc::ptr_eq(&read.shared, &write.shared) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    Ok(TcpStream {
        shared: read.shared,
    })
}

impl OwnedReadHalf {
    /// Puts the stream back together; halves of different streams are an error that hands
    /// them back.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }

    /// Reads without consuming: the next read returns the same bytes.
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        poll_fn(|cx| self.shared.poll_peek(cx, &mut buf)).await
    }

    /// The poll form of [`peek`](Self::peek).
    pub fn poll_peek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.shared.poll_peek(cx, buf)
    }
}

impl OwnedWriteHalf {
    /// Puts the stream back together; halves of different streams are an error that hands
    /// them back.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _gone_or_already_shut = self.shared.shutdown_write();
        }
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared.poll_read(cx, buf)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shared.shutdown_write())
    }
}
