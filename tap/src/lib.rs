//! A sansnet [`Host`](sansnet_stack::iface::Host) on a Linux TAP device, talking to the real
//! kernel.
//!
//! This crate is the one place where sansnet's stack meets the outside world. Everything
//! else in the workspace runs on simulated time and simulated wires; here the wire is a TAP
//! device and the peer is Linux's own TCP, so that interoperability is measured rather than
//! assumed.
//!
//! # The lab
//!
//! [`run`] builds a small lab and takes it down again:
//!
//! ```text
//!   this process                                  network namespace sntap-<pid>-<n>
//!   +---------------------------+   TAP device    +--------------------------------+
//!   | sansnet Host 198.18.0.2   | <-------------> | snt<pid>x<n> 198.18.0.1/24     |
//!   |  (frames via the TAP fd,  |   Ethernet      | kernel sockets (std::net) on   |
//!   |   loss injected here)     |   frames        | threads that entered the netns |
//!   +---------------------------+                 +--------------------------------+
//! ```
//!
//! The namespace gives the kernel side a routing table of its own: its sockets reach
//! 198.18.0.2 through the TAP device, never through loopback, and nothing in the machine's
//! own namespace changes. The TAP device is created by this process (`tappers`, not
//! persistent: it disappears when its descriptor closes, whatever happens to the process),
//! then moved into the namespace, which `ip netns add` created and a guard removes on every
//! way out: success, error, panic unwinding, and Ctrl-C or SIGTERM in the command, which
//! turn into [`Error::Interrupted`] at the next turn of the loop. A namespace left by a
//! process that was killed outright (SIGKILL) is removed by the next lab this machine
//! builds, or by `sansnet-tap cleanup` ([`cleanup_stale`]).
//!
//! 198.18.0.0/15 is the range RFC 2544 sets aside for benchmarking; it is only ever routed
//! inside the lab's namespace.
//!
//! # Time
//!
//! The [`Host`](sansnet_stack::iface::Host) still takes `now` as an argument and reads no
//! clock. The adapter reads one, a monotonic clock ([`std::time::Instant`]) read at the
//! adapter's edge only: [`WallClock::now`] is the time since the lab started, in the
//! stack's nanosecond [`Instant`](sansnet_stack::time::Instant), read once before each
//! batch of frames, each application step and each timer check, and handed to the host.
//! So a run here is not reproducible (the kernel and the scheduler decide what happens
//! when); the loss injector alone is seeded.
//!
//! # Loss
//!
//! `tc netem` is not available where this runs, so loss is injected on sansnet's side of
//! the TAP device ([`Loss`]): each frame read from the device (kernel to sansnet) and each
//! frame the host transmits (sansnet to kernel) is dropped with the given probability,
//! from two ChaCha8 streams of one seed, one per direction.
//!
//! # What a run measures
//!
//! Every byte: each direction is a deterministic pattern ([`Pattern`]) checked byte for byte
//! by its receiver ([`StreamCheck`], which names the first wrong offset) and hashed with
//! XXH3-64 on both ends. The [`Report`] gives the wall time, the frames the injector dropped,
//! the host's drop counters by reason, the kernel's TCP retransmissions (`RetransSegs` of
//! the namespace), and what [`TcpObserver`] reads off the frames at the adapter: sansnet's
//! retransmitted segments (a segment carrying sequence space below the highest already
//! sent, as tcptrace counts them), the kernel's pure ACKs that arrived exactly at sansnet's
//! right window edge, and the D-SACKs the kernel sent.
//!
//! # Platforms
//!
//! Linux only. Elsewhere the crate compiles, and [`run`], [`check_privileges`] and
//! [`cleanup_stale`] return [`Error::Unsupported`].

pub mod cli;
mod clock;
mod error;
mod loss;
mod observe;
mod pattern;
pub mod raw;
mod report;
mod spec;

#[cfg(target_os = "linux")]
mod linux;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use clock::WallClock;
pub use error::{Direction, Error};
pub use loss::Loss;
pub use observe::{ObservedCounts, TcpObserver};
pub use pattern::{Pattern, Source, StreamCheck, StreamSummary};
pub use report::{HostDrop, KernelCounters, LossCounts, Report};
pub use spec::{parse_bytes, parse_duration, LabConfig, Mode, RunSpec};

/// What this process may do, as [`check_privileges`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privileges {
    /// The effective user id.
    pub euid: u32,
    /// The effective capability set (`CapEff` of `/proc/self/status`).
    pub effective_caps: u64,
}

/// Checks that a lab can be built here: Linux, `CAP_NET_ADMIN` (the TAP device and its
/// addresses) and `CAP_SYS_ADMIN` (a network namespace: mount, setns), `/dev/net/tun`, and
/// the `ip` command. The error says what is missing.
pub fn check_privileges() -> Result<Privileges, Error> {
    #[cfg(target_os = "linux")]
    {
        linux::lab::check_privileges()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(Error::Unsupported {
            os: std::env::consts::OS,
        })
    }
}

/// Removes the namespaces that labs of processes no longer running left behind (a lab
/// removes its own on every way out but SIGKILL). Returns their names.
pub fn cleanup_stale() -> Result<Vec<String>, Error> {
    #[cfg(target_os = "linux")]
    {
        linux::lab::cleanup_stale()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(Error::Unsupported {
            os: std::env::consts::OS,
        })
    }
}

/// Where a lab is, handed to [`run_with`]'s callback once it is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabInfo {
    /// The namespace of the kernel side (`ip netns exec <netns> ...` runs a command there).
    pub netns: String,
    /// The TAP device (in the namespace).
    pub device: String,
    /// The kernel's address.
    pub kernel_addr: Ipv4Addr,
    /// sansnet's address.
    pub sansnet_addr: Ipv4Addr,
    /// The server's address and port.
    pub server: SocketAddrV4,
}

/// Builds a lab, runs `spec` in it, takes the lab down and reports.
///
/// `cancel`, when given, is read at every turn of the loop: once it is `true` the run stops
/// with [`Error::Interrupted`] (or, with an external peer, ends and reports) and the lab is
/// taken down (the command sets it from SIGINT and SIGTERM). A report is returned only when
/// every byte arrived as sent, in both directions.
pub fn run(spec: &RunSpec, cancel: Option<Arc<AtomicBool>>) -> Result<Report, Error> {
    run_with(spec, cancel, |_| {})
}

/// [`run`], calling `on_ready` once the lab is up and before any traffic.
pub fn run_with(
    spec: &RunSpec,
    cancel: Option<Arc<AtomicBool>>,
    mut on_ready: impl FnMut(&LabInfo),
) -> Result<Report, Error> {
    spec.validate()?;
    #[cfg(target_os = "linux")]
    {
        linux::run::run(spec, cancel, &mut on_ready)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (cancel, &mut on_ready);
        Err(Error::Unsupported {
            os: std::env::consts::OS,
        })
    }
}
