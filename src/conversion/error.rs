//! Errors of the conversion.

/// Why an object could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// The object to convert is not a JSON object.
    #[error("the object to convert must be a JSON object, got {found}")]
    NotAnObject {
        /// The JSON type that was found instead (`array`, `string`, …).
        found: &'static str,
    },

    /// The object is not a LocustTest.
    #[error("kind must be LocustTest, got {found}")]
    WrongKind {
        /// The `kind` found, as JSON (`"Pod"`), or `nothing` when it is missing.
        found: String,
    },

    /// The object's `apiVersion` is not a LocustTest version.
    #[error("apiVersion must be locust.io/v1 or locust.io/v2, got {found}")]
    UnknownApiVersion {
        /// The `apiVersion` found, as JSON, or `nothing` when it is missing.
        found: String,
    },

    /// The version to convert to is not a LocustTest version.
    #[error(
        "cannot convert to {desired:?}: the desired version must be locust.io/v1 or locust.io/v2"
    )]
    UnknownDesiredVersion {
        /// The desired `apiVersion` as given.
        desired: String,
    },

    /// The object does not decode as a LocustTest of its version.
    #[error("invalid {api_version} LocustTest at {path}: {message}")]
    Decode {
        /// The object's `apiVersion`.
        api_version: String,
        /// Where in the object decoding failed, such as `spec.workerReplicas` or
        /// `spec.tolerations[0]` (`(root)` for the object itself).
        path: String,
        /// What is wrong there, from serde.
        message: String,
    },

    /// The converted object could not be encoded (not expected to happen).
    #[error("cannot encode the converted LocustTest: {message}")]
    Encode {
        /// The serializer's message.
        message: String,
    },
}
