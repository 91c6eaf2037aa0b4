//! Ordinary tokio services, unchanged, on a simulated network (issue 12): hyper's server and
//! client, an axum router, a tonic gRPC service, hyper-util's pooled client and tokio-util
//! codecs, each reaching the network only through `sansnet_sim::net` (tokio::net's shape),
//! with 2 % loss and 2 % reordering on every link. Every byte a side receives is compared
//! with what the other side sent, and every run is made twice from its seed: the same trace,
//! the same simulated time, the same counts. hyper's `Date` header reads `SystemTime::now()`:
//! axum and tonic's own server, which cannot turn it off, run with the simulation answering
//! the clock (`Builder::intercept`); tonic's server without it shows what the wall clock does
//! to a run (the FIXME there).
//!
//! `cargo test --test services -- --nocapture` prints each run's figures.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{header, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::{Connected as ConnectionInfo, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use pretty_assertions::assert_eq;
use sansnet_sim::{net, BoxError, Builder, Duration, Seed, Simulation, TaskResult, TraceHash};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::codec::{Framed, LengthDelimitedCodec, LinesCodec};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic_prost::ProstCodec;
use tower::ServiceExt;

/// Errors of tasks that `tokio::spawn` runs, which must be `Send`: the simulator's own
/// `BoxError` is.
type SendError = BoxError;

// ----- runs, counts and payloads -----

/// The network of every test: turmoil's builder, 2 % of frames lost and 2 % reordered on
/// each link a frame crosses. A minute of simulated time (which costs nothing while hosts
/// wait) leaves room for TCP's backoff when a seed loses the same segment again and again.
fn faulty(seed: u64, clock: Clock) -> Simulation {
    let mut builder = Builder::new();
    builder
        .rng_seed(seed)
        .fail_rate(0.02)
        .reorder_rate(0.02)
        .simulation_duration(Duration::from_secs(60))
        .intercept(clock == Clock::Simulated);
    builder.build()
}

/// What `SystemTime::now()` reads inside a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// The machine's clock (interception off, the builder's default).
    Wall,
    /// The simulation's (`Builder::intercept`): 2030-01-01 plus simulated time.
    Simulated,
}

/// What the tasks of one run counted. Tasks on every host share it: the simulation is one
/// thread, but `tokio::spawn` (which hyper, axum and tonic use) wants `Send`.
#[derive(Debug, Default)]
struct Tally {
    requests: AtomicU64,
    bytes_checked: AtomicU64,
    connections: AtomicU64,
    /// How long each connection that hyper closed for its header read timeout was served.
    header_timeouts: Mutex<Vec<Duration>>,
}

impl Tally {
    /// Panics unless `got` is `want`, byte for byte, and counts the bytes compared.
    #[track_caller]
    fn check(&self, what: &str, got: &[u8], want: &[u8]) {
        common::assert_same_bytes(what, got, want);
        self.bytes_checked.fetch_add(got.len() as u64, Relaxed);
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// One run's result: what was counted, the trace and the simulated time it took.
#[derive(Debug, PartialEq)]
struct Figures {
    requests: u64,
    bytes_checked: u64,
    connections: u64,
    header_timeouts: Vec<Duration>,
    trace: TraceHash,
    elapsed: Duration,
}

/// Runs `setup`'s hosts and clients once on a fresh faulty network until every client is
/// done, with `clock`, on a thread of its own (as `Builder::test` runs each run): a
/// library's per-thread state, such as hyper's cached `Date` value, starts afresh.
fn run_once_on(
    name: &str,
    seed: u64,
    clock: Clock,
    setup: &(dyn Fn(&mut Simulation, &Arc<Tally>) + Sync),
) -> Figures {
    let thread = std::thread::Builder::new().name(
        std::thread::current()
            .name()
            .unwrap_or("services")
            .to_owned(),
    );
    std::thread::scope(|scope| {
        thread
            .spawn_scoped(scope, || {
                let mut sim = faulty(seed, clock);
                let tally = Arc::new(Tally::default());
                setup(&mut sim, &tally);
                sim.run().unwrap_or_else(|e| panic!("{name}: {e}"));
                let figures = Figures {
                    requests: tally.requests.load(Relaxed),
                    bytes_checked: tally.bytes_checked.load(Relaxed),
                    connections: tally.connections.load(Relaxed),
                    header_timeouts: tally.header_timeouts.lock().expect("not poisoned").clone(),
                    trace: sim.sim().trace_hash(),
                    elapsed: sim.elapsed(),
                };
                eprintln!("{name}: {figures:?}");
                figures
            })
            .expect("a thread starts")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// [`run_once_on`], then all of it again: the same seed must give the same run, to the frame
/// and to the nanosecond, whatever the libraries do inside.
fn run_twice(
    name: &str,
    seed: u64,
    setup: impl Fn(&mut Simulation, &Arc<Tally>) + Sync,
) -> Figures {
    run_twice_on(name, seed, Clock::Wall, setup)
}

/// [`run_twice`] with `clock`.
fn run_twice_on(
    name: &str,
    seed: u64,
    clock: Clock,
    setup: impl Fn(&mut Simulation, &Arc<Tally>) + Sync,
) -> Figures {
    let first = run_once_on(name, seed, clock, &setup);
    let second = run_once_on(name, seed, clock, &setup);
    assert_eq!(first, second, "{name}: seed {seed} did not replay");
    first
}

/// `len` bytes of stream `stream`'s own pattern: a swapped, lost or repeated segment shows.
fn payload(stream: u64, len: usize) -> Vec<u8> {
    common::pattern(Seed(12), stream, len)
}

/// Request `i`'s body: 1 to 7 KB.
fn request_body(i: u64) -> Vec<u8> {
    payload(i, 1_000 + (i as usize * 1_531) % 6_000)
}

/// The total length of request bodies `0..n`.
fn request_bytes(n: u64) -> u64 {
    (0..n).map(|i| request_body(i).len() as u64).sum()
}

/// What every server answers: the body backwards, so that it must have read all of it.
fn reversed(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().rev().copied().collect()
}

// ----- a sansnet stream where libraries want their own traits -----

/// A sansnet stream for the libraries that ask a connection about itself: tonic's server
/// asks each accepted one for its addresses (`Connected`), hyper-util's pool asks each new
/// one how it was made (`Connection`). Both traits and `net::TcpStream` are foreign to this
/// crate, so the impls need a newtype; tokio's `TcpStream` has them inside those crates.
#[derive(Debug)]
struct SimConn(net::TcpStream);

impl AsyncRead for SimConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, b)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl Connected for SimConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.0.local_addr().ok(),
            remote_addr: self.0.peer_addr().ok(),
        }
    }
}

impl Connection for SimConn {
    fn connected(&self) -> ConnectionInfo {
        ConnectionInfo::new()
    }
}

// ----- hyper: server, low-level client, header read timeout -----

const HTTP_PORT: u16 = 8080;
const HTTP_ADDR: &str = "server:8080";

/// `POST /echo/{i}`: checks that the body is request `i`'s and answers it reversed.
async fn echo(
    req: Request<Incoming>,
    tally: Arc<Tally>,
) -> Result<Response<Full<Bytes>>, SendError> {
    let i: u64 = match req.uri().path().strip_prefix("/echo/") {
        Some(i) => i.parse()?,
        None => return Err(format!("no route for {}", req.uri()).into()),
    };
    let body = req.into_body().collect().await?.to_bytes();
    tally.check(
        &format!("request {i} at the server"),
        &body,
        &request_body(i),
    );
    Tally::count(&tally.requests);
    Ok(Response::new(Full::new(reversed(&body).into())))
}

/// A hyper HTTP/1 server as hyper's docs write one, a task per connection, with hyper-util's
/// tokio timer (so `header_timeout` runs on the simulated clock) and no `Date` header (hyper
/// reads the wall clock for it).
async fn hyper_server(tally: Arc<Tally>, header_timeout: Duration) -> TaskResult {
    let listener = net::TcpListener::bind(("0.0.0.0", HTTP_PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        Tally::count(&tally.connections);
        let tally = tally.clone();
        tokio::spawn(async move {
            let service = service_fn(|req| echo(req, tally.clone()));
            let start = tokio::time::Instant::now();
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if served.as_ref().is_err_and(hyper::Error::is_timeout) {
                let mut timeouts = tally.header_timeouts.lock().expect("not poisoned");
                timeouts.push(start.elapsed());
            }
        });
    }
}

/// An HTTP/1 connection by hyper's low-level client; its driver runs in a task of its own.
async fn http1_connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, SendError> {
    let stream = net::TcpStream::connect(addr).await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// `POST /echo/{i}` with request `i`'s body, for any client's request type.
fn echo_request(uri: &str, i: u64) -> Request<Full<Bytes>> {
    Request::post(format!("{uri}/echo/{i}"))
        .header(header::HOST, "server")
        .body(Full::new(request_body(i).into()))
        .expect("a valid request")
}

/// Collects a response body, checking the status first.
async fn ok_body(response: Response<Incoming>) -> Result<Bytes, SendError> {
    assert_eq!(response.status(), StatusCode::OK);
    Ok(response.into_body().collect().await?.to_bytes())
}

#[test]
fn hyper_server_and_client_echo_requests_over_one_keep_alive_connection() {
    const REQUESTS: u64 = 8;
    let figures = run_twice("hyper", 101, |sim, tally| {
        let t = tally.clone();
        sim.host("server", move || {
            hyper_server(t.clone(), Duration::from_secs(5))
        });
        let tally = tally.clone();
        sim.client("client", async move {
            let mut sender = http1_connect(HTTP_ADDR).await?;
            for i in 0..REQUESTS {
                sender.ready().await?;
                let response = sender.send_request(echo_request("", i)).await?;
                // auto_date_header(false): nothing from the wall clock in the response.
                assert_eq!(response.headers().get(header::DATE), None);
                let body = ok_body(response).await?;
                tally.check(&format!("response {i}"), &body, &reversed(&request_body(i)));
            }
            Ok(())
        });
    });
    assert_eq!(figures.requests, REQUESTS);
    assert_eq!(figures.bytes_checked, 2 * request_bytes(REQUESTS));
    // Keep-alive: every request on the first connection.
    assert_eq!(figures.connections, 1);
    assert_eq!(figures.header_timeouts, vec![]);
}

#[test]
fn hyper_header_read_timeout_closes_stalled_connections_in_simulated_time() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let figures = run_twice("hyper header timeout", 102, |sim, tally| {
        let t = tally.clone();
        sim.host("server", move || hyper_server(t.clone(), TIMEOUT));
        // One client says nothing, the other stops halfway through its request line.
        for (name, sends) in [("silent", &b""[..]), ("stalled", &b"GET /echo/0 HT"[..])] {
            sim.client(name, async move {
                let mut stream = net::TcpStream::connect(HTTP_ADDR).await?;
                let start = tokio::time::Instant::now();
                stream.write_all(sends).await?;
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await?;
                let waited = start.elapsed();
                // hyper closes without an answer. The client waits the timeout at least:
                // hyper's timer starts at the accept, which comes after `start`.
                assert_eq!(rest, b"");
                assert!(waited >= TIMEOUT, "{name}: closed after {waited:?}");
                Ok(())
            });
        }
    });
    // On the server, each connection was closed when the timeout ran out, to tokio's
    // millisecond tick: simulated time, not the wall clock.
    assert_eq!(figures.header_timeouts.len(), 2);
    for served in &figures.header_timeouts {
        let late = *served - TIMEOUT;
        assert!(late <= Duration::from_millis(1), "{served:?}");
    }
    assert_eq!(figures.requests, 0);
    assert!(figures.elapsed >= TIMEOUT, "{:?}", figures.elapsed);
}

// ----- axum -----

/// `axum::serve` accepts any `axum::serve::Listener`: sansnet's listener becomes one through
/// a newtype (the orphan rule), counting connections on the way.
struct AxumListener {
    listener: net::TcpListener,
    tally: Arc<Tally>,
}

impl axum::serve::Listener for AxumListener {
    type Io = net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (net::TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    Tally::count(&self.tally.connections);
                    return accepted;
                }
                // What axum does for tokio's listener: retry after a pause.
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

const AXUM_GREETING: &str = "hello from axum on sansnet";

/// `POST /echo/{i}` in axum's words.
async fn axum_echo(State(tally): State<Arc<Tally>>, Path(i): Path<u64>, body: Bytes) -> Vec<u8> {
    tally.check(
        &format!("request {i} at the server"),
        &body,
        &request_body(i),
    );
    Tally::count(&tally.requests);
    reversed(&body)
}

/// An axum app with three routes, served by `axum::serve` as its docs show.
async fn axum_server(tally: Arc<Tally>) -> TaskResult {
    let app = axum::Router::new()
        .route("/hello", get(|| async { AXUM_GREETING }))
        .route(
            "/items/{id}",
            get(|Path(id): Path<u32>| async move { format!("item {id}") }),
        )
        .route("/echo/{i}", post(axum_echo))
        .with_state(tally.clone());
    let listener = net::TcpListener::bind(("0.0.0.0", HTTP_PORT)).await?;
    axum::serve(AxumListener { listener, tally }, app).await?;
    Ok(())
}

#[test]
fn axum_router_serves_text_and_echo_routes_to_a_hyper_client() {
    const ECHOES: u64 = 6;
    // axum::serve has no switch for hyper's `Date` header, which reads `SystemTime::now()`:
    // with the simulation answering the clock, it is simulated time and the runs replay.
    let figures = run_twice_on("axum", 103, Clock::Simulated, |sim, tally| {
        let t = tally.clone();
        sim.host("server", move || axum_server(t.clone()));
        let tally = tally.clone();
        sim.client("client", async move {
            let mut sender = http1_connect(HTTP_ADDR).await?;
            let get = |path: &str| {
                Request::get(path)
                    .header(header::HOST, "server")
                    .body(Full::default())
                    .expect("a valid request")
            };

            let response = sender.send_request(get("/hello")).await?;
            // Simulated time from 2030-01-01 (a Tuesday): the first response goes well
            // within the first second.
            assert_eq!(
                response.headers()[header::DATE],
                "Tue, 01 Jan 2030 00:00:00 GMT"
            );
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
            let body = ok_body(response).await?;
            tally.check("GET /hello", &body, AXUM_GREETING.as_bytes());

            for i in 0..ECHOES {
                sender.ready().await?;
                let body = ok_body(sender.send_request(echo_request("", i)).await?).await?;
                tally.check(&format!("response {i}"), &body, &reversed(&request_body(i)));
            }

            sender.ready().await?;
            let body = ok_body(sender.send_request(get("/items/42")).await?).await?;
            tally.check("GET /items/42", &body, b"item 42");

            sender.ready().await?;
            let response = sender.send_request(get("/nowhere")).await?;
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            Ok(())
        });
    });
    assert_eq!(figures.requests, ECHOES);
    let texts = (AXUM_GREETING.len() + "item 42".len()) as u64;
    assert_eq!(figures.bytes_checked, 2 * request_bytes(ECHOES) + texts);
    assert_eq!(figures.connections, 1);
}

// ----- tonic -----

/// The request of both methods; prost messages written out by hand (there is no protoc).
#[derive(Clone, PartialEq, prost::Message)]
struct EchoRequest {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(bytes = "vec", tag = "2")]
    payload: Vec<u8>,
    /// How many replies the streaming method sends.
    #[prost(uint32, tag = "3")]
    replies: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EchoReply {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(uint32, tag = "2")]
    seq: u32,
    #[prost(bytes = "vec", tag = "3")]
    payload: Vec<u8>,
}

const GRPC_PORT: u16 = 50051;
const UNARY: &str = "/sansnet.Echo/Unary";
const STREAM: &str = "/sansnet.Echo/Stream";

/// Reply `seq` of a streaming call `id`: 0.5 to 4.5 KB of its own pattern.
fn stream_reply(id: u64, seq: u32) -> Vec<u8> {
    payload(
        1_000 * id + u64::from(seq),
        500 + (seq as usize * 977) % 4_000,
    )
}

/// The service, hand-written the way tonic's generated code is: a tower service routing
/// by path to one `tonic::server::Grpc` call per method.
#[derive(Clone, Debug)]
struct EchoService {
    tally: Arc<Tally>,
}

impl tonic::server::NamedService for EchoService {
    const NAME: &'static str = "sansnet.Echo";
}

/// `Unary`: checks the payload is request `id`'s and answers it reversed; the peer address
/// tonic saw goes back in the `x-peer` metadata.
struct UnaryEcho(Arc<Tally>);

impl tonic::server::UnaryService<EchoRequest> for UnaryEcho {
    type Response = EchoReply;
    type Future = tonic::codegen::BoxFuture<tonic::Response<EchoReply>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<EchoRequest>) -> Self::Future {
        let tally = self.0.clone();
        Box::pin(async move {
            let peer = request
                .remote_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let EchoRequest { id, payload, .. } = request.into_inner();
            tally.check(
                &format!("request {id} at the server"),
                &payload,
                &request_body(id),
            );
            Tally::count(&tally.requests);
            let mut reply = tonic::Response::new(EchoReply {
                id,
                seq: 0,
                payload: reversed(&payload),
            });
            let peer = peer
                .parse()
                .map_err(|_| tonic::Status::internal("bad peer"))?;
            reply.metadata_mut().insert("x-peer", peer);
            Ok(reply)
        })
    }
}

/// `Stream`: `replies` messages, from a task that waits 5 ms of tokio time between them.
struct StreamEcho(Arc<Tally>);

type ReplyStream = tokio_stream::wrappers::ReceiverStream<Result<EchoReply, tonic::Status>>;

impl tonic::server::ServerStreamingService<EchoRequest> for StreamEcho {
    type Response = EchoReply;
    type ResponseStream = ReplyStream;
    type Future = tonic::codegen::BoxFuture<tonic::Response<ReplyStream>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<EchoRequest>) -> Self::Future {
        Tally::count(&self.0.requests);
        let EchoRequest { id, replies, .. } = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for seq in 0..replies {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let reply = EchoReply {
                    id,
                    seq,
                    payload: stream_reply(id, seq),
                };
                if tx.send(Ok(reply)).await.is_err() {
                    return;
                }
            }
        });
        Box::pin(async move { Ok(tonic::Response::new(ReplyStream::new(rx))) })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for EchoService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let tally = self.tally.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
            Ok(match request.uri().path() {
                UNARY => grpc.unary(UnaryEcho(tally), request).await,
                STREAM => grpc.server_streaming(StreamEcho(tally), request).await,
                _ => tonic::Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// Accepted connections as the stream `serve_with_incoming` takes, by `poll_accept`.
struct Accepted {
    listener: net::TcpListener,
    tally: Arc<Tally>,
}

impl futures::Stream for Accepted {
    type Item = io::Result<SimConn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let accepted = std::task::ready!(self.listener.poll_accept(cx));
        Tally::count(&self.tally.connections);
        Poll::Ready(Some(accepted.map(|(stream, _)| SimConn(stream))))
    }
}

/// The service on tonic's own server, fed sansnet's connections.
async fn tonic_server(tally: Arc<Tally>) -> TaskResult {
    let listener = net::TcpListener::bind(("0.0.0.0", GRPC_PORT)).await?;
    let service = EchoService {
        tally: tally.clone(),
    };
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(Accepted { listener, tally })
        .await?;
    Ok(())
}

/// The same service, as tonic's `Routes`, on hyper's HTTP/2 server with the `date` header
/// off: what tonic's server does, less the wall clock.
async fn tonic_service_on_hyper(tally: Arc<Tally>) -> TaskResult {
    let listener = net::TcpListener::bind(("0.0.0.0", GRPC_PORT)).await?;
    let routes = tonic::service::Routes::new(EchoService {
        tally: tally.clone(),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        Tally::count(&tally.connections);
        // What tonic's server does for each request: the connection's addresses go along.
        let conn = SimConn(stream);
        let info = conn.connect_info();
        let service = TowerToHyperService::new(routes.clone().map_request(
            move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(info.clone());
                request
            },
        ));
        tokio::spawn(
            http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .auto_date_header(false)
                .serve_connection(TokioIo::new(conn), service),
        );
    }
}

/// A tonic channel to `http://server:50051` whose connections are sansnet's; the local
/// address of the last one made goes to `local`.
async fn grpc_channel(
    local: Arc<Mutex<Option<SocketAddr>>>,
) -> Result<tonic::transport::Channel, SendError> {
    let connector = tower::service_fn(move |uri: Uri| {
        let local = local.clone();
        async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let stream = net::TcpStream::connect((host, uri.port_u16().unwrap_or(80))).await?;
            *local.lock().expect("not poisoned") = Some(stream.local_addr()?);
            Ok::<_, io::Error>(TokioIo::new(stream))
        }
    });
    let endpoint = tonic::transport::Endpoint::from_static("http://server:50051");
    Ok(endpoint.connect_with_connector(connector).await?)
}

const UNARY_CALLS: u64 = 5;
const STREAM_REPLIES: u32 = 12;

/// The bytes one gRPC conversation checks: unary payloads both ways, streamed replies once.
fn grpc_bytes() -> u64 {
    let streamed: u64 = (0..STREAM_REPLIES)
        .map(|seq| stream_reply(UNARY_CALLS, seq).len() as u64)
        .sum();
    2 * request_bytes(UNARY_CALLS) + streamed
}

/// The `date` of a gRPC response, if the server sent one.
fn date(meta: &tonic::metadata::MetadataMap) -> Option<String> {
    meta.get("date")
        .map(|v| v.to_str().unwrap_or("not text").to_owned())
}

/// `UNARY_CALLS` unary calls, then one streaming call of `STREAM_REPLIES` replies, on one
/// channel, checking every message. With `wall_pause`, the simulation's thread sleeps 1.1 s
/// of wall-clock time after the first call: a run must not notice (no simulated time
/// passes), unless something in it reads the wall clock. Returns each response's `date`.
async fn grpc_client(
    tally: Arc<Tally>,
    wall_pause: bool,
) -> Result<Vec<Option<String>>, SendError> {
    let local = Arc::new(Mutex::new(None));
    let mut client = tonic::client::Grpc::new(grpc_channel(local.clone()).await?);
    let mut dates = Vec::new();
    for id in 0..UNARY_CALLS {
        if wall_pause && id == 1 {
            std::thread::sleep(Duration::from_millis(1_100));
        }
        let request = EchoRequest {
            id,
            payload: request_body(id),
            replies: 0,
        };
        client.ready().await?;
        let path = http::uri::PathAndQuery::from_static(UNARY);
        let response = client
            .unary(tonic::Request::new(request), path, ProstCodec::default())
            .await?;
        // The server saw this client's side of the connection (`Connected` works).
        let local = local.lock().expect("not poisoned").map(|a| a.to_string());
        let peer = response.metadata().get("x-peer");
        assert_eq!(peer.and_then(|v| v.to_str().ok()), local.as_deref());
        dates.push(date(response.metadata()));
        let reply: EchoReply = response.into_inner();
        assert_eq!((reply.id, reply.seq), (id, 0));
        tally.check(
            &format!("reply {id}"),
            &reply.payload,
            &reversed(&request_body(id)),
        );
    }

    let id = UNARY_CALLS;
    let request = EchoRequest {
        id,
        payload: Vec::new(),
        replies: STREAM_REPLIES,
    };
    client.ready().await?;
    let path = http::uri::PathAndQuery::from_static(STREAM);
    let response = client
        .server_streaming(tonic::Request::new(request), path, ProstCodec::default())
        .await?;
    dates.push(date(response.metadata()));
    let mut replies = response.into_inner();
    let mut seq = 0;
    while let Some(reply) = replies.message().await? {
        let reply: EchoReply = reply;
        assert_eq!((reply.id, reply.seq), (id, seq));
        tally.check(
            &format!("reply {seq}"),
            &reply.payload,
            &stream_reply(id, seq),
        );
        seq += 1;
    }
    assert_eq!(seq, STREAM_REPLIES);
    Ok(dates)
}

/// One run of `grpc_client` against `server`: its figures and the dates it was sent.
fn grpc_run<F, Fut>(
    name: &str,
    seed: u64,
    server: F,
    wall_pause: bool,
    clock: Clock,
) -> (Figures, Vec<Option<String>>)
where
    F: Fn(Arc<Tally>) -> Fut + Copy + Sync + 'static,
    Fut: Future<Output = TaskResult> + 'static,
{
    let dates = Arc::new(Mutex::new(Vec::new()));
    let figures = run_once_on(name, seed, clock, &|sim, tally| {
        let t = tally.clone();
        sim.host("server", move || server(t.clone()));
        let (tally, dates) = (tally.clone(), dates.clone());
        sim.client("client", async move {
            let seen = grpc_client(tally, wall_pause).await?;
            *dates.lock().expect("not poisoned") = seen;
            Ok(())
        });
    });
    let dates = std::mem::take(&mut *dates.lock().expect("not poisoned"));
    (figures, dates)
}

/// Every call of `grpc_client` was served, on one connection, every byte checked.
#[track_caller]
fn assert_all_served(figures: &Figures) {
    assert_eq!(figures.requests, UNARY_CALLS + 1);
    assert_eq!(figures.bytes_checked, grpc_bytes());
    assert_eq!(figures.connections, 1);
}

/// Whether every response carried the same `date`.
fn one_date(dates: &[Option<String>]) -> bool {
    dates.windows(2).all(|w| w[0] == w[1])
}

#[test]
fn tonic_unary_and_server_streaming_calls_on_tonics_own_server() {
    const NAME: &str = "tonic server";
    // A reference run whose responses all carry one date: two runs in a row cannot both
    // straddle a change of second.
    let (steady, dates) = (0..2)
        .map(|_| grpc_run(NAME, 104, tonic_server, false, Clock::Wall))
        .find(|(_, dates)| one_date(dates))
        .expect("a run within one second of wall-clock time");
    assert_all_served(&steady);
    assert_eq!(dates.len(), UNARY_CALLS as usize + 1);
    assert!(dates[0].is_some(), "{dates:?}");

    // FIXME (interception off): tonic's server cannot turn off hyper's `date` header, and
    // HTTP/2 HPACK-codes it (indexed while the second lasts, a Huffman-coded literal of
    // varying length when it changes), so frame lengths, the trace and the timing depend on
    // when the test runs. Shown here by a wall-clock pause mid-run: the date the client
    // receives changes with the wall clock (the trace then differs too, unless the new date
    // happens to code to the same length, so that is not asserted). With
    // `Builder::intercept` the date is simulated time and the runs replay
    // (`tonic_server_with_the_simulated_clock_replays_exactly`); with the header off a
    // pause changes nothing (`tonic_service_on_hyper_without_the_date_header_replays_exactly`).
    let (paused, paused_dates) = grpc_run(NAME, 104, tonic_server, true, Clock::Wall);
    assert_ne!(paused_dates[0], paused_dates[1]);
    assert_eq!(paused.bytes_checked, steady.bytes_checked);
}

/// The same server with the simulation answering the clock (`Builder::intercept`): its
/// `date` is simulated time, so the runs replay exactly, a wall-clock pause included.
#[test]
fn tonic_server_with_the_simulated_clock_replays_exactly() {
    const NAME: &str = "tonic server, simulated clock";
    let first = grpc_run(NAME, 104, tonic_server, false, Clock::Simulated);
    assert_all_served(&first.0);
    assert!(
        first.0.elapsed < Duration::from_secs(1),
        "{:?}",
        first.0.elapsed
    );
    let simulated = Some("Tue, 01 Jan 2030 00:00:00 GMT".to_owned());
    assert_eq!(first.1, vec![simulated; UNARY_CALLS as usize + 1]);
    assert_eq!(
        grpc_run(NAME, 104, tonic_server, true, Clock::Simulated),
        first
    );
}

#[test]
fn tonic_service_on_hyper_without_the_date_header_replays_exactly() {
    const NAME: &str = "tonic service on hyper";
    let first = grpc_run(NAME, 105, tonic_service_on_hyper, false, Clock::Wall);
    assert_all_served(&first.0);
    assert_eq!(first.1, vec![None; UNARY_CALLS as usize + 1]);
    assert_eq!(
        grpc_run(NAME, 105, tonic_service_on_hyper, false, Clock::Wall),
        first
    );
    // Nothing reads the wall clock: a pause of the whole simulation changes nothing.
    assert_eq!(
        grpc_run(NAME, 105, tonic_service_on_hyper, true, Clock::Wall),
        first
    );
}

// ----- hyper-util's pooled client -----

/// A connector for hyper-util's client, as a `tower::service_fn` over sansnet's connect.
/// The client wants an `Unpin` future, hence the box.
type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TokioIo<SimConn>>> + Send>>;

fn sim_connector(uri: Uri) -> ConnectFuture {
    Box::pin(async move {
        let host = uri.host().unwrap_or_default().to_owned();
        let stream = net::TcpStream::connect((host, uri.port_u16().unwrap_or(80))).await?;
        Ok(TokioIo::new(SimConn(stream)))
    })
}

type PooledClient = hyper_util::client::legacy::Client<
    tower::util::ServiceFn<fn(Uri) -> ConnectFuture>,
    Full<Bytes>,
>;

/// Request `i` to the echo server through the pool, its answer checked.
async fn pooled_echo(client: PooledClient, tally: Arc<Tally>, i: u64) -> Result<(), SendError> {
    let response = client
        .request(echo_request("http://server:8080", i))
        .await?;
    let body = ok_body(response).await?;
    tally.check(&format!("response {i}"), &body, &reversed(&request_body(i)));
    Ok(())
}

#[test]
fn hyper_util_pooled_client_reuses_connections_and_expires_idle_ones() {
    const WORKERS: u64 = 4;
    const PER_WORKER: u64 = 6;
    const IDLE: Duration = Duration::from_secs(2);
    let figures = run_twice("hyper-util pool", 106, |sim, tally| {
        let t = tally.clone();
        sim.host("server", move || {
            hyper_server(t.clone(), Duration::from_secs(30))
        });
        let tally = tally.clone();
        sim.client("client", async move {
            let client: PooledClient =
                hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(IDLE)
                    .build(tower::service_fn(sim_connector as fn(Uri) -> ConnectFuture));
            // Workers side by side, each with requests one after the other.
            let mut workers = tokio::task::JoinSet::new();
            for w in 0..WORKERS {
                let (client, tally) = (client.clone(), tally.clone());
                workers.spawn(async move {
                    for k in 0..PER_WORKER {
                        pooled_echo(client.clone(), tally.clone(), w * PER_WORKER + k).await?;
                    }
                    Ok::<_, SendError>(())
                });
            }
            while let Some(done) = workers.join_next().await {
                done??;
            }
            // Past the idle timeout, on tokio's (simulated) clock, the pool has let every
            // connection go: the next request connects anew. (Counted after the pause: a
            // connection the pool started may still be completing when the workers end.)
            tokio::time::sleep(IDLE + Duration::from_secs(3)).await;
            let before = tally.connections.load(Relaxed);
            pooled_echo(client, tally.clone(), WORKERS * PER_WORKER).await?;
            assert_eq!(tally.connections.load(Relaxed), before + 1);
            Ok(())
        });
    });
    let requests = WORKERS * PER_WORKER + 1;
    assert_eq!(figures.requests, requests);
    assert_eq!(figures.bytes_checked, 2 * request_bytes(requests));
    // Fewer connections than requests, though often more than workers: a request that
    // finds no idle connection starts one and takes whichever is ready first, one coming
    // back to the pool or the new one; the other is pooled.
    assert!(figures.connections < requests / 2, "{figures:?}");
}

// ----- tokio-util codecs -----

const CODEC_PORT: u16 = 7000;
const HELLO: &str = "HELLO sansnet";
const WELCOME: &str = "WELCOME";
const FRAMES: u64 = 32;

/// Frame `i` of the conversation: 0 to 12 KB (frame 0 is empty).
fn frame(i: u64) -> Vec<u8> {
    payload(500 + i, (i as usize * 2_377) % 12_000)
}

/// One conversation: a line-based greeting, then length-delimited frames on the same
/// connection (the codec switched with what was already read kept), each answered reversed.
async fn codec_conversation(stream: net::TcpStream, tally: Arc<Tally>) -> Result<(), SendError> {
    let mut lines = Framed::new(stream, LinesCodec::new());
    let hello = lines.next().await.ok_or("closed before the greeting")??;
    tally.check("greeting", hello.as_bytes(), HELLO.as_bytes());
    lines.send(WELCOME).await?;
    let mut frames = lines.map_codec(|_| LengthDelimitedCodec::new());
    for i in 0..FRAMES {
        let got = frames.next().await.ok_or("closed mid-conversation")??;
        tally.check(&format!("frame {i} at the server"), &got, &frame(i));
        Tally::count(&tally.requests);
        frames.send(Bytes::from(reversed(&got))).await?;
    }
    Ok(())
}

async fn codec_server(tally: Arc<Tally>) -> TaskResult {
    let listener = net::TcpListener::bind(("0.0.0.0", CODEC_PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        Tally::count(&tally.connections);
        tokio::spawn(codec_conversation(stream, tally.clone()));
    }
}

#[test]
fn framed_lines_then_length_delimited_conversation_between_two_hosts() {
    let figures = run_twice("codec", 107, |sim, tally| {
        let t = tally.clone();
        sim.host("server", move || codec_server(t.clone()));
        let tally = tally.clone();
        sim.client("client", async move {
            let stream = net::TcpStream::connect(("server", CODEC_PORT)).await?;
            let mut lines = Framed::new(stream, LinesCodec::new());
            lines.send(HELLO).await?;
            let welcome = lines.next().await.ok_or("closed before the welcome")??;
            tally.check("welcome", welcome.as_bytes(), WELCOME.as_bytes());
            // Every frame sent while the answers are read: both directions full at once.
            let (mut sink, mut answers) = lines.map_codec(|_| LengthDelimitedCodec::new()).split();
            let send = async {
                for i in 0..FRAMES {
                    sink.send(Bytes::from(frame(i))).await?;
                }
                Ok::<_, SendError>(())
            };
            let receive = async {
                for i in 0..FRAMES {
                    let got = answers.next().await.ok_or("closed mid-conversation")??;
                    tally.check(&format!("answer {i}"), &got, &reversed(&frame(i)));
                }
                Ok::<_, SendError>(())
            };
            tokio::try_join!(send, receive)?;
            Ok(())
        });
    });
    let frames: u64 = (0..FRAMES).map(|i| frame(i).len() as u64).sum();
    assert_eq!(figures.requests, FRAMES);
    assert_eq!(
        figures.bytes_checked,
        2 * frames + (HELLO.len() + WELCOME.len()) as u64
    );
    assert_eq!(figures.connections, 1);
}
