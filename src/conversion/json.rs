//! The JSON-level entry point used by the conversion webhook.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ConversionError, v1_to_v2, v2_to_v1};
use crate::api::{KIND, v1, v2};

/// The LocustTest versions, by `apiVersion`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn parse(api_version: &str) -> Option<Self> {
        match api_version {
            "locust.io/v1" => Some(Version::V1),
            "locust.io/v2" => Some(Version::V2),
            _ => None,
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            Version::V1 => "locust.io/v1",
            Version::V2 => "locust.io/v2",
        }
    }
}

/// Converts a `locust.io/v1` or `locust.io/v2` LocustTest, as JSON, to
/// `desired_api_version` (`locust.io/v1` or `locust.io/v2`).
///
/// An object already in the desired version is returned unchanged. Otherwise the object is
/// decoded, converted with [`v1_to_v2`] or [`v2_to_v1`] and encoded again (fields unknown to
/// the API are dropped, as the API server prunes them too).
///
/// Errors name what is wrong: an unknown desired version, an input that is not an object,
/// a kind other than LocustTest, an unknown `apiVersion`, or an object that does not decode
/// (with the path of the offending field and serde's message). Never panics.
pub fn convert_object(obj: Value, desired_api_version: &str) -> Result<Value, ConversionError> {
    let desired = Version::parse(desired_api_version).ok_or_else(|| {
        ConversionError::UnknownDesiredVersion {
            desired: desired_api_version.to_owned(),
        }
    })?;
    let Some(fields) = obj.as_object() else {
        return Err(ConversionError::NotAnObject {
            found: json_type(&obj),
        });
    };
    let kind = fields.get("kind");
    if kind.and_then(Value::as_str) != Some(KIND) {
        return Err(ConversionError::WrongKind {
            found: describe(kind),
        });
    }
    let api_version = fields.get("apiVersion");
    let Some(version) = api_version.and_then(Value::as_str).and_then(Version::parse) else {
        return Err(ConversionError::UnknownApiVersion {
            found: describe(api_version),
        });
    };
    match (version, desired) {
        (Version::V1, Version::V2) => encode(&v1_to_v2(&decode::<v1::LocustTest>(&obj, version)?)?),
        (Version::V2, Version::V1) => encode(&v2_to_v1(&decode::<v2::LocustTest>(&obj, version)?)?),
        _ => Ok(obj),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_owned(), Value::to_string)
}

fn encode<T: Serialize>(object: &T) -> Result<Value, ConversionError> {
    serde_json::to_value(object).map_err(|e| ConversionError::Encode {
        message: e.to_string(),
    })
}

/// Decodes `obj` through its compact JSON text, so that serde's error position can be
/// turned into the path of the offending field.
fn decode<T: DeserializeOwned>(obj: &Value, version: Version) -> Result<T, ConversionError> {
    let text = obj.to_string();
    serde_json::from_str(&text).map_err(|e| {
        let position = format!(" at line {} column {}", e.line(), e.column());
        let message = e.to_string();
        ConversionError::Decode {
            api_version: version.api_version().to_owned(),
            path: path_at(&text, e.column()),
            message: message
                .strip_suffix(&position)
                .map_or(message.clone(), str::to_owned),
        }
    })
}

/// One level of nesting while scanning JSON text.
enum Frame {
    /// Inside an object: the last key read, and whether the next string is a key.
    Object {
        key: Option<String>,
        expect_key: bool,
    },
    /// Inside an array: the index of the current element.
    Array { index: usize },
}

/// The path (`spec.tolerations[0].effect`) of the value being read when the parser stopped
/// after `end` bytes of the one-line JSON `text` (serde_json's column); `(root)` for the
/// top-level object itself.
fn path_at(text: &str, end: usize) -> String {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' => stack.push(Frame::Object {
                key: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'"' => {
                let close = string_end(bytes, i);
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut()
                    && *expect_key
                {
                    let raw = text.get(i..close.min(bytes.len())).unwrap_or_default();
                    *key = serde_json::from_str::<String>(raw).ok();
                    *expect_key = false;
                }
                i = close;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(key), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        path
    }
}

/// The index just past the JSON string starting with the quote at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_at_follows_keys_and_indices() {
        let text = r#"{"a":{"b":[1,{"c":"x\"y"}],"d":2}}"#;
        let at = |needle: &str| text.find(needle).map(|i| i + needle.len()).unwrap_or(0);
        assert_eq!(path_at(text, at(r#""a":{"#)), "a");
        assert_eq!(path_at(text, at("[1")), "a.b[0]");
        assert_eq!(path_at(text, at(r#""x\"y""#)), "a.b[1].c");
        assert_eq!(path_at(text, at(r#""x\"y"}"#)), "a.b[1]");
        assert_eq!(path_at(text, at(r#""d":2"#)), "a.d");
        assert_eq!(path_at(text, text.len()), "(root)");
        assert_eq!(path_at("", 10), "(root)");
    }
}
