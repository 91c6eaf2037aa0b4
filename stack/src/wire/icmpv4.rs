//! ICMPv4 messages (RFC 792), with the Path MTU field of RFC 1191 and the destination
//! unreachable codes of RFC 1812 section 5.2.7.1.
//!
//! Layout: type (1), code (1), checksum (2), four bytes whose meaning depends on the type,
//! then data. Echo request and reply carry an identifier (2) and sequence number (2) and echo
//! back arbitrary data. The error messages (destination unreachable, source quench, time
//! exceeded, parameter problem) quote the offending datagram: its IP header and at least the
//! first 8 bytes of its payload (RFC 792; RFC 1812 section 4.3.2.3 lets routers quote more).
//! Destination unreachable "fragmentation needed" puts the next-hop MTU in bytes 6..8
//! (RFC 1191 section 4); parameter problem puts a pointer to the bad byte in byte 4.
//!
//! The checksum covers the whole message. Redirects and the other types are recognized by
//! [`Message`] but not parsed into a [`Repr`] (`Unsupported`): a host does not act on them
//! (RFC 1122 section 3.2.2.2 makes redirects a SHOULD that this stack does not take).

use core::fmt;

use super::ipv4;
use super::view::define_view;
use super::{checksum, read_u16, write_u16, ChecksumMode, Error, Result};

/// An ICMP message type. Known values have constants; any other value is kept as it is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Message(pub u8);

impl Message {
    /// Echo reply.
    pub const ECHO_REPLY: Message = Message(0);
    /// Destination unreachable (an error).
    pub const DST_UNREACHABLE: Message = Message(3);
    /// Source quench (an error, deprecated by RFC 6633).
    pub const SOURCE_QUENCH: Message = Message(4);
    /// Redirect (an error).
    pub const REDIRECT: Message = Message(5);
    /// Echo request.
    pub const ECHO_REQUEST: Message = Message(8);
    /// Time exceeded (an error).
    pub const TIME_EXCEEDED: Message = Message(11);
    /// Parameter problem (an error).
    pub const PARAM_PROBLEM: Message = Message(12);

    /// Whether this is an error message, one that quotes an offending datagram. A host never
    /// sends an error about an error (RFC 1122 section 3.2.2).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Message::DST_UNREACHABLE
                | Message::SOURCE_QUENCH
                | Message::REDIRECT
                | Message::TIME_EXCEEDED
                | Message::PARAM_PROBLEM
        )
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Message::ECHO_REPLY => f.write_str("EchoReply"),
            Message::DST_UNREACHABLE => f.write_str("DstUnreachable"),
            Message::SOURCE_QUENCH => f.write_str("SourceQuench"),
            Message::REDIRECT => f.write_str("Redirect"),
            Message::ECHO_REQUEST => f.write_str("EchoRequest"),
            Message::TIME_EXCEEDED => f.write_str("TimeExceeded"),
            Message::PARAM_PROBLEM => f.write_str("ParamProblem"),
            Message(other) => write!(f, "Message({other})"),
        }
    }
}

/// The code of a destination unreachable message (RFC 792, RFC 1122 section 3.2.2.1,
/// RFC 1812 section 5.2.7.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DstUnreachable(pub u8);

impl DstUnreachable {
    /// Network unreachable.
    pub const NET_UNREACHABLE: DstUnreachable = DstUnreachable(0);
    /// Host unreachable.
    pub const HOST_UNREACHABLE: DstUnreachable = DstUnreachable(1);
    /// Protocol unreachable.
    pub const PROTO_UNREACHABLE: DstUnreachable = DstUnreachable(2);
    /// Port unreachable.
    pub const PORT_UNREACHABLE: DstUnreachable = DstUnreachable(3);
    /// Fragmentation needed and DF set; the next-hop MTU is in the message (RFC 1191).
    pub const FRAG_REQUIRED: DstUnreachable = DstUnreachable(4);
    /// Source route failed.
    pub const SRC_ROUTE_FAILED: DstUnreachable = DstUnreachable(5);
    /// Destination network unknown (RFC 1122).
    pub const DST_NET_UNKNOWN: DstUnreachable = DstUnreachable(6);
    /// Destination host unknown (RFC 1122).
    pub const DST_HOST_UNKNOWN: DstUnreachable = DstUnreachable(7);
    /// Source host isolated (RFC 1122).
    pub const SRC_HOST_ISOLATED: DstUnreachable = DstUnreachable(8);
    /// Communication with the destination network administratively prohibited (RFC 1122).
    pub const NET_PROHIBITED: DstUnreachable = DstUnreachable(9);
    /// Communication with the destination host administratively prohibited (RFC 1122).
    pub const HOST_PROHIBITED: DstUnreachable = DstUnreachable(10);
    /// Network unreachable for the type of service (RFC 1122).
    pub const NET_UNREACHABLE_FOR_TOS: DstUnreachable = DstUnreachable(11);
    /// Host unreachable for the type of service (RFC 1122).
    pub const HOST_UNREACHABLE_FOR_TOS: DstUnreachable = DstUnreachable(12);
    /// Communication administratively prohibited by filtering (RFC 1812).
    pub const ADMIN_PROHIBITED: DstUnreachable = DstUnreachable(13);
    /// Host precedence violation (RFC 1812).
    pub const HOST_PRECEDENCE_VIOLATION: DstUnreachable = DstUnreachable(14);
    /// Precedence cutoff in effect (RFC 1812).
    pub const PRECEDENCE_CUTOFF: DstUnreachable = DstUnreachable(15);

    /// Whether this is one of the 16 defined codes.
    pub fn is_known(self) -> bool {
        self.0 <= 15
    }
}

impl fmt::Debug for DstUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 16] = [
            "NetUnreachable",
            "HostUnreachable",
            "ProtoUnreachable",
            "PortUnreachable",
            "FragRequired",
            "SrcRouteFailed",
            "DstNetUnknown",
            "DstHostUnknown",
            "SrcHostIsolated",
            "NetProhibited",
            "HostProhibited",
            "NetUnreachableForTos",
            "HostUnreachableForTos",
            "AdminProhibited",
            "HostPrecedenceViolation",
            "PrecedenceCutoff",
        ];
        match NAMES.get(usize::from(self.0)) {
            Some(name) => f.write_str(name),
            None => write!(f, "DstUnreachable({})", self.0),
        }
    }
}

/// The code of a time exceeded message.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TimeExceeded(pub u8);

impl TimeExceeded {
    /// The TTL reached zero in transit.
    pub const TTL_EXPIRED: TimeExceeded = TimeExceeded(0);
    /// Fragment reassembly time exceeded.
    pub const FRAG_EXPIRED: TimeExceeded = TimeExceeded(1);

    /// Whether this is one of the two defined codes.
    pub fn is_known(self) -> bool {
        self.0 <= 1
    }
}

impl fmt::Debug for TimeExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimeExceeded::TTL_EXPIRED => f.write_str("TtlExpired"),
            TimeExceeded::FRAG_EXPIRED => f.write_str("FragExpired"),
            TimeExceeded(other) => write!(f, "TimeExceeded({other})"),
        }
    }
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const UNUSED: core::ops::Range<usize> = 4..8;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
    pub const POINTER: usize = 4;
    pub const MTU: usize = 6;
}

/// Length of the fixed part of every message (type, code, checksum, four bytes).
pub const HEADER_LEN: usize = 8;

define_view! {
    /// A read/write view of an ICMPv4 message. The message is the whole buffer.
    #[derive(Debug, Clone)]
    pub struct Packet<T: AsRef<[u8]>>;

    /// Wraps a buffer without checking it. Accessors may panic if it is too short: use this
    /// only on buffers sized with [`Repr::buffer_len`].
    pub const fn new_unchecked;

    /// Wraps a buffer after checking that the 8-byte header fits, so that no accessor can
    /// panic.
    pub fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the header fits in the buffer.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Message type.
    pub fn msg_type(&self) -> Message {
        Message(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (bytes 4..6).
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (bytes 6..8).
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }

    /// Next-hop MTU of a "fragmentation needed" message (bytes 6..8, RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::MTU)
    }

    /// Pointer of a parameter problem message (byte 4): the offset of the bad byte in the
    /// quoted header.
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Everything after the 8-byte header: echo data, or the quoted datagram of an error.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// [`data`](Packet::data) with the lifetime of the underlying buffer.
    fn data_ref(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, msg_type: Message) {
        self.buffer.as_mut()[field::TYPE] = msg_type.0;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, ident);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, seq_no: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQNO, seq_no);
    }

    /// Sets the next-hop MTU.
    pub fn set_next_hop_mtu(&mut self, mtu: u16) {
        write_u16(self.buffer.as_mut(), field::MTU, mtu);
    }

    /// Sets the parameter problem pointer.
    pub fn set_pointer(&mut self, pointer: u8) {
        self.buffer.as_mut()[field::POINTER] = pointer;
    }

    /// Zeroes bytes 4..8 (unused in error messages).
    pub fn clear_unused(&mut self) {
        self.buffer.as_mut()[field::UNUSED].fill(0);
    }

    /// Everything after the 8-byte header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// An ICMPv4 message as typed data.
///
/// For the error kinds, `header` is the quoted IP header of the offending datagram and `data`
/// is whatever of its payload was quoted: all the bytes after the header, as many as the
/// message holds (RFC 792 asks for at least 8, enough for the transport ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Repr<'a> {
    /// Echo request (ping).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to echo back.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier, as in the request.
        ident: u16,
        /// Sequence number, as in the request.
        seq_no: u16,
        /// Data, as in the request.
        data: &'a [u8],
    },
    /// Destination unreachable.
    DstUnreachable {
        /// Why (the code).
        reason: DstUnreachable,
        /// Next-hop MTU (RFC 1191): meaningful for `FRAG_REQUIRED`, zero (unused) otherwise;
        /// kept as it was on the wire.
        next_hop_mtu: u16,
        /// The quoted IP header.
        header: ipv4::Repr,
        /// The quoted payload bytes.
        data: &'a [u8],
    },
    /// Time exceeded.
    TimeExceeded {
        /// Why (the code).
        reason: TimeExceeded,
        /// The quoted IP header.
        header: ipv4::Repr,
        /// The quoted payload bytes.
        data: &'a [u8],
    },
    /// Parameter problem (code 0: the pointer locates the problem).
    ParamProblem {
        /// Offset of the bad byte in the quoted header.
        pointer: u8,
        /// The quoted IP header.
        header: ipv4::Repr,
        /// The quoted payload bytes.
        data: &'a [u8],
    },
    /// Source quench. Recognized so that it can be dropped on purpose (RFC 6633, RFC 9293
    /// MUST-55).
    SourceQuench {
        /// The quoted IP header.
        header: ipv4::Repr,
        /// The quoted payload bytes.
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Reads a checked message.
    ///
    /// Errors: `Truncated` below 8 bytes; `BadChecksum` when `mode` is `Verify` and the
    /// checksum over the message is wrong; `Unsupported` for a type other than those of
    /// [`Repr`], or a code that the type does not define (echo, source quench and parameter
    /// problem only have code 0); and for the error kinds, whatever
    /// [`ipv4::Repr::parse_embedded`] finds in the quoted header. The quoted header's own
    /// checksum is not verified: routers quote what they received, and the ICMP checksum
    /// already covers the quote.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        mode: ChecksumMode,
    ) -> Result<Repr<'a>> {
        packet.check_len()?;
        if mode == ChecksumMode::Verify && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let code = packet.msg_code();
        let data = packet.data_ref();
        let quoted = || ipv4::Repr::parse_embedded(data, ChecksumMode::Ignore);
        match packet.msg_type() {
            Message::ECHO_REQUEST if code == 0 => Ok(Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Message::ECHO_REPLY if code == 0 => Ok(Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Message::DST_UNREACHABLE if DstUnreachable(code).is_known() => {
                let (header, data) = quoted()?;
                Ok(Repr::DstUnreachable {
                    reason: DstUnreachable(code),
                    next_hop_mtu: packet.next_hop_mtu(),
                    header,
                    data,
                })
            }
            Message::TIME_EXCEEDED if TimeExceeded(code).is_known() => {
                let (header, data) = quoted()?;
                Ok(Repr::TimeExceeded {
                    reason: TimeExceeded(code),
                    header,
                    data,
                })
            }
            Message::PARAM_PROBLEM if code == 0 => {
                let (header, data) = quoted()?;
                Ok(Repr::ParamProblem {
                    pointer: packet.pointer(),
                    header,
                    data,
                })
            }
            Message::SOURCE_QUENCH if code == 0 => {
                let (header, data) = quoted()?;
                Ok(Repr::SourceQuench { header, data })
            }
            _ => Err(Error::Unsupported),
        }
    }

    /// The quoted header and payload of an error kind.
    fn quoted(&self) -> Option<(ipv4::Repr, &'a [u8])> {
        match *self {
            Repr::EchoRequest { .. } | Repr::EchoReply { .. } => None,
            Repr::DstUnreachable { header, data, .. }
            | Repr::TimeExceeded { header, data, .. }
            | Repr::ParamProblem { header, data, .. }
            | Repr::SourceQuench { header, data } => Some((header, data)),
        }
    }

    /// Length of the message `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match *self {
            Repr::EchoRequest { data, .. } | Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Repr::DstUnreachable { header, data, .. }
            | Repr::TimeExceeded { header, data, .. }
            | Repr::ParamProblem { header, data, .. }
            | Repr::SourceQuench { header, data } => HEADER_LEN + header.header_len() + data.len(),
        }
    }

    /// Writes the whole message, data and checksum included, into the first
    /// [`buffer_len`](Self::buffer_len) bytes of `packet` (the checksum covers those bytes).
    /// For the error kinds the quoted header is emitted with [`ipv4::Repr::emit`], so its
    /// checksum is recomputed.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let len = self.buffer_len();
        let mut packet = Packet::new_unchecked(&mut packet.buffer.as_mut()[..len]);
        packet.clear_unused();
        match *self {
            Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let msg_type = match self {
                    Repr::EchoRequest { .. } => Message::ECHO_REQUEST,
                    _ => Message::ECHO_REPLY,
                };
                packet.set_msg_type(msg_type);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                packet.data_mut().copy_from_slice(data);
            }
            Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => {
                packet.set_msg_type(Message::DST_UNREACHABLE);
                packet.set_msg_code(reason.0);
                packet.set_next_hop_mtu(next_hop_mtu);
            }
            Repr::TimeExceeded { reason, .. } => {
                packet.set_msg_type(Message::TIME_EXCEEDED);
                packet.set_msg_code(reason.0);
            }
            Repr::ParamProblem { pointer, .. } => {
                packet.set_msg_type(Message::PARAM_PROBLEM);
                packet.set_msg_code(0);
                packet.set_pointer(pointer);
            }
            Repr::SourceQuench { .. } => {
                packet.set_msg_type(Message::SOURCE_QUENCH);
                packet.set_msg_code(0);
            }
        }
        if let Some((header, data)) = self.quoted() {
            let (quoted_header, quoted_data) = packet.data_mut().split_at_mut(header.header_len());
            header.emit(&mut ipv4::Packet::new_unchecked(quoted_header));
            quoted_data.copy_from_slice(data);
        }
        packet.fill_checksum();
    }

    /// Whether `parse(emit(self)) == self` can hold: the code is a defined one and the quoted
    /// header is valid ([`ipv4::Repr::is_valid`]).
    pub fn is_valid(&self) -> bool {
        let code_known = match *self {
            Repr::DstUnreachable { reason, .. } => reason.is_known(),
            Repr::TimeExceeded { reason, .. } => reason.is_known(),
            _ => true,
        };
        code_known && self.quoted().is_none_or(|(header, _)| header.is_valid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::{IpProtocol, Ipv4Options};
    use alloc::vec;
    use alloc::vec::Vec;
    use core::net::Ipv4Addr;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    /// `ping 10.0.0.2` from Linux: identifier 0x1a2b, sequence 1, an 8-byte timestamp and
    /// 8 pattern bytes.
    const ECHO_REQUEST: [u8; 24] = [
        0x08, 0x00, // echo request, code 0
        0x07, 0xe1, // checksum
        0x1a, 0x2b, // identifier
        0x00, 0x01, // sequence number
        0x5f, 0x3c, 0x2a, 0x66, 0x00, 0x00, 0x00, 0x00, // timestamp
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // pattern
    ];

    /// Port unreachable for a 4-byte UDP datagram 10.0.0.1:50000 -> 10.0.0.2:9999, quoted
    /// whole.
    const PORT_UNREACHABLE: [u8; 40] = [
        0x03, 0x03, // destination unreachable, port unreachable
        0x33, 0xc0, // checksum
        0x00, 0x00, 0x00, 0x00, // unused
        // quoted IP header
        0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, total length 32
        0x5a, 0x5a, 0x40, 0x00, // identification, DF
        0x40, 0x11, 0xcc, 0x70, // TTL 64, UDP, header checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
        // quoted UDP header and data
        0xc3, 0x50, 0x27, 0x0f, 0x00, 0x0c, 0x00, 0x00, //
        b'p', b'i', b'n', b'g',
    ];

    /// Fragmentation needed, next-hop MTU 1400 (RFC 1191), quoting a 1500-byte TCP segment's
    /// header and its first 8 payload bytes only.
    const FRAG_REQUIRED: [u8; 36] = [
        0x03, 0x04, // destination unreachable, fragmentation needed
        0xeb, 0xc2, // checksum
        0x00, 0x00, 0x05, 0x78, // unused, next-hop MTU 1400
        0x45, 0x00, 0x05, 0xdc, // total length 1500
        0x01, 0x02, 0x40, 0x00, // identification, DF
        0x3f, 0x06, 0xef, 0x11, // TTL 63, TCP, header checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0xcb, 0x00, 0x71, 0x07, // 203.0.113.7
        0xa2, 0xc4, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, // ports, sequence number
    ];

    /// TTL expired for a traceroute probe (UDP to port 33434, TTL 1).
    const TTL_EXPIRED: [u8; 36] = [
        0x0b, 0x00, // time exceeded, TTL expired in transit
        0xef, 0xa3, // checksum
        0x00, 0x00, 0x00, 0x00, // unused
        0x45, 0x00, 0x00, 0x3c, // total length 60
        0x7e, 0x57, 0x00, 0x00, // identification, no flags
        0x01, 0x11, 0x07, 0x1d, // TTL 1, UDP, header checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0xc6, 0x33, 0x64, 0x09, // 198.51.100.9
        0x82, 0x99, 0x82, 0x9a, 0x00, 0x28, 0x00, 0x00, // UDP header
    ];

    /// Parameter problem pointing at byte 20 of a quoted header: its first option.
    const PARAM_PROBLEM: [u8; 40] = [
        0x0c, 0x00, // parameter problem, code 0
        0xd4, 0x3e, // checksum
        0x14, 0x00, 0x00, 0x00, // pointer 20, unused
        0x46, 0x00, 0x00, 0x28, // IHL 6, total length 40
        0x11, 0x11, 0x40, 0x00, // identification, DF
        0x40, 0x06, 0x12, 0xbc, // TTL 64, TCP, header checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
        0x01, 0x01, 0x01, 0x00, // options: NOP, NOP, NOP, end of list
        0xa2, 0xc4, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, // TCP ports, sequence number
    ];

    /// Source quench quoting a TCP segment.
    const SOURCE_QUENCH: [u8; 36] = [
        0x04, 0x00, // source quench
        0xf0, 0x3e, // checksum
        0x00, 0x00, 0x00, 0x00, // unused
        0x45, 0x00, 0x00, 0x28, // total length 40
        0x22, 0x22, 0x40, 0x00, // identification, DF
        0x40, 0x06, 0x04, 0xac, // TTL 64, TCP, header checksum
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
        0xa2, 0xc4, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, // TCP ports, sequence number
    ];

    const FIXTURES: [&[u8]; 6] = [
        &ECHO_REQUEST,
        &PORT_UNREACHABLE,
        &FRAG_REQUIRED,
        &TTL_EXPIRED,
        &PARAM_PROBLEM,
        &SOURCE_QUENCH,
    ];

    fn quoted(
        src: [u8; 4],
        dst: [u8; 4],
        protocol: IpProtocol,
        payload_len: usize,
        ttl: u8,
        ident: u16,
        dont_frag: bool,
    ) -> ipv4::Repr {
        ipv4::Repr {
            src_addr: Ipv4Addr::from(src),
            dst_addr: Ipv4Addr::from(dst),
            protocol,
            payload_len,
            ttl,
            dscp: 0,
            ecn: 0,
            ident,
            dont_frag,
            more_frags: false,
            frag_offset: 0,
            options: Ipv4Options::EMPTY,
        }
    }

    fn expected(fixture: &'static [u8]) -> Repr<'static> {
        let a = [10, 0, 0, 1];
        let b = [10, 0, 0, 2];
        match fixture[0] {
            8 => Repr::EchoRequest {
                ident: 0x1a2b,
                seq_no: 1,
                data: &fixture[8..],
            },
            3 if fixture[1] == 3 => Repr::DstUnreachable {
                reason: DstUnreachable::PORT_UNREACHABLE,
                next_hop_mtu: 0,
                header: quoted(a, b, IpProtocol::UDP, 12, 64, 0x5a5a, true),
                data: &fixture[28..],
            },
            3 => Repr::DstUnreachable {
                reason: DstUnreachable::FRAG_REQUIRED,
                next_hop_mtu: 1400,
                header: quoted(a, [203, 0, 113, 7], IpProtocol::TCP, 1480, 63, 0x0102, true),
                data: &fixture[28..],
            },
            11 => Repr::TimeExceeded {
                reason: TimeExceeded::TTL_EXPIRED,
                header: quoted(a, [198, 51, 100, 9], IpProtocol::UDP, 40, 1, 0x7e57, false),
                data: &fixture[28..],
            },
            12 => Repr::ParamProblem {
                pointer: 20,
                header: ipv4::Repr {
                    options: Ipv4Options::new(&[1, 1, 1, 0]).unwrap(),
                    ..quoted(a, b, IpProtocol::TCP, 16, 64, 0x1111, true)
                },
                data: &fixture[32..],
            },
            4 => Repr::SourceQuench {
                header: quoted(a, b, IpProtocol::TCP, 20, 64, 0x2222, true),
                data: &fixture[28..],
            },
            _ => unreachable!(),
        }
    }

    fn emit(repr: &Repr<'_>) -> Vec<u8> {
        let mut bytes = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        bytes
    }

    fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
        Repr::parse(&Packet::new_checked(bytes)?, ChecksumMode::Verify)
    }

    /// `bytes` with the ICMP checksum recomputed after an edit.
    fn refill(mut bytes: Vec<u8>) -> Vec<u8> {
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        bytes
    }

    #[test]
    fn deconstruct_echo_request() {
        let packet = Packet::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert_eq!(packet.msg_type(), Message::ECHO_REQUEST);
        assert_eq!(packet.msg_code(), 0);
        assert_eq!(packet.checksum(), 0x07e1);
        assert_eq!(packet.echo_ident(), 0x1a2b);
        assert_eq!(packet.echo_seq_no(), 1);
        assert_eq!(packet.data(), &ECHO_REQUEST[8..]);
        assert!(packet.verify_checksum());
    }

    #[test]
    fn deconstruct_errors() {
        let packet = Packet::new_checked(&FRAG_REQUIRED[..]).unwrap();
        assert_eq!(packet.msg_type(), Message::DST_UNREACHABLE);
        assert_eq!(packet.msg_code(), DstUnreachable::FRAG_REQUIRED.0);
        assert_eq!(packet.next_hop_mtu(), 1400);
        assert_eq!(packet.data(), &FRAG_REQUIRED[8..]);
        assert!(packet.verify_checksum());
        let packet = Packet::new_checked(&PARAM_PROBLEM[..]).unwrap();
        assert_eq!(packet.msg_type(), Message::PARAM_PROBLEM);
        assert_eq!(packet.pointer(), 20);
        assert!(packet.verify_checksum());
    }

    #[test]
    fn construct_reproduces_the_fixtures() {
        for fixture in FIXTURES {
            assert_eq!(&emit(&expected(fixture))[..], fixture);
        }
    }

    #[test]
    fn parse_fixtures() {
        for fixture in FIXTURES {
            assert_eq!(parse(fixture), Ok(expected(fixture)));
        }
    }

    #[test]
    fn parse_and_reemit_reproduces_the_bytes() {
        for fixture in FIXTURES {
            assert_eq!(&emit(&parse(fixture).unwrap())[..], fixture);
        }
    }

    #[test]
    fn echo_reply_round_trip() {
        let reply = Repr::EchoReply {
            ident: 0x1a2b,
            seq_no: 1,
            data: &ECHO_REQUEST[8..],
        };
        let bytes = emit(&reply);
        assert_eq!(&bytes[..2], &[0, 0]);
        assert_eq!(&bytes[4..], &ECHO_REQUEST[4..]);
        assert_eq!(parse(&bytes), Ok(reply));
    }

    #[test]
    fn truncated_is_an_error() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&ECHO_REQUEST[..len]).unwrap_err(),
                Error::Truncated
            );
        }
        // An error message must quote at least a whole IP header.
        for len in HEADER_LEN..28 {
            let bytes = refill(PORT_UNREACHABLE[..len].to_vec());
            assert_eq!(parse(&bytes), Err(Error::Truncated), "length {len}");
        }
    }

    #[test]
    fn bad_checksum() {
        for fixture in FIXTURES {
            let mut bytes = fixture.to_vec();
            *bytes.last_mut().unwrap() ^= 0x40;
            assert_eq!(parse(&bytes), Err(Error::BadChecksum));
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert!(Repr::parse(&packet, ChecksumMode::Ignore).is_ok());
        }
    }

    #[test]
    fn bad_quoted_header() {
        let mut bytes = PORT_UNREACHABLE.to_vec();
        bytes[8] = 0x65;
        assert_eq!(parse(&refill(bytes)), Err(Error::BadVersion));
        let mut bytes = PORT_UNREACHABLE.to_vec();
        bytes[8] = 0x44;
        assert_eq!(parse(&refill(bytes)), Err(Error::BadLength));
        let mut bytes = PORT_UNREACHABLE.to_vec();
        bytes[16] = 0x3f; // TTL changed, quoted checksum not updated
        let bytes = refill(bytes);
        // The quote's own checksum is not checked: routers quote what they received.
        assert!(parse(&bytes).is_ok());
    }

    #[test]
    fn unsupported_types_and_codes() {
        let cases: [(&[u8], u8, u8); 7] = [
            (&ECHO_REQUEST, 8, 1),
            (&ECHO_REQUEST, 0, 1),
            (&PORT_UNREACHABLE, 3, 16),
            (&TTL_EXPIRED, 11, 2),
            (&PARAM_PROBLEM, 12, 1),
            (&SOURCE_QUENCH, 4, 1),
            (&PORT_UNREACHABLE, Message::REDIRECT.0, 0),
        ];
        for (fixture, msg_type, code) in cases {
            let mut bytes = fixture.to_vec();
            bytes[0] = msg_type;
            bytes[1] = code;
            assert_eq!(parse(&refill(bytes)), Err(Error::Unsupported));
        }
        for msg_type in [1, 2, 6, 7, 9, 10, 13, 14, 255] {
            let mut bytes = ECHO_REQUEST.to_vec();
            bytes[0] = msg_type;
            assert_eq!(parse(&refill(bytes)), Err(Error::Unsupported));
        }
    }

    #[test]
    fn every_defined_code_parses() {
        for code in 0..16 {
            let mut bytes = PORT_UNREACHABLE.to_vec();
            bytes[1] = code;
            let bytes = refill(bytes);
            assert!(matches!(
                parse(&bytes),
                Ok(Repr::DstUnreachable { reason, .. }) if reason == DstUnreachable(code)
            ));
        }
        let mut bytes = TTL_EXPIRED.to_vec();
        bytes[1] = 1;
        let bytes = refill(bytes);
        assert!(matches!(
            parse(&bytes),
            Ok(Repr::TimeExceeded {
                reason: TimeExceeded::FRAG_EXPIRED,
                ..
            })
        ));
    }

    #[test]
    fn debug_names() {
        assert_eq!(alloc::format!("{:?}", Message::ECHO_REQUEST), "EchoRequest");
        assert_eq!(alloc::format!("{:?}", Message(42)), "Message(42)");
        assert_eq!(
            alloc::format!("{:?}", DstUnreachable::ADMIN_PROHIBITED),
            "AdminProhibited"
        );
        assert_eq!(
            alloc::format!("{:?}", DstUnreachable(16)),
            "DstUnreachable(16)"
        );
        assert_eq!(
            alloc::format!("{:?}", TimeExceeded::FRAG_EXPIRED),
            "FragExpired"
        );
        assert!(Message::TIME_EXCEEDED.is_error());
        assert!(!Message::ECHO_REPLY.is_error());
    }

    /// An owned description of a `Repr`, since strategies cannot yield borrowed data.
    #[derive(Debug, Clone)]
    struct Case {
        kind: u8,
        a: u16,
        b: u16,
        code: u8,
        header: ipv4::Repr,
        data: Vec<u8>,
    }

    impl Case {
        fn repr(&self) -> Repr<'_> {
            let (header, data) = (self.header, &self.data[..]);
            match self.kind {
                0 => Repr::EchoRequest {
                    ident: self.a,
                    seq_no: self.b,
                    data,
                },
                1 => Repr::EchoReply {
                    ident: self.a,
                    seq_no: self.b,
                    data,
                },
                2 => Repr::DstUnreachable {
                    reason: DstUnreachable(self.code % 16),
                    next_hop_mtu: self.a,
                    header,
                    data,
                },
                3 => Repr::TimeExceeded {
                    reason: TimeExceeded(self.code % 2),
                    header,
                    data,
                },
                4 => Repr::ParamProblem {
                    pointer: self.code,
                    header,
                    data,
                },
                _ => Repr::SourceQuench { header, data },
            }
        }
    }

    fn arb_case() -> impl Strategy<Value = Case> {
        (
            0u8..6,
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            ipv4::tests::arb_repr(),
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(kind, a, b, code, header, data)| Case {
                kind,
                a,
                b,
                code,
                header,
                data,
            })
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(case in arb_case()) {
            let repr = case.repr();
            prop_assert!(repr.is_valid());
            let bytes = emit(&repr);
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(parse(&bytes), Ok(repr));
        }

        #[test]
        fn any_bytes_never_panic(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..80),
            msg_type in prop_oneof![Just(None), (0u8..14).prop_map(Some)],
        ) {
            if let (Some(t), true) = (msg_type, bytes.len() > 8) {
                // Steer towards the error kinds with a plausible quoted header.
                bytes[0] = t;
                bytes[8] = 0x40 | (bytes[8] & 0x0f);
            }
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.msg_type(), packet.msg_code(), packet.checksum());
                let _ = (packet.echo_ident(), packet.echo_seq_no(), packet.next_hop_mtu());
                let _ = (packet.pointer(), packet.data(), packet.verify_checksum());
                let _ = Repr::parse(&packet, ChecksumMode::Verify);
                if let Ok(repr) = Repr::parse(&packet, ChecksumMode::Ignore) {
                    let _ = emit(&repr);
                }
            }
        }
    }
}
