//! Two stacks over a virtual-time link, without the simulator: the fair bulk comparison of
//! issue 16 (sansnet's `Host` against smoltcp 0.14's `Interface`, driven the same way).
//!
//! The link: one FIFO per direction, a fixed one-way delay, no bandwidth limit, and loss
//! drawn per frame from a seeded stream of its own per direction (the same stream for both
//! stacks). Frames live in slot buffers taken from a pool that is filled before the clock
//! starts and refilled by every delivery, so the link allocates nothing per frame: a stack
//! writes its frame straight into a slot (sansnet's `poll_transmit(now, slot)`, smoltcp's
//! `TxToken::consume`) and reads it straight from the slot on arrival (`handle_frame(now, 0,
//! slot)`, `RxToken::consume`). A frame sent at `t` is in the peer's hands at `t + delay`,
//! in the order it was sent.
//!
//! The driver: virtual time jumps to the next arrival or timer; at each instant a node that
//! has frames due or a timer due takes *all* its due frames (a NIC's receive ring drained
//! in one go, as the simulator does), runs its application once (the sink reads and checks
//! every byte, the sender writes what fits), then sends whatever its stack has to send.
//! sansnet: `handle_frame` per frame, `handle_timeout` if due, app, `poll_transmit` until
//! `None`. smoltcp: `poll_ingress_single` until `None`, app, `poll_egress` until `None`
//! (`Interface::poll` is those two loops without the app between them).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use sansnet_sim::stack::frame::SharedFrame;
use sansnet_sim::stack::hash::SecretKey;
use sansnet_sim::stack::iface::{HostConfig, InterfaceConfig};
use sansnet_sim::stack::wire::EthernetAddress;
use sansnet_sim::Instant;

use super::{HostApp, Role, A_ADDR, B_ADDR, PATTERN, PORT};

/// Bytes of one frame slot: the MTU (1500) + 18, as `Host::poll_transmit` asks, rounded up.
pub const SLOT: usize = 1536;

/// What crossed one direction of the link (counted for both stacks by the same parser).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Frames put on the link (lost ones included).
    pub frames: u64,
    /// Frames the link dropped.
    pub lost: u64,
    /// TCP segments with payload (retransmissions included).
    pub data_segments: u64,
    /// TCP payload bytes sent (retransmissions included).
    pub payload_bytes: u64,
    /// TCP segments without payload, SYN, FIN or RST: pure ACKs and window updates.
    pub pure_acks: u64,
    /// Frame bytes (Ethernet header on, no FCS).
    pub wire_bytes: u64,
}

impl Counts {
    fn count(&mut self, frame: &[u8]) {
        self.frames += 1;
        self.wire_bytes += frame.len() as u64;
        // Ethernet II, IPv4, TCP: offsets read directly (the frames are the stacks' own).
        if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
            return;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        let tcp = 14 + ihl;
        if frame.len() < tcp + 20 {
            return;
        }
        let doff = usize::from(frame[tcp + 12] >> 4) * 4;
        let flags = frame[tcp + 13];
        let payload = total.saturating_sub(ihl + doff);
        if payload > 0 {
            self.data_segments += 1;
            self.payload_bytes += payload as u64;
        } else if flags & 0x07 == 0 {
            // Neither FIN (0x01), SYN (0x02) nor RST (0x04).
            self.pure_acks += 1;
        }
    }

    pub fn add(&mut self, o: &Counts) {
        self.frames += o.frames;
        self.lost += o.lost;
        self.data_segments += o.data_segments;
        self.payload_bytes += o.payload_bytes;
        self.pure_acks += o.pure_acks;
        self.wire_bytes += o.wire_bytes;
    }
}

/// One direction of the link.
pub struct Dir {
    delay_ns: u64,
    /// Serialisation rate in bits per second (0: infinitely fast, every frame of a burst
    /// arrives at one instant).
    rate_bps: u64,
    /// When the serialiser is free again (ns).
    busy_until_ns: u64,
    /// Frames in flight: arrival time (ns), length, slot.
    queue: VecDeque<(u64, usize, SharedFrame)>,
    /// Free slots, unshared.
    pool: Vec<SharedFrame>,
    /// Delivered slots a stack still holds (sansnet keeps a full segment's payload in its
    /// frame until the application reads it), oldest first; back to `pool` once let go.
    lent: VecDeque<SharedFrame>,
    /// A frame is lost when the next draw is below this (0: none).
    loss_below: u64,
    rng: u64,
    pub counts: Counts,
    /// Slots allocated after the clock started (the pool ran dry): 0 in a fair run.
    pub slots_grown: u64,
}

impl Dir {
    fn new(delay_ns: u64, rate_bps: u64, loss_ppm: u64, seed: u64, slots: usize) -> Dir {
        Dir {
            delay_ns,
            rate_bps,
            busy_until_ns: 0,
            queue: VecDeque::with_capacity(slots),
            pool: (0..slots)
                .map(|_| SharedFrame::new(vec![0u8; SLOT]))
                .collect(),
            lent: VecDeque::with_capacity(slots),
            loss_below: ((u128::from(loss_ppm) << 64) / 1_000_000) as u64,
            rng: seed,
            counts: Counts::default(),
            slots_grown: 0,
        }
    }

    /// splitmix64: one draw per frame, in the order frames are sent.
    fn draw(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A free slot to write a frame into (unshared, all `SLOT` bytes of it).
    pub fn slot(&mut self) -> SharedFrame {
        // Slots let go since the last call first: the application has just read them, so
        // they are in the cache (taking them only once the pool ran dry walked the sender
        // through every slot of the pool: 7 times the cache misses at 1% loss).
        while self.lent.front().is_some_and(SharedFrame::is_unique) {
            if let Some(mut slot) = self.lent.pop_front() {
                slot.set_len(SLOT);
                self.pool.push(slot);
            }
        }
        self.pool.pop().unwrap_or_else(|| {
            self.slots_grown += 1;
            SharedFrame::new(vec![0u8; SLOT])
        })
    }

    /// Gives back a slot once its frame is read (or it carried nothing): to the pool, or,
    /// while the stack still holds it, to the lent queue.
    pub fn recycle(&mut self, mut slot: SharedFrame) {
        if slot.is_unique() {
            slot.set_len(SLOT);
            self.pool.push(slot);
        } else {
            self.lent.push_back(slot);
        }
    }

    /// Puts the first `len` bytes of `slot` on the link at `now`.
    pub fn send(&mut self, now_ns: u64, mut slot: SharedFrame, len: usize) {
        slot.set_len(len);
        self.counts.count(&slot[..len]);
        if self.loss_below != 0 && self.draw() < self.loss_below {
            self.counts.lost += 1;
            self.pool.push(slot);
            return;
        }
        let mut sent_ns = now_ns;
        if self.rate_bps != 0 {
            // Frames leave one after another, each taking its length at the rate.
            let start = self.busy_until_ns.max(now_ns);
            self.busy_until_ns = start + (len as u64 * 8 * 1_000_000_000).div_ceil(self.rate_bps);
            sent_ns = self.busy_until_ns;
        }
        self.queue.push_back((sent_ns + self.delay_ns, len, slot));
    }

    /// The next frame that has arrived by `now`.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<(SharedFrame, usize)> {
        match self.queue.front() {
            Some(&(at, _, _)) if at <= now_ns => {
                let (_, len, slot) = self.queue.pop_front().unwrap();
                Some((slot, len))
            }
            _ => None,
        }
    }

    fn next_arrival(&self) -> Option<u64> {
        self.queue.front().map(|&(at, _, _)| at)
    }
}

/// The link: `ab` carries the sender's frames to the sink, `ba` the way back.
pub struct Link {
    pub ab: Dir,
    pub ba: Dir,
}

impl Link {
    /// `slots` per direction are allocated here, before the clock starts.
    pub fn new(delay_ns: u64, rate_bps: u64, loss_ppm: u64, seed: u64, slots: usize) -> Link {
        Link {
            ab: Dir::new(delay_ns, rate_bps, loss_ppm, seed ^ 0xab, slots),
            ba: Dir::new(delay_ns, rate_bps, loss_ppm, seed ^ 0xba, slots),
        }
    }
}

/// The links' serialisation rate, bits per second: `BULK_RATE_MBPS` (a diagnosis, not the
/// issue's condition), else 0, infinitely fast.
pub fn rate_bps() -> u64 {
    std::env::var("BULK_RATE_MBPS").map_or(0, |v| {
        v.parse::<u64>()
            .expect("BULK_RATE_MBPS=megabits per second")
            * 1_000_000
    })
}

/// A stack with an application, as the driver sees it.
pub trait Node {
    /// Takes every frame due by `now` from `rx`, fires a due timer, runs the application,
    /// sends into `tx`.
    fn step(&mut self, now_ns: u64, rx: &mut Dir, tx: &mut Dir);
    /// When the node next wants a step without any arrival.
    fn next_timer(&self) -> Option<u64>;
    /// Bytes the application read (and checked).
    fn received(&self) -> u64;
    /// The sender's loss-recovery figures, for `BULK_EXPLAIN=1`.
    fn explain(&self) -> String {
        String::new()
    }
}

/// Runs until `b` has read `total` bytes; returns the driver's steps and the virtual time.
pub fn run(a: &mut dyn Node, b: &mut dyn Node, link: &mut Link, total: u64) -> (u64, u64) {
    let mut now = 0u64;
    let mut steps = 0u64;
    // The sender's first step: its SYN (or first ARP request).
    a.step(now, &mut link.ba, &mut link.ab);
    while b.received() < total {
        let next = [
            link.ab.next_arrival(),
            link.ba.next_arrival(),
            a.next_timer(),
            b.next_timer(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("a transfer with nothing in flight and no timer: stalled");
        now = now.max(next);
        let a_due = link.ba.next_arrival().is_some_and(|t| t <= now)
            || a.next_timer().is_some_and(|t| t <= now);
        let b_due = link.ab.next_arrival().is_some_and(|t| t <= now)
            || b.next_timer().is_some_and(|t| t <= now);
        if a_due {
            a.step(now, &mut link.ba, &mut link.ab);
        }
        if b_due {
            b.step(now, &mut link.ab, &mut link.ba);
        }
        steps += 1;
        assert!(steps < 1 << 32, "no end in sight");
    }
    assert_eq!(b.received(), total);
    (steps, now)
}

// ---- sansnet -------------------------------------------------------------------------------

/// The host configuration both drivers (this link and the simulator) give sansnet here:
/// `buffers` bytes each way, timestamps as asked.
///
/// `BULK_ACK_COALESCING=0` (or `1`) sets `tcp::Config::ack_coalescing` against its default,
/// for figures comparable with a table measured under the other default.
pub fn tune(cfg: &mut HostConfig, buffers: usize, timestamps: bool) {
    cfg.tcp.send_buffer_bytes = buffers;
    cfg.tcp.recv_buffer_bytes = buffers;
    cfg.tcp.reassembly_ranges = buffers / 2920 + 4;
    cfg.tcp.timestamps = timestamps;
    match std::env::var("BULK_ACK_COALESCING").as_deref() {
        Ok("0") => cfg.tcp.ack_coalescing = false,
        Ok("1") => cfg.tcp.ack_coalescing = true,
        Ok(other) => panic!("BULK_ACK_COALESCING={other}: 0 or 1"),
        Err(_) => {}
    }
}

fn sansnet_config(n: u8, addr: Ipv4Addr, buffers: usize, timestamps: bool) -> HostConfig {
    let mut cfg = HostConfig {
        name: format!("h{n}"),
        interfaces: vec![InterfaceConfig {
            mac: EthernetAddress([0x02, 0, 0, 0, n, 0]),
            addr,
            prefix_len: 24,
            mtu: 1500,
        }],
        secret: SecretKey([n; 16]),
        ..HostConfig::default()
    };
    tune(&mut cfg, buffers, timestamps);
    cfg
}

/// A sansnet host with the bulk application.
pub struct SansnetNode {
    pub app: HostApp,
    /// The host's deadline as its last step left it: the driver asks for it several times a
    /// step, and only a step changes it (the smoltcp adapter keeps its `poll_at` the same
    /// way).
    next: Option<u64>,
}

impl SansnetNode {
    pub fn new(sender: Option<u64>, buffers: usize, timestamps: bool) -> SansnetNode {
        let (n, addr, role) = match sender {
            Some(total) => (1, A_ADDR, Role::Sender { total }),
            None => (2, B_ADDR, Role::Sink),
        };
        let mut app = HostApp::new(sansnet_config(n, addr, buffers, timestamps), role, None);
        app.start(Instant::ZERO);
        let next = app.host.poll_timeout().map(|t| t.as_nanos());
        SansnetNode { app, next }
    }
}

impl Node for SansnetNode {
    fn step(&mut self, now_ns: u64, rx: &mut Dir, tx: &mut Dir) {
        let now = Instant::from_nanos(now_ns);
        let host = &mut self.app.host;
        while let Some((slot, _)) = rx.pop_due(now_ns) {
            host.handle_frame_shared(now, 0, &slot);
            rx.recycle(slot);
        }
        if host.poll_timeout().is_some_and(|t| t <= now) {
            host.handle_timeout(now);
        }
        self.app.run_app(now);
        loop {
            let mut slot = tx.slot();
            let buf = slot.buffer_mut().expect("a free slot is unshared");
            match self.app.host.poll_transmit_vec(now, buf) {
                Some((_, len)) => tx.send(now_ns, slot, len),
                None => {
                    tx.recycle(slot);
                    break;
                }
            }
        }
        self.next = self.app.host.poll_timeout().map(|t| t.as_nanos());
    }

    fn next_timer(&self) -> Option<u64> {
        self.next
    }

    fn received(&self) -> u64 {
        self.app.progress.received
    }

    fn explain(&self) -> String {
        let host = &self.app.host;
        host.ss()
            .iter()
            .filter_map(|row| host.tcp_info_of(row.local?, row.peer?))
            .map(|i| {
                let s = i.stats;
                format!(
                    "segs out {} rexmit {} rto {} fast recoveries {} tlp {} dupacks in {} cwnd {} ssthresh {:?}",
                    s.segments_sent,
                    s.retransmitted_segments,
                    s.rto_expirations,
                    s.fast_recoveries,
                    s.tlp_probes_sent,
                    s.dup_acks_received,
                    i.cwnd_bytes,
                    i.ssthresh_bytes
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

// ---- smoltcp 0.14 --------------------------------------------------------------------------

pub mod smol {
    use super::*;
    use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult};
    use smoltcp::iface::{SocketHandle, SocketSet};
    use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant as SmolInstant;
    use smoltcp::wire::{EthernetAddress as SmolMac, HardwareAddress, IpCidr, IpEndpoint};

    /// The link seen from one interface: its incoming direction and its outgoing one.
    struct Port<'l> {
        now_ns: u64,
        rx: &'l mut Dir,
        tx: &'l mut Dir,
    }

    struct Rx<'l> {
        slot: SharedFrame,
        len: usize,
        /// The incoming direction, to give the slot back to.
        dir: &'l mut Dir,
    }

    struct Tx<'l> {
        now_ns: u64,
        dir: &'l mut Dir,
    }

    impl RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            let r = f(&self.slot[..self.len]);
            self.dir.recycle(self.slot);
            r
        }
    }

    impl TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut slot = self.dir.slot();
            let buf = slot.buffer_mut().expect("a free slot is unshared");
            let r = f(&mut buf[..len]);
            self.dir.send(self.now_ns, slot, len);
            r
        }
    }

    impl Device for Port<'_> {
        type RxToken<'a>
            = Rx<'a>
        where
            Self: 'a;
        type TxToken<'a>
            = Tx<'a>
        where
            Self: 'a;

        fn receive(&mut self, _now: SmolInstant) -> Option<(Rx<'_>, Tx<'_>)> {
            let (slot, len) = self.rx.pop_due(self.now_ns)?;
            Some((
                Rx {
                    slot,
                    len,
                    dir: self.rx,
                },
                Tx {
                    now_ns: self.now_ns,
                    dir: self.tx,
                },
            ))
        }

        fn transmit(&mut self, _now: SmolInstant) -> Option<Tx<'_>> {
            Some(Tx {
                now_ns: self.now_ns,
                dir: self.tx,
            })
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = 1514;
            caps
        }
    }

    /// An empty link end, for building the interface.
    fn idle_dir() -> Dir {
        Dir::new(0, 0, 0, 0, 0)
    }

    fn smol_now(ns: u64) -> SmolInstant {
        SmolInstant::from_micros((ns / 1000) as i64)
    }

    /// smoltcp's interface, one TCP socket (Reno congestion control, 1 MiB buffers or as
    /// given, no timestamps unless asked) and the bulk application.
    pub struct SmolNode {
        iface: Interface,
        sockets: SocketSet<'static>,
        tcp: SocketHandle,
        role: Role,
        pub received: u64,
        pub sent: u64,
        closed: bool,
        next: Option<u64>,
        scratch: Vec<u8>,
    }

    /// smoltcp's timestamp clock (a plain `fn() -> u32`): the virtual time of the poll in
    /// progress, in milliseconds, set by `step` (benchmarks run on one thread).
    static TS_CLOCK_MS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    fn tsval() -> u32 {
        TS_CLOCK_MS.load(std::sync::atomic::Ordering::Relaxed)
    }

    impl SmolNode {
        pub fn new(sender: Option<u64>, buffers: usize, timestamps: bool, seed: u64) -> SmolNode {
            let (n, addr, role) = match sender {
                Some(total) => (1u8, A_ADDR, Role::Sender { total }),
                None => (2, B_ADDR, Role::Sink),
            };
            let (mut rx, mut tx) = (idle_dir(), idle_dir());
            let mut port = Port {
                now_ns: 0,
                rx: &mut rx,
                tx: &mut tx,
            };
            let mac = SmolMac([0x02, 0, 0, 0, n, 0]);
            let mut config = Config::new(HardwareAddress::Ethernet(mac));
            config.random_seed = seed ^ u64::from(n);
            let mut iface = Interface::new(config, &mut port, smol_now(0));
            iface.update_ip_addrs(|a| {
                a.push(IpCidr::new(addr.into(), 24)).unwrap();
            });
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; buffers]),
                tcp::SocketBuffer::new(vec![0; buffers]),
            );
            socket.set_congestion_control(tcp::CongestionControl::Reno);
            if timestamps {
                socket.set_tsval_generator(Some(tsval));
            }
            let mut sockets = SocketSet::new(Vec::new());
            let tcp = match role {
                Role::Sink => {
                    socket.listen(PORT).unwrap();
                    sockets.add(socket)
                }
                Role::Sender { .. } => {
                    let h = sockets.add(socket);
                    let s = sockets.get_mut::<tcp::Socket<'_>>(h);
                    let remote = IpEndpoint::new(B_ADDR.into(), PORT);
                    s.connect(iface.context(), remote, 49152).unwrap();
                    h
                }
            };
            SmolNode {
                iface,
                sockets,
                tcp,
                role,
                received: 0,
                sent: 0,
                closed: false,
                next: Some(0),
                scratch: vec![0; 1 << 16],
            }
        }

        /// The application, once: the sender writes what fits, the sink reads everything
        /// there is and checks it against the pattern.
        fn run_app(&mut self) {
            let s = self.sockets.get_mut::<tcp::Socket<'_>>(self.tcp);
            match self.role {
                Role::Sender { total } => {
                    while self.sent < total {
                        let off = (self.sent % 251) as usize;
                        let want = (total - self.sent).min(65536) as usize;
                        match s.send_slice(&PATTERN[off..off + want]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => self.sent += n as u64,
                        }
                    }
                    if self.sent == total && !self.closed {
                        s.close();
                        self.closed = true;
                    }
                }
                Role::Sink => loop {
                    match s.recv_slice(&mut self.scratch) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let off = (self.received % 251) as usize;
                            assert!(
                                self.scratch[..n] == PATTERN[off..off + n],
                                "smoltcp: wrong bytes within {}..{}",
                                self.received,
                                self.received + n as u64
                            );
                            self.received += n as u64;
                        }
                    }
                },
            }
        }
    }

    impl Node for SmolNode {
        fn step(&mut self, now_ns: u64, rx: &mut Dir, tx: &mut Dir) {
            let ts = smol_now(now_ns);
            TS_CLOCK_MS.store(
                (now_ns / 1_000_000) as u32,
                std::sync::atomic::Ordering::Relaxed,
            );
            let mut port = Port { now_ns, rx, tx };
            while self
                .iface
                .poll_ingress_single(ts, &mut port, &mut self.sockets)
                != PollIngressSingleResult::None
            {}
            self.run_app();
            while self.iface.poll_egress(ts, &mut port, &mut self.sockets) != PollResult::None {}
            // smoltcp's clock has microseconds: a deadline at or before now (one it could
            // not act on yet, such as a neighbour it waits for) is taken a microsecond on.
            self.next = self
                .iface
                .poll_at(ts, &self.sockets)
                .map(|t| (t.total_micros().max(0) as u64 * 1000).max(now_ns + 1000));
        }

        fn next_timer(&self) -> Option<u64> {
            self.next
        }

        fn received(&self) -> u64 {
            self.received
        }
    }
}

/// On-CPU nanoseconds of the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`: the time
/// the scheduler ran it, not the time it waited for a core, read to the nanosecond;
/// `/proc/thread-self/schedstat` is only brought up to date at scheduler ticks, 4 ms here,
/// which is a tenth of a transfer), if the kernel says.
pub fn thread_cpu_ns() -> Option<u64> {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    u64::try_from(t.tv_sec())
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(t.tv_nsec()).ok()?)
}

/// Starts a sender/sink pair of `stack` on a fresh link and moves `total` bytes. Returns
/// wall seconds, on-CPU seconds, the driver's steps, virtual nanoseconds and the link.
pub fn transfer(
    smoltcp: bool,
    total: u64,
    delay_ns: u64,
    loss_ppm: u64,
    seed: u64,
    buffers: usize,
    timestamps: bool,
) -> (f64, f64, u64, u64, Link) {
    // Enough slots for both buffers in flight; more would only be allocated, and counted.
    let slots = 2 * buffers / 1460 + 64;
    let mut link = Link::new(delay_ns, rate_bps(), loss_ppm, seed, slots);
    let (mut a, mut b): (Box<dyn Node>, Box<dyn Node>) = if smoltcp {
        (
            Box::new(smol::SmolNode::new(Some(total), buffers, timestamps, seed)),
            Box::new(smol::SmolNode::new(None, buffers, timestamps, seed)),
        )
    } else {
        (
            Box::new(SansnetNode::new(Some(total), buffers, timestamps)),
            Box::new(SansnetNode::new(None, buffers, timestamps)),
        )
    };
    #[allow(clippy::disallowed_methods)]
    let cpu0 = thread_cpu_ns();
    let start = std::time::Instant::now();
    let (steps, virt) = run(a.as_mut(), b.as_mut(), &mut link, total);
    let wall = start.elapsed().as_secs_f64();
    if std::env::var_os("BULK_EXPLAIN").is_some() {
        println!("  explain: sender {}", a.explain());
    }
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => f64::NAN,
    };
    (wall, cpu, steps, virt, link)
}
