//! Hostile and malformed input: arbitrary segments in every state never panic the engine and
//! never push its buffers past their `Config` bounds (RFC 9293 section 3.10.7 and the
//! robustness principle, section 2.10); ACKs for data never sent are not taken (RFC 5961
//! section 5); impossible flag combinations are handled in the RFC's processing order.

use pretty_assertions::assert_eq;
use proptest::prelude::*;
use sansnet_stack::tcp::{Config, Connection, ConnectionError, State};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::tcp::{Repr, SackBlocks, TcpFlags, TcpTimestamp};
use sansnet_stack::wire::SeqNumber;

use crate::helpers::*;

/// The peer's segment as a peer with `cfg`'s options would send it (timestamps if
/// negotiated).
fn peer<'a>(cfg: &Config, r: Repr<'a>) -> Repr<'a> {
    if cfg.timestamps {
        ts(r, 8000, 0)
    } else {
        r
    }
}

const STATES: [State; 12] = [
    State::Closed,
    State::Listen,
    State::SynSent,
    State::SynReceived, // passive
    State::SynReceived, // active (simultaneous open)
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
];

/// An engine driven by the scripted peer into `STATES[which]`, with `outstanding` bytes of
/// ours unacknowledged where the state allows.
fn in_state(which: usize, cfg: &Config, outstanding: usize) -> Connection {
    let fin_acked = |c: &Connection| c.snd_nxt();
    let mut c = match which {
        0 => {
            let mut c = syn_sent(cfg.clone());
            c.shutdown_write(T0).unwrap();
            c
        }
        1 => listening(cfg.clone()),
        2 => syn_sent(cfg.clone()),
        3 => {
            let mut c = listening(cfg.clone());
            let syn = Repr {
                window_scale: cfg.window_scaling.then_some(7),
                sack_permitted: cfg.sack,
                ..PEER_SYN
            };
            recv_seg(&mut c, T0, peer(cfg, syn));
            sent(&mut c, T0);
            c
        }
        4 => {
            let mut c = syn_sent(cfg.clone());
            recv_seg(&mut c, T0, peer(cfg, PEER_SYN));
            sent(&mut c, T0);
            c
        }
        _ => {
            let mut c = established(cfg.clone());
            if outstanding > 0 {
                c.send(&bytes(outstanding)).unwrap();
                sent(&mut c, T0);
            }
            match which {
                5 => {}
                6 => {
                    c.close(T0).unwrap();
                    sent(&mut c, T0);
                }
                7 | 11 => {
                    c.close(T0).unwrap();
                    sent(&mut c, T0);
                    let una = fin_acked(&c);
                    recv_seg(&mut c, T0, peer(cfg, seg(ACK, IRS1, una)));
                    if which == 11 {
                        recv_seg(&mut c, T0, peer(cfg, seg(FIN_ACK, IRS1, una)));
                    }
                }
                8 | 10 => {
                    recv_seg(&mut c, T0, peer(cfg, seg(FIN_ACK, IRS1, ISS1)));
                    if which == 10 {
                        c.close(T0).unwrap();
                    }
                }
                9 => {
                    c.close(T0).unwrap();
                    sent(&mut c, T0);
                    recv_seg(&mut c, T0, peer(cfg, seg(FIN_ACK, IRS1, ISS1)));
                }
                _ => unreachable!(),
            }
            sent(&mut c, T0);
            c
        }
    };
    events(&mut c);
    c
}

#[test]
fn every_state_is_reachable() {
    for cfg in [quick(), Config::default()] {
        for (i, &state) in STATES.iter().enumerate() {
            let c = in_state(i, &cfg, 0);
            assert_eq!(c.state(), state, "builder {i}");
            let c = in_state(i, &cfg, 3000);
            assert_eq!(c.state(), state, "builder {i} with data outstanding");
        }
    }
}

fn near(base: SeqNumber, below: u32, above: u32) -> impl Strategy<Value = SeqNumber> {
    prop_oneof![
        4 => (0..below + above).prop_map(move |o| base - below as usize + o as usize),
        1 => any::<u32>().prop_map(SeqNumber),
    ]
}

fn arb_repr() -> impl Strategy<Value = (Repr<'static>, Vec<u8>)> {
    let header = (
        (0u16..0x200).prop_map(TcpFlags),
        near(IRS1, 70_000, 140_000),
        near(ISS1, 140_000, 10_000),
        any::<u16>(),
        prop_oneof![3 => Just(0u16), 1 => any::<u16>()],
    );
    let options = (
        proptest::option::weighted(0.2, any::<u16>()),
        proptest::option::weighted(0.2, any::<u8>()),
        any::<bool>(),
        proptest::collection::vec((near(ISS1, 1000, 20_000), 0u32..5000), 0..=4),
        proptest::option::weighted(0.7, (any::<u32>(), any::<u32>())),
    );
    let payload = prop_oneof![
        2 => Just(Vec::new()),
        3 => proptest::collection::vec(any::<u8>(), 1..3000),
    ];
    (header, options, payload).prop_map(
        |((flags, seq, ack, window_len, up), (mss, ws, sackp, blocks, tsopt), payload)| {
            let mut sack_ranges = SackBlocks::new();
            for (l, len) in blocks {
                sack_ranges.push((l, l + len as usize));
            }
            let r = Repr {
                src_port: REMOTE.port(),
                dst_port: LOCAL.port(),
                flags,
                seq_number: seq,
                ack_number: ack,
                window_len,
                urgent_pointer: up,
                max_seg_size: mss,
                window_scale: ws,
                sack_permitted: sackp,
                sack_ranges,
                // Mostly plausible timestamps, sometimes wild ones.
                timestamp: tsopt.map(|(v, e)| TcpTimestamp {
                    tsval: if v % 4 == 0 { v } else { 8000 + v % 1000 },
                    tsecr: e,
                }),
                payload: &[],
            };
            (r, payload)
        },
    )
}

#[derive(Debug, Clone)]
enum Action {
    Segment(Repr<'static>, Vec<u8>),
    Wait(u64),
    Send(usize),
    Recv(usize),
    Close,
    Shutdown,
    Abort,
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        12 => arb_repr().prop_map(|(r, p)| Action::Segment(r, p)),
        3 => (0u64..5000).prop_map(Action::Wait),
        2 => (1usize..5000).prop_map(Action::Send),
        2 => (1usize..5000).prop_map(Action::Recv),
        1 => Just(Action::Close),
        1 => Just(Action::Shutdown),
        1 => Just(Action::Abort),
    ]
}

fn arb_config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(ts, sack, ws, delayed, buf)| Config {
            timestamps: ts,
            sack,
            window_scaling: ws,
            delayed_ack: delayed,
            nagle: false,
            recv_buffer_bytes: [2000, 16 * 1024, 256 * 1024][buf],
            send_buffer_bytes: [2000, 16 * 1024, 256 * 1024][buf],
            challenge_ack_limit_per_sec: 5,
            ..Config::default()
        })
}

/// Drains everything and checks the engine's bounds.
fn drain_and_check(c: &mut Connection, now: Instant) -> Result<(), TestCaseError> {
    let mut buf = vec![0u8; 65536];
    let mut n = 0;
    while let Some(r) = c.poll_transmit(now, &mut buf) {
        n += 1;
        prop_assert!(n < 2000, "poll_transmit does not run dry");
        prop_assert!(r.is_valid(), "invalid segment {r:?}");
        prop_assert!(
            r.payload.len() <= usize::from(c.config().mss),
            "payload {} over our MSS",
            r.payload.len()
        );
    }
    let mut e = 0;
    while c.poll_event().is_some() {
        e += 1;
        prop_assert!(e < 64, "event queue unbounded");
    }
    prop_assert!(c.recv_queue_len() <= c.config().recv_buffer_bytes);
    prop_assert!(c.send_queue_len() <= c.config().send_buffer_bytes);
    if let Some(t) = c.poll_timeout() {
        prop_assert!(t >= T0, "deadline in the past of the test: {t}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    // RFC 9293 2.10 / 3.10.7: whatever arrives, in whatever state, the engine neither panics
    // nor exceeds its configured bounds.
    #[test]
    fn arbitrary_segments_in_every_state_never_panic(
        which in 0usize..STATES.len(),
        cfg in arb_config(),
        outstanding in prop_oneof![Just(0usize), 1usize..6000],
        actions in proptest::collection::vec(arb_action(), 1..40),
    ) {
        let outstanding = outstanding.min(cfg.send_buffer_bytes);
        let mut c = in_state(which, &cfg, outstanding);
        let mut now = T0;
        let mut rbuf = vec![0u8; 8192];
        for a in actions {
            match a {
                Action::Segment(mut r, payload) => {
                    r.payload = &payload;
                    c.handle_segment(now, &r);
                }
                Action::Wait(ms_) => {
                    now += ms(ms_);
                    c.handle_timeout(now);
                }
                Action::Send(n) => {
                    let _ = c.send(&bytes(n));
                }
                Action::Recv(n) => {
                    let _ = c.recv(&mut rbuf[..n.min(8192)]);
                }
                Action::Close => {
                    let _ = c.close(now);
                }
                Action::Shutdown => {
                    let _ = c.shutdown_write(now);
                }
                Action::Abort => c.abort(now),
            }
            drain_and_check(&mut c, now)?;
        }
        // Time runs out: every timer fires in turn and the engine settles.
        for _ in 0..200 {
            let Some(t) = c.poll_timeout() else { break };
            now = now.max(t);
            c.handle_timeout(now);
            drain_and_check(&mut c, now)?;
        }
    }

    // RFC 5961 5.2 / RFC 9293 3.10.7.4 fifth: an ACK for data never sent (SEG.ACK > SND.NXT)
    // is dropped with an ACK; it never advances SND.UNA and its data is not taken.
    #[test]
    fn ack_of_unsent_data_is_never_taken(
        ahead in 1u32..0x7fff_ffff,
        outstanding in 0usize..5000,
        payload in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let (mut c, _) = with_outstanding(quick(), outstanding);
        let nxt = c.snd_nxt();
        let out = exchange(&mut c, T0, data(IRS1, nxt + ahead as usize, &payload));
        prop_assert_eq!(c.snd_una(), ISS1);
        prop_assert_eq!(c.recv_queue_len(), 0);
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(out[0].ctl(), (ACK, nxt, IRS1));
        prop_assert_eq!(c.state(), State::Established);
    }
}

// RFC 9293 3.10.7.4: checks run in order -- sequence number, RST, SYN, ACK -- so RST wins
// over SYN and FIN in the same segment: an exact SYN+RST or RST+FIN resets.
#[test]
fn impossible_flag_combinations_follow_the_processing_order() {
    for flags in [SYN | RST, RST | FIN, SYN | RST | FIN | ACK, TcpFlags::ALL] {
        let mut c = established(quick());
        recv_seg(&mut c, T0, seg(flags, IRS1, ISS1));
        assert_eq!(c.error(), Some(ConnectionError::Reset), "{flags}");
    }
    // SYN+FIN in ESTABLISHED: the SYN check comes before the FIN: a challenge ACK, no close.
    let mut c = established(quick());
    let out = exchange(&mut c, T0, seg(SYN_FIN | ACK, IRS1, ISS1));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ctl(), (ACK, ISS1, IRS1));
    assert_eq!(c.state(), State::Established);
    // No flags at all, in window: not even ACK: dropped without reply (fifth step).
    let mut c = established(quick());
    assert_eq!(exchange(&mut c, T0, seg(NONE, IRS1, ISS1)), vec![]);
    // SYN+RST in LISTEN: the RST check comes first: ignored.
    let mut c = listening(quick());
    assert_eq!(
        exchange(&mut c, T0, seg(SYN | RST, IRS, SeqNumber(0))),
        vec![]
    );
    assert_eq!(c.state(), State::Listen);
    // SYN+RST+ACK in SYN-SENT with an acceptable ACK: a refusal.
    let mut c = syn_sent(quick());
    recv_seg(&mut c, T0, seg(SYN | RST | ACK, IRS, ISS1));
    assert_eq!(c.error(), Some(ConnectionError::Refused));
}

// RFC 7323 2.3 / RFC 9293 3.1 (MUST-7): absurd option values on the SYN-ACK (MSS 0, shift
// 255) are tolerated: MSS 0 falls back to the default, the shift is clamped.
#[test]
fn absurd_syn_options_are_tolerated() {
    let mut c = syn_sent(Config {
        window_scaling: true,
        nagle: false,
        ..quick()
    });
    recv_seg(
        &mut c,
        T0,
        Repr {
            max_seg_size: Some(0),
            window_scale: Some(255),
            ..PEER_SYN_ACK
        },
    );
    assert_eq!(c.state(), State::Established);
    assert!(c.effective_mss() > 0);
    c.send(&bytes(3000)).unwrap();
    assert!(!sent(&mut c, T0).is_empty());
}
