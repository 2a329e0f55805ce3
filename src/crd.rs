//! The CustomResourceDefinition, generated from the API types (never hand-written).
//!
//! Both versions are merged into one CRD (`v2` stored), and the conversion block is added:
//! `strategy: Webhook` pointing at the operator's `/convert` endpoint. The service
//! namespace/name and `caBundle` are placeholders that the chart or the operator fill in at
//! install time.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig,
    WebhookConversion,
};
use kube::core::crd::{CustomResourceExt, merge_crds};

use crate::api::{v1, v2};

/// Name of the CRD.
pub const CRD_NAME: &str = "locusttests.locust.io";
/// Label marking the CRD as this operator's (value [`OWNER`]); the chart checks it.
pub const OWNER_LABEL: &str = crate::builders::labels::K8S_PART_OF;
/// Value of [`OWNER_LABEL`].
pub const OWNER: &str = crate::builders::labels::MANAGER;
/// Path of the conversion endpoint on the operator's HTTPS server.
pub const CONVERT_PATH: &str = "/convert";
/// Namespace of the webhook Service in the committed CRD (replaced at install time).
pub const DEFAULT_WEBHOOK_NAMESPACE: &str = "locust-k8s-operator-system";
/// Name of the webhook Service in the committed CRD (replaced at install time).
pub const DEFAULT_WEBHOOK_SERVICE: &str = "locust-k8s-operator-webhook";

/// Errors building the CRD.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The two versions could not be merged (their names or scopes differ).
    #[error("merging the v1 and v2 CRDs failed: {0}")]
    Merge(String),
    /// YAML serialisation failed.
    #[error("serialising the CRD as YAML failed: {0}")]
    Yaml(String),
}

/// The full CRD: v2 (served, stored, status subresource) and v1 (served, deprecated),
/// with the webhook conversion block and the label [`OWNER_LABEL`] `=` [`OWNER`], which
/// tells this operator's CRD from other operators' CRDs of the same name (the Helm chart
/// refuses to take over one without it).
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = merge_crds(vec![v2::LocustTest::crd(), v1::LocustTest::crd()], "v2")
        .map_err(|e| CrdError::Merge(e.to_string()))?;
    crd.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(OWNER_LABEL.to_string(), OWNER.to_string());
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".to_string(),
        webhook: Some(WebhookConversion {
            conversion_review_versions: vec!["v1".to_string()],
            client_config: Some(WebhookClientConfig {
                service: Some(ServiceReference {
                    namespace: DEFAULT_WEBHOOK_NAMESPACE.to_string(),
                    name: DEFAULT_WEBHOOK_SERVICE.to_string(),
                    path: Some(CONVERT_PATH.to_string()),
                    port: Some(443),
                }),
                ..WebhookClientConfig::default()
            }),
        }),
    });
    Ok(crd)
}

/// The CRD as the YAML document committed under `crd/`.
pub fn crd_yaml() -> Result<String, CrdError> {
    let crd = crd()?;
    crate::yaml::to_yaml(&crd).map_err(|e| CrdError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    /// Most bytes of annotations an object may carry.
    const ANNOTATIONS_LIMIT: usize = 262_144;

    /// A client-side `kubectl apply -f crd/locusttests.locust.io.yaml` stores the whole CRD
    /// as JSON in the `kubectl.kubernetes.io/last-applied-configuration` annotation, which
    /// must fit in an object's annotations.
    #[test]
    fn the_crd_fits_in_a_client_side_apply_annotation() {
        let json = serde_json::to_vec(&super::crd().expect("crd")).expect("json");
        assert!(
            json.len() < ANNOTATIONS_LIMIT,
            "the CRD is {} bytes of JSON; kubectl apply needs it under {ANNOTATIONS_LIMIT}",
            json.len()
        );
    }
}
