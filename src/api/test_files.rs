//! `locust.io/v2` test-file sources beyond a ConfigMap (a PersistentVolumeClaim, an OCI
//! image, a git repository) and the Python dependencies of a test (`testFiles.requirements`).
//! They sit in `spec.testFiles` ([`super::v2::TestFilesSpec`]).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::v2::ImagePullPolicy;

/// Image of the init container that clones `testFiles.git` when `git.image` is unset. It
/// needs `sh` and `git`.
pub const DEFAULT_GIT_IMAGE: &str = "alpine/git:v2.49.1";
/// Key of the requirements ConfigMap read when `requirements.key` is unset.
pub const DEFAULT_REQUIREMENTS_KEY: &str = "requirements.txt";

/// CEL: a relative path that never climbs out of its volume (no leading `/`, no `..`).
const RELATIVE_PATH: &str = "!self.startsWith('/') && !self.matches('(^|/)[.][.](/|$)')";

/// Test files on a PersistentVolumeClaim of the test's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PvcTestFiles {
    /// Name of the claim. It must exist before the test starts (the test waits, with
    /// reason PersistentVolumeClaimMissing); all pods mount it, so with several workers on
    /// several nodes it needs the ReadOnlyMany or ReadWriteMany access mode.
    #[schemars(length(min = 1, max = 253))]
    pub claim_name: String,

    /// Folder of the volume mounted at srcMountPath instead of its root, for example
    /// `load-tests/checkout`. Relative, without `..`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new(RELATIVE_PATH).message("persistentVolumeClaim.subPath must be a relative path without '..'").reason(Reason::FieldValueInvalid))]
    pub sub_path: Option<String>,

    /// Mount the volume read-only. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// Test files from an OCI image (a Kubernetes `image` volume), mounted read-only at
/// srcMountPath. Needs Kubernetes 1.35 or later (the ImageVolume feature, on by default
/// since 1.35; beta but off by default in 1.33 and 1.34) and a container runtime that
/// supports image volumes (containerd 2.1+, CRI-O 1.31+).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageTestFiles {
    /// The image (or OCI artifact) holding the files, for example
    /// `registry.example.com/load-tests/checkout:1.4.2`. The image pull secrets of the test
    /// apply.
    #[schemars(length(min = 1, max = 1024))]
    pub reference: String,

    /// When to pull it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<ImagePullPolicy>,
}

/// Test files cloned from a git repository by an init container (`lotest-git`) into an
/// emptyDir, mounted read-only at srcMountPath. Every pod clones once at start.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitTestFiles {
    /// HTTPS (or HTTP) URL of the repository, without credentials (use secretRef), for
    /// example `https://github.com/example/load-tests.git`.
    #[schemars(
        length(min = 1, max = 2048),
        regex(pattern = r"^https?://[^/@\s]+(/\S*)?$")
    )]
    pub repository: String,

    /// Branch, tag or full 40-character commit SHA to check out. Only that commit is
    /// fetched (a shallow clone).
    #[serde(rename = "ref")]
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
    )]
    pub ref_: String,

    /// Folder of the repository mounted at srcMountPath instead of its root, for example
    /// `load/checkout`. Relative, without `..`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new(RELATIVE_PATH).message("git.path must be a relative path without '..'").reason(Reason::FieldValueInvalid))]
    pub path: Option<String>,

    /// Secret with the keys `username` and `password` (a `kubernetes.io/basic-auth`
    /// Secret; the password may be an access token) for a private repository over HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_ref: Option<String>,

    /// Image of the init container; it needs `sh` and `git`. Default: `alpine/git:v2.49.1`.
    /// Set it to a mirror when the cluster cannot pull from Docker Hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub image: Option<String>,
}

/// Python packages installed before Locust starts: an init container (`lotest-pip`, the
/// Locust image) runs `pip install --target` with the requirements file into an emptyDir
/// that is on the PYTHONPATH of the Locust container, on the master and on every worker.
/// A failed install fails the test with reason DependencyInstallFailed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequirementsSpec {
    /// ConfigMap holding the requirements file. It must exist before the test starts.
    #[schemars(length(min = 1, max = 253))]
    pub config_map_ref: String,

    /// Key of the requirements file in the ConfigMap. Default: `requirements.txt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: Option<String>,
}
