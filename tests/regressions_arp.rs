//! Failing runs found outside the project, kept as regression tests (see
//! `tests/regressions.rs` for the others): each replay file in `tests/regressions/` (as
//! recorded, names kept) is run again through the library and must now pass. The host-level
//! tests of the neighbour re-probe are in `stack/tests/host_nud.rs`.

use std::path::PathBuf;

use sansnet::explore::ReplayFile;
use sansnet::scenario::{self, RunOptions};

/// Replays `tests/regressions/<name>` and asserts that every invariant holds; on failure,
/// prints the hosts' `ss` tables and counters at the end of the run.
fn replay_passes(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(name);
    let file = ReplayFile::load(&path).unwrap();
    let outcome = scenario::run_with(
        &file.spec,
        RunOptions {
            collect_tables: true,
            ..RunOptions::default()
        },
    );
    assert!(
        outcome.result.is_ok(),
        "{name}: {:?} (recorded: {:?})\n{}",
        outcome.result,
        file.failure,
        outcome.tables.join("\n")
    );
}

// switched:3, end-host FCS checks off. Two copies of the server's ARP reply reached client0
// at one instant (duplication on the server's link); the second had a bit flipped in the
// sender's MAC address on the last hop. ARP has no checksum, so client0 cached an address
// nobody has and sent its ACKs and data into the void; the only way out was the cache
// timeout (60 s), and the progress deadline came first. Now the cache is validated (RFC 1122
// section 2.3.2.1, as Linux's neighbour unreachability detection does it): an entry that TCP
// progress has not confirmed within the reachable time is probed by unicast requests, then
// asked for by broadcast. In this run the server's own entry for client0, learned from a
// request (STALE) and never confirmed (client0's frames did not reach it), is probed first:
// its unicast request reaches client0 and corrects client0's entry on the way (RFC 826's
// merge), and the run completes at about 30 s.
#[test]
fn switched_arp_poisoned_min() {
    replay_passes("many-clients-2823-switched-arp-poisoned.min.json");
}

// The same run before shrinking: 20 clients, 3 exchanges, faults on every link.
#[test]
fn switched_arp_poisoned() {
    replay_passes("many-clients-2823-switched-arp-poisoned.json");
}

// 1000 clients on one client host, no faults. The client host's ARP queue (64 packets)
// dropped 936 first SYNs, retried together at 1 s; that part is what Linux does too (its
// 200 KB per neighbour hold about 160 to 200 SYNs) and costs one SYN retransmission. The
// failure was the listener's backlog of 128: a thousand handshakes completing at one
// instant met a full accept queue, and the clients retransmitted in lockstep on backed-off
// timers, 128 admitted per burst, 168 unserved at the deadline. The many-clients server now
// listens with a backlog sized to its clients (`backlog_for` in src/scenarios.rs), as a
// server configured for that load would; the run completes at about 5 s.
#[test]
fn thousand_clients_no_faults_min() {
    replay_passes("many-clients-1000c-41-no-faults.min.json");
}

// The same run before shrinking: 10 exchanges each, with faults.
#[test]
fn thousand_clients_no_faults() {
    replay_passes("many-clients-1000c-41-no-faults.json");
}
