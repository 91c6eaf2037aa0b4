//! The manifest lists every RFC 9293 Appendix B requirement exactly once, and every ID a
//! script names is in the manifest.

use std::collections::BTreeMap;
use std::path::Path;

use sansnet_conformance::report::load_manifest;
use sansnet_conformance::{find_scripts, load, scripts_dir};

/// The 119 IDs of RFC 9293 Appendix B, as listed in `shared/conformance/checklist.md`.
const APPENDIX_B: [&str; 119] = [
    "MUST-1", "MUST-2", "MUST-3", "MUST-4", "MUST-5", "MUST-6", "MUST-7", "MUST-8", "MUST-9",
    "MUST-10", "MUST-11", "MUST-12", "MUST-13", "MUST-14", "MUST-15", "MUST-16", "MUST-17",
    "MUST-18", "MUST-19", "MUST-20", "MUST-21", "MUST-22", "MUST-23", "MUST-24", "MUST-25",
    "MUST-26", "MUST-27", "MUST-28", "MUST-29", "MUST-30", "MUST-31", "MUST-32", "MUST-33",
    "MUST-34", "MUST-35", "MUST-36", "MUST-37", "MUST-38", "MUST-39", "MUST-40", "MUST-41",
    "MUST-42", "MUST-43", "MUST-44", "MUST-45", "MUST-46", "MUST-47", "MUST-48", "MUST-49",
    "MUST-50", "MUST-51", "MUST-52", "MUST-53", "MUST-54", "MUST-55", "MUST-56", "MUST-57",
    "MUST-58", "MUST-59", "MUST-60", "MUST-61", "MUST-62", "MUST-63", "MUST-64", "MUST-65",
    "MUST-66", "MUST-67", "MUST-68", "MUST-69", "SHLD-1", "SHLD-2", "SHLD-3", "SHLD-4", "SHLD-5",
    "SHLD-6", "SHLD-7", "SHLD-8", "SHLD-9", "SHLD-10", "SHLD-11", "SHLD-12", "SHLD-13", "SHLD-14",
    "SHLD-15", "SHLD-16", "SHLD-17", "SHLD-18", "SHLD-19", "SHLD-20", "SHLD-21", "SHLD-22",
    "SHLD-23", "SHLD-24", "SHLD-25", "SHLD-26", "SHLD-27", "SHLD-28", "SHLD-29", "SHLD-30",
    "SHLD-31", "MAY-1", "MAY-2", "MAY-3", "MAY-4", "MAY-5", "MAY-6", "MAY-7", "MAY-8", "MAY-9",
    "MAY-10", "MAY-11", "MAY-12", "MAY-13", "MAY-14", "MAY-15", "MAY-16", "MAY-17", "MAY-18",
    "REC-1",
];

fn manifest() -> Vec<sansnet_conformance::report::Requirement> {
    load_manifest(&Path::new(env!("CARGO_MANIFEST_DIR")).join("requirements.toml")).unwrap()
}

#[test]
fn every_appendix_b_id_is_listed_exactly_once() {
    let mut count = BTreeMap::<String, usize>::new();
    for r in manifest() {
        *count.entry(r.id).or_default() += 1;
    }
    for (id, n) in &count {
        assert_eq!(*n, 1, "{id} is listed {n} times");
    }
    for id in APPENDIX_B {
        assert!(
            count.contains_key(id),
            "{id} is missing from requirements.toml"
        );
    }
}

#[test]
fn scripts_name_only_known_ids_and_parse() {
    let ids: Vec<String> = manifest().into_iter().map(|r| r.id).collect();
    let root = scripts_dir();
    let mut problems = Vec::new();
    for path in find_scripts(&root) {
        match load(&root, &path) {
            Ok(s) => {
                for r in &s.header.requirements {
                    if !ids.contains(r) {
                        problems.push(format!("{}: unknown requirement {r}", s.name));
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_report_prints_every_requirement() {
    let report =
        sansnet_conformance::report::run_all(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let text = report.to_string();
    for id in APPENDIX_B {
        assert!(text.contains(id), "{id} missing from the report");
    }
}
