//! `--log FILTER` and `RUST_LOG`: the library's `tracing` events on standard error, stamped
//! with the simulated time (`sansnet_sim::log::SimTime`) and inside each node's span, so
//! that the log of a replay is the log of the run it replays.

use std::io::Write;
use std::sync::OnceLock;

use indicatif::ProgressBar;
use tracing_subscriber::EnvFilter;

use super::CliError;

/// The filter when neither `--log` nor `RUST_LOG` gives one.
const DEFAULT_FILTER: &str = "warn";

/// A progress bar on standard error, if one is drawn: log lines are written above it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Routes log lines around `bar` from now on.
pub fn set_bar(bar: &ProgressBar) {
    let _first_bar_only = BAR.set(bar.clone());
}

/// Parses a filter in `RUST_LOG` syntax, strictly (an unknown level is an error, not a
/// silently empty filter).
pub fn parse_filter(text: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .with_regex(false)
        .parse(text)
        .map_err(|e| format!("not a log filter ({e}); examples: warn, debug, sansnet_sim=trace"))
}

/// Installs the subscriber: `--log` if given, else `RUST_LOG`, else warnings.
pub fn init(flag: Option<&str>, ansi: bool) -> Result<(), CliError> {
    let filter = match flag {
        Some(text) => parse_filter(text).map_err(|e| CliError::Usage(format!("--log: {e}")))?,
        None => match std::env::var("RUST_LOG") {
            Ok(text) if !text.trim().is_empty() => parse_filter(&text)
                .map_err(|e| CliError::Usage(format!("RUST_LOG={text:?}: {e}")))?,
            _ => EnvFilter::new(DEFAULT_FILTER),
        },
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(sansnet_sim::log::SimTime)
        .with_ansi(ansi)
        .with_writer(|| LogWriter)
        .try_init()
        .map_err(|e| CliError::Io(format!("cannot install the logger: {e}")))
}

/// Standard error, suspending the progress bar while a line is written.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes each event in one call.
        match BAR.get() {
            Some(bar) if !bar.is_hidden() => bar.suspend(|| std::io::stderr().write_all(buf))?,
            _ => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        for good in [
            "warn",
            "debug",
            "sansnet_sim=trace",
            "warn,sansnet_sim::trace=trace",
        ] {
            assert!(parse_filter(good).is_ok(), "{good}");
        }
        // A bare word is a target (`loud` logs everything of a crate `loud`); a level must
        // be one.
        for bad in ["sansnet_sim=loud", "=warn=", "sansnet=debug=x"] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
