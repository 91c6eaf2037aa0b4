//! The server models under a load that overwhelms the sync workers: what each report says
//! must follow from the model's shape (8 at once for 4 x 2 threads, the rest queued up to
//! the backlog and then dropped), measured by the run, and the same on every run.

use pretty_assertions::assert_eq;
use sansnet::models::{self, Load, Model, ModelReport};
use sansnet_sim::Duration;

/// 200 clients with little think time against a backlog of 16: about 1,000 requests/s
/// offered, where 4 x 2 blocking threads at 22 ms a request serve about 360.
fn load() -> Load {
    Load {
        clients: 200,
        requests_per_client: 2,
        think_ms: (0, 200),
        backlog: 16,
        ..Load::default()
    }
}

fn run(model: Model) -> ModelReport {
    models::run(model, &load()).unwrap_or_else(|e| panic!("{}: {e}", model.name()))
}

/// (processes, threads, listening sockets) as the run found them.
fn shape(r: &ModelReport) -> (usize, usize, usize) {
    (r.processes, r.threads, r.listening)
}

#[test]
fn sync_workers_serve_eight_at_once_and_the_rest_queue_then_overflow() {
    let r = run(Model::SyncWorkers);
    assert_eq!(shape(&r), (5, 9, 1), "a master and 4 workers of 2 threads");
    assert_eq!(r.concurrent_peak, 8);
    assert_eq!(r.accept_queue_peak, 16, "the queue fills to the backlog");
    assert!(r.accept_queue_overflows > 0, "{r:?}");
    assert!(
        r.connected_peak > 8 && r.connected_peak <= 8 + 16,
        "connected = served + queued: {r:?}"
    );
    assert_eq!(r.completed + r.failed, 400);
    assert_eq!(run(Model::SyncWorkers), r, "the same seed, the same report");
}

#[test]
fn a_thread_pool_and_event_loops_are_not_bounded_by_eight() {
    let pool = run(Model::ThreadPool);
    assert_eq!(shape(&pool), (1, 201, 1));
    assert!(pool.concurrent_peak > 8, "{pool:?}");
    assert_eq!(pool.accept_queue_overflows, 0, "{pool:?}");
    let event_loop = run(Model::EventLoop);
    assert_eq!(shape(&event_loop), (1, 1, 1));
    assert!(event_loop.concurrent_peak > 8, "{event_loop:?}");
    let boss = run(Model::BossWorker);
    assert_eq!(shape(&boss), (1, 9, 1));
    let sync = run(Model::SyncWorkers);
    assert!(
        pool.latency[1] < sync.latency[1],
        "p90: pool {:?} against sync {:?}",
        pool.latency,
        sync.latency
    );
}

#[test]
fn prefork_shares_one_listener_reuseport_gives_each_worker_its_own() {
    let shared = run(Model::Prefork);
    assert_eq!(shape(&shared), (5, 5, 1));
    let reuseport = run(Model::PreforkReusePort);
    assert_eq!(shape(&reuseport), (5, 5, 4));
    assert_eq!(reuseport.completed + reuseport.failed, 400);
    for r in [&shared, &reuseport] {
        let pids: Vec<u32> = r.accepted_per_process.iter().map(|(p, _)| p.0).collect();
        assert_eq!(pids, vec![2, 3, 4, 5], "the workers serve, not the master");
        let accepted: usize = r.accepted_per_process.iter().map(|&(_, n)| n).sum();
        assert!(accepted >= r.completed, "{r:?}");
        assert!(r.accepted_range().0 > 0, "every worker took some: {r:?}");
    }
}

#[test]
fn latency_percentiles_are_ordered_and_in_simulated_time() {
    let r = run(Model::EventLoop);
    let [p50, p90, p99, max] = r.latency;
    assert!(p50 <= p90 && p90 <= p99 && p99 <= max, "{:?}", r.latency);
    // At least the handshake's and the request's round trips (5 ms each way) and 22 ms of
    // work.
    assert!(p50 >= Duration::from_millis(42), "{p50:?}");
    assert!(r.elapsed < Duration::from_secs(600), "{:?}", r.elapsed);
}

#[test]
fn the_command_prints_one_row_per_model_and_the_tables_at_a_time() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sansnet"))
        .args(["models", "--clients", "20", "--requests", "1"])
        .args(["--model", "sync-4x2", "--model", "prefork-reuseport"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[1], ModelReport::HEADER);
    assert!(lines[2].starts_with("sync-4x2 "), "{stdout}");
    assert!(lines[3].starts_with("prefork-reuseport "), "{stdout}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sansnet"))
        .args([
            "models",
            "--clients",
            "20",
            "--model",
            "sync-4x2",
            "--at",
            "1s",
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for want in [
        "users:((\"gunicorn\",pid=1,fd=0),(\"gunicorn\",pid=2,fd=0)",
        "-- lsof -i",
        "-- /proc/5/fd (gunicorn)",
        "0 -> socket:[1]",
    ] {
        assert!(stdout.contains(want), "{want:?} not in:\n{stdout}");
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_sansnet"))
        .args(["models", "--model", "apache"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected one of event-loop"));
}
