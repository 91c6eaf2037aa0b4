//! Flow control (RFC 9293 section 3.8.6): zero windows and probing, SWS avoidance on both
//! sides, Nagle, delayed ACKs, and never shrinking the window.

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, State};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// ESTABLISHED, the peer's window closed (zero) before we had anything to send, and
/// `n` bytes queued.
fn zero_window(n: usize) -> Connection {
    let mut c = established(Config {
        nagle: false,
        ..quick()
    });
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 0));
    assert_eq!(c.snd_wnd(), 0);
    c.send(&bytes(n)).unwrap();
    sent_none(&mut c, T0);
    c
}

// RFC 9293 3.8.6.1 (MUST-36, SHLD-29): a zero window is probed; "The transmitting host
// SHOULD send the first zero-window probe when a zero window has existed for the
// retransmission timeout period". The probe (SEG.SEQ = SND.UNA - 1, no data, as Linux) must
// draw an ACK with the current window.
#[test]
fn zero_window_probe_after_one_rto() {
    let mut c = zero_window(100);
    let rto = c.rto();
    assert_eq!(c.poll_timeout(), Some(T0 + rto));
    let at = fire_next(&mut c);
    let probe = sent_one(&mut c, at);
    assert_eq!(probe.ctl(), (ACK, ISS1 - 1, IRS1));
    assert_eq!(probe.payload, b"");
    assert_eq!(c.stats().window_probes_sent, 1);
}

// RFC 9293 3.8.6.1 (SHLD-30): "exponential backoff SHOULD be used between probes".
#[test]
fn zero_window_probes_back_off() {
    let mut c = zero_window(100);
    let rto = c.rto();
    let mut gaps = Vec::new();
    let mut last = T0;
    for _ in 0..5 {
        let at = fire_next(&mut c);
        assert_eq!(sent(&mut c, at).len(), 1);
        // The probe is answered: the window is still zero.
        recv_seg(&mut c, at, win(seg(ACK, IRS1, ISS1), 0));
        gaps.push((at - last).as_millis() / rto.as_millis());
        last = at;
    }
    assert_eq!(gaps, vec![1, 2, 4, 8, 16]);
}

// RFC 9293 3.8.6.1 (MUST-37, MAY-8): "a TCP implementation MUST allow the window to stay
// zero indefinitely" -- a day of answered probes does not kill the connection.
#[test]
fn window_may_stay_zero_indefinitely() {
    let mut c = zero_window(100);
    let mut at = T0;
    while at < T0 + secs(24 * 3600) {
        at = fire_next(&mut c);
        for s in sent(&mut c, at) {
            assert!(s.payload.is_empty(), "no data into a zero window: {s:?}");
        }
        recv_seg(&mut c, at, win(seg(ACK, IRS1, ISS1), 0));
        assert_eq!(c.state(), State::Established);
    }
    assert_eq!(c.error(), None);
    let gap = c.poll_timeout().unwrap() - at;
    assert!(gap <= c.config().rto_max, "probe interval capped: {gap:?}");
}

// RFC 9293 3.8.6.1: when the window opens, the queued data goes out and probing stops.
#[test]
fn window_update_resumes_sending() {
    let mut c = zero_window(100);
    let at = fire_next(&mut c);
    sent(&mut c, at);
    let out = exchange(&mut c, at, win(seg(ACK, IRS1, ISS1), 1000));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload.len(), 100);
    assert_eq!(out[0].seq, ISS1);
}

// RFC 9293 3.4 (MUST-66): a sender facing a zero window still processes a RST.
#[test]
fn rst_processed_with_zero_window() {
    let mut c = zero_window(100);
    recv_seg(&mut c, T0, seg(RST, IRS1, SeqNumber(0)));
    assert_eq!(c.error(), Some(ConnectionError::Reset));
}

// RFC 9293 3.8.6.2.1 (MUST-38): sender SWS avoidance: with the window smaller than both a
// full segment and half the largest window the peer offered, nothing is sent...
#[test]
fn sender_sws_holds_back_tiny_window_segments() {
    let mut c = established(Config {
        nagle: false,
        ..quick()
    });
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 100));
    c.send(&bytes(1000)).unwrap();
    sent_none(&mut c, T0);
    // ... until the window reaches a full segment.
    let out = exchange(&mut c, T0, win(seg(ACK, IRS1, ISS1), 1460));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload.len(), 1000);
}

// RFC 9293 3.8.6.2.1: "... or (d) the override timeout occurs" -- with nothing in flight,
// what fits goes out when the override (persist) timer fires.
#[test]
fn sender_sws_override_timeout_sends_what_fits() {
    let mut c = established(Config {
        nagle: false,
        ..quick()
    });
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1), 100));
    c.send(&bytes(1000)).unwrap();
    sent_none(&mut c, T0);
    let at = fire_next(&mut c);
    let out = sent_one(&mut c, at);
    assert_eq!(out.payload.len(), 100);
}

// RFC 9293 3.8.6.2.1: a short segment that carries all the queued data goes out at once
// (Nagle permitting).
#[test]
fn short_final_segment_goes_out_when_nothing_is_in_flight() {
    let mut c = established(quick());
    c.send(b"hi").unwrap();
    assert_eq!(sent_one(&mut c, T0).payload, b"hi");
}

// RFC 9293 3.7.4 (SHLD-7): Nagle: "If there is unacknowledged data ..., the sending TCP
// buffers all user data ... until the outstanding data has been acknowledged or until the
// TCP can send a full-sized segment". On by default.
#[test]
fn nagle_holds_small_segments_while_data_is_outstanding() {
    let mut c = established(quick());
    assert!(c.config().nagle);
    c.send(b"one").unwrap();
    sent_one(&mut c, T0);
    c.send(b"two").unwrap();
    c.send(b"three").unwrap();
    sent_none(&mut c, T0);
    let out = exchange(&mut c, T0 + ms(10), seg(ACK, IRS1, ISS1 + 3));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload, b"twothree", "coalesced");
}

// RFC 9293 3.7.4 (SHLD-7): a full-sized segment is sent despite outstanding data.
#[test]
fn nagle_lets_full_segments_through() {
    let mut c = established(quick());
    c.send(b"one").unwrap();
    sent_one(&mut c, T0);
    c.send(&bytes(1460 + 10)).unwrap();
    let out = sent(&mut c, T0);
    assert_eq!(
        out.len(),
        1,
        "the full segment only; the 10-byte tail waits"
    );
    assert_eq!(out[0].payload.len(), 1460);
}

// RFC 9293 3.7.4 (MUST-17): "A TCP implementation MUST include a way for an application to
// disable the Nagle algorithm on an individual connection."
#[test]
fn nagle_can_be_disabled() {
    let mut c = established(quick());
    c.set_nagle(false);
    c.send(b"one").unwrap();
    sent_one(&mut c, T0);
    c.send(b"two").unwrap();
    assert_eq!(sent_one(&mut c, T0).payload, b"two");
}

// RFC 9293 3.8.6.3 (SHLD-18, MUST-40): ACKs may be delayed, but "the delay MUST be less than
// 0.5 seconds".
#[test]
fn delayed_ack_is_under_half_a_second() {
    let mut c = established(plain());
    assert_eq!(exchange(&mut c, T0, data(IRS1, ISS1, b"small")), vec![]);
    let at = c.poll_timeout().expect("delayed ACK timer");
    assert!(at - T0 < ms(500), "{:?}", at - T0);
    c.handle_timeout(at);
    let ack = sent_one(&mut c, at);
    assert_eq!(ack.ctl(), (ACK, ISS1, IRS1 + 5));
}

// RFC 5681 4.2 / RFC 9293 3.8.6.3 (SHLD-19): "an ACK SHOULD be generated for at least every
// second full-sized segment".
#[test]
fn every_second_full_segment_is_acked_at_once() {
    let mut c = established(plain());
    let full = bytes(1460);
    assert_eq!(exchange(&mut c, T0, data(IRS1, ISS1, &full)), vec![]);
    let out = exchange(&mut c, T0, data(IRS1 + 1460, ISS1, &full));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, IRS1 + 2920);
}

// RFC 5681 4.2 / RFC 9293 3.10.7.4 (MAY-13): "A TCP receiver SHOULD send an immediate
// duplicate ACK when an out-of-order segment arrives."
#[test]
fn out_of_order_segment_is_acked_at_once() {
    let mut c = established(plain());
    let out = exchange(&mut c, T0, data(IRS1 + 100, ISS1, b"later"));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, IRS1);
}

// RFC 5681 4.2: "A TCP receiver SHOULD send an immediate ACK when the incoming segment fills
// in all or part of a gap in the sequence space."
#[test]
fn hole_fill_is_acked_at_once() {
    let mut c = established(plain());
    recv_seg(&mut c, T0, data(IRS1 + 5, ISS1, b"world"));
    sent(&mut c, T0);
    let out = exchange(&mut c, T0, data(IRS1, ISS1, b"hello"));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack, IRS1 + 10);
}

// RFC 9293 3.8.6.3: a delayed ACK rides on outgoing data.
#[test]
fn delayed_ack_piggybacks_on_data() {
    let mut c = established(plain());
    recv_seg(&mut c, T0, data(IRS1, ISS1, b"ping"));
    c.send(b"pong").unwrap();
    let out = sent_one(&mut c, T0);
    assert_eq!((out.payload.as_slice(), out.ack), (&b"pong"[..], IRS1 + 4));
    // The delayed-ACK timer (40 ms) has nothing left to do.
    let at = T0 + ms(100);
    c.handle_timeout(at);
    sent_none(&mut c, at);
}

/// ESTABLISHED with a small receive buffer, and the window's right edge of each ACK.
fn small_buffer(buf: usize) -> Connection {
    established(Config {
        recv_buffer_bytes: buf,
        ..quick()
    })
}

fn right_edge(s: &Seg) -> SeqNumber {
    s.ack + usize::from(s.win)
}

// RFC 9293 3.8.6 (SHLD-14): "A TCP receiver SHOULD NOT shrink the window, i.e., move the right
// window edge to the left". As data arrives unread the window shrinks, the edge stays.
#[test]
fn right_edge_never_moves_left() {
    let mut c = small_buffer(4000);
    let mut edge = IRS1 + 4000;
    for k in 0..4 {
        let out = exchange(&mut c, T0, data(IRS1 + 1000 * k, ISS1, &bytes(1000)));
        let e = right_edge(&out[0]);
        assert!(e >= edge, "edge moved left: {e} < {edge}");
        edge = e;
    }
    assert_eq!(c.recv_queue_len(), 4000);
}

// RFC 9293 3.8.6.2.2 (MUST-39): receiver SWS avoidance: the window is reopened only once it
// can grow by min(RCV.BUFF/2, Eff.snd.MSS); reading less does not announce a tiny window.
#[test]
fn receiver_sws_avoidance_withholds_small_window_updates() {
    let mut c = small_buffer(10_000);
    for k in 0..10 {
        recv_seg(&mut c, T0, data(IRS1 + 1000 * k, ISS1, &bytes(1000)));
    }
    let out = sent(&mut c, T0);
    assert_eq!(out.last().unwrap().win, 0, "buffer full");
    let mut buf = vec![0u8; 1000];
    assert_eq!(c.recv(&mut buf[..500]), Ok(500));
    sent_none(&mut c, T0);
    // A probe now sees a window still zero: the 500 bytes are not advertised.
    let out = exchange(&mut c, T0, seg(ACK, IRS1 + 9999, ISS1));
    assert_eq!(out[0].win, 0);
    // Reading to 1460 (one MSS) freed opens the window with a window update.
    assert_eq!(c.recv(&mut buf[..960]), Ok(960));
    let out = sent(&mut c, T0);
    assert_eq!(out.len(), 1, "window update");
    assert_eq!(usize::from(out[0].win), 1460);
}

// RFC 9293 3.8.6.2.2 asks for receiver SWS avoidance, not for a window update each time a
// read frees an MSS: while the window the peer knows is more than half the buffer, reading
// data as it arrives sends nothing of its own, and the data is acknowledged every second
// full-sized segment (SHLD-19) as if it had not been read (Linux's tcp_cleanup_rbuf decides
// so too). Before, each read sent a window update: an ACK per segment.
#[test]
fn reading_as_data_arrives_adds_no_window_updates_while_the_window_is_large() {
    let mut c = established(Config {
        recv_buffer_bytes: 64_000,
        ..plain()
    });
    let mut buf = vec![0u8; 4000];
    let mut acks = Vec::new();
    for k in 0..20 {
        recv_seg(&mut c, T0, data(IRS1 + 1460 * k, ISS1, &bytes(1460)));
        assert_eq!(c.recv(&mut buf), Ok(1460));
        acks.extend(sent(&mut c, T0).iter().map(|s| s.ack));
    }
    let every_second: Vec<SeqNumber> = (1..=10).map(|k| IRS1 + 2920 * k).collect();
    assert_eq!(acks, every_second);
}

// ... and once the window the peer knows is half the buffer or less, a read that at least
// doubles it is announced at once.
#[test]
fn reading_a_window_at_most_half_open_announces_it() {
    let mut c = established(Config {
        recv_buffer_bytes: 10_000,
        ..plain()
    });
    let mut out = Vec::new();
    for k in 0..4 {
        out.extend(exchange(
            &mut c,
            T0,
            data(IRS1 + 1460 * k, ISS1, &bytes(1460)),
        ));
    }
    assert_eq!(out.len(), 2, "every second segment");
    assert_eq!(usize::from(out[1].win), 10_000 - 4 * 1460);
    assert_eq!(read_all(&mut c).len(), 4 * 1460);
    let update = sent_one(&mut c, T0);
    assert_eq!(
        (update.ack, usize::from(update.win)),
        (IRS1 + 4 * 1460, 10_000)
    );
}

// RFC 9293 3.8.6.2.2: a receiver whose window opens sends a window update so that a sender
// blocked by a zero window need not wait for its probe.
#[test]
fn window_update_after_zero_window() {
    let mut c = small_buffer(2000);
    recv_seg(&mut c, T0, data(IRS1, ISS1, &bytes(2000)));
    assert_eq!(sent(&mut c, T0).last().unwrap().win, 0);
    assert_eq!(read_all(&mut c).len(), 2000);
    let out = sent_one(&mut c, T0);
    assert_eq!((out.ack, usize::from(out.win)), (IRS1 + 2000, 2000));
}

// RFC 9293 3.8.6 (MUST-34, MAY-7, SHLD-17): robust to a peer that shrinks its window to zero
// with data outstanding: the oldest segment keeps being retransmitted (doubling as the
// probe), the connection is not timed out over it, and sending resumes when it reopens.
#[test]
fn peer_shrinking_its_window_is_survived() {
    let (mut c, segs) = with_outstanding(quick(), 3000);
    assert_eq!(segs.len(), 3);
    // The peer acks the first segment but shrinks the window to nothing.
    recv_seg(&mut c, T0, win(seg(ACK, IRS1, ISS1 + 1000), 0));
    let mut at: Instant = T0;
    for _ in 0..12 {
        at = fire_next(&mut c);
        let out = sent(&mut c, at);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].seq, ISS1 + 1000, "the oldest unacknowledged byte");
    }
    assert!(
        at - T0 > c.config().r2_data,
        "longer than R2: {:?}",
        at - T0
    );
    assert_eq!(c.state(), State::Established);
    // The window reopens with the ACK of the retransmitted segment: the rest follows.
    recv_seg(&mut c, at, win(seg(ACK, IRS1, ISS1 + 2460), 10_000));
    let out = sent(&mut c, at);
    assert_eq!(out.first().map(|s| s.seq), Some(ISS1 + 2460));
}
