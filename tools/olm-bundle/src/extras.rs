//! The bundle's other manifests, derived from the CSV's Deployment: a
//! PodDisruptionBudget (with more than one replica) and the metrics Service.

use serde_json::{Value, json};

use crate::BundleError;
use crate::source::CSV_BASE_FILE;

/// `(file name, manifest)` of each extra object, for the CSV's first Deployment.
pub fn extras(csv: &Value) -> Result<Vec<(String, Value)>, BundleError> {
    let deployment = csv
        .pointer("/spec/install/spec/deployments/0")
        .ok_or_else(|| BundleError::invalid(CSV_BASE_FILE, "no Deployment in spec.install"))?;
    let name = deployment
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| BundleError::invalid(CSV_BASE_FILE, "the Deployment has no name"))?;
    let match_labels = deployment
        .pointer("/spec/selector/matchLabels")
        .cloned()
        .ok_or_else(|| {
            BundleError::invalid(CSV_BASE_FILE, "the Deployment has no selector.matchLabels")
        })?;
    let labels = deployment
        .pointer("/label")
        .cloned()
        .unwrap_or_else(|| match_labels.clone());
    let replicas = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let health_port = deployment
        .pointer("/spec/template/spec/containers/0/ports")
        .and_then(Value::as_array)
        .and_then(|ports| {
            ports
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some("health"))
        })
        .and_then(|p| p.get("containerPort").and_then(Value::as_i64))
        .ok_or_else(|| {
            BundleError::invalid(
                CSV_BASE_FILE,
                "the operator container has no port named `health`",
            )
        })?;

    let mut out = Vec::new();
    if replicas > 1 {
        out.push((
            format!("{name}_policy_v1_poddisruptionbudget.yaml"),
            json!({
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": { "name": name, "labels": labels },
                "spec": { "minAvailable": 1, "selector": { "matchLabels": match_labels } },
            }),
        ));
    }
    out.push((
        format!("{name}-metrics_v1_service.yaml"),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": format!("{name}-metrics"), "labels": labels },
            "spec": {
                "selector": match_labels,
                "ports": [{
                    "name": "metrics",
                    "port": health_port,
                    "targetPort": "health",
                    "protocol": "TCP",
                }],
            },
        }),
    ));
    Ok(out)
}
