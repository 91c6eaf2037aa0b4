//! The TCP engine against a scripted peer, one module per RFC 9293 state or subject. Every
//! test names the RFC section (and requirement ID, RFC 9293 appendix B) it checks.
//!
//! The engine is driven directly: `helpers` builds segments from const templates, feeds them
//! to `handle_segment` and drains `poll_transmit` into owned values, with fixed ISNs (ours
//! 1000, the peer's 5000), fixed addresses and virtual time.

mod helpers;

// One module per state (group) of RFC 9293 section 3.10.7.
mod close;
mod closed;
mod established;
mod listen;
mod syn_received;
mod syn_sent;
mod time_wait;

// One module per subject.
mod bad_input;
mod congestion;
mod flow;
mod keepalive;
mod loss_probe;
mod options;
mod rto;
mod urgent;
