//! One sweep, many machines: what a shard writes (`sweep --summary`, [`SweepSummary`]) and
//! how shards become one report again ([`merge`]).
//!
//! A sweep cut with `--shard K/N` runs the seeds whose index is K modulo N; run every K of
//! one N, with the same options and the same build, and the shards together ran exactly the
//! whole sweep. [`merge`] checks exactly that (one build, one set of options, every shard
//! once, none cut short) before it adds the totals up, and groups the failures by a
//! signature (scenario, failure kind, and the failure's text with its numbers blanked), so
//! a bug that fails a thousand seeds reads as one line with a count and its first seed.
//! Nothing here schedules anything: batch engines (Kubernetes Indexed Jobs, CI matrices,
//! Slurm arrays) run the shards; `deploy/` has one of each.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::explore::{self, ScenarioTotals, StoppedEarly, SweepReport};
use crate::scenario::{FailureKind, RunSpec};

/// The summary format's version; [`merge`] refuses others.
pub const FORMAT: u32 = 1;

/// What must be the same in every shard of one sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepIdentity {
    /// sansnet's version.
    pub version: String,
    /// The git commit of the build.
    pub git_commit: String,
    /// Cargo features that change what runs (`planted-bugs`).
    pub features: Vec<String>,
    /// Scenarios, in the order each seed runs them.
    pub scenarios: Vec<String>,
    /// First seed.
    pub start: u64,
    /// Seeds before sharding (`u64::MAX`: bounded by a time budget only).
    pub count: u64,
    /// `--topology` as given.
    pub topology: String,
    /// `--profile`, if any.
    pub profile: Option<String>,
    /// `--size`.
    pub size: String,
    /// `--workload`, if any.
    pub workload: Option<String>,
    /// `--plant`, if any.
    pub plant: Option<String>,
    /// `--determinism-every`.
    pub determinism_every: u64,
    /// Shards the sweep was cut into (N of `--shard K/N`).
    pub shards: u64,
}

/// One failure, as a summary records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryFailure {
    /// The run.
    pub spec: RunSpec,
    /// Which invariant broke.
    pub kind: FailureKind,
    /// What was seen.
    pub detail: String,
    /// The replay file, relative to the summary's directory when it is below it.
    pub replay_file: Option<PathBuf>,
}

impl SummaryFailure {
    /// What failures of one bug have in common: scenario, kind, and the first line of the
    /// detail with every run of digits replaced by `#` (seeds, times and sequence numbers
    /// differ between the runs one bug fails; the words do not).
    pub fn signature(&self) -> String {
        let first = self.detail.lines().next().unwrap_or_default();
        let mut blanked = String::with_capacity(first.len());
        let mut in_digits = false;
        for c in first.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    blanked.push('#');
                }
                in_digits = true;
            } else {
                in_digits = false;
                blanked.push(c);
            }
        }
        format!("{} {:?}: {blanked}", self.spec.scenario, self.kind)
    }
}

/// What one shard (or a whole sweep) ran and found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// [`FORMAT`].
    pub format: u32,
    /// What every shard of the sweep shares.
    pub sweep: SweepIdentity,
    /// Which shard this is (K of `--shard K/N`).
    pub shard: u64,
    /// Why it stopped before its last seed, if it did (`time budget`, `max failures`,
    /// `interrupted`).
    pub stopped_early: Option<String>,
    /// Runs done.
    pub runs: u64,
    /// Wall-clock seconds.
    pub wall_secs: f64,
    /// Totals per scenario.
    pub totals: BTreeMap<String, Totals>,
    /// Every failure, in seed order.
    pub failures: Vec<SummaryFailure>,
}

/// [`ScenarioTotals`], as data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Runs.
    pub runs: u64,
    /// Failed runs.
    pub failures: u64,
    /// Sum of simulated milliseconds.
    pub sim_ms: u64,
    /// Sum of steps.
    pub steps: u64,
}

impl From<&ScenarioTotals> for Totals {
    fn from(t: &ScenarioTotals) -> Totals {
        Totals {
            runs: t.runs,
            failures: t.failures,
            sim_ms: t.sim_ms,
            steps: t.steps,
        }
    }
}

impl SweepSummary {
    /// The summary of `report`, a sweep run with `sweep` as shard `shard`; replay files are
    /// recorded relative to `dir` (where the summary goes) when they are below it.
    pub fn new(sweep: SweepIdentity, shard: u64, report: &SweepReport, dir: &Path) -> Self {
        SweepSummary {
            format: FORMAT,
            sweep,
            shard,
            stopped_early: report.stopped_early.map(|s| {
                match s {
                    StoppedEarly::TimeBudget => "time budget",
                    StoppedEarly::MaxFailures => "max failures",
                    StoppedEarly::Interrupted => "interrupted",
                }
                .to_owned()
            }),
            runs: report.runs,
            wall_secs: report.wall_secs,
            totals: report
                .totals
                .iter()
                .map(|(k, v)| (k.clone(), Totals::from(v)))
                .collect(),
            failures: report
                .failures
                .iter()
                .map(|f| SummaryFailure {
                    spec: f.spec.clone(),
                    kind: f.failure.kind,
                    detail: f.failure.detail.clone(),
                    replay_file: f.replay_file.as_ref().map(|p| {
                        p.strip_prefix(dir)
                            .map_or_else(|_| p.clone(), Path::to_owned)
                    }),
                })
                .collect(),
        }
    }

    /// Reads a summary file.
    pub fn load(path: &Path) -> Result<SweepSummary, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary: SweepSummary = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a sweep summary: {e}", path.display()))?;
        if summary.format != FORMAT {
            return Err(format!(
                "{}: summary format {} (this build reads {FORMAT})",
                path.display(),
                summary.format
            ));
        }
        Ok(summary)
    }

    /// Writes it, pretty-printed.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Failures that share a [`SummaryFailure::signature`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    /// The signature.
    pub signature: String,
    /// How many runs failed this way.
    pub count: u64,
    /// The first of them (lowest seed), with its replay file made relative to the merge's
    /// working directory.
    pub first: SummaryFailure,
}

/// Shards merged back into one sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// The sweep.
    pub sweep: SweepIdentity,
    /// Runs in all shards.
    pub runs: u64,
    /// Wall-clock seconds of the longest shard (shards run side by side).
    pub wall_secs: f64,
    /// Totals per scenario, summed.
    pub totals: BTreeMap<String, Totals>,
    /// Shards that stopped before their last seed (merged with `allow_incomplete`).
    pub incomplete_shards: Vec<u64>,
    /// Every failure, by seed then scenario.
    pub failures: Vec<SummaryFailure>,
    /// The failures grouped by signature, most frequent first.
    pub groups: Vec<FailureGroup>,
}

/// Why shards could not be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// Nothing to merge.
    Empty,
    /// Two shards differ in what must be the same.
    Mismatch {
        /// Which field.
        field: &'static str,
        /// One shard's file and value.
        a: (PathBuf, String),
        /// The other's.
        b: (PathBuf, String),
    },
    /// A shard number appears twice.
    Duplicate {
        /// The shard.
        shard: u64,
        /// Both files.
        files: (PathBuf, PathBuf),
    },
    /// Shards of the sweep are missing.
    Missing {
        /// Which (K of K/N).
        shards: Vec<u64>,
        /// N.
        of: u64,
    },
    /// Shards stopped before their last seed (a time budget, `--max-failures`, an
    /// interrupt): the seed range is not covered.
    Incomplete {
        /// Which, and why.
        shards: Vec<(u64, String)>,
    },
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::Empty => f.write_str("no sweep summaries to merge"),
            MergeError::Mismatch { field, a, b } => write!(
                f,
                "these summaries are not shards of one sweep: {field} is {} in {} but {} in {}",
                a.1,
                a.0.display(),
                b.1,
                b.0.display()
            ),
            MergeError::Duplicate { shard, files } => write!(
                f,
                "shard {shard} appears twice: {} and {}",
                files.0.display(),
                files.1.display()
            ),
            MergeError::Missing { shards, of } => {
                let list: Vec<String> = shards.iter().map(|k| format!("{k}/{of}")).collect();
                write!(
                    f,
                    "{} of {of} shards missing: {} (the seed range is not covered)",
                    shards.len(),
                    list.join(", ")
                )
            }
            MergeError::Incomplete { shards } => {
                let list: Vec<String> = shards
                    .iter()
                    .map(|(k, why)| format!("{k} ({why})"))
                    .collect();
                write!(
                    f,
                    "shards stopped before their last seed: {}; merge with --allow-incomplete \
                     to add up what they ran",
                    list.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// Shrinks the first failure of each group (for at most `budget` each) and merges groups
/// whose minimal runs agree: same scenario, same failure kind, same fault kinds left (a
/// bug that shows under loss and under a partition is one bug if loss alone is enough for
/// both). Each group's signature becomes `... after shrinking: <faults>`.
pub fn regroup_by_shrinking(merged: &mut Merged, budget: std::time::Duration) {
    let mut by_shrunk: Vec<FailureGroup> = Vec::new();
    for g in std::mem::take(&mut merged.groups) {
        let report = explore::shrink(&g.first.spec, g.first.kind, budget);
        let faults: Vec<&str> = explore::fault_kinds(&report.spec.plan)
            .into_iter()
            .collect();
        let signature = format!(
            "{} {:?} after shrinking: {}",
            g.first.spec.scenario,
            g.first.kind,
            if faults.is_empty() {
                "no faults".to_owned()
            } else {
                faults.join(", ")
            }
        );
        match by_shrunk.iter_mut().find(|s| s.signature == signature) {
            Some(s) => {
                s.count += g.count;
                if g.first.spec.seed < s.first.spec.seed {
                    s.first = g.first;
                }
            }
            None => by_shrunk.push(FailureGroup {
                signature,
                count: g.count,
                first: g.first,
            }),
        }
    }
    by_shrunk.sort_by(|a, b| b.count.cmp(&a.count).then(a.signature.cmp(&b.signature)));
    merged.groups = by_shrunk;
}

/// Merges shard summaries (each with the file it came from). `allow_incomplete` accepts
/// shards that stopped early (time budgets); missing or duplicate shards are always errors.
pub fn merge(
    summaries: &[(PathBuf, SweepSummary)],
    allow_incomplete: bool,
) -> Result<Merged, MergeError> {
    let (first_path, first) = summaries.first().ok_or(MergeError::Empty)?;
    for (path, s) in &summaries[1..] {
        if let Some((field, a, b)) = first_difference(&first.sweep, &s.sweep) {
            return Err(MergeError::Mismatch {
                field,
                a: (first_path.clone(), a),
                b: (path.clone(), b),
            });
        }
    }
    let n = first.sweep.shards.max(1);
    let mut by_shard: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for (path, s) in summaries {
        if let Some(other) = by_shard.insert(s.shard, path) {
            return Err(MergeError::Duplicate {
                shard: s.shard,
                files: (other.clone(), path.clone()),
            });
        }
    }
    let missing: Vec<u64> = (0..n).filter(|k| !by_shard.contains_key(k)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            shards: missing,
            of: n,
        });
    }
    let incomplete: Vec<(u64, String)> = summaries
        .iter()
        .filter_map(|(_, s)| s.stopped_early.clone().map(|why| (s.shard, why)))
        .collect();
    if !incomplete.is_empty() && !allow_incomplete {
        return Err(MergeError::Incomplete { shards: incomplete });
    }
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut runs, mut wall_secs) = (0u64, 0f64);
    for (path, s) in summaries {
        runs += s.runs;
        wall_secs = wall_secs.max(s.wall_secs);
        for (name, t) in &s.totals {
            let sum = totals.entry(name.clone()).or_default();
            sum.runs += t.runs;
            sum.failures += t.failures;
            sum.sim_ms += t.sim_ms;
            sum.steps += t.steps;
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        for f in &s.failures {
            let mut f = f.clone();
            f.replay_file = f
                .replay_file
                .map(|r| if r.is_absolute() { r } else { dir.join(r) });
            failures.push(f);
        }
    }
    let order = |f: &SummaryFailure| (f.spec.seed, f.spec.scenario.clone());
    failures.sort_by_key(order);
    let mut groups: Vec<FailureGroup> = Vec::new();
    for f in &failures {
        let signature = f.signature();
        match groups.iter_mut().find(|g| g.signature == signature) {
            Some(g) => g.count += 1,
            None => groups.push(FailureGroup {
                signature,
                count: 1,
                first: f.clone(),
            }),
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.signature.cmp(&b.signature)));
    Ok(Merged {
        sweep: first.sweep.clone(),
        runs,
        wall_secs,
        totals,
        incomplete_shards: incomplete.into_iter().map(|(k, _)| k).collect(),
        failures,
        groups,
    })
}

/// The first field in which two shards' identities differ, with both values.
fn first_difference(
    a: &SweepIdentity,
    b: &SweepIdentity,
) -> Option<(&'static str, String, String)> {
    let fields: [(&'static str, String, String); 13] = [
        ("the sansnet version", a.version.clone(), b.version.clone()),
        ("the git commit", a.git_commit.clone(), b.git_commit.clone()),
        ("the features", a.features.join(","), b.features.join(",")),
        ("--scenario", a.scenarios.join(","), b.scenarios.join(",")),
        ("--start", a.start.to_string(), b.start.to_string()),
        ("--seeds", a.count.to_string(), b.count.to_string()),
        ("--topology", a.topology.clone(), b.topology.clone()),
        (
            "--profile",
            format!("{:?}", a.profile),
            format!("{:?}", b.profile),
        ),
        ("--size", a.size.clone(), b.size.clone()),
        (
            "--workload",
            format!("{:?}", a.workload),
            format!("{:?}", b.workload),
        ),
        (
            "--plant",
            format!("{:?}", a.plant),
            format!("{:?}", b.plant),
        ),
        (
            "--determinism-every",
            a.determinism_every.to_string(),
            b.determinism_every.to_string(),
        ),
        (
            "N of --shard K/N",
            a.shards.to_string(),
            b.shards.to_string(),
        ),
    ];
    fields.into_iter().find(|(_, x, y)| x != y)
}

impl Merged {
    /// The same table a single sweep prints, then the failure groups.
    pub fn text(&self) -> String {
        let report = SweepReport {
            failures: Vec::new(),
            totals: self
                .totals
                .iter()
                .map(|(k, t)| {
                    (
                        k.clone(),
                        ScenarioTotals {
                            runs: t.runs,
                            failures: t.failures,
                            sim_ms: t.sim_ms,
                            steps: t.steps,
                        },
                    )
                })
                .collect(),
            wall_secs: self.wall_secs,
            runs: self.runs,
            stopped_early: None,
        };
        let mut s = report.table();
        // The table's last line counts `failures`, which the report above leaves empty.
        if let Some(i) = s.trim_end().rfind('\n') {
            s.truncate(i + 1);
        }
        let rate = self.runs as f64 / self.wall_secs.max(1e-9);
        let _ = writeln!(
            s,
            "{} runs in {} shards, the longest {:.1} s ({:.0} runs/s together), {} failed",
            self.runs,
            self.sweep.shards,
            self.wall_secs,
            rate,
            self.failures.len()
        );
        if !self.incomplete_shards.is_empty() {
            let _ = writeln!(
                s,
                "incomplete: shards {:?} stopped before their last seed",
                self.incomplete_shards
            );
        }
        for g in &self.groups {
            let _ = writeln!(
                s,
                "FAIL x{} {}\n     first: {}{}",
                g.count,
                g.signature,
                explore::one_line(&g.first.spec),
                g.first
                    .replay_file
                    .as_ref()
                    .map(|p| format!(
                        "\n     replay: {}",
                        explore::replay_command_with(&p.display().to_string())
                    ))
                    .unwrap_or_default()
            );
        }
        s
    }

    /// JUnit XML: one test suite, one test case per scenario, failing with each signature
    /// of that scenario's failures (CI systems show these).
    pub fn junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let failed_cases = self.totals.values().filter(|t| t.failures > 0).count();
        let _ = writeln!(
            s,
            "<testsuites name=\"sansnet sweep\" tests=\"{}\" failures=\"{failed_cases}\" time=\"{:.3}\">",
            self.totals.len(),
            self.wall_secs
        );
        let _ = writeln!(
            s,
            "  <testsuite name=\"sansnet sweep\" tests=\"{}\" failures=\"{failed_cases}\" time=\"{:.3}\">",
            self.totals.len(),
            self.wall_secs
        );
        for (name, t) in &self.totals {
            let _ = write!(
                s,
                "    <testcase classname=\"sansnet.sweep\" name=\"{}\">",
                xml(&format!("{name} ({} runs)", t.runs))
            );
            let groups: Vec<&FailureGroup> = self
                .groups
                .iter()
                .filter(|g| &g.first.spec.scenario == name)
                .collect();
            if groups.is_empty() {
                s.push_str("</testcase>\n");
                continue;
            }
            s.push('\n');
            for g in groups {
                let _ = writeln!(
                    s,
                    "      <failure type=\"{:?}\" message=\"{}\">{}</failure>",
                    g.first.kind,
                    xml(&format!("{} runs: {}", g.count, g.signature)),
                    xml(&format!(
                        "first: {}\n{}",
                        explore::one_line(&g.first.spec),
                        g.first.detail
                    ))
                );
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n</testsuites>\n");
        s
    }
}

/// Text escaped for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// The summary files `paths` name: files as they are, directories searched (one level
/// deep and below) for `*.json` files that are sweep summaries. Other JSON files in a
/// directory (replay files) are skipped; a named file that is not a summary is an error.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, SweepSummary)>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            collect_json(p, &mut found)?;
            found.sort();
            for f in found {
                if let Ok(s) = SweepSummary::load(&f) {
                    out.push((f, s));
                }
            }
        } else {
            out.push((p.clone(), SweepSummary::load(p)?));
        }
    }
    Ok(out)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn signatures_blank_numbers_and_keep_words() {
        let sc = crate::scenario::lookup("bulk").unwrap();
        let spec = explore::draw(sc.as_ref(), 1, &explore::DrawOptions::default());
        let f = |detail: &str| SummaryFailure {
            spec: spec.clone(),
            kind: FailureKind::Integrity,
            detail: detail.to_owned(),
            replay_file: None,
        };
        assert_eq!(
            f("byte 1234 of stream 7 differs\nmore").signature(),
            "bulk Integrity: byte # of stream # differs"
        );
        assert_eq!(
            f("byte 99 of stream 3 differs").signature(),
            f("byte 1234 of stream 7 differs").signature()
        );
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
