//! A connection's timers: one deadline per kind in a fixed table (as quinn-proto's
//! `TimerTable`), so that arming, stopping and `poll_timeout` cost a slot each and nothing
//! allocates.

use crate::time::Instant;

/// A timer of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(super) enum Timer {
    /// The retransmission timeout (RFC 6298).
    Retransmit,
    /// The tail loss probe's PTO (RFC 8985 section 7.2); never later than the RTO.
    LossProbe,
    /// The reordering window after evidence of a loss (RFC 8985 section 6.3).
    Reorder,
    /// Zero-window probes and the sender's SWS override (RFC 9293 section 3.8.6).
    Persist,
    /// The delayed ACK (RFC 9293 MUST-40).
    DelayedAck,
    /// Keep-alive idle time and probe interval (RFC 9293 section 3.8.4).
    KeepAlive,
    /// 2 MSL in TIME-WAIT.
    TimeWait,
    /// R2 or the user timeout: the connection is given up.
    GiveUp,
}

impl Timer {
    const COUNT: usize = 8;
}

/// The deadline of each timer, if armed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimerTable {
    deadlines: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    /// Arms `t` at `at` (re-arms it if it was armed).
    pub(super) fn set(&mut self, t: Timer, at: Instant) {
        self.deadlines[t as usize] = Some(at);
    }

    /// Disarms `t`.
    pub(super) fn stop(&mut self, t: Timer) {
        self.deadlines[t as usize] = None;
    }

    /// `t`'s deadline, if armed.
    pub(super) fn get(&self, t: Timer) -> Option<Instant> {
        self.deadlines[t as usize]
    }

    /// Disarms every timer.
    pub(super) fn stop_all(&mut self) {
        self.deadlines = [None; Timer::COUNT];
    }

    /// The earliest deadline.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Whether no timer is armed.
    #[cfg(feature = "invariants")]
    pub(super) fn is_empty(&self) -> bool {
        self.deadlines.iter().all(Option::is_none)
    }

    /// The armed deadlines, by slot (for the invariant checks).
    #[cfg(feature = "invariants")]
    pub(super) fn deadlines(&self) -> impl Iterator<Item = Instant> + '_ {
        self.deadlines.iter().flatten().copied()
    }
}
