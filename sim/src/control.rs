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
use crate::world::{NodeId, World};

/// Simulated time since the start of the run, from inside it; `None` outside a simulation.
pub fn sim_elapsed() -> Option<Duration> {
    exec::try_current().map(|(world, _)| world.borrow().now - Instant::ZERO)
}

/// Simulated time since the start of the run. Panics outside a simulation.
pub fn elapsed() -> Duration {
    sim_elapsed().expect("sansnet: elapsed() called outside a simulation")
}

/// Runs `f` on the calling task's world with the nodes named `a` and `b`.
fn on_pair(a: &str, b: &str, f: impl FnOnce(&mut World, NodeId, NodeId)) {
    let (world, _) = exec::current();
    let mut w = world.borrow_mut();
    let node = |name: &str| {
        w.node_by_name(name)
            .unwrap_or_else(|e| panic!("sansnet: {e}"))
    };
    let (a, b) = (node(a), node(b));
    f(&mut w, a, b);
}

/// Drops every frame between hosts `a` and `b`, both ways, until [`repair`].
pub fn partition(a: &str, b: &str) {
    on_pair(a, b, |w, a, b| w.partition_pair(a, b, true));
}

/// Drops every frame from `from` to `to`, until [`repair_oneway`] or [`repair`].
pub fn partition_oneway(from: &str, to: &str) {
    on_pair(from, to, |w, a, b| w.partition_pair(a, b, false));
}

/// Ends a partition between `a` and `b`, both ways.
pub fn repair(a: &str, b: &str) {
    on_pair(a, b, |w, a, b| w.repair_pair(a, b, true));
}

/// Ends a one-way partition from `from` to `to`.
pub fn repair_oneway(from: &str, to: &str) {
    on_pair(from, to, |w, a, b| w.repair_pair(a, b, false));
}

/// Holds every frame between `a` and `b`, both ways, until [`release`]: none is lost.
pub fn hold(a: &str, b: &str) {
    on_pair(a, b, World::hold);
}

/// Ends a [`hold`]: what was held between `a` and `b` arrives now, in order.
pub fn release(a: &str, b: &str) {
    on_pair(a, b, World::release);
}
