//! Classic pcap files (the libpcap format) with nanosecond timestamps.
//!
//! Magic 0xa1b23c4d marks nanosecond resolution; link type 1 is Ethernet. Timestamps are
//! simulated time since the epoch, so a capture of a replay is byte-identical to the first.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use sansnet_stack::time::Instant;

/// The nanosecond-resolution pcap magic number.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The snapshot length written in the header; frames are never truncated below it.
pub const SNAPLEN: u32 = 262_144;

/// Writes a pcap stream.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Writes one frame captured at `at`.
    pub fn write_frame(&mut self, at: Instant, frame: &[u8]) -> io::Result<()> {
        let ns = at.as_nanos();
        let secs = u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX);
        let nanos = (ns % 1_000_000_000) as u32;
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let incl = &frame[..frame.len().min(SNAPLEN as usize)];
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&nanos.to_le_bytes());
        header[8..12].copy_from_slice(&(incl.len() as u32).to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(incl)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One record read back from a pcap file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Timestamp.
    pub at: Instant,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Why a pcap file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than a header says.
    Truncated,
    /// Not the nanosecond little-endian magic this module writes.
    BadMagic(u32),
    /// Not Ethernet.
    BadLinkType(u32),
}

/// Reads a file written by [`PcapWriter`] (nanosecond magic, little-endian, Ethernet).
pub fn read(bytes: &[u8]) -> Result<Vec<PcapRecord>, PcapError> {
    let u32_at = |at: usize| -> Result<u32, PcapError> {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or(PcapError::Truncated)
    };
    let magic = u32_at(0)?;
    if magic != MAGIC_NANOS {
        return Err(PcapError::BadMagic(magic));
    }
    let link_type = u32_at(20)?;
    if link_type != LINKTYPE_ETHERNET {
        return Err(PcapError::BadLinkType(link_type));
    }
    let mut at = 24;
    let mut records = Vec::new();
    while at < bytes.len() {
        let secs = u64::from(u32_at(at)?);
        let nanos = u64::from(u32_at(at + 4)?);
        let incl = u32_at(at + 8)? as usize;
        let orig_len = u32_at(at + 12)?;
        let data = bytes
            .get(at + 16..at + 16 + incl)
            .ok_or(PcapError::Truncated)?
            .to_vec();
        records.push(PcapRecord {
            at: Instant::from_nanos(secs * 1_000_000_000 + nanos),
            orig_len,
            data,
        });
        at += 16 + incl;
    }
    Ok(records)
}

/// A cloneable in-memory writer: hand one clone to the simulator (a trace or a capture) and
/// read the bytes through another.
#[derive(Clone, Debug, Default)]
pub struct SharedBuffer {
    bytes: Rc<RefCell<Vec<u8>>>,
}

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> SharedBuffer {
        SharedBuffer::default()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
