//! The state of Tail Loss Probe (RFC 8985 section 7): whether a probe is due, and the
//! episode of the last one until an ACK settles it. The rules that use it (when a PTO may be
//! armed, what a probe sends, how an ACK settles it) are `Connection`'s, which knows the
//! sequence space and the timers.

use crate::wire::SeqNumber;

/// One connection's tail loss probe state.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TailLossProbe {
    /// The PTO fired and a probe is due at the next `poll_transmit`.
    pub(super) due: bool,
    /// TLP.end_seq: SND.MAX after the last probe, until its episode is settled.
    pub(super) end: Option<SeqNumber>,
    /// TLP.is_retrans: the probe resent old data (it may repair a loss by itself).
    pub(super) is_retrans: bool,
    /// FlightSize when the probe went out, for the congestion response if it repaired a loss.
    pub(super) flight: usize,
    /// An RTT sample was taken since the last probe (section 7.3 condition 2).
    pub(super) rtt_sampled: bool,
}

impl TailLossProbe {
    /// An RTO or fast recovery takes over: no probe is due, and the last one's episode is
    /// over (section 7.4).
    pub(super) fn end_episode(&mut self) {
        self.due = false;
        self.end = None;
    }

    /// Whether the last probe is still unacknowledged (SND.UNA below TLP.end_seq).
    pub(super) fn in_flight(&self, snd_una: SeqNumber) -> bool {
        self.end.is_some_and(|end| snd_una < end)
    }
}
