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

/// The deadline of each timer, if armed: the deadlines in one array and which of them are
/// armed in a bit mask, 72 bytes where `[Option<Instant>; 8]` took 128 (two cache lines), and
/// `next_timeout` a minimum over the array without a branch per slot. A timer armed at
/// [`Instant::MAX`] (a saturated sum) is still armed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimerTable {
    deadlines_ns: [u64; Timer::COUNT],
    /// Bit `t` set: timer `t` is armed at `deadlines_ns[t]`.
    armed: u8,
}

impl TimerTable {
    /// Arms `t` at `at` (re-arms it if it was armed).
    pub(super) fn set(&mut self, t: Timer, at: Instant) {
        self.deadlines_ns[t as usize] = at.as_nanos();
        self.armed |= 1 << t as usize;
    }

    /// Disarms `t`.
    pub(super) fn stop(&mut self, t: Timer) {
        self.armed &= !(1 << t as usize);
    }

    /// `t`'s deadline, if armed.
    pub(super) fn get(&self, t: Timer) -> Option<Instant> {
        (self.armed & (1 << t as usize) != 0)
            .then(|| Instant::from_nanos(self.deadlines_ns[t as usize]))
    }

    /// Disarms every timer.
    pub(super) fn stop_all(&mut self) {
        self.armed = 0;
    }

    /// The earliest deadline.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        if self.armed == 0 {
            return None;
        }
        let mut min = u64::MAX;
        for (i, &d) in self.deadlines_ns.iter().enumerate() {
            let d = if self.armed & (1 << i) != 0 {
                d
            } else {
                u64::MAX
            };
            min = min.min(d);
        }
        Some(Instant::from_nanos(min))
    }

    /// Whether no timer is armed.
    #[cfg(feature = "invariants")]
    pub(super) fn is_empty(&self) -> bool {
        self.armed == 0
    }

    /// The armed deadlines, by slot (for the invariant checks).
    #[cfg(feature = "invariants")]
    pub(super) fn deadlines(&self) -> impl Iterator<Item = Instant> + '_ {
        (0..Timer::COUNT)
            .filter(|&i| self.armed & (1 << i) != 0)
            .map(|i| Instant::from_nanos(self.deadlines_ns[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    const KINDS: [Timer; Timer::COUNT] = [
        Timer::Retransmit,
        Timer::LossProbe,
        Timer::Reorder,
        Timer::Persist,
        Timer::DelayedAck,
        Timer::KeepAlive,
        Timer::TimeWait,
        Timer::GiveUp,
    ];

    /// A deadline, with the ends of time likely: zero and a saturated sum are deadlines too.
    fn instant() -> impl Strategy<Value = Instant> {
        prop_oneof![
            Just(Instant::ZERO),
            Just(Instant::MAX),
            any::<u64>().prop_map(Instant::from_nanos),
        ]
    }

    proptest! {
        /// The table answers as one `Option<Instant>` per timer would.
        #[test]
        fn the_table_is_an_option_per_timer(
            ops in proptest::collection::vec((0..Timer::COUNT, proptest::option::of(instant())), 0..40)
        ) {
            let mut table = TimerTable::default();
            let mut model: [Option<Instant>; Timer::COUNT] = [None; Timer::COUNT];
            for (kind, at) in ops {
                match at {
                    Some(at) => table.set(KINDS[kind], at),
                    None => table.stop(KINDS[kind]),
                }
                model[kind] = at;
                let got: Vec<Option<Instant>> = KINDS.iter().map(|&t| table.get(t)).collect();
                assert_eq!(got, model.to_vec());
                assert_eq!(table.next_timeout(), model.iter().flatten().min().copied());
            }
            table.stop_all();
            assert_eq!(table.next_timeout(), None);
        }
    }
}
