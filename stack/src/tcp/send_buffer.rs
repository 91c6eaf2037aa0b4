//! The send buffer: what the application wrote and the peer has not acknowledged, with the
//! sequence number of its first byte, and whether a FIN ends the stream. The sequence space
//! around it (SND.UNA, SND.NXT, SND.MAX, the peer's window) is `Connection`'s.
//!
//! Bytes are copied into a ring, or, when the application hands them in a [`SharedFrame`]
//! (`Host::send_shared`) in a run of at least [`SHARE_MIN_BYTES`], kept where they are: the
//! buffer holds a reference to the application's buffer and a segment copies its payload
//! straight from there into the frame (one copy of every byte fewer, and no write of every
//! byte into a ring the size of the window, which the cache does not hold).

use super::runs::Runs;
use crate::frame::SharedFrame;
use crate::wire::SeqNumber;

/// Shared bytes shorter than this are copied: a run per short write would make every
/// segment's copy walk many runs.
pub const SHARE_MIN_BYTES: usize = 4096;

/// One connection's unacknowledged bytes, from `base`.
///
/// Bound: the caller pushes no more than the buffer's room, so the bytes held never exceed
/// it; a shared run holds at least [`SHARE_MIN_BYTES`], so the runs number at most
/// `2 * room / SHARE_MIN_BYTES + 1`.
#[derive(Debug, Clone, Default)]
pub(super) struct SendBuffer {
    /// The bytes held, copied or shared.
    bytes: Runs,
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
        self.bytes.len()
    }

    /// Whether nothing is held.
    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The sequence number of the first byte held.
    pub(super) fn base(&self) -> SeqNumber {
        self.base
    }

    /// The sequence number after the last byte: the FIN's, once queued.
    pub(super) fn end(&self) -> SeqNumber {
        self.base + self.len()
    }

    /// Appends what the application wrote (the caller checked the room): kept in `owner`
    /// when the bytes lie there and are long enough, copied otherwise.
    pub(super) fn push(&mut self, data: &[u8], owner: Option<&SharedFrame>) {
        let shared = owner
            .filter(|_| data.len() >= SHARE_MIN_BYTES)
            .and_then(|b| Some((b, b.range_of(data)?)));
        match shared {
            Some((buf, range)) => self.bytes.push_kept(buf.clone(), range),
            None => self.bytes.push_copy(data),
        }
    }

    /// Discards everything (abort, reset).
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Drops the bytes `ack` acknowledges (the FIN has no byte); returns how many.
    pub(super) fn acknowledge(&mut self, ack: SeqNumber) -> usize {
        if ack <= self.base {
            return 0;
        }
        let acked = self.bytes.drop_front(ack - self.base);
        self.base += acked;
        acked
    }

    /// Copies `out.len()` bytes starting `offset` bytes after `base` into `out`.
    pub(super) fn copy_out(&self, offset: usize, out: &mut [u8]) {
        self.bytes.copy_at(offset, out);
    }

    /// Shared runs held (at most `2 * room / SHARE_MIN_BYTES`).
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn shared_runs(&self) -> usize {
        self.bytes.kept_runs()
    }

    /// The runs add up: to `len`, the copied ones to the ring's length, each non-empty.
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn runs_consistent(&self) -> bool {
        self.bytes.consistent()
    }

    /// Appends `n` zero bytes whatever the bound (the invariant tests only).
    #[cfg(feature = "invariants")]
    pub(super) fn pad_for_test(&mut self, n: usize) {
        self.push(&alloc::vec![0u8; n], None);
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
