//! Simulated time.
//!
//! The stack never reads a clock: every entry point takes `now: Instant`. An [`Instant`] is
//! a count of nanoseconds since the simulation epoch, so it is totally ordered, cheap to copy
//! and the same on every machine. Durations are [`core::time::Duration`].

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point in simulated time: nanoseconds since the simulation epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    since_epoch_ns: u64,
}

impl Instant {
    /// The simulation epoch.
    pub const ZERO: Instant = Instant { since_epoch_ns: 0 };
    /// The end of time, as a sentinel for "never".
    pub const MAX: Instant = Instant {
        since_epoch_ns: u64::MAX,
    };

    /// The instant `ns` nanoseconds after the epoch.
    pub const fn from_nanos(ns: u64) -> Self {
        Instant { since_epoch_ns: ns }
    }

    /// The instant `us` microseconds after the epoch (saturating).
    pub const fn from_micros(us: u64) -> Self {
        Self::from_nanos(us.saturating_mul(1_000))
    }

    /// The instant `ms` milliseconds after the epoch (saturating).
    pub const fn from_millis(ms: u64) -> Self {
        Self::from_nanos(ms.saturating_mul(1_000_000))
    }

    /// The instant `s` seconds after the epoch (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Self::from_nanos(s.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.since_epoch_ns
    }

    /// Whole microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.since_epoch_ns / 1_000
    }

    /// Whole milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.since_epoch_ns / 1_000_000
    }

    /// Time elapsed since `earlier`, or zero if `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.since_epoch_ns.saturating_sub(earlier.since_epoch_ns))
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        let d_ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant::from_nanos(self.since_epoch_ns.saturating_add(d_ns))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating: simulated time never wraps.
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: an earlier minus a later instant is zero.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Instant {
    /// Seconds with nanosecond precision, as in a trace: `12.000350000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.since_epoch_ns / 1_000_000_000;
        let ns = self.since_epoch_ns % 1_000_000_000;
        write!(f, "{s}.{ns:09}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Instant::from_secs(1), Duration::ZERO);
        assert_eq!(
            Instant::from_millis(1500) - Instant::from_secs(1),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn display_is_seconds_with_nanoseconds() {
        extern crate alloc;
        use alloc::format;
        assert_eq!(
            format!("{}", Instant::from_micros(12_000_350)),
            "12.000350000s"
        );
    }
}
