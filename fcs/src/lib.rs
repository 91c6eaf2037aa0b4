//! The Ethernet frame check sequence of a frame: CRC-32 as IEEE 802.3 defines it (the
//! polynomial 0x04C11DB7, bits reflected, the register starting at all ones and inverted at
//! the end), the same value as `crc32fast::hash` and zlib's `crc32`.
//!
//! The simulator folds every frame it carries into its trace hash through this CRC (see
//! `sansnet-sim`'s `trace.rs`), so it runs once per frame on a simulated network: for a
//! full-size frame, about a tenth of a simulated bulk transfer's CPU time with `crc32fast`.
//! `crc32fast` folds a 1,514-byte frame 32 bytes at a time (its 64-byte path starts at
//! 2 KiB) and its last 106 bytes 16 at a time, one fold after another. Here, on a CPU with
//! AVX-512 and VPCLMULQDQ, every frame of 64 bytes or more is folded 64 bytes at a time:
//! about twice as fast for full-size frames (BENCHMARKS.md, session 23).
//!
//! # How the wide path computes the CRC
//!
//! The CRC is the remainder of the message, taken as a polynomial over GF(2), modulo the
//! generator `P`. Folding keeps the message's remainder while shortening it: a 128-bit piece
//! `a` that stands `D` bits before a piece `b` is replaced by `a * x^D mod P` (two carry-less
//! multiplies of its 64-bit halves by `x^(D+32) mod P` and `x^(D-32) mod P`, bit-reflected)
//! added to `b`. A 512-bit register holds four 128-bit pieces, each folded the same way.
//!
//! - The first block. A frame is rarely a multiple of 64 bytes long, so its first `h`
//!   bytes (`h` = length mod 64) are moved to the top of the first 64-byte block, with
//!   zeros below them, and everything after is whole blocks. Leading zeros change a CRC
//!   only through the register's starting value, so the register starts at the value that
//!   those zero bytes take to all ones (`START`, one per `h`, worked out at compile time
//!   with `x`'s inverse modulo `P`): the result is the CRC of the frame as it is. This reads
//!   no byte twice and needs no partial block at the end.
//! - Four registers take 256 bytes a round (folding by 2,048 bits), while at least 8
//!   blocks; then they are folded into one in one step (by 1,536, 1,024 and 512 bits), and
//!   any blocks left are folded in one at a time (by 512 bits).
//! - The register's four pieces are folded into one in one step (by 384, 256 and 128 bits),
//!   and a Barrett reduction takes the 128 bits to the 32-bit CRC.
//!
//! Every constant is computed at compile time from `P` by the `const fn`s below, not
//! copied in. The tests hold the result to `crc32fast` over every length to 2 KiB and more
//! at several alignments, and over random inputs.
//!
//! The one `unsafe` is the call into the AVX-512 code, made only once the CPU has been found
//! to have every feature it is compiled for.

// The polynomial arithmetic below serves the x86-64 path alone.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// The generator, `x^32 + x^26 + ... + x + 1`, the `x^32` term as bit 32 (bit `i`: the
/// coefficient of `x^i`).
const P: u64 = 0x1_04C1_1DB7;

/// `a * b mod P`, for polynomials of degree below 32.
const fn mul_mod(a: u32, b: u32) -> u32 {
    let mut product: u64 = 0;
    let mut i = 0;
    while i < 32 {
        if (b >> i) & 1 == 1 {
            product ^= (a as u64) << i;
        }
        i += 1;
    }
    let mut bit = 63;
    while bit >= 32 {
        if (product >> bit) & 1 == 1 {
            product ^= P << (bit - 32);
        }
        bit -= 1;
    }
    product as u32
}

/// `x^n mod P`.
const fn x_pow(n: u32) -> u32 {
    let mut result: u32 = 1;
    let mut square: u32 = 2; // x
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            result = mul_mod(result, square);
        }
        square = mul_mod(square, square);
        e >>= 1;
    }
    result
}

/// `x^-n mod P`. `P`'s constant term is 1, so `P - 1` is `x` times `(P - 1) / x`, and that
/// quotient is `x`'s inverse: `x * (P - 1) / x = P - 1 = 1 (mod P)`.
const fn x_pow_inverse(n: u32) -> u32 {
    let inverse = ((P - 1) >> 1) as u32;
    let mut result: u32 = 1;
    let mut i = 0;
    while i < n {
        result = mul_mod(result, inverse);
        i += 1;
    }
    result
}

/// The pair of multipliers that folds a 128-bit piece forward by `d` bits, as the
/// reflected carry-less multiplies take them: for its low half (the message's earlier
/// bits) `x^(d+32) mod P`, for its high half `x^(d-32) mod P`, each bit-reflected into 33
/// bits.
const fn fold_by(d: u32) -> (i64, i64) {
    (reflect_33(x_pow(d + 32)), reflect_33(x_pow(d - 32)))
}

/// A remainder, bit-reflected into 33 bits (as the reflected multiplies take it).
const fn reflect_33(r: u32) -> i64 {
    ((r.reverse_bits() as u64) << 1) as i64
}

/// `floor(x^95 / P)`, bit-reflected: the Barrett reduction's estimate of the quotient.
const fn barrett_mu() -> i64 {
    let mut remainder: u128 = 1 << 95;
    let mut quotient: u64 = 0;
    let mut bit = 95;
    while bit >= 32 {
        if (remainder >> bit) & 1 == 1 {
            remainder ^= (P as u128) << (bit - 32);
            quotient |= 1 << (bit - 32);
        }
        bit -= 1;
    }
    quotient.reverse_bits() as i64
}

/// `P`, bit-reflected into 33 bits.
const BARRETT_P: i64 = ((((P as u32).reverse_bits()) as u64) << 1 | 1) as i64;

/// The register's starting value for a frame whose first block holds `h` bytes of it
/// (index `h`, 1 to 63) below `64 - h` zero bytes: the value those zero bytes take to all
/// ones, `!0 * x^(-8 (64 - h)) mod P`, bit-reflected as the register holds it. Index 0 (a
/// whole first block): all ones.
const START: [u32; 64] = {
    let mut start = [!0u32; 64];
    let mut h = 1;
    while h < 64 {
        start[h] = mul_mod(!0, x_pow_inverse(8 * (64 - h as u32))).reverse_bits();
        h += 1;
    }
    start
};

/// Frames shorter than this go to `crc32fast` (a first block of its own is the least the
/// wide path folds).
const WIDE_MIN_BYTES: usize = 64;

/// The CRC-32 of `bytes`: the Ethernet FCS of a frame of these bytes, as `crc32fast::hash`
/// computes it.
pub fn crc32(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= WIDE_MIN_BYTES && wide::available() {
        // SAFETY: `wide::available` found every target feature `wide::crc32` is compiled
        // with on the running CPU.
        return unsafe { wide::crc32(bytes) };
    }
    crc32fast::hash(bytes)
}

/// Whether this CPU takes the 64-byte path (for the tests and the benchmarks' notes).
pub fn wide_path_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return wide::available();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use core::arch::x86_64::*;

    use super::{barrett_mu, fold_by, BARRETT_P, START};

    const BY_128: (i64, i64) = fold_by(128);
    const BY_256: (i64, i64) = fold_by(256);
    const BY_384: (i64, i64) = fold_by(384);
    const BY_512: (i64, i64) = fold_by(512);
    const BY_1024: (i64, i64) = fold_by(1024);
    const BY_1536: (i64, i64) = fold_by(1536);
    const BY_2048: (i64, i64) = fold_by(2048);
    const MU: i64 = barrett_mu();

    /// Whether the CPU has every feature `crc32` is compiled with, found once (it is asked
    /// for every frame).
    pub(super) fn available() -> bool {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(detect)
    }

    fn detect() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vbmi")
            && is_x86_feature_detected!("vpclmulqdq")
            && is_x86_feature_detected!("pclmulqdq")
            && is_x86_feature_detected!("sse4.1")
    }

    /// A 64-byte block of the frame as a vector (an unaligned load).
    #[inline(always)]
    fn block(bytes: &[u8]) -> __m512i {
        let block: &[u8; 64] = bytes.try_into().expect("callers pass 64-byte slices");
        bytemuck::pod_read_unaligned(block)
    }

    /// The same fold multipliers for each of a register's four 128-bit pieces.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn each_piece(by: (i64, i64)) -> __m512i {
        _mm512_set_epi64(by.1, by.0, by.1, by.0, by.1, by.0, by.1, by.0)
    }

    /// `a` folded forward by the distance `by` was made for, added to `b`.
    #[inline]
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    fn fold(a: __m512i, b: __m512i, by: __m512i) -> __m512i {
        let low = _mm512_clmulepi64_epi128(a, by, 0x00);
        let high = _mm512_clmulepi64_epi128(a, by, 0x11);
        _mm512_ternarylogic_epi64(low, high, b, 0x96) // low ^ high ^ b
    }

    /// See the crate documentation for the steps. `bytes` is at least 64 bytes long.
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512vbmi,vpclmulqdq,pclmulqdq,sse4.1")]
    pub(super) fn crc32(bytes: &[u8]) -> u32 {
        let len = bytes.len();
        let h = len % 64;
        // The first block: the frame's first `h` bytes at its top, zeros below (or the
        // first 64 bytes, when the length is a multiple of 64).
        let mut x = block(&bytes[..64]);
        let first = if h == 0 {
            64
        } else {
            let down = _mm512_set_epi8(
                63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43,
                42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
                21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
            );
            // Byte `i` takes byte `i - (64 - h)`; the bytes below `64 - h` are zeroed.
            let from = _mm512_sub_epi8(down, _mm512_set1_epi8((64 - h) as i8));
            x = _mm512_maskz_permutexvar_epi8(!0u64 << (64 - h), from, x);
            h
        };
        x = _mm512_xor_si512(
            x,
            _mm512_zextsi128_si512(_mm_cvtsi32_si128(START[h] as i32)),
        );
        // Whole blocks from here on (`len - first` is a multiple of 64).
        let mut rest = &bytes[first..];
        let by_512 = each_piece(BY_512);
        if rest.len() >= 7 * 64 {
            // Eight blocks or more: four registers abreast, 256 bytes a round.
            let mut v1 = block(&rest[..64]);
            let mut v2 = block(&rest[64..128]);
            let mut v3 = block(&rest[128..192]);
            rest = &rest[192..];
            let by_2048 = each_piece(BY_2048);
            while rest.len() >= 256 {
                x = fold(x, block(&rest[..64]), by_2048);
                v1 = fold(v1, block(&rest[64..128]), by_2048);
                v2 = fold(v2, block(&rest[128..192]), by_2048);
                v3 = fold(v3, block(&rest[192..256]), by_2048);
                rest = &rest[256..];
            }
            let zero = _mm512_setzero_si512();
            let a = fold(x, zero, each_piece(BY_1536));
            let b = fold(v1, zero, each_piece(BY_1024));
            let c = fold(v2, v3, by_512);
            x = _mm512_ternarylogic_epi64(a, b, c, 0x96);
        }
        for b in rest.chunks_exact(64) {
            x = fold(x, block(b), by_512);
        }
        // The four pieces into one: the first three folded forward onto the last.
        let by = _mm512_set_epi64(
            0, 0, BY_128.1, BY_128.0, BY_256.1, BY_256.0, BY_384.1, BY_384.0,
        );
        let t = _mm512_xor_si512(
            _mm512_clmulepi64_epi128(x, by, 0x00),
            _mm512_clmulepi64_epi128(x, by, 0x11),
        );
        let y = _mm_ternarylogic_epi64(
            _mm512_castsi512_si128(t),
            _mm512_extracti32x4_epi32::<1>(t),
            _mm_xor_si128(
                _mm512_extracti32x4_epi32::<2>(t),
                _mm512_extracti32x4_epi32::<3>(x),
            ),
            0x96,
        );
        // 128 bits to 96 (the low half folded onto the high), then Barrett to 32.
        let by_128 = _mm_set_epi64x(BY_128.1, BY_128.0);
        let y = _mm_xor_si128(_mm_clmulepi64_si128(y, by_128, 0x10), _mm_srli_si128(y, 8));
        let barrett = _mm_set_epi64x(BARRETT_P, MU);
        let q = _mm_clmulepi64_si128(y, barrett, 0x00);
        let qp = _mm_clmulepi64_si128(q, barrett, 0x10);
        !(_mm_extract_epi32::<2>(_mm_xor_si128(y, qp)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    #[test]
    fn the_check_value_is_ieee_802_3s() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let mut long = b"123456789".repeat(20);
        long.truncate(150);
        assert_eq!(crc32(&long), crc32fast::hash(&long));
    }

    #[test]
    fn every_length_to_past_2_kib_matches_crc32fast_at_any_alignment() {
        let bytes = pattern(2400 + 64);
        for len in 0..=2400 {
            for offset in [0, 1, 7, 33] {
                let frame = &bytes[offset..offset + len];
                assert_eq!(
                    crc32(frame),
                    crc32fast::hash(frame),
                    "len {len} offset {offset}"
                );
            }
        }
    }

    #[test]
    fn jumbo_frames_and_more_match() {
        let bytes = pattern(70_000);
        for len in [9_000, 9_018, 16_383, 65_536 + 18, 70_000] {
            assert_eq!(
                crc32(&bytes[..len]),
                crc32fast::hash(&bytes[..len]),
                "len {len}"
            );
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_changes_it() {
        let frame = pattern(1514);
        let base = crc32(&frame);
        for bit in (0..1514 * 8).step_by(97) {
            let mut f = frame.clone();
            f[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(crc32(&f), base, "bit {bit}");
        }
    }

    #[test]
    fn the_wide_path_is_the_one_tested_where_the_cpu_has_it() {
        // On a CPU without the features, the tests above compare crc32fast with itself;
        // say so rather than pass quietly.
        if !wide_path_available() {
            eprintln!("note: this CPU lacks AVX-512 VPCLMULQDQ: the 64-byte path is not exercised");
        }
    }

    #[test]
    fn the_start_values_bring_leading_zeros_to_all_ones() {
        // The register after `64 - h` zero bytes from START[h] is all ones: shift the
        // (unreflected) start value through the zero bytes.
        for (h, start) in START.iter().enumerate().skip(1) {
            let unreflected = start.reverse_bits();
            assert_eq!(
                mul_mod(unreflected, x_pow(8 * (64 - h as u32))),
                !0,
                "h {h}"
            );
        }
    }

    proptest! {
        #[test]
        fn random_frames_match_crc32fast(bytes in proptest::collection::vec(any::<u8>(), 0..4000), cut in 0usize..64) {
            let frame = &bytes[cut.min(bytes.len())..];
            prop_assert_eq!(crc32(frame), crc32fast::hash(frame));
        }
    }
}
