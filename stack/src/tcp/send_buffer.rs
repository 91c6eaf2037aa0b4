//! The send buffer: what the application wrote and the peer has not acknowledged, with the
//! sequence number of its first byte, and whether a FIN ends the stream. The sequence space
//! around it (SND.UNA, SND.NXT, SND.MAX, the peer's window) is `Connection`'s.

use alloc::collections::VecDeque;

use crate::wire::SeqNumber;

/// One connection's unacknowledged bytes, from `base`.
#[derive(Debug, Clone, Default)]
pub(super) struct SendBuffer {
    bytes: VecDeque<u8>,
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
        self.base + self.bytes.len()
    }

    /// Appends what the application wrote (the caller checked the room).
    pub(super) fn push(&mut self, data: &[u8]) {
        self.bytes.extend(data);
    }

    /// Discards everything (abort, reset).
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Drops the bytes `ack` acknowledges (the FIN has no byte); returns how many.
    pub(super) fn acknowledge(&mut self, ack: SeqNumber) -> usize {
        let acked = (ack - self.base).min(self.bytes.len());
        if ack > self.base {
            self.bytes.drain(..acked);
            self.base += acked;
        }
        acked
    }

    /// Copies `out.len()` bytes starting `offset` bytes after `base` into `out`.
    pub(super) fn copy_out(&self, offset: usize, out: &mut [u8]) {
        let (a, b) = self.bytes.as_slices();
        if offset >= a.len() {
            let from = offset - a.len();
            out.copy_from_slice(&b[from..from + out.len()]);
        } else {
            let first = (a.len() - offset).min(out.len());
            out[..first].copy_from_slice(&a[offset..offset + first]);
            let rest = out.len() - first;
            out[first..].copy_from_slice(&b[..rest]);
        }
    }

    /// Appends `n` zero bytes whatever the bound (the invariant tests only).
    #[cfg(feature = "invariants")]
    pub(super) fn pad_for_test(&mut self, n: usize) {
        self.bytes.extend(core::iter::repeat_n(0u8, n));
    }
}
