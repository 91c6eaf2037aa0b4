//! Congestion control (RFC 5681, RFC 6928, RFC 3042, RFC 6582, RFC 6675, RFC 9438).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, CongestionAlgorithm, Connection};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

const SMSS: usize = 1460;

/// The start of our `k`th full segment (from 0).
fn s(k: usize) -> SeqNumber {
    ISS1 + k * SMSS
}

/// ESTABLISHED without options, Nagle and delayed ACKs off, with `n` full segments of data
/// written; returns the segments that went out at once.
fn sender(cfg: Config, n: usize) -> (Connection, Vec<Seg>) {
    let mut c = established(Config {
        nagle: false,
        ..cfg
    });
    c.send(&bytes(n * SMSS)).unwrap();
    let out = sent(&mut c, T0);
    (c, out)
}

fn dupack(c: &mut Connection, now: Instant) -> Vec<Seg> {
    exchange(c, now, seg(ACK, IRS1, ISS1))
}

fn seqs(segs: &[Seg]) -> Vec<SeqNumber> {
    segs.iter().map(|x| x.seq).collect()
}

// RFC 6928 2 / RFC 5681 3.1: IW = min(10*MSS, max(2*MSS, 14600)): ten 1460-byte segments.
#[test]
fn initial_window_is_ten_segments() {
    let (c, out) = sender(quick(), 30);
    assert_eq!(out.len(), 10);
    assert!(out.iter().all(|x| x.payload.len() == SMSS));
    assert_eq!(c.cwnd(), 10 * SMSS);
    assert_eq!(
        c.ssthresh(),
        usize::MAX,
        "RFC 5681 3.1: arbitrarily high at first"
    );
}

// RFC 5681 3.1 (equation 2): in slow start "cwnd += min (N, SMSS)" per ACK: each ACK of a
// segment opens room for two. (`abc_limit_segments: 1` is that rule exactly.)
#[test]
fn slow_start_grows_one_smss_per_ack() {
    let cfg = Config {
        abc_limit_segments: 1,
        ..quick()
    };
    let (mut c, _) = sender(cfg, 30);
    let out = exchange(&mut c, T0 + ms(50), seg(ACK, IRS1, s(1)));
    assert_eq!(c.cwnd(), 11 * SMSS);
    assert_eq!(seqs(&out), vec![s(10), s(11)]);
    // A stretch ACK of four segments still grows cwnd by one SMSS.
    exchange(&mut c, T0 + ms(60), seg(ACK, IRS1, s(5)));
    assert_eq!(c.cwnd(), 12 * SMSS);
}

// RFC 3465 2.2 (Appropriate Byte Counting, with the RFC's L = 2): "cwnd += min(N, L*SMSS)"
// per ACK in slow start: a delayed ACK of two segments grows cwnd by two, a stretch ACK of
// four by L = 2 at most.
#[test]
fn slow_start_counts_acked_bytes_up_to_l_smss() {
    let cfg = Config {
        abc_limit_segments: 2,
        ..quick()
    };
    let (mut c, _) = sender(cfg, 40);
    let out = exchange(&mut c, T0 + ms(50), seg(ACK, IRS1, s(2)));
    assert_eq!(c.cwnd(), 12 * SMSS, "an ACK of two segments is worth two");
    assert_eq!(seqs(&out), vec![s(10), s(11), s(12), s(13)]);
    exchange(&mut c, T0 + ms(60), seg(ACK, IRS1, s(6)));
    assert_eq!(c.cwnd(), 14 * SMSS, "a stretch ACK of four: L = 2 SMSS");
}

// The default L is what one coalesced ACK covers at most (45 full segments, 64 KiB): a
// stretch ACK is worth every segment it stands for, as in Linux's slow start.
#[test]
fn default_slow_start_counts_a_coalesced_ack_in_full() {
    let (mut c, _) = sender(quick(), 200);
    exchange(&mut c, T0 + ms(50), seg(ACK, IRS1, s(4)));
    assert_eq!(c.cwnd(), 14 * SMSS, "a stretch ACK of four is worth four");
    // Everything in flight (14 segments) acknowledged, then a window of 28.
    exchange(&mut c, T0 + ms(60), seg(ACK, IRS1, s(14)));
    assert_eq!(c.cwnd(), 24 * SMSS, "ten more acknowledged, ten more SMSS");
}

// RFC 3465 2.3: after an RTO, slow start uses L = 1*SMSS: the ACKs that follow a go-back-N
// resend cover data that had already arrived.
#[test]
fn slow_start_after_rto_counts_one_smss_per_ack() {
    let (mut c, _) = sender(quick(), 10);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    assert_eq!(c.cwnd(), SMSS);
    exchange(&mut c, at + ms(10), seg(ACK, IRS1, s(3)));
    assert_eq!(
        c.cwnd(),
        2 * SMSS,
        "three segments acked, one SMSS of growth"
    );
}

// RFC 5681 3.1: in congestion avoidance cwnd grows by about one SMSS per RTT (per cwnd of
// acknowledged bytes).
#[test]
fn congestion_avoidance_grows_one_smss_per_window() {
    let (mut c, _) = sender(quick(), 10);
    // An RTO: ssthresh = 5 SMSS, cwnd = 1 SMSS.
    let at = fire_next(&mut c);
    sent(&mut c, at);
    assert_eq!((c.cwnd(), c.ssthresh()), (SMSS, 5 * SMSS));
    // Everything acked in steps: slow start up to ssthresh, then avoidance.
    let mut now = at;
    for k in 1..=10 {
        now += ms(10);
        exchange(&mut c, now, seg(ACK, IRS1, s(k)));
    }
    // 1 -> 5 SMSS in slow start takes 4 ACKs; the next 6 ACKs (6 SMSS) in avoidance add one
    // SMSS after 5 SMSS acked.
    assert_eq!(c.cwnd(), 6 * SMSS);
}

// RFC 5681 3.1: on RTO, "ssthresh = max (FlightSize / 2, 2*SMSS)" and cwnd = 1 SMSS (the
// loss window).
#[test]
fn rto_collapses_cwnd_to_one_segment() {
    let (mut c, _) = sender(quick(), 10);
    let at = fire_next(&mut c);
    assert_eq!(sent(&mut c, at).len(), 1);
    assert_eq!(c.cwnd(), SMSS);
    assert_eq!(c.ssthresh(), 5 * SMSS);
}

// RFC 5681 3.2 step 1 / RFC 3042 2 (limited transmit): on the first two duplicate ACKs a
// previously unsent segment goes out; no retransmission yet.
#[test]
fn limited_transmit_sends_new_data_on_dupacks_one_and_two() {
    let (mut c, out) = sender(quick(), 20);
    assert_eq!(out.len(), 10);
    assert_eq!(seqs(&dupack(&mut c, T0 + ms(50))), vec![s(10)]);
    assert_eq!(seqs(&dupack(&mut c, T0 + ms(51))), vec![s(11)]);
    assert!(!c.in_recovery());
    assert_eq!(c.stats().retransmitted_segments, 0);
}

// RFC 5681 3.2 step 2-3: on the third duplicate ACK, retransmit the lost segment (fast
// retransmit), set ssthresh = max(FlightSize/2, 2*SMSS) -- "When [RFC3042] is in use,
// additional data sent in limited transmit MUST NOT be included in this calculation" -- and
// cwnd = ssthresh + 3*SMSS.
#[test]
fn third_dupack_triggers_fast_retransmit() {
    let (mut c, _) = sender(quick(), 20);
    dupack(&mut c, T0 + ms(50));
    dupack(&mut c, T0 + ms(51));
    let out = dupack(&mut c, T0 + ms(52));
    assert_eq!(out.first().map(|x| x.seq), Some(s(0)), "fast retransmit");
    assert!(c.in_recovery());
    assert_eq!(c.stats().fast_recoveries, 1);
    assert_eq!(
        c.ssthresh(),
        5 * SMSS,
        "FlightSize of the 10 original segments / 2"
    );
    assert_eq!(c.cwnd(), 8 * SMSS);
}

// RFC 5681 3.2: without limited-transmit data the same holds, with the 2*SMSS floor for a
// small flight.
#[test]
fn ssthresh_floor_is_two_segments() {
    let (mut c, out) = sender(quick(), 3);
    assert_eq!(out.len(), 3);
    for i in 0..3 {
        dupack(&mut c, T0 + ms(50 + i));
    }
    assert!(c.in_recovery());
    assert_eq!(c.ssthresh(), 2 * SMSS);
}

// RFC 6582 3.2 step 4 (NewReno): a partial ACK "retransmit[s] the first unacknowledged
// segment" at once; step 3: a full ACK ends recovery with cwnd = min(ssthresh,
// max(FlightSize, SMSS) + SMSS).
#[test]
fn newreno_partial_ack_retransmits_the_next_hole() {
    // Segments 0 and 4 are lost; nothing more to send.
    let (mut c, out) = sender(quick(), 10);
    assert_eq!(out.len(), 10);
    for i in 0..3 {
        dupack(&mut c, T0 + ms(50 + i));
    }
    assert!(c.in_recovery());
    // The retransmission of segment 0 fills the first hole: the ACK stops at segment 4.
    let out = exchange(&mut c, T0 + ms(100), seg(ACK, IRS1, s(4)));
    assert_eq!(
        out.first().map(|x| x.seq),
        Some(s(4)),
        "partial ACK: {out:#?}"
    );
    assert!(c.in_recovery());
    exchange(&mut c, T0 + ms(150), seg(ACK, IRS1, s(10)));
    assert!(!c.in_recovery());
    // Nothing outstanding: min(ssthresh = 5 SMSS, max(0, SMSS) + SMSS).
    assert_eq!(c.cwnd(), 2 * SMSS);
}

// RFC 6675 5 (SACK-based recovery): holes the SACK scoreboard declares lost are
// retransmitted without waiting for partial ACKs; SACKed data is not resent.
#[test]
fn sack_recovery_retransmits_each_hole() {
    let cfg = Config {
        sack: true,
        ..quick()
    };
    let (mut c, out) = sender(cfg, 10);
    assert_eq!(c.negotiated().1, true);
    assert_eq!(out.len(), 10);
    // Segments 0 and 2 are lost; the others arrive and are SACKed one by one.
    let mut resent = Vec::new();
    let mut blocks = vec![(s(1), s(2))];
    for k in 3..10 {
        blocks.truncate(1);
        blocks.insert(0, (s(3), s(k + 1)));
        let out = exchange(
            &mut c,
            T0 + ms(50 + k as u64),
            sack(seg(ACK, IRS1, ISS1), &blocks),
        );
        resent.extend(seqs(&out));
    }
    assert!(c.in_recovery());
    assert_eq!(resent, vec![s(0), s(2)]);
}

// RFC 2018 section 8 (kept by RFC 6675 section 5.1): a receiver may discard data it has
// SACKed (reneging), so after a retransmission timeout the sender turns the SACKed bits off
// and chooses what to resend without them. Found by the tcp_pair fuzz target: a SACK from
// before three timeouts was kept, the bytes it covered, which the receiver no longer held,
// were never resent, and the transfer moved one segment per doubled RTO.
#[test]
fn after_an_rto_the_sack_information_from_before_is_forgotten() {
    let cfg = Config {
        sack: true,
        tlp: false,
        ..quick()
    };
    let (mut c, out) = sender(cfg, 3);
    assert_eq!(seqs(&out), vec![s(0), s(1), s(2)]);
    // Segment 1 is SACKed; 0 and 2 are lost.
    exchange(
        &mut c,
        T0 + ms(10),
        sack(seg(ACK, IRS1, ISS1), &[(s(1), s(2))]),
    );
    // Timers until the retransmission timeout has fired: it goes back to SND.UNA.
    let mut at = T0;
    let mut after_rto = Vec::new();
    while c.stats().rto_expirations == 0 {
        at = fire_next(&mut c);
        after_rto = seqs(&sent(&mut c, at));
    }
    assert_eq!(after_rto, vec![s(0)]);
    // The receiver reneged: its ACK of segment 0 carries no SACK for segment 1, which is
    // sent again, not skipped as SACKed.
    let out = exchange(&mut c, at + ms(1), seg(ACK, IRS1, s(1)));
    assert_eq!(seqs(&out).first(), Some(&s(1)), "{:?}", seqs(&out));
}

// What TCP_INFO says in the middle of that recovery: 10 segments out, 8 SACKed, the two
// holes lost by RFC 6675's IsLost (DupThresh segments SACKed above each).
#[test]
fn tcp_info_shows_sacked_and_lost_segments_in_recovery() {
    let cfg = Config {
        sack: true,
        ..quick()
    };
    let (mut c, _) = sender(cfg, 10);
    let blocks = [(s(3), s(10)), (s(1), s(2))];
    exchange(&mut c, T0 + ms(50), sack(seg(ACK, IRS1, ISS1), &blocks));
    let info = c.info();
    assert_eq!(info.recovery, sansnet_stack::tcp::RecoveryState::Recovery);
    assert_eq!(info.unacked_bytes, 10 * SMSS);
    assert_eq!(info.sacked_bytes, 8 * SMSS);
    assert_eq!(info.lost_bytes, 2 * SMSS);
    assert_eq!(
        (
            info.segments(info.sacked_bytes),
            info.segments(info.lost_bytes)
        ),
        (8, 2)
    );
    assert!(
        info.to_string().contains("unacked:10 sacked:8 lost:2"),
        "{info}"
    );
}

// RFC 5681 4.1: "if TCP has not sent data in an interval exceeding the retransmission
// timeout, ... cwnd is reduced to the value of the restart window" RW = min(IW, cwnd).
#[test]
fn restart_after_idle_uses_the_restart_window() {
    let (mut c, _) = sender(quick(), 10);
    for k in 1..=10 {
        exchange(&mut c, T0 + ms(50), seg(ACK, IRS1, s(k)));
    }
    assert_eq!(c.cwnd(), 20 * SMSS);
    let later = T0 + secs(10);
    c.send(&bytes(30 * SMSS)).unwrap();
    assert_eq!(sent(&mut c, later).len(), 10);
}

// RFC 5681 4.1: without the idle period, the grown window is used.
#[test]
fn no_restart_without_idle() {
    let (mut c, _) = sender(quick(), 10);
    for k in 1..=10 {
        exchange(&mut c, T0 + ms(50), seg(ACK, IRS1, s(k)));
    }
    c.send(&bytes(30 * SMSS)).unwrap();
    assert_eq!(sent(&mut c, T0 + ms(60)).len(), 20);
}

// RFC 5681 4.1: the idle period is one in which no *data* was sent: pure ACKs for data we
// receive do not count as sending.
#[test]
fn pure_acks_do_not_prevent_the_restart() {
    let (mut c, _) = sender(quick(), 10);
    for k in 1..=10 {
        exchange(&mut c, T0 + ms(50), seg(ACK, IRS1, s(k)));
    }
    // The peer talks for ten seconds; we only acknowledge.
    let mut rcv = IRS1;
    for t in 1..=10 {
        let out = exchange(&mut c, T0 + secs(t), data(rcv, s(10), b"chatter"));
        assert_eq!(out.len(), 1);
        rcv += 7;
    }
    c.send(&bytes(30 * SMSS)).unwrap();
    assert_eq!(sent(&mut c, T0 + secs(10)).len(), 10);
}

// RFC 9438 4.6 (CUBIC, selectable via Config.congestion, MAY-18): on a congestion event
// ssthresh = cwnd * beta_cubic (0.7).
#[test]
fn cubic_is_selectable_and_reduces_by_beta() {
    let cfg = Config {
        congestion: CongestionAlgorithm::Cubic,
        ..quick()
    };
    let (mut c, out) = sender(cfg, 10);
    assert_eq!(out.len(), 10, "same initial window");
    for i in 0..3 {
        dupack(&mut c, T0 + ms(50 + i));
    }
    assert!(c.in_recovery());
    assert_eq!(c.ssthresh(), 10 * SMSS * 7 / 10);
}
