//! Generators of the repository's derived text files, each with a check that the
//! committed copy is current (the tests under `tests/` and `make check-generated-docs`):
//!
//! - [`changelog`]: CHANGELOG.md from the Conventional Commits of the git history;
//! - [`values_docs`]: the values table of the chart README from values.yaml's comments;
//! - [`kustomize`]: `deploy/kustomize/`, the chart rendered for `kubectl apply -k`;
//! - [`api_docs`]: the book's API reference from the CRD.
//!
//! And checks: [`links`], every internal link and anchor of the built book resolves;
//! [`release`], the release checks of `make release-dry-run` and the release workflow.

pub mod api_docs;
pub mod changelog;
pub mod error;
pub mod kustomize;
pub mod links;
pub mod release;
pub mod values_docs;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::GenError;

/// How the committed files under `root/dir` differ from `files` (name -> text): stale,
/// missing and left-over files, one line each; empty when current.
pub fn check_dir(root: &Path, dir: &str, files: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in files {
        match std::fs::read_to_string(root.join(dir).join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => problems.push(format!("{dir}/{name} is stale")),
            Err(_) => problems.push(format!("{dir}/{name} is missing")),
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !files.contains_key(&name) {
                problems.push(format!("{dir}/{name} is not generated (remove it)"));
            }
        }
    }
    problems.sort();
    problems
}

/// Writes `files` into `root/dir`, removing files not among them; the names written.
pub fn write_dir(
    root: &Path,
    dir: &str,
    files: &BTreeMap<String, String>,
) -> Result<Vec<String>, GenError> {
    let folder = root.join(dir);
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for entry in entries.flatten() {
            if !files.contains_key(&*entry.file_name().to_string_lossy()) {
                std::fs::remove_file(entry.path()).map_err(|source| GenError::Io {
                    path: entry.path(),
                    source,
                })?;
            }
        }
    }
    let mut written = Vec::new();
    for (name, text) in files {
        let path = folder.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            error::write(&path, text)?;
            written.push(format!("{dir}/{name}"));
        }
    }
    Ok(written)
}
