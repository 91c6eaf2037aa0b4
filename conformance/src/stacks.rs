//! The suite on other stacks than the one it was written with: per script, what became of it
//! on a stack (pass, fail with the reason, not applicable with the reason), in a plain-text
//! form that is committed (`conformance/stacks/<stack>.expected`) so that a change in any
//! script's outcome on any stack shows in review and fails the test that compares them.
//!
//! A script's `# status: known-failure` is about sansnet: on another stack a failure is a
//! failure and a pass a pass.

use std::fmt;
use std::path::Path;

use crate::runner::{Judging, StackUnderTest};
use crate::script::Script;
use crate::{find_scripts, judge_noting, load, script_name, Verdict};

/// What became of one script on one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It passes with the window field left out of the comparisons
    /// ([`Judging::ignore_window`]); the first window that differs, in one line.
    WindowOnly(String),
    /// It failed; the line and what went wrong, in one line.
    Fail(String),
    /// The stack cannot run it; why.
    NotApplicable(String),
}

impl Outcome {
    /// The outcome's word in the expected files and the side-by-side report.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::WindowOnly(_) => "window",
            Outcome::Fail(_) => "FAIL",
            Outcome::NotApplicable(_) => "n/a",
        }
    }

    /// The reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::WindowOnly(r) | Outcome::Fail(r) | Outcome::NotApplicable(r) => Some(r),
        }
    }

    /// The outcome of a verdict on a stack the script's status does not describe.
    pub fn from_verdict(v: &Verdict) -> Outcome {
        let failure = |f: &crate::runner::Failure| {
            let mut s = format!("line {}: {}", f.line, f.message);
            if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
                s.push_str(&format!(": expected `{e}`, got `{a}`"));
            } else if let Some(a) = &f.actual_full {
                s.push_str(&format!(": `{a}`"));
            }
            one_line(&s)
        };
        match v {
            Verdict::Pass | Verdict::UnexpectedPass(_) => Outcome::Pass,
            Verdict::Fail(f) | Verdict::KnownFailure(_, f) => Outcome::Fail(failure(f)),
            Verdict::Skipped(why) => Outcome::NotApplicable(one_line(why)),
            Verdict::Invalid(e) => Outcome::Fail(one_line(&format!("invalid script: {e}"))),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every script's outcome on one stack, in the order of [`find_scripts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRun {
    /// The stack's name (`smoltcp`).
    pub stack: String,
    /// (script name, outcome).
    pub scripts: Vec<(String, Outcome)>,
    /// The scripts' `# allows:` lines, by script (not in the expected files).
    pub allows: std::collections::BTreeMap<String, Vec<String>>,
    /// The scripts' `# departs:` lines, by script (not in the expected files).
    pub departs: std::collections::BTreeMap<String, Vec<String>>,
}

impl StackRun {
    /// (pass, pass with windows left out, fail, not applicable) counts.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for (_, o) in &self.scripts {
            match o {
                Outcome::Pass => c.0 += 1,
                Outcome::WindowOnly(_) => c.1 += 1,
                Outcome::Fail(_) => c.2 += 1,
                Outcome::NotApplicable(_) => c.3 += 1,
            }
        }
        c
    }

    /// The outcome of a script, by name.
    pub fn get(&self, name: &str) -> Option<&Outcome> {
        self.scripts.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }

    /// Whether the script failed on this stack and one of its `# allows:` lines names this
    /// stack ([`allows_stacks`]): the failure is a difference the RFC allows.
    pub fn allowed(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Outcome::Fail(_)))
            && self.names_this_stack(&self.allows, name)
    }

    /// Whether one of the script's lines in `lines` (`# allows:` or `# departs:`) names this
    /// stack before its first colon.
    fn names_this_stack(
        &self,
        lines: &std::collections::BTreeMap<String, Vec<String>>,
        name: &str,
    ) -> bool {
        lines
            .get(name)
            .into_iter()
            .flatten()
            .any(|a| allows_stacks(a).contains(&self.stack.as_str()))
    }

    /// How many failures are differences the RFC allows ([`StackRun::allowed`]).
    pub fn allowed_count(&self) -> usize {
        self.scripts.iter().filter(|(n, _)| self.allowed(n)).count()
    }

    /// Whether the script failed on this stack, no `# allows:` line allows it, and one of
    /// its `# departs:` lines names this stack: the stack does what the RFC does not allow,
    /// and the script says where and how (explained, not allowed).
    pub fn departs(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Outcome::Fail(_)))
            && !self.allowed(name)
            && self.names_this_stack(&self.departs, name)
    }

    /// How many failures are departures from the RFC that the scripts explain
    /// ([`StackRun::departs`]).
    pub fn departs_count(&self) -> usize {
        self.scripts.iter().filter(|(n, _)| self.departs(n)).count()
    }
}

/// The stacks an `# allows:` line names before its first colon (`linux: RFC 9293 ...`,
/// `linux, smoltcp: ...`): a failure of the script on one of them is the behaviour the line
/// says the RFC allows, and the report counts it so. A line that names no stack there
/// (`RFC 9293 3.8.4 ...: ...`) is shown with the script's differences and counts nothing.
pub fn allows_stacks(line: &str) -> Vec<&str> {
    const STACKS: [&str; 3] = ["sansnet", "linux", "smoltcp"];
    let Some((head, _)) = line.split_once(':') else {
        return Vec::new();
    };
    let names: Vec<&str> = head.split(',').map(str::trim).collect();
    if names.iter().all(|n| STACKS.contains(n)) {
        names
    } else {
        Vec::new()
    }
}

/// The expected-file form: a header line, then one line per script, `name<TAB>word` and
/// `<TAB>reason` when there is one.
impl fmt::Display for StackRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, w, x, n) = self.counts();
        writeln!(
            f,
            "# {}: {p} pass, {w} pass but for windows, {x} fail, {n} not applicable (of {})",
            self.stack,
            self.scripts.len()
        )?;
        for (name, o) in &self.scripts {
            match o.reason() {
                Some(r) => writeln!(f, "{name}\t{}\t{r}", o.word())?,
                None => writeln!(f, "{name}\t{}", o.word())?,
            }
        }
        Ok(())
    }
}

/// Runs every script under `scripts_dir` on stack `S`, on `jobs` threads.
pub fn run_stack<S: StackUnderTest>(stack: &str, scripts_dir: &Path, jobs: usize) -> StackRun {
    run_each(stack, scripts_dir, jobs, judge_script::<S>)
}

/// Runs every script on sansnet: the host runner, or the engine runner for the scripts
/// that say `# stacks: engine` (as the conformance report does).
pub fn run_sansnet(scripts_dir: &Path, jobs: usize) -> StackRun {
    run_each("sansnet", scripts_dir, jobs, |script| {
        let stacks = &script.header.stacks;
        if !stacks.is_empty() && !stacks.iter().any(|s| s == "host") {
            judge_script::<crate::engine::EngineUnderTest>(script)
        } else {
            judge_script::<crate::host::HostUnderTest>(script)
        }
    })
}

/// How the Linux kernel is judged: in real time, so `>` lines get 10 ms more tolerance and
/// 13 % of the time since the line before (Linux's timer wheel fires a timer of seconds up
/// to 12.5 % late), as packetdrill's `tolerance_usecs` and `tolerance_percent` do; and 12 %
/// more on the late side, for Linux's RTO, which is SRTT + max(RTO min, 4 RTTVAR)
/// (`tcp_set_rto`): the suite's 1 s minimum plus SRTT (0.1 s after the suite's handshake),
/// where RFC 6298 2.4 rounds SRTT + 4 RTTVAR up to the minimum. A state a timer brings
/// (CLOSED after TIME-WAIT) may come 13 % late, counted from what started the timer.
pub const LINUX_JUDGING: Judging = Judging {
    ignore_window: true,
    extra_tolerance: sansnet_stack::time::Duration::from_millis(10),
    tolerance_percent: 13,
    late_percent: 12,
};

/// The longest script [`run_linux`] runs again when it fails.
#[cfg(all(target_os = "linux", feature = "linux"))]
const RETRY_MAX: sansnet_stack::time::Duration = sansnet_stack::time::Duration::from_secs(100);

/// Runs every script on the Linux kernel, `jobs` labs at once (a lab per thread, kept from
/// one script to the next). Scripts whose times add up to more than `max` are not
/// applicable (they would hold a lab that long: keep-alive's two hours), with their length.
///
/// Real time on a shared machine makes a late segment now and then: a script that fails is
/// run again, up to `retries` times, on half as many labs; its outcome is the first that is
/// not a failure, or the last failure. Scripts of more than 100 s are not run again.
/// Lateness is all scheduling can add, so a retry can only take back a failure that timing
/// made, never make a behaviour appear.
#[cfg(all(target_os = "linux", feature = "linux"))]
pub fn run_linux(
    scripts_dir: &Path,
    jobs: usize,
    max: sansnet_stack::time::Duration,
    retries: usize,
    select: &(dyn Fn(&str) -> bool + Sync),
) -> StackRun {
    let judge = |script: &Script| {
        let d = script.duration();
        if d > max {
            return Outcome::NotApplicable(format!(
                "runs {} s in real time; the Linux run stops at {} s",
                crate::script::fmt_seconds(d),
                crate::script::fmt_seconds(max)
            ));
        }
        judge_script_with::<crate::linux::LinuxUnderTest>(script, LINUX_JUDGING)
    };
    let mut run = run_selected_prepared(
        "linux",
        scripts_dir,
        jobs,
        select,
        crate::linux::prepare_lab,
        judge,
    );
    // A script of minutes (R2, persist) is not run again: its lines are timers of tens of
    // seconds, whose lateness the judge's percentage allows for, and a retry would hold a
    // lab for minutes. The TIME-WAIT scripts (one minute and a half at most) are.
    let short = |name: &str| {
        load(scripts_dir, &scripts_dir.join(format!("{name}.tcp")))
            .is_ok_and(|s| s.duration() <= RETRY_MAX)
    };
    for _ in 0..retries {
        let failed: Vec<String> = run
            .scripts
            .iter()
            .filter(|(n, o)| matches!(o, Outcome::Fail(_)) && short(n))
            .map(|(n, _)| n.clone())
            .collect();
        if failed.is_empty() {
            break;
        }
        let again = run_selected_prepared(
            "linux",
            scripts_dir,
            (jobs / 2).clamp(1, failed.len()),
            &|name: &str| failed.iter().any(|f| f == name),
            crate::linux::prepare_lab,
            judge,
        );
        for (name, o) in again.scripts {
            if let Some(slot) = run.scripts.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = o;
            }
        }
    }
    run
}

/// One script on Linux, once, on this thread's lab (no retry): for a check that wants to
/// see whether an outcome can be had at all.
#[cfg(all(target_os = "linux", feature = "linux"))]
pub fn run_linux_once(script: &Script) -> Outcome {
    judge_script_with::<crate::linux::LinuxUnderTest>(script, LINUX_JUDGING)
}

/// Runs `judge` on every script under `scripts_dir`, on `jobs` threads; the outcomes in the
/// order of [`find_scripts`].
pub fn run_each(
    stack: &str,
    scripts_dir: &Path,
    jobs: usize,
    judge: impl Fn(&Script) -> Outcome + Sync,
) -> StackRun {
    run_selected(stack, scripts_dir, jobs, &|_| true, judge)
}

/// [`run_each`] on the scripts whose names `select` accepts (the others are not in the run).
pub fn run_selected(
    stack: &str,
    scripts_dir: &Path,
    jobs: usize,
    select: &(dyn Fn(&str) -> bool + Sync),
    judge: impl Fn(&Script) -> Outcome + Sync,
) -> StackRun {
    run_selected_prepared(stack, scripts_dir, jobs, select, || Ok(()), judge)
}

/// [`run_selected`], each thread running `prepare` first and every thread waiting until all
/// have (Linux: every lab is built before any script runs). A thread whose `prepare`
/// fails runs nothing: the scripts it would have run go to the others.
pub fn run_selected_prepared(
    stack: &str,
    scripts_dir: &Path,
    jobs: usize,
    select: &(dyn Fn(&str) -> bool + Sync),
    prepare: impl Fn() -> Result<(), String> + Sync,
    judge: impl Fn(&Script) -> Outcome + Sync,
) -> StackRun {
    let paths: Vec<_> = find_scripts(scripts_dir)
        .into_iter()
        .filter(|p| select(&script_name(scripts_dir, p)))
        .collect();
    let jobs = jobs.clamp(1, 64);
    // The longest scripts first, so that on a real-time stack (Linux: minutes for R2,
    // persist and TIME-WAIT scripts) they run beside the short ones, not after them.
    let mut order: Vec<usize> = (0..paths.len()).collect();
    let length = |i: &usize| {
        load(scripts_dir, &paths[*i]).map_or(sansnet_stack::time::Duration::ZERO, |s| s.duration())
    };
    order.sort_by_cached_key(|i| std::cmp::Reverse(length(i)));
    let mut results: Vec<Option<(String, Outcome)>> = vec![None; paths.len()];
    let allows = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let departs = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = std::sync::Mutex::new(&mut results);
    let ready = std::sync::Barrier::new(jobs);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let prepared = prepare();
                ready.wait();
                if let Err(e) = prepared {
                    if let Ok(mut f) = failures.lock() {
                        f.push(e);
                    }
                    return;
                }
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let path = &paths[i];
                    let name = script_name(scripts_dir, path);
                    let outcome = match load(scripts_dir, path) {
                        Ok(script) => {
                            if !script.header.allows.is_empty() {
                                if let Ok(mut a) = allows.lock() {
                                    a.insert(name.clone(), script.header.allows.clone());
                                }
                            }
                            if !script.header.departs.is_empty() {
                                if let Ok(mut d) = departs.lock() {
                                    d.insert(name.clone(), script.header.departs.clone());
                                }
                            }
                            judge(&script)
                        }
                        Err(e) => Outcome::Fail(one_line(&format!("invalid script: {e}"))),
                    };
                    if let Ok(mut r) = out.lock() {
                        r[i] = Some((name, outcome));
                    }
                }
            });
        }
    });
    // Every thread failed to prepare: every script says why.
    let why = failures
        .into_inner()
        .ok()
        .and_then(|f| f.into_iter().next());
    if let Some(why) = why {
        for (i, r) in results.iter_mut().enumerate() {
            if r.is_none() {
                *r = Some((
                    script_name(scripts_dir, &paths[i]),
                    Outcome::Fail(one_line(&format!("could not start: {why}"))),
                ));
            }
        }
    }
    StackRun {
        stack: stack.to_string(),
        scripts: results.into_iter().flatten().collect(),
        allows: allows.into_inner().unwrap_or_default(),
        departs: departs.into_inner().unwrap_or_default(),
    }
}

/// The side-by-side report (Markdown): counts per stack, what each stack could not be set
/// to, every script's outcome per stack, and every script whose outcomes differ with each
/// stack's reason. `unhonoured` holds, per stack, the configuration it cannot be set to.
pub fn side_by_side(runs: &[StackRun], unhonoured: &[(String, Vec<String>)]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "# The conformance suite on {} stacks\n", runs.len());
    let _ = writeln!(
        o,
        "Generated by `sansnet conformance --stack all --write conformance/STACKS.md`; do not \
         edit by hand. Every script runs on every stack with windows left out of the \
         comparisons (a stack's advertised window follows from buffers other stacks cannot be \
         set to): `window` means the script passes but a window differed (the first one is \
         named), and a failure names the line that failed. `allowed`: the script fails on the \
         stack, and its `# allows:` line for that stack quotes the RFC words that allow what \
         the stack does (shown with the script's differences). `departs`: the script fails on \
         the stack, which does what the RFC does not allow, and its `# departs:` line for that \
         stack quotes the RFC and says what the stack does instead. `n/a`: the stack has no \
         call or event for a line of the script, with the reason.\n"
    );
    let _ = writeln!(
        o,
        "| stack | pass | pass but for windows | fail, the RFC allows it | fail, departs from the RFC (explained) | fail | not applicable |\n|---|---|---|---|---|---|---|"
    );
    for r in runs {
        let (p, w, x, n) = r.counts();
        let a = r.allowed_count();
        let d = r.departs_count();
        let _ = writeln!(
            o,
            "| {} | {p} | {w} | {a} | {d} | {} | {n} |",
            r.stack,
            x - a - d
        );
    }
    for (stack, items) in unhonoured {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "\n## What {stack} cannot be set to\n\nThe suite's baseline configuration \
             (`script::BASELINE_CONFIG` over the engine's defaults) that {stack} does not \
             honour; scripts that change these say so in their `# config:` line.\n"
        );
        for i in items {
            let _ = writeln!(o, "- {i}");
        }
    }
    let Some(first) = runs.first() else {
        return o;
    };
    let names: Vec<&str> = runs.iter().map(|r| r.stack.as_str()).collect();
    let _ = writeln!(
        o,
        "\n## Every script\n\n| script | {} |\n|---|{}",
        names.join(" | "),
        "---|".repeat(names.len())
    );
    let cell = |r: &StackRun, name: &str| {
        if r.allowed(name) {
            "allowed"
        } else if r.departs(name) {
            "departs"
        } else {
            r.get(name).map_or("-", Outcome::word)
        }
    };
    for (name, _) in &first.scripts {
        let cells: Vec<&str> = runs.iter().map(|r| cell(r, name)).collect();
        let _ = writeln!(o, "| {name} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        o,
        "\n## Differences\n\nEvery script whose outcome is not the same on every stack, \
         with each stack's reason.\n"
    );
    for (name, _) in &first.scripts {
        let words: Vec<&str> = runs.iter().map(|r| cell(r, name)).collect();
        if words.iter().all(|w| *w == words[0]) {
            continue;
        }
        let _ = writeln!(o, "- **{name}**");
        for a in runs
            .iter()
            .find_map(|r| r.allows.get(name))
            .into_iter()
            .flatten()
        {
            let _ = writeln!(o, "  - the RFC allows: {}", md(a));
        }
        for d in runs
            .iter()
            .find_map(|r| r.departs.get(name))
            .into_iter()
            .flatten()
        {
            let _ = writeln!(o, "  - departs from the RFC: {}", md(d));
        }
        for r in runs {
            match r.get(name) {
                Some(oc) => match oc.reason() {
                    Some(why) => {
                        let _ = writeln!(o, "  - {}: {}: {}", r.stack, cell(r, name), md(why));
                    }
                    None => {
                        let _ = writeln!(o, "  - {}: {}", r.stack, oc.word());
                    }
                },
                None => {
                    let _ = writeln!(o, "  - {}: not run", r.stack);
                }
            }
        }
    }
    o
}

/// Text safe inside a Markdown list item (no table pipes, no stray emphasis).
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('*', "\\*")
}

/// A script's outcome on stack `S`, judged with windows left out
/// ([`Judging::ignore_window`]) and the first window that differed noted: a script that
/// passes but for a window is [`Outcome::WindowOnly`]; a failure names the line that failed
/// (the script's subject, not the window of an earlier ACK) and the window that differed
/// before it. A stack whose windows all match the scripts' shows plain passes and failures.
pub fn judge_script<S: StackUnderTest>(script: &Script) -> Outcome {
    judge_script_with::<S>(
        script,
        Judging {
            ignore_window: true,
            ..Judging::default()
        },
    )
}

/// [`judge_script`] with the judge as `judging` says (windows are left out whatever it says).
pub fn judge_script_with<S: StackUnderTest>(script: &Script, judging: Judging) -> Outcome {
    let judging = Judging {
        ignore_window: true,
        ..judging
    };
    let (verdict, window) = judge_noting::<S>(script, judging);
    match (Outcome::from_verdict(&verdict), window) {
        (Outcome::Pass, Some(w)) => Outcome::WindowOnly(w),
        (Outcome::Fail(r), Some(w)) => Outcome::Fail(format!("{r} (windows differ too, from {w})")),
        (o, _) => o,
    }
}

/// The whole exchange of one script on stack `S` (windows left out, as in the runs): the
/// trace of a pass, or the failure with the segments before it.
pub fn trace<S: StackUnderTest>(script: &Script, judging: Judging) -> String {
    let judging = Judging {
        ignore_window: true,
        ..judging
    };
    let h = &script.header;
    match S::start(sansnet_stack::time::Instant::ZERO, h.setup, &h.config) {
        Err(e) => format!("{}: the stack could not start: {e}\n", script.name),
        Ok(sut) => {
            let name = sut.name();
            let unhonoured = sut.unhonoured();
            let r = crate::runner::run_on(script, sut, judging);
            let mut out = String::new();
            match r.result {
                Ok(lines) => {
                    out.push_str(&format!("{}: passes on {name}\n", script.name));
                    for l in lines {
                        out.push_str(&format!("  {l}\n"));
                    }
                }
                Err(f) => out.push_str(&f.to_string()),
            }
            if let Some(w) = r.window_note {
                out.push_str(&format!("the first window that differed: {w}\n"));
            }
            for u in unhonoured {
                out.push_str(&format!("not honoured: {u}\n"));
            }
            out
        }
    }
}

/// Reads an expected file back (the lines [`StackRun`]'s `Display` writes).
pub fn parse_expected(stack: &str, text: &str) -> Result<StackRun, String> {
    let mut scripts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(word)) = (parts.next(), parts.next()) else {
            return Err(format!("line {}: not `script<TAB>outcome`", i + 1));
        };
        let reason = parts.next().unwrap_or("").to_string();
        let o = match word {
            "pass" => Outcome::Pass,
            "window" => Outcome::WindowOnly(reason),
            "FAIL" => Outcome::Fail(reason),
            "n/a" => Outcome::NotApplicable(reason),
            w => return Err(format!("line {}: unknown outcome `{w}`", i + 1)),
        };
        scripts.push((name.to_string(), o));
    }
    Ok(StackRun {
        stack: stack.to_string(),
        scripts,
        allows: Default::default(),
        departs: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn side_by_side_lists_differences_only() {
        let a = StackRun {
            stack: "a".into(),
            scripts: vec![
                ("same".into(), Outcome::Pass),
                ("diff".into(), Outcome::Pass),
            ],
            allows: Default::default(),
            departs: Default::default(),
        };
        let b = StackRun {
            stack: "b".into(),
            scripts: vec![
                ("same".into(), Outcome::Pass),
                ("diff".into(), Outcome::Fail("line 4: a|b".into())),
            ],
            allows: [("diff".to_string(), vec!["either".to_string()])].into(),
            departs: Default::default(),
        };
        let md = side_by_side(&[a, b], &[("b".into(), vec!["iw=10: no".into()])]);
        assert!(md.contains("| a | 2 | 0 | 0 | 0 | 0 | 0 |"), "{md}");
        assert!(md.contains("| b | 1 | 0 | 0 | 0 | 1 | 0 |"), "{md}");
        assert!(md.contains("| diff | pass | FAIL |"), "{md}");
        assert!(md.contains("- iw=10: no"), "{md}");
        let diffs = md.split("## Differences").nth(1).unwrap();
        assert!(diffs.contains("  - b: FAIL: line 4: a\\|b"), "{diffs}");
        assert!(diffs.contains("  - the RFC allows: either"), "{diffs}");
        assert!(!diffs.contains("**same**"), "{diffs}");
    }

    #[test]
    fn allows_lines_naming_the_stack_count_its_failure_as_allowed() {
        assert_eq!(
            allows_stacks("linux: RFC 9293 3.8.6.3 \"x\""),
            vec!["linux"]
        );
        assert_eq!(
            allows_stacks("linux, smoltcp: RFC 1122"),
            vec!["linux", "smoltcp"]
        );
        assert!(allows_stacks("RFC 9293 3.8.4 \"x\": y").is_empty());
        let a = StackRun {
            stack: "a".into(),
            scripts: vec![("d".into(), Outcome::Pass), ("e".into(), Outcome::Pass)],
            allows: Default::default(),
            departs: Default::default(),
        };
        let mut b = StackRun {
            stack: "linux".into(),
            scripts: vec![
                ("d".into(), Outcome::Fail("line 4: early".into())),
                ("e".into(), Outcome::Fail("line 5: late".into())),
            ],
            allows: [
                ("d".to_string(), vec!["linux: RFC says MAY".to_string()]),
                ("e".to_string(), vec!["smoltcp: RFC says MAY".to_string()]),
            ]
            .into(),
            departs: [
                ("d".to_string(), vec!["linux: RFC says MUST".to_string()]),
                ("f".to_string(), vec!["linux: RFC says MUST".to_string()]),
            ]
            .into(),
        };
        b.scripts
            .push(("f".into(), Outcome::Fail("line 6: sent".into())));
        assert!(b.allowed("d") && !b.allowed("e") && !a.allowed("d"));
        // An allowed failure is not also a departure; a departure is counted apart.
        assert!(!b.departs("d") && !b.departs("e") && b.departs("f"));
        let md = side_by_side(&[a, b], &[]);
        assert!(md.contains("| linux | 0 | 0 | 1 | 1 | 1 | 0 |"), "{md}");
        assert!(md.contains("| d | pass | allowed |"), "{md}");
        assert!(md.contains("| e | pass | FAIL |"), "{md}");
        assert!(md.contains("  - linux: allowed: line 4: early"), "{md}");
        assert!(
            md.contains("  - departs from the RFC: linux: RFC says MUST"),
            "{md}"
        );
    }

    #[test]
    fn expected_files_read_back() {
        let run = StackRun {
            stack: "x".into(),
            scripts: vec![
                ("a/b".into(), Outcome::Pass),
                ("a/w".into(), Outcome::WindowOnly("line 2: win".into())),
                ("a/c".into(), Outcome::Fail("line 3: sent nothing".into())),
                ("d".into(), Outcome::NotApplicable("no urgent call".into())),
            ],
            allows: Default::default(),
            departs: Default::default(),
        };
        let text = run.to_string();
        assert!(text
            .starts_with("# x: 1 pass, 1 pass but for windows, 1 fail, 1 not applicable (of 4)\n"));
        assert_eq!(parse_expected("x", &text).unwrap(), run);
        assert!(parse_expected("x", "a\tmaybe\n").is_err());
    }
}
