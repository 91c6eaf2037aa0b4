//! The Internet checksum (RFC 1071) and the IPv4 pseudo-header (RFC 9293 section 3.1,
//! RFC 768).
//!
//! The one's-complement sum is independent of byte order (RFC 1071 section 2(B)), so the hot
//! loop adds native-endian 16-bit words into 32-bit lanes (folded into a 64-bit total every
//! mebibyte, long before a lane could carry out) and swaps to network order once at the end.

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

/// Bytes summed into the 32-bit lanes of [`data`] before they are folded into the 64-bit
/// total: each lane takes one 16-bit half-word per round of [`ROUND`] bytes, at most 0xffff
/// each, so 2^14 rounds (1 MiB) stay far below 2^32.
const LANE_BLOCK: usize = 1 << 20;

/// Bytes a round of the hot loop takes: sixteen native-endian 32-bit words, one 512-bit
/// vector, two 256-bit ones or four 128-bit ones.
const ROUND: usize = 64;

/// The one's-complement sum of `data` as big-endian 16-bit words (an odd last byte is
/// padded with zero), *not* inverted. Combine partial sums with [`combine`].
///
/// The hot loop is written so that the compiler turns it into SIMD: 64 bytes a round as
/// sixteen native-endian 32-bit words, whose low and high halves go into separate 32-bit
/// lanes (a mask, a shift and two adds per vector). Summing whole 32-bit words into 64-bit
/// lanes instead needs the halves widened first and ran about 1.2x slower per 1,460-byte
/// segment (measured with the bulk bench's segment size).
///
/// The same loop is compiled three times and the widest the CPU has is chosen when first
/// called (`multiversion`, with the default `cpu-dispatch` feature; without it, the widest
/// the build targets): AVX-512BW, AVX2, or the baseline (SSE2 on x86-64). The sum is the
/// same whichever runs; only its speed differs (on the machine measured, a 1,500-byte sum
/// took 73 ns with SSE2; see the `wire` bench's `checksum/1500`). The checksum is a fifth of
/// the CPU time of a simulated bulk transfer: every segment is summed once when it is
/// written and once when it is checked.
#[inline]
pub fn data(data: &[u8]) -> u16 {
    u16::from_be(fold(sum_words(data)))
}

/// The native-endian 16-bit word sum of `data`, unfolded, with the widest vectors the CPU
/// has.
#[multiversion::multiversion(targets("x86_64+avx512bw", "x86_64+avx2"))]
fn sum_words(data: &[u8]) -> u64 {
    sum_words_portable(data)
}

/// [`sum_words`] as the build's baseline target compiles it (inlined into each of
/// `sum_words`'s versions, which compile it for their own target).
#[inline(always)]
fn sum_words_portable(data: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut blocks = data.chunks_exact(LANE_BLOCK);
    for block in &mut blocks {
        sum += lanes(block);
    }
    sum + lanes(blocks.remainder())
}

/// The native-endian 16-bit word sum of `block` (at most [`LANE_BLOCK`] bytes), unfolded.
#[inline(always)]
fn lanes(block: &[u8]) -> u64 {
    const WORDS: usize = ROUND / 4;
    let mut lo = [0u32; WORDS];
    let mut hi = [0u32; WORDS];
    let mut rounds = block.chunks_exact(ROUND);
    for r in &mut rounds {
        for j in 0..WORDS {
            let w = u32::from_ne_bytes([r[4 * j], r[4 * j + 1], r[4 * j + 2], r[4 * j + 3]]);
            lo[j] += w & 0xffff;
            hi[j] += w >> 16;
        }
    }
    let mut sum: u64 = lo.iter().chain(&hi).map(|&x| u64::from(x)).sum();
    let mut rest = rounds.remainder();
    // A segment's headers leave up to 63 bytes here: eight at a time first.
    while rest.len() >= 8 {
        let w = u64::from_ne_bytes([
            rest[0], rest[1], rest[2], rest[3], rest[4], rest[5], rest[6], rest[7],
        ]);
        sum += (w & 0xffff) + ((w >> 16) & 0xffff) + ((w >> 32) & 0xffff) + (w >> 48);
        rest = &rest[8..];
    }
    while rest.len() >= 2 {
        sum += u64::from(u16::from_ne_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [last] = rest {
        // The padding zero follows `last` in network order.
        sum += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    // Native-endian words were summed; the sum of byte-swapped words is the byte-swapped
    // sum, so one conversion at the end (in `data`) gives the network-order sum.
    sum
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

    #[test]
    fn long_runs_of_ones_do_not_overflow_the_lanes() {
        // Past LANE_BLOCK the lanes are folded; all-0xff words are the worst case.
        for (byte, extra) in [(0xff, 0), (0xff, 33), (0xfe, 1), (0x80, 7)] {
            let bytes = alloc::vec![byte; 2 * LANE_BLOCK + 64 + extra];
            let (fast, slow) = (data(&bytes), reference(&bytes));
            assert!(
                fast == slow || fast ^ slow == 0xffff && (fast == 0 || slow == 0),
                "{byte:#x} x {}: fast {fast:#06x} slow {slow:#06x}",
                bytes.len()
            );
        }
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
        fn every_cpu_target_gives_the_same_sum(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            // `data` runs the version this CPU picks; the portable one is what a CPU
            // without AVX2 runs.
            prop_assert_eq!(fold(sum_words(&bytes)), fold(sum_words_portable(&bytes)));
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
