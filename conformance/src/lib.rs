//! The conformance suite of sansnet.
//!
//! This crate will hold a text script format for RFC 9293 state-machine transitions, a runner
//! that drives a sansnet host through its frame interface in virtual time, the scripts
//! themselves (each naming the RFC sections and requirement IDs it checks) and the coverage
//! report against `shared/conformance/checklist.md`.
//!
//! Nothing is here yet but the dependency on the stack; see ARCHITECTURE.md for the plan.
#![forbid(unsafe_code)]

pub use sansnet_stack as stack;
