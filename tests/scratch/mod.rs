//! A test's own directory under the system's temporary directory, removed when the test
//! passes and kept when it fails (its path is in the failure's message), so that a run of
//! the suite leaves nothing behind but the evidence of what failed.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A fresh, empty directory named after the test's binary, the process and `name`.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `<tmp>/sansnet-<suite>-<pid>-<name>`, empty (a leftover of an earlier process
    /// with the same id is removed first).
    pub fn new(suite: &str, name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("sansnet-{suite}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
