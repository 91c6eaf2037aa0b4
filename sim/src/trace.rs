//! The event trace: one JSON object per line for every frame sent, delivered, dropped,
//! duplicated, corrupted or reordered and every fault applied, plus a rolling hash of those
//! lines so that two runs compare as one number.

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::fault::FaultChange;

/// Why a frame went nowhere. Every drop in the simulator has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The NIC is not connected to anything.
    NoLink,
    /// The node sent more frames in one go than its NIC's transmit ring holds.
    TxRingFull,
    /// Frames arrived faster than the node took them: the receive ring was full.
    RxRingFull,
    /// The link direction is down.
    LinkDown,
    /// Larger than the link's MTU.
    Oversize,
    /// The link's byte-limited queue was full (tail drop).
    QueueFull,
    /// The link's loss model chose it.
    Lost,
    /// Corrupted on the wire and caught by the frame check sequence.
    FcsError,
    /// A node partition between sender and receiver.
    Partitioned,
    /// The receiving node is crashed.
    HostDown,
    /// A switch's table says the destination is behind the port it came in on.
    Filtered,
    /// The NIC index the node named does not exist.
    NoSuchNic,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// One trace record's body. Nodes, NICs, links and switches appear by name so that a trace
/// reads on its own and does not change when unrelated ids shift.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A node handed a frame to its NIC.
    Sent {
        /// Node.
        node: String,
        /// NIC index on the node.
        nic: usize,
        /// Frame id.
        frame: u64,
        /// Bytes.
        len: usize,
    },
    /// A link direction accepted a frame: it departs (last bit out) and arrives then.
    Transmitted {
        /// Link direction (`"a->b"` as named).
        link: String,
        /// Frame id.
        frame: u64,
        /// Departure (end of serialisation), ns.
        depart_ns: u64,
        /// Arrival at the far end, ns.
        arrive_ns: u64,
    },
    /// A frame reached a node.
    Delivered {
        /// Node.
        node: String,
        /// NIC index.
        nic: usize,
        /// Frame id.
        frame: u64,
        /// Bytes.
        len: usize,
    },
    /// A frame was dropped.
    Dropped {
        /// Where: a link direction, `node/nicN` or a switch name.
        at: String,
        /// Frame id.
        frame: u64,
        /// Why.
        reason: DropReason,
    },
    /// A link sent a second copy of a frame.
    Duplicated {
        /// Link direction.
        link: String,
        /// Original frame id.
        frame: u64,
        /// The copy's id.
        copy: u64,
    },
    /// A link flipped a bit.
    Corrupted {
        /// Link direction.
        link: String,
        /// Frame id.
        frame: u64,
        /// Which bit (from the start of the frame).
        bit: u64,
    },
    /// A link held a frame back so that later ones overtake it.
    Reordered {
        /// Link direction.
        link: String,
        /// Frame id.
        frame: u64,
        /// Extra delay, ns.
        extra_ns: u64,
    },
    /// A clogged link direction is holding a frame.
    Held {
        /// Link direction.
        link: String,
        /// Frame id.
        frame: u64,
    },
    /// A switch forwarded a frame out of one port (`flood` when the destination is unknown).
    Switched {
        /// Switch.
        switch: String,
        /// Frame id.
        frame: u64,
        /// Ingress port.
        from_port: usize,
        /// Egress ports.
        to_ports: Vec<usize>,
        /// Whether this was a flood.
        flood: bool,
    },
    /// A fault change took effect.
    Fault {
        /// The change.
        change: FaultChange,
    },
    /// A node crashed (its state is gone).
    Crashed {
        /// Node.
        node: String,
    },
    /// A node was rebuilt by its factory.
    Restarted {
        /// Node.
        node: String,
        /// How many times it has been started before.
        incarnation: u32,
    },
}

#[derive(Serialize)]
struct Record<'a> {
    t_ns: u64,
    #[serde(flatten)]
    event: &'a TraceEvent,
}

/// A rolling hash over trace lines: FNV-1a 64, a fixed algorithm whose value no toolchain or
/// platform can change.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceHash(u64);

impl TraceHash {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The hash of an empty trace.
    pub const fn new() -> TraceHash {
        TraceHash(Self::OFFSET_BASIS)
    }

    /// Folds `bytes` in.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// The value.
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl Default for TraceHash {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where trace records go: always into the hash, and into a writer when one is set.
pub(crate) struct Tracer {
    hash: TraceHash,
    records: u64,
    writer: Option<Box<dyn Write>>,
    /// The first write error; later records still hash, so the run is unaffected.
    error: Option<std::io::Error>,
    line: Vec<u8>,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("hash", &self.hash)
            .field("records", &self.records)
            .field("writer", &self.writer.is_some())
            .finish()
    }
}

impl Tracer {
    pub(crate) fn new() -> Tracer {
        Tracer {
            hash: TraceHash::new(),
            records: 0,
            writer: None,
            error: None,
            line: Vec::with_capacity(256),
        }
    }

    pub(crate) fn set_writer(&mut self, writer: Box<dyn Write>) {
        self.writer = Some(writer);
    }

    pub(crate) fn record(&mut self, t_ns: u64, event: &TraceEvent) {
        self.line.clear();
        // Serialising plain data into a Vec cannot fail.
        if serde_json::to_writer(&mut self.line, &Record { t_ns, event }).is_err() {
            return;
        }
        self.line.push(b'\n');
        self.hash.update(&self.line);
        self.records += 1;
        tracing::trace!(target: "sansnet_sim::trace", "{}", String::from_utf8_lossy(&self.line[..self.line.len() - 1]));
        if let Some(w) = self.writer.as_mut() {
            if self.error.is_none() {
                if let Err(e) = w.write_all(&self.line) {
                    self.error = Some(e);
                }
            }
        }
    }

    pub(crate) fn hash(&self) -> TraceHash {
        self.hash
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}
