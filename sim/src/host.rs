//! sansnet's own host on the simulated network, and socket wrappers for application tasks.
//!
//! [`TcpListener`], [`TcpStream`] and [`UdpSocket`] call the host's BSD-like socket API from
//! inside a task. A call that would block (`EAGAIN`, `EINPROGRESS`) parks the task until
//! something happens on its node (a frame, a timer, another call), then retries: readiness
//! without a selector, and without any wasted wake-up reaching behaviour (retries are
//! deterministic like everything else). Streams implement the `futures` and `tokio` I/O
//! traits, so ordinary protocol code runs unchanged.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::task::{Context, Poll};

use sansnet_stack::frame::SharedFrame;
use sansnet_stack::hash::SecretKey;
use sansnet_stack::iface::{
    Errno, Fd, Host, HostConfig, InterfaceConfig, Pid, Shutdown, SocketType,
};
use sansnet_stack::time::Instant;

use crate::endpoint::{Endpoint, NodeCtx};
use crate::exec;
use crate::sim::Sim;
use crate::sockets::handshake_outcome;
use crate::world::NodeId;

impl Endpoint for Host {
    fn handle_frame(&mut self, now: Instant, nic: usize, frame: &[u8]) {
        Host::handle_frame(self, now, nic, frame);
    }

    fn handle_frame_shared(&mut self, now: Instant, nic: usize, frame: &SharedFrame) {
        Host::handle_frame_shared(self, now, nic, frame);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        Host::poll_transmit(self, now, buf)
    }

    fn poll_transmit_vec(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
        Host::poll_transmit_vec(self, now, buf)
    }

    /// `Host::poll_transmit` asks for the MTU + 18 bytes, but writes a segment's payload
    /// straight into the buffer only when there is room for a full segment behind the
    /// longest TCP header (40 bytes of options) and the Ethernet header: the MTU + 54 (the
    /// largest MTU of its NICs). With the MTU + 18 every full segment took the engine's
    /// slower path: the same frames, 10% more CPU time in the bulk bench.
    fn max_frame_len(&self) -> Option<usize> {
        self.config()
            .interfaces
            .iter()
            .map(|i| i.mtu + 14 + 40)
            .max()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Host::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Host::handle_timeout(self, now);
    }

    fn drain_changed(&mut self, out: &mut Vec<u64>) -> bool {
        Host::drain_changed(self, out);
        true
    }
}

/// A host secret from a node's seed: every host, and every incarnation of one, gets its own
/// ISNs and ephemeral ports, all a function of the run's seed.
/// The same as [`SecretKey::from_seed`], which hosts embedded without the simulator use.
pub fn secret_from_seed(seed: u64) -> SecretKey {
    SecretKey::from_seed(seed)
}

/// The configuration of a host with one NIC at `addr/prefix_len` (MTU 1500) and every other
/// setting at its default: the starting point of most simulated hosts
/// (`HostConfig { default_gateway: .., ..one_nic_config(ctx, addr, 24) }`).
pub fn one_nic_config(ctx: &NodeCtx, addr: Ipv4Addr, prefix_len: u8) -> HostConfig {
    HostConfig {
        name: ctx.name.clone(),
        interfaces: vec![InterfaceConfig {
            mac: ctx.macs[0],
            addr,
            prefix_len,
            mtu: 1500,
        }],
        ..HostConfig::default()
    }
}

impl Sim {
    /// Adds a sansnet host with one NIC at `addr/prefix_len` (MTU 1500), seeded from the
    /// run's seed, and restartable (a restart rebuilds it from the same configuration with a
    /// new secret). Records `addr` under `name`.
    pub fn add_host(&mut self, name: &str, addr: Ipv4Addr, prefix_len: u8) -> NodeId {
        self.set_addr(name, addr);
        self.add_host_with(name, 1, move |ctx| one_nic_config(ctx, addr, prefix_len))
    }

    /// Adds a sansnet host built from the configuration `configure` returns (called again
    /// on every restart). Its secret is always replaced by one derived from the node's seed.
    pub fn add_host_with(
        &mut self,
        name: &str,
        nic_count: usize,
        mut configure: impl FnMut(&NodeCtx) -> HostConfig + 'static,
    ) -> NodeId {
        self.add_node_with(name, nic_count, move |ctx| {
            let mut config = configure(ctx);
            config.secret = secret_from_seed(ctx.seed);
            Box::new(Host::new(config))
        })
    }
}

pub(crate) use crate::sockets::to_io;

/// One socket call on `node`'s host, from a task. A crashed host answers `ECONNRESET`.
pub(crate) fn call<R>(
    node: NodeId,
    f: impl FnOnce(&mut Host, Instant) -> Result<R, Errno>,
) -> Result<R, Errno> {
    exec::with_node::<Host, _>(node, f).unwrap_or(Err(Errno::ECONNRESET))
}

/// A socket call on `fd` that parks the task on "would block" until the host reports the
/// socket's readiness changed (see `Host::drain_changed`): a host with a thousand waiting
/// tasks wakes the one whose socket a frame was for, not all of them.
pub(crate) fn poll_call<R>(
    node: NodeId,
    fd: Fd,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Host, Instant) -> Result<R, Errno>,
) -> Poll<io::Result<R>> {
    poll_call_as(node, None, fd, cx, f)
}

/// [`poll_call`] as process `pid` of the host (`None`: process 1): `fd` is in its table.
pub(crate) fn poll_call_as<R>(
    node: NodeId,
    pid: Option<Pid>,
    fd: Fd,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Host, Instant) -> Result<R, Errno>,
) -> Poll<io::Result<R>> {
    let call = |h: &mut Host, now: Instant| {
        let r = f(h, now);
        let key = match r {
            Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS) => h.readiness_key(fd).ok(),
            _ => None,
        };
        (r, key)
    };
    // A "would block" changed nothing: it wakes no other task (two tasks blocked on one
    // host would otherwise wake each other forever without time advancing).
    let result = exec::with_node_waking::<Host, _>(
        node,
        |h, now| match pid {
            None => call(h, now),
            Some(pid) => h
                .as_process(pid, |h| call(h, now))
                .unwrap_or((Err(Errno::ESRCH), None)),
        },
        |(r, _)| !matches!(r, Err(Errno::EAGAIN)),
    )
    .unwrap_or((Err(Errno::ECONNRESET), None));
    match result {
        (Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS), key) => {
            let (world, _) = exec::current();
            let waiter = exec::waiter(cx.waker());
            let mut w = world.borrow_mut();
            match key {
                Some(key) => w.waits.on_key(node, key, waiter),
                None => w.waits.on_node(node, waiter),
            }
            Poll::Pending
        }
        (Ok(r), _) => Poll::Ready(Ok(r)),
        (Err(e), _) => Poll::Ready(Err(to_io(e))),
    }
}

/// Closes `fd` if the simulation is still there (a drop may run after it is gone).
pub(crate) fn close_quietly(node: NodeId, fd: Fd) {
    if exec::try_current().is_some() {
        let _already_closed_or_crashed = call(node, |h, now| h.close(now, fd));
    }
}

/// Connects the stream socket `fd` on `node` to `addr` and waits for the handshake's end:
/// the one place that turns a non-blocking `connect` and its readiness into an outcome, for
/// this module's streams and `net`'s.
pub(crate) async fn connect_fd(node: NodeId, fd: Fd, addr: SocketAddrV4) -> io::Result<()> {
    match call(node, |h, now| h.connect(now, fd, addr)) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => return Err(to_io(e)),
    }
    futures::future::poll_fn(|cx| poll_call(node, fd, cx, |h, _| handshake_outcome(h, fd))).await
}

/// A listening TCP socket on a simulated host.
#[derive(Debug)]
pub struct TcpListener {
    node: NodeId,
    fd: Fd,
}

impl TcpListener {
    /// `socket` + `bind` + `listen(backlog 128)` on `node`, from a task.
    pub fn bind(node: NodeId, addr: SocketAddrV4) -> io::Result<TcpListener> {
        let fd = call(node, |h, _| h.socket(SocketType::Stream)).map_err(to_io)?;
        let listener = TcpListener { node, fd };
        call(node, |h, _| h.bind(fd, addr)).map_err(to_io)?;
        call(node, |h, _| h.listen(fd, 128)).map_err(to_io)?;
        Ok(listener)
    }

    /// The next connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        let (node, fd) = (self.node, self.fd);
        let (conn, peer) =
            futures::future::poll_fn(|cx| poll_call(node, fd, cx, |h, now| h.accept(now, fd)))
                .await?;
        Ok((TcpStream { node, fd: conn }, peer))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        call(self.node, |h, _| h.local_addr(self.fd)).map_err(to_io)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        close_quietly(self.node, self.fd);
    }
}

/// A TCP connection on a simulated host; `futures` and `tokio` `AsyncRead`/`AsyncWrite`.
/// Closing (`poll_close`/`poll_shutdown`) sends FIN; dropping closes the descriptor.
#[derive(Debug)]
pub struct TcpStream {
    node: NodeId,
    fd: Fd,
}

impl TcpStream {
    /// Connects from `node` to `addr`, waiting for the handshake.
    pub async fn connect(node: NodeId, addr: SocketAddrV4) -> io::Result<TcpStream> {
        let fd = call(node, |h, _| h.socket(SocketType::Stream)).map_err(to_io)?;
        let stream = TcpStream { node, fd };
        connect_fd(node, fd, addr).await?;
        Ok(stream)
    }

    /// The node it lives on.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        call(self.node, |h, _| h.local_addr(self.fd)).map_err(to_io)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddrV4> {
        call(self.node, |h, _| h.peer_addr(self.fd)).map_err(to_io)
    }

    fn read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let fd = self.fd;
        poll_call(self.node, fd, cx, |h, now| h.recv(now, fd, buf))
    }

    fn write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let fd = self.fd;
        poll_call(self.node, fd, cx, |h, now| h.send(now, fd, buf))
    }

    fn shutdown_write(&self) -> Poll<io::Result<()>> {
        let fd = self.fd;
        Poll::Ready(call(self.node, |h, now| h.shutdown(now, fd, Shutdown::Write)).map_err(to_io))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        close_quietly(self.node, self.fd);
    }
}

impl futures::io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.read(cx, buf)
    }
}

impl futures::io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Sent data is the stack's to deliver; there is no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write()
    }
}

impl tokio::io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.read(cx, buf.initialize_unfilled()) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write()
    }
}

/// A UDP socket on a simulated host.
#[derive(Debug)]
pub struct UdpSocket {
    node: NodeId,
    fd: Fd,
}

impl UdpSocket {
    /// `socket` + `bind` on `node`, from a task.
    pub fn bind(node: NodeId, addr: SocketAddrV4) -> io::Result<UdpSocket> {
        let fd = call(node, |h, _| h.socket(SocketType::Datagram)).map_err(to_io)?;
        let socket = UdpSocket { node, fd };
        call(node, |h, _| h.bind(fd, addr)).map_err(to_io)?;
        Ok(socket)
    }

    /// Sends one datagram.
    pub async fn send_to(&self, data: &[u8], addr: SocketAddrV4) -> io::Result<usize> {
        let (node, fd) = (self.node, self.fd);
        futures::future::poll_fn(|cx| {
            poll_call(node, fd, cx, |h, now| h.send_to(now, fd, data, addr))
        })
        .await
    }

    /// Receives one datagram.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddrV4)> {
        let (node, fd) = (self.node, self.fd);
        futures::future::poll_fn(|cx| poll_call(node, fd, cx, |h, now| h.recv_from(now, fd, buf)))
            .await
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        call(self.node, |h, _| h.local_addr(self.fd)).map_err(to_io)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        close_quietly(self.node, self.fd);
    }
}
