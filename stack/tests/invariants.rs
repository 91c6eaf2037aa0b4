//! The invariant checks (feature `invariants`) trip on a corrupted state, naming the
//! invariant: each test corrupts one thing in an otherwise healthy connection (or calls with
//! time going back) and expects the panic of exactly that check. `cargo test --workspace`
//! has the feature on (the root crate's default features); alone, run
//! `cargo test -p sansnet-stack --features invariants --test invariants`.
#![cfg(feature = "invariants")]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::panic::{catch_unwind, AssertUnwindSafe};

use sansnet_stack::iface::{Host, HostConfig};
use sansnet_stack::tcp::{Config, Connection, Corruption, State};
use sansnet_stack::time::{Duration, Instant};

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

/// Two engines, connected, after a few bytes each way: every check passed on the way here.
struct Pair {
    a: Connection,
    b: Connection,
    now: Instant,
    buf: Vec<u8>,
}

impl Pair {
    fn established() -> Pair {
        let now = Instant::from_secs(1);
        let a = Connection::connect(now, Config::default(), A, B);
        let mut b = Connection::listen(now, Config::default(), B);
        b.set_remote(A);
        let mut p = Pair {
            a,
            b,
            now,
            buf: vec![0; 65536],
        };
        p.exchange();
        assert_eq!(
            (p.a.state(), p.b.state()),
            (State::Established, State::Established)
        );
        p.a.send(b"hello").unwrap();
        p.b.send(b"world").unwrap();
        p.exchange();
        let mut out = [0u8; 16];
        assert_eq!(p.b.recv(&mut out), Ok(5));
        assert_eq!(p.a.recv(&mut out), Ok(5));
        p.exchange();
        p
    }

    /// Delivers segments both ways, a millisecond per hop, until both are quiet.
    fn exchange(&mut self) {
        loop {
            self.now += Duration::from_millis(1);
            let mut moved = false;
            while let Some(seg) = self.a.poll_transmit(self.now, &mut self.buf) {
                self.b.handle_segment(self.now, &seg);
                moved = true;
            }
            while let Some(seg) = self.b.poll_transmit(self.now, &mut self.buf) {
                self.a.handle_segment(self.now, &seg);
                moved = true;
            }
            while self.a.poll_event().is_some() || self.b.poll_event().is_some() {}
            if !moved {
                return;
            }
        }
    }
}

/// Runs `f` and expects the panic of the invariant `name`.
#[track_caller]
fn trips(name: &str, f: impl FnOnce()) {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("no invariant tripped");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a panic message");
    let prefix = format!("invariant violated: {name}: ");
    assert!(
        msg.starts_with(&prefix),
        "expected `{prefix}...`, got `{msg}`"
    );
}

fn corrupted(c: Corruption, name: &str) {
    let mut p = Pair::established();
    // Healthy: the same call passes before the corruption.
    p.a.handle_timeout(p.now);
    p.a.corrupt_for_test(c);
    let now = p.now;
    trips(name, || p.a.handle_timeout(now));
}

#[test]
fn snd_nxt_beyond_snd_max() {
    corrupted(
        Corruption::SndNxtBeyondSndMax,
        "SND.UNA <= SND.NXT <= SND.MAX",
    );
}

#[test]
fn rcv_nxt_moving_backwards() {
    corrupted(Corruption::RcvNxtBackwards, "RCV.NXT never moves backwards");
}

#[test]
fn retransmission_timer_with_nothing_outstanding() {
    corrupted(
        Corruption::RetransmitTimerWithoutData,
        "retransmission timer armed iff SYN, data or FIN outstanding",
    );
}

#[test]
fn sack_block_beyond_snd_max() {
    corrupted(
        Corruption::SackBlockBeyondSndMax,
        "SACK blocks lie within SND.UNA..SND.MAX",
    );
}

#[test]
fn send_buffer_over_its_bound() {
    corrupted(
        Corruption::SendBufferOverBound,
        "send buffer within its bound",
    );
}

#[test]
fn delayed_ack_timer_without_a_delayed_ack() {
    corrupted(
        Corruption::DelayedAckTimerWithoutAck,
        "the delayed-ACK timer only with an ACK delayed",
    );
}

/// Every public call checks, including those without a `now` (at the last one seen).
#[test]
fn calls_without_now_check_too() {
    let mut p = Pair::established();
    p.a.corrupt_for_test(Corruption::SndNxtBeyondSndMax);
    trips("SND.UNA <= SND.NXT <= SND.MAX", || p.a.set_nagle(false));
}

#[test]
fn time_going_back_is_the_callers_bug() {
    let mut p = Pair::established();
    let earlier = Instant::from_nanos(p.now.as_nanos() - 1_000_000);
    trips("monotonic now", || p.a.handle_timeout(earlier));
}

#[test]
fn a_host_called_back_in_time_panics() {
    let mut host = Host::new(HostConfig::default());
    host.handle_timeout(Instant::from_secs(2));
    host.handle_timeout(Instant::from_secs(2));
    trips("monotonic now", || {
        host.handle_timeout(Instant::from_secs(1))
    });
}
