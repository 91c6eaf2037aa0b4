//! The whole suite on smoltcp 0.14, compared script by script with the committed outcomes
//! (`conformance/stacks/smoltcp.expected`): a script that starts or stops passing on
//! smoltcp, or fails for another reason, fails this test, as a changed matrix fails CI.
//! After a deliberate change (a script added or changed, smoltcp upgraded), write the file
//! again with `SANSNET_BLESS=1 cargo test -p sansnet-conformance --test smoltcp` and review
//! its diff. Line numbers in the reasons are not compared: a header line added to a script
//! moves them without changing what happens.
#![cfg(feature = "smoltcp")]

use std::path::Path;

use pretty_assertions::assert_eq;
use sansnet_conformance::scripts_dir;
use sansnet_conformance::smoltcp::SmoltcpUnderTest;
use sansnet_conformance::stacks::{parse_expected, run_stack};

#[test]
fn suite_on_smoltcp_matches_the_expected_outcomes() {
    let jobs = std::thread::available_parallelism().map_or(1, usize::from);
    let run = run_stack::<SmoltcpUnderTest>("smoltcp", &scripts_dir(), jobs);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/smoltcp.expected");
    if std::env::var_os("SANSNET_BLESS").is_some() {
        std::fs::write(&path, run.to_string()).expect("write the expected file");
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let expected = parse_expected("smoltcp", &text).expect("the expected file parses");
    // Compared as text, one script a line, so that the diff names the scripts; line
    // numbers are left out (a header line added to a script moves them, not the outcome).
    assert_eq!(
        without_line_numbers(&expected.to_string()),
        without_line_numbers(&run.to_string()),
        "smoltcp's outcomes changed; if on purpose, run with SANSNET_BLESS=1 and review"
    );
}

/// `text` with every `line N` as `line _`.
fn without_line_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("line ") {
        // A word of its own: not the end of "deadline ".
        let word = !rest[..i]
            .chars()
            .next_back()
            .or_else(|| out.chars().next_back())
            .is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if word && digits > 0 {
            out.push('_');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn line_numbers_are_masked() {
    assert_eq!(
        without_line_numbers("a\tFAIL\tline 12: x (from line 3: y); deadline 4"),
        "a\tFAIL\tline _: x (from line _: y); deadline 4"
    );
}
