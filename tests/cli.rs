//! The `sansnet` command as a user meets it: every bad input of issue 19 gets exit status
//! 2 and a message naming what is wrong, `--help` works everywhere, progress and logs go
//! where a terminal or a CI log expects them. Each test runs the built binary.
//!
//! The planted-bug rows (a printed replay line replays to the same trace hash, a sweep's
//! artefacts that cannot be written) are in `tests/planted_bugs.rs`, which CI runs with
//! `--features planted-bugs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pretty_assertions::assert_eq;

mod scratch;
use scratch::Scratch;

/// What one invocation did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts the exit status and that standard error has every one of `words`.
    fn fails_with(&self, code: i32, words: &[&str]) -> &Run {
        assert_eq!(self.code, Some(code), "{}", self.all());
        for w in words {
            assert!(self.stderr.contains(w), "{w:?} not in:\n{}", self.all());
        }
        self
    }

    fn succeeds(&self) -> &Run {
        assert_eq!(self.code, Some(0), "{}", self.all());
        self
    }

    fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

fn sansnet_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sansnet"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the sansnet binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn sansnet(args: &[&str]) -> Run {
    sansnet_env(args, &[])
}

/// A fresh directory for one test.
fn scratch(name: &str) -> Scratch {
    Scratch::new("cli", name)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

// ----------------------------------------------------------------------------------------
// Flags

#[test]
fn a_typo_of_a_flag_is_rejected_with_the_flag_it_resembles() {
    sansnet(&["sweep", "--seed", "3"]).fails_with(
        2,
        &[
            "unexpected argument '--seed'",
            "a similar argument exists: '--seeds'",
        ],
    );
}

#[test]
fn unknown_flags_and_stray_arguments_are_rejected() {
    sansnet(&["sweep", "--frobnicate", "3"]).fails_with(2, &["unexpected argument '--frobnicate'"]);
    sansnet(&["sweep", "-n", "3"]).fails_with(2, &["unexpected argument '-n'"]);
    sansnet(&["sweep", "3"]).fails_with(2, &["unexpected argument '3'"]);
    sansnet(&["scenarios", "extra"]).fails_with(2, &["unexpected argument 'extra'"]);
    sansnet(&["replay", "a.json", "b.json"]).fails_with(2, &["unexpected argument 'b.json'"]);
    sansnet(&["frobnicate"]).fails_with(2, &["unrecognized subcommand 'frobnicate'"]);
}

#[test]
fn every_command_has_its_own_help() {
    for (command, usage) in [
        ("sweep", "Usage: sansnet sweep [OPTIONS]"),
        (
            "replay",
            "Usage: sansnet replay [OPTIONS] <FILE|--scenario <NAME>>",
        ),
        ("shrink", "Usage: sansnet shrink [OPTIONS] <FILE>"),
        ("scenarios", "Usage: sansnet scenarios"),
        ("conformance", "Usage: sansnet conformance [OPTIONS] [DIR]"),
        ("decode", "Usage: sansnet decode [OPTIONS] [HEX]..."),
        (
            "completions",
            "Usage: sansnet completions [OPTIONS] <SHELL>",
        ),
    ] {
        for help in ["--help", "-h"] {
            let run = sansnet(&[command, help]);
            run.succeeds();
            assert!(
                run.stdout.contains(usage),
                "{command} {help}:\n{}",
                run.stdout
            );
            assert!(run.stdout.contains("--log <FILTER>"), "{}", run.stdout);
        }
        let run = sansnet(&["help", command]);
        run.succeeds();
        assert!(
            run.stdout.contains(usage),
            "help {command}:\n{}",
            run.stdout
        );
    }
    let run = sansnet(&["--help"]);
    run.succeeds();
    assert!(run.stdout.contains("Exit status: 0"), "{}", run.stdout);
}

#[test]
fn the_version_names_the_commit() {
    let run = sansnet(&["--version"]);
    run.succeeds();
    let commit = run
        .stdout
        .trim()
        .strip_prefix(&format!("sansnet {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.split([',', ')']).next())
        .unwrap_or_else(|| panic!("{}", run.stdout))
        .to_owned();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit:?}"
    );
    assert!(sansnet(&["sweep", "--version"]).stdout.contains(&commit));
}

#[test]
fn values_are_checked_where_they_are_parsed_with_the_flag_named() {
    sansnet(&["sweep", "--shard", "x/8"]).fails_with(
        2,
        &[
            "invalid value 'x/8' for '--shard <K/N>'",
            "K \"x\" is not a number",
        ],
    );
    sansnet(&["sweep", "--shard", "8/8"]).fails_with(2, &["'--shard <K/N>'", "K must be below N"]);
    sansnet(&["sweep", "--shard", "3"]).fails_with(2, &["'--shard <K/N>'", "expected K/N"]);
    sansnet(&["sweep", "--seeds", "ten"]).fails_with(2, &["'--seeds <N>'"]);
    sansnet(&["sweep", "--seeds", "0"]).fails_with(2, &["'--seeds <N>'"]);
    sansnet(&["sweep", "--jobs", "0"]).fails_with(2, &["'--jobs <N>'"]);
    sansnet(&["sweep", "--start", "0xzz"]).fails_with(2, &["'--start <SEED>'", "0x hex"]);
    sansnet(&["sweep", "--time", "10x"])
        .fails_with(2, &["'--time <DURATION>'", "unknown unit \"x\""]);
    sansnet(&["sweep", "--time", "0s"]).fails_with(2, &["'--time <DURATION>'", "more than zero"]);
    sansnet(&["sweep", "--topology", "ring:3"]).fails_with(
        2,
        &[
            "'--topology <SHAPE>'",
            "expected direct, switched:N or routed:N[:R]",
        ],
    );
    sansnet(&["sweep", "--profile", "nosuch"]).fails_with(
        2,
        &["'--profile <NAME>'", "possible values: ideal, lan, wan"],
    );
    sansnet(&["sweep", "--scenario", "bulkk"]).fails_with(
        2,
        &["'--scenario <NAME>'", "a similar value exists: 'bulk'"],
    );
    sansnet(&[
        "replay",
        "--scenario",
        "bulk",
        "--seed",
        "1",
        "--at",
        "soon",
    ])
    .fails_with(2, &["'--at <TIME>'"]);
    sansnet(&["shrink", "x.json", "--budget", "forever"]).fails_with(2, &["'--budget <DURATION>'"]);
    sansnet(&["replay", "--scenario", "bulk"]).fails_with(
        2,
        &["required arguments were not provided", "--seed <SEED>"],
    );
    sansnet(&["replay"]).fails_with(2, &["<FILE|--scenario <NAME>>"]);
    sansnet(&["replay", "x.json", "--scenario", "bulk", "--seed", "1"])
        .fails_with(2, &["cannot be used with"]);
}

#[test]
fn replay_rejects_an_unknown_profile_as_sweep_does() {
    sansnet(&[
        "replay",
        "--scenario",
        "bulk",
        "--seed",
        "1",
        "--profile",
        "nosuch",
    ])
    .fails_with(2, &["invalid value 'nosuch' for '--profile <NAME>'"]);
}

#[cfg(not(feature = "planted-bugs"))]
#[test]
fn a_plant_in_a_build_without_planted_bugs_says_how_to_get_them() {
    for args in [
        &["sweep", "--plant", "early-fin"][..],
        &[
            "replay",
            "--scenario",
            "bulk",
            "--seed",
            "1",
            "--plant",
            "early-fin",
        ],
    ] {
        sansnet(args).fails_with(
            2,
            &[
                "'--plant <BUG>'",
                "this build has no planted bugs",
                "--features planted-bugs",
            ],
        );
    }
}

// ----------------------------------------------------------------------------------------
// Replay files this build cannot run

/// A replay file of a real run (recorded with `replay --scenario ...` of a failing run
/// would need a failure; any run's spec will do), edited by `edit`.
fn replay_file(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let sc = sansnet::scenario::lookup("bulk").unwrap();
    let spec = sansnet::explore::draw(
        sc.as_ref(),
        27,
        &sansnet::explore::DrawOptions {
            profile: None,
            planted: None,
            ..Default::default()
        },
    );
    let file = sansnet::explore::ReplayFile {
        spec,
        failure: sansnet::scenario::Failure::new(
            sansnet::scenario::FailureKind::Integrity,
            "recorded",
        ),
        trace_hash: "0000000000000000".to_owned(),
        version: "0.1.0".to_owned(),
        git_commit: "0123456789ab".to_owned(),
    };
    let mut json = serde_json::to_value(&file).unwrap();
    edit(&mut json);
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    p
}

/// `replay FILE` and `shrink FILE` both refuse it with exit status 2 and `words`, and
/// write nothing.
fn refused(dir: &Path, file: &Path, words: &[&str]) {
    let out = dir.join("out");
    let run = sansnet(&["replay", path(file), "--out", path(&out)]);
    run.fails_with(2, words);
    assert!(!run.stdout.contains("differently"), "{}", run.all());
    assert!(
        !out.exists(),
        "replay wrote artefacts of a run that never ran"
    );
    let min = dir.join("min.json");
    sansnet(&["shrink", path(file), "--out", path(&min), "--budget", "5s"]).fails_with(2, words);
    assert!(
        !min.exists(),
        "shrink wrote a \"minimal\" file of a run that never ran"
    );
}

#[test]
fn a_replay_file_naming_an_unknown_scenario_is_refused() {
    let dir = scratch("unknown-scenario");
    let file = replay_file(&dir, "r.json", |j| j["spec"]["scenario"] = "nosuch".into());
    refused(
        &dir,
        &file,
        &[
            "no scenario \"nosuch\" in this build",
            "bulk, churn",
            "sansnet scenarios",
        ],
    );
}

#[test]
fn a_replay_file_naming_an_unknown_profile_is_refused() {
    let dir = scratch("unknown-profile");
    let file = replay_file(&dir, "r.json", |j| j["spec"]["profile"] = "nosuch".into());
    refused(
        &dir,
        &file,
        &[
            "no fault profile \"nosuch\" in this build",
            "ideal, lan, wan",
        ],
    );
}

#[test]
fn a_replay_file_naming_an_unknown_link_is_refused() {
    let dir = scratch("unknown-link");
    let file = replay_file(&dir, "r.json", |j| {
        j["spec"]["plan"]["changes"][0]["link"] = "client/nic0<->nowhere/nic0".into();
    });
    refused(
        &dir,
        &file,
        &[
            "no link \"client/nic0<->nowhere/nic0\"",
            "its links are \"client/nic0<->server/nic0\"",
        ],
    );
}

#[test]
fn a_replay_file_naming_an_unknown_node_is_refused() {
    let dir = scratch("unknown-node");
    let file = replay_file(&dir, "r.json", |j| {
        let crash = serde_json::json!({"at_ns": 1000, "change": "crash", "node": "ghost"});
        j["spec"]["plan"]["changes"]
            .as_array_mut()
            .unwrap()
            .push(crash);
    });
    refused(
        &dir,
        &file,
        &["no node \"ghost\"", "its nodes \"client\", \"server\""],
    );
}

#[test]
fn a_replay_file_with_a_network_out_of_bounds_is_refused() {
    let dir = scratch("shape-out-of-bounds");
    let file = replay_file(&dir, "r.json", |j| {
        j["spec"]["topology"] =
            serde_json::json!({"shape": "routed", "client_hosts": 1, "routers": 50});
    });
    refused(
        &dir,
        &file,
        &[
            "the run's network is not one this build builds",
            "routed:1:50",
            "R routers up to 4",
        ],
    );
}

#[cfg(not(feature = "planted-bugs"))]
#[test]
fn a_replay_file_with_a_plant_needs_the_feature_and_says_how() {
    let dir = scratch("plant-without-feature");
    let file = replay_file(&dir, "r.json", |j| {
        j["spec"]["planted"] = "early-fin".into()
    });
    refused(
        &dir,
        &file,
        &[
            "planted bug \"early-fin\"",
            "this build has no planted bugs",
            "cargo run --release --features planted-bugs -- ",
        ],
    );
    // Whatever the name: this build has none.
    let file = replay_file(&dir, "s.json", |j| j["spec"]["planted"] = "nosuch".into());
    refused(
        &dir,
        &file,
        &["planted bug \"nosuch\"", "--features planted-bugs"],
    );
}

#[test]
fn a_file_that_is_not_a_replay_file_is_a_usage_error() {
    let dir = scratch("not-a-replay-file");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{\"spec\": 3}").unwrap();
    for command in ["replay", "shrink"] {
        sansnet(&[command, path(&garbage)])
            .fails_with(2, &["cannot read the replay file", "garbage.json"]);
        sansnet(&[command, path(&dir.join("missing.json"))])
            .fails_with(2, &["cannot read the replay file", "missing.json"]);
    }
}

#[test]
fn shrink_refuses_a_run_that_passes() {
    let dir = scratch("shrink-passing");
    let file = replay_file(&dir, "r.json", |_| {});
    let min = dir.join("min.json");
    sansnet(&["shrink", path(&file), "--out", path(&min)])
        .fails_with(1, &["the run passes on this build", "nothing to shrink"]);
    assert!(!min.exists());
}

#[test]
fn a_replay_that_really_ran_differently_says_so() {
    let dir = scratch("replay-differs");
    let file = replay_file(&dir, "r.json", |_| {});
    let run = sansnet(&["replay", path(&file), "--out", path(&dir.join("out"))]);
    run.succeeds();
    assert!(run.stdout.contains("result: ok"), "{}", run.all());
    assert!(
        run.stdout.contains(
            "the recording's trace hash is 0000000000000000: this build runs it differently"
        ),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("note: recorded by sansnet 0.1.0 at commit 0123456789ab"),
        "{}",
        run.all()
    );
}

// ----------------------------------------------------------------------------------------
// Artefacts, progress, logs

#[test]
fn an_out_directory_that_cannot_be_written_is_an_error_before_anything_runs() {
    let dir = scratch("unwritable-out");
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = file.join("sub");
    let run = sansnet(&["sweep", "--seeds", "1", "--out", path(&out)]);
    run.fails_with(
        2,
        &["--out: failures' artefacts cannot be written", "a-file/sub"],
    );
    assert_eq!(run.stdout, "", "nothing ran");
    sansnet(&[
        "replay",
        "--scenario",
        "udp-retry",
        "--seed",
        "1",
        "--out",
        path(&out),
    ])
    .fails_with(2, &["the artefacts could not be written", "a-file/sub"]);
}

#[test]
fn without_a_terminal_progress_is_one_summary_line() {
    let dir = scratch("progress");
    let args = [
        "sweep",
        "--seeds",
        "2",
        "--scenario",
        "udp-retry",
        "--out",
        path(&dir),
    ];
    let run = sansnet(&args);
    run.succeeds();
    assert!(!run.stderr.contains('\r'), "{:?}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", run.stderr);
    assert!(
        lines[0].starts_with("sansnet sweep: 2 runs in "),
        "{:?}",
        lines[0]
    );
    assert!(lines[0].ends_with(", 0 failed"), "{:?}", lines[0]);
    assert!(
        run.stdout.contains("udp-retry                 2         0"),
        "{}",
        run.stdout
    );
    let quiet = sansnet(&[&args[..], &["--quiet"]].concat());
    quiet.succeeds();
    assert_eq!(quiet.stderr, "");
    sansnet(&[&args[..], &["--quiet", "--progress", "plain"]].concat())
        .fails_with(2, &["cannot be used with"]);
}

/// SIGINT (Ctrl-C, or CI's timeout as SIGTERM) does not lose a sweep's findings: the runs
/// under way finish, the table and `--summary` are written, and the status is 130.
#[cfg(unix)]
#[test]
fn sigint_ends_a_sweep_after_the_runs_under_way_with_its_report() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = scratch("sigint");
    let summary = dir.join("summary.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sansnet"))
        .args([
            "sweep",
            "--time",
            "10m",
            "--jobs",
            "1",
            "--scenario",
            "udp-retry",
        ])
        .args(["--progress", "plain", "--out", path(&dir.join("out"))])
        .args(["--summary", path(&summary)])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sansnet binary runs");
    // The first progress line (after 5 s) says the sweep, and its handlers, are running.
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("a progress line");
    assert!(first.starts_with("sansnet sweep: "), "{first:?}");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("standard error");
    let out = child.wait_with_output().expect("the sweep ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{first}{rest}");
    assert!(
        stdout.contains("stopped: interrupted (SIGINT or SIGTERM)"),
        "{stdout}"
    );
    assert!(rest.contains("; interrupted"), "{rest}");
    assert!(rest.contains("interrupted after "), "{rest}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("--summary written"))
            .expect("JSON");
    assert_eq!(written["stopped_early"], "interrupted");
    assert!(written["runs"].as_u64().is_some_and(|r| r > 0), "{written}");
}

#[test]
fn plain_progress_prints_lines_not_carriage_returns() {
    let dir = scratch("plain");
    let run = sansnet(&[
        "sweep",
        "--time",
        "6s",
        "--scenario",
        "udp-retry",
        "--progress",
        "plain",
        "--jobs",
        "1",
        "--out",
        path(&dir),
    ]);
    run.succeeds();
    assert!(!run.stderr.contains('\r'), "{:?}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.len() >= 2,
        "a line after 5 s, then the summary: {:?}",
        run.stderr
    );
    assert!(
        lines[0].contains(" runs, 0 failed, 5 s, "),
        "{:?}",
        lines[0]
    );
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with("0 failed; the time budget is spent"),
        "{lines:?}"
    );
}

#[test]
fn a_time_budget_runs_seeds_until_it_is_spent_and_seeds_still_bound_a_sweep() {
    let dir = scratch("time");
    // The wall clock of the test, around a process: no simulation reads it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let run = sansnet(&[
        "sweep",
        "--time",
        "2s",
        "--scenario",
        "udp-retry",
        "--jobs",
        "2",
        "--out",
        path(&dir),
    ]);
    run.succeeds();
    let took = started.elapsed();
    assert!(took >= std::time::Duration::from_secs(2), "{took:?}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    assert!(
        run.stdout.contains("stopped: the time budget is spent"),
        "{}",
        run.stdout
    );
    // Both: the seeds run out first.
    let run = sansnet(&[
        "sweep",
        "--time",
        "10m",
        "--seeds",
        "3",
        "--scenario",
        "udp-retry",
        "--out",
        path(&dir),
    ]);
    run.succeeds();
    assert!(
        run.stdout.contains("udp-retry                 3         0"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("stopped"), "{}", run.stdout);
}

#[test]
fn rust_log_and_the_log_flag_log_with_the_simulated_time() {
    let dir = scratch("log");
    let args = [
        "replay",
        "--scenario",
        "udp-retry",
        "--seed",
        "1",
        "--out",
        path(&dir),
    ];
    let run = sansnet_env(&args, &[("RUST_LOG", "sansnet_sim=trace")]);
    run.succeeds();
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("0.000000000s TRACE ") && first.contains("sansnet_sim::trace:"),
        "{first:?}"
    );
    assert!(run.stderr.contains("node{name=client}"), "{}", run.stderr);
    // --log overrides RUST_LOG.
    let quiet = sansnet_env(
        &[&args[..], &["--log", "off"]].concat(),
        &[("RUST_LOG", "trace")],
    );
    quiet.succeeds();
    assert_eq!(quiet.stderr, "");
    // Every command takes it, and checks it.
    sansnet(&["scenarios", "--log", "debug"]).succeeds();
    sansnet(&["decode", "--log", "sansnet=loud", "00"])
        .fails_with(2, &["'--log <FILTER>'", "not a log filter"]);
    sansnet_env(&["scenarios"], &[("RUST_LOG", "sansnet=loud")])
        .fails_with(2, &["RUST_LOG=", "not a log filter"]);
}

#[test]
fn colour_follows_the_color_flag_and_no_color() {
    let esc = '\u{1b}';
    assert!(
        !sansnet(&["scenarios"]).stdout.contains(esc),
        "not a terminal: no colour"
    );
    assert!(sansnet(&["scenarios", "--color", "always"])
        .stdout
        .contains(esc));
    let err = sansnet(&["decode", "5", "--color", "always"]);
    assert!(err.stderr.contains(esc), "{:?}", err.stderr);
    // CLICOLOR_FORCE colours what is not a terminal, unless NO_COLOR is set.
    let forced = sansnet_env(&["decode", "5"], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.stderr.contains(esc), "{:?}", forced.stderr);
    let no_color = sansnet_env(
        &["decode", "5"],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
    );
    assert!(!no_color.stderr.contains(esc), "{:?}", no_color.stderr);
    let never = sansnet_env(
        &["decode", "5", "--color", "never"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!never.stderr.contains(esc), "{:?}", never.stderr);
}

// ----------------------------------------------------------------------------------------
// decode, conformance, completions

#[test]
fn decode_blames_an_odd_length_on_the_length() {
    sansnet(&["decode", "525"]).fails_with(2, &["3 hex digits: a frame is whole bytes"]);
    let run = sansnet(&["decode", "52x5"]);
    run.fails_with(2, &["'x' at character 2 is not a hex digit"]);
    let frame = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/readme_frame.hex"
    ))
    .unwrap();
    let run = sansnet(&["decode", frame.trim()]);
    run.succeeds();
    assert!(
        run.stdout.contains("TCP 49152 > 80 [SYN]"),
        "{}",
        run.stdout
    );
}

#[test]
fn conformance_of_a_missing_directory_is_a_usage_error() {
    sansnet(&["conformance", "/nonexistent/scripts"]).fails_with(
        2,
        &["/nonexistent/scripts: not a directory of conformance scripts"],
    );
}

#[test]
fn conformance_on_smoltcp_names_each_outcome_and_traces_one_script() {
    let run = sansnet(&[
        "conformance",
        "--stack",
        "smoltcp",
        "--scripts",
        "handshake/simultaneous_open,urgent/urgent_pointer",
    ]);
    run.succeeds();
    assert!(
        run.stdout
            .contains("# smoltcp: 0 pass, 0 pass but for windows, 1 fail, 1 not applicable (of 2)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("handshake/simultaneous_open\tFAIL\t"),
        "{}",
        run.stdout
    );
    let trace = sansnet(&[
        "conformance",
        "--stack",
        "smoltcp",
        "--trace",
        "handshake/simultaneous_open",
    ]);
    trace.succeeds();
    assert!(
        trace
            .stdout
            .contains("the connection is in SYN-RECEIVED, the script expects ESTABLISHED"),
        "{}",
        trace.stdout
    );
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sansnet"),
        ("fish", "complete -c sansnet"),
    ] {
        let run = sansnet(&["completions", shell]);
        run.succeeds();
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        assert!(run.stdout.contains("determinism-every"), "{shell}");
    }
    sansnet(&["completions", "tcsh"]).fails_with(2, &["invalid value 'tcsh' for '<SHELL>'"]);
}

#[test]
fn workload_sizes_and_fields_are_flags_checked_where_parsed() {
    sansnet(&["sweep", "--size", "huge"]).fails_with(2, &["--size", "unknown size \"huge\""]);
    sansnet(&["sweep", "--workload", "clients=99999"]).fails_with(
        2,
        &["--workload", "clients=99999 is over the limit of 10000"],
    );
    sansnet(&["sweep", "--workload", "colour=blue"])
        .fails_with(2, &["--workload", "unknown workload key \"colour\""]);
    let dir = scratch("sizes");
    sansnet(&[
        "sweep",
        "--scenario",
        "bulk",
        "--seeds",
        "2",
        "--size",
        "medium",
        "--workload",
        "bytes=2M",
        "--profile",
        "lan",
        "--out",
        path(&dir),
        "-q",
    ])
    .succeeds();
    // A drawn run with a workload of its own replays from the flags its line prints.
    let run = sansnet(&[
        "replay",
        "--scenario",
        "bulk",
        "--seed",
        "1",
        "--workload",
        "bytes=1M",
        "--out",
        path(&dir),
    ]);
    run.succeeds();
    assert!(run.stdout.contains("bulk"), "{}", run.all());
}

#[test]
fn a_replay_file_asking_for_an_absurd_workload_is_refused() {
    let dir = scratch("absurd-workload");
    let file = replay_file(&dir, "r.json", |j| {
        j["spec"]["workload"]["clients"] = 4_000_000_000u64.into()
    });
    refused(
        &dir,
        &file,
        &[
            "workload is too large",
            "clients=4000000000 is over the limit",
        ],
    );
}

/// `sweep --summary` of `shard` (K/N, or the whole sweep) into `dir/name`.
fn summary(dir: &Path, name: &str, shard: Option<&str>, env: &[(&str, &str)]) -> PathBuf {
    let file = dir.join(name);
    let out = dir.join(format!("out-{name}"));
    let mut args = vec![
        "sweep",
        "--scenario",
        "churn",
        "--scenario",
        "udp-retry",
        "--seeds",
        "6",
        "--summary",
        path(&file),
        "--out",
        path(&out),
        "-q",
    ];
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    sansnet_env(&args, env).succeeds();
    file
}

fn json(file: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn shards_merge_into_the_sweep_they_were_cut_from() {
    let dir = scratch("merge");
    let whole = summary(&dir, "whole.json", None, &[]);
    let shard_dir = dir.join("shards");
    std::fs::create_dir_all(&shard_dir).unwrap();
    let shards: Vec<PathBuf> = (0..3)
        .map(|k| {
            summary(
                &shard_dir,
                &format!("s{k}.json"),
                Some(&format!("{k}/3")),
                &[],
            )
        })
        .collect();
    let merged = dir.join("merged.json");
    let junit = dir.join("merged.xml");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|p| path(p)));
    args.extend(["--json", path(&merged), "--junit", path(&junit)]);
    let run = sansnet(&args);
    run.succeeds();
    assert!(run.stdout.contains("12 runs in 3 shards"), "{}", run.all());
    let (whole, merged) = (json(&whole), json(&merged));
    assert_eq!(merged["totals"], whole["totals"]);
    assert_eq!(merged["runs"], whole["runs"]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase classname=\"sansnet.sweep\" name=\"churn (6 runs)\">"));
    // A directory is searched for summaries, below it too.
    let run = sansnet(&["merge", path(&shard_dir)]);
    run.succeeds();
    assert!(run.stdout.contains("12 runs in 3 shards"), "{}", run.all());
}

#[test]
fn merge_refuses_what_is_not_one_whole_sweep() {
    let dir = scratch("merge-refusals");
    let s0 = summary(&dir, "s0.json", Some("0/2"), &[]);
    let s1 = summary(&dir, "s1.json", Some("1/2"), &[]);
    sansnet(&["merge", path(&s0)]).fails_with(2, &["1 of 2 shards missing: 1/2"]);
    sansnet(&["merge", path(&s0), path(&s0), path(&s1)]).fails_with(2, &["shard 0 appears twice"]);
    let mut other = json(&s1);
    other["sweep"]["git_commit"] = "0123456789ab".into();
    let other_file = dir.join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    sansnet(&["merge", path(&s0), path(&other_file)])
        .fails_with(2, &["not shards of one sweep", "the git commit is"]);
    let empty = scratch("merge-empty");
    sansnet(&["merge", path(&empty)]).fails_with(2, &["no sweep summaries"]);
}

#[test]
fn the_shard_index_comes_from_the_batch_engine() {
    let dir = scratch("shard-auto");
    let s = summary(
        &dir,
        "auto.json",
        Some("auto/4"),
        &[("JOB_COMPLETION_INDEX", "2")],
    );
    assert_eq!(json(&s)["shard"], 2);
    let s = summary(
        &dir,
        "slurm.json",
        Some("auto/4"),
        &[("SLURM_ARRAY_TASK_ID", "3")],
    );
    assert_eq!(json(&s)["shard"], 3);
    sansnet(&["sweep", "--shard", "auto/4"])
        .fails_with(2, &["--shard", "JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID"]);
}

#[test]
fn replay_at_a_time_prints_each_connections_tcp_info_under_its_row() {
    let dir = scratch("at-tcp-info");
    let run = sansnet(&[
        "replay",
        "--scenario",
        "bulk",
        "--seed",
        "3",
        "--at",
        "300ms",
        "--out",
        path(&dir),
    ]);
    run.succeeds();
    // `ss -i`: a tab-indented line after each connection's row.
    let info: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('\t')).collect();
    assert_eq!(info.len(), 2, "{}", run.all());
    for line in info {
        for field in [
            " rto:",
            " rtt:",
            " mss:",
            " cwnd:",
            " bytes_sent:",
            " retrans:",
        ] {
            assert!(line.contains(field), "{field:?} not in {line:?}");
        }
    }
}
