//! Probes of an idle or blocked connection: the persist timer's zero-window probes
//! (RFC 9293 section 3.8.6.1, RFC 1122 4.2.2.17), backing off exponentially to the RTO's
//! ceiling, and keep-alives (RFC 9293 section 3.8.4, RFC 1122 4.2.3.6), off unless
//! `Config::keep_alive` turns them on. Each timer sets a flag that the send path
//! (`poll_transmit`) turns into the probe segment.

use super::{Connection, ConnectionError, TimeoutKind};
use crate::tcp::state::State;
use crate::tcp::timer::Timer;
use crate::time::Instant;

/// What the probes remember.
#[derive(Debug, Default)]
pub(super) struct Probes {
    /// Persist timer backoff: the interval is the RTO times 2^this (at most 16).
    pub(super) persist_shift: u32,
    /// A zero-window probe is due.
    pub(super) probe_now: bool,
    /// The persist timer fired with a small non-zero window: send what fits.
    pub(super) sws_override: bool,
    /// Keep-alive probes sent since the peer was last heard from.
    pub(super) keepalive_unanswered: u32,
    /// A keep-alive probe is due.
    pub(super) keepalive_now: bool,
}

impl Connection {
    pub(super) fn on_keepalive_timer(&mut self, now: Instant) {
        let Some(ka) = self.cfg.keep_alive else {
            return;
        };
        if !matches!(self.state, State::Established | State::CloseWait) {
            return;
        }
        if self.snd_una != self.snd_max {
            // Data outstanding: the retransmission timer watches the peer.
            self.timers.set(Timer::KeepAlive, now + ka.idle);
            return;
        }
        if self.probes.keepalive_unanswered >= ka.count {
            self.fail(ConnectionError::TimedOut(TimeoutKind::KeepAlive));
            return;
        }
        self.probes.keepalive_unanswered += 1;
        self.probes.keepalive_now = true;
        self.timers.set(Timer::KeepAlive, now + ka.interval);
    }

    pub(super) fn arm_keepalive(&mut self, now: Instant) {
        match self.cfg.keep_alive {
            Some(ka) if self.state.is_synchronized() => {
                self.timers.set(Timer::KeepAlive, now + ka.idle)
            }
            _ => self.timers.stop(Timer::KeepAlive),
        }
    }

    pub(super) fn arm_persist(&mut self, now: Instant, backoff: bool) {
        if backoff {
            self.probes.persist_shift = (self.probes.persist_shift + 1).min(16);
        }
        let base = self.rtt.rto();
        let d = base
            .checked_mul(1 << self.probes.persist_shift.min(16))
            .unwrap_or(self.cfg.rto_max)
            .min(self.cfg.rto_max);
        self.timers.set(Timer::Persist, now + d);
    }
}
