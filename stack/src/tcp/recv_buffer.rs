//! The receive side's storage: in-order bytes waiting for the application, and out-of-order
//! ranges waiting for a hole to fill (RFC 9293 SHLD-31: queue out-of-order segments).
//!
//! In-order bytes are either copied into a ring or, for a full-size segment that arrived in
//! a [`SharedFrame`], left in the frame they arrived in: the buffer keeps a reference to
//! the frame and the application's read copies straight from it (one copy of each byte
//! fewer, see `crate::frame`). Out-of-order ranges hold their bytes the same way, a
//! full-size segment's payload kept in its frame, and a range that a filled hole makes
//! readable is moved in with its buffers, not copied into the ring.

use alloc::vec::Vec;

use super::runs::Runs;
use crate::frame::SharedFrame;
use crate::wire::SeqNumber;

/// A payload shorter than this is copied even when its frame could be kept: a short
/// payload would pin a buffer many times its size, and a read would walk many pieces.
pub const HOLD_MIN_BYTES: usize = 512;

/// What inserting a segment's payload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InsertOutcome {
    /// Bytes that became readable in order (the cumulative ACK moved by this much).
    pub advanced: usize,
    /// Bytes of the segment that were already held (a duplicate, for D-SACK).
    pub duplicate: Option<(SeqNumber, SeqNumber)>,
    /// Whether the segment landed beyond a hole (out of order).
    pub out_of_order: bool,
    /// Whether an out-of-order range was waiting before this insert and the insert moved
    /// the cumulative ACK (a hole filled, even partly).
    pub filled_hole: bool,
    /// Bytes dropped because the out-of-order range table was full.
    pub dropped_no_room: usize,
}

/// In-order data plus sorted, disjoint, non-adjacent out-of-order ranges above `rcv_nxt`.
///
/// Bounds: the caller only inserts bytes inside the window it advertised, and the window
/// never exceeds `capacity - readable`, so the bytes held never exceed `capacity`. The
/// number of out-of-order ranges is bounded by `max_ranges`. A kept frame (or a range
/// moved in whole) holds at least [`HOLD_MIN_BYTES`] readable bytes and at least half of
/// its buffer's allocation, so the buffers kept add up to at most twice `capacity`, and the runs of readable bytes number
/// at most `2 * capacity / HOLD_MIN_BYTES + 1`.
#[derive(Debug)]
pub struct RecvBuffer {
    /// The bytes the application can read: copied, or kept in the frame they arrived in
    /// or the out-of-order range's buffer they were moved in with.
    readable: Runs,
    /// (start sequence number, bytes), sorted by start, all above `rcv_nxt`. A range's
    /// bytes are kept in the frames they arrived in or copied, as readable bytes are:
    /// copying them into a growing `Vec` per range cost a copy of every byte behind a
    /// hole, reallocations as the range grew, and the allocator's work freeing the old
    /// blocks (the lossy bulk transfer's `unlink_chunk`, 3% of its time in `perf`).
    ooo: Vec<(SeqNumber, Runs)>,
    ooo_bytes: usize,
    capacity: usize,
    max_ranges: usize,
    /// The planted bug `ReassemblyOffByOne`.
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted_off_by_one: bool,
}

impl RecvBuffer {
    /// An empty buffer. Nothing is allocated until data arrives.
    pub fn new(capacity: usize, max_ranges: usize) -> Self {
        RecvBuffer {
            readable: Runs::default(),
            ooo: Vec::new(),
            ooo_bytes: 0,
            capacity,
            max_ranges: max_ranges.max(1),
            #[cfg(feature = "planted-bugs")]
            planted_off_by_one: false,
        }
    }

    /// Total capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes the application can read now.
    pub fn readable_len(&self) -> usize {
        self.readable.len()
    }

    /// Bytes held out of order.
    pub fn ooo_len(&self) -> usize {
        self.ooo_bytes
    }

    /// Space left for the window: capacity minus what waits to be read.
    pub fn window_space(&self) -> usize {
        self.capacity.saturating_sub(self.readable.len())
    }

    /// Whether any out-of-order data is held.
    pub fn has_ooo(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// Runs kept outside the ring: frames kept for their payload and out-of-order ranges
    /// moved in whole (at most `2 * capacity / HOLD_MIN_BYTES`).
    pub fn kept_runs(&self) -> usize {
        self.readable.kept_runs()
    }

    /// Copies readable bytes into `out`, removing them.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        self.readable.read(out)
    }

    /// Copies readable bytes into `out`, leaving them (`MSG_PEEK`).
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.readable.len());
        self.readable.copy_at(0, &mut out[..n]);
        n
    }

    /// Discards everything the application has not read (on abort).
    pub fn clear(&mut self) {
        self.readable.clear();
        self.ooo.clear();
        self.ooo_bytes = 0;
    }

    /// The out-of-order ranges, as (left, right) edges, lowest first.
    pub fn ooo_ranges(&self) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        self.ooo.iter().map(|(s, d)| (*s, *s + d.len()))
    }

    /// Makes an out-of-order range's bytes readable after what is, but for the first
    /// `skip`: its kept runs move over as they are; a range of copied bytes alone is moved
    /// in its own buffer when it holds enough and its allocation is not much larger than
    /// the bytes (the same rule as a kept frame's), copied otherwise.
    fn push_moved(&mut self, mut bytes: Runs, skip: usize) {
        match bytes.take_copied() {
            Some(all) => push_owned(&mut self.readable, all, skip),
            None => {
                bytes.drop_front(skip);
                self.readable.append(bytes);
            }
        }
    }

    /// Makes `data` readable after what is: kept in `frame` when it lies there and is
    /// worth keeping, copied otherwise.
    fn push_readable(&mut self, data: &[u8], frame: Option<&SharedFrame>) {
        push_held(&mut self.readable, data, frame);
    }

    /// Inserts `data` starting at `seq`, given the current `rcv_nxt`. The caller has
    /// trimmed the data to the window (nothing at or beyond `rcv_nxt + window_space`).
    /// Returns what happened; `rcv_nxt` must then be advanced by `advanced`.
    ///
    /// In-order bytes that lie in `frame` may be kept there instead of copied.
    ///
    /// Inlined into its one caller: returned through memory, the outcome's flags were
    /// written a byte at a time and copied out two at a time, a store-forwarding stall
    /// (1% of a bulk transfer's time, `perf annotate`).
    #[inline]
    pub fn insert(
        &mut self,
        rcv_nxt: SeqNumber,
        seq: SeqNumber,
        data: &[u8],
        frame: Option<&SharedFrame>,
    ) -> InsertOutcome {
        // The pair of the caller's trim: nothing at or beyond `rcv_nxt + window_space`.
        invariant!(
            (seq + data.len()) - rcv_nxt <= self.window_space(),
            "inserted data was trimmed to the buffer",
            "{seq} + {} with RCV.NXT {rcv_nxt}, space {}",
            data.len(),
            self.window_space()
        );
        let mut out = InsertOutcome::default();
        if data.is_empty() {
            return out;
        }
        let (mut seq, mut data) = (seq, data);
        // Part below rcv_nxt is a duplicate of data already delivered.
        if seq < rcv_nxt {
            let dup = (rcv_nxt - seq).min(data.len());
            out.duplicate = Some((seq, seq + dup));
            seq += dup;
            data = &data[dup..];
            if data.is_empty() {
                return out;
            }
        }
        let had_ooo = self.has_ooo();
        if seq == rcv_nxt {
            // In order: append, then pull in whatever out-of-order ranges now connect.
            let mut end = seq + data.len();
            // Overlap with held ranges: held bytes are identical by TCP's contract; the new
            // copy wins for the contiguous part and held ranges are consumed as reached.
            self.push_readable(data, frame);
            out.advanced = data.len();
            while let Some((s, d)) = self.ooo.first() {
                if *s > end {
                    break;
                }
                let (s, d) = (*s, d.len());
                let (_, bytes) = self.ooo.remove(0);
                self.ooo_bytes -= d;
                let range_end = s + d;
                if range_end > end {
                    let skip = end - s;
                    #[cfg(feature = "planted-bugs")]
                    if self.planted_off_by_one && d > skip + 1 {
                        // The planted bug: the first joined byte is replaced by the next.
                        let mut all = alloc::vec![0; d];
                        bytes.copy_at(0, &mut all);
                        self.push_readable(&all[skip + 1..skip + 2], None);
                        self.push_readable(&all[skip + 1..], None);
                        out.advanced += range_end - end;
                        end = range_end;
                        continue;
                    }
                    self.push_moved(bytes, skip);
                    out.advanced += range_end - end;
                    end = range_end;
                } else if out.duplicate.is_none() {
                    out.duplicate = Some((s, range_end));
                }
            }
            out.filled_hole = had_ooo;
            return out;
        }
        out.out_of_order = true;
        self.insert_ooo(seq, data, frame, &mut out);
        out
    }

    /// Merges an out-of-order range into the table, keeping ranges disjoint and merging
    /// adjacent ones. Bytes already held are kept (first arrival wins).
    fn insert_ooo(
        &mut self,
        seq: SeqNumber,
        data: &[u8],
        frame: Option<&SharedFrame>,
        out: &mut InsertOutcome,
    ) {
        // The common case after a loss: the rest of the flight arrives in order behind the
        // hole, each segment continuing the last range. It is appended (kept in its frame
        // when worth it); the merge below would copy the whole range again for every
        // segment (quadratic in the segments behind a hole).
        if let Some((start, bytes)) = self.ooo.last_mut() {
            if *start + bytes.len() == seq {
                push_held(bytes, data, frame);
                self.ooo_bytes += data.len();
                return;
            }
        }
        let end = seq + data.len();
        // First range whose end reaches seq (could overlap or touch).
        let mut i = self.ooo.iter().position(|(s, d)| *s + d.len() >= seq);
        let Some(first) = i.take() else {
            return self.push_range(self.ooo.len(), seq, data, frame, out);
        };
        // Fully contained in an existing range: a duplicate.
        let (fs, flen) = (self.ooo[first].0, self.ooo[first].1.len());
        if fs <= seq && fs + flen >= end {
            out.duplicate = Some((seq, end));
            return;
        }
        if fs > end {
            return self.push_range(first, seq, data, frame, out);
        }
        // Overlaps or touches: build the union of [seq,end) with every range it reaches,
        // copied into one buffer (rare: a retransmission or a reordered segment that
        // bridges or overlaps held ranges).
        let mut last = first;
        while last + 1 < self.ooo.len() && self.ooo[last + 1].0 <= end {
            last += 1;
        }
        let union_start = fs.min(seq);
        let last_end = self.ooo[last].0 + self.ooo[last].1.len();
        let union_end = last_end.max(end);
        let mut merged = Vec::with_capacity(union_end - union_start);
        let mut cursor = union_start;
        let removed: Vec<(SeqNumber, Runs)> = self.ooo.drain(first..=last).collect();
        for (s, bytes) in removed {
            let len = bytes.len();
            self.ooo_bytes -= len;
            if s > cursor {
                // Fill the gap before this range from the new segment.
                let from = cursor - seq;
                let to = s - seq;
                merged.extend_from_slice(&data[from..to]);
                cursor = s;
            } else if out.duplicate.is_none() && s >= seq && s + len <= end {
                out.duplicate = Some((s, s + len));
            }
            let skip = (cursor - s).min(len);
            let at = merged.len();
            merged.resize(at + len - skip, 0);
            bytes.copy_at(skip, &mut merged[at..]);
            cursor = cursor.max(s + len);
        }
        if union_end > cursor {
            let from = cursor - seq;
            merged.extend_from_slice(&data[from..]);
        }
        self.ooo_bytes += merged.len();
        // The union's own buffer, made to its length, is kept as it is (moved, not copied,
        // when a hole fills) when it holds enough to be worth it.
        let mut range = Runs::default();
        push_owned(&mut range, merged, 0);
        self.ooo.insert(first, (union_start, range));
    }

    /// The buffer's own invariants (feature `invariants`), given RCV.NXT: the out-of-order
    /// ranges are non-empty, sorted, disjoint and not touching, at or above `rcv_nxt` (a
    /// range starts exactly there only after a FIN consumed the byte below it), at most
    /// `max_ranges` of them, `ooo_bytes` is their total, and they end within the window
    /// space (so what was promised fits: `capacity` bounds readable plus held bytes).
    #[cfg(feature = "invariants")]
    pub(crate) fn check_invariants(&self, rcv_nxt: SeqNumber) {
        self.check_readable();
        invariant!(
            self.ooo.len() <= self.max_ranges,
            "out-of-order ranges within their bound",
            "{} ranges, bound {}",
            self.ooo.len(),
            self.max_ranges
        );
        let mut total = 0usize;
        let mut prev_end: Option<SeqNumber> = None;
        for (start, bytes) in &self.ooo {
            let (start, end) = (*start, *start + bytes.len());
            invariant!(
                !bytes.is_empty(),
                "out-of-order ranges are non-empty",
                "empty range at {start}"
            );
            invariant!(
                bytes.consistent(),
                "an out-of-order range's runs add up",
                "range at {start}: {bytes:?}"
            );
            invariant!(
                start >= rcv_nxt,
                "out-of-order ranges lie at or above RCV.NXT",
                "range {start}..{end}, RCV.NXT {rcv_nxt}"
            );
            invariant!(
                end - rcv_nxt <= self.window_space(),
                "out-of-order data ends within the receive buffer",
                "range {start}..{end}, RCV.NXT {rcv_nxt}, readable {}, capacity {}",
                self.readable.len(),
                self.capacity
            );
            if let Some(p) = prev_end {
                invariant!(
                    p < start,
                    "out-of-order ranges are sorted, disjoint and not touching",
                    "a range ends at {p}, the next starts at {start}"
                );
            }
            prev_end = Some(end);
            total += bytes.len();
        }
        invariant!(
            total == self.ooo_bytes,
            "the out-of-order byte count is the ranges' total",
            "counted {}, ranges hold {total}",
            self.ooo_bytes
        );
        invariant!(
            self.readable.len() + self.ooo_bytes <= self.capacity,
            "readable and out-of-order bytes within the receive buffer",
            "readable {} + out of order {} > capacity {}",
            self.readable.len(),
            self.ooo_bytes,
            self.capacity
        );
    }

    /// The readable runs' own invariants (feature `invariants`): they add up (to the
    /// readable length, the copied ones to the ring's), each is non-empty and inside its
    /// buffer, and they number at most `2 * capacity / HOLD_MIN_BYTES + 1`.
    #[cfg(feature = "invariants")]
    fn check_readable(&self) {
        invariant!(
            self.readable.consistent(),
            "the readable runs add up",
            "{:?}",
            self.readable
        );
        invariant!(
            self.readable.run_count() <= 2 * self.capacity / HOLD_MIN_BYTES + 1,
            "readable runs within their bound",
            "{} runs for a {}-byte buffer",
            self.readable.run_count(),
            self.capacity
        );
    }

    fn push_range(
        &mut self,
        at: usize,
        seq: SeqNumber,
        data: &[u8],
        frame: Option<&SharedFrame>,
        out: &mut InsertOutcome,
    ) {
        if self.ooo.len() >= self.max_ranges {
            out.dropped_no_room = data.len();
            return;
        }
        self.ooo_bytes += data.len();
        let mut range = Runs::default();
        push_held(&mut range, data, frame);
        self.ooo.insert(at, (seq, range));
    }
}

/// Appends `buf[skip..]`, a buffer the receive buffer owns, to `runs`: the buffer kept as
/// it is when worth keeping (the same rule as a frame's), the bytes copied otherwise.
fn push_owned(runs: &mut Runs, buf: Vec<u8>, skip: usize) {
    let skip = skip.min(buf.len());
    if worth_keeping(buf.len() - skip, buf.capacity()) {
        let end = buf.len();
        runs.push_kept(SharedFrame::new(buf), skip..end);
    } else {
        runs.push_copy(&buf[skip..]);
    }
}

/// Appends `data` to `runs`: kept in `frame` when it lies there and is worth keeping,
/// copied otherwise.
fn push_held(runs: &mut Runs, data: &[u8], frame: Option<&SharedFrame>) {
    let held = frame
        .filter(|f| worth_keeping(data.len(), f.allocated_bytes()))
        .and_then(|f| Some((f, f.range_of(data)?)));
    match held {
        Some((frame, range)) => runs.push_kept(frame.clone(), range),
        None => runs.push_copy(data),
    }
}

/// Whether `len` readable bytes in a buffer of `allocated` bytes are kept there rather than
/// copied: at least [`HOLD_MIN_BYTES`], and at least half the allocation (the bound on
/// what kept buffers pin).
fn worth_keeping(len: usize, allocated: usize) -> bool {
    len >= HOLD_MIN_BYTES && allocated <= 2 * len
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    const BASE: SeqNumber = SeqNumber(u32::MAX - 100);

    /// Reads up to `len` bytes onto `delivered`, then checks the buffer's invariants.
    fn read_some(b: &mut RecvBuffer, len: usize, rcv_nxt: SeqNumber, delivered: &mut Vec<u8>) {
        let mut out = vec![0; len];
        let n = b.read(&mut out);
        delivered.extend_from_slice(&out[..n]);
        #[cfg(feature = "invariants")]
        b.check_invariants(rcv_nxt);
        let _ = rcv_nxt;
    }

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0; b.readable_len()];
        b.read(&mut out);
        out
    }

    #[test]
    fn in_order_appends() {
        let mut b = RecvBuffer::new(1000, 8);
        let o = b.insert(BASE, BASE, b"hello", None);
        assert_eq!(o.advanced, 5);
        assert!(!o.out_of_order);
        assert_eq!(read_all(&mut b), b"hello");
    }

    #[test]
    fn hole_fills_and_reports_it() {
        let mut b = RecvBuffer::new(1000, 8);
        let o = b.insert(BASE, BASE + 5, b"world", None);
        assert!(o.out_of_order);
        assert_eq!(o.advanced, 0);
        assert_eq!(
            b.ooo_ranges().collect::<Vec<_>>(),
            vec![(BASE + 5, BASE + 10)]
        );
        let o = b.insert(BASE, BASE, b"hello", None);
        assert_eq!(o.advanced, 10);
        assert!(o.filled_hole);
        assert_eq!(read_all(&mut b), b"helloworld");
        assert!(!b.has_ooo());
    }

    #[test]
    fn duplicate_below_rcv_nxt_is_reported_for_dsack() {
        let mut b = RecvBuffer::new(1000, 8);
        b.insert(BASE, BASE, b"abc", None);
        let o = b.insert(BASE + 3, BASE, b"abc", None);
        assert_eq!(o.advanced, 0);
        assert_eq!(o.duplicate, Some((BASE, BASE + 3)));
    }

    #[test]
    fn range_table_bound_drops_and_counts() {
        let mut b = RecvBuffer::new(1000, 2);
        b.insert(BASE, BASE + 10, b"a", None);
        b.insert(BASE, BASE + 20, b"b", None);
        let o = b.insert(BASE, BASE + 30, b"c", None);
        assert_eq!(o.dropped_no_room, 1);
        assert_eq!(b.ooo_ranges().count(), 2);
    }

    /// A frame with a 54-byte header before `payload`, as a full-size segment arrives.
    fn framed(payload: &[u8]) -> SharedFrame {
        let mut bytes = vec![0xee; 54];
        bytes.extend_from_slice(payload);
        SharedFrame::new(bytes)
    }

    #[test]
    fn a_full_segment_stays_in_its_frame_until_read() {
        let mut b = RecvBuffer::new(1 << 16, 8);
        let payload: Vec<u8> = (0..1460u32).map(|i| i as u8).collect();
        let f = framed(&payload);
        let o = b.insert(BASE, BASE, &f[54..], Some(&f));
        assert_eq!(o.advanced, 1460);
        assert_eq!(b.kept_runs(), 1);
        assert!(!f.is_unique(), "the buffer keeps a reference");
        let mut out = vec![0; 1000];
        assert_eq!(b.read(&mut out), 1000);
        assert_eq!(&out[..], &payload[..1000]);
        assert!(!f.is_unique(), "part is still unread");
        assert_eq!(read_all(&mut b), &payload[1000..]);
        assert!(f.is_unique(), "read out, the frame is let go");
        assert_eq!(b.kept_runs(), 0);
    }

    #[test]
    fn a_filled_hole_moves_the_range_behind_it_in_whole() {
        let mut b = RecvBuffer::new(1 << 16, 8);
        let stream: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        b.insert(BASE, BASE + 1000, &stream[1000..2500], None);
        b.insert(BASE, BASE + 2500, &stream[2500..5000], None);
        assert_eq!(b.ooo_len(), 4000);
        let o = b.insert(BASE, BASE, &stream[..1200], None);
        assert_eq!(o.advanced, 5000);
        assert_eq!(b.kept_runs(), 1, "the range went in with its buffer");
        assert_eq!(b.readable_len(), 5000);
        assert_eq!(read_all(&mut b), stream);
    }

    #[test]
    fn out_of_order_segments_stay_in_their_frames() {
        let mut b = RecvBuffer::new(1 << 16, 8);
        let stream: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
        let f1 = framed(&stream[1000..2460]);
        let f2 = framed(&stream[2460..3920]);
        b.insert(BASE, BASE + 1000, &f1[54..], Some(&f1));
        b.insert(BASE, BASE + 2460, &f2[54..], Some(&f2));
        assert!(
            !f1.is_unique() && !f2.is_unique(),
            "held in place, not copied"
        );
        assert_eq!(
            b.ooo_ranges().collect::<Vec<_>>(),
            vec![(BASE + 1000, BASE + 3920)]
        );
        let o = b.insert(BASE, BASE, &stream[..1000], None);
        assert_eq!(o.advanced, 3920);
        assert_eq!(b.kept_runs(), 2, "the frames became readable as they are");
        assert_eq!(read_all(&mut b), &stream[..3920]);
        assert!(
            f1.is_unique() && f2.is_unique(),
            "read out, the frames are let go"
        );
    }

    #[test]
    fn short_payloads_and_bytes_outside_the_frame_are_copied() {
        let mut b = RecvBuffer::new(1 << 16, 8);
        let f = framed(&[5; 100]);
        b.insert(BASE, BASE, &f[54..], Some(&f));
        assert!(f.is_unique(), "100 bytes are not worth a frame");
        let elsewhere = vec![6u8; 1400];
        let g = framed(&[7; 1400]);
        b.insert(BASE + 100, BASE + 100, &elsewhere, Some(&g));
        assert!(g.is_unique(), "the bytes are not the frame's");
        let mut big = vec![0u8; 4000];
        big.extend_from_slice(&[8; 600]);
        let h = SharedFrame::new(big);
        b.insert(BASE + 1500, BASE + 1500, &h[4000..], Some(&h));
        assert!(h.is_unique(), "600 bytes do not pin a 4,600-byte buffer");
        assert_eq!(b.kept_runs(), 0);
        let mut want = vec![5u8; 100];
        want.extend_from_slice(&[6; 1400]);
        want.extend_from_slice(&[8; 600]);
        assert_eq!(read_all(&mut b), want);
    }

    proptest! {
        /// Whatever order and overlap segments arrive in, the readable stream is the
        /// original bytes, and ranges stay sorted and disjoint.
        #[test]
        fn any_arrival_order_reassembles(
            cuts in proptest::collection::vec((0usize..200, 1usize..40), 1..40),
        ) {
            let stream: Vec<u8> = (0..240u32).map(|i| (i * 7) as u8).collect();
            let mut b = RecvBuffer::new(4096, 64);
            let mut rcv_nxt = BASE;
            let mut delivered = Vec::new();
            let mut segs: Vec<(usize, usize)> = cuts.iter().map(|&(s, l)| (s, (s + l).min(240))).collect();
            segs.push((0, 240)); // finally everything, so the stream must complete
            for (s, e) in segs {
                let o = b.insert(rcv_nxt, BASE + s, &stream[s..e], None);
                rcv_nxt += o.advanced;
                delivered.extend(read_all(&mut b));
                let ranges: Vec<_> = b.ooo_ranges().collect();
                for w in ranges.windows(2) {
                    prop_assert!(w[0].1 < w[1].0, "ranges overlap or touch: {:?}", ranges);
                }
                for (rs, _) in &ranges {
                    prop_assert!(*rs > rcv_nxt);
                }
            }
            prop_assert_eq!(&delivered[..], &stream[..]);
            prop_assert_eq!(b.ooo_len(), 0);
        }

        /// The stream cut into segments of up to 3,000 bytes that arrive in any order (some
        /// twice, some in frames), read in pieces of any size between arrivals: ranges long
        /// enough are moved in whole when a hole fills, frames kept are let go once read.
        #[test]
        fn long_ranges_reassemble_moved_or_copied(
            cuts in proptest::collection::vec((1usize..3_000, any::<u16>(), 0usize..5_000), 8..40),
        ) {
            let mut segs = Vec::new();
            let mut at = 0;
            for &(len, key, read) in &cuts {
                let end = (at + len).min(20_000);
                segs.push((key, at, end, read));
                if key % 5 == 0 {
                    segs.push((key / 2, at, end, 0)); // a duplicate
                }
                at = end;
            }
            segs.sort_by_key(|s| s.0);
            let stream: Vec<u8> = (0..at as u32).map(|i| (i * 7 + i / 253) as u8).collect();
            let mut b = RecvBuffer::new(1 << 16, 64);
            let mut rcv_nxt = BASE;
            let mut delivered = Vec::new();
            let mut frames = Vec::new();
            for (key, s, e, read) in segs {
                // Every third segment arrives in a frame the buffer may keep.
                let o = if key % 3 == 0 {
                    let f = framed(&stream[s..e]);
                    let o = b.insert(rcv_nxt, BASE + s, &f[54..], Some(&f));
                    frames.push(f);
                    o
                } else {
                    b.insert(rcv_nxt, BASE + s, &stream[s..e], None)
                };
                rcv_nxt += o.advanced;
                read_some(&mut b, read, rcv_nxt, &mut delivered);
            }
            delivered.extend(read_all(&mut b));
            prop_assert_eq!(&delivered[..], &stream[..]);
            prop_assert_eq!(b.ooo_len(), 0);
            prop_assert!(frames.iter().all(SharedFrame::is_unique), "a frame is still held");
        }

        /// Kept frames and copied bytes, mixed in any order and read in any sizes, give
        /// the stream back in order, and every frame is let go once read.
        #[test]
        fn kept_and_copied_runs_read_back_in_order(
            segs in proptest::collection::vec((1usize..1600, any::<bool>(), 0usize..3000), 1..30),
        ) {
            let stream: Vec<u8> = (0..48_000u32).map(|i| (i * 13 + i / 251) as u8).collect();
            let mut b = RecvBuffer::new(1 << 20, 8);
            let (mut at, mut rcv_nxt) = (0usize, BASE);
            let (mut delivered, mut frames) = (Vec::new(), Vec::new());
            for (len, in_frame, read) in segs {
                let end = (at + len).min(stream.len());
                let data = &stream[at..end];
                let o = if in_frame {
                    let f = framed(data);
                    let o = b.insert(rcv_nxt, rcv_nxt, &f[54..], Some(&f));
                    frames.push(f);
                    o
                } else {
                    b.insert(rcv_nxt, rcv_nxt, data, None)
                };
                prop_assert_eq!(o.advanced, data.len());
                rcv_nxt += o.advanced;
                at = end;
                read_some(&mut b, read, rcv_nxt, &mut delivered);
            }
            delivered.extend(read_all(&mut b));
            prop_assert_eq!(&delivered[..], &stream[..at]);
            prop_assert!(frames.iter().all(SharedFrame::is_unique), "a frame is still held");
        }
    }
}
