//! The `sansnet` command line: clap parses and checks every argument ([`args`]); each
//! command reports what went wrong as a [`CliError`], whose kind is the exit status.

mod args;
mod logging;
mod merge;
mod models;
mod progress;
mod replay;
mod runnable;
mod style;
mod sweep;
mod tap;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use sansnet::decode::{describe_frame, parse_hex};
use sansnet::explore;
use sansnet::scenario;

use args::{Cli, Command, CompletionsArgs, ConformanceArgs, ConformanceStack, DecodeArgs};

/// Why a command did not succeed; the exit status follows from the kind.
#[derive(Debug)]
pub enum CliError {
    /// Input this build cannot act on that clap could not check: a replay file naming what
    /// this build does not have, an unreadable file, a bad `RUST_LOG`. Exit status 2.
    Usage(String),
    /// The command could not do its work: artefacts or files not written. Exit status 2.
    Io(String),
    /// It did its work, and what it ran failed. Exit status 1.
    Failed(String),
    /// Stopped by SIGINT or SIGTERM, nothing found failing before. Exit status 130, as a
    /// shell reports a command ended by Ctrl-C.
    Interrupted(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Io(_) => 2,
            CliError::Failed(_) => 1,
            CliError::Interrupted(_) => 130,
        }
    }

    fn message(&self) -> &str {
        match self {
            CliError::Usage(m)
            | CliError::Io(m)
            | CliError::Failed(m)
            | CliError::Interrupted(m) => m,
        }
    }
}

/// Parses the command line (clap exits with status 2 on a usage error, 0 after `--help`
/// and `--version`), then runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    style::init(cli.global.color);
    let result = logging::init(cli.global.log.as_deref(), style::stderr_colored())
        .and_then(|()| run(cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            anstream::eprintln!("{} {}", style::bad("error:"), e.message());
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Sweep(a) => sweep::sweep(a),
        Command::Replay(a) => replay::replay(a),
        Command::Shrink(a) => replay::shrink(a),
        Command::Merge(a) => merge::merge(a),
        Command::Scenarios => scenarios(),
        Command::Models(a) => models::models(a),
        Command::Conformance(a) => conformance(a),
        Command::Decode(a) => decode(a),
        Command::Completions(a) => completions(a),
        Command::Tap(a) => tap::tap(a),
    }
}

pub use sansnet::explore::{replay_command_with as replay_line, replay_flags};

/// `path` as a shell word.
pub fn shell_word(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=+,@%".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn scenarios() -> Result<(), CliError> {
    for s in scenario::all() {
        anstream::println!("{:<18} {}", style::strong(s.name()), s.describe());
    }
    println!(
        "\nevery scenario runs on every --topology: direct (default), switched:N, routed:N[:R], swarm"
    );
    Ok(())
}

fn conformance(a: ConformanceArgs) -> Result<(), CliError> {
    let dir = a
        .dir
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/conformance")));
    if !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "{}: not a directory of conformance scripts",
            dir.display()
        )));
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = a.jobs.unwrap_or(cpus);
    let scripts = dir.join("scripts");
    if let Some(name) = &a.trace {
        let path = scripts.join(format!("{}.tcp", name.trim_end_matches(".tcp")));
        let script = sansnet_conformance::load(&scripts, &path).map_err(CliError::Usage)?;
        print!("{}", trace_script(a.stack, &script)?);
        return Ok(());
    }
    let text = match a.stack {
        ConformanceStack::Sansnet => sansnet_conformance::report::run_all(&dir)
            .map_err(|e| CliError::Io(format!("{}: {e}", dir.display())))?
            .to_string(),
        ConformanceStack::Smoltcp => smoltcp_conformance(&scripts, jobs, &a.scripts).to_string(),
        ConformanceStack::Linux => linux_conformance(a.jobs, a.max_seconds, &a.scripts, &scripts)?
            .0
            .to_string(),
        ConformanceStack::All => {
            let (linux, linux_unhonoured) =
                linux_conformance(a.jobs, a.max_seconds, &a.scripts, &scripts)?;
            let mut sansnet = sansnet_conformance::stacks::run_sansnet(&scripts, jobs);
            // The side by side shows the scripts of the run (`--scripts`).
            sansnet.scripts.retain(|(n, _)| selected(&a.scripts, n));
            let runs = vec![
                sansnet,
                linux,
                smoltcp_conformance(&scripts, jobs, &a.scripts),
            ];
            let unhonoured = vec![
                ("linux".to_string(), linux_unhonoured),
                (
                    "smoltcp".to_string(),
                    sansnet_conformance::smoltcp::baseline_unhonoured(),
                ),
            ];
            sansnet_conformance::stacks::side_by_side(&runs, &unhonoured)
        }
    };
    match a.write {
        Some(path) => std::fs::write(&path, &text)
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// Whether `--scripts` (empty: every script) selects the script `name`.
fn selected(patterns: &[String], name: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| name.contains(p.as_str()))
}

/// The scripts `--scripts` selects on smoltcp.
fn smoltcp_conformance(
    scripts: &std::path::Path,
    jobs: usize,
    patterns: &[String],
) -> sansnet_conformance::stacks::StackRun {
    sansnet_conformance::stacks::run_selected(
        "smoltcp",
        scripts,
        jobs,
        &|n: &str| selected(patterns, n),
        sansnet_conformance::stacks::judge_script::<sansnet_conformance::smoltcp::SmoltcpUnderTest>,
    )
}

/// One script's exchange on `stack` (on each of the three for `all`).
fn trace_script(
    stack: ConformanceStack,
    script: &sansnet_conformance::script::Script,
) -> Result<String, CliError> {
    use sansnet_conformance::runner::Judging;
    use sansnet_conformance::stacks::trace;
    let sansnet = || {
        let stacks = &script.header.stacks;
        if !stacks.is_empty() && !stacks.iter().any(|s| s == "host") {
            trace::<sansnet_conformance::engine::EngineUnderTest>(script, Judging::default())
        } else {
            trace::<sansnet_conformance::host::HostUnderTest>(script, Judging::default())
        }
    };
    let smoltcp =
        || trace::<sansnet_conformance::smoltcp::SmoltcpUnderTest>(script, Judging::default());
    let linux = || -> Result<String, CliError> {
        #[cfg(target_os = "linux")]
        {
            sansnet_tap::check_privileges()
                .map_err(|e| CliError::Usage(format!("--stack linux needs a TAP lab, and {e}")))?;
            Ok(trace::<sansnet_conformance::linux::LinuxUnderTest>(
                script,
                sansnet_conformance::stacks::LINUX_JUDGING,
            ))
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(CliError::Usage("--stack linux runs on Linux only".into()))
        }
    };
    Ok(match stack {
        ConformanceStack::Sansnet => sansnet(),
        ConformanceStack::Smoltcp => smoltcp(),
        ConformanceStack::Linux => linux()?,
        ConformanceStack::All => format!(
            "== sansnet\n{}\n== linux\n{}\n== smoltcp\n{}",
            sansnet(),
            linux()?,
            smoltcp()
        ),
    })
}

/// The scripts on the Linux kernel (real time, a lab per script; needs root), and what of
/// the baseline configuration Linux cannot be set to.
fn linux_conformance(
    jobs: Option<usize>,
    max_seconds: u64,
    patterns: &[String],
    scripts: &std::path::Path,
) -> Result<(sansnet_conformance::stacks::StackRun, Vec<String>), CliError> {
    #[cfg(target_os = "linux")]
    {
        sansnet_tap::check_privileges()
            .map_err(|e| CliError::Usage(format!("--stack linux needs a TAP lab, and {e}")))?;
        let jobs = jobs.unwrap_or(32);
        let max = sansnet::stack::time::Duration::from_secs(max_seconds);
        let patterns = patterns.to_vec();
        let select = move |name: &str| selected(&patterns, name);
        let run = sansnet_conformance::stacks::run_linux(scripts, jobs, max, 2, &select);
        Ok((run, sansnet_conformance::linux::baseline_unhonoured()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (jobs, max_seconds, patterns, scripts);
        Err(CliError::Usage("--stack linux runs on Linux only".into()))
    }
}

fn decode(a: DecodeArgs) -> Result<(), CliError> {
    let lines: Vec<String> = if a.frames.is_empty() || a.frames == ["-"] {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("sansnet decode: one frame in hex per line; end with Ctrl-D");
        }
        stdin
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::Io(format!("standard input: {e}")))?
    } else {
        a.frames
    };
    let mut bad = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_hex(line) {
            Ok(bytes) => println!("{}", describe_frame(&bytes)),
            Err(e) => bad.push(format!("frame {}: {}", n + 1, e)),
        }
    }
    match bad.as_slice() {
        [] => Ok(()),
        [one] => Err(CliError::Usage(one.clone())),
        many => Err(CliError::Usage(format!(
            "{} frames are not hex:\n  {}",
            many.len(),
            many.join("\n  ")
        ))),
    }
}

fn completions(a: CompletionsArgs) -> Result<(), CliError> {
    clap_complete::generate(
        a.shell,
        &mut Cli::command(),
        "sansnet",
        &mut std::io::stdout(),
    );
    Ok(())
}

/// Reads a replay file; a file that is missing or not one is a usage error.
fn load(path: &std::path::Path) -> Result<explore::ReplayFile, CliError> {
    explore::ReplayFile::load(path)
        .map_err(|e| CliError::Usage(format!("cannot read the replay file {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn odd_hex_is_blamed_on_its_length() {
        assert_eq!(
            parse_hex("525").unwrap_err().to_string(),
            "3 hex digits: a frame is whole bytes, two digits each"
        );
        assert_eq!(
            parse_hex("52x5").unwrap_err().to_string(),
            "'x' at character 2 is not a hex digit"
        );
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_they_must_be() {
        assert_eq!(
            shell_word(std::path::Path::new("sansnet-out/bulk-42/replay.json")),
            "sansnet-out/bulk-42/replay.json"
        );
        assert_eq!(
            shell_word(std::path::Path::new("my out/it's.json")),
            r"'my out/it'\''s.json'"
        );
    }
}
