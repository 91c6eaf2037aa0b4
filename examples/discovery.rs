//! Service discovery by IPv4 multicast, as an mDNS-style service does it, on sansnet. Three
//! services each announce "name port" to a multicast group every 50 ms and serve their
//! name over TCP; a client joins the group, learns every service's address from the
//! announcements, leaves the group, and asks each service for its name. The code is plain
//! tokio against `sansnet::net` (`join_multicast_v4`, `set_multicast_ttl_v4`, `recv_from`):
//! swap the import for `tokio::net` and it runs on a real LAN.
//!
//! Then the same under 5% frame loss and 5% reordering over several seeds (a lost
//! announcement is simply the next one; TCP retransmits), every answer checked, and one
//! seed run twice to show that it replays to the same trace.
//!
//! `cargo run -p sansnet --example discovery`

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use sansnet::net::{TcpListener, TcpStream, UdpSocket};
use sansnet::sim::{Direction, Duration, TaskResult, TraceHash};
use sansnet::Builder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The group the services announce on (administratively scoped, RFC 2365).
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 42, 1);
const ANNOUNCE_PORT: u16 = 7400;
const SERVICE_PORT: u16 = 8000;
const SERVICES: [&str; 3] = ["alpha", "beta", "gamma"];
const SEEDS: u64 = 16;

/// A service: announces itself on the group while it answers every connection with its
/// name.
async fn service(name: &'static str) -> TaskResult {
    let listener = TcpListener::bind(("0.0.0.0", SERVICE_PORT)).await?;
    tokio::try_join!(announce(name), serve(listener, name))?;
    Ok(())
}

/// Sends "name port" to the group every 50 ms, for ever.
async fn announce(name: &str) -> std::io::Result<()> {
    let announcer = UdpSocket::bind(("0.0.0.0", 0)).await?;
    announcer.set_multicast_ttl_v4(1)?; // this link only, as mDNS keeps it
    let message = format!("{name} {SERVICE_PORT}");
    loop {
        announcer
            .send_to(message.as_bytes(), (GROUP, ANNOUNCE_PORT))
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Answers every connection with `name`, then closes it.
async fn serve(listener: TcpListener, name: &'static str) -> std::io::Result<()> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _client_may_have_gone = async {
                stream.write_all(name.as_bytes()).await?;
                stream.shutdown().await
            }
            .await;
        });
    }
}

/// The client: listens on the group until it has heard every service, then asks each one
/// for its name. Returns the names as the services told them.
async fn discover() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let socket = UdpSocket::bind(("0.0.0.0", ANNOUNCE_PORT)).await?;
    socket.join_multicast_v4(GROUP, Ipv4Addr::UNSPECIFIED)?;
    let mut found: BTreeMap<String, SocketAddr> = BTreeMap::new();
    let mut buf = [0u8; 64];
    while found.len() < SERVICES.len() {
        let (n, from) = socket.recv_from(&mut buf).await?;
        let text = std::str::from_utf8(&buf[..n])?;
        let (name, port) = text
            .split_once(' ')
            .ok_or("an announcement without a port")?;
        found.insert(name.to_owned(), SocketAddr::new(from.ip(), port.parse()?));
    }
    socket.leave_multicast_v4(GROUP, Ipv4Addr::UNSPECIFIED)?;
    let mut names = Vec::new();
    for (announced, addr) in &found {
        let mut stream = TcpStream::connect(*addr).await?;
        let mut told = String::new();
        stream.read_to_string(&mut told).await?;
        if &told != announced {
            return Err(format!("{addr} announced {announced} and says {told}").into());
        }
        names.push(told);
    }
    Ok(names)
}

/// What one run did.
struct Run {
    names: Vec<String>,
    lost: u64,
    reordered: u64,
    elapsed: Duration,
    trace: TraceHash,
}

fn run(seed: u64, loss: f64) -> Run {
    let mut sim = Builder::new()
        .rng_seed(seed)
        .fail_rate(loss)
        .reorder_rate(loss)
        .build();
    for name in SERVICES {
        sim.host(name, move || service(name));
    }
    let names = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let out = names.clone();
    sim.client("client", async move {
        let found = discover().await.map_err(|e| e.to_string())?;
        *out.borrow_mut() = found;
        Ok(())
    });
    if let Err(e) = sim.run() {
        panic!("seed {seed}: {e}");
    }
    let (mut lost, mut reordered) = (0, 0);
    for host in SERVICES.iter().copied().chain(["client"]) {
        let link = sim
            .sim()
            .link_counters(sim.host_link(host), Direction::Both);
        lost += link.lost;
        reordered += link.reordered;
    }
    let names = names.borrow().clone();
    Run {
        names,
        lost,
        reordered,
        elapsed: sim.elapsed(),
        trace: sim.sim().trace_hash(),
    }
}

fn main() {
    let expected: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    let clean = run(0, 0.0);
    assert_eq!(clean.names, expected, "clean");
    let runs: Vec<Run> = (0..SEEDS).map(|seed| run(seed, 0.05)).collect();
    for (seed, r) in runs.iter().enumerate() {
        assert_eq!(r.names, expected, "seed {seed}");
    }
    let lost: u64 = runs.iter().map(|r| r.lost).sum();
    let reordered: u64 = runs.iter().map(|r| r.reordered).sum();
    let longest = runs.iter().map(|r| r.elapsed).max().unwrap_or_default();
    let again = run(0, 0.05);
    assert_eq!(again.trace, runs[0].trace, "seed 0 did not replay");
    assert_eq!(again.elapsed, runs[0].elapsed, "seed 0 did not replay");
    println!(
        "discovery: {} services found by multicast and asked over TCP in {:?} simulated; \
         5% loss + 5% reordering: {SEEDS} seeds, all found through {lost} lost and \
         {reordered} reordered frames, longest run {longest:?}; seed 0 replayed to trace {:?}",
        expected.len(),
        clean.elapsed,
        runs[0].trace
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs() {
        super::main()
    }
}
