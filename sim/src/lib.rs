//! The deterministic simulator of sansnet.
//!
//! One thread, one virtual clock, one event queue ordered by (time, insertion sequence): a
//! run is a pure function of its [`Seed`], its topology, its [`FaultPlan`] and its workload,
//! so any failure replays exactly from the one line it prints.
//!
//! - [`Sim`]: nodes (anything implementing [`Endpoint`]) with virtual NICs, joined by
//!   point-to-point links and learning switches; run controls (`step`, `run_until`,
//!   `run_for`, `run_until_idle`, `run_until_condition`), each bounded by [`Limits`].
//! - [`fault`]: per-direction link faults (latency distributions, jitter, independent and
//!   bursty loss, reordering, duplication, corruption, bandwidth and queue, MTU, cuts),
//!   node partitions, clogging, crashes and restarts, as serialisable data.
//! - [`rng`]: ChaCha8 streams named by stable strings, so adding a host does not shift
//!   another link's draws.
//! - [`trace`], [`pcap`], [`pcapng`], [`log`]: a JSON-lines event trace with a hash over
//!   every record and every frame's bytes, pcap and pcapng captures with virtual timestamps (pcapng: many links in one
//!   file, one interface each), `tracing` lines stamped with simulated time.
//! - [`divergence`]: run a workload twice and name the first record, frame and byte where
//!   the runs differ.
//! - [`exec`]: async tasks on a deterministic single-threaded executor, with simulated
//!   `sleep` and `timeout`.
//! - [`net`]: `tokio::net` on the current task's host (`TcpListener`, `TcpStream`,
//!   `UdpSocket`, `lookup_host` through the simulation's DNS), so tokio services switch
//!   with one `#[cfg(test)] use sansnet_sim::net;`.
//!
//! # Determinism rules kept here
//!
//! No wall clock, no OS randomness, no threads, no hash-map iteration (every map is a
//! `BTreeMap`), and floating point only through IEEE basic operations (the logarithm and
//! exponential behind heavy-tailed latencies are computed in `detmath` from `+ - * /`).
#![forbid(unsafe_code)]

pub use sansnet_stack as stack;

pub mod builder;
pub mod control;
pub mod decode;
mod detmath;
pub mod divergence;
pub mod endpoint;
pub mod exec;
pub mod fault;
mod framebuf;
pub mod host;
pub mod log;
pub mod naming;
pub mod net;
pub mod pcap;
pub mod pcapng;
pub mod process;
mod queue;
pub mod rng;
pub mod scripted;
mod serde_ns;
mod sim;
pub mod sockets;
pub mod testing;
pub mod trace;
mod world;

pub use builder::{Builder, Outside, Simulation, TestError, TestRun};
pub use divergence::{check, Checked, Divergence};
pub use endpoint::{Endpoint, NodeCtx, NodeFactory};
pub use exec::{BoxError, TaskFailure, TaskPanic, TaskResult};
pub use fault::{
    Direction, FaultChange, FaultPlan, FaultProfile, LatencyDist, LinkFaults, LossModel,
    PlannedChange,
};
pub use host::{one_nic_config, TcpListener, TcpStream, UdpSocket};
pub use rng::{seed_from_env_or, Probability, Seed, SimRng};
/// The wall clock and OS randomness answered by the simulation ([`Builder::intercept`]).
#[cfg(feature = "intercept")]
pub use sansnet_intercept as intercept;
pub use sansnet_stack::time::{Duration, Instant};
pub use sim::{replay_line, Limits, RunError, Sim};
pub use testing::assert_deterministic;
pub use trace::{DropReason, Fingerprint, TraceEvent, TraceHash};
pub use world::{
    Attach, LinkCounters, LinkId, NameError, NicCounters, NicId, NodeId, SwitchCounters, SwitchId,
};
