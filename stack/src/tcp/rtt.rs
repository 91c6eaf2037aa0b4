//! The retransmission timer's estimator (RFC 6298).

use crate::time::Duration;

/// SRTT, RTTVAR and the RTO with its backoff, per RFC 6298 sections 2 and 5.
///
/// Integer nanoseconds throughout, so that every machine computes the same RTO.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt_ns: Option<u64>,
    rttvar_ns: u64,
    /// RTO before backoff.
    base_rto_ns: u64,
    /// Number of doublings applied since the last fresh sample.
    backoff_shift: u32,
    rto_min_ns: u64,
    rto_max_ns: u64,
    /// G in RFC 6298: the clock granularity, 1 ms for our timestamp clock.
    granularity_ns: u64,
    /// The planted bug `RtoNeverResets`.
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted_keep_backoff: bool,
}

impl RttEstimator {
    /// A fresh estimator: RTO = `initial` until the first sample.
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        let clamp = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        RttEstimator {
            srtt_ns: None,
            rttvar_ns: 0,
            base_rto_ns: clamp(initial),
            backoff_shift: 0,
            rto_min_ns: clamp(min),
            rto_max_ns: clamp(max).max(clamp(min)),
            granularity_ns: 1_000_000,
            #[cfg(feature = "planted-bugs")]
            planted_keep_backoff: false,
        }
    }

    /// Folds in a round-trip sample (section 2.2/2.3) and, as a fresh sample, clears the
    /// backoff (section 5.7 note: "a new RTT measurement ... resets the backoff").
    pub fn on_sample(&mut self, rtt: Duration) {
        let r = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX / 8);
        match self.srtt_ns {
            None => {
                self.srtt_ns = Some(r);
                self.rttvar_ns = r / 2;
            }
            Some(srtt) => {
                // beta = 1/4, alpha = 1/8.
                let delta = srtt.abs_diff(r);
                self.rttvar_ns = (3 * self.rttvar_ns + delta) / 4;
                self.srtt_ns = Some((7 * srtt + r) / 8);
            }
        }
        let srtt = self.srtt_ns.unwrap_or(r);
        let k_rttvar = (4 * self.rttvar_ns).max(self.granularity_ns);
        self.base_rto_ns = srtt.saturating_add(k_rttvar);
        #[cfg(feature = "planted-bugs")]
        if self.planted_keep_backoff {
            return;
        }
        self.backoff_shift = 0;
    }

    /// Doubles the RTO after a timeout (section 5.5), up to the maximum.
    pub fn on_timeout(&mut self) {
        if self.rto_ns() < self.rto_max_ns {
            self.backoff_shift += 1;
        }
    }

    /// Sets the RTO back to 3 s when data transmission begins after a lost SYN (section
    /// 5.7), unless a sample has been taken.
    pub fn on_syn_lost_established(&mut self) {
        if self.srtt_ns.is_none() {
            self.base_rto_ns = 3_000_000_000;
            self.backoff_shift = 0;
        }
    }

    /// The current retransmission timeout, backoff included, within [min, max].
    pub fn rto(&self) -> Duration {
        Duration::from_nanos(self.rto_ns())
    }

    fn rto_ns(&self) -> u64 {
        // The minimum applies to the computed RTO (section 2.4) before the backoff doubles
        // it (section 5.5): a 300 ms estimate with a 1 s floor backs off to 2 s, not 1 s.
        let base = self.base_rto_ns.max(self.rto_min_ns);
        let backed = base
            .checked_shl(self.backoff_shift)
            .filter(|v| v >> self.backoff_shift == base)
            .unwrap_or(u64::MAX);
        backed.clamp(self.rto_min_ns, self.rto_max_ns)
    }

    /// Smoothed RTT, once sampled.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_ns.map(Duration::from_nanos)
    }

    /// [`srtt`](Self::srtt) in nanoseconds, for arithmetic done on every segment sent
    /// (`Duration`'s seconds-and-nanoseconds split costs a division each way).
    pub fn srtt_ns(&self) -> Option<u64> {
        self.srtt_ns
    }

    /// G: the granularity of the RTT samples (the timestamp clock's tick).
    pub fn granularity(&self) -> Duration {
        Duration::from_nanos(self.granularity_ns)
    }

    /// [`granularity`](Self::granularity) in nanoseconds.
    pub fn granularity_ns(&self) -> u64 {
        self.granularity_ns
    }

    /// RTT variation.
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar_ns)
    }

    /// How many times the RTO has been doubled since the last sample.
    pub fn backoff_count(&self) -> u32 {
        self.backoff_shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn initial_rto_is_one_second() {
        // RFC 6298 section 2.1: "Until a round-trip time (RTT) measurement has been made
        // ... the sender SHOULD set RTO <- 1 second".
        assert_eq!(est().rto(), Duration::from_secs(1));
    }

    #[test]
    fn first_sample_sets_srtt_and_rttvar() {
        // Section 2.2: SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max(G, 4*RTTVAR).
        let mut e = RttEstimator::new(
            Duration::from_millis(1000),
            Duration::from_millis(1),
            Duration::from_secs(60),
        );
        e.on_sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn later_samples_smooth() {
        let mut e = RttEstimator::new(
            Duration::from_millis(1000),
            Duration::from_millis(1),
            Duration::from_secs(60),
        );
        e.on_sample(Duration::from_millis(100));
        e.on_sample(Duration::from_millis(200));
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
    }

    #[test]
    fn minimum_is_enforced() {
        // Section 2.4: RTO below 1 second is rounded up.
        let mut e = est();
        e.on_sample(Duration::from_millis(10));
        assert_eq!(e.rto(), Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_a_sample_resets_it() {
        let mut e = est();
        for expected in [2, 4, 8, 16, 32, 60, 60] {
            e.on_timeout();
            assert_eq!(e.rto(), Duration::from_secs(expected));
        }
        e.on_sample(Duration::from_millis(10));
        assert_eq!(
            e.rto(),
            Duration::from_secs(1),
            "a fresh sample clears the backoff"
        );
    }

    #[test]
    fn backoff_doubles_the_clamped_rto() {
        // Sections 2.4 then 5.5: RTO <- max(1 s, 300 ms) = 1 s, then RTO <- RTO * 2 = 2 s.
        let mut e = est();
        e.on_sample(Duration::from_millis(100));
        e.on_timeout();
        assert_eq!(e.rto(), Duration::from_secs(2));
    }

    #[test]
    fn syn_loss_sets_three_seconds_until_sampled() {
        let mut e = est();
        e.on_timeout();
        e.on_syn_lost_established();
        assert_eq!(e.rto(), Duration::from_secs(3));
    }
}
