//! Services that read the wall clock or OS randomness: caught by `Builder::test`'s second run
//! (with the reads counted), and replaying exactly once `Builder::intercept(true)` has the
//! simulation answer them. This test binary links `sansnet-intercept` (the `intercept`
//! feature), as a user's does when they turn it on.
#![allow(clippy::disallowed_methods)] // the services under test read the clock on purpose

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pretty_assertions::assert_eq;
use sansnet::{net, Builder, Simulation, TestError};
use sansnet_sim::intercept;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server that answers one connection with what `reply()` makes, and a client that reads
/// it all and hands it to `check`.
fn serve_once(sim: &mut Simulation, reply: fn() -> Vec<u8>, check: fn(&[u8])) {
    sim.host("server", move || async move {
        let listener = net::TcpListener::bind(("0.0.0.0", 80)).await?;
        let (mut conn, _) = listener.accept().await?;
        conn.write_all(&reply()).await?;
        conn.shutdown().await?;
        Ok(())
    });
    sim.client("client", async move {
        let mut conn = net::TcpStream::connect("server:80").await?;
        let mut body = Vec::new();
        conn.read_to_end(&mut body).await?;
        check(&body);
        Ok(())
    });
}

fn wall_clock_ns() -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_nanos().to_string().into_bytes()
}

fn hash_map_order() -> Vec<u8> {
    let map: HashMap<u32, ()> = (0..32).map(|k| (k, ())).collect();
    map.keys()
        .map(|k| format!("{k},"))
        .collect::<String>()
        .into_bytes()
}

fn random_id() -> Vec<u8> {
    format!("id={:016x}", rand::random::<u64>()).into_bytes()
}

fn anything(_: &[u8]) {}

fn failure(result: Result<sansnet::TestRun, TestError>) -> String {
    match result {
        Err(e @ TestError::Nondeterministic { .. }) => e.to_string(),
        other => panic!("expected a nondeterminism failure, got {other:?}"),
    }
}

fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn interposition_is_in_effect_in_this_binary() {
    assert!(intercept::installed());
}

#[test]
fn a_wall_clock_leak_is_caught_and_the_reads_counted() {
    let text = failure(Builder::new().test(|sim| serve_once(sim, wall_clock_ns, anything)));
    assert_contains(
        &text,
        &[
            "the run read the wall clock 1 time and asked the OS for randomness",
            "frame bytes differ first at offset",
        ],
    );
}

#[test]
fn hash_map_order_and_rand_leaks_are_caught() {
    for reply in [hash_map_order, random_id] {
        let text = failure(Builder::new().test(|sim| serve_once(sim, reply, anything)));
        assert_contains(&text, &["frame bytes differ first at offset"]);
    }
}

#[test]
fn intercepted_the_wall_clock_is_the_simulation_clock() {
    fn check(body: &[u8]) {
        let sent_ns: u64 = String::from_utf8_lossy(body).parse().expect("a number");
        let now_ns = sansnet::elapsed().as_nanos() as u64;
        let epoch = intercept::EPOCH_UNIX_NS;
        assert!(
            (epoch..=epoch + now_ns).contains(&sent_ns),
            "the server's clock read {sent_ns}, not 2030-01-01 plus at most {now_ns} ns"
        );
    }
    let run = Builder::new()
        .intercept(true)
        .test(|sim| serve_once(sim, wall_clock_ns, check))
        .unwrap();
    assert_eq!(run.runs, 2);
}

#[test]
fn intercepted_the_clock_hash_maps_and_rand_replay() {
    for reply in [wall_clock_ns, hash_map_order, random_id] {
        let run = Builder::new()
            .intercept(true)
            .test(|sim| serve_once(sim, reply, anything))
            .unwrap();
        assert_eq!(run.runs, 2);
    }
}

#[test]
fn another_seed_draws_other_randomness() {
    let hash = |seed| {
        Builder::new()
            .rng_seed(seed)
            .intercept(true)
            .check_determinism(false)
            .test(|sim| serve_once(sim, random_id, anything))
            .unwrap()
            .hash
    };
    assert_ne!(hash(1), hash(2));
}

/// hyper's server stamps each response with a `Date` from the wall clock (cached per
/// second); intercepted, it is the simulation's date and the run replays.
#[test]
fn hyper_with_its_default_date_header_replays_when_intercepted() {
    fn setup(sim: &mut Simulation) {
        sim.host("server", || async {
            let listener = net::TcpListener::bind(("0.0.0.0", 80)).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                tokio::spawn(async move {
                    let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"hello"),
                        )))
                    });
                    http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                });
            }
        });
        sim.client("client", async {
            let stream = net::TcpStream::connect("server:80").await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut dates = Vec::new();
            for _ in 0..3 {
                let request = Request::get("/")
                    .header(header::HOST, "server")
                    .body(Empty::<Bytes>::new())?;
                let response = sender.send_request(request).await?;
                let date = response.headers().get(header::DATE).cloned();
                dates.push(date.expect("hyper sends a Date").to_str()?.to_owned());
                assert_eq!(response.into_body().collect().await?.to_bytes(), "hello");
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            }
            assert_eq!(
                dates,
                [
                    "Tue, 01 Jan 2030 00:00:00 GMT",
                    "Tue, 01 Jan 2030 00:00:01 GMT",
                    "Tue, 01 Jan 2030 00:00:03 GMT"
                ]
            );
            Ok(())
        });
    }
    let run = Builder::new().intercept(true).test(setup).unwrap();
    assert_eq!(run.runs, 2);
}
