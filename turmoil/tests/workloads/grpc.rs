//! turmoil's gRPC example: tonic's Greeter, its server on one host and clients reaching
//! `http://server:9999` by name through a connector, as turmoil's example has it. Each
//! client makes `CALLS` unary calls, then one server-streaming call of `STREAM_LEN`
//! replies; every reply is checked.

use std::time::Duration;

use tonic::{Request, Response, Status};

use super::{Shared, Tally, Tcp, REQUEST_TIMEOUT};

pub const PORT: u16 = 9999;
pub const CLIENTS: u64 = 3;
pub const CALLS: u64 = 10;
/// Replies in one `SayHelloStream` call.
pub const STREAM_LEN: u64 = 20;

/// What tonic-build generates from turmoil's `helloworld.proto`, written out because this
/// workspace has no `protoc`.
pub mod proto {
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

use proto::{HelloReply, HelloRequest};

/// The Greeter service and client in the shape tonic-build gives them, minus the trait
/// indirection.
pub mod greeter {
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
            self.inner
                .unary(request.into_request(), path, ProstCodec::default())
                .await
        }

        pub async fn say_hello_stream(
            &mut self,
            request: impl IntoRequest<HelloRequest>,
        ) -> Result<Response<Streaming<HelloReply>>, Status> {
            self.ready().await?;
            let path = PathAndQuery::from_static(SAY_HELLO_STREAM);
            self.inner
                .server_streaming(request.into_request(), path, ProstCodec::default())
                .await
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

macro_rules! grpc_over {
    ($name:ident, $($net:ident)::+) => {
        pub mod $name {
            use std::future::Future;
            use std::io;
            use std::pin::Pin;
            use std::sync::atomic::{AtomicU64, Ordering};
            use std::sync::Arc;
            use std::task::{Context, Poll};

            use hyper_util::rt::TokioIo;
            use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
            use tonic::transport::server::{Connected, TcpConnectInfo};
            use tonic::transport::{Endpoint, Server, Uri};
            use $($net)::+::{TcpListener, TcpStream};

            use super::greeter::{GreeterClient, GreeterServer};
            use super::*;

            /// turmoil's `connector` module: dials the URI's authority by name, retrying
            /// a failed dial with backoff (each retry counted in `redials`), and turns
            /// Nagle off as tonic's own connector does.
            #[derive(Clone, Debug, Default)]
            pub struct Connector {
                pub redials: Arc<AtomicU64>,
            }

            impl tower::Service<Uri> for Connector {
                type Response = TokioIo<SimStream>;
                type Error = io::Error;
                type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

                fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                    Poll::Ready(Ok(()))
                }

                fn call(&mut self, uri: Uri) -> Self::Future {
                    let redials = self.redials.clone();
                    Box::pin(async move {
                        let authority = uri.authority().ok_or_else(|| {
                            io::Error::new(io::ErrorKind::InvalidInput, "URI without a host")
                        })?;
                        let mut backoff = Duration::from_millis(100);
                        loop {
                            match TcpStream::connect(authority.as_str()).await {
                                Ok(stream) => {
                                    stream.set_nodelay(true)?;
                                    return Ok(TokioIo::new(SimStream(stream)));
                                }
                                Err(_) if backoff <= Duration::from_secs(2) => {
                                    redials.fetch_add(1, Ordering::Relaxed);
                                    tokio::time::sleep(backoff).await;
                                    backoff *= 2;
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    })
                }
            }

            /// `Connected` is tonic's trait and the stream another crate's: a local wrapper.
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

                fn poll_shutdown(
                    mut self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                ) -> Poll<io::Result<()>> {
                    Pin::new(&mut self.0).poll_shutdown(cx)
                }
            }

            /// turmoil's example server: tonic fed by the listener's connections. hyper
            /// stamps responses with the wall clock's date unless one is set; a fixed one
            /// keeps the frames the same from run to run.
            pub async fn server() -> turmoil::Result {
                let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
                let incoming = futures::stream::unfold(listener, |listener| async move {
                    let accepted = listener.accept().await.and_then(|(stream, _)| {
                        stream.set_nodelay(true)?;
                        Ok(SimStream(stream))
                    });
                    Some((accepted, listener))
                });
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

            /// `CALLS` unary calls and one stream, each reply checked; stops at the first
            /// call that fails or does not answer within the timeout.
            pub async fn client(c: u64, tally: Shared) -> turmoil::Result {
                let connector = Connector::default();
                let redials = connector.redials.clone();
                let outcome = calls(c, &tally, connector).await;
                tally.borrow_mut().redials += redials.load(Ordering::Relaxed);
                outcome
            }

            async fn calls(c: u64, tally: &Shared, connector: Connector) -> turmoil::Result {
                tally.borrow_mut().requested += CALLS + STREAM_LEN;
                let endpoint = Endpoint::from_static("http://server:9999");
                let connect = endpoint.connect_with_connector(connector);
                let channel = match tokio::time::timeout(REQUEST_TIMEOUT, connect).await {
                    Ok(Ok(channel)) => channel,
                    _ => {
                        tally.borrow_mut().failed += 1;
                        return Ok(());
                    }
                };
                let mut client = GreeterClient::new(channel);
                let record = |reply: &str| {
                    let mut t = tally.borrow_mut();
                    t.completed += 1;
                    t.bytes_checked += reply.len() as u64;
                };
                for k in 0..CALLS {
                    let name = format!("client{c}-{k}");
                    let request = HelloRequest { name: name.clone() };
                    let call = client.say_hello(request);
                    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
                        Ok(Ok(reply)) => {
                            let reply = reply.into_inner().message;
                            if reply != format!("Hello {name}!") {
                                return Err(format!("wrong reply to {name}: {reply:?}").into());
                            }
                            record(&reply);
                        }
                        _ => {
                            tally.borrow_mut().failed += 1;
                            return Ok(());
                        }
                    }
                }
                let name = format!("client{c}");
                let request = HelloRequest { name: name.clone() };
                let streamed = async {
                    let mut stream = client.say_hello_stream(request).await?.into_inner();
                    let mut seen = 0;
                    while let Some(reply) = stream.message().await? {
                        if reply.message != format!("Hello {name} #{seen}!") {
                            return Err(Status::data_loss(format!(
                                "wrong stream reply {seen}: {:?}",
                                reply.message
                            )));
                        }
                        seen += 1;
                        record(&reply.message);
                    }
                    Ok(seen)
                };
                match tokio::time::timeout(REQUEST_TIMEOUT, streamed).await {
                    Ok(Ok(STREAM_LEN)) => Ok(()),
                    Ok(Err(status)) if status.code() == tonic::Code::DataLoss => {
                        Err(status.message().to_owned().into())
                    }
                    _ => {
                        tally.borrow_mut().failed += 1;
                        Ok(())
                    }
                }
            }
        }
    };
}

grpc_over!(bridged, sansnet_turmoil::net);
grpc_over!(plain, turmoil::net);

/// Puts the server and `CLIENTS` clients on `sim`, over `tcp`.
pub fn install(sim: &mut turmoil::Sim<'_>, tcp: Tcp, tally: &Shared) {
    match tcp {
        Tcp::Bridged => sim.host("server", bridged::server),
        Tcp::Plain => sim.host("server", plain::server),
    }
    for c in 0..CLIENTS {
        let tally = tally.clone();
        match tcp {
            Tcp::Bridged => sim.client(format!("client{c}"), bridged::client(c, tally)),
            Tcp::Plain => sim.client(format!("client{c}"), plain::client(c, tally)),
        }
    }
}

/// Every reply `CLIENTS` clients get.
pub fn expected() -> Tally {
    let mut bytes = 0;
    for c in 0..CLIENTS {
        for k in 0..CALLS {
            bytes += format!("Hello client{c}-{k}!").len() as u64;
        }
        for i in 0..STREAM_LEN {
            bytes += format!("Hello client{c} #{i}!").len() as u64;
        }
    }
    Tally {
        requested: CLIENTS * (CALLS + STREAM_LEN),
        completed: CLIENTS * (CALLS + STREAM_LEN),
        bytes_checked: bytes,
        failed: 0,
        redials: 0,
    }
}
