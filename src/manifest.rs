//! Reading LocustTest manifests (YAML or JSON) into their typed version, with errors that
//! name the field (`spec.volumeMounts[0].target: unknown variant ...`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{v1, v2};

/// `apiVersion` of the current API.
pub const V2_API_VERSION: &str = "locust.io/v2";
/// `apiVersion` of the deprecated API.
pub const V1_API_VERSION: &str = "locust.io/v1";

/// A LocustTest in the version it was written in.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyLocustTest {
    /// `locust.io/v1` (deprecated).
    V1(Box<v1::LocustTest>),
    /// `locust.io/v2`.
    V2(Box<v2::LocustTest>),
}

/// Why a document is not a LocustTest we can read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    /// Not YAML/JSON at all.
    #[error("not valid YAML: {0}")]
    Syntax(String),
    /// The input holds no document.
    #[error("no document found: the input is empty")]
    Empty,
    /// A document that is not a mapping.
    #[error("document {doc}: expected a LocustTest object (a mapping), found {found}")]
    NotAnObject {
        /// 1-based index of the document.
        doc: usize,
        /// What was found instead.
        found: &'static str,
    },
    /// Another kind or API group.
    #[error(
        "document {doc}: apiVersion {api_version:?} kind {kind:?} is not a LocustTest: expected apiVersion locust.io/v2 (or the deprecated locust.io/v1) and kind LocustTest"
    )]
    WrongKind {
        /// 1-based index of the document.
        doc: usize,
        /// The document's apiVersion.
        api_version: String,
        /// The document's kind.
        kind: String,
    },
    /// A field has the wrong type or an unknown value.
    #[error("document {doc}: {field}: {message}")]
    Field {
        /// 1-based index of the document.
        doc: usize,
        /// Path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses every document of a YAML stream as a LocustTest.
pub fn parse_documents(text: &str) -> Result<Vec<AnyLocustTest>, ManifestError> {
    let docs: Vec<Value> =
        crate::yaml::from_yaml_documents(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return Err(ManifestError::Empty);
    }
    docs.into_iter()
        .enumerate()
        .map(|(i, d)| from_value(d, i + 1))
        .collect()
}

/// Reads one decoded document (document number `doc`, for messages) as a LocustTest.
pub fn from_value(value: Value, doc: usize) -> Result<AnyLocustTest, ManifestError> {
    let Value::Object(map) = &value else {
        return Err(ManifestError::NotAnObject {
            doc,
            found: kind_of(&value),
        });
    };
    let text = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if kind != crate::api::KIND {
        return Err(ManifestError::WrongKind {
            doc,
            api_version,
            kind,
        });
    }
    match api_version.as_str() {
        V2_API_VERSION => typed(value, doc).map(|t| AnyLocustTest::V2(Box::new(t))),
        V1_API_VERSION => typed(value, doc).map(|t| AnyLocustTest::V1(Box::new(t))),
        _ => Err(ManifestError::WrongKind {
            doc,
            api_version,
            kind,
        }),
    }
}

fn typed<T: DeserializeOwned>(value: Value, doc: usize) -> Result<T, ManifestError> {
    decode(value).map_err(|e| ManifestError::Field {
        doc,
        field: e.path,
        message: e.message,
    })
}

/// A field that does not decode: its path (`spec.tolerations[0].effect`, `(root)` for the
/// object itself) and serde's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Path of the field.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// Decodes a JSON value into `T`, naming the field that does not fit.
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        DecodeError {
            path: if path == "." { "(root)".into() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
