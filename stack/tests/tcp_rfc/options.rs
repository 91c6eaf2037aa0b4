//! TCP options: MSS (RFC 9293 3.7.1, RFC 6691), window scale and timestamps (RFC 7323),
//! SACK and D-SACK (RFC 2018, RFC 2883).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, DropReason, State};
use sansnet_stack::wire::tcp::{Repr, TcpTimestamp};
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

fn only_ts() -> Config {
    Config {
        timestamps: true,
        ..quick()
    }
}

fn only_sack() -> Config {
    Config {
        sack: true,
        ..quick()
    }
}

fn only_ws() -> Config {
    Config {
        window_scaling: true,
        ..quick()
    }
}

// ---- MSS ---------------------------------------------------------------------------------

// RFC 9293 3.7.1 (MUST-14, MAY-3): the SYN carries our MSS; RFC 9293 3.1 (MUST-65): no MSS
// option outside SYNs.
#[test]
fn mss_is_sent_on_syn_only() {
    let mut c = Connection::connect_with_iss(
        T0,
        Config {
            mss: 1000,
            ..quick()
        },
        LOCAL,
        REMOTE,
        ISS,
    );
    assert_eq!(sent_one(&mut c, T0).mss, Some(1000));
    let out = exchange(&mut c, T0, PEER_SYN_ACK);
    assert_eq!(out[0].mss, None);
    c.send(b"x").unwrap();
    assert_eq!(sent_one(&mut c, T0).mss, None);
}

// RFC 9293 3.7.1 (MUST-15): "If an MSS Option is not received at connection setup, TCP
// implementations MUST assume a default send MSS of 536 (576 - 40) for IPv4".
#[test]
fn send_mss_defaults_to_536() {
    let mut c = syn_sent(Config {
        nagle: false,
        ..quick()
    });
    recv_seg(
        &mut c,
        T0,
        Repr {
            max_seg_size: None,
            ..PEER_SYN_ACK
        },
    );
    sent(&mut c, T0);
    assert_eq!(c.effective_mss(), 536);
    c.send(&bytes(1000)).unwrap();
    let segs = sent(&mut c, T0);
    let sizes: Vec<usize> = segs.iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, vec![536, 464]);
}

// RFC 9293 3.7.1 (MUST-16): the effective send MSS is min(SendMSS, MMS_S - TCP header and
// options); RFC 6691: the timestamps option (12 bytes with padding) comes off the MSS.
#[test]
fn effective_mss_less_timestamps() {
    let c = established(only_ts());
    assert_eq!(c.negotiated(), (true, false, false));
    assert_eq!(c.effective_mss(), 1460 - 12);
    let c = established(quick());
    assert_eq!(c.effective_mss(), 1460);
}

// RFC 9293 3.7.1 (MUST-16): a smaller peer MSS limits our segments.
#[test]
fn peer_mss_limits_segment_size() {
    let mut c = syn_sent(Config {
        nagle: false,
        ..quick()
    });
    recv_seg(
        &mut c,
        T0,
        Repr {
            max_seg_size: Some(700),
            ..PEER_SYN_ACK
        },
    );
    sent(&mut c, T0);
    c.send(&bytes(1500)).unwrap();
    let sizes: Vec<usize> = sent(&mut c, T0).iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, vec![700, 700, 100]);
}

// ---- Window scale ------------------------------------------------------------------------

// RFC 7323 2.2: "The window field in a SYN (i.e., a <SYN> or <SYN,ACK>) segment itself is
// never scaled." Our SYN offers the shift the buffer needs and an unscaled window.
#[test]
fn syn_window_is_unscaled() {
    let mut c = Connection::connect_with_iss(T0, only_ws(), LOCAL, REMOTE, ISS);
    let syn = sent_one(&mut c, T0);
    // 256 KiB buffer: shift 3 (262144 >> 3 = 32768 fits, >> 2 = 65536 does not).
    assert_eq!(syn.ws, Some(3));
    assert_eq!(syn.win, 65535);
    // The peer's SYN-ACK window is taken as is, whatever its shift.
    recv_seg(
        &mut c,
        T0,
        Repr {
            window_scale: Some(7),
            window_len: 1000,
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.snd_wnd(), 1000);
}

// RFC 7323 2.2/2.3: once both SYNs carried the option, windows are scaled both ways.
#[test]
fn windows_are_scaled_after_the_handshake() {
    let mut c = Connection::connect_with_iss(T0, only_ws(), LOCAL, REMOTE, ISS);
    sent(&mut c, T0);
    let out = exchange(
        &mut c,
        T0,
        Repr {
            window_scale: Some(7),
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.negotiated(), (false, false, true));
    assert_eq!(out[0].win, 32768, "262144 >> 3");
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 100));
    assert_eq!(c.snd_wnd(), 100 << 7);
}

// RFC 7323 2.2: "This option ... MUST NOT be sent in a <SYN,ACK> segment unless the <SYN>
// contained it"; scaling is used only if both sides sent it.
#[test]
fn window_scale_needs_both_syns() {
    // We offer, the peer does not.
    let mut c = Connection::connect_with_iss(T0, only_ws(), LOCAL, REMOTE, ISS);
    sent(&mut c, T0);
    let out = exchange(&mut c, T0, PEER_SYN_ACK);
    assert_eq!(c.negotiated().2, false);
    assert_eq!(out[0].win, 65535, "unscaled, capped at 65535");
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 100));
    assert_eq!(c.snd_wnd(), 100);
    // The peer offers, we do not: our SYN-ACK carries no option.
    let mut c = listening(quick());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            window_scale: Some(7),
            ..PEER_SYN
        },
    );
    assert_eq!(out[0].ws, None);
    recv_seg(&mut c, T0, win(PEER_ACK, 100));
    assert_eq!(c.snd_wnd(), 100);
}

// RFC 7323 2.2: our SYN-ACK answers the peer's window scale option with our own.
#[test]
fn syn_ack_answers_window_scale() {
    let mut c = listening(only_ws());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            window_scale: Some(2),
            ..PEER_SYN
        },
    );
    assert_eq!(out[0].ws, Some(3));
    assert_eq!(out[0].win, 65535, "unscaled in the SYN-ACK");
}

// RFC 7323 2.3: "If a Window Scale option is received with a shift.cnt value larger than 14,
// the TCP SHOULD log the error but MUST use 14 instead of the specified value."
#[test]
fn shift_is_clamped_to_14() {
    let mut c = Connection::connect_with_iss(T0, only_ws(), LOCAL, REMOTE, ISS);
    sent(&mut c, T0);
    recv_seg(
        &mut c,
        T0,
        Repr {
            window_scale: Some(200),
            ..PEER_SYN_ACK
        },
    );
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 1));
    assert_eq!(c.snd_wnd(), 1 << 14);
}

// ---- Timestamps --------------------------------------------------------------------------

/// ESTABLISHED with timestamps only; the peer's SYN-ACK had TSval 7000. Returns our
/// TSval clock at T0.
fn ts_established() -> (Connection, u32) {
    let mut c = Connection::connect_with_iss(T0, only_ts(), LOCAL, REMOTE, ISS);
    let syn = sent_one(&mut c, T0);
    let ours = syn.ts.expect("SYN offers timestamps").tsval;
    assert_eq!(
        syn.ts.unwrap().tsecr,
        0,
        "RFC 7323 3.2: TSecr is zero without ACK"
    );
    recv_seg(&mut c, T0, ts(PEER_SYN_ACK, 7000, ours));
    sent(&mut c, T0);
    (c, ours)
}

// RFC 7323 3.2: "Once TSopt has been successfully negotiated ... the TSopt MUST be sent in
// every non-<RST> segment"; TSecr echoes TS.Recent; TSval follows our clock.
#[test]
fn timestamps_are_sent_and_echo_ts_recent() {
    let (mut c, ours) = ts_established();
    c.send(b"x").unwrap();
    let s = sent_one(&mut c, T0 + ms(250));
    let t = s.ts.expect("timestamps on data");
    assert_eq!(t.tsecr, 7000);
    assert_eq!(t.tsval, ours.wrapping_add(250), "a 1 ms clock");
}

// RFC 7323 4.3 R3: "If ... SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then record
// its timestamp in TS.Recent."
#[test]
fn ts_recent_follows_in_order_segments() {
    let (mut c, _) = ts_established();
    let out = exchange(&mut c, T0, ts(data(IRS1, ISS1, b"a"), 7100, 0));
    assert_eq!(out[0].ts.unwrap().tsecr, 7100);
}

// RFC 7323 4.3: a segment beyond Last.ACK.sent (out of order) does not update TS.Recent: the
// echo reflects the segment that advanced the left edge.
#[test]
fn ts_recent_ignores_out_of_order_segments() {
    let (mut c, _) = ts_established();
    let out = exchange(&mut c, T0, ts(data(IRS1 + 100, ISS1, b"later"), 7200, 0));
    assert_eq!(out[0].ts.unwrap().tsecr, 7000);
}

// RFC 7323 5.3 R1 (PAWS): "If there is a Timestamps option in the arriving segment,
// SEG.TSval < TS.Recent, TS.Recent is valid ... and the RST bit is not set, then treat the
// arriving segment as not acceptable: Send an acknowledgment in reply ... and drop".
#[test]
fn paws_drops_old_timestamps_with_an_ack() {
    let (mut c, _) = ts_established();
    let out = exchange(&mut c, T0, ts(data(IRS1, ISS1, b"old"), 6999, 0));
    assert_eq!(c.recv_queue_len(), 0);
    assert_eq!(c.stats().drops(DropReason::Paws), 1);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1));
}

// RFC 7323 5.3 R1: RSTs are exempt from PAWS.
#[test]
fn paws_does_not_apply_to_rst() {
    let (mut c, _) = ts_established();
    recv_seg(&mut c, T0, ts(seg(RST, IRS1, SeqNumber(0)), 1, 0));
    assert_eq!(c.error(), Some(ConnectionError::Reset));
    // And a RST without timestamps is fine too (RFC 7323 3.2: only SHOULD carry them).
    let (mut c, _) = ts_established();
    recv_seg(&mut c, T0, seg(RST, IRS1, SeqNumber(0)));
    assert_eq!(c.state(), State::Closed);
}

// RFC 7323 3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently
// drop the segment."
#[test]
fn segment_without_timestamp_is_dropped_silently() {
    let (mut c, _) = ts_established();
    assert_eq!(exchange(&mut c, T0, data(IRS1, ISS1, b"no ts")), vec![]);
    assert_eq!(c.recv_queue_len(), 0);
    assert_eq!(c.stats().drops(DropReason::MissingTimestamp), 1);
}

// RFC 7323 4.1 / RFC 6298: RTT measured from TSecr of an ACK of new data.
#[test]
fn rtt_is_measured_from_tsecr() {
    let (mut c, _) = ts_established();
    c.send(b"x").unwrap();
    let s = sent_one(&mut c, T0 + ms(1000));
    let echo = s.ts.unwrap().tsval;
    assert_eq!(
        c.srtt(),
        Some(ms(0)),
        "the handshake (at T0) gave a 0 ms sample"
    );
    recv_seg(
        &mut c,
        T0 + ms(1300),
        ts(seg(ACK, IRS1, ISS1 + 1), 7010, echo),
    );
    // SRTT = 7/8 * 0 + 1/8 * 300 ms.
    assert_eq!(
        c.srtt(),
        Some(sansnet_stack::time::Duration::from_micros(37_500))
    );
}

// RFC 7323 3.2: timestamps are used only if both SYNs carried them; the SYN-ACK echoes the
// SYN's TSval.
#[test]
fn timestamps_need_both_syns() {
    let mut c = Connection::connect_with_iss(T0, only_ts(), LOCAL, REMOTE, ISS);
    sent(&mut c, T0);
    let out = exchange(&mut c, T0, PEER_SYN_ACK);
    assert_eq!(c.negotiated().0, false);
    assert_eq!(out[0].ts, None);
    let mut c = listening(only_ts());
    let out = exchange(&mut c, T0, ts(PEER_SYN, 4242, 0));
    assert_eq!(out[0].ts.unwrap().tsecr, 4242);
    let mut c = listening(quick());
    let out = exchange(&mut c, T0, ts(PEER_SYN, 4242, 0));
    assert_eq!(out[0].ts, None, "not offered: not answered");
}

// ---- SACK --------------------------------------------------------------------------------

// RFC 2018 2: "The SACK-permitted option ... MUST NOT be sent on non-SYN segments"; the
// SYN-ACK carries it only if the SYN did.
#[test]
fn sack_permitted_only_on_syn() {
    let mut c = Connection::connect_with_iss(T0, only_sack(), LOCAL, REMOTE, ISS);
    assert!(sent_one(&mut c, T0).sack_permitted);
    let out = exchange(
        &mut c,
        T0,
        Repr {
            sack_permitted: true,
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.negotiated().1, true);
    assert!(!out[0].sack_permitted);
    let mut c = listening(only_sack());
    assert!(!exchange(&mut c, T0, PEER_SYN)[0].sack_permitted);
    let mut c = listening(only_sack());
    let out = exchange(
        &mut c,
        T0,
        Repr {
            sack_permitted: true,
            ..PEER_SYN
        },
    );
    assert!(out[0].sack_permitted);
}

fn block(from: usize, to: usize) -> (SeqNumber, SeqNumber) {
    (IRS1 + from, IRS1 + to)
}

// RFC 2018 4: "The first SACK block (i.e., the one immediately following the kind and length
// fields in the option) MUST specify the contiguous block of data containing the segment
// which triggered this ACK ... the SACK option SHOULD be filled out by repeating the most
// recently reported SACK blocks".
#[test]
fn sack_blocks_most_recent_first() {
    let mut c = established(only_sack());
    let payload = [1u8; 10];
    let a = exchange(&mut c, T0, data(IRS1 + 100, ISS1, &payload));
    assert_eq!(a[0].sack, vec![block(100, 110)]);
    let b = exchange(&mut c, T0, data(IRS1 + 200, ISS1, &payload));
    assert_eq!(b[0].sack, vec![block(200, 210), block(100, 110)]);
    let c3 = exchange(&mut c, T0, data(IRS1 + 300, ISS1, &payload));
    assert_eq!(
        c3[0].sack,
        vec![block(300, 310), block(200, 210), block(100, 110)]
    );
    // A segment extending the oldest block puts that block first.
    let d = exchange(&mut c, T0, data(IRS1 + 110, ISS1, &payload));
    assert_eq!(
        d[0].sack,
        vec![block(100, 120), block(300, 310), block(200, 210)]
    );
}

// RFC 2018 3: at most 4 blocks, or 3 with the timestamps option (40 bytes of options).
#[test]
fn at_most_three_blocks_with_timestamps() {
    let mut c = established(Config {
        delayed_ack: false,
        window_scaling: false,
        ..Config::default()
    });
    assert_eq!(c.negotiated(), (true, true, false));
    let mut last = Vec::new();
    for k in 1..=5 {
        last = exchange(
            &mut c,
            T0,
            ts(data(IRS1 + 100 * k, ISS1, &[1u8; 10]), 7000, 0),
        );
    }
    assert_eq!(last[0].sack.len(), 3);
    assert_eq!(last[0].sack[0], block(500, 510));
    let mut c = established(only_sack());
    for k in 1..=5 {
        last = exchange(&mut c, T0, data(IRS1 + 100 * k, ISS1, &[1u8; 10]));
    }
    assert_eq!(last[0].sack.len(), 4);
}

// RFC 6691 (the MSS counts what the options leave): a data segment that carries four SACK
// blocks (no timestamps) carries 36 bytes less payload, not 28 as with three.
#[test]
fn sack_blocks_come_out_of_the_payload() {
    let mut c = established(only_sack());
    for k in 1..=5 {
        exchange(&mut c, T0, data(IRS1 + 100 * k, ISS1, &[1u8; 10]));
    }
    let mss = c.effective_mss();
    c.send(&vec![7u8; 4 * mss]).unwrap();
    let out = sent(&mut c, T0);
    assert_eq!(out[0].sack.len(), 4);
    assert_eq!(out[0].len(), mss - (4 + 8 * 4));
    for seg in &out {
        let options = if seg.sack.is_empty() {
            0
        } else {
            4 + 8 * seg.sack.len()
        };
        assert!(
            seg.len() + options <= mss,
            "{} + {options} > {mss}",
            seg.len()
        );
    }
}

// RFC 2883 4: "If the D-SACK block reports a duplicate contiguous sequence from a (possibly
// larger) block of data in the receiver's data queue above the cumulative acknowledgement,
// then the second SACK block ... SHOULD specify this (possibly larger) block"; the D-SACK
// block comes first (RFC 2883 section 4, rule 1).
#[test]
fn dsack_reports_duplicates_first() {
    let mut c = established(only_sack());
    recv_seg(&mut c, T0, data(IRS1, ISS1, b"0123456789"));
    sent(&mut c, T0);
    // Below the cumulative ACK: a D-SACK alone.
    let out = exchange(&mut c, T0, data(IRS1, ISS1, b"0123456789"));
    assert_eq!(out[0].ack, IRS1 + 10);
    assert_eq!(out[0].sack, vec![block(0, 10)]);
    // Above it: D-SACK first, then the block holding it.
    recv_seg(&mut c, T0, data(IRS1 + 100, ISS1, &[1u8; 20]));
    sent(&mut c, T0);
    let out = exchange(&mut c, T0, data(IRS1 + 105, ISS1, &[1u8; 5]));
    assert_eq!(out[0].sack, vec![block(105, 110), block(100, 120)]);
}

// RFC 2018 4: SACK blocks are only for data above the cumulative ACK: once the hole is
// filled, no block is reported.
#[test]
fn sack_blocks_disappear_when_the_hole_fills() {
    let mut c = established(only_sack());
    recv_seg(&mut c, T0, data(IRS1 + 10, ISS1, &[1u8; 10]));
    sent(&mut c, T0);
    let out = exchange(&mut c, T0, data(IRS1, ISS1, &[1u8; 10]));
    assert_eq!(out[0].ack, IRS1 + 20);
    assert_eq!(out[0].sack, vec![]);
}

// RFC 7323 3.2 / RFC 9293 3.1 (MUST-5, MUST-6): options on any segment are accepted; an
// echoed timestamp on a segment the peer sends without ACK does not break anything.
#[test]
fn timestamps_on_syn_ack_with_zero_tsecr_are_fine() {
    let mut c = Connection::connect_with_iss(T0, only_ts(), LOCAL, REMOTE, ISS);
    sent(&mut c, T0);
    recv_seg(
        &mut c,
        T0,
        Repr {
            timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 0 }),
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.negotiated().0, true);
}
