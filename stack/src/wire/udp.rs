//! UDP datagrams (RFC 768).
//!
//! Layout: source port (2), destination port (2), length (2, header included), checksum (2),
//! payload. The length field, not the buffer, says where the datagram ends: bytes after it
//! (link-layer padding, say) are ignored. The checksum covers the IPv4 pseudo-header and the
//! datagram; a checksum field of zero means the sender computed none, so a computed zero is
//! sent as 0xffff (the same number in one's complement).

use core::net::Ipv4Addr;

use super::checksum::{self, protocol};
use super::view::define_view;
use super::{read_u16, write_u16, ChecksumMode, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// Length of the header.
pub const HEADER_LEN: usize = 8;

define_view! {
    /// A read/write view of a UDP datagram.
    #[derive(Debug, Clone)]
    pub struct Packet<T: AsRef<[u8]>>;

    /// Wraps a buffer without checking it. Accessors may panic if it is too short or the
    /// length field is wrong: use this only on buffers sized with [`Repr::buffer_len`].
    pub const fn new_unchecked;

    /// Wraps a buffer after checking that the header fits, that the length field is at least
    /// 8 and that the datagram it announces fits, so that no accessor can panic.
    pub fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the lengths: `Truncated` if the buffer is shorter than 8 bytes or than the
    /// length field, `BadLength` if the length field is below 8.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let field_len = usize::from(self.len());
        if field_len < HEADER_LEN {
            return Err(Error::BadLength);
        }
        if field_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Source port (0 when the sender expects no reply).
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header and payload, in bytes.
    // A field accessor: a datagram is never empty (8 bytes at least), so no `is_empty`.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum field (0: none computed).
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The datagram as the length field delimits it.
    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// The payload: from the end of the header to the end the length field gives.
    pub fn payload(&self) -> &[u8] {
        &self.datagram()[HEADER_LEN..]
    }

    /// Whether the checksum verifies over the IPv4 pseudo-header and the datagram. A zero
    /// checksum field means "no checksum" and verifies.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let datagram = self.datagram();
        let pseudo = checksum::pseudo_header_v4(src, dst, protocol::UDP, u32::from(self.len()));
        checksum::combine(&[pseudo, checksum::data(datagram)]) == 0xffff
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

    /// Sets the length field.
    pub fn set_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Computes and writes the checksum over the IPv4 pseudo-header and the datagram (as the
    /// length field delimits it). A computed zero is written as 0xffff, since zero means
    /// "none".
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let pseudo = checksum::pseudo_header_v4(src, dst, protocol::UDP, u32::from(self.len()));
        let sum = checksum::combine(&[pseudo, checksum::data(self.datagram())]);
        let checksum = match !sum {
            0 => 0xffff,
            checksum => checksum,
        };
        self.set_checksum(checksum);
    }

    /// The payload, writable (to the end the length field gives).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A UDP header and its payload, as typed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Repr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a datagram: lengths, then the checksum (per `mode`; a zero checksum field is
    /// accepted without verification, RFC 768). The payload borrows from the packet's
    /// buffer.
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
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload: &bytes[HEADER_LEN..usize::from(packet.len())],
        })
    }

    /// Header length: 8.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Datagram length `emit` writes: header and payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Whether the datagram's length fits the 16-bit length field.
    pub const fn is_valid(&self) -> bool {
        self.buffer_len() <= u16::MAX as usize
    }

    /// Writes the datagram (header, payload, checksum) into the start of `packet`, whose
    /// buffer must be at least [`buffer_len`](Self::buffer_len) long; bytes after it are left
    /// alone. Assumes [`is_valid`](Self::is_valid).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        debug_assert!(
            self.is_valid(),
            "UDP payload too long: {}",
            self.payload.len()
        );
        debug_assert!(packet.buffer.as_ref().len() >= self.buffer_len());
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(self.buffer_len() as u16);
        packet.payload_mut().copy_from_slice(self.payload);
        packet.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{vec, vec::Vec};
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A DNS query for `example.com` A, 10.0.0.1:53124 -> 10.0.0.2:53.
    const DNS_QUERY: [u8; 37] = [
        0xcf, 0x84, // source port 53124
        0x00, 0x35, // destination port 53
        0x00, 0x25, // length 37
        0x3a, 0x46, // checksum
        0x12, 0x34, // DNS id
        0x01, 0x00, // flags: recursion desired
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 1 question, no other records
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // "example"
        0x03, b'c', b'o', b'm', 0x00, // "com", root
        0x00, 0x01, // type A
        0x00, 0x01, // class IN
    ];

    /// The same query sent without a checksum.
    const NO_CHECKSUM: [u8; 37] = {
        let mut bytes = DNS_QUERY;
        bytes[6] = 0;
        bytes[7] = 0;
        bytes
    };

    fn dns_repr() -> Repr<'static> {
        Repr {
            src_port: 53124,
            dst_port: 53,
            payload: &DNS_QUERY[8..],
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

    #[test]
    fn deconstruct_dns_query() {
        let packet = Packet::new_checked(&DNS_QUERY[..]).unwrap();
        assert_eq!(packet.src_port(), 53124);
        assert_eq!(packet.dst_port(), 53);
        assert_eq!(packet.len(), 37);
        assert_eq!(packet.checksum(), 0x3a46);
        assert_eq!(packet.payload(), &DNS_QUERY[8..]);
        assert!(packet.verify_checksum(SRC, DST));
        assert!(!packet.verify_checksum(SRC, Ipv4Addr::new(10, 0, 0, 3)));
    }

    #[test]
    fn construct_dns_query() {
        assert_eq!(emit(&dns_repr()), DNS_QUERY.to_vec());
    }

    #[test]
    fn parse_dns_query() {
        assert_eq!(parse(&DNS_QUERY), Ok(dns_repr()));
    }

    #[test]
    fn parse_and_reemit_reproduces_the_fixture() {
        let repr = parse(&DNS_QUERY).unwrap();
        assert!(repr.is_valid());
        assert_eq!(emit(&repr), DNS_QUERY.to_vec());
    }

    #[test]
    fn zero_checksum_is_accepted() {
        let packet = Packet::new_checked(&NO_CHECKSUM[..]).unwrap();
        assert!(packet.verify_checksum(SRC, DST));
        assert_eq!(parse(&NO_CHECKSUM), Ok(dns_repr()));
    }

    #[test]
    fn computed_zero_is_sent_as_ffff() {
        // Choose the payload word that makes the sum 0xffff, so the checksum computes to zero.
        let mut bytes = [0u8; HEADER_LEN + 2];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_src_port(1);
        packet.set_dst_port(2);
        packet.set_len(10);
        let pseudo = checksum::pseudo_header_v4(SRC, DST, protocol::UDP, 10);
        let sum = checksum::combine(&[pseudo, checksum::data(&packet.buffer[..])]);
        let word = 0xffff - sum;
        let repr = Repr {
            src_port: 1,
            dst_port: 2,
            payload: &word.to_be_bytes(),
        };
        let bytes = emit(&repr);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.checksum(), 0xffff);
        assert!(packet.verify_checksum(SRC, DST));
        assert_eq!(parse(&bytes), Ok(repr));
    }

    #[test]
    fn bad_checksum() {
        let mut bytes = DNS_QUERY;
        bytes[20] ^= 0x40;
        assert_eq!(parse(&bytes), Err(Error::BadChecksum));
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(Repr::parse(&packet, SRC, DST, ChecksumMode::Ignore).is_ok());
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut bytes = DNS_QUERY.to_vec();
        bytes.extend_from_slice(&[0xee; 9]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload(), &DNS_QUERY[8..]);
        assert_eq!(parse(&bytes), Ok(dns_repr()));
    }

    #[test]
    fn truncated_is_an_error() {
        for len in 0..DNS_QUERY.len() {
            assert_eq!(
                Packet::new_checked(&DNS_QUERY[..len]).unwrap_err(),
                Error::Truncated
            );
        }
    }

    #[test]
    fn length_field_beyond_the_buffer() {
        let mut bytes = DNS_QUERY;
        bytes[5] = 38;
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn length_field_below_the_header() {
        for len in 0..HEADER_LEN as u8 {
            let mut bytes = DNS_QUERY;
            bytes[5] = len;
            assert_eq!(
                Packet::new_checked(&bytes[..]).unwrap_err(),
                Error::BadLength
            );
        }
    }

    #[test]
    fn empty_payload() {
        let repr = Repr {
            src_port: 7,
            dst_port: 9,
            payload: &[],
        };
        let bytes = emit(&repr);
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(parse(&bytes), Ok(repr));
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(
            src_port in any::<u16>(),
            dst_port in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..100),
            trailer in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let repr = Repr { src_port, dst_port, payload: &payload };
            prop_assert!(repr.is_valid());
            let mut bytes = emit(&repr);
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            bytes.extend_from_slice(&trailer);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_ne!(packet.checksum(), 0);
            prop_assert_eq!(Repr::parse(&packet, SRC, DST, ChecksumMode::Verify), Ok(repr));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (
                    packet.src_port(), packet.dst_port(), packet.len(), packet.checksum(),
                    packet.payload(), packet.verify_checksum(SRC, DST),
                );
                let _ = Repr::parse(&packet, SRC, DST, ChecksumMode::Verify);
                let _ = Repr::parse(&packet, SRC, DST, ChecksumMode::Ignore);
            }
        }
    }
}
