//! Where the control-plane binaries are found.
//!
//! `tests/cluster/build.sh` (`make cluster-bins`) builds them from Go modules and links
//! them into `<workspace>/target/k8s-bin/`; the environment variable `K8S_BIN_DIR`
//! points elsewhere.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that overrides the folder holding the binaries.
pub const BIN_DIR_ENV: &str = "K8S_BIN_DIR";

/// The root of the Cargo workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    // This crate lives in `<root>/tests/support`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The folder holding the binaries: `$K8S_BIN_DIR`, else `<workspace>/target/k8s-bin`.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target").join("k8s-bin"),
    }
}

/// Paths of the binaries a cluster runs, each checked to exist.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `etcd`.
    pub etcd: PathBuf,
    /// `kube-apiserver`.
    pub kube_apiserver: PathBuf,
    /// `kube-controller-manager`.
    pub kube_controller_manager: PathBuf,
    /// `kube-scheduler`.
    pub kube_scheduler: PathBuf,
    /// `kwok`.
    pub kwok: PathBuf,
}

impl Binaries {
    /// Finds the binaries in [`bin_dir`].
    pub fn locate() -> Result<Self> {
        Self::locate_in(&bin_dir())
    }

    /// Finds the binaries in `dir`, failing with a hint to run `make cluster-bins`.
    pub fn locate_in(dir: &Path) -> Result<Self> {
        let find = |name: &'static str| -> Result<PathBuf> {
            let path = dir.join(name);
            // `is_file` follows the symlinks build.sh makes.
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::MissingBinary { name, path })
            }
        };
        Ok(Self {
            etcd: find("etcd")?,
            kube_apiserver: find("kube-apiserver")?,
            kube_controller_manager: find("kube-controller-manager")?,
            kube_scheduler: find("kube-scheduler")?,
            kwok: find("kwok")?,
        })
    }
}
