//! Issue 12: 200 HTTP/1.1 requests over 4 keep-alive connections (hyper 1.x on both ends,
//! 4 KiB bodies checked byte for byte), on turmoil 0.7.2 and on sansnet, in the same run:
//! wall time, median of 5, and the ratio. turmoil runs on its clean network (its TCP has no
//! retransmission, so any loss hangs it); sansnet runs clean and with 2% loss and 2%
//! reordering on every link.
// A benchmark measures wall-clock time; the simulators never read it.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant as WallInstant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const CONNECTIONS: usize = 4;
const REQUESTS_PER_CONNECTION: usize = 50;
const BODY: usize = 4096;
const PORT: u16 = 80;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of request `k` on connection `c`: every byte depends on both.
fn body(c: usize, k: usize) -> Vec<u8> {
    (0..BODY).map(|i| (i * 31 + c * 7 + k) as u8).collect()
}

/// Echoes the request body back.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let bytes = req.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(bytes)))
}

/// Serves one accepted connection, whatever the simulator's stream type.
async fn serve<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(echo))
        .await;
}

/// One client connection's requests, each body checked on its way back.
async fn client<S>(stream: S, c: usize) -> Result<(), BoxError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    for k in 0..REQUESTS_PER_CONNECTION {
        let sent = body(c, k);
        let req = Request::post("/echo")
            .header("host", "server")
            .body(Full::new(Bytes::from(sent.clone())))?;
        let got = sender
            .send_request(req)
            .await?
            .into_body()
            .collect()
            .await?;
        assert_eq!(
            got.to_bytes().as_ref(),
            &sent[..],
            "connection {c}, request {k}"
        );
    }
    Ok(())
}

fn turmoil_run(seed: u64) -> f64 {
    let start = WallInstant::now();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(600))
        .build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream));
        }
    });
    for c in 0..CONNECTIONS {
        sim.client(format!("client{c}"), async move {
            let stream = turmoil::net::TcpStream::connect(("server", PORT)).await?;
            // turmoil's results are `Box<dyn Error>`, without `Send + Sync`.
            client(stream, c)
                .await
                .map_err(|e| e as Box<dyn std::error::Error>)
        });
    }
    sim.run().unwrap();
    start.elapsed().as_secs_f64()
}

fn sansnet_run(seed: u64, faulty: bool) -> f64 {
    use sansnet::sim::net;
    let start = WallInstant::now();
    let mut builder = sansnet::sim::Builder::new();
    builder
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(600));
    if faulty {
        builder.fail_rate(0.02).reorder_rate(0.02);
    }
    let mut sim = builder.build();
    sim.host("server", || async {
        let listener = net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream));
        }
    });
    for c in 0..CONNECTIONS {
        sim.client(format!("client{c}"), async move {
            let stream = net::TcpStream::connect(("server", PORT)).await?;
            client(stream, c).await
        });
    }
    sim.run().unwrap();
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this with `--test`: one quick pass each, no figures.
    let rounds = if std::env::args().any(|a| a == "--test") {
        1
    } else {
        5
    };
    let (mut turmoil, mut clean, mut lossy) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        let seed = 100 + round as u64;
        turmoil.push(turmoil_run(seed));
        clean.push(sansnet_run(seed, false));
        lossy.push(sansnet_run(seed, true));
    }
    let (t, c, l) = (median(turmoil), median(clean), median(lossy));
    println!(
        "hyper/200 requests over 4 keep-alive connections (median of {rounds}): turmoil \
         {:.1} ms; sansnet {:.1} ms clean ({:.2}x turmoil's speed), {:.1} ms with 2% loss \
         and 2% reordering ({:.2}x)",
        t * 1e3,
        c * 1e3,
        t / c,
        l * 1e3,
        t / l
    );
}
