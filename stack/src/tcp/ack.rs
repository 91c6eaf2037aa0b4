//! What the receiver owes the peer: whether an ACK is due now or delayed (RFC 9293 MUST-40,
//! SHLD-19), and the SACK blocks the next one carries (RFC 2018, D-SACK of RFC 2883). When
//! an ACK goes out and what it says of the window are `Connection`'s.

use crate::time::Instant;
use crate::wire::tcp::SackBlocks;
use crate::wire::SeqNumber;

/// One connection's pending acknowledgment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PendingAck {
    /// An ACK is due at the next `poll_transmit`.
    pub(super) due: bool,
    /// The ACK that is due is owed only for in-order data (every second full-sized
    /// segment, SHLD-19), or for out-of-order data that continues the SACK block an ACK
    /// reported, and one already went out at this instant, so it may wait for the rest of
    /// a burst that arrived together and cover all of it, as Linux's ACK of a GRO-merged
    /// packet does: see `Connection::must_answer_now`. Any other reason for an ACK clears
    /// it.
    pub(super) coalescible: bool,
    /// When the last segment carrying our ACK went out.
    pub(super) sent_at: Option<Instant>,
    /// In-order bytes taken since the last ACK went out (for the bound on a coalesced ACK).
    pub(super) unacked_bytes: usize,
    /// An ACK is held back until the delayed-ACK timer (MUST-40).
    pub(super) delayed: bool,
    /// Full-sized segments received since the last ACK: the second makes one due (SHLD-19).
    pub(super) full_segments: u32,
    /// A duplicate the peer sent, for the next ACK's first SACK block (RFC 2883).
    pub(super) dsack: Option<(SeqNumber, SeqNumber)>,
    /// Out-of-order blocks, the most recently changed first (RFC 2018 section 4).
    pub(super) recent_sack: SackBlocks,
    /// A segment that continued the reported block waits for its ACK (the next such
    /// segment makes the ACK due at once: `owe_for_continued_block`).
    pub(super) continued_waiting: bool,
}

impl PendingAck {
    /// An ACK is owed at once: out-of-order data, a duplicate, a FIN, a challenge, ...
    pub(super) fn owe(&mut self) {
        self.due = true;
        self.coalescible = false;
        self.continued_waiting = false;
    }

    /// An ACK is owed for in-order data alone. The first of a burst goes at once, as every
    /// second segment's ACK does; the later ones may wait and cover the rest of the burst.
    /// Two ACKs a burst, not one: when the last is lost, the first has still let the
    /// sender send more, whose ACK covers what the lost one did, where a burst's only
    /// ACK lost leaves the sender nothing to go on but its loss probe or its RTO.
    pub(super) fn owe_for_in_order_data(&mut self, now: Instant) {
        if !self.due {
            self.coalescible = self.sent_at == Some(now);
        }
        self.due = true;
    }

    /// An ACK is owed for out-of-order data that continues, at its right edge, the SACK
    /// block most recently reported: the rest of an out-of-order run that arrived in one
    /// burst behind a hole. The first ACK of the burst goes at once (the duplicate ACK
    /// that reports the hole); after it, a segment's ACK may wait for the next segment of
    /// the run, or the end of the burst, and report both: a duplicate ACK for every second
    /// segment, as for in-order data (SHLD-19), where RFC 5681 section 4.2 asks for one per
    /// segment (and Linux, whose GRO merges the run into one packet, sends one per burst).
    /// Only with SACK, whose blocks tell the sender what arrived (RFC 6675 IsLost counts
    /// bytes, not duplicate ACKs). Not fewer: with one ACK for the whole run, or one per
    /// three segments or more, the quality bench's case with 1% loss of ACKs as well as
    /// data went from 0.84-0.92 of Mathis to 0.62-0.74 on six seeds, with 8 to 16
    /// retransmission timeouts in 10 s where there had been 0 or 1: a lost ACK then hides
    /// too much of the run for the sender to go on. One per two kept 0.86-0.92, no more
    /// timeouts.
    pub(super) fn owe_for_continued_block(&mut self, now: Instant) {
        if self.continued_waiting {
            self.owe();
            return;
        }
        if !self.due {
            self.coalescible = self.sent_at == Some(now);
        }
        self.due = true;
        self.continued_waiting = self.coalescible;
    }

    /// Nothing is owed after all (the connection closed, or a SYN carried the ACK).
    pub(super) fn cancel(&mut self) {
        self.due = false;
        self.coalescible = false;
        self.continued_waiting = false;
    }

    /// A segment carrying our ACK went out: nothing is owed any more.
    pub(super) fn sent(&mut self, now: Instant) {
        self.sent_at = Some(now);
        self.due = false;
        self.coalescible = false;
        self.continued_waiting = false;
        self.delayed = false;
        self.full_segments = 0;
        self.unacked_bytes = 0;
    }
}
