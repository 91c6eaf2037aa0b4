//! sansnet: deterministic network simulation testing with a real, sans-IO TCP/IP stack.
//!
//! This facade re-exports the crates of the workspace:
//! - [`stack`]: the sans-IO TCP/IP stack (wire formats now; TCP engine, hosts and sockets to
//!   come);
//! - [`sim`]: the deterministic simulator, with tokio inside every simulated host;
//! - [`net`] and [`Builder`]: the front door for tokio services, shaped like `tokio::net`
//!   and turmoil's builder.
//!
//! The `sansnet` binary is the command-line front end; [`decode`] is its frame decoder.
#![forbid(unsafe_code)]

pub use sansnet_sim as sim;
pub use sansnet_stack as stack;

/// turmoil's free functions for code inside a simulation: `elapsed`, `sim_elapsed`,
/// `partition`, `repair`, `hold`, `release` (and the one-way partitions), by host name.
pub use sansnet_sim::control::{
    elapsed, hold, partition, partition_oneway, release, repair, repair_oneway, sim_elapsed,
};
/// Sockets shaped like `tokio::net`, on the current task's simulated host: a service
/// switches with `#[cfg(test)] use sansnet::net;`.
pub use sansnet_sim::net;
/// The turmoil-shaped front door: `Builder::new().build()`, then `host`, `client`, `run`.
pub use sansnet_sim::{Builder, Outside, Simulation, TestError, TestRun};

pub mod artefacts;
pub mod decode;
pub mod explore;
pub mod fuzzing;
pub mod merge;
pub mod models;
pub mod scenario;
pub mod scenarios;
pub mod strategies;
pub mod topology;
