//! The tables of tasks waiting on the simulated world: on a node, on one readiness key (a
//! socket) of a node, and on a simulated-time deadline. The world fills and wakes them;
//! they live here, with the executor, because what a wake-up means is the executor's
//! business (which task runs next, which host's tokio runtime must be driven).

use std::collections::BTreeMap;
use std::sync::Weak;
use std::task::Waker;

use sansnet_stack::iface::fxhash::FxBuildHasher;

use super::TaskWaker;
use crate::world::NodeId;

/// Emptied waiter lists kept for reuse: at least this many, and
/// [`SPARE_WAITER_LISTS_PER_NODE`] per node that had key waiters.
const SPARE_WAITER_LISTS: usize = 256;

/// Spare waiter lists kept per node with key waiters. A fixed 256 was too few for a world
/// of thousands of hosts whose sockets are woken at one instant: the lists past 256 were
/// freed there and allocated again at the next waits: a wait list grown ten times per
/// client at 3,000 clients against two at 100, now two at both (`cargo bench -p
/// sansnet-sim --bench rpc`, callgrind's call counts), on a heap whose free lists had gone
/// cold.
const SPARE_WAITER_LISTS_PER_NODE: usize = 2;

/// One waiting task.
///
/// A task of sansnet's executor waiting with its own waker is held weakly: the executor
/// then knows that every strong reference to a task's waker beyond its own is held by
/// something else (a tokio timer, a channel), which is how it tells a host whose tasks
/// only wait on the network from one that must follow tokio's clock (see
/// `Executor::is_ticking`).
pub(crate) enum Waiter {
    Task(Weak<TaskWaker>),
    /// Any other waker; `drive` names the runtime slot to drive after waking it (a waker
    /// of a tokio task only queues the task in its runtime, which someone must then run).
    Other {
        waker: Waker,
        drive: Option<usize>,
    },
}

impl Waiter {
    fn wakes_same(&self, other: &Waiter) -> bool {
        match (self, other) {
            (Waiter::Task(a), Waiter::Task(b)) => a.ptr_eq(b),
            (Waiter::Other { waker: a, .. }, Waiter::Other { waker: b, .. }) => a.will_wake(b),
            _ => false,
        }
    }

    /// Wakes the task from inside a task or a drive, telling the world which runtime to
    /// drive if any.
    pub(crate) fn wake_in_world(self) {
        let mut to_drive = Vec::new();
        self.wake(&mut to_drive);
        if !to_drive.is_empty() {
            if let Some((world, _)) = super::try_current() {
                if let Ok(mut w) = world.try_borrow_mut() {
                    w.waits.to_drive.append(&mut to_drive);
                }
            }
        }
    }

    /// Wakes the task; a runtime slot to drive is pushed to `to_drive`.
    pub(crate) fn wake(self, to_drive: &mut Vec<usize>) {
        match self {
            Waiter::Task(task) => {
                if let Some(task) = task.upgrade() {
                    task.wake_task();
                }
            }
            Waiter::Other { waker, drive } => {
                waker.wake();
                if let Some(slot) = drive {
                    to_drive.push(slot);
                }
            }
        }
    }
}

/// The tasks waiting on each readiness key of one node, looked up by key only (see
/// `wake_all_keys` for the one walk over it).
type KeyWaiters = hashbrown::HashMap<u64, Vec<Waiter>, FxBuildHasher>;

/// Every wait of every task on the world.
#[derive(Default)]
pub(crate) struct Waits {
    /// Tasks sleeping until a deadline, by key (the event queue holds the deadline).
    timers: BTreeMap<u64, Waiter>,
    next_timer_key: u64,
    /// Tasks waiting for anything on a node to change, by node.
    /// (Indexed by node: every socket call and frame looks here, so no tree walk.)
    node: Vec<Vec<Waiter>>,
    /// Tasks waiting for one key (a socket) on a node to change, by node.
    key: Vec<KeyWaiters>,
    /// Emptied waiter lists, reused so that waiting allocates nothing in a steady run.
    spare: Vec<Vec<Waiter>>,
    /// Runtime slots whose tokio tasks were woken and must be driven.
    pub(crate) to_drive: Vec<usize>,
}

/// Adds `waiter` to a wait list unless it (or one that wakes the same task) is there already.
fn add(waiters: &mut Vec<Waiter>, waiter: Waiter) {
    if !waiters.iter().any(|w| w.wakes_same(&waiter)) {
        waiters.push(waiter);
    }
}

impl Waits {
    /// A new timer key for a task sleeping until a deadline that the caller queues.
    pub(crate) fn add_timer(&mut self, waiter: Waiter) -> u64 {
        self.next_timer_key += 1;
        let key = self.next_timer_key;
        self.timers.insert(key, waiter);
        key
    }

    pub(crate) fn update_timer(&mut self, key: u64, waiter: Waiter) {
        if let Some(w) = self.timers.get_mut(&key) {
            if !w.wakes_same(&waiter) {
                *w = waiter;
            }
        }
    }

    pub(crate) fn cancel_timer(&mut self, key: u64) {
        self.timers.remove(&key);
    }

    pub(crate) fn fire_timer(&mut self, key: u64) {
        if let Some(w) = self.timers.remove(&key) {
            w.wake(&mut self.to_drive);
        }
    }

    pub(crate) fn on_node(&mut self, node: NodeId, waiter: Waiter) {
        if self.node.len() <= node.0 {
            self.node.resize_with(node.0 + 1, Vec::new);
        }
        add(&mut self.node[node.0], waiter);
    }

    pub(crate) fn on_key(&mut self, node: NodeId, key: u64, waiter: Waiter) {
        if self.key.len() <= node.0 {
            self.key.resize_with(node.0 + 1, || {
                KeyWaiters::with_hasher(FxBuildHasher::with_seed(0))
            });
        }
        let spare = &mut self.spare;
        let waiters = self.key[node.0]
            .entry(key)
            .or_insert_with(|| spare.pop().unwrap_or_default());
        add(waiters, waiter);
    }

    /// Wakes the waiters of each key in `keys`, in that order.
    pub(crate) fn wake_keys(&mut self, node: NodeId, keys: &[u64]) {
        let spare_bound = SPARE_WAITER_LISTS.max(SPARE_WAITER_LISTS_PER_NODE * self.key.len());
        let Some(map) = self.key.get_mut(node.0) else {
            return;
        };
        if map.is_empty() {
            return;
        }
        for key in keys {
            if let Some(mut waiters) = map.remove(key) {
                for w in waiters.drain(..) {
                    w.wake(&mut self.to_drive);
                }
                if self.spare.len() < spare_bound {
                    self.spare.push(waiters);
                }
            }
        }
    }

    /// Wakes every key waiter of `node`, by key (a crash, or an endpoint that does not
    /// track readiness).
    pub(crate) fn wake_all_keys(&mut self, node: NodeId) {
        let Some(map) = self.key.get_mut(node.0) else {
            return;
        };
        // By key, not in the table's order: wake order is task order.
        let mut all: Vec<(u64, Vec<Waiter>)> = map.drain().collect();
        all.sort_unstable_by_key(|(key, _)| *key);
        for (_, waiters) in all {
            for w in waiters {
                w.wake(&mut self.to_drive);
            }
        }
    }

    pub(crate) fn wake_node(&mut self, node: NodeId) {
        let Some(waiters) = self.node.get_mut(node.0) else {
            return;
        };
        // Wakers are queued, not run, so waking cannot re-enter this list; the list keeps
        // its allocation for the next waits.
        for w in waiters.drain(..) {
            w.wake(&mut self.to_drive);
        }
    }
}
