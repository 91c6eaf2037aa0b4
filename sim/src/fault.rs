//! Faults: what a link direction does to the frames it carries, and the plan that changes
//! it over time.
//!
//! Everything here is data. A [`FaultPlan`] is a list of `(when, change)` pairs that
//! serialises to JSON, so a failing run's plan can be saved, replayed and shrunk by editing
//! the list. Randomness is drawn by the link from its own stream, never here, except in
//! [`FaultProfile::random`] which draws a whole profile from the generator it is given.

use sansnet_stack::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

use crate::detmath;
use crate::rng::{Probability, SimRng};
use crate::serde_ns;

/// How long a frame spends on the wire after its last bit leaves the sender.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LatencyDist {
    /// Always the same.
    Constant {
        /// The latency.
        #[serde(with = "serde_ns::duration", rename = "latency_ns")]
        latency: Duration,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        #[serde(with = "serde_ns::duration", rename = "min_ns")]
        min: Duration,
        /// Upper bound.
        #[serde(with = "serde_ns::duration", rename = "max_ns")]
        max: Duration,
    },
    /// Approximately normal (Irwin-Hall: the sum of 12 uniforms, exact integer arithmetic),
    /// clamped to `[0, mean + 6 std_dev]`.
    Normal {
        /// Mean.
        #[serde(with = "serde_ns::duration", rename = "mean_ns")]
        mean: Duration,
        /// Standard deviation.
        #[serde(with = "serde_ns::duration", rename = "std_dev_ns")]
        std_dev: Duration,
    },
    /// Pareto (heavy-tailed): `scale / U^(1/shape)`, capped at `max`.
    Pareto {
        /// The minimum value (x_m).
        #[serde(with = "serde_ns::duration", rename = "scale_ns")]
        scale: Duration,
        /// The tail index alpha; smaller is heavier. Must be positive.
        shape: f64,
        /// Cap, so one unlucky frame does not arrive after the end of the test.
        #[serde(with = "serde_ns::duration", rename = "max_ns")]
        max: Duration,
    },
    /// Log-normal: `median * e^(sigma Z)`, Z approximately standard normal, capped at `max`.
    LogNormal {
        /// The median.
        #[serde(with = "serde_ns::duration", rename = "median_ns")]
        median: Duration,
        /// Standard deviation of the logarithm.
        sigma: f64,
        /// Cap.
        #[serde(with = "serde_ns::duration", rename = "max_ns")]
        max: Duration,
    },
}

impl Default for LatencyDist {
    fn default() -> Self {
        LatencyDist::Constant {
            latency: Duration::ZERO,
        }
    }
}

/// An approximately standard-normal value times 2^32, from 12 uniform 32-bit draws
/// (Irwin-Hall): integer only, so identical everywhere. Range is [-6, 6].
fn irwin_hall_z_q32(rng: &mut SimRng) -> i128 {
    let sum: i128 = (0..12).map(|_| i128::from(rng.next_u32())).sum();
    sum - 6 * (1i128 << 32)
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A float number of nanoseconds as a duration, saturating (NaN counts as the cap).
fn from_f64_ns(v: f64, cap: Duration) -> Duration {
    let cap_ns = ns(cap);
    if v.is_nan() || v >= cap_ns as f64 {
        return cap;
    }
    if v <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(v as u64)
}

impl LatencyDist {
    /// One sample.
    pub fn sample(&self, rng: &mut SimRng) -> Duration {
        match *self {
            LatencyDist::Constant { latency } => latency,
            LatencyDist::Uniform { min, max } => {
                Duration::from_nanos(rng.range_inclusive(ns(min), ns(max)))
            }
            LatencyDist::Normal { mean, std_dev } => {
                let offset = (i128::from(ns(std_dev)) * irwin_hall_z_q32(rng)) >> 32;
                let v = (i128::from(ns(mean)) + offset).max(0);
                Duration::from_nanos(u64::try_from(v).unwrap_or(u64::MAX))
            }
            LatencyDist::Pareto { scale, shape, max } => {
                let u = rng.unit_f64_nonzero();
                let shape = if shape > 0.0 { shape } else { 1.0 };
                from_f64_ns(ns(scale) as f64 * detmath::powf(u, -1.0 / shape), max)
            }
            LatencyDist::LogNormal { median, sigma, max } => {
                let z = irwin_hall_z_q32(rng) as f64 / (1u64 << 32) as f64;
                from_f64_ns(ns(median) as f64 * detmath::exp(sigma * z), max)
            }
        }
    }
}

/// Which frames are lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LossModel {
    /// None.
    #[default]
    None,
    /// Each frame independently.
    Independent {
        /// Loss probability.
        rate: Probability,
    },
    /// Bursty: the Gilbert-Elliott two-state Markov chain. The state steps once per frame,
    /// then the frame is lost with the loss probability of the state it is in.
    GilbertElliott {
        /// Good to bad, per frame (p).
        good_to_bad: Probability,
        /// Bad to good, per frame (r).
        bad_to_good: Probability,
        /// Loss in the good state (1 - k).
        loss_in_good: Probability,
        /// Loss in the bad state (1 - h).
        loss_in_bad: Probability,
    },
}

/// Everything one direction of a link does to frames. The default is an ideal wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkFaults {
    /// Propagation delay distribution.
    pub latency: LatencyDist,
    /// Extra uniform delay in `[0, jitter]`. Frames still arrive in order unless picked for
    /// reordering: a wire does not reorder by itself.
    #[serde(with = "serde_ns::duration", rename = "jitter_ns")]
    pub jitter: Duration,
    /// Loss.
    pub loss: LossModel,
    /// Fraction of frames held back by `reorder_delay`, so later frames overtake them.
    pub reorder: Probability,
    /// How long a reordered frame is held back.
    #[serde(with = "serde_ns::duration", rename = "reorder_delay_ns")]
    pub reorder_delay: Duration,
    /// Fraction of frames delivered twice (the copy with its own latency draw).
    pub duplicate: Probability,
    /// Fraction of frames with one flipped bit. A receiver's frame check sequence drops them
    /// unless FCS checking is off, in which case IP/TCP/UDP checksums must catch them.
    pub corrupt: Probability,
    /// Serialisation rate in bits per second; `None` is infinitely fast.
    pub bandwidth_bps: Option<u64>,
    /// Bytes that may wait for the serialiser; a frame that does not fit is tail-dropped.
    pub queue_limit_bytes: u64,
    /// Largest Ethernet payload (the IP MTU) carried; larger frames are dropped.
    pub mtu_bytes: Option<u32>,
    /// The direction is cut: every frame is dropped (a one-way link partition).
    pub down: bool,
}

impl LinkFaults {
    /// Whether a frame through these faults may draw from the direction's random streams
    /// (loss, corruption, duplication, reordering, a latency that is not constant, jitter).
    pub(crate) fn may_draw(&self) -> bool {
        !matches!(self.loss, LossModel::None)
            || !self.corrupt.is_never()
            || !self.duplicate.is_never()
            || !self.reorder.is_never()
            || !matches!(self.latency, LatencyDist::Constant { .. })
            || !self.jitter.is_zero()
    }
}

impl Default for LinkFaults {
    fn default() -> Self {
        LinkFaults {
            latency: LatencyDist::default(),
            jitter: Duration::ZERO,
            loss: LossModel::None,
            reorder: Probability::NEVER,
            reorder_delay: Duration::ZERO,
            duplicate: Probability::NEVER,
            corrupt: Probability::NEVER,
            bandwidth_bps: None,
            queue_limit_bytes: 1 << 20,
            mtu_bytes: None,
            down: false,
        }
    }
}

impl LinkFaults {
    /// An ideal wire with a constant latency.
    pub fn with_latency(latency: Duration) -> LinkFaults {
        LinkFaults {
            latency: LatencyDist::Constant { latency },
            ..LinkFaults::default()
        }
    }
}

/// A named set of link faults, for whole-network presets and swarm testing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultProfile {
    /// The profile's name (`"lan"`, `"wan"`, ..., `"random"`).
    pub name: String,
    /// What every link direction gets.
    pub faults: LinkFaults,
}

impl FaultProfile {
    /// The names [`by_name`](Self::by_name) knows.
    pub const NAMES: [&'static str; 5] = ["ideal", "lan", "wan", "lossy_wireless", "satellite"];

    fn named(name: &str, faults: LinkFaults) -> FaultProfile {
        FaultProfile {
            name: name.to_owned(),
            faults,
        }
    }

    /// No faults at all, zero latency.
    pub fn ideal() -> FaultProfile {
        Self::named("ideal", LinkFaults::default())
    }

    /// A switched gigabit LAN: 50 us, a little jitter, 1500-byte MTU.
    pub fn lan() -> FaultProfile {
        Self::named(
            "lan",
            LinkFaults {
                latency: LatencyDist::Constant {
                    latency: Duration::from_micros(50),
                },
                jitter: Duration::from_micros(10),
                bandwidth_bps: Some(1_000_000_000),
                queue_limit_bytes: 256 * 1024,
                mtu_bytes: Some(1500),
                ..LinkFaults::default()
            },
        )
    }

    /// A continental WAN path: 30 ms +- 5 ms, rare loss, reordering and duplication.
    pub fn wan() -> FaultProfile {
        Self::named(
            "wan",
            LinkFaults {
                latency: LatencyDist::Normal {
                    mean: Duration::from_millis(30),
                    std_dev: Duration::from_millis(5),
                },
                loss: LossModel::Independent {
                    rate: Probability::per_million(1_000),
                },
                reorder: Probability::per_million(5_000),
                reorder_delay: Duration::from_millis(5),
                duplicate: Probability::per_million(100),
                bandwidth_bps: Some(100_000_000),
                queue_limit_bytes: 1 << 20,
                mtu_bytes: Some(1500),
                ..LinkFaults::default()
            },
        )
    }

    /// Wi-Fi at the edge of range: heavy-tailed latency, bursty loss, some corruption.
    pub fn lossy_wireless() -> FaultProfile {
        Self::named(
            "lossy_wireless",
            LinkFaults {
                latency: LatencyDist::LogNormal {
                    median: Duration::from_millis(5),
                    sigma: 0.5,
                    max: Duration::from_millis(200),
                },
                loss: LossModel::GilbertElliott {
                    good_to_bad: Probability::percent(1),
                    bad_to_good: Probability::percent(20),
                    loss_in_good: Probability::per_million(1_000),
                    loss_in_bad: Probability::percent(50),
                },
                duplicate: Probability::per_million(1_000),
                corrupt: Probability::per_million(1_000),
                bandwidth_bps: Some(20_000_000),
                queue_limit_bytes: 128 * 1024,
                mtu_bytes: Some(1500),
                ..LinkFaults::default()
            },
        )
    }

    /// A geostationary hop: 300 ms one way, jitter, some loss, thin pipe.
    pub fn satellite() -> FaultProfile {
        Self::named(
            "satellite",
            LinkFaults {
                latency: LatencyDist::Constant {
                    latency: Duration::from_millis(300),
                },
                jitter: Duration::from_millis(20),
                loss: LossModel::Independent {
                    rate: Probability::per_million(5_000),
                },
                bandwidth_bps: Some(10_000_000),
                queue_limit_bytes: 512 * 1024,
                mtu_bytes: Some(1500),
                ..LinkFaults::default()
            },
        )
    }

    /// A profile by name (one of [`NAMES`](Self::NAMES)).
    pub fn by_name(name: &str) -> Option<FaultProfile> {
        Some(match name {
            "ideal" => Self::ideal(),
            "lan" => Self::lan(),
            "wan" => Self::wan(),
            "lossy_wireless" => Self::lossy_wireless(),
            "satellite" => Self::satellite(),
            _ => return None,
        })
    }

    /// Swarm testing: each fault kind is switched on with probability one half, and when on
    /// it gets a strength drawn from a range that still lets a protocol make progress. Runs
    /// with few kinds on find the bugs that many kinds together would mask.
    pub fn random(rng: &mut SimRng) -> FaultProfile {
        let mut on = || rng.next_u32() & 1 == 1;
        let (latency_on, jitter_on, loss_on, bursty, reorder_on, dup_on, corrupt_on, bw_on) =
            (on(), on(), on(), on(), on(), on(), on(), on());
        let mut faults = LinkFaults::default();
        if latency_on {
            faults.latency = match rng.below(4) {
                0 => LatencyDist::Constant {
                    latency: Duration::from_micros(rng.range_inclusive(10, 100_000)),
                },
                1 => {
                    let min_us = rng.range_inclusive(10, 50_000);
                    LatencyDist::Uniform {
                        min: Duration::from_micros(min_us),
                        max: Duration::from_micros(min_us + rng.range_inclusive(0, 50_000)),
                    }
                }
                2 => LatencyDist::Normal {
                    mean: Duration::from_micros(rng.range_inclusive(100, 100_000)),
                    std_dev: Duration::from_micros(rng.range_inclusive(0, 20_000)),
                },
                _ => LatencyDist::Pareto {
                    scale: Duration::from_micros(rng.range_inclusive(100, 20_000)),
                    shape: 1.0 + rng.below(3_000) as f64 / 1_000.0,
                    max: Duration::from_secs(2),
                },
            };
        }
        if jitter_on {
            faults.jitter = Duration::from_micros(rng.range_inclusive(1, 20_000));
        }
        if loss_on {
            faults.loss = if bursty {
                LossModel::GilbertElliott {
                    good_to_bad: Probability::per_million(rng.range_inclusive(100, 50_000) as u32),
                    bad_to_good: Probability::per_million(
                        rng.range_inclusive(50_000, 500_000) as u32
                    ),
                    loss_in_good: Probability::per_million(rng.range_inclusive(0, 5_000) as u32),
                    loss_in_bad: Probability::per_million(
                        rng.range_inclusive(100_000, 800_000) as u32
                    ),
                }
            } else {
                LossModel::Independent {
                    rate: Probability::per_million(rng.range_inclusive(100, 100_000) as u32),
                }
            };
        }
        if reorder_on {
            faults.reorder = Probability::per_million(rng.range_inclusive(100, 100_000) as u32);
            faults.reorder_delay = Duration::from_micros(rng.range_inclusive(100, 50_000));
        }
        if dup_on {
            faults.duplicate = Probability::per_million(rng.range_inclusive(100, 50_000) as u32);
        }
        if corrupt_on {
            faults.corrupt = Probability::per_million(rng.range_inclusive(100, 20_000) as u32);
        }
        if bw_on {
            faults.bandwidth_bps = Some(rng.range_inclusive(1_000_000, 1_000_000_000));
            faults.queue_limit_bytes = rng.range_inclusive(16 * 1024, 4 << 20);
        }
        FaultProfile {
            name: "random".to_owned(),
            faults,
        }
    }
}

/// Which direction(s) of a link a change applies to. A link joins end `a` (its first
/// argument) to end `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Frames from `a` to `b`.
    AToB,
    /// Frames from `b` to `a`.
    BToA,
    /// Both.
    Both,
}

impl Direction {
    /// The direction indices (0 for a to b, 1 for b to a) this selects.
    pub(crate) fn indices(self) -> &'static [usize] {
        match self {
            Direction::AToB => &[0],
            Direction::BToA => &[1],
            Direction::Both => &[0, 1],
        }
    }
}

/// One change to the network, applied at a point in simulated time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum FaultChange {
    /// Replace the faults of a link direction.
    SetLink {
        /// Link name.
        link: String,
        /// Which direction(s).
        direction: Direction,
        /// The new faults.
        faults: LinkFaults,
    },
    /// Hold every frame arriving over the link (from now on, and those in flight) until
    /// unclogged; none is lost.
    Clog {
        /// Link name.
        link: String,
        /// Which direction(s).
        direction: Direction,
    },
    /// Release held frames, in order, now.
    Unclog {
        /// Link name.
        link: String,
        /// Which direction(s).
        direction: Direction,
    },
    /// Drop every frame sent by a node in `from` to a node in `to` (and back when `two_way`),
    /// wherever it goes through.
    Partition {
        /// Sending nodes.
        from: Vec<String>,
        /// Receiving nodes.
        to: Vec<String>,
        /// Also block `to` -> `from`.
        two_way: bool,
    },
    /// Cut a node off from every other node, both ways.
    Isolate {
        /// Node name.
        node: String,
    },
    /// Remove every node partition and isolation.
    Heal,
    /// The node stops: it receives and sends nothing and its timers stop.
    Crash {
        /// Node name.
        node: String,
    },
    /// A crashed node is rebuilt by its factory and starts again.
    Restart {
        /// Node name.
        node: String,
    },
}

/// A change and when it happens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// When.
    #[serde(with = "serde_ns::instant", rename = "at_ns")]
    pub at: Instant,
    /// What.
    #[serde(flatten)]
    pub change: FaultChange,
}

/// A schedule of changes: data, so replay and shrinking can read and edit it. Changes at the
/// same instant apply in list order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The changes, in any order (they are applied by time, then list position).
    pub changes: Vec<PlannedChange>,
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Adds `change` at `at`; chains.
    pub fn at(mut self, at: Instant, change: FaultChange) -> FaultPlan {
        self.push(at, change);
        self
    }

    /// Adds `change` at `at`.
    pub fn push(&mut self, at: Instant, change: FaultChange) {
        self.changes.push(PlannedChange { at, change });
    }

    /// Sets each of `links`, both directions, to `faults` at `at`.
    pub fn set_links(&mut self, at: Instant, links: &[String], faults: &LinkFaults) {
        for link in links {
            self.push(
                at,
                FaultChange::SetLink {
                    link: link.clone(),
                    direction: Direction::Both,
                    faults: faults.clone(),
                },
            );
        }
    }

    /// The plan as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A plan from JSON.
    pub fn from_json(text: &str) -> Result<FaultPlan, serde_json::Error> {
        serde_json::from_str(text)
    }
}
