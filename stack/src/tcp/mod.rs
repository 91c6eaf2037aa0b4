//! The TCP engine: one connection as a pure state machine (RFC 9293), sans-IO.
//!
//! [`Connection`] is the whole of it; its rustdoc documents the call protocol. Around it:
//! [`Config`] (every knob and bound), [`State`], the RTO estimator ([`rtt`]), congestion
//! control behind a trait ([`congestion`]), the receive buffer with reassembly
//! ([`recv_buffer`]), the SACK scoreboard ([`sack`]), counters ([`stats`]) and ISNs
//! ([`isn`]); inside, the parts of a connection's state with types of their own (the timer
//! table, the send buffer, the tail loss probe, the pending ACK). With the feature
//! `invariants`, every public call ends by checking the connection's invariants
//! (`Connection::check_invariants`).

/// Checks one invariant of the engine's own state, with the feature `invariants` (compiled
/// out without it). `$name` names the invariant in the panic message; the rest formats the
/// values involved. Never for what a peer sends: a peer's segment is checked and counted as
/// a drop, not asserted on.
macro_rules! invariant {
    ($cond:expr, $name:literal, $($arg:tt)+) => {
        #[cfg(feature = "invariants")]
        {
            let holds: bool = $cond;
            if !holds {
                $crate::tcp::invariant_violated($name, format_args!($($arg)+));
            }
        }
    };
}
pub(crate) use invariant;

/// The panic of a broken invariant: `invariant violated: <name>: <values>`.
#[cfg(feature = "invariants")]
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn invariant_violated(name: &str, detail: core::fmt::Arguments<'_>) -> ! {
    panic!("invariant violated: {name}: {detail}")
}

mod ack;
pub mod config;
pub mod congestion;
mod connection;
pub mod info;
pub mod isn;
mod loss_probe;
pub mod recv_buffer;
pub mod rtt;
mod runs;
pub mod sack;
mod send_buffer;
pub mod state;
pub mod stats;
mod timer;

#[cfg(feature = "planted-bugs")]
pub use config::PlantedBug;
pub use config::{Config, CongestionAlgorithm, KeepAlive};
#[cfg(feature = "invariants")]
#[doc(hidden)]
pub use connection::Corruption;
pub use connection::{
    Connection, ConnectionError, Error, Event, IcmpError, TimeoutKind, COALESCED_ACK_MAX_BYTES,
};
pub use info::{RecoveryState, TcpInfo};
pub use state::State;
pub use stats::{DropReason, Stats};
