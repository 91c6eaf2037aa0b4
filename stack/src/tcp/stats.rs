//! Per-connection counters: what a `netstat -s` would add up, and every drop's reason.

use core::fmt;

/// Why an arriving segment (or part of one) was not processed. Every drop in the engine has
/// one, so that a trace can say what happened to every byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The segment failed the acceptability test of RFC 9293 section 3.10.7.4.
    OutOfWindow,
    /// PAWS rejected it: its timestamp is older than TS.Recent (RFC 7323 section 5).
    Paws,
    /// Timestamps were negotiated but the segment carried none (RFC 7323 section 3.2).
    MissingTimestamp,
    /// In SYN-SENT or SYN-RECEIVED, an ACK that does not acknowledge our SYN (answered with
    /// RST, RFC 9293 sections 3.10.7.3 and 3.10.7.4).
    UnacceptableAck,
    /// An ACK for data never sent, or older than the window allows (RFC 5961 section 5).
    AckOutOfRange,
    /// A segment without ACK in a state that needs one.
    NoAck,
    /// SYN and FIN together where the engine does not accept them (LISTEN).
    SynFin,
    /// A RST that did not match exactly and was ignored or challenged (RFC 5961 section 3).
    RstNotExact,
    /// A RST in TIME-WAIT, ignored per RFC 1337.
    RstInTimeWait,
    /// A challenge ACK was due but the rate limit was reached (RFC 5961 section 7).
    ChallengeAckLimited,
    /// Out-of-order data dropped because the range table was full.
    ReassemblyFull,
    /// Data beyond what the receive buffer can hold.
    BufferFull,
    /// A control segment (RST) could not be queued: the control queue was full.
    ControlQueueFull,
    /// A segment to a connection in CLOSED (answered with RST where the RFC says so).
    Closed,
    /// In LISTEN or SYN-SENT, a segment that is neither SYN nor (acceptable) RST.
    NotSyn,
    /// Data arriving after our application closed its receive side (answered with RST).
    DataAfterClose,
    /// Data or FIN after the peer's FIN.
    AfterFin,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 17] = [
        DropReason::OutOfWindow,
        DropReason::Paws,
        DropReason::MissingTimestamp,
        DropReason::UnacceptableAck,
        DropReason::AckOutOfRange,
        DropReason::NoAck,
        DropReason::SynFin,
        DropReason::RstNotExact,
        DropReason::RstInTimeWait,
        DropReason::ChallengeAckLimited,
        DropReason::ReassemblyFull,
        DropReason::BufferFull,
        DropReason::ControlQueueFull,
        DropReason::Closed,
        DropReason::NotSyn,
        DropReason::DataAfterClose,
        DropReason::AfterFin,
    ];

    /// A snake_case name for counters and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::OutOfWindow => "out_of_window",
            DropReason::Paws => "paws",
            DropReason::MissingTimestamp => "missing_timestamp",
            DropReason::UnacceptableAck => "unacceptable_ack",
            DropReason::AckOutOfRange => "ack_out_of_range",
            DropReason::NoAck => "no_ack",
            DropReason::SynFin => "syn_fin",
            DropReason::RstNotExact => "rst_not_exact",
            DropReason::RstInTimeWait => "rst_in_time_wait",
            DropReason::ChallengeAckLimited => "challenge_ack_limited",
            DropReason::ReassemblyFull => "reassembly_full",
            DropReason::BufferFull => "buffer_full",
            DropReason::ControlQueueFull => "control_queue_full",
            DropReason::Closed => "closed",
            DropReason::NotSyn => "not_syn",
            DropReason::DataAfterClose => "data_after_close",
            DropReason::AfterFin => "after_fin",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Segments handed to `handle_segment`.
    pub segments_received: u64,
    /// Segments returned by `poll_transmit`.
    pub segments_sent: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes delivered in order to the receive buffer.
    pub bytes_received: u64,
    /// Segments sent again (RTO, fast retransmit or SACK recovery).
    pub retransmitted_segments: u64,
    /// Expirations of the retransmission timer.
    pub rto_expirations: u64,
    /// Segments (or SYNs) sent again at once because the next hop got a new link-layer
    /// address while a timeout was backed off (`Connection::handle_next_hop_change`).
    pub next_hop_resends: u64,
    /// ACKs of new data whose echoed timestamp predates the last RTO: no RTT sample taken
    /// (Karn's rule where timestamps leave the ACK's timing ambiguous).
    pub rtt_samples_ambiguous: u64,
    /// Entries into fast recovery.
    pub fast_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 section 7.3).
    pub tlp_probes_sent: u64,
    /// Probes that repaired a loss on their own (RFC 8985 section 7.4: the probe was a
    /// retransmission and no D-SACK said the original had arrived); each reduced cwnd.
    pub tlp_losses_repaired: u64,
    /// Retransmissions found lost in SACK recovery and sent again before the RTO.
    pub lost_retransmissions: u64,
    /// Duplicate ACKs received (RFC 5681 definition).
    pub dup_acks_received: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks_sent: u64,
    /// ACKs not sent in answer to an unacceptable segment without data, because one had
    /// been sent less than `Config::out_of_window_ack_interval` before.
    pub out_of_window_acks_limited: u64,
    /// RST segments sent.
    pub rsts_sent: u64,
    /// Zero-window probes sent.
    pub window_probes_sent: u64,
    /// Keep-alive probes sent.
    pub keepalive_probes_sent: u64,
    drops: [u64; DropReason::ALL.len()],
    /// The sum of `drops`: a host folding them into its own table checks this first.
    drops_total: u64,
}

impl Stats {
    /// Counts one drop.
    pub fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
        self.drops_total += 1;
    }

    /// Drops counted for every reason together.
    pub fn drops_total(&self) -> u64 {
        self.drops_total
    }

    /// Drops counted for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// All non-zero drop counters, in a fixed order.
    pub fn drop_counts(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.drops[r.index()]))
            .filter(|&(_, n)| n > 0)
    }
}
