//! The script format and its parser.
//!
//! A script is a header of `# key: value` lines, then one event per line. The crate
//! documentation describes the format for script authors; this module turns the text into
//! a [`Script`], or into a [`ParseError`] that names the line and column.

use core::fmt;

use sansnet_stack::tcp::State;
use sansnet_stack::time::Duration;

/// A parsed script.
#[derive(Debug, Clone)]
pub struct Script {
    /// The script's name (its path under the scripts directory, without `.tcp`).
    pub name: String,
    /// The header.
    pub header: Header,
    /// The events, in order.
    pub lines: Vec<Line>,
}

impl Script {
    /// How long the script runs, as its times say: each line's time after the previous
    /// line's (or from the start), `expect nothing until` to its end. A stack in real time
    /// (Linux) takes at least this long; `>` lines sent late make it longer.
    pub fn duration(&self) -> Duration {
        let mut t = Duration::ZERO;
        for l in &self.lines {
            t = if l.time.relative {
                t + l.time.at
            } else {
                l.time.at
            };
            if let Action::ExpectNothingUntil(until) = &l.action {
                t = if until.relative {
                    t + until.at
                } else {
                    until.at
                };
            }
        }
        t
    }
}

/// What the header says.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// One line saying what the script checks.
    pub title: String,
    /// RFC sections, e.g. `9293 3.10.7.4`.
    pub rfc: Vec<String>,
    /// Requirement IDs: RFC 9293 Appendix B IDs (`MUST-10`) or manifest items
    /// (`RFC5961-3.2`).
    pub requirements: Vec<String>,
    /// The requirement, quoted in one line.
    pub quote: String,
    /// The cells of the state x segment matrix the script exercises.
    pub matrix: Vec<(State, SegmentKind)>,
    /// How the connection under test is opened.
    pub setup: Setup,
    /// `# setup: established`: a passive open whose handshake ([`ESTABLISHED_HANDSHAKE`])
    /// the runner plays before the script's own lines.
    pub established: bool,
    /// Configuration of the stack under test: [`BASELINE_CONFIG`], then the script's
    /// `# config:` over it.
    pub config: StackConfig,
    /// Default tolerance on the time of segments the stack sends.
    pub tolerance: Duration,
    /// Whether the script is expected to pass.
    pub status: Status,
    /// Capabilities the stack under test must have (`icmp`, `time-wait-reopen`).
    pub needs: Vec<String>,
    /// The runners the script is for (`engine`, `host`); empty: every runner.
    pub stacks: Vec<String>,
    /// Why the script is for those runners only (`# stacks: engine; REASON`).
    pub stacks_reason: String,
    /// `# allows:` lines: where the RFC allows more than one behaviour, its words and what
    /// each stack does (the side-by-side report shows them with the script's differences).
    pub allows: Vec<String>,
    /// `# departs:` lines: where a stack does what the RFC does not allow, the RFC's words
    /// and what that stack does instead (a failure explained, not allowed).
    pub departs: Vec<String>,
}

/// Whether a script is expected to pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Status {
    /// It must pass.
    #[default]
    Normal,
    /// It fails because the stack is wrong; the note says what is wrong. A known failure
    /// that passes is itself a failure, so that the note is removed.
    KnownFailure(String),
}

/// How the connection under test starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Setup {
    /// A passive open: the stack listens on port 8080 and the peer connects from 40000.
    #[default]
    Listen,
    /// An active open at time 0: the stack's SYN is its first segment; the peer is port 8080.
    Connect,
    /// No connection: the stack has nothing on port 8080.
    Closed,
}

/// The stack configuration a script asks for (`# config:`). `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct StackConfig {
    pub mss: Option<u16>,
    pub default_mss: Option<u16>,
    pub rcvbuf: Option<usize>,
    pub sndbuf: Option<usize>,
    pub wscale: Option<bool>,
    pub timestamps: Option<bool>,
    pub sack: Option<bool>,
    pub nagle: Option<bool>,
    pub delack: Option<bool>,
    pub delack_timeout: Option<Duration>,
    pub rto_initial: Option<Duration>,
    pub rto_min: Option<Duration>,
    pub rto_max: Option<Duration>,
    pub iw: Option<u32>,
    pub msl: Option<Duration>,
    pub r1: Option<u32>,
    pub r2: Option<Duration>,
    pub r2_syn: Option<Duration>,
    pub user_timeout: Option<Duration>,
    pub keepalive_idle: Option<Duration>,
    pub keepalive_interval: Option<Duration>,
    pub keepalive_count: Option<u32>,
    /// `keepalive=off`: keep-alive stays off, the `keepalive_*` items only the stack's
    /// defaults for a connection that turns it on where it has such defaults to set
    /// (Linux's sysctls); `on`: on for every connection.
    pub keepalive: Option<bool>,
    pub cubic: Option<bool>,
    pub challenge_ack_limit: Option<u32>,
    /// Tail Loss Probe (RFC 8985 section 7); off unless a script turns it on.
    pub tlp: Option<bool>,
    /// WCDelAckT of the PTO (RFC 8985 section 7.2).
    pub tlp_max_ack_delay: Option<Duration>,
    /// L of RFC 3465 in segments; 1 (RFC 5681's rule) unless a script says otherwise.
    pub abc: Option<u32>,
    /// RACK-style loss inference (the engine's `Config::rack`).
    pub rack: Option<bool>,
    /// The stack's ISS, for runners that can choose it (the engine).
    pub iss: Option<u32>,
    /// The peer's ISN (default 0x10000000).
    pub peer_isn: Option<u32>,
}

/// The eight kinds of arriving segment in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum SegmentKind {
    Syn,
    SynAck,
    SynFin,
    Ack,
    Fin,
    FinAck,
    Rst,
    RstAck,
}

impl SegmentKind {
    /// All eight, in the checklist's column order.
    pub const ALL: [SegmentKind; 8] = [
        SegmentKind::Syn,
        SegmentKind::SynAck,
        SegmentKind::SynFin,
        SegmentKind::Ack,
        SegmentKind::Fin,
        SegmentKind::FinAck,
        SegmentKind::Rst,
        SegmentKind::RstAck,
    ];

    /// The checklist's spelling.
    pub fn name(self) -> &'static str {
        match self {
            SegmentKind::Syn => "SYN",
            SegmentKind::SynAck => "SYN-ACK",
            SegmentKind::SynFin => "SYN-FIN",
            SegmentKind::Ack => "ACK",
            SegmentKind::Fin => "FIN",
            SegmentKind::FinAck => "FIN-ACK",
            SegmentKind::Rst => "RST",
            SegmentKind::RstAck => "RST-ACK",
        }
    }

    fn from_name(s: &str) -> Option<SegmentKind> {
        SegmentKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The eleven states, in RFC order.
pub const ALL_STATES: [State; 11] = [
    State::Closed,
    State::Listen,
    State::SynSent,
    State::SynReceived,
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
];

/// Parses an RFC state name (`SYN-RECEIVED`; `SYN-RCVD` is accepted too).
pub fn parse_state(s: &str) -> Option<State> {
    if s == "SYN-RCVD" {
        return Some(State::SynReceived);
    }
    ALL_STATES.into_iter().find(|st| st.rfc_name() == s)
}

/// One event line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line's text, trimmed, for messages.
    pub text: String,
    /// When it happens.
    pub time: TimeSpec,
    /// What happens.
    pub action: Action,
}

/// When a line happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSpec {
    /// Whether `at` is relative to the previous line (`+`) or to the start (`@`).
    pub relative: bool,
    /// The time, in nanoseconds.
    pub at: Duration,
    /// Tolerance for segments the stack sends (`~0.01`); `None` takes the header's.
    pub tolerance: Option<Duration>,
}

impl TimeSpec {
    /// `+0`: right after the previous line.
    pub const NOW: TimeSpec = TimeSpec {
        relative: true,
        at: Duration::ZERO,
        tolerance: None,
    };
}

/// What a line does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `<`: the peer sends this segment to the stack.
    Inject(SegmentSpec),
    /// `>`: the stack must send a segment like this one.
    Expect(SegmentSpec),
    /// `< icmp ...`: an ICMP error about the connection reaches the stack.
    Icmp(IcmpSpec),
    /// `call f(args) = result`.
    Call(Call, Option<Expected>),
    /// `expect state ESTABLISHED`.
    ExpectState(State),
    /// `expect event Connected`.
    ExpectEvent(String),
    /// `expect nothing until +0.5`.
    ExpectNothingUntil(TimeSpec),
}

/// A number in a segment line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// `*`: anything.
    Any,
    /// Relative to a base (an ISN, or the stack's first timestamp).
    Rel(i64),
    /// `raw:N`: exactly this number on the wire.
    Raw(u32),
    /// `edge`, `edge-N`, `edge+N` (in `seq=` only): the right edge of the window the stack
    /// last advertised (its last ACK number plus its window, scaled), plus N. A script that
    /// means "at the right edge" says so, rather than a number computed from one stack's
    /// window: other stacks advertise other windows (Linux 64240 where sansnet says 65535).
    Edge(i64),
}

/// Payload of a segment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `len=N`: N bytes (the peer sends its pattern; for the stack only the length counts).
    Len(usize),
    /// `data="..."`: these bytes.
    Bytes(Vec<u8>),
}

impl Payload {
    /// Its length.
    pub fn len(&self) -> usize {
        match self {
            Payload::Len(n) => *n,
            Payload::Bytes(b) => b.len(),
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// TCP flags as a script writes them: `S`, `F`, `R`, `P`, `U`, `E`, `W` (CWR) and `.`
/// (ACK), or `-` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Flag bits (the wire's values).
    pub bits: u16,
}

#[allow(missing_docs)]
impl Flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;

    const LETTERS: [(char, u16); 8] = [
        ('S', Flags::SYN),
        ('F', Flags::FIN),
        ('R', Flags::RST),
        ('P', Flags::PSH),
        ('U', Flags::URG),
        ('E', Flags::ECE),
        ('W', Flags::CWR),
        ('.', Flags::ACK),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.bits & bit != 0
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bits & 0xff == 0 {
            return f.write_str("-");
        }
        for (c, bit) in Flags::LETTERS {
            if self.has(bit) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One TCP option in a segment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptSpec {
    /// `eol`
    Eol,
    /// `nop`
    Nop,
    /// `mss N`
    Mss(Value),
    /// `wscale N`
    Wscale(Value),
    /// `sackOK`
    SackOk,
    /// `sack L:R L:R`, relative to the other side's ISN.
    Sack(Vec<(Value, Value)>),
    /// `ts val X ecr Y`.
    Ts {
        /// TSval.
        val: Value,
        /// TSecr.
        ecr: Value,
    },
    /// `opt KIND HEX`: any option, length computed.
    Generic {
        /// Kind byte.
        kind: u8,
        /// Data after kind and length.
        data: Vec<u8>,
    },
    /// `raw HEX`: bytes as they are, for malformed options.
    Raw(Vec<u8>),
}

/// A segment line: flags, fields and options. `None` means "not checked" in `>` lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentSpec {
    /// The flags.
    pub flags: Flags,
    /// Sequence number.
    pub seq: Option<Value>,
    /// Acknowledgment number.
    pub ack: Option<Value>,
    /// Window field (unscaled).
    pub win: Option<Value>,
    /// Urgent pointer.
    pub urg: Option<Value>,
    /// Payload.
    pub payload: Option<Payload>,
    /// Options, in order.
    pub options: Option<Vec<OptSpec>>,
    /// `bad-checksum`: the peer's segment carries a wrong checksum.
    pub bad_checksum: bool,
    /// `.?` in a `>` line's flags (`R.?`): the ACK bit is not checked, where what the script
    /// checks does not depend on it and the RFC's form of the segment is another script's.
    pub ack_unchecked: bool,
}

/// An ICMP error line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpSpec {
    /// Which error.
    pub kind: IcmpKind,
    /// The sequence number of the quoted TCP header (relative to the stack's ISS).
    pub seq: Value,
}

/// ICMP error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Destination unreachable with a code.
    Unreachable(u8),
    /// Fragmentation needed, with the next-hop MTU.
    FragNeeded(u16),
    /// Time exceeded.
    TimeExceeded,
    /// Parameter problem.
    ParamProblem,
    /// Source quench.
    SourceQuench,
}

/// An application call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `send(N)` (N bytes of the stack's pattern) or `send("text")`.
    Send(Payload),
    /// `send_urgent(N)` or `send_urgent("text")`: the bytes as urgent data (RFC 9293 SEND
    /// with the URGENT flag; `send` with `MSG_OOB`).
    SendUrgent(Payload),
    /// `recv(N)`: read up to N bytes.
    Recv(usize),
    /// `shutdown()`: close the sending side (half-close).
    Shutdown,
    /// `close()`.
    Close,
    /// `abort()`.
    Abort,
    /// `nagle(on|off)`.
    Nagle(bool),
    /// `keepalive(idle, interval, count)` in seconds, or `keepalive(off)`.
    KeepAlive(Option<(Duration, Duration, u32)>),
    /// `keepalive(on)`: keep-alive on with the stack's own defaults (`SO_KEEPALIVE` alone).
    KeepAliveDefaults,
    /// `user_timeout(S)` in seconds, or `user_timeout(off)`.
    UserTimeout(Option<Duration>),
    /// `urgent_pending()`: bytes of urgent data not yet read (0 if none).
    UrgentPending,
    /// `soft_error()`: the last soft ICMP error as an errno, or 0.
    SoftError,
}

/// The result a call must return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// A number (bytes, or 0 for success).
    Count(usize),
    /// These bytes (for `recv`).
    Bytes(Vec<u8>),
    /// An errno name such as `EAGAIN`.
    Errno(String),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Count(n) => write!(f, "{n}"),
            Expected::Bytes(b) => write!(f, "\"{}\"", escape(b)),
            Expected::Errno(e) => f.write_str(e),
        }
    }
}

/// Writes bytes as a script string literal's contents.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// A parse error with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Line number.
    pub line: usize,
    /// Column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

type PResult<T> = Result<T, ParseError>;

/// The suite's baseline stack configuration, stated once: every script starts from it and
/// its `# config:` line says only what it changes (`timestamps=on` to turn them back on,
/// `rto_min=0.2` for the engine's own minimum). Timestamps, SACK and window scaling off
/// keep segments and windows as RFC 9293 writes them; a 1 s minimum RTO is RFC 6298's.
pub const BASELINE_CONFIG: &str = "timestamps=off sack=off wscale=off rto_min=1";

/// [`BASELINE_CONFIG`] parsed: the configuration of a script without a `# config:` line.
pub fn baseline_config() -> StackConfig {
    let mut c = StackConfig::default();
    // The constant is the parser's own test input; it parses.
    let _ = parse_config(&mut c, BASELINE_CONFIG);
    c
}

/// What `# setup: established` plays before a script's lines: the peer's SYN, the stack's
/// SYN-ACK, the peer's ACK 0.1 s later.
pub const ESTABLISHED_HANDSHAKE: [&str; 4] = [
    "+0    < S seq=0 win=65535 <mss 1460>",
    "+0    > S. seq=0 ack=1 win=65535 <mss 1460>",
    "+0.1  < . seq=1 ack=1 win=65535",
    "      expect state ESTABLISHED",
];

/// Parses a script. `name` is only stored.
pub fn parse(name: &str, text: &str) -> PResult<Script> {
    let mut header = Header {
        tolerance: Duration::from_millis(5),
        ..Header::default()
    };
    parse_config(&mut header.config, BASELINE_CONFIG).map_err(|message| ParseError {
        line: 0,
        column: 0,
        message: format!("the baseline configuration: {message}"),
    })?;
    let mut seen = Vec::<&'static str>::new();
    let mut lines = Vec::new();
    let mut in_header = true;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if in_header {
                let col = raw.len() - trimmed.len() + 2;
                parse_header_line(&mut header, &mut seen, comment, lineno, col)?;
            }
            continue;
        }
        if in_header && header.established {
            for hs in ESTABLISHED_HANDSHAKE {
                let mut cur = Cursor::new(hs, 0);
                lines.push(parse_line(&mut cur)?);
            }
        }
        in_header = false;
        let mut cur = Cursor::new(raw, lineno);
        let line = parse_line(&mut cur)?;
        lines.push(line);
    }
    for key in ["title", "rfc", "requirements", "quote", "setup"] {
        if !seen.contains(&key) {
            return Err(ParseError {
                line: 1,
                column: 1,
                message: format!("the header has no `# {key}:` line"),
            });
        }
    }
    Ok(Script {
        name: name.to_string(),
        header,
        lines,
    })
}

const HEADER_KEYS: [&str; 15] = [
    "title",
    "rfc",
    "requirements",
    "quote",
    "matrix",
    "setup",
    "config",
    "tolerance",
    "status",
    "needs",
    "stacks",
    "note",
    "see",
    "allows",
    "departs",
];

fn parse_header_line(
    h: &mut Header,
    seen: &mut Vec<&'static str>,
    comment: &str,
    line: usize,
    col: usize,
) -> PResult<()> {
    let body = comment.trim_start();
    let col = col + (comment.len() - body.len());
    let Some((key, value)) = body.split_once(':') else {
        return Ok(()); // free text
    };
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return Ok(()); // free text that happens to hold a colon
    }
    let err = |message: String| ParseError {
        line,
        column: col,
        message,
    };
    let Some(&key) = HEADER_KEYS.iter().find(|k| **k == key) else {
        return Err(err(format!(
            "unknown header key `{key}` (known: {})",
            HEADER_KEYS.join(", ")
        )));
    };
    if seen.contains(&key) && !matches!(key, "note" | "see" | "allows" | "departs") {
        return Err(err(format!("header key `{key}` given twice")));
    }
    seen.push(key);
    let vcol = col + key.len() + 1 + (value.len() - value.trim_start().len());
    let value = value.trim();
    let verr = |message: String| ParseError {
        line,
        column: vcol,
        message,
    };
    match key {
        "title" => h.title = value.to_string(),
        "rfc" => {
            h.rfc = value
                .split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }
        "requirements" => {
            h.requirements = value
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s != "none")
                .collect();
            for r in &h.requirements {
                if !r
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                {
                    return Err(verr(format!("`{r}` is not a requirement ID")));
                }
            }
        }
        "quote" => {
            let q = value.trim_matches('"');
            if q.is_empty() {
                return Err(verr("the quote is empty".into()));
            }
            h.quote = q.to_string();
        }
        "matrix" => {
            for cell in value.split(';') {
                let cell = cell.trim();
                let Some((s, k)) = cell.split_once(" x ") else {
                    return Err(verr(format!(
                        "matrix cell `{cell}` is not `STATE x SEGMENT`"
                    )));
                };
                let state = parse_state(s.trim())
                    .ok_or_else(|| verr(format!("unknown state `{}`", s.trim())))?;
                let kind = SegmentKind::from_name(k.trim()).ok_or_else(|| {
                    verr(format!(
                        "unknown segment kind `{}` (SYN, SYN-ACK, SYN-FIN, ACK, FIN, FIN-ACK, RST, RST-ACK)",
                        k.trim()
                    ))
                })?;
                h.matrix.push((state, kind));
            }
        }
        "setup" => {
            h.established = value == "established";
            h.setup = match value {
                "listen" | "established" => Setup::Listen,
                "connect" => Setup::Connect,
                "closed" => Setup::Closed,
                _ => {
                    return Err(verr(format!(
                        "setup `{value}`: listen, established, connect or closed"
                    )))
                }
            }
        }
        "config" => parse_config(&mut h.config, value).map_err(verr)?,
        "tolerance" => h.tolerance = parse_seconds(value).map_err(verr)?,
        "status" => {
            if let Some(note) = value.strip_prefix("known-failure") {
                let note = note.trim();
                if note.is_empty() {
                    return Err(verr(
                        "a known failure needs a note saying what is wrong".into(),
                    ));
                }
                h.status = Status::KnownFailure(note.to_string());
            } else if value != "normal" {
                return Err(verr(format!(
                    "status `{value}`: normal or known-failure NOTE"
                )));
            }
        }
        "stacks" => {
            let (names, reason) = value.split_once(';').unwrap_or((value, ""));
            h.stacks = names
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(bad) = h
                .stacks
                .iter()
                .find(|s| !matches!(s.as_str(), "engine" | "host"))
            {
                return Err(verr(format!("stack `{bad}`: engine or host")));
            }
            h.stacks_reason = reason.trim().to_string();
            if h.stacks_reason.is_empty() {
                return Err(verr(
                    "`stacks:` needs a reason after `;` (`# stacks: engine; WHY`)".into(),
                ));
            }
        }
        "needs" => {
            h.needs = value
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }
        "allows" => {
            if value.is_empty() {
                return Err(verr(
                    "`allows:` says what the RFC allows and what each stack does".into(),
                ));
            }
            h.allows.push(value.to_string());
        }
        "departs" => {
            if crate::stacks::allows_stacks(value).is_empty() {
                return Err(verr(
                    "`departs:` starts with the stacks it speaks for (`linux: RFC ...`), then \
                     the RFC's words and what those stacks do instead"
                        .into(),
                ));
            }
            h.departs.push(value.to_string());
        }
        _ => {}
    }
    Ok(())
}

fn parse_onoff(v: &str) -> Result<bool, String> {
    match v {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("`{v}` is not on or off")),
    }
}

fn parse_num<T: core::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("`{v}` is not a number"))
}

fn parse_config(c: &mut StackConfig, value: &str) -> Result<(), String> {
    for item in value.split_whitespace() {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("config item `{item}` is not key=value"));
        };
        match k {
            "mss" => c.mss = Some(parse_num(v)?),
            "default_mss" => c.default_mss = Some(parse_num(v)?),
            "rcvbuf" => c.rcvbuf = Some(parse_num(v)?),
            "sndbuf" => c.sndbuf = Some(parse_num(v)?),
            "wscale" => c.wscale = Some(parse_onoff(v)?),
            "timestamps" => c.timestamps = Some(parse_onoff(v)?),
            "sack" => c.sack = Some(parse_onoff(v)?),
            "nagle" => c.nagle = Some(parse_onoff(v)?),
            "delack" => c.delack = Some(parse_onoff(v)?),
            "delack_timeout" => c.delack_timeout = Some(parse_seconds(v)?),
            "rto_initial" => c.rto_initial = Some(parse_seconds(v)?),
            "rto_min" => c.rto_min = Some(parse_seconds(v)?),
            "rto_max" => c.rto_max = Some(parse_seconds(v)?),
            "iw" => c.iw = Some(parse_num(v)?),
            "msl" => c.msl = Some(parse_seconds(v)?),
            "r1" => c.r1 = Some(parse_num(v)?),
            "r2" => c.r2 = Some(parse_seconds(v)?),
            "r2_syn" => c.r2_syn = Some(parse_seconds(v)?),
            "user_timeout" => c.user_timeout = Some(parse_seconds(v)?),
            "keepalive_idle" => c.keepalive_idle = Some(parse_seconds(v)?),
            "keepalive_interval" => c.keepalive_interval = Some(parse_seconds(v)?),
            "keepalive_count" => c.keepalive_count = Some(parse_num(v)?),
            "keepalive" => c.keepalive = Some(parse_onoff(v)?),
            "cc" => {
                c.cubic = Some(match v {
                    "cubic" => true,
                    "newreno" => false,
                    _ => return Err(format!("cc `{v}`: newreno or cubic")),
                })
            }
            "challenge_ack_limit" => c.challenge_ack_limit = Some(parse_num(v)?),
            "tlp" => c.tlp = Some(parse_onoff(v)?),
            "tlp_max_ack_delay" => c.tlp_max_ack_delay = Some(parse_seconds(v)?),
            "abc" => c.abc = Some(parse_num(v)?),
            "rack" => c.rack = Some(parse_onoff(v)?),
            "iss" => c.iss = Some(parse_num(v)?),
            "peer_isn" => c.peer_isn = Some(parse_num(v)?),
            _ => return Err(format!("unknown config key `{k}`")),
        }
    }
    Ok(())
}

/// Parses decimal seconds (`1`, `0.25`, `7200`) exactly, without floating point.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a time in seconds");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 9
    {
        return Err(bad());
    }
    let secs: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut nanos: u32 = 0;
    for (i, c) in frac.chars().enumerate() {
        nanos += (c as u32 - '0' as u32) * 10u32.pow(8 - i as u32);
    }
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration as seconds, with as many decimals as it needs (at least three).
pub fn fmt_seconds(d: Duration) -> String {
    let mut frac = format!("{:09}", d.subsec_nanos());
    while frac.len() > 3 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{}.{}", d.as_secs(), frac)
}

/// A cursor over one line, tracking the column.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, line: usize) -> Self {
        Cursor { text, pos: 0, line }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn column(&self) -> usize {
        self.text[..self.pos].chars().count() + 1
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            line: self.line,
            column: self.column(),
            message: message.into(),
        })
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    /// At the end of the line, or at a trailing comment.
    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.rest().is_empty() || self.rest().starts_with('#')
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str) -> PResult<()> {
        self.skip_ws();
        if self.eat(s) {
            Ok(())
        } else {
            self.err(format!("expected `{s}`"))
        }
    }

    /// A run of characters that are not whitespace and not in `stops`.
    fn word(&mut self, stops: &str) -> &'a str {
        self.skip_ws();
        let r = self.rest();
        let end = r
            .find(|c: char| c.is_whitespace() || stops.contains(c))
            .unwrap_or(r.len());
        self.pos += end;
        &r[..end]
    }

    fn string_literal(&mut self) -> PResult<Vec<u8>> {
        self.skip_ws();
        if !self.eat("\"") {
            return self.err("expected a string in double quotes");
        }
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated string");
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return self.err("unterminated escape");
                    };
                    self.pos += e.len_utf8();
                    match e {
                        'n' => out.push(b'\n'),
                        'r' => out.push(b'\r'),
                        't' => out.push(b'\t'),
                        '0' => out.push(0),
                        '\\' => out.push(b'\\'),
                        '"' => out.push(b'"'),
                        'x' => {
                            let hex = self.rest().get(..2).unwrap_or("");
                            let Ok(b) = u8::from_str_radix(hex, 16) else {
                                return self.err("`\\x` needs two hex digits");
                            };
                            self.pos += 2;
                            out.push(b);
                        }
                        _ => return self.err(format!("unknown escape `\\{e}`")),
                    }
                }
                _ => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }
}

fn parse_line(cur: &mut Cursor<'_>) -> PResult<Line> {
    let line = cur.line;
    let text = cur.text.trim().to_string();
    cur.skip_ws();
    let time = match cur.peek() {
        Some('+') | Some('@') => parse_time(cur)?,
        _ => TimeSpec::NOW,
    };
    cur.skip_ws();
    let action = if cur.eat("<") {
        cur.skip_ws();
        if cur.rest().starts_with("icmp") {
            cur.pos += 4;
            Action::Icmp(parse_icmp(cur)?)
        } else {
            Action::Inject(parse_segment(cur, true)?)
        }
    } else if cur.eat(">") {
        Action::Expect(parse_segment(cur, false)?)
    } else {
        let col = cur.column();
        match cur.word("(") {
            "call" => parse_call(cur)?,
            "expect" => parse_expect(cur)?,
            "" => return cur.err("expected `<`, `>`, `call` or `expect`"),
            w => {
                return Err(ParseError {
                    line,
                    column: col,
                    message: format!(
                        "unknown line kind `{w}`: expected `<`, `>`, `call` or `expect`"
                    ),
                })
            }
        }
    };
    if !cur.at_end() {
        return cur.err(format!("unexpected `{}`", cur.rest().trim_end()));
    }
    Ok(Line {
        line,
        text,
        time,
        action,
    })
}

fn parse_time(cur: &mut Cursor<'_>) -> PResult<TimeSpec> {
    cur.skip_ws();
    let relative = if cur.eat("+") {
        true
    } else if cur.eat("@") {
        false
    } else {
        return cur.err("expected a time: `+SECONDS` or `@SECONDS`");
    };
    let col = cur.column();
    let num = cur.word("~");
    let at = parse_seconds(num).map_err(|m| ParseError {
        line: cur.line,
        column: col,
        message: m,
    })?;
    let tolerance = if cur.eat("~") {
        let col = cur.column();
        let t = cur.word("");
        Some(parse_seconds(t).map_err(|m| ParseError {
            line: cur.line,
            column: col,
            message: m,
        })?)
    } else {
        None
    };
    Ok(TimeSpec {
        relative,
        at,
        tolerance,
    })
}

fn parse_flags(cur: &mut Cursor<'_>) -> PResult<(Flags, bool)> {
    cur.skip_ws();
    let col = cur.column();
    let w = cur.word("<");
    if w.is_empty() {
        return cur.err("expected flags (`S`, `S.`, `.`, `F.`, `R`, `R.`, `P.`, `-` ...)");
    }
    if w == "-" {
        return Ok((Flags::default(), false));
    }
    // `.?`: the ACK bit either way (a `>` line only).
    let (w, ack_unchecked) = match w.strip_suffix(".?") {
        Some(rest) => (rest, true),
        None => (w, false),
    };
    let mut bits = 0u16;
    for (i, c) in w.chars().enumerate() {
        let Some(&(_, bit)) = Flags::LETTERS.iter().find(|(l, _)| *l == c) else {
            return Err(ParseError {
                line: cur.line,
                column: col + i,
                message: format!("unknown flag `{c}` (S F R P U E W and `.` for ACK)"),
            });
        };
        if bits & bit != 0 {
            return Err(ParseError {
                line: cur.line,
                column: col + i,
                message: format!("flag `{c}` given twice"),
            });
        }
        bits |= bit;
    }
    Ok((Flags { bits }, ack_unchecked))
}

fn parse_value(cur: &Cursor<'_>, s: &str, col: usize) -> PResult<Value> {
    let err = |m: String| ParseError {
        line: cur.line,
        column: col,
        message: m,
    };
    if s == "*" {
        return Ok(Value::Any);
    }
    if let Some(off) = s.strip_prefix("edge") {
        if off.is_empty() {
            return Ok(Value::Edge(0));
        }
        return off
            .strip_prefix('+')
            .unwrap_or(off)
            .parse::<i64>()
            .ok()
            .filter(|v| v.abs() < (1i64 << 31))
            .map(Value::Edge)
            .ok_or_else(|| err(format!("`{s}` is not `edge`, `edge+N` or `edge-N`")));
    }
    if let Some(raw) = s.strip_prefix("raw:") {
        return raw
            .parse::<u32>()
            .map(Value::Raw)
            .map_err(|_| err(format!("`{raw}` is not a 32-bit number")));
    }
    s.parse::<i64>()
        .ok()
        .filter(|v| (-(1i64 << 32)..(1i64 << 32)).contains(v))
        .map(Value::Rel)
        .ok_or_else(|| err(format!("`{s}` is not a number, `*` or `raw:N`")))
}

fn parse_segment(cur: &mut Cursor<'_>, inject: bool) -> PResult<SegmentSpec> {
    let flags_col = cur.column();
    let (flags, ack_unchecked) = parse_flags(cur)?;
    if ack_unchecked && inject {
        return Err(ParseError {
            line: cur.line,
            column: flags_col,
            message: "`.?` (the ACK bit not checked) is for the stack's segments (`>`)".into(),
        });
    }
    let mut seg = SegmentSpec {
        flags,
        ack_unchecked,
        ..SegmentSpec::default()
    };
    loop {
        if cur.at_end() {
            break;
        }
        if cur.eat("<") {
            if seg.options.is_some() {
                return cur.err("options given twice");
            }
            seg.options = Some(parse_options(cur)?);
            continue;
        }
        let col = cur.column();
        let key = cur.word("=<");
        if key == "bad-checksum" {
            if !inject {
                return cur.err("`bad-checksum` only makes sense in `<` lines");
            }
            seg.bad_checksum = true;
            continue;
        }
        if !cur.eat("=") {
            return Err(ParseError {
                line: cur.line,
                column: col,
                message: format!("expected `field=value`, found `{key}`"),
            });
        }
        let vcol = cur.column();
        let dup = |cur: &Cursor<'_>| {
            Err(ParseError {
                line: cur.line,
                column: col,
                message: format!("`{key}` given twice"),
            })
        };
        match key {
            "seq" | "ack" | "win" | "urg" => {
                let v = cur.word("<");
                let v = parse_value(cur, v, vcol)?;
                if matches!(v, Value::Edge(_)) && key != "seq" {
                    return Err(ParseError {
                        line: cur.line,
                        column: vcol,
                        message: "`edge` is a sequence number: for `seq=` only".into(),
                    });
                }
                let slot = match key {
                    "seq" => &mut seg.seq,
                    "ack" => &mut seg.ack,
                    "win" => &mut seg.win,
                    _ => &mut seg.urg,
                };
                if slot.is_some() {
                    return dup(cur);
                }
                *slot = Some(v);
            }
            "len" => {
                let v = cur.word("<");
                let n = v.parse::<usize>().map_err(|_| ParseError {
                    line: cur.line,
                    column: vcol,
                    message: format!("`{v}` is not a length"),
                })?;
                if seg.payload.is_some() {
                    return dup(cur);
                }
                seg.payload = Some(Payload::Len(n));
            }
            "data" => {
                let b = cur.string_literal()?;
                if seg.payload.is_some() {
                    return dup(cur);
                }
                seg.payload = Some(Payload::Bytes(b));
            }
            _ => {
                return Err(ParseError {
                    line: cur.line,
                    column: col,
                    message: format!("unknown field `{key}` (seq, ack, win, urg, len, data)"),
                })
            }
        }
    }
    if inject {
        // The peer's segments are fully specified: nothing on the wire is left to chance.
        if seg.seq.is_none() {
            return cur.err("a segment the peer sends needs `seq=`");
        }
        if seg.flags.has(Flags::ACK) && seg.ack.is_none() {
            return cur.err("a segment with ACK (`.`) needs `ack=`");
        }
        for v in [seg.seq, seg.ack, seg.win, seg.urg].into_iter().flatten() {
            if v == Value::Any {
                return cur.err("`*` is for segments the stack sends, not the peer's");
            }
        }
    }
    Ok(seg)
}

fn parse_hex(cur: &Cursor<'_>, s: &str, col: usize) -> PResult<Vec<u8>> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        return Err(ParseError {
            line: cur.line,
            column: col,
            message: "hex bytes need an even number of digits".into(),
        });
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| ParseError {
                line: cur.line,
                column: col,
                message: format!("`{}` is not hex", &digits[i..i + 2]),
            })
        })
        .collect()
}

fn parse_options(cur: &mut Cursor<'_>) -> PResult<Vec<OptSpec>> {
    let mut out = Vec::new();
    cur.skip_ws();
    if cur.eat(">") {
        return Ok(out);
    }
    loop {
        cur.skip_ws();
        let col = cur.column();
        let name = cur.word(",>");
        let opt = match name {
            "eol" => OptSpec::Eol,
            "nop" => OptSpec::Nop,
            "sackOK" => OptSpec::SackOk,
            "mss" | "wscale" => {
                let vcol = cur.column() + 1;
                let v = cur.word(",>");
                let v = parse_value(cur, v, vcol)?;
                if name == "mss" {
                    OptSpec::Mss(v)
                } else {
                    OptSpec::Wscale(v)
                }
            }
            "sack" => {
                let mut blocks = Vec::new();
                loop {
                    cur.skip_ws();
                    if matches!(cur.peek(), Some(',') | Some('>') | None) {
                        break;
                    }
                    let bcol = cur.column();
                    let b = cur.word(",>");
                    let Some((l, r)) = b.split_once(':') else {
                        return Err(ParseError {
                            line: cur.line,
                            column: bcol,
                            message: format!("SACK block `{b}` is not `LEFT:RIGHT`"),
                        });
                    };
                    blocks.push((parse_value(cur, l, bcol)?, parse_value(cur, r, bcol)?));
                }
                if blocks.is_empty() {
                    return cur.err("`sack` needs at least one block");
                }
                OptSpec::Sack(blocks)
            }
            "ts" | "TS" => {
                let mut val = None;
                let mut ecr = None;
                for _ in 0..2 {
                    let kcol = cur.column();
                    let k = cur.word(",>");
                    let vcol = cur.column() + 1;
                    let v = cur.word(",>");
                    let v = parse_value(cur, v, vcol)?;
                    match k {
                        "val" => val = Some(v),
                        "ecr" => ecr = Some(v),
                        _ => {
                            return Err(ParseError {
                                line: cur.line,
                                column: kcol,
                                message: "timestamps are written `ts val X ecr Y`".into(),
                            })
                        }
                    }
                }
                match (val, ecr) {
                    (Some(val), Some(ecr)) => OptSpec::Ts { val, ecr },
                    _ => return cur.err("timestamps are written `ts val X ecr Y`"),
                }
            }
            "opt" => {
                let kcol = cur.column() + 1;
                let k = cur.word(",>");
                let kind = k.parse::<u8>().map_err(|_| ParseError {
                    line: cur.line,
                    column: kcol,
                    message: format!("option kind `{k}` is not a byte"),
                })?;
                cur.skip_ws();
                let hcol = cur.column();
                let rest = cur.rest();
                let end = rest.find([',', '>']).unwrap_or(rest.len());
                let data = parse_hex(cur, &rest[..end], hcol)?;
                cur.pos += end;
                OptSpec::Generic { kind, data }
            }
            "raw" => {
                cur.skip_ws();
                let hcol = cur.column();
                let rest = cur.rest();
                let end = rest.find([',', '>']).unwrap_or(rest.len());
                let data = parse_hex(cur, &rest[..end], hcol)?;
                cur.pos += end;
                OptSpec::Raw(data)
            }
            "" => return cur.err("expected an option"),
            _ => {
                return Err(ParseError {
                    line: cur.line,
                    column: col,
                    message: format!(
                    "unknown option `{name}` (mss, wscale, sackOK, sack, ts, nop, eol, opt, raw)"
                ),
                })
            }
        };
        out.push(opt);
        cur.skip_ws();
        if cur.eat(">") {
            return Ok(out);
        }
        if !cur.eat(",") {
            return cur.err("expected `,` or `>` in the options");
        }
    }
}

fn parse_icmp(cur: &mut Cursor<'_>) -> PResult<IcmpSpec> {
    let col = cur.column();
    let kind = cur.word("");
    let num = |cur: &mut Cursor<'_>, key: &str| -> PResult<u32> {
        cur.skip_ws();
        if !cur.eat(key) || !cur.eat("=") {
            return cur.err(format!("expected `{key}=`"));
        }
        let vcol = cur.column();
        let v = cur.word("");
        v.parse::<u32>().map_err(|_| ParseError {
            line: cur.line,
            column: vcol,
            message: format!("`{v}` is not a number"),
        })
    };
    let kind = match kind {
        "unreachable" => IcmpKind::Unreachable(num(cur, "code")?.min(255) as u8),
        "frag-needed" => IcmpKind::FragNeeded(num(cur, "mtu")?.min(65535) as u16),
        "time-exceeded" => IcmpKind::TimeExceeded,
        "param-problem" => IcmpKind::ParamProblem,
        "source-quench" => IcmpKind::SourceQuench,
        _ => {
            return Err(ParseError {
                line: cur.line,
                column: col,
                message: format!(
                    "unknown ICMP error `{kind}` (unreachable code=N, frag-needed mtu=N, time-exceeded, param-problem, source-quench)"
                ),
            })
        }
    };
    cur.skip_ws();
    if !cur.eat("seq=") {
        return cur.err("an ICMP error needs `seq=` (the quoted segment's sequence number)");
    }
    let vcol = cur.column();
    let v = cur.word("");
    let seq = parse_value(cur, v, vcol)?;
    Ok(IcmpSpec { kind, seq })
}

fn parse_call(cur: &mut Cursor<'_>) -> PResult<Action> {
    cur.skip_ws();
    let col = cur.column();
    let name = cur.word("(");
    cur.expect("(")?;
    cur.skip_ws();
    let acol = cur.column();
    let call = match name {
        "send" | "send_urgent" => {
            let payload = if cur.peek() == Some('"') {
                Payload::Bytes(cur.string_literal()?)
            } else {
                let v = cur.word(")");
                Payload::Len(v.parse().map_err(|_| ParseError {
                    line: cur.line,
                    column: acol,
                    message: format!("`{v}` is not a length or a string"),
                })?)
            };
            if name == "send" {
                Call::Send(payload)
            } else {
                Call::SendUrgent(payload)
            }
        }
        "recv" => {
            let v = cur.word(")");
            Call::Recv(v.parse().map_err(|_| ParseError {
                line: cur.line,
                column: acol,
                message: format!("`{v}` is not a length"),
            })?)
        }
        "shutdown" => Call::Shutdown,
        "close" => Call::Close,
        "abort" => Call::Abort,
        "urgent_pending" => Call::UrgentPending,
        "soft_error" => Call::SoftError,
        "nagle" => Call::Nagle(parse_onoff(cur.word(")")).map_err(|m| ParseError {
            line: cur.line,
            column: acol,
            message: m,
        })?),
        "user_timeout" => {
            let v = cur.word(")");
            Call::UserTimeout(if v == "off" {
                None
            } else {
                Some(parse_seconds(v).map_err(|m| ParseError {
                    line: cur.line,
                    column: acol,
                    message: m,
                })?)
            })
        }
        "keepalive" => {
            let rest = cur.rest();
            let end = rest.find(')').unwrap_or(rest.len());
            let args: Vec<&str> = rest[..end].split(',').map(str::trim).collect();
            let bad = |m: &str| ParseError {
                line: cur.line,
                column: acol,
                message: m.to_string(),
            };
            let call = if args == ["off"] {
                Call::KeepAlive(None)
            } else if args == ["on"] {
                Call::KeepAliveDefaults
            } else if args.len() == 3 {
                let idle = parse_seconds(args[0]).map_err(|m| bad(&m))?;
                let interval = parse_seconds(args[1]).map_err(|m| bad(&m))?;
                let count = args[2]
                    .parse::<u32>()
                    .map_err(|_| bad("keep-alive count is not a number"))?;
                Call::KeepAlive(Some((idle, interval, count)))
            } else {
                return Err(bad(
                    "keepalive(IDLE, INTERVAL, COUNT), keepalive(on) or keepalive(off)",
                ));
            };
            cur.pos += end;
            call
        }
        _ => {
            return Err(ParseError {
                line: cur.line,
                column: col,
                message: format!(
                    "unknown call `{name}` (send, recv, shutdown, close, abort, nagle, keepalive, user_timeout, urgent_pending, soft_error)"
                ),
            })
        }
    };
    cur.expect(")")?;
    cur.skip_ws();
    let expected = if cur.eat("=") {
        cur.skip_ws();
        Some(if cur.peek() == Some('"') {
            Expected::Bytes(cur.string_literal()?)
        } else {
            let ecol = cur.column();
            let w = cur.word("");
            if let Ok(n) = w.parse::<usize>() {
                Expected::Count(n)
            } else if w.len() > 1 && w.starts_with('E') && w.chars().all(|c| c.is_ascii_uppercase())
            {
                Expected::Errno(w.to_string())
            } else {
                return Err(ParseError {
                    line: cur.line,
                    column: ecol,
                    message: format!("`{w}` is not a result (a number, a string or an errno)"),
                });
            }
        })
    } else {
        None
    };
    Ok(Action::Call(call, expected))
}

fn parse_expect(cur: &mut Cursor<'_>) -> PResult<Action> {
    let col = cur.column() + 1;
    match cur.word("") {
        "state" => {
            let scol = cur.column() + 1;
            let s = cur.word("");
            parse_state(s)
                .map(Action::ExpectState)
                .ok_or_else(|| ParseError {
                    line: cur.line,
                    column: scol,
                    message: format!(
                        "unknown state `{s}` (RFC names: SYN-RECEIVED, TIME-WAIT ...)"
                    ),
                })
        }
        "event" => {
            let e = cur.word("");
            if e.is_empty() {
                return cur.err("expected an event name");
            }
            Ok(Action::ExpectEvent(e.to_string()))
        }
        "nothing" => {
            cur.skip_ws();
            if !cur.eat("until") {
                return cur.err("expected `until`");
            }
            Ok(Action::ExpectNothingUntil(parse_time(cur)?))
        }
        w => Err(ParseError {
            line: cur.line,
            column: col,
            message: format!("unknown expectation `{w}` (state, event, nothing until)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "# title: t\n# rfc: 9293 3.5\n# requirements: MUST-10\n# quote: \"q\"\n# setup: listen\n";

    fn one(line: &str) -> PResult<Line> {
        let s = parse("t", &format!("{HEADER}{line}\n"))?;
        Ok(s.lines.into_iter().next().unwrap())
    }

    #[test]
    fn segment_lines() {
        let l = one("+0.1~0.02 < S seq=0 win=65535 <mss 1460,sackOK,nop,wscale 7>").unwrap();
        assert_eq!(l.time.at, Duration::from_millis(100));
        assert_eq!(l.time.tolerance, Some(Duration::from_millis(20)));
        let Action::Inject(seg) = l.action else {
            panic!()
        };
        assert_eq!(seg.flags.bits, Flags::SYN);
        assert_eq!(seg.seq, Some(Value::Rel(0)));
        assert_eq!(
            seg.options.unwrap(),
            vec![
                OptSpec::Mss(Value::Rel(1460)),
                OptSpec::SackOk,
                OptSpec::Nop,
                OptSpec::Wscale(Value::Rel(7))
            ]
        );
        let l = one("> S. seq=0 ack=1 win=* <ts val * ecr 100, sack 1:2 3:4>").unwrap();
        let Action::Expect(seg) = l.action else {
            panic!()
        };
        assert_eq!(seg.flags.to_string(), "S.");
        assert_eq!(seg.win, Some(Value::Any));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = one("+0 < S seq=0 win=x").unwrap_err();
        assert_eq!((e.line, e.column), (6, 18), "{e}");
        let e = one("+0 < Q seq=0").unwrap_err();
        assert_eq!((e.line, e.column), (6, 6), "{e}");
        let e = one("+0 < . seq=0").unwrap_err();
        assert!(e.message.contains("ack="), "{e}");
        let e = one("call sned(1)").unwrap_err();
        assert_eq!(e.column, 6, "{e}");
        let e = parse("t", "# title: t\n# colour: red\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3), "{e}");
    }

    #[test]
    fn calls_and_expectations() {
        let l = one("call recv(10) = EAGAIN").unwrap();
        assert_eq!(
            l.action,
            Action::Call(Call::Recv(10), Some(Expected::Errno("EAGAIN".into())))
        );
        let l = one("@2 expect nothing until +0.5").unwrap();
        assert!(!l.time.relative);
        assert!(matches!(l.action, Action::ExpectNothingUntil(_)));
        let l = one("expect state SYN-RECEIVED").unwrap();
        assert_eq!(l.action, Action::ExpectState(State::SynReceived));
        let l = one("call send(\"hi\\n\") = 3  # comment").unwrap();
        assert_eq!(
            l.action,
            Action::Call(
                Call::Send(Payload::Bytes(b"hi\n".to_vec())),
                Some(Expected::Count(3))
            )
        );
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_seconds("0.000000001").unwrap(),
            Duration::from_nanos(1)
        );
        assert!(parse_seconds("1.2.3").is_err());
        assert_eq!(fmt_seconds(Duration::from_millis(1500)), "1.500");
    }
}
