//! A run's artefacts, with every write checked: `trace.jsonl`, `capture.pcapng`,
//! `capture.pcap`, `log.txt` and, for a failing run, `replay.json`. A directory that cannot
//! be created, a file that cannot be written or a flush that fails (a full disk) is an
//! error, not a file silently missing or cut short.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::explore::{self, ReplayFile};
use crate::scenario::{self, Outcome, RunOptions, RunSpec};

/// The first error of any file of one run's artefacts.
type FirstError = Rc<RefCell<Option<String>>>;

/// A buffered file that records its first error, including the one of its last flush when
/// the simulation drops it.
struct Checked {
    file: Option<BufWriter<File>>,
    path: PathBuf,
    error: FirstError,
}

impl Checked {
    fn create(path: PathBuf, error: &FirstError) -> Result<Checked, String> {
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Checked {
            file: Some(BufWriter::new(file)),
            path,
            error: Rc::clone(error),
        })
    }

    fn note<T>(&self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            self.error
                .borrow_mut()
                .get_or_insert_with(|| format!("{}: {e}", self.path.display()));
        }
        r
    }
}

impl Write for Checked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        };
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        };
        self.note(r)
    }
}

impl Drop for Checked {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let _recorded = self.note(file.into_inner().map_err(|e| e.into_error()));
        }
    }
}

/// Checks that `dir` can be created and written to, before a sweep puts hours into runs
/// whose artefacts would have nowhere to go.
pub fn check_writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(format!(".sansnet-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::remove_file(&probe).map_err(|e| format!("{}: {e}", probe.display()))
}

/// Re-runs `spec` writing `trace.jsonl`, `capture.pcapng`, `capture.pcap`, `log.txt` and,
/// if it fails, `replay.json` into `dir`. Returns the outcome and the replay file's path
/// (`None` when the run passed), or the first error.
pub fn write_artefacts(spec: &RunSpec, dir: &Path) -> Result<(Outcome, Option<PathBuf>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let error: FirstError = Rc::default();
    let open = |name: &str| -> Result<Box<dyn Write>, String> {
        Ok(Box::new(Checked::create(dir.join(name), &error)?))
    };
    let opts = RunOptions {
        trace: Some(open("trace.jsonl")?),
        pcap: Some(open("capture.pcap")?),
        pcapng: Some(open("capture.pcapng")?),
        stop_at: None,
        collect_tables: true,
    };
    let outcome = scenario::run_with(spec, opts);
    {
        let mut log = Checked::create(dir.join("log.txt"), &error)?;
        let _checked_on_drop = write_log(&mut log, spec, &outcome);
    }
    if let Some(e) = error.borrow_mut().take() {
        return Err(e);
    }
    let Err(failure) = &outcome.result else {
        return Ok((outcome, None));
    };
    let replay = dir.join("replay.json");
    ReplayFile {
        spec: spec.clone(),
        failure: failure.clone(),
        trace_hash: outcome.trace_hash.to_string(),
        version: explore::VERSION.to_owned(),
        git_commit: explore::GIT_COMMIT.to_owned(),
    }
    .save(&replay)?;
    Ok((outcome, Some(replay)))
}

fn write_log(log: &mut impl Write, spec: &RunSpec, outcome: &Outcome) -> std::io::Result<()> {
    writeln!(
        log,
        "sansnet {} ({}) {}",
        explore::VERSION,
        explore::GIT_COMMIT,
        explore::one_line(spec)
    )?;
    writeln!(log, "result: {:?}", outcome.result)?;
    writeln!(
        log,
        "trace hash: {}, simulated time: {}, steps: {}",
        outcome.trace_hash, outcome.sim_time, outcome.steps
    )?;
    for t in &outcome.tables {
        writeln!(log, "{t}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_full_disk_is_an_error() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return; // not Linux
        }
        let error: FirstError = Rc::default();
        let mut w = Checked::create(full.to_owned(), &error).unwrap();
        // Buffered: the write succeeds, the flush at the drop does not.
        w.write_all(b"bytes").unwrap();
        drop(w);
        let e = error.borrow().clone().unwrap();
        assert!(e.starts_with("/dev/full: "), "{e}");
    }

    #[test]
    fn a_failing_run_leaves_every_file_and_a_replay_file() {
        let sc = scenario::lookup("churn").unwrap();
        let mut spec = explore::draw(
            sc.as_ref(),
            3,
            &explore::DrawOptions {
                profile: Some("lan".to_owned()),
                planted: None,
                ..Default::default()
            },
        );
        // Fails (no progress within 5 ms), so that replay.json is written too.
        spec.heal_at_ms = 0;
        spec.progress_bound_ms = 5;
        let dir = std::env::temp_dir().join(format!("sansnet-artefacts-{}", std::process::id()));
        let (outcome, replay) = write_artefacts(&spec, &dir).unwrap();
        assert!(outcome.result.is_err());
        assert_eq!(replay, Some(dir.join("replay.json")));
        for name in [
            "trace.jsonl",
            "capture.pcap",
            "capture.pcapng",
            "log.txt",
            "replay.json",
        ] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert!(!bytes.is_empty(), "{name} is empty");
        }
        let saved = ReplayFile::load(&dir.join("replay.json")).unwrap();
        assert_eq!(saved.spec, spec);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
