//! The command line of `sansnet-tap`, also `sansnet tap` in the `sansnet` command: clap
//! types and [`execute`].

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use sansnet_stack::iface::DropReason;

use crate::{parse_bytes, parse_duration, Error, LabInfo, Mode, Report, RunSpec};

/// `sansnet tap`: the same commands as `sansnet-tap`.
#[derive(Debug, Args)]
pub struct TapArgs {
    /// The command.
    #[command(subcommand)]
    pub command: TapCommand,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum TapCommand {
    /// sansnet serves an echo; a kernel client sends its bytes and checks they come back.
    Echo(RunArgs),
    /// sansnet serves: checks the kernel client's bytes (--recv) and sends its own
    /// (--send), both at once.
    Sink(RunArgs),
    /// The kernel serves; sansnet connects, sends its bytes (--send) and checks the
    /// kernel's (--recv).
    Client(RunArgs),
    /// Says whether this machine can build a lab (privileges, /dev/net/tun, ip).
    Check,
    /// Removes namespaces left behind by labs of processes that were killed outright.
    Cleanup,
}

// The options of a run (a plain comment: a doc comment would replace the commands' own
// descriptions in --help).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bytes each way (binary units: 10MiB, 512k, 4096).
    #[arg(long, value_parser = parse_bytes, default_value = "10MiB")]
    pub bytes: u64,
    /// Bytes sansnet sends (default: --bytes); not for echo.
    #[arg(long, value_parser = parse_bytes)]
    pub send: Option<u64>,
    /// Bytes sansnet receives (default: --bytes); not for echo.
    #[arg(long, value_parser = parse_bytes)]
    pub recv: Option<u64>,
    /// Percentage of frames dropped on sansnet's side, each way.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Percentage of the kernel's frames dropped before sansnet (default: --loss).
    #[arg(long)]
    pub loss_in: Option<f64>,
    /// Percentage of sansnet's frames dropped before the kernel (default: --loss).
    #[arg(long)]
    pub loss_out: Option<f64>,
    /// Seeds the loss injector, the host's secret and the byte patterns.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The server's port (default: 7 for echo, 9 otherwise).
    #[arg(long)]
    pub port: Option<u16>,
    /// A run that has not finished by then fails (500ms, 90s, 2m).
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub timeout: Duration,
    /// Runs, one after another with seeds seed, seed+1, ...; then the medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// No built-in kernel client: serve whoever connects from the namespace (the command
    /// to do so is printed) until Ctrl-C or --serve-for; bytes are counted, not checked.
    #[arg(long, conflicts_with_all = ["send", "recv", "runs"])]
    pub external: bool,
    /// With --external: how long to serve.
    #[arg(long, value_parser = parse_duration, requires = "external")]
    pub serve_for: Option<Duration>,
    /// Print only the RESULT line of each run.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    fn spec(&self, mode: Mode) -> Result<RunSpec, Error> {
        let mut spec = RunSpec::new(mode, self.bytes);
        if mode == Mode::Echo && (self.send.is_some() || self.recv.is_some()) {
            return Err(Error::InvalidSpec(
                "an echo sends back what it receives: give --bytes, not --send or --recv".into(),
            ));
        }
        spec.sansnet_sends = self.send.unwrap_or(self.bytes);
        spec.sansnet_receives = self.recv.unwrap_or(self.bytes);
        spec.loss_in_percent = self.loss_in.unwrap_or(self.loss);
        spec.loss_out_percent = self.loss_out.unwrap_or(self.loss);
        spec.seed = self.seed;
        if let Some(port) = self.port {
            spec.port = port;
        }
        spec.timeout = self.timeout;
        spec.external_peer = self.external;
        spec.serve_for = self.serve_for;
        spec.validate()?;
        Ok(spec)
    }
}

/// SIGINT, SIGTERM and SIGHUP set the flag the loop reads (the lab is then taken down); a
/// second SIGINT ends the process at once (`sansnet-tap cleanup` removes what is left).
fn cancel_flag() -> Result<Arc<AtomicBool>, Error> {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(target_os = "linux")]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::flag;
        let failed = |source| Error::Io {
            context: "installing the signal handlers".into(),
            source,
        };
        flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&flag)).map_err(failed)?;
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            flag::register(sig, Arc::clone(&flag)).map_err(failed)?;
        }
    }
    Ok(flag)
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn print_medians(reports: &[Report]) {
    let col = |f: fn(&Report) -> u64| median(reports.iter().map(f).collect());
    println!(
        "MEDIAN runs={} wall_ms={} retrans_sansnet={} stalls={} stall_ms={} retrans_kernel={} \
         right_edge_acks={} dsacks={} out_of_window={}",
        reports.len(),
        col(|r| r.wall.as_millis() as u64),
        col(|r| r.observed.retransmitted_segments),
        col(|r| r.observed.stalls),
        col(|r| r.observed.stall_time.as_millis() as u64),
        col(|r| r.kernel.retransmitted_segments),
        col(|r| r.observed.right_edge_acks),
        col(|r| r.observed.dsacks_in),
        col(|r| r.host_drops(DropReason::TcpOutOfWindow)),
    );
}

fn announce(info: &LabInfo, spec: &RunSpec) {
    eprintln!(
        "lab up: namespace {}, device {} ({}), sansnet {}; {}",
        info.netns,
        info.device,
        info.kernel_addr,
        info.sansnet_addr,
        if spec.mode.sansnet_serves() {
            format!("sansnet serves on {}", info.server)
        } else {
            format!("the kernel serves on {}", info.server)
        }
    );
    if spec.external_peer {
        eprintln!(
            "connect from the namespace, e.g.: ip netns exec {} nc {} {}   (Ctrl-C ends)",
            info.netns,
            info.server.ip(),
            info.server.port()
        );
    }
}

fn run(mode: Mode, args: &RunArgs) -> Result<(), Error> {
    let spec = args.spec(mode)?;
    let cancel = cancel_flag()?;
    let mut reports = Vec::new();
    for i in 0..args.runs {
        let mut spec = spec.clone();
        spec.seed = spec.seed.wrapping_add(u64::from(i));
        let report = crate::run_with(&spec, Some(Arc::clone(&cancel)), |info| {
            if !args.quiet {
                announce(info, &spec);
            }
        })?;
        if args.quiet {
            println!("{}", report.summary_line());
        } else {
            println!("{report}");
        }
        reports.push(report);
    }
    if reports.len() > 1 {
        print_medians(&reports);
    }
    Ok(())
}

/// Runs a command, printing its reports on stdout and the lab's whereabouts on stderr.
pub fn execute(command: &TapCommand) -> Result<(), Error> {
    match command {
        TapCommand::Echo(args) => run(Mode::Echo, args),
        TapCommand::Sink(args) => run(Mode::Sink, args),
        TapCommand::Client(args) => run(Mode::Client, args),
        TapCommand::Check => crate::check_privileges().map(|p| {
            println!(
                "ok: euid {}, effective capabilities {:#x}; /dev/net/tun and ip present",
                p.euid, p.effective_caps
            );
        }),
        TapCommand::Cleanup => crate::cleanup_stale().map(|removed| {
            if removed.is_empty() {
                println!("nothing to remove");
            }
            for name in removed {
                println!("removed namespace {name}");
            }
        }),
    }
}
