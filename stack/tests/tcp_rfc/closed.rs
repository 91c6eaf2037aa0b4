//! CLOSED (RFC 9293 section 3.10.7.1): no TCB. A RST is dropped; anything else draws a RST.

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Connection, DropReason, Error, State};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// A connection that went back to CLOSED: an active open closed in SYN-SENT.
fn closed() -> Connection {
    let mut c = syn_sent(plain());
    c.close(T0).unwrap();
    assert_eq!(c.state(), State::Closed);
    sent_none(&mut c, T0);
    c
}

// RFC 9293 3.10.7.1: "An incoming segment containing a RST is discarded."
#[test]
fn rst_is_discarded() {
    let mut c = closed();
    assert_eq!(exchange(&mut c, T0, seg(RST, IRS, ISS1)), vec![]);
    assert_eq!(exchange(&mut c, T0, seg(RST_ACK, IRS, ISS1)), vec![]);
}

// RFC 9293 3.10.7.1: "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>".
#[test]
fn ack_draws_rst_with_seq_from_seg_ack() {
    let mut c = closed();
    let rst = exchange(&mut c, T0, seg(ACK, IRS1, SeqNumber(777)));
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].ctl(), (RST, SeqNumber(777), SeqNumber(0)));
    assert_eq!(rst[0].payload, b"");
}

// RFC 9293 3.10.7.1: "If the ACK bit is off, sequence number zero is used,
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>" -- the SYN counts in SEG.LEN.
#[test]
fn syn_draws_rst_ack_covering_the_syn() {
    let mut c = closed();
    let rst = exchange(&mut c, T0, PEER_SYN);
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].ctl(), (RST_ACK, SeqNumber(0), IRS1));
}

// RFC 9293 3.10.7.1: SEG.LEN counts the text and the FIN.
#[test]
fn data_and_fin_without_ack_draw_rst_ack_past_them() {
    let mut c = closed();
    let r = Repr {
        flags: FIN,
        seq_number: IRS1,
        payload: b"hello",
        ..SEG
    };
    let rst = exchange(&mut c, T0, r);
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].ctl(), (RST_ACK, SeqNumber(0), IRS1 + 6));
}

// RFC 9293 3.10.7.1: SYN-ACK, FIN-ACK and data with ACK all take the ACK branch.
#[test]
fn any_segment_with_ack_draws_plain_rst() {
    for flags in [SYN_ACK, FIN_ACK, PSH_ACK] {
        let mut c = closed();
        let rst = exchange(&mut c, T0, data(IRS, SeqNumber(4242), b"x"));
        let rst2 = exchange(&mut c, T0, seg(flags, IRS, SeqNumber(4242)));
        assert_eq!(rst[0].ctl(), (RST, SeqNumber(4242), SeqNumber(0)));
        assert_eq!(
            rst2[0].ctl(),
            (RST, SeqNumber(4242), SeqNumber(0)),
            "{flags}"
        );
    }
}

// RFC 9293 3.10.7.1 (and 3.5.2 reset generation): the RST goes back to the segment's
// source port.
#[test]
fn rst_is_addressed_to_the_segment_source_port() {
    let mut c = closed();
    let r = Repr {
        src_port: 1234,
        ..seg(ACK, IRS1, SeqNumber(9))
    };
    let rst = exchange(&mut c, T0, r);
    assert_eq!((rst[0].src_port, rst[0].dst_port), (LOCAL.port(), 1234));
}

// RFC 9293 3.10.7.1: every segment to CLOSED is counted as a drop (the engine's contract:
// every drop has a reason).
#[test]
fn drops_are_counted() {
    let mut c = closed();
    recv_seg(&mut c, T0, seg(RST, IRS, ISS1));
    recv_seg(&mut c, T0, PEER_SYN);
    assert_eq!(c.stats().drops(DropReason::Closed), 2);
    assert_eq!(c.stats().rsts_sent, 0, "nothing sent before poll_transmit");
    sent(&mut c, T0);
    assert_eq!(c.stats().rsts_sent, 1);
}

// RFC 9293 3.10.1/3.10.2/3.10.3: SEND and RECEIVE on a closed connection fail with
// "connection does not exist".
#[test]
fn send_and_recv_report_not_connected() {
    let mut c = Connection::connect_with_iss(T0, plain(), LOCAL, REMOTE, ISS);
    // CLOSE in SYN-SENT deletes the TCB (3.10.4); shutdown_write keeps the read side open.
    c.shutdown_write(T0).unwrap();
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.send(b"x"), Err(Error::NotConnected));
    assert_eq!(c.recv(&mut [0u8; 4]), Err(Error::NotConnected));
    assert_eq!(c.close(T0), Err(Error::NotConnected));
}

// RFC 9293 3.10.7.1: the RST queue is bounded by Config.control_queue_len; past it RSTs
// are dropped and counted, not queued without bound.
#[test]
fn rst_queue_is_bounded() {
    let mut c = closed();
    let limit = c.config().control_queue_len;
    for i in 0..limit + 5 {
        recv_seg(&mut c, T0, seg(ACK, IRS, SeqNumber(i as u32)));
    }
    assert_eq!(sent(&mut c, T0).len(), limit);
    assert_eq!(c.stats().drops(DropReason::ControlQueueFull), 5);
}
