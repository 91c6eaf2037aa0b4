//! turmoil's quick start (register a host, register a client, run) filled in with an echo
//! server and a client, on sansnet. Then the same service under frame loss and
//! reordering over several seeds, with every echoed byte checked, and one seed run twice
//! to show that it replays to the same trace.
//!
//! The port renames `turmoil::Builder` to `sansnet::Builder` and `turmoil::net` to
//! `sansnet::net`; the host and client code is unchanged tokio.
//!
//! `cargo run -p sansnet --example turmoil_readme`

use std::cell::RefCell;
use std::rc::Rc;

use sansnet::net::{TcpListener, TcpStream};
use sansnet::sim::{Direction, Duration, RunError, TaskResult, TraceHash};
use sansnet::Builder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 1234;
const SEEDS: u64 = 32;
const CLIENTS: u64 = 3;
/// Bytes each client sends and expects back under faults: enough for a few dozen
/// segments, so losses hit data and ACKs mid-stream, not only the handshake.
const PAYLOAD: usize = 32 * 1024;

/// The README's shape, line for line what a turmoil user writes after the renames.
fn quick_start() -> Result<Duration, RunError> {
    let mut sim = Builder::new().build();

    // The server answers every connection with what it read.
    sim.host("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
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

    // The test: a client on its own host, reaching the server by name.
    sim.client("client", async {
        let mut socket = TcpStream::connect(("server", PORT)).await?;
        socket.write_all(b"hello").await?;
        let mut echo = [0u8; 5];
        socket.read_exact(&mut echo).await?;
        assert_eq!(&echo, b"hello");
        Ok(())
    });

    sim.run()?;
    Ok(sim.elapsed())
}

/// Echoes each connection until the peer's FIN, then closes its own side.
async fn echo_server() -> TaskResult {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let (mut rd, mut wr) = stream.into_split();
            // A failed copy means the connection is gone: its client reports the loss.
            if tokio::io::copy(&mut rd, &mut wr).await.is_ok() {
                let _peer_may_have_gone = wr.shutdown().await;
            }
        });
    }
}

/// Sends `payload` and reads the echo at the same time (one after the other stalls once
/// both directions' buffers are full), then checks every byte.
async fn echo_client(payload: Vec<u8>) -> TaskResult {
    let stream = TcpStream::connect(("server", PORT)).await?;
    let (mut rd, mut wr) = stream.into_split();
    let send = async {
        wr.write_all(&payload).await?;
        wr.shutdown().await
    };
    let mut echo = Vec::with_capacity(payload.len());
    tokio::try_join!(send, rd.read_to_end(&mut echo))?;
    if let Some(at) = payload.iter().zip(&echo).position(|(a, b)| a != b) {
        return Err(format!("byte {at} of the echo differs").into());
    }
    if echo.len() != payload.len() {
        return Err(format!("{} bytes echoed of {}", echo.len(), payload.len()).into());
    }
    Ok(())
}

/// Bytes no two clients or seeds share, so a segment delivered to the wrong place or
/// offset shows up as a mismatch (splitmix64).
fn payload(seed: u64, client: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ client.wrapping_add(1);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..PAYLOAD / 8)
        .flat_map(|_| next().to_le_bytes())
        .collect()
}

/// What one faulty run did.
struct Faulty {
    echoed: usize,
    /// Frames the links lost, and held back to be overtaken, so the figures show that
    /// the faults hit.
    lost: u64,
    reordered: u64,
    elapsed: Duration,
    trace: TraceHash,
}

fn faulty(seed: u64) -> Faulty {
    let mut sim = Builder::new()
        .rng_seed(seed)
        .fail_rate(0.02)
        .reorder_rate(0.02)
        .build();
    sim.host("server", echo_server);
    let done = Rc::new(RefCell::new(0));
    for client in 0..CLIENTS {
        let done = done.clone();
        let bytes = payload(seed, client);
        sim.client(format!("client{client}"), async move {
            let len = bytes.len();
            echo_client(bytes).await?;
            *done.borrow_mut() += len;
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        panic!("seed {seed}: {e}");
    }
    let echoed = *done.borrow();
    assert_eq!(echoed, PAYLOAD * CLIENTS as usize, "seed {seed}");
    let hosts = (0..CLIENTS).map(|c| format!("client{c}"));
    let (mut lost, mut reordered) = (0, 0);
    for host in hosts.chain(["server".to_owned()]) {
        let link = sim
            .sim()
            .link_counters(sim.host_link(&host), Direction::Both);
        lost += link.lost;
        reordered += link.reordered;
    }
    Faulty {
        echoed,
        lost,
        reordered,
        elapsed: sim.elapsed(),
        trace: sim.sim().trace_hash(),
    }
}

/// Read once, outside every simulation, for the wall time the summary reports (the CI
/// budget for this example is 20 s in a debug build).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

fn main() {
    let wall = wall_clock();
    let plain = quick_start().unwrap_or_else(|e| panic!("quick start: {e}"));

    let runs: Vec<Faulty> = (0..SEEDS).map(faulty).collect();
    let echoed: usize = runs.iter().map(|r| r.echoed).sum();
    let lost: u64 = runs.iter().map(|r| r.lost).sum();
    let reordered: u64 = runs.iter().map(|r| r.reordered).sum();
    let longest = runs.iter().map(|r| r.elapsed).max().unwrap_or_default();
    let again = faulty(0);
    assert_eq!(again.trace, runs[0].trace, "seed 0 did not replay");
    assert_eq!(again.elapsed, runs[0].elapsed, "seed 0 did not replay");

    println!(
        "turmoil_readme: quick start echoed in {plain:?} simulated; \
         fail_rate 0.02 + reorder_rate 0.02: {SEEDS} seeds x {CLIENTS} clients, \
         {echoed} bytes echoed and checked through {lost} lost and {reordered} reordered \
         frames, longest run {longest:?}; \
         seed 0 replayed to trace {:?}; {:.1?} wall",
        runs[0].trace,
        wall.elapsed()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs() {
        super::main()
    }
}
