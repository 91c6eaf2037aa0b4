//! The conformance report: every requirement of the manifest (`requirements.toml`) with
//! pass, fail, not applicable (and why) or uncovered, and the state x segment matrix with
//! the number of passing scripts per cell.
//!
//! Which scripts cover a requirement is read from the scripts' headers, never listed by
//! hand: the manifest only names requirements, describes them, and gives the reason for
//! the ones that cannot apply.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sansnet_stack::tcp::State;

use crate::runner::StackUnderTest;
use crate::script::{SegmentKind, ALL_STATES};
use crate::{find_scripts, judge, load, script_name, Verdict};

/// One requirement of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `MUST-10`, `RFC5961-3.2` ...
    pub id: String,
    /// Where it is (`9293 3.5`).
    pub section: String,
    /// What it says, paraphrased.
    pub text: String,
    /// Why it cannot be checked by a script, if so.
    pub na: Option<String>,
}

/// Reads `requirements.toml`: an array `[[requirement]]` of `id`, `section`, `text` and
/// optionally `na`.
pub fn load_manifest(path: &Path) -> Result<Vec<Requirement>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_manifest(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the manifest's text.
pub fn parse_manifest(text: &str) -> Result<Vec<Requirement>, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
    let Some(toml::Value::Array(items)) = table.get("requirement") else {
        return Err("no [[requirement]] entries".into());
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let get = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let id = get("id").ok_or_else(|| format!("requirement #{} has no id", i + 1))?;
        out.push(Requirement {
            section: get("section").unwrap_or_default(),
            text: get("text").ok_or_else(|| format!("{id} has no text"))?,
            na: get("na"),
            id,
        });
    }
    Ok(out)
}

/// A script and what became of it.
#[derive(Debug, Clone)]
pub struct ScriptResult {
    /// Its name.
    pub name: String,
    /// The requirements it names.
    pub requirements: Vec<String>,
    /// The matrix cells it exercises.
    pub matrix: Vec<(State, SegmentKind)>,
    /// Its verdict.
    pub verdict: Verdict,
}

/// A requirement's status in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStatus {
    /// Every covering script passes.
    Pass,
    /// At least one covering script fails (known failures included).
    Fail,
    /// Not applicable, with the reason.
    NotApplicable(String),
    /// No script covers it and the manifest gives no reason.
    Uncovered,
}

/// One row of the requirement table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The requirement.
    pub requirement: Requirement,
    /// Its status.
    pub status: RowStatus,
    /// The scripts that cover it.
    pub scripts: Vec<String>,
    /// Known-failure notes and failure messages of its failing scripts.
    pub notes: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which runner ran the scripts.
    pub runner: String,
    /// Every script.
    pub scripts: Vec<ScriptResult>,
    /// The requirement table, in manifest order.
    pub rows: Vec<Row>,
    /// IDs that scripts name but the manifest lacks, with the script.
    pub unknown_ids: Vec<(String, String)>,
    /// Passing scripts per matrix cell, and whether a script in the cell fails.
    pub matrix: BTreeMap<(State, SegmentKind), (usize, bool)>,
    /// Scripts that ran on the engine runner instead (`# stacks: engine`).
    pub on_engine: Vec<String>,
}

/// Runs every script under `dir/scripts` on the default runner (the host) and builds the
/// report against `dir/requirements.toml`. Scripts marked `# stacks: engine` (they need what
/// the host's socket API does not offer) run on the engine runner, and the report says so.
pub fn run_all(dir: &Path) -> Result<Report, String> {
    run_scripts::<crate::DefaultStack>(dir, true)
}

/// What a runner is, for the report's first line.
pub fn describe_runner(name: &str) -> &'static str {
    match name {
        "host" => "drives one sansnet host through its real frame interface",
        "engine" => "drives one bare sansnet TCP connection (tcp::Connection)",
        _ => "drives a TCP implementation under test",
    }
}

/// [`run_all`] on the bare engine runner.
pub fn run_all_engine(dir: &Path) -> Result<Report, String> {
    run_all_with::<crate::engine::EngineUnderTest>(dir)
}

/// [`run_all`] on a chosen stack only.
pub fn run_all_with<S: StackUnderTest>(dir: &Path) -> Result<Report, String> {
    run_scripts::<S>(dir, false)
}

fn run_scripts<S: StackUnderTest>(dir: &Path, engine_fallback: bool) -> Result<Report, String> {
    let manifest = load_manifest(&dir.join("requirements.toml"))?;
    let root = dir.join("scripts");
    let mut scripts = Vec::new();
    let mut runner = String::new();
    let mut on_engine = Vec::new();
    for path in find_scripts(&root) {
        let name = script_name(&root, &path);
        match load(&root, &path) {
            Ok(script) => {
                let mut this = String::new();
                if let Ok(s) = S::start(
                    sansnet_stack::time::Instant::ZERO,
                    script.header.setup,
                    &script.header.config,
                ) {
                    this = s.name().to_string();
                }
                if runner.is_empty() {
                    runner.clone_from(&this);
                }
                let stacks = &script.header.stacks;
                let verdict = if engine_fallback
                    && this != "engine"
                    && !stacks.is_empty()
                    && !stacks.contains(&this)
                    && stacks.iter().any(|s| s == "engine")
                {
                    on_engine.push(name.clone());
                    judge::<crate::engine::EngineUnderTest>(&script)
                } else {
                    judge::<S>(&script)
                };
                scripts.push(ScriptResult {
                    name,
                    requirements: script.header.requirements.clone(),
                    matrix: script.header.matrix.clone(),
                    verdict,
                });
            }
            Err(e) => scripts.push(ScriptResult {
                name,
                requirements: Vec::new(),
                matrix: Vec::new(),
                verdict: Verdict::Invalid(e),
            }),
        }
    }
    let mut report = build_report(runner, manifest, scripts);
    report.on_engine = on_engine;
    Ok(report)
}

fn passed(v: &Verdict) -> bool {
    matches!(v, Verdict::Pass)
}

fn failed(v: &Verdict) -> bool {
    matches!(
        v,
        Verdict::Fail(_)
            | Verdict::KnownFailure(..)
            | Verdict::UnexpectedPass(_)
            | Verdict::Invalid(_)
    )
}

fn note(s: &ScriptResult) -> Option<String> {
    match &s.verdict {
        Verdict::Fail(f) => Some(format!("{}: FAIL: {}", s.name, f.message)),
        Verdict::KnownFailure(n, _) => Some(format!("{}: known failure: {n}", s.name)),
        Verdict::UnexpectedPass(n) => {
            Some(format!("{}: marked known failure ({n}) but passes", s.name))
        }
        Verdict::Invalid(e) => Some(format!("{}: invalid: {e}", s.name)),
        _ => None,
    }
}

/// Builds the report from results.
pub fn build_report(
    runner: String,
    manifest: Vec<Requirement>,
    scripts: Vec<ScriptResult>,
) -> Report {
    let mut rows = Vec::new();
    for req in &manifest {
        let covering: Vec<&ScriptResult> = scripts
            .iter()
            .filter(|s| s.requirements.contains(&req.id))
            .filter(|s| !matches!(s.verdict, Verdict::Skipped(_)))
            .collect();
        let notes: Vec<String> = covering.iter().filter_map(|s| note(s)).collect();
        let status = if covering.iter().any(|s| failed(&s.verdict)) {
            RowStatus::Fail
        } else if covering.iter().any(|s| passed(&s.verdict)) {
            RowStatus::Pass
        } else if let Some(na) = &req.na {
            RowStatus::NotApplicable(na.clone())
        } else {
            RowStatus::Uncovered
        };
        rows.push(Row {
            requirement: req.clone(),
            status,
            scripts: covering.iter().map(|s| s.name.clone()).collect(),
            notes,
        });
    }
    let mut unknown_ids = Vec::new();
    for s in &scripts {
        for r in &s.requirements {
            if !manifest.iter().any(|m| m.id == *r) {
                unknown_ids.push((s.name.clone(), r.clone()));
            }
        }
    }
    let mut matrix = BTreeMap::new();
    for st in ALL_STATES {
        for k in SegmentKind::ALL {
            matrix.insert((st, k), (0usize, false));
        }
    }
    for s in &scripts {
        for cell in &s.matrix {
            let e = matrix.entry(*cell).or_insert((0, false));
            if passed(&s.verdict) {
                e.0 += 1;
            } else if failed(&s.verdict) {
                e.1 = true;
            }
        }
    }
    Report {
        runner,
        scripts,
        rows,
        unknown_ids,
        matrix,
        on_engine: Vec::new(),
    }
}

impl Report {
    /// Counts of (pass, fail, n/a, uncovered) rows.
    pub fn row_counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for r in &self.rows {
            match r.status {
                RowStatus::Pass => c.0 += 1,
                RowStatus::Fail => c.1 += 1,
                RowStatus::NotApplicable(_) => c.2 += 1,
                RowStatus::Uncovered => c.3 += 1,
            }
        }
        c
    }

    /// Counts of scripts: (pass, fail, known failures, skipped).
    pub fn script_counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for s in &self.scripts {
            match s.verdict {
                Verdict::Pass => c.0 += 1,
                Verdict::Fail(_) | Verdict::UnexpectedPass(_) | Verdict::Invalid(_) => c.1 += 1,
                Verdict::KnownFailure(..) => c.2 += 1,
                Verdict::Skipped(_) => c.3 += 1,
            }
        }
        c
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sp, sf, sk, ss) = self.script_counts();
        writeln!(
            f,
            "sansnet TCP conformance ({} runner): {} scripts, {sp} pass, {sf} fail, {sk} known failures, {ss} skipped",
            self.runner,
            self.scripts.len()
        )?;
        writeln!(
            f,
            "the {} runner {}",
            self.runner,
            describe_runner(&self.runner)
        )?;
        if !self.on_engine.is_empty() {
            writeln!(
                f,
                "{} scripts marked `stacks: engine` ran on the engine runner: {}",
                self.on_engine.len(),
                self.on_engine.join(", ")
            )?;
        }
        writeln!(f)?;
        writeln!(f, "Requirements")?;
        writeln!(
            f,
            "{:<16} {:<9} {:>7}  {:<12} description",
            "id", "status", "scripts", "section"
        )?;
        for r in &self.rows {
            let status = match &r.status {
                RowStatus::Pass => "pass",
                RowStatus::Fail => "FAIL",
                RowStatus::NotApplicable(_) => "n/a",
                RowStatus::Uncovered => "uncovered",
            };
            writeln!(
                f,
                "{:<16} {:<9} {:>7}  {:<12} {}",
                r.requirement.id,
                status,
                r.scripts.len(),
                r.requirement.section,
                r.requirement.text
            )?;
            if let RowStatus::NotApplicable(why) = &r.status {
                writeln!(f, "{:<16} {:<9} {:>7}  {:<12} n/a: {why}", "", "", "", "")?;
            }
            for n in &r.notes {
                writeln!(f, "{:<16} {:<9} {:>7}  {:<12} {n}", "", "", "", "")?;
            }
        }
        let (p, fl, na, un) = self.row_counts();
        writeln!(
            f,
            "requirements: {} total, {p} pass, {fl} fail, {na} not applicable, {un} uncovered",
            self.rows.len()
        )?;
        if !self.unknown_ids.is_empty() {
            writeln!(f, "IDs named by scripts but missing from the manifest:")?;
            for (s, id) in &self.unknown_ids {
                writeln!(f, "  {s}: {id}")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "State x segment matrix (RFC 9293 3.10.7): passing scripts per cell, `!` if a script in the cell fails"
        )?;
        write!(f, "{:<14}", "")?;
        for k in SegmentKind::ALL {
            write!(f, "{:>9}", k.name())?;
        }
        writeln!(f)?;
        let mut covered = 0;
        for st in ALL_STATES {
            write!(f, "{:<14}", st.rfc_name())?;
            for k in SegmentKind::ALL {
                let (n, bad) = self.matrix.get(&(st, k)).copied().unwrap_or((0, false));
                if n > 0 {
                    covered += 1;
                }
                let cell = format!("{n}{}", if bad { "!" } else { "" });
                write!(f, "{cell:>9}")?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "cells with a passing script: {covered} of {}",
            ALL_STATES.len() * 8
        )?;
        let failing: Vec<&ScriptResult> =
            self.scripts.iter().filter(|s| failed(&s.verdict)).collect();
        if !failing.is_empty() {
            writeln!(f)?;
            writeln!(f, "Failing scripts")?;
            for s in failing {
                if let Some(n) = note(s) {
                    writeln!(f, "  {n}")?;
                }
            }
        }
        Ok(())
    }
}
