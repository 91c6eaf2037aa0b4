//! Records the git commit of the build, for replay files.
use std::process::Command;

/// What `git rev-parse <args>` prints, trimmed, if git answers.
fn rev_parse(args: &[&str]) -> Option<String> {
    Command::new("git")
        .arg("rev-parse")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
}

fn main() {
    let commit = rev_parse(&["--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SANSNET_GIT_COMMIT={commit}");
    // Where HEAD and the branches are: `.git` in a clone; in a worktree, HEAD is in the
    // worktree's own git directory and the branches in the common one (watching `.git/..`
    // there, which is a file, never saw a commit, and the commit recorded went stale).
    let git_dir = rev_parse(&["--git-dir"]).unwrap_or_else(|| ".git".to_owned());
    let common = rev_parse(&["--git-common-dir"]).unwrap_or_else(|| git_dir.clone());
    println!("cargo:rerun-if-changed={git_dir}/HEAD");
    println!("cargo:rerun-if-changed={common}/refs/heads");
    // Watched only if there: a missing path would rerun this script at every build.
    let packed = format!("{common}/packed-refs");
    if std::path::Path::new(&packed).exists() {
        println!("cargo:rerun-if-changed={packed}");
    }
}
