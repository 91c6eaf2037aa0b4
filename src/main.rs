//! The `sansnet` command: sweep seeds, replay and shrink failures, decode frames, print the
//! conformance report.

use std::path::PathBuf;
use std::process::ExitCode;

use sansnet::decode::{describe_frame, parse_hex};
use sansnet::explore::{self, DrawOptions, ReplayFile, SweepOptions, TopologyChoice};
use sansnet::scenario::{self, RunOptions};
use sansnet_sim::Instant;

const USAGE: &str = "\
sansnet: deterministic network simulation testing over a real TCP/IP stack

usage:
  sansnet sweep [--seeds N] [--start S] [--scenario NAME]... [--shard K/N] [--jobs J]
                [--out DIR] [--profile NAME] [--plant BUG] [--determinism-every N]
                [--topology SHAPE] [--max-failures N] [--quiet]
      run the scenarios over N seeds (default 200), each seed drawing its own faults;
      failures keep replay.json, capture.pcapng (every link), capture.pcap (the first
      link), trace.jsonl and log.txt in DIR (default sansnet-out); exit status 1 if
      anything failed. SHAPE is the network:
      direct (default: one client host and the server on one link), switched:N (N client
      hosts and the server on a switch), routed:N or routed:N:R (N client hosts on one
      subnet, the server on another, R routers between), or swarm (drawn per seed)
  sansnet replay FILE [--at SECONDS] [--out DIR]
  sansnet replay --scenario NAME --seed S [--profile NAME] [--plant BUG] [--topology SHAPE]
                 [--at SECONDS] [--out DIR]
      rerun one run exactly, check its trace hash, write its artefacts; with --at, stop
      there and print every host's ss table and counters
  sansnet shrink FILE [--out FILE] [--budget SECONDS]
      reduce a failing run to a smaller one that fails the same way (fewer faults,
      shorter windows, lower rates, a smaller workload, a simpler network)
  sansnet scenarios
      list the scenarios
  sansnet conformance [DIR]
      run the conformance scripts and print the requirement table and the matrix
  sansnet decode HEX... | sansnet decode -
      print one line per Ethernet frame given in hex";

/// A failed command: the message and the exit status.
struct CmdError(String, u8);

impl<E: std::fmt::Display> From<E> for CmdError {
    fn from(e: E) -> CmdError {
        CmdError(e.to_string(), 2)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("sweep") => sweep(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("shrink") => shrink(&args[1..]),
        Some("scenarios") => scenarios(),
        Some("conformance") => conformance(&args[1..]),
        Some("decode") => decode(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(CmdError(USAGE.to_owned(), 2)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CmdError(msg, code)) => {
            eprintln!("{msg}");
            ExitCode::from(code)
        }
    }
}

/// Flags and positional arguments, parsed by hand to keep the build light.
struct Args {
    flags: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

const BOOLEAN_FLAGS: [&str; 1] = ["--quiet"];

impl Args {
    fn parse(args: &[String]) -> Result<Args, CmdError> {
        let mut flags = Vec::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a.starts_with("--") {
                if BOOLEAN_FLAGS.contains(&a.as_str()) {
                    flags.push((a.clone(), None));
                } else {
                    let v = it
                        .next()
                        .ok_or_else(|| CmdError(format!("{a} needs a value"), 2))?;
                    flags.push((a.clone(), Some(v.clone())));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Args { flags, positional })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, CmdError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| CmdError(format!("{name}: not a number: {v}"), 2)),
        }
    }
}

fn check_plant(plant: Option<&str>) -> Result<Option<String>, CmdError> {
    match plant {
        None => Ok(None),
        #[cfg(feature = "planted-bugs")]
        Some(p) if sansnet_stack::tcp::PlantedBug::from_name(p).is_some() => Ok(Some(p.to_owned())),
        #[cfg(feature = "planted-bugs")]
        Some(p) => Err(CmdError(format!("no planted bug {p:?}"), 2)),
        #[cfg(not(feature = "planted-bugs"))]
        Some(_) => Err(CmdError(
            "--plant needs a build with --features planted-bugs".to_owned(),
            2,
        )),
    }
}

/// `--topology SHAPE`, or `direct`.
fn topology_arg(a: &Args) -> Result<TopologyChoice, CmdError> {
    match a.get("--topology") {
        None => Ok(TopologyChoice::default()),
        Some(t) => TopologyChoice::parse(t).map_err(|e| CmdError(e, 2)),
    }
}

fn sweep(args: &[String]) -> Result<(), CmdError> {
    let a = Args::parse(args)?;
    let mut scenarios = a.all("--scenario");
    if scenarios.is_empty() {
        scenarios = scenario::all()
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
    }
    for s in &scenarios {
        if scenario::lookup(s).is_none() {
            return Err(CmdError(
                format!("no scenario {s:?} (see `sansnet scenarios`)"),
                2,
            ));
        }
    }
    let shard = match a.get("--shard") {
        None => (0, 1),
        Some(v) => {
            let (k, n) = v
                .split_once('/')
                .ok_or_else(|| CmdError(format!("--shard {v}: expected K/N"), 2))?;
            let (k, n): (u64, u64) = (k.parse()?, n.parse()?);
            if n == 0 || k >= n {
                return Err(CmdError(format!("--shard {v}: need 0 <= K < N"), 2));
            }
            (k, n)
        }
    };
    let profile = a.get("--profile").map(str::to_owned);
    if let Some(p) = &profile {
        if sansnet_sim::FaultProfile::by_name(p).is_none() {
            return Err(CmdError(
                format!(
                    "no profile {p:?}; known: {:?}",
                    sansnet_sim::FaultProfile::NAMES
                ),
                2,
            ));
        }
    }
    let topology = topology_arg(&a)?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = SweepOptions {
        scenarios,
        start: a.num("--start", 0)?,
        count: a.num("--seeds", 200)?,
        shard,
        jobs: a.num("--jobs", jobs)?,
        determinism_every: a.num("--determinism-every", 16)?,
        out_dir: Some(PathBuf::from(a.get("--out").unwrap_or("sansnet-out"))),
        draw: DrawOptions {
            profile,
            planted: check_plant(a.get("--plant"))?,
        },
        progress: !a.has("--quiet"),
        max_failures: a.num("--max-failures", 0)?,
    };
    let report = explore::sweep_on(&opts, &topology);
    print!("{}", report.table());
    for f in &report.failures {
        println!("FAIL {} -> {}", explore::one_line(&f.spec), f.failure);
        match &f.replay_file {
            Some(p) => println!("     replay: cargo run --release -- replay {}", p.display()),
            None => println!("     replay: {}", explore::replay_command(&f.spec)),
        }
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        Err(CmdError(
            format!("{} failing runs", report.failures.len()),
            1,
        ))
    }
}

fn replay(args: &[String]) -> Result<(), CmdError> {
    let a = Args::parse(args)?;
    let (spec, recorded) = match a.positional.first() {
        Some(file) => {
            let r = ReplayFile::load(std::path::Path::new(file)).map_err(|e| CmdError(e, 2))?;
            if r.git_commit != explore::GIT_COMMIT {
                println!(
                    "note: recorded by commit {}, this build is {}",
                    r.git_commit,
                    explore::GIT_COMMIT
                );
            }
            (r.spec, Some(r.trace_hash))
        }
        None => {
            let name = a.get("--scenario").ok_or_else(|| {
                CmdError("replay needs FILE or --scenario and --seed".to_owned(), 2)
            })?;
            let sc = scenario::lookup(name)
                .ok_or_else(|| CmdError(format!("no scenario {name:?}"), 2))?;
            let seed = sansnet_sim::Seed::parse(a.get("--seed").unwrap_or(""))
                .ok_or_else(|| CmdError("--seed: expected a number".to_owned(), 2))?;
            let draw = DrawOptions {
                profile: a.get("--profile").map(str::to_owned),
                planted: check_plant(a.get("--plant"))?,
            };
            let topology = topology_arg(&a)?;
            (
                explore::draw_on(sc.as_ref(), seed.0, &draw, &topology),
                None,
            )
        }
    };
    println!("replaying {}", explore::one_line(&spec));
    if let Some(at) = a.get("--at") {
        let secs: f64 = at
            .parse()
            .map_err(|_| CmdError(format!("--at {at}: not a number of seconds"), 2))?;
        let stop = Instant::from_nanos((secs * 1e9) as u64);
        let outcome = scenario::run_with(
            &spec,
            RunOptions {
                stop_at: Some(stop),
                collect_tables: true,
                ..RunOptions::default()
            },
        );
        for t in &outcome.tables {
            println!("{t}");
        }
        return Ok(());
    }
    let dir = PathBuf::from(a.get("--out").unwrap_or("sansnet-out"))
        .join(format!("replay-{}-{}", spec.scenario, spec.seed));
    let (outcome, _) = explore::write_artefacts(&spec, &dir).map_err(|e| CmdError(e, 2))?;
    println!(
        "result: {}",
        outcome
            .result
            .as_ref()
            .map_or_else(|f| f.to_string(), |()| "ok".to_owned())
    );
    println!(
        "trace hash {} at {} after {} steps",
        outcome.trace_hash, outcome.sim_time, outcome.steps
    );
    println!("artefacts in {}", dir.display());
    if let Some(recorded) = recorded {
        if recorded == outcome.trace_hash.to_string() {
            println!("trace hash matches the recording: this is the same run");
        } else {
            println!("TRACE HASH DIFFERS from the recording ({recorded}): this build behaves differently");
            return Err(CmdError("replay diverged".to_owned(), 1));
        }
    }
    Ok(())
}

fn shrink(args: &[String]) -> Result<(), CmdError> {
    let a = Args::parse(args)?;
    let file = a
        .positional
        .first()
        .ok_or_else(|| CmdError("shrink needs a replay FILE".to_owned(), 2))?;
    let r = ReplayFile::load(std::path::Path::new(file)).map_err(|e| CmdError(e, 2))?;
    let budget = std::time::Duration::from_secs(a.num("--budget", 60)?);
    let report = explore::shrink(&r.spec, r.failure.kind, budget);
    for s in &report.steps {
        println!("  - {s}");
    }
    println!(
        "{} attempts; faults {} -> {}; still fails: {}",
        report.attempts, report.faults_before, report.faults_after, report.failure
    );
    let out = a.get("--out").map(PathBuf::from).unwrap_or_else(|| {
        let p = std::path::Path::new(file);
        p.with_file_name(format!(
            "{}.min.json",
            p.file_stem().and_then(|s| s.to_str()).unwrap_or("replay")
        ))
    });
    let outcome = scenario::run(&report.spec);
    ReplayFile {
        spec: report.spec,
        failure: report.failure,
        trace_hash: outcome.trace_hash.to_string(),
        version: explore::VERSION.to_owned(),
        git_commit: explore::GIT_COMMIT.to_owned(),
    }
    .save(&out)
    .map_err(|e| CmdError(e, 2))?;
    println!("minimal replay file: {}", out.display());
    Ok(())
}

fn scenarios() -> Result<(), CmdError> {
    for s in scenario::all() {
        println!("{:<18} {}", s.name(), s.describe());
    }
    println!(
        "\nevery scenario runs on every --topology: direct (default), switched:N, routed:N[:R], swarm"
    );
    Ok(())
}

fn conformance(args: &[String]) -> Result<(), CmdError> {
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/conformance")));
    let report =
        sansnet_conformance::report::run_all(&dir).map_err(|e| CmdError(e.to_string(), 2))?;
    println!("{report}");
    Ok(())
}

fn decode(inputs: &[String]) -> Result<(), CmdError> {
    let lines: Vec<String> = if inputs.is_empty() || inputs == ["-"] {
        use std::io::BufRead;
        std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect()
    } else {
        inputs.to_vec()
    };
    let mut bad = 0;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        match parse_hex(line) {
            Ok(bytes) => println!("{}", describe_frame(&bytes)),
            Err(e) => {
                eprintln!("sansnet decode: {e}");
                bad += 1;
            }
        }
    }
    if bad == 0 {
        Ok(())
    } else {
        Err(CmdError(format!("{bad} lines were not hex"), 1))
    }
}
