//! turmoil's free functions, for code running inside the simulation: how much simulated
//! time has passed, and the network verbs of [`Simulation`](crate::Simulation) by host
//! name, callable from a task (a test client that cuts the network in the middle of what
//! it does, as turmoil's examples do).
//!
//! Each acts on the simulation of the calling task. The queries answer `None` outside one;
//! the verbs panic there and on an unknown name, as turmoil's do: both are mistakes in the
//! test, not conditions of the network.

use sansnet_stack::time::{Duration, Instant};

use crate::exec;
use crate::fault::FaultChange;
use crate::world::NodeId;

/// Simulated time since the start of the run, from inside it; `None` outside a simulation.
pub fn sim_elapsed() -> Option<Duration> {
    exec::try_current().map(|(world, _)| world.borrow().now - Instant::ZERO)
}

/// Simulated time since the start of the run. Panics outside a simulation.
pub fn elapsed() -> Duration {
    sim_elapsed().expect("sansnet: elapsed() called outside a simulation")
}

fn nodes(a: &str, b: &str) -> (NodeId, NodeId) {
    let (world, _) = exec::current();
    let w = world.borrow();
    let node = |name: &str| {
        w.node_by_name(name)
            .unwrap_or_else(|e| panic!("sansnet: {e}"))
    };
    (node(a), node(b))
}

fn partition_between(a: &str, b: &str, two_way: bool) {
    let change = FaultChange::Partition {
        from: vec![a.to_owned()],
        to: vec![b.to_owned()],
        two_way,
    };
    let (world, _) = exec::current();
    let mut w = world.borrow_mut();
    w.validate_change(&change)
        .unwrap_or_else(|e| panic!("sansnet: {e}"));
    w.apply_change(&change);
}

/// Drops every frame between hosts `a` and `b`, both ways, until [`repair`].
pub fn partition(a: &str, b: &str) {
    partition_between(a, b, true);
}

/// Drops every frame from `from` to `to`, until [`repair_oneway`] or [`repair`].
pub fn partition_oneway(from: &str, to: &str) {
    partition_between(from, to, false);
}

/// Ends a partition between `a` and `b`, both ways.
pub fn repair(a: &str, b: &str) {
    let (a, b) = nodes(a, b);
    let (world, _) = exec::current();
    let mut w = world.borrow_mut();
    w.unblock(a, b);
    w.unblock(b, a);
}

/// Ends a one-way partition from `from` to `to`.
pub fn repair_oneway(from: &str, to: &str) {
    let (from, to) = nodes(from, to);
    let (world, _) = exec::current();
    world.borrow_mut().unblock(from, to);
}

/// Holds every frame between `a` and `b`, both ways, until [`release`]: none is lost.
pub fn hold(a: &str, b: &str) {
    let (a, b) = nodes(a, b);
    let (world, _) = exec::current();
    world.borrow_mut().hold(a, b);
}

/// Ends a [`hold`]: what was held between `a` and `b` arrives now, in order.
pub fn release(a: &str, b: &str) {
    let (a, b) = nodes(a, b);
    let (world, _) = exec::current();
    world.borrow_mut().release(a, b);
}
