//! The conformance suite of sansnet: RFC 9293 (and friends) as scripts, a runner that plays
//! them against a TCP stack in virtual time, and a report against the checklist.
//!
//! # The script format
//!
//! A script is a text file (`scripts/<category>/<name>.tcp`). It starts with a header of
//! `# key: value` lines, then has one event per line:
//!
//! ```text
//! # title: passive open, then the peer closes first
//! # rfc: 9293 3.5; 9293 3.6
//! # requirements: MUST-14, MAY-1
//! # quote: "TCP implementations MUST support sending and receiving the MSS option"
//! # matrix: ESTABLISHED x FIN-ACK
//! # setup: listen
//! # config: rto_min=0.2
//! +0    < S seq=0 win=65535 <mss 1000>        # the peer's SYN
//! +0    > S. seq=0 ack=1 <mss 1460>           # our SYN-ACK; fields left out are not checked
//! +0.1  < . seq=1 ack=1 win=65535
//!       expect state ESTABLISHED
//! +0    < F. seq=1 ack=1 win=65535
//! +0    > . seq=1 ack=2
//!       call recv(10) = 0                      # end of stream
//! +1    call close() = 0
//! +0    > F. seq=1 ack=2
//! +0.1  < . seq=2 ack=2 win=65535
//!       expect state CLOSED
//! ```
//!
//! **Header.** `title`, `rfc` (sections, `;`-separated), `requirements` (RFC 9293 Appendix
//! B IDs such as `MUST-10`, or manifest items such as `RFC5961-3.2`; `none` if it checks
//! none), `quote` (the requirement, in one line) and `setup` are required. `setup` is
//! `listen` (the stack listens on 10.0.0.1:8080; the peer is 10.0.0.2:40000),
//! `established` (`listen`, and the runner plays the suite's handshake first:
//! [`script::ESTABLISHED_HANDSHAKE`], so the script starts in ESTABLISHED), `connect`
//! (the stack connects to 10.0.0.2:8080 at time 0, so its SYN is the first segment) or
//! `closed` (nothing listens). Optional: `matrix` (cells of the state x segment matrix,
//! `STATE x KIND; ...`), `config` (`key=value` changes to the suite's baseline,
//! [`script::BASELINE_CONFIG`] = `timestamps=off sack=off wscale=off rto_min=1`, which every
//! script starts from: `mss`, `default_mss`,
//! `rcvbuf`, `sndbuf`, `wscale`, `timestamps`, `sack`, `nagle`, `delack` on/off,
//! `delack_timeout`, `rto_initial`, `rto_min`, `rto_max`, `iw`, `msl`, `r1`, `r2`,
//! `r2_syn`, `user_timeout`, `keepalive_idle`, `keepalive_interval`, `keepalive_count`,
//! `keepalive` on/off (`off`: the `keepalive_*` items are only the defaults a connection
//! that turns keep-alive on would use, where the stack has such defaults to set),
//! `cc` newreno/cubic, `challenge_ack_limit`, `tlp` on/off and `tlp_max_ack_delay`
//! (Tail Loss Probe, RFC 8985; off by default here), `abc` (L of RFC 3465 in segments; 1
//! by default here), `rack` on/off, `iss`, `peer_isn`; times in seconds. The runners'
//! baseline turns TLP and ABC off, unlike the engine's defaults: see `engine::tcp_config`),
//! `tolerance` (seconds; default 0.005), `needs` (capabilities: `icmp`, `time-wait-reopen`),
//! `stacks` (`engine` or `host`, then `;` and why: which of sansnet's two runners the script
//! is for; the other skips it, while other stacks (smoltcp, Linux) run it unless they cannot
//! express one of its lines),
//! `status` (`known-failure NOTE` when the stack is known to be wrong: the runner then
//! expects the script to fail, and a pass fails the test so that the note is removed),
//! `note`, `see`, `allows` (repeatable: where the RFC allows more than one behaviour, its
//! words and what each stack does; the side-by-side report, `conformance/STACKS.md`, shows
//! them beside the script's differences; a line that starts with the stacks it speaks for,
//! `linux: RFC 9293 ...`, makes the script's failure on those stacks count as `allowed`:
//! `stacks::allows_stacks`), `departs` (repeatable, starts with the stacks it speaks for:
//! where a stack does what the RFC does not allow, the RFC's words and what that stack does
//! instead; its failure there counts as `departs`, explained but not agreeing).
//!
//! **Time.** Each line may start with a time: `+S` seconds after the previous line (after
//! the time a `>` segment was actually sent), or `@S` seconds after the start. No time
//! means `+0`. A `~S` suffix is the tolerance of a `>` line.
//!
//! **Segments.** `<` lines are sent by the peer, `>` lines must be sent by the stack, in
//! order: every segment the stack sends must be matched by a `>` line. Flags come first:
//! `S` SYN, `F` FIN, `R` RST, `P` PSH, `U` URG, `E` ECE, `W` CWR, `.` ACK (`S.` is a
//! SYN-ACK), `-` none. Then fields: `seq=`, `ack=`, `win=` (the raw field), `urg=`,
//! `len=N` (the peer sends N bytes of its pattern, lower-case letters by stream offset) or
//! `data="text"`, and `bad-checksum` (peer only). Sequence numbers are relative to the
//! sender's ISN (`seq=1` is the first data byte), acknowledgment numbers and SACK blocks to
//! the other side's; `raw:N` is a number as it is on the wire; `*` matches anything;
//! `seq=edge` (`edge-1`, `edge+1`) is the right edge of the window the stack last
//! advertised (its last ACK number plus its window, scaled), so that a script at the edge
//! stays at the edge on a stack whose window is another size.
//! Options close the line in `<...>`: `mss N`, `wscale N`, `sackOK`, `sack L:R L:R`,
//! `ts val X ecr Y`, `nop`, `eol`, `opt KIND HEX` (any option, length computed) and
//! `raw HEX` (bytes as they are, for malformed options). The peer's options are sent in
//! the order written, padded with zeros; the stack's are compared as a set (NOP and EOL are
//! layout and are not checked). `.?` ending a `>` line's flags (`R.?`) leaves the ACK bit
//! unchecked. The stack's TSval is relative to the first one it sent;
//! the peer's as written. In a `>` line, fields left out are not checked, and PSH is only
//! checked when written. Whatever is written, the payload the stack sends must be the bytes
//! the application wrote at that offset of the stream.
//!
//! **ICMP.** `< icmp unreachable code=N seq=S`, `frag-needed mtu=N`, `time-exceeded`,
//! `param-problem`, `source-quench`: an error quoting the stack's segment with sequence
//! number `S`.
//!
//! **Calls.** `call send(N)` (N bytes of the stack's pattern, upper-case letters) or
//! `send("text")`, `recv(N)`, `shutdown()` (half-close), `close()`, `abort()`,
//! `nagle(on|off)`, `keepalive(IDLE, INTERVAL, COUNT)`, `keepalive(on)` (the stack's own
//! defaults, `SO_KEEPALIVE` alone) or `keepalive(off)`,
//! `user_timeout(S)`, `urgent_pending()`, `soft_error()`; then `= N`, `= "bytes"` or
//! `= ERRNO` (EAGAIN, ECONNRESET, ...); no `=` means the result is not checked. Bytes
//! `recv` returns must be what the peer sent.
//!
//! **Expectations.** `expect state STATE` (RFC names), `expect event NAME` (`Connected`,
//! `Readable`, `Writable`, `PeerClosed`, `Urgent`, `PathTrouble`, `Failed(ECONNRESET)`,
//! `Closed`), `expect nothing until TIME` (no segment until then).
//!
//! # Layout
//!
//! - [`script`]: the format's types and parser (errors carry line and column);
//! - [`segment`]: building the peer's segments, reading the stack's, comparing them;
//! - [`runner`]: the [`runner::StackUnderTest`] trait and the runner;
//! - [`engine`]: the trait over one bare `tcp::Connection`; [`host`]: over a whole sansnet
//!   host fed Ethernet frames, through its BSD socket API (the report's default runner);
//! - [`report`]: the requirement table and the matrix.
#![forbid(unsafe_code)]

pub use sansnet_stack as stack;

pub mod engine;
pub mod host;
#[cfg(all(target_os = "linux", feature = "linux"))]
pub mod linux;
pub mod report;
pub mod runner;
pub mod script;
pub mod segment;
#[cfg(feature = "smoltcp")]
pub mod smoltcp;
pub mod stacks;

use std::path::{Path, PathBuf};

use runner::{Failure, StackUnderTest};

/// The runner the report uses by default: one sansnet host driven through its real frame
/// interface. (The test harness runs every script on both runners.)
pub type DefaultStack = host::HostUnderTest;
use script::{Script, Status};

/// What became of one script.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// It passed.
    Pass,
    /// It failed: a defect in the stack (or in the script).
    Fail(Box<Failure>),
    /// It failed as its header says it does (`status: known-failure NOTE`).
    KnownFailure(String, Box<Failure>),
    /// It is marked as a known failure but passed: the note is stale.
    UnexpectedPass(String),
    /// The stack cannot run it (`needs:` a capability it lacks).
    Skipped(String),
    /// The script does not parse.
    Invalid(String),
}

impl Verdict {
    /// Whether the test for this script is green.
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            Verdict::Pass | Verdict::KnownFailure(..) | Verdict::Skipped(_)
        )
    }
}

/// Runs a parsed script on stack `S` and judges it against its status.
pub fn judge<S: StackUnderTest>(script: &Script) -> Verdict {
    judge_with::<S>(script, runner::Judging::default())
}

/// [`judge`], with the judge as `judging` says.
pub fn judge_with<S: StackUnderTest>(script: &Script, judging: runner::Judging) -> Verdict {
    judge_noting::<S>(script, judging).0
}

/// [`judge_with`], and the first window that differed if the judge left windows out
/// ([`runner::RunResult::window_note`]). The stack is started once: the instance that says
/// what it can do is the one that runs the script.
pub fn judge_noting<S: StackUnderTest>(
    script: &Script,
    judging: runner::Judging,
) -> (Verdict, Option<String>) {
    let h = &script.header;
    let sut = match S::start(stack::time::Instant::ZERO, h.setup, &h.config) {
        Ok(sut) => sut,
        Err(m) => {
            let f = Box::new(runner::start_failure(script, m));
            return (with_status(script, Err(f)), None);
        }
    };
    // `# stacks:` chooses among sansnet's own runners; another stack runs the script
    // unless it `cannot` (below) or lacks what `needs:` asks.
    let stacks = &h.stacks;
    let sansnet = matches!(sut.name(), "engine" | "host");
    if sansnet && !stacks.is_empty() && !stacks.iter().any(|s| s == sut.name()) {
        let why = format!(
            "for the {} runner only: {}",
            stacks.join(", "),
            h.stacks_reason
        );
        return (Verdict::Skipped(why), None);
    }
    // A stack that lacks a capability the script needs cannot run it.
    if let Some(need) = h.needs.iter().find(|n| !sut.supports(n)) {
        let why = format!(
            "needs `{need}`, which the {} runner does not have",
            sut.name()
        );
        return (Verdict::Skipped(why), None);
    }
    if let Some((line, why)) = script
        .lines
        .iter()
        .find_map(|l| sut.cannot(&l.action).map(|why| (l.line, why)))
    {
        return (Verdict::Skipped(format!("line {line}: {why}")), None);
    }
    let r = runner::run_on(script, sut, judging);
    (with_status(script, r.result.map(|_| ())), r.window_note)
}

fn with_status(script: &Script, result: Result<(), Box<Failure>>) -> Verdict {
    match (&script.header.status, result) {
        (Status::Normal, Ok(())) => Verdict::Pass,
        (Status::Normal, Err(f)) => Verdict::Fail(f),
        (Status::KnownFailure(note), Ok(())) => Verdict::UnexpectedPass(note.clone()),
        (Status::KnownFailure(note), Err(f)) => Verdict::KnownFailure(note.clone(), f),
    }
}

/// Reads and parses a script file; its name is its path under `root` without `.tcp`.
pub fn load(root: &Path, path: &Path) -> Result<Script, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = script_name(root, path);
    script::parse(&name, &text).map_err(|e| format!("{name}.tcp:{e}"))
}

/// A script's name: its path under `root`, `/`-separated, without `.tcp`.
pub fn script_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    s.join("/").trim_end_matches(".tcp").to_string()
}

/// Every `.tcp` file under `dir`, sorted.
pub fn find_scripts(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tcp") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The scripts directory of this crate.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}
