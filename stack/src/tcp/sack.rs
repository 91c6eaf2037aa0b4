//! The sender's SACK scoreboard (RFC 6675 section 3, RFC 2018).

use alloc::vec::Vec;

use crate::wire::SeqNumber;

/// Ranges of sequence space above SND.UNA that the peer has reported holding.
///
/// Sorted, disjoint, non-adjacent, at most `capacity` ranges: when full, the highest range
/// is forgotten (the peer will report it again).
#[derive(Debug, Clone)]
pub struct Scoreboard {
    ranges: Vec<(SeqNumber, SeqNumber)>,
    capacity: usize,
}

impl Scoreboard {
    /// An empty scoreboard holding up to `capacity` ranges.
    pub fn new(capacity: usize) -> Self {
        Scoreboard {
            ranges: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    /// Forgets everything: after a retransmission timeout (RFC 2018 section 8), since a
    /// reneging receiver makes it stale.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Whether nothing is SACKed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges, lowest first.
    pub fn ranges(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.ranges
    }

    /// Drops what the cumulative ACK now covers.
    pub fn advance(&mut self, snd_una: SeqNumber) {
        self.ranges.retain_mut(|(s, e)| {
            if *e <= snd_una {
                return false;
            }
            if *s < snd_una {
                *s = snd_una;
            }
            true
        });
    }

    /// Adds one SACK block, ignoring it if it is not within (snd_una, snd_max].
    /// Returns the number of newly SACKed bytes.
    pub fn add(
        &mut self,
        snd_una: SeqNumber,
        snd_max: SeqNumber,
        block: (SeqNumber, SeqNumber),
    ) -> usize {
        let (mut s, mut e) = block;
        if e <= s || e <= snd_una || e > snd_max || s >= snd_max {
            return 0;
        }
        s = s.max(snd_una);
        e = e.min(snd_max);
        let before = self.sacked_bytes();
        // Merge with every range it overlaps or touches.
        let mut i = 0;
        while i < self.ranges.len() {
            let (rs, re) = self.ranges[i];
            if re < s {
                i += 1;
                continue;
            }
            if rs > e {
                break;
            }
            s = s.min(rs);
            e = e.max(re);
            self.ranges.remove(i);
        }
        self.ranges.insert(i, (s, e));
        if self.ranges.len() > self.capacity {
            self.ranges.pop();
        }
        self.sacked_bytes().saturating_sub(before)
    }

    /// Total SACKed bytes.
    pub fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(s, e)| e - s).sum()
    }

    /// The right edge of the highest SACKed range.
    pub fn highest_sacked(&self) -> Option<SeqNumber> {
        self.ranges.last().map(|r| r.1)
    }

    /// Whether `seq` is SACKed.
    pub fn is_sacked(&self, seq: SeqNumber) -> bool {
        self.ranges.iter().any(|&(s, e)| seq.in_range(s, e))
    }

    /// If `seq` is SACKed, the end of its range.
    pub fn sacked_range_end(&self, seq: SeqNumber) -> Option<SeqNumber> {
        self.ranges
            .iter()
            .find(|&&(s, e)| seq.in_range(s, e))
            .map(|r| r.1)
    }

    /// Bytes SACKed above `seq`.
    pub fn sacked_above(&self, seq: SeqNumber) -> usize {
        self.ranges
            .iter()
            .filter(|r| r.1 > seq)
            .map(|&(s, e)| e - s.max(seq))
            .sum()
    }

    /// The scoreboard's invariants (feature `invariants`): at most `capacity` ranges, each
    /// non-empty and within `[snd_una, snd_max]`, sorted, disjoint and not touching (`add`
    /// merges touching ranges).
    #[cfg(feature = "invariants")]
    pub(crate) fn check_invariants(&self, snd_una: SeqNumber, snd_max: SeqNumber) {
        invariant!(
            self.ranges.len() <= self.capacity,
            "SACK scoreboard within its bound",
            "{} ranges, bound {}",
            self.ranges.len(),
            self.capacity
        );
        let mut prev_end: Option<SeqNumber> = None;
        for &(s, e) in &self.ranges {
            invariant!(
                snd_una <= s && s < e && e <= snd_max,
                "SACK blocks lie within SND.UNA..SND.MAX",
                "block {s}..{e}, SND.UNA {snd_una}, SND.MAX {snd_max}"
            );
            if let Some(p) = prev_end {
                invariant!(
                    p < s,
                    "SACK blocks are sorted, disjoint and not touching",
                    "a block ends at {p}, the next starts at {s}"
                );
            }
            prev_end = Some(e);
        }
    }

    /// Appends a range as it is, unmerged and unchecked (the invariant tests only).
    #[cfg(feature = "invariants")]
    pub(crate) fn push_for_test(&mut self, range: (SeqNumber, SeqNumber)) {
        self.ranges.push(range);
    }

    /// RFC 6675 IsLost(seq): at least `dup_thresh` segments' worth of bytes SACKed above.
    pub fn is_lost(&self, seq: SeqNumber, dup_thresh: usize, smss: usize) -> bool {
        self.sacked_above(seq) > (dup_thresh - 1) * smss
    }

    /// The first byte at or after `from`, below the highest SACKed byte, that is not
    /// SACKed: the start of the next hole (RFC 6675 NextSeg rule 1 candidates).
    pub fn next_hole(&self, from: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let mut cursor = from;
        for &(s, e) in &self.ranges {
            if e <= cursor {
                continue;
            }
            if s > cursor {
                return Some((cursor, s));
            }
            cursor = e;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use pretty_assertions::assert_eq;

    const UNA: SeqNumber = SeqNumber(1000);
    const MAX: SeqNumber = SeqNumber(10_000);

    #[test]
    fn merges_overlapping_and_adjacent_blocks() {
        let mut sb = Scoreboard::new(8);
        sb.add(UNA, MAX, (SeqNumber(2000), SeqNumber(3000)));
        sb.add(UNA, MAX, (SeqNumber(4000), SeqNumber(5000)));
        sb.add(UNA, MAX, (SeqNumber(3000), SeqNumber(4000)));
        assert_eq!(sb.ranges(), &[(SeqNumber(2000), SeqNumber(5000))]);
        assert_eq!(sb.sacked_bytes(), 3000);
    }

    #[test]
    fn ignores_blocks_outside_the_outstanding_range() {
        let mut sb = Scoreboard::new(8);
        assert_eq!(sb.add(UNA, MAX, (SeqNumber(500), SeqNumber(900))), 0);
        assert_eq!(sb.add(UNA, MAX, (SeqNumber(10_000), SeqNumber(11_000))), 0);
        assert_eq!(sb.add(UNA, MAX, (SeqNumber(3000), SeqNumber(2000))), 0);
        assert!(sb.is_empty());
    }

    #[test]
    fn holes_and_loss() {
        let mut sb = Scoreboard::new(8);
        sb.add(UNA, MAX, (SeqNumber(2000), SeqNumber(5000)));
        assert_eq!(sb.next_hole(UNA), Some((UNA, SeqNumber(2000))));
        assert_eq!(sb.next_hole(SeqNumber(2000)), None);
        assert!(sb.is_lost(UNA, 3, 1000));
        assert!(!sb.is_lost(SeqNumber(4500), 3, 1000));
        sb.advance(SeqNumber(4000));
        assert_eq!(sb.ranges(), &[(SeqNumber(4000), SeqNumber(5000))]);
    }

    #[test]
    fn capacity_forgets_the_highest() {
        let mut sb = Scoreboard::new(2);
        for k in 0..3u32 {
            sb.add(
                UNA,
                MAX,
                (SeqNumber(2000 + k * 1000), SeqNumber(2500 + k * 1000)),
            );
        }
        assert_eq!(
            sb.ranges(),
            &vec![
                (SeqNumber(2000), SeqNumber(2500)),
                (SeqNumber(3000), SeqNumber(3500))
            ][..]
        );
    }
}
