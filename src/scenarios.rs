//! The built-in scenarios: small networks with workloads whose every byte is checked.
//!
//! Each one runs on any [`Shape`] (built by [`Network::build`]): on the default, `direct`,
//! the hosts are `client` (10.0.0.1) and `server` (10.0.0.2), joined by one link, so that
//! fault plans read the same across scenarios. With several client hosts, a scenario whose
//! workload is one client runs one such client on every client host (each with its own
//! byte pattern), and many-clients spreads its `clients` over the hosts round-robin.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::sync::Arc;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use sansnet_sim::exec;
use sansnet_sim::{Duration, FaultChange, FaultPlan, Instant, NodeId, Sim};
use sansnet_sim::{TcpListener, TcpStream, UdpSocket};
use sansnet_stack::iface::{Host, SocketState};
use sansnet_stack::tcp;

use crate::scenario::{
    Built, Failure, FailureKind, Scenario, Size, TaskResult, Topology, Workload,
};
use crate::topology::{EndHosts, Network, Shape};

/// The port every built-in server listens on (slow-reader: this plus the client host's
/// index).
const PORT: u16 = 7;
/// The one link of the default (`direct`) topology, as the simulator names it.
pub const LINK: &str = crate::topology::DIRECT_LINK;

/// The pattern of stream `base` of client host `host`: host 0 keeps the stream numbers
/// the scenarios had before there were several client hosts.
fn stream_of(base: u64, host: usize) -> u64 {
    base | (host as u64) << 48
}

/// Every built-in scenario.
pub fn builtin() -> Vec<Arc<dyn Scenario>> {
    vec![
        Arc::new(Bulk),
        Arc::new(RequestResponse),
        Arc::new(ManyClients),
        Arc::new(Churn),
        Arc::new(UdpRetry),
        Arc::new(PartitionHeals),
        Arc::new(SlowReader),
    ]
}

/// Step of [`pattern_x`] per word.
const OFFSET_MUL: u64 = 0x9e37_79b9_7f4a_7c15;
/// Multiplier of the stream number in [`pattern_x`].
const STREAM_MUL: u64 = 0xbf58_476d_1ce4_e5b9;

/// The eight bytes at `8 * word` of stream `stream`, as a little-endian word. The word
/// numbers map one to one onto values of `x` (an odd multiplier), so no two words of a
/// stream repeat, and the shift folds `x`'s varied high bits into its low bytes, whose
/// own period is short: a byte shifted, lost, duplicated or taken from another stream
/// does not match.
#[inline(always)]
fn pattern_word(x: u64) -> u64 {
    x ^ (x >> 29)
}

/// `x` of [`pattern_word`] for `word` of `stream`; the next word's is `OFFSET_MUL` more.
fn pattern_x(stream: u64, word: u64) -> u64 {
    word.wrapping_mul(OFFSET_MUL)
        .wrapping_add(stream.wrapping_mul(STREAM_MUL))
}

/// The byte at `offset` of stream `stream`: a pattern that catches reordering, loss,
/// duplication and substitution, not just a wrong length.
pub fn pattern_byte(stream: u64, offset: u64) -> u8 {
    pattern_word(pattern_x(stream, offset / 8)).to_le_bytes()[(offset % 8) as usize]
}

/// Fills `out` with the bytes of `stream` from `offset` on. A word (a multiply-free add,
/// shift and xor) per eight bytes: a sweep of large workloads generates and checks
/// gigabytes of it, and a byte at a time took a tenth of such a sweep.
pub fn fill_pattern(stream: u64, offset: u64, out: &mut [u8]) {
    let mut x = pattern_x(stream, offset / 8);
    let skip = (offset % 8) as usize;
    let mut out = out;
    if skip != 0 {
        let bytes = pattern_word(x).to_le_bytes();
        let n = (8 - skip).min(out.len());
        out[..n].copy_from_slice(&bytes[skip..skip + n]);
        out = &mut out[n..];
        x = x.wrapping_add(OFFSET_MUL);
    }
    let mut words = out.chunks_exact_mut(8);
    for w in &mut words {
        w.copy_from_slice(&pattern_word(x).to_le_bytes());
        x = x.wrapping_add(OFFSET_MUL);
    }
    let rest = words.into_remainder();
    let n = rest.len();
    rest.copy_from_slice(&pattern_word(x).to_le_bytes()[..n]);
}

/// Streams at least this long are generated once per thread and shared ([`pattern`]).
const SHARED_PATTERN_BYTES: usize = 4096;
/// The most pattern bytes a thread keeps; beyond it, the cache starts again.
const SHARED_PATTERN_LIMIT: usize = 64 << 20;

thread_local! {
    /// The longest prefix generated so far of each long stream (a stream's bytes do not
    /// depend on its length, so every shorter use is a slice of it). Every run of a sweep
    /// sends and checks the same few streams: generating them once per thread takes
    /// pattern generation, a tenth of a sweep, out of it.
    static PATTERNS: std::cell::RefCell<std::collections::BTreeMap<u64, Rc<Vec<u8>>>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// At least the first `len` bytes of `stream` (slice it to `len`).
fn pattern(stream: u64, len: usize) -> Rc<Vec<u8>> {
    // An `Rc<Vec>`, not an `Rc<[u8]>`: converting the `Vec` would copy it.
    let generate = |len: usize| -> Rc<Vec<u8>> {
        let mut out = vec![0u8; len];
        fill_pattern(stream, 0, &mut out);
        Rc::new(out)
    };
    if len < SHARED_PATTERN_BYTES {
        return generate(len);
    }
    PATTERNS.with_borrow_mut(|shared| {
        if let Some(p) = shared.get(&stream).filter(|p| p.len() >= len) {
            return Rc::clone(p);
        }
        let kept: usize = shared.values().map(|p| p.len()).sum();
        if kept + len > SHARED_PATTERN_LIMIT {
            shared.clear();
        }
        let p = generate(len);
        shared.insert(stream, Rc::clone(&p));
        p
    })
}

/// Pattern bytes are written this many at a time by [`write_pattern`].
const WRITE_PIECE: usize = 1 << 20;

/// Writes the first `bytes` bytes of `stream`, generated a piece at a time (a 16 MiB
/// stream made whole before writing cost a sweep of large workloads zeroing, page faults
/// and cache misses; see [`StreamCheck`] for the reading side).
async fn write_pattern(conn: &mut TcpStream, stream: u64, bytes: usize) -> std::io::Result<()> {
    let mut piece = vec![0u8; bytes.min(WRITE_PIECE)];
    let mut at = 0;
    while at < bytes {
        let n = (bytes - at).min(WRITE_PIECE);
        fill_pattern(stream, at as u64, &mut piece[..n]);
        conn.write_all(&piece[..n]).await?;
        at += n;
    }
    Ok(())
}

/// Checks a received stream against its pattern as it arrives, without keeping it: the
/// first differing byte and the length are reported as they would be for the whole stream.
/// The expected bytes are generated piece by piece beside what arrived, never the whole
/// stream at once (a 16 MiB stream made in full cost a sweep of large workloads a tenth of
/// its time in zeroing, page faults and copies).
#[derive(Debug)]
struct StreamCheck {
    stream: u64,
    expected_len: usize,
    received: usize,
    /// The first differing byte: offset, received, expected.
    first_bad: Option<(usize, u8, u8)>,
}

/// The expected bytes are generated this many at a time.
const CHECK_PIECE: usize = 4096;

impl StreamCheck {
    fn new(stream: u64, expected_len: usize) -> StreamCheck {
        StreamCheck {
            stream,
            expected_len,
            received: 0,
            first_bad: None,
        }
    }

    /// The bytes that come next in the stream.
    fn feed(&mut self, got: &[u8]) {
        let start = self.received;
        self.received += got.len();
        if self.first_bad.is_some() || start >= self.expected_len {
            return;
        }
        let got = &got[..got.len().min(self.expected_len - start)];
        let mut expected = [0u8; CHECK_PIECE];
        for (i, piece) in got.chunks(CHECK_PIECE).enumerate() {
            let at = start + i * CHECK_PIECE;
            let expected = &mut expected[..piece.len()];
            fill_pattern(self.stream, at as u64, expected);
            if piece != expected {
                if let Some(k) = (0..piece.len()).find(|&k| piece[k] != expected[k]) {
                    self.first_bad = Some((at + k, piece[k], expected[k]));
                }
                return;
            }
        }
    }

    /// The verdict on everything fed, as the whole stream.
    fn finish(&self, what: &str) -> TaskResult {
        if let Some((i, got, expected)) = self.first_bad {
            return Err(Failure::new(
                FailureKind::Integrity,
                format!(
                    "{what}: byte {i} is {got:#04x}, expected {expected:#04x} ({} of {} bytes received)",
                    self.received, self.expected_len
                ),
            ));
        }
        if self.received != self.expected_len {
            return Err(Failure::new(
                FailureKind::Integrity,
                format!(
                    "{what}: {} bytes received, expected {}",
                    self.received, self.expected_len
                ),
            ));
        }
        Ok(())
    }
}

/// Compares a received stream with the expected pattern and says where it first differs.
#[cfg(test)]
fn check_stream(what: &str, stream: u64, got: &[u8], expected_len: usize) -> TaskResult {
    let mut check = StreamCheck::new(stream, expected_len);
    check.feed(got);
    check.finish(what)
}

thread_local! {
    /// The buffer [`read_checked`] reads into: one per thread, reused by every run, never
    /// held across an await.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads `conn` to its end, checking every byte against the pattern of `stream` as it
/// arrives. Each read offers what is left of `expected_len` (at least 4 KiB), so that a
/// read takes everything the socket holds, as `read_to_end` into a buffer of that capacity
/// did; but nothing is zero-filled and nothing is kept.
async fn read_checked(
    conn: &mut TcpStream,
    stream: u64,
    expected_len: usize,
) -> Result<StreamCheck, std::io::Error> {
    use futures::io::AsyncRead;
    let mut check = StreamCheck::new(stream, expected_len);
    loop {
        let want = expected_len.saturating_sub(check.received).max(4096);
        let n = std::future::poll_fn(|cx| {
            READ_BUF.with_borrow_mut(|buf| {
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let r = std::pin::Pin::new(&mut *conn).poll_read(cx, &mut buf[..want]);
                if let std::task::Poll::Ready(Ok(n)) = r {
                    check.feed(&buf[..n]);
                }
                r
            })
        })
        .await?;
        if n == 0 {
            return Ok(check);
        }
    }
}

/// Connects, retrying as a real client would while the network is broken: a partition can
/// make ARP fail (EHOSTUNREACH) or the handshake time out, and neither is a stack bug.
async fn connect(node: NodeId, server: SocketAddrV4) -> Result<TcpStream, Failure> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match TcpStream::connect(node, server).await {
            Ok(conn) => return Ok(conn),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::ConnectionRefused
                ) || e.to_string().contains("EHOSTUNREACH") =>
            {
                exec::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(io_failure("connect", e)),
        }
    }
}

fn io_failure(what: &str, e: std::io::Error) -> Failure {
    Failure::new(FailureKind::Io, format!("{what}: {e} at {}", exec::now()))
}

/// Builds the network of `shape` and returns it with what `build` returns before tasks and
/// the server's socket address, its end hosts sized for `concurrent` connections at once
/// to the server (0: the defaults). Past the defaults (1,024 descriptors a process, Linux's
/// `ulimit -n`; a backlog of at most 4,096, its `somaxconn`) a workload raises them, as one
/// would on Linux for such a test, or it fails on EMFILE and on the listener's SYN cookies
/// (which rightly reset a client whose handshake ACK was lost: `tests/regressions.rs`).
fn network(
    sim: &mut Sim,
    shape: &Shape,
    tcp: &tcp::Config,
    concurrent: usize,
) -> (Network, Built, SocketAddrV4) {
    let mut end = EndHosts {
        tcp: tcp.clone(),
        ..EndHosts::default()
    };
    let limits = &mut end.limits;
    // A descriptor per connection, the listener's and a margin.
    limits.max_descriptors = limits.max_descriptors.max(concurrent + 64);
    limits.max_backlog = limits.max_backlog.max(concurrent);
    let net = Network::build_with(sim, shape, &end);
    let built = net.built();
    let server = SocketAddrV4::new(net.server_addr, PORT);
    (net, built, server)
}

/// A server task that runs forever (it is not part of completion).
fn spawn_server<F>(
    sim: &mut Sim,
    node: NodeId,
    addr: SocketAddrV4,
    serve: impl FnOnce(TcpListener) -> F + 'static,
) where
    F: std::future::Future<Output = ()> + 'static,
{
    sim.spawn_on(node, async move {
        match TcpListener::bind(node, addr) {
            Ok(listener) => serve(listener).await,
            Err(e) => panic!("server cannot listen: {e}"),
        }
    });
}

// ----------------------------------------------------------------------------------------

/// Bulk transfer in both directions over one connection.
#[derive(Debug)]
pub struct Bulk;

async fn bulk_client(node: NodeId, server: SocketAddrV4, host: usize, bytes: usize) -> TaskResult {
    let mut conn = connect(node, server).await?;
    write_pattern(&mut conn, stream_of(1, host), bytes)
        .await
        .map_err(|e| io_failure("client write", e))?;
    conn.close()
        .await
        .map_err(|e| io_failure("client shutdown", e))?;
    read_checked(&mut conn, stream_of(2, host), bytes)
        .await
        .map_err(|e| io_failure("client read", e))?
        .finish(&format!("server -> client host {host}"))
}

/// Knows each client host by its address, to check the pattern that host sends.
fn bulk_server(
    bytes: usize,
    clients: Vec<Ipv4Addr>,
) -> impl FnOnce(TcpListener) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    move |listener| {
        Box::pin(async move {
            while let Ok((mut conn, peer)) = listener.accept().await {
                let host = clients.iter().position(|a| a == peer.ip());
                exec::spawn(async move {
                    // A stranger's upload is read against host 0's pattern, and answered
                    // with nothing, as a damaged upload is.
                    let stream = stream_of(1, host.unwrap_or(0));
                    let Ok(check) = read_checked(&mut conn, stream, bytes).await else {
                        return;
                    };
                    let Some(host) = host else {
                        let _ = conn.close().await;
                        return;
                    };
                    if check.finish("client -> server").is_ok() {
                        let _ = write_pattern(&mut conn, stream_of(2, host), bytes).await;
                    }
                    let _ = conn.close().await;
                });
            }
        })
    }
}

impl Scenario for Bulk {
    fn name(&self) -> &'static str {
        "bulk"
    }
    fn describe(&self) -> &'static str {
        "one connection: the client uploads `bytes`, then the server sends `bytes` back"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 64 * 1024,
            clients: 1,
            exchanges: 1,
            message_bytes: 0,
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        let (net, mut built, server) = network(sim, shape, tcp, 0);
        let bytes = w.bytes as usize;
        spawn_server(
            sim,
            net.server,
            server,
            bulk_server(bytes, net.client_addrs.clone()),
        );
        for (host, &client) in net.clients.iter().enumerate() {
            built
                .tasks
                .push(sim.spawn_on(client, bulk_client(client, server, host, bytes)));
        }
        built
    }
}

// ----------------------------------------------------------------------------------------

/// Many request/response exchanges over one kept-alive connection.
#[derive(Debug)]
pub struct RequestResponse;

/// An echo server that answers each message with its bytes plus one (so an echo of stale
/// data is caught).
fn echo_server(
    message: usize,
) -> impl FnOnce(TcpListener) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    move |listener| {
        Box::pin(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                exec::spawn(async move {
                    let mut buf = vec![0u8; message];
                    while conn.read_exact(&mut buf).await.is_ok() {
                        buf.iter_mut().for_each(|b| *b = b.wrapping_add(1));
                        if conn.write_all(&buf).await.is_err() {
                            return;
                        }
                    }
                });
            }
        })
    }
}

async fn exchange(conn: &mut TcpStream, stream: u64, message: usize) -> TaskResult {
    let request = pattern(stream, message);
    let request = &request[..message];
    conn.write_all(request)
        .await
        .map_err(|e| io_failure("request", e))?;
    let mut reply = vec![0u8; message];
    conn.read_exact(&mut reply)
        .await
        .map_err(|e| io_failure("response", e))?;
    if let Some(i) = (0..message).find(|&i| reply[i] != request[i].wrapping_add(1)) {
        return Err(Failure::new(
            FailureKind::Integrity,
            format!("exchange {stream}: response byte {i} is wrong"),
        ));
    }
    Ok(())
}

impl Scenario for RequestResponse {
    fn name(&self) -> &'static str {
        "request-response"
    }
    fn describe(&self) -> &'static str {
        "one kept-alive connection per client host, `exchanges` request/response pairs of `message_bytes`"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 0,
            clients: 1,
            exchanges: 50,
            message_bytes: 200,
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        // One kept-alive connection (per client host) is many-clients with one client per
        // host.
        let one = Workload {
            clients: shape.client_hosts(),
            ..w.clone()
        };
        ManyClients.build(sim, &one, shape, tcp)
    }
}

/// The listen backlog of a server that expects `clients` connections at once: at least
/// `TcpListener::bind`'s 128, and one place per client. A server sized for a thousand
/// simultaneous clients is configured for them (Linux's `somaxconn` has been 4096 since 5.4,
/// nginx and others take a backlog option; the host clamps at its `max_backlog` likewise):
/// with 128, a thousand handshakes that complete in the same instant fill the accept queue,
/// the final ACKs and first data of all but 128 are dropped (as Linux drops them), and the
/// clients retransmit in lockstep on backed-off timers, 128 admitted per burst: over 80 s
/// for a thousand clients on a faultless LAN, which finish in 5 s with room for them all.
fn backlog_for(clients: u32) -> usize {
    (clients as usize).max(128)
}

/// `listen(2)` again on the socket listening at `addr` on `node`, with `backlog` (on a
/// listening socket this changes the backlog, as on Linux).
fn set_backlog(node: NodeId, addr: SocketAddrV4, backlog: usize) {
    exec::with_node::<Host, _>(node, |h, _| {
        let fd = h
            .ss()
            .into_iter()
            .find(|s| s.state == SocketState::Listen && s.local == Some(addr))
            .and_then(|s| s.fds.first().copied());
        match fd.map(|fd| h.listen(fd, backlog)) {
            Some(Ok(())) => {}
            other => panic!("server cannot set its backlog to {backlog}: {other:?}"),
        }
    });
}

// ----------------------------------------------------------------------------------------

/// Many clients at once against one echo server, listening with a backlog for all of them
/// (`backlog_for`).
#[derive(Debug)]
pub struct ManyClients;

impl Scenario for ManyClients {
    fn name(&self) -> &'static str {
        "many-clients"
    }
    fn describe(&self) -> &'static str {
        "`clients` concurrent connections (round-robin over the client hosts) to one echo server, `exchanges` each"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 0,
            clients: 20,
            exchanges: 3,
            message_bytes: 100,
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        // Every client's connection may be open at once, all from one client host.
        let (net, mut built, server) = network(sim, shape, tcp, w.clients as usize);
        let (message, exchanges) = (w.message_bytes.max(1) as usize, w.exchanges);
        let (node, backlog, echo) = (net.server, backlog_for(w.clients), echo_server(message));
        spawn_server(sim, net.server, server, move |listener| {
            set_backlog(node, server, backlog);
            echo(listener)
        });
        for c in 0..w.clients {
            let client = net.clients[c as usize % net.clients.len()];
            built.tasks.push(sim.spawn_on(client, async move {
                let mut conn = connect(client, server).await?;
                for i in 0..exchanges {
                    exchange(&mut conn, u64::from(c) << 32 | u64::from(i), message).await?;
                }
                Ok(())
            }));
        }
        built
    }
}

// ----------------------------------------------------------------------------------------

/// Connection churn: one short connection per exchange.
#[derive(Debug)]
pub struct Churn;

impl Scenario for Churn {
    fn name(&self) -> &'static str {
        "churn"
    }
    fn describe(&self) -> &'static str {
        "`exchanges` connections one after another (per client host): connect, one exchange, close"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 0,
            clients: 1,
            exchanges: 20,
            message_bytes: 64,
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        let (net, mut built, server) = network(sim, shape, tcp, 0);
        let (message, exchanges) = (w.message_bytes.max(1) as usize, w.exchanges);
        spawn_server(sim, net.server, server, echo_server(message));
        for (host, &client) in net.clients.iter().enumerate() {
            built.tasks.push(sim.spawn_on(client, async move {
                for i in 0..exchanges {
                    let mut conn = connect(client, server).await?;
                    exchange(&mut conn, stream_of(u64::from(i), host), message).await?;
                    conn.close().await.map_err(|e| io_failure("close", e))?;
                }
                Ok(())
            }));
        }
        built
    }
}

// ----------------------------------------------------------------------------------------

/// UDP request/response with retries: the application does the reliability.
#[derive(Debug)]
pub struct UdpRetry;

impl Scenario for UdpRetry {
    fn name(&self) -> &'static str {
        "udp-retry"
    }
    fn describe(&self) -> &'static str {
        "`exchanges` UDP requests, each resent every 250 ms until its own reply arrives"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 0,
            clients: 1,
            exchanges: 20,
            message_bytes: 100,
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        let (net, mut built, server_addr) = network(sim, shape, tcp, 0);
        let (message, exchanges) = (w.message_bytes.clamp(8, 1400) as usize, w.exchanges);
        let server = net.server;
        sim.spawn_on(server, async move {
            let socket = UdpSocket::bind(server, server_addr).expect("server binds");
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                buf[8..n].iter_mut().for_each(|b| *b = b.wrapping_add(1));
                let _ = socket.send_to(&buf[..n], from).await;
            }
        });
        for (host, (&client, &addr)) in net.clients.iter().zip(&net.client_addrs).enumerate() {
            built.tasks.push(sim.spawn_on(
                client,
                udp_client(client, addr, server_addr, host, exchanges, message),
            ));
        }
        built
    }
}

/// Sends `exchanges` requests from `addr`:5000, each until its own reply arrives.
async fn udp_client(
    client: NodeId,
    addr: Ipv4Addr,
    server: SocketAddrV4,
    host: usize,
    exchanges: u32,
    message: usize,
) -> TaskResult {
    let local = SocketAddrV4::new(addr, 5000);
    let socket = UdpSocket::bind(client, local).map_err(|e| io_failure("bind", e))?;
    let mut buf = vec![0u8; 2048];
    for i in 0..u64::from(exchanges) {
        let mut request = pattern(stream_of(i, host), message)[..message].to_vec();
        request[..8].copy_from_slice(&i.to_be_bytes());
        'retry: loop {
            socket
                .send_to(&request, server)
                .await
                .map_err(|e| io_failure("send", e))?;
            let deadline = exec::now() + Duration::from_millis(250);
            loop {
                let left = deadline.saturating_duration_since(exec::now());
                match exec::timeout(left, socket.recv_from(&mut buf)).await {
                    Err(_) => continue 'retry,
                    Ok(Err(e)) => return Err(io_failure("recv", e)),
                    Ok(Ok((n, _))) => {
                        let id = u64::from_be_bytes(buf[..8].try_into().unwrap_or([0; 8]));
                        if id != i {
                            continue; // a late reply to an earlier request
                        }
                        let ok =
                            n == message && (8..n).all(|k| buf[k] == request[k].wrapping_add(1));
                        if !ok {
                            return Err(Failure::new(
                                FailureKind::Integrity,
                                format!("client host {host}: reply {i} damaged ({n} bytes)"),
                            ));
                        }
                        break 'retry;
                    }
                }
            }
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------

/// A bulk transfer through a partition that heals.
#[derive(Debug)]
pub struct PartitionHeals;

impl PartitionHeals {
    /// The partition every run of this scenario starts with: 1 ms in (mid-transfer on a LAN,
    /// during the handshake on a WAN), for 5 s, both ways, on the hop next to the server
    /// (the clients from the server, or the last router from the server), so that every
    /// client host loses its server at once.
    pub fn plan(topology: &Topology) -> FaultPlan {
        let Some((from, to)) = topology.partitions().pop() else {
            return FaultPlan::new();
        };
        let partition = FaultChange::Partition {
            from,
            to,
            two_way: true,
        };
        FaultPlan::new()
            .at(Instant::from_millis(1), partition)
            .at(Instant::from_millis(5_001), FaultChange::Heal)
    }
}

impl Scenario for PartitionHeals {
    fn name(&self) -> &'static str {
        "partition-heals"
    }
    fn describe(&self) -> &'static str {
        "bulk in both directions while a two-way partition comes and goes"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 256 * 1024,
            clients: 1,
            exchanges: 1,
            message_bytes: 0,
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        Bulk.build(sim, w, shape, tcp)
    }
}

// ----------------------------------------------------------------------------------------

/// A fast sender and a slow reader with a small buffer: the window closes and reopens.
#[derive(Debug)]
pub struct SlowReader;

impl Scenario for SlowReader {
    fn name(&self) -> &'static str {
        "slow-reader"
    }
    fn describe(&self) -> &'static str {
        "per client host, the server reads 1 KiB every 5 ms through an 8 KiB window: zero windows, persist, updates"
    }
    fn default_workload(&self) -> Workload {
        Workload {
            bytes: 48 * 1024,
            clients: 1,
            exchanges: 1,
            message_bytes: 1024,
        }
    }
    /// The reader takes 1 KiB every 5 ms, so bytes grow less than elsewhere: 1 MiB takes
    /// 5 simulated seconds to read.
    fn workload(&self, size: Size) -> Workload {
        let w = self.default_workload();
        Workload {
            bytes: match size {
                Size::Small => w.bytes,
                Size::Medium => 256 * 1024,
                Size::Large => 1 << 20,
            },
            ..w
        }
    }
    fn build(&self, sim: &mut Sim, w: &Workload, shape: &Shape, tcp: &tcp::Config) -> Built {
        let small = tcp::Config {
            recv_buffer_bytes: 8 * 1024,
            ..tcp.clone()
        };
        let (net, mut built, server_addr) = network(sim, shape, &small, 0);
        let (bytes, chunk) = (w.bytes as usize, w.message_bytes.max(1) as usize);
        let server = net.server;
        // One slow reader per client host, each on its own port.
        let ports: Vec<SocketAddrV4> = (0..net.clients.len())
            .map(|host| SocketAddrV4::new(*server_addr.ip(), PORT + host as u16))
            .collect();
        for (host, &port) in ports.iter().enumerate() {
            built
                .tasks
                .push(sim.spawn_on(server, slow_reader(server, port, host, bytes, chunk)));
        }
        for (host, (&client, &port)) in net.clients.iter().zip(&ports).enumerate() {
            built.tasks.push(sim.spawn_on(client, async move {
                let mut conn = connect(client, port).await?;
                write_pattern(&mut conn, stream_of(3, host), bytes)
                    .await
                    .map_err(|e| io_failure("write", e))?;
                conn.close().await.map_err(|e| io_failure("close", e))
            }));
        }
        built
    }
}

/// Accepts one connection on `addr` and reads it `chunk` bytes every 5 ms.
async fn slow_reader(
    server: NodeId,
    addr: SocketAddrV4,
    host: usize,
    bytes: usize,
    chunk: usize,
) -> TaskResult {
    let listener = TcpListener::bind(server, addr).map_err(|e| io_failure("listen", e))?;
    let (mut conn, _) = listener
        .accept()
        .await
        .map_err(|e| io_failure("accept", e))?;
    let mut check = StreamCheck::new(stream_of(3, host), bytes);
    let mut buf = vec![0u8; chunk];
    loop {
        let n = conn
            .read(&mut buf)
            .await
            .map_err(|e| io_failure("slow read", e))?;
        if n == 0 {
            break;
        }
        check.feed(&buf[..n]);
        exec::sleep(Duration::from_millis(5)).await;
    }
    check.finish("client -> slow server")
}

/// The timed changes a scenario always includes in its plan (only `partition-heals` has
/// any), before the drawn faults, on `topology`'s names.
pub fn required_plan(scenario: &str, topology: &Topology) -> FaultPlan {
    match scenario {
        "partition-heals" => PartitionHeals::plan(topology),
        _ => FaultPlan::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn pattern_differs_between_streams_and_offsets() {
        let a = pattern(1, 64).to_vec();
        assert_ne!(a, pattern(2, 64).to_vec());
        assert_ne!(&a[..32], &a[32..]);
        assert!(check_stream("t", 1, &a, 64).is_ok());
        let mut damaged = a.clone();
        damaged[10] ^= 1;
        assert_eq!(
            check_stream("t", 1, &damaged, 64).unwrap_err().kind,
            FailureKind::Integrity
        );
    }

    #[test]
    fn pattern_catches_shifts_and_uses_every_byte_value() {
        let p = pattern(7, 1 << 16).to_vec();
        for shift in 1..=64 {
            let same = p[..4096]
                .iter()
                .zip(&p[shift..])
                .filter(|(a, b)| a == b)
                .count();
            // Chance agreement is about 1 in 256 bytes.
            assert!(same < 64, "shifted by {shift}: {same} of 4096 bytes agree");
        }
        let mut seen = [false; 256];
        p.iter().for_each(|&b| seen[usize::from(b)] = true);
        assert!(
            seen.iter().all(|&s| s),
            "not every byte value occurs in 64 KiB"
        );
    }

    #[test]
    fn fill_pattern_gives_pattern_byte_from_any_offset() {
        for stream in [0, 1, 3 | 2 << 48, u64::MAX] {
            for offset in [0, 1, 7, 8, 255, 256, 4093, (1 << 40) + 3] {
                for len in [0, 1, 7, 8, 9, 64, 1000] {
                    let mut got = vec![0u8; len];
                    fill_pattern(stream, offset, &mut got);
                    let expected: Vec<u8> = (0..len as u64)
                        .map(|i| pattern_byte(stream, offset.wrapping_add(i)))
                        .collect();
                    assert_eq!(got, expected, "stream {stream} offset {offset} len {len}");
                }
            }
        }
    }

    #[test]
    fn shared_patterns_are_the_stream_whatever_was_asked_before() {
        let stream = 9 | 3 << 48;
        let expected =
            |len: usize| -> Vec<u8> { (0..len as u64).map(|i| pattern_byte(stream, i)).collect() };
        // Short, then longer (the shared prefix grows), then shorter again (a slice of it).
        for len in [10, 5000, 70_000, 4096, 6000] {
            let p = pattern(stream, len);
            assert!(p.len() >= len);
            assert_eq!(p[..len], expected(len)[..], "len {len}");
        }
    }

    /// The verdict of `got` fed in pieces of `piece` bytes.
    fn checked_in_pieces(got: &[u8], expected_len: usize, piece: usize) -> TaskResult {
        let mut check = StreamCheck::new(5, expected_len);
        got.chunks(piece).for_each(|c| check.feed(c));
        check.finish("t")
    }

    #[test]
    fn a_bad_byte_past_the_first_generated_piece_is_found_where_it_is() {
        // One read of 20,000 bytes is checked against several generated pieces.
        let mut got = pattern(6, 20_000).to_vec();
        for at in [CHECK_PIECE - 1, CHECK_PIECE, 3 * CHECK_PIECE + 5, 19_999] {
            let was = got[at];
            got[at] ^= 0x81;
            let mut check = StreamCheck::new(6, 20_000);
            check.feed(&got);
            assert_eq!(check.first_bad, Some((at, got[at], was)), "byte {at}");
            got[at] = was;
        }
        let mut check = StreamCheck::new(6, 20_000);
        check.feed(&got);
        assert!(check.finish("t").is_ok());
    }

    #[test]
    fn a_stream_checked_as_it_arrives_gets_the_whole_stream_verdict() {
        let good = pattern(5, 5000).to_vec();
        let mut damaged = good.clone();
        damaged[3001] ^= 0x40;
        let cases: [(&[u8], usize, TaskResult); 4] = [
            (&good, 5000, Ok(())),
            (
                &damaged,
                5000,
                Err(Failure::new(
                    FailureKind::Integrity,
                    format!(
                        "t: byte 3001 is {:#04x}, expected {:#04x} (5000 of 5000 bytes received)",
                        damaged[3001], good[3001]
                    ),
                )),
            ),
            (
                &good[..4000],
                5000,
                Err(Failure::new(
                    FailureKind::Integrity,
                    "t: 4000 bytes received, expected 5000",
                )),
            ),
            (
                &good,
                4999,
                Err(Failure::new(
                    FailureKind::Integrity,
                    "t: 5000 bytes received, expected 4999",
                )),
            ),
        ];
        for (got, expected_len, verdict) in cases {
            for piece in [1, 7, 512, 513, 4096, 10_000] {
                assert_eq!(
                    checked_in_pieces(got, expected_len, piece),
                    verdict,
                    "pieces of {piece}"
                );
            }
        }
        // Bytes swapped across a piece boundary: caught at the first one.
        let mut swapped = good.clone();
        swapped.swap(511, 512);
        let verdict = checked_in_pieces(&swapped, 5000, 512).unwrap_err();
        assert!(verdict.detail.starts_with("t: byte 511 is"), "{verdict}");
    }

    #[test]
    fn builtin_names_are_unique() {
        let mut names: Vec<_> = builtin().iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), builtin().len());
    }
}
