//! Every script under `scripts/` is its own test on each runner, named by the runner and its
//! path (`cargo test -p sansnet-conformance --test scripts -- engine/matrix/listen`): the
//! `engine/` set drives one bare TCP connection, the `host/` set a whole sansnet host through
//! its frame interface.
//!
//! A script marked `status: known-failure` must fail; if it passes, its test fails so that
//! the note is removed. Set `SANSNET_TRACE=1` to print the exchange of passing scripts.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use sansnet_conformance::engine::EngineUnderTest;
use sansnet_conformance::host::HostUnderTest;
use sansnet_conformance::runner::StackUnderTest;
use sansnet_conformance::{find_scripts, judge, load, script_name, scripts_dir, Verdict};

fn check<S: StackUnderTest>(root: &Path, path: &Path) -> Result<(), Failed> {
    let script = load(root, path).map_err(Failed::from)?;
    if std::env::var_os("SANSNET_TRACE").is_some() {
        if let Ok(trace) = sansnet_conformance::runner::run::<S>(&script) {
            for l in trace {
                println!("{l}");
            }
        }
    }
    match judge::<S>(&script) {
        Verdict::Pass | Verdict::KnownFailure(..) => Ok(()),
        Verdict::Skipped(why) => {
            println!("skipped: {why}");
            Ok(())
        }
        Verdict::Fail(f) => Err(Failed::from(f.to_string())),
        Verdict::UnexpectedPass(note) => Err(Failed::from(format!(
            "marked `status: known-failure {note}` but passes: remove the status line"
        ))),
        Verdict::Invalid(e) => Err(Failed::from(e)),
    }
}

fn main() {
    let args = Arguments::from_args();
    let root = scripts_dir();
    let mut trials = Vec::new();
    for path in find_scripts(&root) {
        let name = script_name(&root, &path);
        let (r, p): (PathBuf, PathBuf) = (root.clone(), path.clone());
        trials.push(Trial::test(format!("engine/{name}"), move || {
            check::<EngineUnderTest>(&r, &p)
        }));
        let (r, p) = (root.clone(), path);
        trials.push(Trial::test(format!("host/{name}"), move || {
            check::<HostUnderTest>(&r, &p)
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
