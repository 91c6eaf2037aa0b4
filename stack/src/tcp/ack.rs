//! What the receiver owes the peer: whether an ACK is due now or delayed (RFC 9293 MUST-40,
//! SHLD-19), and the SACK blocks the next one carries (RFC 2018, D-SACK of RFC 2883). When
//! an ACK goes out and what it says of the window are `Connection`'s.

use crate::wire::tcp::SackBlocks;
use crate::wire::SeqNumber;

/// One connection's pending acknowledgment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PendingAck {
    /// An ACK is due at the next `poll_transmit`.
    pub(super) due: bool,
    /// An ACK is held back until the delayed-ACK timer (MUST-40).
    pub(super) delayed: bool,
    /// Full-sized segments received since the last ACK: the second makes one due (SHLD-19).
    pub(super) full_segments: u32,
    /// A duplicate the peer sent, for the next ACK's first SACK block (RFC 2883).
    pub(super) dsack: Option<(SeqNumber, SeqNumber)>,
    /// Out-of-order blocks, the most recently changed first (RFC 2018 section 4).
    pub(super) recent_sack: SackBlocks,
}

impl PendingAck {
    /// A segment carrying our ACK went out: nothing is owed any more.
    pub(super) fn sent(&mut self) {
        self.due = false;
        self.delayed = false;
        self.full_segments = 0;
    }
}
