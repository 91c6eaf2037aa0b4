//! IPv4 headers (RFC 791), with options kept as raw bytes.
//!
//! Layout: version (4 bits) and IHL (4 bits, header length in 32-bit words), DSCP (6) and
//! ECN (2), total length (2), identification (2), flags (3 bits: reserved, DF, MF) and
//! fragment offset (13 bits, in 8-byte units), TTL (1), protocol (1), header checksum (2),
//! source (4), destination (4), then up to 40 bytes of options. The payload runs from the end
//! of the header to the total length; anything after that (Ethernet padding) is not part of
//! the packet.
//!
//! Options are not interpreted: a host ignores the ones it does not implement (RFC 1122
//! section 3.2.1.8, RFC 9293 MUST-50), so the stack only needs to skip them, and `Repr` keeps
//! their bytes so that a parsed header re-emits exactly.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::net::Ipv4Addr;

use super::view::define_view;
use super::{checksum, read_u16, write_u16, ChecksumMode, Error, Result};

/// An IP protocol number (the IPv4 "protocol" field). Known values have constants; any other
/// value is kept as it is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// ICMP (RFC 792).
    pub const ICMP: IpProtocol = IpProtocol(checksum::protocol::ICMP);
    /// TCP (RFC 9293).
    pub const TCP: IpProtocol = IpProtocol(checksum::protocol::TCP);
    /// UDP (RFC 768).
    pub const UDP: IpProtocol = IpProtocol(checksum::protocol::UDP);
}

impl fmt::Debug for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpProtocol::ICMP => f.write_str("ICMP"),
            IpProtocol::TCP => f.write_str("TCP"),
            IpProtocol::UDP => f.write_str("UDP"),
            IpProtocol(other) => write!(f, "{other}"),
        }
    }
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// The most option bytes a header can carry (IHL 15 is 60 bytes).
pub const MAX_OPTIONS_LEN: usize = 40;

/// The raw bytes of an IPv4 options area: up to 40 bytes, a whole number of 32-bit words.
///
/// The bytes are not interpreted (end-of-list and padding included). Equality and hashing
/// look only at the bytes in use.
#[derive(Clone, Copy)]
pub struct Ipv4Options {
    bytes: [u8; MAX_OPTIONS_LEN],
    len: u8,
}

impl Ipv4Options {
    /// No options.
    pub const EMPTY: Ipv4Options = Ipv4Options {
        bytes: [0; MAX_OPTIONS_LEN],
        len: 0,
    };

    /// Copies an options area. It must fit the header: at most 40 bytes and a multiple of 4
    /// (else `BadLength`).
    pub fn new(bytes: &[u8]) -> Result<Ipv4Options> {
        if bytes.is_empty() {
            // The common case, without a variable-length copy.
            return Ok(Ipv4Options::EMPTY);
        }
        if bytes.len() > MAX_OPTIONS_LEN || !bytes.len().is_multiple_of(4) {
            return Err(Error::BadLength);
        }
        let mut options = Ipv4Options::EMPTY;
        options.bytes[..bytes.len()].copy_from_slice(bytes);
        options.len = bytes.len() as u8;
        Ok(options)
    }

    /// The option bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of option bytes (a multiple of 4).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no options.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Ipv4Options {
    fn default() -> Ipv4Options {
        Ipv4Options::EMPTY
    }
}

impl PartialEq for Ipv4Options {
    fn eq(&self, other: &Ipv4Options) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Ipv4Options {}

impl Hash for Ipv4Options {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Ipv4Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4Options({:02x?})", self.as_bytes())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Ipv4Options {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Ipv4Options> {
        let words: usize = u.int_in_range(0..=MAX_OPTIONS_LEN / 4)?;
        let mut options = Ipv4Options::EMPTY;
        u.fill_buffer(&mut options.bytes[..words * 4])?;
        options.len = (words * 4) as u8;
        Ok(options)
    }
}

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Flag bits in the flags-and-offset word. The reserved bit (0x8000) is ignored on parse and
/// written as zero.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

define_view! {
    /// A read/write view of an IPv4 packet.
    #[derive(Debug, Clone)]
    pub struct Packet<T: AsRef<[u8]>>;

    /// Wraps a buffer without checking it. Accessors may panic if it is too short: use this
    /// only on buffers sized with [`Repr::buffer_len`].
    pub const fn new_unchecked;

    /// Wraps a buffer after checking the version and that the header and the total length
    /// fit, so that no accessor can panic.
    pub fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks, in order: 20 bytes are present (`Truncated`), the version is 4 (`BadVersion`),
    /// the IHL is at least 5 (`BadLength`), the header with its options fits (`Truncated`),
    /// the total length covers the header (`BadLength`), and the total length fits
    /// (`Truncated`). The buffer may be longer than the total length.
    pub fn check_len(&self) -> Result<()> {
        self.check_header()?;
        if usize::from(self.total_len()) > self.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// [`check_len`](Self::check_len) without the last step: the total length may exceed the
    /// buffer (a header quoted in an ICMP error).
    fn check_header(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::BadVersion);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::BadLength);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        if usize::from(self.total_len()) < header_len {
            return Err(Error::BadLength);
        }
        Ok(())
    }

    /// IP version (4 for a checked packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes, options included (IHL times 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point (6 bits).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification (2 bits).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLG_OFF) & OFFSET_MASK) * 8
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        Ipv4Addr::from(a)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        Ipv4Addr::from(a)
    }

    /// The options area (between the fixed header and the payload), uninterpreted.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: from the end of the header to the total length. Bytes after the total
    /// length (Ethernet padding) are excluded.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// Whether the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version (low 4 bits of `version`).
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes (written as IHL, `len / 4`).
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP (low 6 bits of `dscp`).
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (dscp << 2);
    }

    /// Sets the ECN field (low 2 bits of `ecn`).
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (ecn & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    fn set_flag(&mut self, flag: u16, on: bool) {
        let b = self.buffer.as_mut();
        let word = read_u16(b, field::FLG_OFF) & !flag;
        write_u16(b, field::FLG_OFF, if on { word | flag } else { word });
    }

    /// Sets the don't-fragment flag.
    pub fn set_dont_frag(&mut self, on: bool) {
        self.set_flag(FLAG_DF, on);
    }

    /// Sets the more-fragments flag.
    pub fn set_more_frags(&mut self, on: bool) {
        self.set_flag(FLAG_MF, on);
    }

    /// Sets the fragment offset in bytes (written as `offset / 8`).
    pub fn set_frag_offset(&mut self, offset: u16) {
        let b = self.buffer.as_mut();
        let word = read_u16(b, field::FLG_OFF) & !OFFSET_MASK;
        write_u16(b, field::FLG_OFF, word | (offset / 8));
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol.0;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// The options area, writable (its size follows the header length).
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes the header checksum and writes it (the header length must be set).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::checksum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(sum);
    }

    /// The payload, writable: from the end of the header to the total length (both must be
    /// set).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// An IPv4 header as typed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated services code point (6 bits).
    pub dscp: u8,
    /// Explicit congestion notification (2 bits).
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// More fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
    /// Options, uninterpreted.
    pub options: Ipv4Options,
}

impl Repr {
    /// Reads the header of a checked packet.
    ///
    /// Errors: whatever [`Packet::check_len`] finds; `BadChecksum` when `mode` is `Verify`
    /// and the header checksum is wrong; `Malformed` when the fragment would end past byte
    /// 65535 of the datagram. The reserved flag is ignored.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, mode: ChecksumMode) -> Result<Repr> {
        packet.check_len()?;
        Self::parse_checked_header(packet, mode)
    }

    /// Reads an IPv4 header quoted in an ICMP error (RFC 792): the bytes start with the
    /// offending datagram's header, but usually hold only part of its payload.
    ///
    /// Checks everything [`parse`](Self::parse) does except that the total length fits the
    /// buffer: `payload_len` comes from the total length, and the second value is the payload
    /// bytes that are present (all of them, even past the total length).
    pub fn parse_embedded(bytes: &[u8], mode: ChecksumMode) -> Result<(Repr, &[u8])> {
        let packet = Packet::new_unchecked(bytes);
        packet.check_header()?;
        let repr = Self::parse_checked_header(&packet, mode)?;
        Ok((repr, &bytes[packet.header_len()..]))
    }

    /// `parse` after `check_header`: only the header is known to be present.
    #[inline]
    fn parse_checked_header<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        mode: ChecksumMode,
    ) -> Result<Repr> {
        if mode == ChecksumMode::Verify && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let payload_len = usize::from(packet.total_len()) - packet.header_len();
        let frag_offset = packet.frag_offset();
        if usize::from(frag_offset) + payload_len > usize::from(u16::MAX) {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len,
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset,
            options: Ipv4Options::new(packet.options())?,
        })
    }

    /// Header length `emit` writes: 20 plus the options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Header plus payload length: the size of the buffer to emit into.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header, options and checksum into the start of `packet`, which must be at
    /// least [`header_len`](Self::header_len) long. The payload is the caller's to write
    /// (through [`Packet::payload_mut`], which needs [`buffer_len`](Self::buffer_len) bytes).
    // Inlined where it can be: a caller builds the `Repr` just before, and reading it back
    // through memory merged two one-byte fields (protocol, TTL) into one two-byte load
    // that no single store could forward, a stall on every packet (the hottest
    // instruction of this function, `perf annotate`).
    #[inline(always)]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let header_len = self.header_len();
        let mut flags = (self.frag_offset / 8) & OFFSET_MASK;
        if self.dont_frag {
            flags |= FLAG_DF;
        }
        if self.more_frags {
            flags |= FLAG_MF;
        }
        let s = self.src_addr.octets();
        let d = self.dst_addr.octets();
        // The fixed header as 16-bit words, checksum (word 5) zero. Summing these words
        // rather than re-reading the bytes just written saves a store-to-load round trip.
        let mut words: [u16; HEADER_LEN / 2] = [
            u16::from_be_bytes([
                0x40 | ((header_len / 4) as u8 & 0x0f),
                (self.dscp << 2) | (self.ecn & 0x03),
            ]),
            (header_len + self.payload_len) as u16,
            self.ident,
            // The reserved flag is written as zero.
            flags,
            u16::from_be_bytes([self.ttl, self.protocol.0]),
            0,
            u16::from_be_bytes([s[0], s[1]]),
            u16::from_be_bytes([s[2], s[3]]),
            u16::from_be_bytes([d[0], d[1]]),
            u16::from_be_bytes([d[2], d[3]]),
        ];
        let options = self.options.as_bytes();
        let mut sum = checksum::combine(&words);
        if !options.is_empty() {
            sum = checksum::combine(&[sum, checksum::data(options)]);
        }
        words[field::CHECKSUM / 2] = !sum;
        let mut fixed = [0u8; HEADER_LEN];
        for (bytes, word) in fixed.chunks_exact_mut(2).zip(words) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        let b = packet.buffer.as_mut();
        b[..HEADER_LEN].copy_from_slice(&fixed);
        // Guarded: a copy of unknown length is a call into libc's `memcpy`, made for the
        // empty options of nearly every packet.
        if !options.is_empty() {
            b[HEADER_LEN..header_len].copy_from_slice(options);
        }
    }

    /// Whether `parse(emit(self)) == self` can hold: DSCP and ECN fit their widths, the
    /// fragment offset is a multiple of 8, and both the total length and the end of the
    /// fragment fit in 16 bits.
    pub fn is_valid(&self) -> bool {
        // Subtracting from `max` (the header is at most 60 bytes, the offset at most 65535)
        // rather than adding to `payload_len`, which may be anything up to `usize::MAX`.
        let max = usize::from(u16::MAX);
        self.dscp < 64
            && self.ecn < 4
            && self.frag_offset.is_multiple_of(8)
            && self.payload_len <= max - self.header_len()
            && self.payload_len <= max - usize::from(self.frag_offset)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    /// A DNS query as a Linux host sends it: UDP, DF set, TTL 64, 192.168.1.10 to
    /// 192.168.1.1.
    const PACKET: [u8; 36] = [
        0x45, // version 4, IHL 5
        0x00, // DSCP 0, ECN 0
        0x00, 0x24, // total length 36
        0x1c, 0x46, // identification
        0x40, 0x00, // DF, offset 0
        0x40, // TTL 64
        0x11, // UDP
        0x9b, 0x27, // header checksum
        0xc0, 0xa8, 0x01, 0x0a, // source 192.168.1.10
        0xc0, 0xa8, 0x01, 0x01, // destination 192.168.1.1
        0xd4, 0x31, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00, // payload: a UDP header
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, // and the start of a DNS query
    ];

    /// A non-first fragment carrying the Router Alert option (RFC 2113, copied into every
    /// fragment): DSCP 46 (EF), ECN 1 (ECT(1)), MF set, offset 1480, TTL 17.
    const FRAGMENT: [u8; 32] = [
        0x46, // version 4, IHL 6
        0xb9, // DSCP 46, ECN 1
        0x00, 0x20, // total length 32
        0xab, 0xcd, // identification
        0x20, 0xb9, // MF, offset 185 * 8 = 1480
        0x11, // TTL 17
        0x11, // UDP
        0x33, 0x87, // header checksum
        0x0a, 0x00, 0x00, 0x01, // source 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // destination 10.0.0.2
        0x94, 0x04, 0x00, 0x00, // Router Alert, length 4, value 0
        0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa, 0xce, // payload
    ];

    fn packet_repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(192, 168, 1, 10),
            dst_addr: Ipv4Addr::new(192, 168, 1, 1),
            protocol: IpProtocol::UDP,
            payload_len: 16,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 0x1c46,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            options: Ipv4Options::EMPTY,
        }
    }

    fn fragment_repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::UDP,
            payload_len: 8,
            ttl: 17,
            dscp: 46,
            ecn: 1,
            ident: 0xabcd,
            dont_frag: false,
            more_frags: true,
            frag_offset: 1480,
            options: Ipv4Options::new(&[0x94, 0x04, 0x00, 0x00]).unwrap(),
        }
    }

    /// Emits `repr` with `payload` into a fresh buffer.
    fn emit(repr: &Repr, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; repr.buffer_len()];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut packet);
        packet.payload_mut().copy_from_slice(payload);
        bytes
    }

    /// `bytes` with the header checksum recomputed after an edit.
    fn refill(mut bytes: Vec<u8>) -> Vec<u8> {
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        bytes
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.dscp(), 0);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.total_len(), 36);
        assert_eq!(packet.ident(), 0x1c46);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.ttl(), 64);
        assert_eq!(packet.protocol(), IpProtocol::UDP);
        assert_eq!(packet.checksum(), 0x9b27);
        assert_eq!(packet.src_addr(), Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(packet.dst_addr(), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(packet.options(), &[] as &[u8]);
        assert_eq!(packet.payload(), &PACKET[20..]);
        assert!(packet.verify_checksum());
    }

    #[test]
    fn deconstruct_fragment_with_options() {
        let packet = Packet::new_checked(&FRAGMENT[..]).unwrap();
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.dscp(), 46);
        assert_eq!(packet.ecn(), 1);
        assert!(!packet.dont_frag());
        assert!(packet.more_frags());
        assert_eq!(packet.frag_offset(), 1480);
        assert_eq!(packet.ttl(), 17);
        assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(packet.payload(), &FRAGMENT[24..]);
        assert!(packet.verify_checksum());
    }

    #[test]
    fn construct_reproduces_the_fixtures() {
        assert_eq!(&emit(&packet_repr(), &PACKET[20..])[..], &PACKET[..]);
        assert_eq!(&emit(&fragment_repr(), &FRAGMENT[24..])[..], &FRAGMENT[..]);
    }

    #[test]
    fn parse_fixtures() {
        let packet = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet, ChecksumMode::Verify),
            Ok(packet_repr())
        );
        let fragment = Packet::new_checked(&FRAGMENT[..]).unwrap();
        assert_eq!(
            Repr::parse(&fragment, ChecksumMode::Verify),
            Ok(fragment_repr())
        );
    }

    #[test]
    fn parse_and_reemit_reproduces_the_bytes() {
        for fixture in [&PACKET[..], &FRAGMENT[..]] {
            let packet = Packet::new_checked(fixture).unwrap();
            let repr = Repr::parse(&packet, ChecksumMode::Verify).unwrap();
            assert_eq!(&emit(&repr, packet.payload())[..], fixture);
        }
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // A 28-byte packet padded to Ethernet's 46-byte minimum payload.
        let repr = Repr {
            payload_len: 8,
            ..packet_repr()
        };
        let mut bytes = emit(&repr, &PACKET[20..28]);
        bytes.resize(46, 0);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload(), &PACKET[20..28]);
        assert_eq!(Repr::parse(&packet, ChecksumMode::Verify), Ok(repr));
    }

    #[test]
    fn truncated_is_an_error() {
        // Short of the fixed header, short of the options, short of the total length.
        for len in 0..FRAGMENT.len() {
            assert_eq!(
                Packet::new_checked(&FRAGMENT[..len]).unwrap_err(),
                Error::Truncated,
                "length {len}"
            );
        }
        for len in 0..PACKET.len() {
            assert_eq!(
                Packet::new_checked(&PACKET[..len]).unwrap_err(),
                Error::Truncated
            );
        }
    }

    #[test]
    fn bad_version() {
        let mut bytes = PACKET;
        bytes[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            Error::BadVersion
        );
    }

    #[test]
    fn ihl_below_five() {
        for ihl in 0..5 {
            let mut bytes = PACKET;
            bytes[0] = 0x40 | ihl;
            assert_eq!(
                Packet::new_checked(&bytes[..]).unwrap_err(),
                Error::BadLength
            );
        }
    }

    #[test]
    fn total_len_below_header_len() {
        let mut bytes = FRAGMENT;
        bytes[2..4].copy_from_slice(&23u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            Error::BadLength
        );
        // Exactly the header is fine: an empty payload.
        bytes[2..4].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap().payload(),
            &[] as &[u8]
        );
    }

    #[test]
    fn bad_checksum() {
        let mut bytes = PACKET;
        bytes[11] ^= 1;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(!packet.verify_checksum());
        assert_eq!(
            Repr::parse(&packet, ChecksumMode::Verify),
            Err(Error::BadChecksum)
        );
        assert_eq!(
            Repr::parse(&packet, ChecksumMode::Ignore),
            Ok(packet_repr())
        );
    }

    #[test]
    fn fragment_past_65535_is_malformed() {
        // Offset 65528 with 8 payload bytes ends exactly at 65536: one too many.
        let mut bytes = FRAGMENT.to_vec();
        bytes[6..8].copy_from_slice(&(FLAG_MF | 0x1fff).to_be_bytes());
        let bytes = refill(bytes);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet, ChecksumMode::Verify),
            Err(Error::Malformed)
        );
        // Seven payload bytes end at 65535: accepted.
        let mut bytes = bytes;
        bytes[2..4].copy_from_slice(&31u16.to_be_bytes());
        let bytes = refill(bytes);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet, ChecksumMode::Verify).map(|r| r.frag_offset),
            Ok(65528)
        );
    }

    #[test]
    fn reserved_flag_is_ignored_and_cleared() {
        let mut bytes = PACKET.to_vec();
        bytes[6] |= 0x80;
        let bytes = refill(bytes);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&packet, ChecksumMode::Verify).unwrap();
        assert_eq!(repr, packet_repr());
        assert_eq!(&emit(&repr, packet.payload())[..], &PACKET[..]);
    }

    #[test]
    fn embedded_header_may_claim_more_than_is_present() {
        // An ICMP error quotes the header and the first 8 payload bytes of PACKET.
        let (repr, rest) = Repr::parse_embedded(&PACKET[..28], ChecksumMode::Verify).unwrap();
        assert_eq!(repr, packet_repr());
        assert_eq!(rest, &PACKET[20..28]);
        // Only the header present is fine too.
        let (repr, rest) = Repr::parse_embedded(&PACKET[..20], ChecksumMode::Verify).unwrap();
        assert_eq!(repr.payload_len, 16);
        assert_eq!(rest, &[] as &[u8]);
    }

    #[test]
    fn embedded_header_errors() {
        for len in 0..24 {
            assert_eq!(
                Repr::parse_embedded(&FRAGMENT[..len], ChecksumMode::Verify).unwrap_err(),
                Error::Truncated
            );
        }
        let mut bytes = PACKET;
        bytes[0] = 0x44;
        assert_eq!(
            Repr::parse_embedded(&bytes, ChecksumMode::Verify).unwrap_err(),
            Error::BadLength
        );
        let mut bytes = PACKET.to_vec();
        bytes[2..4].copy_from_slice(&19u16.to_be_bytes());
        let bytes = refill(bytes);
        assert_eq!(
            Repr::parse_embedded(&bytes, ChecksumMode::Verify).unwrap_err(),
            Error::BadLength
        );
        let mut bytes = PACKET;
        bytes[8] = 1; // TTL changed, checksum not updated
        assert_eq!(
            Repr::parse_embedded(&bytes, ChecksumMode::Verify).unwrap_err(),
            Error::BadChecksum
        );
        assert!(Repr::parse_embedded(&bytes, ChecksumMode::Ignore).is_ok());
    }

    #[test]
    fn options_must_fit_the_header() {
        assert_eq!(Ipv4Options::new(&[1; 3]), Err(Error::BadLength));
        assert_eq!(Ipv4Options::new(&[1; 44]), Err(Error::BadLength));
        assert_eq!(Ipv4Options::new(&[1; 40]).unwrap().len(), 40);
        assert!(Ipv4Options::new(&[]).unwrap().is_empty());
        assert_eq!(Ipv4Options::new(&[]), Ok(Ipv4Options::default()));
    }

    #[test]
    fn options_equality_ignores_unused_bytes() {
        let mut a = Ipv4Options::new(&[1, 2, 3, 4]).unwrap();
        let b = a;
        a.bytes[10] = 0xff;
        assert_eq!(a, b);
    }

    #[test]
    fn is_valid_matches_what_the_header_can_hold() {
        assert!(packet_repr().is_valid());
        assert!(!Repr {
            dscp: 64,
            ..packet_repr()
        }
        .is_valid());
        assert!(!Repr {
            ecn: 4,
            ..packet_repr()
        }
        .is_valid());
        assert!(!Repr {
            frag_offset: 1481,
            ..packet_repr()
        }
        .is_valid());
        let biggest = Repr {
            payload_len: 65515,
            ..packet_repr()
        };
        assert!(biggest.is_valid());
        assert!(!Repr {
            payload_len: 65516,
            ..packet_repr()
        }
        .is_valid());
        assert!(Repr {
            frag_offset: 16,
            ..biggest
        }
        .is_valid());
        assert!(!Repr {
            frag_offset: 24,
            ..biggest
        }
        .is_valid());
        assert!(!Repr {
            frag_offset: 65528,
            payload_len: 8,
            ..packet_repr()
        }
        .is_valid());
    }

    #[test]
    fn is_valid_does_not_overflow_on_a_huge_payload_len() {
        // Found by the `repr_ipv4` fuzz target: `header_len() + payload_len` overflowed.
        for payload_len in [usize::MAX, usize::MAX - 19, usize::MAX - 65535] {
            for frag_offset in [0, 8, 65528] {
                let repr = Repr {
                    payload_len,
                    frag_offset,
                    options: Ipv4Options::new(&[1; 40]).unwrap(),
                    ..packet_repr()
                };
                assert!(!repr.is_valid(), "{payload_len} {frag_offset}");
            }
        }
    }

    #[test]
    fn protocol_debug_names() {
        assert_eq!(alloc::format!("{:?}", IpProtocol::TCP), "TCP");
        assert_eq!(alloc::format!("{:?}", IpProtocol::ICMP), "ICMP");
        assert_eq!(alloc::format!("{:?}", IpProtocol::UDP), "UDP");
        assert_eq!(alloc::format!("{:?}", IpProtocol(89)), "89");
    }

    fn arb_options() -> impl Strategy<Value = Ipv4Options> {
        (0usize..=10)
            .prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4))
            .prop_map(|bytes| Ipv4Options::new(&bytes).unwrap())
    }

    /// Valid headers over every field; `payload_len` stays small so tests can allocate it.
    pub(crate) fn arb_repr() -> impl Strategy<Value = Repr> {
        (
            (any::<[u8; 4]>(), any::<[u8; 4]>(), any::<u8>(), 0usize..600),
            (any::<u8>(), 0u8..64, 0u8..4, any::<u16>()),
            (any::<bool>(), any::<bool>(), 0u16..=0x1fff, arb_options()),
        )
            .prop_map(
                |(
                    (src, dst, protocol, payload_len),
                    (ttl, dscp, ecn, ident),
                    (dont_frag, more_frags, offset_units, options),
                )| {
                    // Keep the fragment's end within 65535.
                    let max_units = (usize::from(u16::MAX) - payload_len) / 8;
                    let units = usize::from(offset_units).min(max_units);
                    Repr {
                        src_addr: Ipv4Addr::from(src),
                        dst_addr: Ipv4Addr::from(dst),
                        protocol: IpProtocol(protocol),
                        payload_len,
                        ttl,
                        dscp,
                        ecn,
                        ident,
                        dont_frag,
                        more_frags,
                        frag_offset: (units * 8) as u16,
                        options,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(repr in arb_repr(), fill in any::<u8>()) {
            prop_assert!(repr.is_valid());
            let payload = vec![fill; repr.payload_len];
            let bytes = emit(&repr, &payload);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(Repr::parse(&packet, ChecksumMode::Verify).unwrap(), repr);
            prop_assert_eq!(packet.payload(), &payload[..]);
            prop_assert_eq!(packet.options(), repr.options.as_bytes());
            let (embedded, rest) = Repr::parse_embedded(&bytes[..repr.header_len()], ChecksumMode::Verify).unwrap();
            prop_assert_eq!(embedded, repr);
            prop_assert_eq!(rest, &[] as &[u8]);
        }

        // The host reuses packet buffers without zeroing them: emitting must write every
        // byte of the header (options and padding included).
        #[test]
        fn emit_overwrites_a_stale_header(repr in arb_repr(), stale in any::<u8>()) {
            let mut bytes = vec![stale; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
            let zeroed = emit(&repr, &vec![0; repr.payload_len]);
            prop_assert_eq!(&bytes[..repr.header_len()], &zeroed[..repr.header_len()]);
        }

        #[test]
        fn any_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..90), version_ihl in any::<bool>()) {
            if version_ihl && !bytes.is_empty() {
                // Make the interesting paths likely: version 4, a plausible IHL.
                bytes[0] = 0x40 | (bytes[0] & 0x0f);
            }
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.version(), packet.header_len(), packet.dscp(), packet.ecn());
                let _ = (packet.total_len(), packet.ident(), packet.dont_frag(), packet.more_frags());
                let _ = (packet.frag_offset(), packet.ttl(), packet.protocol(), packet.checksum());
                let _ = (packet.src_addr(), packet.dst_addr(), packet.options(), packet.payload());
                let _ = packet.verify_checksum();
                let _ = Repr::parse(&packet, ChecksumMode::Verify);
                let _ = Repr::parse(&packet, ChecksumMode::Ignore);
            }
            let _ = Repr::parse_embedded(&bytes, ChecksumMode::Ignore);
            let _ = Repr::parse_embedded(&bytes, ChecksumMode::Verify);
        }
    }
}
