//! turmoil's README and gRPC examples under turmoil's `fail_rate` 0.02 and 0.1, over 50
//! seeds each, twice: over `sansnet_turmoil::net` and over `turmoil::net` (the same code,
//! one import apart; see `tests/workloads/`). Prints what the clients got; fails if any
//! bridged request did not complete, or if a seed does not replay to the same frames.
//!
//! ```sh
//! cargo run --release -p sansnet-turmoil --example turmoil_sweep
//! cargo run --release -p sansnet-turmoil --example turmoil_sweep -- --seeds 10 --pcap out/
//! ```
//!
//! `--pcap DIR` writes seed 0's captures, one pcapng per host and run, for Wireshark.

#[path = "../tests/workloads/mod.rs"]
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;

use workloads::{run, sweep, Sweep, Tcp, Workload};

/// Read outside every simulation, for the wall time the summary reports.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

struct Args {
    seeds: u64,
    pcap: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        seeds: 50,
        pcap: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seeds" => {
                let n = it.next().ok_or("--seeds needs a number")?;
                args.seeds = n
                    .parse()
                    .map_err(|_| format!("--seeds: {n:?} is not a number"))?;
            }
            "--pcap" => args.pcap = Some(it.next().ok_or("--pcap needs a directory")?.into()),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--seeds N, --pcap DIR)"
                ))
            }
        }
    }
    Ok(args)
}

fn line(what: &str, rate: f64, seeds: u64, s: &Sweep) -> String {
    format!(
        "{what:<8} fail_rate {rate:<4}  {seeds} seeds: {:>5}/{:<5} requests completed, {:>3} failed, \
         {:>9} bytes checked, {:>3}/{seeds} runs clean, {} redials, longest run {:.1?}",
        s.tally.completed,
        s.tally.requested,
        s.tally.failed,
        s.tally.bytes_checked,
        s.clean_runs,
        s.tally.redials,
        s.longest,
    )
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("turmoil_sweep: {e}");
            return ExitCode::from(2);
        }
    };
    let wall = wall_clock();
    let mut ok = true;
    let mut replayed = true;
    for workload in [Workload::Echo, Workload::Grpc] {
        let name = match workload {
            Workload::Echo => "README echo (2 clients x 10 echoes of 1 B..16 KiB)",
            Workload::Grpc => "gRPC Greeter (3 clients x 10 calls + a 20-reply stream)",
        };
        println!("{name}");
        for rate in [0.02, 0.1] {
            let bridged = sweep(workload, Tcp::Bridged, rate, 0..args.seeds);
            let plain = sweep(workload, Tcp::Plain, rate, 0..args.seeds);
            println!("  {}", line("bridge", rate, args.seeds, &bridged));
            println!("  {}", line("turmoil", rate, args.seeds, &plain));
            let expected = workload.expected().completed * args.seeds;
            if bridged.tally.completed != expected || !bridged.errors.is_empty() {
                eprintln!("  bridge lost requests: {:?}", bridged.errors);
                ok = false;
            }
            let first = run(workload, Tcp::Bridged, rate, 0);
            let again = run(workload, Tcp::Bridged, rate, 0);
            let captures = |r: &workloads::Run| {
                r.hosts
                    .iter()
                    .map(|h| (h.name.clone(), r.bridge.pcapng(&h.name).unwrap_or_default()))
                    .collect::<Vec<_>>()
            };
            if captures(&first) != captures(&again) {
                eprintln!("  seed 0 did not replay to the same frames");
                replayed = false;
            }
            if let Some(dir) = &args.pcap {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    eprintln!("  {}: {e}", dir.display());
                    return ExitCode::from(2);
                }
                for (host, bytes) in captures(&first) {
                    let file = dir.join(format!("{workload:?}-{rate}-seed0-{host}.pcapng"));
                    if let Err(e) = std::fs::write(&file, bytes) {
                        eprintln!("  {}: {e}", file.display());
                        return ExitCode::from(2);
                    }
                }
            }
        }
    }
    if replayed {
        println!("seed 0 of each replayed to the same pcapng bytes");
    }
    println!("{:.1?} wall", wall.elapsed());
    if ok && replayed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
