//! The `sim_run` fuzz target's body: a whole simulation whose run specification comes from
//! the fuzzer's bytes, judged by the scenario invariants. Coverage-guided exploration next
//! to the random sweep: the sweep draws a spec from a seed, this lets libFuzzer steer the
//! spec (scenario, network shape, link faults, partitions and clogs, workload, seed).
//!
//! [`SimInput`] reads a [`RunSpec`] through `arbitrary` from fixed-width little-endian
//! fields (the layout is [`encode`]'s), every one mapped into the bounds a sweep draws from,
//! so that a failure is one a correct stack must not have: the scenarios the registry's
//! built-ins are, the shapes `--topology swarm` draws (direct, switched or routed, 1 to 4
//! client hosts, 1 or 2 routers), the ranges of `FaultProfile::random` for every fault kind
//! (bandwidth tamed to at least 2 Mbit/s as `draw` does), up to four partition or clog
//! windows in `draw`'s ranges, the heal at 20 s at most and never before the last window
//! ends, a workload up to [`MAX_WORKLOAD`] (the progress deadline grows with it as
//! `draw`'s does), and the seed. [`encode`] is the inverse: specs drawn by
//! [`explore::draw_on`] become corpus files (`fuzz/corpus/sim_run/draw-*`).
//!
//! A run that fails is a finding ([`judge`]): the run is repeated with its artefacts
//! (trace, captures, log) and its `replay.json`, the file `sansnet replay` and
//! `sansnet shrink` take, into a directory of its own under [`out_dir`]
//! (`SANSNET_FUZZ_OUT`, by default `fuzz/artifacts/sim_run/`), and then the body panics so
//! that libFuzzer keeps the input. Under libFuzzer a panic inside the run aborts at once
//! (its panic hook), before `scenario::run` can report it: a panic hook installed here
//! writes that run's `replay.json` first (kind `panic`, trace hash unknown).
//!
//! Not part of the API: hidden from the docs, free to change with any commit.
#![doc(hidden)]

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Once, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use sansnet_sim::{
    Direction, Duration, FaultChange, FaultPlan, Instant, LatencyDist, LinkFaults, LossModel,
    Probability,
};

use crate::explore::{self, ReplayFile};
use crate::scenario::{self, Failure, FailureKind, RunSpec, Topology, Workload};
use crate::scenarios::required_plan;
use crate::topology::Shape;

/// The largest workload a fuzzed run gets: every built-in scenario's default workload fits.
pub const MAX_WORKLOAD: Workload = Workload {
    bytes: 256 * 1024,
    clients: 32,
    exchanges: 64,
    message_bytes: 4096,
};

/// The latest heal, in ms (as `draw`'s).
const MAX_HEAL_MS: u64 = explore::HEAL_AT_MS;
/// Timed events (partition or clog windows) in one spec at most.
const MAX_EVENTS: u8 = 4;
/// The slow reader reads `message_bytes` every 5 ms: at least this share of its bytes per
/// read, so that reading ends within 20 s.
const SLOW_READER_READS: u64 = 4000;

/// A run specification read from fuzzer bytes (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct SimInput {
    /// What to run.
    pub spec: RunSpec,
}

/// The built-in scenarios' names, sorted: the scenario byte indexes this.
fn scenario_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = crate::scenarios::builtin()
        .iter()
        .map(|s| s.name())
        .collect();
    names.sort_unstable();
    names
}

/// A value in `lo..=hi` from a raw one: `lo + raw % (hi - lo + 1)`.
fn within(raw: u64, lo: u64, hi: u64) -> u64 {
    lo + raw % (hi - lo + 1)
}

/// The raw value [`within`] maps to `v`, if `v` is in `lo..=hi`.
fn raw_for(v: u64, lo: u64, hi: u64) -> Option<u64> {
    (lo..=hi).contains(&v).then(|| v - lo)
}

/// Reads the fields [`Writer`] writes.
struct Reader<'u, 'a>(&'u mut Unstructured<'a>);

impl Reader<'_, '_> {
    fn u8(&mut self) -> arbitrary::Result<u8> {
        self.0.arbitrary()
    }
    fn u16(&mut self) -> arbitrary::Result<u16> {
        self.0.arbitrary()
    }
    fn u32(&mut self) -> arbitrary::Result<u32> {
        self.0.arbitrary()
    }
    fn u64(&mut self) -> arbitrary::Result<u64> {
        self.0.arbitrary()
    }
    /// A u32 field mapped into `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> arbitrary::Result<u64> {
        Ok(within(u64::from(self.u32()?), lo, hi))
    }
    fn micros(&mut self, hi: u64) -> arbitrary::Result<Duration> {
        Ok(Duration::from_micros(self.range(0, hi)?))
    }
    fn ppm(&mut self, lo: u64, hi: u64) -> arbitrary::Result<Probability> {
        Ok(Probability::per_million(self.range(lo, hi)? as u32))
    }
}

/// Writes fields as `arbitrary` reads them (little-endian integers).
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend(v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend(v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend(v.to_le_bytes());
    }
    /// The u32 field that [`Reader::range`] maps to `v`.
    fn range(&mut self, v: u64, lo: u64, hi: u64) -> Option<()> {
        self.u32(u32::try_from(raw_for(v, lo, hi)?).ok()?);
        Some(())
    }
    fn micros(&mut self, d: Duration, hi: u64) -> Option<()> {
        let us = d.as_micros();
        (d == Duration::from_micros(us as u64)).then_some(())?;
        self.range(us as u64, 0, hi)
    }
    fn ppm(&mut self, p: Probability, lo: u64, hi: u64) -> Option<()> {
        self.range(u64::from(p.as_per_million()), lo, hi)
    }
}

/// Pareto shapes are `1 + k / 1000` (as `FaultProfile::random` draws them).
fn pareto_shape(k: u64) -> f64 {
    1.0 + k as f64 / 1_000.0
}

/// LogNormal sigmas are `k / 1000`.
fn sigma(k: u64) -> f64 {
    k as f64 / 1_000.0
}

/// The faults every link gets at time zero: each kind within `FaultProfile::random`'s
/// ranges, bandwidth at least 2 Mbit/s.
fn read_faults(r: &mut Reader<'_, '_>) -> arbitrary::Result<LinkFaults> {
    let latency = match r.u8()? % 5 {
        0 => LatencyDist::Constant {
            latency: r.micros(100_000)?,
        },
        1 => {
            let min = r.micros(50_000)?;
            LatencyDist::Uniform {
                min,
                max: min + r.micros(50_000)?,
            }
        }
        2 => LatencyDist::Normal {
            mean: r.micros(100_000)?,
            std_dev: r.micros(20_000)?,
        },
        3 => LatencyDist::Pareto {
            scale: r.micros(20_000)?,
            shape: pareto_shape(r.range(0, 2_999)?),
            max: Duration::from_secs(2),
        },
        _ => LatencyDist::LogNormal {
            median: r.micros(20_000)?,
            sigma: sigma(r.range(0, 1_000)?),
            max: Duration::from_millis(200),
        },
    };
    let jitter = r.micros(20_000)?;
    let loss = match r.u8()? % 3 {
        0 => LossModel::None,
        1 => LossModel::Independent {
            rate: r.ppm(0, 100_000)?,
        },
        _ => LossModel::GilbertElliott {
            good_to_bad: r.ppm(0, 50_000)?,
            bad_to_good: r.ppm(50_000, 500_000)?,
            loss_in_good: r.ppm(0, 5_000)?,
            loss_in_bad: r.ppm(0, 800_000)?,
        },
    };
    let reorder = r.ppm(0, 100_000)?;
    let reorder_delay = r.micros(50_000)?;
    let duplicate = r.ppm(0, 50_000)?;
    let corrupt = r.ppm(0, 20_000)?;
    let (bandwidth_bps, queue_limit_bytes) = if r.u8()? & 1 == 1 {
        let bps = r.range(2_000_000, 1_000_000_000)?;
        (Some(bps), r.range(16 * 1024, 4 << 20)?)
    } else {
        (None, LinkFaults::default().queue_limit_bytes)
    };
    Ok(LinkFaults {
        latency,
        jitter,
        loss,
        reorder,
        reorder_delay,
        duplicate,
        corrupt,
        bandwidth_bps,
        queue_limit_bytes,
        ..LinkFaults::default()
    })
}

fn write_faults(w: &mut Writer, f: &LinkFaults) -> Option<()> {
    let plain = LinkFaults {
        latency: LatencyDist::default(),
        jitter: Duration::ZERO,
        loss: LossModel::None,
        reorder: Probability::NEVER,
        reorder_delay: Duration::ZERO,
        duplicate: Probability::NEVER,
        corrupt: Probability::NEVER,
        bandwidth_bps: None,
        queue_limit_bytes: LinkFaults::default().queue_limit_bytes,
        ..f.clone()
    };
    // What the format cannot say (an MTU, a link down) must be as the default has it.
    (plain == LinkFaults::default()).then_some(())?;
    match f.latency {
        LatencyDist::Constant { latency } => {
            w.u8(0);
            w.micros(latency, 100_000)?;
        }
        LatencyDist::Uniform { min, max } => {
            w.u8(1);
            w.micros(min, 50_000)?;
            w.micros(max.checked_sub(min)?, 50_000)?;
        }
        LatencyDist::Normal { mean, std_dev } => {
            w.u8(2);
            w.micros(mean, 100_000)?;
            w.micros(std_dev, 20_000)?;
        }
        LatencyDist::Pareto { scale, shape, max } => {
            w.u8(3);
            w.micros(scale, 20_000)?;
            let k = ((shape - 1.0) * 1_000.0).round();
            (k >= 0.0 && pareto_shape(k as u64) == shape && max == Duration::from_secs(2))
                .then_some(())?;
            w.range(k as u64, 0, 2_999)?;
        }
        LatencyDist::LogNormal {
            median,
            sigma: s,
            max,
        } => {
            w.u8(4);
            w.micros(median, 20_000)?;
            let k = (s * 1_000.0).round();
            (k >= 0.0 && sigma(k as u64) == s && max == Duration::from_millis(200)).then_some(())?;
            w.range(k as u64, 0, 1_000)?;
        }
    }
    w.micros(f.jitter, 20_000)?;
    match f.loss {
        LossModel::None => w.u8(0),
        LossModel::Independent { rate } => {
            w.u8(1);
            w.ppm(rate, 0, 100_000)?;
        }
        LossModel::GilbertElliott {
            good_to_bad,
            bad_to_good,
            loss_in_good,
            loss_in_bad,
        } => {
            w.u8(2);
            w.ppm(good_to_bad, 0, 50_000)?;
            w.ppm(bad_to_good, 50_000, 500_000)?;
            w.ppm(loss_in_good, 0, 5_000)?;
            w.ppm(loss_in_bad, 0, 800_000)?;
        }
    }
    w.ppm(f.reorder, 0, 100_000)?;
    w.micros(f.reorder_delay, 50_000)?;
    w.ppm(f.duplicate, 0, 50_000)?;
    w.ppm(f.corrupt, 0, 20_000)?;
    match f.bandwidth_bps {
        None => w.u8(0),
        Some(bps) => {
            w.u8(1);
            w.range(bps, 2_000_000, 1_000_000_000)?;
            w.range(f.queue_limit_bytes, 16 * 1024, 4 << 20)?;
        }
    }
    Some(())
}

/// A partition or clog window: as `draw`'s, from 0.1 to 10 s, for 50 ms to 6 s.
fn read_window(r: &mut Reader<'_, '_>) -> arbitrary::Result<(Instant, Instant)> {
    let start = within(u64::from(r.u16()?), 100, 10_000);
    let len = within(u64::from(r.u16()?), 50, 6_000);
    Ok((
        Instant::from_millis(start),
        Instant::from_millis(start + len),
    ))
}

fn write_window(w: &mut Writer, from: Instant, to: Instant) -> Option<()> {
    let (start, end) = (from.as_millis(), to.as_millis());
    (from == Instant::from_millis(start) && to == Instant::from_millis(end)).then_some(())?;
    w.u16(raw_for(start, 100, 10_000)? as u16);
    w.u16(raw_for(end.checked_sub(start)?, 50, 6_000)? as u16);
    Some(())
}

/// Reads up to [`MAX_EVENTS`] partition and clog windows onto `plan`.
fn read_events(
    r: &mut Reader<'_, '_>,
    topology: &Topology,
    plan: &mut FaultPlan,
) -> arbitrary::Result<()> {
    let cuts = topology.partitions();
    for _ in 0..r.u8()? % (MAX_EVENTS + 1) {
        let kind = r.u8()?;
        let (from, to) = read_window(r)?;
        let which = usize::from(r.u8()?);
        if kind & 1 == 0 && !cuts.is_empty() {
            let (a, b) = cuts[which % cuts.len()].clone();
            let two_way = kind & 2 != 0;
            plan.push(
                from,
                FaultChange::Partition {
                    from: a,
                    to: b,
                    two_way,
                },
            );
            plan.push(to, FaultChange::Heal);
        } else if !topology.links.is_empty() {
            let link = topology.links[which % topology.links.len()].clone();
            let direction = if kind & 2 != 0 {
                Direction::Both
            } else {
                Direction::AToB
            };
            plan.push(
                from,
                FaultChange::Clog {
                    link: link.clone(),
                    direction,
                },
            );
            plan.push(to, FaultChange::Unclog { link, direction });
        }
    }
    Ok(())
}

/// The timed events of `changes` (a plan without its required part and its time-zero
/// link faults), as [`read_events`] reads them: partitions, then clogs, each closed by
/// the next heal or unclog of the same link.
fn write_events(
    w: &mut Writer,
    topology: &Topology,
    changes: &[(Instant, FaultChange)],
) -> Option<()> {
    let cuts = topology.partitions();
    let mut events = Vec::new();
    let mut used = vec![false; changes.len()];
    for (i, (at, change)) in changes.iter().enumerate() {
        if used[i] {
            continue;
        }
        let closes = |c: &FaultChange| match (change, c) {
            (FaultChange::Partition { .. }, FaultChange::Heal) => true,
            (
                FaultChange::Clog { link, direction },
                FaultChange::Unclog {
                    link: l,
                    direction: d,
                },
            ) => link == l && direction == d,
            _ => false,
        };
        let j = (i + 1..changes.len()).find(|&j| !used[j] && closes(&changes[j].1))?;
        used[i] = true;
        used[j] = true;
        let (kind, which) = match change {
            FaultChange::Partition { from, to, two_way } => {
                let cut = cuts.iter().position(|(a, b)| a == from && b == to)?;
                (if *two_way { 2 } else { 0 }, cut)
            }
            FaultChange::Clog { link, direction } => {
                let at = topology.links.iter().position(|l| l == link)?;
                match direction {
                    Direction::Both => (3, at),
                    Direction::AToB => (1, at),
                    Direction::BToA => return None,
                }
            }
            _ => return None,
        };
        events.push((kind, *at, changes[j].0, which));
    }
    (events.len() <= usize::from(MAX_EVENTS)).then_some(())?;
    w.u8(events.len() as u8);
    for (kind, from, to, which) in events {
        w.u8(kind);
        write_window(w, from, to)?;
        w.u8(u8::try_from(which).ok()?);
    }
    Some(())
}

/// A shape as `--topology swarm` draws them.
fn read_shape(r: &mut Reader<'_, '_>) -> arbitrary::Result<Shape> {
    let (kind, hosts, routers) = (r.u8()?, r.u8()?, r.u8()?);
    let client_hosts = 1 + u32::from(hosts % 4);
    Ok(match kind % 3 {
        0 => Shape::Direct,
        1 => Shape::Switched { client_hosts },
        _ => Shape::Routed {
            client_hosts,
            routers: 1 + u32::from(routers % 2),
        },
    })
}

fn write_shape(w: &mut Writer, shape: &Shape) -> Option<()> {
    let (kind, hosts, routers) = match *shape {
        Shape::Direct => (0, 1, 1),
        Shape::Switched { client_hosts } => (1, client_hosts, 1),
        Shape::Routed {
            client_hosts,
            routers,
        } => (2, client_hosts, routers),
    };
    w.u8(kind);
    w.u8(u8::try_from(raw_for(u64::from(hosts), 1, 4)?).ok()?);
    w.u8(u8::try_from(raw_for(u64::from(routers), 1, 2)?).ok()?);
    Some(())
}

/// A workload within [`MAX_WORKLOAD`]; the slow reader reads at least 1/4000 of its bytes
/// per 5 ms, so that reading takes 20 s at most.
fn read_workload(r: &mut Reader<'_, '_>, scenario: &str) -> arbitrary::Result<Workload> {
    let m = MAX_WORKLOAD;
    let mut w = Workload {
        bytes: r.range(0, m.bytes)?,
        clients: within(u64::from(r.u8()?), 1, u64::from(m.clients)) as u32,
        exchanges: within(u64::from(r.u8()?), 0, u64::from(m.exchanges)) as u32,
        message_bytes: within(u64::from(r.u16()?), 0, u64::from(m.message_bytes)) as u32,
    };
    if scenario == "slow-reader" {
        w.message_bytes = w
            .message_bytes
            .max(w.bytes.div_ceil(SLOW_READER_READS) as u32);
    }
    Ok(w)
}

fn write_workload(w: &mut Writer, wl: &Workload) -> Option<()> {
    let m = MAX_WORKLOAD;
    w.range(wl.bytes, 0, m.bytes)?;
    w.u8(u8::try_from(raw_for(u64::from(wl.clients), 1, u64::from(m.clients))?).ok()?);
    w.u8(u8::try_from(raw_for(u64::from(wl.exchanges), 0, u64::from(m.exchanges))?).ok()?);
    w.u16(
        u16::try_from(raw_for(
            u64::from(wl.message_bytes),
            0,
            u64::from(m.message_bytes),
        )?)
        .ok()?,
    );
    Some(())
}

/// The latest instant `plan` changes anything, in ms (rounded up).
fn last_change_ms(plan: &FaultPlan) -> u64 {
    plan.changes
        .iter()
        .map(|c| c.at.as_nanos().div_ceil(1_000_000))
        .max()
        .unwrap_or(0)
}

impl<'a> Arbitrary<'a> for SimInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<SimInput> {
        let mut r = Reader(u);
        let names = scenario_names();
        let name = names[usize::from(r.u8()?) % names.len()];
        let scenario = scenario::lookup(name).ok_or(arbitrary::Error::IncorrectFormat)?;
        let seed = r.u64()?;
        let shape = read_shape(&mut r)?;
        let workload = read_workload(&mut r, name)?;
        let fcs_check = r.u8()? & 1 == 1;
        let heal_ms = within(u64::from(r.u16()?), 0, MAX_HEAL_MS);
        let faults = read_faults(&mut r)?;
        let topology = scenario.topology(&workload, &shape);
        let mut plan = required_plan(name, &topology);
        plan.set_links(Instant::ZERO, &topology.links, &faults);
        read_events(&mut r, &topology, &mut plan)?;
        plan.changes.sort_by_key(|c| c.at);
        let heal_at_ms = heal_ms.max(last_change_ms(&plan));
        Ok(SimInput {
            spec: RunSpec {
                scenario: name.to_owned(),
                seed,
                profile: "random".to_owned(),
                progress_bound_ms: explore::progress_bound_for(&workload),
                workload,
                topology: shape,
                plan,
                heal_at_ms,
                fcs_check,
                planted: None,
            },
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<SimInput> {
        Self::arbitrary(&mut u)
    }
}

/// The bytes [`SimInput`] reads `spec` from, if the format can say it (a spec drawn by
/// [`explore::draw_on`] with a random profile and a small workload can be said): checked by
/// reading them back.
pub fn encode(spec: &RunSpec) -> Option<Vec<u8>> {
    let names = scenario_names();
    let scenario = scenario::lookup(&spec.scenario)?;
    let mut w = Writer::default();
    w.u8(names.iter().position(|n| *n == spec.scenario)? as u8);
    w.u64(spec.seed);
    write_shape(&mut w, &spec.topology)?;
    write_workload(&mut w, &spec.workload)?;
    w.u8(u8::from(spec.fcs_check));
    w.u16(u16::try_from(raw_for(spec.heal_at_ms, 0, MAX_HEAL_MS)?).ok()?);
    let topology = scenario.topology(&spec.workload, &spec.topology);
    // The plan: the scenario's required changes, the links' faults at zero, the events.
    let mut rest: Vec<(Instant, FaultChange)> = spec
        .plan
        .changes
        .iter()
        .map(|c| (c.at, c.change.clone()))
        .collect();
    for required in required_plan(&spec.scenario, &topology).changes {
        let i = rest
            .iter()
            .position(|(at, c)| *at == required.at && *c == required.change)?;
        rest.remove(i);
    }
    let mut faults = None;
    for link in &topology.links {
        let i = rest.iter().position(|(at, c)| {
            *at == Instant::ZERO
                && matches!(c, FaultChange::SetLink { link: l, direction: Direction::Both, .. } if l == link)
        })?;
        let (_, FaultChange::SetLink { faults: f, .. }) = rest.remove(i) else {
            return None;
        };
        if faults.as_ref().is_some_and(|g| *g != f) {
            return None;
        }
        faults = Some(f);
    }
    write_faults(&mut w, &faults.unwrap_or_default())?;
    write_events(&mut w, &topology, &rest)?;
    let bytes = w.0;
    let back = SimInput::arbitrary_take_rest(Unstructured::new(&bytes)).ok()?;
    (back.spec == *spec).then_some(bytes)
}

// ----------------------------------------------------------------------------------------
// Findings

/// A run that broke an invariant, with where its replay file is.
#[derive(Debug)]
pub struct Finding {
    /// How it failed.
    pub failure: Failure,
    /// Its `replay.json`, for `sansnet replay` and `sansnet shrink`.
    pub replay: PathBuf,
    /// What else went wrong while recording it (the run again gave another result, an
    /// artefact could not be written).
    pub note: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sim_run finding: {}\n  replay: sansnet replay {}\n  shrink: sansnet shrink {}",
            self.failure,
            self.replay.display(),
            self.replay.display()
        )?;
        if let Some(note) = &self.note {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Finding {}

/// Where findings go: `SANSNET_FUZZ_OUT`, or `fuzz/artifacts/sim_run` (relative to the
/// directory the fuzzer runs in, the repository root for `cargo fuzz` and `ci/fuzz`).
pub fn out_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("SANSNET_FUZZ_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("fuzz/artifacts/sim_run"))
    })
}

/// The directory of `spec`'s artefacts under `out`: the scenario, the seed, and a hash of
/// the whole spec (two inputs with one seed differ elsewhere).
pub fn finding_dir(spec: &RunSpec, out: &Path) -> PathBuf {
    let json = serde_json::to_vec(spec).unwrap_or_default();
    let hash = sansnet_stack::hash::siphash24(&sansnet_stack::hash::SecretKey([0x5f; 16]), &json);
    out.join(format!("{}-{}-{hash:016x}", spec.scenario, spec.seed))
}

thread_local! {
    /// The spec being run and its finding directory, for the panic hook.
    static RUNNING: RefCell<Option<(RunSpec, PathBuf)>> = const { RefCell::new(None) };
}

fn save_replay(
    spec: &RunSpec,
    failure: &Failure,
    trace_hash: &str,
    dir: &Path,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("replay.json");
    ReplayFile {
        spec: spec.clone(),
        failure: failure.clone(),
        trace_hash: trace_hash.to_owned(),
        version: explore::VERSION.to_owned(),
        git_commit: explore::GIT_COMMIT.to_owned(),
    }
    .save(&path)?;
    Ok(path)
}

/// Installs (once) a panic hook that writes the running spec's `replay.json` before the
/// hook that was there (libFuzzer's aborts the process).
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let running = RUNNING.try_with(|r| r.borrow_mut().take()).ok().flatten();
            if let Some((spec, dir)) = running {
                let failure = Failure::new(FailureKind::Panic, info.to_string());
                match save_replay(&spec, &failure, "unknown: the run panicked", &dir) {
                    Ok(path) => eprintln!("sim_run: panic; replay file {}", path.display()),
                    Err(e) => eprintln!("sim_run: panic; the replay file failed: {e}"),
                }
            }
            previous(info);
        }));
    });
}

/// Runs `spec` with `RUNNING` set for the panic hook.
fn run_watched<T>(spec: &RunSpec, dir: &Path, run: impl FnOnce() -> T) -> T {
    RUNNING.with(|r| *r.borrow_mut() = Some((spec.clone(), dir.to_owned())));
    let out = run();
    RUNNING.with(|r| *r.borrow_mut() = None);
    out
}

/// Runs `spec` and judges it by the scenario invariants. A failure is written under `out`
/// (see the module documentation) and returned.
pub fn judge(spec: &RunSpec, out: &Path) -> Result<(), Finding> {
    install_panic_hook();
    let dir = finding_dir(spec, out);
    let outcome = run_watched(spec, &dir, || scenario::run(spec));
    let Err(failure) = outcome.result else {
        return Ok(());
    };
    let again = run_watched(spec, &dir, || explore::write_artefacts(spec, &dir));
    let hash = outcome.trace_hash.to_string();
    let (replay, note) = match again {
        Ok((rerun, Some(path))) if rerun.trace_hash == outcome.trace_hash => (Ok(path), None),
        Ok((rerun, _)) => (
            save_replay(spec, &failure, &hash, &dir),
            Some(format!(
                "nondeterministic: the same spec again gave {:?} with trace hash {} (first: {hash})",
                rerun.result, rerun.trace_hash
            )),
        ),
        Err(e) => (
            save_replay(spec, &failure, &hash, &dir),
            Some(format!("artefacts: {e}")),
        ),
    };
    let replay = replay.unwrap_or_else(|e| dir.join(format!("replay.json (not written: {e})")));
    Err(Finding {
        failure,
        replay,
        note,
    })
}

/// [`judge`] on the spec that `data` reads as, with findings under `out`; panics on one.
pub fn sim_run_in(data: &[u8], out: &Path) {
    let Ok(input) = SimInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if let Err(finding) = judge(&input.spec, out) {
        panic!("{finding}");
    }
}

/// The `sim_run` target: [`sim_run_in`] with findings under [`out_dir`].
pub fn sim_run(data: &[u8]) {
    sim_run_in(data, out_dir());
}
