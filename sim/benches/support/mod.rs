//! Shared by the simulator benchmarks: a bulk sender and sink on sansnet's host, the same
//! on smoltcp 0.14 plugged into the simulator through the public [`Endpoint`] trait, the
//! topology they run on, and (`vlink`) both stacks over a virtual-time link without the
//! simulator.
//!
//! Both stacks run their application inside the node (the sender writes whatever fits, the
//! sink reads whatever arrived and checks every byte against the pattern), so the
//! comparison is stack against stack, with no executor in between.
#![allow(dead_code)]

pub mod vlink;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use sansnet_sim::stack::frame::SharedFrame;
use sansnet_sim::stack::iface::{Errno, Fd, Host, HostConfig, SockOpt, SocketType};
use sansnet_sim::{Duration, Endpoint, Instant, LinkFaults, LinkId, NodeCtx, NodeId, Seed, Sim};

pub const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PORT: u16 = 5001;

/// What a node's application does.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    /// Connects to `B_ADDR:PORT` and sends `total` bytes (`u64::MAX`: forever), then closes.
    Sender { total: u64 },
    /// Listens on `PORT` and reads everything, checking each byte against the pattern.
    Sink,
}

/// Progress an application reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub sent: u64,
    pub received: u64,
    pub eof: bool,
}

/// The bytes sent: offset `i` of the stream is `i % 251`; any 64 KiB of the stream is
/// `PATTERN[off..off + 65536]` with `off = start % 251`.
pub static PATTERN: [u8; 65536 + 256] = {
    let mut p = [0u8; 65536 + 256];
    let mut i = 0;
    while i < p.len() {
        p[i] = (i % 251) as u8;
        i += 1;
    }
    p
};

// ---- sansnet -------------------------------------------------------------------------------

/// A sansnet host with a bulk application inside.
pub struct HostApp {
    pub host: Host,
    role: Role,
    fd: Option<Fd>,
    conn: Option<Fd>,
    pub progress: Progress,
    scratch: Vec<u8>,
    /// The pattern in a buffer the host may keep a reference to (`Host::send_shared`), or
    /// `None` to copy it in with `send` (`BULK_SEND_COPY=1`).
    pattern: Option<SharedFrame>,
    /// Frames arrived since the application last ran.
    dirty: bool,
}

impl HostApp {
    pub fn new(mut cfg: HostConfig, role: Role, buffers: Option<usize>) -> HostApp {
        cfg.limits.max_descriptors = cfg.limits.max_descriptors.max(64);
        let mut host = Host::new(cfg);
        let fd = host.socket(SocketType::Stream).unwrap();
        let now = Instant::ZERO;
        if let Some(n) = buffers {
            host.setsockopt(now, fd, SockOpt::SendBuffer(n)).unwrap();
            host.setsockopt(now, fd, SockOpt::RecvBuffer(n)).unwrap();
        }
        let mut app = HostApp {
            host,
            role,
            fd: Some(fd),
            conn: None,
            progress: Progress::default(),
            scratch: vec![0; 1 << 16],
            pattern: std::env::var_os("BULK_SEND_COPY")
                .is_none()
                .then(|| SharedFrame::new(PATTERN.to_vec())),
            dirty: false,
        };
        match role {
            // The sender connects in `start`, once the node is on its link.
            Role::Sender { .. } => {}
            Role::Sink => {
                let at = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT);
                app.host.bind(fd, at).unwrap();
                app.host.listen(fd, 16).unwrap();
            }
        }
        app
    }

    /// The sender connects.
    pub fn start(&mut self, now: Instant) {
        if let (Role::Sender { .. }, Some(fd)) = (self.role, self.fd) {
            let to = SocketAddrV4::new(B_ADDR, PORT);
            assert_eq!(self.host.connect(now, fd, to), Err(Errno::EINPROGRESS));
            self.conn = Some(fd);
        }
    }

    /// The application, once: the sender writes what fits, the sink reads everything there
    /// is and checks it.
    pub fn run_app(&mut self, now: Instant) {
        match self.role {
            Role::Sender { total } => {
                let Some(c) = self.conn else { return };
                while self.progress.sent < total {
                    let off = (self.progress.sent % 251) as usize;
                    let want = (total - self.progress.sent).min(65536);
                    let sent = match &self.pattern {
                        Some(p) => self.host.send_shared(now, c, p, off..off + want as usize),
                        None => self.host.send(now, c, &PATTERN[off..off + want as usize]),
                    };
                    match sent {
                        Ok(n) => self.progress.sent += n as u64,
                        Err(Errno::EAGAIN) => return,
                        Err(e) => panic!("send: {e}"),
                    }
                }
                if self.progress.sent == total && total != u64::MAX {
                    self.host.close(now, c).unwrap();
                    self.conn = None;
                }
            }
            Role::Sink => {
                if self.conn.is_none() {
                    match self.host.accept(now, self.fd.unwrap()) {
                        Ok((c, _)) => self.conn = Some(c),
                        Err(_) => return,
                    }
                }
                let c = self.conn.unwrap();
                loop {
                    match self.host.recv(now, c, &mut self.scratch) {
                        Ok(0) => {
                            self.progress.eof = true;
                            return;
                        }
                        Ok(n) => {
                            let got = self.progress.received;
                            let off = (got % 251) as usize;
                            assert!(
                                self.scratch[..n] == PATTERN[off..off + n],
                                "sansnet: wrong bytes within {got}..{}",
                                got + n as u64
                            );
                            self.progress.received += n as u64;
                        }
                        Err(Errno::EAGAIN) => return,
                        Err(e) => panic!("recv: {e}"),
                    }
                }
            }
        }
    }
}

/// The simulator hands a node every frame that arrived at one instant, then asks for its
/// frames: the application runs once per such batch, between the two (as it does over
/// `vlink`, and as a program woken once per readiness event would).
impl Endpoint for HostApp {
    fn handle_frame(&mut self, now: Instant, nic: usize, frame: &[u8]) {
        self.host.handle_frame(now, nic, frame);
        self.dirty = true;
    }

    fn handle_frame_shared(&mut self, now: Instant, nic: usize, frame: &SharedFrame) {
        self.host.handle_frame_shared(now, nic, frame);
        self.dirty = true;
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        if self.dirty {
            self.dirty = false;
            self.run_app(now);
        }
        self.host.poll_transmit(now, buf)
    }

    fn poll_transmit_vec(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
        if self.dirty {
            self.dirty = false;
            self.run_app(now);
        }
        self.host.poll_transmit_vec(now, buf)
    }

    fn max_frame_len(&self) -> Option<usize> {
        Endpoint::max_frame_len(&self.host)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.host.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
        self.run_app(now);
    }
}

pub fn host_config(ctx: &NodeCtx, addr: Ipv4Addr) -> HostConfig {
    sansnet_sim::one_nic_config(ctx, addr, 24)
}

// ---- smoltcp -------------------------------------------------------------------------------

pub mod smol {
    //! smoltcp 0.14 as a simulator node. A frame the simulator hands in is read where it
    //! lies (`poll_ingress_single` on a device borrowing it); the application and
    //! `poll_egress` run when the simulator next asks for frames, that is once per batch of
    //! arrivals, in the same step; what smoltcp sends waits in reused slots for the
    //! simulator's `poll_transmit`. Nothing is allocated per frame once the slots exist.
    use super::*;
    use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult};
    use smoltcp::iface::{SocketHandle, SocketSet};
    use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant as SmolInstant;
    use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint};

    /// Frames smoltcp sent and the simulator has not taken yet, in reused slots.
    #[derive(Default)]
    struct TxQueue {
        frames: VecDeque<(usize, Vec<u8>)>,
        free: Vec<Vec<u8>>,
    }

    /// The device for one call: at most one received frame, borrowed, and the queue.
    struct Dev<'a> {
        rx: Option<&'a [u8]>,
        tx: &'a mut TxQueue,
    }

    struct Rx<'a>(&'a [u8]);
    struct Tx<'a>(&'a mut TxQueue);

    impl RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            f(self.0)
        }
    }

    impl TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut slot = self.0.free.pop().unwrap_or_else(|| vec![0; 1536]);
            let r = f(&mut slot[..len]);
            self.0.frames.push_back((len, slot));
            r
        }
    }

    impl Device for Dev<'_> {
        type RxToken<'b>
            = Rx<'b>
        where
            Self: 'b;
        type TxToken<'b>
            = Tx<'b>
        where
            Self: 'b;

        fn receive(&mut self, _now: SmolInstant) -> Option<(Rx<'_>, Tx<'_>)> {
            let frame = self.rx.take()?;
            Some((Rx(frame), Tx(self.tx)))
        }

        fn transmit(&mut self, _now: SmolInstant) -> Option<Tx<'_>> {
            Some(Tx(self.tx))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = 1514;
            caps
        }
    }

    fn smol_now(now: Instant) -> SmolInstant {
        SmolInstant::from_micros((now.as_nanos() / 1000) as i64)
    }

    /// smoltcp's interface and one TCP socket (Reno), with a bulk application, as a node.
    pub struct SmolNode {
        iface: Interface,
        tx: TxQueue,
        sockets: SocketSet<'static>,
        tcp: SocketHandle,
        role: Role,
        pub progress: Progress,
        closed: bool,
        /// Frames arrived since the application and egress last ran.
        dirty: bool,
        next: Option<Instant>,
        scratch: Vec<u8>,
    }

    impl SmolNode {
        pub fn new(ctx: &NodeCtx, addr: Ipv4Addr, role: Role, buffer: usize) -> SmolNode {
            let mut tx = TxQueue::default();
            let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(ctx.macs[0].0)));
            config.random_seed = ctx.seed;
            let now = smol_now(ctx.now);
            let iface = {
                let mut dev = Dev {
                    rx: None,
                    tx: &mut tx,
                };
                let mut iface = Interface::new(config, &mut dev, now);
                iface.update_ip_addrs(|a| {
                    a.push(IpCidr::new(addr.into(), 24)).unwrap();
                });
                iface
            };
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; buffer]),
                tcp::SocketBuffer::new(vec![0; buffer]),
            );
            socket.set_congestion_control(tcp::CongestionControl::Reno);
            // The sender connects in `start`, once the node is on its link.
            if let Role::Sink = role {
                socket.listen(PORT).unwrap();
            }
            let mut sockets = SocketSet::new(Vec::new());
            let tcp = sockets.add(socket);
            let mut node = SmolNode {
                iface,
                tx,
                sockets,
                tcp,
                role,
                progress: Progress::default(),
                closed: false,
                dirty: false,
                next: None,
                scratch: vec![0; 1 << 16],
            };
            node.egress(ctx.now);
            node
        }

        /// The sender connects.
        pub fn start(&mut self, now: Instant) {
            if let Role::Sender { .. } = self.role {
                let remote = IpEndpoint::new(B_ADDR.into(), PORT);
                let s = self.sockets.get_mut::<tcp::Socket<'_>>(self.tcp);
                s.connect(self.iface.context(), remote, 49152).unwrap();
                self.egress(now);
            }
        }

        /// Runs the application once: the sender writes what fits, the sink reads and
        /// checks everything there is.
        fn run_app(&mut self) {
            let s = self.sockets.get_mut::<tcp::Socket<'_>>(self.tcp);
            match self.role {
                Role::Sender { total } => {
                    while self.progress.sent < total {
                        let off = (self.progress.sent % 251) as usize;
                        let want = (total - self.progress.sent).min(65536);
                        match s.send_slice(&PATTERN[off..off + want as usize]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => self.progress.sent += n as u64,
                        }
                    }
                    if self.progress.sent == total && !self.closed && total != u64::MAX {
                        s.close();
                        self.closed = true;
                    }
                }
                Role::Sink => {
                    while let Ok(n @ 1..) = s.recv_slice(&mut self.scratch) {
                        let got = self.progress.received;
                        let off = (got % 251) as usize;
                        assert!(
                            self.scratch[..n] == PATTERN[off..off + n],
                            "smoltcp: wrong bytes within {got}..{}",
                            got + n as u64
                        );
                        self.progress.received += n as u64;
                    }
                    if !s.may_recv() && s.state() != tcp::State::Listen {
                        self.progress.eof = true;
                    }
                }
            }
        }

        /// The application, then everything smoltcp has to send; the next deadline.
        fn egress(&mut self, now: Instant) {
            let ts = smol_now(now);
            self.run_app();
            let mut dev = Dev {
                rx: None,
                tx: &mut self.tx,
            };
            while self.iface.poll_egress(ts, &mut dev, &mut self.sockets) != PollResult::None {}
            self.dirty = false;
            // smoltcp's clock has microseconds: a deadline it could not act on yet is taken
            // a microsecond on.
            self.next = self.iface.poll_at(ts, &self.sockets).map(|t| {
                Instant::from_micros(t.total_micros().max(0) as u64)
                    .max(now + Duration::from_micros(1))
            });
        }
    }

    impl Endpoint for SmolNode {
        fn handle_frame(&mut self, now: Instant, _nic: usize, frame: &[u8]) {
            let mut dev = Dev {
                rx: Some(frame),
                tx: &mut self.tx,
            };
            let ts = smol_now(now);
            while self
                .iface
                .poll_ingress_single(ts, &mut dev, &mut self.sockets)
                != PollIngressSingleResult::None
            {}
            self.dirty = true;
        }

        fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
            if self.dirty {
                self.egress(now);
            }
            let (len, slot) = self.tx.frames.pop_front()?;
            buf[..len].copy_from_slice(&slot[..len]);
            self.tx.free.push(slot);
            Some((0, len))
        }

        fn poll_timeout(&self) -> Option<Instant> {
            self.next
        }

        fn handle_timeout(&mut self, now: Instant) {
            self.egress(now);
        }
    }
}

// ---- topology ------------------------------------------------------------------------------

/// Which stack the two nodes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    Sansnet,
    Smoltcp,
}

/// Two nodes, `a` (the sender) and `b` (the sink), on one link with `faults` both ways.
/// `buffers`: socket buffer sizes (sansnet: `None` keeps the host default of 256 KiB).
pub fn pair(
    stack: Stack,
    seed: u64,
    total: u64,
    faults: LinkFaults,
    buffers: Option<usize>,
) -> (Sim, NodeId, NodeId, LinkId) {
    pair_tuned(stack, seed, total, faults, buffers, true)
}

/// [`pair`], with sansnet's TCP timestamps on or off (smoltcp's are off).
pub fn pair_tuned(
    stack: Stack,
    seed: u64,
    total: u64,
    faults: LinkFaults,
    buffers: Option<usize>,
    timestamps: bool,
) -> (Sim, NodeId, NodeId, LinkId) {
    let mut sim = Sim::new(Seed(seed));
    let smol_buf = buffers.unwrap_or(256 * 1024);
    let mk = |addr: Ipv4Addr, role: Role| {
        move |ctx: &NodeCtx| -> Box<dyn Endpoint> {
            match stack {
                Stack::Sansnet => {
                    let mut cfg = host_config(ctx, addr);
                    cfg.tcp.timestamps = timestamps;
                    if let Some(n) = buffers {
                        vlink::tune(&mut cfg, n, timestamps);
                    }
                    Box::new(HostApp::new(cfg, role, None))
                }
                Stack::Smoltcp => Box::new(smol::SmolNode::new(ctx, addr, role, smol_buf)),
            }
        }
    };
    // The sink first, so that the sender's first SYN finds it listening.
    let b = sim.add_node_with("b", 1, mk(B_ADDR, Role::Sink));
    let a = sim.add_node_with("a", 1, mk(A_ADDR, Role::Sender { total }));
    let link = sim.connect(sim.nic(a, 0), sim.nic(b, 0), faults);
    match stack {
        Stack::Sansnet => sim.with_node::<HostApp, _>(a, |h, now| h.start(now)),
        Stack::Smoltcp => sim.with_node::<smol::SmolNode, _>(a, |n, now| n.start(now)),
    };
    (sim, a, b, link)
}

/// What a node's application has done so far.
pub fn progress(sim: &mut Sim, stack: Stack, node: NodeId) -> Progress {
    match stack {
        Stack::Sansnet => sim.with_node::<HostApp, _>(node, |h, _| h.progress),
        Stack::Smoltcp => sim.with_node::<smol::SmolNode, _>(node, |n, _| n.progress),
    }
    .expect("node is up")
}

/// Runs until the sink has `total` bytes; returns the simulated time it took.
pub fn run_transfer(sim: &mut Sim, stack: Stack, b: NodeId, total: u64) -> Duration {
    let start = sim.now();
    let mut limits = sim.limits();
    limits.max_steps = u64::MAX;
    limits.max_time = Instant::from_secs(365 * 24 * 3600);
    sim.set_limits(limits);
    // Check progress every simulated millisecond (cheap, and never misses the end by more).
    loop {
        let p = progress(sim, stack, b);
        if p.received >= total {
            assert_eq!(p.received, total);
            return sim.now() - start;
        }
        let next = sim.now() + Duration::from_millis(1);
        sim.run_until(next).unwrap();
    }
}
