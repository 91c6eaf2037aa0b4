//! What can go wrong, as types.

use std::fmt;
use std::io;
use std::time::Duration;

use sansnet_stack::iface::Errno;

/// One direction of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the kernel's socket to sansnet's.
    ToSansnet,
    /// From sansnet's socket to the kernel's.
    ToKernel,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ToSansnet => "kernel -> sansnet",
            Direction::ToKernel => "sansnet -> kernel",
        })
    }
}

/// Why a lab could not be built or a run did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not Linux: TAP devices and network namespaces are Linux's.
    #[error("TAP labs need Linux; this is {os}")]
    Unsupported {
        /// `std::env::consts::OS`.
        os: &'static str,
    },
    /// This process may not create TAP devices or network namespaces.
    #[error(
        "a TAP lab needs root or CAP_NET_ADMIN and CAP_SYS_ADMIN (euid {euid}); missing: {}",
        missing.join(", ")
    )]
    NotPermitted {
        /// The effective user id.
        euid: u32,
        /// What is missing, in words.
        missing: Vec<String>,
    },
    /// A command the lab needs (`ip`) could not be started.
    #[error("cannot run `{tool}` (iproute2): {source}")]
    ToolMissing {
        /// The command.
        tool: &'static str,
        /// Why it did not start.
        source: io::Error,
    },
    /// A command exited with a failure.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status, in words.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The run's specification cannot be run.
    #[error("invalid run: {0}")]
    InvalidSpec(String),
    /// A socket call on the sansnet host failed.
    #[error("sansnet {call}: {errno} ({})", errno.description())]
    Socket {
        /// The call.
        call: &'static str,
        /// Its errno.
        errno: Errno,
    },
    /// The run did not finish within its time limit.
    #[error("no result within {after:?}: {progress}")]
    Timeout {
        /// The limit.
        after: Duration,
        /// How far each side got.
        progress: String,
    },
    /// Cancelled (Ctrl-C, SIGTERM, or the caller's flag).
    #[error("interrupted")]
    Interrupted,
    /// A receiver read a byte that is not the pattern's.
    #[error("{direction}: byte {offset} is {got:#04x}, the pattern has {expected:#04x} there")]
    Mismatch {
        /// Which stream.
        direction: Direction,
        /// The stream offset of the first wrong byte.
        offset: u64,
        /// The pattern's byte.
        expected: u8,
        /// The byte that arrived.
        got: u8,
    },
    /// A stream ended early, or went on past its length.
    #[error("{direction}: {got} bytes arrived before the end of the stream, {expected} were sent")]
    WrongLength {
        /// Which stream.
        direction: Direction,
        /// The length sent.
        expected: u64,
        /// The bytes that arrived (at least `expected + 1` when it went on past the end).
        got: u64,
    },
    /// The kernel side's socket failed.
    #[error("kernel side: {context}: {source}")]
    Kernel {
        /// What it was doing.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// A thread of the kernel side panicked.
    #[error("kernel side: a thread panicked: {0}")]
    KernelPanicked(String),
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn kernel(context: impl Into<String>, source: io::Error) -> Error {
        Error::Kernel {
            context: context.into(),
            source,
        }
    }
}
