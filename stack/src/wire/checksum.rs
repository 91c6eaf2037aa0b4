//! The Internet checksum (RFC 1071) and the IPv4 pseudo-header (RFC 9293 section 3.1,
//! RFC 768).
//!
//! The one's-complement sum is independent of byte order (RFC 1071 section 2(B)), so the hot
//! loop adds native-endian 32-bit words into a 64-bit accumulator (no carry can be lost until
//! 2^32 words, far beyond any IP packet) and swaps to network order once at the end.

use core::net::Ipv4Addr;

/// IP protocol numbers used in the pseudo-header.
pub mod protocol {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Folds a 64-bit accumulator of 16-bit words into a 16-bit one's-complement sum.
#[inline(always)]
fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// The one's-complement sum of `data` as big-endian 16-bit words (an odd last byte is
/// padded with zero), *not* inverted. Combine partial sums with [`combine`].
#[inline]
pub fn data(data: &[u8]) -> u16 {
    // Four independent accumulators let the CPU overlap the additions.
    let mut acc = [0u64; 4];
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        acc[0] += u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
        acc[1] += u64::from(u32::from_ne_bytes([c[4], c[5], c[6], c[7]]));
        acc[2] += u64::from(u32::from_ne_bytes([c[8], c[9], c[10], c[11]]));
        acc[3] += u64::from(u32::from_ne_bytes([c[12], c[13], c[14], c[15]]));
    }
    let mut sum = acc[0] + acc[1] + acc[2] + acc[3];
    let mut rest = chunks.remainder();
    while rest.len() >= 2 {
        sum += u64::from(u16::from_ne_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [last] = rest {
        // The padding zero follows `last` in network order.
        sum += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    // Native-endian words were summed; the sum of byte-swapped words is the byte-swapped
    // sum, so one conversion at the end gives the network-order sum.
    u16::from_be(fold(sum))
}

/// Adds one's-complement sums together.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The one's-complement sum of the IPv4 pseudo-header (source, destination, zero, protocol,
/// upper-layer length), not inverted.
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> u16 {
    let s = src.octets();
    let d = dst.octets();
    let words = [
        u16::from_be_bytes([s[0], s[1]]),
        u16::from_be_bytes([s[2], s[3]]),
        u16::from_be_bytes([d[0], d[1]]),
        u16::from_be_bytes([d[2], d[3]]),
        u16::from(protocol),
        (length >> 16) as u16,
        length as u16,
    ];
    combine(&words)
}

/// The checksum field value for `data`: the inverted sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !self::data(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook definition, one big-endian word at a time, for comparison.
    fn reference(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0x12, 0x34, 0xab]), 0x1234 + 0xab00);
    }

    #[test]
    fn ipv4_header_with_its_checksum_sums_to_ffff() {
        // A real IPv4 header (checksum 0xb861) from the classic worked example.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(data(&header), 0xffff);
    }

    #[test]
    fn pseudo_header_matches_manual_sum() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let manual = reference(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20]);
        assert_eq!(pseudo_header_v4(src, dst, protocol::TCP, 20), manual);
    }

    proptest! {
        #[test]
        fn fast_sum_equals_reference(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            // 0x0000 and 0xffff are the same number in one's complement.
            let fast = data(&bytes);
            let slow = reference(&bytes);
            prop_assert!(fast == slow || (fast == 0xffff && slow == 0) || (fast == 0 && slow == 0xffff),
                "fast {fast:#06x} slow {slow:#06x}");
        }

        #[test]
        fn split_sums_combine(bytes in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..300) {
            let cut = (cut * 2).min(bytes.len() & !1);
            let whole = data(&bytes);
            let parts = combine(&[data(&bytes[..cut]), data(&bytes[cut..])]);
            prop_assert!(whole == parts || (whole ^ parts) == 0xffff && (whole == 0 || parts == 0));
        }
    }
}
