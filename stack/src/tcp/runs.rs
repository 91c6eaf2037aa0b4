//! A queue of bytes held as runs: copied into one ring, or kept by reference in a shared
//! buffer where they already are. The receive buffer's readable bytes (kept: a full-size
//! segment's payload in the frame it arrived in, an out-of-order range moved in whole) and
//! the send buffer's unacknowledged bytes (kept: a long write in the application's buffer)
//! are each one of these; which bytes are worth keeping is theirs to say.
//!
//! While nothing is kept, every byte is in the ring and no run is listed: the common case of
//! short messages walks no list.

use alloc::collections::VecDeque;
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
        self.runs.push_back(Run::Kept {
            buf,
            start: range.start,
            end: range.end,
        });
    }

    /// Moves the first `out.len()` bytes (at most all) into `out`; returns how many.
    pub(super) fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        if self.runs.is_empty() {
            take_from_ring(&mut self.ring, &mut out[..n]);
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
                        let dst = &mut out[done..done + len];
                        match run {
                            Run::Copied(_) => take_from_ring(&mut self.ring, dst),
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
        n
    }

    /// Drops the first `n` bytes (at most all); returns how many.
    pub(super) fn drop_front(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if self.runs.is_empty() {
            self.ring.drain(..n);
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
                    }
                    Run::Kept { start, .. } => *start += m,
                }
                left -= m;
                if run.len() == 0 {
                    self.runs.pop_front();
                }
            }
            self.forget_runs_if_empty();
        }
        self.len -= n;
        n
    }

    /// Copies `out.len()` bytes starting `offset` bytes in into `out` (the caller knows
    /// they are there), leaving them held.
    pub(super) fn copy_at(&self, offset: usize, out: &mut [u8]) {
        if self.runs.is_empty() {
            return copy_from_ring(&self.ring, offset, out);
        }
        // Walk the runs to `offset`, then copy run by run; `ring_at` is where the current
        // copied run starts in the ring.
        let (mut skip, mut ring_at, mut done) = (offset, 0usize, 0usize);
        for run in &self.runs {
            if done == out.len() {
                break;
            }
            let len = run.len();
            if skip >= len {
                skip -= len;
                if let Run::Copied(k) = run {
                    ring_at += k;
                }
                continue;
            }
            let m = (len - skip).min(out.len() - done);
            let dst = &mut out[done..done + m];
            match run {
                Run::Copied(k) => {
                    copy_from_ring(&self.ring, ring_at + skip, dst);
                    ring_at += k;
                }
                Run::Kept { buf, start, .. } => {
                    dst.copy_from_slice(&buf[start + skip..start + skip + m]);
                }
            }
            done += m;
            skip = 0;
        }
    }

    /// Drops everything.
    pub(super) fn clear(&mut self) {
        self.ring.clear();
        self.runs.clear();
        self.len = 0;
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
        copied == self.ring.len() && total == self.len
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
        Push { len: usize, kept: bool },
        Read(usize),
        Drop(usize),
        CopyAt { offset: usize, len: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..6_000, any::<bool>()).prop_map(|(len, kept)| Op::Push { len, kept }),
            (0usize..9_000).prop_map(Op::Read),
            (0usize..9_000).prop_map(Op::Drop),
            (0usize..20_000, 0usize..3_000).prop_map(|(offset, len)| Op::CopyAt { offset, len }),
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
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                    Op::Drop(n) => {
                        let dropped = r.drop_front(n);
                        prop_assert_eq!(dropped, n.min(model.len()));
                        model.drain(..dropped);
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
