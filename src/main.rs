//! The `sansnet` command: sweep seeds, replay and shrink failures, decode frames, print the
//! conformance report. `sansnet --help` and `sansnet <command> --help` say how.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
