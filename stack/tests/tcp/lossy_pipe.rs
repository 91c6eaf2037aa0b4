//! Property: whatever the pipe drops, duplicates and reorders, both byte streams arrive
//! intact and both sides close cleanly.

use proptest::prelude::*;
use sansnet_stack::tcp::{Config, State};

use super::harness::{Fate, Pair, Side};

fn fate_strategy() -> impl Strategy<Value = Vec<Fate>> {
    let fate = prop_oneof![
        12 => Just(Fate::Deliver),
        2 => Just(Fate::Drop),
        1 => Just(Fate::Duplicate),
        2 => (1u8..6).prop_map(Fate::Delay),
    ];
    proptest::collection::vec(fate, 1..64)
}

fn config_strategy() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(ts, sack, ws, nagle, buf)| Config {
            timestamps: ts,
            sack,
            window_scaling: ws,
            nagle,
            recv_buffer_bytes: [8 * 1024, 64 * 1024, 256 * 1024][buf],
            send_buffer_bytes: [8 * 1024, 64 * 1024, 256 * 1024][buf],
            ..Config::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn streams_survive_a_hostile_pipe(
        fates in fate_strategy(),
        cfg_a in config_strategy(),
        cfg_b in config_strategy(),
        len_ab in 0usize..60_000,
        len_ba in 0usize..20_000,
    ) {
        // The fault pattern repeats for 30 simulated seconds, then the pipe heals: a
        // periodic pattern forever can drop every ACK, which no TCP survives, and heavy loss
        // for longer than R2 (100 s) rightly kills the connection. The handshake is spared
        // so that every case exercises data transfer.
        let mut p = Pair::new(cfg_a, cfg_b).with_fate(move |n, _, r| {
            if r.flags.contains(sansnet_stack::wire::tcp::TcpFlags::SYN) {
                Fate::Deliver
            } else {
                fates[(n as usize) % fates.len()]
            }
        });
        p.log = false;
        p.heal_at = p.now + sansnet_stack::time::Duration::from_secs(30);
        p.establish();
        let ab: Vec<u8> = (0..len_ab).map(|i| (i % 253) as u8).collect();
        let ba: Vec<u8> = (0..len_ba).map(|i| (i % 241) as u8).collect();
        prop_assert_eq!(p.transfer(Side::A, &ab, 400_000), ab);
        prop_assert_eq!(p.transfer(Side::B, &ba, 400_000), ba);
        let now = p.now;
        p.a.close(now).unwrap();
        p.b.close(now).unwrap();
        p.run_until(400_000, |p| p.a.state() == State::Closed && p.b.state() == State::Closed);
        prop_assert_eq!(p.a.error(), None);
        prop_assert_eq!(p.b.error(), None);
    }
}
