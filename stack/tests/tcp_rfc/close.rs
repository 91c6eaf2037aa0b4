//! Closing (RFC 9293 sections 3.6, 3.10.4, 3.10.7.4): FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT,
//! CLOSING, LAST-ACK, half-close, and resets on close with unread data.

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, DropReason, Error, Event, State};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// Our FIN's sequence number when nothing was sent, and the ACK that covers it.
const FIN_SEQ: SeqNumber = ISS1;
const FIN_ACKED: SeqNumber = SeqNumber(1002);

/// FIN-WAIT-1: we closed and sent FIN; it is not yet acknowledged.
fn fin_wait_1() -> Connection {
    let mut c = established(quick());
    c.close(T0).unwrap();
    let fin = sent_one(&mut c, T0);
    assert_eq!(fin.ctl(), (FIN_ACK, FIN_SEQ, IRS1));
    assert_eq!(c.state(), State::FinWait1);
    c
}

fn fin_wait_2() -> Connection {
    let mut c = fin_wait_1();
    assert_eq!(exchange(&mut c, T0, seg(ACK, IRS1, FIN_ACKED)), vec![]);
    assert_eq!(c.state(), State::FinWait2);
    c
}

fn close_wait() -> Connection {
    let mut c = established(quick());
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, ISS1));
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1 + 1));
    assert_eq!(c.state(), State::CloseWait);
    events(&mut c);
    c
}

fn last_ack() -> Connection {
    let mut c = close_wait();
    c.close(T0).unwrap();
    let fin = sent_one(&mut c, T0);
    assert_eq!(fin.ctl(), (FIN_ACK, FIN_SEQ, IRS1 + 1));
    assert_eq!(c.state(), State::LastAck);
    c
}

// RFC 9293 3.10.4 CLOSE in ESTABLISHED: "Queue this until all preceding SENDs have been
// segmentized, then form a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
#[test]
fn close_sends_fin_after_queued_data() {
    let mut c = established(quick());
    c.send(b"last words").unwrap();
    c.close(T0).unwrap();
    let out = sent(&mut c, T0);
    assert_eq!(out.len(), 1, "the FIN rides on the last data: {out:#?}");
    assert!(out[0].has(FIN));
    assert_eq!(out[0].payload, b"last words");
    assert_eq!(c.state(), State::FinWait1);
    assert_eq!(c.snd_nxt(), ISS1 + 11);
}

// RFC 9293 3.10.7.4 fifth, FIN-WAIT-1: "if the FIN segment is now acknowledged, then enter
// FIN-WAIT-2 and continue processing in that state."
#[test]
fn ack_of_fin_moves_fin_wait_1_to_fin_wait_2() {
    let c = fin_wait_2();
    assert_eq!(c.snd_una(), FIN_ACKED);
}

// RFC 9293 3.10.7.4 fifth, FIN-WAIT-1: an ACK that does not cover the FIN leaves us there.
#[test]
fn partial_ack_keeps_fin_wait_1() {
    let mut c = established(nagle_off());
    c.send(b"abcd").unwrap();
    c.close(T0).unwrap();
    sent(&mut c, T0);
    recv_seg(&mut c, T0, seg(ACK, IRS1, ISS1 + 4));
    assert_eq!(c.state(), State::FinWait1);
    recv_seg(&mut c, T0, seg(ACK, IRS1, ISS1 + 5));
    assert_eq!(c.state(), State::FinWait2);
}

fn nagle_off() -> Config {
    Config {
        nagle: false,
        ..quick()
    }
}

// RFC 9293 3.10.7.4 eighth, FIN-WAIT-2: "Enter the TIME-WAIT state. Start the time-wait
// timer, turn off the other timers." The FIN is acknowledged.
#[test]
fn fin_in_fin_wait_2_enters_time_wait() {
    let mut c = fin_wait_2();
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, FIN_ACKED));
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, IRS1 + 1));
    let msl = c.config().msl;
    assert_eq!(c.poll_timeout(), Some(T0 + msl * 2));
}

// RFC 9293 3.6 case 3 / 3.10.7.4 eighth, FIN-WAIT-1: "If our FIN has been ACKed (perhaps in
// this segment), then enter TIME-WAIT ... otherwise, enter the CLOSING state." Simultaneous
// close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
#[test]
fn simultaneous_close_goes_through_closing() {
    let mut c = fin_wait_1();
    // The peer's FIN crosses ours: it does not ack our FIN.
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, ISS1));
    assert_eq!(c.state(), State::Closing);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, IRS1 + 1));
    // RFC 9293 3.10.7.4 fifth, CLOSING: "if the ACK acknowledges our FIN, then enter the
    // TIME-WAIT state; otherwise, ignore the segment."
    recv_seg(&mut c, T0, seg(ACK, IRS1 + 1, FIN_ACKED));
    assert_eq!(c.state(), State::TimeWait);
}

// RFC 9293 3.10.7.4 eighth, FIN-WAIT-1: a FIN that also acks our FIN goes straight to
// TIME-WAIT.
#[test]
fn fin_acking_our_fin_in_fin_wait_1_enters_time_wait() {
    let mut c = fin_wait_1();
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, FIN_ACKED));
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(out[0].ctl(), (ACK, FIN_ACKED, IRS1 + 1));
}

// RFC 9293 3.6 (MAY-1): half-close. After our FIN, data from the peer is still received and
// acknowledged in FIN-WAIT-1 and FIN-WAIT-2.
#[test]
fn half_close_keeps_receiving() {
    let mut c = established(quick());
    c.shutdown_write(T0).unwrap();
    sent(&mut c, T0);
    assert_eq!(c.state(), State::FinWait1);
    let out = exchange(&mut c, T0, data(IRS1, ISS1, b"still"));
    assert_eq!(out[0].ack, IRS1 + 5);
    recv_seg(&mut c, T0, seg(ACK, IRS1 + 5, FIN_ACKED));
    assert_eq!(c.state(), State::FinWait2);
    let out = exchange(&mut c, T0, data(IRS1 + 5, FIN_ACKED, b" talking"));
    assert_eq!(out[0].ack, IRS1 + 13);
    assert_eq!(read_all(&mut c), b"still talking");
    assert_eq!(c.send(b"x"), Err(Error::WriteClosed));
}

// RFC 9293 3.6 (MAY-1): the other half: in CLOSE-WAIT we may still send.
#[test]
fn close_wait_can_still_send() {
    let mut c = close_wait();
    c.send(b"reply").unwrap();
    let s = sent_one(&mut c, T0);
    assert_eq!(s.payload, b"reply");
    assert_eq!(s.ack, IRS1 + 1);
}

// RFC 9293 3.10.4 CLOSE in CLOSE-WAIT: "Queue this request until all preceding SENDs have
// been segmentized; then send a FIN segment, enter LAST-ACK state." Then 3.10.7.4 fifth,
// LAST-ACK: "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state".
#[test]
fn last_ack_closes_when_our_fin_is_acked() {
    let mut c = last_ack();
    assert_eq!(exchange(&mut c, T0, seg(ACK, IRS1 + 1, FIN_ACKED)), vec![]);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), None);
    assert!(events(&mut c).contains(&Event::Closed));
    assert_eq!(c.poll_timeout(), None);
}

// RFC 9293 3.10.7.4 eighth: a retransmitted FIN in CLOSE-WAIT, CLOSING or LAST-ACK is
// acknowledged again and changes nothing ("Remain in the ... state").
#[test]
fn retransmitted_fin_is_reacked() {
    for mut c in [close_wait(), last_ack()] {
        let state = c.state();
        let out = exchange(&mut c, T0 + ms(300), seg(FIN_ACK, IRS1, ISS1));
        assert_eq!(out.len(), 1, "{state}");
        assert_eq!(out[0].ack, IRS1 + 1, "{state}");
        assert_eq!(c.state(), state);
    }
}

// RFC 9293 3.10.7.4 second: RST in CLOSING, LAST-ACK and TIME-WAIT... CLOSING and LAST-ACK
// "enter the CLOSED state, delete the TCB, and return" (no error: both sides closed).
#[test]
fn rst_in_last_ack_closes_without_error() {
    let mut c = last_ack();
    recv_seg(&mut c, T0, seg(RST, IRS1 + 1, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), None);
}

// RFC 9293 3.10.7.4 second: RST in FIN-WAIT-1/2 and CLOSE-WAIT: "any outstanding RECEIVEs and
// SEND should receive 'reset' responses ... enter the CLOSED state" (MUST-12).
#[test]
fn rst_in_fin_wait_and_close_wait_resets() {
    for mut c in [fin_wait_1(), fin_wait_2(), close_wait()] {
        let state = c.state();
        let rcv_nxt = c.rcv_nxt();
        recv_seg(&mut c, T0, seg(RST, rcv_nxt, SeqNumber(0)));
        assert_eq!(c.state(), State::Closed, "{state}");
        assert_eq!(c.error(), Some(ConnectionError::Reset), "{state}");
    }
}

// RFC 5961 4 in the closing states: a SYN draws a challenge ACK.
#[test]
fn syn_in_closing_states_draws_challenge_ack() {
    for mut c in [fin_wait_1(), fin_wait_2(), close_wait(), last_ack()] {
        let state = c.state();
        let seq = c.rcv_nxt() + 3;
        let out = exchange(&mut c, T0, seg(SYN, seq, SeqNumber(0)));
        assert_eq!(out.len(), 1, "{state}");
        assert_eq!(out[0].flags, ACK, "{state}");
        assert_eq!(c.state(), state);
    }
}

// RFC 9293 3.10.7.4 seventh: in CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT "This should not
// occur since a FIN has been received from the remote side. Ignore the segment text."
#[test]
fn data_after_the_peer_fin_is_ignored() {
    let mut c = close_wait();
    recv_seg(&mut c, T0, data(IRS1 + 1, ISS1, b"ghost"));
    assert_eq!(c.recv_queue_len(), 0);
    assert_eq!(c.stats().drops(DropReason::AfterFin), 1);
    assert_eq!(c.state(), State::CloseWait);
}

// RFC 1122 4.2.2.13 / RFC 9293 3.6.1 (SHLD-3): "If such a host issues a CLOSE call while
// received data is still pending in TCP, or if new data is received after CLOSE is called,
// its TCP SHOULD send a RST to show that data was lost."
#[test]
fn close_with_unread_data_sends_rst() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, data(IRS1, ISS1, b"unread"));
    sent(&mut c, T0);
    c.close(T0).unwrap();
    let rst = sent_one(&mut c, T0);
    assert_eq!(rst.ctl(), (RST, ISS1, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
}

// RFC 1122 4.2.2.13 (SHLD-3): new data arriving after CLOSE draws a RST too.
#[test]
fn data_after_close_sends_rst() {
    let mut c = fin_wait_2();
    let out = exchange(&mut c, T0, data(IRS1, FIN_ACKED, b"too late"));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (RST, FIN_ACKED, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.stats().drops(DropReason::DataAfterClose), 1);
}

// RFC 9293 3.10.5 ABORT in ESTABLISHED: "Send a reset segment: <SEQ=SND.NXT><CTL=RST>. All
// queued SENDs and RECEIVEs should be given 'reset' notification".
#[test]
fn abort_sends_rst_from_snd_nxt() {
    let (mut c, _) = with_outstanding(quick(), 100);
    c.abort(T0);
    let rst = sent_one(&mut c, T0);
    assert_eq!(rst.ctl(), (RST, ISS1 + 100, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.send_queue_len(), 0);
    assert_eq!(
        events(&mut c),
        vec![Event::Failed(ConnectionError::Aborted)]
    );
}

// RFC 9293 3.10.5 ABORT in LAST-ACK: "respond with 'ok' and delete the TCB" -- no RST.
#[test]
fn abort_in_last_ack_sends_nothing() {
    let mut c = last_ack();
    c.abort(T0);
    sent_none(&mut c, T0);
    assert_eq!(c.state(), State::Closed);
}

// RFC 9293 3.10.4 CLOSE in FIN-WAIT-1/2: "Strictly speaking, this is an error" -- the engine
// takes a repeated close as a no-op.
#[test]
fn second_close_is_harmless() {
    let mut c = fin_wait_1();
    c.close(T0).unwrap();
    sent_none(&mut c, T0);
    assert_eq!(c.state(), State::FinWait1);
}

// RFC 9293 3.10.7.4 and 3.8.1: an unacknowledged FIN is retransmitted at the RTO.
#[test]
fn fin_is_retransmitted_on_timeout() {
    let mut c = fin_wait_1();
    let rto = c.rto();
    let at = fire_next(&mut c);
    assert_eq!(at, T0 + rto);
    let out = sent_one(&mut c, at);
    assert_eq!(out.ctl(), (FIN_ACK, FIN_SEQ, IRS1));
}

// RFC 9293 3.6 / 3.10.7.4: a FIN segment with data in FIN-WAIT-2 delivers the data first.
#[test]
fn fin_with_data_in_fin_wait_2() {
    let mut c = established(quick());
    c.shutdown_write(T0).unwrap();
    sent(&mut c, T0);
    recv_seg(&mut c, T0, seg(ACK, IRS1, FIN_ACKED));
    let out = exchange(
        &mut c,
        T0,
        Repr {
            flags: FIN_ACK,
            payload: b"end",
            ..seg(ACK, IRS1, FIN_ACKED)
        },
    );
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(out[0].ack, IRS1 + 4);
    assert_eq!(read_all(&mut c), b"end");
}
