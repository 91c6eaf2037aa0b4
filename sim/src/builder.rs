//! A simulation that turmoil users can read at a glance: [`Builder`] and [`Simulation`].
//!
//! turmoil's verbs, with the meaning they have there: [`Simulation::host`] installs
//! restartable software on a new host, [`Simulation::client`] a task whose end the run
//! waits for, [`Simulation::run`] runs until every client has finished, and `crash`,
//! `bounce`, `partition`, `repair`, `hold` and `release` act on hosts by name. Under it
//! is a [`Sim`] with real TCP/IP: hosts are sansnet stacks on one switched network, and
//! every fault knob, topology and capture of the low-level API stays reachable through
//! [`Simulation::sim_mut`].
//!
//! ```
//! use sansnet_sim::{net, Builder};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut sim = Builder::new().build();
//! sim.host("server", || async {
//!     let listener = net::TcpListener::bind(("0.0.0.0", 7)).await?;
//!     loop {
//!         let (mut conn, _) = listener.accept().await?;
//!         tokio::spawn(async move {
//!             let mut buf = [0u8; 5];
//!             conn.read_exact(&mut buf).await?;
//!             conn.write_all(&buf).await
//!         });
//!     }
//! });
//! sim.client("client", async {
//!     let mut conn = net::TcpStream::connect("server:7").await?;
//!     conn.write_all(b"hello").await?;
//!     let mut back = [0u8; 5];
//!     conn.read_exact(&mut back).await?;
//!     assert_eq!(&back, b"hello");
//!     Ok(())
//! });
//! sim.run().unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;

use sansnet_stack::time::{Duration, Instant};

use crate::divergence::{check_if, Divergence, Watch};
use crate::exec::{JoinHandle, TaskResult};
use crate::fault::{LatencyDist, LinkFaults, LossModel};
use crate::rng::{seed_from_env_or, Probability, Seed};
use crate::sim::{replay_line, AllFinished, Limits, RunError, Sim};
use crate::trace::TraceHash;
use crate::world::{LinkId, NodeId, SwitchId};

/// The settings of a [`Simulation`], with turmoil's names where the meaning is the same.
#[derive(Clone, Debug)]
pub struct Builder {
    seed: u64,
    duration: Duration,
    min_latency: Duration,
    max_latency: Duration,
    faults: LinkFaults,
    max_steps: u64,
    check_determinism: bool,
    intercept: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// A probability as the simulator's fixed-point [`Probability`].
fn probability(p: f64) -> Probability {
    let ppm = (p.clamp(0.0, 1.0) * f64::from(Probability::SCALE)).round();
    // Clamped to [0, SCALE] just above, so the cast is exact.
    Probability::per_million(ppm as u32)
}

impl Builder {
    /// Defaults: seed 0 (or `SANSNET_SEED`), 10 simulated seconds as in turmoil, 1 ms
    /// one-way between two hosts, no loss, no reordering.
    pub fn new() -> Builder {
        Builder {
            seed: 0,
            duration: Duration::from_secs(10),
            min_latency: Duration::from_millis(1),
            max_latency: Duration::from_millis(1),
            faults: LinkFaults::default(),
            max_steps: 100_000_000,
            check_determinism: true,
            intercept: false,
        }
    }

    /// The run's seed. `SANSNET_SEED` in the environment overrides it, so that the replay
    /// line a failure prints reruns exactly that run.
    pub fn rng_seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// How much simulated time the run may take before it fails with a time limit.
    pub fn simulation_duration(&mut self, duration: Duration) -> &mut Self {
        self.duration = duration;
        self
    }

    /// The least one-way latency between two hosts.
    pub fn min_message_latency(&mut self, latency: Duration) -> &mut Self {
        self.min_latency = latency;
        self.max_latency = self.max_latency.max(latency);
        self
    }

    /// The most one-way latency between two hosts (uniform between the two bounds).
    pub fn max_message_latency(&mut self, latency: Duration) -> &mut Self {
        self.max_latency = latency;
        self.min_latency = self.min_latency.min(latency);
        self
    }

    /// The chance that a frame is lost on each link it crosses (host to switch, switch to
    /// host). turmoil's `fail_rate` takes whole links down for a while and its TCP never
    /// retransmits; here a frame is lost and sansnet's TCP recovers, as a kernel's would.
    pub fn fail_rate(&mut self, p: f64) -> &mut Self {
        self.faults.loss = LossModel::Independent {
            rate: probability(p),
        };
        self
    }

    /// The chance that a frame is held back on a link and overtaken by later ones.
    pub fn reorder_rate(&mut self, p: f64) -> &mut Self {
        self.faults.reorder = probability(p);
        if self.faults.reorder_delay.is_zero() {
            self.faults.reorder_delay = Duration::from_millis(2);
        }
        self
    }

    /// Every other fault of each link (duplication, corruption, bandwidth, queue, MTU),
    /// as the low-level API has them; latency stays the builder's.
    pub fn link_faults(&mut self, faults: LinkFaults) -> &mut Self {
        self.faults = faults;
        self
    }

    /// The step limit (events and task polls) of a run.
    pub fn max_steps(&mut self, steps: u64) -> &mut Self {
        self.max_steps = steps;
        self
    }

    /// One link's faults: each host's link to the switch carries half the one-way latency.
    fn link(&self) -> LinkFaults {
        let (min, max) = (self.min_latency / 2, self.max_latency / 2);
        let latency = if min == max {
            LatencyDist::Constant { latency: min }
        } else {
            LatencyDist::Uniform { min, max }
        };
        LinkFaults {
            latency,
            ..self.faults.clone()
        }
    }

    /// Whether [`test`](Self::test) runs the simulation a second time to check that it
    /// replays exactly (on by default; `SANSNET_CHECK_DETERMINISM=0` in the environment
    /// turns it off too).
    pub fn check_determinism(&mut self, on: bool) -> &mut Self {
        self.check_determinism = on;
        self
    }

    /// Whether the simulation answers the wall clock and OS randomness (off by default;
    /// needs the `intercept` feature). When on, code on the simulation's thread that calls
    /// `SystemTime::now()`, `Instant::now()`, `getrandom` (std's `HashMap` keys,
    /// `rand::rng()`, `thread_rng()`, UUIDs) gets answers from the simulation: the clock
    /// reads [`sansnet_intercept::EPOCH_UNIX_NS`] (2030-01-01) plus simulated time, the
    /// randomness a stream drawn from the seed. So hyper's `Date` header, a `HashMap`
    /// iterated into a reply and a random request id replay exactly. What is and is not
    /// covered is in the `sansnet-intercept` crate's documentation.
    ///
    /// [`test`](Self::test) runs each run on a fresh thread, which full coverage needs (std
    /// and rand seed their per-thread generators once per thread). With
    /// [`build`](Self::build) and [`Simulation::run`] on a thread that already made a
    /// `HashMap` or used `rand::rng()`, those keep their OS-seeded state; the clock is
    /// answered all the same.
    #[cfg(feature = "intercept")]
    pub fn intercept(&mut self, on: bool) -> &mut Self {
        self.intercept = on;
        self
    }

    /// Builds a simulation, lets `setup` add its hosts and clients, and runs it until every
    /// client has finished, as [`Simulation::run`] does; then, unless turned off
    /// ([`check_determinism`](Self::check_determinism)), runs it again from scratch and
    /// compares the two traces, every frame's bytes included. Code that leaks the wall
    /// clock, OS randomness or hash-map order into what it sends fails here with the first
    /// differing frame and byte named (see [`crate::divergence`]).
    ///
    /// Each run gets a fresh thread (named as the caller's, so the replay line names the
    /// test): state a thread keeps from one run to the next, such as std's `RandomState`
    /// keys, cannot make the second run differ from the first.
    ///
    /// ```
    /// use sansnet_sim::{net, Builder};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let run = Builder::new().rng_seed(3).test(|sim| {
    ///     sim.host("server", || async {
    ///         let listener = net::TcpListener::bind(("0.0.0.0", 7)).await?;
    ///         let (mut conn, _) = listener.accept().await?;
    ///         conn.write_all(b"hello").await?;
    ///         Ok(())
    ///     });
    ///     sim.client("client", async {
    ///         let mut conn = net::TcpStream::connect("server:7").await?;
    ///         let mut hello = [0u8; 5];
    ///         conn.read_exact(&mut hello).await?;
    ///         assert_eq!(&hello, b"hello");
    ///         Ok(())
    ///     });
    /// });
    /// assert_eq!(run.unwrap().runs, 2);
    /// ```
    pub fn test<F>(&self, setup: F) -> Result<TestRun, TestError>
    where
        F: Fn(&mut Simulation) + Send + Sync,
    {
        let check = self.check_determinism
            && std::env::var("SANSNET_CHECK_DETERMINISM").as_deref() != Ok("0");
        let seed = seed_from_env_or(self.seed);
        let name = std::thread::current().name().map(str::to_owned);
        let mut runs = 0u32;
        let once = |watch: Watch| {
            runs += 1;
            on_fresh_thread(name.clone(), || {
                let outside = Outside::watch();
                let (result, report) = watch.run(|| {
                    let mut sim = self.build();
                    setup(&mut sim);
                    let result = sim.run();
                    result.map(|()| TestRun {
                        hash: sim.sim.trace_hash(),
                        records: sim.sim.trace_records(),
                        elapsed: sim.elapsed(),
                        runs: 1,
                    })
                });
                let mut outside = outside.counts();
                outside.intercepted = self.intercept;
                ((result, outside), report)
            })
        };
        let ((first, outside), _, divergence, _) =
            check_if(once, |(first, _)| check && first.is_ok());
        let mut run = first.map_err(TestError::Run)?;
        if let Some(divergence) = divergence {
            return Err(TestError::Nondeterministic {
                seed,
                divergence: Box::new(divergence),
                outside,
            });
        }
        run.runs = runs;
        Ok(run)
    }

    /// The simulation: an empty switched network 192.168.0.0/16 to add hosts to.
    pub fn build(&self) -> Simulation {
        let seed = seed_from_env_or(self.seed);
        #[cfg(feature = "intercept")]
        let scope = self
            .intercept
            .then(|| sansnet_intercept::enter(seed.derive_u64("intercept"), 0));
        let mut sim = Sim::new(seed);
        sim.set_limits(Limits {
            max_steps: self.max_steps,
            max_time: Instant::ZERO + self.duration,
        });
        let switch = sim.add_switch("lan");
        Simulation {
            sim,
            switch,
            link: self.link(),
            hosts: BTreeMap::new(),
            clients: Vec::new(),
            clients_done: AllFinished::default(),
            #[cfg(feature = "intercept")]
            _intercept: scope,
        }
    }
}

/// Runs `f` on a new thread named `name`, as a part of the caller: its panic is the caller's.
fn on_fresh_thread<T: Send>(name: Option<String>, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let mut thread = std::thread::Builder::new();
        if let Some(name) = name {
            thread = thread.name(name);
        }
        let handle = match thread.spawn_scoped(scope, f) {
            Ok(handle) => handle,
            Err(e) => panic!("sansnet: cannot start a thread for the run: {e}"),
        };
        match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// What [`Builder::test`] ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRun {
    /// The trace hash (the same in every run).
    pub hash: TraceHash,
    /// Trace records.
    pub records: u64,
    /// Simulated time the run took.
    pub elapsed: Duration,
    /// How many times the simulation ran: 1, 2, or 3 when a difference was located.
    pub runs: u32,
}

/// Why [`Builder::test`] failed.
#[derive(Debug)]
pub enum TestError {
    /// The run failed: a client or host returned an error or panicked, or a limit was hit.
    Run(RunError),
    /// The run succeeded but did not replay: a second run of the same seed differed.
    Nondeterministic {
        /// The seed.
        seed: Seed,
        /// Where the runs first differ.
        divergence: Box<Divergence>,
        /// What the first run read from outside the simulation, where that can be counted.
        outside: Outside,
    },
}

/// What a run read from outside the simulation: the wall clock and OS randomness, as
/// counted by `sansnet-intercept` (`None` without the `intercept` feature, which counts
/// them; with interception on, the simulation answered these reads itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outside {
    /// Reads of the wall clock (`SystemTime::now()`, `gettimeofday`, `time`).
    pub wall_clock_reads: Option<u64>,
    /// Calls for OS randomness (`getrandom`: std's `HashMap` keys, `rand`, UUIDs).
    pub random_calls: Option<u64>,
    /// Whether the simulation answered them (interception on).
    pub intercepted: bool,
}

impl Outside {
    fn watch() -> OutsideWatch {
        OutsideWatch {
            #[cfg(feature = "intercept")]
            watch: sansnet_intercept::watch(),
        }
    }
}

/// Counts outside reads on this thread from its creation.
struct OutsideWatch {
    #[cfg(feature = "intercept")]
    watch: sansnet_intercept::Watch,
}

impl OutsideWatch {
    fn counts(&self) -> Outside {
        #[cfg(feature = "intercept")]
        {
            let c = self.watch.counts();
            if sansnet_intercept::installed() {
                return Outside {
                    wall_clock_reads: Some(c.realtime_reads),
                    random_calls: Some(c.random_calls),
                    intercepted: false,
                };
            }
        }
        Outside::default()
    }
}

fn times(n: u64) -> &'static str {
    if n == 1 {
        "time"
    } else {
        "times"
    }
}

impl fmt::Display for Outside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.wall_clock_reads, self.random_calls) {
            (Some(clock), Some(random)) if self.intercepted => write!(
                f,
                "the simulation answered the run's {clock} wall-clock reads and {random} \
                 randomness calls itself, so the leak is elsewhere"
            ),
            (Some(clock), Some(random)) => write!(
                f,
                "the run read the wall clock {clock} {} and asked the OS for randomness \
                 {random} {}",
                times(clock),
                times(random)
            ),
            _ => f.write_str(
                "(build with sansnet's `intercept` feature to count the run's wall-clock \
                 and OS-randomness reads, and `Builder::intercept(true)` to answer them from \
                 the simulation)",
            ),
        }
    }
}

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestError::Run(e) => fmt::Display::fmt(e, f),
            TestError::Nondeterministic {
                seed,
                divergence,
                outside,
            } => write!(
                f,
                "nondeterministic: seed {seed} does not replay; something outside the \
                 simulation (the wall clock, OS randomness, hash-map order, a global \
                 counter, another thread) reached what a host sends; {outside}\n\
                 {divergence}{}",
                replay_line(*seed)
            ),
        }
    }
}

impl std::error::Error for TestError {}

/// A simulated network of hosts running async software, driven by one seed.
pub struct Simulation {
    sim: Sim,
    switch: SwitchId,
    link: LinkFaults,
    hosts: BTreeMap<String, (NodeId, LinkId)>,
    clients: Vec<(String, JoinHandle<()>)>,
    /// The clients seen finished so far, from the front (a constant-time check per step).
    clients_done: AllFinished,
    /// While the simulation lives, its thread's wall clock and randomness are the
    /// simulation's ([`Builder::intercept`]). Declared last: dropped after the hosts.
    #[cfg(feature = "intercept")]
    _intercept: Option<sansnet_intercept::Scope>,
}

impl fmt::Debug for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("hosts", &self.hosts.keys().collect::<Vec<_>>())
            .field("clients", &self.clients.len())
            .field("now", &self.sim.now())
            .finish()
    }
}

impl Simulation {
    fn add(&mut self, name: &str) -> NodeId {
        assert!(
            !self.hosts.contains_key(name),
            "sansnet: a host named {name:?} exists already"
        );
        let index = self.hosts.len() + 1;
        let addr = Ipv4Addr::new(192, 168, (index / 250) as u8, (index % 250) as u8 + 1);
        let node = self.sim.add_host(name, addr, 16);
        let link = self.sim.connect_named(
            &format!("{name}-lan"),
            self.sim.nic(node, 0),
            self.switch,
            self.link.clone(),
        );
        self.hosts.insert(name.to_owned(), (node, link));
        node
    }

    fn node(&self, name: &str) -> NodeId {
        match self.hosts.get(name) {
            Some(&(node, _)) => node,
            None => panic!("sansnet: no host named {name:?}"),
        }
    }

    /// Adds a host running `software`: it starts now, and again from `software()` after
    /// every [`bounce`](Self::bounce) or restart. An `Err` it returns fails the run.
    pub fn host<F, Fut>(&mut self, name: impl Into<String>, software: F)
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = TaskResult> + 'static,
    {
        let name = name.into();
        let node = self.add(&name);
        self.sim.set_software(node, software);
    }

    /// Adds a host running `client` once: [`run`](Self::run) returns when every client has
    /// finished; an `Err` it returns, or a panic, fails the run.
    pub fn client<Fut>(&mut self, name: impl Into<String>, client: Fut)
    where
        Fut: Future<Output = TaskResult> + 'static,
    {
        let name = name.into();
        let node = self.add(&name);
        let handle = self.sim.spawn_fallible(node, client);
        self.clients.push((name, handle));
    }

    /// Runs until every client has finished. Fails with the replay line if a client or a
    /// host's software returns an error or panics, or when the simulation duration or the
    /// step limit is reached first.
    pub fn run(&mut self) -> Result<(), RunError> {
        let clients = std::mem::take(&mut self.clients);
        let mut done = self.clients_done;
        let result = self
            .sim
            .run_until_condition(|_| done.check(clients.iter().map(|(_, h)| h)));
        self.clients = clients;
        self.clients_done = done;
        result
    }

    /// One step of the simulation; `Ok(true)` once every client has finished.
    pub fn step(&mut self) -> Result<bool, RunError> {
        self.sim.step()?;
        Ok(self.clients_done.check(self.clients.iter().map(|(_, h)| h)))
    }

    /// Runs for `duration` of simulated time (clients need not finish).
    pub fn run_for(&mut self, duration: Duration) -> Result<(), RunError> {
        self.sim.run_for(duration)
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.sim.now() - Instant::ZERO
    }

    /// The address of a host.
    pub fn lookup(&self, name: &str) -> Ipv4Addr {
        self.sim
            .addr(name)
            .unwrap_or_else(|| panic!("sansnet: no host named {name:?}"))
    }

    /// Whether the host is up.
    pub fn is_host_running(&self, name: &str) -> bool {
        self.sim.is_up(self.node(name))
    }

    /// Crashes a host: its tasks, sockets and connections are gone; peers see nothing
    /// until they time out or are reset.
    pub fn crash(&mut self, name: &str) {
        let node = self.node(name);
        self.sim.crash(node);
    }

    /// Crashes a host and starts it again: a fresh stack, and its software from the start.
    pub fn bounce(&mut self, name: &str) {
        let node = self.node(name);
        self.sim
            .restart(node)
            .unwrap_or_else(|e| panic!("sansnet: {e}"));
    }

    /// Drops every frame between `a` and `b`, both ways, until [`repair`](Self::repair).
    pub fn partition(&mut self, a: &str, b: &str) {
        let (a, b) = (self.node(a), self.node(b));
        self.sim.partition(a, b);
    }

    /// Ends a [`partition`](Self::partition) between `a` and `b`.
    pub fn repair(&mut self, a: &str, b: &str) {
        let (a, b) = (self.node(a), self.node(b));
        self.sim.repair(a, b);
    }

    /// Drops every frame from `from` to `to` (not the other way) until
    /// [`repair_oneway`](Self::repair_oneway) or [`repair`](Self::repair).
    pub fn partition_oneway(&mut self, from: &str, to: &str) {
        let (from, to) = (self.node(from), self.node(to));
        self.sim.partition_oneway(from, to);
    }

    /// Ends a [`partition_oneway`](Self::partition_oneway) from `from` to `to`.
    pub fn repair_oneway(&mut self, from: &str, to: &str) {
        let (from, to) = (self.node(from), self.node(to));
        self.sim.repair_oneway(from, to);
    }

    /// Holds every frame between `a` and `b`, both ways, until [`release`](Self::release):
    /// none is lost, all arrive late.
    pub fn hold(&mut self, a: &str, b: &str) {
        let (a, b) = (self.node(a), self.node(b));
        self.sim.hold(a, b);
    }

    /// Ends a [`hold`](Self::hold): what was held arrives now, in order.
    pub fn release(&mut self, a: &str, b: &str) {
        let (a, b) = (self.node(a), self.node(b));
        self.sim.release(a, b);
    }

    /// The link between a host and the switch, for per-link faults and captures.
    pub fn host_link(&self, name: &str) -> LinkId {
        match self.hosts.get(name) {
            Some(&(_, link)) => link,
            None => panic!("sansnet: no host named {name:?}"),
        }
    }

    /// The node of a host, for the low-level API.
    pub fn host_node(&self, name: &str) -> NodeId {
        self.node(name)
    }

    /// The seed of this run.
    pub fn seed(&self) -> Seed {
        self.sim.seed()
    }

    /// The simulator underneath.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The simulator underneath: fault plans, captures, traces, counters.
    pub fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }
}
