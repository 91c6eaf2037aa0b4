//! sansnet's TCP/IP stack, sans-IO.
//!
//! Everything here is a pure function of its inputs: time arrives as an argument
//! ([`time::Instant`], nanoseconds since the simulation epoch), randomness comes from seeds in
//! configuration, and bytes go in and out through buffers the caller owns. The crate is
//! `#![no_std]` + `alloc`, so the compiler (not good intentions) keeps clocks, threads, I/O
//! and OS entropy out.
//!
//! Layers, bottom up:
//! - [`wire`]: a zero-copy view and a typed `Repr` per header (Ethernet, ARP, IPv4, ICMPv4,
//!   UDP, TCP), checksums, sequence numbers. No input can make it panic.
//!
//! The TCP engine (`tcp`) and the host stack with its sockets (`iface`) are built on top; see
//! ARCHITECTURE.md at the repository root for the map.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
// `arbitrary`'s derive names `::std`; the feature is for fuzzing builds only.
#[cfg(feature = "arbitrary")]
extern crate std;
// `cpu-dispatch` detects the CPU's features at run time (`wire::checksum`), which needs
// `std`; nothing else in the crate may use it, which `ci/check`'s build without default
// features proves.
#[cfg(all(feature = "cpu-dispatch", not(feature = "arbitrary")))]
extern crate std;

pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod iface;
pub mod tcp;
pub mod time;
pub mod wire;
