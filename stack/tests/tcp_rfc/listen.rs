//! LISTEN (RFC 9293 section 3.10.7.2).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, DropReason, Error, State};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

// RFC 9293 3.10.7.2 first: "An incoming RST segment could not be valid ... should be
// ignored."
#[test]
fn rst_is_ignored() {
    let mut c = listening(plain());
    assert_eq!(exchange(&mut c, T0, seg(RST, IRS, SeqNumber(0))), vec![]);
    assert_eq!(exchange(&mut c, T0, seg(RST_ACK, IRS, ISS1)), vec![]);
    assert_eq!(c.state(), State::Listen);
}

// RFC 9293 3.10.7.2 second: "Any acknowledgment is bad if it arrives on a connection still
// in the LISTEN state. An acceptable reset segment should be formed ... <SEQ=SEG.ACK><CTL=RST>".
#[test]
fn ack_draws_rst_and_stays_listening() {
    let mut c = listening(plain());
    let out = exchange(&mut c, T0, seg(ACK, IRS1, SeqNumber(31337)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (RST, SeqNumber(31337), SeqNumber(0)));
    assert_eq!(c.state(), State::Listen);
}

// RFC 9293 3.10.7.2 second: the ACK check comes before the SYN check, so a SYN-ACK (and a
// FIN-ACK) in LISTEN is answered with a RST too.
#[test]
fn syn_ack_and_fin_ack_draw_rst() {
    for flags in [SYN_ACK, FIN_ACK] {
        let mut c = listening(plain());
        let out = exchange(&mut c, T0, seg(flags, IRS, SeqNumber(77)));
        assert_eq!(out.len(), 1, "{flags}");
        assert_eq!(out[0].ctl(), (RST, SeqNumber(77), SeqNumber(0)));
        assert_eq!(c.state(), State::Listen);
    }
}

// RFC 9293 3.10.7.2 third: on SYN, "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ
// ... <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> ... SND.NXT is set to ISS+1 and SND.UNA to ISS.
// The connection state should be changed to SYN-RECEIVED."
#[test]
fn syn_draws_syn_ack_and_enters_syn_received() {
    let mut c = listening(plain());
    let out = exchange(&mut c, T0, PEER_SYN);
    assert_eq!(out.len(), 1);
    let synack = &out[0];
    assert_eq!(synack.ctl(), (SYN_ACK, ISS, IRS1));
    assert_eq!(synack.payload, b"");
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!((c.irs(), c.rcv_nxt()), (IRS, IRS1));
    assert_eq!((c.snd_una(), c.snd_nxt()), (ISS, ISS1));
    assert_eq!(c.remote(), REMOTE);
}

// RFC 9293 3.7.1 (MUST-14): the SYN-ACK carries our MSS.
#[test]
fn syn_ack_carries_mss() {
    let mut c = listening(plain());
    let out = exchange(&mut c, T0, PEER_SYN);
    assert_eq!(out[0].mss, Some(1460));
}

// RFC 9293 3.10.7.2 third: text on a SYN "should be queued for processing later". The engine
// does not queue it: its SYN-ACK acknowledges only the SYN, so the peer retransmits the data
// once established (as Linux does without TCP Fast Open). This is allowed: unacknowledged
// data is never lost.
#[test]
fn syn_with_data_is_answered_with_syn_ack_of_the_syn_only() {
    let mut c = listening(plain());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            payload: b"early",
            ..PEER_SYN
        },
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (SYN_ACK, ISS, IRS1));
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(c.recv_queue_len(), 0);
}

// RFC 9293 3.10.7.2 third: SYN+FIN is not a connection request the engine honours (Linux
// drops it too, tcp_rcv_state_process); it is dropped and counted, not answered.
#[test]
fn syn_fin_is_dropped() {
    let mut c = listening(plain());
    assert_eq!(
        exchange(&mut c, T0, seg(SYN_FIN, IRS, SeqNumber(0))),
        vec![]
    );
    assert_eq!(c.state(), State::Listen);
    assert_eq!(c.stats().drops(DropReason::SynFin), 1);
}

// RFC 9293 3.10.7.2 fourth: "Any other control or text-bearing segment (not containing SYN)
// ... Drop the segment and return."
#[test]
fn other_segments_are_dropped_silently() {
    let mut c = listening(plain());
    for r in [
        seg(FIN, IRS, SeqNumber(0)),
        seg(NONE, IRS, SeqNumber(0)),
        Repr {
            payload: b"data",
            ..seg(PSH, IRS, SeqNumber(0))
        },
    ] {
        assert_eq!(exchange(&mut c, T0, r), vec![]);
    }
    assert_eq!(c.state(), State::Listen);
    assert_eq!(c.stats().drops(DropReason::NotSyn), 3);
}

// RFC 9293 3.10.7.2: the replies go to the segment's source port even if the host did not
// tell the listener the remote address.
#[test]
fn replies_go_to_the_sender_port() {
    let mut c = Connection::listen_with_iss(T0, plain(), LOCAL, ISS);
    let rst = exchange(
        &mut c,
        T0,
        Repr {
            src_port: 4000,
            ..seg(ACK, IRS1, SeqNumber(5))
        },
    );
    assert_eq!(rst[0].dst_port, 4000);
    let synack = exchange(
        &mut c,
        T0,
        Repr {
            src_port: 4001,
            ..PEER_SYN
        },
    );
    assert_eq!(
        (synack[0].src_port, synack[0].dst_port),
        (LOCAL.port(), 4001)
    );
}

// RFC 9293 3.10.4 CLOSE in LISTEN: "Delete TCB, enter CLOSED state" -- nothing is sent.
#[test]
fn close_in_listen_goes_to_closed_silently() {
    let mut c = listening(plain());
    c.close(T0).unwrap();
    assert_eq!(c.state(), State::Closed);
    sent_none(&mut c, T0);
}

// RFC 9293 3.10.2 SEND in LISTEN without a foreign socket: an error.
#[test]
fn send_in_listen_is_an_error() {
    let mut c = listening(plain());
    assert_eq!(c.send(b"x"), Err(Error::InvalidState(State::Listen)));
}

// RFC 6528 / RFC 9293 3.4.1 (MUST-8): a listener without a fixed ISS picks one per
// connection, not zero.
#[test]
fn listener_without_fixed_iss_picks_one() {
    let mut c = Connection::listen(T0, Config::default(), LOCAL);
    c.set_remote(REMOTE);
    let out = exchange(&mut c, T0, PEER_SYN);
    assert_eq!(out[0].flags, SYN_ACK);
    assert_eq!(c.iss(), out[0].seq);
    assert_ne!(c.iss(), SeqNumber(0));
}
