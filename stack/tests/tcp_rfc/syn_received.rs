//! SYN-RECEIVED (RFC 9293 section 3.10.7.4), reached from LISTEN (passive open) and from
//! SYN-SENT (simultaneous open).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, DropReason, Event, State};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// SYN-RECEIVED from SYN-SENT (simultaneous open), the SYN-ACK sent.
fn syn_received_active() -> Connection {
    let mut c = syn_sent(plain());
    let out = exchange(&mut c, T0, PEER_SYN);
    assert_eq!(out[0].ctl(), (SYN_ACK, ISS, IRS1));
    assert_eq!(c.state(), State::SynReceived);
    c
}

// RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter
// ESTABLISHED state and continue processing with the variables SND.WND <- SEG.WND,
// SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK."
#[test]
fn ack_of_syn_ack_establishes() {
    let mut c = syn_received(plain());
    let out = exchange(&mut c, T0, win(PEER_ACK, 12345));
    assert_eq!(out, vec![], "a pure ACK is not acknowledged");
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.snd_una(), ISS1);
    assert_eq!(c.snd_wnd(), 12345);
    assert_eq!(events(&mut c), vec![Event::Connected, Event::Writable]);
    assert_eq!(
        c.poll_timeout(),
        None,
        "SYN-ACK retransmission timer stopped"
    );
}

// RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: "If the segment acknowledgment is not acceptable,
// form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it." At and around the acceptable
// value ISS+1.
#[test]
fn unacceptable_ack_draws_rst() {
    for bad in [ISS - 1, ISS, ISS + 2, ISS + 70_000] {
        let mut c = syn_received(plain());
        let out = exchange(&mut c, T0, seg(ACK, IRS1, bad));
        assert_eq!(out.len(), 1, "ack {bad}");
        assert_eq!(out[0].ctl(), (RST, bad, SeqNumber(0)));
        assert_eq!(c.state(), State::SynReceived, "ack {bad}");
    }
}

// RFC 9293 3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
#[test]
fn segment_without_ack_is_dropped() {
    let mut c = syn_received(plain());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            payload: b"x",
            ..seg(PSH, IRS1, SeqNumber(0))
        },
    );
    assert_eq!(out, vec![]);
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(c.stats().drops(DropReason::NoAck), 1);
}

// RFC 9293 3.10.7.4 second, SYN-RECEIVED (MUST-11): "If this connection was initiated with a
// passive OPEN (i.e., came from the LISTEN state), then return this connection to LISTEN
// state and return. The user need not be informed."
#[test]
fn exact_rst_returns_passive_open_to_listen() {
    let mut c = syn_received(plain());
    assert_eq!(exchange(&mut c, T0, seg(RST, IRS1, SeqNumber(0))), vec![]);
    assert_eq!(c.state(), State::Listen);
    assert_eq!(c.error(), None);
    assert_eq!(events(&mut c), vec![], "the user need not be informed");
    assert_eq!(
        c.poll_timeout(),
        None,
        "no SYN-ACK retransmission from LISTEN"
    );
}

// RFC 9293 3.10.7.4 (MUST-11): back in LISTEN, the connection accepts a new SYN.
#[test]
fn after_returning_to_listen_a_new_syn_is_accepted() {
    let mut c = syn_received(plain());
    recv_seg(&mut c, T0, seg(RST, IRS1, SeqNumber(0)));
    c.set_remote(REMOTE);
    let out = exchange(
        &mut c,
        T0,
        Repr {
            seq_number: SeqNumber(9000),
            ..PEER_SYN
        },
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, SYN_ACK);
    assert_eq!(out[0].ack, SeqNumber(9001));
    assert_eq!(c.state(), State::SynReceived);
}

// Back in LISTEN, nothing of the half-open connection is left: its SYN-ACK was
// retransmitted, which (RFC 6298 5.7, and Karn's rule) would keep the next handshake from
// giving an RTT sample and set the RTO to 3 s; a fresh handshake takes its sample.
#[test]
fn after_returning_to_listen_the_next_handshake_starts_afresh() {
    let mut c = syn_received(plain());
    let at = fire_next(&mut c); // the SYN-ACK retransmitted at 1 s
    assert_eq!(sent(&mut c, at).len(), 1);
    recv_seg(&mut c, at, seg(RST, IRS1, SeqNumber(0)));
    assert_eq!(c.state(), State::Listen);
    c.set_remote(REMOTE);
    let syn = Repr {
        seq_number: SeqNumber(9000),
        ..PEER_SYN
    };
    let out = exchange(&mut c, at, syn);
    assert_eq!(out[0].flags, SYN_ACK);
    let iss = out[0].seq;
    recv_seg(&mut c, at + ms(100), seg(ACK, SeqNumber(9001), iss + 1));
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.srtt(), Some(ms(100)), "the new handshake's RTT sample");
    assert_eq!(c.rto(), ms(300));
}

// RFC 9293 3.10.7.4 second (MUST-11): from SYN-SENT, "the connection was refused; signal the
// user 'connection refused'".
#[test]
fn exact_rst_refuses_active_open() {
    let mut c = syn_received_active();
    recv_seg(&mut c, T0, seg(RST, IRS1, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(
        events(&mut c),
        vec![Event::Failed(ConnectionError::Refused)]
    );
}

// RFC 5961 3.2 (applies in SYN-RECEIVED too): a RST in the window but not at RCV.NXT draws a
// challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and changes nothing.
#[test]
fn in_window_rst_draws_challenge_ack() {
    let mut c = syn_received(plain());
    let out = exchange(&mut c, T0, seg(RST, IRS1 + 100, SeqNumber(0)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1));
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(c.stats().challenge_acks_sent, 1);
}

// RFC 9293 3.10.7.4 first: a RST outside the window is dropped without reply.
#[test]
fn out_of_window_rst_is_dropped() {
    let mut c = syn_received(plain());
    assert_eq!(exchange(&mut c, T0, seg(RST, IRS, SeqNumber(0))), vec![]);
    assert_eq!(
        exchange(&mut c, T0, seg(RST, IRS1 + 70_000, SeqNumber(0))),
        vec![]
    );
    assert_eq!(c.state(), State::SynReceived);
}

// RFC 9293 3.8.1 and 3.10.7.4: a retransmitted SYN (our SYN-ACK was lost) is answered with
// the SYN-ACK again, unchanged.
#[test]
fn retransmitted_syn_draws_syn_ack_again() {
    let mut c = syn_received(plain());
    let out = exchange(&mut c, T0 + ms(500), PEER_SYN);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (SYN_ACK, ISS, IRS1));
    assert_eq!(out[0].mss, Some(1460));
    assert_eq!(c.state(), State::SynReceived);
}

// RFC 9293 3.10.7.4 fourth, SYN-RECEIVED: "If the connection was initiated with a passive
// OPEN, then return this connection to the LISTEN state and return."
#[test]
fn new_in_window_syn_returns_passive_open_to_listen() {
    let mut c = syn_received(plain());
    assert_eq!(
        exchange(&mut c, T0, seg(SYN, IRS1 + 10, SeqNumber(0))),
        vec![]
    );
    assert_eq!(c.state(), State::Listen);
}

// RFC 9293 3.10.7.4 fourth: otherwise (from SYN-SENT) as in the synchronized states: an
// in-window SYN draws a challenge ACK (RFC 5961 4.2).
#[test]
fn in_window_syn_after_simultaneous_open_draws_challenge_ack() {
    let mut c = syn_received_active();
    let out = exchange(&mut c, T0, seg(SYN, IRS1 + 10, SeqNumber(0)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1));
    assert_eq!(c.state(), State::SynReceived);
}

// RFC 9293 3.10.7.4 first: unacceptable data in SYN-RECEIVED draws an ACK and is dropped.
#[test]
fn out_of_window_data_draws_ack() {
    let mut c = syn_received(plain());
    let out = exchange(&mut c, T0, data(IRS1 + 70_000, ISS1, b"far"));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1));
    assert_eq!(c.state(), State::SynReceived);
}

// RFC 9293 3.10.7.4 fifth then seventh: the ACK that completes the handshake may carry
// data, which is delivered and acknowledged.
#[test]
fn completing_ack_with_data_delivers_it() {
    let mut c = syn_received(quick());
    let out = exchange(&mut c, T0, data(IRS1, ISS1, b"hello"));
    assert_eq!(c.state(), State::Established);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1 + 5));
    assert_eq!(read_all(&mut c), b"hello");
}

// RFC 9293 3.10.7.4 eighth: a FIN on the completing ACK moves on to CLOSE-WAIT.
#[test]
fn completing_ack_with_fin_goes_to_close_wait() {
    let mut c = syn_received(plain());
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, ISS1));
    assert_eq!(c.state(), State::CloseWait);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1 + 1));
}

// RFC 9293 3.10.4 CLOSE in SYN-RECEIVED: "If no SENDs have been issued and there is no
// pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1 state;
// otherwise, queue for processing after entering ESTABLISHED state." The engine queues the
// FIN until the handshake completes.
#[test]
fn close_in_syn_received_sends_fin_once_established() {
    let mut c = syn_received(plain());
    c.close(T0).unwrap();
    sent_none(&mut c, T0);
    let out = exchange(&mut c, T0, PEER_ACK);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (FIN_ACK, ISS1, IRS1));
    assert_eq!(c.state(), State::FinWait1);
}

// RFC 9293 3.10.5 ABORT in SYN-RECEIVED: "<SEQ=SND.NXT><CTL=RST>".
#[test]
fn abort_in_syn_received_sends_rst() {
    let mut c = syn_received(plain());
    c.abort(T0);
    let out = sent_one(&mut c, T0);
    assert_eq!(out.ctl(), (RST, ISS1, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
}

// ---- Timestamps in SYN-RECEIVED (RFC 7323 section 3.2) ----------------------------------

/// The TSval of the peer's SYN in `syn_received_ts`.
const PEER_SYN_TSVAL: u32 = 4242;

/// Passive SYN-RECEIVED with timestamps agreed by our side: the peer's SYN carried TSopt
/// and our SYN-ACK echoes it.
fn syn_received_ts() -> Connection {
    let cfg = Config {
        timestamps: true,
        ..plain()
    };
    let mut c = listening(cfg);
    recv_seg(&mut c, T0, ts(PEER_SYN, PEER_SYN_TSVAL, 0));
    let synack = sent_one(&mut c, T0);
    assert_eq!(synack.ctl(), (SYN_ACK, ISS, IRS1));
    assert_eq!(synack.ts.map(|t| t.tsecr), Some(PEER_SYN_TSVAL));
    c
}

// RFC 7323 3.2: TSopt is required once "both <SYN> and <SYN,ACK> contain TSopt"; RFC 9293
// 3.10.7.4 fifth, SYN-RECEIVED: "If the segment acknowledgment is not acceptable, form a
// reset segment <SEQ=SEG.ACK><CTL=RST> and send it." Only an ACK of our SYN-ACK shows that
// the peer saw the SYN-ACK that carried our TSopt. An ACK of something else answers some
// other SYN-ACK (a SYN cookie's, without TSopt, when the same SYN reached the listener
// twice): it is reset, not dropped as lacking a timestamp (or failing PAWS against the
// SYN's TSval), which left both ends exchanging SYN-ACKs and ACKs until the retries ran out.
#[test]
fn unacceptable_ack_is_reset_whatever_its_timestamp() {
    let other_iss = SeqNumber(777_000);
    let cases = [
        ("pure ACK, no TSopt", seg(ACK, IRS1, other_iss + 1)),
        ("data, no TSopt", data(IRS1, other_iss + 1, b"request")),
        (
            "TSval older than the SYN's",
            ts(seg(ACK, IRS1, other_iss + 1), PEER_SYN_TSVAL - 1, 0),
        ),
    ];
    for (what, r) in cases {
        let mut c = syn_received_ts();
        let out = exchange(&mut c, T0 + ms(20), r);
        assert_eq!(out.len(), 1, "{what}: {out:#?}");
        assert_eq!(out[0].ctl(), (RST, other_iss + 1, SeqNumber(0)), "{what}");
        assert_eq!(c.state(), State::SynReceived, "{what}");
        assert_eq!(c.stats().drops(DropReason::UnacceptableAck), 1, "{what}");
        assert_eq!(c.stats().drops(DropReason::MissingTimestamp), 0, "{what}");
        assert_eq!(c.stats().drops(DropReason::Paws), 0, "{what}");
    }
}

// RFC 7323 3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently
// drop the segment." An ACK of our SYN-ACK comes from a peer that saw our TSopt: without
// one of its own it is dropped, and does not complete the handshake; "A TCP MUST NOT abort
// a TCP connection because any segment lacks an expected TSopt": no RST either.
#[test]
fn acceptable_ack_without_timestamp_is_dropped_silently() {
    let mut c = syn_received_ts();
    assert_eq!(exchange(&mut c, T0 + ms(20), PEER_ACK), vec![]);
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(c.stats().drops(DropReason::MissingTimestamp), 1);
    let out = exchange(&mut c, T0 + ms(20), ts(PEER_ACK, PEER_SYN_TSVAL + 1, 0));
    assert_eq!(out, vec![]);
    assert_eq!(c.state(), State::Established);
}
