//! Running the same thing twice and, when the runs differ, naming the first difference: the
//! record, its simulated time, node or link and frame, and for a frame the first differing
//! byte with both values and both frames decoded.
//!
//! How it stays cheap. Every run keeps a checkpoint of its trace hash every few thousand
//! records ([`Fingerprint`]). [`check`] runs the workload once, then again with a *probe*
//! armed against the first run's checkpoints: the second run keeps its records since the
//! last checkpoint that matched, in detail, and freezes them at the first checkpoint that
//! does not. The first run's records were not kept, so a third run captures the same
//! stretch in detail, and the two detailed stretches are compared record by record. The
//! difference named is between the second and third runs, which agree up to that stretch:
//! whichever two runs disagree, the first place they disagree is what a reader needs. When
//! the third run happens to agree with the second over the stretch (a leak that shows only
//! sometimes), the report names the stretch, not the record.
//!
//! The probe reaches the run's [`Sim`](crate::Sim) through a thread-local: the first `Sim`
//! created on the thread while a probe is armed takes it, and hands its report back when it
//! is dropped. So `check` needs nothing from the workload but that it builds and drops its
//! simulation on the thread that calls it (or on the thread where [`Watch::run`] is called).

use std::cell::RefCell;
use std::fmt;

use crate::decode::describe_frame;
use crate::framebuf::FrameBytes;
use crate::trace::{Checkpoint, Fingerprint, Rec, TraceEvent};

/// One trace record, kept in detail.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordDetail {
    /// Position in the trace (0 is the first record).
    pub index: u64,
    /// Simulated time, ns.
    pub t_ns: u64,
    /// The record, as the JSON trace shows it.
    pub event: TraceEvent,
    /// The record's hashed encoding (see [`crate::trace`]).
    pub encoded: Vec<u8>,
    /// For a `sent` record, the frame's bytes.
    pub frame: Option<Vec<u8>>,
}

impl RecordDetail {
    fn same(&self, other: &RecordDetail) -> bool {
        self.encoded == other.encoded && self.frame == other.frame
    }
}

/// A stretch of a run's records, kept in detail.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stretch {
    /// Index of the first record the stretch covers.
    pub from: u64,
    /// Index one past the last record it covers (it may hold fewer when the run ended).
    pub to: u64,
    /// The records.
    pub records: Vec<RecordDetail>,
}

/// What a watched run saw: its fingerprint and, when it was compared against another run
/// and differed, the stretch where it first did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The run's trace, compactly.
    pub fingerprint: Fingerprint,
    /// The stretch of records kept in detail, if any.
    pub stretch: Option<Stretch>,
}

/// The first difference between two runs of the same workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The first run's fingerprint.
    pub first: Fingerprint,
    /// The second run's fingerprint.
    pub second: Fingerprint,
    /// Where the records were compared in detail, and what was found.
    pub at: DivergenceAt,
}

/// How precisely a [`Divergence`] was located.
#[derive(Clone, Debug, PartialEq)]
pub enum DivergenceAt {
    /// The first differing record, in both runs (`None`: that run had ended).
    Record {
        /// The record in one run.
        a: Option<Box<RecordDetail>>,
        /// The same position in the other run.
        b: Option<Box<RecordDetail>>,
        /// For two frames, the first differing byte.
        byte: Option<ByteDiff>,
    },
    /// Only the stretch of records where the runs first differ: a third run, made to see it
    /// in detail, did not differ there.
    Stretch {
        /// Index of the first record of the stretch.
        from: u64,
        /// Index one past its last record.
        to: u64,
        /// The stretch's first record in the run that was kept, if it had one.
        first_record: Option<Box<RecordDetail>>,
    },
}

/// The first byte at which two frames differ, checksum fields aside (a changed payload
/// changes its checksum, which comes first in the frame and says nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteDiff {
    /// Offset from the start of the frame.
    pub offset: usize,
    /// Whether IPv4, TCP or UDP checksum fields differ too.
    pub checksums_differ: bool,
    /// The byte in one frame (`None`: the frame is shorter).
    pub a: Option<u8>,
    /// The byte in the other.
    pub b: Option<u8>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "two runs of the same seed differ: trace hash {} ({} records, last at {}) vs {} ({} records, last at {})",
            self.first.hash,
            self.first.records,
            time(self.first.last_ns),
            self.second.hash,
            self.second.records,
            time(self.second.last_ns)
        )?;
        match &self.at {
            DivergenceAt::Record { a, b, byte } => {
                let index = a.as_ref().or(b.as_ref()).map_or(0, |r| r.index);
                writeln!(f, "first difference at trace record {index}:")?;
                for (run, rec) in [("run A", a), ("run B", b)] {
                    match rec {
                        Some(r) => writeln!(f, "  {run}: {}", describe_record(r))?,
                        None => writeln!(f, "  {run}: (the trace had ended)")?,
                    }
                }
                if let (Some(d), Some(a), Some(b)) = (byte, a, b) {
                    write_byte_diff(f, d, a, b)?;
                }
            }
            DivergenceAt::Stretch {
                from,
                to,
                first_record,
            } => {
                writeln!(
                    f,
                    "first difference within trace records {from}..{to}; a third run, made to \
                     see them in detail, did not differ there (the leak shows only sometimes)"
                )?;
                if let Some(r) = first_record {
                    writeln!(f, "  the stretch starts with: {}", describe_record(r))?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for Divergence {}

fn time(ns: u64) -> String {
    format!("{}.{:09}s", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// One line for a record: when, what, where, and for a frame what it is.
fn describe_record(r: &RecordDetail) -> String {
    let what = serde_json::to_string(&r.event).unwrap_or_default();
    match &r.frame {
        Some(bytes) => format!(
            "t={} {what}\n         frame: {}",
            time(r.t_ns),
            describe_frame(bytes)
        ),
        None => format!("t={} {what}", time(r.t_ns)),
    }
}

fn write_byte_diff(
    f: &mut fmt::Formatter<'_>,
    d: &ByteDiff,
    a: &RecordDetail,
    b: &RecordDetail,
) -> fmt::Result {
    let show = |x: Option<u8>| x.map_or_else(|| "(end)".to_string(), |v| format!("0x{v:02x}"));
    writeln!(
        f,
        "  frame bytes differ first at offset {}: {} vs {}{}",
        d.offset,
        show(d.a),
        show(d.b),
        if d.checksums_differ {
            " (checksums aside; they differ too)"
        } else {
            ""
        }
    )?;
    if let (Some(fa), Some(fb)) = (&a.frame, &b.frame) {
        writeln!(f, "    run A: {}", context(fa, d.offset))?;
        writeln!(f, "    run B: {}", context(fb, d.offset))?;
    }
    Ok(())
}

/// The bytes around `offset`, printable ASCII as is and the rest escaped: a leaked date or
/// number reads as text.
fn context(bytes: &[u8], offset: usize) -> String {
    let from = offset.saturating_sub(24);
    let to = (offset + 24).min(bytes.len());
    let mut out = format!("[{from}..{to}] \"");
    for &b in bytes.get(from..to).unwrap_or_default() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The first position where two stretches (of the same records) differ.
fn first_difference(a: &Stretch, b: &Stretch) -> Option<DivergenceAt> {
    let n = a.records.len().max(b.records.len());
    (0..n).find_map(|i| {
        let (ra, rb) = (a.records.get(i), b.records.get(i));
        let same = match (ra, rb) {
            (Some(x), Some(y)) => x.same(y),
            (None, None) => true,
            _ => false,
        };
        (!same).then(|| {
            let byte = match (
                ra.and_then(|r| r.frame.as_ref()),
                rb.and_then(|r| r.frame.as_ref()),
            ) {
                (Some(x), Some(y)) => first_byte_difference(x, y),
                _ => None,
            };
            DivergenceAt::Record {
                a: ra.cloned().map(Box::new),
                b: rb.cloned().map(Box::new),
                byte,
            }
        })
    })
}

fn first_byte_difference(a: &[u8], b: &[u8]) -> Option<ByteDiff> {
    let n = a.len().max(b.len());
    let checksums = checksum_fields(a);
    let in_checksum = |i: usize| checksums.iter().any(|r| r.contains(&i));
    let differs = |i: &usize| a.get(*i) != b.get(*i);
    let checksums_differ = (0..n).filter(differs).any(in_checksum);
    let offset = (0..n)
        .filter(differs)
        .find(|&i| !in_checksum(i))
        .or_else(|| (0..n).find(differs))?;
    Some(ByteDiff {
        offset,
        checksums_differ,
        a: a.get(offset).copied(),
        b: b.get(offset).copied(),
    })
}

/// Where an Ethernet frame's IPv4 header checksum and TCP or UDP checksum are, as far as the
/// frame says (nothing for anything else, and nothing past its end).
fn checksum_fields(frame: &[u8]) -> Vec<std::ops::Range<usize>> {
    const ETH: usize = 14;
    let mut out = Vec::new();
    if frame.get(12..14) != Some(&[0x08, 0x00][..]) {
        return out;
    }
    let Some(&ver_ihl) = frame.get(ETH) else {
        return out;
    };
    out.push(ETH + 10..ETH + 12);
    let l4 = ETH + usize::from(ver_ihl & 0x0f) * 4;
    match frame.get(ETH + 9) {
        Some(6) => out.push(l4 + 16..l4 + 18),
        Some(17) => out.push(l4 + 6..l4 + 8),
        _ => {}
    }
    out
}

/// What a watched run is asked to look at; made by [`check_with`] and handed to the
/// workload, which calls [`Watch::run`] on the thread where it builds its simulation.
#[derive(Debug)]
pub struct Watch {
    probe: ProbeSpec,
}

/// What a [`Probe`] is to do, before it is made on the run's thread.
#[derive(Debug)]
enum ProbeSpec {
    Fingerprint,
    Compare(Vec<Checkpoint>, u64),
    Capture(u64, u64),
}

impl ProbeSpec {
    fn compare(reference: &Fingerprint) -> ProbeSpec {
        ProbeSpec::Compare(reference.checkpoints.clone(), reference.interval)
    }

    fn make(self) -> Probe {
        match self {
            ProbeSpec::Fingerprint => Probe::Fingerprint,
            ProbeSpec::Compare(reference, interval) => Probe::Compare {
                reference,
                interval,
                next: 0,
                stretch: Kept::new(0, interval),
                frozen: false,
            },
            ProbeSpec::Capture(from, to) => Probe::Capture {
                stretch: Kept::new(from, to),
            },
        }
    }
}

impl Watch {
    /// Runs `f` with the probe armed on this thread: the first simulation `f` creates here
    /// is watched. Returns `f`'s value and what the simulation's probe saw (`None` when `f`
    /// created no simulation on this thread, or kept it alive).
    pub fn run<T>(self, f: impl FnOnce() -> T) -> (T, Option<RunReport>) {
        let probe = self.probe.make();
        ARMED.with(|a| *a.borrow_mut() = Some(probe));
        DEPOSITED.with(|d| d.borrow_mut().take());
        let value = f();
        ARMED.with(|a| a.borrow_mut().take());
        let report = DEPOSITED.with(|d| d.borrow_mut().take());
        (value, report)
    }
}

/// Two runs of one workload, and where they first differ if they do.
#[derive(Debug)]
pub struct Checked<T> {
    /// The first run's value.
    pub first: T,
    /// The second run's value.
    pub second: T,
    /// `None` when the runs' traces were identical (or no simulation was seen: see
    /// [`traced`](Self::traced)).
    pub divergence: Option<Divergence>,
    /// Whether a simulation trace was seen in both runs.
    pub traced: bool,
}

/// Runs `run` twice (three times when the runs differ) and compares their traces; see the
/// [module documentation](self). `run` must create and drop its simulation on the calling
/// thread; a workload that runs elsewhere uses [`check_with`].
pub fn check<T>(mut run: impl FnMut() -> T) -> Checked<T> {
    check_with(|watch| watch.run(&mut run))
}

/// [`check`] for a workload that picks its own thread: `run` gets a [`Watch`] and calls
/// [`Watch::run`] where the simulation is built, returning what that gave back.
pub fn check_with<T>(run: impl FnMut(Watch) -> (T, Option<RunReport>)) -> Checked<T> {
    let (first, second, divergence, traced) = check_if(run, |_| true);
    let second = second.unwrap_or_else(|| unreachable!("`proceed` always says yes"));
    Checked {
        first,
        second,
        divergence,
        traced,
    }
}

/// [`check_with`], with a second run only when `proceed(&first)` says so (a first run that
/// failed is reported as it is, not run again). Returns the first value, the second if there
/// was one, the divergence, and whether both runs were traced.
pub(crate) fn check_if<T>(
    mut run: impl FnMut(Watch) -> (T, Option<RunReport>),
    proceed: impl FnOnce(&T) -> bool,
) -> (T, Option<T>, Option<Divergence>, bool) {
    let (first, report_a) = run(Watch {
        probe: ProbeSpec::Fingerprint,
    });
    if !proceed(&first) {
        return (first, None, None, report_a.is_some());
    }
    let probe = match &report_a {
        Some(a) => ProbeSpec::compare(&a.fingerprint),
        None => ProbeSpec::Fingerprint,
    };
    let (second, report_b) = run(Watch { probe });
    let (Some(report_a), Some(report_b)) = (report_a, report_b) else {
        return (first, Some(second), None, false);
    };
    if report_a.fingerprint.same_trace(&report_b.fingerprint) {
        return (first, Some(second), None, true);
    }
    let stretch_b = report_b.stretch.unwrap_or_default();
    let (_, report_c) = run(Watch {
        probe: ProbeSpec::Capture(stretch_b.from, stretch_b.to),
    });
    let stretch_c = report_c.and_then(|r| r.stretch).unwrap_or_default();
    let at = first_difference(&stretch_c, &stretch_b).unwrap_or(DivergenceAt::Stretch {
        from: stretch_b.from,
        to: stretch_b.to,
        first_record: stretch_b.records.first().cloned().map(Box::new),
    });
    let divergence = Divergence {
        first: report_a.fingerprint,
        second: report_b.fingerprint,
        at,
    };
    (first, Some(second), Some(divergence), true)
}

thread_local! {
    static ARMED: RefCell<Option<Probe>> = const { RefCell::new(None) };
    static DEPOSITED: RefCell<Option<RunReport>> = const { RefCell::new(None) };
}

/// Called by a new tracer: the armed probe, if any (only the first tracer gets it).
pub(crate) fn take_armed_probe() -> Option<Probe> {
    ARMED.with(|a| a.borrow_mut().take())
}

/// Called by a watched tracer when it is dropped.
pub(crate) fn deposit(report: RunReport) {
    DEPOSITED.with(|d| *d.borrow_mut() = Some(report));
}

/// What a watched tracer does with its records.
#[derive(Debug)]
pub(crate) enum Probe {
    /// Keep nothing: the fingerprint is all that is wanted.
    Fingerprint,
    /// Compare against a reference run's checkpoints; keep the records since the last one
    /// that matched, and freeze them at the first that does not.
    Compare {
        reference: Vec<Checkpoint>,
        /// The reference's records between checkpoints: the most records kept.
        interval: u64,
        /// The next reference checkpoint to compare against.
        next: usize,
        stretch: Kept,
        frozen: bool,
    },
    /// Keep the records with index in `from..to`.
    Capture { stretch: Kept },
}

/// A stretch as a probe keeps it while the run goes on: cheap to fill (a compare run keeps
/// every record of the current stretch), turned into a [`Stretch`] once, at the end.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    from: u64,
    to: u64,
    records: Vec<KeptRecord>,
    /// Every kept record's encoding, back to back.
    encoded: Vec<u8>,
}

#[derive(Debug)]
struct KeptRecord {
    index: u64,
    t_ns: u64,
    event: TraceEvent,
    encoded: std::ops::Range<usize>,
    /// Shared with the frame in flight: no copy.
    frame: Option<FrameBytes>,
}

impl Kept {
    fn new(from: u64, to: u64) -> Kept {
        Kept {
            from,
            to,
            ..Kept::default()
        }
    }

    /// Starts over at `from..to`, keeping the allocations.
    fn restart(&mut self, from: u64, to: u64) {
        self.from = from;
        self.to = to;
        self.records.clear();
        self.encoded.clear();
    }

    fn into_stretch(self) -> Stretch {
        let encoded = self.encoded;
        Stretch {
            from: self.from,
            to: self.to,
            records: self
                .records
                .into_iter()
                .map(|r| RecordDetail {
                    index: r.index,
                    t_ns: r.t_ns,
                    event: r.event,
                    encoded: encoded.get(r.encoded).unwrap_or_default().to_vec(),
                    frame: r.frame.map(|f| f.to_vec()),
                })
                .collect(),
        }
    }
}

impl Probe {
    /// Sees one record (already hashed).
    pub(crate) fn observe(
        &mut self,
        index: u64,
        t_ns: u64,
        rec: &Rec<'_>,
        encoded: &[u64],
        frame: Option<&FrameBytes>,
    ) {
        let stretch = match self {
            Probe::Fingerprint => return,
            Probe::Compare {
                stretch, frozen, ..
            } => {
                if *frozen {
                    return;
                }
                stretch
            }
            Probe::Capture { stretch } => stretch,
        };
        if index < stretch.from || index >= stretch.to {
            return;
        }
        let start = stretch.encoded.len();
        for w in encoded {
            stretch.encoded.extend_from_slice(&w.to_le_bytes());
        }
        stretch.records.push(KeptRecord {
            index,
            t_ns,
            event: rec.to_event(),
            encoded: start..stretch.encoded.len(),
            frame: frame.cloned(),
        });
    }

    /// Whether the tracer should hand over its hash after `records` records.
    pub(crate) fn wants_checkpoint(&self, records: u64) -> bool {
        match self {
            Probe::Compare {
                reference,
                next,
                frozen,
                ..
            } => !*frozen && reference.get(*next).is_some_and(|c| c.records == records),
            _ => false,
        }
    }

    /// The hash after as many records as the next reference checkpoint.
    pub(crate) fn checkpoint(&mut self, cp: Checkpoint) {
        if let Probe::Compare {
            reference,
            interval,
            next,
            stretch,
            frozen,
        } = self
        {
            if reference.get(*next).is_some_and(|r| r.hash == cp.hash) {
                *next += 1;
                stretch.restart(cp.records, cp.records + *interval);
            } else {
                *frozen = true;
            }
        }
    }

    pub(crate) fn finish(self, fingerprint: Fingerprint) -> RunReport {
        let stretch = match self {
            Probe::Fingerprint => None,
            Probe::Compare { stretch, .. } | Probe::Capture { stretch } => {
                Some(stretch.into_stretch())
            }
        };
        RunReport {
            fingerprint,
            stretch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn byte_differences_name_offset_and_both_bytes() {
        assert_eq!(
            first_byte_difference(b"Date: 1", b"Date: 2"),
            Some(ByteDiff {
                offset: 6,
                checksums_differ: false,
                a: Some(b'1'),
                b: Some(b'2')
            })
        );
        assert_eq!(
            first_byte_difference(b"ab", b"abc"),
            Some(ByteDiff {
                offset: 2,
                checksums_differ: false,
                a: None,
                b: Some(b'c')
            })
        );
        assert_eq!(first_byte_difference(b"same", b"same"), None);
    }

    #[test]
    fn context_shows_text_and_escapes_the_rest() {
        assert_eq!(context(b"ab\"\x01cd", 2), "[0..6] \"ab\\\"\\x01cd\"");
    }
}
