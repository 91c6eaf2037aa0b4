//! The TCP engine: one connection as a pure state machine (RFC 9293), sans-IO.
//!
//! [`Connection`] is the whole of it; its rustdoc documents the call protocol. Around it:
//! [`Config`] (every knob and bound), [`State`], the RTO estimator ([`rtt`]), congestion
//! control behind a trait ([`congestion`]), the receive buffer with reassembly
//! ([`recv_buffer`]), the SACK scoreboard ([`sack`]), counters ([`stats`]) and ISNs
//! ([`isn`]).

pub mod config;
pub mod congestion;
mod connection;
pub mod isn;
pub mod recv_buffer;
pub mod rtt;
pub mod sack;
pub mod state;
pub mod stats;

#[cfg(feature = "planted-bugs")]
pub use config::PlantedBug;
pub use config::{Config, CongestionAlgorithm, KeepAlive};
pub use connection::{Connection, ConnectionError, Error, Event, IcmpError, TimeoutKind};
pub use state::State;
pub use stats::{DropReason, Stats};
