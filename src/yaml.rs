//! YAML in and out (serde-saphyr), shared by the CLI and the CRD generator.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A YAML error with a message fit for a user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(String);

/// Serialises one value as a YAML document (without the leading `---`).
pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, YamlError> {
    // Through serde_json first, so Kubernetes types serialise exactly as they do on the wire.
    let json = serde_json::to_value(value).map_err(|e| YamlError(e.to_string()))?;
    // Long one-line strings (commands, descriptions) stay on one line instead of being
    // folded at 80 columns; multi-line strings still use literal blocks.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(&json, options).map_err(|e| YamlError(e.to_string()))
}

/// Serialises several values as a multi-document YAML stream.
pub fn to_yaml_documents<T: Serialize>(values: &[T]) -> Result<String, YamlError> {
    let mut out = String::new();
    for value in values {
        out.push_str("---\n");
        out.push_str(&to_yaml(value)?);
    }
    Ok(out)
}

/// Parses a single YAML (or JSON) document.
pub fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| YamlError(e.to_string()))
}

/// Parses every document of a YAML stream (empty documents are skipped).
pub fn from_yaml_documents<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    let docs: Vec<Option<T>> =
        serde_saphyr::from_multiple(text).map_err(|e| YamlError(e.to_string()))?;
    Ok(docs.into_iter().flatten().collect())
}
