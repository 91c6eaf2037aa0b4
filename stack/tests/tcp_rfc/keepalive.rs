//! Keep-alive (RFC 9293 section 3.8.4, RFC 1122 section 4.2.3.6).

use pretty_assertions::assert_eq;
use sansnet_stack::tcp::{
    Config, Connection, ConnectionError, Event, KeepAlive, State, TimeoutKind,
};
use sansnet_stack::time::Instant;

use crate::helpers::*;

const KA: KeepAlive = KeepAlive {
    idle: sansnet_stack::time::Duration::from_secs(60),
    interval: sansnet_stack::time::Duration::from_secs(10),
    count: 3,
};

fn with_keepalive() -> Connection {
    let mut c = established(quick());
    c.set_keep_alive(T0, Some(KA));
    c
}

// RFC 9293 3.8.4 (MUST-24, MUST-25): keep-alives only on request, off by default: an idle
// connection sends nothing, for ever.
#[test]
fn off_by_default() {
    assert_eq!(Config::default().keep_alive, None);
    let mut c = established(quick());
    assert_eq!(c.poll_timeout(), None);
    let much_later = T0 + secs(10 * 3600);
    c.handle_timeout(much_later);
    sent_none(&mut c, much_later);
}

// RFC 9293 3.8.4 (MUST-27, MUST-28): the interval is configurable and "MUST default to no less
// than two hours".
#[test]
fn default_idle_is_at_least_two_hours() {
    assert!(KeepAlive::default().idle >= secs(2 * 3600));
    let mut c = established(Config {
        keep_alive: Some(KeepAlive::default()),
        ..quick()
    });
    assert_eq!(c.poll_timeout(), Some(T0 + secs(2 * 3600)));
    let before = T0 + ms(2 * 3600 * 1000 - 1);
    c.handle_timeout(before);
    sent_none(&mut c, before);
}

// RFC 9293 3.8.4 (MUST-26, SHLD-12): a probe only after the idle interval; it carries no
// data and SEG.SEQ = SND.NXT - 1, so the peer must answer with an ACK.
#[test]
fn probe_after_idle_has_no_data() {
    let mut c = with_keepalive();
    assert_eq!(c.poll_timeout(), Some(T0 + secs(60)));
    let at = fire_next(&mut c);
    let probe = sent_one(&mut c, at);
    assert_eq!(probe.ctl(), (ACK, ISS1 - 1, IRS1));
    assert_eq!(probe.payload, b"");
    assert_eq!(c.stats().keepalive_probes_sent, 1);
}

/// Fires the next timer and returns when, with what was sent.
fn step(c: &mut Connection) -> (Instant, Vec<Seg>) {
    let at = fire_next(c);
    (at, sent(c, at))
}

// RFC 1122 4.2.3.6 (MUST-29): unanswered probes are repeated at the interval, and only after
// `count` of them the connection is dropped (one lost ACK is not fatal), with
// TimedOut(KeepAlive).
#[test]
fn unanswered_probes_time_out() {
    let mut c = with_keepalive();
    let mut probes = Vec::new();
    loop {
        let (at, out) = step(&mut c);
        if c.state() == State::Closed {
            assert_eq!(at, T0 + secs(90));
            break;
        }
        assert_eq!(out.len(), 1);
        probes.push((at - T0).as_secs());
    }
    assert_eq!(probes, vec![60, 70, 80]);
    assert_eq!(
        c.error(),
        Some(ConnectionError::TimedOut(TimeoutKind::KeepAlive))
    );
    assert!(
        events(&mut c).contains(&Event::Failed(ConnectionError::TimedOut(
            TimeoutKind::KeepAlive
        )))
    );
}

// RFC 1122 4.2.3.6: an answered probe shows the peer alive: the count starts over and the
// next probe waits for the full idle time.
#[test]
fn answered_probe_resets() {
    let mut c = with_keepalive();
    let (at, _) = step(&mut c);
    let (at2, _) = step(&mut c);
    assert_eq!(at2, at + secs(10));
    // The peer answers the second probe.
    recv_seg(&mut c, at2, seg(ACK, IRS1, ISS1));
    assert_eq!(c.poll_timeout(), Some(at2 + secs(60)));
    for _ in 0..3 {
        let (_, out) = step(&mut c);
        assert_eq!(out.len(), 1);
    }
    assert_eq!(c.state(), State::Established, "three fresh probes allowed");
}

// RFC 9293 3.8.4 (MUST-26): traffic restarts the idle interval.
#[test]
fn traffic_postpones_probes() {
    let mut c = with_keepalive();
    let t = T0 + secs(50);
    recv_seg(&mut c, t, data(IRS1, ISS1, b"alive"));
    sent(&mut c, t);
    assert_eq!(c.poll_timeout(), Some(t + secs(60)));
}

// RFC 9293 3.8.4: keep-alive can be turned off again.
#[test]
fn can_be_turned_off() {
    let mut c = with_keepalive();
    c.set_keep_alive(T0, None);
    assert_eq!(c.poll_timeout(), None);
}
