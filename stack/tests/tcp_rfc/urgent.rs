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
