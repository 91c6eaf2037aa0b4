//! The one clock of a lab, read at the adapter's edge.

use std::time::Duration;

use sansnet_stack::time::Instant;

/// A monotonic wall clock ([`std::time::Instant`]) expressed as the stack's [`Instant`]:
/// nanoseconds since the clock was started.
///
/// The stack never reads a clock; on a TAP device its `now` has to come from somewhere, and
/// this is the only place it does: the adapter reads [`now`](Self::now) before it hands a
/// batch of frames, an application step or a timer check to the host. Monotonic, so the
/// host never sees time go back (the host's own rule); not reproducible, which a run against
/// a real kernel cannot be anyway.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    start: std::time::Instant,
}

impl WallClock {
    /// A clock whose zero is now.
    // The workspace forbids wall-clock reads (clippy.toml) because nothing in a simulation
    // may make one. This is not a simulation: this is the crate's one read, at the
    // adapter's edge.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> WallClock {
        WallClock {
            start: std::time::Instant::now(),
        }
    }

    /// The time since [`start`](Self::start), as the stack's instant (saturating after
    /// 584 years).
    pub fn now(&self) -> Instant {
        let ns = self.start.elapsed().as_nanos();
        Instant::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// Wall time from now until `deadline` (zero when it has passed).
    pub fn until(&self, deadline: Instant) -> Duration {
        deadline.saturating_duration_since(self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_monotonic_and_starts_near_zero() {
        let clock = WallClock::start();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        assert!(a.as_nanos() < 1_000_000_000, "{a:?}");
        assert_eq!(clock.until(Instant::ZERO), Duration::ZERO);
        assert!(clock.until(Instant::from_secs(3600)) > Duration::from_secs(3500));
    }
}
