//! pcapng files (the format of draft-ietf-opsawg-pcapng) with nanosecond timestamps and
//! one interface per captured link or NIC.
//!
//! A stream is one section: a Section Header Block, then an Interface Description Block per
//! interface (Ethernet, [`SNAPLEN`], `if_name`, `if_tsresol` = 9, so timestamps count
//! nanoseconds), then Enhanced Packet Blocks, each naming its interface, stamped with
//! simulated time since the epoch and, for a NIC, flagged inbound or outbound. Everything is
//! little-endian. Nothing depends on the wall clock, so a capture of a replay is
//! byte-identical to the first.
//!
//! [`read`] takes a file apart again (for tests): it accepts either byte order, several
//! sections and any timestamp resolution, skips block types it does not know, and returns a
//! [`PcapngError`] for anything malformed rather than panicking.

use std::fmt;
use std::io::{self, Write};

use sansnet_stack::time::Instant;

pub use crate::pcap::{LINKTYPE_ETHERNET, SNAPLEN};

/// Block type of a Section Header Block (the same in both byte orders).
pub const BLOCK_SECTION_HEADER: u32 = 0x0a0d_0d0a;
/// Block type of an Interface Description Block.
pub const BLOCK_INTERFACE_DESCRIPTION: u32 = 1;
/// Block type of an Enhanced Packet Block.
pub const BLOCK_ENHANCED_PACKET: u32 = 6;
/// The byte-order magic of a Section Header Block.
pub const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// `if_tsresol` as written: 10^-9 s, nanoseconds.
pub const TSRESOL_NANOS: u8 = 9;

/// The timestamp resolution of an interface without `if_tsresol`: microseconds.
const TSRESOL_DEFAULT: u8 = 6;
/// Option codes.
const OPT_ENDOFOPT: u16 = 0;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_DESCRIPTION: u16 = 3;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_EPB_FLAGS: u16 = 2;
const OPT_COMMENT: u16 = 1;
/// The application named in the section header.
const USERAPPL: &str = concat!("sansnet-sim ", env!("CARGO_PKG_VERSION"));
/// Longest string option value written (the option length is 16 bits; a longer name is
/// cut at a character boundary).
const MAX_OPTION_STRING: usize = 1024;

/// Which way a packet went through the interface it was captured on (the two direction bits
/// of `epb_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Not recorded (a link capture: a frame entering the link).
    #[default]
    Unknown,
    /// Received by the interface.
    Inbound,
    /// Sent by the interface.
    Outbound,
}

impl Direction {
    /// The `epb_flags` bits.
    fn flags(self) -> u32 {
        match self {
            Direction::Unknown => 0,
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        }
    }

    fn from_flags(flags: u32) -> Direction {
        match flags & 3 {
            1 => Direction::Inbound,
            2 => Direction::Outbound,
            _ => Direction::Unknown,
        }
    }
}

/// Rounds up to a multiple of four (the block and option alignment).
fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

/// Appends one option (code, length, value, zero padding).
fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.resize(padded(buf.len()), 0);
}

/// `s` cut to at most [`MAX_OPTION_STRING`] bytes, at a character boundary.
fn option_string(s: &str) -> &[u8] {
    let mut end = s.len().min(MAX_OPTION_STRING);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

/// Writes `block_type` with `body` (already padded) and both length fields.
fn write_block(out: &mut impl Write, block_type: u32, body: &[u8]) -> io::Result<()> {
    let total = u32::try_from(body.len() + 12)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too long"))?;
    out.write_all(&block_type.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total.to_le_bytes())
}

/// Writes a pcapng stream: one section, interfaces added as they are captured, packets as
/// they happen.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: u32,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the Section Header Block (version 1.0, section length unknown).
    pub fn new(mut out: W) -> io::Result<PcapngWriter<W>> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        push_option(&mut body, OPT_SHB_USERAPPL, USERAPPL.as_bytes());
        push_option(&mut body, OPT_ENDOFOPT, &[]);
        write_block(&mut out, BLOCK_SECTION_HEADER, &body)?;
        Ok(PcapngWriter { out, interfaces: 0 })
    }

    /// Writes an Interface Description Block (Ethernet, [`SNAPLEN`], nanosecond
    /// timestamps) and returns the new interface's id, counted from 0 in the order added.
    /// `name` and `description` become `if_name` and `if_description` (each cut at 1 KiB).
    pub fn add_interface(&mut self, name: &str, description: Option<&str>) -> io::Result<u32> {
        let id = self.interfaces;
        let next = id
            .checked_add(1)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too many interfaces"))?;
        let mut body = Vec::with_capacity(64 + name.len());
        body.extend_from_slice(&(LINKTYPE_ETHERNET as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&SNAPLEN.to_le_bytes());
        push_option(&mut body, OPT_IF_NAME, option_string(name));
        if let Some(d) = description {
            push_option(&mut body, OPT_IF_DESCRIPTION, option_string(d));
        }
        push_option(&mut body, OPT_IF_TSRESOL, &[TSRESOL_NANOS]);
        push_option(&mut body, OPT_ENDOFOPT, &[]);
        write_block(&mut self.out, BLOCK_INTERFACE_DESCRIPTION, &body)?;
        self.interfaces = next;
        Ok(id)
    }

    /// Interfaces added so far.
    pub fn interfaces(&self) -> u32 {
        self.interfaces
    }

    /// Writes one frame captured on `interface` at `at`, as an Enhanced Packet Block (cut
    /// to [`SNAPLEN`]; `epb_flags` only when the direction is known). An interface that
    /// was never added is an `InvalidInput` error and writes nothing.
    pub fn write_packet(
        &mut self,
        interface: u32,
        at: Instant,
        frame: &[u8],
        direction: Direction,
    ) -> io::Result<()> {
        self.write_packet_with_comment(interface, at, frame, direction, None)
    }

    /// [`write_packet`](Self::write_packet) with an `opt_comment` (Wireshark shows it as
    /// the packet's comment, `frame.comment`): why a frame was dropped, or that it was
    /// corrupted on the wire.
    pub fn write_packet_with_comment(
        &mut self,
        interface: u32,
        at: Instant,
        frame: &[u8],
        direction: Direction,
        comment: Option<&str>,
    ) -> io::Result<()> {
        if interface >= self.interfaces {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pcapng interface {interface} was never described"),
            ));
        }
        let incl = &frame[..frame.len().min(SNAPLEN as usize)];
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        // Padding (at most 3), options, opt_endofopt (4), trailing length (4).
        // Options are aligned from their own start, which the padding puts on a multiple of 4.
        let mut opts = Vec::new();
        if direction != Direction::Unknown {
            push_option(&mut opts, OPT_EPB_FLAGS, &direction.flags().to_le_bytes());
        }
        if let Some(comment) = comment {
            push_option(&mut opts, OPT_COMMENT, option_string(comment));
        }
        if !opts.is_empty() {
            opts.extend_from_slice(&[0; 4]);
        }
        let mut tail = vec![0u8; padded(incl.len()) - incl.len()];
        tail.extend_from_slice(&opts);
        let total = u32::try_from(28 + incl.len() + tail.len() + 4)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too long"))?;
        tail.extend_from_slice(&total.to_le_bytes());
        let ns = at.as_nanos();
        let mut head = [0u8; 28];
        head[0..4].copy_from_slice(&BLOCK_ENHANCED_PACKET.to_le_bytes());
        head[4..8].copy_from_slice(&total.to_le_bytes());
        head[8..12].copy_from_slice(&interface.to_le_bytes());
        head[12..16].copy_from_slice(&((ns >> 32) as u32).to_le_bytes());
        head[16..20].copy_from_slice(&(ns as u32).to_le_bytes());
        head[20..24].copy_from_slice(&(incl.len() as u32).to_le_bytes());
        head[24..28].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(incl)?;
        self.out.write_all(&tail)
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

/// An interface read back from an Interface Description Block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The link type (1: Ethernet).
    pub link_type: u16,
    /// The snapshot length (0: unlimited).
    pub snaplen: u32,
    /// `if_name`, if present.
    pub name: Option<String>,
    /// `if_description`, if present.
    pub description: Option<String>,
    /// `if_tsresol` (6, microseconds, if absent).
    pub tsresol: u8,
}

/// A packet read back from an Enhanced Packet Block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Index into [`Pcapng::interfaces`].
    pub interface: usize,
    /// Timestamp, converted to nanoseconds from the interface's resolution.
    pub at: Instant,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// The `epb_flags` direction ([`Direction::Unknown`] without the option).
    pub direction: Direction,
    /// The `opt_comment`, if any.
    pub comment: Option<String>,
}

/// A pcapng file read back: every interface of every section, and every packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pcapng {
    /// Interfaces in file order; those of a later section follow the earlier ones.
    pub interfaces: Vec<Interface>,
    /// Enhanced Packet Blocks in file order.
    pub packets: Vec<Packet>,
}

/// Why a pcapng file could not be read. `offset` is where the offending block starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcapngError {
    /// The file is empty.
    Empty,
    /// The first block is not a Section Header Block.
    NotPcapng {
        /// The first block's type.
        block_type: u32,
    },
    /// A section header with neither byte order's magic.
    BadByteOrderMagic {
        /// Block offset.
        offset: usize,
        /// The magic as read little-endian.
        magic: u32,
    },
    /// A section of a major version other than 1.
    UnsupportedVersion {
        /// Block offset.
        offset: usize,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// The input ends inside a block.
    Truncated {
        /// Block offset.
        offset: usize,
    },
    /// A block length below the minimum for its type or not a multiple of four.
    BadBlockLength {
        /// Block offset.
        offset: usize,
        /// The length field.
        length: u32,
    },
    /// The trailing length differs from the leading one.
    LengthMismatch {
        /// Block offset.
        offset: usize,
        /// The leading length.
        head: u32,
        /// The trailing length.
        tail: u32,
    },
    /// A packet's captured length runs past its block.
    BadCapturedLength {
        /// Block offset.
        offset: usize,
        /// The captured length field.
        captured: u32,
    },
    /// An option runs past its block, or has the wrong length for its code.
    BadOption {
        /// Block offset.
        offset: usize,
        /// The option code.
        code: u16,
    },
    /// A packet names an interface its section has not described.
    UnknownInterface {
        /// Block offset.
        offset: usize,
        /// The interface id.
        interface: u32,
    },
    /// A timestamp beyond what nanoseconds in 64 bits can hold.
    TimestampOverflow {
        /// Block offset.
        offset: usize,
    },
}

impl fmt::Display for PcapngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PcapngError::Empty => write!(f, "empty file"),
            PcapngError::NotPcapng { block_type } => {
                write!(f, "not pcapng: first block type {block_type:#010x}")
            }
            PcapngError::BadByteOrderMagic { offset, magic } => {
                write!(f, "section at {offset}: byte-order magic {magic:#010x}")
            }
            PcapngError::UnsupportedVersion {
                offset,
                major,
                minor,
            } => write!(f, "section at {offset}: version {major}.{minor}"),
            PcapngError::Truncated { offset } => write!(f, "block at {offset}: truncated"),
            PcapngError::BadBlockLength { offset, length } => {
                write!(f, "block at {offset}: bad length {length}")
            }
            PcapngError::LengthMismatch { offset, head, tail } => {
                write!(f, "block at {offset}: length {head} but trailer {tail}")
            }
            PcapngError::BadCapturedLength { offset, captured } => {
                write!(
                    f,
                    "block at {offset}: captured length {captured} past the block"
                )
            }
            PcapngError::BadOption { offset, code } => {
                write!(f, "block at {offset}: bad option {code}")
            }
            PcapngError::UnknownInterface { offset, interface } => {
                write!(f, "block at {offset}: unknown interface {interface}")
            }
            PcapngError::TimestampOverflow { offset } => {
                write!(f, "block at {offset}: timestamp overflows")
            }
        }
    }
}

impl std::error::Error for PcapngError {}

/// Fixed-size fields of a block, in its section's byte order; every read is bounds-checked.
#[derive(Clone, Copy)]
struct Fields<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Fields<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

/// The options of a block body, from `start`: calls `each(code, value)` for every option
/// up to `opt_endofopt` or the end of the body.
fn options<'a>(
    body: Fields<'a>,
    start: usize,
    offset: usize,
    mut each: impl FnMut(u16, &'a [u8]) -> Result<(), PcapngError>,
) -> Result<(), PcapngError> {
    let mut at = start;
    while at < body.bytes.len() {
        let bad = |code| PcapngError::BadOption { offset, code };
        let code = body.u16_at(at).ok_or(bad(0))?;
        let len = usize::from(body.u16_at(at + 2).ok_or(bad(code))?);
        if code == OPT_ENDOFOPT {
            return Ok(());
        }
        let value = body.bytes.get(at + 4..at + 4 + len).ok_or(bad(code))?;
        each(code, value)?;
        at += 4 + padded(len);
    }
    Ok(())
}

/// A timestamp in units of `tsresol` as nanoseconds.
fn to_nanos(ts: u64, tsresol: u8) -> Option<u64> {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        // Units of 10^-exp seconds.
        if exp <= 9 {
            ts.checked_mul(10u64.pow(9 - exp))
        } else {
            Some(10u64.checked_pow(exp - 9).map_or(0, |d| ts / d))
        }
    } else {
        // Units of 2^-exp seconds (exp is at most 127, so the shift is in range).
        u64::try_from((u128::from(ts) * 1_000_000_000) >> exp).ok()
    }
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

/// Reads a pcapng file: every interface and every Enhanced Packet Block, in file order.
/// Other block types are skipped; malformed input is an error, never a panic.
pub fn read(bytes: &[u8]) -> Result<Pcapng, PcapngError> {
    let le = Fields {
        bytes,
        big_endian: false,
    };
    if bytes.is_empty() {
        return Err(PcapngError::Empty);
    }
    let first = le.u32_at(0).ok_or(PcapngError::Truncated { offset: 0 })?;
    if first != BLOCK_SECTION_HEADER {
        return Err(PcapngError::NotPcapng { block_type: first });
    }
    let mut file = Pcapng::default();
    let mut big_endian = false;
    // Interfaces of the current section: its id 0 is `file.interfaces[section_base]`.
    let mut section_base = 0;
    let mut at = 0;
    while at < bytes.len() {
        let offset = at;
        let truncated = PcapngError::Truncated { offset };
        // A section header's type reads the same in both byte orders; its magic sets the
        // byte order of everything up to the next one.
        if le.u32_at(at).ok_or(truncated.clone())? == BLOCK_SECTION_HEADER {
            let magic = le.u32_at(at + 8).ok_or(truncated.clone())?;
            big_endian = match magic {
                BYTE_ORDER_MAGIC => false,
                m if m == BYTE_ORDER_MAGIC.swap_bytes() => true,
                _ => return Err(PcapngError::BadByteOrderMagic { offset, magic }),
            };
        }
        let f = Fields { bytes, big_endian };
        let block_type = f.u32_at(at).ok_or(truncated.clone())?;
        let length = f.u32_at(at + 4).ok_or(truncated.clone())?;
        let min = match block_type {
            BLOCK_SECTION_HEADER => 28,
            BLOCK_INTERFACE_DESCRIPTION => 20,
            BLOCK_ENHANCED_PACKET => 32,
            _ => 12,
        };
        if length < min || length % 4 != 0 {
            return Err(PcapngError::BadBlockLength { offset, length });
        }
        let end = at
            .checked_add(length as usize)
            .filter(|&e| e <= bytes.len())
            .ok_or(truncated)?;
        let tail = f.u32_at(end - 4).ok_or(PcapngError::Truncated { offset })?;
        if tail != length {
            return Err(PcapngError::LengthMismatch {
                offset,
                head: length,
                tail,
            });
        }
        let body = Fields {
            bytes: &bytes[at + 8..end - 4],
            big_endian,
        };
        match block_type {
            BLOCK_SECTION_HEADER => {
                let (major, minor) = (body.u16_at(4), body.u16_at(6));
                let (major, minor) = (major.unwrap_or(0), minor.unwrap_or(0));
                if major != 1 {
                    return Err(PcapngError::UnsupportedVersion {
                        offset,
                        major,
                        minor,
                    });
                }
                section_base = file.interfaces.len();
            }
            BLOCK_INTERFACE_DESCRIPTION => {
                file.interfaces.push(read_interface(body, offset)?);
            }
            BLOCK_ENHANCED_PACKET => {
                let mut packet = read_packet(body, offset, &file.interfaces[section_base..])?;
                packet.interface += section_base;
                file.packets.push(packet);
            }
            _ => {}
        }
        at = end;
    }
    Ok(file)
}

fn read_interface(body: Fields<'_>, offset: usize) -> Result<Interface, PcapngError> {
    let truncated = PcapngError::Truncated { offset };
    let mut interface = Interface {
        link_type: body.u16_at(0).ok_or(truncated.clone())?,
        snaplen: body.u32_at(4).ok_or(truncated)?,
        name: None,
        description: None,
        tsresol: TSRESOL_DEFAULT,
    };
    options(body, 8, offset, |code, value| {
        match code {
            OPT_IF_NAME => interface.name = Some(text(value)),
            OPT_IF_DESCRIPTION => interface.description = Some(text(value)),
            OPT_IF_TSRESOL => match value {
                [r] => interface.tsresol = *r,
                _ => return Err(PcapngError::BadOption { offset, code }),
            },
            _ => {}
        }
        Ok(())
    })?;
    Ok(interface)
}

fn read_packet(
    body: Fields<'_>,
    offset: usize,
    section: &[Interface],
) -> Result<Packet, PcapngError> {
    let truncated = PcapngError::Truncated { offset };
    let field = |at| body.u32_at(at).ok_or(truncated.clone());
    let id = field(0)?;
    let ts = (u64::from(field(4)?) << 32) | u64::from(field(8)?);
    let captured = field(12)?;
    let orig_len = field(16)?;
    let interface = section
        .get(id as usize)
        .ok_or(PcapngError::UnknownInterface {
            offset,
            interface: id,
        })?;
    let data_end = 20usize.saturating_add(captured as usize);
    let data = body
        .bytes
        .get(20..data_end)
        .ok_or(PcapngError::BadCapturedLength { offset, captured })?
        .to_vec();
    let mut direction = Direction::Unknown;
    let mut comment = None;
    options(body, padded(data_end), offset, |code, value| {
        if code == OPT_COMMENT {
            comment = Some(text(value));
        }
        if code == OPT_EPB_FLAGS {
            let flags = Fields {
                bytes: value,
                big_endian: body.big_endian,
            };
            match (value.len(), flags.u32_at(0)) {
                (4, Some(v)) => direction = Direction::from_flags(v),
                _ => return Err(PcapngError::BadOption { offset, code }),
            }
        }
        Ok(())
    })?;
    let ns = to_nanos(ts, interface.tsresol).ok_or(PcapngError::TimestampOverflow { offset })?;
    Ok(Packet {
        interface: id as usize,
        at: Instant::from_nanos(ns),
        orig_len,
        data,
        direction,
        comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_convert_to_nanoseconds() {
        assert_eq!(to_nanos(7, 9), Some(7));
        assert_eq!(to_nanos(7, 6), Some(7_000));
        assert_eq!(to_nanos(7_000, 12), Some(7));
        assert_eq!(to_nanos(u64::MAX, 127), Some(0));
        assert_eq!(to_nanos(1 << 30, 0x80 | 30), Some(1_000_000_000));
        assert_eq!(to_nanos(u64::MAX, 0), None);
    }

    #[test]
    fn option_strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_OPTION_STRING);
        let cut = option_string(&long);
        assert!(cut.len() <= MAX_OPTION_STRING);
        assert!(std::str::from_utf8(cut).is_ok());
    }
}
