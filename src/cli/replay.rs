//! `sansnet replay` and `sansnet shrink`: both refuse, before running anything, a run this
//! build cannot run ([`runnable::check`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sansnet::explore::{self, DrawOptions, ReplayFile};
use sansnet::scenario::{self, RunOptions};

use super::args::{ReplayArgs, ShrinkArgs};
use super::{load, replay_flags, replay_line, runnable, shell_word, style, CliError};

pub fn replay(a: ReplayArgs) -> Result<(), CliError> {
    let (spec, recording, what) = match (&a.file, &a.scenario, a.seed) {
        (Some(path), _, _) => {
            let r = load(path)?;
            (r.spec.clone(), Some(r), shell_word(path))
        }
        (None, Some(name), Some(seed)) => {
            let sc = scenario::lookup(name)
                .ok_or_else(|| CliError::Usage(format!("no scenario {name:?}")))?;
            let draw = DrawOptions {
                profile: a.profile.clone(),
                planted: a.plant.clone(),
                size: a.size.unwrap_or_default(),
                workload: a.workload.unwrap_or_default(),
            };
            let topology = a.topology.unwrap_or_default();
            let spec = explore::draw_on(sc.as_ref(), seed, &draw, &topology);
            (spec.clone(), None, replay_flags(&spec))
        }
        // clap requires FILE or both --scenario and --seed.
        _ => {
            return Err(CliError::Usage(
                "replay needs FILE, or --scenario and --seed".to_owned(),
            ))
        }
    };
    runnable::check(&spec).map_err(|u| runnable::refuse("replay", &what, &u))?;
    if let Some(r) = &recording {
        if r.git_commit != explore::GIT_COMMIT {
            anstream::println!(
                "{} recorded by sansnet {} at commit {}; this build is {} at {}",
                style::warn("note:"),
                r.version,
                r.git_commit,
                explore::VERSION,
                explore::GIT_COMMIT
            );
        }
    }
    println!("replaying {}", explore::one_line(&spec));
    if let Some(stop) = a.at {
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
    let dir = a
        .out
        .join(format!("replay-{}-{}", spec.scenario, spec.seed));
    let (outcome, _) = explore::write_artefacts(&spec, &dir)
        .map_err(|e| CliError::Io(format!("the artefacts could not be written: {e}")))?;
    let result = match &outcome.result {
        Ok(()) => style::good("ok"),
        Err(f) => style::bad(&f.to_string()),
    };
    anstream::println!("result: {result}");
    println!(
        "trace hash {} at {} after {} steps",
        outcome.trace_hash, outcome.sim_time, outcome.steps
    );
    println!("artefacts in {}", dir.display());
    if let Some(r) = &recording {
        if r.trace_hash == outcome.trace_hash.to_string() {
            anstream::println!(
                "{} the trace hash is the recording's: this is the run that was recorded",
                style::good("same run:")
            );
        } else {
            anstream::println!(
                "{} the recording's trace hash is {}: this build runs it differently \
                 (recorded by commit {}, this is {})",
                style::warn("different run:"),
                r.trace_hash,
                r.git_commit,
                explore::GIT_COMMIT
            );
        }
    }
    match &outcome.result {
        Ok(()) => Ok(()),
        Err(f) => Err(CliError::Failed(format!("the run fails: {f}"))),
    }
}

pub fn shrink(a: ShrinkArgs) -> Result<(), CliError> {
    let r = load(&a.file)?;
    let what = shell_word(&a.file);
    runnable::check(&r.spec).map_err(|u| runnable::refuse("shrink", &what, &u))?;
    let out = a.out.clone().unwrap_or_else(|| min_path(&a.file));
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        explore::check_writable(parent)
            .map_err(|e| CliError::Io(format!("the minimal replay file cannot be written: {e}")))?;
    }
    let first = scenario::run(&r.spec);
    let kind = match &first.result {
        Ok(()) => {
            return Err(CliError::Failed(format!(
                "{what}: the run passes on this build (trace hash {}, recorded {}): \
                 nothing to shrink",
                first.trace_hash, r.trace_hash
            )))
        }
        Err(f) => f.kind,
    };
    if kind != r.failure.kind {
        anstream::println!(
            "{} recorded as {}, the run fails as {kind} on this build: shrinking that",
            style::warn("note:"),
            r.failure.kind
        );
    }
    let spinner = spinner(a.budget);
    let report = explore::shrink(&r.spec, kind, a.budget);
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    for s in &report.steps {
        println!("  - {s}");
    }
    println!(
        "{} attempts; faults {} -> {}; still fails: {}",
        report.attempts, report.faults_before, report.faults_after, report.failure
    );
    let outcome = scenario::run(&report.spec);
    ReplayFile {
        spec: report.spec,
        failure: report.failure,
        trace_hash: outcome.trace_hash.to_string(),
        version: explore::VERSION.to_owned(),
        git_commit: explore::GIT_COMMIT.to_owned(),
    }
    .save(&out)
    .map_err(|e| CliError::Io(format!("the minimal replay file could not be written: {e}")))?;
    println!("minimal replay file: {}", out.display());
    anstream::println!("replay: {}", style::strong(&replay_line(&shell_word(&out))));
    Ok(())
}

/// `replay.json` -> `replay.min.json`, beside it.
fn min_path(file: &Path) -> PathBuf {
    file.with_file_name(format!(
        "{}.min.json",
        file.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("replay")
    ))
}

/// A spinner with the time left, on a terminal.
fn spinner(budget: Duration) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let s = ProgressBar::new_spinner();
    s.set_style(
        ProgressStyle::with_template("{spinner} shrinking, {elapsed} of {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    s.set_message(format!("{} s at most", budget.as_secs()));
    s.enable_steady_tick(Duration::from_millis(120));
    super::logging::set_bar(&s);
    Some(s)
}
