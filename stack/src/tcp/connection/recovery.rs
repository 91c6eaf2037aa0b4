//! Loss detection and recovery: fast retransmit and fast recovery (RFC 5681, RFC 6582 for
//! a peer without SACK, RFC 6675 with it), the reordering window and lost retransmissions
//! of RACK (RFC 8985 section 6), and the tail loss probe (section 7). What they remember
//! between ACKs is [`LossRecovery`]; the probe's own episode is `loss_probe::TailLossProbe`.
//! The send path (`poll_transmit` in `connection.rs`) reads both to choose what goes next.

use super::{Connection, DUP_THRESH};
use crate::tcp::congestion::CongestionControl;
use crate::tcp::state::State;
use crate::tcp::timer::Timer;
use crate::time::Instant;
use crate::wire::tcp::Repr as TcpRepr;
use crate::wire::SeqNumber;

/// What loss recovery remembers between ACKs. Every mark is a sequence number in the send
/// space, at most SND.MAX (the invariants check it).
#[derive(Debug, Default)]
pub(super) struct LossRecovery {
    /// Duplicate ACKs in a row (RFC 5681 section 3.2).
    pub(super) dupacks: u32,
    /// SND.MAX at the first duplicate ACK: what limited transmit sent after it is not part
    /// of the FlightSize that sets ssthresh (RFC 5681 section 3.2 step 2).
    pub(super) snd_max_at_first_dupack: SeqNumber,
    /// In fast recovery until `snd_una` reaches this (RFC 6582's "recover").
    pub(super) recovery: Option<SeqNumber>,
    /// The highest `snd_max` at the last RTO or recovery: no new recovery below it.
    pub(super) recover_floor: SeqNumber,
    /// A retransmission the next `poll_transmit` must send first.
    pub(super) rexmit_next: Option<SeqNumber>,
    /// Highest sequence number retransmitted in this recovery (RFC 6675 HighRxt).
    pub(super) high_rxt: SeqNumber,
    /// In SACK recovery: the lowest hole, if it was retransmitted, with SND.MAX at that
    /// retransmission. Data above that mark SACKed means the retransmission is lost.
    pub(super) rexmit_mark: Option<(SeqNumber, SeqNumber)>,
    /// In SACK recovery: unSACKed bytes below this were sent before something the peer
    /// has since received, and the reordering window passed: lost by RACK's time-based
    /// inference (RFC 8985 section 6.2), whatever DupThresh says.
    pub(super) rack_lost: SeqNumber,
    /// In SACK recovery: the last retransmission, `(start, end, SND.MAX then)`. Once it
    /// arrives, the original transmissions below `SND.MAX then` that have not were sent
    /// before it: evidence for `rack_lost`.
    pub(super) last_rexmit: Option<(SeqNumber, SeqNumber, SeqNumber)>,
}

impl Connection {
    // ------------------------------------------------------------------------------------
    // Fast retransmit and fast recovery (RFC 5681 section 3.2, RFC 6582, RFC 6675)

    /// A duplicate ACK (RFC 5681 section 2's definition, checked by the caller): counted,
    /// and the third, or SACK information that says SND.UNA is lost, starts recovery.
    pub(super) fn on_dupack(&mut self, now: Instant, newly_sacked: usize) {
        self.loss.dupacks += 1;
        if self.loss.dupacks == 1 {
            self.loss.snd_max_at_first_dupack = self.snd_max;
        }
        let smss = self.smss();
        if let Some(_recover) = self.loss.recovery {
            if !self.sack_ok {
                // Window inflation (RFC 5681 section 3.2 step 4).
                let cwnd = self.cc.cwnd() + smss;
                self.cc.set_cwnd(cwnd);
            }
            return;
        }
        let sack_says_lost = self.sack_ok
            && newly_sacked > 0
            && self
                .scoreboard
                .is_lost(self.snd_una, DUP_THRESH as usize, smss);
        if self.loss.dupacks >= DUP_THRESH || sack_says_lost {
            self.enter_recovery(now);
        }
        // Limited transmit (RFC 3042) happens in the send path: the allowance grows with
        // the first two duplicate ACKs.
    }

    pub(super) fn maybe_enter_sack_recovery(&mut self, now: Instant) {
        let smss = self.smss();
        if self
            .scoreboard
            .is_lost(self.snd_una, DUP_THRESH as usize, smss)
        {
            self.enter_recovery(now);
        }
    }

    pub(super) fn enter_recovery(&mut self, now: Instant) {
        // RFC 6582 section 3.2 step 2: no new recovery until the cumulative ACK covers
        // everything sent before the last recovery or RTO (`recover_floor` is SND.MAX then).
        if self.snd_una < self.loss.recover_floor {
            return;
        }
        self.stats.fast_recoveries += 1;
        // RFC 5681 section 3.2 step 2: "When [RFC3042] is in use, additional data sent in
        // limited transmit MUST NOT be included in this calculation."
        let flight = if self.loss.dupacks > 0 {
            self.loss.snd_max_at_first_dupack - self.snd_una
        } else {
            self.flight_size()
        };
        let smss = self.smss();
        self.cc.on_congestion_event(now, flight, smss);
        if !self.sack_ok {
            let cwnd = self.cc.ssthresh() + DUP_THRESH as usize * smss;
            self.cc.set_cwnd(cwnd);
        }
        self.loss.recovery = Some(self.snd_max);
        self.loss.recover_floor = self.snd_max;
        self.loss.rexmit_next = Some(self.snd_una);
        self.loss.high_rxt = self.snd_una;
        self.rtt_probe = None;
        // Fast recovery takes over from any probe (and its congestion response).
        self.timers.stop(Timer::LossProbe);
        self.timers.stop(Timer::Reorder);
        self.tlp.end_episode();
        self.loss.rexmit_mark = None;
        self.loss.rack_lost = self.snd_una;
        self.loss.last_rexmit = None;
    }

    // ------------------------------------------------------------------------------------
    // Tail loss probe (RFC 8985 section 7) and lost retransmissions

    /// Whether a PTO may be scheduled (RFC 8985 section 7.2): SACK negotiated, not in fast
    /// recovery or in the go-back-N that follows an RTO, nothing SACKed, a data state, and
    /// an open window (a zero window is the persist timer's business).
    pub(super) fn tlp_allowed(&self) -> bool {
        self.cfg.tlp
            && self.sack_ok
            && matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            )
            && self.loss.recovery.is_none()
            && self.snd_una >= self.loss.recover_floor
            && self.snd_nxt == self.snd_max
            && self.scoreboard.is_empty()
            && self.snd_wnd > 0
    }

    /// Arms the PTO, or disarms it where section 7.2 allows none. PTO = 2 SRTT, at least the
    /// clock granularity G (SRTT cannot be known more finely than the timestamp clock),
    /// plus WCDelAckT when a single segment is in flight (its ACK may be delayed); 1 s
    /// without an RTT sample; never later than the RTO would fire.
    pub(super) fn schedule_loss_probe(&mut self, now: Instant) {
        if self.snd_una == self.snd_max || !self.tlp_allowed() {
            self.timers.stop(Timer::LossProbe);
            return;
        }
        // In nanoseconds: this runs for every segment of new data sent, and `Duration`'s
        // seconds-and-nanoseconds arithmetic was most of its cost (`perf annotate`). The
        // same saturating sums as `Instant + Duration`.
        let pto_ns = match self.rtt.srtt_ns() {
            Some(srtt_ns) => {
                let mut pto_ns = srtt_ns.saturating_mul(2).max(self.rtt.granularity_ns());
                if self.flight_size() <= self.smss() {
                    let delay_ns = self.cfg.tlp_max_ack_delay.as_nanos();
                    pto_ns = pto_ns.saturating_add(u64::try_from(delay_ns).unwrap_or(u64::MAX));
                }
                pto_ns
            }
            None => 1_000_000_000,
        };
        let probe_at = Instant::from_nanos(now.as_nanos().saturating_add(pto_ns));
        let rto_at = self
            .timers
            .get(Timer::Retransmit)
            .unwrap_or_else(|| now + self.rtt.rto());
        self.timers.set(Timer::LossProbe, probe_at.min(rto_at));
    }

    /// The PTO fired (section 7.3): a probe is due if none is in flight and an RTT sample
    /// came since the last one. Either way the RTO is re-armed, the last resort.
    pub(super) fn on_pto(&mut self, now: Instant) {
        if self.snd_una == self.snd_max || !self.tlp_allowed() {
            return;
        }
        let probe_in_flight = self.tlp.in_flight(self.snd_una);
        if !probe_in_flight && self.tlp.rtt_sampled {
            self.tlp.due = true;
        }
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }

    /// What the probe sends (section 7.3): a new segment if there is unsent data and the
    /// peer's window takes it (cwnd may be exceeded by this one segment), otherwise the
    /// last segment sent (with the FIN if the FIN was sent). `true` for a retransmission.
    pub(super) fn loss_probe_range(&self, buf_len: usize) -> (SeqNumber, usize, bool) {
        let fin_seq = self.fin_seq();
        let limit = self.payload_limit().min(buf_len);
        if self.snd_nxt == self.snd_max && self.snd_nxt < fin_seq {
            let by_rwnd = (self.snd_una + self.snd_wnd) - self.snd_nxt;
            let len = (fin_seq - self.snd_nxt).min(limit).min(by_rwnd);
            if len > 0 {
                return (self.snd_nxt, len, false);
            }
        }
        let data_end = fin_seq.min(self.snd_max);
        let len = (data_end - self.snd_una).min(limit);
        (data_end - len, len, true)
    }

    /// Section 7.4: settles the probe's episode from an ACK. A probe of new data needs
    /// nothing; a resent probe whose copy the peer reports as a duplicate (D-SACK) repaired
    /// nothing; one followed by an ACK beyond it repaired a loss on its own, which is a
    /// congestion signal like any other loss.
    pub(super) fn tlp_on_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let Some(end) = self.tlp.end else { return };
        let ack = seg.ack_number;
        if ack < end {
            return;
        }
        if !self.tlp.is_retrans {
            self.tlp.end = None;
            return;
        }
        let dsack = seg
            .sack_ranges
            .as_slice()
            .first()
            .is_some_and(|&(l, r)| l < end && end <= r && r <= ack);
        if dsack {
            self.tlp.end = None;
        } else if ack > end {
            self.tlp_repaired_loss(now);
        }
        // ACK == end without D-SACK: the probe or the original arrived; wait for the next.
    }

    /// What the reordering timer would find lost now: the hole at SND.UNA outside
    /// recovery (with data above it SACKed); in recovery the retransmission watched by
    /// `rexmit_mark` (with data sent after it SACKed), or an original transmission sent
    /// before something that arrived ([`rack_news`](Self::rack_news)).
    pub(super) fn reorder_evidence(&self) -> bool {
        if !self.cfg.rack || !self.sack_ok {
            return false;
        }
        match self.loss.recovery {
            None => {
                !self.scoreboard.is_empty()
                    && !self.scoreboard.is_sacked(self.snd_una)
                    && self.snd_una >= self.loss.recover_floor
                    && self.snd_nxt == self.snd_max
            }
            Some(_) => self.retransmission_overtaken() || self.rack_news(),
        }
    }

    /// In recovery: the retransmission watched by `rexmit_mark` is still a hole and data
    /// sent after it was SACKed.
    pub(super) fn retransmission_overtaken(&self) -> bool {
        self.loss.rexmit_mark.is_some_and(|(start, mark)| {
            start == self.snd_una
                && !self.scoreboard.is_sacked(start)
                && self.scoreboard.sacked_above(mark) > 0
        })
    }

    /// In recovery: where the original transmissions that were sent before something the
    /// peer has received end. The highest SACKed byte (original transmissions go out in
    /// sequence order, and a retransmission lies below `high_rxt`), or, once the last
    /// retransmission arrived, SND.MAX as it was when that retransmission went out.
    pub(super) fn rack_candidate(&self) -> SeqNumber {
        let mut candidate = self.scoreboard.highest_sacked().unwrap_or(self.snd_una);
        if let Some((start, end, snd_max_then)) = self.loss.last_rexmit {
            if self.snd_una >= end || self.scoreboard.is_sacked(start) {
                candidate = candidate.max(snd_max_then);
            }
        }
        candidate.min(self.snd_max)
    }

    /// In recovery: an original transmission, not yet retransmitted or found lost, that
    /// was sent before something the peer received and is still missing.
    pub(super) fn rack_news(&self) -> bool {
        let candidate = self.rack_candidate();
        let mut from = self.rack_frontier().max(self.loss.high_rxt);
        if let Some(end) = self.scoreboard.sacked_range_end(from) {
            from = end; // ranges never touch: the byte after one is unSACKed
        }
        from < candidate
    }

    /// Arms the reordering timer at the first evidence, clears it when the evidence goes.
    pub(super) fn arm_reorder_timer(&mut self, now: Instant) {
        if !self.reorder_evidence() {
            self.timers.stop(Timer::Reorder);
        } else if self.timers.get(Timer::Reorder).is_none() {
            let srtt = self.rtt.srtt().unwrap_or(self.rtt.rto());
            let wnd = (srtt / 4).max(self.rtt.granularity());
            self.timers.set(Timer::Reorder, now + wnd);
        }
    }

    /// The reordering window passed with the evidence intact: the segment is lost.
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        if !self.reorder_evidence() {
            return;
        }
        match self.loss.recovery {
            None => self.enter_recovery(now),
            Some(_) => {
                if self.retransmission_overtaken() {
                    if let Some((start, _)) = self.loss.rexmit_mark {
                        self.stats.lost_retransmissions += 1;
                        self.loss.rexmit_next = Some(start);
                        self.loss.rexmit_mark = Some((start, self.snd_max));
                    }
                }
                // RFC 8985 section 6.2: what was sent before a segment that arrived, and
                // is still missing a reordering window later, is lost.
                self.loss.rack_lost = self.loss.rack_lost.max(self.rack_candidate());
            }
        }
    }

    pub(super) fn tlp_repaired_loss(&mut self, now: Instant) {
        self.tlp.end = None;
        self.stats.tlp_losses_repaired += 1;
        let smss = self.smss();
        self.cc.on_congestion_event(now, self.tlp.flight, smss);
    }

    /// In SACK recovery, watches the lowest hole once retransmitted: when DupThresh
    /// segments' worth of data sent after that retransmission is SACKed while the hole
    /// stays, the retransmission is lost (RFC 8985 section 6's inference, in sequence
    /// space) and is sent again now rather than at the RTO. Same recovery episode: no
    /// second reduction (RFC 6582 section 3.2).
    pub(super) fn watch_retransmission(&mut self) {
        if !self.cfg.rack || !self.sack_ok || self.loss.recovery.is_none() {
            self.loss.rexmit_mark = None;
            return;
        }
        match self.loss.rexmit_mark {
            Some((start, mark)) if start == self.snd_una => {
                let smss = self.smss();
                if !self.scoreboard.is_sacked(start)
                    && self.scoreboard.sacked_above(mark) >= DUP_THRESH as usize * smss
                {
                    self.stats.lost_retransmissions += 1;
                    self.loss.rexmit_next = Some(start);
                    self.loss.rexmit_mark = Some((start, self.snd_max));
                }
            }
            _ => {
                // The lowest hole moved; if it was already resent, watch it from here.
                self.loss.rexmit_mark =
                    (self.snd_una < self.loss.high_rxt).then_some((self.snd_una, self.snd_max));
            }
        }
    }
}
