//! The stateful fuzz targets' bodies (`host_state`, `tcp_pair` in
//! [`sansnet_stack::fuzzing`]) over their committed corpora, and the properties their
//! harnesses rest on: the host prelude reaches every TCP state, and a clean or a hostile
//! network lets a transfer complete.
//!
//! The bodies need the `arbitrary` feature. `cargo test --workspace` has it: the root
//! crate's dev-dependencies turn it on for the whole test build. Alone, run
//! `cargo test -p sansnet-stack --features arbitrary --test fuzz_state_corpus`.
#![cfg(feature = "arbitrary")]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sansnet_stack::fuzzing;
use sansnet_stack::fuzzing::host_state::HostVariant;
use sansnet_stack::fuzzing::tcp_pair::{
    run_pair, AppChoice, CloseMode, EngineChoice, Fate, PairInput,
};
use sansnet_stack::iface::SocketState;
use sansnet_stack::tcp::{Config, Connection, State};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::tcp::{Repr, TcpFlags};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The files of `fuzz/corpus/<target>/`, sorted by name, with their bytes.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    assert!(!paths.is_empty(), "{}: empty corpus", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, body: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        // Shown (test output is captured) only when the body panics on this file.
        eprintln!("replaying {}", path.display());
        body(&bytes);
    }
}

#[test]
fn host_state() {
    replay("host_state", fuzzing::host_state);
}

#[test]
fn tcp_pair() {
    replay("tcp_pair", fuzzing::tcp_pair);
}

/// Every state a connection of H can be in (CLOSED is what is left when one is gone).
const STATES: [State; 10] = [
    State::Listen,
    State::SynSent,
    State::SynReceived,
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
];

#[test]
fn the_host_prelude_reaches_every_state_in_every_variant() {
    for bits in 0..128u8 {
        let variant = HostVariant {
            timestamps: bits & 1 != 0,
            sack: bits & 2 != 0,
            window_scaling: bits & 4 != 0,
            delayed_ack: bits & 8 != 0,
            syn_cookies: bits & 16 != 0,
            small_limits: bits & 32 != 0,
            buffers: bits >> 6,
        };
        let rows = fuzzing::host_state::prelude_sockets(&variant);
        let states: BTreeSet<State> = rows
            .iter()
            .filter_map(|r| match r.state {
                SocketState::Tcp(s) => Some(s),
                SocketState::Listen => Some(State::Listen),
                _ => None,
            })
            .collect();
        for s in STATES {
            assert!(
                states.contains(&s),
                "{variant:?}: no connection in {s}; ss:\n{}",
                rows.iter().map(|r| format!("{r}\n")).collect::<String>()
            );
        }
        assert!(rows
            .iter()
            .any(|r| r.state == SocketState::Udp && r.recv_q == 0));
        assert!(rows.iter().any(|r| r.state == SocketState::Unconnected));
        // The orphan, and the connections waiting in the listeners' queues, have no
        // descriptor.
        assert!(rows.iter().any(|r| r.fds.is_empty()));
        // 100 unread bytes on the first connection.
        assert!(rows.iter().any(|r| r.recv_q == 100));
    }
}

fn app(send_len: u16, close: CloseMode) -> AppChoice {
    AppChoice {
        send_len,
        write_chunk: 3000,
        read_chunk: 1000,
        read_pause_ms: 0,
        close,
    }
}

fn pair(fates: Vec<Fate>) -> PairInput {
    PairInput {
        a: EngineChoice::DEFAULT,
        b: EngineChoice::DEFAULT,
        simultaneous_open: false,
        latency_ms: 9,
        app_a: app(60_000, CloseMode::HalfClose),
        app_b: app(20_000, CloseMode::CloseAfterEof),
        fates,
    }
}

#[test]
fn a_pair_on_a_clean_network_completes() {
    run_pair(&pair(Vec::new()));
    let mut simultaneous = pair(Vec::new());
    simultaneous.simultaneous_open = true;
    run_pair(&simultaneous);
}

/// Every kind of fate, over and over, for as long as the network obeys them.
fn hostile() -> Vec<Fate> {
    let kinds = [
        Fate::Deliver,
        Fate::Drop,
        Fate::Deliver,
        Fate::Duplicate(3),
        Fate::Delay(7),
        Fate::Deliver,
        Fate::Truncate {
            keep: 100,
            fix_checksum: true,
        },
        Fate::Truncate {
            keep: 5,
            fix_checksum: false,
        },
        Fate::Corrupt(77),
        Fate::Deliver,
    ];
    kinds.iter().copied().cycle().take(3000).collect()
}

#[test]
fn a_pair_on_a_hostile_network_completes_once_it_heals() {
    run_pair(&pair(hostile()));
    // Small buffers (below one MSS), small MSS, every option off, a reader that pauses.
    let mut small = pair(hostile());
    small.a = EngineChoice {
        timestamps: false,
        sack: false,
        window_scaling: false,
        nagle: false,
        delayed_ack: false,
        cubic: true,
        tlp: false,
        rack: false,
        abc_one: true,
        buffer: 0,
        mss: 0,
        initial_window: 0,
    };
    small.app_b.read_pause_ms = 3000;
    run_pair(&small);
}

/// An input that found pure ACKs sent from a rolled-back SND.NXT (a random seed file),
/// shrunk: A's data and FIN arrive, all but a truncated first segment; B's data
/// and ACKs are lost or late; both time out and resend from SND.UNA, and then every pure
/// ACK each sends lies below the other's RCV.NXT. From 6.75 s they exchange ACKs every
/// round trip, each dropped unread, until B gives up at 105 s.
fn old_seq_ack_livelock() -> PairInput {
    PairInput {
        a: EngineChoice {
            timestamps: false,
            mss: 0,
            ..EngineChoice::DEFAULT
        },
        b: EngineChoice {
            sack: false,
            initial_window: 1,
            ..EngineChoice::DEFAULT
        },
        simultaneous_open: false,
        latency_ms: 176,
        app_a: AppChoice {
            send_len: 907,
            write_chunk: 16383,
            read_chunk: 16383,
            read_pause_ms: 0,
            close: CloseMode::HalfClose,
        },
        app_b: AppChoice {
            send_len: 1366,
            close: CloseMode::CloseAfterEof,
            ..app(0, CloseMode::CloseAfterEof)
        },
        fates: fates(
            "D X D D T50079+ D D D X X L91 X \
             X L93 D X X",
        ),
    }
}

/// The other face of the finding (a random input, shrunk): B's receive buffer is 1 KiB and
/// its reader starts at 9.1 s. B's pure ACK at its SND.MAX, window 0, reaches A; then B
/// times out and resends from SND.UNA, and its later ACKs, window 1024, carry a smaller
/// SEG.SEQ: A's window-update rule ignores them and A probes a window it believes closed.
/// A's probes (SEG.SEQ = SND.UNA - 1) carry the ACK of B's data, and B drops them unread.
/// B gives up at about 105 s.
fn window_update_after_rollback() -> PairInput {
    PairInput {
        a: EngineChoice {
            mss: 2,
            ..EngineChoice::DEFAULT
        },
        b: EngineChoice {
            timestamps: false,
            nagle: false,
            rack: false,
            buffer: 0,
            ..EngineChoice::DEFAULT
        },
        simultaneous_open: false,
        latency_ms: 244,
        app_a: AppChoice {
            send_len: 1848,
            write_chunk: 16383,
            read_chunk: 16383,
            read_pause_ms: 0,
            close: CloseMode::CloseAfterEof,
        },
        app_b: AppChoice {
            send_len: 4004,
            write_chunk: 16383,
            read_chunk: 16383,
            read_pause_ms: 8111,
            close: CloseMode::HalfClose,
        },
        fates: fates(
            "X D D D X D D T18815+ X D D D \
             X D D X X X",
        ),
    }
}

/// Fates from a short notation, one token each: `D` deliver, `X` drop, `L<n>` delay,
/// `U<n>` duplicate, `C<n>` corrupt, `T<n>+` / `T<n>-` truncate to `n` bytes with the
/// checksum fixed or not.
fn fates(notation: &str) -> Vec<Fate> {
    notation
        .split_whitespace()
        .map(|t| {
            fn n<N: std::str::FromStr>(t: &str, s: &str) -> N {
                s.parse()
                    .unwrap_or_else(|_| panic!("fate {t}: not a number"))
            }
            match t.split_at(1) {
                ("D", "") => Fate::Deliver,
                ("X", "") => Fate::Drop,
                ("L", d) => Fate::Delay(n(t, d)),
                ("U", d) => Fate::Duplicate(n(t, d)),
                ("C", b) => Fate::Corrupt(n(t, b)),
                ("T", k) if k.ends_with('+') || k.ends_with('-') => Fate::Truncate {
                    keep: n(t, &k[..k.len() - 1]),
                    fix_checksum: k.ends_with('+'),
                },
                _ => panic!("unknown fate {t}"),
            }
        })
        .collect()
}

/// A third face (a `tcp_pair` crash, `fuzz/corpus/tcp_pair/regression-window-edge-after-
/// old-seq-ack`): B resends old data, SEG.SEQ below the last window update's, with an ACK
/// that moves A's SND.UNA and a window of 1,240. The RFC's update rule set the window aside
/// and kept the old SND.WND, so A's right edge moved with SND.UNA: A sent 760 bytes past
/// what B offered. B, whose reader had made room by then, took them; from there the pure
/// ACKs of each end, at the right edge it knew, lay below the other's RCV.NXT and were
/// dropped unread, until A gave up at 101.8 s. A segment that acknowledges more than the
/// last window update now updates the window.
fn window_edge_after_old_seq_ack() -> PairInput {
    let quiet = EngineChoice {
        timestamps: false,
        sack: false,
        window_scaling: false,
        nagle: false,
        delayed_ack: false,
        cubic: false,
        tlp: false,
        rack: false,
        abc_one: false,
        buffer: 1,
        mss: 2,
        initial_window: 2,
    };
    let app = AppChoice {
        send_len: 22102,
        write_chunk: 22102,
        read_chunk: 22102,
        read_pause_ms: 22102,
        close: CloseMode::HalfClose,
    };
    PairInput {
        a: EngineChoice {
            sack: true,
            window_scaling: true,
            nagle: true,
            delayed_ack: true,
            ..quiet
        },
        b: quiet,
        simultaneous_open: false,
        latency_ms: 86,
        app_a: app,
        app_b: app,
        fates: fates(
            "D D D X T6856+ D D D X D D T50079+ \
             D D T41333+ T58932- D X D D T46260- L180 L180 L180 \
             L180 L148 L180 L46 T60596+ D D D D D D L180 \
             L180 L180 D T10309- L180 L0 D D D L180 L180 L180 \
             L180",
        ),
    }
}

/// After an RTO, pure ACKs go at SND.MAX, not at the rolled-back SND.NXT, so the peer
/// reads them: before that fix, both ends of this run exchanged ACKs that the other dropped
/// as old until B gave up at 105 s ("a connection failed before the transfers completed").
#[test]
fn regression_old_seq_ack_livelock() {
    run_pair(&old_seq_ack_livelock());
}

/// After an RTO, a window update that follows an ACK sent before the RTO is still taken:
/// before the fix, A never saw B's window open and B gave up at 105 s.
#[test]
fn regression_window_update_after_rollback() {
    run_pair(&window_update_after_rollback());
}

/// A window update comes with any segment that acknowledges more than the last one did,
/// whatever its SEG.SEQ: before the fix, A sent past B's window and then neither end read
/// the other's ACKs until A gave up at 101.8 s.
#[test]
fn regression_window_edge_after_old_seq_ack() {
    run_pair(&window_edge_after_old_seq_ack());
}

/// Moves segments between two engines (no loss, no time) until neither has one.
fn pump(now: Instant, a: &mut Connection, b: &mut Connection) {
    let mut buf = vec![0u8; 65536];
    for _ in 0..1000 {
        let mut moved = false;
        while let Some(seg) = a.poll_transmit(now, &mut buf) {
            let bytes = seg.payload.to_vec();
            b.handle_segment(
                now,
                &Repr {
                    payload: &bytes,
                    ..seg
                },
            );
            moved = true;
        }
        while let Some(seg) = b.poll_transmit(now, &mut buf) {
            let bytes = seg.payload.to_vec();
            a.handle_segment(
                now,
                &Repr {
                    payload: &bytes,
                    ..seg
                },
            );
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("the engines never fell quiet");
}

/// Regression (tcp_pair finding, `fuzz/corpus/tcp_pair/regression-zero-window-fin`): a
/// segment at RCV.NXT carrying text and a FIN into a zero window (a sender that went past
/// the window) had its text dropped, as MUST-66 asks, but its FIN taken at RCV.NXT: the
/// stream ended there and the text was lost (the receiving application read end of stream
/// 835 bytes early). The FIN must go with the text.
#[test]
fn a_fin_behind_text_a_zero_window_dropped_is_not_taken() {
    let (a_addr, b_addr) = (
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152),
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
    );
    let cfg = Config {
        timestamps: false,
        recv_buffer_bytes: 1024,
        ..Config::default()
    };
    let now = Instant::from_secs(1);
    let mut a = Connection::connect(now, cfg.clone(), a_addr, b_addr);
    let mut b = Connection::listen(now, cfg, b_addr);
    b.set_remote(a_addr);
    pump(now, &mut a, &mut b);
    assert_eq!(b.state(), State::Established);
    // B's application reads nothing: its window closes at 1 KiB.
    a.send(&[7; 3000]).unwrap();
    pump(now, &mut a, &mut b);
    assert_eq!(b.recv_queue_len(), 1024);
    let rcv_nxt = b.rcv_nxt();
    let text = [7u8; 500];
    b.handle_segment(
        now,
        &Repr {
            src_port: a_addr.port(),
            dst_port: b_addr.port(),
            flags: TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
            seq_number: rcv_nxt,
            ack_number: b.snd_nxt(),
            window_len: 65535,
            payload: &text,
            ..Repr::default()
        },
    );
    assert_eq!(
        b.rcv_nxt(),
        rcv_nxt,
        "the FIN was taken behind dropped text"
    );
    assert_eq!(b.state(), State::Established);
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while let Ok(n @ 1..) = b.recv(&mut buf) {
        read += n;
    }
    assert_eq!(read, 1024, "end of stream where the window closed");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_through_the_stateful_bodies(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzzing::host_state(&bytes);
        fuzzing::tcp_pair(&bytes);
    }
}
