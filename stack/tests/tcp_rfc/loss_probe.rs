//! Tail Loss Probe and RACK-style loss inference (RFC 8985 sections 6 and 7).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

const SMSS: usize = 1460;

/// The start of our `k`th full segment (from 0).
fn s(k: usize) -> SeqNumber {
    ISS1 + k * SMSS
}

/// No timestamps or window scaling, but SACK (TLP needs it); Nagle and delayed ACKs off.
fn tlp_config() -> Config {
    Config {
        sack: true,
        nagle: false,
        delayed_ack: false,
        ..plain()
    }
}

/// ESTABLISHED, the SYN-ACK having come back after 100 ms: SRTT = 100 ms, RTTVAR = 50 ms,
/// RTO = 300 ms (RFC 6298 2.2). Returns the connection and the time it was established.
fn measured(cfg: Config) -> (Connection, Instant) {
    let mut c = Connection::connect_with_iss(T0, cfg.clone(), LOCAL, REMOTE, ISS);
    sent_one(&mut c, T0);
    let t = T0 + ms(100);
    recv_seg(&mut c, t, synack_for(&cfg, 0));
    sent_one(&mut c, t);
    events(&mut c);
    assert_eq!(c.srtt(), Some(ms(100)));
    assert_eq!(c.rto(), ms(300));
    (c, t)
}

/// `measured` with `n` full segments written and sent at `t`.
fn flight(cfg: Config, n: usize) -> (Connection, Instant, Vec<Seg>) {
    let (mut c, t) = measured(cfg);
    c.send(&bytes(n * SMSS)).unwrap();
    let out = sent(&mut c, t);
    (c, t, out)
}

fn seqs(segs: &[Seg]) -> Vec<SeqNumber> {
    segs.iter().map(|x| x.seq).collect()
}

// RFC 8985 7.2: after sending new data, PTO = 2*SRTT (here 200 ms, before the 300 ms RTO).
#[test]
fn pto_is_two_srtt_after_sending() {
    let (mut c, t, out) = flight(tlp_config(), 3);
    assert_eq!(seqs(&out), vec![s(0), s(1), s(2)]);
    assert_eq!(c.poll_timeout(), Some(t + ms(200)));
    // "upon receiving an ACK that cumulatively acknowledges data": restarted from the ACK.
    assert_eq!(exchange(&mut c, t + ms(50), seg(ACK, IRS1, s(1))), vec![]);
    let srtt = c.srtt().unwrap();
    assert_eq!(
        srtt,
        ms(100) - ms(50) / 8,
        "the ACK timed segment 0: a 50 ms sample"
    );
    assert_eq!(c.poll_timeout(), Some(t + ms(50) + srtt * 2));
}

// RFC 8985 7.2: with one segment in flight the PTO adds WCDelAckT (200 ms), and "if the
// time at which an RTO would fire ... is sooner than the computed time for the PTO, then
// the sender schedules a TLP to be sent at that RTO time": the probe replaces the first RTO.
#[test]
fn pto_with_one_segment_in_flight_is_capped_by_the_rto() {
    let (mut c, t, _) = flight(tlp_config(), 1);
    assert_eq!(c.poll_timeout(), Some(t + ms(300)));
    let at = fire_next(&mut c);
    let probe = sent_one(&mut c, at);
    assert_eq!((probe.seq, probe.len()), (s(0), SMSS));
    assert_eq!(c.stats().tlp_probes_sent, 1);
    assert_eq!(
        c.stats().rto_expirations,
        0,
        "the probe went out instead of the RTO"
    );
    assert_eq!(c.poll_timeout(), Some(at + ms(300)), "the RTO is re-armed");
}

// RFC 8985 7.3: "the sender SHOULD transmit a previously unsent data segment, if one exists
// and the receive window allows", even though cwnd is full.
#[test]
fn probe_sends_new_data_beyond_cwnd() {
    let (mut c, t, out) = flight(tlp_config(), 12);
    assert_eq!(out.len(), 10, "the initial window");
    let at = fire_next(&mut c);
    assert_eq!(at, t + ms(200));
    let probe = sent_one(&mut c, at);
    assert_eq!((probe.seq, probe.len()), (s(10), SMSS));
    assert_eq!(c.stats().tlp_probes_sent, 1);
    assert_eq!(c.stats().retransmitted_segments, 0);
    assert_eq!(c.cwnd(), 10 * SMSS, "a probe is no congestion signal");
    // "the sender MUST re-arm the RTO timer, not the PTO timer".
    assert_eq!(c.poll_timeout(), Some(at + ms(300)));
}

// RFC 8985 7.3: "If such a segment is not available, then the sender SHOULD retransmit the
// most recently sent segment".
#[test]
fn probe_retransmits_the_last_segment_when_nothing_is_new() {
    let (mut c, t, _) = flight(tlp_config(), 3);
    let at = fire_next(&mut c);
    assert_eq!(at, t + ms(200));
    let probe = sent_one(&mut c, at);
    assert_eq!((probe.seq, probe.len()), (s(2), SMSS));
    assert_eq!(c.stats().tlp_probes_sent, 1);
    assert_eq!(c.stats().retransmitted_segments, 1);
    assert_eq!(c.stats().rto_expirations, 0);
}

// The knob: with `tlp` off, only the RFC 6298 RTO repairs a tail loss.
#[test]
fn no_probe_when_tlp_is_off() {
    let cfg = Config {
        tlp: false,
        ..tlp_config()
    };
    let (mut c, t, _) = flight(cfg, 3);
    assert_eq!(c.poll_timeout(), Some(t + ms(300)), "the RTO, no PTO");
    let at = fire_next(&mut c);
    assert_eq!(seqs(&sent(&mut c, at)), vec![s(0)]);
    assert_eq!(c.stats().tlp_probes_sent, 0);
    assert_eq!(c.stats().rto_expirations, 1);
}

// RFC 8985 7.2: "A sender SHOULD ... schedule a PTO only if ... The connection supports SACK".
#[test]
fn no_probe_without_sack() {
    let (c, t, _) = flight(quick(), 3);
    assert_eq!(c.poll_timeout(), Some(t + ms(300)));
}

// RFC 8985 7.3: after the probe "the sender MUST re-arm the RTO timer ... This ensures RTO
// recovery remains the last resort if TLP fails": a lost probe ends in the RTO.
#[test]
fn rto_still_fires_if_the_probe_is_lost() {
    let (mut c, t, _) = flight(tlp_config(), 3);
    let pto = fire_next(&mut c);
    assert_eq!(pto, t + ms(200));
    sent_one(&mut c, pto);
    let rto = fire_next(&mut c);
    assert_eq!(rto, pto + ms(300));
    assert_eq!(
        seqs(&sent(&mut c, rto)),
        vec![s(0)],
        "go back N from SND.UNA"
    );
    assert_eq!(c.stats().rto_expirations, 1);
    assert_eq!(
        c.stats().tlp_probes_sent,
        1,
        "no second probe before the RTO"
    );
    assert_eq!(c.cwnd(), SMSS);
}

// RFC 8985 7.3: "there is no other previous loss probe still in flight": an ACK below the
// probe restarts the PTO, but when that fires no second probe goes out.
#[test]
fn at_most_one_probe_in_flight() {
    let (mut c, t, _) = flight(tlp_config(), 3);
    let pto = fire_next(&mut c);
    sent_one(&mut c, pto);
    assert_eq!(exchange(&mut c, pto + ms(10), seg(ACK, IRS1, s(1))), vec![]);
    let srtt = c.srtt().unwrap();
    assert_eq!(
        c.poll_timeout(),
        Some(pto + ms(10) + srtt * 2),
        "PTO restarted by the ACK"
    );
    let at = fire_next(&mut c);
    sent_none(&mut c, at);
    assert_eq!(c.stats().tlp_probes_sent, 1);
    assert_eq!(
        c.poll_timeout(),
        Some(at + c.rto()),
        "the RTO stands behind it"
    );
    let _ = t;
}

// RFC 8985 7.4.2: a probe that resent the last segment, followed by an ACK beyond it with no
// D-SACK, repaired a loss by itself: congestion control reacts as to any loss.
#[test]
fn probe_that_repaired_a_loss_reduces_cwnd() {
    let (mut c, t, _) = flight(tlp_config(), 3);
    let pto = fire_next(&mut c);
    assert_eq!(sent_one(&mut c, pto).seq, s(2));
    // The probe's ACK covers everything; then new data is sent and acknowledged past it.
    exchange(&mut c, pto + ms(100), seg(ACK, IRS1, s(3)));
    assert_eq!(
        c.stats().tlp_losses_repaired,
        0,
        "not yet known: a D-SACK may follow"
    );
    c.send(&bytes(SMSS)).unwrap();
    assert_eq!(seqs(&sent(&mut c, pto + ms(100))), vec![s(3)]);
    exchange(&mut c, pto + ms(200), seg(ACK, IRS1, s(4)));
    assert_eq!(c.stats().tlp_losses_repaired, 1);
    assert!(c.ssthresh() < usize::MAX);
    let _ = t;
}

// RFC 8985 7.4.2 (and RFC 2883): a D-SACK for the probe says the original arrived too:
// nothing was lost, cwnd stays.
#[test]
fn probe_reported_as_duplicate_leaves_cwnd_alone() {
    let (mut c, _, _) = flight(tlp_config(), 3);
    let pto = fire_next(&mut c);
    sent_one(&mut c, pto);
    exchange(&mut c, pto + ms(100), seg(ACK, IRS1, s(3)));
    let dsack_ack = sack(seg(ACK, IRS1, s(3)), &[(s(2), s(3))]);
    exchange(&mut c, pto + ms(101), dsack_ack);
    c.send(&bytes(SMSS)).unwrap();
    sent(&mut c, pto + ms(101));
    exchange(&mut c, pto + ms(200), seg(ACK, IRS1, s(4)));
    assert_eq!(c.stats().tlp_losses_repaired, 0);
    assert_eq!(c.ssthresh(), usize::MAX);
}

// RFC 8985 6.2-6.3 (as sansnet applies it without per-segment times): a hole below SACKed
// data is lost once the reordering window (SRTT/4) has passed, even when the flight is too
// short for three duplicate ACKs; without it, only the RTO repairs the hole.
#[test]
fn hole_below_sacked_data_is_resent_after_the_reordering_window() {
    let (mut c, t, _) = flight(tlp_config(), 3);
    let now = t + ms(100);
    let dup1 = sack(seg(ACK, IRS1, s(0)), &[(s(1), s(2))]);
    let dup2 = sack(seg(ACK, IRS1, s(0)), &[(s(1), s(3))]);
    assert_eq!(exchange(&mut c, now, dup1), vec![]);
    assert_eq!(exchange(&mut c, now, dup2), vec![]);
    assert!(!c.in_recovery(), "two duplicate ACKs: below DupThresh");
    assert_eq!(c.poll_timeout(), Some(now + ms(25)), "reo_wnd = SRTT/4");
    let at = fire_next(&mut c);
    assert_eq!(seqs(&sent(&mut c, at)), vec![s(0)]);
    assert!(c.in_recovery());
    assert_eq!(c.stats().rto_expirations, 0);

    let cfg = Config {
        rack: false,
        ..tlp_config()
    };
    let (mut c, t, _) = flight(cfg, 3);
    let now = t + ms(100);
    exchange(&mut c, now, sack(seg(ACK, IRS1, s(0)), &[(s(1), s(2))]));
    assert_eq!(
        c.poll_timeout(),
        Some(t + ms(300)),
        "the RTO (no PTO with SACKed data)"
    );
}

// RFC 8985 6.2's inference for retransmissions: in recovery, data sent after a
// retransmission is SACKed while the retransmitted hole stays: the retransmission is lost
// and goes out again, long before the RTO.
#[test]
fn lost_retransmission_is_sent_again() {
    let (mut c, t, out) = flight(tlp_config(), 30);
    assert_eq!(out.len(), 10);
    let mut now = t + ms(100);
    // Segment 0 lost; the rest of the flight arrives: duplicate ACKs with SACK, limited
    // transmit, then fast retransmit and new data as the pipe drains (RFC 6675).
    let mut after_rexmit = Vec::new();
    let mut resent = false;
    for k in 1..10 {
        now += ms(1);
        for x in exchange(&mut c, now, sack(seg(ACK, IRS1, s(0)), &[(s(1), s(k + 1))])) {
            if x.seq == s(0) {
                resent = true;
            } else if resent {
                after_rexmit.push(x.seq);
            }
        }
    }
    assert!(c.in_recovery() && resent);
    assert!(!after_rexmit.is_empty(), "recovery sent new data");
    assert_eq!(c.stats().lost_retransmissions, 0);
    // The retransmission is lost; what was sent after it arrives, one segment at a time. By
    // the third (DupThresh) SACKed, segment 0 goes out again.
    let mut queue: std::collections::VecDeque<SeqNumber> = after_rexmit.into();
    let mut again = Vec::new();
    for _ in 0..3 {
        let seq = queue.pop_front().expect("recovery keeps sending new data");
        now += ms(1);
        let segs = exchange(
            &mut c,
            now,
            sack(seg(ACK, IRS1, s(0)), &[(s(1), seq + SMSS)]),
        );
        queue.extend(segs.iter().filter(|x| x.seq != s(0)).map(|x| x.seq));
        again.extend(segs);
    }
    assert_eq!(c.stats().lost_retransmissions, 1);
    assert!(again.iter().any(|x| x.seq == s(0)), "{again:#?}");
    assert_eq!(c.stats().rto_expirations, 0);
}

/// Feeds ACKs of `ack` carrying each of `blocks` (SACK blocks in segments), one a
/// millisecond from `now`; returns what went out.
fn feed(
    c: &mut Connection,
    now: &mut Instant,
    ack: SeqNumber,
    blocks: &[&[(usize, usize)]],
) -> Vec<Seg> {
    let mut out = Vec::new();
    for b in blocks {
        *now += ms(1);
        let ranges: Vec<_> = b.iter().map(|&(x, y)| (s(x), s(y))).collect();
        out.extend(exchange(c, *now, sack(seg(ACK, IRS1, ack), &ranges)));
    }
    out
}

// RFC 8985 6.2 in recovery: an original transmission still missing when data sent after it
// was SACKed is lost once the reordering window passed, though fewer than DupThresh
// segments are SACKed above it. Before, only the RTO repaired it when the ACKs stopped.
#[test]
fn in_recovery_a_hole_below_sacked_data_is_lost_after_the_reordering_window() {
    // Ten segments and no more data: what recovery may send is not taken by new data.
    let (mut c, t, out) = flight(tlp_config(), 10);
    assert_eq!(out.len(), 10);
    let mut now = t + ms(100);
    // Segment 0 lost, 1..4 arrive: fast retransmit of 0 at the third duplicate ACK.
    let first = feed(
        &mut c,
        &mut now,
        s(0),
        &[&[(1, 2)], &[(1, 3)], &[(1, 4)], &[(1, 5)]],
    );
    assert!(c.in_recovery());
    assert!(seqs(&first).contains(&s(0)));
    // Segment 5 lost, 6 arrives; then the ACKs stop (everything else lost).
    feed(&mut c, &mut now, s(0), &[&[(6, 7), (1, 5)]]);
    assert_eq!(
        c.poll_timeout(),
        Some(now + ms(25)),
        "reo_wnd = SRTT/4, not the RTO"
    );
    let at = fire_next(&mut c);
    let again = sent(&mut c, at);
    assert_eq!(seqs(&again).first(), Some(&s(5)), "{again:#?}");
    assert!(c.info().lost_bytes >= SMSS);
    assert_eq!(c.stats().rto_expirations, 0);
}

// RFC 8985 6.2 in recovery, with nothing SACKed: segments sent before a retransmission
// that has arrived, and still missing a reordering window later, are lost.
#[test]
fn in_recovery_what_was_sent_before_an_arrived_retransmission_is_lost() {
    let (mut c, t, _) = flight(tlp_config(), 30);
    let mut now = t + ms(100);
    // Segment 0 lost, 1..7 arrive, 8 and 9 lost; fast retransmit of 0 at the third
    // duplicate ACK; everything sent after it, but the retransmission, is lost.
    let blocks: Vec<Vec<(usize, usize)>> = (2..=8).map(|k| vec![(1, k)]).collect();
    let refs: Vec<&[(usize, usize)]> = blocks.iter().map(Vec::as_slice).collect();
    let first = feed(&mut c, &mut now, s(0), &refs);
    assert!(c.in_recovery() && seqs(&first).contains(&s(0)));
    // The retransmission arrives: a cumulative ACK up to the hole at 8, nothing SACKed.
    feed(&mut c, &mut now, s(8), &[&[]]);
    assert!(c.in_recovery());
    assert_eq!(
        c.poll_timeout(),
        Some(now + ms(25)),
        "reo_wnd = SRTT/4, not the RTO"
    );
    let at = fire_next(&mut c);
    let again = sent(&mut c, at);
    assert_eq!(seqs(&again).first(), Some(&s(8)), "{again:#?}");
    assert_eq!(c.stats().rto_expirations, 0);
}
