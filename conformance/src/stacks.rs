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
use crate::{find_scripts, judge, judge_with, load, script_name, Verdict};

/// What became of one script on one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
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
            Outcome::Fail(_) => "FAIL",
            Outcome::NotApplicable(_) => "n/a",
        }
    }

    /// The reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail(r) | Outcome::NotApplicable(r) => Some(r),
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
}

impl StackRun {
    /// (pass, fail, not applicable) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for (_, o) in &self.scripts {
            match o {
                Outcome::Pass => c.0 += 1,
                Outcome::Fail(_) => c.1 += 1,
                Outcome::NotApplicable(_) => c.2 += 1,
            }
        }
        c
    }

    /// The outcome of a script, by name.
    pub fn get(&self, name: &str) -> Option<&Outcome> {
        self.scripts.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }
}

/// The expected-file form: a header line, then one line per script, `name<TAB>word` and
/// `<TAB>reason` when there is one.
impl fmt::Display for StackRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, x, n) = self.counts();
        writeln!(
            f,
            "# {}: {p} pass, {x} fail, {n} not applicable (of {})",
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
    let paths = find_scripts(scripts_dir);
    let jobs = jobs.clamp(1, 64);
    let mut results: Vec<Option<(String, Outcome)>> = vec![None; paths.len()];
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let name = script_name(scripts_dir, path);
                let outcome = match load(scripts_dir, path) {
                    Ok(script) => judge_script::<S>(&script),
                    Err(e) => Outcome::Fail(one_line(&format!("invalid script: {e}"))),
                };
                if let Ok(mut r) = out.lock() {
                    r[i] = Some((name, outcome));
                }
            });
        }
    });
    StackRun {
        stack: stack.to_string(),
        scripts: results.into_iter().flatten().collect(),
    }
}

/// A script's outcome on stack `S`. A failure is judged a second time with windows left
/// out ([`Judging::ignore_window`]): a script that then passes fails on windows only, and
/// says so; one that fails further on names that failure, the script's real subject.
pub fn judge_script<S: StackUnderTest>(script: &Script) -> Outcome {
    let strict = Outcome::from_verdict(&judge::<S>(script));
    let Outcome::Fail(reason) = &strict else {
        return strict;
    };
    let relaxed = judge_with::<S>(
        script,
        Judging {
            ignore_window: true,
        },
    );
    match Outcome::from_verdict(&relaxed) {
        Outcome::Pass => Outcome::Fail(format!("window only: {reason}")),
        Outcome::Fail(r) if r != *reason => {
            let line = reason.split(':').next().unwrap_or("");
            Outcome::Fail(format!("{r} (a window differs before, {line})"))
        }
        _ => strict,
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
            "FAIL" => Outcome::Fail(reason),
            "n/a" => Outcome::NotApplicable(reason),
            w => return Err(format!("line {}: unknown outcome `{w}`", i + 1)),
        };
        scripts.push((name.to_string(), o));
    }
    Ok(StackRun {
        stack: stack.to_string(),
        scripts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn expected_files_read_back() {
        let run = StackRun {
            stack: "x".into(),
            scripts: vec![
                ("a/b".into(), Outcome::Pass),
                ("a/c".into(), Outcome::Fail("line 3: sent nothing".into())),
                ("d".into(), Outcome::NotApplicable("no urgent call".into())),
            ],
        };
        let text = run.to_string();
        assert!(text.starts_with("# x: 1 pass, 1 fail, 1 not applicable (of 3)\n"));
        assert_eq!(parse_expected("x", &text).unwrap(), run);
        assert!(parse_expected("x", "a\tmaybe\n").is_err());
    }
}
