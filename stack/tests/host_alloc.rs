//! What a host does again and again allocates nothing once it has done it once: the
//! allocations are counted around the second round of a repeated workload.

mod host_support;

use std::alloc::System;
use std::net::{Ipv4Addr, SocketAddrV4};

use host_support::*;
use pretty_assertions::assert_eq;
use sansnet_stack::frame::SharedFrame;
use sansnet_stack::time::Duration;
use sansnet_stack::wire::ipv4::IpProtocol;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

/// Counts process-wide, so this binary holds one test: no other test's allocations can
/// land in a count.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations and reallocations so far, process-wide.
fn allocations() -> usize {
    let s = GLOBAL.stats();
    s.allocations + s.reallocations
}

/// Packets in a burst: more than the 32 spare buffers a host keeps at least.
const BURST: usize = 100;

/// The router of `routed` forwards `frames` (all arriving at one instant, as a rack of
/// clients answering at once) and sends them all; returns how many frames left it.
fn forward_burst(net: &mut Net, frames: &[SharedFrame], out: &mut [u8]) -> usize {
    let now = net.now;
    let r = net.h(1);
    for f in frames {
        r.handle_frame_shared(now, 0, f);
    }
    let mut sent = 0;
    while r.poll_transmit(now, out).is_some() {
        sent += 1;
    }
    sent
}

#[test]
fn a_router_forwards_a_second_burst_without_allocating() {
    let mut net = routed(1500);
    let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5);
    let data = udp_bytes(a, SocketAddrV4::new(B, 5), &[7; 1000]);
    let pkt = ip_repr(*a.ip(), B, IpProtocol::UDP, data.len());
    let frame = ip_frame(mac(1, 0), mac(3, 0), &pkt, &data);
    // One packet first, so that the router knows b's address.
    let now = net.now;
    net.h(1).handle_frame(now, 0, &frame);
    net.run_for(Duration::from_millis(10));
    let forwarded = net.h(1).counters().ip.forwarded;
    assert!(forwarded >= 1, "the first packet went through");

    let frames: Vec<SharedFrame> = (0..BURST)
        .map(|_| SharedFrame::new(frame.clone()))
        .collect();
    let mut out = vec![0u8; 1600];
    assert_eq!(forward_burst(&mut net, &frames, &mut out), BURST);
    let before = allocations();
    assert_eq!(forward_burst(&mut net, &frames, &mut out), BURST);
    // With a fixed pool of 32, each packet past the 32nd was a buffer allocated and
    // freed again: 68 allocations a burst.
    assert_eq!(
        allocations() - before,
        0,
        "allocations for the second burst"
    );
    assert_eq!(
        net.h(1).counters().ip.forwarded,
        forwarded + 2 * BURST as u64
    );
}
