//! Every script under `scripts/` is its own test, named by its path
//! (`cargo test -p sansnet-conformance --test scripts -- matrix/listen`).
//!
//! A script marked `status: known-failure` must fail; if it passes, its test fails so that
//! the note is removed. Set `SANSNET_TRACE=1` to print the exchange of passing scripts.

use libtest_mimic::{Arguments, Failed, Trial};
use sansnet_conformance::{
    find_scripts, judge, load, script_name, scripts_dir, DefaultStack, Verdict,
};

fn main() {
    let args = Arguments::from_args();
    let root = scripts_dir();
    let mut trials = Vec::new();
    for path in find_scripts(&root) {
        let name = script_name(&root, &path);
        let root = root.clone();
        trials.push(Trial::test(name, move || {
            let script = load(&root, &path).map_err(Failed::from)?;
            if std::env::var_os("SANSNET_TRACE").is_some() {
                if let Ok(trace) = sansnet_conformance::runner::run::<DefaultStack>(&script) {
                    for l in trace {
                        println!("{l}");
                    }
                }
            }
            match judge::<DefaultStack>(&script) {
                Verdict::Pass | Verdict::KnownFailure(..) | Verdict::Skipped(_) => Ok(()),
                Verdict::Fail(f) => Err(Failed::from(f.to_string())),
                Verdict::UnexpectedPass(note) => Err(Failed::from(format!(
                    "marked `status: known-failure {note}` but passes: remove the status line"
                ))),
                Verdict::Invalid(e) => Err(Failed::from(e)),
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
