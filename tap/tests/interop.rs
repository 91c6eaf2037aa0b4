//! sansnet against the Linux kernel's TCP over a TAP device: 10 MiB each way, sansnet as
//! client and as server, at 0, 1 and 5 % loss injected on sansnet's side, every byte
//! checked by its receiver and the XXH3-64 of both ends compared; and the lab (namespace and
//! device) gone after every run, failed and interrupted ones included.
//!
//! Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), /dev/net/tun and `ip`. Without them the
//! tests fail, saying what is missing, unless `SANSNET_SKIP_TAP=1` is set: then each prints
//! a skip note and passes, knowingly.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sansnet_tap::{Error, Mode, Report, RunSpec};

const TEN_MIB: u64 = 10 << 20;

/// Whether a lab can be built; fails the test when it cannot, unless skipping was asked for.
fn lab_available(test: &str) -> bool {
    match sansnet_tap::check_privileges() {
        Ok(_) => true,
        Err(e) if std::env::var("SANSNET_SKIP_TAP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED {test} (SANSNET_SKIP_TAP=1): {e}");
            false
        }
        Err(e) => panic!(
            "{test} cannot run here: {e}\n\
             run it as root (CAP_NET_ADMIN and CAP_SYS_ADMIN), or set SANSNET_SKIP_TAP=1 to \
             skip the TAP tests knowingly"
        ),
    }
}

/// The namespace and the device of a finished run are gone: the namespace from
/// `/run/netns`, the device from every namespace (a TAP device is not handed back to the
/// machine's namespace when its own goes).
fn assert_lab_gone(netns: &str, device: &str) {
    assert!(
        !Path::new("/run/netns").join(netns).exists(),
        "namespace {netns} left behind"
    );
    assert!(
        !Path::new("/sys/class/net").join(device).exists(),
        "device {device} left behind"
    );
}

fn transfer(mode: Mode, loss: f64, seed: u64) -> Report {
    let mut spec = RunSpec::new(mode, TEN_MIB).with_loss(loss);
    spec.seed = seed;
    spec.timeout = Duration::from_secs(45);
    let report = sansnet_tap::run(&spec, None)
        .unwrap_or_else(|e| panic!("{mode} at {loss}% loss (seed {seed}): {e}"));
    eprintln!("{report}");
    assert!(report.checked);
    assert!(report.bytes_ok(), "{report}");
    assert_eq!(report.sansnet_sent.bytes, TEN_MIB);
    assert_eq!(report.kernel_received.bytes, TEN_MIB);
    assert_eq!(report.kernel_sent.bytes, TEN_MIB);
    assert_eq!(report.sansnet_received.bytes, TEN_MIB);
    assert_eq!(report.sansnet_sent, report.kernel_received);
    assert_eq!(report.kernel_sent, report.sansnet_received);
    if mode == Mode::Echo {
        assert_eq!(
            report.sansnet_sent, report.kernel_sent,
            "an echo sends back its stream"
        );
    } else {
        assert_ne!(
            report.sansnet_sent.xxh3, report.kernel_sent.xxh3,
            "two different streams"
        );
    }
    assert_eq!(report.connections, 1);
    let l = report.loss;
    if loss == 0.0 {
        assert_eq!(l.in_dropped + l.out_dropped, 0);
    } else {
        // About loss% of each direction's frames were dropped, and both TCPs recovered.
        for (dropped, passed) in [(l.in_dropped, l.in_passed), (l.out_dropped, l.out_passed)] {
            let got = dropped as f64 * 100.0 / (dropped + passed) as f64;
            assert!(
                (got - loss).abs() < loss / 2.0 + 0.5,
                "{got:.2}% dropped for {loss}%"
            );
        }
        assert!(report.observed.retransmitted_segments > 0, "{report}");
        assert!(report.kernel.retransmitted_segments > 0, "{report}");
    }
    assert_lab_gone(&report.netns, &report.device);
    report
}

#[test]
fn sansnet_client_no_loss() {
    if lab_available("sansnet_client_no_loss") {
        transfer(Mode::Client, 0.0, 1);
    }
}

#[test]
fn sansnet_client_1_percent_loss() {
    if lab_available("sansnet_client_1_percent_loss") {
        transfer(Mode::Client, 1.0, 2);
    }
}

#[test]
fn sansnet_client_5_percent_loss() {
    if lab_available("sansnet_client_5_percent_loss") {
        transfer(Mode::Client, 5.0, 3);
    }
}

/// An echo server: its window fills whenever it cannot send back as fast as the kernel
/// sends (the case of issue 15's right-edge ACKs).
#[test]
fn sansnet_server_no_loss() {
    if lab_available("sansnet_server_no_loss") {
        transfer(Mode::Echo, 0.0, 4);
    }
}

#[test]
fn sansnet_server_1_percent_loss() {
    if lab_available("sansnet_server_1_percent_loss") {
        transfer(Mode::Echo, 1.0, 5);
    }
}

#[test]
fn sansnet_server_5_percent_loss() {
    if lab_available("sansnet_server_5_percent_loss") {
        transfer(Mode::Echo, 5.0, 6);
    }
}

/// A server sending and receiving two independent streams at once.
#[test]
fn sansnet_sink_server_5_percent_loss() {
    if lab_available("sansnet_sink_server_5_percent_loss") {
        transfer(Mode::Sink, 5.0, 7);
    }
}

/// A run that fails (its time limit is far too short) says why, and leaves nothing behind.
#[test]
fn a_failed_run_takes_its_lab_down() {
    if !lab_available("a_failed_run_takes_its_lab_down") {
        return;
    }
    let mut spec = RunSpec::new(Mode::Client, TEN_MIB).with_loss(50.0);
    spec.timeout = Duration::from_millis(300);
    let mut lab = None;
    let result = sansnet_tap::run_with(&spec, None, |info| {
        assert!(Path::new("/run/netns").join(&info.netns).exists());
        lab = Some((info.netns.clone(), info.device.clone()));
    });
    match result {
        Err(Error::Timeout { progress, .. }) => assert!(progress.contains("sansnet"), "{progress}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let (netns, device) = lab.expect("the lab was up");
    assert_lab_gone(&netns, &device);
}

/// Cancelling (what Ctrl-C does in the command) stops the run and takes the lab down.
#[test]
fn an_interrupted_run_takes_its_lab_down() {
    if !lab_available("an_interrupted_run_takes_its_lab_down") {
        return;
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let mut lab = None;
    let result = sansnet_tap::run_with(
        &RunSpec::new(Mode::Sink, TEN_MIB),
        Some(Arc::clone(&cancel)),
        |info| {
            lab = Some((info.netns.clone(), info.device.clone()));
            cancel.store(true, Ordering::SeqCst);
        },
    );
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    let (netns, device) = lab.expect("the lab was up");
    assert_lab_gone(&netns, &device);
}

#[cfg(target_os = "linux")]
/// A server for an external peer: a client from the namespace (here a std::net socket on a
/// thread that entered it through /run/netns) is echoed, counted, and the server reports
/// when its time is up.
#[test]
fn an_external_peer_is_served() {
    if !lab_available("an_external_peer_is_served") {
        return;
    }
    let mut spec = RunSpec::new(Mode::Echo, 0);
    spec.external_peer = true;
    spec.serve_for = Some(Duration::from_secs(3));
    let mut client = None;
    let report = sansnet_tap::run_with(&spec, None, |info| {
        let netns = info.netns.clone();
        let server = info.server;
        client = Some(std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
            use std::io::{Read, Write};
            let ns = std::fs::File::open(Path::new("/run/netns").join(&netns))?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            let mut s =
                std::net::TcpStream::connect_timeout(&server.into(), Duration::from_secs(2))?;
            s.write_all(b"hello over TAP")?;
            s.shutdown(std::net::Shutdown::Write)?;
            let mut back = Vec::new();
            s.read_to_end(&mut back)?;
            Ok(back)
        }));
    })
    .expect("the server runs");
    let back = client
        .expect("started")
        .join()
        .expect("no panic")
        .expect("echoed");
    assert_eq!(back, b"hello over TAP");
    assert!(!report.checked);
    assert_eq!(report.connections, 1);
    assert_eq!(report.sansnet_received.bytes, 14);
    assert_eq!(report.sansnet_sent.bytes, 14);
    assert_lab_gone(&report.netns, &report.device);
}
