//! Scenarios, run specifications and the invariants every run is checked against.
//!
//! A [`RunSpec`] is everything one run depends on, as data: the scenario's name, the seed,
//! the workload's size, the network's [`Shape`], the fault plan (link faults from time zero plus timed changes) and
//! when the network heals. [`run`] builds the simulation, drives it and checks:
//! - **integrity**: every byte arrives once and in order, checked by content;
//! - **progress**: the workload completes within `progress_bound` after the heal;
//! - **no panic** anywhere (stack, simulator or application);
//! - **memory**: no socket holds more than its configured buffers.
//!
//! Determinism (a second run gives the same trace hash) is checked by the sweep on a sample
//! of seeds, since it costs a second run.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use sansnet_sim::exec::JoinHandle;
use sansnet_sim::{
    Direction, Duration, FaultChange, FaultPlan, Instant, LinkFaults, NicId, NodeId, RunError,
    Seed, Sim, TraceHash,
};
use sansnet_stack::iface::Host;
use sansnet_stack::tcp;
use serde::{Deserialize, Serialize};

pub use crate::topology::Shape;

/// The size of a workload. Each scenario says what the fields mean for it; the shrinker
/// halves them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Bytes per stream (bulk transfers).
    pub bytes: u64,
    /// Concurrent clients or connections.
    pub clients: u32,
    /// Request/response exchanges (or connections opened, for churn).
    pub exchanges: u32,
    /// Bytes per request and per response.
    pub message_bytes: u32,
}

impl Workload {
    /// The largest workload a run accepts: beyond this a replay file or a flag asks for more
    /// than one simulated run can hold in memory or finish in a sweep's time.
    pub const MAX: Workload = Workload {
        bytes: 1 << 30,
        clients: 10_000,
        exchanges: 1_000_000,
        message_bytes: 1 << 20,
    };

    /// `Err` naming the first field past [`Workload::MAX`].
    pub fn check(&self) -> Result<(), String> {
        let max = Workload::MAX;
        let over = [
            ("bytes", self.bytes, max.bytes),
            ("clients", u64::from(self.clients), u64::from(max.clients)),
            (
                "exchanges",
                u64::from(self.exchanges),
                u64::from(max.exchanges),
            ),
            (
                "message_bytes",
                u64::from(self.message_bytes),
                u64::from(max.message_bytes),
            ),
        ];
        match over.iter().find(|(_, v, m)| v > m) {
            Some((name, v, m)) => Err(format!("workload {name}={v} is over the limit of {m}")),
            None => Ok(()),
        }
    }

    /// `self` with every field `o` sets replaced.
    pub fn with(&self, o: &WorkloadOverride) -> Workload {
        Workload {
            bytes: o.bytes.unwrap_or(self.bytes),
            clients: o.clients.unwrap_or(self.clients),
            exchanges: o.exchanges.unwrap_or(self.exchanges),
            message_bytes: o.message_bytes.unwrap_or(self.message_bytes),
        }
    }
}

/// A workload size class: what `--size` picks, per scenario ([`Scenario::workload`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size {
    /// The scenario's default workload (bulk 64 KiB, 20 clients x 3 exchanges, ...).
    #[default]
    Small,
    /// About 16 times the bytes and 5 times the clients or exchanges.
    Medium,
    /// 16 MiB transfers, 1,000 clients, 1,000 connections or exchanges one after another.
    Large,
}

impl Size {
    /// Every size, smallest first.
    pub const ALL: [Size; 3] = [Size::Small, Size::Medium, Size::Large];

    /// The name `--size` takes.
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }

    /// The size called `name`.
    pub fn by_name(name: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The generic scaling of a scenario's default workload `w` (what
    /// [`Scenario::workload`] does unless a scenario knows better): bytes grow, and
    /// clients when there are several, else exchanges one after another.
    pub fn scale(self, w: Workload) -> Workload {
        match self {
            Size::Small => w,
            Size::Medium => Workload {
                bytes: w.bytes.saturating_mul(16),
                clients: if w.clients > 1 {
                    w.clients.saturating_mul(5)
                } else {
                    w.clients
                },
                exchanges: if w.clients <= 1 && w.exchanges > 1 {
                    w.exchanges.saturating_mul(5)
                } else {
                    w.exchanges
                },
                ..w
            },
            Size::Large => Workload {
                bytes: if w.bytes > 0 { 16 << 20 } else { 0 },
                clients: if w.clients > 1 { 1_000 } else { w.clients },
                exchanges: if w.clients <= 1 && w.exchanges > 1 {
                    1_000
                } else {
                    w.exchanges
                },
                ..w
            },
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fields of a [`Workload`] set explicitly (`--workload bytes=1M,clients=50`); the rest
/// come from the size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadOverride {
    /// Bytes per stream.
    pub bytes: Option<u64>,
    /// Clients or connections.
    pub clients: Option<u32>,
    /// Exchanges.
    pub exchanges: Option<u32>,
    /// Bytes per message.
    pub message_bytes: Option<u32>,
}

impl WorkloadOverride {
    /// Whether it sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == WorkloadOverride::default()
    }

    /// Parses `key=value[,key=value...]`, keys `bytes`, `clients`, `exchanges`,
    /// `message_bytes`, values whole numbers with an optional `K`/`M`/`G` (binary) suffix;
    /// repeated keys: the last wins. Merges into `self`.
    pub fn parse_into(&mut self, text: &str) -> Result<(), String> {
        for item in text.split(',').filter(|i| !i.trim().is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            if !["bytes", "clients", "exchanges", "message_bytes"].contains(&key) {
                return Err(format!(
                    "unknown workload key {key:?} (bytes, clients, exchanges, message_bytes)"
                ));
            }
            let n = parse_size_number(value).ok_or_else(|| {
                format!("{key}={value}: expected a whole number, optionally with K, M or G")
            })?;
            let small = |n: u64| {
                u32::try_from(n).map_err(|_| format!("{key}={value}: at most {}", u32::MAX))
            };
            match key {
                "bytes" => self.bytes = Some(n),
                "clients" => self.clients = Some(small(n)?),
                "exchanges" => self.exchanges = Some(small(n)?),
                _ => self.message_bytes = Some(small(n)?),
            }
        }
        Ok(())
    }

    /// The `--workload` text that sets every field of `w`.
    pub fn text_for(w: &Workload) -> String {
        format!(
            "bytes={},clients={},exchanges={},message_bytes={}",
            w.bytes, w.clients, w.exchanges, w.message_bytes
        )
    }
}

impl fmt::Display for WorkloadOverride {
    /// The fields it sets, as `--workload` takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = [
            ("bytes", self.bytes),
            ("clients", self.clients.map(u64::from)),
            ("exchanges", self.exchanges.map(u64::from)),
            ("message_bytes", self.message_bytes.map(u64::from)),
        ];
        let set: Vec<String> = fields
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
            .collect();
        f.write_str(&set.join(","))
    }
}

/// `123`, `64K`, `16M`, `1G` (binary multiples).
fn parse_size_number(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 10),
        b'M' | b'm' => (&text[..text.len() - 1], 20),
        b'G' | b'g' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1 << shift)
}

/// Everything one run is a function of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The scenario's registered name.
    pub scenario: String,
    /// The seed of the simulation.
    pub seed: u64,
    /// The fault profile the plan was drawn from (for people; the plan is what runs).
    pub profile: String,
    /// The workload's size.
    pub workload: Workload,
    /// The network's shape (absent in replay files from before shapes: `direct`).
    #[serde(default, skip_serializing_if = "Shape::is_direct")]
    pub topology: Shape,
    /// Fault changes: link faults at time zero, partitions, clogs, in time order.
    pub plan: FaultPlan,
    /// From this simulated time on, every link is healthy and every partition healed.
    pub heal_at_ms: u64,
    /// The workload must complete this long after the heal.
    pub progress_bound_ms: u64,
    /// Whether the end hosts' NICs check the frame check sequence (off: checksums must
    /// catch corruption). Switches and routers always check it.
    pub fcs_check: bool,
    /// A planted bug to switch on (only with the `planted-bugs` feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planted: Option<String>,
}

/// Which invariant a run broke. Shrinking keeps a change only if the run still fails with
/// the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Bytes arrived damaged, out of order, twice or not at all.
    Integrity,
    /// An application saw an error a correct stack would not cause (reset, timeout).
    Io,
    /// The workload did not complete within the bound after the heal.
    NoProgress,
    /// Something panicked.
    Panic,
    /// A socket held more than its configured buffers.
    Memory,
    /// The same run gave two different traces.
    Nondeterminism,
    /// The simulation itself stopped (step limit: a livelock).
    Stuck,
    /// The spec cannot run (unknown scenario, bad plan).
    BadSpec,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            FailureKind::Integrity => "integrity",
            FailureKind::Io => "io",
            FailureKind::NoProgress => "no-progress",
            FailureKind::Panic => "panic",
            FailureKind::Memory => "memory",
            FailureKind::Nondeterminism => "nondeterminism",
            FailureKind::Stuck => "stuck",
            FailureKind::BadSpec => "bad-spec",
        };
        f.write_str(s)
    }
}

/// A broken invariant, with what was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Which invariant.
    pub kind: FailureKind,
    /// What was seen, for people.
    pub detail: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// What a workload task reports when it ends.
pub type TaskResult = Result<(), Failure>;

/// What [`Scenario::build`] made: the workload's tasks and the names faults refer to.
#[derive(Debug, Default)]
pub struct Built {
    /// Names of the links, for `FaultChange::SetLink` and friends.
    pub links: Vec<String>,
    /// The hosts, for the memory check and the `ss` tables.
    pub hosts: Vec<(String, NodeId)>,
    /// Tasks whose completion is the workload's completion.
    pub tasks: Vec<JoinHandle<TaskResult>>,
    /// The end hosts' NICs: [`RunSpec::fcs_check`] applies to them, and every other NIC
    /// and switch (routers, switches: store-and-forward) always checks the FCS. `None`:
    /// `fcs_check` applies to every NIC and switch.
    pub host_nics: Option<Vec<NicId>>,
}

/// The names a scenario's network has, known before it is built (the fault plan needs
/// them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Link names.
    pub links: Vec<String>,
    /// Client-side host names.
    pub clients: Vec<String>,
    /// Server-side host names.
    pub servers: Vec<String>,
    /// Routers between them, in order from the clients' side to the servers' (a
    /// partition between nodes that do not exchange frames directly blocks nothing).
    pub routers: Vec<String>,
}

impl Topology {
    /// The partitions that cut the clients off from the servers, each `(from, to)` between
    /// nodes that exchange frames directly: clients and servers when no router stands
    /// between them, otherwise each hop of the router chain, the clients' side first.
    pub fn partitions(&self) -> Vec<(Vec<String>, Vec<String>)> {
        let mut sides = vec![self.clients.clone()];
        sides.extend(self.routers.iter().map(|r| vec![r.clone()]));
        sides.push(self.servers.clone());
        sides
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect()
    }
}

/// A workload on a small network. Register new ones with [`register`].
pub trait Scenario: Send + Sync {
    /// A short, unique, kebab-case name.
    fn name(&self) -> &'static str;
    /// One line for `sansnet scenarios`.
    fn describe(&self) -> &'static str;
    /// The workload a sweep uses.
    fn default_workload(&self) -> Workload;
    /// The workload of a size class; by default [`Size::scale`] of the default workload.
    fn workload(&self, size: Size) -> Workload {
        size.scale(self.default_workload())
    }
    /// The names the fault plan may use on `shape`. The default, [`Shape::topology`], is
    /// right for every scenario that builds its network with
    /// [`Network::build`](crate::topology::Network::build).
    fn topology(&self, workload: &Workload, shape: &Shape) -> Topology {
        let _ = workload;
        shape.topology()
    }
    /// Builds hosts, links and tasks into `sim`, on a network of `shape` (a scenario with
    /// a fixed network of its own may ignore it). Every host's TCP uses `tcp` as template.
    fn build(&self, sim: &mut Sim, workload: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built;
}

type Registry = RwLock<BTreeMap<&'static str, Arc<dyn Scenario>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut map: BTreeMap<&'static str, Arc<dyn Scenario>> = BTreeMap::new();
        for s in crate::scenarios::builtin() {
            map.insert(s.name(), s);
        }
        RwLock::new(map)
    })
}

/// Adds a scenario to the registry (replacing one of the same name).
pub fn register(scenario: Arc<dyn Scenario>) {
    let mut map = registry().write().unwrap_or_else(|e| e.into_inner());
    map.insert(scenario.name(), scenario);
}

/// The scenario called `name`.
pub fn lookup(name: &str) -> Option<Arc<dyn Scenario>> {
    let map = registry().read().unwrap_or_else(|e| e.into_inner());
    map.get(name).cloned()
}

/// Every registered scenario, by name.
pub fn all() -> Vec<Arc<dyn Scenario>> {
    let map = registry().read().unwrap_or_else(|e| e.into_inner());
    map.values().cloned().collect()
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `Ok` if every invariant held.
    pub result: Result<(), Failure>,
    /// The rolling hash of the whole trace.
    pub trace_hash: TraceHash,
    /// Simulated time at the end.
    pub sim_time: Instant,
    /// Simulator steps taken.
    pub steps: u64,
    /// Every host's `ss` table and counters at the end, if asked for.
    pub tables: Vec<String>,
}

/// Where a run writes its artefacts, and when it stops early.
#[derive(Default)]
pub struct RunOptions {
    /// JSON-lines trace.
    pub trace: Option<Box<dyn std::io::Write>>,
    /// Classic pcap of the first link (kept for tools that read only pcap).
    pub pcap: Option<Box<dyn std::io::Write>>,
    /// pcapng of every link of the built network, one interface per link in the order the
    /// links were made, each named after its link.
    pub pcapng: Option<Box<dyn std::io::Write>>,
    /// Stop at this simulated time (and report the tables there).
    pub stop_at: Option<Instant>,
    /// Collect every host's `ss` table and counters at the end (or at `stop_at`).
    pub collect_tables: bool,
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("trace", &self.trace.is_some())
            .field("pcap", &self.pcap.is_some())
            .field("pcapng", &self.pcapng.is_some())
            .field("stop_at", &self.stop_at)
            .field("collect_tables", &self.collect_tables)
            .finish()
    }
}

/// The TCP configuration of every host in `spec`'s run.
pub fn tcp_config(spec: &RunSpec) -> Result<tcp::Config, Failure> {
    #[allow(unused_mut)]
    let mut cfg = tcp::Config::default();
    if let Some(name) = &spec.planted {
        #[cfg(feature = "planted-bugs")]
        {
            cfg.planted = Some(tcp::PlantedBug::from_name(name).ok_or_else(|| {
                Failure::new(FailureKind::BadSpec, format!("no planted bug {name:?}"))
            })?);
        }
        #[cfg(not(feature = "planted-bugs"))]
        return Err(Failure::new(
            FailureKind::BadSpec,
            format!("planted bug {name:?} needs a build with --features planted-bugs"),
        ));
    }
    Ok(cfg)
}

/// Runs `spec` and checks every invariant.
pub fn run(spec: &RunSpec) -> Outcome {
    run_with(spec, RunOptions::default())
}

/// Runs `spec` with artefacts or an early stop.
pub fn run_with(spec: &RunSpec, mut opts: RunOptions) -> Outcome {
    let mut sim_out = None;
    let mut tables = Vec::new();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        run_inner(spec, &mut opts, &mut sim_out, &mut tables)
    }));
    let (trace_hash, sim_time, steps) = sim_out.unwrap_or((TraceHash::default(), Instant::ZERO, 0));
    let result = match caught {
        Ok(r) => r,
        Err(payload) => Err(Failure::new(FailureKind::Panic, panic_message(&payload))),
    };
    Outcome {
        result,
        trace_hash,
        sim_time,
        steps,
        tables,
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Steps a run of the default workloads may take before it counts as stuck; larger
/// workloads get more ([`step_budget`]).
pub const MAX_STEPS: u64 = 1_000_000;

/// Steps a run of `w` on `shape` may take before it counts as stuck: [`MAX_STEPS`], plus
/// room for the segments a large workload moves (about 40 steps per full segment of its
/// bytes, each way, per client and per client host: send, transmit, switch, arrive, deliver,
/// the ACK, retransmissions) and for its exchanges. A function of the run's spec alone, so
/// a replay file gets the budget its run had.
pub fn step_budget(w: &Workload, shape: &Shape) -> u64 {
    let segments = w.bytes.div_ceil(1_000).saturating_mul(2);
    let streams =
        u64::from(w.clients.max(1)).saturating_mul(u64::from(shape.client_hosts().max(1)));
    let exchanges = u64::from(w.exchanges)
        .saturating_mul(streams)
        .saturating_mul(u64::from(w.message_bytes).div_ceil(1_000).max(1));
    MAX_STEPS.max(
        segments
            .saturating_mul(streams)
            .saturating_add(exchanges)
            .saturating_mul(40),
    )
}

/// The faults of a healed link: the same kind of wire, without loss or damage.
fn healthy() -> LinkFaults {
    LinkFaults::with_latency(Duration::from_millis(1))
}

fn run_inner(
    spec: &RunSpec,
    opts: &mut RunOptions,
    out: &mut Option<(TraceHash, Instant, u64)>,
    tables_out: &mut Vec<String>,
) -> Result<(), Failure> {
    let scenario = lookup(&spec.scenario).ok_or_else(|| {
        Failure::new(
            FailureKind::BadSpec,
            format!("no scenario {:?}", spec.scenario),
        )
    })?;
    let tcp = tcp_config(spec)?;
    let mut sim = Sim::new(Seed(spec.seed));
    // A healthy run of the default workloads takes a few thousand steps; a livelock must
    // fail fast, not after the simulator's default ten million.
    sim.set_limits(sansnet_sim::Limits {
        max_steps: step_budget(&spec.workload, &spec.topology),
        ..sim.limits()
    });
    if let Some(w) = opts.trace.take() {
        sim.trace_to(w);
    }
    // Switches and routers are store-and-forward: they always check the frame check
    // sequence. `fcs_check` is about the end hosts' NICs only, so that a damaged frame
    // reaching a host was damaged on its last link alone: one flipped bit, which the IP,
    // UDP and TCP checksums always catch. (Two links each flipping a bit can cancel out in
    // a 16-bit ones' complement sum: no stack could tell.)
    sim.set_fcs_check(true);
    let built = scenario.build(&mut sim, &spec.workload, &spec.topology, &tcp);
    match &built.host_nics {
        Some(nics) => {
            for &nic in nics {
                sim.set_nic_fcs_check(nic, spec.fcs_check);
            }
        }
        None => sim.set_fcs_check(spec.fcs_check),
    }
    if let (Some(w), Some(first)) = (opts.pcap.take(), built.links.first()) {
        if let Some(link) = sim.link(first) {
            sim.capture_link(link, w)
                .map_err(|e| Failure::new(FailureKind::BadSpec, format!("pcap: {e}")))?;
        }
    }
    if let Some(w) = opts.pcapng.take() {
        sim.capture_all_links_pcapng(w)
            .map_err(|e| Failure::new(FailureKind::BadSpec, format!("pcapng: {e}")))?;
    }
    sim.apply_plan(&spec.plan)
        .map_err(|e| Failure::new(FailureKind::BadSpec, format!("fault plan: {e}")))?;
    // The heal is not part of the plan, so that shrinking can never remove it.
    let heal_at = Instant::from_millis(spec.heal_at_ms);
    let mut heal = FaultPlan::new().at(heal_at, FaultChange::Heal);
    for link in &built.links {
        heal.push(
            heal_at,
            FaultChange::Unclog {
                link: link.clone(),
                direction: Direction::Both,
            },
        );
        heal.push(
            heal_at,
            FaultChange::SetLink {
                link: link.clone(),
                direction: Direction::Both,
                faults: healthy(),
            },
        );
    }
    sim.apply_plan(&heal)
        .map_err(|e| Failure::new(FailureKind::BadSpec, format!("heal: {e}")))?;

    let deadline = heal_at + Duration::from_millis(spec.progress_bound_ms);
    let stop = opts.stop_at.map_or(deadline, |s| s.min(deadline));
    let tasks = &built.tasks;
    // Exactly to the deadline: a run that is not done by then fails at the deadline, not
    // at whatever event came after it.
    let result = sim
        .run_until_condition_or(stop, |_| tasks.iter().all(|t| t.is_finished()))
        .map(drop);
    let finished = tasks.iter().all(|t| t.is_finished());
    if opts.stop_at.is_some() || opts.collect_tables {
        *tables_out = tables(&mut sim, &built);
    }
    let verdict = match result {
        Err(RunError::TaskPanicked { panic, .. }) => {
            Err(Failure::new(FailureKind::Panic, format!("{panic:?}")))
        }
        Err(RunError::StepLimit { steps, now, .. }) => Err(Failure::new(
            FailureKind::Stuck,
            format!("step limit after {steps} steps at {now}"),
        )),
        Err(RunError::Idle { now, .. }) if !finished => Err(Failure::new(
            FailureKind::NoProgress,
            format!("nothing left to happen at {now} and the workload is not done"),
        )),
        Err(e @ RunError::TimeLimit { .. }) => {
            Err(Failure::new(FailureKind::Stuck, format!("{e:?}")))
        }
        _ => Ok(()),
    }
    .and_then(|()| {
        if opts.stop_at.is_some() && !finished {
            return Ok(()); // stopped early on request: no verdict on progress
        }
        let mut first_failure = None;
        for t in tasks {
            match t.take() {
                Some(Ok(())) => {}
                Some(Err(f)) => {
                    first_failure.get_or_insert(f);
                }
                None => {
                    first_failure.get_or_insert(Failure::new(
                        FailureKind::NoProgress,
                        format!(
                            "workload not done {} ms after the heal (deadline {deadline})",
                            spec.progress_bound_ms,
                        ),
                    ));
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    })
    .and_then(|()| check_memory(&mut sim, &built, &tcp));
    *out = Some((sim.trace_hash(), sim.now(), sim.steps()));
    verdict
}

/// No socket holds more than its buffers: receive queue within the receive buffer, send
/// queue within the send buffer.
fn check_memory(sim: &mut Sim, built: &Built, tcp: &tcp::Config) -> Result<(), Failure> {
    for (name, node) in &built.hosts {
        let over = sim
            .with_node::<Host, _>(*node, |host, _| {
                host.ss().into_iter().find(|s| {
                    s.recv_q > tcp.recv_buffer_bytes.max(1 << 20)
                        || s.send_q > tcp.send_buffer_bytes.max(1 << 20)
                })
            })
            .flatten();
        if let Some(s) = over {
            return Err(Failure::new(
                FailureKind::Memory,
                format!("{name}: socket over its buffers: {s:?}"),
            ));
        }
    }
    Ok(())
}

/// Who holds which socket: `ss -tuanp` (every holder), `lsof -i` and each process's
/// `/proc/<pid>/fd`, as text.
pub fn process_tables(host: &Host) -> String {
    let mut text = String::from("-- ss -tuanp\n");
    text.push_str(&format!(
        "{:<5} {:<12} {:>6} {:>6} {:<21} {:<21} Process\n",
        "Netid", "State", "Recv-Q", "Send-Q", "Local", "Peer"
    ));
    for row in host.ss_processes() {
        text.push_str(&format!("{row}\n"));
    }
    text.push_str("-- lsof -i\n");
    text.push_str(&format!(
        "{:<15} {:>5} {:>5} TYPE {:>6} NAME\n",
        "COMMAND", "PID", "FD", "NODE"
    ));
    for row in host.lsof() {
        text.push_str(&format!("{row}\n"));
    }
    for p in host.processes() {
        text.push_str(&format!("-- /proc/{}/fd ({})\n", p.pid, p.name));
        for entry in host.proc_fds(p.pid).unwrap_or_default() {
            text.push_str(&format!("{entry}\n"));
        }
    }
    text
}

/// Every host's `ss` table, process views and drop counters, as text.
fn tables(sim: &mut Sim, built: &Built) -> Vec<String> {
    let now = sim.now();
    built
        .hosts
        .iter()
        .filter_map(|(name, node)| {
            sim.with_node::<Host, _>(*node, |host, _| {
                let mut text = format!("== {name} at {now}\n");
                text.push_str(&format!(
                    "{:<4} {:<5} {:<13} {:>8} {:>8} {:<22} {:<22}\n",
                    "fd", "proto", "state", "recv-q", "send-q", "local", "peer"
                ));
                for s in host.ss() {
                    text.push_str(&format!("{s}\n"));
                    // `ss -i`: the connection's TCP_INFO on the line below it.
                    if let (sansnet_stack::iface::Proto::Tcp, Some(local), Some(peer)) =
                        (s.proto, s.local, s.peer)
                    {
                        if let Some(info) = host.tcp_info_of(local, peer) {
                            text.push_str(&format!("\t{info}\n"));
                        }
                    }
                }
                // Who holds what says more than the table above only once a host has
                // processes beyond process 1 (whose descriptors the table shows).
                if host.processes().len() > 1 {
                    text.push_str(&process_tables(host));
                }
                text.push_str(&format!("{}\n", host.counters()));
                text
            })
        })
        .collect()
}
