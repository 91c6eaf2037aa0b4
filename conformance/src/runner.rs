//! The runner: plays a script against a stack under test, in virtual time.
//!
//! The stack is reached only through [`StackUnderTest`], which moves TCP segments as bytes,
//! application calls, timers and the connection's state. [`crate::engine::EngineUnderTest`]
//! implements it over one `tcp::Connection`; a runner over a whole sansnet host fed
//! Ethernet frames (module [`crate::host`]) and other TCP implementations plug in the same
//! way.
//!
//! Every segment the stack sends must be matched by a `>` line, in order: a segment that
//! goes out when the script does something else (`<`, `call`, `expect nothing`, or the end
//! of the script) is a failure.

use std::collections::VecDeque;
use std::fmt;

use sansnet_stack::tcp::State;
use sansnet_stack::time::{Duration, Instant};

use crate::script::{
    fmt_seconds, Action, Call, Expected, Flags, IcmpKind, Line, OptSpec, Payload, Script,
    SegmentSpec, Setup, StackConfig, TimeSpec, Value,
};
use crate::segment::{
    build, projection, render_observed, render_spec, stack_pattern, Bases, ObsOption, Observed,
    CLIENT_PORT, SERVER_PORT,
};

/// What an application call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallValue {
    /// A count (bytes written or read), or 0 for success.
    Count(usize),
    /// Bytes read.
    Bytes(Vec<u8>),
}

/// A call's result: a value, or an errno name (`EAGAIN`).
pub type CallResult = Result<CallValue, String>;

/// A TCP implementation the scripts can drive.
///
/// The stack has the address [`crate::segment::STACK_ADDR`] and talks to one peer at
/// [`crate::segment::PEER_ADDR`]. Segments are TCP bytes whose checksum covers those two
/// addresses. Time only moves when the runner says so.
pub trait StackUnderTest {
    /// Opens the connection under test as the script's header says.
    fn start(now: Instant, setup: Setup, config: &StackConfig) -> Result<Self, String>
    where
        Self: Sized;
    /// A short name for messages (`engine`, `host`).
    fn name(&self) -> &'static str;
    /// Whether this stack can do what a script's `# needs:` asks (`icmp`,
    /// `time-wait-reopen`).
    fn supports(&self, need: &str) -> bool;
    /// The peer's segment arrives.
    fn inject(&mut self, now: Instant, segment: &[u8]);
    /// An ICMP error arrives that quotes `quoted` (the first bytes of a TCP header the stack
    /// sent).
    fn inject_icmp(&mut self, now: Instant, kind: IcmpKind, quoted: &[u8]);
    /// The next segment the stack sends now, if any.
    fn poll_output(&mut self, now: Instant) -> Option<Vec<u8>>;
    /// The next segment the stack sent, and when. A stack in virtual time sends at `now`;
    /// one in real time (Linux) says when its segment was read off the wire, which may be
    /// after `now`.
    fn poll_output_timed(&mut self, now: Instant) -> Option<(Instant, Vec<u8>)> {
        self.poll_output(now).map(|b| (now, b))
    }
    /// The next application event (`Connected`, `Readable`, `Failed(ECONNRESET)` ...).
    fn poll_event(&mut self) -> Option<String>;
    /// When the stack next needs [`advance`](Self::advance).
    fn next_deadline(&self) -> Option<Instant>;
    /// Time has reached `now`: fire the timers that are due.
    fn advance(&mut self, now: Instant);
    /// An application call on the connection under test. `send` carries its bytes.
    fn call(&mut self, now: Instant, call: &Call) -> CallResult;
    /// The state of the connection under test (`None` if the stack cannot say).
    fn state(&self) -> Option<State>;
    /// Why this stack cannot run a script line, if it cannot: a call its API has no
    /// counterpart for, or an event it has no way to report. The script is then not
    /// applicable on this stack, with that reason (never silently skipped).
    fn cannot(&self, _action: &Action) -> Option<String> {
        None
    }
    /// The configuration items (`key=value`, as `# config:` writes them, with why) that this
    /// stack cannot be set to: the script runs anyway, and a difference it causes is
    /// documented rather than hidden.
    fn unhonoured(&self) -> Vec<String> {
        Vec::new()
    }
    /// Options (by kind: 3 window scale, 4 SACK-permitted) this stack puts in its SYN
    /// whatever the configuration says, where the configuration turns them off. The judge
    /// leaves them out of its comparison of the stack's SYN (and SYN-ACK) unless the script
    /// line names them: the configuration is not honoured (a documented difference), and
    /// the rest of the script still checks the stack's behaviour. The peer's SYN decides
    /// whether they take effect, and the scripts' peers do not answer them.
    fn syn_options_regardless(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// Why a script failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The script's name.
    pub script: String,
    /// The stack it ran on.
    pub stack: String,
    /// The line (0: the script as a whole).
    pub line: usize,
    /// The line's text.
    pub text: String,
    /// What went wrong, in one line.
    pub message: String,
    /// The expected and actual segment (fields the script checks), when a segment differs.
    pub expected: Option<String>,
    /// See `expected`.
    pub actual: Option<String>,
    /// The actual segment in full.
    pub actual_full: Option<String>,
    /// The last segments exchanged before the failure, oldest first.
    pub history: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}.tcp:{}: {} (on the {} runner)",
            self.script, self.line, self.message, self.stack
        )?;
        if !self.text.is_empty() {
            writeln!(f, "  script line: {}", self.text)?;
        }
        if let (Some(e), Some(a)) = (&self.expected, &self.actual) {
            writeln!(f, "  expected: > {e}")?;
            writeln!(f, "  actual:   > {a}")?;
            if let Some(full) = &self.actual_full {
                writeln!(f, "  actual, every field: > {full}")?;
            }
            writeln!(f, "  diff (< expected, > actual):")?;
            let (e, a) = (one_field_per_line(e), one_field_per_line(a));
            writeln!(f, "{}", pretty_assertions::StrComparison::new(&e, &a))?;
        } else if let Some(full) = &self.actual_full {
            writeln!(f, "  the stack sent: > {full}")?;
        }
        if !self.history.is_empty() {
            writeln!(f, "  segments before it (time, direction, segment):")?;
            for h in &self.history {
                writeln!(f, "    {h}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Splits a rendered segment into one field (and one option) per line, for the diff.
fn one_field_per_line(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => {
                depth += 1;
                out.push('\n');
            }
            '>' if !quoted => depth -= 1,
            _ => {}
        }
        if !quoted && ((c == ' ' && depth == 0) || (c == ',' && depth > 0)) {
            out.push('\n');
            continue;
        }
        out.push(c);
    }
    out
}

/// How many exchanged segments a failure shows.
const HISTORY: usize = 12;
/// Timer firings per script at most (a timer that never clears would loop forever).
const MAX_STEPS: usize = 1_000_000;
/// The peer's ISN when the script does not choose one.
const DEFAULT_PEER_ISN: u32 = 0x1000_0000;

struct Run<'s, S: StackUnderTest> {
    script: &'s Script,
    judging: Judging,
    sut: S,
    now: Instant,
    /// The time relative lines count from: the previous line's (actual) time.
    base_time: Instant,
    /// When the peer last sent, the application last called or the stack last sent: what a
    /// timer the script waits for was started by (the base of a real-time stack's
    /// percentage tolerance for an `expect state` line).
    activity: Instant,
    pending: VecDeque<(Instant, Observed)>,
    events: Vec<String>,
    bases: Bases,
    stack_port: u16,
    peer_port: u16,
    history: VecDeque<String>,
    /// Bytes the application wrote, from offset 0 of the stack's stream.
    stack_stream: Vec<u8>,
    /// Bytes the peer sent, by offset of its stream.
    peer_stream: Vec<Option<u8>>,
    read_offset: usize,
    steps: usize,
    cur: Option<&'s Line>,
    window_note: Option<String>,
    /// The window scale in the stack's SYN, and whether the peer's SYN offered one: both,
    /// and the stack's later windows are scaled (RFC 7323 2.2).
    stack_wscale: Option<u8>,
    peer_wscale: bool,
}

/// Runs a script on a stack of type `S`. `Ok` carries the trace (one line per segment).
pub fn run<S: StackUnderTest>(script: &Script) -> Result<Vec<String>, Box<Failure>> {
    run_with::<S>(script, Judging::default())
}

/// How strictly the judge compares the stack's segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Judging {
    /// Leave the window field out of every comparison. The window a stack advertises
    /// follows from its buffers and how it moves the right edge, which other stacks cannot
    /// be set to match; the side-by-side report uses this to tell a script that fails only
    /// on windows from one that fails on what it is about.
    pub ignore_window: bool,
    /// Added to every `>` line's tolerance: a stack that runs in real time (Linux) sends
    /// late by its scheduling and the runner's own (packetdrill's `tolerance_usecs`).
    pub extra_tolerance: Duration,
    /// Added to every `>` line's tolerance, in percent of the time since the line it is
    /// relative to (packetdrill's `tolerance_percent`): Linux's timer wheel fires a timer
    /// of a few seconds up to 12.5 % late.
    pub tolerance_percent: u32,
    /// Added on the late side only, in percent as `tolerance_percent`: a stack whose
    /// retransmission timer runs longer than RFC 6298's by a share of it (Linux's RTO is
    /// SRTT + max(RTO min, 4 RTTVAR), SRTT on top of the 1 s minimum) is late, never early.
    pub late_percent: u32,
}

/// [`run`], judged as `judging` says.
pub fn run_with<S: StackUnderTest>(
    script: &Script,
    judging: Judging,
) -> Result<Vec<String>, Box<Failure>> {
    let h = &script.header;
    let sut = S::start(Instant::ZERO, h.setup, &h.config)
        .map_err(|m| Box::new(start_failure(script, m)))?;
    run_on(script, sut, judging).result
}

/// The failure of a stack that could not be started.
pub fn start_failure(script: &Script, message: String) -> Failure {
    Failure {
        script: script.name.clone(),
        stack: "?".to_string(),
        line: 0,
        text: String::new(),
        message,
        expected: None,
        actual: None,
        actual_full: None,
        history: Vec::new(),
    }
}

/// What a run on a stack gave.
#[derive(Debug)]
pub struct RunResult {
    /// The trace (one line per segment), or the failure.
    pub result: Result<Vec<String>, Box<Failure>>,
    /// With [`Judging::ignore_window`]: the first window that differed from the script's
    /// (`line N: win=X, the script expects win=Y`).
    pub window_note: Option<String>,
}

/// Runs a script on `sut`, a stack started as the script's header says.
pub fn run_on<S: StackUnderTest>(script: &Script, sut: S, judging: Judging) -> RunResult {
    let mut note = None;
    let result = run_started(script, sut, judging, &mut note);
    RunResult {
        result,
        window_note: note,
    }
}

fn run_started<S: StackUnderTest>(
    script: &Script,
    sut: S,
    judging: Judging,
    window_note: &mut Option<String>,
) -> Result<Vec<String>, Box<Failure>> {
    let h = &script.header;
    let (stack_port, peer_port) = match h.setup {
        Setup::Listen | Setup::Closed => (SERVER_PORT, CLIENT_PORT),
        // Learned from the stack's SYN.
        Setup::Connect => (0, SERVER_PORT),
    };
    let mut run = Run {
        script,
        judging,
        sut,
        now: Instant::ZERO,
        base_time: Instant::ZERO,
        activity: Instant::ZERO,
        pending: VecDeque::new(),
        events: Vec::new(),
        bases: Bases {
            stack_edge: None,
            // A TSval is a clock reading: as much off as the tolerance on times allows.
            ts_tolerance: u32::try_from(judging.extra_tolerance.as_millis()).unwrap_or(u32::MAX),
            peer_isn: h.config.peer_isn.unwrap_or(DEFAULT_PEER_ISN),
            stack_iss: None,
            stack_ts: None,
        },
        stack_port,
        peer_port,
        history: VecDeque::new(),
        stack_stream: Vec::new(),
        peer_stream: Vec::new(),
        read_offset: 0,
        steps: 0,
        cur: None,
        window_note: None,
        stack_wscale: None,
        peer_wscale: false,
    };
    let mut trace = Vec::new();
    let result = run.play();
    *window_note = run.window_note.take();
    result?;
    if let Some((at, obs)) = run.pending.pop_front() {
        return Err(run.unexpected(at, &obs, "after the last line"));
    }
    trace.extend(run.history);
    Ok(trace)
}

impl<S: StackUnderTest> Run<'_, S> {
    fn play(&mut self) -> Result<(), Box<Failure>> {
        self.drain()?;
        let script = self.script;
        for line in &script.lines {
            self.cur = Some(line);
            self.line(line)?;
        }
        self.cur = None;
        self.drain()
    }

    fn fail(&self, message: impl Into<String>) -> Box<Failure> {
        let (line, text) = self
            .cur
            .map_or((0, String::new()), |l| (l.line, l.text.clone()));
        Box::new(Failure {
            script: self.script.name.clone(),
            stack: self.sut.name().to_string(),
            line,
            text,
            message: message.into(),
            expected: None,
            actual: None,
            actual_full: None,
            history: self.history.iter().cloned().collect(),
        })
    }

    fn unexpected(&self, at: Instant, obs: &Observed, when: &str) -> Box<Failure> {
        let mut f = self.fail(format!(
            "the stack sent a segment at {} that the script does not expect ({when})",
            secs(at)
        ));
        f.actual_full = Some(render_observed(obs, &self.bases));
        f
    }

    fn record(&mut self, s: String) {
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(s);
    }

    fn time_of(&self, t: &TimeSpec) -> Instant {
        if t.relative {
            self.base_time + t.at
        } else {
            Instant::ZERO + t.at
        }
    }

    /// Collects what the stack sends now, and its events.
    fn drain(&mut self) -> Result<(), Box<Failure>> {
        let mut n = 0;
        while let Some((sent_at, bytes)) = self.sut.poll_output_timed(self.now) {
            n += 1;
            if n > 100_000 {
                return Err(self.fail("the stack keeps sending segments without time passing"));
            }
            let obs = Observed::parse(&bytes).map_err(|m| self.fail(m))?;
            if obs.has(Flags::SYN) && self.bases.stack_iss.is_none() {
                self.bases.stack_iss = Some(obs.seq);
                if self.stack_port == 0 {
                    self.stack_port = obs.src_port;
                }
            }
            if let (None, Some(v)) = (self.bases.stack_ts, obs.tsval()) {
                self.bases.stack_ts = Some(v);
            }
            if obs.has(Flags::SYN) {
                self.stack_wscale = obs.options.iter().find_map(|o| match o {
                    ObsOption::Wscale(s) => Some(*s),
                    _ => None,
                });
            }
            if obs.has(Flags::ACK) && !obs.has(Flags::RST) {
                // RFC 7323 2.2: a SYN's window is never scaled.
                let shift = match (obs.has(Flags::SYN), self.stack_wscale, self.peer_wscale) {
                    (false, Some(s), true) => u32::from(s.min(14)),
                    _ => 0,
                };
                self.bases.stack_edge = Some(obs.ack.wrapping_add(u32::from(obs.win) << shift));
            }
            let line = format!("{} > {}", secs(sent_at), render_observed(&obs, &self.bases));
            self.record(line);
            self.check_stack_data(&obs)?;
            self.pending.push_back((sent_at, obs));
        }
        while let Some(e) = self.sut.poll_event() {
            self.events.push(e);
        }
        Ok(())
    }

    /// Payload the stack sends must be what the application wrote, at its place.
    fn check_stack_data(&self, obs: &Observed) -> Result<(), Box<Failure>> {
        if obs.payload.is_empty() {
            return Ok(());
        }
        let Some(iss) = self.bases.stack_iss else {
            return Ok(());
        };
        let rel = i64::from(obs.seq.wrapping_sub(iss) as i32);
        let start = rel - 1 + i64::from(obs.has(Flags::SYN));
        let written = self.stack_stream.len() as i64;
        // A keep-alive may carry one garbage octet just left of the stream (RFC 9293 3.8.4,
        // MAY-6): it is no data of the application's. Whether the script expects one is for
        // its `>` line's `len=` to say.
        if start == -1 && obs.payload.len() == 1 && !obs.has(Flags::SYN | Flags::FIN) {
            return Ok(());
        }
        for (i, &b) in obs.payload.iter().enumerate() {
            let off = start + i as i64;
            if off < 0 || off >= written {
                let mut f = self.fail(format!(
                    "the stack sent stream offset {off}, which the application never wrote ({written} bytes written)"
                ));
                f.actual_full = Some(render_observed(obs, &self.bases));
                return Err(f);
            }
            if self.stack_stream[off as usize] != b {
                let mut f = self.fail(format!(
                    "the stack sent byte {b:#04x} at stream offset {off}; the application wrote {:#04x}",
                    self.stack_stream[off as usize]
                ));
                f.actual_full = Some(render_observed(obs, &self.bases));
                return Err(f);
            }
        }
        Ok(())
    }

    fn step_to(&mut self, t: Instant) -> Result<(), Box<Failure>> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.fail(format!(
                "more than {MAX_STEPS} timer firings: a timer that never clears?"
            )));
        }
        if t > self.now {
            self.now = t;
        }
        self.sut.advance(self.now);
        self.drain()
    }

    /// Moves time to `target`, firing timers on the way.
    fn advance_to(&mut self, target: Instant) -> Result<(), Box<Failure>> {
        while let Some(d) = self.sut.next_deadline() {
            if d > target {
                break;
            }
            self.step_to(d)?;
        }
        if target > self.now {
            self.now = target;
        }
        Ok(())
    }

    /// Moves time towards `limit` until the stack sends something.
    fn advance_until_output(&mut self, limit: Instant) -> Result<(), Box<Failure>> {
        while self.pending.is_empty() {
            match self.sut.next_deadline() {
                Some(d) if d <= limit => self.step_to(d)?,
                _ => break,
            }
        }
        Ok(())
    }

    fn ensure_quiet(&mut self, what: &str) -> Result<(), Box<Failure>> {
        if let Some((at, obs)) = self.pending.pop_front() {
            return Err(self.unexpected(at, &obs, what));
        }
        Ok(())
    }

    fn line(&mut self, line: &Line) -> Result<(), Box<Failure>> {
        let mut at = self.time_of(&line.time);
        // A line relative to a segment a real-time stack sent may fall a little before the
        // runner's clock, which kept running while it waited for that segment: it happens
        // now. (In virtual time the base is never behind the clock.)
        if line.time.relative && at < self.now && !matches!(line.action, Action::Expect(_)) {
            at = self.now;
        }
        if at < self.now && !matches!(line.action, Action::Expect(_)) {
            return Err(self.fail(format!(
                "the line's time {} is before the current time {}",
                secs(at),
                secs(self.now)
            )));
        }
        match &line.action {
            Action::Inject(spec) => {
                self.advance_to(at)?;
                self.ensure_quiet("before the peer's segment")?;
                let built = build(spec, &self.bases, self.peer_port, self.stack_port)
                    .map_err(|m| self.fail(m))?;
                if spec.flags.has(Flags::SYN) {
                    self.peer_wscale = spec
                        .options
                        .iter()
                        .flatten()
                        .any(|o| matches!(o, OptSpec::Wscale(_)));
                }
                for (i, &b) in built.payload.iter().enumerate() {
                    let off = built.stream_offset + i as i64;
                    if off >= 0 && !spec.bad_checksum {
                        let off = off as usize;
                        if self.peer_stream.len() <= off {
                            self.peer_stream.resize(off + 1, None);
                        }
                        self.peer_stream[off] = Some(b);
                    }
                }
                let obs = Observed::parse(&built.bytes).map_err(|m| self.fail(m))?;
                let mut shown = render_spec(&peer_view(&obs, &self.bases));
                if spec.bad_checksum {
                    shown.push_str(" bad-checksum");
                }
                self.record(format!("{} < {shown}", secs(self.now)));
                self.sut.inject(self.now, &built.bytes);
                self.drain()?;
                self.base_time = self.now;
                self.activity = self.base_time;
            }
            Action::Icmp(icmp) => {
                self.advance_to(at)?;
                self.ensure_quiet("before the ICMP error")?;
                let seq = match icmp.seq {
                    Value::Raw(x) => x,
                    Value::Rel(r) => self.bases.stack_iss.unwrap_or(0).wrapping_add(r as u32),
                    Value::Any | Value::Edge(_) => self.bases.stack_iss.unwrap_or(0),
                };
                let mut quoted = vec![0u8; 8];
                quoted[0..2].copy_from_slice(&self.stack_port.to_be_bytes());
                quoted[2..4].copy_from_slice(&self.peer_port.to_be_bytes());
                quoted[4..8].copy_from_slice(&seq.to_be_bytes());
                self.record(format!(
                    "{} < icmp {:?} quoting seq {seq}",
                    secs(self.now),
                    icmp.kind
                ));
                self.sut.inject_icmp(self.now, icmp.kind, &quoted);
                self.drain()?;
                self.base_time = self.now;
                self.activity = self.base_time;
            }
            Action::Expect(spec) => {
                let tol = line.time.tolerance.unwrap_or(self.script.header.tolerance)
                    + self.judging.extra_tolerance
                    + Duration::from_nanos(
                        at.saturating_duration_since(self.base_time).as_nanos() as u64
                            * u64::from(self.judging.tolerance_percent)
                            / 100,
                    );
                let lo = Instant::from_nanos(at.as_nanos().saturating_sub(tol.as_nanos() as u64));
                let hi = at
                    + tol
                    + Duration::from_nanos(
                        at.saturating_duration_since(self.base_time).as_nanos() as u64
                            * u64::from(self.judging.late_percent)
                            / 100,
                    );
                self.advance_until_output(hi)?;
                let Some((sent_at, obs)) = self.pending.pop_front() else {
                    self.advance_to(hi)?;
                    return Err(self.fail(format!(
                        "expected the stack to send `{}` at {} (±{}); it sent nothing",
                        render_spec(spec),
                        secs(at),
                        fmt_seconds(tol)
                    )));
                };
                let ignored = self.sut.syn_options_regardless();
                let obs = if obs.has(Flags::SYN) && !ignored.is_empty() {
                    without_options(obs, spec, &ignored)
                } else {
                    obs
                };
                let unwindowed;
                let spec = if self.judging.ignore_window && spec.win.is_some() {
                    let (e, a) = projection(spec, &obs, &self.bases);
                    if e != a && self.window_note.is_none() {
                        self.window_note = Some(format!(
                            "line {}: win={}, the script expects {}",
                            line.line,
                            obs.win,
                            spec.win
                                .map_or(String::new(), |w| render_spec(&SegmentSpec {
                                    win: Some(w),
                                    ..SegmentSpec::default()
                                }))
                        ));
                    }
                    unwindowed = SegmentSpec {
                        win: None,
                        ..spec.clone()
                    };
                    &unwindowed
                } else {
                    spec
                };
                let (e, a) = projection(spec, &obs, &self.bases);
                if e != a || !obs.checksum_ok {
                    let mut f = self.fail("the stack sent a different segment");
                    f.expected = Some(e);
                    f.actual = Some(a);
                    f.actual_full = Some(render_observed(&obs, &self.bases));
                    return Err(f);
                }
                if sent_at < lo || sent_at > hi {
                    let mut f = self.fail(format!(
                        "the segment was sent at {}, the script expects {} (±{})",
                        secs(sent_at),
                        secs(at),
                        fmt_seconds(tol)
                    ));
                    f.actual_full = Some(render_observed(&obs, &self.bases));
                    return Err(f);
                }
                self.base_time = sent_at;
                self.activity = self.base_time;
            }
            Action::Call(call, expected) => {
                self.advance_to(at)?;
                self.ensure_quiet("before the call")?;
                let pattern = |stream: &[u8], n: usize| -> Vec<u8> {
                    let from = stream.len() as i64;
                    (0..n as i64).map(|i| stack_pattern(from + i)).collect()
                };
                let call = match call {
                    Call::Send(Payload::Len(n)) => {
                        Call::Send(Payload::Bytes(pattern(&self.stack_stream, *n)))
                    }
                    Call::SendUrgent(Payload::Len(n)) => {
                        Call::SendUrgent(Payload::Bytes(pattern(&self.stack_stream, *n)))
                    }
                    c => c.clone(),
                };
                let result = self.sut.call(self.now, &call);
                if let (
                    Call::Send(Payload::Bytes(b)) | Call::SendUrgent(Payload::Bytes(b)),
                    Ok(CallValue::Count(n)),
                ) = (&call, &result)
                {
                    self.stack_stream.extend_from_slice(&b[..(*n).min(b.len())]);
                }
                if let Ok(CallValue::Bytes(got)) = &result {
                    self.check_read(got)?;
                }
                self.record(format!(
                    "{} call {} = {}",
                    secs(self.now),
                    line.text
                        .split_once("call")
                        .map_or("", |(_, r)| r.split('=').next().unwrap_or(""))
                        .trim(),
                    show_result(&result)
                ));
                if let Some(exp) = expected {
                    let ok = match (exp, &result) {
                        (Expected::Count(n), Ok(CallValue::Count(m))) => n == m,
                        (Expected::Count(n), Ok(CallValue::Bytes(b))) => *n == b.len(),
                        (Expected::Bytes(e), Ok(CallValue::Bytes(b))) => e == b,
                        (Expected::Errno(e), Err(got)) => e == got,
                        _ => false,
                    };
                    if !ok {
                        return Err(self.fail(format!(
                            "the call returned {}, the script expects {exp}",
                            show_result(&result)
                        )));
                    }
                }
                self.drain()?;
                self.base_time = self.now;
                self.activity = self.now;
            }
            Action::ExpectState(want) => {
                self.advance_to(at)?;
                let mut got = self.sut.state();
                // A real-time stack's timers fire late (Linux's timer wheel by up to an
                // eighth of the timeout): a state a timer brings (CLOSED after TIME-WAIT)
                // may come that late, counted from what started the timer.
                let percent = self.judging.tolerance_percent;
                if got != Some(*want) && percent > 0 {
                    let tol = self.judging.extra_tolerance
                        + Duration::from_nanos(
                            at.saturating_duration_since(self.activity).as_nanos() as u64
                                * u64::from(percent)
                                / 100,
                        );
                    let hi = at + tol;
                    while got != Some(*want) && self.now < hi {
                        let next = (self.now + Duration::from_millis(10)).min(hi);
                        self.advance_to(next)?;
                        got = self.sut.state();
                    }
                    // What the state change brought (events) is there for the next line.
                    self.drain()?;
                }
                if got != Some(*want) {
                    return Err(self.fail(format!(
                        "the connection is in {}, the script expects {want}",
                        got.map_or("an unknown state".to_string(), |s| s.to_string())
                    )));
                }
                self.base_time = self.now;
            }
            Action::ExpectEvent(want) => {
                self.advance_to(at)?;
                if let Some(i) = self.events.iter().position(|e| e == want) {
                    self.events.drain(..=i);
                } else {
                    return Err(self.fail(format!(
                        "no `{want}` event; events not yet expected: [{}]",
                        self.events.join(", ")
                    )));
                }
                self.base_time = self.now;
            }
            Action::ExpectNothingUntil(until) => {
                self.advance_to(at)?;
                self.ensure_quiet("before `expect nothing`")?;
                self.base_time = self.now;
                let until = self.time_of(until);
                self.advance_until_output(until)?;
                if let Some((sent, obs)) = self.pending.pop_front() {
                    return Err(self.unexpected(
                        sent,
                        &obs,
                        &format!("the script expects nothing until {}", secs(until)),
                    ));
                }
                self.advance_to(until)?;
                self.base_time = self.now;
            }
        }
        Ok(())
    }

    /// Bytes the application reads must be the bytes the peer sent, in order.
    fn check_read(&mut self, got: &[u8]) -> Result<(), Box<Failure>> {
        for (i, &b) in got.iter().enumerate() {
            let off = self.read_offset + i;
            if let Some(Some(sent)) = self.peer_stream.get(off) {
                if *sent != b {
                    return Err(self.fail(format!(
                        "recv returned byte {b:#04x} at stream offset {off}; the peer sent {sent:#04x} there"
                    )));
                }
            }
        }
        self.read_offset += got.len();
        Ok(())
    }
}

/// `obs` without the options of `kinds` that `spec` does not name.
fn without_options(mut obs: Observed, spec: &SegmentSpec, kinds: &[u8]) -> Observed {
    let named = |k: u8| {
        spec.options.as_ref().is_some_and(|o| {
            o.iter().any(|o| match o {
                OptSpec::Wscale(_) => k == 3,
                OptSpec::SackOk => k == 4,
                _ => false,
            })
        })
    };
    obs.options.retain(|o| match o {
        ObsOption::Wscale(_) => !kinds.contains(&3) || named(3),
        ObsOption::SackOk => !kinds.contains(&4) || named(4),
        _ => true,
    });
    obs
}

fn show_result(r: &CallResult) -> String {
    match r {
        Ok(CallValue::Count(n)) => n.to_string(),
        Ok(CallValue::Bytes(b)) if b.len() <= 40 => {
            format!("\"{}\"", crate::script::escape(b))
        }
        Ok(CallValue::Bytes(b)) => format!("{} bytes", b.len()),
        Err(e) => e.clone(),
    }
}

/// A peer segment rendered from the peer's side (its seq relative to its ISN).
fn peer_view(obs: &Observed, bases: &Bases) -> crate::script::SegmentSpec {
    let swapped = Bases {
        ts_tolerance: 0,
        stack_edge: None,
        peer_isn: bases.stack_iss.unwrap_or(0),
        stack_iss: Some(bases.peer_isn),
        stack_ts: Some(0),
    };
    let mut s = crate::segment::to_spec(obs, &swapped);
    if !obs.has(Flags::ACK) {
        s.ack = None;
    }
    if obs.payload.is_empty() {
        s.payload = None;
    }
    if s.options.as_ref().is_some_and(Vec::is_empty) {
        s.options = None;
    }
    s
}

fn secs(t: Instant) -> String {
    fmt_seconds(Duration::from_nanos(t.as_nanos()))
}
