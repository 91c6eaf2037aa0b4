//! A queue of bytes held as runs: copied into one ring, or kept by reference in a shared
//! buffer where they already are. The receive buffer's readable bytes (kept: a full-size
//! segment's payload in the frame it arrived in, an out-of-order range moved in whole) and
//! the send buffer's unacknowledged bytes (kept: a long write in the application's buffer)
//! are each one of these; which bytes are worth keeping is theirs to say.
//!
//! While nothing is kept, every byte is in the ring and no run is listed: the common case of
//! short messages walks no list.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ops::Range;

use crate::frame::SharedFrame;

/// A run of bytes, in stream order.
#[derive(Debug, Clone)]
enum Run {
    /// The next this many bytes of the ring.
    Copied(usize),
    /// Bytes `start..end` of `buf`, kept by reference.
    Kept {
        buf: SharedFrame,
        start: usize,
        end: usize,
    },
}

impl Run {
    fn len(&self) -> usize {
        match self {
            Run::Copied(k) => *k,
            Run::Kept { start, end, .. } => end - start,
        }
    }
}

/// Bytes in order, copied or kept (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(super) struct Runs {
    /// The copied bytes, in order.
    ring: VecDeque<u8>,
    /// Every byte as runs, when any is kept; empty while all are in `ring`.
    runs: VecDeque<Run>,
    /// Bytes held.
    len: usize,
    /// Runs popped from the front, bytes dropped from the front and, of those, bytes of the
    /// ring, since the start: a run's place counted from the first byte ever held does not
    /// move when bytes before it go, which keeps `cursor` true.
    popped: usize,
    dropped: usize,
    ring_dropped: usize,
    /// The run the last `copy_at` copied from, where `copy_at` starts its walk when it can.
    cursor: Cell<Option<Cursor>>,
}

/// A run's place in the stream, counted from the first byte ever held: its index among all
/// the runs ever listed, its first byte and where its bytes start (or would) in the ring.
///
/// Why: a send buffer of a megabyte fed by a window's worth of acknowledgements holds a few
/// hundred runs, and each segment sent copies from near its end; walking the list from the
/// front for every segment was 3% of a clean bulk transfer's time (`perf`). Segments go out
/// in order, so the walk starts where the last one ended.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    run: usize,
    at: usize,
    ring_at: usize,
}

impl Runs {
    /// Bytes held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs listed (none while every byte is in the ring).
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Runs kept by reference.
    pub(super) fn kept_runs(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| matches!(r, Run::Kept { .. }))
            .count()
    }

    /// Appends `data`, copied into the ring.
    pub(super) fn push_copy(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.ring.extend(data);
        if !self.runs.is_empty() {
            match self.runs.back_mut() {
                Some(Run::Copied(k)) => *k += data.len(),
                _ => self.runs.push_back(Run::Copied(data.len())),
            }
        }
        self.len += data.len();
    }

    /// Appends `buf[range]`, kept by reference (an empty range is nothing).
    pub(super) fn push_kept(&mut self, buf: SharedFrame, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        if self.runs.is_empty() && !self.ring.is_empty() {
            // The ring's bytes before it become a run of their own.
            self.runs.push_back(Run::Copied(self.ring.len()));
        }
        self.len += range.len();
        // A placeholder pushed, then the run written into its slot: pushed whole, the run
        // was built on the stack and copied in sixteen bytes at a time across its
        // eight-byte stores, a store-forwarding stall on every segment kept (1% of a bulk
        // transfer, `perf annotate`).
        self.runs.push_back(Run::Copied(0));
        if let Some(slot) = self.runs.back_mut() {
            *slot = Run::Kept {
                buf,
                start: range.start,
                end: range.end,
            };
        }
    }

    /// Appends every byte of `other`, in order: its kept runs stay kept (the buffers move,
    /// nothing is copied), its copied bytes are copied into this ring.
    pub(super) fn append(&mut self, mut other: Runs) {
        if other.runs.is_empty() {
            let (a, b) = other.ring.as_slices();
            self.push_copy(a);
            self.push_copy(b);
            return;
        }
        while let Some(run) = other.runs.pop_front() {
            match run {
                Run::Copied(k) => {
                    let (a, b) = other.ring.as_slices();
                    let from_a = k.min(a.len());
                    self.push_copy(&a[..from_a]);
                    self.push_copy(&b[..k - from_a]);
                    other.ring.drain(..k);
                }
                Run::Kept { buf, start, end } => self.push_kept(buf, start..end),
            }
        }
    }

    /// Takes every byte out as one buffer when all of them are copied (none kept): the
    /// ring's own allocation, not a copy of it; `None`, and nothing taken, otherwise.
    pub(super) fn take_copied(&mut self) -> Option<Vec<u8>> {
        if !self.runs.is_empty() {
            return None;
        }
        let ring = core::mem::take(&mut self.ring);
        self.dropped += self.len;
        self.ring_dropped += self.len;
        self.len = 0;
        // A ring filled by `push_copy` from empty starts at its allocation's start, so
        // this moves nothing.
        Some(Vec::from(ring))
    }

    /// Moves the first `out.len()` bytes (at most all) into `out`; returns how many.
    pub(super) fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        if self.runs.is_empty() {
            take_from_ring(&mut self.ring, &mut out[..n]);
            self.ring_dropped += n;
        } else {
            let mut done = 0;
            while done < n {
                let Some(len) = self.runs.front().map(Run::len) else {
                    break;
                };
                let want = n - done;
                if len <= want {
                    // The whole run: taken out of the queue before its bytes are copied, so
                    // that no store to it waits behind the copy's stores (moving a run out
                    // after updating it in place stalled on that: 2.5% of a lossy
                    // transfer's time, in `perf`).
                    if let Some(run) = self.runs.pop_front() {
                        self.popped += 1;
                        let dst = &mut out[done..done + len];
                        match run {
                            Run::Copied(_) => {
                                take_from_ring(&mut self.ring, dst);
                                self.ring_dropped += len;
                            }
                            Run::Kept { buf, start, end } => dst.copy_from_slice(&buf[start..end]),
                        }
                    }
                    done += len;
                } else {
                    if let Some(run) = self.runs.front_mut() {
                        let dst = &mut out[done..n];
                        match run {
                            Run::Copied(k) => {
                                take_from_ring(&mut self.ring, dst);
                                *k -= want;
                                self.ring_dropped += want;
                            }
                            Run::Kept { buf, start, .. } => {
                                dst.copy_from_slice(&buf[*start..*start + want]);
                                *start += want;
                            }
                        }
                    }
                    done = n;
                }
            }
            self.forget_runs_if_empty();
        }
        self.len -= n;
        self.dropped += n;
        n
    }

    /// Drops the first `n` bytes (at most all); returns how many.
    pub(super) fn drop_front(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if self.runs.is_empty() {
            self.ring.drain(..n);
            self.ring_dropped += n;
        } else {
            let mut left = n;
            while left > 0 {
                let Some(run) = self.runs.front_mut() else {
                    break;
                };
                let m = run.len().min(left);
                match run {
                    Run::Copied(k) => {
                        self.ring.drain(..m);
                        *k -= m;
                        self.ring_dropped += m;
                    }
                    Run::Kept { start, .. } => *start += m,
                }
                left -= m;
                if run.len() == 0 {
                    self.runs.pop_front();
                    self.popped += 1;
                }
            }
            self.forget_runs_if_empty();
        }
        self.len -= n;
        self.dropped += n;
        n
    }

    /// Copies `out.len()` bytes starting `offset` bytes in into `out` (the caller knows
    /// they are there), leaving them held.
    pub(super) fn copy_at(&self, offset: usize, out: &mut [u8]) {
        if self.runs.is_empty() {
            return copy_from_ring(&self.ring, offset, out);
        }
        let target = self.dropped + offset;
        // From the cursor when it is a run after the first (the first may have lost bytes
        // from its front since) and not past `offset`; else from the front.
        let (mut index, mut run_at, mut ring_at) = match self.cursor.get() {
            Some(c) if c.run > self.popped && c.at <= target => {
                (c.run - self.popped, c.at, c.ring_at - self.ring_dropped)
            }
            _ => (0, self.dropped, 0),
        };
        let mut done = 0;
        while done < out.len() {
            let Some(run) = self.runs.get(index) else {
                break;
            };
            let len = run.len();
            let skip = target + done - run_at;
            if skip < len {
                self.cursor.set(Some(Cursor {
                    run: self.popped + index,
                    at: run_at,
                    ring_at: ring_at + self.ring_dropped,
                }));
                let m = (len - skip).min(out.len() - done);
                let dst = &mut out[done..done + m];
                match run {
                    Run::Copied(_) => copy_from_ring(&self.ring, ring_at + skip, dst),
                    Run::Kept { buf, start, .. } => {
                        dst.copy_from_slice(&buf[start + skip..start + skip + m]);
                    }
                }
                done += m;
                if skip + m < len {
                    break;
                }
            }
            run_at += len;
            if let Run::Copied(k) = run {
                ring_at += k;
            }
            index += 1;
        }
    }

    /// Drops everything.
    pub(super) fn clear(&mut self) {
        self.ring.clear();
        self.runs.clear();
        self.len = 0;
        // The counters stay as they are; nothing held refers to them any more.
        self.cursor.set(None);
    }

    /// The runs add up: to `len`, the copied ones to the ring's length, each non-empty and
    /// each kept range inside its buffer.
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn consistent(&self) -> bool {
        if self.runs.is_empty() {
            return self.ring.len() == self.len;
        }
        let (mut copied, mut total) = (0, 0);
        for run in &self.runs {
            match run {
                Run::Copied(k) => copied += k,
                Run::Kept { buf, end, .. } => {
                    if *end > buf.len() {
                        return false;
                    }
                }
            }
            if run.len() == 0 {
                return false;
            }
            total += run.len();
        }
        copied == self.ring.len() && total == self.len && self.cursor_true()
    }

    /// A cursor past the first run names a listed run, where it starts and where its bytes
    /// start in the ring, as walking the list from the front finds them.
    #[cfg(any(test, feature = "invariants"))]
    fn cursor_true(&self) -> bool {
        let Some(c) = self.cursor.get() else {
            return true;
        };
        if c.run <= self.popped {
            return true;
        }
        let (mut at, mut ring_at) = (self.dropped, self.ring_dropped);
        for (i, run) in self.runs.iter().enumerate() {
            if self.popped + i == c.run {
                return c.at == at && c.ring_at == ring_at;
            }
            at += run.len();
            if let Run::Copied(k) = run {
                ring_at += k;
            }
        }
        // Not listed: `copy_at` would find no run there and copy nothing.
        false
    }

    /// Once every run is gone: the list starts from its first slot again, so that the
    /// next runs land in the lines just used, not in the next lines of a list a burst once
    /// grew (a cold line per run: 2% of a lossy transfer's time, in `perf`).
    fn forget_runs_if_empty(&mut self) {
        if self.runs.is_empty() {
            self.runs.clear();
        }
    }
}

/// Moves the ring's first `out.len()` bytes into `out` (the caller knows they are there).
fn take_from_ring(ring: &mut VecDeque<u8>, out: &mut [u8]) {
    copy_from_ring(ring, 0, out);
    ring.drain(..out.len());
}

/// Copies `out.len()` bytes of `ring` from `at` into `out`.
fn copy_from_ring(ring: &VecDeque<u8>, at: usize, out: &mut [u8]) {
    let (a, b) = ring.as_slices();
    if at >= a.len() {
        let from = at - a.len();
        out.copy_from_slice(&b[from..from + out.len()]);
    } else {
        let first = (a.len() - at).min(out.len());
        out[..first].copy_from_slice(&a[at..at + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&b[..rest]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push {
            len: usize,
            kept: bool,
        },
        Read(usize),
        Drop(usize),
        CopyAt {
            offset: usize,
            len: usize,
        },
        /// The next `len` bytes after the last ones copied this way, as a sender's segments.
        CopyNext(usize),
        Clear,
        /// Another queue, its first byte dropped, appended whole: a copied half then a
        /// kept half (or all copied).
        Append {
            len: usize,
            kept: bool,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..6_000, any::<bool>()).prop_map(|(len, kept)| Op::Push { len, kept }),
            (0usize..9_000).prop_map(Op::Read),
            (0usize..9_000).prop_map(Op::Drop),
            (0usize..20_000, 0usize..3_000).prop_map(|(offset, len)| Op::CopyAt { offset, len }),
            (1usize..3_000).prop_map(Op::CopyNext),
            Just(Op::Clear),
            (2usize..6_000, any::<bool>()).prop_map(|(len, kept)| Op::Append { len, kept }),
        ]
    }

    proptest! {
        /// Against a plain byte queue: whatever is pushed (copied or kept), read, dropped
        /// and copied out, the bytes are the same, and kept buffers are let go once their
        /// bytes are gone.
        #[test]
        fn runs_are_a_byte_queue(ops in proptest::collection::vec(op(), 1..60)) {
            let buf = SharedFrame::new((0..50_000u32).map(|i| (i * 7 + i / 251) as u8).collect());
            let mut r = Runs::default();
            let mut model: VecDeque<u8> = VecDeque::new();
            let mut at = 0usize;
            // Where the next `CopyNext` starts, counted from the front of `model`.
            let mut next = 0usize;
            for op in ops {
                match op {
                    Op::Push { len, kept } => {
                        let end = (at + len).min(buf.len());
                        if kept {
                            r.push_kept(buf.clone(), at..end);
                        } else {
                            r.push_copy(&buf[at..end]);
                        }
                        model.extend(&buf[at..end]);
                        at = if end == buf.len() { 0 } else { end };
                    }
                    Op::Read(n) => {
                        let mut out = vec![0u8; n];
                        let got = r.read(&mut out);
                        prop_assert_eq!(got, n.min(model.len()));
                        let want: Vec<u8> = model.drain(..got).collect();
                        next = next.saturating_sub(got);
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                    Op::Drop(n) => {
                        let dropped = r.drop_front(n);
                        prop_assert_eq!(dropped, n.min(model.len()));
                        model.drain(..dropped);
                        next = next.saturating_sub(dropped);
                    }
                    Op::CopyNext(len) => {
                        if next >= model.len() {
                            next = 0;
                        }
                        let len = len.min(model.len() - next);
                        let mut out = vec![0u8; len];
                        r.copy_at(next, &mut out);
                        let want: Vec<u8> = model.range(next..next + len).copied().collect();
                        prop_assert_eq!(out, want);
                        next += len;
                    }
                    Op::Clear => {
                        r.clear();
                        model.clear();
                        next = 0;
                    }
                    Op::Append { len, kept } => {
                        let end = (at + len).min(buf.len());
                        let mid = at + (end - at) / 2;
                        let mut other = Runs::default();
                        other.push_copy(&buf[at..mid]);
                        if kept {
                            other.push_kept(buf.clone(), mid..end);
                        } else {
                            other.push_copy(&buf[mid..end]);
                        }
                        other.drop_front(1);
                        r.append(other);
                        model.extend(&buf[(at + 1).min(end)..end]);
                        at = if end == buf.len() { 0 } else { end };
                    }
                    Op::CopyAt { offset, len } => {
                        if offset + len <= model.len() {
                            let mut out = vec![0u8; len];
                            r.copy_at(offset, &mut out);
                            let want: Vec<u8> = model.range(offset..offset + len).copied().collect();
                            prop_assert_eq!(out, want);
                        }
                    }
                }
                prop_assert_eq!(r.len(), model.len());
                prop_assert!(r.consistent());
            }
            r.drop_front(r.len());
            prop_assert!(buf.is_unique(), "emptied, the kept buffer is let go");
            prop_assert_eq!(r.run_count(), 0);
        }
    }

    #[test]
    fn nothing_is_listed_until_something_is_kept() {
        let buf = SharedFrame::new(vec![7; 100]);
        let mut r = Runs::default();
        r.push_copy(&[1, 2, 3]);
        assert_eq!(r.run_count(), 0);
        r.push_kept(buf.clone(), 10..20);
        r.push_copy(&[4]);
        assert_eq!((r.run_count(), r.kept_runs(), r.len()), (3, 1, 14));
        let mut out = [0u8; 14];
        assert_eq!(r.read(&mut out), 14);
        assert_eq!(out, [1, 2, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4]);
        assert_eq!(r.run_count(), 0);
        assert!(buf.is_unique());
    }
}
