//! SYN-SENT (RFC 9293 section 3.10.7.3) and simultaneous open (section 3.5, figure 7).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Connection, ConnectionError, DropReason, Event, State};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

// RFC 9293 3.10.1 OPEN (active): "A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent.
// Set SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state."
#[test]
fn connect_sends_syn_from_iss() {
    let mut c = Connection::connect_with_iss(T0, plain(), LOCAL, REMOTE, ISS);
    assert_eq!(c.state(), State::SynSent);
    let syn = sent_one(&mut c, T0);
    assert_eq!(syn.ctl(), (SYN, ISS, SeqNumber(0)));
    assert_eq!((syn.src_port, syn.dst_port), (LOCAL.port(), REMOTE.port()));
    assert_eq!(syn.payload, b"");
    assert_eq!((c.snd_una(), c.snd_nxt()), (ISS, ISS1));
}

// RFC 9293 3.10.7.3 first: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the
// RST bit is set) <SEQ=SEG.ACK><CTL=RST>". Checked at and around the acceptable value.
#[test]
fn unacceptable_ack_draws_rst_from_seg_ack() {
    for bad in [ISS - 1000, ISS - 1, ISS, ISS + 2, ISS + 100_000] {
        let mut c = syn_sent(plain());
        let out = exchange(&mut c, T0, seg(SYN_ACK, IRS, bad));
        assert_eq!(out.len(), 1, "ack {bad}");
        assert_eq!(out[0].ctl(), (RST, bad, SeqNumber(0)));
        assert_eq!(c.state(), State::SynSent, "ack {bad}");
        assert_eq!(c.stats().drops(DropReason::UnacceptableAck), 1);
    }
}

// RFC 9293 3.10.7.3 first: a bare ACK with an unacceptable number draws a RST too.
#[test]
fn unacceptable_bare_ack_draws_rst() {
    let mut c = syn_sent(plain());
    let out = exchange(&mut c, T0, seg(ACK, IRS1, ISS));
    assert_eq!(out[0].ctl(), (RST, ISS, SeqNumber(0)));
    assert_eq!(c.state(), State::SynSent);
}

// RFC 9293 3.10.7.3 first: "... (unless the RST bit is set, if so drop the segment and
// return)".
#[test]
fn rst_with_unacceptable_ack_is_dropped_silently() {
    let mut c = syn_sent(plain());
    assert_eq!(exchange(&mut c, T0, seg(RST_ACK, IRS, ISS + 5)), vec![]);
    assert_eq!(c.state(), State::SynSent);
}

// RFC 9293 3.10.7.3 second: "If the ACK was acceptable, then signal to the user 'error:
// connection reset', drop the segment, enter CLOSED state" (RFC 9293 MUST-12: the user is
// told).
#[test]
fn rst_with_acceptable_ack_refuses_the_connection() {
    let mut c = syn_sent(plain());
    assert_eq!(
        exchange(&mut c, T0, seg(RST_ACK, SeqNumber(0), ISS1)),
        vec![]
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), Some(ConnectionError::Refused));
    assert_eq!(
        events(&mut c),
        vec![Event::Failed(ConnectionError::Refused)]
    );
    assert_eq!(c.poll_timeout(), None, "no timer survives CLOSED");
}

// RFC 9293 3.10.7.3 second: "Otherwise (no ACK), drop the segment and return" (a blind RST
// cannot kill a connection attempt, RFC 5961 section 3).
#[test]
fn rst_without_ack_is_ignored() {
    let mut c = syn_sent(plain());
    assert_eq!(exchange(&mut c, T0, seg(RST, IRS, SeqNumber(0))), vec![]);
    assert_eq!(c.state(), State::SynSent);
    assert_eq!(c.error(), None);
}

// RFC 9293 3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop the segment
// and return." An acceptable bare ACK does not complete the handshake.
#[test]
fn acceptable_ack_without_syn_is_dropped() {
    let mut c = syn_sent(plain());
    assert_eq!(exchange(&mut c, T0, seg(ACK, IRS1, ISS1)), vec![]);
    assert_eq!(c.state(), State::SynSent);
    assert_eq!(c.stats().drops(DropReason::NotSyn), 1);
}

// RFC 9293 3.10.7.3 fourth: SYN-ACK with an acceptable ACK: "RCV.NXT is set to SEG.SEQ+1, IRS
// is set to SEG.SEQ. SND.UNA should be advanced to equal SEG.ACK ... If SND.UNA > ISS (our
// SYN has been ACKed), change the connection state to ESTABLISHED, form an ACK segment
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
#[test]
fn syn_ack_establishes_and_is_acknowledged() {
    let mut c = syn_sent(plain());
    let out = exchange(&mut c, T0, PEER_SYN_ACK);
    assert_eq!(c.state(), State::Established);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1));
    assert_eq!((c.irs(), c.rcv_nxt(), c.snd_una()), (IRS, IRS1, ISS1));
    assert_eq!(events(&mut c), vec![Event::Connected, Event::Writable]);
    assert_eq!(c.snd_wnd(), usize::from(PEER_WIN));
}

// RFC 9293 3.10.7.3 fourth: "Data or controls that were queued for transmission may be
// included" and sixth/seventh: text on the SYN-ACK is processed as in ESTABLISHED.
#[test]
fn syn_ack_with_data_delivers_it_and_acks_it() {
    let mut c = syn_sent(plain());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            payload: b"hello",
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.state(), State::Established);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1 + 5));
    assert_eq!(read_all(&mut c), b"hello");
}

// RFC 9293 3.10.7.3 fourth and 3.10.7.4 eighth: a SYN-ACK with FIN moves on to CLOSE-WAIT.
#[test]
fn syn_ack_with_fin_goes_to_close_wait() {
    let mut c = syn_sent(plain());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            flags: SYN_ACK | FIN,
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.state(), State::CloseWait);
    assert_eq!(out.last().unwrap().ctl(), (ACK, ISS1, IRS1 + 1));
    let ev = events(&mut c);
    assert!(ev.contains(&Event::Connected) && ev.contains(&Event::PeerClosed));
    assert_eq!(c.recv(&mut [0u8; 8]), Ok(0), "end of stream");
}

// RFC 9293 3.10.2 SEND in SYN-SENT: "Queue the data for transmission after entering
// ESTABLISHED state."
#[test]
fn data_written_in_syn_sent_goes_out_after_the_handshake() {
    let mut c = syn_sent(quick());
    assert_eq!(c.send(b"early"), Ok(5));
    sent_none(&mut c, T0);
    let out = exchange(&mut c, T0, PEER_SYN_ACK);
    assert_eq!(out.len(), 1, "the ACK rides on the data: {out:#?}");
    assert_eq!(out[0].seq, ISS1);
    assert_eq!(out[0].ack, IRS1);
    assert_eq!(out[0].payload, b"early");
}

// RFC 9293 3.10.4 CLOSE in SYN-SENT: "Delete the TCB and return 'error: closing'
// responses to any queued SENDs" -- nothing is sent, no RST.
#[test]
fn close_in_syn_sent_sends_nothing() {
    let mut c = syn_sent(plain());
    c.close(T0).unwrap();
    assert_eq!(c.state(), State::Closed);
    sent_none(&mut c, T0);
    assert_eq!(c.poll_timeout(), None);
}

// RFC 9293 3.10.5 ABORT in SYN-SENT: no RST (we are not synchronized), user told.
#[test]
fn abort_in_syn_sent_sends_no_rst() {
    let mut c = syn_sent(plain());
    c.abort(T0);
    assert_eq!(c.state(), State::Closed);
    sent_none(&mut c, T0);
    assert_eq!(
        events(&mut c),
        vec![Event::Failed(ConnectionError::Aborted)]
    );
}

// RFC 9293 3.5 figure 7 (MUST-10): simultaneous open. A SYN without ACK in SYN-SENT:
// "enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send
// it."
#[test]
fn simultaneous_open_syn_moves_to_syn_received_with_syn_ack() {
    let mut c = syn_sent(plain());
    let out = exchange(&mut c, T0, PEER_SYN);
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (SYN_ACK, ISS, IRS1));
    assert_eq!(out[0].mss, Some(1460));
}

// RFC 9293 3.5 figure 7 line 6 (MUST-10): in SYN-RECEIVED the peer's SYN-ACK, which acks our
// SYN, completes the open.
#[test]
fn simultaneous_open_completes_on_the_peer_syn_ack() {
    let mut c = syn_sent(plain());
    exchange(&mut c, T0, PEER_SYN);
    let out = exchange(&mut c, T0, PEER_SYN_ACK);
    assert_eq!(c.state(), State::Established);
    assert!(events(&mut c).contains(&Event::Connected));
    assert!(
        out.iter().all(|s| !s.has(RST) && !s.has(SYN)),
        "no RST and no third SYN: {out:#?}"
    );
}

// RFC 9293 3.5 figure 7 (MUST-10): or on a plain ACK of our SYN.
#[test]
fn simultaneous_open_completes_on_ack() {
    let mut c = syn_sent(plain());
    exchange(&mut c, T0, PEER_SYN);
    assert_eq!(exchange(&mut c, T0, PEER_ACK), vec![]);
    assert_eq!(c.state(), State::Established);
}

// RFC 9293 3.5 figure 7 (MUST-10): two engines opening to each other at once, end to end:
// the SYNs cross, each answers with a SYN-ACK, and each SYN-ACK completes the open.
#[test]
fn two_engines_open_simultaneously() {
    let mut a = Connection::connect_with_iss(T0, plain(), LOCAL, REMOTE, ISS);
    let mut b = Connection::connect_with_iss(T0, plain(), REMOTE, LOCAL, IRS);
    let mut now = T0;
    let (mut to_b, mut to_a) = (sent(&mut a, now), sent(&mut b, now));
    let mut rounds = 0;
    while !(to_a.is_empty() && to_b.is_empty()) {
        rounds += 1;
        assert!(rounds < 10, "no convergence");
        now += ms(10);
        for s in &to_a {
            a.handle_segment(now, &s.repr());
        }
        for s in &to_b {
            b.handle_segment(now, &s.repr());
        }
        (to_b, to_a) = (sent(&mut a, now), sent(&mut b, now));
    }
    assert_eq!(
        (a.state(), b.state()),
        (State::Established, State::Established)
    );
    assert_eq!((a.rcv_nxt(), b.rcv_nxt()), (IRS1, ISS1));
    assert_eq!((a.stats().rsts_sent, b.stats().rsts_sent), (0, 0));
    assert_eq!(
        rounds, 2,
        "SYNs cross, then SYN-ACKs cross and nothing else is needed"
    );
}

// RFC 9293 3.10.7.4 (MUST-11): SYN-RECEIVED reached from SYN-SENT remembers it: an acceptable
// RST there refuses the connection ("If this connection was initiated with an active OPEN
// ... signal 'connection refused'") instead of going back to LISTEN.
#[test]
fn rst_in_syn_received_after_simultaneous_open_refuses() {
    let mut c = syn_sent(plain());
    exchange(&mut c, T0, PEER_SYN);
    recv_seg(&mut c, T0, seg(RST, IRS1, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), Some(ConnectionError::Refused));
}

// RFC 9293 3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop the segment
// and return": FIN and FIN-ACK in SYN-SENT are dropped (the FIN-ACK with an unacceptable ACK
// draws a RST by the first check).
#[test]
fn fin_in_syn_sent_is_dropped() {
    let mut c = syn_sent(plain());
    assert_eq!(exchange(&mut c, T0, seg(FIN, IRS1, SeqNumber(0))), vec![]);
    assert_eq!(exchange(&mut c, T0, seg(FIN_ACK, IRS1, ISS1)), vec![]);
    assert_eq!(c.state(), State::SynSent);
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, ISS + 9));
    assert_eq!(out[0].ctl(), (RST, ISS + 9, SeqNumber(0)));
}

// RFC 9293 3.10.7.3 fourth: SYN+FIN without ACK in SYN-SENT is a simultaneous open; "other
// controls or text in the segment" may be queued -- the engine takes the SYN and leaves the
// FIN for the peer to retransmit.
#[test]
fn syn_fin_in_syn_sent_is_a_simultaneous_open() {
    let mut c = syn_sent(plain());
    let out = exchange(&mut c, T0, seg(SYN_FIN, IRS, SeqNumber(0)));
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(out[0].ctl(), (SYN_ACK, ISS, IRS1));
}
