//! `Builder::test` runs a simulation twice and fails, naming the bytes, when something from
//! outside the simulation (the wall clock, hash-map order, a global counter) reaches what a
//! host sends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sansnet_sim::net::{TcpListener, TcpStream};
use sansnet_sim::{Builder, Simulation, TestError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server that sends what `reply()` makes to the first connection, then closes; a client
/// that reads it to the end.
fn serve_once(sim: &mut Simulation, reply: fn() -> Vec<u8>) {
    sim.host("server", move || async move {
        let listener = TcpListener::bind(("0.0.0.0", 80)).await?;
        let (mut conn, _) = listener.accept().await?;
        conn.write_all(&reply()).await?;
        conn.shutdown().await?;
        Ok(())
    });
    sim.client("client", async {
        let mut conn = TcpStream::connect("server:80").await?;
        let mut body = Vec::new();
        conn.read_to_end(&mut body).await?;
        Ok(())
    });
}

fn nondeterministic(result: Result<sansnet_sim::TestRun, TestError>) -> String {
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
fn a_clean_simulation_runs_twice_and_passes() {
    let run = Builder::new()
        .rng_seed(5)
        .test(|sim| serve_once(sim, || b"the same every time".to_vec()))
        .unwrap();
    assert_eq!(run.runs, 2);
    let mut once = Builder::new().rng_seed(5).build();
    serve_once(&mut once, || b"the same every time".to_vec());
    once.run().unwrap();
    assert_eq!(run.hash, once.sim().trace_hash());
}

#[test]
fn the_wall_clock_in_a_payload_is_caught() {
    #[allow(clippy::disallowed_methods)] // the leak under test
    fn date() -> Vec<u8> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!("date: {}", now.as_nanos()).into_bytes()
    }
    let text = nondeterministic(Builder::new().test(|sim| serve_once(sim, date)));
    assert_contains(
        &text,
        &[
            "nondeterministic: seed 0x0 does not replay",
            "the wall clock",
            "first difference at trace record",
            "\"node\":\"server\"",
            "TCP 80 >",
            "frame bytes differ first at offset",
            "date: ",
        ],
    );
}

#[test]
fn hash_map_order_in_a_payload_is_caught() {
    fn keys() -> Vec<u8> {
        let map: HashMap<u32, ()> = (0..32).map(|k| (k, ())).collect();
        map.keys()
            .map(|k| format!("{k},"))
            .collect::<String>()
            .into_bytes()
    }
    let text = nondeterministic(Builder::new().test(|sim| serve_once(sim, keys)));
    assert_contains(&text, &["frame bytes differ first at offset"]);
}

#[test]
fn a_global_counter_is_caught_and_the_differing_bytes_named() {
    static COUNTER: AtomicU64 = AtomicU64::new(100);
    fn counter() -> Vec<u8> {
        format!("request id {}", COUNTER.fetch_add(1, Ordering::Relaxed)).into_bytes()
    }
    let text = nondeterministic(Builder::new().test(|sim| serve_once(sim, counter)));
    // The second and third runs are compared: ids 101 and 102.
    assert_contains(&text, &["request id 102", "request id 101", "0x32 vs 0x31"]);
}

#[test]
fn the_check_can_be_turned_off() {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let run = Builder::new()
        .check_determinism(false)
        .test(|sim| {
            RUNS.fetch_add(1, Ordering::Relaxed);
            serve_once(sim, || b"x".to_vec())
        })
        .unwrap();
    assert_eq!((run.runs, RUNS.load(Ordering::Relaxed)), (1, 1));
}

#[test]
fn a_failing_run_is_reported_once_and_not_rerun() {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let result = Builder::new().test(|sim| {
        RUNS.fetch_add(1, Ordering::Relaxed);
        sim.client("client", async {
            TcpStream::connect("nobody:80").await?;
            Ok(())
        });
    });
    assert!(matches!(result, Err(TestError::Run(_))), "{result:?}");
    assert_eq!(RUNS.load(Ordering::Relaxed), 1);
}

#[test]
fn each_run_is_on_a_thread_named_as_the_test() {
    Builder::new()
        .test(|sim| {
            assert_eq!(
                std::thread::current().name(),
                Some("each_run_is_on_a_thread_named_as_the_test")
            );
            serve_once(sim, || b"x".to_vec());
        })
        .unwrap();
}
