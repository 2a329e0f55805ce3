//! Dereference: the ConfigMaps a test refers to must exist before its pods are created.
//!
//! Secrets are deliberately not read (least privilege: the operator has no access to
//! Secrets); a missing Secret shows on the pods (CreateContainerConfigError or a volume that
//! cannot mount) and reaches the status through the PodsHealthy condition.

use k8s_openapi::api::core::v1::ConfigMap;
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
    spec: &LocustTestSpec,
) -> Result<Option<(String, String)>, Error> {
    for (field, name) in config_map_refs(spec) {
        if api
            .get_metadata_opt(name)
            .await
            .map_err(Error::kube("reading a referenced ConfigMap"))?
            .is_none()
        {
            return Ok(Some((field, name.to_string())));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::{EnvSourceRef, EnvSpec, TestFilesSpec};

    #[test]
    fn lists_every_config_map_reference_with_its_field() {
        let spec = LocustTestSpec {
            test_files: Some(TestFilesSpec {
                config_map_ref: Some("tests".into()),
                lib_config_map_ref: Some("lib".into()),
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
                ("spec.env.configMapRefs[0].name".to_string(), "env"),
            ]
        );
    }
}
