//! Urgent data (RFC 9293 section 3.8.5, sixth step of 3.10.7.4).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Event};
use sansnet_stack::wire::tcp::Repr;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

fn urg(seq: SeqNumber, up: u16, payload: &[u8]) -> Repr<'_> {
    Repr {
        flags: URG | ACK,
        urgent_pointer: up,
        ..data(seq, ISS1, payload)
    }
}

// RFC 9293 3.8.5 (MUST-30, MUST-62, MUST-32): "the urgent pointer ... points to the sequence
// number of the octet following the urgent data"; the application is told asynchronously.
#[test]
fn urgent_pointer_signals_the_application() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, urg(IRS1, 3, b"abcdef"));
    assert!(events(&mut c).contains(&Event::Urgent));
    assert_eq!(c.urgent_pending(), Some(3));
}

// RFC 9293 3.8.5 (MUST-33): the application can ask how much urgent data is left to read.
#[test]
fn urgent_pending_counts_down_as_data_is_read() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, urg(IRS1, 3, b"abcdef"));
    let mut buf = [0u8; 2];
    assert_eq!(c.recv(&mut buf), Ok(2));
    assert_eq!(c.urgent_pending(), Some(1));
    assert_eq!(c.recv(&mut buf[..1]), Ok(1));
    assert_eq!(c.urgent_pending(), None, "past the urgent point");
}

// RFC 9293 3.8.5 (MUST-31): urgent data of any length: the pointer may lie beyond this
// segment.
#[test]
fn urgent_pointer_beyond_the_segment() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, urg(IRS1, 5000, b"abc"));
    assert!(events(&mut c).contains(&Event::Urgent));
    assert_eq!(c.urgent_pending(), Some(5000));
}

// RFC 9293 3.10.7.4 sixth: "If the urgent pointer (SEG.UP) is greater than RCV.UP, set
// RCV.UP <- max(RCV.UP,SEG.UP) and signal the user" -- the same pointer again is not news.
#[test]
fn repeated_urgent_pointer_is_signalled_once() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, urg(IRS1, 10, b"abc"));
    events(&mut c);
    recv_seg(&mut c, T0, urg(IRS1 + 3, 7, b"def"));
    assert_eq!(events(&mut c), vec![Event::Readable]);
    recv_seg(&mut c, T0, urg(IRS1 + 6, 7, b"ghi"));
    assert!(
        events(&mut c).contains(&Event::Urgent),
        "pointer advanced to +13"
    );
}

// RFC 9293 3.4 (MUST-66): URG is processed even with a zero receive window.
#[test]
fn urgent_processed_with_zero_window() {
    let mut c = established(Config {
        recv_buffer_bytes: 100,
        ..quick()
    });
    recv_seg(&mut c, T0, data(IRS1, ISS1, &bytes(100)));
    assert_eq!(sent(&mut c, T0).last().unwrap().win, 0);
    events(&mut c);
    recv_seg(&mut c, T0, urg(IRS1 + 100, 1, b"!"));
    assert!(events(&mut c).contains(&Event::Urgent));
}

// RFC 9293 3.10.7.4 sixth, CLOSE-WAIT and later: "This should not occur since a FIN has been
// received from the remote side. Ignore the URG."
#[test]
fn urgent_ignored_after_peer_fin() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, seg(FIN_ACK, IRS1, ISS1));
    events(&mut c);
    recv_seg(&mut c, T0, urg(IRS1 + 1, 1, b""));
    assert!(!events(&mut c).contains(&Event::Urgent));
    assert_eq!(c.urgent_pending(), None);
}

// RFC 9293 3.10.7.4 sixth: signal the user only "if the urgent pointer (RCV.UP) is in advance
// of the data consumed": URG with a zero pointer at RCV.NXT, everything read, is no news.
#[test]
fn urgent_pointer_not_ahead_of_consumed_data_is_not_signalled() {
    let mut c = established(quick());
    recv_seg(&mut c, T0, urg(IRS1, 0, b"abc"));
    assert!(!events(&mut c).contains(&Event::Urgent));
    assert_eq!(c.urgent_pending(), None);
}

// RFC 9293 3.9.1.2 (SEND with the URGENT flag) and 3.8.5 (MUST-30, MUST-62): the sender's
// urgent pointer names the first octet after the urgent data, counted from SEG.SEQ; data
// queued before the urgent data travels with it.
#[test]
fn urgent_send_points_past_the_urgent_data() {
    let mut c = established(quick());
    assert_eq!(c.send(b"0123"), Ok(4));
    assert_eq!(c.send_urgent(b"abc"), Ok(3));
    let out = sent(&mut c, T0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload, b"0123abc");
    assert!(out[0].has(URG | ACK));
    assert_eq!(out[0].up, 7);
}

// Urgent data longer than a segment: each segment carries the distance from its own
// SEG.SEQ; once SND.UNA reaches SND.UP, segments are plain again.
#[test]
fn the_pointer_counts_from_each_segment_and_urgency_ends_when_acknowledged() {
    let mut c = established(quick());
    let up = ISS1 + 3000;
    assert_eq!(c.send_urgent(&bytes(3000)), Ok(3000));
    let mut now = T0;
    let mut out = sent(&mut c, now);
    let mut segments = 0;
    // Each round: every segment sent carries the distance from its own SEG.SEQ; then the
    // peer acknowledges what was sent (Nagle holds back a short last segment until then).
    while !out.is_empty() {
        for s in &out {
            assert!(s.has(URG), "{:?}", s.ctl());
            assert_eq!(usize::from(s.up), up - s.seq, "{:?}", s.ctl());
            segments += 1;
        }
        let last = out.last().unwrap();
        now += ms(10);
        out = exchange(&mut c, now, seg(ACK, IRS1, last.seq + last.len()));
    }
    assert!(segments >= 3, "{segments} segments");
    assert_eq!(c.snd_una(), up);
    assert_eq!(c.send(b"more"), Ok(4));
    let out = sent(&mut c, now);
    assert_eq!(out.len(), 1);
    assert!(!out[0].has(URG), "{:?}", out[0].ctl());
    assert_eq!(out[0].up, 0);
}

// RFC 9293 3.8.5 (MUST-31): urgent data of any length. A pointer more than 65,535 octets
// ahead cannot be written; the segment says URG with 65,535 (as Linux sends it) until the
// segments come within reach.
#[test]
fn urgent_data_longer_than_the_pointer_field_reaches() {
    let mut c = established(Config {
        send_buffer_bytes: 200_000,
        ..quick()
    });
    assert_eq!(c.send_urgent(&bytes(100_000)), Ok(100_000));
    let out = sent(&mut c, T0);
    assert!(!out.is_empty());
    assert!(out[0].has(URG));
    assert_eq!(out[0].up, u16::MAX);
}

// The pointer goes out even when the window holds the urgent data back: the window probe
// that acknowledges the peer's data carries it.
#[test]
fn a_window_probe_carries_the_pointer() {
    let mut c = established(quick());
    // The peer's window closes.
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 0));
    assert_eq!(c.send_urgent(b"!"), Ok(1));
    let out = exchange(&mut c, T0 + ms(1), data(IRS1, ISS1, b"x"));
    assert_eq!(out.len(), 1);
    assert!(out[0].has(URG | ACK), "{:?}", out[0].ctl());
    assert_eq!((out[0].seq, out[0].up), (ISS1, 1));
}
