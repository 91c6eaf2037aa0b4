//! TIME-WAIT (RFC 9293 sections 3.6.1 and 3.10.7.4; RFC 1337).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, DropReason, Event, State};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

const FIN_ACKED: SeqNumber = SeqNumber(1002);
/// RCV.NXT once the peer's FIN is in.
const PEER_FIN_ACKED: SeqNumber = SeqNumber(5002);

/// TIME-WAIT entered at `T0 + 1 s` after an active close, with MSL = 5 s.
fn time_wait() -> (Connection, Instant) {
    let mut c = established(Config {
        msl: secs(5),
        ..quick()
    });
    c.close(T0).unwrap();
    sent(&mut c, T0);
    recv_seg(&mut c, T0, seg(ACK, IRS1, FIN_ACKED));
    let at = T0 + secs(1);
    let out = exchange(&mut c, at, seg(FIN_ACK, IRS1, FIN_ACKED));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, PEER_FIN_ACKED));
    assert_eq!(c.state(), State::TimeWait);
    events(&mut c);
    (c, at)
}

// RFC 9293 3.6.1 (MUST-13): "When a connection is closed actively, it MUST linger in the
// TIME-WAIT state for a time 2xMSL". MSL is configurable; the timer is the only one left.
#[test]
fn time_wait_lasts_two_msl() {
    let (mut c, entered) = time_wait();
    assert_eq!(c.poll_timeout(), Some(entered + secs(10)));
    c.handle_timeout(entered + ms(9_999));
    assert_eq!(c.state(), State::TimeWait);
    c.handle_timeout(entered + secs(10));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), None);
    assert_eq!(events(&mut c), vec![Event::Closed]);
    sent_none(&mut c, entered + secs(10));
    assert_eq!(c.poll_timeout(), None);
}

// RFC 9293 3.10.7.4 eighth, TIME-WAIT: "Remain in the TIME-WAIT state. Restart the 2 MSL
// time-wait timeout." -- and the retransmitted FIN is acknowledged again.
#[test]
fn retransmitted_fin_is_reacked_and_restarts_the_timer() {
    let (mut c, entered) = time_wait();
    let later = entered + secs(7);
    let out = exchange(&mut c, later, seg(FIN_ACK, IRS1, FIN_ACKED));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, PEER_FIN_ACKED));
    assert_eq!(c.poll_timeout(), Some(later + secs(10)));
    c.handle_timeout(entered + secs(10));
    assert_eq!(
        c.state(),
        State::TimeWait,
        "the old deadline no longer applies"
    );
}

// RFC 1337 section 3 (TIME-WAIT assassination, fix F1): "ignore RST segments in TIME-WAIT
// state". An exactly matching RST does not end TIME-WAIT early.
#[test]
fn exact_rst_is_ignored() {
    let (mut c, entered) = time_wait();
    assert_eq!(
        exchange(
            &mut c,
            entered + secs(1),
            seg(RST, PEER_FIN_ACKED, SeqNumber(0))
        ),
        vec![]
    );
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(c.stats().drops(DropReason::RstInTimeWait), 1);
    assert_eq!(c.poll_timeout(), Some(entered + secs(10)));
}

// RFC 1337 / RFC 5961 3.2: a RST elsewhere does not end TIME-WAIT either.
#[test]
fn other_rsts_do_not_end_time_wait() {
    let (mut c, entered) = time_wait();
    for seq in [
        PEER_FIN_ACKED + 5,
        PEER_FIN_ACKED - 1,
        PEER_FIN_ACKED + 1_000_000,
    ] {
        for s in exchange(&mut c, entered, seg(RST_ACK, seq, FIN_ACKED)) {
            assert_eq!(s.flags, ACK, "at most a challenge ACK");
        }
        assert_eq!(c.state(), State::TimeWait);
    }
}

// RFC 5961 4 / RFC 9293 3.10.7.4 fourth: a SYN in TIME-WAIT draws a challenge ACK in the
// engine; reopening with a higher ISN (RFC 6191, MAY-2) is the host's decision.
#[test]
fn syn_draws_challenge_ack() {
    let (mut c, entered) = time_wait();
    let out = exchange(
        &mut c,
        entered,
        seg(SYN, PEER_FIN_ACKED + 100, SeqNumber(0)),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, PEER_FIN_ACKED));
    assert_eq!(c.state(), State::TimeWait);
}

// RFC 9293 3.10.7.4 seventh, TIME-WAIT: segment text is ignored.
#[test]
fn data_is_ignored() {
    let (mut c, entered) = time_wait();
    recv_seg(&mut c, entered, data(PEER_FIN_ACKED, FIN_ACKED, b"zombie"));
    assert_eq!(c.recv_queue_len(), 0);
    assert_eq!(c.state(), State::TimeWait);
}

// RFC 9293 3.10.7.4 fifth, TIME-WAIT: "The only thing that can arrive in this state is a
// retransmission of the remote FIN." A duplicate ACK changes nothing.
#[test]
fn plain_ack_changes_nothing() {
    let (mut c, entered) = time_wait();
    assert_eq!(
        exchange(&mut c, entered, seg(ACK, PEER_FIN_ACKED, FIN_ACKED)),
        vec![]
    );
    assert_eq!(c.poll_timeout(), Some(entered + secs(10)));
}

// RFC 9293 3.6 case 3: CLOSING -> TIME-WAIT also waits 2 MSL.
#[test]
fn closing_to_time_wait_waits_two_msl() {
    let mut c = established(Config {
        msl: secs(3),
        ..quick()
    });
    c.close(T0).unwrap();
    sent(&mut c, T0);
    recv_seg(&mut c, T0, seg(FIN_ACK, IRS1, ISS1));
    assert_eq!(c.state(), State::Closing);
    let at = T0 + ms(100);
    recv_seg(&mut c, at, seg(ACK, PEER_FIN_ACKED, FIN_ACKED));
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(c.poll_timeout(), Some(at + secs(6)));
}

// RFC 9293 3.10.5 ABORT in TIME-WAIT: "respond with 'ok' and delete the TCB" -- no RST.
#[test]
fn abort_sends_nothing() {
    let (mut c, entered) = time_wait();
    c.abort(entered);
    sent_none(&mut c, entered);
    assert_eq!(c.state(), State::Closed);
}

// RFC 9293 3.6.1 (MUST-13): the passive closer does not enter TIME-WAIT.
#[test]
fn passive_close_skips_time_wait() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, seg(FIN_ACK, IRS1, ISS1));
    c.close(T0).unwrap();
    sent(&mut c, T0);
    recv_seg(&mut c, T0, seg(ACK, PEER_FIN_ACKED, FIN_ACKED));
    assert_eq!(c.state(), State::Closed);
}

/// An ACK below RCV.NXT: unacceptable in TIME-WAIT, as a peer whose state disagrees (a
/// SYN-RECEIVED on the same 4-tuple, say) sends it in answer to our own ACKs.
fn old_ack() -> sansnet_stack::wire::tcp::Repr<'static> {
    seg(ACK, PEER_FIN_ACKED - 1000, FIN_ACKED)
}

// RFC 9293 3.10.7.4 first: an unacceptable segment is answered with an ACK, but two ends
// that each find the other's ACKs unacceptable would answer each other without end (at one
// instant on a zero-latency link: found by a sweep, partition-heals seed 15804). One answer
// an `out_of_window_ack_interval` (Linux's tcp_invalid_ratelimit, 500 ms) ends the loop.
#[test]
fn out_of_window_acks_are_answered_once_an_interval() {
    let (mut c, entered) = time_wait();
    let interval = Config::default().out_of_window_ack_interval;
    let answers: usize = (0..1000)
        .map(|_| exchange(&mut c, entered, old_ack()).len())
        .sum();
    assert_eq!(answers, 1);
    assert_eq!(c.stats().out_of_window_acks_limited, 999);
    assert_eq!(c.stats().drops(DropReason::OutOfWindow), 1000);
    let almost = entered + (interval - ms(1));
    assert_eq!(exchange(&mut c, almost, old_ack()), vec![]);
    let out = exchange(&mut c, entered + interval, old_ack());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, PEER_FIN_ACKED));
}

// What cannot loop is still answered every time: a retransmitted FIN (its ACK may have
// been lost, and the peer waits for it) and old data (its D-SACK tells the sender).
#[test]
fn fins_and_data_are_answered_even_within_the_interval() {
    let (mut c, entered) = time_wait();
    assert_eq!(exchange(&mut c, entered, old_ack()).len(), 1);
    for _ in 0..3 {
        let out = exchange(&mut c, entered, seg(FIN_ACK, IRS1, FIN_ACKED));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, PEER_FIN_ACKED));
        let old = PEER_FIN_ACKED - 100;
        let out = exchange(&mut c, entered, data(old, FIN_ACKED, b"old"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, PEER_FIN_ACKED));
    }
    assert_eq!(c.stats().out_of_window_acks_limited, 0);
}
