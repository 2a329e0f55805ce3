//! Dereference: the ConfigMaps a test refers to (and the PersistentVolumeClaim holding its
//! test files) must exist before its pods are created.
//!
//! Secrets are deliberately not read (least privilege: the operator has no access to
//! Secrets); a missing Secret shows on the pods (CreateContainerConfigError or a volume that
//! cannot mount) and reaches the status through the PodsHealthy condition.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::Api;

use super::error::Error;
use crate::api::v2::LocustTestSpec;

/// Every ConfigMap the spec refers to, with the field that names it.
pub fn config_map_refs(spec: &LocustTestSpec) -> Vec<(String, &str)> {
    let mut refs = Vec::new();
    if let Some(tf) = &spec.test_files {
        if let Some(n) = &tf.config_map_ref {
            refs.push(("spec.testFiles.configMapRef".to_string(), n.as_str()));
        }
        if let Some(n) = &tf.lib_config_map_ref {
            refs.push(("spec.testFiles.libConfigMapRef".to_string(), n.as_str()));
        }
        if let Some(r) = &tf.requirements {
            refs.push((
                "spec.testFiles.requirements.configMapRef".to_string(),
                r.config_map_ref.as_str(),
            ));
        }
    }
    for (i, r) in spec
        .env
        .iter()
        .flat_map(|e| e.config_map_refs.iter().flatten())
        .enumerate()
    {
        refs.push((format!("spec.env.configMapRefs[{i}].name"), r.name.as_str()));
    }
    refs
}

/// The first referenced ConfigMap that does not exist, as `(field, name)`.
pub async fn first_missing_config_map(
    api: &Api<ConfigMap>,
    seen: &SeenConfigMaps,
    spec: &LocustTestSpec,
) -> Result<Option<(String, String)>, Error> {
    let ns = api.namespace().unwrap_or_default().to_owned();
    for (field, name) in config_map_refs(spec) {
        if seen.recently(&ns, name, Instant::now()) {
            continue;
        }
        if api
            .get_metadata_opt(name)
            .await
            .map_err(Error::kube("reading a referenced ConfigMap"))?
            .is_none()
        {
            return Ok(Some((field, name.to_string())));
        }
        seen.saw(&ns, name, Instant::now());
    }
    Ok(None)
}

/// The PersistentVolumeClaim holding the test files, when it does not exist, as
/// `(field, name)`. Asked every time (the claim is only read while the test's children are
/// missing, and few tests use one).
pub async fn missing_claim(
    api: &Api<PersistentVolumeClaim>,
    spec: &LocustTestSpec,
) -> Result<Option<(&'static str, String)>, Error> {
    let Some(pvc) = spec
        .test_files
        .as_ref()
        .and_then(|t| t.persistent_volume_claim.as_ref())
    else {
        return Ok(None);
    };
    let found = api
        .get_metadata_opt(&pvc.claim_name)
        .await
        .map_err(Error::kube("reading the test files' PersistentVolumeClaim"))?;
    Ok(found.is_none().then(|| {
        (
            "spec.testFiles.persistentVolumeClaim.claimName",
            pvc.claim_name.clone(),
        )
    }))
}

/// How long a ConfigMap seen to exist is taken to exist without asking again.
pub const SEEN_FOR: Duration = Duration::from_secs(10);

/// ConfigMaps seen to exist in the last [`SEEN_FOR`]: a storm of tests that share one
/// locustfile reads it once, not once per test (the operator keeps no ConfigMap cache, as
/// it owns none). A ConfigMap deleted within that time shows on the pods instead, which
/// cannot start without it (the `PodsHealthy` condition).
#[derive(Default)]
pub struct SeenConfigMaps {
    at: Mutex<HashMap<(String, String), Instant>>,
}

impl SeenConfigMaps {
    /// Whether `ns/name` was seen to exist within [`SEEN_FOR`] before `now`.
    pub fn recently(&self, ns: &str, name: &str, now: Instant) -> bool {
        self.at.lock().is_ok_and(|at| {
            at.get(&(ns.to_owned(), name.to_owned()))
                .is_some_and(|t| now.saturating_duration_since(*t) < SEEN_FOR)
        })
    }

    /// Notes that `ns/name` exists at `now` (and forgets what is too old to count).
    pub fn saw(&self, ns: &str, name: &str, now: Instant) {
        if let Ok(mut at) = self.at.lock() {
            at.retain(|_, t| now.saturating_duration_since(*t) < SEEN_FOR);
            at.insert((ns.to_owned(), name.to_owned()), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_map_seen_counts_as_existing_for_a_while_only() {
        let seen = SeenConfigMaps::default();
        let t0 = Instant::now();
        assert!(!seen.recently("ns", "tests", t0));
        seen.saw("ns", "tests", t0);
        assert!(seen.recently("ns", "tests", t0 + Duration::from_secs(9)));
        assert!(!seen.recently("other", "tests", t0));
        assert!(!seen.recently("ns", "tests", t0 + SEEN_FOR));
        // Old entries go when a new one comes.
        seen.saw("ns", "lib", t0 + SEEN_FOR);
        assert_eq!(seen.at.lock().map(|a| a.len()).unwrap_or_default(), 1);
    }
    use crate::api::v2::{EnvSourceRef, EnvSpec, RequirementsSpec, TestFilesSpec};

    #[test]
    fn lists_every_config_map_reference_with_its_field() {
        let spec = LocustTestSpec {
            test_files: Some(TestFilesSpec {
                config_map_ref: Some("tests".into()),
                lib_config_map_ref: Some("lib".into()),
                requirements: Some(RequirementsSpec {
                    config_map_ref: "deps".into(),
                    key: None,
                }),
                ..Default::default()
            }),
            env: Some(EnvSpec {
                config_map_refs: Some(vec![EnvSourceRef {
                    name: "env".into(),
                    prefix: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let refs = config_map_refs(&spec);
        assert_eq!(
            refs,
            [
                ("spec.testFiles.configMapRef".to_string(), "tests"),
                ("spec.testFiles.libConfigMapRef".to_string(), "lib"),
                (
                    "spec.testFiles.requirements.configMapRef".to_string(),
                    "deps"
                ),
                ("spec.env.configMapRefs[0].name".to_string(), "env"),
            ]
        );
    }
}
