//! The `locust.io` API: `LocustTest` in its current version (v2) and the deprecated flat
//! version (v1), with the status both share.
//!
//! These types are the single source of the CRD (see [`crate::crd`]); their doc comments
//! become `kubectl explain` text.

pub mod pod;
mod schema;
pub mod status;
pub mod test_files;
pub mod v1;
pub mod v2;
pub mod web_ui;

pub use status::{LocustTestStatus, Phase, TestResult};

/// The API group of every LocustTest version.
pub const GROUP: &str = "locust.io";
/// The kind shared by every version.
pub const KIND: &str = "LocustTest";
/// The warning the API server returns to clients that use the deprecated v1.
pub const V1_DEPRECATION_WARNING: &str =
    "locust.io/v1 LocustTest is deprecated, migrate to locust.io/v2";
