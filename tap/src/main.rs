//! `sansnet-tap`: a sansnet host on a Linux TAP device against the kernel's TCP.

use std::process::ExitCode;

use clap::Parser;
use sansnet_tap::cli::{execute, TapCommand};
use sansnet_tap::Error;

/// A sansnet host on a Linux TAP device, in a network namespace of its own, against the
/// kernel's TCP. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
#[derive(Debug, Parser)]
#[command(name = "sansnet-tap", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: TapCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Interrupted) => {
            eprintln!("sansnet-tap: interrupted; the lab was taken down");
            ExitCode::from(130)
        }
        Err(e @ Error::InvalidSpec(_)) => {
            eprintln!("sansnet-tap: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("sansnet-tap: {e}");
            ExitCode::FAILURE
        }
    }
}
