//! The workloads of turmoil's README and gRPC examples, each written once and built twice:
//! over `sansnet_turmoil::net` and over `turmoil::net`, the one import that differs. Shared
//! by the tests and the `turmoil_sweep` example.

#![allow(dead_code)]

pub mod echo;
pub mod grpc;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// What the clients of one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests the clients meant to make (a gRPC stream counts each reply).
    pub requested: u64,
    /// Requests answered, every byte of the answer checked.
    pub completed: u64,
    /// Bytes of answers checked against what the server must have sent.
    pub bytes_checked: u64,
    /// Requests that failed (an error, or no answer within the timeout); a client stops at
    /// its first.
    pub failed: u64,
    /// Connection attempts beyond one per client.
    pub redials: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.requested += o.requested;
        self.completed += o.completed;
        self.bytes_checked += o.bytes_checked;
        self.failed += o.failed;
        self.redials += o.redials;
    }
}

pub type Shared = Rc<RefCell<Tally>>;

/// Which TCP the workload runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tcp {
    /// `sansnet_turmoil::net`.
    Bridged,
    /// `turmoil::net`.
    Plain,
}

/// How long a client waits for one answer before it counts the request failed. turmoil's
/// TCP never answers once a segment is lost, so this bounds what a hang costs.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The turmoil simulation of one seed: `fail_rate` on every link, turmoil's default
/// latency (0 to 100 ms per message), and room for TCP's backoff after bad luck.
pub fn simulation<'a>(seed: u64, fail_rate: f64) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .fail_rate(fail_rate)
        .simulation_duration(Duration::from_secs(600))
        .build()
}

/// Seeds per fail rate: `SANSNET_TURMOIL_SEEDS` if set, else `default`.
pub fn seeds(default: u64) -> u64 {
    match std::env::var("SANSNET_TURMOIL_SEEDS") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("SANSNET_TURMOIL_SEEDS={text:?} is not a number")),
        Err(_) => default,
    }
}

/// Which of turmoil's examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// The README's echo server.
    Echo,
    /// The gRPC Greeter.
    Grpc,
}

impl Workload {
    /// Every request of one run, all answered.
    pub fn expected(self) -> Tally {
        match self {
            Workload::Echo => echo::expected(),
            Workload::Grpc => grpc::expected(),
        }
    }
}

/// One seed of one workload.
#[derive(Debug)]
pub struct Run {
    pub tally: Tally,
    /// `sim.run()`'s outcome (a client's error, or the simulation's time limit).
    pub result: Result<(), String>,
    /// Simulated time the run took.
    pub elapsed: Duration,
    /// What each bridged host's bridge counted and captured (empty over plain turmoil).
    pub hosts: Vec<sansnet_turmoil::HostInfo>,
    pub bridge: sansnet_turmoil::Bridge,
}

/// Runs `workload` over `tcp` on seed `seed` with turmoil's `fail_rate`; the bridge
/// takes its seed from the same number and adds `extra` faults.
pub fn run_with(
    workload: Workload,
    tcp: Tcp,
    fail_rate: f64,
    seed: u64,
    extra: sansnet_turmoil::Config,
) -> Run {
    let bridge = sansnet_turmoil::Bridge::new(extra.seed(seed)).expect("a valid configuration");
    let mut sim = simulation(seed, fail_rate);
    let tally = Shared::default();
    match workload {
        Workload::Echo => echo::install(&mut sim, tcp, &tally),
        Workload::Grpc => grpc::install(&mut sim, tcp, &tally),
    }
    let result = bridge.run(&mut sim).map_err(|e| e.to_string());
    let elapsed = sim.elapsed();
    drop(sim);
    let tally = *tally.borrow();
    Run {
        tally,
        result,
        elapsed,
        hosts: bridge.hosts(),
        bridge,
    }
}

/// [`run_with`] with no extra faults and captures on.
pub fn run(workload: Workload, tcp: Tcp, fail_rate: f64, seed: u64) -> Run {
    let config = sansnet_turmoil::Config::new().capture(true);
    run_with(workload, tcp, fail_rate, seed, config)
}

/// Runs over `seeds`, summing what the clients saw.
#[derive(Debug, Default)]
pub struct Sweep {
    pub runs: u64,
    /// Runs whose every request completed.
    pub clean_runs: u64,
    pub tally: Tally,
    pub longest: Duration,
    /// Runs that ended in an error (a client's, or turmoil's time limit), with it.
    pub errors: Vec<(u64, String)>,
}

pub fn sweep(workload: Workload, tcp: Tcp, fail_rate: f64, seeds: std::ops::Range<u64>) -> Sweep {
    let mut s = Sweep::default();
    for seed in seeds {
        let config = sansnet_turmoil::Config::new();
        let r = run_with(workload, tcp, fail_rate, seed, config);
        s.runs += 1;
        if r.tally.completed == r.tally.requested && r.result.is_ok() {
            s.clean_runs += 1;
        }
        s.tally += r.tally;
        s.longest = s.longest.max(r.elapsed);
        if let Err(e) = r.result {
            s.errors.push((seed, e));
        }
    }
    s
}
