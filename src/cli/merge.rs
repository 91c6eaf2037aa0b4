//! `sansnet merge`.

use sansnet::merge::{self, MergeError};

use super::args::MergeArgs;
use super::CliError;

pub fn merge(a: MergeArgs) -> Result<(), CliError> {
    let summaries = merge::load_all(&a.paths).map_err(CliError::Usage)?;
    let merged = merge::merge(&summaries, a.allow_incomplete).map_err(|e| match e {
        MergeError::Empty => CliError::Usage(format!(
            "no sweep summaries in {} (write them with sweep --summary FILE)",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        other => CliError::Usage(other.to_string()),
    })?;
    let mut merged = merged;
    if let Some(budget) = a.shrink {
        merge::regroup_by_shrinking(&mut merged, budget);
    }
    print!("{}", merged.text());
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&merged)
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &a.junit {
        std::fs::write(path, merged.junit())
            .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    }
    if merged.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} of {} runs failed",
            merged.failures.len(),
            merged.runs
        )))
    }
}
