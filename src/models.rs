//! Server models side by side: one event loop, prefork workers sharing a listener,
//! prefork workers with SO_REUSEPORT, sync workers x threads, a thread pool, and boss/worker
//! event loops, each as processes and threads of a simulated server ([`sansnet_sim::process`])
//! under the same client load on the same lossy network. Every figure of a
//! [`ModelReport`] is measured in the run (the server's tables sampled, the clients'
//! latencies timed in simulated time), none is written down from the model's definition:
//! that sync workers 4 x 2 serve at most 8 connections at once, and that the rest wait in
//! the accept queue and then overflow it, is what the run shows.
//!
//! Work per request is modelled as CPU time then I/O wait (a database call, say). CPU time
//! needs the thread that serves the request and one of the host's cores, taken first come
//! first served (`Cpu`): an event loop runs its connections' CPU time one after another,
//! while its I/O waits overlap; a blocking thread holds its connection from accept to close.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use sansnet_sim::exec::{self, JoinHandle};
use sansnet_sim::fault::LossModel;
use sansnet_sim::process::{HostThreads, Listener, Process, Stream};
use sansnet_sim::{one_nic_config, Duration, Instant, LinkFaults, NodeId, Probability, Seed, Sim};
use sansnet_sim::{RunError, SimRng, TcpStream};
use sansnet_stack::iface::{Host, Pid, SocketState};
use sansnet_stack::tcp::State;

/// A server model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Model {
    /// One process, one thread, every connection a coroutine on it (uvicorn).
    EventLoop,
    /// A master listens and forks 4 workers, each an event loop accepting from the shared
    /// listener (uvicorn --workers 4, nginx without reuseport).
    Prefork,
    /// A master forks 4 workers, each listening on the port with SO_REUSEPORT: the host
    /// spreads connections across them by a hash of the 4-tuple.
    PreforkReusePort,
    /// gunicorn's sync/gthread shape: a master listens, 4 workers x 2 threads, each
    /// thread blocking on one connection from accept to close.
    SyncWorkers,
    /// One process with a pool of 200 threads, each blocking on one connection (Tomcat's
    /// default maxThreads).
    ThreadPool,
    /// Netty: a boss thread accepts and hands each connection to one of 8 worker event
    /// loops, round robin.
    BossWorker,
}

impl Model {
    /// Every model, in the order the table shows them.
    pub const ALL: [Model; 6] = [
        Model::EventLoop,
        Model::Prefork,
        Model::PreforkReusePort,
        Model::SyncWorkers,
        Model::ThreadPool,
        Model::BossWorker,
    ];

    /// Its name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Model::EventLoop => "event-loop",
            Model::Prefork => "prefork",
            Model::PreforkReusePort => "prefork-reuseport",
            Model::SyncWorkers => "sync-4x2",
            Model::ThreadPool => "thread-pool-200",
            Model::BossWorker => "boss-worker",
        }
    }

    /// The model named `name`.
    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The client load and the server's machine, the same for every model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    /// The run's seed (think times, losses, ISNs).
    pub seed: u64,
    /// Clients, each one connection at a time.
    pub clients: usize,
    /// Requests each client makes, one connection each (HTTP/1.0 style: the server closes).
    pub requests_per_client: usize,
    /// A client waits a uniform time in this range before each request, in ms.
    pub think_ms: (u64, u64),
    /// CPU time per request.
    pub cpu: Duration,
    /// I/O wait per request (after the CPU time), holding the connection but no core.
    pub io_wait: Duration,
    /// The server's cores.
    pub cores: usize,
    /// The backlog every listener asks for.
    pub backlog: usize,
    /// One-way latency of the link.
    pub latency: Duration,
    /// Frames lost each way, in parts per million.
    pub loss_ppm: u32,
    /// Request and response sizes in bytes.
    pub request_bytes: usize,
    /// Response size in bytes.
    pub response_bytes: usize,
}

impl Default for Load {
    /// 1,000 clients thinking 0.5 to 1.5 s between requests (about 1,000 requests/s
    /// offered), 2 ms of CPU and 20 ms of I/O per request on 4 cores, backlog 128, 5 ms
    /// each way and 1% loss.
    fn default() -> Load {
        Load {
            seed: 1,
            clients: 1000,
            requests_per_client: 5,
            think_ms: (500, 1500),
            cpu: Duration::from_millis(2),
            io_wait: Duration::from_millis(20),
            cores: 4,
            backlog: 128,
            latency: Duration::from_millis(5),
            loss_ppm: 10_000,
            request_bytes: 100,
            response_bytes: 1000,
        }
    }
}

/// What one model did under the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelReport {
    /// The model.
    pub model: Model,
    /// Processes on the server host.
    pub processes: usize,
    /// The most threads alive at once on the server.
    pub threads: usize,
    /// Listening sockets.
    pub listening: usize,
    /// The most connected sockets the server held at once (accepted or waiting in an
    /// accept queue), sampled every 5 ms.
    pub connected_peak: usize,
    /// The most connections being served at once (accepted, not yet closed).
    pub concurrent_peak: usize,
    /// The longest accept queue seen (sum over listeners), sampled every 5 ms.
    pub accept_queue_peak: usize,
    /// Connections the server dropped because an accept queue was full.
    pub accept_queue_overflows: u64,
    /// Connections each serving process accepted, by pid: how evenly a shared listener
    /// (whichever worker is free takes the next) or a reuseport group (a hash of the
    /// 4-tuple picks) spread them.
    pub accepted_per_process: Vec<(Pid, usize)>,
    /// Requests answered in full.
    pub completed: usize,
    /// Requests that failed (refused, reset, timed out).
    pub failed: usize,
    /// Request latency from the client's connect to the response's last byte: 50th, 90th
    /// and 99th percentile and the maximum.
    pub latency: [Duration; 4],
    /// Simulated time the run took.
    pub elapsed: Duration,
}

impl ModelReport {
    /// The table's header, matching [`Display`](fmt::Display)'s columns.
    pub const HEADER: &'static str = "model               procs threads listen  conn-peak  busy-peak  acceptq-peak  overflows  accepted/proc   done failed    p50-ms    p90-ms    p99-ms    max-ms";

    /// The fewest and the most connections one serving process accepted.
    pub fn accepted_range(&self) -> (usize, usize) {
        let counts = self.accepted_per_process.iter().map(|&(_, n)| n);
        (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0))
    }
}

fn ms(d: Duration) -> String {
    let us = d.as_nanos() / 1000;
    format!("{}.{:01}", us / 1000, (us % 1000) / 100)
}

impl fmt::Display for ModelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<19} {:>5} {:>7} {:>6} {:>10} {:>10} {:>13} {:>10} {:>14} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}",
            self.model.name(),
            self.processes,
            self.threads,
            self.listening,
            self.connected_peak,
            self.concurrent_peak,
            self.accept_queue_peak,
            self.accept_queue_overflows,
            match self.accepted_range() {
                (lo, hi) if lo == hi => format!("{lo}"),
                (lo, hi) => format!("{lo}-{hi}"),
            },
            self.completed,
            self.failed,
            ms(self.latency[0]),
            ms(self.latency[1]),
            ms(self.latency[2]),
            ms(self.latency[3]),
        )
    }
}

/// How long a server waits for a request to arrive on a connection it accepted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the server's socket table is sampled for the peaks.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(5);

const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

/// The server's cores and each event loop's thread, as the instants they are next free:
/// a request's CPU time starts when its loop (if any) and the earliest free core are both
/// free, in the order requests ask. No waker is held, so no host is put on the tick grid.
#[derive(Debug)]
struct Cpu {
    cores: RefCell<Vec<Instant>>,
    time: Duration,
}

impl Cpu {
    /// Runs one request's CPU time, on `thread` (an event loop's next free instant), or on
    /// a thread of its own (None).
    async fn run(&self, thread: Option<&Cell<Instant>>) {
        let now = exec::now();
        let end = {
            let mut cores = self.cores.borrow_mut();
            let (core, free) = cores
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(i, t)| (t, i))
                .unwrap_or((0, now));
            let start = now.max(free).max(thread.map_or(now, Cell::get));
            let end = start + self.time;
            if let Some(slot) = cores.get_mut(core) {
                *slot = end;
            }
            if let Some(t) = thread {
                t.set(end);
            }
            end
        };
        exec::sleep_until(end).await;
    }
}

/// The server's counters, shared by its tasks.
#[derive(Debug, Default)]
struct Busy {
    now: Cell<usize>,
    peak: Cell<usize>,
}

struct Server {
    cpu: Cpu,
    io_wait: Duration,
    request_bytes: usize,
    response: Vec<u8>,
    busy: Busy,
    accepted: RefCell<BTreeMap<Pid, usize>>,
}

impl Server {
    /// Serves one connection: read the request, CPU time, I/O wait, the response, close.
    async fn serve(&self, stream: Stream, thread: Option<&Cell<Instant>>) {
        *self.accepted.borrow_mut().entry(stream.pid()).or_default() += 1;
        self.busy.now.set(self.busy.now.get() + 1);
        self.busy
            .peak
            .set(self.busy.peak.get().max(self.busy.now.get()));
        let mut got = 0;
        let mut buf = [0u8; 512];
        // A request that does not arrive in time (its client gave up, its packets lost
        // for good) is dropped, as every server bounds it (Tomcat's connectionTimeout,
        // gunicorn's worker timeout): otherwise a dead client holds a blocking thread for
        // ever.
        let read = async {
            while got < self.request_bytes {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
        };
        let _timed_out = exec::timeout(REQUEST_TIMEOUT, read).await;
        if got >= self.request_bytes {
            self.cpu.run(thread).await;
            exec::sleep(self.io_wait).await;
            let _reset_by_peer = stream.write_all(&self.response).await;
        }
        drop(stream);
        self.busy.now.set(self.busy.now.get() - 1);
    }
}

/// An event loop on the calling thread: accepts from `listener` and serves every
/// connection as a coroutine whose CPU time runs on this loop's thread.
async fn event_loop(server: Rc<Server>, listener: Rc<Listener>) {
    let thread = Rc::new(Cell::new(Instant::ZERO));
    loop {
        // A loop busy with a request's CPU time is not in `epoll_wait`: it accepts when
        // it is free, and meanwhile another worker on a shared listener takes the
        // connection, or it waits in the accept queue.
        if thread.get() > exec::now() {
            exec::sleep_until(thread.get()).await;
            continue;
        }
        let Ok((stream, _)) = listener.accept().await else {
            break;
        };
        let (server, thread) = (server.clone(), thread.clone());
        exec::spawn(async move { server.serve(stream, Some(&thread)).await });
        // One connection per turn, then the other tasks woken at this instant (the
        // other workers on a shared listener) get theirs: a wake-one accept, as
        // EPOLLEXCLUSIVE or a blocking accept gives, rather than one idle worker taking a
        // whole burst.
        exec::yield_now().await;
    }
}

/// A blocking thread: one connection at a time, from accept to close.
async fn blocking_loop(server: Rc<Server>, listener: Rc<Listener>) {
    while let Ok((stream, _)) = listener.accept().await {
        server.serve(stream, None).await;
    }
}

/// Starts `model`'s processes and threads on the server (from a task on it).
fn start(model: Model, node: NodeId, server: Rc<Server>, load: &Load, threads: Rc<HostThreads>) {
    let name = |p: &Process, n: &str| {
        let _ = exec::with_node::<Host, _>(node, |h, _| h.set_process_name(p.pid(), n));
    };
    let backlog = load.backlog;
    let expect = |r: std::io::Result<Process>| r.expect("the server's process table has room");
    match model {
        Model::EventLoop => {
            let p = Process::init(node, 1, threads);
            name(&p, "uvicorn");
            let l = Rc::new(p.listen(SERVER, backlog, false).expect("listen"));
            exec::spawn(event_loop(server, l));
        }
        Model::Prefork | Model::SyncWorkers => {
            let (workers, per_worker, title) = match model {
                Model::Prefork => (4, 1, "uvicorn"),
                _ => (4, 2, "gunicorn"),
            };
            let master = Process::init(node, 1, threads);
            name(&master, title);
            let master_listener = master.listen(SERVER, backlog, false).expect("listen");
            let fd = master_listener.fd();
            // The master keeps its copy for the whole run, as gunicorn's arbiter does
            // (workers come and go): never dropped, so never closed.
            std::mem::forget(master_listener);
            for _ in 0..workers {
                let w = expect(master.fork(per_worker));
                let l = Rc::new(w.listener(fd));
                if model == Model::Prefork {
                    exec::spawn(event_loop(server.clone(), l));
                } else {
                    exec::spawn(blocking_loop(server.clone(), l.clone()));
                    for _ in 1..per_worker {
                        w.spawn_thread(blocking_loop(server.clone(), l.clone()))
                            .expect("within the worker's thread limit");
                    }
                }
            }
        }
        Model::PreforkReusePort => {
            let master = Process::init(node, 1, threads);
            name(&master, "nginx");
            for _ in 0..4 {
                let w = expect(master.fork(1));
                let l = Rc::new(w.listen(SERVER, backlog, true).expect("reuseport listen"));
                exec::spawn(event_loop(server.clone(), l));
            }
        }
        Model::ThreadPool => {
            let p = Process::init(node, 201, threads);
            name(&p, "java");
            let l = Rc::new(p.listen(SERVER, backlog, false).expect("listen"));
            for _ in 0..200 {
                p.spawn_thread(blocking_loop(server.clone(), l.clone()))
                    .expect("within the pool's thread limit");
            }
        }
        Model::BossWorker => {
            let p = Process::init(node, 9, threads);
            name(&p, "java");
            let l = p.listen(SERVER, backlog, false).expect("listen");
            // Each worker loop is a thread whose clock of CPU time its connections share;
            // the boss (the main thread) accepts and hands them out round robin.
            let loops: Vec<Rc<Cell<Instant>>> = (0..8)
                .map(|_| {
                    p.spawn_thread(std::future::pending::<()>())
                        .expect("within the thread limit");
                    Rc::new(Cell::new(Instant::ZERO))
                })
                .collect();
            exec::spawn(async move {
                let mut next = 0;
                while let Ok((stream, _)) = l.accept().await {
                    let (server, thread) = (server.clone(), loops[next % loops.len()].clone());
                    next += 1;
                    exec::spawn(async move { server.serve(stream, Some(&thread)).await });
                }
            });
        }
    }
}

#[derive(Debug, Default)]
struct Samples {
    connected_peak: Cell<usize>,
    accept_queue_peak: Cell<usize>,
}

/// Samples the server's socket table every `SAMPLE_INTERVAL` until `done`.
async fn sample(node: NodeId, samples: Rc<Samples>, done: Rc<Cell<bool>>) {
    while !done.get() {
        let (connected, queued) = exec::with_node::<Host, _>(node, |h, _| {
            let (mut connected, mut queued) = (0, 0);
            for row in h.ss() {
                match row.state {
                    SocketState::Listen => queued += row.recv_q,
                    // Held by a process, or waiting in an accept queue for one: a
                    // connection the server closed (FIN-WAIT, TIME-WAIT) is not.
                    SocketState::Tcp(State::Established | State::CloseWait) => connected += 1,
                    _ => {}
                }
            }
            (connected, queued)
        })
        .unwrap_or((0, 0));
        samples
            .connected_peak
            .set(samples.connected_peak.get().max(connected));
        samples
            .accept_queue_peak
            .set(samples.accept_queue_peak.get().max(queued));
        exec::sleep(SAMPLE_INTERVAL).await;
    }
}

/// One client: `requests` times, think, connect, send the request, read the response to
/// its end; each request's latency (or failure) recorded.
async fn client(
    node: NodeId,
    mut rng: SimRng,
    load: Rc<Load>,
    latencies: Rc<RefCell<Vec<Duration>>>,
    failed: Rc<Cell<usize>>,
) {
    let request = vec![b'q'; load.request_bytes];
    for _ in 0..load.requests_per_client {
        let think = rng.range_inclusive(load.think_ms.0, load.think_ms.1);
        exec::sleep(Duration::from_millis(think)).await;
        let t0 = exec::now();
        let outcome = async {
            use futures::io::{AsyncReadExt, AsyncWriteExt};
            let mut conn = TcpStream::connect(node, SERVER).await?;
            conn.write_all(&request).await?;
            let mut response = Vec::new();
            conn.read_to_end(&mut response).await?;
            Ok::<usize, std::io::Error>(response.len())
        }
        .await;
        match outcome {
            Ok(n) if n == load.response_bytes => latencies.borrow_mut().push(exec::now() - t0),
            _ => failed.set(failed.get() + 1),
        }
    }
}

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = (sorted.len() * per_mille).div_ceil(1000).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// A model's simulation, built and not yet run.
struct Built {
    sim: Sim,
    server_host: NodeId,
    all_done: JoinHandle<()>,
    server: Rc<Server>,
    threads: Rc<HostThreads>,
    samples: Rc<Samples>,
    latencies: Rc<RefCell<Vec<Duration>>>,
    failed: Rc<Cell<usize>>,
}

fn build(model: Model, load: &Load) -> Built {
    let mut sim = Sim::new(Seed(load.seed));
    // Overloaded models run long (clients back off and retry their SYNs): the step
    // budget is for livelocks, not for them.
    sim.set_limits(sansnet_sim::Limits {
        max_steps: 1 << 32,
        ..sim.limits()
    });
    let clients_host = sim.add_host_with("clients", 1, |ctx| {
        let mut cfg = one_nic_config(ctx, Ipv4Addr::new(10, 0, 0, 1), 24);
        // One descriptor per client at most, and room for the rest.
        cfg.limits.max_descriptors = cfg.limits.max_descriptors.max(2 * 1024);
        cfg
    });
    sim.set_addr("clients", Ipv4Addr::new(10, 0, 0, 1));
    let server_host = sim.add_host("server", *SERVER.ip(), 24);
    let faults = LinkFaults {
        loss: if load.loss_ppm == 0 {
            LossModel::None
        } else {
            LossModel::Independent {
                rate: Probability::per_million(load.loss_ppm),
            }
        },
        ..LinkFaults::with_latency(load.latency)
    };
    sim.connect(sim.nic(clients_host, 0), sim.nic(server_host, 0), faults);

    let server = Rc::new(Server {
        cpu: Cpu {
            cores: RefCell::new(vec![Instant::ZERO; load.cores.max(1)]),
            time: load.cpu,
        },
        io_wait: load.io_wait,
        request_bytes: load.request_bytes,
        response: vec![b'r'; load.response_bytes],
        busy: Busy::default(),
        accepted: RefCell::new(BTreeMap::new()),
    });
    let threads = Rc::new(HostThreads::default());
    let samples = Rc::new(Samples::default());
    let done = Rc::new(Cell::new(false));
    {
        let (server, threads, load) = (server.clone(), threads.clone(), load.clone());
        let (samples, done) = (samples.clone(), done.clone());
        sim.spawn_on(server_host, async move {
            start(model, server_host, server, &load, threads);
            sample(server_host, samples, done).await;
        });
    }
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let failed = Rc::new(Cell::new(0));
    let load_rc = Rc::new(load.clone());
    let handles: Vec<JoinHandle<()>> = (0..load.clients)
        .map(|i| {
            let rng = Seed(load.seed).stream(&format!("client {i}"));
            sim.spawn_on(
                clients_host,
                client(
                    clients_host,
                    rng,
                    load_rc.clone(),
                    latencies.clone(),
                    failed.clone(),
                ),
            )
        })
        .collect();
    let all_done = sim.spawn_on(clients_host, async move {
        for h in handles {
            h.await;
        }
        done.set(true);
    });
    Built {
        sim,
        server_host,
        all_done,
        server,
        threads,
        samples,
        latencies,
        failed,
    }
}

/// Runs `model` under `load` until every client is done, and measures it.
pub fn run(model: Model, load: &Load) -> Result<ModelReport, RunError> {
    let mut b = build(model, load);
    b.sim.run_until_complete(&b.all_done)?;
    let elapsed = b.sim.now() - Instant::ZERO;
    let (processes, listening, overflows) = b
        .sim
        .with_node::<Host, _>(b.server_host, |h, _| {
            let listening = h
                .ss()
                .iter()
                .filter(|r| r.state == SocketState::Listen)
                .count();
            (
                h.processes().len(),
                listening,
                h.counters().tcp.accept_queue_overflows,
            )
        })
        .unwrap_or_default();
    let accepted_per_process: Vec<(Pid, usize)> = b
        .server
        .accepted
        .borrow()
        .iter()
        .map(|(&pid, &n)| (pid, n))
        .collect();
    let mut sorted = b.latencies.borrow().clone();
    sorted.sort();
    Ok(ModelReport {
        model,
        processes,
        threads: b.threads.peak(),
        listening,
        connected_peak: b.samples.connected_peak.get(),
        concurrent_peak: b.server.busy.peak.get(),
        accept_queue_peak: b.samples.accept_queue_peak.get(),
        accept_queue_overflows: overflows,
        accepted_per_process,
        completed: sorted.len(),
        failed: b.failed.get(),
        latency: [
            percentile(&sorted, 500),
            percentile(&sorted, 900),
            percentile(&sorted, 990),
            sorted.last().copied().unwrap_or(Duration::ZERO),
        ],
        elapsed,
    })
}

/// Runs `model` under `load` until `at` (or until the clients are done, if sooner) and
/// returns the server's `ss -tuanp`, `lsof -i` and `/proc/<pid>/fd` tables then.
pub fn tables_at(model: Model, load: &Load, at: Instant) -> Result<String, RunError> {
    let mut b = build(model, load);
    let done = &b.all_done;
    b.sim.run_until_condition_or(at, |_| done.is_finished())?;
    let now = b.sim.now();
    Ok(b.sim
        .with_node::<Host, _>(b.server_host, |h, _| {
            format!(
                "== {} server at {now}\n{}",
                model.name(),
                crate::scenario::process_tables(h)
            )
        })
        .unwrap_or_default())
}
