//! A failing run's artefacts: `capture.pcapng` holds every link of the network, one
//! interface each named after its link, byte-identical on a second run; `capture.pcap`
//! still holds the first link; and the `sansnet replay` command writes the same kind of
//! capture for a switched network, which Wireshark (`tshark`) reads without complaint
//! (skipped without tshark, unless `SANSNET_REQUIRE_TSHARK=1`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pretty_assertions::assert_eq;
use sansnet::explore;
use sansnet::scenario::{self, RunSpec, Shape};
use sansnet_sim::{pcap, pcapng, testing};

mod scratch;
use scratch::Scratch;

const SWITCHED: Shape = Shape::Switched { client_hosts: 3 };

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> Scratch {
    Scratch::new("artefacts", name)
}

/// request-response on `shape` over a clean network, stopped at 100 ms: long before the
/// workload can finish, so the run fails for want of progress, as a sweep's failures do.
fn cut_short(shape: Shape) -> RunSpec {
    let sc = scenario::lookup("request-response").expect("built in");
    let workload = sc.default_workload();
    let names = sc.topology(&workload, &shape);
    RunSpec {
        scenario: "request-response".to_owned(),
        seed: 3,
        profile: "ideal".to_owned(),
        plan: sansnet::scenarios::required_plan("request-response", &names),
        workload,
        topology: shape,
        heal_at_ms: 100,
        progress_bound_ms: 0,
        fcs_check: true,
        planted: None,
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Packets per interface, by interface name.
fn per_interface(file: &pcapng::Pcapng) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> = file
        .interfaces
        .iter()
        .map(|i| (i.name.clone().unwrap_or_default(), 0))
        .collect();
    for p in &file.packets {
        let name = file.interfaces[p.interface]
            .name
            .clone()
            .unwrap_or_default();
        *counts.entry(name).or_default() += 1;
    }
    counts
}

#[test]
fn a_switched_failure_captures_every_link_as_one_interface() {
    let spec = cut_short(SWITCHED);
    let dir = scratch("switched");
    let (outcome, replay) = explore::write_artefacts(&spec, &dir).unwrap();
    assert!(outcome.result.is_err(), "{:?}", outcome.result);
    assert!(replay.is_some_and(|r| r.exists()));
    let file = pcapng::read(&read(&dir, "capture.pcapng")).unwrap();
    let names: Vec<String> = file
        .interfaces
        .iter()
        .map(|i| i.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, SWITCHED.topology().links);
    assert_eq!(names.len(), 4);
    assert!(file
        .interfaces
        .iter()
        .all(|i| i.link_type == 1 && i.tsresol == 9));
    // Every link carried frames (each client's ARP and SYN, the server's answers), in
    // simulated-time order, none later than the stop.
    let counts = per_interface(&file);
    assert!(counts.values().all(|&n| n > 0), "{counts:?}");
    assert!(file.packets.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(file.packets.iter().all(|p| p.at <= outcome.sim_time));
    // The classic pcap is still there, and is the first link's interface frame for frame.
    let first_link: Vec<(sansnet_sim::Instant, Vec<u8>)> = pcap::read(&read(&dir, "capture.pcap"))
        .unwrap()
        .into_iter()
        .map(|r| (r.at, r.data))
        .collect();
    let interface_zero: Vec<(sansnet_sim::Instant, Vec<u8>)> = file
        .packets
        .iter()
        .filter(|p| p.interface == 0)
        .map(|p| (p.at, p.data.clone()))
        .collect();
    assert_eq!(interface_zero, first_link);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_capture_of_a_rerun_is_byte_identical() {
    let spec = cut_short(Shape::Routed {
        client_hosts: 2,
        routers: 2,
    });
    let (one, two) = (scratch("rerun-1"), scratch("rerun-2"));
    explore::write_artefacts(&spec, &one).unwrap();
    explore::write_artefacts(&spec, &two).unwrap();
    let (first, second) = (read(&one, "capture.pcapng"), read(&two, "capture.pcapng"));
    assert!(
        first == second,
        "two runs of one spec wrote different captures"
    );
    let file = pcapng::read(&first).unwrap();
    assert_eq!(file.interfaces.len(), spec.topology.topology().links.len());
    let _ = std::fs::remove_dir_all(&one);
    let _ = std::fs::remove_dir_all(&two);
}

#[test]
fn sansnet_replay_writes_a_pcapng_of_every_link_that_tshark_reads() {
    let out = scratch("cli");
    let run = Command::new(env!("CARGO_BIN_EXE_sansnet"))
        .args([
            "replay",
            "--scenario",
            "request-response",
            "--seed",
            "5",
            "--topology",
            "switched:2",
            "--profile",
            "lan",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    let dir = out.join("replay-request-response-5");
    let capture = dir.join("capture.pcapng");
    assert!(capture.exists(), "{text}");
    let file = pcapng::read(&std::fs::read(&capture).unwrap()).unwrap();
    let names: Vec<String> = file
        .interfaces
        .iter()
        .map(|i| i.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, Shape::Switched { client_hosts: 2 }.topology().links);
    let counts = per_interface(&file);
    assert!(counts.values().all(|&n| n > 0), "{counts:?}");
    if testing::tshark_available() {
        let tshark = |args: &[&str]| {
            let o = Command::new("tshark")
                .args(["-n", "-r"])
                .arg(&capture)
                .args(args)
                .output()
                .unwrap();
            let all = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "tshark {args:?}: {all}");
            (String::from_utf8_lossy(&o.stdout).into_owned(), all)
        };
        let (_, expert) = tshark(&["-z", "expert", "-q"]);
        assert!(!expert.contains("Malformed"), "{expert}");
        assert!(!expert.to_lowercase().contains("error"), "{expert}");
        let (names, _) = tshark(&["-T", "fields", "-e", "frame.interface_name"]);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for n in names.lines() {
            *seen.entry(n.to_owned()).or_default() += 1;
        }
        assert_eq!(seen, counts);
    }
    let _ = std::fs::remove_dir_all(&out);
}
