//! The event trace: one JSON object per line for every frame sent (with the link that took
//! it and when it arrives), dropped, duplicated, corrupted, reordered, held, switched or
//! released late, and every fault applied, plus a hash over everything that can differ
//! between two runs, so that two runs compare as one number. A frame that goes from a node
//! over a link to a node is one record, `sent`: its delivery is where and when that record
//! says it arrives, and in the order of the records (see `TraceEvent::Delivered`).
//!
//! The hash is the simulator's own (`mix` below), a multiply-and-fold over little-endian
//! 64-bit words: integer arithmetic only, so no toolchain, platform or build profile can change
//! its value. It runs over a compact encoding of each record, built whether or not a trace
//! file is attached, and over the bytes of every frame a node sends (every other frame's bytes
//! follow from those and the recorded corruptions). The JSON is not hashed: building it costs
//! more than the rest of the simulator put together. Until this hash, the trace hash was
//! XXH3-64 streamed over the same encoding: about the same work per byte, but streaming
//! copied every record and each frame's tail through the hasher's buffer, and the whole was
//! 17% of a simulated bulk transfer's CPU time by perf's self time, against 12% now (see
//! `mix`). A record's encoding is a sequence of little-endian u64 words:
//!
//! - `t_ns`, then the tag: 1 `sent`, 2 `transmitted`, 3 `delivered`, 4 `dropped`,
//!   5 `duplicated`, 6 `corrupted`, 7 `reordered`, 8 `held`, 9 `switched`, 10 `fault`,
//!   11 `crashed`, 12 `restarted`;
//! - then the event's fields in declaration order, one word each: a node, switch or link
//!   direction is its index (nodes and switches in creation order, a link direction as
//!   `2 * link + direction`); a NIC index, length, frame id, bit or time its value; a bool
//!   0 or 1; a [`DropReason`] its declaration position;
//! - a drop's place is a word (0 link direction, 1 NIC, 2 switch) then the index, and for a
//!   NIC the NIC index;
//! - a `sent` record's link direction, departure and arrival are there only when it has
//!   them (its word count tells the two apart);
//! - `switched`'s egress ports are a count then one word each;
//! - a `fault`'s change is its JSON's length in bytes, then the JSON packed eight bytes to a
//!   little-endian word, the last one zero-padded (faults are rare);
//! - last, the record's word count;
//! - after a `sent` record, the frame's bytes (its length is in the record).
//!
//! How the words and bytes are folded in is `mix`'s documentation.
//!
//! Every [`CHECKPOINT_INTERVAL`] records the hash so far is kept as a [`Checkpoint`] (the
//! list is bounded: when full, every other one is dropped and the interval doubles). Two runs'
//! checkpoints locate where they first differ to one interval, which is what
//! [`crate::divergence`] builds on to name the first differing record and byte.

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::divergence::{self, Probe};
use crate::fault::FaultChange;
use crate::framebuf::FrameBytes;

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
    /// A node handed a frame to its NIC; and when the NIC's link took it as it was (not
    /// dropped, corrupted or held back for reordering: those follow as records of their
    /// own, with a `transmitted`), the link direction, when it departs and when it arrives
    /// at the far end, which is then where and when it is delivered unless a later record
    /// of it says otherwise. One record for the common case: the trace costs the
    /// simulator per record, and most frames go straight from a node to a link to a node.
    Sent {
        /// Node.
        node: String,
        /// NIC index on the node.
        nic: usize,
        /// Frame id.
        frame: u64,
        /// Bytes.
        len: usize,
        /// The link direction that took it (`"a->b"` as named).
        #[serde(skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        /// Departure (end of serialisation), ns.
        #[serde(skip_serializing_if = "Option::is_none")]
        depart_ns: Option<u64>,
        /// Arrival at the far end, ns.
        #[serde(skip_serializing_if = "Option::is_none")]
        arrive_ns: Option<u64>,
    },
    /// A link direction accepted a frame that a switch forwarded, or that a link corrupted
    /// or held back (a frame a node sends says so in its `sent` record otherwise): it
    /// departs (last bit out) and arrives then.
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
    /// A frame reached a node's NIC at a time no earlier record says: released from a pair
    /// hold (`Sim::release`). Every other delivery is where and when the frame's `sent` or
    /// `transmitted` record says it arrives, unless a later record of the frame (dropped,
    /// held, switched) says otherwise, in the order of those records; so it is not recorded.
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

/// The hash of a trace (see the [module documentation](self)): the records' encoding and the
/// frames' bytes folded together by a fixed algorithm of integer operations, whose value no
/// toolchain, platform or build profile can change.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceHash(u64);

impl TraceHash {
    /// The hash of an empty trace.
    pub fn new() -> TraceHash {
        TraceHash(mix::EMPTY)
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

/// Records between two checkpoints at the start of a run.
pub const CHECKPOINT_INTERVAL: u64 = 1024;
const _: () = assert!(
    CHECKPOINT_INTERVAL.is_power_of_two(),
    "Tracer::record masks by it"
);

/// At most this many checkpoints are kept; at this many, every other one is dropped and the
/// interval doubles, so a run of any length costs at most this much memory.
pub const MAX_CHECKPOINTS: usize = 4096;

/// The hash of a trace after its first `records` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Records hashed so far.
    pub records: u64,
    /// Simulated time of the last of them, ns.
    pub t_ns: u64,
    /// The hash so far.
    pub hash: TraceHash,
}

/// What a run's trace looked like, compactly: enough to tell whether another run of the same
/// seed went the same way, and if not, in which stretch of records it first went another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Records between checkpoints (a power-of-two multiple of [`CHECKPOINT_INTERVAL`]).
    pub interval: u64,
    /// The hash every `interval` records, in order.
    pub checkpoints: Vec<Checkpoint>,
    /// Records in the whole trace.
    pub records: u64,
    /// Simulated time of the last record, ns.
    pub last_ns: u64,
    /// The hash of the whole trace.
    pub hash: TraceHash,
}

impl Fingerprint {
    /// Whether two runs produced the same trace.
    pub fn same_trace(&self, other: &Fingerprint) -> bool {
        self.hash == other.hash && self.records == other.records
    }
}

/// Where trace records go: always into the hash, and into a writer when one is set.
pub(crate) struct Tracer {
    /// The hash so far (`mix`).
    acc: u64,
    records: u64,
    last_ns: u64,
    interval: u64,
    checkpoints: Vec<Checkpoint>,
    /// The encoding of the record being hashed, reused.
    scratch: Vec<u64>,
    /// Set when a determinism check asked this run to watch its records.
    probe: Option<Probe>,
    writer: Option<Box<dyn Write>>,
    /// The first write error; later records still hash, so the run is unaffected.
    error: Option<std::io::Error>,
    line: Vec<u8>,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("hash", &self.hash())
            .field("records", &self.records)
            .field("writer", &self.writer.is_some())
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

impl Tracer {
    pub(crate) fn new() -> Tracer {
        Tracer {
            acc: mix::EMPTY,
            records: 0,
            last_ns: 0,
            interval: CHECKPOINT_INTERVAL,
            checkpoints: Vec::new(),
            scratch: Vec::with_capacity(32),
            probe: divergence::take_armed_probe(),
            writer: None,
            error: None,
            line: Vec::with_capacity(256),
        }
    }

    pub(crate) fn set_writer(&mut self, writer: Box<dyn Write>) {
        self.writer = Some(writer);
    }

    /// Folds one record (and, for a `sent` record, the frame's bytes) into the hash and, when
    /// a writer is attached (or trace logging is on), writes its JSON line.
    ///
    /// The record is folded word by word as it is encoded (`mix::Stream`), with no buffer;
    /// what only some runs do (a determinism probe, JSON) is out of line.
    pub(crate) fn record(&mut self, t_ns: u64, rec: &Rec<'_>) {
        if self.probe.is_some() {
            return self.record_watched(t_ns, rec);
        }
        let mut stream = mix::Stream::new(self.acc);
        rec.encode(t_ns, &mut |w| stream.push(w));
        self.acc = stream.finish();
        if let Rec::Sent { bytes, .. } = *rec {
            self.acc = mix::bytes(self.acc, bytes);
        }
        self.records += 1;
        self.last_ns = t_ns;
        self.after_record(t_ns, rec);
    }

    /// `record` of a `sent` record, the one made for every frame, taking its fields as
    /// arguments: folded as they come, in registers. Built as a `Rec` on the stack, the
    /// frame's fields were stored eight bytes at a time and read back sixteen at a time
    /// right after, which waits on the stores (a store-forwarding stall: a fifth of
    /// `link_ingress_parts`'s samples at 1% loss, `perf annotate`). The same hash as
    /// `record` (the tests hold the two together); a watched run or one that writes JSON
    /// goes through `record`.
    #[inline]
    pub(crate) fn record_sent(
        &mut self,
        t_ns: u64,
        node: Named<'_>,
        nic: usize,
        frame: u64,
        bytes: &FrameBytes,
        over: Option<Over<'_>>,
    ) {
        if self.probe.is_some() || self.wants_json() {
            let len = bytes.len();
            let rec = Rec::Sent {
                node,
                nic,
                frame,
                len,
                bytes,
                over,
            };
            return self.record(t_ns, &rec);
        }
        let mut stream = mix::Stream::new(self.acc);
        stream.push(t_ns);
        let (words, link_words) = sent_words(node, nic, frame, bytes.len(), over);
        for w in words {
            stream.push(w);
        }
        // An `if let`, not `flatten`: the flattened iterator kept the stream in memory,
        // 70 instructions a frame more (callgrind).
        if let Some(link_words) = link_words {
            for w in link_words {
                stream.push(w);
            }
        }
        self.acc = mix::bytes(stream.finish(), bytes);
        self.records += 1;
        self.last_ns = t_ns;
        if self.records & (self.interval - 1) == 0 {
            self.checkpoint(t_ns);
        }
    }

    /// Whether each record's JSON line is wanted: a writer that has not failed, or trace
    /// logging.
    #[inline]
    fn wants_json(&self) -> bool {
        self.writer.is_some() && self.error.is_none()
            || tracing::enabled!(target: "sansnet_sim::trace", tracing::Level::TRACE)
    }

    /// `record` for a run a determinism probe watches: the probe sees each record's words.
    #[inline(never)]
    fn record_watched(&mut self, t_ns: u64, rec: &Rec<'_>) {
        self.scratch.clear();
        let scratch = &mut self.scratch;
        rec.encode(t_ns, &mut |w| scratch.push(w));
        let mut stream = mix::Stream::new(self.acc);
        scratch.iter().for_each(|&w| stream.push(w));
        self.acc = stream.finish();
        scratch.push(scratch.len() as u64);
        let frame = match *rec {
            Rec::Sent { bytes, .. } => Some(bytes),
            _ => None,
        };
        if let Some(bytes) = frame {
            self.acc = mix::bytes(self.acc, bytes);
        }
        let index = self.records;
        self.records += 1;
        self.last_ns = t_ns;
        if let Some(probe) = self.probe.as_mut() {
            probe.observe(index, t_ns, rec, &self.scratch, frame);
            if probe.wants_checkpoint(self.records) {
                probe.checkpoint(Checkpoint {
                    records: self.records,
                    t_ns,
                    hash: TraceHash(self.acc),
                });
            }
        }
        self.after_record(t_ns, rec);
    }

    /// A checkpoint when one is due, and the JSON line when one is wanted.
    #[inline]
    fn after_record(&mut self, t_ns: u64, rec: &Rec<'_>) {
        // `interval` is a power of two (it starts as one and doubles): a mask, not a
        // division, on every record.
        if self.records & (self.interval - 1) == 0 {
            self.checkpoint(t_ns);
        }
        if self.wants_json() {
            self.write_json(t_ns, rec);
        }
    }

    /// The record's JSON line, to the writer and to trace logging (whichever is on).
    #[inline(never)]
    fn write_json(&mut self, t_ns: u64, rec: &Rec<'_>) {
        let log = tracing::enabled!(target: "sansnet_sim::trace", tracing::Level::TRACE);
        let event = (*rec).to_event();
        self.line.clear();
        // Serialising plain data into a Vec cannot fail.
        if serde_json::to_writer(
            &mut self.line,
            &Record {
                t_ns,
                event: &event,
            },
        )
        .is_err()
        {
            return;
        }
        if log {
            tracing::trace!(target: "sansnet_sim::trace", "{}", String::from_utf8_lossy(&self.line));
        }
        self.line.push(b'\n');
        if let Some(w) = self.writer.as_mut() {
            if self.error.is_none() {
                if let Err(e) = w.write_all(&self.line) {
                    self.error = Some(e);
                }
            }
        }
    }

    #[cold]
    fn checkpoint(&mut self, t_ns: u64) {
        let cp = Checkpoint {
            records: self.records,
            t_ns,
            hash: TraceHash(self.acc),
        };
        if self.checkpoints.len() == MAX_CHECKPOINTS {
            // Keep the ones at multiples of the doubled interval (the odd positions).
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i % 2 == 0
            });
            self.interval *= 2;
        }
        if self.records.is_multiple_of(self.interval) {
            self.checkpoints.push(cp);
        }
    }

    pub(crate) fn hash(&self) -> TraceHash {
        TraceHash(self.acc)
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            interval: self.interval,
            checkpoints: self.checkpoints.clone(),
            records: self.records,
            last_ns: self.last_ns,
            hash: self.hash(),
        }
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

impl Drop for Tracer {
    /// A watched run hands what its probe saw back to the determinism check.
    fn drop(&mut self) {
        if let Some(probe) = self.probe.take() {
            let fingerprint = self.fingerprint();
            divergence::deposit(probe.finish(fingerprint));
        }
    }
}

/// The trace hash's arithmetic.
///
/// A record's fields go in as 64-bit words through `fold`: the full 128-bit product of two
/// words, its halves xored, so that every bit of either word reaches every bit of the
/// result. Each word is first xored with a constant (`K`, hexadecimal digits of pi) that
/// depends on its place among sixteen, so that zero words do not multiply to zero and words
/// that trade places change the sum; the pairs' folds are summed, and the sum is folded into
/// the running hash with the count of words, the running hash added back so that a fold
/// that happens to give zero keeps what came before.
///
/// A frame goes in as its CRC-32 (the IEEE polynomial: the Ethernet FCS the frame would
/// carry on a wire) and its length, folded in the same way. A CRC-32 sees every byte and its
/// place, and two frames of one length that differ anywhere share it 1 time in 2^32
/// (differences of 32 bits or fewer in a row, never): that is the chance of a divergence
/// that changes a frame's bytes and nothing else going unseen, where a 64-bit hash of the
/// bytes gave 2^-64. It buys speed: a CRC folds a frame with the CPU's carry-less multiply,
/// several times faster than the eight lanes of 64-bit multiplies over the bytes used before
/// (113 to 190 ns a 1,514-byte frame on the machine measured, against 40 with `crc32fast`
/// and 22 with `sansnet-fcs`, which folds 64 bytes at a time where the CPU has AVX-512: the
/// same value, found at run time), and the frame hash is most of what the trace costs the
/// bulk bench (issue 16). The hash is meant to tell two runs apart, not to resist someone
/// crafting frames.
mod mix {
    /// The hash of an empty trace.
    pub(super) const EMPTY: u64 = 0x9e37_79b9_7f4a_7c15;

    const K: [u64; 16] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
        0x4528_21e6_38d0_1377,
        0xbe54_66cf_34e9_0c6c,
        0xc0ac_29b7_c97c_50dd,
        0x3f84_d5b5_b547_0917,
        0x9216_d5d9_8979_fb1b,
        0xd131_0ba6_98df_b5ac,
        0x2ffd_72db_d01a_dfb7,
        0xb8e1_afed_6a26_7e96,
        0xba7c_9045_f12c_7f99,
        0x24a1_9947_b391_6cf7,
        0x0801_f2e2_858e_fc16,
        0x6369_20d8_7157_4e69,
    ];

    #[inline(always)]
    fn fold(a: u64, b: u64) -> u64 {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    }

    /// Folds a record's words into `acc`, sixteen at a time: the definition that `Stream`
    /// computes a word at a time (the tests hold the two together).
    #[cfg(test)]
    pub(super) fn words(mut acc: u64, words: &[u64]) -> u64 {
        for chunk in words.chunks(16) {
            let mut sum = 0u64;
            let mut pairs = chunk.chunks_exact(2);
            for (i, pair) in (&mut pairs).enumerate() {
                sum = sum.wrapping_add(fold(pair[0] ^ K[2 * i], pair[1] ^ K[2 * i + 1]));
            }
            if let [last] = pairs.remainder() {
                let i = chunk.len() - 1;
                sum = sum.wrapping_add(fold(last ^ K[i], K[i + 1]));
            }
            acc = fold(acc ^ sum, chunk.len() as u64 ^ K[8]).wrapping_add(acc);
        }
        acc
    }

    /// `words` one word at a time, for a record encoded straight into it: the same value as
    /// `words` over the record's words followed by their count, without a buffer.
    pub(super) struct Stream {
        acc: u64,
        sum: u64,
        /// The word at an even place of the chunk, waiting for its pair.
        pending: u64,
        /// Words of the chunk so far (0 to 15).
        in_chunk: usize,
        /// Words of the record so far.
        count: u64,
    }

    impl Stream {
        #[inline(always)]
        pub(super) fn new(acc: u64) -> Stream {
            Stream {
                acc,
                sum: 0,
                pending: 0,
                in_chunk: 0,
                count: 0,
            }
        }

        #[inline(always)]
        pub(super) fn push(&mut self, w: u64) {
            self.count += 1;
            self.word(w);
        }

        #[inline(always)]
        fn word(&mut self, w: u64) {
            let i = self.in_chunk;
            if i.is_multiple_of(2) {
                self.pending = w;
                self.in_chunk = i + 1;
                return;
            }
            self.sum = self
                .sum
                .wrapping_add(fold(self.pending ^ K[i - 1], w ^ K[i]));
            if i == 15 {
                self.acc = fold(self.acc ^ self.sum, 16 ^ K[8]).wrapping_add(self.acc);
                self.sum = 0;
                self.in_chunk = 0;
            } else {
                self.in_chunk = i + 1;
            }
        }

        /// The hash after the record and its word count.
        #[inline(always)]
        pub(super) fn finish(mut self) -> u64 {
            let count = self.count;
            self.word(count);
            let n = self.in_chunk;
            if n == 0 {
                return self.acc;
            }
            if n % 2 == 1 {
                self.sum = self.sum.wrapping_add(fold(self.pending ^ K[n - 1], K[n]));
            }
            fold(self.acc ^ self.sum, n as u64 ^ K[8]).wrapping_add(self.acc)
        }
    }

    /// Folds a frame's bytes into `acc`: its CRC-32 (the Ethernet FCS it would carry)
    /// and its length.
    pub(super) fn bytes(acc: u64, bytes: &[u8]) -> u64 {
        fcs(acc, sansnet_fcs::crc32(bytes), bytes.len())
    }

    /// Folds a frame's FCS and length into `acc`.
    #[inline(always)]
    pub(super) fn fcs(acc: u64, crc: u32, len: usize) -> u64 {
        fold(acc ^ K[8], (u64::from(crc) << 32 | len as u64) ^ K[9]).wrapping_add(acc)
    }
}

/// A node, switch or link direction as the hash sees it (its index) and as the JSON shows it
/// (its name).
///
/// The name is held as the `String` it is in, not as a `&str`: making a `&str` reads the
/// string's pointer and length out of the node or link, a cache line touched for every
/// record although only the JSON reads a name (with thousands of clients, a miss a frame:
/// issue 16). A `&String` is the field's address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Named<'a> {
    pub(crate) id: u32,
    pub(crate) name: &'a String,
}

impl<'a> Named<'a> {
    pub(crate) fn new(id: usize, name: &'a String) -> Named<'a> {
        Named {
            id: u32::try_from(id).unwrap_or(u32::MAX),
            name,
        }
    }
}

/// Where a frame was dropped.
#[derive(Clone, Copy, Debug)]
pub(crate) enum At<'a> {
    /// A link direction.
    Dir(Named<'a>),
    /// A node's NIC (`node/nicN` in JSON).
    Nic(Named<'a>, usize),
    /// A switch.
    Switch(Named<'a>),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Dir(n) | At::Switch(n) => f.write_str(n.name),
            At::Nic(n, i) => write!(f, "{}/nic{i}", n.name),
        }
    }
}

/// A link direction taking a frame as it was sent: the `sent` record's last three fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Over<'a> {
    pub(crate) link: Named<'a>,
    pub(crate) depart_ns: u64,
    pub(crate) arrive_ns: u64,
}

/// A trace record as the simulator produces it: borrowed, so that recording one allocates
/// nothing unless its JSON is wanted. Mirrors [`TraceEvent`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rec<'a> {
    Sent {
        node: Named<'a>,
        nic: usize,
        frame: u64,
        len: usize,
        /// Hashed after the record; not in the JSON (a capture has them).
        bytes: &'a FrameBytes,
        /// The link that took it, when it took it as it was sent (see `TraceEvent::Sent`).
        over: Option<Over<'a>>,
    },
    Transmitted {
        link: Named<'a>,
        frame: u64,
        depart_ns: u64,
        arrive_ns: u64,
    },
    Delivered {
        node: Named<'a>,
        nic: usize,
        frame: u64,
        len: usize,
    },
    Dropped {
        at: At<'a>,
        frame: u64,
        reason: DropReason,
    },
    Duplicated {
        link: Named<'a>,
        frame: u64,
        copy: u64,
    },
    Corrupted {
        link: Named<'a>,
        frame: u64,
        bit: u64,
    },
    Reordered {
        link: Named<'a>,
        frame: u64,
        extra_ns: u64,
    },
    Held {
        link: Named<'a>,
        frame: u64,
    },
    Switched {
        switch: Named<'a>,
        frame: u64,
        from_port: usize,
        to_ports: &'a [usize],
        flood: bool,
    },
    Fault {
        change: &'a FaultChange,
    },
    Crashed {
        node: Named<'a>,
    },
    Restarted {
        node: Named<'a>,
        incarnation: u32,
    },
}

/// A `sent` record's words after the time, and the link's part (the layout in the module
/// documentation): for `Rec::encode`, and for `Tracer::record_sent`, which folds them
/// without a `Rec`.
#[inline(always)]
fn sent_words(
    node: Named<'_>,
    nic: usize,
    frame: u64,
    len: usize,
    over: Option<Over<'_>>,
) -> ([u64; 5], Option<[u64; 3]>) {
    (
        [1, u64::from(node.id), nic as u64, frame, len as u64],
        over.map(|o| [u64::from(o.link.id), o.depart_ns, o.arrive_ns]),
    )
}

impl Rec<'_> {
    /// Feeds the record's words to `out` (the layout in the module documentation).
    pub(crate) fn encode(&self, t_ns: u64, out: &mut impl FnMut(u64)) {
        let id = |n: Named<'_>| u64::from(n.id);
        out(t_ns);
        match *self {
            Rec::Sent {
                node,
                nic,
                frame,
                len,
                over,
                ..
            } => {
                let (words, link_words) = sent_words(node, nic, frame, len, over);
                words.into_iter().for_each(&mut *out);
                link_words.into_iter().flatten().for_each(out);
            }
            Rec::Transmitted {
                link,
                frame,
                depart_ns,
                arrive_ns,
            } => [2, id(link), frame, depart_ns, arrive_ns]
                .into_iter()
                .for_each(out),
            Rec::Delivered {
                node,
                nic,
                frame,
                len,
            } => [3, id(node), nic as u64, frame, len as u64]
                .into_iter()
                .for_each(out),
            Rec::Dropped { at, frame, reason } => {
                out(4);
                match at {
                    At::Dir(n) => [0, id(n)].into_iter().for_each(&mut *out),
                    At::Nic(n, i) => [1, id(n), i as u64].into_iter().for_each(&mut *out),
                    At::Switch(n) => [2, id(n)].into_iter().for_each(&mut *out),
                }
                out(frame);
                out(reason as u64);
            }
            Rec::Duplicated { link, frame, copy } => {
                [5, id(link), frame, copy].into_iter().for_each(out)
            }
            Rec::Corrupted { link, frame, bit } => {
                [6, id(link), frame, bit].into_iter().for_each(out)
            }
            Rec::Reordered {
                link,
                frame,
                extra_ns,
            } => [7, id(link), frame, extra_ns].into_iter().for_each(out),
            Rec::Held { link, frame } => [8, id(link), frame].into_iter().for_each(out),
            Rec::Switched {
                switch,
                frame,
                from_port,
                to_ports,
                flood,
            } => {
                [
                    9,
                    id(switch),
                    frame,
                    from_port as u64,
                    to_ports.len() as u64,
                ]
                .into_iter()
                .for_each(&mut *out);
                for &p in to_ports {
                    out(p as u64);
                }
                out(u64::from(flood));
            }
            Rec::Fault { change } => {
                out(10);
                let json = serde_json::to_vec(change).unwrap_or_default();
                out(json.len() as u64);
                for chunk in json.chunks(8) {
                    let mut word = [0u8; 8];
                    word[..chunk.len()].copy_from_slice(chunk);
                    out(u64::from_le_bytes(word));
                }
            }
            Rec::Crashed { node } => [11, id(node)].into_iter().for_each(out),
            Rec::Restarted { node, incarnation } => [12, id(node), u64::from(incarnation)]
                .into_iter()
                .for_each(out),
        }
    }

    /// The owned, named form, for the JSON trace.
    pub(crate) fn to_event(self) -> TraceEvent {
        match self {
            Rec::Sent {
                node,
                nic,
                frame,
                len,
                over,
                ..
            } => TraceEvent::Sent {
                node: node.name.to_owned(),
                nic,
                frame,
                len,
                link: over.map(|o| o.link.name.to_owned()),
                depart_ns: over.map(|o| o.depart_ns),
                arrive_ns: over.map(|o| o.arrive_ns),
            },
            Rec::Transmitted {
                link,
                frame,
                depart_ns,
                arrive_ns,
            } => TraceEvent::Transmitted {
                link: link.name.to_owned(),
                frame,
                depart_ns,
                arrive_ns,
            },
            Rec::Delivered {
                node,
                nic,
                frame,
                len,
            } => TraceEvent::Delivered {
                node: node.name.to_owned(),
                nic,
                frame,
                len,
            },
            Rec::Dropped { at, frame, reason } => TraceEvent::Dropped {
                at: at.to_string(),
                frame,
                reason,
            },
            Rec::Duplicated { link, frame, copy } => TraceEvent::Duplicated {
                link: link.name.to_owned(),
                frame,
                copy,
            },
            Rec::Corrupted { link, frame, bit } => TraceEvent::Corrupted {
                link: link.name.to_owned(),
                frame,
                bit,
            },
            Rec::Reordered {
                link,
                frame,
                extra_ns,
            } => TraceEvent::Reordered {
                link: link.name.to_owned(),
                frame,
                extra_ns,
            },
            Rec::Held { link, frame } => TraceEvent::Held {
                link: link.name.to_owned(),
                frame,
            },
            Rec::Switched {
                switch,
                frame,
                from_port,
                to_ports,
                flood,
            } => TraceEvent::Switched {
                switch: switch.name.to_owned(),
                frame,
                from_port,
                to_ports: to_ports.to_vec(),
                flood,
            },
            Rec::Fault { change } => TraceEvent::Fault {
                change: change.clone(),
            },
            Rec::Crashed { node } => TraceEvent::Crashed {
                node: node.name.to_owned(),
            },
            Rec::Restarted { node, incarnation } => TraceEvent::Restarted {
                node: node.name.to_owned(),
                incarnation,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of a frame reaches the hash, whatever its place and the frame's length,
    /// and so do the order of its blocks and its length.
    #[test]
    fn every_frame_byte_counts() {
        for len in [0usize, 1, 8, 15, 16, 17, 60, 127, 128, 129, 255, 256, 1514] {
            let frame: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let base = mix::bytes(mix::EMPTY, &frame);
            for at in 0..len {
                for bit in [0, 7] {
                    let mut f = frame.clone();
                    f[at] ^= 1 << bit;
                    assert_ne!(mix::bytes(mix::EMPTY, &f), base, "len {len}, byte {at}");
                }
            }
            let mut longer = frame.clone();
            longer.push(0);
            assert_ne!(
                mix::bytes(mix::EMPTY, &longer),
                base,
                "len {len} and a zero"
            );
            if len >= 32 {
                let mut swapped = frame.clone();
                swapped[..32].rotate_left(16);
                assert_ne!(mix::bytes(mix::EMPTY, &swapped), base, "len {len}");
            }
        }
        let blocks: Vec<u8> = (0..256).map(|i| (i / 128) as u8).collect();
        let mut turned = blocks.clone();
        turned.rotate_left(128);
        assert_ne!(
            mix::bytes(mix::EMPTY, &blocks),
            mix::bytes(mix::EMPTY, &turned)
        );
    }

    /// A frame's digest is the CRC the Ethernet FCS carries (CRC-32, IEEE polynomial,
    /// reflected, complemented: its check value over "123456789" is 0xcbf43926) with the
    /// frame's length, at every length a frame has (the CRC's 64-byte path starts at 64).
    #[test]
    fn frame_digest_is_the_ethernet_crc() {
        assert_eq!(
            mix::bytes(mix::EMPTY, b"123456789"),
            mix::fcs(mix::EMPTY, 0xcbf4_3926, 9)
        );
        let frame: Vec<u8> = (0..1518u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for len in [0, 14, 60, 63, 64, 65, 127, 128, 590, 1514, 1518] {
            let f = &frame[..len];
            assert_eq!(
                mix::bytes(mix::EMPTY, f),
                mix::fcs(mix::EMPTY, crc32fast::hash(f), len),
                "len {len}"
            );
        }
    }

    /// Every word of a record, and its place, reaches the hash.
    #[test]
    fn every_record_word_counts() {
        let words: Vec<u64> = (0..19).map(|i| i * 1000).collect();
        let base = mix::words(mix::EMPTY, &words);
        for at in 0..words.len() {
            let mut w = words.clone();
            w[at] ^= 1;
            assert_ne!(mix::words(mix::EMPTY, &w), base, "word {at}");
            let mut w = words.clone();
            w.swap(at, (at + 8) % words.len());
            assert_ne!(mix::words(mix::EMPTY, &w), base, "swap {at}");
        }
        assert_ne!(mix::words(mix::EMPTY, &words[..18]), base);
        assert_ne!(mix::words(base, &words), base);
    }

    /// The hash is a fixed function: these values are the same on every platform, toolchain
    /// and build profile. A change to `mix` changes every recorded trace hash; this test says
    /// so first.
    #[test]
    fn the_hash_function_is_fixed() {
        let frame: Vec<u8> = (0..1514).map(|i| (i % 251) as u8).collect();
        let mut t = Tracer::new();
        assert_eq!(t.hash().value(), mix::EMPTY);
        let bytes = FrameBytes::new(frame);
        let (a, b) = (String::from("a"), String::from("b"));
        t.record(
            1_000,
            &Rec::Sent {
                node: Named::new(0, &a),
                nic: 0,
                frame: 1,
                len: bytes.len(),
                bytes: &bytes,
                over: None,
            },
        );
        t.record(
            1_000,
            &Rec::Dropped {
                at: At::Nic(Named::new(2, &b), 1),
                frame: 7,
                reason: DropReason::RxRingFull,
            },
        );
        assert_eq!(format!("{}", t.hash()), "3484088f918dd144");
    }

    /// `record_sent`, the fold of a sent frame's record from its fields, is `record` of the
    /// same `Rec::Sent`, with and without the link's part, at lengths on both sides of
    /// a checkpoint.
    #[test]
    fn a_sent_record_from_its_fields_is_the_record() {
        let (node, link) = (String::from("n"), String::from("l"));
        let mut by_rec = Tracer::new();
        let mut by_fields = Tracer::new();
        for i in 0..300u64 {
            let bytes = FrameBytes::new((0..(i as usize * 7) % 1600).map(|b| b as u8).collect());
            let over = (i % 3 != 0).then_some(Over {
                link: Named::new(i as usize % 5, &link),
                depart_ns: 1_000 * i,
                arrive_ns: 1_000 * i + 250,
            });
            let named = Named::new(i as usize % 4, &node);
            by_rec.record(
                100 * i,
                &Rec::Sent {
                    node: named,
                    nic: i as usize % 2,
                    frame: i,
                    len: bytes.len(),
                    bytes: &bytes,
                    over,
                },
            );
            by_fields.record_sent(100 * i, named, i as usize % 2, i, &bytes, over);
            assert_eq!(by_rec.hash(), by_fields.hash(), "record {i}");
        }
        assert_eq!(by_rec.fingerprint(), by_fields.fingerprint());
    }

    /// The streamed fold is the fold of the record's words and their count, at every
    /// length (chunks of sixteen, odd and even).
    #[test]
    fn streaming_a_record_is_folding_its_words() {
        for len in 0..50u64 {
            let words: Vec<u64> = (0..len).map(|i| i.wrapping_mul(0x9e37_79b9) ^ 7).collect();
            let mut with_count = words.clone();
            with_count.push(len);
            let mut stream = mix::Stream::new(mix::EMPTY);
            words.iter().for_each(|&w| stream.push(w));
            assert_eq!(
                stream.finish(),
                mix::words(mix::EMPTY, &with_count),
                "{len} words"
            );
        }
    }

    #[test]
    fn the_encoding_is_as_documented() {
        let mut out = Vec::new();
        let b = String::from("b");
        let rec = Rec::Dropped {
            at: At::Nic(Named::new(2, &b), 1),
            frame: 7,
            reason: DropReason::RxRingFull,
        };
        rec.encode(300, &mut |w| out.push(w));
        assert_eq!(out, vec![300, 4, 1, 2, 1, 7, 2]);
        let TraceEvent::Dropped { at, .. } = rec.to_event() else {
            panic!("not a drop");
        };
        assert_eq!(at, "b/nic1");
    }
}
