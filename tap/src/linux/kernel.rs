//! The kernel side: std::net sockets created on threads inside the lab's namespace, so
//! that they are the kernel's TCP reaching sansnet through the TAP device.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use sansnet_stack::time::Instant;

use super::lab::{panic_message, Netns};
use crate::{
    Direction, Error, KernelCounters, Pattern, Source, StreamCheck, StreamSummary, WallClock,
};

/// What the kernel side does.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    /// Connects to sansnet's server.
    Client { server: SocketAddrV4 },
    /// Serves on `bind` (bound before [`KernelPeer::spawn`] returns).
    Server { bind: SocketAddrV4 },
}

/// The kernel side's plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) role: Role,
    /// What it sends.
    pub(crate) send: (Pattern, u64),
    /// What it expects.
    pub(crate) recv: (Pattern, u64),
    /// No socket call waits longer than this.
    pub(crate) timeout: Duration,
    /// The TAP device's name in the namespace (for its drop counters).
    pub(crate) device: String,
    /// The lab's clock (deadlines).
    pub(crate) clock: WallClock,
}

/// What the kernel side did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    pub(crate) sent: StreamSummary,
    pub(crate) received: StreamSummary,
    pub(crate) counters: KernelCounters,
}

/// Shared with the kernel side's threads: progress, and a way to stop them.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    abort: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
}

impl Shared {
    fn aborted(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    fn register(&self, stream: &TcpStream) -> io::Result<()> {
        let clone = stream.try_clone()?;
        if let Ok(mut streams) = self.streams.lock() {
            streams.push(clone);
        }
        if self.aborted() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        Ok(())
    }

    /// Stops the threads: blocked reads and writes return at once.
    fn trigger(&self) {
        self.abort.store(true, Ordering::SeqCst);
        if let Ok(streams) = self.streams.lock() {
            for s in streams.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// The kernel side, running. Dropping it before [`join`](Self::join) stops it.
pub(crate) struct KernelPeer {
    handle: Option<JoinHandle<Result<Outcome, Error>>>,
    pub(crate) shared: Arc<Shared>,
}

impl KernelPeer {
    /// Starts the kernel side in `netns`. A server is listening when this returns.
    pub(crate) fn spawn(netns: &Netns, plan: Plan) -> Result<KernelPeer, Error> {
        let shared = Arc::new(Shared::default());
        let listener = match plan.role {
            Role::Server { bind } => Some(netns.run(move || {
                let l = TcpListener::bind(bind)
                    .map_err(|e| Error::kernel(format!("binding {bind}"), e))?;
                l.set_nonblocking(true)
                    .map_err(|e| Error::kernel("a non-blocking listener", e))?;
                Ok(l)
            })?),
            Role::Client { .. } => None,
        };
        let thread_shared = Arc::clone(&shared);
        let handle = netns.spawn("sansnet-tap-kernel", move || {
            peer(plan, listener, &thread_shared)
        })?;
        Ok(KernelPeer {
            handle: Some(handle),
            shared,
        })
    }

    /// Whether the kernel side is done (successfully or not).
    pub(crate) fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the kernel side.
    pub(crate) fn join(mut self) -> Result<Outcome, Error> {
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|p| Error::KernelPanicked(panic_message(&*p)))?,
            None => Err(Error::KernelPanicked("joined twice".into())),
        }
    }
}

impl Drop for KernelPeer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.shared.trigger();
            let _ = h.join();
        }
    }
}

/// `Tcp: RetransSegs` of the calling thread's namespace.
fn retrans_segs() -> Result<u64, Error> {
    let path = "/proc/thread-self/net/snmp";
    let snmp = fs::read_to_string(path).map_err(|e| Error::kernel(format!("reading {path}"), e))?;
    parse_snmp(&snmp, "Tcp:", "RetransSegs").ok_or_else(|| {
        Error::kernel(
            format!("reading {path}"),
            io::Error::new(io::ErrorKind::InvalidData, "no Tcp: RetransSegs"),
        )
    })
}

fn parse_snmp(snmp: &str, group: &str, field: &str) -> Option<u64> {
    let mut lines = snmp.lines().filter(|l| l.starts_with(group));
    let names = lines.next()?;
    let values = lines.next()?;
    let i = names.split_whitespace().position(|n| n == field)?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// (rx_drop, tx_drop) of `device` in the calling thread's namespace.
fn device_drops(device: &str) -> Option<(u64, u64)> {
    let dev = fs::read_to_string("/proc/thread-self/net/dev").ok()?;
    parse_dev(&dev, device)
}

fn parse_dev(dev: &str, device: &str) -> Option<(u64, u64)> {
    let line = dev.lines().find_map(|l| {
        let (name, rest) = l.split_once(':')?;
        (name.trim() == device).then_some(rest)
    })?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some((*fields.get(3)?, *fields.get(11)?))
}

fn connect(
    server: SocketAddrV4,
    clock: WallClock,
    deadline: Instant,
    shared: &Shared,
) -> Result<TcpStream, Error> {
    loop {
        let left = clock.until(deadline);
        if left.is_zero() || shared.aborted() {
            return Err(Error::kernel(
                format!("connecting to {server}"),
                io::ErrorKind::TimedOut.into(),
            ));
        }
        // Attempts of 2.5 s, so that an abort is seen: each holds the kernel's own SYN
        // retransmission at 1 s and ends well before the next (at 3 s), so that no
        // handshake is in flight when an attempt is given up.
        let attempt = left.min(Duration::from_millis(2500));
        match TcpStream::connect_timeout(&SocketAddr::V4(server), attempt) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(e) => return Err(Error::kernel(format!("connecting to {server}"), e)),
        }
    }
}

fn accept(
    listener: &TcpListener,
    clock: WallClock,
    deadline: Instant,
    shared: &Shared,
) -> Result<TcpStream, Error> {
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)
                    .map_err(|e| Error::kernel("a blocking connection", e))?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if clock.now() >= deadline || shared.aborted() {
                    return Err(Error::kernel("accepting", io::ErrorKind::TimedOut.into()));
                }
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::kernel("accepting", e)),
        }
    }
}

fn write_all(
    mut stream: TcpStream,
    mut src: Source,
    shared: &Shared,
) -> Result<StreamSummary, Error> {
    while !src.is_done() {
        match stream.write(src.pending()) {
            Ok(0) => {
                return Err(Error::kernel("sending", io::ErrorKind::WriteZero.into()));
            }
            Ok(n) => {
                src.consume(n);
                shared.sent.store(src.sent(), Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::kernel("sending", e)),
        }
    }
    stream
        .shutdown(Shutdown::Write)
        .map_err(|e| Error::kernel("shutting down the sending side", e))?;
    Ok(src.summary())
}

fn read_all(
    stream: &mut TcpStream,
    mut check: StreamCheck,
    shared: &Shared,
) -> Result<StreamSummary, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return check.finish(),
            Ok(n) => {
                check.feed(&buf[..n])?;
                shared.received.store(check.received(), Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::kernel("receiving", e)),
        }
    }
}

fn peer(plan: Plan, listener: Option<TcpListener>, shared: &Arc<Shared>) -> Result<Outcome, Error> {
    let clock = plan.clock;
    let deadline = clock.now() + plan.timeout;
    let retrans_before = retrans_segs()?;
    let mut stream = match (&plan.role, &listener) {
        (Role::Client { server }, _) => connect(*server, clock, deadline, shared)?,
        (Role::Server { .. }, Some(l)) => accept(l, clock, deadline, shared)?,
        (Role::Server { bind }, None) => {
            return Err(Error::kernel(
                format!("serving on {bind}"),
                io::Error::other("no listener"),
            ))
        }
    };
    drop(listener);
    let left = clock.until(deadline).max(Duration::from_millis(1));
    stream
        .set_read_timeout(Some(left))
        .and_then(|()| stream.set_write_timeout(Some(left)))
        .map_err(|e| Error::kernel("socket timeouts", e))?;
    shared
        .register(&stream)
        .map_err(|e| Error::kernel("cloning the socket", e))?;
    let writer_stream = stream
        .try_clone()
        .map_err(|e| Error::kernel("cloning the socket", e))?;
    let (pattern, len) = plan.send;
    let writer_shared = Arc::clone(shared);
    let writer = thread::Builder::new()
        .name("sansnet-tap-kernel-tx".into())
        .spawn(move || write_all(writer_stream, Source::new(pattern, len), &writer_shared))
        .map_err(|e| Error::io("starting a thread", e))?;
    let (pattern, len) = plan.recv;
    let read = read_all(
        &mut stream,
        StreamCheck::new(pattern, len, Direction::ToKernel),
        shared,
    );
    if read.is_err() {
        // Unblocks the writer.
        let _ = stream.shutdown(Shutdown::Both);
    }
    let written = writer
        .join()
        .map_err(|p| Error::KernelPanicked(panic_message(&*p)))?;
    let received = read?;
    let sent = written?;
    let retrans_after = retrans_segs()?;
    let (tap_rx_dropped, tap_tx_dropped) = device_drops(&plan.device).unwrap_or((0, 0));
    Ok(Outcome {
        sent,
        received,
        counters: KernelCounters {
            retransmitted_segments: retrans_after.saturating_sub(retrans_before),
            tap_tx_dropped,
            tap_rx_dropped,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_and_dev_are_parsed() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
                    Tcp: RtoAlgorithm RtoMin RetransSegs InErrs\nTcp: 1 200 17 0\n";
        assert_eq!(parse_snmp(snmp, "Tcp:", "RetransSegs"), Some(17));
        assert_eq!(parse_snmp(snmp, "Tcp:", "Nope"), None);
        assert_eq!(parse_snmp("", "Tcp:", "RetransSegs"), None);
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\nsnt1x0: 100 2 0 5 0 0 0 0 300 4 0 9 0 0 0 0\n";
        assert_eq!(parse_dev(dev, "snt1x0"), Some((5, 9)));
        assert_eq!(parse_dev(dev, "eth0"), None);
    }
}
