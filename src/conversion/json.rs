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
        (Version::V1, Version::V2) => encode(&v1_to_v2(&decode::<v1::LocustTest>(obj, version)?)?),
        (Version::V2, Version::V1) => encode(&v2_to_v1(&decode::<v2::LocustTest>(obj, version)?)?),
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

/// Decodes `obj`, naming the offending field on failure.
fn decode<T: DeserializeOwned>(obj: Value, version: Version) -> Result<T, ConversionError> {
    crate::manifest::decode(obj).map_err(|e| ConversionError::Decode {
        api_version: version.api_version().to_owned(),
        path: e.path,
        message: e.message,
    })
}
