//! Congestion control behind a trait: NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438).
//!
//! The controller owns cwnd and ssthresh and decides how they grow and shrink. The loss
//! recovery machinery (duplicate ACK counting, NewReno's window inflation and partial ACKs,
//! SACK pipe accounting) lives in the connection and is shared by every controller.
//! Integer arithmetic only, so every machine computes the same windows.

use core::fmt::Debug;

use super::config::CongestionAlgorithm;
use crate::time::{Duration, Instant};

/// A congestion controller. All quantities are bytes.
pub trait CongestionControl: Debug {
    /// The congestion window.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// Sets cwnd directly: used by fast recovery to inflate and deflate the window
    /// (RFC 5681 section 3.2 steps 4-6, RFC 6582 section 3.2).
    fn set_cwnd(&mut self, cwnd: usize);
    /// New data was acknowledged outside loss recovery.
    fn on_ack(&mut self, now: Instant, acked: usize, smss: usize, srtt: Option<Duration>);
    /// Loss detected by duplicate ACKs or SACK: reduce (RFC 5681 equation 4 for NewReno).
    fn on_congestion_event(&mut self, now: Instant, flight_size: usize, smss: usize);
    /// The retransmission timer expired (RFC 5681 section 3.1: cwnd = loss window).
    fn on_rto(&mut self, now: Instant, flight_size: usize, smss: usize);
    /// The connection was idle for more than an RTO (RFC 5681 section 4.1).
    fn on_idle_restart(&mut self, smss: usize);
}

/// The initial window of RFC 6928: min(10*MSS, max(2*MSS, 14600)), or `segments` of them.
pub fn initial_window(segments: u32, smss: usize) -> usize {
    let segments = segments.max(1) as usize;
    if segments >= 10 {
        (10 * smss).min((2 * smss).max(14_600))
    } else {
        segments * smss
    }
}

/// Builds the configured controller; `abc_limit_segments` is L of RFC 3465.
pub fn new_controller(
    alg: CongestionAlgorithm,
    iw_segments: u32,
    smss: usize,
    abc_limit_segments: u32,
) -> Controller {
    let iw = initial_window(iw_segments, smss);
    match alg {
        CongestionAlgorithm::NewReno => {
            Controller::NewReno(NewReno::new(iw).with_abc_limit(abc_limit_segments))
        }
        CongestionAlgorithm::Cubic => {
            Controller::Cubic(Cubic::new(iw).with_abc_limit(abc_limit_segments))
        }
    }
}

/// The controller a connection runs, held in the connection itself: a `Box<dyn>` put it
/// in an allocation of its own, one more cold cache line for every ACK of thousands of
/// connections (the rpc bench at 3,000 clients), and a call through a vtable.
#[derive(Debug, Clone)]
pub enum Controller {
    /// RFC 5681 with RFC 6582.
    NewReno(NewReno),
    /// RFC 9438.
    Cubic(Cubic),
}

/// Calls the method on whichever controller it is (a match, not a vtable).
macro_rules! each {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            Controller::NewReno($c) => $call,
            Controller::Cubic($c) => $call,
        }
    };
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> usize {
        each!(self, c => c.cwnd())
    }
    fn ssthresh(&self) -> usize {
        each!(self, c => c.ssthresh())
    }
    fn set_cwnd(&mut self, cwnd: usize) {
        each!(self, c => c.set_cwnd(cwnd))
    }
    fn on_ack(&mut self, now: Instant, acked: usize, smss: usize, srtt: Option<Duration>) {
        each!(self, c => c.on_ack(now, acked, smss, srtt))
    }
    fn on_congestion_event(&mut self, now: Instant, flight_size: usize, smss: usize) {
        each!(self, c => c.on_congestion_event(now, flight_size, smss))
    }
    fn on_rto(&mut self, now: Instant, flight_size: usize, smss: usize) {
        each!(self, c => c.on_rto(now, flight_size, smss))
    }
    fn on_idle_restart(&mut self, smss: usize) {
        each!(self, c => c.on_idle_restart(smss))
    }
}

/// Slow start with Appropriate Byte Counting (RFC 3465 section 2.2): cwnd grows by the
/// bytes an ACK acknowledges, at most L * SMSS, so that an ACK covering two segments (a
/// delayed ACK) or more (a stretch ACK) is worth what it covers. L = 1 is RFC 5681's rule.
#[derive(Debug, Clone, Copy)]
struct SlowStart {
    /// L in segments.
    limit_segments: usize,
    /// Slow start follows an RTO: L = 1 until ssthresh is reached (RFC 3465 section 2.3:
    /// the cumulative ACKs that follow a go-back-N resend cover data that had already
    /// arrived, and say nothing about the path).
    after_rto: bool,
}

impl SlowStart {
    const fn new() -> Self {
        SlowStart {
            limit_segments: 2,
            after_rto: false,
        }
    }

    /// The increase for an ACK of `acked` bytes.
    fn increase(&self, acked: usize, smss: usize) -> usize {
        let l = if self.after_rto {
            1
        } else {
            self.limit_segments
        };
        acked.min(l * smss)
    }
}

/// RFC 5681 slow start and congestion avoidance with RFC 6582 recovery.
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    initial_window: usize,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 5681 eq. 3's
    /// byte counting, RFC 3465).
    ca_acked: usize,
    slow_start: SlowStart,
}

impl NewReno {
    /// Starts with cwnd = `initial_window` and an infinite ssthresh; ABC with L = 2.
    pub fn new(initial_window: usize) -> Self {
        NewReno {
            cwnd: initial_window,
            ssthresh: usize::MAX,
            initial_window,
            ca_acked: 0,
            slow_start: SlowStart::new(),
        }
    }

    /// Sets L of RFC 3465 in segments (1: RFC 5681's one SMSS per ACK).
    pub fn with_abc_limit(mut self, segments: u32) -> Self {
        self.slow_start.limit_segments = segments.max(1) as usize;
        self
    }
}

fn reduced_ssthresh(flight_size: usize, smss: usize) -> usize {
    // RFC 5681 equation 4: ssthresh = max(FlightSize / 2, 2*SMSS).
    (flight_size / 2).max(2 * smss)
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> usize {
        self.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
    fn set_cwnd(&mut self, cwnd: usize) {
        self.cwnd = cwnd;
    }
    fn on_ack(&mut self, _now: Instant, acked: usize, smss: usize, _srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            // Slow start (RFC 5681 equation 2, with RFC 3465's L).
            self.cwnd += self.slow_start.increase(acked, smss);
        } else {
            self.slow_start.after_rto = false;
            // Congestion avoidance: one SMSS per cwnd of acknowledged bytes.
            self.ca_acked += acked;
            if self.ca_acked >= self.cwnd {
                self.ca_acked -= self.cwnd;
                self.cwnd += smss;
            }
        }
    }
    fn on_congestion_event(&mut self, _now: Instant, flight_size: usize, smss: usize) {
        self.ssthresh = reduced_ssthresh(flight_size, smss);
        self.cwnd = self.ssthresh;
        self.ca_acked = 0;
    }
    fn on_rto(&mut self, _now: Instant, flight_size: usize, smss: usize) {
        self.ssthresh = reduced_ssthresh(flight_size, smss);
        self.cwnd = smss;
        self.ca_acked = 0;
        self.slow_start.after_rto = true;
    }
    fn on_idle_restart(&mut self, _smss: usize) {
        // RW = min(IW, cwnd).
        self.cwnd = self.cwnd.min(self.initial_window);
    }
}

/// CUBIC (RFC 9438), with its Reno-friendly region. Fixed point: times in milliseconds,
/// windows in bytes, C = 0.4 and beta = 0.7 as ratios of integers.
#[derive(Debug, Clone)]
pub struct Cubic {
    cwnd: usize,
    ssthresh: usize,
    initial_window: usize,
    /// W_max: the window before the last reduction, in bytes.
    w_max: usize,
    /// K in milliseconds.
    k_ms: u64,
    /// Start of the current congestion-avoidance epoch.
    epoch_start: Option<Instant>,
    /// W_est of the Reno-friendly region, in bytes.
    w_est: usize,
    ca_acked: usize,
    slow_start: SlowStart,
}

impl Cubic {
    /// Starts with cwnd = `initial_window` and an infinite ssthresh; ABC with L = 2.
    pub fn new(initial_window: usize) -> Self {
        Cubic {
            cwnd: initial_window,
            ssthresh: usize::MAX,
            initial_window,
            w_max: 0,
            k_ms: 0,
            epoch_start: None,
            w_est: 0,
            ca_acked: 0,
            slow_start: SlowStart::new(),
        }
    }

    /// Sets L of RFC 3465 in segments (1: RFC 5681's one SMSS per ACK).
    pub fn with_abc_limit(mut self, segments: u32) -> Self {
        self.slow_start.limit_segments = segments.max(1) as usize;
        self
    }

    /// W_cubic(t) in bytes for t milliseconds into the epoch (RFC 9438 equation 1).
    fn w_cubic(&self, t_ms: u64, smss: usize) -> usize {
        let d = t_ms as i128 - self.k_ms as i128;
        // C * d^3 segments, with d in ms: 0.4 * d^3 / 1e9.
        let delta_segments_x = 4 * d * d * d; // scaled by 10 * 1e9
        let delta_bytes = delta_segments_x * smss as i128 / 10_000_000_000;
        (self.w_max as i128 + delta_bytes).max(smss as i128) as usize
    }
}

/// Integer cube root (floor).
fn icbrt(n: u128) -> u64 {
    let mut lo: u64 = 0;
    let mut hi: u64 = 1 << 43;
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let m = u128::from(mid);
        if m * m * m <= n {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> usize {
        self.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
    fn set_cwnd(&mut self, cwnd: usize) {
        self.cwnd = cwnd;
    }
    fn on_ack(&mut self, now: Instant, acked: usize, smss: usize, srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            self.cwnd += self.slow_start.increase(acked, smss);
            return;
        }
        self.slow_start.after_rto = false;
        let epoch = *self.epoch_start.get_or_insert_with(|| {
            self.w_est = self.cwnd;
            now
        });
        if self.w_max < self.cwnd && self.k_ms == 0 {
            self.w_max = self.cwnd;
        }
        let rtt_ms = srtt.map_or(100, |d| d.as_millis() as u64);
        let t_ms = (now - epoch).as_millis() as u64 + rtt_ms;
        let target = self.w_cubic(t_ms, smss).min(self.cwnd + self.cwnd / 2);
        // Reno-friendly estimate: alpha = 3(1-beta)/(1+beta) = 9/17 segments per RTT.
        self.ca_acked += acked;
        if self.ca_acked >= self.cwnd {
            self.ca_acked -= self.cwnd;
            self.w_est += smss * 9 / 17;
        }
        if self.w_est > target && self.w_est > self.cwnd {
            self.cwnd = self.w_est;
        } else if target > self.cwnd {
            // Grow by (target - cwnd) / cwnd per SMSS acknowledged.
            let inc =
                ((target - self.cwnd) as u128 * acked as u128 / self.cwnd.max(1) as u128) as usize;
            self.cwnd += inc.max(1);
        }
    }
    fn on_congestion_event(&mut self, _now: Instant, flight_size: usize, smss: usize) {
        let base = self.cwnd.max(flight_size.min(self.cwnd));
        // Fast convergence (RFC 9438 section 4.7).
        self.w_max = if base < self.w_max {
            base * 17 / 20
        } else {
            base
        };
        self.ssthresh = (base * 7 / 10).max(2 * smss);
        self.cwnd = self.ssthresh;
        // K = cbrt(W_max * (1 - beta) / C) seconds = cbrt(W_max_segments * 0.75) s.
        let w_max_segments_x = (self.w_max as u128) * 3 * 1_000_000_000 / (4 * smss.max(1) as u128);
        self.k_ms = icbrt(w_max_segments_x);
        self.epoch_start = None;
        self.ca_acked = 0;
    }
    fn on_rto(&mut self, now: Instant, flight_size: usize, smss: usize) {
        self.on_congestion_event(now, flight_size, smss);
        self.cwnd = smss;
        self.slow_start.after_rto = true;
    }
    fn on_idle_restart(&mut self, _smss: usize) {
        self.cwnd = self.cwnd.min(self.initial_window);
        self.epoch_start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMSS: usize = 1000;

    #[test]
    fn initial_window_follows_rfc6928() {
        assert_eq!(initial_window(10, 1460), 14_600);
        assert_eq!(initial_window(10, 536), 5360);
        assert_eq!(initial_window(10, 9000), 18_000);
        assert_eq!(initial_window(2, 1000), 2000);
    }

    #[test]
    fn newreno_slow_start_then_avoidance() {
        let mut cc = NewReno::new(2 * SMSS);
        cc.on_ack(Instant::ZERO, SMSS, SMSS, None);
        assert_eq!(cc.cwnd(), 3 * SMSS, "slow start grows one SMSS per ACK");
        cc.on_congestion_event(Instant::ZERO, 10 * SMSS, SMSS);
        assert_eq!(cc.ssthresh(), 5 * SMSS, "ssthresh = FlightSize / 2");
        for _ in 0..5 {
            cc.on_ack(Instant::ZERO, SMSS, SMSS, None);
        }
        assert_eq!(cc.cwnd(), 6 * SMSS, "one SMSS per window of ACKed bytes");
    }

    #[test]
    fn abc_counts_bytes_up_to_l_segments() {
        // RFC 3465 section 2.2: cwnd += min(N, L*SMSS), L = 2.
        let mut cc = NewReno::new(2 * SMSS);
        cc.on_ack(Instant::ZERO, 2 * SMSS, SMSS, None);
        assert_eq!(
            cc.cwnd(),
            4 * SMSS,
            "a delayed ACK of two segments is worth two"
        );
        cc.on_ack(Instant::ZERO, 5 * SMSS, SMSS, None);
        assert_eq!(cc.cwnd(), 6 * SMSS, "a stretch ACK is capped at L = 2 SMSS");
        let mut rfc5681 = NewReno::new(2 * SMSS).with_abc_limit(1);
        rfc5681.on_ack(Instant::ZERO, 2 * SMSS, SMSS, None);
        assert_eq!(rfc5681.cwnd(), 3 * SMSS, "L = 1: one SMSS per ACK");
    }

    #[test]
    fn abc_uses_one_segment_after_an_rto() {
        // RFC 3465 section 2.3: L = 1*SMSS in slow start after a retransmission timeout.
        let mut cc = NewReno::new(10 * SMSS);
        cc.on_rto(Instant::ZERO, 10 * SMSS, SMSS);
        cc.on_ack(Instant::ZERO, 2 * SMSS, SMSS, None);
        assert_eq!(cc.cwnd(), 2 * SMSS);
        let mut cubic = Cubic::new(10 * SMSS);
        cubic.on_rto(Instant::ZERO, 10 * SMSS, SMSS);
        cubic.on_ack(Instant::ZERO, 2 * SMSS, SMSS, None);
        assert_eq!(cubic.cwnd(), 2 * SMSS);
    }

    #[test]
    fn ssthresh_floor_is_two_segments() {
        let mut cc = NewReno::new(2 * SMSS);
        cc.on_rto(Instant::ZERO, SMSS, SMSS);
        assert_eq!(cc.ssthresh(), 2 * SMSS);
        assert_eq!(cc.cwnd(), SMSS, "loss window is one segment");
    }

    #[test]
    fn cubic_reduces_by_beta_and_regrows_to_w_max() {
        let mut cc = Cubic::new(10 * SMSS);
        cc.ssthresh = 0; // straight into avoidance
        cc.cwnd = 100 * SMSS;
        cc.on_congestion_event(Instant::ZERO, 100 * SMSS, SMSS);
        assert_eq!(cc.cwnd(), 70 * SMSS);
        // K = cbrt(100 * 0.3 / 0.4) = cbrt(75) ~ 4.217 s
        assert_eq!(cc.k_ms, 4217);
        let mut now = Instant::ZERO;
        for _ in 0..20_000 {
            now += Duration::from_millis(1);
            cc.on_ack(now, SMSS, SMSS, Some(Duration::from_millis(10)));
        }
        assert!(
            cc.cwnd() >= 100 * SMSS,
            "cwnd {} regrows past W_max",
            cc.cwnd()
        );
    }

    #[test]
    fn icbrt_is_floor_cube_root() {
        assert_eq!(icbrt(0), 0);
        assert_eq!(icbrt(26), 2);
        assert_eq!(icbrt(27), 3);
        assert_eq!(icbrt(75_000_000_000), 4217);
    }
}
