//! The simulated world: clock, event queue, nodes, NICs, links and switches.
//!
//! `World` is the sans-IO core of the simulator; [`crate::Sim`] wraps it with run controls
//! and the task executor. Every method that touches a node ends by *servicing* it (drain its
//! transmit queue, re-read its deadline), so no frame or timer is ever forgotten.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;

use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::{EthernetAddress, EthernetFrame};

use crate::endpoint::{Endpoint, NodeCtx, NodeFactory};
use crate::fault::{FaultChange, LatencyDist, LinkFaults, LossModel};
use crate::framebuf::{FrameBytes, FramePool};
use crate::log::set_sim_time;
use crate::pcap::PcapWriter;
use crate::pcapng::{self, PcapngWriter};
use crate::queue::EventQueue;
use crate::rng::{Probability, Seed, SimRng};
use crate::trace::{At, DropReason, Fingerprint, Named, Over, Rec, TraceHash, Tracer};

use sansnet_stack::iface::fxhash::FxBuildHasher;

/// A switch's learning table (see `Switch::mac_table`).
type MacTable = hashbrown::HashMap<u64, (usize, Instant), FxBuildHasher>;

/// A node (anything implementing [`Endpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) usize);

/// A virtual NIC, anywhere in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NicId(pub(crate) usize);

/// A point-to-point link (two directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub(crate) usize);

/// A learning L2 switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwitchId(pub(crate) usize);

/// What a link end attaches to: a NIC, or a new port of a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// A NIC (which must not be attached already).
    Nic(NicId),
    /// A fresh port on the switch.
    Switch(SwitchId),
}

impl From<NicId> for Attach {
    fn from(nic: NicId) -> Attach {
        Attach::Nic(nic)
    }
}

impl From<SwitchId> for Attach {
    fn from(switch: SwitchId) -> Attach {
        Attach::Switch(switch)
    }
}

/// A link end once attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Port {
    Nic(NicId),
    Switch(SwitchId, usize),
}

/// Per-direction counters of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Frames offered to the direction.
    pub offered: u64,
    /// Frames that left the far end (to a NIC or a switch).
    pub arrived: u64,
    /// Bytes that arrived.
    pub arrived_bytes: u64,
    /// Dropped by the loss model.
    pub lost: u64,
    /// Tail-dropped by the byte-limited queue.
    pub queue_dropped: u64,
    /// Dropped for exceeding the MTU.
    pub oversize: u64,
    /// Dropped because the direction was down.
    pub down_dropped: u64,
    /// Bits flipped (one per corrupted frame).
    pub corrupted: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Frames held back for reordering.
    pub reordered: u64,
    /// Frames held by a clog (later released).
    pub held: u64,
}

/// Per-NIC counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicCounters {
    /// Frames the node sent through this NIC.
    pub tx_frames: u64,
    /// Frames delivered to the node.
    pub rx_frames: u64,
    /// Transmit ring overflows.
    pub tx_ring_dropped: u64,
    /// Receive ring overflows.
    pub rx_ring_dropped: u64,
    /// Frames failing the frame check sequence.
    pub fcs_dropped: u64,
    /// Frames dropped by a node partition.
    pub partition_dropped: u64,
    /// Frames that arrived while the node was crashed.
    pub host_down_dropped: u64,
}

/// Per-switch counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCounters {
    /// Frames forwarded to one known port.
    pub forwarded: u64,
    /// Frames flooded.
    pub flooded: u64,
    /// Frames dropped by the FCS check.
    pub fcs_dropped: u64,
    /// Frames filtered (destination behind the ingress port).
    pub filtered: u64,
    /// MAC table entries evicted because the table was full.
    pub evicted: u64,
}

/// A frame in flight. 32 bytes with no padding: a frame is moved from the endpoint's
/// buffer to a link, a train, a receive ring and back out, and a `bool` field of its own
/// made it 40 bytes whose padding each move copied with overlapping unaligned loads, which
/// stalled on the stores just before them (issue 16's profile). With `Event` at 40 bytes
/// instead of 56, the bulk bench's simulated transfer took 2% less CPU time.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    /// The frame's id, with `FCS_BAD` set once the frame check sequence no longer matches
    /// (a bit was flipped on a wire). Ids count from 1 and never reach that bit.
    id_fcs: u64,
    pub(crate) origin: NodeId,
    /// Shared: a flooded or duplicated frame is one buffer however many copies travel;
    /// corruption copies before it flips a bit. Back to `World::frame_pool` once read.
    pub(crate) bytes: FrameBytes,
}

const _: () = assert!(std::mem::size_of::<Frame>() <= 32, "see Frame");
const _: () = assert!(std::mem::size_of::<Event>() <= 40, "see Event::Arrive");

impl Frame {
    const FCS_BAD: u64 = 1 << 63;

    /// The frame's id (trace records name frames by it).
    pub(crate) fn id(&self) -> u64 {
        self.id_fcs & !Frame::FCS_BAD
    }

    /// Whether the frame check sequence no longer matches.
    pub(crate) fn fcs_bad(&self) -> bool {
        self.id_fcs & Frame::FCS_BAD != 0
    }

    fn set_fcs_bad(&mut self, bad: bool) {
        self.id_fcs = self.id() | if bad { Frame::FCS_BAD } else { 0 };
    }
}

pub(crate) enum Event {
    NodeTimer {
        node: NodeId,
        generation: u64,
    },
    /// The link direction as `2 * link + dir` in a u32, so that an event is 40 bytes
    /// rather than 56 (a queued event is as large as the largest; topologies have far
    /// fewer than 2^31 links).
    Arrive {
        link_dir: u32,
        frames: Arrivals,
    },
    RxDrain {
        nic: NicId,
    },
    Fault {
        /// Boxed: changes are rare and large, and every queued event is as big as the largest.
        change: Box<FaultChange>,
    },
    TaskTimer {
        key: u64,
    },
}

/// The frames of one `Event::Arrive`: one, or a train of frames that reach the end of one
/// link direction at one instant and were scheduled one right after another (a window's
/// burst on a link without a serialiser), each handled as its own event would have been,
/// in order. A train is one queue entry and one step instead of one per frame (the bulk
/// bench's clean 64 MiB: 47,255 steps before, 306 with trains; its simulated transfer 4%
/// faster, issue 16). See `World::schedule_arrival`.
pub(crate) enum Arrivals {
    One(Frame),
    Train(Vec<Frame>),
}

pub(crate) struct NodeSlot {
    pub(crate) name: String,
    pub(crate) endpoint: Option<Box<dyn Endpoint>>,
    factory: Option<NodeFactory>,
    pub(crate) nics: Vec<NicId>,
    /// Bumped whenever the deadline changes, so stale wake-ups are ignored.
    timer_generation: u64,
    timer_deadline: Option<Instant>,
    pub(crate) incarnation: u32,
    span: tracing::Span,
}

pub(crate) struct Nic {
    pub(crate) node: NodeId,
    pub(crate) index: usize,
    pub(crate) mac: EthernetAddress,
    /// Outgoing direction of the attached link.
    link: Option<(LinkId, usize)>,
    rx_ring: VecDeque<Frame>,
    rx_drain_scheduled: bool,
    pub(crate) rx_ring_frames: usize,
    pub(crate) tx_ring_frames: usize,
    pub(crate) fcs_check: bool,
    captures: Vec<Tap>,
    pub(crate) counters: NicCounters,
}

struct DirState {
    name: String,
    /// Set only through `set_faults`, which keeps `fast` in step with it.
    faults: LinkFaults,
    /// What most directions' faults come to, found when they are set (see `FastPath`).
    fast: Option<FastPath>,
    /// Made at the first frame whose faults may draw (`may_draw`), from the same streams
    /// as ever: nothing drew before, so they are where they would have been. A clean link
    /// never draws, and five ChaCha streams a direction, 1.6 KB, were most of a link's
    /// memory (a link per client at thousands of clients: cache and TLB misses on every
    /// frame, and most of a link's build time).
    rng: Option<Box<FaultRngs>>,
    /// Gilbert-Elliott: in the bad state.
    burst_bad: bool,
    /// Serialiser: end times and sizes of frames not yet fully sent.
    in_queue: VecDeque<(Instant, u64)>,
    queued_bytes: u64,
    /// Latest arrival so far: in-order frames never arrive before it.
    fifo_floor: Instant,
    clogged: bool,
    held: Vec<Frame>,
    counters: LinkCounters,
}

impl DirState {
    fn set_faults(&mut self, faults: LinkFaults) {
        self.fast = FastPath::of(&faults);
        self.faults = faults;
    }

    /// Whether the direction is cut. A fast direction never is (`FastPath::of`), which
    /// leaves the faults' cache lines untouched on the way out of the link.
    #[inline(always)]
    fn is_down(&self) -> bool {
        self.fast.is_none() && self.faults.down
    }
}

/// A direction whose faults are a constant latency and perhaps independent loss, and nothing
/// else: no serialiser, MTU, jitter, corruption, duplication or reordering, not down. Most
/// directions are this (every link of the bulk bench and of a rack), and a frame through one
/// takes a short path in `link_ingress_parts` with the same draws, counters and records as
/// the general path would make (the general path with these faults draws the loss stream
/// alone, once a frame, and leaves the arrival at `now + latency`, no earlier than the frame
/// before): a dozen checks of fields spread over the faults' cache lines, found once
/// instead of for every frame (issue 16).
#[derive(Clone, Copy, Debug)]
struct FastPath {
    latency: Duration,
    /// `NEVER` where the faults lose nothing.
    loss: Probability,
}

impl FastPath {
    fn of(f: &LinkFaults) -> Option<FastPath> {
        let LatencyDist::Constant { latency } = f.latency else {
            return None;
        };
        let loss = match f.loss {
            LossModel::None => Probability::NEVER,
            LossModel::Independent { rate } => rate,
            LossModel::GilbertElliott { .. } => return None,
        };
        let serialised = matches!(f.bandwidth_bps, Some(bps) if bps > 0);
        let plain = !f.down
            && f.mtu_bytes.is_none()
            && !serialised
            && f.jitter.is_zero()
            && f.corrupt.is_never()
            && f.duplicate.is_never()
            && f.reorder.is_never();
        plain.then_some(FastPath { latency, loss })
    }
}

pub(crate) struct LinkState {
    pub(crate) name: String,
    ends: [Port; 2],
    dirs: [DirState; 2],
    captures: Vec<Tap>,
}

pub(crate) struct Switch {
    pub(crate) name: String,
    /// Outgoing link direction of each port.
    ports: Vec<(LinkId, usize)>,
    /// By `mac_key` (a MAC as a big-endian integer: the same order as the bytes, and a
    /// cheaper comparison on the per-frame lookups).
    /// Station (as `mac_key`) -> (port, last seen). Looked up twice per frame; iterated
    /// only where order cannot matter (eviction takes a total minimum, `switch_table`
    /// sorts).
    mac_table: MacTable,
    mac_table_limit: usize,
    fcs_check: bool,
    pub(crate) counters: SwitchCounters,
}

/// One capture output: a classic pcap file, or a pcapng stream with an interface per
/// captured NIC or link.
enum CaptureWriter {
    Pcap(PcapWriter<Box<dyn Write>>),
    Pcapng(PcapngWriter<Box<dyn Write>>),
}

struct Capture {
    writer: CaptureWriter,
    error: Option<std::io::Error>,
}

/// A NIC's or link's feed into a capture: which output, and as which pcapng interface
/// (0 for classic pcap).
#[derive(Clone, Copy)]
struct Tap {
    capture: usize,
    interface: u32,
}

/// What a pcapng capture records, one interface each.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CapturePoint {
    Nic(NicId),
    Link(LinkId),
}

/// A name already in use, or a name that names nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Another node, switch or link has this name.
    Taken(String),
    /// No such node.
    UnknownNode(String),
    /// No such link.
    UnknownLink(String),
    /// The node has no factory to restart it with.
    NoFactory(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Taken(n) => write!(f, "name {n:?} is already taken"),
            NameError::UnknownNode(n) => write!(f, "no node named {n:?}"),
            NameError::UnknownLink(n) => write!(f, "no link named {n:?}"),
            NameError::NoFactory(n) => {
                write!(
                    f,
                    "node {n:?} was added without a factory, so it cannot restart"
                )
            }
        }
    }
}

impl std::error::Error for NameError {}

/// Bounds that keep one misbehaving endpoint from stalling a step.
const MAX_TX_POLLS_SLACK: usize = 64;
/// Frames a receive ring keeps room for after a drain much smaller than its capacity.
const RX_RING_KEEP: usize = 16;
/// Largest frame an endpoint can hand over (jumbo frames and then some).
const TX_BUF_LEN: usize = 65_536 + 18;
/// Frames in one train (`Arrivals`) at most; the next starts another.
const TRAIN_MAX_FRAMES: usize = 4096;
/// Emptied trains kept for the next ones (so a steady stream allocates nothing), and the
/// largest kept.
const SPARE_TRAINS: usize = 16;
const SPARE_TRAIN_MAX_FRAMES: usize = 1024;

pub(crate) struct World {
    pub(crate) now: Instant,
    pub(crate) seed: Seed,
    queue: EventQueue<Event>,
    pub(crate) nodes: Vec<NodeSlot>,
    pub(crate) nics: Vec<Nic>,
    pub(crate) links: Vec<LinkState>,
    pub(crate) switches: Vec<Switch>,
    pub(crate) node_names: BTreeMap<String, NodeId>,
    link_names: BTreeMap<String, LinkId>,
    switch_names: BTreeMap<String, SwitchId>,
    /// Node partitions: frames from `.0` to `.1` are dropped on arrival.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Held pairs: frames from `.0` to `.1` wait at the receiving NIC until released.
    held_pairs: BTreeSet<(NodeId, NodeId)>,
    /// The frames held for a pair, with the NIC they arrived at, in arrival order.
    pair_held: Vec<(NicId, Frame)>,
    next_frame_id: u64,
    tracer: Tracer,
    captures: Vec<Capture>,
    pub(crate) drops: BTreeMap<DropReason, u64>,
    tx_buf: Vec<u8>,
    /// Scratch for `service_node`: the frames a node handed over (`None` only while one is
    /// being written into its slot), and counts per NIC.
    tx_frames: Vec<(usize, Option<FrameBytes>)>,
    /// Buffers of frames that are done with, for the next frames.
    pub(crate) frame_pool: FramePool,
    tx_per_nic: Vec<usize>,
    /// Emptied trains of arrivals, for the next ones.
    spare_trains: Vec<Vec<Frame>>,
    /// While an `Arrive` event is handled: whether a NIC's drain is to be scheduled at its
    /// end, and which (see `process_next`).
    defer_drain: bool,
    deferred_drain: Option<NicId>,
    /// FCS checking for NICs and switches created from now on.
    pub(crate) default_fcs_check: bool,
    pub(crate) default_ring_frames: usize,
    pub(crate) default_mac_table_limit: usize,
    /// The simulation's DNS: host names (and aliases) to addresses, for `Sim::addr` and
    /// for tasks resolving names (`net::lookup_host`).
    pub(crate) dns: BTreeMap<String, Ipv4Addr>,
    /// The tasks waiting on the world (the executor's tables, woken from here).
    pub(crate) waits: crate::exec::Waits,
    /// Scratch for `Endpoint::drain_changed`.
    changed_keys: Vec<u64>,
    /// Nodes that crashed since the executor last looked (their tasks must go).
    pub(crate) crashed: Vec<NodeId>,
    /// Nodes restarted since the executor last looked (their software must start again).
    pub(crate) restarted: Vec<NodeId>,
    /// Tasks spawned from inside tasks, picked up by the executor.
    pub(crate) spawned: Vec<crate::exec::NewTask>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("seed", &self.seed)
            .field("nodes", &self.nodes.len())
            .field("queued_events", &self.queue.len())
            .finish()
    }
}

impl World {
    pub(crate) fn new(seed: Seed) -> World {
        set_sim_time(Instant::ZERO);
        World {
            now: Instant::ZERO,
            seed,
            queue: EventQueue::new(),
            nodes: Vec::new(),
            nics: Vec::new(),
            links: Vec::new(),
            switches: Vec::new(),
            node_names: BTreeMap::new(),
            link_names: BTreeMap::new(),
            switch_names: BTreeMap::new(),
            blocked: BTreeSet::new(),
            held_pairs: BTreeSet::new(),
            pair_held: Vec::new(),
            next_frame_id: 0,
            tracer: Tracer::new(),
            captures: Vec::new(),
            drops: BTreeMap::new(),
            tx_buf: vec![0; TX_BUF_LEN],
            tx_frames: Vec::new(),
            frame_pool: FramePool::default(),
            tx_per_nic: Vec::new(),
            spare_trains: Vec::new(),
            defer_drain: false,
            deferred_drain: None,
            default_fcs_check: true,
            default_ring_frames: 1024,
            default_mac_table_limit: 1024,
            dns: BTreeMap::new(),
            waits: crate::exec::Waits::default(),
            changed_keys: Vec::new(),
            crashed: Vec::new(),
            restarted: Vec::new(),
            spawned: Vec::new(),
        }
    }

    // ----- the queue -----

    pub(crate) fn schedule(&mut self, at: Instant, event: Event) {
        let at = at.max(self.now);
        self.queue.push(at, event);
    }

    /// Schedules `frame`'s arrival at the far end of a link direction. When the event
    /// scheduled last is an arrival on the same direction at the same instant, the frame
    /// joins it (a train, `Arrivals`): handling the two in one event is handling them in
    /// two adjacent ones, since nothing could come between them and an arrival wakes no task
    /// (a NIC's delivery is an event of its own, `RxDrain`, after them).
    ///
    /// Inlined: called with a frame just built, out of line it took the frame through the
    /// stack, written eight bytes at a time and read back sixteen at a time (a
    /// store-forwarding stall: a quarter of its samples, `perf annotate`).
    #[inline(always)]
    fn schedule_arrival(&mut self, at: Instant, link: LinkId, dir: usize, frame: Frame) {
        let at = at.max(self.now);
        let link_dir = u32::try_from(2 * link.0 + dir).expect("fewer than 2^31 links");
        if let Some(Event::Arrive {
            link_dir: last,
            frames,
        }) = self.queue.last_pushed_mut(at)
        {
            if *last == link_dir {
                if let Arrivals::One(_) = frames {
                    // The second frame: the event becomes a train (of a spare vector).
                    let spare = Arrivals::Train(self.spare_trains.pop().unwrap_or_default());
                    if let Arrivals::One(first) = std::mem::replace(frames, spare) {
                        if let Arrivals::Train(train) = frames {
                            train.push(first);
                        }
                    }
                }
                if let Arrivals::Train(train) = frames {
                    if train.len() < TRAIN_MAX_FRAMES {
                        return train.push(frame);
                    }
                }
            }
        }
        let frames = Arrivals::One(frame);
        self.queue.push(at, Event::Arrive { link_dir, frames });
    }

    pub(crate) fn next_event_time(&self) -> Option<Instant> {
        self.queue.peek_time()
    }

    /// Advances the clock to the next event and handles it.
    pub(crate) fn process_next(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else {
            return false;
        };
        debug_assert!(
            at >= self.now,
            "the clock never goes backwards: an event at {at} with the clock at {}",
            self.now
        );
        self.set_now(at);
        match event {
            Event::NodeTimer { node, generation } => self.on_node_timer(node, generation),
            Event::Arrive { link_dir, frames } => {
                let (link, dir) = (LinkId(link_dir as usize / 2), link_dir as usize % 2);
                self.defer_drain = true;
                match frames {
                    Arrivals::One(frame) => self.on_arrive(link, dir, frame),
                    Arrivals::Train(mut train) => {
                        self.on_arrive_train(link, dir, &mut train);
                        if self.spare_trains.len() < SPARE_TRAINS
                            && train.capacity() <= SPARE_TRAIN_MAX_FRAMES
                        {
                            self.spare_trains.push(train);
                        }
                    }
                }
                self.defer_drain = false;
                if let Some(nic) = self.deferred_drain.take() {
                    self.drain_or_schedule(nic);
                }
            }
            Event::RxDrain { nic } => self.on_rx_drain(nic),
            Event::Fault { change } => self.apply_change(&change),
            Event::TaskTimer { key } => self.waits.fire_timer(key),
        }
        true
    }

    /// The end of an `Arrive` event that put frames in `nic`'s receive ring: its drain,
    /// which goes in the queue behind everything already due now. When nothing is (the
    /// queue's next event is later), the drain would be the very next event, and it is
    /// handled here instead of being queued and popped: the same order, one step fewer.
    /// Nothing can come between them: an arrival wakes no task, and a host's tick due now
    /// runs after the events due now. The events of a NIC-bound arrival schedule nothing
    /// else (only `nic_receive` runs), so the drain, scheduled at the event's end rather
    /// than at its first frame, keeps its place.
    fn drain_or_schedule(&mut self, nic: NicId) {
        let now = self.now;
        if self.queue.peek_time().is_some_and(|t| t <= now) {
            self.schedule(now, Event::RxDrain { nic });
        } else {
            self.on_rx_drain(nic);
        }
    }

    pub(crate) fn set_now(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        set_sim_time(self.now);
    }

    // ----- trace -----

    fn trace(&mut self, rec: &Rec<'_>) {
        self.tracer.record(self.now.as_nanos(), rec);
    }

    pub(crate) fn set_trace_writer(&mut self, w: Box<dyn Write>) {
        self.tracer.set_writer(w);
    }

    pub(crate) fn trace_hash(&self) -> TraceHash {
        self.tracer.hash()
    }

    pub(crate) fn trace_records(&self) -> u64 {
        self.tracer.records()
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        self.tracer.fingerprint()
    }

    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.tracer.flush()?;
        for c in &mut self.captures {
            if let Some(e) = c.error.take() {
                return Err(e);
            }
            match &mut c.writer {
                CaptureWriter::Pcap(w) => w.flush()?,
                CaptureWriter::Pcapng(w) => w.flush()?,
            }
        }
        Ok(())
    }

    fn count_drop(&mut self, at: Place, frame: u64, reason: DropReason) {
        *self.drops.entry(reason).or_insert(0) += 1;
        let at = match at {
            Place::Dir(link, dir) => At::Dir(dir_named(&self.links, link, dir)),
            Place::Nic(node, index) => At::Nic(node_named(&self.nodes, node), index),
            Place::Switch(sw) => At::Switch(Named::new(sw.0, &self.switches[sw.0].name)),
        };
        tracing::debug!(frame, %reason, at = %at, "drop");
        self.tracer
            .record(self.now.as_nanos(), &Rec::Dropped { at, frame, reason });
    }

    /// A frame a link direction drops: counted, traced, and on the link's captures with a
    /// comment saying why (the far end never saw it).
    fn drop_on_link(
        &mut self,
        link: LinkId,
        dir: usize,
        frame: Frame,
        sent: Option<SentFrom>,
        reason: DropReason,
    ) {
        if let Some(from) = sent {
            record_sent_alone(&mut self.tracer, &self.nodes, self.now, from, &frame);
        }
        if !self.links[link.0].captures.is_empty() {
            let comment =
                format!("sansnet: dropped on the wire ({reason}); the far end never saw it");
            self.capture_link(link, &frame.bytes, Some(&comment));
        }
        self.count_drop(Place::Dir(link, dir), frame.id(), reason);
        self.frame_pool.recycle(frame.bytes);
    }

    /// Records a frame on a link's taps, as it left the link (or where the link dropped it).
    fn capture_link(&mut self, link: LinkId, bytes: &[u8], comment: Option<&str>) {
        let captures = self.links[link.0].captures.clone();
        self.capture(&captures, bytes, pcapng::Direction::Unknown, comment);
    }

    /// Records a frame on every tap; `direction` is the NIC's (links pass `Unknown`), the
    /// comment what a pcap reader should know about it (pcapng only).
    fn capture(
        &mut self,
        taps: &[Tap],
        bytes: &[u8],
        direction: pcapng::Direction,
        comment: Option<&str>,
    ) {
        let now = self.now;
        for tap in taps {
            let c = &mut self.captures[tap.capture];
            if c.error.is_none() {
                let written = match &mut c.writer {
                    CaptureWriter::Pcap(w) => w.write_frame(now, bytes),
                    CaptureWriter::Pcapng(w) => {
                        w.write_packet_with_comment(tap.interface, now, bytes, direction, comment)
                    }
                };
                if let Err(e) = written {
                    c.error = Some(e);
                }
            }
        }
    }

    pub(crate) fn add_capture_nic(
        &mut self,
        nic: NicId,
        out: Box<dyn Write>,
    ) -> std::io::Result<()> {
        let tap = self.new_capture(CaptureWriter::Pcap(PcapWriter::new(out)?));
        self.nics[nic.0].captures.push(tap);
        Ok(())
    }

    pub(crate) fn add_capture_link(
        &mut self,
        link: LinkId,
        out: Box<dyn Write>,
    ) -> std::io::Result<()> {
        let tap = self.new_capture(CaptureWriter::Pcap(PcapWriter::new(out)?));
        self.links[link.0].captures.push(tap);
        Ok(())
    }

    /// One pcapng stream for all of `points`, interface `i` being `points[i]`. Unknown or
    /// repeated points are an `InvalidInput` error, and nothing is written then.
    pub(crate) fn add_capture_pcapng(
        &mut self,
        points: &[CapturePoint],
        out: Box<dyn Write>,
    ) -> std::io::Result<()> {
        let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let mut seen = BTreeSet::new();
        for &p in points {
            let (exists, key) = match p {
                CapturePoint::Nic(n) => (n.0 < self.nics.len(), (0, n.0)),
                CapturePoint::Link(l) => (l.0 < self.links.len(), (1, l.0)),
            };
            if !exists {
                return Err(invalid(format!("no such capture point: {p:?}")));
            }
            if !seen.insert(key) {
                return Err(invalid(format!("captured twice in one pcapng: {p:?}")));
            }
        }
        let mut w = PcapngWriter::new(out)?;
        let mut taps = Vec::with_capacity(points.len());
        for &p in points {
            let interface = match p {
                CapturePoint::Nic(n) => w.add_interface(&self.attach_name(Attach::Nic(n)), None)?,
                CapturePoint::Link(l) => {
                    let link = &self.links[l.0];
                    let ends = link.ends.map(|e| self.port_name(e));
                    let ends = format!("{} <-> {}", ends[0], ends[1]);
                    w.add_interface(&link.name, Some(&ends))?
                }
            };
            taps.push((p, interface));
        }
        let capture = self.new_capture(CaptureWriter::Pcapng(w)).capture;
        for (p, interface) in taps {
            let tap = Tap { capture, interface };
            match p {
                CapturePoint::Nic(n) => self.nics[n.0].captures.push(tap),
                CapturePoint::Link(l) => self.links[l.0].captures.push(tap),
            }
        }
        Ok(())
    }

    /// A link end's name, as in default link names (`node/nic0`, `switch/port2`).
    fn port_name(&self, port: Port) -> String {
        match port {
            Port::Nic(n) => self.attach_name(Attach::Nic(n)),
            Port::Switch(s, index) => format!("{}/port{index}", self.switches[s.0].name),
        }
    }

    fn new_capture(&mut self, writer: CaptureWriter) -> Tap {
        self.captures.push(Capture {
            writer,
            error: None,
        });
        Tap {
            capture: self.captures.len() - 1,
            interface: 0,
        }
    }

    // ----- topology -----

    fn check_name_free(&self, name: &str) -> Result<(), NameError> {
        if self.node_names.contains_key(name)
            || self.switch_names.contains_key(name)
            || self.link_names.contains_key(name)
        {
            return Err(NameError::Taken(name.to_owned()));
        }
        Ok(())
    }

    pub(crate) fn mac_for(&self, node: &str, nic: usize) -> EthernetAddress {
        crate::naming::mac_for(node, nic)
    }

    pub(crate) fn add_node(
        &mut self,
        name: &str,
        nic_count: usize,
        endpoint: Option<Box<dyn Endpoint>>,
        factory: Option<NodeFactory>,
    ) -> Result<NodeId, NameError> {
        self.check_name_free(name)?;
        let id = NodeId(self.nodes.len());
        let mut nics = Vec::with_capacity(nic_count);
        for index in 0..nic_count {
            let mac = self.mac_for(name, index);
            debug_assert!(
                self.nics.iter().all(|n| n.mac != mac),
                "MAC collision; rename a node"
            );
            nics.push(NicId(self.nics.len()));
            self.nics.push(Nic {
                node: id,
                index,
                mac,
                link: None,
                rx_ring: VecDeque::new(),
                rx_drain_scheduled: false,
                rx_ring_frames: self.default_ring_frames,
                tx_ring_frames: self.default_ring_frames,
                fcs_check: self.default_fcs_check,
                captures: Vec::new(),
                counters: NicCounters::default(),
            });
        }
        self.nodes.push(NodeSlot {
            name: name.to_owned(),
            endpoint: None,
            factory,
            nics,
            timer_generation: 0,
            timer_deadline: None,
            incarnation: 0,
            span: tracing::info_span!("node", name = %name),
        });
        self.node_names.insert(name.to_owned(), id);
        match endpoint {
            Some(ep) => self.nodes[id.0].endpoint = Some(ep),
            None => self.build_node(id),
        }
        self.service_node(id);
        Ok(id)
    }

    fn node_ctx(&self, node: NodeId) -> NodeCtx {
        let slot = &self.nodes[node.0];
        NodeCtx {
            name: slot.name.clone(),
            macs: slot.nics.iter().map(|n| self.nics[n.0].mac).collect(),
            seed: self
                .seed
                .derive_u64(&format!("host/{}/{}", slot.name, slot.incarnation)),
            incarnation: slot.incarnation,
            now: self.now,
        }
    }

    fn build_node(&mut self, node: NodeId) {
        let ctx = self.node_ctx(node);
        let slot = &mut self.nodes[node.0];
        if let Some(factory) = slot.factory.as_mut() {
            let span = slot.span.clone();
            let _entered = span.enter();
            slot.endpoint = Some(factory(&ctx));
        }
    }

    pub(crate) fn add_switch(&mut self, name: &str) -> Result<SwitchId, NameError> {
        self.check_name_free(name)?;
        let id = SwitchId(self.switches.len());
        self.switches.push(Switch {
            name: name.to_owned(),
            ports: Vec::new(),
            mac_table: MacTable::with_hasher(FxBuildHasher::with_seed(0)),
            mac_table_limit: self.default_mac_table_limit,
            fcs_check: self.default_fcs_check,
            counters: SwitchCounters::default(),
        });
        self.switch_names.insert(name.to_owned(), id);
        Ok(id)
    }

    fn attach_name(&self, a: Attach) -> String {
        match a {
            Attach::Nic(n) => {
                let nic = &self.nics[n.0];
                format!("{}/nic{}", self.nodes[nic.node.0].name, nic.index)
            }
            Attach::Switch(s) => {
                let sw = &self.switches[s.0];
                format!("{}/port{}", sw.name, sw.ports.len())
            }
        }
    }

    /// Joins `a` to `b`. Panics if a NIC is attached twice: that is a topology bug.
    pub(crate) fn connect(
        &mut self,
        a: Attach,
        b: Attach,
        faults: LinkFaults,
        name: Option<&str>,
    ) -> Result<LinkId, NameError> {
        let (a_name, b_name) = (self.attach_name(a), self.attach_name(b));
        let name = name.map_or_else(|| format!("{a_name}<->{b_name}"), str::to_owned);
        self.check_name_free(&name)?;
        let id = LinkId(self.links.len());
        let attach = |w: &mut World, at: Attach, out_dir: usize| -> Port {
            match at {
                Attach::Nic(n) => {
                    assert!(w.nics[n.0].link.is_none(), "NIC attached twice");
                    w.nics[n.0].link = Some((id, out_dir));
                    Port::Nic(n)
                }
                Attach::Switch(s) => {
                    let sw = &mut w.switches[s.0];
                    sw.ports.push((id, out_dir));
                    Port::Switch(s, sw.ports.len() - 1)
                }
            }
        };
        let ends = [attach(self, a, 0), attach(self, b, 1)];
        let dir = |label: String| DirState {
            rng: None,
            name: format!("{name}:{label}"),
            fast: FastPath::of(&faults),
            faults: faults.clone(),
            burst_bad: false,
            in_queue: VecDeque::new(),
            queued_bytes: 0,
            fifo_floor: Instant::ZERO,
            clogged: false,
            held: Vec::new(),
            counters: LinkCounters::default(),
        };
        let dirs = [
            dir(format!("{a_name}->{b_name}")),
            dir(format!("{b_name}->{a_name}")),
        ];
        self.links.push(LinkState {
            name: name.clone(),
            ends,
            dirs,
            captures: Vec::new(),
        });
        self.link_names.insert(name, id);
        Ok(id)
    }

    pub(crate) fn link_by_name(&self, name: &str) -> Result<LinkId, NameError> {
        self.link_names
            .get(name)
            .copied()
            .ok_or_else(|| NameError::UnknownLink(name.to_owned()))
    }

    pub(crate) fn node_by_name(&self, name: &str) -> Result<NodeId, NameError> {
        self.node_names
            .get(name)
            .copied()
            .ok_or_else(|| NameError::UnknownNode(name.to_owned()))
    }

    pub(crate) fn switch_by_name(&self, name: &str) -> Option<SwitchId> {
        self.switch_names.get(name).copied()
    }

    pub(crate) fn link_counters(&self, link: LinkId, dir: usize) -> LinkCounters {
        self.links[link.0].dirs[dir].counters
    }

    pub(crate) fn link_faults(&self, link: LinkId, dir: usize) -> &LinkFaults {
        &self.links[link.0].dirs[dir].faults
    }

    pub(crate) fn switch_table(&self, sw: SwitchId) -> Vec<(EthernetAddress, usize)> {
        let mut table: Vec<(u64, usize)> = self.switches[sw.0]
            .mac_table
            .iter()
            .map(|(&mac, &(port, _))| (mac, port))
            .collect();
        table.sort_unstable();
        table
            .into_iter()
            .map(|(mac, port)| (mac_from_key(mac), port))
            .collect()
    }

    pub(crate) fn set_mac_table_limit(&mut self, sw: SwitchId, limit: usize) {
        self.switches[sw.0].mac_table_limit = limit.max(1);
    }

    pub(crate) fn set_fcs_check_all(&mut self, on: bool) {
        self.default_fcs_check = on;
        for nic in &mut self.nics {
            nic.fcs_check = on;
        }
        for sw in &mut self.switches {
            sw.fcs_check = on;
        }
    }

    // ----- nodes -----

    /// After any interaction with a node: drain its frames, re-read its deadline, wake the
    /// tasks waiting on it.
    pub(crate) fn service_node(&mut self, node: NodeId) {
        self.service_node_then_wake(node, true);
    }

    /// [`service_node`](Self::service_node), waking the node's waiters only if `wake`.
    fn service_node_then_wake(&mut self, node: NodeId, wake: bool) {
        let now = self.now;
        let slot = &mut self.nodes[node.0];
        let Some(ep) = slot.endpoint.as_mut() else {
            return;
        };
        let span = slot.span.clone();
        let _entered = span.enter();
        let ring_total: usize = slot
            .nics
            .iter()
            .map(|n| self.nics[n.0].tx_ring_frames)
            .sum();
        // Reused across calls (nothing below re-enters this function).
        let mut out = std::mem::take(&mut self.tx_frames);
        // An endpoint that says how long its frames can be writes each into the buffer it
        // travels in; others write into `tx_buf`, and each frame is copied out.
        let direct = ep.max_frame_len();
        // Bounded: a node that never stops transmitting overflows its rings, then waits.
        while out.len() < ring_total + MAX_TX_POLLS_SLACK {
            if let Some(mut w) = direct.and_then(|len| self.frame_pool.writable(len)) {
                let polled = match w.vec_mut() {
                    Some(v) => ep.poll_transmit_vec(now, v),
                    None => ep.poll_transmit(now, w.bytes_mut()),
                };
                match polled {
                    Some((nic, len)) => {
                        // The slot first, then the bytes written into it: a pair pushed
                        // whole was built on the stack around `push`'s possible growth and
                        // copied in with wider loads than the stores that built it, which
                        // waited on them (a store-forwarding stall: 1.3% of the
                        // samples of a lossy transfer in the simulator).
                        out.push((nic, None));
                        let bytes = self.frame_pool.written(w, len);
                        if let Some((_, slot)) = out.last_mut() {
                            *slot = Some(bytes);
                        }
                    }
                    None => {
                        self.frame_pool.unused(w);
                        break;
                    }
                }
                continue;
            }
            match ep.poll_transmit(now, &mut self.tx_buf) {
                Some((nic, len)) => out.push((
                    nic,
                    Some(self.frame_pool.copy_of(&self.tx_buf[..len.min(TX_BUF_LEN)])),
                )),
                None => break,
            }
        }
        let deadline = ep.poll_timeout();
        let mut changed = std::mem::take(&mut self.changed_keys);
        changed.clear();
        let tracked = ep.drain_changed(&mut changed);
        if deadline != slot.timer_deadline {
            slot.timer_generation += 1;
            slot.timer_deadline = deadline;
            if let Some(at) = deadline {
                let generation = slot.timer_generation;
                self.schedule(at, Event::NodeTimer { node, generation });
            }
        }
        let mut per_nic = std::mem::take(&mut self.tx_per_nic);
        per_nic.clear();
        per_nic.resize(self.nodes[node.0].nics.len(), 0);
        for (index, bytes) in out.drain(..) {
            // Never `None` here: the loop above fills each slot right after pushing it.
            let bytes = bytes.expect("a frame slot is filled as it is pushed");
            let Some(&nic) = self.nodes[node.0].nics.get(index) else {
                let frame = self.new_frame(node, bytes);
                self.count_drop(Place::Nic(node, index), frame.id(), DropReason::NoSuchNic);
                continue;
            };
            per_nic[index] += 1;
            if per_nic[index] > self.nics[nic.0].tx_ring_frames {
                let frame = self.new_frame(node, bytes);
                self.nics[nic.0].counters.tx_ring_dropped += 1;
                self.count_drop(Place::Nic(node, index), frame.id(), DropReason::TxRingFull);
                continue;
            }
            self.nic_send(nic, node, bytes);
        }
        self.tx_frames = out;
        self.tx_per_nic = per_nic;
        // After a call that would block, what changed is the caller's own attempt: nobody
        // is woken (see `with_endpoint_waking`).
        if wake {
            self.waits.wake_node(node);
            if tracked {
                self.waits.wake_keys(node, &changed);
            } else {
                self.waits.wake_all_keys(node);
            }
        }
        self.changed_keys = changed;
    }

    fn new_frame(&mut self, origin: NodeId, bytes: FrameBytes) -> Frame {
        self.next_frame_id += 1;
        debug_assert!(self.next_frame_id < Frame::FCS_BAD);
        Frame {
            id_fcs: self.next_frame_id,
            origin,
            bytes,
        }
    }

    fn on_node_timer(&mut self, node: NodeId, generation: u64) {
        let now = self.now;
        let slot = &mut self.nodes[node.0];
        if slot.timer_generation != generation {
            return; // superseded by a later poll_timeout
        }
        let Some(ep) = slot.endpoint.as_mut() else {
            return;
        };
        slot.timer_deadline = None;
        let span = slot.span.clone();
        {
            let _entered = span.enter();
            ep.handle_timeout(now);
        }
        self.service_node(node);
    }

    /// Runs `f` on a node's endpoint, then services the node. `None` if the node is crashed.
    pub(crate) fn with_endpoint<R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut dyn Endpoint, Instant) -> R,
    ) -> Option<R> {
        self.with_endpoint_waking(node, f, |_| true)
    }

    /// [`with_endpoint`](Self::with_endpoint), waking the tasks that wait on the node only
    /// if `wakes(&result)`: a call that changed nothing (a "would block") must not count as
    /// activity, or two tasks blocked on one node would wake each other forever at one
    /// instant.
    pub(crate) fn with_endpoint_waking<R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut dyn Endpoint, Instant) -> R,
        wakes: impl FnOnce(&R) -> bool,
    ) -> Option<R> {
        let now = self.now;
        let slot = &mut self.nodes[node.0];
        let span = slot.span.clone();
        let ep = slot.endpoint.as_mut()?;
        let r = {
            let _entered = span.enter();
            f(ep.as_mut(), now)
        };
        let wake = wakes(&r);
        self.service_node_then_wake(node, wake);
        Some(r)
    }

    pub(crate) fn crash(&mut self, node: NodeId) {
        let slot = &mut self.nodes[node.0];
        if slot.endpoint.take().is_none() {
            return;
        }
        slot.timer_generation += 1;
        slot.timer_deadline = None;
        let nics = slot.nics.clone();
        for nic in nics {
            let dropped: Vec<Frame> = self.nics[nic.0].rx_ring.drain(..).collect();
            let index = self.nics[nic.0].index;
            for f in dropped {
                self.nics[nic.0].counters.host_down_dropped += 1;
                self.count_drop(Place::Nic(node, index), f.id(), DropReason::HostDown);
            }
        }
        self.crashed.push(node);
        self.tracer.record(
            self.now.as_nanos(),
            &Rec::Crashed {
                node: node_named(&self.nodes, node),
            },
        );
        self.waits.wake_node(node);
        self.waits.wake_all_keys(node);
    }

    pub(crate) fn restart(&mut self, node: NodeId) -> Result<(), NameError> {
        if self.nodes[node.0].factory.is_none() {
            return Err(NameError::NoFactory(self.nodes[node.0].name.clone()));
        }
        self.crash(node);
        self.nodes[node.0].incarnation += 1;
        self.build_node(node);
        self.restarted.push(node);
        self.tracer.record(
            self.now.as_nanos(),
            &Rec::Restarted {
                node: node_named(&self.nodes, node),
                incarnation: self.nodes[node.0].incarnation,
            },
        );
        self.service_node(node);
        Ok(())
    }

    /// Drops every frame from `from` to `to` (and back when `two_way`) from now on.
    pub(crate) fn partition_pair(&mut self, from: NodeId, to: NodeId, two_way: bool) {
        self.blocked.insert((from, to));
        if two_way {
            self.blocked.insert((to, from));
        }
    }

    /// Ends the partition of frames from `from` to `to` (and back when `two_way`).
    pub(crate) fn repair_pair(&mut self, from: NodeId, to: NodeId, two_way: bool) {
        self.blocked.remove(&(from, to));
        if two_way {
            self.blocked.remove(&(to, from));
        }
    }

    /// Holds every frame from `a` to `b` (and back) at the receiving NIC from now on, until
    /// [`release`](Self::release): none is lost, all arrive late.
    pub(crate) fn hold(&mut self, a: NodeId, b: NodeId) {
        self.held_pairs.insert((a, b));
        self.held_pairs.insert((b, a));
    }

    /// Ends a [`hold`](Self::hold): the frames held between `a` and `b` arrive now, in the
    /// order they first arrived.
    pub(crate) fn release(&mut self, a: NodeId, b: NodeId) {
        self.held_pairs.remove(&(a, b));
        self.held_pairs.remove(&(b, a));
        let held = std::mem::take(&mut self.pair_held);
        for (nic, frame) in held {
            let pair = (frame.origin, self.nics[nic.0].node);
            if self.held_pairs.contains(&pair) {
                self.pair_held.push((nic, frame));
            } else {
                // Late, at a time no record of the frame says: recorded.
                let n = &self.nics[nic.0];
                self.tracer.record(
                    self.now.as_nanos(),
                    &Rec::Delivered {
                        node: node_named(&self.nodes, n.node),
                        nic: n.index,
                        frame: frame.id(),
                        len: frame.bytes.len(),
                    },
                );
                self.nic_receive(nic, frame);
            }
        }
    }

    pub(crate) fn is_up(&self, node: NodeId) -> bool {
        self.nodes[node.0].endpoint.is_some()
    }

    // ----- frames -----

    /// Sends `bytes`, a frame `origin` just handed over, out of `nic`. The frame is made
    /// here, not passed in: see `link_ingress`.
    fn nic_send(&mut self, nic: NicId, origin: NodeId, bytes: FrameBytes) {
        let frame = self.new_frame(origin, bytes);
        let n = &mut self.nics[nic.0];
        n.counters.tx_frames += 1;
        let (node, index, link) = (n.node, n.index, n.link);
        if !self.nics[nic.0].captures.is_empty() {
            let captures = self.nics[nic.0].captures.clone();
            self.capture(&captures, &frame.bytes, pcapng::Direction::Outbound, None);
        }
        // The `sent` record is the link's to make: with the link's part when the link takes
        // the frame as it is, which is one record for the frame instead of two.
        let from = SentFrom { node, nic: index };
        match link {
            Some((link, dir)) => self.link_ingress(link, dir, frame, Some(from)),
            None => {
                record_sent_alone(&mut self.tracer, &self.nodes, self.now, from, &frame);
                self.count_drop(Place::Nic(node, index), frame.id(), DropReason::NoLink)
            }
        }
    }

    /// A frame enters one direction of a link: MTU, queue and serialisation, loss,
    /// corruption, latency, reordering, duplication, in that order. Each kind draws from
    /// its own stream (`FaultRngs`), in frame order: part of the replay contract. `sent`
    /// when a node's NIC sent it just now: its `sent` record is made here, first, and says
    /// which link took it when the link took it as it was.
    ///
    /// Inlined, and the frame taken apart: a frame built just before (a NIC's, a switch's
    /// copy) and passed whole went through the stack, where wider loads read it back
    /// before the narrower stores that built it were done (a store-forwarding stall: 1.3%
    /// of the samples of a lossy transfer in the simulator). In parts it goes in registers.
    #[inline(always)]
    fn link_ingress(&mut self, link: LinkId, dir: usize, frame: Frame, sent: Option<SentFrom>) {
        let Frame {
            id_fcs,
            origin,
            bytes,
        } = frame;
        self.link_ingress_parts(link, dir, id_fcs, origin, bytes, sent);
    }

    fn link_ingress_parts(
        &mut self,
        link: LinkId,
        dir: usize,
        id_fcs: u64,
        origin: NodeId,
        bytes: FrameBytes,
        mut sent: Option<SentFrom>,
    ) {
        let now = self.now;
        let seed = self.seed;
        let LinkState {
            name: link_name,
            dirs,
            ..
        } = &mut self.links[link.0];
        let d = &mut dirs[dir];
        d.counters.offered += 1;
        if let Some(fast) = d.fast {
            // The frame stays in parts (registers) until it is queued: see `link_ingress`.
            if !fast.loss.is_never() {
                let rngs = d
                    .rng
                    .get_or_insert_with(|| FaultRngs::for_dir(seed, link_name, &d.name));
                if rngs.loss.chance(fast.loss) {
                    d.counters.lost += 1;
                    let frame = Frame {
                        id_fcs,
                        origin,
                        bytes,
                    };
                    return self.drop_on_link(link, dir, frame, sent, DropReason::Lost);
                }
            }
            let arrive = (now + fast.latency).max(d.fifo_floor);
            d.fifo_floor = arrive;
            let id = id_fcs & !Frame::FCS_BAD;
            self.transmit_record(link, dir, id, &bytes, sent, now, arrive);
            let frame = Frame {
                id_fcs,
                origin,
                bytes,
            };
            return self.schedule_arrival(arrive, link, dir, frame);
        }
        let mut frame = Frame {
            id_fcs,
            origin,
            bytes,
        };
        if d.faults.down {
            d.counters.down_dropped += 1;
            return self.drop_on_link(link, dir, frame, sent, DropReason::LinkDown);
        }
        let len = frame.bytes.len() as u64;
        if let Some(mtu) = d.faults.mtu_bytes {
            let header = EthernetFrame::new_checked(&frame.bytes[..])
                .map(|f| f.header_len())
                .unwrap_or(0) as u64;
            if len.saturating_sub(header) > u64::from(mtu) {
                d.counters.oversize += 1;
                return self.drop_on_link(link, dir, frame, sent, DropReason::Oversize);
            }
        }
        let depart = match d.faults.bandwidth_bps {
            Some(bps) if bps > 0 => {
                while let Some(&(done, bytes)) = d.in_queue.front() {
                    if done > now {
                        break;
                    }
                    d.queued_bytes -= bytes;
                    d.in_queue.pop_front();
                }
                if d.queued_bytes + len > d.faults.queue_limit_bytes {
                    d.counters.queue_dropped += 1;
                    return self.drop_on_link(link, dir, frame, sent, DropReason::QueueFull);
                }
                let start = d.in_queue.back().map_or(now, |&(done, _)| done.max(now));
                let serialise_ns = (u128::from(len) * 8 * 1_000_000_000).div_ceil(u128::from(bps));
                let done =
                    start + Duration::from_nanos(u64::try_from(serialise_ns).unwrap_or(u64::MAX));
                d.in_queue.push_back((done, len));
                d.queued_bytes += len;
                done
            }
            _ => now,
        };
        if d.rng.is_none() && d.faults.may_draw() {
            d.rng = Some(FaultRngs::for_dir(seed, link_name, &d.name));
        }
        // Only where the faults draw, which made the streams above.
        macro_rules! rng {
            () => {
                born(&mut d.rng)
            };
        }
        let lost = match d.faults.loss {
            LossModel::None => false,
            LossModel::Independent { rate } => rng!().loss.chance(rate),
            LossModel::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                let flip = if d.burst_bad {
                    bad_to_good
                } else {
                    good_to_bad
                };
                if rng!().loss.chance(flip) {
                    d.burst_bad = !d.burst_bad;
                }
                rng!().loss.chance(if d.burst_bad {
                    loss_in_bad
                } else {
                    loss_in_good
                })
            }
        };
        if lost {
            d.counters.lost += 1;
            return self.drop_on_link(link, dir, frame, sent, DropReason::Lost);
        }
        let mut corrupted_bit = None;
        if len > 0 && !d.faults.corrupt.is_never() && rng!().corrupt.chance(d.faults.corrupt) {
            let bit = rng!().corrupt.below(len * 8);
            if let Some(from) = sent.take() {
                // Recorded with the bytes as sent, before the flip.
                record_sent_alone(&mut self.tracer, &self.nodes, now, from, &frame);
            }
            let mut bytes = frame.bytes.to_vec();
            bytes[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            frame.bytes = FrameBytes::new(bytes);
            frame.set_fcs_bad(true);
            d.counters.corrupted += 1;
            corrupted_bit = Some(bit);
        }
        let duplicate =
            !d.faults.duplicate.is_never() && rng!().duplicate.chance(d.faults.duplicate);
        let mut arrive = depart + latency(&d.faults, &mut d.rng, Stream::Latency);
        let mut reordered = None;
        if !d.faults.reorder.is_never() && rng!().reorder.chance(d.faults.reorder) {
            arrive += d.faults.reorder_delay;
            d.counters.reordered += 1;
            reordered = Some(d.faults.reorder_delay);
        } else {
            arrive = arrive.max(d.fifo_floor);
            d.fifo_floor = arrive;
        }
        let copy_arrive = duplicate.then(|| {
            d.counters.duplicated += 1;
            (depart + latency(&d.faults, &mut d.rng, Stream::Duplicate)).max(d.fifo_floor)
        });
        let name = dir_named(&self.links, link, dir);
        if reordered.is_some() {
            if let Some(from) = sent.take() {
                record_sent_alone(&mut self.tracer, &self.nodes, now, from, &frame);
            }
        }
        if let Some(bit) = corrupted_bit {
            self.tracer.record(
                now.as_nanos(),
                &Rec::Corrupted {
                    link: name,
                    frame: frame.id(),
                    bit,
                },
            );
        }
        if let Some(extra) = reordered {
            self.tracer.record(
                now.as_nanos(),
                &Rec::Reordered {
                    link: name,
                    frame: frame.id(),
                    extra_ns: extra.as_nanos() as u64,
                },
            );
        }
        if let Some(copy_at) = copy_arrive {
            // The frame's own record first, then its copy's.
            let copy = self.new_frame(frame.origin, frame.bytes.clone());
            let id = frame.id();
            self.transmit_record(link, dir, id, &frame.bytes, sent, depart, arrive);
            self.duplicate(link, dir, id, copy, frame.fcs_bad(), copy_at);
            return self.schedule_arrival(arrive, link, dir, frame);
        }
        self.transmit_record(link, dir, frame.id(), &frame.bytes, sent, depart, arrive);
        self.schedule_arrival(arrive, link, dir, frame);
    }

    /// The record of a frame (`id`, `bytes`) a direction took, departing at `depart` and
    /// arriving at `arrive`: `sent`, with the link's part, for a frame a NIC sent just now,
    /// or `transmitted`, for a frame a switch forwarded.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn transmit_record(
        &mut self,
        link: LinkId,
        dir: usize,
        id: u64,
        bytes: &FrameBytes,
        sent: Option<SentFrom>,
        depart: Instant,
        arrive: Instant,
    ) {
        let now = self.now;
        let name = dir_named(&self.links, link, dir);
        let (depart_ns, arrive_ns) = (depart.as_nanos(), arrive.as_nanos());
        match sent {
            Some(from) => {
                let over = Over {
                    link: name,
                    depart_ns,
                    arrive_ns,
                };
                record_sent(
                    &mut self.tracer,
                    &self.nodes,
                    now,
                    from,
                    (id, bytes),
                    Some(over),
                );
            }
            None => self.tracer.record(
                now.as_nanos(),
                &Rec::Transmitted {
                    link: name,
                    frame: id,
                    depart_ns,
                    arrive_ns,
                },
            ),
        }
    }

    /// A duplicate's record and arrival.
    #[cold]
    fn duplicate(
        &mut self,
        link: LinkId,
        dir: usize,
        of: u64,
        mut copy: Frame,
        fcs_bad: bool,
        copy_at: Instant,
    ) {
        copy.set_fcs_bad(fcs_bad);
        self.tracer.record(
            self.now.as_nanos(),
            &Rec::Duplicated {
                link: dir_named(&self.links, link, dir),
                frame: of,
                copy: copy.id(),
            },
        );
        self.schedule_arrival(copy_at, link, dir, copy);
    }

    fn on_arrive(&mut self, link: LinkId, dir: usize, frame: Frame) {
        let l = &mut self.links[link.0];
        let dst = l.ends[1 - dir];
        let d = &mut l.dirs[dir];
        if d.clogged {
            d.counters.held += 1;
            let id = frame.id();
            d.held.push(frame);
            return self.tracer.record(
                self.now.as_nanos(),
                &Rec::Held {
                    link: dir_named(&self.links, link, dir),
                    frame: id,
                },
            );
        }
        if d.is_down() {
            d.counters.down_dropped += 1;
            return self.drop_on_link(link, dir, frame, None, DropReason::LinkDown);
        }
        d.counters.arrived += 1;
        d.counters.arrived_bytes += frame.bytes.len() as u64;
        if !self.links[link.0].captures.is_empty() {
            let comment = frame.fcs_bad().then_some(
                "sansnet: corrupted on the wire (a bit flipped; the frame check sequence does \
                 not match), captured as the far end received it",
            );
            self.capture_link(link, &frame.bytes, comment);
        }
        match dst {
            Port::Nic(nic) => self.nic_receive(nic, frame),
            Port::Switch(sw, port) => self.switch_receive(sw, port, frame),
        }
    }

    fn nic_receive(&mut self, nic: NicId, frame: Frame) {
        if !self.held_pairs.is_empty()
            && self
                .held_pairs
                .contains(&(frame.origin, self.nics[nic.0].node))
        {
            self.pair_held.push((nic, frame));
            return;
        }
        let n = &self.nics[nic.0];
        let node = n.node;
        let index = n.index;
        let reason = if self.nodes[node.0].endpoint.is_none() {
            Some(DropReason::HostDown)
        } else if frame.fcs_bad() && n.fcs_check {
            Some(DropReason::FcsError)
        } else if self.blocked.contains(&(frame.origin, node)) {
            Some(DropReason::Partitioned)
        } else if n.rx_ring.len() >= n.rx_ring_frames {
            Some(DropReason::RxRingFull)
        } else {
            None
        };
        if let Some(reason) = reason {
            let c = &mut self.nics[nic.0].counters;
            match reason {
                DropReason::HostDown => c.host_down_dropped += 1,
                DropReason::FcsError => c.fcs_dropped += 1,
                DropReason::Partitioned => c.partition_dropped += 1,
                _ => c.rx_ring_dropped += 1,
            }
            self.count_drop(Place::Nic(node, index), frame.id(), reason);
            return self.frame_pool.recycle(frame.bytes);
        }
        self.rx_ring_push(nic, frame);
    }

    /// A frame `nic` takes into its receive ring (room checked), and the ring's drain
    /// scheduled if it is not yet: at the end of the arrival being handled, if one is.
    #[inline(always)]
    fn rx_ring_push(&mut self, nic: NicId, frame: Frame) {
        let n = &mut self.nics[nic.0];
        n.rx_ring.push_back(frame);
        if !n.rx_drain_scheduled {
            n.rx_drain_scheduled = true;
            if self.defer_drain {
                debug_assert!(self.deferred_drain.is_none(), "an arrival has one end");
                self.deferred_drain = Some(nic);
            } else {
                let now = self.now;
                self.schedule(now, Event::RxDrain { nic });
            }
        }
    }

    /// A train's frames, each handled as `on_arrive` handles it. A train bound for a NIC
    /// through a direction with nothing to do but count (not clogged, not down, no capture
    /// on the link, no pair held or partitioned, the host up) has its lookups and checks
    /// made once for the train: none of them can change between two of its frames, which
    /// run no other code (a burst of 150 frames on a clean bulk transfer). A frame the NIC
    /// would drop (its check sequence bad, the ring full) goes the whole way,
    /// `nic_receive`, which counts and records the drop.
    fn on_arrive_train(&mut self, link: LinkId, dir: usize, train: &mut Vec<Frame>) {
        let l = &self.links[link.0];
        let d = &l.dirs[dir];
        let plain = !d.clogged
            && !d.is_down()
            && l.captures.is_empty()
            && self.held_pairs.is_empty()
            && self.blocked.is_empty();
        let nic = match l.ends[1 - dir] {
            Port::Nic(nic) if plain && self.nodes[self.nics[nic.0].node.0].endpoint.is_some() => {
                nic
            }
            _ => {
                for frame in train.drain(..) {
                    self.on_arrive(link, dir, frame);
                }
                return;
            }
        };
        for frame in train.drain(..) {
            let counters = &mut self.links[link.0].dirs[dir].counters;
            counters.arrived += 1;
            counters.arrived_bytes += frame.bytes.len() as u64;
            let n = &self.nics[nic.0];
            if frame.fcs_bad() && n.fcs_check || n.rx_ring.len() >= n.rx_ring_frames {
                self.nic_receive(nic, frame);
            } else {
                self.rx_ring_push(nic, frame);
            }
        }
    }

    fn on_rx_drain(&mut self, nic: NicId) {
        let now = self.now;
        let n = &mut self.nics[nic.0];
        n.rx_drain_scheduled = false;
        // Taken whole and handed back empty below, so draining allocates nothing.
        let mut frames = std::mem::take(&mut n.rx_ring);
        let (node, index, captures) = (n.node, n.index, n.captures.clone());
        if self.nodes[node.0].endpoint.is_none() {
            return;
        }
        // The node's span, entered once for the whole drain rather than once a frame:
        // nothing in the loop logs but the node.
        let span = self.nodes[node.0].span.clone();
        let entered = span.enter();
        let drained = frames.len();
        for frame in frames.drain(..) {
            // Not recorded: the frame arrives where and when its `sent` or `transmitted`
            // record said, in the order of the records (see `TraceEvent::Delivered`).
            self.nics[nic.0].counters.rx_frames += 1;
            if !captures.is_empty() {
                self.capture(&captures, &frame.bytes, pcapng::Direction::Inbound, None);
            }
            let holders = frame.bytes.holders();
            if let Some(ep) = self.nodes[node.0].endpoint.as_mut() {
                ep.handle_frame_shared(now, index, &frame.bytes);
            }
            let kept = frame.bytes.holders() > holders;
            self.frame_pool.recycle_delivered(frame.bytes, kept);
        }
        drop(entered);
        if self.nics[nic.0].rx_ring.is_empty() {
            // From its first slot again (the next frames land in the lines just used), and
            // no longer the size of a burst long past: a flood of ARP requests grows every
            // NIC of a rack to a hundred frames once, which a client never sees again.
            frames.clear();
            if frames.capacity() > RX_RING_KEEP.max(4 * drained) {
                frames.shrink_to(RX_RING_KEEP.max(2 * drained));
            }
            self.nics[nic.0].rx_ring = frames;
        }
        self.service_node(node);
    }

    fn switch_receive(&mut self, sw: SwitchId, port: usize, frame: Frame) {
        let now = self.now;
        let s = &mut self.switches[sw.0];
        if frame.fcs_bad() && s.fcs_check {
            s.counters.fcs_dropped += 1;
            return self.count_drop(Place::Switch(sw), frame.id(), DropReason::FcsError);
        }
        let Ok(eth) = EthernetFrame::new_checked(&frame.bytes[..]) else {
            return self.count_drop(Place::Switch(sw), frame.id(), DropReason::FcsError);
        };
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        let (src_key, dst_key) = (mac_key(src), mac_key(dst));
        if !src.is_unicast() {
            // Nothing to learn from a group source address.
        } else if let Some(entry) = s.mac_table.get_mut(&src_key) {
            // A known station: refresh in place (the per-frame case).
            *entry = (port, now);
        } else {
            if s.mac_table.len() >= s.mac_table_limit {
                // Evict the stalest entry (ties by address): bounded and deterministic.
                if let Some(victim) = s
                    .mac_table
                    .iter()
                    .min_by_key(|(mac, (_, seen))| (*seen, **mac))
                    .map(|(mac, _)| *mac)
                {
                    s.mac_table.remove(&victim);
                    s.counters.evicted += 1;
                }
            }
            s.mac_table.insert(src_key, (port, now));
        }
        let known = if dst.is_unicast() {
            s.mac_table.get(&dst_key).map(|&(p, _)| p)
        } else {
            None
        };
        // A known destination (the per-frame case) needs no vector; only a flood builds one.
        let one: [usize; 1];
        let all: Vec<usize>;
        let to_ports: &[usize] = match known {
            Some(p) if p == port => {
                s.counters.filtered += 1;
                return self.count_drop(Place::Switch(sw), frame.id(), DropReason::Filtered);
            }
            Some(p) => {
                s.counters.forwarded += 1;
                one = [p];
                &one
            }
            None => {
                s.counters.flooded += 1;
                all = (0..s.ports.len()).filter(|&p| p != port).collect();
                &all
            }
        };
        self.tracer.record(
            now.as_nanos(),
            &Rec::Switched {
                switch: Named::new(sw.0, &self.switches[sw.0].name),
                frame: frame.id(),
                from_port: port,
                to_ports,
                flood: known.is_none(),
            },
        );
        // The last port takes the frame itself; the others get copies (which share bytes).
        if let Some((&last, rest)) = to_ports.split_last() {
            for &p in rest {
                let (link, dir) = self.switches[sw.0].ports[p];
                self.link_ingress(link, dir, frame.clone(), None);
            }
            let (link, dir) = self.switches[sw.0].ports[last];
            self.link_ingress(link, dir, frame, None);
        }
    }

    // ----- faults -----

    /// Checks that every name in `change` exists, so a plan fails when it is loaded rather
    /// than in the middle of a run.
    pub(crate) fn validate_change(&self, change: &FaultChange) -> Result<(), NameError> {
        match change {
            FaultChange::SetLink { link, .. }
            | FaultChange::Clog { link, .. }
            | FaultChange::Unclog { link, .. } => self.link_by_name(link).map(drop),
            FaultChange::Partition { from, to, .. } => {
                for n in from.iter().chain(to) {
                    self.node_by_name(n)?;
                }
                Ok(())
            }
            FaultChange::Isolate { node } | FaultChange::Crash { node } => {
                self.node_by_name(node).map(drop)
            }
            FaultChange::Restart { node } => {
                let id = self.node_by_name(node)?;
                if self.nodes[id.0].factory.is_none() {
                    return Err(NameError::NoFactory(node.clone()));
                }
                Ok(())
            }
            FaultChange::Heal => Ok(()),
        }
    }

    pub(crate) fn schedule_change(&mut self, at: Instant, change: FaultChange) {
        self.schedule(
            at,
            Event::Fault {
                change: Box::new(change),
            },
        );
    }

    /// Applies a validated change now. Unknown names (impossible after validation) are
    /// logged and ignored rather than aborting a run.
    pub(crate) fn apply_change(&mut self, change: &FaultChange) {
        if let Err(e) = self.validate_change(change) {
            tracing::warn!(%e, "fault change ignored");
            return;
        }
        self.trace(&Rec::Fault { change });
        match change {
            FaultChange::SetLink {
                link,
                direction,
                faults,
            } => {
                let Ok(id) = self.link_by_name(link) else {
                    return;
                };
                for &dir in direction.indices() {
                    self.links[id.0].dirs[dir].set_faults(faults.clone());
                }
            }
            FaultChange::Clog { link, direction } => {
                let Ok(id) = self.link_by_name(link) else {
                    return;
                };
                for &dir in direction.indices() {
                    self.links[id.0].dirs[dir].clogged = true;
                }
            }
            FaultChange::Unclog { link, direction } => {
                let Ok(id) = self.link_by_name(link) else {
                    return;
                };
                let now = self.now;
                for &dir in direction.indices() {
                    let d = &mut self.links[id.0].dirs[dir];
                    d.clogged = false;
                    let held = std::mem::take(&mut d.held);
                    for frame in held {
                        self.schedule_arrival(now, id, dir, frame);
                    }
                }
            }
            FaultChange::Partition { from, to, two_way } => {
                let ids = |names: &[String]| -> Vec<NodeId> {
                    names
                        .iter()
                        .filter_map(|n| self.node_by_name(n).ok())
                        .collect()
                };
                let (from, to) = (ids(from), ids(to));
                for &a in &from {
                    for &b in &to {
                        if a != b {
                            self.partition_pair(a, b, *two_way);
                        }
                    }
                }
            }
            FaultChange::Isolate { node } => {
                let Ok(me) = self.node_by_name(node) else {
                    return;
                };
                for other in (0..self.nodes.len()).map(NodeId) {
                    if other != me {
                        self.blocked.insert((me, other));
                        self.blocked.insert((other, me));
                    }
                }
            }
            FaultChange::Heal => self.blocked.clear(),
            FaultChange::Crash { node } => {
                if let Ok(id) = self.node_by_name(node) {
                    self.crash(id);
                }
            }
            FaultChange::Restart { node } => {
                if let Ok(id) = self.node_by_name(node) {
                    let _no_factory_checked_above = self.restart(id);
                }
            }
        }
    }

    // ----- task support -----

    /// Queues a task timer for `waiter` at `at`; its key cancels or updates it.
    pub(crate) fn register_task_timer(&mut self, at: Instant, waiter: crate::exec::Waiter) -> u64 {
        let key = self.waits.add_timer(waiter);
        self.schedule(at, Event::TaskTimer { key });
        key
    }
}

/// One link direction's random streams, one per fault kind. Turning one kind off (as the
/// shrinker does) then leaves every other kind's decisions frame by frame as they were:
/// with one shared stream, dropping reordering would shift which frames are lost, and a
/// failure that needs a particular loss would vanish for reasons unrelated to reordering.
struct FaultRngs {
    loss: SimRng,
    corrupt: SimRng,
    duplicate: SimRng,
    latency: SimRng,
    reorder: SimRng,
}

impl FaultRngs {
    fn new(seed: Seed, name: &str) -> FaultRngs {
        let stream = |kind: &str| seed.stream(&format!("{name}/{kind}"));
        FaultRngs {
            loss: stream("loss"),
            corrupt: stream("corrupt"),
            duplicate: stream("duplicate"),
            latency: stream("latency"),
            reorder: stream("reorder"),
        }
    }

    /// The streams of the direction named `dir_name` ("<link>:<a>-><b>") of `link_name`:
    /// named "link/<link>/<a>-><b>".
    #[cold]
    fn for_dir(seed: Seed, link_name: &str, dir_name: &str) -> Box<FaultRngs> {
        let label = &dir_name[link_name.len() + 1..];
        Box::new(FaultRngs::new(seed, &format!("link/{link_name}/{label}")))
    }
}

/// A MAC address as an integer that orders like its bytes.
fn mac_key(mac: EthernetAddress) -> u64 {
    mac.0.iter().fold(0, |k, &b| (k << 8) | u64::from(b))
}

/// The inverse of [`mac_key`].
fn mac_from_key(key: u64) -> EthernetAddress {
    let b = key.to_be_bytes();
    EthernetAddress([b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Which stream a latency draw takes: a frame's own, or its duplicate's.
#[derive(Clone, Copy)]
enum Stream {
    Latency,
    Duplicate,
}

/// A direction's streams, which exist wherever its faults may draw (`LinkFaults::may_draw`).
fn born(rngs: &mut Option<Box<FaultRngs>>) -> &mut FaultRngs {
    rngs.as_deref_mut()
        .expect("a direction's streams exist once its faults may draw")
}

/// A frame's delay on a direction with `faults`: the latency distribution, then the
/// jitter, both from `stream`, which is only looked at when one of them draws.
fn latency(faults: &LinkFaults, rngs: &mut Option<Box<FaultRngs>>, stream: Stream) -> Duration {
    fn stream_of(r: &mut FaultRngs, stream: Stream) -> &mut SimRng {
        match stream {
            Stream::Latency => &mut r.latency,
            Stream::Duplicate => &mut r.duplicate,
        }
    }
    let base = match faults.latency {
        LatencyDist::Constant { latency } => latency,
        ref dist => dist.sample(stream_of(born(rngs), stream)),
    };
    if faults.jitter.is_zero() {
        return base;
    }
    base + jitter(stream_of(born(rngs), stream), faults.jitter)
}

fn jitter(rng: &mut SimRng, max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.range_inclusive(0, max_ns))
}

/// Where a frame was dropped, by id (resolved to names only for the trace).
#[derive(Clone, Copy, Debug)]
enum Place {
    Dir(LinkId, usize),
    Nic(NodeId, usize),
    Switch(SwitchId),
}

fn node_named(nodes: &[NodeSlot], node: NodeId) -> Named<'_> {
    Named::new(node.0, &nodes[node.0].name)
}

/// The node and NIC (index on the node) a frame was just sent from.
#[derive(Clone, Copy)]
struct SentFrom {
    node: NodeId,
    nic: usize,
}

/// A frame's `sent` record without the link's part: the link did something to it (dropped,
/// corrupted, held it back), which its own record says next, or there is no link.
#[inline(always)]
fn record_sent_alone(
    tracer: &mut Tracer,
    nodes: &[NodeSlot],
    now: Instant,
    from: SentFrom,
    frame: &Frame,
) {
    record_sent(tracer, nodes, now, from, (frame.id(), &frame.bytes), None);
}

/// The `sent` record of frame `id` (`bytes`); `over` the link that took it as it was sent.
#[inline(always)]
fn record_sent(
    tracer: &mut Tracer,
    nodes: &[NodeSlot],
    now: Instant,
    from: SentFrom,
    (id, bytes): (u64, &FrameBytes),
    over: Option<Over<'_>>,
) {
    tracer.record_sent(
        now.as_nanos(),
        node_named(nodes, from.node),
        from.nic,
        id,
        bytes,
        over,
    );
}

fn dir_named(links: &[LinkState], link: LinkId, dir: usize) -> Named<'_> {
    Named::new(2 * link.0 + dir, &links[link.0].dirs[dir].name)
}
