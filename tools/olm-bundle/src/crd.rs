//! What the bundle needs to know about the CRD, read from its committed YAML.

use std::path::Path;

use serde_json::Value;

use crate::BundleError;
use crate::source::CRD_FILE;

/// The facts of the CRD the CSV refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdFacts {
    /// `locusttests.locust.io`.
    pub name: String,
    /// `locust.io`.
    pub group: String,
    /// `LocustTest`.
    pub kind: String,
    /// The stored version (`v2`).
    pub stored_version: String,
    /// The path of the conversion webhook (`/convert`).
    pub conversion_path: String,
}

fn text<'a>(crd: &'a Value, pointer: &str) -> Result<&'a str, BundleError> {
    crd.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| BundleError::invalid(CRD_FILE, format!("no string at {pointer}")))
}

impl CrdFacts {
    /// Reads the facts; fails unless there is exactly one stored version and a webhook
    /// conversion with a service path.
    pub fn of(crd: &Value) -> Result<Self, BundleError> {
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .ok_or_else(|| BundleError::invalid(CRD_FILE, "no spec.versions"))?;
        let stored: Vec<&str> = versions
            .iter()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .collect();
        let [stored_version] = stored.as_slice() else {
            return Err(BundleError::invalid(
                CRD_FILE,
                format!("expected one stored version, found {stored:?}"),
            ));
        };
        if text(crd, "/spec/conversion/strategy")? != "Webhook" {
            return Err(BundleError::invalid(
                CRD_FILE,
                "spec.conversion.strategy is not Webhook: the CSV declares a conversion webhook",
            ));
        }
        Ok(Self {
            name: text(crd, "/metadata/name")?.to_string(),
            group: text(crd, "/spec/group")?.to_string(),
            kind: text(crd, "/spec/names/kind")?.to_string(),
            stored_version: (*stored_version).to_string(),
            conversion_path: text(crd, "/spec/conversion/webhook/clientConfig/service/path")?
                .to_string(),
        })
    }

    /// `locust.io/v2`.
    pub fn stored_api_version(&self) -> String {
        format!("{}/{}", self.group, self.stored_version)
    }
}

/// The OpenAPI schema of the stored version's `spec` or `status` (`part`).
pub fn schema<'a>(crd: &'a Value, version: &str, part: &str) -> Result<&'a Value, BundleError> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
        })
        .and_then(|v| v.pointer(&format!("/schema/openAPIV3Schema/properties/{part}")))
        .ok_or_else(|| {
            BundleError::invalid(
                CRD_FILE,
                format!("version {version} has no `{part}` schema"),
            )
        })
}

/// The schema at a descriptor path (`master.autoquit.timeout`) below `root`, if it exists.
pub fn schema_at<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(root, |node, segment| node.get("properties")?.get(segment))
}

/// Fills every descriptor's missing `description` from the schema (the API types'
/// rustdoc) and fails on a path that is not in the schema.
pub fn complete_descriptors(
    descriptors: &mut [Value],
    schema: &Value,
    part: &str,
    source: &Path,
) -> Result<(), BundleError> {
    for d in descriptors.iter_mut() {
        let path = d
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                BundleError::invalid(source, format!("a {part} descriptor has no path"))
            })?
            .to_string();
        let Some(field) = schema_at(schema, &path) else {
            return Err(BundleError::invalid(
                source,
                format!("{part} descriptor path {path:?} is not a field of the CRD's {part}"),
            ));
        };
        if d.get("displayName").and_then(Value::as_str).is_none() {
            return Err(BundleError::invalid(
                source,
                format!("{part} descriptor {path:?} has no displayName"),
            ));
        }
        if d.get("description").and_then(Value::as_str).is_none() {
            let description = field
                .get("description")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    BundleError::invalid(
                        source,
                        format!(
                            "{part} descriptor {path:?}: the CRD has no description for it; \
                             write one here or document the field"
                        ),
                    )
                })?;
            if let Some(obj) = d.as_object_mut() {
                obj.insert("description".into(), Value::String(description.to_string()));
            }
        }
    }
    Ok(())
}
