//! The engine's invariants (feature `invariants`): what must hold of a connection after every
//! public call, whatever the peer sent. A peer's segment can be wrong in any way; the engine
//! drops and counts those (`DropReason`). These checks are about the engine's own state: when
//! one fails, the engine has a bug, and the panic names the invariant and the values.
//!
//! Read-only: the checks never change what the connection does (the trace hashes of a run
//! are the same with and without the feature). `Watch` keeps the few values a check compares
//! with the previous call's, and is written only after the checks passed.

use super::*;

/// What the checks remember between calls.
#[derive(Debug, Clone, Copy)]
pub(super) struct Watch {
    /// The latest `now` seen: time never goes back.
    now: Instant,
    /// The state, IRS, RCV.NXT and the advertised right edge after the last call: within one
    /// incarnation (the same IRS), RCV.NXT and the edge only move forward.
    state: State,
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    rcv_adv: SeqNumber,
}

impl Watch {
    pub(super) fn new(now: Instant) -> Self {
        Watch {
            now,
            state: State::Closed,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
        }
    }
}

/// Events of distinct kinds a connection can hold at once (`push_event` keeps one of each,
/// and `Failed` is pushed once, with the sticky error).
const EVENT_KINDS: usize = 8;

/// The states after a peer's SYN was accepted (IRS, RCV.NXT and the options are set).
fn got_syn(state: State) -> bool {
    matches!(
        state,
        State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
            | State::Closing
            | State::LastAck
            | State::TimeWait
    )
}

/// The states whose SYN, data or FIN may be outstanding (the retransmission timer's).
fn may_have_outstanding(state: State) -> bool {
    matches!(
        state,
        State::SynSent
            | State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
            | State::Closing
            | State::LastAck
    )
}

/// A deliberate corruption of a connection's state, for the tests that prove each check
/// trips (`stack/tests/invariants.rs`). Not for anything else.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// SND.NXT one past SND.MAX.
    SndNxtBeyondSndMax,
    /// RCV.NXT one byte back.
    RcvNxtBackwards,
    /// A retransmission timer with nothing outstanding.
    RetransmitTimerWithoutData,
    /// A SACK block beyond SND.MAX on the scoreboard.
    SackBlockBeyondSndMax,
    /// One byte more in the send buffer than its bound.
    SendBufferOverBound,
    /// A delayed-ACK timer armed without a delayed ACK.
    DelayedAckTimerWithoutAck,
}

impl Connection {
    /// `poll_event` only takes an event out, which breaks nothing the last full check saw:
    /// only the events' bound is checked again.
    pub(super) fn after_poll_event(&self) {
        invariant!(
            self.events.len() <= EVENT_KINDS,
            "one event of each kind at most",
            "{} events waiting: {:?}",
            self.events.len(),
            self.events
        );
    }

    /// Checks every invariant, then remembers what the next call's checks compare with.
    pub(super) fn after_call(&mut self, now: Option<Instant>) {
        let now = now.unwrap_or(self.watch.now);
        self.check_invariants(now);
        self.watch = Watch {
            now,
            state: self.state,
            irs: self.irs,
            rcv_nxt: self.rcv_nxt,
            rcv_adv: self.rcv_adv,
        };
    }

    /// Checks the engine's invariants at `now` (feature `invariants`; every public call that
    /// may change the connection ends with this check). Panics with `invariant violated:
    /// <name>: <values>` at the first that fails. Read-only.
    pub fn check_invariants(&self, now: Instant) {
        invariant!(
            now >= self.watch.now,
            "monotonic now",
            "a call at {now} after one at {} ({self:?})",
            self.watch.now
        );
        self.check_send_space(now);
        self.check_send_buffer();
        self.check_receive_space();
        self.check_timers(now);
        self.check_options();
        invariant!(
            self.rst_queue.len() <= self.cfg.control_queue_len,
            "control queue within its bound",
            "{} RSTs queued, bound {}",
            self.rst_queue.len(),
            self.cfg.control_queue_len
        );
        invariant!(
            self.events.len() <= EVENT_KINDS,
            "one event of each kind at most",
            "{} events waiting: {:?}",
            self.events.len(),
            self.events
        );
    }

    /// Sequence space: SND.UNA <= SND.NXT <= SND.MAX (serial-number comparisons, RFC 9293
    /// section 3.4), and every mark of loss recovery within them.
    fn check_send_space(&self, now: Instant) {
        let (una, nxt, max) = (self.snd_una, self.snd_nxt, self.snd_max);
        invariant!(
            una <= nxt && nxt <= max,
            "SND.UNA <= SND.NXT <= SND.MAX",
            "SND.UNA {una} SND.NXT {nxt} SND.MAX {max} in {}",
            self.state
        );
        invariant!(
            max - una <= self.cfg.send_buffer_bytes + 2,
            "what is outstanding fits in the send buffer (plus SYN and FIN)",
            "SND.UNA {una} SND.MAX {max}, buffer bound {}",
            self.cfg.send_buffer_bytes
        );
        invariant!(
            self.loss.high_rxt <= max && self.loss.recover_floor <= max,
            "HighRxt and the recovery floor <= SND.MAX",
            "HighRxt {} floor {} SND.MAX {max}",
            self.loss.high_rxt,
            self.loss.recover_floor
        );
        if let Some(recover) = self.loss.recovery {
            invariant!(
                una < recover && recover <= max && self.loss.recover_floor == recover,
                "in recovery, SND.UNA < recover = floor <= SND.MAX",
                "SND.UNA {una} recover {recover} floor {} SND.MAX {max}",
                self.loss.recover_floor
            );
        }
        if self.loss.dupacks > 0 {
            let at_first = self.loss.snd_max_at_first_dupack;
            invariant!(
                una <= at_first && at_first <= max,
                "SND.MAX at the first duplicate ACK within SND.UNA..SND.MAX",
                "SND.UNA {una} mark {at_first} SND.MAX {max} after {} duplicate ACKs",
                self.loss.dupacks
            );
        }
        if let Some((start, mark)) = self.loss.rexmit_mark {
            invariant!(
                start < mark && mark <= max,
                "a watched retransmission lies below its mark <= SND.MAX",
                "start {start} mark {mark} SND.MAX {max}"
            );
        }
        if let Some(end) = self.tlp.end {
            invariant!(
                end <= max,
                "TLP.end_seq <= SND.MAX",
                "end {end} SND.MAX {max}"
            );
        }
        if let Some((seq, at)) = self.rtt_probe {
            invariant!(
                at <= now,
                "the timed segment was sent in the past",
                "sent at {at}, now {now}"
            );
            // Once synchronized: in SYN-RECEIVED a passive connection that went back to
            // LISTEN keeps its old SYN-ACK's probe until the next SYN-ACK replaces it (or,
            // after a retransmitted one, until the handshake ends and clears it unused).
            if self.state.is_synchronized() && self.state != State::Closed {
                invariant!(
                    una <= seq && seq < max,
                    "the timed segment is outstanding",
                    "timed {seq}, SND.UNA {una} SND.MAX {max} in {}",
                    self.state
                );
            }
        }
        self.scoreboard.check_invariants(una, max);
    }

    /// Buffer accounting on the send side: the buffer holds the bytes from its base,
    /// which is SND.UNA once the SYN is acknowledged (ISS+1 before), until the FIN is
    /// acknowledged (then SND.UNA is one past); so the buffer holds SND.MAX - SND.UNA less
    /// the SYN and FIN in flight, plus the unsent bytes.
    fn check_send_buffer(&self) {
        let len = self.send.len();
        invariant!(
            len <= self.cfg.send_buffer_bytes,
            "send buffer within its bound",
            "{len} bytes, bound {}",
            self.cfg.send_buffer_bytes
        );
        invariant!(
            self.send.runs_consistent(),
            "the send buffer's runs add up to its length",
            "{len} bytes"
        );
        let runs = self.send.shared_runs();
        invariant!(
            runs <= 2 * self.cfg.send_buffer_bytes / super::super::send_buffer::SHARE_MIN_BYTES + 1,
            "shared send runs within their bound",
            "{runs} runs for a {}-byte buffer",
            self.cfg.send_buffer_bytes
        );
        let (una, max, base, iss) = (self.snd_una, self.snd_max, self.send.base(), self.iss);
        let fin_seq = self.fin_seq();
        let fin_queued = self.send.fin_queued;
        let ok = match self.state {
            State::Closed | State::Listen => true,
            // The SYN is the only thing that can be in flight.
            State::SynSent | State::SynReceived => una == iss && base == iss + 1 && max - iss <= 1,
            // The FIN is not sent.
            State::Established | State::CloseWait => base == una && max <= fin_seq,
            // The FIN is sent, not acknowledged.
            State::FinWait1 | State::Closing | State::LastAck => {
                fin_queued && base == una && max == fin_seq + 1
            }
            // The FIN is acknowledged.
            State::FinWait2 | State::TimeWait => {
                fin_queued && len == 0 && una == fin_seq + 1 && max == una
            }
        };
        invariant!(
            ok,
            "send buffer accounting",
            "in {}: ISS {iss} SND.UNA {una} SND.MAX {max}, buffer of {len} from {base} \
             (FIN at {fin_seq}, queued {fin_queued})",
            self.state
        );
    }

    /// The receive side: the buffer's own bounds, RCV.NXT within what was advertised, the
    /// advertised window within the buffer, the FIN where RCV.NXT says, and RCV.NXT and the
    /// advertised right edge only moving forward within an incarnation (SHLD-14).
    fn check_receive_space(&self) {
        let (nxt, adv) = (self.rcv_nxt, self.rcv_adv);
        let prev = self.watch;
        if got_syn(prev.state) && self.state != State::Listen {
            invariant!(
                self.irs == prev.irs,
                "IRS is fixed once the SYN is accepted",
                "IRS {} was {} ({} -> {})",
                self.irs,
                prev.irs,
                prev.state,
                self.state
            );
            invariant!(
                nxt >= prev.rcv_nxt,
                "RCV.NXT never moves backwards",
                "RCV.NXT {nxt} was {} ({} -> {})",
                prev.rcv_nxt,
                prev.state,
                self.state
            );
            invariant!(
                adv >= prev.rcv_adv,
                "the advertised right edge never moves left",
                "edge {adv} was {} ({} -> {})",
                prev.rcv_adv,
                prev.state,
                self.state
            );
        }
        // The planted bug `early-fin` moves RCV.NXT over held data on purpose, for the
        // harness's own integrity check to find: the reassembly checks look away.
        #[cfg(feature = "planted-bugs")]
        let planted_early_fin = self.cfg.planted == Some(super::super::PlantedBug::EarlyFin);
        #[cfg(not(feature = "planted-bugs"))]
        let planted_early_fin = false;
        if !planted_early_fin {
            self.recv.check_invariants(nxt);
        }
        if got_syn(self.state) {
            let fin = usize::from(self.fin_received);
            invariant!(
                nxt - fin <= adv,
                "RCV.NXT within what was advertised",
                "RCV.NXT {nxt} (FIN received: {}) beyond the edge {adv}",
                self.fin_received
            );
            invariant!(
                adv - nxt <= self.recv.window_space() && adv - nxt <= 0xffff << self.rcv_wscale,
                "the advertised window fits in the receive buffer and the window field",
                "RCV.NXT {nxt} edge {adv}, space {} (readable {}), scale {}",
                self.recv.window_space(),
                self.recv.readable_len(),
                self.rcv_wscale
            );
            let fin_state = matches!(
                self.state,
                State::CloseWait | State::Closing | State::LastAck | State::TimeWait
            );
            invariant!(
                self.fin_received == fin_state,
                "the peer's FIN was received exactly in the states after it",
                "FIN received: {} in {}",
                self.fin_received,
                self.state
            );
        }
        if self.fin_received {
            invariant!(
                self.rcv_fin == Some(nxt - 1),
                "a consumed FIN sits just below RCV.NXT",
                "FIN at {:?}, RCV.NXT {nxt}",
                self.rcv_fin
            );
        }
    }

    /// The timer table: which timers each state may have, what each one needs to be armed,
    /// and how far ahead each can be.
    fn check_timers(&self, now: Instant) {
        let at = |t: Timer| self.timers.get(t);
        let state = self.state;
        if matches!(state, State::Closed | State::Listen) {
            invariant!(
                self.timers.is_empty(),
                "no timer in CLOSED or LISTEN",
                "{state}: {:?}",
                self.timers
            );
            return;
        }
        invariant!(
            at(Timer::TimeWait).is_some() == (state == State::TimeWait),
            "the 2MSL timer is armed exactly in TIME-WAIT",
            "{state}: {:?}",
            at(Timer::TimeWait)
        );
        let outstanding = self.snd_una != self.snd_max;
        if may_have_outstanding(state) {
            invariant!(
                at(Timer::Retransmit).is_some() == outstanding,
                "retransmission timer armed iff SYN, data or FIN outstanding",
                "{state}: timer {:?}, SND.UNA {} SND.MAX {}",
                at(Timer::Retransmit),
                self.snd_una,
                self.snd_max
            );
        } else {
            invariant!(
                at(Timer::Retransmit).is_none()
                    && at(Timer::LossProbe).is_none()
                    && at(Timer::Reorder).is_none()
                    && at(Timer::Persist).is_none()
                    && at(Timer::GiveUp).is_none(),
                "TIME-WAIT waits for nothing but 2MSL, the delayed ACK and keep-alive",
                "{:?}",
                self.timers
            );
        }
        if at(Timer::LossProbe).is_some() {
            invariant!(
                at(Timer::Retransmit).is_some() && self.cfg.tlp && self.sack_ok,
                "the loss probe timer only with TLP, SACK and the RTO armed",
                "PTO {:?} RTO {:?}, tlp {} sack {}",
                at(Timer::LossProbe),
                at(Timer::Retransmit),
                self.cfg.tlp,
                self.sack_ok
            );
        }
        if at(Timer::Reorder).is_some() {
            invariant!(
                self.cfg.rack
                    && self.sack_ok
                    && (!self.scoreboard.is_empty() || self.loss.recovery.is_some()),
                "the reordering timer only with RACK, SACK, and SACKed data or a recovery \
                 (whose last retransmission may have arrived with nothing SACKed)",
                "rack {} sack {} scoreboard {:?} recovery {:?}",
                self.cfg.rack,
                self.sack_ok,
                self.scoreboard.ranges(),
                self.loss.recovery
            );
        }
        if at(Timer::Persist).is_some() {
            invariant!(
                state.is_synchronized() && !outstanding && self.has_unsent_data(),
                "the persist timer only with nothing in flight and data to send",
                "{state}: SND.UNA {} SND.NXT {} SND.MAX {}, FIN at {}, window {}",
                self.snd_una,
                self.snd_nxt,
                self.snd_max,
                self.fin_seq(),
                self.snd_wnd
            );
        }
        if at(Timer::GiveUp).is_some() {
            invariant!(
                at(Timer::Retransmit).is_some(),
                "the give-up timer only while the retransmission timer runs",
                "{state}: give up at {:?}",
                at(Timer::GiveUp)
            );
        }
        if at(Timer::KeepAlive).is_some() {
            invariant!(
                self.cfg.keep_alive.is_some() && state.is_synchronized(),
                "the keep-alive timer only with keep-alive on, once synchronized",
                "{state}: {:?}",
                self.cfg.keep_alive
            );
        }
        invariant!(
            at(Timer::DelayedAck).is_none() || self.ack.delayed,
            "the delayed-ACK timer only with an ACK delayed",
            "{state}: timer {:?}",
            at(Timer::DelayedAck)
        );
        invariant!(
            !self.ack.delayed || at(Timer::DelayedAck).is_some() || self.ack.due,
            "a delayed ACK has its timer, or is due now",
            "{state}"
        );
        // How far ahead each timer may be: it was set at an earlier `now` plus its delay.
        let delay = |t: Timer| match t {
            Timer::Retransmit => self.cfg.rto_max.max(self.cfg.rto_min),
            Timer::Persist => self.cfg.rto_max,
            Timer::DelayedAck => self.cfg.delayed_ack_timeout,
            Timer::TimeWait => self.cfg.msl.saturating_mul(2),
            Timer::KeepAlive => self
                .cfg
                .keep_alive
                .map_or(Duration::ZERO, |ka| ka.idle.max(ka.interval)),
            Timer::LossProbe | Timer::Reorder | Timer::GiveUp => Duration::MAX,
        };
        for t in [
            Timer::Retransmit,
            Timer::Persist,
            Timer::DelayedAck,
            Timer::TimeWait,
            Timer::KeepAlive,
        ] {
            if let Some(deadline) = at(t) {
                let limit = now + delay(t);
                invariant!(
                    deadline <= limit,
                    "a timer within its configured delay of now",
                    "{t:?} at {deadline}, now {now}, limit {limit}"
                );
            }
        }
    }

    /// Negotiated options and the congestion window.
    fn check_options(&self) {
        invariant!(
            self.snd_wscale <= MAX_WSCALE && self.rcv_wscale <= MAX_WSCALE,
            "window scales at most 14",
            "send {} receive {}",
            self.snd_wscale,
            self.rcv_wscale
        );
        if got_syn(self.state) && !self.wscale_ok {
            invariant!(
                self.snd_wscale == 0 && self.rcv_wscale == 0,
                "no window scaling unless both SYNs offered it",
                "send {} receive {}",
                self.snd_wscale,
                self.rcv_wscale
            );
        }
        invariant!(
            (!self.sack_ok || self.cfg.sack) && (self.ts.is_none() || self.cfg.timestamps),
            "SACK and timestamps only if configured",
            "sack {} ts {}",
            self.sack_ok,
            self.ts.is_some()
        );
        invariant!(
            self.snd_wnd <= self.max_snd_wnd,
            "SND.WND <= the largest window offered",
            "SND.WND {} max {}",
            self.snd_wnd,
            self.max_snd_wnd
        );
        invariant!(
            self.cc.cwnd() > 0 && self.cc.ssthresh() > 0,
            "cwnd and ssthresh are never zero",
            "cwnd {} ssthresh {}",
            self.cc.cwnd(),
            self.cc.ssthresh()
        );
        if let Some((l, r)) = self.ack.dsack {
            invariant!(l < r, "a D-SACK block is non-empty", "{l}..{r}");
        }
    }

    /// What `poll_transmit` just did: a segment that agrees with the state it came from,
    /// or, when it returned `None`, nothing left that was due.
    pub(super) fn check_transmitted(&self, seg: Option<&TcpRepr<'_>>) {
        let Some(seg) = seg else {
            return self.check_drained();
        };
        let flags = seg.flags;
        let len = seg.payload.len();
        invariant!(
            len <= self.smss(),
            "a segment carries at most the effective MSS",
            "{len} bytes, effective MSS {}",
            self.smss()
        );
        invariant!(
            len == 0 || seg.header_len() - 20 + len <= self.mss_limit().max(len),
            "a data segment's options and payload fit in the MSS (RFC 6691)",
            "{len} bytes and {} of options, MSS {}",
            seg.header_len() - 20,
            self.mss_limit()
        );
        if flags.contains(TcpFlags::RST) {
            return;
        }
        if flags.contains(TcpFlags::ACK) {
            invariant!(
                seg.ack_number == self.rcv_nxt,
                "a segment acknowledges RCV.NXT",
                "ACK {} RCV.NXT {}",
                seg.ack_number,
                self.rcv_nxt
            );
        }
        if flags.contains(TcpFlags::SYN) {
            invariant!(
                seg.seq_number == self.iss && len == 0 && self.snd_max == self.iss + 1,
                "a SYN carries the ISS and nothing else",
                "SYN at {} ISS {} SND.MAX {}, {len} bytes",
                seg.seq_number,
                self.iss,
                self.snd_max
            );
            return;
        }
        // The window field, scaled, gives the right edge we promise: never left of the edge
        // advertised before, except by the scale's rounding (RFC 7323 section 2.4).
        let shift = self.rcv_wscale;
        let edge = seg.ack_number + (usize::from(seg.window_len) << shift);
        invariant!(
            edge <= self.rcv_adv && self.rcv_adv - edge < 1 << shift,
            "the advertised right edge never shrinks",
            "ACK {} window {} << {shift} = edge {edge}, edge before {}",
            seg.ack_number,
            seg.window_len,
            self.rcv_adv
        );
        let fin = flags.contains(TcpFlags::FIN);
        let seq = seg.seq_number;
        if len > 0 || fin {
            invariant!(
                self.snd_una <= seq && seq + len + usize::from(fin) <= self.snd_max,
                "a segment's data lies within SND.UNA..SND.MAX",
                "{seq} + {len} (FIN {fin}), SND.UNA {} SND.MAX {}",
                self.snd_una,
                self.snd_max
            );
            if fin {
                invariant!(
                    self.send.fin_queued && seq + len == self.fin_seq(),
                    "a FIN sits after the last byte of a closed stream",
                    "FIN at {}, buffer ends at {}, queued {}",
                    seq + len,
                    self.fin_seq(),
                    self.send.fin_queued
                );
            }
        } else {
            invariant!(
                seq == self.snd_nxt || seq == self.pure_ack_seq() || seq == self.snd_una - 1,
                "an empty segment is sent at SND.NXT or SND.MAX (capped at the peer's window), \
                 or at SND.UNA-1 as a probe",
                "seq {seq}, SND.UNA {} SND.NXT {} SND.MAX {} window {}",
                self.snd_una,
                self.snd_nxt,
                self.snd_max,
                self.snd_wnd
            );
        }
    }

    /// `poll_transmit` returned `None`: nothing was due and left behind, and data waiting
    /// with nothing in flight has the persist timer to move it (no silent stall).
    fn check_drained(&self) {
        invariant!(
            self.rst_queue.is_empty(),
            "no RST left behind",
            "{} queued",
            self.rst_queue.len()
        );
        let state = self.state;
        match state {
            State::SynSent | State::SynReceived => {
                invariant!(
                    self.snd_nxt != self.iss && !(state == State::SynReceived && self.ack.due),
                    "no SYN or ACK left behind while opening",
                    "{state}: SND.NXT {} ISS {} ack now {}",
                    self.snd_nxt,
                    self.iss,
                    self.ack.due
                );
            }
            _ if state.is_synchronized() => {
                invariant!(
                    !self.ack.due
                        && !self.probes.probe_now
                        && !self.probes.keepalive_now
                        && !self.tlp.due
                        && self.loss.rexmit_next.is_none(),
                    "nothing due left behind",
                    "{state}: ack {} window probe {} keep-alive probe {} TLP {} rexmit {:?}",
                    self.ack.due,
                    self.probes.probe_now,
                    self.probes.keepalive_now,
                    self.tlp.due,
                    self.loss.rexmit_next
                );
                if self.snd_una == self.snd_max && self.has_unsent_data() {
                    invariant!(
                        self.timers.get(Timer::Persist).is_some(),
                        "data to send with nothing in flight arms the persist timer",
                        "{state}: SND.UNA {} unsent to {}, window {}, cwnd {}",
                        self.snd_una,
                        self.fin_seq(),
                        self.snd_wnd,
                        self.cc.cwnd()
                    );
                }
            }
            _ => {}
        }
    }

    /// After `handle_timeout(now)`: every timer that was due has fired (what is armed now
    /// is at or after `now`). Between calls a timer may be in the past: an owner may call
    /// late (engine tests that skip ahead do); the host never does (`Host::poll_timeout`).
    pub(super) fn check_timers_fired(&self, now: Instant) {
        for deadline in self.timers.deadlines() {
            invariant!(
                deadline >= now,
                "handle_timeout fires every expired timer",
                "a timer at {deadline} after handle_timeout({now}): {:?}",
                self.timers
            );
        }
    }

    /// Corrupts the state as `c` says (tests of the checks only).
    #[doc(hidden)]
    pub fn corrupt_for_test(&mut self, c: Corruption) {
        match c {
            Corruption::SndNxtBeyondSndMax => self.snd_nxt = self.snd_max + 1,
            Corruption::RcvNxtBackwards => self.rcv_nxt = self.rcv_nxt - 1,
            Corruption::RetransmitTimerWithoutData => {
                let at = self.watch.now + self.rtt.rto();
                self.timers.set(Timer::Retransmit, at);
            }
            Corruption::SackBlockBeyondSndMax => self
                .scoreboard
                .push_for_test((self.snd_una + 1, self.snd_max + 10)),
            Corruption::SendBufferOverBound => {
                let extra = self.cfg.send_buffer_bytes + 1 - self.send.len();
                self.send.pad_for_test(extra);
            }
            Corruption::DelayedAckTimerWithoutAck => {
                let at = self.watch.now + self.cfg.delayed_ack_timeout;
                self.timers.set(Timer::DelayedAck, at);
                self.ack.delayed = false;
            }
        }
    }
}
