//! [`Sim`]: the simulator's front door, with run controls and the task executor.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::rc::Rc;

use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::EthernetAddress;

use crate::endpoint::{Endpoint, NodeCtx};
use crate::exec::{new_task, Executor, JoinHandle, TaskError, TaskFailure, TaskPanic, TaskResult};
use crate::fault::{Direction, FaultChange, FaultPlan, FaultProfile, LinkFaults};
use crate::rng::{Seed, SEED_ENV_VAR};
use crate::trace::{DropReason, Fingerprint, TraceHash};
use crate::world::{
    Attach, CapturePoint, LinkCounters, LinkId, NameError, NicCounters, NicId, NodeId,
    SwitchCounters, SwitchId, World,
};

/// Bounds on one run call, so a stuck simulation ends with a typed error instead of hanging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Steps (events handled or task batches polled) per run call.
    pub max_steps: u64,
    /// Simulated time is never run past this.
    pub max_time: Instant,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 10_000_000,
            max_time: Instant::from_secs(24 * 3600),
        }
    }
}

/// Why a run stopped before its goal.
#[derive(Clone, PartialEq, Eq)]
pub enum RunError {
    /// The step budget ran out (a livelock: something keeps happening at one instant, or
    /// the goal is too far away for the budget).
    StepLimit {
        /// Steps taken by this call.
        steps: u64,
        /// Simulated time when it stopped.
        now: Instant,
        /// The run's seed.
        seed: Seed,
    },
    /// The next event is past [`Limits::max_time`].
    TimeLimit {
        /// The limit.
        limit: Instant,
        /// Simulated time when it stopped.
        now: Instant,
        /// The run's seed.
        seed: Seed,
    },
    /// Nothing is left to happen and the condition is still false.
    Idle {
        /// Simulated time when it stopped.
        now: Instant,
        /// The run's seed.
        seed: Seed,
    },
    /// An application task panicked.
    TaskPanicked {
        /// What panicked.
        panic: TaskPanic,
        /// Simulated time.
        now: Instant,
        /// The run's seed.
        seed: Seed,
    },
    /// Host software or a client returned an error.
    TaskFailed {
        /// Which, where, and the error.
        failure: TaskFailure,
        /// Simulated time when it stopped.
        now: Instant,
        /// The run's seed.
        seed: Seed,
    },
}

impl RunError {
    /// The seed of the failed run.
    pub fn seed(&self) -> Seed {
        match self {
            RunError::StepLimit { seed, .. }
            | RunError::TimeLimit { seed, .. }
            | RunError::Idle { seed, .. }
            | RunError::TaskPanicked { seed, .. }
            | RunError::TaskFailed { seed, .. } => *seed,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::StepLimit { steps, now, .. } => write!(
                f,
                "step limit: {steps} steps without reaching the goal (at {now})"
            )?,
            RunError::TimeLimit { limit, now, .. } => {
                write!(f, "time limit: the next event is past {limit} (at {now})")?
            }
            RunError::Idle { now, .. } => write!(
                f,
                "idle: nothing left to happen and the condition is false (at {now})"
            )?,
            RunError::TaskPanicked { panic, now, .. } => write!(f, "{panic} (at {now})")?,
            RunError::TaskFailed { failure, now, .. } => write!(f, "{failure} (at {now})")?,
        }
        write!(f, "\n{}", replay_line(self.seed()))
    }
}

impl fmt::Debug for RunError {
    /// The same as `Display`, so that `.unwrap()` prints the replay line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for RunError {}

/// The one line that reproduces a run: the seed, and the test (named after the current
/// thread, which is how the test harness names it).
pub fn replay_line(seed: Seed) -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => {
            format!("replay: {SEED_ENV_VAR}={seed} cargo test -- --exact {name}")
        }
        _ => format!("replay: {SEED_ENV_VAR}={seed}"),
    }
}

/// A simulated network: nodes on NICs, links and switches, one clock, one event queue.
///
/// A run is a pure function of the seed, the topology, the fault plan and the workload.
/// Build the topology, then drive time with the `run_*` methods or [`step`](Self::step);
/// between steps, [`with_node`](Self::with_node) gives direct access to a node.
pub struct Sim {
    world: Rc<RefCell<World>>,
    exec: Executor,
    limits: Limits,
    steps: u64,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("world", &*self.world.borrow())
            .field("exec", &self.exec)
            .field("steps", &self.steps)
            .finish()
    }
}

impl Sim {
    /// An empty world at time zero.
    pub fn new(seed: Seed) -> Sim {
        Sim {
            world: Rc::new(RefCell::new(World::new(seed))),
            exec: Executor::new(seed.0),
            limits: Limits::default(),
            steps: 0,
        }
    }

    /// The seed.
    pub fn seed(&self) -> Seed {
        self.world.borrow().seed
    }

    /// Simulated time now.
    pub fn now(&self) -> Instant {
        self.world.borrow().now
    }

    /// Steps taken so far, over all run calls.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The run limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the run limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    // ----- topology -----

    /// Adds a node with `nic_count` NICs. It cannot be restarted after a crash (use
    /// [`add_node_with`](Self::add_node_with) for that). Panics if the name is taken.
    pub fn add_node(&mut self, name: &str, nic_count: usize, endpoint: impl Endpoint) -> NodeId {
        let ep: Box<dyn Endpoint> = Box::new(endpoint);
        self.world
            .borrow_mut()
            .add_node(name, nic_count, Some(ep), None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a node built by `factory`, which is called again (with the next incarnation)
    /// on every restart. Panics if the name is taken.
    pub fn add_node_with(
        &mut self,
        name: &str,
        nic_count: usize,
        factory: impl FnMut(&NodeCtx) -> Box<dyn Endpoint> + 'static,
    ) -> NodeId {
        self.world
            .borrow_mut()
            .add_node(name, nic_count, None, Some(Box::new(factory)))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a learning switch. Panics if the name is taken.
    pub fn add_switch(&mut self, name: &str) -> SwitchId {
        self.world
            .borrow_mut()
            .add_switch(name)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Joins `a` to `b` (a NIC, or a new port of a switch) with the same faults both ways.
    /// The link is named `"<a>-<b>"` from its ends, e.g. `"client/nic0<->sw/port0"`.
    pub fn connect(
        &mut self,
        a: impl Into<Attach>,
        b: impl Into<Attach>,
        faults: LinkFaults,
    ) -> LinkId {
        self.world
            .borrow_mut()
            .connect(a.into(), b.into(), faults, None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`connect`](Self::connect) with a chosen name.
    pub fn connect_named(
        &mut self,
        name: &str,
        a: impl Into<Attach>,
        b: impl Into<Attach>,
        faults: LinkFaults,
    ) -> LinkId {
        self.world
            .borrow_mut()
            .connect(a.into(), b.into(), faults, Some(name))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// NIC `index` of `node`. Panics if there is no such NIC.
    pub fn nic(&self, node: NodeId, index: usize) -> NicId {
        self.world.borrow().nodes[node.0].nics[index]
    }

    /// A NIC's MAC address.
    pub fn mac(&self, nic: NicId) -> EthernetAddress {
        self.world.borrow().nics[nic.0].mac
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.world.borrow().node_by_name(name).ok()
    }

    /// A node's name.
    pub fn node_name(&self, node: NodeId) -> String {
        self.world.borrow().nodes[node.0].name.clone()
    }

    /// The link named `name`.
    pub fn link(&self, name: &str) -> Option<LinkId> {
        self.world.borrow().link_by_name(name).ok()
    }

    /// A link's name (what fault changes refer to).
    pub fn link_name(&self, link: LinkId) -> String {
        self.world.borrow().links[link.0].name.clone()
    }

    /// The switch named `name`.
    pub fn switch(&self, name: &str) -> Option<SwitchId> {
        self.world.borrow().switch_by_name(name)
    }

    /// Records that `name` has address `addr`, in the simulation's DNS: [`addr`](Self::addr)
    /// and tasks (`net::lookup_host`, `TcpStream::connect("name:port")`) resolve it. Also
    /// how an alias is registered: any number of names may have one address.
    pub fn set_addr(&mut self, name: &str, addr: Ipv4Addr) {
        self.world.borrow_mut().dns.insert(name.to_owned(), addr);
    }

    /// The address recorded for `name`.
    pub fn addr(&self, name: &str) -> Option<Ipv4Addr> {
        self.world.borrow().dns.get(name).copied()
    }

    /// Turns the frame check sequence on or off for every NIC and switch, now and later.
    /// Off, corrupted frames reach the nodes and IP/TCP/UDP checksums must catch them.
    pub fn set_fcs_check(&mut self, on: bool) {
        self.world.borrow_mut().set_fcs_check_all(on);
    }

    /// FCS checking on one NIC.
    pub fn set_nic_fcs_check(&mut self, nic: NicId, on: bool) {
        self.world.borrow_mut().nics[nic.0].fcs_check = on;
    }

    /// Ring sizes of one NIC, in frames (at least 1).
    pub fn set_nic_rings(&mut self, nic: NicId, rx_frames: usize, tx_frames: usize) {
        let mut w = self.world.borrow_mut();
        let n = &mut w.nics[nic.0];
        n.rx_ring_frames = rx_frames.max(1);
        n.tx_ring_frames = tx_frames.max(1);
    }

    /// Default ring sizes for NICs created from now on.
    pub fn set_default_ring_frames(&mut self, frames: usize) {
        self.world.borrow_mut().default_ring_frames = frames.max(1);
    }

    /// Bounds a switch's MAC table; the stalest entry is evicted when it is full.
    pub fn set_mac_table_limit(&mut self, switch: SwitchId, entries: usize) {
        self.world.borrow_mut().set_mac_table_limit(switch, entries);
    }

    /// A switch's MAC table: address and port, by address.
    pub fn switch_table(&self, switch: SwitchId) -> Vec<(EthernetAddress, usize)> {
        self.world.borrow().switch_table(switch)
    }

    // ----- faults -----

    /// Replaces a link direction's faults now.
    pub fn set_link_faults(&mut self, link: LinkId, direction: Direction, faults: LinkFaults) {
        let link = self.link_name(link);
        self.world.borrow_mut().apply_change(&FaultChange::SetLink {
            link,
            direction,
            faults,
        });
    }

    /// A link direction's faults.
    pub fn link_faults(&self, link: LinkId, direction: Direction) -> LinkFaults {
        let dir = direction.indices()[0];
        self.world.borrow().link_faults(link, dir).clone()
    }

    /// Gives every link, both directions, the profile's faults now.
    pub fn apply_profile(&mut self, profile: &FaultProfile) {
        let links = self.world.borrow().links.len();
        for i in 0..links {
            self.set_link_faults(LinkId(i), Direction::Both, profile.faults.clone());
        }
    }

    /// Applies a change now.
    pub fn apply(&mut self, change: FaultChange) -> Result<(), NameError> {
        let mut w = self.world.borrow_mut();
        w.validate_change(&change)?;
        w.apply_change(&change);
        Ok(())
    }

    /// Schedules every change of `plan` (changes in the past apply at the next step). Every
    /// name is checked first; on error nothing is scheduled.
    pub fn apply_plan(&mut self, plan: &FaultPlan) -> Result<(), NameError> {
        let mut w = self.world.borrow_mut();
        for c in &plan.changes {
            w.validate_change(&c.change)?;
        }
        // Stable by time, so same-instant changes keep list order (with the queue's
        // insertion sequence as the tie-break).
        let mut changes: Vec<_> = plan.changes.iter().collect();
        changes.sort_by_key(|c| c.at);
        for c in changes {
            w.schedule_change(c.at, c.change.clone());
        }
        Ok(())
    }

    /// Crashes a node now: its state, timers and tasks are gone, frames to it are dropped.
    pub fn crash(&mut self, node: NodeId) {
        self.world.borrow_mut().crash(node);
    }

    /// Rebuilds a node with its factory (crashing it first if it is up).
    pub fn restart(&mut self, node: NodeId) -> Result<(), NameError> {
        self.world.borrow_mut().restart(node)
    }

    /// Whether a node is up (not crashed).
    pub fn is_up(&self, node: NodeId) -> bool {
        self.world.borrow().is_up(node)
    }

    // ----- observability -----

    /// Writes the JSON-lines trace to `out` from now on. Set it before building the
    /// topology to have the whole trace (the hash always covers every record).
    pub fn trace_to(&mut self, out: impl Write + 'static) {
        self.world.borrow_mut().set_trace_writer(Box::new(out));
    }

    /// Captures what a NIC sends and receives, as classic pcap (one file per NIC; see
    /// [`capture_nics_pcapng`](Self::capture_nics_pcapng) for several in one file).
    pub fn capture_nic(&mut self, nic: NicId, out: impl Write + 'static) -> std::io::Result<()> {
        self.world.borrow_mut().add_capture_nic(nic, Box::new(out))
    }

    /// Captures every frame entering a link (both directions), as classic pcap (one file
    /// per link; see [`capture_links_pcapng`](Self::capture_links_pcapng) for several in
    /// one file).
    pub fn capture_link(&mut self, link: LinkId, out: impl Write + 'static) -> std::io::Result<()> {
        self.world
            .borrow_mut()
            .add_capture_link(link, Box::new(out))
    }

    /// Captures every frame entering any of `links` (both directions) into one pcapng
    /// stream written to `out`, with an interface per link in the order given: interface
    /// `i` is `links[i]`, its `if_name` the link's name and its `if_description` the
    /// link's two ends (`"client/nic0 <-> sw/port0"`). Timestamps are simulated
    /// nanoseconds and frames are written as they enter their link, so the file is in
    /// simulated-time order and the same seed writes the same bytes.
    ///
    /// Captures only from now on: call it after the links exist and before running. A
    /// link given twice, or one this `Sim` does not have, is an `InvalidInput` error
    /// (and nothing is written). Read the file back with
    /// [`pcapng::read`](crate::pcapng::read); write errors surface from
    /// [`flush`](Self::flush).
    pub fn capture_links_pcapng(
        &mut self,
        links: &[LinkId],
        out: impl Write + 'static,
    ) -> std::io::Result<()> {
        let points: Vec<CapturePoint> = links.iter().map(|&l| CapturePoint::Link(l)).collect();
        self.world
            .borrow_mut()
            .add_capture_pcapng(&points, Box::new(out))
    }

    /// [`capture_links_pcapng`](Self::capture_links_pcapng) of every link that exists
    /// now, in the order they were connected.
    pub fn capture_all_links_pcapng(&mut self, out: impl Write + 'static) -> std::io::Result<()> {
        let links: Vec<LinkId> = (0..self.world.borrow().links.len()).map(LinkId).collect();
        self.capture_links_pcapng(&links, out)
    }

    /// Captures what each of `nics` sends and receives into one pcapng stream, with an
    /// interface per NIC in the order given (`if_name` `"node/nic0"`), each packet flagged
    /// outbound or inbound (`epb_flags`): a frame is recorded when its node hands it over
    /// and when the node reads it. Otherwise as
    /// [`capture_links_pcapng`](Self::capture_links_pcapng).
    pub fn capture_nics_pcapng(
        &mut self,
        nics: &[NicId],
        out: impl Write + 'static,
    ) -> std::io::Result<()> {
        let points: Vec<CapturePoint> = nics.iter().map(|&n| CapturePoint::Nic(n)).collect();
        self.world
            .borrow_mut()
            .add_capture_pcapng(&points, Box::new(out))
    }

    /// Frame buffers the simulator has allocated because its pool had none to reuse: a
    /// steady stream of frames allocates none, buffers a host kept (a TCP payload until
    /// its application reads it) included, so this grows with the most frames ever in
    /// flight and held at once, not with the frames sent. A diagnostic of memory, not part
    /// of the trace.
    pub fn frame_buffers_allocated(&self) -> u64 {
        self.world.borrow().frame_pool.made
    }

    /// The rolling hash of the trace so far.
    pub fn trace_hash(&self) -> TraceHash {
        self.world.borrow().trace_hash()
    }

    /// The trace so far, compactly: its hash, record count and checkpoints (see
    /// [`crate::divergence`]).
    pub fn fingerprint(&self) -> Fingerprint {
        self.world.borrow().fingerprint()
    }

    /// Trace records so far.
    pub fn trace_records(&self) -> u64 {
        self.world.borrow().trace_records()
    }

    /// Flushes the trace and captures; reports the first write error any of them had.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.world.borrow_mut().flush()
    }

    /// Counters of one link direction (`Both` adds the two).
    pub fn link_counters(&self, link: LinkId, direction: Direction) -> LinkCounters {
        let w = self.world.borrow();
        let mut sum = LinkCounters::default();
        for &dir in direction.indices() {
            let c = w.link_counters(link, dir);
            sum.offered += c.offered;
            sum.arrived += c.arrived;
            sum.arrived_bytes += c.arrived_bytes;
            sum.lost += c.lost;
            sum.queue_dropped += c.queue_dropped;
            sum.oversize += c.oversize;
            sum.down_dropped += c.down_dropped;
            sum.corrupted += c.corrupted;
            sum.duplicated += c.duplicated;
            sum.reordered += c.reordered;
            sum.held += c.held;
        }
        sum
    }

    /// Counters of one NIC.
    pub fn nic_counters(&self, nic: NicId) -> NicCounters {
        self.world.borrow().nics[nic.0].counters
    }

    /// Counters of one switch.
    pub fn switch_counters(&self, switch: SwitchId) -> SwitchCounters {
        self.world.borrow().switches[switch.0].counters
    }

    /// Every drop so far, by reason.
    pub fn drops(&self) -> BTreeMap<DropReason, u64> {
        self.world.borrow().drops.clone()
    }

    // ----- poll-style access -----

    /// Runs `f` on a node as its concrete type, then services it (its frames go out, its
    /// deadline is re-read). `None` if the node is crashed. Panics if it is not an `E`.
    pub fn with_node<E: Endpoint, R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut E, Instant) -> R,
    ) -> Option<R> {
        self.world.borrow_mut().with_endpoint(node, |ep, now| {
            let concrete = ep
                .as_any_mut()
                .downcast_mut::<E>()
                .unwrap_or_else(|| panic!("node is not a {}", std::any::type_name::<E>()));
            f(concrete, now)
        })
    }

    // ----- tasks -----

    /// Spawns a task that belongs to no node.
    pub fn spawn<T: 'static>(
        &mut self,
        future: impl Future<Output = T> + 'static,
    ) -> JoinHandle<T> {
        let (task, handle) = new_task("main".to_owned(), None, future);
        self.exec.spawn(task);
        handle
    }

    /// Spawns a task on `node`: it dies with the node.
    pub fn spawn_on<T: 'static>(
        &mut self,
        node: NodeId,
        future: impl Future<Output = T> + 'static,
    ) -> JoinHandle<T> {
        let name = self.node_name(node);
        let (task, handle) = new_task(name, Some(node), future);
        self.exec.spawn(task);
        handle
    }

    /// Installs `node`'s software: `software()` runs as a task on the node now, and again
    /// after every restart (a crash loses it with every task and socket of the node). An
    /// `Err` it returns, like a panic, fails the run with the replay line.
    pub fn set_software<F, Fut>(&mut self, node: NodeId, mut software: F)
    where
        F: FnMut() -> Fut + 'static,
        Fut: Future<Output = TaskResult> + 'static,
    {
        let name = self.node_name(node);
        self.exec.set_software(
            node,
            name,
            Box::new(move || Box::pin(software()) as Pin<Box<dyn Future<Output = TaskResult>>>),
        );
    }

    /// Spawns a task on `node` whose `Err` fails the run (a client, in turmoil's words).
    pub fn spawn_fallible<Fut>(&mut self, node: NodeId, future: Fut) -> JoinHandle<()>
    where
        Fut: Future<Output = TaskResult> + 'static,
    {
        let name = self.node_name(node);
        let (task, handle) = self.exec.fallible_task(name, Some(node), future);
        self.exec.spawn(task);
        handle
    }

    /// Drops every frame between `a` and `b`, both ways, until [`repair`](Self::repair)
    /// (a `FaultChange::Partition` by names does the same from a fault plan).
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.world.borrow_mut().partition_pair(a, b, true);
    }

    /// Drops every frame from `from` to `to` only.
    pub fn partition_oneway(&mut self, from: NodeId, to: NodeId) {
        self.world.borrow_mut().partition_pair(from, to, false);
    }

    /// Ends every partition between `a` and `b`, both ways (a `FaultChange::Heal` ends
    /// them all).
    pub fn repair(&mut self, a: NodeId, b: NodeId) {
        self.world.borrow_mut().repair_pair(a, b, true);
    }

    /// Ends the partition of frames from `from` to `to` only (the other way stays cut if
    /// it was).
    pub fn repair_oneway(&mut self, from: NodeId, to: NodeId) {
        self.world.borrow_mut().repair_pair(from, to, false);
    }

    /// Holds every frame between `a` and `b`, both ways, from now until
    /// [`release`](Self::release): none is lost; all arrive, late, in order.
    pub fn hold(&mut self, a: NodeId, b: NodeId) {
        self.world.borrow_mut().hold(a, b);
    }

    /// Ends a [`hold`](Self::hold): what was held between `a` and `b` arrives now.
    pub fn release(&mut self, a: NodeId, b: NodeId) {
        self.world.borrow_mut().release(a, b);
    }

    /// Live tasks.
    pub fn task_count(&self) -> usize {
        self.exec.task_count()
    }

    // ----- running -----

    fn panicked(&self, error: TaskError) -> RunError {
        let (now, seed) = (self.now(), self.seed());
        let e = match error {
            TaskError::Panicked(panic) => RunError::TaskPanicked { panic, now, seed },
            TaskError::Failed(failure) => RunError::TaskFailed { failure, now, seed },
        };
        tracing::error!("{e}");
        e
    }

    /// One step: polls ready tasks and drives woken hosts if there are any, else handles
    /// whatever comes first: the next event, or the next tick of a host whose tasks may
    /// wait on a tokio timer (moving the clock to it). `Ok(false)` when nothing is left.
    /// Frames arriving at a NIC and the NIC's delivery of them to its host are one step
    /// when nothing else is due at that instant (the delivery would be the next event).
    pub fn step(&mut self) -> Result<bool, RunError> {
        let limit = self.limits.max_time;
        self.step_within(limit)
    }

    /// The next thing that will happen: an event or a host's tick.
    fn next_time(&self) -> Option<Instant> {
        let event = self.world.borrow().next_event_time();
        let tick = self.exec.next_tick().map(|(at, _)| at);
        match (event, tick) {
            (Some(e), Some(t)) => Some(e.min(t)),
            (e, t) => e.or(t),
        }
    }

    /// [`step`](Self::step), where nothing may happen after `limit` (a lone ticking host
    /// may jump ahead to its next tokio timer, but not past it).
    fn step_within(&mut self, limit: Instant) -> Result<bool, RunError> {
        self.steps += 1;
        if !self.exec.has_pending(&self.world) {
            let event = self.world.borrow().next_event_time();
            match (event, self.exec.next_tick()) {
                (None, None) => return Ok(false),
                // Only a host's tick is left, and it is past the limit: nothing will
                // happen in time (a task waiting forever on a host that keeps tokio tasks).
                (None, Some((at, _))) if at > limit => return Ok(false),
                (event, Some((at, _))) if event.is_none_or(|e| at < e) => {
                    self.world.borrow_mut().set_now(at);
                    let limit = event.map_or(limit, |e| e.min(limit));
                    self.exec
                        .run_tick(&self.world, limit)
                        .map_err(|p| self.panicked(p))?;
                    return Ok(true);
                }
                _ => {
                    self.world.borrow_mut().process_next();
                }
            }
            // Most events (a frame crossing a link, a switch forwarding) wake no task.
            if !self.exec.has_pending(&self.world) {
                return Ok(true);
            }
        }
        self.exec
            .run_ready(&self.world)
            .map(|()| true)
            .map_err(|p| self.panicked(p))
    }

    /// The core loop: steps until `done`, or until the next event is past `deadline` (then
    /// the clock moves to the deadline and the run succeeds), within the limits.
    fn run_loop(
        &mut self,
        deadline: Option<Instant>,
        mut done: impl FnMut(&Sim) -> bool,
        idle_is_error: bool,
    ) -> Result<(), RunError> {
        let start = self.steps;
        let limit = deadline.unwrap_or(self.limits.max_time);
        loop {
            if done(self) {
                return Ok(());
            }
            if !self.exec.has_pending(&self.world) {
                match self.next_time() {
                    None => {
                        if let Some(d) = deadline.filter(|_| !idle_is_error) {
                            self.world.borrow_mut().set_now(d);
                            return Ok(());
                        }
                        if idle_is_error {
                            return Err(RunError::Idle {
                                now: self.now(),
                                seed: self.seed(),
                            });
                        }
                        return Ok(());
                    }
                    Some(t) if deadline.is_some_and(|d| t > d) => {
                        if let Some(d) = deadline {
                            self.world.borrow_mut().set_now(d);
                        }
                        return Ok(());
                    }
                    Some(t) if t > self.limits.max_time => {
                        return Err(RunError::TimeLimit {
                            limit: self.limits.max_time,
                            now: self.now(),
                            seed: self.seed(),
                        });
                    }
                    Some(_) => {}
                }
            }
            if self.steps - start >= self.limits.max_steps {
                return Err(RunError::StepLimit {
                    steps: self.steps - start,
                    now: self.now(),
                    seed: self.seed(),
                });
            }
            self.step_within(limit)?;
        }
    }

    /// Runs every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) -> Result<(), RunError> {
        if until > self.limits.max_time {
            self.run_loop(Some(self.limits.max_time), |_| false, false)?;
            return Err(RunError::TimeLimit {
                limit: self.limits.max_time,
                now: self.now(),
                seed: self.seed(),
            });
        }
        self.run_loop(Some(until), |_| false, false)
    }

    /// Runs for `duration` of simulated time.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), RunError> {
        self.run_until(self.now() + duration)
    }

    /// Runs until nothing is left to happen: no event queued and no task ready. A network
    /// with periodic timers is never idle and ends with a limit error.
    pub fn run_until_idle(&mut self) -> Result<(), RunError> {
        self.run_loop(None, |_| false, false)
    }

    /// Runs until `condition` holds (checked before every step). Fails with
    /// [`RunError::Idle`] if nothing is left to happen first.
    pub fn run_until_condition(
        &mut self,
        condition: impl FnMut(&Sim) -> bool,
    ) -> Result<(), RunError> {
        self.run_loop(None, condition, true)
    }

    /// Runs until `condition` holds (checked before every step) or the clock reaches
    /// `deadline` (every event at or before it handled, the clock then set to it), whichever
    /// comes first; returns whether the condition held. Fails with [`RunError::Idle`] if
    /// nothing is left to happen before either.
    pub fn run_until_condition_or(
        &mut self,
        deadline: Instant,
        mut condition: impl FnMut(&Sim) -> bool,
    ) -> Result<bool, RunError> {
        let mut held = false;
        self.run_loop(
            Some(deadline),
            |s| {
                held = condition(s);
                held
            },
            true,
        )?;
        Ok(held)
    }

    /// Runs until the task behind `handle` has finished.
    pub fn run_until_complete<T>(&mut self, handle: &JoinHandle<T>) -> Result<(), RunError> {
        self.run_until_condition(|_| handle.is_finished())
    }

    /// Runs until every task behind `handles` has finished (fails with
    /// [`RunError::Idle`] if nothing is left to happen first, e.g. a task lost in a crash).
    ///
    /// The check before each step takes constant amortized time however many handles
    /// there are, where `run_until_condition(|_| handles.iter().all(..))` walks every
    /// finished one at every step (a step per frame, thousands of clients: that walk was
    /// the largest cost that grew with the clients). A finished task stays finished, so
    /// the handles are looked at in order from the first unfinished one, each passed once.
    pub fn run_until_all_complete<T>(&mut self, handles: &[JoinHandle<T>]) -> Result<(), RunError> {
        let mut done = AllFinished::default();
        self.run_until_condition(|_| done.check(handles.iter()))
    }
}

/// How many of a list of tasks have been seen finished, from the front: finished tasks
/// stay finished, so checking them all again costs one look at the first unfinished one.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AllFinished {
    upto: usize,
}

impl AllFinished {
    /// Whether every handle has finished (`handles` in the same order at every call; it
    /// may grow at the end).
    pub(crate) fn check<'a, T: 'a>(
        &mut self,
        handles: impl ExactSizeIterator<Item = &'a JoinHandle<T>>,
    ) -> bool {
        let len = handles.len();
        for h in handles.skip(self.upto) {
            if !h.is_finished() {
                return false;
            }
            self.upto += 1;
        }
        self.upto == len
    }
}
