//! A deterministic single-threaded executor for application tasks, and the simulated-time
//! functions tasks use (`now`, `sleep`, `timeout`, `spawn`).
//!
//! Tasks are polled in the order they were woken (a FIFO of task ids; a task woken twice
//! before it runs is queued once). Nothing here reads a clock or starts a thread: time is the
//! simulator's, and a task waits for it through a timer event in the one event queue.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
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
use crate::net::{NodeId, World};

/// A task not yet handed to the executor.
pub(crate) struct NewTask {
    pub(crate) name: String,
    pub(crate) node: Option<NodeId>,
    pub(crate) future: Pin<Box<dyn Future<Output = ()>>>,
}

/// Tasks to poll, in wake order. Wakers must be `Send + Sync`, hence the lock, although a
/// simulation runs on one thread; `len` lets the loop ask "anything ready?" after every
/// event without taking it.
struct Ready {
    queue: Mutex<VecDeque<u64>>,
    len: AtomicUsize,
}

type ReadyQueue = Arc<Ready>;

struct TaskWaker {
    id: u64,
    ready: ReadyQueue,
    queued: AtomicBool,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::SeqCst) {
            // A poisoned lock can only come from a panic while pushing; the queue is intact.
            let mut q = self.ready.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.push_back(self.id);
            self.ready.len.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct TaskSlot {
    name: String,
    node: Option<NodeId>,
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<TaskWaker>,
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

/// Polls per `run_ready` call: a task that wakes itself forever cannot hang a step; the
/// simulator's step limit ends the run instead.
const MAX_POLLS_PER_RUN: usize = 10_000;

pub(crate) struct Executor {
    tasks: BTreeMap<u64, TaskSlot>,
    ready: ReadyQueue,
    next_id: u64,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl Executor {
    pub(crate) fn new() -> Executor {
        Executor {
            tasks: BTreeMap::new(),
            ready: Arc::new(Ready {
                queue: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }),
            next_id: 0,
        }
    }

    pub(crate) fn spawn(&mut self, task: NewTask) {
        self.next_id += 1;
        let id = self.next_id;
        let waker = Arc::new(TaskWaker {
            id,
            ready: self.ready.clone(),
            queued: AtomicBool::new(false),
        });
        waker.wake_by_ref();
        self.tasks.insert(
            id,
            TaskSlot {
                name: task.name,
                node: task.node,
                future: task.future,
                waker,
            },
        );
    }

    pub(crate) fn has_ready(&self) -> bool {
        self.ready.len.load(Ordering::SeqCst) != 0
    }

    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len()
    }

    fn pop_ready(&self) -> Option<u64> {
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

    /// Adopts tasks spawned from inside tasks and drops those of crashed nodes.
    fn sync_with_world(&mut self, world: &Rc<RefCell<World>>) {
        let (spawned, crashed) = {
            let mut w = world.borrow_mut();
            (
                std::mem::take(&mut w.spawned),
                std::mem::take(&mut w.crashed),
            )
        };
        for t in spawned {
            self.spawn(t);
        }
        if !crashed.is_empty() {
            let doomed: Vec<u64> = self
                .tasks
                .iter()
                .filter(|(_, t)| t.node.is_some_and(|n| crashed.contains(&n)))
                .map(|(&id, _)| id)
                .collect();
            // Dropped here, with no borrow of the world held: their destructors may need it.
            let _dropped: Vec<TaskSlot> = doomed
                .iter()
                .filter_map(|id| self.tasks.remove(id))
                .collect();
        }
    }

    pub(crate) fn has_pending(&self, world: &Rc<RefCell<World>>) -> bool {
        let w = world.borrow();
        self.has_ready() || !w.spawned.is_empty() || !w.crashed.is_empty()
    }

    /// Polls ready tasks until none is ready (or the per-call bound is reached).
    pub(crate) fn run_ready(&mut self, world: &Rc<RefCell<World>>) -> Result<(), TaskPanic> {
        for _ in 0..MAX_POLLS_PER_RUN {
            self.sync_with_world(world);
            let Some(id) = self.pop_ready() else {
                return Ok(());
            };
            let Some(slot) = self.tasks.get_mut(&id) else {
                continue; // finished or dropped since it was woken
            };
            slot.waker.queued.store(false, Ordering::SeqCst);
            let waker = Waker::from(slot.waker.clone());
            let mut cx = Context::from_waker(&waker);
            let node = slot.node;
            let polled = {
                let _context = enter(world, node);
                catch_unwind(AssertUnwindSafe(|| slot.future.as_mut().poll(&mut cx)))
            };
            match polled {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(())) => {
                    self.tasks.remove(&id);
                }
                Err(payload) => {
                    let slot = self.tasks.remove(&id);
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "(non-string panic payload)".to_owned());
                    let w = world.borrow();
                    let node = node.map(|n| w.nodes[n.0].name.clone());
                    return Err(TaskPanic {
                        task: slot.map(|s| s.name).unwrap_or_default(),
                        node,
                        message,
                    });
                }
            }
        }
        self.sync_with_world(world);
        Ok(())
    }
}

// ----- the task context -----

struct Current {
    world: Weak<RefCell<World>>,
    node: Option<NodeId>,
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

fn enter(world: &Rc<RefCell<World>>, node: Option<NodeId>) -> EnterGuard {
    let current = Current {
        world: Rc::downgrade(world),
        node,
    };
    EnterGuard {
        previous: CURRENT.with(|c| c.borrow_mut().replace(current)),
    }
}

/// The world and node of the running task. Panics outside a simulation task: these
/// functions have no meaning without a simulated clock.
pub(crate) fn current() -> (Rc<RefCell<World>>, Option<NodeId>) {
    CURRENT.with(|c| {
        let c = c.borrow();
        let cur = c
            .as_ref()
            .expect("sansnet-sim: called outside a simulation task");
        let world = cur
            .world
            .upgrade()
            .expect("sansnet-sim: the simulation is gone");
        (world, cur.node)
    })
}

/// Like [`current`], but `None` outside a task or after the simulation is gone, for
/// destructors that must not panic.
pub(crate) fn try_current() -> Option<(Rc<RefCell<World>>, Option<NodeId>)> {
    CURRENT.with(|c| {
        let c = c.try_borrow().ok()?;
        let cur = c.as_ref()?;
        Some((cur.world.upgrade()?, cur.node))
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
            w.wake();
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
    waker: Option<Waker>,
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
                s.waker = Some(cx.waker().clone());
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
        world.borrow_mut().wait_on_node(self.node, cx.waker());
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
                w.cancel_task_timer(key);
            }
            return Poll::Ready(());
        }
        match &self.timer {
            Some((_, key)) => w.update_task_timer(*key, cx.waker()),
            None => {
                let key = w.register_task_timer(self.deadline, cx.waker().clone());
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
                    w.cancel_task_timer(key);
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
