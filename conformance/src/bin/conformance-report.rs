//! Prints the conformance report: every requirement with pass, fail, not applicable or
//! uncovered, and the state x segment matrix.
//!
//! `cargo run -p sansnet-conformance --bin conformance-report [--engine] [CONFORMANCE_DIR]`
//! (the host runner by default; `--engine` runs the scripts on the bare TCP engine). Exits 1
//! if a script fails unexpectedly.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut engine = false;
    let mut dir = None;
    for a in std::env::args_os().skip(1) {
        if a == "--engine" {
            engine = true;
        } else {
            dir = Some(PathBuf::from(a));
        }
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let report = if engine {
        sansnet_conformance::report::run_all_engine(&dir)
    } else {
        sansnet_conformance::report::run_all(&dir)
    };
    match report {
        Ok(report) => {
            print!("{report}");
            let unexpected = report.scripts.iter().any(|s| !s.verdict.is_ok());
            if unexpected {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("conformance-report: {e}");
            ExitCode::from(2)
        }
    }
}
