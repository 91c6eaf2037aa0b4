//! `sansnet tap`: the commands of `sansnet-tap`, a sansnet host on a Linux TAP device
//! against the kernel's TCP.

use sansnet_tap::Error;

use super::CliError;

/// Runs a `sansnet tap` command: what cannot be run here (no root, not Linux, no `ip`, a
/// bad value) is a usage error (exit status 2), a run that failed exits 1.
pub fn tap(args: sansnet_tap::cli::TapArgs) -> Result<(), CliError> {
    sansnet_tap::cli::execute(&args.command).map_err(|e| match e {
        Error::InvalidSpec(_)
        | Error::NotPermitted { .. }
        | Error::Unsupported { .. }
        | Error::ToolMissing { .. } => CliError::Usage(e.to_string()),
        e => CliError::Failed(e.to_string()),
    })
}
