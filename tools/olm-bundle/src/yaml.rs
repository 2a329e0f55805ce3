//! YAML in (into `serde_json::Value`) and out, with serde-saphyr.

use std::path::Path;

use serde_json::Value;

use crate::BundleError;

/// Reads a file as text.
pub fn read(path: &Path) -> Result<String, BundleError> {
    std::fs::read_to_string(path).map_err(BundleError::io(path))
}

/// Parses every non-empty document of a YAML stream.
pub fn documents(path: &Path, text: &str) -> Result<Vec<Value>, BundleError> {
    let docs: Vec<Option<Value>> =
        serde_saphyr::from_multiple(text).map_err(|e| BundleError::Yaml {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    Ok(docs
        .into_iter()
        .flatten()
        .filter(|d| !d.is_null())
        .collect())
}

/// Parses a file holding exactly one YAML document.
pub fn document(path: &Path) -> Result<Value, BundleError> {
    let mut docs = documents(path, &read(path)?)?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(BundleError::invalid(
            path,
            format!("expected one YAML document, found {n}"),
        )),
    }
}

/// Serialises a value as one YAML document, after a comment header.
///
/// Long one-line strings stay on one line; multi-line strings become literal blocks.
pub fn emit(name: &str, header: &str, value: &Value) -> Result<String, BundleError> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    let body = serde_saphyr::to_string_with_options(value, options).map_err(|e| {
        BundleError::Serialise {
            name: name.to_string(),
            message: e.to_string(),
        }
    })?;
    Ok(format!("{header}{body}"))
}
