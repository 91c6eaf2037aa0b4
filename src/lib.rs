//! sansnet: deterministic network simulation testing with a real, sans-IO TCP/IP stack.
//!
//! This facade re-exports the crates of the workspace:
//! - [`stack`]: the sans-IO TCP/IP stack (wire formats now; TCP engine, hosts and sockets to
//!   come);
//! - [`sim`]: the deterministic simulator.
//!
//! The `sansnet` binary is the command-line front end; [`decode`] is its frame decoder.
#![forbid(unsafe_code)]

pub use sansnet_sim as sim;
pub use sansnet_stack as stack;

pub mod decode;
pub mod explore;
pub mod scenario;
pub mod scenarios;
pub mod strategies;
pub mod topology;
