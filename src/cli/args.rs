//! The command line, as clap parses it: every value is checked here, where it is parsed, so
//! that a bad one is reported with the flag that carried it.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use sansnet::explore::{SizeChoice, TopologyChoice};
use sansnet::scenario::{self, WorkloadOverride};
use sansnet_sim::{FaultProfile, Instant, Seed};

/// `sansnet --version`: the version, the git commit it was built from and the features
/// that change what it can run.
pub const VERSION: &str = if cfg!(feature = "planted-bugs") {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("SANSNET_GIT_COMMIT"),
        ", features: planted-bugs)"
    )
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("SANSNET_GIT_COMMIT"),
        ")"
    )
};

const EXIT_STATUS: &str = "\
Exit status: 0 when every run passed, 1 when a run failed, 2 for a usage error, a replay file \
this build cannot run, or artefacts that could not be written; 130 for a sweep that SIGINT or \
SIGTERM stopped before any run failed (it reports what it ran, and a second SIGINT ends it at \
once).";

/// Deterministic network simulation testing over a real TCP/IP stack.
///
/// Every run is a function of its seed: a sweep draws faults from each seed (swarm
/// testing), a failure leaves a replay file, and `replay` reruns it exactly.
#[derive(Debug, Parser)]
#[command(
    name = "sansnet",
    version = VERSION,
    propagate_version = true,
    after_help = EXIT_STATUS,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Log filter, in `RUST_LOG` syntax (overrides `RUST_LOG`): `warn` (the default),
    /// `debug`, `sansnet_sim=trace`... Lines carry the simulated time and the node;
    /// `replay --log trace` shows every frame of one run.
    #[arg(
        long,
        global = true,
        value_name = "FILTER",
        value_parser = parse_log_filter,
        help_heading = "Global options"
    )]
    pub log: Option<String>,
    /// When to colour the output: auto honours NO_COLOR, CLICOLOR and CLICOLOR_FORCE and
    /// colours only a terminal.
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        value_enum,
        default_value_t = ColorWhen::Auto,
        help_heading = "Global options"
    )]
    pub color: ColorWhen,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scenarios over many seeds, each seed drawing its own faults and network.
    ///
    /// Failures keep replay.json, capture.pcapng (every link), capture.pcap (the first
    /// link), trace.jsonl and log.txt in --out/<scenario>-<seed>/, and print the command
    /// that replays them.
    #[command(after_help = EXIT_STATUS)]
    Sweep(SweepArgs),
    /// Rerun one run exactly (from a replay file, or a scenario and a seed), check its trace
    /// hash against the recording and write its artefacts.
    ///
    /// With --at, stop at that simulated time and print every host's socket table and
    /// counters instead.
    #[command(after_help = EXIT_STATUS)]
    Replay(ReplayArgs),
    /// Reduce a failing run to a smaller one that fails the same way: fewer faults, shorter
    /// windows, lower rates, a smaller workload, a simpler network.
    #[command(after_help = EXIT_STATUS)]
    Shrink(ShrinkArgs),
    /// Merge the `--summary` files of a sharded sweep into one report: the same table as
    /// one sweep, failures grouped, after checking that the shards are one sweep's, each
    /// once.
    #[command(after_help = EXIT_STATUS)]
    Merge(MergeArgs),
    /// List the scenarios.
    Scenarios,
    /// Run the server models (event loop, prefork, prefork with SO_REUSEPORT, sync workers
    /// 4 x 2, a thread pool of 200, boss/worker loops) under one client load on a lossy
    /// network, and print what each did: processes, threads, sockets, peak concurrency,
    /// accept-queue overflows, latency percentiles in simulated time.
    Models(ModelsArgs),
    /// Run the RFC conformance scripts and print the requirement table and the matrix.
    Conformance(ConformanceArgs),
    /// Print one line per Ethernet frame given in hex (`-` or nothing: one frame per line of
    /// standard input).
    Decode(DecodeArgs),
    /// Print a shell completion script: `sansnet completions bash > ~/.local/share/bash-completion/completions/sansnet`.
    Completions(CompletionsArgs),
    /// Run sansnet against the Linux kernel's TCP over a TAP device, in a network namespace
    /// of its own (root): an echo or sink server or a client, every byte checked.
    Tap(sansnet_tap::cli::TapArgs),
}

/// `sansnet sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Seeds to run [default: 200; with --time, no limit but the time]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: Option<u64>,
    /// Run seeds until this much wall-clock time is spent (runs under way finish): 90s, 10m,
    /// 1h30m; with --seeds, whichever comes first
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub time: Option<Duration>,
    /// First seed (decimal or 0x hex)
    #[arg(long, value_name = "SEED", default_value = "0", value_parser = parse_seed)]
    pub start: u64,
    /// A scenario to run (repeat for several) [default: every one; see `sansnet scenarios`]
    #[arg(long = "scenario", value_name = "NAME", value_parser = scenario_names())]
    pub scenarios: Vec<String>,
    /// Run only shard K of N (0 <= K < N): the seeds whose index modulo N is K, as CI
    /// splits a sweep over machines
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Runs at once, one per thread [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub jobs: Option<u32>,
    /// Where failures' artefacts go
    #[arg(long, value_name = "DIR", default_value = "sansnet-out")]
    pub out: PathBuf,
    /// One named fault profile for every seed instead of one drawn per seed
    #[arg(long, value_name = "NAME", value_parser = profile_names())]
    pub profile: Option<String>,
    /// Switch on a planted bug (builds with `--features planted-bugs` only)
    #[arg(long, value_name = "BUG", value_parser = plant_parser())]
    pub plant: Option<String>,
    /// Run every N-th seed twice and fail it if the traces differ (0: never)
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub determinism_every: u64,
    /// The network: direct, switched:N, routed:N[:R], or swarm (drawn per seed)
    #[arg(long, value_name = "SHAPE", default_value = "direct", value_parser = parse_topology)]
    pub topology: TopologyChoice,
    /// Workload size per seed: small (the default workloads), medium, large (16 MiB
    /// transfers, 1,000 clients or connections), or mixed (drawn per seed)
    #[arg(long, value_name = "SIZE", default_value = "small", value_parser = parse_size)]
    pub size: SizeChoice,
    /// Workload fields over the size's: bytes=16M,clients=1000,exchanges=50,message_bytes=200
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_workload)]
    pub workload: Option<WorkloadOverride>,
    /// Write what this sweep (or shard) ran and found as JSON, for `sansnet merge`
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Stop after this many failures (0: never)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_failures: usize,
    /// Progress on standard error: auto draws a bar on a terminal and otherwise prints one
    /// summary line at the end; plain prints a line every 5 s (for CI logs)
    #[arg(long, value_name = "HOW", value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// No progress display (--progress none)
    #[arg(long, short = 'q', conflicts_with = "progress")]
    pub quiet: bool,
}

/// `--shard K/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard.
    pub k: u64,
    /// Shards in all.
    pub n: u64,
}

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Plain,
    None,
}

/// `sansnet replay`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("run").required(true).args(["file", "scenario"]))]
pub struct ReplayArgs {
    /// A replay file written by `sweep` or `shrink`
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Replay a seed of this scenario instead, drawn as a sweep draws it
    #[arg(long, value_name = "NAME", value_parser = scenario_names(), requires = "seed")]
    pub scenario: Option<String>,
    /// The seed (decimal or 0x hex)
    #[arg(long, value_name = "SEED", value_parser = parse_seed, requires = "scenario")]
    pub seed: Option<u64>,
    /// The sweep's --profile, if it had one
    #[arg(long, value_name = "NAME", value_parser = profile_names(), requires = "scenario")]
    pub profile: Option<String>,
    /// The sweep's --plant, if it had one
    #[arg(long, value_name = "BUG", value_parser = plant_parser(), requires = "scenario")]
    pub plant: Option<String>,
    /// The sweep's --topology (direct, switched:N, routed:N[:R] or swarm)
    #[arg(long, value_name = "SHAPE", value_parser = parse_topology, requires = "scenario")]
    pub topology: Option<TopologyChoice>,
    /// The sweep's --size, if it had one
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "scenario")]
    pub size: Option<SizeChoice>,
    /// The sweep's --workload, if it had one (or what its replay line says)
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_workload, requires = "scenario")]
    pub workload: Option<WorkloadOverride>,
    /// Stop at this simulated time (3.5, 3.5s, 800ms) and print the socket tables there
    #[arg(long, value_name = "TIME", value_parser = parse_sim_time)]
    pub at: Option<Instant>,
    /// Artefacts go in DIR/replay-<scenario>-<seed>/
    #[arg(long, value_name = "DIR", default_value = "sansnet-out")]
    pub out: PathBuf,
}

/// `sansnet shrink`.
#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// A replay file of a failing run
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where the minimal replay file goes [default: FILE with .min.json]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Wall-clock time to spend: 60, 90s, 5m
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub budget: Duration,
}

/// `sansnet merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Summary files, or directories to search for them
    #[arg(value_name = "FILE|DIR", required = true)]
    pub paths: Vec<PathBuf>,
    /// Also write the merged report as JSON
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write it as JUnit XML (one test case per scenario)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Merge shards that stopped early (a time budget) instead of refusing them
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Shrink the first failure of each group (for at most DURATION each) and group by
    /// what the minimal runs have left: scenario, kind, fault kinds
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub shrink: Option<Duration>,
}

/// `sansnet conformance`.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// The scripts' directory [default: the conformance/ directory of this source tree]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The stack to run the scripts on: sansnet (the requirement table and the matrix),
    /// smoltcp or linux (every script's outcome with the reason), or all (the three side by
    /// side, as conformance/STACKS.md)
    #[arg(long, value_enum, default_value_t = ConformanceStack::Sansnet)]
    pub stack: ConformanceStack,
    /// Scripts run at once (for linux: labs, each a network namespace) [default: the CPUs;
    /// for linux 32, as its scripts mostly wait]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Linux runs in real time: scripts longer than this are not applicable there (the
    /// suite's longest that can run, R2 and persist scripts, take up to 4 minutes; the
    /// keep-alive defaults take hours)
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub max_seconds: u64,
    /// Only the scripts whose names contain one of these (comma-separated; smoltcp, linux
    /// and all)
    #[arg(long, value_name = "PATTERNS", value_delimiter = ',')]
    pub scripts: Vec<String>,
    /// Run one script (its name under scripts/, as `matrix/established/syn_seq_left`) on the
    /// stack (all: on each) and print the whole exchange, or the failure with the segments
    /// before it
    #[arg(long, value_name = "SCRIPT")]
    pub trace: Option<String>,
    /// Write the output to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

/// The stacks `sansnet conformance` can run the scripts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConformanceStack {
    /// sansnet: a host through its frame interface (the engine for `# stacks: engine`)
    Sansnet,
    /// smoltcp 0.14, one TCP socket on an in-memory IP device
    Smoltcp,
    /// The Linux kernel in a network namespace, a raw peer on a TAP device (root; real time)
    Linux,
    /// All of them, side by side
    All,
}

/// `sansnet decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Frames in hex (spaces and colons ignored), or `-` for standard input
    #[arg(value_name = "HEX")]
    pub frames: Vec<String>,
}

/// `sansnet completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

// ----------------------------------------------------------------------------------------
// Value parsers. Each error says what was expected; clap adds the flag and the value.

fn scenario_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        scenario::all()
            .iter()
            .map(|s| PossibleValue::new(s.name()).help(s.describe())),
    )
}

fn profile_names() -> PossibleValuesParser {
    PossibleValuesParser::new(FaultProfile::NAMES)
}

#[cfg(feature = "planted-bugs")]
fn plant_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(
        sansnet_stack::tcp::PlantedBug::ALL
            .iter()
            .map(|b| PossibleValue::new(b.name())),
    )
}

#[cfg(not(feature = "planted-bugs"))]
fn plant_parser() -> fn(&str) -> Result<String, String> {
    |_| Err(crate::cli::runnable::NO_PLANTED_BUGS.to_owned())
}

fn parse_seed(text: &str) -> Result<u64, String> {
    Seed::parse(text)
        .map(|s| s.0)
        .ok_or_else(|| "expected a seed: a number, decimal or 0x hex, below 2^64".to_owned())
}

fn parse_topology(text: &str) -> Result<TopologyChoice, String> {
    TopologyChoice::parse(text)
}

fn parse_size(text: &str) -> Result<SizeChoice, String> {
    SizeChoice::parse(text)
}

fn parse_workload(text: &str) -> Result<WorkloadOverride, String> {
    let mut o = WorkloadOverride::default();
    o.parse_into(text)?;
    let w = sansnet::scenario::Workload {
        bytes: o.bytes.unwrap_or(0),
        clients: o.clients.unwrap_or(0),
        exchanges: o.exchanges.unwrap_or(0),
        message_bytes: o.message_bytes.unwrap_or(0),
    };
    w.check()?;
    Ok(o)
}

/// Where `--shard auto/N` finds K: the task index batch engines set.
pub const SHARD_INDEX_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

fn parse_shard(text: &str) -> Result<Shard, String> {
    let (k, n) = text
        .split_once('/')
        .ok_or("expected K/N, two numbers (3/8: the fourth of eight shards)")?;
    let number = |what: &str, v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("{what} {v:?} is not a number (expected K/N, as in 3/8)"))
    };
    let n = number("N", n)?;
    let k = if k.trim() == "auto" {
        // The index a batch engine gives each of its tasks.
        let (var, value) = SHARD_INDEX_VARS
            .iter()
            .find_map(|v| std::env::var(v).ok().map(|x| (*v, x)))
            .ok_or_else(|| {
                format!(
                    "K is auto but none of {} is set (a Kubernetes Indexed Job sets the first, a \
                     Slurm array the second)",
                    SHARD_INDEX_VARS.join(", ")
                )
            })?;
        number(var, &value)?
    } else {
        number("K", k)?
    };
    if n == 0 {
        return Err("N must be at least 1".to_owned());
    }
    if k >= n {
        return Err(format!(
            "K must be below N: the shards of {n} are 0/{n} to {}/{n}",
            n - 1
        ));
    }
    Ok(Shard { k, n })
}

/// `90`, `90s`, `1.5m`, `1h30m`, `500ms`: a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let hint = "expected a duration such as 90s, 10m, 1h30m or 500ms";
    if text.is_empty() {
        return Err(hint.to_owned());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return positive(Duration::try_from_secs_f64(secs).map_err(|_| hint.to_owned())?);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let units = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(units);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{hint} ({number:?} is not a number)"))?;
        let scale = match unit {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "" => return Err(format!("{hint} ({number:?} needs a unit after it)")),
            other => {
                return Err(format!(
                    "{hint} (unknown unit {other:?}: use ms, s, m or h)"
                ))
            }
        };
        total += Duration::try_from_secs_f64(value * scale).map_err(|_| hint.to_owned())?;
        rest = after;
    }
    positive(total)
}

fn positive(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err("must be more than zero".to_owned())
    } else {
        Ok(d)
    }
}

/// `--at`: simulated seconds (`3.5`) or a duration (`3.5s`, `800ms`); zero is allowed.
fn parse_sim_time(text: &str) -> Result<Instant, String> {
    let d = match text.trim().parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs)
            .map_err(|_| "expected simulated seconds (3.5) or a duration (800ms)".to_owned())?,
        Err(_) => parse_duration(text)?,
    };
    u64::try_from(d.as_nanos())
        .map(Instant::from_nanos)
        .map_err(|_| "beyond the simulator's clock (584 years)".to_owned())
}

fn parse_log_filter(text: &str) -> Result<String, String> {
    crate::cli::logging::parse_filter(text).map(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        for (text, secs) in [
            ("90", 90.0),
            ("90s", 90.0),
            ("10m", 600.0),
            ("1h30m", 5400.0),
            ("1.5m", 90.0),
            ("500ms", 0.5),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs_f64(secs)),
                "{text}"
            );
        }
        for bad in ["", "0", "0s", "10x", "m", "10 m", "-5", "1h30"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("3/8"), Ok(Shard { k: 3, n: 8 }));
        assert_eq!(
            parse_shard("x/8"),
            Err("K \"x\" is not a number (expected K/N, as in 3/8)".to_owned())
        );
        assert_eq!(
            parse_shard("8/8"),
            Err("K must be below N: the shards of 8 are 0/8 to 7/8".to_owned())
        );
        assert!(parse_shard("3").is_err());
        assert!(parse_shard("0/0").is_err());
    }
}

/// `sansnet models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Run only this model (repeat for several) [default: every one]
    #[arg(long = "model", value_name = "NAME", value_parser = parse_model)]
    pub models: Vec<sansnet::models::Model>,
    /// Clients, each one connection at a time
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=4000))]
    pub clients: u64,
    /// Requests per client, one connection each
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub requests: u64,
    /// The seed (think times, losses, ISNs)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Frames lost on the link each way, in percent
    #[arg(long, value_name = "PERCENT", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=50))]
    pub loss: u32,
    /// The backlog every listener asks for
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub backlog: u64,
    /// Print each model's server tables (ss -tuanp, lsof -i, /proc/<pid>/fd) at this
    /// simulated time instead of running to the end
    #[arg(long, value_name = "TIME", value_parser = parse_sim_time)]
    pub at: Option<Instant>,
}

fn parse_model(s: &str) -> Result<sansnet::models::Model, String> {
    sansnet::models::Model::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = sansnet::models::Model::ALL
            .iter()
            .map(|m| m.name())
            .collect();
        format!("expected one of {}", names.join(", "))
    })
}
