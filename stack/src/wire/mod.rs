//! Wire formats: one module per header, each with a zero-copy view and a typed `Repr`.
//!
//! # The contract every header module follows
//!
//! - A **view** (`ethernet::Frame<T>`, `ipv4::Packet<T>`, ...) wraps any `T: AsRef<[u8]>`
//!   and reads fields in place. `new_checked` validates lengths once; after it succeeds, **no
//!   accessor of the view can panic**, whatever the bytes. `new_unchecked` skips the check and
//!   is meant for buffers the caller has just sized for `emit`; setters need `T: AsMut<[u8]>`.
//! - A **`Repr`** is the header as typed data. `Repr::parse(&view, ..)` validates semantics
//!   (version, checksums, option lengths) and returns a typed [`Error`] saying what is wrong;
//!   `Repr::buffer_len()` says how many bytes `emit` writes; `Repr::emit(&mut view, ..)` writes
//!   them. For every valid `Repr`, `parse(emit(r)) == r`; property tests and fuzz targets hold
//!   every module to it.
//! - Payloads are borrowed (`&[u8]`) from the view, never copied.
//!
//! Parsing never allocates. Checksums are RFC 1071 one's-complement sums ([`checksum`]).
//! Sequence numbers wrap around ([`SeqNumber`]).

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod ipv4;
pub mod seq;
pub mod tcp;
pub mod udp;
mod view;

pub use ethernet::{EtherType, EthernetAddress, Frame as EthernetFrame, Repr as EthernetRepr};
pub use seq::SeqNumber;

/// Why a buffer is not a valid header.
///
/// Each variant names the *kind* of defect; the module that returns it names the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header (or a length field) says it must be.
    Truncated,
    /// A length field is impossible on its own: an IHL below 5, a TCP data offset below 5,
    /// an IPv4 total length shorter than its header, a UDP length below 8.
    BadLength,
    /// The checksum does not verify.
    BadChecksum,
    /// An IP version other than 4.
    BadVersion,
    /// An option's length byte is below 2, runs past the options area, or does not match the
    /// fixed length of a known option kind (RFC 9293 MUST-7, MUST-68).
    BadOptionLength,
    /// A well-formed header that this stack does not handle (an ARP hardware type other than
    /// Ethernet, an unknown ICMP type, ...).
    Unsupported,
    /// A field holds a value the protocol forbids (a fragment that would end past 65535, an
    /// ARP operation other than request or reply, ...).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::BadLength => "impossible length field",
            Error::BadChecksum => "checksum does not verify",
            Error::BadVersion => "bad IP version",
            Error::BadOptionLength => "bad option length",
            Error::Unsupported => "unsupported header",
            Error::Malformed => "malformed field",
        })
    }
}

impl core::error::Error for Error {}

/// Shorthand for results of parsing.
pub type Result<T> = core::result::Result<T, Error>;

/// Whether `parse` verifies checksums.
///
/// Verification is the default everywhere; `Ignore` exists for captures taken with checksum
/// offload, where the checksum field is garbage by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Verify on parse (the default).
    #[default]
    Verify,
    /// Accept whatever the checksum field holds.
    Ignore,
}

/// Reads a big-endian `u16` at `at`. Callers have checked the length.
#[inline(always)]
pub(crate) fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian `u32` at `at`. Callers have checked the length.
#[inline(always)]
pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes a big-endian `u16` at `at`. Callers have sized the buffer.
#[inline(always)]
pub(crate) fn write_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian `u32` at `at`. Callers have sized the buffer.
#[inline(always)]
pub(crate) fn write_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
