//! The send buffer: what the application wrote and the peer has not acknowledged, with the
//! sequence number of its first byte, and whether a FIN ends the stream. The sequence space
//! around it (SND.UNA, SND.NXT, SND.MAX, the peer's window) is `Connection`'s.
//!
//! Bytes are copied into a ring, or, when the application hands them in a [`SharedFrame`]
//! (`Host::send_shared`) in a run of at least [`SHARE_MIN_BYTES`], kept where they are: the
//! buffer holds a reference to the application's buffer and a segment copies its payload
//! straight from there into the frame (one copy of every byte fewer, and no write of every
//! byte into a ring the size of the window, which the cache does not hold).

use alloc::collections::VecDeque;

use crate::frame::SharedFrame;
use crate::wire::SeqNumber;

/// Shared bytes shorter than this are copied: a run per short write would make every
/// segment's copy walk many runs.
pub const SHARE_MIN_BYTES: usize = 4096;

/// A run of unacknowledged bytes, in stream order.
#[derive(Debug, Clone)]
enum Run {
    /// The next this many bytes of the ring `bytes`.
    Copied(usize),
    /// Bytes `start..end` of an application's buffer, kept by reference.
    Shared {
        buf: SharedFrame,
        start: usize,
        end: usize,
    },
}

/// One connection's unacknowledged bytes, from `base`.
///
/// Bound: the caller pushes no more than the buffer's room, so the bytes held never exceed
/// it; a shared run holds at least [`SHARE_MIN_BYTES`], so the runs number at most
/// `2 * room / SHARE_MIN_BYTES + 1`.
#[derive(Debug, Clone, Default)]
pub(super) struct SendBuffer {
    /// Copied bytes, in order.
    bytes: VecDeque<u8>,
    /// Every held byte as runs, when any run is shared; empty while all are in `bytes`.
    runs: VecDeque<Run>,
    /// Bytes held.
    len: usize,
    /// The sequence number of the first byte held (ISS+1 until the SYN is acknowledged).
    base: SeqNumber,
    /// The application closed its side: a FIN follows the last byte.
    pub(super) fin_queued: bool,
}

impl SendBuffer {
    /// The stream starts after the SYN at `iss`.
    pub(super) fn start(&mut self, iss: SeqNumber) {
        self.base = iss + 1;
    }

    /// Bytes held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sequence number of the first byte held.
    pub(super) fn base(&self) -> SeqNumber {
        self.base
    }

    /// The sequence number after the last byte: the FIN's, once queued.
    pub(super) fn end(&self) -> SeqNumber {
        self.base + self.len
    }

    /// Appends what the application wrote (the caller checked the room): kept in `owner`
    /// when the bytes lie there and are long enough, copied otherwise.
    pub(super) fn push(&mut self, data: &[u8], owner: Option<&SharedFrame>) {
        if data.is_empty() {
            return;
        }
        let shared = owner
            .filter(|_| data.len() >= SHARE_MIN_BYTES)
            .and_then(|b| Some((b, b.range_of(data)?)));
        if let Some((buf, range)) = shared {
            if self.runs.is_empty() && !self.bytes.is_empty() {
                self.runs.push_back(Run::Copied(self.bytes.len()));
            }
            self.runs.push_back(Run::Shared {
                buf: buf.clone(),
                start: range.start,
                end: range.end,
            });
        } else {
            self.bytes.extend(data);
            if !self.runs.is_empty() {
                match self.runs.back_mut() {
                    Some(Run::Copied(k)) => *k += data.len(),
                    _ => self.runs.push_back(Run::Copied(data.len())),
                }
            }
        }
        self.len += data.len();
    }

    /// Discards everything (abort, reset).
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.runs.clear();
        self.len = 0;
    }

    /// Drops the bytes `ack` acknowledges (the FIN has no byte); returns how many.
    pub(super) fn acknowledge(&mut self, ack: SeqNumber) -> usize {
        let acked = (ack - self.base).min(self.len);
        if ack <= self.base {
            return acked;
        }
        if self.runs.is_empty() {
            self.bytes.drain(..acked);
        } else {
            let mut left = acked;
            while left > 0 {
                let Some(run) = self.runs.front_mut() else {
                    break;
                };
                let spent = match run {
                    Run::Copied(k) => {
                        let m = (*k).min(left);
                        self.bytes.drain(..m);
                        *k -= m;
                        left -= m;
                        *k == 0
                    }
                    Run::Shared { start, end, .. } => {
                        let m = (*end - *start).min(left);
                        *start += m;
                        left -= m;
                        start == end
                    }
                };
                if spent {
                    self.runs.pop_front();
                }
            }
        }
        self.len -= acked;
        self.base += acked;
        acked
    }

    /// Copies `out.len()` bytes starting `offset` bytes after `base` into `out`.
    pub(super) fn copy_out(&self, offset: usize, out: &mut [u8]) {
        if self.runs.is_empty() {
            return copy_from_ring(&self.bytes, offset, out);
        }
        // Walk the runs to `offset`, then copy run by run; `ring_at` is where the current
        // copied run starts in the ring.
        let (mut skip, mut ring_at, mut done) = (offset, 0usize, 0usize);
        for run in &self.runs {
            if done == out.len() {
                break;
            }
            let len = match run {
                Run::Copied(k) => *k,
                Run::Shared { start, end, .. } => end - start,
            };
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
                    copy_from_ring(&self.bytes, ring_at + skip, dst);
                    ring_at += k;
                }
                Run::Shared { buf, start, .. } => {
                    dst.copy_from_slice(&buf[start + skip..start + skip + m]);
                }
            }
            done += m;
            skip = 0;
        }
    }

    /// Shared runs held (at most `2 * room / SHARE_MIN_BYTES`).
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn shared_runs(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| matches!(r, Run::Shared { .. }))
            .count()
    }

    /// The runs add up: to `len`, the copied ones to the ring's length, each non-empty.
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn runs_consistent(&self) -> bool {
        if self.runs.is_empty() {
            return self.bytes.len() == self.len;
        }
        let (mut copied, mut total) = (0, 0);
        for run in &self.runs {
            match run {
                Run::Copied(k) => {
                    copied += k;
                    total += k;
                    if *k == 0 {
                        return false;
                    }
                }
                Run::Shared { buf, start, end } => {
                    if start >= end || *end > buf.len() {
                        return false;
                    }
                    total += end - start;
                }
            }
        }
        copied == self.bytes.len() && total == self.len
    }

    /// Appends `n` zero bytes whatever the bound (the invariant tests only).
    #[cfg(feature = "invariants")]
    pub(super) fn pad_for_test(&mut self, n: usize) {
        self.push(&alloc::vec![0u8; n], None);
    }
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

    const ISS: SeqNumber = SeqNumber(u32::MAX - 5000);

    #[derive(Debug, Clone)]
    enum Op {
        Push { len: usize, shared: bool },
        Ack(usize),
        Copy { offset: usize, len: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..12_000, any::<bool>()).prop_map(|(len, shared)| Op::Push { len, shared }),
            (0usize..16_000).prop_map(Op::Ack),
            (0usize..40_000, 0usize..3_000).prop_map(|(offset, len)| Op::Copy { offset, len }),
        ]
    }

    proptest! {
        /// Against a plain byte queue: whatever is pushed (copied or shared), acknowledged
        /// and copied out, the bytes are the same, and shared buffers are let go once
        /// acknowledged.
        #[test]
        fn runs_read_as_a_byte_queue(ops in proptest::collection::vec(op(), 1..60)) {
            let app = SharedFrame::new((0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect());
            let mut b = SendBuffer::default();
            b.start(ISS);
            let mut model: alloc::collections::VecDeque<u8> = Default::default();
            let mut at = 0usize;
            for op in ops {
                match op {
                    Op::Push { len, shared } => {
                        let end = (at + len).min(app.len());
                        let data = &app[at..end];
                        b.push(data, shared.then_some(&app));
                        model.extend(data);
                        at = if end == app.len() { 0 } else { end };
                    }
                    Op::Ack(n) => {
                        let acked = b.acknowledge(b.base() + n);
                        prop_assert_eq!(acked, n.min(model.len()));
                        model.drain(..acked);
                    }
                    Op::Copy { offset, len } => {
                        if offset + len <= model.len() {
                            let mut out = vec![0u8; len];
                            b.copy_out(offset, &mut out);
                            let want: Vec<u8> = model.range(offset..offset + len).copied().collect();
                            prop_assert_eq!(out, want);
                        }
                    }
                }
                prop_assert_eq!(b.len(), model.len());
                prop_assert!(b.runs_consistent());
            }
            b.acknowledge(b.base() + b.len());
            prop_assert!(app.is_unique(), "acknowledged, the application's buffer is let go");
        }
    }

    #[test]
    fn long_shared_writes_are_kept_and_short_ones_copied() {
        let app = SharedFrame::new(vec![9; 20_000]);
        let mut b = SendBuffer::default();
        b.start(ISS);
        b.push(&app[..100], Some(&app));
        b.push(&app[100..10_100], Some(&app));
        b.push(&[1; 50], None);
        assert_eq!(b.shared_runs(), 1);
        assert_eq!(b.len(), 10_150);
        let mut out = vec![0; 200];
        b.copy_out(9_950, &mut out);
        assert_eq!(&out[..150], &[9; 150][..]);
        assert_eq!(&out[150..], &[1; 50][..]);
        assert!(!app.is_unique());
        b.acknowledge(b.base() + 10_100);
        assert!(app.is_unique(), "the shared run is acknowledged");
        assert_eq!(b.len(), 50);
    }
}
