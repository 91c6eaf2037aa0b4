//! Segments on the wire: building the peer's from a script line, reading the stack's, and
//! comparing them with what a script expects.
//!
//! Segments cross the [`StackUnderTest`](crate::runner::StackUnderTest) boundary as TCP bytes
//! (header, options, payload, checksum for the script's two addresses), so that options are
//! exactly as written, malformed ones included, and so that any stack can be plugged in.

use core::fmt::Write as _;
use core::net::Ipv4Addr;

use sansnet_stack::wire::tcp::{Packet, TcpOption, TcpOptionIter};
use sansnet_stack::wire::SeqNumber;

use crate::script::{escape, Flags, OptSpec, Payload, SegmentSpec, Value};

/// The stack under test's address.
pub const STACK_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The scripted peer's address.
pub const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The port the stack listens on (and the peer's port when the stack connects).
pub const SERVER_PORT: u16 = 8080;
/// The peer's port when the stack listens.
pub const CLIENT_PORT: u16 = 40000;

/// What relative numbers are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bases {
    /// The peer's ISN: `seq=` in `<` lines, `ack=` and SACK blocks in `>` lines.
    pub peer_isn: u32,
    /// The stack's ISS, once its SYN was seen (0 before): `seq=` in `>` lines, `ack=` and
    /// SACK blocks in `<` lines.
    pub stack_iss: Option<u32>,
    /// The first TSval the stack sent (0 before): `ts val` in `>` lines, `ts ecr` in `<`
    /// lines.
    pub stack_ts: Option<u32>,
    /// How far the stack's TSval may be from the script's (in its ticks): 0 in virtual
    /// time; a stack in real time stamps by its own clock, as late as it sends.
    pub ts_tolerance: u32,
    /// The right edge of the window the stack last advertised, on the wire (its ACK number
    /// plus its window, scaled): `seq=edge`.
    pub stack_edge: Option<u32>,
}

impl Bases {
    fn iss(&self) -> u32 {
        self.stack_iss.unwrap_or(0)
    }

    fn ts(&self) -> u32 {
        self.stack_ts.unwrap_or(0)
    }
}

/// Resolves a value of a `<` line to the number on the wire. `edge` is the stack's right
/// window edge (the parser allows it only in `seq=`); before the stack advertised a window,
/// the base.
fn resolve_edge(v: Value, base: u32, edge: Option<u32>) -> u32 {
    match v {
        Value::Raw(x) => x,
        Value::Rel(r) => base.wrapping_add(r as u32),
        Value::Any => base,
        Value::Edge(k) => edge.unwrap_or(base).wrapping_add(k as u32),
    }
}

fn resolve(v: Value, base: u32) -> u32 {
    resolve_edge(v, base, None)
}

/// A number of a `<` line that is not relative (window, MSS ...), checked against its width.
fn plain(v: Value, max: u32, what: &str) -> Result<u32, String> {
    let n = match v {
        Value::Raw(x) => i64::from(x),
        Value::Rel(r) => r,
        Value::Any => return Err(format!("`{what}=*` in a segment the peer sends")),
        Value::Edge(_) => return Err(format!("`{what}=edge`: `edge` is for `seq=`")),
    };
    if (0..=i64::from(max)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(format!("{what} {n} does not fit its field (0..={max})"))
    }
}

/// The bytes the peer sends at offset `off` of its stream (lower-case letters).
pub fn peer_pattern(off: i64) -> u8 {
    b'a' + off.rem_euclid(26) as u8
}

/// The bytes `send(N)` writes at offset `off` of the stack's stream (upper-case letters).
pub fn stack_pattern(off: i64) -> u8 {
    b'A' + off.rem_euclid(26) as u8
}

/// The peer's segment for a `<` line, with the payload it carries.
#[derive(Debug, Clone)]
pub struct Built {
    /// The TCP bytes.
    pub bytes: Vec<u8>,
    /// Where its payload starts in the peer's stream (0 is the first byte after the SYN).
    pub stream_offset: i64,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Builds the TCP bytes of a `<` line.
pub fn build(
    spec: &SegmentSpec,
    bases: &Bases,
    src_port: u16,
    dst_port: u16,
) -> Result<Built, String> {
    let seq = resolve_edge(
        spec.seq.unwrap_or(Value::Rel(0)),
        bases.peer_isn,
        bases.stack_edge,
    );
    let ack = if spec.flags.has(Flags::ACK) {
        resolve(spec.ack.unwrap_or(Value::Rel(0)), bases.iss())
    } else {
        spec.ack.map_or(0, |v| resolve(v, bases.iss()))
    };
    let win = plain(spec.win.unwrap_or(Value::Rel(65535)), 0xffff, "win")?;
    let urg = plain(spec.urg.unwrap_or(Value::Rel(0)), 0xffff, "urg")?;
    let rel_seq = i64::from(seq.wrapping_sub(bases.peer_isn) as i32);
    let stream_offset = rel_seq - 1 + i64::from(spec.flags.has(Flags::SYN));
    let payload: Vec<u8> = match &spec.payload {
        None => Vec::new(),
        Some(Payload::Bytes(b)) => b.clone(),
        Some(Payload::Len(n)) => (0..*n as i64)
            .map(|i| peer_pattern(stream_offset + i))
            .collect(),
    };
    let mut opts = Vec::new();
    for o in spec.options.iter().flatten() {
        match o {
            OptSpec::Eol => opts.push(0),
            OptSpec::Nop => opts.push(1),
            OptSpec::Mss(v) => {
                opts.extend_from_slice(&[2, 4]);
                opts.extend_from_slice(&(plain(*v, 0xffff, "mss")? as u16).to_be_bytes());
            }
            OptSpec::Wscale(v) => opts.extend_from_slice(&[3, 3, plain(*v, 0xff, "wscale")? as u8]),
            OptSpec::SackOk => opts.extend_from_slice(&[4, 2]),
            OptSpec::Sack(blocks) => {
                opts.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for &(l, r) in blocks {
                    opts.extend_from_slice(&resolve(l, bases.iss()).to_be_bytes());
                    opts.extend_from_slice(&resolve(r, bases.iss()).to_be_bytes());
                }
            }
            OptSpec::Ts { val, ecr } => {
                opts.extend_from_slice(&[8, 10]);
                opts.extend_from_slice(&resolve(*val, 0).to_be_bytes());
                opts.extend_from_slice(&resolve(*ecr, bases.ts()).to_be_bytes());
            }
            OptSpec::Generic { kind, data } => {
                opts.push(*kind);
                opts.push((2 + data.len()).min(255) as u8);
                opts.extend_from_slice(data);
            }
            OptSpec::Raw(b) => opts.extend_from_slice(b),
        }
    }
    while opts.len() % 4 != 0 {
        opts.push(0);
    }
    if opts.len() > 40 {
        return Err(format!("options take {} bytes; at most 40 fit", opts.len()));
    }
    let header_len = 20 + opts.len();
    let mut bytes = vec![0u8; header_len + payload.len()];
    {
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_src_port(src_port);
        p.set_dst_port(dst_port);
        p.set_seq_number(SeqNumber(seq));
        p.set_ack_number(SeqNumber(ack));
        p.set_header_len(header_len);
        p.set_flags(sansnet_stack::wire::tcp::TcpFlags(spec.flags.bits));
        p.set_window_len(win as u16);
        p.set_urgent_pointer(urg as u16);
        p.options_mut().copy_from_slice(&opts);
        p.payload_mut().copy_from_slice(&payload);
        p.fill_checksum(PEER_ADDR, STACK_ADDR);
        if spec.bad_checksum {
            let c = p.checksum();
            p.set_checksum(c ^ 0x5a5a);
        }
    }
    Ok(Built {
        bytes,
        stream_offset,
        payload,
    })
}

/// One option of a segment the stack sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObsOption {
    /// EOL
    Eol,
    /// NOP
    Nop,
    /// MSS
    Mss(u16),
    /// Window scale
    Wscale(u8),
    /// SACK-permitted
    SackOk,
    /// SACK blocks (raw)
    Sack(Vec<(u32, u32)>),
    /// Timestamps (raw)
    Ts(u32, u32),
    /// Anything else
    Other(u8, Vec<u8>),
    /// Options that do not parse
    Malformed(Vec<u8>),
}

/// A segment the stack sent, read from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Flag bits.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window field.
    pub win: u16,
    /// Urgent pointer.
    pub urg: u16,
    /// Options in the order sent, padding included.
    pub options: Vec<ObsOption>,
    /// Payload.
    pub payload: Vec<u8>,
    /// Whether the checksum is right for the script's addresses.
    pub checksum_ok: bool,
}

impl Observed {
    /// Reads the stack's segment.
    pub fn parse(bytes: &[u8]) -> Result<Observed, String> {
        let p = Packet::new_checked(bytes)
            .map_err(|e| format!("the stack sent a malformed TCP segment ({e:?}): {bytes:02x?}"))?;
        let mut options = Vec::new();
        let raw = p.options();
        let mut consumed = 0usize;
        for o in TcpOptionIter::new(raw) {
            match o {
                Ok(o) => {
                    let (obs, len) = match o {
                        TcpOption::EndOfList => (ObsOption::Eol, raw.len() - consumed),
                        TcpOption::NoOperation => (ObsOption::Nop, 1),
                        TcpOption::MaxSegmentSize(m) => (ObsOption::Mss(m), 4),
                        TcpOption::WindowScale(w) => (ObsOption::Wscale(w), 3),
                        TcpOption::SackPermitted => (ObsOption::SackOk, 2),
                        TcpOption::SackRange(b) => (
                            ObsOption::Sack(b.iter().map(|(l, r)| (l.0, r.0)).collect()),
                            2 + 8 * b.len(),
                        ),
                        TcpOption::Timestamp(t) => (ObsOption::Ts(t.tsval, t.tsecr), 10),
                        TcpOption::Unknown { kind, data } => {
                            (ObsOption::Other(kind, data.to_vec()), 2 + data.len())
                        }
                    };
                    if obs == ObsOption::Eol {
                        // Padding: only report EOL once.
                        options.push(obs);
                        break;
                    }
                    options.push(obs);
                    consumed += len;
                }
                Err(_) => {
                    options.push(ObsOption::Malformed(raw[consumed..].to_vec()));
                    break;
                }
            }
        }
        Ok(Observed {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            flags: p.flags().0,
            seq: p.seq_number().0,
            ack: p.ack_number().0,
            win: p.window_len(),
            urg: p.urgent_pointer(),
            options,
            payload: p.payload().to_vec(),
            checksum_ok: p.verify_checksum(STACK_ADDR, PEER_ADDR),
        })
    }

    /// Whether a flag is set.
    pub fn has(&self, bit: u16) -> bool {
        self.flags & bit != 0
    }

    /// The first TSval, if the segment has timestamps.
    pub fn tsval(&self) -> Option<u32> {
        self.options.iter().find_map(|o| match o {
            ObsOption::Ts(v, _) => Some(*v),
            _ => None,
        })
    }
}

fn rel(x: u32, base: u32) -> i64 {
    i64::from(x.wrapping_sub(base) as i32)
}

fn value_matches(v: Value, actual: u32, base: u32) -> bool {
    match v {
        Value::Any => true,
        Value::Raw(x) => x == actual,
        Value::Rel(r) => base.wrapping_add(r as u32) == actual,
        // The stack's own edge in its own segment: not a thing scripts check.
        Value::Edge(_) => false,
    }
}

fn fmt_value(v: Value) -> String {
    match v {
        Value::Any => "*".into(),
        Value::Raw(x) => format!("raw:{x}"),
        Value::Rel(r) => r.to_string(),
        Value::Edge(0) => "edge".into(),
        Value::Edge(k) => format!("edge{k:+}"),
    }
}

/// An option's rank in the canonical order used to compare and print option sets.
fn rank(o: &OptSpec) -> u8 {
    match o {
        OptSpec::Mss(_) => 0,
        OptSpec::SackOk => 1,
        OptSpec::Ts { .. } => 2,
        OptSpec::Wscale(_) => 3,
        OptSpec::Sack(_) => 4,
        OptSpec::Generic { .. } => 5,
        OptSpec::Raw(_) => 6,
        OptSpec::Nop | OptSpec::Eol => 7,
    }
}

fn fmt_opt(o: &OptSpec) -> String {
    match o {
        OptSpec::Eol => "eol".into(),
        OptSpec::Nop => "nop".into(),
        OptSpec::Mss(v) => format!("mss {}", fmt_value(*v)),
        OptSpec::Wscale(v) => format!("wscale {}", fmt_value(*v)),
        OptSpec::SackOk => "sackOK".into(),
        OptSpec::Sack(b) => {
            let blocks: Vec<String> = b
                .iter()
                .map(|(l, r)| format!("{}:{}", fmt_value(*l), fmt_value(*r)))
                .collect();
            format!("sack {}", blocks.join(" "))
        }
        OptSpec::Ts { val, ecr } => format!("ts val {} ecr {}", fmt_value(*val), fmt_value(*ecr)),
        OptSpec::Generic { kind, data } => format!("opt {kind} {}", hex(data)),
        OptSpec::Raw(b) => format!("raw {}", hex(b)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An observed option in the script's terms (numbers relative where the script's are).
fn obs_to_spec(o: &ObsOption, bases: &Bases) -> OptSpec {
    match o {
        ObsOption::Eol => OptSpec::Eol,
        ObsOption::Nop => OptSpec::Nop,
        ObsOption::Mss(m) => OptSpec::Mss(Value::Rel(i64::from(*m))),
        ObsOption::Wscale(w) => OptSpec::Wscale(Value::Rel(i64::from(*w))),
        ObsOption::SackOk => OptSpec::SackOk,
        ObsOption::Sack(b) => OptSpec::Sack(
            b.iter()
                .map(|&(l, r)| {
                    (
                        Value::Rel(rel(l, bases.peer_isn)),
                        Value::Rel(rel(r, bases.peer_isn)),
                    )
                })
                .collect(),
        ),
        ObsOption::Ts(v, e) => OptSpec::Ts {
            val: Value::Rel(rel(*v, bases.ts())),
            ecr: Value::Rel(i64::from(*e)),
        },
        ObsOption::Other(k, d) => OptSpec::Generic {
            kind: *k,
            data: d.clone(),
        },
        ObsOption::Malformed(b) => OptSpec::Raw(b.clone()),
    }
}

fn opt_matches(exp: &OptSpec, act: &ObsOption, bases: &Bases) -> bool {
    match (exp, act) {
        (OptSpec::Mss(v), ObsOption::Mss(m)) => value_matches(*v, u32::from(*m), 0),
        (OptSpec::Wscale(v), ObsOption::Wscale(w)) => value_matches(*v, u32::from(*w), 0),
        (OptSpec::SackOk, ObsOption::SackOk) => true,
        (OptSpec::Sack(eb), ObsOption::Sack(ab)) => {
            eb.len() == ab.len()
                && eb.iter().zip(ab).all(|(&(el, er), &(al, ar))| {
                    value_matches(el, al, bases.peer_isn) && value_matches(er, ar, bases.peer_isn)
                })
        }
        (OptSpec::Ts { val, ecr }, ObsOption::Ts(v, e)) => {
            let val_ok = match *val {
                Value::Rel(r) if bases.ts_tolerance > 0 => {
                    let want = bases.ts().wrapping_add(r as u32);
                    v.wrapping_sub(want).min(want.wrapping_sub(*v)) <= bases.ts_tolerance
                }
                _ => value_matches(*val, *v, bases.ts()),
            };
            val_ok && value_matches(*ecr, *e, 0)
        }
        (OptSpec::Generic { kind, data }, ObsOption::Other(k, d)) => kind == k && data == d,
        _ => false,
    }
}

/// Renders a spec as a script line (`S. seq=0 ack=1 <mss 1460>`), options in written order.
pub fn render_spec(spec: &SegmentSpec) -> String {
    let mut s = spec.flags.to_string();
    for (k, v) in [
        ("seq", spec.seq),
        ("ack", spec.ack),
        ("win", spec.win),
        ("urg", spec.urg),
    ] {
        if let Some(v) = v {
            let _ = write!(s, " {k}={}", fmt_value(v));
        }
    }
    match &spec.payload {
        Some(Payload::Len(n)) => {
            let _ = write!(s, " len={n}");
        }
        Some(Payload::Bytes(b)) => {
            let _ = write!(s, " data=\"{}\"", escape(b));
        }
        None => {}
    }
    if let Some(opts) = &spec.options {
        let v: Vec<String> = opts.iter().map(fmt_opt).collect();
        let _ = write!(s, " <{}>", v.join(","));
    }
    s
}

/// An observed segment in the script's terms, every field filled in.
pub fn to_spec(obs: &Observed, bases: &Bases) -> SegmentSpec {
    SegmentSpec {
        flags: Flags { bits: obs.flags },
        seq: Some(Value::Rel(rel(obs.seq, bases.iss()))),
        ack: Some(Value::Rel(rel(obs.ack, bases.peer_isn))),
        win: Some(Value::Rel(i64::from(obs.win))),
        urg: (obs.urg != 0 || obs.has(Flags::URG)).then_some(Value::Rel(i64::from(obs.urg))),
        payload: Some(Payload::Len(obs.payload.len())),
        options: Some(obs.options.iter().map(|o| obs_to_spec(o, bases)).collect()),
        bad_checksum: false,
        ack_unchecked: false,
    }
}

/// Renders an observed segment fully, options as laid out on the wire.
pub fn render_observed(obs: &Observed, bases: &Bases) -> String {
    let mut spec = to_spec(obs, bases);
    if !obs.has(Flags::ACK) && obs.ack == 0 {
        spec.ack = None;
    }
    if obs.payload.is_empty() {
        spec.payload = None;
    }
    if spec.options.as_ref().is_some_and(Vec::is_empty) {
        spec.options = None;
    }
    let mut s = render_spec(&spec);
    if !obs.checksum_ok {
        s.push_str(" (BAD CHECKSUM)");
    }
    s
}

/// The canonical rendering of the fields `exp` checks, from `exp` itself and from `obs`:
/// two strings that are equal when the segment matches. Options are compared as a set
/// (NOP and EOL are layout, not checked) and printed in a fixed order.
pub fn projection(exp: &SegmentSpec, obs: &Observed, bases: &Bases) -> (String, String) {
    let act = to_spec(obs, bases);
    let mut e = SegmentSpec {
        flags: exp.flags,
        ..SegmentSpec::default()
    };
    let mut a = SegmentSpec {
        flags: Flags { bits: obs.flags },
        ..SegmentSpec::default()
    };
    // PSH is only checked when the script writes it; ACK not when it writes `.?`.
    if !exp.flags.has(Flags::PSH) {
        a.flags.bits &= !Flags::PSH;
    }
    if exp.ack_unchecked {
        a.flags.bits &= !Flags::ACK;
    }
    let pairs = [
        (exp.seq, act.seq, obs.seq, bases.iss()),
        (exp.ack, act.ack, obs.ack, bases.peer_isn),
        (exp.win, act.win, u32::from(obs.win), 0),
        (
            exp.urg,
            Some(Value::Rel(i64::from(obs.urg))),
            u32::from(obs.urg),
            0,
        ),
    ];
    let mut fields_e = [None; 4];
    let mut fields_a = [None; 4];
    for (i, (ev, av, raw, base)) in pairs.into_iter().enumerate() {
        if let Some(ev) = ev {
            fields_e[i] = Some(ev);
            // Show the actual value as the script would write it; if it matches, the same.
            fields_a[i] = if value_matches(ev, raw, base) {
                Some(ev)
            } else {
                av
            };
        }
    }
    [e.seq, e.ack, e.win, e.urg] = fields_e;
    [a.seq, a.ack, a.win, a.urg] = fields_a;
    match &exp.payload {
        Some(Payload::Len(n)) => {
            e.payload = Some(Payload::Len(*n));
            a.payload = Some(Payload::Len(obs.payload.len()));
        }
        Some(Payload::Bytes(b)) => {
            e.payload = Some(Payload::Bytes(b.clone()));
            a.payload = Some(Payload::Bytes(obs.payload.clone()));
        }
        None => {}
    }
    if let Some(eopts) = &exp.options {
        let mut eo: Vec<OptSpec> = eopts
            .iter()
            .filter(|o| !matches!(o, OptSpec::Nop | OptSpec::Eol))
            .cloned()
            .collect();
        eo.sort_by_key(rank);
        let mut ao: Vec<OptSpec> = Vec::new();
        for o in obs
            .options
            .iter()
            .filter(|o| !matches!(o, ObsOption::Nop | ObsOption::Eol))
        {
            // Where an expected option matches, print it as the script wrote it.
            let as_written = eo.iter().find(|x| opt_matches(x, o, bases)).cloned();
            ao.push(as_written.unwrap_or_else(|| obs_to_spec(o, bases)));
        }
        ao.sort_by_key(rank);
        e.options = Some(eo);
        a.options = Some(ao);
    }
    let mut a_str = render_spec(&a);
    if !obs.checksum_ok {
        a_str.push_str(" (BAD CHECKSUM)");
    }
    (render_spec(&e), a_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{parse, Action};

    fn spec(line: &str) -> SegmentSpec {
        let text = format!(
            "# title: t\n# rfc: x\n# requirements: none\n# quote: q\n# setup: listen\n{line}\n"
        );
        match parse("t", &text).unwrap().lines.remove(0).action {
            Action::Inject(s) | Action::Expect(s) => s,
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn build_then_observe_round_trips() {
        let bases = Bases {
            ts_tolerance: 0,
            stack_edge: None,
            peer_isn: 1000,
            stack_iss: Some(5000),
            stack_ts: Some(77),
        };
        let s =
            spec("< S. seq=0 ack=1 win=1000 len=3 <mss 1460,nop,wscale 7,sackOK,ts val 5 ecr 0>");
        let b = build(&s, &bases, 1, 2).unwrap();
        assert_eq!(b.payload, b"abc");
        let obs = Observed::parse(&b.bytes).unwrap();
        assert_eq!((obs.seq, obs.ack, obs.win), (1000, 5001, 1000));
        assert!(obs.options.contains(&ObsOption::Ts(5, 77)));
        // Observed as if the stack sent it, relative to the stack's bases it reads
        // differently; projections compare what the expectation names.
        let exp = spec("> S. win=1000 <mss 1460, wscale 7, sackOK>");
        let (e, a) = projection(&exp, &obs, &bases);
        assert_ne!(
            e, a,
            "the actual segment has timestamps the expectation lacks"
        );
        let exp = spec("> S. win=1000 <mss *, wscale 7, sackOK, ts val * ecr *>");
        let (e, a) = projection(&exp, &obs, &bases);
        assert_eq!(e, a);
    }
}
