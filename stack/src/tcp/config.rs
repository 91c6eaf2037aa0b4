//! Everything about one connection that is chosen rather than negotiated, with the bounds
//! that keep its memory finite.

use crate::hash::SecretKey;
use crate::time::Duration;

/// Which congestion controller a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 with RFC 6582 (NewReno) fast recovery.
    #[default]
    NewReno,
    /// RFC 9438.
    Cubic,
}

/// A deliberate bug, compiled in only with the `planted-bugs` feature, so that the
/// exploration tools can prove they find real ones (issue: "a harness that cannot find a
/// planted bug is the defect").
#[cfg(feature = "planted-bugs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlantedBug {
    /// Reassembly: when an out-of-order range joins the in-order data, its first byte is
    /// replaced by its second. Lengths stay right; only the content is wrong, and only
    /// after reordering or loss.
    ReassemblyOffByOne,
    /// RTO: a fresh RTT sample does not clear the exponential backoff (RFC 6298 section
    /// 5.7 broken), so the timer only ever grows.
    RtoNeverResets,
    /// Reassembly: a FIN is honoured as soon as it arrives, even beyond a hole, so the
    /// stream ends early (and the cumulative ACK skips the hole). Shows only when the end
    /// of a stream is reordered or lost.
    EarlyFin,
}

#[cfg(feature = "planted-bugs")]
impl PlantedBug {
    /// Every planted bug.
    pub const ALL: [PlantedBug; 3] = [
        PlantedBug::ReassemblyOffByOne,
        PlantedBug::RtoNeverResets,
        PlantedBug::EarlyFin,
    ];

    /// A kebab-case name for command lines and replay files.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::ReassemblyOffByOne => "reassembly-off-by-one",
            PlantedBug::RtoNeverResets => "rto-never-resets",
            PlantedBug::EarlyFin => "early-fin",
        }
    }

    /// The bug called `name`.
    pub fn from_name(name: &str) -> Option<PlantedBug> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Keep-alive parameters (RFC 1122 section 4.2.3.6; RFC 9293 section 3.8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before the first probe. RFC 9293 MUST-28: at least two hours by default.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes after which the connection is dropped (MUST-29: one lost ACK is
    /// not fatal, so this is at least 1 and 9 by default, as on Linux).
    pub count: u32,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            idle: Duration::from_secs(2 * 60 * 60),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// The configuration of one TCP connection.
///
/// Field names end in their unit. Defaults follow the RFCs and, where they leave a choice,
/// what Linux does.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Bytes the send buffer holds (data written but not yet acknowledged).
    pub send_buffer_bytes: usize,
    /// Bytes the receive buffer holds: in-order data not yet read plus out-of-order data.
    /// The advertised window never exceeds it.
    pub recv_buffer_bytes: usize,
    /// The MSS we announce: the largest segment payload we accept (MMS_R minus 40).
    pub mss: u16,
    /// The send MSS assumed when the peer sends no MSS option (RFC 9293 MUST-15: 536).
    pub default_send_mss: u16,
    /// Offer window scaling (RFC 7323 section 2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 sections 3-5).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Nagle's algorithm (RFC 9293 SHLD-7); `false` is TCP_NODELAY (MUST-17).
    pub nagle: bool,
    /// Delay ACKs (RFC 9293 SHLD-18). The delay is `delayed_ack_timeout`.
    pub delayed_ack: bool,
    /// How long an ACK may wait (MUST-40: under 500 ms).
    pub delayed_ack_timeout: Duration,
    /// The initial retransmission timeout (RFC 6298 section 2.1: 1 s).
    pub rto_initial: Duration,
    /// The lower bound of the RTO (RFC 6298 section 2.4: 1 s; Linux uses 200 ms).
    pub rto_min: Duration,
    /// The upper bound of the RTO (RFC 6298 section 2.5: at least 60 s).
    pub rto_max: Duration,
    /// R1 for data: retransmissions after which the application is told the path looks bad,
    /// and the host given negative advice, at every timeout from then on (RFC 9293 SHLD-10:
    /// at least 3; RFC 1122 4.2.3.5). Also reached, as Linux reaches `tcp_retries1`, once
    /// the loss episode is older than `(2^(R1+1) - 1) * rto_min`, though an ACK of part of
    /// the flight restarted the count.
    pub r1_retries: u32,
    /// R2 for data: time after the first retransmission at which the connection is given up
    /// (SHLD-11: at least 100 s).
    pub r2_data: Duration,
    /// R2 for SYNs (MUST-23: at least 3 minutes).
    pub r2_syn: Duration,
    /// User timeout (RFC 5482, RFC 9293 MUST-21): if set, overrides `r2_data`.
    pub user_timeout: Option<Duration>,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this (MUST-13).
    pub msl: Duration,
    /// Keep-alive, off by default (MUST-24, MUST-25).
    pub keep_alive: Option<KeepAlive>,
    /// Congestion controller.
    pub congestion: CongestionAlgorithm,
    /// Initial window in segments (RFC 6928: 10).
    pub initial_window_segments: u32,
    /// Appropriate Byte Counting in slow start (RFC 3465): an ACK grows cwnd by the bytes
    /// it acknowledges, up to L = this many SMSS. The default, 45, is what one coalesced
    /// ACK covers at most (64 KiB of full segments: a host acknowledges a burst that
    /// arrived together once, as Linux does a GRO-merged packet; see
    /// `Connection::must_answer_now`), so such an ACK is worth the segments it stands for;
    /// Linux's slow start counts every packet an ACK covers, without a limit (its ABC limit
    /// was removed in 3.9). RFC 3465's 2 would grow cwnd by 2 segments per 45 delivered.
    /// 1 is the plain RFC 5681 rule of at most one SMSS per ACK. Slow start after an RTO
    /// always uses L = 1 (RFC 3465 section 2.3).
    pub abc_limit_segments: u32,
    /// Acknowledge a burst of in-order segments that arrived together twice (at its second
    /// segment and at its end, at most 64 KiB an ACK) instead of every second segment, as
    /// Linux does a GRO-merged packet (`Connection::must_answer_now`). On by default. (It
    /// was off for a while: a large-workload sweep found a run that livelocked with it on,
    /// partition-heals seed 15804 in `tests/regressions/`; the cause was an ACK loop
    /// between a TIME-WAIT and a SYN-RECEIVED end that coalescing's timing only exposed,
    /// ended by `out_of_window_ack_interval`.)
    pub ack_coalescing: bool,
    /// Tail Loss Probe (RFC 8985 section 7): when an ACK is overdue (2 SRTT), send one
    /// probe segment to draw the SACK or duplicate ACK that starts fast recovery, instead of
    /// waiting for the RTO. Needs SACK. On by default, as on Linux.
    pub tlp: bool,
    /// WCDelAckT of RFC 8985 section 7.2: the worst-case delayed-ACK time added to the
    /// probe timeout when a single segment is in flight (200 ms recommended).
    pub tlp_max_ack_delay: Duration,
    /// Time-based loss inference after RACK (RFC 8985 section 6), without per-segment
    /// transmit times: the sender's SACK scoreboard orders what was sent. Each inference
    /// acts a reordering window of max(SRTT/4, G) after the first evidence (the section 6.3
    /// timer): a hole below SACKed data outside recovery is lost (fast recovery starts
    /// without waiting for DupThresh duplicate ACKs that a short flight cannot produce); in
    /// SACK recovery a retransmission is lost once data sent after it is SACKed (at once
    /// when DupThresh segments of it are), and an original transmission is lost once data
    /// sent after it arrived: SACKed data above it, or a later retransmission cumulatively
    /// acknowledged. Off, only RFC 6675's DupThresh rules and the RTO detect losses.
    pub rack: bool,
    /// Challenge ACKs sent per second at most (RFC 5961 section 7).
    pub challenge_ack_limit_per_sec: u32,
    /// The least time between two ACKs that answer unacceptable segments without data
    /// (out of window, or old by PAWS). RFC 9293 section 3.10.7.4 answers each with an
    /// ACK; two ends whose states disagree (a TIME-WAIT and a SYN-RECEIVED on one
    /// 4-tuple, say) then find each other's ACKs unacceptable and answer them without end,
    /// at one instant on a zero-latency link. Linux limits these answers the same way
    /// (`net.ipv4.tcp_invalid_ratelimit`, 500 ms) and exempts segments with data, which
    /// cannot loop, and a FIN retransmitted into TIME-WAIT: so does this.
    pub out_of_window_ack_interval: Duration,
    /// Secret of the ISN and timestamp-offset PRF (RFC 6528). Give every host its own,
    /// derived from the simulation seed.
    pub secret: SecretKey,
    /// Control segments (RSTs, challenge ACKs) queued for `poll_transmit` at most; past it
    /// they are dropped and counted.
    pub control_queue_len: usize,
    /// SACK scoreboard ranges kept at most; past it the oldest-received information above
    /// the cumulative ACK is forgotten (a loss of precision, not of data).
    pub sack_scoreboard_len: usize,
    /// Out-of-order ranges the receiver keeps at most. Large enough for the window: the
    /// default allows a hole between every two full segments of the receive buffer.
    pub reassembly_ranges: usize,
    /// Time to live of outgoing IP datagrams (RFC 9293 MUST-49), for the host layer.
    pub ttl: u8,
    /// `IP_TOS` of the connection's packets, for the host layer: its DSCP goes out; the
    /// two ECN bits are TCP's own, as on Linux (sansnet marks none).
    pub tos: u8,
    /// A deliberate bug to plant (tests of the exploration tools only).
    #[cfg(feature = "planted-bugs")]
    pub planted: Option<PlantedBug>,
}

impl Default for Config {
    fn default() -> Self {
        let recv_buffer_bytes = 256 * 1024;
        Config {
            send_buffer_bytes: 256 * 1024,
            recv_buffer_bytes,
            mss: 1460,
            default_send_mss: 536,
            window_scaling: true,
            timestamps: true,
            sack: true,
            nagle: true,
            delayed_ack: true,
            delayed_ack_timeout: Duration::from_millis(40),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            r1_retries: 3,
            r2_data: Duration::from_secs(100),
            r2_syn: Duration::from_secs(180),
            user_timeout: None,
            msl: Duration::from_secs(30),
            keep_alive: None,
            congestion: CongestionAlgorithm::NewReno,
            initial_window_segments: 10,
            abc_limit_segments: 45,
            ack_coalescing: true,
            tlp: true,
            tlp_max_ack_delay: Duration::from_millis(200),
            rack: true,
            challenge_ack_limit_per_sec: 1000,
            out_of_window_ack_interval: Duration::from_millis(500),
            secret: SecretKey([0x5a; 16]),
            control_queue_len: 8,
            sack_scoreboard_len: 64,
            reassembly_ranges: recv_buffer_bytes / 2920 + 4,
            ttl: 64,
            tos: 0,
            #[cfg(feature = "planted-bugs")]
            planted: None,
        }
    }
}

impl Config {
    /// The window scale shift we offer: the smallest that lets the receive buffer be
    /// advertised whole, at most 14 (RFC 7323 section 2.3).
    pub fn rcv_wscale(&self) -> u8 {
        let mut shift = 0u8;
        while shift < 14 && (self.recv_buffer_bytes >> shift) > 0xffff {
            shift += 1;
        }
        shift
    }
}
