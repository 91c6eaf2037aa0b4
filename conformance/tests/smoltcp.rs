//! The whole suite on smoltcp 0.14, compared script by script with the committed outcomes
//! (`conformance/stacks/smoltcp.expected`): a script that starts or stops passing on
//! smoltcp, or fails for another reason, fails this test, as a changed matrix fails CI.
//! After a deliberate change (a script edited, smoltcp upgraded), write the file again with
//! `SANSNET_BLESS=1 cargo test -p sansnet-conformance --test smoltcp` and review its diff.
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
    // Compared as text, one script a line, so that the diff names the scripts.
    assert_eq!(
        expected.to_string(),
        run.to_string(),
        "smoltcp's outcomes changed; if on purpose, run with SANSNET_BLESS=1 and review"
    );
}
