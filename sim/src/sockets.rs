//! tokio's TCP handles (`TcpStream`, `TcpListener` and a stream's halves) over a sansnet
//! [`Host`], written once for every way of reaching a host.
//!
//! What differs between the users of these types is only how a call gets to the host the
//! handle belongs to: [`net`](crate::net) finds it from the current task's node in this
//! simulator, sansnet-turmoil from the current turmoil host's stack. That is a
//! [`Backend`]: one socket descriptor on one host, able to make a call on it and to park a
//! task until its readiness changes. Each user names the types with its backend
//! (`net::TcpStream` is `TcpStream<net::HostSocket>`) and says how addresses resolve
//! ([`Connect`], [`Bind`]); reading, writing, peeking, readiness, splitting and closing are
//! here, the same for both.
//!
//! The handles hold a backend and `Arc`s, so they are `Send + Sync + Unpin + 'static` like
//! tokio's (hyper and tonic hand connections to `tokio::spawn`); whether a call can be made
//! from where it is made (a task on the right host) is the backend's to check, and it
//! answers with an `io::Error`, never a panic.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::BufMut;
use sansnet_stack::iface::{Errno, Fd, Host, Readiness, Shutdown, SockOpt, SocketOptions};
use sansnet_stack::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

/// The `io::Error` a socket call's errno becomes: the kind tokio gives for the same errno
/// on Linux, and the errno's description and name as the message.
pub fn to_io(e: Errno) -> io::Error {
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
        Errno::EACCES => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

/// A call on a socket: the host, the simulated time and the descriptor in, an errno out.
pub trait SocketCall<R>: FnOnce(&mut Host, Instant, Fd) -> Result<R, Errno> {}

impl<R, F: FnOnce(&mut Host, Instant, Fd) -> Result<R, Errno>> SocketCall<R> for F {}

/// One socket descriptor on one host, and the way its calls get there: what the handles of
/// this module are written over. The backend closes its descriptor when dropped.
pub trait Backend: fmt::Debug + Send + Sync + Sized + 'static {
    /// Makes one call on the socket, its errno kept (`EINPROGRESS` means something to
    /// `connect`). `Err` when no call can be made: not from a task on the socket's host, or
    /// the host crashed or restarted since the socket was made.
    fn call_raw<R>(&self, f: impl SocketCall<R>) -> io::Result<Result<R, Errno>>;

    /// Makes one call for a task that waits while it would block: when `f` answers `EAGAIN`
    /// or `EINPROGRESS`, the task (`cx`) is woken once the socket's readiness changes, and
    /// this returns `Pending`. A call that would block must wake no other task.
    fn poll<R>(&self, cx: &mut Context<'_>, f: impl SocketCall<R>) -> Poll<io::Result<R>>;

    /// The handle for `fd`, a connection `accept` made on this (listening) socket's host.
    fn accepted(&self, fd: Fd) -> Self;

    /// What `reunite` hands back when the halves are not from one stream: the user's own
    /// `ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf)`, a tuple struct as tokio's is,
    /// so that code written for tokio can take it apart.
    type ReuniteError: From<(OwnedReadHalf<Self>, OwnedWriteHalf<Self>)>;

    /// [`call_raw`](Self::call_raw), its errno made an `io::Error`.
    fn call<R>(&self, f: impl SocketCall<R>) -> io::Result<R> {
        self.call_raw(f)?.map_err(to_io)
    }

    /// The socket's local address.
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.call(|h, _, fd| h.local_addr(fd)).map(SocketAddr::V4)
    }

    /// The socket's peer (`NotConnected` once the connection is gone).
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.call(|h, _, fd| h.peer_addr(fd)).map(SocketAddr::V4)
    }

    /// Ready when `ready` says so of the socket's readiness, or when an error or a hang-up
    /// would make the next call return at once; else the task waits for a change.
    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        ready: fn(Readiness) -> bool,
    ) -> Poll<io::Result<()>> {
        self.poll(cx, |h, _, fd| {
            let r = h.readiness(fd)?;
            if ready(r) || r.error || r.hang_up {
                Ok(())
            } else {
                Err(Errno::EAGAIN)
            }
        })
    }

    /// tokio's `ready`: waits until the socket is ready for one of `interest`, and says
    /// for what ([`ready_of`]).
    fn poll_ready_for(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<Ready>> {
        self.poll(cx, |h, _, fd| {
            let ready = ready_of(h.readiness(fd)?, interest);
            if ready.is_empty() {
                Err(Errno::EAGAIN)
            } else {
                Ok(ready)
            }
        })
    }

    /// `IP_TTL`: the time to live of the socket's packets (1 to 255; more is
    /// `InvalidInput`, as the kernel's EINVAL).
    fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl).map_err(|_| to_io(Errno::EINVAL))?;
        self.call(|h, now, fd| h.setsockopt(now, fd, SockOpt::Ttl(ttl)))
    }

    /// `IP_TTL` as in force: as set, or the host's default.
    fn ttl(&self) -> io::Result<u32> {
        self.call(|h, _, fd| Ok(h.socket_options(fd)?.ttl.unwrap_or(h.config().tcp.ttl)))
            .map(u32::from)
    }

    /// `IP_TOS`: the type-of-service byte of the socket's packets (0 to 255; TCP keeps
    /// the two ECN bits its own).
    fn set_tos(&self, tos: u32) -> io::Result<()> {
        let tos = u8::try_from(tos).map_err(|_| to_io(Errno::EINVAL))?;
        self.call(|h, now, fd| h.setsockopt(now, fd, SockOpt::Tos(tos)))
    }

    /// `IP_TOS` as set (0 unless set).
    fn tos(&self) -> io::Result<u32> {
        self.options().map(|o| u32::from(o.tos))
    }

    /// `SO_ERROR`: the socket's pending error, cleared by reading it.
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.call(|h, _, fd| h.take_error(fd)).map(|e| e.map(to_io))
    }

    /// The socket's options as the host applies them (`getsockopt`).
    fn options(&self) -> io::Result<SocketOptions> {
        self.call(|h, _, fd| h.socket_options(fd))
    }

    /// Connects this (new, stream) socket to `addr` and waits for the handshake's end.
    fn connect_to(&self, addr: SocketAddrV4) -> impl Future<Output = io::Result<()>> + Send {
        async move {
            match self.call_raw(|h, now, fd| h.connect(now, fd, addr))? {
                Ok(()) | Err(Errno::EINPROGRESS) => {}
                Err(e) => return Err(to_io(e)),
            }
            poll_fn(|cx| self.poll(cx, |h, _, fd| handshake_outcome(h, fd))).await
        }
    }
}

/// What tokio's `ready(interest)` answers for a socket whose readiness is `r`: the parts of
/// `interest` that hold (readable, writable, an error when `interest` asks for errors), and
/// both directions closed on a hang-up.
pub fn ready_of(r: Readiness, interest: Interest) -> Ready {
    let mut ready = Ready::EMPTY;
    if interest.is_readable() {
        if r.readable || r.acceptable {
            ready |= Ready::READABLE;
        }
        if r.hang_up {
            ready |= Ready::READ_CLOSED;
        }
    }
    if interest.is_writable() {
        if r.writable {
            ready |= Ready::WRITABLE;
        }
        if r.hang_up {
            ready |= Ready::WRITE_CLOSED;
        }
    }
    if interest.is_error() && r.error {
        ready |= Ready::ERROR;
    }
    ready
}

/// Where a non-blocking connect on `fd` stands, from its readiness: done (`Ok`), failed
/// (the error), or still under way (`EAGAIN`). The one place that reads an outcome out of
/// readiness, for every connect of the simulator's sockets.
pub fn handshake_outcome(h: &mut Host, fd: Fd) -> Result<(), Errno> {
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
}

/// How a backend makes a connected stream socket from an address argument of type `A`
/// (its resolution, then [`Backend::connect_to`]): what [`TcpStream::connect`] accepts.
pub trait Connect<A>: Backend {
    /// A socket connected to the first of `addr`'s addresses that answers (the last error
    /// if none does).
    fn connect(addr: A) -> impl Future<Output = io::Result<Self>> + Send;
}

/// How a backend makes a listening socket from an address argument of type `A`: what
/// [`TcpListener::bind`] accepts.
pub trait Bind<A>: Backend {
    /// A socket bound to the first of `addr`'s addresses that can be bound, listening with
    /// a backlog of `backlog`.
    fn listen(addr: A, backlog: usize) -> impl Future<Output = io::Result<Self>> + Send;
}

/// Connections that may wait to be accepted: generous, as a server tuned for load would
/// ask, so that a burst of clients in one instant is not refused (the host clamps it to its
/// own limit).
pub const LISTEN_BACKLOG: usize = 1024;

// ----- listener -----

/// A listening TCP socket, as `tokio::net::TcpListener`. Dropping it closes the socket
/// (connections not yet accepted are reset).
#[derive(Debug)]
pub struct TcpListener<B: Backend> {
    sock: B,
}

impl<B: Backend> TcpListener<B> {
    /// The listener of a socket that listens already (for backends: [`Bind`], a
    /// `TcpSocket`'s `listen`).
    pub fn from_socket(sock: B) -> Self {
        TcpListener { sock }
    }

    /// Listens on the first of `addr`'s addresses that can be bound (`0.0.0.0` for every
    /// interface; port 0 for an ephemeral one), with a backlog of [`LISTEN_BACKLOG`].
    pub async fn bind<A>(addr: A) -> io::Result<Self>
    where
        B: Bind<A>,
    {
        B::listen(addr, LISTEN_BACKLOG)
            .await
            .map(|sock| TcpListener { sock })
    }

    /// Waits for the next connection, and returns it with its peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream<B>, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept), for accept loops that are futures or
    /// streams themselves (hyper-util's and axum's serve loops, tonic's
    /// `serve_with_incoming`): on `Pending`, the task is woken when a connection may be
    /// waiting.
    pub fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream<B>, SocketAddr)>> {
        let (fd, peer) = ready!(self.sock.poll(cx, |h, now, fd| h.accept(now, fd)))?;
        let stream = TcpStream::from_socket(self.sock.accepted(fd));
        Poll::Ready(Ok((stream, SocketAddr::V4(peer))))
    }

    /// The address it listens on: the port the host chose when bound to port 0.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// `IP_TTL` of the listener's packets and of the connections it accepts from now on.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// `IP_TTL` as in force (the host's default, 64, unless set).
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }
}

// ----- stream -----

/// The bytes of a vectored call: `calls` makes one call per buffer, lazily, each answering
/// (bytes done, the buffer's length); the next is made only when the one before filled its
/// buffer. An error after some bytes ends the run with them; the first call's error is
/// the call's.
fn vectored(calls: impl Iterator<Item = Result<(usize, usize), Errno>>) -> Result<usize, Errno> {
    let mut total = 0;
    for call in calls {
        match call {
            Ok((n, len)) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(_) if total > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// What a stream and its halves share: the descriptor, closed when the last of them goes.
/// A peek is the host's (`MSG_PEEK`): no bytes wait here.
#[derive(Debug)]
struct Shared<B> {
    sock: B,
}

impl<B: Backend> Shared<B> {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let into = buf.initialize_unfilled();
        let n = ready!(self.sock.poll(cx, |h, now, fd| h.recv(now, fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.sock.call(|h, now, fd| h.recv(now, fd, buf))
    }

    /// Reads into `bufs` in order, in one call on the host: each buffer after the first
    /// only if the one before was filled. An error after some bytes ends the read with
    /// them; a connection's error stays, and the next read returns it.
    fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.sock.call(|h, now, fd| {
            vectored(bufs.iter_mut().filter(|b| !b.is_empty()).map(|buf| {
                let len = buf.len();
                h.recv(now, fd, buf).map(|n| (n, len))
            }))
        })
    }

    /// Reads into `buf`'s spare room as one `recv` (as many bytes as its next chunk
    /// holds), advancing it. Copied through a buffer of that size: writing into a
    /// `BufMut`'s uninitialised memory takes `unsafe`, which these crates forbid.
    fn try_read_buf<M: BufMut>(&self, buf: &mut M) -> io::Result<usize> {
        let room = buf.chunk_mut().len();
        if room == 0 {
            return Ok(0);
        }
        let mut chunk = vec![0u8; room];
        let n = self.sock.call(|h, now, fd| h.recv(now, fd, &mut chunk))?;
        buf.put_slice(&chunk[..n]);
        Ok(n)
    }

    /// Peeks as tokio does: as many bytes as are there, waiting only while none are.
    fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(0));
        }
        let into = buf.initialize_unfilled();
        let n = ready!(self.sock.poll(cx, |h, _, fd| h.peek(fd, into)))?;
        buf.advance(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.sock.poll(cx, |h, now, fd| h.send(now, fd, data))
    }

    fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        self.sock.call(|h, now, fd| h.send(now, fd, data))
    }

    /// Writes `bufs` in order, in one call on the host, until the send buffer is full
    /// (what [`try_read_vectored`](Self::try_read_vectored) is to reading).
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.sock.call(|h, now, fd| {
            vectored(
                bufs.iter()
                    .filter(|b| !b.is_empty())
                    .map(|buf| h.send(now, fd, buf).map(|n| (n, buf.len()))),
            )
        })
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sock.poll_ready(cx, |r| r.readable)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sock.poll_ready(cx, |r| r.writable)
    }

    async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.sock.poll_ready_for(cx, interest)).await
    }

    /// FIN after the queued data: what `poll_shutdown` means for TCP in tokio.
    fn shutdown_write(&self) -> io::Result<()> {
        self.sock
            .call(|h, now, fd| h.shutdown(now, fd, Shutdown::Write))
    }
}

/// A TCP connection, as `tokio::net::TcpStream`: tokio's `AsyncRead`/`AsyncWrite`, where
/// `shutdown` sends FIN and dropping closes the socket.
#[derive(Debug)]
pub struct TcpStream<B: Backend> {
    shared: Arc<Shared<B>>,
}

impl<B: Backend> TcpStream<B> {
    /// The stream of a connected socket (for backends: [`Connect`], `accept`).
    pub fn from_socket(sock: B) -> Self {
        TcpStream {
            shared: Arc::new(Shared { sock }),
        }
    }

    /// Connects to the first of `addr`'s addresses that answers, and returns the last
    /// error if none does (`ConnectionRefused` when nothing listens, `HostUnreachable` when
    /// the address does not answer ARP, `TimedOut` when the handshake's retries run out).
    pub async fn connect<A>(addr: A) -> io::Result<Self>
    where
        B: Connect<A>,
    {
        B::connect(addr).await.map(Self::from_socket)
    }

    /// The local address, with the ephemeral port the host picked.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }

    /// The peer's address (`NotConnected` once the connection is gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or back on, for request/response traffic that
    /// must not wait for an ACK before a small write leaves (hyper's and tonic's
    /// connectors set it).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.set_option(SockOpt::NoDelay(nodelay))
    }

    /// `TCP_NODELAY` on this socket (off unless [`set_nodelay`] turned it on, or the
    /// listener it was accepted from had it): the per-socket option, not a host-wide Nagle
    /// setting of the host's configuration.
    ///
    /// [`set_nodelay`]: Self::set_nodelay
    pub fn nodelay(&self) -> io::Result<bool> {
        self.shared.sock.options().map(|o| o.nodelay)
    }

    /// `SO_LINGER`: `Some(Duration::ZERO)` makes dropping the stream abort the connection
    /// with a RST instead of a FIN (any other value closes gracefully in the background, as
    /// `None` does: nothing here blocks).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.set_option(SockOpt::Linger(linger))
    }

    /// `TCP_QUICKACK`: every ACK at once instead of delayed (an ACK held back goes now).
    /// Linux leaves quick-ACK mode by itself after a while; here it stays until turned
    /// off.
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        self.set_option(SockOpt::QuickAck(quickack))
    }

    /// `TCP_QUICKACK` as set.
    pub fn quickack(&self) -> io::Result<bool> {
        self.shared.sock.options().map(|o| o.quickack)
    }

    /// `SO_LINGER` of zero: dropping the stream resets the connection (tokio's replacement
    /// for `set_linger(Some(Duration::ZERO))`).
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_option(SockOpt::Linger(Some(Duration::ZERO)))
    }

    /// `IP_TTL`: the time to live of the stream's packets from now on (1 to 255).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.shared.sock.set_ttl(ttl)
    }

    /// `IP_TTL` as in force: as set here or on the listener it was accepted from, or the
    /// host's default (64).
    pub fn ttl(&self) -> io::Result<u32> {
        self.shared.sock.ttl()
    }

    /// `SO_LINGER` as set ([`set_linger`](Self::set_linger)).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.shared.sock.options().map(|o| o.linger)
    }

    /// `SO_ERROR`: the error the connection has pending (a RST, a timeout), cleared by
    /// reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.shared.sock.take_error()
    }

    fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        self.shared
            .sock
            .call(|h, now, fd| h.setsockopt(now, fd, opt))
    }

    /// Reads without consuming (`MSG_PEEK`): the next read or peek returns the same bytes.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        poll_fn(|cx| self.shared.poll_peek(cx, &mut buf)).await
    }

    /// The poll form of [`peek`](Self::peek).
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.shared.poll_peek(cx, buf)
    }

    /// Reads what is there now, without waiting: `WouldBlock` when nothing is, `Ok(0)` at
    /// the end of the stream (with [`readable`](Self::readable), tokio's
    /// readiness-then-try loop).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.try_read(buf)
    }

    /// [`try_read`](Self::try_read) into several buffers in order, each after the first
    /// only if the one before was filled.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.shared.try_read_vectored(bufs)
    }

    /// [`try_read`](Self::try_read) into a `BufMut`'s spare room, advancing it.
    pub fn try_read_buf<M: BufMut>(&self, buf: &mut M) -> io::Result<usize> {
        self.shared.try_read_buf(buf)
    }

    /// Writes what fits in the send buffer now, without waiting (`WouldBlock` when
    /// nothing does).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.shared.try_write(buf)
    }

    /// [`try_write`](Self::try_write) of several buffers in order, until the send buffer
    /// is full.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.shared.try_write_vectored(bufs)
    }

    /// Waits until the stream is ready for one of `interest`, and says for what
    /// (readable, writable, closed, an error), for the `ready`-then-`try_` loop.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.shared.ready(interest).await
    }

    /// Waits until a read would not block: data, the end of the stream or an error.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.shared.poll_read_ready(cx)).await
    }

    /// Waits until a write would not block (or would fail at once).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.shared.poll_write_ready(cx)).await
    }

    /// The poll form of [`readable`](Self::readable).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll_read_ready(cx)
    }

    /// The poll form of [`writable`](Self::writable).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll_write_ready(cx)
    }

    /// Borrows the stream as a reader and a writer that can be used at once (in one
    /// `select!` or `join!`), without the `Arc` of [`into_split`](Self::into_split).
    pub fn split(&mut self) -> (ReadHalf<'_, B>, WriteHalf<'_, B>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Splits the stream into halves that can move to different tasks. The socket closes
    /// when both are gone; dropping the write half sends FIN first, as tokio's does.
    pub fn into_split(self) -> (OwnedReadHalf<B>, OwnedWriteHalf<B>) {
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

/// The reading half of [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a, B: Backend>(&'a TcpStream<B>);

/// The writing half of [`TcpStream::split`]; its `shutdown` sends FIN.
#[derive(Debug)]
pub struct WriteHalf<'a, B: Backend>(&'a TcpStream<B>);

/// The reading half of [`TcpStream::into_split`], owned so that it can move to a task of
/// its own.
#[derive(Debug)]
pub struct OwnedReadHalf<B: Backend> {
    shared: Arc<Shared<B>>,
}

/// The writing half of [`TcpStream::into_split`]. Dropping it sends FIN (as tokio's does),
/// so a writer task that ends tells the peer; [`forget`](Self::forget) does not.
#[derive(Debug)]
pub struct OwnedWriteHalf<B: Backend> {
    shared: Arc<Shared<B>>,
    shutdown_on_drop: bool,
}

fn reunite<B: Backend>(
    read: OwnedReadHalf<B>,
    mut write: OwnedWriteHalf<B>,
) -> Result<TcpStream<B>, B::ReuniteError> {
    if !Arc::ptr_eq(&read.shared, &write.shared) {
        return Err((read, write).into());
    }
    write.shutdown_on_drop = false;
    drop(write);
    Ok(TcpStream {
        shared: read.shared,
    })
}

impl<B: Backend> ReadHalf<'_, B> {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl<B: Backend> WriteHalf<'_, B> {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl<B: Backend> OwnedReadHalf<B> {
    /// Puts the stream back together, for code that splits only for a while; halves of
    /// different streams are an error that hands them back.
    pub fn reunite(self, other: OwnedWriteHalf<B>) -> Result<TcpStream<B>, B::ReuniteError> {
        reunite(self, other)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }
}

impl<B: Backend> OwnedWriteHalf<B> {
    /// Puts the stream back together; halves of different streams are an error that hands
    /// them back.
    pub fn reunite(self, other: OwnedReadHalf<B>) -> Result<TcpStream<B>, B::ReuniteError> {
        reunite(other, self)
    }

    /// Drops the half without sending FIN, for a writer that stops while the stream
    /// should stay open for writing (after a reunite, say).
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }
}

impl<B: Backend> Drop for OwnedWriteHalf<B> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _gone_or_already_shut = self.shared.shutdown_write();
        }
    }
}

/// The reading calls of a stream, on a reading half (tokio's signatures).
macro_rules! read_half_calls {
    ($($ty:ty),*) => {$(
        impl<B: Backend> $ty {
            /// Reads without consuming (`MSG_PEEK`): the next read or peek returns the same
            /// bytes.
            pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let mut buf = ReadBuf::new(buf);
                poll_fn(|cx| self.shared().poll_peek(cx, &mut buf)).await
            }

            /// The poll form of [`peek`](Self::peek).
            pub fn poll_peek(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<usize>> {
                self.shared().poll_peek(cx, buf)
            }

            /// Waits until the stream is ready for one of `interest`, and says for what.
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                self.shared().ready(interest).await
            }

            /// Waits until a read would not block.
            pub async fn readable(&self) -> io::Result<()> {
                poll_fn(|cx| self.shared().poll_read_ready(cx)).await
            }

            /// Reads what is there now (`WouldBlock` when nothing is, `Ok(0)` at the end).
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.shared().try_read(buf)
            }

            /// [`try_read`](Self::try_read) into several buffers in order.
            pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                self.shared().try_read_vectored(bufs)
            }

            /// [`try_read`](Self::try_read) into a `BufMut`'s spare room.
            pub fn try_read_buf<M: BufMut>(&self, buf: &mut M) -> io::Result<usize> {
                self.shared().try_read_buf(buf)
            }
        }
    )*};
}

/// The writing calls of a stream, on a writing half (tokio's signatures).
macro_rules! write_half_calls {
    ($($ty:ty),*) => {$(
        impl<B: Backend> $ty {
            /// Waits until the stream is ready for one of `interest`, and says for what.
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                self.shared().ready(interest).await
            }

            /// Waits until a write would not block (or would fail at once).
            pub async fn writable(&self) -> io::Result<()> {
                poll_fn(|cx| self.shared().poll_write_ready(cx)).await
            }

            /// Writes what fits in the send buffer now (`WouldBlock` when nothing does).
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                self.shared().try_write(buf)
            }

            /// [`try_write`](Self::try_write) of several buffers in order.
            pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                self.shared().try_write_vectored(bufs)
            }
        }
    )*};
}

read_half_calls!(ReadHalf<'_, B>, OwnedReadHalf<B>);
write_half_calls!(WriteHalf<'_, B>, OwnedWriteHalf<B>);

// ----- tokio's I/O traits, on the stream and each half -----

/// The stream state behind each handle that reads or writes.
trait HasShared<B: Backend> {
    fn shared(&self) -> &Shared<B>;
}

impl<B: Backend> HasShared<B> for TcpStream<B> {
    fn shared(&self) -> &Shared<B> {
        &self.shared
    }
}

impl<B: Backend> HasShared<B> for ReadHalf<'_, B> {
    fn shared(&self) -> &Shared<B> {
        &self.0.shared
    }
}

impl<B: Backend> HasShared<B> for WriteHalf<'_, B> {
    fn shared(&self) -> &Shared<B> {
        &self.0.shared
    }
}

impl<B: Backend> HasShared<B> for OwnedReadHalf<B> {
    fn shared(&self) -> &Shared<B> {
        &self.shared
    }
}

impl<B: Backend> HasShared<B> for OwnedWriteHalf<B> {
    fn shared(&self) -> &Shared<B> {
        &self.shared
    }
}

macro_rules! async_read {
    ($($ty:ty),*) => {$(
        impl<B: Backend> AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.shared().poll_read(cx, buf)
            }
        }
    )*};
}

macro_rules! async_write {
    ($($ty:ty),*) => {$(
        impl<B: Backend> AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.shared().poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Written bytes are already the host's to deliver: nothing waits in a buffer
                // of ours.
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shared().shutdown_write())
            }
        }
    )*};
}

async_read!(TcpStream<B>, ReadHalf<'_, B>, OwnedReadHalf<B>);
async_write!(TcpStream<B>, WriteHalf<'_, B>, OwnedWriteHalf<B>);
