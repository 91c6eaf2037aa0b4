//! TCP segments (RFC 9293 section 3.1) and their options (RFC 9293 section 3.2, RFC 7323,
//! RFC 2018, RFC 2883).
//!
//! Layout: source port (2), destination port (2), sequence number (4), acknowledgment number
//! (4), data offset (4 bits, in 32-bit words), reserved (3 bits), NS (1 bit), flags (8 bits),
//! window (2), checksum (2), urgent pointer (2), options (data offset * 4 - 20 bytes),
//! payload. The view's buffer is the whole segment and nothing else: the caller slices the IP
//! payload out, so the payload runs to the end of the buffer and the checksum (over the IPv4
//! pseudo-header and the whole segment) covers all of it.
//!
//! # Options
//!
//! [`TcpOptionIter`] walks an options area; [`Repr::parse`] keeps the options this stack
//! implements (MSS, window scale, SACK-permitted, SACK, timestamps) and skips the others. The
//! parser meets these RFC 9293 requirements:
//!
//! - **MUST-4**: End of Option List, No-Operation and Maximum Segment Size are understood.
//! - **MUST-5**: options are read in any segment, not only in SYNs (what an option means
//!   outside a SYN is the engine's business).
//! - **MUST-6**: an option of a kind this stack does not implement is skipped, using its
//!   length byte, without error.
//! - **MUST-68**: every kind other than EOL and NOP must have a length byte; a kind byte alone
//!   at the end of the options is an error.
//! - **MUST-7**: an illegal length (below 2, running past the options area, or not the fixed
//!   length of a known kind) is [`Error::BadOptionLength`], never a panic or a read past the
//!   buffer.
//! - **MUST-64**: options are read at any byte alignment; senders need not pad with NOPs.
//! - **MUST-69**: on emit, the options are padded with zeros (EOL) to a multiple of 4 bytes;
//!   on receipt, whatever follows an EOL is ignored.
//!
//! Values are carried as they are on the wire: the window scale is not clamped to 14
//! (RFC 7323 section 2.3 asks the receiver to clamp, which the engine does), SACK blocks keep
//! their order (a first block below the cumulative ACK is an RFC 2883 D-SACK report), and the
//! MSS is whatever the peer announced (RFC 6691 says how to compute one's own).

use core::fmt;
use core::iter::FusedIterator;
use core::net::Ipv4Addr;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use super::checksum::{self, protocol};
use super::view::define_view;
use super::{read_u16, read_u32, write_u16, write_u32, ChecksumMode, Error, Result, SeqNumber};

/// The control bits of a TCP header: the eight flag bits of byte 13 and the NS bit (RFC 3540,
/// now historic but still on the wire) at the bottom of byte 12.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// The acknowledgment number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// ECN nonce sum (RFC 3540, historic).
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// Every bit the header can hold.
    pub const ALL: TcpFlags = TcpFlags(0x1ff);

    const NAMES: [(TcpFlags, &'static str); 9] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
        (TcpFlags::NS, "NS"),
    ];

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Names joined by `|`, as in `SYN|ACK`; `(none)` when empty; bits beyond the nine known
/// ones in hexadecimal.
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        let mut sep = "";
        for (flag, name) in TcpFlags::NAMES {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        let unknown = self.0 & !TcpFlags::ALL.0;
        if unknown != 0 {
            write!(f, "{sep}{unknown:#x}")?;
        }
        Ok(())
    }
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ_NUM: usize = 4;
    pub const ACK_NUM: usize = 8;
    /// Data offset (high nibble), reserved (3 bits), NS (low bit).
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
mod kind {
    pub const END_OF_LIST: u8 = 0;
    pub const NO_OPERATION: u8 = 1;
    pub const MAX_SEG_SIZE: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// The most option bytes a header can hold (data offset 15 gives a 60-byte header).
pub const MAX_OPTIONS_LEN: usize = 40;
/// The most SACK blocks that fit beside a timestamp option (RFC 2018 section 3): 12 bytes
/// of `NOP,NOP,TS` plus 4 + 8 * 3 of SACK fill the 40 bytes.
pub const MAX_SACK_BLOCKS_WITH_TIMESTAMPS: usize = 3;

define_view! {
    /// A read/write view of a TCP segment.
    #[derive(Debug, Clone)]
    pub struct Packet<T: AsRef<[u8]>>;

    /// Wraps a buffer without checking it. Accessors may panic if it is too short or the
    /// data offset is wrong: use this only on buffers sized with [`Repr::buffer_len`].
    pub const fn new_unchecked;

    /// Wraps a buffer after checking that the fixed header fits, that the data offset is at
    /// least 5 and that the header it announces fits, so that no accessor can panic.
    pub fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the lengths: `Truncated` if the buffer is shorter than 20 bytes or than the
    /// header the data offset announces, `BadLength` if the data offset is below 5.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::BadLength);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(read_u32(self.buffer.as_ref(), field::SEQ_NUM))
    }

    /// Acknowledgment number, as on the wire (meaningful only with ACK).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(read_u32(self.buffer.as_ref(), field::ACK_NUM))
    }

    /// Header length in bytes, options included: the data offset times 4.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }

    /// The nine control bits (the three reserved bits are not included).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(read_u16(self.buffer.as_ref(), field::DATA_OFFSET) & TcpFlags::ALL.0)
    }

    /// Window.
    pub fn window_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer, as on the wire (meaningful only with URG).
    pub fn urgent_pointer(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options area, padding included: read it with [`TcpOptionIter`].
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: everything after the header, to the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Sequence space the segment occupies: payload length, plus one for SYN, plus one for
    /// FIN.
    pub fn segment_len(&self) -> usize {
        let flags = self.flags();
        self.payload().len()
            + usize::from(flags.contains(TcpFlags::SYN))
            + usize::from(flags.contains(TcpFlags::FIN))
    }

    /// Whether the checksum verifies over the IPv4 pseudo-header and the whole buffer.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let bytes = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v4(src, dst, protocol::TCP, bytes.len() as u32);
        checksum::combine(&[pseudo, checksum::data(bytes)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: SeqNumber) {
        write_u32(self.buffer.as_mut(), field::SEQ_NUM, seq.0);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: SeqNumber) {
        write_u32(self.buffer.as_mut(), field::ACK_NUM, ack.0);
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4 from 20 to 60),
    /// keeping the reserved bits and NS.
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(
            len.is_multiple_of(4) && (HEADER_LEN..=HEADER_LEN + MAX_OPTIONS_LEN).contains(&len)
        );
        let b = self.buffer.as_mut();
        b[field::DATA_OFFSET] = (((len / 4) as u8) << 4) | (b[field::DATA_OFFSET] & 0x0f);
    }

    /// Sets the nine control bits, keeping the data offset and the reserved bits. Bits beyond
    /// the nine are dropped.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let b = self.buffer.as_mut();
        let ns = ((flags.0 >> 8) & 1) as u8;
        b[field::DATA_OFFSET] = (b[field::DATA_OFFSET] & 0xfe) | ns;
        b[field::FLAGS] = flags.0 as u8;
    }

    /// Sets the window.
    pub fn set_window_len(&mut self, window: u16) {
        write_u16(self.buffer.as_mut(), field::WINDOW, window);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_pointer(&mut self, pointer: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, pointer);
    }

    /// Computes and writes the checksum over the IPv4 pseudo-header and the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let bytes = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v4(src, dst, protocol::TCP, bytes.len() as u32);
        let sum = checksum::combine(&[pseudo, checksum::data(bytes)]);
        self.set_checksum(!sum);
    }

    /// The options area, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

/// Up to four SACK blocks (RFC 2018 section 3), each a `(left edge, right edge)` pair: the
/// first sequence number of a received block and the one just after it.
///
/// Four is the most a 40-byte options area can carry. The list is `Copy` and does not
/// allocate; equality and hashing look only at the blocks in use.
#[derive(Clone, Copy, Default)]
pub struct SackBlocks {
    blocks: [(SeqNumber, SeqNumber); SackBlocks::CAPACITY],
    len: u8,
}

impl SackBlocks {
    /// The most blocks the list holds.
    pub const CAPACITY: usize = 4;

    /// An empty list.
    pub const fn new() -> SackBlocks {
        SackBlocks {
            blocks: [(SeqNumber(0), SeqNumber(0)); SackBlocks::CAPACITY],
            len: 0,
        }
    }

    /// Appends a `(left edge, right edge)` block; `false` (and no change) when full.
    pub fn push(&mut self, block: (SeqNumber, SeqNumber)) -> bool {
        let len = usize::from(self.len);
        if len == Self::CAPACITY {
            return false;
        }
        self.blocks[len] = block;
        self.len += 1;
        true
    }

    /// Removes every block.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the first `len` blocks (all of them if there are fewer).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.len = len as u8;
        }
    }

    /// The blocks in use, in order.
    pub fn as_slice(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.blocks[..usize::from(self.len)]
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the list holds no block.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the list holds [`CAPACITY`](Self::CAPACITY) blocks.
    pub fn is_full(&self) -> bool {
        self.len() == Self::CAPACITY
    }

    /// The blocks in order.
    pub fn iter(&self) -> core::slice::Iter<'_, (SeqNumber, SeqNumber)> {
        self.as_slice().iter()
    }
}

impl PartialEq for SackBlocks {
    fn eq(&self, other: &SackBlocks) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackBlocks {}

impl core::hash::Hash for SackBlocks {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'s> IntoIterator for &'s SackBlocks {
    type Item = &'s (SeqNumber, SeqNumber);
    type IntoIter = core::slice::Iter<'s, (SeqNumber, SeqNumber)>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for SackBlocks {
    type Item = (SeqNumber, SeqNumber);
    type IntoIter = core::iter::Take<core::array::IntoIter<(SeqNumber, SeqNumber), 4>>;
    fn into_iter(self) -> Self::IntoIter {
        let len = self.len();
        self.blocks.into_iter().take(len)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for SackBlocks {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<SackBlocks> {
        let mut blocks = SackBlocks::new();
        for _ in 0..u.int_in_range(0..=SackBlocks::CAPACITY)? {
            blocks.push((u.arbitrary()?, u.arbitrary()?));
        }
        Ok(blocks)
    }
}

/// The Timestamps option (RFC 7323 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TcpTimestamp {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the TSval being echoed (meaningful only with ACK).
    pub tsecr: u32,
}

/// One TCP option as read by [`TcpOptionIter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of Option List (kind 0): nothing after it is an option.
    EndOfList,
    /// No-Operation (kind 1), a single byte used for alignment.
    NoOperation,
    /// Maximum Segment Size (kind 2, length 4).
    MaxSegmentSize(u16),
    /// Window Scale shift count (kind 3, length 3), raw: not clamped to 14.
    WindowScale(u8),
    /// SACK-permitted (kind 4, length 2).
    SackPermitted,
    /// SACK blocks (kind 5, length 2 + 8n, 1 <= n <= 4).
    SackRange(SackBlocks),
    /// Timestamps (kind 8, length 10).
    Timestamp(TcpTimestamp),
    /// Any other kind, with the bytes after its kind and length bytes.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data, without the kind and length bytes.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Decodes an option that has a well-formed length byte, given its data.
    fn decode(kind: u8, data: &'a [u8]) -> Result<TcpOption<'a>> {
        let option = match kind {
            kind::MAX_SEG_SIZE if data.len() == 2 => TcpOption::MaxSegmentSize(read_u16(data, 0)),
            kind::WINDOW_SCALE if data.len() == 1 => TcpOption::WindowScale(data[0]),
            kind::SACK_PERMITTED if data.is_empty() => TcpOption::SackPermitted,
            kind::TIMESTAMP if data.len() == 8 => TcpOption::Timestamp(TcpTimestamp {
                tsval: read_u32(data, 0),
                tsecr: read_u32(data, 4),
            }),
            kind::SACK
                if data.len().is_multiple_of(8)
                    && (1..=SackBlocks::CAPACITY).contains(&(data.len() / 8)) =>
            {
                let mut blocks = SackBlocks::new();
                for block in data.chunks_exact(8) {
                    blocks.push((SeqNumber(read_u32(block, 0)), SeqNumber(read_u32(block, 4))));
                }
                TcpOption::SackRange(blocks)
            }
            kind::MAX_SEG_SIZE
            | kind::WINDOW_SCALE
            | kind::SACK_PERMITTED
            | kind::TIMESTAMP
            | kind::SACK => return Err(Error::BadOptionLength),
            kind => TcpOption::Unknown { kind, data },
        };
        Ok(option)
    }
}

/// An iterator over the options in an options area (usually [`Packet::options`]).
///
/// Options may start at any byte (MUST-64). EOL is yielded and ends the iteration: what
/// follows it is padding (MUST-69). NOP is a single byte. Every other kind needs a length
/// byte (MUST-68); a missing length byte, a length below 2 or one running past the slice
/// yields `Err(BadOptionLength)` (MUST-7), as does a known kind with the wrong fixed length.
/// After an error the iterator ends. Unknown kinds come out as [`TcpOption::Unknown`]
/// (skipped by [`Repr::parse`], MUST-6). The iterator never reads past the slice and yields
/// at most one item per byte.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    /// Iterates over `options`.
    pub const fn new(options: &'a [u8]) -> TcpOptionIter<'a> {
        TcpOptionIter { rest: options }
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.rest;
        let (&kind, after_kind) = bytes.split_first()?;
        match kind {
            kind::END_OF_LIST => {
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            kind::NO_OPERATION => {
                self.rest = after_kind;
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        // Ends the iteration, whatever happens below.
        self.rest = &[];
        let len = match bytes.get(1) {
            Some(&len) => usize::from(len),
            None => return Some(Err(Error::BadOptionLength)),
        };
        if len < 2 || len > bytes.len() {
            return Some(Err(Error::BadOptionLength));
        }
        let option = TcpOption::decode(kind, &bytes[2..len]);
        if option.is_ok() {
            self.rest = &bytes[len..];
        }
        Some(option)
    }
}

impl FusedIterator for TcpOptionIter<'_> {}

/// A TCP header, its options and its payload, as typed data.
///
/// # Option layout on emit
///
/// [`emit`](Self::emit) writes the options in the order and with the padding Linux uses, so
/// that re-emitting a parsed Linux segment gives back its bytes:
///
/// 1. `MSS` (kind 2, length 4), if `max_seg_size` is set;
/// 2. with `sack_permitted` and a `timestamp`: `SACK-permitted` (4, 2) immediately followed by
///    `Timestamps` (8, 10); with only `sack_permitted`: `NOP, NOP, SACK-permitted`; with only a
///    `timestamp`: `NOP, NOP, Timestamps`;
/// 3. `NOP, Window scale` (3, 3), if `window_scale` is set;
/// 4. `NOP, NOP, SACK` (5, 2 + 8n), if `sack_ranges` is not empty;
/// 5. zeros (EOL) up to a multiple of 4 bytes (MUST-69).
///
/// All of it must fit in [`MAX_OPTIONS_LEN`] bytes: see [`is_valid`](Self::is_valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Repr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq_number: SeqNumber,
    /// Acknowledgment number, as on the wire even without ACK: look at `flags`.
    pub ack_number: SeqNumber,
    /// Window, unscaled.
    pub window_len: u16,
    /// Urgent pointer, as on the wire even without URG.
    pub urgent_pointer: u16,
    /// Maximum Segment Size option.
    pub max_seg_size: Option<u16>,
    /// Window Scale option: the raw shift count, not clamped to 14.
    pub window_scale: Option<u8>,
    /// SACK-permitted option.
    pub sack_permitted: bool,
    /// SACK option blocks (empty: no SACK option).
    pub sack_ranges: SackBlocks,
    /// Timestamps option.
    pub timestamp: Option<TcpTimestamp>,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a segment: lengths, then the checksum (per `mode`), then the options.
    ///
    /// Any malformed option is `BadOptionLength`; options of unknown kind are skipped; when an
    /// option appears twice the later one wins. The payload borrows from the packet's buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        mode: ChecksumMode,
    ) -> Result<Repr<'a>> {
        packet.check_len()?;
        if mode == ChecksumMode::Verify && !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        let bytes: &'a [u8] = <T as AsRef<[u8]>>::as_ref(packet.buffer);
        let header_len = packet.header_len();
        let mut repr = Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            flags: packet.flags(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            window_len: packet.window_len(),
            urgent_pointer: packet.urgent_pointer(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: SackBlocks::new(),
            timestamp: None,
            payload: &bytes[header_len..],
        };
        match bytes[HEADER_LEN..header_len] {
            // Fast paths for the two layouts of nearly every segment after the handshake: no
            // options, and `NOP, NOP, Timestamps` (RFC 7323 appendix A). The general loop
            // gives the same result for both.
            [] => {}
            [kind::NO_OPERATION, kind::NO_OPERATION, kind::TIMESTAMP, 10, v0, v1, v2, v3, e0, e1, e2, e3] =>
            {
                repr.timestamp = Some(TcpTimestamp {
                    tsval: u32::from_be_bytes([v0, v1, v2, v3]),
                    tsecr: u32::from_be_bytes([e0, e1, e2, e3]),
                });
            }
            ref options => {
                for option in TcpOptionIter::new(options) {
                    match option.map_err(|_| Error::BadOptionLength)? {
                        TcpOption::EndOfList
                        | TcpOption::NoOperation
                        | TcpOption::Unknown { .. } => {}
                        TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                        TcpOption::WindowScale(shift) => repr.window_scale = Some(shift),
                        TcpOption::SackPermitted => repr.sack_permitted = true,
                        TcpOption::SackRange(blocks) => repr.sack_ranges = blocks,
                        TcpOption::Timestamp(ts) => repr.timestamp = Some(ts),
                    }
                }
            }
        }
        Ok(repr)
    }

    /// Option bytes before padding, in the layout described on the type.
    fn options_len(&self) -> usize {
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        len += match (self.sack_permitted, self.timestamp.is_some()) {
            (true, true) => 2 + 10,
            (true, false) => 2 + 2,
            (false, true) => 2 + 10,
            (false, false) => 0,
        };
        if self.window_scale.is_some() {
            len += 1 + 3;
        }
        if !self.sack_ranges.is_empty() {
            len += 2 + 2 + 8 * self.sack_ranges.len();
        }
        len
    }

    /// Header length `emit` writes: 20 plus the options padded to a multiple of 4.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len().next_multiple_of(4)
    }

    /// The same segment with another payload (the header fields copied): for a payload
    /// that moved, and to end a borrow of the buffer the old one lived in.
    pub fn with_payload<'p>(&self, payload: &'p [u8]) -> Repr<'p> {
        Repr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            flags: self.flags,
            seq_number: self.seq_number,
            ack_number: self.ack_number,
            window_len: self.window_len,
            urgent_pointer: self.urgent_pointer,
            max_seg_size: self.max_seg_size,
            window_scale: self.window_scale,
            sack_permitted: self.sack_permitted,
            sack_ranges: self.sack_ranges,
            timestamp: self.timestamp,
            payload,
        }
    }

    /// Segment length `emit` writes: header and payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment occupies: payload length, plus one for SYN, plus one for
    /// FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    /// Whether `parse(emit(self)) == self` can hold: the options fit in
    /// [`MAX_OPTIONS_LEN`] bytes (so the header is at most 60 bytes) and `flags` has no bit
    /// beyond the nine the header holds.
    ///
    /// With timestamps, at most [`MAX_SACK_BLOCKS_WITH_TIMESTAMPS`] SACK blocks fit, and fewer
    /// beside MSS, SACK-permitted or window scale.
    pub fn is_valid(&self) -> bool {
        self.options_len() <= MAX_OPTIONS_LEN && self.flags.0 & !TcpFlags::ALL.0 == 0
    }

    /// Writes the segment (header, options, payload, checksum) into `packet`, whose buffer
    /// must be exactly [`buffer_len`](Self::buffer_len) bytes long, since the checksum and the
    /// payload run to its end. Assumes [`is_valid`](Self::is_valid).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        debug_assert_eq!(packet.buffer.as_ref().len(), self.buffer_len());
        let (header, rest) = packet.buffer.as_mut().split_at_mut(self.header_len());
        rest[..self.payload.len()].copy_from_slice(self.payload);
        self.emit_header(header, src, dst);
    }

    /// Writes the header and options into `header`, exactly
    /// [`header_len`](Self::header_len) bytes, with the checksum over them and over
    /// `payload`, which is not copied: for a payload already in place right after the
    /// header (a host writes it there straight from its send buffer). Assumes
    /// [`is_valid`](Self::is_valid).
    pub fn emit_header(&self, header: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        debug_assert!(self.is_valid(), "invalid TCP repr: {self:?}");
        let header_len = self.header_len();
        debug_assert_eq!(header.len(), header_len);
        let mut packet = Packet::new_unchecked(&mut *header);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        // Clears the reserved bits before the data offset and NS go in.
        packet.buffer[field::DATA_OFFSET] = 0;
        packet.set_header_len(header_len);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window_len);
        packet.set_urgent_pointer(self.urgent_pointer);
        packet.set_checksum(0);
        self.emit_options(&mut header[HEADER_LEN..header_len]);
        // The checksum in one pass over each part: the payload is summed from the source
        // (in cache, and not waiting on a copy's stores), the header from the buffer. The
        // header is a whole number of words, so the two sums combine.
        let end = header_len + self.payload.len();
        let pseudo = checksum::pseudo_header_v4(src, dst, protocol::TCP, end as u32);
        let payload_sum = checksum::data(self.payload);
        let header_sum = checksum::data(header);
        Packet::new_unchecked(&mut *header).set_checksum(!checksum::combine(&[
            pseudo,
            header_sum,
            payload_sum,
        ]));
    }

    /// Writes the options in the layout described on the type, then zero padding to the end
    /// of `out`.
    fn emit_options(&self, out: &mut [u8]) {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = self.max_seg_size {
            let [hi, lo] = mss.to_be_bytes();
            put(&[kind::MAX_SEG_SIZE, 4, hi, lo]);
        }
        match (self.sack_permitted, self.timestamp) {
            (true, Some(_)) => put(&[kind::SACK_PERMITTED, 2]),
            (true, None) => put(&[
                kind::NO_OPERATION,
                kind::NO_OPERATION,
                kind::SACK_PERMITTED,
                2,
            ]),
            (false, Some(_)) => put(&[kind::NO_OPERATION, kind::NO_OPERATION]),
            (false, None) => {}
        }
        if let Some(ts) = self.timestamp {
            put(&[kind::TIMESTAMP, 10]);
            put(&ts.tsval.to_be_bytes());
            put(&ts.tsecr.to_be_bytes());
        }
        if let Some(shift) = self.window_scale {
            put(&[kind::NO_OPERATION, kind::WINDOW_SCALE, 3, shift]);
        }
        if !self.sack_ranges.is_empty() {
            let len = 2 + 8 * self.sack_ranges.len() as u8;
            put(&[kind::NO_OPERATION, kind::NO_OPERATION, kind::SACK, len]);
            for &(left, right) in &self.sack_ranges {
                put(&left.0.to_be_bytes());
                put(&right.0.to_be_bytes());
            }
        }
        // Guarded: a fill of unknown length is a call into libc's `memset`, made for every
        // segment whose options end on a word (all of them without SACK blocks or timestamps).
        if at < out.len() {
            out[at..].fill(kind::END_OF_LIST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec, vec::Vec};
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A SYN as Linux sends it, `mss 1460,sackOK,TS val 1234567 ecr 0,nop,wscale 7`,
    /// 10.0.0.1:54321 -> 10.0.0.2:80.
    const SYN: [u8; 40] = [
        0xd4, 0x31, // source port 54321
        0x00, 0x50, // destination port 80
        0x1c, 0x46, 0xa3, 0xb5, // sequence number 0x1c46a3b5
        0x00, 0x00, 0x00, 0x00, // acknowledgment number (no ACK)
        0xa0, // data offset 10 (40 bytes), reserved 0, NS clear
        0x02, // flags: SYN
        0xfa, 0xf0, // window 64240
        0xcd, 0xf5, // checksum
        0x00, 0x00, // urgent pointer
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0x04, 0x02, // SACK permitted
        0x08, 0x0a, // Timestamps, length 10
        0x00, 0x12, 0xd6, 0x87, // TSval 1234567
        0x00, 0x00, 0x00, 0x00, // TSecr 0
        0x01, // NOP
        0x03, 0x03, 0x07, // window scale 7
    ];

    /// A data segment, `nop,nop,TS val 1234667 ecr 987654` and an 18-byte HTTP request.
    const DATA: [u8; 50] = [
        0xd4, 0x31, // source port 54321
        0x00, 0x50, // destination port 80
        0x1c, 0x46, 0xa3, 0xb6, // sequence number 0x1c46a3b6
        0x7e, 0x2b, 0x9c, 0x01, // acknowledgment number 0x7e2b9c01
        0x80, // data offset 8 (32 bytes)
        0x18, // flags: PSH|ACK
        0x01, 0xf6, // window 502
        0xea, 0x4c, // checksum
        0x00, 0x00, // urgent pointer
        0x01, 0x01, // NOP, NOP
        0x08, 0x0a, // Timestamps, length 10
        0x00, 0x12, 0xd6, 0xeb, // TSval 1234667
        0x00, 0x0f, 0x12, 0x06, // TSecr 987654
        b'G', b'E', b'T', b' ', b'/', b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0', b'\r',
        b'\n', b'\r', b'\n', // payload "GET / HTTP/1.0\r\n\r\n"
    ];

    /// A duplicate ACK with `nop,nop,TS val 1234700 ecr 987700,nop,nop,sack 2` reporting two
    /// blocks received beyond a hole.
    const SACK: [u8; 52] = [
        0xd4, 0x31, // source port 54321
        0x00, 0x50, // destination port 80
        0x1c, 0x46, 0xa3, 0xc8, // sequence number 0x1c46a3c8
        0x7e, 0x2b, 0xa1, 0xa9, // acknowledgment number 0x7e2ba1a9
        0xd0, // data offset 13 (52 bytes)
        0x10, // flags: ACK
        0x01, 0xf5, // window 501
        0xa3, 0xfa, // checksum
        0x00, 0x00, // urgent pointer
        0x01, 0x01, // NOP, NOP
        0x08, 0x0a, // Timestamps, length 10
        0x00, 0x12, 0xd7, 0x0c, // TSval 1234700
        0x00, 0x0f, 0x12, 0x34, // TSecr 987700
        0x01, 0x01, // NOP, NOP
        0x05, 0x12, // SACK, length 18 (two blocks)
        0x7e, 0x2b, 0xa7, 0x51, 0x7e, 0x2b, 0xb2, 0xa1, // block 0x7e2ba751..0x7e2bb2a1
        0x7e, 0x2b, 0xb8, 0x49, 0x7e, 0x2b, 0xbd, 0xf1, // block 0x7e2bb849..0x7e2bbdf1
    ];

    /// A plain ACK with a 20-byte header.
    const ACK: [u8; 20] = [
        0xd4, 0x31, // source port 54321
        0x00, 0x50, // destination port 80
        0x1c, 0x46, 0xa3, 0xc8, // sequence number 0x1c46a3c8
        0x7e, 0x2b, 0x9c, 0x13, // acknowledgment number 0x7e2b9c13
        0x50, // data offset 5 (20 bytes)
        0x10, // flags: ACK
        0x01, 0xf6, // window 502
        0xeb, 0x0c, // checksum
        0x00, 0x00, // urgent pointer
    ];

    const FIXTURES: [&[u8]; 4] = [&SYN, &DATA, &SACK, &ACK];

    fn syn_repr() -> Repr<'static> {
        Repr {
            src_port: 54321,
            dst_port: 80,
            flags: TcpFlags::SYN,
            seq_number: SeqNumber(0x1c46_a3b5),
            ack_number: SeqNumber(0),
            window_len: 64240,
            urgent_pointer: 0,
            max_seg_size: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack_ranges: SackBlocks::new(),
            timestamp: Some(TcpTimestamp {
                tsval: 1_234_567,
                tsecr: 0,
            }),
            payload: &[],
        }
    }

    fn ack_repr() -> Repr<'static> {
        Repr {
            src_port: 54321,
            dst_port: 80,
            flags: TcpFlags::ACK,
            seq_number: SeqNumber(0x1c46_a3c8),
            ack_number: SeqNumber(0x7e2b_9c13),
            window_len: 502,
            ..Repr::default()
        }
    }

    fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
        Repr::parse(&Packet::new_checked(bytes)?, SRC, DST, ChecksumMode::Verify)
    }

    fn emit(repr: &Repr<'_>) -> Vec<u8> {
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), SRC, DST);
        bytes
    }

    /// The options of `bytes` as the iterator yields them.
    fn options(bytes: &[u8]) -> Vec<Result<TcpOption<'_>>> {
        TcpOptionIter::new(bytes).collect()
    }

    /// A 20-byte ACK header followed by `options` (padded with zeros by the caller),
    /// checksummed.
    fn with_options(options: &[u8]) -> Vec<u8> {
        assert!(options.len().is_multiple_of(4) && options.len() <= MAX_OPTIONS_LEN);
        let mut bytes = ACK.to_vec();
        bytes.extend_from_slice(options);
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_header_len(HEADER_LEN + options.len());
        packet.fill_checksum(SRC, DST);
        bytes
    }

    #[test]
    fn flags_print_as_names() {
        assert_eq!(format!("{}", TcpFlags::SYN | TcpFlags::ACK), "SYN|ACK");
        assert_eq!(format!("{:?}", TcpFlags::empty()), "(none)");
        assert_eq!(
            format!("{}", TcpFlags::ALL),
            "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR|NS"
        );
        assert_eq!(format!("{}", TcpFlags(0x410)), "ACK|0x400");
    }

    #[test]
    fn flags_set_operations() {
        let mut flags = TcpFlags::SYN;
        flags |= TcpFlags::ACK;
        assert!(flags.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!flags.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert!(flags.intersects(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(flags & TcpFlags::ACK, TcpFlags::ACK);
        flags.remove(TcpFlags::SYN);
        assert_eq!(flags, TcpFlags::ACK);
        flags.insert(TcpFlags::NS);
        assert_eq!(flags.bits(), 0x110);
        assert!(TcpFlags::default().is_empty());
    }

    #[test]
    fn deconstruct_linux_syn() {
        let packet = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(packet.src_port(), 54321);
        assert_eq!(packet.dst_port(), 80);
        assert_eq!(packet.seq_number(), SeqNumber(0x1c46_a3b5));
        assert_eq!(packet.ack_number(), SeqNumber(0));
        assert_eq!(packet.header_len(), 40);
        assert_eq!(packet.flags(), TcpFlags::SYN);
        assert_eq!(packet.window_len(), 64240);
        assert_eq!(packet.checksum(), 0xcdf5);
        assert_eq!(packet.urgent_pointer(), 0);
        assert_eq!(packet.options(), &SYN[20..]);
        assert_eq!(packet.payload(), &[] as &[u8]);
        assert_eq!(packet.segment_len(), 1);
        assert!(packet.verify_checksum(SRC, DST));
    }

    #[test]
    fn deconstruct_data_segment() {
        let packet = Packet::new_checked(&DATA[..]).unwrap();
        assert_eq!(packet.flags(), TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(packet.ack_number(), SeqNumber(0x7e2b_9c01));
        assert_eq!(packet.header_len(), 32);
        assert_eq!(packet.window_len(), 502);
        assert_eq!(packet.payload(), b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(packet.segment_len(), 18);
        assert!(packet.verify_checksum(SRC, DST));
    }

    #[test]
    fn deconstruct_ns_flag_and_reserved_bits() {
        let mut bytes = ACK;
        bytes[12] = 0x5f; // data offset 5, reserved bits set, NS set
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.flags(), TcpFlags::NS | TcpFlags::ACK);
    }

    #[test]
    fn option_iterator_reads_the_linux_syn() {
        let packet = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(
            options(packet.options()),
            vec![
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamp(TcpTimestamp {
                    tsval: 1_234_567,
                    tsecr: 0
                })),
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    #[test]
    fn construct_linux_syn() {
        assert_eq!(syn_repr().header_len(), 40);
        assert_eq!(emit(&syn_repr()), SYN.to_vec());
    }

    #[test]
    fn construct_plain_ack() {
        assert_eq!(ack_repr().header_len(), HEADER_LEN);
        assert_eq!(emit(&ack_repr()), ACK.to_vec());
    }

    #[test]
    fn construct_overwrites_a_dirty_buffer() {
        let repr = syn_repr();
        let mut bytes = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), SRC, DST);
        assert_eq!(bytes, SYN.to_vec());
    }

    #[test]
    fn construct_sack_permitted_alone() {
        // Without timestamps, SACK-permitted takes two NOPs in front, as Linux sends it.
        let repr = Repr {
            sack_permitted: true,
            ..ack_repr()
        };
        let bytes = emit(&repr);
        assert_eq!(&bytes[20..], &[1, 1, 4, 2]);
        assert_eq!(repr.header_len() % 4, 0);
    }

    #[test]
    fn parse_linux_syn() {
        assert_eq!(parse(&SYN), Ok(syn_repr()));
        assert_eq!(syn_repr().segment_len(), 1);
    }

    #[test]
    fn parse_data_segment() {
        assert_eq!(
            parse(&DATA),
            Ok(Repr {
                src_port: 54321,
                dst_port: 80,
                flags: TcpFlags::PSH | TcpFlags::ACK,
                seq_number: SeqNumber(0x1c46_a3b6),
                ack_number: SeqNumber(0x7e2b_9c01),
                window_len: 502,
                timestamp: Some(TcpTimestamp {
                    tsval: 1_234_667,
                    tsecr: 987_654
                }),
                payload: b"GET / HTTP/1.0\r\n\r\n",
                ..Repr::default()
            })
        );
    }

    #[test]
    fn timestamp_fast_path_agrees_with_the_general_loop() {
        let ts = [0x00, 0x12, 0xd6, 0xeb, 0x00, 0x0f, 0x12, 0x06];
        let expected = Some(TcpTimestamp {
            tsval: 1_234_667,
            tsecr: 987_654,
        });
        // `NOP, NOP, TS` takes the fast path; `TS, EOL, EOL` and `NOP, TS, NOP` do not.
        for options in [
            [&[1, 1, 8, 10][..], &ts[..]].concat(),
            [&[8, 10][..], &ts[..], &[0, 0][..]].concat(),
            [&[1, 8, 10][..], &ts[..], &[1][..]].concat(),
        ] {
            let bytes = with_options(&options);
            let repr = parse(&bytes).unwrap();
            assert_eq!(repr.timestamp, expected, "{options:?}");
            assert_eq!(
                Repr {
                    timestamp: None,
                    ..repr
                },
                ack_repr()
            );
        }
        // Same layout with a bad length byte: still rejected.
        for len in [9, 11] {
            let options = [&[1, 1, 8, len][..], &ts[..]].concat();
            assert_eq!(parse(&with_options(&options)), Err(Error::BadOptionLength));
        }
    }

    #[test]
    fn parse_sack_segment() {
        let mut blocks = SackBlocks::new();
        assert!(blocks.push((SeqNumber(0x7e2b_a751), SeqNumber(0x7e2b_b2a1))));
        assert!(blocks.push((SeqNumber(0x7e2b_b849), SeqNumber(0x7e2b_bdf1))));
        assert_eq!(
            parse(&SACK),
            Ok(Repr {
                src_port: 54321,
                dst_port: 80,
                flags: TcpFlags::ACK,
                seq_number: SeqNumber(0x1c46_a3c8),
                ack_number: SeqNumber(0x7e2b_a1a9),
                window_len: 501,
                sack_ranges: blocks,
                timestamp: Some(TcpTimestamp {
                    tsval: 1_234_700,
                    tsecr: 987_700
                }),
                ..Repr::default()
            })
        );
    }

    #[test]
    fn parse_plain_ack() {
        assert_eq!(parse(&ACK), Ok(ack_repr()));
    }

    #[test]
    fn parse_and_reemit_reproduces_every_fixture() {
        for fixture in FIXTURES {
            let repr = parse(fixture).unwrap();
            assert!(repr.is_valid());
            assert_eq!(emit(&repr), fixture.to_vec());
        }
    }

    #[test]
    fn truncated_is_an_error() {
        for fixture in FIXTURES {
            let header_len = Packet::new_checked(fixture).unwrap().header_len();
            for len in 0..header_len {
                assert_eq!(
                    Packet::new_checked(&fixture[..len]).unwrap_err(),
                    Error::Truncated
                );
            }
            // A prefix that holds the header but not all the payload fails the checksum.
            for len in header_len..fixture.len() {
                assert_eq!(parse(&fixture[..len]), Err(Error::BadChecksum));
            }
        }
    }

    #[test]
    fn bad_data_offset() {
        for offset in 0..5u8 {
            let mut bytes = ACK;
            bytes[12] = offset << 4;
            assert_eq!(
                Packet::new_checked(&bytes[..]).unwrap_err(),
                Error::BadLength
            );
        }
        let mut bytes = SYN;
        bytes[12] = 0xb0; // 44 bytes announced, 40 present
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn bad_checksum() {
        for fixture in FIXTURES {
            let mut bytes = fixture.to_vec();
            bytes[17] ^= 0x01;
            assert_eq!(parse(&bytes), Err(Error::BadChecksum));
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert!(Repr::parse(&packet, SRC, DST, ChecksumMode::Ignore).is_ok());
        }
        // The pseudo-header counts: the right bytes between other addresses do not verify.
        let packet = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(
            Repr::parse(
                &packet,
                SRC,
                Ipv4Addr::new(10, 0, 0, 3),
                ChecksumMode::Verify
            ),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn unknown_option_is_skipped() {
        // RFC 9293 MUST-6: an option this stack does not implement (kind 30, MPTCP, 6 bytes)
        // is skipped by its length, and the options after it still count.
        let bytes = with_options(&[30, 6, 0xaa, 0xbb, 0xcc, 0xdd, 2, 4, 0x05, 0xb4, 0, 0]);
        assert_eq!(
            options(&bytes[20..]),
            vec![
                Ok(TcpOption::Unknown {
                    kind: 30,
                    data: &[0xaa, 0xbb, 0xcc, 0xdd]
                }),
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::EndOfList),
            ]
        );
        assert_eq!(parse(&bytes).unwrap().max_seg_size, Some(1460));
    }

    #[test]
    fn option_length_zero_or_one() {
        // RFC 9293 MUST-7: an illegal option length (zero, or one, which cannot even cover
        // the kind and length bytes) is an error, reported once, and ends the iteration.
        for len in [0, 1] {
            let bytes = with_options(&[30, len, 0, 0]);
            assert_eq!(options(&bytes[20..]), vec![Err(Error::BadOptionLength)]);
            assert_eq!(parse(&bytes), Err(Error::BadOptionLength));
        }
    }

    #[test]
    fn option_length_past_the_end() {
        // RFC 9293 MUST-7: a length running past the options area is an error, even if the
        // payload behind would supply the bytes.
        let mut bytes = with_options(&[1, 1, 30, 5]);
        bytes.extend_from_slice(&[0xaa; 8]);
        Packet::new_unchecked(&mut bytes[..]).fill_checksum(SRC, DST);
        assert_eq!(
            options(&bytes[20..24]),
            vec![
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::NoOperation),
                Err(Error::BadOptionLength)
            ]
        );
        assert_eq!(parse(&bytes), Err(Error::BadOptionLength));
    }

    #[test]
    fn mss_with_length_three() {
        // RFC 9293 MUST-7 (and MUST-4, MSS understood): a known kind with the wrong fixed
        // length is an illegal length.
        let bytes = with_options(&[2, 3, 0x05, 0]);
        assert_eq!(options(&bytes[20..]), vec![Err(Error::BadOptionLength)]);
        assert_eq!(parse(&bytes), Err(Error::BadOptionLength));
        for wrong in [
            &[3u8, 2, 0, 0][..],
            &[4, 3, 0, 0],
            &[8, 8, 0, 0, 0, 0, 0, 0],
        ] {
            let mut area = wrong.to_vec();
            area.resize(wrong.len().next_multiple_of(4), 0);
            assert_eq!(parse(&with_options(&area)), Err(Error::BadOptionLength));
        }
    }

    #[test]
    fn eol_then_garbage_is_ignored() {
        // RFC 9293 MUST-4 (EOL understood) and MUST-69: what follows EOL is padding, even if a
        // careless sender put non-zero bytes (here an illegal length 0) there.
        let bytes = with_options(&[2, 4, 0x05, 0xb4, 0, 30, 0, 0xff]);
        assert_eq!(
            options(&bytes[20..]),
            vec![
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::EndOfList)
            ]
        );
        assert_eq!(parse(&bytes).unwrap().max_seg_size, Some(1460));
    }

    #[test]
    fn options_at_odd_alignment() {
        // RFC 9293 MUST-64: options need not start on a word boundary.
        let bytes = with_options(&[1, 2, 4, 0x05, 0xb4, 3, 3, 9, 4, 2, 0, 0]);
        let repr = parse(&bytes).unwrap();
        assert_eq!(repr.max_seg_size, Some(1460));
        assert_eq!(repr.window_scale, Some(9));
        assert!(repr.sack_permitted);
    }

    #[test]
    fn sack_with_zero_blocks_or_a_bad_length() {
        // RFC 9293 MUST-7: SACK must be 2 + 8n bytes with 1 <= n <= 4 (RFC 2018 section 3).
        assert_eq!(options(&[5, 2]), vec![Err(Error::BadOptionLength)]);
        let mut eleven = vec![5, 11];
        eleven.extend_from_slice(&[0; 9]);
        assert_eq!(options(&eleven), vec![Err(Error::BadOptionLength)]);
        let mut five_blocks = vec![5, 42];
        five_blocks.extend_from_slice(&[0; 40]);
        assert_eq!(options(&five_blocks), vec![Err(Error::BadOptionLength)]);
        let mut four_blocks = vec![5, 34];
        four_blocks.extend_from_slice(&[0; 32]);
        assert!(
            matches!(&options(&four_blocks)[..], [Ok(TcpOption::SackRange(b))] if b.len() == 4)
        );
        assert_eq!(
            parse(&with_options(&[1, 1, 5, 2])),
            Err(Error::BadOptionLength)
        );
    }

    #[test]
    fn trailing_kind_byte_without_length() {
        // RFC 9293 MUST-68: every kind but EOL and NOP has a length byte; a lone kind byte at
        // the end of the options is an error, not a read past the area.
        assert_eq!(
            options(&[1, 1, 1, 2]),
            vec![
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::NoOperation),
                Err(Error::BadOptionLength)
            ]
        );
        assert_eq!(
            parse(&with_options(&[1, 1, 1, 30])),
            Err(Error::BadOptionLength)
        );
    }

    #[test]
    fn later_duplicate_option_wins_and_window_scale_is_raw() {
        let bytes = with_options(&[2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18, 1, 3, 3, 20]);
        let repr = parse(&bytes).unwrap();
        assert_eq!(repr.max_seg_size, Some(536));
        assert_eq!(
            repr.window_scale,
            Some(20),
            "clamping to 14 is the engine's job"
        );
    }

    #[test]
    fn options_in_a_non_syn_segment_are_read() {
        // RFC 9293 MUST-5: options are received in any segment.
        let bytes = with_options(&[2, 4, 0x05, 0xb4]);
        let repr = parse(&bytes).unwrap();
        assert_eq!(repr.flags, TcpFlags::ACK);
        assert_eq!(repr.max_seg_size, Some(1460));
    }

    #[test]
    fn option_space_limits() {
        let mut four = SackBlocks::new();
        for i in 0..4 {
            assert!(four.push((SeqNumber(i), SeqNumber(i + 1))));
        }
        assert!(
            !four.push((SeqNumber(9), SeqNumber(10))),
            "a full list refuses a fifth block"
        );
        assert!(four.is_full());
        let ts = Some(TcpTimestamp { tsval: 1, tsecr: 2 });
        let mut three = four;
        three.clear();
        for i in 0..MAX_SACK_BLOCKS_WITH_TIMESTAMPS as u32 {
            three.push((SeqNumber(i), SeqNumber(i + 1)));
        }
        let repr = |sack_ranges, timestamp| Repr {
            sack_ranges,
            timestamp,
            ..ack_repr()
        };
        assert!(repr(four, None).is_valid());
        assert!(!repr(four, ts).is_valid());
        assert!(repr(three, ts).is_valid());
        assert_eq!(repr(three, ts).header_len(), 60);
        assert!(syn_repr().is_valid());
        assert!(!Repr {
            sack_ranges: three,
            ..syn_repr()
        }
        .is_valid());
        assert!(!Repr {
            flags: TcpFlags(0x200),
            ..ack_repr()
        }
        .is_valid());
    }

    #[test]
    fn sack_blocks_compare_only_used_entries() {
        let mut a = SackBlocks::new();
        a.push((SeqNumber(1), SeqNumber(2)));
        a.push((SeqNumber(3), SeqNumber(4)));
        let mut b = SackBlocks::new();
        b.push((SeqNumber(1), SeqNumber(2)));
        assert_ne!(a, b);
        a.clear();
        a.push((SeqNumber(1), SeqNumber(2)));
        assert_eq!(a, b, "a stale second entry is not compared");
        let mut c = a;
        c.push((SeqNumber(5), SeqNumber(6)));
        c.truncate(3);
        assert_eq!(c.len(), 2);
        c.truncate(1);
        assert_eq!(c, a);
        assert_eq!(
            a.into_iter().collect::<Vec<_>>(),
            vec![(SeqNumber(1), SeqNumber(2))]
        );
        assert_eq!(a.iter().count(), 1);
        assert_eq!(SackBlocks::default(), SackBlocks::new());
        assert_eq!(format!("{a:?}"), "[(1, 2)]");
    }

    /// A valid `Repr` with an empty payload, and the payload to put in it.
    fn arb_repr() -> impl Strategy<Value = (Repr<'static>, Vec<u8>)> {
        let blocks = proptest::collection::vec(any::<(u32, u32)>(), 0..=4).prop_map(|v| {
            let mut blocks = SackBlocks::new();
            for (l, r) in v {
                blocks.push((SeqNumber(l), SeqNumber(r)));
            }
            blocks
        });
        let header = (
            any::<u16>(),
            any::<u16>(),
            0u16..=0x1ff,
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
        );
        let options = (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            blocks,
            proptest::option::of(any::<(u32, u32)>()),
        );
        let payload = proptest::collection::vec(any::<u8>(), 0..100);
        (header, options, payload).prop_map(
            |((src, dst, flags, seq, ack, win, urg), (mss, ws, sp, sack, ts), payload)| {
                let mut repr = Repr {
                    src_port: src,
                    dst_port: dst,
                    flags: TcpFlags(flags),
                    seq_number: SeqNumber(seq),
                    ack_number: SeqNumber(ack),
                    window_len: win,
                    urgent_pointer: urg,
                    max_seg_size: mss,
                    window_scale: ws,
                    sack_permitted: sp,
                    sack_ranges: sack,
                    timestamp: ts.map(|(tsval, tsecr)| TcpTimestamp { tsval, tsecr }),
                    payload: &[],
                };
                // Drop trailing SACK blocks until the options fit in 40 bytes.
                while !repr.is_valid() {
                    repr.sack_ranges.truncate(repr.sack_ranges.len() - 1);
                }
                (repr, payload)
            },
        )
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip((repr, payload) in arb_repr()) {
            let repr = Repr { payload: &payload, ..repr };
            prop_assert!(repr.is_valid());
            let bytes = emit(&repr);
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert!(repr.header_len() <= HEADER_LEN + MAX_OPTIONS_LEN);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(packet.header_len(), repr.header_len());
            prop_assert_eq!(packet.segment_len(), repr.segment_len());
            prop_assert_eq!(Repr::parse(&packet, SRC, DST, ChecksumMode::Verify), Ok(repr));
        }

        // The host reuses packet and frame buffers without zeroing them: emitting must
        // write every byte of the segment (options, padding, checksum, payload).
        #[test]
        fn emit_overwrites_a_stale_buffer((repr, payload) in arb_repr(), stale in any::<u8>()) {
            let repr = Repr { payload: &payload, ..repr };
            let mut bytes = vec![stale; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), SRC, DST);
            prop_assert_eq!(bytes, emit(&repr));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (
                    packet.src_port(), packet.dst_port(), packet.seq_number(), packet.ack_number(),
                    packet.header_len(), packet.flags(), packet.window_len(), packet.checksum(),
                    packet.urgent_pointer(), packet.options(), packet.payload(), packet.segment_len(),
                    packet.verify_checksum(SRC, DST),
                );
                let _ = TcpOptionIter::new(packet.options()).count();
                let _ = Repr::parse(&packet, SRC, DST, ChecksumMode::Verify);
                if let Ok(repr) = Repr::parse(&packet, SRC, DST, ChecksumMode::Ignore) {
                    let _ = (repr.header_len(), repr.buffer_len(), repr.is_valid());
                }
            }
        }

        #[test]
        fn option_iterator_is_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut items = 0;
            let mut errors = 0;
            for option in TcpOptionIter::new(&bytes) {
                items += 1;
                errors += usize::from(option.is_err());
            }
            prop_assert!(items <= bytes.len());
            prop_assert!(errors <= 1, "an error ends the iteration");
        }
    }
}
