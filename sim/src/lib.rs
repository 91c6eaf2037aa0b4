//! The deterministic simulator of sansnet.
//!
//! This crate will hold the world sansnet hosts live in: one virtual clock and one event
//! queue ordered by (time, insertion sequence), a portable seeded RNG split into independent
//! streams, virtual NICs joined by links and switches that inject latency, loss, reordering,
//! duplication, corruption, bandwidth limits and partitions from a serialisable fault plan,
//! an executor for application tasks, and the traces (JSON lines, pcap, a rolling hash).
//!
//! Nothing is here yet but the dependency on the stack; see ARCHITECTURE.md for the plan.
#![forbid(unsafe_code)]

pub use sansnet_stack as stack;
