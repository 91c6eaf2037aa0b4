//! Retransmission timeout (RFC 6298; RFC 9293 sections 3.8.1 and 3.8.3: MUST-18..23).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, Event, State, TimeoutKind};
use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// ESTABLISHED by an active open whose SYN-ACK took `rtt`; returns the time it completed.
fn established_after(cfg: Config, rtt: Duration) -> (Connection, Instant) {
    let mut c = syn_sent(cfg);
    let now = T0 + rtt;
    recv_seg(&mut c, now, PEER_SYN_ACK);
    assert_eq!(c.state(), State::Established);
    sent(&mut c, now);
    events(&mut c);
    (c, now)
}

/// RFC 6298 2.4 with the RFC's 1 s minimum instead of Linux's 200 ms.
fn rfc_rto() -> Config {
    Config {
        rto_min: secs(1),
        rto_max: secs(60),
        nagle: false,
        ..quick()
    }
}

// RFC 6298 2.1: "Until a round-trip time (RTT) measurement has been made for a segment sent
// between the sender and receiver, the sender SHOULD set RTO <- 1 second". The SYN is resent
// after 1 s, unchanged (RFC 9293 3.8.1).
#[test]
fn initial_rto_is_one_second() {
    let mut c = syn_sent(plain());
    assert_eq!(c.rto(), secs(1));
    assert_eq!(c.poll_timeout(), Some(T0 + secs(1)));
    c.handle_timeout(T0 + ms(999));
    sent_none(&mut c, T0 + ms(999));
    let at = fire_next(&mut c);
    assert_eq!(at, T0 + secs(1));
    let syn = sent_one(&mut c, at);
    assert_eq!(syn.ctl(), (SYN, ISS, SeqNumber(0)));
    assert_eq!(c.stats().retransmitted_segments, 1);
}

// RFC 6298 5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")", up to the
// maximum (2.5). SYN retransmissions at 1, 3, 7, 15 ... s.
#[test]
fn backoff_doubles_each_time() {
    let mut c = syn_sent(rfc_rto());
    let mut times = Vec::new();
    for _ in 0..7 {
        let at = fire_next(&mut c);
        assert_eq!(sent_one(&mut c, at).flags, SYN);
        times.push((at - T0).as_secs());
    }
    assert_eq!(
        times,
        vec![1, 3, 7, 15, 31, 63, 123],
        "capped at rto_max = 60 s"
    );
    assert_eq!(c.rto(), secs(60));
}

// RFC 6298 2.2: first sample R: SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max(G, K*RTTVAR),
// and 2.4: RTO is at least rto_min.
#[test]
fn first_sample_sets_rto_to_three_rtt() {
    let (c, _) = established_after(rfc_rto(), ms(500));
    assert_eq!(c.srtt(), Some(ms(500)));
    assert_eq!(c.rto(), ms(1500));
    let (c, _) = established_after(rfc_rto(), ms(10));
    assert_eq!(c.rto(), secs(1), "RFC 6298 2.4: RTO >= 1 s");
}

// RFC 6298 2.3: later samples: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|,
// SRTT <- 7/8 SRTT + 1/8 R'.
#[test]
fn later_samples_smooth() {
    let (mut c, now) = established_after(rfc_rto(), ms(400));
    c.send(b"x").unwrap();
    sent(&mut c, now);
    recv_seg(&mut c, now + ms(800), seg(ACK, IRS1, ISS1 + 1));
    // RTTVAR = 3/4 * 200 + 1/4 * 400 = 250; SRTT = 7/8 * 400 + 1/8 * 800 = 450.
    assert_eq!(c.srtt(), Some(ms(450)));
    assert_eq!(c.rto(), ms(450 + 4 * 250));
}

// RFC 6298 2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
#[test]
fn rto_is_capped_at_the_maximum() {
    let cfg = Config {
        r2_data: secs(3600),
        ..rfc_rto()
    };
    let (mut c, now) = established_after(cfg, ms(100));
    c.send(b"x").unwrap();
    sent(&mut c, now);
    for _ in 0..10 {
        let at = fire_next(&mut c);
        sent(&mut c, at);
    }
    assert_eq!(c.rto(), secs(60));
}

// RFC 6298 5.1: the timer runs while data is outstanding; 5.2: "When all outstanding data
// has been acknowledged, turn off the retransmission timer"; 5.3: "When an ACK is received
// that acknowledges new data, restart the retransmission timer".
#[test]
fn timer_restarts_on_new_ack_and_stops_when_all_acked() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(&bytes(2000)).unwrap();
    sent(&mut c, now);
    assert_eq!(c.poll_timeout(), Some(now + c.rto()));
    let later = now + ms(400);
    recv_seg(&mut c, later, seg(ACK, IRS1, ISS1 + 1000));
    assert_eq!(c.poll_timeout(), Some(later + c.rto()));
    recv_seg(&mut c, later, seg(ACK, IRS1, ISS1 + 2000));
    assert_eq!(c.poll_timeout(), None);
}

// RFC 6298 5.4: on expiry "Retransmit the earliest segment that has not been acknowledged",
// once.
#[test]
fn rto_retransmits_the_earliest_segment() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(&bytes(3000)).unwrap();
    let first = sent(&mut c, now);
    assert_eq!(first.len(), 3);
    let at = fire_next(&mut c);
    let out = sent(&mut c, at);
    assert_eq!(
        out.len(),
        1,
        "one segment: cwnd is one SMSS after an RTO (RFC 5681 3.1)"
    );
    assert_eq!(out[0].seq, ISS1);
    assert_eq!(out[0].payload, first[0].payload);
}

// RFC 6298 3 / RFC 9293 3.8.1 (MUST-18, Karn's algorithm): no RTT sample from an ACK of a
// retransmitted segment, and the backed-off RTO is kept until a valid sample (RFC 6298 5.7
// note).
#[test]
fn karn_no_sample_from_retransmitted_segments() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    let srtt = c.srtt();
    let base = c.rto();
    c.send(b"x").unwrap();
    sent(&mut c, now);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    recv_seg(&mut c, at + ms(50), seg(ACK, IRS1, ISS1 + 1));
    assert_eq!(c.srtt(), srtt, "ambiguous ACK: no sample");
    assert_eq!(c.rto(), base * 2, "backoff kept");
}

// RFC 6298 5.7 note / Karn: a fresh sample from a segment sent once resets the backoff.
#[test]
fn fresh_sample_resets_backoff() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(b"x").unwrap();
    sent(&mut c, now);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    recv_seg(&mut c, at + ms(50), seg(ACK, IRS1, ISS1 + 1));
    let t = at + ms(100);
    c.send(b"y").unwrap();
    sent(&mut c, t);
    recv_seg(&mut c, t + ms(100), seg(ACK, IRS1, ISS1 + 2));
    assert_eq!(c.srtt(), Some(ms(100)));
    assert_eq!(
        c.rto(),
        secs(1),
        "back to the computed RTO (clamped to 1 s)"
    );
}

// RFC 6298 5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
// implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3
// seconds when data transmission begins".
#[test]
fn rto_is_three_seconds_after_syn_loss() {
    let mut c = syn_sent(rfc_rto());
    let at = fire_next(&mut c);
    sent(&mut c, at);
    recv_seg(&mut c, at + ms(100), PEER_SYN_ACK);
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.srtt(), None, "Karn: the SYN was retransmitted");
    assert_eq!(c.rto(), secs(3));
}

// RFC 9293 3.8.1: the SYN-ACK is retransmitted on timeout too.
#[test]
fn syn_ack_is_retransmitted() {
    let mut c = syn_received(plain());
    let at = fire_next(&mut c);
    assert_eq!(at, T0 + secs(1));
    assert_eq!(sent_one(&mut c, at).ctl(), (SYN_ACK, ISS, IRS1));
}

// RFC 9293 3.8.3 (MUST-20, SHLD-9, SHLD-10): at R1 (>= 3 retransmissions) the application is
// told the path is in trouble, and the connection goes on; RFC 1122 4.2.3.5: the advice
// comes again at every timeout that "reaches or exceeds" R1.
#[test]
fn r1_tells_the_application() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(b"x").unwrap();
    sent(&mut c, now);
    for i in 1..=5 {
        let at = fire_next(&mut c);
        sent(&mut c, at);
        let ev = events(&mut c);
        assert_eq!(
            ev.contains(&Event::PathTrouble),
            i >= 3,
            "after {i} RTOs: {ev:?}"
        );
    }
    assert_eq!(c.state(), State::Established);
}

// RFC 1122 4.2.3.5 measures R1 on "the same segment"; Linux judges it by time since the
// episode began. An ACK of part of the flight (here the head segment, whose ACK had been
// lost) restarts the count of timeouts, but not the episode: once it is older than R1
// timeouts at the minimum RTO (15 x rto_min), the next timeout gives the advice.
#[test]
fn r1_counts_the_episode_not_the_timeouts_since_a_partial_ack() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(&bytes(2000)).unwrap();
    assert_eq!(sent(&mut c, now).len(), 2);
    // Four timeouts, 1, 2, 4 and 8 s apart: the fourth is 14 s into the episode.
    let mut at = now;
    for i in 1..=4 {
        at = fire_next(&mut c);
        sent(&mut c, at);
        assert_eq!(events(&mut c).contains(&Event::PathTrouble), i >= 3);
    }
    // The head segment is acknowledged: the count starts again.
    exchange(&mut c, at + ms(100), seg(ACK, IRS1, ISS1 + 1460));
    assert_eq!(c.info().unacked_bytes, 540);
    events(&mut c);
    // The next timeout is the first since that ACK, 30 s into the episode: advice.
    let at = fire_next(&mut c);
    // No sample (Karn: no timestamps, the timed segment was resent), so the RTO stays at 16 s.
    assert_eq!(at, now + secs(15) + ms(100) + secs(16));
    sent(&mut c, at);
    assert!(events(&mut c).contains(&Event::PathTrouble));
}

/// Fires timers (draining output) until the connection closes; returns when it did.
fn run_until_closed(c: &mut Connection) -> Instant {
    for _ in 0..1000 {
        let at = fire_next(c);
        sent(c, at);
        if c.state() == State::Closed {
            return at;
        }
    }
    panic!("never closed: {c:?}");
}

// RFC 9293 3.8.3 (MUST-20, SHLD-11): at R2 (>= 100 s) the connection is closed and the
// application told it timed out.
#[test]
fn r2_gives_up_on_data() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(b"x").unwrap();
    sent(&mut c, now);
    let first_rto = now + c.rto();
    let closed_at = run_until_closed(&mut c);
    assert_eq!(closed_at, first_rto + secs(100));
    assert_eq!(
        c.error(),
        Some(ConnectionError::TimedOut(TimeoutKind::Retransmission))
    );
    let ev = events(&mut c);
    assert!(ev.contains(&Event::Failed(ConnectionError::TimedOut(
        TimeoutKind::Retransmission
    ))));
}

// RFC 9293 3.8.3 (MUST-22, MUST-23): the same for SYNs, with R2 >= 3 minutes.
#[test]
fn r2_gives_up_on_syn_after_three_minutes() {
    let mut c = syn_sent(rfc_rto());
    let closed_at = run_until_closed(&mut c);
    assert!(
        closed_at - T0 >= secs(180),
        "gave up after {:?}",
        closed_at - T0
    );
    assert_eq!(closed_at, T0 + secs(1) + secs(180));
    assert_eq!(c.error(), Some(ConnectionError::TimedOut(TimeoutKind::Syn)));
}

// RFC 9293 3.8.3 (MUST-21) / RFC 5482: the application sets the give-up time (the user
// timeout), which replaces R2 for data.
#[test]
fn user_timeout_replaces_r2() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.set_user_timeout(Some(secs(10)));
    c.send(b"x").unwrap();
    sent(&mut c, now);
    let closed_at = run_until_closed(&mut c);
    // RFC 5482 section 2 bounds how long "transmitted data may remain unacknowledged":
    // the clock starts at the transmission, not at the first retransmission.
    assert_eq!(closed_at, now + secs(10));
    assert_eq!(
        c.error(),
        Some(ConnectionError::TimedOut(TimeoutKind::UserTimeout))
    );
}

// RFC 9293 3.8.3: progress (an ACK of new data) resets the give-up clock.
#[test]
fn progress_resets_the_give_up_clock() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.set_user_timeout(Some(secs(10)));
    c.send(&bytes(2000)).unwrap();
    sent(&mut c, now);
    // Three retransmissions (at 1, 3 and 7 s), then the first segment is acked.
    let mut at = now;
    for _ in 0..3 {
        at = fire_next(&mut c);
        sent(&mut c, at);
    }
    assert_eq!(at, now + secs(7));
    at += ms(500);
    recv_seg(&mut c, at, seg(ACK, IRS1, ISS1 + 1000));
    sent(&mut c, at);
    let closed_at = run_until_closed(&mut c);
    assert!(
        closed_at >= at + secs(10),
        "closed at {closed_at}, progress at {at}"
    );
}

// RFC 9293 3.8.1 (MUST-18, Karn): a SYN-ACK sent again because the peer's SYN was
// retransmitted is a retransmission too: the ACK that follows gives no RTT sample.
#[test]
fn karn_applies_to_syn_ack_resent_for_a_duplicate_syn() {
    let mut c = syn_received(rfc_rto());
    let t = T0 + ms(900);
    let out = exchange(&mut c, t, PEER_SYN);
    assert_eq!(out[0].flags, SYN_ACK);
    recv_seg(&mut c, t + ms(50), PEER_ACK);
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.srtt(), None, "ambiguous: which SYN-ACK was acked?");
}

// MUST-18 (Karn) where timestamps leave the timing ambiguous. After a timeout, an ACK that
// echoes a TSval from before it acknowledges the original transmission, but it may be a late
// stand-in for an ACK that was lost: a receiver echoes TS.Recent, which a segment rejected as
// a duplicate does not update (here, as in Linux). Timed from the original, it measured a
// 4.9 s partition as a 6.2 s round trip where the path's was 60 ms (a large-mix sweep: bulk
// 92868). No sample, the backed-off RTO stays; the echo of the retransmission is a sample
// and ends the backoff.
#[test]
fn an_echo_from_before_the_timeout_is_no_rtt_sample() {
    let cfg = Config {
        timestamps: true,
        tlp: false,
        ..rfc_rto()
    };
    let mut c = established(cfg);
    c.send(&bytes(2000)).unwrap();
    let original = sent(&mut c, T0);
    assert_eq!(original.len(), 2);
    let original_tsval = original[0].ts.expect("timestamps on").tsval;
    let srtt = c.srtt();

    let at = fire_next(&mut c);
    let resent = sent_one(&mut c, at);
    assert_eq!(resent.seq, ISS1);
    let resent_tsval = resent.ts.expect("timestamps on").tsval;
    assert!(resent_tsval > original_tsval);
    let backed_off = c.rto();

    // Six seconds on, the first segment is acknowledged, echoing the original's TSval.
    let late = at + secs(6);
    recv_seg(
        &mut c,
        late,
        ts(seg(ACK, IRS1, ISS1 + 1000), 7100, original_tsval),
    );
    assert_eq!(c.info().unacked_bytes, 1000);
    assert_eq!((c.srtt(), c.rto()), (srtt, backed_off));
    assert_eq!(c.stats().rtt_samples_ambiguous, 1);

    // The rest, echoing the retransmission: a sample, 6 s + 20 ms, and the backoff ends.
    recv_seg(
        &mut c,
        late + ms(20),
        ts(seg(ACK, IRS1, ISS1 + 2000), 7120, resent_tsval),
    );
    assert_ne!(c.srtt(), srtt);
    assert_eq!(c.stats().rtt_samples_ambiguous, 1);
    assert!(c.rto() > secs(1) && c.rto() != backed_off, "{:?}", c.rto());
}

// A new link-layer address for the next hop (the host's ARP table repaired a wrong one):
// while the timeout is backed off, the earliest unacknowledged segment goes again at once;
// the timer keeps its deadline and the RTO its backoff, since this is not a timeout.
#[test]
fn next_hop_change_resends_at_once_while_backed_off() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(&bytes(3000)).unwrap();
    let first = sent(&mut c, now);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    let (rto, deadline) = (c.rto(), c.poll_timeout());
    let t = at + ms(300);
    c.handle_next_hop_change(t);
    let out = sent(&mut c, t);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq, ISS1);
    assert_eq!(out[0].payload, first[0].payload);
    assert_eq!(c.stats().next_hop_resends, 1);
    assert_eq!(c.stats().rto_expirations, 2);
    let info = c.info().to_string();
    assert!(
        info.contains("rto_fired:2 ") && info.contains(" next_hop_resends:1"),
        "{info}"
    );
    assert_eq!((c.rto(), c.poll_timeout()), (rto, deadline));
}

// Outside a timeout episode the change sends nothing: fast retransmit, RACK and an RTO that
// has not backed off find what went astray.
#[test]
fn next_hop_change_sends_nothing_outside_a_timeout() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(&bytes(3000)).unwrap();
    sent(&mut c, now);
    let deadline = c.poll_timeout();
    c.handle_next_hop_change(now + ms(10));
    sent_none(&mut c, now + ms(10));
    assert_eq!(c.poll_timeout(), deadline);
    assert_eq!(c.stats().next_hop_resends, 0);
}

// A SYN backed off resends at once too.
#[test]
fn next_hop_change_resends_a_backed_off_syn() {
    let mut c = syn_sent(rfc_rto());
    sent(&mut c, T0);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    c.handle_next_hop_change(at + ms(500));
    let syn = sent_one(&mut c, at + ms(500));
    assert_eq!(syn.ctl(), (SYN, ISS, SeqNumber(0)));
    assert_eq!(c.poll_timeout(), Some(at + secs(2)));
}

// Once a timeout at most: addresses changing back and forth (gratuitous or damaged ARP
// replies) do not make a backed-off connection send a segment for each; the next timeout
// allows one again.
#[test]
fn next_hop_change_resends_once_a_timeout() {
    let (mut c, now) = established_after(rfc_rto(), ms(100));
    c.send(&bytes(1000)).unwrap();
    sent(&mut c, now);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    let mut resent = Vec::new();
    for k in 1..=3 {
        let t = at + ms(10 * k);
        c.handle_next_hop_change(t);
        resent.push(sent(&mut c, t).len());
    }
    assert_eq!(resent, vec![1, 0, 0]);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    c.handle_next_hop_change(at + ms(10));
    assert_eq!(sent(&mut c, at + ms(10)).len(), 1);
    assert_eq!(c.stats().next_hop_resends, 2);
}
