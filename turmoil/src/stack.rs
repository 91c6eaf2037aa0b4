//! One sansnet [`Host`] per turmoil host, and the task that drives it.
//!
//! Each turmoil host runs its software on its own tokio runtime, so the runtime's id names
//! the host: a thread-local table maps it to the host's stack. The first socket call on a
//! host puts a `Starting` entry there and spawns the driver, which binds the bridge's UDP
//! port, learns the host's address (below), builds the stack and marks it `Up`. The driver
//! owns everything that touches turmoil's network: it feeds arriving datagrams to the
//! stack as frames (through the bridge's faults), fires the stack's timers on tokio's
//! clock, and sends what the stack transmits. Socket calls only change the stack's state
//! and wake the driver, so that a host that crashes (its runtime dropped, the sockets of
//! its tasks closed on the way) sends nothing as it goes.
//!
//! turmoil does not tell host code its own address. The driver learns it the one way
//! turmoil 0.7 offers: a datagram to the bridges' multicast group comes back to the sender
//! with the sender's address as its source, so it sends a probe carrying a number unique on
//! the thread and waits for that probe to loop back (one turmoil tick). Other bridges see
//! the probe and ignore it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sansnet_sim::host::secret_from_seed;
use sansnet_sim::pcapng::Direction;
use sansnet_sim::{Probability, Seed, SimRng};
use sansnet_stack::iface::{Fd, Host, HostConfig, InterfaceConfig, Readiness};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::EthernetAddress;
use tokio::runtime::Id as RuntimeId;
use tokio::sync::Notify;
use turmoil::net::UdpSocket;

use crate::bridge::{Bridge, HostRecord};

/// A stack, unique on its thread: socket handles carry it, so that a handle from before a
/// restart (or from another host) is told apart from the current stack.
pub(crate) type StackId = u64;

/// The EtherType of the address probe (IEEE 802 local experimental 1): never a frame any
/// stack is given.
const ETHERTYPE_PROBE: [u8; 2] = [0x88, 0xb5];
const PROBE_MAGIC: &[u8; 8] = b"sansnet?";
/// The first two bytes of every bridged stack's MAC address; the other four are its IPv4
/// address, so the bridge forwards a frame by its destination MAC with no table.
const MAC_PREFIX: [u8; 2] = [0x02, 0x73];
/// The largest datagram read (turmoil cuts longer ones); frames are at most 1518 bytes.
const MAX_DATAGRAM: usize = 64 * 1024;
/// What `poll_transmit` is given: the MTU (1500) and an Ethernet header, with room to spare.
const FRAME_BUF: usize = 2048;
/// Frames kept while the address probe is out (they are a tick's worth at most).
const EARLY_FRAMES: usize = 1024;
/// How long the driver waits for its probe to come back: one turmoil tick normally (and
/// turmoil's `tick_duration` can be long), so only a guard against a probe that cannot.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// The shortest sleep (tokio's timers tick in milliseconds): for a deadline already due
/// that `handle_timeout` could not clear.
const MIN_SLEEP: Duration = Duration::from_millis(1);
/// How long the driver sleeps with no timer armed: until a datagram or a call wakes it.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// The MAC address of the stack at `ip`.
pub(crate) fn mac_for(ip: Ipv4Addr) -> EthernetAddress {
    let [a, b, c, d] = ip.octets();
    EthernetAddress([MAC_PREFIX[0], MAC_PREFIX[1], a, b, c, d])
}

/// The address a bridged MAC address stands for.
fn ip_of(mac: &[u8]) -> Option<Ipv4Addr> {
    match mac {
        [0x02, 0x73, a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}

fn probe_frame(token: u64) -> Vec<u8> {
    let mut frame = Vec::with_capacity(30);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&ETHERTYPE_PROBE);
    frame.extend_from_slice(PROBE_MAGIC);
    frame.extend_from_slice(&token.to_le_bytes());
    frame
}

fn is_probe(datagram: &[u8]) -> bool {
    datagram.get(12..14) == Some(&ETHERTYPE_PROBE[..])
}

/// The token of a probe, if `datagram` is one.
fn probe_token(datagram: &[u8]) -> Option<u64> {
    if !is_probe(datagram) || datagram.get(14..22) != Some(&PROBE_MAGIC[..]) {
        return None;
    }
    let token: [u8; 8] = datagram.get(22..30)?.try_into().ok()?;
    Some(u64::from_le_bytes(token))
}

// ----- errors -----

pub(crate) fn not_in_host() -> io::Error {
    io::Error::other("sansnet_turmoil: not called from a task on a turmoil host")
}

fn busy() -> io::Error {
    io::Error::other("sansnet_turmoil: the host's stack is already in use by this call")
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "sansnet_turmoil: the socket's host restarted since it was made, or it belongs to another host",
    )
}

// ----- the table of stacks -----

enum Slot {
    /// The driver is learning the host's address; `waiters` are the calls waiting for it.
    Starting {
        id: StackId,
        bridge: Bridge,
        waiters: Vec<Waker>,
    },
    Up {
        id: StackId,
        stack: Rc<RefCell<Stack>>,
    },
    /// The stack could not start; every call on this run of the host says why.
    Failed {
        id: StackId,
        kind: io::ErrorKind,
        message: Rc<str>,
    },
}

impl Slot {
    fn id(&self) -> StackId {
        match self {
            Slot::Starting { id, .. } | Slot::Up { id, .. } | Slot::Failed { id, .. } => *id,
        }
    }
}

thread_local! {
    /// The stack of each turmoil host that has one, by the host's tokio runtime. Only
    /// looked up, never iterated, so its order cannot reach a run.
    static HOSTS: RefCell<HashMap<RuntimeId, Slot>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<StackId> = const { Cell::new(1) };
}

/// The current task's runtime: its turmoil host.
fn runtime() -> io::Result<RuntimeId> {
    if !turmoil::in_simulation() {
        return Err(not_in_host());
    }
    tokio::runtime::Handle::try_current()
        .map(|h| h.id())
        .map_err(|_| not_in_host())
}

/// Simulated time since the start of the simulation, from turmoil's clock for this host.
fn sim_now() -> Option<Instant> {
    let elapsed = turmoil::sim_elapsed()?;
    Some(Instant::from_nanos(
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
    ))
}

/// The current host's stack, starting it on first use: `Pending` until it is up.
pub(crate) fn poll_here(cx: &mut Context<'_>) -> Poll<io::Result<StackId>> {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return Poll::Ready(Err(e)),
    };
    let polled = HOSTS.try_with(|hosts| {
        let Ok(mut hosts) = hosts.try_borrow_mut() else {
            return Poll::Ready(Err(busy()));
        };
        match hosts.get_mut(&rt) {
            Some(Slot::Up { id, .. }) => Poll::Ready(Ok(*id)),
            Some(Slot::Failed { kind, message, .. }) => {
                Poll::Ready(Err(io::Error::new(*kind, message.to_string())))
            }
            Some(Slot::Starting { waiters, .. }) => {
                if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            None => {
                let id = NEXT_ID.with(|n| {
                    let id = n.get();
                    n.set(id + 1);
                    id
                });
                let bridge = Bridge::current();
                let (port, group) = (bridge.config().port, bridge.config().group);
                hosts.insert(
                    rt,
                    Slot::Starting {
                        id,
                        bridge,
                        waiters: vec![cx.waker().clone()],
                    },
                );
                // `tokio::spawn`, not `spawn_local`: the first call may come from a task
                // that is not on turmoil's `LocalSet` (tonic's connection workers).
                drop(tokio::spawn(drive(rt, id, port, group)));
                Poll::Pending
            }
        }
    });
    polled.unwrap_or_else(|_| Poll::Ready(Err(not_in_host())))
}

/// Runs `f` on the stack `id`, if it is the current host's stack and up, then wakes the
/// tasks whose sockets `f` made ready.
pub(crate) fn with_stack<R>(
    id: StackId,
    f: impl FnOnce(&mut Stack, Instant) -> R,
) -> io::Result<R> {
    let rt = runtime()?;
    let stack = HOSTS
        .try_with(|hosts| {
            let hosts = hosts.try_borrow().map_err(|_| busy())?;
            match hosts.get(&rt) {
                Some(Slot::Up { id: up, stack }) if *up == id => Ok(stack.clone()),
                _ => Err(gone()),
            }
        })
        .map_err(|_| not_in_host())??;
    let now = sim_now().ok_or_else(not_in_host)?;
    let (result, wake) = {
        let mut s = stack.try_borrow_mut().map_err(|_| busy())?;
        let result = f(&mut s, now);
        (result, std::mem::take(&mut s.wake))
    };
    for waker in wake {
        waker.wake();
    }
    Ok(result)
}

/// Removes the driver's slot when the driver goes (its runtime dropped: the host crashed,
/// restarted, or the simulation ended), taking the stack with it.
struct SlotGuard {
    rt: RuntimeId,
    id: StackId,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let removed = HOSTS
            .try_with(|hosts| {
                let mut hosts = hosts.try_borrow_mut().ok()?;
                if hosts.get(&self.rt).map(Slot::id) == Some(self.id) {
                    hosts.remove(&self.rt)
                } else {
                    None
                }
            })
            .ok()
            .flatten();
        // Dropped here, outside the table's borrow: the stack's wakers and turmoil's socket
        // go with it.
        drop(removed);
    }
}

/// The driver task of stack `id` on runtime `rt`.
async fn drive(rt: RuntimeId, id: StackId, port: u16, group: Ipv4Addr) {
    let _slot = SlotGuard { rt, id };
    match start(rt, id, port, group).await {
        Ok((sock, notify)) => run(id, &sock, &notify).await,
        Err(e) => {
            fail(rt, id, &e);
            // Stays, holding the slot (and its error) for as long as this run of the host.
            std::future::pending::<()>().await;
        }
    }
}

fn fail(rt: RuntimeId, id: StackId, e: &io::Error) {
    let waiters = HOSTS
        .try_with(|hosts| {
            let mut hosts = hosts.try_borrow_mut().ok()?;
            let slot = hosts.get_mut(&rt)?;
            if slot.id() != id {
                return None;
            }
            let failed = Slot::Failed {
                id,
                kind: e.kind(),
                message: format!("sansnet_turmoil: the host's stack did not start: {e}").into(),
            };
            match std::mem::replace(slot, failed) {
                Slot::Starting { waiters, .. } => Some(waiters),
                _ => None,
            }
        })
        .ok()
        .flatten();
    for waker in waiters.into_iter().flatten() {
        waker.wake();
    }
}

/// Binds the bridge port, learns the host's address and puts the stack up.
async fn start(
    rt: RuntimeId,
    id: StackId,
    port: u16,
    group: Ipv4Addr,
) -> io::Result<(Arc<UdpSocket>, Arc<Notify>)> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("binding UDP port {port}: {e}")))?;
    sock.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED)?;
    sock.set_multicast_loop_v4(true)?;
    sock.send_to(&probe_frame(id), (group, port)).await?;
    let give_up = tokio::time::Instant::now() + PROBE_TIMEOUT;
    let mut early = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let own = loop {
        let received = tokio::time::timeout_at(give_up, sock.recv_from(&mut buf)).await;
        let (n, from) = received.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the address probe did not come back",
            )
        })??;
        let datagram = &buf[..n];
        match probe_token(datagram) {
            Some(token) if token == id => break from.ip(),
            Some(_) => {}
            None if early.len() < EARLY_FRAMES => early.push((datagram.to_vec(), from)),
            None => {}
        }
    };
    sock.set_multicast_loop_v4(false)?;
    let IpAddr::V4(ip) = own else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "sansnet's stack is IPv4 only, and this turmoil host has an IPv6 address",
        ));
    };
    let now = sim_now().ok_or_else(not_in_host)?;
    let sock = Arc::new(sock);
    let notify = Arc::new(Notify::new());
    let taken = HOSTS
        .try_with(|hosts| {
            let mut hosts = hosts.try_borrow_mut().ok()?;
            match hosts.remove(&rt) {
                Some(Slot::Starting {
                    id: starting,
                    bridge,
                    waiters,
                }) if starting == id => Some((bridge, waiters)),
                other => {
                    if let Some(other) = other {
                        hosts.insert(rt, other);
                    }
                    None
                }
            }
        })
        .ok()
        .flatten();
    let Some((bridge, waiters)) = taken else {
        return Err(io::Error::other(
            "the stack's slot went away while it started",
        ));
    };
    let stack = Stack::new(ip, &bridge, sock.clone(), notify.clone(), now);
    let stack = Rc::new(RefCell::new(stack));
    let inserted = HOSTS
        .try_with(|hosts| {
            hosts
                .try_borrow_mut()
                .map(|mut hosts| hosts.insert(rt, Slot::Up { id, stack }))
                .is_ok()
        })
        .unwrap_or(false);
    if !inserted {
        return Err(busy());
    }
    for waker in waiters {
        waker.wake();
    }
    for (frame, from) in early {
        with_stack(id, |s, now| s.on_datagram(now, &frame, from))?;
    }
    Ok((sock, notify))
}

/// The driver's loop: everything that arrived, then timers and everything to send, then
/// sleep until a datagram, a socket call or the next deadline.
async fn run(id: StackId, sock: &UdpSocket, notify: &Notify) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        while let Ok((n, from)) = sock.try_recv_from(&mut buf) {
            if with_stack(id, |s, now| s.on_datagram(now, &buf[..n], from)).is_err() {
                return;
            }
        }
        let Ok(next) = with_stack(id, Stack::service) else {
            return;
        };
        let sleep = tokio::time::sleep(next.unwrap_or(IDLE_SLEEP));
        tokio::select! {
            biased;
            _ = notify.notified() => {}
            readable = sock.readable() => {
                if readable.is_err() {
                    return;
                }
            }
            _ = sleep => {}
        }
    }
}

// ----- the stack -----

/// A task waiting for a socket: woken when the socket's readiness differs from `seen`.
struct Waiter {
    fd: Fd,
    seen: Readiness,
    waker: Waker,
}

/// The bridge's faults on arriving frames, one generator per kind (switching one kind off
/// leaves the others' draws as they were).
struct Faults {
    loss: Probability,
    corrupt: Probability,
    reorder: Probability,
    reorder_delay_ns: u64,
    loss_rng: SimRng,
    corrupt_rng: SimRng,
    reorder_rng: SimRng,
}

fn probability(rate: f64) -> Probability {
    // Validated to lie in 0..=1 by `Config::validate`.
    Probability::per_million((rate * f64::from(Probability::SCALE)).round() as u32)
}

/// A frame held back by reordering.
struct Held {
    frame: Vec<u8>,
    corrupted: bool,
    arrived: Instant,
}

/// One host's sansnet stack with what the bridge adds around it.
pub(crate) struct Stack {
    ip: Ipv4Addr,
    pub(crate) host: Host,
    sock: Arc<UdpSocket>,
    notify: Arc<Notify>,
    port: u16,
    group: Ipv4Addr,
    record: Rc<HostRecord>,
    faults: Faults,
    /// Frames held back by reordering, by (release time, arrival order).
    held: BTreeMap<(Instant, u64), Held>,
    held_seq: u64,
    waiters: BTreeMap<u64, Vec<Waiter>>,
    /// Wakers to wake once the stack is no longer borrowed.
    wake: Vec<Waker>,
    /// The deadline the driver sleeps until.
    armed: Option<Instant>,
    changed: Vec<u64>,
    frame: Vec<u8>,
}

impl Stack {
    fn new(
        ip: Ipv4Addr,
        bridge: &Bridge,
        sock: Arc<UdpSocket>,
        notify: Arc<Notify>,
        now: Instant,
    ) -> Stack {
        let config = bridge.config();
        let name = turmoil::reverse_lookup(IpAddr::V4(ip)).unwrap_or_else(|| ip.to_string());
        let mac = mac_for(ip);
        let record = bridge.record(ip, &name, mac);
        // Everything drawn depends on the seed, the host and when this run of it started,
        // never on what ran on the thread before.
        let seed = Seed(bridge.config().seed);
        let label = format!("sansnet-turmoil {ip} {}", now.as_nanos());
        let host = Host::new(HostConfig {
            name,
            interfaces: vec![InterfaceConfig {
                mac,
                addr: ip,
                // turmoil's network is flat: every host is one hop away, whatever its address.
                prefix_len: 0,
                mtu: 1500,
            }],
            secret: secret_from_seed(seed.derive_u64(&format!("{label} secret"))),
            tcp: config.tcp.clone(),
            limits: config.limits.clone(),
            ..HostConfig::default()
        });
        let faults = Faults {
            loss: probability(config.loss),
            corrupt: probability(config.corrupt),
            reorder: probability(config.reorder),
            reorder_delay_ns: u64::try_from(config.reorder_delay.as_nanos()).unwrap_or(u64::MAX),
            loss_rng: seed.stream(&format!("{label} loss")),
            corrupt_rng: seed.stream(&format!("{label} corrupt")),
            reorder_rng: seed.stream(&format!("{label} reorder")),
        };
        Stack {
            ip,
            host,
            sock,
            notify,
            port: config.port,
            group: config.group,
            record,
            faults,
            held: BTreeMap::new(),
            held_seq: 0,
            waiters: BTreeMap::new(),
            wake: Vec::new(),
            armed: None,
            changed: Vec::new(),
            frame: vec![0; FRAME_BUF],
        }
    }

    /// This host's address.
    pub(crate) fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// Parks the calling task until the readiness of `fd` changes from what it is now.
    pub(crate) fn wait(&mut self, fd: Fd, waker: &Waker) {
        let (Ok(key), Ok(seen)) = (self.host.readiness_key(fd), self.host.readiness(fd)) else {
            // No such socket: let the task come back and get the error.
            waker.wake_by_ref();
            return;
        };
        let list = self.waiters.entry(key).or_default();
        match list.iter_mut().find(|w| w.waker.will_wake(waker)) {
            Some(w) => {
                w.fd = fd;
                w.seen = seen;
            }
            None => list.push(Waiter {
                fd,
                seen,
                waker: waker.clone(),
            }),
        }
    }

    /// After a socket call: wake the tasks it made ready, and the driver if the call left
    /// something to send or an earlier deadline.
    pub(crate) fn after_call(&mut self) {
        self.drain_changed();
        let next = self.next_deadline();
        let earlier = match (next, self.armed) {
            (Some(n), Some(a)) => n < a,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            self.armed = next;
            self.notify.notify_one();
        }
    }

    /// Moves the waiters of every socket whose readiness changed to `wake`.
    fn drain_changed(&mut self) {
        let Stack {
            host,
            waiters,
            wake,
            changed,
            ..
        } = self;
        host.drain_changed(changed);
        for key in changed.drain(..) {
            let Some(list) = waiters.remove(&key) else {
                continue;
            };
            let (fire, keep): (Vec<Waiter>, Vec<Waiter>) = list
                .into_iter()
                .partition(|w| host.readiness(w.fd) != Ok(w.seen));
            wake.extend(fire.into_iter().map(|w| w.waker));
            if !keep.is_empty() {
                waiters.insert(key, keep);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let held = self.held.keys().next().map(|&(at, _)| at);
        match (self.host.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A datagram from turmoil: a frame for the stack, through the bridge's faults.
    fn on_datagram(&mut self, now: Instant, datagram: &[u8], _from: SocketAddr) {
        if is_probe(datagram) {
            return;
        }
        self.record.count(|s| s.frames_received += 1);
        let f = &mut self.faults;
        if f.loss_rng.chance(f.loss) {
            self.record.count(|s| s.lost += 1);
            self.record.capture(
                now,
                datagram,
                Direction::Inbound,
                Some("dropped by the bridge (loss)"),
            );
            return;
        }
        let mut frame = datagram.to_vec();
        let corrupted = f.corrupt_rng.chance(f.corrupt) && !frame.is_empty();
        if corrupted {
            let bit = f.corrupt_rng.below(frame.len() as u64 * 8);
            frame[(bit / 8) as usize] ^= 1 << (bit % 8);
            self.record.count(|s| s.corrupted += 1);
        }
        if f.reorder_rng.chance(f.reorder) {
            let delay = 1 + f.reorder_rng.below(f.reorder_delay_ns.max(1));
            let release = now.saturating_add(sansnet_stack::time::Duration::from_nanos(delay));
            self.held_seq += 1;
            let held = Held {
                frame,
                corrupted,
                arrived: now,
            };
            self.held.insert((release, self.held_seq), held);
            self.record.count(|s| s.reordered += 1);
            return;
        }
        self.deliver(now, &frame, corrupted, None);
        self.flush(now);
        self.drain_changed();
    }

    /// Hands `frame` to the stack, recording it as the stack got it.
    fn deliver(
        &mut self,
        now: Instant,
        frame: &[u8],
        corrupted: bool,
        held_since: Option<Instant>,
    ) {
        if self.record.capturing() {
            let comment = match (corrupted, held_since) {
                (false, None) => None,
                (true, None) => Some("one bit flipped by the bridge (corrupt)".to_owned()),
                (c, Some(since)) => Some(format!(
                    "held {} us by the bridge (reorder){}",
                    now.saturating_duration_since(since).as_micros(),
                    if c { "; one bit flipped (corrupt)" } else { "" }
                )),
            };
            self.record
                .capture(now, frame, Direction::Inbound, comment.as_deref());
        }
        self.host.handle_frame(now, 0, frame);
    }

    /// The driver's turn: held frames and timers that are due, then everything to send;
    /// returns how long to sleep.
    fn service(&mut self, now: Instant) -> Option<Duration> {
        for _ in 0..4 {
            while let Some(entry) = self.held.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let held = entry.remove();
                self.deliver(now, &held.frame, held.corrupted, Some(held.arrived));
            }
            if self.host.poll_timeout().is_some_and(|t| t <= now) {
                self.host.handle_timeout(now);
            }
            self.flush(now);
            self.drain_changed();
            if self.next_deadline().is_none_or(|t| t > now) {
                break;
            }
        }
        let next = self.next_deadline();
        self.armed = next;
        next.map(|t| {
            if t <= now {
                MIN_SLEEP
            } else {
                t.saturating_duration_since(now)
            }
        })
    }

    /// Sends every frame the stack has, each as one datagram to the host its destination
    /// MAC names (a broadcast to the bridges' group).
    fn flush(&mut self, now: Instant) {
        while let Some((_nic, len)) = self.host.poll_transmit(now, &mut self.frame) {
            let frame = &self.frame[..len];
            self.record.capture(now, frame, Direction::Outbound, None);
            let to = match frame.get(..6) {
                Some([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) => Some(self.group),
                Some(mac) => ip_of(mac).filter(|&ip| {
                    ip != self.ip
                        && !ip.is_unspecified()
                        && !ip.is_loopback()
                        && !ip.is_multicast()
                        && !ip.is_broadcast()
                }),
                None => None,
            };
            let Some(to) = to else {
                self.record.count(|s| s.undeliverable += 1);
                continue;
            };
            match self
                .sock
                .try_send_to(frame, SocketAddr::from((to, self.port)))
            {
                Ok(_) => self.record.count(|s| s.frames_sent += 1),
                Err(_) => self.record.count(|s| s.send_errors += 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_carry_the_address_and_back() {
        let ip = Ipv4Addr::new(192, 168, 0, 7);
        let mac = mac_for(ip);
        assert!(mac.is_unicast());
        assert_eq!(mac.0[0] & 0x02, 0x02, "locally administered");
        assert_eq!(ip_of(&mac.0), Some(ip));
        assert_eq!(ip_of(&[0x02, 0x00, 1, 2, 3, 4]), None);
        assert_eq!(ip_of(&[0x02, 0x73, 1]), None);
    }

    #[test]
    fn probes_are_recognised_and_nothing_else() {
        let probe = probe_frame(42);
        assert_eq!(probe_token(&probe), Some(42));
        assert!(is_probe(&probe));
        let mut not_magic = probe.clone();
        not_magic[14] ^= 1;
        assert_eq!(probe_token(&not_magic), None);
        assert_eq!(probe_token(&probe[..20]), None);
        assert_eq!(probe_token(&[]), None);
        let mut arp = probe.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!is_probe(&arp));
    }
}
