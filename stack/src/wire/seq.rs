//! TCP sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 section 3.4).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number.
///
/// Arithmetic wraps. Comparison is "serial number arithmetic": `a < b` when `b - a`, taken
/// as a signed 32-bit distance, is positive. It is consistent for numbers less than 2^31
/// apart, which every window in TCP is (windows are at most 2^30, RFC 7323 section 2.3), and
/// is not transitive across larger spans, so never sort unrelated sequence numbers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `earlier` to `self`: positive when `self` is later.
    #[inline]
    pub fn distance_from(self, earlier: SeqNumber) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// The later of two sequence numbers.
    #[inline]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self >= other {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    #[inline]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self <= other {
            self
        } else {
            other
        }
    }

    /// Whether `self` lies in the half-open range `[start, end)`, modulo 2^32.
    #[inline]
    pub fn in_range(self, start: SeqNumber, end: SeqNumber) -> bool {
        self.0.wrapping_sub(start.0) < end.0.wrapping_sub(start.0)
    }
}

impl PartialOrd for SeqNumber {
    #[inline]
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.distance_from(*other).cmp(&0))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    /// Wrapping; a length beyond 2^31 cannot be meant and is truncated modulo 2^32.
    #[inline]
    fn add(self, len: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(len as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    #[inline]
    fn add_assign(&mut self, len: usize) {
        *self = *self + len;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn sub(self, len: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(len as u32))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = usize;
    /// The forward distance from `earlier` to `self`, as a length. Saturates at zero when
    /// `earlier` is in fact later, so that a length can never become huge by accident.
    #[inline]
    fn sub(self, earlier: SeqNumber) -> usize {
        self.distance_from(earlier).max(0) as usize
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn comparison_wraps_around() {
        let near_top = SeqNumber(u32::MAX - 10);
        let wrapped = near_top + 20;
        assert_eq!(wrapped, SeqNumber(9));
        assert!(near_top < wrapped);
        assert!(wrapped > near_top);
        assert_eq!(wrapped - near_top, 20);
        assert_eq!(
            near_top - wrapped,
            0,
            "a backwards length saturates to zero"
        );
    }

    #[test]
    fn in_range_is_half_open_across_the_wrap() {
        let start = SeqNumber(u32::MAX - 1);
        let end = start + 4;
        assert!(start.in_range(start, end));
        assert!(SeqNumber(0).in_range(start, end));
        assert!(SeqNumber(1).in_range(start, end));
        assert!(!end.in_range(start, end));
        assert!(!SeqNumber(u32::MAX - 2).in_range(start, end));
        assert!(
            !start.in_range(start, start),
            "an empty range holds nothing"
        );
    }

    proptest! {
        #[test]
        fn adding_a_small_length_moves_forward(a in any::<u32>(), len in 1usize..(1 << 31)) {
            let a = SeqNumber(a);
            prop_assert!(a + len > a);
            prop_assert_eq!((a + len) - a, len);
            prop_assert_eq!(a.max(a + len), a + len);
            prop_assert_eq!(a.min(a + len), a);
        }
    }
}
