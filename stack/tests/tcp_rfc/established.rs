//! ESTABLISHED (RFC 9293 section 3.10.7.4) with RFC 5961: sequence acceptability at the
//! window edges, RST and SYN handling, ACK acceptability and the challenge ACK rate limit.

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, DropReason, Event, State};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// ESTABLISHED, no options, ACKs sent at once. RCV.WND is 65535 (no window scaling).
fn est() -> Connection {
    established(quick())
}

const WND: usize = 65535;

/// The ACK the engine sends for an unacceptable segment, or as a challenge ACK:
/// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
const REPLY: (sansnet_stack::wire::tcp::TcpFlags, SeqNumber, SeqNumber) = (ACK, ISS1, IRS1);

#[test]
fn receive_window_is_the_advertised_one() {
    let mut c = est();
    // The window in our ACK of the SYN-ACK: the whole buffer, capped at 65535 unscaled.
    c.send(b"x").unwrap();
    let s = sent_one(&mut c, T0);
    assert_eq!(usize::from(s.win), WND);
}

// RFC 9293 3.10.7.4 first: a zero-length segment is acceptable iff
// RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND, and (the allowance for valid ACKs, as Linux makes
// it) exactly at RCV.NXT+RCV.WND, where a peer whose data fills the window sends its ACKs;
// an unacceptable one draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and is dropped.
#[test]
fn empty_segment_acceptability_at_the_window_edges() {
    let cases = [
        ("RCV.NXT-1", IRS1 - 1, false),
        ("left edge RCV.NXT", IRS1, true),
        ("middle", IRS1 + WND / 2, true),
        ("right edge RCV.NXT+RCV.WND-1", IRS1 + (WND - 1), true),
        ("the right edge RCV.NXT+RCV.WND", IRS1 + WND, true),
        ("just beyond RCV.NXT+RCV.WND", IRS1 + (WND + 1), false),
        ("far beyond", IRS1 + 1_000_000, false),
    ];
    for (name, seq, ok) in cases {
        let mut c = est();
        let out = exchange(&mut c, T0, seg(ACK, seq, ISS1));
        if ok {
            assert_eq!(out, vec![], "{name}: accepted silently");
            assert_eq!(c.stats().drops(DropReason::OutOfWindow), 0, "{name}");
        } else {
            assert_eq!(out.len(), 1, "{name}: one ACK");
            assert_eq!(out[0].ctl(), REPLY, "{name}");
            assert_eq!(c.stats().drops(DropReason::OutOfWindow), 1, "{name}");
        }
        assert_eq!(c.state(), State::Established);
    }
}

// RFC 9293 3.10.7.4 first: a segment with data is acceptable iff its first or its last byte
// is in the window: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or
// RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND.
#[test]
fn data_segment_acceptability_at_the_window_edges() {
    let payload = [7u8; 10];
    let cases = [
        ("all old: ends at RCV.NXT-1", IRS1 - 10, false),
        (
            "starts at RCV.NXT-1, overlaps the left edge",
            IRS1 - 1,
            true,
        ),
        ("left edge", IRS1, true),
        ("middle", IRS1 + WND / 2, true),
        ("starts at the right edge", IRS1 + (WND - 1), true),
        ("starts just beyond", IRS1 + WND, false),
    ];
    for (name, seq, ok) in cases {
        let mut c = est();
        let out = exchange(&mut c, T0, data(seq, ISS1, &payload));
        assert_eq!(
            c.stats().drops(DropReason::OutOfWindow),
            u64::from(!ok),
            "{name}"
        );
        // Acceptable or not, every one of these draws an ACK at once: unacceptable, in order
        // (delayed ACKs off) or out of order (immediate ACK, RFC 5681 4.2).
        assert_eq!(out.len(), 1, "{name}");
        assert_eq!(out[0].flags, ACK, "{name}");
    }
}

// RFC 9293 3.10.7.4 seventh: in-order data is delivered and RCV.NXT advances over it;
// the part overlapping old data is trimmed.
#[test]
fn overlapping_data_is_trimmed_to_the_new_part() {
    let mut c = est();
    recv_seg(&mut c, T0, data(IRS1, ISS1, b"hello"));
    let out = exchange(&mut c, T0, data(IRS1 + 3, ISS1, b"lo world"));
    assert_eq!(out.last().unwrap().ack, IRS1 + 11);
    assert_eq!(read_all(&mut c), b"hello world");
}

// RFC 9293 3.10.7.4 first: the segment starting at the right edge is trimmed to the window
// ("segments with higher beginning sequence numbers may be held"; only the part inside the
// window is kept).
#[test]
fn data_past_the_right_edge_is_trimmed() {
    let mut c = est();
    let out = exchange(&mut c, T0, data(IRS1 + (WND - 1), ISS1, &[1u8; 10]));
    assert_eq!(out[0].ack, IRS1, "out of order: RCV.NXT unchanged");
    // Filling the hole delivers exactly up to the old right edge.
    let fill = vec![2u8; WND - 1];
    recv_seg(&mut c, T0, data(IRS1, ISS1, &fill));
    assert_eq!(c.rcv_nxt(), IRS1 + WND);
    assert_eq!(c.recv_queue_len(), WND);
}

// RFC 5961 3.2 / RFC 9293 3.10.7.4 second: "If the RST bit is set and the sequence number
// exactly matches the next expected sequence number (RCV.NXT), then TCP MUST reset the
// connection." The user is told (MUST-12).
#[test]
fn exact_rst_resets_the_connection() {
    let mut c = est();
    assert_eq!(exchange(&mut c, T0, seg(RST, IRS1, SeqNumber(0))), vec![]);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), Some(ConnectionError::Reset));
    assert_eq!(events(&mut c), vec![Event::Failed(ConnectionError::Reset)]);
    assert_eq!(
        c.recv(&mut [0u8; 4]),
        Err(sansnet_stack::tcp::Error::Connection(
            ConnectionError::Reset
        ))
    );
    assert_eq!(c.poll_timeout(), None);
}

// RFC 5961 3.2: the ACK field of a RST is not checked; RST,ACK at RCV.NXT resets too.
#[test]
fn exact_rst_ack_resets_whatever_its_ack() {
    let mut c = est();
    recv_seg(&mut c, T0, seg(RST_ACK, IRS1, SeqNumber(12345)));
    assert_eq!(c.error(), Some(ConnectionError::Reset));
}

// RFC 5961 3.2 / RFC 9293 3.10.7.4 second: "If the RST bit is set and the sequence number
// does not exactly match the next expected sequence value, yet is within the current receive
// window, TCP MUST send an acknowledgment (challenge ACK)".
#[test]
fn in_window_rst_draws_challenge_ack() {
    for seq in [IRS1 + 1, IRS1 + WND / 2, IRS1 + (WND - 1)] {
        let mut c = est();
        let out = exchange(&mut c, T0, seg(RST, seq, SeqNumber(0)));
        assert_eq!(out.len(), 1, "seq {seq}");
        assert_eq!(out[0].ctl(), REPLY);
        assert_eq!(c.state(), State::Established);
        assert_eq!(c.stats().challenge_acks_sent, 1);
        assert_eq!(c.stats().drops(DropReason::RstNotExact), 1);
    }
}

// RFC 5961 3.2 / RFC 9293 3.10.7.4 first: "If the RST bit is set and the sequence number is
// outside the current receive window, silently drop the segment."
#[test]
fn out_of_window_rst_is_dropped_silently() {
    for seq in [IRS1 - 1, IRS1 + WND, IRS1 + 1_000_000] {
        let mut c = est();
        assert_eq!(
            exchange(&mut c, T0, seg(RST, seq, SeqNumber(0))),
            vec![],
            "{seq}"
        );
        assert_eq!(c.state(), State::Established);
    }
}

// RFC 5961 4.2 / RFC 9293 3.10.7.4 fourth: "If the SYN bit is set, irrespective of the
// sequence number, TCP MUST send an ACK (also referred to as challenge ACK) to the remote
// peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. After sending the acknowledgment, TCP MUST
// drop the unacceptable segment and stop processing further."
#[test]
fn syn_draws_challenge_ack_wherever_it_lands() {
    for (flags, seq) in [
        (SYN, IRS1),
        (SYN, IRS1 + 100),
        (SYN, IRS1 - 1000),
        (SYN, IRS1 + 1_000_000),
        (SYN_ACK, IRS1),
        (SYN_ACK, IRS),
    ] {
        let mut c = est();
        let out = exchange(
            &mut c,
            T0,
            Repr {
                payload: b"data",
                ..seg(flags, seq, ISS1)
            },
        );
        assert_eq!(out.len(), 1, "{flags} {seq}");
        assert_eq!(out[0].ctl(), REPLY, "{flags} {seq}");
        assert_eq!(c.state(), State::Established);
        assert_eq!(
            c.recv_queue_len(),
            0,
            "{flags} {seq}: data on a SYN is not taken"
        );
    }
}

// RFC 5961 4.2: the challenge ACK to a SYN is counted as such.
#[test]
fn in_window_syn_counts_a_challenge_ack() {
    let mut c = est();
    recv_seg(&mut c, T0, seg(SYN, IRS1 + 5, SeqNumber(0)));
    assert_eq!(c.stats().challenge_acks_sent, 1);
}

// RFC 9293 3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
#[test]
fn in_window_data_without_ack_is_dropped() {
    let mut c = est();
    let r = Repr {
        payload: b"noack",
        ..seg(PSH, IRS1, SeqNumber(0))
    };
    assert_eq!(exchange(&mut c, T0, r), vec![]);
    assert_eq!(c.recv_queue_len(), 0);
    assert_eq!(c.stats().drops(DropReason::NoAck), 1);
}

// RFC 5961 5.2: "(SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT ... All incoming segments whose
// ACK value doesn't satisfy the above condition MUST be discarded and an ACK sent back."
// With 1000 bytes outstanding and MAX.SND.WND = 65535.
#[test]
fn ack_acceptability_per_rfc5961() {
    let una = ISS1;
    let nxt = ISS1 + 1000;
    let cases = [
        ("SND.UNA - MAX.SND.WND - 1", una - (WND + 1), false),
        ("SND.UNA - MAX.SND.WND", una - WND, true),
        ("SND.UNA - 1", una - 1, true),
        ("SND.UNA", una, true),
        ("middle", una + 500, true),
        ("SND.NXT", nxt, true),
        ("SND.NXT + 1", nxt + 1, false),
        ("far ahead", nxt + 100_000, false),
    ];
    for (name, ack, ok) in cases {
        let (mut c, segs) = with_outstanding(quick(), 1000);
        assert_eq!(segs.len(), 1);
        let out = exchange(&mut c, T0, data(IRS1, ack, b"abc"));
        if ok {
            assert_eq!(c.recv_queue_len(), 3, "{name}: the data is taken");
            assert_eq!(out.last().unwrap().ack, IRS1 + 3, "{name}");
            let expected_una = if ack > una { ack } else { una };
            assert_eq!(c.snd_una(), expected_una, "{name}");
        } else {
            assert_eq!(c.recv_queue_len(), 0, "{name}: the segment is discarded");
            assert_eq!(out.len(), 1, "{name}");
            assert_eq!(out[0].ctl(), (ACK, nxt, IRS1), "{name}");
            assert_eq!(c.stats().drops(DropReason::AckOutOfRange), 1, "{name}");
            assert_eq!(c.snd_una(), una, "{name}");
        }
    }
}

// RFC 9293 3.10.7.4 fifth: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then
// send an ACK, drop the segment, and return" -- also with nothing outstanding.
#[test]
fn ack_for_data_never_sent_is_challenged() {
    let mut c = est();
    let out = exchange(&mut c, T0, seg(ACK, IRS1, ISS1 + 1));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), REPLY);
    assert_eq!(c.snd_una(), ISS1);
}

// RFC 9293 3.10.7.4 fifth: "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK.
// Any segments on the retransmission queue that are thereby entirely acknowledged are
// removed."
#[test]
fn ack_advances_snd_una_and_frees_the_send_buffer() {
    let (mut c, _) = with_outstanding(quick(), 1000);
    assert_eq!(c.send_queue_len(), 1000);
    recv_seg(&mut c, T0 + ms(50), seg(ACK, IRS1, ISS1 + 400));
    assert_eq!(c.snd_una(), ISS1 + 400);
    assert_eq!(c.send_queue_len(), 600);
    recv_seg(&mut c, T0 + ms(60), seg(ACK, IRS1, ISS1 + 1000));
    assert_eq!(c.send_queue_len(), 0);
    assert_eq!(
        c.poll_timeout(),
        None,
        "retransmission timer stopped (RFC 6298 5.2)"
    );
}

// RFC 9293 3.10.7.4 fifth: the send window is updated only by segments that are not older
// than the last update: SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK.
#[test]
fn window_update_ignores_old_segments() {
    let mut c = est();
    recv_seg(&mut c, T0, data(IRS1, ISS1, b"abcd"));
    recv_seg(&mut c, T0, win(seg(ACK, IRS1 + 4, ISS1), 30_000));
    assert_eq!(c.snd_wnd(), 30_000);
    // An older segment (reordered) with a stale window does not update SND.WND.
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 1_000));
    assert_eq!(c.snd_wnd(), 30_000);
}

// The window update rule, ordered by acknowledgment first: a segment that acknowledges
// more than the one that last set the window was sent after it, so its window is the
// newest, whatever its SEG.SEQ. Here a retransmission that fills a hole: under the RFC's
// test alone (SND.WL1 < SEG.SEQ) its window was set aside while its ACK moved SND.UNA, and
// the right edge, SND.UNA + SND.WND, moved past what the peer offered (a `tcp_pair`
// finding; Linux takes such a window too, `tcp_may_update_window`).
#[test]
fn a_retransmission_that_acknowledges_more_updates_the_window() {
    let (mut c, _) = with_outstanding(quick(), 1000);
    // The peer's second segment arrives, its first was lost.
    recv_seg(&mut c, T0, win(data(IRS1 + 4, ISS1 + 200, b"efgh"), 5_000));
    assert_eq!(c.snd_wnd(), 5_000);
    // Its first, resent later: a lower SEG.SEQ, the ACK of 300 more bytes, and the window
    // the peer has now.
    recv_seg(&mut c, T0, win(data(IRS1, ISS1 + 500, b"abcd"), 1_000));
    assert_eq!(c.snd_una(), ISS1 + 500);
    assert_eq!(
        c.snd_wnd(),
        1_000,
        "the right edge is ISS1 + 1500, as offered"
    );
}

// And a segment sent before the last update (a lower SEG.ACK) does not set the window
// back, though its SEG.SEQ is higher: the RFC's test alone took it.
#[test]
fn a_segment_sent_before_the_last_update_does_not_set_the_window_back() {
    let (mut c, _) = with_outstanding(quick(), 1000);
    recv_seg(&mut c, T0, win(data(IRS1, ISS1 + 500, b"abcd"), 1_000));
    assert_eq!(c.snd_wnd(), 1_000);
    // Sent before that one (it acknowledges less), delayed, from a higher SEG.SEQ.
    recv_seg(&mut c, T0, win(data(IRS1 + 4, ISS1 + 200, b"efgh"), 5_000));
    assert_eq!(c.snd_wnd(), 1_000);
}

// RFC 5961 7: challenge ACKs are rate-limited (configurable); over the limit they are not
// sent, and the limit renews every second.
#[test]
fn challenge_acks_are_rate_limited() {
    let mut c = established(Config {
        challenge_ack_limit_per_sec: 3,
        ..quick()
    });
    let mut acks = 0;
    for i in 0..10 {
        acks += exchange(&mut c, T0 + ms(i), seg(RST, IRS1 + 10, SeqNumber(0))).len();
    }
    assert_eq!(acks, 3);
    assert_eq!(c.stats().challenge_acks_sent, 3);
    assert_eq!(c.stats().drops(DropReason::ChallengeAckLimited), 7);
    // A second later the budget is back.
    let out = exchange(&mut c, T0 + ms(1100), seg(SYN, IRS1 + 10, SeqNumber(0)));
    assert_eq!(out.len(), 1);
    assert_eq!(c.state(), State::Established);
}

// RFC 9293 3.10.7.4 eighth: FIN in ESTABLISHED: "Enter the CLOSE-WAIT state", advance RCV.NXT
// over the FIN, acknowledge it, and tell the user.
#[test]
fn fin_moves_to_close_wait() {
    let mut c = est();
    let out = exchange(
        &mut c,
        T0,
        Repr {
            flags: FIN_ACK,
            payload: b"bye",
            ..seg(ACK, IRS1, ISS1)
        },
    );
    assert_eq!(c.state(), State::CloseWait);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1 + 4));
    let ev = events(&mut c);
    assert!(ev.contains(&Event::PeerClosed) && ev.contains(&Event::Readable));
    assert_eq!(read_all(&mut c), b"bye");
    assert_eq!(c.recv(&mut [0u8; 4]), Ok(0));
}

// RFC 9293 3.10.7.4 (SHLD-31, MUST-59): a FIN that arrives before the data preceding it
// is held and takes effect when the hole fills.
#[test]
fn out_of_order_fin_waits_for_the_data_before_it() {
    let mut c = est();
    recv_seg(
        &mut c,
        T0,
        Repr {
            flags: FIN_ACK,
            payload: b"world",
            ..seg(ACK, IRS1 + 5, ISS1)
        },
    );
    assert_eq!(c.state(), State::Established);
    let out = exchange(&mut c, T0, data(IRS1, ISS1, b"hello"));
    assert_eq!(c.state(), State::CloseWait);
    assert_eq!(out.last().unwrap().ack, IRS1 + 11);
    assert_eq!(read_all(&mut c), b"helloworld");
}

// RFC 9293 3.10.7.4 first (MUST-66): with a zero receive window, a segment at RCV.NXT still
// has its ACK processed (and its data dropped, with an ACK).
#[test]
fn zero_window_still_processes_acks() {
    let cfg = Config {
        recv_buffer_bytes: 1000,
        nagle: false,
        ..quick()
    };
    let mut c = established(cfg);
    c.send(&bytes(100)).unwrap();
    sent(&mut c, T0);
    let out = exchange(&mut c, T0, data(IRS1, ISS1, &bytes(1000)));
    assert_eq!(out.last().unwrap().win, 0, "buffer full: zero window");
    let out = exchange(&mut c, T0, data(IRS1 + 1000, ISS1 + 100, b"more"));
    assert_eq!(c.snd_una(), ISS1 + 100, "the ACK was processed");
    assert_eq!(c.recv_queue_len(), 1000, "the data was not taken");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1 + 100, IRS1 + 1000));
}

// RFC 9293 3.4 (MUST-66): a RST at RCV.NXT is processed even with a zero window.
#[test]
fn zero_window_still_processes_rst() {
    let mut c = established(Config {
        recv_buffer_bytes: 1000,
        ..quick()
    });
    recv_seg(&mut c, T0, data(IRS1, ISS1, &bytes(1000)));
    sent(&mut c, T0);
    recv_seg(&mut c, T0, seg(RST, IRS1 + 1000, SeqNumber(0)));
    assert_eq!(c.error(), Some(ConnectionError::Reset));
}

// RFC 9293 3.3.1 / 3.4: sequence numbers wrap modulo 2^32; acceptability and delivery work
// across the wrap.
#[test]
fn sequence_numbers_wrap() {
    let iss = SeqNumber(u32::MAX - 2);
    let irs = SeqNumber(u32::MAX - 1);
    let mut c = Connection::connect_with_iss(T0, quick(), LOCAL, REMOTE, iss);
    sent(&mut c, T0);
    recv_seg(
        &mut c,
        T0,
        Repr {
            seq_number: irs,
            ack_number: iss + 1,
            ..PEER_SYN_ACK
        },
    );
    sent(&mut c, T0);
    assert_eq!(c.state(), State::Established);
    let out = exchange(&mut c, T0, data(irs + 1, iss + 1, b"wrap-around"));
    assert_eq!(out[0].ack, SeqNumber(10));
    c.send(b"0123456789").unwrap();
    let s = sent_one(&mut c, T0);
    assert_eq!(s.seq, SeqNumber(u32::MAX - 1));
    recv_seg(&mut c, T0, seg(ACK, SeqNumber(10), SeqNumber(8)));
    assert_eq!(c.snd_una(), SeqNumber(8));
    assert_eq!(read_all(&mut c), b"wrap-around");
}

// RFC 5961 5.2: a FIN whose ACK acknowledges data never sent is discarded with an ACK: the FIN
// is not processed.
#[test]
fn fin_with_unacceptable_ack_is_not_processed() {
    let mut c = est();
    let out = exchange(&mut c, T0, seg(FIN_ACK, IRS1, ISS1 + 10));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), REPLY);
    assert_eq!(c.state(), State::Established);
}

// RFC 9293 3.10.7.4 first: a FIN outside the window is unacceptable: ACK, no state change.
#[test]
fn out_of_window_fin_is_ignored_with_an_ack() {
    for seq in [IRS1 - 1, IRS1 + WND] {
        let mut c = est();
        let out = exchange(&mut c, T0, seg(FIN_ACK, seq, ISS1));
        assert_eq!(out.len(), 1, "{seq}");
        assert_eq!(out[0].ctl(), REPLY);
        assert_eq!(c.state(), State::Established);
    }
}
