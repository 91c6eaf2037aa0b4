//! What one connection says about itself: Linux's `TCP_INFO` (`struct tcp_info`), as a
//! value, and the `ss -i` line that prints it.
//!
//! [`Connection::info`] takes a snapshot; nothing here changes the connection. Sizes are in
//! bytes where the engine counts bytes; Linux counts segments (`tcpi_sacked`, `tcpi_lost`,
//! `tcpi_snd_cwnd`), so both are given where `ss -i` shows segments.

use alloc::format;
use core::fmt;

use super::connection::Connection;
use super::stats::Stats;
use super::State;
use crate::time::Duration;

/// Where loss recovery stands (Linux's `tcpi_ca_state`, the three states the engine has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryState {
    /// No loss being repaired.
    Open,
    /// Fast recovery (RFC 5681, RFC 6675), entered on duplicate ACKs or SACK evidence.
    Recovery,
    /// After a retransmission timeout, until SND.UNA passes what was outstanding then.
    Loss,
}

impl RecoveryState {
    fn as_str(self) -> &'static str {
        match self {
            RecoveryState::Open => "open",
            RecoveryState::Recovery => "recovery",
            RecoveryState::Loss => "loss",
        }
    }
}

/// A snapshot of one connection: state, timers, windows, loss figures and every counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpInfo {
    /// The RFC 9293 state.
    pub state: State,
    /// Where loss recovery stands.
    pub recovery: RecoveryState,
    /// The current RTO, backoff included (`tcpi_rto`).
    pub rto: Duration,
    /// How many times the RTO has doubled since the last RTT sample (`tcpi_backoff`).
    pub rto_backoff: u32,
    /// Smoothed round-trip time, once sampled (`tcpi_rtt`).
    pub srtt: Option<Duration>,
    /// Round-trip time variation, once sampled (`tcpi_rttvar`).
    pub rttvar: Option<Duration>,
    /// The largest payload a segment carries now (`tcpi_snd_mss`).
    pub snd_mss: usize,
    /// Congestion window (`tcpi_snd_cwnd` is this over `snd_mss`).
    pub cwnd_bytes: usize,
    /// Slow-start threshold (`tcpi_snd_ssthresh`); `None` until the first loss sets it
    /// (it starts arbitrarily high, RFC 5681 section 3.1, and `ss` leaves it out then).
    pub ssthresh_bytes: Option<usize>,
    /// The peer's window, as last advertised (`tcpi_snd_wnd`).
    pub snd_wnd_bytes: usize,
    /// The window we advertise now, from RCV.NXT (`tcpi_rcv_wnd`).
    pub rcv_wnd_bytes: usize,
    /// Sent and not yet acknowledged: SND.MAX - SND.UNA (`tcpi_unacked`, in bytes).
    pub unacked_bytes: usize,
    /// Of those, SACKed by the peer (`tcpi_sacked`, in bytes).
    pub sacked_bytes: usize,
    /// Of those, deemed lost (RFC 6675 IsLost: DupThresh segments SACKed above them;
    /// `tcpi_lost`, in bytes).
    pub lost_bytes: usize,
    /// Waiting in the receive buffer for the application.
    pub recv_queue_bytes: usize,
    /// Waiting in the send buffer, sent or not.
    pub send_queue_bytes: usize,
    /// Timestamps, SACK and window scaling, as negotiated.
    pub timestamps: bool,
    /// See `timestamps`.
    pub sack: bool,
    /// The peer's shift (on the windows it advertises) and ours, when window scaling was
    /// negotiated (`tcpi_snd_wscale`, `tcpi_rcv_wscale`).
    pub wscale: Option<(u8, u8)>,
    /// Every counter, drops by reason included.
    pub stats: Stats,
}

impl TcpInfo {
    /// `bytes` in segments of `snd_mss`, rounded up (how Linux counts windows and losses).
    pub fn segments(&self, bytes: usize) -> usize {
        bytes.div_ceil(self.snd_mss.max(1))
    }
}

fn ms(d: Duration) -> impl fmt::Display {
    struct Ms(u128);
    impl fmt::Display for Ms {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // Milliseconds to the microsecond, trailing zeros left out, as `ss -i` prints
            // them (`rto:204 rtt:0.1/0.05`).
            let (whole, micros) = (self.0 / 1_000_000, (self.0 % 1_000_000) / 1_000);
            write!(f, "{whole}")?;
            if micros > 0 {
                let mut frac = format!("{micros:03}");
                while frac.ends_with('0') {
                    frac.pop();
                }
                write!(f, ".{frac}")?;
            }
            Ok(())
        }
    }
    Ms(d.as_nanos())
}

/// The `ss -i` line: `ts sack wscale:7,7 rto:204.000 backoff:0 rtt:1.500/0.750 mss:1448
/// cwnd:10 ssthresh:7 ...`, then the counters and every non-zero drop reason.
impl fmt::Display for TcpInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.timestamps {
            f.write_str("ts ")?;
        }
        if self.sack {
            f.write_str("sack ")?;
        }
        if let Some((snd, rcv)) = self.wscale {
            write!(f, "wscale:{snd},{rcv} ")?;
        }
        write!(f, "rto:{}", ms(self.rto))?;
        if self.rto_backoff > 0 {
            write!(f, " backoff:{}", self.rto_backoff)?;
        }
        if let (Some(srtt), Some(var)) = (self.srtt, self.rttvar) {
            write!(f, " rtt:{}/{}", ms(srtt), ms(var))?;
        }
        write!(
            f,
            " mss:{} cwnd:{}",
            self.snd_mss,
            self.segments(self.cwnd_bytes)
        )?;
        if let Some(ssthresh) = self.ssthresh_bytes {
            write!(f, " ssthresh:{}", self.segments(ssthresh))?;
        }
        write!(
            f,
            " snd_wnd:{} rcv_wnd:{} ca:{}",
            self.snd_wnd_bytes,
            self.rcv_wnd_bytes,
            self.recovery.as_str()
        )?;
        let s = &self.stats;
        write!(
            f,
            " bytes_sent:{} bytes_received:{} segs_out:{} segs_in:{}",
            s.bytes_sent, s.bytes_received, s.segments_sent, s.segments_received
        )?;
        if self.unacked_bytes > 0 {
            write!(
                f,
                " unacked:{} sacked:{} lost:{}",
                self.segments(self.unacked_bytes),
                self.segments(self.sacked_bytes),
                self.segments(self.lost_bytes)
            )?;
        }
        write!(
            f,
            " retrans:{} rto_fired:{} fast_recoveries:{} tlp:{}",
            s.retransmitted_segments, s.rto_expirations, s.fast_recoveries, s.tlp_probes_sent
        )?;
        if s.next_hop_resends > 0 {
            write!(f, " next_hop_resends:{}", s.next_hop_resends)?;
        }
        let mut drops = s.drop_counts().peekable();
        if drops.peek().is_some() {
            f.write_str(" drops:")?;
            for (i, (reason, n)) in drops.enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{reason}={n}")?;
            }
        }
        Ok(())
    }
}

impl Connection {
    /// A snapshot of this connection, as Linux's `getsockopt(TCP_INFO)` gives one.
    pub fn info(&self) -> TcpInfo {
        let snd_mss = self.effective_mss().max(1);
        let recovery = if self.in_recovery() {
            RecoveryState::Recovery
        } else if self.in_rto_recovery() {
            RecoveryState::Loss
        } else {
            RecoveryState::Open
        };
        let negotiated = self.negotiated();
        let rtt = self.rtt_estimator();
        TcpInfo {
            state: self.state(),
            recovery,
            rto: rtt.rto(),
            rto_backoff: rtt.backoff_count(),
            srtt: rtt.srtt(),
            rttvar: rtt.srtt().map(|_| rtt.rttvar()),
            snd_mss,
            cwnd_bytes: self.cwnd(),
            // The initial ssthresh is "arbitrarily high": no figure to show.
            ssthresh_bytes: Some(self.ssthresh()).filter(|&t| t < usize::MAX / 2),
            snd_wnd_bytes: self.snd_wnd(),
            rcv_wnd_bytes: self.rcv_wnd(),
            unacked_bytes: self.snd_max() - self.snd_una(),
            sacked_bytes: self.sacked_bytes(),
            lost_bytes: self.lost_bytes(),
            recv_queue_bytes: self.recv_queue_len(),
            send_queue_bytes: self.send_queue_len(),
            timestamps: negotiated.0,
            sack: negotiated.1,
            wscale: negotiated.2.then(|| self.wscales()),
            stats: self.stats().clone(),
        }
    }
}
