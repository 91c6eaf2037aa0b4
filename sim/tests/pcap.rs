//! pcap export: written with virtual timestamps, read back, and (when tshark is installed;
//! always under `SANSNET_REQUIRE_TSHARK=1`) dissected by Wireshark without a single
//! malformed packet.

use std::process::Command;

use pretty_assertions::assert_eq;
use sansnet_sim::pcap::{self, SharedBuffer};
use sansnet_sim::scripted::{udp_frame, Scripted};
use sansnet_sim::{testing, Duration, Instant, LinkFaults, Seed, Sim};

fn udp_exchange() -> (SharedBuffer, SharedBuffer, Vec<Vec<u8>>) {
    let mut sim = Sim::new(Seed(40));
    let (ma, mb) = (
        sansnet_sim::naming::mac_for("a", 0),
        sansnet_sim::naming::mac_for("b", 0),
    );
    let (ia, ib) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let mut a = Scripted::new();
    let mut sent = Vec::new();
    for i in 0..20u16 {
        let f = udp_frame(
            ma,
            mb,
            ia,
            ib,
            40000 + i,
            7,
            i,
            format!("hello {i}").as_bytes(),
        );
        a.push_send(
            Instant::from_micros(1_000 + 250 * u64::from(i)),
            0,
            f.clone(),
        );
        sent.push(f);
    }
    let na = sim.add_node("a", 1, a);
    let nb = sim.add_node("b", 1, Scripted::echo());
    let link = sim.connect(
        sim.nic(na, 0),
        sim.nic(nb, 0),
        LinkFaults::with_latency(Duration::from_micros(1_500)),
    );
    let (nic_cap, link_cap) = (SharedBuffer::new(), SharedBuffer::new());
    sim.capture_nic(sim.nic(nb, 0), nic_cap.clone()).unwrap();
    sim.capture_link(link, link_cap.clone()).unwrap();
    sim.run_until_idle().unwrap();
    sim.flush().unwrap();
    (nic_cap, link_cap, sent)
}

#[test]
fn a_nic_capture_reads_back_with_virtual_nanosecond_timestamps() {
    let (nic_cap, link_cap, sent) = udp_exchange();
    let records = pcap::read(&nic_cap.contents()).unwrap();
    // b's NIC sees each request arrive and its echo leave, at the same instant.
    assert_eq!(records.len(), 40);
    assert_eq!(records[0].at, Instant::from_micros(2_500));
    assert_eq!(records[0].data, sent[0]);
    assert_eq!(records[1].at, Instant::from_micros(2_500));
    assert_eq!(records[39].at, Instant::from_micros(2_500 + 19 * 250));
    // The link capture holds both directions as they leave the link: at arrival times.
    let link_records = pcap::read(&link_cap.contents()).unwrap();
    assert_eq!(link_records.len(), 40);
    assert_eq!(link_records[0].at, Instant::from_micros(2_500));
}

#[test]
fn tshark_dissects_the_capture_without_malformed_packets() {
    if !testing::tshark_available() {
        return;
    }
    let (nic_cap, _, _) = udp_exchange();
    let path = std::env::temp_dir().join(format!("sansnet-sim-pcap-{}.pcap", std::process::id()));
    std::fs::write(&path, nic_cap.contents()).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(["-z", "expert", "-q"])
        .output()
        .unwrap();
    let listing = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {text}");
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.to_lowercase().contains("error"), "{text}");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(listing.lines().count(), 40, "{listing}");
    assert!(listing.contains("10.0.0.1"), "{listing}");
}
