//! Running a workload twice and naming where the runs first differ: the hash covers every
//! frame's bytes, a leak of outside state into a payload is caught, and the report names the
//! record, the frame and the byte.

use std::cell::Cell;
use std::rc::Rc;

use pretty_assertions::assert_eq;
use sansnet_sim::divergence::{check, DivergenceAt};
use sansnet_sim::net::{TcpListener, TcpStream};
use sansnet_sim::{Builder, TraceHash};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 9000;

/// A server that answers each 8-byte request with `reply(request number)` (32 bytes), and a
/// client that sends `requests` of them. `reply` is where a test leaks outside state.
fn request_reply(requests: u32, reply: impl Fn(u32) -> [u8; 32] + 'static) -> TraceHash {
    let mut sim = Builder::new().rng_seed(11).build();
    let reply = Rc::new(reply);
    sim.host("server", move || {
        let reply = reply.clone();
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (mut conn, _) = listener.accept().await?;
            let mut req = [0u8; 8];
            for i in 0..requests {
                conn.read_exact(&mut req).await?;
                conn.write_all(&reply(i)).await?;
            }
            Ok(())
        }
    });
    sim.client("client", async move {
        let mut conn = TcpStream::connect(("server", PORT)).await?;
        let mut buf = [0u8; 32];
        for i in 0..requests {
            conn.write_all(&u64::from(i).to_be_bytes()).await?;
            conn.read_exact(&mut buf).await?;
        }
        Ok(())
    });
    sim.run().unwrap();
    let hash = sim.sim().trace_hash();
    drop(sim);
    hash
}

/// A reply that reads like a header: `n=` and the request number, then `v=` and `value`.
fn text_reply(i: u32, value: u64) -> [u8; 32] {
    let mut out = [b' '; 32];
    let text = format!("n={i:06} v={value:012}");
    out[..text.len()].copy_from_slice(text.as_bytes());
    out
}

#[test]
fn identical_runs_have_no_divergence() {
    let checked = check(|| request_reply(50, |i| text_reply(i, 7)));
    assert!(checked.traced, "the simulation's trace was seen");
    assert_eq!(checked.divergence, None);
    assert_eq!(checked.first, checked.second);
}

#[test]
fn the_hash_covers_payload_bytes_not_only_lengths() {
    let a = request_reply(5, |i| text_reply(i, 1));
    let b = request_reply(5, |i| text_reply(i, 2));
    assert_ne!(a, b, "same lengths, same events, one byte differs");
}

/// A leak that changes on every run (as a wall clock does), seen late in a long run: the
/// report names the record, the frame (decoded) and the first differing byte.
#[test]
fn a_leak_is_named_down_to_the_byte() {
    let runs = Rc::new(Cell::new(0u64));
    let checked = check(|| {
        runs.set(runs.get() + 1);
        let run = runs.get();
        request_reply(400, move |i| text_reply(i, if i == 390 { run } else { 0 }))
    });
    assert_eq!(runs.get(), 3, "two runs, and a third to see the difference");
    let d = checked.divergence.expect("the runs differ");
    let DivergenceAt::Record { a, b, byte } = &d.at else {
        panic!("located only roughly: {d}");
    };
    let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
    assert!(
        a.index > 1024,
        "past the first checkpoint: record {}",
        a.index
    );
    assert_eq!(a.index, b.index);
    let byte = byte.expect("two frames");
    // The third run is compared with the second: the value's last digit, 3 against 2.
    assert_eq!((byte.a, byte.b), (Some(b'3'), Some(b'2')));
    let text = d.to_string();
    for needle in [
        "first difference at trace record",
        "\"ev\":\"sent\"",
        "\"node\":\"server\"",
        "TCP 9000 >",
        "frame bytes differ first at offset",
        "0x33 vs 0x32",
        "n=000390 v=000000000003",
        "n=000390 v=000000000002",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

/// A leak that shows in one run only: the third run agrees with the second, so only the
/// stretch of records is named.
#[test]
fn a_leak_seen_once_is_located_to_a_stretch() {
    let runs = Rc::new(Cell::new(0u64));
    let checked = check(|| {
        runs.set(runs.get() + 1);
        let leak = u64::from(runs.get() == 1);
        request_reply(20, move |i| text_reply(i, leak))
    });
    let d = checked.divergence.expect("the runs differ");
    let DivergenceAt::Stretch { from, to, .. } = d.at else {
        panic!("expected a stretch: {d}");
    };
    assert!(from < to);
    assert!(d.to_string().contains("did not differ there"), "{d}");
}

#[test]
fn a_different_number_of_records_is_a_divergence_too() {
    let runs = Rc::new(Cell::new(0u32));
    let checked = check(|| {
        runs.set(runs.get() + 1);
        request_reply(10 + runs.get(), |i| text_reply(i, 0))
    });
    let d = checked.divergence.expect("the runs differ");
    assert_ne!(d.first.records, d.second.records);
    assert!(matches!(d.at, DivergenceAt::Record { .. }), "{d}");
}

#[test]
fn without_a_simulation_nothing_is_traced() {
    let checked = check(|| 5);
    assert!(!checked.traced);
    assert_eq!(checked.divergence, None);
}
