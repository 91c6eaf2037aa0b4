//! `tracing` with simulated time on every line.
//!
//! The simulator publishes its clock into a thread-local cell whenever it moves; [`SimTime`]
//! is a `tracing-subscriber` timer that prints that cell instead of the wall clock, so log
//! lines of a replay are identical to the original's. Each node's work runs inside a `node`
//! span carrying its name.

use std::cell::Cell;
use std::fmt;

use sansnet_stack::time::Instant;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

thread_local! {
    static SIM_TIME: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Publishes the simulated time for log lines on this thread.
pub(crate) fn set_sim_time(now: Instant) {
    SIM_TIME.with(|t| t.set(Some(now)));
    // The wall clock an intercepted run reads moves with the simulation's.
    #[cfg(feature = "intercept")]
    sansnet_intercept::set_now_ns(now.as_nanos());
}

/// The simulated time last published on this thread, if a simulation ran here.
pub fn current_sim_time() -> Option<Instant> {
    SIM_TIME.with(Cell::get)
}

/// A `FormatTime` that prints simulated time (`12.000350000s`), or `-` outside a simulation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match current_sim_time() {
            Some(t) => write!(w, "{t}"),
            None => w.write_str("-"),
        }
    }
}

/// Installs a global `fmt` subscriber with simulated time, filtered by `RUST_LOG` (default:
/// warnings only), writing through the test harness's capture. Harmless to call twice.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimTime)
        .with_test_writer()
        .try_init();
}
