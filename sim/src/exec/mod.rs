//! A deterministic single-threaded executor for application tasks, with tokio inside every
//! simulated host, and the simulated-time functions tasks use (`now`, `sleep`, `timeout`,
//! `spawn`).
//!
//! Two kinds of task run here, and both see the host they run on:
//! - sansnet's own tasks (`Sim::spawn_on`, [`spawn`], the host software of the builder),
//!   polled by this executor in the order they were woken (a FIFO of task ids; a task woken
//!   twice before it runs is queued once), each poll inside its host's tokio runtime;
//! - tokio's tasks, which those tasks (or the libraries they call) start with
//!   `tokio::spawn` or `spawn_local`: they live in the host's runtime (`runtime.rs`) and
//!   run when the executor *drives* it.
//!
//! Nothing here reads a clock or starts a thread: time is the simulator's, and tokio's
//! paused clock in each host is moved to it before anything in the host runs. A task
//! waits for simulated time through a timer event in the one event queue ([`sleep`],
//! nanosecond precision) or through tokio's timers (millisecond ticks, see `runtime.rs`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use sansnet_stack::time::{Duration, Instant};

use crate::endpoint::Endpoint;
use crate::world::{NodeId, World};

mod runtime;
mod waits;

use runtime::{DriveRequests, HostRuntime};
pub(crate) use waits::{Waiter, Waits};

/// A task not yet handed to the executor.
pub(crate) struct NewTask {
    pub(crate) name: String,
    pub(crate) node: Option<NodeId>,
    pub(crate) future: Pin<Box<dyn Future<Output = ()>>>,
}

/// Tasks to poll, in wake order, as (slot, id) (see [`Tasks`]). Wakers must be
/// `Send + Sync`, hence the lock, although a simulation runs on one thread; `len` lets the
/// loop ask "anything ready?" after every event without taking it.
struct Ready {
    queue: Mutex<VecDeque<(usize, u64)>>,
    len: AtomicUsize,
}

type ReadyQueue = Arc<Ready>;

pub(crate) struct TaskWaker {
    id: u64,
    slot: usize,
    ready: ReadyQueue,
    queued: AtomicBool,
}

impl TaskWaker {
    pub(crate) fn wake_task(&self) {
        if !self.queued.swap(true, Ordering::SeqCst) {
            // A poisoned lock can only come from a panic while pushing; the queue is intact.
            let mut q = self.ready.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.push_back((self.slot, self.id));
            self.ready.len.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_task();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_task();
    }
}

struct TaskSlot {
    /// Spawn order, from 1: which task a slot holds, and the order tasks are dropped in.
    id: u64,
    name: String,
    node: Option<NodeId>,
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<TaskWaker>,
    /// Something besides the executor holds the task's waker (a tokio timer or channel):
    /// its host must follow tokio's tick grid while this lasts.
    foreign: bool,
}

/// A task panicked: the run is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPanic {
    /// The task's name.
    pub task: String,
    /// The node it ran on, if any.
    pub node: Option<String>,
    /// The panic message.
    pub message: String,
}

impl fmt::Display for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(
                f,
                "task {:?} on {node} panicked: {}",
                self.task, self.message
            ),
            None => write!(f, "task {:?} panicked: {}", self.task, self.message),
        }
    }
}

/// A task's error, boxed as turmoil's host and client results are, and `Send + Sync` as
/// tower's `BoxError` and most of tokio's ecosystem return it, so that `?` works on both
/// `std::io::Error` and the errors of hyper, tonic and tower.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What host software or a client returns: `Err` fails the run.
pub type TaskResult = Result<(), BoxError>;

/// A task returned an error: the run is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name.
    pub task: String,
    /// The node it ran on, if any.
    pub node: Option<String>,
    /// The error, as it displays.
    pub error: String,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "task {:?} on {node} failed: {}", self.task, self.error),
            None => write!(f, "task {:?} failed: {}", self.task, self.error),
        }
    }
}

/// Why running tasks stopped the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TaskError {
    Panicked(TaskPanic),
    Failed(TaskFailure),
}

/// Host software: called at start and again after every restart, for a fresh future.
pub(crate) type Software = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = TaskResult>>>>;

/// Polls and drives per `run_ready` call: a task that wakes itself forever cannot hang a
/// step; the simulator's step limit ends the run instead.
const MAX_POLLS_PER_RUN: usize = 10_000;

/// The runtime slot of a node: 0 for tasks on no node, `n + 1` for node `n`.
fn slot_of(node: Option<NodeId>) -> usize {
    node.map_or(0, |n| n.0 + 1)
}

fn node_of(slot: usize) -> Option<NodeId> {
    slot.checked_sub(1).map(NodeId)
}

/// The live tasks, in slots reused last-freed first (deterministic), so that polling one
/// costs an index where a tree of thousands of tasks cost a walk through cold nodes. A
/// slot's task is known by its id: a wake-up for a task that has finished finds another
/// id (or nothing) there.
#[derive(Default)]
struct Tasks {
    slots: Vec<Option<TaskSlot>>,
    free: Vec<usize>,
    len: usize,
}

impl Tasks {
    fn insert(&mut self, make: impl FnOnce(usize) -> TaskSlot) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.slots[slot] = Some(make(slot));
        self.len += 1;
    }

    fn get_mut(&mut self, slot: usize, id: u64) -> Option<&mut TaskSlot> {
        self.slots.get_mut(slot)?.as_mut().filter(|t| t.id == id)
    }

    fn remove(&mut self, slot: usize, id: u64) -> Option<TaskSlot> {
        let cell = self.slots.get_mut(slot)?;
        if cell.as_ref().is_none_or(|t| t.id != id) {
            return None;
        }
        self.free.push(slot);
        self.len -= 1;
        cell.take()
    }
}

pub(crate) struct Executor {
    tasks: Tasks,
    ready: ReadyQueue,
    next_id: u64,
    /// The tokio runtime of each slot (see [`slot_of`]), made when its first task runs.
    runtimes: Vec<Option<HostRuntime>>,
    /// Per slot: sansnet tasks whose waker something else holds.
    foreign: Vec<u32>,
    /// The next tick of every ticking slot, and per slot the tick it has there.
    ticks: BTreeSet<(Instant, usize)>,
    tick_at: Vec<Option<Instant>>,
    /// Slots to drive, in request order, each queued once.
    to_drive: VecDeque<usize>,
    drive_queued: Vec<bool>,
    requests: Arc<DriveRequests>,
    scratch: Vec<usize>,
    seed: u64,
    /// Each node's software, started again after every restart.
    software: BTreeMap<NodeId, (String, Software)>,
    /// Tasks that returned an error since the executor last looked.
    failed: Rc<RefCell<Vec<Failed>>>,
}

/// A task's error as its wrapper records it: task name, node, error text.
type Failed = (String, Option<NodeId>, String);

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("tasks", &self.tasks.len)
            .field("runtimes", &self.runtimes.iter().flatten().count())
            .field("ticking", &self.ticks.len())
            .finish()
    }
}

impl Executor {
    pub(crate) fn new(seed: u64) -> Executor {
        Executor {
            tasks: Tasks::default(),
            ready: Arc::new(Ready {
                queue: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }),
            next_id: 0,
            runtimes: Vec::new(),
            foreign: Vec::new(),
            ticks: BTreeSet::new(),
            tick_at: Vec::new(),
            to_drive: VecDeque::new(),
            drive_queued: Vec::new(),
            requests: Arc::new(DriveRequests::default()),
            scratch: Vec::new(),
            seed,
            software: BTreeMap::new(),
            failed: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// A task whose `Err` fails the run (host software, clients).
    pub(crate) fn fallible_task<F>(
        &self,
        name: String,
        node: Option<NodeId>,
        future: F,
    ) -> (NewTask, JoinHandle<()>)
    where
        F: Future<Output = TaskResult> + 'static,
    {
        let failed = self.failed.clone();
        let task_name = name.clone();
        new_task(name, node, async move {
            if let Err(e) = future.await {
                failed.borrow_mut().push((task_name, node, e.to_string()));
            }
        })
    }

    /// Installs `node`'s software and starts it: it runs again from `software()` after
    /// every restart, and is lost with its tasks at every crash.
    pub(crate) fn set_software(&mut self, node: NodeId, name: String, mut software: Software) {
        let (task, _handle) = self.fallible_task(name.clone(), Some(node), software());
        self.spawn(task);
        self.software.insert(node, (name, software));
    }

    fn grow(&mut self, slot: usize) {
        if self.runtimes.len() <= slot {
            self.runtimes.resize_with(slot + 1, || None);
            self.foreign.resize(slot + 1, 0);
            self.tick_at.resize(slot + 1, None);
            self.drive_queued.resize(slot + 1, false);
        }
    }

    pub(crate) fn spawn(&mut self, task: NewTask) {
        self.next_id += 1;
        let id = self.next_id;
        let ready = &self.ready;
        self.tasks.insert(|slot| {
            let waker = Arc::new(TaskWaker {
                id,
                slot,
                ready: ready.clone(),
                queued: AtomicBool::new(false),
            });
            waker.wake_task();
            TaskSlot {
                id,
                name: task.name,
                node: task.node,
                future: task.future,
                waker,
                foreign: false,
            }
        });
    }

    pub(crate) fn has_ready(&self) -> bool {
        self.ready.len.load(Ordering::SeqCst) != 0
    }

    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len
    }

    fn pop_ready(&self) -> Option<(usize, u64)> {
        if !self.has_ready() {
            return None;
        }
        let id = self
            .ready
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        if id.is_some() {
            self.ready.len.fetch_sub(1, Ordering::SeqCst);
        }
        id
    }

    fn request_drive(&mut self, slot: usize) {
        self.grow(slot);
        if !self.drive_queued[slot] {
            self.drive_queued[slot] = true;
            self.to_drive.push_back(slot);
        }
    }

    /// Adopts tasks spawned from inside tasks, drops those of crashed nodes (and their
    /// runtimes), and queues the runtimes that wake-ups asked to drive.
    fn sync_with_world(&mut self, world: &Rc<RefCell<World>>) {
        let (spawned, crashed, restarted) = {
            let mut w = world.borrow_mut();
            self.scratch.append(&mut w.waits.to_drive);
            (
                std::mem::take(&mut w.spawned),
                std::mem::take(&mut w.crashed),
                std::mem::take(&mut w.restarted),
            )
        };
        self.requests.drain_into(&mut self.scratch);
        let mut scratch = std::mem::take(&mut self.scratch);
        for slot in scratch.drain(..) {
            self.request_drive(slot);
        }
        self.scratch = scratch;
        for t in spawned {
            self.spawn(t);
        }
        if !crashed.is_empty() {
            let mut doomed: Vec<(u64, usize)> = self
                .tasks
                .slots
                .iter()
                .enumerate()
                .filter_map(|(slot, t)| t.as_ref().map(|t| (t, slot)))
                .filter(|(t, _)| t.node.is_some_and(|n| crashed.contains(&n)))
                .map(|(t, slot)| (t.id, slot))
                .collect();
            // In spawn order, as they always were.
            doomed.sort_unstable();
            // Dropped here, with no borrow of the world held: their destructors may need it.
            let _dropped: Vec<TaskSlot> = doomed
                .iter()
                .filter_map(|&(id, slot)| self.tasks.remove(slot, id))
                .collect();
            for node in crashed {
                let slot = slot_of(Some(node));
                self.grow(slot);
                self.foreign[slot] = 0;
                self.set_tick(slot, None);
                // tokio's tasks go with the runtime.
                let _dropped = self.runtimes[slot].take();
            }
        }
        // After the crash handling: a restart is a crash and a start in one step.
        for node in restarted {
            if let Some((name, software)) = self.software.get_mut(&node) {
                let (name, future) = (name.clone(), software());
                let (task, _handle) = self.fallible_task(name, Some(node), future);
                self.spawn(task);
            }
        }
    }

    fn take_failure(&self, world: &Rc<RefCell<World>>) -> Option<TaskFailure> {
        let mut failed = self.failed.borrow_mut();
        if failed.is_empty() {
            return None;
        }
        let (task, node, error) = failed.remove(0);
        let w = world.borrow();
        Some(TaskFailure {
            task,
            node: node.map(|n| w.nodes[n.0].name.clone()),
            error,
        })
    }

    pub(crate) fn has_pending(&self, world: &Rc<RefCell<World>>) -> bool {
        let w = world.borrow();
        self.has_ready()
            || !self.to_drive.is_empty()
            || !self.requests.is_empty()
            || !w.spawned.is_empty()
            || !w.crashed.is_empty()
            || !w.waits.to_drive.is_empty()
    }

    /// The next tick of a ticking host, and its slot.
    pub(crate) fn next_tick(&self) -> Option<(Instant, usize)> {
        self.ticks.first().copied()
    }

    /// Whether the slot's host may wait on a tokio timer: tokio's tasks alive in it, or a
    /// sansnet task whose waker something else holds.
    fn is_ticking(&self, slot: usize) -> bool {
        self.foreign[slot] > 0
            || self.runtimes[slot]
                .as_ref()
                .is_some_and(HostRuntime::has_tasks)
    }

    fn set_tick(&mut self, slot: usize, at: Option<Instant>) {
        if self.tick_at[slot] == at {
            return;
        }
        if let Some(old) = self.tick_at[slot] {
            self.ticks.remove(&(old, slot));
        }
        if let Some(new) = at {
            self.ticks.insert((new, slot));
        }
        self.tick_at[slot] = at;
    }

    /// Re-files the slot's next tick after it ran at `now`.
    fn retick(&mut self, slot: usize, now: Instant) {
        let at = if self.is_ticking(slot) {
            self.runtimes[slot]
                .as_ref()
                .map(|hr| hr.next_tick_after(now))
        } else {
            None
        };
        self.set_tick(slot, at);
    }

    /// The host at the first tick: drives it there (the world's clock is already there).
    /// If it is the only ticking host and nothing else happens before `limit`, lets tokio
    /// jump to its next timer, no later than `limit`.
    pub(crate) fn run_tick(
        &mut self,
        world: &Rc<RefCell<World>>,
        limit: Instant,
    ) -> Result<(), TaskError> {
        let Some((at, slot)) = self.ticks.pop_first() else {
            return Ok(());
        };
        self.tick_at[slot] = None;
        self.drive(world, slot, at, None);
        self.run_ready(world)?;
        // Alone on the tick grid: nobody else's timer can come first. What ran at the
        // tick may have queued events sooner than the caller's limit.
        if self.ticks.len() == 1 && self.tick_at[slot].is_some() && !self.has_ready() {
            let (now, next_event) = {
                let w = world.borrow();
                (w.now, w.next_event_time())
            };
            let limit = next_event.map_or(limit, |e| e.min(limit));
            if let Some(hr) = self.runtimes[slot].as_ref() {
                let to = hr.tick_at_or_before(limit);
                if to > hr.next_tick_after(now) {
                    self.drive(world, slot, now, Some(to));
                }
            }
        }
        Ok(())
    }

    fn drive(
        &mut self,
        world: &Rc<RefCell<World>>,
        slot: usize,
        now: Instant,
        limit: Option<Instant>,
    ) {
        self.grow(slot);
        let Some(hr) = self.runtimes[slot].as_mut() else {
            return;
        };
        {
            let _context = enter(world, node_of(slot), None, Some(slot));
            hr.drive(world, now, limit);
        }
        let now = world.borrow().now;
        self.retick(slot, now);
    }

    /// Polls ready tasks and drives woken runtimes until nothing is ready (or the per-call
    /// bound is reached).
    pub(crate) fn run_ready(&mut self, world: &Rc<RefCell<World>>) -> Result<(), TaskError> {
        for _ in 0..MAX_POLLS_PER_RUN {
            self.sync_with_world(world);
            if let Some((slot, id)) = self.pop_ready() {
                self.poll_task(world, slot, id)
                    .map_err(TaskError::Panicked)?;
                if let Some(f) = self.take_failure(world) {
                    return Err(TaskError::Failed(f));
                }
                continue;
            }
            if let Some(slot) = self.to_drive.pop_front() {
                self.drive_queued[slot] = false;
                let now = world.borrow().now;
                self.drive(world, slot, now, None);
                continue;
            }
            return Ok(());
        }
        self.sync_with_world(world);
        Ok(())
    }

    fn poll_task(
        &mut self,
        world: &Rc<RefCell<World>>,
        task_slot: usize,
        id: u64,
    ) -> Result<(), TaskPanic> {
        let Some(node) = self.tasks.get_mut(task_slot, id).map(|t| t.node) else {
            return Ok(()); // finished or dropped since it was woken
        };
        let slot = slot_of(node);
        self.grow(slot);
        let Some(task) = self.tasks.get_mut(task_slot, id) else {
            return Ok(());
        };
        task.waker.queued.store(false, Ordering::SeqCst);
        let now = world.borrow().now;
        let seed = self.seed ^ (slot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let requests = &self.requests;
        let hr = self.runtimes[slot]
            .get_or_insert_with(|| HostRuntime::new(slot, now, seed, requests.clone()));
        hr.sync_clock(now);
        let waker = Waker::from(task.waker.clone());
        let mut cx = Context::from_waker(&waker);
        let polled = {
            let _context = enter(world, node, Some((&waker, &task.waker)), None);
            let future = &mut task.future;
            hr.run_in(|| catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))))
        };
        drop(waker);
        let queued = hr.has_queued();
        let was_foreign = task.foreign;
        match polled {
            Ok(Poll::Pending) => {
                task.foreign = Arc::strong_count(&task.waker) > 1;
                if task.foreign != was_foreign {
                    if task.foreign {
                        self.foreign[slot] += 1;
                    } else {
                        self.foreign[slot] -= 1;
                    }
                }
            }
            Ok(Poll::Ready(())) => {
                if was_foreign {
                    self.foreign[slot] -= 1;
                }
                self.tasks.remove(task_slot, id);
            }
            Err(payload) => {
                if was_foreign {
                    self.foreign[slot] -= 1;
                }
                let task = self.tasks.remove(task_slot, id);
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string panic payload)".to_owned());
                let w = world.borrow();
                let node = node.map(|n| w.nodes[n.0].name.clone());
                return Err(TaskPanic {
                    task: task.map(|s| s.name).unwrap_or_default(),
                    node,
                    message,
                });
            }
        }
        if queued {
            self.request_drive(slot);
        }
        self.retick(slot, now);
        Ok(())
    }
}

// ----- the task context -----

struct Current {
    world: Weak<RefCell<World>>,
    node: Option<NodeId>,
    /// The waker of the sansnet task being polled, if one is, and its shared part.
    task: Option<(Waker, std::sync::Weak<TaskWaker>)>,
    /// The runtime slot being driven, if a drive is under way.
    drive: Option<usize>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

struct EnterGuard {
    previous: Option<Current>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

fn enter(
    world: &Rc<RefCell<World>>,
    node: Option<NodeId>,
    task: Option<(&Waker, &Arc<TaskWaker>)>,
    drive: Option<usize>,
) -> EnterGuard {
    let current = Current {
        world: Rc::downgrade(world),
        node,
        task: task.map(|(w, t)| (w.clone(), Arc::downgrade(t))),
        drive,
    };
    EnterGuard {
        previous: CURRENT.with(|c| c.borrow_mut().replace(current)),
    }
}

/// The world and node of the running task. Panics outside a simulation task: these
/// functions have no meaning without a simulated clock.
pub(crate) fn current() -> (Rc<RefCell<World>>, Option<NodeId>) {
    try_current().expect("sansnet-sim: called outside a simulation task")
}

/// Like [`current`], but `None` outside a task or after the simulation is gone, for
/// callers that must not panic.
pub(crate) fn try_current() -> Option<(Rc<RefCell<World>>, Option<NodeId>)> {
    CURRENT.with(|c| {
        let c = c.try_borrow().ok()?;
        let cur = c.as_ref()?;
        Some((cur.world.upgrade()?, cur.node))
    })
}

/// How the world should remember a task that waits with `waker`: weakly if it is the waker
/// of the sansnet task being polled; otherwise the waker itself, with the runtime to drive
/// when it fires if a drive is under way (the waker is then a tokio task's).
pub(crate) fn waiter(waker: &Waker) -> Waiter {
    CURRENT.with(|c| {
        let c = c.borrow();
        let cur = c.as_ref();
        if let Some((task, shared)) = cur.and_then(|cur| cur.task.as_ref()) {
            if task.will_wake(waker) {
                return Waiter::Task(shared.clone());
            }
        }
        Waiter::Other {
            waker: waker.clone(),
            drive: cur.and_then(|cur| cur.drive),
        }
    })
}

/// The current simulated time. Panics outside a simulation task.
pub fn now() -> Instant {
    current().0.borrow().now
}

/// The node the current task runs on (`None` for a task spawned with `Sim::spawn`).
pub fn current_node() -> Option<NodeId> {
    current().1
}

/// Spawns a task on the current task's node.
pub fn spawn<T: 'static>(future: impl Future<Output = T> + 'static) -> JoinHandle<T> {
    let (world, node) = current();
    let (task, handle) = new_task("spawned".to_owned(), node, future);
    world.borrow_mut().spawned.push(task);
    handle
}

pub(crate) fn new_task<T: 'static>(
    name: String,
    node: Option<NodeId>,
    future: impl Future<Output = T> + 'static,
) -> (NewTask, JoinHandle<T>) {
    let state = Rc::new(RefCell::new(JoinState {
        value: None,
        finished: false,
        waker: None,
    }));
    let task_state = state.clone();
    let future = async move {
        let value = future.await;
        let waker = {
            let mut s = task_state.borrow_mut();
            s.value = Some(value);
            s.finished = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake_in_world();
        }
    };
    (
        NewTask {
            name,
            node,
            future: Box::pin(future),
        },
        JoinHandle { state },
    )
}

struct JoinState<T> {
    value: Option<T>,
    finished: bool,
    waker: Option<Waiter>,
}

/// The result of a spawned task: await it from another task, or read it with
/// [`take`](Self::take) between steps. A task dropped by a crash never finishes.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Whether the task has returned.
    pub fn is_finished(&self) -> bool {
        self.state.borrow().finished
    }

    /// The task's output, once (then `None`).
    pub fn take(&self) -> Option<T> {
        self.state.borrow_mut().value.take()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.state.borrow_mut();
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(waiter(cx.waker()));
                Poll::Pending
            }
        }
    }
}

/// Runs `f` on `node` as its concrete type from inside a task, then services the node (its
/// frames go out, its deadline is re-read, tasks waiting on it wake). `None` if the node is
/// crashed. Panics if the node is not an `E`, or outside a simulation task.
pub fn with_node<E: Endpoint, R>(node: NodeId, f: impl FnOnce(&mut E, Instant) -> R) -> Option<R> {
    let (world, _) = current();
    let mut w = world.borrow_mut();
    w.with_endpoint(node, |ep, now| {
        let concrete = ep
            .as_any_mut()
            .downcast_mut::<E>()
            .unwrap_or_else(|| panic!("node is not a {}", std::any::type_name::<E>()));
        f(concrete, now)
    })
}

/// [`with_node`], waking the tasks that wait on `node` only if `wakes(&result)` (a call
/// that only found it would block changed nothing, so it is no news for anyone).
pub(crate) fn with_node_waking<E: Endpoint, R>(
    node: NodeId,
    f: impl FnOnce(&mut E, Instant) -> R,
    wakes: impl FnOnce(&R) -> bool,
) -> Option<R> {
    let (world, _) = current();
    let mut w = world.borrow_mut();
    w.with_endpoint_waking(
        node,
        |ep, now| {
            let concrete = ep
                .as_any_mut()
                .downcast_mut::<E>()
                .unwrap_or_else(|| panic!("node is not a {}", std::any::type_name::<E>()));
            f(concrete, now)
        },
        wakes,
    )
}

/// Completes after the next time anything happens on `node`: a frame delivered, a timer
/// fired, a call made into it, a crash. The building block of readiness waits: try, and if
/// the node says "would block", await this and try again.
pub fn node_activity(node: NodeId) -> NodeActivity {
    NodeActivity {
        node,
        registered: false,
    }
}

/// The future of [`node_activity`].
#[derive(Debug)]
pub struct NodeActivity {
    node: NodeId,
    registered: bool,
}

impl Future for NodeActivity {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Waiters are woken (and forgotten) on activity, so the second poll is the wake-up.
        if self.registered {
            return Poll::Ready(());
        }
        let (world, _) = current();
        let waiter = waiter(cx.waker());
        world.borrow_mut().waits.on_node(self.node, waiter);
        self.registered = true;
        Poll::Pending
    }
}

/// Completes at `deadline` in simulated time.
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    timer: Option<(Weak<RefCell<World>>, u64)>,
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (world, _) = current();
        let mut w = world.borrow_mut();
        if w.now >= self.deadline {
            if let Some((_, key)) = self.timer.take() {
                w.waits.cancel_timer(key);
            }
            return Poll::Ready(());
        }
        match &self.timer {
            Some((_, key)) => w.waits.update_timer(*key, waiter(cx.waker())),
            None => {
                let key = w.register_task_timer(self.deadline, waiter(cx.waker()));
                drop(w);
                self.timer = Some((Rc::downgrade(&world), key));
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((world, key)) = self.timer.take() {
            if let Some(world) = world.upgrade() {
                if let Ok(mut w) = world.try_borrow_mut() {
                    w.waits.cancel_timer(key);
                }
            }
        }
    }
}

/// Sleeps until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        timer: None,
    }
}

/// Sleeps for `duration` of simulated time. Panics outside a simulation task.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(now() + duration)
}

/// The deadline passed before the future completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration` of simulated time.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let sleep = sleep(duration);
    match futures::future::select(Box::pin(future), Box::pin(sleep)).await {
        futures::future::Either::Left((v, _)) => Ok(v),
        futures::future::Either::Right(((), _)) => Err(Elapsed),
    }
}

/// Lets every other ready task run once before this one continues.
pub async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
