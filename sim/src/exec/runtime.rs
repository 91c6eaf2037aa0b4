//! One tokio runtime per simulated host, driven by the simulator.
//!
//! Every host that runs software gets a current-thread tokio runtime with a paused clock and
//! a `LocalSet`: `tokio::spawn` lands in the runtime, `tokio::task::spawn_local` in the
//! local set, `tokio::time` reads and sleeps on the runtime's clock. A crash drops the
//! runtime and every task in it. The simulator never lets tokio's clock run on its own:
//!
//! - Before any task of the host runs (one of sansnet's tasks, or the runtime's), the
//!   runtime's clock is advanced to the simulator's `now`, to the nanosecond.
//! - A *drive* runs the runtime until it is idle (nothing ready, nothing deferred): the
//!   `on_thread_park` hook wakes the driving future the moment the scheduler would park,
//!   which keeps tokio from advancing its clock on its own.
//! - tokio timers fire only on tokio's millisecond ticks, and tokio has no way to ask for
//!   the next one. So a host whose tasks may wait on a tokio timer is *ticking*: the
//!   executor drives it at every millisecond of its tick grid (see `Executor`). When it is
//!   the only ticking host, an *advance* drive lets tokio jump straight to its next timer,
//!   bounded by the next thing the simulator knows will happen (`limit`): there is nobody
//!   else whose timers could come first, so the jump is exact.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use sansnet_stack::time::{Duration, Instant};

use crate::world::World;

/// tokio's timer resolution: timers fire on whole milliseconds since the runtime started.
pub(crate) const TICK: Duration = Duration::from_millis(1);

const MODE_STOP_WHEN_IDLE: u8 = 0;
const MODE_ADVANCE: u8 = 1;

/// What the runtime's park hooks tell the driving future.
struct Signal {
    mode: AtomicU8,
    /// The scheduler found nothing to do (set in `MODE_STOP_WHEN_IDLE`).
    idle: AtomicBool,
    /// tokio's clock as last seen (in `MODE_ADVANCE`).
    seen: Mutex<Option<tokio::time::Instant>>,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn wake(&self) {
        if let Some(w) = self
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            w.wake_by_ref();
        }
    }

    fn on_park(&self) {
        if self.mode.load(Ordering::Relaxed) == MODE_STOP_WHEN_IDLE {
            self.idle.store(true, Ordering::Relaxed);
            // Waking the `block_on` future gives the scheduler work, so it polls the
            // driver without blocking and without advancing the paused clock.
            self.wake();
        }
    }

    fn on_unpark(&self) {
        if self.mode.load(Ordering::Relaxed) != MODE_ADVANCE {
            return;
        }
        // Only a move of the clock is news: waking on every unpark would itself keep
        // tokio from ever auto-advancing (a wake marks the driver as woken).
        let now = tokio::time::Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_none_or(|s| now > s) {
            *seen = Some(now);
            drop(seen);
            self.wake();
        }
    }
}

/// Slots whose local set was woken while nobody was driving it, shared by every host's
/// local-set waker and drained by the executor.
#[derive(Default)]
pub(crate) struct DriveRequests {
    slots: Mutex<Vec<usize>>,
    len: AtomicUsize,
}

impl DriveRequests {
    fn push(&self, slot: usize) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot);
        self.len.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::SeqCst) == 0
    }

    pub(crate) fn drain_into(&self, out: &mut Vec<usize>) {
        if self.is_empty() {
            return;
        }
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        self.len.store(0, Ordering::SeqCst);
        out.append(&mut slots);
    }
}

/// The waker the local set is polled with: during a drive it wakes the driving future;
/// at any other time (a local task woken from another host, or `spawn_local` from one of
/// sansnet's tasks) it asks the executor to drive this host.
struct LocalWake {
    slot: usize,
    requests: Arc<DriveRequests>,
    outer: Mutex<Option<Waker>>,
}

impl Wake for LocalWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match self
            .outer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(w) => w.wake_by_ref(),
            None => self.requests.push(self.slot),
        }
    }
}

fn set_waker(cell: &Mutex<Option<Waker>>, waker: Option<&Waker>) {
    let mut cell = cell.lock().unwrap_or_else(|e| e.into_inner());
    match (cell.as_ref(), waker) {
        (Some(old), Some(new)) if old.will_wake(new) => {}
        _ => *cell = waker.cloned(),
    }
}

/// A host's tokio runtime and local set, and where its clock stands.
pub(crate) struct HostRuntime {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
    metrics: tokio::runtime::RuntimeMetrics,
    /// The simulated time at which tokio's clock read `origin_tokio`: tokio's millisecond
    /// ticks are counted from here.
    origin: Instant,
    origin_tokio: tokio::time::Instant,
    /// The simulated time tokio's clock reads.
    clock: Instant,
    signal: Arc<Signal>,
    local_wake: Arc<LocalWake>,
    local_waker: Waker,
    /// The local set had no task when last polled.
    local_empty: bool,
}

/// tokio's `select!` draws its branch order from a per-runtime generator that only
/// `tokio_unstable` builds can seed; there, each host's is seeded from the run's seed.
#[cfg(tokio_unstable)]
fn seed_select(builder: &mut tokio::runtime::Builder, seed: u64) {
    builder.rng_seed(tokio::runtime::RngSeed::from_bytes(&seed.to_le_bytes()));
}

#[cfg(not(tokio_unstable))]
fn seed_select(_builder: &mut tokio::runtime::Builder, _seed: u64) {}

impl HostRuntime {
    pub(crate) fn new(
        slot: usize,
        now: Instant,
        seed: u64,
        requests: Arc<DriveRequests>,
    ) -> HostRuntime {
        let signal = Arc::new(Signal {
            mode: AtomicU8::new(MODE_STOP_WHEN_IDLE),
            idle: AtomicBool::new(false),
            seen: Mutex::new(None),
            waker: Mutex::new(None),
        });
        let (park, unpark) = (signal.clone(), signal.clone());
        let mut builder = tokio::runtime::Builder::new_current_thread();
        builder
            .enable_time()
            .start_paused(true)
            .on_thread_park(move || park.on_park())
            .on_thread_unpark(move || unpark.on_unpark());
        seed_select(&mut builder, seed);
        let rt = builder.build().expect("a current-thread runtime builds");
        // The clock is paused from the start, so this is the one reading of the wall
        // clock that tokio makes: everything after it is an offset the simulator chose.
        let origin_tokio = {
            let _g = rt.enter();
            tokio::time::Instant::now()
        };
        let local_wake = Arc::new(LocalWake {
            slot,
            requests,
            outer: Mutex::new(None),
        });
        let local_waker = Waker::from(local_wake.clone());
        let mut local = tokio::task::LocalSet::new();
        {
            // Registers the local set's waker, so that `spawn_local` from one of sansnet's
            // tasks asks for a drive.
            let _rt = rt.enter();
            let _empty = Pin::new(&mut local).poll(&mut Context::from_waker(&local_waker));
        }
        HostRuntime {
            metrics: rt.metrics(),
            rt,
            local,
            origin: now,
            origin_tokio,
            clock: now,
            signal,
            local_waker,
            local_wake,
            local_empty: true,
        }
    }

    /// The first instant of this runtime's tick grid after `t`.
    pub(crate) fn next_tick_after(&self, t: Instant) -> Instant {
        let since = (t - self.origin).as_nanos();
        let tick = TICK.as_nanos();
        let k = since / tick + 1;
        self.origin + Duration::from_nanos(u64::try_from(k * tick).unwrap_or(u64::MAX))
    }

    /// The last instant of this runtime's tick grid at or before `t`.
    pub(crate) fn tick_at_or_before(&self, t: Instant) -> Instant {
        let since = (t - self.origin).as_nanos();
        let tick = TICK.as_nanos();
        self.origin + Duration::from_nanos(u64::try_from(since / tick * tick).unwrap_or(u64::MAX))
    }

    /// Whether a task of the runtime or its local set is alive: such a host may wait on a
    /// tokio timer, and the executor must follow its tick grid.
    pub(crate) fn has_tasks(&self) -> bool {
        self.metrics.num_alive_tasks() > 0 || !self.local_empty
    }

    /// Work queued in the runtime from outside a drive (`tokio::spawn` from one of
    /// sansnet's tasks, a tokio task woken through a channel or from another host).
    pub(crate) fn has_queued(&self) -> bool {
        self.metrics.global_queue_depth() > 0
    }

    /// Moves tokio's clock to `now` without running anything: before one of sansnet's own
    /// tasks is polled, so that it reads the right time. Timers it passes fire at the next
    /// drive, which the tick grid schedules.
    pub(crate) fn sync_clock(&mut self, now: Instant) {
        if now <= self.clock {
            return;
        }
        let by = now - self.clock;
        self.clock = now;
        let _rt = self.rt.enter();
        let mut advance = std::pin::pin!(tokio::time::advance(by));
        // The clock moves on the first poll; the rest is a yield, which outside a
        // scheduler wakes the no-op waker and is done.
        let _ = advance
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
    }

    /// Runs `f` (a poll of one of sansnet's tasks) inside the runtime and the local set:
    /// tokio's functions then find this host's runtime.
    ///
    /// In a `tokio_unstable` build it runs inside `Handle::block_on`, which seeds the
    /// generator that `select!` draws from (from the runtime's seeded sequence) and runs
    /// no scheduler: work it queues (`tokio::spawn`, a woken tokio task) lands in the
    /// runtime's shared queue, as from outside. Elsewhere that generator is random whatever
    /// sansnet does, and entering the runtime is enough (and cheaper).
    pub(crate) fn run_in<R>(&self, f: impl FnOnce() -> R) -> R {
        let _local = self.local.enter();
        #[cfg(tokio_unstable)]
        {
            let mut f = Some(f);
            self.rt.handle().block_on(std::future::poll_fn(|_| {
                Poll::Ready(f.take().expect("block_on polls its future once here")())
            }))
        }
        #[cfg(not(tokio_unstable))]
        {
            let _rt = self.rt.enter();
            f()
        }
    }

    /// Runs the runtime and the local set at `now` until neither has anything to do.
    ///
    /// With `limit`, it then lets tokio advance its clock to its next timer, but no later
    /// than `limit` (a tick of this runtime's grid): the world's clock follows it, and
    /// whatever the timer woke runs before this returns. Only for the sole ticking host:
    /// another host's timer could otherwise come first.
    pub(crate) fn drive(
        &mut self,
        world: &Rc<RefCell<World>>,
        now: Instant,
        limit: Option<Instant>,
    ) {
        let by = now - self.clock;
        self.clock = now;
        let signal = Arc::clone(&self.signal);
        signal.idle.store(false, Ordering::Relaxed);
        let mut limit = limit.filter(|&l| l > now);
        let limit_tokio = limit.map(|l| self.origin_tokio + (l - self.origin));
        if limit.is_some() {
            *signal.seen.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(self.origin_tokio + (now - self.origin));
            signal.mode.store(MODE_ADVANCE, Ordering::Relaxed);
        } else {
            signal.mode.store(MODE_STOP_WHEN_IDLE, Ordering::Relaxed);
        }
        let mut advance = (!by.is_zero()).then(|| Box::pin(tokio::time::advance(by)));
        let mut sentinel: Option<Pin<Box<tokio::time::Sleep>>> = None;
        let (origin, origin_tokio) = (self.origin, self.origin_tokio);
        let clock = &mut self.clock;
        let local = &mut self.local;
        let local_wake = &self.local_wake;
        let local_waker = &self.local_waker;
        let mut local_empty = self.local_empty;
        let mut first_poll = true;
        self.rt.block_on(std::future::poll_fn(|cx| {
            // `block_on` polls with one waker throughout: hand it out once.
            if std::mem::take(&mut first_poll) {
                set_waker(&signal.waker, Some(cx.waker()));
                set_waker(&local_wake.outer, Some(cx.waker()));
            }
            if let Some(a) = advance.as_mut() {
                if a.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                advance = None;
            }
            if let Some(deadline) = limit_tokio.filter(|_| limit.is_some()) {
                let t = origin + (tokio::time::Instant::now() - origin_tokio);
                if t > *clock {
                    // tokio jumped to its next timer (or to the limit): the world follows,
                    // and from here on this is an ordinary drive at the new time.
                    *clock = t;
                    world.borrow_mut().set_now(t);
                    limit = None;
                    sentinel = None;
                    signal.mode.store(MODE_STOP_WHEN_IDLE, Ordering::Relaxed);
                } else {
                    let s = sentinel
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    let _registered = s.as_mut().poll(cx);
                }
            }
            local_empty = Pin::new(&mut *local)
                .poll(&mut Context::from_waker(local_waker))
                .is_ready();
            if limit.is_none() && signal.idle.swap(false, Ordering::Relaxed) {
                return Poll::Ready(());
            }
            Poll::Pending
        }));
        set_waker(&self.local_wake.outer, None);
        set_waker(&self.signal.waker, None);
        self.local_empty = local_empty;
    }
}
