//! turmoil's gRPC example (`examples/grpc` in the turmoil repository) on sansnet: tonic's
//! own server and channel on simulated hosts, the client reaching `http://server:9999` by
//! name, every byte over sansnet's TCP.
//!
//! The port renames `turmoil::Builder` to `sansnet::Builder` and `turmoil::net` to
//! `sansnet::net`; the connector, the `Connected` wrapper and the incoming stream keep
//! turmoil's shape. On top of turmoil's one unary call: a server-streaming call, a
//! partition that heals mid-run, and frame loss at 2 % and 10 % per link over 20 seeds
//! each. turmoil's own `fail_rate` could not run this example (its TCP does not
//! retransmit); here a lost frame is TCP's problem, as on a real network.
//!
//! `cargo run -p sansnet --example turmoil_grpc`

use std::cell::RefCell;
use std::error::Error;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sansnet::sim::{Direction, Duration, TaskResult, TraceHash};
use sansnet::{net, Builder, Simulation};
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

use connector::{SimConnector, SimStream};
use greeter::{GreeterClient, GreeterServer};
use proto::{HelloReply, HelloRequest};

const PORT: u16 = 9999;
/// Replies in one `SayHelloStream` call.
const STREAM_LEN: u32 = 20;

/// What tonic-build generates from turmoil's `helloworld.proto`, written out because this
/// workspace has no `protoc`.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HelloRequest {
        #[prost(string, tag = "1")]
        pub name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HelloReply {
        #[prost(string, tag = "1")]
        pub message: String,
    }
}

/// The Greeter service and client in the shape tonic-build gives them, minus the trait
/// indirection: the server routes by path into `tonic::server::Grpc`, the client goes
/// through `tonic::client::Grpc`, both with prost's codec.
mod greeter {
    use std::convert::Infallible;
    use std::task::{Context, Poll};

    use http::uri::PathAndQuery;
    use tonic::codegen::{http, Body, BoxFuture, Service, StdError};
    use tonic::server::NamedService;
    use tonic::transport::Channel;
    use tonic::{IntoRequest, Response, Status, Streaming};
    use tonic_prost::ProstCodec;
    use tower::service_fn;

    use super::proto::{HelloReply, HelloRequest};

    const SAY_HELLO: &str = "/helloworld.Greeter/SayHello";
    const SAY_HELLO_STREAM: &str = "/helloworld.Greeter/SayHelloStream";

    #[derive(Clone, Debug)]
    pub struct GreeterServer;

    impl NamedService for GreeterServer {
        const NAME: &'static str = "helloworld.Greeter";
    }

    impl<B> Service<http::Request<B>> for GreeterServer
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Infallible>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<B>) -> Self::Future {
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                Ok(match req.uri().path() {
                    SAY_HELLO => grpc.unary(service_fn(super::say_hello), req).await,
                    SAY_HELLO_STREAM => {
                        let method = service_fn(super::say_hello_stream);
                        grpc.server_streaming(method, req).await
                    }
                    other => Status::unimplemented(other.to_owned()).into_http(),
                })
            })
        }
    }

    #[derive(Clone, Debug)]
    pub struct GreeterClient {
        inner: tonic::client::Grpc<Channel>,
    }

    impl GreeterClient {
        pub fn new(channel: Channel) -> Self {
            GreeterClient {
                inner: tonic::client::Grpc::new(channel),
            }
        }

        pub async fn say_hello(
            &mut self,
            request: impl IntoRequest<HelloRequest>,
        ) -> Result<Response<HelloReply>, Status> {
            self.ready().await?;
            let path = PathAndQuery::from_static(SAY_HELLO);
            let codec = ProstCodec::default();
            self.inner.unary(request.into_request(), path, codec).await
        }

        pub async fn say_hello_stream(
            &mut self,
            request: impl IntoRequest<HelloRequest>,
        ) -> Result<Response<Streaming<HelloReply>>, Status> {
            self.ready().await?;
            let path = PathAndQuery::from_static(SAY_HELLO_STREAM);
            let codec = ProstCodec::default();
            let request = request.into_request();
            self.inner.server_streaming(request, path, codec).await
        }

        async fn ready(&mut self) -> Result<(), Status> {
            self.inner
                .ready()
                .await
                .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))
        }
    }
}

async fn say_hello(request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
    let name = request.into_inner().name;
    Ok(Response::new(HelloReply {
        message: format!("Hello {name}!"),
    }))
}

type ReplyStream = tokio_stream::Iter<std::vec::IntoIter<Result<HelloReply, Status>>>;

async fn say_hello_stream(request: Request<HelloRequest>) -> Result<Response<ReplyStream>, Status> {
    let name = request.into_inner().name;
    let replies: Vec<_> = (0..STREAM_LEN)
        .map(|i| {
            Ok(HelloReply {
                message: format!("Hello {name} #{i}!"),
            })
        })
        .collect();
    Ok(Response::new(tokio_stream::iter(replies)))
}

/// turmoil's `connector` module with sansnet's stream in it, plus what a real TCP asks of a
/// client: a retried dial and `TCP_NODELAY`.
mod connector {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use hyper_util::rt::TokioIo;
    use sansnet::net::TcpStream;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tonic::transport::server::{Connected, TcpConnectInfo};
    use tonic::transport::Uri;

    /// Dials the URI's `host:port` through the simulation's DNS. A dial that fails is
    /// retried with backoff, as a production client's reconnect policy would: at 10 %
    /// loss per link, three ARP requests in a row go unanswered often enough that a
    /// single attempt gives `EHOSTUNREACH` on some seeds, which is what Linux does too.
    /// `dials` counts every attempt, so a run can tell a reconnect from a recovery.
    #[derive(Clone, Debug, Default)]
    pub struct SimConnector {
        pub dials: Arc<AtomicU32>,
    }

    impl tower::Service<Uri> for SimConnector {
        type Response = TokioIo<SimStream>;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, uri: Uri) -> Self::Future {
            let dials = self.dials.clone();
            Box::pin(async move {
                let authority = uri.authority().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "URI without a host")
                })?;
                let mut backoff = Duration::from_millis(100);
                loop {
                    dials.fetch_add(1, Ordering::Relaxed);
                    match TcpStream::connect(authority.as_str()).await {
                        Ok(stream) => {
                            // As tonic's own connector does: gRPC frames are small and
                            // must not wait for the peer's delayed ACK.
                            stream.set_nodelay(true)?;
                            return Ok(TokioIo::new(SimStream(stream)));
                        }
                        Err(_) if backoff <= Duration::from_secs(2) => {
                            tokio::time::sleep(backoff).await;
                            backoff *= 2;
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
        }
    }

    /// `Connected` is tonic's trait and the stream sansnet's, so the orphan rule wants a
    /// local wrapper, exactly as with turmoil's stream.
    #[derive(Debug)]
    pub struct SimStream(pub TcpStream);

    impl Connected for SimStream {
        type ConnectInfo = TcpConnectInfo;

        fn connect_info(&self) -> TcpConnectInfo {
            TcpConnectInfo {
                local_addr: self.0.local_addr().ok(),
                remote_addr: self.0.peer_addr().ok(),
            }
        }
    }

    impl AsyncRead for SimStream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for SimStream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }
}

/// The server host's software: tonic's server, fed by a simulated listener.
async fn serve() -> TaskResult {
    let listener = net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    // tonic's own listener turns Nagle off on every connection; so does this one.
    let incoming = futures::stream::poll_fn(move |cx| {
        listener.poll_accept(cx).map(|accepted| {
            Some(accepted.and_then(|(stream, _)| {
                stream.set_nodelay(true)?;
                Ok(SimStream(stream))
            }))
        })
    });
    // hyper stamps every response with the wall clock's date unless it carries one; a
    // date that differs between two runs changes the HPACK-coded header's length, so the
    // frames, and with loss which frames are lost. The service sets a fixed one.
    Server::builder()
        .layer(tower::util::MapResponseLayer::new(
            |mut res: http::Response<tonic::body::Body>| {
                res.headers_mut().insert(
                    http::header::DATE,
                    http::HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
                );
                res
            },
        ))
        .add_service(GreeterServer)
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// tonic's transport errors print as "transport error"; the cause is in the chain.
fn with_causes(e: tonic::transport::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// What one client does, and what it saw.
struct Plan {
    names: Vec<String>,
    /// Between unary calls, so that a test can act on the network in between.
    pause: Duration,
    /// Each checked reply with the simulated time it arrived.
    log: Rc<RefCell<Vec<(String, Duration)>>>,
    connector: SimConnector,
}

/// Unary SayHello for every name, then one server stream for the first: every reply is
/// checked against what the server must have said.
async fn greet(plan: Plan) -> TaskResult {
    let start = tokio::time::Instant::now();
    let channel = Endpoint::from_static("http://server:9999")
        .connect_with_connector(plan.connector)
        .await
        .map_err(with_causes)?;
    let mut client = GreeterClient::new(channel);
    let record = |message: String| plan.log.borrow_mut().push((message, start.elapsed()));

    for (k, name) in plan.names.iter().enumerate() {
        if k > 0 {
            tokio::time::sleep(plan.pause).await;
        }
        let request = HelloRequest { name: name.clone() };
        let reply = client.say_hello(request).await?.into_inner();
        if reply.message != format!("Hello {name}!") {
            return Err(format!("wrong reply to {name}: {:?}", reply.message).into());
        }
        record(reply.message);
    }

    let name = &plan.names[0];
    let request = HelloRequest { name: name.clone() };
    let mut stream = client.say_hello_stream(request).await?.into_inner();
    let mut seen = 0;
    while let Some(reply) = stream.message().await? {
        if reply.message != format!("Hello {name} #{seen}!") {
            return Err(format!("wrong stream reply {seen}: {:?}", reply.message).into());
        }
        seen += 1;
        record(reply.message);
    }
    if seen != STREAM_LEN {
        return Err(format!("the stream ended after {seen} of {STREAM_LEN} replies").into());
    }
    Ok(())
}

/// A run's replies, and its clients' connection attempts.
struct Outcome {
    log: Rc<RefCell<Vec<(String, Duration)>>>,
    dials: Arc<AtomicU32>,
}

impl Outcome {
    fn replies(&self) -> usize {
        self.log.borrow().len()
    }

    fn dials(&self) -> u32 {
        self.dials.load(Ordering::Relaxed)
    }
}

/// Runs to the end, failing with the replay line (`SANSNET_SEED=...`) if anything failed.
fn run(sim: &mut Simulation, what: &str) {
    if let Err(e) = sim.run() {
        panic!("{what}: {e}");
    }
}

fn simulation(
    builder: &Builder,
    clients: usize,
    calls: usize,
    pause: Duration,
) -> (Simulation, Outcome) {
    let mut sim = builder.build();
    sim.host("server", serve);
    let outcome = Outcome {
        log: Rc::default(),
        dials: Arc::default(),
    };
    for c in 0..clients {
        let plan = Plan {
            names: (0..calls).map(|k| format!("client{c}-{k}")).collect(),
            pause,
            log: outcome.log.clone(),
            connector: SimConnector {
                dials: outcome.dials.clone(),
            },
        };
        sim.client(format!("client{c}"), greet(plan));
    }
    (sim, outcome)
}

/// What a sweep of seeds at one loss rate saw.
struct Sweep {
    replies: usize,
    /// Connection attempts beyond the one each client needs.
    redials: u32,
    /// Frames the links lost.
    lost: u64,
    longest: Duration,
    /// The first seed's, to check that it replays.
    first_trace: Option<TraceHash>,
}

const SWEEP_CLIENTS: usize = 3;
const SWEEP_CALLS: usize = 10;

/// Frame loss at `rate` on every link, each client making its calls and one stream.
fn lossy(rate: f64, seeds: std::ops::Range<u64>) -> Sweep {
    let mut sweep = Sweep {
        replies: 0,
        redials: 0,
        lost: 0,
        longest: Duration::ZERO,
        first_trace: None,
    };
    for seed in seeds {
        let (sim, outcome) = lossy_run(rate, seed);
        sweep.replies += outcome.replies();
        sweep.redials += outcome.dials() - SWEEP_CLIENTS as u32;
        sweep.longest = sweep.longest.max(sim.elapsed());
        let hosts = (0..SWEEP_CLIENTS).map(|c| format!("client{c}"));
        for host in hosts.chain(["server".to_owned()]) {
            let link = sim.host_link(&host);
            sweep.lost += sim.sim().link_counters(link, Direction::Both).lost;
        }
        sweep.first_trace.get_or_insert(sim.sim().trace_hash());
    }
    sweep
}

/// One seed of a sweep, every reply checked.
fn lossy_run(rate: f64, seed: u64) -> (Simulation, Outcome) {
    let mut builder = Builder::new();
    builder
        .rng_seed(seed)
        .fail_rate(rate)
        // After a lost handshake TCP's timer starts at 3 s and doubles with each loss of
        // the same segment: a bad seed at 10 % can outlast turmoil's default 10 s.
        .simulation_duration(Duration::from_secs(120));
    let (mut sim, outcome) = simulation(&builder, SWEEP_CLIENTS, SWEEP_CALLS, Duration::ZERO);
    run(&mut sim, &format!("fail_rate {rate}, seed {seed}"));
    let expected = SWEEP_CLIENTS * (SWEEP_CALLS + STREAM_LEN as usize);
    assert_eq!(outcome.replies(), expected, "fail_rate {rate}, seed {seed}");
    (sim, outcome)
}

/// Read once, outside every simulation, for the wall time the summary reports (the CI
/// budget for this example is 20 s in a debug build).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

fn main() {
    // turmoil's example sets up tracing with simulated time; sansnet ships that subscriber
    // (`RUST_LOG=debug` shows tonic, hyper and h2 at work, stamped with simulated time).
    sansnet::sim::log::init();
    let wall = wall_clock();

    // turmoil's example as it is: one client, one call (and here the stream after it).
    let (mut sim, plain) = simulation(&Builder::new(), 1, 1, Duration::ZERO);
    run(&mut sim, "the plain run");
    assert_eq!(plain.replies(), 1 + STREAM_LEN as usize);
    let plain_time = sim.elapsed();

    // A partition between the first and second call: the second request waits in TCP's
    // retransmission queue and is answered once the network heals, on the same connection.
    let (mut sim, cut) = simulation(&Builder::new(), 1, 2, Duration::from_millis(200));
    let step = |sim: &mut Simulation, d: Duration| {
        if let Err(e) = sim.run_for(d) {
            panic!("partition run: {e}");
        }
    };
    step(&mut sim, Duration::from_millis(100));
    assert_eq!(cut.replies(), 1, "answered before the cut");
    sim.partition("client0", "server");
    step(&mut sim, Duration::from_secs(2));
    assert_eq!(cut.replies(), 1, "nothing crosses the partition");
    sim.repair("client0", "server");
    run(&mut sim, "the partition run");
    assert_eq!(cut.replies(), 2 + STREAM_LEN as usize);
    let healed_at = cut.log.borrow()[1].1;
    assert!(healed_at > Duration::from_millis(2100), "{healed_at:?}");
    assert_eq!(cut.dials(), 1, "the channel never had to reconnect");

    let low = lossy(0.02, 0..20);
    let high = lossy(0.1, 0..20);
    // tonic, hyper and h2 run unmodified, so this also checks that nothing in them (hash
    // map order, their own randomness) leaks into what goes on the wire.
    let (again, _) = lossy_run(0.1, 0);
    assert_eq!(
        Some(again.sim().trace_hash()),
        high.first_trace,
        "seed 0 did not replay"
    );

    println!(
        "turmoil_grpc: plain 1 call + {STREAM_LEN}-reply stream in {plain_time:?} simulated; \
         2 s partition healed, held call answered at {healed_at:?} on its first connection; \
         fail_rate 0.02: 20 seeds, {} replies checked, {} frames lost, {} redials, longest {:?}; \
         fail_rate 0.1: 20 seeds, {} replies checked, {} frames lost, {} redials, longest {:?}, \
         seed 0 replayed; {:.1?} wall",
        low.replies,
        low.lost,
        low.redials,
        low.longest,
        high.replies,
        high.lost,
        high.redials,
        high.longest,
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
