//! turmoil's README example on the bridge: first as the README has it, with the one
//! import switched; then its echo service under turmoil's `fail_rate` over many seeds,
//! next to the same workload over turmoil's own TCP.

mod workloads;

use std::net::{IpAddr, SocketAddr};

// use turmoil::net::{TcpListener, TcpStream};
use sansnet_turmoil::net::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workloads::{seeds, sweep, Tcp, Workload};

/// turmoil's README, line for line, but for the import above.
#[test]
fn quick_start() -> turmoil::Result {
    let mut sim = turmoil::Builder::new().build();

    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", 1234)).await?;

        loop {
            let (mut socket, _) = listener.accept().await?;

            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = socket.read(&mut buf).await {
                    if socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });

    sim.client("client", async {
        let mut socket = TcpStream::connect(("server", 1234)).await?;

        socket.write_all(b"hello").await?;

        let mut echo = [0u8; 5];
        socket.read_exact(&mut echo).await?;
        assert_eq!(&echo, b"hello");

        // Addresses are turmoil's: the stack of each host has the host's own.
        let server = turmoil::lookup("server");
        let client = turmoil::lookup("client");
        assert_eq!(socket.peer_addr()?, SocketAddr::new(server, 1234));
        assert_eq!(socket.local_addr()?.ip(), client);
        assert_eq!(IpAddr::V4(sansnet_turmoil::install().await?), client);
        Ok(())
    });

    sim.run()
}

/// Seeds per fail rate in a plain `cargo test` (`SANSNET_TURMOIL_SEEDS` for more;
/// `cargo run --release -p sansnet-turmoil --example turmoil_sweep` runs 50).
const BRIDGED_SEEDS: u64 = 10;
/// turmoil's own TCP waits the whole request timeout (30 simulated seconds) for every hang,
/// which costs a debug build about a second a seed: fewer of them.
const PLAIN_SEEDS: u64 = 3;

/// The echo workload (2 clients, 10 echoes each of 1 byte to 16 KiB, every byte checked)
/// under `fail_rate` 0.02 and 0.1: every request completes over the bridge, and turmoil's
/// own TCP loses requests on every seed.
#[test]
fn echo_under_fail_rate_bridge_vs_turmoil_tcp() {
    let bridged_seeds = seeds(BRIDGED_SEEDS);
    let plain_seeds = seeds(PLAIN_SEEDS);
    let one_run = Workload::Echo.expected();
    for rate in [0.02, 0.1] {
        let bridged = sweep(Workload::Echo, Tcp::Bridged, rate, 0..bridged_seeds);
        assert!(
            bridged.errors.is_empty(),
            "fail_rate {rate}: {:?}",
            bridged.errors
        );
        assert_eq!(
            bridged.clean_runs, bridged_seeds,
            "fail_rate {rate}: {bridged:?}"
        );
        assert_eq!(bridged.tally.completed, one_run.completed * bridged_seeds);
        assert_eq!(
            bridged.tally.bytes_checked,
            one_run.bytes_checked * bridged_seeds
        );

        let plain = sweep(Workload::Echo, Tcp::Plain, rate, 0..plain_seeds);
        println!(
            "echo, fail_rate {rate}: bridge {}/{} requests over {bridged_seeds} seeds \
             (longest run {:?}); turmoil's TCP {}/{} over {plain_seeds} seeds, {} failed",
            bridged.tally.completed,
            bridged.tally.requested,
            bridged.longest,
            plain.tally.completed,
            plain.tally.requested,
            plain.tally.failed,
        );
        assert!(plain.tally.failed > 0, "fail_rate {rate}: {plain:?}");
        if plain_seeds == PLAIN_SEEDS {
            // As measured on seeds 0..3 (turmoil 0.7.2 replays a seed exactly): a lost
            // segment leaves its connection waiting for good, so each failure is a
            // request that timed out, and its client stops there. A change in turmoil's
            // draws moves these numbers; the bridge's must not move at all.
            let measured = if rate == 0.02 { (26, 5) } else { (5, 6) };
            assert_eq!(
                (plain.tally.completed, plain.tally.failed),
                measured,
                "fail_rate {rate}"
            );
            assert_eq!(
                plain.clean_runs, 0,
                "fail_rate {rate}: every seed lost requests"
            );
        }
    }
}
