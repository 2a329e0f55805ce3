//! Helpers shared by the bundle's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The committed CSV, parsed.
pub fn committed_csv() -> Value {
    let path = root().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml");
    let text = std::fs::read_to_string(&path).expect("the committed CSV (make bundle)");
    serde_saphyr::from_str(&text).expect("the CSV parses")
}

/// Parses one YAML file.
pub fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// A temporary copy of the generator's inputs (Cargo.toml, CHANGELOG.md, crd/, config/,
/// examples/, tests/olm/go.mod) and
/// of the committed bundle (bundle/, bundle.Dockerfile), to change one input and generate again.
pub fn copy_of_sources() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root();
    std::fs::create_dir_all(dir.path().join("tests/olm")).expect("mkdir");
    for file in [
        "Cargo.toml",
        "CHANGELOG.md",
        "tests/olm/go.mod",
        "bundle.Dockerfile",
    ] {
        std::fs::copy(root.join(file), dir.path().join(file)).expect(file);
    }
    for sub in ["crd", "config", "examples", "bundle"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    dir
}

/// A binary of `target/k8s-bin` (operator-sdk, scorecard-test: `make olm-bins`).
pub fn olm_bin(name: &str) -> PathBuf {
    let path = test_cluster::binaries::bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make olm-bins`",
        path.display()
    );
    path
}
