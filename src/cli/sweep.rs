//! `sansnet sweep`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sansnet::explore::{self, DrawOptions, StoppedEarly, SweepControl, SweepOptions};
use sansnet::merge::{SweepIdentity, SweepSummary};
use sansnet::scenario;

use super::args::{ProgressMode, SweepArgs};
use super::progress::Progress;
use super::{replay_flags, replay_line, shell_word, style, CliError};

/// SIGINT and SIGTERM set the flag the sweep reads between runs: the runs under way finish
/// and the sweep reports, writing failures' artefacts and `--summary`. A second SIGINT
/// ends the process at once (status 130).
fn interrupt_flag() -> Result<Arc<AtomicBool>, CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let interrupt = Arc::new(AtomicBool::new(false));
    let failed = |e: std::io::Error| CliError::Io(format!("installing the signal handlers: {e}"));
    // Registered first, so that it sees the flag as the previous signal left it.
    flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&interrupt)).map_err(failed)?;
    for sig in [SIGINT, SIGTERM] {
        flag::register(sig, Arc::clone(&interrupt)).map_err(failed)?;
    }
    Ok(interrupt)
}

/// Seeds a sweep runs without `--seeds` or `--time`.
const DEFAULT_SEEDS: u64 = 200;

pub fn sweep(a: SweepArgs) -> Result<(), CliError> {
    let mut scenarios = a.scenarios;
    if scenarios.is_empty() {
        scenarios = scenario::all()
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
    }
    let mut seen = std::collections::BTreeSet::new();
    scenarios.retain(|s| seen.insert(s.clone()));
    // Before any run: hours of sweeping must not end with nowhere to put a failure.
    explore::check_writable(&a.out)
        .map_err(|e| CliError::Io(format!("--out: failures' artefacts cannot be written: {e}")))?;
    let count = match (a.seeds, a.time) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) => DEFAULT_SEEDS,
    };
    let jobs = match a.jobs {
        Some(j) => j as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let opts = SweepOptions {
        scenarios,
        start: a.start,
        count,
        shard: a.shard.map_or((0, 1), |s| (s.k, s.n)),
        jobs,
        determinism_every: a.determinism_every,
        out_dir: None, // written below, with every error reported
        draw: DrawOptions {
            profile: a.profile,
            planted: a.plant,
            size: a.size,
            workload: a.workload.unwrap_or_default(),
        },
        progress: false,
        max_failures: a.max_failures,
    };
    let mode = if a.quiet {
        ProgressMode::None
    } else {
        a.progress
    };
    let interrupt = interrupt_flag()?;
    let progress = Progress::new(mode, opts.runs(), a.time);
    let show = |p: &explore::SweepProgress| progress.update(p);
    let report = explore::sweep_with(
        &opts,
        &a.topology,
        &SweepControl {
            time_budget: a.time,
            on_progress: Some(&show),
            interrupt: Some(&interrupt),
        },
    );
    progress.finish(&report);

    print!("{}", report.table());
    match report.stopped_early {
        Some(StoppedEarly::TimeBudget) => println!("stopped: the time budget is spent"),
        Some(StoppedEarly::MaxFailures) => {
            println!(
                "stopped: {} runs failed (--max-failures)",
                report.failures.len()
            )
        }
        Some(StoppedEarly::Interrupted) => {
            println!("stopped: interrupted (SIGINT or SIGTERM); the runs under way finished")
        }
        None => {}
    }
    let mut not_written = Vec::new();
    let mut report = report;
    for f in &mut report.failures {
        let dir = a.out.join(format!("{}-{}", f.spec.scenario, f.spec.seed));
        let line = match explore::write_artefacts(&f.spec, &dir) {
            Ok((_, Some(replay_file))) => {
                let line = replay_line(&shell_word(&replay_file));
                f.replay_file = Some(replay_file);
                line
            }
            Ok((_, None)) => {
                // The rerun passed: a nondeterministic run; the flags draw it again.
                replay_line(&replay_flags(&f.spec))
            }
            Err(e) => {
                not_written.push(e);
                replay_line(&replay_flags(&f.spec))
            }
        };
        anstream::println!(
            "{} {} -> {}",
            style::bad("FAIL"),
            explore::one_line(&f.spec),
            f.failure
        );
        anstream::println!("     replay: {}", style::strong(&line));
    }
    if let Some(path) = &a.summary {
        let identity = SweepIdentity {
            version: explore::VERSION.to_owned(),
            git_commit: explore::GIT_COMMIT.to_owned(),
            features: if cfg!(feature = "planted-bugs") {
                vec!["planted-bugs".to_owned()]
            } else {
                Vec::new()
            },
            scenarios: opts.scenarios.clone(),
            start: opts.start,
            count: opts.count,
            topology: a.topology.to_string(),
            profile: opts.draw.profile.clone(),
            size: opts.draw.size.to_string(),
            workload: (!opts.draw.workload.is_empty()).then(|| opts.draw.workload.to_string()),
            plant: opts.draw.planted.clone(),
            determinism_every: opts.determinism_every,
            shards: opts.shard.1,
        };
        let dir = path.parent().unwrap_or(std::path::Path::new(""));
        SweepSummary::new(identity, opts.shard.0, &report, dir)
            .save(path)
            .map_err(|e| CliError::Io(format!("--summary: {e}")))?;
    }
    if !not_written.is_empty() {
        return Err(CliError::Io(format!(
            "the artefacts of {} failing runs could not be written:\n  {}",
            not_written.len(),
            not_written.join("\n  ")
        )));
    }
    if report.failures.is_empty() {
        match report.stopped_early {
            Some(StoppedEarly::Interrupted) => Err(CliError::Interrupted(format!(
                "interrupted after {} runs, none failed",
                report.runs
            ))),
            _ => Ok(()),
        }
    } else {
        Err(CliError::Failed(format!(
            "{} of {} runs failed",
            report.failures.len(),
            report.runs
        )))
    }
}
