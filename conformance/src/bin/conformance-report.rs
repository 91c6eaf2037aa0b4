//! Prints the conformance report: every requirement with pass, fail, not applicable or
//! uncovered, and the state x segment matrix.
//!
//! `cargo run -p sansnet-conformance --bin conformance-report [CONFORMANCE_DIR]`. Exits 1
//! if a script fails unexpectedly.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    match sansnet_conformance::report::run_all(&dir) {
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
